/*
 * bareusb WinUSB internals shared by the files of winusb/ (and the unit
 * tests). Not a public header. Reads top to bottom: the pure policy rules
 * (winusb_policy.c) -> the driver's objects -> requests -> the functions
 * the driver files share, file by file.
 */
#ifndef BAREUSB_WINUSB_PRIV_H
#define BAREUSB_WINUSB_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bareusb/msos.h"
#include "bareusb/usb.h"
#include "bareusb/util.h"
#include "bareusb/winusb_drv.h"
#include "bareusb/winusb_ioctl.h"

/* Win32 codes, policy ids and USBD_STATUS values; the library itself never
 * uses the Microsoft-named wrappers (they need the embedder's
 * bu_winusb_current()). */
#define BU_WINUSB_NO_WINUSB_NAMES
#define BU_WINUSB_NO_WIN32_HELPERS
#include "bareusb/winusb.h"
#include "bareusb/winusbio.h"
#include "bareusb/wintypes.h"

/* ======================================================================== */
/* Pure policy rules (winusb_policy.c)                                      */
/* ======================================================================== */

#define WU_CTRL_TIMEOUT_MS BU_USB_REQUEST_TIMEOUT_MS /**< default PIPE_TRANSFER_TIMEOUT of PipeID 0: the request limit */

/** The pipe policies of one pipe ("WinUSB functions for pipe policy modification"). */
struct wu_policies {
	uint8_t short_packet_terminate;
	uint8_t auto_clear_stall;
	uint8_t ignore_short_packets;
	uint8_t allow_partial_reads;
	uint8_t auto_flush;
	uint8_t raw_io;
	uint8_t reset_pipe_on_resume;
	uint32_t timeout_ms;
};

/** Defaults: ALLOW_PARTIAL_READS on, timeout 5000 ms on the control pipe, else all off. */
/** Idle-suspend state of a function that its power values decide. */
struct wu_power {
	bool idle_enabled;    /**< DeviceIdleEnabled */
	bool ignore_wake;     /**< DeviceIdleIgnoreWakeEnable */
	bool system_wake;     /**< SystemWakeEnabled: handed to the core (bu_usb_device_set_system_wake) */
	bool user_idle_off;   /**< the user turned idle off where UserSetDeviceIdleEnabled lets them */
	uint8_t auto_suspend; /**< AUTO_SUSPEND */
	uint32_t suspend_delay; /**< SUSPEND_DELAY, ms */
};
/** Apply power values over `p` (which holds the defaults) by the documented precedence. */
void bu_wu_power_apply(struct wu_power *p, const struct bu_winusb_power_settings *s);
/**
 * Whether an idle function may be suspended ("WinUSB power management"):
 * AUTO_SUSPEND counts only with DeviceIdleEnabled and not turned off by the
 * user; a device without remote wakeup only with DeviceIdleIgnoreWakeEnable.
 */
bool bu_wu_power_may_suspend(const struct wu_power *p, bool remote_wake);
struct wu_func;
/** Power values (MS OS 2.0 registry properties now, an INF later) over a function's. */
void bu_wu_func_apply_power(struct wu_func *fn, const struct bu_winusb_power_settings *s);
void bu_wu_policies_default(struct wu_policies *p, bool control_pipe);
/** Value size of a pipe policy type (1 or 4), 0 when unknown. */
unsigned bu_wu_policy_size(uint32_t type);
/**
 * SetPipePolicy: checks type and ValueLength and stores `value` (a UCHAR
 * policy takes the low byte as a boolean). Returns 0 or
 * ERROR_INVALID_PARAMETER (unknown type, wrong length, read-only
 * MAXIMUM_TRANSFER_SIZE).
 */
uint32_t bu_wu_policies_set(struct wu_policies *p, uint32_t type, uint32_t len, uint32_t value);
/** GetPipePolicy: the value and its size. Returns 0 or ERROR_INVALID_PARAMETER. */
uint32_t bu_wu_policies_get(const struct wu_policies *p, uint32_t type, uint32_t max_xfer,
			 uint32_t *value, uint32_t *size);

/**
 * RAW_IO rule: a read must be a non-zero multiple of wMaxPacketSize and at
 * most MAXIMUM_TRANSFER_SIZE. 0 or ERROR_INVALID_PARAMETER.
 */
uint32_t bu_wu_raw_io_check(uint32_t len, uint16_t mps, uint32_t max_xfer);

/**
 * Next piece of a queued (non-RAW_IO) read with `remaining` bytes to go:
 * whole packets straight into the caller's buffer (at most max_xfer), or,
 * below one packet, one packet into the pipe's bounce buffer (*tail set):
 * WinUSB rounds reads up to wMaxPacketSize.
 */
uint32_t bu_wu_read_piece(uint32_t remaining, uint16_t mps, uint32_t max_xfer, bool *tail);

/** What to do with a bounce-buffer packet of `got` bytes when `remaining` were wanted. */
struct wu_tail {
	uint32_t to_user;  /**< bytes to copy to the caller */
	uint32_t excess;   /**< bytes beyond what the caller asked for */
	bool keep;         /**< keep the excess for the next read (AUTO_FLUSH off) */
	uint32_t status;   /**< ERROR_GEN_FAILURE when ALLOW_PARTIAL_READS is off */
};
void bu_wu_tail_plan(uint32_t got, uint32_t remaining, const struct wu_policies *p,
		  struct wu_tail *out);

/** Pieces of a write of `len` bytes (0 -> one ZLP) plus a trailing ZLP when SPT says so. */
uint32_t bu_wu_write_pieces(uint32_t len, uint16_t mps, uint32_t max_xfer,
			 const struct wu_policies *p, bool *zlp);

/**
 * Most packets one isochronous request may carry: 255 at full speed, 1024
 * at high speed and SuperSpeed, as Windows limits an isochronous URB
 * ("How to transfer data to USB isochronous endpoints").
 */
uint32_t bu_wu_isoch_max_packets(enum bu_usb_speed speed);

/**
 * Isochronous packetisation: bytes per packet and packet count for a
 * transfer of `length` bytes at `bpi` bytes per interval. Writes: full
 * intervals, the last may be short. Reads: `npackets` given, length split
 * evenly (the last takes the rest); each must fit an interval. The count
 * stays within bu_wu_isoch_max_packets(speed). Returns 0 or
 * ERROR_INVALID_PARAMETER.
 */
uint32_t bu_wu_isoch_plan(enum bu_usb_speed speed, bool in, uint32_t length, uint32_t npackets,
			  uint32_t bpi, uint32_t *count, uint32_t *per);

/**
 * Size of an object of `head` bytes followed by `n` elements of `elem`
 * bytes, into *size; false when that does not fit a size_t (32-bit
 * embedders).
 */
bool bu_wu_array_size(size_t head, size_t n, size_t elem, size_t *size);
/** 1 ms frames that `packets` service intervals take (speed-dependent interval). */
uint32_t bu_wu_isoch_frames(enum bu_usb_speed speed, uint8_t interval, uint32_t packets);

/* ======================================================================== */
/* Driver objects (winusb_func.c and the other driver files)               */
/* ======================================================================== */

#define WU_MAX_PIPES 30   /**< endpoints per alternate setting */
#define WU_MAX_IFACES 32  /**< interfaces per function */
#define WU_MAX_ISOCH 16   /**< registered isoch buffers per file */
#define WU_MAX_TIMESYNC 4 /**< time-sync trackers per file */
#define WU_MAX_DEPTH 32
#define WU_WAIT_MS 5000   /**< bound of the driver's own synchronous waits */

struct wu_func;
struct wu_file;
struct wu_req;

/** One pipe (endpoint of the current alternate setting, or PipeID 0). */
struct wu_pipe {
	struct wu_iface *wi;
	struct bu_usb_endpoint *ep; /**< NULL for the control pipe's policy holder */
	uint8_t id;                 /**< bEndpointAddress */
	uint8_t type;               /**< enum bu_usb_ep_type */
	uint8_t interval;           /**< bInterval */
	uint16_t mps;               /**< max packet size in bytes */
	uint32_t bpi;               /**< bytes per service interval */
	struct wu_policies pol;
	struct wu_req *head, *tail; /**< accepted, not yet given back (FIFO) */
	unsigned inflight;          /**< transfers on the bus */
	bool halted;                /**< a stall seen, no ResetPipe yet */
	bool clearing;              /**< AUTO_CLEAR_STALL: CLEAR_FEATURE under way */
	bool resetting;             /**< RESET_PIPE_ON_RESUME: transfers pulled back for a reset */
	bool reset_want;            /**< RESET_PIPE: reset once its aborted transfers are back */
	bool reset_busy;            /**< the core's endpoint reset is under way (bu_usb_reset_endpoint_async) */
	int reset_status;           /**< how the last endpoint reset ended (BU_E*) */
	bool kick_due;              /**< a completion asked for a kick: the driver's work runs it */
	struct wu_req *clear_req;   /**< the failed request it holds back */
	struct bu_usb_xfer clear_xfer;
	uint8_t *carry;             /**< bounce/carry buffer (one packet): carry_dma.cpu */
	struct bu_usb_dma_buf carry_dma; /**< its DMA memory (the tail read lands there) */
	uint32_t carry_off, carry_len;
	bool carry_short;           /**< the carried bytes ended a short transfer */
	uint32_t next_frame;        /**< isoch: frame after the last scheduled */
	bool stream;                /**< isoch: next_frame is meaningful */
};

/** One interface of a bound function. */
struct wu_iface {
	struct wu_func *fn;
	struct bu_usb_interface *intf; /**< core's interface (NULL once gone) */
	uint8_t index;                 /**< position in the function */
	uint8_t number;                /**< bInterfaceNumber */
	uint8_t num_pipes;
	struct wu_pipe ctrl;           /**< PipeID 0: its policies */
	struct wu_pipe pipes[WU_MAX_PIPES];
	bool alt_busy;                 /**< SET_ALT under way (bu_usb_set_interface_async) */
	/** bu_wu_iface_build_pipes' scratch: the previous pipes' IDs and policies. */
	struct wu_pipe_keep {
		uint8_t id;
		struct wu_policies pol;
	} keep[WU_MAX_PIPES];
};

/** A function bound to WinUSB (a Windows device node). */
struct wu_func {
	struct bu_winusb_drv *drv;
	struct bu_usb_device *dev;  /**< NULL once the device went away */
	uint32_t instance;
	bool present;
	bool whole_device;
	bool composite;
	uint8_t first;              /**< bInterfaceNumber of the default interface */
	uint8_t num_ifaces;
	uint8_t nbound;             /**< interfaces whose probe joined it */
	uint16_t vid, pid, bcd;
	enum bu_usb_speed speed;
	struct wu_iface *ifaces;    /**< [num_ifaces], platform-allocated */
	struct wu_file *file;       /**< the single client, or NULL */
	unsigned outstanding;       /**< requests not given back yet */
	struct wu_req *ctrl_reqs;   /**< control requests in flight */
	struct wu_req *op_reqs;     /**< pending requests that wait for the bus (RQ_OP) */
	char location[24];
	char product[64];
	char compat_id[9];
	bool msos_done;             /**< GUIDs/power values looked up */
	uint8_t num_guids;
	char guids[BU_WINUSB_MAX_GUIDS][BU_WINUSB_GUID_LEN + 1];
	/* power policy ("WinUSB power management") */
	struct wu_power pw;         /**< AUTO_SUSPEND, SUSPEND_DELAY and what rules them */
	bool suspended;
	uint64_t last_busy_us;
	unsigned resumes, suspends;
};

/** A registered isochronous buffer. */
struct wu_isoch_buf {
	bool used;
	uint16_t gen;
	uint8_t iface, pipe;
	uint8_t *buf;
	uint32_t len;
	unsigned busy;              /**< requests using it */
};

/** An open file (one client of one function). */
struct wu_file {
	bool used;
	uint16_t gen;
	struct wu_func *fn;
	uint32_t open_mask;         /**< interface indexes claimed */
	struct wu_isoch_buf isoch[WU_MAX_ISOCH];
	uint8_t timesync[WU_MAX_TIMESYNC]; /**< ids in use (0 = free) */
};

/** One registered binding (the INF analogue). */
struct wu_binding {
	struct bu_winusb_drv *drv;
	bool compat;                /**< the MS OS compatible-ID rule */
	uint16_t vid, pid;
	int16_t iface;              /**< -1: the whole device */
	char guid[BU_WINUSB_GUID_LEN + 1]; /**< "" = none */
	struct bu_winusb_power_settings power; /**< an INF's .HW values (set 0: none) */
};

/** One request from the API part, as its handler sees it. */
struct wu_ioctx {
	struct bu_winusb_drv *drv;
	struct wu_file *f;                    /**< the caller's open file */
	struct wu_func *fn;                   /**< its function */
	struct wu_iface *wi;                  /**< the claimed interface it names, or NULL */
	const struct bu_winusb_ioparams *prm; /**< the caller's parameter block, copied once */
	const struct bu_winusb_io *io;
	struct bu_winusb_iores *res;          /**< zeroed before the handler runs */
};

struct bu_winusb_drv {
	struct bu_usb_bus *bus;
	const struct bu_platform *plat;
	struct bu_winusb_drv_options opts;
	uint32_t max_xfer_hs, max_xfer_fs;
	unsigned depth;
	struct bu_usb_driver driver;      /**< registered on the bus */
	struct bu_usb_driver kick;        /**< matches nothing: re-offers interfaces */
	struct bu_usb_match match[BU_WINUSB_MAX_BINDINGS + 1];
	struct wu_binding bindings[BU_WINUSB_MAX_BINDINGS];
	struct wu_binding compat;         /**< match data of the "WINUSB" rule */
	unsigned num_bindings;
	struct wu_func *funcs[BU_WINUSB_MAX_FUNCS];
	struct wu_file files[BU_WINUSB_MAX_FILES];
	uint32_t next_instance;
	struct bu_log_line log;           /**< bu_wu_log's line */
	/** Deferred work (bu_usb_work_queue): kicks and pending requests, run at poll depth. */
	struct bu_usb_work work;
};

/* ======================================================================== */
/* Requests (winusb_pipe.c)                                                 */
/* ======================================================================== */

/** What a request does. */
enum wu_req_kind { RQ_READ, RQ_WRITE, RQ_CONTROL, RQ_ISOCH, RQ_OP };
/**
 * What a pending RQ_OP request waits for before it completes (the IRP
 * marked pending; the driver's work completes it, never a wait inside the
 * request).
 */
enum wu_op {
	OP_ABORT = 1,  /**< ABORT_PIPE: the pipe's aborted requests are back */
	OP_RESET,      /**< RESET_PIPE: those, then the endpoint reset */
	OP_SET_ALT,    /**< SET_ALT: bu_usb_set_interface_async's done */
	OP_CLOSE,      /**< CLOSE_INTERFACE: every pipe of the interface quiet */
	OP_UNREGISTER, /**< ISOCH_UNREGISTER: the buffer's requests are back */
};
/** What one transfer of a request carries. */
enum wu_slot_kind { SL_DATA, SL_TAIL, SL_ZLP, SL_ISOCH };

/** One transfer of a request. */
struct wu_slot {
	struct bu_usb_xfer x;
	struct wu_req *req;
	uint32_t off;   /**< data: offset in the caller's buffer; isoch: packet */
	uint32_t len;
	uint8_t kind;
	bool busy;
};

/** A request accepted by the driver (the IRP). */
struct wu_req {
	struct wu_req *next;
	bool cancelled;            /**< cancelled alone (CANCEL): given back out of order */
	struct wu_func *fn;
	struct wu_file *file;
	struct wu_pipe *pipe;      /**< NULL for control requests */
	uint8_t kind;
	uint8_t iface;
	uint8_t *buf;
	uint32_t len;
	uint32_t done;             /**< bytes moved */
	uint32_t next_off;         /**< write: next byte to submit */
	uint32_t pieces_left;      /**< write: pieces not yet submitted (ZLP included) */
	bool zlp;                  /**< write: a trailing ZLP is due */
	bool started;
	bool finished;
	bool held;                 /**< failed read waiting for AUTO_CLEAR_STALL */
	bool op_wait;              /**< queued before a pending ABORT/RESET/CLOSE, which waits for it */
	uint8_t op;                /**< RQ_OP: enum wu_op */
	void *target;              /**< RQ_OP: the isoch buffer of OP_UNREGISTER */
	uint32_t status;           /**< Win32 result */
	uint64_t deadline_us;      /**< 0 = no timeout */
	unsigned inflight;
	size_t size;               /**< bytes allocated */
	/* isochronous */
	struct wu_isoch_buf *ib;
	struct bu_winusb_iso_packet *pkts; /**< caller's descriptors (reads) */
	uint32_t npkts, per, next_pkt, start_frame;
	bool wait_frame;           /**< hold until start_frame is within reach */
	bool at_frame;             /**< first packet scheduled at start_frame */
	unsigned isoch_errors;
	bool isoch_cancelled;
	/* completion */
	bu_winusb_io_done_fn cb;
	void *cb_ctx, *cb_cookie;
	unsigned nslots;
	struct wu_slot slots[];
};

/** Byte `off` of a request's buffer (NULL for a request without one, never NULL + 0). */
static inline uint8_t *bu_wu_req_at(const struct wu_req *r, uint32_t off)
{
	return r->buf ? r->buf + off : NULL;
}

/* ======================================================================== */
/* Driver internals shared between the driver files                         */
/* ======================================================================== */

/* winusb_func.c: helpers, functions, files */

/** The platform clock in microseconds. */
uint64_t bu_wu_now_us(struct bu_winusb_drv *drv);
/** Zeroed memory from the platform table, or NULL; give it back with bu_wu_free. */
void *bu_wu_zalloc(struct bu_winusb_drv *drv, size_t size);
/** Give back `size` bytes from bu_wu_zalloc (NULL is ignored). */
void bu_wu_free(struct bu_winusb_drv *drv, void *p, size_t size);
/** Log a line prefixed "winusbN: " through the platform table. */
#define bu_wu_log(drv, level, ...) \
	bu_log_emit((drv)->plat, &(drv)->log, (level), "winusb", (drv)->bus->index, __VA_ARGS__)
/**
 * Poll the bus while busy(arg) holds, for at most `ms`. Returns true when
 * it stopped being busy. Completions run from inside.
 */
bool bu_wu_wait_while(struct bu_winusb_drv *drv, bool (*busy)(void *arg), void *arg, uint32_t ms);
/** Ask for the driver's deferred work (kicks, pending requests) at the next poll's end. */
void bu_wu_defer(struct bu_winusb_drv *drv);
/** Free a function once nothing (device, binding, file, request) refers to it. */
void bu_wu_func_maybe_free(struct wu_func *fn);
/** The open file with id `id`, or NULL (ids carry a generation). */
struct wu_file *bu_wu_file_get(struct bu_winusb_drv *drv, uint32_t id);

/* winusb_bind.c: MS OS descriptors and bindings */

/** Take a function's GUIDs, compatible ID and power defaults from MS OS descriptors. */
void bu_wu_func_apply_msos(struct wu_func *fn, const struct bu_msos_info *info);
/** Rebuild the class driver's match table from the bindings (the compatible-ID rule last). */
void bu_wu_rebuild_matches(struct bu_winusb_drv *drv);

/* winusb_pipe.c: pipes, requests, the bulk/interrupt engine */

/** True for an IN pipe. */
bool bu_wu_pipe_in(const struct wu_pipe *p);
/** MAXIMUM_TRANSFER_SIZE of a pipe (a multiple of its max packet size). */
uint32_t bu_wu_pipe_max_xfer(const struct wu_pipe *p);
/** Free a pipe's bounce buffer and forget what it carried. */
void bu_wu_pipe_drop_carry(struct wu_pipe *p);
/** (Re)build an interface's pipes from its current alternate setting. */
void bu_wu_iface_build_pipes(struct wu_iface *wi);
/** The pipe with this PipeID in an interface (0: the control pipe), or NULL. */
struct wu_pipe *bu_wu_iface_pipe(struct wu_iface *wi, uint8_t id);
/** Reset an interface's policies to the defaults. */
void bu_wu_iface_reset_policies(struct wu_iface *wi);
/** A request with `nslots` transfer slots, counted outstanding on `fn`; NULL without memory. */
struct wu_req *bu_wu_req_alloc(struct wu_func *fn, unsigned nslots);
/** Fill in a new request's owner, kind, interface and completion from the caller's request. */
void bu_wu_req_bind(struct wu_req *r, struct wu_file *f, uint8_t kind, uint8_t iface,
		    const struct bu_winusb_io *io);
/** Set a request's result unless it already has one. */
void bu_wu_req_fail(struct wu_req *r, uint32_t status);
/** Cancel every transfer of a request still on the bus. */
void bu_wu_req_cancel_inflight(struct wu_req *r);
/** Hand a finished request back to its caller and free it. */
void bu_wu_req_giveback(struct wu_req *r);
/** Start a request's timer once (0: no timeout). */
void bu_wu_req_start(struct wu_req *r, uint32_t timeout_ms);
/**
 * Submit one transfer of a request. Returns 0, BU_ENOSPC (ring full: try
 * again after a completion) or another error (the request has failed).
 */
int bu_wu_slot_submit(struct wu_slot *s, struct bu_usb_endpoint *ep, void *buf, uint32_t len,
		      uint8_t kind, uint32_t off, unsigned flags);
/** Append an accepted request to its pipe's FIFO. */
void bu_wu_pipe_enqueue(struct wu_pipe *p, struct wu_req *r);
/** Put on the bus what a pipe's queue allows, then give back what finished. */
void bu_wu_pipe_kick(struct wu_pipe *p);
/** Abort every request of a pipe; they complete with `status`. */
void bu_wu_pipe_abort(struct wu_pipe *p, uint32_t status);
/** Have a pipe kicked from the driver's work (completions never submit from inside). */
void bu_wu_pipe_kick_later(struct wu_pipe *p);
/** Abort a pipe's requests; a pending request (OP_ABORT, OP_CLOSE) waits for them. */
void bu_wu_pipe_abort_marked(struct wu_pipe *p);
/** True when nothing a pending request waits for is left on the pipe. */
bool bu_wu_pipe_quiet(const struct wu_pipe *p);
/** Start the endpoint reset a pipe waits for, once nothing is on the bus (from the work). */
void bu_wu_pipe_reset_step(struct wu_pipe *p);
/**
 * Pend a request that waits for the bus (RQ_OP, enum wu_op): it completes
 * from the driver's work. Returns ERROR_IO_PENDING or an error.
 */
uint32_t bu_wu_op_pend(const struct wu_ioctx *c, uint8_t op, struct wu_pipe *p, void *target);
/** Complete the pending requests of a function whose wait is over (from the work). */
void bu_wu_ops_run(struct wu_func *fn);
/** Abort the file's pending request started with `cookie`: 0 or ERROR_NOT_FOUND. */
uint32_t bu_wu_file_cancel(struct wu_file *f, const void *cookie);

/* winusb_isoch.c: the isochronous engine */

/** Submit the next packets of a pipe's isochronous requests. */
void bu_wu_isoch_kick(struct wu_pipe *p);
/** Completion of one isochronous packet. */
void bu_wu_isoch_done(struct wu_slot *s);

/* winusb_ctrl.c: control requests */

/** Completion of a control request: it is given back at once. */
void bu_wu_ctrl_done(struct wu_slot *s);

/* winusb_power.c: power policy */

/** Resume a suspended function before new work (asynchronous: the work resets pipes). */
void bu_wu_func_resume(struct wu_func *fn);
/** Timer work of a function: isochronous requests waiting for their frame, selective suspend. */
void bu_wu_func_tick(struct wu_func *fn, uint64_t now);
/** By when bu_wu_func_tick must run again (BU_USB_NO_TIMEOUT: nothing due). */
uint64_t bu_wu_func_next_timeout(struct wu_func *fn, uint64_t now);

/* winusb_api.c: helpers of the API part */

/**
 * A GUID as text in registry form: braces, 8-4-4-4-12 upper-case hex
 * digits (e.g. "{88BAE032-5A81-49F0-BC3D-A4FF138216D6}").
 * Out of line (not static) so that the discovery calls, whose stack the
 * driver parts' query runs on, do not carry its formatting frame.
 */
void bu_wu_guid_string(const GUID *g, char out[BU_WINUSB_GUID_LEN + 1]);

/* winusb_ioctl.c: checks shared by the request handlers */

/** ProbeForRead/ProbeForWrite: a caller buffer the driver may use. */
bool bu_wu_range_ok(struct bu_winusb_drv *drv, const void *p, uint32_t len, bool write);
/** The claimed interface `index` of a file, or NULL. */
struct wu_iface *bu_wu_file_iface(struct wu_file *f, uint8_t index);

/*
 * Request handlers (the rows of the table in winusb_ioctl.c). Each gets
 * the request after the checks its row asks for and returns a Win32 code:
 * 0 (done, res filled in), ERROR_IO_PENDING (the completion routine runs
 * later) or an error.
 */
uint32_t bu_wu_ioc_read_pipe(const struct wu_ioctx *c);
uint32_t bu_wu_ioc_write_pipe(const struct wu_ioctx *c);
uint32_t bu_wu_ioc_pipe_op(const struct wu_ioctx *c);
uint32_t bu_wu_ioc_control(const struct wu_ioctx *c);
uint32_t bu_wu_ioc_get_descriptor(const struct wu_ioctx *c);
uint32_t bu_wu_ioc_set_alt(const struct wu_ioctx *c);
uint32_t bu_wu_ioc_get_alt(const struct wu_ioctx *c);
uint32_t bu_wu_ioc_isoch_register(const struct wu_ioctx *c);
uint32_t bu_wu_ioc_isoch_unregister(const struct wu_ioctx *c);
uint32_t bu_wu_ioc_isoch_read(const struct wu_ioctx *c);
uint32_t bu_wu_ioc_isoch_write(const struct wu_ioctx *c);
uint32_t bu_wu_ioc_get_frame(const struct wu_ioctx *c);
uint32_t bu_wu_ioc_timesync_start(const struct wu_ioctx *c);
uint32_t bu_wu_ioc_timesync_stop(const struct wu_ioctx *c);

#endif
