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
    CHARIOT_HC_VERSION = 0, /* out: RBX = CHARIOT_ABI_VERSION */
    CHARIOT_HC_NOP = 1,     /* does nothing; not logged: the round-trip probe for benchmarks */
    CHARIOT_HC_COUNT
};

#endif
