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
 *     Only a driver seen giving that device an interface is judged so: a driver that never does is left alone;
 *   scan-empty: the same one level down, for the SCSI host a driver registered: a scan of it (scsi_scan_host, which
 *     the driver calls; usb-storage does from its own work once the device has settled) that ends with no SCSI
 *     device where an earlier scan of a host of the same driver on the same parent device found some: its
 *     transport lost every command, and the disk is missing;
 *   open: bringing the driver's network interface up failed (__dev_open: the driver's ndo_open or address check
 *     returned an error, "RTNETLINK answers: ..." to the administrator);
 *   pcm-timeout: a read or write of the driver's sound card's PCM stream failed with -EIO, which ALSA returns only
 *     when the stream did not move for the time the whole buffer takes to play ("DMA or IRQ trouble?"): the card's
 *     interrupts stopped reaching ALSA, or its position is stuck.
 * Each is seen from the kernel's side (return probes on really_probe, scsi_scan_host, __dev_open and snd-pcm's
 * __snd_pcm_lib_xfer, registered when snd-pcm loads), so nothing is placed in the driver's code.
 *
 * The return handlers run in any context: they note the failure of the domain that was isolated then (a later
 * domain of the same module is another load) and let the recovery work take it (agent_recovery.c).
 */
#define pr_fmt(fmt) "chariot_agent: " fmt

#include <linux/device.h>
#include <linux/errno.h>
#include <linux/kprobes.h>
#include <linux/netdevice.h>
#include <scsi/scsi_host.h>
#include <sound/core.h>
#include <sound/pcm.h>

#include "agent.h"

#define FAILURES_PENDING_MAX 8
#define FAILURE_MAXACTIVE 8 /* calls running at once (the driver core probes asynchronously at times) */
#define OUTPUTS_SEEN_MAX 16

/* pending_lock guards the pending failures and the outputs seen */
static DEFINE_SPINLOCK(pending_lock);
static struct failure pending[FAILURES_PENDING_MAX];
static unsigned int nr_pending, lost;

/* What isolated drivers were seen giving the kernel for a device: a successful probe child devices, a scan of
 * their SCSI host SCSI devices; kept across unloads and releases (the oldest replaced when full). */
static struct {
	enum failure_type missing; /* the failure it is when a later call gives nothing */
	char driver[32];
	char device[32];
} outputs_seen[OUTPUTS_SEEN_MAX];
static unsigned int nr_outputs_seen;

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
static bool output_seen_before(enum failure_type missing, const char *driver, const char *device)
{
	unsigned int i;

	for (i = 0; i < min(nr_outputs_seen, (unsigned int)OUTPUTS_SEEN_MAX); i++)
		if (outputs_seen[i].missing == missing && !strcmp(outputs_seen[i].driver, driver) &&
		    !strcmp(outputs_seen[i].device, device))
			return true;
	return false;
}

/* A call of an isolated driver that should give the kernel something for a device (`driver` names the driver,
 * `device` the device): remembered when it `gave`, a failure `missing` when it gave nothing and did before. */
static void judge_output(const struct module *owner, enum failure_type missing, struct device_driver *drv,
			 const char *driver, const char *device, bool gave)
{
	unsigned long flags;
	bool seen;

	if (!isolating_domain(owner))
		return;
	spin_lock_irqsave(&pending_lock, flags);
	seen = output_seen_before(missing, driver, device);
	if (gave && !seen) {
		unsigned int slot = nr_outputs_seen++ % OUTPUTS_SEEN_MAX;

		outputs_seen[slot].missing = missing;
		strscpy(outputs_seen[slot].driver, driver, sizeof(outputs_seen[slot].driver));
		strscpy(outputs_seen[slot].device, device, sizeof(outputs_seen[slot].device));
	}
	spin_unlock_irqrestore(&pending_lock, flags);
	if (!gave && seen && note_failure(owner, missing, 0, drv, device))
		failure_reported();
}

static int really_probe_return(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	struct probe_call *call = (struct probe_call *)ri->data;
	long ret = (long)regs_return_value(regs);

	if (ret < 0 || ret == EPROBE_DEFER || !call->drv->owner)
		return 0;
	if (ret == 0)
		judge_output(call->drv->owner, FAILURE_PROBE_EMPTY, call->drv, call->drv->name, dev_name(call->dev),
			     children_of(call->dev) != 0);
	else if (note_failure(call->drv->owner, ret == ENODEV || ret == ENXIO ? FAILURE_PROBE_DECLINED : FAILURE_PROBE,
			      -ret, call->drv, dev_name(call->dev)))
		failure_reported();
	return 0;
}

/* The entry handlers of the probes below keep their function's first argument. */
static int first_argument_entry(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	*(void **)ri->data = (void *)regs->di;
	return 0;
}

static int scsi_scan_host_return(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	struct Scsi_Host *shost = *(struct Scsi_Host **)ri->data;
	struct module *owner = shost->hostt->module;
	struct device *parent = shost->shost_gendev.parent;
	unsigned long flags;
	bool found;

	if (!owner || !parent)
		return 0;
	spin_lock_irqsave(shost->host_lock, flags);
	found = !list_empty(&shost->__devices);
	spin_unlock_irqrestore(shost->host_lock, flags);
	judge_output(owner, FAILURE_SCAN_EMPTY, NULL, module_name(owner), dev_name(parent), found);
	return 0;
}

static int dev_open_return(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	struct net_device *ndev = *(struct net_device **)ri->data;
	int ret = (int)regs_return_value(regs); /* an int: the upper half of rax is not part of it */
	struct device *parent = ndev->dev.parent;

	/* rtnl_lock held: the interface's device stays bound meanwhile */
	if (ret < 0 && parent && parent->driver && parent->driver->owner &&
	    note_failure(parent->driver->owner, FAILURE_OPEN, ret, NULL, dev_name(parent)))
		failure_reported();
	return 0;
}

static int pcm_xfer_return(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	struct snd_pcm_substream *substream = *(struct snd_pcm_substream **)ri->data;
	struct snd_card *card = substream->pcm->card;

	if ((long)regs_return_value(regs) == -EIO && card->module &&
	    note_failure(card->module, FAILURE_PCM_TIMEOUT, -EIO, NULL, card->dev ? dev_name(card->dev) : card->id))
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
		.maxactive = FAILURE_MAXACTIVE,
	},
	{
		.kp.symbol_name = "scsi_scan_host", .entry_handler = first_argument_entry,
		.handler = scsi_scan_host_return, .data_size = sizeof(void *), .maxactive = FAILURE_MAXACTIVE,
	},
	{
		.kp.symbol_name = "__dev_open", .entry_handler = first_argument_entry,
		.handler = dev_open_return, .data_size = sizeof(void *), .maxactive = FAILURE_MAXACTIVE,
	},
	{
		.kp.symbol_name = "__snd_pcm_lib_xfer", .entry_handler = first_argument_entry,
		.handler = pcm_xfer_return, .data_size = sizeof(void *), .maxactive = FAILURE_MAXACTIVE,
	},
};
static bool failure_krp_registered[ARRAY_SIZE(failure_krps)];

struct probe_set failure_probes = {
	.what = "failures",
	.krps = failure_krps, .krp_registered = failure_krp_registered, .nr_krps = ARRAY_SIZE(failure_krps),
};
