/*
 * Class-driver binding: a per-bus registry of drivers, matched per
 * interface of the active configuration (VID/PID, class triple, Microsoft
 * OS compatible ID), with the interfaces of an IAD function kept together.
 */
#include "core_priv.h"

#include "bareusb/desc.h"
#include "bareusb/msos.h"
#include "bareusb/util.h"

/** bu_usb_bus_register_driver under the lock. */
static int register_driver(struct bu_usb_bus *bus, const struct bu_usb_driver *drv)
{
	for (unsigned i = 0; i < bus->num_drivers; i++)
		if (bus->drivers[i] == drv)
			return 0;
	if (bus->num_drivers >= BU_USB_MAX_DRIVERS)
		return BU_ENOSPC;
	bus->drivers[bus->num_drivers++] = drv;
	/* Offer configured devices' unbound interfaces to the newcomer. */
	for (struct bu_usb_device *d = bus->devices; d; d = d->next)
		if (d->state == BU_DEV_CONFIGURED)
			bu_core_bind_device(d);
	return 0;
}

int bu_usb_bus_register_driver(struct bu_usb_bus *bus,
			       const struct bu_usb_driver *drv)
{
	int rc;

	if (!bus || !drv || !drv->name || !drv->probe)
		return BU_EINVAL;
	bu_usb_bus_lock(bus);
	rc = register_driver(bus, drv);
	bu_usb_bus_unlock(bus);
	return rc;
}

/** Unbind one interface's driver (and the rest of its function). */
static void unbind_interface(struct bu_usb_device *dev, struct bu_usb_interface *intf)
{
	const struct bu_usb_driver *drv = intf->driver;

	if (!drv || !intf->primary)
		return;
	if (drv->remove)
		drv->remove(intf);
	for (unsigned i = 0; i < dev->num_ifaces; i++) {
		struct bu_usb_interface *o = &dev->ifaces[i];

		if (o->driver == drv && o->func_first == intf->func_first) {
			o->driver = NULL;
			o->owner = NULL;
			o->primary = false;
			o->driver_data = NULL;
		}
	}
}

/** Whether a device on the list (linked by `next`) has `drv` bound. */
static bool list_bound(const struct bu_usb_device *list, const struct bu_usb_driver *drv)
{
	for (const struct bu_usb_device *d = list; d; d = d->next)
		for (unsigned k = 0; k < d->num_ifaces; k++)
			if (d->ifaces[k].driver == drv)
				return true;
	return false;
}

/** Unbind `drv` from the devices on the list (linked by `next`). */
static void list_unbind(struct bu_usb_device *list, const struct bu_usb_driver *drv)
{
	for (struct bu_usb_device *d = list; d; d = d->next)
		for (unsigned k = 0; k < d->num_ifaces; k++)
			if (d->ifaces[k].driver == drv)
				unbind_interface(d, &d->ifaces[k]);
}

/**
 * Let the removed devices `drv` is bound to finish: their remove() runs
 * once the controller driver gave their transfers back. It bounds that
 * (command timeout, abort, else a failed controller, which gives back
 * everything); this deadline is a backstop, after which they are unbound
 * as they are.
 */
struct dying_arg {
	struct bu_usb_bus *bus;
	const struct bu_usb_driver *drv;
};

/** bu_usb_bus_wait's done(): no removed device is bound to the driver. */
static bool dying_gone(void *arg)
{
	const struct dying_arg *a = arg;

	return !list_bound(a->bus->core->dying, a->drv);
}

static void dying_wait(struct bu_usb_bus *bus, const struct bu_usb_driver *drv)
{
	struct dying_arg a = { bus, drv };

	if (!bus->core)
		return; /* not started: nothing was ever removed */
	bu_usb_bus_wait(bus, dying_gone, &a,
			bu_core_now(bus) + 3ull * BU_USB_REQUEST_TIMEOUT_MS * 1000);
	list_unbind(bus->core->dying, drv);
}

void bu_usb_bus_unregister_driver(struct bu_usb_bus *bus,
				  const struct bu_usb_driver *drv)
{
	unsigned i;

	bu_usb_bus_lock(bus);
	dying_wait(bus, drv);
	list_unbind(bus->devices, drv);
	for (i = 0; i < bus->num_drivers && bus->drivers[i] != drv; i++)
		;
	if (i < bus->num_drivers) {
		for (; i + 1 < bus->num_drivers; i++)
			bus->drivers[i] = bus->drivers[i + 1];
		bus->num_drivers--;
	}
	bu_usb_bus_unlock(bus);
}

/*
 * Rule weights, ranked as Windows ranks IDs: a VID/PID (hardware ID) rule
 * beats a Microsoft OS compatible ID, which beats a class triple. The tiers
 * must not overlap: the four field matches together (4) stay below one
 * compatible ID (16), and a compatible ID plus every field (20) below one
 * identity field (32). Within a tier the more specific rule wins. A port
 * path names one device, as an identity field does.
 */
#define W_IDENT 32  /* each of idVendor, idProduct, the port path */
#define W_COMPAT 16 /* the device asked for this driver by name */
#define W_FIELD 1   /* class, subclass, protocol, interface number */

/** Whether a device's port path is the one `path` names. */
static bool path_is(const struct bu_usb_device *dev, const char *path)
{
	uint8_t want[BU_USB_MAX_PATH];
	unsigned n = bu_core_path_parse(path, want);

	if (!n || n != dev->tier)
		return false;
	for (unsigned i = 0; i < n; i++)
		if (dev->path[i] != want[i])
			return false;
	return true;
}

int bu_core_match_score(const struct bu_usb_device *dev, const struct bu_usb_alt_info *a,
			const char *compat, const struct bu_usb_match *m)
{
	int score = 0;

	if (m->flags & BU_MATCH_VENDOR) {
		if (dev->desc.idVendor != m->vid)
			return -1;
		score += W_IDENT;
	}
	if (m->flags & BU_MATCH_PRODUCT) {
		if (dev->desc.idProduct != m->pid)
			return -1;
		score += W_IDENT;
	}
	if (m->flags & BU_MATCH_PATH) {
		if (!path_is(dev, m->path))
			return -1;
		score += W_IDENT;
	}
	if (m->flags & BU_MATCH_DEV_CLASS) {
		if (dev->desc.bDeviceClass != m->class_code)
			return -1;
		score += W_FIELD;
	} else if (m->flags & BU_MATCH_CLASS) {
		if (!a || a->class_code != m->class_code)
			return -1;
		score += W_FIELD;
	}
	if (m->flags & BU_MATCH_SUBCLASS) {
		if (!a || a->subclass != m->subclass)
			return -1;
		score += W_FIELD;
	}
	if (m->flags & BU_MATCH_PROTOCOL) {
		if (!a || a->protocol != m->protocol)
			return -1;
		score += W_FIELD;
	}
	if (m->flags & BU_MATCH_INTERFACE) {
		if (!a || a->number != m->interface)
			return -1;
		score += W_FIELD;
	}
	if (m->flags & BU_MATCH_COMPAT_ID) {
		if (!m->compat_id || !compat || !compat[0] || bu_strcmp(compat, m->compat_id) != 0)
			return -1;
		score += W_COMPAT;
	}
	return score;
}

/** The weight of the fields of `m` that match the interface, or -1 when one differs. */
static int match_score(const struct bu_usb_device *dev,
		       const struct bu_usb_interface *intf,
		       const struct bu_usb_match *m)
{
	return bu_core_match_score(dev, intf->info, intf->compat_id, m);
}

/** Fill dev->ifaces from the active configuration (alt 0) and its IADs. */
static void build_interfaces(struct bu_usb_device *dev)
{
	const struct bu_usb_config_info *cfg;

	if (dev->num_ifaces || dev->active_config < 0)
		return;
	cfg = &dev->configs[dev->active_config];
	for (unsigned a = 0; a < cfg->num_alts; a++) {
		const struct bu_usb_alt_info *alt = &cfg->alts[a];
		struct bu_usb_interface *intf;

		if (alt->alt != 0 || dev->num_ifaces >= BU_USB_MAX_IFACES)
			continue;
		intf = &dev->ifaces[dev->num_ifaces++];
		bu_memset(intf, 0, sizeof(*intf));
		intf->dev = dev;
		intf->number = alt->number;
		intf->info = alt;
		intf->func_first = alt->number;
		intf->func_count = 1;
		for (unsigned k = 0; k < cfg->num_iads; k++) {
			const struct bu_usb_iad_info *iad = &cfg->iads[k];

			if (iad->count && alt->number >= iad->first_interface &&
			    alt->number - iad->first_interface < iad->count) {
				intf->func_first = iad->first_interface;
				intf->func_count = iad->count;
				break;
			}
		}
	}
}

/**
 * Log a driver's refusal of an interface. Kept out of bu_core_bind_device
 * (noinline): its path buffer and the log call's arguments would sit in
 * the frame under every probe.
 */
static __attribute__((noinline)) void probe_failed(struct bu_usb_interface *intf,
						   const struct bu_usb_driver *drv, int rc)
{
	char path[32];

	bu_core_log(intf->dev->bus, BU_LOG_WARN, "device %s interface %u: %s probe failed: %s",
		    bu_core_dev_path(intf->dev, path, sizeof(path)), intf->number, drv->name,
		    bu_strerror(rc));
}

/** Whether an application claimed an interface of intf's IAD function. */
static bool function_claimed(const struct bu_usb_device *dev, const struct bu_usb_interface *intf)
{
	for (unsigned k = 0; k < dev->num_ifaces; k++) {
		const struct bu_usb_interface *o = &dev->ifaces[k];

		if (o->func_first == intf->func_first && o->owner && !o->driver)
			return true;
	}
	return false;
}

/**
 * Probe the best-matching driver on a free interface (the first of its
 * function): 0 when it bound, BU_ENOTSUP when none matched or it declined,
 * its probe's error otherwise.
 */
static int bind_interface(struct bu_usb_device *dev, struct bu_usb_interface *intf)
{
	struct bu_usb_bus *bus = dev->bus;
	const struct bu_usb_driver *best = NULL;
	const struct bu_usb_match *best_m = NULL;
	int best_score = -1;
	int rc;

	for (unsigned d = 0; d < bus->num_drivers; d++) {
		const struct bu_usb_driver *drv = bus->drivers[d];

		for (unsigned k = 0; k < drv->num_match; k++) {
			int s = match_score(dev, intf, &drv->match[k]);

			if (s > best_score) {
				best_score = s;
				best = drv;
				best_m = &drv->match[k];
			}
		}
	}
	if (!best)
		return BU_ENOTSUP;
	intf->driver = best;
	intf->owner = best;
	intf->primary = true;
	rc = best->probe(intf, best_m);
	if (rc) {
		intf->driver = NULL;
		intf->owner = NULL;
		intf->primary = false;
		intf->driver_data = NULL;
		if (rc != BU_ENOTSUP)
			probe_failed(intf, best, rc);
		return rc;
	}
	for (unsigned k = 0; k < dev->num_ifaces; k++) {
		struct bu_usb_interface *o = &dev->ifaces[k];

		if (o != intf && !o->owner && o->func_first == intf->func_first &&
		    intf->func_count > 1) {
			o->driver = best;
			o->owner = best;
		}
	}
	return 0;
}

/** Whether `intf` may be offered to drivers: free, first of its function, unclaimed. */
static bool bindable(const struct bu_usb_device *dev, const struct bu_usb_interface *intf)
{
	/* Interfaces of a function go to the driver of its first one,
	 * unless an application holds one of them. */
	return !intf->owner && intf->number == intf->func_first && !function_claimed(dev, intf);
}

void bu_core_bind_device(struct bu_usb_device *dev)
{
	build_interfaces(dev);
	if (dev->msos)
		bu_msos_apply(dev->msos, dev);
	for (unsigned i = 0; i < dev->num_ifaces; i++)
		if (bindable(dev, &dev->ifaces[i]))
			bind_interface(dev, &dev->ifaces[i]);
}

void bu_core_unbind_device(struct bu_usb_device *dev)
{
	for (unsigned i = 0; i < dev->num_ifaces; i++)
		unbind_interface(dev, &dev->ifaces[i]);
}

uint64_t bu_core_drivers_next_timeout(struct bu_usb_bus *bus, uint64_t now)
{
	uint64_t next = BU_USB_NO_TIMEOUT;

	for (struct bu_usb_device *d = bus->devices; d; d = d->next) {
		if (d->state != BU_DEV_CONFIGURED)
			continue;
		for (unsigned i = 0; i < d->num_ifaces; i++) {
			const struct bu_usb_interface *intf = &d->ifaces[i];
			uint64_t t;

			if (!intf->primary || !intf->driver || !intf->driver->poll)
				continue;
			t = intf->driver->next_timeout
				    ? intf->driver->next_timeout(&d->ifaces[i], now)
				    : now + BU_USB_DRIVER_POLL_US;
			if (t < next)
				next = t;
		}
	}
	return next;
}

void bu_core_poll_drivers(struct bu_usb_bus *bus, uint64_t now)
{
	for (struct bu_usb_device *d = bus->devices; d; d = d->next) {
		if (d->state != BU_DEV_CONFIGURED)
			continue;
		for (unsigned i = 0; i < d->num_ifaces; i++) {
			struct bu_usb_interface *intf = &d->ifaces[i];

			if (intf->primary && intf->driver && intf->driver->poll)
				intf->driver->poll(intf, now);
		}
	}
}

/* ======================================================================== */
/* Interface claims: an application's, or a driver's bind                   */
/* ======================================================================== */

/** The interface `number` of a usable device's active configuration, or why not. */
static int claim_target(struct bu_usb_device *dev, uint8_t number, struct bu_usb_interface **out)
{
	*out = NULL;
	if (dev->state == BU_DEV_GONE)
		return BU_ENODEV;
	for (unsigned i = 0; i < dev->num_ifaces && i < BU_USB_MAX_IFACES; i++) {
		if (dev->ifaces[i].number == number) {
			*out = &dev->ifaces[i];
			return 0;
		}
	}
	return BU_ENOENT;
}

/** Take (claim) or give back an application's claim, under the bus lock. */
static int claim_change(struct bu_usb_device *dev, uint8_t number, const void *owner, bool claim)
{
	struct bu_usb_interface *intf;
	int rc;

	if (!dev || !owner)
		return BU_EINVAL;
	bu_usb_bus_lock(dev->bus);
	rc = claim_target(dev, number, &intf);
	if (!rc && claim) {
		/* A driver's, or someone else's; claiming one's own again is fine. */
		if (intf->driver || (intf->owner && intf->owner != owner))
			rc = BU_EBUSY;
		else
			intf->owner = owner;
	} else if (!rc) {
		if (!intf->owner)
			rc = BU_EINVAL; /* nothing to release */
		else if (intf->driver || intf->owner != owner)
			rc = BU_EBUSY; /* held by a driver (unregister it) or another owner */
		else
			intf->owner = NULL;
	}
	bu_usb_bus_unlock(dev->bus);
	return rc;
}

int bu_usb_claim_interface(struct bu_usb_device *dev, uint8_t number, const void *owner)
{
	return claim_change(dev, number, owner, true);
}

int bu_usb_release_interface(struct bu_usb_device *dev, uint8_t number, const void *owner)
{
	return claim_change(dev, number, owner, false);
}

/** The interface `number` for a bind or unbind, or why not (under the lock). */
static int bind_target(struct bu_usb_device *dev, uint8_t number, struct bu_usb_interface **out)
{
	if (bu_core_in_callback(dev->bus))
		return BU_EBUSY;
	if (dev->state != BU_DEV_CONFIGURED && dev->state != BU_DEV_GONE)
		return BU_ENOENT; /* no active configuration: no interfaces */
	return claim_target(dev, number, out);
}

/** Bind or unbind interface `number`, under the bus lock. */
static int bind_change(struct bu_usb_device *dev, uint8_t number, bool bind)
{
	struct bu_usb_interface *intf;
	int rc;

	if (!dev)
		return BU_EINVAL;
	bu_usb_bus_lock(dev->bus);
	rc = bind_target(dev, number, &intf);
	if (!rc && bind) {
		rc = bindable(dev, intf) ? bind_interface(dev, intf) : BU_EBUSY;
	} else if (!rc) {
		if (!intf->driver)
			rc = BU_EINVAL;
		else if (intf->driver == &bu_usb_hub_driver)
			rc = BU_EBUSY; /* it serves the devices below */
		/* The function's primary interface is the one its driver was probed with. */
		for (unsigned i = 0; !rc && i < dev->num_ifaces; i++)
			if (dev->ifaces[i].primary && dev->ifaces[i].driver == intf->driver &&
			    dev->ifaces[i].func_first == intf->func_first)
				intf = &dev->ifaces[i];
		if (!rc)
			unbind_interface(dev, intf);
	}
	bu_usb_bus_unlock(dev->bus);
	return rc;
}

int bu_usb_unbind_interface(struct bu_usb_device *dev, uint8_t number)
{
	return bind_change(dev, number, false);
}

int bu_usb_bind_interface(struct bu_usb_device *dev, uint8_t number)
{
	return bind_change(dev, number, true);
}
