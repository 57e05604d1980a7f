/*
 * The real driver (hcd/ + core/) on the sim: enumeration at every speed a
 * model supports, usbdev JSON, faults with recovery, hot-plug without
 * leaks, two controllers at once.
 */
#include "harness.h"

static unsigned count_configured(struct stack *st)
{
	unsigned n = 0;

	for (struct bu_usb_device *d = st->bus->devices; d; d = d->next)
		n += d->state == BU_DEV_CONFIGURED;
	return n;
}

static struct bu_usb_device *find_dev(struct stack *st, uint16_t vid)
{
	return find_pid(st, vid, 0);
}


/* ------------------------------------------------------------------------ */

static void enum_kbd(enum sim_speed speed, const char *name)
{
	struct stack st;
	struct bu_usb_device *dev;

	stack_up(&st, NULL, 0);
	ck_assert_int_eq(st.create_err, 0);
	ck_assert_ptr_nonnull(sim_attach(st.sim, sim_usb2_port(st.sim, 2), &sim_dev_hid_kbd, speed));
	ck_assert(settle(&st, 3000));
	dev = find_dev(&st, 0x1209);
	ck_assert_ptr_nonnull(dev);
	ck_assert_msg(dev->state == BU_DEV_CONFIGURED, "state %d error %d at %s", dev->state,
		      dev->error, dev->error_step ? dev->error_step : "?");
	ck_assert_uint_eq(dev->desc.idProduct, 0xb001);
	const char *j = json_of(dev);
	ck_assert_msg(strstr(j, name), "%s", j);
	ck_assert_msg(strstr(j, "\"vid\":\"1209\""), "%s", j);
	ck_assert_msg(strstr(j, "\"product\":\"Sim Keyboard\""), "%s", j);
	ck_assert_msg(strstr(j, "\"address\":\"0x81\""), "%s", j);
	ck_assert_uint_eq(st.added, 1);
	stack_down(&st);
}

START_TEST(test_kbd_low)
{
	enum_kbd(SIM_SPEED_LOW, "\"speed\":\"low\"");
}
END_TEST

START_TEST(test_kbd_full)
{
	enum_kbd(SIM_SPEED_FULL, "\"speed\":\"full\"");
}
END_TEST

START_TEST(test_kbd_high)
{
	enum_kbd(SIM_SPEED_HIGH, "\"speed\":\"high\"");
}
END_TEST

START_TEST(test_kbd_csz64_psi_legacy)
{
	struct sim_config cfg = { .csz64 = true, .psi = true, .legacy = true, .scratchpads = 4,
				  .usb3_first = true, .no_write64 = true };
	struct stack st;
	struct bu_usb_device *dev;

	stack_up(&st, &cfg, 0);
	ck_assert_int_eq(st.create_err, 0);
	sim_attach(st.sim, sim_usb2_port(st.sim, 1), &sim_dev_hid_kbd, SIM_SPEED_FULL);
	ck_assert(settle(&st, 3000));
	dev = find_dev(&st, 0x1209);
	ck_assert_ptr_nonnull(dev);
	ck_assert_int_eq(dev->state, BU_DEV_CONFIGURED);
	stack_down(&st);
}
END_TEST

/*
 * The DMA memory docs/platform.md gives, on the model's defaults (32
 * slots, 4 Event Ring segments since ERST Max allows them, 32-byte
 * contexts, no scratchpads): every block whole 64-byte lines. Per bus:
 * DCBAA 33 x 8 -> 320, Command Ring 65 TRBs -> 1088, ERST 64, four
 * 256-TRB segments 16384. Per device: Output Device Context 1024, Input
 * Context 1056 -> 1088, and a 257-TRB ring (4160) for EP0 and for each
 * endpoint; the enumeration buffer is gone once the device is configured.
 */
START_TEST(test_dma_budget)
{
	struct sim_config cfg = { .personality = SIM_PERSONALITY_NONE };
	struct stack st;
	struct sim_stats s0, s1, s2;
	const size_t ring = 4160, bus = 320 + 1088 + 64 + 4 * 4096;

	stack_up(&st, &cfg, 0);
	sim_get_stats(st.sim, &s0);
	ck_assert_uint_eq(s0.dma_bytes, bus);
	sim_attach(st.sim, sim_usb2_port(st.sim, 1), &sim_dev_hid_kbd, SIM_SPEED_FULL);
	ck_assert(settle(&st, 3000));
	sim_get_stats(st.sim, &s1);
	/* A keyboard: EP0 and one interrupt IN endpoint. */
	ck_assert_uint_eq(s1.dma_bytes - s0.dma_bytes, 1024 + 1088 + 2 * ring);
	sim_attach(st.sim, sim_usb2_port(st.sim, 2), &sim_dev_winusb, SIM_SPEED_HIGH);
	ck_assert(settle(&st, 3000));
	sim_get_stats(st.sim, &s2);
	/* The WinUSB loopback: EP0, bulk OUT and IN, interrupt IN. */
	ck_assert_uint_eq(s2.dma_bytes - s1.dma_bytes, 1024 + 1088 + 4 * ring);
	stack_down(&st);
}
END_TEST

START_TEST(test_keyboard_report)
{
	struct stack st;
	struct sim_device *sd;
	struct bu_usb_device *dev;
	uint8_t rep[8] = { 0 };
	int r;

	stack_up(&st, NULL, 0);
	sd = sim_attach(st.sim, sim_usb2_port(st.sim, 1), &sim_dev_hid_kbd, SIM_SPEED_FULL);
	ck_assert(settle(&st, 3000));
	dev = find_dev(&st, 0x1209);
	ck_assert_ptr_nonnull(dev);
	/* SET_REPORT (LEDs) through the core's synchronous control helper */
	uint8_t led = 0x02;
	r = bu_usb_control(dev, 0x21, 0x09, 0x0200, 0, &led, 1, 1000);
	ck_assert_int_eq(r, 1);
	ck_assert_uint_eq(sim_kbd_leds(sd), 0x02);
	/* GET_DESCRIPTOR(report) */
	uint8_t rd[128];
	r = bu_usb_control(dev, 0x81, 0x06, 0x2200, 0, rd, sizeof(rd), 1000);
	ck_assert_int_eq(r, 63);
	(void)rep;
	stack_down(&st);
}
END_TEST

START_TEST(test_hotplug_loop_no_leak)
{
	struct stack st;
	struct sim_stats s0, s1;

	stack_up(&st, NULL, 0);
	ck_assert_int_eq(st.create_err, 0);
	run_ms(&st, 50);
	sim_get_stats(st.sim, &s0);
	for (int i = 0; i < 10; i++) {
		struct sim_device *d = sim_attach(st.sim, sim_usb2_port(st.sim, 1 + i % 2),
						  &sim_dev_hid_kbd,
						  i % 3 == 0 ? SIM_SPEED_LOW : i % 3 == 1 ? SIM_SPEED_FULL : SIM_SPEED_HIGH);
		ck_assert(settle(&st, 3000));
		ck_assert_ptr_nonnull(find_dev(&st, 0x1209));
		ck_assert_int_eq(find_dev(&st, 0x1209)->state, BU_DEV_CONFIGURED);
		sim_detach(d);
		ck_assert(settle(&st, 3000));
		ck_assert_ptr_null(find_dev(&st, 0x1209));
	}
	sim_get_stats(st.sim, &s1);
	ck_assert_uint_eq(st.added, 10);
	ck_assert_uint_eq(st.removed, 10);
	ck_assert_uint_eq(s1.slots_enabled, s0.slots_enabled);
	ck_assert_uint_eq(s1.dma_allocs, s0.dma_allocs);
	ck_assert_uint_eq(s1.dma_bytes, s0.dma_bytes);
	ck_assert_uint_eq(s1.dma_maps, s0.dma_maps);
	ck_assert_uint_eq(s1.heap_bytes, s0.heap_bytes);
	stack_down(&st);
}
END_TEST

START_TEST(test_two_controllers)
{
	struct stack a, b;

	stack_up(&a, NULL, 0);
	stack_up(&b, NULL, 1);
	ck_assert_int_eq(a.create_err, 0);
	ck_assert_int_eq(b.create_err, 0);
	sim_attach(a.sim, sim_usb2_port(a.sim, 1), &sim_dev_hid_kbd, SIM_SPEED_FULL);
	sim_attach(b.sim, sim_usb2_port(b.sim, 3), &sim_dev_hid_kbd, SIM_SPEED_HIGH);
	for (int i = 0; i < 300; i++) {
		run_ms(&a, 10);
		run_ms(&b, 10);
	}
	ck_assert_ptr_nonnull(find_dev(&a, 0x1209));
	ck_assert_ptr_nonnull(find_dev(&b, 0x1209));
	ck_assert_msg(strstr(json_of(find_dev(&b, 0x1209)), "\"bus\":1"), "%s",
		      json_of(find_dev(&b, 0x1209)));
	stack_down(&a);
	stack_down(&b);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Faults                                                                   */

START_TEST(test_fault_stall_string)
{
	struct stack st;
	struct sim_device *sd;
	struct bu_usb_device *dev;

	stack_up(&st, NULL, 0);
	sd = sim_attach(st.sim, sim_usb2_port(st.sim, 1), &sim_dev_hid_kbd, SIM_SPEED_FULL);
	sim_fault_request(sd, 0x80, USB_REQ_GET_DESCRIPTOR, 0x0302, SIM_FAULT_STALL, 0);
	ck_assert(settle(&st, 3000));
	dev = find_dev(&st, 0x1209);
	ck_assert_ptr_nonnull(dev);
	ck_assert_int_eq(dev->state, BU_DEV_CONFIGURED);
	ck_assert(!dev->have_product);
	ck_assert_msg(strstr(json_of(dev), "\"product\":null"), "%s", json_of(dev));
	stack_down(&st);
}
END_TEST

START_TEST(test_fault_stall_set_config)
{
	struct stack st, *s = &st;
	struct sim_device *sd;
	struct bu_usb_device *dev;

	stack_up(s, NULL, 0);
	sd = sim_attach(s->sim, sim_usb2_port(s->sim, 1), &sim_dev_hid_kbd, SIM_SPEED_HIGH);
	sim_fault_request(sd, 0x00, USB_REQ_SET_CONFIGURATION, -1, SIM_FAULT_STALL, 0);
	/* a second, healthy device keeps working */
	sim_attach(s->sim, sim_usb2_port(s->sim, 2), &sim_dev_hid_kbd, SIM_SPEED_FULL);
	ck_assert(settle(s, 5000));
	unsigned ok = 0, failed = 0;
	for (dev = s->bus->devices; dev; dev = dev->next) {
		if (dev->state == BU_DEV_CONFIGURED)
			ok++;
		if (dev->state == BU_DEV_FAILED) {
			failed++;
			ck_assert_int_eq(dev->error, BU_ESTALL);
			ck_assert_msg(strstr(json_of(dev), "\"error\""), "%s", json_of(dev));
		}
	}
	ck_assert_uint_eq(ok, 1);
	ck_assert_uint_eq(failed, 1);
	stack_down(s);
}
END_TEST

START_TEST(test_fault_xact_retried)
{
	struct stack st;
	struct sim_device *sd;

	/* Two transaction errors on EP0 per CErr=3: retried by the controller. */
	stack_up(&st, NULL, 0);
	sd = sim_attach(st.sim, sim_usb2_port(st.sim, 1), &sim_dev_hid_kbd, SIM_SPEED_FULL);
	sim_fault_request(sd, 0x80, USB_REQ_GET_DESCRIPTOR, 0x0100, SIM_FAULT_XACT, 2);
	ck_assert(settle(&st, 3000));
	ck_assert_int_eq(find_dev(&st, 0x1209)->state, BU_DEV_CONFIGURED);
	stack_down(&st);
}
END_TEST

START_TEST(test_fault_xact_exhausted)
{
	struct stack st;
	struct sim_device *sd;
	struct bu_usb_device *dev;

	/* Transaction errors beyond CErr on every configuration read: fails cleanly. */
	stack_up(&st, NULL, 0);
	sd = sim_attach(st.sim, sim_usb2_port(st.sim, 1), &sim_dev_hid_kbd, SIM_SPEED_FULL);
	sim_fault_request(sd, 0x80, USB_REQ_GET_DESCRIPTOR, 0x0200, SIM_FAULT_XACT, 0);
	ck_assert(settle(&st, 10000));
	dev = find_dev(&st, 0x1209);
	ck_assert_ptr_nonnull(dev);
	ck_assert_int_eq(dev->state, BU_DEV_FAILED);
	ck_assert_int_eq(dev->error, BU_EPROTO);
	/* the controller still works: another device enumerates */
	sim_attach(st.sim, sim_usb2_port(st.sim, 3), &sim_dev_hid_kbd, SIM_SPEED_HIGH);
	ck_assert(settle(&st, 3000));
	unsigned ok = 0;
	for (dev = st.bus->devices; dev; dev = dev->next)
		ok += dev->state == BU_DEV_CONFIGURED;
	ck_assert_uint_eq(ok, 1);
	stack_down(&st);
}
END_TEST

START_TEST(test_fault_nak_forever_times_out)
{
	struct stack st;
	struct sim_device *sd;
	struct bu_usb_device *dev;

	stack_up(&st, NULL, 0);
	sd = sim_attach(st.sim, sim_usb2_port(st.sim, 1), &sim_dev_hid_kbd, SIM_SPEED_FULL);
	sim_fault_request(sd, 0x80, USB_REQ_GET_DESCRIPTOR, 0x0200, SIM_FAULT_NAK, 0);
	ck_assert(settle(&st, 30000));
	dev = find_dev(&st, 0x1209);
	ck_assert_ptr_nonnull(dev);
	ck_assert_int_eq(dev->state, BU_DEV_FAILED);
	ck_assert_int_eq(dev->error, BU_ETIMEDOUT);
	stack_down(&st);
}
END_TEST

START_TEST(test_fault_babble)
{
	struct stack st;
	struct sim_device *sd;
	struct bu_usb_device *dev;

	stack_up(&st, NULL, 0);
	sd = sim_attach(st.sim, sim_usb2_port(st.sim, 1), &sim_dev_hid_kbd, SIM_SPEED_FULL);
	sim_fault_request(sd, 0x80, USB_REQ_GET_DESCRIPTOR, 0x0200, SIM_FAULT_BABBLE, 0);
	ck_assert(settle(&st, 10000));
	dev = find_dev(&st, 0x1209);
	ck_assert_ptr_nonnull(dev);
	ck_assert_int_eq(dev->state, BU_DEV_FAILED);
	ck_assert_int_eq(dev->error, BU_EBABBLE);
	stack_down(&st);
}
END_TEST

START_TEST(test_fault_unplug_during_enum)
{
	struct stack st;
	struct sim_device *sd;

	stack_up(&st, NULL, 0);
	sd = sim_attach(st.sim, sim_usb2_port(st.sim, 1), &sim_dev_hid_kbd, SIM_SPEED_FULL);
	run_ms(&st, 170); /* in the middle of reset / addressing */
	sim_detach(sd);
	ck_assert(settle(&st, 10000));
	ck_assert_ptr_null(find_dev(&st, 0x1209));
	sim_attach(st.sim, sim_usb2_port(st.sim, 1), &sim_dev_hid_kbd, SIM_SPEED_FULL);
	ck_assert(settle(&st, 3000));
	ck_assert_int_eq(find_dev(&st, 0x1209)->state, BU_DEV_CONFIGURED);
	stack_down(&st);
}
END_TEST

/* Replace the product string (index 2) with "Replaced"; count device reads. */
static bool replace_product(void *ctx, struct sim_device *dev, uint8_t type, uint8_t index,
			    uint8_t *buf, uint16_t *len, uint16_t cap)
{
	static const char txt[] = "Replaced";
	unsigned n = sizeof(txt) - 1;

	(void)dev;
	if (type == USB_DT_DEVICE)
		++*(unsigned *)ctx;
	if (type != USB_DT_STRING || index != 2 || cap < 2 + 2 * n)
		return true;
	buf[0] = (uint8_t)(2 + 2 * n);
	buf[1] = USB_DT_STRING;
	for (unsigned i = 0; i < n; i++) {
		buf[2 + 2 * i] = (uint8_t)txt[i];
		buf[3 + 2 * i] = 0;
	}
	*len = (uint16_t)(2 + 2 * n);
	return true;
}

START_TEST(test_fault_descriptor_hook)
{
	struct stack st;
	struct sim_device *sd;
	struct bu_usb_device *dev;
	unsigned device_reads = 0;

	stack_up(&st, NULL, 0);
	sd = sim_attach(st.sim, sim_usb2_port(st.sim, 1), &sim_dev_hid_kbd, SIM_SPEED_FULL);
	sim_set_desc_hook(sd, replace_product, &device_reads);
	ck_assert(settle(&st, 3000));
	dev = find_dev(&st, 0x1209);
	ck_assert_ptr_nonnull(dev);
	ck_assert_int_eq(dev->state, BU_DEV_CONFIGURED);
	/* What the device sent, not what its model declares, is reported. */
	ck_assert_msg(strstr(json_of(dev), "\"product\":\"Replaced\""), "%s", json_of(dev));
	ck_assert_uint_ge(device_reads, 2); /* the 8-byte read, then all 18 */
	stack_down(&st);
}
END_TEST

/* One hostile reply: which descriptor, and what is wrong with it. */
enum corruption {
	BAD_DEVICE_TYPE,       /* both device descriptor reads are not one */
	BAD_DEVICE_TYPE_FIRST, /* only the first, 8-byte read */
	BAD_DEVICE_TYPE_FULL,  /* only the second, full 18-byte read */
	BAD_DEVICE_LENGTH,     /* bLength 9 in the full read */
	BAD_MPS0,              /* bMaxPacketSize0 17 at full speed */
	BAD_CONFIG_TYPE,       /* configuration bundle is not one */
	BAD_CONFIG_TOTAL_SMALL,/* wTotalLength 4 (< its own header) */
	BAD_CONFIG_BLENGTH,    /* header bLength 200, past wTotalLength */
	BAD_NUM_CONFIGS,       /* bNumConfigurations 0 */
};

struct corrupt_ctx {
	enum corruption what;
	unsigned device_reads;
};

static bool corrupt_one(void *ctx, struct sim_device *dev, uint8_t type, uint8_t index,
			uint8_t *buf, uint16_t *len, uint16_t cap)
{
	struct corrupt_ctx *c = ctx;

	(void)dev;
	(void)index;
	(void)cap;
	if (type == USB_DT_DEVICE) {
		c->device_reads++;
		switch (c->what) {
		case BAD_DEVICE_TYPE:
			buf[1] = 0x55;
			break;
		case BAD_DEVICE_TYPE_FIRST:
			if (c->device_reads == 1)
				buf[1] = 0x55;
			break;
		case BAD_DEVICE_TYPE_FULL:
			if (c->device_reads >= 2)
				buf[1] = 0x55;
			break;
		case BAD_DEVICE_LENGTH:
			if (c->device_reads >= 2)
				buf[0] = 9;
			break;
		case BAD_MPS0:
			buf[7] = 17;
			break;
		case BAD_NUM_CONFIGS:
			buf[17] = 0;
			break;
		default:
			break;
		}
	} else if (type == USB_DT_CONFIG && *len >= 9) {
		switch (c->what) {
		case BAD_CONFIG_TYPE:
			buf[1] = 0x21;
			break;
		case BAD_CONFIG_TOTAL_SMALL:
			buf[2] = 4;
			buf[3] = 0;
			break;
		case BAD_CONFIG_BLENGTH:
			buf[0] = 200;
			break;
		default:
			break;
		}
	}
	return true;
}

/* Each hostile descriptor fails its device with BU_EBADDESC and an
 * "error" in its usbdev line; a good device beside it is configured. */
START_TEST(test_fault_corrupt_descriptors)
{
	struct corrupt_ctx c = { .what = (enum corruption)_i };
	struct stack st;
	struct sim_device *sd;
	struct bu_usb_device *bad = NULL, *good = NULL;

	stack_up(&st, NULL, 0);
	sd = sim_attach(st.sim, sim_usb2_port(st.sim, 1), &sim_dev_hid_kbd, SIM_SPEED_FULL);
	sim_set_desc_hook(sd, corrupt_one, &c);
	sim_attach(st.sim, sim_usb2_port(st.sim, 2), &sim_dev_winusb, SIM_SPEED_HIGH);
	ck_assert(settle(&st, 5000));
	for (struct bu_usb_device *d = st.bus->devices; d; d = d->next) {
		if (d->root_port == sim_usb2_port(st.sim, 1))
			bad = d;
		else
			good = d;
	}
	ck_assert_ptr_nonnull(bad);
	ck_assert_msg(bad->state == BU_DEV_FAILED && bad->error == BU_EBADDESC,
		      "corruption %d: state %d error %d at %s", _i, bad->state, bad->error,
		      bad->error_step ? bad->error_step : "?");
	ck_assert_msg(strstr(json_of(bad), "\"error\""), "%s", json_of(bad));
	ck_assert_ptr_nonnull(good);
	ck_assert_int_eq(good->state, BU_DEV_CONFIGURED);
	stack_down(&st);
}
END_TEST

/* The configuration claims more than it sends: what arrived is parsed. */
static bool long_total(void *ctx, struct sim_device *dev, uint8_t type, uint8_t index,
		       uint8_t *buf, uint16_t *len, uint16_t cap)
{
	(void)ctx;
	(void)dev;
	(void)index;
	(void)cap;
	if (type == USB_DT_CONFIG && *len >= 9) {
		buf[2] = 0x00;
		buf[3] = 0x10; /* wTotalLength 4096; the reply stays as long as it was */
	}
	return true;
}

START_TEST(test_fault_config_total_lies)
{
	struct stack st;
	struct sim_device *sd;
	struct bu_usb_device *dev;

	stack_up(&st, NULL, 0);
	sd = sim_attach(st.sim, sim_usb2_port(st.sim, 1), &sim_dev_hid_kbd, SIM_SPEED_FULL);
	sim_set_desc_hook(sd, long_total, NULL);
	ck_assert(settle(&st, 3000));
	dev = find_dev(&st, 0x1209);
	ck_assert_ptr_nonnull(dev);
	ck_assert_int_eq(dev->state, BU_DEV_CONFIGURED);
	ck_assert_msg(strstr(json_of(dev), "\"address\":\"0x81\""), "%s", json_of(dev));
	stack_down(&st);
}
END_TEST

static void mark_done(struct bu_usb_xfer *xfer)
{
	*(bool *)xfer->ctx = true;
}

/* Submit a read of the keyboard's report endpoint; *done set on completion. */
static void submit_report_read(struct bu_usb_device *dev, struct bu_usb_xfer *x, uint8_t *rep,
			       size_t len, bool *done)
{
	memset(x, 0, sizeof(*x));
	x->ep = bu_usb_find_endpoint(dev, 0x81);
	ck_assert_ptr_nonnull(x->ep);
	x->buf = rep;
	x->len = len;
	x->complete = mark_done;
	x->ctx = done;
	ck_assert_int_eq(bu_usb_xfer_submit(x), 0);
}

/* Host System Error: the bus fails fast and what was in flight completes. */
START_TEST(test_fault_hse)
{
	struct stack st;
	struct bu_usb_device *dev;
	struct bu_usb_xfer x;
	uint8_t rep[8];
	bool done = false;
	int r = 0;

	stack_up(&st, NULL, 0);
	sim_attach(st.sim, sim_usb2_port(st.sim, 1), &sim_dev_hid_kbd, SIM_SPEED_FULL);
	ck_assert(settle(&st, 3000));
	dev = find_dev(&st, 0x1209);
	ck_assert_ptr_nonnull(dev);
	submit_report_read(dev, &x, rep, sizeof(rep), &done); /* no key pressed: stays pending */
	run_ms(&st, 5);
	ck_assert(!done);
	sim_fault_hse(st.sim);
	for (int i = 0; i < 100 && r == 0; i++) {
		r = bu_usb_bus_poll(st.bus);
		sim_advance_us(st.sim, 1000);
	}
	ck_assert_int_eq(r, BU_ESHUTDOWN);
	ck_assert_msg(done, "the pending transfer was not completed after HSE");
	ck_assert_int_eq(x.status, BU_ESHUTDOWN);
	ck_assert_int_eq(bu_usb_xfer_submit(&x), BU_ESHUTDOWN);
	stack_down(&st);
}
END_TEST

/* CNR never clears: bu_xhci_create gives up after its own bounded wait. */
START_TEST(test_fault_cnr_stuck)
{
	struct stack st;
	uint64_t t0;

	memset(&st, 0, sizeof(st));
	st.sim = sim_create(NULL);
	sim_fault_cnr_stuck(st.sim, true);
	struct bu_xhci_options opts = { .reset_timeout_ms = 50 };
	t0 = sim_now_us(st.sim);
	int r = bu_xhci_create(sim_regs_base(st.sim), sim_platform(st.sim), &opts, 0, &st.bus);
	ck_assert_int_eq(r, BU_ETIMEDOUT);
	ck_assert_uint_le(sim_now_us(st.sim) - t0, 200000);
	st.bus = NULL;
	stack_down(&st);
}
END_TEST

/* An Address Device that never completes is aborted; the commands queued
 * behind it still run, so the devices plugged at the same time enumerate. */
START_TEST(test_fault_cmd_hang)
{
	/* _i 1: CRCR acts at its high dword, as QEMU's does. An abort
	 * written to the low dword alone was lost there: the hung command
	 * timed out twice and the whole bus failed. */
	struct sim_config cfg = { .crcr_high_latch = _i == 1 };
	struct stack st;
	struct bu_usb_device *dev;
	unsigned ok = 0;

	stack_up(&st, &cfg, 0);
	run_ms(&st, 20);
	sim_fault_cmd_hang(st.sim, XHCI_TRB_ADDRESS_DEVICE);
	for (unsigned p = 1; p <= 3; p++)
		sim_attach(st.sim, sim_usb2_port(st.sim, p), &sim_dev_hid_kbd, SIM_SPEED_FULL);
	ck_assert(settle(&st, 30000));
	for (dev = st.bus->devices; dev; dev = dev->next)
		ok += dev->state == BU_DEV_CONFIGURED;
	ck_assert_uint_ge(ok, 2);
	/* and the bus goes on: one more device later */
	sim_attach(st.sim, sim_usb2_port(st.sim, 4), &sim_dev_hid_kbd, SIM_SPEED_HIGH);
	ck_assert(settle(&st, 30000));
	ck_assert_uint_eq(count_configured(&st), ok + 1);
	stack_down(&st);
}
END_TEST

/*
 * RsvdP bits are written back as read (xHCI §5.1). The model reads some
 * RsvdP bits of USBCMD, CONFIG, IMAN and ERSTSZ as 1 and records a
 * violation for any write that drops them; before the driver read-modify-
 * wrote these registers, bring-up, interrupt acknowledgement and HCRST all
 * did. Interrupt-driven, so IMAN is acknowledged too.
 */
START_TEST(test_rsvdp_preserved)
{
	struct sim_config cfg = { .rsvdp_ones = true };
	struct bu_xhci_options o = { .irq = true };
	struct stack st;

	stack_up_opts(&st, &cfg, &o, 0);
	sim_attach(st.sim, sim_usb2_port(st.sim, 1), &sim_dev_hid_kbd, SIM_SPEED_FULL);
	for (unsigned t = 0; t < 1000; t++) { /* 1 s: attach, debounce, enumeration */
		bu_xhci_irq(st.bus);
		bu_usb_bus_poll(st.bus);
		sim_advance_us(st.sim, 1000);
	}
	ck_assert(bu_usb_bus_idle(st.bus));
	ck_assert_ptr_nonnull(find_dev(&st, 0x1209));
	stack_down(&st); /* no violation */
}
END_TEST

START_TEST(test_fault_event_ring_full)
{
	struct stack st;

	stack_up(&st, NULL, 0);
	run_ms(&st, 20);
	sim_fault_event_ring_full(st.sim);
	sim_attach(st.sim, sim_usb2_port(st.sim, 1), &sim_dev_hid_kbd, SIM_SPEED_FULL);
	ck_assert(settle(&st, 5000));
	ck_assert_ptr_nonnull(find_dev(&st, 0x1209));
	ck_assert_int_eq(find_dev(&st, 0x1209)->state, BU_DEV_CONFIGURED);
	stack_down(&st);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Interrupt-driven use (bu_xhci_options.irq, bu_xhci_irq)                   */

struct irq_run {
	struct stack st;
	uint64_t seen;     /* interrupts the model raised that we took */
	unsigned claimed;  /* bu_xhci_irq said "ours" */
};

/* Advance `us` of virtual time; poll on each interrupt and every 10 ms. */
static void irq_run_us(struct irq_run *r, uint64_t us)
{
	struct sim_stats ss;

	for (uint64_t t = 0; t < us; t += 20) {
		sim_advance_us(r->st.sim, 20);
		sim_get_stats(r->st.sim, &ss);
		if (ss.irqs != r->seen) {
			r->seen = ss.irqs;
			r->claimed += bu_xhci_irq(r->st.bus);
			bu_usb_bus_poll(r->st.bus);
		} else if (t % 10000 == 0) {
			bu_usb_bus_poll(r->st.bus); /* the core's timers */
		}
	}
}

START_TEST(test_irq_driven)
{
	struct bu_xhci_options o = { .irq = true };
	struct irq_run r = { 0 };
	struct sim_device *sd;
	struct bu_usb_device *dev;
	struct bu_usb_xfer x;
	uint8_t rep[8] = { 0 };
	bool done = false;
	uint64_t before;
	unsigned claimed;

	stack_up_opts(&r.st, NULL, &o, 0);
	sd = sim_attach(r.st.sim, sim_usb2_port(r.st.sim, 1), &sim_dev_hid_kbd, SIM_SPEED_FULL);
	irq_run_us(&r, 400000);
	dev = find_dev(&r.st, 0x1209);
	ck_assert_ptr_nonnull(dev);
	ck_assert_int_eq(dev->state, BU_DEV_CONFIGURED);
	/* Enumeration is dozens of events: the interrupter kept firing, so
	 * the driver re-enabled it (IE) and cleared EHB each time. */
	ck_assert_uint_ge(r.seen, 10);
	ck_assert_uint_eq(r.claimed, r.seen);
	/* Nothing pending: not ours. */
	ck_assert(!bu_xhci_irq(r.st.bus));

	/* A key press arrives through an interrupt, not the 10 ms timer. */
	submit_report_read(dev, &x, rep, sizeof(rep), &done);
	irq_run_us(&r, 30000);
	ck_assert(!done);
	before = r.seen;
	claimed = r.claimed;
	sim_kbd_type(sd, 0x04); /* 'a' */
	for (int i = 0; i < 500 && !done; i++) {
		struct sim_stats ss;

		sim_advance_us(r.st.sim, 20);
		sim_get_stats(r.st.sim, &ss);
		if (ss.irqs != r.seen) {
			r.seen = ss.irqs;
			r.claimed += bu_xhci_irq(r.st.bus);
			bu_usb_bus_poll(r.st.bus);
		}
	}
	ck_assert_msg(done, "no interrupt completed the report within 10 ms");
	ck_assert_uint_gt(r.seen, before);
	ck_assert_uint_gt(r.claimed, claimed);
	ck_assert_int_eq(x.status, 0);
	ck_assert_uint_eq(rep[2], 0x04);
	stack_down(&r.st);
}
END_TEST

static Suite *stack_suite(void)
{
	Suite *s = suite_create("stack");
	TCase *e = tcase_create("enumerate");
	TCase *f = tcase_create("faults");

	tcase_add_test(e, test_kbd_low);
	tcase_add_test(e, test_kbd_full);
	tcase_add_test(e, test_kbd_high);
	tcase_add_test(e, test_dma_budget);
	tcase_add_test(e, test_kbd_csz64_psi_legacy);
	tcase_add_test(e, test_keyboard_report);
	tcase_add_test(e, test_hotplug_loop_no_leak);
	tcase_add_test(e, test_two_controllers);
	tcase_add_test(e, test_irq_driven);
	tcase_add_test(f, test_fault_stall_string);
	tcase_add_test(f, test_fault_stall_set_config);
	tcase_add_test(f, test_fault_xact_retried);
	tcase_add_test(f, test_fault_xact_exhausted);
	tcase_add_test(f, test_fault_nak_forever_times_out);
	tcase_add_test(f, test_fault_babble);
	tcase_add_test(f, test_fault_unplug_during_enum);
	tcase_add_test(f, test_fault_descriptor_hook);
	tcase_add_loop_test(f, test_fault_corrupt_descriptors, BAD_DEVICE_TYPE, BAD_NUM_CONFIGS + 1);
	tcase_add_test(f, test_fault_config_total_lies);
	tcase_add_test(f, test_fault_hse);
	tcase_add_test(f, test_fault_cnr_stuck);
	tcase_add_loop_test(f, test_fault_cmd_hang, 0, 2);
	tcase_add_test(f, test_fault_event_ring_full);
	tcase_add_test(f, test_rsvdp_preserved);
	suite_add_tcase(s, e);
	suite_add_tcase(s, f);
	return s;
}

int main(void)
{
	return run_suite(stack_suite());
}
