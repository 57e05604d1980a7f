/*
 * Core behaviour the other suites leave out: root-port over-current and
 * USB 3 link errors, fault recovery on isochronous and interrupt endpoints,
 * class-driver binding priority, configuration choice, SET_FEATURE and
 * SYNCH_FRAME, and the model-side trace.
 */
#include "harness.h"

/* A WinUSB loopback device and a keyboard beside it. */
struct two {
	struct stack st;
	struct sim_device *sd, *kbd_sd;
	struct bu_usb_device *dev, *kbd;
	unsigned port;
};

static void two_up(struct two *t, const struct sim_config *cfg, enum sim_speed speed)
{
	stack_up(&t->st, cfg, 0);
	t->port = speed == SIM_SPEED_SUPER ? sim_usb3_port(t->st.sim, 1) : sim_usb2_port(t->st.sim, 1);
	t->sd = sim_attach(t->st.sim, t->port, &sim_dev_winusb, speed);
	t->kbd_sd = sim_attach(t->st.sim, sim_usb2_port(t->st.sim, 2), &sim_dev_hid_kbd, SIM_SPEED_FULL);
	ck_assert(t->sd && t->kbd_sd);
	ck_assert(settle(&t->st, 5000));
	t->dev = find_pid(&t->st, 0x1209, 0xb010);
	t->kbd = find_pid(&t->st, 0x1209, 0xb001);
	ck_assert(t->dev && t->kbd);
	ck_assert_int_eq(t->dev->state, BU_DEV_CONFIGURED);
	ck_assert_int_eq(t->kbd->state, BU_DEV_CONFIGURED);
}

/* Bulk loopback of `len` bytes on the device's current endpoints. */
static void echo(struct stack *st, struct bu_usb_device *dev, size_t len, uint8_t seed)
{
	static uint8_t out[4096], in[4096 + 512];
	size_t actual = 0;

	for (size_t i = 0; i < len; i++)
		out[i] = (uint8_t)(seed + i);
	ck_assert_int_eq(xfer_sync(st, bu_usb_find_endpoint(dev, 0x01), out, len, &actual, 2000), 0);
	ck_assert_uint_eq(actual, len);
	ck_assert_int_eq(xfer_sync(st, bu_usb_find_endpoint(dev, 0x81), in, sizeof(in), &actual, 2000), 0);
	ck_assert_uint_eq(actual, len);
	ck_assert_mem_eq(in, out, len);
}

/* The keyboard still answers and reports a key. */
static void kbd_works(struct two *t, uint8_t usage)
{
	uint8_t rep[8];
	size_t actual;
	uint16_t status;

	ck_assert_int_eq(bu_usb_get_status(t->kbd, USB_RECIP_DEVICE, 0, &status), 0);
	sim_kbd_type(t->kbd_sd, usage);
	/* a release report of an earlier key may come first */
	for (int i = 0; i < 3; i++) {
		ck_assert_int_eq(xfer_sync(&t->st, bu_usb_find_endpoint(t->kbd, 0x81), rep, 8, &actual, 1000), 0);
		if (rep[2])
			break;
	}
	ck_assert_uint_eq(rep[2], usage);
}

/* Slots, DMA blocks and mappings, heap blocks: as many as at `s0`. */
static void same_resources(struct sim *sim, const struct sim_stats *s0)
{
	struct sim_stats s1;

	sim_get_stats(sim, &s1);
	ck_assert_uint_eq(s1.slots_enabled, s0->slots_enabled);
	ck_assert_uint_eq(s1.dma_allocs, s0->dma_allocs);
	ck_assert_uint_eq(s1.dma_maps, s0->dma_maps);
	ck_assert_uint_eq(s1.heap_allocs, s0->heap_allocs);
}

/* ------------------------------------------------------------------------ */
/* Root-port over-current (xHCI §4.19.1, §5.4.8: OCA, OCC, PP)               */

static void over_current(bool ppc, enum sim_speed speed)
{
	struct sim_config cfg = { .ppc = ppc };
	struct two t;
	struct sim_stats s0, s1;
	struct aio a[3];
	static uint8_t buf[3][512];

	two_up(&t, &cfg, speed);
	sim_get_stats(t.st.sim, &s0);
	unsigned removed = t.st.removed, added = t.st.added;
	uint8_t old_slot = t.dev->slot;
	echo(&t.st, t.dev, 300, 1);
	/* transfers in flight when the port trips */
	for (int i = 0; i < 2; i++)
		ck_assert_int_eq(aio_submit(&a[i], bu_usb_find_endpoint(t.dev, 0x81), buf[i], 512, 0, NULL), 0);
	sim_fault_ep(t.sd, 0x82, SIM_FAULT_NAK, 0, 0);
	ck_assert_int_eq(aio_submit(&a[2], bu_usb_find_endpoint(t.dev, 0x82), buf[2], 64, 0, NULL), 0);
	run_ms(&t.st, 2);
	sim_overcurrent(t.st.sim, t.port, true);
	run_ms(&t.st, 50);
	for (int i = 0; i < 3; i++) {
		ck_assert_msg(a[i].done, "transfer %d not completed after over-current", i);
		ck_assert_msg(a[i].x.status == BU_ENODEV, "transfer %d: status %d", i, a[i].x.status);
	}
	ck_assert_ptr_null(find_pid(&t.st, 0x1209, 0xb010));
	ck_assert_uint_eq(t.st.removed, removed + 1);
	sim_get_stats(t.st.sim, &s1);
	ck_assert_uint_eq(s1.slots_enabled, s0.slots_enabled - 1);
	ck_assert_int_eq(sim_slot_state(t.st.sim, old_slot), -1);
	/* while it lasts, the port is left alone (no reset, no device) */
	run_ms(&t.st, 500);
	ck_assert(bu_usb_bus_idle(t.st.bus));
	ck_assert_ptr_null(find_pid(&t.st, 0x1209, 0xb010));
	ck_assert_uint_eq(t.st.added, added);
	ck_assert(!(sim_portsc(t.st.sim, t.port) & (XHCI_PORTSC_PR | XHCI_PORTSC_WPR)));
	/* the other device keeps working meanwhile */
	kbd_works(&t, 0x04);
	/* it clears: the port is scanned again and the device comes back */
	sim_overcurrent(t.st.sim, t.port, false);
	ck_assert(settle(&t.st, 5000));
	t.dev = find_pid(&t.st, 0x1209, 0xb010);
	ck_assert_ptr_nonnull(t.dev);
	ck_assert_int_eq(t.dev->state, BU_DEV_CONFIGURED);
	ck_assert_uint_eq(t.st.added, added + 1);
	ck_assert(sim_portsc(t.st.sim, t.port) & XHCI_PORTSC_PP);
	echo(&t.st, t.dev, 700, 2);
	kbd_works(&t, 0x05);
	same_resources(t.st.sim, &s0);
	stack_down(&t.st);
}

START_TEST(test_overcurrent_usb2)
{
	over_current(false, SIM_SPEED_HIGH);
}
END_TEST

/* With port power switches the xHC switches PP off; the core turns it back on. */
START_TEST(test_overcurrent_usb2_ppc)
{
	over_current(true, SIM_SPEED_HIGH);
}
END_TEST

START_TEST(test_overcurrent_usb3_ppc)
{
	over_current(true, SIM_SPEED_SUPER);
}
END_TEST

/* Over-current on an empty port, then a device plugged while it lasts. */
START_TEST(test_overcurrent_empty_port)
{
	struct two t;
	unsigned p3;

	two_up(&t, NULL, SIM_SPEED_HIGH);
	p3 = sim_usb2_port(t.st.sim, 3);
	unsigned added = t.st.added;
	sim_overcurrent(t.st.sim, p3, true);
	run_ms(&t.st, 20);
	ck_assert_ptr_nonnull(sim_attach(t.st.sim, p3, &sim_dev_msc, SIM_SPEED_HIGH));
	run_ms(&t.st, 500);
	ck_assert_ptr_null(find_pid(&t.st, 0x1209, 0xb020));
	ck_assert_uint_eq(t.st.added, added);
	echo(&t.st, t.dev, 64, 3);
	sim_overcurrent(t.st.sim, p3, false);
	ck_assert(settle(&t.st, 5000));
	ck_assert_ptr_nonnull(find_pid(&t.st, 0x1209, 0xb020));
	ck_assert_int_eq(find_pid(&t.st, 0x1209, 0xb020)->state, BU_DEV_CONFIGURED);
	stack_down(&t.st);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* USB 3 link error: SS.Inactive needs a warm reset                         */

START_TEST(test_link_error_warm_reset)
{
	struct two t;
	struct sim_stats s0;
	struct aio a;
	static uint8_t buf[512];

	two_up(&t, NULL, SIM_SPEED_SUPER);
	sim_get_stats(t.st.sim, &s0);
	unsigned removed = t.st.removed, added = t.st.added;
	echo(&t.st, t.dev, 2000, 1);
	ck_assert_int_eq(aio_submit(&a, bu_usb_find_endpoint(t.dev, 0x81), buf, sizeof(buf), 0, NULL), 0);
	run_ms(&t.st, 1);
	sim_link_error(t.st.sim, t.port);
	ck_assert_uint_eq(XHCI_PORTSC_PLS(sim_portsc(t.st.sim, t.port)), XHCI_PLS_INACTIVE);
	ck_assert(wait_flag(&t.st, &a.done, 1000));
	ck_assert_int_eq(a.x.status, BU_ENODEV);
	/* the port gets a warm reset and the device enumerates again */
	ck_assert(settle(&t.st, 5000));
	ck_assert_uint_eq(t.st.removed, removed + 1);
	ck_assert_uint_eq(t.st.added, added + 1);
	t.dev = find_pid(&t.st, 0x1209, 0xb010);
	ck_assert_ptr_nonnull(t.dev);
	ck_assert_int_eq(t.dev->state, BU_DEV_CONFIGURED);
	ck_assert_int_eq(t.dev->speed, BU_SPEED_SUPER);
	ck_assert_uint_eq(XHCI_PORTSC_PLS(sim_portsc(t.st.sim, t.port)), XHCI_PLS_U0);
	echo(&t.st, t.dev, 3000, 2);
	kbd_works(&t, 0x06);
	same_resources(t.st.sim, &s0);
	stack_down(&t.st);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Faults on isochronous and interrupt endpoints                            */

/*
 * Select alt 1 of the WinUSB device (isoch OUT 0x03 / IN 0x83 appear), note
 * the resource counters in *s0, and arm `count` transaction errors on the
 * isochronous endpoint `addr`, which is returned.
 */
static struct bu_usb_endpoint *isoch_faulted(struct two *t, uint8_t addr, unsigned count,
					     struct sim_stats *s0)
{
	struct bu_usb_endpoint *ep;

	ck_assert_int_eq(bu_usb_set_interface(t->dev, 0, 1), 0);
	ep = bu_usb_find_endpoint(t->dev, addr);
	ck_assert_ptr_nonnull(ep);
	ck_assert_uint_eq(ep->type, BU_EP_ISOCH);
	sim_get_stats(t->st.sim, s0);
	sim_fault_ep(t->sd, addr, SIM_FAULT_XACT, count, 0);
	return ep;
}

/*
 * Isochronous IN with transaction errors: there is no retry and no halt
 * (xHCI §4.10.2.1.1: CErr does not apply to isoch, §4.11.2.5), so the
 * affected TDs (one packet each) report BU_EPROTO with no data, the rest
 * of the stream goes on in order, and the endpoint needs no recovery.
 */
static void isoch_in_xact(enum sim_speed speed)
{
	enum { N = 8 };
	struct two t;
	struct aio a[N];
	static uint8_t buf[N][256];
	unsigned order = 0, bad = 0;
	int first_good = -1;

	struct sim_stats s0, s1;
	two_up(&t, NULL, speed);
	struct bu_usb_endpoint *iin = isoch_faulted(&t, 0x83, 2, &s0);
	for (int i = 0; i < N; i++) {
		ck_assert_int_eq(aio_submit(&a[i], iin, buf[i], 256, 0, &order), 0);
		a[i].x.flags = BU_XFER_ISOCH_ASAP;
	}
	for (int i = 0; i < N; i++) {
		ck_assert(wait_flag(&t.st, &a[i].done, 1000));
		ck_assert_uint_eq(a[i].seq, (unsigned)i + 1);
	}
	for (int i = 0; i < N; i++) {
		if (a[i].x.status) {
			ck_assert_int_eq(a[i].x.status, BU_EPROTO);
			ck_assert_uint_eq(a[i].x.actual, 0);
			ck_assert_uint_eq(a[i].x.cc, XHCI_CC_TRANSACTION);
			bad++;
			continue;
		}
		ck_assert_uint_eq(a[i].x.actual, 256);
		ck_assert_uint_eq(buf[i][1], (uint8_t)(buf[i][0] + 1));
		if (first_good >= 0)
			ck_assert_uint_eq(buf[i][0], (uint8_t)(buf[first_good][0] + (i - first_good)));
		else
			first_good = i;
	}
	ck_assert_uint_eq(bad, 2);
	ck_assert(a[0].x.status == BU_EPROTO && a[1].x.status == BU_EPROTO);
	ck_assert(!iin->halted);
	/* no endpoint recovery: not a single command went to the controller */
	sim_get_stats(t.st.sim, &s1);
	ck_assert_uint_eq(s1.commands, s0.commands);
	/* the stream goes on: a second batch is all good */
	for (int i = 0; i < N; i++) {
		ck_assert_int_eq(aio_submit(&a[i], iin, buf[i], 256, 0, &order), 0);
		a[i].x.flags = BU_XFER_ISOCH_ASAP;
	}
	for (int i = 0; i < N; i++) {
		ck_assert(wait_flag(&t.st, &a[i].done, 1000));
		ck_assert_int_eq(a[i].x.status, 0);
		ck_assert_uint_eq(a[i].x.actual, 256);
	}
	echo(&t.st, t.dev, 500, 3);
	kbd_works(&t, 0x07);
	stack_down(&t.st);
}

START_TEST(test_isoch_in_xact_hs)
{
	isoch_in_xact(SIM_SPEED_HIGH);
}
END_TEST

START_TEST(test_isoch_in_xact_fs)
{
	isoch_in_xact(SIM_SPEED_FULL);
}
END_TEST

START_TEST(test_isoch_in_xact_ss)
{
	isoch_in_xact(SIM_SPEED_SUPER);
}
END_TEST

/* Isochronous OUT: a packet lost to a transaction error, the next ones delivered. */
START_TEST(test_isoch_out_xact)
{
	enum { N = 6 };
	struct two t;
	struct aio a[N];
	static uint8_t out[N][256];

	struct sim_stats s0, s1;
	two_up(&t, NULL, SIM_SPEED_HIGH);
	struct bu_usb_endpoint *iout = isoch_faulted(&t, 0x03, 1, &s0);
	for (int i = 0; i < N; i++) {
		memset(out[i], i, 256);
		ck_assert_int_eq(aio_submit(&a[i], iout, out[i], 256, 0, NULL), 0);
		a[i].x.flags = BU_XFER_ISOCH_ASAP;
	}
	for (int i = 0; i < N; i++)
		ck_assert(wait_flag(&t.st, &a[i].done, 1000));
	ck_assert_int_eq(a[0].x.status, BU_EPROTO);
	for (int i = 1; i < N; i++)
		ck_assert_int_eq(a[i].x.status, 0);
	ck_assert_uint_eq(sim_winusb_iso_out_bytes(t.sd), (N - 1) * 256);
	ck_assert(!iout->halted);
	sim_get_stats(t.st.sim, &s1);
	ck_assert_uint_eq(s1.commands, s0.commands);
	echo(&t.st, t.dev, 100, 4);
	stack_down(&t.st);
}
END_TEST

/* Read one 8-byte report from the WinUSB interrupt IN; returns its sequence number. */
static uint32_t intr_report(struct two *t, int want_status)
{
	uint8_t rep[64];
	size_t actual = 0;
	static const uint8_t tail[4] = { 0xa5, 0x5a, 0xa5, 0x5a };

	ck_assert_int_eq(xfer_sync(&t->st, bu_usb_find_endpoint(t->dev, 0x82), rep, sizeof(rep), &actual,
				   1000), want_status);
	if (want_status)
		return 0;
	ck_assert_uint_eq(actual, 8);
	ck_assert_mem_eq(rep + 4, tail, 4);
	return rep[0] | (uint32_t)rep[1] << 8 | (uint32_t)rep[2] << 16 | (uint32_t)rep[3] << 24;
}

/*
 * Interrupt IN transaction errors: CErr = 3 (xHCI §4.10.2.1.1) means two in
 * a row are retried by the controller unseen; a third fails the TD with
 * BU_EPROTO, the core recovers the halted endpoint, and reports flow again.
 */
START_TEST(test_interrupt_xact)
{
	struct two t;

	two_up(&t, NULL, SIM_SPEED_HIGH);
	struct bu_usb_endpoint *intr = bu_usb_find_endpoint(t.dev, 0x82);
	uint32_t seq = intr_report(&t, 0);
	sim_fault_ep(t.sd, 0x82, SIM_FAULT_XACT, 2, 0);
	ck_assert_uint_eq(intr_report(&t, 0), seq + 1);
	sim_fault_ep(t.sd, 0x82, SIM_FAULT_XACT, 3, 0);
	intr_report(&t, BU_EPROTO);
	wait_ep_idle(&t.st, intr);
	ck_assert(!intr->halted);
	ck_assert_int_ne(sim_ep_state(t.st.sim, t.dev->slot, 2 * 2 + 1), XHCI_EP_STATE_HALTED);
	/* no report was taken from the device by the failed tries */
	ck_assert_uint_eq(intr_report(&t, 0), seq + 2);
	ck_assert_uint_eq(intr_report(&t, 0), seq + 3);
	echo(&t.st, t.dev, 200, 5);
	kbd_works(&t, 0x08);
	stack_down(&t.st);
}
END_TEST

/*
 * Interrupt IN that NAKs forever: a transfer with a timeout ends with
 * BU_ETIMEDOUT, the one queued behind it still completes once the device
 * answers, and the endpoint keeps working.
 */
START_TEST(test_interrupt_nak_timeout)
{
	struct two t;
	struct aio a, b;
	static uint8_t ba[64], bb[64];

	two_up(&t, NULL, SIM_SPEED_FULL);
	struct bu_usb_endpoint *intr = bu_usb_find_endpoint(t.dev, 0x82);
	uint32_t seq = intr_report(&t, 0);
	sim_fault_ep(t.sd, 0x82, SIM_FAULT_NAK, 0, 0);
	ck_assert_int_eq(aio_submit(&a, intr, ba, sizeof(ba), 100, NULL), 0);
	ck_assert_int_eq(aio_submit(&b, intr, bb, sizeof(bb), 0, NULL), 0);
	uint64_t t0 = sim_now_us(t.st.sim);
	ck_assert(wait_flag(&t.st, &a.done, 1000));
	ck_assert_int_eq(a.x.status, BU_ETIMEDOUT);
	ck_assert_uint_ge(sim_now_us(t.st.sim) - t0, 100000);
	run_ms(&t.st, 200);
	ck_assert(!b.done);
	/* the keyboard beside it is not held up */
	kbd_works(&t, 0x09);
	sim_fault_clear(t.sd);
	ck_assert(wait_flag(&t.st, &b.done, 1000));
	ck_assert_int_eq(b.x.status, 0);
	ck_assert_uint_eq(b.x.actual, 8);
	ck_assert_uint_eq(bb[0], (uint8_t)(seq + 1));
	ck_assert(!intr->halted);
	ck_assert_uint_eq(intr_report(&t, 0), seq + 2);
	stack_down(&t.st);
}
END_TEST

static Suite *core_suite(void)
{
	Suite *s = suite_create("core");
	TCase *p = tcase_create("ports");
	TCase *e = tcase_create("endpoints");

	tcase_add_test(p, test_overcurrent_usb2);
	tcase_add_test(p, test_overcurrent_usb2_ppc);
	tcase_add_test(p, test_overcurrent_usb3_ppc);
	tcase_add_test(p, test_overcurrent_empty_port);
	tcase_add_test(p, test_link_error_warm_reset);
	tcase_add_test(e, test_isoch_in_xact_hs);
	tcase_add_test(e, test_isoch_in_xact_fs);
	tcase_add_test(e, test_isoch_in_xact_ss);
	tcase_add_test(e, test_isoch_out_xact);
	tcase_add_test(e, test_interrupt_xact);
	tcase_add_test(e, test_interrupt_nak_timeout);
	suite_add_tcase(s, p);
	suite_add_tcase(s, e);
	return s;
}

int main(void)
{
	return run_suite(core_suite());
}
