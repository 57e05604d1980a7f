/*
 * The PL011 UART (PrimeCell UART (PL011) Technical Reference Manual, the
 * register descriptions), polled, and the exit from QEMU.
 *
 * Exit: Arm semihosting's SYS_EXIT (Semihosting for AArch32 and AArch64,
 * "SYS_EXIT (0x18)") with ADP_Stopped_ApplicationExit and the exit
 * status as subcode makes QEMU exit with that status, the same
 * (value << 1) | 1 the x86_64 image gets from isa-debug-exit; the runner
 * enables semihosting. Without it PSCI SYSTEM_OFF (Arm Power State
 * Coordination Interface, DEN0022, "SYSTEM_OFF") powers the machine off, and
 * QEMU exits with 0: no verdict.
 */
#include "guest.h"
#include "bareusb/util.h"

#define VIRT_UART_BASE 0x09000000u /* hw/arm/virt.c VIRT_UART */
#define UART_CLK_HZ    24000000u   /* virt's apb-pclk ("clk24mhz") */

#define UARTDR	    0x000
#define UARTFR	    0x018
#define UARTFR_RXFE (1u << 4) /* receive FIFO empty */
#define UARTFR_TXFF (1u << 5)
#define UARTIBRD    0x024
#define UARTFBRD    0x028
#define UARTLCR_H   0x02c
#define LCR_H_WLEN8 (3u << 5)
#define LCR_H_FEN   (1u << 4)
#define UARTCR	    0x030
#define CR_UARTEN   (1u << 0)
#define CR_TXE	    (1u << 8)
#define CR_RXE	    (1u << 9)
#define UARTIMSC    0x038
#define UARTICR	    0x044

#define SEMIHOSTING_SYS_OPEN	     0x01
#define SEMIHOSTING_SYS_WRITE	     0x05
#define SEMIHOSTING_SYS_EXIT	     0x18
#define SEMIHOSTING_MODE_WB	     5 /* fopen's "wb" */
#define ADP_STOPPED_APPLICATION_EXIT 0x20026
#define PSCI_SYSTEM_OFF		     0x84000008u

static uintptr_t uart = VIRT_UART_BASE;
bool psci_use_smc;

void console_set_base(uintptr_t base)
{
	uart = base;
}

void console_init(void)
{
	/* Baud divisor = UARTCLK / (16 * 115200) = 13.02: IBRD 13, FBRD
	 * round(0.02 * 64) = 1 (PL011 TRM, UARTIBRD/UARTFBRD). */
	mmio_write32(uart + UARTCR, 0);
	mmio_write32(uart + UARTIMSC, 0);
	mmio_write32(uart + UARTICR, 0x7ff);
	mmio_write32(uart + UARTIBRD, UART_CLK_HZ / (16 * 115200));
	mmio_write32(uart + UARTFBRD, 1);
	mmio_write32(uart + UARTLCR_H, LCR_H_WLEN8 | LCR_H_FEN);
	mmio_write32(uart + UARTCR, CR_UARTEN | CR_TXE | CR_RXE);
}

void console_putc(char c)
{
	for (unsigned i = 0; i < 100000; i++)
		if (!(mmio_read32(uart + UARTFR) & UARTFR_TXFF))
			break;
	mmio_write32(uart + UARTDR, (uint8_t)c);
}

int console_getc(void)
{
	if (mmio_read32(uart + UARTFR) & UARTFR_RXFE)
		return -1;
	return (int)(mmio_read32(uart + UARTDR) & 0xffu); /* bits 11:8 are error flags */
}

void guest_exit(uint32_t code)
{
	const uint64_t block[2] = {ADP_STOPPED_APPLICATION_EXIT,
				   (uint64_t)code << 1 | 1};

	semihosting_call(SEMIHOSTING_SYS_EXIT, block);
	/* Still here: semihosting is off (the HLT was undefined). */
	kprintf("# no semihosting: PSCI SYSTEM_OFF (QEMU exits 0, no "
		"verdict)\n");
	if (psci_use_smc)
		psci_smc(PSCI_SYSTEM_OFF);
	else
		psci_hvc(PSCI_SYSTEM_OFF);
	for (;;)
		__asm__ volatile("wfi");
}

/*
 * The capture line. virt has one PL011 for the normal world, so usbmon
 * records go to a host file through semihosting instead (SYS_OPEN with
 * mode "wb", then SYS_WRITE; "Semihosting for AArch32 and AArch64"), named
 * by the guest word capture=PATH, which runner --pcap passes. Without the
 * word, or without semihosting, there is no capture line.
 */
static uint64_t capture_handle;
static bool capture_open;

bool capture_init(void)
{
	const char *path = cmdline_get("capture");
	uint64_t block[3], h;

	if (!path || !*path)
		return false;
	block[0] = (uintptr_t)path;
	block[1] = SEMIHOSTING_MODE_WB;
	block[2] = bu_strlen(path);
	h = semihosting_call(SEMIHOSTING_SYS_OPEN, block);
	if (h == ~0ull)
		return false;
	capture_handle = h;
	capture_open = true;
	return true;
}

void capture_write(const void *p, size_t n)
{
	uint64_t block[3] = { capture_handle, (uintptr_t)p, n };

	/* SYS_WRITE answers the count of bytes not written: 0 when done. */
	if (capture_open && semihosting_call(SEMIHOSTING_SYS_WRITE, block) != 0)
		capture_open = false;
}
