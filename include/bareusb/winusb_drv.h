/*
 * The WinUSB driver part (the Winusb.sys analogue): a bareusb class driver,
 * one instance per bus, that binds functions to WinUSB and serves the
 * requests of bareusb/winusb_ioctl.h.
 *
 * Binding ("WinUSB (Winusb.sys) installation"): a function binds
 *  - automatically when its Microsoft OS descriptors (1.0 or 2.0) name the
 *    compatible ID "WINUSB" - the interface's compat_id, which the core
 *    fills from dev->msos before it offers the device to drivers;
 *  - through the explicit binding table, the INF analogue: VID/PID for the
 *    whole device, or VID/PID/interface for one function (its IAD group),
 *    with an optional device interface GUID. Such a binding also acts as
 *    an INF that sets DeviceIdleEnabled (AUTO_SUSPEND may take effect).
 * A composite device (Windows' rule: device class 0 or the IAD triple, more
 * than one interface, one configuration) binds per function; anything else
 * binds as a whole. Each bound function gets an instance id, device
 * interface GUIDs (from the binding or the DeviceInterfaceGUID(s)
 * property) and a path, and is opened single-client.
 *
 * Execution: requests come in from the caller's context (never from a
 * completion callback); transfers complete from bu_usb_bus_poll(), which
 * runs the request completions. A request never waits inside the driver:
 * one that needs the bus (transfers, abort, reset, alternate setting,
 * interface close, isoch unregister, descriptors read from the device)
 * pends and completes from poll, through the driver's deferred work
 * (struct bu_usb_work), which also puts each pipe's next transfers on the
 * bus after a completion. Only the discovery query (MS OS descriptors the
 * core did not read), close and destroy poll the bus, in their own call.
 */
#ifndef BAREUSB_WINUSB_DRV_H
#define BAREUSB_WINUSB_DRV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bareusb/compiler.h"
#include "bareusb/msos.h"
#include "bareusb/usb.h"
#include "bareusb/winusb_inf.h"
#include "bareusb/winusb_ioctl.h"

#ifdef __cplusplus
extern "C" {
#endif

struct bu_winusb_drv;

#ifndef BU_WINUSB_MAX_BINDINGS
#define BU_WINUSB_MAX_BINDINGS 16 /**< explicit binding table entries */
#endif
BU_STATIC_ASSERT(BU_WINUSB_MAX_BINDINGS >= 1, "BU_WINUSB_MAX_BINDINGS: at least one (>= 1)");
#ifndef BU_WINUSB_MAX_FUNCS
#define BU_WINUSB_MAX_FUNCS 32    /**< bound functions per driver instance */
#endif
BU_STATIC_ASSERT(BU_WINUSB_MAX_FUNCS >= 1, "BU_WINUSB_MAX_FUNCS: at least one (>= 1)");
#ifndef BU_WINUSB_MAX_FILES
#define BU_WINUSB_MAX_FILES 16    /**< open files per driver instance */
#endif
BU_STATIC_ASSERT(BU_WINUSB_MAX_FILES >= 1 && BU_WINUSB_MAX_FILES <= 255,
		 "BU_WINUSB_MAX_FILES: a file id keeps its index in 8 bits (1..255)");
#define BU_WINUSB_MAX_XFER_HS (2u << 20)   /**< MAXIMUM_TRANSFER_SIZE at high speed and up */
#define BU_WINUSB_MAX_XFER_FS (256u << 10) /**< ... at full and low speed */

/**
 * The power values of a WinUSB function as Microsoft's "WinUSB power
 * management" lists them: what an INF's AddReg writes under the device's
 * hardware key and what MS OS 2.0 registry property descriptors carry
 * (bu_winusb_power_from_msos). `set` holds the BU_MSOS_* bits (msos.h) of
 * the values given; one not given keeps WinUSB's default.
 */
struct bu_winusb_power_settings {
	uint8_t set;
	uint32_t device_idle_enabled;  /**< DeviceIdleEnabled: selective suspend supported */
	uint32_t default_idle_state;   /**< DefaultIdleState: AUTO_SUSPEND's default */
	uint32_t default_idle_timeout; /**< DefaultIdleTimeout: SUSPEND_DELAY's default, ms */
	uint32_t user_set_device_idle_enabled; /**< UserSetDeviceIdleEnabled: the user may turn idle off */
	uint32_t system_wake_enabled;  /**< SystemWakeEnabled: the device may wake the system */
	uint32_t device_idle_ignore_wake; /**< DeviceIdleIgnoreWakeEnable: suspend without remote wake */
	/** The user's choice where UserSetDeviceIdleEnabled offers one: idle power-down off. */
	bool user_idle_off;
};

/** The power values MS OS 2.0 registry property descriptors gave one function. */
void bu_winusb_power_from_msos(struct bu_winusb_power_settings *s,
			       const struct bu_msos_function *m);

/** Driver options; zero means the default. */
struct bu_winusb_drv_options {
	uint32_t max_transfer_size; /**< MAXIMUM_TRANSFER_SIZE (rounded down to 64 KiB) */
	uint8_t depth;              /**< transfers in flight per pipe (0 = 8, max 32) */
	bool no_msos;               /**< scan: do not read MS OS descriptors */
	void *ctx;                  /**< passed to the callbacks below */
	/**
	 * Optional ProbeForRead/ProbeForWrite: true when the caller may let
	 * the driver read (write = false) or write [p, p+len). For an OS whose
	 * API part lives in user space.
	 */
	bool (*check_range)(void *ctx, const void *p, size_t len, bool write);
	/**
	 * Optional: put a device into selective suspend (true) or resume it
	 * (false); nonzero means "not now" and the policy tries again after
	 * another SUSPEND_DELAY. Without it the core's bu_usb_device_suspend()
	 * is used: the root port's link goes to U3 once every WinUSB function
	 * on the device is idle (bulk/interrupt IN reads may stay pending;
	 * other queued transfers keep it awake), and the next transfer
	 * resumes it.
	 */
	int (*suspend)(void *ctx, struct bu_usb_device *dev, bool suspend);
};

/**
 * Create a driver instance on `bus` and register it as a class driver
 * (devices already configured are offered to it). Memory comes from the
 * bus's platform allocator. Returns 0, BU_EINVAL, BU_ENOMEM or BU_ENOSPC.
 */
int bu_winusb_drv_create(struct bu_usb_bus *bus, const struct bu_winusb_drv_options *opts,
			 struct bu_winusb_drv **out);
/**
 * Unregister and free (open files are closed, requests aborted). Call it
 * before the bus is destroyed.
 */
void bu_winusb_drv_destroy(struct bu_winusb_drv *drv);

/**
 * Add an explicit binding: VID/PID, interface number (-1 = the whole
 * device) and an optional device interface GUID ("{...}", any case, NULL
 * for none). Applies to devices configured from now on; call
 * bu_winusb_drv_scan() to offer the ones already there. Returns 0,
 * BU_EINVAL (bad GUID or interface) or BU_ENOSPC.
 */
int bu_winusb_drv_bind(struct bu_winusb_drv *drv, uint16_t vid, uint16_t pid, int iface,
		       const char *guid);
/**
 * Parse and add a binding written "VID:PID[:IFACE][:{GUID}]" (hex VID and
 * PID, decimal interface), as given on the test image's command line
 * (`winusb.bind=...`). Returns 0 or BU_EINVAL / BU_ENOSPC.
 */
int bu_winusb_drv_bind_spec(struct bu_winusb_drv *drv, const char *spec, size_t len);
/**
 * Add the bindings a WinUSB INF (text[len]) declares: one per USB hardware
 * ID of its models sections, with the first device interface GUID its .HW
 * AddReg writes (bareusb/winusb_inf.h says what is understood). The INF is
 * parsed into *inf (the caller's: it keeps every model and .HW AddReg
 * entry, e.g. the power values, and on failure error_line and error).
 * All or nothing: returns 0, BU_EINVAL (the INF; see inf->error) or
 * BU_ENOSPC (the binding table has no room for all of them), and binds
 * nothing on failure. Like bu_winusb_drv_bind, applies to devices
 * configured from now on (bu_winusb_drv_scan offers the others).
 */
int bu_winusb_drv_bind_inf(struct bu_winusb_drv *drv, const char *text, size_t len,
			   struct bu_winusb_inf *inf);

/**
 * Offer every configured device's unbound interfaces to the drivers again
 * (after bindings were added). Devices whose MS OS descriptors the core
 * did not read (bus->no_msos) are read first, synchronously - so not from
 * a completion callback - and their compatible IDs copied onto their
 * interfaces. Returns the number of devices read that way.
 */
int bu_winusb_drv_scan(struct bu_winusb_drv *drv);

/** The MS OS descriptors the core read for a device (dev->msos), or NULL. */
const struct bu_msos_info *bu_winusb_drv_msos(struct bu_winusb_drv *drv,
					      const struct bu_usb_device *dev);

/** Fill *tp with the in-process transport to this driver instance. */
void bu_winusb_drv_transport(struct bu_winusb_drv *drv, struct bu_winusb_transport *tp);

/* The transport calls, also usable directly (see struct bu_winusb_transport). */
uint32_t bu_winusb_drv_ioctl(struct bu_winusb_drv *drv, const struct bu_winusb_io *io,
			     struct bu_winusb_iores *res);
uint32_t bu_winusb_drv_query(struct bu_winusb_drv *drv, uint32_t index,
			     struct bu_winusb_devinfo *out);
uint32_t bu_winusb_drv_open(struct bu_winusb_drv *drv, uint32_t instance, uint32_t *file);
void bu_winusb_drv_close(struct bu_winusb_drv *drv, uint32_t file);
/** Poll the bus once (completions, timeouts, power policy). */
void bu_winusb_drv_poll(struct bu_winusb_drv *drv);

/** The driver struct registered on the bus (for bu_usb_interface.driver checks). */
const struct bu_usb_driver *bu_winusb_drv_driver(const struct bu_winusb_drv *drv);

/* ------------------------------------------------------------------------ */
/* Mappings shared by both halves (pure; exported for tests)                */

/** Win32 error for a bareusb transfer status (0 -> 0, BU_ETIMEDOUT -> 121, ...). */
uint32_t bu_winusb_err_to_win32(int err);
/** USBD_STATUS for an isochronous packet's bareusb status. */
int32_t bu_winusb_err_to_usbd(int err);
/** NTSTATUS stored in OVERLAPPED.Internal for a Win32 error, and back. */
uint32_t bu_winusb_win32_to_ntstatus(uint32_t win32);
uint32_t bu_winusb_ntstatus_to_win32(uint32_t ntstatus);

#ifdef __cplusplus
}
#endif

#endif
