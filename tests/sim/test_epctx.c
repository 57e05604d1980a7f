/*
 * Hostile endpoint descriptors and the xHCI endpoint contexts made from
 * them: a device whose configuration carries an endpoint the controller
 * cannot take as described (control endpoint at an OUT address, isochronous
 * wMaxPacketSize 0, a max packet size illegal for its speed and type, a
 * periodic SuperSpeed endpoint with wBytesPerInterval 0, a SuperSpeedPlus
 * isochronous companion) is configured with that endpoint refused or
 * clamped, a WARN line names the endpoint, the device's good endpoints
 * still move data, and the model records no spec violation (each of these
 * contexts is one: the checks are in sim/sim_cmd.c, tested in test_model.c).
 */
#include "harness.h"

/* Endpoint descriptor (USB 2.0 Table 9-13). */
#define EP(addr, attr, mps, ival) 7, USB_DT_ENDPOINT, (addr), (attr), (mps) & 0xff, (mps) >> 8, (ival)
/* SuperSpeed endpoint companion (USB 3.2 Table 9-27). */
#define SSC(burst, attr, bpi) 6, USB_DT_SS_EP_COMP, (burst), (attr), (bpi) & 0xff, (bpi) >> 8
/* SuperSpeedPlus isochronous endpoint companion (USB 3.2 Table 9-28). */
#define SSPC(bpi)                                                                    \
	8, USB_DT_SSP_ISOC_EP_COMP, 0, 0, (bpi) & 0xff, ((bpi) >> 8) & 0xff,           \
	    ((bpi) >> 16) & 0xff, ((bpi) >> 24) & 0xff

#define REFUSED (-1)

/* One hostile endpoint, appended to the device's configuration in an
 * interface of its own (interface 1, alt 0, vendor class). */
struct hostile {
	const char *name;
	const struct sim_device_model *model; /* sim_dev_winusb or sim_dev_hid_kbd */
	enum sim_speed speed;
	bool no_lec;          /* controller without HCCPARAMS2.LEC */
	uint8_t desc[32];     /* endpoint descriptor(s) and companions */
	uint8_t len;
	uint8_t addr;         /* the endpoint to look at */
	int want_mps;         /* max packet size it is opened with, or REFUSED */
	uint8_t want_type;    /* enum bu_usb_ep_type when opened */
	uint32_t want_esit;   /* Max ESIT Payload when opened and periodic */
	const char *log;      /* in the line naming the endpoint */
	int level;            /* that line's level (0: BU_LOG_WARN) */
};

#define D(...) .desc = { __VA_ARGS__ }, .len = sizeof((uint8_t[]){ __VA_ARGS__ })

static const struct hostile cases[] = {
	/* xHCI §4.8.1/§6.2.3: a control endpoint is bidirectional at DCI
	 * 2 x number + 1; an OUT address would put it at an even DCI. */
	{ "control OUT address", &sim_dev_winusb, SIM_SPEED_HIGH, false,
	  D(EP(0x04, 0, 64, 0)), 0x04, REFUSED, 0, 0, "control" },
	/* USB 2.0 §5.6.3: zero-bandwidth isochronous endpoint; no context
	 * with Max Packet Size 0 goes to the controller. */
	{ "isoch maxp 0 (HS)", &sim_dev_winusb, SIM_SPEED_HIGH, false,
	  D(EP(0x84, 1, 0, 1)), 0x84, REFUSED, 0, 0, "wMaxPacketSize 0", BU_LOG_INFO },
	{ "isoch maxp 0 (SS)", &sim_dev_winusb, SIM_SPEED_SUPER, false,
	  D(EP(0x04, 1, 0, 1), SSC(0, 0, 0)), 0x04, REFUSED, 0, 0, "wMaxPacketSize 0",
	  BU_LOG_INFO },
	/* USB 2.0 §5.8.3: full-speed bulk is 8, 16, 32 or 64. */
	{ "FS bulk maxp 24", &sim_dev_winusb, SIM_SPEED_FULL, false,
	  D(EP(0x84, 2, 24, 0)), 0x84, 16, BU_EP_BULK, 0, "0x84" },
	{ "FS bulk maxp 4", &sim_dev_winusb, SIM_SPEED_FULL, false,
	  D(EP(0x04, 2, 4, 0)), 0x04, 8, BU_EP_BULK, 0, "0x04" },
	/* USB 2.0 §5.8.3: high-speed bulk is 512. */
	{ "HS bulk maxp 64", &sim_dev_winusb, SIM_SPEED_HIGH, false,
	  D(EP(0x84, 2, 64, 0)), 0x84, 512, BU_EP_BULK, 0, "0x84" },
	/* USB 3.2 §9.6.6: SuperSpeed bulk is 1024. */
	{ "SS bulk maxp 512", &sim_dev_winusb, SIM_SPEED_SUPER, false,
	  D(EP(0x04, 2, 512, 0), SSC(0, 0, 0)), 0x04, 1024, BU_EP_BULK, 0, "0x04" },
	/* USB 2.0 §5.5.3: control max packet sizes per speed. */
	{ "FS control maxp 24", &sim_dev_winusb, SIM_SPEED_FULL, false,
	  D(EP(0x84, 0, 24, 0)), 0x84, 16, BU_EP_CONTROL, 0, "0x84" },
	{ "HS control maxp 8", &sim_dev_winusb, SIM_SPEED_HIGH, false,
	  D(EP(0x84, 0, 8, 0)), 0x84, 64, BU_EP_CONTROL, 0, "0x84" },
	{ "SS control maxp 64", &sim_dev_winusb, SIM_SPEED_SUPER, false,
	  D(EP(0x84, 0, 64, 0), SSC(0, 0, 0)), 0x84, 512, BU_EP_CONTROL, 0, "0x84" },
	/* USB 2.0 §5.8.3: no bulk at low speed; made interrupt, as Linux does. */
	{ "LS bulk", &sim_dev_hid_kbd, SIM_SPEED_LOW, false,
	  D(EP(0x82, 2, 8, 0)), 0x82, 8, BU_EP_INTERRUPT, 8, "0x82" },
	/* USB 2.0 §5.6.3: no isochronous at low speed. */
	{ "LS isoch", &sim_dev_hid_kbd, SIM_SPEED_LOW, false,
	  D(EP(0x82, 1, 8, 1)), 0x82, REFUSED, 0, 0, "low speed" },
	/* USB 2.0 §5.7.3: low-speed interrupt at most 8. */
	{ "LS interrupt maxp 64", &sim_dev_hid_kbd, SIM_SPEED_LOW, false,
	  D(EP(0x82, 3, 64, 10)), 0x82, 8, BU_EP_INTERRUPT, 8, "0x82" },
	/* USB 3.2 §9.6.7: wBytesPerInterval 0 on a periodic endpoint; the
	 * payload is what maxp x burst x mult carry. */
	{ "SS interrupt bytes/interval 0", &sim_dev_winusb, SIM_SPEED_SUPER, false,
	  D(EP(0x84, 3, 64, 4), SSC(0, 0, 0)), 0x84, 64, BU_EP_INTERRUPT, 64, "0x84" },
	{ "SS isoch bytes/interval 0", &sim_dev_winusb, SIM_SPEED_SUPER, false,
	  D(EP(0x84, 1, 256, 1), SSC(1, 1, 0)), 0x84, 256, BU_EP_ISOCH, 2 * 2 * 256, "0x84" },
	/* USB 3.2 Table 9-27/9-28: an SSP isochronous companion below
	 * SuperSpeedPlus; its dwBytesPerInterval (> 16 bits: Max ESIT Payload
	 * Hi) is not used, with or without LEC. */
	{ "SSP companion at SS, LEC", &sim_dev_winusb, SIM_SPEED_SUPER, false,
	  D(EP(0x84, 1, 1024, 1), SSC(15, 0x80, 4096), SSPC(0x12345)), 0x84, 1024, BU_EP_ISOCH,
	  4096, "0x84" },
	{ "SSP companion at SS, no LEC", &sim_dev_winusb, SIM_SPEED_SUPER, true,
	  D(EP(0x84, 1, 1024, 1), SSC(15, 0x80, 0), SSPC(0x12345)), 0x84, 1024, BU_EP_ISOCH,
	  16 * 1024, "0x84" },
};

static const struct hostile *cur;

/* Append interface 1 with the case's endpoint to the configuration. */
static bool append_hostile(void *ctx, struct sim_device *dev, uint8_t type, uint8_t index,
			   uint8_t *buf, uint16_t *len, uint16_t cap)
{
	const struct hostile *h = ctx;
	uint8_t iface[9] = { 9, USB_DT_INTERFACE, 1, 0, 0, 0xff, 0, 0, 0 };
	unsigned total;

	(void)dev;
	(void)index;
	if (type != USB_DT_CONFIG || *len < 9)
		return true;
	total = buf[2] | buf[3] << 8;
	ck_assert_uint_eq(total, *len);
	ck_assert_uint_le(total + sizeof(iface) + h->len, cap);
	for (unsigned i = 0; i < h->len; i += h->desc[i])
		iface[4] += h->desc[i + 1] == USB_DT_ENDPOINT;
	memcpy(buf + total, iface, sizeof(iface));
	memcpy(buf + total + sizeof(iface), h->desc, h->len);
	total += sizeof(iface) + h->len;
	buf[2] = (uint8_t)total;
	buf[3] = (uint8_t)(total >> 8);
	buf[4]++; /* bNumInterfaces */
	*len = (uint16_t)total;
	return true;
}

/* Lines at INFO or worse, each after its level digit. */
static char warn_log[65536];

static void log_line(void *ctx, int level, const char *line)
{
	size_t n = strlen(warn_log);

	(void)ctx;
	if (level > BU_LOG_INFO || n + strlen(line) + 3 > sizeof(warn_log))
		return;
	warn_log[n] = (char)('0' + level);
	strcpy(warn_log + n + 1, line);
	strcat(warn_log + n + 1, "\n");
}

/* A line at `level` that names the endpoint and says `what`. */
static bool warned(uint8_t addr, const char *what, int level)
{
	char a[8];

	snprintf(a, sizeof(a), "0x%02x", addr);
	for (const char *l = warn_log; *l;) {
		const char *end = strchr(l, '\n');
		char line[512];
		size_t n = end ? (size_t)(end - l) : strlen(l);

		if (n >= sizeof(line))
			n = sizeof(line) - 1;
		memcpy(line, l, n);
		line[n] = 0;
		if (line[0] == '0' + level && strstr(line, a) && strstr(line, what))
			return true;
		l += n + (end ? 1 : 0);
	}
	return false;
}

/* The WinUSB loopback still echoes; the keyboard still reports a key. */
static void good_endpoints_work(struct stack *st, struct sim_device *sd,
				struct bu_usb_device *dev)
{
	static uint8_t out[1500], in[2048];
	size_t actual = 0;

	if (cur->model == &sim_dev_hid_kbd) {
		struct bu_usb_endpoint *ep = bu_usb_find_endpoint(dev, 0x81);
		struct aio a;

		ck_assert_ptr_nonnull(ep);
		ck_assert_int_eq(aio_submit(&a, ep, in, 8, 0, NULL), 0);
		sim_kbd_type(sd, 0x04);
		ck_assert(wait_flag(st, &a.done, 200));
		ck_assert_int_eq(a.x.status, 0);
		ck_assert_uint_eq(in[2], 0x04);
		return;
	}
	for (size_t i = 0; i < sizeof(out); i++)
		out[i] = (uint8_t)(i * 7);
	ck_assert_int_eq(xfer_sync(st, bu_usb_find_endpoint(dev, 0x01), out, sizeof(out), &actual,
				   2000), 0);
	ck_assert_uint_eq(actual, sizeof(out));
	ck_assert_int_eq(xfer_sync(st, bu_usb_find_endpoint(dev, 0x81), in, sizeof(in), &actual,
				   2000), 0);
	ck_assert_uint_eq(actual, sizeof(out));
	ck_assert_mem_eq(in, out, sizeof(out));
}

START_TEST(test_hostile_endpoint)
{
	const struct hostile *h = &cases[_i];
	struct sim_config cfg = { .log_fn = log_line, .log_level = BU_LOG_INFO,
				  .no_lec = h->no_lec };
	struct stack st;
	struct sim_device *sd;
	struct bu_usb_device *dev;
	struct bu_usb_endpoint *ep;
	unsigned dci = USB_ENDPOINT_NUMBER(h->addr) * 2u + (h->addr & USB_DIR_IN ? 1u : 0u);
	unsigned port;

	cur = h;
	warn_log[0] = 0;
	stack_up(&st, &cfg, 0);
	port = h->speed == SIM_SPEED_SUPER ? sim_usb3_port(st.sim, 1) : sim_usb2_port(st.sim, 1);
	sd = sim_attach(st.sim, port, h->model, h->speed);
	ck_assert_ptr_nonnull(sd);
	sim_set_desc_hook(sd, append_hostile, (void *)h);
	ck_assert(settle(&st, 5000));
	dev = find_pid(&st, 0x1209, 0);
	ck_assert_ptr_nonnull(dev);
	print_violations(st.sim);
	ck_assert_msg(dev->state == BU_DEV_CONFIGURED, "%s: state %d error %d at %s", h->name,
		      dev->state, dev->error, dev->error_step ? dev->error_step : "?");
	ck_assert_msg(sim_violations(st.sim) == 0, "%s: %s", h->name, sim_violation(st.sim, 0));
	ck_assert_msg(warned(h->addr, h->log, h->level ? h->level : BU_LOG_WARN),
		      "%s: no line at level %d naming 0x%02x and \"%s\" in:\n%s", h->name,
		      h->level ? h->level : BU_LOG_WARN, h->addr, h->log, warn_log);
	ep = bu_usb_find_endpoint(dev, h->addr);
	if (h->want_mps == REFUSED) {
		ck_assert_msg(ep == NULL, "%s: endpoint opened", h->name);
		ck_assert_int_eq(sim_ep_state(st.sim, dev->slot, dci), XHCI_EP_STATE_DISABLED);
	} else {
		ck_assert_msg(ep != NULL, "%s: endpoint not opened", h->name);
		ck_assert_uint_eq(ep->mps, (unsigned)h->want_mps);
		ck_assert_uint_eq(ep->type, h->want_type);
		if (h->want_esit)
			ck_assert_uint_eq(ep->max_esit, h->want_esit);
		ck_assert_int_eq(sim_ep_state(st.sim, dev->slot, dci), XHCI_EP_STATE_RUNNING);
	}
	good_endpoints_work(&st, sd, dev);
	stack_down(&st);
}
END_TEST

static Suite *epctx_suite(void)
{
	Suite *s = suite_create("epctx");
	TCase *tc = tcase_create("hostile");

	tcase_add_loop_test(tc, test_hostile_endpoint, 0, (int)(sizeof(cases) / sizeof(cases[0])));
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return run_suite(epctx_suite());
}
