/*
 * Selective suspend (USB 2.0 §7.1.7.6-7.1.7.7, §11.9; xHCI §4.15.2) of
 * devices on root ports and on hub ports at any tier. Asynchronous: every
 * step is a link-state write or a request the hub driver sends (hub.c:
 * PORT_SUSPEND on USB 2 hubs, PORT_LINK_STATE on USB 3 hubs) and a timer
 * checked from bu_usb_bus_poll(), so it may be driven from completion
 * callbacks (the WinUSB power policy does). Transfers submitted while a
 * device is suspended or resuming are held here and go to the controller,
 * in order, once the link is back and recovered. A hub is suspended only
 * when every device below it is; the request that resumes a port below a
 * suspended hub is itself a held transfer of that hub, so a resume
 * anywhere resumes the chain above it first, from the root down.
 *
 * A wake arrives three ways: a root port entering Resume with a link
 * change (xHCI §4.15.2.3), a hub reporting the port's resume
 * (C_PORT_SUSPEND, C_PORT_LINK_STATE), and at SuperSpeed the woken
 * function's Function Wake Device Notification (USB 3.2 §8.5.6.1), which
 * the controller driver hands over through bu_usb_bus_function_wake and
 * which names the interface (bu_usb_device_wake_interface).
 */
#include "core_priv.h"

#include "bareusb/desc.h"
#include "bareusb/util.h"

#include "timing.h"

enum pm_state {
	PM_ACTIVE = 0,
	PM_ARMING,          /* remote wakeup being enabled before the suspend */
	PM_STOPPING,        /* IN endpoints with queued reads being stopped */
	PM_SUSPENDING,      /* behind a hub: the port suspend request is out */
	PM_SUSPENDED,
	PM_RESUME_SIGNAL,   /* root USB 2: Resume driven, then U0; hub port: resume under way */
	PM_RESUME_RECOVERY, /* link back in U0: TRSMRCY before traffic */
};


/*
 * A hub port's resume is over once its status says so; it is read every
 * T_RESET_POLL_US from TDRSMDN on, this many times at most before the
 * device is let go anyway (its hub does not report the end).
 */
#define PM_MAX_CHECKS 50

bool bu_usb_device_suspended(const struct bu_usb_device *dev)
{
	return dev && bu_core_dev(dev)->pm_state != PM_ACTIVE;
}

/** Function Suspend options (USB 3.2 §9.4.9, Table 9-9): low power, remote wake. */
#define PM_FSUSP_LP 0x01
#define PM_FSUSP_RW 0x02
#define PM_FEAT_FUNCTION_SUSPEND 0

static int pm_stop_eps(struct bu_usb_device *dev);

/** The active configuration advertises remote wakeup (bmAttributes D5). */
static bool pm_wake_capable(const struct bu_usb_device *dev)
{
	return dev->active_config >= 0 && dev->num_ifaces &&
	       (dev->configs[dev->active_config].attributes & 0x20) && bu_core_sleep_may_arm(dev);
}

/** Tell the embedder of a suspend or a finished resume. */
static void pm_tell(struct bu_usb_device *dev, bool suspended)
{
	struct bu_usb_bus *bus = dev->bus;

	if (bus->events.power_changed)
		bus->events.power_changed(bus->events.ctx, dev, suspended,
					  !suspended && bu_core_dev(dev)->pm_by_device);
}

/** The link is leaving U3: TRSMRCY before traffic (USB 2.0 §7.1.7.7, USB 3.2 §9.2.6.2). */
static void pm_recover(struct bu_usb_device *dev)
{
	bu_core_dev(dev)->pm_state = PM_RESUME_RECOVERY;
	bu_core_dev(dev)->pm_wake_us = bu_core_now(dev->bus) + T_RSMRCY_US;
}

/*
 * A USB 3 root port was told U0 (xHCI §4.15.2.3): the exit from U3 takes
 * a while (the link goes through Recovery); recovery counts once the
 * port reports U0 (bu_core_pm_root_status), looked at every
 * T_RESET_POLL_US meanwhile.
 */
static void pm_await_u0(struct bu_usb_device *dev)
{
	bu_core_dev(dev)->pm_state = PM_RESUME_SIGNAL;
	bu_core_dev(dev)->pm_checks = 0;
	bu_core_dev(dev)->pm_wake_us = bu_core_now(dev->bus) + T_RESET_POLL_US;
}

/*
 * The device left U3 by itself. A USB 3 function armed for wake sends
 * its Function Wake once the link is in U0 (USB 3.2 §8.5.6.1): wait for
 * it, a bounded time (hubs pass on wakes from below and send none).
 */
static void pm_expect_fwake(struct bu_usb_device *dev)
{
	bu_core_dev(dev)->pm_by_device = true;
	if (dev->speed < BU_SPEED_SUPER || dev->is_hub || !bu_core_dev(dev)->pm_armed)
		return;
	bu_core_dev(dev)->pm_fwake_wait = true;
	bu_core_dev(dev)->pm_fwake_until = bu_core_now(dev->bus) + T_FWAKE_WAIT_US;
}

/**
 * Arming (or disarming) remote wakeup is done; a suspend goes on either
 * way, from bu_core_pm_poll (not from this completion).
 */
static void pm_wake_req_done(struct bu_usb_xfer *x)
{
	struct bu_usb_device *dev = x->ctx;
	uint64_t now = bu_core_now(dev->bus);

	bu_core_dev(dev)->pm_xfer_busy = false;
	if (dev->state == BU_DEV_GONE || bu_core_dev(dev)->pm_state != PM_ARMING)
		return;
	bu_core_dev(dev)->pm_armed = x->status == 0;
	if (x->status)
		bu_core_log(dev->bus, BU_LOG_WARN, "remote wakeup not enabled: %s",
			    bu_strerror(x->status));
	bu_core_dev(dev)->pm_wake_us = now ? now : 1;
}

/**
 * Enable or disable remote wakeup: USB 2 Set/ClearFeature
 * (DEVICE_REMOTE_WAKEUP) (USB 2.0 §9.4.1, §9.4.9); USB 3 SetFeature
 * (FUNCTION_SUSPEND) on the first interface with Function Remote Wake
 * and low power set, or neither (USB 3.2 §9.4.9).
 */
static __attribute__((noinline)) int pm_wake_request(struct bu_usb_device *dev, bool arm)
{
	struct bu_usb_xfer *x = &bu_core_dev(dev)->pm_xfer;
	int rc;

	bu_memset(x, 0, sizeof(*x));
	x->ep = &dev->ep0;
	if (dev->speed >= BU_SPEED_SUPER)
		bu_usb_setup_pack(x->setup, USB_DIR_OUT | USB_TYPE_STANDARD | USB_RECIP_INTERFACE,
				  USB_REQ_SET_FEATURE, PM_FEAT_FUNCTION_SUSPEND,
				  (uint16_t)((arm ? PM_FSUSP_RW | PM_FSUSP_LP : 0) << 8 |
					     dev->ifaces[0].number), 0);
	else
		bu_usb_setup_pack(x->setup, USB_DIR_OUT | USB_TYPE_STANDARD | USB_RECIP_DEVICE,
				  arm ? USB_REQ_SET_FEATURE : USB_REQ_CLEAR_FEATURE,
				  USB_FEATURE_DEVICE_REMOTE_WAKEUP, 0, 0);
	x->timeout_ms = BU_USB_REQUEST_TIMEOUT_MS;
	x->complete = pm_wake_req_done;
	x->ctx = dev;
	rc = bu_usb_xfer_submit(x);
	bu_core_dev(dev)->pm_xfer_busy = rc == 0;
	return rc;
}

/** Start resuming a suspended device. */
static int pm_resume(struct bu_usb_device *dev)
{
	struct bu_usb_bus *bus = dev->bus;
	int rc;

	if (bu_core_dev(dev)->pm_state == PM_ARMING || bu_core_dev(dev)->pm_state == PM_STOPPING ||
	    bu_core_dev(dev)->pm_state == PM_SUSPENDING)
		bu_core_dev(dev)->pm_wake = true; /* resume as soon as the suspend is done */
	if (bu_core_dev(dev)->pm_state != PM_SUSPENDED)
		return 0;
	if (dev->parent) {
		/* The hub drives resume (USB 2.0 §11.24.2.7.1.3) or brings
		 * the link to U0 (USB 3.2 §10.16.2.10); its request goes out
		 * once the hub itself is active. */
		rc = bu_core_hub_port_pm(dev, false);
		if (rc)
			return rc;
		bu_core_dev(dev)->pm_state = PM_RESUME_SIGNAL;
		bu_core_dev(dev)->pm_wake_us = 0; /* set once the request is done */
		bu_core_dev(dev)->pm_checks = 0;
		return 0;
	}
	if (dev->speed >= BU_SPEED_SUPER) {
		/* USB 3: writing U0 starts the U3 exit; TRSMRCY once it is done. */
		rc = bus->ops->port_set_link(bus, dev->root_port, BU_LINK_U0);
		pm_await_u0(dev);
	} else {
		rc = bus->ops->port_set_link(bus, dev->root_port, BU_LINK_RESUME);
		bu_core_dev(dev)->pm_state = PM_RESUME_SIGNAL;
		bu_core_dev(dev)->pm_wake_us = bu_core_now(bus) + T_DRSMDN_US;
	}
	return rc;
}

/** Queued transfers that may wait out a suspend: bulk and interrupt IN. */
static bool pm_may_stay_queued(const struct bu_usb_endpoint *ep)
{
	return (ep->address & 0x80) && (ep->type == BU_EP_BULK || ep->type == BU_EP_INTERRUPT);
}

/** Let the endpoints stopped for the suspend run again. */
static void pm_unpause(struct bu_usb_device *dev)
{
	struct bu_usb_bus *bus = dev->bus;

	for (unsigned i = 2; i < 32; i++)
		if ((bu_core_dev(dev)->pm_paused & (1u << i)) && dev->eps[i])
			bus->ops->ep_unpause(dev->eps[i]);
	bu_core_dev(dev)->pm_paused = 0;
}

static void pm_flush(struct bu_usb_device *dev, int err);

/*
 * A hub is back: read the ports of its suspended devices at once rather
 * than when its status-change endpoint is next polled (up to 256 ms), so
 * a remote wakeup that came through it is seen (Linux hub_activate does
 * the same on resume).
 */
static void pm_hub_look(struct bu_usb_device *hub)
{
	for (struct bu_usb_device *d = hub->bus->devices; d; d = d->next)
		if (d->parent == hub && d->state != BU_DEV_GONE &&
		    bu_core_dev(d)->pm_state == PM_SUSPENDED)
			bu_core_hub_port_check(d);
}

/** Back to active: the stopped endpoints run again and held transfers go out. */
static void pm_active(struct bu_usb_device *dev, bool resumed)
{
	bool armed = bu_core_dev(dev)->pm_armed;

	bu_core_dev(dev)->pm_state = PM_ACTIVE;
	bu_core_dev(dev)->pm_wake = false;
	bu_core_dev(dev)->pm_wake_us = 0;
	bu_core_dev(dev)->pm_armed = false;
	bu_core_dev(dev)->pm_fwake_wait = false;
	pm_unpause(dev);
	if (dev->state == BU_DEV_GONE)
		return;
	/* Disarm first: it goes out ahead of what was held. */
	if (armed && !bu_core_dev(dev)->pm_xfer_busy)
		pm_wake_request(dev, false);
	if (resumed)
		pm_tell(dev, false);
	if (resumed && dev->is_hub)
		pm_hub_look(dev);
	pm_flush(dev, 0);
}

/**
 * One Stop Endpoint of the suspend is done (also called once by pm_set
 * for its own hold on pm_stops): after the last, the link goes to U3 (a
 * root port) or the hub is asked to suspend the port, or the device goes
 * back to active if a resume was asked for meanwhile or a stop failed.
 */
static void pm_stopped(struct bu_usb_device *dev, void *ctx, int status)
{
	struct bu_usb_bus *bus = dev->bus;

	(void)ctx;
	if (status)
		bu_core_dev(dev)->pm_wake = true;
	if (bu_core_dev(dev)->pm_state != PM_STOPPING || --bu_core_dev(dev)->pm_stops)
		return;
	if (!bu_core_dev(dev)->pm_wake && dev->state == BU_DEV_CONFIGURED) {
		if (!dev->parent && bus->ops->port_set_link(bus, dev->root_port, BU_LINK_U3) == 0) {
			bu_core_dev(dev)->pm_state = PM_SUSPENDED;
			pm_tell(dev, true);
			return;
		}
		if (dev->parent && bu_core_hub_port_pm(dev, true) == 0) {
			bu_core_dev(dev)->pm_state = PM_SUSPENDING;
			return;
		}
	}
	/* Not suspended after all: run again at once (the link never left U0);
	 * an armed device is disarmed from bu_core_pm_poll. */
	bu_core_dev(dev)->pm_state = PM_ACTIVE;
	bu_core_dev(dev)->pm_wake = false;
	bu_core_dev(dev)->pm_disarm = bu_core_dev(dev)->pm_armed;
	bu_core_dev(dev)->pm_armed = false;
	bu_core_dev(dev)->pm_wake_us = bu_core_dev(dev)->pm_disarm ? bu_core_now(bus) | 1 : 0;
	pm_unpause(dev);
	if (dev->state != BU_DEV_GONE)
		pm_flush(dev, 0);
}

void bu_core_pm_port_done(struct bu_usb_device *child, int status)
{
	struct bu_usb_bus *bus = child->bus;

	if (bu_core_dev(child)->pm_state == PM_SUSPENDING) {
		if (status) {
			pm_active(child, false); /* the hub refused: the port stays active */
			return;
		}
		bu_core_dev(child)->pm_state = PM_SUSPENDED;
		pm_tell(child, true);
		if (bu_core_dev(child)->pm_wake) {
			bu_core_dev(child)->pm_wake = false;
			pm_resume(child);
		}
	} else if (bu_core_dev(child)->pm_state == PM_RESUME_SIGNAL) {
		/* USB 2 hub: it drives resume for TDRSMDN, then clears
		 * PORT_SUSPEND (USB 2.0 §11.24.2.7.1.3); USB 3: the link
		 * leaves U3 by itself. Look at the port after that. */
		bu_core_dev(child)->pm_wake_us =
			bu_core_now(bus) + (child->parent->speed >= BU_SPEED_SUPER || status
						    ? T_RESET_POLL_US : T_DRSMDN_US);
	}
}

void bu_core_pm_port_status(struct bu_usb_device *child, bool suspended, bool woke)
{
	if (suspended && woke && bu_core_dev(child)->pm_state == PM_SUSPENDED) {
		/* A change without the port leaving suspend: some hubs (QEMU's
		 * usb-hub) report a remote wakeup so and leave the resume to
		 * the host, as Linux's hub_handle_remote_wakeup does. */
		pm_expect_fwake(child);
		pm_resume(child);
		return;
	}
	if (suspended || (bu_core_dev(child)->pm_state != PM_RESUME_SIGNAL &&
			  bu_core_dev(child)->pm_state != PM_SUSPENDED))
		return;
	/* Resume signalling is over: TRSMRCY before traffic (USB 2.0
	 * §7.1.7.7, §11.5.1.10). Still marked suspended: the device woke
	 * the port itself (USB 2.0 §11.9, USB 3.2 §10.16.2.10). */
	if (bu_core_dev(child)->pm_state == PM_SUSPENDED)
		pm_expect_fwake(child);
	pm_recover(child);
}

void bu_core_pm_root_status(struct bu_usb_bus *bus, unsigned port,
			    const struct bu_usb_port_status *st)
{
	struct bu_usb_device *d;

	if (st->link != BU_LINK_RESUME && st->link != BU_LINK_U0)
		return;
	for (d = bus->devices; d; d = d->next)
		if (!d->parent && d->root_port == port && d->state != BU_DEV_GONE)
			break;
	if (!d)
		return;
	if (st->link == BU_LINK_U0) {
		/* A USB 3 port's U3 exit is over (PLC with U0, xHCI
		 * §4.15.2.3): resume recovery from now. */
		if (d->speed >= BU_SPEED_SUPER && bu_core_dev(d)->pm_state == PM_RESUME_SIGNAL)
			pm_recover(d);
		return;
	}
	if (bu_core_dev(d)->pm_state != PM_SUSPENDED)
		return;
	/* Remote wakeup (xHCI §4.15.2.3): the port went U3 -> Resume. */
	pm_expect_fwake(d);
	if (d->speed >= BU_SPEED_SUPER) {
		/* USB 3: write U0 to finish the exit; TRSMRCY once in U0. */
		bus->ops->port_set_link(bus, port, BU_LINK_U0);
		pm_await_u0(d);
	} else {
		/* USB 2: the port drives resume; end it after TDRSMDN (§4.15.2.2). */
		bu_core_dev(d)->pm_state = PM_RESUME_SIGNAL;
		bu_core_dev(d)->pm_wake_us = bu_core_now(bus) + T_DRSMDN_US;
	}
}

/** True when a hub may be suspended: idle, and every device below it suspended. */
static bool pm_hub_may_suspend(struct bu_usb_device *hub)
{
	if (bu_core_hub_busy(hub))
		return false;
	for (const struct bu_usb_device *d = hub->bus->devices; d; d = d->next)
		if (d->parent == hub && d->state != BU_DEV_GONE &&
		    (bu_core_dev(d)->pm_state != PM_SUSPENDED || bu_core_dev(d)->pm_wake))
			return false;
	return true;
}

/** bu_usb_device_suspend under the embedder's lock. */
static int pm_set(struct bu_usb_device *dev, bool suspend)
{
	struct bu_usb_bus *bus = dev->bus;

	if (dev->state == BU_DEV_GONE)
		return BU_ENODEV;
	if (bu_core_sleep_asleep(bus))
		return BU_EBUSY; /* bu_usb_bus_resume resumes every device */
	if (!dev->parent && !bus->ops->port_set_link)
		return BU_ENOTSUP;
	if (!suspend)
		return pm_resume(dev);
	if (dev->state != BU_DEV_CONFIGURED)
		return BU_EBUSY;
	if (bu_core_dev(dev)->pm_state == PM_SUSPENDED)
		return 0;
	if (bu_core_dev(dev)->pm_state != PM_ACTIVE)
		return BU_EBUSY;
	if (bus->ops->ep_queued(&dev->ep0) || (dev->is_hub && !pm_hub_may_suspend(dev)))
		return BU_EBUSY;
	for (unsigned i = 2; i < 32; i++) {
		struct bu_usb_endpoint *ep = dev->eps[i];

		if (ep && bus->ops->ep_queued(ep) &&
		    (!pm_may_stay_queued(ep) || !bus->ops->ep_pause))
			return BU_EBUSY;
	}
	bu_core_dev(dev)->pm_wake = false;
	bu_core_dev(dev)->pm_by_device = false;
	bu_core_dev(dev)->pm_armed = false;
	bu_core_dev(dev)->pm_wake_if1 = 0;
	if (pm_wake_capable(dev) && !bu_core_dev(dev)->pm_xfer_busy) {
		/* Arm remote wakeup first; the suspend goes on from its completion. */
		bu_core_dev(dev)->pm_state = PM_ARMING;
		if (pm_wake_request(dev, true) == 0)
			return 0;
		bu_core_dev(dev)->pm_state = PM_ACTIVE;
	}
	return pm_stop_eps(dev);
}

/*
 * Stop the endpoints whose reads stay queued (xHCI §4.15.1: no endpoint
 * may run while its port is suspended), then U3 from pm_stopped.
 */
static int pm_stop_eps(struct bu_usb_device *dev)
{
	struct bu_usb_bus *bus = dev->bus;
	int rc = 0;

	bu_core_dev(dev)->pm_paused = 0;
	bu_core_dev(dev)->pm_stops = 1; /* held until every pause is started */
	bu_core_dev(dev)->pm_state = PM_STOPPING;
	for (unsigned i = 2; i < 32 && !rc; i++) {
		struct bu_usb_endpoint *ep = dev->eps[i];

		if (!ep || !bus->ops->ep_queued(ep))
			continue;
		bu_core_dev(dev)->pm_stops++;
		rc = bus->ops->ep_pause(ep, pm_stopped, NULL);
		if (rc)
			bu_core_dev(dev)->pm_stops--;
		else
			bu_core_dev(dev)->pm_paused |= 1u << i;
	}
	if (rc)
		bu_core_dev(dev)->pm_wake = true; /* could not stop one: back to active */
	pm_stopped(dev, NULL, 0);
	return rc;
}

int bu_usb_device_suspend(struct bu_usb_device *dev, bool suspend)
{
	const struct bu_platform *plat;
	int rc;

	if (!dev)
		return BU_EINVAL;
	plat = dev->bus->plat;
	if (plat->lock)
		plat->lock(plat->ctx);
	rc = pm_set(dev, suspend);
	if (plat->unlock)
		plat->unlock(plat->ctx);
	return rc;
}

bool bu_core_pm_hold(struct bu_usb_xfer *xfer)
{
	struct bu_usb_device *dev = xfer->ep->dev;

	if (bu_core_dev(dev)->pm_state == PM_ACTIVE || xfer == &bu_core_dev(dev)->pm_xfer)
		return false;
	xfer->core.held_next = NULL;
	xfer->core.held_cancelled = false;
	xfer->status = 0;
	xfer->actual = 0;
	if (bu_core_dev(dev)->held_tail)
		bu_core_dev(dev)->held_tail->core.held_next = xfer;
	else
		bu_core_dev(dev)->held = xfer;
	bu_core_dev(dev)->held_tail = xfer;
	if (!bu_core_sleep_holding(dev->bus))
		pm_resume(dev); /* during a bus suspend, bu_usb_bus_resume does */
	return true;
}

bool bu_core_pm_cancel(struct bu_usb_xfer *xfer, int status)
{
	struct bu_usb_device *dev = xfer->ep->dev;

	for (struct bu_usb_xfer *x = bu_core_dev(dev)->held; x; x = x->core.held_next) {
		if (x == xfer) {
			/* Completed from poll when the device resumes. */
			x->core.held_cancelled = true;
			x->status = status;
			return true;
		}
	}
	return false;
}

int bu_core_pm_abort(struct bu_usb_endpoint *ep, int status)
{
	int n = 0;

	for (struct bu_usb_xfer *x = bu_core_dev(ep->dev)->held; x; x = x->core.held_next)
		if (x->ep == ep && !x->core.held_cancelled) {
			x->core.held_cancelled = true;
			x->status = status;
			n++;
		}
	return n;
}

/** Hand the held transfers to the controller (or finish them with `err`). */
static void pm_flush(struct bu_usb_device *dev, int err)
{
	struct bu_usb_xfer *list = bu_core_dev(dev)->held;

	bu_core_dev(dev)->held = bu_core_dev(dev)->held_tail = NULL;
	while (list) {
		struct bu_usb_xfer *x = list;
		int rc = err;

		list = x->core.held_next;
		x->core.held_next = NULL;
		x->core.submitted = false; /* goes out again, or completes here */
		if (x->core.held_cancelled) {
			rc = x->status;
			x->core.held_cancelled = false;
		} else if (!rc) {
			rc = bu_usb_xfer_submit(x);
			if (!rc)
				continue;
		}
		x->status = rc;
		x->actual = 0;
		x->core.deadline_us = 0;
		x->complete(x);
	}
}

void bu_core_pm_drop(struct bu_usb_device *dev)
{
	bu_core_dev(dev)->pm_state = PM_ACTIVE;
	bu_core_dev(dev)->pm_wake_us = 0;
	bu_core_dev(dev)->pm_paused = 0; /* its endpoints go with it */
	bu_core_dev(dev)->pm_stops = 0;
	pm_flush(dev, BU_ENODEV);
}

/*
 * Resume recovery is over: active, once a USB 3 device that woke by
 * itself has said which function woke it, or has not for T_FWAKE_WAIT_US
 * (then it was its first interface).
 */
static void pm_recovered(struct bu_usb_device *d, uint64_t now)
{
	struct bu_core_device *cd = bu_core_dev(d);

	if (cd->pm_fwake_wait && now < cd->pm_fwake_until) {
		cd->pm_wake_us = BU_MIN(now + T_RESET_POLL_US, cd->pm_fwake_until);
		return;
	}
	if (cd->pm_fwake_wait && d->num_ifaces) {
		bu_core_log(d->bus, BU_LOG_INFO,
			    "no Function Wake after the U3 exit: taken as interface %u's",
			    d->ifaces[0].number);
		cd->pm_wake_if1 = (uint16_t)(d->ifaces[0].number + 1);
	}
	pm_active(d, true);
}

void bu_usb_bus_function_wake(struct bu_usb_bus *bus, struct bu_usb_device *dev, unsigned iface)
{
	struct bu_core_device *cd;
	unsigned i;

	if (!bus || !dev || dev->bus != bus || dev->state == BU_DEV_GONE)
		return;
	cd = bu_core_dev(dev);
	for (i = 0; i < dev->num_ifaces && dev->ifaces[i].number != iface; i++)
		;
	if (i == dev->num_ifaces || dev->speed < BU_SPEED_SUPER) {
		bu_core_log(bus, BU_LOG_WARN, "Function Wake for interface %u, which %s: ignored",
			    iface, dev->speed < BU_SPEED_SUPER ? "is not USB 3" : "does not exist");
		return;
	}
	/* USB 3.2 §9.2.5.2: only a function enabled for it may wake. */
	if (!cd->pm_armed || cd->pm_state == PM_ACTIVE) {
		bu_core_log(bus, BU_LOG_WARN,
			    "Function Wake from interface %u, not enabled for remote wake: ignored",
			    iface);
		return;
	}
	cd->pm_by_device = true;
	cd->pm_fwake_wait = false;
	cd->pm_wake_if1 = (uint16_t)(iface + 1);
	if (cd->pm_state == PM_SUSPENDED || cd->pm_state == PM_ARMING ||
	    cd->pm_state == PM_STOPPING || cd->pm_state == PM_SUSPENDING)
		pm_resume(dev); /* its link event is still to come, or the suspend is ending */
}

int bu_usb_device_wake_interface(const struct bu_usb_device *dev)
{
	if (!dev)
		return BU_EINVAL;
	return bu_core_dev(dev)->pm_wake_if1 ? bu_core_dev(dev)->pm_wake_if1 - 1 : BU_ENOENT;
}

void bu_core_pm_poll(struct bu_usb_bus *bus, uint64_t now)
{
	for (struct bu_usb_device *d = bus->devices; d; d = d->next) {
		if (!bu_core_dev(d)->pm_wake_us || now < bu_core_dev(d)->pm_wake_us)
			continue;
		bu_core_dev(d)->pm_wake_us = 0;
		if (bu_core_dev(d)->pm_disarm) {
			bu_core_dev(d)->pm_disarm = false;
			if (bu_core_dev(d)->pm_state == PM_ACTIVE && !bu_core_dev(d)->pm_xfer_busy)
				pm_wake_request(d, false);
		} else if (bu_core_dev(d)->pm_state == PM_ARMING) {
			pm_stop_eps(d); /* armed (or refused): on to the suspend */
		} else if (bu_core_dev(d)->pm_state == PM_RESUME_SIGNAL && d->parent) {
			/* Has the hub finished the resume? (bu_core_pm_port_status) */
			if (++bu_core_dev(d)->pm_checks > PM_MAX_CHECKS) {
				bu_core_log(bus, BU_LOG_WARN, "hub never reported the end of a resume");
				pm_active(d, true);
				continue;
			}
			bu_core_hub_port_check(d);
			bu_core_dev(d)->pm_wake_us = now + T_RESET_POLL_US;
		} else if (bu_core_dev(d)->pm_state == PM_RESUME_SIGNAL && d->speed >= BU_SPEED_SUPER) {
			/* USB 3 root port: has the link reached U0? */
			if (++bu_core_dev(d)->pm_checks > PM_MAX_CHECKS) {
				bu_core_log(bus, BU_LOG_WARN, "port %u never reported U0 after U3",
					    d->root_port);
				pm_recover(d);
				continue;
			}
			bu_usb_bus_port_changed(bus, d->root_port);
			bu_core_dev(d)->pm_wake_us = now + T_RESET_POLL_US;
		} else if (bu_core_dev(d)->pm_state == PM_RESUME_SIGNAL) {
			/* USB 2: end resume signalling (xHCI §4.15.2.2). */
			bus->ops->port_set_link(bus, d->root_port, BU_LINK_U0);
			bu_core_dev(d)->pm_state = PM_RESUME_RECOVERY;
			bu_core_dev(d)->pm_wake_us = now + T_RSMRCY_US;
		} else if (bu_core_dev(d)->pm_state == PM_RESUME_RECOVERY) {
			pm_recovered(d, now);
		}
	}
}

bool bu_core_pm_settled(const struct bu_usb_device *dev, bool *armed)
{
	if (armed)
		*armed = bu_core_dev(dev)->pm_armed;
	return bu_core_dev(dev)->pm_state == PM_SUSPENDED && !bu_core_dev(dev)->pm_wake;
}
