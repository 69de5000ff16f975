/*
 * I/O instruction exits. Guest port I/O passes through except for the ports in this table: the hypervisor's log
 * UART (absent to the guest: reads all ones, writes dropped) and the power-off ports, where the hypervisor logs its
 * summary before the machine goes down.
 */
#include "hv/hv.h"
#include "hv/lib.h"
#include "hv/log.h"
#include "hv/serial.h"
#include "hv/vmcs.h"
#include "hv/vmexit.h"
#include "hv/vmx.h"
#include "hv/x86.h"

#define IO_QUAL_SIZE(q) (((q) & 7) + 1)
#define IO_QUAL_IN(q) (((q) >> 3) & 1)
#define IO_QUAL_STRING(q) (((q) >> 4) & 1)
#define IO_QUAL_PORT(q) ((uint16_t)((q) >> 16))

#define ACPI_PM1A_CNT_BOCHS 0xb004 /* PIIX4 PM base 0xb000 as Bochs' BIOS sets it */
#define ACPI_PM1A_CNT_QEMU 0x604   /* QEMU q35/isa-debug default PM1a control */
#define ACPI_SLP_EN 0x2000
#define BOCHS_SHUTDOWN_PORT 0x8900
#define ABSENT_LOGGED_MAX 8 /* first accesses logged at info, the rest at debug */

struct io_access {
    uint16_t port;
    unsigned size;
    bool in;
    uint32_t value; /* written value (out) or value to return (in) */
};

struct port_range_handler {
    const char *name;
    uint16_t first, count; /* `first` 0 means the log UART, resolved at init */
    void (*handle)(struct vcpu *v, struct io_access *io);
};

static unsigned absent_accesses;

static void io_absent_device(struct vcpu *v, struct io_access *io)
{
    (void)v;
    enum log_level level = absent_accesses++ < ABSENT_LOGGED_MAX ? LOG_LEVEL_INFO : LOG_LEVEL_DEBUG;
    LOG_AT(level, "io.denied", "port=0x%x dir=%s size=%u value=0x%x reason=hv_log_uart action=%s", io->port,
           io->in ? "in" : "out", io->size, io->in ? 0xffffffffu : io->value, io->in ? "read_ones" : "drop");
    io->value = 0xffffffffu;
}

static void guest_poweroff(const char *via, uint16_t port, uint32_t value)
{
    LOG_INFO("guest.poweroff", "via=%s port=0x%x value=0x%x", via, port, value);
    hv_shutdown("guest powered off");
}

static void pass_through(struct io_access *io)
{
    if (io->in) {
        switch (io->size) {
        case 1: io->value = inb(io->port); break;
        case 2: io->value = inw(io->port); break;
        default: io->value = inl(io->port); break;
        }
    } else {
        switch (io->size) {
        case 1: outb(io->port, (uint8_t)io->value); break;
        case 2: outw(io->port, (uint16_t)io->value); break;
        default: outl(io->port, io->value); break;
        }
    }
}

static void io_acpi_pm1_control(struct vcpu *v, struct io_access *io)
{
    (void)v;
    if (!io->in && (io->value & ACPI_SLP_EN))
        guest_poweroff("acpi_pm1_control", io->port, io->value);
    pass_through(io);
}

/* Bochs powers off when the string "Shutdown" is written to port 0x8900 byte by byte. */
static void io_bochs_shutdown(struct vcpu *v, struct io_access *io)
{
    static const char magic[] = "Shutdown";
    static unsigned matched;
    (void)v;
    if (io->in) {
        io->value = 0xffffffffu;
        return;
    }
    char c = (char)io->value;
    matched = c == magic[matched] ? matched + 1 : (c == magic[0] ? 1 : 0);
    if (matched == sizeof(magic) - 1)
        guest_poweroff("bochs_shutdown_port", io->port, io->value);
}

static struct port_range_handler port_handlers[] = {
    {"hv_log_uart", 0, UART_PORT_COUNT, io_absent_device},
    {"acpi_pm1_control_bochs", ACPI_PM1A_CNT_BOCHS, 2, io_acpi_pm1_control},
    {"acpi_pm1_control_qemu", ACPI_PM1A_CNT_QEMU, 2, io_acpi_pm1_control},
    {"bochs_shutdown", BOCHS_SHUTDOWN_PORT, 1, io_bochs_shutdown},
};

void io_intercepts_init(void)
{
    port_handlers[0].first = serial_base();
    for (unsigned i = 0; i < ARRAY_SIZE(port_handlers); i++)
        vmx_intercept_io(port_handlers[i].first, port_handlers[i].count);
}

static void complete_in(struct vcpu *v, const struct io_access *io)
{
    uint64_t rax = v->regs->gpr[GPR_RAX];
    switch (io->size) {
    case 1: rax = (rax & ~0xffull) | (io->value & 0xff); break;
    case 2: rax = (rax & ~0xffffull) | (io->value & 0xffff); break;
    default: rax = io->value; break; /* a 32-bit destination zero-extends */
    }
    v->regs->gpr[GPR_RAX] = rax;
}

void handle_io_instruction(struct vcpu *v)
{
    uint64_t q = v->exit_qualification;
    struct io_access io = {
        .port = IO_QUAL_PORT(q),
        .size = IO_QUAL_SIZE(q),
        .in = IO_QUAL_IN(q),
        .value = (uint32_t)v->regs->gpr[GPR_RAX],
    };
    if (IO_QUAL_STRING(q)) {
        /* No guest driver uses string I/O on these ports; skip it rather than emulate memory operands. */
        LOG_WARN("io.string_skipped", "port=0x%x dir=%s size=%u rip=0x%lx", io.port, io.in ? "in" : "out", io.size,
                 vmread(VMCS_GUEST_RIP));
        vcpu_skip_instruction(v);
        return;
    }
    if (io.size == 1)
        io.value &= 0xff;
    else if (io.size == 2)
        io.value &= 0xffff;

    const struct port_range_handler *h = NULL;
    for (unsigned i = 0; i < ARRAY_SIZE(port_handlers) && !h; i++) {
        unsigned first = port_handlers[i].first, end = first + port_handlers[i].count;
        if (io.port < end && io.port + io.size > first) /* any byte of the access in the range */
            h = &port_handlers[i];
    }
    if (h)
        h->handle(v, &io);
    else
        pass_through(&io); /* cannot happen with the bitmap as programmed; stay safe if it does */
    if (io.in)
        complete_in(v, &io);
    vcpu_skip_instruction(v);
}
