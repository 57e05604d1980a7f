/*
 * Hostile devices and careless callers: one regression test per defect
 * found by trying the stack as an attacker would (hangs, overruns,
 * use-after-free, over-reads), and the runtime invariants that reach the
 * platform's panic hook. Each test names the defect it pins down.
 */
#include <signal.h>

#include "harness.h"

/* ------------------------------------------------------------------------ */
/* A device with two hub-class interfaces                                   */

/* The device as it was reported: a high-speed hub whose one configuration
 * holds two hub interfaces, each with its own status-change endpoint. */
static const uint8_t twohub_dev[] = {
	0x12, 0x01, 0x00, 0x02, 0x09, 0x00, 0x01, 0x40, 0x09,
	0x12, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01,
};
static const uint8_t twohub_cfg[] = {
	0x09, 0x02, 0x2a, 0x00, 0x02, 0x01, 0x00, 0xe0, 0x32,
	0x09, 0x04, 0x00, 0x00, 0x01, 0x09, 0x00, 0x00, 0x00,
	0x07, 0x05, 0x81, 0x03, 0x01, 0x00, 0x0c,
	0x09, 0x04, 0x01, 0x00, 0x01, 0x09, 0x00, 0x00, 0x00,
	0x07, 0x05, 0x82, 0x03, 0x01, 0x00, 0x0c,
};
static const struct sim_device_model twohub = {
	.name = "two-hub-interfaces",
	.high = { .device = SIM_BLOB(twohub_dev), .configs = { SIM_BLOB(twohub_cfg) } },
	.hub = SIM_HUB_USB2,
	.hub_ports = 2,
	.hub_chars = 0x0000,
};

/* The device whose root port is `port`, or NULL. */
static struct bu_usb_device *dev_on(struct stack *st, unsigned root_port, unsigned tier)
{
	for (struct bu_usb_device *d = st->bus->devices; d; d = d->next)
		if (d->root_port == root_port && d->tier == tier)
			return d;
	return NULL;
}

static unsigned count_substr(const char *s, const char *needle)
{
	unsigned n = 0;

	for (const char *p = strstr(s, needle); p; p = strstr(p + 1, needle))
		n++;
	return n;
}

/* Defect: both interfaces probed as hubs, both slot-update completions
 * landed on the first hub, which resubmitted its in-flight port-power
 * request; the transfer linked to itself in the timeout list and the next
 * bu_usb_bus_poll never returned (the case's timeout fails it). Now the
 * second interface is refused, the hub works with its ports, and a
 * keyboard behind it and one beside it are both configured. */
START_TEST(test_two_hub_interfaces)
{
	struct stack st;
	struct sim_device *hub;
	struct bu_usb_device *h, *kbd, *good;

	stack_up(&st, NULL, 0);
	hub = sim_attach(st.sim, sim_usb2_port(st.sim, 1), &twohub, SIM_SPEED_HIGH);
	ck_assert_ptr_nonnull(hub);
	ck_assert_ptr_nonnull(sim_attach(st.sim, sim_usb2_port(st.sim, 2), &sim_dev_hid_kbd,
					 SIM_SPEED_FULL));
	ck_assert_ptr_nonnull(sim_attach_hub(hub, 1, &sim_dev_hid_kbd, SIM_SPEED_FULL));
	ck_assert(settle(&st, 5000));
	h = dev_on(&st, sim_usb2_port(st.sim, 1), 1);
	kbd = dev_on(&st, sim_usb2_port(st.sim, 1), 2);
	good = dev_on(&st, sim_usb2_port(st.sim, 2), 1);
	ck_assert_ptr_nonnull(h);
	ck_assert_int_eq(h->state, BU_DEV_CONFIGURED);
	ck_assert_msg(count_substr(json_of(h), "\"driver\":\"hub\"") == 1, "%s", json_of(h));
	ck_assert_ptr_nonnull(kbd);
	ck_assert_int_eq(kbd->state, BU_DEV_CONFIGURED);
	ck_assert_ptr_nonnull(good);
	ck_assert_int_eq(good->state, BU_DEV_CONFIGURED);
	/* It goes away cleanly, keyboard and all. */
	sim_detach(hub);
	ck_assert(settle(&st, 2000));
	ck_assert_ptr_null(dev_on(&st, sim_usb2_port(st.sim, 1), 1));
	ck_assert_ptr_null(dev_on(&st, sim_usb2_port(st.sim, 1), 2));
	stack_down(&st);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* A hub descriptor as long as the request allows                           */

/* The hub answers every byte it is asked for: its 4-port descriptor, then
 * 0xa5 up to 255 bytes, of which the sim sends what wLength allows. */
static bool long_hub_desc(void *ctx, struct sim_device *dev, uint8_t type, uint8_t index,
			  uint8_t *buf, uint16_t *len, uint16_t cap)
{
	(void)dev;
	(void)index;
	if (type == USB_DT_HUB && cap >= 255 && *len < 255) {
		memset(buf + *len, 0xa5, 255u - *len);
		*len = 255;
		(*(unsigned *)ctx)++;
	}
	return true;
}

/* Defect: the USB 2 hub descriptor was requested with wLength 71 into a
 * 64-byte buffer, so such a hub wrote 7 bytes of its choosing past it.
 * The buffer is now a block of its own sized for the largest request, so
 * ASan reports any reply the request lets land outside it. */
START_TEST(test_hub_descriptor_fills_request)
{
	struct stack st;
	struct sim_device *hub;
	struct bu_usb_device *kbd;
	unsigned asked = 0;

	stack_up(&st, NULL, 0);
	hub = sim_attach(st.sim, sim_usb2_port(st.sim, 1), &sim_dev_hub2, SIM_SPEED_HIGH);
	ck_assert_ptr_nonnull(hub);
	sim_set_desc_hook(hub, long_hub_desc, &asked);
	ck_assert_ptr_nonnull(sim_attach_hub(hub, 2, &sim_dev_hid_kbd, SIM_SPEED_LOW));
	ck_assert(settle(&st, 5000));
	ck_assert_uint_ge(asked, 1);
	kbd = dev_on(&st, sim_usb2_port(st.sim, 1), 2);
	ck_assert_ptr_nonnull(kbd);
	ck_assert_int_eq(kbd->state, BU_DEV_CONFIGURED);
	stack_down(&st);
}
END_TEST

/* The hub driver unregistered while the hub is still plugged in: its
 * status-change transfer is in flight and holds the hub's state, so the
 * state is freed by that transfer's completion, not by remove() (ASan:
 * heap-use-after-free in the completion if it were freed at once). */
START_TEST(test_hub_unbound_while_busy)
{
	struct stack st;
	struct sim_device *hub;
	struct bu_usb_device *h;

	stack_up(&st, NULL, 0);
	hub = sim_attach(st.sim, sim_usb2_port(st.sim, 1), &sim_dev_hub2, SIM_SPEED_HIGH);
	ck_assert_ptr_nonnull(hub);
	ck_assert_ptr_nonnull(sim_attach_hub(hub, 1, &sim_dev_hid_kbd, SIM_SPEED_FULL));
	ck_assert(settle(&st, 5000));
	h = dev_on(&st, sim_usb2_port(st.sim, 1), 1);
	ck_assert_ptr_nonnull(h);
	ck_assert_ptr_nonnull(h->ifaces[0].driver);
	bu_usb_bus_unregister_driver(st.bus, h->ifaces[0].driver);
	ck_assert_ptr_null(h->ifaces[0].driver);
	run_ms(&st, 300);
	stack_down(&st); /* nothing leaked, no violation */
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Transfers submitted twice                                                */

static void count_done(struct bu_usb_xfer *xfer)
{
	(*(unsigned *)xfer->ctx)++;
}

/* A full-speed keyboard alone on the first USB 2 port, configured. */
static struct bu_usb_device *kbd_up(struct stack *st)
{
	struct bu_usb_device *dev;

	stack_up(st, NULL, 0);
	sim_attach(st->sim, sim_usb2_port(st->sim, 1), &sim_dev_hid_kbd, SIM_SPEED_FULL);
	ck_assert(settle(st, 3000));
	dev = dev_on(st, sim_usb2_port(st->sim, 1), 1);
	ck_assert_ptr_nonnull(dev);
	ck_assert_int_eq(dev->state, BU_DEV_CONFIGURED);
	return dev;
}

/* The class fix for the hang: a transfer in flight cannot be submitted
 * again, whoever tries; once completed it can, also from its callback. */
START_TEST(test_submit_in_flight_refused)
{
	struct stack st;
	struct bu_usb_device *dev;
	struct bu_usb_xfer x;
	uint8_t rep[8];
	unsigned done = 0;

	dev = kbd_up(&st);
	memset(&x, 0, sizeof(x));
	x.ep = bu_usb_find_endpoint(dev, 0x81);
	ck_assert_ptr_nonnull(x.ep);
	x.buf = rep;
	x.len = sizeof(rep);
	x.timeout_ms = 100; /* on the bus's timeout list */
	x.complete = count_done;
	x.ctx = &done;
	ck_assert_int_eq(bu_usb_xfer_submit(&x), 0);
	ck_assert_int_eq(bu_usb_xfer_submit(&x), BU_EBUSY);
	ck_assert_int_eq(bu_usb_xfer_submit(&x), BU_EBUSY);
	run_ms(&st, 300); /* the keyboard has nothing to say: times out once */
	ck_assert_uint_eq(done, 1);
	ck_assert_int_eq(x.status, BU_ETIMEDOUT);
	ck_assert_int_eq(bu_usb_xfer_submit(&x), 0);
	run_ms(&st, 300);
	ck_assert_uint_eq(done, 2);
	stack_down(&st);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Invariants reach the panic hook                                          */

/* Giving back a transfer that was never submitted breaks the core's
 * transfer-state invariant: the sim's panic hook aborts (SIGABRT). */
START_TEST(test_invariant_reaches_panic)
{
	struct stack st;
	struct bu_usb_device *dev;
	struct bu_usb_xfer x;
	unsigned done = 0;

	dev = kbd_up(&st);
	memset(&x, 0, sizeof(x));
	x.ep = &dev->ep0;
	x.complete = count_done;
	x.ctx = &done;
	bu_usb_xfer_giveback(&x);
	ck_abort_msg("the broken invariant did not reach the panic hook");
}
END_TEST

static Suite *untrusted_suite(void)
{
	Suite *s = suite_create("untrusted");
	TCase *tc = tcase_create("defects");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_two_hub_interfaces);
	tcase_add_test(tc, test_hub_descriptor_fills_request);
	tcase_add_test(tc, test_hub_unbound_while_busy);
	tcase_add_test(tc, test_submit_in_flight_refused);
	tcase_add_test_raise_signal(tc, test_invariant_reaches_panic, SIGABRT);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return run_suite(untrusted_suite());
}
