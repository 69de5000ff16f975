/* The guest's paging under shadow page tables: its CR3, the #PF, INVLPG and CR3 exits, and the walk context built
 * from its current paging state. */
#ifndef HV_GUEST_PAGING_H
#define HV_GUEST_PAGING_H

#include <stdint.h>

#include "hv/vcpu.h"
#include "mmu/pt_walk.h"
#include "mmu/shadow.h"

extern struct shadow_mmu guest_shadow;

/* Starts shadowing with the guest's first CR3; false (logged) when the pool has no room. */
bool guest_paging_init(struct vcpu *v, uint64_t guest_cr3);
void guest_paging_walk_ctx(const struct vcpu *v, struct pt_walk_ctx *ctx);

void guest_paging_page_fault(struct vcpu *v, uint64_t linear, uint32_t error_code);
void guest_paging_write_cr3(struct vcpu *v, uint64_t value);
/* CR0.WP/PG, CR4 or EFER.NXE changed: every shadow translation may be wrong now. */
void guest_paging_mode_changed(struct vcpu *v);
void handle_invlpg(struct vcpu *v);

void guest_paging_log_summary(void);

#endif
