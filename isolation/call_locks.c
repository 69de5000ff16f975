#include "isolation/call_locks.h"

#include "hv/errno.h"
#include "hv/hypercall_abi.h"
#include "hv/lib.h"
#include "isolation/call_frames.h"

#define LOCK_FLAGS_KNOWN (CHARIOT_LOCK_ACQUIRE | CHARIOT_LOCK_OK_ZERO | CHARIOT_LOCK_OK_NONZERO | CHARIOT_LOCK_NO_ARGUMENT)

static struct lock_function {
    uint64_t address;
    uint8_t lock_class, flags;
} lock_functions[LOCK_FUNCTIONS_MAX];
static unsigned nr_lock_functions;
/* A bit per (address / 16) % 256 of the registered functions: most calls out of a driver, at every one of which the
 * hypervisor asks, are to no lock function and need no search. */
static uint64_t lock_function_filter[256 / 64];

static unsigned filter_bit(uint64_t address) { return (unsigned)(address >> 4) & 255; }

enum held_state {
    LOCK_SLOT_FREE,
    LOCK_TAKING,    /* the lock call has not returned into the driver yet */
    LOCK_HELD,
    LOCK_RELEASING, /* its call was aborted: the landing releases it */
};

static struct held_lock {
    enum held_state state;
    uint8_t lock_class;
    uint8_t flags;        /* the lock function's, while taking */
    uint64_t domain_id;
    uint64_t frame_seq;   /* the call that took it; while releasing, the abort's id */
    uint64_t lock;
    uint64_t resume_rip, resume_rsp; /* where the driver continues after the lock call: on its stack */
    uint64_t age;
} held[HELD_LOCKS_MAX];
static unsigned nr_taking; /* records in LOCK_TAKING */
static uint64_t next_age = 1;

long call_locks_register(uint64_t function, uint64_t lock_class, uint64_t flags)
{
    bool acquire = flags & CHARIOT_LOCK_ACQUIRE;
    if (!function || lock_class >= CHARIOT_LOCK_CLASSES || (flags & ~(uint64_t)LOCK_FLAGS_KNOWN) ||
        (!acquire && (flags & (CHARIOT_LOCK_OK_ZERO | CHARIOT_LOCK_OK_NONZERO))) ||
        ((flags & CHARIOT_LOCK_OK_ZERO) && (flags & CHARIOT_LOCK_OK_NONZERO)))
        return -HV_EINVAL;
    struct lock_function *f = NULL;
    for (unsigned i = 0; i < nr_lock_functions && !f; i++)
        if (lock_functions[i].address == function)
            f = &lock_functions[i];
    if (!f) {
        if (nr_lock_functions == LOCK_FUNCTIONS_MAX)
            return -HV_ENOMEM;
        f = &lock_functions[nr_lock_functions++];
    }
    *f = (struct lock_function){function, (uint8_t)lock_class, (uint8_t)flags};
    bitmap_set(lock_function_filter, filter_bit(function));
    return HV_OK;
}

static const struct lock_function *lock_function(uint64_t address)
{
    if (!bitmap_test(lock_function_filter, filter_bit(address)))
        return NULL;
    for (unsigned i = 0; i < nr_lock_functions; i++)
        if (lock_functions[i].address == address)
            return &lock_functions[i];
    return NULL;
}

bool call_locks_is_lock_function(uint64_t function) { return lock_function(function) != NULL; }

bool call_locks_any_in(uint64_t start, uint64_t end)
{
    for (unsigned i = 0; i < nr_lock_functions; i++)
        if (lock_functions[i].address >= start && lock_functions[i].address < end)
            return true;
    return false;
}

/* A free slot, else the oldest record's: a lock the kernel released for the driver is never seen to go. */
static struct held_lock *new_record(void)
{
    struct held_lock *oldest = &held[0];
    for (unsigned i = 0; i < HELD_LOCKS_MAX; i++) {
        if (held[i].state == LOCK_SLOT_FREE)
            return &held[i];
        if (held[i].age < oldest->age)
            oldest = &held[i];
    }
    return oldest;
}

void call_locks_call_out(uint64_t domain_id, uint64_t frame_seq, uint64_t function, uint64_t arg, uint64_t resume_rip,
                         uint64_t resume_rsp)
{
    const struct lock_function *f = lock_function(function);
    if (!f || !frame_seq)
        return;
    uint64_t lock = (f->flags & CHARIOT_LOCK_NO_ARGUMENT) ? 0 : arg;
    if (f->flags & CHARIOT_LOCK_ACQUIRE) {
        if (!resume_rip)
            return; /* a tail call: the lock is the caller's, taken after the driver's call returned */
        struct held_lock *h = new_record();
        nr_taking += h->state != LOCK_TAKING;
        *h = (struct held_lock){
            .state = LOCK_TAKING, .lock_class = f->lock_class, .flags = f->flags, .domain_id = domain_id,
            .frame_seq = frame_seq, .lock = lock, .resume_rip = resume_rip, .resume_rsp = resume_rsp,
            .age = next_age++,
        };
        return;
    }
    struct held_lock *newest = NULL;
    for (unsigned i = 0; i < HELD_LOCKS_MAX; i++) {
        struct held_lock *h = &held[i];
        if (h->state == LOCK_HELD && h->domain_id == domain_id && h->lock_class == f->lock_class && h->lock == lock &&
            (!newest || h->age > newest->age))
            newest = h;
    }
    if (newest)
        newest->state = LOCK_SLOT_FREE;
}

void call_locks_resumed(uint64_t rip, uint64_t rsp, uint64_t result)
{
    if (!nr_taking)
        return; /* every resumption of a driver comes here: most find no lock call under way */
    for (unsigned i = 0; i < HELD_LOCKS_MAX; i++) {
        struct held_lock *h = &held[i];
        if (h->state != LOCK_TAKING || h->resume_rip != rip || h->resume_rsp != rsp)
            continue;
        bool took = (h->flags & CHARIOT_LOCK_OK_ZERO)      ? result == 0
                    : (h->flags & CHARIOT_LOCK_OK_NONZERO) ? (uint32_t)result != 0 /* int and bool results */
                                                           : true;
        h->state = took ? LOCK_HELD : LOCK_SLOT_FREE;
        nr_taking--;
    }
}

unsigned call_locks_abort(uint64_t frame_seq, uint64_t frame_rsp)
{
    unsigned releasing = 0;
    for (unsigned i = 0; i < HELD_LOCKS_MAX; i++) {
        struct held_lock *h = &held[i];
        /* Frames are numbered in call order: on this stack, one numbered since the aborted call is nested in it. */
        if ((h->state != LOCK_TAKING && h->state != LOCK_HELD) || h->frame_seq < frame_seq ||
            !call_frames_same_stack(h->resume_rsp, frame_rsp))
            continue;
        if (h->state == LOCK_TAKING) {
            h->state = LOCK_SLOT_FREE; /* its lock call never returned: nothing taken */
            nr_taking--;
            continue;
        }
        h->state = LOCK_RELEASING;
        h->frame_seq = frame_seq;
        releasing++;
    }
    return releasing;
}

/* The newest record in `state` of abort `id` (releasing) or of domain `id` (held), taken out of the table. */
static bool take_newest(enum held_state state, uint64_t id, uint64_t *domain_id, uint64_t *lock_class, uint64_t *lock)
{
    struct held_lock *newest = NULL;
    for (unsigned i = 0; i < HELD_LOCKS_MAX; i++) {
        const struct held_lock *h = &held[i];
        if (h->state == state && (state == LOCK_RELEASING ? h->frame_seq : h->domain_id) == id &&
            (!newest || h->age > newest->age))
            newest = &held[i];
    }
    if (!newest)
        return false;
    *domain_id = newest->domain_id;
    *lock_class = newest->lock_class;
    *lock = newest->lock;
    newest->state = LOCK_SLOT_FREE;
    return true;
}

bool call_locks_next_release(uint64_t abort_id, uint64_t *domain_id, uint64_t *lock_class, uint64_t *lock)
{
    return take_newest(LOCK_RELEASING, abort_id, domain_id, lock_class, lock);
}

bool call_locks_next_held(uint64_t domain_id, uint64_t *lock_class, uint64_t *lock)
{
    uint64_t same_domain;
    return take_newest(LOCK_HELD, domain_id, &same_domain, lock_class, lock);
}

void call_locks_forget_domain(uint64_t domain_id)
{
    for (unsigned i = 0; i < HELD_LOCKS_MAX; i++)
        if (held[i].domain_id == domain_id && held[i].state != LOCK_RELEASING) { /* an abort's landing still asks */
            nr_taking -= held[i].state == LOCK_TAKING;
            held[i].state = LOCK_SLOT_FREE;
        }
}

unsigned call_locks_held(uint64_t domain_id)
{
    unsigned n = 0;
    for (unsigned i = 0; i < HELD_LOCKS_MAX; i++)
        n += held[i].state == LOCK_HELD && held[i].domain_id == domain_id;
    return n;
}
