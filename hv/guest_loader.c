#include "hv/guest_loader.h"

#include "hv/errno.h"
#include "hv/guest_longmode.h"
#include "hv/guest_memory.h"
#include "hv/lib.h"
#include "hv/linux_boot.h"
#include "hv/log.h"
#include "hv/pmem.h"

#define GUEST_CMDLINE_MAX 0x1000

/* The test guest receives its command line in RDI, as a NUL-terminated string in guest memory. */
int guest_load_testguest(struct vcpu *v, const struct mb2_module *m, const char *guest_cmdline)
{
    uint64_t size = m->end - m->start;
    uint64_t dst = TESTGUEST_LOAD_GPA;
    if (size == 0 || size > TESTGUEST_MAX_SIZE) {
        LOG_ERROR("guest.load_failed", "module=testguest size=%lu max=%lu reason=\"empty or too large\"", size,
                  TESTGUEST_MAX_SIZE);
        return -HV_EINVAL;
    }
    if (pmem_overlaps_hv(dst, dst + size)) {
        LOG_ERROR("guest.load_failed", "module=testguest dst=0x%lx reason=\"destination overlaps hypervisor memory\"",
                  dst);
        return -HV_EOVERLAP;
    }
    size_t cmdline_len = strnlen(guest_cmdline, GUEST_CMDLINE_MAX - 1);
    memmove((void *)(uintptr_t)dst, (const void *)(uintptr_t)m->start, size);
    guest_longmode_setup(v, dst, dst);
    /* After the boot tables: guest_longmode_setup clears the whole scratch area. */
    char *cmdline = (char *)(uintptr_t)TESTGUEST_CMDLINE_GPA;
    memcpy(cmdline, guest_cmdline, cmdline_len);
    cmdline[cmdline_len] = '\0';
    v->regs->gpr[GPR_RDI] = TESTGUEST_CMDLINE_GPA;
    LOG_INFO("guest.loaded", "kind=testguest src=0x%lx size=%lu entry=0x%lx cmdline=\"%s\"", m->start, size, dst,
             cmdline);
    return HV_OK;
}

#define LINUX_ENTRY_64_OFFSET 0x200
#define LOW_MEMORY_END 0x100000ull

static int linux_refuse(const char *reason, uint64_t detail)
{
    LOG_ERROR("guest.load_failed", "kind=linux reason=\"%s\" detail=0x%lx", reason, detail);
    return -HV_EINVAL;
}

static size_t usable_ranges(const struct mb2_info *mb, struct mem_range *out)
{
    size_t n = 0;
    for (size_t i = 0; i < mb->mmap_count; i++)
        if (mb->mmap[i].type == MB2_MMAP_AVAILABLE)
            out[n++] = (struct mem_range){mb->mmap[i].base, mb->mmap[i].base + mb->mmap[i].length};
    return n;
}

int guest_load_linux(struct vcpu *v, const struct mb2_info *mb, const struct mb2_module *kernel,
                     const struct mb2_module *initrd, const char *guest_cmdline)
{
    const uint8_t *image = (const uint8_t *)(uintptr_t)kernel->start;
    struct bzimage_info info;
    int ret = bzimage_parse(image, kernel->end - kernel->start, &info);
    if (ret != HV_OK) {
        LOG_ERROR("guest.load_failed", "kind=linux module_size=%lu reason=\"%s\"", kernel->end - kernel->start,
                  info.error);
        return ret;
    }
    uint64_t load = info.pref_address, load_end = load + info.init_size;
    if (!guest_ram_contains(load, info.init_size))
        return linux_refuse("kernel does not fit in guest RAM at its preferred address", load);
    size_t cmdline_len = strnlen(guest_cmdline, LINUX_CMDLINE_MAX);
    if (cmdline_len >= LINUX_CMDLINE_MAX || cmdline_len > info.cmdline_size)
        return linux_refuse("guest command line too long", cmdline_len);

    /* The initrd goes as high as it may, clear of everything the kernel copy and the boot pages need; it moves
     * first so the kernel copy cannot overwrite it. */
    uint64_t initrd_gpa = 0, initrd_size = initrd ? initrd->end - initrd->start : 0;
    struct mem_range image_range = pmem_image(), pool_range = pmem_pool();
    if (initrd_size) {
        struct mem_range usable[MB2_MAX_MMAP];
        struct mem_range reserved[] = {
            {0, LOW_MEMORY_END}, image_range, pool_range, {load, load_end}, {kernel->start, kernel->end},
        };
        size_t n = usable_ranges(mb, usable);
        if (mem_find_highest(usable, n, reserved, ARRAY_SIZE(reserved), initrd_size, PAGE_SIZE,
                             (uint64_t)info.initrd_addr_max + 1, &initrd_gpa) != HV_OK)
            return linux_refuse("no room for the initrd below initrd_addr_max", initrd_size);
        memmove((void *)(uintptr_t)initrd_gpa, (const void *)(uintptr_t)initrd->start, initrd_size);
    }
    memmove((void *)(uintptr_t)load, image + info.setup_size, info.kernel_size);

    int e820_count;
    const struct e820_entry *e820 = guest_memory_map(&e820_count);
    for (int i = 0; i < e820_count; i++)
        LOG_DEBUG("guest.e820", "addr=0x%lx size=0x%lx type=%u", e820[i].addr, e820[i].size, e820[i].type);

    char *cmdline = (char *)(uintptr_t)LINUX_CMDLINE_GPA;
    memcpy(cmdline, guest_cmdline, cmdline_len);
    cmdline[cmdline_len] = '\0';
    struct linux_boot_args args = {
        .cmdline_gpa = LINUX_CMDLINE_GPA,
        .initrd_gpa = initrd_gpa,
        .initrd_size = initrd_size,
        .e820 = e820,
        .e820_count = (size_t)e820_count,
    };
    guest_longmode_setup(v, load + LINUX_ENTRY_64_OFFSET, LINUX_BOOT_PARAMS_GPA);
    boot_params_build((uint8_t *)(uintptr_t)LINUX_BOOT_PARAMS_GPA, image, &info, &args);
    v->regs->gpr[GPR_RSI] = LINUX_BOOT_PARAMS_GPA;
    LOG_INFO("guest.loaded",
             "kind=linux protocol=0x%x kernel=0x%lx kernel_size=%lu init_size=%lu initrd=0x%lx initrd_size=%lu "
             "e820_entries=%d cmdline=\"%s\"",
             info.version, load, info.kernel_size, info.init_size, initrd_gpa, initrd_size, e820_count, cmdline);
    return HV_OK;
}
