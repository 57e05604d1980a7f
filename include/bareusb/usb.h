/*
 * bareusb USB core API: buses, devices, endpoints, transfers, and the one
 * operations table between the core and a host-controller driver.
 *
 * Ownership: the embedder owns buses (created by a controller driver such as
 * bu_xhci_create). The core owns devices and their descriptors; they live
 * until the device is removed (unplug or bus destroy). Callers own their
 * transfers (struct bu_usb_xfer) and must keep them alive until the
 * completion callback ran.
 *
 * Everything here is single-threaded per bus: completion callbacks run from
 * bu_usb_bus_poll(), and may submit new transfers.
 */
#ifndef BAREUSB_USB_H
#define BAREUSB_USB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bareusb/ch9.h"
#include "bareusb/compiler.h"
#include "bareusb/errors.h"
#include "bareusb/platform.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------ */
/* Limits (build-time; a device exceeding one gets BU_EBADDESC / BU_ERANGE)  */
/* Each may be set with -D; the library and everything that includes these  */
/* headers must be built with the same values (structure sizes follow them). */

#ifndef BU_USB_MAX_CONFIGS
#define BU_USB_MAX_CONFIGS 8     /**< configurations kept per device */
#endif
BU_STATIC_ASSERT(BU_USB_MAX_CONFIGS >= 1 && BU_USB_MAX_CONFIGS <= 255,
		 "BU_USB_MAX_CONFIGS: dev->num_configs is a uint8_t (1..255)");
#ifndef BU_USB_MAX_ALTS
#define BU_USB_MAX_ALTS 128      /**< interface alt settings per config */
#endif
BU_STATIC_ASSERT(BU_USB_MAX_ALTS >= 1 && BU_USB_MAX_ALTS <= 65535,
		 "BU_USB_MAX_ALTS: counts are uint16_t (1..65535)");
#ifndef BU_USB_MAX_EPS
#define BU_USB_MAX_EPS 256       /**< endpoint descriptors per config */
#endif
BU_STATIC_ASSERT(BU_USB_MAX_EPS >= 1 && BU_USB_MAX_EPS <= 65535,
		 "BU_USB_MAX_EPS: counts are uint16_t (1..65535)");
#ifndef BU_USB_MAX_IADS
#define BU_USB_MAX_IADS 16       /**< interface associations per config */
#endif
BU_STATIC_ASSERT(BU_USB_MAX_IADS >= 1 && BU_USB_MAX_IADS <= 65535,
		 "BU_USB_MAX_IADS: counts are uint16_t (1..65535)");
#ifndef BU_USB_MAX_CONFIG_LEN
#define BU_USB_MAX_CONFIG_LEN 65535 /**< wTotalLength cap */
#endif
BU_STATIC_ASSERT(BU_USB_MAX_CONFIG_LEN >= 9 && BU_USB_MAX_CONFIG_LEN <= 65535,
		 "BU_USB_MAX_CONFIG_LEN: wTotalLength: 9..65535");
#ifndef BU_USB_MAX_HUB_TIER
#define BU_USB_MAX_HUB_TIER 5    /**< deepest hub: USB 2.0 §4.1.1 allows 5 external hubs in a chain (our tier 1 = a device on a root port); xHCI route strings hold 5 levels */
#endif
BU_STATIC_ASSERT(BU_USB_MAX_HUB_TIER >= 1 && BU_USB_MAX_HUB_TIER <= 5,
		 "BU_USB_MAX_HUB_TIER: xHCI route strings hold 5 hub tiers (1..5)");
#ifndef BU_USB_MAX_IFACES
#define BU_USB_MAX_IFACES 32     /**< interfaces bound per device */
#endif
BU_STATIC_ASSERT(BU_USB_MAX_IFACES >= 1 && BU_USB_MAX_IFACES <= 255,
		 "BU_USB_MAX_IFACES: dev->num_ifaces is a uint8_t (1..255)");
#ifndef BU_USB_MAX_DRIVERS
#define BU_USB_MAX_DRIVERS 16    /**< class drivers registered per bus */
#endif
BU_STATIC_ASSERT(BU_USB_MAX_DRIVERS >= 1, "BU_USB_MAX_DRIVERS: at least the hub driver (>= 1)");
#ifndef BU_USB_MAX_STRING
#define BU_USB_MAX_STRING 127    /**< UTF-16 code units kept per string */
#endif
BU_STATIC_ASSERT(BU_USB_MAX_STRING >= 1 && BU_USB_MAX_STRING <= 127,
		 "BU_USB_MAX_STRING: a string descriptor holds at most 126 code units (1..127)");

/**
 * USB 2.0 §9.2.6.4: a device completes a standard request within 5 s; the
 * core's requests (and the default for bu_usb_control) wait that long.
 */
#define BU_USB_REQUEST_TIMEOUT_MS 5000

/** Bus speeds, in PORTSC / slot-context order where they overlap. */
enum bu_usb_speed {
	BU_SPEED_UNKNOWN = 0,
	BU_SPEED_FULL = 1,
	BU_SPEED_LOW = 2,
	BU_SPEED_HIGH = 3,
	BU_SPEED_SUPER = 4,
	BU_SPEED_SUPER_PLUS = 5,
};

/** Name used in usbdev lines: "low", "full", "high", "super", "super+". */
const char *bu_usb_speed_name(enum bu_usb_speed speed);

struct bu_usb_bus;
struct bu_usb_device;
struct bu_bos_info;
struct bu_msos_info;
struct bu_usb_endpoint;
struct bu_usb_xfer;
struct bu_core_bus;

/* ------------------------------------------------------------------------ */
/* Parsed descriptors (views into a device's raw configuration bytes)       */

/** One endpoint descriptor (plus its SuperSpeed companions), validated. */
struct bu_usb_ep_info {
	uint8_t address;      /**< bEndpointAddress (bit 7 = IN) */
	uint8_t attributes;   /**< bmAttributes (bits 1:0 = transfer type) */
	uint16_t max_packet;  /**< wMaxPacketSize, sanitised by the parser (bits 12:11 = HS mult) */
	uint8_t interval;     /**< bInterval as sent */
	bool has_ss;          /**< a SuperSpeed companion followed it */
	uint8_t ss_max_burst; /**< companion bMaxBurst (0..15) */
	uint8_t ss_attributes; /**< companion bmAttributes */
	uint16_t ss_bytes_per_interval; /**< companion wBytesPerInterval */
	uint32_t ssp_bytes_per_interval; /**< SSP isoch companion, 0 if none */
	const char *fixed;     /**< the first value the parser changed, in words; NULL if none */
	const uint8_t *extra;  /**< class/vendor descriptors after it */
	uint16_t extra_len;
};

/** One interface alternate setting. */
struct bu_usb_alt_info {
	uint8_t number;     /**< bInterfaceNumber */
	uint8_t alt;        /**< bAlternateSetting */
	uint8_t class_code; /**< bInterfaceClass */
	uint8_t subclass;
	uint8_t protocol;
	uint8_t string;     /**< iInterface */
	uint8_t num_eps;    /**< endpoints actually present (<= 30) */
	uint16_t first_ep;  /**< index into bu_usb_config_info.eps */
	const uint8_t *extra; /**< class descriptors (e.g. HID 0x21) */
	uint16_t extra_len;
};

/** One interface association (IAD). */
struct bu_usb_iad_info {
	uint8_t first_interface;
	uint8_t count;
	uint8_t class_code;
	uint8_t subclass;
	uint8_t protocol;
	uint8_t string;
};

/** A parsed configuration. Arrays are owned by whoever filled them. */
struct bu_usb_config_info {
	uint8_t value;        /**< bConfigurationValue */
	uint8_t attributes;   /**< bmAttributes */
	uint8_t max_power;    /**< bMaxPower as sent (units depend on speed) */
	uint8_t string;       /**< iConfiguration */
	uint8_t num_interfaces_declared; /**< bNumInterfaces as sent */
	uint8_t num_interfaces; /**< distinct interface numbers seen */
	uint16_t total_len;   /**< bytes parsed (min(wTotalLength, received)) */
	uint16_t num_alts;
	uint16_t num_eps;
	uint16_t num_iads;
	uint16_t warnings;    /**< count of tolerated irregularities */
	struct bu_usb_alt_info *alts;
	struct bu_usb_ep_info *eps;
	struct bu_usb_iad_info *iads;
	const uint8_t *raw;   /**< the raw bytes parsed */
};

/* ------------------------------------------------------------------------ */
/* Transfers                                                                */

enum bu_usb_xfer_flags {
	BU_XFER_ZLP = 1 << 0,     /**< OUT: end with a zero-length packet if len % mps == 0 */
	BU_XFER_ISOCH_ASAP = 1 << 2, /**< isoch: schedule as soon as possible */
	/**
	 * isoch: run in frame `frame` (1 ms frames, bu_usb_frame_number's
	 * numbering; its low 11 bits are the TRB's Frame ID, xHCI §4.11.2.5).
	 * It must be 2..895 frames ahead, or the TD completes BU_EMISSED.
	 * Without this flag a TD is scheduled as soon as possible.
	 */
	BU_XFER_ISOCH_FRAME = 1 << 3,
	/**
	 * `buf` is dma_alloc memory whose bus address is in `dma`: the
	 * controller driver uses it as it is instead of calling dma_map
	 * (the core's own buffers: enumeration, hub, MS OS descriptors).
	 */
	BU_XFER_DMA = 1 << 4,
};

/** Completion callback; runs from poll. The xfer may be resubmitted. */
typedef void (*bu_usb_xfer_fn)(struct bu_usb_xfer *xfer);

/**
 * One transfer (a TD). Zeroed, then filled by the caller, and submitted
 * with bu_usb_xfer_submit(); the core and host-controller driver own it
 * until `complete` runs. It cannot be submitted again before that
 * (BU_EBUSY); from inside `complete` it can.
 */
struct bu_usb_xfer {
	struct bu_usb_endpoint *ep; /**< target endpoint */
	uint8_t setup[8];     /**< control only: the SETUP packet */
	void *buf;            /**< data buffer (DMA-mapped by the driver) */
	size_t len;           /**< bytes to move */
	uint64_t dma;         /**< with BU_XFER_DMA: the bus address of buf */
	unsigned flags;       /**< BU_XFER_* */
	uint32_t timeout_ms;  /**< 0 = none; on expiry cancelled with BU_ETIMEDOUT */
	uint32_t frame;       /**< isoch with BU_XFER_ISOCH_FRAME: the frame to run in */
	bu_usb_xfer_fn complete; /**< completion callback, required */
	void *ctx;            /**< caller's pointer */
	/* Results, valid in the callback. */
	int status;           /**< 0 or BU_E* */
	size_t actual;        /**< bytes actually moved */
	uint8_t cc;           /**< raw controller completion code, for logs */
	/** Private: the core's bookkeeping (core/bus.c, core/pm.c). */
	struct bu_usb_xfer_core {
		bool submitted;     /**< between a successful submit and the callback */
		bool timing_out;    /**< its deadline passed: the cancel is on its way */
		bool held_cancelled; /**< cancelled while held: completes at the resume */
		struct bu_usb_xfer *tnext;     /**< bus list of transfers with a deadline */
		struct bu_usb_xfer *held_next; /**< device list of held transfers */
		uint64_t deadline_us;
	} core;
	/** Private: the controller driver's per-transfer state, opaque to the core. */
	union {
		uint64_t u64[5];
		void *ptr[5];
	} hc;
};

/* ------------------------------------------------------------------------ */
/* Class drivers                                                            */

/** Which fields of a bu_usb_match must equal the device's. */
enum bu_usb_match_flags {
	BU_MATCH_VENDOR = 1 << 0,    /**< idVendor */
	BU_MATCH_PRODUCT = 1 << 1,   /**< idProduct */
	BU_MATCH_CLASS = 1 << 2,     /**< bInterfaceClass */
	BU_MATCH_SUBCLASS = 1 << 3,  /**< bInterfaceSubClass */
	BU_MATCH_PROTOCOL = 1 << 4,  /**< bInterfaceProtocol */
	BU_MATCH_INTERFACE = 1 << 5, /**< bInterfaceNumber */
	BU_MATCH_COMPAT_ID = 1 << 6, /**< Microsoft OS compatible ID */
	BU_MATCH_DEV_CLASS = 1 << 7, /**< bDeviceClass (with class_code) */
	BU_MATCH_PATH = 1 << 8,      /**< the device's port path (`path`), as usbdev lines print it */
};

/**
 * One match rule. A driver binds an interface when every field named in
 * `flags` matches. Among several matching rules the heaviest wins, ranked
 * as Windows ranks IDs: VID/PID (and a port path) beats a Microsoft OS
 * compatible ID, which beats class/subclass/protocol (core/driver.c has
 * the weights). The same rule finds devices (bu_usb_device_match,
 * bu_usb_find_device), where the interface fields match any alternate
 * setting of any interface of the active configuration.
 */
struct bu_usb_match {
	uint16_t flags;       /**< BU_MATCH_* */
	uint16_t vid, pid;
	uint8_t class_code, subclass, protocol;
	uint8_t interface;
	const char *compat_id; /**< e.g. "WINUSB" (MS OS descriptors) */
	const void *data;      /**< driver's own data for this rule */
	/**
	 * With BU_MATCH_PATH: the root port number, then each hub port on the
	 * way down, dot-separated decimal ("3" or "3.2"), exactly as the
	 * usbdev lines print it; a malformed path matches nothing.
	 */
	const char *path;
};

struct bu_usb_driver;

/** An interface of the active configuration, as class drivers see it. */
struct bu_usb_interface {
	struct bu_usb_device *dev;
	uint8_t number;       /**< bInterfaceNumber */
	uint8_t alt;          /**< current alternate setting */
	uint8_t func_first;   /**< first interface of its IAD function (or itself) */
	uint8_t func_count;   /**< interfaces in that function (1 without IAD) */
	const struct bu_usb_alt_info *info; /**< current alternate setting */
	const struct bu_usb_driver *driver; /**< bound driver or NULL */
	bool primary;         /**< the driver was probed with this interface */
	void *driver_data;    /**< the driver's per-interface state */
	/**
	 * Who holds the interface: its bound driver (the same pointer as
	 * `driver`; a bind is a claim), an application's token given to
	 * bu_usb_claim_interface, or NULL when it is free.
	 */
	const void *owner;
	char compat_id[9];    /**< MS OS compatible ID, "" when none */
	char subcompat_id[9];
};

/**
 * A class driver: a const struct registered on a bus. probe() runs from
 * poll once the device is configured; return 0 to bind, BU_ENOTSUP to
 * decline, another error to report a failed bind. remove() runs when the
 * device goes away, after its transfers completed with BU_ENODEV. poll()
 * (optional) runs on every bus poll for each bound primary interface;
 * next_timeout() (optional) tells by when it needs its next poll (a time
 * on the platform clock, `now_us` for at once, BU_USB_NO_TIMEOUT for
 * none; under the lock, it must not change anything). A driver with poll
 * and without next_timeout is polled every BU_USB_DRIVER_POLL_US.
 */
struct bu_usb_driver {
	const char *name;
	const struct bu_usb_match *match;
	unsigned num_match;
	int (*probe)(struct bu_usb_interface *intf, const struct bu_usb_match *m);
	void (*remove)(struct bu_usb_interface *intf);
	void (*poll)(struct bu_usb_interface *intf, uint64_t now_us);
	uint64_t (*next_timeout)(struct bu_usb_interface *intf, uint64_t now_us);
};

/** bu_usb_bus_next_timeout() and the next_timeout hooks: no deadline at all. */
#define BU_USB_NO_TIMEOUT UINT64_MAX
/** How often a class driver with poll() but no next_timeout() is polled. */
#define BU_USB_DRIVER_POLL_US 10000u

/* ------------------------------------------------------------------------ */
/* Endpoints, devices, buses                                                */

/** Endpoint types, as in bmAttributes bits 1:0. */
enum bu_usb_ep_type {
	BU_EP_CONTROL = 0,
	BU_EP_ISOCH = 1,
	BU_EP_BULK = 2,
	BU_EP_INTERRUPT = 3,
};

/** An open endpoint of a configured device. */
struct bu_usb_endpoint {
	struct bu_usb_device *dev;
	uint8_t address;     /**< 0x00 for EP0, else bEndpointAddress */
	uint8_t type;        /**< enum bu_usb_ep_type */
	uint16_t mps;        /**< max packet size in bytes (bits 10:0) */
	uint8_t mult;        /**< HS high-bandwidth extra transactions (0..2) or SS isoch Mult */
	uint8_t max_burst;   /**< SS bMaxBurst */
	uint8_t interval;    /**< bInterval as described */
	uint32_t max_esit;   /**< max bytes per service interval (periodic) */
	bool halted;         /**< set on STALL/babble/error until recovered */
	void *hc_priv;       /**< controller driver's endpoint state */
};

/** Enumeration state of a device. */
enum bu_usb_dev_state {
	BU_DEV_NEW = 0,
	BU_DEV_ENUMERATING,
	BU_DEV_CONFIGURED,
	BU_DEV_FAILED,
	BU_DEV_GONE,
};

#define BU_USB_MAX_PATH 8

/**
 * The steps of a device's attach and enumeration, as its timeline
 * (bu_usb_device.steps) records them: its port's debounce, wait for the
 * default-address lock, reset and reset recovery (core/port.c), then the
 * enumeration's steps (core/enum.c), then the class drivers' probe
 * (core/driver.c). bu_usb_step_name() gives the names the test image
 * prints.
 */
enum bu_usb_step {
	BU_STEP_DEBOUNCE = 0,  /**< USB 2.0 §7.1.7.3 TATTDB */
	BU_STEP_LOCK_WAIT,     /**< another device of the root port tree was at address 0 */
	BU_STEP_RESET,         /**< port reset until the port is enabled */
	BU_STEP_RESET_RECOVERY, /**< USB 2.0 §7.1.7.5 TRSTRCY */
	BU_STEP_ENABLE_SLOT,
	BU_STEP_ADDRESS,       /**< Address Device / SET_ADDRESS */
	BU_STEP_ADDRESS_RECOVERY, /**< USB 2.0 §9.2.6.3 SET_ADDRESS recovery */
	BU_STEP_DEVICE_DESC8,  /**< GET_DESCRIPTOR(DEVICE) for 8 bytes */
	BU_STEP_EP0_UPDATE,    /**< Evaluate Context with EP0's max packet size */
	BU_STEP_DEVICE_DESC,   /**< GET_DESCRIPTOR(DEVICE) for 18 bytes */
	BU_STEP_CONFIG_HEADER, /**< GET_DESCRIPTOR(CONFIGURATION) for 9 bytes */
	BU_STEP_CONFIG_DESC,   /**< GET_DESCRIPTOR(CONFIGURATION) for wTotalLength */
	BU_STEP_BOS_HEADER,
	BU_STEP_BOS_DESC,
	BU_STEP_LANGIDS,       /**< string descriptor 0 */
	BU_STEP_STRINGS,       /**< manufacturer, product, serial */
	BU_STEP_CONFIGURE_EP,  /**< Configure Endpoint */
	BU_STEP_SET_CONFIG,    /**< SET_CONFIGURATION */
	BU_STEP_MSOS,          /**< Microsoft OS descriptors */
	BU_STEP_PROBE,         /**< class drivers' probe */
	BU_STEP_COUNT
};

/** Short stable name of a step ("debounce", "reset", "set_configuration", ...); "?" if unknown. */
const char *bu_usb_step_name(unsigned step);

/** One step of a device's timeline. */
struct bu_usb_step_time {
	uint64_t start_us; /**< platform clock when the step began */
	uint32_t us;       /**< how long it took (0 while it runs) */
	uint8_t step;      /**< enum bu_usb_step */
};

#ifndef BU_USB_MAX_STEPS
#define BU_USB_MAX_STEPS 40 /**< timeline steps kept per device; later ones fold into the last (steps_truncated) */
#endif
BU_STATIC_ASSERT(BU_USB_MAX_STEPS >= 1 && BU_USB_MAX_STEPS <= 255,
		 "BU_USB_MAX_STEPS: dev->num_steps is a uint8_t (1..255)");

/** A device on the bus. Created and freed by the core. */
struct bu_usb_device {
	struct bu_usb_bus *bus;
	struct bu_usb_device *parent;  /**< hub above it, NULL on a root port */
	struct bu_usb_device *next;    /**< bus device list */
	uint8_t root_port;   /**< 1-based root port number */
	uint8_t port;        /**< port on the parent (root port when parent NULL) */
	uint8_t tier;        /**< 1 on a root port */
	uint8_t path[BU_USB_MAX_PATH]; /**< root port, then hub ports */
	uint32_t route;      /**< xHCI route string: 4 bits per hub tier */
	/**
	 * A low/full-speed device behind a high-speed hub: that hub (the
	 * nearest above it), whose transaction translator serves it (USB 2.0
	 * §11.14), and the hub's port leading down to it; NULL and 0 for any
	 * other device. Set by the core when the device is created.
	 */
	struct bu_usb_device *tt_hub;
	uint8_t tt_port;
	uint8_t address;     /**< USB address (set by dev_address), 0 before */
	enum bu_usb_speed speed;
	uint8_t slot;        /**< controller's slot id (0 before addressing) */
	enum bu_usb_dev_state state;
	int error;           /**< BU_E* that stopped enumeration, or 0 */
	const char *error_step; /**< static name of the failing step */

	struct usb_device_descriptor desc; /**< device descriptor (host order) */
	bool have_desc;      /**< desc was read in full */
	char manufacturer[3 * BU_USB_MAX_STRING + 1]; /**< UTF-8 */
	char product[3 * BU_USB_MAX_STRING + 1];
	char serial[3 * BU_USB_MAX_STRING + 1];
	bool have_manufacturer, have_product, have_serial;
	uint16_t langid;     /**< first language, 0 = no strings */

	uint8_t num_configs; /**< configurations read (<= BU_USB_MAX_CONFIGS) */
	struct bu_usb_config_info configs[BU_USB_MAX_CONFIGS];
	uint8_t *config_raw[BU_USB_MAX_CONFIGS]; /**< core-owned raw bytes */
	uint16_t config_raw_len[BU_USB_MAX_CONFIGS]; /**< allocated sizes */
	uint16_t config_alloc[BU_USB_MAX_CONFIGS][3]; /**< alts/eps/iads allocated */
	uint8_t config_value; /**< active bConfigurationValue, 0 = none */
	struct bu_bos_info *bos; /**< parsed BOS (views into bos_raw), or NULL */
	struct bu_msos_info *msos; /**< Microsoft OS descriptors found, or NULL */
	uint8_t *bos_raw;
	uint16_t bos_raw_len;
	int active_config;    /**< index into configs, -1 = none */

	/* Hub facts the controller needs (set by the hub driver). */
	bool is_hub;
	uint8_t hub_nports;
	uint8_t hub_tt_think; /**< TT think time code 0..3 */
	bool hub_mtt;

	struct bu_usb_endpoint ep0;
	struct bu_usb_endpoint *eps[32]; /**< open endpoints by (num*2 + IN) */
	struct bu_usb_endpoint ep_store[30];

	uint64_t t_start_us; /**< when enumeration began (for benches) */
	uint64_t t_done_us;  /**< when it was configured (drivers probed) or failed */
	/**
	 * Enumeration timeline, filled by the core: its steps in order, each
	 * starting where the one before ended, the last ending at t_done_us,
	 * so their durations add up to t_done_us - steps[0].start_us. Time
	 * between two polls, and time a step waited for the controller (a
	 * full command ring, another command), belong to the step that was
	 * running. A step entered again at once (strings, MS OS descriptors)
	 * stays one entry. A device on a USB 3 root port has no debounce or
	 * reset: link training did both before the port was seen enabled.
	 */
	struct bu_usb_step_time steps[BU_USB_MAX_STEPS];
	uint8_t num_steps;
	bool steps_open;      /**< the last step still runs (enumerating) */
	bool steps_truncated; /**< more steps than fit: the last took the rest */

	/* Interfaces of the active configuration and their drivers. */
	uint8_t num_ifaces;
	struct bu_usb_interface ifaces[BU_USB_MAX_IFACES];

	void *hc_priv;       /**< controller driver's device state */
};

/* ------------------------------------------------------------------------ */
/* Host-controller operations: the whole boundary between core and driver  */

/**
 * Completion for asynchronous device/endpoint operations. `ctx` is the
 * pointer given with the operation, so a caller (a class driver with a
 * state object per interface, say) gets its own object back rather than
 * looking it up from the device.
 */
typedef void (*bu_usb_done_fn)(struct bu_usb_device *dev, void *ctx, int status);

/** Link states a root port can be asked for (xHCI PORTSC PLS values). */
enum bu_usb_link {
	BU_LINK_U0 = 0,      /**< active */
	BU_LINK_U3 = 3,      /**< suspended */
	BU_LINK_INACTIVE = 6, /**< USB 3 SS.Inactive: reported only, a warm reset recovers it */
	BU_LINK_RESUME = 15, /**< USB 2: drive resume signalling */
};

/** What woke a bus from system sleep (bu_usb_bus_wake_source). */
enum bu_usb_wake_kind {
	BU_WAKE_NONE = 0,        /**< nothing (yet), or the embedder resumed the bus itself */
	BU_WAKE_REMOTE = 1,      /**< a device's remote wakeup (USB 2.0 §7.1.7.7; a root port U3 -> Resume) */
	BU_WAKE_CONNECT = 2,     /**< a connect on a root port with PORTSC.WCE (xHCI 1.2 §5.4.8) */
	BU_WAKE_DISCONNECT = 3,  /**< a disconnect on a root port with PORTSC.WDE */
	BU_WAKE_OVERCURRENT = 4, /**< an over-current on a root port with PORTSC.WOE */
};

/** Root-port state as the core sees it. */
struct bu_usb_port_status {
	bool connected;
	bool connect_changed;  /**< the connection changed since last read (CSC) */
	bool enabled;
	bool enable_changed;   /**< the hub disabled the port on its own (USB 2 C_PORT_ENABLE) */
	bool resetting;
	bool overcurrent;
	bool changed;          /**< any change bit was set (and is now cleared) */
	bool usb3;             /**< port speaks USB 3 (no debounce/reset needed) */
	uint8_t link;          /**< link state, PORTSC PLS numbering (BU_LINK_*) */
	enum bu_usb_speed speed;
};

/**
 * Implemented by a controller driver (hcd/). Asynchronous operations return
 * 0 when started (then `done` runs later from poll, exactly once) or a
 * negative error when they could not start (then `done` never runs).
 */
struct bu_usb_hc_ops {
	/* bus */
	/**
	 * Process controller events (a bounded number per call); run
	 * completions. Returns 0, 1 when it stopped with events left (call
	 * again), or BU_ESHUTDOWN once failed.
	 */
	int (*poll)(struct bu_usb_bus *bus);
	/**
	 * Optional: by when poll must run again for the driver's own sake
	 * (command timeouts, events already on the ring, periodic checks;
	 * without interrupts, any work the controller owes an event for),
	 * on the platform clock; BU_USB_NO_TIMEOUT when nothing is due. NULL
	 * means "at once": the bus is then never idle.
	 */
	uint64_t (*next_timeout)(struct bu_usb_bus *bus);
	/**
	 * Halt the controller, then complete every transfer still queued and
	 * run the `done` of every dev_disable in flight (from here), then
	 * free everything the driver allocated, the bus with it.
	 */
	void (*destroy)(struct bu_usb_bus *bus);

	/* root ports */
	/** Read (and acknowledge the change bits of) root port `port` (1-based). */
	int (*port_status)(struct bu_usb_bus *bus, unsigned port,
			   struct bu_usb_port_status *st);
	/** Start a port reset (warm for USB 3 when asked); poll port_status for the end. */
	int (*port_reset)(struct bu_usb_bus *bus, unsigned port, bool warm);
	/** Ask an enabled root port for a link state (suspend, resume). */
	int (*port_set_link)(struct bu_usb_bus *bus, unsigned port, enum bu_usb_link link);
	/**
	 * Optional: turn a root port's power back on (after an over-current
	 * switched it off). 0 when power was switched on (the caller then
	 * waits the settle time); BU_ENOTSUP when the port has no power switch
	 * or is already powered; BU_EBUSY while over-current is still active.
	 */
	int (*port_power)(struct bu_usb_bus *bus, unsigned port);

	/* device */
	/** Allocate a slot and its contexts for `dev` (speed, route, parent set). */
	int (*dev_enable)(struct bu_usb_device *dev, bu_usb_done_fn done, void *ctx);
	/** Give the device its address (xHCI Address Device); dev->address holds it after success. */
	int (*dev_address)(struct bu_usb_device *dev, bu_usb_done_fn done, void *ctx);
	/** Tell the controller EP0's new max packet size (dev->ep0.mps). */
	int (*dev_update_ep0)(struct bu_usb_device *dev, bu_usb_done_fn done, void *ctx);
	/**
	 * Configure Endpoint: the endpoints listed in `drop_mask` (by index,
	 * num * 2 + IN) are dropped, those in `add_mask` (now in dev->eps[])
	 * added with fresh state; an index in both is reset. The slot's hub
	 * facts are updated too. A dropped endpoint's hc_priv is the
	 * driver's to clear.
	 */
	int (*dev_configure)(struct bu_usb_device *dev, uint32_t add_mask, uint32_t drop_mask,
			     bu_usb_done_fn done, void *ctx);
	/**
	 * Release the slot and all its state. The device's queued transfers
	 * complete (BU_ENODEV) only once the controller no longer touches
	 * them, then `done` (required) runs, from poll or destroy, never
	 * from inside this call; the core's device must live until then.
	 * Non-zero: `done` will not run, all transfers having completed
	 * before the return (a failed controller).
	 */
	int (*dev_disable)(struct bu_usb_device *dev, bu_usb_done_fn done, void *ctx);

	/* endpoint */
	/** Queue a transfer; completion through xfer->complete from poll. */
	int (*xfer_submit)(struct bu_usb_xfer *xfer);
	/** Cancel a queued transfer; it completes with `status` (from poll). */
	int (*xfer_cancel)(struct bu_usb_xfer *xfer, int status);
	/** Cancel every queued transfer; each completes with `status`. Returns the count. */
	int (*ep_abort)(struct bu_usb_endpoint *ep, int status);
	/**
	 * Stop the endpoint with its transfers still queued (before a
	 * suspend, while a hub clears a TT buffer); `done` runs once it has
	 * stopped, unless NULL. Transfers submitted meanwhile wait. While a
	 * recovery or cancel runs the endpoint is not running: with `done`
	 * NULL it is held as it stops (0), with a `done` BU_EBUSY.
	 */
	int (*ep_pause)(struct bu_usb_endpoint *ep, bu_usb_done_fn done, void *ctx);
	/** Let a paused endpoint run its queued transfers again. */
	void (*ep_unpause)(struct bu_usb_endpoint *ep);
	/** Number of transfers queued on the endpoint. */
	unsigned (*ep_queued)(struct bu_usb_endpoint *ep);
	/** The controller's 11-bit frame counter (1 ms frames). */
	uint32_t (*frame_number)(struct bu_usb_bus *bus);

	/* bus: system sleep (optional; all NULL: bu_usb_bus_suspend is BU_ENOTSUP) */
	/**
	 * Stop the controller for system sleep (every device already
	 * suspended, no command pending): set the root ports' wake enables
	 * from `wake` (BU_SLEEP_WAKE_*), halt it, save its state and the
	 * registers software restores. Bounded. 0, or BU_EBUSY (work still
	 * pending: poll and try again), BU_ETIMEDOUT (it did not halt), a
	 * failed save is not an error: bus_resume then reports the state lost.
	 */
	int (*bus_suspend)(struct bu_usb_bus *bus, unsigned wake);
	/**
	 * After system sleep: restore the saved registers and state and run
	 * the controller again. 0: restored and running; 1: the state is lost
	 * (the save or the restore failed, or power went away); the controller
	 * stays halted, every device's dev_disable then completes at once, and
	 * bus_reinit must follow. BU_ENODEV when the controller is gone.
	 */
	int (*bus_resume)(struct bu_usb_bus *bus);
	/**
	 * After bus_resume said 1 and every device was removed: reset the
	 * controller and set it up from scratch as at creation, then run it.
	 */
	int (*bus_reinit)(struct bu_usb_bus *bus);
	/**
	 * While suspended (after bus_suspend): whether a root port signals a
	 * wake (a remote wakeup, or a connect, disconnect or over-current its
	 * wake enables allow); its port number, or 0. Registers only.
	 */
	unsigned (*bus_wake_check)(struct bu_usb_bus *bus, enum bu_usb_wake_kind *kind);
};

/** Per-bus counters a bench or test may read. */
struct bu_usb_bus_stats {
	uint64_t t_start_us;      /**< bus start (controller running) */
	uint64_t t_settled_us;    /**< last enumeration finished */
	unsigned devices_configured;
	unsigned devices_failed;
};

/**
 * Event callbacks for the embedder; any may be NULL. device_added and
 * device_removed work as one more hot-plug listener, told before those
 * added with bu_usb_add_listener.
 */
struct bu_usb_bus_events {
	void *ctx;
	/** A device finished enumeration (configured, or failed with dev->error). */
	void (*device_added)(void *ctx, struct bu_usb_device *dev);
	/**
	 * A device is going away. Then its queued transfers complete with
	 * BU_ENODEV, its class drivers' remove() runs, and it is freed.
	 */
	void (*device_removed)(void *ctx, struct bu_usb_device *dev);
	/**
	 * Choose the configuration (index into dev->configs) to set during
	 * enumeration; NULL or an out-of-range answer means the first.
	 */
	int (*choose_config)(void *ctx, const struct bu_usb_device *dev);
	/**
	 * A device's link was suspended (`suspended`) or is back in use after
	 * a resume; `by_device` when its remote wakeup caused the resume
	 * (a USB 3 device's woken function: bu_usb_device_wake_interface).
	 * Runs from bu_usb_bus_poll or bu_usb_device_suspend, under the bus
	 * lock: it may submit transfers but must not wait for them.
	 */
	void (*power_changed)(void *ctx, struct bu_usb_device *dev, bool suspended,
			      bool by_device);
	/**
	 * bu_usb_bus_resume's verdict on each device that was on the bus when
	 * it went to sleep, told once per device from inside that call (under
	 * the bus lock; it may submit transfers but must not wait): `how` is
	 * enum bu_usb_resume_kind. With BU_RESUME_REVALIDATED `dev` stays;
	 * with the others its device_removed follows (and, for
	 * BU_RESUME_REENUMERATED, a device_added for whatever enumerates on
	 * its port).
	 */
	void (*device_resumed)(void *ctx, struct bu_usb_device *dev, int how);
};

/** What a monitor is told of a transfer (usbmon's event types). */
enum bu_usb_mon_event {
	BU_MON_SUBMIT = 'S',   /**< handed to the controller driver */
	BU_MON_COMPLETE = 'C', /**< given back, just before its callback */
	BU_MON_ERROR = 'E',    /**< the controller driver refused it */
};

/**
 * A transfer monitor, like Linux's usbmon: told of every transfer the
 * controller driver takes, refuses or gives back, enumeration and hub
 * traffic included. Runs under the bus lock, from the submitting call or
 * from poll; it may read the transfer (bu_usbmon_record) but not change it.
 */
struct bu_usb_monitor {
	void *ctx;
	void (*urb)(void *ctx, const struct bu_usb_xfer *xfer, enum bu_usb_mon_event ev,
		    int status);
};

/**
 * A hot-plug listener: owned by the embedder (no allocation), put on a bus
 * with bu_usb_add_listener and kept valid until bu_usb_remove_listener or
 * the bus's destroy returned. Zero it, then fill the callbacks and ctx.
 * Both callbacks run from bu_usb_bus_poll (and from bu_usb_bus_destroy,
 * for the devices it removes), in the order the listeners were added.
 */
struct bu_usb_listener {
	/**
	 * A device finished enumeration: configured, or failed (dev->error
	 * says why). May be NULL.
	 */
	void (*device_added)(void *ctx, struct bu_usb_device *dev);
	/**
	 * A device told as added is going away: its pointer stays valid until
	 * this returns, and must not be used after. Its queued transfers then
	 * complete with BU_ENODEV, its class drivers' remove() runs and it is
	 * freed. May be NULL.
	 */
	void (*device_removed)(void *ctx, struct bu_usb_device *dev);
	void *ctx;            /**< passed back to the callbacks */
	/** Private: the next listener on the bus (core/bus.c). */
	struct bu_usb_listener *next;
	/** Private: the bus it is on, NULL while on none. */
	struct bu_usb_bus *bus;
};

/** A USB bus (one per controller). Created by the controller driver. */
struct bu_usb_bus {
	const struct bu_usb_hc_ops *ops;
	const struct bu_platform *plat;
	void *hc_priv;        /**< controller driver's state */
	unsigned index;       /**< embedder's bus number (usbdev "bus") */
	unsigned num_ports;   /**< root ports */
	struct bu_usb_device *devices; /**< every device, newest first */
	struct bu_usb_bus_events events;
	struct bu_usb_bus_stats stats;
	unsigned enumerating; /**< devices in enumeration or ports in debounce */
	const struct bu_usb_driver *drivers[BU_USB_MAX_DRIVERS]; /**< class drivers */
	unsigned num_drivers;
	struct bu_core_bus *core; /**< core private (core_priv.h): ports, timeouts, locks */
	bool failed;
	bool no_msos;         /**< embedder: do not read Microsoft OS descriptors */
	bool trace_steps;     /**< log enumeration steps at BU_LOG_TRACE (the trace's enum category) */
	struct bu_usb_monitor monitor; /**< embedder: transfer monitor, or urb NULL */
	/**
	 * The controller driver: the highest bus address its controller
	 * reaches, passed to dma_alloc and dma_map (include/bareusb/platform.h).
	 */
	uint64_t dma_mask;
};

/**
 * A buffer from the platform's dma_alloc for transfers (BU_XFER_DMA):
 * whole BU_DMA_ALIGN cache lines, so it shares none with other data.
 */
struct bu_usb_dma_buf {
	void *cpu;     /**< CPU pointer, NULL when not allocated */
	uint64_t bus;  /**< bus address */
	size_t size;   /**< bytes allocated (a multiple of BU_DMA_ALIGN) */
};

/**
 * Allocate a DMA buffer of at least `len` bytes for transfers on `bus`
 * (zeroed, below the bus's DMA mask). 0 or BU_ENOMEM.
 */
int bu_usb_dma_buf_alloc(struct bu_usb_bus *bus, struct bu_usb_dma_buf *b, size_t len);
/** Free a DMA buffer (one never allocated, or already freed, is fine). */
void bu_usb_dma_buf_free(struct bu_usb_bus *bus, struct bu_usb_dma_buf *b);
/**
 * Point a transfer at a DMA buffer: its first `len` bytes (BU_XFER_DMA,
 * no dma_map). `len` must not exceed b->size.
 */
void bu_usb_xfer_set_dma(struct bu_usb_xfer *xfer, const struct bu_usb_dma_buf *b, size_t len);

/* ------------------------------------------------------------------------ */
/* Core entry points                                                        */

/** Bytes of a usbmon record's header (the mmap layout, 64 bytes). */
#define BU_USBMON_HDR_LEN 64

/**
 * Write the usbmon record of `ev` for `xfer` into buf: the 64-byte header
 * of Linux's binary usbmon layout (pcap link type 220,
 * LINKTYPE_USB_LINUX_MMAPPED), little-endian, then the data usbmon
 * captures (an OUT transfer's at submission, an IN transfer's at
 * completion), cut to what fits in `size`. `status` is the transfer's
 * (BU_E*, shown as the Linux errno a URB would carry); `t_us` the
 * timestamp. Returns the bytes written, 0 when buf cannot hold a header.
 * The record's bus number is the bus index + 1.
 */
size_t bu_usbmon_record(const struct bu_usb_xfer *xfer, enum bu_usb_mon_event ev, int status,
			uint64_t t_us, uint8_t *buf, size_t size);

/** Called by a controller driver once its bus is running: scan root ports. */
int bu_usb_bus_start(struct bu_usb_bus *bus);
/**
 * Called by a controller driver when a root port reports a change (from
 * its poll): the next bu_usb_bus_poll reads the port's status, and the one
 * running now does so after the controller's events.
 */
void bu_usb_bus_port_changed(struct bu_usb_bus *bus, unsigned port);
/**
 * Called by a controller driver (from its poll, under the bus lock) with a
 * USB 3 device's Function Wake Device Notification (USB 3.2 §8.5.6.1):
 * `iface`, the interface it names, woke the device. A device still
 * suspended is resumed; one already leaving U3 has its wake reported with
 * that interface (bu_usb_device_wake_interface). A notification from a
 * device not armed for remote wake, or naming an interface its
 * configuration lacks, is logged and ignored.
 */
void bu_usb_bus_function_wake(struct bu_usb_bus *bus, struct bu_usb_device *dev, unsigned iface);
/** Called by a controller driver when a device's slot disappeared. */
void bu_usb_device_gone(struct bu_usb_device *dev);

/**
 * Register a class driver on the bus (the hub driver is always there).
 * Devices already configured are offered to it. Returns BU_ENOSPC when full.
 */
int bu_usb_bus_register_driver(struct bu_usb_bus *bus,
			       const struct bu_usb_driver *drv);
/**
 * Unregister a driver; interfaces bound to it are removed from it first.
 * Devices being removed that it is bound to are waited for (polling the
 * bus, bounded), so that its remove() still runs with nothing in flight:
 * not to be called from a completion callback.
 */
void bu_usb_bus_unregister_driver(struct bu_usb_bus *bus,
				  const struct bu_usb_driver *drv);

/**
 * Do pending work: controller events, enumeration steps, timeouts. Each
 * call handles a bounded number of controller events. Returns 0; 1 when
 * events were left for the next call (poll again soon, without waiting for
 * an interrupt: the controller need not raise one for them); BU_ESHUTDOWN
 * once the controller has failed.
 */
int bu_usb_bus_poll(struct bu_usb_bus *bus);
/** True when no enumeration is in progress and no port change is pending. */
bool bu_usb_bus_idle(const struct bu_usb_bus *bus);
/**
 * By when bu_usb_bus_poll() must run next, on the platform clock (now_us),
 * for the bus's own timers: port debounce and reset, enumeration steps,
 * request and command timeouts, resume timing, hub and class driver
 * timers, events left on the controller's ring. A time at or before now
 * means "poll at once". BU_USB_NO_TIMEOUT: nothing is due; the bus needs
 * poll only when its interrupt fires (or a call is made). An embedder
 * sleeps until the earlier of this and its interrupt, then polls; a poll
 * too early or too often is always harmless. Takes the lock.
 */
uint64_t bu_usb_bus_next_timeout(struct bu_usb_bus *bus);
/**
 * Take / release the bus's lock (the platform's lock and unlock; nothing
 * without them), for class drivers' own entry points. Recursive; what is
 * held is let go around the wait hook of bu_usb_bus_wait.
 */
void bu_usb_bus_lock(struct bu_usb_bus *bus);
void bu_usb_bus_unlock(struct bu_usb_bus *bus);
/** Run statement `stmt` under the lock of `bus` (a public entry point's body). */
#define BU_UNDER_LOCK(bus, stmt)                                                           \
	do {                                                                               \
		struct bu_usb_bus *bu_locked_ = (bus);                                     \
		bu_usb_bus_lock(bu_locked_);                                               \
		stmt;                                                                      \
		bu_usb_bus_unlock(bu_locked_);                                             \
	} while (0)
/**
 * Deferred work: a callback bu_usb_bus_poll runs after the controller's
 * events, timers and class drivers' poll, at the poll's own depth rather
 * than under an event handler. A completion callback that wants to
 * submit more (a class driver refilling its queue) queues its work
 * instead of submitting from inside the completion, so the stack a
 * completion runs on stays shallow. Owned by the caller, zeroed, `fn`
 * set; it must stay valid while queued (bu_usb_work_cancel before freeing
 * it).
 */
struct bu_usb_work {
	/** Runs once per queueing, from bu_usb_bus_poll under the bus lock; may queue work (for the next poll). */
	void (*fn)(struct bu_usb_work *w);
	struct bu_usb_work *next; /**< Private: the bus's list */
	bool queued;              /**< Private: on a list, not yet run */
};
/**
 * Queue `w` on `bus`: it runs once, from the next bu_usb_bus_poll (the one
 * running now when queued before its work ran: its events' completions
 * queue work the same poll runs), or from bu_usb_bus_destroy before the
 * controller goes. Queued again before it ran, it still runs once. While
 * work is queued bu_usb_bus_next_timeout says "at once". Callable from
 * callbacks.
 */
void bu_usb_work_queue(struct bu_usb_bus *bus, struct bu_usb_work *w);
/** Take `w` off the bus's queue: it does not run (nothing when it is not queued). Callable from callbacks. */
void bu_usb_work_cancel(struct bu_usb_bus *bus, struct bu_usb_work *w);

/**
 * The one wait loop of the synchronous API: poll the bus until
 * done(arg) is true (returns 0), `deadline_us` passes (BU_ETIMEDOUT) or
 * the controller fails (BU_ESHUTDOWN). Between polls it sleeps through
 * the platform's wait hook, until the earlier of the deadline and
 * bu_usb_bus_next_timeout(), or spins on poll without a hook. Levels of
 * the lock the library holds (bu_usb_bus_lock) are released around the
 * hook and taken back after; the caller must hold none of its own. Never
 * from a callback. done() runs under the lock.
 */
int bu_usb_bus_wait(struct bu_usb_bus *bus, bool (*done)(void *arg), void *arg,
		    uint64_t deadline_us);
/**
 * Name of the enumeration step a device is at while it enumerates (the
 * core's own step names, e.g. "address device"), the one it failed at when
 * it failed, NULL once configured. For diagnostics (bu_xhci_dump).
 */
const char *bu_usb_device_enum_step(const struct bu_usb_device *dev);

/** Remove all devices and destroy the bus (controller halted, memory freed). */
void bu_usb_bus_destroy(struct bu_usb_bus *bus);

/**
 * Called by a controller driver when a transfer finished (status, actual
 * and cc filled): the core drops its timeout and calls xfer->complete.
 */
void bu_usb_xfer_giveback(struct bu_usb_xfer *xfer);

/**
 * Called by a controller driver that reset its side's data toggle (USB 3:
 * sequence number) of bulk or interrupt endpoint `ep` after a transfer
 * failed with an error the device did not STALL (the device may have taken
 * a packet whose handshake was lost). The core resets the device's too,
 * with CLEAR_FEATURE(ENDPOINT_HALT) (USB 2.0 §9.4.5), and then calls
 * done(dev, ep, status) once from poll: also when the request failed or
 * could not be sent, and not at all when `ep` was closed meanwhile. The
 * driver holds the endpoint's transfers until then.
 */
void bu_usb_ep_toggle_reset(struct bu_usb_endpoint *ep, bu_usb_done_fn done);

/** Submit a transfer (async). Returns 0 or a negative error. */
int bu_usb_xfer_submit(struct bu_usb_xfer *xfer);
/** Cancel a submitted transfer; it completes with BU_ECANCELED. */
int bu_usb_xfer_cancel(struct bu_usb_xfer *xfer);

/**
 * Synchronous control transfer on EP0: polls the bus until done or
 * `timeout_ms` passes. Returns bytes transferred (>= 0) or a BU_E* code
 * (BU_ENOMEM when the platform's alloc cannot give the request's state,
 * about 170 bytes held for the call). Must not be called from a
 * completion callback.
 */
int bu_usb_control(struct bu_usb_device *dev, uint8_t bm_request_type,
		   uint8_t b_request, uint16_t w_value, uint16_t w_index,
		   void *data, uint16_t w_length, uint32_t timeout_ms);

/* ------------------------------------------------------------------------ */
/* Standard requests (USB 2.0 §9.4) and endpoint management.                 */
/* All of these are synchronous: they poll the bus until done or their     */
/* timeout (5 s, USB 2.0 §9.2.6.4) and must not be called from callbacks.  */

/** GET_DESCRIPTOR of any type; returns bytes read or BU_E*. */
int bu_usb_get_descriptor(struct bu_usb_device *dev, uint8_t recipient,
			  uint8_t type, uint8_t index, uint16_t w_index,
			  void *buf, uint16_t len);
/** GET_STATUS for a device (index 0), interface or endpoint; *status is host order. */
int bu_usb_get_status(struct bu_usb_device *dev, uint8_t recipient,
		      uint16_t index, uint16_t *status);
/** CLEAR_FEATURE / SET_FEATURE. */
int bu_usb_clear_feature(struct bu_usb_device *dev, uint8_t recipient,
			 uint16_t feature, uint16_t index);
int bu_usb_set_feature(struct bu_usb_device *dev, uint8_t recipient,
		       uint16_t feature, uint16_t index);
/** SYNCH_FRAME for an isochronous endpoint; *frame receives the frame number. */
int bu_usb_synch_frame(struct bu_usb_device *dev, uint8_t ep_address,
		       uint16_t *frame);

/**
 * Select alternate setting `alt` of interface `number`: the controller's
 * endpoints are dropped and added to match (one Configure Endpoint), then
 * SET_INTERFACE is sent. The interface's endpoints must be idle (BU_EBUSY).
 * Endpoint pointers of the old setting become invalid. Synchronous:
 * bu_usb_set_interface_async, then the wait.
 */
int bu_usb_set_interface(struct bu_usb_device *dev, uint8_t number, uint8_t alt);
/**
 * bu_usb_set_interface without the wait: 0 when started, then
 * done(dev, ctx, status) runs exactly once from bu_usb_bus_poll (or
 * bu_usb_bus_destroy) with the result - BU_ENODEV when the device went
 * away meanwhile (dev is still readable in done, and must not be used
 * after it returns); a negative error when it could not start (done never
 * runs). The old setting's endpoint pointers are invalid from the call on,
 * the new ones valid once done runs with 0 (with an error the old ones
 * may be back: look them up again). Callable from callbacks. The core
 * holds about 250 bytes from the platform's alloc until done (BU_ENOMEM).
 */
int bu_usb_set_interface_async(struct bu_usb_device *dev, uint8_t number, uint8_t alt,
			       bu_usb_done_fn done, void *ctx);

/**
 * Choose configuration `value` (bConfigurationValue; 0 unconfigures):
 * drivers are unbound, endpoints reconfigured, SET_CONFIGURATION sent, and
 * drivers probed again on the new interfaces.
 */
int bu_usb_set_configuration(struct bu_usb_device *dev, uint8_t value);

/**
 * Selective suspend (USB 2.0 §7.1.7.6, §11.9) of a configured device on a
 * root port or a hub port at any tier: `suspend` puts its link in U3 (a
 * root port's PLS, a USB 2 hub's PORT_SUSPEND, a USB 3 hub's
 * PORT_LINK_STATE). A device whose configuration advertises remote
 * wakeup (bmAttributes D5) is armed first (DEVICE_REMOTE_WAKEUP; USB 3:
 * FUNCTION_SUSPEND with Function Remote Wake) and disarmed after its
 * resume. A hub is suspended only once every device below it is
 * (else BU_EBUSY). Bulk and interrupt IN transfers may stay queued: their
 * endpoints are stopped first and go on after the resume; any other
 * queued transfer (OUT, control, isoch) makes it BU_EBUSY. Resume
 * (`suspend` false, any transfer submitted meanwhile, or the device's
 * remote wakeup) resumes the suspended hubs above it first, root down:
 * each link gets resume signalling for 20 ms (TDRSMDN; a hub times its
 * own) and the 10 ms resume recovery (TRSMRCY) before the transfers held
 * meanwhile go out (their timeouts start then). Asynchronous: callable
 * from callbacks; bu_usb_bus_events.power_changed tells each suspend and
 * finished resume.
 */
int bu_usb_device_suspend(struct bu_usb_device *dev, bool suspend);
/** True while the device is suspended or resuming. */
bool bu_usb_device_suspended(const struct bu_usb_device *dev);
/**
 * The bInterfaceNumber of the function whose wake ended the device's last
 * suspend: the interface its USB 3 Function Wake named (USB 3.2 §8.5.6.1),
 * or its first interface when a USB 3 device left U3 by itself and no
 * Function Wake followed within 50 ms. BU_ENOENT when the host resumed it,
 * when it is a USB 2 device (whose remote wakeup names no function), or
 * before any wake; read it from power_changed. BU_EINVAL for NULL.
 */
int bu_usb_device_wake_interface(const struct bu_usb_device *dev);

/* ------------------------------------------------------------------------ */
/* System sleep (core/sleep.c)                                              */

/**
 * Whether `dev` may wake the system from a bus suspend (Windows'
 * SystemWakeEnabled; the WinUSB driver sets it from the device's power
 * values): at bu_usb_bus_suspend only such devices whose configuration
 * advertises remote wakeup (bmAttributes D5) are armed
 * (DEVICE_REMOTE_WAKEUP; USB 3: FUNCTION_SUSPEND with Function Remote
 * Wake), and a hub is armed when a device below it is; every other device
 * is suspended disarmed. Off for a new device. Selective suspend
 * (bu_usb_device_suspend) is not affected. Returns 0, BU_EINVAL (NULL),
 * BU_ENODEV (gone). Callable from callbacks.
 */
int bu_usb_device_set_system_wake(struct bu_usb_device *dev, bool enable);
/** The flag bu_usb_device_set_system_wake set (false for NULL). */
bool bu_usb_device_system_wake(const struct bu_usb_device *dev);

/** bu_usb_bus_suspend's `wake`: root ports wake the system on a connect (PORTSC.WCE). */
#define BU_SLEEP_WAKE_CONNECT 0x1u
/** ... on a disconnect (PORTSC.WDE, xHCI 1.2 §5.4.8). */
#define BU_SLEEP_WAKE_DISCONNECT 0x2u
/** ... on an over-current (PORTSC.WOE). */
#define BU_SLEEP_WAKE_OVERCURRENT 0x4u

/** How a device came back from system sleep (bu_usb_bus_events.device_resumed). */
enum bu_usb_resume_kind {
	/**
	 * The controller's state was restored, the port still showed it
	 * connected and enabled, it resumed from U3 and its device and
	 * active configuration descriptors read back as enumerated: the same
	 * bu_usb_device goes on, its endpoints and drivers untouched.
	 */
	BU_RESUME_REVALIDATED = 1,
	/**
	 * Its state was lost (the controller was re-initialised, or it did
	 * not resume, or its descriptors differ: another device): it is
	 * removed, and whatever is on its port enumerates as a new device.
	 */
	BU_RESUME_REENUMERATED = 2,
	/** Its port showed no device any more (unplugged while asleep): removed. */
	BU_RESUME_GONE = 3,
};

/** What the last bus suspend and resume did (bu_usb_bus_wake_source). */
struct bu_usb_sleep_report {
	/** The wake the controller signalled while asleep (the first seen). */
	enum bu_usb_wake_kind wake;
	/** Root port that signalled it, 0 when none. */
	uint8_t wake_port;
	/**
	 * The device whose remote wakeup woke the bus (the deepest one that
	 * reported it: behind an armed hub, the device below it), valid
	 * until its removal; NULL when no device did or it did not survive
	 * the resume (then wake_path still names where it was).
	 */
	struct bu_usb_device *wake_dev;
	uint8_t wake_path[BU_USB_MAX_PATH]; /**< its port path (root port first), zeros when none */
	uint8_t wake_tier;   /**< entries of wake_path in use */
	bool restored;       /**< the controller's saved state came back (Restore State) */
	bool saved;          /**< Save State succeeded at suspend */
	uint32_t suspend_us; /**< bu_usb_bus_suspend's duration */
	uint32_t resume_us;  /**< bu_usb_bus_resume's duration (revalidation included) */
	unsigned revalidated, reenumerated, gone; /**< devices by bu_usb_resume_kind */
};

/**
 * System sleep, step one: stop the bus for the embedder's sleep state.
 * Synchronous and bounded (at most about 10 s, the requests' limits): it
 * waits for running enumerations, then suspends every configured device,
 * those below a hub before the hub (bu_usb_device_suspend; remote wakeup
 * armed only where bu_usb_device_set_system_wake allows), then has the
 * controller set the root ports' wake enables from `wake`
 * (BU_SLEEP_WAKE_*), stop (xHCI 1.2 §5.4.1: R/S=0 until HCHalted) and
 * save its state (§4.23.2: CSS until SSS clears). From then until
 * bu_usb_bus_resume, transfers submitted to a suspended device are held
 * and go out after the resume (as with selective suspend, but without
 * waking it); any other submission fails with BU_ESHUTDOWN, and so does
 * every synchronous call (bu_usb_control, bu_usb_bulk, ...: it would wait
 * for the resume); bu_usb_device_suspend and bu_usb_device_reset are
 * BU_EBUSY; bu_usb_bus_poll only looks for a wake
 * (bu_usb_bus_wake_check). Not
 * from a callback. Returns 0; BU_EINVAL (NULL), BU_EBUSY (from a
 * callback, already asleep, or a device could not be suspended in time:
 * then every device it suspended is resumed and the bus runs on),
 * BU_ENOTSUP (the controller driver has no system sleep), BU_ESHUTDOWN
 * (failed controller), or the controller driver's error.
 */
int bu_usb_bus_suspend(struct bu_usb_bus *bus, unsigned wake);
/**
 * System sleep, step two: bring the bus back. The controller restores its
 * registers and state (§4.23.2: CRS until RSS clears) and runs; each
 * root port is read, so devices unplugged or swapped while asleep are
 * removed (and new ones enumerate); every device still there is resumed
 * (U3 -> U0 with the resume and recovery times) and re-validated (its
 * device descriptor and active configuration descriptor read and
 * compared with those it enumerated with). When the controller reports
 * a failed restore (USBSTS.SRE), or lost power meanwhile, it is reset and
 * set up from scratch and every device is re-enumerated: removed, and
 * enumerated again as a new device (bareusb does not keep the old object
 * as Linux's reset-resume does). Each device's verdict goes to
 * bu_usb_bus_events.device_resumed before its removal, if any; held
 * transfers go out once their device is back (or complete with
 * BU_ENODEV). Synchronous, bounded by the requests' limits; enumerations
 * started here run on from bu_usb_bus_poll. Not from a callback. Returns
 * 0; BU_EINVAL (NULL, or the bus is not asleep), BU_EBUSY (from a
 * callback), or the controller's error (the bus is then failed).
 */
int bu_usb_bus_resume(struct bu_usb_bus *bus);
/** True between a successful bu_usb_bus_suspend and the next bu_usb_bus_resume. */
bool bu_usb_bus_asleep(const struct bu_usb_bus *bus);
/**
 * While the bus is asleep: look at the root ports for a wake (a remote
 * wakeup, a connect, disconnect or over-current its wake enables allow;
 * registers only, no lock taken beyond the bus lock), for an embedder's
 * wake interrupt (PME) or a periodic check; bu_usb_bus_poll does the same.
 * Returns the root port that signals one (and records it for
 * bu_usb_bus_wake_source), 0 when none or the bus is not asleep.
 */
unsigned bu_usb_bus_wake_check(struct bu_usb_bus *bus);
/**
 * What the last bus suspend and resume did: the wake source and the
 * per-kind counts (after bu_usb_bus_resume), the restore and timings.
 * BU_EINVAL for NULL arguments, BU_ENOENT when the bus never slept.
 */
int bu_usb_bus_wake_source(struct bu_usb_bus *bus, struct bu_usb_sleep_report *out);

/**
 * Reset a device's port and enumerate it again (USB 2.0 §11.24.2.13
 * PORT_RESET; xHCI 1.2 §4.19.5): the device is removed (its
 * device_removed is told, its transfers complete with BU_ENODEV, its
 * drivers' remove runs) and `dev` must not be used after the call; the
 * port is reset (a hot reset on a USB 3 port) and the device on it
 * enumerates as a new one, Enable Slot and Address Device included, told
 * through device_added. On a root port the removal happens in the call;
 * below a hub, from poll once the hub's control pipe is free, and the
 * reset waits for the root port tree's default-address lock like any
 * other. Asynchronous: poll the bus. Returns 0; BU_EINVAL (NULL dev),
 * BU_EBUSY (from a callback, its port is not serving an enumerated device,
 * its hub is not running, or the bus is asleep), BU_ENODEV (gone), BU_ESHUTDOWN (failed
 * controller), BU_EIO (a root port's reset could not start).
 */
int bu_usb_device_reset(struct bu_usb_device *dev);

/** The open endpoint with this bEndpointAddress (0 for EP0), or NULL. */
struct bu_usb_endpoint *bu_usb_find_endpoint(struct bu_usb_device *dev,
					     uint8_t address);

/**
 * Reset an endpoint on both sides: the controller's sequence/toggle state
 * and ring are reset, then CLEAR_FEATURE(ENDPOINT_HALT) is sent (for EP0
 * only the controller side). The endpoint must be idle (BU_EBUSY).
 * Synchronous: bu_usb_reset_endpoint_async, then the wait.
 */
int bu_usb_reset_endpoint(struct bu_usb_endpoint *ep);
/**
 * bu_usb_reset_endpoint without the wait: 0 when started, then
 * done(dev, ctx, status) runs exactly once from bu_usb_bus_poll (or
 * bu_usb_bus_destroy), BU_ENODEV when the device went away meanwhile; a
 * negative error when it could not start (done never runs: BU_EINVAL,
 * BU_ENODEV, BU_ESHUTDOWN, BU_EBUSY when transfers are queued, BU_ENOMEM).
 * EP0 has nothing to reset on the controller: done still runs from poll.
 * Callable from callbacks.
 */
int bu_usb_reset_endpoint_async(struct bu_usb_endpoint *ep, bu_usb_done_fn done, void *ctx);

/**
 * Cancel every queued transfer of an endpoint; each completes with
 * BU_ECANCELED from poll. Returns the number cancelled.
 */
int bu_usb_abort_endpoint(struct bu_usb_endpoint *ep);

/**
 * True while transfers are queued on the endpoint, or it waits for its
 * hub's transaction translator buffer to be cleared (USB 2.0 §11.17.5).
 */
bool bu_usb_endpoint_busy(const struct bu_usb_endpoint *ep);

/**
 * The bus's current frame number (1 ms frames), extended to 32 bits.
 * Call at least every second for the extension to stay right.
 */
uint32_t bu_usb_frame_number(struct bu_usb_bus *bus);

/**
 * Format the device's `usbdev` JSON object (without the "usbdev " prefix)
 * into buf. Returns the length it needed (excluding NUL), like snprintf;
 * output is truncated when that is >= size.
 */
size_t bu_usb_device_json(const struct bu_usb_device *dev, char *buf, size_t size);

/* ------------------------------------------------------------------------ */
/* Hot-plug listeners                                                       */

/**
 * Add a hot-plug listener to a started bus (after the listeners already
 * there). It is told of devices added and removed from then on, not of
 * those already on the bus: bu_usb_foreach_device lists them. Returns
 * BU_EINVAL for a NULL bus or listener, BU_EBUSY when the listener is on
 * a bus already. Callable from callbacks; a listener added from inside
 * one may or may not be told of the event in progress.
 */
int bu_usb_add_listener(struct bu_usb_bus *bus, struct bu_usb_listener *l);
/**
 * Take a listener off its bus; it is not called again once this returns,
 * and the embedder may reuse or free it. Safe from inside any callback,
 * the listener's own included, while other listeners are being told.
 * Returns BU_EINVAL for NULL arguments, BU_ENOENT when it is not on `bus`.
 */
int bu_usb_remove_listener(struct bu_usb_bus *bus, struct bu_usb_listener *l);

/* ------------------------------------------------------------------------ */
/* Finding devices                                                          */
/*                                                                          */
/* A device pointer obtained here is valid until the device's removal is   */
/* told (device_removed, bu_usb_listener) and must not be used once that   */
/* returned. The core tells it from bu_usb_bus_poll, which every           */
/* synchronous helper runs: after one returned BU_ENODEV the device may be */
/* gone. None of these poll the bus; all are callable from callbacks.      */

/**
 * Called once per device by bu_usb_foreach_device; return 0 to go on, or a
 * non-zero value to stop the walk (bu_usb_foreach_device returns it).
 */
typedef int (*bu_usb_device_fn)(struct bu_usb_device *dev, void *ctx);

/**
 * Call fn for every device of the bus whose enumeration ended (configured,
 * or failed: the devices told to device_added and not yet removed), in
 * tree order: by root port, each hub followed by the devices below it by
 * port number (the order of their paths). Safe with hot-plug: fn may do
 * anything, synchronous transfers that poll the bus included; a device
 * removed meanwhile is not visited, one added meanwhile is visited when
 * its path comes after the device being visited. Returns 0 once all were
 * visited, fn's non-zero value when it stopped, BU_EINVAL for a NULL bus
 * or fn.
 */
int bu_usb_foreach_device(struct bu_usb_bus *bus, bu_usb_device_fn fn, void *ctx);

/**
 * Whether a device matches every field `m` names: BU_MATCH_VENDOR,
 * _PRODUCT, _DEV_CLASS (bDeviceClass) need its device descriptor,
 * BU_MATCH_PATH its port path; the interface fields (BU_MATCH_CLASS,
 * _SUBCLASS, _PROTOCOL, _INTERFACE, _COMPAT_ID) must all hold for one
 * alternate setting of one interface of its active configuration. A rule
 * with no flags matches any device. False for NULL arguments, unknown
 * flags or a malformed path.
 */
bool bu_usb_device_match(const struct bu_usb_device *dev, const struct bu_usb_match *m);

/**
 * The first configured device (state BU_DEV_CONFIGURED) in tree order that
 * matches `m`, in *dev. Returns 0; BU_ENOENT when none does; BU_EINVAL for
 * NULL arguments, unknown flags, a NULL or malformed path with
 * BU_MATCH_PATH, or a NULL compat_id with BU_MATCH_COMPAT_ID (then *dev
 * is NULL too, when dev is not).
 */
int bu_usb_find_device(struct bu_usb_bus *bus, const struct bu_usb_match *m,
		       struct bu_usb_device **dev);

/* ------------------------------------------------------------------------ */
/* Interface ownership                                                      */

/**
 * Claim interface `number` of the active configuration for `owner` (any
 * non-NULL token the caller chooses, e.g. its handle): no class driver is
 * bound to a claimed interface (nor to the IAD function it belongs to),
 * and no one else can claim it. A class driver's bind is a claim too:
 * an interface with a driver bound is BU_EBUSY. Claiming it again for the
 * same owner is 0. Claims end when the device goes away or its
 * configuration changes (bu_usb_set_configuration); bu_usb_set_interface
 * keeps them. The claim does not guard transfers: endpoints stay open to
 * anyone holding the device. Callable from callbacks.
 * Returns 0; BU_EINVAL (NULL dev or owner), BU_ENODEV (device gone),
 * BU_ENOENT (no such interface in the active configuration), BU_EBUSY
 * (held by a driver or another owner).
 */
int bu_usb_claim_interface(struct bu_usb_device *dev, uint8_t number, const void *owner);
/**
 * Give up an application's claim. The interface is free again; class
 * drivers are offered it at the next binding (a driver registered, a
 * configuration set), not at once. Returns 0; BU_EINVAL (NULL dev or
 * owner, or the interface is not claimed), BU_ENODEV, BU_ENOENT (no such
 * interface), BU_EBUSY (a driver or another owner holds it).
 */
int bu_usb_release_interface(struct bu_usb_device *dev, uint8_t number, const void *owner);
/**
 * Unbind the class driver bound to interface `number` (and the rest of its
 * IAD function): its remove() runs now; the interfaces stay free until the
 * next binding (bu_usb_bind_interface, a driver registered, a
 * configuration set). Not from a callback. Returns 0; BU_EINVAL (NULL dev,
 * or no driver is bound), BU_ENODEV, BU_ENOENT (no such interface),
 * BU_EBUSY (from a callback, or the hub driver, which serves the devices
 * below it).
 */
int bu_usb_unbind_interface(struct bu_usb_device *dev, uint8_t number);
/**
 * Offer free interface `number` (the first of its IAD function) to the
 * bus's class drivers now, the best match probed as at enumeration.
 * Not from a callback. Returns 0 when a driver bound it; BU_ENOTSUP when
 * none matches or the best one declined, its probe's error when that
 * failed; BU_EINVAL (NULL dev), BU_ENODEV, BU_ENOENT (no such interface),
 * BU_EBUSY (from a callback, or a driver or an application holds it).
 */
int bu_usb_bind_interface(struct bu_usb_device *dev, uint8_t number);

/* ------------------------------------------------------------------------ */
/* Synchronous bulk and interrupt transfers                                 */

/**
 * Move `len` bytes on bulk endpoint `ep_address` (bEndpointAddress; bit 7
 * gives the direction: IN reads into buf, OUT writes from it) and wait:
 * polls the bus (through the core's one wait loop) until the transfer
 * completes or `timeout_ms` (0: BU_USB_REQUEST_TIMEOUT_MS) passes. On the
 * timeout the transfer is cancelled and the call waits for the controller
 * to give it back: it never returns while the controller may still touch
 * buf. *actual (when not NULL) gets the bytes moved, also on an error; a
 * short IN transfer is not an error (0, *actual < len). No zero-length
 * packet is added after an OUT transfer. Returns 0 or:
 *  - BU_EINVAL: NULL dev, NULL buf with len, EP0, an address with bits
 *    6:4 set, an endpoint that is not bulk;
 *  - BU_ENOENT: no such endpoint open in the current configuration and
 *    alternate settings;
 *  - BU_EBUSY: called from a callback running inside bu_usb_bus_poll or
 *    bu_usb_bus_destroy (the synchronous API must not be);
 *  - BU_ETIMEDOUT, BU_ESTALL, BU_EPROTO, BU_EBABBLE, ...: the transfer's
 *    completion; BU_ENODEV: the device is gone (also when unplugged
 *    during the wait: dev must not be used again); BU_ESHUTDOWN: the
 *    controller failed.
 */
int bu_usb_bulk(struct bu_usb_device *dev, uint8_t ep_address, void *buf, size_t len,
		size_t *actual, uint32_t timeout_ms);
/**
 * bu_usb_bulk for an interrupt endpoint: the controller moves the data in
 * the endpoint's service intervals, and an IN transfer ends at the first
 * short packet, so a read of wMaxPacketSize bytes usually returns one
 * report. BU_EINVAL when the endpoint is not an interrupt endpoint.
 */
int bu_usb_interrupt(struct bu_usb_device *dev, uint8_t ep_address, void *buf, size_t len,
		     size_t *actual, uint32_t timeout_ms);

#ifdef __cplusplus
}
#endif

#endif
