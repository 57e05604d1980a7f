/*
 * COM1 (0x3F8), 115200 8N1, polled, and the exit through QEMU's
 * isa-debug-exit device (the runner adds it at port 0xF4).
 */
#include "guest.h"

#define COM1	      0x3f8
#define COM2	      0x2f8 /* the capture line */
#define UART_THR      0 /* transmit holding (DLAB=0) */
#define UART_DLL      0 /* divisor low (DLAB=1) */
#define UART_IER      1
#define UART_DLM      1
#define UART_FCR      2
#define UART_LCR      3
#define UART_MCR      4
#define UART_LSR      5
#define UART_LSR_DR   0x01 /* data ready */
#define UART_LSR_THRE 0x20

/** 115200 8N1, FIFO on, no interrupts. */
static void uart_init(uint16_t base)
{
	outb(base + UART_IER, 0x00);
	outb(base + UART_LCR, 0x80); /* DLAB on */
	outb(base + UART_DLL, 1);    /* 115200 = 115200 / 1 */
	outb(base + UART_DLM, 0);
	outb(base + UART_LCR, 0x03); /* 8N1, DLAB off */
	outb(base + UART_FCR, 0xc7); /* FIFO on, cleared, 14-byte trigger */
	outb(base + UART_MCR, 0x03); /* DTR, RTS */
}

static void uart_putc(uint16_t base, uint8_t c)
{
	for (unsigned i = 0; i < 100000; i++)
		if (inb(base + UART_LSR) & UART_LSR_THRE)
			break;
	outb(base + UART_THR, c);
}

void console_init(void)
{
	uart_init(COM1);
}

void console_putc(char c)
{
	uart_putc(COM1, (uint8_t)c);
}

int console_getc(void)
{
	if (!(inb(COM1 + UART_LSR) & UART_LSR_DR))
		return -1;
	return inb(COM1 + UART_THR); /* RBR: the receive buffer, same offset */
}

bool capture_init(void)
{
	/* No second -serial: nothing decodes the port, reads float high. */
	if (inb(COM2 + UART_LSR) == 0xff)
		return false;
	uart_init(COM2);
	return true;
}

void capture_write(const void *p, size_t n)
{
	for (const uint8_t *b = p; n--; b++)
		uart_putc(COM2, *b);
}

void guest_exit(uint32_t code)
{
	outl(GUEST_EXIT_PORT, code);
	/* Without isa-debug-exit: stop here; the runner's timeout ends QEMU. */
	for (;;)
		__asm__ volatile("cli; hlt");
}
