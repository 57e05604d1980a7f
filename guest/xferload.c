/*
 * `xferload`: a test class driver that keeps transfers queued on every
 * interrupt and bulk IN endpoint of every interface no other driver wants
 * (hubs keep the hub driver), so that unplugging a device finds transfers
 * in flight. QEMU drops those silently; the stack must complete each one
 * with BU_ENODEV before the driver's remove() runs.
 *
 * Lines (one JSON object each, see README.md):
 *   usbxferstart {"bus","path","iface","queued"}   after probe
 *   usbxfer {"bus","path","ep","status","error"}   each transfer that ended
 *                                                  with an error
 *   usbxferend {"bus","path","iface","queued","ok","enodev","other",
 *               "pending"}                         from remove()
 * `pending` counts transfers the driver still had out when remove() ran;
 * the core's contract makes it 0.
 */
#include "guest.h"

#include "bareusb/desc.h"
#include "bareusb/errors.h"
#include "bareusb/usb.h"
#include "bareusb/util.h"

#define XL_PER_EP  4 /* transfers kept queued per endpoint */
#define XL_MAX_EPS 8 /* IN endpoints served per interface */
#define XL_MAX_LEN 1024

struct xl_iface;

/** One transfer and its buffer. */
struct xl_xfer {
	struct bu_usb_xfer x;
	struct xl_iface *owner;
	uint8_t *buf;
	size_t len;
	bool busy;
};

/** Per-interface state. */
struct xl_iface {
	struct bu_usb_interface *intf;
	unsigned n;
	unsigned queued, ok, enodev, other, busy;
	struct xl_xfer xf[XL_MAX_EPS * XL_PER_EP];
};

static void xl_done(struct bu_usb_xfer *x);

/** (Re)submit one transfer; false when the stack refused it. */
static bool xl_submit(struct xl_xfer *t, struct bu_usb_endpoint *ep)
{
	bu_memset(&t->x, 0, sizeof(t->x));
	t->x.ep = ep;
	t->x.buf = t->buf;
	t->x.len = t->len;
	t->x.complete = xl_done;
	t->x.ctx = t;
	if (bu_usb_xfer_submit(&t->x))
		return false;
	t->busy = true;
	t->owner->busy++;
	return true;
}

static void xl_done(struct bu_usb_xfer *x)
{
	struct xl_xfer *t = x->ctx;
	struct xl_iface *s = t->owner;
	struct bu_usb_device *dev = s->intf->dev;
	struct bu_usb_endpoint *ep = x->ep;
	char path[32];

	t->busy = false;
	s->busy--;
	if (x->status == 0) {
		s->ok++;
		if (dev->state == BU_DEV_CONFIGURED)
			xl_submit(t, ep);
		return;
	}
	if (x->status == BU_ENODEV)
		s->enodev++;
	else
		s->other++;
	guest_dev_path(dev, path, sizeof(path));
	kprintf("usbxfer {\"bus\":%u,\"path\":\"%s\",\"ep\":\"0x%02x\","
		"\"status\":%d,\"error\":\"%s\"}\n",
		dev->bus->index, path, ep->address, x->status,
		bu_strerror(x->status));
}

static int xl_probe(struct bu_usb_interface *intf, const struct bu_usb_match *m)
{
	struct bu_usb_device *dev = intf->dev;
	const struct bu_usb_config_info *cfg;
	struct xl_iface *s;
	char path[32];

	(void)m;
	if (!intf->info || dev->active_config < 0)
		return BU_ENOTSUP;
	cfg = &dev->configs[dev->active_config];
	s = arena_alloc(sizeof(*s), 16, 0);
	if (!s)
		return BU_ENOMEM;
	s->intf = intf;
	for (unsigned e = 0; e < intf->info->num_eps; e++) {
		const struct bu_usb_ep_info *info =
		    bu_desc_alt_ep(cfg, intf->info, e);
		struct bu_usb_endpoint *ep;
		unsigned type;

		if (!info || !(info->address & USB_DIR_IN))
			continue;
		type = USB_ENDPOINT_XFERTYPE(info->attributes);
		if (type != BU_EP_INTERRUPT && type != BU_EP_BULK)
			continue;
		ep = bu_usb_find_endpoint(dev, info->address);
		if (!ep || s->n + XL_PER_EP > BU_ARRAY_SIZE(s->xf))
			continue;
		for (unsigned k = 0; k < XL_PER_EP; k++) {
			struct xl_xfer *t = &s->xf[s->n];

			t->owner = s;
			t->len =
			    BU_MIN(BU_MAX(ep->mps, 8u), (unsigned)XL_MAX_LEN);
			t->buf = arena_alloc(t->len, 64, 0);
			if (!t->buf)
				break;
			s->n++;
			if (xl_submit(t, ep))
				s->queued++;
		}
	}
	if (!s->n) {
		arena_free(s, sizeof(*s));
		return BU_ENOTSUP;
	}
	intf->driver_data = s;
	guest_dev_path(dev, path, sizeof(path));
	kprintf("usbxferstart {\"bus\":%u,\"path\":\"%s\",\"iface\":%u,"
		"\"queued\":%u}\n",
		dev->bus->index, path, intf->number, s->queued);
	return 0;
}

static void xl_remove(struct bu_usb_interface *intf)
{
	struct xl_iface *s = intf->driver_data;
	struct bu_usb_device *dev = intf->dev;
	char path[32];

	if (!s)
		return;
	guest_dev_path(dev, path, sizeof(path));
	kprintf("usbxferend {\"bus\":%u,\"path\":\"%s\",\"iface\":%u,"
		"\"queued\":%u,\"ok\":%u,\"enodev\":%u,\"other\":%u,"
		"\"pending\":%u}\n",
		dev->bus->index, path, intf->number, s->queued, s->ok,
		s->enodev, s->other, s->busy);
	/* A transfer still out would complete into freed memory: keep its
	 * state rather than free it (the line above already reports it). */
	if (s->busy)
		return;
	for (unsigned i = 0; i < s->n; i++)
		arena_free(s->xf[i].buf, s->xf[i].len);
	arena_free(s, sizeof(*s));
	intf->driver_data = NULL;
}

/* Flags 0: every interface matches with score 0, so any driver with a
 * real rule (the hub driver) wins. */
static const struct bu_usb_match xl_match[] = {{.flags = 0}};

static const struct bu_usb_driver xl_driver = {
    .name = "xferload",
    .match = xl_match,
    .num_match = BU_ARRAY_SIZE(xl_match),
    .probe = xl_probe,
    .remove = xl_remove,
};

int xferload_register(struct bu_usb_bus *bus)
{
	return bu_usb_bus_register_driver(bus, &xl_driver);
}
