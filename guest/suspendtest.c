/*
 * `suspendtest`: selective suspend of every configured device on a root
 * port. Each one is put in U3 (the port must report it), then a standard
 * request is sent: the core must hold it, resume the link (20 ms resume
 * signalling and 10 ms recovery on USB 2, USB 2.0 §7.1.7.7; recovery on
 * USB 3) and only then let it out, so it succeeds no sooner than that.
 */
#include "guest.h"

#include "bareusb/usb.h"
#include "bareusb/util.h"

/** Read a root port's link state through the driver. */
static int port_link(struct bu_usb_bus *bus, unsigned port)
{
	struct bu_usb_port_status st;

	if (bus->ops->port_status(bus, port, &st))
		return -1;
	return st.link;
}

static void read_done(struct bu_usb_xfer *x)
{
	*(bool *)x->ctx = true;
}

/* With a read pending on its first interrupt IN endpoint (a HID report
 * nobody types; a bulk IN read would STALL on usb-storage without a
 * command): the read stays queued through suspend and resume and can be
 * cancelled after. */
static void suspend_with_read(struct bu_usb_bus *bus, struct bu_usb_device *d)
{
	struct bu_usb_endpoint *in = NULL;
	struct bu_usb_xfer x;
	static uint8_t buf[512];
	bool done = false;
	uint16_t status;
	int rc, link;

	for (unsigned i = 2; i < 32 && !in; i++)
		if (d->eps[i] && (d->eps[i]->address & 0x80) &&
		    d->eps[i]->type == BU_EP_INTERRUPT)
			in = d->eps[i];
	if (!in)
		return;
	bu_memset(&x, 0, sizeof(x));
	x.ep = in;
	x.buf = buf;
	x.len = in->mps <= sizeof(buf) ? in->mps : sizeof(buf);
	x.complete = read_done;
	x.ctx = &done;
	rc = bu_usb_xfer_submit(&x);
	rc = rc ? rc : bu_usb_device_suspend(d, true);
	for (uint64_t t0 = clock_now_us(); clock_now_us() - t0 < 20000;)
		bu_usb_bus_poll(bus);
	link = port_link(bus, d->root_port);
	tap(rc == 0 && link == BU_LINK_U3 && !done,
	    "suspend with a read pending on 0x%02x: port %u in U3 (rc %d, link %d)",
	    in->address, d->root_port, rc, link);
	rc = bu_usb_get_status(d, USB_RECIP_DEVICE, 0, &status);
	rc = rc ? rc : bu_usb_xfer_cancel(&x);
	for (uint64_t t0 = clock_now_us(); !done && clock_now_us() - t0 < 1000000;)
		bu_usb_bus_poll(bus);
	tap(rc == 0 && done && x.status == BU_ECANCELED &&
		    port_link(bus, d->root_port) == BU_LINK_U0,
	    "resume: the read stayed queued and is cancelled (rc %d, status %d)", rc, x.status);
}

void guest_suspendtest(struct bu_usb_bus *bus)
{
	for (struct bu_usb_device *d = bus->devices; d; d = d->next) {
		uint64_t t0, min_us;
		uint16_t status = 0xffff;
		int rc, link;

		if (d->parent || d->state != BU_DEV_CONFIGURED)
			continue;
		rc = bu_usb_device_suspend(d, true);
		/* Asynchronous where remote wakeup is armed first. */
		for (uint64_t t1 = clock_now_us(); !rc && port_link(bus, d->root_port) != BU_LINK_U3 &&
						    clock_now_us() - t1 < 100000;)
			bu_usb_bus_poll(bus);
		link = port_link(bus, d->root_port);
		tap(rc == 0 && link == BU_LINK_U3 && bu_usb_device_suspended(d),
		    "suspend: port %u in U3 (rc %d, link %d)", d->root_port, rc, link);
		t0 = clock_now_us();
		rc = bu_usb_get_status(d, USB_RECIP_DEVICE, 0, &status);
		t0 = clock_now_us() - t0;
		link = port_link(bus, d->root_port);
		min_us = d->speed >= BU_SPEED_SUPER ? 10000 : 30000;
		tap(rc == 0 && link == BU_LINK_U0 && !bu_usb_device_suspended(d) &&
			    t0 >= min_us,
		    "resume: port %u back in U0, GET_STATUS answered 0x%04x after %llu us "
		    "(at least %llu; rc %d, link %d)",
		    d->root_port, status, (unsigned long long)t0,
		    (unsigned long long)min_us, rc, link);
		suspend_with_read(bus, d);
	}
}
