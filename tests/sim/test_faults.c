/*
 * Endpoint-level faults with the real stack: each produces the documented
 * error, the stack recovers, and other transfers and devices keep working.
 * Also cancellation in the middle of a queue, endpoint reset and data
 * toggles, alternate settings with isochronous endpoints, Event Ring Full
 * reached by a driver falling behind, hot-plug loops with hubs, and two
 * controllers at once.
 */
#include "harness.h"

/* The WinUSB loopback device at high speed on USB 2 root port 1. */
struct wu {
	struct stack st;
	struct sim_device *sd;
	struct bu_usb_device *dev;
	struct bu_usb_endpoint *out, *in, *intr;
};

static void wu_up(struct wu *w, enum sim_speed speed, const struct bu_xhci_options *o)
{
	stack_up_opts(&w->st, NULL, o, 0);
	w->sd = sim_attach(w->st.sim,
			   speed == SIM_SPEED_SUPER ? sim_usb3_port(w->st.sim, 1)
						    : sim_usb2_port(w->st.sim, 1),
			   &sim_dev_winusb, speed);
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

/* Write `len` bytes of a pattern starting at `seed` and read them back. */
static void wu_echo(struct wu *w, size_t len, uint8_t seed)
{
	static uint8_t out[16384], in[16384 + 512];
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

/* ------------------------------------------------------------------------ */
/* STALL                                                                    */

START_TEST(test_bulk_in_stall)
{
	struct wu w;
	uint8_t buf[512];
	size_t actual;

	wu_up(&w, SIM_SPEED_HIGH, NULL);
	wu_echo(&w, 700, 1);
	sim_fault_ep(w.sd, 0x81, SIM_FAULT_STALL, 1, 0);
	ck_assert_int_eq(xfer_sync(&w.st, w.in, buf, sizeof(buf), &actual, 1000), BU_ESTALL);
	/* the controller side is recovered by the driver on its own */
	wait_ep_idle(&w.st, w.in);
	ck_assert(!w.in->halted);
	/* the device's endpoint is still halted: STALL again until CLEAR_FEATURE */
	ck_assert_int_eq(xfer_sync(&w.st, w.in, buf, sizeof(buf), &actual, 1000), BU_ESTALL);
	wait_ep_idle(&w.st, w.in);
	ck_assert_int_eq(bu_usb_clear_feature(w.dev, USB_RECIP_ENDPOINT, USB_FEATURE_ENDPOINT_HALT, 0x81), 0);
	wu_echo(&w, 1500, 2);
	wu_echo(&w, 3, 3);
	stack_down(&w.st);
}
END_TEST

START_TEST(test_bulk_out_stall)
{
	struct wu w;
	uint8_t buf[100] = { 0 };
	size_t actual;

	wu_up(&w, SIM_SPEED_FULL, NULL);
	wu_echo(&w, 130, 1);
	sim_fault_ep(w.sd, 0x01, SIM_FAULT_STALL, 1, 0);
	ck_assert_int_eq(xfer_sync(&w.st, w.out, buf, sizeof(buf), &actual, 1000), BU_ESTALL);
	wait_ep_idle(&w.st, w.out);
	ck_assert_int_eq(bu_usb_clear_feature(w.dev, USB_RECIP_ENDPOINT, USB_FEATURE_ENDPOINT_HALT, 0x01), 0);
	wu_echo(&w, 200, 4);
	stack_down(&w.st);
}
END_TEST

START_TEST(test_interrupt_stall)
{
	struct wu w;
	uint8_t rep[64];
	size_t actual;

	wu_up(&w, SIM_SPEED_HIGH, NULL);
	ck_assert_int_eq(xfer_sync(&w.st, w.intr, rep, sizeof(rep), &actual, 1000), 0);
	sim_fault_ep(w.sd, 0x82, SIM_FAULT_STALL, 1, 0);
	ck_assert_int_eq(xfer_sync(&w.st, w.intr, rep, sizeof(rep), &actual, 1000), BU_ESTALL);
	wait_ep_idle(&w.st, w.intr);
	ck_assert_int_eq(bu_usb_clear_feature(w.dev, USB_RECIP_ENDPOINT, USB_FEATURE_ENDPOINT_HALT, 0x82), 0);
	ck_assert_int_eq(xfer_sync(&w.st, w.intr, rep, sizeof(rep), &actual, 1000), 0);
	ck_assert_uint_eq(actual, 8);
	/* and the bulk pair was never disturbed */
	wu_echo(&w, 600, 9);
	stack_down(&w.st);
}
END_TEST

/* STALL with more transfers queued behind: each STALLs until cleared, then all work. */
START_TEST(test_stall_with_queue)
{
	struct wu w;
	struct aio a[3];
	static uint8_t buf[3][512];
	unsigned order = 0;

	wu_up(&w, SIM_SPEED_HIGH, NULL);
	sim_fault_ep(w.sd, 0x81, SIM_FAULT_STALL, 1, 0);
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(aio_submit(&a[i], w.in, buf[i], sizeof(buf[i]), 0, &order), 0);
	for (int i = 0; i < 3; i++)
		ck_assert(wait_flag(&w.st, &a[i].done, 1000));
	for (int i = 0; i < 3; i++) {
		ck_assert_int_eq(a[i].x.status, BU_ESTALL);
		ck_assert_uint_eq(a[i].seq, (unsigned)i + 1);
	}
	wait_ep_idle(&w.st, w.in);
	ck_assert_int_eq(bu_usb_reset_endpoint(w.in), 0);
	wu_echo(&w, 1000, 5);
	stack_down(&w.st);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Babble, transaction errors, NAK, short packets                           */

START_TEST(test_babble)
{
	struct wu w;
	uint8_t rep[64], buf[512];
	size_t actual;

	wu_up(&w, SIM_SPEED_HIGH, NULL);
	/* interrupt IN: the device sends more than max packet */
	sim_fault_ep(w.sd, 0x82, SIM_FAULT_BABBLE, 1, 0);
	ck_assert_int_eq(xfer_sync(&w.st, w.intr, rep, sizeof(rep), &actual, 1000), BU_EBABBLE);
	wait_ep_idle(&w.st, w.intr);
	ck_assert_int_eq(xfer_sync(&w.st, w.intr, rep, sizeof(rep), &actual, 1000), 0);
	ck_assert_uint_eq(actual, 8);
	/* bulk IN too: the endpoint is usable afterwards, the data still there */
	uint8_t out[300];
	memset(out, 0x5c, sizeof(out));
	ck_assert_int_eq(xfer_sync(&w.st, w.out, out, sizeof(out), &actual, 1000), 0);
	sim_fault_ep(w.sd, 0x81, SIM_FAULT_BABBLE, 1, 0);
	ck_assert_int_eq(xfer_sync(&w.st, w.in, buf, sizeof(buf), &actual, 1000), BU_EBABBLE);
	wait_ep_idle(&w.st, w.in);
	ck_assert_int_eq(xfer_sync(&w.st, w.in, buf, sizeof(buf), &actual, 1000), 0);
	ck_assert_uint_eq(actual, sizeof(out));
	ck_assert_mem_eq(buf, out, sizeof(out));
	stack_down(&w.st);
}
END_TEST

START_TEST(test_xact_retried_within_cerr)
{
	struct wu w;
	uint8_t out[100], in[512];
	size_t actual;

	wu_up(&w, SIM_SPEED_HIGH, NULL);
	memset(out, 0x11, sizeof(out));
	ck_assert_int_eq(xfer_sync(&w.st, w.out, out, sizeof(out), &actual, 1000), 0);
	/* CErr = 3: two errors in a row are retried by the controller */
	sim_fault_ep(w.sd, 0x81, SIM_FAULT_XACT, 2, 0);
	ck_assert_int_eq(xfer_sync(&w.st, w.in, in, sizeof(in), &actual, 1000), 0);
	ck_assert_uint_eq(actual, sizeof(out));
	stack_down(&w.st);
}
END_TEST

START_TEST(test_xact_exhausts_cerr)
{
	struct wu w;
	uint8_t out[100], in[512];
	size_t actual;

	wu_up(&w, SIM_SPEED_HIGH, NULL);
	memset(out, 0x22, sizeof(out));
	ck_assert_int_eq(xfer_sync(&w.st, w.out, out, sizeof(out), &actual, 1000), 0);
	/* errors that outlast CErr and the soft retries: the TD fails */
	sim_fault_ep(w.sd, 0x81, SIM_FAULT_XACT, 0, 0);
	ck_assert_int_eq(xfer_sync(&w.st, w.in, in, sizeof(in), &actual, 1000), BU_EPROTO);
	sim_fault_clear(w.sd);
	wait_ep_idle(&w.st, w.in);
	ck_assert(!w.in->halted);
	/* the endpoint works again and nothing was lost */
	ck_assert_int_eq(xfer_sync(&w.st, w.in, in, sizeof(in), &actual, 1000), 0);
	ck_assert_uint_eq(actual, sizeof(out));
	ck_assert_mem_eq(in, out, sizeof(out));
	/* on OUT as well */
	sim_fault_ep(w.sd, 0x01, SIM_FAULT_XACT, 0, 0);
	ck_assert_int_eq(xfer_sync(&w.st, w.out, out, sizeof(out), &actual, 1000), BU_EPROTO);
	sim_fault_clear(w.sd);
	wait_ep_idle(&w.st, w.out);
	wu_echo(&w, 77, 7);
	stack_down(&w.st);
}
END_TEST

START_TEST(test_nak_forever_timeout)
{
	struct wu w;
	struct aio a, b;
	uint8_t ba[512], bb[512], out[64];
	size_t actual;

	wu_up(&w, SIM_SPEED_HIGH, NULL);
	sim_fault_ep(w.sd, 0x81, SIM_FAULT_NAK, 0, 0);
	ck_assert_int_eq(aio_submit(&a, w.in, ba, sizeof(ba), 50, NULL), 0);
	ck_assert_int_eq(aio_submit(&b, w.in, bb, sizeof(bb), 0, NULL), 0);
	ck_assert(wait_flag(&w.st, &a.done, 1000));
	ck_assert_int_eq(a.x.status, BU_ETIMEDOUT);
	ck_assert(!b.done);
	/* the transfer queued behind the timed-out one still completes */
	sim_fault_clear(w.sd);
	memset(out, 0x33, sizeof(out));
	ck_assert_int_eq(xfer_sync(&w.st, w.out, out, 40, &actual, 1000), 0);
	ck_assert(wait_flag(&w.st, &b.done, 1000));
	ck_assert_int_eq(b.x.status, 0);
	ck_assert_uint_eq(b.x.actual, 40);
	ck_assert_mem_eq(bb, out, 40);
	stack_down(&w.st);
}
END_TEST

START_TEST(test_short_packets)
{
	struct wu w;
	static uint8_t out[1000], in[4096];
	size_t actual;

	wu_up(&w, SIM_SPEED_HIGH, NULL);
	for (unsigned i = 0; i < sizeof(out); i++)
		out[i] = (uint8_t)i;
	ck_assert_int_eq(xfer_sync(&w.st, w.out, out, sizeof(out), &actual, 1000), 0);
	/* the device ends the next IN transfer after 10 bytes */
	sim_fault_ep(w.sd, 0x81, SIM_FAULT_SHORT, 1, 10);
	ck_assert_int_eq(xfer_sync(&w.st, w.in, in, sizeof(in), &actual, 1000), 0);
	ck_assert_uint_eq(actual, 10);
	ck_assert_mem_eq(in, out, 10);
	/* the rest: a full packet, then the loopback's own short end */
	ck_assert_int_eq(xfer_sync(&w.st, w.in, in, sizeof(in), &actual, 1000), 0);
	ck_assert_uint_eq(actual, sizeof(out) - 10);
	ck_assert_mem_eq(in, out + 10, sizeof(out) - 10);
	/* a short packet in the middle of a multi-TRB TD (64 KiB boundary) */
	static uint8_t big[70000];
	ck_assert_int_eq(xfer_sync(&w.st, w.out, out, 600, &actual, 1000), 0);
	ck_assert_int_eq(xfer_sync(&w.st, w.in, big, sizeof(big), &actual, 1000), 0);
	ck_assert_uint_eq(actual, 600);
	stack_down(&w.st);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Disconnect                                                               */

START_TEST(test_disconnect_mid_td)
{
	struct stack st;
	struct sim_stats s0, s1;
	struct aio a[4];
	static uint8_t buf[4][4096], out[3000];
	size_t actual;

	stack_up(&st, NULL, 0);
	sim_attach(st.sim, sim_usb2_port(st.sim, 3), &sim_dev_hid_kbd, SIM_SPEED_FULL);
	ck_assert(settle(&st, 5000));
	run_ms(&st, 20);
	sim_get_stats(st.sim, &s0);
	struct sim_device *sd = sim_attach(st.sim, sim_usb2_port(st.sim, 1), &sim_dev_winusb, SIM_SPEED_HIGH);
	ck_assert(settle(&st, 5000));
	struct bu_usb_device *dev = find_pid(&st, 0x1209, 0xb010);
	ck_assert_ptr_nonnull(dev);
	struct bu_usb_endpoint *in = bu_usb_find_endpoint(dev, 0x81);
	ck_assert_int_eq(xfer_sync(&st, bu_usb_find_endpoint(dev, 0x01), out, sizeof(out), &actual, 1000), 0);
	/* the device goes away after 1024 bytes of the next IN TD */
	sim_fault_ep(sd, 0x81, SIM_FAULT_DISCONNECT, 1, 1024);
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(aio_submit(&a[i], in, buf[i], sizeof(buf[i]), 0, NULL), 0);
	ck_assert_int_eq(aio_submit(&a[3], bu_usb_find_endpoint(dev, 0x82), buf[3], 64, 0, NULL), 0);
	ck_assert(settle(&st, 5000));
	for (int i = 0; i < 4; i++) {
		ck_assert_msg(a[i].done, "transfer %d never completed", i);
		ck_assert_msg(a[i].x.status == BU_ENODEV, "transfer %d: status %d", i, a[i].x.status);
	}
	ck_assert_ptr_null(find_pid(&st, 0x1209, 0xb010));
	ck_assert_uint_eq(st.removed, 1);
	run_ms(&st, 50);
	sim_get_stats(st.sim, &s1);
	ck_assert_uint_eq(s1.slots_enabled, s0.slots_enabled);
	ck_assert_uint_eq(s1.dma_allocs, s0.dma_allocs);
	ck_assert_uint_eq(s1.dma_bytes, s0.dma_bytes);
	ck_assert_uint_eq(s1.dma_maps, s0.dma_maps);
	ck_assert_uint_eq(s1.heap_allocs, s0.heap_allocs);
	ck_assert_uint_eq(s1.heap_bytes, s0.heap_bytes);
	/* the other device is fine */
	uint16_t status;
	ck_assert_int_eq(bu_usb_get_status(find_pid(&st, 0x1209, 0xb001), 0, 0, &status), 0);
	stack_down(&st);
}
END_TEST

/* A STALLed request, then the device leaves before the recovery is over. */
START_TEST(test_ep0_stall_then_unplug)
{
	struct wu w;
	uint8_t b[16];

	wu_up(&w, SIM_SPEED_HIGH, NULL);
	ck_assert_int_eq(bu_usb_control(w.dev, 0xc0, 0x7e, 0, 0, b, sizeof(b), 1000), BU_ESTALL);
	sim_detach(w.sd);
	ck_assert(settle(&w.st, 5000));
	ck_assert_uint_eq(w.st.removed, 1);
	ck_assert_ptr_nonnull(sim_attach(w.st.sim, sim_usb2_port(w.st.sim, 1), &sim_dev_winusb, SIM_SPEED_HIGH));
	ck_assert(settle(&w.st, 5000));
	w.dev = find_pid(&w.st, 0x1209, 0xb010);
	ck_assert_int_eq(bu_usb_control(w.dev, 0xc0, 0x7e, 0, 0, b, sizeof(b), 1000), BU_ESTALL);
	/* and the bus goes away right after a STALL */
	stack_down(&w.st);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* A broken device beside a good one                                        */

START_TEST(test_nak_device_beside_good_one)
{
	struct stack st;
	struct bu_usb_device *good, *bad = NULL;
	uint8_t rep[8];
	size_t actual;
	uint16_t status;

	stack_up(&st, NULL, 0);
	struct sim_device *gs = sim_attach(st.sim, sim_usb2_port(st.sim, 1), &sim_dev_hid_kbd, SIM_SPEED_HIGH);
	ck_assert(settle(&st, 5000));
	good = find_pid(&st, 0x1209, 0xb001);
	ck_assert_int_eq(good->state, BU_DEV_CONFIGURED);
	/* the bad one NAKs its configuration descriptor forever */
	struct sim_device *bs = sim_attach(st.sim, sim_usb2_port(st.sim, 2), &sim_dev_winusb, SIM_SPEED_FULL);
	sim_fault_request(bs, 0x80, USB_REQ_GET_DESCRIPTOR, 0x0200, SIM_FAULT_NAK, 0);
	/* while it hangs, the good one answers and reports keys */
	for (int i = 0; i < 20; i++) {
		ck_assert_int_eq(bu_usb_get_status(good, 0, 0, &status), 0);
		run_ms(&st, 100);
	}
	sim_kbd_type(gs, 0x05);
	ck_assert_int_eq(xfer_sync(&st, bu_usb_find_endpoint(good, 0x81), rep, 8, &actual, 1000), 0);
	ck_assert_uint_eq(rep[2], 0x05);
	ck_assert(settle(&st, 30000));
	for (struct bu_usb_device *d = st.bus->devices; d; d = d->next)
		if (d != good)
			bad = d;
	ck_assert_ptr_nonnull(bad);
	ck_assert_int_eq(bad->state, BU_DEV_FAILED);
	ck_assert_int_eq(bad->error, BU_ETIMEDOUT);
	ck_assert_int_eq(good->state, BU_DEV_CONFIGURED);
	ck_assert_int_eq(bu_usb_get_status(good, 0, 0, &status), 0);
	stack_down(&st);
}
END_TEST

/*
 * A device behind a hub that cannot be addressed must not stay at address 0
 * with its port enabled while the next device on that tree is addressed:
 * the hub driver disables the failed child's port before giving up the
 * root port's address lock. Without that, the next device reset below the
 * same root port meets it at address 0 (the model reports "two devices
 * answer at address 0") and fails too, and so on down the hub.
 */
START_TEST(test_unaddressable_behind_hub)
{
	struct stack st;

	stack_up(&st, NULL, 0);
	struct sim_device *hub = sim_attach(st.sim, sim_usb2_port(st.sim, 1), &sim_dev_hub2, SIM_SPEED_HIGH);
	struct sim_device *bad = sim_attach_hub(hub, 1, &sim_dev_hid_kbd, SIM_SPEED_FULL);
	sim_fault_request(bad, 0x00, USB_REQ_SET_ADDRESS, -1, SIM_FAULT_XACT, 0);
	ck_assert(settle(&st, 10000));
	sim_attach_hub(hub, 2, &sim_dev_winusb, SIM_SPEED_HIGH);
	sim_attach_hub(hub, 3, &sim_dev_hid_kbd, SIM_SPEED_LOW);
	run_ms(&st, 600); /* the hub's status endpoint is polled every 256 ms */
	ck_assert(settle(&st, 20000));
	ck_assert_ptr_nonnull(find_pid(&st, 0x1209, 0xb010));
	ck_assert_int_eq(find_pid(&st, 0x1209, 0xb010)->state, BU_DEV_CONFIGURED);
	stack_down(&st);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Cancellation, endpoint reset, alternate settings                         */

START_TEST(test_cancel_middle_of_queue)
{
	struct wu w;
	struct aio a[5];
	static uint8_t buf[5][512], out[64];
	unsigned order = 0;
	size_t actual;

	wu_up(&w, SIM_SPEED_HIGH, NULL);
	for (int i = 0; i < 5; i++)
		ck_assert_int_eq(aio_submit(&a[i], w.in, buf[i], sizeof(buf[i]), 0, &order), 0);
	run_ms(&w.st, 5); /* the first one is on the wire, NAKed */
	ck_assert_int_eq(bu_usb_xfer_cancel(&a[2].x), 0);
	ck_assert(wait_flag(&w.st, &a[2].done, 1000));
	ck_assert_int_eq(a[2].x.status, BU_ECANCELED);
	ck_assert_uint_eq(a[2].seq, 1);
	for (int i = 0; i < 5; i++)
		ck_assert(i == 2 || !a[i].done);
	/* four short writes: each ends one of the remaining reads, in order */
	for (int i = 0; i < 4; i++) {
		memset(out, 0x40 + i, sizeof(out));
		ck_assert_int_eq(xfer_sync(&w.st, w.out, out, (size_t)(10 * (i + 1)), &actual, 1000), 0);
	}
	const int rest[4] = { 0, 1, 3, 4 };
	for (int k = 0; k < 4; k++) {
		struct aio *x = &a[rest[k]];
		ck_assert(wait_flag(&w.st, &x->done, 1000));
		ck_assert_int_eq(x->x.status, 0);
		ck_assert_uint_eq(x->x.actual, (size_t)(10 * (k + 1)));
		ck_assert_uint_eq(buf[rest[k]][0], 0x40 + k);
		ck_assert_uint_eq(x->seq, (unsigned)k + 2);
	}
	/* cancelling the head while it is on the wire */
	struct aio h;
	ck_assert_int_eq(aio_submit(&h, w.in, buf[0], 512, 0, NULL), 0);
	run_ms(&w.st, 2);
	ck_assert_int_eq(bu_usb_xfer_cancel(&h.x), 0);
	ck_assert(wait_flag(&w.st, &h.done, 1000));
	ck_assert_int_eq(h.x.status, BU_ECANCELED);
	wu_echo(&w, 900, 8);
	stack_down(&w.st);
}
END_TEST

START_TEST(test_abort_endpoint)
{
	struct wu w;
	struct aio a[4];
	static uint8_t buf[4][512];

	wu_up(&w, SIM_SPEED_FULL, NULL);
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(aio_submit(&a[i], w.in, buf[i], sizeof(buf[i]), 0, NULL), 0);
	run_ms(&w.st, 3);
	ck_assert_int_eq(bu_usb_abort_endpoint(w.in), 4);
	for (int i = 0; i < 4; i++) {
		ck_assert(wait_flag(&w.st, &a[i].done, 1000));
		ck_assert_int_eq(a[i].x.status, BU_ECANCELED);
	}
	wu_echo(&w, 100, 1);
	stack_down(&w.st);
}
END_TEST

START_TEST(test_reset_endpoint_toggles)
{
	struct wu w;
	static uint8_t out[512 * 3], in[4096];
	size_t actual;

	wu_up(&w, SIM_SPEED_HIGH, NULL);
	/* an odd number of packets each way: both toggles end at 1 */
	for (unsigned i = 0; i < sizeof(out); i++)
		out[i] = (uint8_t)(i * 3);
	ck_assert_int_eq(xfer_sync(&w.st, w.out, out, sizeof(out), &actual, 1000), 0);
	ck_assert_int_eq(xfer_sync(&w.st, w.in, in, sizeof(out), &actual, 1000), 0);
	ck_assert_uint_eq(actual, sizeof(out));
	/* resetting must put host and device back to DATA0 together */
	ck_assert_int_eq(bu_usb_reset_endpoint(w.in), 0);
	ck_assert_int_eq(bu_usb_reset_endpoint(w.out), 0);
	ck_assert(!w.in->halted && !w.out->halted);
	wu_echo(&w, 512 * 3 + 5, 6);
	/* a STALLed endpoint recovered with bu_usb_reset_endpoint alone */
	sim_fault_ep(w.sd, 0x81, SIM_FAULT_STALL, 1, 0);
	ck_assert_int_eq(xfer_sync(&w.st, w.in, in, 512, &actual, 1000), BU_ESTALL);
	wait_ep_idle(&w.st, w.in);
	ck_assert_int_eq(bu_usb_reset_endpoint(w.in), 0);
	wu_echo(&w, 1000, 7);
	/* busy endpoints are refused */
	struct aio a;
	ck_assert_int_eq(aio_submit(&a, w.in, in, 512, 0, NULL), 0);
	ck_assert_int_eq(bu_usb_reset_endpoint(w.in), BU_EBUSY);
	ck_assert_int_eq(bu_usb_abort_endpoint(w.in), 1);
	ck_assert(wait_flag(&w.st, &a.done, 1000));
	stack_down(&w.st);
}
END_TEST

static void isoch_alt(enum sim_speed speed)
{
	struct wu w;
	struct aio a[8];
	static uint8_t buf[8][256], out[8][256];
	unsigned order = 0;

	wu_up(&w, speed, NULL);
	ck_assert_ptr_null(bu_usb_find_endpoint(w.dev, 0x83));
	ck_assert_int_eq(bu_usb_set_interface(w.dev, 0, 1), 0);
	ck_assert_uint_eq(sim_device_alt(w.sd, 0), 1);
	struct bu_usb_endpoint *iin = bu_usb_find_endpoint(w.dev, 0x83);
	struct bu_usb_endpoint *iout = bu_usb_find_endpoint(w.dev, 0x03);
	ck_assert_ptr_nonnull(iin);
	ck_assert_ptr_nonnull(iout);
	ck_assert_uint_eq(iin->type, BU_EP_ISOCH);
	/* the bulk pair of alt 1 works */
	w.in = bu_usb_find_endpoint(w.dev, 0x81);
	w.out = bu_usb_find_endpoint(w.dev, 0x01);
	wu_echo(&w, 333, 1);
	/* isochronous IN: one packet per TD, the device's pattern */
	for (int i = 0; i < 8; i++) {
		ck_assert_int_eq(aio_submit(&a[i], iin, buf[i], 256, 0, &order), 0);
		a[i].x.flags = BU_XFER_ISOCH_ASAP;
	}
	for (int i = 0; i < 8; i++) {
		ck_assert(wait_flag(&w.st, &a[i].done, 1000));
		ck_assert_int_eq(a[i].x.status, 0);
		ck_assert_uint_eq(a[i].x.actual, 256);
		ck_assert_uint_eq(a[i].seq, (unsigned)i + 1);
		ck_assert_uint_eq(buf[i][1], (uint8_t)(buf[i][0] + 1));
		if (i)
			ck_assert_uint_eq(buf[i][0], (uint8_t)(buf[i - 1][0] + 1));
	}
	/* isochronous OUT */
	for (int i = 0; i < 8; i++) {
		memset(out[i], i, 256);
		ck_assert_int_eq(aio_submit(&a[i], iout, out[i], 256, 0, NULL), 0);
	}
	for (int i = 0; i < 8; i++) {
		ck_assert(wait_flag(&w.st, &a[i].done, 1000));
		ck_assert_int_eq(a[i].x.status, 0);
	}
	ck_assert_uint_eq(sim_winusb_iso_out_bytes(w.sd), 8 * 256);
	/* back to alt 0: the isochronous endpoints are gone, bulk goes on */
	ck_assert_int_eq(bu_usb_set_interface(w.dev, 0, 0), 0);
	ck_assert_uint_eq(sim_device_alt(w.sd, 0), 0);
	ck_assert_ptr_null(bu_usb_find_endpoint(w.dev, 0x83));
	ck_assert_ptr_null(bu_usb_find_endpoint(w.dev, 0x03));
	w.in = bu_usb_find_endpoint(w.dev, 0x81);
	w.out = bu_usb_find_endpoint(w.dev, 0x01);
	wu_echo(&w, 444, 2);
	stack_down(&w.st);
}

START_TEST(test_set_interface_isoch_fs)
{
	isoch_alt(SIM_SPEED_FULL);
}
END_TEST

START_TEST(test_set_interface_isoch_hs)
{
	isoch_alt(SIM_SPEED_HIGH);
}
END_TEST

START_TEST(test_set_interface_isoch_ss)
{
	isoch_alt(SIM_SPEED_SUPER);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Event Ring Full                                                          */

START_TEST(test_event_ring_full_driver_behind)
{
	struct bu_xhci_options o = { .event_ring_trbs = 16 };
	struct wu w;
	struct sim_stats s;
	enum { N = 48 };
	static struct aio a[N], b[N];
	static uint8_t out[N][64], in[N][512];
	unsigned order = 0;

	wu_up(&w, SIM_SPEED_HIGH, &o);
	/* N short writes queued at once, then N reads queued at once: the
	 * controller completes them far faster than the driver polls */
	for (int i = 0; i < N; i++) {
		memset(out[i], i, sizeof(out[i]));
		ck_assert_int_eq(aio_submit(&b[i], w.out, out[i], (size_t)(1 + i), 0, NULL), 0);
	}
	for (int i = 0; i < N; i++)
		ck_assert_int_eq(aio_submit(&a[i], w.in, in[i], sizeof(in[i]), 0, &order), 0);
	/* poll slowly: one poll per 2 ms */
	for (int k = 0; k < 400 && order < N; k++) {
		bu_usb_bus_poll(w.st.bus);
		sim_advance_us(w.st.sim, 2000);
	}
	for (int i = 0; i < N; i++) {
		ck_assert_msg(b[i].done && b[i].x.status == 0, "write %d: done %d status %d", i,
			      b[i].done, b[i].x.status);
		ck_assert_msg(a[i].done, "read %d lost", i);
		ck_assert_int_eq(a[i].x.status, 0);
		ck_assert_uint_eq(a[i].x.actual, (size_t)(1 + i));
		ck_assert_uint_eq(in[i][0], (uint8_t)i);
		ck_assert_uint_eq(a[i].seq, (unsigned)i + 1);
	}
	sim_get_stats(w.st.sim, &s);
	ck_assert_msg(s.er_full > 0, "the event ring never filled");
	/* and everything keeps working */
	wu_echo(&w, 1000, 3);
	stack_down(&w.st);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Hot-plug loop with hubs, two controllers                                 */

static void plug_set(struct stack *st, struct sim_device **roots)
{
	struct sim_device *hub = sim_attach(st->sim, sim_usb2_port(st->sim, 1), &sim_dev_hub2, SIM_SPEED_HIGH);

	ck_assert_ptr_nonnull(hub);
	sim_attach_hub(hub, 1, &sim_dev_hid_kbd, SIM_SPEED_LOW);
	sim_attach_hub(hub, 2, &sim_dev_winusb, SIM_SPEED_FULL);
	sim_attach_hub(hub, 3, &sim_dev_composite, SIM_SPEED_HIGH);
	struct sim_device *h3 = sim_attach(st->sim, sim_usb3_port(st->sim, 1), &sim_dev_hub3, SIM_SPEED_SUPER);
	sim_attach_hub(h3, 2, &sim_dev_msc, SIM_SPEED_SUPER);
	roots[0] = hub;
	roots[1] = h3;
	roots[2] = sim_attach(st->sim, sim_usb2_port(st->sim, 2), &sim_dev_winusb_os1, SIM_SPEED_HIGH);
}

START_TEST(test_hotplug_loop_hubs)
{
	struct stack st;
	struct sim_stats s0, s1;
	struct sim_device *roots[3];
	const unsigned cycles = 100, per = 7;

	stack_up(&st, NULL, 0);
	run_ms(&st, 50);
	sim_get_stats(st.sim, &s0);
	for (unsigned c = 0; c < cycles; c++) {
		plug_set(&st, roots);
		ck_assert(settle(&st, 10000));
		ck_assert_msg(count_state(&st, BU_DEV_CONFIGURED) == per, "cycle %u: %u configured", c,
			      count_state(&st, BU_DEV_CONFIGURED));
		/* unplug in a different order each time; sometimes mid-traffic */
		if (c % 3 == 0) {
			struct bu_usb_device *wu = find_pid(&st, 0x1209, 0xb011);
			static uint8_t b[512];
			struct aio a;
			ck_assert_int_eq(aio_submit(&a, bu_usb_find_endpoint(wu, 0x81), b, sizeof(b), 0, NULL), 0);
			run_ms(&st, 1);
			sim_detach(roots[2]);
			ck_assert(settle(&st, 5000));
			ck_assert(a.done && a.x.status == BU_ENODEV);
			roots[2] = NULL;
		}
		for (unsigned k = 0; k < 3; k++)
			if (roots[(c + k) % 3])
				sim_detach(roots[(c + k) % 3]);
		ck_assert(settle(&st, 10000));
		ck_assert_ptr_null(st.bus->devices);
		check_no_violations(st.sim);
	}
	run_ms(&st, 20);
	sim_get_stats(st.sim, &s1);
	ck_assert_uint_eq(st.added, cycles * per);
	ck_assert_uint_eq(st.removed, cycles * per);
	ck_assert_uint_eq(s1.slots_enabled, s0.slots_enabled);
	ck_assert_uint_eq(s1.dma_allocs, s0.dma_allocs);
	ck_assert_uint_eq(s1.dma_bytes, s0.dma_bytes);
	ck_assert_uint_eq(s1.dma_maps, s0.dma_maps);
	ck_assert_uint_eq(s1.heap_allocs, s0.heap_allocs);
	ck_assert_uint_eq(s1.heap_bytes, s0.heap_bytes);
	stack_down(&st);
}
END_TEST

START_TEST(test_two_controllers_traffic)
{
	struct stack a, b;
	struct sim_device *ra[3], *rb;

	stack_up(&a, NULL, 0);
	stack_up(&b, NULL, 1);
	plug_set(&a, ra);
	rb = sim_attach(b.sim, sim_usb3_port(b.sim, 2), &sim_dev_winusb, SIM_SPEED_SUPER);
	sim_attach(b.sim, sim_usb2_port(b.sim, 4), &sim_dev_msc, SIM_SPEED_HIGH);
	for (int i = 0; i < 400; i++) {
		run_ms(&a, 10);
		run_ms(&b, 10);
	}
	ck_assert_uint_eq(count_state(&a, BU_DEV_CONFIGURED), 7);
	ck_assert_uint_eq(count_state(&b, BU_DEV_CONFIGURED), 2);
	/* loopback on both buses at once, polled in turn */
	struct bu_usb_device *da = find_pid(&a, 0x1209, 0xb011), *db = find_pid(&b, 0x1209, 0xb010);
	ck_assert_msg(strstr(json_of(db), "\"bus\":1"), "%s", json_of(db));
	static uint8_t oa[5000], ob[5000], ia[8192], ib[8192];
	struct aio wa, wb, ra_, rb_;
	memset(oa, 0xaa, sizeof(oa));
	memset(ob, 0xbb, sizeof(ob));
	ck_assert_int_eq(aio_submit(&wa, bu_usb_find_endpoint(da, 0x01), oa, sizeof(oa), 0, NULL), 0);
	ck_assert_int_eq(aio_submit(&wb, bu_usb_find_endpoint(db, 0x01), ob, sizeof(ob), 0, NULL), 0);
	ck_assert_int_eq(aio_submit(&ra_, bu_usb_find_endpoint(da, 0x81), ia, sizeof(ia), 0, NULL), 0);
	ck_assert_int_eq(aio_submit(&rb_, bu_usb_find_endpoint(db, 0x81), ib, sizeof(ib), 0, NULL), 0);
	for (int i = 0; i < 2000 && !(ra_.done && rb_.done); i++) {
		run_us(&a, 100, 50);
		run_us(&b, 100, 50);
	}
	ck_assert(wa.done && wb.done && ra_.done && rb_.done);
	ck_assert_uint_eq(ra_.x.actual, sizeof(oa));
	ck_assert_uint_eq(rb_.x.actual, sizeof(ob));
	ck_assert_mem_eq(ia, oa, sizeof(oa));
	ck_assert_mem_eq(ib, ob, sizeof(ob));
	/* unplugging on one controller does not touch the other */
	sim_detach(ra[0]);
	sim_detach(rb);
	for (int i = 0; i < 200; i++) {
		run_ms(&a, 10);
		run_ms(&b, 10);
	}
	ck_assert_uint_eq(count_state(&a, BU_DEV_CONFIGURED), 3);
	ck_assert_uint_eq(count_state(&b, BU_DEV_CONFIGURED), 1);
	stack_down(&a);
	stack_down(&b);
}
END_TEST

static Suite *faults_suite(void)
{
	Suite *s = suite_create("faults");
	TCase *f = tcase_create("endpoint");
	TCase *q = tcase_create("queue");
	TCase *l = tcase_create("loops");

	tcase_add_test(f, test_bulk_in_stall);
	tcase_add_test(f, test_bulk_out_stall);
	tcase_add_test(f, test_interrupt_stall);
	tcase_add_test(f, test_stall_with_queue);
	tcase_add_test(f, test_babble);
	tcase_add_test(f, test_xact_retried_within_cerr);
	tcase_add_test(f, test_xact_exhausts_cerr);
	tcase_add_test(f, test_nak_forever_timeout);
	tcase_add_test(f, test_short_packets);
	tcase_add_test(f, test_disconnect_mid_td);
	tcase_add_test(f, test_ep0_stall_then_unplug);
	tcase_add_test(f, test_nak_device_beside_good_one);
	tcase_add_test(q, test_cancel_middle_of_queue);
	tcase_add_test(q, test_abort_endpoint);
	tcase_add_test(q, test_reset_endpoint_toggles);
	tcase_add_test(q, test_set_interface_isoch_fs);
	tcase_add_test(q, test_set_interface_isoch_hs);
	tcase_add_test(q, test_set_interface_isoch_ss);
	tcase_add_test(q, test_event_ring_full_driver_behind);
	tcase_add_test(l, test_hotplug_loop_hubs);
	tcase_add_test(l, test_two_controllers_traffic);
	tcase_add_test(f, test_unaddressable_behind_hub);
	suite_add_tcase(s, f);
	suite_add_tcase(s, q);
	suite_add_tcase(s, l);
	return s;
}

int main(void)
{
	return run_suite(faults_suite());
}
