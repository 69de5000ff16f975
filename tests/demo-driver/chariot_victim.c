// SPDX-License-Identifier: GPL-2.0
/*
 * chariot_victim: memory that belongs to someone other than chariot_demo, for the demo's illegal writes to hit.
 * It is never isolated, so to the hypervisor its code is trusted kernel code.
 *
 *   chariot_victim_value   a static variable (the demo's `other_module` target)
 *   chariot_victim_page    a page it allocated with __get_free_page (the demo's `wild` target), filled with 0x5a
 *   chariot_victim_kstrdup a kstrdup done by this module's code, so the object is not the demo's (`stale_page`)
 *
 * /proc/chariot_victim shows what the victim sees: `value=0x<value> page_sum=0x<sum of the page's bytes>`.
 */
#include <linux/gfp.h>
#include <linux/module.h>
#include <linux/proc_fs.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/string.h>

#include "chariot_victim.h"

#define VICTIM_VALUE 0x1111222233334444ULL
#define VICTIM_PAGE_FILL 0x5a

u64 chariot_victim_value = VICTIM_VALUE;
EXPORT_SYMBOL_GPL(chariot_victim_value);

void *chariot_victim_page;
EXPORT_SYMBOL_GPL(chariot_victim_page);

static unsigned int strings_made;

char *chariot_victim_kstrdup(const char *s)
{
	char *copy = kstrdup(s, GFP_KERNEL);

	/* Work after the call keeps it from being a tail call: kstrdup's caller (the allocation's owner for the
	 * guest agent) must be this module, not whoever called us. */
	if (copy)
		strings_made++;
	return copy;
}
EXPORT_SYMBOL_GPL(chariot_victim_kstrdup);

static int victim_show(struct seq_file *m, void *v)
{
	const u8 *page = chariot_victim_page;
	unsigned long sum = 0;
	size_t i;

	for (i = 0; i < PAGE_SIZE; i++)
		sum += page[i];
	seq_printf(m, "value=0x%016llx page_sum=0x%lx strings=%u\n", READ_ONCE(chariot_victim_value), sum,
		   strings_made);
	return 0;
}

static int __init victim_init(void)
{
	chariot_victim_page = (void *)__get_free_page(GFP_KERNEL);
	if (!chariot_victim_page)
		return -ENOMEM;
	memset(chariot_victim_page, VICTIM_PAGE_FILL, PAGE_SIZE);
	if (!proc_create_single("chariot_victim", 0444, NULL, victim_show)) {
		free_page((unsigned long)chariot_victim_page);
		return -ENOMEM;
	}
	return 0;
}

static void __exit victim_exit(void)
{
	remove_proc_entry("chariot_victim", NULL);
	free_page((unsigned long)chariot_victim_page);
}

module_init(victim_init);
module_exit(victim_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Chariot demo: memory owned by someone else, for chariot_demo to corrupt");
