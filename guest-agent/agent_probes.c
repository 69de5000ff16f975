// SPDX-License-Identifier: GPL-2.0
/*
 * chariot_agent's probe sets: the kprobes and kretprobes of one concern, registered together. A probe whose
 * function is missing is skipped (kernels differ), except the set's required ones. Some functions live in modules
 * that load after the agent (snd-pcm's, loaded with the sound driver): such a probe is registered when a module
 * becomes live and unregistered when its module goes, so a reload finds it again.
 *
 * While a set is registered, kprobe optimization is off. An optimized kprobe (a jump to a detour instead of int3)
 * and a kretprobe's return run their handler with interrupts enabled, and an interrupt taken meanwhile finds this
 * CPU's kprobe busy: every probe its handlers hit is skipped as a recursion. An allocation missed is a false
 * violation (most likely what denied ne2k_pci's write to a receive skb 8390's interrupt had allocated, once in a
 * no-fault campaign entry); a free missed leaves a stale interval. int3 probes run their handlers with interrupts
 * off. A short window is left: the return of a call the probes attributed to a domain runs with interrupts on
 * until its handler takes state_lock.
 */
#define pr_fmt(fmt) "chariot_agent: " fmt

#include <linux/fs.h>
#include <linux/kprobes.h>
#include <linux/module.h>

#include "agent.h"

#define OPTIMIZATION_SYSCTL "/proc/sys/debug/kprobes-optimization"

static int sets_registered;
static char optimization_saved[8]; /* the sysctl's value before the first set; "" if it could not be read */

/* Reads (len - 1 bytes at most, NUL-terminated) or writes the sysctl, as an administrator would set it. */
static int optimization_sysctl(char *buf, size_t len, bool write)
{
	struct file *f = filp_open(OPTIMIZATION_SYSCTL, write ? O_WRONLY : O_RDONLY, 0);
	loff_t pos = 0;
	ssize_t n;

	if (IS_ERR(f))
		return PTR_ERR(f);
	n = write ? kernel_write(f, buf, len, &pos) : kernel_read(f, buf, len - 1, &pos);
	filp_close(f, NULL);
	if (n < 0)
		return n;
	if (!write)
		buf[n] = '\0';
	return 0;
}

static void optimization_off(void)
{
	int err;

	if (!IS_ENABLED(CONFIG_OPTPROBES))
		return;
	err = optimization_sysctl(optimization_saved, sizeof(optimization_saved), false);
	if (!err)
		err = optimization_sysctl("0\n", 2, true);
	if (err) {
		optimization_saved[0] = '\0';
		pr_warn("cannot turn kprobe optimization off (%s: %d): a probe hit by an interrupt taken while another "
			"probe's handler runs is skipped\n", OPTIMIZATION_SYSCTL, err);
	}
}

static void optimization_restore(void)
{
	if (optimization_saved[0] && optimization_sysctl(optimization_saved, strlen(optimization_saved), true))
		pr_warn("cannot restore %s to %s\n", OPTIMIZATION_SYSCTL, optimization_saved);
}

static bool krp_try(struct probe_set *set, size_t i)
{
	if (register_kretprobe(&set->krps[i]))
		return false;
	set->krp_registered[i] = true;
	return true;
}

static bool kp_try(struct probe_set *set, size_t i)
{
	/* register_kprobe fills in .addr: a retry must look the symbol up again */
	set->kps[i].addr = NULL;
	if (register_kprobe(&set->kps[i]))
		return false;
	set->kp_registered[i] = true;
	return true;
}

static void krp_drop(struct probe_set *set, size_t i)
{
	struct kretprobe *krp = &set->krps[i];

	if (krp->nmissed)
		pr_warn("%s: %d calls missed (maxactive %d)\n", krp->kp.symbol_name, krp->nmissed, krp->maxactive);
	if (krp->kp.nmissed)
		pr_warn("%s: %lu calls missed while another probe's handler ran\n", krp->kp.symbol_name,
			krp->kp.nmissed);
	unregister_kretprobe(krp);
	krp->kp.addr = NULL;
	set->krp_registered[i] = false;
}

static void kp_drop(struct probe_set *set, size_t i)
{
	if (set->kps[i].nmissed)
		pr_warn("%s: %lu calls missed while another probe's handler ran\n", set->kps[i].symbol_name,
			set->kps[i].nmissed);
	unregister_kprobe(&set->kps[i]);
	set->kp_registered[i] = false;
}

void probe_set_unregister(struct probe_set *set)
{
	size_t i;

	set->active = false;
	for (i = 0; i < set->nr_krps; i++)
		if (set->krp_registered[i])
			krp_drop(set, i);
	for (i = 0; i < set->nr_kps; i++)
		if (set->kp_registered[i])
			kp_drop(set, i);
	if (!--sets_registered)
		optimization_restore();
}

int probe_set_register(struct probe_set *set)
{
	size_t i, n = 0;

	if (!sets_registered++)
		optimization_off();
	set->active = true;

	for (i = 0; i < set->nr_krps; i++)
		n += krp_try(set, i);
	for (i = 0; i < set->nr_kps; i++) {
		if (kp_try(set, i)) {
			n++;
		} else if (i < set->required_kps) {
			pr_err("%s: cannot probe %s\n", set->what, set->kps[i].symbol_name);
			probe_set_unregister(set);
			return -ENOENT;
		}
	}
	pr_info("%s probes: %zu of %zu registered (the others wait for their module or are absent)\n", set->what, n,
		set->nr_krps + set->nr_kps);
	return 0;
}

void probe_set_module_live(struct probe_set *set)
{
	size_t i;

	if (!set->active)
		return;
	for (i = 0; i < set->nr_krps; i++)
		if (!set->krp_registered[i] && krp_try(set, i))
			pr_info("%s: probing %s\n", set->what, set->krps[i].kp.symbol_name);
	for (i = 0; i < set->nr_kps; i++)
		if (!set->kp_registered[i] && kp_try(set, i))
			pr_info("%s: probing %s\n", set->what, set->kps[i].symbol_name);
}

void probe_set_module_going(struct probe_set *set, struct module *mod)
{
	size_t i;

	for (i = 0; i < set->nr_krps; i++)
		if (set->krp_registered[i] && within_module((unsigned long)set->krps[i].kp.addr, mod))
			krp_drop(set, i);
	for (i = 0; i < set->nr_kps; i++)
		if (set->kp_registered[i] && within_module((unsigned long)set->kps[i].addr, mod))
			kp_drop(set, i);
}
