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

static Suite *core_suite(void)
{
	Suite *s = suite_create("core");
	TCase *p = tcase_create("ports");

	tcase_add_test(p, test_overcurrent_usb2);
	tcase_add_test(p, test_overcurrent_usb2_ppc);
	tcase_add_test(p, test_overcurrent_usb3_ppc);
	tcase_add_test(p, test_overcurrent_empty_port);
	tcase_add_test(p, test_link_error_warm_reset);
	suite_add_tcase(s, p);
	return s;
}

int main(void)
{
	return run_suite(core_suite());
}
