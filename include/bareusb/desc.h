/*
 * bareusb descriptor parsing: device, configuration, string and BOS
 * descriptors, plus a safe iterator for class drivers, and the SETUP
 * packet builder every request uses.
 *
 * Every byte handed to these functions is treated as hostile device input:
 * lengths, counts and indexes are checked before use, nothing is read past
 * the `len` bytes the caller says it received, and nothing is allocated.
 * Parsed results are views (pointer + length) into the caller's buffer, so
 * that buffer must outlive them.
 *
 * Functions that can reject input take an optional `const char **why`: on
 * failure it receives a static, human-readable reason suitable for the
 * `error` text of a usbdev line; configuration parsing also uses it on
 * success to report the first tolerated irregularity (or NULL).
 *
 * All functions are pure (no global state) and may be called from any
 * context, including completion callbacks.
 */
#ifndef BAREUSB_DESC_H
#define BAREUSB_DESC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bareusb/ch9.h"
#include "bareusb/compiler.h"
#include "bareusb/usb.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * Pack a SETUP packet (USB 2.0 §9.3) into setup[8], little-endian as on
 * the wire.
 */
void bu_usb_setup_pack(uint8_t setup[8], uint8_t bm_request_type, uint8_t b_request,
		       uint16_t w_value, uint16_t w_index, uint16_t w_length);

/**
 * Describe a SETUP packet by name into buf (NUL-terminated, truncated to
 * `size`): standard requests (USB 2.0 §9.4, USB 3.2 §9.4), hub requests
 * (class requests to a device or a port, USB 2.0 §11.24.2), HID and
 * Bulk-Only mass-storage requests; anything else by kind and numbers.
 * E.g. "GET_DESCRIPTOR(CONFIGURATION, 0, 9)", "SET_PORT_FEATURE(PORT_RESET, 3)",
 * "VENDOR_REQUEST(0x01, 0x0000, 0x0004, 16)". Returns what snprintf would.
 */
int bu_usb_setup_describe(const uint8_t setup[8], char *buf, size_t size);

/* ------------------------------------------------------------------------ */
/* Generic walking                                                          */

/**
 * Step to the next descriptor in buf[0..len). `*off` is the cursor: start
 * it at 0 (or at the first byte to walk). Returns a pointer to a descriptor
 * whose bLength (>= 2) lies wholly inside the buffer and advances `*off`
 * past it; returns NULL at the end or at the first malformed header
 * (bLength < 2 or running past `len`), after which it keeps returning NULL.
 * Suitable for class drivers walking bu_usb_alt_info.extra bytes.
 */
const uint8_t *bu_desc_next(const uint8_t *buf, size_t len, size_t *off);

/**
 * Like bu_desc_next, but skips descriptors until one of type `type` with
 * bLength >= `min_len` is found. Returns NULL when there is none left.
 */
const uint8_t *bu_desc_find(const uint8_t *buf, size_t len, size_t *off,
			    uint8_t type, uint8_t min_len);

/**
 * Validate the first bytes of a descriptor that carries a wTotalLength
 * (configuration: type 2, minimum 9; BOS: type 0x0f, minimum 5), as read by
 * a short first GET_DESCRIPTOR. Needs at least 4 bytes. Returns wTotalLength
 * (>= the minimum size) or BU_EBADDESC.
 */
int bu_desc_total_length(const uint8_t *buf, size_t len, uint8_t type,
			 const char **why);

/* ------------------------------------------------------------------------ */
/* Device descriptor                                                        */

/**
 * Validate a device descriptor (>= 18 bytes received, bLength >= 18, type
 * 1) and store it in host byte order in *out. Returns 0, BU_EINVAL for NULL
 * arguments, or BU_EBADDESC. When only bNumConfigurations is wrong (0), *out
 * is filled before BU_EBADDESC is returned, so the fields can be reported.
 */
int bu_desc_parse_device(const uint8_t *buf, size_t len,
			 struct usb_device_descriptor *out, const char **why);

/**
 * EP0's max packet size in bytes for a bMaxPacketSize0 value, or
 * BU_EBADDESC when the value is illegal at `speed` (USB 2.0 §5.5.3, USB 3.2
 * §9.6.1): low 8; full 8/16/32/64; high 64; SuperSpeed and above the field
 * is an exponent that must be 9 (512 bytes). With BU_SPEED_UNKNOWN any
 * USB 2 value is accepted, and 9 when bcd_usb >= 0x0300.
 */
int bu_desc_mps0(uint8_t b_max_packet_size0, uint16_t bcd_usb,
		 enum bu_usb_speed speed, const char **why);

/**
 * Check the answer to the first (8-byte or 64-byte) GET_DESCRIPTOR(DEVICE):
 * at least 8 bytes, type 1, bLength >= 18, then bu_desc_mps0(). Returns
 * EP0's max packet size in bytes or BU_EBADDESC.
 */
int bu_desc_device_mps0(const uint8_t *buf, size_t len, enum bu_usb_speed speed,
			const char **why);

/* ------------------------------------------------------------------------ */
/* Configuration bundle                                                     */

/**
 * First pass over a configuration bundle: upper bounds of the array sizes
 * bu_desc_parse_config() needs (interface descriptors of >= 9 bytes,
 * endpoint descriptors of >= 7 bytes, IADs of >= 8 bytes, within
 * min(wTotalLength, len)). Any output pointer may be NULL. Returns 0 or
 * BU_EBADDESC for a bad header (same checks as bu_desc_parse_config).
 */
int bu_desc_count_config(const uint8_t *buf, size_t len, uint16_t *nalts,
			 uint16_t *neps, uint16_t *niads, const char **why);

/**
 * Parse a configuration bundle into *cfg and the caller's arrays (at most
 * min(max_*, BU_USB_MAX_*) entries each; an array may be NULL when its max
 * is 0). cfg->alts/eps/iads point at those arrays, cfg->raw at buf, and
 * every `extra` at bytes inside buf, which must outlive cfg.
 *
 * Fatal (returns BU_EBADDESC, reason in *why): fewer than 9 bytes, type not
 * 2, bLength < 9, wTotalLength < 9, or the header longer than what can be
 * parsed. More alternate settings, endpoints or IADs than fit: BU_ERANGE.
 * Everything else is tolerated, counted in cfg->warnings and the first one
 * named in *why (USB 2.0 §9.5-9.6, USB 3.2 §9.6):
 *  - parsing stops at min(wTotalLength, len), or at a descriptor with
 *    bLength < 2 or running past the end;
 *  - interfaces shorter than 9 bytes and duplicate (number, alt) pairs are
 *    skipped with everything up to the next interface descriptor;
 *  - endpoints shorter than 7 bytes, with number 0 or reserved address bits,
 *    duplicates (within the alt setting, or of another interface), more
 *    than 30 in one alt setting, or wMaxPacketSize 0 on a non-isochronous
 *    endpoint are skipped with their class descriptors;
 *  - wMaxPacketSize is clamped to the speed's maximum and its mult bits
 *    cleared except for high-speed periodic endpoints (3 becomes 2);
 *    control and bulk sizes become legal ones (USB 2.0 §5.5.3, §5.8.3,
 *    USB 3.2 §9.6.6): full speed rounds down to 8/16/32/64 (at least 8),
 *    high speed control 64 and bulk 512, SuperSpeed control 512 and bulk
 *    1024, low speed 8;
 *  - a low-speed bulk endpoint (USB 2.0 §5.8.3: none allowed) becomes an
 *    interrupt endpoint with bInterval 1, as in Linux;
 *  - a SuperSpeed companion is used only right after its endpoint, an SSP
 *    isochronous companion only right after a companion that announces it,
 *    and only at SuperSpeedPlus (USB 3.2 §9.6.8); companion values are
 *    clamped (bMaxBurst <= 15, interrupt <= 2, control 0, Mult <= 2,
 *    streams <= 2^16, wBytesPerInterval <= what burst x mult x maxp allows,
 *    dwBytesPerInterval <= BU_DESC_MAX_ESIT, 0 ignored); a periodic
 *    endpoint's wBytesPerInterval 0 becomes burst x mult x maxp; without a
 *    companion at SuperSpeed, ss_bytes_per_interval defaults to the max
 *    packet size of periodic endpoints;
 *  - each endpoint's first change is named in its `fixed`;
 *  - IADs shorter than 8 bytes are skipped;
 *  - unknown descriptors become `extra` of the latest interface or endpoint
 *    (one contiguous span; it may contain skipped descriptors in between);
 *  - num_eps of an alt setting counts the endpoints actually stored (never
 *    more than 30), whatever bNumEndpoints says; num_interfaces counts the
 *    distinct interface numbers, whatever bNumInterfaces says.
 * cfg fields read before a fatal error stay filled.
 */
int bu_desc_parse_config(const uint8_t *buf, size_t len,
			 enum bu_usb_speed speed,
			 struct bu_usb_config_info *cfg,
			 struct bu_usb_alt_info *alts, size_t max_alts,
			 struct bu_usb_ep_info *eps, size_t max_eps,
			 struct bu_usb_iad_info *iads, size_t max_iads,
			 const char **why);

/** Find alternate setting (`number`, `alt`) in a parsed config, or NULL. */
const struct bu_usb_alt_info *
bu_desc_find_alt(const struct bu_usb_config_info *cfg, uint8_t number,
		 uint8_t alt);

/** The `i`-th endpoint of an alternate setting, bounds-checked, or NULL. */
const struct bu_usb_ep_info *
bu_desc_alt_ep(const struct bu_usb_config_info *cfg,
	       const struct bu_usb_alt_info *alt, unsigned i);

/** Largest Max ESIT Payload an xHCI endpoint context holds (24 bits, §6.2.3). */
#define BU_DESC_MAX_ESIT 0xffffffu

/** What an endpoint is opened with (the xHCI endpoint context's view). */
struct bu_desc_ep_params {
	uint8_t type;      /**< enum bu_usb_ep_type */
	uint16_t mps;      /**< max packet size in bytes, never 0 */
	uint8_t mult;      /**< SuperSpeed isochronous Mult (0..2), else 0 */
	uint8_t max_burst; /**< SS bMaxBurst, HS extra transactions, else 0 */
	uint32_t max_esit; /**< bytes per service interval: > 0 exactly for
			       periodic endpoints, at most BU_DESC_MAX_ESIT */
};

/**
 * How endpoint `ep` of a parsed configuration is opened at `speed`: max
 * packet size, burst, Mult and Max ESIT Payload (xHCI §6.2.3) from the
 * endpoint and its companions as the parser left them. Returns 0 with *out
 * filled, or leaves the endpoint unopened with the reason in *why:
 *  - BU_EBADDESC: the controller cannot take it: a control endpoint with
 *    an OUT address (xHCI §4.5.1 gives control endpoints the IN index
 *    only), an isochronous endpoint at low speed (USB 2.0 §5.6.3);
 *  - BU_ENOENT: an isochronous endpoint with wMaxPacketSize 0, legal in a
 *    zero-bandwidth alternate setting (USB 2.0 §5.6.3), has nothing to
 *    schedule;
 *  - BU_EINVAL: NULL arguments.
 * A periodic endpoint without a payload gets what burst x Mult x max packet
 * carry; SuperSpeed periodic endpoints use the SSP companion's
 * dwBytesPerInterval when the parser kept one, else wBytesPerInterval.
 */
int bu_desc_ep_params(const struct bu_usb_ep_info *ep, enum bu_usb_speed speed,
		      struct bu_desc_ep_params *out, const char **why);

/* ------------------------------------------------------------------------ */
/* String descriptors                                                       */

/**
 * Convert a string descriptor to NUL-terminated UTF-8 in out[size].
 * Checks type 3 and bLength >= 2; uses min(bLength, len) bytes rounded down
 * to even (a trailing half code unit is ignored). NUL and unpaired
 * surrogates become U+FFFD; output is truncated at a character boundary
 * when it does not fit. Returns the UTF-8 length, BU_EINVAL (NULL or
 * size 0) or BU_EBADDESC.
 */
int bu_desc_string_to_utf8(const uint8_t *buf, size_t len, char *out,
			   size_t size, const char **why);

/**
 * The first non-zero LANGID of string descriptor 0. Returns 0 with
 * *langid set, BU_ENOENT when the list is empty, or BU_EBADDESC.
 */
int bu_desc_first_langid(const uint8_t *buf, size_t len, uint16_t *langid,
			 const char **why);

/* ------------------------------------------------------------------------ */
/* BOS (USB 3.2 §9.6.2)                                                      */

#ifndef BU_BOS_MAX_CAPS
#define BU_BOS_MAX_CAPS 16 /**< device capabilities kept per BOS */
#endif
BU_STATIC_ASSERT(BU_BOS_MAX_CAPS >= 1 && BU_BOS_MAX_CAPS <= 255,
		 "BU_BOS_MAX_CAPS: num_caps is a uint8_t (1..255)");

/* bDevCapabilityType values (USB 3.2 Table 9-14) */
#define USB_CAP_USB2_EXT	0x02
#define USB_CAP_SUPERSPEED	0x03
#define USB_CAP_CONTAINER_ID	0x04
#define USB_CAP_PLATFORM	0x05
#define USB_CAP_SUPERSPEED_PLUS 0x0a
#define USB_CAP_PTM		0x0b

/** One device capability: a view of its whole descriptor. */
struct bu_bos_cap {
	uint8_t type;	     /**< bDevCapabilityType */
	uint8_t len;	     /**< bLength (>= 3, inside the BOS) */
	const uint8_t *data; /**< the descriptor, starting at bLength */
};

/** A parsed BOS descriptor. Views into the caller's buffer. */
struct bu_bos_info {
	uint16_t total_len; /**< bytes parsed (min(wTotalLength, received)) */
	uint8_t num_caps_declared; /**< bNumDeviceCaps as sent */
	uint8_t num_caps;	   /**< capabilities kept in caps[] */
	uint16_t warnings;	   /**< tolerated irregularities */
	struct bu_bos_cap caps[BU_BOS_MAX_CAPS];
	/* Decoded well-known capabilities (false/0 when absent). */
	bool has_usb2_ext;
	uint32_t usb2_ext_attributes; /**< bit 1 = LPM supported */
	bool has_ss;
	uint8_t ss_attributes;	 /**< bit 1 = LTM capable */
	uint16_t ss_speeds;	 /**< wSpeedsSupported */
	uint8_t ss_u1_exit_lat;	 /**< bU1DevExitLat, us */
	uint16_t ss_u2_exit_lat; /**< wU2DevExitLat, us */
	bool has_ssp;
	uint32_t ssp_attributes; /**< bits 4:0 SSAC, 8:5 SSIC */
	bool has_container_id;
	uint8_t container_id[16];
};

/**
 * Parse a BOS descriptor: header bLength >= 5, type 0x0f, wTotalLength >=
 * bLength; walks min(wTotalLength, len). Capabilities are kept (up to
 * BU_BOS_MAX_CAPS) unless shorter than the size their type requires (USB 2.0
 * extension 7, SuperSpeed 10, Container ID 20, Platform 20, SuperSpeedPlus
 * 12 + 4 x (SSAC + 1), PTM 3, others 3); entries of another descriptor type
 * are skipped; the walk stops at a malformed length. Returns 0 or
 * BU_EBADDESC (header problems only).
 */
int bu_desc_parse_bos(const uint8_t *buf, size_t len, struct bu_bos_info *out,
		      const char **why);

/**
 * The first Platform capability whose PlatformCapabilityUUID equals `uuid`
 * (16 bytes, as laid out on the wire), or NULL. For Microsoft OS 2.0 and
 * WebUSB. Capability data starts at cap->data + 20.
 */
const struct bu_bos_cap *bu_desc_bos_platform(const struct bu_bos_info *bos,
					      const uint8_t uuid[16]);

/* ------------------------------------------------------------------------ */
/* Reporting                                                                */

/**
 * One human-readable line for a device, e.g.
 * "3.2 full 0627:0001 QEMU USB Keyboard [configured]". Same return
 * convention as bu_usb_device_json (length needed, truncated output).
 */
size_t bu_usb_device_summary(const struct bu_usb_device *dev, char *buf,
			     size_t size);

/**
 * The device's line in the test image's device tree (no newline), indented
 * by tier and in columns, e.g.
 * "  9            high   0627:0001  QEMU USB Keyboard        slot 1   configured",
 * with " (step: error)" after a failure. Control characters in the product
 * string become '?'. Same return convention as bu_usb_device_json. For
 * people: scripts read the usbdev line instead.
 */
size_t bu_usb_device_tree_line(const struct bu_usb_device *dev, char *buf,
			       size_t size);

/** "control", "isochronous", "bulk" or "interrupt" for bmAttributes. */
const char *bu_usb_ep_type_name(uint8_t attributes);

#ifdef __cplusplus
}
#endif

#endif
