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

const char *bu_core_dev_path(const struct bu_usb_device *dev, char *buf, size_t size)
{
	size_t n = 0;

	/* Port numbers (1..255) by hand, not through a variadic formatter:
	 * the path is built for log lines at the bottom of deep paths. */
	if (!size)
		return buf;
	for (unsigned i = 0; i < dev->tier && i < BU_USB_MAX_PATH; i++) {
		unsigned v = dev->path[i];
		char d[3];
		unsigned k = 0;

		if (i && n + 1 < size)
			buf[n++] = '.';
		do {
			d[k++] = (char)('0' + v % 10);
			v /= 10;
		} while (v);
		while (k && n + 1 < size)
			buf[n++] = d[--k];
	}
	buf[n] = '\0';
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

static void bus_lock(struct bu_usb_bus *bus);
static void bus_unlock(struct bu_usb_bus *bus);

/* The DMA buffers are the bus's memory: taken and given back under its
 * lock, whoever asks (platform.h's rule). */
int bu_usb_dma_buf_alloc(struct bu_usb_bus *bus, struct bu_usb_dma_buf *b, size_t len)
{
	size_t size = (BU_MAX(len, (size_t)1) + BU_DMA_ALIGN - 1) & ~(size_t)(BU_DMA_ALIGN - 1);

	bus_lock(bus);
	b->cpu = bus->plat->dma_alloc(bus->plat->ctx, size, BU_DMA_ALIGN, 0, bus->dma_mask,
				      &b->bus);
	bus_unlock(bus);
	if (!b->cpu)
		return BU_ENOMEM;
	b->size = size;
	bu_memset(b->cpu, 0, size);
	return 0;
}

void bu_usb_dma_buf_free(struct bu_usb_bus *bus, struct bu_usb_dma_buf *b)
{
	bus_lock(bus);
	if (b->cpu)
		bus->plat->dma_free(bus->plat->ctx, b->cpu, b->bus, b->size);
	bus_unlock(bus);
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

static void sync_done(struct bu_usb_xfer *xfer);

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

/*
 * The embedder's lock (platform.h has the rule). It is recursive; the
 * core counts the levels the library holds (under the lock), so that a
 * synchronous wait can let go of all of them around the wait hook.
 */
static void bus_lock(struct bu_usb_bus *bus)
{
	if (bus->plat->lock)
		bus->plat->lock(bus->plat->ctx);
	if (bus->core)
		bus->core->lock_depth++;
}

static void bus_unlock(struct bu_usb_bus *bus)
{
	if (bus->core && bus->core->lock_depth)
		bus->core->lock_depth--;
	if (bus->plat->unlock)
		bus->plat->unlock(bus->plat->ctx);
}

void bu_usb_bus_lock(struct bu_usb_bus *bus)
{
	bus_lock(bus);
}

void bu_usb_bus_unlock(struct bu_usb_bus *bus)
{
	bus_unlock(bus);
}

/** Release every level of the lock this thread holds; returns how many to take back. */
static unsigned lock_release_all(struct bu_usb_bus *bus)
{
	unsigned n;

	if (!bus->plat->lock || !bus->core)
		return 0;
	bus_lock(bus); /* the depth is ours to read only under the lock */
	n = bus->core->lock_depth;
	for (unsigned i = 0; i < n; i++)
		bus_unlock(bus);
	return n - 1;
}

/** Take back what lock_release_all released. */
static void lock_retake(struct bu_usb_bus *bus, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		bus_lock(bus);
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
	else if (xfer->complete == sync_done && bu_core_sleep_asleep(bus))
		rc = BU_ESHUTDOWN; /* a synchronous caller would wait for the resume */
	else if (bu_core_pm_hold(xfer))
		rc = 0; /* goes out once the device has resumed */
	else if (bu_core_sleep_asleep(bus))
		rc = BU_ESHUTDOWN; /* the controller is halted for system sleep */
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

/** Completion of a synchronous transfer: records that it finished. */
static void sync_done(struct bu_usb_xfer *xfer)
{
	struct bu_core_sync *s = xfer->ctx;

	s->done = true;
	if (s->orphan)
		bu_core_free(s->bus, s, sizeof(*s));
}

struct bu_core_sync *bu_core_sync_alloc(struct bu_usb_bus *bus)
{
	struct bu_core_sync *s;

	BU_UNDER_LOCK(bus, s = bu_core_alloc(bus, sizeof(*s)));
	if (!s)
		return NULL;
	s->bus = bus;
	s->xfer.complete = sync_done;
	s->xfer.ctx = s;
	return s;
}

void bu_core_sync_free(struct bu_core_sync *s)
{
	struct bu_usb_bus *bus = s->bus;

	if (!s->done) {
		s->orphan = true; /* still the controller's */
		return;
	}
	BU_UNDER_LOCK(bus, bu_core_free(bus, s, sizeof(*s)));
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
	struct bu_usb_bus *bus;
	struct bu_core_sync *s;
	int rc;

	if (!dev || (w_length && !data && !dma) || (dma && w_length > dma->size))
		return BU_EINVAL;
	bus = dev->bus;
	s = bu_core_sync_alloc(bus);
	if (!s)
		return BU_ENOMEM;
	s->xfer.ep = &dev->ep0;
	bu_usb_setup_pack(s->xfer.setup, bm_request_type, b_request, w_value, w_index, w_length);
	s->xfer.buf = data;
	s->xfer.len = w_length;
	if (dma)
		bu_usb_xfer_set_dma(&s->xfer, dma, w_length);
	s->xfer.timeout_ms = timeout_ms ? timeout_ms : BU_USB_REQUEST_TIMEOUT_MS;
	rc = bu_usb_xfer_submit(&s->xfer);
	if (rc) {
		s->done = true; /* never the controller's */
	} else {
		/* The transfer's own deadline bounds this wait: check_timeouts
		 * cancels it, and a failed controller fails it. */
		rc = bu_core_wait_until(bus, &s->done, BU_USB_NO_TIMEOUT);
		if (s->done)
			rc = s->xfer.status ? s->xfer.status : (int)s->xfer.actual;
	}
	bu_core_sync_free(s);
	return rc;
}

/* ======================================================================== */
/* Hot-plug listeners                                                       */
/* ======================================================================== */

int bu_usb_add_listener(struct bu_usb_bus *bus, struct bu_usb_listener *l)
{
	struct bu_usb_listener *last;
	int rc = 0;

	if (!bus || !bus->core || !l)
		return BU_EINVAL;
	bus_lock(bus);
	if (l->bus) {
		rc = BU_EBUSY; /* on this bus or another already */
	} else {
		for (last = bus->core->listeners; last && last->next; last = last->next)
			;
		l->next = NULL;
		l->bus = bus;
		if (last)
			last->next = l;
		else
			bus->core->listeners = l;
	}
	bus_unlock(bus);
	return rc;
}

int bu_usb_remove_listener(struct bu_usb_bus *bus, struct bu_usb_listener *l)
{
	struct bu_usb_listener *c, *prev;
	int rc = BU_ENOENT;

	if (!bus || !bus->core || !l)
		return BU_EINVAL;
	bus_lock(bus);
	prev = NULL;
	for (c = bus->core->listeners; c; prev = c, c = c->next) {
		if (c != l)
			continue;
		if (prev)
			prev->next = l->next;
		else
			bus->core->listeners = l->next;
		/* A notification about to tell it tells the one after it instead. */
		for (struct bu_core_notify *n = bus->core->notifying; n; n = n->outer)
			if (n->next == l)
				n->next = l->next;
		l->next = NULL;
		l->bus = NULL;
		rc = 0;
		break;
	}
	bus_unlock(bus);
	return rc;
}

/** Tell the bus's events, then each listener, of an added or removed device. */
static void notify(struct bu_usb_device *dev, bool added)
{
	struct bu_usb_bus *bus = dev->bus;
	struct bu_core_notify n;

	if (added && bus->events.device_added)
		bus->events.device_added(bus->events.ctx, dev);
	else if (!added && bus->events.device_removed)
		bus->events.device_removed(bus->events.ctx, dev);
	/* Listeners may add and remove listeners from their callbacks: the
	 * next one to tell is kept where bu_usb_remove_listener sees it. */
	n.next = bus->core->listeners;
	n.outer = bus->core->notifying;
	bus->core->notifying = &n;
	while (n.next) {
		struct bu_usb_listener *l = n.next;

		n.next = l->next;
		if (added && l->device_added)
			l->device_added(l->ctx, dev);
		else if (!added && l->device_removed)
			l->device_removed(l->ctx, dev);
	}
	bus->core->notifying = n.outer;
}

void bu_core_notify_added(struct bu_usb_device *dev)
{
	notify(dev, true);
}

void bu_core_notify_removed(struct bu_usb_device *dev)
{
	bu_core_sleep_removed(dev);
	notify(dev, false);
}

bool bu_core_in_callback(struct bu_usb_bus *bus)
{
	bool in;

	/* Poll and destroy hold the (recursive) lock while their callbacks
	 * run: a caller that holds it and sees them running is inside one. */
	bus_lock(bus);
	in = bus->core && bus->core->callback_depth != 0;
	bus_unlock(bus);
	return in;
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

/** Remove one device whose children are gone already (bu_core_dev_remove). */
static void dev_remove_one(struct bu_usb_bus *bus, struct bu_usb_device *dev)
{
	bool was_enumerating = dev->state == BU_DEV_ENUMERATING ||
			       dev->state == BU_DEV_NEW;

	if (!was_enumerating)
		bu_core_notify_removed(dev);
	dev->state = BU_DEV_GONE;
	bu_core_dev(dev)->wake_us = 0;
	if (bu_core_dev(dev)->waiter) {
		/* A synchronous caller is waiting on this device: wake it. */
		struct bu_core_waiter *w = bu_core_dev(dev)->waiter;

		w->status = BU_ENODEV;
		w->done = true;
		bu_core_dev(dev)->waiter = NULL;
	}
	bu_core_req_ops_gone(dev);
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

void bu_core_dev_remove(struct bu_usb_bus *bus, struct bu_usb_device *dev)
{
	if (dev->state == BU_DEV_GONE)
		return; /* already on its way out */
	/* Children first: a removed hub takes its subtree with it, deepest
	 * first. A loop, not recursion, so that removing a subtree of five
	 * hub tiers needs no more stack than removing one device: find a
	 * device of the subtree without children on the bus (a removed one
	 * leaves the list), remove it, start again from the top. */
	for (;;) {
		struct bu_usb_device *leaf = dev;
		struct bu_usb_device *c = bus->devices;

		while (c) {
			if (c->parent == leaf) {
				leaf = c;
				c = bus->devices;
			} else {
				c = c->next;
			}
		}
		dev_remove_one(bus, leaf);
		if (leaf == dev)
			return;
	}
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
				       enum bu_usb_speed speed, const struct bu_port *from)
{
	struct bu_usb_device *dev = dev_create(bus, parent, port, speed);

	if (!dev)
		return NULL;
	if (from)
		bu_core_steps_from_port(dev, from);
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
	bu_core_pm_root_status(bus, port, &st);
	root_hub(bus, &hub);
	bus->core->root_ports[port].num = (uint8_t)port;
	bu_port_update(&hub, &bus->core->root_ports[port], &st, timer);
}

int bu_usb_device_reset(struct bu_usb_device *dev)
{
	struct bu_usb_bus *bus;
	struct bu_port_hub hub;
	int rc;

	if (!dev)
		return BU_EINVAL;
	bus = dev->bus;
	bus_lock(bus);
	if (bu_core_in_callback(bus))
		rc = BU_EBUSY;
	else if (dev->state == BU_DEV_GONE)
		rc = BU_ENODEV;
	else if (bus->failed)
		rc = BU_ESHUTDOWN;
	else if (bu_core_sleep_asleep(bus))
		rc = BU_EBUSY; /* the controller is halted for system sleep */
	else if (dev->parent)
		rc = bu_core_hub_child_reset(dev);
	else {
		root_hub(bus, &hub);
		rc = bu_port_reenumerate(&hub, &bus->core->root_ports[dev->root_port]);
	}
	bus_unlock(bus);
	return rc;
}

void bu_usb_bus_port_changed(struct bu_usb_bus *bus, unsigned port)
{
	if (port < 1 || port > bus->num_ports || port > 255)
		return;
	/* Looked at by bu_usb_bus_poll once the controller's events are
	 * handled (in the same poll), not from inside the event handling:
	 * a disconnect removes a subtree, whose transfers complete, whose
	 * callbacks start more, all on top of that. */
	bus->core->changed[port / 8] |= (uint8_t)(1u << (port % 8));
}

void bu_core_root_rescan(struct bu_usb_bus *bus, bool fresh)
{
	struct bu_port_hub hub;

	root_hub(bus, &hub);
	for (unsigned p = 1; p <= bus->num_ports; p++) {
		if (fresh)
			bu_port_set(&hub, &bus->core->root_ports[p], BU_PORT_EMPTY, 0);
		port_check(bus, p, false);
	}
}

/** Bytes of a bus's core state: the fixed part and its root ports (1..num_ports). */
static size_t core_bus_size(const struct bu_usb_bus *bus)
{
	return sizeof(struct bu_core_bus) + (bus->num_ports + 1u) * sizeof(struct bu_port);
}

int bu_usb_bus_start(struct bu_usb_bus *bus)
{
	if (bus->num_ports > 255)
		bus->num_ports = 255;
	bus->core = bu_core_alloc(bus, core_bus_size(bus));
	if (!bus->core)
		return BU_ENOMEM;
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

/**
 * The controller failed: nothing will complete, so end every enumeration
 * and empty the root ports. Kept out of bu_usb_bus_poll (noinline), whose
 * frame every poll carries.
 */
static __attribute__((noinline)) void bus_failed(struct bu_usb_bus *bus)
{
	struct bu_port_hub hub;

	bus->failed = true;
	for (struct bu_usb_device *d = bus->devices; d; d = d->next)
		if (d->state == BU_DEV_ENUMERATING)
			bu_core_enum_finish(d, BU_ESHUTDOWN);
	root_hub(bus, &hub);
	for (unsigned p = 1; p <= bus->num_ports; p++)
		if (bus->core->root_ports[p].state != BU_PORT_DEVICE)
			bu_port_set(&hub, &bus->core->root_ports[p], BU_PORT_EMPTY, 0);
}

/* ======================================================================== */
/* Deferred work                                                            */
/* ======================================================================== */

void bu_usb_work_queue(struct bu_usb_bus *bus, struct bu_usb_work *w)
{
	struct bu_core_bus *core;

	if (!bus || !bus->core || !w || !w->fn)
		return;
	bus_lock(bus);
	core = bus->core;
	if (!w->queued) {
		w->queued = true;
		w->next = NULL;
		if (core->work_tail)
			core->work_tail->next = w;
		else
			core->work = w;
		core->work_tail = w;
	}
	bus_unlock(bus);
}

/** Take `w` off the list at *head (tail pointer `tail`, or NULL); true when it
 * was there. */
static bool work_unlink(struct bu_usb_work **head, struct bu_usb_work **tail,
			struct bu_usb_work *w)
{
	struct bu_usb_work *prev = NULL;
	struct bu_usb_work **pp;

	for (pp = head; *pp; pp = &(*pp)->next) {
		if (*pp == w) {
			*pp = w->next;
			if (tail && *tail == w)
				*tail = prev;
			return true;
		}
		prev = *pp;
	}
	return false;
}

void bu_usb_work_cancel(struct bu_usb_bus *bus, struct bu_usb_work *w)
{
	if (!bus || !bus->core || !w)
		return;
	bus_lock(bus);
	if (!work_unlink(&bus->core->work, &bus->core->work_tail, w))
		work_unlink(&bus->core->work_running, NULL, w);
	w->queued = false;
	w->next = NULL;
	bus_unlock(bus);
}

/**
 * Run the work queued before this call, oldest first, at the poll's own
 * depth; work queued meanwhile waits for the next poll (next_timeout says
 * "at once" while any is queued), so a work item that queues itself again
 * cannot keep one poll from returning. A work item may cancel any other.
 */
static void run_work(struct bu_usb_bus *bus)
{
	struct bu_core_bus *core = bus->core;

	core->work_running = core->work;
	core->work = core->work_tail = NULL;
	while (core->work_running) {
		struct bu_usb_work *w = core->work_running;

		core->work_running = w->next;
		w->queued = false;
		w->next = NULL;
		w->fn(w);
	}
}

int bu_usb_bus_poll(struct bu_usb_bus *bus)
{
	uint64_t now;
	int rc;

	bus_lock(bus);
	if (bu_core_sleep_asleep(bus)) {
		/* Halted for system sleep: only a wake is looked for. */
		bu_core_sleep_poll(bus);
		bus_unlock(bus);
		return 0;
	}
	bus->core->callback_depth++;
	rc = bus->ops->poll(bus);
	if (rc == BU_ESHUTDOWN) {
		bus_failed(bus);
		goto out;
	}
	for (unsigned p = 1; p <= bus->num_ports; p++) {
		if (bus->core->changed[p / 8] & (1u << (p % 8))) {
			bus->core->changed[p / 8] &= (uint8_t)~(1u << (p % 8));
			port_check(bus, p, false);
		}
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
		bu_core_toggle_poll(d);
	}
	check_timeouts(bus, now);
	bu_core_pm_poll(bus, now);
	bu_core_poll_drivers(bus, now);
out:
	run_work(bus);
	bus->core->callback_depth--;
	bus_unlock(bus);
	return rc;
}

bool bu_usb_bus_idle(const struct bu_usb_bus *bus)
{
	return bus->enumerating == 0;
}

/** Lower *next to `t` when `t` is a set timer (not 0). */
static void earliest(uint64_t *next, uint64_t t)
{
	if (t && t < *next)
		*next = t;
}

uint64_t bu_usb_bus_next_timeout(struct bu_usb_bus *bus)
{
	uint64_t next = BU_USB_NO_TIMEOUT, now;

	if (!bus || !bus->core)
		return BU_USB_NO_TIMEOUT;
	bus_lock(bus);
	if (bu_core_sleep_asleep(bus))
		goto out; /* nothing, queued work included, runs before the resume */
	now = bu_core_now(bus);
	if (bus->core->work)
		next = now; /* deferred work waits for the next poll */
	if (bus->failed)
		goto out; /* nothing will happen any more */
	for (unsigned p = 1; p <= bus->num_ports; p++)
		earliest(&next, bus->core->root_ports[p].wake_us);
	for (struct bu_usb_device *d = bus->devices; d; d = d->next) {
		earliest(&next, bu_core_dev(d)->wake_us);
		earliest(&next, bu_core_dev(d)->pm_wake_us);
	}
	/* A timed-out transfer whose cancel could not start yet retries it
	 * on every poll: its passed deadline says "at once". */
	for (struct bu_usb_xfer *x = bus->core->timed; x; x = x->core.tnext)
		if (!x->core.timing_out)
			earliest(&next, x->core.deadline_us);
	next = BU_MIN(next, bu_core_drivers_next_timeout(bus, now));
	next = BU_MIN(next, bus->ops->next_timeout ? bus->ops->next_timeout(bus) : now);
out:
	bus_unlock(bus);
	return next;
}

/** bu_usb_bus_wait's done() for a plain flag. */
static bool flag_set(void *arg)
{
	return *(const bool *)arg;
}

int bu_core_wait_until(struct bu_usb_bus *bus, const bool *done, uint64_t deadline_us)
{
	return bu_usb_bus_wait(bus, flag_set, (void *)(uintptr_t)done, deadline_us);
}

/** done(arg), read under the lock (completions write it from poll). */
static bool wait_done(struct bu_usb_bus *bus, bool (*done)(void *arg), void *arg)
{
	bool d;

	bus_lock(bus);
	d = done(arg);
	bus_unlock(bus);
	return d;
}

int bu_usb_bus_wait(struct bu_usb_bus *bus, bool (*done)(void *arg), void *arg,
		    uint64_t deadline_us)
{
	const struct bu_platform *plat = bus->plat;

	while (!wait_done(bus, done, arg)) {
		uint64_t now, until;
		int rc = bu_usb_bus_poll(bus);

		if (wait_done(bus, done, arg))
			break;
		if (rc == BU_ESHUTDOWN)
			return BU_ESHUTDOWN;
		now = bu_core_now(bus);
		if (now >= deadline_us)
			return BU_ETIMEDOUT;
		if (rc == 1 || !plat->wait)
			continue; /* events left on the ring, or no hook: poll again */
		until = BU_MIN(bu_usb_bus_next_timeout(bus), deadline_us);
		if (until > bu_core_now(bus)) {
			/* Never under the lock: another thread may poll meanwhile. */
			unsigned held = lock_release_all(bus);

			plat->wait(plat->ctx, until);
			lock_retake(bus, held);
		}
	}
	return 0;
}

void bu_usb_bus_destroy(struct bu_usb_bus *bus)
{
	struct bu_core_bus *core;
	const struct bu_platform *plat;
	size_t core_size;

	if (!bus)
		return;
	bus->core->callback_depth++; /* listeners and drivers are told from here */
	while (bus->devices) {
		struct bu_usb_device *d = bus->devices;

		/* Root devices take their subtrees; find one. */
		while (d->parent)
			d = d->parent;
		bu_core_dev_remove(bus, d);
	}
	/* What the removals queued, while the bus is still there. */
	run_work(bus);
	/* The controller driver halts the controller first (after HCH=1 it
	 * moves no data, xHCI 1.2 §5.4.2), then gives back what is still
	 * queued, which finishes the removals above, then frees itself and
	 * the bus with it. */
	core = bus->core;
	core_size = core_bus_size(bus);
	plat = bus->plat;
	bus->ops->destroy(bus);
	BU_ASSERT(plat, !core->dying);
	/* The embedder's listeners are on no bus any more. */
	while (core->listeners) {
		struct bu_usb_listener *l = core->listeners;

		core->listeners = l->next;
		l->next = NULL;
		l->bus = NULL;
	}
	plat->free(plat->ctx, core, core_size);
}
