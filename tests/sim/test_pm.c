/*
 * Selective suspend of devices on root ports (core/pm.c): the link goes to
 * U3 with nothing queued but bulk/interrupt IN reads (their endpoints are
 * stopped first and go on after the resume), transfers submitted meanwhile are held
 * by the core and go out, in order, after resume signalling and recovery,
 * and held transfers can be cancelled, aborted and failed by an unplug.
 * The model carries no packets while a port is suspended and counts every
 * TD that found its port so, which must stay zero.
 */
#include "harness.h"

#include "bareusb/desc.h"

static unsigned port_link(struct stack *st, unsigned port)
{
	struct bu_usb_port_status ps;

	ck_assert_int_eq(st->bus->ops->port_status(st->bus, port, &ps), 0);
	return ps.link;
}

/* Run until `a` completes; returns the virtual time it took, in us. */
static uint64_t wait_aio(struct stack *st, struct aio *a, unsigned max_ms)
{
	uint64_t t0 = sim_now_us(st->sim);

	ck_assert_msg(wait_flag(st, &a->done, max_ms), "transfer on %#04x did not complete",
		      a->x.ep->address);
	return sim_now_us(st->sim) - t0;
}

static void suspend_resume(enum sim_speed speed)
{
	const uint64_t min_resume_us = speed == SIM_SPEED_SUPER ? 10000 : 30000;
	struct stack st;
	struct sim_device *sd;
	struct bu_usb_device *dev;
	struct bu_usb_endpoint *out, *in;
	struct sim_stats ss;
	struct aio a, b;
	uint8_t data[4] = { 0xde, 0xad, 0xbe, 0xef }, back[512];
	unsigned port;
	size_t got = 0;
	uint64_t took;

	stack_up(&st, NULL, 0);
	port = speed == SIM_SPEED_SUPER ? sim_usb3_port(st.sim, 1) : sim_usb2_port(st.sim, 1);
	sd = sim_attach(st.sim, port, &sim_dev_winusb, speed);
	ck_assert(settle(&st, 3000));
	dev = find_pid(&st, 0x1209, 0);
	ck_assert_ptr_nonnull(dev);
	ck_assert_int_eq(dev->state, BU_DEV_CONFIGURED);
	out = bu_usb_find_endpoint(dev, 0x01);
	in = bu_usb_find_endpoint(dev, 0x81);
	ck_assert(out && in);

	/* Not with an OUT transfer queued (the device NAKs it). */
	sim_fault_ep(sd, 0x01, SIM_FAULT_NAK, 0, 0);
	ck_assert_int_eq(aio_submit(&a, out, data, sizeof(data), 0, NULL), 0);
	run_ms(&st, 2);
	ck_assert_int_eq(bu_usb_device_suspend(dev, true), BU_EBUSY);
	ck_assert_int_eq(bu_usb_xfer_cancel(&a.x), 0);
	wait_aio(&st, &a, 100);
	ck_assert_int_eq(a.x.status, BU_ECANCELED);
	wait_ep_idle(&st, out);
	sim_fault_clear(sd);

	/* A pending bulk IN read stays queued across the suspend: its
	 * endpoint is stopped first, the link goes to U3, and the read is
	 * answered after the resume that the next write causes. */
	ck_assert_int_eq(aio_submit(&b, in, back, sizeof(back), 0, NULL), 0);
	run_ms(&st, 2);
	ck_assert_int_eq(bu_usb_device_suspend(dev, true), 0);
	run_ms(&st, 5);
	ck_assert_uint_eq(port_link(&st, port), BU_LINK_U3);
	run_ms(&st, 50);
	ck_assert(!b.done);
	ck_assert_int_eq(aio_submit(&a, out, data, sizeof(data), 0, NULL), 0);
	took = wait_aio(&st, &b, 300);
	ck_assert_int_eq(b.x.status, 0);
	ck_assert_uint_eq(b.x.actual, sizeof(data));
	ck_assert_mem_eq(back, data, sizeof(data));
	ck_assert_msg(took >= min_resume_us, "read answered %llu us after the write, less than %llu",
		      (unsigned long long)took, (unsigned long long)min_resume_us);
	ck_assert(a.done && a.x.status == 0);
	ck_assert_uint_eq(port_link(&st, port), BU_LINK_U0);

	/* Idle: the link goes to U3 and stays there. */
	ck_assert_int_eq(bu_usb_device_suspend(dev, true), 0);
	ck_assert_uint_eq(port_link(&st, port), BU_LINK_U3);
	ck_assert(bu_usb_device_suspended(dev));
	run_ms(&st, 50);
	ck_assert_uint_eq(port_link(&st, port), BU_LINK_U3);

	/* A write resumes it; the data only goes out after resume signalling
	 * and recovery (USB 2.0 §7.1.7.7), and loops back intact. */
	ck_assert_int_eq(aio_submit(&a, out, data, sizeof(data), 0, NULL), 0);
	ck_assert(!a.done);
	took = wait_aio(&st, &a, 200);
	ck_assert_int_eq(a.x.status, 0);
	ck_assert_uint_eq(a.x.actual, sizeof(data));
	ck_assert_msg(took >= min_resume_us, "resumed and written in %llu us, less than %llu",
		      (unsigned long long)took, (unsigned long long)min_resume_us);
	ck_assert_uint_eq(port_link(&st, port), BU_LINK_U0);
	ck_assert(!bu_usb_device_suspended(dev));
	ck_assert_int_eq(xfer_sync(&st, in, back, sizeof(back), &got, 100), 0);
	ck_assert_uint_eq(got, sizeof(data));
	ck_assert_mem_eq(back, data, sizeof(data));

	/* Held transfers can be cancelled and aborted before they go out;
	 * the one behind them still runs, in order. */
	ck_assert_int_eq(bu_usb_device_suspend(dev, true), 0);
	ck_assert_int_eq(aio_submit(&a, in, back, sizeof(back), 0, NULL), 0);
	ck_assert_int_eq(aio_submit(&b, out, data, sizeof(data), 0, NULL), 0);
	ck_assert_int_eq(bu_usb_abort_endpoint(in), 1);
	wait_aio(&st, &b, 200);
	ck_assert(a.done);
	ck_assert_int_eq(a.x.status, BU_ECANCELED);
	ck_assert_int_eq(b.x.status, 0);
	ck_assert_int_eq(xfer_sync(&st, in, back, sizeof(back), &got, 100), 0);
	ck_assert_uint_eq(got, sizeof(data));

	/* An explicit resume, then suspend again. */
	ck_assert_int_eq(bu_usb_device_suspend(dev, true), 0);
	ck_assert_int_eq(bu_usb_device_suspend(dev, false), 0);
	run_ms(&st, 40);
	ck_assert(!bu_usb_device_suspended(dev));
	ck_assert_uint_eq(port_link(&st, port), BU_LINK_U0);

	/* The core never let a TD reach the controller while the link was
	 * down: the model counts every TD that found its port suspended. */
	sim_get_stats(st.sim, &ss);
	ck_assert_uint_eq(ss.suspended_waits, 0);

	/* Unplugged while suspended: the held transfer ends disconnected. */
	ck_assert_int_eq(bu_usb_device_suspend(dev, true), 0);
	ck_assert_int_eq(aio_submit(&a, in, back, sizeof(back), 0, NULL), 0);
	sim_detach(sd);
	wait_aio(&st, &a, 200);
	ck_assert_int_eq(a.x.status, BU_ENODEV);
	ck_assert(settle(&st, 1000));
	ck_assert_uint_eq(st.removed, 1);
	stack_down(&st);
}

START_TEST(test_suspend_resume_high)
{
	suspend_resume(SIM_SPEED_HIGH);
}
END_TEST

START_TEST(test_suspend_resume_super)
{
	suspend_resume(SIM_SPEED_SUPER);
}
END_TEST

/*
 * Selective suspend behind hubs: a WinUSB device `tiers` - 1 hubs down
 * (USB 2 hubs: PORT_SUSPEND; a USB 3 hub: PORT_LINK_STATE U3). A hub is
 * suspended only after every device below it; a write to the device then
 * resumes the chain from the root down, each link with its resume
 * signalling and recovery (the model flags traffic that comes earlier,
 * and holds any that finds a suspended port on its way, which must not
 * happen), and the read left pending across the suspend is answered.
 */
static void hub_suspend_resume(enum sim_speed speed, unsigned tiers)
{
	const bool usb3 = speed == SIM_SPEED_SUPER;
	/* Per suspended link above the device: USB 2 TDRSMDN + TRSMRCY;
	 * USB 3 TRSMRCY. */
	const uint64_t per_link_us = usb3 ? 10000 : 30000;
	struct stack st;
	struct sim_device *hubs[4], *sd;
	struct bu_usb_device *dev, *up[4];
	struct bu_usb_endpoint *out, *in;
	struct sim_stats ss;
	struct aio a, b;
	uint8_t data[4] = { 0x50, 0x4d, 0x0b, 0x07 }, back[512];
	unsigned port;
	uint64_t took;

	stack_up(&st, NULL, 0);
	port = usb3 ? sim_usb3_port(st.sim, 1) : sim_usb2_port(st.sim, 1);
	hubs[0] = sim_attach(st.sim, port, usb3 ? &sim_dev_hub3 : &sim_dev_hub2, speed);
	for (unsigned t = 1; t + 1 < tiers; t++)
		hubs[t] = sim_attach_hub(hubs[t - 1], 3, usb3 ? &sim_dev_hub3 : &sim_dev_hub2, speed);
	sd = sim_attach_hub(hubs[tiers - 2], 2, &sim_dev_winusb, speed);
	ck_assert_ptr_nonnull(sd);
	ck_assert(settle(&st, 5000));
	dev = find_pid(&st, 0x1209, 0xb010);
	ck_assert_ptr_nonnull(dev);
	ck_assert_int_eq(dev->state, BU_DEV_CONFIGURED);
	ck_assert_uint_eq(dev->tier, tiers);
	up[tiers - 2] = dev->parent;
	for (unsigned t = tiers - 2; t > 0; t--)
		up[t - 1] = up[t]->parent;
	ck_assert_ptr_null(up[0]->parent);
	out = bu_usb_find_endpoint(dev, 0x01);
	in = bu_usb_find_endpoint(dev, 0x81);
	ck_assert(out && in);

	/* A hub with an active device below it stays up. */
	ck_assert_int_eq(bu_usb_device_suspend(up[tiers - 2], true), BU_EBUSY);

	/* The device, with a read pending: its hub port is suspended. */
	ck_assert_int_eq(aio_submit(&b, in, back, sizeof(back), 0, NULL), 0);
	run_ms(&st, 2);
	ck_assert_int_eq(bu_usb_device_suspend(dev, true), 0);
	run_ms(&st, 10);
	ck_assert(bu_usb_device_suspended(dev));
	ck_assert(sim_hub_port_is_suspended(hubs[tiers - 2], 2));
	/* Then the hubs, bottom up; the root port goes to U3 last. */
	for (unsigned t = tiers - 1; t > 0; t--) {
		ck_assert_int_eq(bu_usb_device_suspend(up[t - 1], true), 0);
		run_ms(&st, 10);
		ck_assert(bu_usb_device_suspended(up[t - 1]));
		if (t > 1)
			ck_assert(sim_hub_port_is_suspended(hubs[t - 2], 3));
	}
	ck_assert_uint_eq(port_link(&st, port), BU_LINK_U3);
	run_ms(&st, 50);
	ck_assert(!b.done);
	ck_assert(bu_usb_device_suspended(dev));

	/* A write resumes the whole chain, root first. */
	ck_assert_int_eq(aio_submit(&a, out, data, sizeof(data), 0, NULL), 0);
	took = wait_aio(&st, &b, 1000);
	fprintf(stderr, "pm: %s tier %u: resumed and looped back after %llu us (minimum %llu)\n",
		usb3 ? "super" : "high", tiers, (unsigned long long)took,
		(unsigned long long)(per_link_us * tiers));
	ck_assert_int_eq(b.x.status, 0);
	ck_assert_uint_eq(b.x.actual, sizeof(data));
	ck_assert_mem_eq(back, data, sizeof(data));
	ck_assert_msg(took >= per_link_us * tiers, "chain of %u links resumed in %llu us", tiers,
		      (unsigned long long)took);
	ck_assert(a.done && a.x.status == 0);
	ck_assert_uint_eq(port_link(&st, port), BU_LINK_U0);
	for (unsigned t = 0; t + 1 < tiers; t++) {
		ck_assert(!bu_usb_device_suspended(up[t]));
		ck_assert(!sim_hub_port_is_suspended(hubs[t], t + 2 < tiers ? 3 : 2));
	}
	ck_assert(!bu_usb_device_suspended(dev));

	/* Suspend and an explicit resume of the device alone. */
	ck_assert_int_eq(bu_usb_device_suspend(dev, true), 0);
	run_ms(&st, 10);
	ck_assert(sim_hub_port_is_suspended(hubs[tiers - 2], 2));
	ck_assert_int_eq(bu_usb_device_suspend(dev, false), 0);
	run_ms(&st, 60);
	ck_assert(!bu_usb_device_suspended(dev));
	ck_assert(!sim_hub_port_is_suspended(hubs[tiers - 2], 2));
	ck_assert_int_eq(xfer_sync(&st, out, data, sizeof(data), NULL, 100), 0);

	sim_get_stats(st.sim, &ss);
	ck_assert_uint_eq(ss.suspended_waits, 0);

	/* Unplugged while suspended behind the hub: the held write fails. */
	ck_assert_int_eq(bu_usb_device_suspend(dev, true), 0);
	run_ms(&st, 10);
	sim_detach(sd);
	ck_assert_int_eq(aio_submit(&a, out, data, sizeof(data), 0, NULL), 0);
	wait_aio(&st, &a, 1000);
	ck_assert(a.x.status == BU_ENODEV || a.x.status == 0 || a.x.status == BU_EPROTO);
	ck_assert(settle(&st, 1000));
	ck_assert_uint_eq(st.removed, 1);
	stack_down(&st);
}

START_TEST(test_hub2_suspend_resume)
{
	hub_suspend_resume(SIM_SPEED_HIGH, 2);
}
END_TEST

START_TEST(test_hub2_chain_suspend_resume)
{
	hub_suspend_resume(SIM_SPEED_HIGH, 3);
}
END_TEST

START_TEST(test_hub3_suspend_resume)
{
	hub_suspend_resume(SIM_SPEED_SUPER, 2);
}
END_TEST

START_TEST(test_hub3_chain_suspend_resume)
{
	hub_suspend_resume(SIM_SPEED_SUPER, 3);
}
END_TEST

/* The power_changed events seen, in order. */
struct pm_event {
	struct bu_usb_device *dev;
	bool suspended, by_device;
};
static struct pm_event pm_ev[16];
static unsigned pm_nev;

static void on_power(void *ctx, struct bu_usb_device *dev, bool suspended, bool by_device)
{
	(void)ctx;
	if (pm_nev < 16)
		pm_ev[pm_nev++] = (struct pm_event){ dev, suspended, by_device };
}

/* The last event told of `dev`: 1 suspended, 2 resumed by the host, 3 by the device, 0 none. */
static int last_ev(const struct bu_usb_device *dev)
{
	for (unsigned i = pm_nev; i > 0; i--)
		if (pm_ev[i - 1].dev == dev)
			return pm_ev[i - 1].suspended ? 1 : pm_ev[i - 1].by_device ? 3 : 2;
	return 0;
}

/*
 * Remote wakeup of a keyboard (bmAttributes D5) `behind_hub` or on a root
 * port: the core arms it before the suspend (and its hub, which must pass
 * the wake on), an interrupt read stays pending through the suspend, a key
 * wakes the chain and the read completes with that key's report; the
 * device is disarmed after. A device that is not armed cannot wake.
 */
static void kbd_remote_wake(bool behind_hub)
{
	struct stack st;
	struct sim_device *hub = NULL, *kbd, *wu;
	struct bu_usb_device *dev, *hdev = NULL, *wdev;
	struct bu_usb_endpoint *in;
	struct sim_stats ss;
	struct aio r;
	uint8_t rep[8];
	unsigned port;
	uint64_t t0, took;

	stack_up(&st, NULL, 0);
	st.bus->events.power_changed = on_power;
	pm_nev = 0;
	port = sim_usb2_port(st.sim, 1);
	if (behind_hub) {
		hub = sim_attach(st.sim, port, &sim_dev_hub2, SIM_SPEED_HIGH);
		kbd = sim_attach_hub(hub, 1, &sim_dev_hid_kbd, SIM_SPEED_FULL);
	} else {
		kbd = sim_attach(st.sim, port, &sim_dev_hid_kbd, SIM_SPEED_FULL);
	}
	wu = sim_attach(st.sim, sim_usb2_port(st.sim, 2), &sim_dev_winusb, SIM_SPEED_HIGH);
	ck_assert(settle(&st, 5000));
	dev = find_pid(&st, 0x1209, 0xb001);
	wdev = find_pid(&st, 0x1209, 0xb010);
	ck_assert(dev && wdev);
	ck_assert_int_eq(dev->state, BU_DEV_CONFIGURED);
	if (behind_hub)
		hdev = dev->parent;
	in = bu_usb_find_endpoint(dev, 0x81);
	ck_assert_ptr_nonnull(in);

	/* A device without remote wakeup is never armed and cannot wake. */
	ck_assert_int_eq(bu_usb_device_suspend(wdev, true), 0);
	run_ms(&st, 10);
	ck_assert(bu_usb_device_suspended(wdev));
	ck_assert(!sim_remote_wake_armed(wu));
	ck_assert(!sim_remote_wake(wu));

	ck_assert_int_eq(aio_submit(&r, in, rep, sizeof(rep), 0, NULL), 0);
	run_ms(&st, 20);
	ck_assert(!sim_remote_wake(kbd)); /* not suspended, not armed */
	ck_assert_int_eq(bu_usb_device_suspend(dev, true), 0);
	run_ms(&st, 10);
	ck_assert(bu_usb_device_suspended(dev));
	ck_assert(sim_remote_wake_armed(kbd));
	ck_assert_int_eq(last_ev(dev), 1);
	if (behind_hub) {
		ck_assert_int_eq(bu_usb_device_suspend(hdev, true), 0);
		run_ms(&st, 10);
		ck_assert(bu_usb_device_suspended(hdev));
		ck_assert(sim_remote_wake_armed(hub));
	}
	ck_assert_uint_eq(port_link(&st, port), BU_LINK_U3);
	run_ms(&st, 100);
	ck_assert(!r.done);

	/* A key: the keyboard wakes the bus; the pending read gets its report.
	 * At least TDRSMDN + TRSMRCY of the root port (30 ms), then, behind
	 * the hub, the keyboard's port's TRSMRCY (its 20 ms of resume ran
	 * meanwhile). */
	t0 = sim_now_us(st.sim);
	sim_kbd_type(kbd, 0x04); /* 'a' */
	ck_assert_msg(wait_flag(&st, &r.done, 1000), "the read pending across the suspend never completed");
	took = sim_now_us(st.sim) - t0;
	fprintf(stderr, "pm: keyboard %s: key to report %llu us (minimum %u)\n",
		behind_hub ? "behind a hub" : "on a root port", (unsigned long long)took,
		behind_hub ? 40000 : 30000);
	ck_assert_int_eq(r.x.status, 0);
	ck_assert_uint_eq(r.x.actual, 8);
	ck_assert_uint_eq(rep[2], 0x04);
	ck_assert(took >= (behind_hub ? 40000u : 30000u));
	ck_assert(!bu_usb_device_suspended(dev));
	ck_assert_int_eq(last_ev(dev), 3);
	if (behind_hub) {
		ck_assert(!bu_usb_device_suspended(hdev));
		ck_assert_int_eq(last_ev(hdev), 3);
	}
	run_ms(&st, 10);
	ck_assert(!sim_remote_wake_armed(kbd)); /* disarmed after the resume */
	if (behind_hub)
		ck_assert(!sim_remote_wake_armed(hub));
	ck_assert(bu_usb_device_suspended(wdev)); /* the other device slept on */
	ck_assert_int_eq(last_ev(wdev), 1);

	/* A host resume is told as one. */
	ck_assert_int_eq(bu_usb_device_suspend(dev, true), 0);
	run_ms(&st, 10);
	ck_assert_int_eq(bu_usb_device_suspend(dev, false), 0);
	run_ms(&st, 80);
	ck_assert_int_eq(last_ev(dev), 2);
	sim_get_stats(st.sim, &ss);
	ck_assert_uint_eq(ss.suspended_waits, 0);
	stack_down(&st);
}

START_TEST(test_kbd_remote_wake_root)
{
	kbd_remote_wake(false);
}
END_TEST

START_TEST(test_kbd_remote_wake_hub)
{
	kbd_remote_wake(true);
}
END_TEST

/*
 * USB 3 remote wakeup through FUNCTION_SUSPEND: the lower of two USB 3
 * hubs (the only wake-capable SuperSpeed model) wakes; the upper hub's
 * port leaves U3 with C_PORT_LINK_STATE and the root port goes U3 ->
 * Resume, which the driver ends with U0.
 */
START_TEST(test_usb3_remote_wake)
{
	struct stack st;
	struct sim_device *h1, *h2;
	struct bu_usb_device *d1, *d2;
	unsigned port;

	stack_up(&st, NULL, 0);
	st.bus->events.power_changed = on_power;
	pm_nev = 0;
	port = sim_usb3_port(st.sim, 1);
	h1 = sim_attach(st.sim, port, &sim_dev_hub3, SIM_SPEED_SUPER);
	h2 = sim_attach_hub(h1, 2, &sim_dev_hub3, SIM_SPEED_SUPER);
	ck_assert(settle(&st, 5000));
	d2 = NULL;
	for (struct bu_usb_device *d = st.bus->devices; d; d = d->next)
		if (d->tier == 2)
			d2 = d;
	ck_assert_ptr_nonnull(d2);
	d1 = d2->parent;
	ck_assert_int_eq(bu_usb_device_suspend(d2, true), 0);
	run_ms(&st, 10);
	ck_assert_int_eq(bu_usb_device_suspend(d1, true), 0);
	run_ms(&st, 10);
	ck_assert(sim_remote_wake_armed(h1) && sim_remote_wake_armed(h2));
	ck_assert(sim_hub_port_is_suspended(h1, 2));
	ck_assert_uint_eq(port_link(&st, port), BU_LINK_U3);
	ck_assert(sim_remote_wake(h2));
	run_ms(&st, 60);
	ck_assert(!bu_usb_device_suspended(d1) && !bu_usb_device_suspended(d2));
	ck_assert_int_eq(last_ev(d1), 3);
	ck_assert_int_eq(last_ev(d2), 3);
	ck_assert(!sim_hub_port_is_suspended(h1, 2));
	ck_assert_uint_eq(port_link(&st, port), BU_LINK_U0);
	ck_assert(!sim_remote_wake_armed(h1) && !sim_remote_wake_armed(h2));
	stack_down(&st);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* USB 3 Function Wake, and the minimum suspend before a wake               */

/* GET_STATUS(interface `intf`) (USB 3.2 §9.4.5): the status word, or a negative error. */
static int iface_status(struct stack *st, struct bu_usb_device *dev, unsigned intf)
{
	struct aio a;
	uint8_t w[2] = { 0xff, 0xff };

	memset(&a, 0, sizeof(a));
	a.x.ep = &dev->ep0;
	bu_usb_setup_pack(a.x.setup, USB_DIR_IN | USB_TYPE_STANDARD | USB_RECIP_INTERFACE,
			  USB_REQ_GET_STATUS, 0, (uint16_t)intf, 2);
	a.x.buf = w;
	a.x.len = 2;
	a.x.complete = aio_complete;
	a.x.ctx = &a;
	ck_assert_int_eq(bu_usb_xfer_submit(&a.x), 0);
	ck_assert(wait_flag(st, &a.done, 200));
	return a.x.status ? a.x.status : w[0] | w[1] << 8;
}

/* The function-wake device, SuperSpeed, on a USB 3 root port or behind a USB 3 hub. */
static struct bu_usb_device *fwake_up(struct stack *st, bool behind_hub, struct sim_device **sd,
				      struct sim_device **hub)
{
	unsigned port;
	struct bu_usb_device *dev;

	stack_up(st, NULL, 0);
	st->bus->events.power_changed = on_power;
	pm_nev = 0;
	port = sim_usb3_port(st->sim, 1);
	*hub = NULL;
	if (behind_hub) {
		*hub = sim_attach(st->sim, port, &sim_dev_hub3, SIM_SPEED_SUPER);
		*sd = sim_attach_hub(*hub, 1, &sim_dev_fwake, SIM_SPEED_SUPER);
	} else {
		*sd = sim_attach(st->sim, port, &sim_dev_fwake, SIM_SPEED_SUPER);
	}
	ck_assert(settle(st, 5000));
	dev = find_pid(st, 0x1209, 0xb060);
	ck_assert_ptr_nonnull(dev);
	ck_assert_int_eq(dev->state, BU_DEV_CONFIGURED);
	return dev;
}

/* Suspend `dev` (and its hub, when it has one) and check where the links are. */
static void fwake_suspend(struct stack *st, struct bu_usb_device *dev, struct sim_device *hub)
{
	ck_assert_int_eq(bu_usb_device_suspend(dev, true), 0);
	run_ms(st, 10);
	ck_assert(bu_usb_device_suspended(dev));
	if (hub) {
		ck_assert(sim_hub_port_is_suspended(hub, 1));
		ck_assert_int_eq(bu_usb_device_suspend(dev->parent, true), 0);
		run_ms(st, 10);
		ck_assert(bu_usb_device_suspended(dev->parent));
	}
	ck_assert_uint_eq(port_link(st, sim_usb3_port(st->sim, 1)), BU_LINK_U3);
	ck_assert_int_eq(last_ev(dev), 1);
}

/*
 * USB 3 Function Wake end to end: the core arms the function with
 * FUNCTION_SUSPEND (LP, RW), an interrupt read stays pending through the
 * suspend, an event on the device wakes it (the root port goes U3 ->
 * Resume, or the hub reports C_PORT_LINK_STATE and passes the wake up),
 * the controller reports its Function Wake for interface 0 (DNCTRL.N1 set
 * by the driver), the core resumes it, tells power_changed by_device with
 * that interface, the read completes with the event's bytes, and
 * FUNCTION_SUSPEND with options 0 disarms it.
 */
static void fwake_end_to_end(bool behind_hub)
{
	struct stack st;
	struct sim_device *sd, *hub;
	struct bu_usb_device *dev;
	struct bu_usb_endpoint *in;
	struct aio r;
	const uint8_t ev[4] = { 0xf0, 0x0d, 0xca, 0xfe };
	uint8_t buf[8];
	uint64_t t0, took;

	dev = fwake_up(&st, behind_hub, &sd, &hub);
	in = bu_usb_find_endpoint(dev, 0x82);
	ck_assert_ptr_nonnull(in);
	/* Capable, not enabled (USB 3.2 §9.4.5); no interface 5: Request Error. */
	ck_assert_int_eq(iface_status(&st, dev, 0), 0x1);
	ck_assert_int_eq(iface_status(&st, dev, 5), BU_ESTALL);
	ck_assert_int_eq(bu_usb_device_wake_interface(dev), BU_ENOENT);

	ck_assert_int_eq(aio_submit(&r, in, buf, sizeof(buf), 0, NULL), 0);
	run_ms(&st, 5);
	fwake_suspend(&st, dev, hub);
	ck_assert(sim_remote_wake_armed(sd));
	run_ms(&st, 50);
	ck_assert(!r.done);

	t0 = sim_now_us(st.sim);
	ck_assert(sim_fwake_event(sd, ev, sizeof(ev)));
	ck_assert_msg(wait_flag(&st, &r.done, 1000), "the read pending across the suspend never completed");
	took = sim_now_us(st.sim) - t0;
	fprintf(stderr, "pm: USB 3 function %s: event to data %llu us (TRSMRCY %u)\n",
		behind_hub ? "behind a USB 3 hub" : "on a root port", (unsigned long long)took,
		behind_hub ? 20000 : 10000);
	ck_assert_int_eq(r.x.status, 0);
	ck_assert_uint_eq(r.x.actual, sizeof(ev));
	ck_assert_mem_eq(buf, ev, sizeof(ev));
	ck_assert_uint_ge(took, behind_hub ? 20000 : 10000);
	ck_assert_uint_lt(took, 50000); /* the Function Wake came: no waiting for it */
	ck_assert_uint_eq(sim_function_wakes(sd), 1);
	ck_assert(!bu_usb_device_suspended(dev));
	ck_assert_int_eq(last_ev(dev), 3);
	ck_assert_int_eq(bu_usb_device_wake_interface(dev), 0);
	if (hub) {
		ck_assert(!sim_hub_port_is_suspended(hub, 1));
		ck_assert_int_eq(last_ev(dev->parent), 3);
	}

	/* Disarmed after the resume: FUNCTION_SUSPEND with options 0. */
	run_ms(&st, 10);
	ck_assert(!sim_remote_wake_armed(sd));
	ck_assert_int_eq(iface_status(&st, dev, 0), 0x1);

	/* A host resume next time: no wake interface. */
	fwake_suspend(&st, dev, hub);
	ck_assert_int_eq(bu_usb_device_suspend(dev, false), 0);
	run_ms(&st, 80);
	ck_assert(!bu_usb_device_suspended(dev));
	ck_assert_int_eq(last_ev(dev), 2);
	ck_assert_int_eq(bu_usb_device_wake_interface(dev), BU_ENOENT);
	ck_assert_uint_eq(sim_function_wakes(sd), 1);
	stack_down(&st);
}

START_TEST(test_fwake_root)
{
	fwake_end_to_end(false);
}
END_TEST

START_TEST(test_fwake_hub)
{
	fwake_end_to_end(true);
}
END_TEST

/* The driver's copy of the controller's DNCTRL (xHCI §5.4.4), written behind its back. */
static void sim_dnctrl_set(struct stack *st, uint32_t v)
{
	const struct bu_platform *plat = sim_platform(st->sim);
	uintptr_t base = sim_regs_base(st->sim);
	uint32_t caplen = plat->read32(plat->ctx, base) & 0xff;

	plat->write32(plat->ctx, base + caplen + XHCI_OP_DNCTRL, v);
}

/*
 * A USB 3 device that left U3 by itself with no Function Wake following
 * (here the controller does not report it: DNCTRL.N1 cleared): the core
 * waits for it a bounded time (50 ms), then takes the wake as its first
 * interface's; the data still arrives.
 */
START_TEST(test_fwake_missing)
{
	struct stack st;
	struct sim_device *sd, *hub;
	struct bu_usb_device *dev;
	struct aio r;
	const uint8_t ev[2] = { 0x12, 0x34 };
	uint8_t buf[8];
	uint64_t t0, took;

	dev = fwake_up(&st, false, &sd, &hub);
	ck_assert_int_eq(aio_submit(&r, bu_usb_find_endpoint(dev, 0x82), buf, sizeof(buf), 0, NULL), 0);
	fwake_suspend(&st, dev, NULL);
	sim_dnctrl_set(&st, 0);
	run_ms(&st, 10);
	t0 = sim_now_us(st.sim);
	ck_assert(sim_fwake_event(sd, ev, sizeof(ev)));
	ck_assert(wait_flag(&st, &r.done, 1000));
	took = sim_now_us(st.sim) - t0;
	fprintf(stderr, "pm: USB 3 function, no Function Wake: event to data %llu us (bound 50000)\n",
		(unsigned long long)took);
	ck_assert_int_eq(r.x.status, 0);
	ck_assert_mem_eq(buf, ev, sizeof(ev));
	ck_assert_uint_ge(took, 50000);
	ck_assert_uint_eq(sim_function_wakes(sd), 0);
	ck_assert_int_eq(last_ev(dev), 3);
	ck_assert_int_eq(bu_usb_device_wake_interface(dev), 0);
	stack_down(&st);
}
END_TEST

/*
 * A function whose FUNCTION_SUSPEND(RW) failed is not armed: it does not
 * wake (a real device may not, USB 3.2 §9.2.5.2), and a Function Wake the
 * controller reports for it anyway is ignored; the host's own resume
 * still works.
 */
START_TEST(test_fwake_not_armed)
{
	struct stack st;
	struct sim_device *sd, *hub;
	struct bu_usb_device *dev;
	struct aio r;
	const uint8_t ev[1] = { 0x77 };
	uint8_t buf[8];

	dev = fwake_up(&st, false, &sd, &hub);
	ck_assert_int_eq(aio_submit(&r, bu_usb_find_endpoint(dev, 0x82), buf, sizeof(buf), 0, NULL), 0);
	/* SET_FEATURE(FUNCTION_SUSPEND) to the interface STALLs once. */
	sim_fault_request(sd, USB_DIR_OUT | USB_TYPE_STANDARD | USB_RECIP_INTERFACE,
			  USB_REQ_SET_FEATURE, 0, SIM_FAULT_STALL, 1);
	fwake_suspend(&st, dev, NULL);
	sim_fault_clear(sd);
	ck_assert(!sim_remote_wake_armed(sd));
	ck_assert(!sim_fwake_event(sd, ev, sizeof(ev)));
	sim_post_device_notification(st.sim, dev->slot, 1, 0);
	run_ms(&st, 100);
	ck_assert(bu_usb_device_suspended(dev));
	ck_assert(!r.done);
	ck_assert_uint_eq(port_link(&st, sim_usb3_port(st.sim, 1)), BU_LINK_U3);
	ck_assert_uint_eq(sim_function_wakes(sd), 0);
	ck_assert_int_eq(bu_usb_device_suspend(dev, false), 0);
	ck_assert(wait_flag(&st, &r.done, 200)); /* the event queued meanwhile */
	ck_assert_int_eq(r.x.status, 0);
	ck_assert_uint_eq(buf[0], 0x77);
	ck_assert_int_eq(last_ev(dev), 2);
	stack_down(&st);
}
END_TEST

/*
 * Device Notification Events the driver must not trust: slot 0, a slot
 * not enabled, an unknown notification type, and a Function Wake naming
 * an interface the configuration lacks, all while the device is
 * suspended and armed. Each is logged and dropped: the device stays
 * suspended, and the bus goes on working (a transfer resumes it, as the
 * host's resume).
 */
START_TEST(test_fwake_bad_notifications)
{
	struct stack st;
	struct sim_device *sd, *hub;
	struct bu_usb_device *dev;
	struct bu_usb_endpoint *out, *in;
	uint8_t data[3] = { 1, 2, 3 }, back[16];
	size_t got = 0;

	dev = fwake_up(&st, false, &sd, &hub);
	out = bu_usb_find_endpoint(dev, 0x01);
	in = bu_usb_find_endpoint(dev, 0x81);
	fwake_suspend(&st, dev, NULL);
	ck_assert(sim_remote_wake_armed(sd));
	sim_post_device_notification(st.sim, 0, 1, 0);          /* slot 0 */
	sim_post_device_notification(st.sim, 40, 1, 0);         /* slot not enabled */
	sim_post_device_notification(st.sim, 255, 1, 0);        /* beyond MaxSlots */
	sim_post_device_notification(st.sim, dev->slot, 5, 0);  /* unknown type */
	sim_post_device_notification(st.sim, dev->slot, 0, 0);  /* reserved type 0 */
	sim_post_device_notification(st.sim, dev->slot, 1, 7);  /* no interface 7 */
	run_ms(&st, 100);
	ck_assert(bu_usb_device_suspended(dev));
	ck_assert_uint_eq(port_link(&st, sim_usb3_port(st.sim, 1)), BU_LINK_U3);
	ck_assert_int_eq(last_ev(dev), 1);
	ck_assert_int_eq(xfer_sync(&st, out, data, sizeof(data), NULL, 200), 0);
	ck_assert_int_eq(xfer_sync(&st, in, back, sizeof(back), &got, 200), 0);
	ck_assert_uint_eq(got, sizeof(data));
	ck_assert_int_eq(last_ev(dev), 2);
	ck_assert_int_eq(bu_usb_device_wake_interface(dev), BU_ENOENT);
	stack_down(&st);
}
END_TEST

/*
 * The 5 ms of suspend before a remote wakeup (USB 2.0 §7.1.7.7): a wake
 * asked for 1 ms after the link went to U3 is held by the device (the
 * keyboard at high speed, the function at SuperSpeed) until the 5 ms are
 * over; behind a hub suspended 1 ms ago, the hub holds its upstream
 * signalling the same way. `usb3` picks the device, `behind_hub` the
 * topology.
 */
static void wake_hold(bool usb3, bool behind_hub)
{
	struct stack st;
	struct sim_device *hub = NULL, *sd;
	struct bu_usb_device *dev, *top;
	unsigned port;
	uint64_t t_u3, t_wake;
	const uint8_t ev[1] = { 0x42 };

	stack_up(&st, NULL, 0);
	port = usb3 ? sim_usb3_port(st.sim, 1) : sim_usb2_port(st.sim, 1);
	if (behind_hub) {
		hub = sim_attach(st.sim, port, usb3 ? &sim_dev_hub3 : &sim_dev_hub2,
				 usb3 ? SIM_SPEED_SUPER : SIM_SPEED_HIGH);
		sd = sim_attach_hub(hub, 1, usb3 ? &sim_dev_fwake : &sim_dev_hid_kbd,
				    usb3 ? SIM_SPEED_SUPER : SIM_SPEED_FULL);
	} else {
		sd = sim_attach(st.sim, port, usb3 ? &sim_dev_fwake : &sim_dev_hid_kbd,
				usb3 ? SIM_SPEED_SUPER : SIM_SPEED_FULL);
	}
	ck_assert(settle(&st, 5000));
	dev = find_pid(&st, 0x1209, usb3 ? 0xb060 : 0xb001);
	ck_assert_ptr_nonnull(dev);
	top = behind_hub ? dev->parent : dev;
	if (behind_hub) {
		ck_assert_int_eq(bu_usb_device_suspend(dev, true), 0);
		run_ms(&st, 20);
		ck_assert(bu_usb_device_suspended(dev));
	}
	/* t_u3: the start of the 50 us step in which the link went to U3,
	 * no later than the model's own time for it. */
	ck_assert_int_eq(bu_usb_device_suspend(top, true), 0);
	t_u3 = sim_now_us(st.sim);
	for (int i = 0; i < 400 && port_link(&st, port) != BU_LINK_U3; i++) {
		t_u3 = sim_now_us(st.sim);
		run_us(&st, 50, 50);
	}
	ck_assert_uint_eq(port_link(&st, port), BU_LINK_U3);
	run_us(&st, 1000, 50);
	if (usb3)
		ck_assert(sim_fwake_event(sd, ev, sizeof(ev)));
	else
		sim_kbd_type(sd, 0x04);
	for (int i = 0; i < 400 && port_link(&st, port) == BU_LINK_U3; i++)
		run_us(&st, 50, 50);
	ck_assert_uint_ne(port_link(&st, port), BU_LINK_U3);
	t_wake = sim_now_us(st.sim);
	fprintf(stderr, "pm: %s %s: wake asked 1 ms after U3, signalled %llu us after U3 (minimum 5000)\n",
		usb3 ? "USB 3 function" : "keyboard", behind_hub ? "behind a hub" : "on a root port",
		(unsigned long long)(t_wake - t_u3));
	ck_assert_uint_ge(t_wake - t_u3, 5000);
	ck_assert_uint_lt(t_wake - t_u3, 7000);
	run_ms(&st, 100);
	ck_assert(!bu_usb_device_suspended(dev));
	ck_assert(!bu_usb_device_suspended(top));
	stack_down(&st);
}

START_TEST(test_wake_hold_usb2_root)
{
	wake_hold(false, false);
}
END_TEST

START_TEST(test_wake_hold_usb2_hub)
{
	wake_hold(false, true);
}
END_TEST

START_TEST(test_wake_hold_usb3_root)
{
	wake_hold(true, false);
}
END_TEST

START_TEST(test_wake_hold_usb3_hub)
{
	wake_hold(true, true);
}
END_TEST

static Suite *pm_suite(void)
{
	Suite *s = suite_create("pm");
	TCase *t = tcase_create("suspend");

	tcase_add_test(t, test_suspend_resume_high);
	tcase_add_test(t, test_suspend_resume_super);
	suite_add_tcase(s, t);
	t = tcase_create("hub");
	tcase_add_test(t, test_hub2_suspend_resume);
	tcase_add_test(t, test_hub2_chain_suspend_resume);
	tcase_add_test(t, test_hub3_suspend_resume);
	tcase_add_test(t, test_hub3_chain_suspend_resume);
	suite_add_tcase(s, t);
	t = tcase_create("wake");
	tcase_add_test(t, test_kbd_remote_wake_root);
	tcase_add_test(t, test_kbd_remote_wake_hub);
	tcase_add_test(t, test_usb3_remote_wake);
	suite_add_tcase(s, t);
	t = tcase_create("fwake");
	tcase_add_test(t, test_fwake_root);
	tcase_add_test(t, test_fwake_hub);
	tcase_add_test(t, test_fwake_missing);
	tcase_add_test(t, test_fwake_not_armed);
	tcase_add_test(t, test_fwake_bad_notifications);
	suite_add_tcase(s, t);
	t = tcase_create("hold");
	tcase_add_test(t, test_wake_hold_usb2_root);
	tcase_add_test(t, test_wake_hold_usb2_hub);
	tcase_add_test(t, test_wake_hold_usb3_root);
	tcase_add_test(t, test_wake_hold_usb3_hub);
	suite_add_tcase(s, t);
	return s;
}

int main(void)
{
	return run_suite(pm_suite());
}
