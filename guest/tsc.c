/* tsc: print the time-stamp counter in decimal. Under Bochs (clock: sync=none) it counts emulated instructions,
 * so the difference of two readings measures guest work independently of how busy the host is.
 * Also the short-lived program that the basic workload forks and execs in a loop, hence freestanding and tiny
 * (no libc): gcc -static -nostdlib -ffreestanding; see guest/build-initramfs.sh. */
#include "nolibc.h"

void start_c(void)
{
    char buf[24];
    char *end = buf + sizeof(buf) - 1;
    char *start = format_decimal(end, rdtsc());

    *end = '\n';
    syscall3(SYS_write, 1, (long)start, end + 1 - start);
    syscall3(SYS_exit_group, 0, 0, 0);
}

__asm__(".text\n.globl _start\n_start:\n\txor %ebp, %ebp\n\tand $-16, %rsp\n\tcall start_c\n\thlt\n");
