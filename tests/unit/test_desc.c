/*
 * Unit tests for core/desc.c: device, configuration, string and BOS
 * descriptors, valid bundles from real device types and malformed ones.
 * Everything runs under ASan/UBSan, so a read past a bundle fails the case.
 */
#include <stdlib.h>
#include <string.h>

#include "bareusb/desc.h"
#include "bareusb/util.h"
#include "unit.h"

/** Parsed output with room for the largest legal configuration. */
struct parsed {
	struct bu_usb_config_info cfg;
	struct bu_usb_alt_info alts[BU_USB_MAX_ALTS + 8];
	struct bu_usb_ep_info eps[BU_USB_MAX_EPS + 8];
	struct bu_usb_iad_info iads[BU_USB_MAX_IADS + 8];
	const char *why;
	int ret;
};

/** Parse `len` bytes of `buf` at `speed` into a fresh (heap) struct parsed. */
static struct parsed *parse(const uint8_t *buf, size_t len, enum bu_usb_speed speed)
{
	struct parsed *p = calloc(1, sizeof(*p));

	ck_assert_ptr_nonnull(p);
	p->ret = bu_desc_parse_config(buf, len, speed, &p->cfg, p->alts,
				      BU_ARRAY_SIZE(p->alts), p->eps,
				      BU_ARRAY_SIZE(p->eps), p->iads,
				      BU_ARRAY_SIZE(p->iads), &p->why);
	return p;
}

/**
 * Copy a bundle into an exactly-sized heap buffer, so ASan catches any read
 * past `len`.
 */
static uint8_t *exact(const uint8_t *src, size_t len)
{
	uint8_t *b = malloc(len ? len : 1);

	ck_assert_ptr_nonnull(b);
	memcpy(b, src, len);
	return b;
}

/** Invariants every successful parse must keep, whatever the input. */
static void check_invariants(const struct parsed *p, const uint8_t *buf, size_t len)
{
	const struct bu_usb_config_info *c = &p->cfg;

	ck_assert_uint_le(c->total_len, len);
	ck_assert_uint_le(c->num_alts, BU_USB_MAX_ALTS);
	ck_assert_uint_le(c->num_eps, BU_USB_MAX_EPS);
	ck_assert_uint_le(c->num_iads, BU_USB_MAX_IADS);
	for (unsigned a = 0; a < c->num_alts; a++) {
		const struct bu_usb_alt_info *alt = &c->alts[a];

		ck_assert_uint_le(alt->num_eps, 30);
		ck_assert_uint_le(alt->first_ep + alt->num_eps, c->num_eps);
		if (alt->extra) {
			ck_assert(alt->extra >= buf);
			ck_assert(alt->extra + alt->extra_len <= buf + c->total_len);
		}
		for (unsigned b = 0; b < a; b++)
			ck_assert(c->alts[b].number != alt->number ||
				  c->alts[b].alt != alt->alt);
	}
	for (unsigned e = 0; e < c->num_eps; e++) {
		const struct bu_usb_ep_info *ep = &c->eps[e];

		ck_assert_uint_ne(USB_ENDPOINT_NUMBER(ep->address), 0);
		ck_assert_uint_eq(ep->address & 0x70, 0);
		ck_assert_uint_le(USB_ENDPOINT_MAXP(ep->max_packet), 1024);
		ck_assert_uint_le(USB_ENDPOINT_MAXP_MULT(ep->max_packet), 2);
		ck_assert_uint_le(ep->ss_max_burst, 15);
		if (ep->extra) {
			ck_assert(ep->extra >= buf);
			ck_assert(ep->extra + ep->extra_len <= buf + c->total_len);
		}
	}
}

/* ------------------------------------------------------------------------ */
/* Real bundles                                                             */

/** QEMU usb-kbd style: HID class descriptor between interface and endpoint. */
static void build_keyboard(struct blob *b)
{
	b->n = 0;
	d_config(b, 1, 1, 0xa0, 50);
	d_iface(b, 0, 0, 1, 3, 1, 1);
	BLOB(b, 9, 0x21, 0x11, 0x01, 0x00, 0x01, 0x22, 0x3f, 0x00);
	d_ep(b, 0x81, 0x03, 8, 10);
	blob_finish(b);
}

/** SuperSpeed mass storage: BOT alt 0, UAS alt 1 with streams and pipe usage. */
static void build_ss_storage(struct blob *b)
{
	b->n = 0;
	d_config(b, 1, 1, 0xc0, 112);
	d_iface(b, 0, 0, 2, 0x08, 0x06, 0x50);
	d_ep(b, 0x81, 0x02, 1024, 0);
	d_ss(b, 15, 0, 0);
	d_ep(b, 0x02, 0x02, 1024, 0);
	d_ss(b, 15, 0, 0);
	d_iface(b, 0, 1, 4, 0x08, 0x06, 0x62);
	d_ep(b, 0x01, 0x02, 1024, 0);          /* command */
	d_ss(b, 0, 0, 0);
	BLOB(b, 4, 0x24, 0x01, 0x00);          /* pipe usage: command */
	d_ep(b, 0x82, 0x02, 1024, 0);          /* status */
	d_ss(b, 15, 5, 0);
	BLOB(b, 4, 0x24, 0x02, 0x00);
	d_ep(b, 0x83, 0x02, 1024, 0);          /* data in */
	d_ss(b, 15, 5, 0);
	BLOB(b, 4, 0x24, 0x03, 0x00);
	d_ep(b, 0x04, 0x02, 1024, 0);          /* data out */
	d_ss(b, 15, 5, 0);
	BLOB(b, 4, 0x24, 0x04, 0x00);
	blob_finish(b);
}

/** Composite: CDC ACM behind an IAD, plus a HID mouse. */
static void build_composite(struct blob *b)
{
	b->n = 0;
	d_config(b, 3, 1, 0x80, 250);
	d_iad(b, 0, 2, 0x02, 0x02, 0x00);
	d_iface(b, 0, 0, 1, 0x02, 0x02, 0x01);
	BLOB(b, 5, 0x24, 0x00, 0x10, 0x01);       /* header */
	BLOB(b, 5, 0x24, 0x01, 0x00, 0x01);       /* call management */
	BLOB(b, 4, 0x24, 0x02, 0x02);             /* ACM */
	BLOB(b, 5, 0x24, 0x06, 0x00, 0x01);       /* union */
	d_ep(b, 0x83, 0x03, 16, 16);
	d_iface(b, 1, 0, 2, 0x0a, 0x00, 0x00);
	d_ep(b, 0x01, 0x02, 512, 0);
	d_ep(b, 0x82, 0x02, 512, 0);
	d_iface(b, 2, 0, 1, 0x03, 0x01, 0x02);
	BLOB(b, 9, 0x21, 0x11, 0x01, 0x00, 0x01, 0x22, 0x34, 0x00);
	d_ep(b, 0x84, 0x03, 4, 7);
	blob_finish(b);
}

/** USB Audio 1.0 speaker: AC interface, AS interface with zero-bandwidth alt 0. */
static void build_audio(struct blob *b)
{
	b->n = 0;
	d_config(b, 2, 1, 0x80, 50);
	d_iface(b, 0, 0, 0, 0x01, 0x01, 0x00);
	BLOB(b, 9, 0x24, 0x01, 0x00, 0x01, 0x1e, 0x00, 0x01, 0x01); /* AC header */
	BLOB(b, 12, 0x24, 0x02, 0x01, 0x01, 0x01, 0x00, 0x02, 0x03, 0x00, 0x00, 0x00);
	BLOB(b, 9, 0x24, 0x03, 0x02, 0x01, 0x03, 0x00, 0x01, 0x00);
	d_iface(b, 1, 0, 0, 0x01, 0x02, 0x00);
	d_iface(b, 1, 1, 1, 0x01, 0x02, 0x00);
	BLOB(b, 7, 0x24, 0x01, 0x01, 0x01, 0x01, 0x00);             /* AS general */
	BLOB(b, 11, 0x24, 0x02, 0x01, 0x02, 0x02, 0x10, 0x01, 0x80, 0xbb, 0x00);
	BLOB(b, 9, 0x05, 0x01, 0x09, 0xc0, 0x00, 0x01, 0x00, 0x00); /* 9-byte audio EP */
	BLOB(b, 7, 0x25, 0x01, 0x01, 0x00, 0x00, 0x00);             /* CS endpoint */
	d_iface(b, 1, 2, 1, 0x01, 0x02, 0x00);
	BLOB(b, 7, 0x24, 0x01, 0x01, 0x01, 0x01, 0x00);
	BLOB(b, 9, 0x05, 0x01, 0x09, 0x60, 0x00, 0x01, 0x00, 0x00);
	BLOB(b, 7, 0x25, 0x01, 0x01, 0x00, 0x00, 0x00);
	blob_finish(b);
}

/** High-speed hub: one interface, status-change interrupt endpoint. */
static void build_hub(struct blob *b)
{
	b->n = 0;
	d_config(b, 1, 1, 0xe0, 0);
	d_iface(b, 0, 0, 1, 0x09, 0x00, 0x00);
	d_ep(b, 0x81, 0x03, 1, 12);
	blob_finish(b);
}

typedef void (*builder_fn)(struct blob *b);

static const struct {
	const char *name;
	builder_fn build;
	enum bu_usb_speed speed;
} bundles[] = {
	{ "keyboard", build_keyboard, BU_SPEED_FULL },
	{ "ss_storage", build_ss_storage, BU_SPEED_SUPER },
	{ "composite", build_composite, BU_SPEED_HIGH },
	{ "audio", build_audio, BU_SPEED_FULL },
	{ "hub", build_hub, BU_SPEED_HIGH },
};

static struct blob g_blob; /* test-local scratch; each case runs in its own fork */

START_TEST(cfg_keyboard)
{
	struct parsed *p;
	const struct bu_usb_alt_info *a;
	const struct bu_usb_ep_info *e;

	build_keyboard(&g_blob);
	p = parse(g_blob.b, g_blob.n, BU_SPEED_FULL);
	ck_assert_int_eq(p->ret, 0);
	ck_assert_ptr_null(p->why);
	ck_assert_uint_eq(p->cfg.warnings, 0);
	ck_assert_uint_eq(p->cfg.value, 1);
	ck_assert_uint_eq(p->cfg.attributes, 0xa0);
	ck_assert_uint_eq(p->cfg.max_power, 50);
	ck_assert_uint_eq(p->cfg.total_len, 34);
	ck_assert_uint_eq(p->cfg.num_interfaces, 1);
	ck_assert_uint_eq(p->cfg.num_alts, 1);
	ck_assert_uint_eq(p->cfg.num_eps, 1);
	ck_assert_ptr_eq(p->cfg.raw, g_blob.b);
	a = &p->cfg.alts[0];
	ck_assert_uint_eq(a->class_code, 3);
	ck_assert_uint_eq(a->subclass, 1);
	ck_assert_uint_eq(a->protocol, 1);
	ck_assert_uint_eq(a->num_eps, 1);
	ck_assert_ptr_eq(a->extra, g_blob.b + 18);
	ck_assert_uint_eq(a->extra_len, 9);
	ck_assert_uint_eq(a->extra[1], USB_DT_HID);
	e = bu_desc_alt_ep(&p->cfg, a, 0);
	ck_assert_ptr_nonnull(e);
	ck_assert_uint_eq(e->address, 0x81);
	ck_assert_uint_eq(e->attributes, 3);
	ck_assert_uint_eq(e->max_packet, 8);
	ck_assert_uint_eq(e->interval, 10);
	ck_assert(!e->has_ss);
	ck_assert_ptr_null(e->extra);
	ck_assert_ptr_null(bu_desc_alt_ep(&p->cfg, a, 1));
	ck_assert_ptr_eq(bu_desc_find_alt(&p->cfg, 0, 0), a);
	ck_assert_ptr_null(bu_desc_find_alt(&p->cfg, 0, 1));
	free(p);
}
END_TEST

START_TEST(cfg_ss_storage)
{
	struct parsed *p;
	const struct bu_usb_alt_info *uas;
	const struct bu_usb_ep_info *e;

	build_ss_storage(&g_blob);
	p = parse(g_blob.b, g_blob.n, BU_SPEED_SUPER);
	ck_assert_int_eq(p->ret, 0);
	ck_assert_msg(p->cfg.warnings == 0, "warning: %s", p->why);
	ck_assert_uint_eq(p->cfg.num_interfaces, 1);
	ck_assert_uint_eq(p->cfg.num_alts, 2);
	ck_assert_uint_eq(p->cfg.num_eps, 6);
	e = &p->cfg.eps[0];
	ck_assert(e->has_ss);
	ck_assert_uint_eq(e->ss_max_burst, 15);
	ck_assert_uint_eq(e->max_packet, 1024);
	ck_assert_ptr_null(e->extra);
	uas = bu_desc_find_alt(&p->cfg, 0, 1);
	ck_assert_ptr_nonnull(uas);
	ck_assert_uint_eq(uas->protocol, 0x62);
	ck_assert_uint_eq(uas->num_eps, 4);
	ck_assert_uint_eq(uas->first_ep, 2);
	for (unsigned i = 0; i < 4; i++) {
		e = bu_desc_alt_ep(&p->cfg, uas, i);
		ck_assert(e->has_ss);
		ck_assert_uint_eq(e->ss_attributes & 0x1f, i ? 5 : 0);
		ck_assert_uint_eq(e->extra_len, 4);
		ck_assert_uint_eq(e->extra[1], 0x24);
		ck_assert_uint_eq(e->extra[2], i + 1); /* pipe ID */
	}
	check_invariants(p, g_blob.b, g_blob.n);
	free(p);
}
END_TEST

START_TEST(cfg_composite_iad)
{
	struct parsed *p;
	const struct bu_usb_alt_info *a;
	size_t off = 0;
	const uint8_t *d;
	unsigned n = 0;

	build_composite(&g_blob);
	p = parse(g_blob.b, g_blob.n, BU_SPEED_HIGH);
	ck_assert_int_eq(p->ret, 0);
	ck_assert_msg(p->cfg.warnings == 0, "warning: %s", p->why);
	ck_assert_uint_eq(p->cfg.num_iads, 1);
	ck_assert_uint_eq(p->cfg.iads[0].first_interface, 0);
	ck_assert_uint_eq(p->cfg.iads[0].count, 2);
	ck_assert_uint_eq(p->cfg.iads[0].class_code, 2);
	ck_assert_uint_eq(p->cfg.num_interfaces, 3);
	ck_assert_uint_eq(p->cfg.num_alts, 3);
	ck_assert_uint_eq(p->cfg.num_eps, 4);
	a = &p->cfg.alts[0];
	ck_assert_uint_eq(a->extra_len, 19);
	/* A class driver walks the functional descriptors with the iterator. */
	while ((d = bu_desc_next(a->extra, a->extra_len, &off)) != NULL) {
		ck_assert_uint_eq(d[1], 0x24);
		n++;
	}
	ck_assert_uint_eq(n, 4);
	off = 0;
	d = bu_desc_find(a->extra, a->extra_len, &off, 0x24, 5);
	ck_assert_ptr_eq(d, a->extra);
	a = &p->cfg.alts[2];
	ck_assert_uint_eq(a->class_code, 3);
	ck_assert_uint_eq(a->extra_len, 9);
	ck_assert_uint_eq(bu_desc_alt_ep(&p->cfg, a, 0)->address, 0x84);
	check_invariants(p, g_blob.b, g_blob.n);
	free(p);
}
END_TEST

START_TEST(cfg_audio_alts)
{
	struct parsed *p;
	const struct bu_usb_alt_info *a;
	const struct bu_usb_ep_info *e;

	build_audio(&g_blob);
	p = parse(g_blob.b, g_blob.n, BU_SPEED_FULL);
	ck_assert_int_eq(p->ret, 0);
	ck_assert_msg(p->cfg.warnings == 0, "warning: %s", p->why);
	ck_assert_uint_eq(p->cfg.num_interfaces, 2);
	ck_assert_uint_eq(p->cfg.num_alts, 4);
	ck_assert_uint_eq(p->cfg.num_eps, 2);
	ck_assert_uint_eq(p->cfg.alts[0].extra_len, 30);
	ck_assert_uint_eq(bu_desc_find_alt(&p->cfg, 1, 0)->num_eps, 0);
	a = bu_desc_find_alt(&p->cfg, 1, 1);
	ck_assert_uint_eq(a->extra_len, 18);
	e = bu_desc_alt_ep(&p->cfg, a, 0);
	ck_assert_uint_eq(e->attributes, 0x09);
	ck_assert_uint_eq(e->max_packet, 192);
	ck_assert_uint_eq(e->interval, 1);
	ck_assert_uint_eq(e->extra_len, 7);
	ck_assert_uint_eq(e->extra[1], 0x25);
	/* Same endpoint address in another alt of the same interface is fine. */
	a = bu_desc_find_alt(&p->cfg, 1, 2);
	ck_assert_uint_eq(bu_desc_alt_ep(&p->cfg, a, 0)->address, 0x01);
	ck_assert_uint_eq(bu_desc_alt_ep(&p->cfg, a, 0)->max_packet, 96);
	free(p);
}
END_TEST

START_TEST(cfg_hub)
{
	struct parsed *p;

	build_hub(&g_blob);
	p = parse(g_blob.b, g_blob.n, BU_SPEED_HIGH);
	ck_assert_int_eq(p->ret, 0);
	ck_assert_uint_eq(p->cfg.warnings, 0);
	ck_assert_uint_eq(p->cfg.alts[0].class_code, USB_CLASS_HUB);
	ck_assert_uint_eq(p->cfg.eps[0].max_packet, 1);
	ck_assert_uint_eq(p->cfg.eps[0].interval, 12);
	free(p);
}
END_TEST

START_TEST(cfg_count_matches_parse)
{
	uint16_t na, ne, ni;
	struct parsed *p;

	bundles[_i].build(&g_blob);
	ck_assert_int_eq(bu_desc_count_config(g_blob.b, g_blob.n, &na, &ne, &ni, NULL), 0);
	p = parse(g_blob.b, g_blob.n, bundles[_i].speed);
	ck_assert_int_eq(p->ret, 0);
	ck_assert_uint_eq(na, p->cfg.num_alts);
	ck_assert_uint_eq(ne, p->cfg.num_eps);
	ck_assert_uint_eq(ni, p->cfg.num_iads);
	/* Exactly-sized arrays from the count pass are enough. */
	{
		struct bu_usb_config_info cfg;
		struct bu_usb_alt_info *alts = calloc(na + 1, sizeof(*alts));
		struct bu_usb_ep_info *eps = calloc(ne + 1, sizeof(*eps));
		struct bu_usb_iad_info *iads = calloc(ni + 1, sizeof(*iads));

		ck_assert_int_eq(bu_desc_parse_config(g_blob.b, g_blob.n,
						      bundles[_i].speed, &cfg,
						      alts, na, eps, ne, iads, ni,
						      NULL), 0);
		free(alts);
		free(eps);
		free(iads);
	}
	free(p);
}
END_TEST

/*
 * Every prefix of every real bundle (wTotalLength left as it was, i.e. a
 * short read), in an exactly-sized buffer: never a crash or an over-read,
 * and the invariants hold.
 */
START_TEST(cfg_every_truncation)
{
	bundles[_i].build(&g_blob);
	for (size_t len = 0; len <= g_blob.n; len++) {
		uint8_t *b = exact(g_blob.b, len);
		struct parsed *p = parse(b, len, bundles[_i].speed);

		if (len < 9) {
			ck_assert_int_eq(p->ret, BU_EBADDESC);
			ck_assert_ptr_nonnull(p->why);
		} else {
			ck_assert_int_eq(p->ret, 0);
			ck_assert_uint_eq(p->cfg.total_len, len);
			check_invariants(p, b, len);
		}
		free(p);
		free(b);
	}
}
END_TEST

/* wTotalLength lying low: the bytes past it are ignored. */
START_TEST(cfg_total_len_short)
{
	struct parsed *p;

	build_keyboard(&g_blob);
	blob_set_total(&g_blob, 27); /* cuts the endpoint */
	p = parse(g_blob.b, g_blob.n, BU_SPEED_FULL);
	ck_assert_int_eq(p->ret, 0);
	ck_assert_uint_eq(p->cfg.total_len, 27);
	ck_assert_uint_eq(p->cfg.num_alts, 1);
	ck_assert_uint_eq(p->cfg.num_eps, 0);
	ck_assert_uint_gt(p->cfg.warnings, 0);
	free(p);
	blob_set_total(&g_blob, 9); /* "no interfaces" */
	p = parse(g_blob.b, g_blob.n, BU_SPEED_FULL);
	ck_assert_int_eq(p->ret, 0);
	ck_assert_uint_eq(p->cfg.num_alts, 0);
	ck_assert_uint_eq(p->cfg.num_interfaces, 0);
	ck_assert_str_eq(p->why, "bNumInterfaces differs from the interfaces present");
	free(p);
}
END_TEST

/* wTotalLength lying high: parse what arrived. */
START_TEST(cfg_total_len_long)
{
	struct parsed *p;
	uint8_t *b;

	build_keyboard(&g_blob);
	blob_set_total(&g_blob, 0xffff);
	b = exact(g_blob.b, g_blob.n);
	p = parse(b, g_blob.n, BU_SPEED_FULL);
	ck_assert_int_eq(p->ret, 0);
	ck_assert_uint_eq(p->cfg.total_len, g_blob.n);
	ck_assert_uint_eq(p->cfg.num_eps, 1);
	free(p);
	free(b);
}
END_TEST

/* Fatal header problems. */
static const struct {
	const char *name;
	uint8_t bytes[12];
	size_t len;
	int ret;
	const char *why;
} bad_headers[] = {
	{ "empty", { 0 }, 0, BU_EBADDESC, "configuration descriptor truncated (< 9 bytes)" },
	{ "8 bytes", { 9, 2, 9, 0, 0, 1, 0, 0x80 }, 8, BU_EBADDESC, "configuration descriptor truncated (< 9 bytes)" },
	{ "type", { 9, 4, 9, 0, 0, 1, 0, 0x80, 0 }, 9, BU_EBADDESC, "not a configuration descriptor" },
	{ "bLength 8", { 8, 2, 9, 0, 0, 1, 0, 0x80, 0 }, 9, BU_EBADDESC, "configuration bLength < 9" },
	{ "bLength 0", { 0, 2, 9, 0, 0, 1, 0, 0x80, 0 }, 9, BU_EBADDESC, "configuration bLength < 9" },
	{ "wTotalLength 8", { 9, 2, 8, 0, 0, 1, 0, 0x80, 0 }, 9, BU_EBADDESC, "configuration wTotalLength < 9" },
	{ "wTotalLength 0", { 9, 2, 0, 0, 0, 1, 0, 0x80, 0 }, 9, BU_EBADDESC, "configuration wTotalLength < 9" },
	{ "bLength > total", { 12, 2, 9, 0, 0, 1, 0, 0x80, 0, 0, 0, 0 }, 12, BU_EBADDESC, "configuration bLength runs past wTotalLength" },
	{ "bLength > received", { 12, 2, 12, 0, 0, 1, 0, 0x80, 0, 0 }, 10, BU_EBADDESC, "configuration bLength runs past wTotalLength" },
};

START_TEST(cfg_bad_header)
{
	uint8_t *b = exact(bad_headers[_i].bytes, bad_headers[_i].len);
	struct parsed *p = parse(b, bad_headers[_i].len, BU_SPEED_FULL);
	uint16_t na = 7;

	ck_assert_int_eq(p->ret, bad_headers[_i].ret);
	ck_assert_str_eq(p->why, bad_headers[_i].why);
	ck_assert_int_eq(bu_desc_count_config(b, bad_headers[_i].len, &na, NULL,
					      NULL, NULL), bad_headers[_i].ret);
	ck_assert_uint_eq(na, 7);
	free(p);
	free(b);
}
END_TEST

START_TEST(cfg_null_args)
{
	struct bu_usb_config_info cfg;
	struct bu_usb_alt_info alts[1];

	build_keyboard(&g_blob);
	ck_assert_int_eq(bu_desc_parse_config(NULL, 0, BU_SPEED_FULL, &cfg, NULL,
					      0, NULL, 0, NULL, 0, NULL), BU_EINVAL);
	ck_assert_int_eq(bu_desc_parse_config(g_blob.b, g_blob.n, BU_SPEED_FULL,
					      NULL, NULL, 0, NULL, 0, NULL, 0,
					      NULL), BU_EINVAL);
	ck_assert_int_eq(bu_desc_parse_config(g_blob.b, g_blob.n, BU_SPEED_FULL,
					      &cfg, NULL, 4, NULL, 0, NULL, 0,
					      NULL), BU_EINVAL);
	/* No room at all: the first interface needs one. */
	ck_assert_int_eq(bu_desc_parse_config(g_blob.b, g_blob.n, BU_SPEED_FULL,
					      &cfg, NULL, 0, NULL, 0, NULL, 0,
					      NULL), BU_ERANGE);
	/* Room for the alt but not the endpoint. */
	ck_assert_int_eq(bu_desc_parse_config(g_blob.b, g_blob.n, BU_SPEED_FULL,
					      &cfg, alts, 1, NULL, 0, NULL, 0,
					      NULL), BU_ERANGE);
	ck_assert_uint_eq(cfg.num_alts, 1);
	ck_assert_int_eq(bu_desc_count_config(NULL, 9, NULL, NULL, NULL, NULL),
			 BU_EINVAL);
}
END_TEST

/* A descriptor with bLength 0 or running past the end stops the walk. */
START_TEST(cfg_blength_zero_and_past_end)
{
	struct parsed *p;

	build_keyboard(&g_blob);
	BLOB(&g_blob, 0, 0x24, 1, 2, 3);
	d_iface(&g_blob, 1, 0, 0, 0xff, 0, 0); /* never reached */
	blob_finish(&g_blob);
	p = parse(g_blob.b, g_blob.n, BU_SPEED_FULL);
	ck_assert_int_eq(p->ret, 0);
	ck_assert_uint_eq(p->cfg.num_alts, 1);
	ck_assert_uint_eq(p->cfg.num_eps, 1);
	ck_assert_str_eq(p->why, "invalid descriptor length; rest of the configuration ignored");
	free(p);

	build_keyboard(&g_blob);
	BLOB(&g_blob, 1, 0x24);
	blob_finish(&g_blob);
	p = parse(g_blob.b, g_blob.n, BU_SPEED_FULL);
	ck_assert_int_eq(p->ret, 0);
	ck_assert_uint_eq(p->cfg.num_eps, 1);
	ck_assert_uint_eq(p->cfg.warnings, 1);
	free(p);

	build_keyboard(&g_blob);
	BLOB(&g_blob, 0xff, 0x24, 0, 0);
	blob_finish(&g_blob);
	p = parse(g_blob.b, g_blob.n, BU_SPEED_FULL);
	ck_assert_int_eq(p->ret, 0);
	ck_assert_uint_eq(p->cfg.num_eps, 1);
	ck_assert_ptr_null(p->cfg.eps[0].extra);
	ck_assert_uint_eq(p->cfg.warnings, 1);
	free(p);

	build_keyboard(&g_blob);
	BLOB(&g_blob, 0x24); /* one stray byte */
	blob_finish(&g_blob);
	p = parse(g_blob.b, g_blob.n, BU_SPEED_FULL);
	ck_assert_int_eq(p->ret, 0);
	ck_assert_str_eq(p->why, "stray byte at the end of the configuration");
	free(p);
}
END_TEST

/* An interface descriptor shorter than 9 bytes is skipped with its endpoints. */
START_TEST(cfg_short_interface)
{
	struct parsed *p;

	g_blob.n = 0;
	d_config(&g_blob, 2, 1, 0x80, 50);
	BLOB(&g_blob, 8, 0x04, 0, 0, 1, 3, 1, 1);
	d_ep(&g_blob, 0x81, 0x03, 8, 10);
	BLOB(&g_blob, 3, 0x24, 0);
	d_iface(&g_blob, 1, 0, 1, 3, 1, 2);
	d_ep(&g_blob, 0x82, 0x03, 8, 10);
	blob_finish(&g_blob);
	p = parse(g_blob.b, g_blob.n, BU_SPEED_FULL);
	ck_assert_int_eq(p->ret, 0);
	ck_assert_uint_eq(p->cfg.num_alts, 1);
	ck_assert_uint_eq(p->cfg.alts[0].number, 1);
	ck_assert_uint_eq(p->cfg.num_eps, 1);
	ck_assert_uint_eq(p->cfg.eps[0].address, 0x82);
	ck_assert_ptr_null(p->cfg.alts[0].extra);
	ck_assert_str_eq(p->why, "interface descriptor shorter than 9 bytes skipped");
	ck_assert_uint_eq(p->cfg.num_interfaces, 1);
	ck_assert_uint_eq(p->cfg.num_interfaces_declared, 2);
	ck_assert_uint_eq(p->cfg.warnings, 2); /* short iface, bNumInterfaces */
	free(p);
}
END_TEST

/* bNumInterfaces and bNumEndpoints lying both ways: the real counts win. */
START_TEST(cfg_counts_lying)
{
	struct parsed *p;

	g_blob.n = 0;
	d_config(&g_blob, 7, 1, 0x80, 50);
	d_iface(&g_blob, 0, 0, 5, 0xff, 0, 0);
	d_ep(&g_blob, 0x81, 0x02, 64, 0);
	d_iface(&g_blob, 3, 0, 0, 0xff, 0, 0);
	d_ep(&g_blob, 0x82, 0x02, 64, 0);
	d_ep(&g_blob, 0x03, 0x02, 64, 0);
	d_iface(&g_blob, 3, 1, 255, 0xff, 0, 0);
	blob_finish(&g_blob);
	p = parse(g_blob.b, g_blob.n, BU_SPEED_FULL);
	ck_assert_int_eq(p->ret, 0);
	ck_assert_uint_eq(p->cfg.num_interfaces_declared, 7);
	ck_assert_uint_eq(p->cfg.num_interfaces, 2);
	ck_assert_uint_eq(p->cfg.num_alts, 3);
	ck_assert_uint_eq(p->cfg.alts[0].num_eps, 1);
	ck_assert_uint_eq(p->cfg.alts[1].num_eps, 2);
	ck_assert_uint_eq(p->cfg.alts[1].first_ep, 1);
	ck_assert_uint_eq(p->cfg.alts[2].num_eps, 0);
	ck_assert_uint_eq(p->cfg.warnings, 4);
	ck_assert_str_eq(p->why, "interface bNumEndpoints differs from the endpoints present");
	free(p);
}
END_TEST

/* More than 30 endpoint descriptors in one alt: 30 kept. */
START_TEST(cfg_too_many_eps)
{
	struct parsed *p;

	g_blob.n = 0;
	d_config(&g_blob, 1, 1, 0x80, 50);
	d_iface(&g_blob, 0, 0, 40, 0xff, 0, 0);
	for (unsigned i = 1; i <= 15; i++) {
		d_ep(&g_blob, (uint8_t)(0x80 | i), 0x02, 64, 0);
		d_ep(&g_blob, (uint8_t)i, 0x02, 64, 0);
	}
	for (unsigned i = 1; i <= 10; i++)
		d_ep(&g_blob, (uint8_t)(0x80 | i), 0x02, 64, 0);
	blob_finish(&g_blob);
	p = parse(g_blob.b, g_blob.n, BU_SPEED_FULL);
	ck_assert_int_eq(p->ret, 0);
	ck_assert_uint_eq(p->cfg.alts[0].num_eps, 30);
	ck_assert_uint_eq(p->cfg.num_eps, 30);
	ck_assert_str_eq(p->why, "more than 30 endpoints in an interface; extra ones skipped");
	check_invariants(p, g_blob.b, g_blob.n);
	free(p);
}
END_TEST

/* Duplicates: within an alt, across interfaces, control both directions. */
START_TEST(cfg_duplicate_eps)
{
	struct parsed *p;

	g_blob.n = 0;
	d_config(&g_blob, 2, 1, 0x80, 50);
	d_iface(&g_blob, 0, 0, 4, 0xff, 0, 0);
	d_ep(&g_blob, 0x81, 0x02, 64, 0);
	d_ep(&g_blob, 0x81, 0x03, 8, 1);          /* same address */
	BLOB(&g_blob, 4, 0x25, 1, 2);             /* dropped with it */
	d_ep(&g_blob, 0x02, 0x00, 64, 0);         /* control 2 */
	d_ep(&g_blob, 0x82, 0x02, 64, 0);         /* clashes with control 2 */
	d_iface(&g_blob, 1, 0, 1, 0xff, 0, 0);
	d_ep(&g_blob, 0x81, 0x02, 64, 0);         /* used by interface 0 */
	d_ep(&g_blob, 0x01, 0x02, 64, 0);         /* other direction: fine */
	blob_finish(&g_blob);
	p = parse(g_blob.b, g_blob.n, BU_SPEED_FULL);
	ck_assert_int_eq(p->ret, 0);
	ck_assert_uint_eq(p->cfg.alts[0].num_eps, 2);
	ck_assert_uint_eq(p->cfg.eps[0].address, 0x81);
	ck_assert_uint_eq(p->cfg.eps[0].attributes, 0x02);
	ck_assert_ptr_null(p->cfg.eps[0].extra);
	ck_assert_uint_eq(p->cfg.eps[1].address, 0x02);
	ck_assert_uint_eq(p->cfg.alts[1].num_eps, 1);
	ck_assert_uint_eq(p->cfg.eps[2].address, 0x01);
	ck_assert_str_eq(p->why, "duplicate endpoint address skipped");
	free(p);
}
END_TEST

/* Endpoint 0, reserved address bits, short endpoints, maxp 0, orphans. */
START_TEST(cfg_bad_endpoints)
{
	struct parsed *p;

	g_blob.n = 0;
	d_config(&g_blob, 1, 1, 0x80, 50);
	d_ep(&g_blob, 0x85, 0x02, 64, 0);         /* before any interface */
	d_iface(&g_blob, 0, 0, 1, 0xff, 0, 0);
	d_ep(&g_blob, 0x00, 0x00, 64, 0);         /* EP0 */
	d_ep(&g_blob, 0x80, 0x02, 64, 0);         /* EP0 IN */
	d_ep(&g_blob, 0x91, 0x02, 64, 0);         /* reserved bit 4 */
	BLOB(&g_blob, 6, 0x05, 0x83, 0x02, 64, 0); /* 6 bytes */
	d_ep(&g_blob, 0x84, 0x02, 0, 0);          /* bulk maxp 0 */
	d_ep(&g_blob, 0x81, 0x02, 64, 0);         /* the good one */
	d_iface(&g_blob, 1, 0, 1, 0x01, 2, 0);
	d_ep(&g_blob, 0x06, 0x01, 0, 1);          /* isoch maxp 0 is legal */
	blob_finish(&g_blob);
	p = parse(g_blob.b, g_blob.n, BU_SPEED_FULL);
	ck_assert_int_eq(p->ret, 0);
	ck_assert_uint_eq(p->cfg.num_eps, 2);
	ck_assert_uint_eq(p->cfg.eps[0].address, 0x81);
	ck_assert_uint_eq(p->cfg.eps[1].address, 0x06);
	ck_assert_uint_eq(p->cfg.eps[1].max_packet, 0);
	ck_assert_str_eq(p->why, "endpoint outside an interface skipped");
	ck_assert_uint_eq(p->cfg.warnings, 7); /* 6 skipped + bNumInterfaces */
	free(p);
}
END_TEST

/* Duplicate (interface, alt) and descriptors that do not belong. */
START_TEST(cfg_duplicate_alt)
{
	struct parsed *p;

	g_blob.n = 0;
	d_config(&g_blob, 1, 1, 0x80, 50);
	d_iface(&g_blob, 0, 0, 1, 0xff, 0, 0);
	d_ep(&g_blob, 0x81, 0x02, 64, 0);
	BLOB(&g_blob, 18, 0x01, 0, 2, 0, 0, 0, 64, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1);
	d_config(&g_blob, 1, 2, 0x80, 50);
	d_iface(&g_blob, 0, 0, 1, 0x03, 0, 0);    /* duplicate */
	BLOB(&g_blob, 9, 0x21, 0x11, 0x01, 0x00, 0x01, 0x22, 0x3f, 0x00);
	d_ep(&g_blob, 0x82, 0x03, 8, 10);
	blob_finish(&g_blob);
	p = parse(g_blob.b, g_blob.n, BU_SPEED_FULL);
	ck_assert_int_eq(p->ret, 0);
	ck_assert_uint_eq(p->cfg.num_alts, 1);
	ck_assert_uint_eq(p->cfg.alts[0].class_code, 0xff);
	ck_assert_ptr_null(p->cfg.alts[0].extra);
	ck_assert_uint_eq(p->cfg.num_eps, 1);
	ck_assert_ptr_null(p->cfg.eps[0].extra);
	ck_assert_str_eq(p->why, "device or configuration descriptor inside a configuration skipped");
	ck_assert_uint_eq(p->cfg.warnings, 3);
	free(p);
}
END_TEST

/* wMaxPacketSize sanitising per speed. */
static const struct {
	enum bu_usb_speed speed;
	uint8_t attr;
	uint16_t raw;
	uint16_t want;
	bool warned;
} maxp_cases[] = {
	{ BU_SPEED_HIGH, 0x01, 0x1400, 0x1400, false }, /* HS isoch 3 x 1024 */
	{ BU_SPEED_HIGH, 0x03, 0x0800 | 64, 0x0800 | 64, false }, /* int, 1 extra */
	{ BU_SPEED_HIGH, 0x03, 0x1800 | 64, 0x1000 | 64, true }, /* mult 3 */
	{ BU_SPEED_HIGH, 0x02, 0x0800 | 512, 512, true },   /* bulk mult */
	{ BU_SPEED_HIGH, 0x02, 1024, 512, true },
	{ BU_SPEED_HIGH, 0x02, 0x07ff, 512, true },
	{ BU_SPEED_FULL, 0x01, 0x1400, 1023, true },
	{ BU_SPEED_FULL, 0x01, 1023, 1023, false },
	{ BU_SPEED_FULL, 0x02, 512, 64, true },
	{ BU_SPEED_FULL, 0x03, 64, 64, false },
	{ BU_SPEED_LOW, 0x03, 64, 8, true },
	{ BU_SPEED_SUPER, 0x02, 0x0800 | 1024, 1024, true },
	{ BU_SPEED_SUPER, 0x02, 2047, 1024, true },
	{ BU_SPEED_HIGH, 0x02, 0xe000 | 512, 512, true }, /* reserved bits */
	/* control and bulk sizes are fixed (USB 2.0 §5.5.3, §5.8.3, USB 3.2 §9.6.6) */
	{ BU_SPEED_FULL, 0x02, 24, 16, true },
	{ BU_SPEED_FULL, 0x02, 4, 8, true },
	{ BU_SPEED_FULL, 0x02, 32, 32, false },
	{ BU_SPEED_FULL, 0x00, 63, 32, true },
	{ BU_SPEED_HIGH, 0x02, 64, 512, true },
	{ BU_SPEED_HIGH, 0x00, 8, 64, true },
	{ BU_SPEED_HIGH, 0x00, 64, 64, false },
	{ BU_SPEED_LOW, 0x00, 64, 8, true },
	{ BU_SPEED_SUPER, 0x02, 512, 1024, true },
	{ BU_SPEED_SUPER, 0x00, 64, 512, true },
	{ BU_SPEED_SUPER, 0x03, 64, 64, false },
	{ BU_SPEED_SUPER_PLUS, 0x02, 8, 1024, true },
	/* periodic endpoints take any size up to the maximum */
	{ BU_SPEED_FULL, 0x01, 24, 24, false },
	{ BU_SPEED_HIGH, 0x03, 24, 24, false },
};

START_TEST(cfg_maxp_sanitise)
{
	struct parsed *p;

	g_blob.n = 0;
	d_config(&g_blob, 1, 1, 0x80, 50);
	d_iface(&g_blob, 0, 0, 1, 0xff, 0, 0);
	d_ep(&g_blob, 0x81, maxp_cases[_i].attr, maxp_cases[_i].raw, 1);
	if (maxp_cases[_i].speed >= BU_SPEED_SUPER)
		d_ss(&g_blob, 0, 0, 64); /* wBytesPerInterval: periodic rows use 64 */
	blob_finish(&g_blob);
	p = parse(g_blob.b, g_blob.n, maxp_cases[_i].speed);
	ck_assert_int_eq(p->ret, 0);
	ck_assert_uint_eq(p->cfg.num_eps, 1);
	ck_assert_uint_eq(p->cfg.eps[0].max_packet, maxp_cases[_i].want);
	ck_assert_uint_eq(p->cfg.warnings != 0, maxp_cases[_i].warned);
	ck_assert_uint_eq(p->cfg.eps[0].fixed != NULL, maxp_cases[_i].warned);
	free(p);
}
END_TEST

/* A low-speed bulk endpoint becomes interrupt (USB 2.0 §5.8.3), as in Linux. */
START_TEST(cfg_ls_bulk)
{
	struct parsed *p;

	g_blob.n = 0;
	d_config(&g_blob, 1, 1, 0x80, 50);
	d_iface(&g_blob, 0, 0, 2, 0xff, 0, 0);
	d_ep(&g_blob, 0x81, 0x02, 64, 0);
	d_ep(&g_blob, 0x02, 0x02, 8, 0);
	blob_finish(&g_blob);
	p = parse(g_blob.b, g_blob.n, BU_SPEED_LOW);
	ck_assert_int_eq(p->ret, 0);
	ck_assert_uint_eq(p->cfg.num_eps, 2);
	for (int i = 0; i < 2; i++) {
		ck_assert_uint_eq(USB_ENDPOINT_XFERTYPE(p->cfg.eps[i].attributes), BU_EP_INTERRUPT);
		ck_assert_uint_eq(p->cfg.eps[i].max_packet, 8);
		ck_assert_uint_eq(p->cfg.eps[i].interval, 1);
		ck_assert_str_eq(p->cfg.eps[i].fixed,
				 "low-speed bulk endpoint made an interrupt endpoint");
	}
	/* made interrupt, then 64 above the maximum; made interrupt */
	ck_assert_uint_eq(p->cfg.warnings, 3);
	free(p);
}
END_TEST

/*
 * Companion values the controller cannot take as they are: wBytesPerInterval
 * 0 on periodic endpoints, bMaxBurst on a control endpoint, and the SSP
 * isochronous companion below SuperSpeedPlus, with 0, or beyond 24 bits.
 */
START_TEST(cfg_companion_payloads)
{
	static const enum bu_usb_speed speeds[] = { BU_SPEED_SUPER, BU_SPEED_SUPER_PLUS };

	for (unsigned sp = 0; sp < BU_ARRAY_SIZE(speeds); sp++) {
		bool ssp = speeds[sp] == BU_SPEED_SUPER_PLUS;
		const struct bu_usb_ep_info *e;
		struct parsed *p;

		g_blob.n = 0;
		d_config(&g_blob, 1, 1, 0x80, 50);
		d_iface(&g_blob, 0, 0, 6, 0xff, 0, 0);
		d_ep(&g_blob, 0x81, 0x03, 64, 4); /* interrupt, bpi 0 */
		d_ss(&g_blob, 1, 0, 0);
		d_ep(&g_blob, 0x82, 0x01, 256, 1); /* isoch, bpi 0 */
		d_ss(&g_blob, 1, 1, 0);
		d_ep(&g_blob, 0x83, 0x00, 512, 0); /* control, burst 3 */
		d_ss(&g_blob, 3, 0, 0);
		d_ep(&g_blob, 0x84, 0x01, 1024, 1); /* SSP isoch, 0x12345 */
		d_ss(&g_blob, 15, 0x80, 4096);
		BLOB(&g_blob, 8, 0x31, 0, 0, 0x45, 0x23, 0x01, 0x00);
		d_ep(&g_blob, 0x85, 0x01, 1024, 1); /* SSP isoch, 0 */
		d_ss(&g_blob, 15, 0x80, 4096);
		BLOB(&g_blob, 8, 0x31, 0, 0, 0, 0, 0, 0);
		d_ep(&g_blob, 0x86, 0x01, 1024, 1); /* SSP isoch, 2^25 */
		d_ss(&g_blob, 15, 0x80, 4096);
		BLOB(&g_blob, 8, 0x31, 0, 0, 0, 0, 0, 0x02);
		blob_finish(&g_blob);
		p = parse(g_blob.b, g_blob.n, speeds[sp]);
		ck_assert_int_eq(p->ret, 0);
		ck_assert_uint_eq(p->cfg.num_eps, 6);
		e = &p->cfg.eps[0];
		ck_assert_uint_eq(e->ss_bytes_per_interval, 2 * 64);
		ck_assert_str_eq(e->fixed, "companion wBytesPerInterval 0 on a periodic endpoint; "
					   "burst x mult x maxp used");
		e = &p->cfg.eps[1];
		ck_assert_uint_eq(e->ss_bytes_per_interval, 2 * 2 * 256);
		ck_assert_ptr_nonnull(e->fixed);
		e = &p->cfg.eps[2];
		ck_assert_uint_eq(e->ss_max_burst, 0);
		ck_assert_str_eq(e->fixed, "companion bMaxBurst on a control endpoint cleared");
		e = &p->cfg.eps[3];
		ck_assert_uint_eq(e->ss_bytes_per_interval, 4096);
		ck_assert_uint_eq(e->ssp_bytes_per_interval, ssp ? 0x12345 : 0);
		if (ssp)
			ck_assert_ptr_null(e->fixed);
		else
			ck_assert_str_eq(e->fixed, "SSP isochronous companion below SuperSpeedPlus "
						   "ignored");
		e = &p->cfg.eps[4];
		ck_assert_uint_eq(e->ssp_bytes_per_interval, 0);
		ck_assert_ptr_nonnull(e->fixed);
		e = &p->cfg.eps[5];
		ck_assert_uint_eq(e->ssp_bytes_per_interval, ssp ? BU_DESC_MAX_ESIT : 0);
		ck_assert_ptr_nonnull(e->fixed);
		/* bpi 0 twice, control burst, then the SSP companions */
		ck_assert_uint_eq(p->cfg.warnings, ssp ? 5 : 6);
		free(p);
	}
}
END_TEST

/* What an endpoint is opened with, and what is not opened (xHCI §6.2.3). */
static const struct {
	enum bu_usb_speed speed;
	struct bu_usb_ep_info ep;
	int ret;
	struct bu_desc_ep_params want;
} params_cases[] = {
	/* control: the OUT address is refused, IN opens at the odd DCI */
	{ BU_SPEED_HIGH, { .address = 0x04, .attributes = 0, .max_packet = 64 }, BU_EBADDESC,
	  { 0 } },
	{ BU_SPEED_HIGH, { .address = 0x84, .attributes = 0, .max_packet = 64 }, 0,
	  { BU_EP_CONTROL, 64, 0, 0, 0 } },
	{ BU_SPEED_SUPER, { .address = 0x84, .attributes = 0, .max_packet = 512,
			    .ss_max_burst = 3 }, 0, { BU_EP_CONTROL, 512, 0, 0, 0 } },
	/* isochronous: none at low speed; wMaxPacketSize 0 has no bandwidth */
	{ BU_SPEED_LOW, { .address = 0x81, .attributes = 1, .max_packet = 8 }, BU_EBADDESC,
	  { 0 } },
	{ BU_SPEED_FULL, { .address = 0x81, .attributes = 1, .max_packet = 0 }, BU_ENOENT,
	  { 0 } },
	{ BU_SPEED_SUPER, { .address = 0x81, .attributes = 1, .max_packet = 0, .has_ss = true },
	  BU_ENOENT, { 0 } },
	{ BU_SPEED_FULL, { .address = 0x81, .attributes = 1, .max_packet = 1023 }, 0,
	  { BU_EP_ISOCH, 1023, 0, 0, 1023 } },
	/* high-speed high-bandwidth: burst from bits 12:11 */
	{ BU_SPEED_HIGH, { .address = 0x81, .attributes = 1, .max_packet = 0x1000 | 1024 }, 0,
	  { BU_EP_ISOCH, 1024, 0, 2, 3072 } },
	{ BU_SPEED_HIGH, { .address = 0x02, .attributes = 2, .max_packet = 512 }, 0,
	  { BU_EP_BULK, 512, 0, 0, 0 } },
	/* SuperSpeed: companion burst, Mult and wBytesPerInterval */
	{ BU_SPEED_SUPER, { .address = 0x81, .attributes = 1, .max_packet = 1024, .has_ss = true,
			    .ss_max_burst = 15, .ss_attributes = 2,
			    .ss_bytes_per_interval = 40000 }, 0,
	  { BU_EP_ISOCH, 1024, 2, 15, 40000 } },
	{ BU_SPEED_SUPER, { .address = 0x82, .attributes = 3, .max_packet = 1024, .has_ss = true,
			    .ss_max_burst = 2, .ss_bytes_per_interval = 0 }, 0,
	  { BU_EP_INTERRUPT, 1024, 0, 2, 3072 } },
	/* SuperSpeedPlus: the SSP companion's payload, at most 24 bits */
	{ BU_SPEED_SUPER_PLUS, { .address = 0x81, .attributes = 1, .max_packet = 1024,
				 .has_ss = true, .ss_max_burst = 15, .ss_attributes = 0x80,
				 .ss_bytes_per_interval = 1,
				 .ssp_bytes_per_interval = 0x2000000 }, 0,
	  { BU_EP_ISOCH, 1024, 0, 15, BU_DESC_MAX_ESIT } },
};

START_TEST(ep_params)
{
	struct bu_desc_ep_params got;
	const char *why = NULL;
	int rc = bu_desc_ep_params(&params_cases[_i].ep, params_cases[_i].speed, &got, &why);

	ck_assert_int_eq(rc, params_cases[_i].ret);
	if (rc) {
		ck_assert_ptr_nonnull(why);
		return;
	}
	ck_assert_ptr_null(why);
	ck_assert_uint_eq(got.type, params_cases[_i].want.type);
	ck_assert_uint_eq(got.mps, params_cases[_i].want.mps);
	ck_assert_uint_eq(got.mult, params_cases[_i].want.mult);
	ck_assert_uint_eq(got.max_burst, params_cases[_i].want.max_burst);
	ck_assert_uint_eq(got.max_esit, params_cases[_i].want.max_esit);
}
END_TEST

/* SuperSpeed companions: placement, clamps, SSP isoch, defaults. */
START_TEST(cfg_ss_companions)
{
	struct parsed *p;
	const struct bu_usb_ep_info *e;

	g_blob.n = 0;
	d_config(&g_blob, 1, 1, 0x80, 50);
	d_iface(&g_blob, 0, 0, 5, 0xff, 0, 0);
	d_ss(&g_blob, 1, 0, 0);                    /* misplaced */
	d_ep(&g_blob, 0x81, 0x02, 1024, 0);
	d_ss(&g_blob, 20, 31, 0);                  /* burst 20, streams 31 */
	d_ep(&g_blob, 0x82, 0x01, 1024, 1);        /* isoch */
	d_ss(&g_blob, 3, 0x83, 0xffff);            /* mult 3, SSP follows */
	BLOB(&g_blob, 8, 0x31, 0, 0, 0x00, 0x00, 0x02, 0x00); /* 131072 */
	d_ep(&g_blob, 0x83, 0x03, 1024, 4);        /* interrupt, no companion */
	d_ep(&g_blob, 0x84, 0x03, 512, 4);
	d_ss(&g_blob, 5, 0, 4000);                 /* burst > 2 for interrupt */
	BLOB(&g_blob, 8, 0x31, 0, 0, 1, 0, 0, 0);  /* not announced */
	d_ep(&g_blob, 0x05, 0x02, 1024, 0);
	BLOB(&g_blob, 5, 0x30, 1, 0, 0);           /* short companion */
	blob_finish(&g_blob);
	p = parse(g_blob.b, g_blob.n, BU_SPEED_SUPER_PLUS);
	ck_assert_int_eq(p->ret, 0);
	ck_assert_uint_eq(p->cfg.num_eps, 5);
	e = &p->cfg.eps[0];
	ck_assert(e->has_ss);
	ck_assert_uint_eq(e->ss_max_burst, 15);
	ck_assert_uint_eq(e->ss_attributes & 0x1f, 16);
	ck_assert_uint_eq(e->ss_bytes_per_interval, 0);
	e = &p->cfg.eps[1];
	ck_assert(e->has_ss);
	ck_assert_uint_eq(e->ss_max_burst, 3);
	ck_assert_uint_eq(e->ss_attributes, 0x82);
	ck_assert_uint_eq(e->ss_bytes_per_interval, 4 * 3 * 1024);
	ck_assert_uint_eq(e->ssp_bytes_per_interval, 131072);
	e = &p->cfg.eps[2];
	ck_assert(!e->has_ss);
	ck_assert_uint_eq(e->ss_bytes_per_interval, 1024); /* default */
	e = &p->cfg.eps[3];
	ck_assert_uint_eq(e->ss_max_burst, 2);
	ck_assert_uint_eq(e->ss_bytes_per_interval, 3 * 512);
	ck_assert_uint_eq(e->ssp_bytes_per_interval, 0);
	e = &p->cfg.eps[4];
	ck_assert(!e->has_ss);
	ck_assert_str_eq(p->why, "SuperSpeed endpoint companion not after an endpoint skipped");
	/* misplaced, burst, streams, mult, bpi, missing, burst, bpi, ssp, short, missing */
	ck_assert_uint_eq(p->cfg.warnings, 11);
	free(p);
}
END_TEST

/* IADs: short ones skipped, bad ranges tolerated, too many is an error. */
START_TEST(cfg_iads)
{
	struct parsed *p;

	g_blob.n = 0;
	d_config(&g_blob, 1, 1, 0x80, 50);
	BLOB(&g_blob, 7, 0x0b, 0, 2, 2, 2, 0);
	d_iad(&g_blob, 0, 0, 0xff, 0, 0);
	d_iface(&g_blob, 0, 0, 0, 0xff, 0, 0);
	blob_finish(&g_blob);
	p = parse(g_blob.b, g_blob.n, BU_SPEED_FULL);
	ck_assert_int_eq(p->ret, 0);
	ck_assert_uint_eq(p->cfg.num_iads, 1);
	ck_assert_uint_eq(p->cfg.iads[0].count, 0);
	ck_assert_str_eq(p->why, "interface association descriptor shorter than 8 bytes skipped");
	ck_assert_uint_eq(p->cfg.warnings, 2);
	free(p);

	g_blob.n = 0;
	d_config(&g_blob, 1, 1, 0x80, 50);
	for (unsigned i = 0; i <= BU_USB_MAX_IADS; i++)
		d_iad(&g_blob, (uint8_t)i, 1, 0xff, 0, 0);
	blob_finish(&g_blob);
	p = parse(g_blob.b, g_blob.n, BU_SPEED_FULL);
	ck_assert_int_eq(p->ret, BU_ERANGE);
	ck_assert_str_eq(p->why, "too many interface associations");
	ck_assert_uint_eq(p->cfg.num_iads, BU_USB_MAX_IADS);
	free(p);
}
END_TEST

/* BU_USB_MAX_ALTS caps the alt settings even with larger arrays. */
START_TEST(cfg_too_many_alts)
{
	struct parsed *p;
	uint16_t na;

	g_blob.n = 0;
	d_config(&g_blob, 1, 1, 0x80, 50);
	for (unsigned i = 0; i <= BU_USB_MAX_ALTS; i++)
		d_iface(&g_blob, (uint8_t)(i / 2), (uint8_t)(i % 2), 0, 0xff, 0, 0);
	blob_finish(&g_blob);
	ck_assert_int_eq(bu_desc_count_config(g_blob.b, g_blob.n, &na, NULL, NULL, NULL), 0);
	ck_assert_uint_eq(na, BU_USB_MAX_ALTS + 1);
	p = parse(g_blob.b, g_blob.n, BU_SPEED_FULL);
	ck_assert_int_eq(p->ret, BU_ERANGE);
	ck_assert_str_eq(p->why, "too many interface alternate settings");
	free(p);
}
END_TEST

/* BU_USB_MAX_EPS caps the endpoints per configuration. */
START_TEST(cfg_too_many_eps_total)
{
	struct parsed *p;

	g_blob.n = 0;
	d_config(&g_blob, 1, 1, 0x80, 50);
	for (unsigned i = 0; i < 9; i++) {
		d_iface(&g_blob, 0, (uint8_t)i, 30, 0xff, 0, 0);
		for (unsigned n = 1; n <= 15; n++) {
			d_ep(&g_blob, (uint8_t)(0x80 | n), 0x02, 64, 0);
			d_ep(&g_blob, (uint8_t)n, 0x02, 64, 0);
		}
	}
	blob_finish(&g_blob);
	p = parse(g_blob.b, g_blob.n, BU_SPEED_FULL);
	ck_assert_int_eq(p->ret, BU_ERANGE);
	ck_assert_str_eq(p->why, "too many endpoints in the configuration");
	ck_assert_uint_eq(p->cfg.num_eps, BU_USB_MAX_EPS);
	free(p);
}
END_TEST

/* A 65535-byte bundle of tiny unknown descriptors: bounded and intact. */
START_TEST(cfg_huge_bundle)
{
	struct parsed *p;

	g_blob.n = 0;
	d_config(&g_blob, 1, 1, 0x80, 50);
	d_iface(&g_blob, 0, 0, 0, 0xff, 0, 0);
	while (g_blob.n + 2 <= 65535)
		BLOB(&g_blob, 2, 0xff);
	blob_finish(&g_blob);
	p = parse(g_blob.b, g_blob.n, BU_SPEED_HIGH);
	ck_assert_int_eq(p->ret, 0);
	ck_assert_uint_eq(p->cfg.total_len, g_blob.n);
	ck_assert_uint_eq(p->cfg.alts[0].extra_len, g_blob.n - 18);
	free(p);
}
END_TEST

/*
 * Fuzzer regression (fuzz/fuzz_desc.c): an endpoint descriptor of bLength 2
 * at the very end of the bundle made the parser read its address byte.
 */
START_TEST(cfg_fuzz_short_endpoint_at_end)
{
	static const uint8_t crash[] = {
		0x09, 0x02, 0x00, 0x2e, 0xfd, 0x5b, 0x02, 0x01, 0x00,
		0x02, 0x0b, 0x02, 0x05,
	};
	uint8_t *b = exact(crash, sizeof(crash));
	struct parsed *p = parse(b, sizeof(crash), BU_SPEED_HIGH);

	ck_assert_int_eq(p->ret, 0);
	ck_assert_uint_eq(p->cfg.num_eps, 0);
	free(p);
	free(b);
}
END_TEST

/*
 * Every known descriptor type, with every bLength from 2 up to one short of
 * its size, as the last bytes of an exactly-sized bundle, after an
 * interface and an endpoint (so companions are considered too).
 */
START_TEST(cfg_short_known_at_end)
{
	static const uint8_t types[] = { USB_DT_INTERFACE, USB_DT_ENDPOINT,
					 USB_DT_IAD, USB_DT_SS_EP_COMP,
					 USB_DT_SSP_ISOC_EP_COMP, USB_DT_DEVICE,
					 USB_DT_CONFIG };
	uint8_t type = types[_i];

	for (uint8_t dl = 2; dl < 9; dl++) {
		for (int speed = 0; speed <= BU_SPEED_SUPER_PLUS; speed++) {
			struct parsed *p;
			uint8_t *b;

			g_blob.n = 0;
			d_config(&g_blob, 1, 1, 0x80, 50);
			d_iface(&g_blob, 0, 0, 1, 0xff, 0, 0);
			d_ep(&g_blob, 0x81, 0x01, 512, 1);
			if (type == USB_DT_SSP_ISOC_EP_COMP)
				d_ss(&g_blob, 0, 0x80, 512);
			BLOB(&g_blob, dl, type);
			g_blob.n += dl - 2; /* bytes that were never sent... */
			blob_finish(&g_blob);
			g_blob.n -= dl - 2; /* ...are not in the buffer either */
			b = exact(g_blob.b, g_blob.n);
			p = parse(b, g_blob.n, (enum bu_usb_speed)speed);
			ck_assert_int_eq(p->ret, 0);
			ck_assert_uint_eq(p->cfg.num_eps, 1);
			check_invariants(p, b, g_blob.n);
			free(p);
			free(b);
			/* The same descriptors complete but too short. */
			g_blob.n += dl - 2;
			b = exact(g_blob.b, g_blob.n);
			p = parse(b, g_blob.n, (enum bu_usb_speed)speed);
			ck_assert_int_eq(p->ret, 0);
			check_invariants(p, b, g_blob.n);
			free(p);
			free(b);
		}
	}
}
END_TEST

/* Deterministic mutations of the real bundles: no crash, invariants hold. */
START_TEST(cfg_mutations)
{
	uint32_t seed = 0x12345678u + (uint32_t)_i;

	for (unsigned iter = 0; iter < 400; iter++) {
		struct parsed *p;
		uint8_t *b;
		size_t len;

		bundles[iter % BU_ARRAY_SIZE(bundles)].build(&g_blob);
		for (unsigned k = 0; k < 1 + iter % 6; k++) {
			seed = seed * 1103515245u + 12345u;
			g_blob.b[(seed >> 8) % g_blob.n] = (uint8_t)(seed >> 20);
		}
		seed = seed * 1103515245u + 12345u;
		len = (seed >> 8) % (g_blob.n + 1);
		b = exact(g_blob.b, len);
		p = parse(b, len, (enum bu_usb_speed)((seed >> 4) % 6));
		if (p->ret == 0)
			check_invariants(p, b, len);
		else
			ck_assert(p->ret == BU_EBADDESC || p->ret == BU_ERANGE);
		ck_assert(p->ret == 0 || p->why);
		free(p);
		free(b);
	}
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Iterator                                                                 */

START_TEST(iter_walk)
{
	static const uint8_t buf[] = { 3, 0x24, 1, 2, 0x25, 4, 0x24, 9, 9, 0, 0x21, 5 };
	size_t off = 0;

	ck_assert_ptr_eq(bu_desc_next(buf, sizeof(buf), &off), buf);
	ck_assert_uint_eq(off, 3);
	ck_assert_ptr_eq(bu_desc_next(buf, sizeof(buf), &off), buf + 3);
	ck_assert_ptr_eq(bu_desc_next(buf, sizeof(buf), &off), buf + 5);
	ck_assert_uint_eq(off, 9);
	ck_assert_ptr_null(bu_desc_next(buf, sizeof(buf), &off)); /* bLength 0 */
	ck_assert_uint_eq(off, sizeof(buf));
	ck_assert_ptr_null(bu_desc_next(buf, sizeof(buf), &off)); /* stays at end */
	off = 0;
	ck_assert_ptr_eq(bu_desc_find(buf, sizeof(buf), &off, 0x24, 4), buf + 5);
	ck_assert_ptr_null(bu_desc_find(buf, sizeof(buf), &off, 0x24, 0));
	off = 0;
	ck_assert_ptr_null(bu_desc_next(buf, 2, &off)); /* bLength 3 > 2 */
	off = 0;
	ck_assert_ptr_null(bu_desc_next(buf, 1, &off));
	ck_assert_ptr_null(bu_desc_next(NULL, 10, &off));
	ck_assert_ptr_null(bu_desc_next(buf, 10, NULL));
	off = 100;
	ck_assert_ptr_null(bu_desc_next(buf, sizeof(buf), &off));
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Device descriptor                                                        */

static const uint8_t kbd_dev[18] = {
	0x12, 0x01, 0x00, 0x02, 0x00, 0x00, 0x00, 0x40, 0x27, 0x06,
	0x01, 0x00, 0x00, 0x00, 0x01, 0x04, 0x0b, 0x01,
};

START_TEST(dev_parse_ok)
{
	struct usb_device_descriptor d;
	const char *why = "x";
	uint8_t *b = exact(kbd_dev, sizeof(kbd_dev));

	ck_assert_int_eq(bu_desc_parse_device(b, 18, &d, &why), 0);
	ck_assert_uint_eq(d.bLength, 18);
	ck_assert_uint_eq(d.bcdUSB, 0x0200);
	ck_assert_uint_eq(d.bMaxPacketSize0, 64);
	ck_assert_uint_eq(d.idVendor, 0x0627);
	ck_assert_uint_eq(d.idProduct, 0x0001);
	ck_assert_uint_eq(d.bcdDevice, 0x0000);
	ck_assert_uint_eq(d.iManufacturer, 1);
	ck_assert_uint_eq(d.iProduct, 4);
	ck_assert_uint_eq(d.iSerialNumber, 11);
	ck_assert_uint_eq(d.bNumConfigurations, 1);
	free(b);
}
END_TEST

static const struct {
	const char *name;
	size_t len;
	uint8_t off, val;
	const char *why;
	bool filled;
} dev_bad[] = {
	{ "17 bytes", 17, 0, 0x12, "device descriptor truncated (< 18 bytes)", false },
	{ "0 bytes", 0, 0, 0x12, "device descriptor truncated (< 18 bytes)", false },
	{ "type", 18, 1, 0x02, "not a device descriptor", false },
	{ "bLength 17", 18, 0, 17, "device descriptor bLength < 18", false },
	{ "bLength 0", 18, 0, 0, "device descriptor bLength < 18", false },
	{ "no configs", 18, 17, 0, "bNumConfigurations is 0", true },
};

START_TEST(dev_parse_bad)
{
	struct usb_device_descriptor d;
	const char *why = NULL;
	uint8_t tmp[18];
	uint8_t *b;

	memcpy(tmp, kbd_dev, 18);
	tmp[dev_bad[_i].off] = dev_bad[_i].val;
	b = exact(tmp, dev_bad[_i].len);
	memset(&d, 0, sizeof(d));
	ck_assert_int_eq(bu_desc_parse_device(b, dev_bad[_i].len, &d, &why), BU_EBADDESC);
	ck_assert_str_eq(why, dev_bad[_i].why);
	ck_assert_uint_eq(d.idVendor == 0x0627, dev_bad[_i].filled);
	ck_assert_int_eq(bu_desc_parse_device(b, dev_bad[_i].len, NULL, NULL), BU_EINVAL);
	free(b);
}
END_TEST

START_TEST(dev_parse_long_blength)
{
	struct usb_device_descriptor d;
	uint8_t tmp[18];

	memcpy(tmp, kbd_dev, 18);
	tmp[0] = 0x40; /* longer than 18: the first 18 bytes are used */
	ck_assert_int_eq(bu_desc_parse_device(tmp, 18, &d, NULL), 0);
	ck_assert_uint_eq(d.idVendor, 0x0627);
}
END_TEST

static const struct {
	enum bu_usb_speed speed;
	uint8_t val;
	uint16_t bcd;
	int want;
} mps0_cases[] = {
	{ BU_SPEED_LOW, 8, 0x0110, 8 },
	{ BU_SPEED_LOW, 64, 0x0110, BU_EBADDESC },
	{ BU_SPEED_FULL, 8, 0x0110, 8 },
	{ BU_SPEED_FULL, 16, 0x0110, 16 },
	{ BU_SPEED_FULL, 32, 0x0200, 32 },
	{ BU_SPEED_FULL, 64, 0x0200, 64 },
	{ BU_SPEED_FULL, 0, 0x0200, BU_EBADDESC },
	{ BU_SPEED_FULL, 9, 0x0300, BU_EBADDESC },
	{ BU_SPEED_FULL, 255, 0x0200, BU_EBADDESC },
	{ BU_SPEED_HIGH, 64, 0x0200, 64 },
	{ BU_SPEED_HIGH, 64, 0x0310, 64 }, /* USB 3 device in USB 2 mode */
	{ BU_SPEED_HIGH, 8, 0x0200, BU_EBADDESC },
	{ BU_SPEED_SUPER, 9, 0x0300, 512 },
	{ BU_SPEED_SUPER_PLUS, 9, 0x0320, 512 },
	{ BU_SPEED_SUPER, 64, 0x0300, BU_EBADDESC },
	{ BU_SPEED_SUPER, 10, 0x0300, BU_EBADDESC },
	{ BU_SPEED_UNKNOWN, 9, 0x0300, 512 },
	{ BU_SPEED_UNKNOWN, 9, 0x0200, BU_EBADDESC },
	{ BU_SPEED_UNKNOWN, 32, 0x0200, 32 },
};

START_TEST(dev_mps0)
{
	const char *why = NULL;
	int r = bu_desc_mps0(mps0_cases[_i].val, mps0_cases[_i].bcd,
			     mps0_cases[_i].speed, &why);

	ck_assert_int_eq(r, mps0_cases[_i].want);
	if (r < 0)
		ck_assert_ptr_nonnull(why);
}
END_TEST

START_TEST(dev_first_read)
{
	uint8_t tmp[18];
	uint8_t *b = exact(kbd_dev, 8);
	const char *why = NULL;

	ck_assert_int_eq(bu_desc_device_mps0(b, 8, BU_SPEED_HIGH, &why), 64);
	ck_assert_int_eq(bu_desc_device_mps0(b, 8, BU_SPEED_FULL, &why), 64);
	ck_assert_int_eq(bu_desc_device_mps0(b, 7, BU_SPEED_FULL, &why), BU_EBADDESC);
	ck_assert_str_eq(why, "device descriptor truncated (< 8 bytes)");
	ck_assert_int_eq(bu_desc_device_mps0(b, 8, BU_SPEED_LOW, &why), BU_EBADDESC);
	ck_assert_str_eq(why, "low-speed bMaxPacketSize0 must be 8");
	free(b);
	memcpy(tmp, kbd_dev, 18);
	tmp[1] = 2;
	ck_assert_int_eq(bu_desc_device_mps0(tmp, 8, BU_SPEED_FULL, &why), BU_EBADDESC);
	tmp[1] = 1;
	tmp[0] = 8;
	ck_assert_int_eq(bu_desc_device_mps0(tmp, 8, BU_SPEED_FULL, &why), BU_EBADDESC);
	tmp[0] = 18;
	tmp[2] = 0x00;
	tmp[3] = 0x03;
	tmp[7] = 9;
	ck_assert_int_eq(bu_desc_device_mps0(tmp, 8, BU_SPEED_SUPER, &why), 512);
	ck_assert_int_eq(bu_desc_device_mps0(NULL, 8, BU_SPEED_SUPER, &why), BU_EINVAL);
}
END_TEST

START_TEST(total_length)
{
	static const uint8_t cfg9[] = { 9, 2, 0x22, 0, 1, 1, 0, 0x80, 50 };
	static const uint8_t bos5[] = { 5, 0x0f, 0x16, 0, 2 };
	const char *why;

	ck_assert_int_eq(bu_desc_total_length(cfg9, 9, USB_DT_CONFIG, &why), 0x22);
	ck_assert_int_eq(bu_desc_total_length(cfg9, 4, USB_DT_CONFIG, &why), 0x22);
	ck_assert_int_eq(bu_desc_total_length(cfg9, 3, USB_DT_CONFIG, &why), BU_EBADDESC);
	ck_assert_int_eq(bu_desc_total_length(cfg9, 9, USB_DT_BOS, &why), BU_EBADDESC);
	ck_assert_str_eq(why, "wrong descriptor type");
	ck_assert_int_eq(bu_desc_total_length(bos5, 5, USB_DT_BOS, &why), 0x16);
	{
		uint8_t t[9];

		memcpy(t, cfg9, 9);
		t[2] = 8;
		ck_assert_int_eq(bu_desc_total_length(t, 9, USB_DT_CONFIG, &why), BU_EBADDESC);
		t[2] = 9;
		t[0] = 4;
		ck_assert_int_eq(bu_desc_total_length(t, 9, USB_DT_CONFIG, &why), BU_EBADDESC);
	}
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Strings                                                                  */

static const struct {
	const char *name;
	uint8_t bytes[16];
	size_t len;
	size_t size;
	int ret;
	const char *out;
} str_cases[] = {
	{ "qemu", { 10, 3, 'Q', 0, 'E', 0, 'M', 0, 'U', 0 }, 10, 64, 4, "QEMU" },
	{ "empty", { 2, 3 }, 2, 64, 0, "" },
	{ "odd bLength", { 7, 3, 'a', 0, 'b', 0, 'c' }, 7, 64, 2, "ab" },
	{ "odd received", { 8, 3, 'a', 0, 'b', 0, 'c', 0 }, 7, 64, 2, "ab" },
	{ "bLength > received", { 10, 3, 'a', 0, 'b', 0 }, 6, 64, 2, "ab" },
	{ "received > bLength", { 4, 3, 'a', 0, 'b', 0, 'c', 0 }, 8, 64, 1, "a" },
	{ "bLength 3", { 3, 3, 'a' }, 3, 64, 0, "" },
	{ "bLength 0", { 0, 3, 'a', 0 }, 4, 64, BU_EBADDESC, "" },
	{ "bLength 1", { 1, 3, 'a', 0 }, 4, 64, BU_EBADDESC, "" },
	{ "wrong type", { 4, 2, 'a', 0 }, 4, 64, BU_EBADDESC, "" },
	{ "one byte", { 4 }, 1, 64, BU_EBADDESC, "" },
	{ "nothing", { 0 }, 0, 64, BU_EBADDESC, "" },
	{ "surrogates", { 6, 3, 0x3d, 0xd8, 0x00, 0xde }, 6, 64, 4, "\xf0\x9f\x98\x80" },
	{ "cut pair", { 4, 3, 0x3d, 0xd8, 0x00, 0xde }, 6, 64, 3, "\xef\xbf\xbd" },
	{ "truncated out", { 10, 3, 'Q', 0, 'E', 0, 'M', 0, 'U', 0 }, 10, 3, 2, "QE" },
	{ "no room", { 10, 3, 'Q', 0, 'E', 0, 'M', 0, 'U', 0 }, 10, 0, BU_EINVAL, NULL },
};

START_TEST(str_table)
{
	char out[64];
	uint8_t *b = exact(str_cases[_i].bytes, str_cases[_i].len);
	const char *why = NULL;
	int r;

	memset(out, 0x5a, sizeof(out));
	r = bu_desc_string_to_utf8(b, str_cases[_i].len, out, str_cases[_i].size, &why);
	ck_assert_msg(r == str_cases[_i].ret, "%s: %d", str_cases[_i].name, r);
	if (str_cases[_i].out)
		ck_assert_str_eq(out, str_cases[_i].out);
	if (r < 0)
		ck_assert_ptr_nonnull(why);
	free(b);
}
END_TEST

START_TEST(str_max_length)
{
	uint8_t b[255];
	char out[3 * BU_USB_MAX_STRING + 1];
	int r;

	b[0] = 255;
	b[1] = 3;
	for (int i = 2; i + 1 < 255; i += 2) {
		b[i] = 0xac;
		b[i + 1] = 0x20; /* U+20AC, 3 UTF-8 bytes */
	}
	r = bu_desc_string_to_utf8(b, sizeof(b), out, sizeof(out), NULL);
	ck_assert_int_eq(r, 126 * 3);
	ck_assert_uint_eq(strlen(out), 126 * 3);
}
END_TEST

START_TEST(str_langid)
{
	static const uint8_t l1[] = { 4, 3, 0x09, 0x04 };
	static const uint8_t l2[] = { 8, 3, 0x00, 0x00, 0x07, 0x04, 0x09, 0x04 };
	static const uint8_t l3[] = { 3, 3, 0x09 };
	static const uint8_t l4[] = { 2, 3 };
	static const uint8_t l5[] = { 4, 0x21, 0x09, 0x04 };
	uint16_t id = 0;
	const char *why;

	ck_assert_int_eq(bu_desc_first_langid(l1, sizeof(l1), &id, &why), 0);
	ck_assert_uint_eq(id, 0x0409);
	ck_assert_int_eq(bu_desc_first_langid(l2, sizeof(l2), &id, &why), 0);
	ck_assert_uint_eq(id, 0x0407);
	ck_assert_int_eq(bu_desc_first_langid(l2, 5, &id, &why), BU_ENOENT);
	ck_assert_int_eq(bu_desc_first_langid(l3, sizeof(l3), &id, &why), BU_ENOENT);
	ck_assert_int_eq(bu_desc_first_langid(l4, sizeof(l4), &id, &why), BU_ENOENT);
	ck_assert_int_eq(bu_desc_first_langid(l5, sizeof(l5), &id, &why), BU_EBADDESC);
	ck_assert_int_eq(bu_desc_first_langid(l1, 1, &id, &why), BU_EBADDESC);
	ck_assert_int_eq(bu_desc_first_langid(l1, 4, NULL, &why), BU_EINVAL);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* BOS                                                                      */

static const uint8_t ms_os20_uuid[16] = {
	0xdf, 0x60, 0xdd, 0xd8, 0x89, 0x45, 0xc7, 0x4c,
	0x9c, 0xd2, 0x65, 0x9d, 0x9e, 0x64, 0x8a, 0x9f,
};

/** BOS of a USB 3 device: USB 2.0 extension, SuperSpeed, container ID, MS OS 2.0. */
static void build_bos(struct blob *b)
{
	b->n = 0;
	BLOB(b, 5, 0x0f, 0, 0, 4);
	BLOB(b, 7, 0x10, 0x02, 0x02, 0x00, 0x00, 0x00);
	BLOB(b, 10, 0x10, 0x03, 0x00, 0x0e, 0x00, 0x01, 0x0a, 0xff, 0x07);
	BLOB(b, 20, 0x10, 0x04, 0x00, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13,
	     14, 15, 16);
	BLOB(b, 28, 0x10, 0x05, 0x00);
	blob_put(b, ms_os20_uuid, 16);
	BLOB(b, 0x00, 0x00, 0x03, 0x06, 0xb2, 0x00, 0x01, 0x00); /* MS OS 2.0 set */
	blob_finish(b);
}

START_TEST(bos_parse)
{
	struct bu_bos_info bos;
	const struct bu_bos_cap *c;
	uint8_t other[16] = { 0 };
	uint8_t *b;

	build_bos(&g_blob);
	b = exact(g_blob.b, g_blob.n);
	ck_assert_int_eq(bu_desc_parse_bos(b, g_blob.n, &bos, NULL), 0);
	ck_assert_uint_eq(bos.total_len, g_blob.n);
	ck_assert_uint_eq(bos.num_caps, 4);
	ck_assert_uint_eq(bos.warnings, 0);
	ck_assert(bos.has_usb2_ext);
	ck_assert_uint_eq(bos.usb2_ext_attributes, 2);
	ck_assert(bos.has_ss);
	ck_assert_uint_eq(bos.ss_speeds, 0x0e);
	ck_assert_uint_eq(bos.ss_u1_exit_lat, 0x0a);
	ck_assert_uint_eq(bos.ss_u2_exit_lat, 0x07ff);
	ck_assert(bos.has_container_id);
	ck_assert_uint_eq(bos.container_id[15], 16);
	c = bu_desc_bos_platform(&bos, ms_os20_uuid);
	ck_assert_ptr_nonnull(c);
	ck_assert_uint_eq(c->len, 28);
	ck_assert_uint_eq(c->data[20 + 4], 0xb2); /* wMSOSDescriptorSetTotalLength */
	ck_assert_ptr_null(bu_desc_bos_platform(&bos, other));
	/* Every prefix: never over-reads. */
	for (size_t len = 0; len <= g_blob.n; len++) {
		uint8_t *t = exact(g_blob.b, len);
		int r = bu_desc_parse_bos(t, len, &bos, NULL);

		ck_assert_int_eq(r, len < 5 ? BU_EBADDESC : 0);
		free(t);
	}
	free(b);
}
END_TEST

START_TEST(bos_malformed)
{
	struct bu_bos_info bos;
	const char *why = NULL;

	build_bos(&g_blob);
	g_blob.b[1] = 0x02;
	ck_assert_int_eq(bu_desc_parse_bos(g_blob.b, g_blob.n, &bos, &why), BU_EBADDESC);
	ck_assert_str_eq(why, "not a BOS descriptor");
	build_bos(&g_blob);
	g_blob.b[0] = 4;
	ck_assert_int_eq(bu_desc_parse_bos(g_blob.b, g_blob.n, &bos, &why), BU_EBADDESC);
	build_bos(&g_blob);
	blob_set_total(&g_blob, 4);
	ck_assert_int_eq(bu_desc_parse_bos(g_blob.b, g_blob.n, &bos, &why), BU_EBADDESC);
	ck_assert_str_eq(why, "BOS wTotalLength < bLength");
	/* SuperSpeed capability too short for its type: the walk stops there. */
	build_bos(&g_blob);
	g_blob.b[12] = 9;
	ck_assert_int_eq(bu_desc_parse_bos(g_blob.b, g_blob.n, &bos, &why), 0);
	ck_assert_uint_eq(bos.num_caps, 1);
	ck_assert(!bos.has_ss);
	ck_assert_uint_gt(bos.warnings, 0);
	/* A non-capability descriptor inside is skipped. */
	build_bos(&g_blob);
	g_blob.b[6] = 0x24;
	ck_assert_int_eq(bu_desc_parse_bos(g_blob.b, g_blob.n, &bos, &why), 0);
	ck_assert_uint_eq(bos.num_caps, 3);
	ck_assert(!bos.has_usb2_ext);
	/* wTotalLength shorter than the capabilities: the rest is ignored. */
	build_bos(&g_blob);
	blob_set_total(&g_blob, 12);
	ck_assert_int_eq(bu_desc_parse_bos(g_blob.b, g_blob.n, &bos, &why), 0);
	ck_assert_uint_eq(bos.num_caps, 1);
	ck_assert_uint_eq(bos.total_len, 12);
	/* SuperSpeedPlus with SSAC larger than its bLength allows: stops. */
	g_blob.n = 0;
	BLOB(&g_blob, 5, 0x0f, 0, 0, 1);
	BLOB(&g_blob, 16, 0x10, 0x0a, 0, 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
	blob_finish(&g_blob);
	ck_assert_int_eq(bu_desc_parse_bos(g_blob.b, g_blob.n, &bos, &why), 0);
	ck_assert_uint_eq(bos.num_caps, 0);
	g_blob.b[9] = 0; /* SSAC 0: 16 bytes is right */
	ck_assert_int_eq(bu_desc_parse_bos(g_blob.b, g_blob.n, &bos, &why), 0);
	ck_assert_uint_eq(bos.num_caps, 1);
	ck_assert(bos.has_ssp);
	ck_assert_int_eq(bu_desc_parse_bos(NULL, 5, &bos, &why), BU_EINVAL);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Requests by name (core/setup_name.c)                                     */

static const struct {
	uint8_t setup[8];
	const char *name;
} setup_cases[] = {
	{ { 0x80, 6, 0, 2, 0, 0, 9, 0 }, "GET_DESCRIPTOR(CONFIGURATION, 0, 9)" },
	{ { 0x80, 6, 0, 1, 0, 0, 18, 0 }, "GET_DESCRIPTOR(DEVICE, 0, 18)" },
	{ { 0x80, 6, 2, 3, 0x09, 0x04, 255, 0 }, "GET_DESCRIPTOR(STRING, 2, 0x0409, 255)" },
	{ { 0x80, 6, 0, 0x0f, 0, 0, 5, 0 }, "GET_DESCRIPTOR(BOS, 0, 5)" },
	{ { 0x81, 6, 0, 0x22, 0, 0, 0x3f, 0 }, "GET_DESCRIPTOR(REPORT, 0, 63)" },
	{ { 0x80, 6, 0, 0x77, 0, 0, 4, 0 }, "GET_DESCRIPTOR(0x77, 0, 4)" },
	{ { 0x00, 5, 7, 0, 0, 0, 0, 0 }, "SET_ADDRESS(7)" },
	{ { 0x00, 9, 1, 0, 0, 0, 0, 0 }, "SET_CONFIGURATION(1)" },
	{ { 0x01, 11, 1, 0, 2, 0, 0, 0 }, "SET_INTERFACE(2, 1)" },
	{ { 0x02, 1, 0, 0, 0x81, 0, 0, 0 }, "CLEAR_FEATURE(ENDPOINT_HALT, 129)" },
	{ { 0x00, 3, 1, 0, 0, 0, 0, 0 }, "SET_FEATURE(DEVICE_REMOTE_WAKEUP, 0)" },
	{ { 0x01, 3, 0, 0, 0, 1, 0, 0 }, "SET_FEATURE(FUNCTION_SUSPEND, 256)" },
	{ { 0x82, 0, 0, 0, 0x02, 0, 2, 0 }, "GET_STATUS(endpoint 2)" },
	{ { 0x23, 3, 4, 0, 3, 0, 0, 0 }, "SET_PORT_FEATURE(PORT_RESET, 3)" },
	{ { 0x23, 1, 16, 0, 1, 0, 0, 0 }, "CLEAR_PORT_FEATURE(C_PORT_CONNECTION, 1)" },
	{ { 0xa3, 0, 0, 0, 5, 0, 4, 0 }, "GET_PORT_STATUS(5)" },
	{ { 0xa0, 0, 0, 0, 0, 0, 4, 0 }, "GET_HUB_STATUS()" },
	{ { 0xa0, 6, 0, 0x29, 0, 0, 71, 0 }, "GET_DESCRIPTOR(HUB, 0, 71)" },
	{ { 0x20, 12, 1, 0, 0, 0, 0, 0 }, "SET_HUB_DEPTH(1)" },
	{ { 0x23, 8, 0x81, 0x10, 2, 0, 0, 0 }, "CLEAR_TT_BUFFER(0x1081, 2)" },
	{ { 0x21, 10, 0, 0, 0, 0, 0, 0 }, "SET_IDLE(0x0000, 0, 0)" },
	{ { 0x21, 0xff, 0, 0, 0, 0, 0, 0 }, "BULK_ONLY_RESET(0)" },
	{ { 0xa1, 0xfe, 0, 0, 0, 0, 1, 0 }, "GET_MAX_LUN(0)" },
	{ { 0xc0, 0x01, 0, 0, 4, 0, 16, 0 }, "VENDOR_REQUEST(0x01, 0x0000, 0x0004, 16)" },
	{ { 0x80, 0x42, 0, 0, 0, 0, 0, 0 }, "STANDARD_REQUEST(0x42, 0x0000, 0x0000, 0)" },
	{ { 0xe0, 0x00, 1, 0, 2, 0, 3, 0 }, "RESERVED_REQUEST(0x00, 0x0001, 0x0002, 3)" },
};

START_TEST(setup_names)
{
	char buf[80];
	int n = bu_usb_setup_describe(setup_cases[_i].setup, buf, sizeof(buf));

	ck_assert_str_eq(buf, setup_cases[_i].name);
	ck_assert_int_eq(n, (int)strlen(setup_cases[_i].name));
}
END_TEST

/* A small buffer truncates with a NUL, and says how long it would have been. */
START_TEST(setup_names_truncated)
{
	char buf[8];
	const uint8_t setup[8] = { 0x80, 6, 0, 2, 0, 0, 9, 0 };

	ck_assert_int_eq(bu_usb_setup_describe(setup, buf, sizeof(buf)), 35);
	ck_assert_str_eq(buf, "GET_DES");
}
END_TEST

Suite *unit_suite(void)
{
	Suite *s = suite_create("desc");
	TCase *tc;

	tc = unit_tcase(s, "config_valid");
	tcase_add_test(tc, cfg_keyboard);
	tcase_add_test(tc, cfg_ss_storage);
	tcase_add_test(tc, cfg_composite_iad);
	tcase_add_test(tc, cfg_audio_alts);
	tcase_add_test(tc, cfg_hub);
	tcase_add_loop_test(tc, cfg_count_matches_parse, 0, (int)BU_ARRAY_SIZE(bundles));

	tc = unit_tcase(s, "config_malformed");
	tcase_add_loop_test(tc, cfg_every_truncation, 0, (int)BU_ARRAY_SIZE(bundles));
	tcase_add_test(tc, cfg_total_len_short);
	tcase_add_test(tc, cfg_total_len_long);
	tcase_add_loop_test(tc, cfg_bad_header, 0, (int)BU_ARRAY_SIZE(bad_headers));
	tcase_add_test(tc, cfg_null_args);
	tcase_add_test(tc, cfg_blength_zero_and_past_end);
	tcase_add_test(tc, cfg_short_interface);
	tcase_add_test(tc, cfg_counts_lying);
	tcase_add_test(tc, cfg_too_many_eps);
	tcase_add_test(tc, cfg_duplicate_eps);
	tcase_add_test(tc, cfg_bad_endpoints);
	tcase_add_test(tc, cfg_duplicate_alt);
	tcase_add_loop_test(tc, cfg_maxp_sanitise, 0, (int)BU_ARRAY_SIZE(maxp_cases));
	tcase_add_test(tc, cfg_ss_companions);
	tcase_add_test(tc, cfg_ls_bulk);
	tcase_add_test(tc, cfg_companion_payloads);
	tcase_add_loop_test(tc, ep_params, 0, (int)BU_ARRAY_SIZE(params_cases));
	tcase_add_test(tc, cfg_iads);
	tcase_add_test(tc, cfg_too_many_alts);
	tcase_add_test(tc, cfg_too_many_eps_total);
	tcase_add_test(tc, cfg_huge_bundle);
	tcase_add_loop_test(tc, cfg_mutations, 0, 8);
	tcase_add_test(tc, cfg_fuzz_short_endpoint_at_end);
	tcase_add_loop_test(tc, cfg_short_known_at_end, 0, 7);

	tc = unit_tcase(s, "iterator");
	tcase_add_test(tc, iter_walk);

	tc = unit_tcase(s, "device");
	tcase_add_test(tc, dev_parse_ok);
	tcase_add_loop_test(tc, dev_parse_bad, 0, (int)BU_ARRAY_SIZE(dev_bad));
	tcase_add_test(tc, dev_parse_long_blength);
	tcase_add_loop_test(tc, dev_mps0, 0, (int)BU_ARRAY_SIZE(mps0_cases));
	tcase_add_test(tc, dev_first_read);
	tcase_add_test(tc, total_length);

	tc = unit_tcase(s, "string");
	tcase_add_loop_test(tc, str_table, 0, (int)BU_ARRAY_SIZE(str_cases));
	tcase_add_test(tc, str_max_length);
	tcase_add_test(tc, str_langid);

	tc = unit_tcase(s, "bos");
	tcase_add_test(tc, bos_parse);
	tcase_add_test(tc, bos_malformed);

	tc = unit_tcase(s, "requests");
	tcase_add_loop_test(tc, setup_names, 0, (int)BU_ARRAY_SIZE(setup_cases));
	tcase_add_test(tc, setup_names_truncated);
	return s;
}
