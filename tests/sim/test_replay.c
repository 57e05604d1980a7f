/*
 * Device replay (sim/devices/replay.c): devices built from Linux sysfs
 * `descriptors` files (tests/sim/replay/, made by make_files.py) run
 * through the real stack give the usbdev lines a real run gave; files that
 * are cut short or malformed get a clear error; a configuration that says
 * more than it holds is enumerated as the core handles any device that
 * lies.
 */
#include <unistd.h>

#include "harness.h"
#include "bareusb/desc.h"

#define REPLAY_DIR SIM_TEST_DATA "/replay/"

static uint8_t *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	static uint8_t buf[4096];

	ck_assert_msg(f != NULL, "cannot open %s", path);
	*len = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	return buf;
}

/* tests/sim/replay/NAME.bin, with the strings of STRINGS.strings if there is one. */
static struct sim_replay *replay_load(const char *name, const char *strings)
{
	char path[512], err[256] = "";
	size_t len;
	uint8_t *b;
	struct sim_replay *r;

	snprintf(path, sizeof(path), REPLAY_DIR "%s.bin", name);
	b = slurp(path, &len);
	r = sim_replay_from_bytes(b, len, err, sizeof(err));
	ck_assert_msg(r != NULL, "%s: %s", path, err);
	snprintf(path, sizeof(path), REPLAY_DIR "%s.strings", strings);
	if (access(path, R_OK) == 0) {
		b = slurp(path, &len);
		ck_assert_msg(sim_replay_strings(r, (const char *)b, len, err, sizeof(err)) == 0,
			      "%s: %s", path, err);
	}
	return r;
}

static struct sim_device *replay_attach(struct stack *st, struct sim_replay *r,
					enum sim_speed speed)
{
	unsigned port = speed == SIM_SPEED_SUPER ? sim_usb3_port(st->sim, 1)
						 : sim_usb2_port(st->sim, 1);
	struct sim_device *dev = sim_attach(st->sim, port, sim_replay_model(r, speed), speed);

	ck_assert_ptr_nonnull(dev);
	sim_replay_arm(r, dev);
	ck_assert(settle(st, 5000));
	return dev;
}

/* The JSON of the only device on the bus, "slot":N taken out. */
static const char *only_json(struct stack *st)
{
	static char buf[8192];
	char *s, *e;

	ck_assert_ptr_nonnull(st->bus->devices);
	ck_assert_ptr_null(st->bus->devices->next);
	bu_usb_device_json(st->bus->devices, buf, sizeof(buf));
	s = strstr(buf, "\"slot\":");
	if (s) {
		e = s + strlen("\"slot\":");
		while (*e >= '0' && *e <= '9')
			e++;
		if (*e == ',')
			e++;
		memmove(s, e, strlen(e) + 1);
	}
	return buf;
}

/* ------------------------------------------------------------------------ */
/* Real devices' files                                                      */

/* QEMU's usb-kbd, from its descriptors file, gives the usbdev line QEMU gave
 * (tests/sim/qemu-usb-kbd.usbdev), slot aside: at high speed on USB 2 port 1
 * (path 9), at full speed on port 2 (path 10). */
START_TEST(test_replay_qemu_kbd)
{
	static const struct {
		const char *file, *serial;
		enum sim_speed speed;
		unsigned line;
	} runs[] = {
		{ "qemu-usb-kbd-hs", "68284-0000:00:01.0-1", SIM_SPEED_HIGH, 0 },
		{ "qemu-usb-kbd-fs", "68284-0000:00:01.0-2", SIM_SPEED_FULL, 1 },
	};
	struct sim_config cfg = { .usb2_ports = 8, .usb3_ports = 8, .usb3_first = true };
	char want[4096];
	FILE *f = fopen(SIM_TEST_DATA "/qemu-usb-kbd.usbdev", "r");
	struct stack st;

	ck_assert_ptr_nonnull(f);
	for (unsigned i = 0; i < 2; i++) {
		struct sim_replay *r = replay_load(runs[i].file, "qemu-usb-kbd");
		char *s, *e;

		ck_assert(fgets(want, sizeof(want), f));
		want[strcspn(want, "\r\n")] = 0;
		ck_assert_int_eq(strncmp(want, "usbdev ", 7), 0);
		memmove(want, want + 7, strlen(want + 7) + 1);
		s = strstr(want, "\"slot\":");
		e = s + strlen("\"slot\":");
		while (*e >= '0' && *e <= '9')
			e++;
		memmove(s, e + 1, strlen(e + 1) + 1);
		ck_assert_int_eq(sim_replay_set_string(r, 11, runs[i].serial), 0);

		stack_up(&st, &cfg, 0);
		{
			struct sim_device *dev = sim_attach(st.sim, sim_usb2_port(st.sim, i + 1),
							    sim_replay_model(r, runs[i].speed),
							    runs[i].speed);
			ck_assert_ptr_nonnull(dev);
			sim_replay_arm(r, dev);
		}
		ck_assert(settle(&st, 5000));
		ck_assert_str_eq(only_json(&st), want);
		stack_down(&st);
		sim_replay_free(r);
	}
	fclose(f);
}
END_TEST

/* QEMU's usb-storage at SuperSpeed, without strings: what QEMU's run gives
 * (tests/qemu/every-kind.json and others), the strings null. */
START_TEST(test_replay_storage_super)
{
	struct sim_replay *r = replay_load("qemu-usb-storage-ss", "none");
	struct stack st;
	char want[64];

	ck_assert_int_eq(sim_replay_guess_speed(r), SIM_SPEED_SUPER);
	ck_assert_uint_eq(sim_replay_warnings(r, 0, NULL), 0);
	stack_up(&st, NULL, 0);
	replay_attach(&st, r, SIM_SPEED_SUPER);
	snprintf(want, sizeof(want), "{\"bus\":0,\"path\":\"%u\",", sim_usb3_port(st.sim, 1));
	ck_assert_int_eq(strncmp(only_json(&st), want, strlen(want)), 0);
	ck_assert_str_eq(strstr(only_json(&st), "\"tier\""),
			 "\"tier\":1,\"speed\":\"super\","
			 "\"vid\":\"46f4\",\"pid\":\"0001\",\"bcdUSB\":\"0300\",\"bcdDevice\":\"0000\","
			 "\"class\":0,\"subclass\":0,\"protocol\":0,\"mps0\":512,"
			 "\"manufacturer\":null,\"product\":null,\"serial\":null,\"configuration\":1,"
			 "\"configs\":[{\"value\":1,\"attributes\":192,\"maxpower_ma\":0,"
			 "\"interfaces\":[{\"number\":0,\"alt\":0,\"class\":8,\"subclass\":6,"
			 "\"protocol\":80,\"driver\":null,\"endpoints\":["
			 "{\"address\":\"0x81\",\"type\":\"bulk\",\"mps\":1024,\"interval\":0},"
			 "{\"address\":\"0x02\",\"type\":\"bulk\",\"mps\":1024,\"interval\":0}]}]}]}");
	ck_assert_uint_eq(st.bus->devices->state, BU_DEV_CONFIGURED);
	stack_down(&st);
	sim_replay_free(r);
}
END_TEST

/* A composite with an IAD (CDC-ACM + HID), full speed by its bulk
 * endpoints of 64 bytes, behind a USB 2 hub (through its TT). */
START_TEST(test_replay_composite_behind_hub)
{
	struct sim_replay *r = replay_load("composite-iad", "composite-iad");
	struct stack st;
	struct sim_device *hub, *dev;
	struct bu_usb_device *d;
	const char *j;

	ck_assert_int_eq(sim_replay_guess_speed(r), SIM_SPEED_FULL);
	stack_up(&st, NULL, 0);
	hub = sim_attach(st.sim, sim_usb2_port(st.sim, 1), &sim_dev_hub2, SIM_SPEED_HIGH);
	ck_assert_ptr_nonnull(hub);
	dev = sim_attach_hub(hub, 3, sim_replay_model(r, SIM_SPEED_FULL), SIM_SPEED_FULL);
	ck_assert_ptr_nonnull(dev);
	sim_replay_arm(r, dev);
	ck_assert(settle(&st, 5000));
	d = find_pid(&st, 0x2341, 0x8036);
	ck_assert_ptr_nonnull(d);
	ck_assert_uint_eq(d->state, BU_DEV_CONFIGURED);
	j = json_of(d);
	ck_assert_msg(strstr(j, "\"path\":\"1.3\",\"tier\":2,") != NULL, "%s", j);
	ck_assert_msg(strstr(j, "\"speed\":\"full\",\"vid\":\"2341\",\"pid\":\"8036\",\"bcdUSB\":\"0200\","
				"\"bcdDevice\":\"0100\",\"class\":239,\"subclass\":2,\"protocol\":1,\"mps0\":64,"
				"\"manufacturer\":\"Arduino LLC\",\"product\":\"Arduino Leonardo\","
				"\"serial\":\"HIDPC\",\"configuration\":1,") != NULL, "%s", j);
	ck_assert_msg(strstr(j, "\"configs\":[{\"value\":1,\"attributes\":160,\"maxpower_ma\":500,"
				"\"interfaces\":["
				"{\"number\":0,\"alt\":0,\"class\":2,\"subclass\":2,\"protocol\":0,\"driver\":null,"
				"\"endpoints\":[{\"address\":\"0x81\",\"type\":\"interrupt\",\"mps\":16,\"interval\":64}]},"
				"{\"number\":1,\"alt\":0,\"class\":10,\"subclass\":0,\"protocol\":0,\"driver\":null,"
				"\"endpoints\":[{\"address\":\"0x02\",\"type\":\"bulk\",\"mps\":64,\"interval\":0},"
				"{\"address\":\"0x83\",\"type\":\"bulk\",\"mps\":64,\"interval\":0}]},"
				"{\"number\":2,\"alt\":0,\"class\":3,\"subclass\":0,\"protocol\":0,\"driver\":null,"
				"\"endpoints\":[{\"address\":\"0x84\",\"type\":\"interrupt\",\"mps\":64,\"interval\":1}]}"
				"]}]}") != NULL, "%s", j);
	stack_down(&st);
	sim_replay_free(r);
}
END_TEST

/* QEMU's usb-hub replayed: the sim's hub function answers for it with the
 * port count given (8, its sysfs maxchild), so the hub driver binds and a
 * keyboard on its last port enumerates behind it (path ROOT.8, tier 2).
 * With the default of 4 ports there is no port 8; 0 and 16 ports are
 * refused. */
START_TEST(test_replay_hub)
{
	struct sim_replay *r = replay_load("qemu-usb-hub-fs", "qemu-usb-hub");
	struct stack st;
	struct sim_device *hub;
	struct bu_usb_device *h, *k;
	char err[160] = "";
	const char *j;

	ck_assert(sim_replay_is_hub(r));
	ck_assert_int_eq(sim_replay_set_hub_ports(r, 0, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "0 hub ports") != NULL, "%s", err);
	ck_assert_int_eq(sim_replay_set_hub_ports(r, 16, err, sizeof(err)), -1);
	stack_up(&st, NULL, 0);
	hub = sim_attach(st.sim, sim_usb2_port(st.sim, 1), sim_replay_model(r, SIM_SPEED_FULL),
			 SIM_SPEED_FULL);
	ck_assert_ptr_nonnull(hub);
	ck_assert_ptr_null(sim_attach_hub(hub, 8, &sim_dev_hid_kbd, SIM_SPEED_FULL));
	sim_detach(hub);
	ck_assert(settle(&st, 5000));

	ck_assert_int_eq(sim_replay_set_hub_ports(r, 8, err, sizeof(err)), 0);
	hub = sim_attach(st.sim, sim_usb2_port(st.sim, 1), sim_replay_model(r, SIM_SPEED_FULL),
			 SIM_SPEED_FULL);
	ck_assert_ptr_nonnull(hub);
	sim_replay_arm(r, hub);
	ck_assert_ptr_nonnull(sim_attach_hub(hub, 8, &sim_dev_hid_kbd, SIM_SPEED_FULL));
	ck_assert(settle(&st, 5000));
	h = find_pid(&st, 0x0409, 0x55aa);
	ck_assert_ptr_nonnull(h);
	j = json_of(h);
	ck_assert_msg(strstr(j, "\"product\":\"QEMU USB Hub\"") && strstr(j, "\"driver\":\"hub\"") &&
		      !strstr(j, "\"error\""), "%s", j);
	k = NULL;
	for (struct bu_usb_device *d = st.bus->devices; d; d = d->next)
		if (d->parent == h)
			k = d;
	ck_assert_ptr_nonnull(k);
	ck_assert_uint_eq(k->tier, 2);
	ck_assert_uint_eq(k->port, 8);
	ck_assert_uint_eq(k->state, BU_DEV_CONFIGURED);
	stack_down(&st);
	sim_replay_free(r);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Malformed files                                                          */

static const uint8_t kbd_dev[] = { 18, 1, 0, 2, 0, 0, 0, 8, 0x27, 0x06, 1, 0, 0, 0, 1, 4, 11, 1 };
static const uint8_t kbd_cfg[] = { 9, 2, 34, 0, 1, 1, 8, 0xa0, 50,
				   9, 4, 0, 0, 1, 3, 1, 1, 0,
				   9, 0x21, 0x11, 1, 0, 1, 0x22, 63, 0,
				   7, 5, 0x81, 3, 8, 0, 10 };

/* The keyboard's file with `cut` bytes of it kept, `extra` bytes added. */
static size_t kbd_file(uint8_t *out, size_t keep, const uint8_t *extra, size_t nextra)
{
	size_t n = 0;

	memcpy(out, kbd_dev, sizeof(kbd_dev));
	memcpy(out + sizeof(kbd_dev), kbd_cfg, sizeof(kbd_cfg));
	n = keep < sizeof(kbd_dev) + sizeof(kbd_cfg) ? keep : sizeof(kbd_dev) + sizeof(kbd_cfg);
	if (nextra)
		memcpy(out + n, extra, nextra);
	return n + nextra;
}

/* Every cut of the file short of its end is refused, with a reason. */
START_TEST(test_replay_truncated)
{
	uint8_t f[128];
	char err[256];

	for (size_t keep = 0; keep < sizeof(kbd_dev) + sizeof(kbd_cfg); keep++) {
		size_t len = kbd_file(f, keep, NULL, 0);
		struct sim_replay *r;

		err[0] = 0;
		r = sim_replay_from_bytes(f, len, err, sizeof(err));
		/* Cut at a descriptor boundary inside the configuration, the
		 * file looks like one Linux kept short: accepted, with a
		 * warning. Anywhere else: refused. */
		if (keep == 18 + 9 || keep == 18 + 18 || keep == 18 + 27) {
			ck_assert_msg(r != NULL, "cut at %zu: %s", keep, err);
			ck_assert_uint_eq(sim_replay_warnings(r, 0, NULL), 1);
			sim_replay_free(r);
			continue;
		}
		ck_assert_msg(r == NULL, "a file cut at %zu bytes was accepted", keep);
		ck_assert_msg(err[0] != 0, "cut at %zu: no reason given", keep);
		if (keep < 18)
			ck_assert_msg(strstr(err, "too short for the 18-byte device descriptor"), "%s", err);
		else if (keep == 18)
			ck_assert_msg(strstr(err, "truncated: the file ends after 0 of 1 configurations"),
				      "%s", err);
		else
			ck_assert_msg(strstr(err, "truncated: configuration 0 at offset 18"), "%s", err);
	}
}
END_TEST

START_TEST(test_replay_malformed)
{
	static const uint8_t junk[] = { 1, 2, 3 };
	static const uint8_t second[] = { 9, 2, 9, 0, 0, 2, 0, 0x80, 50 };
	uint8_t f[160];
	char err[256];
	size_t len;

	/* not a device descriptor */
	len = kbd_file(f, 100, NULL, 0);
	f[1] = 4;
	ck_assert_ptr_null(sim_replay_from_bytes(f, len, err, sizeof(err)));
	ck_assert_msg(strstr(err, "not a descriptors file: it starts with bLength 18, "
				  "bDescriptorType 0x04"), "%s", err);
	/* bytes after the last configuration */
	len = kbd_file(f, 100, junk, sizeof(junk));
	ck_assert_ptr_null(sim_replay_from_bytes(f, len, err, sizeof(err)));
	ck_assert_msg(strstr(err, "3 bytes after the last of 1 configurations at offset 52"), "%s", err);
	/* a second configuration bNumConfigurations does not announce */
	len = kbd_file(f, 100, second, sizeof(second));
	ck_assert_ptr_null(sim_replay_from_bytes(f, len, err, sizeof(err)));
	ck_assert_msg(strstr(err, "9 bytes after the last of 1 configurations"), "%s", err);
	/* ... and one it announces but the file lacks */
	len = kbd_file(f, 100, NULL, 0);
	f[17] = 2;
	ck_assert_ptr_null(sim_replay_from_bytes(f, len, err, sizeof(err)));
	ck_assert_msg(strstr(err, "the file ends after 1 of 2 configurations"), "%s", err);
	/* more configurations than Linux keeps */
	f[17] = 9;
	ck_assert_ptr_null(sim_replay_from_bytes(f, len, err, sizeof(err)));
	ck_assert_msg(strstr(err, "bNumConfigurations is 9; Linux keeps at most 8"), "%s", err);
	/* a configuration header that is not one */
	len = kbd_file(f, 100, NULL, 0);
	f[18 + 1] = 4;
	ck_assert_ptr_null(sim_replay_from_bytes(f, len, err, sizeof(err)));
	ck_assert_msg(strstr(err, "configuration 0 at offset 18: bLength 9, bDescriptorType 0x04 "
				  "is not a configuration header"), "%s", err);
	/* a header longer than the file, a second configuration announced */
	len = kbd_file(f, 100, NULL, 0);
	f[17] = 2;
	f[18] = 200;
	f[18 + 2] = 250;
	ck_assert_ptr_null(sim_replay_from_bytes(f, len, err, sizeof(err)));
	ck_assert_msg(strstr(err, "truncated: configuration 0 at offset 18 has 34 of its 200 header bytes"),
		      "%s", err);
	/* wTotalLength below its own header */
	len = kbd_file(f, 100, NULL, 0);
	f[18 + 2] = 4;
	ck_assert_ptr_null(sim_replay_from_bytes(f, len, err, sizeof(err)));
	ck_assert_msg(strstr(err, "wTotalLength 4 is shorter than its own header"), "%s", err);
	/* the two with a second configuration that is there: accepted */
	len = kbd_file(f, 100, second, sizeof(second));
	f[17] = 2;
	{
		struct sim_replay *r = sim_replay_from_bytes(f, len, err, sizeof(err));

		ck_assert_msg(r != NULL, "%s", err);
		sim_replay_free(r);
	}
}
END_TEST

START_TEST(test_replay_strings_file)
{
	struct sim_replay *r;
	char err[256];
	size_t len = sizeof(kbd_dev) + sizeof(kbd_cfg);
	uint8_t f[64];
	static const char *const bad[][2] = {
		{ "x QEMU\n", "line 1: does not start with an index" },
		{ "# comment\n\n0 zero\n", "line 3: index out of range 1..255" },
		{ "1 a\n256 b\n", "line 2: index out of range" },
		{ "99999999999999999999 b\n", "line 1: index out of range" },
		{ "12x\n", "line 1: no space after the index" },
	};

	kbd_file(f, len, NULL, 0);
	r = sim_replay_from_bytes(f, len, err, sizeof(err));
	ck_assert_ptr_nonnull(r);
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = 0;
		ck_assert_int_eq(sim_replay_strings(r, bad[i][0], strlen(bad[i][0]), err, sizeof(err)), -1);
		ck_assert_msg(strstr(err, bad[i][1]), "%s: %s", bad[i][0], err);
	}
	ck_assert_int_eq(sim_replay_strings(r, "1 QEMU\r\n4\tQEMU USB Keyboard\n255 last", 36, err,
					    sizeof(err)), 0);
	sim_replay_free(r);
}
END_TEST

/* A configuration whose wTotalLength says 200 while the file (as Linux
 * keeps a device that sent less) holds 34: the replayed device sends the
 * 34 bytes again, and the core, as for any device whose configuration
 * comes short, configures what it got. */
START_TEST(test_replay_total_lie)
{
	uint8_t f[64];
	char err[256];
	size_t len = kbd_file(f, 100, NULL, 0);
	struct sim_replay *r;
	struct stack st;
	const char *w;
	struct bu_usb_device *d;

	f[18 + 2] = 200;
	r = sim_replay_from_bytes(f, len, err, sizeof(err));
	ck_assert_msg(r != NULL, "%s", err);
	ck_assert_uint_eq(sim_replay_warnings(r, 0, &w), 1);
	ck_assert_msg(strstr(w, "configuration 0: wTotalLength 200, 34 bytes in the file"), "%s", w);
	stack_up(&st, NULL, 0);
	replay_attach(&st, r, SIM_SPEED_FULL);
	d = st.bus->devices;
	ck_assert_ptr_nonnull(d);
	ck_assert_uint_eq(d->state, BU_DEV_CONFIGURED);
	/* asked again, it sends the same 34 bytes, its header still saying 200 */
	{
		uint8_t got[255];

		ck_assert_int_eq(bu_usb_get_descriptor(d, USB_RECIP_DEVICE, USB_DT_CONFIG, 0, 0,
						       got, sizeof(got)), 34);
		ck_assert_int_eq(memcmp(got, f + 18, 34), 0);
		ck_assert_uint_eq(got[2], 200);
	}
	ck_assert_msg(strstr(json_of(d), "\"vid\":\"0627\",\"pid\":\"0001\"") &&
			      strstr(json_of(d), "\"endpoints\":[{\"address\":\"0x81\",\"type\":"
						 "\"interrupt\",\"mps\":8,\"interval\":10}]"),
		      "%s", json_of(d));
	stack_down(&st);
	sim_replay_free(r);
}
END_TEST

/* What the replayed device answers besides its file: strings at any index
 * from the list, the BOS given, STALL for everything else; configurations
 * past the framework's fourth on GET_DESCRIPTOR. */
START_TEST(test_replay_requests)
{
	static const uint8_t bos[] = { 5, USB_DT_BOS, 12, 0, 1, 7, USB_DT_DEVICE_CAPABILITY, 2, 2, 0, 0, 0 };
	static const uint8_t u16[] = { 12, USB_DT_STRING, 'T', 0, 'w', 0, 0xf6, 0, 0x3d, 0xd8, 0x00, 0xde };
	uint8_t f[18 + 5 * 9], got[255];
	char err[256];
	struct sim_replay *r;
	struct stack st;
	struct bu_usb_device *d;

	memcpy(f, kbd_dev, sizeof(kbd_dev));
	f[17] = 5; /* five configurations, each a header alone, values 1..5 */
	for (unsigned i = 0; i < 5; i++) {
		static const uint8_t c[] = { 9, USB_DT_CONFIG, 9, 0, 0, 0, 0, 0x80, 50 };

		memcpy(f + 18 + 9 * i, c, sizeof(c));
		f[18 + 9 * i + 5] = (uint8_t)(i + 1);
	}
	r = sim_replay_from_bytes(f, sizeof(f), err, sizeof(err));
	ck_assert_msg(r != NULL, "%s", err);
	{
		static const char list[] = "1 A\n200 Tw\xc3\xb6\xf0\x9f\x98\x80\n";

		ck_assert_int_eq(sim_replay_strings(r, list, strlen(list), err, sizeof(err)), 0);
	}
	ck_assert_int_eq(sim_replay_set_bos(r, bos, sizeof(bos), err, sizeof(err)), 0);
	stack_up(&st, NULL, 0);
	replay_attach(&st, r, SIM_SPEED_FULL);
	d = st.bus->devices;
	ck_assert_ptr_nonnull(d);
	ck_assert_int_eq(bu_usb_get_descriptor(d, USB_RECIP_DEVICE, USB_DT_STRING, 200, 0x0409, got,
					       sizeof(got)), (int)sizeof(u16));
	ck_assert_int_eq(memcmp(got, u16, sizeof(u16)), 0);
	ck_assert_int_eq(bu_usb_get_descriptor(d, USB_RECIP_DEVICE, USB_DT_STRING, 0, 0, got,
					       sizeof(got)), 4);
	ck_assert_uint_eq(got[2] | got[3] << 8, 0x0409);
	ck_assert_int_eq(bu_usb_get_descriptor(d, USB_RECIP_DEVICE, USB_DT_STRING, 2, 0x0409, got,
					       sizeof(got)), BU_ESTALL);
	ck_assert_int_eq(bu_usb_get_descriptor(d, USB_RECIP_DEVICE, USB_DT_BOS, 0, 0, got,
					       sizeof(got)), (int)sizeof(bos));
	ck_assert_int_eq(memcmp(got, bos, sizeof(bos)), 0);
	ck_assert_int_eq(bu_usb_get_descriptor(d, USB_RECIP_DEVICE, USB_DT_CONFIG, 4, 0, got,
					       sizeof(got)), 9);
	ck_assert_uint_eq(got[5], 5);
	ck_assert_int_eq(bu_usb_get_descriptor(d, USB_RECIP_DEVICE, USB_DT_CONFIG, 5, 0, got,
					       sizeof(got)), BU_ESTALL);
	ck_assert_int_eq(bu_usb_get_descriptor(d, USB_RECIP_DEVICE, USB_DT_DEVICE_QUALIFIER, 0, 0,
					       got, sizeof(got)), BU_ESTALL);
	ck_assert_int_eq(bu_usb_control(d, 0xa1, 0x01, 0x0100, 0, got, 8, 1000), BU_ESTALL);
	stack_down(&st);
	sim_replay_free(r);
}
END_TEST

/* Without a strings list every string request STALLs, index 0 too. */
START_TEST(test_replay_no_strings)
{
	struct sim_replay *r = replay_load("qemu-usb-kbd-fs", "none");
	struct stack st;
	uint8_t got[64];

	stack_up(&st, NULL, 0);
	replay_attach(&st, r, SIM_SPEED_FULL);
	ck_assert_int_eq(bu_usb_get_descriptor(st.bus->devices, USB_RECIP_DEVICE, USB_DT_STRING, 0, 0,
					       got, sizeof(got)), BU_ESTALL);
	ck_assert_int_eq(bu_usb_get_descriptor(st.bus->devices, USB_RECIP_DEVICE, USB_DT_STRING, 4,
					       0x0409, got, sizeof(got)), BU_ESTALL);
	ck_assert_int_eq(bu_usb_get_descriptor(st.bus->devices, USB_RECIP_DEVICE, USB_DT_BOS, 0, 0,
					       got, sizeof(got)), BU_ESTALL);
	stack_down(&st);
	sim_replay_free(r);
}
END_TEST

/* The tree line (bu_usb_device_tree_line), as the test image prints it;
 * control characters in the product string do not reach the terminal. */
START_TEST(test_replay_tree_line)
{
	struct sim_replay *r = replay_load("qemu-usb-kbd-fs", "none");
	struct stack st;
	char line[256];
	size_t n;

	ck_assert_int_eq(sim_replay_set_string(r, 4, "Kbd\x1b[2J\rX"), 0);
	stack_up(&st, NULL, 0);
	replay_attach(&st, r, SIM_SPEED_FULL);
	n = bu_usb_device_tree_line(st.bus->devices, line, sizeof(line));
	ck_assert_uint_eq(n, strlen(line));
	ck_assert_str_eq(line, "  1            full   0627:0001  Kbd?[2J?X                slot 1   configured");
	stack_down(&st);
	sim_replay_free(r);
}
END_TEST

/*
 * Files damaged at random (bytes changed, cut, grown) from the composite's:
 * the parser either refuses one with a reason or accepts it, never reads
 * past it (the ASan build checks); every 64th accepted one is enumerated,
 * which must end with the device configured or failed and no violation.
 */
START_TEST(test_replay_damaged)
{
	uint8_t good[256], f[300];
	size_t glen;
	uint64_t x = 0x9e3779b97f4a7c15ull;
	unsigned accepted = 0, refused = 0;

	memcpy(good, slurp(REPLAY_DIR "composite-iad.bin", &glen), sizeof(good));
	ck_assert_uint_lt(glen, sizeof(good));
	for (unsigned i = 0; i < 4000; i++) {
		size_t len = glen;
		char err[256] = "";
		struct sim_replay *r;

		memcpy(f, good, glen);
		for (unsigned k = 0; k < 1 + i % 4; k++) {
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			switch (x % 4) {
			case 0:
				len = (size_t)(x >> 8) % (glen + 1);
				break;
			case 1:
				if (len < sizeof(f))
					f[len++] = (uint8_t)(x >> 16);
				break;
			default:
				if (len)
					f[(x >> 8) % len] = (uint8_t)(x >> 24);
			}
		}
		r = sim_replay_from_bytes(f, len, err, sizeof(err));
		if (!r) {
			ck_assert_msg(err[0] != 0, "damaged file %u refused without a reason", i);
			refused++;
			continue;
		}
		(void)sim_replay_guess_speed(r);
		if (accepted++ % 64 == 0) {
			struct stack st;
			enum sim_speed sp = SIM_SPEED_FULL;
			struct sim_device *dev;

			stack_up(&st, NULL, 0);
			dev = sim_attach(st.sim, sim_usb2_port(st.sim, 1), sim_replay_model(r, sp), sp);
			ck_assert_ptr_nonnull(dev);
			sim_replay_arm(r, dev);
			ck_assert(settle(&st, 10000));
			ck_assert_ptr_nonnull(st.bus->devices);
			ck_assert_msg(st.bus->devices->state == BU_DEV_CONFIGURED ||
					      st.bus->devices->state == BU_DEV_FAILED,
				      "file %u: state %d", i, st.bus->devices->state);
			stack_down(&st);
		}
		sim_replay_free(r);
	}
	ck_assert_uint_gt(accepted, 100);
	ck_assert_uint_gt(refused, 100);
}
END_TEST

static Suite *replay_suite(void)
{
	Suite *s = suite_create("replay");
	TCase *t = tcase_create("replay");

	tcase_add_test(t, test_replay_qemu_kbd);
	tcase_add_test(t, test_replay_storage_super);
	tcase_add_test(t, test_replay_composite_behind_hub);
	tcase_add_test(t, test_replay_hub);
	tcase_add_test(t, test_replay_truncated);
	tcase_add_test(t, test_replay_malformed);
	tcase_add_test(t, test_replay_strings_file);
	tcase_add_test(t, test_replay_total_lie);
	tcase_add_test(t, test_replay_requests);
	tcase_add_test(t, test_replay_no_strings);
	tcase_add_test(t, test_replay_tree_line);
	tcase_add_test(t, test_replay_damaged);
	suite_add_tcase(s, t);
	return s;
}

int main(void)
{
	return run_suite(replay_suite());
}
