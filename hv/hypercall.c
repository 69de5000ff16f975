/*
 * Hypercall dispatch: the caller's privilege is checked first (CPL > 0 gets #UD), then a table designated by call
 * number routes to a named handler. Unknown numbers return -HV_ENOSYS; the guest always continues.
 */
#include <stddef.h>

#include "hv/hypercall.h"
#include "hv/hypercall_abi.h"
#include "hv/log.h"
#include "isolation/domain.h"
#include "isolation/driver_fault.h"
#include "hv/vmcs.h"
#include "hv/vmexit.h"

struct hypercall {
    const char *name;
    hypercall_fn handle;
    unsigned outputs; /* how many of RBX, RCX the call returns */
    bool quiet;       /* hot-path calls are not logged */
};

static long hc_version(struct vcpu *v, struct hypercall_args *a)
{
    (void)v;
    a->out[0] = CHARIOT_ABI_VERSION;
    return HV_OK;
}

static long hc_nop(struct vcpu *v, struct hypercall_args *a)
{
    (void)v;
    (void)a;
    return HV_OK;
}

static const struct hypercall hypercalls[CHARIOT_HC_COUNT] = {
    [CHARIOT_HC_VERSION] = {"version", hc_version, 1, false},
    [CHARIOT_HC_NOP] = {"nop", hc_nop, 0, true},
    [CHARIOT_HC_DOMAIN_CREATE] = {"domain_create", hc_domain_create, 1, false},
    [CHARIOT_HC_DOMAIN_DESTROY] = {"domain_destroy", hc_domain_destroy, 0, false},
    [CHARIOT_HC_INTERVAL_ADD] = {"interval_add", hc_interval_add, 0, true},
    [CHARIOT_HC_INTERVAL_REMOVE] = {"interval_remove", hc_interval_remove, 0, true},
    [CHARIOT_HC_DOMAIN_STATS] = {"domain_stats", hc_domain_stats, 2, true},
    [CHARIOT_HC_SET_NOTIFY] = {"set_notify", hc_set_notify, 0, false},
    [CHARIOT_HC_VIOLATION_NEXT] = {"violation_next", hc_violation_next, 2, false},
    [CHARIOT_HC_DOMAIN_INIT_CODE] = {"domain_init_code", hc_domain_init_code, 0, false},
    [CHARIOT_HC_RECOVERY_SETUP] = {"recovery_setup", hc_recovery_setup, 0, false},
    [CHARIOT_HC_LOCK_FUNCTION] = {"lock_function", hc_lock_function, 0, true},
    [CHARIOT_HC_ABORT_LOCK_NEXT] = {"abort_lock_next", hc_abort_lock_next, 2, false},
    [CHARIOT_HC_EXCEPTION_TABLE] = {"exception_table", hc_exception_table, 0, false},
    [CHARIOT_HC_DOMAIN_LOCK_NEXT] = {"domain_lock_next", hc_domain_lock_next, 2, false},
    [CHARIOT_HC_BUG_TABLE] = {"bug_table", hc_bug_table, 0, false},
    [CHARIOT_HC_SHARED_FUNCTION] = {"shared_function", hc_shared_function, 0, false},
};

void handle_vmcall(struct vcpu *v)
{
    uint64_t nr = v->regs->gpr[GPR_RAX];
    unsigned cpl = vcpu_cpl();
    if (cpl != 0) {
        LOG_WARN("hypercall.denied", "nr=0x%lx cpl=%u rip=0x%lx action=inject_ud", nr, cpl, vmread(VMCS_GUEST_RIP));
        vcpu_inject_ud(v);
        return;
    }
    v->hypercalls_total++;
    const struct hypercall *hc = nr < CHARIOT_HC_COUNT && hypercalls[nr].handle ? &hypercalls[nr] : NULL;
    long status;
    if (!hc) {
        status = -HV_ENOSYS;
        LOG_WARN("hypercall.unknown", "nr=0x%lx rip=0x%lx status=%ld", nr, vmread(VMCS_GUEST_RIP), status);
    } else {
        struct hypercall_args a = {
            .arg = {v->regs->gpr[GPR_RBX], v->regs->gpr[GPR_RCX], v->regs->gpr[GPR_RDX], v->regs->gpr[GPR_RSI]},
        };
        status = hc->handle(v, &a);
        static const unsigned out_regs[] = {GPR_RBX, GPR_RCX};
        for (unsigned i = 0; status == HV_OK && i < hc->outputs; i++)
            v->regs->gpr[out_regs[i]] = a.out[i];
        if (!hc->quiet)
            LOG_DEBUG("hypercall", "nr=%lu name=%s status=%ld", nr, hc->name, status);
    }
    v->regs->gpr[GPR_RAX] = (uint64_t)status;
    vcpu_skip_instruction(v);
}
