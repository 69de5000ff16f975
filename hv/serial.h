/* 16550 UART driver for the hypervisor's own log port. */
#ifndef HV_SERIAL_H
#define HV_SERIAL_H

#include <stddef.h>
#include <stdint.h>

#define COM1_BASE 0x3f8
#define COM2_BASE 0x2f8
#define UART_PORT_COUNT 8

void serial_init(uint16_t base);
void serial_write(const char *s, size_t n);
uint16_t serial_base(void);
/* Waits until every byte written has left the UART (before power-off). */
void serial_drain(void);

#endif
