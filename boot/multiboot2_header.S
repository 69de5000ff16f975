/* Multiboot2 header (GRUB `multiboot2`): no optional tags; GRUB loads the ELF segments as linked. */
#define MB2_HEADER_MAGIC 0xE85250D6
#define MB2_ARCH_I386    0

    .section .multiboot2, "a"
    .balign 8
mb2_header:
    .long MB2_HEADER_MAGIC
    .long MB2_ARCH_I386
    .long mb2_header_end - mb2_header
    .long -(MB2_HEADER_MAGIC + MB2_ARCH_I386 + (mb2_header_end - mb2_header))
    /* end tag */
    .balign 8
    .short 0
    .short 0
    .long 8
mb2_header_end:
