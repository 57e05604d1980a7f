/*
 * HID boot keyboard (HID 1.11), at low, full and high speed. Reports on EP
 * 0x81 (interrupt IN, 8 bytes); NAKs when no key changed. Handles GET/SET
 * REPORT, IDLE and PROTOCOL and the report descriptor.
 */
#include <string.h>

#include "model_common.h"

const uint8_t sim_kbd_report[63] = {
	0x05, 0x01, 0x09, 0x06, 0xa1, 0x01, 0x75, 0x01, 0x95, 0x08, 0x05, 0x07, 0x19, 0xe0,
	0x29, 0xe7, 0x15, 0x00, 0x25, 0x01, 0x81, 0x02, 0x95, 0x01, 0x75, 0x08, 0x81, 0x01,
	0x95, 0x05, 0x75, 0x01, 0x05, 0x08, 0x19, 0x01, 0x29, 0x05, 0x91, 0x02, 0x95, 0x01,
	0x75, 0x03, 0x91, 0x01, 0x95, 0x06, 0x75, 0x08, 0x15, 0x00, 0x25, 0xff, 0x05, 0x07,
	0x19, 0x00, 0x29, 0xff, 0x81, 0x00, 0xc0,
};

static const uint8_t dev_ls[] = { SIM_D_DEVICE(0x0110, 0, 0, 0, 8, 0x1209, 0xb001, 0x0100, 1, 2, 3, 1) };
static const uint8_t dev_fs[] = { SIM_D_DEVICE(0x0200, 0, 0, 0, 8, 0x1209, 0xb001, 0x0100, 1, 2, 3, 1) };
static const uint8_t dev_hs[] = { SIM_D_DEVICE(0x0200, 0, 0, 0, 64, 0x1209, 0xb001, 0x0100, 1, 2, 3, 1) };
static const uint8_t qual_fs[] = { SIM_D_QUALIFIER(0x0200, 0, 0, 0, 64, 1) };
static const uint8_t qual_hs[] = { SIM_D_QUALIFIER(0x0200, 0, 0, 0, 8, 1) };

#define KBD_CONFIG(type, interval)                                           \
	SIM_D_CONFIG(1, 1, 0, 0xa0, 50),                                     \
	SIM_D_INTERFACE(0, 0, 1, USB_CLASS_HID, 1, 1, 0),                    \
	SIM_D_HID(sizeof(sim_kbd_report)),                                       \
	SIM_D_ENDPOINT(0x81, SIM_EP_INTR, 8, interval)

static const uint8_t cfg_ls[] = { KBD_CONFIG(USB_DT_CONFIG, 10) };
static const uint8_t cfg_fs[] = { KBD_CONFIG(USB_DT_CONFIG, 10) };
static const uint8_t cfg_hs[] = { KBD_CONFIG(USB_DT_CONFIG, 7) };
static const uint8_t osp_fs[] = { SIM_D_OTHER_SPEED(1, 1, 0, 0xa0, 50),
				  SIM_D_INTERFACE(0, 0, 1, USB_CLASS_HID, 1, 1, 0),
				  SIM_D_HID(sizeof(sim_kbd_report)),
				  SIM_D_ENDPOINT(0x81, SIM_EP_INTR, 8, 7) };
static const uint8_t osp_hs[] = { SIM_D_OTHER_SPEED(1, 1, 0, 0xa0, 50),
				  SIM_D_INTERFACE(0, 0, 1, USB_CLASS_HID, 1, 1, 0),
				  SIM_D_HID(sizeof(sim_kbd_report)),
				  SIM_D_ENDPOINT(0x81, SIM_EP_INTR, 8, 10) };

void sim_kbd_type(struct sim_device *dev, uint8_t usage)
{
	struct kbd *k = sim_device_priv(dev);
	uint8_t down[8] = { 0, 0, usage, 0, 0, 0, 0, 0 }, up[8] = { 0 };

	if (k->tail - k->head > 30)
		return;
	memcpy(k->queue[k->tail++ % 32], down, 8);
	memcpy(k->queue[k->tail++ % 32], up, 8);
}

uint8_t sim_kbd_leds(struct sim_device *dev)
{
	return ((struct kbd *)sim_device_priv(dev))->leds;
}

void sim_kbd_init(struct sim_device *dev)
{
	struct kbd *k = sim_device_priv(dev);

	k->protocol = 1;
}

int sim_kbd_control(struct sim_device *dev, const struct usb_setup_packet *s, uint8_t *data,
		    uint16_t *len)
{
	struct kbd *k = sim_device_priv(dev);

	if (s->bmRequestType == 0x81 && s->bRequest == USB_REQ_GET_DESCRIPTOR) {
		if (s->wIndex != 0)
			return SIM_STALL;
		if ((s->wValue >> 8) == 0x22) {
			memcpy(data, sim_kbd_report, sizeof(sim_kbd_report));
			*len = sizeof(sim_kbd_report);
			return SIM_ACK;
		}
		if ((s->wValue >> 8) == USB_DT_HID) {
			const uint8_t hid[] = { SIM_D_HID(sizeof(sim_kbd_report)) };
			memcpy(data, hid, sizeof(hid));
			*len = sizeof(hid);
			return SIM_ACK;
		}
		return SIM_STALL;
	}
	if ((s->bmRequestType & 0x7f) != 0x21 || s->wIndex != 0)
		return SIM_STALL;
	switch (s->bRequest) {
	case 0x01: /* GET_REPORT */
		memset(data, 0, 8);
		*len = 8;
		return SIM_ACK;
	case 0x02: /* GET_IDLE */
		data[0] = k->idle;
		*len = 1;
		return SIM_ACK;
	case 0x03: /* GET_PROTOCOL */
		data[0] = k->protocol;
		*len = 1;
		return SIM_ACK;
	case 0x09: /* SET_REPORT */
		if (*len >= 1)
			k->leds = data[0];
		return SIM_ACK;
	case 0x0a: /* SET_IDLE */
		k->idle = (uint8_t)(s->wValue >> 8);
		return SIM_ACK;
	case 0x0b: /* SET_PROTOCOL */
		if (s->wValue > 1)
			return SIM_STALL;
		k->protocol = (uint8_t)s->wValue;
		return SIM_ACK;
	default:
		return SIM_STALL;
	}
}

int sim_kbd_in(struct sim_device *dev, uint8_t ep, uint8_t *buf, uint16_t max)
{
	struct kbd *k = sim_device_priv(dev);

	if (ep != 0x81)
		return SIM_STALL;
	if (k->head == k->tail)
		return SIM_NAK;
	memcpy(buf, k->queue[k->head++ % 32], max < 8 ? max : 8);
	return max < 8 ? max : 8;
}

const struct sim_device_model sim_dev_hid_kbd = {
	.name = "hid-keyboard",
	.low = { .device = SIM_BLOB(dev_ls), .configs = { SIM_BLOB(cfg_ls) } },
	.full = { .device = SIM_BLOB(dev_fs), .configs = { SIM_BLOB(cfg_fs) },
		  .qualifier = SIM_BLOB(qual_fs), .other_speed = { SIM_BLOB(osp_fs) } },
	.high = { .device = SIM_BLOB(dev_hs), .configs = { SIM_BLOB(cfg_hs) },
		  .qualifier = SIM_BLOB(qual_hs), .other_speed = { SIM_BLOB(osp_hs) } },
	.langid = 0x0409,
	.strings = { [1] = "bareusb sim", [2] = "Sim Keyboard", [3] = "KBD0001" },
	.priv_size = sizeof(struct kbd),
	.init = sim_kbd_init,
	.control = sim_kbd_control,
	.in = sim_kbd_in,
};
