/*
 * Every sim device model enumerated by the real stack at each speed it
 * supports, what each model does (loopback, SCSI, CDC, MS OS descriptors),
 * hubs of each kind with devices behind them (the model checks TT slot and
 * port, MTT, route strings and hub depth), and the QEMU usb-kbd twin whose
 * usbdev lines must equal the ones QEMU gave; and the list of models, each
 * with a VID:PID of its own.
 */
#include "harness.h"

/* ------------------------------------------------------------------------ */
/* Enumeration of every model at every speed                                */

struct model_case {
	const struct sim_device_model *model;
	enum sim_speed speed;
	uint16_t vid, pid;
	const char *speed_name;
	const char *must; /* a string the usbdev line must hold */
};

static const struct model_case models[] = {
	{ &sim_dev_hid_kbd, SIM_SPEED_LOW, 0x1209, 0xb001, "low", "\"class\":3" },
	{ &sim_dev_hid_kbd, SIM_SPEED_FULL, 0x1209, 0xb001, "full", "\"class\":3" },
	{ &sim_dev_hid_kbd, SIM_SPEED_HIGH, 0x1209, 0xb001, "high", "\"class\":3" },
	{ &sim_dev_winusb, SIM_SPEED_FULL, 0x1209, 0xb010, "full", "\"type\":\"isochronous\",\"mps\":256" },
	{ &sim_dev_winusb, SIM_SPEED_HIGH, 0x1209, 0xb010, "high", "\"type\":\"bulk\",\"mps\":512" },
	{ &sim_dev_winusb, SIM_SPEED_SUPER, 0x1209, 0xb010, "super", "\"type\":\"bulk\",\"mps\":1024" },
	{ &sim_dev_winusb_os1, SIM_SPEED_FULL, 0x1209, 0xb011, "full", "\"alt\":1" },
	{ &sim_dev_winusb_os1, SIM_SPEED_HIGH, 0x1209, 0xb011, "high", "\"alt\":1" },
	{ &sim_dev_msc, SIM_SPEED_FULL, 0x1209, 0xb020, "full", "\"class\":8,\"subclass\":6,\"protocol\":80" },
	{ &sim_dev_msc, SIM_SPEED_HIGH, 0x1209, 0xb020, "high", "\"class\":8,\"subclass\":6,\"protocol\":80" },
	{ &sim_dev_msc, SIM_SPEED_SUPER, 0x1209, 0xb020, "super", "\"mps0\":512" },
	{ &sim_dev_composite, SIM_SPEED_FULL, 0x1209, 0xb030, "full", "\"number\":2" },
	{ &sim_dev_composite, SIM_SPEED_HIGH, 0x1209, 0xb030, "high", "\"number\":2" },
	{ &sim_dev_hub2, SIM_SPEED_FULL, 0x1209, 0xb040, "full", "\"driver\":\"hub\"" },
	{ &sim_dev_hub2, SIM_SPEED_HIGH, 0x1209, 0xb040, "high", "\"driver\":\"hub\"" },
	{ &sim_dev_hub2_mtt, SIM_SPEED_HIGH, 0x1209, 0xb041, "high", "\"driver\":\"hub\"" },
	{ &sim_dev_hub3, SIM_SPEED_SUPER, 0x1209, 0xb042, "super", "\"driver\":\"hub\"" },
	{ &sim_dev_qemu_kbd, SIM_SPEED_FULL, 0x0627, 0x0001, "full", "QEMU USB Keyboard" },
	{ &sim_dev_qemu_kbd, SIM_SPEED_HIGH, 0x0627, 0x0001, "high", "QEMU USB Keyboard" },
};

static unsigned port_for(struct sim *sim, enum sim_speed speed, unsigned n)
{
	return speed == SIM_SPEED_SUPER ? sim_usb3_port(sim, n) : sim_usb2_port(sim, n);
}

START_TEST(test_enumerate_model)
{
	const struct model_case *mc = &models[_i];
	struct stack st;
	struct bu_usb_device *dev;
	char want[64];

	stack_up(&st, NULL, 0);
	ck_assert_ptr_nonnull(sim_attach(st.sim, port_for(st.sim, mc->speed, 2), mc->model, mc->speed));
	ck_assert(settle(&st, 5000));
	dev = find_pid(&st, mc->vid, mc->pid);
	ck_assert_msg(dev != NULL, "%s: not found", mc->model->name);
	ck_assert_msg(dev->state == BU_DEV_CONFIGURED, "%s at %s: state %d error %d at %s",
		      mc->model->name, mc->speed_name, dev->state, dev->error,
		      dev->error_step ? dev->error_step : "?");
	const char *j = json_of(dev);
	snprintf(want, sizeof(want), "\"speed\":\"%s\"", mc->speed_name);
	ck_assert_msg(strstr(j, want), "%s", j);
	ck_assert_msg(strstr(j, mc->must), "%s: no %s in %s", mc->model->name, mc->must, j);
	ck_assert_msg(!strstr(j, "\"error\""), "%s", j);
	ck_assert_uint_eq(st.added, 1);
	stack_down(&st);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* WinUSB device: MS OS 2.0 and 1.0 descriptors, data paths                 */

static struct bu_usb_device *one_device(struct stack *st, const struct sim_device_model *m,
					enum sim_speed speed, struct sim_device **sdp)
{
	struct sim_device *sd = sim_attach(st->sim, port_for(st->sim, speed, 1), m, speed);
	struct bu_usb_device *dev;

	ck_assert_ptr_nonnull(sd);
	if (sdp)
		*sdp = sd;
	ck_assert(settle(st, 5000));
	dev = st->bus->devices;
	ck_assert_ptr_nonnull(dev);
	ck_assert_int_eq(dev->state, BU_DEV_CONFIGURED);
	return dev;
}

static const uint8_t msos2_uuid[16] = { 0xdf, 0x60, 0xdd, 0xd8, 0x89, 0x45, 0xc7, 0x4c,
					0x9c, 0xd2, 0x65, 0x9d, 0x9e, 0x64, 0x8a, 0x9f };

/* True when the UTF-16LE bytes at p spell the ASCII string s. */
static bool utf16_is(const uint8_t *p, const char *s)
{
	for (; *s; s++, p += 2)
		if (p[0] != (uint8_t)*s || p[1] != 0)
			return false;
	return true;
}

static void check_msos2(enum sim_speed speed)
{
	struct stack st;
	struct bu_usb_device *dev;
	uint8_t bos[256], set[512];
	int n;

	stack_up(&st, NULL, 0);
	dev = one_device(&st, &sim_dev_winusb, speed, NULL);
	n = bu_usb_get_descriptor(dev, USB_RECIP_DEVICE, USB_DT_BOS, 0, 0, bos, sizeof(bos));
	ck_assert_int_eq(n, 50);
	ck_assert_uint_eq(bos[2] | bos[3] << 8, 50);
	/* find the platform capability with the MS OS 2.0 UUID */
	int vendor = -1, set_len = 0;
	for (int off = 5; off + 3 <= n; off += bos[off]) {
		ck_assert_uint_ge(bos[off], 3);
		if (bos[off + 1] == USB_DT_DEVICE_CAPABILITY && bos[off + 2] == 5 &&
		    memcmp(bos + off + 4, msos2_uuid, 16) == 0) {
			ck_assert_uint_eq(bos[off], 28);
			ck_assert_uint_eq(bos[off + 20] | bos[off + 21] << 8 | bos[off + 22] << 16 |
						  (uint32_t)bos[off + 23] << 24,
					  0x06030000);
			set_len = bos[off + 24] | bos[off + 25] << 8;
			vendor = bos[off + 26];
		}
	}
	ck_assert_int_eq(vendor, SIM_WINUSB_MSOS2_VENDOR);
	ck_assert_int_eq(set_len, SIM_WINUSB_MSOS2_SET_LEN);
	n = bu_usb_control(dev, 0xc0, (uint8_t)vendor, 0, 7, set, (uint16_t)set_len, 1000);
	ck_assert_int_eq(n, set_len);
	/* set header, compatible ID, registry property */
	ck_assert_uint_eq(set[0] | set[1] << 8, 10);
	ck_assert_uint_eq(set[2] | set[3] << 8, 0);
	ck_assert_uint_eq(set[8] | set[9] << 8, set_len);
	ck_assert_uint_eq(set[10] | set[11] << 8, 20);
	ck_assert_uint_eq(set[12] | set[13] << 8, 3);
	ck_assert_mem_eq(set + 14, "WINUSB\0\0", 8);
	const uint8_t *p = set + 30;
	ck_assert_uint_eq(p[0] | p[1] << 8, 132);
	ck_assert_uint_eq(p[2] | p[3] << 8, 4);
	ck_assert_uint_eq(p[4] | p[5] << 8, 7); /* REG_MULTI_SZ */
	ck_assert_uint_eq(p[6] | p[7] << 8, 42);
	ck_assert(utf16_is(p + 8, "DeviceInterfaceGUIDs"));
	ck_assert_uint_eq(p[50] | p[51] << 8, 80);
	ck_assert(utf16_is(p + 52, SIM_WINUSB_GUID));
	ck_assert_mem_eq(p + 52 + 76, "\0\0\0\0", 4);
	/* the vendor code answers nothing else */
	ck_assert_int_eq(bu_usb_control(dev, 0xc0, (uint8_t)vendor, 0, 8, set, 16, 1000), BU_ESTALL);
	/* no MS OS 1.0 string on this one */
	ck_assert_int_eq(bu_usb_get_descriptor(dev, 0, USB_DT_STRING, 0xee, 0, set, 18), BU_ESTALL);
	stack_down(&st);
}

START_TEST(test_winusb_msos2_hs)
{
	check_msos2(SIM_SPEED_HIGH);
}
END_TEST

START_TEST(test_winusb_msos2_ss)
{
	check_msos2(SIM_SPEED_SUPER);
}
END_TEST

START_TEST(test_winusb_msos1)
{
	struct stack st;
	struct bu_usb_device *dev;
	uint8_t b[256];
	int n;

	stack_up(&st, NULL, 0);
	dev = one_device(&st, &sim_dev_winusb_os1, SIM_SPEED_FULL, NULL);
	n = bu_usb_get_descriptor(dev, USB_RECIP_DEVICE, USB_DT_STRING, 0xee, 0, b, 0x12);
	ck_assert_int_eq(n, 18);
	ck_assert_uint_eq(b[0], 0x12);
	ck_assert_uint_eq(b[1], USB_DT_STRING);
	ck_assert(utf16_is(b + 2, "MSFT100"));
	ck_assert_uint_eq(b[16], SIM_WINUSB_MSOS1_VENDOR);
	/* Extended Compat ID: header first, then the whole descriptor */
	n = bu_usb_control(dev, 0xc0, SIM_WINUSB_MSOS1_VENDOR, 0, 4, b, 16, 1000);
	ck_assert_int_eq(n, 16);
	ck_assert_uint_eq(b[0], 40);
	n = bu_usb_control(dev, 0xc0, SIM_WINUSB_MSOS1_VENDOR, 0, 4, b, 40, 1000);
	ck_assert_int_eq(n, 40);
	ck_assert_uint_eq(b[4] | b[5] << 8, 0x0100);
	ck_assert_uint_eq(b[6] | b[7] << 8, 4);
	ck_assert_uint_eq(b[8], 1);
	ck_assert_uint_eq(b[16], 0);
	ck_assert_uint_eq(b[17], 1);
	ck_assert_mem_eq(b + 18, "WINUSB\0\0", 8);
	/* Extended Properties, interface recipient */
	n = bu_usb_control(dev, 0xc1, SIM_WINUSB_MSOS1_VENDOR, 0, 5, b, sizeof(b), 1000);
	ck_assert_int_eq(n, 142);
	ck_assert_uint_eq(b[6] | b[7] << 8, 5);
	ck_assert_uint_eq(b[8] | b[9] << 8, 1);
	ck_assert_uint_eq(b[10], 132);
	ck_assert_uint_eq(b[14], 1); /* REG_SZ */
	ck_assert_uint_eq(b[18], 40);
	ck_assert(utf16_is(b + 20, "DeviceInterfaceGUID"));
	ck_assert_uint_eq(b[60], 78);
	ck_assert(utf16_is(b + 64, SIM_WINUSB_GUID));
	/* no BOS: bcdUSB 2.00 */
	ck_assert_uint_eq(dev->desc.bcdUSB, 0x0200);
	ck_assert_int_eq(bu_usb_get_descriptor(dev, 0, USB_DT_BOS, 0, 0, b, 5), BU_ESTALL);
	stack_down(&st);
}
END_TEST

static void loopback(enum sim_speed speed)
{
	struct stack st;
	struct sim_device *sd;
	struct bu_usb_device *dev;
	static uint8_t out[70000], in[80000];
	size_t actual = 0;

	stack_up(&st, NULL, 0);
	dev = one_device(&st, &sim_dev_winusb, speed, &sd);
	struct bu_usb_endpoint *eo = bu_usb_find_endpoint(dev, 0x01);
	struct bu_usb_endpoint *ei = bu_usb_find_endpoint(dev, 0x81);
	ck_assert_ptr_nonnull(eo);
	ck_assert_ptr_nonnull(ei);
	/* a transfer larger than 64 KiB with an odd length: chained TRBs, short end */
	for (size_t i = 0; i < sizeof(out); i++)
		out[i] = (uint8_t)(i * 7 + 3);
	size_t len = 65536 + 1001;
	ck_assert_int_eq(xfer_sync(&st, eo, out, len, &actual, 20000), 0);
	ck_assert_uint_eq(actual, len);
	ck_assert_int_eq(xfer_sync(&st, ei, in, sizeof(in), &actual, 20000), 0);
	ck_assert_uint_eq(actual, len);
	ck_assert_mem_eq(in, out, len);
	/* a multiple of the packet size ended by a ZLP (BU_XFER_ZLP) comes back
	 * as one transfer ended by a ZLP: the read of 8 KiB stops at 4 KiB */
	struct aio w;
	memset(&w, 0, sizeof(w));
	w.x.ep = eo;
	w.x.buf = out;
	w.x.len = 4096;
	w.x.flags = BU_XFER_ZLP;
	w.x.complete = aio_complete;
	w.x.ctx = &w;
	ck_assert_int_eq(bu_usb_xfer_submit(&w.x), 0);
	ck_assert(wait_flag(&st, &w.done, 2000));
	ck_assert_int_eq(w.x.status, 0);
	ck_assert_int_eq(xfer_sync(&st, ei, in, 8192, &actual, 2000), 0);
	ck_assert_uint_eq(actual, 4096);
	ck_assert_uint_eq(sim_winusb_bulk_out_bytes(sd), len + 4096);
	ck_assert_uint_eq(sim_winusb_bulk_in_bytes(sd), len + 4096);
	/* interrupt IN reports */
	uint8_t rep[64];
	struct bu_usb_endpoint *ej = bu_usb_find_endpoint(dev, 0x82);
	ck_assert_ptr_nonnull(ej);
	for (unsigned i = 0; i < 3; i++) {
		ck_assert_int_eq(xfer_sync(&st, ej, rep, sizeof(rep), &actual, 1000), 0);
		ck_assert_uint_eq(actual, 8);
		ck_assert_uint_eq(rep[0], i);
		ck_assert_uint_eq(rep[4], 0xa5);
	}
	/* vendor control echo */
	uint8_t msg[40] = "hello from the host side of the bus", back[64];
	ck_assert_int_eq(bu_usb_control(dev, 0x40, SIM_WINUSB_REQ_WRITE, 0, 0, msg, 40, 1000), 40);
	ck_assert_int_eq(bu_usb_control(dev, 0xc0, SIM_WINUSB_REQ_READ, 0, 0, back, 64, 1000), 40);
	ck_assert_mem_eq(back, msg, 40);
	stack_down(&st);
}

START_TEST(test_winusb_loopback_fs)
{
	loopback(SIM_SPEED_FULL);
}
END_TEST

START_TEST(test_winusb_loopback_hs)
{
	loopback(SIM_SPEED_HIGH);
}
END_TEST

START_TEST(test_winusb_loopback_ss)
{
	loopback(SIM_SPEED_SUPER);
}
END_TEST

/*
 * The answer hook (sim_set_answer_hook, the fuzz harnesses' way in): the
 * product string is refused with STALL, so it never reaches the JSON, and
 * each interrupt IN report is cut to 3 bytes of 0x5a.
 */
static int answer_edit(void *ctx, struct sim_device *dev, const struct usb_setup_packet *s,
		       uint8_t ep, uint8_t *buf, int r, uint16_t cap)
{
	unsigned *calls = ctx;

	(void)dev;
	++*calls;
	if (s && s->bRequest == USB_REQ_GET_DESCRIPTOR && s->wValue == (USB_DT_STRING << 8 | 2))
		return SIM_STALL;
	if (!s && ep == 0x82 && r > 0 && cap >= 3) {
		memset(buf, 0x5a, 3);
		return 3;
	}
	return r;
}

START_TEST(test_answer_hook)
{
	struct stack st;
	struct sim_device *sd;
	unsigned calls = 0;
	uint8_t rep[64];
	size_t actual = 0;

	stack_up(&st, NULL, 0);
	sd = sim_attach(st.sim, sim_usb2_port(st.sim, 1), &sim_dev_winusb, SIM_SPEED_HIGH);
	sim_set_answer_hook(sd, answer_edit, &calls);
	ck_assert(settle(&st, 5000));
	struct bu_usb_device *d = find_pid(&st, 0x1209, 0xb010);
	ck_assert_ptr_nonnull(d);
	ck_assert_msg(strstr(json_of(d), "Sim WinUSB") == NULL, "%s", json_of(d));
	ck_assert_msg(strstr(json_of(d), "WU2-0001") != NULL, "%s", json_of(d));
	ck_assert_uint_gt(calls, 0);
	ck_assert_int_eq(xfer_sync(&st, bu_usb_find_endpoint(d, 0x82), rep, sizeof(rep), &actual,
				   1000), 0);
	ck_assert_uint_eq(actual, 3);
	ck_assert_uint_eq(rep[0], 0x5a);
	ck_assert_uint_eq(rep[2], 0x5a);
	stack_down(&st);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Mass storage                                                             */

struct bot {
	struct stack *st;
	struct bu_usb_endpoint *in, *out;
	uint32_t tag;
};

/* One BOT command; returns the CSW status (or -1) and fills *residue. */
static int bot_cmd(struct bot *b, const uint8_t *cb, unsigned cblen, bool dir_in, void *data,
		   uint32_t len, uint32_t *residue)
{
	uint8_t cbw[31] = { 'U', 'S', 'B', 'C' }, csw[64];
	size_t actual;
	int rc;

	b->tag++;
	memcpy(cbw + 4, &b->tag, 4);
	memcpy(cbw + 8, &len, 4);
	cbw[12] = dir_in ? 0x80 : 0;
	cbw[14] = (uint8_t)cblen;
	memcpy(cbw + 15, cb, cblen);
	ck_assert_int_eq(xfer_sync(b->st, b->out, cbw, 31, &actual, 2000), 0);
	if (len) {
		rc = xfer_sync(b->st, dir_in ? b->in : b->out, data, len, &actual, 5000);
		if (rc == BU_ESTALL) {
			wait_ep_idle(b->st, dir_in ? b->in : b->out);
			ck_assert_int_eq(bu_usb_reset_endpoint(dir_in ? b->in : b->out), 0);
		} else {
			ck_assert_int_eq(rc, 0);
		}
	}
	rc = xfer_sync(b->st, b->in, csw, sizeof(csw), &actual, 2000);
	ck_assert_int_eq(rc, 0);
	ck_assert_uint_eq(actual, 13);
	ck_assert_mem_eq(csw, "USBS", 4);
	ck_assert_mem_eq(csw + 4, &b->tag, 4);
	if (residue)
		memcpy(residue, csw + 8, 4);
	return csw[12];
}

static void msc_io(enum sim_speed speed)
{
	struct stack st;
	struct sim_device *sd;
	struct bu_usb_device *dev;
	struct bot b = { &st, NULL, NULL, 0 };
	static uint8_t wr[8 * 512], rd[8 * 512];
	uint8_t buf[64];
	uint32_t residue;

	stack_up(&st, NULL, 0);
	dev = one_device(&st, &sim_dev_msc, speed, &sd);
	b.in = bu_usb_find_endpoint(dev, 0x81);
	b.out = bu_usb_find_endpoint(dev, 0x02);
	ck_assert_ptr_nonnull(b.in);
	ck_assert_ptr_nonnull(b.out);
	ck_assert_int_eq(bu_usb_control(dev, 0xa1, 0xfe, 0, 0, buf, 1, 1000), 1);
	ck_assert_uint_eq(buf[0], 0);

	const uint8_t tur[6] = { 0x00 };
	ck_assert_int_eq(bot_cmd(&b, tur, 6, false, NULL, 0, &residue), 0);
	const uint8_t inq[6] = { 0x12, 0, 0, 0, 36, 0 };
	ck_assert_int_eq(bot_cmd(&b, inq, 6, true, buf, 36, &residue), 0);
	ck_assert_uint_eq(residue, 0);
	ck_assert_mem_eq(buf + 8, "bareusb ", 8);
	const uint8_t cap[10] = { 0x25 };
	ck_assert_int_eq(bot_cmd(&b, cap, 10, true, buf, 8, &residue), 0);
	ck_assert_uint_eq((uint32_t)buf[0] << 24 | buf[1] << 16 | buf[2] << 8 | buf[3],
			  SIM_MSC_BLOCKS - 1);
	ck_assert_uint_eq(buf[6], 2); /* 512-byte blocks */
	for (size_t i = 0; i < sizeof(wr); i++)
		wr[i] = (uint8_t)(i ^ (i >> 8));
	const uint8_t w10[10] = { 0x2a, 0, 0, 0, 0, 100, 0, 0, 8, 0 };
	ck_assert_int_eq(bot_cmd(&b, w10, 10, false, wr, sizeof(wr), &residue), 0);
	ck_assert_mem_eq(sim_msc_disk(sd, NULL) + 100 * 512, wr, sizeof(wr));
	const uint8_t r10[10] = { 0x28, 0, 0, 0, 0, 100, 0, 0, 8, 0 };
	ck_assert_int_eq(bot_cmd(&b, r10, 10, true, rd, sizeof(rd), &residue), 0);
	ck_assert_mem_eq(rd, wr, sizeof(rd));
	/* an unknown command fails; REQUEST SENSE says why */
	const uint8_t bad[6] = { 0xc7 };
	ck_assert_int_eq(bot_cmd(&b, bad, 6, false, NULL, 0, &residue), 1);
	const uint8_t rs[6] = { 0x03, 0, 0, 0, 18, 0 };
	ck_assert_int_eq(bot_cmd(&b, rs, 6, true, buf, 18, &residue), 0);
	ck_assert_uint_eq(buf[2], 0x05);
	ck_assert_uint_eq(buf[12], 0x20);
	/* the host asks for more than INQUIRY has: short data, residue in the CSW */
	const uint8_t inq2[6] = { 0x12, 0, 0, 0, 36, 0 };
	ck_assert_int_eq(bot_cmd(&b, inq2, 6, true, buf, 60, &residue), 0);
	ck_assert_uint_eq(residue, 24);
	/* READ beyond the end: CHECK CONDITION, IN pipe STALLed, CSW after recovery */
	const uint8_t r_end[10] = { 0x28, 0, 0, 0, 0x02, 0x00, 0, 0, 1, 0 };
	ck_assert_int_eq(bot_cmd(&b, r_end, 10, true, rd, 512, &residue), 1);
	ck_assert_uint_eq(residue, 512);
	ck_assert_uint_eq(sim_msc_commands(sd), 9);
	ck_assert_uint_eq(sim_msc_failed(sd), 2);
	stack_down(&st);
}

START_TEST(test_msc_fs)
{
	msc_io(SIM_SPEED_FULL);
}
END_TEST

START_TEST(test_msc_hs)
{
	msc_io(SIM_SPEED_HIGH);
}
END_TEST

START_TEST(test_msc_ss)
{
	msc_io(SIM_SPEED_SUPER);
}
END_TEST

START_TEST(test_msc_invalid_cbw)
{
	struct stack st;
	struct bu_usb_device *dev;
	struct bot b = { &st, NULL, NULL, 0 };
	uint8_t junk[31] = { 'X', 'S', 'B', 'C' }, buf[64];
	size_t actual;
	uint32_t residue;

	stack_up(&st, NULL, 0);
	dev = one_device(&st, &sim_dev_msc, SIM_SPEED_HIGH, NULL);
	b.in = bu_usb_find_endpoint(dev, 0x81);
	b.out = bu_usb_find_endpoint(dev, 0x02);
	/* an invalid CBW: STALL on OUT, and on IN until Reset Recovery */
	ck_assert_int_eq(xfer_sync(&st, b.out, junk, 31, &actual, 2000), BU_ESTALL);
	ck_assert(sim_has_violation(st.sim, "invalid CBW"));
	sim_clear_violations(st.sim);
	wait_ep_idle(&st, b.out);
	ck_assert_int_eq(xfer_sync(&st, b.in, buf, 13, &actual, 2000), BU_ESTALL);
	wait_ep_idle(&st, b.in);
	/* clearing the halts alone does not help (BOT §5.3.4) */
	ck_assert_int_eq(bu_usb_reset_endpoint(b.out), 0);
	ck_assert_int_eq(xfer_sync(&st, b.out, junk, 31, &actual, 2000), BU_ESTALL);
	wait_ep_idle(&st, b.out);
	/* Reset Recovery: class reset, then clear both halts */
	ck_assert_int_eq(bu_usb_control(dev, 0x21, 0xff, 0, 0, NULL, 0, 1000), 0);
	ck_assert_int_eq(bu_usb_reset_endpoint(b.in), 0);
	ck_assert_int_eq(bu_usb_reset_endpoint(b.out), 0);
	const uint8_t tur[6] = { 0 };
	ck_assert_int_eq(bot_cmd(&b, tur, 6, false, NULL, 0, &residue), 0);
	stack_down(&st);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Composite with IAD                                                       */

START_TEST(test_composite)
{
	struct stack st;
	struct sim_device *sd;
	struct bu_usb_device *dev;
	uint8_t lc[7] = { 0x80, 0x25, 0, 0, 0, 0, 8 }, back[7], data[300], in[512];
	size_t actual;

	stack_up(&st, NULL, 0);
	dev = one_device(&st, &sim_dev_composite, SIM_SPEED_HIGH, &sd);
	const struct bu_usb_config_info *cfg = &dev->configs[dev->active_config];
	ck_assert_uint_eq(cfg->num_iads, 1);
	ck_assert_uint_eq(cfg->iads[0].first_interface, 0);
	ck_assert_uint_eq(cfg->iads[0].count, 2);
	ck_assert_uint_eq(cfg->iads[0].class_code, 2);
	ck_assert_uint_eq(dev->num_ifaces, 3);
	for (unsigned i = 0; i < dev->num_ifaces; i++) {
		const struct bu_usb_interface *f = &dev->ifaces[i];
		ck_assert_uint_eq(f->func_first, f->number < 2 ? 0 : 2);
		ck_assert_uint_eq(f->func_count, f->number < 2 ? 2 : 1);
	}
	/* CDC requests on interface 0, data on interface 1 */
	ck_assert_int_eq(bu_usb_control(dev, 0x21, 0x20, 0, 0, lc, 7, 1000), 7);
	ck_assert_int_eq(bu_usb_control(dev, 0xa1, 0x21, 0, 0, back, 7, 1000), 7);
	ck_assert_mem_eq(back, lc, 7);
	ck_assert_int_eq(bu_usb_control(dev, 0x21, 0x22, 3, 0, NULL, 0, 1000), 0);
	ck_assert_uint_eq(sim_composite_line_state(sd), 3);
	for (unsigned i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)i;
	ck_assert_int_eq(xfer_sync(&st, bu_usb_find_endpoint(dev, 0x02), data, sizeof(data), &actual, 1000), 0);
	ck_assert_int_eq(xfer_sync(&st, bu_usb_find_endpoint(dev, 0x82), in, sizeof(in), &actual, 1000), 0);
	ck_assert_uint_eq(actual, sizeof(data));
	ck_assert_mem_eq(in, data, sizeof(data));
	/* the keyboard function */
	sim_composite_key(sd, 0x04);
	ck_assert_int_eq(xfer_sync(&st, bu_usb_find_endpoint(dev, 0x81), in, 8, &actual, 1000), 0);
	ck_assert_uint_eq(actual, 8);
	ck_assert_uint_eq(in[2], 0x04);
	ck_assert_int_eq(bu_usb_control(dev, 0x81, 6, 0x2200, 2, in, 255, 1000), 63);
	stack_down(&st);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Hubs                                                                     */

START_TEST(test_hub2_single_tt)
{
	struct stack st;
	struct sim_device *hub;

	stack_up(&st, NULL, 0);
	hub = sim_attach(st.sim, sim_usb2_port(st.sim, 1), &sim_dev_hub2, SIM_SPEED_HIGH);
	ck_assert_ptr_nonnull(sim_attach_hub(hub, 1, &sim_dev_hid_kbd, SIM_SPEED_LOW));
	ck_assert_ptr_nonnull(sim_attach_hub(hub, 2, &sim_dev_winusb, SIM_SPEED_FULL));
	ck_assert_ptr_nonnull(sim_attach_hub(hub, 4, &sim_dev_msc, SIM_SPEED_HIGH));
	ck_assert(settle(&st, 10000));
	ck_assert_uint_eq(count_state(&st, BU_DEV_CONFIGURED), 4);
	struct bu_usb_device *kbd = find_pid(&st, 0x1209, 0xb001);
	struct bu_usb_device *wu = find_pid(&st, 0x1209, 0xb010);
	struct bu_usb_device *h = find_pid(&st, 0x1209, 0xb040);
	ck_assert_ptr_nonnull(kbd);
	ck_assert_ptr_nonnull(wu);
	ck_assert_ptr_nonnull(h);
	ck_assert(h->is_hub && !h->hub_mtt);
	ck_assert_msg(strstr(json_of(kbd), "\"tier\":2"), "%s", json_of(kbd));
	ck_assert_msg(strstr(json_of(wu), "\"speed\":\"full\""), "%s", json_of(wu));
	/* traffic through the TT: the full-speed device's bulk loopback */
	uint8_t out[200], in[256];
	size_t actual;
	for (unsigned i = 0; i < sizeof(out); i++)
		out[i] = (uint8_t)(255 - i);
	ck_assert_int_eq(xfer_sync(&st, bu_usb_find_endpoint(wu, 0x01), out, sizeof(out), &actual, 1000), 0);
	ck_assert_int_eq(xfer_sync(&st, bu_usb_find_endpoint(wu, 0x81), in, sizeof(in), &actual, 1000), 0);
	ck_assert_uint_eq(actual, sizeof(out));
	ck_assert_mem_eq(in, out, sizeof(out));
	stack_down(&st);
}
END_TEST

START_TEST(test_hub2_full_speed_hub)
{
	struct stack st;
	struct sim_device *hub;

	/* a full-speed hub has no TT: devices below it need no TT fields */
	stack_up(&st, NULL, 0);
	hub = sim_attach(st.sim, sim_usb2_port(st.sim, 2), &sim_dev_hub2, SIM_SPEED_FULL);
	sim_attach_hub(hub, 3, &sim_dev_hid_kbd, SIM_SPEED_LOW);
	sim_attach_hub(hub, 1, &sim_dev_composite, SIM_SPEED_FULL);
	ck_assert(settle(&st, 10000));
	ck_assert_uint_eq(count_state(&st, BU_DEV_CONFIGURED), 3);
	stack_down(&st);
}
END_TEST

START_TEST(test_hub2_multi_tt)
{
	struct stack st;
	struct sim_device *hub;

	stack_up(&st, NULL, 0);
	hub = sim_attach(st.sim, sim_usb2_port(st.sim, 3), &sim_dev_hub2_mtt, SIM_SPEED_HIGH);
	sim_attach_hub(hub, 1, &sim_dev_hid_kbd, SIM_SPEED_FULL);
	sim_attach_hub(hub, 5, &sim_dev_hid_kbd, SIM_SPEED_LOW);
	sim_attach_hub(hub, 7, &sim_dev_winusb_os1, SIM_SPEED_FULL);
	ck_assert(settle(&st, 10000));
	ck_assert_uint_eq(count_state(&st, BU_DEV_CONFIGURED), 4);
	struct bu_usb_device *h = find_pid(&st, 0x1209, 0xb041);
	ck_assert(h->is_hub && h->hub_mtt);
	ck_assert_uint_eq(sim_device_alt(hub, 0), 1); /* multi-TT alternate setting */
	ck_assert_uint_eq(h->hub_tt_think, 1);
	/* periodic traffic through two TTs at once */
	struct bu_usb_device *wu = find_pid(&st, 0x1209, 0xb011);
	uint8_t rep[64];
	size_t actual;
	ck_assert_int_eq(xfer_sync(&st, bu_usb_find_endpoint(wu, 0x82), rep, sizeof(rep), &actual, 1000), 0);
	ck_assert_uint_eq(actual, 8);
	stack_down(&st);
}
END_TEST

START_TEST(test_hub3_superspeed)
{
	struct stack st;
	struct sim_device *hub, *hub2;

	stack_up(&st, NULL, 0);
	hub = sim_attach(st.sim, sim_usb3_port(st.sim, 1), &sim_dev_hub3, SIM_SPEED_SUPER);
	sim_attach_hub(hub, 2, &sim_dev_msc, SIM_SPEED_SUPER);
	hub2 = sim_attach_hub(hub, 4, &sim_dev_hub3, SIM_SPEED_SUPER);
	sim_attach_hub(hub2, 3, &sim_dev_winusb, SIM_SPEED_SUPER);
	ck_assert(settle(&st, 10000));
	ck_assert_uint_eq(count_state(&st, BU_DEV_CONFIGURED), 4);
	struct bu_usb_device *wu = find_pid(&st, 0x1209, 0xb010);
	ck_assert_uint_eq(wu->route, 0x34);
	ck_assert_uint_eq(wu->tier, 3);
	ck_assert_msg(strstr(json_of(wu), "\"speed\":\"super\""), "%s", json_of(wu));
	uint8_t out[3000], in[4096];
	size_t actual;
	for (unsigned i = 0; i < sizeof(out); i++)
		out[i] = (uint8_t)(i * 13);
	ck_assert_int_eq(xfer_sync(&st, bu_usb_find_endpoint(wu, 0x01), out, sizeof(out), &actual, 1000), 0);
	ck_assert_int_eq(xfer_sync(&st, bu_usb_find_endpoint(wu, 0x81), in, sizeof(in), &actual, 1000), 0);
	ck_assert_uint_eq(actual, sizeof(out));
	ck_assert_mem_eq(in, out, sizeof(out));
	stack_down(&st);
}
END_TEST

/* A full-speed hub behind a multi-TT hub: its slot carries MTT=1 like any
 * full-speed device there (xHCI §6.2.2), and a keyboard below it works. */
START_TEST(test_fs_hub_behind_mtt_hub)
{
	struct stack st;
	struct sim_device *mtt, *fs;

	stack_up(&st, NULL, 0);
	mtt = sim_attach(st.sim, sim_usb2_port(st.sim, 1), &sim_dev_hub2_mtt, SIM_SPEED_HIGH);
	fs = sim_attach_hub(mtt, 3, &sim_dev_hub2, SIM_SPEED_FULL);
	sim_attach_hub(fs, 2, &sim_dev_hid_kbd, SIM_SPEED_LOW);
	run_ms(&st, 1000);
	ck_assert(settle(&st, 10000));
	ck_assert_uint_eq(count_state(&st, BU_DEV_CONFIGURED), 3);
	ck_assert_ptr_nonnull(find_pid(&st, 0x1209, 0xb001));
	ck_assert(find_pid(&st, 0x1209, 0xb041)->hub_mtt);
	stack_down(&st);
}
END_TEST

/* Unplugging from a SuperSpeed hub port leaves the port powered: the next
 * device on it is found (port status bit 9 is PORT_POWER on a USB 3 hub). */
START_TEST(test_hub3_replug_same_port)
{
	struct stack st;
	struct sim_device *hub, *dev;

	stack_up(&st, NULL, 0);
	hub = sim_attach(st.sim, sim_usb3_port(st.sim, 1), &sim_dev_hub3, SIM_SPEED_SUPER);
	for (int i = 0; i < 2; i++) {
		dev = sim_attach_hub(hub, 2, &sim_dev_winusb, SIM_SPEED_SUPER);
		run_ms(&st, 1000);
		ck_assert(settle(&st, 10000));
		ck_assert_ptr_nonnull(find_pid(&st, 0x1209, 0xb010));
		ck_assert_int_eq(find_pid(&st, 0x1209, 0xb010)->state, BU_DEV_CONFIGURED);
		sim_detach(dev);
		run_ms(&st, 1000);
		ck_assert(settle(&st, 10000));
		ck_assert_ptr_null(find_pid(&st, 0x1209, 0xb010));
	}
	stack_down(&st);
}
END_TEST

/* A USB 3 hub that refuses SET_HUB_DEPTH cannot be used; the rest of the bus can. */
START_TEST(test_hub3_depth_refused)
{
	struct stack st;
	struct sim_device *hub;

	stack_up(&st, NULL, 0);
	hub = sim_attach(st.sim, sim_usb3_port(st.sim, 2), &sim_dev_hub3, SIM_SPEED_SUPER);
	sim_attach_hub(hub, 1, &sim_dev_msc, SIM_SPEED_SUPER);
	sim_fault_request(hub, 0x20, 12 /* SET_HUB_DEPTH */, -1, SIM_FAULT_STALL, 0);
	sim_attach(st.sim, sim_usb2_port(st.sim, 1), &sim_dev_hid_kbd, SIM_SPEED_FULL);
	ck_assert(settle(&st, 10000));
	ck_assert_ptr_null(find_pid(&st, 0x1209, 0xb020));
	ck_assert_ptr_nonnull(find_pid(&st, 0x1209, 0xb001));
	ck_assert_int_eq(find_pid(&st, 0x1209, 0xb001)->state, BU_DEV_CONFIGURED);
	stack_down(&st);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* The QEMU usb-kbd twin                                                    */

#ifndef SIM_TEST_DATA
#define SIM_TEST_DATA "."
#endif

/* Replace the value of "key": in a JSON line by "*" (the fields that may differ). */
static void mask_field(char *j, const char *key)
{
	char pat[64];
	char *p, *v, *e;

	snprintf(pat, sizeof(pat), "\"%s\":", key);
	p = strstr(j, pat);
	if (!p)
		return;
	v = p + strlen(pat);
	if (*v == '"') {
		e = strchr(v + 1, '"');
		ck_assert_ptr_nonnull(e);
		e++;
	} else {
		e = v;
		while (*e && *e != ',' && *e != '}')
			e++;
	}
	memmove(v + 1, e, strlen(e) + 1);
	*v = '*';
}

/* The serial's "68284-" stays; the tail (PCI address and port in QEMU) goes. */
static void mask_serial_tail(char *j)
{
	char *p = strstr(j, "\"serial\":\"68284-");
	char *e;

	ck_assert_ptr_nonnull(p);
	p += strlen("\"serial\":\"68284-");
	e = strchr(p, '"');
	memmove(p + 1, e, strlen(e) + 1);
	*p = '*';
}

START_TEST(test_qemu_kbd_same_usbdev)
{
	/* QEMU's qemu-xhci in the runner (p2=8, p3=8): USB 3 ports first, so
	 * USB 2 port n is PORTSC 8 + n. */
	struct sim_config cfg = { .usb2_ports = 8, .usb3_ports = 8, .usb3_first = true };
	struct stack st;
	char line[4096], mine[4096];
	unsigned matched = 0;
	FILE *f = fopen(SIM_TEST_DATA "/qemu-usb-kbd.usbdev", "r");

	ck_assert_msg(f != NULL, "cannot open %s", SIM_TEST_DATA "/qemu-usb-kbd.usbdev");
	stack_up(&st, &cfg, 0);
	/* same ports, same order as the QEMU run: HS keyboard on port 1, FS on port 2 */
	sim_attach(st.sim, sim_usb2_port(st.sim, 1), &sim_dev_qemu_kbd, SIM_SPEED_HIGH);
	ck_assert(settle(&st, 5000));
	sim_attach(st.sim, sim_usb2_port(st.sim, 2), &sim_dev_qemu_kbd, SIM_SPEED_FULL);
	ck_assert(settle(&st, 5000));
	while (fgets(line, sizeof(line), f)) {
		char *q = strstr(line, "usbdev ");
		if (!q)
			continue;
		q += strlen("usbdev ");
		q[strcspn(q, "\r\n")] = 0;
		bool found = false;
		for (struct bu_usb_device *d = st.bus->devices; d; d = d->next) {
			bu_usb_device_json(d, mine, sizeof(mine));
			char qm[4096];
			snprintf(qm, sizeof(qm), "%s", q);
			/* excluded on purpose: which controller slot the device got */
			mask_field(qm, "slot");
			mask_field(mine, "slot");
			mask_serial_tail(qm);
			mask_serial_tail(mine);
			if (strcmp(qm, mine) == 0)
				found = true;
		}
		ck_assert_msg(found, "no sim device gives the usbdev line QEMU gave:\n%s", q);
		matched++;
	}
	fclose(f);
	ck_assert_uint_eq(matched, 2);
	stack_down(&st);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* The model list: every model in it, each with a VID:PID of its own        */

/* A model's VID:PID as vid << 16 | pid, checked to be the same at every
 * speed it has a device descriptor for. */
static uint32_t model_id(const struct sim_device_model *m)
{
	const struct sim_desc_set *sets[] = { &m->low, &m->full, &m->high, &m->super };
	uint32_t id = 0;

	for (unsigned i = 0; i < 4; i++) {
		const struct sim_blob *d = &sets[i]->device;
		uint32_t this;

		if (!d->data)
			continue;
		ck_assert_msg(d->len >= 12, "%s: device descriptor of %u bytes", m->name, d->len);
		this = (uint32_t)(d->data[8] | d->data[9] << 8) << 16 | (d->data[10] | d->data[11] << 8);
		ck_assert_msg(id == 0 || this == id, "%s: VID:PID %04x:%04x at one speed, %04x:%04x at another",
			      m->name, id >> 16, id & 0xffff, this >> 16, this & 0xffff);
		id = this;
	}
	ck_assert_msg(id != 0, "%s: no device descriptor at any speed", m->name);
	return id;
}

/* Tests and the stack find a device by VID:PID (find_pid, winusb.bind):
 * two models with one ID would be taken for each other. */
START_TEST(test_model_ids_unique)
{
	size_t n = 0;

	while (sim_device_models[n])
		n++;
	ck_assert_uint_gt(n, 0);
	for (size_t i = 0; i < n; i++) {
		uint32_t a = model_id(sim_device_models[i]);
		for (size_t j = i + 1; j < n; j++)
			ck_assert_msg(model_id(sim_device_models[j]) != a,
				      "models %s and %s share VID:PID %04x:%04x",
				      sim_device_models[i]->name, sim_device_models[j]->name,
				      a >> 16, a & 0xffff);
	}
}
END_TEST

/* sim_device_models holds as many models as devices.h declares, so a new
 * model cannot be left out of the checks above. */
START_TEST(test_model_list_complete)
{
	static const char decl[] = "extern const struct sim_device_model sim_dev_";
	const char *path = SIM_TEST_DATA "/../../sim/devices/devices.h";
	FILE *f = fopen(path, "r");
	char line[512];
	size_t declared = 0, listed = 0;

	ck_assert_msg(f != NULL, "cannot open %s", path);
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, decl, sizeof(decl) - 1) == 0)
			declared++;
	fclose(f);
	while (sim_device_models[listed])
		listed++;
	ck_assert_msg(declared == listed,
		      "devices.h declares %zu models, sim_device_models lists %zu", declared, listed);
}
END_TEST

static Suite *devices_suite(void)
{
	Suite *s = suite_create("devices");
	TCase *e = tcase_create("enumerate");
	TCase *m = tcase_create("models");
	TCase *h = tcase_create("hubs");
	TCase *l = tcase_create("list");

	tcase_add_loop_test(e, test_enumerate_model, 0, (int)(sizeof(models) / sizeof(models[0])));
	tcase_add_test(e, test_qemu_kbd_same_usbdev);
	tcase_add_test(m, test_winusb_msos2_hs);
	tcase_add_test(m, test_winusb_msos2_ss);
	tcase_add_test(m, test_winusb_msos1);
	tcase_add_test(m, test_winusb_loopback_fs);
	tcase_add_test(m, test_winusb_loopback_hs);
	tcase_add_test(m, test_winusb_loopback_ss);
	tcase_add_test(m, test_answer_hook);
	tcase_add_test(m, test_msc_fs);
	tcase_add_test(m, test_msc_hs);
	tcase_add_test(m, test_msc_ss);
	tcase_add_test(m, test_msc_invalid_cbw);
	tcase_add_test(m, test_composite);
	tcase_add_test(h, test_hub2_single_tt);
	tcase_add_test(h, test_hub2_full_speed_hub);
	tcase_add_test(h, test_hub2_multi_tt);
	tcase_add_test(h, test_hub3_superspeed);
	tcase_add_test(h, test_hub3_depth_refused);
	tcase_add_test(h, test_hub3_replug_same_port);
	tcase_add_test(h, test_fs_hub_behind_mtt_hub);
	tcase_add_test(l, test_model_ids_unique);
	tcase_add_test(l, test_model_list_complete);
	suite_add_tcase(s, e);
	suite_add_tcase(s, m);
	suite_add_tcase(s, h);
	suite_add_tcase(s, l);
	return s;
}

int main(void)
{
	return run_suite(devices_suite());
}
