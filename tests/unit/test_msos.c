/*
 * Unit tests for core/msos.c: the MS OS 1.0 OS string, Extended Compat ID
 * and Extended Properties descriptors, the MS OS 2.0 platform capability
 * and descriptor set, GUID normalisation, and the request sequencer driven
 * by scripted devices. Inputs are copied into exactly-sized heap buffers so
 * ASan catches any read past what a device sent.
 */
#include <stdlib.h>
#include <string.h>

#include "bareusb/msos.h"
#include "bareusb/util.h"
#include "unit.h"

static uint8_t *exact(const uint8_t *src, size_t len)
{
	uint8_t *b = malloc(len ? len : 1);

	ck_assert_ptr_nonnull(b);
	memcpy(b, src, len);
	return b;
}

/* Append an ASCII string as UTF-16LE (with `nul` NULs after it). */
static void put_w(struct blob *bl, const char *s, unsigned nul)
{
	for (; *s; s++)
		BLOB(bl, (uint8_t)*s, 0);
	for (unsigned i = 0; i < nul; i++)
		BLOB(bl, 0, 0);
}

static void put_le16(struct blob *bl, uint16_t v)
{
	BLOB(bl, (uint8_t)v, (uint8_t)(v >> 8));
}

static void put_le32(struct blob *bl, uint32_t v)
{
	BLOB(bl, (uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24));
}

static void set_le32(struct blob *bl, size_t off, uint32_t v)
{
	bl->b[off] = (uint8_t)v;
	bl->b[off + 1] = (uint8_t)(v >> 8);
	bl->b[off + 2] = (uint8_t)(v >> 16);
	bl->b[off + 3] = (uint8_t)(v >> 24);
}

static void set_le16(struct blob *bl, size_t off, uint16_t v)
{
	bl->b[off] = (uint8_t)v;
	bl->b[off + 1] = (uint8_t)(v >> 8);
}

#define GUID_A "{8FE6D4D7-49DD-41E7-9486-49AFC6BFE475}"
#define GUID_B "{6A1D3C9E-5B2F-4E8A-9C71-0D3E5F7A9B21}"

/* ------------------------------------------------------------------------ */
/* MS OS 1.0 string                                                         */

static void os_string(struct blob *bl, uint8_t len, uint8_t type, const char *sig, uint8_t vc)
{
	bl->n = 0;
	BLOB(bl, len, type);
	put_w(bl, sig, 0);
	BLOB(bl, vc, 0);
}

START_TEST(test_os_string)
{
	struct blob *bl = calloc(1, sizeof(*bl));
	uint8_t vc = 0, *b;

	os_string(bl, 0x12, 3, "MSFT100", 0x51);
	b = exact(bl->b, bl->n);
	ck_assert_int_eq(bu_msos1_parse_os_string(b, bl->n, &vc), 0);
	ck_assert_uint_eq(vc, 0x51);
	/* bPad is ignored (one Windows 10 setup needed 0x01). */
	b[17] = 1;
	ck_assert_int_eq(bu_msos1_parse_os_string(b, bl->n, &vc), 0);
	ck_assert_int_eq(bu_msos1_parse_os_string(b, 17, &vc), BU_ENOENT);
	ck_assert_int_eq(bu_msos1_parse_os_string(b, 1, &vc), BU_EBADDESC);
	ck_assert_int_eq(bu_msos1_parse_os_string(NULL, 18, &vc), BU_EBADDESC);
	free(b);
	os_string(bl, 0x12, 3, "MSFT200", 0x51);
	ck_assert_int_eq(bu_msos1_parse_os_string(bl->b, bl->n, &vc), BU_ENOENT);
	os_string(bl, 0x12, 2, "MSFT100", 0x51);
	ck_assert_int_eq(bu_msos1_parse_os_string(bl->b, bl->n, &vc), BU_EBADDESC);
	os_string(bl, 0x10, 3, "MSFT100", 0x51);
	ck_assert_int_eq(bu_msos1_parse_os_string(bl->b, bl->n, &vc), BU_ENOENT);
	free(bl);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Extended Compat ID                                                       */

static void compat_header(struct blob *bl, uint32_t dwlen, uint8_t count)
{
	bl->n = 0;
	put_le32(bl, dwlen);
	put_le16(bl, 0x0100);
	put_le16(bl, 0x0004);
	BLOB(bl, count, 0, 0, 0, 0, 0, 0, 0);
}

static void compat_func(struct blob *bl, uint8_t first, const char *id, const char *sub)
{
	uint8_t cid[8] = { 0 }, scid[8] = { 0 };

	memcpy(cid, id, strlen(id));
	memcpy(scid, sub, strlen(sub));
	BLOB(bl, first, 1);
	blob_put(bl, cid, 8);
	blob_put(bl, scid, 8);
	BLOB(bl, 0, 0, 0, 0, 0, 0);
}

START_TEST(test_compat_id)
{
	struct blob *bl = calloc(1, sizeof(*bl));
	struct bu_msos_info info;
	uint8_t *b;

	/* One function: 40 bytes (a 16-byte header and a 24-byte function
	 * section, Microsoft's Extended Compat ID descriptor). */
	compat_header(bl, 40, 1);
	compat_func(bl, 0, "WINUSB", "");
	b = exact(bl->b, bl->n);
	ck_assert_int_eq(bu_msos1_feature_length(b, 16, 4), 40);
	memset(&info, 0, sizeof(info));
	ck_assert_int_eq(bu_msos1_parse_compat_id(b, bl->n, &info), 0);
	ck_assert_uint_eq(info.num_funcs, 1);
	ck_assert_str_eq(info.funcs[0].compat_id, "WINUSB");
	ck_assert_str_eq(info.funcs[0].subcompat_id, "");
	ck_assert_uint_eq(info.funcs[0].first_interface, 0);
	ck_assert(!info.funcs[0].whole_device);
	free(b);
	/* Two functions of a composite device. */
	compat_header(bl, 64, 2);
	compat_func(bl, 0, "MTP", "");
	compat_func(bl, 2, "WINUSB", "SUB1");
	b = exact(bl->b, bl->n);
	memset(&info, 0, sizeof(info));
	ck_assert_int_eq(bu_msos1_parse_compat_id(b, bl->n, &info), 0);
	ck_assert_uint_eq(info.num_funcs, 2);
	ck_assert_str_eq(info.funcs[1].compat_id, "WINUSB");
	ck_assert_str_eq(info.funcs[1].subcompat_id, "SUB1");
	ck_assert_uint_eq(bu_msos_find_function(&info, 2)->first_interface, 2);
	ck_assert_ptr_null(bu_msos_find_function(&info, 1));
	/* Short read: only the sections that arrived count. */
	memset(&info, 0, sizeof(info));
	ck_assert_int_eq(bu_msos1_parse_compat_id(b, 40, &info), 0);
	ck_assert_uint_eq(info.num_funcs, 1);
	ck_assert_uint_ge(info.warnings, 1);
	ck_assert_int_eq(bu_msos1_parse_compat_id(b, 30, &info), BU_EBADDESC);
	free(b);
	/* Header problems. */
	compat_header(bl, 40, 1);
	compat_func(bl, 0, "WINUSB", "");
	set_le16(bl, 4, 0x0200);
	ck_assert_int_eq(bu_msos1_feature_length(bl->b, bl->n, 4), BU_EBADDESC);
	compat_header(bl, 40, 1);
	ck_assert_int_eq(bu_msos1_feature_length(bl->b, bl->n, 5), BU_EBADDESC);
	compat_header(bl, 8, 1);
	ck_assert_int_eq(bu_msos1_feature_length(bl->b, bl->n, 4), BU_EBADDESC);
	compat_header(bl, 5000, 1);
	ck_assert_int_eq(bu_msos1_feature_length(bl->b, bl->n, 4), BU_EBADDESC);
	ck_assert_int_eq(bu_msos1_feature_length(bl->b, 15, 4), BU_EBADDESC);
	/* The 42-byte mistake (9-byte subCompatibleID): the section still parses. */
	compat_header(bl, 42, 1);
	compat_func(bl, 0, "WINUSB", "");
	BLOB(bl, 0, 0);
	memset(&info, 0, sizeof(info));
	ck_assert_int_eq(bu_msos1_parse_compat_id(bl->b, bl->n, &info), 0);
	ck_assert_str_eq(info.funcs[0].compat_id, "WINUSB");
	/* Unprintable bytes do not reach the string; a full 8 bytes have no NUL. */
	compat_header(bl, 40, 1);
	compat_func(bl, 0, "AB\x01\x7f", "12345678");
	memset(&info, 0, sizeof(info));
	ck_assert_int_eq(bu_msos1_parse_compat_id(bl->b, bl->n, &info), 0);
	ck_assert_str_eq(info.funcs[0].compat_id, "AB??");
	ck_assert_str_eq(info.funcs[0].subcompat_id, "12345678");
	free(bl);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Extended Properties                                                      */

/* One custom property section of an Extended Properties descriptor
 * ("Microsoft OS 1.0 Descriptors Specification"). */
static void prop(struct blob *bl, uint32_t type, const char *name, const uint8_t *data,
		 uint32_t dlen)
{
	uint32_t nlen = 2 * ((uint32_t)strlen(name) + 1);

	put_le32(bl, 14 + nlen + dlen);
	put_le32(bl, type);
	put_le16(bl, (uint16_t)nlen);
	put_w(bl, name, 1);
	put_le32(bl, dlen);
	blob_put(bl, data, dlen);
}

/* UTF-16LE of a string list (REG_MULTI_SZ when multi). */
static size_t wstr(uint8_t *out, const char *a, const char *b, bool multi)
{
	size_t n = 0;

	for (const char *s = a; *s; s++, n += 2)
		out[n] = (uint8_t)*s, out[n + 1] = 0;
	out[n++] = 0, out[n++] = 0;
	if (b) {
		for (const char *s = b; *s; s++, n += 2)
			out[n] = (uint8_t)*s, out[n + 1] = 0;
		out[n++] = 0, out[n++] = 0;
	}
	if (multi)
		out[n++] = 0, out[n++] = 0;
	return n;
}

static void props_finish(struct blob *bl, uint16_t count)
{
	set_le32(bl, 0, (uint32_t)bl->n);
	set_le16(bl, 8, count);
}

static void props_start(struct blob *bl)
{
	bl->n = 0;
	put_le32(bl, 0);
	put_le16(bl, 0x0100);
	put_le16(bl, 0x0005);
	put_le16(bl, 0);
}

START_TEST(test_ext_props)
{
	struct blob *bl = calloc(1, sizeof(*bl));
	struct bu_msos_function fn;
	uint8_t data[256], dw[4] = { 1, 0, 0, 0 }, be[4] = { 0, 0, 0x13, 0x88 };
	uint16_t warnings = 0;
	uint8_t *b;
	size_t n;

	/* DeviceInterfaceGUID (REG_SZ): section 132, total 142 (10-byte header). */
	props_start(bl);
	n = wstr(data, GUID_A, NULL, false);
	ck_assert_uint_eq(n, 78);
	prop(bl, 1, "DeviceInterfaceGUID", data, (uint32_t)n);
	props_finish(bl, 1);
	ck_assert_uint_eq(bl->n, 142);
	b = exact(bl->b, bl->n);
	memset(&fn, 0, sizeof(fn));
	ck_assert_int_eq(bu_msos1_parse_ext_props(b, bl->n, &fn, &warnings), 0);
	ck_assert_uint_eq(fn.num_guids, 1);
	ck_assert_str_eq(fn.guids[0], GUID_A);
	free(b);
	/* DeviceInterfaceGUIDs (REG_MULTI_SZ), two GUIDs, one in lower case;
	 * plus power values, one big-endian, names in odd case. */
	props_start(bl);
	n = wstr(data, "{6a1d3c9e-5b2f-4e8a-9c71-0d3e5f7a9b21}", GUID_A, true);
	prop(bl, 7, "DeviceInterfaceGUIDs", data, (uint32_t)n);
	prop(bl, 4, "deviceidleenabled", dw, 4);
	prop(bl, 4, "DefaultIdleState", dw, 4);
	prop(bl, 5, "DefaultIdleTimeout", be, 4);
	prop(bl, 4, "SystemWakeEnabled", dw, 3); /* wrong size: ignored */
	props_finish(bl, 5);
	b = exact(bl->b, bl->n);
	memset(&fn, 0, sizeof(fn));
	warnings = 0;
	ck_assert_int_eq(bu_msos1_parse_ext_props(b, bl->n, &fn, &warnings), 0);
	ck_assert_uint_eq(warnings, 0);
	ck_assert_uint_eq(fn.num_guids, 2);
	ck_assert_str_eq(fn.guids[0], GUID_B);
	ck_assert_str_eq(fn.guids[1], GUID_A);
	ck_assert_uint_eq(fn.power_set, BU_MSOS_DEVICE_IDLE_ENABLED | BU_MSOS_DEFAULT_IDLE_STATE |
						BU_MSOS_DEFAULT_IDLE_TIMEOUT);
	ck_assert_uint_eq(fn.device_idle_enabled, 1);
	ck_assert_uint_eq(fn.default_idle_timeout, 5000);
	ck_assert_uint_eq(fn.num_props, 5);
	/* A section claiming more than is there ends the walk, counted. */
	warnings = 0;
	memset(&fn, 0, sizeof(fn));
	ck_assert_int_eq(bu_msos1_parse_ext_props(b, 120, &fn, &warnings), 0);
	ck_assert_uint_eq(warnings, 1);
	free(b);
	/* Bad header. */
	props_start(bl);
	props_finish(bl, 0);
	set_le16(bl, 6, 4);
	ck_assert_int_eq(bu_msos1_parse_ext_props(bl->b, bl->n, &fn, NULL), BU_EBADDESC);
	/* A name length beyond the section. */
	props_start(bl);
	n = wstr(data, GUID_A, NULL, false);
	prop(bl, 1, "DeviceInterfaceGUID", data, (uint32_t)n);
	set_le16(bl, 10 + 8, 500);
	props_finish(bl, 1);
	warnings = 0;
	memset(&fn, 0, sizeof(fn));
	ck_assert_int_eq(bu_msos1_parse_ext_props(bl->b, bl->n, &fn, &warnings), 0);
	ck_assert_uint_eq(fn.num_guids, 0);
	ck_assert_uint_eq(warnings, 1);
	/* GUID strings that are not GUIDs, and a missing final NUL (tolerated). */
	props_start(bl);
	n = wstr(data, "{not-a-guid}", NULL, false);
	prop(bl, 1, "DeviceInterfaceGUID", data, (uint32_t)n);
	n = wstr(data, GUID_A, NULL, false) - 2;
	prop(bl, 1, "DeviceInterfaceGUID", data, (uint32_t)n);
	n = wstr(data, GUID_B, NULL, false);
	prop(bl, 4, "DeviceInterfaceGUID", data, (uint32_t)n); /* wrong type */
	props_finish(bl, 3);
	memset(&fn, 0, sizeof(fn));
	ck_assert_int_eq(bu_msos1_parse_ext_props(bl->b, bl->n, &fn, NULL), 0);
	ck_assert_uint_eq(fn.num_guids, 1);
	ck_assert_str_eq(fn.guids[0], GUID_A);
	free(bl);
}
END_TEST

struct guid_case {
	const char *in;
	const char *out; /* NULL: rejected */
};

static const struct guid_case guid_cases[] = {
	{ GUID_A, GUID_A },
	{ "{8fe6d4d7-49dd-41e7-9486-49afc6bfe475}", GUID_A },
	{ "8FE6D4D7-49DD-41E7-9486-49AFC6BFE475", GUID_A },
	{ "{8FE6D4D7-49DD-41E7-9486-49AFC6BFE47}", NULL },
	{ "{8FE6D4D7-49DD-41E7-9486-49AFC6BFE4750}", NULL },
	{ "{8FE6D4D7_49DD-41E7-9486-49AFC6BFE475}", NULL },
	{ "{8FE6D4D7-49DD-41E7-9486-49AFC6BFE47G}", NULL },
	{ "{8FE6D4D7-49DD-41E7-9486-49AFC6BFE475", NULL },
	{ "", NULL },
};

START_TEST(test_guid_normalize)
{
	const struct guid_case *c = &guid_cases[_i];
	char out[BU_MSOS_GUID_LEN + 1];
	bool ok = bu_msos_guid_normalize(c->in, strlen(c->in), out);

	ck_assert_msg(ok == (c->out != NULL), "%s", c->in);
	if (ok)
		ck_assert_str_eq(out, c->out);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* MS OS 2.0                                                                */

/* A BOS with an MS OS 2.0 platform capability of `n` set-information entries. */
static void bos_msos2(struct blob *bl, unsigned n, const uint32_t *vers, const uint16_t *lens,
		      const uint8_t *codes)
{
	bl->n = 0;
	BLOB(bl, 5, 0x0f, 0, 0, 1);
	BLOB(bl, (uint8_t)(20 + 8 * n), 0x10, 0x05, 0);
	blob_put(bl, bu_msos20_platform_uuid, 16);
	for (unsigned i = 0; i < n; i++) {
		put_le32(bl, vers[i]);
		put_le16(bl, lens[i]);
		BLOB(bl, codes[i], 0);
	}
	set_le16(bl, 2, (uint16_t)bl->n);
}

START_TEST(test_platform)
{
	struct blob *bl = calloc(1, sizeof(*bl));
	struct bu_bos_info bos;
	struct bu_msos_info info;
	static const uint32_t v2[] = { 0x06030000, 0x0A000000 };
	static const uint16_t l2[] = { 162, 178 };
	static const uint8_t c2[] = { 0x20, 0x21 };
	static const uint16_t bad_len[] = { 9 };

	bos_msos2(bl, 1, v2, l2, c2);
	ck_assert_uint_eq(bl->n, 5 + 28);
	ck_assert_int_eq(bu_desc_parse_bos(bl->b, bl->n, &bos, NULL), 0);
	memset(&info, 0, sizeof(info));
	ck_assert_int_eq(bu_msos2_parse_platform(&bos, &info), 0);
	ck_assert_uint_eq(info.vendor_code, 0x20);
	ck_assert_uint_eq(info.set_len, 162);
	ck_assert_uint_eq(info.windows_version, 0x06030000);
	/* Several entries: the newest Windows version is ours. */
	bos_msos2(bl, 2, v2, l2, c2);
	ck_assert_int_eq(bu_desc_parse_bos(bl->b, bl->n, &bos, NULL), 0);
	memset(&info, 0, sizeof(info));
	ck_assert_int_eq(bu_msos2_parse_platform(&bos, &info), 0);
	ck_assert_uint_eq(info.vendor_code, 0x21);
	ck_assert_uint_eq(info.set_len, 178);
	/* No entry, an unusable one, no capability. */
	bos_msos2(bl, 0, v2, l2, c2);
	ck_assert_int_eq(bu_desc_parse_bos(bl->b, bl->n, &bos, NULL), 0);
	ck_assert_int_eq(bu_msos2_parse_platform(&bos, &info), BU_EBADDESC);
	bos_msos2(bl, 1, v2, bad_len, c2);
	ck_assert_int_eq(bu_desc_parse_bos(bl->b, bl->n, &bos, NULL), 0);
	ck_assert_int_eq(bu_msos2_parse_platform(&bos, &info), BU_EBADDESC);
	bos_msos2(bl, 1, v2, l2, c2);
	bl->b[5 + 4] ^= 0xff; /* another UUID */
	ck_assert_int_eq(bu_desc_parse_bos(bl->b, bl->n, &bos, NULL), 0);
	ck_assert_int_eq(bu_msos2_parse_platform(&bos, &info), BU_ENOENT);
	free(bl);
}
END_TEST

static void set_header(struct blob *bl)
{
	bl->n = 0;
	put_le16(bl, 10);
	put_le16(bl, 0);
	put_le32(bl, 0x06030000);
	put_le16(bl, 0);
}

static void feat_compat(struct blob *bl, const char *id)
{
	uint8_t cid[16] = { 0 };

	memcpy(cid, id, strlen(id));
	put_le16(bl, 20);
	put_le16(bl, 3);
	blob_put(bl, cid, 16);
}

static void feat_guids(struct blob *bl, const char *guid)
{
	uint8_t data[128];
	size_t n = wstr(data, guid, NULL, true);

	put_le16(bl, (uint16_t)(10 + 42 + n));
	put_le16(bl, 4);
	put_le16(bl, 7);
	put_le16(bl, 42);
	put_w(bl, "DeviceInterfaceGUIDs", 1);
	put_le16(bl, (uint16_t)n);
	blob_put(bl, data, n);
}

static void set_finish(struct blob *bl)
{
	set_le16(bl, 8, (uint16_t)bl->n);
}

START_TEST(test_set_noncomposite)
{
	struct blob *bl = calloc(1, sizeof(*bl));
	struct bu_msos_info info;
	uint8_t *b;

	/* Header 10 + compat ID 20 + GUIDs property 132 = 162 ("Microsoft OS 2.0
	 * Descriptors Specification"). */
	set_header(bl);
	feat_compat(bl, "WINUSB");
	feat_guids(bl, GUID_A);
	set_finish(bl);
	ck_assert_uint_eq(bl->n, 162);
	b = exact(bl->b, bl->n);
	memset(&info, 0, sizeof(info));
	ck_assert_int_eq(bu_msos2_parse_set(b, bl->n, 0, &info), 0);
	ck_assert_uint_eq(info.num_funcs, 1);
	ck_assert(info.funcs[0].whole_device);
	ck_assert_str_eq(info.funcs[0].compat_id, "WINUSB");
	ck_assert_str_eq(info.funcs[0].guids[0], GUID_A);
	ck_assert_ptr_eq(bu_msos_find_function(&info, 3), &info.funcs[0]);
	ck_assert_uint_eq(info.warnings, 0);
	/* Truncated: what fits is used, the cut element is a warning. */
	memset(&info, 0, sizeof(info));
	ck_assert_int_eq(bu_msos2_parse_set(b, 100, 0, &info), 0);
	ck_assert_str_eq(info.funcs[0].compat_id, "WINUSB");
	ck_assert_uint_eq(info.funcs[0].num_guids, 0);
	ck_assert_uint_ge(info.warnings, 1);
	/* Header problems. */
	ck_assert_int_eq(bu_msos2_parse_set(b, 9, 0, &info), BU_EBADDESC);
	b[0] = 11;
	ck_assert_int_eq(bu_msos2_parse_set(b, bl->n, 0, &info), BU_EBADDESC);
	b[0] = 10;
	b[2] = 1;
	ck_assert_int_eq(bu_msos2_parse_set(b, bl->n, 0, &info), BU_EBADDESC);
	free(b);
	free(bl);
}
END_TEST

START_TEST(test_set_composite)
{
	struct blob *bl = calloc(1, sizeof(*bl));
	struct bu_msos_info info;
	size_t cfg_at, fn_at;

	/* 10 + configuration subset 8 + function subset 8 + 20 + 132 = 178. */
	set_header(bl);
	cfg_at = bl->n;
	put_le16(bl, 8);
	put_le16(bl, 1);
	BLOB(bl, 0, 0);
	put_le16(bl, 0);
	fn_at = bl->n;
	put_le16(bl, 8);
	put_le16(bl, 2);
	BLOB(bl, 1, 0);
	put_le16(bl, 0);
	feat_compat(bl, "WINUSB");
	feat_guids(bl, GUID_B);
	set_le16(bl, fn_at + 6, (uint16_t)(bl->n - fn_at));
	set_le16(bl, cfg_at + 6, (uint16_t)(bl->n - cfg_at));
	/* A vendor revision and CCGP at device level, outside the config subset? No:
	 * after it; they are device features. */
	set_finish(bl);
	ck_assert_uint_eq(bl->n, 178);
	ck_assert_uint_eq(bl->b[cfg_at + 6], 168);
	ck_assert_uint_eq(bl->b[fn_at + 6], 160);
	memset(&info, 0, sizeof(info));
	ck_assert_int_eq(bu_msos2_parse_set(bl->b, bl->n, 0, &info), 0);
	ck_assert_uint_eq(info.num_funcs, 1);
	ck_assert(!info.funcs[0].whole_device);
	ck_assert_uint_eq(info.funcs[0].first_interface, 1);
	ck_assert_str_eq(info.funcs[0].compat_id, "WINUSB");
	ck_assert_str_eq(info.funcs[0].guids[0], GUID_B);
	ck_assert_ptr_null(bu_msos_find_function(&info, 0));
	/* The configuration subset is for configuration index 0, not 1. */
	memset(&info, 0, sizeof(info));
	ck_assert_int_eq(bu_msos2_parse_set(bl->b, bl->n, 1, &info), 0);
	ck_assert_uint_eq(info.num_funcs, 0);
	/* A function subset longer than its configuration subset. */
	set_le16(bl, fn_at + 6, 200);
	memset(&info, 0, sizeof(info));
	ck_assert_int_eq(bu_msos2_parse_set(bl->b, bl->n, 0, &info), 0);
	ck_assert_uint_eq(info.num_funcs, 0);
	ck_assert_uint_ge(info.warnings, 1);
	free(bl);
}
END_TEST

START_TEST(test_set_features)
{
	struct blob *bl = calloc(1, sizeof(*bl));
	struct bu_msos_info info;

	set_header(bl);
	put_le16(bl, 6); /* vendor revision */
	put_le16(bl, 8);
	put_le16(bl, 3);
	put_le16(bl, 4); /* CCGP */
	put_le16(bl, 7);
	put_le16(bl, 6); /* min resume time */
	put_le16(bl, 5);
	BLOB(bl, 5, 10);
	feat_compat(bl, "WINUSB");
	put_le16(bl, 4); /* unknown type: a warning, the walk goes on */
	put_le16(bl, 0x55);
	put_le16(bl, 2); /* a length below 4 ends it */
	put_le16(bl, 3);
	set_finish(bl);
	memset(&info, 0, sizeof(info));
	ck_assert_int_eq(bu_msos2_parse_set(bl->b, bl->n, 0, &info), 0);
	ck_assert_uint_eq(info.vendor_revision, 3);
	ck_assert(info.ccgp);
	ck_assert_str_eq(info.funcs[0].compat_id, "WINUSB");
	ck_assert_uint_eq(info.warnings, 2);
	free(bl);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* The sequencer against scripted devices                                   */

struct fake_dev {
	bool msos1, msos2, stall_props_high;
	struct blob os, compat, props, bos, set;
	unsigned requests;
	uint8_t log[32][8];
};

/* Answer a SETUP packet: returns bytes (>= 0) or BU_ESTALL. */
static int fake_answer(struct fake_dev *d, const uint8_t s[8], uint8_t *out, uint16_t max)
{
	const struct blob *src = NULL;
	uint16_t value = (uint16_t)(s[2] | s[3] << 8), index = (uint16_t)(s[4] | s[5] << 8);

	if (d->requests < 32)
		memcpy(d->log[d->requests], s, 8);
	d->requests++;
	if (s[0] == 0x80 && s[1] == 6 && value == 0x03ee && d->msos1)
		src = &d->os;
	else if (s[0] == 0x80 && s[1] == 6 && value == 0x0f00 && d->msos2)
		src = &d->bos;
	else if ((s[0] & 0x60) == 0x40 && d->msos2 && s[1] == 0x20 && index == 7)
		src = &d->set;
	else if (s[0] == 0xc0 && d->msos1 && s[1] == 0x51 && index == 4)
		src = &d->compat;
	else if ((s[0] == 0xc1 || s[0] == 0xc0) && d->msos1 && s[1] == 0x51 && index == 5) {
		if (d->stall_props_high && (value >> 8))
			return BU_ESTALL;
		src = &d->props;
	}
	if (!src)
		return BU_ESTALL;
	memcpy(out, src->b, BU_MIN(src->n, max));
	return (int)BU_MIN(src->n, max);
}

static void run_fetch(struct fake_dev *d, uint16_t bcd, struct bu_msos_info *info)
{
	struct bu_msos_fetch f;
	uint8_t setup[8], buf[BU_MSOS_MAX_DESC];
	int want;

	bu_msos_fetch_init(&f, info, bcd, 0);
	while ((want = bu_msos_fetch_next(&f, setup)) >= 0) {
		int n;

		ck_assert_int_le(want, BU_MSOS_MAX_DESC);
		ck_assert_uint_eq(setup[6] | setup[7] << 8, (unsigned)want);
		ck_assert_uint_lt(d->requests, 20);
		n = fake_answer(d, setup, buf, (uint16_t)want);
		bu_msos_fetch_feed(&f, n < 0 ? n : 0, buf, n < 0 ? 0 : (size_t)n);
	}
}

static struct fake_dev *fake_msos1(void)
{
	struct fake_dev *d = calloc(1, sizeof(*d));
	uint8_t data[128];
	size_t n;

	d->msos1 = true;
	os_string(&d->os, 0x12, 3, "MSFT100", 0x51);
	compat_header(&d->compat, 64, 2);
	compat_func(&d->compat, 0, "WINUSB", "");
	compat_func(&d->compat, 2, "MTP", "");
	props_start(&d->props);
	n = wstr(data, GUID_A, NULL, false);
	prop(&d->props, 1, "DeviceInterfaceGUID", data, (uint32_t)n);
	props_finish(&d->props, 1);
	return d;
}

START_TEST(test_fetch_msos1)
{
	struct fake_dev *d = fake_msos1();
	struct bu_msos_info info;

	d->stall_props_high = _i == 1;
	run_fetch(d, 0x0200, &info);
	ck_assert_uint_eq(info.version, 1);
	ck_assert_uint_eq(info.vendor_code, 0x51);
	ck_assert_uint_eq(info.num_funcs, 2);
	ck_assert_str_eq(info.funcs[0].compat_id, "WINUSB");
	ck_assert_str_eq(info.funcs[0].guids[0], GUID_A);
	ck_assert_str_eq(info.funcs[1].compat_id, "MTP");
	ck_assert_str_eq(info.funcs[1].guids[0], GUID_A);
	/* The requests Windows sends: string 0xEE, compat header then all, props. */
	ck_assert_mem_eq(d->log[0], ((uint8_t[]){ 0x80, 6, 0xee, 3, 0, 0, 0x12, 0 }), 8);
	ck_assert_mem_eq(d->log[1], ((uint8_t[]){ 0xc0, 0x51, 0, 0, 4, 0, 16, 0 }), 8);
	ck_assert_mem_eq(d->log[2], ((uint8_t[]){ 0xc0, 0x51, 0, 0, 4, 0, 64, 0 }), 8);
	ck_assert_mem_eq(d->log[3], ((uint8_t[]){ 0xc1, 0x51, 0, 0, 5, 0, 10, 0 }), 8);
	if (_i == 1) {
		/* Interface 2: the spec's high byte is refused, the low byte works. */
		ck_assert_mem_eq(d->log[5], ((uint8_t[]){ 0xc1, 0x51, 0, 2, 5, 0, 10, 0 }), 8);
		ck_assert_mem_eq(d->log[6], ((uint8_t[]){ 0xc1, 0x51, 2, 0, 5, 0, 10, 0 }), 8);
	}
	free(d);
}
END_TEST

START_TEST(test_fetch_msos2)
{
	struct fake_dev *d = fake_msos1();
	struct bu_msos_info info;
	static const uint32_t v[] = { 0x06030000 };
	static const uint16_t l[] = { 162 };
	static const uint8_t c[] = { 0x20 };

	d->msos2 = true;
	bos_msos2(&d->bos, 1, v, l, c);
	set_header(&d->set);
	feat_compat(&d->set, "WINUSB");
	feat_guids(&d->set, GUID_B);
	set_finish(&d->set);
	/* MS OS 2.0 wins for bcdUSB >= 2.01 and 1.0 is not asked. */
	run_fetch(d, 0x0210, &info);
	ck_assert_uint_eq(info.version, 2);
	ck_assert_uint_eq(info.num_funcs, 1);
	ck_assert_str_eq(info.funcs[0].guids[0], GUID_B);
	ck_assert_uint_eq(d->requests, 3);
	ck_assert_mem_eq(d->log[2], ((uint8_t[]){ 0xc0, 0x20, 0, 0, 7, 0, 162, 0 }), 8);
	/* bcdUSB 2.00: no BOS request; 1.0 is used. */
	d->requests = 0;
	run_fetch(d, 0x0200, &info);
	ck_assert_uint_eq(info.version, 1);
	ck_assert_uint_eq(d->log[0][2], 0xee);
	/* A broken set falls back to 1.0. */
	d->requests = 0;
	d->set.b[0] = 3;
	run_fetch(d, 0x0210, &info);
	ck_assert_uint_eq(info.version, 1);
	ck_assert_str_eq(info.funcs[0].guids[0], GUID_A);
	free(d);
}
END_TEST

START_TEST(test_fetch_none)
{
	struct fake_dev *d = calloc(1, sizeof(*d));
	struct bu_msos_info info;

	/* A device that STALLs string 0xEE (and has no BOS). */
	run_fetch(d, 0x0210, &info);
	ck_assert_uint_eq(info.version, 0);
	ck_assert_uint_eq(info.num_funcs, 0);
	ck_assert_uint_eq(d->requests, 2);
	/* A device that answers 0xEE with an ordinary string. */
	d->msos1 = true;
	os_string(&d->os, 0x12, 3, "NOTMSFT", 0x51);
	d->requests = 0;
	run_fetch(d, 0x0200, &info);
	ck_assert_uint_eq(info.version, 0);
	ck_assert_uint_eq(d->requests, 1);
	free(d);
}
END_TEST

Suite *unit_suite(void)
{
	Suite *s = suite_create("msos");
	TCase *t = unit_tcase(s, "msos1");

	tcase_add_test(t, test_os_string);
	tcase_add_test(t, test_compat_id);
	tcase_add_test(t, test_ext_props);
	tcase_add_loop_test(t, test_guid_normalize, 0, sizeof(guid_cases) / sizeof(guid_cases[0]));
	t = unit_tcase(s, "msos2");
	tcase_add_test(t, test_platform);
	tcase_add_test(t, test_set_noncomposite);
	tcase_add_test(t, test_set_composite);
	tcase_add_test(t, test_set_features);
	t = unit_tcase(s, "fetch");
	tcase_add_loop_test(t, test_fetch_msos1, 0, 2);
	tcase_add_test(t, test_fetch_msos2);
	tcase_add_test(t, test_fetch_none);
	return s;
}
