/*
 * bareusb USB core: the bus. Helpers (clock, log, allocation), transfers
 * (submit, cancel, giveback, timeouts, the synchronous control helper),
 * device lifetime (create, attach, remove), root ports, and poll.
 *
 * Everything is event-driven and runs from bu_usb_bus_poll(): each root
 * port and each device has its own small state machine, advanced by
 * controller callbacks (command and transfer completions) and by timers
 * for the delays the USB specification mandates. A device that does not
 * answer therefore delays only itself, up to its own timeout, while the
 * others enumerate. A new device's enumeration is the step table in
 * enum.c: port connect → debounce → port reset → reset recovery here,
 * then enum.c from Enable Slot to SET_CONFIGURATION.
 */
#include "core_priv.h"

#include "bareusb/assert.h"
#include "bareusb/desc.h"
#include "bareusb/msos.h"
#include "bareusb/usb.h"
#include "bareusb/util.h"

#include <stdarg.h>

#include "timing.h"


/** Device enumeration steps, in order. */

/* ======================================================================== */
/* Helpers                                                                  */
/* ======================================================================== */

uint64_t bu_core_now(struct bu_usb_bus *bus)
{
	return bus->plat->now_us(bus->plat->ctx);
}

void bu_core_log(struct bu_usb_bus *bus, enum bu_log_level level,
		 const char *fmt, ...)
{
	char line[256];
	int n;
	va_list ap;

	n = bu_snprintf(line, sizeof(line), "usb%u: ", bus->index);
	va_start(ap, fmt);
	bu_vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	va_end(ap);
	bus->plat->log(bus->plat->ctx, level, line);
}

const char *bu_core_dev_path(const struct bu_usb_device *dev, char *buf, size_t size)
{
	struct bu_strbuf sb;

	bu_strbuf_init(&sb, buf, size);
	for (unsigned i = 0; i < dev->tier && i < BU_USB_MAX_PATH; i++)
		bu_strbuf_printf(&sb, i ? ".%u" : "%u", dev->path[i]);
	return buf;
}

void *bu_core_alloc(struct bu_usb_bus *bus, size_t size)
{
	void *p = bus->plat->alloc(bus->plat->ctx, size);

	if (p)
		bu_memset(p, 0, size);
	return p;
}

void bu_core_free(struct bu_usb_bus *bus, void *p, size_t size)
{
	if (p)
		bus->plat->free(bus->plat->ctx, p, size);
}

int bu_usb_dma_buf_alloc(struct bu_usb_bus *bus, struct bu_usb_dma_buf *b, size_t len)
{
	size_t size = (BU_MAX(len, (size_t)1) + BU_DMA_ALIGN - 1) & ~(size_t)(BU_DMA_ALIGN - 1);

	b->cpu = bus->plat->dma_alloc(bus->plat->ctx, size, BU_DMA_ALIGN, 0, bus->dma_mask,
				      &b->bus);
	if (!b->cpu)
		return BU_ENOMEM;
	b->size = size;
	bu_memset(b->cpu, 0, size);
	return 0;
}

void bu_usb_dma_buf_free(struct bu_usb_bus *bus, struct bu_usb_dma_buf *b)
{
	if (b->cpu)
		bus->plat->dma_free(bus->plat->ctx, b->cpu, b->bus, b->size);
	b->cpu = NULL;
	b->size = 0;
}

void bu_usb_xfer_set_dma(struct bu_usb_xfer *xfer, const struct bu_usb_dma_buf *b, size_t len)
{
	xfer->buf = len ? b->cpu : NULL;
	xfer->dma = b->bus;
	xfer->len = len;
	xfer->flags |= BU_XFER_DMA;
}

/* ======================================================================== */
/* Transfers                                                                */
/* ======================================================================== */

/** Remove a transfer from the bus's timeout list. */
static void timed_unlink(struct bu_usb_bus *bus, struct bu_usb_xfer *xfer)
{
	for (struct bu_usb_xfer **pp = &bus->core->timed; *pp; pp = &(*pp)->core.tnext) {
		if (*pp == xfer) {
			*pp = xfer->core.tnext;
			break;
		}
	}
	xfer->core.tnext = NULL;
}

/** Take the embedder's lock (recursive: callbacks inside poll re-enter). */
static void bus_lock(struct bu_usb_bus *bus)
{
	if (bus->plat->lock)
		bus->plat->lock(bus->plat->ctx);
}

static void bus_unlock(struct bu_usb_bus *bus)
{
	if (bus->plat->unlock)
		bus->plat->unlock(bus->plat->ctx);
}

/** Hand a transfer to the controller driver and arm its timeout. */
static int xfer_queue(struct bu_usb_bus *bus, struct bu_usb_xfer *xfer)
{
	int rc;

	xfer->core.deadline_us = xfer->timeout_ms ?
		bu_core_now(bus) + (uint64_t)xfer->timeout_ms * 1000 : 0;
	xfer->core.tnext = NULL;
	xfer->core.timing_out = false;
	if (bus->monitor.urb)
		bus->monitor.urb(bus->monitor.ctx, xfer, BU_MON_SUBMIT, 0);
	rc = bus->ops->xfer_submit(xfer);
	if (rc && bus->monitor.urb)
		bus->monitor.urb(bus->monitor.ctx, xfer, BU_MON_ERROR, rc);
	if (!rc && xfer->core.deadline_us) {
		xfer->core.tnext = bus->core->timed;
		bus->core->timed = xfer;
	}
	return rc;
}

int bu_usb_xfer_submit(struct bu_usb_xfer *xfer)
{
	struct bu_usb_device *dev;
	struct bu_usb_bus *bus;
	int rc;

	if (!xfer || !xfer->ep || !xfer->ep->dev || !xfer->complete)
		return BU_EINVAL;
	dev = xfer->ep->dev;
	bus = dev->bus;
	bus_lock(bus);
	if (xfer->core.submitted)
		rc = BU_EBUSY; /* still owned by the controller: never queue it twice */
	else if (bus->failed)
		rc = BU_ESHUTDOWN;
	else if (dev->state == BU_DEV_GONE)
		rc = BU_ENODEV;
	else if (bu_core_pm_hold(xfer))
		rc = 0; /* goes out once the device has resumed */
	else
		rc = xfer_queue(bus, xfer);
	if (!rc)
		xfer->core.submitted = true;
	bus_unlock(bus);
	return rc;
}

int bu_usb_xfer_cancel(struct bu_usb_xfer *xfer)
{
	struct bu_usb_bus *bus;
	int rc;

	if (!xfer || !xfer->ep || !xfer->ep->dev)
		return BU_EINVAL;
	bus = xfer->ep->dev->bus;
	bus_lock(bus);
	if (bu_core_pm_cancel(xfer, BU_ECANCELED))
		rc = 0;
	else
		rc = bus->ops->xfer_cancel(xfer, BU_ECANCELED);
	bus_unlock(bus);
	return rc;
}

void bu_usb_xfer_giveback(struct bu_usb_xfer *xfer)
{
	struct bu_usb_bus *bus = xfer->ep->dev->bus;

	BU_ASSERT(bus->plat, xfer->core.submitted);
	if (xfer->core.deadline_us)
		timed_unlink(bus, xfer);
	xfer->core.deadline_us = 0;
	xfer->core.submitted = false;
	bu_core_tt_check(xfer);
	/* Removed while the controller still had it (its transfers go back
	 * once it let go of them): what failed, failed for that. */
	if (xfer->status && xfer->ep->dev->state == BU_DEV_GONE)
		xfer->status = BU_ENODEV;
	if (bus->monitor.urb)
		bus->monitor.urb(bus->monitor.ctx, xfer, BU_MON_COMPLETE, xfer->status);
	xfer->complete(xfer);
}

/** Cancel transfers whose deadline passed; they complete with BU_ETIMEDOUT. */
static void check_timeouts(struct bu_usb_bus *bus, uint64_t now)
{
	for (struct bu_usb_xfer *x = bus->core->timed, *next; x; x = next) {
		next = x->core.tnext;
		if (x->core.deadline_us && now >= x->core.deadline_us && !x->core.timing_out) {
			bu_core_log(bus, BU_LOG_DEBUG, "transfer on ep 0x%02x timed out",
				    x->ep->address);
			/* Not cancelled (no room for the command yet): next poll. */
			x->core.timing_out = bus->ops->xfer_cancel(x, BU_ETIMEDOUT) == 0;
		}
	}
}

/** Completion of the synchronous helper: records that it finished. */
static void sync_done(struct bu_usb_xfer *xfer)
{
	*(bool *)xfer->ctx = true;
}

int bu_usb_control(struct bu_usb_device *dev, uint8_t bm_request_type,
		   uint8_t b_request, uint16_t w_value, uint16_t w_index,
		   void *data, uint16_t w_length, uint32_t timeout_ms)
{
	return bu_core_control(dev, bm_request_type, b_request, w_value, w_index, data, NULL,
			       w_length, timeout_ms);
}

int bu_core_control(struct bu_usb_device *dev, uint8_t bm_request_type,
		    uint8_t b_request, uint16_t w_value, uint16_t w_index,
		    void *data, const struct bu_usb_dma_buf *dma, uint16_t w_length,
		    uint32_t timeout_ms)
{
	struct bu_usb_xfer xfer;
	bool done = false;
	int rc;

	if (!dev || (w_length && !data && !dma) || (dma && w_length > dma->size))
		return BU_EINVAL;
	bu_memset(&xfer, 0, sizeof(xfer));
	xfer.ep = &dev->ep0;
	bu_usb_setup_pack(xfer.setup, bm_request_type, b_request, w_value, w_index, w_length);
	xfer.buf = data;
	xfer.len = w_length;
	if (dma)
		bu_usb_xfer_set_dma(&xfer, dma, w_length);
	xfer.timeout_ms = timeout_ms ? timeout_ms : BU_USB_REQUEST_TIMEOUT_MS;
	xfer.complete = sync_done;
	xfer.ctx = &done;
	rc = bu_usb_xfer_submit(&xfer);
	if (rc)
		return rc;
	/* The transfer's own deadline bounds this loop: check_timeouts
	 * cancels it, and a failed controller fails it. */
	while (!done) {
		if (bu_usb_bus_poll(dev->bus) == BU_ESHUTDOWN && !done)
			return BU_ESHUTDOWN;
	}
	return xfer.status ? xfer.status : (int)xfer.actual;
}

/* ======================================================================== */
/* Device lifetime                                                          */
/* ======================================================================== */

/** Create a device below `parent` (NULL for a root port) at `port`. */
static struct bu_usb_device *dev_create(struct bu_usb_bus *bus,
					struct bu_usb_device *parent,
					unsigned port, enum bu_usb_speed speed)
{
	struct bu_core_device *cd = bu_core_alloc(bus, sizeof(*cd));
	struct bu_usb_device *dev = cd ? &cd->pub : NULL;

	if (!dev)
		return NULL;
	dev->bus = bus;
	dev->parent = parent;
	dev->port = (uint8_t)port;
	dev->speed = speed;
	dev->active_config = -1;
	if (parent) {
		dev->tier = (uint8_t)(parent->tier + 1);
		dev->root_port = parent->root_port;
		bu_memcpy(dev->path, parent->path, sizeof(dev->path));
		dev->path[parent->tier] = (uint8_t)port;
		/* xHCI §8.9: one nibble per hub tier, ports above 15 as 15. */
		dev->route = parent->route |
			     ((uint32_t)BU_MIN(port, 15u) << (4 * (parent->tier - 1)));
		bu_core_tt_attach(dev);
	} else {
		dev->tier = 1;
		dev->root_port = (uint8_t)port;
		dev->path[0] = (uint8_t)port;
	}
	/* Initial EP0 max packet: LS 8, FS/HS 64, SS 512 (corrected later). */
	dev->ep0.dev = dev;
	dev->ep0.type = BU_EP_CONTROL;
	dev->ep0.mps = speed == BU_SPEED_LOW ? 8 : speed >= BU_SPEED_SUPER ? 512 : 64;
	dev->state = BU_DEV_ENUMERATING;
	dev->t_start_us = bu_core_now(bus);
	dev->next = bus->devices;
	bus->devices = dev;
	bus->enumerating++;
	return dev;
}

/** Free a device's descriptors and memory (it is already unlinked). */
static void dev_destroy(struct bu_usb_bus *bus, struct bu_usb_device *dev)
{
	for (unsigned i = 0; i < BU_USB_MAX_CONFIGS; i++) {
		struct bu_usb_config_info *c = &dev->configs[i];

		bu_core_free(bus, c->alts, dev->config_alloc[i][0] * sizeof(*c->alts));
		bu_core_free(bus, c->eps, dev->config_alloc[i][1] * sizeof(*c->eps));
		bu_core_free(bus, c->iads, dev->config_alloc[i][2] * sizeof(*c->iads));
		bu_core_free(bus, dev->config_raw[i], dev->config_raw_len[i]);
	}
	bu_core_free(bus, dev->bos, sizeof(*dev->bos));
	bu_core_free(bus, dev->bos_raw, dev->bos_raw_len);
	bu_core_enum_free(dev);
	bu_core_free(bus, dev->msos, sizeof(*dev->msos));
	bu_usb_dma_buf_free(bus, &bu_core_dev(dev)->ctrl_dma);
	bu_core_free(bus, bu_core_dev(dev), sizeof(struct bu_core_device));
}

void bu_core_addr_unlock(struct bu_usb_device *dev)
{
	if (bu_core_dev(dev)->addr_lock) {
		bu_core_dev(dev)->addr_lock = false;
		dev->bus->core->addr_owner[dev->root_port] = NULL;
	}
}

/** Take a device off a list linked by `next`. */
static void dev_unlink(struct bu_usb_device **list, struct bu_usb_device *dev)
{
	for (struct bu_usb_device **pp = list; *pp; pp = &(*pp)->next) {
		if (*pp == dev) {
			*pp = dev->next;
			break;
		}
	}
	dev->next = NULL;
}

/**
 * The end of a removal: the controller driver has given back every
 * transfer of the device, so its drivers' remove() runs with nothing in
 * flight; then it is freed.
 */
static void dev_finish(struct bu_usb_bus *bus, struct bu_usb_device *dev)
{
	dev_unlink(&bus->core->dying, dev);
	bu_core_unbind_device(dev);
	dev_destroy(bus, dev);
}

/** dev_disable's completion: the device's transfers are all back. */
static void dev_disabled(struct bu_usb_device *dev, void *ctx, int status)
{
	(void)ctx;
	(void)status;
	dev_finish(dev->bus, dev);
}

void bu_core_dev_remove(struct bu_usb_bus *bus, struct bu_usb_device *dev)
{
	bool was_enumerating = dev->state == BU_DEV_ENUMERATING ||
			       dev->state == BU_DEV_NEW;

	if (dev->state == BU_DEV_GONE)
		return; /* already on its way out */
	/* Children first: a removed hub takes its subtree with it. */
	for (struct bu_usb_device *c = bus->devices; c;) {
		struct bu_usb_device *next = c->next;

		if (c->parent == dev) {
			bu_core_dev_remove(bus, c);
			next = bus->devices; /* the list changed: restart */
		}
		c = next;
	}
	if (!was_enumerating && bus->events.device_removed)
		bus->events.device_removed(bus->events.ctx, dev);
	dev->state = BU_DEV_GONE;
	bu_core_dev(dev)->wake_us = 0;
	if (bu_core_dev(dev)->waiter) {
		/* A synchronous caller is waiting on this device: wake it. */
		struct bu_core_waiter *w = bu_core_dev(dev)->waiter;

		w->status = BU_ENODEV;
		w->done = true;
		bu_core_dev(dev)->waiter = NULL;
	}
	if (was_enumerating && bus->enumerating)
		bus->enumerating--;
	bu_core_addr_unlock(dev);
	bu_core_pm_drop(dev);
	dev_unlink(&bus->devices, dev);
	dev->next = bus->core->dying;
	bus->core->dying = dev;
	/* The controller driver releases the slot and completes whatever is
	 * queued with BU_ENODEV once it no longer touches it: after Disable
	 * Slot completed (xHCI 1.2 §4.6.4) or the controller halted.
	 * Callbacks see BU_DEV_GONE and stop; dev_disabled finishes the
	 * removal. Without a slot, or on a failed controller (everything
	 * already back), it finishes now. */
	if (!dev->hc_priv || bus->ops->dev_disable(dev, dev_disabled, NULL))
		dev_finish(bus, dev);
}

void bu_usb_device_gone(struct bu_usb_device *dev)
{
	bu_core_dev_remove(dev->bus, dev);
}

/* ======================================================================== */
/* Enumeration                                                              */
/* ======================================================================== */
struct bu_usb_device *bu_core_dev_attach(struct bu_usb_bus *bus,
				       struct bu_usb_device *parent, unsigned port,
				       enum bu_usb_speed speed)
{
	struct bu_usb_device *dev = dev_create(bus, parent, port, speed);

	if (!dev)
		return NULL;
	/* A hub hands over its default-address lock with the new device. */
	if (parent && bus->core->addr_owner[dev->root_port]) {
		bus->core->addr_owner[dev->root_port] = dev;
		bu_core_dev(dev)->addr_lock = true;
	}
	bu_core_enum_start(dev);
	return dev;
}

uint32_t bu_core_open_alt(struct bu_usb_device *dev,
			  const struct bu_usb_config_info *cfg,
			  const struct bu_usb_alt_info *alt)
{
	uint32_t opened = 0;
	char path[32];

	for (unsigned e = 0; e < alt->num_eps; e++) {
		const struct bu_usb_ep_info *info = bu_desc_alt_ep(cfg, alt, e);
		struct bu_usb_endpoint *ep = NULL;
		struct bu_desc_ep_params p;
		const char *why = NULL;
		unsigned idx;
		int rc;

		if (!info)
			continue;
		idx = USB_ENDPOINT_NUMBER(info->address) * 2u +
		      ((info->address & USB_DIR_IN) ? 1u : 0u);
		if (idx < 2 || idx >= 32 || dev->eps[idx])
			continue;
		/* What the device broke stays with that endpoint: it is left
		 * closed or opened with legal values, and the rest goes on. */
		rc = bu_desc_ep_params(info, dev->speed, &p, &why);
		if (rc) {
			bu_core_log(dev->bus, rc == BU_ENOENT ? BU_LOG_INFO : BU_LOG_WARN,
				    "device %s: endpoint 0x%02x not opened: %s",
				    bu_core_dev_path(dev, path, sizeof(path)),
				    info->address, why ? why : bu_strerror(rc));
			continue;
		}
		if (info->fixed)
			bu_core_log(dev->bus, BU_LOG_WARN,
				    "device %s: endpoint 0x%02x: %s; opened with max "
				    "packet %u, burst %u, mult %u, %lu bytes per interval",
				    bu_core_dev_path(dev, path, sizeof(path)),
				    info->address, info->fixed, p.mps, p.max_burst,
				    p.mult, (unsigned long)p.max_esit);
		for (unsigned k = 0; k < BU_ARRAY_SIZE(dev->ep_store); k++) {
			if (!dev->ep_store[k].dev) {
				ep = &dev->ep_store[k];
				break;
			}
		}
		if (!ep)
			break;
		bu_memset(ep, 0, sizeof(*ep));
		ep->dev = dev;
		ep->address = info->address;
		ep->type = p.type;
		ep->mps = p.mps;
		ep->mult = p.mult;
		ep->max_burst = p.max_burst;
		ep->max_esit = p.max_esit;
		ep->interval = info->interval;
		dev->eps[idx] = ep;
		opened |= 1u << idx;
	}
	return opened;
}

/* ======================================================================== */
/* Root ports                                                               */
/* ======================================================================== */

/** The root hub's port operations are the controller driver's. */
static int root_reset(struct bu_port_hub *hub, unsigned port, bool warm)
{
	return hub->bus->ops->port_reset(hub->bus, port, warm);
}

static int root_power(struct bu_port_hub *hub, unsigned port)
{
	return hub->bus->ops->port_power ? hub->bus->ops->port_power(hub->bus, port) : BU_ENOTSUP;
}

static const struct bu_port_ops root_port_ops = {
	.reset = root_reset,
	.power = root_power,
};

/** The root hub as the port machine sees it. */
static void root_hub(struct bu_usb_bus *bus, struct bu_port_hub *hub)
{
	bu_memset(hub, 0, sizeof(*hub));
	hub->bus = bus;
	hub->ops = &root_port_ops;
	hub->links_train = true;
	hub->power_us = T_POWER_US;
}

/** Re-evaluate a root port after a change or a timer. */
static void port_check(struct bu_usb_bus *bus, unsigned port, bool timer)
{
	struct bu_usb_port_status st;
	struct bu_port_hub hub;

	if (bus->ops->port_status(bus, port, &st))
		return;
	root_hub(bus, &hub);
	bus->core->root_ports[port].num = (uint8_t)port;
	bu_port_update(&hub, &bus->core->root_ports[port], &st, timer);
}

void bu_usb_bus_port_changed(struct bu_usb_bus *bus, unsigned port)
{
	if (port < 1 || port > bus->num_ports || port > 255)
		return;
	port_check(bus, port, false);
}

int bu_usb_bus_start(struct bu_usb_bus *bus)
{
	bus->core = bu_core_alloc(bus, sizeof(*bus->core));
	if (!bus->core)
		return BU_ENOMEM;
	if (bus->num_ports > 255)
		bus->num_ports = 255;
	bu_usb_bus_register_driver(bus, &bu_usb_hub_driver);
	for (unsigned p = 1; p <= bus->num_ports; p++)
		port_check(bus, p, false);
	if (!bus->enumerating)
		bus->stats.t_settled_us = bu_core_now(bus);
	return 0;
}

/* ======================================================================== */
/* Poll                                                                     */
/* ======================================================================== */

int bu_usb_bus_poll(struct bu_usb_bus *bus)
{
	uint64_t now;
	int rc;

	bus_lock(bus);
	rc = bus->ops->poll(bus);
	if (rc == BU_ESHUTDOWN) {
		bus->failed = true;
		/* Nothing will complete: end every enumeration. */
		for (struct bu_usb_device *d = bus->devices; d; d = d->next)
			if (d->state == BU_DEV_ENUMERATING)
				bu_core_enum_finish(d, BU_ESHUTDOWN);
		struct bu_port_hub hub;

		root_hub(bus, &hub);
		for (unsigned p = 1; p <= bus->num_ports; p++)
			if (bus->core->root_ports[p].state != BU_PORT_DEVICE)
				bu_port_set(&hub, &bus->core->root_ports[p], BU_PORT_EMPTY, 0);
		goto out;
	}
	now = bu_core_now(bus);
	for (unsigned p = 1; p <= bus->num_ports; p++) {
		if (bus->core->root_ports[p].wake_us && now >= bus->core->root_ports[p].wake_us) {
			bus->core->root_ports[p].wake_us = 0;
			port_check(bus, p, true);
		}
	}
	for (struct bu_usb_device *d = bus->devices; d; d = d->next) {
		if (bu_core_dev(d)->wake_us && now >= bu_core_dev(d)->wake_us) {
			bu_core_dev(d)->wake_us = 0;
			bu_core_enum_timer(d);
		}
	}
	check_timeouts(bus, now);
	bu_core_pm_poll(bus, now);
	bu_core_poll_drivers(bus, now);
out:
	bus_unlock(bus);
	return rc;
}

bool bu_usb_bus_idle(const struct bu_usb_bus *bus)
{
	return bus->enumerating == 0;
}

void bu_usb_bus_destroy(struct bu_usb_bus *bus)
{
	struct bu_core_bus *core;
	const struct bu_platform *plat;

	if (!bus)
		return;
	while (bus->devices) {
		struct bu_usb_device *d = bus->devices;

		/* Root devices take their subtrees; find one. */
		while (d->parent)
			d = d->parent;
		bu_core_dev_remove(bus, d);
	}
	/* The controller driver halts the controller first (after HCH=1 it
	 * moves no data, xHCI 1.2 §5.4.2), then gives back what is still
	 * queued, which finishes the removals above, then frees itself and
	 * the bus with it. */
	core = bus->core;
	plat = bus->plat;
	bus->ops->destroy(bus);
	BU_ASSERT(plat, !core->dying);
	plat->free(plat->ctx, core, sizeof(*core));
}
