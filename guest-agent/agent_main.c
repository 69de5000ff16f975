// SPDX-License-Identifier: GPL-2.0
/*
 * chariot_agent: the in-guest half of Chariot driver isolation (first slice: heap and module data).
 *
 * /proc/chariot takes one command per write:
 *   isolate <module> [enforce|audit]   create a protection domain for a loaded module: its core text is the
 *                                      driver code, its writable data+bss its first authorization interval
 *   release <module>                   destroy the domain and forget its heap
 * and reads back one line per domain:
 *   domain=<id> module=<name> policy=<enforce|audit> intervals=<n> violations=<v> allowed=<a>
 *
 * Heap tracking is agent_heap.c's (see there).
 *
 * Not covered yet (see the report / docs): stacks, per-CPU data, ioremap'ed memory, memory granted by the kernel
 * through driver entry points, objects the driver allocated before it was isolated, frees through kfree_bulk /
 * kmem_cache_free_bulk / batched kfree_rcu, allocations whose call is a tail call out of the driver.
 *
 * find_module() and module_mutex are not exported in 6.1: both are found through kallsyms_lookup_name(), whose
 * address a kprobe on it reveals.
 */
#define pr_fmt(fmt) "chariot_agent: " fmt

#include <linux/ctype.h>
#include <linux/kprobes.h>
#include <linux/proc_fs.h>
#include <linux/seq_file.h>
#include <linux/string.h>
#include <linux/uaccess.h>

#include "agent.h"

#define COMMAND_MAX 128

DEFINE_MUTEX(agent_lock);
DEFINE_SPINLOCK(state_lock);
struct domain domains[CHARIOT_MAX_DOMAINS];
int nr_domains;

static struct mutex *module_mutex_p;
static struct module *(*find_module_p)(const char *name);
static struct proc_dir_entry *proc_entry;

/* ---- hypercalls ---- */

long hypercall(unsigned long nr, unsigned long a0, unsigned long a1, unsigned long a2, unsigned long a3,
	       unsigned long *out0, unsigned long *out1)
{
	long status = chariot_vmcall(nr, a0, a1, a2, a3, out0, out1);

	if (status)
		pr_warn("hypercall %s(0x%lx, 0x%lx, 0x%lx, 0x%lx) failed: status=%ld (%s)\n", chariot_hc_name(nr),
			a0, a1, a2, a3, status, chariot_status_name(status));
	return status;
}

/* ---- isolate / release (agent_lock held) ---- */

/* in_use only changes under agent_lock */
static struct domain *domain_by_name(const char *name)
{
	int i;

	for (i = 0; i < CHARIOT_MAX_DOMAINS; i++)
		if (domains[i].in_use && !strcmp(domains[i].name, name))
			return &domains[i];
	return NULL;
}

static int isolate(const char *name, bool audit)
{
	unsigned long text_start, text_end, data_start, data_end, id, flags;
	struct domain *d = NULL;
	struct module *mod;
	long status;
	int i, err = 0;

	if (strlen(name) >= CHARIOT_DOMAIN_NAME_MAX) {
		pr_warn("isolate %s: name longer than %d bytes\n", name, CHARIOT_DOMAIN_NAME_MAX - 1);
		return -ENAMETOOLONG;
	}
	if (domain_by_name(name)) {
		pr_warn("isolate %s: already isolated\n", name);
		return -EEXIST;
	}
	for (i = 0; i < CHARIOT_MAX_DOMAINS && !d; i++)
		if (!domains[i].in_use)
			d = &domains[i];
	if (!d) {
		pr_warn("isolate %s: all %d domains in use\n", name, CHARIOT_MAX_DOMAINS);
		return -ENOSPC;
	}

	/* module_mutex stays held until the domain is live: the module cannot start unloading in between, and an
	 * unload that starts later finds the domain (module_event releases it). */
	mutex_lock(module_mutex_p);
	mod = find_module_p(name);
	if (!mod || mod == THIS_MODULE || mod->state != MODULE_STATE_LIVE) {
		pr_warn("isolate %s: %s\n", name, !mod ? "no such module" : mod == THIS_MODULE ? "that is the agent" :
			"module is not live");
		err = !mod ? -ENOENT : mod == THIS_MODULE ? -EINVAL : -EBUSY;
		goto out;
	}
	/* core layout: text | rodata | ro_after_init | data + bss */
	text_start = (unsigned long)mod->core_layout.base;
	text_end = text_start + mod->core_layout.text_size;
	data_start = text_start + mod->core_layout.ro_after_init_size;
	data_end = text_start + mod->core_layout.size;

	strscpy(d->name, name, sizeof(d->name));
	status = hypercall(CHARIOT_HC_DOMAIN_CREATE, text_start, text_end, audit ? CHARIOT_DOMAIN_AUDIT : 0,
			   (unsigned long)d->name, &id, NULL);
	if (status) {
		err = chariot_status_errno(status);
		goto out;
	}
	if (data_end > data_start) {
		status = hypercall(CHARIOT_HC_INTERVAL_ADD, id, data_start, data_end - data_start, 0, NULL, NULL);
		if (status) {
			hypercall(CHARIOT_HC_DOMAIN_DESTROY, id, 0, 0, 0, NULL, NULL);
			err = chariot_status_errno(status);
			goto out;
		}
	}

	spin_lock_irqsave(&state_lock, flags);
	d->hv_id = id;
	d->mod = mod;
	d->text_start = text_start;
	d->text_end = text_end;
	d->audit = audit;
	d->intervals = data_end > data_start;
	d->generation++;
	d->in_use = true;
	WRITE_ONCE(nr_domains, nr_domains + 1);
	spin_unlock_irqrestore(&state_lock, flags);
	pr_info("isolated %s: domain=%lu policy=%s text=[0x%lx,0x%lx) data=[0x%lx,0x%lx)\n", name, id,
		audit ? "audit" : "enforce", text_start, text_end, data_start, data_end);
out:
	mutex_unlock(module_mutex_p);
	return err;
}

static int release(struct domain *d)
{
	unsigned long flags;
	long status;

	/* Out of the probes' sight first, so no interval is added for it after the hypervisor dropped it. */
	spin_lock_irqsave(&state_lock, flags);
	d->in_use = false;
	WRITE_ONCE(nr_domains, nr_domains - 1);
	heap_forget_domain(d);
	spin_unlock_irqrestore(&state_lock, flags);

	status = hypercall(CHARIOT_HC_DOMAIN_DESTROY, d->hv_id, 0, 0, 0, NULL, NULL);
	pr_info("released %s: domain=%lu%s\n", d->name, d->hv_id, status ? " (hypervisor refused)" : "");
	return chariot_status_errno(status);
}

/* An isolated module is unloading (its exit function has run, still isolated): its domain goes with it. */
static int module_event(struct notifier_block *nb, unsigned long state, void *data)
{
	struct module *mod = data;
	int i;

	if (state != MODULE_STATE_GOING)
		return NOTIFY_DONE;
	mutex_lock(&agent_lock);
	for (i = 0; i < CHARIOT_MAX_DOMAINS; i++)
		if (domains[i].in_use && domains[i].mod == mod)
			release(&domains[i]);
	mutex_unlock(&agent_lock);
	return NOTIFY_OK;
}

static struct notifier_block module_notifier = { .notifier_call = module_event };

/* ---- /proc/chariot ---- */

/* The next blank-separated word of *cursor, NUL-terminated in place; NULL at the end. */
static char *next_word(char **cursor)
{
	char *word;

	*cursor = skip_spaces(*cursor);
	if (!**cursor)
		return NULL;
	word = *cursor;
	while (**cursor && !isspace(**cursor))
		(*cursor)++;
	if (**cursor)
		*(*cursor)++ = '\0';
	return word;
}

static int run_command(char *line)
{
	char *verb = next_word(&line), *name = next_word(&line), *policy = next_word(&line);
	bool audit = false;
	struct domain *d;
	int err;

	if (!verb || !name || next_word(&line))
		goto usage;
	if (!strcmp(verb, "isolate")) {
		if (policy && !strcmp(policy, "audit"))
			audit = true;
		else if (policy && strcmp(policy, "enforce"))
			goto usage;
		mutex_lock(&agent_lock);
		err = isolate(name, audit);
		mutex_unlock(&agent_lock);
		return err;
	}
	if (!strcmp(verb, "release") && !policy) {
		mutex_lock(&agent_lock);
		d = domain_by_name(name);
		err = d ? release(d) : -ENOENT;
		mutex_unlock(&agent_lock);
		if (!d)
			pr_warn("release %s: not isolated\n", name);
		return err;
	}
usage:
	pr_warn("usage: isolate <module> [enforce|audit] | release <module>\n");
	return -EINVAL;
}

static ssize_t proc_write(struct file *file, const char __user *ubuf, size_t len, loff_t *off)
{
	char line[COMMAND_MAX];
	int err;

	if (len >= sizeof(line))
		return -EINVAL;
	if (copy_from_user(line, ubuf, len))
		return -EFAULT;
	line[len] = '\0';
	err = run_command(line);
	return err ? err : len;
}

static int proc_show(struct seq_file *m, void *v)
{
	unsigned long violations, allowed;
	long status;
	int i;

	mutex_lock(&agent_lock);
	for (i = 0; i < CHARIOT_MAX_DOMAINS; i++) {
		struct domain *d = &domains[i];

		if (!d->in_use)
			continue;
		seq_printf(m, "domain=%lu module=%s policy=%s intervals=%u", d->hv_id, d->name,
			   d->audit ? "audit" : "enforce", READ_ONCE(d->intervals));
		status = hypercall(CHARIOT_HC_DOMAIN_STATS, d->hv_id, 0, 0, 0, &violations, &allowed);
		if (status)
			seq_printf(m, " violations=? allowed=? stats_status=%ld\n", status);
		else
			seq_printf(m, " violations=%lu allowed=%lu\n", violations, allowed);
	}
	mutex_unlock(&agent_lock);
	return 0;
}

static int proc_open(struct inode *inode, struct file *file)
{
	return single_open(file, proc_show, NULL);
}

static const struct proc_ops chariot_proc_ops = {
	.proc_open = proc_open,
	.proc_read = seq_read,
	.proc_lseek = seq_lseek,
	.proc_release = single_release,
	.proc_write = proc_write,
};

/* ---- load / unload ---- */

static int resolve_kernel_symbols(void)
{
	unsigned long (*lookup)(const char *name);
	struct kprobe kp = { .symbol_name = "kallsyms_lookup_name" };
	int err = register_kprobe(&kp);

	if (err) {
		pr_err("cannot locate kallsyms_lookup_name (kprobe: %d)\n", err);
		return err;
	}
	lookup = (void *)kp.addr;
	unregister_kprobe(&kp);
	module_mutex_p = (struct mutex *)lookup("module_mutex");
	find_module_p = (void *)lookup("find_module");
	if (!module_mutex_p || !find_module_p) {
		pr_err("kernel symbols missing:%s%s\n", module_mutex_p ? "" : " module_mutex",
		       find_module_p ? "" : " find_module");
		return -ENOENT;
	}
	return 0;
}

static int __init chariot_agent_init(void)
{
	unsigned long version;
	long status;
	int err;

	if (!chariot_hv_present()) {
		pr_err("no ChariotHV hypervisor (CPUID 0x40000000): not loading\n");
		return -ENODEV;
	}
	status = hypercall(CHARIOT_HC_VERSION, 0, 0, 0, 0, &version, NULL);
	if (status) {
		pr_err("ChariotHV did not answer the version hypercall: not loading\n");
		return -ENODEV;
	}
	if (version != CHARIOT_ABI_VERSION) {
		pr_err("ChariotHV speaks ABI %lu, this agent %d: not loading\n", version, CHARIOT_ABI_VERSION);
		return -ENODEV;
	}
	err = resolve_kernel_symbols();
	if (err)
		return err;

	heap_init();
	err = register_heap_probes();
	if (err)
		return err;
	err = register_module_notifier(&module_notifier);
	if (err)
		goto fail_probes;
	proc_entry = proc_create("chariot", 0600, NULL, &chariot_proc_ops);
	if (!proc_entry) {
		err = -ENOMEM;
		goto fail_notifier;
	}
	pr_info("ChariotHV ABI %lu: ready, commands in /proc/chariot\n", version);
	return 0;

fail_notifier:
	unregister_module_notifier(&module_notifier);
fail_probes:
	unregister_heap_probes();
	return err;
}

static void __exit chariot_agent_exit(void)
{
	int i;

	proc_remove(proc_entry);
	unregister_module_notifier(&module_notifier);
	mutex_lock(&agent_lock);
	for (i = 0; i < CHARIOT_MAX_DOMAINS; i++)
		if (domains[i].in_use)
			release(&domains[i]);
	mutex_unlock(&agent_lock);
	unregister_heap_probes();
	pr_info("unloaded\n");
}

module_init(chariot_agent_init);
module_exit(chariot_agent_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Chariot guest agent: isolates a driver's writes through the ChariotHV hypervisor");
