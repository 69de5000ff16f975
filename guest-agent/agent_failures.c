// SPDX-License-Identifier: GPL-2.0
/*
 * chariot_agent's failure reports: driver failures the kernel itself declares, which no write or exception shows.
 * A driver whose probe fails for a device it matched leaves that device without a driver: a network interface, a
 * disk or a sound card is missing. When the driver is isolated and its watch recovers, that is a fault like a
 * violation: recovery unloads it and loads it again, as after a crash. Which failures count:
 *   probe: any error but -ENODEV, -ENXIO and -EPROBE_DEFER (the driver core's "probe of X failed with error N");
 *   probe-declined: -ENODEV or -ENXIO, the driver core's way for a driver to decline a device, which many drivers
 *     (ne2k-pci) answer to any error: a failure when the driver is bound to no device at all once the probes under
 *     way have ended (sd_mod declines the CD-ROM, probed asynchronously beside the disk it takes, and is left alone).
 * The probe is seen from the kernel's side (a return probe on really_probe, which returns a failed probe's errno as
 * a positive number), so nothing is placed in the driver's code.
 *
 * The return handler runs in any context: it notes the failure of the domain that was isolated then (a later
 * domain of the same module is another load) and lets the recovery work take it (agent_recovery.c).
 */
#define pr_fmt(fmt) "chariot_agent: " fmt

#include <linux/device.h>
#include <linux/errno.h>
#include <linux/kprobes.h>

#include "agent.h"

#define FAILURES_PENDING_MAX 8
#define PROBE_FAILURE_MAXACTIVE 8 /* probes running at once (the driver core probes asynchronously at times) */

static DEFINE_SPINLOCK(pending_lock);
static struct failure pending[FAILURES_PENDING_MAX];
static unsigned int nr_pending, lost;

/* A failure of the domain now isolating `mod`, if any; false when none is isolated (nothing to report). */
static bool note_failure(const struct module *mod, bool declined, long error, struct device_driver *drv,
			 const char *device)
{
	unsigned long flags, hv_id = 0;
	struct domain *d;

	spin_lock_irqsave(&state_lock, flags);
	d = domain_of_module(mod);
	if (d)
		hv_id = d->hv_id;
	spin_unlock_irqrestore(&state_lock, flags);
	if (!hv_id)
		return false;
	spin_lock_irqsave(&pending_lock, flags);
	if (nr_pending < FAILURES_PENDING_MAX) {
		struct failure *f = &pending[nr_pending++];

		f->hv_id = hv_id;
		f->declined = declined;
		f->error = error;
		f->drv = drv;
		strscpy(f->device, device, sizeof(f->device));
	} else {
		lost++;
	}
	spin_unlock_irqrestore(&pending_lock, flags);
	return true;
}

bool failures_pending(void)
{
	return READ_ONCE(nr_pending) != 0;
}

bool failures_take(struct failure *f)
{
	unsigned long flags;
	bool taken = false;

	spin_lock_irqsave(&pending_lock, flags);
	if (nr_pending) {
		*f = pending[0];
		memmove(pending, pending + 1, --nr_pending * sizeof(pending[0]));
		taken = true;
	}
	if (lost) {
		pr_warn("%u driver failure reports lost (more than %d at once)\n", lost, FAILURES_PENDING_MAX);
		lost = 0;
	}
	spin_unlock_irqrestore(&pending_lock, flags);
	return taken;
}

struct probe_call {
	struct device *dev;
	struct device_driver *drv;
};

static int really_probe_entry(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	struct probe_call *call = (struct probe_call *)ri->data;

	call->dev = (struct device *)regs->di;
	call->drv = (struct device_driver *)regs->si;
	return 0;
}

static int really_probe_return(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	struct probe_call *call = (struct probe_call *)ri->data;
	long ret = (long)regs_return_value(regs);

	if (ret <= 0 || ret == EPROBE_DEFER || !call->drv->owner)
		return 0;
	if (note_failure(call->drv->owner, ret == ENODEV || ret == ENXIO, -ret, call->drv, dev_name(call->dev)))
		failure_reported();
	return 0;
}

static int count_device(struct device *dev, void *count)
{
	++*(unsigned int *)count;
	return 0;
}

bool failure_counts(const struct failure *f)
{
	unsigned int bound = 0;

	if (!f->declined)
		return true;
	return !driver_for_each_device(f->drv, NULL, &bound, count_device) && bound == 0;
}

static struct kretprobe failure_krps[] = {
	{
		.kp.symbol_name = "really_probe", .entry_handler = really_probe_entry,
		.handler = really_probe_return, .data_size = sizeof(struct probe_call),
		.maxactive = PROBE_FAILURE_MAXACTIVE,
	},
};
static bool failure_krp_registered[ARRAY_SIZE(failure_krps)];

struct probe_set failure_probes = {
	.what = "failures",
	.krps = failure_krps, .krp_registered = failure_krp_registered, .nr_krps = ARRAY_SIZE(failure_krps),
};
