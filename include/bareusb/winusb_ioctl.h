/*
 * The request interface between the two halves of bareusb's WinUSB, as
 * Windows splits them ("WinUSB architecture and modules"): the API part (the
 * Winusb.dll analogue, winusb/winusb_api.c, which implements the WinUsb_*
 * functions) talks to the driver part (the Winusb.sys analogue,
 * winusb/winusb_func.c and the other driver files, a class driver on a
 * bareusb bus) only through the calls of `struct bu_winusb_transport`:
 * DeviceIoControl-style requests on an opened file, plus discovery, open,
 * close and poll.
 *
 * An OS can put the API part in user space and the driver part in its
 * kernel: every request is a fixed parameter block plus at most two caller
 * buffers, and the driver validates all of it (file, interface index, pipe,
 * lengths, buffer ranges, policy values) before acting; it copies the
 * parameter block before returning and never trusts the API side.
 *
 * Status values are Win32 error codes (0 = success): the driver decides
 * them, because the WinUSB semantics (a timed-out transfer is
 * ERROR_SEM_TIMEOUT, an aborted one ERROR_OPERATION_ABORTED, ...) live
 * there. Compiles as C11 and C++11; no bareusb core types appear here.
 */
#ifndef BAREUSB_WINUSB_IOCTL_H
#define BAREUSB_WINUSB_IOCTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bareusb/compiler.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------ */
/* Request codes                                                            */
/* The first group uses the values of the unofficial list of Winusb.sys     */
/* IOCTLs (undocumented by Microsoft); the rest are bareusb's,             */
/* in the same device-type range.                                           */

#define BU_WINUSB_IOCTL_GET_DESCRIPTOR 0x0350C004u    /**< cached or live descriptor */
#define BU_WINUSB_IOCTL_SET_ALT 0x0350C008u           /**< SET_INTERFACE + new pipe set */
#define BU_WINUSB_IOCTL_SET_PIPE_POLICY 0x0350C00Cu
#define BU_WINUSB_IOCTL_READ_PIPE 0x0350401Eu         /**< bulk/interrupt IN */
#define BU_WINUSB_IOCTL_WRITE_PIPE 0x03508021u        /**< bulk/interrupt OUT */
#define BU_WINUSB_IOCTL_RESET_PIPE 0x0350C024u
#define BU_WINUSB_IOCTL_ABORT_PIPE 0x0350C028u
#define BU_WINUSB_IOCTL_SET_POWER_POLICY 0x0350C02Cu
#define BU_WINUSB_IOCTL_CONTROL 0x0350C03Au           /**< control transfer on EP0 */
#define BU_WINUSB_IOCTL_FLUSH_PIPE 0x03504048u
#define BU_WINUSB_IOCTL_QUERY_DEVICE_INFO 0x0350C04Cu
#define BU_WINUSB_IOCTL_GET_PIPE_POLICY 0x0350C050u
#define BU_WINUSB_IOCTL_GET_POWER_POLICY 0x0350C058u
#define BU_WINUSB_IOCTL_GET_ALT 0x0350C05Cu
#define BU_WINUSB_IOCTL_GET_INFO 0x0350C100u          /**< function layout (struct bu_winusb_funcinfo) */
#define BU_WINUSB_IOCTL_OPEN_INTERFACE 0x0350C104u    /**< claim an interface index, policies reset */
#define BU_WINUSB_IOCTL_CLOSE_INTERFACE 0x0350C108u   /**< release it (aborts its pipes) */
#define BU_WINUSB_IOCTL_ISOCH_REGISTER 0x0350C10Cu    /**< pin a buffer for an isoch pipe */
#define BU_WINUSB_IOCTL_ISOCH_UNREGISTER 0x0350C110u
#define BU_WINUSB_IOCTL_ISOCH_READ 0x0350C114u
#define BU_WINUSB_IOCTL_ISOCH_WRITE 0x0350C118u
#define BU_WINUSB_IOCTL_GET_FRAME 0x0350C11Cu         /**< struct bu_winusb_frame */
#define BU_WINUSB_IOCTL_TIMESYNC_START 0x0350C120u
#define BU_WINUSB_IOCTL_TIMESYNC_STOP 0x0350C124u
/**
 * Cancel one pending request of the file (the CancelIoEx analogue): the
 * one started with done_cookie equal to this request's done_cookie. It
 * completes with ERROR_OPERATION_ABORTED from poll, once the controller
 * has let go of its buffers. ERROR_NOT_FOUND when no such request is
 * pending (it may have completed already).
 */
#define BU_WINUSB_IOCTL_CANCEL 0x0350C128u

/** Flags of struct bu_winusb_ioparams. */
enum bu_winusb_iof {
	BU_WINUSB_IOF_CACHED = 1 << 0, /**< GET_DESCRIPTOR: the copy read at enumeration */
	BU_WINUSB_IOF_ASAP = 1 << 1,   /**< isoch: start as soon as possible */
	BU_WINUSB_IOF_CONTINUE = 1 << 2, /**< isoch ASAP: must follow the last transfer */
};

/**
 * The parameter block of every request (the IOCTL input buffer). Which
 * fields matter depends on the code; the rest must be zero.
 */
struct bu_winusb_ioparams {
	uint8_t iface;    /**< interface index in the function (0 = default) */
	uint8_t pipe;     /**< PipeID = bEndpointAddress; 0 = control pipe */
	uint8_t index;    /**< descriptor index, alternate setting */
	uint8_t flags;    /**< BU_WINUSB_IOF_* */
	uint32_t type;    /**< policy / information / descriptor type */
	uint32_t value;   /**< policy value, language ID, start frame */
	uint32_t handle;  /**< isoch buffer or time-tracking id */
	uint32_t offset;  /**< isoch: window start in the registered buffer */
	uint32_t length;  /**< isoch: window length; isoch read: packets */
	uint8_t setup[8]; /**< control: the SETUP packet, little-endian */
};
BU_STATIC_ASSERT(sizeof(struct bu_winusb_ioparams) == 32, "ioparams size");

/** Completion of a pending request (runs from the driver's poll). */
typedef void (*bu_winusb_io_done_fn)(void *ctx, void *cookie, uint32_t status,
				     uint32_t bytes);

/** One request: DeviceIoControl(file, code, params, buf, aux). */
struct bu_winusb_io {
	uint32_t file;   /**< from transport open() */
	uint32_t code;   /**< BU_WINUSB_IOCTL_* */
	const struct bu_winusb_ioparams *params; /**< copied before return */
	uint32_t params_len;  /**< must be sizeof(struct bu_winusb_ioparams) */
	void *buf;       /**< data buffer: read into / written from */
	uint32_t buf_len;
	void *aux;       /**< isoch read: packet descriptors (out) */
	uint32_t aux_len;
	/**
	 * NULL: the request must finish inline. Requests that need the bus
	 * (transfers, RESET_PIPE, ABORT_PIPE, SET_ALT, CLOSE_INTERFACE,
	 * ISOCH_UNREGISTER, GET_DESCRIPTOR from the device) may pend, so they
	 * need one (ERROR_INVALID_PARAMETER without): the driver part never
	 * waits inside a request.
	 */
	bu_winusb_io_done_fn done;
	void *done_ctx;
	void *done_cookie;
};

/** Immediate results of a request. */
struct bu_winusb_iores {
	uint32_t bytes;  /**< bytes moved (inline completion) */
	uint32_t frame;  /**< isoch: the frame after the transfer's last */
	uint32_t handle; /**< ISOCH_REGISTER / TIMESYNC_START: the new id */
};

/** Per-packet result of an isochronous read (USBD_ISO_PACKET_DESCRIPTOR). */
struct bu_winusb_iso_packet {
	uint32_t offset; /**< packet start, relative to the transfer */
	uint32_t length; /**< bytes received */
	int32_t status;  /**< USBD_STATUS */
};
BU_STATIC_ASSERT(sizeof(struct bu_winusb_iso_packet) == 12, "iso packet size");

/** BU_WINUSB_IOCTL_GET_INFO output. */
struct bu_winusb_funcinfo {
	uint8_t num_ifaces;    /**< interfaces of the function */
	uint8_t speed;         /**< LowSpeed (1) or HighSpeed (3), as WinUSB reports */
	uint8_t bus_speed;     /**< enum bu_usb_speed */
	uint8_t config_value;  /**< bConfigurationValue of the active configuration */
	uint16_t config_len;   /**< bytes of the cached configuration descriptor */
	uint8_t config_index;  /**< its index (GET_DESCRIPTOR, cached) */
	uint8_t reserved;
	uint8_t iface_numbers[32]; /**< bInterfaceNumber of each index */
};

/** BU_WINUSB_IOCTL_GET_FRAME output. */
struct bu_winusb_frame {
	uint32_t frame;   /**< 32-bit bus frame number (1 ms) */
	uint32_t reserved;
	uint64_t time_us; /**< platform clock when it was read */
};

/* ------------------------------------------------------------------------ */
/* Discovery                                                                */

#ifndef BU_WINUSB_MAX_GUIDS
#define BU_WINUSB_MAX_GUIDS 4   /**< device interface GUIDs per function */
#endif
BU_STATIC_ASSERT(BU_WINUSB_MAX_GUIDS >= 1 && BU_WINUSB_MAX_GUIDS <= 255,
		 "BU_WINUSB_MAX_GUIDS: num_guids is a uint8_t (1..255)");
#define BU_WINUSB_GUID_LEN 38   /**< "{XXXXXXXX-XXXX-XXXX-XXXX-XXXXXXXXXXXX}" */

/** One function bound to WinUSB (a Windows device node), as discovery sees it. */
struct bu_winusb_devinfo {
	uint32_t instance;     /**< id to open it with; unique per binding */
	uint16_t vid, pid, bcd_device;
	uint8_t bus;           /**< bus index */
	uint8_t first_iface;   /**< bInterfaceNumber of its first interface */
	uint8_t num_ifaces;
	bool composite;        /**< one function of a composite device (MI_xx) */
	bool present;          /**< false once unplugged (until closed) */
	uint8_t num_guids;
	char location[24];     /**< bus and port path, "0-3.2" */
	char compat_id[9];     /**< MS OS compatible ID, or "" (explicit binding) */
	char guids[BU_WINUSB_MAX_GUIDS][BU_WINUSB_GUID_LEN + 1]; /**< upper case */
	char product[64];      /**< iProduct in UTF-8, or "" */
};

/**
 * How the API part reaches a driver part. All calls come from the API's
 * caller context, never from a completion callback.
 */
struct bu_winusb_transport {
	void *ctx;
	/**
	 * Run a request. Returns 0 when it finished inline (res filled; done
	 * is not called), ERROR_IO_PENDING when done(done_ctx, done_cookie,
	 * status, bytes) will run later from poll(), or another Win32 error
	 * (done is not called). Buffers stay the caller's, and must stay valid
	 * until the request completed.
	 */
	uint32_t (*ioctl)(void *ctx, const struct bu_winusb_io *io,
			  struct bu_winusb_iores *res);
	/** The `index`-th bound function: 0 or ERROR_NO_MORE_ITEMS. */
	uint32_t (*query)(void *ctx, uint32_t index, struct bu_winusb_devinfo *out);
	/** Open a function by instance id (the CreateFile analogue). */
	uint32_t (*open)(void *ctx, uint32_t instance, uint32_t *file);
	/** Close a file: its requests are aborted, its interfaces released. */
	void (*close)(void *ctx, uint32_t file);
	/** Make progress: run completions, timers, power policy. */
	void (*poll)(void *ctx);
	/**
	 * Optional: by when poll must run again, on the platform clock
	 * (UINT64_MAX: nothing due; see bu_usb_bus_next_timeout). The
	 * API part's waits sleep until then through its platform's wait
	 * hook. NULL: poll at once (they spin).
	 */
	uint64_t (*next_timeout)(void *ctx);
};

#ifdef __cplusplus
}
#endif

#endif
