/*
 * System sleep of a whole bus (core/sleep.c, hcd/xhci_pm.c): every device
 * suspended, the controller halted with its state saved (xHCI 1.2
 * §4.23.2), then restored, each device resumed and re-validated; or, when
 * the restore fails (SRE), the controller lost power, or a device changed
 * while the bus slept, the devices removed and enumerated again. The
 * model flags Save/Restore State written while the controller runs (as a
 * violation that fails stack_down), keeps devices in U3 across the save,
 * and signals a wake (PME) only where the port's wake enables or an armed
 * device allow.
 */
#include "harness.h"

#include "bareusb/winusb_drv.h"
#include "bareusb/winusb_inf.h"

/* ------------------------------------------------------------------------ */
/* Helpers                                                                  */

/* The device_resumed verdicts seen. */
static struct {
	unsigned n;
	struct bu_usb_device *dev[16];
	int how[16];
	uint8_t tier[16];
} rs;

static void on_resumed(void *ctx, struct bu_usb_device *dev, int how)
{
	(void)ctx;
	if (rs.n < 16) {
		rs.dev[rs.n] = dev;
		rs.how[rs.n] = how;
		rs.tier[rs.n] = dev->tier;
	}
	rs.n++;
}

/* How many verdicts were `how`. */
static unsigned count_how(int how)
{
	unsigned c = 0;

	for (unsigned i = 0; i < rs.n && i < 16; i++)
		c += rs.how[i] == how;
	return c;
}

/* The verdict told for `dev`, 0 when none. */
static int how_of(const struct bu_usb_device *dev)
{
	for (unsigned i = 0; i < rs.n && i < 16; i++)
		if (rs.dev[i] == dev)
			return rs.how[i];
	return 0;
}

/* The sim personality whose Restore State always fails (QEMU 7.2). */
static bool restore_fails(void)
{
	const char *p = getenv("SIM_PERSONALITY");

	return p && !strcmp(p, "qemu");
}

static void sleep_stack(struct stack *st)
{
	struct sim_config c = { 0 };

	c.save_us = 2000;
	c.restore_us = 3000;
	stack_up(st, &c, 0);
	st->bus->events.device_resumed = on_resumed;
	memset(&rs, 0, sizeof(rs));
}

/* An operational register, through the platform as the driver reads it. */
static uint32_t op_rd(struct stack *st, unsigned off)
{
	const struct bu_platform *p = sim_platform(st->sim);
	uintptr_t base = sim_regs_base(st->sim);

	return p->read32(p->ctx, base + (p->read32(p->ctx, base) & 0xff) + off);
}

static void op_wr(struct stack *st, unsigned off, uint32_t v)
{
	const struct bu_platform *p = sim_platform(st->sim);
	uintptr_t base = sim_regs_base(st->sim);

	p->write32(p->ctx, base + (p->read32(p->ctx, base) & 0xff) + off, v);
}

static unsigned port_link(struct stack *st, unsigned port)
{
	return XHCI_PORTSC_PLS(sim_portsc(st->sim, port));
}

static unsigned devices(struct stack *st)
{
	return count_state(st, BU_DEV_CONFIGURED);
}

/* Loop four bytes through the WinUSB model's bulk endpoints. */
static void loop_ok(struct stack *st, struct bu_usb_device *dev)
{
	uint8_t data[4] = { 1, 2, 3, 4 }, back[512];
	size_t got = 0;

	ck_assert_int_eq(xfer_sync(st, bu_usb_find_endpoint(dev, 0x01), data, 4, &got, 200), 0);
	ck_assert_int_eq(xfer_sync(st, bu_usb_find_endpoint(dev, 0x81), back, sizeof(back), &got,
				   200), 0);
	ck_assert_uint_eq(got, 4);
	ck_assert_mem_eq(back, data, 4);
}

/* ------------------------------------------------------------------------ */
/* Restore succeeds: re-validated, nothing enumerated again                  */

START_TEST(test_sleep_restore)
{
	struct stack st;
	struct bu_usb_device *hs, *ss, *kbd;
	struct bu_usb_sleep_report r;
	struct sim_device *shs;
	struct aio in, out;
	uint8_t data[4] = { 9, 8, 7, 6 }, back[512];
	unsigned p2 = 0, p3 = 0, pk = 0;

	sleep_stack(&st);
	p2 = sim_usb2_port(st.sim, 1);
	p3 = sim_usb3_port(st.sim, 1);
	pk = sim_usb2_port(st.sim, 2);
	shs = sim_attach(st.sim, p2, &sim_dev_winusb, SIM_SPEED_HIGH);
	sim_attach(st.sim, p3, &sim_dev_winusb, SIM_SPEED_SUPER);
	sim_attach(st.sim, pk, &sim_dev_hid_kbd, SIM_SPEED_FULL);
	ck_assert(settle(&st, 3000));
	ck_assert_uint_eq(devices(&st), 3);
	hs = ss = kbd = NULL;
	for (struct bu_usb_device *d = st.bus->devices; d; d = d->next) {
		if (d->root_port == p2)
			hs = d;
		else if (d->root_port == p3)
			ss = d;
		else
			kbd = d;
	}
	ck_assert(hs && ss && kbd);
	ck_assert_int_eq(bu_usb_bus_wake_source(st.bus, &r), BU_ENOENT);

	/* A read pending across the sleep; it is answered after. */
	ck_assert_int_eq(aio_submit(&in, bu_usb_find_endpoint(hs, 0x81), back, sizeof(back), 0,
				    NULL), 0);
	run_ms(&st, 2);
	ck_assert_int_eq(bu_usb_bus_suspend(st.bus, 0), 0);
	ck_assert(bu_usb_bus_asleep(st.bus));
	ck_assert(sim_usbsts(st.sim) & XHCI_USBSTS_HCH);
	ck_assert_uint_eq(port_link(&st, p2), XHCI_PLS_U3);
	ck_assert_uint_eq(port_link(&st, p3), XHCI_PLS_U3);
	ck_assert_uint_eq(port_link(&st, pk), XHCI_PLS_U3);
	/* Nobody may wake the system: nothing armed. */
	ck_assert(!sim_remote_wake_armed(shs));
	ck_assert_int_eq(bu_usb_bus_suspend(st.bus, 0), BU_EBUSY);

	/* Held while asleep, polled or not; the controller stays halted. */
	ck_assert_int_eq(aio_submit(&out, bu_usb_find_endpoint(hs, 0x01), data, 4, 0, NULL), 0);
	run_ms(&st, 200);
	ck_assert(!out.done && !in.done);
	ck_assert_uint_eq(port_link(&st, p2), XHCI_PLS_U3);
	ck_assert_uint_eq(bu_usb_bus_wake_check(st.bus), 0);
	ck_assert(!sim_pme_take(st.sim));

	ck_assert_int_eq(bu_usb_bus_resume(st.bus), 0);
	ck_assert(!bu_usb_bus_asleep(st.bus));
	ck_assert_int_eq(bu_usb_bus_wake_source(st.bus, &r), 0);
	ck_assert_int_eq(r.wake, BU_WAKE_NONE);
	ck_assert_ptr_null(r.wake_dev);
	ck_assert(r.saved);
	if (restore_fails()) {
		/* QEMU's Restore State: SRE every time, all enumerate again. */
		ck_assert(!r.restored);
		ck_assert_uint_eq(r.reenumerated, 3);
		ck_assert_uint_eq(count_how(BU_RESUME_REENUMERATED), 3);
		wait_flag(&st, &in.done, 100);
		ck_assert(in.done && out.done);
		ck_assert_int_eq(in.x.status, BU_ENODEV);
		ck_assert_int_eq(out.x.status, BU_ENODEV);
		ck_assert(settle(&st, 3000));
		ck_assert_uint_eq(devices(&st), 3);
		ck_assert_uint_eq(st.removed, 3);
		stack_down(&st);
		return;
	}
	ck_assert(r.restored);
	ck_assert_uint_eq(r.revalidated, 3);
	ck_assert_uint_eq(r.reenumerated + r.gone, 0);
	ck_assert_uint_eq(rs.n, 3);
	ck_assert_int_eq(how_of(hs), BU_RESUME_REVALIDATED);
	ck_assert_int_eq(how_of(ss), BU_RESUME_REVALIDATED);
	ck_assert_int_eq(how_of(kbd), BU_RESUME_REVALIDATED);
	ck_assert_uint_eq(st.removed, 0);
	ck_assert_uint_eq(st.added, 3);
	ck_assert_uint_eq(port_link(&st, p2), XHCI_PLS_U0);
	ck_assert_uint_eq(port_link(&st, p3), XHCI_PLS_U0);
	/* The held write went out and the pending read got it. */
	ck_assert(wait_flag(&st, &in.done, 200));
	ck_assert(out.done);
	ck_assert_int_eq(out.x.status, 0);
	ck_assert_int_eq(in.x.status, 0);
	ck_assert_uint_eq(in.x.actual, 4);
	ck_assert_mem_eq(back, data, 4);
	/* Resume signalling and recovery were counted: 20 + 10 ms at least. */
	ck_assert_uint_ge(r.resume_us, 30000);
	loop_ok(&st, hs);
	loop_ok(&st, ss);
	ck_assert(settle(&st, 500));
	ck_assert_uint_eq(st.added, 3);
	stack_down(&st);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* State lost: SRE on restore, failed save, power lost                       */

enum lost_how { LOST_SRE, LOST_SAVE, LOST_POWER };

static void sleep_lost(enum lost_how how)
{
	struct stack st;
	struct bu_usb_sleep_report r;
	struct bu_usb_device *dev;
	struct aio out;
	uint8_t data[4] = { 5, 5, 5, 5 };

	sleep_stack(&st);
	sim_attach(st.sim, sim_usb2_port(st.sim, 1), &sim_dev_winusb, SIM_SPEED_HIGH);
	sim_attach(st.sim, sim_usb3_port(st.sim, 1), &sim_dev_winusb, SIM_SPEED_SUPER);
	ck_assert(settle(&st, 3000));
	ck_assert_uint_eq(devices(&st), 2);
	if (how == LOST_SAVE)
		sim_fault_save_restore_error(st.sim, true, true);
	if (how == LOST_SRE)
		sim_fault_save_restore_error(st.sim, false, true);
	ck_assert_int_eq(bu_usb_bus_suspend(st.bus, 0), 0);
	dev = st.bus->devices;
	ck_assert_int_eq(aio_submit(&out, bu_usb_find_endpoint(dev, 0x01), data, 4, 0, NULL), 0);
	run_ms(&st, 50);
	if (how == LOST_POWER)
		sim_fault_power_lost(st.sim);
	run_ms(&st, 50);
	ck_assert_int_eq(bu_usb_bus_resume(st.bus), 0);
	ck_assert_int_eq(bu_usb_bus_wake_source(st.bus, &r), 0);
	ck_assert(!r.restored);
	ck_assert(r.saved == (how != LOST_SAVE));
	ck_assert_uint_eq(r.reenumerated, 2);
	ck_assert_uint_eq(count_how(BU_RESUME_REENUMERATED), 2);
	ck_assert_uint_eq(st.removed, 2);
	/* The held write ended with its device. */
	ck_assert(out.done);
	ck_assert_int_eq(out.x.status, BU_ENODEV);
	ck_assert(settle(&st, 3000));
	ck_assert_uint_eq(devices(&st), 2);
	ck_assert_uint_eq(st.added, 4);
	for (dev = st.bus->devices; dev; dev = dev->next)
		loop_ok(&st, dev);
	stack_down(&st);
}

START_TEST(test_sleep_restore_error)
{
	sleep_lost(LOST_SRE);
}
END_TEST

START_TEST(test_sleep_save_error)
{
	sleep_lost(LOST_SAVE);
}
END_TEST

START_TEST(test_sleep_power_lost)
{
	sleep_lost(LOST_POWER);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Devices changed while asleep                                              */

START_TEST(test_sleep_swapped)
{
	struct stack st;
	struct sim_device *sd;
	struct bu_usb_device *old, *now;
	struct bu_usb_sleep_report r;
	unsigned port;

	sleep_stack(&st);
	port = sim_usb2_port(st.sim, 1);
	sd = sim_attach(st.sim, port, &sim_dev_winusb, SIM_SPEED_HIGH);
	ck_assert(settle(&st, 3000));
	old = st.bus->devices;
	ck_assert_uint_ne(old->desc.idProduct, 0xb001);
	ck_assert_int_eq(bu_usb_bus_suspend(st.bus, 0), 0);
	/* Another device on the same port while the bus sleeps. */
	sim_detach(sd);
	run_ms(&st, 20);
	sim_attach(st.sim, port, &sim_dev_hid_kbd, SIM_SPEED_FULL);
	run_ms(&st, 20);
	ck_assert_int_eq(bu_usb_bus_resume(st.bus), 0);
	ck_assert_int_eq(bu_usb_bus_wake_source(st.bus, &r), 0);
	ck_assert_uint_eq(rs.n, 1);
	ck_assert_ptr_eq(rs.dev[0], old);
	if (restore_fails())
		ck_assert_int_eq(rs.how[0], BU_RESUME_REENUMERATED);
	else
		ck_assert_int_eq(rs.how[0], BU_RESUME_GONE);
	ck_assert_uint_eq(st.removed, 1);
	ck_assert(settle(&st, 3000));
	ck_assert_uint_eq(st.added, 2);
	now = st.bus->devices;
	ck_assert_ptr_nonnull(now);
	ck_assert_uint_eq(now->desc.idProduct, 0xb001); /* the keyboard */
	stack_down(&st);
}
END_TEST

/* The same port, a device that answers differently: re-enumerated. */
START_TEST(test_sleep_descriptors_differ)
{
	struct stack st;
	struct bu_usb_device *dev;
	struct bu_usb_sleep_report r;

	if (restore_fails())
		return; /* never re-validated there */
	sleep_stack(&st);
	sim_attach(st.sim, sim_usb3_port(st.sim, 1), &sim_dev_winusb, SIM_SPEED_SUPER);
	ck_assert(settle(&st, 3000));
	dev = st.bus->devices;
	ck_assert_int_eq(bu_usb_bus_suspend(st.bus, 0), 0);
	/* What the core remembers no longer matches (as if a firmware
	 * update changed the device while it slept). */
	dev->desc.bcdDevice ^= 0x0100;
	ck_assert_int_eq(bu_usb_bus_resume(st.bus), 0);
	ck_assert_int_eq(bu_usb_bus_wake_source(st.bus, &r), 0);
	ck_assert(r.restored);
	ck_assert_uint_eq(r.revalidated, 0);
	ck_assert_uint_eq(r.reenumerated, 1);
	ck_assert_uint_eq(rs.n, 1);
	ck_assert_int_eq(rs.how[0], BU_RESUME_REENUMERATED);
	ck_assert(settle(&st, 3000));
	ck_assert_uint_eq(st.removed, 1);
	ck_assert_uint_eq(st.added, 2);
	ck_assert_uint_eq(devices(&st), 1);
	loop_ok(&st, st.bus->devices);
	stack_down(&st);
}
END_TEST

START_TEST(test_sleep_removed)
{
	struct stack st;
	struct sim_device *gone;
	struct bu_usb_device *dgone = NULL, *dstay = NULL;
	struct aio out;
	uint8_t data[4] = { 1, 1, 1, 1 };
	unsigned p1;

	sleep_stack(&st);
	p1 = sim_usb2_port(st.sim, 1);
	gone = sim_attach(st.sim, p1, &sim_dev_winusb, SIM_SPEED_HIGH);
	sim_attach(st.sim, sim_usb2_port(st.sim, 2), &sim_dev_winusb, SIM_SPEED_HIGH);
	ck_assert(settle(&st, 3000));
	for (struct bu_usb_device *d = st.bus->devices; d; d = d->next) {
		if (d->root_port == p1)
			dgone = d;
		else
			dstay = d;
	}
	ck_assert_int_eq(bu_usb_bus_suspend(st.bus, 0), 0);
	ck_assert_int_eq(aio_submit(&out, bu_usb_find_endpoint(dgone, 0x01), data, 4, 0, NULL), 0);
	sim_detach(gone);
	run_ms(&st, 50);
	ck_assert(!out.done);
	ck_assert_int_eq(bu_usb_bus_resume(st.bus), 0);
	ck_assert(out.done);
	ck_assert_int_eq(out.x.status, BU_ENODEV);
	if (restore_fails()) {
		ck_assert_uint_eq(count_how(BU_RESUME_REENUMERATED), 2);
	} else {
		ck_assert_uint_eq(rs.n, 2);
		ck_assert_int_eq(how_of(dgone), BU_RESUME_GONE);
		ck_assert_int_eq(how_of(dstay), BU_RESUME_REVALIDATED);
		loop_ok(&st, dstay);
	}
	ck_assert(settle(&st, 3000));
	ck_assert_uint_eq(devices(&st), 1);
	stack_down(&st);
}
END_TEST

/*
 * Devices behind a USB 2 and a USB 3 hub: all re-validated after a
 * restore (each hub resumed before the device below it); one unplugged
 * from its hub while the bus slept is told gone, the other stays.
 */
START_TEST(test_sleep_hubs)
{
	struct stack st;
	struct sim_device *h2, *h3, *below2;
	struct bu_usb_device *d2 = NULL, *d3 = NULL;
	struct bu_usb_sleep_report r;
	unsigned p2, p3;

	if (restore_fails())
		return; /* never re-validated there: test_sleep_restore covers it */
	sleep_stack(&st);
	p2 = sim_usb2_port(st.sim, 1);
	p3 = sim_usb3_port(st.sim, 1);
	h2 = sim_attach(st.sim, p2, &sim_dev_hub2, SIM_SPEED_HIGH);
	below2 = sim_attach_hub(h2, 1, &sim_dev_winusb, SIM_SPEED_HIGH);
	h3 = sim_attach(st.sim, p3, &sim_dev_hub3, SIM_SPEED_SUPER);
	sim_attach_hub(h3, 2, &sim_dev_winusb, SIM_SPEED_SUPER);
	ck_assert(settle(&st, 5000));
	ck_assert_uint_eq(devices(&st), 4);
	for (struct bu_usb_device *d = st.bus->devices; d; d = d->next) {
		if (d->tier == 2 && d->root_port == p2)
			d2 = d;
		else if (d->tier == 2)
			d3 = d;
	}
	ck_assert(d2 && d3);

	/* Everything comes back as it was. */
	ck_assert_int_eq(bu_usb_bus_suspend(st.bus, 0), 0);
	ck_assert(sim_hub_port_is_suspended(h2, 1));
	ck_assert(sim_hub_port_is_suspended(h3, 2));
	ck_assert_uint_eq(port_link(&st, p2), XHCI_PLS_U3);
	ck_assert_uint_eq(port_link(&st, p3), XHCI_PLS_U3);
	run_ms(&st, 100);
	ck_assert_int_eq(bu_usb_bus_resume(st.bus), 0);
	ck_assert_int_eq(bu_usb_bus_wake_source(st.bus, &r), 0);
	ck_assert(r.restored);
	ck_assert_uint_eq(r.revalidated, 4);
	ck_assert_uint_eq(rs.n, 4);
	/* Hubs are told before the devices below them. */
	ck_assert_uint_eq(rs.tier[0], 1);
	ck_assert_uint_eq(rs.tier[1], 1);
	ck_assert(!sim_hub_port_is_suspended(h2, 1) && !sim_hub_port_is_suspended(h3, 2));
	loop_ok(&st, d2);
	loop_ok(&st, d3);

	/* The device below the USB 2 hub leaves while the bus sleeps. */
	memset(&rs, 0, sizeof(rs));
	ck_assert_int_eq(bu_usb_bus_suspend(st.bus, 0), 0);
	sim_detach(below2);
	run_ms(&st, 50);
	ck_assert_int_eq(bu_usb_bus_resume(st.bus), 0);
	ck_assert(settle(&st, 3000));
	ck_assert_int_eq(bu_usb_bus_wake_source(st.bus, &r), 0);
	ck_assert_uint_eq(r.revalidated, 3);
	ck_assert_uint_eq(r.gone, 1);
	ck_assert_int_eq(how_of(d2), BU_RESUME_GONE);
	ck_assert_int_eq(how_of(d3), BU_RESUME_REVALIDATED);
	ck_assert_uint_eq(devices(&st), 3);
	ck_assert_uint_eq(st.removed, 1);
	loop_ok(&st, d3);
	stack_down(&st);
}
END_TEST

/*
 * What the API does while the bus sleeps: a synchronous call fails at
 * once (it would wait for the resume), a device cannot be resumed or reset
 * on its own, the bus cannot sleep twice; poll and next_timeout leave the
 * halted controller alone; destroying the bus asleep gives everything
 * back.
 */
/** A done callback for a call that must not start. */
static void never_done(struct bu_usb_device *dev, void *ctx, int status)
{
	(void)dev;
	(void)ctx;
	ck_abort_msg("done ran (status %d) for a call refused while asleep", status);
}

START_TEST(test_sleep_asleep_api)
{
	struct stack st;
	struct bu_usb_device *dev;
	struct aio a;
	uint8_t buf[18];
	unsigned viol;

	sleep_stack(&st);
	sim_attach(st.sim, sim_usb2_port(st.sim, 1), &sim_dev_winusb, SIM_SPEED_HIGH);
	ck_assert(settle(&st, 3000));
	dev = st.bus->devices;
	ck_assert_int_eq(bu_usb_bus_resume(st.bus), BU_EINVAL);
	ck_assert_int_eq(bu_usb_bus_suspend(NULL, 0), BU_EINVAL);
	ck_assert(!bu_usb_bus_asleep(st.bus));
	ck_assert_int_eq(bu_usb_bus_suspend(st.bus, 0), 0);
	ck_assert(bu_usb_bus_asleep(st.bus));
	ck_assert_int_eq(bu_usb_control(dev, 0x80, 6, 0x100, 0, buf, 18, 1000), BU_ESHUTDOWN);
	ck_assert_int_eq(bu_usb_device_suspend(dev, false), BU_EBUSY);
	ck_assert_int_eq(bu_usb_device_reset(dev), BU_EBUSY);
	/* The asynchronous forms too: their Configure Endpoint would go to a
	 * halted controller's command ring. */
	ck_assert_int_eq(bu_usb_reset_endpoint_async(bu_usb_find_endpoint(dev, 0x81),
						     never_done, NULL),
			 BU_ESHUTDOWN);
	ck_assert_int_eq(bu_usb_set_interface_async(dev, 0, 0, never_done, NULL), BU_ESHUTDOWN);
	ck_assert_int_eq(bu_usb_bus_suspend(st.bus, 0), BU_EBUSY);
	ck_assert_uint_eq(bu_usb_bus_next_timeout(st.bus), BU_USB_NO_TIMEOUT);
	/* Held, not sent, however long it is polled. */
	ck_assert_int_eq(aio_submit(&a, bu_usb_find_endpoint(dev, 0x81), buf, sizeof(buf), 100,
				    NULL), 0);
	viol = sim_violations(st.sim);
	run_ms(&st, 500);
	ck_assert(!a.done);
	ck_assert_uint_eq(sim_violations(st.sim), viol);
	ck_assert(sim_usbsts(st.sim) & XHCI_USBSTS_HCH);
	/* Destroyed asleep: the held read ends, nothing leaks (stack_down). */
	bu_usb_bus_destroy(st.bus);
	st.bus = NULL;
	ck_assert(a.done);
	ck_assert_int_eq(a.x.status, BU_ENODEV);
	stack_down(&st);
}
END_TEST

/* Interrupt-driven: the restored controller interrupts again (USBCMD.INTE, IMAN.IE). */
static struct bu_usb_bus *irq_bus;

static void on_irq(void *ctx)
{
	(void)ctx;
	bu_xhci_irq(irq_bus);
}

START_TEST(test_sleep_irq)
{
	struct sim_config c = { 0 };
	struct bu_xhci_options o = { 0 };
	struct bu_usb_sleep_report r;
	struct sim_stats ss;
	struct stack st;
	uint64_t irqs;

	c.wait_hook = true;
	o.irq = true;
	stack_up_opts(&st, &c, &o, 0);
	irq_bus = st.bus;
	sim_set_irq_handler(st.sim, on_irq, NULL);
	sim_attach(st.sim, sim_usb2_port(st.sim, 1), &sim_dev_winusb, SIM_SPEED_HIGH);
	ck_assert(settle(&st, 3000));
	ck_assert(op_rd(&st, XHCI_OP_USBCMD) & XHCI_USBCMD_INTE);
	ck_assert_int_eq(bu_usb_bus_suspend(st.bus, 0), 0);
	ck_assert_int_eq(bu_usb_bus_resume(st.bus), 0);
	ck_assert_int_eq(bu_usb_bus_wake_source(st.bus, &r), 0);
	ck_assert(settle(&st, 3000));
	ck_assert_msg(op_rd(&st, XHCI_OP_USBCMD) & XHCI_USBCMD_INTE,
		      "USBCMD.INTE lost across the sleep (restored: %d)", r.restored);
	sim_get_stats(st.sim, &ss);
	irqs = ss.irqs;
	/* A synchronous transfer now waits in the wait hook for the interrupt. */
	ck_assert_int_eq(bu_usb_control(st.bus->devices, 0x80, 6, 0x100, 0, NULL, 0, 1000), 0);
	sim_get_stats(st.sim, &ss);
	ck_assert_uint_gt(ss.irqs, irqs);
	stack_down(&st);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* System wake                                                              */

/*
 * A keyboard allowed to wake the system (`behind_hub`: below a USB 2
 * hub, which is then armed too) is armed; a WinUSB device with remote
 * wakeup that is not allowed stays disarmed. A key while the bus sleeps
 * is a wake the controller signals, the resume names the keyboard.
 */
static void sleep_wake(bool behind_hub, bool allowed)
{
	struct stack st;
	struct sim_device *hub = NULL, *kbd;
	struct bu_usb_device *dkbd = NULL, *dhub = NULL;
	struct bu_usb_sleep_report r;
	unsigned port, woke;

	sleep_stack(&st);
	port = sim_usb2_port(st.sim, 1);
	if (behind_hub) {
		hub = sim_attach(st.sim, port, &sim_dev_hub2, SIM_SPEED_HIGH);
		kbd = sim_attach_hub(hub, 2, &sim_dev_hid_kbd, SIM_SPEED_FULL);
		sim_attach_hub(hub, 3, &sim_dev_winusb, SIM_SPEED_HIGH);
	} else {
		kbd = sim_attach(st.sim, port, &sim_dev_hid_kbd, SIM_SPEED_FULL);
	}
	ck_assert(settle(&st, 5000));
	for (struct bu_usb_device *d = st.bus->devices; d; d = d->next) {
		if (d->desc.bDeviceClass == 9)
			dhub = d;
		else if (d->desc.idProduct == 0xb001)
			dkbd = d;
	}
	ck_assert_ptr_nonnull(dkbd);
	ck_assert(!bu_usb_device_system_wake(dkbd));
	ck_assert_int_eq(bu_usb_device_set_system_wake(dkbd, allowed), 0);
	ck_assert(bu_usb_device_system_wake(dkbd) == allowed);
	ck_assert_int_eq(bu_usb_device_set_system_wake(NULL, true), BU_EINVAL);
	ck_assert_int_eq(bu_usb_bus_suspend(st.bus, 0), 0);
	ck_assert(sim_remote_wake_armed(kbd) == allowed);
	if (hub)
		ck_assert(sim_remote_wake_armed(hub) == allowed);
	run_ms(&st, 20);
	sim_kbd_type(kbd, 0x04);
	run_ms(&st, 5);
	woke = bu_usb_bus_wake_check(st.bus);
	ck_assert(sim_pme_take(st.sim) == allowed);
	ck_assert_uint_eq(woke, allowed ? port : 0);
	ck_assert_int_eq(bu_usb_bus_resume(st.bus), 0);
	ck_assert_int_eq(bu_usb_bus_wake_source(st.bus, &r), 0);
	if (!allowed) {
		ck_assert_int_eq(r.wake, BU_WAKE_NONE);
		ck_assert_uint_eq(r.wake_port, 0);
	} else {
		ck_assert_int_eq(r.wake, BU_WAKE_REMOTE);
		ck_assert_uint_eq(r.wake_port, port);
		ck_assert_uint_eq(r.wake_path[0], port);
		if (restore_fails()) {
			ck_assert_ptr_null(r.wake_dev);
		} else {
			ck_assert_ptr_eq(r.wake_dev, dkbd);
			ck_assert_uint_eq(r.wake_tier, dkbd->tier);
			if (behind_hub)
				ck_assert_uint_eq(r.wake_path[1], 2);
		}
	}
	if (!restore_fails()) {
		ck_assert_uint_eq(r.revalidated, behind_hub ? 3 : 1);
		ck_assert_uint_eq(st.removed, 0);
		if (dhub)
			ck_assert_int_eq(how_of(dhub), BU_RESUME_REVALIDATED);
		/* Disarmed once back. */
		run_ms(&st, 20);
		ck_assert(!sim_remote_wake_armed(kbd));
	}
	ck_assert(settle(&st, 5000));
	ck_assert_uint_eq(devices(&st), behind_hub ? 3 : 1);
	stack_down(&st);
}

START_TEST(test_sleep_wake_kbd)
{
	sleep_wake(false, true);
}
END_TEST

START_TEST(test_sleep_wake_kbd_hub)
{
	sleep_wake(true, true);
}
END_TEST

START_TEST(test_sleep_no_system_wake)
{
	sleep_wake(false, false);
}
END_TEST

START_TEST(test_sleep_no_system_wake_hub)
{
	sleep_wake(true, false);
}
END_TEST

/*
 * Wake on connect (PORTSC.WCE): a device plugged in while asleep wakes the
 * bus; wake on disconnect (WDE) likewise, and only when enabled.
 */
START_TEST(test_sleep_wake_connect)
{
	struct stack st;
	struct bu_usb_sleep_report r;
	unsigned port;

	sleep_stack(&st);
	port = sim_usb2_port(st.sim, 3);
	sim_attach(st.sim, sim_usb2_port(st.sim, 1), &sim_dev_winusb, SIM_SPEED_HIGH);
	ck_assert(settle(&st, 3000));
	ck_assert_int_eq(bu_usb_bus_suspend(st.bus, 99), BU_EINVAL);
	ck_assert_int_eq(bu_usb_bus_suspend(st.bus, BU_SLEEP_WAKE_CONNECT), 0);
	ck_assert(sim_portsc(st.sim, port) & XHCI_PORTSC_WCE);
	ck_assert(!(sim_portsc(st.sim, port) & XHCI_PORTSC_WDE));
	sim_attach(st.sim, port, &sim_dev_hid_kbd, SIM_SPEED_FULL);
	bu_usb_bus_poll(st.bus);
	ck_assert(sim_pme_take(st.sim));
	ck_assert_int_eq(bu_usb_bus_resume(st.bus), 0);
	ck_assert(!(sim_portsc(st.sim, port) & XHCI_PORTSC_WCE));
	ck_assert_int_eq(bu_usb_bus_wake_source(st.bus, &r), 0);
	ck_assert_int_eq(r.wake, BU_WAKE_CONNECT);
	ck_assert_uint_eq(r.wake_port, port);
	ck_assert(settle(&st, 3000));
	ck_assert_uint_eq(devices(&st), 2);

	/* Without WDE an unplug while asleep signals nothing; with it, it wakes. */
	for (int wde = 0; wde < 2; wde++) {
		struct sim_device *sd;

		sd = sim_attach(st.sim, sim_usb2_port(st.sim, 4), &sim_dev_winusb, SIM_SPEED_HIGH);
		ck_assert(settle(&st, 3000));
		ck_assert_int_eq(bu_usb_bus_suspend(st.bus, wde ? BU_SLEEP_WAKE_DISCONNECT
								: BU_SLEEP_WAKE_CONNECT), 0);
		sim_detach(sd);
		ck_assert(sim_pme_take(st.sim) == (wde != 0));
		ck_assert_uint_eq(bu_usb_bus_wake_check(st.bus), wde ? sim_usb2_port(st.sim, 4) : 0);
		ck_assert_int_eq(bu_usb_bus_resume(st.bus), 0);
		ck_assert_int_eq(bu_usb_bus_wake_source(st.bus, &r), 0);
		ck_assert_int_eq(r.wake, wde ? BU_WAKE_DISCONNECT : BU_WAKE_NONE);
		ck_assert(settle(&st, 3000));
		ck_assert_uint_eq(devices(&st), 2);
	}
	stack_down(&st);
}
END_TEST

/*
 * The WinUSB driver hands an INF's SystemWakeEnabled to the core: the
 * device's system-wake flag follows it.
 */
static void winusb_system_wake(const char *value, bool want)
{
	static const char head[] = "[Version]\nSignature=\"$Windows NT$\"\n[Manufacturer]\n"
				   "M=Models\n[Models]\nD=I,USB\\VID_0547&PID_1002\n[I]\n"
				   "Include=winusb.inf\nNeeds=WINUSB.NT\n[I.HW]\nAddReg=R\n[R]\n"
				   "HKR,,DeviceInterfaceGUIDs,0x10000,"
				   "\"{3D2E6F1A-8C4B-4F5E-9A7D-1B2C3D4E5F60}\"\n";
	static char text[1024];
	struct bu_winusb_inf *inf = calloc(1, sizeof(*inf));
	struct bu_winusb_drv *drv;
	struct stack st;

	snprintf(text, sizeof(text), "%sHKR,,SystemWakeEnabled,0x00010001,%s\n", head, value);
	sleep_stack(&st);
	ck_assert_int_eq(bu_winusb_drv_create(st.bus, NULL, &drv), 0);
	ck_assert_msg(bu_winusb_drv_bind_inf(drv, text, strlen(text), inf) == 0, "INF line %u: %s",
		      inf->error_line, inf->error);
	sim_attach(st.sim, sim_usb2_port(st.sim, 1), &sim_dev_osrfx2, SIM_SPEED_HIGH);
	ck_assert(settle(&st, 3000));
	ck_assert_ptr_nonnull(st.bus->devices);
	ck_assert(bu_usb_device_system_wake(st.bus->devices) == want);
	free(inf);
	bu_winusb_drv_destroy(drv);
	stack_down(&st);
}

START_TEST(test_sleep_winusb_system_wake)
{
	winusb_system_wake("1", true);
	winusb_system_wake("0", false);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* The model's own check                                                     */

/* CSS or CRS written while running is ignored and a violation, as the spec says. */
START_TEST(test_sleep_model_css_running)
{
	struct stack st;

	sleep_stack(&st);
	ck_assert(settle(&st, 100));
	ck_assert(!(sim_usbsts(st.sim) & XHCI_USBSTS_HCH));
	op_wr(&st, XHCI_OP_USBCMD, op_rd(&st, XHCI_OP_USBCMD) | XHCI_USBCMD_CSS);
	ck_assert_uint_eq(sim_violations(st.sim), 1);
	ck_assert(!(sim_usbsts(st.sim) & XHCI_USBSTS_SSS));
	ck_assert(!(op_rd(&st, XHCI_OP_USBCMD) & XHCI_USBCMD_CSS));
	op_wr(&st, XHCI_OP_USBCMD, op_rd(&st, XHCI_OP_USBCMD) | XHCI_USBCMD_CRS);
	ck_assert_uint_eq(sim_violations(st.sim), 2);
	sim_clear_violations(st.sim);
	stack_down(&st);
}
END_TEST

static Suite *sleep_suite(void)
{
	Suite *s = suite_create("sleep");
	TCase *t = tcase_create("restore");

	tcase_add_test(t, test_sleep_restore);
	tcase_add_test(t, test_sleep_restore_error);
	tcase_add_test(t, test_sleep_save_error);
	tcase_add_test(t, test_sleep_power_lost);
	tcase_add_test(t, test_sleep_irq);
	tcase_add_test(t, test_sleep_asleep_api);
	suite_add_tcase(s, t);
	t = tcase_create("changed");
	tcase_add_test(t, test_sleep_swapped);
	tcase_add_test(t, test_sleep_descriptors_differ);
	tcase_add_test(t, test_sleep_removed);
	tcase_add_test(t, test_sleep_hubs);
	suite_add_tcase(s, t);
	t = tcase_create("wake");
	tcase_add_test(t, test_sleep_wake_kbd);
	tcase_add_test(t, test_sleep_wake_kbd_hub);
	tcase_add_test(t, test_sleep_no_system_wake);
	tcase_add_test(t, test_sleep_no_system_wake_hub);
	tcase_add_test(t, test_sleep_wake_connect);
	tcase_add_test(t, test_sleep_winusb_system_wake);
	suite_add_tcase(s, t);
	t = tcase_create("model");
	tcase_add_test(t, test_sleep_model_css_running);
	suite_add_tcase(s, t);
	return s;
}

int main(void)
{
	return run_suite(sleep_suite());
}
