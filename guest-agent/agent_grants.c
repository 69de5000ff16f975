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
 *                  driver is the driver's, until the request is freed; the scsi_device an upper-level driver probes
 *   ATA            the ports of a host the driver registers
 *   sound          a card created for the driver's module, with its private area; the runtime of a PCM substream
 *                  of that card while it is open
 */
#define pr_fmt(fmt) "chariot_agent: " fmt

#include <linux/blk-mq.h>
#include <linux/dmapool.h>
#include <linux/kprobes.h>
#include <linux/libata.h>
#include <linux/usb.h>
#include <linux/usb/hcd.h>
#include <scsi/scsi_cmnd.h>
#include <scsi/scsi_device.h>
#include <scsi/scsi_driver.h>
#include <scsi/scsi_host.h>
#include <scsi/scsi_transport.h>
#include <sound/core.h>
#include <sound/pcm.h>

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
	struct domain *d;
	unsigned long flags;

	if (!READ_ONCE(nr_domains))
		return 1;
	spin_lock_irqsave(&state_lock, flags);
	d = domain_by_address((unsigned long)driver);
	spin_unlock_irqrestore(&state_lock, flags);
	return alloc_entry_for(ri, d, sizeof(struct usb_hcd) + driver->hcd_priv_size, 0);
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
	if (d)
		track_range(d, (unsigned long)urb, (unsigned long)urb,
			    struct_size(urb, iso_frame_desc, urb->number_of_packets));
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
	struct domain *d;
	unsigned long flags;

	if (!READ_ONCE(nr_domains))
		return 1;
	spin_lock_irqsave(&state_lock, flags);
	d = domain_of_module(sht->module);
	spin_unlock_irqrestore(&state_lock, flags);
	return alloc_entry_for(ri, d, sizeof(struct Scsi_Host) + regs->si, 0);
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

/* really_probe(dev, drv): a SCSI upper-level driver (sd) probing a scsi_device gets the device. */
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
	if (d)
		track_range(d, (unsigned long)sdev, (unsigned long)sdev,
			    sizeof(*sdev) + (sdev->host->transportt ? sdev->host->transportt->device_size : 0));
	spin_unlock_irqrestore(&state_lock, flags);
	return 0;
}

/* ---- ATA ---- */

/* ata_host_register(host, sht): the ports (each kzalloc'd, its links and devices inside) go to the template's
 * module; freed with the host. */
static int ata_host_register_pre(struct kprobe *p, struct pt_regs *regs)
{
	struct ata_host *host = (struct ata_host *)regs->di;
	const struct scsi_host_template *sht = (const struct scsi_host_template *)regs->si;
	struct domain *d;
	unsigned long flags;
	int i;

	if (!READ_ONCE(nr_domains))
		return 0;
	spin_lock_irqsave(&state_lock, flags);
	d = domain_of_module(sht->module);
	for (i = 0; d && i < host->n_ports; i++)
		if (host->ports[i])
			track_range(d, (unsigned long)host->ports[i], (unsigned long)host->ports[i],
				    sizeof(struct ata_port));
	spin_unlock_irqrestore(&state_lock, flags);
	return 0;
}

/* ---- sound ---- */

/* snd_card_new / snd_devm_card_new(parent, idx, xid, module, extra_size, card_ret) */
static int card_new_entry(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	struct domain *d;
	unsigned long flags;

	if (!READ_ONCE(nr_domains))
		return 1;
	spin_lock_irqsave(&state_lock, flags);
	d = domain_of_module((struct module *)regs->cx);
	spin_unlock_irqrestore(&state_lock, flags);
	return alloc_entry_for(ri, d, sizeof(struct snd_card) + (int)regs->r8, regs->r9);
}

static int card_new_return(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	struct alloc_call *call = (struct alloc_call *)ri->data;
	struct snd_card *card;

	if (regs_return_value(regs))
		return 0;
	card = *(struct snd_card **)call->offset;
	track_for_call(call, (unsigned long)card, (unsigned long)card, call->size);
	return 0;
}

/* snd_pcm_attach_substream(pcm, stream, file, rsubstream): the runtime (kfree'd at detach) of an open substream
 * of the driver's card. */
static int pcm_attach_entry(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	struct snd_pcm *pcm = (struct snd_pcm *)regs->di;
	struct domain *d;
	unsigned long flags;

	if (!READ_ONCE(nr_domains))
		return 1;
	spin_lock_irqsave(&state_lock, flags);
	d = domain_of_module(pcm->card->module);
	spin_unlock_irqrestore(&state_lock, flags);
	return alloc_entry_for(ri, d, sizeof(struct snd_pcm_runtime), regs->cx);
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

static struct kretprobe grant_kretprobes[] = {
	ALLOC_KRETPROBE("dma_pool_create", pool_create_entry, pool_create_return),
	ALLOC_KRETPROBE("dma_pool_alloc", pool_alloc_entry, sized_return),
	ALLOC_KRETPROBE("usb_alloc_urb", urb_alloc_entry, sized_return),
	ALLOC_KRETPROBE("usb_alloc_coherent", usb_coherent_entry, sized_return),
	ALLOC_KRETPROBE("__usb_create_hcd", hcd_create_entry, sized_return),
	ALLOC_KRETPROBE("scsi_host_alloc", scsi_host_alloc_entry, sized_return),
	ALLOC_KRETPROBE("snd_card_new", card_new_entry, card_new_return),
	ALLOC_KRETPROBE("snd_devm_card_new", card_new_entry, card_new_return),
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
	{ .symbol_name = "ata_host_register", .pre_handler = ata_host_register_pre },
};
static bool grant_kprobe_registered[ARRAY_SIZE(grant_kprobes)];

struct probe_set grant_probes = {
	.what = "grants",
	.krps = grant_kretprobes, .krp_registered = grant_kretprobe_registered, .nr_krps = ARRAY_SIZE(grant_kretprobes),
	.kps = grant_kprobes, .kp_registered = grant_kprobe_registered, .nr_kps = ARRAY_SIZE(grant_kprobes),
};
