/*
 * HID boot keyboard (HID 1.11), at low, full and high speed: interface 0
 * with reports on EP 0x81 (interrupt IN, 8 bytes). The keyboard behaviour
 * (requests, reports) is the shared function in hid_func.c.
 */
#include "model_common.h"

static const uint8_t dev_ls[] = { SIM_D_DEVICE(0x0110, 0, 0, 0, 8, 0x1209, 0xb001, 0x0100, 1, 2, 3, 1) };
static const uint8_t dev_fs[] = { SIM_D_DEVICE(0x0200, 0, 0, 0, 8, 0x1209, 0xb001, 0x0100, 1, 2, 3, 1) };
static const uint8_t dev_hs[] = { SIM_D_DEVICE(0x0200, 0, 0, 0, 64, 0x1209, 0xb001, 0x0100, 1, 2, 3, 1) };
static const uint8_t qual_fs[] = { SIM_D_QUALIFIER(0x0200, 0, 0, 0, 64, 1) };
static const uint8_t qual_hs[] = { SIM_D_QUALIFIER(0x0200, 0, 0, 0, 8, 1) };

#define KBD_CONFIG(type, interval)                                           \
	SIM_D_CONFIG(1, 1, 0, 0xa0, 50),                                     \
	SIM_D_INTERFACE(0, 0, 1, USB_CLASS_HID, 1, 1, 0),                    \
	SIM_D_HID(sizeof(sim_hid_kbd_report_desc)),                          \
	SIM_D_ENDPOINT(0x81, SIM_EP_INTR, 8, interval)

static const uint8_t cfg_ls[] = { KBD_CONFIG(USB_DT_CONFIG, 10) };
static const uint8_t cfg_fs[] = { KBD_CONFIG(USB_DT_CONFIG, 10) };
static const uint8_t cfg_hs[] = { KBD_CONFIG(USB_DT_CONFIG, 7) };
static const uint8_t osp_fs[] = { SIM_D_OTHER_SPEED(1, 1, 0, 0xa0, 50),
				  SIM_D_INTERFACE(0, 0, 1, USB_CLASS_HID, 1, 1, 0),
				  SIM_D_HID(sizeof(sim_hid_kbd_report_desc)),
				  SIM_D_ENDPOINT(0x81, SIM_EP_INTR, 8, 7) };
static const uint8_t osp_hs[] = { SIM_D_OTHER_SPEED(1, 1, 0, 0xa0, 50),
				  SIM_D_INTERFACE(0, 0, 1, USB_CLASS_HID, 1, 1, 0),
				  SIM_D_HID(sizeof(sim_hid_kbd_report_desc)),
				  SIM_D_ENDPOINT(0x81, SIM_EP_INTR, 8, 10) };

void sim_kbd_type(struct sim_device *dev, uint8_t usage)
{
	sim_hid_kbd_queue(sim_device_priv(dev), usage);
	/* A key on a suspended keyboard wakes the host when it may (USB 2.0 §7.1.7.7). */
	sim_remote_wake(dev);
}

uint8_t sim_kbd_leds(struct sim_device *dev)
{
	return ((struct sim_hid_kbd *)sim_device_priv(dev))->leds;
}

void sim_kbd_init(struct sim_device *dev)
{
	sim_hid_kbd_init(sim_device_priv(dev));
}

int sim_kbd_control(struct sim_device *dev, const struct usb_setup_packet *s, uint8_t *data,
		    uint16_t *len)
{
	if (s->wIndex != 0)
		return SIM_STALL;
	return sim_hid_kbd_control(sim_device_priv(dev), s, data, len);
}

int sim_kbd_in(struct sim_device *dev, uint8_t ep, uint8_t *buf, uint16_t max)
{
	if (ep != 0x81)
		return SIM_STALL;
	return sim_hid_kbd_report(sim_device_priv(dev), buf, max);
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
	.priv_size = sizeof(struct sim_hid_kbd),
	.init = sim_kbd_init,
	.control = sim_kbd_control,
	.in = sim_kbd_in,
};
