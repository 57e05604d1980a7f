/*
 * USB 2.0 hubs (USB 2.0 chapter 11): a 4-port hub that is single-TT at
 * high speed (bDeviceProtocol 1) and a plain hub at full speed, and a
 * 7-port high-speed hub with multiple TTs (bDeviceProtocol 2, interface
 * alternate setting 1 selects multi-TT, §11.23.1). The hub function itself
 * (descriptor 0x29, port status, reset, TT requests, status-change
 * endpoint) is sim/sim_hub.c; these files only describe the devices.
 */
#include "devices.h"

#define VID 0x1209

/* wHubCharacteristics (§11.23.2.1): per-port power switching (01b) and
 * over-current protection (01b << 3); TT think time in bits 6:5. */
#define CHARS_STT 0x0009
#define CHARS_MTT (0x0009 | (1u << 5)) /* 16 FS bit times */

/* ---- single-TT hub, HS and FS ------------------------------------------ */

static const uint8_t stt_dev_fs[] = { SIM_D_DEVICE(0x0200, USB_CLASS_HUB, 0, 0, 64, VID, 0xb040, 0x0100, 1, 2, 0, 1) };
static const uint8_t stt_dev_hs[] = { SIM_D_DEVICE(0x0200, USB_CLASS_HUB, 0, 1, 64, VID, 0xb040, 0x0100, 1, 2, 0, 1) };
/* The qualifier describes the other speed: HS single-TT seen from FS, FS seen from HS. */
static const uint8_t stt_qual_fs[] = { SIM_D_QUALIFIER(0x0200, USB_CLASS_HUB, 0, 1, 64, 1) };
static const uint8_t stt_qual_hs[] = { SIM_D_QUALIFIER(0x0200, USB_CLASS_HUB, 0, 0, 64, 1) };

#define HUB_CONFIG(hdr, interval)                                              \
	hdr(1, 1, 0, 0xe0, 50),                                                \
	SIM_D_INTERFACE(0, 0, 1, USB_CLASS_HUB, 0, 0, 0),                      \
	SIM_D_ENDPOINT(0x81, SIM_EP_INTR, 1, interval)

static const uint8_t stt_cfg_fs[] = { HUB_CONFIG(SIM_D_CONFIG, 255) };
static const uint8_t stt_cfg_hs[] = { HUB_CONFIG(SIM_D_CONFIG, 12) };
static const uint8_t stt_osp_fs[] = { HUB_CONFIG(SIM_D_OTHER_SPEED, 12) };
static const uint8_t stt_osp_hs[] = { HUB_CONFIG(SIM_D_OTHER_SPEED, 255) };

const struct sim_device_model sim_dev_hub2 = {
	.name = "hub2",
	.full = { .device = SIM_BLOB(stt_dev_fs), .configs = { SIM_BLOB(stt_cfg_fs) },
		  .qualifier = SIM_BLOB(stt_qual_fs), .other_speed = { SIM_BLOB(stt_osp_fs) } },
	.high = { .device = SIM_BLOB(stt_dev_hs), .configs = { SIM_BLOB(stt_cfg_hs) },
		  .qualifier = SIM_BLOB(stt_qual_hs), .other_speed = { SIM_BLOB(stt_osp_hs) } },
	.langid = 0x0409,
	.strings = { [1] = "bareusb sim", [2] = "Sim USB 2.0 Hub (single TT)" },
	.hub = SIM_HUB_USB2,
	.hub_ports = 4,
	.hub_chars = CHARS_STT,
};

/* ---- multi-TT hub, HS ---------------------------------------------------- */

static const uint8_t mtt_dev_hs[] = { SIM_D_DEVICE(0x0200, USB_CLASS_HUB, 0, 2, 64, VID, 0xb041, 0x0100, 1, 2, 0, 1) };
static const uint8_t mtt_qual_hs[] = { SIM_D_QUALIFIER(0x0200, USB_CLASS_HUB, 0, 0, 64, 1) };
static const uint8_t mtt_cfg_hs[] = {
	SIM_D_CONFIG(1, 1, 0, 0xe0, 50),
	SIM_D_INTERFACE(0, 0, 1, USB_CLASS_HUB, 0, 1, 0), /* single TT */
	SIM_D_ENDPOINT(0x81, SIM_EP_INTR, 1, 12),
	SIM_D_INTERFACE(0, 1, 1, USB_CLASS_HUB, 0, 2, 0), /* multiple TTs */
	SIM_D_ENDPOINT(0x81, SIM_EP_INTR, 1, 12),
};
static const uint8_t mtt_osp_hs[] = { HUB_CONFIG(SIM_D_OTHER_SPEED, 255) };

const struct sim_device_model sim_dev_hub2_mtt = {
	.name = "hub2-mtt",
	.high = { .device = SIM_BLOB(mtt_dev_hs), .configs = { SIM_BLOB(mtt_cfg_hs) },
		  .qualifier = SIM_BLOB(mtt_qual_hs), .other_speed = { SIM_BLOB(mtt_osp_hs) } },
	.langid = 0x0409,
	.strings = { [1] = "bareusb sim", [2] = "Sim USB 2.0 Hub (multi TT)" },
	.hub = SIM_HUB_USB2,
	.hub_ports = 7,
	.hub_chars = CHARS_MTT,
};
