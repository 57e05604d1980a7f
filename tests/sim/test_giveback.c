/*
 * Transfers are given back only once the controller no longer touches
 * their buffers: after Disable Slot completed (xHCI 1.2 §4.6.4) or after
 * the controller halted (HCH=1, §5.4.2). On every path that disables a
 * device - the core removing it, the warm reset recovery of a port that
 * stays connected, a hub unplugged with devices behind it, a tree of hubs
 * bigger than the Command Ring, bus destroy, a Disable Slot that never
 * completes - queued IN and OUT transfers complete exactly once, with
 * BU_ENODEV, and none before the model's slot was disabled or the
 * controller halted. The model's own checks (a buffer unmapped while a
 * running TD points at it; DMA to a buffer already unmapped) are shown to
 * fire as well.
 */
#include "harness.h"

/* The sim reports a DMA fault as a violation and HSE instead of aborting. */
static const struct sim_config gb_cfg = { .dma_fault_nonfatal = true };

/* One transfer that records how and when it completed. */
struct gb {
	struct bu_usb_xfer x;
	struct sim *sim;
	unsigned slot;  /* its device's slot */
	unsigned calls;
	int status;
	bool early;     /* completed while the controller could still use the buffer */
	uint8_t buf[512];
};

static void gb_complete(struct bu_usb_xfer *xfer)
{
	struct gb *g = xfer->ctx;

	g->calls++;
	g->status = xfer->status;
	if (sim_slot_state(g->sim, g->slot) >= 0 && !(sim_usbsts(g->sim) & XHCI_USBSTS_HCH))
		g->early = true;
}

/* Queue a transfer of the whole buffer on endpoint `addr` of `dev`. */
static void gb_submit(struct gb *g, struct stack *st, struct bu_usb_device *dev, uint8_t addr)
{
	memset(g, 0, sizeof(*g));
	g->sim = st->sim;
	g->slot = dev->slot;
	g->x.ep = bu_usb_find_endpoint(dev, addr);
	ck_assert_ptr_nonnull(g->x.ep);
	g->x.buf = g->buf;
	g->x.len = sizeof(g->buf);
	g->x.complete = gb_complete;
	g->x.ctx = g;
	ck_assert_int_eq(bu_usb_xfer_submit(&g->x), 0);
}

#define GB_PER_DEV 4

/*
 * Make a WinUSB loopback device NAK on both bulk endpoints and queue two
 * IN and two OUT transfers on it, which the controller starts on (an OUT
 * TD's data is read before the device NAKs it) and keeps.
 */
static void gb_queue(struct gb g[GB_PER_DEV], struct stack *st, struct sim_device *sd,
		     struct bu_usb_device *dev)
{
	sim_fault_ep(sd, 0x81, SIM_FAULT_NAK, 0, 0);
	sim_fault_ep(sd, 0x01, SIM_FAULT_NAK, 0, 0);
	for (unsigned i = 0; i < GB_PER_DEV; i++)
		gb_submit(&g[i], st, dev, i & 1 ? 0x01 : 0x81);
}

/* Poll until all `n` transfers completed, at most `max_ms` of virtual time. */
static bool gb_wait(struct stack *st, const struct gb *g, unsigned n, unsigned max_ms)
{
	for (unsigned t = 0; t < max_ms; t++) {
		unsigned done = 0;

		for (unsigned i = 0; i < n; i++)
			done += g[i].calls != 0;
		if (done == n)
			return true;
		run_ms(st, 1);
	}
	return false;
}

/* Each transfer completed once, with BU_ENODEV, after the controller let go of it. */
static void gb_check(const struct gb *g, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		ck_assert_msg(!g[i].early,
			      "transfer %u given back while slot %u was enabled and the "
			      "controller running", i, g[i].slot);
		ck_assert_msg(g[i].calls == 1, "transfer %u: %u callbacks", i, g[i].calls);
		ck_assert_msg(g[i].status == BU_ENODEV, "transfer %u: status %d", i, g[i].status);
	}
}

/* A WinUSB loopback device at `speed` on the first root port of its kind. */
static struct bu_usb_device *gb_device(struct stack *st, enum sim_speed speed,
				       struct sim_device **sd)
{
	unsigned port = speed == SIM_SPEED_SUPER ? sim_usb3_port(st->sim, 1)
						 : sim_usb2_port(st->sim, 1);
	struct bu_usb_device *dev;

	*sd = sim_attach(st->sim, port, &sim_dev_winusb, speed);
	ck_assert_ptr_nonnull(*sd);
	ck_assert(settle(st, 5000));
	dev = find_pid(st, 0x1209, 0xb010);
	ck_assert_ptr_nonnull(dev);
	ck_assert_int_eq(dev->state, BU_DEV_CONFIGURED);
	return dev;
}

/* A class driver for the loopback device that checks what its remove() sees. */
static struct {
	unsigned removes;
	bool in_flight;     /* remove() ran with a transfer not yet given back */
	const struct gb *g; /* the transfers to look at */
	unsigned n;
} gb_drv;

static int gb_probe(struct bu_usb_interface *intf, const struct bu_usb_match *m)
{
	(void)intf;
	(void)m;
	return 0;
}

static void gb_remove(struct bu_usb_interface *intf)
{
	(void)intf;
	gb_drv.removes++;
	for (unsigned i = 0; i < gb_drv.n; i++)
		gb_drv.in_flight |= gb_drv.g[i].calls == 0;
}

static const struct bu_usb_match gb_match[] = {
	{ .flags = BU_MATCH_VENDOR | BU_MATCH_PRODUCT, .vid = 0x1209, .pid = 0xb010 },
};

static const struct bu_usb_driver gb_driver = {
	.name = "t-giveback",
	.match = gb_match,
	.num_match = 1,
	.probe = gb_probe,
	.remove = gb_remove,
};

/* gb_driver's remove() ran once, after every transfer was given back. */
static void gb_check_remove(void)
{
	ck_assert_msg(gb_drv.removes == 1, "remove() ran %u times", gb_drv.removes);
	ck_assert_msg(!gb_drv.in_flight, "remove() ran with transfers in flight");
}

/* ------------------------------------------------------------------------ */
/* Each path that disables a device                                         */

/* The core removes a device that is still plugged in. */
START_TEST(test_core_disable)
{
	struct stack st;
	struct sim_device *sd;
	struct gb g[GB_PER_DEV];
	unsigned slot;

	stack_up(&st, &gb_cfg, 0);
	memset(&gb_drv, 0, sizeof(gb_drv));
	ck_assert_int_eq(bu_usb_bus_register_driver(st.bus, &gb_driver), 0);
	struct bu_usb_device *dev = gb_device(&st, SIM_SPEED_HIGH, &sd);
	slot = dev->slot;
	gb_queue(g, &st, sd, dev);
	gb_drv.g = g;
	gb_drv.n = GB_PER_DEV;
	run_ms(&st, 2);
	bu_usb_device_gone(dev);
	ck_assert(gb_wait(&st, g, GB_PER_DEV, 1000));
	gb_check(g, GB_PER_DEV);
	gb_check_remove();
	ck_assert_int_eq(sim_slot_state(st.sim, slot), -1);
	ck_assert_uint_eq(st.removed, 1);
	check_no_violations(st.sim);
	stack_down(&st);
}
END_TEST

/*
 * The driver of a device being disabled is unregistered before its
 * Disable Slot completed: unregister waits for it, so remove() still runs
 * (once, before unregister returns) with nothing in flight.
 */
START_TEST(test_unregister_while_disabling)
{
	struct stack st;
	struct sim_device *sd;
	struct gb g[GB_PER_DEV];

	stack_up(&st, &gb_cfg, 0);
	memset(&gb_drv, 0, sizeof(gb_drv));
	ck_assert_int_eq(bu_usb_bus_register_driver(st.bus, &gb_driver), 0);
	struct bu_usb_device *dev = gb_device(&st, SIM_SPEED_HIGH, &sd);
	ck_assert_ptr_eq(dev->ifaces[0].driver, &gb_driver);
	gb_queue(g, &st, sd, dev);
	gb_drv.g = g;
	gb_drv.n = GB_PER_DEV;
	run_ms(&st, 2);
	bu_usb_device_gone(dev);
	bu_usb_bus_unregister_driver(st.bus, &gb_driver);
	ck_assert_msg(gb_drv.removes == 1, "remove() ran %u times before unregister returned",
		      gb_drv.removes);
	gb_check_remove();
	gb_check(g, GB_PER_DEV);
	check_no_violations(st.sim);
	stack_down(&st);
}
END_TEST

/* A USB 3 link error: the device is removed and its port warm reset while it stays connected. */
START_TEST(test_warm_reset_replug)
{
	struct stack st;
	struct sim_device *sd;
	struct gb g[GB_PER_DEV];

	stack_up(&st, &gb_cfg, 0);
	struct bu_usb_device *dev = gb_device(&st, SIM_SPEED_SUPER, &sd);
	gb_queue(g, &st, sd, dev);
	run_ms(&st, 2);
	sim_link_error(st.sim, sim_usb3_port(st.sim, 1));
	ck_assert(gb_wait(&st, g, GB_PER_DEV, 1000));
	gb_check(g, GB_PER_DEV);
	check_no_violations(st.sim);
	/* the same device comes back after the warm reset */
	ck_assert(settle(&st, 5000));
	dev = find_pid(&st, 0x1209, 0xb010);
	ck_assert_ptr_nonnull(dev);
	ck_assert_int_eq(dev->state, BU_DEV_CONFIGURED);
	ck_assert_uint_eq(st.removed, 1);
	stack_down(&st);
}
END_TEST

#define GB_HUB_DEVS 4

/* A high-speed hub with WinUSB devices on all its ports is unplugged. */
START_TEST(test_hub_teardown)
{
	struct stack st;
	struct sim_device *hub, *sd[GB_HUB_DEVS];
	static struct gb g[GB_HUB_DEVS][GB_PER_DEV];
	unsigned n = 0;

	stack_up(&st, &gb_cfg, 0);
	hub = sim_attach(st.sim, sim_usb2_port(st.sim, 1), &sim_dev_hub2, SIM_SPEED_HIGH);
	ck_assert_ptr_nonnull(hub);
	for (unsigned p = 0; p < GB_HUB_DEVS; p++) {
		sd[p] = sim_attach_hub(hub, p + 1, &sim_dev_winusb, SIM_SPEED_HIGH);
		ck_assert_ptr_nonnull(sd[p]);
	}
	ck_assert(settle(&st, 10000));
	for (struct bu_usb_device *d = st.bus->devices; d; d = d->next) {
		if (d->tier != 2)
			continue;
		ck_assert_int_eq(d->state, BU_DEV_CONFIGURED);
		gb_queue(g[n++], &st, sd[d->port - 1], d);
	}
	ck_assert_uint_eq(n, GB_HUB_DEVS);
	run_ms(&st, 2);
	sim_detach(hub);
	ck_assert(gb_wait(&st, &g[0][0], GB_HUB_DEVS * GB_PER_DEV, 1000));
	gb_check(&g[0][0], GB_HUB_DEVS * GB_PER_DEV);
	ck_assert_uint_eq(st.removed, GB_HUB_DEVS + 1);
	ck_assert_ptr_null(st.bus->devices);
	check_no_violations(st.sim);
	stack_down(&st);
}
END_TEST

#define GB_TREE_HUBS 7
#define GB_TREE_LEAVES 2

/*
 * A tree of hubs with more devices than the smallest Command Ring holds
 * commands: their Disable Slots wait for ring space, and no transfer of a
 * device still waiting is given back.
 */
START_TEST(test_hub_tree_teardown)
{
	struct stack st;
	struct bu_xhci_options o = { .cmd_ring_trbs = 16 };
	struct sim_device *top;
	static struct sim_device *leaf[GB_TREE_HUBS][GB_TREE_LEAVES];
	static struct gb g[GB_TREE_HUBS * GB_TREE_LEAVES];
	unsigned n = 0;

	stack_up_opts(&st, &gb_cfg, &o, 0);
	top = sim_attach(st.sim, sim_usb2_port(st.sim, 1), &sim_dev_hub2_mtt, SIM_SPEED_HIGH);
	ck_assert_ptr_nonnull(top);
	for (unsigned h = 0; h < GB_TREE_HUBS; h++) {
		struct sim_device *hub = sim_attach_hub(top, h + 1, &sim_dev_hub2, SIM_SPEED_HIGH);

		ck_assert_ptr_nonnull(hub);
		for (unsigned l = 0; l < GB_TREE_LEAVES; l++) {
			leaf[h][l] = sim_attach_hub(hub, l + 1, &sim_dev_winusb, SIM_SPEED_HIGH);
			ck_assert_ptr_nonnull(leaf[h][l]);
		}
	}
	ck_assert(settle(&st, 30000));
	for (struct bu_usb_device *d = st.bus->devices; d; d = d->next) {
		if (d->tier != 3)
			continue;
		ck_assert_int_eq(d->state, BU_DEV_CONFIGURED);
		sim_fault_ep(leaf[d->parent->port - 1][d->port - 1], 0x81, SIM_FAULT_NAK, 0, 0);
		gb_submit(&g[n++], &st, d, 0x81);
	}
	ck_assert_uint_eq(n, GB_TREE_HUBS * GB_TREE_LEAVES);
	run_ms(&st, 2);
	sim_detach(top);
	ck_assert(gb_wait(&st, g, n, 2000));
	gb_check(g, n);
	ck_assert_uint_eq(st.removed, 1 + GB_TREE_HUBS * (1 + GB_TREE_LEAVES));
	check_no_violations(st.sim);
	stack_down(&st);
}
END_TEST

/*
 * Bus destroy with transfers queued on a root-port device and one behind a
 * hub, the first Disable Slot hanging: destroy does not wait for it, it
 * halts the controller and gives everything back after HCH=1.
 */
START_TEST(test_bus_destroy)
{
	struct stack st;
	struct sim_device *sd, *hub, *behind;
	struct gb g[2 * GB_PER_DEV];
	struct bu_usb_device *dev, *below = NULL;

	stack_up(&st, &gb_cfg, 0);
	dev = gb_device(&st, SIM_SPEED_HIGH, &sd);
	hub = sim_attach(st.sim, sim_usb2_port(st.sim, 2), &sim_dev_hub2, SIM_SPEED_HIGH);
	ck_assert_ptr_nonnull(hub);
	behind = sim_attach_hub(hub, 3, &sim_dev_winusb, SIM_SPEED_HIGH);
	ck_assert_ptr_nonnull(behind);
	ck_assert(settle(&st, 5000));
	for (struct bu_usb_device *d = st.bus->devices; d; d = d->next)
		if (d->tier == 2)
			below = d;
	ck_assert_ptr_nonnull(below);
	gb_queue(&g[0], &st, sd, dev);
	gb_queue(&g[GB_PER_DEV], &st, behind, below);
	run_ms(&st, 2);
	sim_fault_cmd_hang(st.sim, XHCI_TRB_DISABLE_SLOT);
	bu_usb_bus_destroy(st.bus);
	st.bus = NULL;
	gb_check(g, 2 * GB_PER_DEV);
	stack_down(&st);
}
END_TEST

/*
 * Disable Slot never completes: the command is aborted after the command
 * timeout; the controller cannot be trusted with the slot's buffers any
 * more, so it is halted and failed, and the transfers go back after HCH=1.
 */
START_TEST(test_disable_slot_hangs)
{
	struct stack st;
	struct bu_xhci_options o = { .cmd_timeout_ms = 100 };
	struct sim_device *sd;
	struct gb g[GB_PER_DEV];

	stack_up_opts(&st, &gb_cfg, &o, 0);
	struct bu_usb_device *dev = gb_device(&st, SIM_SPEED_HIGH, &sd);
	gb_queue(g, &st, sd, dev);
	run_ms(&st, 2);
	sim_fault_cmd_hang(st.sim, XHCI_TRB_DISABLE_SLOT);
	bu_usb_device_gone(dev);
	run_ms(&st, 50);
	for (unsigned i = 0; i < GB_PER_DEV; i++)
		ck_assert_msg(g[i].calls == 0,
			      "transfer %u given back while its Disable Slot is pending", i);
	ck_assert(gb_wait(&st, g, GB_PER_DEV, 1000));
	gb_check(g, GB_PER_DEV);
	ck_assert(st.bus->failed);
	ck_assert(sim_usbsts(st.sim) & XHCI_USBSTS_HCH);
	check_no_violations(st.sim);
	stack_down(&st);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* The model's checks                                                       */

/*
 * Behind the driver's back: a queued IN transfer's buffer is unmapped while
 * its TD is on a running ring (a violation at the unmap); then the device
 * sends data into it (DMA to an unmapped buffer: a violation and, as an
 * IOMMU fault would, Host System Error).
 */
START_TEST(test_model_catches_early_unmap)
{
	struct stack st;
	struct sim_device *sd;
	struct gb in;
	struct aio out;
	static uint8_t data[64];

	stack_up(&st, &gb_cfg, 0);
	struct bu_usb_device *dev = gb_device(&st, SIM_SPEED_HIGH, &sd);
	gb_submit(&in, &st, dev, 0x81); /* the loopback has nothing to send yet: NAK */
	run_ms(&st, 2);
	sim_platform(st.sim)->dma_unmap(st.sim, in.buf, sizeof(in.buf), BU_DMA_FROM_DEVICE, 0);
	ck_assert_msg(sim_has_violation(st.sim, "is running with a TD"),
		      "unmapping a running TD's buffer was not caught");
	ck_assert(!(sim_usbsts(st.sim) & XHCI_USBSTS_HSE));
	sim_clear_violations(st.sim);
	/* data for the loopback to send back; the OUT's own end does not matter */
	ck_assert_int_eq(aio_submit(&out, bu_usb_find_endpoint(dev, 0x01), data, sizeof(data), 0,
				    NULL), 0);
	ck_assert(gb_wait(&st, &in, 1, 1000));
	ck_assert_msg(sim_has_violation(st.sim, "already unmapped"),
		      "DMA to an unmapped buffer was not caught");
	ck_assert(sim_usbsts(st.sim) & XHCI_USBSTS_HSE);
	ck_assert_int_eq(in.status, BU_ESHUTDOWN);
	/* the driver's own unmap of the buffer found nothing left to unmap */
	sim_clear_violations(st.sim);
	stack_down(&st);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("giveback");
	TCase *tc = tcase_create("disable paths");

	tcase_add_test(tc, test_core_disable);
	tcase_add_test(tc, test_unregister_while_disabling);
	tcase_add_test(tc, test_warm_reset_replug);
	tcase_add_test(tc, test_hub_teardown);
	tcase_add_test(tc, test_hub_tree_teardown);
	tcase_add_test(tc, test_bus_destroy);
	tcase_add_test(tc, test_disable_slot_hangs);
	suite_add_tcase(s, tc);
	tc = tcase_create("model checks");
	tcase_add_test(tc, test_model_catches_early_unmap);
	suite_add_tcase(s, tc);
	return run_suite(s);
}
