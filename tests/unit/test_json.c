/*
 * Unit tests for core/json.c: the exact `usbdev` JSON object of DESIGN.md,
 * failed devices, string escaping, truncation, and the summary line.
 */
#include <stdlib.h>
#include <string.h>

#include "bareusb/desc.h"
#include "bareusb/util.h"
#include "unit.h"

/** A device plus the storage its parsed configurations point into. */
struct fixture {
	struct bu_usb_bus bus;
	struct bu_usb_device dev;
	struct blob raw[2];
	struct bu_usb_alt_info alts[2][16];
	struct bu_usb_ep_info eps[2][32];
	struct bu_usb_iad_info iads[2][4];
};

static struct fixture *fx_new(void)
{
	struct fixture *f = calloc(1, sizeof(*f));

	ck_assert_ptr_nonnull(f);
	f->dev.bus = &f->bus;
	f->dev.active_config = -1;
	return f;
}

/** Parse raw[i] into dev.configs[i]. */
static void fx_parse(struct fixture *f, unsigned i)
{
	int r = bu_desc_parse_config(f->raw[i].b, f->raw[i].n, f->dev.speed,
				     &f->dev.configs[i], f->alts[i], 16,
				     f->eps[i], 32, f->iads[i], 4, NULL);

	ck_assert_int_eq(r, 0);
	f->dev.num_configs = (uint8_t)(i + 1);
}

/** The QEMU keyboard of DESIGN.md's example line, configured. */
static struct fixture *fx_keyboard(void)
{
	struct fixture *f = fx_new();
	struct bu_usb_device *d = &f->dev;
	struct blob *b = &f->raw[0];

	d->tier = 2;
	d->root_port = 3;
	d->path[0] = 3;
	d->path[1] = 2;
	d->slot = 5;
	d->speed = BU_SPEED_FULL;
	d->state = BU_DEV_CONFIGURED;
	d->have_desc = true;
	d->desc.bLength = 18;
	d->desc.bDescriptorType = 1;
	d->desc.bcdUSB = 0x0110;
	d->desc.bMaxPacketSize0 = 8;
	d->desc.idVendor = 0x0627;
	d->desc.idProduct = 0x0001;
	d->desc.bcdDevice = 0x0000;
	d->desc.bNumConfigurations = 1;
	d->ep0.mps = 8;
	strcpy(d->manufacturer, "QEMU");
	strcpy(d->product, "QEMU USB Keyboard");
	strcpy(d->serial, "42");
	d->have_manufacturer = d->have_product = d->have_serial = true;

	d_config(b, 1, 1, 0xa0, 50);
	d_iface(b, 0, 0, 1, 3, 1, 1);
	BLOB(b, 9, 0x21, 0x11, 0x01, 0x00, 0x01, 0x22, 0x3f, 0x00);
	d_ep(b, 0x81, 0x03, 8, 10);
	blob_finish(b);
	fx_parse(f, 0);
	d->config_value = 1;
	d->active_config = 0;
	return f;
}

static const char kbd_json[] =
	"{\"bus\":0,\"path\":\"3.2\",\"tier\":2,\"slot\":5,\"speed\":\"full\","
	"\"vid\":\"0627\",\"pid\":\"0001\",\"bcdUSB\":\"0110\",\"bcdDevice\":\"0000\","
	"\"class\":0,\"subclass\":0,\"protocol\":0,\"mps0\":8,"
	"\"manufacturer\":\"QEMU\",\"product\":\"QEMU USB Keyboard\",\"serial\":\"42\","
	"\"configuration\":1,"
	"\"configs\":[{\"value\":1,\"attributes\":160,\"maxpower_ma\":100,"
	"\"interfaces\":[{\"number\":0,\"alt\":0,\"class\":3,\"subclass\":1,"
	"\"protocol\":1,\"driver\":null,"
	"\"endpoints\":[{\"address\":\"0x81\",\"type\":\"interrupt\",\"mps\":8,"
	"\"interval\":10}]}]}]}";

START_TEST(json_design_example)
{
	struct fixture *f = fx_keyboard();
	char buf[2048];
	size_t n = bu_usb_device_json(&f->dev, buf, sizeof(buf));

	ck_assert_str_eq(buf, kbd_json);
	ck_assert_uint_eq(n, strlen(kbd_json));
	free(f);
}
END_TEST

START_TEST(json_truncation)
{
	struct fixture *f = fx_keyboard();
	size_t full = strlen(kbd_json);

	for (size_t size = 0; size <= full + 1; size++) {
		char *buf = malloc(size ? size : 1);
		size_t n = bu_usb_device_json(&f->dev, size ? buf : NULL, size);

		ck_assert_uint_eq(n, full);
		if (size) {
			size_t keep = full < size - 1 ? full : size - 1;

			ck_assert_uint_eq(strlen(buf), keep);
			ck_assert_int_eq(memcmp(buf, kbd_json, keep), 0);
		}
		free(buf);
	}
	free(f);
}
END_TEST

/* Enumeration stopped before the device descriptor was read. */
START_TEST(json_failed_early)
{
	struct fixture *f = fx_new();
	struct bu_usb_device *d = &f->dev;
	char buf[1024];

	f->bus.index = 1;
	d->tier = 1;
	d->root_port = 4;
	d->path[0] = 4;
	d->slot = 2;
	d->speed = BU_SPEED_HIGH;
	d->state = BU_DEV_FAILED;
	d->ep0.mps = 64;
	d->error = BU_ETIMEDOUT;
	d->error_step = "get_descriptor(device)";
	bu_usb_device_json(d, buf, sizeof(buf));
	ck_assert_str_eq(buf,
		"{\"bus\":1,\"path\":\"4\",\"tier\":1,\"slot\":2,\"speed\":\"high\","
		"\"mps0\":64,\"manufacturer\":null,\"product\":null,\"serial\":null,"
		"\"configuration\":0,\"configs\":[],"
		"\"error\":\"get_descriptor(device): timed out\"}");
	bu_usb_device_summary(d, buf, sizeof(buf));
	ck_assert_str_eq(buf, "4 high [failed: get_descriptor(device): timed out]");
	d->error_step = NULL;
	bu_usb_device_json(d, buf, sizeof(buf));
	ck_assert_ptr_nonnull(strstr(buf, ",\"error\":\"timed out\"}"));
	free(f);
}
END_TEST

/* A malformed configuration: device fields and strings read, no configs. */
START_TEST(json_failed_config)
{
	struct fixture *f = fx_keyboard();
	struct bu_usb_device *d = &f->dev;
	char buf[2048];

	d->num_configs = 0;
	d->config_value = 0;
	d->active_config = -1;
	d->state = BU_DEV_FAILED;
	d->error = BU_EBADDESC;
	d->error_step = "get_descriptor(config)";
	bu_usb_device_json(d, buf, sizeof(buf));
	ck_assert_str_eq(buf,
		"{\"bus\":0,\"path\":\"3.2\",\"tier\":2,\"slot\":5,\"speed\":\"full\","
		"\"vid\":\"0627\",\"pid\":\"0001\",\"bcdUSB\":\"0110\",\"bcdDevice\":\"0000\","
		"\"class\":0,\"subclass\":0,\"protocol\":0,\"mps0\":8,"
		"\"manufacturer\":\"QEMU\",\"product\":\"QEMU USB Keyboard\",\"serial\":\"42\","
		"\"configuration\":0,\"configs\":[],"
		"\"error\":\"get_descriptor(config): malformed descriptor\"}");
	free(f);
}
END_TEST

/* Hostile strings are escaped; missing ones are null. */
START_TEST(json_escaping)
{
	struct fixture *f = fx_keyboard();
	struct bu_usb_device *d = &f->dev;
	char buf[2048];

	strcpy(d->manufacturer, "A \"quoted\" \\ name\n\x01");
	strcpy(d->product, "\xe2\x82\xac uro");
	d->have_serial = false;
	bu_usb_device_json(d, buf, sizeof(buf));
	ck_assert_ptr_nonnull(strstr(buf,
		"\"manufacturer\":\"A \\\"quoted\\\" \\\\ name\\u000a\\u0001\","
		"\"product\":\"\xe2\x82\xac uro\",\"serial\":null,"));
	strcpy(d->product, "evil\nok 1 - injected");
	bu_usb_device_summary(d, buf, sizeof(buf));
	ck_assert_str_eq(buf, "3.2 full 0627:0001 evil?ok 1 - injected [configured]");
	free(f);
}
END_TEST

/* SuperSpeed: 8 mA units, mps0 512, bulk and isochronous endpoints, alts. */
START_TEST(json_superspeed_multi)
{
	struct fixture *f = fx_new();
	struct bu_usb_device *d = &f->dev;
	struct blob *b;
	char buf[4096];

	d->tier = 3;
	d->path[0] = 1;
	d->path[1] = 4;
	d->path[2] = 15;
	d->slot = 12;
	d->speed = BU_SPEED_SUPER;
	d->state = BU_DEV_CONFIGURED;
	d->have_desc = true;
	d->desc.bcdUSB = 0x0320;
	d->desc.bDeviceClass = 0xef;
	d->desc.bDeviceSubClass = 0x02;
	d->desc.bDeviceProtocol = 0x01;
	d->desc.idVendor = 0xabcd;
	d->desc.idProduct = 0xef01;
	d->desc.bcdDevice = 0x1234;
	d->ep0.mps = 512;
	b = &f->raw[0];
	d_config(b, 2, 1, 0x80, 112);
	d_iface(b, 0, 0, 2, 0x08, 0x06, 0x50);
	d_ep(b, 0x81, 0x02, 1024, 0);
	d_ss(b, 15, 0, 0);
	d_ep(b, 0x02, 0x02, 1024, 0);
	d_ss(b, 15, 0, 0);
	d_iface(b, 1, 0, 0, 0x01, 0x02, 0x00);
	d_iface(b, 1, 1, 1, 0x01, 0x02, 0x00);
	d_ep(b, 0x83, 0x05, 384, 4);
	d_ss(b, 0, 0, 384);
	blob_finish(b);
	fx_parse(f, 0);
	b = &f->raw[1];
	d_config(b, 1, 2, 0xc0, 0);
	d_iface(b, 0, 0, 0, 0xff, 0xff, 0xff);
	blob_finish(b);
	fx_parse(f, 1);
	d->config_value = 2;
	bu_usb_device_json(d, buf, sizeof(buf));
	ck_assert_str_eq(buf,
		"{\"bus\":0,\"path\":\"1.4.15\",\"tier\":3,\"slot\":12,\"speed\":\"super\","
		"\"vid\":\"abcd\",\"pid\":\"ef01\",\"bcdUSB\":\"0320\",\"bcdDevice\":\"1234\","
		"\"class\":239,\"subclass\":2,\"protocol\":1,\"mps0\":512,"
		"\"manufacturer\":null,\"product\":null,\"serial\":null,"
		"\"configuration\":2,\"configs\":["
		"{\"value\":1,\"attributes\":128,\"maxpower_ma\":896,\"interfaces\":["
		"{\"number\":0,\"alt\":0,\"class\":8,\"subclass\":6,\"protocol\":80,"
		"\"driver\":null,\"endpoints\":["
		"{\"address\":\"0x81\",\"type\":\"bulk\",\"mps\":1024,\"interval\":0},"
		"{\"address\":\"0x02\",\"type\":\"bulk\",\"mps\":1024,\"interval\":0}]},"
		"{\"number\":1,\"alt\":0,\"class\":1,\"subclass\":2,\"protocol\":0,"
		"\"driver\":null,\"endpoints\":[]},"
		"{\"number\":1,\"alt\":1,\"class\":1,\"subclass\":2,\"protocol\":0,"
		"\"driver\":null,\"endpoints\":["
		"{\"address\":\"0x83\",\"type\":\"isochronous\",\"mps\":384,\"interval\":4}]}]},"
		"{\"value\":2,\"attributes\":192,\"maxpower_ma\":0,\"interfaces\":["
		"{\"number\":0,\"alt\":0,\"class\":255,\"subclass\":255,\"protocol\":255,"
		"\"driver\":null,\"endpoints\":[]}]}]}");
	bu_usb_device_summary(d, buf, sizeof(buf));
	ck_assert_str_eq(buf, "1.4.15 super abcd:ef01 [configured]");
	free(f);
}
END_TEST

/* HS high-bandwidth: JSON mps is bits 10:0 only. Control endpoint type. */
START_TEST(json_mps_bits)
{
	struct fixture *f = fx_new();
	struct bu_usb_device *d = &f->dev;
	struct blob *b = &f->raw[0];
	char buf[2048];

	d->tier = 1;
	d->path[0] = 2;
	d->speed = BU_SPEED_HIGH;
	d_config(b, 1, 1, 0x80, 250);
	d_iface(b, 0, 0, 2, 0xff, 0, 0);
	d_ep(b, 0x81, 0x01, 0x1400, 1);
	d_ep(b, 0x03, 0x00, 64, 0);
	blob_finish(b);
	fx_parse(f, 0);
	bu_usb_device_json(d, buf, sizeof(buf));
	ck_assert_ptr_nonnull(strstr(buf,
		"{\"address\":\"0x81\",\"type\":\"isochronous\",\"mps\":1024,\"interval\":1},"
		"{\"address\":\"0x03\",\"type\":\"control\",\"mps\":64,\"interval\":0}"));
	ck_assert_ptr_nonnull(strstr(buf, "\"maxpower_ma\":500,"));
	ck_assert_ptr_nonnull(strstr(buf, "\"speed\":\"high\","));
	ck_assert_ptr_null(strstr(buf, "\"vid\""));
	free(f);
}
END_TEST

/* Counts that disagree with the arrays never index out of them. */
START_TEST(json_defensive_counts)
{
	struct fixture *f = fx_keyboard();
	struct bu_usb_device *d = &f->dev;
	char buf[4096];

	d->tier = 200;          /* more than the path holds */
	d->num_configs = 200;   /* more than configs[] holds */
	f->dev.configs[0].alts[0].num_eps = 5; /* more than cfg->num_eps */
	bu_usb_device_json(d, buf, sizeof(buf));
	ck_assert_ptr_nonnull(strstr(buf, "\"path\":\"3.2.0.0.0.0.0.0\",\"tier\":200,"));
	ck_assert_ptr_nonnull(strstr(buf, "\"interval\":10}]}]},{\"value\":0,"));
	ck_assert_uint_eq(bu_usb_device_json(NULL, buf, sizeof(buf)), 4);
	ck_assert_str_eq(buf, "null");
	ck_assert_uint_eq(bu_usb_device_summary(NULL, buf, sizeof(buf)), 0);
	free(f);
}
END_TEST

static const struct {
	enum bu_usb_speed speed;
	const char *name;
} speed_names[] = {
	{ BU_SPEED_LOW, "low" },
	{ BU_SPEED_FULL, "full" },
	{ BU_SPEED_HIGH, "high" },
	{ BU_SPEED_SUPER, "super" },
	{ BU_SPEED_SUPER_PLUS, "super+" },
	{ BU_SPEED_UNKNOWN, "unknown" },
	{ (enum bu_usb_speed)77, "unknown" },
};

START_TEST(speed_name)
{
	ck_assert_str_eq(bu_usb_speed_name(speed_names[_i].speed), speed_names[_i].name);
}
END_TEST

START_TEST(ep_type_name)
{
	ck_assert_str_eq(bu_usb_ep_type_name(0x00), "control");
	ck_assert_str_eq(bu_usb_ep_type_name(0x0d), "isochronous");
	ck_assert_str_eq(bu_usb_ep_type_name(0x02), "bulk");
	ck_assert_str_eq(bu_usb_ep_type_name(0x23), "interrupt");
}
END_TEST

START_TEST(summary_states)
{
	struct fixture *f = fx_keyboard();
	char buf[256];
	size_t n;

	n = bu_usb_device_summary(&f->dev, buf, sizeof(buf));
	ck_assert_str_eq(buf, "3.2 full 0627:0001 QEMU USB Keyboard [configured]");
	ck_assert_uint_eq(n, strlen(buf));
	f->dev.state = BU_DEV_ENUMERATING;
	bu_usb_device_summary(&f->dev, buf, sizeof(buf));
	ck_assert_str_eq(buf, "3.2 full 0627:0001 QEMU USB Keyboard [enumerating]");
	n = bu_usb_device_summary(&f->dev, buf, 8);
	ck_assert_str_eq(buf, "3.2 ful");
	ck_assert_uint_eq(n, strlen("3.2 full 0627:0001 QEMU USB Keyboard [enumerating]"));
	free(f);
}
END_TEST

Suite *unit_suite(void)
{
	Suite *s = suite_create("json");
	TCase *tc;

	tc = unit_tcase(s, "usbdev");
	tcase_add_test(tc, json_design_example);
	tcase_add_test(tc, json_truncation);
	tcase_add_test(tc, json_failed_early);
	tcase_add_test(tc, json_failed_config);
	tcase_add_test(tc, json_escaping);
	tcase_add_test(tc, json_superspeed_multi);
	tcase_add_test(tc, json_mps_bits);
	tcase_add_test(tc, json_defensive_counts);
	tc = unit_tcase(s, "names");
	tcase_add_loop_test(tc, speed_name, 0, (int)BU_ARRAY_SIZE(speed_names));
	tcase_add_test(tc, ep_type_name);
	tcase_add_test(tc, summary_states);
	return s;
}
