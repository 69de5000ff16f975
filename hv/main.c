/*
 * hv_main: from GRUB's hand-off to the first VM entry. Boot information is validated before anything trusts it;
 * every refusal is a log line followed by a clean shutdown.
 */
#include "boot/cpu.h"
#include "hv/cmdline.h"
#include "hv/errno.h"
#include "hv/fmt.h"
#include "hv/guest_loader.h"
#include "hv/guest_memory.h"
#include "hv/guest_paging.h"
#include "hv/hv.h"
#include "hv/lib.h"
#include "hv/log.h"
#include "hv/multiboot2.h"
#include "hv/pmem.h"
#include "hv/serial.h"
#include "hv/vmcs.h"
#include "hv/vmexit.h"
#include "hv/vmx.h"
#include "hv/x86.h"
#include "isolation/domain.h"

#define MB2_BOOTLOADER_MAGIC 0x36d76289
#define MB2_INFO_READ_LIMIT (1u << 20) /* no sane boot information is larger */
#define LOW_MEMORY_END 0x100000ull     /* BIOS, real-mode IVT/EBDA and option ROMs: left to the guest */
#define POOL_LIMIT (4ull << 30)        /* the hypervisor identity-maps the first 4 GiB */
#define MAX_RESERVED (MB2_MAX_MODULES + 3)

extern uint8_t _image_start[], _image_end[];

static struct mb2_info boot_info;
static char cmdline_copy[HV_CMDLINE_MAX];

static void log_boot_info(const struct mb2_info *mb)
{
    uint64_t usable = 0;
    for (size_t i = 0; i < mb->mmap_count; i++) {
        LOG_DEBUG("boot.mmap", "base=0x%lx length=0x%lx type=%u", mb->mmap[i].base, mb->mmap[i].length,
                  mb->mmap[i].type);
        if (mb->mmap[i].type == MB2_MMAP_AVAILABLE)
            usable += mb->mmap[i].length;
    }
    LOG_INFO("boot.memory", "mmap_entries=%zu usable_mib=%lu", mb->mmap_count, usable >> 20);
    for (size_t i = 0; i < mb->module_count; i++)
        LOG_INFO("boot.module", "index=%zu start=0x%lx end=0x%lx cmdline=\"%s\"", i, mb->modules[i].start,
                 mb->modules[i].end, mb->modules[i].cmdline);
}

static void pool_init(const struct mb2_info *mb, uint64_t info_pa, uint64_t info_size, uint64_t pool_mib)
{
    struct mem_range usable[MB2_MAX_MMAP], reserved[MAX_RESERVED];
    size_t n_usable = 0, n_reserved = 0;
    for (size_t i = 0; i < mb->mmap_count; i++)
        if (mb->mmap[i].type == MB2_MMAP_AVAILABLE)
            usable[n_usable++] = (struct mem_range){mb->mmap[i].base, mb->mmap[i].base + mb->mmap[i].length};
    reserved[n_reserved++] = (struct mem_range){0, LOW_MEMORY_END};
    reserved[n_reserved++] = (struct mem_range){(uint64_t)_image_start, (uint64_t)_image_end};
    reserved[n_reserved++] = (struct mem_range){info_pa, info_pa + info_size};
    for (size_t i = 0; i < mb->module_count; i++)
        reserved[n_reserved++] = (struct mem_range){mb->modules[i].start, mb->modules[i].end};

    uint64_t base, size = pool_mib << 20;
    if (mem_find_highest(usable, n_usable, reserved, n_reserved, size, POOL_ALIGN, POOL_LIMIT, &base) != HV_OK) {
        LOG_FATAL("pmem.no_pool", "size_mib=%lu reason=\"no usable RAM range below 4 GiB fits the pool\"", pool_mib);
        hv_shutdown("no memory for the hypervisor pool");
    }
    pmem_init((uint64_t)_image_start, (uint64_t)_image_end, base, size);
    LOG_INFO("pmem.pool", "image=0x%lx-0x%lx pool=0x%lx-0x%lx pages=%zu", (uint64_t)_image_start,
             (uint64_t)_image_end, base, base + size, pmem_free_pages());
}

static void load_guest(struct vcpu *v, const struct mb2_info *mb, const struct hv_options *opt)
{
    const struct mb2_module *testguest = mb2_find_module(mb, "testguest");
    const char *kind = opt->guest ? opt->guest : testguest ? "testguest" : "linux";
    if (strcmp(kind, "testguest") == 0) {
        if (!testguest) {
            LOG_FATAL("guest.missing_module", "kind=testguest reason=\"no multiboot2 module named testguest\"");
            hv_shutdown("guest module missing");
        }
        if (guest_load_testguest(v, testguest, opt->guest_cmdline) != HV_OK)
            hv_shutdown("guest could not be loaded");
        return;
    }
    if (strcmp(kind, "linux") == 0) {
        const struct mb2_module *kernel = mb2_find_module(mb, "linux");
        if (!kernel) {
            LOG_FATAL("guest.missing_module", "kind=linux reason=\"no multiboot2 module named linux (the bzImage)\"");
            hv_shutdown("guest module missing");
        }
        if (guest_load_linux(v, mb, kernel, mb2_find_module(mb, "initrd"), opt->guest_cmdline) != HV_OK)
            hv_shutdown("guest could not be loaded");
        return;
    }
    LOG_FATAL("guest.unsupported", "kind=%s reason=\"unknown guest kind\"", kind);
    hv_shutdown("unknown guest kind");
}

void hv_main(uint32_t magic, uint64_t info_pa)
{
    cpu_tables_init();

    struct mb2_limits limits = {(uint64_t)_image_start, (uint64_t)_image_end};
    int mb_status = magic == MB2_BOOTLOADER_MAGIC
                        ? mb2_parse((const void *)(uintptr_t)info_pa, MB2_INFO_READ_LIMIT, &limits, &boot_info)
                        : -HV_EINVAL;

    /* The log port comes from the command line, so parse it before the first record. */
    struct hv_options opt;
    size_t cmdline_len = mb_status == HV_OK && boot_info.cmdline ? MIN(boot_info.cmdline_len, HV_CMDLINE_MAX - 1) : 0;
    if (cmdline_len)
        memcpy(cmdline_copy, boot_info.cmdline, cmdline_len);
    cmdline_copy[cmdline_len] = '\0';
    hv_options_parse(cmdline_copy, &opt);
    serial_init(opt.log_port);
    if (!log_level_parse(opt.loglevel, &log_threshold)) {
        log_threshold = LOG_LEVEL_INFO;
        LOG_WARN("hv.bad_option", "option=loglevel value=\"%s\" using=info", opt.loglevel);
    }

    LOG_INFO("hv.start", "version=%s image=0x%lx-0x%lx log_port=0x%x", HV_VERSION_STRING, (uint64_t)_image_start,
             (uint64_t)_image_end, opt.log_port);
    if (magic != MB2_BOOTLOADER_MAGIC) {
        LOG_FATAL("boot.bad_magic", "magic=0x%x expected=0x%x reason=\"not started by a multiboot2 loader\"", magic,
                  MB2_BOOTLOADER_MAGIC);
        hv_shutdown("bad boot magic");
    }
    if (mb_status != HV_OK) {
        LOG_FATAL("boot.bad_info", "status=%d offset=%zu error=\"%s\"", mb_status, boot_info.error_offset,
                  boot_info.error);
        hv_shutdown("invalid multiboot2 information");
    }
    if (opt.bad_count)
        LOG_WARN("hv.bad_option", "count=%u first=\"%s\" action=ignored", opt.bad_count, opt.bad_option);
    LOG_INFO("hv.cmdline", "cmdline=\"%s\" guest_cmdline=\"%s\"", boot_info.cmdline ? boot_info.cmdline : "",
             opt.guest_cmdline);
    if (!(boot_info.seen & MB2_SEEN(MB2_TAG_MMAP))) {
        LOG_FATAL("boot.no_mmap", "reason=\"the boot loader gave no memory map\"");
        hv_shutdown("no memory map");
    }
    log_boot_info(&boot_info);
    pool_init(&boot_info, info_pa, *(const uint32_t *)(uintptr_t)info_pa, opt.pool_mib);

    struct vcpu *v = &vcpu0;
    if (!vmx_init(v))
        hv_shutdown("VMX unavailable");
    io_intercepts_init();
    msr_intercepts_init();
    if (guest_memory_init(&boot_info) != HV_OK) {
        LOG_FATAL("boot.mmap_too_large", "entries=%zu reason=\"the guest memory map does not fit\"", boot_info.mmap_count);
        hv_shutdown("guest memory map too large");
    }
    load_guest(v, &boot_info, &opt);
    if (!guest_paging_init(v, vmread(VMCS_GUEST_CR3)))
        hv_shutdown("no memory for shadow paging");
    vmx_launch(v);
}

static void log_exit_summary(const struct vcpu *v)
{
    LOG_INFO("hv.summary", "exits=%lu hypercalls=%lu pool_free_pages=%zu", v->exits_total, v->hypercalls_total,
             pmem_free_pages());
    vmexit_log_counts(LOG_LEVEL_INFO, "hv.exit_counts");
}

void hv_shutdown(const char *reason)
{
    static bool shutting_down;
    if (!shutting_down) {
        shutting_down = true;
        /* The closing records are the run's result: written whatever the log level (at least info). */
        if (log_threshold < LOG_LEVEL_INFO)
            log_threshold = LOG_LEVEL_INFO;
        log_exit_summary(&vcpu0);
        if (guest_paging_active_view()) {
            guest_paging_log_summary();
            isolation_log_summary();
        }
        LOG_INFO("hv.shutdown", "reason=\"%s\"", reason);
        serial_drain();
    }
    outw(0xb004, 0x2000); /* ACPI S5 on Bochs' PIIX4 */
    for (const char *s = "Shutdown"; *s; s++)
        outb(0x8900, (uint8_t)*s); /* Bochs' shutdown port */
    outw(0x604, 0x2000);           /* ACPI S5 on QEMU */
    halt_forever();
}
