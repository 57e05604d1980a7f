/*
 * The controller's state dump (bu_xhci_dump): every register of xHCI 1.2
 * §5 the driver knows by name, decoded, then the driver's own view of its
 * rings (the Command Ring with its pending commands, each endpoint's
 * Transfer Ring with the TRBs around its dequeue pointer, the Event Ring)
 * and the enumeration step of every device still enumerating.
 *
 * Reading order follows the specification: capability registers (§5.3),
 * operational registers (§5.4) and the ports (§5.4.8 to §5.4.10), runtime
 * registers of interrupter 0 (§5.5), then the rings (§4.9) and devices.
 *
 * Every line is one log line at the level asked for, starting "dump: ".
 * Only registers are read, never written: the dump is safe on a controller
 * that stopped answering (an all-ones read is shown as it is).
 */
#include "xhci_priv.h"

#include "bareusb/util.h"
#include "xhci_trace.h"

/** Append the names of the set bits of `v` that `names` names. */
static void put_bits(struct bu_strbuf *sb, uint32_t v, const char *const names[32])
{
	for (unsigned i = 0; i < 32; i++)
		if ((v & (1u << i)) && names[i])
			bu_strbuf_printf(sb, " %s", names[i]);
}

/** Read a 64-bit register as two dwords, low first. */
static uint64_t rd64(struct xhci *x, uintptr_t addr)
{
	return xhci_rd32(x, addr) | (uint64_t)xhci_rd32(x, addr + 4) << 32;
}

/* ======================================================================== */
/* Capability registers (§5.3)                                              */
/* ======================================================================== */

static __attribute__((noinline)) void dump_caps(struct xhci *x, enum bu_log_level lv)
{
	static const char *const hcc1[32] = {
		[0] = "AC64", [1] = "BNC", [2] = "CSZ", [3] = "PPC", [4] = "PIND",
		[5] = "LHRC", [6] = "LTC", [7] = "NSS", [8] = "PAE", [9] = "SPC",
		[10] = "SEC", [11] = "CFC",
	};
	static const char *const hcc2[32] = {
		[0] = "U3C", [1] = "CMC", [2] = "FSC", [3] = "CTC", [4] = "LEC",
		[5] = "CIC", [6] = "ETC", [7] = "ETC_TSC", [8] = "GSC", [9] = "VTC",
	};
	uint32_t cap = xhci_rd32(x, x->base + XHCI_CAP_CAPLENGTH);
	uint32_t p1 = xhci_rd32(x, x->base + XHCI_CAP_HCSPARAMS1);
	uint32_t p2 = xhci_rd32(x, x->base + XHCI_CAP_HCSPARAMS2);
	uint32_t p3 = xhci_rd32(x, x->base + XHCI_CAP_HCSPARAMS3);
	uint32_t c1 = xhci_rd32(x, x->base + XHCI_CAP_HCCPARAMS1);
	uint32_t c2 = xhci_rd32(x, x->base + XHCI_CAP_HCCPARAMS2);
	char buf[160];
	struct bu_strbuf sb;

	bu_xhci_log(x, lv, "dump: CAPLENGTH=0x%02x HCIVERSION=0x%04x", XHCI_CAPLENGTH(cap),
		    XHCI_HCIVERSION(cap));
	bu_xhci_log(x, lv, "dump: HCSPARAMS1=0x%08x MaxSlots=%u MaxIntrs=%u MaxPorts=%u", p1,
		    XHCI_HCSPARAMS1_SLOTS(p1), XHCI_HCSPARAMS1_INTRS(p1),
		    XHCI_HCSPARAMS1_PORTS(p1));
	/* §5.3.4: IST 3:0 (bit 3: in frames), ERST Max 7:4, SPR bit 26. */
	bu_xhci_log(x, lv,
		    "dump: HCSPARAMS2=0x%08x IST=%u%s ERSTMax=%u MaxScratchpadBufs=%u SPR=%u", p2,
		    p2 & 7u, (p2 & 8u) ? "frames" : "microframes", XHCI_HCSPARAMS2_ERST_MAX(p2),
		    XHCI_HCSPARAMS2_SCRATCH(p2), (p2 >> 26) & 1u);
	/* §5.3.5: U1 Device Exit Latency 7:0 (us), U2 31:16 (us). */
	bu_xhci_log(x, lv, "dump: HCSPARAMS3=0x%08x U1DevExitLat=%uus U2DevExitLat=%uus", p3,
		    p3 & 0xffu, p3 >> 16);
	bu_strbuf_init(&sb, buf, sizeof(buf));
	put_bits(&sb, c1, hcc1);
	/* §5.3.6: MaxPSASize 15:12, xECP 31:16 (in dwords). */
	bu_xhci_log(x, lv, "dump: HCCPARAMS1=0x%08x%s MaxPSASize=%u xECP=0x%x", c1, buf,
		    (c1 >> 12) & 0xfu, XHCI_HCCPARAMS1_XECP(c1) * 4u);
	bu_xhci_log(x, lv, "dump: DBOFF=0x%08x", xhci_rd32(x, x->base + XHCI_CAP_DBOFF));
	bu_xhci_log(x, lv, "dump: RTSOFF=0x%08x", xhci_rd32(x, x->base + XHCI_CAP_RTSOFF));
	bu_strbuf_init(&sb, buf, sizeof(buf));
	put_bits(&sb, c2, hcc2);
	bu_xhci_log(x, lv, "dump: HCCPARAMS2=0x%08x%s", c2, buf);
}

/* ======================================================================== */
/* Operational registers (§5.4) and ports (§5.4.8 to §5.4.10)               */
/* ======================================================================== */

static __attribute__((noinline)) void dump_op(struct xhci *x, enum bu_log_level lv)
{
	static const char *const cmd_bits[32] = {
		[0] = "R/S", [1] = "HCRST", [2] = "INTE", [3] = "HSEE", [7] = "LHCRST",
		[8] = "CSS", [9] = "CRS", [10] = "EWE", [11] = "EU3S", [13] = "CME",
		[14] = "ETE", [15] = "TSC_EN", [16] = "VTIOE",
	};
	uint32_t cmd = xhci_op_rd(x, XHCI_OP_USBCMD);
	uint32_t ps = xhci_op_rd(x, XHCI_OP_PAGESIZE);
	uint32_t crcr = xhci_op_rd(x, XHCI_OP_CRCR);
	uint32_t cfg = xhci_op_rd(x, XHCI_OP_CONFIG);
	char buf[160];
	struct bu_strbuf sb;

	bu_strbuf_init(&sb, buf, sizeof(buf));
	put_bits(&sb, cmd, cmd_bits);
	bu_xhci_log(x, lv, "dump: USBCMD=0x%08x%s", cmd, buf);
	bu_xhci_usbsts_decode(xhci_op_rd(x, XHCI_OP_USBSTS), buf, sizeof(buf));
	bu_xhci_log(x, lv, "dump: USBSTS=%s", buf);
	/* §5.4.3: bit n set means pages of 2^(n+12) bytes. */
	bu_xhci_log(x, lv, "dump: PAGESIZE=0x%08x (%u bytes)", ps,
		    ps & 0xffffu ? 4096u << __builtin_ctz(ps & 0xffffu) : 0u);
	bu_xhci_log(x, lv, "dump: DNCTRL=0x%08x", xhci_op_rd(x, XHCI_OP_DNCTRL));
	/* §5.4.5: only CRR reads back; the pointer, RCS, CS and CA read 0. */
	bu_xhci_log(x, lv, "dump: CRCR=0x%08x CRR=%u (command ring %s)", crcr,
		    (crcr & XHCI_CRCR_CRR) ? 1u : 0u,
		    (crcr & XHCI_CRCR_CRR) ? "running" : "stopped");
	bu_xhci_log(x, lv, "dump: DCBAAP=0x%016llx",
		    (unsigned long long)rd64(x, x->op + XHCI_OP_DCBAAP));
	/* §5.4.7: MaxSlotsEn 7:0, U3E bit 8, CIE bit 9. */
	bu_xhci_log(x, lv, "dump: CONFIG=0x%08x MaxSlotsEn=%u%s%s", cfg, XHCI_CONFIG_SLOTS(cfg),
		    (cfg & (1u << 8)) ? " U3E" : "", (cfg & (1u << 9)) ? " CIE" : "");
}

static __attribute__((noinline)) void dump_ports(struct xhci *x, enum bu_log_level lv)
{
	char buf[160];

	for (unsigned p = 1; p <= x->max_ports; p++) {
		const struct xhci_protocol *pr = bu_xhci_port_protocol(x, p);
		unsigned major = pr ? pr->major : 0;
		uint32_t pmsc = xhci_op_rd(x, XHCI_OP_PORTPMSC(p));
		uint32_t li = xhci_op_rd(x, XHCI_OP_PORTLI(p));

		bu_xhci_portsc_decode(xhci_op_rd(x, XHCI_OP_PORTSC(p)), buf, sizeof(buf));
		bu_xhci_log(x, lv, "dump: port %u (USB %u): PORTSC=%s", p, major, buf);
		if (major >= 3) {
			/* §5.4.9.1: U1 Timeout 7:0, U2 Timeout 15:8, FLA bit 16;
			 * §5.4.10.1: Link Error Count 15:0, RLC 19:16, TLC 23:20. */
			bu_xhci_log(x, lv,
				    "dump: port %u (USB %u): PORTPMSC=0x%08x U1timeout=%u "
				    "U2timeout=%u FLA=%u PORTLI=0x%08x LinkErrors=%u RLC=%u TLC=%u",
				    p, major, pmsc, pmsc & 0xffu, (pmsc >> 8) & 0xffu,
				    (pmsc >> 16) & 1u, li, li & 0xffffu, (li >> 16) & 0xfu,
				    (li >> 20) & 0xfu);
		} else {
			/* §5.4.9.2: L1S 2:0, RWE 3, BESL 7:4, L1 Device Slot
			 * 15:8, HLE 16, Port Test Control 31:28; §5.4.10.2:
			 * PORTLI is reserved on USB 2 ports. */
			bu_xhci_log(x, lv,
				    "dump: port %u (USB %u): PORTPMSC=0x%08x L1S=%u RWE=%u BESL=%u "
				    "L1slot=%u HLE=%u test=%u PORTLI=0x%08x",
				    p, major, pmsc, pmsc & 7u, (pmsc >> 3) & 1u, (pmsc >> 4) & 0xfu,
				    (pmsc >> 8) & 0xffu, (pmsc >> 16) & 1u, pmsc >> 28, li);
		}
	}
}

/* ======================================================================== */
/* Runtime registers, interrupter 0 (§5.5)                                  */
/* ======================================================================== */

static __attribute__((noinline)) void dump_rt(struct xhci *x, enum bu_log_level lv)
{
	uintptr_t ir = x->rt + XHCI_RT_IR(0);
	uint32_t mf = xhci_rd32(x, x->rt + XHCI_RT_MFINDEX);
	uint32_t iman = xhci_rd32(x, ir + XHCI_IR_IMAN);
	uint32_t imod = xhci_rd32(x, ir + XHCI_IR_IMOD);
	uint64_t erdp = rd64(x, ir + XHCI_IR_ERDP);

	/* §5.5.1: the microframe index, 13:0. */
	bu_xhci_log(x, lv, "dump: MFINDEX=0x%08x (microframe %u, frame %u)", mf, mf & 0x3fffu,
		    (mf & 0x3fffu) >> 3);
	bu_xhci_log(x, lv, "dump: IR0 IMAN=0x%08x%s%s", iman, (iman & XHCI_IMAN_IP) ? " IP" : "",
		    (iman & XHCI_IMAN_IE) ? " IE" : "");
	/* §5.5.2.2: IMODI 15:0 and IMODC 31:16, in 250 ns units. */
	bu_xhci_log(x, lv, "dump: IR0 IMOD=0x%08x IMODI=%u IMODC=%u", imod, imod & 0xffffu,
		    imod >> 16);
	bu_xhci_log(x, lv, "dump: IR0 ERSTSZ=%u", xhci_rd32(x, ir + XHCI_IR_ERSTSZ) & 0xffffu);
	bu_xhci_log(x, lv, "dump: IR0 ERSTBA=0x%016llx",
		    (unsigned long long)rd64(x, ir + XHCI_IR_ERSTBA));
	bu_xhci_log(x, lv, "dump: IR0 ERDP=0x%016llx DESI=%u%s", (unsigned long long)erdp,
		    (unsigned)(erdp & XHCI_ERDP_DESI), (erdp & XHCI_ERDP_EHB) ? " EHB" : "");
}

/* ======================================================================== */
/* Rings (§4.9)                                                             */
/* ======================================================================== */

/** Log the TRB at ring counter `c`, decoded, with where it stands. */
static void dump_trb(struct xhci *x, enum bu_log_level lv, const char *who, struct xhci_ring *r,
		     uint32_t c)
{
	const struct xhci_trb *t = xhci_ring_trb(r, c);
	uint32_t dw[4];
	char buf[200];
	const char *where = c == r->deq			  ? "deq>"
			    : (uint32_t)(c - r->deq) < (uint32_t)(r->enq - r->deq) ? "queued"
			    : (uint32_t)(r->deq - c) <= r->count	  ? "done"
									  : "free";

	for (int i = 0; i < 4; i++)
		dw[i] = bu_le32_to_cpu(t->dw[i]);
	bu_xhci_trb_decode(dw, buf, sizeof(buf));
	bu_xhci_log(x, lv, "dump: %s   %-6s TRB @0x%llx: %s", who, where,
		    (unsigned long long)xhci_ring_addr(r, c), buf);
}

/** One producer ring's counters: "ring @0x... enq=N deq=N cycle=C". */
static void ring_state(const struct xhci_ring *r, char *buf, size_t size)
{
	bu_snprintf(buf, size, "ring @0x%llx enq=%u deq=%u (TRB %u, cycle %u) used=%u/%u",
		    (unsigned long long)r->bus, r->enq, r->deq, xhci_ring_slot(r, r->deq),
		    xhci_ring_cycle(r, r->enq), r->enq - r->deq, r->count);
}

static __attribute__((noinline)) void dump_cmd_ring(struct xhci *x, enum bu_log_level lv)
{
	struct xhci_ring *r = &x->cmd_ring;
	uint64_t now = xhci_now_us(x);
	unsigned pending = 0;
	char buf[200];

	if (!r->trbs || !x->cmds)
		return;
	for (uint32_t c = r->deq; c != r->enq; c++)
		pending += x->cmds[xhci_ring_slot(r, c)].active;
	ring_state(r, buf, sizeof(buf));
	bu_xhci_log(x, lv, "dump: command %s, %u pending", buf, pending);
	for (uint32_t c = r->deq; c != r->enq; c++) {
		const struct xhci_cmd *cmd = &x->cmds[xhci_ring_slot(r, c)];
		uint64_t left = cmd->deadline_us > now ? cmd->deadline_us - now : 0;

		if (!cmd->active)
			continue;
		bu_xhci_log(x, lv, "dump: command   pending %s%s, deadline in %llu us",
			    bu_xhci_trb_type_name(cmd->type), cmd->aborted ? " (aborting)" : "",
			    (unsigned long long)left);
		dump_trb(x, lv, "command", r, c);
	}
}

/** Format a device's path ("3.2") the way usbdev lines do. */
static void dev_path(const struct bu_usb_device *u, char *buf, size_t size)
{
	struct bu_strbuf sb;
	unsigned tiers = BU_MIN(u->tier, (unsigned)BU_USB_MAX_PATH);

	bu_strbuf_init(&sb, buf, size);
	for (unsigned i = 0; i < tiers; i++)
		bu_strbuf_printf(&sb, "%s%u", i ? "." : "", u->path[i]);
}

/*
 * The slot and endpoint dumps are split so that no two text buffers share
 * a frame on the way down to the TRB decoder (noinline): the dump runs from
 * poll when a command times out, where the stack is the library's budget.
 */

/** A slot's line: its device and decoded Slot Context. */
static __attribute__((noinline)) void dump_slot_line(struct xhci *x, enum bu_log_level lv,
						     unsigned s, struct xhci_dev *d)
{
	char buf[200], path[32];

	path[0] = '\0';
	if (d->udev)
		dev_path(d->udev, path, sizeof(path));
	if (d->out_ctx) {
		uint32_t sc[4];

		xhci_out_ctx_sync(x, d);
		for (int i = 0; i < 4; i++)
			sc[i] = bu_le32_to_cpu(xhci_out_ctx(x, d, 0)[i]);
		bu_xhci_slot_ctx_decode(sc, buf, sizeof(buf));
	} else {
		bu_snprintf(buf, sizeof(buf), "no context");
	}
	bu_xhci_log(x, lv, "dump: slot %u (device %s%s): %s", s, path[0] ? path : "-",
		    d->disabling ? ", disabling" : "", buf);
}

/** An endpoint's ring counters and queued TDs (BU_XHCI_DUMP_RINGS). */
static __attribute__((noinline)) void dump_ep_ring_line(struct xhci *x, enum bu_log_level lv,
							const char *who, struct xhci_ep *ep)
{
	char buf[200];
	unsigned tds = 0;

	for (struct bu_usb_xfer *t = ep->head; t && tds < 1000; t = xfer_hc(t)->next)
		tds++;
	ring_state(&ep->ring, buf, sizeof(buf));
	bu_xhci_log(x, lv, "dump: %s (ep 0x%02x): %s, %u TD(s) queued%s%s%s%s", who,
		    ep->uep ? ep->uep->address : 0, buf, tds, ep->halted ? ", halted" : "",
		    ep->stopping ? ", stopping" : "", ep->paused ? ", paused" : "",
		    ep->broken ? ", broken" : "");
}

/** An endpoint's decoded Endpoint Context (BU_XHCI_DUMP_CONTEXTS). */
static __attribute__((noinline)) void dump_ep_ctx_line(struct xhci *x, enum bu_log_level lv,
						       const char *who, struct xhci_dev *d,
						       struct xhci_ep *ep)
{
	char buf[200];
	uint32_t ec[5];

	if (!d->out_ctx)
		return;
	for (int i = 0; i < 5; i++)
		ec[i] = bu_le32_to_cpu(xhci_out_ctx(x, d, ep->dci)[i]);
	bu_xhci_ep_ctx_decode(ec, buf, sizeof(buf));
	bu_xhci_log(x, lv, "dump: %s   context: %s", who, buf);
}

/**
 * One endpoint: its ring line, context line and the TRBs around its
 * dequeue pointer (two before, it and up to three after; fewer when the
 * ring is empty), as `parts` asks.
 */
static __attribute__((noinline)) void dump_ep(struct xhci *x, enum bu_log_level lv,
					      unsigned parts, unsigned s, struct xhci_dev *d,
					      unsigned dci)
{
	struct xhci_ep *ep = d->eps[dci];
	struct xhci_ring *r = &ep->ring;
	char who[32];
	uint32_t from, to;

	bu_snprintf(who, sizeof(who), "slot %u DCI %u", s, dci);
	if (parts & BU_XHCI_DUMP_RINGS)
		dump_ep_ring_line(x, lv, who, ep);
	if (parts & BU_XHCI_DUMP_CONTEXTS)
		dump_ep_ctx_line(x, lv, who, d, ep);
	if (!(parts & BU_XHCI_DUMP_RINGS))
		return;
	from = r->deq - BU_MIN(r->deq, 2u);
	to = r->deq + BU_MIN(BU_MAX(r->enq - r->deq, 1u), 4u);
	for (uint32_t c = from; c != to; c++)
		dump_trb(x, lv, who, r, c);
}

/**
 * The slots (`slot` 0: every one) and their endpoints (`ep` < 0: every
 * one, else the endpoint with that address). BU_ENOENT when a slot or
 * endpoint asked for by number has nothing to show.
 */
static __attribute__((noinline)) int dump_slots(struct xhci *x, enum bu_log_level lv,
						unsigned parts, unsigned slot, int ep)
{
	int rc = BU_ENOENT;

	for (unsigned s = 1; s <= x->max_slots && s < BU_ARRAY_SIZE(x->slots); s++) {
		struct xhci_dev *d = x->slots[s];
		unsigned want = 0;

		for (unsigned dci = 1; ep >= 0 && !want && dci < 32; dci++)
			if (bu_xhci_dci_ep_address(dci) == (unsigned)ep)
				want = dci;
		if (!d || (slot && s != slot))
			continue;
		if (ep >= 0 && (!want || !d->eps[want] || !d->eps[want]->ring.trbs))
			continue;
		rc = 0;
		dump_slot_line(x, lv, s, d);
		for (unsigned dci = want ? want : 1; dci < 32; dci++) {
			if (d->eps[dci] && d->eps[dci]->ring.trbs)
				dump_ep(x, lv, parts, s, d, dci);
			if (want)
				break;
		}
	}
	return rc;
}

static __attribute__((noinline)) void dump_event_ring(struct xhci *x, enum bu_log_level lv)
{
	const struct xhci_event_ring *e = &x->evt;
	uint32_t total = e->nsegs * e->seg_trbs;
	uint32_t idx;

	if (!total)
		return;
	idx = e->deq % total;
	bu_xhci_log(x, lv,
		    "dump: event ring deq=%u (segment %u TRB %u @0x%llx, cycle %u), %u segment(s) "
		    "of %u TRBs",
		    e->deq, idx / e->seg_trbs, idx % e->seg_trbs,
		    (unsigned long long)(e->seg_bus[idx / e->seg_trbs] + 16ull * (idx % e->seg_trbs)),
		    ((e->deq / total) & 1u) ? 0u : 1u, e->nsegs, e->seg_trbs);
}

/** Every device still enumerating: where it is, and for how long. */
static __attribute__((noinline)) void dump_enumeration(struct xhci *x, enum bu_log_level lv)
{
	uint64_t now = xhci_now_us(x);
	char path[32];

	for (struct bu_usb_device *u = x->bus.devices; u; u = u->next) {
		const char *step = bu_usb_device_enum_step(u);
		uint64_t since = 0;

		if (u->state != BU_DEV_ENUMERATING)
			continue;
		if (u->num_steps && u->steps_open)
			since = u->steps[u->num_steps - 1].start_us;
		dev_path(u, path, sizeof(path));
		bu_xhci_log(x, lv, "dump: device %s (slot %u): enumerating, step \"%s\" for %llu us",
			    path, u->slot, step ? step : "?",
			    (unsigned long long)(since && now > since ? now - since : 0));
	}
}

/* ======================================================================== */
/* Entry points                                                             */
/* ======================================================================== */

/** The parts of the dump `parts` names, at `lv`; see bu_xhci_dump_part. */
static int dump_parts(struct xhci *x, enum bu_log_level lv, unsigned parts, unsigned slot,
		      int ep)
{
	int rc = 0;

	if (parts & BU_XHCI_DUMP_REGS) {
		dump_caps(x, lv);
		dump_op(x, lv);
	}
	if (parts & BU_XHCI_DUMP_PORTS)
		dump_ports(x, lv);
	if (parts & BU_XHCI_DUMP_REGS) {
		dump_rt(x, lv);
		dump_cmd_ring(x, lv);
		dump_event_ring(x, lv);
	}
	if (parts & (BU_XHCI_DUMP_CONTEXTS | BU_XHCI_DUMP_RINGS))
		rc = dump_slots(x, lv, parts, slot, ep);
	if (parts & BU_XHCI_DUMP_ENUM)
		dump_enumeration(x, lv);
	return rc;
}

void bu_xhci_dump_at(struct xhci *x, enum bu_log_level lv)
{
	bu_xhci_log(x, lv, "dump: controller state%s", x->failed ? " (failed)" : "");
	dump_parts(x, lv, BU_XHCI_DUMP_ALL, 0, -1);
	bu_xhci_log(x, lv, "dump: end");
}

void bu_xhci_dump(struct bu_usb_bus *bus)
{
	bu_xhci_dump_at(bus_xhci(bus), BU_LOG_INFO);
}

int bu_xhci_dump_part(struct bu_usb_bus *bus, unsigned parts, unsigned slot, int ep)
{
	if (!bus || !parts || (parts & ~(unsigned)BU_XHCI_DUMP_ALL) || slot > 255 || ep > 0xff ||
	    (ep >= 0 && (ep & 0x70)))
		return BU_EINVAL;
	return dump_parts(bus_xhci(bus), BU_LOG_INFO, parts, slot, ep);
}
