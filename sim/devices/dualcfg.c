/*
 * A vendor device with two configurations (FS, HS; see devices.h): a bulk
 * loopback in configuration 1, and a second loopback on other endpoints
 * plus an isochronous IN endpoint that answers SYNCH_FRAME in
 * configuration 2.
 */
#include "model_common.h"

/* ------------------------------------------------------------------------ */
/* Descriptors                                                              */

#define VID 0x1209
#define PID 0xb050

static const uint8_t dev_fs[] = { SIM_D_DEVICE(0x0200, 0, 0, 0, 64, VID, PID, 0x0100, 1, 2, 0, 2) };
static const uint8_t dev_hs[] = { SIM_D_DEVICE(0x0200, 0, 0, 0, 64, VID, PID, 0x0100, 1, 2, 0, 2) };
static const uint8_t qual[] = { SIM_D_QUALIFIER(0x0200, 0, 0, 0, 64, 2) };

/* Configuration 1: bus powered, remote wakeup; interface 0 ff/00/00. */
#define DC_CONFIG1(bulk)                                                       \
	SIM_D_CONFIG(1, 1, 3, 0xa0, 50),                                       \
	SIM_D_INTERFACE(0, 0, 2, USB_CLASS_VENDOR, 0, 0, 0),                   \
	SIM_D_ENDPOINT(0x01, SIM_EP_BULK, bulk, 0),                            \
	SIM_D_ENDPOINT(0x81, SIM_EP_BULK, bulk, 0)

/* Configuration 2: self powered; interface 0 ff/01/00, interface 1 isoch IN. */
#define DC_CONFIG2(bulk, iso_iv)                                               \
	SIM_D_CONFIG(2, 2, 4, 0xc0, 0),                                        \
	SIM_D_INTERFACE(0, 0, 2, USB_CLASS_VENDOR, 1, 0, 0),                   \
	SIM_D_ENDPOINT(0x02, SIM_EP_BULK, bulk, 0),                            \
	SIM_D_ENDPOINT(0x82, SIM_EP_BULK, bulk, 0),                            \
	SIM_D_INTERFACE(1, 0, 1, USB_CLASS_VENDOR, 2, 0, 0),                   \
	SIM_D_ENDPOINT(0x83, SIM_EP_ISOCH, 128, iso_iv)

static const uint8_t cfg1_fs[] = { DC_CONFIG1(64) };
static const uint8_t cfg2_fs[] = { DC_CONFIG2(64, 1) };
static const uint8_t cfg1_hs[] = { DC_CONFIG1(512) };
static const uint8_t cfg2_hs[] = { DC_CONFIG2(512, 4) };

/* ------------------------------------------------------------------------ */
/* Behaviour                                                                */

struct dualcfg {
	struct sim_loop loop;
	uint32_t iso_seq;
	uint16_t synch_frame; /* last frame number SYNCH_FRAME answered */
};

uint16_t sim_dualcfg_synch_frame(struct sim_device *dev)
{
	return ((struct dualcfg *)sim_device_priv(dev))->synch_frame;
}

static void dc_reset(struct sim_device *dev)
{
	sim_loop_reset(&((struct dualcfg *)sim_device_priv(dev))->loop);
}

static void dc_set_config(struct sim_device *dev, uint8_t value)
{
	(void)value;
	dc_reset(dev);
}

/* SYNCH_FRAME (USB 2.0 §9.4.11) on the isochronous IN endpoint: its data
 * pattern repeats every 8 frames; the answer is the next frame it restarts. */
static int dc_control(struct sim_device *dev, const struct usb_setup_packet *s, uint8_t *data,
		      uint16_t *len)
{
	struct dualcfg *d = sim_device_priv(dev);

	if (s->bmRequestType == 0x82 && s->bRequest == USB_REQ_SYNCH_FRAME && s->wValue == 0 &&
	    s->wIndex == 0x83 && sim_device_ep_mps(dev, 0x83) && *len >= 2) {
		uint32_t frame = (uint32_t)(sim_device_now_us(dev) / 1000);

		d->synch_frame = (uint16_t)(((frame + 8) & ~7u) & 0x7ff);
		data[0] = (uint8_t)d->synch_frame;
		data[1] = (uint8_t)(d->synch_frame >> 8);
		*len = 2;
		return SIM_ACK;
	}
	return SIM_STALL;
}

static int dc_in(struct sim_device *dev, uint8_t ep, uint8_t *buf, uint16_t max)
{
	struct dualcfg *d = sim_device_priv(dev);

	switch (ep) {
	case 0x81:
	case 0x82:
		return sim_loop_in(&d->loop, buf, max);
	case 0x83:
		return sim_iso_pattern(buf, max, &d->iso_seq);
	default:
		return SIM_STALL;
	}
}

static int dc_out(struct sim_device *dev, uint8_t ep, const uint8_t *buf, uint16_t len)
{
	struct dualcfg *d = sim_device_priv(dev);

	if (ep != 0x01 && ep != 0x02)
		return SIM_STALL;
	return sim_loop_out(&d->loop, buf, len, sim_device_ep_mps(dev, ep));
}

const struct sim_device_model sim_dev_dualcfg = {
	.name = "dualcfg",
	.full = { .device = SIM_BLOB(dev_fs), .configs = { SIM_BLOB(cfg1_fs), SIM_BLOB(cfg2_fs) },
		  .qualifier = SIM_BLOB(qual) },
	.high = { .device = SIM_BLOB(dev_hs), .configs = { SIM_BLOB(cfg1_hs), SIM_BLOB(cfg2_hs) },
		  .qualifier = SIM_BLOB(qual) },
	.langid = 0x0409,
	.strings = { [1] = "bareusb sim", [2] = "Sim two configurations", [3] = "Loopback",
		     [4] = "Loopback + isochronous" },
	.priv_size = sizeof(struct dualcfg),
	.reset = dc_reset,
	.set_config = dc_set_config,
	.control = dc_control,
	.in = dc_in,
	.out = dc_out,
};
