/* pattern SEED BYTES: write BYTES pseudo-random bytes (xorshift64*, seeded with SEED: guest/pattern.h) to stdout.
 * The basic workload's disk test data: the same seed gives the same bytes on every run, bare or under the
 * hypervisor; a shell or awk loop took seconds of guest time for 256 KiB, this takes milliseconds.
 * Freestanding (no libc): gcc -static -nostdlib -ffreestanding; see guest/build-initramfs.sh. */
#include "nolibc.h"
#include "pattern.h"

__attribute__((noreturn)) static void fail(const char *msg, long len)
{
    syscall3(SYS_write, 2, (long)msg, len);
    for (;;)
        syscall3(SYS_exit_group, 2, 0, 0);
}

void start_c(long *sp)
{
    static const char usage[] = "usage: pattern SEED BYTES\n";
    static const char write_error[] = "pattern: write failed\n";
    static unsigned long long buf[512];
    unsigned long long seed = 0, bytes = 0, state;
    long argc = sp[0];
    char **argv = (char **)(sp + 1);

    if (argc != 3 || parse_decimal(argv[1], &seed) || parse_decimal(argv[2], &bytes))
        fail(usage, sizeof(usage) - 1);
    state = pattern_init(seed);
    while (bytes) {
        unsigned long long chunk = bytes < sizeof(buf) ? bytes : sizeof(buf);

        for (unsigned int i = 0; i < sizeof(buf) / sizeof(buf[0]); i++)
            buf[i] = pattern_next(&state);
        for (unsigned long long done = 0; done < chunk;) {
            long n = syscall3(SYS_write, 1, (long)((char *)buf + done), (long)(chunk - done));

            if (n <= 0)
                fail(write_error, sizeof(write_error) - 1);
            done += (unsigned long long)n;
        }
        bytes -= chunk;
    }
    syscall3(SYS_exit_group, 0, 0, 0);
}

__asm__(".text\n.globl _start\n_start:\n\txor %ebp, %ebp\n\tmov %rsp, %rdi\n\tand $-16, %rsp\n\tcall start_c\n\thlt\n");
