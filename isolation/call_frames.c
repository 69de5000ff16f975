#include "isolation/call_frames.h"

#include "hv/errno.h"
#include "isolation/x86_decode.h"

#define STACK_BLOCK (16ull << 10) /* x86-64 Linux kernel and IRQ stacks: THREAD_SIZE, aligned to it */

static struct call_frame frames[CALL_FRAMES_MAX];
static bool frame_used[CALL_FRAMES_MAX];
static uint64_t next_seq = 1;

static struct resume_point {
    uint64_t rip, rsp, seq;
    bool used;
} resume_points[RESUME_POINTS_MAX];

bool call_frames_same_stack(uint64_t a, uint64_t b) { return (a & ~(STACK_BLOCK - 1)) == (b & ~(STACK_BLOCK - 1)); }

bool call_site_precedes(const uint8_t bytes[CALL_SITE_BYTES])
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

void call_frames_unwound(uint64_t rsp)
{
    for (size_t i = 0; i < CALL_FRAMES_MAX; i++)
        if (frame_used[i] && call_frames_same_stack(frames[i].rsp, rsp) && frames[i].rsp <= rsp)
            frame_used[i] = false;
    for (size_t i = 0; i < RESUME_POINTS_MAX; i++) /* a driver continues at its RSP: below it, it will not */
        if (resume_points[i].used && call_frames_same_stack(resume_points[i].rsp, rsp) && resume_points[i].rsp < rsp)
            resume_points[i].used = false;
}

void call_frames_note_resume(uint64_t rip, uint64_t rsp)
{
    size_t slot = 0;
    for (size_t i = 0; i < RESUME_POINTS_MAX; i++) {
        struct resume_point *p = &resume_points[i];
        if (p->used && p->rip == rip && p->rsp == rsp)
            return;
        if (!p->used) {
            slot = i;
            break;
        }
        if (p->seq < resume_points[slot].seq)
            slot = i;
    }
    resume_points[slot] = (struct resume_point){rip, rsp, next_seq++, true};
}

bool call_frames_take_resume(uint64_t rip, uint64_t rsp)
{
    for (size_t i = 0; i < RESUME_POINTS_MAX; i++) {
        struct resume_point *p = &resume_points[i];
        if (p->used && p->rip == rip && p->rsp == rsp) {
            p->used = false;
            return true;
        }
    }
    return false;
}

void call_frames_push(const struct call_frame *frame)
{
    /* A call made at this depth means every earlier call at or below it on this stack has returned. */
    call_frames_unwound(frame->rsp);
    size_t slot = 0;
    for (size_t i = 0; i < CALL_FRAMES_MAX; i++) {
        if (!frame_used[i]) {
            slot = i;
            break;
        }
        if (frames[i].seq < frames[slot].seq)
            slot = i;
    }
    frames[slot] = *frame;
    frames[slot].seq = next_seq++;
    frame_used[slot] = true;
}

struct call_frame *call_frames_innermost(uint64_t domain_id, uint64_t rsp)
{
    struct call_frame *best = NULL;
    for (size_t i = 0; i < CALL_FRAMES_MAX; i++) {
        struct call_frame *f = &frames[i];
        if (frame_used[i] && call_frames_same_stack(f->rsp, rsp) && f->rsp >= rsp && (!best || f->rsp < best->rsp))
            best = f;
    }
    /* A deeper call into another domain is not this driver's to unwind. */
    return best && (domain_id == CALL_FRAMES_ANY_DOMAIN || best->domain_id == domain_id) ? best : NULL;
}

void call_frames_forget_domain(uint64_t domain_id)
{
    for (size_t i = 0; i < CALL_FRAMES_MAX; i++)
        if (frame_used[i] && frames[i].domain_id == domain_id)
            frame_used[i] = false;
}

size_t call_frames_count(void)
{
    size_t n = 0;
    for (size_t i = 0; i < CALL_FRAMES_MAX; i++)
        n += frame_used[i];
    return n;
}
