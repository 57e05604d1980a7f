/*
 * Descriptor parsing (USB 2.0 §9.5-9.6, USB 3.2 §9.5-9.6). Every byte comes
 * from a device and is untrusted: each length is checked against what was
 * received before anything is read, and nothing is allocated.
 *
 * Order: generic walking → device descriptor → configuration bundle →
 * strings → BOS.
 */
#include "bareusb/desc.h"

#include "bareusb/errors.h"
#include "bareusb/util.h"

/** Set *why when the caller asked for a reason. */
static void set_why(const char **why, const char *reason)
{
	if (why)
		*why = reason;
}

/** Fail with `err` and a reason. */
static int fail(const char **why, int err, const char *reason)
{
	set_why(why, reason);
	return err;
}

/* ------------------------------------------------------------------------ */
/* Generic walking                                                          */

const uint8_t *bu_desc_next(const uint8_t *buf, size_t len, size_t *off)
{
	size_t at, left;
	uint8_t dlen;

	if (!buf || !off || *off >= len)
		return NULL;
	at = *off;
	left = len - at;
	if (left < 2)
		return NULL;
	dlen = buf[at];
	if (dlen < 2 || dlen > left) {
		*off = len; /* malformed: the rest cannot be trusted */
		return NULL;
	}
	*off = at + dlen;
	return buf + at;
}

const uint8_t *bu_desc_find(const uint8_t *buf, size_t len, size_t *off,
			    uint8_t type, uint8_t min_len)
{
	const uint8_t *d;

	while ((d = bu_desc_next(buf, len, off)) != NULL)
		if (d[1] == type && d[0] >= min_len)
			return d;
	return NULL;
}

int bu_desc_total_length(const uint8_t *buf, size_t len, uint8_t type,
			 const char **why)
{
	unsigned min =
	    type == USB_DT_BOS ? USB_DT_BOS_SIZE : USB_DT_CONFIG_SIZE;
	unsigned total;

	if (!buf)
		return fail(why, BU_EINVAL, "no buffer");
	if (len < 4)
		return fail(why, BU_EBADDESC,
			    "descriptor header truncated (< 4 bytes)");
	if (buf[1] != type)
		return fail(why, BU_EBADDESC, "wrong descriptor type");
	if (buf[0] < min)
		return fail(why, BU_EBADDESC, "descriptor bLength too small");
	total = bu_get_le16(buf + 2);
	if (total < min || total < buf[0])
		return fail(why, BU_EBADDESC,
			    "wTotalLength smaller than the header");
	return (int)total;
}

/* ------------------------------------------------------------------------ */
/* Device descriptor                                                        */

int bu_desc_parse_device(const uint8_t *buf, size_t len,
			 struct usb_device_descriptor *out, const char **why)
{
	if (!buf || !out)
		return fail(why, BU_EINVAL, "no buffer");
	if (len < USB_DT_DEVICE_SIZE)
		return fail(why, BU_EBADDESC,
			    "device descriptor truncated (< 18 bytes)");
	if (buf[1] != USB_DT_DEVICE)
		return fail(why, BU_EBADDESC, "not a device descriptor");
	if (buf[0] < USB_DT_DEVICE_SIZE)
		return fail(why, BU_EBADDESC, "device descriptor bLength < 18");

	out->bLength = buf[0];
	out->bDescriptorType = buf[1];
	out->bcdUSB = bu_get_le16(buf + 2);
	out->bDeviceClass = buf[4];
	out->bDeviceSubClass = buf[5];
	out->bDeviceProtocol = buf[6];
	out->bMaxPacketSize0 = buf[7];
	out->idVendor = bu_get_le16(buf + 8);
	out->idProduct = bu_get_le16(buf + 10);
	out->bcdDevice = bu_get_le16(buf + 12);
	out->iManufacturer = buf[14];
	out->iProduct = buf[15];
	out->iSerialNumber = buf[16];
	out->bNumConfigurations = buf[17];

	/* USB 2.0 Table 9-8: at least one configuration. */
	if (out->bNumConfigurations == 0)
		return fail(why, BU_EBADDESC, "bNumConfigurations is 0");
	return 0;
}

int bu_desc_mps0(uint8_t b_max_packet_size0, uint16_t bcd_usb,
		 enum bu_usb_speed speed, const char **why)
{
	uint8_t v = b_max_packet_size0;

	switch (speed) {
	case BU_SPEED_LOW: /* USB 2.0 §5.5.3 */
		if (v == 8)
			return 8;
		return fail(why, BU_EBADDESC,
			    "low-speed bMaxPacketSize0 must be 8");
	case BU_SPEED_FULL:
		if (v == 8 || v == 16 || v == 32 || v == 64)
			return v;
		return fail(
		    why, BU_EBADDESC,
		    "full-speed bMaxPacketSize0 must be 8, 16, 32 or 64");
	case BU_SPEED_HIGH:
		if (v == 64)
			return 64;
		return fail(why, BU_EBADDESC,
			    "high-speed bMaxPacketSize0 must be 64");
	case BU_SPEED_SUPER:
	case BU_SPEED_SUPER_PLUS: /* USB 3.2 §9.6.1: exponent, 2^9 = 512 */
		if (v == 9)
			return 512;
		return fail(why, BU_EBADDESC,
			    "SuperSpeed bMaxPacketSize0 must be 9");
	case BU_SPEED_UNKNOWN:
	default:
		if (v == 8 || v == 16 || v == 32 || v == 64)
			return v;
		if (v == 9 && bcd_usb >= 0x0300)
			return 512;
		return fail(why, BU_EBADDESC, "illegal bMaxPacketSize0");
	}
}

int bu_desc_device_mps0(const uint8_t *buf, size_t len, enum bu_usb_speed speed,
			const char **why)
{
	if (!buf)
		return fail(why, BU_EINVAL, "no buffer");
	if (len < 8)
		return fail(why, BU_EBADDESC,
			    "device descriptor truncated (< 8 bytes)");
	if (buf[1] != USB_DT_DEVICE)
		return fail(why, BU_EBADDESC, "not a device descriptor");
	if (buf[0] < USB_DT_DEVICE_SIZE)
		return fail(why, BU_EBADDESC, "device descriptor bLength < 18");
	return bu_desc_mps0(buf[7], bu_get_le16(buf + 2), speed, why);
}

/* ------------------------------------------------------------------------ */
/* Configuration bundle                                                     */

#define EPS_PER_ALT 30 /* USB 2.0 §9.6.6: 15 IN + 15 OUT besides EP0 */

/** Validate a configuration header; returns the byte count to parse or < 0. */
static int config_header(const uint8_t *buf, size_t len, const char **why)
{
	size_t total;

	if (!buf)
		return fail(why, BU_EINVAL, "no buffer");
	if (len < USB_DT_CONFIG_SIZE)
		return fail(why, BU_EBADDESC,
			    "configuration descriptor truncated (< 9 bytes)");
	if (buf[1] != USB_DT_CONFIG)
		return fail(why, BU_EBADDESC, "not a configuration descriptor");
	if (buf[0] < USB_DT_CONFIG_SIZE)
		return fail(why, BU_EBADDESC, "configuration bLength < 9");
	total = bu_get_le16(buf + 2);
	if (total < USB_DT_CONFIG_SIZE)
		return fail(why, BU_EBADDESC, "configuration wTotalLength < 9");
	if (total > len)
		total = len; /* short read: parse what arrived */
	if (buf[0] > total)
		return fail(why, BU_EBADDESC,
			    "configuration bLength runs past wTotalLength");
	return (int)total;
}

int bu_desc_count_config(const uint8_t *buf, size_t len, uint16_t *nalts,
			 uint16_t *neps, uint16_t *niads, const char **why)
{
	unsigned a = 0, e = 0, i = 0;
	const uint8_t *d;
	size_t off;
	int total;

	total = config_header(buf, len, why);
	if (total < 0)
		return total;
	off = buf[0];
	while ((d = bu_desc_next(buf, (size_t)total, &off)) != NULL) {
		if (d[1] == USB_DT_INTERFACE && d[0] >= USB_DT_INTERFACE_SIZE)
			a++;
		else if (d[1] == USB_DT_ENDPOINT &&
			 d[0] >= USB_DT_ENDPOINT_SIZE)
			e++;
		else if (d[1] == USB_DT_IAD && d[0] >= USB_DT_IAD_SIZE)
			i++;
	}
	/* Each is at least 7 bytes inside 65535, so the counts fit 16 bits. */
	if (nalts)
		*nalts = (uint16_t)a;
	if (neps)
		*neps = (uint16_t)e;
	if (niads)
		*niads = (uint16_t)i;
	set_why(why, NULL);
	return 0;
}

/** What the previous descriptor was, for companion placement. */
enum prev_kind {
	PREV_OTHER,
	PREV_EP, /* a stored endpoint */
	PREV_SS, /* its SuperSpeed companion */
};

/** Walk state of bu_desc_parse_config. */
struct cfg_walk {
	struct bu_usb_config_info *cfg;
	enum bu_usb_speed speed;
	size_t max_alts, max_eps, max_iads;
	const char *first_warn;
	struct bu_usb_alt_info *alt; /* current alt setting, NULL when none */
	uint8_t alt_declared_eps;    /* its bNumEndpoints */
	bool alt_overflow_warned;
	bool iface_skipped; /* the latest interface descriptor was dropped */
	struct bu_usb_ep_info *ep; /* latest stored endpoint */
	enum prev_kind prev;
	bool ssp_expected;     /* companion announced an SSP companion */
	const uint8_t **extra; /* where unknown descriptors attach */
	uint16_t *extra_len;
	uint8_t seen[32]; /* bitmap of interface numbers */
};

/** Count a tolerated irregularity; remember the first one. */
static void warn(struct cfg_walk *w, const char *what)
{
	if (w->cfg->warnings < UINT16_MAX)
		w->cfg->warnings++;
	if (!w->first_warn)
		w->first_warn = what;
}

/** Count an irregularity of endpoint `ep` fixed up; remember it on the endpoint. */
static void warn_ep(struct cfg_walk *w, struct bu_usb_ep_info *ep, const char *what)
{
	warn(w, what);
	if (ep && !ep->fixed)
		ep->fixed = what;
}

/** Attach descriptor `d` (already bounds-checked) to the current owner. */
static void attach_extra(struct cfg_walk *w, const uint8_t *d)
{
	if (!w->extra)
		return;
	if (!*w->extra)
		*w->extra = d;
	/* Spans only grow forward inside the <= 65535-byte bundle. */
	*w->extra_len = (uint16_t)(d + d[0] - *w->extra);
}

/** Close the current alt setting: compare endpoints found vs declared. */
static void end_alt(struct cfg_walk *w)
{
	if (w->alt && w->alt->num_eps != w->alt_declared_eps)
		warn(w, "interface bNumEndpoints differs from the endpoints "
			"present");
	w->alt = NULL;
}

/** Largest wMaxPacketSize bits 10:0 allowed (USB 2.0 §5.5.3-§5.8.3, USB 3.2 §9.6.6). */
static unsigned maxp_limit(enum bu_usb_speed speed, unsigned type)
{
	switch (speed) {
	case BU_SPEED_LOW:
		return 8;
	case BU_SPEED_FULL:
		return type == BU_EP_ISOCH ? 1023 : 64;
	case BU_SPEED_HIGH:
		if (type == BU_EP_CONTROL)
			return 64;
		return type == BU_EP_BULK ? 512 : 1024;
	case BU_SPEED_SUPER:
	case BU_SPEED_SUPER_PLUS:
		return type == BU_EP_CONTROL ? 512 : 1024;
	default:
		return 1024;
	}
}

/** The largest of 8, 16, 32 and 64 not above `size` (8 when below). */
static unsigned maxp_8_to_64(unsigned size)
{
	unsigned v = 64;

	while (v > 8 && v > size)
		v >>= 1;
	return v;
}

/**
 * The legal wMaxPacketSize (bits 10:0) for `size` already within the speed's
 * maximum: control and bulk endpoints have fixed sizes (USB 2.0 §5.5.3,
 * §5.8.3; USB 3.2 §9.6.6), rounded down as Linux does for full speed.
 * Interrupt and isochronous endpoints take any size up to the maximum.
 */
static unsigned maxp_legal(enum bu_usb_speed speed, unsigned type,
			   unsigned size)
{
	if (type != BU_EP_CONTROL && type != BU_EP_BULK)
		return size;
	switch (speed) {
	case BU_SPEED_LOW:
		return 8;
	case BU_SPEED_FULL:
		return maxp_8_to_64(size);
	case BU_SPEED_HIGH:
		return type == BU_EP_CONTROL ? 64 : 512;
	case BU_SPEED_SUPER:
	case BU_SPEED_SUPER_PLUS:
		return type == BU_EP_CONTROL ? 512 : 1024;
	default:
		return size;
	}
}

/** Count an irregularity; remember the first one in *first. */
static void note(struct cfg_walk *w, const char **first, const char *what)
{
	warn(w, what);
	if (!*first)
		*first = what;
}

/**
 * Sanitise wMaxPacketSize for `type` at the walk's speed; *fixed names the
 * first change made (NULL when none).
 */
static uint16_t fix_maxp(struct cfg_walk *w, uint16_t raw, unsigned type,
			 const char **fixed)
{
	unsigned size = USB_ENDPOINT_MAXP(raw);
	unsigned mult = USB_ENDPOINT_MAXP_MULT(raw);
	unsigned limit = maxp_limit(w->speed, type);
	bool hs_periodic =
	    (w->speed == BU_SPEED_HIGH || w->speed == BU_SPEED_UNKNOWN) &&
	    (type == BU_EP_ISOCH || type == BU_EP_INTERRUPT);

	*fixed = NULL;
	if (raw & 0xe000)
		note(w, fixed, "endpoint wMaxPacketSize has reserved bits set");
	if (!hs_periodic && mult) {
		note(w, fixed, "endpoint wMaxPacketSize mult bits on a non "
			       "high-bandwidth endpoint");
		mult = 0;
	} else if (mult == 3) { /* USB 2.0 Table 9-13: reserved */
		note(w, fixed, "endpoint wMaxPacketSize mult 3 is reserved");
		mult = 2;
	}
	if (size > limit) {
		note(w, fixed,
		     "endpoint wMaxPacketSize above the speed's maximum");
		size = limit;
	} else if (maxp_legal(w->speed, type, size) != size) {
		note(w, fixed, "endpoint wMaxPacketSize not legal for its "
			       "speed and type");
	}
	size = maxp_legal(w->speed, type, size);
	return (uint16_t)(size | (mult << 11));
}

/** True when endpoint address `addr` clashes with a stored one. */
static bool ep_duplicate(const struct cfg_walk *w, uint8_t addr, unsigned type)
{
	const struct bu_usb_config_info *cfg = w->cfg;
	const struct bu_usb_alt_info *cur = w->alt;

	/* Within this alt setting; control endpoints own both directions. */
	for (unsigned i = 0; i < cur->num_eps; i++) {
		const struct bu_usb_ep_info *e = &cfg->eps[cur->first_ep + i];
		bool ctl =
		    type == BU_EP_CONTROL ||
		    USB_ENDPOINT_XFERTYPE(e->attributes) == BU_EP_CONTROL;

		if (e->address == addr ||
		    (ctl && USB_ENDPOINT_NUMBER(e->address) ==
				USB_ENDPOINT_NUMBER(addr)))
			return true;
	}
	/* In another interface of this configuration. */
	for (unsigned a = 0; a < cfg->num_alts; a++) {
		const struct bu_usb_alt_info *o = &cfg->alts[a];

		if (o == cur || o->number == cur->number)
			continue;
		for (unsigned i = 0; i < o->num_eps; i++)
			if (cfg->eps[o->first_ep + i].address == addr)
				return true;
	}
	return false;
}

/** Handle an interface descriptor. */
static int walk_interface(struct cfg_walk *w, const uint8_t *d,
			  const char **why)
{
	struct bu_usb_config_info *cfg = w->cfg;
	struct bu_usb_alt_info *alt;

	end_alt(w);
	w->extra = NULL;
	w->ep = NULL;
	w->iface_skipped = true;
	if (d[0] < USB_DT_INTERFACE_SIZE) {
		warn(w, "interface descriptor shorter than 9 bytes skipped");
		return 0;
	}
	if (bu_desc_find_alt(cfg, d[2], d[3])) {
		warn(w, "duplicate interface alternate setting skipped");
		return 0;
	}
	if (cfg->num_alts >= w->max_alts)
		return fail(why, BU_ERANGE,
			    "too many interface alternate settings");

	w->iface_skipped = false;
	alt = &cfg->alts[cfg->num_alts++];
	bu_memset(alt, 0, sizeof(*alt));
	alt->number = d[2];
	alt->alt = d[3];
	alt->class_code = d[5];
	alt->subclass = d[6];
	alt->protocol = d[7];
	alt->string = d[8];
	alt->first_ep = cfg->num_eps;
	w->alt = alt;
	w->alt_declared_eps = d[4];
	w->alt_overflow_warned = false;
	w->extra = &alt->extra;
	w->extra_len = &alt->extra_len;
	if (!(w->seen[d[2] / 8] & (1u << (d[2] % 8)))) {
		w->seen[d[2] / 8] |= (uint8_t)(1u << (d[2] % 8));
		cfg->num_interfaces++;
	}
	return 0;
}

/** Handle an endpoint descriptor. */
static int walk_endpoint(struct cfg_walk *w, const uint8_t *d, const char **why)
{
	struct bu_usb_config_info *cfg = w->cfg;
	struct bu_usb_ep_info *ep;
	uint8_t addr;
	unsigned type;
	uint16_t maxp;
	const char *fixed;

	/* Until a good endpoint, class descriptors belong to nobody. */
	w->extra = NULL;
	w->ep = NULL;
	if (!w->alt) {
		/* Endpoints of a dropped interface go silently with it. */
		if (!w->iface_skipped)
			warn(w, "endpoint outside an interface skipped");
		return 0;
	}
	if (d[0] < USB_DT_ENDPOINT_SIZE) {
		warn(w, "endpoint descriptor shorter than 7 bytes skipped");
		return 0;
	}
	addr = d[2];
	type = USB_ENDPOINT_XFERTYPE(d[3]);
	if (USB_ENDPOINT_NUMBER(addr) == 0 || (addr & 0x70)) {
		warn(w,
		     "endpoint with number 0 or reserved address bits skipped");
		return 0;
	}
	if (w->alt->num_eps >= EPS_PER_ALT) {
		if (!w->alt_overflow_warned)
			warn(w, "more than 30 endpoints in an interface; extra "
				"ones skipped");
		w->alt_overflow_warned = true;
		return 0;
	}
	if (ep_duplicate(w, addr, type)) {
		warn(w, "duplicate endpoint address skipped");
		return 0;
	}
	if (USB_ENDPOINT_MAXP(bu_get_le16(d + 4)) == 0 && type != BU_EP_ISOCH) {
		warn(w, "endpoint with wMaxPacketSize 0 skipped");
		return 0;
	}
	if (cfg->num_eps >= w->max_eps)
		return fail(why, BU_ERANGE,
			    "too many endpoints in the configuration");

	ep = &cfg->eps[cfg->num_eps++];
	bu_memset(ep, 0, sizeof(*ep));
	ep->address = addr;
	ep->attributes = d[3];
	ep->interval = d[6];
	if (type == BU_EP_BULK && w->speed == BU_SPEED_LOW) {
		/* USB 2.0 §5.8.3: a low-speed device has no bulk endpoints.
		 * As Linux does, poll it as interrupt every frame instead. */
		warn_ep(w, ep, "low-speed bulk endpoint made an interrupt "
			       "endpoint");
		type = BU_EP_INTERRUPT;
		ep->attributes = (uint8_t)((d[3] & ~3u) | BU_EP_INTERRUPT);
		ep->interval = 1;
	}
	maxp = fix_maxp(w, bu_get_le16(d + 4), type, &fixed);
	if (fixed && !ep->fixed)
		ep->fixed = fixed;
	ep->max_packet = maxp;
	if ((w->speed == BU_SPEED_SUPER || w->speed == BU_SPEED_SUPER_PLUS) &&
	    (type == BU_EP_ISOCH || type == BU_EP_INTERRUPT))
		ep->ss_bytes_per_interval = USB_ENDPOINT_MAXP(maxp);
	w->alt->num_eps++;
	w->ep = ep;
	w->prev = PREV_EP;
	w->extra = &ep->extra;
	w->extra_len = &ep->extra_len;
	return 0;
}

/** Handle a SuperSpeed endpoint companion (USB 3.2 §9.6.7, Table 9-27). */
static void walk_ss_companion(struct cfg_walk *w, const uint8_t *d)
{
	struct bu_usb_ep_info *ep = w->ep;
	unsigned type, burst, attr, mps, max;
	unsigned bpi;

	if (w->prev != PREV_EP || !ep) {
		warn(w, "SuperSpeed endpoint companion not after an endpoint "
			"skipped");
		return;
	}
	if (d[0] < USB_DT_SS_EP_COMP_SIZE) {
		warn(w, "SuperSpeed endpoint companion shorter than 6 bytes "
			"skipped");
		return;
	}
	type = USB_ENDPOINT_XFERTYPE(ep->attributes);
	max = 0;
	burst = d[2];
	attr = d[3];
	bpi = bu_get_le16(d + 4);
	mps = USB_ENDPOINT_MAXP(ep->max_packet);

	if (burst > 15 || (type == BU_EP_INTERRUPT && burst > 2)) {
		warn_ep(w, ep, "companion bMaxBurst out of range clamped");
		burst = type == BU_EP_INTERRUPT ? 2 : 15;
	}
	switch (type) {
	case BU_EP_BULK:
		if ((attr & 0x1f) > 16) { /* streams = 2^MaxStreams, max 2^16 */
			warn_ep(w, ep, "companion MaxStreams above 16 clamped");
			attr = (attr & ~0x1fu) | 16;
		}
		bpi = 0;
		break;
	case BU_EP_ISOCH:
		if ((attr & 0x03) > 2) {
			warn_ep(w, ep, "companion Mult above 2 clamped");
			attr = (attr & ~0x03u) | 2;
		}
		max = (burst + 1) * ((attr & 0x03) + 1) * mps;
		if (bpi > max) {
			warn_ep(w, ep, "companion wBytesPerInterval above burst "
				       "x mult x maxp clamped");
			bpi = max;
		}
		break;
	case BU_EP_INTERRUPT:
		max = (burst + 1) * mps;
		if (bpi > max) {
			warn_ep(w, ep, "companion wBytesPerInterval above burst "
				       "x maxp clamped");
			bpi = max;
		}
		break;
	default: /* control: Table 9-27 says bMaxBurst 0 */
		if (burst) {
			warn_ep(w, ep, "companion bMaxBurst on a control "
				       "endpoint cleared");
			burst = 0;
		}
		bpi = 0;
		break;
	}
	/*
	 * A periodic endpoint moving data reserves wBytesPerInterval per
	 * service interval (USB 3.2 §9.6.7); 0 would give the controller a
	 * Max ESIT Payload of 0, which xHCI §6.2.3 does not allow for a
	 * periodic endpoint. Reserve what burst x mult x maxp can carry,
	 * as when the companion is missing (defaults of §9.6.7).
	 */
	if (bpi == 0 && max && (type == BU_EP_ISOCH || type == BU_EP_INTERRUPT)) {
		warn_ep(w, ep, "companion wBytesPerInterval 0 on a periodic "
			       "endpoint; burst x mult x maxp used");
		bpi = max;
	}
	ep->has_ss = true;
	ep->ss_max_burst = (uint8_t)burst;
	ep->ss_attributes = (uint8_t)attr;
	ep->ss_bytes_per_interval = (uint16_t)bpi; /* <= 16 x 3 x 1024 */
	w->prev = PREV_SS;
	w->ssp_expected = type == BU_EP_ISOCH && (attr & 0x80);
}

/** Handle an SSP isochronous companion (USB 3.2 Table 9-28). */
static void walk_ssp_companion(struct cfg_walk *w, const uint8_t *d)
{
	uint32_t bpi;

	if (w->prev != PREV_SS || !w->ssp_expected || !w->ep) {
		warn(w, "SSP isochronous companion out of place skipped");
		return;
	}
	if (d[0] < USB_DT_SSP_ISOC_EP_COMP_SIZE) {
		warn(w,
		     "SSP isochronous companion shorter than 8 bytes skipped");
		return;
	}
	w->prev = PREV_OTHER;
	bpi = bu_get_le32(d + 4);
	if (w->speed != BU_SPEED_SUPER_PLUS) {
		/* USB 3.2 §9.6.8: it describes SuperSpeedPlus operation. Below
		 * it the companion's wBytesPerInterval holds. */
		warn_ep(w, w->ep, "SSP isochronous companion below "
				  "SuperSpeedPlus ignored");
		return;
	}
	if (bpi == 0) {
		warn_ep(w, w->ep, "SSP isochronous companion "
				  "dwBytesPerInterval 0 ignored");
		return;
	}
	if (bpi > BU_DESC_MAX_ESIT) {
		/* xHCI §6.2.3: Max ESIT Payload Hi:Lo holds 24 bits. */
		warn_ep(w, w->ep, "SSP isochronous companion "
				  "dwBytesPerInterval above 24 bits clamped");
		bpi = BU_DESC_MAX_ESIT;
	}
	w->ep->ssp_bytes_per_interval = bpi;
}

/** Handle an interface association descriptor (IAD ECN). */
static int walk_iad(struct cfg_walk *w, const uint8_t *d, const char **why)
{
	struct bu_usb_config_info *cfg = w->cfg;
	struct bu_usb_iad_info *iad;

	w->extra = NULL;
	if (d[0] < USB_DT_IAD_SIZE) {
		warn(w, "interface association descriptor shorter than 8 bytes "
			"skipped");
		return 0;
	}
	if (cfg->num_iads >= w->max_iads)
		return fail(why, BU_ERANGE, "too many interface associations");
	if (d[3] == 0 || d[2] + d[3] > 256)
		warn(w, "interface association with a bad interface range");
	iad = &cfg->iads[cfg->num_iads++];
	iad->first_interface = d[2];
	iad->count = d[3];
	iad->class_code = d[4];
	iad->subclass = d[5];
	iad->protocol = d[6];
	iad->string = d[7];
	return 0;
}

/** Take one descriptor of the configuration; `prev` is what came before it. */
static int walk_one(struct cfg_walk *w, const uint8_t *d, enum prev_kind prev, const char **why)
{
	bool ss = w->speed == BU_SPEED_SUPER || w->speed == BU_SPEED_SUPER_PLUS;

	w->prev = PREV_OTHER;
	if (prev == PREV_EP && d[1] != USB_DT_SS_EP_COMP && ss)
		warn(w, "SuperSpeed endpoint without a companion");
	switch (d[1]) {
	case USB_DT_INTERFACE:
		return walk_interface(w, d, why);
	case USB_DT_ENDPOINT:
		return walk_endpoint(w, d, why);
	case USB_DT_SS_EP_COMP:
		w->prev = prev;
		walk_ss_companion(w, d);
		return 0;
	case USB_DT_SSP_ISOC_EP_COMP:
		w->prev = prev;
		walk_ssp_companion(w, d);
		return 0;
	case USB_DT_IAD:
		return walk_iad(w, d, why);
	case USB_DT_DEVICE:
	case USB_DT_CONFIG:
		warn(w, "device or configuration descriptor inside a configuration skipped");
		w->extra = NULL;
		return 0;
	default:
		attach_extra(w, d);
		return 0;
	}
}

int bu_desc_parse_config(const uint8_t *buf, size_t len,
			 enum bu_usb_speed speed,
			 struct bu_usb_config_info *cfg,
			 struct bu_usb_alt_info *alts, size_t max_alts,
			 struct bu_usb_ep_info *eps, size_t max_eps,
			 struct bu_usb_iad_info *iads, size_t max_iads,
			 const char **why)
{
	struct cfg_walk w;
	const uint8_t *d;
	size_t off;
	int total, err = 0;

	if (!cfg || (!alts && max_alts) || (!eps && max_eps) ||
	    (!iads && max_iads))
		return fail(why, BU_EINVAL, "no output arrays");
	bu_memset(cfg, 0, sizeof(*cfg));
	cfg->alts = alts;
	cfg->eps = eps;
	cfg->iads = iads;
	total = config_header(buf, len, why);
	if (total < 0)
		return total;

	cfg->raw = buf;
	cfg->total_len = (uint16_t)total;
	cfg->num_interfaces_declared = buf[4];
	cfg->value = buf[5];
	cfg->string = buf[6];
	cfg->attributes = buf[7];
	cfg->max_power = buf[8];

	bu_memset(&w, 0, sizeof(w));
	w.cfg = cfg;
	w.speed = speed;
	w.max_alts = BU_MIN(max_alts, (size_t)BU_USB_MAX_ALTS);
	w.max_eps = BU_MIN(max_eps, (size_t)BU_USB_MAX_EPS);
	w.max_iads = BU_MIN(max_iads, (size_t)BU_USB_MAX_IADS);
	w.prev = PREV_OTHER;

	if (cfg->value == 0)
		warn(&w, "bConfigurationValue 0 cannot be selected");
	if (!(cfg->attributes & 0x80))
		warn(&w, "configuration bmAttributes bit 7 not set");

	off = buf[0];
	for (;;) {
		size_t at = off;
		enum prev_kind prev = w.prev;

		d = bu_desc_next(buf, (size_t)total, &off);
		if (!d) {
			if ((size_t)total - at == 1)
				warn(&w, "stray byte at the end of the "
					 "configuration");
			else if (at < (size_t)total)
				warn(&w, "invalid descriptor length; rest of "
					 "the configuration ignored");
			break;
		}
		err = walk_one(&w, d, prev, why);
		if (err)
			return err;
	}
	if (w.prev == PREV_EP &&
	    (speed == BU_SPEED_SUPER || speed == BU_SPEED_SUPER_PLUS))
		warn(&w, "SuperSpeed endpoint without a companion");
	end_alt(&w);

	if (cfg->num_interfaces != cfg->num_interfaces_declared)
		warn(&w, "bNumInterfaces differs from the interfaces present");
	set_why(why, w.first_warn);
	return 0;
}

const struct bu_usb_alt_info *
bu_desc_find_alt(const struct bu_usb_config_info *cfg, uint8_t number,
		 uint8_t alt)
{
	if (!cfg || !cfg->alts)
		return NULL;
	for (unsigned i = 0; i < cfg->num_alts; i++)
		if (cfg->alts[i].number == number && cfg->alts[i].alt == alt)
			return &cfg->alts[i];
	return NULL;
}

const struct bu_usb_ep_info *
bu_desc_alt_ep(const struct bu_usb_config_info *cfg,
	       const struct bu_usb_alt_info *alt, unsigned i)
{
	size_t idx;

	if (!cfg || !alt || !cfg->eps || i >= alt->num_eps)
		return NULL;
	idx = (size_t)alt->first_ep + i;
	if (idx >= cfg->num_eps)
		return NULL;
	return &cfg->eps[idx];
}

int bu_desc_ep_params(const struct bu_usb_ep_info *ep, enum bu_usb_speed speed,
		      struct bu_desc_ep_params *out, const char **why)
{
	unsigned type, mps, bursts;
	bool periodic;

	if (!ep || !out)
		return fail(why, BU_EINVAL, "no endpoint");
	bu_memset(out, 0, sizeof(*out));
	type = USB_ENDPOINT_XFERTYPE(ep->attributes);
	mps = USB_ENDPOINT_MAXP(ep->max_packet);
	periodic = type == BU_EP_ISOCH || type == BU_EP_INTERRUPT;

	/* xHCI §4.5.1: a control endpoint is bidirectional at DCI
	 * 2 x number + 1. USB ignores its direction bit, but the OUT address
	 * would name the even DCI, which is an OUT endpoint's. */
	if (type == BU_EP_CONTROL && !(ep->address & USB_DIR_IN))
		return fail(why, BU_EBADDESC,
			    "control endpoint with an OUT address (xHCI has "
			    "control endpoints at the IN index only)");
	if (type == BU_EP_ISOCH && speed == BU_SPEED_LOW)
		return fail(why, BU_EBADDESC,
			    "isochronous endpoint at low speed (USB 2.0 §5.6.3)");
	if (mps == 0) /* the parser keeps only isochronous ones */
		return fail(why, BU_ENOENT,
			    "isochronous wMaxPacketSize 0 (zero bandwidth): "
			    "nothing to schedule");

	out->type = (uint8_t)type;
	out->mps = (uint16_t)mps;
	/* xHCI §6.2.3: Max Burst, Mult and Max ESIT Payload per speed. */
	if (speed == BU_SPEED_SUPER || speed == BU_SPEED_SUPER_PLUS) {
		if (type != BU_EP_CONTROL)
			out->max_burst = ep->ss_max_burst;
		if (type == BU_EP_ISOCH)
			out->mult = ep->ss_attributes & 3;
		if (periodic)
			out->max_esit = ep->ssp_bytes_per_interval
					    ? ep->ssp_bytes_per_interval
					    : ep->ss_bytes_per_interval;
	} else if (periodic) {
		if (speed == BU_SPEED_HIGH)
			out->max_burst =
			    (uint8_t)USB_ENDPOINT_MAXP_MULT(ep->max_packet);
		out->max_esit = mps * (out->max_burst + 1u);
	}
	bursts = (out->max_burst + 1u) * (out->mult + 1u);
	if (periodic && out->max_esit == 0)
		out->max_esit = mps * bursts; /* as a missing companion */
	if (out->max_esit > BU_DESC_MAX_ESIT)
		out->max_esit = BU_DESC_MAX_ESIT;
	set_why(why, NULL);
	return 0;
}

/* ------------------------------------------------------------------------ */
/* String descriptors (USB 2.0 §9.6.7)                                      */

/** Validate a string descriptor; returns its usable byte count (even) or < 0.
 */
static int string_len(const uint8_t *buf, size_t len, const char **why)
{
	size_t n;

	if (!buf)
		return fail(why, BU_EINVAL, "no buffer");
	if (len < 2)
		return fail(why, BU_EBADDESC,
			    "string descriptor truncated (< 2 bytes)");
	if (buf[1] != USB_DT_STRING)
		return fail(why, BU_EBADDESC, "not a string descriptor");
	if (buf[0] < 2)
		return fail(why, BU_EBADDESC, "string descriptor bLength < 2");
	n = BU_MIN((size_t)buf[0], len);
	return (int)(n & ~(size_t)1);
}

int bu_desc_string_to_utf8(const uint8_t *buf, size_t len, char *out,
			   size_t size, const char **why)
{
	int n;

	if (!out || !size)
		return fail(why, BU_EINVAL, "no output buffer");
	out[0] = '\0';
	n = string_len(buf, len, why);
	if (n < 0)
		return n;
	return (int)bu_utf16le_to_utf8(buf + 2, (size_t)(n - 2) / 2, out, size);
}

int bu_desc_first_langid(const uint8_t *buf, size_t len, uint16_t *langid,
			 const char **why)
{
	int n = string_len(buf, len, why);

	if (n < 0)
		return n;
	if (!langid)
		return fail(why, BU_EINVAL, "no output");
	for (int i = 2; i + 1 < n; i += 2) {
		uint16_t id = bu_get_le16(buf + i);

		if (id) {
			*langid = id;
			return 0;
		}
	}
	return fail(why, BU_ENOENT, "no LANGID in string descriptor 0");
}

/* ------------------------------------------------------------------------ */
/* BOS (USB 3.2 §9.6.2)                                                      */

/** Smallest legal bLength for capability `type` (USB 3.2 §9.6.2, Tables 9-14 ff.). */
static unsigned bos_cap_min(const uint8_t *d)
{
	switch (d[2]) {
	case USB_CAP_USB2_EXT:
		return 7;
	case USB_CAP_SUPERSPEED:
		return 10;
	case USB_CAP_CONTAINER_ID:
	case USB_CAP_PLATFORM:
		return 20;
	case USB_CAP_SUPERSPEED_PLUS:
		/* 12 + 4 x (SSAC + 1); needs bmAttributes (bytes 4..7) first */
		if (d[0] < 12)
			return 12;
		return 12 + 4 * ((bu_get_le32(d + 4) & 0x1f) + 1);
	default:
		return 3;
	}
}

int bu_desc_parse_bos(const uint8_t *buf, size_t len, struct bu_bos_info *out,
		      const char **why)
{
	const uint8_t *d;
	size_t total, off;

	if (!buf || !out)
		return fail(why, BU_EINVAL, "no buffer");
	bu_memset(out, 0, sizeof(*out));
	if (len < USB_DT_BOS_SIZE)
		return fail(why, BU_EBADDESC,
			    "BOS descriptor truncated (< 5 bytes)");
	if (buf[1] != USB_DT_BOS)
		return fail(why, BU_EBADDESC, "not a BOS descriptor");
	if (buf[0] < USB_DT_BOS_SIZE)
		return fail(why, BU_EBADDESC, "BOS bLength < 5");
	total = bu_get_le16(buf + 2);
	if (total < buf[0])
		return fail(why, BU_EBADDESC, "BOS wTotalLength < bLength");
	total = BU_MIN(total, len);
	if (buf[0] > total)
		return fail(why, BU_EBADDESC,
			    "BOS bLength runs past the bytes received");
	out->total_len = (uint16_t)total;
	out->num_caps_declared = buf[4];

	off = buf[0];
	while ((d = bu_desc_next(buf, total, &off)) != NULL) {
		struct bu_bos_cap *cap;

		if (d[1] != USB_DT_DEVICE_CAPABILITY || d[0] < 3) {
			out->warnings++;
			continue;
		}
		if (d[0] < bos_cap_min(d)) {
			/* Linux stops here; the rest is not trustworthy. */
			out->warnings++;
			break;
		}
		if (out->num_caps >= BU_BOS_MAX_CAPS) {
			out->warnings++;
			break;
		}
		cap = &out->caps[out->num_caps++];
		cap->type = d[2];
		cap->len = d[0];
		cap->data = d;
		switch (d[2]) {
		case USB_CAP_USB2_EXT:
			out->has_usb2_ext = true;
			out->usb2_ext_attributes = bu_get_le32(d + 3);
			break;
		case USB_CAP_SUPERSPEED:
			out->has_ss = true;
			out->ss_attributes = d[3];
			out->ss_speeds = bu_get_le16(d + 4);
			out->ss_u1_exit_lat = d[7];
			out->ss_u2_exit_lat = bu_get_le16(d + 8);
			break;
		case USB_CAP_SUPERSPEED_PLUS:
			out->has_ssp = true;
			out->ssp_attributes = bu_get_le32(d + 4);
			break;
		case USB_CAP_CONTAINER_ID:
			out->has_container_id = true;
			bu_memcpy(out->container_id, d + 4, 16);
			break;
		default:
			break;
		}
	}
	if (off < total)
		out->warnings++;
	if (out->num_caps != out->num_caps_declared)
		out->warnings++;
	set_why(why, NULL);
	return 0;
}

const struct bu_bos_cap *bu_desc_bos_platform(const struct bu_bos_info *bos,
					      const uint8_t uuid[16])
{
	if (!bos || !uuid)
		return NULL;
	for (unsigned i = 0; i < bos->num_caps && i < BU_BOS_MAX_CAPS; i++) {
		const struct bu_bos_cap *c = &bos->caps[i];

		if (c->type == USB_CAP_PLATFORM && c->len >= 20 &&
		    bu_memcmp(c->data + 4, uuid, 16) == 0)
			return c;
	}
	return NULL;
}

void bu_usb_setup_pack(uint8_t setup[8], uint8_t bm_request_type, uint8_t b_request,
		       uint16_t w_value, uint16_t w_index, uint16_t w_length)
{
	setup[0] = bm_request_type;
	setup[1] = b_request;
	bu_put_le16(setup + 2, w_value);
	bu_put_le16(setup + 4, w_index);
	bu_put_le16(setup + 6, w_length);
}
