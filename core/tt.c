/*
 * Transaction translator buffers (USB 2.0 §11.14, §11.17.5, §11.24.2.3).
 *
 * A low/full-speed device behind a high-speed hub is reached through the
 * hub's transaction translator: the controller sends start- and
 * complete-splits, and the TT buffers each control or bulk transaction
 * until its complete-split. When such a transfer halts or is cancelled, a
 * split may be left in that buffer, and the next transaction to the
 * endpoint would meet it. So, as Linux does (xhci-ring.c and hub.c,
 * usb_hub_clear_tt_buffer), the endpoint is held - no TD of it runs - and
 * CLEAR_TT_BUFFER goes to the hub, behind the hub's other requests; once
 * it completed the endpoint runs again. Should the clear fail, RESET_TT
 * empties the whole TT instead (§11.24.2.9), and then, whatever that
 * answered, the endpoint runs again.
 *
 * Here: which transfers need it, the hold, and the requests a hub asks
 * for and reports on. The hub driver (hub.c) sends them one at a time.
 * The state lives in each device (struct bu_core_device), so a device
 * that goes away takes its waiting clears with it; a hub that stops
 * serving lets every endpoint that waits for it run again.
 */
#include "core_priv.h"

#include "bareusb/ch9.h"
#include "bareusb/errors.h"

/* TT requests to a hub (USB 2.0 Table 11-16). */
#define TT_REQ_CLEAR_TT_BUFFER 8
#define TT_REQ_RESET_TT 9

void bu_core_tt_attach(struct bu_usb_device *dev)
{
	struct bu_usb_device *below = dev;

	if (dev->speed != BU_SPEED_LOW && dev->speed != BU_SPEED_FULL)
		return;
	/* The nearest high-speed hub above; a root port needs no TT request. */
	for (struct bu_usb_device *p = dev->parent; p; below = p, p = p->parent) {
		if (p->speed == BU_SPEED_HIGH) {
			dev->tt_hub = p;
			dev->tt_port = below->port;
			return;
		}
	}
}

/** The bit of an endpoint in the device's TT masks: its index, num * 2 + IN (EP0: 0). */
static uint32_t tt_bit(const struct bu_usb_endpoint *ep)
{
	return 1u << (USB_ENDPOINT_NUMBER(ep->address) * 2u + ((ep->address & USB_DIR_IN) ? 1u : 0u));
}

/** The endpoint with TT bit index `i`, or NULL when it is no longer open. */
static struct bu_usb_endpoint *tt_ep(struct bu_usb_device *dev, unsigned i)
{
	return i == 0 ? &dev->ep0 : i < 32 ? dev->eps[i] : NULL;
}

/**
 * Whether the way a transfer ended may have left a split in its TT buffer:
 * a cancel (or timeout) of a control or bulk transfer, or a halt. Periodic
 * splits keep nothing across frames and are not cleared this way. A STALL
 * answer completes the split; a stall is cleared still, as part of the
 * endpoint's halt processing (§11.17.5), except EP0's protocol stall,
 * which is no halt and ends at the next SETUP (§8.5.3.4) - as Linux
 * xhci-ring.c (finish_td) does, and ehci-q.c notes that some hubs' TTs
 * misbehave when cleared after a STALL.
 */
static bool tt_may_be_busy(const struct bu_usb_xfer *xfer)
{
	if (xfer->ep->type != BU_EP_CONTROL && xfer->ep->type != BU_EP_BULK)
		return false;
	switch (xfer->status) {
	case BU_ESTALL:
		return xfer->ep->address != 0;
	case BU_EPROTO:
	case BU_EBABBLE:
	case BU_ECANCELED:
	case BU_ETIMEDOUT:
		return true;
	default:
		return false;
	}
}

void bu_core_tt_check(struct bu_usb_xfer *xfer)
{
	struct bu_usb_endpoint *ep = xfer->ep;
	struct bu_usb_device *dev = ep->dev;
	struct bu_core_device *cd = bu_core_dev(dev);
	char path[32];

	if (!dev->tt_hub || !dev->address || dev->state == BU_DEV_GONE ||
	    (cd->tt_pending & tt_bit(ep)) || !tt_may_be_busy(xfer) ||
	    !bu_core_hub_serves(dev->tt_hub))
		return;
	bu_core_log(dev->bus, BU_LOG_DEBUG, "device %s endpoint 0x%02x: %s, clearing its TT buffer",
		    bu_core_dev_path(dev, path, sizeof(path)), ep->address, bu_strerror(xfer->status));
	cd->tt_pending |= tt_bit(ep);
	/* The ring is halted or stopped now: keep it so until the clear. */
	if (dev->bus->ops->ep_pause(ep, NULL, NULL) == 0)
		cd->tt_held |= tt_bit(ep);
}

bool bu_core_tt_waiting(const struct bu_usb_endpoint *ep)
{
	return (bu_core_dev(ep->dev)->tt_pending & tt_bit(ep)) != 0;
}

/** Endpoint `i` of `dev` is done with its clear: it may run again. */
static void tt_finish(struct bu_usb_device *dev, unsigned i)
{
	struct bu_core_device *cd = bu_core_dev(dev);
	struct bu_usb_endpoint *ep = tt_ep(dev, i);
	uint32_t bit = 1u << i;

	cd->tt_pending &= ~bit;
	cd->tt_second &= ~bit;
	cd->tt_reset &= ~bit;
	if ((cd->tt_held & bit) && ep)
		dev->bus->ops->ep_unpause(ep);
	cd->tt_held &= ~bit;
}

/** The lowest bit set in a non-zero mask. */
static unsigned lowest_bit(uint32_t mask)
{
	unsigned i = 0;

	while (!(mask & (1u << i)))
		i++;
	return i;
}

/**
 * wValue of CLEAR_TT_BUFFER for endpoint `ep` of `dev` (§11.24.2.3):
 * endpoint number, device address, endpoint type (control 0, bulk 2),
 * direction. A control endpoint has a buffer each way: OUT first, then IN.
 */
static uint16_t tt_value(const struct bu_usb_device *dev, const struct bu_usb_endpoint *ep,
			 bool second)
{
	bool in = ep->type == BU_EP_CONTROL ? second : (ep->address & USB_DIR_IN) != 0;

	return (uint16_t)(USB_ENDPOINT_NUMBER(ep->address) | (dev->address & 0x7f) << 4 |
			  (unsigned)ep->type << 11 | (in ? 0x8000u : 0u));
}

bool bu_core_tt_next(struct bu_usb_device *hub, uint8_t *request, uint16_t *value,
		     uint16_t *index)
{
	for (struct bu_usb_device *d = hub->bus->devices; d; d = d->next) {
		struct bu_core_device *cd = bu_core_dev(d);

		while (d->tt_hub == hub && cd->tt_pending && d->state != BU_DEV_GONE) {
			unsigned i = lowest_bit(cd->tt_pending);
			struct bu_usb_endpoint *ep = tt_ep(d, i);
			bool reset = (cd->tt_reset >> i) & 1;

			if (!ep) {
				tt_finish(d, i); /* closed meanwhile: nothing to hold */
				continue;
			}
			cd->tt_sending = (uint8_t)(i + 1);
			*request = reset ? TT_REQ_RESET_TT : TT_REQ_CLEAR_TT_BUFFER;
			*value = reset ? 0 : tt_value(d, ep, (cd->tt_second >> i) & 1);
			/* The TT: a multi-TT hub's of that port, else its one (1). */
			*index = hub->hub_mtt ? d->tt_port : 1;
			return true;
		}
	}
	return false;
}

/** The device whose request its TT hub `hub` is sending, or NULL (it went away). */
static struct bu_usb_device *tt_sender(struct bu_usb_device *hub)
{
	for (struct bu_usb_device *d = hub->bus->devices; d; d = d->next)
		if (d->tt_hub == hub && bu_core_dev(d)->tt_sending)
			return d;
	return NULL;
}

void bu_core_tt_sent(struct bu_usb_device *hub, int status)
{
	struct bu_usb_device *d = tt_sender(hub);
	struct bu_core_device *cd;
	struct bu_usb_endpoint *ep;
	unsigned i;

	if (!d)
		return;
	cd = bu_core_dev(d);
	i = cd->tt_sending - 1u;
	ep = tt_ep(d, i);
	cd->tt_sending = 0;
	if ((cd->tt_reset >> i) & 1)
		tt_finish(d, i); /* the TT was reset, or could not be: done */
	else if (status)
		cd->tt_reset |= 1u << i;
	else if (ep && ep->type == BU_EP_CONTROL && !((cd->tt_second >> i) & 1))
		cd->tt_second |= 1u << i; /* the IN buffer next */
	else
		tt_finish(d, i);
}

void bu_core_tt_drop(struct bu_usb_device *hub)
{
	for (struct bu_usb_device *d = hub->bus->devices; d; d = d->next) {
		if (d->tt_hub != hub)
			continue;
		bu_core_dev(d)->tt_sending = 0;
		while (bu_core_dev(d)->tt_pending)
			tt_finish(d, lowest_bit(bu_core_dev(d)->tt_pending));
	}
}
