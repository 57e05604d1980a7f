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

/** bu_usb_reset_endpoint under the lock. */
static int reset_endpoint(struct bu_usb_endpoint *ep)
{
	struct bu_usb_device *dev;
	int rc;

	if (!ep || !ep->dev)
		return BU_EINVAL;
	dev = ep->dev;
	rc = dev_usable(dev);
	if (rc)
		return rc;
	if (bu_usb_endpoint_busy(ep))
		return BU_EBUSY;
	if (ep == &dev->ep0)
		return 0; /* EP0 clears its halt on the next SETUP (USB 2.0 §8.5.3.4) */
	/* Drop and add in one Configure Endpoint: the controller's sequence
	 * number/toggle restarts at 0 (xHCI §4.6.6), matching the device
	 * after CLEAR_FEATURE(ENDPOINT_HALT) (USB 2.0 §9.4.5). */
	rc = configure_sync(dev, 1u << ep_index(ep->address), 1u << ep_index(ep->address));
	if (rc)
		return rc; /* BU_ENODEV: dev and ep are gone */
	ep->halted = false;
	return bu_usb_clear_feature(dev, USB_RECIP_ENDPOINT, USB_FEATURE_ENDPOINT_HALT,
				    ep->address);
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

/** bu_usb_set_interface under the lock. */
static int set_interface(struct bu_usb_device *dev, uint8_t number, uint8_t alt)
{
	const struct bu_usb_config_info *cfg;
	const struct bu_usb_alt_info *new_alt;
	struct bu_usb_interface *intf;
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
	for (unsigned idx = 2; idx < 32; idx++)
		if (drop & (1u << idx))
			dev->eps[idx] = NULL;
	opened = bu_core_open_alt(dev, cfg, new_alt);
	rc = configure_sync(dev, opened, drop);
	if (rc == BU_ENODEV)
		return rc; /* unplugged: dev is gone */
	/* Free the old endpoints, or put everything back as the controller
	 * still has it. */
	ep_swap_end(dev, opened, drop, rc);
	if (rc)
		return rc;
	intf->alt = alt;
	intf->info = new_alt;
	rc = bu_usb_control(dev, USB_DIR_OUT | USB_TYPE_STANDARD | USB_RECIP_INTERFACE,
			    USB_REQ_SET_INTERFACE, alt, number, NULL, 0, BU_USB_REQUEST_TIMEOUT_MS);
	/* USB 2.0 §9.4.10: a device with only alt 0 may STALL; that is fine. */
	if (rc == BU_ESTALL && alt == 0)
		rc = 0;
	return rc < 0 ? rc : 0;
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
