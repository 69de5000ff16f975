/* SPDX-License-Identifier: GPL-2.0 */
/* What chariot_victim exports for chariot_demo to corrupt (see chariot_victim.c). */
#ifndef CHARIOT_VICTIM_H
#define CHARIOT_VICTIM_H

#include <linux/types.h>

extern u64 chariot_victim_value;
extern void *chariot_victim_page;
char *chariot_victim_kstrdup(const char *s);

#endif
