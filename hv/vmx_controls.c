/* VMCS control values from the allowed-0/allowed-1 settings (SDM appendix A.3-A.5): pure, host-testable. */
#include "hv/vmx_caps.h"

struct vmx_control_caps vmx_control_caps_from_msr(uint64_t msr)
{
    return (struct vmx_control_caps){.must_be_one = (uint32_t)msr, .may_be_one = (uint32_t)(msr >> 32)};
}

struct vmx_control_result vmx_compute_control(const struct vmx_control_caps *caps, const struct vmx_control_request *req)
{
    uint32_t wanted = req->required | req->optional;
    uint32_t value = (wanted | caps->must_be_one) & caps->may_be_one;
    return (struct vmx_control_result){.value = value, .missing = req->required & ~value};
}
