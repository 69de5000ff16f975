/* Error codes shared by the hypervisor's units and returned to the guest by hypercalls (negated). */
#ifndef HV_ERRNO_H
#define HV_ERRNO_H

#define HV_OK        0
#define HV_EINVAL    1   /* malformed argument */
#define HV_ENOSYS    2   /* unknown hypercall number */
#define HV_ENOMEM    3   /* out of hypervisor memory or table space */
#define HV_ERANGE    4   /* address range overflows, is non-canonical, or lies outside what is allowed */
#define HV_ENOENT    5   /* no such domain, interval, module or tag */
#define HV_EEXIST    6   /* already exists */
#define HV_EPERM     7   /* caller not allowed */
#define HV_ETRUNC    8   /* input truncated */
#define HV_EOVERLAP  9   /* regions overlap */
#define HV_EBADINSN  10  /* instruction could not be decoded or emulated */
#define HV_EFAULT    11  /* guest memory could not be accessed */

#endif
