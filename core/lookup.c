/*
 * Finding devices: a walk over a bus's devices in tree order that stays
 * right while devices come and go, and the match rule of class drivers
 * applied to whole devices.
 */
#include "core_priv.h"

/* The flags a rule may carry. */
#define MATCH_ALL                                                                      \
	(BU_MATCH_VENDOR | BU_MATCH_PRODUCT | BU_MATCH_CLASS | BU_MATCH_SUBCLASS |     \
	 BU_MATCH_PROTOCOL | BU_MATCH_INTERFACE | BU_MATCH_COMPAT_ID | BU_MATCH_DEV_CLASS | \
	 BU_MATCH_PATH)
/* The flags an interface (one alternate setting) answers. */
#define MATCH_IFACE                                                                    \
	(BU_MATCH_CLASS | BU_MATCH_SUBCLASS | BU_MATCH_PROTOCOL | BU_MATCH_INTERFACE | \
	 BU_MATCH_COMPAT_ID)
/* The flags the device descriptor answers. */
#define MATCH_DESC (BU_MATCH_VENDOR | BU_MATCH_PRODUCT | BU_MATCH_DEV_CLASS)

/**
 * Tree order of two port paths (tier entries each): negative when a comes
 * first. A hub comes before the devices below it, siblings by port number.
 */
static int path_cmp(const uint8_t *a, unsigned na, const uint8_t *b, unsigned nb)
{
	for (unsigned i = 0; i < na && i < nb; i++)
		if (a[i] != b[i])
			return a[i] < b[i] ? -1 : 1;
	return na == nb ? 0 : na < nb ? -1 : 1;
}

/** The number of valid entries of a device's path. */
static unsigned path_len(const struct bu_usb_device *dev)
{
	return dev->tier < BU_USB_MAX_PATH ? dev->tier : BU_USB_MAX_PATH;
}

/** Whether the walk visits a device: its enumeration ended and it was announced. */
static bool visible(const struct bu_usb_device *dev)
{
	return dev->state == BU_DEV_CONFIGURED || dev->state == BU_DEV_FAILED;
}

int bu_usb_foreach_device(struct bu_usb_bus *bus, bu_usb_device_fn fn, void *ctx)
{
	/* Where the walk is: a copy of the last visited device's path (not
	 * the device, which fn may see removed and freed). */
	uint8_t last[BU_USB_MAX_PATH];
	unsigned last_len = 0;
	bool first = true;

	if (!bus || !fn)
		return BU_EINVAL;
	for (;;) {
		struct bu_usb_device *next = NULL;
		int rc;

		/* The first visible device after `last` in tree order: each
		 * step starts from the bus's list as it is now. */
		bu_usb_bus_lock(bus);
		for (struct bu_usb_device *d = bus->devices; d; d = d->next) {
			if (!visible(d) ||
			    (!first && path_cmp(d->path, path_len(d), last, last_len) <= 0))
				continue;
			if (!next || path_cmp(d->path, path_len(d), next->path, path_len(next)) < 0)
				next = d;
		}
		if (next) {
			last_len = path_len(next);
			for (unsigned i = 0; i < BU_USB_MAX_PATH; i++)
				last[i] = next->path[i];
		}
		bu_usb_bus_unlock(bus);
		if (!next)
			return 0;
		first = false;
		rc = fn(next, ctx);
		if (rc)
			return rc;
	}
}

/** The compatible ID of interface `number` ("" when none). */
static const char *iface_compat(const struct bu_usb_device *dev, uint8_t number)
{
	for (unsigned i = 0; i < dev->num_ifaces && i < BU_USB_MAX_IFACES; i++)
		if (dev->ifaces[i].number == number)
			return dev->ifaces[i].compat_id;
	return "";
}

bool bu_usb_device_match(const struct bu_usb_device *dev, const struct bu_usb_match *m)
{
	const struct bu_usb_config_info *cfg;

	if (!dev || !m || (m->flags & ~MATCH_ALL))
		return false;
	if ((m->flags & MATCH_DESC) && !dev->have_desc)
		return false;
	if (!(m->flags & MATCH_IFACE))
		return bu_core_match_score(dev, NULL, NULL, m) >= 0;
	/* Some alternate setting of some interface of the active
	 * configuration answers every interface field. */
	if (dev->active_config < 0 || dev->active_config >= (int)dev->num_configs)
		return false;
	cfg = &dev->configs[dev->active_config];
	for (unsigned a = 0; a < cfg->num_alts; a++)
		if (bu_core_match_score(dev, &cfg->alts[a], iface_compat(dev, cfg->alts[a].number),
					m) >= 0)
			return true;
	return false;
}

/** A lookup's rule and answer, for find_one. */
struct find_ctx {
	const struct bu_usb_match *m;
	struct bu_usb_device *found;
};

/** bu_usb_foreach_device callback: stop at the first configured match. */
static int find_one(struct bu_usb_device *dev, void *ctx)
{
	struct find_ctx *f = ctx;

	if (dev->state != BU_DEV_CONFIGURED || !bu_usb_device_match(dev, f->m))
		return 0;
	f->found = dev;
	return 1;
}

unsigned bu_core_path_parse(const char *path, uint8_t out[BU_USB_MAX_PATH])
{
	unsigned tiers = 0;

	if (!path)
		return 0;
	for (const char *p = path;; p++) {
		unsigned v = 0, digits = 0;

		for (; *p >= '0' && *p <= '9' && digits < 4; p++, digits++)
			v = v * 10 + (unsigned)(*p - '0');
		/* 1..255 without leading zeros, as bu_core_dev_path prints them. */
		if (!digits || digits > 3 || p[-(int)digits] == '0' || v > 255 ||
		    tiers >= BU_USB_MAX_PATH)
			return 0;
		out[tiers++] = (uint8_t)v;
		if (*p == '\0')
			return tiers;
		if (*p != '.')
			return 0;
	}
}

int bu_usb_find_device(struct bu_usb_bus *bus, const struct bu_usb_match *m,
		       struct bu_usb_device **dev)
{
	struct find_ctx f;
	uint8_t path[BU_USB_MAX_PATH];

	if (dev)
		*dev = NULL;
	if (!bus || !m || !dev || (m->flags & ~MATCH_ALL))
		return BU_EINVAL;
	if ((m->flags & BU_MATCH_PATH) && !bu_core_path_parse(m->path, path))
		return BU_EINVAL;
	if ((m->flags & BU_MATCH_COMPAT_ID) && !m->compat_id)
		return BU_EINVAL;
	f.m = m;
	f.found = NULL;
	bu_usb_foreach_device(bus, find_one, &f);
	*dev = f.found;
	return f.found ? 0 : BU_ENOENT;
}
