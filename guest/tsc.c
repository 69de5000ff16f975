/* tsc: print the time-stamp counter in decimal. Under Bochs (clock: sync=none) it counts emulated instructions,
 * so the difference of two readings measures guest work independently of how busy the host is.
 * Also the short-lived program that the basic workload forks and execs in a loop, hence freestanding and tiny
 * (no libc): gcc -static -nostdlib -ffreestanding; see guest/build-initramfs.sh. */
#include "nolibc.h"

void start_c(void)
{
    unsigned int lo, hi;
    unsigned long long tsc;
    char buf[24];
    int pos = sizeof(buf);

    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    tsc = (unsigned long long)hi << 32 | lo;
    buf[--pos] = '\n';
    do {
        buf[--pos] = (char)('0' + tsc % 10);
        tsc /= 10;
    } while (tsc);
    syscall3(SYS_write, 1, (long)(buf + pos), (long)sizeof(buf) - pos);
    syscall3(SYS_exit_group, 0, 0, 0);
}

__asm__(".text\n.globl _start\n_start:\n\txor %ebp, %ebp\n\tand $-16, %rsp\n\tcall start_c\n\thlt\n");
