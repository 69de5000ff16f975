/*
 * Kernel code that drivers' views run themselves. A driver calls a few short kernel functions at every packet or
 * request (DMA mapping, skb helpers, delays); each call out of its view and back costs two view switches, two VM
 * exits. On the pages of the functions the agent names here, a driver's view executes the kernel code itself, and
 * the hypervisor leaves the view only when that code writes memory the driver may not write: the kernel view then
 * runs it on, as trusted code, exactly as if the call had switched at once (a write by kernel code is the
 * kernel's; see isolation/domain.c). Sharing is by page: the rest of such a page runs there too, which can only
 * cost a switch later, never a check. Pages whose code must still switch are never shared: one holding an isolated
 * driver's code, a lock function (a driver taking a lock must be seen), or an interrupt or exception handler (the
 * point where an interrupted driver resumes must be recorded); a page found to hold a return address of a call
 * from the kernel into a driver stops being shared (that return ends the driver's call). Pure.
 */
#ifndef ISOLATION_SHARED_CODE_H
#define ISOLATION_SHARED_CODE_H

#include <stdbool.h>
#include <stdint.h>

#define SHARED_CODE_PAGES_MAX 64
#define SHARED_FUNCTION_MAX_PAGES 4

/* Shares the pages of kernel function [start, end), unless `must_switch` says one of them may not be shared:
 * HV_OK (pages already shared count as shared), -HV_EINVAL (not a kernel-half range, empty, or longer than
 * SHARED_FUNCTION_MAX_PAGES pages), -HV_EPERM (a page must switch), -HV_ENOMEM (the table is full). Nothing is
 * shared unless all of it is. */
long shared_code_add(uint64_t start, uint64_t end, bool (*must_switch)(void *ctx, uint64_t page), void *ctx);
/* Whether the page holding `linear` is shared. */
bool shared_code_contains(uint64_t linear);
/* Whether any shared page meets [start, end). */
bool shared_code_overlaps(uint64_t start, uint64_t end);
/* Stops sharing the page holding `linear`; true when it was shared. */
bool shared_code_remove(uint64_t linear);
/* How many pages are shared. */
unsigned shared_code_pages(void);

#endif
