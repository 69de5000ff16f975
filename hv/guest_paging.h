/*
 * The guest's paging under shadow page tables: its CR3, the #PF, INVLPG and CR3 exits, and the walk context built
 * from its current paging state. There is one shadow per protection view: the kernel view, and one driver view
 * per isolation domain (isolation/domain.c). Exactly one view is active (its root is the CPU's CR3); guest TLB
 * maintenance applies to all of them.
 */
#ifndef HV_GUEST_PAGING_H
#define HV_GUEST_PAGING_H

#include <stdint.h>

#include "hv/vcpu.h"
#include "mmu/pt_walk.h"
#include "mmu/shadow.h"

#define GUEST_PAGING_MAX_VIEWS 9 /* the kernel view and one per isolation domain */

/* Starts shadowing with the guest's first CR3; false (logged) when the pool has no room. */
bool guest_paging_init(struct vcpu *v, uint64_t guest_cr3);
void guest_paging_walk_ctx(const struct vcpu *v, struct pt_walk_ctx *ctx);

struct shadow_mmu *guest_paging_kernel_view(void);
/* A new, empty view with `policy`, or NULL (logged) when out of memory or views. */
struct shadow_mmu *guest_paging_view_create(const struct shadow_policy *policy);
void guest_paging_view_destroy(struct shadow_mmu *view);
void guest_paging_activate(struct shadow_mmu *view);
struct shadow_mmu *guest_paging_active_view(void);

void guest_paging_page_fault(struct vcpu *v, uint64_t linear, uint32_t error_code);
void guest_paging_write_cr3(struct vcpu *v, uint64_t value);
/* CR0.WP/PG, CR4 or EFER.NXE changed: every shadow translation may be wrong now. */
void guest_paging_mode_changed(struct vcpu *v);
void handle_invlpg(struct vcpu *v);

/* Guest memory by linear address, translated through the guest's own tables for `access` (PT_ACCESS_*). Returns
 * 0, a PT_WALK_FAULT-style 1 with *error_code set (the #PF the guest would take), or a negative HV_E*. Copies at
 * most a few pages; nothing is written unless the whole range translates. */
int guest_linear_read(struct vcpu *v, uint64_t linear, void *buf, uint32_t size, unsigned access,
                      uint32_t *error_code);
int guest_linear_write(struct vcpu *v, uint64_t linear, const void *buf, uint32_t size, uint32_t *error_code);
void guest_paging_inject_page_fault(struct vcpu *v, uint64_t linear, uint32_t error_code);

void guest_paging_log_summary(void);

#endif
