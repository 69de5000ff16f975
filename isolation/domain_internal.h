/* What isolation/domain.c and isolation/write_check.c share about a domain. */
#ifndef ISOLATION_DOMAIN_INTERNAL_H
#define ISOLATION_DOMAIN_INTERNAL_H

#include "hv/hypercall_abi.h"
#include "isolation/domain.h"
#include "isolation/intervals.h"
#include "isolation/open_pages.h"

struct domain {
    bool used;
    uint64_t id;
    char name[CHARIOT_DOMAIN_NAME_MAX];
    uint64_t code_start, code_end;
    uint64_t init_start, init_end;  /* its init code while the module loads; empty otherwise */
    uint32_t flags;                 /* CHARIOT_DOMAIN_* */
    struct ivset intervals;         /* what the driver may write */
    struct shadow_mmu *view;        /* its driver view */
    uint64_t stack_block;           /* the kernel stack writable in the view: the one it last entered on */
    uint64_t violations, allowed, emulated, entries;
    uint64_t shared_leaves;         /* shared kernel code left its view to write (isolation/shared_code.h) */
    struct open_pages open;         /* pages its legal writes left writable in its view */
    uint64_t opened;                /* pages opened so */
    uint64_t aborted_calls;         /* calls into it ended with an error because it faulted */
    uint64_t unreported;            /* violations the agent has not fetched yet */
};

struct domain *domain_of_code(uint64_t linear);
struct domain *domain_by_id(uint64_t id);
/* The domain whose driver view `view` is; NULL for the kernel view. */
struct domain *domain_of_view(const struct shadow_mmu *view);
/* Whether the code at `rip`, running in `view_domain`'s view (NULL: the kernel view), is the kernel's: in the
 * kernel view, or shared kernel code a driver's view runs (isolation/shared_code.h). */
bool runs_kernel_code(const struct domain *view_domain, uint64_t rip);
/* Whether the driver may write [linear, linear + size): its intervals, the current kernel stack, user memory. */
bool domain_may_write(const struct domain *d, uint64_t linear, uint64_t size);
/* A legal write of the driver to [linear, linear + size) was emulated: with an open-page cache, its pages stay
 * writable in the driver's view for its next writes. */
void domain_keep_open(struct domain *d, uint64_t linear, uint64_t size);
/* Counts a violation, closes the pages open in the driver's view, and tells the agent (the notification
 * interrupt, when it asked for one). */
void domain_report_violation(struct vcpu *v, struct domain *d);
/* Judges a driver write that trapped at `linear` and completes it: emulated, or skipped, and logged. */
void isolation_check_write(struct vcpu *v, struct domain *d, uint64_t linear);

#endif
