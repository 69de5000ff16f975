/* What the freestanding guest helpers (tsc.c, pattern.c, poweroff.c) need instead of libc: Linux x86-64 system
 * call numbers and the system call itself. They are built with gcc -static -nostdlib -ffreestanding (see
 * guest/build-initramfs.sh), so each is a few KiB and starts fast: the basic workload execs tsc hundreds of times. */
#ifndef GUEST_NOLIBC_H
#define GUEST_NOLIBC_H

#define SYS_write 1
#define SYS_nanosleep 35
#define SYS_sync 162
#define SYS_ioperm 173
#define SYS_exit_group 231

static inline long syscall3(long nr, long a, long b, long c)
{
    long ret;

    __asm__ volatile("syscall" : "=a"(ret) : "a"(nr), "D"(a), "S"(b), "d"(c) : "rcx", "r11", "memory");
    return ret;
}

#endif
