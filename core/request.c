/*
 * Standard requests (USB 2.0 §9.4) and endpoint management on configured
 * devices: the synchronous API class drivers and applications call from
 * their own context (never from a completion callback).
 */
#include "core_priv.h"

#include "bareusb/desc.h"
#include "bareusb/util.h"

int bu_core_wait(struct bu_usb_bus *bus, const bool *done, uint32_t timeout_ms)
{
	return bu_core_wait_until(bus, done, bu_core_now(bus) + (uint64_t)timeout_ms * 1000);
}

/** Completion of a synchronous controller operation: tell its waiter. */
static void op_done(struct bu_usb_device *dev, void *ctx, int status)
{
	struct bu_core_waiter *w = bu_core_dev(dev)->waiter;

	(void)ctx;
	if (w) {
		w->status = status;
		w->done = true;
		bu_core_dev(dev)->waiter = NULL;
	}
}

/**
 * Run dev_configure synchronously. The waiter lives on this stack, not in
 * the device: a device unplugged meanwhile is freed during the wait, and
 * its removal completes the waiter with BU_ENODEV. After BU_ENODEV the
 * caller must not touch dev.
 */
static int configure_sync(struct bu_usb_device *dev, uint32_t add_mask, uint32_t drop_mask)
{
	struct bu_usb_bus *bus = dev->bus;
	struct bu_core_waiter w = { false, 0 };
	int rc;

	bu_core_dev(dev)->waiter = &w;
	rc = bus->ops->dev_configure(dev, add_mask, drop_mask, op_done, NULL);
	if (rc) {
		bu_core_dev(dev)->waiter = NULL;
		return rc;
	}
	/* Commands have their own timeout and abort; this bound is a backstop. */
	rc = bu_core_wait(bus, &w.done, 2 * BU_USB_REQUEST_TIMEOUT_MS);
	if (rc && !w.done) {
		bu_core_dev(dev)->waiter = NULL; /* not removed: removal completes w */
		return rc;
	}
	return w.status;
}

/** Reject calls on devices that cannot take requests. */
static int dev_usable(const struct bu_usb_device *dev)
{
	if (!dev)
		return BU_EINVAL;
	if (dev->state == BU_DEV_GONE)
		return BU_ENODEV;
	if (dev->bus->failed)
		return BU_ESHUTDOWN;
	/* Halted for system sleep: a command queued now would be lost with
	 * the ring the suspend restarts (bu_usb_bus_suspend). */
	if (bu_core_sleep_asleep(dev->bus))
		return BU_ESHUTDOWN;
	return 0;
}

int bu_usb_get_descriptor(struct bu_usb_device *dev, uint8_t recipient,
			  uint8_t type, uint8_t index, uint16_t w_index,
			  void *buf, uint16_t len)
{
	int rc = dev_usable(dev);

	if (rc)
		return rc;
	return bu_usb_control(dev, USB_DIR_IN | USB_TYPE_STANDARD | (recipient & 3),
			      USB_REQ_GET_DESCRIPTOR, (uint16_t)(type << 8 | index),
			      w_index, buf, len, BU_USB_REQUEST_TIMEOUT_MS);
}

/** A standard request with no data stage. */
static int std_out(struct bu_usb_device *dev, uint8_t recipient, uint8_t req,
		   uint16_t value, uint16_t index)
{
	int rc = dev_usable(dev);

	if (rc)
		return rc;
	rc = bu_usb_control(dev, USB_DIR_OUT | USB_TYPE_STANDARD | (recipient & 3),
			    req, value, index, NULL, 0, BU_USB_REQUEST_TIMEOUT_MS);
	return rc < 0 ? rc : 0;
}

/** A standard request answering one 16-bit little-endian word. */
static int std_in16(struct bu_usb_device *dev, uint8_t recipient, uint8_t req,
		    uint16_t index, uint16_t *out)
{
	struct bu_usb_dma_buf b;
	int rc = dev_usable(dev);

	if (rc)
		return rc;
	if (!out)
		return BU_EINVAL;
	/* DMA memory of its own (never the stack): a cache line nothing else uses. */
	if (bu_usb_dma_buf_alloc(dev->bus, &b, 2))
		return BU_ENOMEM;
	rc = bu_core_control(dev, USB_DIR_IN | USB_TYPE_STANDARD | (recipient & 3),
			     req, 0, index, NULL, &b, 2, BU_USB_REQUEST_TIMEOUT_MS);
	if (rc == 2)
		*out = bu_get_le16(b.cpu);
	bu_usb_dma_buf_free(dev->bus, &b);
	if (rc < 0)
		return rc;
	return rc < 2 ? BU_EPROTO : 0;
}

int bu_usb_get_status(struct bu_usb_device *dev, uint8_t recipient,
		      uint16_t index, uint16_t *status)
{
	return std_in16(dev, recipient, USB_REQ_GET_STATUS, index, status);
}

int bu_usb_clear_feature(struct bu_usb_device *dev, uint8_t recipient,
			 uint16_t feature, uint16_t index)
{
	return std_out(dev, recipient, USB_REQ_CLEAR_FEATURE, feature, index);
}

int bu_usb_set_feature(struct bu_usb_device *dev, uint8_t recipient,
		       uint16_t feature, uint16_t index)
{
	return std_out(dev, recipient, USB_REQ_SET_FEATURE, feature, index);
}

int bu_usb_synch_frame(struct bu_usb_device *dev, uint8_t ep_address,
		       uint16_t *frame)
{
	return std_in16(dev, USB_RECIP_ENDPOINT, USB_REQ_SYNCH_FRAME, ep_address, frame);
}

struct bu_usb_endpoint *bu_usb_find_endpoint(struct bu_usb_device *dev,
					     uint8_t address)
{
	unsigned idx;

	if (!dev)
		return NULL;
	if (USB_ENDPOINT_NUMBER(address) == 0)
		return &dev->ep0;
	if (address & 0x70)
		return NULL;
	idx = USB_ENDPOINT_NUMBER(address) * 2u + ((address & USB_DIR_IN) ? 1u : 0u);
	return dev->eps[idx];
}

bool bu_usb_endpoint_busy(const struct bu_usb_endpoint *ep)
{
	if (!ep || !ep->dev)
		return false;
	return ep->dev->bus->ops->ep_queued((struct bu_usb_endpoint *)ep) != 0 ||
	       bu_core_tt_waiting(ep);
}

int bu_usb_abort_endpoint(struct bu_usb_endpoint *ep)
{
	const struct bu_platform *plat;
	int n;

	if (!ep || !ep->dev)
		return BU_EINVAL;
	plat = ep->dev->bus->plat;
	if (plat->lock)
		plat->lock(plat->ctx);
	n = ep->dev->bus->ops->ep_abort(ep, BU_ECANCELED) + bu_core_pm_abort(ep, BU_ECANCELED);
	if (plat->unlock)
		plat->unlock(plat->ctx);
	return n;
}

/** Endpoint index (num*2 + IN) of an endpoint address. */
static unsigned ep_index(uint8_t address)
{
	return USB_ENDPOINT_NUMBER(address) * 2u + ((address & USB_DIR_IN) ? 1u : 0u);
}

/** The interface object for bInterfaceNumber `number`, or NULL. */
static struct bu_usb_interface *find_iface(struct bu_usb_device *dev, uint8_t number)
{
	for (unsigned i = 0; i < dev->num_ifaces; i++)
		if (dev->ifaces[i].number == number)
			return &dev->ifaces[i];
	return NULL;
}

/** The endpoint indexes of an alternate setting that are open on the device. */
static uint32_t alt_open_mask(const struct bu_usb_device *dev, const struct bu_usb_config_info *cfg,
			      const struct bu_usb_alt_info *alt)
{
	uint32_t mask = 0;

	for (unsigned i = 0; alt && i < alt->num_eps; i++) {
		const struct bu_usb_ep_info *e = bu_desc_alt_ep(cfg, alt, i);
		unsigned idx = e ? ep_index(e->address) : 0;

		if (idx >= 2 && idx < 32 && dev->eps[idx] && dev->eps[idx]->dev == dev)
			mask |= 1u << idx;
	}
	return mask;
}

/**
 * The endpoint object of index `idx` that the device's store still holds
 * for it, other than dev->eps[idx]: an endpoint set_interface or
 * set_configuration took out, kept until the controller agrees (the new
 * ones take other slots of the store), so that a failure can put it back.
 */
static struct bu_usb_endpoint *ep_kept(struct bu_usb_device *dev, unsigned idx)
{
	for (unsigned k = 0; k < BU_ARRAY_SIZE(dev->ep_store); k++) {
		struct bu_usb_endpoint *e = &dev->ep_store[k];

		if (e->dev == dev && e != dev->eps[idx] && ep_index(e->address) == idx)
			return e;
	}
	return NULL;
}

/**
 * After the controller answered a swap of endpoints: on success (rc 0)
 * the taken-out endpoints in `drop` are freed; on failure the ones in
 * `opened` are closed again and those in `drop` put back.
 */
static void ep_swap_end(struct bu_usb_device *dev, uint32_t opened, uint32_t drop, int rc)
{
	for (unsigned idx = 2; idx < 32; idx++) {
		struct bu_usb_endpoint *e;

		if (rc && (opened & (1u << idx))) {
			dev->eps[idx]->dev = NULL;
			dev->eps[idx] = NULL;
		}
		if (!(drop & (1u << idx)))
			continue;
		e = ep_kept(dev, idx);
		if (rc)
			dev->eps[idx] = e;
		else if (e)
			e->dev = NULL; /* the slot is free again */
	}
}

/* ======================================================================== */
/* SET_INTERFACE and endpoint reset, asynchronous                           */
/* ======================================================================== */

/**
 * An asynchronous SET_INTERFACE or endpoint reset: a Configure Endpoint
 * (xHCI 1.2 §4.6.6), then the standard request on EP0. Allocated at the
 * start, freed when it ends, just before its `done` runs.
 */
struct req_op {
	struct bu_usb_device *dev;
	/* SET_INTERFACE or CLEAR_FEATURE(ENDPOINT_HALT) */
	struct bu_usb_xfer xfer;
	struct bu_usb_endpoint *ep;    /* reset: the endpoint */
	struct bu_usb_interface *intf; /* set_interface: the interface */
	const struct bu_usb_alt_info *new_alt;
	uint32_t opened, drop; /* set_interface: endpoint indexes swapped */
	uint8_t alt;
	bu_usb_done_fn done; /* NULL once a synchronous caller gave up */
	void *ctx;
	uint32_t cfg_add, cfg_drop; /* its Configure Endpoint's masks */
	/* the device's operations waiting for Configure Endpoint */
	struct req_op *next;
};

/** Take `op` off its device's list of operations waiting for the controller;
 * false when it was not there. */
static bool req_op_unlink(struct req_op *op)
{
	struct req_op **pp = (struct req_op **)&bu_core_dev(op->dev)->req_ops;

	for (; *pp; pp = &(*pp)->next) {
		if (*pp == op) {
			*pp = op->next;
			op->next = NULL;
			return true;
		}
	}
	return false;
}

/** Queue the Configure Endpoint of an operation (0, or why it could not start).
 */
static int req_op_configure(struct req_op *op, uint32_t add, uint32_t drop);
/** Start the Configure Endpoint of the device's oldest operation waiting for
 * one. */
static void req_op_next(struct bu_usb_device *dev);

/** The end of an operation: free it, then tell its caller. */
static void req_op_finish(struct req_op *op, int status)
{
	struct bu_usb_device *dev = op->dev;
	bu_usb_done_fn done = op->done;
	void *ctx = op->ctx;

	bu_core_free(dev->bus, op, sizeof(*op));
	if (done)
		done(dev, ctx, status);
}

/** The standard request of an operation came back. */
static void req_op_sent(struct bu_usb_xfer *x)
{
	struct req_op *op = x->ctx;
	int rc = x->status;

	/* USB 2.0 §9.4.10: a device with only alt 0 may STALL; that is fine. */
	if (rc == BU_ESTALL && op->intf && op->alt == 0)
		rc = 0;
	req_op_finish(op, rc);
}

/** The Configure Endpoint of an operation completed: the standard request next.
 */
static void req_op_configured(struct bu_usb_device *dev, void *ctx, int status)
{
	struct req_op *op = ctx;
	struct bu_usb_xfer *x = &op->xfer;
	int rc;

	if (!req_op_unlink(op))
		return; /* ended by the device's removal already */
	req_op_next(dev);
	if (dev->state == BU_DEV_GONE) {
		req_op_finish(op, BU_ENODEV); /* its endpoints went with it */
		return;
	}
	if (op->intf) {
		/* Free the old endpoints, or put everything back as the
		 * controller still has it. */
		ep_swap_end(dev, op->opened, op->drop, status);
		if (!status) {
			op->intf->alt = op->alt;
			op->intf->info = op->new_alt;
		}
	} else if (!status) {
		op->ep->halted = false;
	}
	if (status) {
		req_op_finish(op, status);
		return;
	}
	x->ep = &dev->ep0;
	if (op->intf)
		bu_usb_setup_pack(
		    x->setup,
		    USB_DIR_OUT | USB_TYPE_STANDARD | USB_RECIP_INTERFACE,
		    USB_REQ_SET_INTERFACE, op->alt, op->intf->number, 0);
	else
		bu_usb_setup_pack(
		    x->setup,
		    USB_DIR_OUT | USB_TYPE_STANDARD | USB_RECIP_ENDPOINT,
		    USB_REQ_CLEAR_FEATURE, USB_FEATURE_ENDPOINT_HALT,
		    op->ep->address, 0);
	x->timeout_ms = BU_USB_REQUEST_TIMEOUT_MS;
	x->complete = req_op_sent;
	x->ctx = op;
	rc = bu_usb_xfer_submit(x);
	if (rc)
		req_op_finish(op, rc);
}

/*
 * A device's operations take their turns: one Configure Endpoint at a
 * time per slot (the controller driver builds each in the slot's one
 * Input Context, xHCI 1.2 §4.6.6), oldest first. The list's head is the
 * one whose command is out.
 */
static int req_op_configure(struct req_op *op, uint32_t add, uint32_t drop)
{
	struct bu_usb_device *dev = op->dev;
	struct req_op **pp = (struct req_op **)&bu_core_dev(dev)->req_ops;
	int rc;

	op->cfg_add = add;
	op->cfg_drop = drop;
	op->next = NULL;
	if (*pp) {
		while (*pp)
			pp = &(*pp)->next;
		*pp = op; /* after the ones before it */
		return 0;
	}
	*pp = op;
	rc =
	    dev->bus->ops->dev_configure(dev, add, drop, req_op_configured, op);
	if (rc)
		req_op_unlink(op);
	return rc;
}

static void req_op_next(struct bu_usb_device *dev)
{
	struct req_op *op;
	int rc;

	while ((op = bu_core_dev(dev)->req_ops) != NULL &&
	       dev->state != BU_DEV_GONE) {
		rc = dev->bus->ops->dev_configure(
		    dev, op->cfg_add, op->cfg_drop, req_op_configured, op);
		if (!rc)
			return;
		req_op_unlink(op);
		if (op->intf)
			ep_swap_end(dev, op->opened, op->drop, rc);
		req_op_finish(op, rc);
	}
}

void bu_core_req_ops_gone(struct bu_usb_device *dev)
{
	struct req_op *op;

	while ((op = bu_core_dev(dev)->req_ops) != NULL) {
		req_op_unlink(op);
		req_op_finish(op, BU_ENODEV);
	}
}

/** A new operation on `dev`, or NULL without memory. */
static struct req_op *req_op_alloc(struct bu_usb_device *dev,
				   bu_usb_done_fn done, void *ctx)
{
	struct req_op *op = bu_core_alloc(dev->bus, sizeof(*op));

	if (op) {
		op->dev = dev;
		op->done = done;
		op->ctx = ctx;
	}
	return op;
}

/** Start an endpoint reset (not EP0); *out gets the operation. */
static int reset_endpoint_start(struct bu_usb_endpoint *ep, bu_usb_done_fn done,
				void *ctx, struct req_op **out)
{
	struct bu_usb_device *dev;
	struct req_op *op;
	uint32_t mask;
	int rc;

	if (!ep || !ep->dev || ep == &ep->dev->ep0)
		return BU_EINVAL;
	dev = ep->dev;
	rc = dev_usable(dev);
	if (rc)
		return rc;
	if (bu_usb_endpoint_busy(ep))
		return BU_EBUSY;
	op = req_op_alloc(dev, done, ctx);
	if (!op)
		return BU_ENOMEM;
	op->ep = ep;
	/* Drop and add in one Configure Endpoint: the controller's sequence
	 * number/toggle restarts at 0 (xHCI §4.6.6), matching the device
	 * after CLEAR_FEATURE(ENDPOINT_HALT) (USB 2.0 §9.4.5). */
	mask = 1u << ep_index(ep->address);
	rc = req_op_configure(op, mask, mask);
	if (rc) {
		bu_core_free(dev->bus, op, sizeof(*op));
		return rc;
	}
	*out = op;
	return 0;
}

/** Start a SET_INTERFACE; *out gets the operation. */
static int set_interface_start(struct bu_usb_device *dev, uint8_t number,
			       uint8_t alt, bu_usb_done_fn done, void *ctx,
			       struct req_op **out)
{
	const struct bu_usb_config_info *cfg;
	const struct bu_usb_alt_info *new_alt;
	struct bu_usb_interface *intf;
	struct req_op *op;
	uint32_t drop = 0, opened;
	int rc = dev_usable(dev);

	if (rc)
		return rc;
	if (dev->active_config < 0)
		return BU_EINVAL;
	cfg = &dev->configs[dev->active_config];
	intf = find_iface(dev, number);
	new_alt = bu_desc_find_alt(cfg, number, alt);
	if (!intf || !new_alt)
		return BU_ENOENT;
	/* Take the old setting's endpoints out (they must be idle). */
	drop = alt_open_mask(dev, cfg, intf->info);
	for (unsigned idx = 2; idx < 32; idx++)
		if ((drop & (1u << idx)) && bu_usb_endpoint_busy(dev->eps[idx]))
			return BU_EBUSY;
	op = req_op_alloc(dev, done, ctx);
	if (!op)
		return BU_ENOMEM;
	for (unsigned idx = 2; idx < 32; idx++)
		if (drop & (1u << idx))
			dev->eps[idx] = NULL;
	opened = bu_core_open_alt(dev, cfg, new_alt);
	op->intf = intf;
	op->new_alt = new_alt;
	op->alt = alt;
	op->opened = opened;
	op->drop = drop;
	rc = req_op_configure(op, opened, drop);
	if (rc) {
		ep_swap_end(dev, opened, drop, rc);
		bu_core_free(dev->bus, op, sizeof(*op));
		return rc;
	}
	*out = op;
	return 0;
}

/** A synchronous caller's record of an operation (on its stack). */
struct req_op_wait {
	bool done;
	int status;
};

static void req_op_waited(struct bu_usb_device *dev, void *ctx, int status)
{
	struct req_op_wait *w = ctx;

	(void)dev;
	w->status = status;
	w->done = true;
}

/**
 * Wait for an operation started with req_op_waited and `w`. Its request
 * and command carry their own timeouts; a failed controller gives
 * everything back. After BU_ENODEV the device is gone.
 */
static int req_op_wait(struct bu_usb_bus *bus, struct req_op *op,
		       struct req_op_wait *w)
{
	int rc = 0;

	while (!w->done && rc != BU_ESHUTDOWN)
		rc = bu_core_wait(bus, &w->done, 2 * BU_USB_REQUEST_TIMEOUT_MS);
	if (!w->done) {
		op->done = NULL; /* its end must not reach this stack */
		return rc;
	}
	return w->status;
}

/** bu_usb_reset_endpoint under the lock. */
static int reset_endpoint(struct bu_usb_endpoint *ep)
{
	struct req_op_wait w = {false, 0};
	struct bu_usb_bus *bus = ep->dev->bus;
	struct req_op *op;
	int rc;

	if (ep == &ep->dev->ep0) {
		rc = dev_usable(ep->dev);
		if (!rc && bu_usb_endpoint_busy(ep))
			rc = BU_EBUSY;
		/* EP0 clears its halt on the next SETUP (USB 2.0 §8.5.3.4). */
		return rc;
	}
	rc = reset_endpoint_start(ep, req_op_waited, &w, &op);
	return rc ? rc : req_op_wait(bus, op, &w);
}

/** bu_usb_set_interface under the lock. */
static int set_interface(struct bu_usb_device *dev, uint8_t number, uint8_t alt)
{
	struct req_op_wait w = {false, 0};
	struct bu_usb_bus *bus = dev->bus;
	struct req_op *op;
	int rc = set_interface_start(dev, number, alt, req_op_waited, &w, &op);

	return rc ? rc : req_op_wait(bus, op, &w);
}

/** bu_usb_set_configuration under the lock. */
static int set_configuration(struct bu_usb_device *dev, uint8_t value)
{
	uint32_t drop = 0, opened = 0;
	int ci = -1, old_ci, rc = dev_usable(dev);

	if (rc)
		return rc;
	if (dev->state != BU_DEV_CONFIGURED)
		return BU_EBUSY;
	for (unsigned i = 0; i < dev->num_configs; i++)
		if (dev->configs[i].value == value)
			ci = (int)i;
	if (value && ci < 0)
		return BU_ENOENT;
	for (unsigned idx = 2; idx < 32; idx++)
		if (dev->eps[idx] && bu_usb_endpoint_busy(dev->eps[idx]))
			return BU_EBUSY;
	bu_core_unbind_device(dev);
	dev->num_ifaces = 0;
	/* Keep the old endpoints' objects until the controller agrees: the
	 * new ones take other slots, so a failure can put everything back. */
	for (unsigned idx = 2; idx < 32; idx++) {
		if (dev->eps[idx])
			drop |= 1u << idx;
		dev->eps[idx] = NULL;
	}
	old_ci = dev->active_config;
	dev->active_config = ci;
	if (ci >= 0) {
		const struct bu_usb_config_info *cfg = &dev->configs[ci];

		for (unsigned a = 0; a < cfg->num_alts; a++)
			if (cfg->alts[a].alt == 0)
				opened |= bu_core_open_alt(dev, cfg, &cfg->alts[a]);
	}
	rc = configure_sync(dev, opened, drop);
	if (rc == BU_ENODEV)
		return rc; /* unplugged: dev is gone */
	ep_swap_end(dev, opened, drop, rc);
	if (rc) {
		dev->active_config = old_ci;
		bu_core_bind_device(dev);
		return rc;
	}
	rc = bu_usb_control(dev, USB_DIR_OUT | USB_TYPE_STANDARD | USB_RECIP_DEVICE,
			    USB_REQ_SET_CONFIGURATION, value, 0, NULL, 0, BU_USB_REQUEST_TIMEOUT_MS);
	if (rc < 0)
		return rc;
	dev->config_value = value;
	if (ci >= 0)
		bu_core_bind_device(dev);
	return 0;
}

/*
 * The public entry points above, under the bus's lock (platform.h): the
 * waits inside let go of it around the wait hook. After BU_ENODEV the
 * device is gone, so the bus is taken before.
 */
int bu_usb_reset_endpoint(struct bu_usb_endpoint *ep)
{
	int rc = BU_EINVAL;

	if (ep && ep->dev)
		BU_UNDER_LOCK(ep->dev->bus, rc = reset_endpoint(ep));
	return rc;
}

int bu_usb_set_interface(struct bu_usb_device *dev, uint8_t number, uint8_t alt)
{
	int rc = BU_EINVAL;

	if (dev)
		BU_UNDER_LOCK(dev->bus, rc = set_interface(dev, number, alt));
	return rc;
}

int bu_usb_reset_endpoint_async(struct bu_usb_endpoint *ep, bu_usb_done_fn done,
				void *ctx)
{
	struct req_op *op;
	int rc = BU_EINVAL;

	if (ep && ep->dev)
		BU_UNDER_LOCK(ep->dev->bus,
			      rc = reset_endpoint_start(ep, done, ctx, &op));
	return rc;
}

int bu_usb_set_interface_async(struct bu_usb_device *dev, uint8_t number,
			       uint8_t alt, bu_usb_done_fn done, void *ctx)
{
	struct req_op *op;
	int rc = BU_EINVAL;

	if (dev)
		BU_UNDER_LOCK(dev->bus, rc = set_interface_start(
					    dev, number, alt, done, ctx, &op));
	return rc;
}

int bu_usb_set_configuration(struct bu_usb_device *dev, uint8_t value)
{
	int rc = BU_EINVAL;

	if (dev)
		BU_UNDER_LOCK(dev->bus, rc = set_configuration(dev, value));
	return rc;
}

/* ======================================================================== */
/* Synchronous transfers                                                    */
/* ======================================================================== */

/*
 * After its deadline a transfer is cancelled (check_timeouts in bus.c) and
 * comes back once the controller let go of it. The controller driver
 * bounds that: a Stop Endpoint that does not complete is aborted after
 * its command timeout, and an abort that does not complete fails the
 * controller, which gives every transfer back. This is the wait allowed
 * for it before saying so in the log and waiting on.
 */
#define SYNC_CANCEL_WAIT_MS (3u * BU_USB_REQUEST_TIMEOUT_MS)

int bu_core_xfer_wait(struct bu_usb_endpoint *ep, const uint8_t *setup, void *buf, size_t len,
		      uint32_t timeout_ms, size_t *actual)
{
	struct bu_usb_bus *bus = ep->dev->bus;
	struct bu_core_sync *s = bu_core_sync_alloc(bus);
	struct bu_usb_xfer *xfer;
	int rc;

	if (!s)
		return BU_ENOMEM;
	xfer = &s->xfer;
	xfer->ep = ep;
	if (setup)
		bu_memcpy(xfer->setup, setup, sizeof(xfer->setup));
	xfer->buf = buf;
	xfer->len = len;
	xfer->timeout_ms = timeout_ms ? timeout_ms : BU_USB_REQUEST_TIMEOUT_MS;
	rc = bu_usb_xfer_submit(xfer);
	if (rc) {
		s->done = true; /* never the controller's */
		bu_core_sync_free(s);
		return rc;
	}
	/* The transfer's own deadline cancels it (BU_ETIMEDOUT); then wait
	 * for it to come back, however long the controller takes to let go:
	 * until then it may still touch buf. An unplug completes it too
	 * (BU_ENODEV), with the device freed after: only bus and the
	 * transfer's results are used from here on. */
	rc = bu_core_wait(bus, &s->done, xfer->timeout_ms);
	/* A failed controller gave everything back; one that did not is
	 * halted and moves no data any more (xHCI 1.2 §5.4.2). */
	while (!s->done && rc != BU_ESHUTDOWN) {
		rc = bu_core_wait(bus, &s->done, SYNC_CANCEL_WAIT_MS);
		if (!s->done && rc != BU_ESHUTDOWN)
			bu_core_log(bus, BU_LOG_WARN,
				    "transfer on ep 0x%02x not back %u ms after its deadline",
				    xfer->ep->address, SYNC_CANCEL_WAIT_MS);
	}
	if (!s->done) {
		bu_core_sync_free(s); /* left to its completion */
		return BU_ESHUTDOWN;
	}
	*actual = xfer->actual;
	rc = xfer->status;
	bu_core_sync_free(s);
	return rc;
}

/** bu_usb_bulk and bu_usb_interrupt: one transfer on an endpoint of `type`, waited for. */
static int sync_xfer(struct bu_usb_device *dev, uint8_t ep_address, uint8_t type, void *buf,
		     size_t len, size_t *actual, uint32_t timeout_ms)
{
	struct bu_usb_endpoint *ep;
	size_t moved = 0;
	int rc;

	if (actual)
		*actual = 0;
	if (!dev || (len && !buf))
		return BU_EINVAL;
	rc = dev_usable(dev);
	if (rc)
		return rc;
	if (bu_core_in_callback(dev->bus))
		return BU_EBUSY; /* its poll would run inside the poll that called it */
	if (USB_ENDPOINT_NUMBER(ep_address) == 0 || (ep_address & 0x70))
		return BU_EINVAL;
	ep = bu_usb_find_endpoint(dev, ep_address);
	if (!ep)
		return BU_ENOENT;
	if (ep->type != type)
		return BU_EINVAL;
	rc = bu_core_xfer_wait(ep, NULL, buf, len, timeout_ms, &moved);
	if (actual)
		*actual = moved;
	return rc;
}

int bu_usb_bulk(struct bu_usb_device *dev, uint8_t ep_address, void *buf, size_t len,
		size_t *actual, uint32_t timeout_ms)
{
	return sync_xfer(dev, ep_address, BU_EP_BULK, buf, len, actual, timeout_ms);
}

int bu_usb_interrupt(struct bu_usb_device *dev, uint8_t ep_address, void *buf, size_t len,
		     size_t *actual, uint32_t timeout_ms)
{
	return sync_xfer(dev, ep_address, BU_EP_INTERRUPT, buf, len, actual, timeout_ms);
}

uint32_t bu_usb_frame_number(struct bu_usb_bus *bus)
{
	uint32_t f;

	bu_usb_bus_lock(bus);
	f = bus->ops->frame_number(bus) & 0x7ff;
	/* The controller counts 11 bits; carry the wraps in frame_hi. */
	if (f < bus->core->frame_last)
		bus->core->frame_hi += 0x800;
	bus->core->frame_last = f;
	f |= bus->core->frame_hi;
	bu_usb_bus_unlock(bus);
	return f;
}
