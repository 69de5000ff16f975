// SPDX-License-Identifier: GPL-2.0
/*
 * chariot_agent's failure reports: driver failures the kernel itself declares, which no write or exception shows.
 * A driver whose probe fails for a device it matched leaves that device without a driver: a network interface, a
 * disk or a sound card is missing. When the driver is isolated and its watch recovers, that is a fault like a
 * violation: recovery unloads it and loads it again, as after a crash. Which failures count:
 *   probe: any error but -ENODEV, -ENXIO and -EPROBE_DEFER (the driver core's "probe of X failed with error N");
 *   probe-declined: -ENODEV or -ENXIO, the driver core's way for a driver to decline a device, which many drivers
 *     (ne2k-pci) answer to any error: a failure when the driver is bound to no device at all once the probes under
 *     way have ended (sd_mod declines the CD-ROM, probed asynchronously beside the disk it takes, and is left alone);
 *   probe-empty: a probe that succeeded, but the device has no child device (no network interface, sound card,
 *     SCSI host or disk: what drivers give the kernel hangs under the device they serve) where an earlier successful
 *     probe of the same device by the same isolated driver left some, and still has none when recovery looks. A
 *     fault that makes the probe return 0 early (an inverted error check) leaves the device claimed and useless.
 *     Only a driver seen giving that device an interface is judged so: a driver that never does is left alone.
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
#define INTERFACES_SEEN_MAX 16

/* pending_lock guards the pending failures and the devices seen given interfaces */
static DEFINE_SPINLOCK(pending_lock);
static struct failure pending[FAILURES_PENDING_MAX];
static unsigned int nr_pending, lost;

/* Devices an isolated driver's successful probe left with child devices, kept across unloads and releases (the
 * oldest replaced when full). */
static struct {
	char driver[32];
	char device[32];
} interfaces_seen[INTERFACES_SEEN_MAX];
static unsigned int nr_interfaces_seen;

/* The hypervisor's id of the domain now isolating `mod`; 0 when none is. */
static unsigned long isolating_domain(const struct module *mod)
{
	unsigned long flags, hv_id = 0;
	struct domain *d;

	spin_lock_irqsave(&state_lock, flags);
	d = domain_of_module(mod);
	if (d)
		hv_id = d->hv_id;
	spin_unlock_irqrestore(&state_lock, flags);
	return hv_id;
}

/* A failure of the domain now isolating `mod`, if any; false when none is isolated (nothing to report). */
static bool note_failure(const struct module *mod, enum failure_type type, long error, struct device_driver *drv,
			 const char *device)
{
	unsigned long flags, hv_id = isolating_domain(mod);

	if (!hv_id)
		return false;
	spin_lock_irqsave(&pending_lock, flags);
	if (nr_pending < FAILURES_PENDING_MAX) {
		struct failure *f = &pending[nr_pending++];

		f->hv_id = hv_id;
		f->type = type;
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

static int count_device(struct device *dev, void *count)
{
	++*(unsigned int *)count;
	return 0;
}

static unsigned int children_of(struct device *dev)
{
	unsigned int children = 0;

	device_for_each_child(dev, &children, count_device);
	return children;
}

/* pending_lock held */
static bool interfaces_seen_before(const char *driver, const char *device)
{
	unsigned int i;

	for (i = 0; i < min(nr_interfaces_seen, (unsigned int)INTERFACES_SEEN_MAX); i++)
		if (!strcmp(interfaces_seen[i].driver, driver) && !strcmp(interfaces_seen[i].device, device))
			return true;
	return false;
}

/* A successful probe of an isolated driver: remembered when it gave the device interfaces, an empty probe when it
 * gave none and did before. */
static void judge_probe_result(struct device_driver *drv, struct device *dev)
{
	bool has_interfaces, seen;
	unsigned long flags;

	if (!isolating_domain(drv->owner))
		return;
	has_interfaces = children_of(dev) != 0;
	spin_lock_irqsave(&pending_lock, flags);
	seen = interfaces_seen_before(drv->name, dev_name(dev));
	if (has_interfaces && !seen) {
		unsigned int slot = nr_interfaces_seen++ % INTERFACES_SEEN_MAX;

		strscpy(interfaces_seen[slot].driver, drv->name, sizeof(interfaces_seen[slot].driver));
		strscpy(interfaces_seen[slot].device, dev_name(dev), sizeof(interfaces_seen[slot].device));
	}
	spin_unlock_irqrestore(&pending_lock, flags);
	if (!has_interfaces && seen && note_failure(drv->owner, FAILURE_PROBE_EMPTY, 0, drv, dev_name(dev)))
		failure_reported();
}

static int really_probe_return(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	struct probe_call *call = (struct probe_call *)ri->data;
	long ret = (long)regs_return_value(regs);

	if (ret < 0 || ret == EPROBE_DEFER || !call->drv->owner)
		return 0;
	if (ret == 0)
		judge_probe_result(call->drv, call->dev);
	else if (note_failure(call->drv->owner, ret == ENODEV || ret == ENXIO ? FAILURE_PROBE_DECLINED : FAILURE_PROBE,
			      -ret, call->drv, dev_name(call->dev)))
		failure_reported();
	return 0;
}

bool failure_counts(const struct failure *f)
{
	unsigned int bound = 0, children;
	struct device *dev;

	switch (f->type) {
	case FAILURE_PROBE_DECLINED:
		return !driver_for_each_device(f->drv, NULL, &bound, count_device) && bound == 0;
	case FAILURE_PROBE_EMPTY:
		dev = driver_find_device_by_name(f->drv, f->device);
		if (!dev)
			return false;
		children = children_of(dev);
		put_device(dev);
		return children == 0;
	default:
		return true;
	}
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
