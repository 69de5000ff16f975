/* The seeded test pattern shared by /bin/pattern (disk data) and /bin/playback (audio data): xorshift64*, one 64-bit
 * word at a time, stored little-endian. Host-side tests recompute it (tests/integration/test_sound.py), so any change
 * here must be made there too. */
#ifndef GUEST_PATTERN_H
#define GUEST_PATTERN_H

static inline unsigned long long pattern_init(unsigned long long seed)
{
    return seed * 0x9E3779B97F4A7C15ULL + 0x2545F4914F6CDD1DULL;
}

static inline unsigned long long pattern_next(unsigned long long *state)
{
    *state ^= *state >> 12;
    *state ^= *state << 25;
    *state ^= *state >> 27;
    return *state * 0x2545F4914F6CDD1DULL;
}

#endif
