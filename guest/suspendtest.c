/*
 * `suspendtest`: selective suspend of every configured device on a root
 * port. Each one is put in U3 (the port must report it), then a standard
 * request is sent: the core must hold it, resume the link (20 ms resume
 * signalling and 10 ms recovery on USB 2, USB 2.0 §7.1.7.7; recovery on
 * USB 3) and only then let it out, so it succeeds no sooner than that.
 */
#include "guest.h"

#include "bareusb/usb.h"

/** Read a root port's link state through the driver. */
static int port_link(struct bu_usb_bus *bus, unsigned port)
{
	struct bu_usb_port_status st;

	if (bus->ops->port_status(bus, port, &st))
		return -1;
	return st.link;
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
	}
}
