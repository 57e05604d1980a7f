/*
 * Regression tests for the findings of the code review fixed in
 * "Fixes from review: lifetimes, cancellation, commands, replug, locking"
 * (2f5d0b5). Each test failed (or died under ASan, or on the model's DMA
 * check) with hcd/ and core/ as they were before that commit.
 *
 * A few tests change the model's command latency after enumeration, or
 * make EP0's status stage fail, by reaching into the model's private state
 * (sim_priv.h): sim.h has no knob for either.
 */
#include "harness.h"
#include "sim_priv.h"

/* The WinUSB loopback device on USB 2 root port 1. */
struct wu {
	struct stack st;
	struct sim_device *sd;
	struct bu_usb_device *dev;
	struct bu_usb_endpoint *out, *in, *intr;
};

static void wu_up_cfg(struct wu *w, enum sim_speed speed, const struct sim_config *cfg,
		      const struct bu_xhci_options *o)
{
	stack_up_opts(&w->st, cfg, o, 0);
	w->sd = sim_attach(w->st.sim, sim_usb2_port(w->st.sim, 1), &sim_dev_winusb, speed);
	ck_assert_ptr_nonnull(w->sd);
	ck_assert(settle(&w->st, 5000));
	w->dev = find_pid(&w->st, 0x1209, 0xb010);
	ck_assert_ptr_nonnull(w->dev);
	ck_assert_int_eq(w->dev->state, BU_DEV_CONFIGURED);
	w->out = bu_usb_find_endpoint(w->dev, 0x01);
	w->in = bu_usb_find_endpoint(w->dev, 0x81);
	w->intr = bu_usb_find_endpoint(w->dev, 0x82);
	ck_assert(w->out && w->in && w->intr);
}

static void wu_up(struct wu *w, const struct bu_xhci_options *o)
{
	wu_up_cfg(w, SIM_SPEED_HIGH, NULL, o);
}

/* Write `len` bytes of a pattern on bulk OUT and read them back on bulk IN. */
static void wu_echo(struct wu *w, size_t len, uint8_t seed)
{
	static uint8_t out[4096], in[4096 + 512];
	size_t actual = 0;

	ck_assert_uint_le(len, sizeof(out));
	for (size_t i = 0; i < len; i++)
		out[i] = (uint8_t)(seed + i);
	ck_assert_int_eq(xfer_sync(&w->st, w->out, out, len, &actual, 2000), 0);
	ck_assert_uint_eq(actual, len);
	ck_assert_int_eq(xfer_sync(&w->st, w->in, in, sizeof(in), &actual, 2000), 0);
	ck_assert_uint_eq(actual, len);
	ck_assert_mem_eq(in, out, len);
}

/* Model command execution time from now on (sim.h sets it only at create). */
static void set_cmd_us(struct sim *sim, uint32_t us)
{
	sim->cfg.cmd_us = us;
}

/* ------------------------------------------------------------------------ */
/* 1. Unplug while a synchronous call waits for Configure Endpoint           */

/* The device is gone before the call looks at it again: the call must return
 * BU_ENODEV without touching the freed device (ASan: heap-use-after-free
 * in bu_core_wait/configure_sync before the fix). */
START_TEST(test_unplug_during_set_interface)
{
	struct wu w;

	wu_up(&w, NULL);
	sim_detach(w.sd); /* the stack notices from the poll inside the call */
	ck_assert_int_eq(bu_usb_set_interface(w.dev, 0, 1), BU_ENODEV);
	ck_assert_uint_eq(w.st.removed, 1);
	ck_assert_ptr_null(find_pid(&w.st, 0x1209, 0xb010));
	run_ms(&w.st, 50);
	stack_down(&w.st);
}
END_TEST

/* The unplug happens during the wait itself: a completion callback on
 * another endpoint pulls the device while Configure Endpoint (slow here)
 * is in flight. */
static struct sim_device *unplug_target;
static bool unplug_done;

static void unplug_in_callback(struct bu_usb_xfer *xfer)
{
	(void)xfer;
	if (unplug_target) {
		sim_detach(unplug_target);
		unplug_target = NULL;
	}
	unplug_done = true;
}

START_TEST(test_unplug_during_reset_endpoint)
{
	struct wu w;
	struct bu_usb_xfer ix;
	static uint8_t ibuf[64];
	int rc;

	wu_up(&w, NULL);
	wu_echo(&w, 100, 1);
	set_cmd_us(w.st.sim, 20000);
	memset(&ix, 0, sizeof(ix));
	ix.ep = w.intr;
	ix.buf = ibuf;
	ix.len = sizeof(ibuf);
	ix.complete = unplug_in_callback;
	unplug_target = w.sd;
	unplug_done = false;
	ck_assert_int_eq(bu_usb_xfer_submit(&ix), 0);
	rc = bu_usb_reset_endpoint(w.in);
	ck_assert_msg(unplug_done, "the interrupt transfer did not complete during the wait");
	ck_assert_int_eq(rc, BU_ENODEV);
	ck_assert_uint_eq(w.st.removed, 1);
	ck_assert_ptr_null(find_pid(&w.st, 0x1209, 0xb010));
	run_ms(&w.st, 200);
	stack_down(&w.st);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* 2. Configure Endpoint completes after its deadline                        */

/* cmd_timeout_ms = 1 and model commands that take about as long: the driver
 * asks for an abort just as the command completes successfully. The rings
 * the controller now runs must stay (before the fix the driver treated the
 * command as aborted, freed the new rings and went on with the old: the
 * model then fetched TRBs from freed DMA memory). Several latencies around
 * the deadline, since which one hits the window depends on poll timing. */
START_TEST(test_configure_completes_after_deadline)
{
	struct bu_xhci_options o = { .cmd_timeout_ms = 1 };
	unsigned ok = 0, failed = 0;

	for (uint32_t us = 985; us <= 1015; us++) {
		struct wu w;
		int rc;

		wu_up(&w, &o);
		if (!getenv("SIM_LOG")) /* one "timed out; aborting" warning per run */
			sim_set_log_level(w.st.sim, BU_LOG_ERR);
		set_cmd_us(w.st.sim, us);
		rc = bu_usb_set_interface(w.dev, 0, 1);
		set_cmd_us(w.st.sim, 20);
		if (rc == 0) {
			ok++;
			ck_assert_uint_eq(sim_device_alt(w.sd, 0), 1);
			ck_assert_ptr_nonnull(bu_usb_find_endpoint(w.dev, 0x83));
		} else {
			failed++;
			ck_assert_uint_eq(sim_device_alt(w.sd, 0), 0);
			ck_assert_ptr_null(bu_usb_find_endpoint(w.dev, 0x83));
		}
		/* the bulk endpoints run on whatever rings the controller has */
		w.out = bu_usb_find_endpoint(w.dev, 0x01);
		w.in = bu_usb_find_endpoint(w.dev, 0x81);
		ck_assert(w.out && w.in);
		wu_echo(&w, 700, (uint8_t)us);
		check_no_violations(w.st.sim);
		stack_down(&w.st);
	}
	/* the sweep straddles the deadline (some completed, some were aborted),
	 * so it went through the window where both happen at once */
	ck_assert_msg(ok > 0 && failed > 0, "sweep missed the deadline: %u completed, %u aborted", ok,
		      failed);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* 3. set_configuration failing keeps the old configuration working          */

static const uint8_t tc_dev[] = { SIM_D_DEVICE(0x0200, 0, 0, 0, 64, 0x1209, 0xbeef, 0x0100, 0, 0,
					       0, 2) };
static const uint8_t tc_cfg1[] = {
	SIM_D_CONFIG(1, 1, 0, 0x80, 50),
	SIM_D_INTERFACE(0, 0, 2, 0xff, 0, 0, 0),
	SIM_D_ENDPOINT(0x02, SIM_EP_BULK, 64, 0),
	SIM_D_ENDPOINT(0x81, SIM_EP_BULK, 64, 0),
};
static const uint8_t tc_cfg2[] = {
	SIM_D_CONFIG(1, 2, 0, 0x80, 50),
	SIM_D_INTERFACE(0, 0, 2, 0xff, 0, 0, 0),
	SIM_D_ENDPOINT(0x81, SIM_EP_BULK, 64, 0),
	SIM_D_ENDPOINT(0x83, SIM_EP_INTR, 8, 1),
};
static unsigned tc_in81, tc_out02;

static int tc_in(struct sim_device *d, uint8_t ep, uint8_t *buf, uint16_t max)
{
	(void)d;
	if (ep == 0x81) {
		uint16_t n = max < 8 ? max : 8;

		tc_in81++;
		memset(buf, 0xaa, n);
		return n;
	}
	return SIM_NAK;
}

static int tc_out(struct sim_device *d, uint8_t ep, const uint8_t *buf, uint16_t len)
{
	(void)d;
	(void)buf;
	if (ep == 0x02) {
		tc_out02 += len;
		return SIM_ACK;
	}
	return SIM_STALL;
}

static const struct sim_device_model tc_model = {
	.name = "twocfg",
	.full = { .device = SIM_BLOB(tc_dev), .configs = { SIM_BLOB(tc_cfg1), SIM_BLOB(tc_cfg2) } },
	.in = tc_in,
	.out = tc_out,
};

START_TEST(test_set_configuration_failure_keeps_old)
{
	struct stack st;
	struct sim_device *sd;
	struct bu_usb_device *dev;
	struct bu_usb_endpoint *in, *out;
	uint8_t buf[8], obuf[20];
	size_t actual = 0;
	int rc;

	stack_up(&st, NULL, 0);
	sd = sim_attach(st.sim, sim_usb2_port(st.sim, 1), &tc_model, SIM_SPEED_FULL);
	ck_assert_ptr_nonnull(sd);
	ck_assert(settle(&st, 5000));
	dev = find_pid(&st, 0x1209, 0xbeef);
	ck_assert_ptr_nonnull(dev);
	ck_assert_int_eq(dev->state, BU_DEV_CONFIGURED);
	ck_assert_uint_eq(sim_device_config(sd), 1);

	sim_fault_bandwidth(st.sim); /* config 2 adds an interrupt endpoint */
	rc = bu_usb_set_configuration(dev, 2);
	ck_assert_int_eq(rc, BU_ENOSPC);

	/* an IN read on 0x81 reaches the device's 0x81 (before the fix the
	 * controller ran it on the ring of config 1's OUT 0x02) */
	in = bu_usb_find_endpoint(dev, 0x81);
	ck_assert_ptr_nonnull(in);
	tc_in81 = tc_out02 = 0;
	memset(buf, 0x55, sizeof(buf));
	rc = xfer_sync(&st, in, buf, sizeof(buf), &actual, 1000);
	ck_assert_msg(tc_out02 == 0, "the IN transfer on 0x81 went to OUT endpoint 0x02 (%u bytes)",
		      tc_out02);
	ck_assert_int_eq(rc, 0);
	ck_assert_uint_eq(actual, 8);
	ck_assert_uint_eq(tc_in81, 1);
	ck_assert_uint_eq(buf[0], 0xaa);

	/* still configuration 1, on both sides, with its endpoints */
	ck_assert_uint_eq(sim_device_config(sd), 1);
	ck_assert_int_ge(dev->active_config, 0);
	ck_assert_uint_eq(dev->configs[dev->active_config].value, 1);
	ck_assert_ptr_null(bu_usb_find_endpoint(dev, 0x83));
	out = bu_usb_find_endpoint(dev, 0x02);
	ck_assert_ptr_nonnull(out);
	memset(obuf, 0x33, sizeof(obuf));
	ck_assert_int_eq(xfer_sync(&st, out, obuf, sizeof(obuf), &actual, 1000), 0);
	ck_assert_uint_eq(actual, sizeof(obuf));
	ck_assert_uint_eq(tc_out02, sizeof(obuf));
	ck_assert_uint_eq(tc_in81, 1);
	stack_down(&st);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* 4. Timeout while the endpoint is being recovered                          */

static unsigned t4_calls;
static int t4_status;

/* Records, then poisons and frees the transfer: ASan sees any later use. */
static void free_in_callback(struct bu_usb_xfer *xfer)
{
	t4_calls++;
	t4_status = xfer->status;
	memset(xfer, 0xa5, sizeof(*xfer));
	free(xfer);
}

START_TEST(test_timeout_while_halted)
{
	struct wu w;
	struct aio a;
	struct bu_usb_xfer *bx;
	static uint8_t b1[512], b2[512];

	wu_up(&w, NULL);
	set_cmd_us(w.st.sim, 20000); /* Reset Endpoint takes 20 ms */
	sim_fault_ep(w.sd, 0x81, SIM_FAULT_STALL, 1, 0);
	t4_calls = 0;
	t4_status = 0;
	ck_assert_int_eq(aio_submit(&a, w.in, b1, sizeof(b1), 0, NULL), 0);
	bx = calloc(1, sizeof(*bx));
	ck_assert_ptr_nonnull(bx);
	bx->ep = w.in;
	bx->buf = b2;
	bx->len = sizeof(b2);
	bx->timeout_ms = 5; /* expires while the STALL recovery runs */
	bx->complete = free_in_callback;
	ck_assert_int_eq(bu_usb_xfer_submit(bx), 0);
	run_ms(&w.st, 100);
	ck_assert(a.done);
	ck_assert_int_eq(a.x.status, BU_ESTALL);
	ck_assert_uint_eq(t4_calls, 1);
	ck_assert_int_eq(t4_status, BU_ETIMEDOUT);
	set_cmd_us(w.st.sim, 20);
	wait_ep_idle(&w.st, w.in);
	ck_assert_int_eq(bu_usb_clear_feature(w.dev, USB_RECIP_ENDPOINT, USB_FEATURE_ENDPOINT_HALT,
					      0x81), 0);
	wu_echo(&w, 600, 4);
	ck_assert_uint_eq(t4_calls, 1);
	stack_down(&w.st);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* 5. Cancel between Stop Endpoint and Set TR Dequeue Pointer                */

/* Two timed reads (commands take 5 ms): A times out at 20 ms, its Stop
 * Endpoint and then Set TR Dequeue run; B's deadline (27 ms) falls between
 * the two. Before the fix B stayed cancelled-but-queued forever. */
START_TEST(test_cancel_between_stop_and_set_deq_timed)
{
	struct wu w;
	struct aio a, b;
	static uint8_t b1[512], b2[512];

	wu_up(&w, NULL);
	set_cmd_us(w.st.sim, 5000);
	ck_assert_int_eq(aio_submit(&a, w.in, b1, sizeof(b1), 20, NULL), 0);
	run_us(&w.st, 7000, 250);
	ck_assert_int_eq(aio_submit(&b, w.in, b2, sizeof(b2), 20, NULL), 0);
	ck_assert(wait_flag(&w.st, &a.done, 1000));
	ck_assert_int_eq(a.x.status, BU_ETIMEDOUT);
	ck_assert_msg(wait_flag(&w.st, &b.done, 1000), "B (20 ms timeout) never completed");
	ck_assert_int_eq(b.x.status, BU_ETIMEDOUT);
	set_cmd_us(w.st.sim, 20);
	wait_ep_idle(&w.st, w.in);
	wu_echo(&w, 513, 5);
	stack_down(&w.st);
}
END_TEST

/* The same window hit on purpose: A is cancelled and completes from the
 * Stop Endpoint completion, which queues Set TR Dequeue (slow); B is
 * cancelled right then. */
START_TEST(test_cancel_between_stop_and_set_deq)
{
	struct wu w;
	struct aio a, b;
	static uint8_t b1[512], b2[512];

	wu_up(&w, NULL);
	ck_assert_int_eq(aio_submit(&a, w.in, b1, sizeof(b1), 0, NULL), 0);
	ck_assert_int_eq(aio_submit(&b, w.in, b2, sizeof(b2), 0, NULL), 0);
	run_ms(&w.st, 2); /* A is on the wire, NAKed */
	set_cmd_us(w.st.sim, 5000);
	ck_assert_int_eq(bu_usb_xfer_cancel(&a.x), 0);
	ck_assert(wait_flag(&w.st, &a.done, 1000));
	ck_assert_int_eq(a.x.status, BU_ECANCELED);
	ck_assert(!b.done);
	ck_assert_int_eq(bu_usb_xfer_cancel(&b.x), 0);
	ck_assert_msg(wait_flag(&w.st, &b.done, 1000), "B cancelled during Set TR Dequeue never completed");
	ck_assert_int_eq(b.x.status, BU_ECANCELED);
	set_cmd_us(w.st.sim, 20);
	wait_ep_idle(&w.st, w.in);
	wu_echo(&w, 300, 6);
	stack_down(&w.st);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* 6. Quick unplug/replug on a root port between two polls                   */

START_TEST(test_root_port_quick_replug)
{
	struct stack st;
	unsigned port;
	struct sim_device *sd;

	stack_up(&st, NULL, 0);
	port = sim_usb2_port(st.sim, 1);
	sd = sim_attach(st.sim, port, &sim_dev_hid_kbd, SIM_SPEED_FULL);
	ck_assert_ptr_nonnull(sd);
	ck_assert(settle(&st, 5000));
	ck_assert_uint_eq(st.added, 1);
	/* no poll between the two: the port reads connected, with CSC */
	sim_detach(sd);
	sd = sim_attach(st.sim, port, &sim_dev_hid_kbd, SIM_SPEED_FULL);
	ck_assert_ptr_nonnull(sd);
	ck_assert(settle(&st, 5000));
	run_ms(&st, 200);
	ck_assert_msg(st.added == 2 && st.removed == 1, "quick replug: added %u, removed %u", st.added,
		      st.removed);
	ck_assert_uint_ne(sim_device_address(sd), 0);
	ck_assert_uint_eq(sim_device_config(sd), 1);
	ck_assert_uint_eq(count_state(&st, BU_DEV_CONFIGURED), 1);
	stack_down(&st);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* 7. A reused control transfer after a short data stage and a failed status */

static void ctrl_setup(struct bu_usb_xfer *x, uint8_t bm, uint8_t req, uint16_t len)
{
	x->setup[0] = bm;
	x->setup[1] = req;
	x->setup[2] = x->setup[3] = 0;
	x->setup[4] = x->setup[5] = 0;
	x->setup[6] = (uint8_t)len;
	x->setup[7] = (uint8_t)(len >> 8);
	x->len = len;
}

START_TEST(test_control_reuse_after_short_and_failed_status)
{
	struct wu w;
	struct aio c;
	static uint8_t data[10], buf[64];
	struct sim_ep *mep;

	wu_up_cfg(&w, SIM_SPEED_FULL, NULL, NULL);
	for (unsigned i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(0x60 + i);
	ck_assert_int_eq(bu_usb_control(w.dev, 0x40, SIM_WINUSB_REQ_WRITE, 0, 0, data, sizeof(data),
					1000), (int)sizeof(data));

	/* READ with wLength 64: 10 bytes (short), then the status stage STALLs.
	 * The model has no fault for a status stage alone: its request result
	 * is flipped once the data stage went out (a FS packet takes ~12 us). */
	memset(&c, 0, sizeof(c));
	c.x.ep = &w.dev->ep0;
	c.x.buf = buf;
	c.x.complete = aio_complete;
	c.x.ctx = &c;
	ctrl_setup(&c.x, 0xc0, SIM_WINUSB_REQ_READ, 64);
	ck_assert_int_eq(bu_usb_xfer_submit(&c.x), 0);
	mep = &w.st.sim->slot[w.dev->slot].ep[1];
	for (int i = 0; i < 5000 && !(w.sd->setup_valid && w.sd->ctrl_pos > 0); i++)
		sim_advance_us(w.st.sim, 1);
	ck_assert_msg(w.sd->setup_valid && w.sd->ctrl_pos == sizeof(data) && mep->ctrl_stage == 2,
		      "data stage not staged (pos %u stage %d)", w.sd->ctrl_pos, mep->ctrl_stage);
	w.sd->ctrl_result = SIM_STALL;
	ck_assert(wait_flag(&w.st, &c.done, 1000));
	ck_assert_int_eq(c.x.status, BU_ESTALL);
	ck_assert_mem_eq(buf, data, sizeof(data));
	wait_ep_idle(&w.st, &w.dev->ep0);

	/* The same struct again, a full-length read this time (no short packet,
	 * so only the status stage reports): actual is the whole length. */
	memset(buf, 0, sizeof(buf));
	c.done = false;
	ctrl_setup(&c.x, 0xc0, SIM_WINUSB_REQ_READ, sizeof(data));
	ck_assert_int_eq(bu_usb_xfer_submit(&c.x), 0);
	ck_assert(wait_flag(&w.st, &c.done, 1000));
	ck_assert_int_eq(c.x.status, 0);
	ck_assert_msg(c.x.actual == sizeof(data), "reused control transfer: actual %zu, expected %zu",
		      c.x.actual, sizeof(data));
	ck_assert_mem_eq(buf, data, sizeof(data));
	stack_down(&w.st);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* 8. Resubmitting callbacks while endpoint recovery fails                   */

static unsigned t8_calls, t8_cap;
static int t8_last_status, t8_last_submit;

static void resubmit_cb(struct bu_usb_xfer *x)
{
	t8_calls++;
	t8_last_status = x->status;
	if (t8_calls < t8_cap)
		t8_last_submit = bu_usb_xfer_submit(x);
}

START_TEST(test_failed_recovery_resubmit)
{
	struct bu_xhci_options o = { .cmd_timeout_ms = 5 };
	struct wu w;
	struct bu_usb_xfer x, y;
	static uint8_t b[512], c[512], ib[64];
	size_t actual;

	wu_up(&w, &o);
	t8_calls = 0;
	t8_cap = 1000; /* stop a loop so that the test can report it */
	t8_last_status = t8_last_submit = 0;
	sim_fault_ep(w.sd, 0x81, SIM_FAULT_STALL, 1, 0);
	sim_fault_cmd_hang(w.st.sim, XHCI_TRB_RESET_EP);
	memset(&x, 0, sizeof(x));
	x.ep = w.in;
	x.buf = b;
	x.len = sizeof(b);
	x.complete = resubmit_cb;
	ck_assert_int_eq(bu_usb_xfer_submit(&x), 0);
	run_ms(&w.st, 50);
	ck_assert_msg(t8_calls <= 3, "%u completions: the failure loops on resubmissions", t8_calls);
	ck_assert_uint_eq(t8_calls, 2); /* the STALL, then the failed recovery */
	ck_assert_int_eq(t8_last_status, BU_EIO);
	ck_assert_int_eq(t8_last_submit, BU_EIO);
	/* the endpoint refuses new work */
	memset(&y, 0, sizeof(y));
	y.ep = w.in;
	y.buf = c;
	y.len = sizeof(c);
	y.complete = resubmit_cb;
	ck_assert_int_eq(bu_usb_xfer_submit(&y), BU_EIO);
	ck_assert(!bu_usb_endpoint_busy(w.in));
	/* the rest of the device still works */
	ck_assert_int_eq(xfer_sync(&w.st, w.intr, ib, sizeof(ib), &actual, 1000), 0);
	ck_assert_uint_eq(actual, 8);
	/* and bu_usb_reset_endpoint (fresh ring, CLEAR_FEATURE) brings 0x81 back */
	ck_assert_int_eq(bu_usb_reset_endpoint(w.in), 0);
	wu_echo(&w, 200, 8);
	stack_down(&w.st);
}
END_TEST

static Suite *regress_suite(void)
{
	Suite *s = suite_create("regress");
	TCase *t = tcase_create("review");

	tcase_set_timeout(t, 60);
	tcase_add_test(t, test_unplug_during_set_interface);
	tcase_add_test(t, test_unplug_during_reset_endpoint);
	tcase_add_test(t, test_configure_completes_after_deadline);
	tcase_add_test(t, test_set_configuration_failure_keeps_old);
	tcase_add_test(t, test_timeout_while_halted);
	tcase_add_test(t, test_cancel_between_stop_and_set_deq_timed);
	tcase_add_test(t, test_cancel_between_stop_and_set_deq);
	tcase_add_test(t, test_root_port_quick_replug);
	tcase_add_test(t, test_control_reuse_after_short_and_failed_status);
	tcase_add_test(t, test_failed_recovery_resubmit);
	suite_add_tcase(s, t);
	return s;
}

int main(void)
{
	return run_suite(regress_suite());
}
