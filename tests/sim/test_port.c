/*
 * The port state machine (core/port.c) on ports of hub devices: what root
 * ports already had - over-current recovery and the USB 3 link-error warm
 * reset - now on the ports of the USB 2 and USB 3 hub models too. Each
 * case has a WinUSB loopback device on hub port 1, which the fault hits,
 * and one on hub port 2, which must keep working throughout.
 */
#include "harness.h"

struct hubbed {
	struct stack st;
	struct sim_device *hub, *victim, *bystander;
	enum sim_speed speed;
};

/* The device at hub port `port` below the hub on root port 1, or NULL. */
static struct bu_usb_device *below(struct hubbed *t, unsigned port)
{
	for (struct bu_usb_device *d = t->st.bus->devices; d; d = d->next)
		if (d->tier == 2 && d->port == port)
			return d;
	return NULL;
}

static void hubbed_up(struct hubbed *t, enum sim_speed speed)
{
	const struct sim_device_model *hub = speed == SIM_SPEED_SUPER ? &sim_dev_hub3 : &sim_dev_hub2;

	memset(t, 0, sizeof(*t));
	t->speed = speed;
	stack_up(&t->st, NULL, 0);
	t->hub = sim_attach(t->st.sim,
			    speed == SIM_SPEED_SUPER ? sim_usb3_port(t->st.sim, 1)
						     : sim_usb2_port(t->st.sim, 1),
			    hub, speed);
	ck_assert_ptr_nonnull(t->hub);
	t->victim = sim_attach_hub(t->hub, 1, &sim_dev_winusb, speed);
	t->bystander = sim_attach_hub(t->hub, 2, &sim_dev_winusb, speed);
	ck_assert(t->victim && t->bystander);
	ck_assert(settle(&t->st, 5000));
	ck_assert_ptr_nonnull(below(t, 1));
	ck_assert_ptr_nonnull(below(t, 2));
	ck_assert_int_eq(below(t, 1)->state, BU_DEV_CONFIGURED);
	ck_assert_int_eq(below(t, 2)->state, BU_DEV_CONFIGURED);
}

/* Bulk loopback on the device at hub port `port`. */
static void echo_at(struct hubbed *t, unsigned port, uint8_t seed)
{
	struct bu_usb_device *dev = below(t, port);
	uint8_t out[200], in[1024];
	size_t actual = 0;

	ck_assert_ptr_nonnull(dev);
	for (size_t i = 0; i < sizeof(out); i++)
		out[i] = (uint8_t)(seed + i);
	ck_assert_int_eq(xfer_sync(&t->st, bu_usb_find_endpoint(dev, 0x01), out, sizeof(out),
				   &actual, 2000), 0);
	ck_assert_int_eq(xfer_sync(&t->st, bu_usb_find_endpoint(dev, 0x81), in, sizeof(in),
				   &actual, 2000), 0);
	ck_assert_uint_eq(actual, sizeof(out));
	ck_assert_mem_eq(in, out, sizeof(out));
}

/*
 * Over-current on a hub port: the device on it is removed and the port
 * left alone while the condition lasts (nothing enumerates, the bus
 * settles); once it clears the core switches the port's power back on
 * (SetPortFeature(PORT_POWER)), waits the hub's power-good time and the
 * device enumerates again. Before the shared port machine, hub ports did
 * not look at PORT_OVER_CURRENT at all and never re-powered the port.
 */
static void hub_overcurrent(enum sim_speed speed)
{
	struct hubbed t;
	unsigned removed, added;

	hubbed_up(&t, speed);
	removed = t.st.removed;
	added = t.st.added;
	sim_hub_overcurrent(t.hub, 1, true);
	run_ms(&t.st, 300);
	ck_assert_ptr_null(below(&t, 1));
	ck_assert_uint_eq(t.st.removed, removed + 1);
	ck_assert(bu_usb_bus_idle(t.st.bus));
	ck_assert_uint_eq(t.st.added, added);
	echo_at(&t, 2, 7);
	sim_hub_overcurrent(t.hub, 1, false);
	run_ms(&t.st, 600); /* the hub reports it at its next status-change poll */
	ck_assert(settle(&t.st, 5000));
	ck_assert_ptr_nonnull(below(&t, 1));
	ck_assert_int_eq(below(&t, 1)->state, BU_DEV_CONFIGURED);
	ck_assert_uint_eq(t.st.added, added + 1);
	echo_at(&t, 1, 9);
	echo_at(&t, 2, 11);
	stack_down(&t.st);
}

START_TEST(test_hub2_overcurrent)
{
	hub_overcurrent(SIM_SPEED_HIGH);
}
END_TEST

START_TEST(test_hub3_overcurrent)
{
	hub_overcurrent(SIM_SPEED_SUPER);
}
END_TEST

/*
 * A USB 3 hub port whose link fell into SS.Inactive: the device is
 * removed, the port gets a warm reset (BH_PORT_RESET) and the device
 * enumerates again. Before, a hub port in SS.Inactive was left as it was.
 */
START_TEST(test_hub3_link_error)
{
	struct hubbed t;
	unsigned added;

	hubbed_up(&t, SIM_SPEED_SUPER);
	added = t.st.added;
	sim_hub_link_error(t.hub, 1);
	run_ms(&t.st, 600); /* the hub reports it at its next status-change poll */
	ck_assert(settle(&t.st, 5000));
	ck_assert_uint_eq(t.st.added, added + 1);
	ck_assert_ptr_nonnull(below(&t, 1));
	ck_assert_int_eq(below(&t, 1)->state, BU_DEV_CONFIGURED);
	echo_at(&t, 1, 3);
	echo_at(&t, 2, 5);
	stack_down(&t.st);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("port");
	TCase *tc = tcase_create("hub ports");

	tcase_add_test(tc, test_hub2_overcurrent);
	tcase_add_test(tc, test_hub3_overcurrent);
	tcase_add_test(tc, test_hub3_link_error);
	suite_add_tcase(s, tc);
	return run_suite(s);
}
