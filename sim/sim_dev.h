/*
 * sim device models: one declarative file per device under sim/devices/.
 *
 * A model is a const struct sim_device_model: its descriptors at each speed
 * it supports (raw bytes, written with the SIM_D_* macros below), its strings
 * (UTF-8, converted to string descriptors by the framework), an optional BOS
 * and MS OS 1.0 / 2.0 descriptor sets, and handlers for class/vendor control
 * requests and for packets on its endpoints. The framework (sim/sim_dev.c)
 * answers the standard requests (GET_DESCRIPTOR, SET_CONFIGURATION,
 * SET_INTERFACE, GET_STATUS, CLEAR/SET_FEATURE, ...), keeps endpoint halt and
 * data-toggle state, and applies injected faults before a handler sees
 * anything.
 */
#ifndef SIM_SIM_DEV_H
#define SIM_SIM_DEV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bareusb/ch9.h"

#ifdef __cplusplus
extern "C" {
#endif

struct sim_device;

/** Handler results (negative) and the ACK of a packet (0 or a byte count). */
enum sim_resp {
	SIM_ACK = 0,
	SIM_NAK = -1,   /**< no data / not ready now: try again later */
	SIM_STALL = -2, /**< STALL handshake */
};

/** A byte blob: raw descriptor bytes. */
struct sim_blob {
	const uint8_t *data;
	uint16_t len;
};
#define SIM_BLOB(a) { (a), (uint16_t)sizeof(a) }

/** Descriptors of a model at one speed; absent speed: device.data == NULL. */
struct sim_desc_set {
	struct sim_blob device;        /**< 18 bytes */
	struct sim_blob configs[4];    /**< configuration bundles (wTotalLength patched) */
	struct sim_blob qualifier;     /**< device qualifier (HS-capable devices) */
	struct sim_blob other_speed[4]; /**< other-speed configurations */
};

/** Hub flavours a model can be. */
enum sim_hub_kind {
	SIM_HUB_NONE = 0,
	SIM_HUB_USB2 = 2, /**< USB 2.0 hub (FS or HS; TT when HS) */
	SIM_HUB_USB3 = 3, /**< SuperSpeed hub (SS downstream ports) */
};

/** A device model. */
struct sim_device_model {
	const char *name;
	struct sim_desc_set low, full, high, super;
	uint16_t langid;              /**< 0: no strings (string 0 STALLs) */
	const char *strings[16];      /**< UTF-8, index 1..15; NULL = STALL */
	struct sim_blob bos;          /**< BOS bundle (wTotalLength patched) */
	uint8_t msos1_vendor;         /**< != 0: string 0xEE "MSFT100" + this code */
	struct sim_blob msos1_compat; /**< Extended Compat ID (wIndex 4) */
	struct sim_blob msos1_props;  /**< Extended Properties (wIndex 5) */
	uint8_t msos2_vendor;         /**< != 0: MS OS 2.0 set on wIndex 7 */
	struct sim_blob msos2_set;

	enum sim_hub_kind hub;        /**< hubs: handled by sim/sim_hub.c */
	uint8_t hub_ports;            /**< downstream ports (1..15) */
	uint16_t hub_chars;           /**< wHubCharacteristics */

	size_t priv_size;             /**< per-device state, zeroed at attach */
	/** After attach (priv zeroed). */
	void (*init)(struct sim_device *dev);
	/** Bus reset (port reset): back to the Default state. */
	void (*reset)(struct sim_device *dev);
	/** SET_CONFIGURATION accepted (value 0 = unconfigured). */
	void (*set_config)(struct sim_device *dev, uint8_t value);
	/** SET_INTERFACE accepted. */
	void (*set_interface)(struct sim_device *dev, uint8_t intf, uint8_t alt);
	/** About to be unplugged (sim_detach or an injected disconnect); priv still valid. */
	void (*detach)(struct sim_device *dev);
	/**
	 * A control request the framework does not handle (class, vendor, or
	 * an interface-recipient GET_DESCRIPTOR). IN: fill data (capacity
	 * *len, already min(wLength, 4096)) and set *len. OUT: data holds *len
	 * bytes. Return SIM_ACK, SIM_STALL or SIM_NAK.
	 */
	int (*control)(struct sim_device *dev, const struct usb_setup_packet *setup,
		       uint8_t *data, uint16_t *len);
	/** One IN packet on `ep`: fill up to `max` bytes; return count or SIM_NAK/SIM_STALL. */
	int (*in)(struct sim_device *dev, uint8_t ep, uint8_t *buf, uint16_t max);
	/** One OUT packet on `ep` (len <= max packet); return SIM_ACK/SIM_NAK/SIM_STALL. */
	int (*out)(struct sim_device *dev, uint8_t ep, const uint8_t *buf, uint16_t len);
};

/* ------------------------------------------------------------------------ */
/* Descriptor byte macros (little-endian as on the wire)                    */

#define SIM_LE16(v) (uint8_t)((v) & 0xff), (uint8_t)(((v) >> 8) & 0xff)
#define SIM_LE32(v) SIM_LE16((v) & 0xffff), SIM_LE16(((v) >> 16) & 0xffff)

#define SIM_D_DEVICE(bcdusb, cls, sub, proto, mps0, vid, pid, bcddev, imf, ipr, \
		     isn, ncfg)                                                \
	18, USB_DT_DEVICE, SIM_LE16(bcdusb), cls, sub, proto, mps0,            \
		SIM_LE16(vid), SIM_LE16(pid), SIM_LE16(bcddev), imf, ipr, isn, ncfg
#define SIM_D_QUALIFIER(bcdusb, cls, sub, proto, mps0, ncfg) \
	10, USB_DT_DEVICE_QUALIFIER, SIM_LE16(bcdusb), cls, sub, proto, mps0, ncfg, 0
/** Configuration header; wTotalLength is patched by the framework. */
#define SIM_D_CONFIG(nintf, value, icfg, attr, maxpower) \
	9, USB_DT_CONFIG, 0, 0, nintf, value, icfg, attr, maxpower
#define SIM_D_OTHER_SPEED(nintf, value, icfg, attr, maxpower) \
	9, USB_DT_OTHER_SPEED_CONFIG, 0, 0, nintf, value, icfg, attr, maxpower
#define SIM_D_INTERFACE(num, alt, neps, cls, sub, proto, istr) \
	9, USB_DT_INTERFACE, num, alt, neps, cls, sub, proto, istr
#define SIM_D_ENDPOINT(addr, attr, mps, interval) \
	7, USB_DT_ENDPOINT, addr, attr, SIM_LE16(mps), interval
#define SIM_D_SS_COMP(burst, attr, bytes_per_interval) \
	6, USB_DT_SS_EP_COMP, burst, attr, SIM_LE16(bytes_per_interval)
#define SIM_D_IAD(first, count, cls, sub, proto, istr) \
	8, USB_DT_IAD, first, count, cls, sub, proto, istr
#define SIM_D_HID(report_len) \
	9, USB_DT_HID, SIM_LE16(0x0111), 0, 1, 0x22, SIM_LE16(report_len)
#define SIM_D_BOS(ncaps) 5, USB_DT_BOS, 0, 0, ncaps
#define SIM_D_USB2_EXT(attr) 7, USB_DT_DEVICE_CAPABILITY, 2, SIM_LE32(attr)
#define SIM_D_SS_CAP(attr, speeds, func, u1, u2) \
	10, USB_DT_DEVICE_CAPABILITY, 3, attr, SIM_LE16(speeds), func, u1, SIM_LE16(u2)
/** MS OS 2.0 platform capability (one set-information entry). */
#define SIM_D_MSOS2_CAP(set_len, vendor)                                       \
	28, USB_DT_DEVICE_CAPABILITY, 5, 0, 0xdf, 0x60, 0xdd, 0xd8, 0x89, 0x45, \
		0xc7, 0x4c, 0x9c, 0xd2, 0x65, 0x9d, 0x9e, 0x64, 0x8a, 0x9f,    \
		SIM_LE32(0x06030000), SIM_LE16(set_len), vendor, 0

/* Endpoint attributes */
#define SIM_EP_CONTROL 0
#define SIM_EP_ISOCH 1
#define SIM_EP_BULK 2
#define SIM_EP_INTR 3

/* ------------------------------------------------------------------------ */
/* Helpers for model handlers                                               */

/** The model's private state. */
void *sim_device_priv(struct sim_device *dev);
/** Log a line from a model (at BU_LOG_DEBUG). */
void sim_device_log(struct sim_device *dev, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/** Current alternate setting of interface `intf`. */
uint8_t sim_device_alt(const struct sim_device *dev, uint8_t intf);
/** Virtual time in microseconds. */
uint64_t sim_device_now_us(const struct sim_device *dev);
/** Max packet size of endpoint `ep` in the active configuration/alt (0: none). */
uint16_t sim_device_ep_mps(const struct sim_device *dev, uint8_t ep);
/**
 * Record a violation found by a model: the host broke the device's protocol
 * (a bad CBW, a request out of sequence). The test fails at its end.
 */
void sim_device_violation(struct sim_device *dev, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#ifdef __cplusplus
}
#endif

#endif
