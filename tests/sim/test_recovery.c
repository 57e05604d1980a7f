/*
 * Recovery from transaction errors on bulk and interrupt endpoints, with
 * the device's data toggle watched: a soft retry (Reset Endpoint TSP=1,
 * xHCI 1.2 §4.6.8.1) of the same TD, a few times at most, then a hard
 * reset (TSP=0) that fails the TD and resets the device's toggle too
 * (CLEAR_FEATURE(ENDPOINT_HALT), USB 2.0 §9.4.5); on controllers whose
 * soft retry is broken (BU_XHCI_QUIRK_NO_SOFT_RETRY, sim_config
 * soft_retry_broken) the hard reset at once. The WinUSB loopback device
 * gives back on bulk IN exactly the bytes it took on bulk OUT, so a byte
 * lost or taken twice shows.
 */
#include "harness.h"

/* The WinUSB loopback device at high speed (bulk max packet 512). */
struct rec {
	struct stack st;
	struct sim_device *sd;
	struct bu_usb_device *dev;
	struct bu_usb_endpoint *out, *in;
};

enum { MPS = 512, TD_LEN = 4 * MPS };

static void rec_up(struct rec *r, const struct sim_config *cfg, uint32_t quirks_on)
{
	struct bu_xhci_options o = { .quirks_on = quirks_on, .xfer_ring_trbs = 16 };

	stack_up_opts(&r->st, cfg, &o, 0);
	r->sd = sim_attach(r->st.sim, sim_usb2_port(r->st.sim, 1), &sim_dev_winusb, SIM_SPEED_HIGH);
	ck_assert_ptr_nonnull(r->sd);
	ck_assert(settle(&r->st, 5000));
	r->dev = find_pid(&r->st, 0x1209, 0xb010);
	ck_assert_ptr_nonnull(r->dev);
	r->out = bu_usb_find_endpoint(r->dev, 0x01);
	r->in = bu_usb_find_endpoint(r->dev, 0x81);
	ck_assert(r->out && r->in);
}

/* A pattern no two TDs share: byte i of TD `td` is (td * 37 + i * 7) & 0xff. */
static void fill(uint8_t *buf, size_t len, unsigned td)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = (uint8_t)(td * 37 + i * 7);
}

/*
 * Read back what the device took on bulk OUT (`len` bytes, all it holds)
 * and compare it with `want`.
 */
static void device_got(struct rec *r, const uint8_t *want, size_t len)
{
	static uint8_t got[8 * TD_LEN];
	size_t actual = 0;

	ck_assert_uint_le(len, sizeof(got));
	ck_assert_msg(sim_winusb_bulk_out_bytes(r->sd) == len,
		      "the device took %llu bytes on bulk OUT, expected %zu",
		      (unsigned long long)sim_winusb_bulk_out_bytes(r->sd), len);
	ck_assert_int_eq(xfer_sync(&r->st, r->in, got, len, &actual, 2000), 0);
	ck_assert_uint_eq(actual, len);
	for (size_t i = 0; i < len; i++)
		ck_assert_msg(got[i] == want[i], "byte %zu: the device has %#04x, expected %#04x", i,
			      got[i], want[i]);
}

/*
 * A bulk OUT stream of three TDs of four packets. The first packet of the
 * second TD fails twice, then the device takes it but its ACK is lost:
 * the third error of CErr = 3, so the endpoint halts with the device one
 * toggle ahead of the host (DATA1 against DATA0). The third TD is queued
 * behind it all along. Returns the second TD's status; *sent is set to
 * what the device must hold: every TD that succeeded, and of a failed one
 * what it reported moved plus the packet whose ACK was lost.
 */
static int out_stream_ack_lost(struct rec *r, uint8_t *sent, size_t *sent_len)
{
	static uint8_t td[3][TD_LEN];
	struct aio a[3];
	size_t n = 0;

	for (unsigned i = 0; i < 3; i++)
		fill(td[i], TD_LEN, i);
	ck_assert_int_eq(aio_submit(&a[0], r->out, td[0], TD_LEN, 0, NULL), 0);
	ck_assert(wait_flag(&r->st, &a[0].done, 1000));
	ck_assert_int_eq(a[0].x.status, 0);
	sim_fault_ep(r->sd, 0x01, SIM_FAULT_XACT, 2, 0);
	sim_fault_ep(r->sd, 0x01, SIM_FAULT_ACK_LOST, 1, 0);
	ck_assert_int_eq(aio_submit(&a[1], r->out, td[1], TD_LEN, 0, NULL), 0);
	ck_assert_int_eq(aio_submit(&a[2], r->out, td[2], TD_LEN, 0, NULL), 0);
	ck_assert(wait_flag(&r->st, &a[1].done, 1000));
	ck_assert(wait_flag(&r->st, &a[2].done, 1000));
	ck_assert_int_eq(a[2].x.status, 0);
	ck_assert_uint_eq(a[2].x.actual, TD_LEN);
	memcpy(sent, td[0], TD_LEN);
	n = TD_LEN;
	if (a[1].x.status == 0) {
		ck_assert_uint_eq(a[1].x.actual, TD_LEN);
		memcpy(sent + n, td[1], TD_LEN);
		n += TD_LEN;
	} else {
		ck_assert_uint_eq(a[1].x.actual, 0);
		memcpy(sent + n, td[1], MPS);
		n += MPS;
	}
	memcpy(sent + n, td[2], TD_LEN);
	*sent_len = n + TD_LEN;
	return a[1].x.status;
}

/*
 * Soft retry: the controller sends the packet again with the toggle it
 * had, the device drops it as a repeat and ACKs, and the TD completes:
 * every byte reaches the device once.
 */
START_TEST(test_out_ack_lost_soft_retry)
{
	static uint8_t sent[3 * TD_LEN];
	struct rec r;
	size_t n;
	int status;

	rec_up(&r, NULL, 0);
	status = out_stream_ack_lost(&r, sent, &n);
	device_got(&r, sent, n);
	ck_assert_int_eq(status, 0);
	stack_down(&r.st);
}
END_TEST

/*
 * A controller whose soft retry is broken (the quirk forced on): the TD
 * fails with a hard reset, the device's toggle is reset with the host's,
 * and the TD queued behind reaches the device whole; the packet whose ACK
 * was lost is there once. The device's CLEAR_FEATURE(ENDPOINT_HALT) is
 * slow (two transaction errors before it goes through), so a TD that did
 * not wait for it would reach the device before its toggle is reset.
 */
START_TEST(test_out_ack_lost_no_soft_retry)
{
	static uint8_t sent[3 * TD_LEN];
	struct sim_config cfg = { .soft_retry_broken = true };
	struct rec r;
	size_t n;
	int status;

	rec_up(&r, &cfg, BU_XHCI_QUIRK_NO_SOFT_RETRY);
	sim_fault_request(r.sd, USB_DIR_OUT | USB_RECIP_ENDPOINT, USB_REQ_CLEAR_FEATURE,
			  USB_FEATURE_ENDPOINT_HALT, SIM_FAULT_XACT, 2);
	status = out_stream_ack_lost(&r, sent, &n);
	device_got(&r, sent, n);
	ck_assert_int_eq(status, BU_EPROTO);
	stack_down(&r.st);
}
END_TEST

/* Poll in small steps until the controller has completed `n` more commands. */
static void run_until_commands(struct rec *r, unsigned n)
{
	struct sim_stats s0, s;

	sim_get_stats(r->st.sim, &s0);
	for (unsigned us = 0; us < 100000; us += 5) {
		bu_usb_bus_poll(r->st.bus);
		sim_get_stats(r->st.sim, &s);
		if (s.commands >= s0.commands + n)
			break;
		sim_advance_us(r->st.sim, 5);
	}
	ck_assert_uint_ge(s.commands, s0.commands + n);
	bu_usb_bus_poll(r->st.bus);
}

/*
 * A TD cancelled after a hard reset's Set TR Dequeue Pointer, while the
 * device's toggle reset is still on its way (the CLEAR_FEATURE takes two
 * transaction errors): it completes cancelled, and its ring space is not
 * handed out again before the controller has walked its No-Ops: a 16-TRB
 * ring filled up at once after it.
 */
START_TEST(test_cancel_during_toggle_reset)
{
	enum { NS = 16 };
	static uint8_t td[2][TD_LEN], stream[NS * MPS];
	static struct aio s[NS];
	struct sim_config cfg = { .map_split = MPS }; /* a TD of several TRBs */
	struct rec r;
	struct aio a[2];
	unsigned n;
	int rc;

	rec_up(&r, &cfg, BU_XHCI_QUIRK_NO_SOFT_RETRY);
	sim_fault_request(r.sd, USB_DIR_OUT | USB_RECIP_ENDPOINT, USB_REQ_CLEAR_FEATURE,
			  USB_FEATURE_ENDPOINT_HALT, SIM_FAULT_XACT, 2);
	sim_fault_ep(r.sd, 0x01, SIM_FAULT_XACT, 3, 0);
	ck_assert_int_eq(aio_submit(&a[0], r.out, td[0], TD_LEN, 0, NULL), 0);
	ck_assert_int_eq(aio_submit(&a[1], r.out, td[1], TD_LEN, 0, NULL), 0);
	ck_assert(wait_flag(&r.st, &a[0].done, 1000));
	ck_assert_int_eq(a[0].x.status, BU_EPROTO);
	run_until_commands(&r, 2); /* Reset Endpoint, Set TR Dequeue Pointer */
	ck_assert(!a[1].done && bu_usb_endpoint_busy(r.out)); /* held for the device */
	ck_assert_int_eq(bu_usb_xfer_cancel(&a[1].x), 0);
	ck_assert(wait_flag(&r.st, &a[1].done, 1000));
	ck_assert_int_eq(a[1].x.status, BU_ECANCELED);
	/* As many TDs at once as the ring takes, before the controller runs. */
	fill(stream, sizeof(stream), 9);
	for (n = 0; n < NS; n++) {
		rc = aio_submit(&s[n], r.out, stream + n * MPS, MPS, 0, NULL);
		if (rc == BU_ENOSPC)
			break;
		ck_assert_int_eq(rc, 0);
	}
	ck_assert_uint_ge(n, 2);
	for (unsigned i = 0; i < n; i++) {
		ck_assert_msg(wait_flag(&r.st, &s[i].done, 1000), "TD %u of %u never completed", i, n);
		ck_assert_int_eq(s[i].x.status, 0);
	}
	device_got(&r, stream, n * MPS);
	stack_down(&r.st);
}
END_TEST

/*
 * A soft retry in the middle of a TD: bulk IN of four packets, the device
 * has two, then NAKs; three errors in a row halt the endpoint there. The
 * controller keeps the transfer state (xHCI 1.2 §4.6.8.1), so once the
 * device has the rest the TD continues where it stopped: every byte lands
 * where it belongs, none twice.
 */
START_TEST(test_in_soft_retry_mid_td)
{
	static uint8_t out[TD_LEN], in[TD_LEN];
	struct rec r;
	struct aio a;
	size_t actual;

	rec_up(&r, NULL, 0);
	fill(out, sizeof(out), 6);
	ck_assert_int_eq(xfer_sync(&r.st, r.out, out, TD_LEN / 2, &actual, 1000), 0);
	ck_assert_int_eq(aio_submit(&a, r.in, in, TD_LEN, 0, NULL), 0);
	run_ms(&r.st, 2);
	ck_assert(!a.done);
	sim_fault_ep(r.sd, 0x81, SIM_FAULT_XACT, 3, 0);
	run_ms(&r.st, 2);
	ck_assert_int_eq(xfer_sync(&r.st, r.out, out + TD_LEN / 2, TD_LEN / 2, &actual, 1000), 0);
	ck_assert(wait_flag(&r.st, &a.done, 1000));
	ck_assert_int_eq(a.x.status, 0);
	ck_assert_uint_eq(a.x.actual, TD_LEN);
	ck_assert_mem_eq(in, out, TD_LEN);
	stack_down(&r.st);
}
END_TEST

/*
 * An error that does not go away: the soft retries are bounded, the TD
 * ends with BU_EPROTO (no endless loop), and once the device answers
 * again the endpoint works with host and device toggles in step - on IN
 * and OUT, with and without soft retry.
 */
static void persistent_error(uint8_t addr, uint32_t quirks_on)
{
	static uint8_t buf[TD_LEN], back[TD_LEN];
	struct rec r;
	struct sim_stats s0, s1;
	struct bu_usb_endpoint *ep;
	size_t actual;

	rec_up(&r, NULL, quirks_on);
	ep = addr == 0x01 ? r.out : r.in;
	sim_get_stats(r.st.sim, &s0);
	sim_fault_ep(r.sd, addr, SIM_FAULT_XACT, 0, 0);
	ck_assert_int_eq(xfer_sync(&r.st, ep, buf, sizeof(buf), &actual, 2000), BU_EPROTO);
	wait_ep_idle(&r.st, ep);
	ck_assert(!ep->halted);
	sim_get_stats(r.st.sim, &s1);
	ck_assert_uint_le(s1.commands - s0.commands, 8); /* a few Reset Endpoints, one Set TR Dequeue */
	sim_fault_clear(r.sd);
	for (unsigned i = 0; i < 3; i++) {
		fill(buf, sizeof(buf), 10 + i);
		ck_assert_int_eq(xfer_sync(&r.st, r.out, buf, sizeof(buf), &actual, 1000), 0);
		ck_assert_int_eq(xfer_sync(&r.st, r.in, back, sizeof(back), &actual, 1000), 0);
		ck_assert_uint_eq(actual, sizeof(back));
		ck_assert_mem_eq(back, buf, sizeof(back));
	}
	stack_down(&r.st);
}

START_TEST(test_persistent_error)
{
	static const struct {
		uint8_t addr;
		uint32_t quirks;
	} c[] = {
		{ 0x01, 0 },
		{ 0x81, 0 },
		{ 0x01, BU_XHCI_QUIRK_NO_SOFT_RETRY },
		{ 0x81, BU_XHCI_QUIRK_NO_SOFT_RETRY },
	};

	persistent_error(c[_i].addr, c[_i].quirks);
}
END_TEST

static Suite *recovery_suite(void)
{
	Suite *s = suite_create("recovery");
	TCase *t = tcase_create("xact");

	tcase_add_test(t, test_out_ack_lost_soft_retry);
	tcase_add_test(t, test_out_ack_lost_no_soft_retry);
	tcase_add_test(t, test_in_soft_retry_mid_td);
	tcase_add_test(t, test_cancel_during_toggle_reset);
	tcase_add_loop_test(t, test_persistent_error, 0, 4);
	suite_add_tcase(s, t);
	return s;
}

int main(void)
{
	return run_suite(recovery_suite());
}
