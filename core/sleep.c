/*
 * System sleep of a whole bus (bu_usb_bus_suspend / bu_usb_bus_resume):
 * the embedder's suspend-to-RAM path. Built on selective suspend (pm.c):
 * every configured device is suspended through it, leaves before their
 * hubs, with remote wakeup armed only where the device may wake the
 * system; then the controller driver stops the controller and saves its
 * state (xHCI 1.2 §4.23.2). On the way back the controller driver
 * restores it, or, when the restore fails (USBSTS.SRE) or power was lost,
 * sets the controller up from scratch; then each device is resumed and
 * re-validated (its descriptors read back and compared), or removed and
 * enumerated again, and the embedder is told which
 * (bu_usb_bus_events.device_resumed).
 *
 * Both calls are synchronous and bounded: a system sleep transition is a
 * synchronous step in every OS (the embedder's own suspend callback), and
 * each step here waits in the core's one wait loop with a deadline. While
 * the bus is asleep, bu_usb_bus_poll only looks for a wake.
 *
 * Reading order: state and the hooks the other core files call, the
 * wake check, suspend, re-validation, resume, the small accessors.
 */
#include "core_priv.h"

#include "bareusb/util.h"

enum sleep_state {
	SLEEP_AWAKE = 0,
	SLEEP_SUSPENDING, /* devices being suspended, the controller stopped */
	SLEEP_ASLEEP,     /* the controller halted, its state saved */
	SLEEP_RESUMING,   /* the controller back; devices being resumed and checked */
};

/* Enumerations under way finish first: a port reset (500 ms) and a few
 * requests (USB 2.0 §9.2.6.4: 5 s each at most). */
#define SLEEP_SETTLE_US (3ull * BU_USB_REQUEST_TIMEOUT_MS * 1000)
/* Suspending every device: arming requests and hub port requests, each
 * bounded by the request limit, mostly in parallel. */
#define SLEEP_SUSPEND_US (2ull * BU_USB_REQUEST_TIMEOUT_MS * 1000)
/* The controller driver stops once its command ring is idle. */
#define SLEEP_STOP_US 1000000ull
/* Resuming every device: per hub tier TDRSMDN (20 ms) and TRSMRCY
 * (10 ms, USB 2.0 §7.1.7.7) plus the hub's requests; 5 tiers. */
#define SLEEP_RESUME_US 3000000ull

static struct bu_core_bus *sleep_core(const struct bu_usb_bus *bus)
{
	return bus->core;
}

bool bu_core_sleep_holding(const struct bu_usb_bus *bus)
{
	return bus->core && (bus->core->sleep_state == SLEEP_SUSPENDING ||
			     bus->core->sleep_state == SLEEP_ASLEEP);
}

bool bu_core_sleep_asleep(const struct bu_usb_bus *bus)
{
	return bus->core && bus->core->sleep_state == SLEEP_ASLEEP;
}

/** `d` is below `hub` (its path starts with the hub's). */
static bool sleep_below(const struct bu_usb_device *d, const struct bu_usb_device *hub)
{
	if (d->tier <= hub->tier)
		return false;
	for (unsigned i = 0; i < hub->tier && i < BU_USB_MAX_PATH; i++)
		if (d->path[i] != hub->path[i])
			return false;
	return true;
}

bool bu_core_sleep_may_arm(const struct bu_usb_device *dev)
{
	const struct bu_usb_bus *bus = dev->bus;

	if (!bus->core || bus->core->sleep_state != SLEEP_SUSPENDING)
		return true;
	if (bu_core_dev(dev)->sys_wake)
		return true;
	if (!dev->is_hub)
		return false;
	/* A hub passes a wake up only when armed itself (USB 2.0 §11.4.4). */
	for (const struct bu_usb_device *d = bus->devices; d; d = d->next)
		if (d->state != BU_DEV_GONE && bu_core_dev(d)->sys_wake && sleep_below(d, dev))
			return true;
	return false;
}

/** Tell the embedder how `dev` came back; once per device. */
static void sleep_tell(struct bu_usb_device *dev, int how)
{
	struct bu_usb_bus *bus = dev->bus;
	struct bu_usb_sleep_report *r = &sleep_core(bus)->sleep_report;

	bu_core_dev(dev)->sleep_member = false;
	if (how == BU_RESUME_REVALIDATED)
		r->revalidated++;
	else if (how == BU_RESUME_REENUMERATED)
		r->reenumerated++;
	else
		r->gone++;
	if (bus->events.device_resumed)
		bus->events.device_resumed(bus->events.ctx, dev, how);
}

void bu_core_sleep_removed(struct bu_usb_device *dev)
{
	if (sleep_core(dev->bus)->sleep_report.wake_dev == dev)
		sleep_core(dev->bus)->sleep_report.wake_dev = NULL;
	if (!bu_core_dev(dev)->sleep_member)
		return;
	/* Removed while resuming: a lost controller state re-enumerates
	 * everything; otherwise its port no longer had it. */
	sleep_tell(dev, sleep_core(dev->bus)->sleep_lost ? BU_RESUME_REENUMERATED
							  : BU_RESUME_GONE);
}

/* ======================================================================== */
/* Wake                                                                     */
/* ======================================================================== */

/** Ask the controller driver whether a root port signals a wake; keep the first. */
static unsigned sleep_wake_check(struct bu_usb_bus *bus)
{
	struct bu_usb_sleep_report *r = &sleep_core(bus)->sleep_report;
	enum bu_usb_wake_kind kind = BU_WAKE_NONE;
	unsigned port;

	if (!bus->ops->bus_wake_check)
		return 0;
	port = bus->ops->bus_wake_check(bus, &kind);
	if (port && !r->wake_port) {
		r->wake = kind;
		r->wake_port = (uint8_t)port;
		bu_core_log(bus, BU_LOG_INFO, "system wake: root port %u (%s)", port,
			    kind == BU_WAKE_REMOTE ? "remote wakeup" : "port change");
	}
	return port;
}

void bu_core_sleep_poll(struct bu_usb_bus *bus)
{
	sleep_wake_check(bus);
}

unsigned bu_usb_bus_wake_check(struct bu_usb_bus *bus)
{
	unsigned port = 0;

	if (!bus || !bus->core)
		return 0;
	bu_usb_bus_lock(bus);
	if (bu_core_sleep_asleep(bus))
		port = sleep_wake_check(bus);
	bu_usb_bus_unlock(bus);
	return port;
}

/* ======================================================================== */
/* Suspend                                                                  */
/* ======================================================================== */

/** bu_usb_bus_wait's done(): no enumeration is under way. */
static bool sleep_settled(void *arg)
{
	return bu_usb_bus_idle(arg);
}

/** Whether a suspend of `dev` arms its remote wakeup (as pm.c decides). */
static bool sleep_wants_armed(const struct bu_usb_device *dev)
{
	return dev->active_config >= 0 &&
	       (dev->configs[dev->active_config].attributes & 0x20) && bu_core_sleep_may_arm(dev);
}

/**
 * bu_usb_bus_wait's done() that also drives the suspend: every configured
 * device not yet suspended is asked to (pm.c refuses a hub with active
 * devices below it, and one with work queued, until they are done), and
 * one suspended with remote wakeup armed that may not wake the system is
 * resumed to be suspended again disarmed. True once all are suspended.
 */
static bool sleep_suspend_step(void *arg)
{
	struct bu_usb_bus *bus = arg;
	struct bu_usb_device *d;
	bool all = true;

	for (d = bus->devices; d; d = d->next) {
		bool armed;

		if (d->state != BU_DEV_CONFIGURED)
			continue;
		if (bu_core_pm_settled(d, &armed)) {
			if (armed && !sleep_wants_armed(d)) {
				bu_usb_device_suspend(d, false);
				all = false;
			}
			continue;
		}
		all = false;
		if (!bu_usb_device_suspended(d))
			bu_usb_device_suspend(d, true); /* BU_EBUSY: again next time */
	}
	return all;
}

/** bu_usb_bus_suspend's stop step and its answer. */
struct sleep_stop {
	struct bu_usb_bus *bus;
	int rc;
};

/** bu_usb_bus_wait's done(): the controller stopped, or refused for good. */
static bool sleep_stop_step(void *arg)
{
	struct sleep_stop *s = arg;

	s->rc = s->bus->ops->bus_suspend(s->bus, sleep_core(s->bus)->sleep_wake);
	return s->rc != BU_EBUSY;
}

/** The suspend did not get through: every suspended device is resumed. */
static void sleep_undo(struct bu_usb_bus *bus)
{
	sleep_core(bus)->sleep_state = SLEEP_AWAKE;
	for (struct bu_usb_device *d = bus->devices; d; d = d->next)
		if (d->state == BU_DEV_CONFIGURED && bu_usb_device_suspended(d))
			bu_usb_device_suspend(d, false);
}

/** bu_usb_bus_suspend under the bus lock. */
static int sleep_suspend(struct bu_usb_bus *bus, unsigned wake)
{
	struct bu_core_bus *core = sleep_core(bus);
	uint64_t t0 = bu_core_now(bus);
	struct sleep_stop stop = { bus, 0 };
	int rc;

	if (bu_core_in_callback(bus) || core->sleep_state != SLEEP_AWAKE)
		return BU_EBUSY;
	if (bus->failed)
		return BU_ESHUTDOWN;
	if (!bus->ops->bus_suspend || !bus->ops->bus_resume || !bus->ops->bus_reinit ||
	    !bus->ops->port_set_link)
		return BU_ENOTSUP;
	rc = bu_usb_bus_wait(bus, sleep_settled, bus, t0 + SLEEP_SETTLE_US);
	if (rc)
		return rc == BU_ETIMEDOUT ? BU_EBUSY : rc;
	bu_memset(&core->sleep_report, 0, sizeof(core->sleep_report));
	core->sleep_wake = wake;
	core->sleep_state = SLEEP_SUSPENDING;
	rc = bu_usb_bus_wait(bus, sleep_suspend_step, bus, bu_core_now(bus) + SLEEP_SUSPEND_US);
	if (!rc)
		rc = bu_usb_bus_wait(bus, sleep_stop_step, &stop, bu_core_now(bus) + SLEEP_STOP_US);
	if (!rc)
		rc = stop.rc < 0 ? stop.rc : 0;
	if (rc) {
		bu_core_log(bus, BU_LOG_WARN, "bus suspend failed: %s", bu_strerror(rc));
		sleep_undo(bus);
		return rc == BU_ETIMEDOUT ? BU_EBUSY : rc;
	}
	for (struct bu_usb_device *d = bus->devices; d; d = d->next)
		bu_core_dev(d)->sleep_member = true;
	core->sleep_state = SLEEP_ASLEEP;
	core->sleep_ever = true;
	core->sleep_report.saved = stop.rc == 0;
	core->sleep_report.suspend_us = (uint32_t)(bu_core_now(bus) - t0);
	bu_core_log(bus, BU_LOG_INFO, "bus suspended in %u us (state %s)",
		    core->sleep_report.suspend_us, stop.rc == 0 ? "saved" : "not saved");
	return 0;
}

int bu_usb_bus_suspend(struct bu_usb_bus *bus, unsigned wake)
{
	int rc;

	if (!bus || !bus->core || (wake & ~(BU_SLEEP_WAKE_CONNECT | BU_SLEEP_WAKE_DISCONNECT |
					   BU_SLEEP_WAKE_OVERCURRENT)))
		return BU_EINVAL;
	BU_UNDER_LOCK(bus, rc = sleep_suspend(bus, wake));
	return rc;
}

/* ======================================================================== */
/* Re-validation                                                            */
/* ======================================================================== */

/** The device descriptor read back says what was enumerated. */
static bool sleep_same_device(const struct bu_usb_device *dev, const uint8_t *d)
{
	const struct usb_device_descriptor *e = &dev->desc;

	return d[0] == 18 && d[1] == USB_DT_DEVICE && bu_get_le16(d + 2) == e->bcdUSB &&
	       d[4] == e->bDeviceClass && d[5] == e->bDeviceSubClass &&
	       d[6] == e->bDeviceProtocol && d[7] == e->bMaxPacketSize0 &&
	       bu_get_le16(d + 8) == e->idVendor && bu_get_le16(d + 10) == e->idProduct &&
	       bu_get_le16(d + 12) == e->bcdDevice && d[14] == e->iManufacturer &&
	       d[15] == e->iProduct && d[16] == e->iSerialNumber &&
	       d[17] == e->bNumConfigurations;
}

/**
 * Read the device descriptor and the active configuration back and
 * compare them with what enumeration kept (Linux's usb_reset_and_verify
 * compares the same). 0 when they match; BU_ENODEV when the device went
 * away meanwhile (then `dev` must not be used); another error when it
 * did not answer or answered differently (BU_EBADDESC).
 */
static __attribute__((noinline)) int sleep_revalidate(struct bu_usb_device *dev)
{
	struct bu_usb_bus *bus = dev->bus;
	const struct bu_usb_config_info *c;
	struct bu_usb_dma_buf b = { 0 };
	size_t len = 18;
	int rc;

	if (dev->state != BU_DEV_CONFIGURED || !dev->have_desc || dev->active_config < 0)
		return BU_EBADDESC;
	c = &dev->configs[dev->active_config];
	if (c->total_len > len)
		len = c->total_len;
	if (bu_usb_dma_buf_alloc(bus, &b, len))
		return BU_ENOMEM;
	rc = bu_core_control(dev, USB_DIR_IN | USB_TYPE_STANDARD | USB_RECIP_DEVICE,
			     USB_REQ_GET_DESCRIPTOR, USB_DT_DEVICE << 8, 0, NULL, &b, 18, 0);
	if (rc >= 0)
		rc = rc == 18 && sleep_same_device(dev, b.cpu) ? 0 : BU_EBADDESC;
	if (!rc) {
		rc = bu_core_control(dev, USB_DIR_IN | USB_TYPE_STANDARD | USB_RECIP_DEVICE,
				     USB_REQ_GET_DESCRIPTOR,
				     (uint16_t)(USB_DT_CONFIG << 8 | dev->active_config), 0, NULL,
				     &b, c->total_len, 0);
		if (rc >= 0)
			rc = rc == c->total_len && !bu_memcmp(b.cpu, c->raw, c->total_len)
				     ? 0
				     : BU_EBADDESC;
	}
	bu_usb_dma_buf_free(bus, &b);
	return rc;
}

/** Its verdict goes to every device below `dev` too: they go with it. */
static void sleep_reenumerate(struct bu_usb_device *dev)
{
	struct bu_usb_bus *bus = dev->bus;

	for (struct bu_usb_device *d = bus->devices; d; d = d->next)
		if (bu_core_dev(d)->sleep_member && sleep_below(d, dev))
			sleep_tell(d, BU_RESUME_REENUMERATED);
	sleep_tell(dev, BU_RESUME_REENUMERATED);
	/* A port reset enumerates whatever is there as a new device. */
	if (bu_usb_device_reset(dev))
		bu_core_dev_remove(bus, dev);
}

/** The next device still to re-validate: the lowest tier first (hubs before what is below). */
static struct bu_usb_device *sleep_next(struct bu_usb_bus *bus)
{
	struct bu_usb_device *best = NULL;

	for (struct bu_usb_device *d = bus->devices; d; d = d->next)
		if (bu_core_dev(d)->sleep_member && (!best || d->tier < best->tier))
			best = d;
	return best;
}

/** Re-validate every device still there, hubs first. */
static void sleep_revalidate_all(struct bu_usb_bus *bus)
{
	struct bu_usb_device *d;

	while ((d = sleep_next(bus)) != NULL) {
		int rc = sleep_revalidate(d);

		if (rc == BU_ENODEV)
			continue; /* removed meanwhile: told as gone */
		if (!rc) {
			sleep_tell(d, BU_RESUME_REVALIDATED);
			continue;
		}
		bu_core_log(bus, BU_LOG_INFO, "device at port %u tier %u not re-validated (%s)",
			    d->port, d->tier, bu_strerror(rc));
		sleep_reenumerate(d);
	}
}

/* ======================================================================== */
/* Resume                                                                   */
/* ======================================================================== */

/**
 * bu_usb_bus_wait's done() that also drives the resume, from the root
 * down: a suspended device is resumed once the hub above it is back and
 * has read its ports (pm.c has a resumed hub look at its suspended ports
 * at once, which is how a remote wakeup from below it is told from the
 * host's own resume). True once no device is suspended or resuming.
 */
static bool sleep_resume_step(void *arg)
{
	struct bu_usb_bus *bus = arg;
	bool all = true;

	for (struct bu_usb_device *d = bus->devices; d; d = d->next) {
		if (d->state != BU_DEV_CONFIGURED || !bu_usb_device_suspended(d))
			continue;
		all = false;
		if (bu_core_pm_settled(d, NULL) &&
		    (!d->parent ||
		     (!bu_usb_device_suspended(d->parent) && !bu_core_hub_busy(d->parent))))
			bu_usb_device_suspend(d, false);
	}
	return all;
}

/** Which device's remote wakeup woke the bus: the deepest that reported one. */
static void sleep_find_waker(struct bu_usb_bus *bus)
{
	struct bu_usb_sleep_report *r = &sleep_core(bus)->sleep_report;
	struct bu_usb_device *best = NULL;

	if (r->wake != BU_WAKE_REMOTE)
		return;
	for (struct bu_usb_device *d = bus->devices; d; d = d->next)
		if (d->root_port == r->wake_port && bu_core_dev(d)->pm_by_device &&
		    (!best || d->tier > best->tier))
			best = d;
	r->wake_dev = best;
	if (best) {
		bu_memcpy(r->wake_path, best->path, sizeof(r->wake_path));
		r->wake_tier = best->tier;
	} else {
		r->wake_path[0] = r->wake_port;
		r->wake_tier = 1;
	}
}

/** The controller's state is gone: every device goes, the controller starts afresh. */
static int sleep_reinit(struct bu_usb_bus *bus)
{
	int rc;

	sleep_core(bus)->sleep_lost = true;
	while (bus->devices) {
		struct bu_usb_device *d = bus->devices;

		while (d->parent)
			d = d->parent;
		bu_core_dev_remove(bus, d);
	}
	sleep_core(bus)->sleep_lost = false;
	rc = bus->ops->bus_reinit(bus);
	if (rc)
		return rc;
	bu_core_root_rescan(bus, true);
	return 0;
}

/** bu_usb_bus_resume under the bus lock. */
static int sleep_resume(struct bu_usb_bus *bus)
{
	struct bu_core_bus *core = sleep_core(bus);
	struct bu_usb_sleep_report *r = &core->sleep_report;
	uint64_t t0 = bu_core_now(bus);
	int rc;

	if (bu_core_in_callback(bus))
		return BU_EBUSY;
	if (core->sleep_state != SLEEP_ASLEEP)
		return BU_EINVAL;
	sleep_wake_check(bus);
	core->sleep_state = SLEEP_RESUMING;
	/* Listeners and drivers are told from here, as from poll. */
	core->callback_depth++;
	rc = bus->ops->bus_resume(bus);
	if (rc == 1) {
		bu_core_log(bus, BU_LOG_INFO, "controller state lost: re-initialising");
		rc = sleep_reinit(bus);
	} else if (rc == 0) {
		r->restored = true;
		/* Unplugged and swapped devices leave here; a remote wakeup
		 * on a root port starts that device's resume. */
		bu_core_root_rescan(bus, false);
	}
	core->callback_depth--;
	if (rc) {
		core->sleep_state = SLEEP_AWAKE;
		bu_core_log(bus, BU_LOG_ERR, "bus resume failed: %s", bu_strerror(rc));
		return rc;
	}
	if (r->restored) {
		/* A device that does not come back in time is re-validated
		 * anyway: its requests then fail and it is enumerated again. */
		bu_usb_bus_wait(bus, sleep_resume_step, bus, bu_core_now(bus) + SLEEP_RESUME_US);
		sleep_revalidate_all(bus);
		sleep_find_waker(bus);
	} else if (r->wake_port) {
		r->wake_path[0] = r->wake_port;
		r->wake_tier = 1;
	}
	core->sleep_state = SLEEP_AWAKE;
	r->resume_us = (uint32_t)(bu_core_now(bus) - t0);
	bu_core_log(bus, BU_LOG_INFO,
		    "bus resumed in %u us (%s): %u re-validated, %u re-enumerated, %u gone",
		    r->resume_us, r->restored ? "restored" : "re-initialised", r->revalidated,
		    r->reenumerated, r->gone);
	return 0;
}

int bu_usb_bus_resume(struct bu_usb_bus *bus)
{
	int rc;

	if (!bus || !bus->core)
		return BU_EINVAL;
	BU_UNDER_LOCK(bus, rc = sleep_resume(bus));
	return rc;
}

/* ======================================================================== */
/* Accessors                                                                */
/* ======================================================================== */

bool bu_usb_bus_asleep(const struct bu_usb_bus *bus)
{
	return bus && bu_core_sleep_asleep(bus);
}

int bu_usb_bus_wake_source(struct bu_usb_bus *bus, struct bu_usb_sleep_report *out)
{
	int rc = 0;

	if (!bus || !bus->core || !out)
		return BU_EINVAL;
	bu_usb_bus_lock(bus);
	if (!sleep_core(bus)->sleep_ever)
		rc = BU_ENOENT;
	else
		*out = sleep_core(bus)->sleep_report;
	bu_usb_bus_unlock(bus);
	return rc;
}

int bu_usb_device_set_system_wake(struct bu_usb_device *dev, bool enable)
{
	int rc = 0;

	if (!dev)
		return BU_EINVAL;
	bu_usb_bus_lock(dev->bus);
	if (dev->state == BU_DEV_GONE)
		rc = BU_ENODEV;
	else
		bu_core_dev(dev)->sys_wake = enable;
	bu_usb_bus_unlock(dev->bus);
	return rc;
}

bool bu_usb_device_system_wake(const struct bu_usb_device *dev)
{
	return dev && bu_core_dev(dev)->sys_wake;
}
