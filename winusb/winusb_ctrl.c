/*
 * WinUSB driver part: requests on the default control pipe. The caller's
 * control transfers (with the checks that keep the stack in step with the
 * device), descriptors from the enumeration copy or the device, and the
 * alternate setting of an interface. Reads top to bottom:
 *   completion -> CONTROL -> GET_DESCRIPTOR -> SET_ALT, GET_ALT.
 */
#include "winusb_priv.h"

#include "bareusb/ch9.h"
#include "bareusb/desc.h"
#include "bareusb/errors.h"
#include "bareusb/util.h"

void bu_wu_ctrl_done(struct wu_slot *s)
{
	struct wu_req *r = s->req;
	struct wu_func *fn = r->fn;

	r->done = (uint32_t)BU_MIN(s->x.actual, s->len);
	if (s->x.status)
		bu_wu_req_fail(r, bu_winusb_err_to_win32(s->x.status));
	for (struct wu_req **pp = &fn->ctrl_reqs; *pp; pp = &(*pp)->next) {
		if (*pp == r) {
			*pp = r->next;
			break;
		}
	}
	r->finished = true;
	bu_wu_req_giveback(r);
	bu_wu_func_maybe_free(fn);
}

/**
 * Put a control transfer of `wlength` bytes (io->buf) on EP0 as a pending
 * request of the caller's: it completes from poll (bu_wu_ctrl_done).
 */
static uint32_t ctrl_submit(const struct wu_ioctx *c, const uint8_t setup[8],
			    uint16_t wlength, uint32_t timeout_ms)
{
	struct wu_func *fn = c->fn;
	struct wu_req *r;
	int rc;

	bu_wu_func_resume(fn);
	r = bu_wu_req_alloc(fn, 1);
	if (!r)
		return ERROR_NOT_ENOUGH_MEMORY;
	bu_wu_req_bind(r, c->f, RQ_CONTROL, c->wi ? c->wi->index : 0, c->io);
	r->buf = c->io->buf;
	r->len = wlength;
	bu_memcpy(r->slots[0].x.setup, setup, 8);
	bu_wu_req_start(r, timeout_ms);
	rc = bu_wu_slot_submit(&r->slots[0], &fn->dev->ep0, c->io->buf, wlength,
			       SL_DATA, 0, 0);
	if (rc) {
		r->cb = NULL;
		bu_wu_req_giveback(r);
		return bu_winusb_err_to_win32(rc);
	}
	fn->last_busy_us = bu_wu_now_us(c->drv);
	r->next = fn->ctrl_reqs;
	fn->ctrl_reqs = r;
	return ERROR_IO_PENDING;
}

/**
 * CONTROL: a control transfer on EP0 for an interface
 * ("WinUsb_ControlTransfer function (winusb.h)").
 */
uint32_t bu_wu_ioc_control(const struct wu_ioctx *c)
{
	struct bu_winusb_drv *drv = c->drv;
	const struct bu_winusb_io *io = c->io;
	struct wu_iface *wi = c->wi;
	struct wu_func *fn = c->fn;
	uint8_t setup[8];
	uint16_t wlength;
	bool in;

	bu_memcpy(setup, c->prm->setup, sizeof(setup));
	wlength = bu_get_le16(setup + 6);
	in = (setup[0] & USB_DIR_IN) != 0;
	if (wlength > 4096 || wlength > io->buf_len || !io->done)
		return ERROR_INVALID_PARAMETER; /* Windows' 4 KB data stage limit */
	if (!bu_wu_range_ok(drv, io->buf, wlength, in))
		return ERROR_NOACCESS;
	if ((setup[0] & 0x60) == USB_TYPE_STANDARD) {
		/* Requests that would desynchronise the stack. */
		if (setup[1] == USB_REQ_SET_ADDRESS)
			return ERROR_INVALID_PARAMETER;
		if (setup[1] == USB_REQ_SET_CONFIGURATION && setup[2] != fn->dev->config_value)
			return ERROR_NOT_SUPPORTED; /* WinUSB keeps the first configuration */
		if (setup[1] == USB_REQ_SET_INTERFACE && (setup[0] & 0x1f) == USB_RECIP_INTERFACE)
			return ERROR_NOT_SUPPORTED; /* WinUsb_SetCurrentAlternateSetting does it */
	}
	/* Interface recipient: Winusb.sys puts the handle's interface number
	 * in wIndex's low byte, keeping the high byte. */
	if ((setup[0] & 0x1f) == USB_RECIP_INTERFACE && (setup[0] & 0x60) != 0x60)
		setup[4] = wi->number;
	return ctrl_submit(c, setup, wlength, wi->ctrl.pol.timeout_ms);
}

/** GET_DESCRIPTOR: device/configuration from the enumeration copy, others live. */
uint32_t bu_wu_ioc_get_descriptor(const struct wu_ioctx *c)
{
	const struct bu_winusb_ioparams *prm = c->prm;
	struct bu_usb_device *dev = c->fn->dev;
	uint8_t type = (uint8_t)prm->type;
	uint32_t len = BU_MIN(c->io->buf_len, 0xffffu);
	uint8_t setup[8];

	if (type == USB_DT_DEVICE && dev->have_desc) {
		const struct usb_device_descriptor *d = &dev->desc;
		uint8_t w[18] = { 18, USB_DT_DEVICE, (uint8_t)d->bcdUSB, (uint8_t)(d->bcdUSB >> 8),
				  d->bDeviceClass, d->bDeviceSubClass, d->bDeviceProtocol,
				  d->bMaxPacketSize0, (uint8_t)d->idVendor,
				  (uint8_t)(d->idVendor >> 8), (uint8_t)d->idProduct,
				  (uint8_t)(d->idProduct >> 8), (uint8_t)d->bcdDevice,
				  (uint8_t)(d->bcdDevice >> 8), d->iManufacturer, d->iProduct,
				  d->iSerialNumber, d->bNumConfigurations };

		c->res->bytes = BU_MIN(len, (uint32_t)sizeof(w));
		bu_memcpy(c->io->buf, w, c->res->bytes);
		return 0;
	}
	if (type == USB_DT_CONFIG && prm->index < dev->num_configs &&
	    dev->config_raw[prm->index]) {
		uint32_t total = dev->configs[prm->index].total_len;

		c->res->bytes = BU_MIN(len, total);
		bu_memcpy(c->io->buf, dev->config_raw[prm->index], c->res->bytes);
		return 0;
	}
	if (prm->flags & BU_WINUSB_IOF_CACHED)
		return ERROR_INVALID_PARAMETER;
	if (!len || !c->io->done)
		return ERROR_INVALID_PARAMETER; /* it pends: needs `done` */
	/* GET_DESCRIPTOR from the device (USB 2.0 §9.4.3), pending like
	 * CONTROL. */
	bu_usb_setup_pack(
	    setup, USB_DIR_IN | USB_TYPE_STANDARD | USB_RECIP_DEVICE,
	    USB_REQ_GET_DESCRIPTOR, (uint16_t)(type << 8 | prm->index),
	    (uint16_t)prm->value, (uint16_t)len);
	return ctrl_submit(c, setup, (uint16_t)len, BU_USB_REQUEST_TIMEOUT_MS);
}

/** SET_ALT's SET_INTERFACE ended (bu_usb_set_interface_async): the new
 * setting's pipes. */
static void set_alt_done(struct bu_usb_device *dev, void *ctx, int status)
{
	struct wu_req *r = ctx;
	struct wu_iface *wi = &r->fn->ifaces[r->iface];

	(void)dev;
	wi->alt_busy = false;
	bu_wu_iface_build_pipes(
	    wi); /* endpoint pointers changed even on failure */
	if (status)
		bu_wu_req_fail(r, bu_winusb_err_to_win32(status));
	r->inflight = 0; /* the work gives it back */
	bu_wu_defer(r->fn->drv);
}

/**
 * SET_ALT: SET_INTERFACE plus the new setting's pipes, pending until the
 * core's bu_usb_set_interface_async calls back.
 */
uint32_t bu_wu_ioc_set_alt(const struct wu_ioctx *c)
{
	struct wu_func *fn = c->fn;
	struct wu_iface *wi = c->wi;
	uint8_t alt = c->prm->index;
	const struct bu_usb_config_info *cfg;
	struct wu_req *r;
	uint32_t st;
	int rc;

	if (!wi->intf || fn->dev->active_config < 0)
		return ERROR_DEVICE_NOT_CONNECTED;
	cfg = &fn->dev->configs[fn->dev->active_config];
	if (!bu_desc_find_alt(cfg, wi->number, alt))
		return ERROR_INVALID_PARAMETER;
	for (unsigned k = 0; k < wi->num_pipes; k++)
		if (wi->pipes[k].head || !bu_wu_pipe_quiet(&wi->pipes[k]))
			return ERROR_BUSY; /* "fails if I/O is outstanding" (code: a gap) */
	for (r = fn->op_reqs; r; r = r->next)
		if (r->iface == wi->index && r->op != OP_UNREGISTER)
			return ERROR_BUSY; /* a reset or close of it pends */
	if (!c->io->done)
		return ERROR_INVALID_PARAMETER; /* it pends: needs `done` */
	bu_wu_func_resume(fn);
	/* The new setting's endpoints start fresh on both sides (Configure
	 * Endpoint, and SET_INTERFACE resets the device's toggles, USB 2.0
	 * §9.1.1.5): no RESET_PIPE_ON_RESUME reset of the old ones. */
	for (unsigned k = 0; k < wi->num_pipes; k++)
		wi->pipes[k].resetting = false;
	st = bu_wu_op_pend(c, OP_SET_ALT, NULL, NULL);
	if (st != ERROR_IO_PENDING)
		return st;
	for (r = fn->op_reqs; r->next; r = r->next)
		;	 /* the one just pended: the last */
	r->inflight = 1; /* until set_alt_done */
	wi->alt_busy = true;
	rc = bu_usb_set_interface_async(fn->dev, wi->number, alt, set_alt_done,
					r);
	if (rc) {
		/* It never started: the endpoints are as they were. */
		wi->alt_busy = false;
		bu_wu_iface_build_pipes(wi);
		bu_wu_req_fail(r, bu_winusb_err_to_win32(rc));
		r->inflight = 0;
	}
	return ERROR_IO_PENDING;
}

/** GET_ALT: the interface's current alternate setting. */
uint32_t bu_wu_ioc_get_alt(const struct wu_ioctx *c)
{
	if (c->io->buf_len < 1 || !c->wi->intf)
		return ERROR_INVALID_PARAMETER;
	((uint8_t *)c->io->buf)[0] = c->wi->intf->alt;
	c->res->bytes = 1;
	return 0;
}
