/* hw-poweroff: power the Bochs machine off from the guest (Linux is built without ACPI, so `poweroff -f` only
 * halts). First ACPI S5 through Bochs's PM1a control port (outw(0x2000, 0xB004)), then, as a fallback, the bytes
 * "Shutdown" to the Bochs shutdown port 0x8900. Needs CONFIG_X86_IOPL_IOPERM and root.
 * Freestanding (no libc, a few KiB): gcc -static -nostdlib -ffreestanding; see guest/build-initramfs.sh. */
#include "nolibc.h"

#define PM1A_CNT_PORT 0xB004
#define PM1A_SLP_EN_S5 0x2000
#define BOCHS_SHUTDOWN_PORT 0x8900

static void say(const char *msg)
{
    long len = 0;

    while (msg[len])
        len++;
    syscall3(SYS_write, 2, (long)msg, len);
}

static void outw(unsigned short value, unsigned short port)
{
    __asm__ volatile("outw %0, %1" : : "a"(value), "Nd"(port));
}

static void outb(unsigned char value, unsigned short port)
{
    __asm__ volatile("outb %0, %1" : : "a"(value), "Nd"(port));
}

void start_c(void)
{
    static const char shutdown_word[] = "Shutdown";
    struct { long sec, nsec; } one_second = { 1, 0 };

    syscall3(SYS_sync, 0, 0, 0);
    if (syscall3(SYS_ioperm, PM1A_CNT_PORT, 2, 1) == 0)
        outw(PM1A_SLP_EN_S5, PM1A_CNT_PORT);
    else
        say("hw-poweroff: ioperm(0xB004) failed\n");
    if (syscall3(SYS_ioperm, BOCHS_SHUTDOWN_PORT, 1, 1) == 0) {
        for (const char *c = shutdown_word; *c; c++)
            outb((unsigned char)*c, BOCHS_SHUTDOWN_PORT);
    } else {
        say("hw-poweroff: ioperm(0x8900) failed\n");
    }
    syscall3(SYS_nanosleep, (long)&one_second, 0, 0);
    say("hw-poweroff: the machine is still running\n");
    syscall3(SYS_exit_group, 1, 0, 0);
}

__asm__(".text\n.globl _start\n_start:\n\txor %ebp, %ebp\n\tand $-16, %rsp\n\tcall start_c\n\thlt\n");
