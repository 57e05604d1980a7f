/*
 * The WinUSB test device described with MS OS 1.0 descriptors instead of a
 * BOS (full and high speed, bcdUSB 2.00): string 0xEE "MSFT100" carrying
 * the vendor code, Extended Compat ID "WINUSB" (wIndex 4) and Extended
 * Properties with DeviceInterfaceGUID (wIndex 5). Same interfaces and
 * behaviour as winusb.c, whose handlers it uses.
 */
#include "model_common.h"

#define VID 0x1209
#define PID 0xb011

static const uint8_t dev_fs[] = { SIM_D_DEVICE(0x0200, 0, 0, 0, 64, VID, PID, 0x0100, 1, 2, 3, 1) };
static const uint8_t dev_hs[] = { SIM_D_DEVICE(0x0200, 0, 0, 0, 64, VID, PID, 0x0100, 1, 2, 3, 1) };
static const uint8_t qual_fs[] = { SIM_D_QUALIFIER(0x0200, 0, 0, 0, 64, 1) };
static const uint8_t qual_hs[] = { SIM_D_QUALIFIER(0x0200, 0, 0, 0, 64, 1) };

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
static const uint8_t osp_fs[] = { WU_CONFIG(512, 4, 4) };
static const uint8_t osp_hs[] = { WU_CONFIG(64, 1, 1) };

/* Extended Compat ID: 16-byte header + one 24-byte function section. */
static const uint8_t compat[] = {
	SIM_LE32(40), SIM_LE16(0x0100), SIM_LE16(0x0004), 1, 0, 0, 0, 0, 0, 0, 0,
	0, 1, 'W', 'I', 'N', 'U', 'S', 'B', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0,
};

/* Extended Properties: 10-byte header + DeviceInterfaceGUID (REG_SZ). */
static const uint8_t props[] = {
	SIM_LE32(142), SIM_LE16(0x0100), SIM_LE16(0x0005), SIM_LE16(1),
	SIM_LE32(132), SIM_LE32(1), SIM_LE16(40),
	SIM_W('D'), SIM_W('e'), SIM_W('v'), SIM_W('i'), SIM_W('c'), SIM_W('e'),
	SIM_W('I'), SIM_W('n'), SIM_W('t'), SIM_W('e'), SIM_W('r'), SIM_W('f'),
	SIM_W('a'), SIM_W('c'), SIM_W('e'), SIM_W('G'), SIM_W('U'), SIM_W('I'),
	SIM_W('D'), 0, 0,
	SIM_LE32(78), SIM_WINUSB_GUID_W16, 0, 0,
};
_Static_assert(sizeof(compat) == 40, "Extended Compat ID length");
_Static_assert(sizeof(props) == 142, "Extended Properties length");

const struct sim_device_model sim_dev_winusb_os1 = {
	.name = "winusb-os1",
	.full = { .device = SIM_BLOB(dev_fs), .configs = { SIM_BLOB(cfg_fs) },
		  .qualifier = SIM_BLOB(qual_fs), .other_speed = { SIM_BLOB(osp_fs) } },
	.high = { .device = SIM_BLOB(dev_hs), .configs = { SIM_BLOB(cfg_hs) },
		  .qualifier = SIM_BLOB(qual_hs), .other_speed = { SIM_BLOB(osp_hs) } },
	.langid = 0x0409,
	.strings = { [1] = "bareusb sim", [2] = "Sim WinUSB (MS OS 1.0)", [3] = "WU1-0001",
		     [4] = "Loopback" },
	.msos1_vendor = SIM_WINUSB_MSOS1_VENDOR,
	.msos1_compat = SIM_BLOB(compat),
	.msos1_props = SIM_BLOB(props),
	.priv_size = sizeof(struct winusb),
	.init = sim_winusb_init,
	.reset = sim_winusb_reset,
	.set_config = sim_winusb_set_config,
	.set_interface = sim_winusb_set_interface,
	.control = sim_winusb_control,
	.in = sim_winusb_in,
	.out = sim_winusb_out,
};
