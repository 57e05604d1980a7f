/*
 * The controller itself under stress, the real driver on the sim: a reset
 * that takes seconds or never ends (xHCI §4.2), and a controller that
 * halts on its own (§5.4.2).
 */
#include "harness.h"

/* ------------------------------------------------------------------------ */
/* Log capture                                                              */

/* The last LOG_KEPT lines logged. */
#define LOG_KEPT 128
struct log_lines {
	char text[LOG_KEPT][240];
	unsigned n;
};

static void log_keep(void *ctx, int level, const char *line)
{
	struct log_lines *l = ctx;

	(void)level;
	snprintf(l->text[l->n++ % LOG_KEPT], sizeof(l->text[0]), "%s", line);
}

/* Kept lines that contain `needle`. */
static unsigned log_count(const struct log_lines *l, const char *needle)
{
	unsigned c = 0;

	for (unsigned i = 0; i < l->n && i < LOG_KEPT; i++)
		c += strstr(l->text[i], needle) != NULL;
	return c;
}

/* Hand the sim's INFO (and more severe) lines, the driver's too, to `l`. */
static void log_to(struct sim_config *cfg, struct log_lines *l)
{
	memset(l, 0, sizeof(*l));
	cfg->log_level = BU_LOG_INFO;
	cfg->log_fn = log_keep;
	cfg->log_ctx = l;
}

/* bu_xhci_create on `sim` with default options; *us is how long it took. */
static int create_timed(struct sim *sim, struct bu_usb_bus **bus, uint64_t *us)
{
	uint64_t t0 = sim_now_us(sim);
	int r = bu_xhci_create(sim_regs_base(sim), sim_platform(sim), NULL, 0, bus);

	*us = sim_now_us(sim) - t0;
	return r;
}

/* ------------------------------------------------------------------------ */
/* HCRST                                                                    */

/* A part whose HCRST takes 3 s (Linux allows 10 s at init): the default
 * wait covers it, and says it is still waiting once a second. */
START_TEST(test_reset_takes_3s)
{
	struct sim_config cfg = { .reset_us = 3000000 };
	struct log_lines log;
	struct stack st = { 0 };
	uint64_t took;

	log_to(&cfg, &log);
	st.sim = sim_create(&cfg);
	ck_assert_int_eq(create_timed(st.sim, &st.bus, &took), 0);
	ck_assert_uint_ge(took, 3000000);
	ck_assert_uint_eq(log_count(&log, "still waiting for the reset (HCRST)"), 2);
	stack_down(&st);
}
END_TEST

/* HCRST never clears: bu_xhci_create gives up after the 10 s bound, says
 * why, and leaves nothing allocated. */
START_TEST(test_reset_never_completes)
{
	struct sim_config cfg = { 0 };
	struct log_lines log;
	struct stack st = { 0 };
	uint64_t took;

	log_to(&cfg, &log);
	st.sim = sim_create(&cfg);
	sim_fault_hcrst_stuck(st.sim, true);
	ck_assert_int_eq(create_timed(st.sim, &st.bus, &took), BU_ETIMEDOUT);
	ck_assert_ptr_null(st.bus);
	ck_assert_uint_ge(took, 10000000);
	ck_assert_uint_lt(took, 10100000);
	ck_assert_uint_eq(log_count(&log, "still waiting for the reset (HCRST)"), 9);
	ck_assert_uint_eq(log_count(&log, "reset did not complete in 10000 ms: USBCMD.HCRST still 1"), 1);
	stack_down(&st);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* A controller that halts on its own                                       */

struct done_count {
	unsigned calls;
	int status;
};

static void count_xfer(struct bu_usb_xfer *x)
{
	struct done_count *d = x->ctx;

	d->calls++;
	d->status = x->status;
}

static void count_cmd(struct bu_usb_device *dev, void *ctx, int status)
{
	struct done_count *d = ctx;

	(void)dev;
	d->calls++;
	d->status = status;
}

/* USBSTS.HCH=1 with no HSE or HCE: the pending transfers and the pending
 * command complete with BU_ESHUTDOWN exactly once, the bus is failed, and
 * the log says why with USBSTS decoded. */
START_TEST(test_halt_unexpected)
{
	struct sim_config cfg = { 0 };
	struct log_lines log;
	struct stack st;
	struct bu_usb_device *dev;
	struct bu_usb_xfer x[3];
	struct done_count xd[3] = { { 0 } }, cd = { 0 };
	uint8_t rep[3][8];
	int r = 0;

	log_to(&cfg, &log);
	stack_up(&st, &cfg, 0);
	sim_attach(st.sim, sim_usb2_port(st.sim, 1), &sim_dev_hid_kbd, SIM_SPEED_FULL);
	ck_assert(settle(&st, 3000));
	dev = find_pid(&st, 0x1209, 0);
	ck_assert_ptr_nonnull(dev);
	for (int i = 0; i < 3; i++) { /* no key pressed: they stay pending */
		memset(&x[i], 0, sizeof(x[i]));
		x[i].ep = bu_usb_find_endpoint(dev, 0x81);
		x[i].buf = rep[i];
		x[i].len = sizeof(rep[i]);
		x[i].complete = count_xfer;
		x[i].ctx = &xd[i];
		ck_assert_int_eq(bu_usb_xfer_submit(&x[i]), 0);
	}
	/* A command the core issues (Evaluate Context), here through the
	 * ops table so that its callback can be counted; it hangs. */
	sim_fault_cmd_hang(st.sim, XHCI_TRB_EVALUATE_CTX);
	ck_assert_int_eq(st.bus->ops->dev_update_ep0(dev, count_cmd, &cd), 0);
	run_ms(&st, 5);
	ck_assert_uint_eq(xd[0].calls + xd[1].calls + xd[2].calls + cd.calls, 0);

	sim_fault_halt(st.sim);
	for (int i = 0; i < 10 && r == 0; i++) {
		r = bu_usb_bus_poll(st.bus);
		sim_advance_us(st.sim, 1000);
	}
	ck_assert_int_eq(r, BU_ESHUTDOWN);
	ck_assert(st.bus->failed);
	for (int i = 0; i < 10; i++) /* later polls complete nothing twice */
		ck_assert_int_eq(bu_usb_bus_poll(st.bus), BU_ESHUTDOWN);
	for (int i = 0; i < 3; i++) {
		ck_assert_uint_eq(xd[i].calls, 1);
		ck_assert_int_eq(xd[i].status, BU_ESHUTDOWN);
	}
	ck_assert_uint_eq(cd.calls, 1);
	ck_assert_int_eq(cd.status, BU_ESHUTDOWN);
	ck_assert_uint_eq(log_count(&log, "controller failed: controller halted unexpectedly (USBSTS"), 1);
	ck_assert_uint_eq(log_count(&log, "HCH"), 1);
	ck_assert_int_eq(bu_usb_xfer_submit(&x[0]), BU_ESHUTDOWN);
	stack_down(&st);
}
END_TEST

static Suite *hc_suite(void)
{
	Suite *s = suite_create("hc");
	TCase *reset = tcase_create("reset");
	TCase *halt = tcase_create("halt");

	tcase_add_test(reset, test_reset_takes_3s);
	tcase_add_test(reset, test_reset_never_completes);
	tcase_add_test(halt, test_halt_unexpected);
	suite_add_tcase(s, reset);
	suite_add_tcase(s, halt);
	return s;
}

int main(void)
{
	return run_suite(hc_suite());
}
