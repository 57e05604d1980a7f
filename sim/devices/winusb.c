/*
 * WinUSB vendor test device with MS OS 2.0 descriptors, at full, high and
 * SuperSpeed: bulk loopback, an interrupt IN report stream, isochronous IN
 * and OUT on alternate setting 1, and a vendor control echo (see devices.h).
 */
#include "model_common.h"

/* ------------------------------------------------------------------------ */
/* Descriptors                                                              */

#define VID 0x1209
#define PID 0xb010

static const uint8_t dev_fs[] = { SIM_D_DEVICE(0x0210, 0, 0, 0, 64, VID, PID, 0x0100, 1, 2, 3, 1) };
static const uint8_t dev_hs[] = { SIM_D_DEVICE(0x0210, 0, 0, 0, 64, VID, PID, 0x0100, 1, 2, 3, 1) };
static const uint8_t dev_ss[] = { SIM_D_DEVICE(0x0320, 0, 0, 0, 9, VID, PID, 0x0100, 1, 2, 3, 1) };
static const uint8_t qual_fs[] = { SIM_D_QUALIFIER(0x0210, 0, 0, 0, 64, 1) };
static const uint8_t qual_hs[] = { SIM_D_QUALIFIER(0x0210, 0, 0, 0, 64, 1) };

/* Interface 0: alt 0 bulk pair + interrupt IN; alt 1 adds isoch OUT/IN. */
#define WU_CONFIG(bulk, intr_iv, iso_iv)                                       \
	SIM_D_CONFIG(1, 1, 0, 0x80, 50),                                       \
	SIM_D_INTERFACE(0, 0, 3, USB_CLASS_VENDOR, 0, 0, 4),                   \
	SIM_D_ENDPOINT(0x01, SIM_EP_BULK, bulk, 0),                            \
	SIM_D_ENDPOINT(0x81, SIM_EP_BULK, bulk, 0),                            \
	SIM_D_ENDPOINT(0x82, SIM_EP_INTR, 64, intr_iv),                        \
	SIM_D_INTERFACE(0, 1, 5, USB_CLASS_VENDOR, 0, 0, 4),                   \
	SIM_D_ENDPOINT(0x01, SIM_EP_BULK, bulk, 0),                            \
	SIM_D_ENDPOINT(0x81, SIM_EP_BULK, bulk, 0),                            \
	SIM_D_ENDPOINT(0x82, SIM_EP_INTR, 64, intr_iv),                        \
	SIM_D_ENDPOINT(0x03, SIM_EP_ISOCH, 256, iso_iv),                       \
	SIM_D_ENDPOINT(0x83, SIM_EP_ISOCH, 256, iso_iv)

static const uint8_t cfg_fs[] = { WU_CONFIG(64, 1, 1) };
static const uint8_t cfg_hs[] = { WU_CONFIG(512, 4, 4) };
static const uint8_t cfg_ss[] = {
	SIM_D_CONFIG(1, 1, 0, 0x80, 25),
	SIM_D_INTERFACE(0, 0, 3, USB_CLASS_VENDOR, 0, 0, 4),
	SIM_D_ENDPOINT(0x01, SIM_EP_BULK, 1024, 0), SIM_D_SS_COMP(3, 0, 0),
	SIM_D_ENDPOINT(0x81, SIM_EP_BULK, 1024, 0), SIM_D_SS_COMP(3, 0, 0),
	SIM_D_ENDPOINT(0x82, SIM_EP_INTR, 64, 4), SIM_D_SS_COMP(0, 0, 64),
	SIM_D_INTERFACE(0, 1, 5, USB_CLASS_VENDOR, 0, 0, 4),
	SIM_D_ENDPOINT(0x01, SIM_EP_BULK, 1024, 0), SIM_D_SS_COMP(3, 0, 0),
	SIM_D_ENDPOINT(0x81, SIM_EP_BULK, 1024, 0), SIM_D_SS_COMP(3, 0, 0),
	SIM_D_ENDPOINT(0x82, SIM_EP_INTR, 64, 4), SIM_D_SS_COMP(0, 0, 64),
	SIM_D_ENDPOINT(0x03, SIM_EP_ISOCH, 256, 4), SIM_D_SS_COMP(0, 0, 256),
	SIM_D_ENDPOINT(0x83, SIM_EP_ISOCH, 256, 4), SIM_D_SS_COMP(0, 0, 256),
};
/* Other-speed views (the HS-capable device at FS and vice versa). */
static const uint8_t osp_fs[] = { WU_CONFIG(512, 4, 4) };
static const uint8_t osp_hs[] = { WU_CONFIG(64, 1, 1) };

/* BOS: USB 2.0 extension, SuperSpeed capability, MS OS 2.0 platform cap. */
static const uint8_t bos[] = {
	SIM_D_BOS(3),
	SIM_D_USB2_EXT(0),
	SIM_D_SS_CAP(0, 0x000e, 1, 0x0a, 0x07ff),
	SIM_D_MSOS2_CAP(SIM_WINUSB_MSOS2_SET_LEN, SIM_WINUSB_MSOS2_VENDOR),
};

/* MS OS 2.0 descriptor set (non-composite: features right after the header). */
static const uint8_t msos2_set[] = {
	/* set header: wLength, wDescriptorType 0, dwWindowsVersion, wTotalLength */
	SIM_LE16(10), SIM_LE16(0x00), SIM_LE32(0x06030000), SIM_LE16(SIM_WINUSB_MSOS2_SET_LEN),
	SIM_MSOS2_WINUSB_FEATURES,
};
_Static_assert(sizeof(msos2_set) == SIM_WINUSB_MSOS2_SET_LEN, "MS OS 2.0 set length");
_Static_assert(sizeof(bos) == 5 + 7 + 10 + 28, "BOS length");

/* ------------------------------------------------------------------------ */
/* Behaviour                                                                */

uint32_t sim_winusb_iso_out_bytes(struct sim_device *dev)
{
	return ((struct winusb *)sim_device_priv(dev))->iso_out_bytes;
}

uint32_t sim_winusb_iso_in_packets(struct sim_device *dev)
{
	return ((struct winusb *)sim_device_priv(dev))->iso_in_seq;
}

uint64_t sim_winusb_bulk_out_bytes(struct sim_device *dev)
{
	return ((struct winusb *)sim_device_priv(dev))->loop.out_bytes;
}

uint64_t sim_winusb_bulk_in_bytes(struct sim_device *dev)
{
	return ((struct winusb *)sim_device_priv(dev))->loop.in_bytes;
}

void sim_winusb_init(struct sim_device *dev)
{
	(void)dev;
}

void sim_winusb_reset(struct sim_device *dev)
{
	struct winusb *w = sim_device_priv(dev);

	sim_loop_reset(&w->loop);
}

void sim_winusb_set_config(struct sim_device *dev, uint8_t value)
{
	struct winusb *w = sim_device_priv(dev);

	(void)value;
	sim_loop_reset(&w->loop);
}

void sim_winusb_set_interface(struct sim_device *dev, uint8_t intf, uint8_t alt)
{
	(void)dev;
	(void)intf;
	(void)alt;
}

int sim_winusb_control(struct sim_device *dev, const struct usb_setup_packet *s, uint8_t *data,
		       uint16_t *len)
{
	struct winusb *w = sim_device_priv(dev);

	if (s->bmRequestType == 0x40 && s->bRequest == SIM_WINUSB_REQ_WRITE) {
		if (*len > sizeof(w->echo))
			return SIM_STALL;
		memcpy(w->echo, data, *len);
		w->echo_len = *len;
		return SIM_ACK;
	}
	if (s->bmRequestType == 0xc0 && s->bRequest == SIM_WINUSB_REQ_READ) {
		uint16_t n = w->echo_len < *len ? w->echo_len : *len;
		memcpy(data, w->echo, n);
		*len = n;
		return SIM_ACK;
	}
	return SIM_STALL;
}

int sim_winusb_in(struct sim_device *dev, uint8_t ep, uint8_t *buf, uint16_t max)
{
	struct winusb *w = sim_device_priv(dev);

	switch (ep) {
	case 0x81:
		return sim_loop_in(&w->loop, buf, max);
	case 0x82: {
		const uint8_t r[8] = { (uint8_t)w->intr_seq, (uint8_t)(w->intr_seq >> 8),
				       (uint8_t)(w->intr_seq >> 16), (uint8_t)(w->intr_seq >> 24),
				       0xa5, 0x5a, 0xa5, 0x5a };
		uint16_t n = max < 8 ? max : 8;
		memcpy(buf, r, n);
		w->intr_seq++;
		return n;
	}
	case 0x83:
		return sim_iso_pattern(buf, max, &w->iso_in_seq);
	default:
		return SIM_STALL;
	}
}

int sim_winusb_out(struct sim_device *dev, uint8_t ep, const uint8_t *buf, uint16_t len)
{
	struct winusb *w = sim_device_priv(dev);

	switch (ep) {
	case 0x01:
		return sim_loop_out(&w->loop, buf, len, sim_device_ep_mps(dev, 0x01));
	case 0x03:
		w->iso_out_bytes += len;
		return SIM_ACK;
	default:
		return SIM_STALL;
	}
}

const struct sim_device_model sim_dev_winusb = {
	.name = "winusb",
	.full = { .device = SIM_BLOB(dev_fs), .configs = { SIM_BLOB(cfg_fs) },
		  .qualifier = SIM_BLOB(qual_fs), .other_speed = { SIM_BLOB(osp_fs) } },
	.high = { .device = SIM_BLOB(dev_hs), .configs = { SIM_BLOB(cfg_hs) },
		  .qualifier = SIM_BLOB(qual_hs), .other_speed = { SIM_BLOB(osp_hs) } },
	.super = { .device = SIM_BLOB(dev_ss), .configs = { SIM_BLOB(cfg_ss) } },
	.langid = 0x0409,
	.strings = { [1] = "bareusb sim", [2] = "Sim WinUSB (MS OS 2.0)", [3] = "WU2-0001",
		     [4] = "Loopback" },
	.bos = SIM_BLOB(bos),
	.msos2_vendor = SIM_WINUSB_MSOS2_VENDOR,
	.msos2_set = SIM_BLOB(msos2_set),
	.priv_size = sizeof(struct winusb),
	.init = sim_winusb_init,
	.reset = sim_winusb_reset,
	.set_config = sim_winusb_set_config,
	.set_interface = sim_winusb_set_interface,
	.control = sim_winusb_control,
	.in = sim_winusb_in,
	.out = sim_winusb_out,
};
