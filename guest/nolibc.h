/* What the freestanding guest helpers (tsc.c, pattern.c, playback.c, poweroff.c) need instead of libc: Linux x86-64
 * system call numbers, the system call itself, the TSC and decimal numbers in and out. They are built with gcc
 * -static -nostdlib -ffreestanding (see guest/build-initramfs.sh), so each is a few KiB and starts fast: the basic
 * workload execs tsc hundreds of times. */
#ifndef GUEST_NOLIBC_H
#define GUEST_NOLIBC_H

#define SYS_write 1
#define SYS_open 2
#define SYS_close 3
#define SYS_ioctl 16
#define SYS_nanosleep 35
#define SYS_sync 162
#define SYS_ioperm 173
#define SYS_exit_group 231

#define O_RDWR 02
#define O_WRONLY 01

static inline long syscall3(long nr, long a, long b, long c)
{
    long ret;

    __asm__ volatile("syscall" : "=a"(ret) : "a"(nr), "D"(a), "S"(b), "d"(c) : "rcx", "r11", "memory");
    return ret;
}

static inline unsigned long long rdtsc(void)
{
    unsigned int lo, hi;

    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return (unsigned long long)hi << 32 | lo;
}

/* A decimal number without sign or spaces; returns -1 for anything else. */
static inline int parse_decimal(const char *s, unsigned long long *out)
{
    unsigned long long v = 0;

    if (!s || !*s)
        return -1;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return -1;
        v = v * 10 + (unsigned long long)(*s - '0');
    }
    *out = v;
    return 0;
}

/* Writes v in decimal so that it ends just before `end`; returns where it starts (at most 20 digits). */
static inline char *format_decimal(char *end, unsigned long long v)
{
    do {
        *--end = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    return end;
}

#endif
