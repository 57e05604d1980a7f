/*
 * `xferload`: a test class driver that keeps transfers in flight on every
 * interface no other driver wants (hubs keep the hub driver), so that
 * unplugging a device finds transfers queued. QEMU drops those silently;
 * the stack must complete each one with BU_ENODEV before the driver's
 * remove() runs.
 *
 * Two modes per interface:
 *   "in"   4 transfers queued on every interrupt and bulk IN endpoint,
 *          resubmitted as they complete (HID reports, serial data);
 *   "bot"  a mass-storage Bulk-Only interface (USB MSC BOT 1.0) gets a
 *          command loop instead, since a bare bulk IN there only stalls:
 *          TEST UNIT READY once (it takes the power-on unit attention),
 *          then READ(10) of 64 KiB from LBA 0 over and over. CBW (OUT),
 *          data (IN) and CSW (IN) are queued one after the other, each from
 *          the previous one's completion, so a transfer is always in
 *          flight outside those callbacks. (QEMU's usb-storage takes a CSW
 *          queued behind a data transfer still in progress as more data
 *          and never completes it, so the phases are not pipelined.)
 *
 * Lines (one JSON object each, see README.md):
 *   usbxferstart {"bus","path","iface","mode","queued"}   after probe
 *   usbxfer {"bus","path","ep","status","error"}          each transfer that
 *                                                         ended in an error
 *   usbxferend {"bus","path","iface","mode","queued","ok","enodev","other",
 *               "pending"}                                from remove()
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

/* USB MSC BOT 1.0 §5: CBW and CSW. */
#define BOT_CBW_LEN  31
#define BOT_CSW_LEN  13
#define BOT_CBW_SIG  0x43425355u /* "USBC" */
#define BOT_READ_LEN 65536u
#define BOT_BLOCK    512u
#define SCSI_TUR     0x00
#define SCSI_READ10  0x28

enum xl_role { XR_IN = 0, XR_CBW, XR_DATA, XR_CSW };

struct xl_iface;

/** One transfer and its buffer. */
struct xl_xfer {
	struct bu_usb_xfer x;
	struct xl_iface *owner;
	struct bu_usb_endpoint *ep;
	uint8_t *buf;
	size_t len;
	uint8_t role;
	bool busy;
};

/** Per-interface state. */
struct xl_iface {
	struct bu_usb_interface *intf;
	bool bot;
	bool bot_stopped; /* a command failed: no more are queued */
	uint32_t tag;
	unsigned n;
	unsigned queued, ok, enodev, other, busy;
	struct xl_xfer xf[XL_MAX_EPS * XL_PER_EP];
};

static void xl_done(struct bu_usb_xfer *x);

/** Store a 32-bit little-endian value. */
static void put_le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

/** (Re)submit one transfer of `len` bytes; false when the stack refused it. */
static bool xl_submit(struct xl_xfer *t, size_t len)
{
	bu_memset(&t->x, 0, sizeof(t->x));
	t->x.ep = t->ep;
	t->x.buf = len ? t->buf : NULL;
	t->x.len = len;
	t->x.complete = xl_done;
	t->x.ctx = t;
	if (bu_usb_xfer_submit(&t->x))
		return false;
	t->busy = true;
	t->owner->busy++;
	return true;
}

/** Queue the next BOT command's CBW; its data and CSW follow from xl_done. */
static bool bot_command(struct xl_iface *s)
{
	struct xl_xfer *cbw = &s->xf[0];
	bool read = s->tag > 0;
	uint8_t *c = cbw->buf;

	bu_memset(c, 0, BOT_CBW_LEN);
	put_le32(&c[0], BOT_CBW_SIG);
	put_le32(&c[4], ++s->tag);
	put_le32(&c[8], read ? BOT_READ_LEN : 0);
	c[12] = read ? USB_DIR_IN : 0;
	c[13] = 0; /* LUN */
	c[14] = read ? 10 : 6;
	if (read) {
		c[15] = SCSI_READ10; /* LBA 0 */
		c[22] = (uint8_t)((BOT_READ_LEN / BOT_BLOCK) >> 8);
		c[23] = (uint8_t)(BOT_READ_LEN / BOT_BLOCK);
	} else {
		c[15] = SCSI_TUR;
	}
	return xl_submit(cbw, BOT_CBW_LEN);
}

/** The BOT phase after `t` completed: data, CSW, or the next command. */
static void bot_next(struct xl_iface *s, struct xl_xfer *t)
{
	bool read = s->tag > 1;

	if (t->role == XR_CBW && read)
		xl_submit(&s->xf[1], BOT_READ_LEN);
	else if (t->role == XR_CBW || t->role == XR_DATA)
		xl_submit(&s->xf[2], BOT_CSW_LEN);
	else
		bot_command(s);
}

static void xl_done(struct bu_usb_xfer *x)
{
	struct xl_xfer *t = x->ctx;
	struct xl_iface *s = t->owner;
	struct bu_usb_device *dev = s->intf->dev;
	char path[32];

	t->busy = false;
	s->busy--;
	if (x->status == 0) {
		s->ok++;
		if (dev->state != BU_DEV_CONFIGURED)
			return;
		if (t->role == XR_IN)
			xl_submit(t, t->len);
		else if (!s->bot_stopped)
			bot_next(s, t);
		return;
	}
	if (x->status == BU_ENODEV)
		s->enodev++;
	else
		s->other++;
	if (t->role != XR_IN)
		s->bot_stopped = true;
	guest_dev_path(dev, path, sizeof(path));
	kprintf("usbxfer {\"bus\":%u,\"path\":\"%s\",\"ep\":\"0x%02x\","
		"\"status\":%d,\"error\":\"%s\"}\n",
		dev->bus->index, path, t->ep->address, x->status,
		bu_strerror(x->status));
}

/** Add a transfer slot with a buffer of `len` bytes; NULL when full. */
static struct xl_xfer *xl_add(struct xl_iface *s, struct bu_usb_endpoint *ep,
			      size_t len, enum xl_role role)
{
	struct xl_xfer *t;

	if (s->n >= BU_ARRAY_SIZE(s->xf))
		return NULL;
	t = &s->xf[s->n];
	t->owner = s;
	t->ep = ep;
	t->len = len;
	t->role = (uint8_t)role;
	t->buf = arena_alloc(len, 64, 0);
	if (!t->buf)
		return NULL;
	s->n++;
	return t;
}

/** The interface's first bulk endpoint in direction `in`, or NULL. */
static struct bu_usb_endpoint *bulk_ep(struct bu_usb_interface *intf,
				       const struct bu_usb_config_info *cfg,
				       bool in)
{
	for (unsigned e = 0; e < intf->info->num_eps; e++) {
		const struct bu_usb_ep_info *info =
		    bu_desc_alt_ep(cfg, intf->info, e);

		if (info &&
		    USB_ENDPOINT_XFERTYPE(info->attributes) == BU_EP_BULK &&
		    !!(info->address & USB_DIR_IN) == in)
			return bu_usb_find_endpoint(intf->dev, info->address);
	}
	return NULL;
}

/** Mass storage, SCSI transparent, Bulk-Only (USB MSC overview §2, §3). */
static bool is_bot(const struct bu_usb_alt_info *alt)
{
	return alt->class_code == 8 && alt->subclass == 6 &&
	       alt->protocol == 0x50;
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
	if (is_bot(intf->info)) {
		struct bu_usb_endpoint *in = bulk_ep(intf, cfg, true);
		struct bu_usb_endpoint *out = bulk_ep(intf, cfg, false);

		if (in && out && xl_add(s, out, BOT_CBW_LEN, XR_CBW) &&
		    xl_add(s, in, BOT_READ_LEN, XR_DATA) &&
		    xl_add(s, in, BOT_CSW_LEN, XR_CSW)) {
			s->bot = true;
			s->queued = bot_command(s) ? 1 : 0;
		}
	}
	for (unsigned e = 0; !s->bot && e < intf->info->num_eps; e++) {
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
		if (!ep)
			continue;
		for (unsigned k = 0; k < XL_PER_EP; k++) {
			size_t len =
			    BU_MIN(BU_MAX(ep->mps, 8u), (unsigned)XL_MAX_LEN);
			struct xl_xfer *t = xl_add(s, ep, len, XR_IN);

			if (!t)
				break;
			if (xl_submit(t, t->len))
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
		"\"mode\":\"%s\",\"queued\":%u}\n",
		dev->bus->index, path, intf->number, s->bot ? "bot" : "in",
		s->queued);
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
		"\"mode\":\"%s\",\"queued\":%u,\"ok\":%u,\"enodev\":%u,"
		"\"other\":%u,\"pending\":%u}\n",
		dev->bus->index, path, intf->number, s->bot ? "bot" : "in",
		s->queued, s->ok, s->enodev, s->other, s->busy);
	/* A transfer still out would complete into freed memory: keep the
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
