/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The guest side of the hypercall ABI (hv/hypercall_abi.h, included unchanged): detection of the hypervisor by
 * CPUID, the VMCALL wrapper, and readable names and Linux errno values for the hypervisor's HV_E* statuses.
 */
#ifndef CHARIOT_AGENT_HYPERCALL_H
#define CHARIOT_AGENT_HYPERCALL_H

#include <linux/errno.h>
#include <linux/types.h>
#include <asm/processor.h>

/* Relative include: its "errno.h" then resolves to hv/errno.h beside it, never to the kernel's. */
#include "../hv/hypercall_abi.h"

#define CHARIOT_CPUID_HV_BASE 0x40000000u
#define CHARIOT_CPUID_1_ECX_HYPERVISOR (1u << 31)

/* CPUID.1:ECX.31 (a hypervisor is present) and "ChariotHV" at leaf 0x40000000. Only then is VMCALL safe: on a
 * CPU without a hypervisor it raises #UD. */
static inline bool chariot_hv_present(void)
{
	unsigned int eax, ebx, ecx, edx;

	if (!(cpuid_ecx(1) & CHARIOT_CPUID_1_ECX_HYPERVISOR))
		return false;
	cpuid(CHARIOT_CPUID_HV_BASE, &eax, &ebx, &ecx, &edx);
	return ebx == 0x72616843 /* "Char" */ && ecx == 0x48746f69 /* "iotH" */ && edx == 0x00000056 /* "V" */;
}

/*
 * VMCALL: number in RAX, arguments in RBX, RCX, RDX, RSI; status (0 or -HV_E*) back in RAX, outputs in RBX and
 * RCX. All five registers are in-out so the compiler never assumes the hypervisor preserved one of them.
 */
static inline long chariot_vmcall(unsigned long nr, unsigned long a0, unsigned long a1, unsigned long a2,
				  unsigned long a3, unsigned long *out0, unsigned long *out1)
{
	unsigned long rax = nr, rbx = a0, rcx = a1, rdx = a2, rsi = a3;

	asm volatile("vmcall"
		     : "+a"(rax), "+b"(rbx), "+c"(rcx), "+d"(rdx), "+S"(rsi)
		     :
		     : "memory");
	if (out0)
		*out0 = rbx;
	if (out1)
		*out1 = rcx;
	return (long)rax;
}

static inline const char *chariot_hc_name(unsigned long nr)
{
	switch (nr) {
	case CHARIOT_HC_VERSION:         return "version";
	case CHARIOT_HC_NOP:             return "nop";
	case CHARIOT_HC_DOMAIN_CREATE:   return "domain_create";
	case CHARIOT_HC_DOMAIN_DESTROY:  return "domain_destroy";
	case CHARIOT_HC_INTERVAL_ADD:    return "interval_add";
	case CHARIOT_HC_INTERVAL_REMOVE: return "interval_remove";
	case CHARIOT_HC_DOMAIN_STATS:    return "domain_stats";
	case CHARIOT_HC_SET_NOTIFY:      return "set_notify";
	case CHARIOT_HC_VIOLATION_NEXT:  return "violation_next";
	case CHARIOT_HC_DOMAIN_INIT_CODE: return "domain_init_code";
	case CHARIOT_HC_RECOVERY_SETUP: return "recovery_setup";
	case CHARIOT_HC_LOCK_FUNCTION:  return "lock_function";
	case CHARIOT_HC_ABORT_LOCK_NEXT: return "abort_lock_next";
	case CHARIOT_HC_EXCEPTION_TABLE: return "exception_table";
	case CHARIOT_HC_DOMAIN_LOCK_NEXT: return "domain_lock_next";
	case CHARIOT_HC_BUG_TABLE:      return "bug_table";
	case CHARIOT_HC_SHARED_FUNCTION: return "shared_function";
	default:                         return "unknown";
	}
}

static inline const char *chariot_status_name(long status)
{
	switch (-status) {
	case HV_OK:       return "OK";
	case HV_EINVAL:   return "EINVAL";
	case HV_ENOSYS:   return "ENOSYS";
	case HV_ENOMEM:   return "ENOMEM";
	case HV_ERANGE:   return "ERANGE";
	case HV_ENOENT:   return "ENOENT";
	case HV_EEXIST:   return "EEXIST";
	case HV_EPERM:    return "EPERM";
	case HV_ETRUNC:   return "ETRUNC";
	case HV_EOVERLAP: return "EOVERLAP";
	case HV_EBADINSN: return "EBADINSN";
	case HV_EFAULT:   return "EFAULT";
	default:          return "unknown";
	}
}

/* What a failed hypercall becomes for the user of /proc/chariot (write(2)'s errno). */
static inline int chariot_status_errno(long status)
{
	switch (-status) {
	case HV_OK:       return 0;
	case HV_EINVAL:   return -EINVAL;
	case HV_ENOSYS:   return -ENOSYS;
	case HV_ENOMEM:   return -ENOMEM;
	case HV_ERANGE:   return -ERANGE;
	case HV_ENOENT:   return -ENOENT;
	case HV_EEXIST:   return -EEXIST;
	case HV_EPERM:    return -EPERM;
	case HV_EOVERLAP: return -EEXIST;
	case HV_EFAULT:   return -EFAULT;
	default:          return -EIO;
	}
}

#endif
