/*
 * WinUSB driver part: power policy. A function whose only pending work is
 * IN reads suspends after SUSPEND_DELAY of idleness when AUTO_SUSPEND and
 * DeviceIdleEnabled allow it (and the device has remote wakeup, or
 * DeviceIdleIgnoreWakeEnable says that does not matter), and resumes before new work, resetting the
 * pipes that ask for it (RESET_PIPE_ON_RESUME). Reads top to bottom:
 *   idle rule -> link state -> resume -> timer.
 */
#include "winusb_priv.h"

#include "bareusb/errors.h"

/** True when only bulk/interrupt IN reads are pending (the idle rule of
 * "WinUSB power management"). */
static bool func_idle(struct wu_func *fn)
{
	if (fn->ctrl_reqs)
		return false;
	for (unsigned i = 0; i < fn->num_ifaces; i++) {
		struct wu_iface *wi = &fn->ifaces[i];

		for (unsigned k = 0; k < wi->num_pipes; k++) {
			struct wu_pipe *p = &wi->pipes[k];

			if (p->head && (!bu_wu_pipe_in(p) || p->type == BU_EP_ISOCH))
				return false;
		}
	}
	return true;
}

/**
 * Suspend or resume the link of a function's device: the embedder's hook
 * when it gave one, else the core's selective suspend of the root port.
 * A device is suspended only once every WinUSB function on it is idle and
 * suspended (a composite device's other functions may still be busy).
 */
static int func_set_link(struct wu_func *fn, bool suspend)
{
	struct bu_winusb_drv *drv = fn->drv;

	if (!fn->dev)
		return 0;
	if (drv->opts.suspend)
		return drv->opts.suspend(drv->opts.ctx, fn->dev, suspend);
	if (suspend) {
		for (unsigned i = 0; i < BU_WINUSB_MAX_FUNCS; i++) {
			const struct wu_func *o = drv->funcs[i];

			if (o && o != fn && o->dev == fn->dev && !o->suspended)
				return 0; /* the last one to go idle suspends it */
		}
	}
	return bu_usb_device_suspend(fn->dev, suspend);
}

/**
 * RESET_PIPE_ON_RESUME on an IN pipe whose reads waited through
 * the suspend: take their transfers off the bus without completing them;
 * once they are back the driver's work resets the endpoint
 * (bu_wu_pipe_reset_step) and the queue carries on where it was. Nothing
 * here waits: new work queues behind the reset.
 */
static void pipe_reset_on_resume(struct wu_pipe *p)
{
	if (p->head) {
		if (!bu_wu_pipe_in(p) || p->type == BU_EP_ISOCH || p->clearing)
			return; /* writes and isoch keep a device awake: never here */
		for (struct wu_req *r = p->head; r; r = r->next)
			bu_wu_req_cancel_inflight(r);
	}
	p->resetting = true;
	bu_wu_defer(p->wi->fn->drv);
}

/** Resume a suspended function before new work (writes, control, reads). */
void bu_wu_func_resume(struct wu_func *fn)
{
	struct bu_winusb_drv *drv = fn->drv;

	if (!fn->suspended)
		return;
	fn->suspended = false;
	fn->resumes++;
	func_set_link(fn, false);
	bu_wu_log(drv, BU_LOG_DEBUG, "%s: resumed", fn->location);
	/* RESET_PIPE_ON_RESUME: pipes that lose their toggle. */
	for (unsigned i = 0; i < fn->num_ifaces; i++)
		for (unsigned k = 0; k < fn->ifaces[i].num_pipes; k++) {
			struct wu_pipe *p = &fn->ifaces[i].pipes[k];

			if (p->pol.reset_pipe_on_resume && p->ep)
				pipe_reset_on_resume(p);
		}
}

void bu_wu_func_apply_power(struct wu_func *fn, const struct bu_winusb_power_settings *s)
{
	bu_wu_power_apply(&fn->pw, s);
	/* SystemWakeEnabled: the core arms the device at a bus suspend. */
	if (fn->dev)
		bu_usb_device_set_system_wake(fn->dev, fn->pw.system_wake);
}

/**
 * Whether the policy lets the function suspend when idle: AUTO_SUSPEND
 * under DeviceIdleEnabled, and remote wakeup in the device's configuration
 * (bmAttributes D5) unless DeviceIdleIgnoreWakeEnable says otherwise.
 */
static bool func_may_suspend(const struct wu_func *fn)
{
	const struct bu_usb_device *d = fn->dev;

	return bu_wu_power_may_suspend(&fn->pw, d && d->active_config >= 0 &&
						   (d->configs[d->active_config].attributes & 0x20));
}

uint64_t bu_wu_func_next_timeout(struct wu_func *fn, uint64_t now)
{
	for (unsigned i = 0; i < fn->num_ifaces; i++)
		for (unsigned k = 0; k < fn->ifaces[i].num_pipes; k++)
			if (fn->ifaces[i].pipes[k].type == BU_EP_ISOCH && fn->ifaces[i].pipes[k].head)
				return now + 1000; /* isoch queues are fed frame by frame (1 ms) */
	if (!fn->present || fn->suspended || !func_may_suspend(fn) || !func_idle(fn))
		return BU_USB_NO_TIMEOUT; /* a completion (from poll) changes that */
	return fn->last_busy_us + (uint64_t)fn->pw.suspend_delay * 1000;
}

/** Timer work of a function: selective suspend after SUSPEND_DELAY idle. */
void bu_wu_func_tick(struct wu_func *fn, uint64_t now)
{
	struct bu_winusb_drv *drv = fn->drv;
	int rc;

	for (unsigned i = 0; i < fn->num_ifaces; i++)
		for (unsigned k = 0; k < fn->ifaces[i].num_pipes; k++) {
			struct wu_pipe *p = &fn->ifaces[i].pipes[k];

			if (p->type == BU_EP_ISOCH && p->head)
				bu_wu_pipe_kick(p);
		}
	if (fn->suspended && fn->dev && !drv->opts.suspend && !bu_usb_device_suspended(fn->dev)) {
		/* Resumed under us (its remote wakeup, or another function's
		 * work on a composite device): awake again, idle from now. */
		fn->suspended = false;
		fn->last_busy_us = now;
	}
	if (!fn->present || fn->suspended || !func_may_suspend(fn))
		return;
	if (!func_idle(fn) || now < fn->last_busy_us + (uint64_t)fn->pw.suspend_delay * 1000)
		return;
	fn->suspended = true;
	rc = func_set_link(fn, true);
	if (rc) {
		/* Not now (a transfer of another driver is queued, or the
		 * device is behind a hub): stay active, try again later. */
		fn->suspended = false;
		fn->last_busy_us = now;
		bu_wu_log(drv, BU_LOG_DEBUG, "%s: idle, but not suspended: %s", fn->location,
		     bu_strerror(rc));
		return;
	}
	fn->suspends++;
	bu_wu_log(drv, BU_LOG_DEBUG, "%s: idle for %u ms, suspended", fn->location, fn->pw.suspend_delay);
}
