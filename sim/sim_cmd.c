/*
 * sim command ring and commands (xHCI §4.6): Enable/Disable Slot, Address
 * Device (BSR), Configure Endpoint (add, drop, deconfigure), Evaluate
 * Context, Reset/Stop Endpoint, Set TR Dequeue Pointer, Reset Device,
 * No-Op, Get Port Bandwidth; command stop and abort; contexts validated with
 * the spec's completion codes, and stricter than QEMU where the spec is
 * strict (EP0 max packet, Average TRB Length, CErr, Interval, ESIT).
 */
#include <string.h>

#include "xhci_trace.h"
#include "sim_priv.h"

/* ------------------------------------------------------------------------ */
/* Contexts                                                                 */

uint64_t sim_ctx_addr(struct sim *sim, uint64_t base, unsigned idx)
{
	return base + (uint64_t)idx * sim->ctx_size;
}

static bool sim_read_ctx(struct sim *sim, uint64_t base, unsigned idx, uint32_t out[8],
			 const char *what)
{
	return sim_dma_read(sim, sim_ctx_addr(sim, base, idx), out, 32, what);
}

void sim_write_out_slot(struct sim *sim, unsigned s)
{
	struct sim_slot *sl = &sim->slot[s];
	uint32_t d[8] = { sl->sctx[0], sl->sctx[1], sl->sctx[2],
			  (uint32_t)sl->address | ((uint32_t)sl->state << 27), 0, 0, 0, 0 };

	if (sl->out_ctx)
		sim_dma_write(sim, sl->out_ctx, d, sizeof(d), "output slot context");
}

void sim_write_out_ep(struct sim *sim, unsigned s, unsigned dci)
{
	struct sim_slot *sl = &sim->slot[s];
	struct sim_ep *ep = &sl->ep[dci];
	uint32_t d[8] = { 0 };

	if (!sl->out_ctx)
		return;
	if (ep->state != XHCI_EP_STATE_DISABLED) {
		d[0] = ep->state | XHCI_EP_MULT(ep->mult) | XHCI_EP_INTERVAL(ep->interval) |
		       XHCI_EP_ESIT_HI(ep->max_esit);
		d[1] = XHCI_EP_CERR(ep->cerr) | XHCI_EP_TYPE(ep->type) | XHCI_EP_BURST(ep->burst) |
		       XHCI_EP_MPS(ep->mps);
		d[2] = (uint32_t)ep->deq | (ep->ccs ? XHCI_EP_DCS : 0);
		d[3] = (uint32_t)(ep->deq >> 32);
		d[4] = XHCI_EP_AVG_TRB(ep->avg_trb) | XHCI_EP_ESIT_LO(ep->max_esit);
	}
	sim_dma_write(sim, sim_ctx_addr(sim, sl->out_ctx, dci), d, sizeof(d),
		      "output endpoint context");
}

/* Legal max packet sizes (USB 2.0 §5.5-5.8, USB 3.2 §9.6.6). */
bool sim_mps_legal(enum sim_speed sp, unsigned xtype, unsigned mps)
{
	switch (xtype) {
	case SIM_EP_CONTROL:
		if (sp == SIM_SPEED_LOW)
			return mps == 8;
		if (sp == SIM_SPEED_FULL)
			return mps == 8 || mps == 16 || mps == 32 || mps == 64;
		if (sp == SIM_SPEED_HIGH)
			return mps == 64;
		return mps == 512;
	case SIM_EP_BULK:
		if (sp == SIM_SPEED_LOW)
			return false;
		if (sp == SIM_SPEED_FULL)
			return mps == 8 || mps == 16 || mps == 32 || mps == 64;
		if (sp == SIM_SPEED_HIGH)
			return mps == 512;
		return mps == 1024;
	case SIM_EP_INTR:
		if (sp == SIM_SPEED_LOW)
			return mps >= 1 && mps <= 8;
		if (sp == SIM_SPEED_FULL)
			return mps >= 1 && mps <= 64;
		return mps >= 1 && mps <= 1024;
	default: /* isoch */
		if (sp == SIM_SPEED_LOW)
			return false;
		if (sp == SIM_SPEED_FULL)
			return mps >= 1 && mps <= 1023;
		return mps >= 1 && mps <= 1024;
	}
}

static enum sim_speed sim_slot_speed(struct sim *sim, unsigned s)
{
	struct sim_slot *sl = &sim->slot[s];
	unsigned root = (sl->sctx[1] >> 16) & 0xff;
	unsigned psiv = (sl->sctx[0] >> 20) & 0xf;

	if (sl->dev)
		return sl->dev->speed;
	return root ? sim_psiv_speed(sim, root, psiv) : SIM_SPEED_FULL;
}

/* Parse and validate an input endpoint context; returns a CC. */
static unsigned sim_parse_ep(struct sim *sim, unsigned s, unsigned dci, const uint32_t *d,
			     struct sim_ep *ep)
{
	enum sim_speed sp = sim_slot_speed(sim, s);
	unsigned type = XHCI_EP_GET_TYPE(d[1]);
	unsigned xtype = type == XHCI_EPT_CONTROL ? SIM_EP_CONTROL : type & 3;
	bool in = type >= XHCI_EPT_CONTROL;
	bool periodic = xtype == SIM_EP_ISOCH || xtype == SIM_EP_INTR;
	bool lec = sim->hccparams2 & XHCI_HCCPARAMS2_LEC;

	memset(ep, 0, sizeof(*ep));
	ep->type = (uint8_t)type;
	ep->mult = (d[0] >> 8) & 3;
	ep->interval = (d[0] >> 16) & 0xff;
	ep->max_esit = ((d[0] >> 24) << 16) | (d[4] >> 16);
	ep->cerr = (d[1] >> 1) & 3;
	ep->burst = (d[1] >> 8) & 0xff;
	ep->mps = (uint16_t)(d[1] >> 16);
	ep->deq = sim_rd64(&d[2]) & ~0xfull;
	ep->ccs = d[2] & 1;
	ep->avg_trb = d[4] & 0xffff;

#define SIM_BAD(fmt, ...)                                                          \
	do {                                                                       \
		sim_violation_add(sim, "slot %u DCI %u context: " fmt, s, dci, ##__VA_ARGS__); \
		return XHCI_CC_PARAMETER;                                          \
	} while (0)
	if (type == XHCI_EPT_INVALID)
		SIM_BAD("EP Type 0 (Not Valid) with its Add flag set");
	if (dci == 1 && type != XHCI_EPT_CONTROL)
		SIM_BAD("EP0 must have EP Type 4 (Control), has %u", type);
	if (dci > 1) {
		if (type == XHCI_EPT_CONTROL && !(dci & 1))
			SIM_BAD("a control endpoint needs an odd DCI");
		if (type != XHCI_EPT_CONTROL && in != (dci & 1))
			SIM_BAD("EP Type %u (%s) does not match the DCI's direction", type,
				in ? "IN" : "OUT");
	}
	if ((d[0] >> 10) & 0x1f)
		SIM_BAD("MaxPStreams %u but the controller has no streams (MaxPSASize 0)",
			(d[0] >> 10) & 0x1f);
	if (ep->mps == 0)
		SIM_BAD("Max Packet Size 0");
	if (!sim_mps_legal(sp, xtype, ep->mps))
		SIM_BAD("Max Packet Size %u is not legal for this endpoint type at speed %u",
			ep->mps, sp);
	if (ep->avg_trb == 0)
		SIM_BAD("Average TRB Length 0 (xHCI §6.2.3: must be > 0)");
	if (xtype == SIM_EP_CONTROL && ep->avg_trb != 8)
		SIM_BAD("Average TRB Length %u for a control endpoint (xHCI §6.2.3: shall be 8)",
			ep->avg_trb);
	if (xtype == SIM_EP_ISOCH && ep->cerr != 0)
		SIM_BAD("CErr %u on an isochronous endpoint (must be 0)", ep->cerr);
	if (!ep->deq || (d[2] & 0xe))
		SIM_BAD("TR Dequeue Pointer %#llx is 0 or not 16-byte aligned",
			(unsigned long long)sim_rd64(&d[2]));
	if (ep->interval > 15)
		SIM_BAD("Interval %u > 15", ep->interval);
	/* xHCI §6.2.3: Max ESIT Payload Hi is RsvdZ unless HCCPARAMS2.LEC=1. */
	if ((d[0] >> 24) && !lec)
		SIM_BAD("Max ESIT Payload Hi %u set but HCCPARAMS2.LEC=0", d[0] >> 24);
	if (sp == SIM_SPEED_SUPER) {
		if (ep->burst > 15)
			SIM_BAD("Max Burst %u > 15", ep->burst);
		if (xtype == SIM_EP_CONTROL && ep->burst)
			SIM_BAD("Max Burst %u on a control endpoint", ep->burst);
		if (ep->mult && xtype != SIM_EP_ISOCH)
			SIM_BAD("Mult %u on a non-isochronous endpoint", ep->mult);
		/* xHCI §6.2.3: with LEC=1 Mult is RsvdZ; the controller derives
		 * it from Max ESIT Payload, Max Packet Size and Max Burst. */
		if (ep->mult && lec)
			SIM_BAD("Mult %u with HCCPARAMS2.LEC=1 (RsvdZ: the controller computes Mult)",
				ep->mult);
	} else {
		if (ep->mult)
			SIM_BAD("Mult %u below SuperSpeed", ep->mult);
		if (ep->burst > (sp == SIM_SPEED_HIGH && periodic ? 2 : 0))
			SIM_BAD("Max Burst %u not allowed here", ep->burst);
	}
	if (periodic) {
		/* With LEC=1 the derived Mult may reach what the speed allows:
		 * 2 for SuperSpeed isochronous (USB 3.2 §9.6.7), else 0. */
		unsigned mult = lec && sp == SIM_SPEED_SUPER && xtype == SIM_EP_ISOCH ? 2 : ep->mult;
		uint32_t cap = (uint32_t)ep->mps * (ep->burst + 1u) * (mult + 1u);
		if (ep->max_esit == 0)
			SIM_BAD("Max ESIT Payload 0 on a periodic endpoint");
		if (ep->max_esit > cap)
			SIM_BAD("Max ESIT Payload %u > MPS*(burst+1)*(mult+1) = %u", ep->max_esit, cap);
		if ((sp == SIM_SPEED_FULL || sp == SIM_SPEED_LOW) && xtype == SIM_EP_INTR &&
		    (ep->interval < 3 || ep->interval > 10))
			SIM_BAD("FS/LS interrupt Interval %u outside 3..10", ep->interval);
		if (sp == SIM_SPEED_FULL && xtype == SIM_EP_ISOCH && ep->interval < 3)
			SIM_BAD("FS isoch Interval %u < 3", ep->interval);
	} else if (ep->max_esit) {
		SIM_BAD("Max ESIT Payload %u on a non-periodic endpoint", ep->max_esit);
	}
#undef SIM_BAD
	ep->state = XHCI_EP_STATE_RUNNING;
	return XHCI_CC_SUCCESS;
}

static void sim_ep_install(struct sim *sim, unsigned s, unsigned dci, const struct sim_ep *nep)
{
	struct sim_ep *ep = &sim->slot[s].ep[dci];
	struct sim_td_trb *td = ep->td;
	unsigned cap = ep->td_cap;

	sim_ep_deactivate(sim, s, dci);
	*ep = *nep;
	ep->td = td;
	ep->td_cap = cap;
	sim_ep_reset_engine(ep);
	ep->due = SIM_NEVER;
}

static void sim_ep_disable(struct sim *sim, unsigned s, unsigned dci)
{
	struct sim_ep *ep = &sim->slot[s].ep[dci];

	sim_ep_deactivate(sim, s, dci);
	sim_ep_reset_engine(ep);
	ep->state = XHCI_EP_STATE_DISABLED;
}

static void sim_free_address(struct sim *sim, unsigned s)
{
	struct sim_slot *sl = &sim->slot[s];

	if (sl->address)
		sim->addr_used[sl->address] = 0;
	sl->address = 0;
}

void sim_slots_reset(struct sim *sim)
{
	for (unsigned s = 1; s <= SIM_MAX_SLOTS; s++) {
		struct sim_slot *sl = &sim->slot[s];
		for (unsigned d = 1; d < 32; d++)
			sim_ep_disable(sim, s, d);
		if (sl->dev)
			sl->dev->slot = 0;
		sl->dev = NULL;
		sl->enabled = false;
		sl->state = 0;
		sl->out_ctx = 0;
		memset(sl->sctx, 0, sizeof(sl->sctx));
	}
	memset(sim->addr_used, 0, sizeof(sim->addr_used));
	sim->nactive = 0;
}

void sim_slot_detach_dev(struct sim *sim, struct sim_device *dev)
{
	for (unsigned s = 1; s <= SIM_MAX_SLOTS; s++)
		if (sim->slot[s].dev == dev)
			sim->slot[s].dev = NULL;
}

/* ------------------------------------------------------------------------ */
/* Commands                                                                 */

struct sim_cmd_ctx {
	const uint32_t *t;
	unsigned slot;     /* Slot ID field of the completion */
	uint32_t param;
};

static unsigned sim_check_slot(struct sim *sim, unsigned s)
{
	if (s == 0 || s > (sim->config & 0xff) || s > sim->nslots) {
		sim_violation_add(sim, "command for Slot ID %u outside 1..MaxSlotsEn", s);
		return XHCI_CC_TRB;
	}
	if (!sim->slot[s].enabled)
		return XHCI_CC_SLOT_NOT_ENABLED;
	return XHCI_CC_SUCCESS;
}

static bool sim_check_ictx_ptr(struct sim *sim, uint64_t p)
{
	uint64_t len = 33ull * sim->ctx_size;

	if (!p || (p & 0x3f)) {
		sim_violation_add(sim, "Input Context pointer %#llx: 0 or not 64-byte aligned",
				  (unsigned long long)p);
		return false;
	}
	if ((p >> 12) != ((p + len - 1) >> 12))
		sim_violation_add(sim, "Input Context %#llx (%llu bytes) crosses a page boundary",
				  (unsigned long long)p, (unsigned long long)len);
	return sim_dma_probe(sim, p, len, false, "Input Context");
}

static unsigned sim_cmd_enable_slot(struct sim *sim, struct sim_cmd_ctx *c)
{
	unsigned type = (c->t[3] >> 16) & 0x1f;

	if (type != 0) {
		sim_violation_add(sim, "Enable Slot with Slot Type %u; the Supported Protocol caps say 0",
				  type);
		return XHCI_CC_TRB;
	}
	for (unsigned s = 1; s <= (sim->config & 0xff) && s <= sim->nslots; s++) {
		struct sim_slot *sl = &sim->slot[s];
		if (sl->enabled)
			continue;
		memset(sl->sctx, 0, sizeof(sl->sctx));
		sl->enabled = true;
		sl->state = 0;
		sl->out_ctx = 0;
		sl->dev = NULL;
		sl->address = 0;
		for (unsigned d = 1; d < 32; d++)
			sim_ep_disable(sim, s, d);
		c->slot = s;
		return XHCI_CC_SUCCESS;
	}
	return XHCI_CC_NO_SLOTS;
}

static unsigned sim_cmd_disable_slot(struct sim *sim, struct sim_cmd_ctx *c)
{
	unsigned s = XHCI_TRB_GET_SLOT(c->t[3]), cc = sim_check_slot(sim, s);
	struct sim_slot *sl = &sim->slot[s];

	c->slot = s;
	if (cc != XHCI_CC_SUCCESS)
		return cc;
	for (unsigned d = 1; d < 32; d++)
		sim_ep_disable(sim, s, d);
	sim_free_address(sim, s);
	if (sl->dev)
		sl->dev->slot = 0;
	sl->dev = NULL;
	sl->enabled = false;
	sl->state = 0;
	sl->out_ctx = 0;
	return XHCI_CC_SUCCESS;
}

/* Another device at address 0 reachable on the same USB 2 tree? */
static struct sim_device *sim_default_collision(struct sim *sim, struct sim_device *dev)
{
	for (struct sim_device *o = sim->devices; o; o = o->next) {
		const char *why;
		if (o == dev || o->root_port != dev->root_port || o->speed == SIM_SPEED_SUPER ||
		    o->address != 0 || o->needs_reset)
			continue;
		if (sim_route(sim, o->root_port, 0, &why) == NULL)
			continue;
		/* reachable when every port above it is enabled */
		bool ok = true;
		for (struct sim_device *c = o; c->parent; c = c->parent)
			if (!sim_hub_port_enabled(c->parent, c->port))
				ok = false;
		if (!o->parent && !(sim->port[o->root_port - 1].sc & XHCI_PORTSC_PED))
			ok = false;
		if (ok)
			return o;
	}
	return NULL;
}

static unsigned sim_cmd_address(struct sim *sim, struct sim_cmd_ctx *c)
{
	unsigned s = XHCI_TRB_GET_SLOT(c->t[3]), cc = sim_check_slot(sim, s);
	bool bsr = c->t[3] & XHCI_TRB_BSR;
	uint64_t ip = sim_rd64(c->t) & ~0xfull;
	struct sim_slot *sl = &sim->slot[s];
	uint32_t icc[8], sctx[8], ep0[8];
	struct sim_ep nep;
	const char *why = NULL;
	unsigned root, psiv, intr, ttport = 0, tt_slot, tt_port;
	uint32_t route;
	struct sim_device *dev, *tth;
	uint64_t out = 0;

	c->slot = s;
	if (cc != XHCI_CC_SUCCESS)
		goto fail;
	cc = XHCI_CC_CONTEXT_STATE;
	if (sl->state != 0 && !(sl->state == XHCI_SLOT_STATE_DEFAULT && !bsr))
		goto fail;
	cc = XHCI_CC_PARAMETER;
	if (!sim_check_ictx_ptr(sim, ip) ||
	    !sim_read_ctx(sim, ip, 0, icc, "Input Control Context") ||
	    !sim_read_ctx(sim, ip, 1, sctx, "input Slot Context") ||
	    !sim_read_ctx(sim, ip, 2, ep0, "input EP0 Context"))
		goto fail;
	if (icc[XHCI_ICC_DROP] != 0 || icc[XHCI_ICC_ADD] != 3) {
		sim_violation_add(sim, "Address Device: Input Control Context drop=%#x add=%#x (must be 0 / 0x3)",
				  icc[0], icc[1]);
		goto fail;
	}
	root = (sctx[1] >> 16) & 0xff;
	psiv = (sctx[0] >> 20) & 0xf;
	route = XHCI_SLOT_ROUTE(sctx[0]);
	intr = sctx[2] >> 22;
	if (XHCI_SLOT_GET_ENTRIES(sctx[0]) == 0) {
		sim_violation_add(sim, "Address Device: Context Entries 0");
		goto fail;
	}
	if (root == 0 || root > sim->nports) {
		sim_violation_add(sim, "Address Device: Root Hub Port Number %u outside 1..%u", root,
				  sim->nports);
		goto fail;
	}
	if (intr >= sim->nintrs) {
		sim_violation_add(sim, "Address Device: Interrupter Target %u >= MaxIntrs", intr);
		goto fail;
	}
	for (unsigned i = 0, z = 0; i < 5; i++) {
		unsigned nib = (route >> (4 * i)) & 0xf;
		if (!nib)
			z = 1;
		else if (z) {
			sim_violation_add(sim, "Address Device: Route String %#x has a hole", route);
			goto fail;
		}
	}
	dev = sim_route(sim, root, route, &why);
	if (!dev) {
		sim_log(sim, BU_LOG_INFO, "Address Device slot %u: no device at port %u route %#x: %s",
			s, root, route, why);
		cc = XHCI_CC_TRANSACTION;
		goto fail;
	}
	if (psiv != sim_port_psiv(sim, root, dev->speed)) {
		sim_violation_add(sim, "Address Device: slot Speed %u but the device runs at PSIV %u",
				  psiv, sim_port_psiv(sim, root, dev->speed));
		goto fail;
	}
	/* Borrow the slot's device so that EP0 validation sees its speed; every
	 * failure from here on gives it back (fail_unborrow). */
	sl->dev = dev;
	sl->sctx[0] = sctx[0];
	sl->sctx[1] = sctx[1];
	cc = sim_parse_ep(sim, s, 1, ep0, &nep);
	if (cc != XHCI_CC_SUCCESS)
		goto fail_unborrow;
	if (dev->slot && dev->slot != s && sim->slot[dev->slot].enabled)
		sim_violation_add(sim, "Address Device: slot %u addresses the device slot %u already has",
				  s, dev->slot);
	/* Transaction translator fields (xHCI §6.2.2, USB 2.0 §11.14). */
	tth = (dev->speed == SIM_SPEED_LOW || dev->speed == SIM_SPEED_FULL)
		      ? sim_tt_hub(dev, &ttport) : NULL;
	tt_slot = sctx[2] & 0xff;
	tt_port = (sctx[2] >> 8) & 0xff;
	if (tth) {
		cc = XHCI_CC_TRANSACTION;
		if (tt_slot != tth->slot || tt_port != ttport || !tth->slot) {
			sim_violation_add(sim, "Address Device: TT Hub Slot ID %u / TT Port %u, but the device's TT is hub slot %u port %u",
					  tt_slot, tt_port, tth->slot, ttport);
			goto fail_unborrow;
		}
		if (!(sim->slot[tth->slot].sctx[0] & XHCI_SLOT_HUB)) {
			sim_violation_add(sim, "Address Device: TT hub slot %u is not marked as a hub (Slot Context Hub=0)",
					  tth->slot);
			goto fail_unborrow;
		}
		bool mtt = sctx[0] & XHCI_SLOT_MTT;
		if (tth->hub && mtt != tth->hub->multi_tt)
			sim_violation_add(sim, "Address Device: MTT=%d but the TT hub runs %s",
					  mtt, tth->hub->multi_tt ? "multi-TT" : "single-TT");
	} else if (tt_slot || tt_port) {
		sim_violation_add(sim, "Address Device: TT Hub Slot ID %u / TT Port %u set for a device that needs no TT",
				  tt_slot, tt_port);
	}
	/* DCBAA entry for this slot. */
	cc = XHCI_CC_PARAMETER;
	if (!sim_dma_read(sim, sim->dcbaap + 8ull * s, &out, 8, "DCBAA entry"))
		goto fail_unborrow;
	if (!out || (out & 0x3f)) {
		sim_violation_add(sim, "Address Device: DCBAA[%u] = %#llx is 0 or not 64-byte aligned",
				  s, (unsigned long long)out);
		goto fail_unborrow;
	}
	if (!sim_dma_probe(sim, out, 32ull * sim->ctx_size, true, "output Device Context"))
		goto fail_unborrow;
	if ((out >> 12) != ((out + 32ull * sim->ctx_size - 1) >> 12))
		sim_violation_add(sim, "output Device Context %#llx crosses a page boundary",
				  (unsigned long long)out);
	if (!bsr) {
		/* The controller sends SET_ADDRESS at address 0. */
		struct sim_device *other;
		cc = XHCI_CC_TRANSACTION;
		if (dev->address != 0) {
			sim_log(sim, BU_LOG_WARN,
				"Address Device slot %u: device still at address %u, does not answer at 0 (reset the port first)",
				s, dev->address);
			goto fail_unborrow;
		}
		if (dev->needs_reset) {
			sim_log(sim, BU_LOG_WARN, "Address Device slot %u: device's port was not reset",
				s);
			goto fail_unborrow;
		}
		other = sim_default_collision(sim, dev);
		if (other) {
			sim_violation_add(sim, "Address Device: two devices answer at address 0 below root port %u (ports %u and %u enabled at once)",
					  dev->root_port, dev->port, other->port);
			goto fail_unborrow;
		}
		if (!sim->cfg.no_timing_checks && dev->reset_end_ns && dev->speed != SIM_SPEED_SUPER &&
		    sim->now < dev->reset_end_ns + 10 * SIM_MS)
			sim_violation_add(sim, "SET_ADDRESS %llu us after the end of reset (USB 2.0 §7.1.7.5 TRSTRCY: 10 ms)",
					  (unsigned long long)((sim->now - dev->reset_end_ns) / SIM_US));
		struct usb_setup_packet sa = { 0, USB_REQ_SET_ADDRESS, 0, 0, 0 };
		int f = sim_dev_req_fault(dev, &sa);
		if (f == SIM_FAULT_DISCONNECT) {
			/* Pulled out during the command: no answer to SET_ADDRESS. */
			sim_log(sim, BU_LOG_INFO, "injected: %s unplugged during Address Device",
				dev->model->name);
			sl->dev = NULL;
			sim_detach(dev);
			return XHCI_CC_TRANSACTION;
		}
		if (f == SIM_FAULT_STALL || f == SIM_FAULT_XACT || f == SIM_FAULT_NAK ||
		    f == SIM_FAULT_BABBLE) {
			sim_log(sim, BU_LOG_INFO, "SET_ADDRESS failed (injected fault %d)", f);
			goto fail_unborrow;
		}
		unsigned a = 0;
		for (unsigned i = 0; i < 127 && !a; i++) {
			unsigned cand = (16 + i) % 127 + 1;
			if (!sim->addr_used[cand])
				a = cand;
		}
		sim_free_address(sim, s);
		sim->addr_used[a] = 1;
		sl->address = (uint8_t)a;
		sim_dev_set_address(dev, (uint8_t)a);
		sl->state = XHCI_SLOT_STATE_ADDRESSED;
	} else {
		sl->state = XHCI_SLOT_STATE_DEFAULT;
	}
	sl->sctx[2] = sctx[2];
	sl->sctx[3] = 0;
	sl->out_ctx = out;
	dev->slot = s;
	sim_ep_install(sim, s, 1, &nep);
	sim_write_out_slot(sim, s);
	for (unsigned d = 1; d < 32; d++)
		sim_write_out_ep(sim, s, d);
	return XHCI_CC_SUCCESS;

fail_unborrow:
	sl->dev = NULL;
fail:
	return cc;
}

/*
 * Hub fields of a Slot Context (xHCI §6.2.2) against the hub device: Number
 * of Ports, and for a high-speed hub the TT Think Time (wHubCharacteristics
 * bits 6:5) and MTT (multi-TT alternate setting selected, USB 2.0 §11.23.1);
 * a low/full-speed hub's MTT is that of the TT it sits behind.
 */
static void sim_check_hub_fields(struct sim *sim, unsigned s, const uint32_t *sctx)
{
	struct sim_device *d = sim->slot[s].dev;
	bool hub = sctx[0] & XHCI_SLOT_HUB, mtt = sctx[0] & XHCI_SLOT_MTT;
	unsigned nports = sctx[1] >> 24, ttt = (sctx[2] >> 16) & 3;

	if (!d || !hub)
		return;
	if (!d->hub) {
		sim_violation_add(sim, "slot %u: Slot Context Hub=1 but %s is not a hub", s,
				  d->model->name);
		return;
	}
	/* Checked against the hub descriptor the host read, when it read one
	 * (a hostile model's may differ from the ports it has). */
	unsigned want_ports = d->hub->desc_sent ? d->hub->desc_ports : d->model->hub_ports;
	uint16_t chars = d->hub->desc_sent ? d->hub->desc_chars : d->model->hub_chars;
	if (nports != want_ports)
		sim_violation_add(sim, "slot %u: Number of Ports %u but %s has %u", s, nports,
				  d->model->name, want_ports);
	if (d->model->hub == SIM_HUB_USB2 && d->speed == SIM_SPEED_HIGH) {
		unsigned want = (chars >> 5) & 3;
		if (ttt != want)
			sim_violation_add(sim, "slot %u: TT Think Time %u but the hub descriptor says %u",
					  s, ttt, want);
		if (mtt != d->hub->multi_tt)
			sim_violation_add(sim, "slot %u: MTT=%d but %s runs %s", s, mtt,
					  d->model->name, d->hub->multi_tt ? "multi-TT (alt 1)" : "single-TT");
	} else {
		/* A low/full-speed hub has no TT of its own, but its MTT flag
		 * follows the high-speed hub whose TT it is behind (§6.2.2). */
		unsigned ttport = 0;
		struct sim_device *tth = d->speed == SIM_SPEED_LOW || d->speed == SIM_SPEED_FULL
						 ? sim_tt_hub(d, &ttport) : NULL;
		bool want_mtt = tth && tth->hub && tth->hub->multi_tt;
		if (mtt != want_mtt || ttt)
			sim_violation_add(sim, "slot %u: MTT=%d / TTT=%u on a hub without transaction translators",
					  s, mtt, ttt);
	}
}

static unsigned sim_cmd_configure(struct sim *sim, struct sim_cmd_ctx *c)
{
	unsigned s = XHCI_TRB_GET_SLOT(c->t[3]), cc = sim_check_slot(sim, s);
	struct sim_slot *sl = &sim->slot[s];
	uint64_t ip = sim_rd64(c->t) & ~0xfull;
	uint32_t icc[8], sctx[8], d[8];
	static struct sim_ep neps[32];
	unsigned maxdci = 1;

	c->slot = s;
	if (cc != XHCI_CC_SUCCESS)
		return cc;
	if (sl->state != XHCI_SLOT_STATE_ADDRESSED && sl->state != XHCI_SLOT_STATE_CONFIGURED)
		return XHCI_CC_CONTEXT_STATE;
	if (c->t[3] & XHCI_TRB_DC) {
		for (unsigned i = 2; i < 32; i++) {
			sim_ep_disable(sim, s, i);
			sim_write_out_ep(sim, s, i);
		}
		sl->state = XHCI_SLOT_STATE_ADDRESSED;
		sl->sctx[0] = (sl->sctx[0] & ~XHCI_SLOT_ENTRIES(31)) | XHCI_SLOT_ENTRIES(1);
		sim_write_out_slot(sim, s);
		return XHCI_CC_SUCCESS;
	}
	if (!sim_check_ictx_ptr(sim, ip) ||
	    !sim_read_ctx(sim, ip, 0, icc, "Input Control Context"))
		return XHCI_CC_PARAMETER;
	uint32_t drop = icc[XHCI_ICC_DROP], add = icc[XHCI_ICC_ADD];
	if ((drop & 3) || (add & 2)) {
		sim_violation_add(sim, "Configure Endpoint: drop=%#x add=%#x (D0, D1 and A1 must be 0)",
				  drop, add);
		return XHCI_CC_PARAMETER;
	}
	if (!(add & 1))
		sim_violation_add(sim, "Configure Endpoint without A0: the Slot Context (Context Entries) is not updated");
	bool periodic_added = false;
	for (unsigned i = 2; i < 32; i++) {
		if (!(add & (1u << i)))
			continue;
		if (!sim_read_ctx(sim, ip, i + 1, d, "input Endpoint Context"))
			return XHCI_CC_PARAMETER;
		cc = sim_parse_ep(sim, s, i, d, &neps[i]);
		if (cc != XHCI_CC_SUCCESS)
			return cc;
		if ((neps[i].type & 3) == SIM_EP_ISOCH || (neps[i].type & 3) == SIM_EP_INTR)
			if (neps[i].type != XHCI_EPT_CONTROL)
				periodic_added = true;
		if (sl->ep[i].state != XHCI_EP_STATE_DISABLED && !(drop & (1u << i)))
			sim_log(sim, BU_LOG_DEBUG, "Configure Endpoint re-adds enabled DCI %u", i);
	}
	for (unsigned i = 2; i < 32; i++) {
		bool on = (sl->ep[i].state != XHCI_EP_STATE_DISABLED && !(drop & (1u << i))) ||
			  (add & (1u << i));
		if (on)
			maxdci = i;
	}
	if (add & 1) {
		if (!sim_read_ctx(sim, ip, 1, sctx, "input Slot Context"))
			return XHCI_CC_PARAMETER;
		unsigned entries = XHCI_SLOT_GET_ENTRIES(sctx[0]);
		if (entries < maxdci) {
			sim_violation_add(sim, "Configure Endpoint: Context Entries %u < highest enabled DCI %u",
					  entries, maxdci);
			return XHCI_CC_PARAMETER;
		}
		if ((sctx[0] & XHCI_SLOT_HUB) && (sctx[1] >> 24) == 0) {
			sim_violation_add(sim, "Configure Endpoint: Hub=1 with Number of Ports 0");
			return XHCI_CC_PARAMETER;
		}
		if ((sctx[2] >> 22) >= sim->nintrs) {
			sim_violation_add(sim, "Configure Endpoint: Interrupter Target %u >= MaxIntrs",
					  sctx[2] >> 22);
			return XHCI_CC_PARAMETER;
		}
		sim_check_hub_fields(sim, s, sctx);
		if (XHCI_SLOT_ROUTE(sctx[0]) != XHCI_SLOT_ROUTE(sl->sctx[0]) ||
		    ((sctx[1] >> 16) & 0xff) != ((sl->sctx[1] >> 16) & 0xff))
			sim_violation_add(sim, "Configure Endpoint: Slot Context route/root port changed (%#x/%u -> %#x/%u)",
					  XHCI_SLOT_ROUTE(sl->sctx[0]), (sl->sctx[1] >> 16) & 0xff,
					  XHCI_SLOT_ROUTE(sctx[0]), (sctx[1] >> 16) & 0xff);
	}
	if (periodic_added && sim->fault_bw) {
		sim->fault_bw = false;
		return XHCI_CC_BANDWIDTH;
	}
	/* Commit: drops, then adds. */
	for (unsigned i = 2; i < 32; i++)
		if (drop & (1u << i)) {
			sim_ep_disable(sim, s, i);
			sim_write_out_ep(sim, s, i);
		}
	for (unsigned i = 2; i < 32; i++)
		if (add & (1u << i)) {
			sim_ep_install(sim, s, i, &neps[i]);
			sim_write_out_ep(sim, s, i);
		}
	if (add & 1) {
		sl->sctx[0] = sctx[0];
		sl->sctx[1] = (sl->sctx[1] & 0x00ff0000u) | (sctx[1] & 0xff00ffffu);
		sl->sctx[2] = (sl->sctx[2] & 0xffu) | (sl->sctx[2] & 0xff00u) | (sctx[2] & 0xffff0000u);
	}
	sl->state = maxdci > 1 ? XHCI_SLOT_STATE_CONFIGURED : XHCI_SLOT_STATE_ADDRESSED;
	sim_write_out_slot(sim, s);
	return XHCI_CC_SUCCESS;
}

static unsigned sim_cmd_evaluate(struct sim *sim, struct sim_cmd_ctx *c)
{
	unsigned s = XHCI_TRB_GET_SLOT(c->t[3]), cc = sim_check_slot(sim, s);
	struct sim_slot *sl = &sim->slot[s];
	uint64_t ip = sim_rd64(c->t) & ~0xfull;
	uint32_t icc[8], sctx[8], ep0[8];

	c->slot = s;
	if (cc != XHCI_CC_SUCCESS)
		return cc;
	if (sl->state == 0)
		return XHCI_CC_CONTEXT_STATE;
	if (!sim_check_ictx_ptr(sim, ip) ||
	    !sim_read_ctx(sim, ip, 0, icc, "Input Control Context"))
		return XHCI_CC_PARAMETER;
	if (icc[XHCI_ICC_DROP] || (icc[XHCI_ICC_ADD] & ~3u) || !icc[XHCI_ICC_ADD]) {
		sim_violation_add(sim, "Evaluate Context: drop=%#x add=%#x (only A0/A1 may be set)",
				  icc[0], icc[1]);
		return XHCI_CC_PARAMETER;
	}
	if (icc[XHCI_ICC_ADD] & 1) {
		if (!sim_read_ctx(sim, ip, 1, sctx, "input Slot Context"))
			return XHCI_CC_PARAMETER;
		if ((sctx[2] >> 22) >= sim->nintrs) {
			sim_violation_add(sim, "Evaluate Context: Interrupter Target %u >= MaxIntrs",
					  sctx[2] >> 22);
			return XHCI_CC_PARAMETER;
		}
	}
	if (icc[XHCI_ICC_ADD] & 2) {
		if (!sim_read_ctx(sim, ip, 2, ep0, "input EP0 Context"))
			return XHCI_CC_PARAMETER;
		unsigned mps = ep0[1] >> 16;
		if (!sim_mps_legal(sim_slot_speed(sim, s), SIM_EP_CONTROL, mps)) {
			sim_violation_add(sim, "Evaluate Context: EP0 Max Packet Size %u not legal at this speed",
					  mps);
			return XHCI_CC_PARAMETER;
		}
	}
	if (icc[XHCI_ICC_ADD] & 1) {
		sl->sctx[1] = (sl->sctx[1] & ~0xffffu) | (sctx[1] & 0xffff);
		sl->sctx[2] = (sl->sctx[2] & 0x003fffffu) | (sctx[2] & 0xffc00000u);
		/* xHCI 0.95-style hub fields are accepted here as well. */
		sl->sctx[0] = (sl->sctx[0] & ~(XHCI_SLOT_HUB | XHCI_SLOT_MTT)) |
			      (sctx[0] & (XHCI_SLOT_HUB | XHCI_SLOT_MTT));
		if (sctx[0] & XHCI_SLOT_HUB)
			sl->sctx[1] = (sl->sctx[1] & 0x00ffffffu) | (sctx[1] & 0xff000000u);
	}
	if (icc[XHCI_ICC_ADD] & 2) {
		sl->ep[1].mps = (uint16_t)(ep0[1] >> 16);
		sim_write_out_ep(sim, s, 1);
	}
	sim_write_out_slot(sim, s);
	return XHCI_CC_SUCCESS;
}

static unsigned sim_ep_cmd_check(struct sim *sim, struct sim_cmd_ctx *c, unsigned *dci)
{
	unsigned s = XHCI_TRB_GET_SLOT(c->t[3]), cc = sim_check_slot(sim, s);

	c->slot = s;
	*dci = XHCI_TRB_GET_EP(c->t[3]);
	if (cc != XHCI_CC_SUCCESS)
		return cc;
	if (*dci == 0) {
		sim_violation_add(sim, "endpoint command with Endpoint ID 0");
		return XHCI_CC_TRB;
	}
	if (sim->slot[s].ep[*dci].state == XHCI_EP_STATE_DISABLED)
		return XHCI_CC_EP_NOT_ENABLED;
	return XHCI_CC_SUCCESS;
}

static unsigned sim_cmd_reset_ep(struct sim *sim, struct sim_cmd_ctx *c)
{
	unsigned dci, cc = sim_ep_cmd_check(sim, c, &dci);
	struct sim_ep *ep;

	if (cc != XHCI_CC_SUCCESS)
		return cc;
	ep = &sim->slot[c->slot].ep[dci];
	if (ep->state != XHCI_EP_STATE_HALTED)
		return XHCI_CC_CONTEXT_STATE;
	sim_ep_reset(sim, c->slot, dci, c->t[3] & XHCI_TRB_TSP);
	sim_write_out_ep(sim, c->slot, dci);
	return XHCI_CC_SUCCESS;
}

static unsigned sim_cmd_stop_ep(struct sim *sim, struct sim_cmd_ctx *c)
{
	unsigned dci, cc = sim_ep_cmd_check(sim, c, &dci);

	if (cc != XHCI_CC_SUCCESS)
		return cc;
	if (sim->slot[c->slot].ep[dci].state != XHCI_EP_STATE_RUNNING)
		return XHCI_CC_CONTEXT_STATE;
	sim_ep_stop(sim, c->slot, dci);
	sim_write_out_ep(sim, c->slot, dci);
	return XHCI_CC_SUCCESS;
}

static unsigned sim_cmd_set_deq(struct sim *sim, struct sim_cmd_ctx *c)
{
	unsigned dci, cc = sim_ep_cmd_check(sim, c, &dci);
	uint64_t p = sim_rd64(c->t);
	struct sim_ep *ep;

	if (cc != XHCI_CC_SUCCESS)
		return cc;
	ep = &sim->slot[c->slot].ep[dci];
	if (ep->state != XHCI_EP_STATE_STOPPED && ep->state != XHCI_EP_STATE_ERROR)
		return XHCI_CC_CONTEXT_STATE;
	if (c->t[2] >> 16) {
		sim_violation_add(sim, "Set TR Dequeue Pointer with Stream ID %u on a non-stream endpoint",
				  c->t[2] >> 16);
		return XHCI_CC_INVALID_STREAM_ID;
	}
	if ((p >> 1) & 7)
		sim_violation_add(sim, "Set TR Dequeue Pointer: SCT %u on a non-stream endpoint",
				  (unsigned)((p >> 1) & 7));
	if (!(p & ~0xfull)) {
		sim_violation_add(sim, "Set TR Dequeue Pointer to 0");
		return XHCI_CC_PARAMETER;
	}
	ep->deq = p & ~0xfull;
	ep->ccs = p & 1;
	ep->state = XHCI_EP_STATE_STOPPED;
	sim_ep_reset_engine(ep);
	sim_write_out_ep(sim, c->slot, dci);
	return XHCI_CC_SUCCESS;
}

static unsigned sim_cmd_reset_device(struct sim *sim, struct sim_cmd_ctx *c)
{
	unsigned s = XHCI_TRB_GET_SLOT(c->t[3]), cc = sim_check_slot(sim, s);
	struct sim_slot *sl = &sim->slot[s];

	c->slot = s;
	if (cc != XHCI_CC_SUCCESS)
		return cc;
	if (sl->state != XHCI_SLOT_STATE_ADDRESSED && sl->state != XHCI_SLOT_STATE_CONFIGURED)
		return XHCI_CC_CONTEXT_STATE;
	if (sl->dev && sl->dev->address != 0)
		sim_violation_add(sim, "Reset Device for slot %u but the device was not reset on the bus first (xHCI §4.6.11)",
				  s);
	for (unsigned d = 2; d < 32; d++) {
		sim_ep_disable(sim, s, d);
		sim_write_out_ep(sim, s, d);
	}
	sim_ep_reset_engine(&sl->ep[1]);
	sim_free_address(sim, s);
	sl->state = XHCI_SLOT_STATE_DEFAULT;
	sl->sctx[0] = (sl->sctx[0] & ~XHCI_SLOT_ENTRIES(31)) | XHCI_SLOT_ENTRIES(1);
	sim_write_out_slot(sim, s);
	return XHCI_CC_SUCCESS;
}

static unsigned sim_cmd_port_bw(struct sim *sim, struct sim_cmd_ctx *c)
{
	uint64_t p = sim_rd64(c->t) & ~0xfull;
	unsigned hub = XHCI_TRB_GET_SLOT(c->t[3]);
	uint8_t bw[SIM_MAX_PORTS + 1];

	if (hub && (hub > sim->nslots || !sim->slot[hub].enabled))
		return XHCI_CC_SLOT_NOT_ENABLED;
	memset(bw, 90, sizeof(bw));
	bw[0] = 0;
	if (!sim_dma_write(sim, p, bw, sim->nports + 1, "Port Bandwidth Context"))
		return XHCI_CC_PARAMETER;
	return XHCI_CC_SUCCESS;
}

/* Reserved-field checks per command type (dw0..2 unused, dw3 allowed bits). */
static void sim_cmd_rsvd(struct sim *sim, unsigned type, const uint32_t *t)
{
	uint32_t ok3 = 0xfc01;
	bool uses_param = false, uses_status = false;

	switch (type) {
	case XHCI_TRB_ENABLE_SLOT:
		ok3 |= 0x1f0000;
		break;
	case XHCI_TRB_DISABLE_SLOT:
	case XHCI_TRB_RESET_DEVICE:
		ok3 |= 0xff000000u;
		break;
	case XHCI_TRB_ADDRESS_DEVICE:
	case XHCI_TRB_CONFIGURE_EP:
		ok3 |= 0xff000000u | (1u << 9);
		uses_param = true;
		break;
	case XHCI_TRB_EVALUATE_CTX:
		ok3 |= 0xff000000u;
		uses_param = true;
		break;
	case XHCI_TRB_RESET_EP:
		ok3 |= 0xff000000u | 0x1f0000u | (1u << 9);
		break;
	case XHCI_TRB_STOP_EP:
		ok3 |= 0xff000000u | 0x1f0000u | (1u << 23);
		break;
	case XHCI_TRB_SET_TR_DEQ:
		ok3 |= 0xff000000u | 0x1f0000u;
		uses_param = uses_status = true;
		break;
	case XHCI_TRB_GET_PORT_BW:
		ok3 |= 0xff000000u | 0xf0000u;
		uses_param = true;
		break;
	default:
		break;
	}
	if ((t[3] & ~ok3) || (!uses_param && (t[0] || t[1])) || (!uses_status && t[2]))
		sim_violation_add(sim, "%s command with reserved fields set: %08x %08x %08x %08x",
				  bu_xhci_trb_type_name(type), t[0], t[1], t[2], t[3]);
}

static unsigned sim_cmd_exec(struct sim *sim, struct sim_cmd_ctx *c)
{
	unsigned type = XHCI_TRB_TYPE(c->t[3]);

	sim_cmd_rsvd(sim, type, c->t);
	switch (type) {
	case XHCI_TRB_NOOP_CMD:
		return XHCI_CC_SUCCESS;
	case XHCI_TRB_ENABLE_SLOT:
		return sim_cmd_enable_slot(sim, c);
	case XHCI_TRB_DISABLE_SLOT:
		return sim_cmd_disable_slot(sim, c);
	case XHCI_TRB_ADDRESS_DEVICE:
		return sim_cmd_address(sim, c);
	case XHCI_TRB_CONFIGURE_EP:
		return sim_cmd_configure(sim, c);
	case XHCI_TRB_EVALUATE_CTX:
		return sim_cmd_evaluate(sim, c);
	case XHCI_TRB_RESET_EP:
		return sim_cmd_reset_ep(sim, c);
	case XHCI_TRB_STOP_EP:
		return sim_cmd_stop_ep(sim, c);
	case XHCI_TRB_SET_TR_DEQ:
		return sim_cmd_set_deq(sim, c);
	case XHCI_TRB_RESET_DEVICE:
		return sim_cmd_reset_device(sim, c);
	case XHCI_TRB_GET_PORT_BW:
		return sim_cmd_port_bw(sim, c);
	default:
		sim_violation_add(sim, "command ring: TRB type %u (%s) is not a command this controller implements",
				  type, bu_xhci_trb_type_name(type));
		return XHCI_CC_TRB;
	}
}

/* ------------------------------------------------------------------------ */
/* Command ring                                                             */

static void sim_cmd_event(struct sim *sim, uint64_t ptr, unsigned cc, unsigned slot,
			  uint32_t param)
{
	uint32_t ev[4] = { (uint32_t)ptr, (uint32_t)(ptr >> 32),
			   ((uint32_t)cc << 24) | (param & 0xffffff),
			   XHCI_TRB_TYPE_SET(XHCI_TRB_CMD_COMPLETION) | XHCI_TRB_SLOT(slot) };
	sim_event_post(sim, 0, ev, false);
}

/** CRCR.CS or CA was written: stop or abort the command ring shortly. */
static void sim_crcr_stop(struct sim *sim, uint32_t lo)
{
	struct sim_cmd *cm = &sim->cmd;

	if (lo & XHCI_CRCR_CA)
		cm->abort_req = true;
	else
		cm->stop_req = true;
	sim_schedule(sim, &cm->due, sim->now + 2 * SIM_US);
}

void sim_cmd_crcr(struct sim *sim, uint32_t lo, uint32_t hi, bool hi_write)
{
	struct sim_cmd *cm = &sim->cmd;
	bool stop = lo & (XHCI_CRCR_CS | XHCI_CRCR_CA);

	/* Acted on at the low dword, or (crcr_high_latch) at the high one. */
	if (!hi_write)
		cm->crcr_lo = lo;
	if (stop && hi_write == sim->cfg.crcr_high_latch)
		sim_crcr_stop(sim, lo);
	if (!hi_write || stop)
		return; /* a stop/abort written as 64 bits: the pointer is not loaded */
	if (cm->crr) {
		sim_log(sim, BU_LOG_DEBUG, "CRCR pointer write ignored while CRR=1");
		return;
	}
	if (lo & 0x30)
		sim_violation_add(sim, "CRCR pointer %#x%08x: bits 5:4 set (command ring must be 64-byte aligned)",
				  hi, lo);
	if (hi && !(sim->hccparams1 & XHCI_HCCPARAMS1_AC64))
		sim_violation_add(sim, "CRCR high dword %#x with AC64=0", hi);
	cm->deq = (((uint64_t)hi << 32) | lo) & ~0x3full;
	cm->ccs = lo & XHCI_CRCR_RCS;
}

void sim_cmd_doorbell(struct sim *sim)
{
	struct sim_cmd *cm = &sim->cmd;

	if (!cm->deq) {
		sim_violation_add(sim, "DB0 rung but CRCR was never programmed");
		return;
	}
	cm->crr = true;
	if (!cm->busy && cm->due == SIM_NEVER)
		sim_schedule(sim, &cm->due, sim->now + 2 * SIM_US);
}

/* Fetch the next command TRB (following Link TRBs); false when empty. */
static bool sim_cmd_fetch(struct sim *sim, uint32_t t[4], uint64_t *addr)
{
	struct sim_cmd *cm = &sim->cmd;

	for (unsigned links = 0;; links++) {
		if (!sim_dma_read(sim, cm->deq, t, 16, "command ring TRB"))
			return false;
		sim_trb_readahead(sim, cm->deq);
		if ((t[3] & XHCI_TRB_C) != (cm->ccs ? 1u : 0u))
			return false;
		if (XHCI_TRB_TYPE(t[3]) != XHCI_TRB_LINK) {
			*addr = cm->deq;
			return true;
		}
		sim_trace_trb(sim, "cmd fetch", cm->deq, t);
		uint64_t target = sim_rd64(t) & ~0xfull;
		if (links >= 32) {
			sim_hc_error(sim, "more than 32 consecutive Link TRBs on the command ring");
			return false;
		}
		if (sim_rd64(t) & 0x3f)
			sim_violation_add(sim, "command ring Link TRB at %#llx points to %#llx: not 64-byte aligned",
					  (unsigned long long)cm->deq, (unsigned long long)sim_rd64(t));
		if (sim->cfg.hci_version < 0x0096 && !(t[3] & XHCI_TRB_CH))
			sim_violation_add(sim, "command ring Link TRB at %#llx without CH, which an xHCI 0.95 controller needs on every Link TRB",
					  (unsigned long long)cm->deq);
		if (t[3] & XHCI_TRB_TC)
			cm->ccs = !cm->ccs;
		cm->deq = target;
	}
}

static void sim_cmd_stopped(struct sim *sim)
{
	struct sim_cmd *cm = &sim->cmd;

	cm->crr = false;
	cm->stop_req = cm->abort_req = false;
	sim_cmd_event(sim, cm->deq, XHCI_CC_CMD_RING_STOPPED, 0, 0);
}

void sim_cmd_work(struct sim *sim)
{
	struct sim_cmd *cm = &sim->cmd;
	struct sim_cmd_ctx c;
	uint32_t t[4];
	uint64_t addr;

	if (!sim_running(sim))
		return;
	if (sim_events_paused(sim)) {
		sim_schedule(sim, &cm->due, sim->now + 20 * SIM_US);
		return;
	}
	if (cm->abort_req) {
		cm->abort_req = false;
		if (cm->busy) {
			cm->busy = false;
			cm->hanging = false;
			cm->deq += 16;
			sim_cmd_event(sim, cm->cur_addr, XHCI_CC_CMD_ABORTED, 0, 0);
			sim_cmd_stopped(sim);
		} else if (cm->crr) {
			sim_cmd_stopped(sim);
		}
		return;
	}
	if (cm->busy) {
		/* The executing command finishes now. */
		memset(&c, 0, sizeof(c));
		c.t = cm->cur;
		unsigned cc = sim_cmd_exec(sim, &c);
		cm->busy = false;
		cm->deq += 16;
		sim->st.commands++;
		sim_cmd_event(sim, cm->cur_addr, cc, c.slot, c.param);
		if (cm->stop_req) {
			sim_cmd_stopped(sim);
			return;
		}
		sim_schedule(sim, &cm->due, sim->now + 1 * SIM_US);
		return;
	}
	if (cm->stop_req) {
		if (cm->crr)
			sim_cmd_stopped(sim);
		cm->stop_req = false;
		return;
	}
	if (!cm->crr || !sim_cmd_fetch(sim, t, &addr))
		return;
	sim_trace_trb(sim, "cmd fetch", addr, t);
	memcpy(cm->cur, t, sizeof(t));
	cm->cur_addr = addr;
	cm->busy = true;
	unsigned type = XHCI_TRB_TYPE(t[3]);
	if (cm->hang_type && (cm->hang_type == 0xff || cm->hang_type == type)) {
		cm->hang_type = 0;
		cm->hanging = true;
		sim_log(sim, BU_LOG_INFO, "injected: command %s at %#llx hangs",
			bu_xhci_trb_type_name(type), (unsigned long long)addr);
		return;
	}
	uint64_t dur = sim->cfg.cmd_us * SIM_US;
	if (type == XHCI_TRB_ADDRESS_DEVICE && !(t[3] & XHCI_TRB_BSR))
		dur += 300 * SIM_US; /* SET_ADDRESS on the wire */
	sim_schedule(sim, &cm->due, sim->now + dur);
}
