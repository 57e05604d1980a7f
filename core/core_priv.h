/*
 * USB core internals shared by the core's files (bus.c, driver.c, hub.c).
 * Not a public header.
 */
#ifndef BAREUSB_CORE_PRIV_H
#define BAREUSB_CORE_PRIV_H

#include "bareusb/usb.h"
#include "bareusb/util.h"

/** One downstream port's state machine (port.c). */
struct bu_port {
	uint8_t state;        /* enum bu_port_state */
	uint8_t num;          /* port number on its hub (root port number) */
	uint64_t wake_us;     /* timer: look at the port again then, 0 = none */
	uint64_t deadline_us; /* the running reset's deadline */
	/* When the attach sequence entered debounce, the lock wait, reset and
	 * recovery (0: not this time), for the device's timeline. */
	uint64_t t_debounce_us, t_lock_us, t_reset_us, t_recovery_us;
};

/** The core's state of a bus, allocated by bu_usb_bus_start(). */
struct bu_core_bus {
	struct bu_usb_xfer *timed;   /* submitted transfers with a deadline */
	uint32_t frame_hi;           /* frame number extension (bu_usb_frame_number) */
	uint32_t frame_last;
	const void *addr_owner[256]; /* per root port: who has a device at address 0 */
	uint8_t changed[32];         /* root ports reported changed, by bit (bu_usb_bus_poll checks them) */
	/* Removed devices whose transfers the controller driver has not all
	 * given back yet (bu_core_dev_remove), linked by `next`. */
	struct bu_usb_device *dying;
	struct bu_log_line log;      /* bu_core_log's line */
	unsigned lock_depth;         /* levels of the embedder's lock the library holds */
	/* Hot-plug listeners in the order added (bu_usb_add_listener). */
	struct bu_usb_listener *listeners;
	/* The notifications in progress, innermost first: a removed listener
	 * is stepped over by each (bu_usb_remove_listener). */
	struct bu_core_notify *notifying;
	/* Depth of bu_usb_bus_poll / bu_usb_bus_destroy calls running: while
	 * non-zero under the bus lock, the caller is one of their callbacks. */
	unsigned callback_depth;
	/* System sleep (sleep.c). */
	uint8_t sleep_state;         /* enum in sleep.c: awake, suspending, asleep, resuming */
	bool sleep_lost;             /* resume: the controller's state was lost */
	bool sleep_ever;             /* the bus slept at least once */
	unsigned sleep_wake;         /* BU_SLEEP_WAKE_* given to the suspend */
	struct bu_usb_sleep_report sleep_report;
	/* Deferred work queued for the next bu_usb_bus_poll (bu_usb_work_queue), oldest first. */
	struct bu_usb_work *work, *work_tail;
	/* The part of it the poll in progress runs now (run_work). */
	struct bu_usb_work *work_running;
	/* Root ports by number, 1..num_ports (entry 0 unused): bu_usb_bus_start
	 * sizes the allocation by the controller's port count (core_bus_size). */
	struct bu_port root_ports[];
};

/** One notification walking the listeners (on its caller's stack). */
struct bu_core_notify {
	struct bu_usb_listener *next; /* the listener to tell next */
	struct bu_core_notify *outer; /* the notification this one runs inside */
};

/**
 * A device as the core holds it: the public part, then the state no one
 * outside the core reads (enumeration, power management, the address
 * lock). The core allocates this; bu_core_dev() reaches it from the
 * public pointer.
 */
struct bu_core_device {
	struct bu_usb_device pub;
	/* Enumeration (enum.c). */
	uint8_t enum_step;
	uint8_t str_step;    /* which of manufacturer, product, serial */
	uint64_t wake_us;    /* the step's timer, 0 = none */
	int step_status;     /* how the step's request or operation ended (enum.c step_later) */
	struct bu_usb_xfer ctrl; /* the enumeration's control transfer */
	struct bu_usb_dma_buf ctrl_dma; /* its buffer (bu_core_enum_buf), while enumerating */
	bool ctrl_busy;
	int ctrl_status;
	void *msos_fetch;    /* MS OS descriptor fetch in progress */
	bool addr_lock;      /* holds its root port's default-address lock */
	/* Selective suspend (pm.c). */
	uint8_t pm_state;
	uint64_t pm_wake_us; /* next suspend/resume step */
	uint32_t pm_paused;  /* endpoints (by index) stopped for the suspend */
	uint8_t pm_stops;    /* Stop Endpoints still to complete */
	bool pm_wake;        /* resume asked for while stopping or suspending */
	uint8_t pm_checks;   /* hub port status reads waiting for a resume to end */
	bool pm_armed;       /* remote wakeup enabled for this suspend */
	bool pm_by_device;   /* this resume was the device's remote wakeup */
	bool pm_xfer_busy;   /* pm_xfer is out */
	bool pm_disarm;      /* armed, then not suspended after all: disarm from pm_poll */
	bool pm_fwake_wait;  /* USB 3 device-initiated U3 exit: its Function Wake is awaited */
	uint64_t pm_fwake_until; /* ...until then (T_FWAKE_WAIT_US after the link left U3) */
	uint16_t pm_wake_if1; /* 1 + the interface whose wake resumed it last, 0 none */
	struct bu_usb_xfer pm_xfer; /* arms and disarms remote wakeup (no data stage) */
	struct bu_usb_xfer *held, *held_tail; /* submitted while suspended */
	/* System sleep (sleep.c). */
	bool sys_wake;       /* may wake the system (bu_usb_device_set_system_wake) */
	bool sleep_member;   /* on the bus when it went to sleep, verdict not told yet */
	void *waiter;        /* a synchronous caller to tell (request.c) */
	void *req_ops;       /* SET_INTERFACE / endpoint resets waiting for Configure Endpoint (request.c) */
	/* TT buffer clears (tt.c), endpoints by index num * 2 + IN (EP0: 0). */
	uint32_t tt_pending; /* CLEAR_TT_BUFFER to send or on its way */
	uint32_t tt_held;    /* paused for it: unpaused when it is done */
	uint32_t tt_second;  /* control endpoints: OUT cleared, IN next */
	uint32_t tt_reset;   /* its clear failed: RESET_TT next */
	uint8_t tt_sending;  /* index + 1 of the one its TT hub is sending, 0 = none */
	/* Data toggle resets the controller driver asked for (toggle.c). */
	struct bu_usb_xfer toggle_xfer; /* the CLEAR_FEATURE(ENDPOINT_HALT) in flight */
	uint32_t toggle_want; /* endpoints (by index) waiting for one */
	uint8_t toggle_idx;   /* the endpoint index of the one in flight, 0 = none */
	bool toggle_back;     /* it came back (toggle_status): bu_core_toggle_poll goes on */
	int toggle_status;
	bu_usb_done_fn toggle_done; /* the controller driver's completion */
};

/** The core's part of a device. */
static inline struct bu_core_device *bu_core_dev(const struct bu_usb_device *dev)
{
	return (struct bu_core_device *)(uintptr_t)dev;
}

/** The bus's log line: NULL before bu_usb_bus_start (logged unformatted). */
static inline struct bu_log_line *bu_core_log_line(struct bu_usb_bus *bus)
{
	return bus->core ? &bus->core->log : NULL;
}

/** Log a formatted line for the bus ("usbN: ..."). */
#define bu_core_log(bus, level, ...) \
	bu_log_emit((bus)->plat, bu_core_log_line(bus), (level), "usb", (bus)->index, __VA_ARGS__)
/** Format a device's path ("3.2") into buf; returns buf. */
const char *bu_core_dev_path(const struct bu_usb_device *dev, char *buf, size_t size);
/** Zeroed allocation through the platform; NULL on failure. */
void *bu_core_alloc(struct bu_usb_bus *bus, size_t size);
/** Free what bu_core_alloc returned (NULL is fine). */
void bu_core_free(struct bu_usb_bus *bus, void *p, size_t size);
/** The platform clock. */
uint64_t bu_core_now(struct bu_usb_bus *bus);
/**
 * bu_usb_control with the data stage in `data` (mapped by the controller
 * driver) or, when `dma` is given, in that DMA buffer.
 */
int bu_core_control(struct bu_usb_device *dev, uint8_t bm_request_type,
		    uint8_t b_request, uint16_t w_value, uint16_t w_index,
		    void *data, const struct bu_usb_dma_buf *dma, uint16_t w_length,
		    uint32_t timeout_ms);

/**
 * Create a device at `port` of `parent` (NULL: a root port) and start its
 * enumeration; `from` (may be NULL) is its port's machine, whose attach
 * phases open the device's timeline. Returns the device or NULL when out
 * of memory.
 */
struct bu_usb_device *bu_core_dev_attach(struct bu_usb_bus *bus,
				     struct bu_usb_device *parent, unsigned port,
				     enum bu_usb_speed speed, const struct bu_port *from);
/**
 * Remove a device and its subtree: off the bus at once, then, once the
 * controller driver has given back its transfers (dev_disable's done),
 * its drivers' remove() and free.
 */
void bu_core_dev_remove(struct bu_usb_bus *bus, struct bu_usb_device *dev);

/**
 * Open the endpoints of one alternate setting in free endpoint slots
 * (dev->eps[] indexes already taken are skipped). Returns the mask of
 * endpoint indexes opened. The controller is not told: see dev_configure.
 */
uint32_t bu_core_open_alt(struct bu_usb_device *dev,
			  const struct bu_usb_config_info *cfg,
			  const struct bu_usb_alt_info *alt);

/**
 * The device is being removed: the SET_INTERFACEs and endpoint resets
 * still waiting for their Configure Endpoint end with BU_ENODEV now (the
 * controller driver does not call back for a removed device).
 */
void bu_core_req_ops_gone(struct bu_usb_device *dev);

/** A synchronous caller waiting for a device operation (on its stack). */
struct bu_core_waiter {
	bool done;
	int status;
};

/**
 * Wait until *done or `timeout_ms` passed (BU_ETIMEDOUT then): the
 * synchronous API's one wait, bu_usb_bus_wait (polls, sleeps through the
 * platform's wait hook). Must not be called from a completion callback
 * nor with the lock held.
 */
int bu_core_wait(struct bu_usb_bus *bus, const bool *done, uint32_t timeout_ms);
/** bu_core_wait with an absolute deadline (BU_USB_NO_TIMEOUT: none of its own). */
int bu_core_wait_until(struct bu_usb_bus *bus, const bool *done, uint64_t deadline_us);

/** Tell the bus's events and listeners that a device finished enumeration. */
void bu_core_notify_added(struct bu_usb_device *dev);
/** Tell the bus's events and listeners that an announced device is going away. */
void bu_core_notify_removed(struct bu_usb_device *dev);
/**
 * True when the caller runs inside a callback of bu_usb_bus_poll or
 * bu_usb_bus_destroy on this bus (the synchronous API refuses then).
 */
bool bu_core_in_callback(struct bu_usb_bus *bus);

/**
 * The weight with which rule `m` matches a device and one alternate
 * setting `alt` of its interface (compatible ID `compat`, "" or NULL when
 * none), or -1 when a field it names differs. With `alt` NULL only the
 * device fields can match.
 */
int bu_core_match_score(const struct bu_usb_device *dev, const struct bu_usb_alt_info *alt,
			const char *compat, const struct bu_usb_match *m);
/**
 * Parse a port path string ("3.2": decimal 1..255 without leading zeros,
 * dot-separated) into out; returns its length, 0 when it is malformed.
 */
unsigned bu_core_path_parse(const char *path, uint8_t out[BU_USB_MAX_PATH]);

/**
 * A synchronous transfer, allocated per call rather than kept on the
 * caller's stack: its transfer is about 250 bytes, and the caller's stack
 * already carries everything the poll it waits in may run.
 * bu_core_sync_alloc sets xfer.complete and xfer.ctx (the caller sets the
 * rest); bu_core_sync_free frees it once it is done, or leaves it to its
 * completion when the controller still has it (a failed wait).
 */
struct bu_core_sync {
	struct bu_usb_xfer xfer;
	struct bu_usb_bus *bus;
	bool done;
	bool orphan; /* its caller left (controller failed): freed on completion */
};
struct bu_core_sync *bu_core_sync_alloc(struct bu_usb_bus *bus);
void bu_core_sync_free(struct bu_core_sync *s);

/**
 * Submit one transfer on ep (control: with the 8 setup bytes) and wait for
 * it through bu_core_wait: past `timeout_ms` (0: BU_USB_REQUEST_TIMEOUT_MS)
 * it is cancelled, and waited for until the controller gave it back.
 * Returns its status, *actual the bytes moved; after BU_ENODEV the device
 * may be freed. Must not be called from a completion callback.
 */
int bu_core_xfer_wait(struct bu_usb_endpoint *ep, const uint8_t *setup, void *buf, size_t len,
		      uint32_t timeout_ms, size_t *actual);

/** Build dev->ifaces for the active configuration and probe drivers. */
void bu_core_bind_device(struct bu_usb_device *dev);
/** Run remove() of every driver bound to the device, and forget them. */
void bu_core_unbind_device(struct bu_usb_device *dev);
/** Call the poll hook of every bound driver of every device. */
void bu_core_poll_drivers(struct bu_usb_bus *bus, uint64_t now);
/** The earliest next_timeout of the bound drivers' poll hooks (BU_USB_NO_TIMEOUT: none). */
uint64_t bu_core_drivers_next_timeout(struct bu_usb_bus *bus, uint64_t now);

/**
 * A device below a hub failed before it had its own address: the hub
 * disables its port and keeps the root port's address lock until that is
 * done. Returns false when no hub can (the caller releases the lock).
 */
bool bu_core_hub_child_failed(struct bu_usb_device *child);
/**
 * bu_usb_device_reset of a device below a hub: its hub removes it and
 * resets its port once its control pipe is free (hub_run). BU_EBUSY when
 * no running hub serves the port or the port has no enumerated device.
 */
int bu_core_hub_child_reset(struct bu_usb_device *child);

/* Transaction translator buffers (tt.c) */

/** A new device: set dev->tt_hub and dev->tt_port (USB 2.0 §11.14). */
void bu_core_tt_attach(struct bu_usb_device *dev);
/**
 * A transfer came back from the controller (before its callback): after a
 * halt or a cancel that may have left a split in its TT's buffer, hold the
 * endpoint until its hub has sent CLEAR_TT_BUFFER (USB 2.0 §11.17.5).
 */
void bu_core_tt_check(struct bu_usb_xfer *xfer);
/** True while the endpoint waits for its TT buffer to be cleared. */
bool bu_core_tt_waiting(const struct bu_usb_endpoint *ep);
/**
 * For hub device `hub`: the next TT request to send (CLEAR_TT_BUFFER or
 * RESET_TT, class, recipient other, no data): its bRequest, wValue and
 * wIndex; false when none waits. Its end goes to bu_core_tt_sent().
 */
bool bu_core_tt_next(struct bu_usb_device *hub, uint8_t *request, uint16_t *value,
		     uint16_t *index);
/** The request bu_core_tt_next gave ended with `status`; its endpoint may run once all are done. */
void bu_core_tt_sent(struct bu_usb_device *hub, int status);
/** Hub device `hub` will send no more: every endpoint waiting for it runs again. */
void bu_core_tt_drop(struct bu_usb_device *hub);
/** True when a running hub driver serves hub device `hub` (and will send its clears). */
bool bu_core_hub_serves(struct bu_usb_device *hub);

/** Hold a transfer submitted to a suspended/resuming device; false if active. */
bool bu_core_pm_hold(struct bu_usb_xfer *xfer);
/** Cancel a held transfer (completes on resume); false if not held. */
bool bu_core_pm_cancel(struct bu_usb_xfer *xfer, int status);
/** Cancel the held transfers of an endpoint; returns how many. */
int bu_core_pm_abort(struct bu_usb_endpoint *ep, int status);
/** The device is going: finish its held transfers with BU_ENODEV. */
void bu_core_pm_drop(struct bu_usb_device *dev);
/** A root port's fresh status (bus.c): a remote wakeup shows as PLS=Resume. */
void bu_core_pm_root_status(struct bu_usb_bus *bus, unsigned port,
			    const struct bu_usb_port_status *st);
/** Hub driver: the suspend or resume request for `child`'s port completed. */
void bu_core_pm_port_done(struct bu_usb_device *child, int status);
/**
 * Hub driver: a fresh status of `child`'s port says whether it is
 * suspended; `woke` when its suspend (USB 3: link state) change was set.
 */
void bu_core_pm_port_status(struct bu_usb_device *child, bool suspended, bool woke);
/**
 * pm.c: ask the hub above `child` to suspend or resume its port (sent from
 * hub_poll; bu_core_pm_port_done reports the result). BU_ENOTSUP when no
 * running hub driver serves that port.
 */
int bu_core_hub_port_pm(struct bu_usb_device *child, bool suspend);
/** pm.c: have the hub read `child`'s port status (bu_core_pm_port_status). */
void bu_core_hub_port_check(struct bu_usb_device *child);
/** True while a hub has a request in flight or one waiting to go out. */
bool bu_core_hub_busy(struct bu_usb_device *hub);
/** Suspend/resume timers. */
void bu_core_pm_poll(struct bu_usb_bus *bus, uint64_t now);

/**
 * pm.c: the device is suspended with nothing under way (its link in U3,
 * no resume asked for); *armed (when not NULL) whether its remote wakeup
 * is enabled for this suspend.
 */
bool bu_core_pm_settled(const struct bu_usb_device *dev, bool *armed);

/* sleep.c: system sleep */
/**
 * pm.c: whether a suspend may arm the device's remote wakeup: always
 * outside a bus suspend; during one only with its (or, for a hub, a
 * device below it) system-wake flag.
 */
bool bu_core_sleep_may_arm(const struct bu_usb_device *dev);
/** pm.c: while the bus suspends or sleeps, a held transfer does not resume its device. */
bool bu_core_sleep_holding(const struct bu_usb_bus *bus);
/** bus.c: the bus is asleep (the controller halted): no transfer may go to it. */
bool bu_core_sleep_asleep(const struct bu_usb_bus *bus);
/** bus.c: a device told as added is being removed: tell its resume verdict first. */
void bu_core_sleep_removed(struct bu_usb_device *dev);
/** bus.c, poll while asleep: look for a wake; never touches the controller's rings. */
void bu_core_sleep_poll(struct bu_usb_bus *bus);
/**
 * bus.c: read every root port again after a resume (`fresh`: after a
 * re-initialised controller, every port machine starts from empty).
 */
void bu_core_root_rescan(struct bu_usb_bus *bus, bool fresh);

/* Ports (port.c) */

/** States of a downstream port; see port.c for the machine. */
enum bu_port_state {
	BU_PORT_EMPTY = 0,
	BU_PORT_DEBOUNCE,   /* connected, waiting TATTDB */
	BU_PORT_WAIT_LOCK,  /* debounced; the root port tree's default address is taken */
	BU_PORT_RESET,      /* reset started, waiting for the port to enable */
	BU_PORT_RECOVERY,   /* reset done, waiting TRSTRCY */
	BU_PORT_DEVICE,     /* a device was attached to it */
	BU_PORT_FAILED,     /* the reset failed: until the next connection */
	BU_PORT_OVERCURRENT, /* over-current active: left alone until it clears */
	BU_PORT_POWER,      /* over-current over, power back on: settling */
};

struct bu_port_hub;

/** What a port's hub does for the port machine. */
struct bu_port_ops {
	/** Start a port reset (warm: USB 3 BH/warm reset); its end shows in a later status. */
	int (*reset)(struct bu_port_hub *hub, unsigned port, bool warm);
	/**
	 * Optional: switch a port's power back on after an over-current. 0
	 * when switched (the machine waits power_us), non-zero when it cannot.
	 */
	int (*power)(struct bu_port_hub *hub, unsigned port);
};

/** The hub a set of ports belongs to: the root hub or a hub device. */
struct bu_port_hub {
	struct bu_usb_bus *bus;
	struct bu_usb_device *dev;  /**< the hub device, NULL for the root hub */
	const struct bu_port_ops *ops;
	bool links_train;    /**< USB 3 ports come up enabled by link training (xHCI root ports) */
	bool lock_reset;     /**< a reset takes the root port tree's default-address lock */
	uint32_t reset_poll_us; /**< look at a resetting port this often (0: on a change) */
	uint32_t power_us;   /**< power-on settle time after an over-current */
};

/** Feed a port's fresh status (change bits already acknowledged); `timer`: its wake_us fired. */
void bu_port_update(struct bu_port_hub *hub, struct bu_port *port,
		    const struct bu_usb_port_status *st, bool timer);
/** Set a port's state and timer, keeping the bus's busy count and the lock right. */
void bu_port_set(struct bu_port_hub *hub, struct bu_port *port, enum bu_port_state st,
		 uint32_t wait_us);
/**
 * Remove the device on a port and reset the port (not warm), so that the
 * device enumerates again as a new one. BU_EBUSY when the port has no
 * enumerated device, BU_EIO when the reset could not be started.
 */
int bu_port_reenumerate(struct bu_port_hub *hub, struct bu_port *port);
/** Attach a new device of `speed` to a port that finished reset and recovery. */
void bu_port_attach(struct bu_port_hub *hub, struct bu_port *port, enum bu_usb_speed speed);
/** The device attached to a port, or NULL. */
struct bu_usb_device *bu_port_child(const struct bu_port_hub *hub, const struct bu_port *port);

/* Enumeration (enum.c) */

/**
 * Size of a device's enumeration buffer (dev->ctrl_buf): every request the
 * enumeration reads into it fits (strings are read with wLength 255).
 */
#define BU_CORE_CTRL_BUF_LEN 256

/**
 * A device's toggle reset request came back: tell the controller driver
 * and send the next (toggle.c). Run by bu_usb_bus_poll after the
 * controller's events, not from the request's completion.
 */
void bu_core_toggle_poll(struct bu_usb_device *dev);

/**
 * Make the device's enumeration buffer (bu_core_device.ctrl_dma, DMA
 * memory) hold at least `len` bytes; its contents are not kept when it
 * grows. 0 or BU_ENOMEM (the old buffer stays).
 */
int bu_core_enum_buf(struct bu_usb_device *dev, struct bu_usb_bus *bus, size_t len);
/** Start enumerating a new device (its port is reset and recovered). */
void bu_core_enum_start(struct bu_usb_device *dev);
/** The device's enumeration timer (bu_core_device.wake_us) fired, or its step's request came back (step_status). */
void bu_core_enum_timer(struct bu_usb_device *dev);
/** End enumeration: configured (err 0, drivers bound) or failed with err. */
void bu_core_enum_finish(struct bu_usb_device *dev, int err);
/** Free enumeration scratch state of a device being destroyed. */
void bu_core_enum_free(struct bu_usb_device *dev);
/** Name of the step the device's enumeration is at (or stopped at). */
const char *bu_core_enum_step_name(const struct bu_usb_device *dev);
/** Give up the root port's default-address lock, if this device holds it. */
void bu_core_addr_unlock(struct bu_usb_device *dev);

/* Timeline (timeline.c) */

/**
 * Begin timeline step `step` (enum bu_usb_step) at `now`, ending the one
 * running; the same step again goes on as one entry. True when a new
 * entry was opened.
 */
bool bu_core_step_begin(struct bu_usb_device *dev, unsigned step, uint64_t now);
/** Forget the entry bu_core_step_begin just opened: the one before it runs on. */
void bu_core_step_undo(struct bu_usb_device *dev);
/** End the running step at `now` (enumeration over). */
void bu_core_step_end(struct bu_usb_device *dev, uint64_t now);
/** Open a new device's timeline with its port's attach phases. */
void bu_core_steps_from_port(struct bu_usb_device *dev, const struct bu_port *port);

/** The built-in hub class driver. */
extern const struct bu_usb_driver bu_usb_hub_driver;

#endif
