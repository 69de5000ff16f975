#include "hv/serial.h"

#include "hv/x86.h"

enum {
    UART_THR = 0, /* transmit holding (DLAB=0) */
    UART_DLL = 0, /* divisor latch low (DLAB=1) */
    UART_IER = 1,
    UART_DLM = 1,
    UART_FCR = 2,
    UART_LCR = 3,
    UART_MCR = 4,
    UART_LSR = 5,
};
#define LCR_DLAB 0x80
#define LCR_8N1 0x03
#define LSR_THRE 0x20
#define LSR_TEMT 0x40 /* transmitter completely empty */
#define FCR_ENABLE_CLEAR 0x07
#define MCR_DTR_RTS_OUT2 0x0b

static uint16_t uart_base;

void serial_init(uint16_t base)
{
    uart_base = base;
    outb(base + UART_IER, 0); /* the hypervisor polls; it never takes interrupts */
    outb(base + UART_LCR, LCR_DLAB);
    outb(base + UART_DLL, 1); /* 115200 baud */
    outb(base + UART_DLM, 0);
    outb(base + UART_LCR, LCR_8N1);
    outb(base + UART_FCR, FCR_ENABLE_CLEAR);
    outb(base + UART_MCR, MCR_DTR_RTS_OUT2);
}

uint16_t serial_base(void) { return uart_base; }

static void serial_putc(char c)
{
    /* Bounded wait: a missing UART (LSR reads 0) must not hang the hypervisor. */
    for (unsigned spin = 0; spin < 100000 && !(inb(uart_base + UART_LSR) & LSR_THRE); spin++)
        ;
    outb(uart_base + UART_THR, (uint8_t)c);
}

void serial_drain(void)
{
    for (unsigned spin = 0; uart_base && spin < 1000000 && !(inb(uart_base + UART_LSR) & LSR_TEMT); spin++)
        ;
}

void serial_write(const char *s, size_t n)
{
    if (!uart_base)
        return;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\n')
            serial_putc('\r');
        serial_putc(s[i]);
    }
}
