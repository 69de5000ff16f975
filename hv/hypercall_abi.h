/*
 * The hypercall ABI between the guest agent and the hypervisor. This header is included unchanged by the
 * hypervisor and by the Linux guest agent (kernel code): it uses no C library types.
 *
 * A hypercall is VMCALL from guest CPL 0 with the call number in RAX and up to four arguments in RBX, RCX, RDX,
 * RSI. The hypervisor returns a status in RAX: 0 on success, or a negated HV_E* code (hv/errno.h); calls that
 * produce values return them in RBX and RCX. A VMCALL from CPL > 0 gets #UD, as on a CPU without a hypervisor.
 */
#ifndef CHARIOT_HYPERCALL_ABI_H
#define CHARIOT_HYPERCALL_ABI_H

#include "errno.h"

#define CHARIOT_ABI_VERSION 1

enum chariot_hypercall {
    CHARIOT_HC_VERSION = 0,         /* out: RBX = CHARIOT_ABI_VERSION */
    CHARIOT_HC_NOP = 1,             /* does nothing; not logged: the round-trip probe for benchmarks */
    /* Isolation domains: one per isolated driver. */
    CHARIOT_HC_DOMAIN_CREATE = 2,   /* RBX = driver code start, RCX = code end (exclusive), RDX = CHARIOT_DOMAIN_*
                                     * flags, RSI = guest virtual address of the NUL-terminated name (< 32 bytes).
                                     * out: RBX = domain id */
    CHARIOT_HC_DOMAIN_DESTROY = 3,  /* RBX = domain id */
    CHARIOT_HC_INTERVAL_ADD = 4,    /* RBX = domain id, RCX = start, RDX = length: the driver may write there */
    CHARIOT_HC_INTERVAL_REMOVE = 5, /* RBX = domain id, RCX = start, RDX = length */
    CHARIOT_HC_DOMAIN_STATS = 6,    /* RBX = domain id. out: RBX = violations, RCX = checked writes allowed */
    CHARIOT_HC_SET_NOTIFY = 7,      /* RBX = the interrupt vector (0x20-0xff) the hypervisor injects after a
                                     * violation, 0 for none */
    CHARIOT_HC_VIOLATION_NEXT = 8,  /* out: RBX = a domain with violations not yet reported (0: none), RCX = how
                                     * many; they count as reported from now on */
    CHARIOT_HC_DOMAIN_INIT_CODE = 9, /* RBX = domain id, RCX = start, RDX = length of the driver's init code (run
                                      * while the module loads, then freed): checked like its code; 0 length
                                      * forgets it (before the kernel frees it) */
    CHARIOT_HC_RECOVERY_SETUP = 10, /* what aborting a faulting driver's call needs to know of the guest: RBX = the
                                     * offset of its per-CPU preempt counter from the GS base (restored; 0: unknown),
                                     * RCX = its TSC frequency in kHz (to tell a hung call; 0: unknown), RDX = the
                                     * landing: a kernel function an aborted call returns through (0: none), called
                                     * as landing(abort id, result, the aborted function's first argument) with the
                                     * caller's return address on the stack; it releases the call's locks
                                     * (ABORT_LOCK_NEXT), undoes what the caller expects the function to have done
                                     * (a NAPI poll's completion) and returns the result */
    CHARIOT_HC_LOCK_FUNCTION = 11,  /* RBX = a kernel function that takes or releases a sleeping lock whose address
                                     * is its first argument, RCX = the lock's class (< CHARIOT_LOCK_CLASSES: the
                                     * agent's name for how to release it), RDX = CHARIOT_LOCK_* flags (0: releases
                                     * it). A driver's calls to it are tracked, to release what an aborted call held */
    CHARIOT_HC_ABORT_LOCK_NEXT = 12, /* RBX = abort id (the landing's first argument). out: RBX = class, RCX = the
                                      * lock, the newest the aborted call still held (forgotten from now on);
                                      * -HV_ENOENT when none is left */
    CHARIOT_HC_EXCEPTION_TABLE = 13, /* RBX = code start, RCX = code end (exclusive), RDX = the exception table that
                                      * covers it (Linux x86-64: sorted entries of three 32-bit offsets, the first
                                      * the instruction's, relative to itself), RSI = its entries (0: none). A #PF
                                      * at a user address in that code, on a driver's behalf, at an instruction the
                                      * table does not list is the driver's fault. A domain's code forgets its
                                      * table when the domain goes */
    CHARIOT_HC_DOMAIN_LOCK_NEXT = 14, /* RBX = domain id. out: RBX = class, RCX = the lock: the newest lock the
                                       * domain's driver took in a call and still holds (forgotten from now on;
                                       * recovery releases them before it unloads the driver); -HV_ENOENT: none */
    CHARIOT_HC_BUG_TABLE = 15,      /* RBX = code start, RCX = code end (exclusive), RDX = the bug table that covers
                                     * it (Linux: entries whose first field is the UD2's address, a 32-bit offset
                                     * relative to itself, and a 16-bit flags field), RSI = its entries | the bytes
                                     * of an entry << 32 | the flags' offset in it << 40. A BUG() (a UD2 the table
                                     * lists without CHARIOT_BUG_WARNING) in that code, on a driver's behalf, is the
                                     * driver's fault; a WARN() is left to the guest. Forgotten like the exception
                                     * table */
    CHARIOT_HC_SHARED_FUNCTION = 16, /* RBX = start, RCX = end (exclusive) of a short kernel function drivers call
                                      * often: drivers' views run its pages themselves, and leave only when that
                                      * code writes what the driver may not (isolation/shared_code.h). -HV_EPERM:
                                      * a page holds code that must switch (a driver's, a lock function, an
                                      * interrupt or exception handler); -HV_ENOMEM: the table is full */
    CHARIOT_HC_COUNT
};

#define CHARIOT_DOMAIN_AUDIT 0x1u /* illegal writes take effect and are logged as violations (default: skipped) */
/* How many pages the driver's legal writes leave writable in its view (0 to 32, default 0): the papers' shadow page
 * cache. Fewer traps; but a write anywhere on an open page goes unchecked until it is closed (isolation/open_pages.h) */
#define CHARIOT_DOMAIN_OPEN_PAGES_SHIFT 8
#define CHARIOT_DOMAIN_OPEN_PAGES_MASK 0xff00u
#define CHARIOT_OPEN_PAGES_MAX 32
#define CHARIOT_DOMAIN_NAME_MAX 32
#define CHARIOT_LOCK_CLASSES 16
#define CHARIOT_LOCK_ACQUIRE 0x1u    /* takes the lock; unless one of the two below, always */
#define CHARIOT_LOCK_OK_ZERO 0x2u    /* took it if it returned 0 (mutex_lock_interruptible, down_trylock) */
#define CHARIOT_LOCK_OK_NONZERO 0x4u /* took it if it returned non-zero (mutex_trylock) */
#define CHARIOT_LOCK_NO_ARGUMENT 0x8u /* the lock is implied (rtnl_lock): its address is taken as 0 */
#define CHARIOT_MAX_DOMAINS 8
#define CHARIOT_BUG_WARNING 0x1u /* in a bug table entry's flags: a WARN(), after which the kernel goes on (Linux's
                                  * BUGFLAG_WARNING) */

#endif
