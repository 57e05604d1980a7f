/*
 * xHCI slots and devices: a device's Device Slot (§4.5.3), its Output
 * Device Context in the DCBAA and the Input Context the driver fills for
 * Address Device, Evaluate Context and Configure Endpoint (§6.2: Slot
 * Context, Endpoint Context, Input Control Context), the per-endpoint state
 * and Transfer Ring each endpoint gets, and the slot commands: Enable Slot,
 * Address Device, Evaluate Context, Configure Endpoint, Disable Slot
 * (§4.6.3 to §4.6.7).
 *
 * Reading order: endpoint and slot memory, context fillers, then the
 * device operations in the order a device lives: enable, address, update
 * EP0, configure, disable.
 */
#include "xhci_priv.h"

#include "bareusb/errors.h"
#include "bareusb/util.h"
#include "xhci_trace.h"

/* ======================================================================== */
/* Endpoint and slot memory                                                 */
/* ======================================================================== */

/** Free an endpoint's ring and state (not linked into the slot). */
static void ep_release(struct xhci *x, struct xhci_ep *ep)
{
	bu_xhci_ring_free(x, &ep->ring);
	bu_xhci_free(x, ep, sizeof(*ep));
}

/** Free the endpoint at `dci` of a slot and unlink it from the core's. */
static void ep_free(struct xhci *x, struct xhci_dev *d, unsigned dci)
{
	struct xhci_ep *ep = d->eps[dci];

	if (!ep)
		return;
	if (ep->uep)
		ep->uep->hc_priv = NULL;
	ep_release(x, ep);
	d->eps[dci] = NULL;
}

/** Allocate an endpoint's state and Transfer Ring at `dci` of a slot. */
static struct xhci_ep *ep_alloc(struct xhci *x, struct xhci_dev *d,
				struct bu_usb_endpoint *uep, unsigned dci)
{
	struct xhci_ep *ep = bu_xhci_zalloc(x, sizeof(*ep));

	if (!ep)
		return NULL;
	if (bu_xhci_ring_alloc(x, &ep->ring, x->opts.xfer_ring_trbs)) {
		bu_xhci_free(x, ep, sizeof(*ep));
		return NULL;
	}
	ep->ring.link_chain = bu_xhci_ring_link_chain(x->hciversion, x->quirks,
						      uep->type == BU_EP_ISOCH);
	ep->dev = d;
	ep->uep = uep;
	ep->dci = dci;
	ep->type = uep->type;
	ep->in = (uep->address & USB_DIR_IN) != 0;
	d->eps[dci] = ep;
	uep->hc_priv = ep;
	return ep;
}

/** Put the endpoint a Configure Endpoint replaced back at `dci`. */
static void ep_restore_old(struct xhci_dev *d, unsigned dci)
{
	struct xhci_ep *old = d->old_eps[dci];

	d->old_eps[dci] = NULL;
	if (!old)
		return;
	d->eps[dci] = old;
	if (old->uep)
		old->uep->hc_priv = old;
}

/** Set a slot's DCBAA entry (§6.1) and hand it to the controller. */
static void dcbaa_set(struct xhci *x, unsigned slot, uint64_t out_bus)
{
	x->dcbaa[slot] = bu_cpu_to_le64(out_bus);
	xhci_sync_dev(x, &x->dcbaa[slot], x->dcbaa_bus + 8u * slot, 8, BU_DMA_TO_DEVICE);
}

/** Free a slot's driver state (contexts, rings) and its DCBAA entry. */
static void dev_free(struct xhci *x, struct xhci_dev *d)
{
	for (unsigned dci = 1; dci < 32; dci++) {
		ep_free(x, d, dci);
		if (d->old_eps[dci]) {
			ep_release(x, d->old_eps[dci]);
			d->old_eps[dci] = NULL;
		}
	}
	if (d->slot) {
		dcbaa_set(x, d->slot, 0);
		x->slots[d->slot] = NULL;
	}
	bu_xhci_dma_free(x, d->out_ctx, d->out_bus, 32 * x->csz);
	bu_xhci_dma_free(x, d->in_ctx, d->in_bus, 33 * x->csz);
	if (d->udev)
		d->udev->hc_priv = NULL;
	bu_xhci_cmd_forget_dev(x, d);
	bu_xhci_free(x, d, sizeof(*d));
}

/* ======================================================================== */
/* Contexts (§6.2)                                                          */
/* ======================================================================== */

/** Fill the Endpoint Context (Input Context entry) of an endpoint (§6.2.3). */
static void ep_ctx_fill(struct xhci *x, struct xhci_dev *d, struct xhci_ep *ep)
{
	struct bu_usb_endpoint *u = ep->uep;
	enum bu_usb_speed speed = d->udev->speed;
	uint32_t *c = xhci_in_ctx(x, d, ep->dci + 1);
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
		bu_xhci_log(x, BU_LOG_WARN,
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

/** The Slot Context Speed (a PSIV) for `speed`: the default mapping (§7.2.2.1.1). */
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

/** Fill the Input Slot Context from the core's device description (§6.2.2). */
static void slot_ctx_fill(struct xhci *x, struct xhci_dev *d, unsigned entries)
{
	struct bu_usb_device *u = d->udev;
	uint32_t *s = xhci_in_ctx(x, d, 1);
	struct bu_usb_device *tt = u->tt_hub;
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
		d2 |= XHCI_SLOT_TT_SLOT(tt->slot) | XHCI_SLOT_TT_PORT(u->tt_port);
		if (tt->hub_mtt)
			d0 |= XHCI_SLOT_MTT;
	}
	bu_memset(s, 0, x->csz);
	s[0] = bu_cpu_to_le32(d0);
	s[1] = bu_cpu_to_le32(d1);
	s[2] = bu_cpu_to_le32(d2);
}

/** Clear the Input Control Context and set its Add and Drop flags (§6.2.5.1). */
static void icc_set(struct xhci *x, struct xhci_dev *d, uint32_t add, uint32_t drop)
{
	uint32_t *icc = xhci_in_ctx(x, d, 0);

	bu_memset(icc, 0, x->csz);
	icc[XHCI_ICC_DROP] = bu_cpu_to_le32(drop);
	icc[XHCI_ICC_ADD] = bu_cpu_to_le32(add);
}

/* ======================================================================== */
/* Context dumps                                                            */
/* ======================================================================== */

/** Read `n` little-endian context dwords into host order. */
static void ctx_dwords(const uint32_t *ctx, uint32_t *dw, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		dw[i] = bu_le32_to_cpu(ctx[i]);
}

/** Log one Endpoint Context, named by DCI and endpoint address. */
static void ep_ctx_log(struct xhci *x, struct xhci_dev *d, enum bu_log_level level,
		       unsigned dci, const uint32_t *ctx)
{
	char *buf = x->trb_text; /* not on the stack: this runs under commands */
	uint32_t dw[5];

	ctx_dwords(ctx, dw, 5);
	bu_xhci_ep_ctx_decode(dw, buf, sizeof(x->trb_text));
	bu_xhci_log(x, level, "slot %u   DCI %u (ep 0x%02x): %s", d->slot, dci,
		    bu_xhci_dci_ep_address(dci), buf);
}

void bu_xhci_ctx_log(struct xhci *x, struct xhci_dev *d, enum bu_log_level level,
		     const char *what, bool input)
{
	char *buf = x->trb_text; /* not on the stack: this runs under commands */
	uint32_t dw[8];
	uint32_t add = ~0u;

	if (input) {
		ctx_dwords(xhci_in_ctx(x, d, 0), dw, 8);
		add = dw[XHCI_ICC_ADD];
		bu_xhci_icc_decode(dw, buf, sizeof(x->trb_text));
		bu_xhci_log(x, level, "slot %u %s, Input Context: %s", d->slot, what, buf);
	} else {
		xhci_out_ctx_sync(x, d);
		bu_xhci_log(x, level, "slot %u %s, Output Device Context:", d->slot, what);
	}
	ctx_dwords(input ? xhci_in_ctx(x, d, 1) : xhci_out_ctx(x, d, 0), dw, 4);
	bu_xhci_slot_ctx_decode(dw, buf, sizeof(x->trb_text));
	bu_xhci_log(x, level, "slot %u   slot: %s", d->slot, buf);
	for (unsigned dci = 1; dci < 32; dci++) {
		const uint32_t *c = input ? xhci_in_ctx(x, d, dci + 1) : xhci_out_ctx(x, d, dci);

		/* Input: the contexts added; output: every endpoint not Disabled. */
		if (input ? (add >> dci & 1) != 0
			  : XHCI_EP_GET_STATE(bu_le32_to_cpu(c[0])) != XHCI_EP_STATE_DISABLED)
			ep_ctx_log(x, d, level, dci, c);
	}
}

/* ======================================================================== */
/* Slot commands                                                            */
/* ======================================================================== */

/** Queue an Input Context command (Address Device, Evaluate Context, Configure Endpoint). */
static int ctx_cmd(struct xhci *x, struct xhci_dev *d, unsigned trb_type,
		   xhci_cmd_done_fn *cmd_done, bu_usb_done_fn done, void *ctx)
{
	if (xhci_tracing(x, BU_XHCI_TRACE_CMD, d->slot, 0))
		bu_xhci_ctx_log(x, d, BU_LOG_TRACE, bu_xhci_trb_type_name(trb_type), true);
	/* The controller reads the Input Context when it runs the command. */
	xhci_sync_dev(x, d->in_ctx, d->in_bus, 33 * x->csz, BU_DMA_TO_DEVICE);
	return bu_xhci_cmd_submit(x, d->in_bus,
				  XHCI_TRB_TYPE_SET(trb_type) | XHCI_TRB_SLOT(d->slot),
				  cmd_done, d, NULL, done, ctx);
}

/** Queue Disable Slot for `slot`; `dev` and the callbacks may be NULL. */
static int disable_slot(struct xhci *x, unsigned slot, xhci_cmd_done_fn *cmd_done,
			struct xhci_dev *dev, bu_usb_done_fn done, void *ctx)
{
	return bu_xhci_cmd_submit(x, 0,
				  XHCI_TRB_TYPE_SET(XHCI_TRB_DISABLE_SLOT) | XHCI_TRB_SLOT(slot),
				  cmd_done, dev, NULL, done, ctx);
}

/** A command's completion code as a project error (a timeout is BU_ETIMEDOUT). */
static int cmd_err(unsigned cc)
{
	if (cc == XHCI_CC_CMD_ABORTED)
		return BU_ETIMEDOUT;
	return cc == XHCI_CC_SUCCESS ? 0 : bu_xhci_cc_to_err(cc);
}

/** Generic completion for device commands: report to the core. */
static void dev_cmd_done(struct xhci *x, struct xhci_cmd *cmd, unsigned cc,
			 unsigned slot)
{
	(void)x, (void)slot;
	if (cmd->user_done && cmd->dev && cmd->dev->udev)
		cmd->user_done(cmd->dev->udev, cmd->user_ctx, cmd_err(cc));
}

static void dev_release(struct xhci *x, struct xhci_dev *d, int status);

/** Enable Slot completion: allocate contexts and EP0 for the new slot. */
static void enable_slot_done(struct xhci *x, struct xhci_cmd *cmd, unsigned cc,
			     unsigned slot)
{
	struct xhci_dev *d = cmd->dev;
	struct bu_usb_device *u = d->udev;
	int err = 0;

	if (d->disabling) {
		/* The device went away while the command ran: give the slot
		 * straight back. No ring of it exists, so nothing waits. */
		if (cc == XHCI_CC_SUCCESS && slot >= 1 && slot <= x->max_slots)
			disable_slot(x, slot, NULL, NULL, NULL, NULL);
		dev_release(x, d, 0);
		return;
	}
	if (cc != XHCI_CC_SUCCESS) {
		err = cmd_err(cc);
		goto err_cmd;
	}
	if (slot < 1 || slot > x->max_slots || x->slots[slot]) {
		bu_xhci_log(x, BU_LOG_ERR, "Enable Slot returned bad slot %u", slot);
		err = BU_EIO;
		goto err_cmd;
	}
	d->slot = slot;
	x->slots[slot] = d;
	d->out_ctx = bu_xhci_dma_zalloc(x, 32 * x->csz, 64, x->page_size, &d->out_bus);
	d->in_ctx = bu_xhci_dma_zalloc(x, 33 * x->csz, 64, x->page_size, &d->in_bus);
	if (!d->out_ctx || !d->in_ctx || !ep_alloc(x, d, &u->ep0, 1)) {
		err = BU_ENOMEM;
		goto err_alloc;
	}
	dcbaa_set(x, slot, d->out_bus);
	u->slot = (uint8_t)slot;
	cmd->user_done(u, cmd->user_ctx, 0);
	return;

err_alloc:
	/* Give the slot back; its completion needs no callback. */
	disable_slot(x, slot, NULL, NULL, NULL, NULL);
err_cmd:
	u->hc_priv = NULL;
	dev_free(x, d);
	cmd->user_done(u, cmd->user_ctx, err);
}

int bu_xhci_dev_enable(struct bu_usb_device *u, bu_usb_done_fn done, void *ctx)
{
	struct xhci *x = bus_xhci(u->bus);
	const struct xhci_protocol *p = bu_xhci_port_protocol(x, u->root_port);
	struct xhci_dev *d;
	int rc;

	if (u->hc_priv)
		return BU_EBUSY;
	d = bu_xhci_zalloc(x, sizeof(*d));
	if (!d)
		return BU_ENOMEM;
	d->udev = u;
	u->hc_priv = d;
	rc = bu_xhci_cmd_submit(x, 0,
				XHCI_TRB_TYPE_SET(XHCI_TRB_ENABLE_SLOT) |
					XHCI_TRB_SLOT_TYPE(p ? p->slot_type : 0),
				enable_slot_done, d, NULL, done, ctx);
	if (rc) {
		u->hc_priv = NULL;
		bu_xhci_free(x, d, sizeof(*d));
	}
	return rc;
}

/** Address Device completion: read back the assigned address. */
static void address_done(struct xhci *x, struct xhci_cmd *cmd, unsigned cc,
			 unsigned slot)
{
	struct xhci_dev *d = cmd->dev;

	if (cc == XHCI_CC_SUCCESS) {
		uint32_t s3;

		xhci_out_ctx_sync(x, d);
		s3 = bu_le32_to_cpu(xhci_out_ctx(x, d, 0)[3]);

		bu_xhci_log(x, BU_LOG_DEBUG, "slot %u has address %u", d->slot,
			    XHCI_SLOT_GET_ADDR(s3));
		if (d->udev) /* the core names it in hub requests (CLEAR_TT_BUFFER) */
			d->udev->address = (uint8_t)XHCI_SLOT_GET_ADDR(s3);
	}
	dev_cmd_done(x, cmd, cc, slot);
}

int bu_xhci_dev_address(struct bu_usb_device *u, bu_usb_done_fn done, void *ctx)
{
	struct xhci *x = bus_xhci(u->bus);
	struct xhci_dev *d = u->hc_priv;

	if (!d || !d->slot || !d->eps[1])
		return BU_EINVAL;
	/* QEMU insists on exactly A0|A1 here (and so does §4.6.5). */
	icc_set(x, d, 0x3, 0);
	slot_ctx_fill(x, d, 1);
	ep_ctx_fill(x, d, d->eps[1]);
	return ctx_cmd(x, d, XHCI_TRB_ADDRESS_DEVICE, address_done, done, ctx);
}

int bu_xhci_dev_update_ep0(struct bu_usb_device *u, bu_usb_done_fn done, void *ctx)
{
	struct xhci *x = bus_xhci(u->bus);
	struct xhci_dev *d = u->hc_priv;
	struct xhci_ring *r;

	if (!d || !d->slot || !d->eps[1])
		return BU_EINVAL;
	r = &d->eps[1]->ring;
	icc_set(x, d, 0x2, 0);
	ep_ctx_fill(x, d, d->eps[1]);
	/* The TR dequeue pointer is not evaluated (§6.2.3.3), but keep the
	 * context honest: point it at the ring's current enqueue position. */
	xhci_in_ctx(x, d, 2)[2] = bu_cpu_to_le32((uint32_t)xhci_ring_addr(r, r->enq) |
						 xhci_ring_cycle(r, r->enq));
	return ctx_cmd(x, d, XHCI_TRB_EVALUATE_CTX, dev_cmd_done, done, ctx);
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
	uint32_t add = bu_le32_to_cpu(xhci_in_ctx(x, d, 0)[XHCI_ICC_ADD]);

	for (unsigned dci = 2; dci < 32; dci++) {
		struct xhci_ep *old = d->old_eps[dci];

		if (cc == XHCI_CC_SUCCESS) {
			d->old_eps[dci] = NULL;
			if (old) {
				/* Its core endpoint may live on: forget each other. */
				if (old->uep && old->uep->hc_priv == old)
					old->uep->hc_priv = NULL;
				old->uep = NULL;
				ep_release(x, old);
			}
			continue;
		}
		if (add & (1u << dci))
			ep_free(x, d, dci);
		ep_restore_old(d, dci);
	}
	dev_cmd_done(x, cmd, cc, slot);
}

/**
 * Build the Input Context of a Configure Endpoint: endpoints in `drop` are
 * dropped (kept in old_eps until the command completes); the core's
 * endpoints in `want` are added with a fresh ring. Sets *add to the Add
 * flags, also on failure, for the caller to undo.
 */
static int configure_prepare(struct xhci *x, struct xhci_dev *d, uint32_t drop, uint32_t want,
			     uint32_t *add)
{
	struct bu_usb_device *u = d->udev;
	unsigned entries = 1;

	*add = 1; /* A0: the Slot Context */
	for (unsigned dci = 2; dci < 32; dci++) {
		struct bu_usb_endpoint *e = u->eps[dci];

		if ((drop & (1u << dci)) && d->eps[dci]) {
			d->old_eps[dci] = d->eps[dci];
			d->eps[dci] = NULL;
			if (e && e->hc_priv == d->old_eps[dci])
				e->hc_priv = NULL;
		}
		if (e && (want & (1u << dci))) {
			if (!ep_alloc(x, d, e, dci))
				return BU_ENOMEM;
			ep_ctx_fill(x, d, d->eps[dci]);
			*add |= 1u << dci;
		}
		if (e)
			entries = dci;
	}
	icc_set(x, d, *add, drop);
	slot_ctx_fill(x, d, entries);
	return 0;
}

/**
 * ops.dev_configure: endpoints in `drop_mask` are dropped, those in
 * `add_mask` added with a fresh ring (which resets their sequence state).
 */
int bu_xhci_dev_configure(struct bu_usb_device *u, uint32_t add_mask, uint32_t drop_mask,
			  bu_usb_done_fn done, void *ctx)
{
	struct xhci *x = bus_xhci(u->bus);
	struct xhci_dev *d = u->hc_priv;
	uint32_t add, drop = drop_mask & ~3u;
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

		/* Adding an endpoint the slot has, without dropping it first. */
		if ((add_mask & ~drop & (1u << dci)) && d->eps[dci])
			return BU_EINVAL;
		if ((add_mask & (1u << dci)) && !e)
			return BU_EINVAL;
	}
	rc = configure_prepare(x, d, drop, add_mask & ~3u, &add);
	if (!rc)
		rc = ctx_cmd(x, d, XHCI_TRB_CONFIGURE_EP, configure_done, done, ctx);
	if (!rc)
		return 0;
	for (unsigned dci = 2; dci < 32; dci++) {
		if (add & (1u << dci))
			ep_free(x, d, dci);
		ep_restore_old(d, dci);
	}
	return rc;
}

/* ======================================================================== */
/* Disable: transfers go back once the controller let go of them (§4.6.4)    */
/* ======================================================================== */

/** Forget the core's device: from now on no command completion reaches it. */
static void dev_forget(struct xhci_dev *d, struct bu_usb_device *u)
{
	d->udev = NULL;
	u->hc_priv = NULL;
	for (unsigned dci = 1; dci < 32; dci++) {
		if (d->eps[dci])
			d->eps[dci]->uep = NULL;
		if (d->old_eps[dci])
			d->old_eps[dci]->uep = NULL;
	}
}

/** Complete every transfer queued on a slot's endpoints with `status`. */
static void dev_fail_xfers(struct xhci *x, struct xhci_dev *d, int status)
{
	for (unsigned dci = 1; dci < 32; dci++)
		if (d->eps[dci])
			bu_xhci_ep_fail_all(x, d->eps[dci], status);
}

/** Put a device at the end of the controller's devices being disabled. */
static void disabling_add(struct xhci *x, struct xhci_dev *d)
{
	struct xhci_dev **pp = &x->disabling;

	while (*pp)
		pp = &(*pp)->next_disable;
	d->next_disable = NULL;
	*pp = d;
}

/** Take a device off the controller's devices being disabled. */
static void disabling_remove(struct xhci *x, struct xhci_dev *d)
{
	for (struct xhci_dev **pp = &x->disabling; *pp; pp = &(*pp)->next_disable) {
		if (*pp == d) {
			*pp = d->next_disable;
			break;
		}
	}
	d->next_disable = NULL;
}

/**
 * The controller no longer touches a disabled device's rings and buffers:
 * give its transfers back, free its state, then tell the core (`status`
 * for its done), which may free its device.
 */
static void dev_release(struct xhci *x, struct xhci_dev *d, int status)
{
	struct bu_usb_device *u = d->gone;
	bu_usb_done_fn done = d->gone_done;
	void *ctx = d->gone_ctx;

	disabling_remove(x, d);
	dev_fail_xfers(x, d, BU_ENODEV);
	dev_free(x, d);
	done(u, ctx, status);
}

/**
 * Disable Slot completion. Success, or a slot the controller no longer
 * has, means it no longer touches the slot's rings and buffers (§4.6.4).
 * Anything else, an abort after the command timeout among it, leaves no
 * way to take them back: the controller is halted and failed (Linux, too,
 * declares the host dead when a Stop Endpoint goes unanswered:
 * xhci_stop_endpoint_command_watchdog), and everything goes back after
 * HCH=1 (bu_xhci_fail).
 */
static void disable_done(struct xhci *x, struct xhci_cmd *cmd, unsigned cc,
			 unsigned slot)
{
	struct xhci_dev *d = cmd->dev;

	(void)slot;
	if (cc == XHCI_CC_SUCCESS || cc == XHCI_CC_SLOT_NOT_ENABLED) {
		dev_release(x, d, 0);
		return;
	}
	bu_xhci_log(x, BU_LOG_ERR, "slot %u: Disable Slot: %s", d->slot,
		    bu_xhci_cc_name(cc));
	bu_xhci_fail(x, "Disable Slot did not complete");
}

/**
 * Disable the device's slot; its transfers are given back only once the
 * controller has let go of them: after Disable Slot completed (§4.6.4),
 * or after it halted (HCH=1, §5.4.2) when it failed or the bus is
 * destroyed. Until then the device keeps its rings and the core keeps its
 * device; `done` says when. A disconnected port is no exception: nothing
 * in the specification stops the endpoints of its slot (their contexts stay
 * Running), and a controller may hold TRBs and data it fetched. A failed
 * controller is already halted: everything goes back at once, and
 * BU_ESHUTDOWN says `done` will not run.
 */
int bu_xhci_dev_disable(struct bu_usb_device *u, bu_usb_done_fn done, void *ctx)
{
	struct xhci *x = bus_xhci(u->bus);
	struct xhci_dev *d = u->hc_priv;

	if (!d || !done)
		return BU_EINVAL;
	d->disabling = true;
	dev_forget(d, u);
	if (x->failed || x->pm.lost) {
		dev_fail_xfers(x, d, BU_ENODEV);
		dev_free(x, d);
		return BU_ESHUTDOWN;
	}
	d->gone = u;
	d->gone_done = done;
	d->gone_ctx = ctx;
	disabling_add(x, d);
	/* Without a slot yet, Enable Slot's completion finishes it. */
	bu_xhci_dev_disable_pending(x);
	return 0;
}

/**
 * Queue the Disable Slots still to go, oldest first, so that a hub's slot
 * goes after those of the devices below it. A full Command Ring (a big
 * subtree went at once) leaves the rest for the next poll.
 */
void bu_xhci_dev_disable_pending(struct xhci *x)
{
	for (struct xhci_dev *d = x->disabling; d && !x->failed; d = d->next_disable) {
		if (!d->slot || d->disable_queued)
			continue;
		if (disable_slot(x, d->slot, disable_done, d, NULL, NULL))
			break;
		d->disable_queued = true;
	}
}

void bu_xhci_dev_fail_all(struct xhci *x)
{
	while (x->disabling)
		dev_release(x, x->disabling, BU_ESHUTDOWN);
	for (unsigned s = 1; s <= x->max_slots; s++)
		if (x->slots[s])
			dev_fail_xfers(x, x->slots[s], BU_ESHUTDOWN);
}

void bu_xhci_dev_free_all(struct xhci *x)
{
	bu_xhci_dev_fail_all(x);
	for (unsigned s = 1; s < 256; s++)
		if (x->slots[s])
			dev_free(x, x->slots[s]);
}
