// SPDX-License-Identifier: GPL-2.0
/*
 * chariot_agent: the in-guest half of Chariot driver isolation.
 *
 * /proc/chariot takes one command per write:
 *   isolate <module> [enforce|audit] [recover=0|1] [reload=0|1] [open=N]
 *        create a protection domain for a loaded module now: its core text is the driver code, its writable
 *        data+bss its first authorization interval. Recovery is off unless asked for (recover=1 or reload=1):
 *        memory the module obtained before this point is not authorized, so its violations may be false ones.
 *   isolate-on-load <module> [enforce|audit] [recover=0|1] [reload=0|1] [open=N]
 *        arm: the domain is created whenever the module loads (MODULE_STATE_COMING), before its init runs, so
 *        what its init and probe allocate is authorized. In enforce mode recovery is on unless recover=0.
 *   release <module>
 *        destroy its domain, forget its heap, disarm it, forget its faults
 *   share <kernel function>
 *        drivers' views run that function's pages themselves (no view switch when a driver calls it; the view is
 *        left only when it writes what the driver may not). At load the agent shares the short functions drivers
 *        call at every packet or request (shared_functions[]); the hypervisor refuses pages that must switch.
 * open=N (0 to 32, default 0): the hypervisor leaves the last N pages the driver wrote legally writable in its view
 * (the papers' shadow page cache): fewer traps, but until such a page is closed a write anywhere on it goes
 * unchecked. A violation closes them all.
 * recover=1 (enforce only): a violation the hypervisor reports unloads the module (agent_recovery.c); reload=1
 * then loads it again, isolated from load; a fault after a reload is persistent: unloaded, not reloaded.
 * Reading gives one line per module the agent knows:
 *   domain=<id|none> module=<name> policy=<enforce|audit> [intervals=<n> violations=<v> allowed=<a>]
 *   state=<armed|running|recovering|recovered|unloaded|persistent|failed> recover=<0|1> reload=<0|1>
 *   on_load=<0|1> faults=<f> recoveries=<r> notified=<n> [reason=<why recovery failed>]
 *
 * Heap tracking is agent_heap.c's, notification and recovery agent_recovery.c's, the resource ledger (what a
 * going module still holds is released) agent_resources.c's.
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
struct watch watches[WATCHES_MAX];
struct mutex *module_mutex_p;
struct module *(*find_module_p)(const char *name);
int (*lookup_size_offset_p)(unsigned long addr, unsigned long *size, unsigned long *offset);

bool kernel_function(unsigned long (*lookup)(const char *name), const char *name, unsigned long *start,
		     unsigned long *end)
{
	unsigned long size, offset;

	*start = lookup(name);
	*end = 0;
	if (*start && lookup_size_offset_p && lookup_size_offset_p(*start, &size, &offset))
		*end = *start + size;
	else
		*start = 0;
	return *end != 0;
}

static struct proc_dir_entry *proc_entry;
static unsigned long (*lookup_name)(const char *name);

/* Short kernel functions drivers call at every packet or request (DMA mapping, skb helpers, delays): two view
 * switches a call saved. Functions that write kernel memory at once save nothing, but cost nothing either. */
static const char *const shared_functions[] = {
	"is_vmalloc_addr", "dma_map_page_attrs", "dma_unmap_page_attrs", "dma_sync_single_for_cpu",
	"dma_sync_single_for_device", "__udelay", "__const_udelay", "__ndelay", "delay_tsc", "skb_put",
	"eth_type_trans", "napi_schedule_prep", "dql_completed",
};

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

/* ---- watches and domains (agent_lock held) ---- */

const char *watch_state_name(enum watch_state state)
{
	static const char *const names[] = {
		[WATCH_ARMED] = "armed",	   [WATCH_RUNNING] = "running",	  [WATCH_RECOVERING] = "recovering",
		[WATCH_RECOVERED] = "recovered", [WATCH_UNLOADED] = "unloaded", [WATCH_PERSISTENT] = "persistent",
		[WATCH_FAILED] = "failed",
	};

	return state < ARRAY_SIZE(names) ? names[state] : "?";
}

static struct watch *watch_by_name(const char *name)
{
	struct watch *w;

	for (w = watches; w < watches + WATCHES_MAX; w++)
		if (w->in_use && !strcmp(w->name, name))
			return w;
	return NULL;
}

static struct watch *watch_new(const char *name)
{
	struct watch *w;

	for (w = watches; w < watches + WATCHES_MAX; w++)
		if (!w->in_use) {
			memset(w, 0, sizeof(*w));
			strscpy(w->name, name, sizeof(w->name));
			w->in_use = true;
			return w;
		}
	return NULL;
}

struct domain *domain_by_hv_id(unsigned long hv_id)
{
	struct domain *d;

	for (d = domains; d < domains + CHARIOT_MAX_DOMAINS; d++)
		if (d->in_use && d->hv_id == hv_id)
			return d;
	return NULL;
}

/*
 * Creates w's domain for `mod`, which cannot go away meanwhile (module_mutex held, or this is its COMING
 * notification). Core layout: text | rodata | ro_after_init | data + bss. At COMING the init has not run and may
 * still write its ro_after_init data, so the interval starts after the rodata; and allocations returning into its
 * init text are its own until it is live.
 */
static int create_domain(struct watch *w, struct module *mod, bool coming)
{
	unsigned long text_start, text_end, data_start, data_end, init_start = 0, init_end = 0, id, flags;
	struct domain *d;
	long status;

	for (d = domains; d < domains + CHARIOT_MAX_DOMAINS && d->in_use; d++)
		;
	if (d == domains + CHARIOT_MAX_DOMAINS) {
		pr_warn("isolate %s: all %d domains in use\n", w->name, CHARIOT_MAX_DOMAINS);
		return -ENOSPC;
	}
	text_start = (unsigned long)mod->core_layout.base;
	text_end = text_start + mod->core_layout.text_size;
	data_start = text_start + (coming ? mod->core_layout.ro_size : mod->core_layout.ro_after_init_size);
	data_end = text_start + mod->core_layout.size;
	if (coming && mod->init_layout.base) {
		init_start = (unsigned long)mod->init_layout.base;
		init_end = init_start + mod->init_layout.text_size;
	}

	strscpy(d->name, w->name, sizeof(d->name));
	status = hypercall(CHARIOT_HC_DOMAIN_CREATE, text_start, text_end,
			   (w->audit ? CHARIOT_DOMAIN_AUDIT : 0) | w->open_pages << CHARIOT_DOMAIN_OPEN_PAGES_SHIFT,
			   (unsigned long)d->name, &id, NULL);
	if (status)
		return chariot_status_errno(status);
	if (data_end > data_start)
		status = hypercall(CHARIOT_HC_INTERVAL_ADD, id, data_start, data_end - data_start, 0, NULL, NULL);
	/* Its init code runs while it loads: checked like the rest of its code until the module is live. */
	if (!status && init_end > init_start)
		status = hypercall(CHARIOT_HC_DOMAIN_INIT_CODE, id, init_start, init_end - init_start, 0, NULL, NULL);
	/* What tells its user-memory accesses from bad pointers, and its BUG()s from its WARN()s (the hypervisor
	 * forgets them with the domain) */
	if (!status)
		status = hypercall(CHARIOT_HC_EXCEPTION_TABLE, text_start, text_end, (unsigned long)mod->extable,
				   mod->num_exentries, NULL, NULL);
	if (!status)
		status = hypercall(CHARIOT_HC_BUG_TABLE, text_start, text_end, (unsigned long)mod->bug_table,
				   bug_table_layout(mod->num_bugs), NULL, NULL);
	if (status) {
		hypercall(CHARIOT_HC_DOMAIN_DESTROY, id, 0, 0, 0, NULL, NULL);
		return chariot_status_errno(status);
	}

	spin_lock_irqsave(&state_lock, flags);
	d->hv_id = id;
	d->mod = mod;
	d->text_start = text_start;
	d->text_end = text_end;
	d->init_start = init_start;
	d->init_end = init_end;
	d->loading = coming;
	d->audit = w->audit;
	d->intervals = data_end > data_start;
	d->watch = w;
	d->generation++;
	d->in_use = true;
	WRITE_ONCE(nr_domains, nr_domains + 1);
	grant_domain_globals(d);
	spin_unlock_irqrestore(&state_lock, flags);
	w->domain = d;
	if (!coming)
		heap_adopt_netdevs(d);
	if (w->state != WATCH_RECOVERING && w->state != WATCH_RECOVERED)
		w->state = WATCH_RUNNING;
	pr_info("isolated %s%s: domain=%lu policy=%s text=[0x%lx,0x%lx) data=[0x%lx,0x%lx) init=[0x%lx,0x%lx)\n",
		w->name, coming ? " at load" : "", id, w->audit ? "audit" : "enforce", text_start, text_end,
		data_start, data_end, init_start, init_end);
	return 0;
}

int release_domain(struct domain *d)
{
	unsigned long flags;
	long status;

	/* Out of the probes' sight first, so no interval is added for it after the hypervisor dropped it. */
	spin_lock_irqsave(&state_lock, flags);
	d->in_use = false;
	WRITE_ONCE(nr_domains, nr_domains - 1);
	heap_forget_domain(d);
	resources_forget_domain(d);
	spin_unlock_irqrestore(&state_lock, flags);
	if (d->watch)
		d->watch->domain = NULL;
	d->watch = NULL;

	status = hypercall(CHARIOT_HC_DOMAIN_DESTROY, d->hv_id, 0, 0, 0, NULL, NULL);
	pr_info("released %s: domain=%lu%s\n", d->name, d->hv_id, status ? " (hypervisor refused)" : "");
	return chariot_status_errno(status);
}

/* ---- module notifications ---- */

/* An armed module is loading: its code and data exist, its init has not run. If its domain cannot be created,
 * the load fails: a module that must be isolated from load does not run unisolated. */
static int module_coming(struct module *mod)
{
	struct watch *w;
	int err = 0;

	mutex_lock(&agent_lock);
	w = watch_by_name(mod->name);
	if (w && w->on_load && !w->domain) {
		err = create_domain(w, mod, true);
		if (w->state == WATCH_RECOVERING)
			recovery_log(w->name, "isolate", err ? "failed" : "ok", " domain=%lu err=%d",
				     w->domain ? w->domain->hv_id : 0, err);
		if (err)
			pr_warn("%s: load refused: it is to be isolated from load, and its domain could not be created "
				"(%d)\n", w->name, err);
	}
	mutex_unlock(&agent_lock);
	return notifier_from_errno(err);
}

/* Its init ran (and its init text is about to be freed): allocations from there are no longer its own. */
static void module_live(struct module *mod)
{
	unsigned long flags, id = 0;
	struct domain *d;
	long status;

	spin_lock_irqsave(&state_lock, flags);
	for (d = domains; d < domains + CHARIOT_MAX_DOMAINS; d++) {
		if (!d->in_use || d->mod != mod)
			continue;
		d->loading = false;
		if (d->init_end) {
			d->init_start = d->init_end = 0;
			id = d->hv_id;
		}
	}
	spin_unlock_irqrestore(&state_lock, flags);
	/* The kernel frees the init code after this notification: the hypervisor must forget it first. */
	if (id) {
		status = hypercall(CHARIOT_HC_DOMAIN_INIT_CODE, id, 0, 0, 0, NULL, NULL);
		if (status)
			pr_warn("domain %lu: forgetting the init code failed: status %ld\n", id, status);
	}
}

/* An isolated module is unloading (its exit function has run, still isolated; or its load failed): its domain goes
 * with it, once the violations it made meanwhile (a fault in its exit function or its init) are counted. Its watch
 * stays while it is armed, being recovered, or has faults to remember. */
static void module_going(struct module *mod)
{
	struct domain *d;
	struct watch *w;

	mutex_lock(&agent_lock);
	for (d = domains; d < domains + CHARIOT_MAX_DOMAINS; d++) {
		if (!d->in_use || d->mod != mod)
			continue;
		w = d->watch;
		if (w)
			w->went_loaded = !d->loading;
		resources_release(d); /* still isolated: the driver code this runs (its remove) is checked too */
		drain_violations_now();
		release_domain(d);
		if (!w || w->state == WATCH_RECOVERING)
			continue;
		if (w->on_load) {
			if (w->state == WATCH_RUNNING)
				w->state = WATCH_ARMED;
		} else if (!w->faults) {
			w->in_use = false;
		}
	}
	mutex_unlock(&agent_lock);
}

static int module_event(struct notifier_block *nb, unsigned long state, void *data)
{
	switch (state) {
	case MODULE_STATE_COMING:
		return module_coming(data);
	case MODULE_STATE_LIVE:
		module_live(data);
		probe_set_module_live(&heap_probes);
		probe_set_module_live(&grant_probes);
		probe_set_module_live(&failure_probes);
		return NOTIFY_OK;
	case MODULE_STATE_GOING:
		module_going(data);
		probe_set_module_going(&heap_probes, data);
		probe_set_module_going(&grant_probes, data);
		probe_set_module_going(&failure_probes, data);
		return NOTIFY_OK;
	default:
		return NOTIFY_DONE;
	}
}

static struct notifier_block module_notifier = { .notifier_call = module_event };

/* ---- commands (agent_lock held) ---- */

struct isolate_options {
	bool audit, recover, reload;
	unsigned int open_pages;
};

static int isolate(const char *name, const struct isolate_options *opt, bool on_load)
{
	struct watch *w = watch_by_name(name);
	bool fresh = !w;
	struct module *mod;
	int err = 0;

	if (strlen(name) >= CHARIOT_DOMAIN_NAME_MAX) {
		pr_warn("isolate %s: name longer than %d bytes\n", name, CHARIOT_DOMAIN_NAME_MAX - 1);
		return -ENAMETOOLONG;
	}
	if (w && w->state == WATCH_RECOVERING) {
		pr_warn("isolate %s: being recovered\n", name);
		return -EBUSY;
	}
	if (w && (w->domain || w->on_load)) {
		pr_warn("isolate %s: already %s\n", name, w->domain ? "isolated" : "armed");
		return -EEXIST;
	}

	/* module_mutex stays held until the domain is live: the module cannot start unloading in between, and an
	 * unload that starts later finds the domain (module_going releases it). */
	mutex_lock(module_mutex_p);
	mod = find_module_p(name);
	if (on_load && mod) {
		pr_warn("isolate-on-load %s: already loaded, its init ran unisolated (isolate it, or unload it first)\n",
			name);
		err = -EBUSY;
		goto out;
	}
	if (!on_load && (!mod || mod == THIS_MODULE || mod->state != MODULE_STATE_LIVE)) {
		pr_warn("isolate %s: %s\n", name, !mod ? "no such module" : mod == THIS_MODULE ? "that is the agent" :
			"module is not live");
		err = !mod ? -ENOENT : mod == THIS_MODULE ? -EINVAL : -EBUSY;
		goto out;
	}
	if (fresh)
		w = watch_new(name);
	if (!w) {
		pr_warn("isolate %s: the agent knows %d modules already\n", name, WATCHES_MAX);
		err = -ENOSPC;
		goto out;
	}
	w->audit = opt->audit;
	w->recover = opt->recover;
	w->reload = opt->reload;
	w->open_pages = opt->open_pages;
	if (on_load) {
		w->on_load = true;
		w->state = WATCH_ARMED;
		pr_info("armed %s: isolated from load, policy=%s recover=%d reload=%d\n", name,
			opt->audit ? "audit" : "enforce", opt->recover, opt->reload);
	} else {
		err = create_domain(w, mod, false);
		if (err && fresh)
			w->in_use = false;
	}
out:
	mutex_unlock(module_mutex_p);
	return err;
}

static int release(const char *name)
{
	struct watch *w = watch_by_name(name);
	int err = 0;

	if (!w) {
		pr_warn("release %s: not isolated\n", name);
		return -ENOENT;
	}
	if (w->state == WATCH_RECOVERING) {
		pr_warn("release %s: being recovered\n", name);
		return -EBUSY;
	}
	if (w->domain)
		err = release_domain(w->domain);
	w->in_use = false;
	return err;
}

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

/* [enforce|audit] [recover=0|1] [reload=0|1]; recovery defaults to on for isolate-on-load in enforce mode, and
 * to whether a reload was asked for otherwise. */
static int parse_options(char **cursor, bool on_load, struct isolate_options *opt)
{
	int recover = -1, reload = 0;
	bool policy_seen = false;
	char *word;

	opt->audit = false;
	opt->open_pages = 0;
	while ((word = next_word(cursor))) {
		if (!strncmp(word, "open=", 5)) {
			if (kstrtouint(word + 5, 10, &opt->open_pages) || opt->open_pages > CHARIOT_OPEN_PAGES_MAX)
				return -EINVAL;
		} else if (!policy_seen && (!strcmp(word, "enforce") || !strcmp(word, "audit"))) {
			opt->audit = !strcmp(word, "audit");
			policy_seen = true;
		} else if (!strcmp(word, "recover=0") || !strcmp(word, "recover=1")) {
			recover = word[8] - '0';
		} else if (!strcmp(word, "reload=0") || !strcmp(word, "reload=1")) {
			reload = word[7] - '0';
		} else {
			return -EINVAL;
		}
	}
	if (recover < 0)
		recover = !opt->audit && (on_load || reload);
	if ((recover && opt->audit) || (reload && !recover)) {
		pr_warn("recovery (recover=1, reload=1) needs the enforce policy and recover=1\n");
		return -EINVAL;
	}
	opt->recover = recover;
	opt->reload = reload;
	return 0;
}

/* The SHARED_FUNCTION hypercall for kernel function `name`. */
static int share(const char *name)
{
	unsigned long start, end;
	long status;

	if (!kernel_function(lookup_name, name, &start, &end)) {
		pr_warn("share %s: no such kernel function\n", name);
		return -ENOENT;
	}
	status = hypercall(CHARIOT_HC_SHARED_FUNCTION, start, end, 0, 0, NULL, NULL);
	if (status) {
		pr_warn("share %s: refused (%s)\n", name, chariot_status_name(status));
		return chariot_status_errno(status);
	}
	pr_info("share %s: %px-%px runs in drivers' views\n", name, (void *)start, (void *)end);
	return 0;
}

static void share_functions(void)
{
	unsigned int i, shared = 0;

	for (i = 0; i < ARRAY_SIZE(shared_functions); i++)
		shared += !share(shared_functions[i]);
	pr_info("%u of %zu kernel functions shared with drivers' views\n", shared, ARRAY_SIZE(shared_functions));
}

static int run_command(char *line)
{
	char *verb = next_word(&line), *name = next_word(&line);
	struct isolate_options opt;
	bool on_load;
	int err;

	if (!verb || !name)
		goto usage;
	if (!strcmp(verb, "isolate") || !strcmp(verb, "isolate-on-load")) {
		on_load = !strcmp(verb, "isolate-on-load");
		if (parse_options(&line, on_load, &opt))
			goto usage;
		mutex_lock(&agent_lock);
		err = isolate(name, &opt, on_load);
		mutex_unlock(&agent_lock);
		return err;
	}
	if (!strcmp(verb, "share") && !next_word(&line))
		return share(name);
	if (!strcmp(verb, "release") && !next_word(&line)) {
		mutex_lock(&agent_lock);
		err = release(name);
		mutex_unlock(&agent_lock);
		return err;
	}
usage:
	pr_warn("usage: isolate|isolate-on-load <module> [enforce|audit] [recover=0|1] [reload=0|1] [open=N] | "
		"release <module> | share <kernel function>\n");
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

static void show_watch(struct seq_file *m, const struct watch *w)
{
	unsigned long violations, allowed;
	const struct domain *d = w->domain;

	if (d) {
		seq_printf(m, "domain=%lu module=%s policy=%s intervals=%u", d->hv_id, w->name,
			   w->audit ? "audit" : "enforce", READ_ONCE(d->intervals));
		if (hypercall(CHARIOT_HC_DOMAIN_STATS, d->hv_id, 0, 0, 0, &violations, &allowed))
			seq_puts(m, " violations=? allowed=?");
		else
			seq_printf(m, " violations=%lu allowed=%lu", violations, allowed);
	} else {
		seq_printf(m, "domain=none module=%s policy=%s", w->name, w->audit ? "audit" : "enforce");
	}
	seq_printf(m, " state=%s recover=%d reload=%d on_load=%d faults=%u recoveries=%u notified=%lu failures=%u",
		   watch_state_name(w->state), w->recover, w->reload, w->on_load, w->faults, w->recoveries,
		   w->notified, w->failures);
	if (w->open_pages)
		seq_printf(m, " open=%u", w->open_pages);
	if (w->reason[0])
		seq_printf(m, " reason=%s", w->reason);
	seq_putc(m, '\n');
}

static int proc_show(struct seq_file *m, void *v)
{
	const struct watch *w;

	mutex_lock(&agent_lock);
	for (w = watches; w < watches + WATCHES_MAX; w++)
		if (w->in_use)
			show_watch(m, w);
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

static int resolve_kernel_symbols(unsigned long (**lookup)(const char *name))
{
	struct kprobe kp = { .symbol_name = "kallsyms_lookup_name" };
	int err = register_kprobe(&kp);

	if (err) {
		pr_err("cannot locate kallsyms_lookup_name (kprobe: %d)\n", err);
		return err;
	}
	*lookup = (void *)kp.addr;
	unregister_kprobe(&kp);
	module_mutex_p = (struct mutex *)(*lookup)("module_mutex");
	find_module_p = (void *)(*lookup)("find_module");
	lookup_size_offset_p = (void *)(*lookup)("kallsyms_lookup_size_offset");
	if (!lookup_size_offset_p)
		pr_warn("kallsyms_lookup_size_offset not found: no delegated allocations (scsi_alloc_sdev), no devres "
			"IRQs told apart, aborted kernel threads exit\n");
	if (!module_mutex_p || !find_module_p) {
		pr_err("kernel symbols missing:%s%s\n", module_mutex_p ? "" : " module_mutex",
		       find_module_p ? "" : " find_module");
		return -ENOENT;
	}
	return 0;
}

static int __init chariot_agent_init(void)
{
	unsigned long (*lookup)(const char *name);
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
	err = resolve_kernel_symbols(&lookup);
	if (err)
		return err;
	lookup_name = lookup;

	heap_init();
	resources_init(lookup);
	err = probe_set_register(&heap_probes);
	if (err)
		return err;
	err = probe_set_register(&grant_probes);
	if (err)
		goto fail_heap_probes;
	err = probe_set_register(&resource_probes);
	if (err)
		goto fail_grant_probes;
	err = register_module_notifier(&module_notifier);
	if (err)
		goto fail_probes;
	err = notify_start(lookup);
	if (err)
		goto fail_notifier;
	share_functions(); /* after notify_start registered the lock functions, whose pages must switch */
	err = probe_set_register(&failure_probes); /* its reports go to the notification's work */
	if (err)
		goto fail_notify;
	proc_entry = proc_create("chariot", 0600, NULL, &chariot_proc_ops);
	if (!proc_entry) {
		err = -ENOMEM;
		goto fail_failure_probes;
	}
	pr_info("ChariotHV ABI %lu: ready, commands in /proc/chariot\n", version);
	return 0;

fail_failure_probes:
	probe_set_unregister(&failure_probes);
fail_notify:
	notify_stop();
fail_notifier:
	unregister_module_notifier(&module_notifier);
fail_probes:
	probe_set_unregister(&resource_probes);
fail_grant_probes:
	probe_set_unregister(&grant_probes);
fail_heap_probes:
	probe_set_unregister(&heap_probes);
	return err;
}

/* Commands stop first, then notifications (finishing the recoveries under way, which need the module notifier),
 * then module notifications; every domain left is released. */
static void __exit chariot_agent_exit(void)
{
	struct domain *d;

	proc_remove(proc_entry);
	probe_set_unregister(&failure_probes);
	notify_stop();
	unregister_module_notifier(&module_notifier);
	mutex_lock(&agent_lock);
	for (d = domains; d < domains + CHARIOT_MAX_DOMAINS; d++)
		if (d->in_use)
			release_domain(d);
	mutex_unlock(&agent_lock);
	probe_set_unregister(&resource_probes);
	probe_set_unregister(&grant_probes);
	probe_set_unregister(&heap_probes);
	pr_info("unloaded\n");
}

module_init(chariot_agent_init);
module_exit(chariot_agent_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Chariot guest agent: isolates a driver's writes through the ChariotHV hypervisor");
