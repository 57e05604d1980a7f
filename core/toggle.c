/*
 * The device's half of a data toggle reset. A controller driver that
 * recovered a bulk or interrupt endpoint from an error the device did not
 * STALL (a transaction error, babble) with its toggle reset (xHCI Reset
 * Endpoint with TSP=0) cannot know the device's: the device may have taken
 * a packet whose ACK was lost, and would then drop the next one as a
 * repeat. CLEAR_FEATURE(ENDPOINT_HALT) puts the device's toggle back to
 * DATA0 (USB 3: sequence number 0) even when the endpoint is not halted
 * (USB 2.0 §9.4.5, USB 3.2 §9.4.5), in step with the host's. The requests
 * go out one at a time per device on EP0, asynchronously, from poll.
 */
#include "core_priv.h"

#include "bareusb/desc.h"
#include "bareusb/util.h"

static void toggle_next(struct bu_usb_device *dev);

/** The device's toggle of endpoint index `i` is reset (or could not be): tell the driver. */
static void toggle_finish(struct bu_usb_device *dev, unsigned i, int status)
{
	bu_usb_done_fn done = bu_core_dev(dev)->toggle_done;

	if (done && dev->eps[i])
		done(dev, dev->eps[i], status);
}

/**
 * CLEAR_FEATURE(ENDPOINT_HALT) completed: bu_core_toggle_poll releases its
 * endpoint and sends the next, from the bus's poll. The completion runs
 * inside the controller's event handling; the endpoint's transfers the
 * controller driver then completes, and what their callbacks start,
 * would stack on top of it.
 */
static void toggle_sent(struct bu_usb_xfer *xfer)
{
	struct bu_usb_device *dev = xfer->ctx;

	if (xfer->status && xfer->status != BU_ENODEV)
		bu_core_log(dev->bus, BU_LOG_WARN,
			    "endpoint 0x%02x: resetting the device's data toggle failed: %s",
			    xfer->setup[4], bu_strerror(xfer->status));
	bu_core_dev(dev)->toggle_status = xfer->status;
	bu_core_dev(dev)->toggle_back = true;
}

void bu_core_toggle_poll(struct bu_usb_device *dev)
{
	struct bu_core_device *cd = bu_core_dev(dev);
	unsigned i = cd->toggle_idx;

	if (!cd->toggle_back)
		return;
	cd->toggle_back = false;
	cd->toggle_idx = 0;
	toggle_finish(dev, i, cd->toggle_status);
	toggle_next(dev);
}

/** Send the next CLEAR_FEATURE(ENDPOINT_HALT) a toggle reset waits for. */
static void toggle_next(struct bu_usb_device *dev)
{
	struct bu_core_device *cd = bu_core_dev(dev);
	struct bu_usb_xfer *x = &cd->toggle_xfer;

	while (cd->toggle_want && !cd->toggle_idx) {
		unsigned i = 2;
		int rc;

		while (!(cd->toggle_want & (1u << i)))
			i++;
		cd->toggle_want &= ~(1u << i);
		if (!dev->eps[i])
			continue; /* closed meanwhile */
		bu_memset(x, 0, sizeof(*x));
		x->ep = &dev->ep0;
		bu_usb_setup_pack(x->setup, USB_DIR_OUT | USB_TYPE_STANDARD | USB_RECIP_ENDPOINT,
				  USB_REQ_CLEAR_FEATURE, USB_FEATURE_ENDPOINT_HALT,
				  dev->eps[i]->address, 0);
		x->timeout_ms = BU_USB_REQUEST_TIMEOUT_MS;
		x->complete = toggle_sent;
		x->ctx = dev;
		cd->toggle_idx = (uint8_t)i;
		rc = bu_usb_xfer_submit(x);
		if (rc) {
			/* Not sent: reported from the poll like an answer. */
			cd->toggle_status = rc;
			cd->toggle_back = true;
		}
		return;
	}
}

void bu_usb_ep_toggle_reset(struct bu_usb_endpoint *ep, bu_usb_done_fn done)
{
	struct bu_usb_device *dev = ep->dev;
	unsigned i = USB_ENDPOINT_NUMBER(ep->address) * 2u + ((ep->address & USB_DIR_IN) ? 1u : 0u);

	if (i < 2) {
		done(dev, ep, 0); /* EP0: every SETUP starts at DATA0 (USB 2.0 §8.5.3) */
		return;
	}
	bu_core_dev(dev)->toggle_done = done;
	bu_core_dev(dev)->toggle_want |= 1u << i;
	toggle_next(dev);
}
