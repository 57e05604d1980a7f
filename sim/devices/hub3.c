/*
 * USB 3 (SuperSpeed) hub, 4 ports (USB 3.2 chapter 10): hub descriptor
 * 0x2A, SET_HUB_DEPTH before any route through it works, link states and
 * BH (warm) reset on its ports. The hub function is sim/sim_hub.c. Only
 * the SuperSpeed half of a real USB 3 hub: its USB 2 companion would be a
 * sim_dev_hub2 on the paired USB 2 port.
 */
#include "devices.h"

static const uint8_t dev_ss[] = { SIM_D_DEVICE(0x0300, USB_CLASS_HUB, 0, 3, 9, 0x1209, 0xb042, 0x0100, 1, 2, 0, 1) };
static const uint8_t cfg_ss[] = {
	SIM_D_CONFIG(1, 1, 0, 0xe0, 0),
	SIM_D_INTERFACE(0, 0, 1, USB_CLASS_HUB, 0, 0, 0),
	SIM_D_ENDPOINT(0x81, SIM_EP_INTR, 2, 12),
	SIM_D_SS_COMP(0, 0, 2),
};
static const uint8_t bos[] = {
	SIM_D_BOS(2),
	SIM_D_USB2_EXT(0),
	SIM_D_SS_CAP(0, 0x000e, 1, 0x0a, 0x07ff),
};

const struct sim_device_model sim_dev_hub3 = {
	.name = "hub3",
	.super = { .device = SIM_BLOB(dev_ss), .configs = { SIM_BLOB(cfg_ss) } },
	.langid = 0x0409,
	.strings = { [1] = "bareusb sim", [2] = "Sim USB 3 Hub" },
	.bos = SIM_BLOB(bos),
	.hub = SIM_HUB_USB3,
	.hub_ports = 4,
	.hub_chars = 0x0009,
};
