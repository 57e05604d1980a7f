/*
 * libFuzzer harness for the Microsoft OS descriptors (core/msos.c): the
 * pure parsers (OS string, MS OS 1.0 feature headers, Extended Compat ID,
 * Extended Properties, MS OS 2.0 platform capability and descriptor set,
 * one registry property, GUID strings) and the request sequencer
 * (bu_msos_fetch_init/next/feed) answered from the input, as a device
 * would answer bu_msos_fetch().
 *
 * Byte 0 picks the target. Parser targets take the rest as one descriptor
 * in an exactly-sized buffer so ASan sees any over-read. The sequencer
 * target reads bcdUSB and the configuration index, then one answer per
 * request: a status byte, a length byte pair, that many data bytes.
 * Checked: results stay in their documented ranges, strings are
 * terminated, GUIDs are normalised, the sequencer asks for at most
 * BU_MSOS_MAX_DESC bytes and ends within a bounded number of requests.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bareusb/errors.h"
#include "bareusb/msos.h"
#include "bareusb/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void invariant_failed(int line, const char *what)
{
	fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, line, what);
	abort();
}
#define invariant(ok) ((ok) ? (void)0 : invariant_failed(__LINE__, #ok))

/** An exactly-sized heap copy of data[len] (ASan catches any over-read). */
static uint8_t *dup_exact(const uint8_t *data, size_t len)
{
	uint8_t *b = malloc(len ? len : 1);

	if (b && len)
		memcpy(b, data, len);
	return b;
}

static void check_guid(const char *g)
{
	invariant(strlen(g) == BU_MSOS_GUID_LEN);
	invariant(g[0] == '{' && g[37] == '}');
	for (unsigned i = 1; i < 37; i++) {
		char c = g[i];

		if (i == 9 || i == 14 || i == 19 || i == 24)
			invariant(c == '-');
		else
			invariant((c >= '0' && c <= '9') || (c >= 'A' && c <= 'F'));
	}
}

static void check_function(const struct bu_msos_function *fn)
{
	invariant(memchr(fn->compat_id, 0, sizeof(fn->compat_id)) != NULL);
	invariant(memchr(fn->subcompat_id, 0, sizeof(fn->subcompat_id)) != NULL);
	invariant(fn->num_guids <= BU_MSOS_MAX_GUIDS);
	for (unsigned g = 0; g < fn->num_guids; g++) {
		check_guid(fn->guids[g]);
		for (unsigned h = 0; h < g; h++)
			invariant(strcmp(fn->guids[g], fn->guids[h]) != 0);
	}
	invariant((fn->power_set & ~0x3fu) == 0);
}

/** Check a result and hand it to the device helpers. */
static void check_info(const struct bu_msos_info *info, uint8_t ifaces)
{
	static struct bu_usb_device dev; /* big; zeroed per run */

	invariant(info->version <= 2);
	invariant(info->num_funcs <= BU_MSOS_MAX_FUNCS);
	for (unsigned i = 0; i < info->num_funcs; i++)
		check_function(&info->funcs[i]);
	memset(&dev, 0, sizeof(dev));
	dev.num_ifaces = ifaces % (BU_USB_MAX_IFACES + 1);
	for (unsigned i = 0; i < dev.num_ifaces; i++) {
		dev.ifaces[i].number = (uint8_t)(i * (ifaces >> 5 ? 3 : 1));
		dev.ifaces[i].func_first = (uint8_t)(i & ~1u);
	}
	bu_msos_apply(info, &dev);
	for (unsigned i = 0; i < dev.num_ifaces; i++) {
		const struct bu_msos_function *fn = bu_msos_find_function(info, dev.ifaces[i].number);

		invariant(memchr(dev.ifaces[i].compat_id, 0, 9) != NULL);
		invariant(!fn || (fn >= info->funcs && fn < info->funcs + info->num_funcs));
	}
}

/** Statuses a device (or the transfer path) can give a control request. */
static const int fetch_status[] = { 0, BU_ESTALL, BU_ETIMEDOUT, BU_EPROTO, BU_EBABBLE,
				    BU_ENODEV, BU_ECANCELED, BU_EOVERFLOW };

/* Run the sequencer with the input as the device's answers. */
static void fuzz_fetch(const uint8_t *data, size_t size)
{
	struct bu_msos_fetch f;
	struct bu_msos_info info;
	uint8_t setup[8];
	size_t pos = 4;
	unsigned requests = 0;
	int want;

	if (size < 4)
		return;
	bu_msos_fetch_init(&f, &info, bu_get_le16(data), data[2]);
	while ((want = bu_msos_fetch_next(&f, setup)) >= 0) {
		size_t len = 0;
		int status = 0;
		uint8_t *ans;

		/* 8 BOS/set/string/compat requests, then 3 forms x 2 reads
		 * per function: anything longer means a hostile device
		 * keeps the sequencer going. */
		invariant(++requests <= 8 + BU_MSOS_MAX_FUNCS * 6);
		invariant(want <= BU_MSOS_MAX_DESC);
		invariant(bu_get_le16(setup + 6) == want);
		invariant(setup[0] & 0x80);
		if (pos < size) {
			uint8_t s = data[pos++];

			status = fetch_status[s % (sizeof(fetch_status) / sizeof(fetch_status[0]))];
			if (status == 0 && pos < size) {
				/* Top bit set: all that was asked for;
				 * else a little-endian length follows. */
				if (s & 0x80) {
					len = (size_t)want;
				} else if (pos + 1 < size) {
					len = bu_get_le16(data + pos);
					pos += 2;
				}
			}
		} else {
			status = BU_ESTALL;
		}
		if (len > (size_t)want)
			len = (size_t)want;
		if (len > size - pos)
			len = size - pos;
		ans = dup_exact(data + pos, len);
		if (!ans)
			return;
		pos += len;
		bu_msos_fetch_feed(&f, status, ans, len);
		free(ans);
	}
	invariant(want == BU_ENOENT);
	invariant(bu_msos_fetch_next(&f, setup) == BU_ENOENT);
	check_info(&info, data[3]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct bu_msos_info info;
	uint8_t *buf;
	size_t len;
	uint8_t arg;

	if (size < 2)
		return 0;
	if ((data[0] & 0x0f) >= 8) {
		fuzz_fetch(data + 1, size - 1);
		return 0;
	}
	arg = data[1];
	len = size - 2;
	buf = dup_exact(data + 2, len);
	if (!buf)
		return 0;
	memset(&info, 0, sizeof(info));
	switch (data[0] & 0x0f) {
	case 0: {
		uint8_t code = 0;
		int r = bu_msos1_parse_os_string(buf, len, &code);

		invariant(r == 0 || r == BU_ENOENT || r == BU_EBADDESC);
		break;
	}
	case 1: {
		int r = bu_msos1_feature_length(buf, len, arg & 1 ? BU_MSOS1_EXT_PROPS_INDEX
								  : BU_MSOS1_COMPAT_ID_INDEX);

		invariant(r == BU_EBADDESC || (r >= BU_MSOS1_PROPS_HEADER_LEN && r <= BU_MSOS_MAX_DESC));
		break;
	}
	case 2: {
		/* Twice: the second pass updates the functions of the first. */
		int r = bu_msos1_parse_compat_id(buf, len, &info);

		invariant(r == 0 || r == BU_EBADDESC);
		if (r == 0)
			bu_msos1_parse_compat_id(buf, len, &info);
		check_info(&info, arg);
		break;
	}
	case 3: {
		uint16_t warnings = 0;
		int r = bu_msos1_parse_ext_props(buf, len, &info.funcs[0], &warnings);

		invariant(r == 0 || r == BU_EBADDESC);
		info.num_funcs = 1;
		check_info(&info, arg);
		break;
	}
	case 4: {
		struct bu_bos_info bos;

		if (bu_desc_parse_bos(buf, len, &bos, NULL) == 0) {
			int r = bu_msos2_parse_platform(&bos, &info);

			invariant(r == 0 || r == BU_ENOENT || r == BU_EBADDESC);
			invariant(r != 0 || info.set_len >= 10);
		}
		break;
	}
	case 5: {
		int r = bu_msos2_parse_set(buf, len, arg & 3, &info);

		invariant(r == 0 || r == BU_EBADDESC);
		check_info(&info, arg);
		break;
	}
	case 6: {
		/* arg: registry type (low 3 bits); then name length byte. */
		size_t name_len = len ? buf[0] : 0;

		if (name_len > len - (len ? 1 : 0))
			name_len = len ? len - 1 : 0;
		if (len) {
			uint8_t *name = dup_exact(buf + 1, name_len);
			uint8_t *val = dup_exact(buf + 1 + name_len, len - 1 - name_len);

			if (name && val) {
				bu_msos_apply_property(&info.funcs[0], arg & 7, name, name_len, val,
						       len - 1 - name_len);
				check_function(&info.funcs[0]);
			}
			free(name);
			free(val);
		}
		break;
	}
	default: {
		char out[BU_MSOS_GUID_LEN + 1];

		if (bu_msos_guid_normalize((const char *)buf, len, out))
			check_guid(out);
		break;
	}
	}
	free(buf);
	return 0;
}
