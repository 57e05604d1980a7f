/*
 * bareusb xHCI host-controller driver: the controller (xHCI 1.2 §4.2,
 * §5). Register access, logging and tracing, extended capabilities (USB
 * Legacy Support handoff), DMA memory, halt and reset, the DCBAA and
 * Scratchpad buffers (§6.1, §4.20), the Event Ring and its ERST on the
 * primary interrupter (§4.9.4, §5.5.2), start, poll and event dispatch,
 * the interrupt acknowledgement, the host-controller operations table,
 * and the public entry points.
 *
 * The driver's other files, in reading order: xhci_cmd.c (the Command
 * Ring), xhci_dev.c (slots, Device and Input Contexts), xhci_port.c (root
 * ports, Supported Protocols), xhci_xfer.c (Transfer Rings, transfer
 * events, recovery, cancellation), xhci_ring.c (ring arithmetic and field
 * encoders), xhci_trace.c (decoders); xhci_priv.h declares what they share.
 *
 * All work happens in xhci_poll(), called by the core from
 * bu_usb_bus_poll(). The driver is polled by default; with
 * bu_xhci_options.irq the primary interrupter is enabled and bu_xhci_irq()
 * only acknowledges the interrupt, the events still being handled by the
 * next poll. Every wait is bounded by the platform clock.
 */
#include <stdarg.h>

#include "xhci_priv.h"

#include "bareusb/desc.h"
#include "bareusb/errors.h"
#include "bareusb/util.h"
#include "xhci_trace.h"

#define XHCI_HALT_TIMEOUT_US 20000 /* §5.4.1: HCH within 16 ms of R/S=0 */

/* ======================================================================== */
/* Register access                                                          */
/* ======================================================================== */

/** Write a 64-bit register: one access, or low half then high half. */
static void wr64(struct xhci *x, uintptr_t addr, uint64_t v)
{
	if (x->trace.categories & BU_XHCI_TRACE_REG)
		bu_xhci_trace_reg(x, addr, v, 64);
	if (x->plat->write64) {
		x->plat->write64(x->plat->ctx, addr, v);
		return;
	}
	/* §5.1: 64-bit registers latch on the high-half write. */
	x->plat->write32(x->plat->ctx, addr, (uint32_t)v);
	x->plat->write32(x->plat->ctx, addr + 4, (uint32_t)(v >> 32));
}

/** Acknowledge USBSTS change bits (RW1C) without touching the others. */
static void usbsts_ack(struct xhci *x, uint32_t bits)
{
	xhci_op_wr(x, XHCI_OP_USBSTS, bits & XHCI_USBSTS_RW1C);
}

void bu_xhci_udelay(struct xhci *x, uint32_t us)
{
	uint64_t end;

	if (x->plat->delay_us) {
		x->plat->delay_us(x->plat->ctx, us);
		return;
	}
	end = xhci_now_us(x) + us;
	while (xhci_now_us(x) < end)
		;
}

/**
 * The one bounded register wait: poll until (reg & mask) == value or
 * `timeout_us` passes. It polls every 10 us for the first millisecond,
 * then every millisecond (a reset may take seconds); given `what`, it logs
 * once a second that it is still waiting for it. Returns 0, BU_ETIMEDOUT,
 * or BU_ENODEV (all ones).
 */
static int wait_bits_for(struct xhci *x, const char *what, uintptr_t addr,
			 uint32_t mask, uint32_t value, uint64_t timeout_us)
{
	uint64_t start = xhci_now_us(x), next_log = start + 1000000;

	for (;;) {
		uint32_t v = xhci_rd32(x, addr);
		uint64_t now;

		if (v == 0xffffffffu)
			return BU_ENODEV;
		if ((v & mask) == value)
			return 0;
		now = xhci_now_us(x);
		if (now - start >= timeout_us)
			return BU_ETIMEDOUT;
		if (what && now >= next_log) {
			bu_xhci_log(x, BU_LOG_INFO, "still waiting for %s after %llu ms",
				    what, (unsigned long long)bu_div64_u32(now - start, 1000, NULL));
			next_log += 1000000;
		}
		bu_xhci_udelay(x, now - start < 1000 ? 10 : 1000);
	}
}

/** wait_bits_for without progress lines, for the short waits. */
static int wait_bits(struct xhci *x, uintptr_t addr, uint32_t mask,
		     uint32_t value, uint64_t timeout_us)
{
	return wait_bits_for(x, NULL, addr, mask, value, timeout_us);
}

/* ======================================================================== */
/* Trace                                                                    */
/* ======================================================================== */

/**
 * Decode TRB `t` into x->trb_text when category `cat` of `slot` and `dci`
 * is traced; its dwords in host order into dw. False when not traced.
 */
static bool trace_decode(struct xhci *x, uint32_t cat, unsigned slot, unsigned dci,
			 const struct xhci_trb *t, uint32_t dw[4])
{
	for (int i = 0; i < 4; i++)
		dw[i] = bu_le32_to_cpu(t->dw[i]);
	if (!xhci_tracing(x, cat, slot, dci))
		return false;
	bu_xhci_trb_decode(dw, x->trb_text, sizeof(x->trb_text));
	return true;
}

void bu_xhci_trace_trb(struct xhci *x, uint32_t cat, uint64_t addr, const struct xhci_trb *t)
{
	uint32_t dw[4], dw3;
	unsigned type, dci;

	if (!(x->trace.categories & cat))
		return;
	/* Slot ID in bits 31:24 of a slot command or an event; an endpoint's
	 * DCI in 20:16 of an endpoint command or a Transfer Event (§6.4.2.1,
	 * §6.4.3.5 to §6.4.3.9). */
	dw3 = bu_le32_to_cpu(t->dw[3]);
	type = XHCI_TRB_TYPE(dw3);
	dci = type == XHCI_TRB_TRANSFER_EVENT || type == XHCI_TRB_RESET_EP ||
			      type == XHCI_TRB_STOP_EP || type == XHCI_TRB_SET_TR_DEQ
		      ? XHCI_TRB_GET_EP(dw3)
		      : 0;
	if (!trace_decode(x, cat, XHCI_TRB_GET_SLOT(dw3), dci, t, dw))
		return;
	bu_xhci_log(x, BU_LOG_TRACE, "%s @0x%llx: %s", cat == BU_XHCI_TRACE_CMD ? "cmd" : "event",
		    (unsigned long long)addr, x->trb_text);
}

void bu_xhci_trace_xfer_trb(struct xhci *x, unsigned slot, unsigned dci, uint64_t addr,
			    const struct xhci_trb *t)
{
	const char *buf = x->trb_text;
	uint32_t dw[4];

	if (!(x->trace.categories & BU_XHCI_TRACE_XFER) ||
	    !trace_decode(x, BU_XHCI_TRACE_XFER, slot, dci, t, dw))
		return;
	if (XHCI_TRB_TYPE(dw[3]) == XHCI_TRB_SETUP) {
		/* The request by name after the type, decoded in turn rather
		 * than inside the TRB decoder: the trace runs at the bottom of
		 * the submit path, where stack is scarce. */
		uint8_t setup[8];

		for (int i = 0; i < 8; i++)
			setup[i] = (uint8_t)(dw[i / 4] >> (8 * (i % 4)));
		bu_usb_setup_describe(setup, x->req_text, sizeof(x->req_text));
		bu_xhci_log(x, BU_LOG_TRACE, "xfer @0x%llx: Setup Stage %s%s slot=%u DCI=%u (ep 0x%02x)",
			    (unsigned long long)addr, x->req_text, buf + sizeof("Setup Stage") - 1,
			    slot, dci, bu_xhci_dci_ep_address(dci));
		return;
	}
	bu_xhci_log(x, BU_LOG_TRACE, "xfer @0x%llx: %s slot=%u DCI=%u (ep 0x%02x)",
		    (unsigned long long)addr, buf, slot, dci, bu_xhci_dci_ep_address(dci));
}

void bu_xhci_trace_doorbell(struct xhci *x, unsigned slot, unsigned target)
{
	if (slot)
		bu_xhci_log(x, BU_LOG_TRACE, "doorbell DB%u = 0x%08x (slot %u DCI %u, ep 0x%02x)",
			    slot, target, slot, target, bu_xhci_dci_ep_address(target));
	else
		bu_xhci_log(x, BU_LOG_TRACE, "doorbell DB0 = 0x%08x (command ring)", target);
}

/** Name the register at `addr` into buf (§5.3 to §5.6), by block and offset. */
static void reg_name(struct xhci *x, uintptr_t addr, char *buf, size_t size)
{
	static const char *const op[] = { [0x00] = "USBCMD", [0x04] = "USBSTS",
					   [0x08] = "PAGESIZE", [0x14] = "DNCTRL",
					   [0x18] = "CRCR", [0x30] = "DCBAAP", [0x38] = "CONFIG" };
	static const char *const port[] = { "PORTSC", "PORTPMSC", "PORTLI", "PORTHLPMC" };
	static const char *const ir[] = { [0x00] = "IMAN", [0x04] = "IMOD", [0x08] = "ERSTSZ",
					   [0x10] = "ERSTBA", [0x18] = "ERDP" };

	if (addr >= x->rt + XHCI_RT_IR(0) && addr < x->rt + XHCI_RT_IR(1024)) {
		uintptr_t off = addr - (x->rt + XHCI_RT_IR(0));
		const char *n = off % 0x20 < BU_ARRAY_SIZE(ir) ? ir[off % 0x20] : NULL;

		if (n) {
			bu_snprintf(buf, size, "IR%u.%s", (unsigned)(off / 0x20), n);
			return;
		}
	} else if (addr >= x->op + XHCI_OP_PORTSC(1) &&
		   addr < x->op + XHCI_OP_PORTSC(x->max_ports + 1)) {
		uintptr_t off = addr - (x->op + XHCI_OP_PORTSC(1));

		if (off % 4 == 0) {
			bu_snprintf(buf, size, "%s%u", port[off % 0x10 / 4], (unsigned)(off / 0x10) + 1);
			return;
		}
	} else if (addr >= x->op && addr - x->op < BU_ARRAY_SIZE(op) && op[addr - x->op]) {
		bu_snprintf(buf, size, "%s", op[addr - x->op]);
		return;
	}
	bu_snprintf(buf, size, "BAR+0x%llx", (unsigned long long)(addr - x->base));
}

void bu_xhci_trace_reg(struct xhci *x, uintptr_t addr, uint64_t v, unsigned bits)
{
	char name[32];

	reg_name(x, addr, name, sizeof(name));
	if (bits == 64)
		bu_xhci_log(x, BU_LOG_TRACE, "write %s = 0x%016llx", name, (unsigned long long)v);
	else
		bu_xhci_log(x, BU_LOG_TRACE, "write %s = 0x%08x", name, (unsigned)v);
}

static int xhci_halt(struct xhci *x);
static void xhci_fail_all(struct xhci *x);

void bu_xhci_fail(struct xhci *x, const char *why)
{
	char sts[96];

	if (x->failed)
		return;
	x->failed = true;
	x->bus.failed = true;
	bu_xhci_usbsts_decode(xhci_op_rd(x, XHCI_OP_USBSTS), sts, sizeof(sts));
	bu_xhci_log(x, BU_LOG_ERR, "controller failed: %s (USBSTS %s)", why, sts);
	/* Stop it touching memory we are about to give back (bounded). */
	if (xhci_op_rd(x, XHCI_OP_USBSTS) != 0xffffffffu && xhci_halt(x))
		bu_xhci_log(x, BU_LOG_ERR, "controller does not halt");
	xhci_fail_all(x);
}

/* ======================================================================== */
/* Extended capabilities (§7): the walk and USB Legacy Support              */
/* ======================================================================== */

uintptr_t bu_xhci_xcap_find(struct xhci *x, unsigned id, uintptr_t prev)
{
	uintptr_t at;
	unsigned guard = 0;

	if (prev) {
		unsigned next = XHCI_XCAP_NEXT(xhci_rd32(x, prev));

		if (!next)
			return 0;
		at = prev + 4u * next;
	} else {
		unsigned first = XHCI_HCCPARAMS1_XECP(x->hccparams1);

		if (!first)
			return 0;
		at = x->base + 4u * first;
	}
	/* Bounded walk: a broken list must not loop forever. */
	for (; guard < 64; guard++) {
		uint32_t v = xhci_rd32(x, at);

		if (v == 0xffffffffu)
			return 0;
		if (XHCI_XCAP_ID(v) == id)
			return at;
		if (!XHCI_XCAP_NEXT(v))
			return 0;
		at += 4u * XHCI_XCAP_NEXT(v);
	}
	return 0;
}

/** BIOS to OS handoff through the USB Legacy Support capability (§4.22.1). */
static void xhci_legacy_handoff(struct xhci *x)
{
	uintptr_t cap = bu_xhci_xcap_find(x, XHCI_XCAP_LEGACY, 0);
	uint32_t v, ctl;
	int rc;

	if (!cap)
		return;
	v = xhci_rd32(x, cap);
	if (v & XHCI_LEGSUP_BIOS_OWNED) {
		bu_xhci_log(x, BU_LOG_INFO, "taking ownership from firmware");
		xhci_wr32(x, cap, v | XHCI_LEGSUP_OS_OWNED);
		rc = wait_bits(x, cap, XHCI_LEGSUP_BIOS_OWNED, 0,
			       x->opts.handoff_timeout_ms * 1000u);
		if (rc) {
			bu_xhci_log(x, BU_LOG_WARN,
				    "firmware did not release the controller in %u ms; forcing",
				    x->opts.handoff_timeout_ms);
			v = xhci_rd32(x, cap);
			xhci_wr32(x, cap, (v & ~XHCI_LEGSUP_BIOS_OWNED) | XHCI_LEGSUP_OS_OWNED);
		}
	} else {
		xhci_wr32(x, cap, v | XHCI_LEGSUP_OS_OWNED);
	}
	/* Disable SMIs and acknowledge pending ones. */
	ctl = xhci_rd32(x, cap + XHCI_LEGCTLSTS);
	xhci_wr32(x, cap + XHCI_LEGCTLSTS,
		  (ctl & XHCI_LEGCTLSTS_PRESERVE) | XHCI_LEGCTLSTS_EVENTS);
}

/* ======================================================================== */
/* Memory: DMA and driver allocations, rings                                */
/* ======================================================================== */

/** Round a DMA structure's size up to whole cache lines (BU_DMA_ALIGN). */
static size_t dma_size(size_t size)
{
	return (size + BU_DMA_ALIGN - 1) & ~(size_t)(BU_DMA_ALIGN - 1);
}

void *bu_xhci_dma_zalloc(struct xhci *x, size_t size, size_t align,
			 size_t boundary, uint64_t *bus)
{
	void *p;

	/* Whole cache lines, so no structure shares one with another. */
	size = dma_size(size);
	align = align < BU_DMA_ALIGN ? BU_DMA_ALIGN : align;
	p = x->plat->dma_alloc(x->plat->ctx, size, align, boundary, x->dma_mask, bus);
	if (!p)
		return NULL;
	if (*bus + size - 1 > x->dma_mask || *bus + size - 1 < *bus) {
		/* §5.3.6: without AC64 the controller sees 32 bits only. */
		x->plat->dma_free(x->plat->ctx, p, *bus, size);
		return NULL;
	}
	bu_memset(p, 0, size);
	/* The zeroes reach memory now: no dirty line of ours is written
	 * back later over what the controller wrote there. */
	xhci_sync_dev(x, p, *bus, size, BU_DMA_BIDIR);
	return p;
}

void bu_xhci_dma_free(struct xhci *x, void *p, uint64_t bus, size_t size)
{
	if (p)
		x->plat->dma_free(x->plat->ctx, p, bus, dma_size(size));
}

void *bu_xhci_zalloc(struct xhci *x, size_t size)
{
	void *p = x->plat->alloc(x->plat->ctx, size);

	if (p)
		bu_memset(p, 0, size);
	return p;
}

void bu_xhci_free(struct xhci *x, void *p, size_t size)
{
	if (p)
		x->plat->free(x->plat->ctx, p, size);
}

/**
 * Bytes of a ring of `count` TRBs plus its Link TRB, and, with the ring
 * guard quirk, 64 zeroed bytes after the last 64-byte block: the VL805
 * reads 64 bytes ahead of every TRB it fetches, the Link TRB included.
 */
static size_t ring_bytes(struct xhci *x, uint32_t count)
{
	size_t n = (count + 1) * sizeof(struct xhci_trb);

	if (x->quirks & BU_XHCI_QUIRK_RING_GUARD)
		n = ((n + 63) & ~(size_t)63) + 64;
	return n;
}

int bu_xhci_ring_alloc(struct xhci *x, struct xhci_ring *r, uint32_t count)
{
	uint64_t bus;
	struct xhci_trb *trbs = bu_xhci_dma_zalloc(x, ring_bytes(x, count), 64, 0x10000, &bus);

	if (!trbs)
		return BU_ENOMEM;
	bu_xhci_ring_init(r, trbs, bus, count);
	xhci_sync_dev(x, trbs, bus, ring_bytes(x, count), BU_DMA_TO_DEVICE);
	return 0;
}

void bu_xhci_ring_free(struct xhci *x, struct xhci_ring *r)
{
	bu_xhci_dma_free(x, r->trbs, r->bus, ring_bytes(x, r->count));
	r->trbs = NULL;
}

/** xhci_sync_dev of the TRBs in slots [from, to) of a ring. */
static void ring_sync_slots(struct xhci *x, struct xhci_ring *r, uint32_t from, uint32_t to)
{
	xhci_sync_dev(x, &r->trbs[from], r->bus + 16ull * from, 16u * (to - from),
		      BU_DMA_TO_DEVICE);
}

void bu_xhci_ring_sync(struct xhci *x, struct xhci_ring *r, uint32_t from, uint32_t to)
{
	uint32_t n = to - from, s = xhci_ring_slot(r, from);

	if (!x->plat->dma_sync_for_device || !n)
		return;
	if (n >= r->count) {
		ring_sync_slots(x, r, 0, r->count + 1);
		return;
	}
	if (s + n >= r->count) {
		/* Up to the end, the Link TRB (written on the wrap) included. */
		ring_sync_slots(x, r, s, r->count + 1);
		n -= r->count - s;
		s = 0;
	}
	if (n)
		ring_sync_slots(x, r, s, s + n);
}

/* ======================================================================== */
/* Halt and reset (§4.2, §5.4.1)                                            */
/* ======================================================================== */

/** Clear R/S and wait for HCH. */
static int xhci_halt(struct xhci *x)
{
	uint32_t cmd = xhci_op_rd(x, XHCI_OP_USBCMD);

	if (xhci_op_rd(x, XHCI_OP_USBSTS) & XHCI_USBSTS_HCH)
		return 0;
	xhci_op_wr(x, XHCI_OP_USBCMD, cmd & ~(XHCI_USBCMD_RUN | XHCI_USBCMD_INTE));
	return wait_bits(x, x->op + XHCI_OP_USBSTS, XHCI_USBSTS_HCH,
			 XHCI_USBSTS_HCH, XHCI_HALT_TIMEOUT_US);
}

/** Halt a controller that is still there (one reading all ones is not). */
static void xhci_stop(struct xhci *x)
{
	if (xhci_op_rd(x, XHCI_OP_USBSTS) != 0xffffffffu)
		xhci_halt(x);
}

/**
 * HCRST, then wait for HCRST and then CNR to clear, each for up to
 * reset_timeout_ms (10 s by default: Linux xhci.c gives HCRST that long at
 * init, XHCI_RESET_LONG_USEC, as some parts take seconds).
 */
static int xhci_reset(struct xhci *x)
{
	uint64_t timeout = x->opts.reset_timeout_ms * 1000ull;
	const char *stuck = "USBCMD.HCRST";
	int rc;

	rc = xhci_halt(x);
	if (rc) {
		bu_xhci_log(x, BU_LOG_ERR, "controller did not halt");
		return rc;
	}
	xhci_op_wr(x, XHCI_OP_USBCMD,
		   (xhci_op_rd(x, XHCI_OP_USBCMD) & XHCI_USBCMD_RSVDP) | XHCI_USBCMD_HCRST);
	/* Intel parts must not be touched for 1 ms after HCRST (the quirk's
	 * source is in xhci_quirks.c); the wait below covers the rest. */
	if (x->quirks & BU_XHCI_QUIRK_RESET_DELAY)
		bu_xhci_udelay(x, 1000);
	rc = wait_bits_for(x, "the reset (HCRST)", x->op + XHCI_OP_USBCMD,
			   XHCI_USBCMD_HCRST, 0, timeout);
	if (!rc) {
		stuck = "USBSTS.CNR";
		rc = wait_bits_for(x, "the controller to be ready (CNR)",
				   x->op + XHCI_OP_USBSTS, XHCI_USBSTS_CNR, 0, timeout);
	}
	if (rc)
		bu_xhci_log(x, BU_LOG_ERR, "reset did not complete in %u ms: %s still 1 (%s)",
			    x->opts.reset_timeout_ms, stuck, bu_strerror(rc));
	return rc;
}

/* ======================================================================== */
/* DCBAA and Scratchpad buffers (§6.1, §4.20)                               */
/* ======================================================================== */

/** Free the DCBAA and the Scratchpad buffers (any part never allocated is fine). */
static void xhci_dcbaa_free(struct xhci *x)
{
	if (x->scratch_bufs) {
		/* A buffer's bus address is its Scratchpad Buffer Array entry. */
		for (unsigned i = 0; i < x->num_scratch; i++)
			bu_xhci_dma_free(x, x->scratch_bufs[i],
					 bu_le64_to_cpu(x->scratch_array[i]), x->page_size);
		bu_xhci_free(x, x->scratch_bufs, x->num_scratch * sizeof(void *));
		x->scratch_bufs = NULL;
	}
	bu_xhci_dma_free(x, x->scratch_array, x->scratch_array_bus, x->num_scratch * 8u);
	x->scratch_array = NULL;
	bu_xhci_dma_free(x, x->dcbaa, x->dcbaa_bus, (x->max_slots + 1) * 8u);
	x->dcbaa = NULL;
}

/** Allocate the Scratchpad Buffer Array and its page-sized buffers (§4.20). */
static int xhci_scratch_alloc(struct xhci *x)
{
	x->scratch_array = bu_xhci_dma_zalloc(x, x->num_scratch * 8u, 64, x->page_size,
					      &x->scratch_array_bus);
	x->scratch_bufs = bu_xhci_zalloc(x, x->num_scratch * sizeof(void *));
	if (!x->scratch_array || !x->scratch_bufs)
		return BU_ENOMEM;
	for (unsigned i = 0; i < x->num_scratch; i++) {
		uint64_t bus;

		x->scratch_bufs[i] = bu_xhci_dma_zalloc(x, x->page_size, x->page_size,
							x->page_size, &bus);
		if (!x->scratch_bufs[i])
			return BU_ENOMEM;
		x->scratch_array[i] = bu_cpu_to_le64(bus);
	}
	xhci_sync_dev(x, x->scratch_array, x->scratch_array_bus, x->num_scratch * 8u,
		      BU_DMA_TO_DEVICE);
	return 0;
}

/** Allocate the DCBAA; entry 0 points at the Scratchpad Buffer Array if any. */
static int xhci_dcbaa_alloc(struct xhci *x)
{
	x->dcbaa = bu_xhci_dma_zalloc(x, (x->max_slots + 1) * 8u, 64, x->page_size,
				      &x->dcbaa_bus);
	if (!x->dcbaa)
		return BU_ENOMEM;
	if (!x->num_scratch)
		return 0;
	if (xhci_scratch_alloc(x)) {
		xhci_dcbaa_free(x);
		return BU_ENOMEM;
	}
	x->dcbaa[0] = bu_cpu_to_le64(x->scratch_array_bus);
	xhci_sync_dev(x, x->dcbaa, x->dcbaa_bus, 8, BU_DMA_TO_DEVICE);
	return 0;
}

/* ======================================================================== */
/* Event Ring (§4.9.4) on the primary interrupter (§5.5.2)                  */
/* ======================================================================== */

/** Free the Event Ring segments and the ERST (any part never allocated is fine). */
static void event_ring_free(struct xhci *x)
{
	struct xhci_event_ring *er = &x->evt;

	for (unsigned i = 0; i < er->nsegs; i++) {
		bu_xhci_dma_free(x, er->seg[i], er->seg_bus[i],
				 er->seg_trbs * sizeof(struct xhci_trb));
		er->seg[i] = NULL;
	}
	bu_xhci_dma_free(x, er->erst, er->erst_bus, er->nsegs * sizeof(*er->erst));
	er->erst = NULL;
}

/** Segments to use: 2^ERSTMax (§5.3.4) at most, and XHCI_EVENT_SEGS at most. */
static unsigned event_ring_nsegs(struct xhci *x)
{
	unsigned erst_max = XHCI_HCSPARAMS2_ERST_MAX(x->hcsparams2);
	unsigned n = 1;

	while (n < XHCI_EVENT_SEGS && n < (1u << erst_max))
		n <<= 1;
	return n;
}

/**
 * Allocate the Event Ring segments and the ERST that lists them (§6.5):
 * one segment where ERST Max is 0 (QEMU's qemu-xhci), up to
 * XHCI_EVENT_SEGS where it allows more.
 */
static int event_ring_alloc(struct xhci *x)
{
	struct xhci_event_ring *er = &x->evt;

	er->nsegs = event_ring_nsegs(x);
	er->seg_trbs = x->opts.event_ring_trbs;
	er->deq = 0;
	er->erst = bu_xhci_dma_zalloc(x, er->nsegs * sizeof(*er->erst), 64, 0, &er->erst_bus);
	if (!er->erst)
		return BU_ENOMEM;
	for (unsigned i = 0; i < er->nsegs; i++) {
		/* 64-byte aligned, not crossing 64 KiB (§6.5, Table 6-1). */
		er->seg[i] = bu_xhci_dma_zalloc(x, er->seg_trbs * sizeof(struct xhci_trb), 64,
						0x10000, &er->seg_bus[i]);
		if (!er->seg[i]) {
			event_ring_free(x);
			return BU_ENOMEM;
		}
		er->erst[i].base = bu_cpu_to_le64(er->seg_bus[i]);
		er->erst[i].size = bu_cpu_to_le32(er->seg_trbs);
	}
	xhci_sync_dev(x, er->erst, er->erst_bus, er->nsegs * sizeof(*er->erst),
		      BU_DMA_TO_DEVICE);
	return 0;
}

/** Clear IMAN.IP (RW1C), keeping IE as the options want it (§5.5.2.1). */
static void iman_ack(struct xhci *x)
{
	uintptr_t iman = x->rt + XHCI_RT_IR(0) + XHCI_IR_IMAN;

	xhci_wr32(x, iman, (xhci_rd32(x, iman) & XHCI_IMAN_RSVDP) | XHCI_IMAN_IP |
				   (x->opts.irq ? XHCI_IMAN_IE : 0));
}

/** Program interrupter 0: ERSTSZ, ERDP, then ERSTBA (§4.9.4), IMOD, IMAN. */
static void event_ring_program(struct xhci *x)
{
	uintptr_t ir = x->rt + XHCI_RT_IR(0);

	xhci_wr32(x, ir + XHCI_IR_ERSTSZ,
		  (xhci_rd32(x, ir + XHCI_IR_ERSTSZ) & XHCI_ERSTSZ_RSVDP) | x->evt.nsegs);
	wr64(x, ir + XHCI_IR_ERDP, x->evt.seg_bus[0]);
	wr64(x, ir + XHCI_IR_ERSTBA, x->evt.erst_bus);
	/* IMODC counts down from IMODI between interrupts (§5.5.2.2). */
	xhci_wr32(x, ir + XHCI_IR_IMOD, x->opts.imod_interval);
	/* Polled: interrupter disabled; with irq: enabled. Pending cleared. */
	iman_ack(x);
}

/** TRBs in the whole Event Ring, all segments (a power of two). */
static uint32_t event_ring_trbs(const struct xhci_event_ring *er)
{
	return er->nsegs * er->seg_trbs;
}

/** Segment of the TRB the consumer reads next. */
static unsigned event_ring_seg(const struct xhci_event_ring *er)
{
	return (er->deq % event_ring_trbs(er)) / er->seg_trbs;
}

/** The TRB the consumer reads next. */
static const struct xhci_trb *event_ring_trb(const struct xhci_event_ring *er)
{
	return &er->seg[event_ring_seg(er)][er->deq % er->seg_trbs];
}

/** Bus address of the Event Ring TRB the consumer reads next. */
static uint64_t event_ring_deq_addr(const struct xhci_event_ring *er)
{
	return er->seg_bus[event_ring_seg(er)] + 16ull * (er->deq % er->seg_trbs);
}

/**
 * Whether the controller wrote the TRB at the consumer's position: its
 * cycle bit is the lap's, 1 on even laps. The controller toggles its cycle
 * state after the last segment only (§4.9.4). On a non-coherent platform
 * the TRB's line is invalidated first, or the CPU reads a stale copy.
 */
static bool event_ring_ready(struct xhci *x)
{
	const struct xhci_event_ring *er = &x->evt;
	uint32_t cycle = ((er->deq / event_ring_trbs(er)) & 1) ? 0 : 1;
	const struct xhci_trb *t = event_ring_trb(er);

	xhci_sync_cpu(x, t, event_ring_deq_addr(er), sizeof(*t), BU_DMA_FROM_DEVICE);
	return (bu_le32_to_cpu(t->dw[3]) & XHCI_TRB_C) == cycle;
}

/**
 * Write ERDP (§5.5.2.3.3): the next TRB to read, its segment in DESI, and
 * with `clear_ehb` a 1 to EHB (RW1C) to end the handler's busy state.
 */
static void event_ring_set_erdp(struct xhci *x, bool clear_ehb)
{
	const struct xhci_event_ring *er = &x->evt;
	uint64_t v = event_ring_deq_addr(er) | (event_ring_seg(er) & XHCI_ERDP_DESI);

	wr64(x, x->rt + XHCI_RT_IR(0) + XHCI_IR_ERDP, v | (clear_ehb ? XHCI_ERDP_EHB : 0));
}

/* ======================================================================== */
/* Event dispatch and poll                                                  */
/* ======================================================================== */

/*
 * Device Notification Event (§6.4.2.7): the Notification Type in bits 7:4
 * of DW0, the TP's notification data from bit 8, the slot in DW3 31:24.
 * Only Function Wake (type 1, USB 3.2 §8.5.6.1: the interface in data
 * bits 7:0) is enabled (DNCTRL.N1) and used; a bad slot, another type or
 * a failed completion code is logged and dropped.
 */
static __attribute__((noinline)) void device_notification(struct xhci *x, const uint32_t dw[4])
{
	unsigned slot = XHCI_TRB_GET_SLOT(dw[3]), type = XHCI_DN_TYPE(dw[0]);
	const struct xhci_dev *d = slot >= 1 && slot <= x->max_slots ? x->slots[slot] : NULL;

	if (XHCI_EVT_CC(dw[2]) != XHCI_CC_SUCCESS || !d || !d->udev || d->disabling) {
		bu_xhci_log(x, BU_LOG_WARN, "Device Notification (type %u) for slot %u dropped: %s",
			    type, slot, XHCI_EVT_CC(dw[2]) != XHCI_CC_SUCCESS
					? bu_xhci_cc_name(XHCI_EVT_CC(dw[2])) : "no such device");
		return;
	}
	if (type != XHCI_DN_FUNCTION_WAKE) {
		bu_xhci_log(x, BU_LOG_WARN, "Device Notification type %u from slot %u ignored", type,
			    slot);
		return;
	}
	bu_usb_bus_function_wake(&x->bus, d->udev, XHCI_DN_DATA(dw[0]) & 0xff);
}

/** Handle one event TRB. */
static __attribute__((noinline)) void handle_event(struct xhci *x, const uint32_t dw[4])
{
	unsigned type = XHCI_TRB_TYPE(dw[3]);

	switch (type) {
	case XHCI_TRB_TRANSFER_EVENT:
		bu_xhci_transfer_event(x, dw);
		break;
	case XHCI_TRB_CMD_COMPLETION:
		bu_xhci_cmd_complete(x, dw);
		break;
	case XHCI_TRB_PORT_STATUS: {
		unsigned port = XHCI_EVT_PORT(dw[0]);

		if (port >= 1 && port <= x->max_ports)
			bu_usb_bus_port_changed(&x->bus, port);
		break;
	}
	case XHCI_TRB_DEVICE_NOTIFY:
		device_notification(x, dw);
		break;
	case XHCI_TRB_HC_EVENT:
		bu_xhci_log(x, BU_LOG_WARN, "host controller event: %s",
			    bu_xhci_cc_name(XHCI_EVT_CC(dw[2])));
		break;
	default:
		bu_xhci_log(x, BU_LOG_DEBUG, "ignored event %s", bu_xhci_trb_type_name(type));
		break;
	}
}

/**
 * Handle the events the controller has written, at most one Event Ring's
 * worth: under load (a busy isochronous stream) the controller writes new
 * events while we drain, and draining "until none are left" need not end.
 * Then move ERDP past them and clear EHB (§4.9.4). Returns true when it
 * stopped at that bound with events left for the next poll.
 */
static bool event_ring_drain(struct xhci *x)
{
	struct xhci_event_ring *er = &x->evt;
	uint32_t budget = event_ring_trbs(er), handled = 0;

	while (handled < budget && event_ring_ready(x)) {
		const struct xhci_trb *t = event_ring_trb(er);
		uint32_t dw[4];

		/* The cycle bit first, then the rest of the TRB (§4.9.4). */
		bu_dma_rmb();
		for (int i = 0; i < 4; i++)
			dw[i] = bu_le32_to_cpu(t->dw[i]);
		bu_xhci_trace_trb(x, BU_XHCI_TRACE_EVENT, event_ring_deq_addr(er), t);
		er->deq++;
		handled++;
		handle_event(x, dw);
		if (x->failed)
			return false;
		/* Give the controller room on long bursts (QEMU drops
		 * events when its ring is full). */
		if ((handled & 63) == 0)
			event_ring_set_erdp(x, false);
	}
	if (handled) {
		iman_ack(x);
		event_ring_set_erdp(x, true);
	} else if (x->opts.irq &&
		   (xhci_rd32(x, x->rt + XHCI_RT_IR(0) + XHCI_IR_ERDP) & XHCI_ERDP_EHB)) {
		/* An interrupt raised after a poll had already taken its
		 * events (moderation delays it, §4.17.2) left EHB set with
		 * nothing to handle: clear it, or the controller never
		 * interrupts again (§5.5.2.3.3). */
		iman_ack(x);
		event_ring_set_erdp(x, true);
	}
	return handled == budget && event_ring_ready(x);
}

/** Fail every pending command, then every transfer (controller halted for good). */
static void xhci_fail_all(struct xhci *x)
{
	bu_xhci_cmd_fail_all(x);
	bu_xhci_dev_fail_all(x);
}

/** What USBSTS says stopped a controller that should run, or NULL if nothing. */
static const char *xhci_stopped_why(uint32_t sts)
{
	if (sts == 0xffffffffu)
		return "controller vanished";
	if (sts & XHCI_USBSTS_HSE)
		return "host system error";
	if (sts & XHCI_USBSTS_HCE)
		return "host controller error";
	/* §5.4.2: HCH=1 once R/S is cleared, by software or by the
	 * controller itself on an internal error (with no HSE or HCE). */
	if (sts & XHCI_USBSTS_HCH)
		return "controller halted unexpectedly";
	return NULL;
}

/** Whether USBSTS says the controller still runs; fails it (and its work) if not. */
static bool xhci_check_health(struct xhci *x, uint32_t sts)
{
	const char *why = xhci_stopped_why(sts);

	if (!why)
		return true;
	bu_xhci_fail(x, why);
	return false;
}

/**
 * ops.poll: check controller health, drain the Event Ring, then commands.
 * Returns 1 when events were left for the next poll, 0, or BU_ESHUTDOWN.
 */
static int xhci_poll(struct bu_usb_bus *bus)
{
	struct xhci *x = bus_xhci(bus);
	uint32_t sts;
	bool more;

	if (x->failed)
		return BU_ESHUTDOWN;
	sts = xhci_op_rd(x, XHCI_OP_USBSTS);
	if (!xhci_check_health(x, sts))
		return BU_ESHUTDOWN;
	if (sts & (XHCI_USBSTS_EINT | XHCI_USBSTS_PCD))
		usbsts_ack(x, sts & (XHCI_USBSTS_EINT | XHCI_USBSTS_PCD));
	more = event_ring_drain(x);
	bu_xhci_dev_disable_pending(x);
	bu_xhci_cmd_check_timeout(x);
	bu_xhci_ports_poll(x);
	if (x->failed)
		return BU_ESHUTDOWN;
	return more ? 1 : 0;
}

/**
 * True while the controller owes the driver an event: a command on its
 * ring, a TD on a transfer ring, a Disable Slot to go, a port in its
 * attach sequence. Without interrupts only a poll sees them arrive.
 */
static bool xhci_owes_event(struct xhci *x)
{
	if (x->cmd_ring.enq != x->cmd_ring.deq || x->disabling || x->bus.enumerating)
		return true;
	for (unsigned s = 1; s <= x->max_slots && s < 256; s++) {
		const struct xhci_dev *d = x->slots[s];

		for (unsigned dci = 1; d && dci < 32; dci++)
			if (d->eps[dci] && d->eps[dci]->head)
				return true;
	}
	return false;
}

/**
 * ops.next_timeout: events already on the ring (a poll left them, or one
 * arrived since) and, without interrupts, any event still owed want a
 * poll at once; else the head command's deadline and the compliance check.
 */
static uint64_t xhci_next_timeout(struct bu_usb_bus *bus)
{
	struct xhci *x = bus_xhci(bus);
	uint64_t next, now;

	if (x->failed)
		return BU_USB_NO_TIMEOUT;
	now = xhci_now_us(x);
	if (event_ring_ready(x) || (!x->opts.irq && xhci_owes_event(x)))
		return now;
	for (const struct xhci_dev *d = x->disabling; d; d = d->next_disable)
		if (d->slot && !d->disable_queued)
			return now; /* waits for room on the Command Ring */
	next = bu_xhci_cmd_next_timeout(x);
	if ((x->quirks & BU_XHCI_QUIRK_MISSING_CAS) && x->compliance_poll_us < next)
		next = BU_MAX(x->compliance_poll_us, now);
	return next;
}

/** ops.frame_number: MFINDEX counts 125 us microframes (§5.5.1). */
static uint32_t xhci_frame_number(struct bu_usb_bus *bus)
{
	struct xhci *x = bus_xhci(bus);

	return (xhci_rd32(x, x->rt + XHCI_RT_MFINDEX) & 0x3fff) >> 3;
}

/* ======================================================================== */
/* Set-up and teardown                                                      */
/* ======================================================================== */

/** Free everything the controller owns, halting it first: bu_xhci_create undone. */
static void xhci_free(struct xhci *x)
{
	xhci_stop(x);
	bu_xhci_quirks_stop(x);
	bu_xhci_dev_free_all(x);
	event_ring_free(x);
	bu_xhci_cmd_ring_free(x);
	xhci_dcbaa_free(x);
	bu_xhci_free(x, x, sizeof(*x));
}

/** ops.destroy. */
static void xhci_destroy(struct bu_usb_bus *bus)
{
	xhci_free(bus_xhci(bus));
}

static const struct bu_usb_hc_ops xhci_ops = {
	/* bus */
	.poll = xhci_poll,
	.next_timeout = xhci_next_timeout,
	.destroy = xhci_destroy,
	.frame_number = xhci_frame_number,
	/* root ports (xhci_port.c) */
	.port_status = bu_xhci_port_status,
	.port_reset = bu_xhci_port_reset,
	.port_set_link = bu_xhci_port_set_link,
	.port_power = bu_xhci_port_power,
	/* devices (xhci_dev.c) */
	.dev_enable = bu_xhci_dev_enable,
	.dev_address = bu_xhci_dev_address,
	.dev_update_ep0 = bu_xhci_dev_update_ep0,
	.dev_configure = bu_xhci_dev_configure,
	.dev_disable = bu_xhci_dev_disable,
	/* endpoints and transfers (xhci_xfer.c) */
	.xfer_submit = bu_xhci_xfer_submit,
	.xfer_cancel = bu_xhci_xfer_cancel,
	.ep_abort = bu_xhci_ep_abort,
	.ep_pause = bu_xhci_ep_pause,
	.ep_unpause = bu_xhci_ep_unpause,
	.ep_queued = bu_xhci_ep_queued,
	/* system sleep (xhci_pm.c) */
	.bus_suspend = bu_xhci_bus_suspend,
	.bus_resume = bu_xhci_bus_resume,
	.bus_reinit = bu_xhci_bus_reinit,
	.bus_wake_check = bu_xhci_bus_wake_check,
};

/** Apply defaults to zero option fields and bound the rest. */
static void opts_defaults(struct bu_xhci_options *o)
{
	uint32_t n;

	if (!o->event_ring_trbs)
		o->event_ring_trbs = 256;
	/* Rings are powers of two (counter arithmetic); the event ring 16..4096
	 * (QEMU's limits), producer rings up to 2048 so that they and their
	 * Link TRB fit inside one 64 KiB segment (§6.5). */
	for (n = 16; n < o->event_ring_trbs && n < 4096; n <<= 1)
		;
	o->event_ring_trbs = n;
	if (!o->cmd_ring_trbs)
		o->cmd_ring_trbs = 64;
	if (!o->xfer_ring_trbs)
		o->xfer_ring_trbs = 256;
	for (n = 16; n < o->cmd_ring_trbs && n < 2048; n <<= 1)
		;
	o->cmd_ring_trbs = n;
	for (n = 16; n < o->xfer_ring_trbs && n < 2048; n <<= 1)
		;
	o->xfer_ring_trbs = n;
	if (!o->handoff_timeout_ms)
		o->handoff_timeout_ms = 1000;
	if (!o->reset_timeout_ms)
		o->reset_timeout_ms = 10000; /* Linux XHCI_RESET_LONG_USEC */
	if (!o->cmd_timeout_ms)
		o->cmd_timeout_ms = 5000;
	if (!o->imod_interval)
		o->imod_interval = 160; /* 40 us, as Linux's xhci-pci */
}

/** Whether the platform table has everything the driver calls unconditionally. */
static bool plat_usable(const struct bu_platform *plat)
{
	return plat && plat->read32 && plat->write32 && plat->dma_alloc &&
	       plat->dma_free && plat->dma_map && plat->alloc && plat->free &&
	       plat->now_us && plat->log;
}

/** Fill the controller's software state: options, the core's bus. */
static void xhci_init(struct xhci *x, const struct bu_platform *plat,
		      const struct bu_xhci_options *opts, unsigned index)
{
	bu_memset(x, 0, sizeof(*x));
	x->plat = plat;
	if (opts)
		x->opts = *opts;
	opts_defaults(&x->opts);
	x->trace.categories = (x->opts.trace ? BU_XHCI_TRACE_ALL : 0) | x->opts.trace_categories;
	x->bus.trace_steps = (x->trace.categories & BU_XHCI_TRACE_ENUM) != 0;
	x->bus.ops = &xhci_ops;
	x->bus.plat = plat;
	x->bus.hc_priv = x;
	x->bus.index = index;
	x->bus.stats.t_start_us = xhci_now_us(x);
}

/** Read the Capability Registers (§5.3) and find the other register sets. */
static int xhci_read_caps(struct xhci *x, uintptr_t regs)
{
	uint32_t cap0 = xhci_rd32(x, regs + XHCI_CAP_CAPLENGTH);

	if (cap0 == 0xffffffffu || XHCI_CAPLENGTH(cap0) < 0x20)
		return BU_ENODEV;
	x->base = regs;
	x->hciversion = (uint16_t)XHCI_HCIVERSION(cap0);
	x->op = regs + XHCI_CAPLENGTH(cap0);
	x->rt = regs + (xhci_rd32(x, regs + XHCI_CAP_RTSOFF) & ~0x1fu);
	x->db = regs + (xhci_rd32(x, regs + XHCI_CAP_DBOFF) & ~0x3u);
	x->hcsparams1 = xhci_rd32(x, regs + XHCI_CAP_HCSPARAMS1);
	x->hcsparams2 = xhci_rd32(x, regs + XHCI_CAP_HCSPARAMS2);
	x->hccparams1 = xhci_rd32(x, regs + XHCI_CAP_HCCPARAMS1);
	/* §5.3.9: HCCPARAMS2 exists from xHCI 1.1; before, the dword is
	 * reserved. */
	if (x->hciversion >= 0x0110)
		x->hccparams2 = xhci_rd32(x, regs + XHCI_CAP_HCCPARAMS2);
	x->lec = (x->hccparams2 & XHCI_HCCPARAMS2_LEC) != 0;
	x->max_slots = XHCI_HCSPARAMS1_SLOTS(x->hcsparams1);
	x->max_ports = XHCI_HCSPARAMS1_PORTS(x->hcsparams1);
	x->num_scratch = XHCI_HCSPARAMS2_SCRATCH(x->hcsparams2);
	x->csz = (x->hccparams1 & XHCI_HCCPARAMS1_CSZ) ? 64 : 32;
	x->ac64 = (x->hccparams1 & XHCI_HCCPARAMS1_AC64) != 0;
	x->bus.num_ports = x->max_ports;
	if (!x->max_slots || !x->max_ports) {
		bu_xhci_log(x, BU_LOG_ERR, "no slots or ports (HCSPARAMS1 0x%08x)",
			    x->hcsparams1);
		return BU_ENODEV;
	}
	bu_xhci_log(x, BU_LOG_INFO,
		    "xHCI %x.%02x: %u slots, %u ports, %u-byte contexts, %s, %u scratchpads",
		    x->hciversion >> 8, x->hciversion & 0xff, x->max_slots, x->max_ports,
		    x->csz, x->ac64 ? "64-bit" : "32-bit", x->num_scratch);
	return 0;
}

/**
 * Take the controller from firmware and reset it (§4.22.1, §4.2), then
 * read what only a reset controller reports: the page size and the
 * Supported Protocols.
 */
static int xhci_take_over(struct xhci *x)
{
	uint32_t pagesize;
	int rc;

	xhci_legacy_handoff(x);
	rc = wait_bits_for(x, "the controller to be ready (CNR)", x->op + XHCI_OP_USBSTS,
			   XHCI_USBSTS_CNR, 0, x->opts.reset_timeout_ms * 1000ull);
	if (rc) {
		bu_xhci_log(x, BU_LOG_ERR, "controller not ready (CNR stuck)");
		return rc;
	}
	rc = xhci_reset(x);
	if (rc)
		return rc;
	pagesize = xhci_op_rd(x, XHCI_OP_PAGESIZE) & 0xffff;
	x->page_size = 4096;
	for (unsigned i = 0; i < 16; i++)
		if (pagesize & (1u << i)) {
			x->page_size = 4096u << i;
			break;
		}
	bu_xhci_read_protocols(x);
	return 0;
}

/** Program CONFIG, DCBAAP, CRCR and the interrupter, then set R/S (§4.2). */
static int xhci_start(struct xhci *x)
{
	int rc;

	xhci_op_wr(x, XHCI_OP_CONFIG, (xhci_op_rd(x, XHCI_OP_CONFIG) & XHCI_CONFIG_RSVDP) |
					      XHCI_CONFIG_SLOTS(x->max_slots));
	/* §5.4.4: Function Wake notifications only (N1), for USB 3 remote wake. */
	xhci_op_wr(x, XHCI_OP_DNCTRL, XHCI_DNCTRL_N(XHCI_DN_FUNCTION_WAKE));
	wr64(x, x->op + XHCI_OP_DCBAAP, x->dcbaa_bus);
	wr64(x, x->op + XHCI_OP_CRCR, x->cmd_ring.bus | XHCI_CRCR_RCS);
	event_ring_program(x);
	xhci_op_wr(x, XHCI_OP_USBCMD, (xhci_op_rd(x, XHCI_OP_USBCMD) & XHCI_USBCMD_RSVDP) |
					      XHCI_USBCMD_RUN | XHCI_USBCMD_HSEE |
					      (x->opts.irq ? XHCI_USBCMD_INTE : 0));
	rc = wait_bits(x, x->op + XHCI_OP_USBSTS, XHCI_USBSTS_HCH, 0,
		       XHCI_HALT_TIMEOUT_US);
	if (rc)
		bu_xhci_log(x, BU_LOG_ERR, "controller did not start");
	return rc;
}

int bu_xhci_create(uintptr_t regs, const struct bu_platform *plat,
		   const struct bu_xhci_options *opts, unsigned index,
		   struct bu_usb_bus **busp)
{
	struct xhci *x;
	int rc;

	if (!plat_usable(plat) || !busp)
		return BU_EINVAL;
	x = plat->alloc(plat->ctx, sizeof(*x));
	if (!x)
		return BU_ENOMEM;
	xhci_init(x, plat, opts, index);
	rc = xhci_read_caps(x, regs);
	if (rc)
		goto err_caps;
	bu_xhci_quirks_init(x);
	/* What dma_alloc and dma_map are told to stay below (§5.3.6). */
	x->dma_mask = x->ac64 ? UINT64_MAX : 0xffffffffu;
	x->bus.dma_mask = x->dma_mask;
	rc = xhci_take_over(x);
	if (rc)
		goto err_take_over;
	bu_xhci_quirks_start(x);
	rc = xhci_dcbaa_alloc(x);
	if (rc)
		goto err_dcbaa;
	rc = bu_xhci_cmd_ring_alloc(x);
	if (rc)
		goto err_cmd_ring;
	rc = event_ring_alloc(x);
	if (rc)
		goto err_event_ring;
	rc = xhci_start(x);
	if (rc)
		goto err_start;
	bu_xhci_ports_power_on(x);
	*busp = &x->bus;
	rc = bu_usb_bus_start(&x->bus);
	if (rc)
		goto err_bus_start;
	return 0;

err_bus_start:
	*busp = NULL;
err_start:
	/* Halt it before its memory goes back. */
	xhci_stop(x);
	bu_xhci_dev_free_all(x);
	event_ring_free(x);
err_event_ring:
	bu_xhci_cmd_ring_free(x);
err_cmd_ring:
	xhci_dcbaa_free(x);
err_dcbaa:
	bu_xhci_quirks_stop(x);
err_take_over:
err_caps:
	plat->free(plat->ctx, x, sizeof(*x));
	return rc;
}

/* ======================================================================== */
/* Services for system sleep (xhci_pm.c)                                    */
/* ======================================================================== */

int bu_xhci_hc_wait(struct xhci *x, unsigned off, uint32_t mask, uint32_t value,
		    uint64_t timeout_us)
{
	return wait_bits(x, x->op + off, mask, value, timeout_us);
}

void bu_xhci_hc_wr64(struct xhci *x, uintptr_t addr, uint64_t v)
{
	wr64(x, addr, v);
}

int bu_xhci_hc_halt(struct xhci *x)
{
	return xhci_halt(x);
}

void bu_xhci_cmd_ring_restart(struct xhci *x)
{
	bool chain = x->cmd_ring.link_chain;

	bu_xhci_ring_init(&x->cmd_ring, x->cmd_ring.trbs, x->cmd_ring.bus, x->cmd_ring.count);
	x->cmd_ring.link_chain = chain;
	xhci_sync_dev(x, x->cmd_ring.trbs, x->cmd_ring.bus, ring_bytes(x, x->cmd_ring.count),
		      BU_DMA_TO_DEVICE);
}

int bu_xhci_hc_reinit(struct xhci *x)
{
	int rc;

	rc = wait_bits_for(x, "the controller to be ready (CNR)", x->op + XHCI_OP_USBSTS,
			   XHCI_USBSTS_CNR, 0, x->opts.reset_timeout_ms * 1000ull);
	if (!rc)
		rc = xhci_reset(x);
	if (rc)
		return rc;
	/* Nothing of the old set-up survives HCRST but our memory: the
	 * DCBAA keeps only the scratchpad array, both rings start over. */
	bu_xhci_dev_free_all(x);
	bu_memset(&x->dcbaa[1], 0, x->max_slots * 8u);
	xhci_sync_dev(x, x->dcbaa, x->dcbaa_bus, (x->max_slots + 1) * 8u, BU_DMA_TO_DEVICE);
	bu_xhci_cmd_fail_all(x);
	bu_xhci_cmd_ring_restart(x);
	x->evt.deq = 0;
	for (unsigned i = 0; i < x->evt.nsegs; i++) {
		bu_memset(x->evt.seg[i], 0, x->evt.seg_trbs * sizeof(struct xhci_trb));
		xhci_sync_dev(x, x->evt.seg[i], x->evt.seg_bus[i],
			      x->evt.seg_trbs * sizeof(struct xhci_trb), BU_DMA_TO_DEVICE);
	}
	rc = xhci_start(x);
	if (!rc)
		bu_xhci_ports_power_on(x);
	return rc;
}

bool bu_xhci_irq(struct bu_usb_bus *bus)
{
	struct xhci *x = bus_xhci(bus);
	uint32_t sts, iman;

	if (!x->opts.irq || x->failed)
		return false;
	sts = xhci_op_rd(x, XHCI_OP_USBSTS);
	if (sts == 0xffffffffu)
		return false; /* gone: poll reports it */
	iman = xhci_rd32(x, x->rt + XHCI_RT_IR(0) + XHCI_IR_IMAN);
	if (!(sts & (XHCI_USBSTS_EINT | XHCI_USBSTS_HSE)) && !(iman & XHCI_IMAN_IP))
		return false;
	/* EINT before IP (§4.17.2); HSE stays for poll to see. */
	if (sts & XHCI_USBSTS_EINT)
		usbsts_ack(x, XHCI_USBSTS_EINT);
	if (iman & XHCI_IMAN_IP)
		iman_ack(x);
	return true;
}

void bu_xhci_set_trace(struct bu_usb_bus *bus, bool on)
{
	struct bu_xhci_trace_filter f = { .categories = on ? BU_XHCI_TRACE_ALL : 0 };

	bu_xhci_set_trace_filter(bus, &f);
}

void bu_xhci_set_trace_filter(struct bu_usb_bus *bus, const struct bu_xhci_trace_filter *f)
{
	static const struct bu_xhci_trace_filter off = { 0 };

	if (!bus)
		return;
	bus_xhci(bus)->trace = f ? *f : off;
	bus_xhci(bus)->trace.categories &= BU_XHCI_TRACE_ALL;
	bus->trace_steps = (bus_xhci(bus)->trace.categories & BU_XHCI_TRACE_ENUM) != 0;
}

/** A number in decimal or 0x-hex, whole word; false on anything else or past `max`. */
static bool parse_uint(const char *s, size_t n, unsigned max, unsigned *out)
{
	unsigned base = 10, v = 0;
	size_t i = 0;

	if (n > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
		base = 16, i = 2;
	if (i == n)
		return false;
	for (; i < n; i++) {
		char c = s[i];
		unsigned d = c >= '0' && c <= '9' ? (unsigned)(c - '0')
			     : c >= 'a' && c <= 'f' ? (unsigned)(c - 'a' + 10)
			     : c >= 'A' && c <= 'F' ? (unsigned)(c - 'A' + 10) : 99;

		if (d >= base || v > (max - d) / base)
			return false;
		v = v * base + d;
	}
	*out = v;
	return true;
}

/** Whether word w (n bytes) is `lit`. */
static bool word_is(const char *w, size_t n, const char *lit)
{
	return bu_strlen(lit) == n && !bu_memcmp(w, lit, n);
}

int bu_xhci_trace_filter_parse(const char *words, struct bu_xhci_trace_filter *out)
{
	static const struct {
		const char *name;
		uint32_t cat;
	} cats[] = {
		{ "cmd", BU_XHCI_TRACE_CMD },	  { "xfer", BU_XHCI_TRACE_XFER },
		{ "event", BU_XHCI_TRACE_EVENT }, { "port", BU_XHCI_TRACE_PORT },
		{ "db", BU_XHCI_TRACE_DOORBELL }, { "reg", BU_XHCI_TRACE_REG },
		{ "enum", BU_XHCI_TRACE_ENUM },	  { "all", BU_XHCI_TRACE_ALL },
		{ "off", 0 },
	};
	struct bu_xhci_trace_filter f = { 0 };

	if (!words || !out)
		return BU_EINVAL;
	for (const char *p = words; *p;) {
		size_t n = 0;
		unsigned v;
		bool known = false;

		while (*p == ',' || *p == ' ')
			p++;
		while (p[n] && p[n] != ',' && p[n] != ' ')
			n++;
		if (!n)
			break;
		if (n > 5 && !bu_memcmp(p, "slot=", 5)) {
			if (!parse_uint(p + 5, n - 5, 255, &v))
				return BU_EINVAL;
			f.slot = (uint8_t)v;
			known = true;
		} else if (n > 3 && !bu_memcmp(p, "ep=", 3)) {
			if (!parse_uint(p + 3, n - 3, 0xff, &v) || (v & 0x70))
				return BU_EINVAL;
			f.ep = (uint8_t)v;
			f.match_ep = known = true;
		}
		for (size_t i = 0; i < BU_ARRAY_SIZE(cats) && !known; i++)
			if (word_is(p, n, cats[i].name)) {
				f.categories = cats[i].cat ? f.categories | cats[i].cat : 0;
				known = true;
			}
		if (!known)
			return BU_EINVAL;
		p += n;
	}
	*out = f;
	return 0;
}
