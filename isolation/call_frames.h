/*
 * Recovery points for isolated drivers: the guest state at each call from the kernel into a driver, kept so that a
 * driver that faults can be made to return from that call with an error instead of crashing the kernel (the
 * papers' setjmp-like recovery point, taken here by the hypervisor at the view switch, with no guest change).
 *
 * A frame is the state the kernel's caller expects back when the driver function returns: where the return address
 * is (rsp), the return address itself, the callee-saved registers, RFLAGS and the preempt counter. Frames live
 * while their call runs: one is finished once its stack (a THREAD_SIZE-aligned block) has unwound past it, which
 * the hypervisor sees whenever control changes between driver and kernel.
 *
 * Resume points tell a call into a driver from control coming back to it: each time a driver calls out to the
 * kernel or is interrupted, where it will continue (RIP and RSP) is known exactly, and an entry there is no call.
 * (The top of a driver's stack after a call out often holds a stale return address into the kernel, which would
 * pass for a call.) Pure: no hardware access.
 */
#ifndef ISOLATION_CALL_FRAMES_H
#define ISOLATION_CALL_FRAMES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CALL_FRAMES_MAX 64
#define RESUME_POINTS_MAX 64
#define CALL_SITE_BYTES 7 /* the longest near call: FF /2 with SIB and disp32 and a REX prefix */

enum call_frame_reg { FRAME_RBX, FRAME_RBP, FRAME_R12, FRAME_R13, FRAME_R14, FRAME_R15, FRAME_REGS };

struct call_frame {
    uint64_t domain_id;
    uint64_t rsp;        /* at the driver's first instruction: the address of the return address */
    uint64_t return_rip;
    uint64_t rflags;
    uint64_t first_arg; /* RDI at the call: what the agent's landing may need to undo for the caller */
    uint64_t regs[FRAME_REGS];
    bool has_preempt_count;
    uint32_t preempt_count;
    uint64_t seq; /* age, for replacing the oldest frame when the table is full; unique */
};

/* Whether `bytes`, the CALL_SITE_BYTES bytes ending at return address `return_rip`, end with a near CALL
 * instruction (a site found once is remembered with its bytes). */
bool call_site_precedes(uint64_t return_rip, const uint8_t bytes[CALL_SITE_BYTES]);

/* Records a call (replacing the oldest frame when full); frames it shows finished are dropped first. */
void call_frames_push(const struct call_frame *frame);
/* The stack at `rsp` has unwound to there: the frames on that stack at or below it are finished. */
void call_frames_unwound(uint64_t rsp);
#define CALL_FRAMES_ANY_DOMAIN 0 /* domain ids start at 1 */

/* The innermost call still running on the stack at `rsp` if it is into the domain (or any, with
 * CALL_FRAMES_ANY_DOMAIN), or NULL. */
struct call_frame *call_frames_innermost(uint64_t domain_id, uint64_t rsp);
void call_frames_forget_domain(uint64_t domain_id);
/* The driver will continue at `rip` with RSP = `rsp` (replacing the oldest point when full). */
void call_frames_note_resume(uint64_t rip, uint64_t rsp);
/* Whether control entering a driver at `rip` with `rsp` is a noted resumption (then forgotten). */
bool call_frames_take_resume(uint64_t rip, uint64_t rsp);
size_t call_frames_count(void);
/* Whether two stack addresses are on the same kernel or interrupt stack. */
bool call_frames_same_stack(uint64_t a, uint64_t b);

#endif
