// SPDX-License-Identifier: GPL-2.0
/*
 * chariot_inject: puts one fault into a module's machine code for the fault-injection campaigns (Rio / Nooks
 * style; the fault comes from tools/faultgen.py). Independent of the hypervisor: it runs isolated or not.
 *
 * /proc/chariot_inject takes one command per write:
 *   arm <module> <symbol> <offset> <orig> <new> [<type>]
 *        replace the bytes at <symbol>+<offset> (a FUNC symbol of the module; offset decimal or 0x hex), which
 *        must be <orig> (hex, ".." for a byte not known before loading: it is not checked), with <new> (hex, same
 *        length). Applied when the module next reaches MODULE_STATE_COMING (its code relocated and in place, its
 *        init not run yet: faults in init and probe paths run), or at once if it is live. One-shot: applied or
 *        not, the fault is then disarmed, so a reload of the module runs clean code. <type> only names the fault
 *        in the log.
 *   disarm
 *        cancel the armed fault, if any
 *   trace on|off
 *        whether the faults applied from now on are traced: a kprobe on the faulted instruction counts how often
 *        it runs and logs the first time, so a campaign can tell a fault that ran without visible effect from one
 *        that never ran. Only where the module is not isolated: the probe runs the instruction out of line, from
 *        the kprobes' own slot, which isolation would take for kernel code.
 * Reading gives the last fault's state in one line (executed=-: not traced):
 *   state=idle|armed|applied|mismatch|nosymbol|error module=<m> symbol=<s> offset=<o> addr=0x<addr> executed=<n>
 * The outcome is logged (KERN_WARNING) with the bytes before and after:
 *   chariot_inject: applied module=e1000 symbol=e1000_probe offset=236 addr=0x... before=e8... after=31c00f1f00
 * and, traced, `chariot_inject: traced module=...` (or `untraced ... reason=`), then at the first execution
 *   chariot_inject: executed module=e1000 symbol=e1000_probe offset=236 addr=0x...
 *
 * Module text is read-only by COMING: the bytes are written through a temporary writable alias of its page(s)
 * (vmap), the kernel's own mappings stay as they are. The guest is uniprocessor; interrupts are off while the
 * one instruction is rewritten, so nothing runs it half written.
 *
 * find_module() and module_mutex are not exported in 6.1: both are found through kallsyms_lookup_name(), whose
 * address a kprobe on it reveals.
 */
#define pr_fmt(fmt) "chariot_inject: " fmt

#include <linux/ctype.h>
#include <linux/elf.h>
#include <linux/kprobes.h>
#include <linux/module.h>
#include <linux/proc_fs.h>
#include <linux/seq_file.h>
#include <linux/string.h>
#include <linux/uaccess.h>
#include <linux/vmalloc.h>

#define PATCH_MAX 16 /* one x86 instruction: 15 bytes at most */
#define SYMBOL_MAX 128
#define TYPE_MAX 24
#define COMMAND_MAX 384

enum fault_state { FAULT_IDLE, FAULT_ARMED, FAULT_APPLIED, FAULT_MISMATCH, FAULT_NOSYMBOL, FAULT_ERROR };

struct fault {
	enum fault_state state;
	char module[MODULE_NAME_LEN];
	char symbol[SYMBOL_MAX];
	char type[TYPE_MAX];
	char orig_hex[2 * PATCH_MAX + 1];
	unsigned int offset, len;
	unsigned long addr;
	u8 orig[PATCH_MAX], new[PATCH_MAX];
	bool unknown[PATCH_MAX]; /* ".." in orig: under a relocation in the .ko */
};

static DEFINE_MUTEX(inject_lock);
static struct fault fault; /* the last one armed (inject_lock) */
static bool trace_faults;  /* `trace on` (inject_lock) */
/* The kprobe on the last fault applied while tracing; `fault` does not change while it is registered. */
static struct kprobe execution_probe;
static bool execution_probe_registered;
static atomic_t executions;
static struct mutex *module_mutex_p;
static struct module *(*find_module_p)(const char *name);
static struct proc_dir_entry *proc_entry;

static const char *state_name(enum fault_state state)
{
	static const char *const names[] = {
		[FAULT_IDLE] = "idle",		[FAULT_ARMED] = "armed",       [FAULT_APPLIED] = "applied",
		[FAULT_MISMATCH] = "mismatch", [FAULT_NOSYMBOL] = "nosymbol", [FAULT_ERROR] = "error",
	};

	return names[state];
}

/* ---- applying (inject_lock held) ---- */

/*
 * The address and size of FUNC symbol `name` in mod's own symbol table. Until the module is live that is the
 * full table (in its init area: init functions are found too), afterwards the core symbols only.
 */
static int find_function(struct module *mod, const char *name, unsigned long *addr, unsigned long *size)
{
	const struct mod_kallsyms *ks;
	unsigned int i;
	int err = -ENOENT;

	preempt_disable();
	ks = rcu_dereference_sched(mod->kallsyms);
	for (i = 1; i < ks->num_symtab; i++) {
		const Elf_Sym *sym = &ks->symtab[i];

		if (ELF_ST_TYPE(sym->st_info) == STT_FUNC && sym->st_shndx != SHN_UNDEF &&
		    !strcmp(ks->strtab + sym->st_name, name)) {
			*addr = sym->st_value;
			*size = sym->st_size;
			err = 0;
			break;
		}
	}
	preempt_enable();
	return err;
}

/* Writes `len` bytes of module text at `addr` through a writable alias of its page(s) (two if it crosses one). */
static int poke_text(unsigned long addr, const u8 *bytes, unsigned int len)
{
	unsigned long first = addr & PAGE_MASK, flags;
	unsigned int nr = ((addr + len - 1) >> PAGE_SHIFT) - (addr >> PAGE_SHIFT) + 1, i;
	struct page *pages[2];
	void *alias;

	for (i = 0; i < nr; i++) {
		pages[i] = vmalloc_to_page((void *)(first + i * PAGE_SIZE));
		if (!pages[i])
			return -EFAULT;
	}
	alias = vmap(pages, nr, VM_MAP, PAGE_KERNEL);
	if (!alias)
		return -ENOMEM;
	local_irq_save(flags);
	memcpy(alias + offset_in_page(addr), bytes, len);
	local_irq_restore(flags);
	vunmap(alias);
	return 0;
}

static void log_outcome(const char *what, const char *detail)
{
	pr_warn("%s module=%s symbol=%s offset=%u addr=0x%lx%s%s%s%s\n", what, fault.module, fault.symbol,
		fault.offset, fault.addr, detail[0] ? " " : "", detail, fault.type[0] ? " type=" : "", fault.type);
}

/*
 * Applies the fault to `mod`, whose code is in place and which cannot go away meanwhile (module_mutex held, or
 * this is its COMING notification). Sets the final state: the fault is disarmed whatever happens.
 */
static int apply(struct module *mod)
{
	char detail[2 * (2 * PATCH_MAX) + 32];
	unsigned long func, size, addr;
	u8 found[PATCH_MAX];
	unsigned int i;
	int err;

	fault.state = FAULT_ERROR;
	if (find_function(mod, fault.symbol, &func, &size)) {
		fault.state = FAULT_NOSYMBOL;
		/* a live module keeps its core symbols only: its init functions are gone */
		log_outcome("nosymbol", mod->state == MODULE_STATE_LIVE ? "reason=no-such-function symbols=core" :
			    "reason=no-such-function symbols=all");
		return -ENOENT;
	}
	addr = func + fault.offset;
	if ((unsigned long)fault.offset + fault.len > size || !within_module(addr, mod) ||
	    !within_module(addr + fault.len - 1, mod)) {
		snprintf(detail, sizeof(detail), "reason=past-the-function-end function_size=%lu", size);
		log_outcome("error", detail);
		return -ERANGE;
	}
	fault.addr = addr;
	memcpy(found, (void *)fault.addr, fault.len);
	for (i = 0; i < fault.len; i++)
		if (!fault.unknown[i] && found[i] != fault.orig[i])
			break;
	if (i < fault.len) {
		fault.state = FAULT_MISMATCH;
		snprintf(detail, sizeof(detail), "expected=%s found=%*phN", fault.orig_hex, fault.len, found);
		log_outcome("mismatch", detail);
		return -EILSEQ;
	}
	err = poke_text(fault.addr, fault.new, fault.len);
	if (err) {
		snprintf(detail, sizeof(detail), "reason=cannot-write(%d)", err);
		log_outcome("error", detail);
		return err;
	}
	fault.state = FAULT_APPLIED;
	/* read back through the module's own mapping: what will run */
	snprintf(detail, sizeof(detail), "before=%*phN after=%*phN", fault.len, found, fault.len, (u8 *)fault.addr);
	log_outcome("applied", detail);
	return 0;
}

static int fault_executed(struct kprobe *probe, struct pt_regs *regs)
{
	if (atomic_inc_return(&executions) == 1)
		log_outcome("executed", "");
	return 0;
}

/*
 * A kprobe with a post handler is never optimized into a jump over the faulted instruction and the ones after it:
 * it stays one int3, and unregistering it puts the fault's bytes back at once, not later from kprobes' optimizer.
 */
static void fault_executed_post(struct kprobe *probe, struct pt_regs *regs, unsigned long flags)
{
}

/*
 * inject_lock held. The kprobe of a module's code goes with the module (kprobes forgets it at unload, or once
 * init ran for init code): the count stays until the next fault.
 */
static void untrace(void)
{
	if (execution_probe_registered)
		unregister_kprobe(&execution_probe);
	execution_probe_registered = false;
}

/* inject_lock held; the fault was just applied to a module that is live or COMING. */
static void trace(void)
{
	char detail[48];
	int err;

	atomic_set(&executions, 0);
	memset(&execution_probe, 0, sizeof(execution_probe));
	execution_probe.addr = (kprobe_opcode_t *)fault.addr;
	execution_probe.pre_handler = fault_executed;
	execution_probe.post_handler = fault_executed_post;
	err = register_kprobe(&execution_probe);
	if (err) {
		snprintf(detail, sizeof(detail), "reason=cannot-probe(%d)", err);
		log_outcome("untraced", detail);
		return;
	}
	execution_probe_registered = true;
	log_outcome("traced", "");
}

static int module_event(struct notifier_block *nb, unsigned long state, void *data)
{
	struct module *mod = data;

	if (state != MODULE_STATE_COMING)
		return NOTIFY_DONE;
	/* A fault that cannot be applied is reported (state, log); the module loads unchanged. */
	mutex_lock(&inject_lock);
	if (fault.state == FAULT_ARMED && !strcmp(mod->name, fault.module) && !apply(mod) && trace_faults)
		trace();
	mutex_unlock(&inject_lock);
	return NOTIFY_OK;
}

static struct notifier_block module_notifier = { .notifier_call = module_event };

/* ---- commands ---- */

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

/* Hex bytes into bytes[] (at most PATCH_MAX); ".." is an unknown byte when `unknown` is given, else invalid. */
static int parse_bytes(const char *hex, u8 *bytes, bool *unknown, unsigned int *len)
{
	size_t n = strlen(hex) / 2, i;

	if (!n || n > PATCH_MAX || strlen(hex) % 2)
		return -EINVAL;
	for (i = 0; i < n; i++) {
		if (unknown && hex[2 * i] == '.' && hex[2 * i + 1] == '.') {
			unknown[i] = true;
			bytes[i] = 0;
		} else if (hex2bin(&bytes[i], hex + 2 * i, 1)) {
			return -EINVAL;
		}
	}
	*len = n;
	return 0;
}

/* The fault a command describes, in *f (not armed yet). */
static int parse_fault(char *line, struct fault *f)
{
	char *module = next_word(&line), *symbol = next_word(&line), *offset = next_word(&line);
	char *orig = next_word(&line), *new = next_word(&line), *type = next_word(&line);
	unsigned int new_len;
	char *c;

	memset(f, 0, sizeof(*f));
	if (!new || next_word(&line) || kstrtouint(offset, 0, &f->offset))
		return -EINVAL;
	if (strlen(module) >= sizeof(f->module) || strlen(symbol) >= sizeof(f->symbol) ||
	    (type && strlen(type) >= sizeof(f->type))) {
		pr_warn("arm: module, symbol or type name too long\n");
		return -ENAMETOOLONG;
	}
	if (parse_bytes(orig, f->orig, f->unknown, &f->len) || parse_bytes(new, f->new, NULL, &new_len) ||
	    new_len != f->len) {
		pr_warn("arm: <orig> and <new> must be hex of the same length, %d bytes at most (\"..\" only in <orig>)\n",
			PATCH_MAX);
		return -EINVAL;
	}
	strscpy(f->module, module, sizeof(f->module));
	for (c = f->module; *c; c++) /* the kernel's name for snd-ens1370 is snd_ens1370 */
		if (*c == '-')
			*c = '_';
	strscpy(f->symbol, symbol, sizeof(f->symbol));
	strscpy(f->orig_hex, orig, sizeof(f->orig_hex));
	if (type)
		strscpy(f->type, type, sizeof(f->type));
	return 0;
}

/* inject_lock held */
static int arm(char *line)
{
	struct module *mod;
	struct fault next;
	int err = parse_fault(line, &next);

	if (err)
		return err;
	if (fault.state == FAULT_ARMED) {
		pr_warn("arm: a fault is armed already (module=%s symbol=%s): disarm it first\n", fault.module,
			fault.symbol);
		return -EBUSY;
	}
	untrace();
	/* module_mutex: a live module cannot start unloading meanwhile, one not loaded yet reaches COMING later */
	mutex_lock(module_mutex_p);
	mod = find_module_p(next.module);
	if (mod == THIS_MODULE || (mod && mod->state != MODULE_STATE_LIVE)) {
		pr_warn("arm %s: %s\n", next.module, mod == THIS_MODULE ? "that is the injector" :
			"module is loading or unloading: try again");
		err = mod == THIS_MODULE ? -EINVAL : -EBUSY;
	} else {
		fault = next;
		if (mod) {
			err = apply(mod);
		} else {
			fault.state = FAULT_ARMED;
			pr_info("armed module=%s symbol=%s offset=%u: applied when it loads\n", fault.module,
				fault.symbol, fault.offset);
		}
	}
	mutex_unlock(module_mutex_p);
	/* outside module_mutex: kprobes has locks of its own; a module gone meanwhile is not probed (logged) */
	if (mod && !err && trace_faults)
		trace();
	return err;
}

static int run_command(char *line)
{
	char *verb = next_word(&line);
	int err = -EINVAL;

	mutex_lock(&inject_lock);
	if (verb && !strcmp(verb, "arm")) {
		err = arm(line);
	} else if (verb && !strcmp(verb, "disarm") && !next_word(&line)) {
		if (fault.state == FAULT_ARMED) {
			fault.state = FAULT_IDLE;
			pr_info("disarmed module=%s symbol=%s offset=%u\n", fault.module, fault.symbol, fault.offset);
		}
		err = 0;
	} else if (verb && !strcmp(verb, "trace")) {
		char *mode = next_word(&line);

		if (mode && !next_word(&line) && (!strcmp(mode, "on") || !strcmp(mode, "off"))) {
			trace_faults = !strcmp(mode, "on");
			err = 0;
		}
	}
	mutex_unlock(&inject_lock);
	if (err == -EINVAL)
		pr_warn("usage: arm <module> <symbol> <offset> <orig-hex> <new-hex> [<type>] | disarm | trace on|off\n");
	return err;
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
	mutex_lock(&inject_lock);
	seq_printf(m, "state=%s module=%s symbol=%s offset=%u addr=0x%lx ", state_name(fault.state),
		   fault.module[0] ? fault.module : "-", fault.symbol[0] ? fault.symbol : "-", fault.offset, fault.addr);
	if (execution_probe_registered)
		seq_printf(m, "executed=%d\n", atomic_read(&executions));
	else
		seq_puts(m, "executed=-\n");
	mutex_unlock(&inject_lock);
	return 0;
}

static int proc_open(struct inode *inode, struct file *file)
{
	return single_open(file, proc_show, NULL);
}

static const struct proc_ops inject_proc_ops = {
	.proc_open = proc_open,
	.proc_read = seq_read,
	.proc_lseek = seq_lseek,
	.proc_release = single_release,
	.proc_write = proc_write,
};

/* ---- load / unload ---- */

static int resolve_kernel_symbols(void)
{
	struct kprobe kp = { .symbol_name = "kallsyms_lookup_name" };
	unsigned long (*lookup)(const char *name);
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

static int __init chariot_inject_init(void)
{
	int err = resolve_kernel_symbols();

	if (err)
		return err;
	err = register_module_notifier(&module_notifier);
	if (err)
		return err;
	proc_entry = proc_create("chariot_inject", 0600, NULL, &inject_proc_ops);
	if (!proc_entry) {
		unregister_module_notifier(&module_notifier);
		return -ENOMEM;
	}
	pr_info("ready, commands in /proc/chariot_inject\n");
	return 0;
}

/* A fault already applied stays: it is the faulty module's code now, until that module is unloaded. */
static void __exit chariot_inject_exit(void)
{
	proc_remove(proc_entry);
	unregister_module_notifier(&module_notifier);
	mutex_lock(&inject_lock);
	untrace();
	mutex_unlock(&inject_lock);
}

module_init(chariot_inject_init);
module_exit(chariot_inject_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Chariot fault injector: applies one fault to a module's code when it loads");
