/*
 * The smallest useful bareusb embedding: an i686 kernel that finds the
 * xHCI controller on PCI, hands bareusb a platform table, waits for the
 * bus to enumerate, finds a USB stick by its interface class and claims
 * it, and reads its SCSI INQUIRY data with three synchronous bulk
 * transfers (USB Mass Storage Class Bulk-Only Transport 1.0, §5).
 *
 * Everything a real kernel would already have is here in its shortest
 * form: a serial console, PCI configuration access, a clock, and memory.
 * Paging is off (multiboot hands over with it off), so a CPU address is
 * the bus address the controller uses, and all RAM below 4 GiB is
 * reachable by DMA. docs/embedding.md explains each step.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bareusb/errors.h"
#include "bareusb/platform.h"
#include "bareusb/usb.h"
#include "bareusb/util.h"
#include "bareusb/xhci.h"

/* ------------------------------------------------------------------------ */
/* Port I/O, serial console, exit                                           */

static inline void outb(uint16_t port, uint8_t v)
{
	__asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}

static inline uint8_t inb(uint16_t port)
{
	uint8_t v;

	__asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

static inline void outl(uint16_t port, uint32_t v)
{
	__asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(port));
}

static inline uint32_t inl(uint16_t port)
{
	uint32_t v;

	__asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

#define COM1 0x3f8

static void serial_putc(char c)
{
	while (!(inb(COM1 + 5) & 0x20)) /* LSR.THRE: transmitter empty */
		;
	outb(COM1, (uint8_t)c);
}

static void kprintf(const char *fmt, ...)
{
	char line[256];
	va_list ap;

	va_start(ap, fmt);
	bu_vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	for (const char *p = line; *p; p++) {
		if (*p == '\n')
			serial_putc('\r');
		serial_putc(*p);
	}
}

/* QEMU's isa-debug-exit device (-device isa-debug-exit,iobase=0xf4) ends
 * the emulator with status (value << 1) | 1: 33 for pass, 35 for fail. */
static void __attribute__((noreturn)) finish(bool ok)
{
	kprintf("example: %s\n", ok ? "PASS" : "FAIL");
	outb(0xf4, ok ? 0x10 : 0x11);
	for (;;)
		__asm__ volatile("cli; hlt");
}

/* The C library functions a compiler may call on its own, and the four the
 * library needs (docs/embedding.md, "Runtime symbols"). */
void *memcpy(void *dst, const void *src, size_t n)
{
	return bu_memcpy(dst, src, n);
}

void *memset(void *dst, int c, size_t n)
{
	return bu_memset(dst, c, n);
}

int memcmp(const void *a, const void *b, size_t n)
{
	return bu_memcmp(a, b, n);
}

void *memmove(void *dst, const void *src, size_t n)
{
	unsigned char *d = dst;
	const unsigned char *s = src;

	if (d < s)
		return bu_memcpy(dst, src, n);
	while (n--)
		d[n] = s[n];
	return dst;
}

/* ------------------------------------------------------------------------ */
/* Clock: PIT channel 0 free-running at 1.193182 MHz                        */

static uint16_t pit_last;
static uint64_t clock_us;
static uint32_t clock_rem; /* PIT ticks * 1000 not yet counted as us */

static uint16_t pit_read(void)
{
	outb(0x43, 0x00); /* latch channel 0 */
	uint8_t lo = inb(0x40);
	uint8_t hi = inb(0x40);

	return (uint16_t)(lo | hi << 8);
}

static void clock_init(void)
{
	outb(0x43, 0x34); /* channel 0, lo/hi byte, mode 2 (rate generator) */
	outb(0x40, 0);	  /* reload 65536: wraps every 55 ms */
	outb(0x40, 0);
	pit_last = pit_read();
}

/* Must be read more often than every 55 ms; the library reads it on every
 * poll. 1193 ticks a millisecond is 0.015% slow: fine for timeouts. */
static uint64_t clock_now(void)
{
	uint16_t now = pit_read();
	uint16_t ticks = (uint16_t)(pit_last - now); /* it counts down */

	pit_last = now;
	clock_rem += (uint32_t)ticks * 1000u;
	clock_us += clock_rem / 1193u;
	clock_rem %= 1193u;
	return clock_us;
}

/* ------------------------------------------------------------------------ */
/* Memory: one static arena, bump allocation                                */

/*
 * A kernel hands bareusb memory from its own allocators; here one arena
 * serves both kinds. Freed memory is not reused: fine for a kernel that
 * runs one job and stops.
 */
static uint8_t arena[2u << 20] __attribute__((aligned(4096)));
static size_t arena_used;

static void *arena_alloc(size_t size, size_t align, size_t boundary)
{
	uintptr_t p = ((uintptr_t)arena + arena_used + align - 1) & ~(uintptr_t)(align - 1);

	/* Move past a boundary the block would straddle (xHCI 1.2 §6.1). */
	if (boundary && (p & ~(boundary - 1)) != ((p + size - 1) & ~(boundary - 1)))
		p = (p + boundary - 1) & ~(uintptr_t)(boundary - 1);
	if (p + size > (uintptr_t)arena + sizeof(arena))
		return NULL;
	arena_used = p + size - (uintptr_t)arena;
	return bu_memset((void *)p, 0, size);
}

/* ------------------------------------------------------------------------ */
/* The platform table (include/bareusb/platform.h)                          */

static uint32_t plat_read32(void *ctx, uintptr_t addr)
{
	(void)ctx;
	return *(volatile uint32_t *)addr;
}

static void plat_write32(void *ctx, uintptr_t addr, uint32_t val)
{
	(void)ctx;
	*(volatile uint32_t *)addr = val;
}

/* An i686 kernel's memory is below 4 GiB: every DMA mask is met. x86 DMA
 * is cache-coherent: no dma_sync_* hooks. */
static void *plat_dma_alloc(void *ctx, size_t size, size_t align, size_t boundary,
			    uint64_t dma_mask, uint64_t *bus)
{
	void *p = arena_alloc(size, align, boundary);

	(void)ctx, (void)dma_mask;
	if (p)
		*bus = (uintptr_t)p; /* paging off: CPU address = bus address */
	return p;
}

static void plat_dma_free(void *ctx, void *ptr, uint64_t bus, size_t size)
{
	(void)ctx, (void)ptr, (void)bus, (void)size;
}

static int plat_dma_map(void *ctx, void *buf, size_t len, enum bu_dma_dir dir,
			uint64_t dma_mask, struct bu_dma_chunk *chunks, int max)
{
	(void)ctx, (void)dir, (void)dma_mask;
	if (max < 1)
		return BU_ENOMEM;
	chunks[0].bus = (uintptr_t)buf; /* one physically contiguous piece */
	chunks[0].len = len;
	return 1;
}

static void *plat_alloc(void *ctx, size_t size)
{
	(void)ctx;
	return arena_alloc(size, 16, 0);
}

static void plat_free(void *ctx, void *ptr, size_t size)
{
	(void)ctx, (void)ptr, (void)size;
}

static uint64_t plat_now_us(void *ctx)
{
	(void)ctx;
	return clock_now();
}

static void plat_log(void *ctx, enum bu_log_level level, const char *line)
{
	(void)ctx;
	if (level <= BU_LOG_INFO)
		kprintf("bareusb: %s\n", line);
}

static const struct bu_platform platform = {
	.read32 = plat_read32,
	.write32 = plat_write32,
	.dma_alloc = plat_dma_alloc,
	.dma_free = plat_dma_free,
	.dma_map = plat_dma_map,
	.alloc = plat_alloc,
	.free = plat_free,
	.now_us = plat_now_us,
	.log = plat_log,
};

/* ------------------------------------------------------------------------ */
/* PCI: find the xHCI controller (class 0x0c, subclass 0x03, prog-if 0x30)  */

static uint32_t pci_read(unsigned bdf, unsigned off)
{
	outl(0xcf8, 0x80000000u | bdf << 8 | (off & 0xfc));
	return inl(0xcfc);
}

static void pci_write(unsigned bdf, unsigned off, uint32_t v)
{
	outl(0xcf8, 0x80000000u | bdf << 8 | (off & 0xfc));
	outl(0xcfc, v);
}

static uint32_t cfg_read(void *ctx, unsigned off)
{
	return pci_read((unsigned)(uintptr_t)ctx, off);
}

static void cfg_write(void *ctx, unsigned off, uint32_t v)
{
	pci_write((unsigned)(uintptr_t)ctx, off, v);
}

/* Returns BAR0's address (the firmware assigned it), or 0. */
static uintptr_t find_xhci(struct bu_xhci_pci *id)
{
	for (unsigned bdf = 0; bdf < 256 * 32 * 8; bdf++) {
		uint32_t vidpid = pci_read(bdf, 0x00);

		if ((vidpid & 0xffff) == 0xffff || pci_read(bdf, 0x08) >> 8 != 0x0c0330)
			continue;
		uint32_t bar = pci_read(bdf, 0x10);

		/* A 64-bit BAR above 4 GiB is out of reach with paging off. */
		if ((bar & 0x6) == 0x4 && pci_read(bdf, 0x14) != 0)
			continue;
		pci_write(bdf, 0x04, pci_read(bdf, 0x04) | 0x6); /* memory + bus master */
		id->vendor = (uint16_t)vidpid;
		id->device = (uint16_t)(vidpid >> 16);
		id->revision = (uint8_t)pci_read(bdf, 0x08);
		id->cfg_read32 = cfg_read;
		id->cfg_write32 = cfg_write;
		id->cfg_ctx = (void *)(uintptr_t)bdf;
		kprintf("example: xHCI %04x:%04x at %02x:%02x.%x, BAR0 %08x\n", id->vendor,
			id->device, bdf >> 8, bdf >> 3 & 31, bdf & 7, bar & ~0xfu);
		return bar & ~(uintptr_t)0xf;
	}
	return 0;
}

/* ------------------------------------------------------------------------ */
/* Mass storage: INQUIRY over Bulk-Only Transport                           */

/* The stick: its device, bulk endpoint addresses, and our claim on it. */
struct stick {
	struct bu_usb_device *dev;
	uint8_t in, out;
};

/* Hot-plug listener: called from poll when a device has finished enumeration. */
static void device_added(void *ctx, struct bu_usb_device *dev)
{
	(void)ctx;
	kprintf("example: %04x:%04x \"%s\" on port %u: %s\n", dev->desc.idVendor,
		dev->desc.idProduct, dev->product, dev->port,
		dev->state == BU_DEV_CONFIGURED ? "configured" : bu_strerror(dev->error));
}

/* Find a Bulk-Only mass-storage interface, claim it, note its endpoints. */
static bool stick_find(struct bu_usb_bus *bus, struct stick *s)
{
	static const struct bu_usb_match bot = {
		.flags = BU_MATCH_CLASS | BU_MATCH_PROTOCOL, .class_code = 0x08, .protocol = 0x50,
	};
	struct bu_usb_device *dev;

	if (bu_usb_find_device(bus, &bot, &dev))
		return false;
	for (unsigned i = 0; i < dev->num_ifaces; i++) {
		const struct bu_usb_alt_info *alt = dev->ifaces[i].info;
		const struct bu_usb_ep_info *eps =
			dev->configs[dev->active_config].eps + alt->first_ep;

		if (alt->class_code != 0x08 || alt->protocol != 0x50 ||
		    bu_usb_claim_interface(dev, alt->number, s))
			continue;
		for (unsigned e = 0; e < alt->num_eps; e++) {
			if ((eps[e].attributes & 3) != BU_EP_BULK)
				continue;
			if (eps[e].address & 0x80)
				s->in = eps[e].address;
			else
				s->out = eps[e].address;
		}
		s->dev = dev;
		return s->in && s->out;
	}
	return false;
}

static bool inquiry(struct stick *s)
{
	static uint8_t cbw[31], data[36], csw[13]; /* DMA: not on the stack */
	size_t got;
	int rc;

	bu_memset(cbw, 0, sizeof(cbw));
	bu_memcpy(cbw, "USBC", 4);	    /* dCBWSignature */
	cbw[4] = 0x42;			    /* dCBWTag */
	cbw[8] = sizeof(data);		    /* dCBWDataTransferLength */
	cbw[12] = 0x80;			    /* bmCBWFlags: data IN */
	cbw[14] = 6;			    /* bCBWCBLength */
	cbw[15] = 0x12;			    /* INQUIRY */
	cbw[19] = sizeof(data);		    /* allocation length */
	rc = bu_usb_bulk(s->dev, s->out, cbw, sizeof(cbw), &got, 2000);
	if (!rc)
		rc = bu_usb_bulk(s->dev, s->in, data, sizeof(data), &got, 2000);
	if (!rc)
		rc = bu_usb_bulk(s->dev, s->in, csw, sizeof(csw), &got, 2000);
	if (rc) {
		kprintf("example: INQUIRY failed: %s\n", bu_strerror(rc));
		return false;
	}
	if (got != sizeof(csw) || bu_memcmp(csw, "USBS", 4) || csw[4] != 0x42 || csw[12]) {
		kprintf("example: bad CSW (status %u)\n", csw[12]);
		return false;
	}
	kprintf("example: INQUIRY vendor \"%.8s\" product \"%.16s\" revision \"%.4s\"\n",
		(const char *)data + 8, (const char *)data + 16, (const char *)data + 32);
	return true;
}

void kmain(void);

void kmain(void)
{
	struct bu_xhci_options opts = { 0 };
	static struct bu_usb_listener hotplug = { .device_added = device_added };
	struct stick stick = { 0 };
	struct bu_usb_bus *bus;
	uintptr_t bar;
	int rc;

	kprintf("\nexample: bareusb in a tiny i686 kernel\n");
	clock_init();
	bar = find_xhci(&opts.pci);
	if (!bar) {
		kprintf("example: no xHCI controller\n");
		finish(false);
	}
	rc = bu_xhci_create(bar, &platform, &opts, 0, &bus);
	if (rc) {
		kprintf("example: bu_xhci_create: %s\n", bu_strerror(rc));
		finish(false);
	}
	bu_usb_add_listener(bus, &hotplug);

	/* Poll until every port has settled (ports are debounced for 100 ms,
	 * USB 2.0 §7.1.7.3), at most 5 s. */
	uint64_t start = clock_now();

	while (clock_now() - start < 5000000u) {
		bu_usb_bus_poll(bus);
		if (clock_now() - start > 200000u && bu_usb_bus_idle(bus))
			break;
	}
	kprintf("example: bus settled after %u ms\n", (unsigned)bu_div64_u32(clock_now() - start, 1000u, NULL));
	if (!stick_find(bus, &stick)) {
		kprintf("example: no mass-storage device\n");
		finish(false);
	}
	bool ok = inquiry(&stick);

	bu_usb_bus_destroy(bus);
	finish(ok);
}
