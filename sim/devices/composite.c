/*
 * Composite device with an Interface Association Descriptor (full and high
 * speed): a CDC-ACM function over interfaces 0 (communication, interrupt
 * notification IN) and 1 (data, bulk loopback), grouped by an IAD, then a
 * HID boot keyboard as interface 2 (the shared function, hid_func.c).
 * Device class EF/02/01 as the IAD ECN requires.
 */
#include "model_common.h"

/* ------------------------------------------------------------------------ */
/* Descriptors                                                              */

#define VID 0x1209
#define PID 0xb030

static const uint8_t dev_fs[] = { SIM_D_DEVICE(0x0200, USB_CLASS_MISC, 2, 1, 64, VID, PID, 0x0100, 1, 2, 3, 1) };
static const uint8_t dev_hs[] = { SIM_D_DEVICE(0x0200, USB_CLASS_MISC, 2, 1, 64, VID, PID, 0x0100, 1, 2, 3, 1) };
static const uint8_t qual_fs[] = { SIM_D_QUALIFIER(0x0200, USB_CLASS_MISC, 2, 1, 64, 1) };
static const uint8_t qual_hs[] = { SIM_D_QUALIFIER(0x0200, USB_CLASS_MISC, 2, 1, 64, 1) };

/* CDC 1.2 functional descriptors (class-specific interface, 0x24). */
#define CDC_HEADER 5, 0x24, 0x00, SIM_LE16(0x0120)
#define CDC_CALL_MGMT 5, 0x24, 0x01, 0x00, 1
#define CDC_ACM 4, 0x24, 0x02, 0x02
#define CDC_UNION 5, 0x24, 0x06, 0, 1

#define COMPOSITE_CONFIG(hdr, bulk, notify_iv, kbd_iv)                         \
	hdr(3, 1, 0, 0xa0, 50),                                                \
	SIM_D_IAD(0, 2, 0x02, 0x02, 0x01, 4),                                  \
	SIM_D_INTERFACE(0, 0, 1, 0x02, 0x02, 0x01, 4),                         \
	CDC_HEADER, CDC_CALL_MGMT, CDC_ACM, CDC_UNION,                         \
	SIM_D_ENDPOINT(0x83, SIM_EP_INTR, 16, notify_iv),                      \
	SIM_D_INTERFACE(1, 0, 2, 0x0a, 0x00, 0x00, 0),                         \
	SIM_D_ENDPOINT(0x02, SIM_EP_BULK, bulk, 0),                            \
	SIM_D_ENDPOINT(0x82, SIM_EP_BULK, bulk, 0),                            \
	SIM_D_INTERFACE(2, 0, 1, USB_CLASS_HID, 1, 1, 5),                      \
	SIM_D_HID(sizeof(sim_hid_kbd_report_desc)),                            \
	SIM_D_ENDPOINT(0x81, SIM_EP_INTR, 8, kbd_iv)

static const uint8_t cfg_fs[] = { COMPOSITE_CONFIG(SIM_D_CONFIG, 64, 16, 10) };
static const uint8_t cfg_hs[] = { COMPOSITE_CONFIG(SIM_D_CONFIG, 512, 8, 7) };
static const uint8_t osp_fs[] = { COMPOSITE_CONFIG(SIM_D_OTHER_SPEED, 512, 8, 7) };
static const uint8_t osp_hs[] = { COMPOSITE_CONFIG(SIM_D_OTHER_SPEED, 64, 16, 10) };

/* The same device with MS OS 2.0 descriptors (bcdUSB 2.10, PID b031): a
 * configuration subset (index 0) with one function subset for the CDC
 * function (first interface 0): compatible ID "WINUSB" and
 * DeviceInterfaceGUIDs = { SIM_WINUSB_GUID }. The keyboard has none. */
static const uint8_t dev2_fs[] = { SIM_D_DEVICE(0x0210, USB_CLASS_MISC, 2, 1, 64, VID, PID + 1, 0x0100, 1, 2, 3, 1) };
static const uint8_t dev2_hs[] = { SIM_D_DEVICE(0x0210, USB_CLASS_MISC, 2, 1, 64, VID, PID + 1, 0x0100, 1, 2, 3, 1) };

#define MSOS2_SET_LEN (10 + 8 + 8 + SIM_MSOS2_WINUSB_FEATURES_LEN)

static const uint8_t bos[] = {
	SIM_D_BOS(2),
	SIM_D_USB2_EXT(0),
	SIM_D_MSOS2_CAP(MSOS2_SET_LEN, SIM_WINUSB_MSOS2_VENDOR),
};

static const uint8_t msos2_set[] = {
	/* set header, then configuration subset (index 0), function subset */
	SIM_LE16(10), SIM_LE16(0x00), SIM_LE32(0x06030000), SIM_LE16(MSOS2_SET_LEN),
	SIM_LE16(8), SIM_LE16(0x01), 0, 0, SIM_LE16(MSOS2_SET_LEN - 10),
	SIM_LE16(8), SIM_LE16(0x02), 0, 0, SIM_LE16(MSOS2_SET_LEN - 18),
	SIM_MSOS2_WINUSB_FEATURES,
};
_Static_assert(sizeof(msos2_set) == MSOS2_SET_LEN, "MS OS 2.0 set length");
_Static_assert(sizeof(bos) == 5 + 7 + 28, "BOS length");

/* ------------------------------------------------------------------------ */
/* Behaviour                                                                */

struct composite {
	struct sim_loop loop;
	uint8_t line_coding[7];
	uint16_t line_state;
	struct sim_hid_kbd kbd; /* interface 2 */
};

void sim_composite_key(struct sim_device *dev, uint8_t usage)
{
	struct composite *c = sim_device_priv(dev);

	sim_hid_kbd_queue(&c->kbd, usage);
}

uint16_t sim_composite_line_state(struct sim_device *dev)
{
	return ((struct composite *)sim_device_priv(dev))->line_state;
}

static void composite_init(struct sim_device *dev)
{
	struct composite *c = sim_device_priv(dev);
	const uint8_t lc[7] = { SIM_LE32(115200), 0, 0, 8 };

	memcpy(c->line_coding, lc, sizeof(lc));
	sim_hid_kbd_init(&c->kbd);
}

static void composite_set_config(struct sim_device *dev, uint8_t value)
{
	struct composite *c = sim_device_priv(dev);

	(void)value;
	sim_loop_reset(&c->loop);
}

static int cdc_control(struct composite *c, const struct usb_setup_packet *s, uint8_t *data,
		       uint16_t *len)
{
	switch (s->bRequest) {
	case 0x20: /* SET_LINE_CODING */
		if (s->bmRequestType != 0x21 || *len != 7)
			return SIM_STALL;
		memcpy(c->line_coding, data, 7);
		return SIM_ACK;
	case 0x21: /* GET_LINE_CODING */
		if (s->bmRequestType != 0xa1)
			return SIM_STALL;
		*len = *len < 7 ? *len : 7;
		memcpy(data, c->line_coding, *len);
		return SIM_ACK;
	case 0x22: /* SET_CONTROL_LINE_STATE */
		if (s->bmRequestType != 0x21)
			return SIM_STALL;
		c->line_state = s->wValue;
		return SIM_ACK;
	default:
		return SIM_STALL;
	}
}

static int composite_control(struct sim_device *dev, const struct usb_setup_packet *s,
			     uint8_t *data, uint16_t *len)
{
	struct composite *c = sim_device_priv(dev);

	if ((s->bmRequestType & 0x1f) != USB_RECIP_INTERFACE)
		return SIM_STALL;
	switch (s->wIndex) {
	case 0:
		return cdc_control(c, s, data, len);
	case 2:
		return sim_hid_kbd_control(&c->kbd, s, data, len);
	default:
		return SIM_STALL;
	}
}

static int composite_in(struct sim_device *dev, uint8_t ep, uint8_t *buf, uint16_t max)
{
	struct composite *c = sim_device_priv(dev);

	switch (ep) {
	case 0x81: /* keyboard */
		return sim_hid_kbd_report(&c->kbd, buf, max);
	case 0x82: /* CDC data */
		return sim_loop_in(&c->loop, buf, max);
	case 0x83: /* CDC notifications: none */
		return SIM_NAK;
	default:
		return SIM_STALL;
	}
}

static int composite_out(struct sim_device *dev, uint8_t ep, const uint8_t *buf, uint16_t len)
{
	struct composite *c = sim_device_priv(dev);

	if (ep != 0x02)
		return SIM_STALL;
	return sim_loop_out(&c->loop, buf, len, sim_device_ep_mps(dev, 0x02));
}

/* Both models: the same descriptors and behaviour, `...` adds fields. */
#define COMPOSITE_MODEL(nm, dfs, dhs, ...)                                       \
	{                                                                        \
		.name = nm,                                                      \
		.full = { .device = SIM_BLOB(dfs), .configs = { SIM_BLOB(cfg_fs) },   \
			  .qualifier = SIM_BLOB(qual_fs), .other_speed = { SIM_BLOB(osp_fs) } }, \
		.high = { .device = SIM_BLOB(dhs), .configs = { SIM_BLOB(cfg_hs) },   \
			  .qualifier = SIM_BLOB(qual_hs), .other_speed = { SIM_BLOB(osp_hs) } }, \
		.langid = 0x0409,                                                \
		.strings = { [1] = "bareusb sim", [2] = "Sim Composite", [3] = "CMP0001", \
			     [4] = "Sim Serial", [5] = "Sim Keyboard" },            \
		.priv_size = sizeof(struct composite),                           \
		.init = composite_init,                                          \
		.set_config = composite_set_config,                              \
		.control = composite_control,                                    \
		.in = composite_in,                                              \
		.out = composite_out,                                            \
		__VA_ARGS__                                                      \
	}

const struct sim_device_model sim_dev_composite =
	COMPOSITE_MODEL("composite", dev_fs, dev_hs);

const struct sim_device_model sim_dev_composite_msos =
	COMPOSITE_MODEL("composite-msos", dev2_fs, dev2_hs, .bos = SIM_BLOB(bos),
			.msos2_vendor = SIM_WINUSB_MSOS2_VENDOR, .msos2_set = SIM_BLOB(msos2_set));
