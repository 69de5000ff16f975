#include "isolation/call_frames.h"

#include "hv/errno.h"
#include "hv/lib.h"
#include "isolation/x86_decode.h"

#define STACK_BLOCK (16ull << 10) /* x86-64 Linux kernel and IRQ stacks: THREAD_SIZE, aligned to it */

/* Both tables are kept dense (live entries first, removal moves the last one into the gap): the hypervisor
 * consults them at every switch into and out of a driver, where only a few are live. */
static struct call_frame frames[CALL_FRAMES_MAX];
static size_t nr_frames;
static uint64_t next_seq = 1;

static struct resume_point {
    uint64_t rip, rsp, seq;
} resume_points[RESUME_POINTS_MAX];
static size_t nr_resume_points;

/* Where a new entry goes in a dense table of entries with a `seq`: the next free slot, else (full) the oldest's. */
static size_t new_slot(size_t *nr, size_t max, const uint64_t *first_seq, size_t stride)
{
    if (*nr < max)
        return (*nr)++;
    size_t oldest = 0;
    for (size_t i = 1; i < max; i++)
        if (*(const uint64_t *)((const char *)first_seq + i * stride) <
            *(const uint64_t *)((const char *)first_seq + oldest * stride))
            oldest = i;
    return oldest;
}
#define NEW_SLOT(table, nr) new_slot(&(nr), ARRAY_SIZE(table), &(table)[0].seq, sizeof((table)[0]))

bool call_frames_same_stack(uint64_t a, uint64_t b) { return (a & ~(STACK_BLOCK - 1)) == (b & ~(STACK_BLOCK - 1)); }

static bool decodes_to_call(const uint8_t bytes[CALL_SITE_BYTES])
{
    /* Try every length a near call can have; the decoder must end exactly at the return address. */
    for (size_t start = 0; start + 2 <= CALL_SITE_BYTES; start++) {
        struct x86_insn insn;
        size_t len = CALL_SITE_BYTES - start;
        if (x86_decode(bytes + start, len, &insn) == 0 && insn.length == len && insn.op == X86_OP_CALL)
            return true;
    }
    return false;
}

/* Call sites already found, by return address with their bytes: the same few kernel call sites call into a driver
 * over and over, and decoding each up to six times is most of the cost of telling a call. */
#define KNOWN_CALL_SITES 64
static struct known_call_site {
    uint64_t return_rip;
    uint8_t bytes[CALL_SITE_BYTES];
} known_call_sites[KNOWN_CALL_SITES];

bool call_site_precedes(uint64_t return_rip, const uint8_t bytes[CALL_SITE_BYTES])
{
    struct known_call_site *known = &known_call_sites[(return_rip ^ return_rip >> 6) % KNOWN_CALL_SITES];
    if (known->return_rip == return_rip && !memcmp(known->bytes, bytes, CALL_SITE_BYTES))
        return true;
    if (!decodes_to_call(bytes))
        return false;
    known->return_rip = return_rip;
    memcpy(known->bytes, bytes, CALL_SITE_BYTES);
    return true;
}

void call_frames_unwound(uint64_t rsp)
{
    for (size_t i = 0; i < nr_frames;) {
        if (call_frames_same_stack(frames[i].rsp, rsp) && frames[i].rsp <= rsp)
            frames[i] = frames[--nr_frames];
        else
            i++;
    }
    for (size_t i = 0; i < nr_resume_points;) { /* a driver continues at its RSP: below it, it will not */
        const struct resume_point *p = &resume_points[i];
        if (call_frames_same_stack(p->rsp, rsp) && p->rsp < rsp)
            resume_points[i] = resume_points[--nr_resume_points];
        else
            i++;
    }
}

void call_frames_note_resume(uint64_t rip, uint64_t rsp)
{
    for (size_t i = 0; i < nr_resume_points; i++)
        if (resume_points[i].rip == rip && resume_points[i].rsp == rsp)
            return;
    resume_points[NEW_SLOT(resume_points, nr_resume_points)] = (struct resume_point){rip, rsp, next_seq++};
}

bool call_frames_take_resume(uint64_t rip, uint64_t rsp)
{
    for (size_t i = 0; i < nr_resume_points; i++) {
        if (resume_points[i].rip == rip && resume_points[i].rsp == rsp) {
            resume_points[i] = resume_points[--nr_resume_points];
            return true;
        }
    }
    return false;
}

void call_frames_push(const struct call_frame *frame)
{
    /* A call made at this depth means every earlier call at or below it on this stack has returned. */
    call_frames_unwound(frame->rsp);
    size_t slot = NEW_SLOT(frames, nr_frames);
    frames[slot] = *frame;
    frames[slot].seq = next_seq++;
}

struct call_frame *call_frames_innermost(uint64_t domain_id, uint64_t rsp)
{
    struct call_frame *best = NULL;
    for (size_t i = 0; i < nr_frames; i++) {
        struct call_frame *f = &frames[i];
        if (call_frames_same_stack(f->rsp, rsp) && f->rsp >= rsp && (!best || f->rsp < best->rsp))
            best = f;
    }
    /* A deeper call into another domain is not this driver's to unwind. */
    return best && (domain_id == CALL_FRAMES_ANY_DOMAIN || best->domain_id == domain_id) ? best : NULL;
}

void call_frames_forget_domain(uint64_t domain_id)
{
    for (size_t i = 0; i < nr_frames;) {
        if (frames[i].domain_id == domain_id)
            frames[i] = frames[--nr_frames];
        else
            i++;
    }
}

size_t call_frames_count(void) { return nr_frames; }
