// SPDX-License-Identifier: GPL-2.0
/*
 * chariot_agent's grants: kernel objects a subsystem hands to a driver, which it may write although it did not
 * allocate them. Each grant is attributed to the driver either by the caller (the driver called the function
 * that made or handed over the object) or by an owner the object names (a SCSI host template's, a sound card's or
 * a USB host controller driver's module), and ends when the object is freed (the heap table's free probes) or
 * handed back.
 *   DMA pools      dma_pool_alloc by the driver: the pool's block size (from dma_pool_create)
 *   USB            usb_alloc_urb and usb_alloc_coherent by the driver; a host controller driver's usb_hcd with
 *                  its private area; the urbs it queues, from usb_hcd_link_urb_to_ep to usb_hcd_unlink_urb_from_ep
 *   SCSI           a host whose template is the driver's, with its private area; each command (request, scsi_cmnd
 *                  and the low-level driver's area, sense buffer) queued to a device whose host or upper-level
 *                  driver is the driver's, until the request is freed; the scsi_device an upper-level driver probes,
 *                  its request queue, the gendisk it allocates
 *   ATA            a host the driver prepares or allocates, with its ports
 *   sound          a card created for the driver's module, with its private area, its PCM and raw MIDI devices;
 *                  the runtime of a PCM substream of that card while it is open
 *   kthreads       the __state of a kernel thread the driver creates, until its task is freed
 *   every domain   the preempt counter of each possible CPU, for the domain's lifetime (grant_domain_globals)
 * Delegations: a kernel function that allocates an object and hands it to the driver's callbacks before it
 * returns (scsi_alloc_sdev calls the host's slave_alloc), or allocates it for the driver that called it (8390's
 * __alloc_ei_netdev), makes the allocations it calls itself the driver's.
 */
#define pr_fmt(fmt) "chariot_agent: " fmt

#include <linux/blk-mq.h>
#include <linux/blkdev.h>
#include <linux/dmapool.h>
#include <linux/kprobes.h>
#include <linux/kthread.h>
#include <linux/libata.h>
#include <linux/percpu.h>
#include <linux/preempt.h>
#include <linux/usb.h>
#include <linux/usb/hcd.h>
#include <scsi/scsi_cmnd.h>
#include <scsi/scsi_device.h>
#include <scsi/scsi_driver.h>
#include <scsi/scsi_host.h>
#include <scsi/scsi_transport.h>
#include <sound/core.h>
#include <sound/pcm.h>
#include <sound/rawmidi.h>

#include "agent.h"

#define DMA_POOLS_MAX 64

/* ---- DMA pools ---- */

/* The block size of each pool created while the agent runs (dma_pool is opaque): what dma_pool_create rounds. */
static struct {
	struct dma_pool *pool;
	size_t block;
} pools[DMA_POOLS_MAX];

static size_t pool_block_size(struct dma_pool *pool)
{
	size_t i;

	for (i = 0; i < DMA_POOLS_MAX; i++)
		if (READ_ONCE(pools[i].pool) == pool)
			return pools[i].block;
	return 0;
}

/* dma_pool_create(name, dev, size, align, boundary): recorded for every caller (a pool may be shared). */
static int pool_create_entry(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	unsigned long *block = (unsigned long *)ri->data;
	size_t size = regs->dx, align = regs->cx ? regs->cx : 1;

	*block = ALIGN(max_t(size_t, size, 4), align);
	return 0;
}

static int pool_create_return(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	struct dma_pool *pool = (struct dma_pool *)regs_return_value(regs);
	unsigned long flags;
	size_t i;

	if (!pool)
		return 0;
	spin_lock_irqsave(&state_lock, flags);
	for (i = 0; i < DMA_POOLS_MAX; i++)
		if (!pools[i].pool) {
			pools[i].block = *(unsigned long *)ri->data;
			WRITE_ONCE(pools[i].pool, pool);
			break;
		}
	spin_unlock_irqrestore(&state_lock, flags);
	if (i == DMA_POOLS_MAX)
		pr_warn_ratelimited("DMA pool table full: blocks of pool %p are not authorized\n", pool);
	return 0;
}

/* dma_pool_destroy(pool) */
static int pool_destroy_pre(struct kprobe *p, struct pt_regs *regs)
{
	unsigned long flags;
	size_t i;

	spin_lock_irqsave(&state_lock, flags);
	for (i = 0; i < DMA_POOLS_MAX; i++)
		if (pools[i].pool == (struct dma_pool *)regs->di)
			WRITE_ONCE(pools[i].pool, NULL);
	spin_unlock_irqrestore(&state_lock, flags);
	return 0;
}

/* dma_pool_alloc(pool, flags, handle) */
static int pool_alloc_entry(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	size_t block = pool_block_size((struct dma_pool *)regs->di);

	return block ? alloc_entry(ri, entry_return_address(regs), NULL, block, 0) : 1;
}

/* The return value is the object and the key; call->size its extent (kretprobe returns share this). */
static int sized_return(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	struct alloc_call *call = (struct alloc_call *)ri->data;
	unsigned long obj = regs_return_value(regs);

	if (obj && !IS_ERR_VALUE(obj))
		track_for_call(call, obj, obj, call->size);
	return 0;
}

/* ---- USB ---- */

/* usb_alloc_urb(iso_packets, flags): kmalloc'd by usbcore for the driver. */
static int urb_alloc_entry(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	return alloc_entry(ri, entry_return_address(regs), NULL,
			   struct_size((struct urb *)NULL, iso_frame_desc, regs->di), 0);
}

/* usb_alloc_coherent(dev, size, flags, dma): from the host controller's DMA pools or DMA-coherent memory. */
static int usb_coherent_entry(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	return alloc_entry(ri, entry_return_address(regs), NULL, regs->si, 0);
}

/* __usb_create_hcd(driver, sysdev, dev, bus_name, primary_hcd): the hc_driver is the module's data. */
static int hcd_create_entry(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	const struct hc_driver *driver = (const struct hc_driver *)regs->di;

	return alloc_entry_for_data(ri, (unsigned long)driver, sizeof(struct usb_hcd) + driver->hcd_priv_size, 0);
}

/* usb_hcd_link_urb_to_ep(hcd, urb), called by a host controller driver queueing the urb. */
static int urb_link_pre(struct kprobe *p, struct pt_regs *regs)
{
	struct urb *urb = (struct urb *)regs->si;
	struct domain *d;
	unsigned long flags;

	if (!READ_ONCE(nr_domains))
		return 0;
	spin_lock_irqsave(&state_lock, flags);
	d = domain_by_text(entry_return_address(regs));
	if (d) {
		track_range(d, (unsigned long)urb, (unsigned long)urb,
			    struct_size(urb, iso_frame_desc, urb->number_of_packets));
		/* Host controller drivers keep the data toggles in the device and their queue in the endpoint. The
		 * toggles go with the device (kfree'd); an endpoint's hcpriv outlives its grant until the domain goes. */
		track_range(d, (unsigned long)urb->dev, (unsigned long)urb->dev->toggle, sizeof(urb->dev->toggle));
		track_range(d, (unsigned long)&urb->ep->hcpriv, (unsigned long)&urb->ep->hcpriv,
			    sizeof(urb->ep->hcpriv));
	}
	spin_unlock_irqrestore(&state_lock, flags);
	return 0;
}

/* usb_hcd_unlink_urb_from_ep(hcd, urb): the host controller driver is done with it. */
static int urb_unlink_pre(struct kprobe *p, struct pt_regs *regs)
{
	struct domain *d;
	unsigned long flags;

	if (!READ_ONCE(nr_domains))
		return 0;
	spin_lock_irqsave(&state_lock, flags);
	d = domain_by_text(entry_return_address(regs));
	if (d)
		ungrant(d, regs->si);
	spin_unlock_irqrestore(&state_lock, flags);
	return 0;
}

/* ---- SCSI ---- */

/* scsi_host_alloc(sht, privsize): the Scsi_Host and its private area (hostdata), for the template's module. */
static int scsi_host_alloc_entry(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	const struct scsi_host_template *sht = (const struct scsi_host_template *)regs->di;

	return alloc_entry_for_module(ri, sht->module, sizeof(struct Scsi_Host) + regs->si, 0);
}

static void grant_command(struct domain *d, struct request *rq, const struct scsi_host_template *sht)
{
	struct scsi_cmnd *cmd = blk_mq_rq_to_pdu(rq);

	track_range(d, (unsigned long)rq, (unsigned long)rq,
		    sizeof(struct request) + sizeof(struct scsi_cmnd) + sht->cmd_size);
	if (cmd->sense_buffer)
		track_range(d, (unsigned long)cmd->sense_buffer, (unsigned long)cmd->sense_buffer,
			    SCSI_SENSE_BUFFERSIZE);
}

/* scsi_queue_rq(hctx, bd): the command goes to the upper-level driver (its init_command) and the host's. */
static int scsi_queue_rq_pre(struct kprobe *p, struct pt_regs *regs)
{
	struct request *rq = ((const struct blk_mq_queue_data *)regs->si)->rq;
	struct scsi_device *sdev = rq->q->queuedata;
	struct device_driver *uld = sdev->sdev_gendev.driver;
	struct domain *d;
	unsigned long flags;

	if (!READ_ONCE(nr_domains))
		return 0;
	spin_lock_irqsave(&state_lock, flags);
	d = domain_of_module(sdev->host->hostt->module);
	if (d)
		grant_command(d, rq, sdev->host->hostt);
	d = uld ? domain_of_module(uld->owner) : NULL;
	if (d)
		grant_command(d, rq, sdev->host->hostt);
	spin_unlock_irqrestore(&state_lock, flags);
	return 0;
}

/* blk_mq_free_request(rq): the command's grants end (requests are reused: granted again when queued). */
static int request_free_pre(struct kprobe *p, struct pt_regs *regs)
{
	struct request *rq = (struct request *)regs->di;

	object_freed((unsigned long)rq);
	return 0;
}

/* really_probe(dev, drv): a SCSI upper-level driver (sd) probing a scsi_device gets the device and its request
 * queue (its limits are set inline). */
static int really_probe_pre(struct kprobe *p, struct pt_regs *regs)
{
	struct device *dev = (struct device *)regs->di;
	struct device_driver *drv = (struct device_driver *)regs->si;
	struct scsi_device *sdev;
	struct domain *d;
	unsigned long flags;

	if (!READ_ONCE(nr_domains) || !scsi_is_sdev_device(dev))
		return 0;
	sdev = to_scsi_device(dev);
	spin_lock_irqsave(&state_lock, flags);
	d = domain_of_module(drv->owner);
	if (d) {
		track_range(d, (unsigned long)sdev, (unsigned long)sdev,
			    sizeof(*sdev) + (sdev->host->transportt ? sdev->host->transportt->device_size : 0));
		if (sdev->request_queue)
			track_range(d, (unsigned long)sdev->request_queue, (unsigned long)sdev->request_queue,
				    sizeof(struct request_queue));
	}
	spin_unlock_irqrestore(&state_lock, flags);
	return 0;
}

/* __alloc_disk_node(q, node, lkclass), blk_mq_alloc_disk_for_queue(q, lkclass) called by the driver: the
 * gendisk (kfree'd at release). */
static int disk_alloc_entry(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	return alloc_entry(ri, entry_return_address(regs), NULL, sizeof(struct gendisk), 0);
}

/* ---- ATA ---- */

/* The host (devres memory, with its port pointers) and its ports (each kzalloc'd, links and devices inside). */
static void grant_ata_host(struct alloc_call *call, struct ata_host *host)
{
	int i;

	track_for_call(call, (unsigned long)host, (unsigned long)host,
		       sizeof(*host) + host->n_ports * sizeof(host->ports[0]));
	for (i = 0; i < host->n_ports; i++)
		if (host->ports[i])
			track_for_call(call, (unsigned long)host->ports[i], (unsigned long)host->ports[i],
				       sizeof(struct ata_port));
}

/* ata_host_alloc(dev, max_ports), ata_host_alloc_pinfo(dev, ppi, n_ports) called by the driver */
static int ata_host_alloc_entry(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	return alloc_entry(ri, entry_return_address(regs), NULL, 0, 0);
}

static int ata_host_alloc_return(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	struct ata_host *host = (struct ata_host *)regs_return_value(regs);

	if (host)
		grant_ata_host((struct alloc_call *)ri->data, host);
	return 0;
}

/* ata_pci_sff_prepare_host / ata_pci_bmdma_prepare_host(pdev, ppi, r_host) called by the driver */
static int ata_prepare_host_entry(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	return alloc_entry(ri, entry_return_address(regs), NULL, 0, regs->dx);
}

static int ata_prepare_host_return(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	struct alloc_call *call = (struct alloc_call *)ri->data;

	if (!regs_return_value(regs))
		grant_ata_host(call, *(struct ata_host **)call->offset);
	return 0;
}

/* ---- sound ---- */

/* snd_card_new / snd_devm_card_new(parent, idx, xid, module, extra_size, card_ret) */
static int card_new_entry(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	return alloc_entry_for_module(ri, (struct module *)regs->cx, sizeof(struct snd_card) + (int)regs->r8,
				      regs->r9);
}

/* A function returning 0 and the object through the pointer the entry saved in call->offset. */
static int out_param_return(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	struct alloc_call *call = (struct alloc_call *)ri->data;
	unsigned long obj;

	if (regs_return_value(regs))
		return 0;
	obj = *(unsigned long *)call->offset;
	track_for_call(call, obj, obj, call->size);
	return 0;
}

/* snd_pcm_new(card, id, device, playback_count, capture_count, rpcm) */
static int pcm_new_entry(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	return alloc_entry_for_module(ri, ((struct snd_card *)regs->di)->module, sizeof(struct snd_pcm), regs->r9);
}

/* snd_rawmidi_new(card, id, device, output_count, input_count, rrawmidi) */
static int rawmidi_new_entry(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	return alloc_entry_for_module(ri, ((struct snd_card *)regs->di)->module, sizeof(struct snd_rawmidi),
				      regs->r9);
}

/* snd_pcm_attach_substream(pcm, stream, file, rsubstream): the runtime (kfree'd at detach) of an open substream
 * of the driver's card. */
static int pcm_attach_entry(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	return alloc_entry_for_module(ri, ((struct snd_pcm *)regs->di)->card->module, sizeof(struct snd_pcm_runtime),
				      regs->cx);
}

static int pcm_attach_return(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	struct alloc_call *call = (struct alloc_call *)ri->data;
	struct snd_pcm_substream *substream;

	if (regs_return_value(regs))
		return 0;
	substream = *(struct snd_pcm_substream **)call->offset;
	if (substream->runtime)
		track_for_call(call, (unsigned long)substream->runtime, (unsigned long)substream->runtime,
			       call->size);
	return 0;
}

/* ---- kernel threads, the preempt counter ---- */

/* kthread_create_on_node(threadfn, data, node, namefmt, ...), kthread_create_on_cpu(threadfn, data, cpu, namefmt)
 * called by the driver (kthread_run expands in its code): the thread runs the driver's code and sets its own state
 * (set_current_state, inline), usb-storage's control thread on its way out. Its task's __state, keyed by the task,
 * which free_task hands to kmem_cache_free (whose probe ends the grant). */
static int kthread_create_entry(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	return alloc_entry(ri, entry_return_address(regs), NULL, sizeof_field(struct task_struct, __state), 0);
}

static int kthread_create_return(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	struct alloc_call *call = (struct alloc_call *)ri->data;
	struct task_struct *task = (struct task_struct *)regs_return_value(regs);

	if (!IS_ERR_OR_NULL(task))
		track_for_call(call, (unsigned long)task, (unsigned long)&task->__state, call->size);
	return 0;
}

/* Every domain, for its lifetime: the preempt counter of each possible CPU (x86's __preempt_count, a per-CPU int).
 * local_bh_disable, preempt_disable and their enable halves' fast paths add to it inline (e1000_down does); a
 * denied add leaves the count the kernel's own sub then breaks ("scheduling while atomic"). */
void grant_domain_globals(struct domain *d)
{
	int cpu;

	for_each_possible_cpu(cpu) {
		unsigned long count = (unsigned long)per_cpu_ptr(&__preempt_count, cpu);

		track_range(d, count, count, sizeof(int));
	}
}

/* ---- delegations ---- */

#define DELEGATIONS_MAX 8

/* A kernel function under way on behalf of domain `domain`, in task `task`. */
static struct {
	struct task_struct *task;
	struct domain *domain;
	unsigned long func;
} delegations[DELEGATIONS_MAX];
static int nr_delegations;

/* The domain an allocation called from `caller` is made for, if a delegation of this task is under way and the
 * caller is the delegating function itself (state_lock held). */
struct domain *delegated_domain(unsigned long caller)
{
	unsigned long size, offset;
	int i;

	if (!READ_ONCE(nr_delegations) || !lookup_size_offset_p || !lookup_size_offset_p(caller, &size, &offset))
		return NULL;
	for (i = 0; i < DELEGATIONS_MAX; i++)
		if (delegations[i].task == current && delegations[i].func == caller - offset &&
		    delegations[i].domain->in_use)
			return delegations[i].domain;
	return NULL;
}

/* A delegation for the domain find(key) names, if there is one and a slot is free: 0 keeps the return probe. */
static int delegation_start(struct kretprobe_instance *ri, struct domain *(*find)(unsigned long key),
			    unsigned long key)
{
	int *slot = (int *)ri->data;
	struct domain *d;
	unsigned long flags;
	int i;

	if (!key || !READ_ONCE(nr_domains))
		return 1;
	spin_lock_irqsave(&state_lock, flags);
	d = find(key);
	for (i = 0; d && i < DELEGATIONS_MAX && delegations[i].task; i++)
		;
	if (d && i < DELEGATIONS_MAX) {
		delegations[i].task = current;
		delegations[i].domain = d;
		delegations[i].func = (unsigned long)get_kretprobe(ri)->kp.addr;
		nr_delegations++;
		*slot = i;
	}
	spin_unlock_irqrestore(&state_lock, flags);
	return d && i < DELEGATIONS_MAX ? 0 : 1;
}

static int delegation_end(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	unsigned long flags;

	spin_lock_irqsave(&state_lock, flags);
	delegations[*(int *)ri->data].task = NULL;
	nr_delegations--;
	spin_unlock_irqrestore(&state_lock, flags);
	return 0;
}

static struct domain *module_key_domain(unsigned long mod)
{
	return domain_of_module((const struct module *)mod);
}

/* The module of the host template of the SCSI host `dev` is (or is below). */
static const struct module *shost_module(struct device *dev)
{
	struct Scsi_Host *shost = dev_to_shost(dev);

	return shost ? shost->hostt->module : NULL;
}

/* scsi_alloc_sdev(starget, lun, hostdata): allocates the scsi_device and calls the host's slave_alloc. */
static int scsi_alloc_sdev_entry(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	return delegation_start(ri, module_key_domain,
				(unsigned long)shost_module(&((struct scsi_target *)regs->di)->dev));
}

/* scsi_alloc_target(parent, channel, id): allocates the scsi_target and calls the host's target_alloc. */
static int scsi_alloc_target_entry(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	return delegation_start(ri, module_key_domain, (unsigned long)shost_module((struct device *)regs->di));
}

/* __alloc_ei_netdev(size) (8390, alloc_ei_netdev's body) called by the driver: the net_device it allocates
 * (alloc_netdev_mqs, granted by the net_device probe) and whose ops it sets is the calling driver's. */
static int ei_netdev_alloc_entry(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	return delegation_start(ri, domain_by_text, entry_return_address(regs));
}

#define DELEGATION_KRETPROBE(sym, entry)                                                                   \
	{                                                                                                  \
		.kp.symbol_name = sym, .entry_handler = entry, .handler = delegation_end,                  \
		.data_size = sizeof(int), .maxactive = DELEGATIONS_MAX,                                     \
	}

static struct kretprobe grant_kretprobes[] = {
	ALLOC_KRETPROBE("dma_pool_create", pool_create_entry, pool_create_return),
	ALLOC_KRETPROBE("dma_pool_alloc", pool_alloc_entry, sized_return),
	ALLOC_KRETPROBE("usb_alloc_urb", urb_alloc_entry, sized_return),
	ALLOC_KRETPROBE("usb_alloc_coherent", usb_coherent_entry, sized_return),
	ALLOC_KRETPROBE("__usb_create_hcd", hcd_create_entry, sized_return),
	ALLOC_KRETPROBE("scsi_host_alloc", scsi_host_alloc_entry, sized_return),
	ALLOC_KRETPROBE("__alloc_disk_node", disk_alloc_entry, sized_return),
	ALLOC_KRETPROBE("blk_mq_alloc_disk_for_queue", disk_alloc_entry, sized_return),
	ALLOC_KRETPROBE("snd_card_new", card_new_entry, out_param_return),
	ALLOC_KRETPROBE("snd_devm_card_new", card_new_entry, out_param_return),
	ALLOC_KRETPROBE("snd_pcm_new", pcm_new_entry, out_param_return),
	ALLOC_KRETPROBE("snd_rawmidi_new", rawmidi_new_entry, out_param_return),
	ALLOC_KRETPROBE("ata_host_alloc", ata_host_alloc_entry, ata_host_alloc_return),
	ALLOC_KRETPROBE("ata_host_alloc_pinfo", ata_host_alloc_entry, ata_host_alloc_return),
	ALLOC_KRETPROBE("ata_pci_sff_prepare_host", ata_prepare_host_entry, ata_prepare_host_return),
	ALLOC_KRETPROBE("ata_pci_bmdma_prepare_host", ata_prepare_host_entry, ata_prepare_host_return),
	DELEGATION_KRETPROBE("scsi_alloc_sdev", scsi_alloc_sdev_entry),
	DELEGATION_KRETPROBE("scsi_alloc_target", scsi_alloc_target_entry),
	DELEGATION_KRETPROBE("__alloc_ei_netdev", ei_netdev_alloc_entry),
	ALLOC_KRETPROBE("kthread_create_on_node", kthread_create_entry, kthread_create_return),
	ALLOC_KRETPROBE("kthread_create_on_cpu", kthread_create_entry, kthread_create_return),
	ALLOC_KRETPROBE("snd_pcm_attach_substream", pcm_attach_entry, pcm_attach_return),
};
static bool grant_kretprobe_registered[ARRAY_SIZE(grant_kretprobes)];

static struct kprobe grant_kprobes[] = {
	{ .symbol_name = "dma_pool_destroy", .pre_handler = pool_destroy_pre },
	{ .symbol_name = "dma_pool_free", .pre_handler = free_rsi_pre },
	{ .symbol_name = "usb_free_coherent", .pre_handler = free_rdx_pre },
	{ .symbol_name = "usb_hcd_link_urb_to_ep", .pre_handler = urb_link_pre },
	{ .symbol_name = "usb_hcd_unlink_urb_from_ep", .pre_handler = urb_unlink_pre },
	{ .symbol_name = "scsi_queue_rq", .pre_handler = scsi_queue_rq_pre },
	{ .symbol_name = "blk_mq_free_request", .pre_handler = request_free_pre },
	{ .symbol_name = "really_probe", .pre_handler = really_probe_pre },
};
static bool grant_kprobe_registered[ARRAY_SIZE(grant_kprobes)];

struct probe_set grant_probes = {
	.what = "grants",
	.krps = grant_kretprobes, .krp_registered = grant_kretprobe_registered, .nr_krps = ARRAY_SIZE(grant_kretprobes),
	.kps = grant_kprobes, .kp_registered = grant_kprobe_registered, .nr_kps = ARRAY_SIZE(grant_kprobes),
};
