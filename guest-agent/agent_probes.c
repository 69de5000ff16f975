// SPDX-License-Identifier: GPL-2.0
/*
 * chariot_agent's probe sets: the kprobes and kretprobes of one concern, registered together. A probe whose
 * function is missing is skipped (kernels differ), except the set's required ones. Some functions live in modules
 * that load after the agent (snd-pcm's, loaded with the sound driver): such a probe is registered when a module
 * becomes live and unregistered when its module goes, so a reload finds it again.
 */
#define pr_fmt(fmt) "chariot_agent: " fmt

#include <linux/kprobes.h>
#include <linux/module.h>

#include "agent.h"

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
	unregister_kretprobe(krp);
	krp->kp.addr = NULL;
	set->krp_registered[i] = false;
}

static void kp_drop(struct probe_set *set, size_t i)
{
	unregister_kprobe(&set->kps[i]);
	set->kp_registered[i] = false;
}

void probe_set_unregister(struct probe_set *set)
{
	size_t i;

	for (i = 0; i < set->nr_krps; i++)
		if (set->krp_registered[i])
			krp_drop(set, i);
	for (i = 0; i < set->nr_kps; i++)
		if (set->kp_registered[i])
			kp_drop(set, i);
}

int probe_set_register(struct probe_set *set)
{
	size_t i, n = 0;

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
