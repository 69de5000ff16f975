/* Hypercall handlers' calling convention inside the hypervisor (the guest-facing ABI is hv/hypercall_abi.h). */
#ifndef HV_HYPERCALL_H
#define HV_HYPERCALL_H

#include <stdint.h>

#include "hv/vcpu.h"

struct hypercall_args {
    uint64_t arg[4]; /* RBX, RCX, RDX, RSI */
    uint64_t out[2]; /* RBX, RCX on success */
};

/* Returns HV_OK or a negative HV_E* status for the guest's RAX. */
typedef long (*hypercall_fn)(struct vcpu *v, struct hypercall_args *a);

#endif
