/*
 * Device replay: a model whose descriptors come, at run time, from the
 * binary `descriptors` file Linux keeps for every USB device in sysfs
 * (/sys/bus/usb/devices/<dev>/descriptors, Linux's
 * Documentation/ABI/stable/sysfs-bus-usb): the 18-byte device descriptor
 * as the device sent it (little-endian), then, for each configuration, the
 * configuration descriptor and everything after it, wTotalLength bytes as
 * read from the device. Strings come from a separate list (the sysfs
 * `manufacturer`, `product` and `serial` files give three of them) and the
 * BOS, optionally, from the `bos_descriptors` file newer kernels have.
 *
 * The framework (sim_dev.c) still does the protocol: addressing,
 * SET_CONFIGURATION, SET_INTERFACE, GET_STATUS, halt and toggles. What the
 * file decides, GET_DESCRIPTOR's bytes, is given through the answer hook,
 * byte for byte as in the file, so a configuration whose wTotalLength
 * claims more than the device sent is sent the same way again.
 *
 * Decisions (docs/sim.md, "Replaying a device"):
 * - No strings given: every GET_DESCRIPTOR(STRING) STALLs, the LANGID
 *   table (index 0) included, as on a device without strings. With
 *   strings: LANGID 0x0409 only; an index without text STALLs.
 * - No BOS given: GET_DESCRIPTOR(BOS) STALLs, whatever bcdUSB says (the
 *   core then goes on without one, as USB 3.2 §9.6.2 lets a host).
 * - Device qualifier and other-speed configurations: STALL (the file
 *   holds only the descriptors of the speed the device ran at).
 * - Data endpoints: interrupt and bulk IN NAK (nothing to report),
 *   isochronous IN sends zero-length packets, every OUT is accepted.
 *   Class and vendor requests STALL.
 * - Configurations past the framework's four are sent on GET_DESCRIPTOR
 *   but cannot be selected (SET_CONFIGURATION STALLs for them).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "devices.h"

/* The framework's control data buffer (SIM_CTRL_BUF in sim_priv.h): the
 * most a model answers one control request with. */
#define R_CTRL_MAX 4096u

struct sim_replay {
	struct sim_device_model model;
	uint8_t *bytes; /* the file; blobs point into it */
	size_t len;
	struct sim_blob device;
	struct sim_blob cfg[SIM_REPLAY_MAX_CONFIGS];
	unsigned ncfg;
	uint8_t *bos;
	uint16_t bos_len;
	char *str[256]; /* UTF-8; [0] unused */
	bool strings;   /* a string list was given (LANGID table answered) */
	unsigned warnings;
	char warning[4][160];
	unsigned hub_ports; /* a hub's downstream ports; 0: the default */
};

/* A replayed hub's ports when nobody said (Linux's sysfs `maxchild` says). */
#define REPLAY_HUB_PORTS 4
/* wHubCharacteristics (USB 2.0 §11.23.2.1): per-port power switching and
 * over-current protection, the commonest; the file does not say. */
#define REPLAY_HUB_CHARS 0x0009

/* ------------------------------------------------------------------------ */
/* Parsing the file                                                         */

static int r_fail(char *err, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int r_fail(char *err, size_t n, const char *fmt, ...)
{
	va_list ap;

	if (err && n) {
		va_start(ap, fmt);
		vsnprintf(err, n, fmt, ap);
		va_end(ap);
	}
	return -1;
}

static void r_warn(struct sim_replay *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void r_warn(struct sim_replay *r, const char *fmt, ...)
{
	va_list ap;

	if (r->warnings < 4) {
		va_start(ap, fmt);
		vsnprintf(r->warning[r->warnings], sizeof(r->warning[0]), fmt, ap);
		va_end(ap);
	}
	r->warnings++;
}

/*
 * How many bytes of the configuration at `d` (at most `limit`) Linux kept:
 * its parser (drivers/usb/core/config.c) walks the descriptors and stops
 * at one shorter than 2 bytes or running past the end; what it kept is
 * what sysfs shows. *cut is set when a descriptor runs past `limit`, and
 * *next when a configuration header follows (the next configuration: the
 * device sent fewer bytes than wTotalLength said).
 */
static size_t r_walk(const uint8_t *d, size_t limit, bool *cut, bool *next)
{
	size_t pos = d[0];

	*cut = *next = false;
	while (pos < limit) {
		if (limit - pos < 2 || d[pos] < 2) {
			*cut = true;
			break;
		}
		if (d[pos + 1] == USB_DT_CONFIG && d[pos] == USB_DT_CONFIG_SIZE) {
			*next = true;
			break;
		}
		if (d[pos] > limit - pos) {
			*cut = true;
			break;
		}
		pos += d[pos];
	}
	return pos;
}

/* Split the file into device descriptor and configurations. */
static int r_parse(struct sim_replay *r, char *err, size_t n)
{
	const uint8_t *d = r->bytes;
	size_t off = USB_DT_DEVICE_SIZE;
	unsigned want;

	if (r->len < USB_DT_DEVICE_SIZE)
		return r_fail(err, n, "%zu bytes: too short for the 18-byte device descriptor a "
				      "descriptors file starts with", r->len);
	if (d[0] != USB_DT_DEVICE_SIZE || d[1] != USB_DT_DEVICE)
		return r_fail(err, n, "not a descriptors file: it starts with bLength %u, "
				      "bDescriptorType 0x%02x (a device descriptor is 18, 0x01)",
			      d[0], d[1]);
	r->device.data = d;
	r->device.len = USB_DT_DEVICE_SIZE;
	want = d[17];
	if (want > SIM_REPLAY_MAX_CONFIGS)
		return r_fail(err, n, "bNumConfigurations is %u; Linux keeps at most %u", want,
			      SIM_REPLAY_MAX_CONFIGS);
	for (unsigned i = 0; i < want; i++) {
		const uint8_t *c = d + off;
		size_t left = r->len - off, total, limit, kept;
		bool cut, next;

		if (left == 0)
			return r_fail(err, n, "truncated: the file ends after %u of %u configurations "
					      "(bNumConfigurations)", i, want);
		if (left < USB_DT_CONFIG_SIZE)
			return r_fail(err, n, "truncated: configuration %u at offset %zu has %zu of "
					      "its 9 header bytes", i, off, left);
		if (c[1] != USB_DT_CONFIG || c[0] < USB_DT_CONFIG_SIZE)
			return r_fail(err, n, "configuration %u at offset %zu: bLength %u, "
					      "bDescriptorType 0x%02x is not a configuration header",
				      i, off, c[0], c[1]);
		if (c[0] > left)
			return r_fail(err, n, "truncated: configuration %u at offset %zu has %zu of "
					      "its %u header bytes", i, off, left, c[0]);
		total = (size_t)c[2] | (size_t)c[3] << 8;
		if (total < c[0])
			return r_fail(err, n, "configuration %u at offset %zu: wTotalLength %zu is "
					      "shorter than its own header", i, off, total);
		limit = total < left ? total : left;
		kept = r_walk(c, limit, &cut, &next);
		if (total > left && cut && !next)
			return r_fail(err, n, "truncated: configuration %u at offset %zu has "
					      "wTotalLength %zu, the file holds %zu bytes of it, "
					      "ending inside a descriptor", i, off, total, left);
		if (kept < total)
			r_warn(r, "configuration %u: wTotalLength %zu, %zu bytes in the file "
				  "(replayed so: a device that sends fewer bytes than it says)",
			       i, total, kept);
		if (kept > R_CTRL_MAX)
			r_warn(r, "configuration %u: %zu bytes; the sim's control pipe sends at most %u "
				  "(the rest is cut, as from a device that lies about wTotalLength)",
			       i, kept, R_CTRL_MAX);
		r->cfg[i].data = c;
		r->cfg[i].len = (uint16_t)kept;
		off += kept;
	}
	r->ncfg = want;
	if (off != r->len)
		return r_fail(err, n, "%zu bytes after the last of %u configurations at offset %zu "
				      "(bNumConfigurations too small, or not a descriptors file)",
			      r->len - off, want, off);
	return 0;
}

/* ------------------------------------------------------------------------ */
/* The device                                                               */

/* UTF-8 to a string descriptor (UTF-16LE, at most 126 code units). */
static uint16_t r_string_desc(uint8_t *out, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	unsigned n = 2;

	while (*p) {
		uint32_t cp = *p++;
		unsigned more = cp >= 0xf0 ? 3 : cp >= 0xe0 ? 2 : cp >= 0xc0 ? 1 : 0;

		if (cp >= 0x80 && !more)
			cp = 0xfffd;
		else if (more)
			cp &= 0x3fu >> more;
		for (; more; more--) {
			if ((*p & 0xc0) != 0x80) {
				cp = 0xfffd;
				break;
			}
			cp = cp << 6 | (*p++ & 0x3fu);
		}
		if (cp > 0x10ffff || (cp >= 0xd800 && cp < 0xe000))
			cp = 0xfffd;
		if (cp > 0xffff) {
			if (n + 4 > 254)
				break;
			cp -= 0x10000;
			out[n++] = (uint8_t)(0xd800 + (cp >> 10));
			out[n++] = (uint8_t)((0xd800 + (cp >> 10)) >> 8);
			out[n++] = (uint8_t)(0xdc00 + (cp & 0x3ff));
			out[n++] = (uint8_t)((0xdc00 + (cp & 0x3ff)) >> 8);
			continue;
		}
		if (n + 2 > 254)
			break;
		out[n++] = (uint8_t)cp;
		out[n++] = (uint8_t)(cp >> 8);
	}
	out[0] = (uint8_t)n;
	out[1] = USB_DT_STRING;
	return (uint16_t)n;
}

static int r_copy(uint8_t *buf, uint16_t cap, const uint8_t *src, size_t len)
{
	size_t n = len < cap ? len : cap;

	memcpy(buf, src, n);
	return (int)n;
}

/* Every IN answer passes here: GET_DESCRIPTOR gets the file's bytes. */
static int r_answer(void *ctx, struct sim_device *dev, const struct usb_setup_packet *s,
		    uint8_t ep, uint8_t *buf, int res, uint16_t cap)
{
	struct sim_replay *r = ctx;
	uint8_t type, idx;

	(void)dev;
	(void)ep;
	if (!s || s->bmRequestType != 0x80 || s->bRequest != USB_REQ_GET_DESCRIPTOR)
		return res;
	type = (uint8_t)(s->wValue >> 8);
	idx = (uint8_t)s->wValue;
	switch (type) {
	case USB_DT_DEVICE:
		return r_copy(buf, cap, r->device.data, r->device.len);
	case USB_DT_CONFIG:
		if (idx >= r->ncfg)
			return SIM_STALL;
		return r_copy(buf, cap, r->cfg[idx].data, r->cfg[idx].len);
	case USB_DT_STRING:
		if (!r->strings)
			return SIM_STALL;
		if (idx == 0) {
			static const uint8_t langids[] = { 4, USB_DT_STRING, SIM_LE16(0x0409) };

			return r_copy(buf, cap, langids, sizeof(langids));
		}
		if (!r->str[idx] || cap < 256)
			return SIM_STALL;
		return r_string_desc(buf, r->str[idx]);
	case USB_DT_BOS:
		if (!r->bos)
			return SIM_STALL;
		return r_copy(buf, cap, r->bos, r->bos_len);
	default:
		return SIM_STALL;
	}
}

/* Whether `ep` is isochronous in the active configuration. */
static bool r_isoch(struct sim_device *dev, uint8_t ep)
{
	struct sim_replay *r = *(struct sim_replay **)sim_device_priv(dev);
	uint8_t value = sim_device_config(dev);
	int cur = -1;

	for (unsigned i = 0; i < r->ncfg && i < 4; i++) {
		const struct sim_blob *c = &r->cfg[i];

		if (c->data[5] != value)
			continue;
		for (size_t off = 0; off + 2 <= c->len && c->data[off] >= 2; off += c->data[off]) {
			const uint8_t *d = c->data + off;

			if (off + d[0] > c->len)
				break;
			if (d[1] == USB_DT_INTERFACE && d[0] >= 9)
				cur = sim_device_alt(dev, d[2]) == d[3];
			else if (d[1] == USB_DT_ENDPOINT && d[0] >= 7 && cur == 1 && d[2] == ep)
				return (d[3] & 3) == SIM_EP_ISOCH;
		}
		break;
	}
	return false;
}

static int r_in(struct sim_device *dev, uint8_t ep, uint8_t *buf, uint16_t max)
{
	(void)buf;
	(void)max;
	return r_isoch(dev, ep) ? 0 : SIM_NAK;
}

static int r_out(struct sim_device *dev, uint8_t ep, const uint8_t *buf, uint16_t len)
{
	(void)dev;
	(void)ep;
	(void)buf;
	(void)len;
	return SIM_ACK;
}

static int r_control(struct sim_device *dev, const struct usb_setup_packet *s, uint8_t *data,
		     uint16_t *len)
{
	(void)dev;
	(void)s;
	(void)data;
	(void)len;
	return SIM_STALL;
}

/* ------------------------------------------------------------------------ */
/* Public entry points                                                      */

struct sim_replay *sim_replay_from_bytes(const uint8_t *data, size_t len, char *err, size_t n)
{
	struct sim_replay *r;

	if (len > SIM_REPLAY_MAX_LEN) {
		r_fail(err, n, "%zu bytes: larger than any descriptors file can be (%u at most)",
		       len, SIM_REPLAY_MAX_LEN);
		return NULL;
	}
	r = calloc(1, sizeof(*r));
	if (!r || !(r->bytes = malloc(len ? len : 1))) {
		free(r);
		r_fail(err, n, "out of memory");
		return NULL;
	}
	memcpy(r->bytes, data, len);
	r->len = len;
	if (r_parse(r, err, n)) {
		sim_replay_free(r);
		return NULL;
	}
	r->model.name = "replay";
	r->model.priv_size = sizeof(struct sim_replay *);
	r->model.in = r_in;
	r->model.out = r_out;
	r->model.control = r_control;
	return r;
}

int sim_replay_set_string(struct sim_replay *r, unsigned index, const char *text)
{
	char *copy;

	if (index == 0 || index > 255 || !text)
		return -1;
	copy = strdup(text);
	if (!copy)
		return -1;
	free(r->str[index]);
	r->str[index] = copy;
	r->strings = true;
	return 0;
}

int sim_replay_strings(struct sim_replay *r, const char *text, size_t len, char *err, size_t n)
{
	unsigned line = 0;
	size_t i = 0;

	r->strings = true; /* an empty list still answers the LANGID table */
	while (i < len) {
		size_t end = i, start;
		unsigned long index = 0;
		char buf[1024];

		line++;
		while (end < len && text[end] != '\n')
			end++;
		start = i;
		i = end + 1;
		if (end > start && text[end - 1] == '\r')
			end--;
		if (end == start || text[start] == '#')
			continue;
		if (text[start] < '0' || text[start] > '9')
			return r_fail(err, n, "strings line %u: does not start with an index "
					      "(lines are `INDEX TEXT`)", line);
		while (start < end && text[start] >= '0' && text[start] <= '9' && index <= 255)
			index = index * 10 + (unsigned long)(text[start++] - '0');
		if (index == 0 || index > 255)
			return r_fail(err, n, "strings line %u: index out of range 1..255", line);
		if (start < end && text[start] != ' ' && text[start] != '\t')
			return r_fail(err, n, "strings line %u: no space after the index", line);
		if (start < end)
			start++;
		if (end - start >= sizeof(buf))
			return r_fail(err, n, "strings line %u: longer than %zu bytes", line,
				      sizeof(buf) - 1);
		memcpy(buf, text + start, end - start);
		buf[end - start] = 0;
		if (memchr(buf, 0, end - start))
			return r_fail(err, n, "strings line %u: contains a NUL byte", line);
		if (sim_replay_set_string(r, (unsigned)index, buf))
			return r_fail(err, n, "out of memory");
	}
	return 0;
}

int sim_replay_set_bos(struct sim_replay *r, const uint8_t *data, size_t len, char *err, size_t n)
{
	if (len < USB_DT_BOS_SIZE || data[0] != USB_DT_BOS_SIZE || data[1] != USB_DT_BOS)
		return r_fail(err, n, "not a BOS: %zu bytes starting with bLength %u, "
				      "bDescriptorType 0x%02x (a BOS starts 5, 0x0f)",
			      len, len ? data[0] : 0, len > 1 ? data[1] : 0);
	if (len > 0xffff)
		return r_fail(err, n, "BOS of %zu bytes: longer than wTotalLength can say", len);
	free(r->bos);
	r->bos = malloc(len);
	if (!r->bos)
		return r_fail(err, n, "out of memory");
	memcpy(r->bos, data, len);
	r->bos_len = (uint16_t)len;
	return 0;
}

int sim_replay_set_hub_ports(struct sim_replay *r, unsigned ports, char *err, size_t n)
{
	if (ports < 1 || ports > 15)
		return r_fail(err, n, "%u hub ports: the sim's hubs have 1 to 15 (an xHCI route "
				      "string's port field)", ports);
	r->hub_ports = ports;
	return 0;
}

unsigned sim_replay_hub_ports(const struct sim_replay *r)
{
	return r->hub_ports ? r->hub_ports : REPLAY_HUB_PORTS;
}

bool sim_replay_is_hub(const struct sim_replay *r)
{
	return r->device.len >= 5 && r->device.data[4] == USB_CLASS_HUB;
}

const struct sim_device_model *sim_replay_model(struct sim_replay *r, enum sim_speed speed)
{
	struct sim_desc_set set = { .device = r->device };

	r->model.hub = SIM_HUB_NONE;
	if (sim_replay_is_hub(r)) {
		r->model.hub = speed == SIM_SPEED_SUPER ? SIM_HUB_USB3 : SIM_HUB_USB2;
		r->model.hub_ports = (uint8_t)sim_replay_hub_ports(r);
		r->model.hub_chars = REPLAY_HUB_CHARS;
	}

	for (unsigned i = 0; i < r->ncfg && i < 4; i++)
		set.configs[i] = r->cfg[i];
	r->model.low = r->model.full = r->model.high = r->model.super =
		(struct sim_desc_set){ 0 };
	switch (speed) {
	case SIM_SPEED_LOW:
		r->model.low = set;
		break;
	case SIM_SPEED_FULL:
		r->model.full = set;
		break;
	case SIM_SPEED_HIGH:
		r->model.high = set;
		break;
	case SIM_SPEED_SUPER:
		r->model.super = set;
		break;
	}
	return &r->model;
}

void sim_replay_arm(struct sim_replay *r, struct sim_device *dev)
{
	*(struct sim_replay **)sim_device_priv(dev) = r;
	sim_set_answer_hook(dev, r_answer, r);
}

enum sim_speed sim_replay_guess_speed(const struct sim_replay *r)
{
	const uint8_t *d = r->device.data;
	unsigned bcd = d[2] | d[3] << 8;
	bool hs = false, fs = false;

	if (bcd >= 0x0300 && d[7] == 9)
		return SIM_SPEED_SUPER;
	for (unsigned i = 0; i < r->ncfg; i++) {
		const struct sim_blob *c = &r->cfg[i];

		for (size_t off = 0; off + 7 <= c->len && c->data[off] >= 2; off += c->data[off]) {
			const uint8_t *e = c->data + off;
			unsigned mps = e[4] | e[5] << 8, type = e[3] & 3;

			if (e[1] != USB_DT_ENDPOINT || e[0] < 7)
				continue;
			/* USB 2.0 §5.6.3, §5.7.3, §5.8.3: only high speed has
			 * bulk 512, interrupt above 64, isochronous above 1023
			 * or more transactions per microframe; high-speed bulk
			 * is never below 512. */
			if ((mps >> 11) & 3)
				hs = true;
			else if (type == SIM_EP_BULK)
				(mps & 0x7ff) == 512 ? (void)(hs = true) : (void)(fs = true);
			else if ((type == SIM_EP_INTR && (mps & 0x7ff) > 64) ||
				 (type == SIM_EP_ISOCH && (mps & 0x7ff) > 1023))
				hs = true;
		}
	}
	if (hs || fs)
		return hs && !fs ? SIM_SPEED_HIGH : SIM_SPEED_FULL;
	return bcd >= 0x0200 && d[7] == 64 ? SIM_SPEED_HIGH : SIM_SPEED_FULL;
}

unsigned sim_replay_warnings(const struct sim_replay *r, unsigned i, const char **text)
{
	if (text)
		*text = i < r->warnings && i < 4 ? r->warning[i] : NULL;
	return r->warnings;
}

void sim_replay_free(struct sim_replay *r)
{
	if (!r)
		return;
	for (unsigned i = 0; i < 256; i++)
		free(r->str[i]);
	free(r->bos);
	free(r->bytes);
	free(r);
}
