/*
 * bareusb xHCI host-controller driver.
 *
 * Reads top to bottom like the spec (xHCI 1.2): register access, logging and
 * tracing, extended capabilities (legacy handoff, supported protocols),
 * memory (DCBAA, scratchpads, contexts, rings), run/stop/reset, the command
 * ring, the event ring, commands, root ports, devices, endpoints and
 * transfers, event dispatch, and finally the public entry points.
 *
 * The driver is polled: interrupts stay disabled, and all work happens in
 * xhci_poll(), called by the core from bu_usb_bus_poll(). Every wait is
 * bounded by the platform clock.
 */
#include <stdarg.h>

#include "xhci_priv.h"

#include "bareusb/assert.h"
#include "bareusb/errors.h"
#include "bareusb/util.h"
#include "bareusb/xhci_trace.h"

#define XHCI_MAX_PORTS 255
#define XHCI_MAX_PROTOCOLS 8
#define XHCI_MAX_PSI 16
#define XHCI_MAX_CHUNKS 64      /* DMA chunks per transfer */
#define XHCI_HALT_TIMEOUT_US 20000 /* §5.4.1: HCH within 16 ms of R/S=0 */
#define XHCI_PORT_POWER_DELAY_US 20000 /* §5.4.8: 20 ms after PP=1 */

/** One xHCI Supported Protocol capability (§7.2). */
struct xhci_protocol {
	uint8_t major;
	uint8_t minor;
	uint8_t slot_type;
	uint8_t first_port; /* 1-based */
	uint8_t num_ports;
	uint8_t num_psi;
	uint32_t psi[XHCI_MAX_PSI];
};

struct xhci;

/** A pending command: what to call when its completion event arrives. */
struct xhci_cmd {
	void (*done)(struct xhci *x, struct xhci_cmd *cmd, unsigned cc,
		     unsigned slot);
	struct xhci_dev *dev;
	struct xhci_ep *ep;
	bu_usb_done_fn user_done; /* the core's callback, if any */
	void *user_ctx;           /* and its context */
	uint64_t deadline_us;
	uint32_t counter;
	uint8_t type;
	bool active;
	bool aborted;
};

/** Per-endpoint driver state (one per DCI of a slot). */
struct xhci_ep {
	struct xhci_dev *dev;
	struct bu_usb_endpoint *uep;
	struct xhci_ring ring;
	unsigned dci;
	unsigned type;       /* enum bu_usb_ep_type */
	bool in;
	bool halted;         /* controller halted it; recovery pending */
	bool stopping;       /* Stop Endpoint in flight (cancel) */
	bool paused;         /* held stopped for a suspend: no doorbell until unpaused */
	bool restart;        /* ring the doorbell once recovery is done */
	bool broken;         /* recovery failed: the endpoint refuses work */
	bool skip_valid;     /* drop one event at skip_counter (after a short) */
	uint32_t skip_counter;
	struct bu_usb_xfer *head, *tail; /* TDs on the ring, in order */
	size_t ring_bytes;
};

/** Per-slot driver state. */
struct xhci_dev {
	struct bu_usb_device *udev;
	unsigned slot;
	void *out_ctx;
	uint64_t out_bus;
	void *in_ctx;
	uint64_t in_bus;
	struct xhci_ep *eps[32]; /* by DCI; eps[1] is EP0 */
	struct xhci_ep *old_eps[32]; /* replaced during a Configure Endpoint */
	struct xhci_dev *next_disable; /* on xhci.disable_pending */
	bool disabling;
};

/** The controller. */
struct xhci {
	struct bu_usb_bus bus;
	const struct bu_platform *plat;
	struct bu_xhci_options opts;
	uintptr_t base, op, rt, db;
	uint32_t hcsparams1, hcsparams2, hccparams1, hccparams2;
	uint16_t hciversion;
	bool lec;  /* HCCPARAMS2.LEC: Max ESIT Payload may exceed 16 bits */
	unsigned max_slots, max_ports, csz, page_size, num_scratch;
	bool ac64;
	bool trace;
	bool failed;

	struct xhci_protocol protos[XHCI_MAX_PROTOCOLS];
	unsigned num_protos;
	uint8_t port_proto[XHCI_MAX_PORTS + 1]; /* index+1 into protos, 0 = none */

	uint64_t *dcbaa;
	uint64_t dcbaa_bus;
	uint64_t *scratch_array;
	uint64_t scratch_array_bus;
	void **scratch_bufs;

	struct xhci_ring cmd_ring;
	struct xhci_cmd *cmds; /* one per command ring slot */

	struct xhci_trb *evt;
	uint64_t evt_bus;
	uint32_t evt_count;
	uint32_t evt_deq; /* free-running */
	struct xhci_erst_entry *erst;
	uint64_t erst_bus;

	struct xhci_dev *slots[256];
	struct xhci_dev *disable_pending; /* Disable Slot waiting for ring space */
};

/* ======================================================================== */
/* Register access                                                          */
/* ======================================================================== */

/** Read a 32-bit register at `addr`. */
static uint32_t rd32(struct xhci *x, uintptr_t addr)
{
	return x->plat->read32(x->plat->ctx, addr);
}

/** Write a 32-bit register at `addr`. */
static void wr32(struct xhci *x, uintptr_t addr, uint32_t v)
{
	x->plat->write32(x->plat->ctx, addr, v);
}

/** Write a 64-bit register: one access, or low half then high half. */
static void wr64(struct xhci *x, uintptr_t addr, uint64_t v)
{
	if (x->plat->write64) {
		x->plat->write64(x->plat->ctx, addr, v);
		return;
	}
	/* §5.1: 64-bit registers latch on the high-half write. */
	wr32(x, addr, (uint32_t)v);
	wr32(x, addr + 4, (uint32_t)(v >> 32));
}

static uint32_t op_rd(struct xhci *x, unsigned off)
{
	return rd32(x, x->op + off);
}

static void op_wr(struct xhci *x, unsigned off, uint32_t v)
{
	wr32(x, x->op + off, v);
}

/** Acknowledge USBSTS change bits (RW1C) without touching the others. */
static void usbsts_ack(struct xhci *x, uint32_t bits)
{
	op_wr(x, XHCI_OP_USBSTS, bits & XHCI_USBSTS_RW1C);
}

/**
 * Write PORTSC preserving what must be preserved (§4.19.2): never write the
 * read value back (PED is RW1C and the change bits are RW1C).
 */
static void portsc_write(struct xhci *x, unsigned port, uint32_t cur,
			 uint32_t set)
{
	op_wr(x, XHCI_OP_PORTSC(port), (cur & XHCI_PORTSC_PRESERVE) | set);
}

static uint64_t now_us(struct xhci *x)
{
	return x->plat->now_us(x->plat->ctx);
}

/** Short delay; a spin on the clock when the platform has no delay. */
static void udelay(struct xhci *x, uint32_t us)
{
	uint64_t end;

	if (x->plat->delay_us) {
		x->plat->delay_us(x->plat->ctx, us);
		return;
	}
	end = now_us(x) + us;
	while (now_us(x) < end)
		;
}

/**
 * The one bounded register wait: poll until (reg & mask) == value or
 * `timeout_us` passes. Returns 0 or BU_ETIMEDOUT.
 */
static int wait_bits(struct xhci *x, uintptr_t addr, uint32_t mask,
		     uint32_t value, uint32_t timeout_us)
{
	uint64_t deadline = now_us(x) + timeout_us;

	for (;;) {
		uint32_t v = rd32(x, addr);

		if (v == 0xffffffffu)
			return BU_ENODEV;
		if ((v & mask) == value)
			return 0;
		if (now_us(x) >= deadline)
			return BU_ETIMEDOUT;
		udelay(x, 10);
	}
}

/* ======================================================================== */
/* Diagnostics                                                              */
/* ======================================================================== */

/** Log a formatted line at `level`, prefixed with the controller. */
static void xlog(struct xhci *x, enum bu_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void xlog(struct xhci *x, enum bu_log_level level, const char *fmt, ...)
{
	char line[256];
	int n;
	va_list ap;

	n = bu_snprintf(line, sizeof(line), "xhci%u: ", x->bus.index);
	va_start(ap, fmt);
	bu_vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	va_end(ap);
	x->plat->log(x->plat->ctx, level, line);
}

/** Trace one TRB or event when tracing is on (costs one branch when off). */
static void trace_trb(struct xhci *x, const char *what, uint64_t addr,
		      const struct xhci_trb *t)
{
	char buf[200];
	uint32_t dw[4];

	if (!x->trace)
		return;
	for (int i = 0; i < 4; i++)
		dw[i] = bu_le32_to_cpu(t->dw[i]);
	bu_xhci_trb_decode(dw, buf, sizeof(buf));
	xlog(x, BU_LOG_TRACE, "%s @0x%llx: %s", what, (unsigned long long)addr, buf);
}

static int xhci_halt(struct xhci *x);

/** Report a controller that stopped working and fail it. */
static void xhci_fail(struct xhci *x, const char *why)
{
	char sts[96];

	if (x->failed)
		return;
	x->failed = true;
	x->bus.failed = true;
	bu_xhci_usbsts_decode(op_rd(x, XHCI_OP_USBSTS), sts, sizeof(sts));
	xlog(x, BU_LOG_ERR, "controller failed: %s (USBSTS %s)", why, sts);
	/* Stop it touching memory we are about to give back (bounded). */
	if (op_rd(x, XHCI_OP_USBSTS) != 0xffffffffu && xhci_halt(x))
		xlog(x, BU_LOG_ERR, "controller does not halt");
}

/* ======================================================================== */
/* Extended capabilities: legacy handoff and supported protocols (§7)       */
/* ======================================================================== */

/** Find the next extended capability with `id` after `prev` (0 = first). */
static uintptr_t xcap_find(struct xhci *x, unsigned id, uintptr_t prev)
{
	uintptr_t at;
	unsigned guard = 0;

	if (prev) {
		unsigned next = XHCI_XCAP_NEXT(rd32(x, prev));

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
		uint32_t v = rd32(x, at);

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
	uintptr_t cap = xcap_find(x, XHCI_XCAP_LEGACY, 0);
	uint32_t v, ctl;
	int rc;

	if (!cap)
		return;
	v = rd32(x, cap);
	if (v & XHCI_LEGSUP_BIOS_OWNED) {
		xlog(x, BU_LOG_INFO, "taking ownership from firmware");
		wr32(x, cap, v | XHCI_LEGSUP_OS_OWNED);
		rc = wait_bits(x, cap, XHCI_LEGSUP_BIOS_OWNED, 0,
			       x->opts.handoff_timeout_ms * 1000u);
		if (rc) {
			xlog(x, BU_LOG_WARN,
			     "firmware did not release the controller in %u ms; forcing",
			     x->opts.handoff_timeout_ms);
			v = rd32(x, cap);
			wr32(x, cap, (v & ~XHCI_LEGSUP_BIOS_OWNED) | XHCI_LEGSUP_OS_OWNED);
		}
	} else {
		wr32(x, cap, v | XHCI_LEGSUP_OS_OWNED);
	}
	/* Disable SMIs and acknowledge pending ones. */
	ctl = rd32(x, cap + XHCI_LEGCTLSTS);
	wr32(x, cap + XHCI_LEGCTLSTS,
	     (ctl & XHCI_LEGCTLSTS_PRESERVE) | XHCI_LEGCTLSTS_EVENTS);
}

/** Record the Supported Protocol capabilities: which port speaks what. */
static void xhci_read_protocols(struct xhci *x)
{
	uintptr_t cap = 0;

	while ((cap = xcap_find(x, XHCI_XCAP_PROTOCOL, cap)) != 0 &&
	       x->num_protos < XHCI_MAX_PROTOCOLS) {
		struct xhci_protocol *p = &x->protos[x->num_protos];
		uint32_t d0 = rd32(x, cap), d2 = rd32(x, cap + 8);
		uint32_t d3 = rd32(x, cap + 12);
		unsigned psic = XHCI_PROTO_PSIC(d2);

		p->major = (uint8_t)XHCI_PROTO_MAJOR(d0);
		p->minor = (uint8_t)XHCI_PROTO_MINOR(d0);
		p->slot_type = (uint8_t)XHCI_PROTO_SLOT_TYPE(d3);
		p->first_port = (uint8_t)XHCI_PROTO_PORT_OFF(d2);
		p->num_ports = (uint8_t)XHCI_PROTO_PORT_COUNT(d2);
		p->num_psi = (uint8_t)BU_MIN(psic, (unsigned)XHCI_MAX_PSI);
		for (unsigned i = 0; i < p->num_psi; i++)
			p->psi[i] = rd32(x, cap + 16 + 4 * i);
		for (unsigned i = 0; i < p->num_ports; i++) {
			unsigned port = p->first_port + i;

			if (port >= 1 && port <= x->max_ports)
				x->port_proto[port] = (uint8_t)(x->num_protos + 1);
		}
		xlog(x, BU_LOG_DEBUG, "USB %x.%02x ports %u-%u slot type %u, %u PSI",
		     p->major, p->minor, p->first_port,
		     p->first_port + p->num_ports - 1, p->slot_type, p->num_psi);
		x->num_protos++;
	}
}

/** The protocol of a root port, or NULL when no capability names it. */
static const struct xhci_protocol *port_protocol(struct xhci *x, unsigned port)
{
	if (port < 1 || port > x->max_ports || !x->port_proto[port])
		return NULL;
	return &x->protos[x->port_proto[port] - 1];
}

/**
 * Speed of a PORTSC Port Speed value on `port`: from the protocol's PSI
 * table when it has one (§7.2.1), else the default mapping (§7.2.2.1.1).
 */
static enum bu_usb_speed port_speed(struct xhci *x, unsigned port, unsigned psiv)
{
	const struct xhci_protocol *p = port_protocol(x, port);

	if (p && p->num_psi) {
		for (unsigned i = 0; i < p->num_psi; i++) {
			uint32_t psi = p->psi[i];
			uint64_t bps = XHCI_PSI_PSIM(psi);

			if (XHCI_PSI_PSIV(psi) != psiv)
				continue;
			for (unsigned e = 0; e < XHCI_PSI_PSIE(psi); e++)
				bps *= 1000;
			if (p->major >= 3)
				return (XHCI_PSI_LP(psi) || bps > 5000000000ull)
					       ? BU_SPEED_SUPER_PLUS : BU_SPEED_SUPER;
			if (bps <= 1500000)
				return BU_SPEED_LOW;
			if (bps <= 12000000)
				return BU_SPEED_FULL;
			return BU_SPEED_HIGH;
		}
	}
	switch (psiv) {
	case 1: return BU_SPEED_FULL;
	case 2: return BU_SPEED_LOW;
	case 3: return BU_SPEED_HIGH;
	case 4: return BU_SPEED_SUPER;
	case 5: case 6: case 7: return BU_SPEED_SUPER_PLUS;
	default: return BU_SPEED_UNKNOWN;
	}
}

/** The PSIV to put in a slot context for `speed` (default mapping). */
static unsigned speed_psiv(enum bu_usb_speed speed)
{
	switch (speed) {
	case BU_SPEED_FULL: return 1;
	case BU_SPEED_LOW: return 2;
	case BU_SPEED_HIGH: return 3;
	case BU_SPEED_SUPER: return 4;
	case BU_SPEED_SUPER_PLUS: return 5;
	default: return 0;
	}
}

/* ======================================================================== */
/* Memory: DMA allocations, rings, contexts                                 */
/* ======================================================================== */

/** Allocate zeroed DMA memory; NULL on failure or an unusable address. */
static void *dma_zalloc(struct xhci *x, size_t size, size_t align,
			size_t boundary, uint64_t *bus)
{
	void *p = x->plat->dma_alloc(x->plat->ctx, size, align, boundary, bus);

	if (!p)
		return NULL;
	if (!x->ac64 && (*bus >> 32)) {
		/* §5.3.6: without AC64 the controller sees 32 bits only. */
		x->plat->dma_free(x->plat->ctx, p, size);
		return NULL;
	}
	bu_memset(p, 0, size);
	return p;
}

static void dma_release(struct xhci *x, void *p, size_t size)
{
	if (p)
		x->plat->dma_free(x->plat->ctx, p, size);
}

static void *zalloc(struct xhci *x, size_t size)
{
	void *p = x->plat->alloc(x->plat->ctx, size);

	if (p)
		bu_memset(p, 0, size);
	return p;
}

static void release(struct xhci *x, void *p, size_t size)
{
	if (p)
		x->plat->free(x->plat->ctx, p, size);
}

/** Bytes of a ring of `count` TRBs plus its Link TRB. */
static size_t ring_bytes(uint32_t count)
{
	return (count + 1) * sizeof(struct xhci_trb);
}

/** Allocate a producer ring (§6.5: 64-byte aligned, no 64 KiB crossing). */
static int ring_alloc(struct xhci *x, struct xhci_ring *r, uint32_t count)
{
	uint64_t bus;
	struct xhci_trb *trbs = dma_zalloc(x, ring_bytes(count), 64, 0x10000, &bus);

	if (!trbs)
		return BU_ENOMEM;
	bu_xhci_ring_init(r, trbs, bus, count);
	return 0;
}

static void ring_free(struct xhci *x, struct xhci_ring *r)
{
	dma_release(x, r->trbs, ring_bytes(r->count));
	r->trbs = NULL;
}

/** Input context entry `index` (0 = input control, 1 = slot, DCI+1 = EP). */
static uint32_t *in_ctx(struct xhci *x, struct xhci_dev *d, unsigned index)
{
	return (uint32_t *)((char *)d->in_ctx + index * x->csz);
}

/** Output (device) context entry: 0 = slot, DCI = endpoint. */
static uint32_t *out_ctx(struct xhci *x, struct xhci_dev *d, unsigned dci)
{
	return (uint32_t *)((char *)d->out_ctx + dci * x->csz);
}

/* ======================================================================== */
/* Run, stop, reset (§4.2, §5.4.1)                                          */
/* ======================================================================== */

/** Clear R/S and wait for HCH. */
static int xhci_halt(struct xhci *x)
{
	uint32_t cmd = op_rd(x, XHCI_OP_USBCMD);

	if (op_rd(x, XHCI_OP_USBSTS) & XHCI_USBSTS_HCH)
		return 0;
	op_wr(x, XHCI_OP_USBCMD, cmd & ~(XHCI_USBCMD_RUN | XHCI_USBCMD_INTE));
	return wait_bits(x, x->op + XHCI_OP_USBSTS, XHCI_USBSTS_HCH,
			 XHCI_USBSTS_HCH, XHCI_HALT_TIMEOUT_US);
}

/** HCRST, then wait for HCRST and CNR to clear (both bounded). */
static int xhci_reset(struct xhci *x)
{
	uint32_t timeout = x->opts.reset_timeout_ms * 1000u;
	int rc;

	rc = xhci_halt(x);
	if (rc) {
		xlog(x, BU_LOG_ERR, "controller did not halt");
		return rc;
	}
	op_wr(x, XHCI_OP_USBCMD, XHCI_USBCMD_HCRST);
	/* Some controllers must not be touched right after HCRST (Linux and
	 * Intel docs use 1 ms); the wait below covers the rest. */
	udelay(x, 1000);
	rc = wait_bits(x, x->op + XHCI_OP_USBCMD, XHCI_USBCMD_HCRST, 0, timeout);
	if (!rc)
		rc = wait_bits(x, x->op + XHCI_OP_USBSTS, XHCI_USBSTS_CNR, 0, timeout);
	if (rc)
		xlog(x, BU_LOG_ERR, "reset did not complete in %u ms (%s)",
		     x->opts.reset_timeout_ms, bu_strerror(rc));
	return rc;
}

/* ======================================================================== */
/* Command ring (§4.6)                                                      */
/* ======================================================================== */

/** Ring a doorbell: DB0 for commands, DB slot with target DCI for transfers. */
static void doorbell(struct xhci *x, unsigned slot, unsigned target)
{
	bu_wmb();
	wr32(x, x->db + XHCI_DB(slot), target);
}

/**
 * Queue one command TRB and ring DB0. `done` runs from poll with the
 * completion code, or with XHCI_CC_CMD_ABORTED when it timed out.
 */
static int cmd_submit(struct xhci *x, uint32_t dw0, uint32_t dw1, uint32_t dw2,
		      uint32_t dw3,
		      void (*done)(struct xhci *, struct xhci_cmd *, unsigned, unsigned),
		      struct xhci_dev *dev, struct xhci_ep *ep, bu_usb_done_fn user_done,
		      void *user_ctx)
{
	struct xhci_cmd *cmd;
	uint32_t c;

	if (x->failed)
		return BU_ESHUTDOWN;
	if (!xhci_ring_space(&x->cmd_ring))
		return BU_EBUSY;
	cmd = &x->cmds[xhci_ring_slot(&x->cmd_ring, x->cmd_ring.enq)];
	/* A slot is reused only once its command completed or was given up. */
	if (!BU_CHECK(x->plat, !cmd->active))
		return BU_EBUSY;
	c = bu_xhci_ring_push(&x->cmd_ring, dw0, dw1, dw2, dw3, false);
	cmd->done = done;
	cmd->dev = dev;
	cmd->ep = ep;
	cmd->user_done = user_done;
	cmd->user_ctx = user_ctx;
	cmd->counter = c;
	cmd->type = (uint8_t)XHCI_TRB_TYPE(dw3);
	cmd->active = true;
	cmd->aborted = false;
	cmd->deadline_us = now_us(x) + x->opts.cmd_timeout_ms * 1000ull;
	trace_trb(x, "cmd", xhci_ring_addr(&x->cmd_ring, c),
		  xhci_ring_trb(&x->cmd_ring, c));
	doorbell(x, 0, 0);
	return 0;
}

/** Handle a Command Completion Event. */
static void cmd_complete(struct xhci *x, const uint32_t dw[4])
{
	uint64_t ptr = ((uint64_t)dw[1] << 32) | (dw[0] & ~15u);
	unsigned cc = XHCI_EVT_CC(dw[2]);
	uint32_t c;
	struct xhci_cmd *cmd;

	if (cc == XHCI_CC_CMD_RING_STOPPED) {
		/* After an abort: the pointer names the next command, which is
		 * still pending. Restart the ring if anything waits. */
		if (x->cmd_ring.enq != x->cmd_ring.deq)
			doorbell(x, 0, 0);
		return;
	}
	if (!bu_xhci_ring_find(&x->cmd_ring, ptr, &c)) {
		xlog(x, BU_LOG_WARN, "completion for unknown command 0x%llx (%s)",
		     (unsigned long long)ptr, bu_xhci_cc_name(cc));
		return;
	}
	cmd = &x->cmds[xhci_ring_slot(&x->cmd_ring, c)];
	if (!cmd->active)
		return;
	/* Commands complete in order: any older one still waiting lost its
	 * completion (an Event Lost, say): fail it rather than wait forever. */
	for (uint32_t k = x->cmd_ring.deq; k != c; k++) {
		struct xhci_cmd *old = &x->cmds[xhci_ring_slot(&x->cmd_ring, k)];

		if (old->active) {
			old->active = false;
			xlog(x, BU_LOG_WARN, "%s got no completion", bu_xhci_trb_type_name(old->type));
			old->done(x, old, XHCI_CC_CMD_ABORTED, 0);
		}
	}
	cmd->active = false;
	x->cmd_ring.deq = c + 1;
	/* The next command's deadline runs from now: it was waiting. */
	if (x->cmd_ring.deq != x->cmd_ring.enq) {
		struct xhci_cmd *next = &x->cmds[xhci_ring_slot(&x->cmd_ring, x->cmd_ring.deq)];

		if (next->active && !next->aborted)
			next->deadline_us = now_us(x) + x->opts.cmd_timeout_ms * 1000ull;
	}
	if (cc != XHCI_CC_SUCCESS)
		xlog(x, BU_LOG_DEBUG, "%s: %s", bu_xhci_trb_type_name(cmd->type),
		     bu_xhci_cc_name(cc));
	cmd->done(x, cmd, cc, XHCI_TRB_GET_SLOT(dw[3]));
}

/** Abort the oldest command if it is past its deadline (§4.6.1.2). */
static void cmd_check_timeout(struct xhci *x)
{
	struct xhci_ring *r = &x->cmd_ring;
	struct xhci_cmd *cmd;
	uint32_t crcr;

	if (r->enq == r->deq)
		return;
	cmd = &x->cmds[xhci_ring_slot(r, r->deq)];
	if (!cmd->active || now_us(x) < cmd->deadline_us)
		return;
	if (cmd->aborted) {
		/* The abort itself got no answer: the controller is dead. */
		xhci_fail(x, "command abort did not complete");
		return;
	}
	xlog(x, BU_LOG_WARN, "%s timed out after %u ms; aborting",
	     bu_xhci_trb_type_name(cmd->type), x->opts.cmd_timeout_ms);
	cmd->aborted = true;
	cmd->deadline_us = now_us(x) + x->opts.cmd_timeout_ms * 1000ull;
	/* Write CA to the low dword only (§5.4.5); the pointer bits are
	 * ignored while the ring runs. */
	crcr = op_rd(x, XHCI_OP_CRCR);
	op_wr(x, XHCI_OP_CRCR, (crcr & XHCI_CRCR_RCS) | XHCI_CRCR_CA);
}

/* ======================================================================== */
/* Event ring (§4.9.4)                                                      */
/* ======================================================================== */

/** Allocate the event ring (one segment: QEMU accepts nothing else) and ERST. */
static int event_ring_alloc(struct xhci *x)
{
	uint32_t n = x->opts.event_ring_trbs;

	x->evt = dma_zalloc(x, n * sizeof(struct xhci_trb), 64, 0x10000, &x->evt_bus);
	if (!x->evt)
		return BU_ENOMEM;
	x->erst = dma_zalloc(x, sizeof(*x->erst), 64, 0, &x->erst_bus);
	if (!x->erst)
		return BU_ENOMEM;
	x->evt_count = n;
	x->evt_deq = 0;
	x->erst[0].base = bu_cpu_to_le64(x->evt_bus);
	x->erst[0].size = bu_cpu_to_le32(n);
	return 0;
}

/** Clear IMAN.IP (RW1C), keeping IE as the options want it (§5.5.2.1). */
static void iman_ack(struct xhci *x)
{
	wr32(x, x->rt + XHCI_RT_IR(0) + XHCI_IR_IMAN,
	     XHCI_IMAN_IP | (x->opts.irq ? XHCI_IMAN_IE : 0));
}

/** Program interrupter 0: ERSTSZ, ERDP, then ERSTBA (§4.9.4), IMOD, IMAN. */
static void event_ring_program(struct xhci *x)
{
	uintptr_t ir = x->rt + XHCI_RT_IR(0);

	wr32(x, ir + XHCI_IR_ERSTSZ, 1);
	wr64(x, ir + XHCI_IR_ERDP, x->evt_bus);
	wr64(x, ir + XHCI_IR_ERSTBA, x->erst_bus);
	/* IMODC counts down from IMODI between interrupts (§5.5.2.2). */
	wr32(x, ir + XHCI_IR_IMOD, x->opts.imod_interval);
	/* Polled: interrupter disabled; with irq: enabled. Pending cleared. */
	iman_ack(x);
}

/* ======================================================================== */
/* Devices: slots and contexts                                              */
/* ======================================================================== */

static struct xhci *bus_xhci(struct bu_usb_bus *bus)
{
	return bus->hc_priv;
}

/** Free an endpoint's ring and state. */
static void ep_free(struct xhci *x, struct xhci_dev *d, unsigned dci)
{
	struct xhci_ep *ep = d->eps[dci];

	if (!ep)
		return;
	if (ep->uep)
		ep->uep->hc_priv = NULL;
	ring_free(x, &ep->ring);
	release(x, ep, sizeof(*ep));
	d->eps[dci] = NULL;
}

/** Allocate an endpoint's state and ring. */
static struct xhci_ep *ep_alloc(struct xhci *x, struct xhci_dev *d,
				struct bu_usb_endpoint *uep, unsigned dci)
{
	struct xhci_ep *ep = zalloc(x, sizeof(*ep));

	if (!ep)
		return NULL;
	if (ring_alloc(x, &ep->ring, x->opts.xfer_ring_trbs)) {
		release(x, ep, sizeof(*ep));
		return NULL;
	}
	ep->dev = d;
	ep->uep = uep;
	ep->dci = dci;
	ep->type = uep->type;
	ep->in = (uep->address & USB_DIR_IN) != 0;
	d->eps[dci] = ep;
	uep->hc_priv = ep;
	return ep;
}

/** Free a slot's driver state (contexts, rings). */
static void dev_free(struct xhci *x, struct xhci_dev *d)
{
	for (unsigned dci = 1; dci < 32; dci++) {
		ep_free(x, d, dci);
		if (d->old_eps[dci]) {
			ring_free(x, &d->old_eps[dci]->ring);
			release(x, d->old_eps[dci], sizeof(*d->old_eps[dci]));
			d->old_eps[dci] = NULL;
		}
	}
	if (d->slot) {
		x->dcbaa[d->slot] = 0;
		x->slots[d->slot] = NULL;
	}
	dma_release(x, d->out_ctx, 32 * x->csz);
	dma_release(x, d->in_ctx, 33 * x->csz);
	if (d->udev)
		d->udev->hc_priv = NULL;
	release(x, d, sizeof(*d));
}

/** Fill the EP context (input entry) for an endpoint. */
static void ep_ctx_fill(struct xhci *x, struct xhci_dev *d, struct xhci_ep *ep)
{
	struct bu_usb_endpoint *u = ep->uep;
	enum bu_usb_speed speed = d->udev->speed;
	uint32_t *c = in_ctx(x, d, ep->dci + 1);
	unsigned type = bu_xhci_ep_type(u->type, ep->in);
	unsigned interval = bu_xhci_ep_interval(speed, u->type, u->interval);
	unsigned cerr = u->type == BU_EP_ISOCH ? 0 : 3; /* §4.10.2.7 */
	struct bu_xhci_esit e = bu_xhci_ep_esit(speed, u->type, u->mps, u->max_burst,
						 u->mult, u->max_esit, x->lec);
	uint32_t esit = e.esit;
	unsigned avg;

	if (u->type == BU_EP_CONTROL)
		avg = 8; /* §6.2.3: control endpoints use 8 */
	else if (u->type == BU_EP_BULK)
		avg = 3072; /* §4.14.1.1 guidance for bulk */
	else
		avg = esit ? BU_MIN(esit, 0xffffu) : u->mps;
	if (e.clamped)
		xlog(x, BU_LOG_WARN,
		     "slot %u endpoint 0x%02x: %s: Max ESIT Payload %lu, not %lu",
		     d->slot, u->address, e.clamped, (unsigned long)esit,
		     (unsigned long)u->max_esit);
	bu_memset(c, 0, x->csz);
	/* §6.2.3: Max ESIT Payload Hi is RsvdZ without LEC; the helper
	 * keeps the payload within 16 bits then. */
	c[0] = bu_cpu_to_le32(XHCI_EP_INTERVAL(interval) | XHCI_EP_MULT(e.mult) |
			      XHCI_EP_ESIT_HI(esit));
	c[1] = bu_cpu_to_le32(XHCI_EP_CERR(cerr) | XHCI_EP_TYPE(type) |
			      XHCI_EP_BURST(u->max_burst) | XHCI_EP_MPS(u->mps));
	c[2] = bu_cpu_to_le32((uint32_t)ep->ring.bus | XHCI_EP_DCS);
	c[3] = bu_cpu_to_le32((uint32_t)(ep->ring.bus >> 32));
	c[4] = bu_cpu_to_le32(XHCI_EP_AVG_TRB(avg) | XHCI_EP_ESIT_LO(esit));
}

/**
 * Nearest high-speed hub above a low/full-speed device, which provides its
 * transaction translator; sets *port to the hub port on the way down.
 */
static struct bu_usb_device *tt_hub(struct bu_usb_device *dev, unsigned *port)
{
	struct bu_usb_device *child = dev;

	if (dev->speed != BU_SPEED_LOW && dev->speed != BU_SPEED_FULL)
		return NULL;
	for (struct bu_usb_device *p = dev->parent; p; child = p, p = p->parent) {
		if (p->speed == BU_SPEED_HIGH) {
			*port = child->port;
			return p;
		}
	}
	return NULL;
}

/** Fill the input slot context from the core's device description. */
static void slot_ctx_fill(struct xhci *x, struct xhci_dev *d, unsigned entries)
{
	struct bu_usb_device *u = d->udev;
	uint32_t *s = in_ctx(x, d, 1);
	unsigned tt_port = 0;
	struct bu_usb_device *tt = tt_hub(u, &tt_port);
	uint32_t d0, d1, d2 = 0;

	d0 = XHCI_SLOT_ROUTE(u->route) | XHCI_SLOT_SPEED(speed_psiv(u->speed)) |
	     XHCI_SLOT_ENTRIES(entries);
	d1 = XHCI_SLOT_ROOT_PORT(u->root_port);
	if (u->is_hub) {
		d0 |= XHCI_SLOT_HUB;
		d1 |= XHCI_SLOT_NPORTS(u->hub_nports);
		if (u->speed == BU_SPEED_HIGH) {
			d2 |= XHCI_SLOT_TTT(u->hub_tt_think);
			if (u->hub_mtt)
				d0 |= XHCI_SLOT_MTT;
		}
	}
	if (tt && tt->slot) {
		d2 |= XHCI_SLOT_TT_SLOT(tt->slot) | XHCI_SLOT_TT_PORT(tt_port);
		if (tt->hub_mtt)
			d0 |= XHCI_SLOT_MTT;
	}
	bu_memset(s, 0, x->csz);
	s[0] = bu_cpu_to_le32(d0);
	s[1] = bu_cpu_to_le32(d1);
	s[2] = bu_cpu_to_le32(d2);
}

/** Clear the input control context and set its add/drop flags. */
static void icc_set(struct xhci *x, struct xhci_dev *d, uint32_t add, uint32_t drop)
{
	uint32_t *icc = in_ctx(x, d, 0);

	bu_memset(icc, 0, x->csz);
	icc[XHCI_ICC_DROP] = bu_cpu_to_le32(drop);
	icc[XHCI_ICC_ADD] = bu_cpu_to_le32(add);
}

/** Completion for commands nobody waits for. */
static void cmd_ignore(struct xhci *x, struct xhci_cmd *cmd, unsigned cc,
		       unsigned slot)
{
	(void)x;
	(void)cmd;
	(void)cc;
	(void)slot;
}

/** Generic completion for device commands: report to the core. */
static void dev_cmd_done(struct xhci *x, struct xhci_cmd *cmd, unsigned cc,
			 unsigned slot)
{
	int err = cc == XHCI_CC_SUCCESS ? 0 : bu_xhci_cc_to_err(cc);

	if (cc == XHCI_CC_CMD_ABORTED)
		err = BU_ETIMEDOUT;
	if (cmd->user_done && cmd->dev && cmd->dev->udev)
		cmd->user_done(cmd->dev->udev, cmd->user_ctx, err);
}

/** Enable Slot completion: allocate contexts and EP0 for the new slot. */
static void enable_slot_done(struct xhci *x, struct xhci_cmd *cmd, unsigned cc,
			     unsigned slot)
{
	struct xhci_dev *d = cmd->dev;
	struct bu_usb_device *u = d->udev;
	int err = 0;

	if (d->disabling) {
		/* The device went away while the command ran: give the slot
		 * straight back and forget it. */
		if (cc == XHCI_CC_SUCCESS && slot >= 1 && slot <= x->max_slots)
			cmd_submit(x, 0, 0, 0,
				   XHCI_TRB_TYPE_SET(XHCI_TRB_DISABLE_SLOT) | XHCI_TRB_SLOT(slot),
				   cmd_ignore, NULL, NULL, NULL, NULL);
		dev_free(x, d);
		return;
	}
	if (cc != XHCI_CC_SUCCESS) {
		err = cc == XHCI_CC_CMD_ABORTED ? BU_ETIMEDOUT : bu_xhci_cc_to_err(cc);
		goto err_cmd;
	}
	if (slot < 1 || slot > x->max_slots || x->slots[slot]) {
		xlog(x, BU_LOG_ERR, "Enable Slot returned bad slot %u", slot);
		err = BU_EIO;
		goto err_cmd;
	}
	d->slot = slot;
	x->slots[slot] = d;
	d->out_ctx = dma_zalloc(x, 32 * x->csz, 64, x->page_size, &d->out_bus);
	d->in_ctx = dma_zalloc(x, 33 * x->csz, 64, x->page_size, &d->in_bus);
	if (!d->out_ctx || !d->in_ctx || !ep_alloc(x, d, &u->ep0, 1)) {
		err = BU_ENOMEM;
		goto err_alloc;
	}
	x->dcbaa[slot] = bu_cpu_to_le64(d->out_bus);
	u->slot = (uint8_t)slot;
	cmd->user_done(u, cmd->user_ctx, 0);
	return;

err_alloc:
	/* Give the slot back; its completion needs no callback. */
	cmd_submit(x, 0, 0, 0,
		   XHCI_TRB_TYPE_SET(XHCI_TRB_DISABLE_SLOT) | XHCI_TRB_SLOT(slot),
		   cmd_ignore, NULL, NULL, NULL, NULL);
err_cmd:
	u->hc_priv = NULL;
	dev_free(x, d);
	cmd->user_done(u, cmd->user_ctx, err);
}

/** ops.dev_enable: Enable Slot with the root port's protocol slot type. */
static int xhci_dev_enable(struct bu_usb_device *u, bu_usb_done_fn done, void *ctx)
{
	struct xhci *x = bus_xhci(u->bus);
	const struct xhci_protocol *p = port_protocol(x, u->root_port);
	struct xhci_dev *d;
	int rc;

	if (u->hc_priv)
		return BU_EBUSY;
	d = zalloc(x, sizeof(*d));
	if (!d)
		return BU_ENOMEM;
	d->udev = u;
	u->hc_priv = d;
	rc = cmd_submit(x, 0, 0, 0,
			XHCI_TRB_TYPE_SET(XHCI_TRB_ENABLE_SLOT) |
				XHCI_TRB_SLOT_TYPE(p ? p->slot_type : 0),
			enable_slot_done, d, NULL, done, ctx);
	if (rc) {
		u->hc_priv = NULL;
		release(x, d, sizeof(*d));
	}
	return rc;
}

/** Address Device completion: read back the assigned address. */
static void address_done(struct xhci *x, struct xhci_cmd *cmd, unsigned cc,
			 unsigned slot)
{
	struct xhci_dev *d = cmd->dev;

	if (cc == XHCI_CC_SUCCESS) {
		uint32_t s3 = bu_le32_to_cpu(out_ctx(x, d, 0)[3]);

		xlog(x, BU_LOG_DEBUG, "slot %u has address %u", d->slot,
		     XHCI_SLOT_GET_ADDR(s3));
	}
	dev_cmd_done(x, cmd, cc, slot);
}

/** ops.dev_address: Address Device (BSR=0) with slot and EP0 contexts. */
static int xhci_dev_address(struct bu_usb_device *u, bu_usb_done_fn done, void *ctx)
{
	struct xhci *x = bus_xhci(u->bus);
	struct xhci_dev *d = u->hc_priv;

	if (!d || !d->slot || !d->eps[1])
		return BU_EINVAL;
	/* QEMU insists on exactly A0|A1 here (and so does §4.6.5). */
	icc_set(x, d, 0x3, 0);
	slot_ctx_fill(x, d, 1);
	ep_ctx_fill(x, d, d->eps[1]);
	return cmd_submit(x, (uint32_t)d->in_bus, (uint32_t)(d->in_bus >> 32), 0,
			  XHCI_TRB_TYPE_SET(XHCI_TRB_ADDRESS_DEVICE) |
				  XHCI_TRB_SLOT(d->slot),
			  address_done, d, NULL, done, ctx);
}

/** ops.dev_update_ep0: Evaluate Context with EP0's new max packet size. */
static int xhci_dev_update_ep0(struct bu_usb_device *u, bu_usb_done_fn done, void *ctx)
{
	struct xhci *x = bus_xhci(u->bus);
	struct xhci_dev *d = u->hc_priv;

	if (!d || !d->slot || !d->eps[1])
		return BU_EINVAL;
	icc_set(x, d, 0x2, 0);
	ep_ctx_fill(x, d, d->eps[1]);
	/* The TR dequeue pointer is not evaluated (§6.2.3.3), but keep the
	 * context honest: point it at the ring's current enqueue position. */
	in_ctx(x, d, 2)[2] = bu_cpu_to_le32(
		(uint32_t)xhci_ring_addr(&d->eps[1]->ring, d->eps[1]->ring.enq) |
		xhci_ring_cycle(&d->eps[1]->ring, d->eps[1]->ring.enq));
	return cmd_submit(x, (uint32_t)d->in_bus, (uint32_t)(d->in_bus >> 32), 0,
			  XHCI_TRB_TYPE_SET(XHCI_TRB_EVALUATE_CTX) |
				  XHCI_TRB_SLOT(d->slot),
			  dev_cmd_done, d, NULL, done, ctx);
}

/**
 * Configure Endpoint completion. On success the replaced and dropped
 * endpoints' rings go; on failure the new ones go and the old come back,
 * since the controller still runs them.
 */
static void configure_done(struct xhci *x, struct xhci_cmd *cmd, unsigned cc,
			   unsigned slot)
{
	struct xhci_dev *d = cmd->dev;
	uint32_t add = bu_le32_to_cpu(in_ctx(x, d, 0)[XHCI_ICC_ADD]);

	for (unsigned dci = 2; dci < 32; dci++) {
		struct xhci_ep *old = d->old_eps[dci];

		d->old_eps[dci] = NULL;
		if (cc == XHCI_CC_SUCCESS) {
			if (old) {
				old->uep = NULL; /* its endpoint may live on */
				ring_free(x, &old->ring);
				release(x, old, sizeof(*old));
			}
			continue;
		}
		if (add & (1u << dci))
			ep_free(x, d, dci);
		if (old) {
			d->eps[dci] = old;
			if (old->uep)
				old->uep->hc_priv = old;
		}
	}
	dev_cmd_done(x, cmd, cc, slot);
}

/**
 * ops.dev_configure: one Configure Endpoint for all changes (§4.6.6).
 * Endpoints in `drop_mask` are dropped; those still listed in dev->eps are
 * added back with a fresh ring (which resets their sequence state).
 */
static int xhci_dev_configure(struct bu_usb_device *u, uint32_t drop_mask,
			      bu_usb_done_fn done, void *ctx)
{
	struct xhci *x = bus_xhci(u->bus);
	struct xhci_dev *d = u->hc_priv;
	uint32_t add = 1, drop = drop_mask & ~3u; /* A0: slot context */
	unsigned entries = 1;
	int rc;

	if (!d || !d->slot)
		return BU_EINVAL;
	for (unsigned dci = 2; dci < 32; dci++) {
		struct xhci_ep *ep = d->eps[dci];

		if ((drop & (1u << dci)) && ep && (ep->head || ep->stopping || ep->halted))
			return BU_EBUSY;
	}
	for (unsigned dci = 2; dci < 32; dci++) {
		struct bu_usb_endpoint *e = u->eps[dci];

		if ((drop & (1u << dci)) && d->eps[dci]) {
			d->old_eps[dci] = d->eps[dci];
			d->eps[dci] = NULL;
			if (e && e->hc_priv == d->old_eps[dci])
				e->hc_priv = NULL;
		}
		if (e && !e->hc_priv) {
			if (!ep_alloc(x, d, e, dci)) {
				rc = BU_ENOMEM;
				goto err;
			}
			ep_ctx_fill(x, d, d->eps[dci]);
			add |= 1u << dci;
		}
		if (e)
			entries = dci;
	}
	icc_set(x, d, add, drop);
	slot_ctx_fill(x, d, entries);
	rc = cmd_submit(x, (uint32_t)d->in_bus, (uint32_t)(d->in_bus >> 32), 0,
			XHCI_TRB_TYPE_SET(XHCI_TRB_CONFIGURE_EP) | XHCI_TRB_SLOT(d->slot),
			configure_done, d, NULL, done, ctx);
	if (!rc)
		return 0;
err:
	for (unsigned dci = 2; dci < 32; dci++) {
		if (add & (1u << dci))
			ep_free(x, d, dci);
		if (d->old_eps[dci]) {
			d->eps[dci] = d->old_eps[dci];
			if (d->eps[dci]->uep)
				d->eps[dci]->uep->hc_priv = d->eps[dci];
			d->old_eps[dci] = NULL;
		}
	}
	return rc;
}

static void ep_fail_all(struct xhci *x, struct xhci_ep *ep, int status);

/** Disable Slot completion: free everything. */
static void disable_done(struct xhci *x, struct xhci_cmd *cmd, unsigned cc,
			 unsigned slot)
{
	struct xhci_dev *d = cmd->dev;
	struct bu_usb_device *u = d->udev;
	bu_usb_done_fn user_done = cmd->user_done;
	void *user_ctx = cmd->user_ctx;

	dev_free(x, d);
	if (user_done && u)
		user_done(u, user_ctx, cc == XHCI_CC_SUCCESS ? 0 : bu_xhci_cc_to_err(cc));
}

/**
 * ops.dev_disable: complete every queued transfer with BU_ENODEV (QEMU
 * drops in-flight transfers of a detached device silently), then release
 * the slot. The core's device may be freed right after this returns:
 * the driver forgets it now.
 */
static int xhci_dev_disable(struct bu_usb_device *u, bu_usb_done_fn done, void *ctx)
{
	struct xhci *x = bus_xhci(u->bus);
	struct xhci_dev *d = u->hc_priv;
	int rc;

	if (!d)
		return BU_EINVAL;
	d->disabling = true;
	for (unsigned dci = 1; dci < 32; dci++)
		if (d->eps[dci])
			ep_fail_all(x, d->eps[dci], BU_ENODEV);
	if (!done) {
		d->udev = NULL;
		u->hc_priv = NULL;
		for (unsigned dci = 1; dci < 32; dci++) {
			if (d->eps[dci])
				d->eps[dci]->uep = NULL;
			if (d->old_eps[dci])
				d->old_eps[dci]->uep = NULL;
		}
	}
	if (!d->slot) {
		/* Enable Slot is still running: its completion frees d. */
		d->udev = NULL;
		u->hc_priv = NULL;
		return 0;
	}
	rc = cmd_submit(x, 0, 0, 0,
			XHCI_TRB_TYPE_SET(XHCI_TRB_DISABLE_SLOT) | XHCI_TRB_SLOT(d->slot),
			disable_done, d, NULL, done, ctx);
	if (rc == BU_EBUSY) {
		/* The command ring is full (a big subtree went at once): the
		 * slot stays the controller's until Disable Slot can be queued
		 * from poll, so nothing it may still touch is freed now. */
		d->next_disable = x->disable_pending;
		x->disable_pending = d;
		return 0;
	}
	if (rc)
		dev_free(x, d); /* failed controller: halted, owns nothing */
	return rc;
}

/* ======================================================================== */
/* Transfers (§4.11)                                                        */
/* ======================================================================== */

/** Remove `xfer` from its endpoint's queue. */
static void ep_unlink(struct xhci_ep *ep, struct bu_usb_xfer *xfer)
{
	struct bu_usb_xfer **pp = &ep->head, *prev = NULL;

	while (*pp && *pp != xfer) {
		prev = *pp;
		pp = &(*pp)->next;
	}
	if (!*pp)
		return;
	*pp = xfer->next;
	if (ep->tail == xfer)
		ep->tail = prev;
	xfer->next = NULL;
}

/** Finish a transfer: unmap, unlink, call back. */
static void xfer_finish(struct xhci *x, struct xhci_ep *ep,
			struct bu_usb_xfer *xfer, int status, size_t actual)
{
	enum bu_dma_dir dir = ep->in ? BU_DMA_FROM_DEVICE : BU_DMA_TO_DEVICE;

	if (ep->type == BU_EP_CONTROL)
		dir = (xfer->setup[0] & USB_DIR_IN) ? BU_DMA_FROM_DEVICE
						     : BU_DMA_TO_DEVICE;
	ep_unlink(ep, xfer);
	if (xfer->len && x->plat->dma_unmap)
		x->plat->dma_unmap(x->plat->ctx, xfer->buf, xfer->len, dir);
	xfer->status = status;
	xfer->actual = BU_MIN(actual, xfer->len);
	xfer->hc_state = 0;
	bu_usb_xfer_giveback(xfer);
}

/** Complete every queued transfer of an endpoint with `status`. */
static void ep_fail_all(struct xhci *x, struct xhci_ep *ep, int status)
{
	struct bu_usb_xfer *list = ep->head;

	/* Detach first: callbacks may resubmit, and those new transfers are
	 * not part of this batch (nor can they make it loop). */
	ep->head = ep->tail = NULL;
	if (list) {
		struct bu_usb_xfer *last = list;

		while (last->next)
			last = last->next;
		ep->ring.deq = last->hc_end;
	}
	ep->skip_valid = false;
	while (list) {
		struct bu_usb_xfer *xfer = list;

		list = xfer->next;
		xfer->next = NULL;
		xfer_finish(x, ep, xfer, status, 0);
	}
}

/** Add one data TRB chain for [bus, bus+len), split at 64 KiB boundaries. */
struct td_builder {
	struct xhci_ring *ring;
	size_t td_len;    /* bytes in the whole TD */
	size_t done;      /* bytes queued so far */
	unsigned mps;
	uint32_t first;   /* counter of the first TRB (held) */
	unsigned ntrbs;
	uint32_t type;    /* TRB type for the next data TRB */
	uint32_t extra;   /* extra dw3 flags for the next data TRB only */
	uint32_t flags;   /* flags for every data TRB (ISP) */
	bool have_first;
};

/** Queue the data TRBs for one DMA chunk. */
static void td_add_chunk(struct td_builder *b, uint64_t bus, size_t len,
			 bool last_chunk, bool more_after)
{
	while (len) {
		size_t room = 0x10000 - (bus & 0xffff); /* §6.1: no 64 KiB crossing */
		size_t n = BU_MIN(len, room);
		bool last = last_chunk && n == len;
		uint32_t dw3 = XHCI_TRB_TYPE_SET(b->type) | b->extra | b->flags;
		uint32_t c;

		b->done += n;
		if (!last || more_after)
			dw3 |= XHCI_TRB_CH;
		c = bu_xhci_ring_push(b->ring, (uint32_t)bus, (uint32_t)(bus >> 32),
				   (uint32_t)n |
					   XHCI_TRB_TD_SIZE(bu_xhci_td_size(b->td_len, b->done,
									 b->mps, last && !more_after)),
				   dw3, !b->have_first);
		if (!b->have_first) {
			b->first = c;
			b->have_first = true;
		}
		b->ntrbs++;
		b->type = XHCI_TRB_NORMAL; /* following TRBs of a stage are Normal */
		b->extra = 0;
		bus += n;
		len -= n;
	}
}

/** Worst-case TRBs for a buffer of `len` bytes in `nchunks` chunks. */
static size_t trbs_needed(const struct bu_dma_chunk *ch, int nchunks)
{
	size_t n = 0;

	for (int i = 0; i < nchunks; i++) {
		uint64_t start = ch[i].bus, end = ch[i].bus + ch[i].len;

		n += ch[i].len ? (size_t)(((end - 1) >> 16) - (start >> 16) + 1) : 0;
	}
	return n;
}

/** ops.xfer_submit: queue a TD (control, bulk, interrupt or isoch). */
static int xhci_xfer_submit(struct bu_usb_xfer *xfer)
{
	struct bu_usb_endpoint *uep = xfer->ep;
	struct xhci *x = bus_xhci(uep->dev->bus);
	struct xhci_ep *ep = uep->hc_priv;
	struct bu_dma_chunk chunks[XHCI_MAX_CHUNKS];
	struct td_builder b = { 0 };
	enum bu_dma_dir dir;
	int nchunks = 0;
	bool in, zlp;
	size_t need;

	if (x->failed)
		return BU_ESHUTDOWN;
	if (!ep || ep->dev->disabling)
		return BU_ENODEV;
	if (ep->broken)
		return BU_EIO;
	if (xfer->len && !xfer->buf)
		return BU_EINVAL;
	if (ep->type == BU_EP_CONTROL) {
		uint16_t wlength = bu_get_le16(&xfer->setup[6]);

		if (xfer->len != wlength)
			return BU_EINVAL;
		in = (xfer->setup[0] & USB_DIR_IN) != 0;
	} else {
		in = ep->in;
	}
	dir = in ? BU_DMA_FROM_DEVICE : BU_DMA_TO_DEVICE;
	if (xfer->len) {
		nchunks = x->plat->dma_map(x->plat->ctx, xfer->buf, xfer->len, dir,
					   chunks, XHCI_MAX_CHUNKS);
		if (nchunks < 0)
			return nchunks;
		if (!x->ac64)
			for (int i = 0; i < nchunks; i++)
				if ((chunks[i].bus + chunks[i].len - 1) >> 32)
					goto err_unmap_fault;
	}
	zlp = !in && (xfer->flags & BU_XFER_ZLP) && ep->type == BU_EP_BULK &&
	      xfer->len && uep->mps && xfer->len % uep->mps == 0;
	need = trbs_needed(chunks, nchunks) + 3;
	if (need > xhci_ring_space(&ep->ring)) {
		if (x->plat->dma_unmap && xfer->len)
			x->plat->dma_unmap(x->plat->ctx, xfer->buf, xfer->len, dir);
		return need > ep->ring.count - 1 ? BU_EINVAL : BU_ENOSPC;
	}

	b.ring = &ep->ring;
	b.td_len = xfer->len;
	b.mps = uep->mps;
	if (ep->type == BU_EP_CONTROL) {
		uint32_t setup0 = bu_get_le32(&xfer->setup[0]);
		uint32_t setup1 = bu_get_le32(&xfer->setup[4]);
		uint32_t trt = !xfer->len ? XHCI_TRT_NO_DATA
					  : in ? XHCI_TRT_IN : XHCI_TRT_OUT;

		/* §6.4.1.2.1: Setup Stage with immediate data, length 8. */
		b.first = bu_xhci_ring_push(&ep->ring, setup0, setup1, 8,
					 XHCI_TRB_TYPE_SET(XHCI_TRB_SETUP) |
						 XHCI_TRB_IDT | XHCI_TRB_TRT(trt),
					 true);
		b.have_first = true;
		b.ntrbs = 1;
		if (xfer->len) {
			b.type = XHCI_TRB_DATA;
			b.extra = in ? XHCI_TRB_DIR_IN : 0;
			b.flags = in ? XHCI_TRB_ISP : 0;
			for (int i = 0; i < nchunks; i++)
				td_add_chunk(&b, chunks[i].bus, chunks[i].len,
					     i == nchunks - 1, false);
		}
		/* Status stage: opposite direction of data, IN when none. */
		bu_xhci_ring_push(&ep->ring, 0, 0, 0,
			       XHCI_TRB_TYPE_SET(XHCI_TRB_STATUS) | XHCI_TRB_IOC |
				       (in && xfer->len ? 0 : XHCI_TRB_DIR_IN),
			       false);
		b.ntrbs++;
	} else if (ep->type == BU_EP_ISOCH) {
		uint32_t pkts = uep->mps ? (uint32_t)((xfer->len + uep->mps - 1) / uep->mps) : 1;
		unsigned burst = uep->max_burst + 1u;
		uint32_t tbc = 0, tlbpc;

		if (!pkts)
			pkts = 1;
		if (uep->dev->speed >= BU_SPEED_SUPER) {
			uint32_t r = pkts % burst;

			tbc = (pkts + burst - 1) / burst - 1;
			tlbpc = r ? r - 1 : burst - 1;
		} else {
			tlbpc = pkts - 1;
		}
		b.type = XHCI_TRB_ISOCH;
		b.extra = XHCI_TRB_TBC(tbc & 3) | XHCI_TRB_TLBPC(tlbpc & 15);
		/* A given frame (Frame ID, MFINDEX 13:3) or as soon as possible. */
		b.extra |= (xfer->flags & BU_XFER_ISOCH_FRAME) ? XHCI_TRB_FRAME_ID(xfer->frame)
							       : XHCI_TRB_SIA;
		/* IOC on the TD's last TRB only (added below): controllers,
		 * QEMU among them, report one completion per TD. */
		b.flags = in ? XHCI_TRB_ISP : 0;
		if (!xfer->len) {
			b.first = bu_xhci_ring_push(&ep->ring, 0, 0, 0,
						 XHCI_TRB_TYPE_SET(XHCI_TRB_ISOCH) | b.extra |
							 XHCI_TRB_IOC, true);
			b.have_first = true;
			b.ntrbs = 1;
		}
		for (int i = 0; i < nchunks; i++)
			td_add_chunk(&b, chunks[i].bus, chunks[i].len, i == nchunks - 1,
				     false);
	} else {
		b.type = XHCI_TRB_NORMAL;
		b.flags = in ? XHCI_TRB_ISP : 0;
		if (!xfer->len) {
			/* A zero-length TD is one zero-length Normal TRB. */
			b.first = bu_xhci_ring_push(&ep->ring, 0, 0, 0,
						 XHCI_TRB_TYPE_SET(XHCI_TRB_NORMAL) |
							 XHCI_TRB_IOC, true);
			b.have_first = true;
			b.ntrbs = 1;
		}
		for (int i = 0; i < nchunks; i++)
			td_add_chunk(&b, chunks[i].bus, chunks[i].len,
				     i == nchunks - 1, zlp);
		if (zlp) {
			bu_xhci_ring_push(&ep->ring, 0, 0, 0,
				       XHCI_TRB_TYPE_SET(XHCI_TRB_NORMAL), false);
			b.ntrbs++;
		}
	}
	/* IOC on the TD's last TRB (the status stage already has it). */
	if (ep->type != BU_EP_CONTROL) {
		struct xhci_trb *last = xhci_ring_trb(&ep->ring, ep->ring.enq - 1);

		last->dw[3] = bu_cpu_to_le32(bu_le32_to_cpu(last->dw[3]) | XHCI_TRB_IOC);
	}
	/* The TD fits in what was reserved for it, between deq and enq. */
	BU_ASSERT(x->plat, (uint32_t)(ep->ring.enq - b.first) <= need &&
			   (uint32_t)(ep->ring.enq - ep->ring.deq) < ep->ring.count);
	xfer->hc_first = b.first;
	xfer->hc_end = ep->ring.enq;
	xfer->hc_state = 1;
	xfer->hc_pending = 0;
	xfer->status = 0;
	xfer->actual = 0;
	xfer->cc = 0;
	xfer->next = NULL;
	if (ep->tail)
		ep->tail->next = xfer;
	else
		ep->head = xfer;
	ep->tail = xfer;
	if (x->trace)
		for (uint32_t c = b.first; c != ep->ring.enq; c++)
			trace_trb(x, "xfer", xhci_ring_addr(&ep->ring, c),
				  xhci_ring_trb(&ep->ring, c));
	bu_xhci_ring_release(&ep->ring, b.first);
	if (!ep->halted && !ep->stopping && !ep->paused)
		doorbell(x, ep->dev->slot, ep->dci);
	else
		ep->restart = true;
	return 0;

err_unmap_fault:
	if (x->plat->dma_unmap)
		x->plat->dma_unmap(x->plat->ctx, xfer->buf, xfer->len, dir);
	return BU_EFAULT;
}

/** Sum of the data lengths of TRBs in [from, to) (link TRBs excluded). */
static size_t trb_bytes(struct xhci_ring *r, uint32_t from, uint32_t to)
{
	size_t n = 0;

	for (uint32_t c = from; c != to; c++) {
		uint32_t dw3 = bu_le32_to_cpu(xhci_ring_trb(r, c)->dw[3]);
		unsigned t = XHCI_TRB_TYPE(dw3);

		if (t == XHCI_TRB_NORMAL || t == XHCI_TRB_DATA || t == XHCI_TRB_ISOCH)
			n += XHCI_TRB_LEN(bu_le32_to_cpu(xhci_ring_trb(r, c)->dw[2]));
	}
	return n;
}

/** Bytes a TD moved before it was stopped at TRB `c` (a Stopped event). */
static size_t stopped_bytes(struct xhci_ring *r, const struct bu_usb_xfer *xfer, uint32_t c,
			    unsigned cc, uint32_t residual)
{
	size_t n = trb_bytes(r, xfer->hc_first, c);
	uint32_t dw3 = bu_le32_to_cpu(xhci_ring_trb(r, c)->dw[3]);
	unsigned t = XHCI_TRB_TYPE(dw3);

	if (cc != XHCI_CC_STOPPED_LENGTH_INVALID &&
	    (t == XHCI_TRB_NORMAL || t == XHCI_TRB_DATA || t == XHCI_TRB_ISOCH)) {
		uint32_t tlen = XHCI_TRB_LEN(bu_le32_to_cpu(xhci_ring_trb(r, c)->dw[2]));

		n += tlen - BU_MIN(residual, tlen);
	}
	return BU_MIN(n, xfer->len);
}

static void ep_recover(struct xhci *x, struct xhci_ep *ep, unsigned cc);
static void td_to_noop(struct xhci_ring *r, struct bu_usb_xfer *xfer);
static void ep_retire_cancelled(struct xhci *x, struct xhci_ep *ep);
static void ep_break(struct xhci *x, struct xhci_ep *ep);

/** A transfer event for endpoint `ep` (§4.10.1, §6.4.2.1). */
static void handle_transfer_event(struct xhci *x, struct xhci_ep *ep,
				  const uint32_t dw[4])
{
	uint64_t ptr = ((uint64_t)dw[1] << 32) | dw[0];
	unsigned cc = XHCI_EVT_CC(dw[2]);
	uint32_t residual = XHCI_EVT_LEN(dw[2]);
	struct bu_usb_xfer *xfer;
	uint32_t c, dw3, last;
	size_t before, actual;
	unsigned ttype;
	int err;

	if (dw[3] & XHCI_TRB_ED)
		return; /* we queue no Event Data TRBs */
	if (cc == XHCI_CC_RING_UNDERRUN || cc == XHCI_CC_RING_OVERRUN) {
		/* Isoch ring ran empty (§4.10.3.1): the pointer is not a TD of
		 * ours to complete; the next TD's own event follows. */
		xlog(x, BU_LOG_DEBUG, "slot %u ep %u: %s", ep->dev->slot, ep->dci,
		     bu_xhci_cc_name(cc));
		return;
	}
	if (!bu_xhci_ring_find(&ep->ring, ptr, &c)) {
		if (cc != XHCI_CC_STOPPED && cc != XHCI_CC_STOPPED_LENGTH_INVALID &&
		    cc != XHCI_CC_RING_UNDERRUN && cc != XHCI_CC_RING_OVERRUN)
			xlog(x, BU_LOG_DEBUG, "slot %u ep %u: event for unknown TRB 0x%llx (%s)",
			     ep->dev->slot, ep->dci, (unsigned long long)ptr,
			     bu_xhci_cc_name(cc));
		return;
	}
	if (ep->skip_valid && c == ep->skip_counter) {
		/* The TD already completed on its short packet; this is the
		 * controller's second event for the last TRB (§4.10.1.1). */
		ep->skip_valid = false;
		return;
	}
	for (xfer = ep->head; xfer; xfer = xfer->next)
		if (c - xfer->hc_first < xfer->hc_end - xfer->hc_first)
			break;
	if (!xfer) {
		xlog(x, BU_LOG_DEBUG, "slot %u ep %u: event outside any TD (%s)",
		     ep->dev->slot, ep->dci, bu_xhci_cc_name(cc));
		return;
	}
	if (xfer != ep->head)
		/* TDs finish in order: earlier ones completed silently
		 * (no IOC) cannot happen since every TD ends with IOC. */
		xlog(x, BU_LOG_WARN, "slot %u ep %u: completion out of order",
		     ep->dev->slot, ep->dci);
	if (cc == XHCI_CC_STOPPED || cc == XHCI_CC_STOPPED_LENGTH_INVALID ||
	    cc == XHCI_CC_STOPPED_SHORT_PACKET) {
		/* The TD in progress when the endpoint stopped: the cancel
		 * path decides what happens to it. Keep what it moved so a
		 * cancelled transfer reports it (§4.6.9: Length is the stopped
		 * TRB's residue unless "Length Invalid"). A control transfer
		 * past a short data stage already holds its length. */
		if (!(ep->type == BU_EP_CONTROL && xfer->hc_pending))
			xfer->actual = stopped_bytes(&ep->ring, xfer, c, cc, residual);
		return;
	}

	dw3 = bu_le32_to_cpu(xhci_ring_trb(&ep->ring, c)->dw[3]);
	ttype = XHCI_TRB_TYPE(dw3);
	last = xfer->hc_end - 1;
	xfer->cc = (uint8_t)cc;
	before = trb_bytes(&ep->ring, xfer->hc_first, c);
	actual = before;
	if (ttype == XHCI_TRB_NORMAL || ttype == XHCI_TRB_DATA || ttype == XHCI_TRB_ISOCH) {
		uint32_t tlen = XHCI_TRB_LEN(bu_le32_to_cpu(xhci_ring_trb(&ep->ring, c)->dw[2]));

		actual += tlen - BU_MIN(residual, tlen);
	}
	err = bu_xhci_cc_to_err(cc);

	if (ep->type == BU_EP_CONTROL && (cc == XHCI_CC_SUCCESS ||
					  cc == XHCI_CC_SHORT_PACKET)) {
		if (ttype != XHCI_TRB_STATUS) {
			/* Short data stage: remember the length; the TD ends
			 * at its Status Stage event (§4.11.2.2). */
			xfer->hc_pending = 1;
			xfer->actual = actual;
			return;
		}
		actual = xfer->hc_pending ? xfer->actual : xfer->len;
		xfer->hc_pending = 0;
		ep->ring.deq = xfer->hc_end;
		xfer_finish(x, ep, xfer, 0, actual);
		return;
	}
	if (cc == XHCI_CC_SUCCESS || cc == XHCI_CC_SHORT_PACKET) {
		if (c != last) {
			if (cc == XHCI_CC_SUCCESS)
				return; /* an intermediate IOC we did not ask for */
			ep->skip_valid = true;
			ep->skip_counter = last;
		}
		ep->ring.deq = xfer->hc_end;
		xfer_finish(x, ep, xfer, 0, actual);
		return;
	}
	if (ep->type == BU_EP_ISOCH && err == BU_EMISSED) {
		ep->ring.deq = xfer->hc_end;
		xfer_finish(x, ep, xfer, BU_EMISSED, actual);
		return;
	}
	/* An error. Stall, babble, transaction and split errors halt the
	 * endpoint (§4.10.2); recover it and keep the TDs queued after it. */
	xlog(x, BU_LOG_DEBUG, "slot %u ep %u: %s", ep->dev->slot, ep->dci,
	     bu_xhci_cc_name(cc));
	if (ep->type != BU_EP_ISOCH &&
	    (cc == XHCI_CC_STALL || cc == XHCI_CC_BABBLE || cc == XHCI_CC_TRANSACTION ||
	     cc == XHCI_CC_SPLIT_TRANSACTION || cc == XHCI_CC_TRB)) {
		ep->halted = true;
		if (ep->uep)
			ep->uep->halted = true;
	}
	ep->ring.deq = xfer->hc_end;
	if (ep->type == BU_EP_CONTROL && xfer->hc_pending)
		actual = xfer->actual; /* the data stage was short */
	xfer_finish(x, ep, xfer, err ? err : BU_EIO, actual);
	if (ep->halted)
		ep_recover(x, ep, cc);
}

/* ------------------------------------------------------------------------ */
/* Endpoint recovery and cancellation (§4.6.8, §4.6.9, §4.6.10)              */

/** Ring the endpoint's doorbell if it has work and is not held. */
static void ep_kick(struct xhci *x, struct xhci_ep *ep)
{
	ep->restart = false;
	if (ep->head && !ep->halted && !ep->stopping && !ep->paused && !ep->dev->disabling)
		doorbell(x, ep->dev->slot, ep->dci);
}

/** Set TR Dequeue Pointer completion: the endpoint may run again. */
static void set_deq_done(struct xhci *x, struct xhci_cmd *cmd, unsigned cc,
			 unsigned slot)
{
	struct xhci_ep *ep = cmd->ep;

	if (cc != XHCI_CC_SUCCESS)
		xlog(x, BU_LOG_WARN, "slot %u ep %u: Set TR Dequeue failed: %s",
		     slot, ep->dci, bu_xhci_cc_name(cc));
	ep_retire_cancelled(x, ep);
	ep->halted = false;
	ep->stopping = false;
	if (ep->uep)
		ep->uep->halted = false;
	ep->skip_valid = false;
	ep_kick(x, ep);
	if (cmd->user_done && ep->dev->udev)
		cmd->user_done(ep->dev->udev, cmd->user_ctx, cc == XHCI_CC_SUCCESS ? 0 : BU_EIO);
}

/** Queue Set TR Dequeue Pointer to counter `at` of the endpoint's ring. */
static int ep_set_deq(struct xhci *x, struct xhci_ep *ep, uint32_t at,
		      bu_usb_done_fn user_done, void *user_ctx)
{
	uint64_t p = xhci_ring_addr(&ep->ring, at) | xhci_ring_cycle(&ep->ring, at);

	return cmd_submit(x, (uint32_t)p, (uint32_t)(p >> 32), 0,
			  XHCI_TRB_TYPE_SET(XHCI_TRB_SET_TR_DEQ) |
				  XHCI_TRB_SLOT(ep->dev->slot) | XHCI_TRB_EP(ep->dci),
			  set_deq_done, ep->dev, ep, user_done, user_ctx);
}

/** Recovery failed: fail what is queued and refuse new work (BU_EIO). */
static void ep_break(struct xhci *x, struct xhci_ep *ep)
{
	ep->broken = true;
	ep->halted = false;
	ep->stopping = false;
	ep_fail_all(x, ep, BU_EIO);
}

/**
 * Complete the transfers cancelled while the endpoint was halted or
 * stopping. Called while the ring is not running, before it restarts:
 * their TRBs become No-Ops, so the controller skips them.
 */
static void ep_retire_cancelled(struct xhci *x, struct xhci_ep *ep)
{
	for (struct bu_usb_xfer *xfer = ep->head, *next; xfer; xfer = next) {
		next = xfer->next;
		if (xfer->hc_state != 2)
			continue;
		td_to_noop(&ep->ring, xfer);
		if (xfer == ep->head)
			ep->ring.deq = xfer->hc_end;
		/* What moved before the Stop (0 for a TD never started). */
		xfer_finish(x, ep, xfer, xfer->status, xfer->actual);
	}
}

/** Reset Endpoint completion: move the dequeue pointer past the failed TD. */
static void reset_ep_done(struct xhci *x, struct xhci_cmd *cmd, unsigned cc,
			  unsigned slot)
{
	struct xhci_ep *ep = cmd->ep;
	uint32_t at = ep->head ? ep->head->hc_first : ep->ring.enq;

	if (ep->dev->disabling) {
		/* Disable Slot is queued behind us and frees the endpoint:
		 * a Set TR Dequeue queued now would complete after it. */
		if (cmd->user_done && ep->dev->udev)
			cmd->user_done(ep->dev->udev, cmd->user_ctx, BU_ENODEV);
		return;
	}
	if (cc != XHCI_CC_SUCCESS && cc != XHCI_CC_CONTEXT_STATE) {
		xlog(x, BU_LOG_WARN, "slot %u ep %u: Reset Endpoint failed: %s",
		     slot, ep->dci, bu_xhci_cc_name(cc));
		ep_break(x, ep);
		return;
	}
	if (ep_set_deq(x, ep, at, cmd->user_done, cmd->user_ctx))
		ep_break(x, ep);
}

/**
 * Recover a halted endpoint: Reset Endpoint, then Set TR Dequeue Pointer to
 * the next queued TD, then ring the doorbell. After a STALL, TSP=0 resets
 * the data toggle, as the device does on CLEAR_FEATURE(ENDPOINT_HALT).
 * After a transaction error or babble the device did not halt and its
 * toggle did not move (the packet was never ACKed): TSP=1 keeps the
 * host's (§4.6.8), or the next packet would be dropped as a duplicate.
 */
static void ep_recover(struct xhci *x, struct xhci_ep *ep, unsigned cc)
{
	if (ep->dev->disabling)
		return;
	if (cmd_submit(x, 0, 0, 0,
		       XHCI_TRB_TYPE_SET(XHCI_TRB_RESET_EP) |
			       (cc == XHCI_CC_STALL ? 0 : XHCI_TRB_TSP) |
			       XHCI_TRB_SLOT(ep->dev->slot) | XHCI_TRB_EP(ep->dci),
		       reset_ep_done, ep->dev, ep, NULL, NULL))
		ep_fail_all(x, ep, BU_EIO);
}

/** ops.ep_reset: recover a halted endpoint on the core's request. */
static int xhci_ep_reset(struct bu_usb_endpoint *uep, bu_usb_done_fn done, void *ctx)
{
	struct xhci *x = bus_xhci(uep->dev->bus);
	struct xhci_ep *ep = uep->hc_priv;

	if (!ep)
		return BU_EINVAL;
	if (ep->halted)
		return BU_EBUSY; /* automatic recovery is already under way */
	return cmd_submit(x, 0, 0, 0,
			  XHCI_TRB_TYPE_SET(XHCI_TRB_RESET_EP) |
				  XHCI_TRB_SLOT(ep->dev->slot) | XHCI_TRB_EP(ep->dci),
			  reset_ep_done, ep->dev, ep, done, ctx);
}

/** Turn a TD's TRBs into No-Ops in place (keeping cycle and chain bits). */
static void td_to_noop(struct xhci_ring *r, struct bu_usb_xfer *xfer)
{
	for (uint32_t c = xfer->hc_first; c != xfer->hc_end; c++) {
		struct xhci_trb *t = xhci_ring_trb(r, c);
		uint32_t dw3 = bu_le32_to_cpu(t->dw[3]);

		t->dw[0] = t->dw[1] = t->dw[2] = 0;
		t->dw[3] = bu_cpu_to_le32((dw3 & (XHCI_TRB_C | XHCI_TRB_CH)) |
					  XHCI_TRB_TYPE_SET(XHCI_TRB_NOOP));
	}
}

/** Stop Endpoint completion: retire cancelled TDs, then resume the rest. */
static void stop_ep_done(struct xhci *x, struct xhci_cmd *cmd, unsigned cc,
			 unsigned slot)
{
	struct xhci_ep *ep = cmd->ep;
	struct xhci_dev *d = ep->dev;
	uint32_t *oc = out_ctx(x, d, ep->dci);
	uint64_t deq = ((uint64_t)bu_le32_to_cpu(oc[3]) << 32) |
		       (bu_le32_to_cpu(oc[2]) & ~15u);
	uint32_t hc_at;
	bool have_at = bu_xhci_ring_find(&ep->ring, deq, &hc_at);
	bool move = false;
	uint32_t move_to = 0;
	struct bu_usb_xfer *xfer, *next;

	(void)slot;
	if (cc != XHCI_CC_SUCCESS && cc != XHCI_CC_CONTEXT_STATE)
		xlog(x, BU_LOG_WARN, "slot %u ep %u: Stop Endpoint: %s", d->slot,
		     ep->dci, bu_xhci_cc_name(cc));
	/* A pause (ep_pause) wants to know the ring has stopped. */
	if (cmd->user_done && d->udev)
		cmd->user_done(d->udev, cmd->user_ctx, cc == XHCI_CC_SUCCESS || cc == XHCI_CC_CONTEXT_STATE ? 0 : BU_EIO);
	for (xfer = ep->head; xfer; xfer = next) {
		int status = xfer->status;

		next = xfer->next;
		if (xfer->hc_state != 2)
			continue;
		if (have_at && hc_at - xfer->hc_first < xfer->hc_end - xfer->hc_first) {
			/* The controller is parked inside this TD: skip it. */
			move = true;
			move_to = xfer->hc_end;
		} else {
			td_to_noop(&ep->ring, xfer);
		}
		if (xfer == ep->head)
			ep->ring.deq = xfer->hc_end;
		/* xfer->actual: what its Stopped event said it moved, or 0. */
		xfer_finish(x, ep, xfer, status, xfer->actual);
	}
	if (move && !d->disabling) {
		/* Skip also any No-Op'd TDs right behind it. */
		if (!ep_set_deq(x, ep, move_to, NULL, NULL))
			return;
	}
	ep->stopping = false;
	ep_kick(x, ep);
}

/** ops.xfer_cancel: stop the endpoint; the TD completes with `status`. */
static int xhci_xfer_cancel(struct bu_usb_xfer *xfer, int status)
{
	struct xhci *x = bus_xhci(xfer->ep->dev->bus);
	struct xhci_ep *ep = xfer->ep->hc_priv;
	int rc;

	if (!ep || xfer->hc_state == 0)
		return BU_ENOENT;
	if (xfer->hc_state == 2)
		return 0; /* already being cancelled */
	xfer->hc_state = 2;
	xfer->status = status;
	/* Recovery (halt) or a Stop in flight ends with the ring stopped:
	 * ep_retire_cancelled() completes this one then, from poll. */
	if (ep->stopping || ep->halted)
		return 0;
	ep->stopping = true;
	rc = cmd_submit(x, 0, 0, 0,
			XHCI_TRB_TYPE_SET(XHCI_TRB_STOP_EP) | XHCI_TRB_SLOT(ep->dev->slot) |
				XHCI_TRB_EP(ep->dci),
			stop_ep_done, ep->dev, ep, NULL, NULL);
	if (rc) {
		ep->stopping = false;
		xfer->hc_state = 1;
	}
	return rc;
}

/**
 * ops.ep_pause: stop the endpoint before its device is suspended, keeping
 * its queued TDs (Stop Endpoint with SP, §4.6.9, §4.15.1); the controller
 * continues them once ep_unpause rings the doorbell again.
 */
static int xhci_ep_pause(struct bu_usb_endpoint *uep, bu_usb_done_fn done, void *ctx)
{
	struct xhci_ep *ep = uep->hc_priv;
	struct xhci *x;
	int rc;

	if (!ep || ep->broken)
		return BU_ENOENT;
	if (ep->stopping || ep->halted || ep->paused || ep->dev->disabling)
		return BU_EBUSY; /* recovery or a cancel first */
	x = bus_xhci(uep->dev->bus);
	ep->stopping = true;
	ep->paused = true;
	rc = cmd_submit(x, 0, 0, 0,
			XHCI_TRB_TYPE_SET(XHCI_TRB_STOP_EP) | XHCI_TRB_SLOT(ep->dev->slot) |
				XHCI_TRB_EP(ep->dci) | XHCI_TRB_SP,
			stop_ep_done, ep->dev, ep, done, ctx);
	if (rc)
		ep->stopping = ep->paused = false;
	return rc;
}

/** ops.ep_unpause: let a paused endpoint run its queued TDs again. */
static void xhci_ep_unpause(struct bu_usb_endpoint *uep)
{
	struct xhci_ep *ep = uep->hc_priv;

	if (!ep || !ep->paused)
		return;
	ep->paused = false;
	ep_kick(bus_xhci(uep->dev->bus), ep);
}

/** ops.ep_abort: cancel every queued transfer of an endpoint. */
static int xhci_ep_abort(struct bu_usb_endpoint *uep, int status)
{
	struct xhci_ep *ep = uep->hc_priv;
	int n = 0;

	if (!ep)
		return 0;
	for (struct bu_usb_xfer *xfer = ep->head, *next; xfer; xfer = next) {
		next = xfer->next;
		if (xfer->hc_state == 1 && xhci_xfer_cancel(xfer, status) == 0)
			n++;
	}
	return n;
}

/** ops.ep_queued: transfers on the endpoint's ring. */
static unsigned xhci_ep_queued(struct bu_usb_endpoint *uep)
{
	struct xhci_ep *ep = uep->hc_priv;
	unsigned n = 0;

	if (!ep)
		return 0;
	for (struct bu_usb_xfer *xfer = ep->head; xfer; xfer = xfer->next)
		n++;
	return n + (ep->stopping || ep->halted ? 1 : 0);
}

/** ops.frame_number: MFINDEX counts 125 us microframes (§5.5.1). */
static uint32_t xhci_frame_number(struct bu_usb_bus *bus)
{
	struct xhci *x = bus_xhci(bus);

	return (rd32(x, x->rt + XHCI_RT_MFINDEX) & 0x3fff) >> 3;
}

/* ======================================================================== */
/* Root ports (§4.19)                                                       */
/* ======================================================================== */

/** PORTSC of a valid port; BU_ENODEV when the controller is gone (all ones). */
static int portsc_read(struct xhci *x, unsigned port, uint32_t *v)
{
	if (port < 1 || port > x->max_ports)
		return BU_EINVAL;
	*v = op_rd(x, XHCI_OP_PORTSC(port));
	return *v == 0xffffffffu ? BU_ENODEV : 0;
}

/** ops.port_status: read PORTSC, acknowledge its change bits. */
static int xhci_port_status(struct bu_usb_bus *bus, unsigned port,
			    struct bu_usb_port_status *st)
{
	struct xhci *x = bus_xhci(bus);
	const struct xhci_protocol *p;
	uint32_t v;
	int rc;

	rc = portsc_read(x, port, &v);
	if (rc)
		return rc;
	p = port_protocol(x, port);
	st->connected = (v & XHCI_PORTSC_CCS) != 0;
	st->connect_changed = (v & XHCI_PORTSC_CSC) != 0;
	st->enabled = (v & XHCI_PORTSC_PED) != 0;
	st->resetting = (v & (XHCI_PORTSC_PR | XHCI_PORTSC_WPR)) != 0;
	st->overcurrent = (v & XHCI_PORTSC_OCA) != 0;
	st->changed = (v & XHCI_PORTSC_CHANGE_MASK) != 0;
	st->usb3 = p && p->major >= 3;
	st->speed = port_speed(x, port, XHCI_PORTSC_SPEED(v));
	st->link = (uint8_t)XHCI_PORTSC_PLS(v);
	if (x->trace || (v & XHCI_PORTSC_CHANGE_MASK)) {
		char buf[160];

		bu_xhci_portsc_decode(v, buf, sizeof(buf));
		xlog(x, BU_LOG_DEBUG, "port %u: %s", port, buf);
	}
	if (v & XHCI_PORTSC_CHANGE_MASK)
		portsc_write(x, port, v, v & XHCI_PORTSC_CHANGE_MASK);
	return 0;
}

/** ops.port_set_link: PLS write with the Link State Write Strobe (§4.15.2). */
static int xhci_port_set_link(struct bu_usb_bus *bus, unsigned port,
			      enum bu_usb_link link)
{
	struct xhci *x = bus_xhci(bus);
	uint32_t v;
	int rc;

	rc = portsc_read(x, port, &v);
	if (rc)
		return rc;
	if (!(v & XHCI_PORTSC_PED))
		return BU_EINVAL;
	portsc_write(x, port, v, XHCI_PORTSC_LWS | XHCI_PORTSC_PLS_SET(link));
	return 0;
}

/** ops.port_power: set PP on a switchable port the xHC powered off (§4.19.4, §5.4.8). */
static int xhci_port_power(struct bu_usb_bus *bus, unsigned port)
{
	struct xhci *x = bus_xhci(bus);
	uint32_t v;
	int rc;

	if (!(x->hccparams1 & XHCI_HCCPARAMS1_PPC))
		return BU_ENOTSUP;
	rc = portsc_read(x, port, &v);
	if (rc)
		return rc;
	if (v & XHCI_PORTSC_OCA)
		return BU_EBUSY;
	if (v & XHCI_PORTSC_PP)
		return BU_ENOTSUP;
	portsc_write(x, port, v, XHCI_PORTSC_PP);
	return 0;
}

/** ops.port_reset: USB 2 reset (PR) or USB 3 warm reset (WPR). */
static int xhci_port_reset(struct bu_usb_bus *bus, unsigned port, bool warm)
{
	struct xhci *x = bus_xhci(bus);
	const struct xhci_protocol *p = port_protocol(x, port);
	uint32_t v;
	int rc;

	rc = portsc_read(x, port, &v);
	if (rc)
		return rc;
	if (warm && !(p && p->major >= 3))
		warm = false; /* WPR is reserved on USB 2 ports */
	portsc_write(x, port, v, warm ? XHCI_PORTSC_WPR : XHCI_PORTSC_PR);
	return 0;
}

/* ======================================================================== */
/* Event dispatch                                                           */
/* ======================================================================== */

/** Handle one event TRB. */
static void handle_event(struct xhci *x, const uint32_t dw[4])
{
	unsigned type = XHCI_TRB_TYPE(dw[3]);

	switch (type) {
	case XHCI_TRB_TRANSFER_EVENT: {
		unsigned slot = XHCI_TRB_GET_SLOT(dw[3]);
		unsigned dci = XHCI_TRB_GET_EP(dw[3]);
		struct xhci_dev *d = slot ? x->slots[slot] : NULL;

		if (!d || !d->eps[dci]) {
			xlog(x, BU_LOG_DEBUG, "transfer event for slot %u ep %u with no endpoint",
			     slot, dci);
			return;
		}
		handle_transfer_event(x, d->eps[dci], dw);
		break;
	}
	case XHCI_TRB_CMD_COMPLETION:
		cmd_complete(x, dw);
		break;
	case XHCI_TRB_PORT_STATUS: {
		unsigned port = XHCI_EVT_PORT(dw[0]);

		if (port >= 1 && port <= x->max_ports)
			bu_usb_bus_port_changed(&x->bus, port);
		break;
	}
	case XHCI_TRB_HC_EVENT:
		xlog(x, BU_LOG_WARN, "host controller event: %s",
		     bu_xhci_cc_name(XHCI_EVT_CC(dw[2])));
		break;
	default:
		xlog(x, BU_LOG_DEBUG, "ignored event %s", bu_xhci_trb_type_name(type));
		break;
	}
}

/** Fail every pending command and transfer (controller dead). */
static void xhci_fail_all(struct xhci *x)
{
	for (uint32_t c = x->cmd_ring.deq; c != x->cmd_ring.enq; c++) {
		struct xhci_cmd *cmd = &x->cmds[xhci_ring_slot(&x->cmd_ring, c)];

		if (cmd->active && cmd->user_done && cmd->dev && cmd->dev->udev) {
			cmd->active = false;
			cmd->user_done(cmd->dev->udev, cmd->user_ctx, BU_ESHUTDOWN);
		}
		cmd->active = false;
	}
	x->cmd_ring.deq = x->cmd_ring.enq;
	for (unsigned s = 1; s <= x->max_slots; s++)
		if (x->slots[s])
			for (unsigned dci = 1; dci < 32; dci++)
				if (x->slots[s]->eps[dci])
					ep_fail_all(x, x->slots[s]->eps[dci], BU_ESHUTDOWN);
}

/** ops.poll: check controller health, then drain the event ring. */
static int xhci_poll(struct bu_usb_bus *bus)
{
	struct xhci *x = bus_xhci(bus);
	uintptr_t ir = x->rt + XHCI_RT_IR(0);
	uint32_t sts;
	unsigned handled = 0;

	if (x->failed)
		return BU_ESHUTDOWN;
	sts = op_rd(x, XHCI_OP_USBSTS);
	if (sts == 0xffffffffu || (sts & (XHCI_USBSTS_HSE | XHCI_USBSTS_HCE))) {
		xhci_fail(x, sts == 0xffffffffu ? "controller vanished"
			     : (sts & XHCI_USBSTS_HSE) ? "host system error"
						       : "host controller error");
		xhci_fail_all(x);
		return BU_ESHUTDOWN;
	}
	if (sts & (XHCI_USBSTS_EINT | XHCI_USBSTS_PCD))
		usbsts_ack(x, sts & (XHCI_USBSTS_EINT | XHCI_USBSTS_PCD));

	for (;;) {
		struct xhci_trb *t = &x->evt[x->evt_deq % x->evt_count];
		uint32_t cycle = ((x->evt_deq / x->evt_count) & 1) ? 0 : 1;
		uint32_t dw[4];

		if ((bu_le32_to_cpu(t->dw[3]) & XHCI_TRB_C) != cycle)
			break;
		bu_rmb();
		for (int i = 0; i < 4; i++)
			dw[i] = bu_le32_to_cpu(t->dw[i]);
		trace_trb(x, "event", x->evt_bus + 16ull * (x->evt_deq % x->evt_count), t);
		x->evt_deq++;
		handled++;
		handle_event(x, dw);
		if (x->failed)
			break;
		/* Give the controller room on long bursts (QEMU drops
		 * events when its ring is full). */
		if ((handled & 63) == 0)
			wr64(x, ir + XHCI_IR_ERDP,
			     (x->evt_bus + 16ull * (x->evt_deq % x->evt_count)));
	}
	if (handled) {
		iman_ack(x);
		wr64(x, ir + XHCI_IR_ERDP,
		     (x->evt_bus + 16ull * (x->evt_deq % x->evt_count)) | XHCI_ERDP_EHB);
	}
	while (x->disable_pending && !x->failed && xhci_ring_space(&x->cmd_ring)) {
		struct xhci_dev *d = x->disable_pending;

		x->disable_pending = d->next_disable;
		if (cmd_submit(x, 0, 0, 0,
			       XHCI_TRB_TYPE_SET(XHCI_TRB_DISABLE_SLOT) | XHCI_TRB_SLOT(d->slot),
			       disable_done, d, NULL, NULL, NULL))
			dev_free(x, d);
	}
	cmd_check_timeout(x);
	return x->failed ? BU_ESHUTDOWN : 0;
}

/* ======================================================================== */
/* Setup and teardown                                                       */
/* ======================================================================== */

/** Free everything the controller owns (halting it first). */
static void xhci_free(struct xhci *x)
{
	if (x->base && op_rd(x, XHCI_OP_USBSTS) != 0xffffffffu)
		xhci_halt(x);
	while (x->disable_pending) {
		struct xhci_dev *d = x->disable_pending;

		x->disable_pending = d->next_disable;
		dev_free(x, d);
	}
	for (unsigned s = 1; s < 256; s++)
		if (x->slots[s])
			dev_free(x, x->slots[s]);
	if (x->scratch_bufs) {
		for (unsigned i = 0; i < x->num_scratch; i++)
			dma_release(x, x->scratch_bufs[i], x->page_size);
		release(x, x->scratch_bufs, x->num_scratch * sizeof(void *));
	}
	dma_release(x, x->scratch_array, x->num_scratch * 8u);
	dma_release(x, x->evt, x->evt_count * sizeof(struct xhci_trb));
	dma_release(x, x->erst, sizeof(*x->erst));
	if (x->cmd_ring.trbs)
		ring_free(x, &x->cmd_ring);
	release(x, x->cmds, x->opts.cmd_ring_trbs * sizeof(*x->cmds));
	dma_release(x, x->dcbaa, (x->max_slots + 1) * 8u);
	release(x, x, sizeof(*x));
}

/** ops.destroy. */
static void xhci_destroy(struct bu_usb_bus *bus)
{
	xhci_free(bus_xhci(bus));
}

static const struct bu_usb_hc_ops xhci_ops = {
	.poll = xhci_poll,
	.destroy = xhci_destroy,
	.port_status = xhci_port_status,
	.port_reset = xhci_port_reset,
	.port_set_link = xhci_port_set_link,
	.ep_pause = xhci_ep_pause,
	.ep_unpause = xhci_ep_unpause,
	.port_power = xhci_port_power,
	.dev_enable = xhci_dev_enable,
	.dev_address = xhci_dev_address,
	.dev_update_ep0 = xhci_dev_update_ep0,
	.dev_configure = xhci_dev_configure,
	.dev_disable = xhci_dev_disable,
	.xfer_submit = xhci_xfer_submit,
	.xfer_cancel = xhci_xfer_cancel,
	.ep_reset = xhci_ep_reset,
	.ep_abort = xhci_ep_abort,
	.ep_queued = xhci_ep_queued,
	.frame_number = xhci_frame_number,
};

/** Allocate DCBAA and scratchpads (§6.1, §4.20). */
static int xhci_alloc_dcbaa(struct xhci *x)
{
	x->dcbaa = dma_zalloc(x, (x->max_slots + 1) * 8u, 64, x->page_size,
			      &x->dcbaa_bus);
	if (!x->dcbaa)
		return BU_ENOMEM;
	if (!x->num_scratch)
		return 0;
	x->scratch_array = dma_zalloc(x, x->num_scratch * 8u, 64, x->page_size,
				      &x->scratch_array_bus);
	x->scratch_bufs = zalloc(x, x->num_scratch * sizeof(void *));
	if (!x->scratch_array || !x->scratch_bufs)
		return BU_ENOMEM;
	for (unsigned i = 0; i < x->num_scratch; i++) {
		uint64_t bus;

		x->scratch_bufs[i] = dma_zalloc(x, x->page_size, x->page_size,
						x->page_size, &bus);
		if (!x->scratch_bufs[i])
			return BU_ENOMEM;
		x->scratch_array[i] = bu_cpu_to_le64(bus);
	}
	x->dcbaa[0] = bu_cpu_to_le64(x->scratch_array_bus);
	return 0;
}

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
		o->reset_timeout_ms = 1000;
	if (!o->cmd_timeout_ms)
		o->cmd_timeout_ms = 5000;
	if (!o->imod_interval)
		o->imod_interval = 160; /* 40 us, as Linux's xhci-pci */
}

int bu_xhci_create(uintptr_t regs, const struct bu_platform *plat,
		   const struct bu_xhci_options *opts, unsigned index,
		   struct bu_usb_bus **busp)
{
	struct xhci *x;
	uint32_t cap0, pagesize;
	int rc;

	if (!plat || !plat->read32 || !plat->write32 || !plat->dma_alloc ||
	    !plat->dma_free || !plat->dma_map || !plat->alloc || !plat->free ||
	    !plat->now_us || !plat->log || !busp)
		return BU_EINVAL;
	x = plat->alloc(plat->ctx, sizeof(*x));
	if (!x)
		return BU_ENOMEM;
	bu_memset(x, 0, sizeof(*x));
	x->plat = plat;
	if (opts)
		x->opts = *opts;
	opts_defaults(&x->opts);
	x->trace = x->opts.trace;
	x->bus.ops = &xhci_ops;
	x->bus.plat = plat;
	x->bus.hc_priv = x;
	x->bus.index = index;
	x->bus.stats.t_start_us = now_us(x);

	/* Capability registers (§5.3). */
	cap0 = rd32(x, regs + XHCI_CAP_CAPLENGTH);
	if (cap0 == 0xffffffffu || XHCI_CAPLENGTH(cap0) < 0x20) {
		plat->free(plat->ctx, x, sizeof(*x));
		return BU_ENODEV;
	}
	x->base = regs;
	x->hciversion = (uint16_t)XHCI_HCIVERSION(cap0);
	x->op = regs + XHCI_CAPLENGTH(cap0);
	x->rt = regs + (rd32(x, regs + XHCI_CAP_RTSOFF) & ~0x1fu);
	x->db = regs + (rd32(x, regs + XHCI_CAP_DBOFF) & ~0x3u);
	x->hcsparams1 = rd32(x, regs + XHCI_CAP_HCSPARAMS1);
	x->hcsparams2 = rd32(x, regs + XHCI_CAP_HCSPARAMS2);
	x->hccparams1 = rd32(x, regs + XHCI_CAP_HCCPARAMS1);
	/* §5.3.9: HCCPARAMS2 exists from xHCI 1.1; before, the dword is
	 * reserved. */
	if (x->hciversion >= 0x0110)
		x->hccparams2 = rd32(x, regs + XHCI_CAP_HCCPARAMS2);
	x->lec = (x->hccparams2 & XHCI_HCCPARAMS2_LEC) != 0;
	x->max_slots = XHCI_HCSPARAMS1_SLOTS(x->hcsparams1);
	x->max_ports = XHCI_HCSPARAMS1_PORTS(x->hcsparams1);
	x->num_scratch = XHCI_HCSPARAMS2_SCRATCH(x->hcsparams2);
	x->csz = (x->hccparams1 & XHCI_HCCPARAMS1_CSZ) ? 64 : 32;
	x->ac64 = (x->hccparams1 & XHCI_HCCPARAMS1_AC64) != 0;
	x->bus.num_ports = x->max_ports;
	if (!x->max_slots || !x->max_ports) {
		xlog(x, BU_LOG_ERR, "no slots or ports (HCSPARAMS1 0x%08x)", x->hcsparams1);
		rc = BU_ENODEV;
		goto err;
	}
	xlog(x, BU_LOG_INFO,
	     "xHCI %x.%02x: %u slots, %u ports, %u-byte contexts, %s, %u scratchpads",
	     x->hciversion >> 8, x->hciversion & 0xff, x->max_slots, x->max_ports,
	     x->csz, x->ac64 ? "64-bit" : "32-bit", x->num_scratch);

	xhci_legacy_handoff(x);
	rc = wait_bits(x, x->op + XHCI_OP_USBSTS, XHCI_USBSTS_CNR, 0,
		       x->opts.reset_timeout_ms * 1000u);
	if (rc) {
		xlog(x, BU_LOG_ERR, "controller not ready (CNR stuck)");
		goto err;
	}
	rc = xhci_reset(x);
	if (rc)
		goto err;

	pagesize = op_rd(x, XHCI_OP_PAGESIZE) & 0xffff;
	x->page_size = 4096;
	for (unsigned i = 0; i < 16; i++)
		if (pagesize & (1u << i)) {
			x->page_size = 4096u << i;
			break;
		}
	xhci_read_protocols(x);

	rc = xhci_alloc_dcbaa(x);
	if (rc)
		goto err;
	x->cmds = zalloc(x, x->opts.cmd_ring_trbs * sizeof(*x->cmds));
	if (!x->cmds) {
		rc = BU_ENOMEM;
		goto err;
	}
	rc = ring_alloc(x, &x->cmd_ring, x->opts.cmd_ring_trbs);
	if (rc)
		goto err;
	rc = event_ring_alloc(x);
	if (rc)
		goto err;

	/* Program and start (§4.2). */
	op_wr(x, XHCI_OP_CONFIG, XHCI_CONFIG_SLOTS(x->max_slots));
	wr64(x, x->op + XHCI_OP_DCBAAP, x->dcbaa_bus);
	wr64(x, x->op + XHCI_OP_CRCR, x->cmd_ring.bus | XHCI_CRCR_RCS);
	event_ring_program(x);
	op_wr(x, XHCI_OP_USBCMD, XHCI_USBCMD_RUN | XHCI_USBCMD_HSEE |
				 (x->opts.irq ? XHCI_USBCMD_INTE : 0));
	rc = wait_bits(x, x->op + XHCI_OP_USBSTS, XHCI_USBSTS_HCH, 0,
		       XHCI_HALT_TIMEOUT_US);
	if (rc) {
		xlog(x, BU_LOG_ERR, "controller did not start");
		goto err;
	}

	/* Port power (§4.19.4): only switchable ports can be off. */
	if (x->hccparams1 & XHCI_HCCPARAMS1_PPC) {
		bool powered = false;

		for (unsigned p = 1; p <= x->max_ports; p++) {
			uint32_t v = op_rd(x, XHCI_OP_PORTSC(p));

			if (!(v & XHCI_PORTSC_PP)) {
				portsc_write(x, p, v, XHCI_PORTSC_PP);
				powered = true;
			}
		}
		if (powered)
			udelay(x, XHCI_PORT_POWER_DELAY_US);
	}

	*busp = &x->bus;
	rc = bu_usb_bus_start(&x->bus);
	if (rc) {
		*busp = NULL;
		goto err;
	}
	return 0;

err:
	xhci_free(x);
	return rc;
}

bool bu_xhci_irq(struct bu_usb_bus *bus)
{
	struct xhci *x = bus_xhci(bus);
	uint32_t sts, iman;

	if (!x->opts.irq || x->failed)
		return false;
	sts = op_rd(x, XHCI_OP_USBSTS);
	if (sts == 0xffffffffu)
		return false; /* gone: poll reports it */
	iman = rd32(x, x->rt + XHCI_RT_IR(0) + XHCI_IR_IMAN);
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
	bus_xhci(bus)->trace = on;
}

void bu_xhci_dump(struct bu_usb_bus *bus)
{
	struct xhci *x = bus_xhci(bus);
	char buf[160];

	bu_xhci_usbsts_decode(op_rd(x, XHCI_OP_USBSTS), buf, sizeof(buf));
	xlog(x, BU_LOG_INFO, "USBCMD 0x%08x USBSTS %s CONFIG 0x%08x",
	     op_rd(x, XHCI_OP_USBCMD), buf, op_rd(x, XHCI_OP_CONFIG));
	xlog(x, BU_LOG_INFO, "command ring enq %u deq %u; event ring deq %u",
	     x->cmd_ring.enq, x->cmd_ring.deq, x->evt_deq);
	for (unsigned p = 1; p <= x->max_ports; p++) {
		const struct xhci_protocol *pr = port_protocol(x, p);

		bu_xhci_portsc_decode(op_rd(x, XHCI_OP_PORTSC(p)), buf, sizeof(buf));
		xlog(x, BU_LOG_INFO, "port %u (USB %u): %s", p, pr ? pr->major : 0, buf);
	}
}
