/*
 * Microsoft OS descriptors, host side: the MS OS 1.0 string descriptor at
 * index 0xEE, Extended Compat ID and Extended Properties feature
 * descriptors, and the MS OS 2.0 BOS platform capability and descriptor set
 * (configuration and function subsets, compatible ID, registry properties).
 * They decide whether a function binds to WinUSB automatically and carry
 * its DeviceInterfaceGUID(s) and power defaults ("Microsoft OS 1.0
 * Descriptors Specification", "Microsoft OS 2.0 Descriptors Specification").
 *
 * Three layers:
 *  - pure parsers over untrusted bytes (no allocation, no state): every
 *    length, count and offset is checked, nothing is read past `len`;
 *  - a request sequencer (struct bu_msos_fetch) that says which control
 *    request to send next and digests the answer, so an event-driven
 *    enumerator can run the whole exchange on its own asynchronous control
 *    transfers;
 *  - bu_msos_fetch(), which runs the sequencer synchronously with
 *    bu_usb_control() (not from a completion callback).
 * Results land in a caller-owned struct bu_msos_info.
 */
#ifndef BAREUSB_MSOS_H
#define BAREUSB_MSOS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bareusb/compiler.h"
#include "bareusb/desc.h"
#include "bareusb/usb.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------ */
/* Constants (the Microsoft OS 1.0 and 2.0 Descriptors Specifications)      */

#define BU_MSOS1_STRING_INDEX 0xEE      /**< OS string descriptor index */
#define BU_MSOS1_STRING_LEN 0x12        /**< its length */
#define BU_MSOS1_GENRE_INDEX 0x0001
#define BU_MSOS1_COMPAT_ID_INDEX 0x0004 /**< Extended Compat ID feature */
#define BU_MSOS1_EXT_PROPS_INDEX 0x0005 /**< Extended Properties feature */
#define BU_MSOS1_COMPAT_HEADER_LEN 16
#define BU_MSOS1_COMPAT_FUNC_LEN 24
#define BU_MSOS1_PROPS_HEADER_LEN 10
#define BU_MSOS20_DESCRIPTOR_INDEX 0x0007   /**< wIndex of the set request */
#define BU_MSOS20_SET_ALT_ENUMERATION 0x0008
#ifndef BU_MSOS_MAX_DESC
#define BU_MSOS_MAX_DESC 4096 /**< largest feature descriptor / set read (Windows' 4 KB limit) */
#endif
BU_STATIC_ASSERT(BU_MSOS_MAX_DESC >= 16 && BU_MSOS_MAX_DESC <= 65535,
		 "BU_MSOS_MAX_DESC: a request length (wLength), at least a header (16..65535)");

/* MS OS 2.0 descriptor-set element types (wDescriptorType, spec table 9) */
#define BU_MSOS20_SET_HEADER 0x00
#define BU_MSOS20_SUBSET_CONFIGURATION 0x01
#define BU_MSOS20_SUBSET_FUNCTION 0x02
#define BU_MSOS20_FEATURE_COMPATIBLE_ID 0x03
#define BU_MSOS20_FEATURE_REG_PROPERTY 0x04
#define BU_MSOS20_FEATURE_MIN_RESUME_TIME 0x05
#define BU_MSOS20_FEATURE_MODEL_ID 0x06
#define BU_MSOS20_FEATURE_CCGP_DEVICE 0x07
#define BU_MSOS20_FEATURE_VENDOR_REVISION 0x08

/* Registry value types of properties (REG_SZ ... REG_MULTI_SZ, as in winnt.h) */
#define BU_REG_SZ 1
#define BU_REG_EXPAND_SZ 2
#define BU_REG_BINARY 3
#define BU_REG_DWORD_LITTLE_ENDIAN 4
#define BU_REG_DWORD_BIG_ENDIAN 5
#define BU_REG_LINK 6
#define BU_REG_MULTI_SZ 7

/** {D8DD60DF-4589-4CC7-9CD2-659D9E648A9F} as it appears on the wire. */
extern const uint8_t bu_msos20_platform_uuid[16];

/* ------------------------------------------------------------------------ */
/* Results                                                                  */

#ifndef BU_MSOS_MAX_FUNCS
#define BU_MSOS_MAX_FUNCS 8  /**< functions kept per device */
#endif
BU_STATIC_ASSERT(BU_MSOS_MAX_FUNCS >= 1 && BU_MSOS_MAX_FUNCS <= 255,
		 "BU_MSOS_MAX_FUNCS: num_funcs is a uint8_t (1..255)");
#ifndef BU_MSOS_MAX_GUIDS
#define BU_MSOS_MAX_GUIDS 4  /**< DeviceInterfaceGUID(s) kept per function */
#endif
BU_STATIC_ASSERT(BU_MSOS_MAX_GUIDS >= 1 && BU_MSOS_MAX_GUIDS <= 255,
		 "BU_MSOS_MAX_GUIDS: num_guids is a uint8_t (1..255)");
#define BU_MSOS_GUID_LEN 38  /**< "{XXXXXXXX-XXXX-XXXX-XXXX-XXXXXXXXXXXX}" */

/** Which power values a function's properties carried (bu_msos_function.power_set). */
enum bu_msos_power {
	BU_MSOS_DEVICE_IDLE_ENABLED = 1 << 0,
	BU_MSOS_DEFAULT_IDLE_STATE = 1 << 1,
	BU_MSOS_DEFAULT_IDLE_TIMEOUT = 1 << 2,
	BU_MSOS_USER_SET_DEVICE_IDLE = 1 << 3,
	BU_MSOS_SYSTEM_WAKE_ENABLED = 1 << 4,
	BU_MSOS_DEVICE_IDLE_IGNORE_WAKE = 1 << 5,
};

/** What the descriptors say about one function (or the whole device). */
struct bu_msos_function {
	uint8_t first_interface; /**< bFirstInterfaceNumber / bFirstInterface */
	bool whole_device;       /**< device-level features (non-composite) */
	char compat_id[9];       /**< NUL-terminated, "" when none */
	char subcompat_id[9];
	uint8_t num_guids;       /**< valid, distinct GUIDs kept (upper case) */
	char guids[BU_MSOS_MAX_GUIDS][BU_MSOS_GUID_LEN + 1];
	uint8_t power_set;       /**< BU_MSOS_* of the values present */
	uint32_t device_idle_enabled;
	uint32_t default_idle_state;
	uint32_t default_idle_timeout; /**< ms */
	uint32_t user_set_device_idle_enabled;
	uint32_t system_wake_enabled;
	uint32_t device_idle_ignore_wake;
	uint16_t num_props;      /**< properties seen (all types) */
};

/** Everything read from one device. */
struct bu_msos_info {
	uint8_t version;         /**< 0 = none, 1 = MS OS 1.0, 2 = MS OS 2.0 */
	uint8_t vendor_code;     /**< bMS_VendorCode */
	uint8_t alt_enum_code;   /**< MS OS 2.0 bAltEnumCode */
	uint16_t set_len;        /**< MS OS 2.0 wMSOSDescriptorSetTotalLength */
	uint32_t windows_version; /**< MS OS 2.0 dwWindowsVersion chosen */
	uint16_t vendor_revision; /**< MS OS 2.0 feature, 0 when absent */
	bool ccgp;               /**< MS OS 2.0 CCGP device feature */
	uint8_t num_funcs;
	struct bu_msos_function funcs[BU_MSOS_MAX_FUNCS];
	uint16_t warnings;       /**< tolerated irregularities */
	const char *why;         /**< first problem seen, static text, or NULL */
};

/* ------------------------------------------------------------------------ */
/* Pure parsers                                                             */

/**
 * The OS string descriptor (index 0xEE): bLength >= 0x12, type 3, signature
 * "MSFT100" in UTF-16LE. Stores bMS_VendorCode. Returns 0, BU_ENOENT (a
 * string, but not an OS string) or BU_EBADDESC. bPad is ignored.
 */
int bu_msos1_parse_os_string(const uint8_t *buf, size_t len, uint8_t *vendor_code);

/**
 * dwLength of an MS OS 1.0 feature descriptor header (Extended Compat ID:
 * index 4, 16-byte header; Extended Properties: index 5, 10-byte header):
 * checks bcdVersion 0x0100 and wIndex, and that dwLength is at least the
 * header and at most BU_MSOS_MAX_DESC. Returns dwLength or BU_EBADDESC.
 */
int bu_msos1_feature_length(const uint8_t *buf, size_t len, uint16_t index);

/**
 * An Extended Compat ID descriptor: one function per section (at most
 * BU_MSOS_MAX_FUNCS; first interface, compatible and sub-compatible IDs).
 * Functions already in *info with the same first interface are updated.
 * Returns 0 or BU_EBADDESC (bad header or a count that does not fit).
 */
int bu_msos1_parse_compat_id(const uint8_t *buf, size_t len, struct bu_msos_info *info);

/**
 * An Extended Properties descriptor: DeviceInterfaceGUID(s) and the power
 * values (DeviceIdleEnabled, DefaultIdleState, DefaultIdleTimeout, ...)
 * into *fn. Malformed sections end the walk (counted in *warnings when not
 * NULL). Returns 0 or BU_EBADDESC (bad header).
 */
int bu_msos1_parse_ext_props(const uint8_t *buf, size_t len, struct bu_msos_function *fn,
			     uint16_t *warnings);

/**
 * The MS OS 2.0 platform capability of a parsed BOS: chooses the
 * set-information entry with the highest dwWindowsVersion and stores its
 * vendor code, set length, alternate-enumeration code and version in
 * *info. Returns 0, BU_ENOENT (no such capability) or BU_EBADDESC (too
 * short, no entry, a set length below 10).
 */
int bu_msos2_parse_platform(const struct bu_bos_info *bos, struct bu_msos_info *info);

/**
 * An MS OS 2.0 descriptor set. `config_index` selects the configuration
 * subset (Windows uses the configuration's index, 0 for the first, not its
 * bConfigurationValue). Device-level features become one whole_device
 * function; each function subset its own. Returns 0 or BU_EBADDESC (bad
 * set header); malformed elements end the walk with a warning.
 */
int bu_msos2_parse_set(const uint8_t *buf, size_t len, uint8_t config_index,
		       struct bu_msos_info *info);

/**
 * Decode one registry property (name UTF-16LE name[name_len], data
 * data[data_len] of `type`) into *fn when it is one WinUSB uses. Returns
 * true when it was recognised and valid.
 */
bool bu_msos_apply_property(struct bu_msos_function *fn, uint32_t type, const uint8_t *name,
			    size_t name_len, const uint8_t *data, size_t data_len);

/**
 * Normalise a GUID string ("{...}" with hex digits, any case, braces
 * optional) to upper case with braces into out[BU_MSOS_GUID_LEN + 1].
 * Returns true when it is a well-formed GUID.
 */
bool bu_msos_guid_normalize(const char *in, size_t len, char *out);

/** The function whose interfaces include `iface` (first match), or NULL. */
const struct bu_msos_function *bu_msos_find_function(const struct bu_msos_info *info,
						     uint8_t iface);

/* ------------------------------------------------------------------------ */
/* Request sequencer                                                        */

/** State of one fetch; treat as opaque. */
struct bu_msos_fetch {
	struct bu_msos_info *info; /**< output, cleared by init */
	uint16_t bcd_usb;
	uint8_t config_index;
	uint8_t step;
	uint8_t func;      /**< function whose properties are being read */
	uint8_t attempt;   /**< alternative request forms tried */
	uint16_t want;     /**< length of the request in flight */
	uint16_t total;    /**< full length learned from a header */
	uint8_t flags;
};

/**
 * Start a fetch for a device with this bcdUSB whose active configuration
 * has index `config_index`. MS OS 2.0 is tried first (BOS, for bcdUSB >=
 * 0x0201), then MS OS 1.0.
 */
void bu_msos_fetch_init(struct bu_msos_fetch *f, struct bu_msos_info *info, uint16_t bcd_usb,
			uint8_t config_index);

/**
 * The next control request: fills setup[8] (little-endian SETUP packet)
 * and returns its wLength (0..BU_MSOS_MAX_DESC; the answer buffer needs
 * that many bytes), or BU_ENOENT when the fetch is finished.
 */
int bu_msos_fetch_next(struct bu_msos_fetch *f, uint8_t setup[8]);

/**
 * Digest the answer to the request bu_msos_fetch_next() gave: `status` 0
 * with data[len] (len <= what was asked), or a BU_E* code (a STALL means
 * "no such descriptor" and moves on).
 */
void bu_msos_fetch_feed(struct bu_msos_fetch *f, int status, const uint8_t *data, size_t len);

/* ------------------------------------------------------------------------ */
/* Device helpers                                                           */

/**
 * Read a device's Microsoft OS descriptors synchronously (bu_usb_control,
 * one second per request; must not run from a completion callback) into
 * *info, and copy the compatible IDs onto the device's interfaces
 * (bu_msos_apply). A 4 KiB buffer comes from the platform allocator.
 * Returns 0 (also when the device has none: info->version == 0) or
 * BU_EINVAL / BU_ENOMEM / BU_ENODEV.
 */
int bu_msos_fetch(struct bu_usb_device *dev, struct bu_msos_info *info);

/**
 * Copy compatible IDs onto dev->ifaces: each interface gets the IDs of the
 * function covering it (a whole_device function covers every interface; a
 * function with first interface N covers N and the rest of N's IAD group).
 * Interfaces not covered are left alone.
 */
void bu_msos_apply(const struct bu_msos_info *info, struct bu_usb_device *dev);

#ifdef __cplusplus
}
#endif

#endif
