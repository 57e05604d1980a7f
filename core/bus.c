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

enum port_state {
	PORT_EMPTY = 0,
	PORT_DEBOUNCE,  /* connected, waiting TATTDB */
	PORT_RESET,     /* reset issued, waiting for the port to enable */
	PORT_RECOVERY,  /* reset done, waiting TRSTRCY */
	PORT_DEVICE,    /* a device owns the port */
	PORT_FAILED,    /* reset failed; wait for a disconnect */
	PORT_OVERCURRENT, /* over-current active; left alone until it clears */
	PORT_POWER,     /* over-current over, port power back on: settling */
};

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

/* ======================================================================== */
/* Transfers                                                                */
/* ======================================================================== */

/** Remove a transfer from the bus's timeout list. */
static void timed_unlink(struct bu_usb_bus *bus, struct bu_usb_xfer *xfer)
{
	for (struct bu_usb_xfer **pp = &bus->timed; *pp; pp = &(*pp)->tnext) {
		if (*pp == xfer) {
			*pp = xfer->tnext;
			break;
		}
	}
	xfer->tnext = NULL;
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

	xfer->deadline_us = xfer->timeout_ms ?
		bu_core_now(bus) + (uint64_t)xfer->timeout_ms * 1000 : 0;
	xfer->tnext = NULL;
	rc = bus->ops->xfer_submit(xfer);
	if (!rc && xfer->deadline_us) {
		xfer->tnext = bus->timed;
		bus->timed = xfer;
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
	if (xfer->submitted)
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
		xfer->submitted = true;
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

	BU_ASSERT(bus->plat, xfer->submitted);
	if (xfer->deadline_us)
		timed_unlink(bus, xfer);
	xfer->deadline_us = 0;
	xfer->submitted = false;
	xfer->complete(xfer);
}

/** Cancel transfers whose deadline passed; they complete with BU_ETIMEDOUT. */
static void check_timeouts(struct bu_usb_bus *bus, uint64_t now)
{
	for (struct bu_usb_xfer *x = bus->timed, *next; x; x = next) {
		next = x->tnext;
		if (x->deadline_us && now >= x->deadline_us && x->hc_state == 1) {
			bu_core_log(bus, BU_LOG_DEBUG, "transfer on ep 0x%02x timed out",
			     x->ep->address);
			bus->ops->xfer_cancel(x, BU_ETIMEDOUT);
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
	struct bu_usb_xfer xfer;
	bool done = false;
	int rc;

	if (!dev || (w_length && !data))
		return BU_EINVAL;
	bu_memset(&xfer, 0, sizeof(xfer));
	xfer.ep = &dev->ep0;
	bu_usb_setup_pack(xfer.setup, bm_request_type, b_request, w_value, w_index, w_length);
	xfer.buf = data;
	xfer.len = w_length;
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
	struct bu_usb_device *dev = bu_core_alloc(bus, sizeof(*dev));

	if (!dev)
		return NULL;
	dev->ctrl_buf = bu_core_alloc(bus, BU_CORE_CTRL_BUF_LEN);
	if (!dev->ctrl_buf) {
		bu_core_free(bus, dev, sizeof(*dev));
		return NULL;
	}
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
	bu_core_free(bus, dev->ctrl_buf, BU_CORE_CTRL_BUF_LEN);
	bu_core_free(bus, dev, sizeof(*dev));
}

void bu_core_addr_unlock(struct bu_usb_device *dev)
{
	if (dev->addr_lock) {
		dev->addr_lock = false;
		dev->bus->addr_owner[dev->root_port] = NULL;
	}
}

void bu_core_dev_remove(struct bu_usb_bus *bus, struct bu_usb_device *dev)
{
	struct bu_usb_device **pp;
	bool was_enumerating = dev->state == BU_DEV_ENUMERATING ||
			       dev->state == BU_DEV_NEW;

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
	dev->wake_us = 0;
	if (dev->waiter) {
		/* A synchronous caller is waiting on this device: wake it. */
		struct bu_core_waiter *w = dev->waiter;

		w->status = BU_ENODEV;
		w->done = true;
		dev->waiter = NULL;
	}
	if (was_enumerating && bus->enumerating)
		bus->enumerating--;
	bu_core_addr_unlock(dev);
	bu_core_pm_drop(dev);
	/* The driver completes whatever is queued with BU_ENODEV and
	 * releases the slot; callbacks see BU_DEV_GONE and stop. Then the
	 * class drivers' remove() runs with nothing left in flight. */
	if (dev->hc_priv)
		bus->ops->dev_disable(dev, NULL, NULL);
	bu_core_unbind_device(dev);
	for (pp = &bus->devices; *pp; pp = &(*pp)->next) {
		if (*pp == dev) {
			*pp = dev->next;
			break;
		}
	}
	dev_destroy(bus, dev);
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
	if (parent && bus->addr_owner[dev->root_port]) {
		bus->addr_owner[dev->root_port] = dev;
		dev->addr_lock = true;
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

/** The device attached directly to root port `port`, if any. */
static struct bu_usb_device *root_device(struct bu_usb_bus *bus, unsigned port)
{
	for (struct bu_usb_device *d = bus->devices; d; d = d->next)
		if (!d->parent && d->root_port == port)
			return d;
	return NULL;
}

/** Set a root port's state and timer, keeping the busy count right. */
static void port_set(struct bu_usb_bus *bus, unsigned port, enum port_state st,
		     uint32_t wait_us)
{
	bool was_busy = bus->port_state[port] == PORT_DEBOUNCE ||
			bus->port_state[port] == PORT_RESET ||
			bus->port_state[port] == PORT_RECOVERY ||
			bus->port_state[port] == PORT_POWER;
	bool busy = st == PORT_DEBOUNCE || st == PORT_RESET || st == PORT_RECOVERY ||
		    st == PORT_POWER;

	if (busy && !was_busy)
		bus->enumerating++;
	else if (!busy && was_busy && bus->enumerating)
		bus->enumerating--;
	bus->port_state[port] = (uint8_t)st;
	bus->port_wake_us[port] = wait_us ? bu_core_now(bus) + wait_us : 0;
}

/** Attach a new device to a port that finished reset and recovery. */
static void port_attach(struct bu_usb_bus *bus, unsigned port,
			enum bu_usb_speed speed)
{
	port_set(bus, port, PORT_DEVICE, 0);
	if (!bu_core_dev_attach(bus, NULL, port, speed)) {
		bu_core_log(bus, BU_LOG_ERR, "port %u: out of memory for a device", port);
		port_set(bus, port, PORT_FAILED, 0);
	}
}

/**
 * Over-current handling of a root port; true when the port is done with
 * for now. While OCA is set (xHCI §5.4.8) the port's device is removed and
 * the port left alone: the xHC has disabled it (PED=0) and, on ports with
 * power switches, turned its power off (PP=0). Once OCA clears the port is
 * powered again where the controller can switch it, given the 20 ms PP
 * settle time, and scanned as a new port (Linux hub.c does the same after
 * its cool-down: power on, then the connect logic runs again).
 */
static bool port_overcurrent(struct bu_usb_bus *bus, unsigned port,
			     const struct bu_usb_port_status *st, bool timer)
{
	struct bu_usb_device *dev;

	if (st->overcurrent) {
		if (bus->port_state[port] == PORT_OVERCURRENT)
			return true;
		bu_core_log(bus, BU_LOG_WARN, "port %u: over-current, device removed", port);
		dev = root_device(bus, port);
		if (dev)
			bu_core_dev_remove(bus, dev);
		port_set(bus, port, PORT_OVERCURRENT, 0);
		return true;
	}
	if (bus->port_state[port] == PORT_OVERCURRENT) {
		bu_core_log(bus, BU_LOG_INFO, "port %u: over-current cleared", port);
		if (bus->ops->port_power && !bus->ops->port_power(bus, port)) {
			port_set(bus, port, PORT_POWER, T_POWER_US);
			return true;
		}
	} else if (!timer) {
		return true; /* PORT_POWER: wait for the settle time */
	}
	port_set(bus, port, PORT_EMPTY, 0);
	return false;
}

/** Re-evaluate a root port after a change or a timer. */
static void port_check(struct bu_usb_bus *bus, unsigned port, bool timer)
{
	struct bu_usb_port_status st;
	struct bu_usb_device *dev;
	enum port_state ps = bus->port_state[port];

	if (bus->ops->port_status(bus, port, &st))
		return;
	if (st.overcurrent || ps == PORT_OVERCURRENT || ps == PORT_POWER) {
		if (port_overcurrent(bus, port, &st, timer))
			return;
		ps = bus->port_state[port];
	}
	if (!st.connected) {
		dev = root_device(bus, port);
		if (dev) {
			char path[32];

			bu_core_log(bus, BU_LOG_INFO, "device %s disconnected",
			     bu_core_dev_path(dev, path, sizeof(path)));
			bu_core_dev_remove(bus, dev);
		}
		port_set(bus, port, PORT_EMPTY, 0);
		return;
	}
	if (st.connect_changed && ps != PORT_EMPTY && ps != PORT_DEBOUNCE) {
		/* Unplugged and plugged again between two looks, at any stage
		 * (or a device that re-attached itself): start over with a
		 * new device. */
		dev = root_device(bus, port);
		if (dev)
			bu_core_dev_remove(bus, dev);
		port_set(bus, port, PORT_EMPTY, 0);
		ps = PORT_EMPTY;
	}
	switch (ps) {
	case PORT_EMPTY:
		if (st.usb3 && st.enabled) {
			/* USB 3: link training already reset the device and
			 * enabled the port (xHCI §4.19.1.2); no debounce. */
			port_attach(bus, port, st.speed);
		} else if (st.usb3) {
			/* Connected but not enabled: warm reset (§4.19.1.2.6). */
			bus->ops->port_reset(bus, port, true);
			port_set(bus, port, PORT_RESET, T_RESET_MAX_US);
		} else {
			port_set(bus, port, PORT_DEBOUNCE, T_ATTDB_US);
		}
		break;
	case PORT_DEBOUNCE:
		if (st.changed && !timer) {
			/* Another connect change: the debounce restarts. */
			port_set(bus, port, PORT_DEBOUNCE, T_ATTDB_US);
			break;
		}
		if (!timer)
			break;
		/* USB 2 root ports: the xHC times TDRSTR (USB 2.0 §7.1.7.5). */
		bus->ops->port_reset(bus, port, false);
		port_set(bus, port, PORT_RESET, T_RESET_MAX_US);
		break;
	case PORT_RESET:
		if (st.enabled && !st.resetting) {
			port_set(bus, port, PORT_RECOVERY, T_RSTRCY_US);
		} else if (timer) {
			bu_core_log(bus, BU_LOG_WARN, "port %u: reset did not enable the port", port);
			port_set(bus, port, PORT_FAILED, 0);
		}
		break;
	case PORT_RECOVERY:
		if (timer)
			port_attach(bus, port, st.speed);
		break;
	case PORT_DEVICE:
		if (st.usb3 && st.link == BU_LINK_INACTIVE) {
			/* USB 3 link error (xHCI §4.19.1.2, PLS = SS.Inactive,
			 * PED cleared): only a warm reset brings the link back
			 * (USB 3.2 §7.5.2). The device's state is lost with it,
			 * so it is removed and enumerated again afterwards. */
			dev = root_device(bus, port);
			bu_core_log(bus, BU_LOG_WARN,
				    "port %u: link error (SS.Inactive), warm reset", port);
			if (dev)
				bu_core_dev_remove(bus, dev);
			bus->ops->port_reset(bus, port, true);
			port_set(bus, port, PORT_RESET, T_RESET_MAX_US);
			break;
		}
		if (st.changed && !st.enabled && !root_device(bus, port)) {
			port_set(bus, port, PORT_EMPTY, 0);
			port_check(bus, port, false);
		}
		break;
	case PORT_FAILED:
	case PORT_OVERCURRENT:
	case PORT_POWER:
		break;
	}
}

void bu_usb_bus_port_changed(struct bu_usb_bus *bus, unsigned port)
{
	if (port < 1 || port > bus->num_ports || port > 255)
		return;
	port_check(bus, port, false);
}

int bu_usb_bus_start(struct bu_usb_bus *bus)
{
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
		for (unsigned p = 1; p <= bus->num_ports; p++)
			if (bus->port_state[p] != PORT_DEVICE)
				port_set(bus, p, PORT_EMPTY, 0);
		goto out;
	}
	now = bu_core_now(bus);
	for (unsigned p = 1; p <= bus->num_ports; p++) {
		if (bus->port_wake_us[p] && now >= bus->port_wake_us[p]) {
			bus->port_wake_us[p] = 0;
			port_check(bus, p, true);
		}
	}
	for (struct bu_usb_device *d = bus->devices; d; d = d->next) {
		if (d->wake_us && now >= d->wake_us) {
			d->wake_us = 0;
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
	if (!bus)
		return;
	while (bus->devices) {
		struct bu_usb_device *d = bus->devices;

		/* Root devices take their subtrees; find one. */
		while (d->parent)
			d = d->parent;
		bu_core_dev_remove(bus, d);
	}
	/* Let the driver see the Disable Slot completions, boundedly. */
	for (unsigned i = 0; i < 64; i++)
		if (bus->ops->poll(bus))
			break;
	bus->ops->destroy(bus);
}
