/*
 * Transaction translator buffers with the real stack (USB 2.0 §11.17.5,
 * §11.24.2.3): a control or bulk transfer to a full-speed device behind a
 * high-speed hub that is cancelled, or halts on a transaction error or a
 * STALL, is followed by CLEAR_TT_BUFFER to that hub - with the right
 * wValue and wIndex - before the endpoint moves again; the sim's hub
 * records a violation for a transaction that meets a busy TT buffer, and
 * for a CLEAR_TT_BUFFER that names nothing behind its TT. None
 * goes out for an interrupt endpoint, EP0's protocol stall, a device on a
 * root port or a high-speed device. A device or hub unplugged while its
 * clear is pending leaves nothing behind.
 */
#include "harness.h"

/* The WinUSB loopback device at full speed on port `port` of a hub on USB 2 root port 1. */
struct tt {
	struct stack st;
	struct sim_device *hub, *sd;
	struct bu_usb_device *dev;
	struct bu_usb_endpoint *out, *in;
};

/* The configured device at tier 2 on hub port `port`. */
static struct bu_usb_device *dev_at(struct stack *st, unsigned port)
{
	for (struct bu_usb_device *d = st->bus->devices; d; d = d->next)
		if (d->tier == 2 && d->port == port && d->state == BU_DEV_CONFIGURED)
			return d;
	ck_abort_msg("no configured device on hub port %u", port);
	return NULL;
}

static void tt_up(struct tt *t, const struct sim_device_model *hub_model, unsigned port,
		  enum sim_speed speed)
{
	stack_up(&t->st, NULL, 0);
	t->hub = sim_attach(t->st.sim, sim_usb2_port(t->st.sim, 1), hub_model, SIM_SPEED_HIGH);
	ck_assert_ptr_nonnull(t->hub);
	t->sd = sim_attach_hub(t->hub, port, &sim_dev_winusb, speed);
	ck_assert_ptr_nonnull(t->sd);
	ck_assert(settle(&t->st, 5000));
	t->dev = dev_at(&t->st, port);
	t->out = bu_usb_find_endpoint(t->dev, 0x01);
	t->in = bu_usb_find_endpoint(t->dev, 0x81);
	ck_assert(t->out && t->in);
	ck_assert_uint_ne(t->dev->address, 0);
	ck_assert_uint_eq(t->dev->address, sim_device_address(t->sd));
}

/* wValue of CLEAR_TT_BUFFER (USB 2.0 §11.24.2.3). */
static uint16_t tt_value(const struct bu_usb_device *dev, unsigned ep_num, unsigned type, bool in)
{
	return (uint16_t)(ep_num | dev->address << 4 | type << 11 | (in ? 0x8000 : 0));
}

/* The hub answered exactly `n` CLEAR_TT_BUFFER requests so far. */
static void expect_clears(struct sim_device *hub, unsigned n)
{
	ck_assert_msg(sim_hub_tt_clears(hub) == n, "%u CLEAR_TT_BUFFER requests, expected %u",
		      sim_hub_tt_clears(hub), n);
}

/* The i-th CLEAR_TT_BUFFER the hub answered had this wValue and wIndex. */
static void expect_clear(struct sim_device *hub, unsigned i, uint16_t value, uint16_t index)
{
	uint16_t v = 0, x = 0;

	ck_assert(sim_hub_tt_clear(hub, i, &v, &x));
	ck_assert_msg(v == value && x == index,
		      "CLEAR_TT_BUFFER %u: wValue %#06x wIndex %u, expected %#06x / %u", i, v, x,
		      value, index);
}

/* Start a bulk IN that finds nothing to read (the device NAKs), then cancel it. */
static void cancel_pending_in(struct stack *st, struct bu_usb_endpoint *in)
{
	static uint8_t buf[64];
	struct aio a;

	ck_assert_int_eq(aio_submit(&a, in, buf, sizeof(buf), 0, NULL), 0);
	run_ms(st, 3);
	ck_assert(!a.done);
	ck_assert_int_eq(bu_usb_xfer_cancel(&a.x), 0);
	ck_assert(wait_flag(st, &a.done, 1000));
	ck_assert_int_eq(a.x.status, BU_ECANCELED);
}

/* Write `len` bytes and read them back through the loopback. */
static void echo(struct stack *st, struct bu_usb_endpoint *out, struct bu_usb_endpoint *in,
		 size_t len, uint8_t seed)
{
	static uint8_t wbuf[512], rbuf[512];
	size_t actual = 0;

	for (size_t i = 0; i < len; i++)
		wbuf[i] = (uint8_t)(seed + i);
	ck_assert_int_eq(xfer_sync(st, out, wbuf, len, &actual, 2000), 0);
	ck_assert_int_eq(xfer_sync(st, in, rbuf, sizeof(rbuf), &actual, 2000), 0);
	ck_assert_uint_eq(actual, len);
	ck_assert_mem_eq(rbuf, wbuf, len);
}

/* ------------------------------------------------------------------------ */
/* Halts and cancels that need a clear                                      */

START_TEST(test_cancelled_bulk_in)
{
	static uint8_t wbuf[40], rbuf[64];
	struct aio w, r;
	struct tt t;

	tt_up(&t, &sim_dev_hub2, 2, SIM_SPEED_FULL);
	cancel_pending_in(&t.st, t.in);
	/* the split was in flight: the TT holds it, and the endpoint waits */
	ck_assert_uint_eq(sim_hub_tt_busy(t.hub), 1);
	ck_assert(bu_usb_endpoint_busy(t.in));
	/* a read queued now goes out only after the clear */
	memset(wbuf, 0x5a, sizeof(wbuf));
	ck_assert_int_eq(aio_submit(&r, t.in, rbuf, sizeof(rbuf), 0, NULL), 0);
	ck_assert_int_eq(aio_submit(&w, t.out, wbuf, sizeof(wbuf), 0, NULL), 0);
	ck_assert(wait_flag(&t.st, &r.done, 2000) && wait_flag(&t.st, &w.done, 2000));
	ck_assert_int_eq(r.x.status, 0);
	ck_assert_uint_eq(r.x.actual, sizeof(wbuf));
	ck_assert_mem_eq(rbuf, wbuf, sizeof(wbuf));
	expect_clears(t.hub, 1);
	expect_clear(t.hub, 0, tt_value(t.dev, 1, 2, true), 1);
	ck_assert_uint_eq(sim_hub_tt_busy(t.hub), 0);
	echo(&t.st, t.out, t.in, 100, 3);
	stack_down(&t.st);
}
END_TEST

/*
 * A bulk OUT fails with `kind` (a transaction error three times in a row,
 * CErr 3, or a functional STALL): the endpoint halts, its TT buffer is
 * cleared, and it works again (after CLEAR_FEATURE(ENDPOINT_HALT) for a STALL).
 */
static void bulk_out_fails(enum sim_fault_kind kind, int err)
{
	uint8_t buf[100] = { 0 };
	size_t actual;
	struct tt t;

	tt_up(&t, &sim_dev_hub2, 2, SIM_SPEED_FULL);
	echo(&t.st, t.out, t.in, 60, 1);
	sim_fault_ep(t.sd, 0x01, kind, kind == SIM_FAULT_XACT ? 3 : 1, 0);
	ck_assert_int_eq(xfer_sync(&t.st, t.out, buf, sizeof(buf), &actual, 1000), err);
	wait_ep_idle(&t.st, t.out);
	expect_clears(t.hub, 1);
	expect_clear(t.hub, 0, tt_value(t.dev, 1, 2, false), 1);
	if (kind == SIM_FAULT_STALL)
		ck_assert_int_eq(bu_usb_reset_endpoint(t.out), 0);
	echo(&t.st, t.out, t.in, 130, 2);
	stack_down(&t.st);
}

/*
 * Nothing goes to the endpoint while its clear waits: the hub NAKs the
 * clear until the 5 s request limit (then RESET_TT goes instead), and a
 * read queued meanwhile - with data there to read - waits for it.
 */
START_TEST(test_held_until_cleared)
{
	static uint8_t wbuf[20], rbuf[64];
	struct aio w, r;
	struct tt t;

	tt_up(&t, &sim_dev_hub2, 2, SIM_SPEED_FULL);
	sim_fault_request(t.hub, 0x23, 8, -1, SIM_FAULT_NAK, 1);
	cancel_pending_in(&t.st, t.in);
	memset(wbuf, 0xa5, sizeof(wbuf));
	ck_assert_int_eq(aio_submit(&w, t.out, wbuf, sizeof(wbuf), 0, NULL), 0);
	ck_assert_int_eq(aio_submit(&r, t.in, rbuf, sizeof(rbuf), 0, NULL), 0);
	run_ms(&t.st, 200);
	ck_assert(w.done && !r.done);
	ck_assert_uint_eq(sim_hub_tt_busy(t.hub), 1);
	ck_assert(wait_flag(&t.st, &r.done, 6000));
	ck_assert_int_eq(r.x.status, 0);
	ck_assert_uint_eq(r.x.actual, sizeof(wbuf));
	ck_assert_uint_eq(sim_hub_tt_busy(t.hub), 0);
	expect_clears(t.hub, 0); /* the NAKed one never got through */
	stack_down(&t.st);
}
END_TEST

START_TEST(test_xact_error_bulk_out)
{
	bulk_out_fails(SIM_FAULT_XACT, BU_EPROTO);
}
END_TEST

/* A functional stall of a bulk endpoint is part of its halt processing (§11.17.5). */
START_TEST(test_stalled_bulk_out)
{
	bulk_out_fails(SIM_FAULT_STALL, BU_ESTALL);
}
END_TEST

/* A control request that halts EP0 on transaction errors: both of its buffers are cleared. */
START_TEST(test_xact_error_control)
{
	uint8_t data[5] = { 1, 2, 3, 4, 5 }, back[8] = { 0 };
	struct tt t;

	tt_up(&t, &sim_dev_hub2, 3, SIM_SPEED_FULL);
	sim_fault_request(t.sd, 0xc0, SIM_WINUSB_REQ_READ, -1, SIM_FAULT_XACT, 3);
	ck_assert_int_eq(bu_usb_control(t.dev, 0xc0, SIM_WINUSB_REQ_READ, 0, 0, back, 5, 1000),
			 BU_EPROTO);
	ck_assert_int_eq(bu_usb_control(t.dev, 0x40, SIM_WINUSB_REQ_WRITE, 0, 0, data, 5, 1000), 5);
	ck_assert_int_eq(bu_usb_control(t.dev, 0xc0, SIM_WINUSB_REQ_READ, 0, 0, back, 5, 1000), 5);
	ck_assert_mem_eq(back, data, 5);
	expect_clears(t.hub, 2);
	expect_clear(t.hub, 0, tt_value(t.dev, 0, 0, false), 1);
	expect_clear(t.hub, 1, tt_value(t.dev, 0, 0, true), 1);
	stack_down(&t.st);
}
END_TEST

/* A multi-TT hub: wIndex names the TT of the device's port. */
START_TEST(test_multi_tt_port)
{
	struct tt t;

	tt_up(&t, &sim_dev_hub2_mtt, 5, SIM_SPEED_FULL);
	ck_assert(t.dev->tt_hub && t.dev->tt_hub->hub_mtt);
	cancel_pending_in(&t.st, t.in);
	echo(&t.st, t.out, t.in, 10, 5);
	expect_clears(t.hub, 1);
	expect_clear(t.hub, 0, tt_value(t.dev, 1, 2, true), 5);
	stack_down(&t.st);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* No clear                                                                 */

/* EP0's protocol stall completes the split and is no halt (§8.5.3.4). */
START_TEST(test_ep0_stall_no_clear)
{
	uint8_t b[16];
	struct tt t;

	tt_up(&t, &sim_dev_hub2, 2, SIM_SPEED_FULL);
	ck_assert_int_eq(bu_usb_control(t.dev, 0xc0, 0x7e, 0, 0, b, sizeof(b), 1000), BU_ESTALL);
	ck_assert_int_eq(bu_usb_control(t.dev, 0x40, SIM_WINUSB_REQ_WRITE, 0, 0, b, 4, 1000), 4);
	expect_clears(t.hub, 0);
	stack_down(&t.st);
}
END_TEST

/* Periodic splits keep no buffer across frames: an interrupt IN cancelled, no clear. */
START_TEST(test_interrupt_cancel_no_clear)
{
	static uint8_t rep[8];
	struct bu_usb_endpoint *kin;
	struct stack st;
	struct sim_device *hub, *kbd;
	size_t actual;

	stack_up(&st, NULL, 0);
	hub = sim_attach(st.sim, sim_usb2_port(st.sim, 1), &sim_dev_hub2, SIM_SPEED_HIGH);
	kbd = sim_attach_hub(hub, 1, &sim_dev_hid_kbd, SIM_SPEED_FULL);
	ck_assert_ptr_nonnull(kbd);
	ck_assert(settle(&st, 5000));
	kin = bu_usb_find_endpoint(dev_at(&st, 1), 0x81);
	ck_assert_ptr_nonnull(kin);
	cancel_pending_in(&st, kin);
	ck_assert_uint_eq(sim_hub_tt_busy(hub), 0);
	sim_kbd_type(kbd, 0x04);
	ck_assert_int_eq(xfer_sync(&st, kin, rep, sizeof(rep), &actual, 1000), 0);
	ck_assert_uint_eq(actual, 8);
	run_ms(&st, 20);
	expect_clears(hub, 0);
	stack_down(&st);
}
END_TEST

/* No TT in the way: a full-speed device on a root port, a high-speed one behind the hub. */
START_TEST(test_no_tt_no_clear)
{
	struct bu_usb_device *fs = NULL, *hs = NULL;
	struct stack st;
	struct sim_device *hub;

	stack_up(&st, NULL, 0);
	ck_assert_ptr_nonnull(sim_attach(st.sim, sim_usb2_port(st.sim, 1), &sim_dev_winusb,
					 SIM_SPEED_FULL));
	hub = sim_attach(st.sim, sim_usb2_port(st.sim, 2), &sim_dev_hub2, SIM_SPEED_HIGH);
	ck_assert_ptr_nonnull(sim_attach_hub(hub, 1, &sim_dev_winusb, SIM_SPEED_HIGH));
	ck_assert(settle(&st, 5000));
	for (struct bu_usb_device *d = st.bus->devices; d; d = d->next) {
		if (d->speed == BU_SPEED_FULL)
			fs = d;
		else if (d->tier == 2)
			hs = d;
	}
	ck_assert(fs && hs && !fs->tt_hub && !hs->tt_hub);
	cancel_pending_in(&st, bu_usb_find_endpoint(fs, 0x81));
	cancel_pending_in(&st, bu_usb_find_endpoint(hs, 0x81));
	echo(&st, bu_usb_find_endpoint(fs, 0x01), bu_usb_find_endpoint(fs, 0x81), 50, 6);
	echo(&st, bu_usb_find_endpoint(hs, 0x01), bu_usb_find_endpoint(hs, 0x81), 50, 7);
	expect_clears(hub, 0);
	stack_down(&st);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Unplugged while a clear is pending                                       */

/*
 * Two full-speed devices behind one TT: A below a full-speed hub (so it is
 * found gone through that hub, while the TT hub is busy) and B on the TT
 * hub. The TT hub NAKs its first CLEAR_TT_BUFFER until the 5 s limit.
 * `a_first`: A's clear is the one on its way and B's waits behind it;
 * else B's is on its way - it fails, so RESET_TT empties the TT, or B's
 * next read meets its busy buffer - and A's waits. A is unplugged
 * meanwhile: nothing for it goes out after.
 */
static void unplug_while_clearing(bool a_first)
{
	struct sim_device *fs_hub, *a;
	struct bu_usb_device *b;
	struct bu_usb_endpoint *a_in = NULL;
	struct tt t;

	tt_up(&t, &sim_dev_hub2, 2, SIM_SPEED_FULL); /* B */
	fs_hub = sim_attach_hub(t.hub, 1, &sim_dev_hub2, SIM_SPEED_FULL);
	ck_assert_ptr_nonnull(fs_hub);
	a = sim_attach_hub(fs_hub, 3, &sim_dev_composite, SIM_SPEED_FULL);
	ck_assert_ptr_nonnull(a);
	run_ms(&t.st, 1000); /* the hubs' status endpoints report them */
	ck_assert(settle(&t.st, 5000));
	b = t.dev;
	for (struct bu_usb_device *d = t.st.bus->devices; d; d = d->next)
		if (d->tier == 3)
			a_in = bu_usb_find_endpoint(d, 0x82);
	ck_assert_ptr_nonnull(a_in);
	ck_assert(a_in->dev->tt_hub == b->tt_hub && a_in->dev->tt_port == 1);
	sim_fault_request(t.hub, 0x23, 8, -1, SIM_FAULT_NAK, 1);
	cancel_pending_in(&t.st, a_first ? a_in : t.in);
	run_ms(&t.st, 5);
	cancel_pending_in(&t.st, a_first ? t.in : a_in);
	run_ms(&t.st, 5);
	ck_assert(bu_usb_endpoint_busy(a_in) && bu_usb_endpoint_busy(t.in));
	sim_detach(a);
	run_ms(&t.st, 1000);
	ck_assert_uint_eq(t.st.removed, 1);
	/* the NAKed request times out; then B's clear goes (or went) out */
	run_ms(&t.st, 5000);
	echo(&t.st, t.out, t.in, 33, 8);
	expect_clears(t.hub, a_first ? 1 : 0);
	if (a_first)
		expect_clear(t.hub, 0, tt_value(b, 1, 2, true), 1);
	/* and the hub clears as before */
	cancel_pending_in(&t.st, t.in);
	echo(&t.st, t.out, t.in, 34, 9);
	expect_clears(t.hub, a_first ? 2 : 1);
	stack_down(&t.st);
}

START_TEST(test_unplugged_clear_on_its_way)
{
	unplug_while_clearing(true);
}
END_TEST

START_TEST(test_unplugged_clear_waiting)
{
	unplug_while_clearing(false);
}
END_TEST

/* The hub itself goes while a clear for a device behind it is on its way. */
START_TEST(test_hub_unplugged_while_clearing)
{
	struct tt t;

	tt_up(&t, &sim_dev_hub2, 2, SIM_SPEED_FULL);
	sim_fault_request(t.hub, 0x23, 8, -1, SIM_FAULT_NAK, 1);
	cancel_pending_in(&t.st, t.in);
	run_ms(&t.st, 20);
	ck_assert(bu_usb_endpoint_busy(t.in));
	sim_detach(t.hub);
	ck_assert(settle(&t.st, 5000));
	ck_assert_uint_eq(t.st.removed, 2);
	ck_assert_ptr_null(t.st.bus->devices);
	run_ms(&t.st, 100);
	stack_down(&t.st);
}
END_TEST

/*
 * The hub stops serving while a clear waits: its driver is unbound, or it
 * answers no TT request (a NAKed CLEAR_TT_BUFFER, then a NAKed RESET_TT:
 * two timeouts fail the hub). The endpoint waits no more; its buffer may
 * still be busy, so nothing is sent to it after.
 */
static void hub_stops_while_clearing(bool unbind)
{
	struct tt t;

	tt_up(&t, &sim_dev_hub2, 2, SIM_SPEED_FULL);
	sim_fault_request(t.hub, 0x23, 8, -1, SIM_FAULT_NAK, 0);
	sim_fault_request(t.hub, 0x23, 9, -1, SIM_FAULT_NAK, 0);
	cancel_pending_in(&t.st, t.in);
	run_ms(&t.st, 20);
	ck_assert(bu_usb_endpoint_busy(t.in));
	if (unbind)
		bu_usb_bus_unregister_driver(t.st.bus, t.dev->tt_hub->ifaces[0].driver);
	run_ms(&t.st, unbind ? 20 : 10100);
	ck_assert(!bu_usb_endpoint_busy(t.in));
	if (!unbind) {
		ck_assert_int_eq(t.dev->tt_hub->error, BU_ETIMEDOUT);
		/* the model sees what a read now would meet */
		ck_assert_uint_eq(sim_hub_tt_busy(t.hub), 1);
		cancel_pending_in(&t.st, t.in);
		ck_assert(sim_has_violation(t.st.sim, "TT buffer busy: CLEAR_TT_BUFFER not sent"));
		sim_clear_violations(t.st.sim);
	}
	stack_down(&t.st);
}

START_TEST(test_hub_unbound_while_clearing)
{
	hub_stops_while_clearing(true);
}
END_TEST

START_TEST(test_hub_fails_while_clearing)
{
	hub_stops_while_clearing(false);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* The hub model's checks of CLEAR_TT_BUFFER                                */

/* Send CLEAR_TT_BUFFER to the hub; true when the model found it wrong (`why` in its violation). */
static bool clear_is_wrong(struct tt *t, uint16_t value, uint16_t index, const char *why)
{
	bool wrong;

	ck_assert_int_eq(bu_usb_control(t->dev->tt_hub, 0x23, 8, value, index, NULL, 0, 1000), 0);
	wrong = sim_has_violation(t->st.sim, why);
	sim_clear_violations(t->st.sim);
	return wrong;
}

START_TEST(test_model_checks_clear)
{
	struct tt t;

	tt_up(&t, &sim_dev_hub2, 2, SIM_SPEED_FULL);
	ck_assert(!clear_is_wrong(&t, tt_value(t.dev, 1, 2, true), 1, "CLEAR_TT_BUFFER"));
	ck_assert(!clear_is_wrong(&t, tt_value(t.dev, 0, 0, false), 1, "CLEAR_TT_BUFFER"));
	ck_assert(clear_is_wrong(&t, tt_value(t.dev, 1, 2, true), 2, "TT port 2"));
	ck_assert(clear_is_wrong(&t, tt_value(t.dev, 2, 3, true), 1, "endpoint type 3"));
	ck_assert(clear_is_wrong(&t, tt_value(t.dev, 5, 2, true), 1, "has no bulk endpoint 5 IN"));
	ck_assert(clear_is_wrong(&t, tt_value(t.dev, 1, 2, false) ^ 0x80, 1, "no such device"));
	ck_assert(clear_is_wrong(&t, tt_value(t.dev, 1, 2, false) | 0x2000, 1, "reserved bits"));
	expect_clears(t.hub, 7);
	stack_down(&t.st);
}
END_TEST

START_TEST(test_model_checks_clear_mtt)
{
	struct tt t;

	tt_up(&t, &sim_dev_hub2_mtt, 5, SIM_SPEED_FULL);
	ck_assert(!clear_is_wrong(&t, tt_value(t.dev, 1, 2, true), 5, "CLEAR_TT_BUFFER"));
	ck_assert(clear_is_wrong(&t, tt_value(t.dev, 1, 2, true), 3, "behind TT port 5"));
	ck_assert(clear_is_wrong(&t, tt_value(t.dev, 1, 2, true), 9, "no such port"));
	stack_down(&t.st);
}
END_TEST

static Suite *tt_suite(void)
{
	Suite *s = suite_create("tt");
	TCase *c = tcase_create("clear");
	TCase *n = tcase_create("none");
	TCase *u = tcase_create("unplug");
	TCase *m = tcase_create("model");

	tcase_add_test(c, test_cancelled_bulk_in);
	tcase_add_test(c, test_held_until_cleared);
	tcase_add_test(c, test_xact_error_bulk_out);
	tcase_add_test(c, test_xact_error_control);
	tcase_add_test(c, test_stalled_bulk_out);
	tcase_add_test(c, test_multi_tt_port);
	tcase_add_test(n, test_ep0_stall_no_clear);
	tcase_add_test(n, test_interrupt_cancel_no_clear);
	tcase_add_test(n, test_no_tt_no_clear);
	tcase_add_test(u, test_unplugged_clear_on_its_way);
	tcase_add_test(u, test_unplugged_clear_waiting);
	tcase_add_test(u, test_hub_unplugged_while_clearing);
	tcase_add_test(u, test_hub_unbound_while_clearing);
	tcase_add_test(u, test_hub_fails_while_clearing);
	suite_add_tcase(s, c);
	suite_add_tcase(s, n);
	tcase_add_test(m, test_model_checks_clear);
	tcase_add_test(m, test_model_checks_clear_mtt);
	suite_add_tcase(s, u);
	suite_add_tcase(s, m);
	return s;
}

int main(void)
{
	return run_suite(tt_suite());
}
