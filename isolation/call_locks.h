/*
 * The sleeping locks an isolated driver's calls hold, so that a call aborted for a fault releases them (the
 * papers' "locks first"); without that, the next user of the lock (the driver's own remove function, rtnl users)
 * sleeps forever. The guest kernel is uniprocessor: its spinlocks are only the interrupt flag and the preempt
 * counter, which the abort restores; mutexes, semaphores and rw-semaphores have owners and waiters.
 *
 * A driver takes a lock by calling a lock function the agent registered (every call from a driver's code into the
 * kernel exits to the hypervisor: its view does not execute kernel code). The lock counts as held once the call
 * returns into the driver (its resume point) with a result that says so: a mutex_lock_interruptible that was
 * interrupted took nothing, and one still sleeping holds nothing to release. A lock belongs to the innermost call
 * running on the stack that took it; aborting a call hands out, newest first, every lock taken on its stack since
 * it began (in it or in driver calls nested inside it). Pure: no hardware access.
 */
#ifndef ISOLATION_CALL_LOCKS_H
#define ISOLATION_CALL_LOCKS_H

#include <stdbool.h>
#include <stdint.h>

#define LOCK_FUNCTIONS_MAX 48
#define HELD_LOCKS_MAX 64

/* RBX..RDX of LOCK_FUNCTION (the caller checks the function is kernel code): HV_OK, -HV_EINVAL or -HV_ENOMEM.
 * Registering a function again changes it. */
long call_locks_register(uint64_t function, uint64_t lock_class, uint64_t flags);
/* Whether `function` is a registered lock function (a driver calling it is worth a look). */
bool call_locks_is_lock_function(uint64_t function);
/* Whether a registered lock function starts in [start, end). */
bool call_locks_any_in(uint64_t start, uint64_t end);

/* A driver of `domain_id`, in the call recorded as frame `frame_seq`, calls `function` with first argument `arg`
 * and will resume at (resume_rip, resume_rsp); resume_rip 0: it jumped there and does not come back. `frame_seq`
 * 0: no call recorded (nothing is taken). */
void call_locks_call_out(uint64_t domain_id, uint64_t frame_seq, uint64_t function, uint64_t arg, uint64_t resume_rip,
                         uint64_t resume_rsp);
/* A driver resumes at a resume point with `result` in RAX: a lock call returning there decides whether it took it. */
void call_locks_resumed(uint64_t rip, uint64_t rsp, uint64_t result);

/* The call recorded as frame `frame_seq`, whose return address was at `frame_rsp`, is aborted: the locks taken on
 * its stack since it began become its abort's (id `frame_seq`) to release. Returns how many. */
unsigned call_locks_abort(uint64_t frame_seq, uint64_t frame_rsp);
/* The newest lock abort `abort_id` still has to release, and whose driver took it (forgotten from now on); false
 * when none is left. */
bool call_locks_next_release(uint64_t abort_id, uint64_t *domain_id, uint64_t *lock_class, uint64_t *lock);
/* The newest lock domain `domain_id` holds, taken in any of its calls (forgotten from now on); false when none. */
bool call_locks_next_held(uint64_t domain_id, uint64_t *lock_class, uint64_t *lock);
void call_locks_forget_domain(uint64_t domain_id);
unsigned call_locks_held(uint64_t domain_id);

#endif
