/*
 * libFuzzer harness for the descriptor parsers: configuration bundles (then
 * the usbdev JSON of a device carrying them), string descriptors, BOS,
 * device descriptors and the generic iterator. Byte 0 picks the target and
 * the speed, byte 1 the array capacities; the rest is the descriptor, in an
 * exactly-sized buffer so ASan sees any over-read. Run: scripts/fuzz.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bareusb/desc.h"
#include "bareusb/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void invariant_failed(int line, const char *what)
{
	fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, line, what);
	abort();
}
#define invariant(ok) ((ok) ? (void)0 : invariant_failed(__LINE__, #ok))

/** Parse a configuration with capacities from `caps` and check the result. */
static void fuzz_config(const uint8_t *buf, size_t len, enum bu_usb_speed speed,
			uint8_t caps)
{
	static struct bu_usb_device dev; /* big; zeroed per run below */
	struct bu_usb_alt_info alts[BU_USB_MAX_ALTS];
	struct bu_usb_ep_info eps[BU_USB_MAX_EPS];
	struct bu_usb_iad_info iads[BU_USB_MAX_IADS];
	size_t max_alts = caps & 0x80 ? (caps & 0x0f) : BU_USB_MAX_ALTS;
	size_t max_eps = caps & 0x40 ? ((caps >> 4) & 0x03) * 7 : BU_USB_MAX_EPS;
	struct bu_usb_config_info *cfg;
	uint16_t na = 0, ne = 0, ni = 0;
	const char *why = NULL;
	char json[1 << 16];
	int r, rc;

	memset(&dev, 0, sizeof(dev));
	cfg = &dev.configs[0];
	rc = bu_desc_count_config(buf, len, &na, &ne, &ni, NULL);
	r = bu_desc_parse_config(buf, len, speed, cfg, alts, max_alts, eps,
				 max_eps, iads, BU_USB_MAX_IADS, &why);
	invariant(r == 0 || r == BU_EBADDESC || r == BU_ERANGE);
	invariant(r == 0 || why != NULL);
	invariant((rc == 0) == (r != BU_EBADDESC));
	if (r != 0)
		return;
	invariant(cfg->num_alts <= na && cfg->num_eps <= ne && cfg->num_iads <= ni);
	invariant(cfg->total_len <= len);
	for (unsigned a = 0; a < cfg->num_alts; a++) {
		const struct bu_usb_alt_info *alt = &cfg->alts[a];

		invariant(alt->num_eps <= 30);
		invariant(alt->first_ep + alt->num_eps <= cfg->num_eps);
		if (alt->extra) {
			size_t off = 0;

			invariant(alt->extra >= buf &&
				  alt->extra + alt->extra_len <= buf + cfg->total_len);
			while (bu_desc_next(alt->extra, alt->extra_len, &off))
				;
		}
	}
	for (unsigned e = 0; e < cfg->num_eps; e++) {
		const struct bu_usb_ep_info *ep = &cfg->eps[e];

		struct bu_desc_ep_params prm;

		invariant(USB_ENDPOINT_NUMBER(ep->address) != 0);
		invariant(USB_ENDPOINT_MAXP(ep->max_packet) <= 1024);
		/* what goes into an xHCI endpoint context (§6.2.3) */
		if (bu_desc_ep_params(ep, speed, &prm, NULL) == 0) {
			bool periodic = prm.type == BU_EP_ISOCH ||
					prm.type == BU_EP_INTERRUPT;

			invariant(prm.mps != 0 && prm.mps <= 1024);
			invariant((prm.max_esit != 0) == periodic);
			invariant(prm.max_esit <= BU_DESC_MAX_ESIT);
			invariant(prm.type != BU_EP_CONTROL ||
				  (ep->address & USB_DIR_IN));
		}
		if (ep->extra)
			invariant(ep->extra >= buf &&
				  ep->extra + ep->extra_len <= buf + cfg->total_len);
	}
	dev.num_configs = 1;
	dev.speed = speed;
	dev.tier = (uint8_t)len;
	dev.have_desc = true;
	invariant(bu_usb_device_json(&dev, json, sizeof(json)) < sizeof(json));
	invariant(strlen(json) < sizeof(json));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	enum bu_usb_speed speed;
	uint8_t *buf;
	size_t len;
	char out[3 * 128 + 1];

	if (size < 2)
		return 0;
	speed = (enum bu_usb_speed)((data[0] >> 4) % 6);
	len = size - 2;
	buf = malloc(len ? len : 1);
	if (!buf)
		return 0;
	memcpy(buf, data + 2, len);

	switch (data[0] & 0x0f) {
	case 0:
	case 1:
	case 2:
	case 3:
		fuzz_config(buf, len, speed, data[1]);
		break;
	case 4: {
		int r = bu_desc_string_to_utf8(buf, len, out,
					       1 + data[1] % sizeof(out), NULL);
		uint16_t id;

		invariant(r < 0 || (size_t)r == strlen(out));
		bu_desc_first_langid(buf, len, &id, NULL);
		break;
	}
	case 5: {
		struct bu_bos_info bos;
		uint8_t uuid[16] = { 0 };

		if (bu_desc_parse_bos(buf, len, &bos, NULL) == 0) {
			invariant(bos.total_len <= len);
			for (unsigned i = 0; i < bos.num_caps; i++)
				invariant(bos.caps[i].data + bos.caps[i].len <=
					  buf + bos.total_len);
			bu_desc_bos_platform(&bos, uuid);
		}
		break;
	}
	case 6: {
		struct usb_device_descriptor d;

		bu_desc_parse_device(buf, len, &d, NULL);
		bu_desc_device_mps0(buf, len, speed, NULL);
		break;
	}
	default: {
		size_t off = 0;
		const uint8_t *d;

		while ((d = bu_desc_find(buf, len, &off, data[1], 0)) != NULL)
			invariant(d >= buf && d + d[0] <= buf + len);
		if (len >= 4)
			bu_desc_total_length(buf, len, data[1] & 1 ? USB_DT_BOS
								    : USB_DT_CONFIG, NULL);
		break;
	}
	}
	free(buf);
	return 0;
}
