/*
 * bareusb QEMU test image: find every xHCI controller on PCI, bring each up
 * with bareusb, wait until every bus has settled, then report what was found
 * (device tree, one `usbdev` JSON line per device, timing) and the verdict
 * as TAP, and leave QEMU with a status that says pass or fail (guest_exit).
 * With `watch` on the command line it keeps polling and reports hot-plug
 * instead of exiting. The same code runs on every architecture's image.
 *
 * Output contracts: docs/ and README.md ("Output").
 */
#include "guest.h"
#include "winusb_test.h"

#include "bareusb/desc.h"
#include "bareusb/errors.h"
#include "bareusb/usb.h"
#include "bareusb/util.h"
#include "bareusb/xhci.h"

#ifndef GUEST_ARENA_MIB
#define GUEST_ARENA_MIB 64
#endif
#ifndef GUEST_VERSION
#define GUEST_VERSION "unknown"
#endif

#define MAX_PCI	 256
#define MAX_CTRL 8
#define MAX_DEVS 128
#define JSON_BUF 16384

#define DEFAULT_TIMEOUT_MS 15000
/* Watch mode: print `usbmem` once the bus has been quiet this long after a
 * hot-plug event (Disable Slot and its frees complete in between). */
#define MEM_QUIET_US 30000

/** One xHCI controller found on PCI, and its bus once started. */
struct ctrl {
	struct pci_func pci;
	char name[16];
	uint64_t bar, bar_size;
	struct bu_usb_bus *bus;
	int create_err;
	uint64_t t_create_us; /* just before bu_xhci_create (reset start) */
	uint64_t t_idle_us;   /* first poll that found the bus idle */
	bool settled;
	unsigned added; /* device_added callbacks seen */
	volatile unsigned irqs; /* `irq`: interrupts bu_xhci_irq claimed */
	bool msi;	/* `irq`: its MSI reaches on_msi (guest_irq_attach_msi) */
	volatile unsigned msis; /* interrupts taken through MSI */
};

static struct pci_func pci_funcs[MAX_PCI];
static struct ctrl ctrls[MAX_CTRL];
static unsigned n_ctrls;
static bool started; /* start-up report done; callbacks now print */
static struct bu_xhci_trace_filter trace_filter; /* `trace=...` */
static bool usbmon_on; /* `usbmon`: records go out on the capture line */
static bool trace_filtered;
static bool use_irq; /* `irq`: the interrupter is on; ack it before each poll */
static char json_buf[JSON_BUF];
static bool mem_dirty;	       /* a hot-plug event since the last usbmem */
static uint64_t last_event_us; /* guest clock of the last hot-plug event */

/* ------------------------------------------------------------------------ */
/* Device reporting                                                         */

void guest_dev_path(const struct bu_usb_device *dev, char *buf, size_t size)
{
	struct bu_strbuf sb;
	unsigned tiers = dev->tier;

	if (tiers > BU_USB_MAX_PATH)
		tiers = BU_USB_MAX_PATH;
	bu_strbuf_init(&sb, buf, size);
	for (unsigned i = 0; i < tiers; i++)
		bu_strbuf_printf(&sb, "%s%u", i ? "." : "", dev->path[i]);
	if (!tiers)
		bu_strbuf_printf(&sb, "%u", dev->root_port);
}

#define dev_path guest_dev_path

/** Print `usbdev <json>` for one device. */
static void print_usbdev(const struct bu_usb_device *dev)
{
	size_t need = bu_usb_device_json(dev, json_buf, sizeof(json_buf));

	if (need < sizeof(json_buf)) {
		kprintf("usbdev %s\n", json_buf);
		return;
	}
	char *big = arena_alloc(need + 1, 16, 0);

	if (!big) {
		kprintf("# usbdev JSON of %zu bytes does not fit\n", need);
		return;
	}
	bu_usb_device_json(dev, big, need + 1);
	kprintf("usbdev %s\n", big);
	arena_free(big, need + 1);
}

/** `b - a`, or 0 when `b` is not after `a` (a time never reached is 0). */
static uint64_t span_us(uint64_t a, uint64_t b)
{
	return b > a ? b - a : 0;
}

/**
 * Print `usbenum {...}`: the device's own enumeration time on the guest
 * clock (attach after port reset/recovery → configured or failed), when
 * it finished counted from its controller's start, and its timeline: each
 * step from its port's debounce to the class drivers' probe, contiguous,
 * adding up to `total_us` (docs/contracts.md). A device still enumerating
 * (the bus never settled) has `done_us` 0 and its running step's time so
 * far.
 */
static void print_usbenum(const struct bu_usb_device *dev)
{
	char path[32];
	uint64_t t0 = dev->bus->stats.t_start_us;
	bool done = dev->state != BU_DEV_ENUMERATING && dev->state != BU_DEV_NEW;
	uint64_t end = done ? dev->t_done_us : clock_now_us();
	uint64_t first = dev->num_steps ? dev->steps[0].start_us : dev->t_start_us;

	dev_path(dev, path, sizeof(path));
	kprintf("usbenum {\"bus\":%u,\"path\":\"%s\",\"start_us\":%llu,"
		"\"done_us\":%llu,\"enum_us\":%llu,\"since_start_us\":%llu,"
		"\"total_us\":%llu,\"steps\":[",
		dev->bus->index, path, (unsigned long long)dev->t_start_us,
		(unsigned long long)(done ? dev->t_done_us : 0),
		(unsigned long long)(done ? span_us(dev->t_start_us, dev->t_done_us) : 0),
		(unsigned long long)(done ? span_us(t0, dev->t_done_us) : 0),
		(unsigned long long)span_us(first, end));
	for (unsigned k = 0; k < dev->num_steps; k++) {
		const struct bu_usb_step_time *s = &dev->steps[k];
		bool running = dev->steps_open && k + 1 == dev->num_steps;

		kprintf("%s{\"step\":\"%s\",\"start_us\":%llu,\"us\":%llu}", k ? "," : "",
			bu_usb_step_name(s->step), (unsigned long long)s->start_us,
			(unsigned long long)(running ? span_us(s->start_us, end) : s->us));
	}
	kprintf("]%s%s}\n", dev->steps_truncated ? ",\"steps_truncated\":true" : "",
		done ? "" : ",\"unfinished\":true");
}

/** Path order: root port, then each hub port. */
static int dev_cmp(const struct bu_usb_device *a, const struct bu_usb_device *b)
{
	unsigned ta = BU_MIN(a->tier, BU_USB_MAX_PATH);
	unsigned tb = BU_MIN(b->tier, BU_USB_MAX_PATH);

	for (unsigned i = 0; i < ta && i < tb; i++)
		if (a->path[i] != b->path[i])
			return a->path[i] < b->path[i] ? -1 : 1;
	return (int)ta - (int)tb;
}

/** The bus's devices in path order; returns the count (<= max). */
static unsigned sorted_devices(struct bu_usb_bus *bus,
			       struct bu_usb_device **out, unsigned max)
{
	unsigned n = 0;

	for (struct bu_usb_device *d = bus->devices; d && n < max;
	     d = d->next) {
		unsigned i = n++;

		while (i > 0 && dev_cmp(out[i - 1], d) > 0) {
			out[i] = out[i - 1];
			i--;
		}
		out[i] = d;
	}
	return n;
}

static const char *dev_state_name(const struct bu_usb_device *dev)
{
	switch (dev->state) {
	case BU_DEV_CONFIGURED:
		return "configured";
	case BU_DEV_FAILED:
		return "FAILED";
	case BU_DEV_GONE:
		return "gone";
	case BU_DEV_ENUMERATING:
		return "enumerating";
	default:
		return "new";
	}
}

/** One line of the human-readable tree. */
static void print_tree_line(const struct bu_usb_device *dev)
{
	static char line[512];

	bu_usb_device_tree_line(dev, line, sizeof(line));
	kprintf("%s\n", line);
}

/* ------------------------------------------------------------------------ */
/* Bus events                                                               */

static void on_device_added(void *ctx, struct bu_usb_device *dev)
{
	struct ctrl *c = ctx;

	c->added++;
	if (started) {
		print_usbdev(dev);
		print_usbenum(dev);
		mem_dirty = true;
		last_event_us = clock_now_us();
	}
}

static void on_device_removed(void *ctx, struct bu_usb_device *dev)
{
	char path[32];

	(void)ctx;
	guest_pm_forget(dev);
	if (!started)
		return;
	dev_path(dev, path, sizeof(path));
	kprintf("usbgone {\"bus\":%u,\"path\":\"%s\"}\n", dev->bus->index,
		path);
	mem_dirty = true;
	last_event_us = clock_now_us();
}

/**
 * Device slots the controller has in use: the non-zero entries 1..MaxSlotsEn
 * of its Device Context Base Address Array (xHCI §6.1), read back through
 * DCBAAP (identity mapping: the bus address is the CPU address). The
 * driver fills an entry on Enable Slot and clears it when the slot is freed.
 */
static unsigned slots_in_use(const struct ctrl *c, unsigned *enabled)
{
	uintptr_t op =
	    (uintptr_t)c->bar + (mmio_read32((uintptr_t)c->bar) & 0xff);
	unsigned max = mmio_read32(op + 0x38) & 0xff; /* CONFIG.MaxSlotsEn */
	uint64_t dcbaap =
	    mmio_read32(op + 0x30) | (uint64_t)mmio_read32(op + 0x34) << 32;
	const volatile uint64_t *dcbaa =
	    (const volatile uint64_t *)(uintptr_t)(dcbaap & ~0x3full);
	unsigned used = 0;

	*enabled += max;
	if (!dcbaa)
		return 0;
	for (unsigned s = 1; s <= max; s++)
		if (dcbaa[s])
			used++;
	return used;
}

/**
 * Print `usbmem {...}`: slots in use over every controller, devices the
 * core holds, and the memory held through the platform table and the arena.
 */
static void print_usbmem(void)
{
	unsigned used = 0, slots = 0, devs = 0;

	for (unsigned i = 0; i < n_ctrls; i++) {
		if (!ctrls[i].bus)
			continue;
		used += slots_in_use(&ctrls[i], &slots);
		for (struct bu_usb_device *d = ctrls[i].bus->devices; d;
		     d = d->next)
			devs++;
	}
	kprintf("usbmem {\"slots_used\":%u,\"slots\":%u,\"devices\":%u,"
		"\"dma_bytes\":%zu,\"object_bytes\":%zu,\"arena_bytes\":%zu}\n",
		used, slots, devs, guest_dma_in_use(), guest_obj_in_use(),
		arena_in_use());
}

/* ------------------------------------------------------------------------ */
/* Start-up                                                                 */

/** Place the arena after the image, inside RAM. */
static void setup_arena(uint64_t ram_top)
{
	extern char __image_end[];
	uint64_t base =
	    ((uintptr_t)__image_end + (2u << 20) - 1) & ~((2ull << 20) - 1);
	uint64_t want = (uint64_t)GUEST_ARENA_MIB << 20;
	uint64_t size = want;

	if (ram_top && base + size > ram_top) {
		size = ram_top > base + (1u << 20) ? ram_top - base : 0;
		glog(BU_LOG_WARN, "arena: only %llu of %llu MiB fit in RAM",
		     (unsigned long long)(size >> 20),
		     (unsigned long long)(want >> 20));
	}
	if (!size)
		guest_panic("no RAM for the DMA arena (RAM top 0x%llx)",
			    (unsigned long long)ram_top);
	arena_init((uintptr_t)base, (size_t)size);
	kprintf("# arena: %llu KiB at 0x%llx (RAM top 0x%llx)\n",
		(unsigned long long)(arena_size() >> 10),
		(unsigned long long)base, (unsigned long long)ram_top);
}

/** Scan PCI and remember every xHCI controller (class 0C0330). */
static void find_controllers(void)
{
	unsigned n;

	if (!pci_arch_init())
		glog(BU_LOG_WARN, "pci: no configuration space found");
	n = pci_scan(pci_funcs, MAX_PCI);

	if (n > MAX_PCI) {
		glog(BU_LOG_WARN, "pci: %u functions, only %u examined", n,
		     MAX_PCI);
		n = MAX_PCI;
	}
	kprintf("# pci: %u function(s)\n", n);
	for (unsigned i = 0; i < n; i++) {
		const struct pci_func *f = &pci_funcs[i];
		char name[16];
		bool xhci = (f->class_rev >> 8) == 0x0c0330;

		pci_name(f, name);
		glog(xhci ? BU_LOG_INFO : BU_LOG_DEBUG,
		     "pci %s %04x:%04x class %06x%s", name, f->vendor,
		     f->device, (unsigned)(f->class_rev >> 8),
		     xhci ? " xHCI" : "");
		if (!xhci)
			continue;
		if (n_ctrls == MAX_CTRL) {
			glog(BU_LOG_WARN,
			     "more than %u xHCI controllers; ignoring %s",
			     MAX_CTRL, name);
			continue;
		}
		ctrls[n_ctrls].pci = *f;
		bu_memcpy(ctrls[n_ctrls].name, name, sizeof(name));
		n_ctrls++;
	}
}

/**
 * Test aid (`bar_high=<addr>`): move a 64-bit BAR0 to addr + i * 1 MiB so
 * the mapping of MMIO above 4 GiB is exercised. QEMU decodes PCI memory
 * anywhere RAM is not.
 */
static void relocate_bar(struct ctrl *c, unsigned i)
{
	uint64_t to = cmdline_get_u64("bar_high", 0);
	uint32_t lo = pci_read32(&c->pci, 0x10);

	if (!to || (lo & 0x7) != 0x4)
		return;
	to += (uint64_t)i << 20;
	pci_write16(&c->pci, 0x04,
		    (uint16_t)(pci_read16(&c->pci, 0x04) & ~0x0002u));
	pci_write32(&c->pci, 0x10, (uint32_t)to | (lo & 0xf));
	pci_write32(&c->pci, 0x14, (uint32_t)(to >> 32));
}

uintptr_t guest_prepare_controller(unsigned i)
{
	struct ctrl *c = &ctrls[i];

	relocate_bar(c, i);
	if (!pci_bar_mem(&c->pci, 0, &c->bar, &c->bar_size)) {
		tap(false,
		    "xhci %s started # BAR0 is not an assigned memory BAR",
		    c->name);
		c->create_err = BU_ENODEV;
		return 0;
	}
	if (!paging_map_mmio(c->bar, c->bar_size)) {
		tap(false, "xhci %s started # cannot map BAR0 0x%llx", c->name,
		    (unsigned long long)c->bar);
		c->create_err = BU_ENOMEM;
		return 0;
	}
	pci_enable_mmio_dma(&c->pci);
	/* xHCI 1.2 §5.3: CAPLENGTH/HCIVERSION and HCSPARAMS1, read-only. */
	uint32_t cap = mmio_read32((uintptr_t)c->bar);
	uint32_t hcs1 = mmio_read32((uintptr_t)c->bar + 4);

	kprintf("# xhci %s %04x:%04x BAR0 0x%llx size 0x%llx: HCI %x.%02x, "
		"%u ports, %u slots\n",
		c->name, c->pci.vendor, c->pci.device,
		(unsigned long long)c->bar, (unsigned long long)c->bar_size,
		cap >> 24, (cap >> 16) & 0xff, hcs1 >> 24, hcs1 & 0xff);
	return (uintptr_t)c->bar;
}

unsigned guest_controller_count(void)
{
	return n_ctrls;
}

struct bu_usb_bus *guest_bus(unsigned i)
{
	return i < n_ctrls ? ctrls[i].bus : NULL;
}

/** MSI handler (interrupt context): acknowledge, leave the events to poll. */
static void on_msi(void *ctx)
{
	struct ctrl *c = ctx;

	c->msis++;
	if (bu_xhci_irq(c->bus))
		c->irqs++;
}

/*
 * `usbmon`: every transfer's submission and completion as a Linux usbmon
 * record on the capture line, data cut to USBMON_DATA_MAX bytes; the
 * runner's --pcap makes a pcap file of them.
 */
#define USBMON_DATA_MAX 4096

static void usbmon_urb(void *ctx, const struct bu_usb_xfer *x, enum bu_usb_mon_event ev,
		       int status)
{
	static uint8_t rec[BU_USBMON_HDR_LEN + USBMON_DATA_MAX];
	size_t n = bu_usbmon_record(x, ev, status, clock_now_us(), rec, sizeof(rec));

	(void)ctx;
	capture_write(rec, n);
}

/** Map, enable and start controller `i`. */
static void start_controller(unsigned i, const struct bu_xhci_options *opts)
{
	struct ctrl *c = &ctrls[i];
	struct bu_xhci_options o = *opts;

	if (!guest_prepare_controller(i))
		return;
	pci_xhci_identity(&c->pci, &o.pci); /* for the quirk table */
	c->t_create_us = clock_now_us();
	c->create_err = bu_xhci_create((uintptr_t)c->bar, &guest_platform, &o,
				       i, &c->bus);
	if (c->create_err || !c->bus) {
		if (!c->create_err)
			c->create_err = BU_EIO;
		c->bus = NULL;
		tap(false, "xhci %s started # %s (%d)", c->name,
		    bu_strerror(c->create_err), c->create_err);
		return;
	}
	if (trace_filtered)
		bu_xhci_set_trace_filter(c->bus, &trace_filter);
	if (usbmon_on)
		c->bus->monitor.urb = usbmon_urb;
	c->bus->events.ctx = c;
	c->bus->events.device_added = on_device_added;
	c->bus->events.device_removed = on_device_removed;
	c->bus->events.device_resumed = guest_sleep_resumed;
	if (guest_pm_enabled())
		c->bus->events.power_changed = guest_pm_power;
	if (cmdline_has("xferload") && xferload_register(c->bus))
		glog(BU_LOG_WARN, "xferload: cannot register the driver");
	if (cmdline_has("winusb"))
		guest_winusb_attach(c->bus);
	if (o.irq)
		c->msi = guest_irq_attach_msi(&c->pci, on_msi, c);
	tap(true, "xhci %s started%s", c->name, c->msi ? " (MSI)" : "");
}

/**
 * With `irq` and an MSI handler on every bus: halt until an interrupt, the
 * earliest bu_usb_bus_next_timeout() of the buses, or `until`. Else return
 * at once (the caller polls again).
 */
static void irq_sleep(uint64_t until)
{
	if (!use_irq)
		return;
	for (unsigned i = 0; i < n_ctrls; i++) {
		if (!ctrls[i].bus || ctrls[i].bus->failed)
			continue;
		if (!ctrls[i].msi)
			return; /* its events are seen only by polling */
		until = BU_MIN(until, bu_usb_bus_next_timeout(ctrls[i].bus));
	}
	guest_wait_for_interrupt(until);
}

/** Poll every bus until all are idle or `timeout_ms` passes. */
static void wait_settled(uint64_t timeout_ms, uint64_t settle_ms)
{
	uint64_t t0 = clock_now_us();
	uint64_t deadline = t0 + timeout_ms * 1000;

	for (;;) {
		uint64_t now;
		bool all = true, again = false;

		for (unsigned i = 0; i < n_ctrls; i++) {
			struct ctrl *c = &ctrls[i];

			if (!c->bus || c->settled)
				continue;
			/* Without an MSI handler (the CPU runs with
			 * interrupts off): bu_xhci_irq is called as an
			 * embedder's handler would be, and counts what was
			 * pending. */
			if (use_irq && !c->msi)
				c->irqs += bu_xhci_irq(c->bus);
			again |= bu_usb_bus_poll(c->bus) == 1;
			if (c->bus->failed) {
				c->settled = true;
				c->t_idle_us = clock_now_us();
				continue;
			}
			if (bu_usb_bus_idle(c->bus) &&
			    clock_now_us() >= t0 + settle_ms * 1000) {
				c->settled = true;
				c->t_idle_us = clock_now_us();
				continue;
			}
			all = false;
		}
		if (all)
			return;
		/* With `irq`: sleep until an interrupt, the buses' next
		 * timeout, the settle time or the deadline. */
		if (!again)
			irq_sleep(BU_MIN(deadline, clock_now_us() < t0 + settle_ms * 1000
							 ? t0 + settle_ms * 1000
							 : deadline));
		now = clock_now_us();
		if (now >= deadline) {
			glog(BU_LOG_ERR,
			     "timeout: buses not idle after %llu ms",
			     (unsigned long long)timeout_ms);
			return;
		}
	}
}

/** Report one started bus: tree, usbdev lines, timing, device tests. */
static void report_bus(struct ctrl *c, unsigned i)
{
	static struct bu_usb_device *devs[MAX_DEVS];
	struct bu_usb_bus *bus = c->bus;
	unsigned n = sorted_devices(bus, devs, MAX_DEVS);

	kprintf("\nbus %u: xhci %s %04x:%04x, %u root ports, %u device(s)\n", i,
		c->name, c->pci.vendor, c->pci.device, bus->num_ports, n);
	for (unsigned k = 0; k < n; k++)
		print_tree_line(devs[k]);
	for (unsigned k = 0; k < n; k++)
		print_usbdev(devs[k]);
	for (unsigned k = 0; k < n; k++)
		print_usbenum(devs[k]);

	uint64_t settled =
	    bus->stats.t_settled_us ? bus->stats.t_settled_us : c->t_idle_us;
	kprintf(
	    "usbtime {\"bus\":%u,\"reset_start_us\":%llu,"
	    "\"start_us\":%llu,\"settled_us\":%llu,\"idle_us\":%llu,"
	    "\"reset_to_settled_us\":%llu,\"configured\":%u,\"failed\":%u}\n",
	    i, (unsigned long long)c->t_create_us,
	    (unsigned long long)bus->stats.t_start_us,
	    (unsigned long long)bus->stats.t_settled_us,
	    (unsigned long long)c->t_idle_us,
	    (unsigned long long)(c->settled ? span_us(c->t_create_us, settled) : 0),
	    bus->stats.devices_configured, bus->stats.devices_failed);
	if (c->settled) {
		uint64_t us = span_us(c->t_create_us, settled);

		kprintf("# bus %u: reset to settled %llu.%03llu ms (guest clock)\n", i,
			(unsigned long long)(us / 1000), (unsigned long long)(us % 1000));
	} else {
		/* No settled time to count to: say so, rather than subtract
		 * the reset time from 0. */
		uint64_t busy = span_us(c->t_create_us, clock_now_us());

		kprintf("# bus %u: reset to settled: never, still busy after %llu.%03llu ms "
			"(guest clock)\n",
			i, (unsigned long long)(busy / 1000), (unsigned long long)(busy % 1000));
	}

	tap(c->settled && !bus->failed, "bus %u settled%s", i,
	    bus->failed	  ? " # controller failed"
	    : !c->settled ? " # timeout"
			  : "");
	for (unsigned k = 0; k < n; k++) {
		const struct bu_usb_device *d = devs[k];
		char path[32];

		dev_path(d, path, sizeof(path));
		if (d->state == BU_DEV_CONFIGURED && !d->error)
			tap(true, "bus %u path %s %04x:%04x configured", i,
			    path, d->desc.idVendor, d->desc.idProduct);
		else
			tap(false,
			    "bus %u path %s %04x:%04x configured # %s: %s", i,
			    path, d->desc.idVendor, d->desc.idProduct,
			    d->error_step ? d->error_step : dev_state_name(d),
			    bu_strerror(d->error));
	}
}

/** `teardown`: destroy every bus and check all memory came back. */
static void teardown(size_t arena_before)
{
	for (unsigned i = 0; i < n_ctrls; i++) {
		if (!ctrls[i].bus)
			continue;
		bu_usb_bus_destroy(ctrls[i].bus);
		ctrls[i].bus = NULL;
	}
	kprintf("# teardown: dma %zu bytes, objects %zu bytes, arena %zu bytes "
		"in use\n",
		guest_dma_in_use(), guest_obj_in_use(), arena_in_use());
	tap(guest_dma_in_use() == 0, "teardown: DMA memory returned (%zu left)",
	    guest_dma_in_use());
	tap(guest_obj_in_use() == 0, "teardown: objects returned (%zu left)",
	    guest_obj_in_use());
	tap(arena_in_use() == arena_before, "teardown: arena back to %zu bytes",
	    arena_before);
}

/**
 * `watch`: keep polling forever, reporting hot-plug from the callbacks.
 * A `usbmem` line is printed at the start and again whenever the buses have
 * been idle for MEM_QUIET_US after a hot-plug event, so a script can check
 * that slots and memory come back after devices leave.
 */
__attribute__((noreturn)) static void watch(void)
{
	print_usbmem();
	kprintf("# watching (hot-plug reported as usbdev/usbgone lines)\n");
	/* `sleep=MS` (`sleepwake`: keyboards may wake it): one system sleep
	 * of every bus first (sleep.c). */
	for (unsigned i = 0; cmdline_has("sleep") && i < n_ctrls; i++) {
		int rc = ctrls[i].bus ? guest_sleep(ctrls[i].bus,
						    (unsigned)cmdline_get_u64("sleep", 500),
						    cmdline_has("sleepwake"))
				      : 0;

		if (rc)
			kprintf("# sleep: bus %u: %s\n", i, bu_strerror(rc));
	}
	for (;;) {
		bool idle = true;
		uint64_t until;

		for (unsigned i = 0; i < n_ctrls; i++) {
			if (!ctrls[i].bus || ctrls[i].bus->failed)
				continue;
			bu_usb_bus_poll(ctrls[i].bus);
			if (guest_pm_enabled())
				guest_pm_poll(ctrls[i].bus);
			idle = idle && bu_usb_bus_idle(ctrls[i].bus);
		}
		guest_log_flush();
		if (mem_dirty && idle &&
		    clock_now_us() - last_event_us >= MEM_QUIET_US) {
			mem_dirty = false;
			print_usbmem();
		}
		/* With `irq`: sleep until an MSI (a port change, an event),
		 * the buses' next timeout, the next usbmem or autosuspend's
		 * next idle deadline; else spin. */
		until = mem_dirty ? last_event_us + MEM_QUIET_US : BU_USB_NO_TIMEOUT;
		for (unsigned i = 0; guest_pm_enabled() && i < n_ctrls; i++)
			if (ctrls[i].bus && !ctrls[i].bus->failed)
				until = BU_MIN(until, guest_pm_next_deadline(ctrls[i].bus));
		irq_sleep(until);
		if (!use_irq)
			cpu_relax();
	}
}

/* The boot INF, copied out of the loader's memory before the arena reuses it. */
static char inf_copy[32768];
static size_t inf_copy_len;
static bool inf_too_big;

const char *guest_inf(size_t *len)
{
	*len = inf_copy_len;
	return inf_copy_len ? inf_copy : NULL;
}

void guest_main(const struct guest_boot *boot)
{
	struct bu_xhci_options opts;
	uint64_t timeout_ms, settle_ms;
	size_t arena_before;
	unsigned n_devs = 0;

	cmdline_parse(boot->cmdline); /* a copy, before the arena reuses it */
	if (boot->inf && boot->inf_len <= sizeof(inf_copy)) {
		bu_memcpy(inf_copy, boot->inf, boot->inf_len);
		inf_copy_len = boot->inf_len;
	}
	inf_too_big = boot->inf && boot->inf_len > sizeof(inf_copy);
	kprintf("\n# bareusb test image %s (%s)\n", GUEST_VERSION, GUEST_ARCH);
	if (boot->error)
		guest_panic("%s", boot->error);
	kprintf("# cmdline: %s\n", cmdline_raw());
	if (inf_too_big)
		guest_panic("the boot INF is larger than %u bytes", (unsigned)sizeof(inf_copy));
	if (inf_copy_len)
		kprintf("# inf: %u bytes\n", (unsigned)inf_copy_len);

	guest_pm_init();
	if (cmdline_has("loglevel"))
		guest_log_level = (int)cmdline_get_u64("loglevel", BU_LOG_INFO);
	if (cmdline_has("debug"))
		guest_log_level = BU_LOG_DEBUG;
	bu_memset(&opts, 0, sizeof(opts));
	if (cmdline_get("trace")) {
		/* trace=CATEGORIES[,slot=N][,ep=0xEE]: bu_xhci_trace_filter_parse */
		if (bu_xhci_trace_filter_parse(cmdline_get("trace"), &trace_filter))
			guest_panic("trace=%s: categories are cmd, xfer, event, port, db, reg, "
				    "enum, all; then slot=N, ep=0xEE", cmdline_get("trace"));
		opts.trace_categories = trace_filter.categories;
		trace_filtered = true;
		guest_log_level = BU_LOG_TRACE;
	} else if (cmdline_has("trace")) {
		opts.trace = true;
		guest_log_level = BU_LOG_TRACE;
	}
	use_irq = opts.irq = cmdline_has("irq");
	guest_log_time = cmdline_has("logtime");
	if (cmdline_has("usbmon")) {
		usbmon_on = capture_init();
		if (!usbmon_on)
			guest_panic("usbmon: no capture line (x86_64: a second serial port; aarch64: capture=PATH and semihosting)");
	}
	guest_log_buffered = cmdline_has("logbuf");
	timeout_ms = cmdline_get_u64("timeout", DEFAULT_TIMEOUT_MS);
	settle_ms = cmdline_get_u64("settle", 0);

	clock_init(cmdline_get("clock"));
	kprintf("# clock: %s, %llu kHz\n", clock_source(),
		(unsigned long long)clock_khz());
	if (cmdline_has("delaytest")) {
		uint64_t ms = cmdline_get_u64("delaytest", 1000);
		uint64_t t0 = clock_now_us();

		kprintf("delaytest begin %llu ms\n", (unsigned long long)ms);
		clock_delay_us(ms * 1000);
		kprintf("delaytest end %llu us\n",
			(unsigned long long)(clock_now_us() - t0));
	}
	if (cmdline_has("fault")) /* test aid: show the exception report */
		(void)*(volatile uint32_t *)(uintptr_t)0x7fff00000000ull;
	setup_arena(boot->ram_top);
	arena_before = arena_in_use();

	find_controllers();
	if (cmdline_has("selftest")) {
		guest_selftest();
		tap_finish();
	}
	tap(n_ctrls > 0, "found %u xHCI controller(s)", n_ctrls);
	for (unsigned i = 0; i < n_ctrls; i++)
		start_controller(i, &opts);

	wait_settled(timeout_ms, settle_ms);
	guest_log_flush();
	for (unsigned i = 0; i < n_ctrls; i++) {
		if (!ctrls[i].bus)
			continue;
		/* A bus that did not settle shows why; `dump` shows them all. */
		if (!ctrls[i].settled || cmdline_has("dump"))
			bu_xhci_dump(ctrls[i].bus);
		report_bus(&ctrls[i], i);
		for (struct bu_usb_device *d = ctrls[i].bus->devices; d;
		     d = d->next)
			n_devs++;
	}
	kprintf(
	    "usbtime "
	    "{\"since_boot_us\":%llu,\"dma_bytes\":%zu,\"object_bytes\":%zu}\n",
	    (unsigned long long)clock_now_us(), guest_dma_in_use(),
	    guest_obj_in_use());
	for (unsigned i = 0; use_irq && i < n_ctrls; i++) {
		if (!ctrls[i].bus)
			continue;
		/* With MSI a poll may take the events (and acknowledge IMAN.IP)
		 * before the CPU, which takes interrupts only as it halts, runs
		 * the handler: the MSIs taken are the proof there. */
		if (!ctrls[i].msi)
			tap(ctrls[i].irqs > 0, "bus %u: %u interrupt(s) raised and acknowledged",
			    i, ctrls[i].irqs);
		kprintf("usbirq {\"bus\":%u,\"msi\":%s,\"cpu_irqs\":%u,\"claimed\":%u}\n", i,
			ctrls[i].msi ? "true" : "false", ctrls[i].msis, ctrls[i].irqs);
		if (ctrls[i].msi)
			tap(ctrls[i].msis > 0, "bus %u: %u taken through MSI", i,
			    ctrls[i].msis);
	}
	if (cmdline_has("expect_devices")) {
		uint64_t want = cmdline_get_u64("expect_devices", 0);

		tap(n_devs == want, "%u device(s) found, %llu expected", n_devs,
		    (unsigned long long)want);
	}
	started = true;
	if (cmdline_has("winusb"))
		guest_winusb_run();
	if (cmdline_has("suspendtest"))
		for (unsigned i = 0; i < n_ctrls; i++)
			if (ctrls[i].bus)
				guest_suspendtest(ctrls[i].bus);
	if (cmdline_has("console"))
		guest_shell();
	if (cmdline_has("watch")) {
		tap_plan();
		watch();
	}
	if (cmdline_has("teardown")) {
		started = false; /* removals here are not unplugs */
		teardown(arena_before);
	}
	tap_finish();
}
