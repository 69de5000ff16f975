/*
 * A driver's trapped write: decode the instruction, find the bytes it stores, and judge them against the domain's
 * authorization. Legal writes (and, in audit mode, illegal ones) are emulated; illegal writes in enforce mode are
 * skipped. Every decision is one record: domain, rip as module+offset, target, size, verdict, action.
 */
#include "hv/errno.h"
#include "hv/guest_paging.h"
#include "hv/log.h"
#include "hv/lib.h"
#include "hv/vmcs.h"
#include "hv/vmx.h"
#include "hv/x86.h"
#include "isolation/domain_internal.h"
#include "isolation/driver_fault.h"
#include "isolation/x86_emulate.h"

#define MAX_INSN_BYTES 15

/* Where an emulated access faulted in the guest's own tables: that #PF is the guest's. */
struct emulation_ctx {
    struct vcpu *v;
    bool faulted;
    uint64_t fault_linear;
    uint32_t fault_error;
};

static int note_result(struct emulation_ctx *e, int ret, uint64_t linear, uint32_t error_code)
{
    if (ret == 1) {
        e->faulted = true;
        e->fault_linear = linear;
        e->fault_error = error_code;
        return -HV_EFAULT;
    }
    return ret;
}

static int emulated_read(void *opaque, uint64_t linear, void *buf, uint32_t size)
{
    struct emulation_ctx *e = opaque;
    uint32_t error_code = 0;
    return note_result(e, guest_linear_read(e->v, linear, buf, size, 0, &error_code), linear, error_code);
}

static int emulated_write(void *opaque, uint64_t linear, const void *buf, uint32_t size)
{
    struct emulation_ctx *e = opaque;
    uint32_t error_code = 0;
    return note_result(e, guest_linear_write(e->v, linear, buf, size, &error_code), linear, error_code);
}

/* A driver's INS into memory it may write (a NIC's receive FIFO into a buffer): the device is the guest's, so the
 * port is read here exactly as the guest's instruction would have; ports the hypervisor emulates are not. */
static int emulated_port_in(void *opaque, uint16_t port, void *buf, uint32_t size, uint32_t count)
{
    (void)opaque;
    if (vmx_io_intercepted(port, size))
        return -HV_ENOSYS;
    ins_string(port, buf, size, count); /* one string instruction: element by element costs ~30x more */
    return HV_OK;
}

static const struct x86_mem_ops emulation_ops = {emulated_read, emulated_write, emulated_port_in};

/* The registers as the exit saved them (RSP is the VMCS's): copied whole, since every trapped write of a driver
 * comes through here. */
static void regs_from_guest(struct vcpu *v, struct x86_regs *r)
{
    _Static_assert(sizeof(r->gpr) == sizeof(v->regs->gpr), "x86_regs and guest_regs hold the same registers");
    memcpy(r->gpr, v->regs->gpr, sizeof(r->gpr));
    r->gpr[GPR_RSP] = vmread(VMCS_GUEST_RSP);
    r->rip = vmread(VMCS_GUEST_RIP);
    r->rflags = vmread(VMCS_GUEST_RFLAGS);
    r->fs_base = vmread(VMCS_GUEST_FS_BASE);
    r->gs_base = vmread(VMCS_GUEST_GS_BASE);
}

/* What the emulation changed of `before`, back into the guest. */
static void regs_to_guest(struct vcpu *v, const struct x86_regs *before, const struct x86_regs *r)
{
    memcpy(v->regs->gpr, r->gpr, sizeof(r->gpr)); /* gpr[GPR_RSP] there is a placeholder */
    if (r->gpr[GPR_RSP] != before->gpr[GPR_RSP])
        vmwrite(VMCS_GUEST_RSP, r->gpr[GPR_RSP]);
    vmwrite(VMCS_GUEST_RIP, r->rip);
    if (r->rflags != before->rflags)
        vmwrite(VMCS_GUEST_RFLAGS, r->rflags);
}

/* Up to 15 instruction bytes at RIP; fewer when the next page does not translate (the decoder says if it needs
 * them). Returns how many were read, or 0. */
static size_t fetch_instruction(struct vcpu *v, uint64_t rip, uint8_t *bytes)
{
    uint32_t error_code;
    if (guest_linear_read(v, rip, bytes, MAX_INSN_BYTES, PT_ACCESS_FETCH, &error_code) == HV_OK)
        return MAX_INSN_BYTES;
    size_t first_page = 4096 - (rip & 4095);
    if (first_page < MAX_INSN_BYTES &&
        guest_linear_read(v, rip, bytes, (uint32_t)first_page, PT_ACCESS_FETCH, &error_code) == HV_OK)
        return first_page;
    return 0;
}

/* Instructions decoded before, by address, with the bytes they were decoded from: a driver's trapped writes come
 * from a few instructions (its ring indexes, its skbs' fields), and decoding is a quarter of judging one. */
#define DECODED_CACHE 64
static struct decoded {
    uint64_t rip;
    uint8_t bytes[MAX_INSN_BYTES];
    struct x86_insn insn;
} decoded[DECODED_CACHE];

/* x86_decode() of the n bytes at rip, remembered. */
static int decode_at(uint64_t rip, const uint8_t *bytes, size_t n, struct x86_insn *insn)
{
    struct decoded *d = &decoded[(rip ^ rip >> 6) % DECODED_CACHE];
    if (d->rip == rip && d->insn.length <= n && !memcmp(d->bytes, bytes, d->insn.length)) {
        *insn = d->insn;
        return HV_OK;
    }
    int ret = x86_decode(bytes, n, insn);
    if (ret == HV_OK) {
        d->rip = rip;
        memcpy(d->bytes, bytes, insn->length);
        d->insn = *insn;
    }
    return ret;
}

static void log_decision(enum log_level level, const struct domain *d, uint64_t rip, uint64_t target, uint32_t size,
                         const char *verdict, const char *action)
{
    LOG_AT(level, "isolation.write", "domain=%lu rip=%s+0x%lx target=0x%lx size=%u verdict=%s action=%s", d->id,
           d->name, rip - d->code_start, target, size, verdict, action);
}

void isolation_check_write(struct vcpu *v, struct domain *d, uint64_t linear)
{
    struct x86_regs regs;
    regs_from_guest(v, &regs);
    uint8_t bytes[MAX_INSN_BYTES];
    struct x86_insn insn;
    size_t n = fetch_instruction(v, regs.rip, bytes);
    uint64_t target = linear;
    uint32_t size = 1;
    if (n == 0 || decode_at(regs.rip, bytes, n, &insn) != HV_OK || !(insn.flags & X86_WRITES_MEM)) {
        /* Nothing to skip past safely: its call is aborted, or the driver gets #UD, as for an instruction the CPU
         * could not run. */
        if (isolation_guest_exception(v, X86_EXC_UD, 0, 0))
            return;
        domain_report_violation(v, d);
        log_decision(LOG_LEVEL_ERROR, d, regs.rip, linear, 0, "undecodable", "inject_ud");
        vcpu_inject_ud(v);
        return;
    }
    if (x86_mem_target(&insn, &regs, &target, &size) != HV_OK)
        size = 1; /* a store of no fixed size (XSAVE and the like): judge the byte that faulted */

    bool legal = domain_may_write(d, target, size);
    bool audit = d->flags & CHARIOT_DOMAIN_AUDIT;
    if (!legal) {
        domain_report_violation(v, d);
        if (!audit) {
            log_decision(LOG_LEVEL_WARN, d, regs.rip, target, size, "denied", "skip");
            vmwrite(VMCS_GUEST_RIP, regs.rip + insn.length);
            vcpu_clear_interrupt_shadow();
            return;
        }
    } else {
        d->allowed++;
    }

    struct emulation_ctx e = {.v = v};
    const struct x86_regs before = regs;
    int ret = x86_emulate(&insn, &regs, &emulation_ops, &e);
    if (ret == HV_OK) {
        d->emulated++;
        if (legal)
            domain_keep_open(d, target, size);
        regs_to_guest(v, &before, &regs);
        vcpu_clear_interrupt_shadow();
        log_decision(legal ? LOG_LEVEL_DEBUG : LOG_LEVEL_WARN, d, vmread(VMCS_GUEST_RIP) - insn.length, target, size,
                     legal ? "allowed" : "denied", "emulate");
        return;
    }
    if (e.faulted) { /* the guest's own tables refuse the access: its #PF, as without isolation */
        if (!isolation_guest_exception(v, X86_EXC_PF, e.fault_error, e.fault_linear))
            guest_paging_inject_page_fault(v, e.fault_linear, e.fault_error);
        return;
    }
    /* Decoded but not emulated (SSE/AVX/x87 stores and the like): skipping is all that is safe. */
    log_decision(LOG_LEVEL_ERROR, d, regs.rip, target, size, legal ? "allowed_unemulatable" : "denied_unemulatable",
                 "skip");
    vmwrite(VMCS_GUEST_RIP, regs.rip + insn.length);
    vcpu_clear_interrupt_shadow();
}
