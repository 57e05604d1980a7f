/*
 * QEMU's usb-kbd (hw/usb/dev-hid.c) described byte for byte as QEMU
 * presents it on qemu-xhci, at full and high speed, so the same device run
 * as a sim scenario and as a QEMU scenario gives the same usbdev line
 * (tests/sim/qemu-usb-kbd.usbdev holds the lines QEMU gave). The behaviour
 * is the sim's boot keyboard (hid_kbd.c). QEMU's serial number is "68284-"
 * followed by the controller's PCI address and port; that tail differs.
 */
#include "model_common.h"

#define VID 0x0627
#define PID 0x0001

/* QEMU reports bcdUSB 2.00 at both speeds (usb_version=1 only drops HS). */
static const uint8_t dev_fs[] = { SIM_D_DEVICE(0x0200, 0, 0, 0, 8, VID, PID, 0x0000, 1, 4, 11, 1) };
static const uint8_t dev_hs[] = { SIM_D_DEVICE(0x0200, 0, 0, 0, 64, VID, PID, 0x0000, 1, 4, 11, 1) };
static const uint8_t qual_fs[] = { SIM_D_QUALIFIER(0x0200, 0, 0, 0, 64, 1) };
static const uint8_t qual_hs[] = { SIM_D_QUALIFIER(0x0200, 0, 0, 0, 8, 1) };

/* Self-powered bit clear, remote wakeup set (USB_CFG_ATT_ONE | WAKEUP), 100 mA. */
#define QKBD_CONFIG(hdr, interval)                                             \
	hdr(1, 1, 8, 0xa0, 50),                                                \
	SIM_D_INTERFACE(0, 0, 1, USB_CLASS_HID, 1, 1, 0),                      \
	SIM_D_HID(sizeof(sim_hid_kbd_report_desc)),                            \
	SIM_D_ENDPOINT(0x81, SIM_EP_INTR, 8, interval)

static const uint8_t cfg_fs[] = { QKBD_CONFIG(SIM_D_CONFIG, 10) };
static const uint8_t cfg_hs[] = { QKBD_CONFIG(SIM_D_CONFIG, 7) }; /* 2^(7-1) * 125 us = 8 ms */
static const uint8_t osp_fs[] = { QKBD_CONFIG(SIM_D_OTHER_SPEED, 7) };
static const uint8_t osp_hs[] = { QKBD_CONFIG(SIM_D_OTHER_SPEED, 10) };

const struct sim_device_model sim_dev_qemu_kbd = {
	.name = "qemu-usb-kbd",
	.full = { .device = SIM_BLOB(dev_fs), .configs = { SIM_BLOB(cfg_fs) },
		  .qualifier = SIM_BLOB(qual_fs), .other_speed = { SIM_BLOB(osp_fs) } },
	.high = { .device = SIM_BLOB(dev_hs), .configs = { SIM_BLOB(cfg_hs) },
		  .qualifier = SIM_BLOB(qual_hs), .other_speed = { SIM_BLOB(osp_hs) } },
	.langid = 0x0409,
	.strings = { [1] = "QEMU", [4] = "QEMU USB Keyboard", [8] = "HID Keyboard",
		     [11] = "68284-" SIM_QEMU_KBD_SERIAL_TAIL },
	.priv_size = sizeof(struct sim_hid_kbd),
	.init = sim_kbd_init,
	.control = sim_kbd_control,
	.in = sim_kbd_in,
};
