/*
 * One state machine for every downstream port, a root port or a port of a
 * hub device (USB 2.0 §9.1.2, §11.5; USB 3.2 §10.3; xHCI 1.2 §4.19):
 *
 *   EMPTY → DEBOUNCE (TATTDB) → [WAIT_LOCK] → RESET → RECOVERY (TRSTRCY)
 *         → DEVICE (the new device enumerates, enum.c)
 *
 * and the ways out of it: a disconnect or a new connection (the device is
 * removed, the port starts over), a reset that does not enable the port
 * (FAILED until the next connection), an over-current (OVERCURRENT: the
 * device is removed and the port left alone until the condition clears,
 * then POWER while the port's power comes back and settles) and a USB 3
 * link that fell into SS.Inactive (a warm reset, and the device enumerates
 * again).
 *
 * The machine never touches hardware itself. Its hub (struct bu_port_hub)
 * reads the port's status and feeds it in with bu_port_update(), and
 * supplies the two things the machine asks for: a port reset and a port
 * power-on. The root hub does both through the controller driver and reads
 * status synchronously; the hub class driver does them with class requests
 * and feeds in the status when its GetPortStatus came back.
 *
 * Only one device per root port tree may be at the default address: a hub
 * device's port takes the root port's lock before it resets (WAIT_LOCK
 * while another holds it) and the new device gives it back once addressed.
 */
#include "core_priv.h"

#include "bareusb/util.h"

#include "timing.h"

/** The lock owner slot of the port's root port tree. */
static const void **lock_slot(const struct bu_port_hub *hub)
{
	return &hub->bus->core->addr_owner[hub->dev ? hub->dev->root_port : 0];
}

/** Log a line about a port: "port 3: ..." or "hub 3.1 port 2: ...". */
static void port_log(const struct bu_port_hub *hub, const struct bu_port *port,
		     enum bu_log_level level, const char *what)
{
	char path[32];

	if (hub->dev)
		bu_core_log(hub->bus, level, "hub %s port %u: %s",
			    bu_core_dev_path(hub->dev, path, sizeof(path)), port->num, what);
	else
		bu_core_log(hub->bus, level, "port %u: %s", port->num, what);
}

/** True in the states of the attach sequence: the bus is not settled. */
static bool port_busy(unsigned state)
{
	return state == BU_PORT_DEBOUNCE || state == BU_PORT_WAIT_LOCK ||
	       state == BU_PORT_RESET || state == BU_PORT_RECOVERY || state == BU_PORT_POWER;
}

/**
 * Note when the attach sequence enters a phase (for the device's
 * timeline): a fresh debounce, or a reset not preceded by one (a warm
 * reset), forgets the phases of an earlier sequence.
 */
static void port_phase(struct bu_port *port, enum bu_port_state st, uint64_t now)
{
	bool attaching = port->state == BU_PORT_DEBOUNCE || port->state == BU_PORT_WAIT_LOCK;

	switch (st) {
	case BU_PORT_DEBOUNCE:
		if (port->state != BU_PORT_DEBOUNCE) {
			port->t_debounce_us = now;
			port->t_lock_us = port->t_reset_us = port->t_recovery_us = 0;
		}
		break;
	case BU_PORT_WAIT_LOCK:
		if (port->state != BU_PORT_WAIT_LOCK)
			port->t_lock_us = now;
		break;
	case BU_PORT_RESET:
		if (!attaching)
			port->t_debounce_us = port->t_lock_us = 0;
		if (port->state != BU_PORT_RESET)
			port->t_reset_us = now;
		port->t_recovery_us = 0;
		break;
	case BU_PORT_RECOVERY:
		port->t_recovery_us = now;
		break;
	case BU_PORT_DEVICE:
		if (port->state != BU_PORT_RECOVERY) /* USB 3: link training did it all */
			port->t_debounce_us = port->t_lock_us = port->t_reset_us =
				port->t_recovery_us = 0;
		break;
	default:
		break;
	}
}

void bu_port_set(struct bu_port_hub *hub, struct bu_port *port, enum bu_port_state st,
		 uint32_t wait_us)
{
	struct bu_usb_bus *bus = hub->bus;
	bool was = port_busy(port->state), now = port_busy(st);
	const void **owner = lock_slot(hub);

	if (now && !was)
		bus->enumerating++;
	else if (!now && was && bus->enumerating)
		bus->enumerating--;
	/* The lock goes with the reset unless a device now holds it. */
	if (hub->lock_reset && *owner == port && st != BU_PORT_RESET &&
	    st != BU_PORT_RECOVERY && st != BU_PORT_DEVICE)
		*owner = NULL;
	port_phase(port, st, bu_core_now(bus));
	port->state = (uint8_t)st;
	port->wake_us = wait_us ? bu_core_now(bus) + wait_us : 0;
}

struct bu_usb_device *bu_port_child(const struct bu_port_hub *hub, const struct bu_port *port)
{
	for (struct bu_usb_device *d = hub->bus->devices; d; d = d->next)
		if (d->parent == hub->dev && d->port == port->num &&
		    (hub->dev || d->root_port == port->num))
			return d;
	return NULL;
}

/** Remove the port's device, if any, saying why. */
static void port_remove_child(struct bu_port_hub *hub, struct bu_port *port, const char *why)
{
	struct bu_usb_device *child = bu_port_child(hub, port);
	char path[32];

	if (!child)
		return;
	if (why)
		bu_core_log(hub->bus, BU_LOG_INFO, "device %s %s",
			    bu_core_dev_path(child, path, sizeof(path)), why);
	bu_core_dev_remove(hub->bus, child);
}

/** Start a port reset (warm for a USB 3 link in SS.Inactive). */
static void port_reset(struct bu_port_hub *hub, struct bu_port *port, bool warm)
{
	uint64_t now = bu_core_now(hub->bus);

	bu_port_set(hub, port, BU_PORT_RESET,
		    hub->reset_poll_us ? hub->reset_poll_us : T_RESET_MAX_US);
	port->deadline_us = now + T_RESET_MAX_US;
	if (hub->ops->reset(hub, port->num, warm)) {
		port_log(hub, port, BU_LOG_WARN, "reset could not be started");
		bu_port_set(hub, port, BU_PORT_FAILED, 0);
	}
}

/**
 * Over-current (USB 2.0 §11.12.5, xHCI 1.2 §5.4.8); true when the port is
 * done with for now. While it lasts the port's device is removed and the
 * port left alone: its hub has disabled it and, where it can, switched its
 * power off. Once it clears the port is powered again (and given its
 * settle time) where its hub can switch power, and scanned as a new port.
 */
static bool port_overcurrent(struct bu_port_hub *hub, struct bu_port *port,
			     const struct bu_usb_port_status *st, bool timer)
{
	if (st->overcurrent) {
		if (port->state == BU_PORT_OVERCURRENT)
			return true;
		port_log(hub, port, BU_LOG_WARN, "over-current, device removed");
		port_remove_child(hub, port, NULL);
		bu_port_set(hub, port, BU_PORT_OVERCURRENT, 0);
		return true;
	}
	if (port->state == BU_PORT_OVERCURRENT) {
		port_log(hub, port, BU_LOG_INFO, "over-current cleared");
		if (hub->ops->power && !hub->ops->power(hub, port->num)) {
			bu_port_set(hub, port, BU_PORT_POWER, hub->power_us);
			return true;
		}
	} else if (!timer) {
		return true; /* POWER: wait for the settle time */
	}
	bu_port_set(hub, port, BU_PORT_EMPTY, 0);
	return false;
}

/** A connected port with nothing on it: start the attach sequence. */
static void port_connected(struct bu_port_hub *hub, struct bu_port *port,
			   const struct bu_usb_port_status *st)
{
	if (st->usb3 && hub->links_train) {
		/* USB 3 root port: link training already reset the device
		 * and enabled the port (xHCI 1.2 §4.19.1.2), no debounce;
		 * connected but not enabled needs a warm reset (§4.19.1.2.6). */
		if (st->enabled)
			bu_port_attach(hub, port, st->speed);
		else
			port_reset(hub, port, true);
		return;
	}
	bu_port_set(hub, port, BU_PORT_DEBOUNCE, T_ATTDB_US);
}

/** Debounced: reset the port once its tree's default address is free. */
static void port_try_reset(struct bu_port_hub *hub, struct bu_port *port,
			   const struct bu_usb_port_status *st)
{
	const void **owner = lock_slot(hub);

	if (hub->lock_reset) {
		if (*owner) {
			bu_port_set(hub, port, BU_PORT_WAIT_LOCK, 0);
			return; /* the hub asks again when the lock is free */
		}
		*owner = port;
	}
	port_reset(hub, port, st->usb3 && st->link == BU_LINK_INACTIVE);
}

int bu_port_reenumerate(struct bu_port_hub *hub, struct bu_port *port)
{
	const struct bu_usb_port_status st = {.connected = true};

	if (port->state != BU_PORT_DEVICE)
		return BU_EBUSY;
	port_remove_child(hub, port, "reset on request");
	port_try_reset(hub, port, &st);
	return port->state == BU_PORT_FAILED ? BU_EIO : 0;
}

void bu_port_attach(struct bu_port_hub *hub, struct bu_port *port, enum bu_usb_speed speed)
{
	bu_port_set(hub, port, BU_PORT_DEVICE, 0);
	if (!bu_core_dev_attach(hub->bus, hub->dev, port->num, speed, port)) {
		port_log(hub, port, BU_LOG_ERR, "out of memory for a device");
		if (hub->lock_reset && *lock_slot(hub) == port)
			*lock_slot(hub) = NULL;
		bu_port_set(hub, port, BU_PORT_FAILED, 0);
	}
}

/** The port has a device: watch for a USB 3 link error and a disabled port. */
static void port_device(struct bu_port_hub *hub, struct bu_port *port,
			const struct bu_usb_port_status *st)
{
	struct bu_usb_device *child = bu_port_child(hub, port);

	if (st->usb3 && st->link == BU_LINK_INACTIVE) {
		/* USB 3 link error (PLS = SS.Inactive): only a warm reset
		 * brings the link back (USB 3.2 §7.5.2, §10.3.1.1). The
		 * device's state is lost with it, so it is removed and
		 * enumerated again afterwards. */
		port_log(hub, port, BU_LOG_WARN, "link error (SS.Inactive), warm reset");
		port_remove_child(hub, port, NULL);
		port_try_reset(hub, port, st);
		return;
	}
	if (st->enabled)
		return;
	if (child && st->enable_changed)
		port_log(hub, port, BU_LOG_WARN, "port disabled by the hub");
	if (!child) {
		/* Nothing on it any more and disabled: scan it afresh. */
		bu_port_set(hub, port, BU_PORT_EMPTY, 0);
		port_connected(hub, port, st);
	}
}

void bu_port_update(struct bu_port_hub *hub, struct bu_port *port,
		    const struct bu_usb_port_status *st, bool timer)
{
	unsigned state = port->state;

	if (st->overcurrent || state == BU_PORT_OVERCURRENT || state == BU_PORT_POWER) {
		if (port_overcurrent(hub, port, st, timer))
			return;
		state = port->state;
	}
	if (!st->connected) {
		port_remove_child(hub, port, "disconnected");
		bu_port_set(hub, port, BU_PORT_EMPTY, 0);
		return;
	}
	if (st->connect_changed && state != BU_PORT_EMPTY && state != BU_PORT_DEBOUNCE) {
		/* Unplugged and plugged again between two looks, at any stage
		 * (or a device that re-attached itself): start over. */
		port_remove_child(hub, port, "disconnected");
		bu_port_set(hub, port, BU_PORT_EMPTY, 0);
		state = BU_PORT_EMPTY;
	}
	switch (state) {
	case BU_PORT_EMPTY:
		port_connected(hub, port, st);
		break;
	case BU_PORT_DEBOUNCE:
		/* USB 2.0 §7.1.7.3: the connection must be stable for TATTDB. */
		if (st->connect_changed)
			bu_port_set(hub, port, BU_PORT_DEBOUNCE, T_ATTDB_US); /* starts again */
		else if (timer)
			port_try_reset(hub, port, st);
		break;
	case BU_PORT_WAIT_LOCK:
		port_try_reset(hub, port, st);
		break;
	case BU_PORT_RESET:
		if (st->enabled && !st->resetting) {
			bu_port_set(hub, port, BU_PORT_RECOVERY, T_RSTRCY_US);
		} else if (bu_core_now(hub->bus) >= port->deadline_us) {
			port_log(hub, port, BU_LOG_WARN, "reset did not enable the port");
			bu_port_set(hub, port, BU_PORT_FAILED, 0);
		} else if (hub->reset_poll_us) {
			port->wake_us = bu_core_now(hub->bus) + hub->reset_poll_us;
		} else {
			port->wake_us = port->deadline_us;
		}
		break;
	case BU_PORT_RECOVERY:
		if (!timer)
			break;
		if (st->enabled)
			bu_port_attach(hub, port, st->speed);
		else
			bu_port_set(hub, port, BU_PORT_FAILED, 0);
		break;
	case BU_PORT_DEVICE:
		port_device(hub, port, st);
		break;
	default: /* FAILED: until the next connection */
		break;
	}
}
