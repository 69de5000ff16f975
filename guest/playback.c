/* playback SEED BYTES: play BYTES of the seeded pattern (guest/pattern.h: the bytes `pattern SEED BYTES` writes) as
 * interleaved S16_LE stereo at 44100 Hz on the first sound card's first PCM device, /dev/snd/pcmC0D0p (the ES1370's
 * DAC2), through the raw ALSA ioctl ABI: there is no alsa-lib, aplay or OSS emulation in the guest. Prints
 *   frames=F bytes=B rate=44100 channels=2 period=1024 buffer=8192 tsc=T
 * where T is the guest TSC from opening the PCM device to the end of the drain; exits non-zero with a message on
 * stderr on any error.
 *
 * First it turns the card's Master and PCM mixer controls fully up and on: the driver starts the AK4531 codec at
 * -62 dB and muted, and Bochs scales the samples it plays by those volumes (at full volume it leaves them unchanged).
 * 44100 Hz is exact on the DAC2 clock (1411200 / 32) and is the rate of Bochs' sound output, so nothing resamples.
 * BYTES must be a multiple of the period (4096 bytes): a drained stream stops at a period interrupt, and a partial
 * last period would let the card play stale buffer contents up to that interrupt.
 * Freestanding (no libc): gcc -static -nostdlib -ffreestanding; see guest/build-initramfs.sh. */
#include "nolibc.h"
#include "pattern.h"

/* From include/uapi/sound/asound.h (Linux 6.1, the stable uapi); sizes as checked by the _Static_asserts. */
struct snd_interval {
    unsigned int min, max;
    unsigned int openmin : 1, openmax : 1, integer : 1, empty : 1;
};

struct snd_mask {
    unsigned int bits[8];
};

struct snd_pcm_hw_params {
    unsigned int flags;
    struct snd_mask masks[3];
    struct snd_mask mres[5];
    struct snd_interval intervals[12];
    struct snd_interval ires[9];
    unsigned int rmask, cmask, info, msbits, rate_num, rate_den;
    unsigned long fifo_size;
    unsigned char reserved[64];
};

struct snd_xferi {
    long result;
    void *buf;
    unsigned long frames;
};

struct snd_ctl_elem_id {
    unsigned int numid, iface, device, subdevice;
    char name[44];
    unsigned int index;
};

struct snd_ctl_elem_info {
    struct snd_ctl_elem_id id;
    int type;
    unsigned int access, count;
    int owner;
    union {
        struct {
            long min, max, step;
        } integer;
        unsigned char reserved[128];
    } value;
    unsigned char reserved[64];
};

struct snd_ctl_elem_value {
    struct snd_ctl_elem_id id;
    unsigned int indirect : 1;
    union {
        long integer[128];
    } value;
    unsigned char reserved[128];
};

_Static_assert(sizeof(struct snd_pcm_hw_params) == 608, "snd_pcm_hw_params layout");
_Static_assert(sizeof(struct snd_xferi) == 24, "snd_xferi layout");
_Static_assert(sizeof(struct snd_ctl_elem_info) == 272, "snd_ctl_elem_info layout");
_Static_assert(sizeof(struct snd_ctl_elem_value) == 1224, "snd_ctl_elem_value layout");

#define IOC(dir, type, nr, size) (((unsigned long)(dir) << 30) | ((unsigned long)(size) << 16) | ((type) << 8) | (nr))
#define IOC_W 1UL
#define IOC_R 2UL
#define SNDRV_PCM_IOCTL_HW_REFINE IOC(IOC_R | IOC_W, 'A', 0x10, sizeof(struct snd_pcm_hw_params))
#define SNDRV_PCM_IOCTL_HW_PARAMS IOC(IOC_R | IOC_W, 'A', 0x11, sizeof(struct snd_pcm_hw_params))
#define SNDRV_PCM_IOCTL_PREPARE IOC(0, 'A', 0x40, 0)
#define SNDRV_PCM_IOCTL_DRAIN IOC(0, 'A', 0x44, 0)
#define SNDRV_PCM_IOCTL_WRITEI_FRAMES IOC(IOC_W, 'A', 0x50, sizeof(struct snd_xferi))
#define SNDRV_CTL_IOCTL_ELEM_INFO IOC(IOC_R | IOC_W, 'U', 0x11, sizeof(struct snd_ctl_elem_info))
#define SNDRV_CTL_IOCTL_ELEM_WRITE IOC(IOC_R | IOC_W, 'U', 0x13, sizeof(struct snd_ctl_elem_value))

#define SNDRV_PCM_HW_PARAM_ACCESS 0
#define SNDRV_PCM_HW_PARAM_FORMAT 1
#define SNDRV_PCM_HW_PARAM_SUBFORMAT 2
#define SNDRV_PCM_HW_PARAM_FIRST_INTERVAL 8
#define SNDRV_PCM_HW_PARAM_CHANNELS 10
#define SNDRV_PCM_HW_PARAM_RATE 11
#define SNDRV_PCM_HW_PARAM_PERIOD_SIZE 13
#define SNDRV_PCM_HW_PARAM_BUFFER_SIZE 17
#define SNDRV_PCM_ACCESS_RW_INTERLEAVED 3
#define SNDRV_PCM_FORMAT_S16_LE 2
#define SNDRV_PCM_SUBFORMAT_STD 0
#define SNDRV_CTL_ELEM_IFACE_MIXER 2
#define SNDRV_CTL_ELEM_TYPE_BOOLEAN 1
#define SNDRV_CTL_ELEM_TYPE_INTEGER 2

#define PCM_DEVICE "/dev/snd/pcmC0D0p"
#define CONTROL_DEVICE "/dev/snd/controlC0"
#define RATE 44100
#define CHANNELS 2
#define FRAME_BYTES (CHANNELS * 2)
#define PERIOD_FRAMES 1024
/* ALSA gives up on a blocked write (EIO) after 1.1 buffer times without a period interrupt, and Bochs' ES1370 raises
 * its first one 100 ms after the stream starts (its DAC timer's first 0.1 s packet). A 4-period buffer (93 ms: a
 * 102 ms timeout, 100-110 ms in HZ=100 jiffies) lost that race about once in 15-25 playbacks under the hypervisor,
 * whose exits slow the wake-up; 8 periods leave a 205 ms timeout. */
#define BUFFER_FRAMES (8 * PERIOD_FRAMES)

static void say(int fd, const char *msg)
{
    long len = 0;

    while (msg[len])
        len++;
    syscall3(SYS_write, fd, (long)msg, len);
}

/* "playback: WHAT failed (errno N)" and exit 1; err is the negated errno a system call returned, or 0. */
__attribute__((noreturn)) static void fail(const char *what, long err)
{
    char num[24];

    say(2, "playback: ");
    say(2, what);
    if (err < 0) {
        num[sizeof(num) - 1] = 0;
        say(2, " failed (errno ");
        say(2, format_decimal(num + sizeof(num) - 1, (unsigned long long)-err));
        say(2, ")");
    }
    say(2, "\n");
    for (;;)
        syscall3(SYS_exit_group, 1, 0, 0);
}

static void copy_name(char *dst, const char *src)
{
    while ((*dst++ = *src++))
        ;
}

/* Sets every channel of the mixer control NAME to its maximum: full volume for a volume, on for a switch. */
static void control_to_max(int ctl, const char *name)
{
    static struct snd_ctl_elem_info info;
    static struct snd_ctl_elem_value value;
    long err;

    for (unsigned int i = 0; i < sizeof(info); i++)
        ((char *)&info)[i] = 0;
    info.id.iface = SNDRV_CTL_ELEM_IFACE_MIXER;
    copy_name(info.id.name, name);
    err = syscall3(SYS_ioctl, ctl, (long)SNDRV_CTL_IOCTL_ELEM_INFO, (long)&info);
    if (err < 0)
        fail(name, err);
    if ((info.type != SNDRV_CTL_ELEM_TYPE_BOOLEAN && info.type != SNDRV_CTL_ELEM_TYPE_INTEGER) || info.count > 128)
        fail("a mixer control is neither a switch nor a volume", 0);
    for (unsigned int i = 0; i < sizeof(value); i++)
        ((char *)&value)[i] = 0;
    value.id = info.id;
    for (unsigned int i = 0; i < info.count; i++)
        value.value.integer[i] = info.type == SNDRV_CTL_ELEM_TYPE_BOOLEAN ? 1 : info.value.integer.max;
    err = syscall3(SYS_ioctl, ctl, (long)SNDRV_CTL_IOCTL_ELEM_WRITE, (long)&value);
    if (err < 0)
        fail(name, err);
}

static void mixer_full_volume(void)
{
    static const char *const controls[] = {
        "Master Playback Switch", "Master Playback Volume", "PCM Switch", "PCM Volume", "PCM Playback Switch",
    };
    long ctl = syscall3(SYS_open, (long)CONTROL_DEVICE, O_RDWR, 0);

    if (ctl < 0)
        fail("open " CONTROL_DEVICE, ctl);
    for (unsigned int i = 0; i < sizeof(controls) / sizeof(controls[0]); i++)
        control_to_max((int)ctl, controls[i]);
    syscall3(SYS_close, ctl, 0, 0);
}

static void mask_only(struct snd_pcm_hw_params *p, int param, unsigned int value)
{
    for (unsigned int i = 0; i < 8; i++)
        p->masks[param].bits[i] = 0;
    p->masks[param].bits[value / 32] = 1U << (value % 32);
}

static struct snd_interval *interval(struct snd_pcm_hw_params *p, int param)
{
    return &p->intervals[param - SNDRV_PCM_HW_PARAM_FIRST_INTERVAL];
}

static void interval_only(struct snd_pcm_hw_params *p, int param, unsigned int value)
{
    struct snd_interval *i = interval(p, param);

    i->min = i->max = value;
    i->integer = 1;
}

/* Asks for exactly the stream described at the top (HW_REFINE: can the device do it at all?), installs it
 * (HW_PARAMS) and checks that the device took it unchanged. */
static void set_hw_params(int pcm)
{
    static struct snd_pcm_hw_params p;
    long err;

    for (unsigned int i = 0; i < sizeof(p); i++)
        ((char *)&p)[i] = 0;
    for (int m = 0; m < 3; m++)
        for (int w = 0; w < 8; w++)
            p.masks[m].bits[w] = ~0U;
    for (int i = 0; i < 12; i++)
        p.intervals[i].max = ~0U;
    p.rmask = ~0U;
    p.info = ~0U;
    mask_only(&p, SNDRV_PCM_HW_PARAM_ACCESS, SNDRV_PCM_ACCESS_RW_INTERLEAVED);
    mask_only(&p, SNDRV_PCM_HW_PARAM_FORMAT, SNDRV_PCM_FORMAT_S16_LE);
    mask_only(&p, SNDRV_PCM_HW_PARAM_SUBFORMAT, SNDRV_PCM_SUBFORMAT_STD);
    interval_only(&p, SNDRV_PCM_HW_PARAM_CHANNELS, CHANNELS);
    interval_only(&p, SNDRV_PCM_HW_PARAM_RATE, RATE);
    interval_only(&p, SNDRV_PCM_HW_PARAM_PERIOD_SIZE, PERIOD_FRAMES);
    interval_only(&p, SNDRV_PCM_HW_PARAM_BUFFER_SIZE, BUFFER_FRAMES);
    err = syscall3(SYS_ioctl, pcm, (long)SNDRV_PCM_IOCTL_HW_REFINE, (long)&p);
    if (err < 0)
        fail("HW_REFINE (S16_LE stereo 44100 Hz, period 1024, buffer 8192 frames)", err);
    err = syscall3(SYS_ioctl, pcm, (long)SNDRV_PCM_IOCTL_HW_PARAMS, (long)&p);
    if (err < 0)
        fail("HW_PARAMS", err);
    if (interval(&p, SNDRV_PCM_HW_PARAM_RATE)->min != RATE || interval(&p, SNDRV_PCM_HW_PARAM_RATE)->max != RATE ||
        interval(&p, SNDRV_PCM_HW_PARAM_PERIOD_SIZE)->min != PERIOD_FRAMES ||
        interval(&p, SNDRV_PCM_HW_PARAM_BUFFER_SIZE)->min != BUFFER_FRAMES)
        fail("HW_PARAMS chose another rate, period or buffer size", 0);
}

/* The pattern's next `frames` frames into buf (a whole number of 64-bit pattern words). */
static void fill(unsigned long long *buf, unsigned long frames, unsigned long long *state)
{
    for (unsigned long i = 0; i < frames * FRAME_BYTES / 8; i++)
        buf[i] = pattern_next(state);
}

static char *append(char *out, const char *key, unsigned long long v)
{
    char num[24];
    char *digits = format_decimal(num + sizeof(num), v);

    while (*key)
        *out++ = *key++;
    while (digits < num + sizeof(num))
        *out++ = *digits++;
    return out;
}

void start_c(long *sp)
{
    static unsigned long long buf[BUFFER_FRAMES * FRAME_BYTES / 8];
    static char line[160];
    unsigned long long seed = 0, bytes = 0, state, start;
    unsigned long frames, done = 0;
    long argc = sp[0];
    char **argv = (char **)(sp + 1);
    long pcm, err;
    char *out = line;

    if (argc != 3 || parse_decimal(argv[1], &seed) || parse_decimal(argv[2], &bytes))
        fail("usage: playback SEED BYTES", 0);
    if (bytes == 0 || bytes % (PERIOD_FRAMES * FRAME_BYTES))
        fail("BYTES must be a non-zero multiple of the period, 4096 bytes", 0);
    frames = bytes / FRAME_BYTES;
    state = pattern_init(seed);

    mixer_full_volume();
    start = rdtsc();
    pcm = syscall3(SYS_open, (long)PCM_DEVICE, O_WRONLY, 0);
    if (pcm < 0)
        fail("open " PCM_DEVICE, pcm);
    set_hw_params((int)pcm);
    err = syscall3(SYS_ioctl, pcm, (long)SNDRV_PCM_IOCTL_PREPARE, 0);
    if (err < 0)
        fail("PREPARE", err);
    /* The first write fills the whole buffer before the stream starts (start threshold: 1 frame, checked after each
     * copy), so the card never waits for data; later writes block until a period has played. */
    while (done < frames) {
        unsigned long chunk = frames - done < BUFFER_FRAMES ? frames - done : BUFFER_FRAMES;
        struct snd_xferi xfer = { 0, buf, chunk };

        fill(buf, chunk, &state);
        while (xfer.frames) {
            err = syscall3(SYS_ioctl, pcm, (long)SNDRV_PCM_IOCTL_WRITEI_FRAMES, (long)&xfer);
            if (err < 0)
                fail("WRITEI_FRAMES", err);
            xfer.buf = (char *)xfer.buf + xfer.result * FRAME_BYTES;
            xfer.frames -= (unsigned long)xfer.result;
            done += (unsigned long)xfer.result;
        }
    }
    err = syscall3(SYS_ioctl, pcm, (long)SNDRV_PCM_IOCTL_DRAIN, 0);
    if (err < 0)
        fail("DRAIN", err);
    syscall3(SYS_close, pcm, 0, 0);

    out = append(out, "frames=", done);
    out = append(out, " bytes=", done * FRAME_BYTES);
    out = append(out, " rate=", RATE);
    out = append(out, " channels=", CHANNELS);
    out = append(out, " period=", PERIOD_FRAMES);
    out = append(out, " buffer=", BUFFER_FRAMES);
    out = append(out, " tsc=", rdtsc() - start);
    *out++ = '\n';
    syscall3(SYS_write, 1, (long)line, out - line);
    syscall3(SYS_exit_group, 0, 0, 0);
}

__asm__(".text\n.globl _start\n_start:\n\txor %ebp, %ebp\n\tmov %rsp, %rdi\n\tand $-16, %rsp\n\tcall start_c\n\thlt\n");
