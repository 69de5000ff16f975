/* Freestanding C library subset. The hypervisor implements these in hv/lib.c; host unit tests use libc's. */
#ifndef HV_LIB_H
#define HV_LIB_H

#include <stddef.h>
#include <stdint.h>

void *memcpy(void *dst, const void *src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
size_t strnlen(const char *s, size_t max);
int strcmp(const char *a, const char *b);
int strncmp(const char *a, const char *b, size_t n);

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define ALIGN_UP(x, a) (((x) + ((a) - 1)) & ~((__typeof__(x))(a) - 1))
#define ALIGN_DOWN(x, a) ((x) & ~((__typeof__(x))(a) - 1))
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))

/* Bit `bit` of a bitmap kept in 64-bit words. */
static inline void bitmap_set(uint64_t *map, unsigned bit) { map[bit / 64] |= 1ull << (bit % 64); }
static inline int bitmap_test(const uint64_t *map, unsigned bit) { return (int)(map[bit / 64] >> (bit % 64) & 1); }

#endif
