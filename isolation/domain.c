#include "isolation/domain.h"

#include "hv/errno.h"
#include "hv/guest_paging.h"
#include "hv/hypercall_abi.h"
#include "hv/lib.h"
#include "hv/log.h"
#include "hv/vmcs.h"
#include "hv/x86.h"
#include "isolation/call_locks.h"
#include "isolation/domain_internal.h"
#include "isolation/driver_fault.h"
#include "isolation/shared_code.h"

#define PAGE 4096ull
/* Past this many pages an interval change empties the driver view instead of invalidating page by page. */
#define INVALIDATE_MAX_PAGES 64

static struct domain domains[CHARIOT_MAX_DOMAINS];
static uint8_t interval_storage[CHARIOT_MAX_DOMAINS][IVSET_STORAGE_BYTES(DOMAIN_MAX_INTERVALS)]
    __attribute__((aligned(16)));
static uint64_t next_domain_id = 1;
static uint64_t view_switches;
static uint8_t notify_vector; /* 0: the agent asked for no interrupt */

static bool in_code(const struct domain *d, uint64_t linear)
{
    return (linear >= d->code_start && linear < d->code_end) || (linear >= d->init_start && linear < d->init_end);
}

struct domain *domain_of_code(uint64_t linear)
{
    for (unsigned i = 0; i < CHARIOT_MAX_DOMAINS; i++)
        if (domains[i].used && in_code(&domains[i], linear))
            return &domains[i];
    return NULL;
}

static bool overlaps_code(const struct domain *d, uint64_t start, uint64_t end)
{
    return (start < d->code_end && d->code_start < end) || (start < d->init_end && d->init_start < end);
}

static bool overlaps_any_code(uint64_t start, uint64_t end)
{
    for (unsigned i = 0; i < CHARIOT_MAX_DOMAINS; i++)
        if (domains[i].used && overlaps_code(&domains[i], start, end))
            return true;
    return false;
}

static void driver_view_rights(void *opaque, uint64_t page, struct shadow_rights *r);

/* A driver view's policy carries its domain (asked at every switch and trapped write). */
struct domain *domain_of_view(const struct shadow_mmu *view)
{
    struct domain *d = view->policy.restrict_rights == driver_view_rights ? view->policy.opaque : NULL;
    return d && d->used && d->view == view ? d : NULL;
}

struct domain *domain_by_id(uint64_t id)
{
    for (unsigned i = 0; i < CHARIOT_MAX_DOMAINS; i++)
        if (domains[i].used && domains[i].id == id)
            return &domains[i];
    return NULL;
}

bool runs_kernel_code(const struct domain *view_domain, uint64_t rip)
{
    return !view_domain || (!in_code(view_domain, rip) && shared_code_contains(rip));
}

bool domain_may_write(const struct domain *d, uint64_t linear, uint64_t size)
{
    if (linear < KERNEL_HALF_START)
        return true; /* only the kernel half is protected */
    if (linear >= d->stack_block && linear + size <= d->stack_block + GUEST_THREAD_SIZE)
        return true;
    return ivset_contains(&d->intervals, linear, size);
}

/* ---- the views' policies ---- */

static void kernel_view_rights(void *opaque, uint64_t page, struct shadow_rights *r)
{
    (void)opaque;
    if (domain_of_code(page))
        r->no_execute = true;
}

static bool kernel_view_uniform(void *opaque, uint64_t start, uint64_t len)
{
    (void)opaque;
    return !overlaps_any_code(start, start + len);
}

static void driver_view_rights(void *opaque, uint64_t page, struct shadow_rights *r)
{
    const struct domain *d = opaque;
    if (!in_code(d, page) && !shared_code_contains(page))
        r->no_execute = true;
    if (r->writable && !domain_may_write(d, page, PAGE))
        r->writable = false;
}

/* No code of the driver or shared with it, none of its intervals and not its current stack in the range: every
 * page of it is read-only and not executable there (or, below the kernel half, as the guest has it). */
static bool driver_view_uniform(void *opaque, uint64_t start, uint64_t len)
{
    const struct domain *d = opaque;
    uint64_t end = start + len;
    if (overlaps_code(d, start, end) || shared_code_overlaps(start, end))
        return false;
    if (end <= KERNEL_HALF_START)
        return true;
    if (d->stack_block && start < d->stack_block + GUEST_THREAD_SIZE && d->stack_block < end)
        return false;
    return !ivset_overlaps(&d->intervals, start, len);
}

/* The pages [*first, *end) of [start, start + len) for a change page by page; beyond INVALIDATE_MAX_PAGES the
 * view starts over instead (false: nothing left to do). */
static bool page_by_page_or_flush(struct shadow_mmu *view, uint64_t start, uint64_t len, uint64_t *first,
                                  uint64_t *end)
{
    *first = ALIGN_DOWN(start, PAGE);
    *end = ALIGN_UP(start + len, PAGE);
    if ((*end - *first) / PAGE <= INVALIDATE_MAX_PAGES)
        return true;
    shadow_flush(view);
    return false;
}

static void invalidate_range(struct shadow_mmu *view, uint64_t start, uint64_t len)
{
    uint64_t first, end;
    if (page_by_page_or_flush(view, start, len, &first, &end))
        for (uint64_t page = first; page < end; page += PAGE)
            shadow_forget_page(view, page);
}

static void invalidate_in_driver_views(uint64_t start, uint64_t len)
{
    for (unsigned i = 0; i < CHARIOT_MAX_DOMAINS; i++)
        if (domains[i].used)
            invalidate_range(domains[i].view, start, len);
}

/* A driver's code is never shared: a range becoming one stops being (its old translations go from every view). */
static void unshare_code(uint64_t start, uint64_t end)
{
    if (!shared_code_overlaps(start, end))
        return;
    for (uint64_t page = ALIGN_DOWN(start, PAGE); page < end; page += PAGE)
        shared_code_remove(page);
    invalidate_in_driver_views(start, end - start);
}

void isolation_unshare(uint64_t linear, const char *reason)
{
    if (!shared_code_remove(linear))
        return;
    invalidate_in_driver_views(ALIGN_DOWN(linear, PAGE), PAGE);
    LOG_INFO("isolation.unshared", "page=0x%lx reason=%s pages=%u", ALIGN_DOWN(linear, PAGE), reason,
             shared_code_pages());
}

/* The driver view's write right on `page` back to what its policy says, in place (no fill on the next access):
 * after the stack block moved, or when an open page closes. */
static void restore_write_right(struct domain *d, uint64_t page)
{
    shadow_set_writable(d->view, page, domain_may_write(d, page, PAGE));
}

/* The view's write rights on [start, start + len) after the driver's intervals changed there, in place: the
 * driver touches such memory again at once (an skb it was given, a buffer it allocated), and a translation
 * dropped instead would cost it a fill there. Open pages stay open (isolation/open_pages.h). */
static void update_write_rights(struct domain *d, uint64_t start, uint64_t len)
{
    uint64_t first, end;
    if (page_by_page_or_flush(d->view, start, len, &first, &end))
        for (uint64_t page = first; page < end; page += PAGE)
            if (!open_pages_contains(&d->open, page))
                restore_write_right(d, page);
}

/* The view's write rights on a stack block after d->stack_block changed: a driver entered from task and interrupt
 * context alternates between two stacks, and refilling each would cost more exits than the switches themselves.
 * The current block is writable whole, another one wherever an interval covers it (rarely: one look decides). */
static void update_stack_rights(struct domain *d, uint64_t block)
{
    bool current = block == d->stack_block;
    bool page_by_page = !current && ivset_overlaps(&d->intervals, block, GUEST_THREAD_SIZE);
    for (uint64_t page = block; page < block + GUEST_THREAD_SIZE; page += PAGE) {
        if (page_by_page)
            restore_write_right(d, page);
        else
            shadow_set_writable(d->view, page, current);
    }
}

/* Entering a driver view: the current kernel stack becomes writable there, and the previous one no longer is. */
static void enter_driver_view(struct vcpu *v, struct domain *d)
{
    uint64_t block = ALIGN_DOWN(vmread(VMCS_GUEST_RSP), GUEST_THREAD_SIZE), old = d->stack_block;
    if (block != old) {
        d->stack_block = block;
        if (old)
            update_stack_rights(d, old);
        update_stack_rights(d, block);
    }
    d->entries++;
    if (driver_fault_note_entry(v, d))
        return;
    guest_paging_activate(d->view);
}

/* Control passes into a driver (`target`, whose code runs next), or out of one (NULL): continue in the view that
 * lets that code run. */
static void switch_view_to_run(struct vcpu *v, const struct domain *current, struct domain *target)
{
    view_switches++;
    if (target) {
        enter_driver_view(v, target);
    } else {
        driver_fault_note_leave(v, current);
        guest_paging_activate(guest_paging_kernel_view());
    }
}

bool isolation_switch_view_for_fetch(struct vcpu *v, struct shadow_mmu *view, uint64_t linear)
{
    if (!view->policy.restrict_rights)
        return false;
    struct domain *current = domain_of_view(view), *target = domain_of_code(linear);
    if (current ? target == current : !target)
        return false;
    switch_view_to_run(v, current, target);
    return true;
}

void isolation_view_denied(struct vcpu *v, struct shadow_mmu *view, uint64_t linear, bool write)
{
    struct domain *current = domain_of_view(view);
    if (!write) {
        switch_view_to_run(v, current, domain_of_code(linear));
        return;
    }
    if (!current) {
        LOG_ERROR("isolation.unexpected_denial", "linear=0x%lx rip=0x%lx", linear, vmread(VMCS_GUEST_RIP));
        return;
    }
    /* The CPU itself writing during event delivery (an interrupt frame, an IST stack) is not the driver: let the
     * kernel view deliver it. The interrupted event was already queued again for the next entry. */
    if (vmread(VMCS_IDT_VECTORING_INFO) & INTR_INFO_VALID) {
        driver_fault_note_interrupted(current);
        guest_paging_activate(guest_paging_kernel_view());
        return;
    }
    /* Shared kernel code the driver called writes for the kernel, trusted as it is: the kernel view runs it on. */
    if (runs_kernel_code(current, vmread(VMCS_GUEST_RIP))) {
        current->shared_leaves++;
        switch_view_to_run(v, current, NULL);
        return;
    }
    isolation_check_write(v, current, linear);
}

/* ---- hypercalls ---- */

static bool canonical_kernel_range(uint64_t start, uint64_t len)
{
    return len && start >= KERNEL_HALF_START && start + len > start; /* no wrap past 2^64 */
}

long hc_domain_create(struct vcpu *v, struct hypercall_args *a)
{
    uint64_t code_start = a->arg[0], code_end = a->arg[1], flags = a->arg[2], name_va = a->arg[3];
    if (code_end <= code_start || !canonical_kernel_range(code_start, code_end - code_start) ||
        code_end - code_start > DOMAIN_MAX_CODE_SIZE ||
        (flags & ~(uint64_t)(CHARIOT_DOMAIN_AUDIT | CHARIOT_DOMAIN_OPEN_PAGES_MASK)) ||
        (flags & CHARIOT_DOMAIN_OPEN_PAGES_MASK) >> CHARIOT_DOMAIN_OPEN_PAGES_SHIFT > OPEN_PAGES_MAX)
        return -HV_EINVAL;
    if (!(vmread(VMCS_GUEST_IA32_EFER) & EFER_NXE)) {
        LOG_ERROR("isolation.domain_refused", "reason=\"guest runs without EFER.NXE: views need NX\"");
        return -HV_EPERM;
    }
    char name[CHARIOT_DOMAIN_NAME_MAX];
    uint32_t error_code;
    if (guest_linear_read(v, name_va, name, sizeof(name), 0, &error_code) != HV_OK)
        return -HV_EFAULT;
    if (strnlen(name, sizeof(name)) == sizeof(name))
        return -HV_EINVAL;
    if (overlaps_any_code(code_start, code_end))
        return -HV_EEXIST;
    unshare_code(code_start, code_end);

    struct domain *d = NULL;
    unsigned slot;
    for (slot = 0; slot < CHARIOT_MAX_DOMAINS && !d; slot++)
        if (!domains[slot].used)
            d = &domains[slot];
    if (!d)
        return -HV_ENOMEM;
    slot--;
    memset(d, 0, sizeof(*d));
    struct shadow_policy policy = {.restrict_rights = driver_view_rights, .uniform = driver_view_uniform, .opaque = d};
    d->view = guest_paging_view_create(&policy);
    if (!d->view)
        return -HV_ENOMEM;
    ivset_init(&d->intervals, interval_storage[slot], sizeof(interval_storage[slot]));
    memcpy(d->name, name, sizeof(name));
    d->id = next_domain_id++;
    d->code_start = code_start;
    d->code_end = code_end;
    d->flags = (uint32_t)flags;
    d->open.limit = (flags & CHARIOT_DOMAIN_OPEN_PAGES_MASK) >> CHARIOT_DOMAIN_OPEN_PAGES_SHIFT;
    d->used = true;

    /* The kernel view must stop executing this code: its existing translations may allow it. No other view
     * changes (a driver view runs only its own code and shared code, which this is not). */
    struct shadow_mmu *kernel = guest_paging_kernel_view();
    kernel->policy = (struct shadow_policy){.restrict_rights = kernel_view_rights, .uniform = kernel_view_uniform};
    invalidate_range(kernel, code_start, code_end - code_start);
    vmwrite(VMCS_EXCEPTION_BITMAP, vmread(VMCS_EXCEPTION_BITMAP) | driver_fault_exception_bitmap());
    LOG_INFO("isolation.domain_created", "domain=%lu module=%s code=0x%lx-0x%lx policy=%s open_pages=%u", d->id,
             d->name, code_start, code_end, flags & CHARIOT_DOMAIN_AUDIT ? "audit" : "enforce", d->open.limit);
    a->out[0] = d->id;
    return HV_OK;
}

long hc_domain_init_code(struct vcpu *v, struct hypercall_args *a)
{
    (void)v;
    struct domain *d = domain_by_id(a->arg[0]);
    uint64_t start = a->arg[1], len = a->arg[2];
    if (!d)
        return -HV_ENOENT;
    uint64_t old_start = d->init_start, old_end = d->init_end;
    d->init_start = d->init_end = 0;
    if (len) {
        if (!canonical_kernel_range(start, len) || len > DOMAIN_MAX_CODE_SIZE)
            return -HV_ERANGE;
        if (overlaps_any_code(start, start + len))
            return -HV_EEXIST;
        unshare_code(start, start + len);
        d->init_start = start;
        d->init_end = start + len;
    }
    /* Where the old and the new init code may run has changed: in the kernel view and the driver's. */
    struct shadow_mmu *changed[] = {guest_paging_kernel_view(), d->view};
    for (unsigned i = 0; i < ARRAY_SIZE(changed); i++) {
        if (old_end)
            invalidate_range(changed[i], old_start, old_end - old_start);
        if (len)
            invalidate_range(changed[i], start, len);
    }
    LOG_INFO("isolation.init_code", "domain=%lu module=%s init=0x%lx-0x%lx", d->id, d->name, d->init_start,
             d->init_end);
    return HV_OK;
}

long hc_domain_destroy(struct vcpu *v, struct hypercall_args *a)
{
    (void)v;
    struct domain *d = domain_by_id(a->arg[0]);
    if (!d)
        return -HV_ENOENT;
    LOG_INFO("isolation.domain_destroyed", "domain=%lu module=%s violations=%lu allowed=%lu emulated=%lu "
             "entries=%lu aborted_calls=%lu shared_leaves=%lu opened=%lu view_fills=%lu view_flushes=%lu",
             d->id, d->name, d->violations, d->allowed, d->emulated, d->entries, d->aborted_calls,
             d->shared_leaves, d->opened, d->view->stats.fills,
             d->view->stats.nonglobal_flushes + d->view->stats.flushes);
    driver_fault_forget_domain(d);
    guest_paging_view_destroy(d->view);
    d->used = false;
    bool any = false;
    for (unsigned i = 0; i < CHARIOT_MAX_DOMAINS; i++)
        any |= domains[i].used;
    struct shadow_mmu *kernel = guest_paging_kernel_view();
    if (!any) {
        kernel->policy.restrict_rights = NULL;
        vmwrite(VMCS_EXCEPTION_BITMAP, vmread(VMCS_EXCEPTION_BITMAP) & ~driver_fault_exception_bitmap());
    }
    /* The code is executable in the kernel view again (its pages may be freed and reused for anything). */
    invalidate_range(kernel, d->code_start, d->code_end - d->code_start);
    if (d->init_end)
        invalidate_range(kernel, d->init_start, d->init_end - d->init_start);
    return HV_OK;
}

/* The handlers of the guest's IDT (at most 256 gates of 16 bytes): an interrupt must leave a driver's view at
 * once, so that the point where the driver resumes is recorded. */
struct idt_handlers {
    uint64_t address[256];
    unsigned count;
};

static void read_idt_handlers(struct vcpu *v, struct idt_handlers *idt)
{
    static uint8_t gates[256 * 16]; /* the hypervisor's stack is small */
    uint32_t error_code, size = MIN((uint32_t)vmread(VMCS_GUEST_IDTR_LIMIT) + 1, (uint32_t)sizeof(gates));
    idt->count = 0;
    if (guest_linear_read(v, vmread(VMCS_GUEST_IDTR_BASE), gates, size, 0, &error_code) != HV_OK)
        return;
    for (uint32_t i = 0; i + 16 <= size; i += 16) {
        const uint8_t *g = gates + i;
        if (!(g[5] & 0x80))
            continue; /* not present */
        idt->address[idt->count++] = (uint64_t)(g[0] | g[1] << 8) | (uint64_t)(g[6] | g[7] << 8) << 16 |
                                     (uint64_t)(g[8] | g[9] << 8 | g[10] << 16 | (uint32_t)g[11] << 24) << 32;
    }
}

static bool page_must_switch(void *ctx, uint64_t page)
{
    const struct idt_handlers *idt = ctx;
    if (overlaps_any_code(page, page + PAGE) || call_locks_any_in(page, page + PAGE))
        return true;
    for (unsigned i = 0; i < idt->count; i++)
        if (ALIGN_DOWN(idt->address[i], PAGE) == page)
            return true;
    return false;
}

long hc_shared_function(struct vcpu *v, struct hypercall_args *a)
{
    uint64_t start = a->arg[0], end = a->arg[1];
    static struct idt_handlers idt;
    read_idt_handlers(v, &idt);
    if (!idt.count)
        return -HV_EFAULT; /* without the handlers, no page is known safe to share */
    long status = shared_code_add(start, end, page_must_switch, &idt);
    if (status != HV_OK)
        return status;
    /* the driver views may hold these pages not executable */
    invalidate_in_driver_views(start, end - start);
    LOG_INFO("isolation.shared_function", "start=0x%lx end=0x%lx pages=%u", start, end, shared_code_pages());
    return HV_OK;
}

static long interval_change(struct hypercall_args *a, bool add)
{
    struct domain *d = domain_by_id(a->arg[0]);
    uint64_t start = a->arg[1], len = a->arg[2];
    if (!d)
        return -HV_ENOENT;
    if (!canonical_kernel_range(start, len))
        return -HV_ERANGE;
    int ret = add ? ivset_add(&d->intervals, start, len, NULL) : ivset_remove(&d->intervals, start, len, NULL);
    if (ret != HV_OK)
        return ret;
    /* Pages wholly covered now may become writable in the view; pages no longer covered must stop being so. */
    update_write_rights(d, start, len);
    LOG_DEBUG("isolation.interval", "domain=%lu op=%s start=0x%lx len=%lu count=%zu", d->id, add ? "add" : "remove",
              start, len, ivset_count(&d->intervals));
    return HV_OK;
}

long hc_interval_add(struct vcpu *v, struct hypercall_args *a)
{
    (void)v;
    return interval_change(a, true);
}

long hc_interval_remove(struct vcpu *v, struct hypercall_args *a)
{
    (void)v;
    return interval_change(a, false);
}

/* A page written legally stays writable; the least recent one open is protected again. */
void domain_keep_open(struct domain *d, uint64_t linear, uint64_t size)
{
    if (!d->open.limit)
        return;
    for (uint64_t page = ALIGN_DOWN(linear, PAGE); page < linear + size; page += PAGE) {
        uint64_t closed;
        if (open_pages_note(&d->open, page, &closed))
            restore_write_right(d, closed);
        shadow_set_writable(d->view, page, true);
        d->opened++;
    }
}

/* Chariot's rule: once the driver is found faulty, none of its writes goes unchecked. */
static void close_open_pages(struct domain *d)
{
    uint64_t page;
    while (open_pages_pop(&d->open, &page))
        restore_write_right(d, page);
}

void domain_report_violation(struct vcpu *v, struct domain *d)
{
    close_open_pages(d);
    d->violations++;
    d->unreported++;
    if (notify_vector)
        vcpu_request_interrupt(v, notify_vector);
}

long hc_set_notify(struct vcpu *v, struct hypercall_args *a)
{
    (void)v;
    uint64_t vector = a->arg[0];
    if (vector != 0 && (vector < 0x20 || vector > 0xff))
        return -HV_EINVAL;
    notify_vector = (uint8_t)vector;
    LOG_INFO("isolation.notify", "vector=0x%lx", vector);
    return HV_OK;
}

long hc_violation_next(struct vcpu *v, struct hypercall_args *a)
{
    (void)v;
    a->out[0] = a->out[1] = 0;
    for (unsigned i = 0; i < CHARIOT_MAX_DOMAINS; i++) {
        if (domains[i].used && domains[i].unreported) {
            a->out[0] = domains[i].id;
            a->out[1] = domains[i].unreported;
            domains[i].unreported = 0;
            break;
        }
    }
    return HV_OK;
}

long hc_domain_stats(struct vcpu *v, struct hypercall_args *a)
{
    (void)v;
    struct domain *d = domain_by_id(a->arg[0]);
    if (!d)
        return -HV_ENOENT;
    a->out[0] = d->violations;
    a->out[1] = d->allowed;
    return HV_OK;
}

void isolation_log_summary(void)
{
    for (unsigned i = 0; i < CHARIOT_MAX_DOMAINS; i++)
        if (domains[i].used)
            LOG_INFO("isolation.summary", "domain=%lu module=%s violations=%lu allowed=%lu emulated=%lu entries=%lu "
                     "aborted_calls=%lu shared_leaves=%lu view_fills=%lu intervals=%zu view_switches=%lu "
                     "shared_pages=%u",
                     domains[i].id, domains[i].name, domains[i].violations, domains[i].allowed, domains[i].emulated,
                     domains[i].entries, domains[i].aborted_calls, domains[i].shared_leaves,
                     domains[i].view->stats.fills, ivset_count(&domains[i].intervals), view_switches,
                     shared_code_pages());
}
