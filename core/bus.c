/*
 * bareusb USB core: root ports, device enumeration, transfers.
 *
 * Everything is event-driven and runs from bu_usb_bus_poll(): each root
 * port and each device has its own small state machine, advanced by
 * controller callbacks (command and transfer completions) and by timers
 * for the delays the USB specification mandates. A device that does not
 * answer therefore delays only itself, up to its own timeout, while the
 * others enumerate.
 *
 * Enumeration of one device (USB 2.0 §9.1.2, xHCI §4.3):
 *   port connect → debounce → port reset → reset recovery → Enable Slot →
 *   Address Device → SET_ADDRESS recovery → GET_DESCRIPTOR(device, 8) →
 *   Evaluate Context when EP0's max packet size differs →
 *   GET_DESCRIPTOR(device, 18) → each configuration (9 bytes, then
 *   wTotalLength) → string 0, then manufacturer, product, serial →
 *   Configure Endpoint → SET_CONFIGURATION.
 */
#include "core_priv.h"

#include "bareusb/assert.h"
#include "bareusb/desc.h"
#include "bareusb/msos.h"
#include "bareusb/usb.h"
#include "bareusb/util.h"

#include <stdarg.h>

/* Mandated delays (microseconds). */
#define T_ATTDB_US 100000   /* USB 2.0 §7.1.7.3: attach debounce TATTDB >= 100 ms */
#define T_RSTRCY_US 10000   /* USB 2.0 §7.1.7.5: reset recovery TRSTRCY = 10 ms */
#define T_SETADDR_US 2000   /* USB 2.0 §9.2.6.3: SET_ADDRESS recovery 2 ms */
#define T_RESET_MAX_US 500000 /* give up on a port reset after 500 ms */
#define T_POWER_US 20000    /* xHCI §5.4.8 (PORTSC.PP): 20 ms from PP=1 to a stable port */
#define T_CTRL_MS 5000      /* USB 2.0 §9.2.6.4: 5 s upper bound for a request */

/** Root port states. */
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
enum enum_step {
	ST_ENABLE = 0,
	ST_ADDRESS,
	ST_ADDR_RECOVERY,
	ST_DESC8,
	ST_EP0_UPDATE,
	ST_DESC18,
	ST_CONFIG_HDR,
	ST_CONFIG_FULL,
	ST_BOS_HDR,
	ST_BOS_FULL,
	ST_LANGID,
	ST_STRINGS,
	ST_CONFIGURE,
	ST_SET_CONFIG,
	ST_MSOS,
	ST_DONE,
};

static const char *const step_names[] = {
	[ST_ENABLE] = "enable slot",
	[ST_ADDRESS] = "address device",
	[ST_ADDR_RECOVERY] = "set address recovery",
	[ST_DESC8] = "device descriptor (8)",
	[ST_EP0_UPDATE] = "ep0 max packet update",
	[ST_DESC18] = "device descriptor",
	[ST_CONFIG_HDR] = "configuration header",
	[ST_CONFIG_FULL] = "configuration descriptor",
	[ST_BOS_HDR] = "BOS header",
	[ST_BOS_FULL] = "BOS descriptor",
	[ST_LANGID] = "string languages",
	[ST_STRINGS] = "strings",
	[ST_CONFIGURE] = "configure endpoints",
	[ST_SET_CONFIG] = "set configuration",
	[ST_MSOS] = "Microsoft OS descriptors",
	[ST_DONE] = "done",
};

#define CTRL_BUF_LEN 256
_Static_assert(CTRL_BUF_LEN >= 255 && CTRL_BUF_LEN >= USB_DT_CONFIG_SIZE &&
		       CTRL_BUF_LEN >= USB_DT_BOS_SIZE && CTRL_BUF_LEN >= 18,
	       "the enumeration buffer holds every request read into it");

/** Temporary state of a Microsoft OS descriptor fetch. */
struct msos_fetch_state {
	struct bu_msos_fetch f;
	uint8_t buf[BU_MSOS_MAX_DESC];
};


static void dev_step(struct bu_usb_device *dev);

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
	xfer.setup[0] = bm_request_type;
	xfer.setup[1] = b_request;
	xfer.setup[2] = (uint8_t)w_value;
	xfer.setup[3] = (uint8_t)(w_value >> 8);
	xfer.setup[4] = (uint8_t)w_index;
	xfer.setup[5] = (uint8_t)(w_index >> 8);
	xfer.setup[6] = (uint8_t)w_length;
	xfer.setup[7] = (uint8_t)(w_length >> 8);
	xfer.buf = data;
	xfer.len = w_length;
	xfer.timeout_ms = timeout_ms ? timeout_ms : T_CTRL_MS;
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
	dev->ctrl_buf = bu_core_alloc(bus, CTRL_BUF_LEN);
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
	bu_core_free(bus, dev->msos, sizeof(*dev->msos));
	bu_core_free(bus, dev->msos_fetch, sizeof(struct msos_fetch_state));
	bu_core_free(bus, dev->ctrl_buf, CTRL_BUF_LEN);
	bu_core_free(bus, dev, sizeof(*dev));
}

/** Give up the root port's default-address lock, if this device holds it. */
static void addr_unlock(struct bu_usb_device *dev)
{
	if (dev->addr_lock) {
		dev->addr_lock = false;
		dev->bus->addr_owner[dev->root_port] = NULL;
	}
}

/** Enumeration of `dev` ended (configured or failed). */
static void dev_finish(struct bu_usb_device *dev, int err)
{
	struct bu_usb_bus *bus = dev->bus;
	char path[32];

	dev->t_done_us = bu_core_now(bus);
	dev->wake_us = 0;
	if (err && dev->addr_lock && dev->parent && bu_core_hub_child_failed(dev))
		dev->addr_lock = false; /* the hub holds the lock now */
	addr_unlock(dev);
	if (err) {
		dev->state = BU_DEV_FAILED;
		dev->error = err;
		dev->error_step = step_names[dev->enum_step];
		bus->stats.devices_failed++;
		bu_core_log(bus, BU_LOG_WARN, "device %s: %s failed: %s",
		     bu_core_dev_path(dev, path, sizeof(path)), dev->error_step,
		     bu_strerror(err));
	} else {
		dev->state = BU_DEV_CONFIGURED;
		bus->stats.devices_configured++;
		bu_core_log(bus, BU_LOG_INFO, "device %s: %04x:%04x configured in %llu us",
		     bu_core_dev_path(dev, path, sizeof(path)), dev->desc.idVendor,
		     dev->desc.idProduct,
		     (unsigned long long)(dev->t_done_us - dev->t_start_us));
	}
	if (!err)
		bu_core_bind_device(dev);
	if (bus->enumerating)
		bus->enumerating--;
	bus->stats.t_settled_us = dev->t_done_us;
	if (bus->events.device_added)
		bus->events.device_added(bus->events.ctx, dev);
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
	addr_unlock(dev);
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

/** Go to `step` and run it now. */
static void dev_goto(struct bu_usb_device *dev, enum enum_step step)
{
	dev->enum_step = (uint8_t)step;
	dev_step(dev);
}

/** Wait `us` microseconds, then run `step` (from poll). */
static void dev_sleep(struct bu_usb_device *dev, enum enum_step step, uint32_t us)
{
	dev->enum_step = (uint8_t)step;
	dev->wake_us = bu_core_now(dev->bus) + us;
}

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
	dev_goto(dev, ST_ENABLE);
	return dev;
}

/** Completion of a controller operation during enumeration. */
static void dev_op_done(struct bu_usb_device *dev, void *ctx, int status)
{
	(void)ctx;
	if (dev->state != BU_DEV_ENUMERATING)
		return;
	if (status) {
		dev_finish(dev, status);
		return;
	}
	switch (dev->enum_step) {
	case ST_ENABLE:
		dev_goto(dev, ST_ADDRESS);
		break;
	case ST_ADDRESS:
		/* It has its own address now: another device may reset. */
		addr_unlock(dev);
		dev_sleep(dev, ST_DESC8, T_SETADDR_US);
		break;
	case ST_EP0_UPDATE:
		dev_goto(dev, ST_DESC18);
		break;
	case ST_CONFIGURE:
		dev_goto(dev, ST_SET_CONFIG);
		break;
	default:
		break;
	}
}

/** Completion of the enumeration's control transfer. */
static void dev_ctrl_done(struct bu_usb_xfer *xfer)
{
	struct bu_usb_device *dev = xfer->ctx;

	dev->ctrl_busy = false;
	dev->ctrl_status = xfer->status;
	if (dev->state != BU_DEV_ENUMERATING)
		return;
	dev_step(dev);
}

/** Start a control request for the current step; the step runs again on completion. */
static int dev_ctrl(struct bu_usb_device *dev, uint8_t type, uint8_t req,
		    uint16_t value, uint16_t index, void *buf, uint16_t len)
{
	struct bu_usb_xfer *x = &dev->ctrl;

	bu_memset(x, 0, sizeof(*x));
	x->ep = &dev->ep0;
	x->setup[0] = type;
	x->setup[1] = req;
	x->setup[2] = (uint8_t)value;
	x->setup[3] = (uint8_t)(value >> 8);
	x->setup[4] = (uint8_t)index;
	x->setup[5] = (uint8_t)(index >> 8);
	x->setup[6] = (uint8_t)len;
	x->setup[7] = (uint8_t)(len >> 8);
	x->buf = buf;
	x->len = len;
	x->timeout_ms = T_CTRL_MS;
	x->complete = dev_ctrl_done;
	x->ctx = dev;
	dev->ctrl_busy = true;
	dev->ctrl_len = len;
	return bu_usb_xfer_submit(x);
}

/** GET_DESCRIPTOR(type, index) into buf. */
static int get_desc(struct bu_usb_device *dev, uint8_t type, uint8_t index,
		    uint16_t lang, void *buf, uint16_t len)
{
	return dev_ctrl(dev, USB_DIR_IN | USB_TYPE_STANDARD | USB_RECIP_DEVICE,
			USB_REQ_GET_DESCRIPTOR, (uint16_t)(type << 8 | index), lang,
			buf, len);
}

/** Fail enumeration with a descriptor problem, logging the reason. */
static void dev_bad_desc(struct bu_usb_device *dev, int err, const char *why)
{
	char path[32];

	bu_core_log(dev->bus, BU_LOG_WARN, "device %s: %s: %s",
	     bu_core_dev_path(dev, path, sizeof(path)), step_names[dev->enum_step],
	     why ? why : "malformed");
	dev_finish(dev, err ? err : BU_EBADDESC);
}

/** End the MS OS step: keep what was found, free the scratch state. */
static void dev_msos_end(struct bu_usb_device *dev)
{
	struct bu_usb_bus *bus = dev->bus;

	bu_core_free(bus, dev->msos_fetch, sizeof(struct msos_fetch_state));
	dev->msos_fetch = NULL;
	if (dev->msos && !dev->msos->version) {
		bu_core_free(bus, dev->msos, sizeof(*dev->msos));
		dev->msos = NULL;
	}
	dev->enum_step = ST_DONE;
	dev_finish(dev, 0);
}

/**
 * Microsoft OS 1.0/2.0 descriptors (reference/winusb.md §10-12), read on
 * the enumeration's own asynchronous control transfers with the msos.c
 * sequencer. They are optional: failures end the step, not the device.
 * Requests get a 1 s timeout so a device that ignores them costs little.
 */
static void dev_msos_step(struct bu_usb_device *dev)
{
	struct bu_usb_bus *bus = dev->bus;
	struct msos_fetch_state *st = dev->msos_fetch;
	uint8_t setup[8];
	int len;

	if (!st) {
		if (bus->no_msos) {
			dev_msos_end(dev);
			return;
		}
		st = bu_core_alloc(bus, sizeof(*st));
		dev->msos = bu_core_alloc(bus, sizeof(*dev->msos));
		dev->msos_fetch = st;
		if (!st || !dev->msos) {
			dev_msos_end(dev);
			return;
		}
		bu_msos_fetch_init(&st->f, dev->msos, dev->desc.bcdUSB,
				   (uint8_t)dev->active_config);
	} else {
		dev->ctrl.complete = NULL;
		bu_msos_fetch_feed(&st->f, dev->ctrl_status, st->buf, dev->ctrl.actual);
		if (dev->ctrl_status == BU_ENODEV) {
			dev_msos_end(dev);
			return;
		}
	}
	len = bu_msos_fetch_next(&st->f, setup);
	if (len < 0 || len > (int)sizeof(st->buf)) {
		dev_msos_end(dev);
		return;
	}
	bu_memset(&dev->ctrl, 0, sizeof(dev->ctrl));
	bu_memcpy(dev->ctrl.setup, setup, 8);
	dev->ctrl.ep = &dev->ep0;
	dev->ctrl.buf = len ? st->buf : NULL;
	dev->ctrl.len = (size_t)len;
	dev->ctrl.timeout_ms = 1000;
	dev->ctrl.complete = dev_ctrl_done;
	dev->ctrl.ctx = dev;
	dev->ctrl_busy = true;
	if (bu_usb_xfer_submit(&dev->ctrl)) {
		dev->ctrl_busy = false;
		dev->ctrl.complete = NULL;
		dev_msos_end(dev);
	}
}

/** Forget a BOS that could not be read; enumeration goes on without it. */
static void dev_bos_skip(struct bu_usb_device *dev, int err, const char *why)
{
	char path[32];

	bu_core_free(dev->bus, dev->bos, sizeof(*dev->bos));
	bu_core_free(dev->bus, dev->bos_raw, dev->bos_raw_len);
	dev->bos = NULL;
	dev->bos_raw = NULL;
	dev->bos_raw_len = 0;
	bu_core_log(dev->bus, BU_LOG_DEBUG, "device %s: no BOS (%s%s%s)",
		    bu_core_dev_path(dev, path, sizeof(path)), bu_strerror(err),
		    why ? ": " : "", why ? why : "");
}

/** Patch a stored descriptor set's wTotalLength to the `len` bytes kept. */
static void raw_set_total(uint8_t *raw, uint16_t alloc, size_t len)
{
	if (alloc >= 4) {
		raw[2] = (uint8_t)len;
		raw[3] = (uint8_t)(len >> 8);
	}
}

/**
 * A descriptor set (configuration or BOS) arrived in a buffer sized by its
 * wTotalLength: keep only the `got` bytes that came (a lying device asks
 * for up to 64 KiB and sends 9) and make wTotalLength say so. Returns the
 * kept buffer; *alloc is its size.
 */
static uint8_t *raw_keep(struct bu_usb_bus *bus, uint8_t *raw, uint16_t *alloc, size_t got)
{
	uint8_t *kept;

	if (got < *alloc && got >= 4) {
		kept = bu_core_alloc(bus, got);
		if (kept) {
			bu_memcpy(kept, raw, got);
			bu_core_free(bus, raw, *alloc);
			raw = kept;
			*alloc = (uint16_t)got;
		}
	}
	raw_set_total(raw, *alloc, BU_MIN(got, (size_t)*alloc));
	return raw;
}

/** Parse configuration `i` from its raw bytes into allocated arrays. */
static int dev_parse_config(struct bu_usb_device *dev, unsigned i, size_t len,
			    const char **why)
{
	struct bu_usb_bus *bus = dev->bus;
	struct bu_usb_config_info *cfg = &dev->configs[i];
	uint16_t na = 0, ne = 0, ni = 0;
	int rc;

	rc = bu_desc_count_config(dev->config_raw[i], len, &na, &ne, &ni, why);
	if (rc)
		return rc;
	na = BU_MIN(na, (uint16_t)BU_USB_MAX_ALTS);
	ne = BU_MIN(ne, (uint16_t)BU_USB_MAX_EPS);
	ni = BU_MIN(ni, (uint16_t)BU_USB_MAX_IADS);
	cfg->alts = na ? bu_core_alloc(bus, na * sizeof(*cfg->alts)) : NULL;
	cfg->eps = ne ? bu_core_alloc(bus, ne * sizeof(*cfg->eps)) : NULL;
	cfg->iads = ni ? bu_core_alloc(bus, ni * sizeof(*cfg->iads)) : NULL;
	dev->config_alloc[i][0] = na;
	dev->config_alloc[i][1] = ne;
	dev->config_alloc[i][2] = ni;
	if ((na && !cfg->alts) || (ne && !cfg->eps) || (ni && !cfg->iads))
		return BU_ENOMEM;
	{
		struct bu_usb_alt_info *alts = cfg->alts;
		struct bu_usb_ep_info *eps = cfg->eps;
		struct bu_usb_iad_info *iads = cfg->iads;

		rc = bu_desc_parse_config(dev->config_raw[i], len, dev->speed, cfg,
					  alts, na, eps, ne, iads, ni, why);
		/* Keep our allocations reachable for free whatever happened. */
		cfg->alts = alts;
		cfg->eps = eps;
		cfg->iads = iads;
	}
	return rc;
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

/** Open the endpoints of alternate setting 0 of every interface of config `ci`. */
static void dev_open_endpoints(struct bu_usb_device *dev, unsigned ci)
{
	const struct bu_usb_config_info *cfg = &dev->configs[ci];

	for (unsigned a = 0; a < cfg->num_alts; a++)
		if (cfg->alts[a].alt == 0)
			bu_core_open_alt(dev, cfg, &cfg->alts[a]);
}

/** Read the next string the device names (manufacturer, product, serial). */
static bool dev_next_string(struct bu_usb_device *dev)
{
	static const uint8_t none = 0;

	while (dev->str_step < 3) {
		const uint8_t *idx = dev->str_step == 0 ? &dev->desc.iManufacturer
				   : dev->str_step == 1 ? &dev->desc.iProduct
							: &dev->desc.iSerialNumber;

		if (!dev->langid)
			idx = &none;
		if (*idx) {
			if (get_desc(dev, USB_DT_STRING, *idx, dev->langid,
				     dev->ctrl_buf, 255) == 0)
				return true;
		}
		dev->str_step++;
	}
	return false;
}

/** Store the string just read for str_step. */
static void dev_store_string(struct bu_usb_device *dev)
{
	char *out;
	bool *have;
	size_t size;
	const char *why = NULL;

	switch (dev->str_step) {
	case 0:
		out = dev->manufacturer;
		have = &dev->have_manufacturer;
		size = sizeof(dev->manufacturer);
		break;
	case 1:
		out = dev->product;
		have = &dev->have_product;
		size = sizeof(dev->product);
		break;
	default:
		out = dev->serial;
		have = &dev->have_serial;
		size = sizeof(dev->serial);
		break;
	}
	if (bu_desc_string_to_utf8(dev->ctrl_buf, dev->ctrl.actual, out, size,
				   &why) >= 0) {
		*have = true;
	} else {
		char path[32];

		bu_core_log(dev->bus, BU_LOG_WARN, "device %s: string %u ignored: %s",
		     bu_core_dev_path(dev, path, sizeof(path)), dev->str_step,
		     why ? why : "malformed");
	}
}

/**
 * Run the current enumeration step. Steps that wait for the device or the
 * controller return and are re-entered from the completion.
 */
static void dev_step(struct bu_usb_device *dev)
{
	struct bu_usb_bus *bus = dev->bus;
	const char *why = NULL;
	int rc = 0;

	if (dev->state != BU_DEV_ENUMERATING)
		return;
	switch (dev->enum_step) {
	case ST_ENABLE:
		rc = bus->ops->dev_enable(dev, dev_op_done, NULL);
		break;
	case ST_ADDRESS:
		rc = bus->ops->dev_address(dev, dev_op_done, NULL);
		break;
	case ST_ADDR_RECOVERY:
		break;
	case ST_DESC8:
		if (!dev->ctrl_busy && dev->ctrl.complete == NULL) {
			rc = get_desc(dev, USB_DT_DEVICE, 0, 0, dev->ctrl_buf, 8);
			break;
		}
		if (dev->ctrl_status) {
			rc = dev->ctrl_status;
			break;
		}
		rc = bu_desc_device_mps0(dev->ctrl_buf, dev->ctrl.actual, dev->speed, &why);
		if (rc < 0) {
			dev_bad_desc(dev, rc, why);
			return;
		}
		dev->ctrl.complete = NULL;
		if ((unsigned)rc != dev->ep0.mps) {
			dev->ep0.mps = (uint16_t)rc;
			dev->enum_step = ST_EP0_UPDATE;
			rc = bus->ops->dev_update_ep0(dev, dev_op_done, NULL);
			break;
		}
		dev_goto(dev, ST_DESC18);
		return;
	case ST_EP0_UPDATE:
		break;
	case ST_DESC18:
		if (!dev->ctrl_busy && dev->ctrl.complete == NULL) {
			rc = get_desc(dev, USB_DT_DEVICE, 0, 0, dev->ctrl_buf,
				      USB_DT_DEVICE_SIZE);
			break;
		}
		dev->ctrl.complete = NULL;
		if (dev->ctrl_status) {
			rc = dev->ctrl_status;
			break;
		}
		rc = bu_desc_parse_device(dev->ctrl_buf, dev->ctrl.actual, &dev->desc, &why);
		if (rc) {
			dev_bad_desc(dev, rc, why);
			return;
		}
		dev->have_desc = true;
		dev->num_configs = 0;
		dev_goto(dev, ST_CONFIG_HDR);
		return;
	case ST_CONFIG_HDR:
		if (!dev->ctrl_busy && dev->ctrl.complete == NULL) {
			if (dev->num_configs >= dev->desc.bNumConfigurations ||
			    dev->num_configs >= BU_USB_MAX_CONFIGS) {
				dev_goto(dev, ST_BOS_HDR);
				return;
			}
			rc = get_desc(dev, USB_DT_CONFIG, dev->num_configs, 0,
				      dev->ctrl_buf, USB_DT_CONFIG_SIZE);
			break;
		}
		dev->ctrl.complete = NULL;
		if (dev->ctrl_status == BU_ESTALL && dev->num_configs > 0) {
			/* It has fewer configurations than it claims: keep
			 * those read (usb-facts §3.1). */
			dev_goto(dev, ST_BOS_HDR);
			return;
		}
		if (dev->ctrl_status) {
			rc = dev->ctrl_status;
			break;
		}
		rc = bu_desc_total_length(dev->ctrl_buf, dev->ctrl.actual, USB_DT_CONFIG, &why);
		if (rc < 0) {
			dev_bad_desc(dev, rc, why);
			return;
		}
		{
			unsigned i = dev->num_configs;
			uint16_t total = (uint16_t)BU_MIN((unsigned)rc, (unsigned)BU_USB_MAX_CONFIG_LEN);

			dev->config_raw[i] = bu_core_alloc(bus, total);
			if (!dev->config_raw[i]) {
				rc = BU_ENOMEM;
				break;
			}
			dev->config_raw_len[i] = total;
			dev->enum_step = ST_CONFIG_FULL;
			rc = get_desc(dev, USB_DT_CONFIG, (uint8_t)i, 0,
				      dev->config_raw[i], total);
		}
		break;
	case ST_CONFIG_FULL: {
		unsigned i = dev->num_configs;

		dev->ctrl.complete = NULL;
		if (dev->ctrl_status) {
			rc = dev->ctrl_status;
			break;
		}
		dev->config_raw[i] = raw_keep(bus, dev->config_raw[i], &dev->config_raw_len[i],
					      dev->ctrl.actual);
		rc = dev_parse_config(dev, i, BU_MIN(dev->ctrl.actual, dev->config_raw_len[i]), &why);
		/* What applications get (WinUsb_GetDescriptor) describes itself. */
		if (!rc)
			raw_set_total(dev->config_raw[i], dev->config_raw_len[i],
				      dev->configs[i].total_len);
		if (rc) {
			dev_bad_desc(dev, rc, why);
			return;
		}
		if (dev->configs[i].warnings)
			bu_core_log(bus, BU_LOG_DEBUG, "configuration %u: %u irregularities (%s)",
			     i, dev->configs[i].warnings, why ? why : "");
		dev->num_configs++;
		dev_goto(dev, ST_CONFIG_HDR);
		return;
	}
	case ST_BOS_HDR:
		/* USB 3.2 §9.6.2: devices with bcdUSB >= 2.01 have a BOS. It is
		 * optional information: any failure only skips it. */
		if (!dev->ctrl_busy && dev->ctrl.complete == NULL) {
			if (dev->desc.bcdUSB < 0x0201) {
				dev_goto(dev, ST_LANGID);
				return;
			}
			rc = get_desc(dev, USB_DT_BOS, 0, 0, dev->ctrl_buf, USB_DT_BOS_SIZE);
			break;
		}
		dev->ctrl.complete = NULL;
		rc = dev->ctrl_status ? dev->ctrl_status
				      : bu_desc_total_length(dev->ctrl_buf, dev->ctrl.actual,
							     USB_DT_BOS, &why);
		if (rc >= 0) {
			uint16_t total = (uint16_t)BU_MIN((unsigned)rc, 4096u);

			dev->bos_raw = bu_core_alloc(bus, total);
			if (dev->bos_raw) {
				dev->bos_raw_len = total;
				dev->enum_step = ST_BOS_FULL;
				rc = get_desc(dev, USB_DT_BOS, 0, 0, dev->bos_raw, total);
				if (!rc)
					break;
			} else {
				rc = BU_ENOMEM;
			}
		}
		dev_bos_skip(dev, rc, why);
		dev_goto(dev, ST_LANGID);
		return;
	case ST_BOS_FULL:
		dev->ctrl.complete = NULL;
		rc = dev->ctrl_status;
		if (!rc) {
			dev->bos_raw = raw_keep(bus, dev->bos_raw, &dev->bos_raw_len,
						dev->ctrl.actual);
			dev->bos = bu_core_alloc(bus, sizeof(*dev->bos));
			rc = dev->bos ? bu_desc_parse_bos(dev->bos_raw,
							  BU_MIN(dev->ctrl.actual, dev->bos_raw_len),
							  dev->bos, &why)
				      : BU_ENOMEM;
			if (!rc)
				raw_set_total(dev->bos_raw, dev->bos_raw_len, dev->bos->total_len);
		}
		if (rc)
			dev_bos_skip(dev, rc, why);
		dev_goto(dev, ST_LANGID);
		return;
	case ST_LANGID:
		if (!dev->ctrl_busy && dev->ctrl.complete == NULL) {
			if (!dev->desc.iManufacturer && !dev->desc.iProduct &&
			    !dev->desc.iSerialNumber) {
				dev_goto(dev, ST_CONFIGURE);
				return;
			}
			rc = get_desc(dev, USB_DT_STRING, 0, 0, dev->ctrl_buf, 255);
			break;
		}
		dev->ctrl.complete = NULL;
		/* USB 2.0 §9.6.7: a device without strings may STALL here. */
		if (dev->ctrl_status ||
		    bu_desc_first_langid(dev->ctrl_buf, dev->ctrl.actual, &dev->langid, &why))
			dev->langid = 0;
		dev->str_step = 0;
		dev->enum_step = ST_STRINGS;
		if (!dev_next_string(dev))
			dev_goto(dev, ST_CONFIGURE);
		return;
	case ST_STRINGS:
		dev->ctrl.complete = NULL;
		if (!dev->ctrl_status)
			dev_store_string(dev);
		dev->str_step++;
		if (!dev_next_string(dev))
			dev_goto(dev, ST_CONFIGURE);
		return;
	case ST_CONFIGURE:
		if (!dev->num_configs) {
			rc = BU_ENOENT;
			break;
		}
		dev->active_config = 0;
		if (bus->events.choose_config) {
			int c = bus->events.choose_config(bus->events.ctx, dev);

			if (c >= 0 && c < dev->num_configs)
				dev->active_config = c;
		}
		/* USB 2.0 §9.4.7: SET_CONFIGURATION(0) unconfigures, so a
		 * configuration numbered 0 cannot be selected; take another. */
		for (unsigned i = 0; dev->configs[dev->active_config].value == 0; i++) {
			if (i >= dev->num_configs) {
				dev_bad_desc(dev, BU_EBADDESC,
					     "no configuration with a bConfigurationValue other than 0");
				return;
			}
			dev->active_config = (int)i;
		}
		dev_open_endpoints(dev, (unsigned)dev->active_config);
		rc = bus->ops->dev_configure(dev, 0, dev_op_done, NULL);
		break;
	case ST_SET_CONFIG:
		if (!dev->ctrl_busy && dev->ctrl.complete == NULL) {
			rc = dev_ctrl(dev, USB_DIR_OUT | USB_TYPE_STANDARD | USB_RECIP_DEVICE,
				      USB_REQ_SET_CONFIGURATION,
				      dev->configs[dev->active_config].value, 0, NULL, 0);
			break;
		}
		dev->ctrl.complete = NULL;
		if (dev->ctrl_status) {
			rc = dev->ctrl_status;
			break;
		}
		dev->config_value = dev->configs[dev->active_config].value;
		dev_goto(dev, ST_MSOS);
		return;
	case ST_MSOS:
		dev_msos_step(dev);
		return;
	default:
		break;
	}
	if (rc)
		dev_finish(dev, rc);
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
				dev_finish(d, BU_ESHUTDOWN);
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
			dev_step(d);
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
