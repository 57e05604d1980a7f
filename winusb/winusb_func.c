/*
 * WinUSB driver part: the driver object and the functions it binds. Holds
 * the helpers every driver file uses (clock, allocation, log, bounded
 * waits), the class driver hooks that create and drop functions (probe,
 * remove, poll), the files (open/close, the CreateFile analogue) and the
 * driver's lifetime and transport. Reads top to bottom:
 *   helpers -> functions -> class driver hooks -> files -> lifetime and
 *   transport.
 */
#include <stdarg.h>

#include "winusb_priv.h"

#include "bareusb/errors.h"
#include "bareusb/util.h"

/* ======================================================================== */
/* Helpers                                                                  */
/* ======================================================================== */

uint64_t bu_wu_now_us(struct bu_winusb_drv *drv)
{
	return drv->plat->now_us(drv->plat->ctx);
}

void *bu_wu_zalloc(struct bu_winusb_drv *drv, size_t size)
{
	void *p = drv->plat->alloc ? drv->plat->alloc(drv->plat->ctx, size) : NULL;

	if (p)
		bu_memset(p, 0, size);
	return p;
}

void bu_wu_free(struct bu_winusb_drv *drv, void *p, size_t size)
{
	if (p && drv->plat->free)
		drv->plat->free(drv->plat->ctx, p, size);
}

/** Argument of wait_idle: the caller's busy test, inverted for bu_usb_bus_wait. */
struct wait_arg {
	bool (*busy)(void *arg);
	void *arg;
};

static bool wait_idle(void *arg)
{
	const struct wait_arg *w = arg;

	return !w->busy(w->arg);
}

/** Wait (bu_usb_bus_wait) until busy(arg) is false or `ms` pass. True when it cleared. */
bool bu_wu_wait_while(struct bu_winusb_drv *drv, bool (*busy)(void *arg), void *arg,
		       uint32_t ms)
{
	struct wait_arg w = { busy, arg };

	bu_usb_bus_wait(drv->bus, wait_idle, &w, bu_wu_now_us(drv) + (uint64_t)ms * 1000);
	return !busy(arg);
}

/* ======================================================================== */
/* Deferred work                                                            */
/* ======================================================================== */

void bu_wu_defer(struct bu_winusb_drv *drv)
{
	bu_usb_work_queue(drv->bus, &drv->work);
}

/** The work of one function: due kicks and endpoint resets, then its pending
 * requests. */
static void func_work(struct wu_func *fn)
{
	for (unsigned i = 0; i < fn->num_ifaces; i++) {
		struct wu_iface *wi = &fn->ifaces[i];

		for (unsigned k = 0; k < wi->num_pipes; k++) {
			struct wu_pipe *p = &wi->pipes[k];

			bu_wu_pipe_reset_step(p);
			if (p->kick_due) {
				p->kick_due = false;
				bu_wu_pipe_kick(p);
			}
		}
	}
	bu_wu_ops_run(fn);
	bu_wu_func_maybe_free(fn);
}

/**
 * The driver's deferred work (struct bu_usb_work, run by bu_usb_bus_poll
 * after the controller's events): completions only mark what is due, and
 * the next transfers go down from here, at the poll's depth, whether the
 * function is still bound or not.
 */
static void drv_work(struct bu_usb_work *w)
{
	struct bu_winusb_drv *drv =
	    (struct bu_winusb_drv *)((char *)w -
				     offsetof(struct bu_winusb_drv, work));

	for (unsigned i = 0; i < BU_WINUSB_MAX_FUNCS; i++)
		if (drv->funcs[i])
			func_work(drv->funcs[i]);
}

/* ======================================================================== */
/* Functions                                                                */
/* ======================================================================== */

/**
 * True when a device is "composite" by Windows' rule ("Enumeration of the
 * composite parent device").
 */
static bool dev_is_composite(const struct bu_usb_device *dev)
{
	const struct usb_device_descriptor *d = &dev->desc;
	bool class_ok = d->bDeviceClass == 0 ||
			(d->bDeviceClass == 0xef && d->bDeviceSubClass == 0x02 &&
			 d->bDeviceProtocol == 0x01);

	return class_ok && dev->num_ifaces > 1 && dev->num_configs == 1;
}

/** Free a function that nobody references any more. */
void bu_wu_func_maybe_free(struct wu_func *fn)
{
	struct bu_winusb_drv *drv = fn->drv;

	if (fn->present || fn->nbound || fn->file || fn->outstanding)
		return;
	for (unsigned i = 0; i < BU_WINUSB_MAX_FUNCS; i++)
		if (drv->funcs[i] == fn)
			drv->funcs[i] = NULL;
	for (unsigned i = 0; i < fn->num_ifaces; i++)
		for (unsigned k = 0; k < fn->ifaces[i].num_pipes; k++)
			bu_wu_pipe_drop_carry(&fn->ifaces[i].pipes[k]);
	bu_wu_free(drv, fn->ifaces, sizeof(*fn->ifaces) * fn->num_ifaces);
	bu_wu_free(drv, fn, sizeof(*fn));
}

/** The function of `drv` that already covers interface `intf`, or NULL. */
static struct wu_func *func_covering(struct bu_winusb_drv *drv, struct bu_usb_interface *intf)
{
	for (unsigned i = 0; i < BU_WINUSB_MAX_FUNCS; i++) {
		struct wu_func *fn = drv->funcs[i];

		if (!fn || !fn->present || fn->dev != intf->dev)
			continue;
		for (unsigned k = 0; k < fn->num_ifaces; k++)
			if (fn->ifaces[k].intf == intf)
				return fn;
	}
	return NULL;
}

/** Location string "bus-path" of a device. */
static void dev_location(const struct bu_usb_device *dev, char *buf, size_t size)
{
	struct bu_strbuf sb;
	unsigned tiers = BU_MIN((unsigned)dev->tier, (unsigned)BU_USB_MAX_PATH);

	bu_strbuf_init(&sb, buf, size);
	bu_strbuf_printf(&sb, "%u-", dev->bus->index);
	for (unsigned i = 0; i < tiers; i++)
		bu_strbuf_printf(&sb, "%s%u", i ? "." : "", dev->path[i]);
	if (!tiers)
		bu_strbuf_printf(&sb, "%u", dev->root_port);
}

/**
 * Whether interface `o` belongs to the function created for `intf`: its
 * IAD group, or (whole device) every interface no other driver has.
 */
static bool func_takes(struct bu_winusb_drv *drv, const struct bu_usb_interface *intf,
		       const struct bu_usb_interface *o, bool whole)
{
	if (!whole)
		return o->func_first == intf->func_first;
	return o == intf || !o->driver || o->driver == &drv->driver;
}

/** Create the function for a probed interface. */
static struct wu_func *func_create(struct bu_winusb_drv *drv, struct bu_usb_interface *intf,
				   bool whole, const struct wu_binding *b)
{
	struct bu_usb_device *dev = intf->dev;
	struct wu_func *fn;
	unsigned slot, n = 0;

	for (slot = 0; slot < BU_WINUSB_MAX_FUNCS && drv->funcs[slot]; slot++)
		;
	if (slot == BU_WINUSB_MAX_FUNCS)
		return NULL;
	fn = bu_wu_zalloc(drv, sizeof(*fn));
	if (!fn)
		return NULL;
	fn->drv = drv;
	fn->dev = dev;
	fn->present = true;
	fn->whole_device = whole;
	fn->composite = !whole;
	fn->first = whole ? dev->ifaces[0].number : intf->func_first;
	for (unsigned i = 0; i < dev->num_ifaces; i++)
		if (func_takes(drv, intf, &dev->ifaces[i], whole))
			n++;
	if (!n || n > WU_MAX_IFACES)
		goto err_free;
	fn->ifaces = bu_wu_zalloc(drv, sizeof(*fn->ifaces) * n);
	if (!fn->ifaces)
		goto err_free;
	fn->num_ifaces = (uint8_t)n;
	n = 0;
	for (unsigned i = 0; i < dev->num_ifaces; i++) {
		struct bu_usb_interface *o = &dev->ifaces[i];
		struct wu_iface *wi;

		if (!func_takes(drv, intf, o, whole))
			continue;
		wi = &fn->ifaces[n];
		wi->fn = fn;
		wi->intf = o;
		wi->index = (uint8_t)n;
		wi->number = o->number;
		wi->ctrl.wi = wi;
		wi->ctrl.id = 0;
		bu_wu_policies_default(&wi->ctrl.pol, true);
		n++;
	}
	if (whole)
		fn->first = fn->ifaces[0].number;
	else
		fn->first = intf->func_first;
	fn->instance = ++drv->next_instance;
	fn->vid = dev->desc.idVendor;
	fn->pid = dev->desc.idProduct;
	fn->bcd = dev->desc.bcdDevice;
	fn->speed = dev->speed;
	fn->pw.suspend_delay = 5000; /* WinUsb_SetPowerPolicy's default */
	fn->last_busy_us = bu_wu_now_us(drv);
	dev_location(dev, fn->location, sizeof(fn->location));
	if (dev->have_product)
		bu_snprintf(fn->product, sizeof(fn->product), "%s", dev->product);
	bu_memcpy(fn->compat_id, intf->compat_id, sizeof(fn->compat_id));
	/* An explicit binding without an INF acts as an INF that sets
	 * DeviceIdleEnabled and DeviceIdleIgnoreWakeEnable (its device may
	 * lack remote wakeup); an INF's own values come over that. */
	fn->pw.idle_enabled = b != NULL;
	fn->pw.ignore_wake = b != NULL;
	if (b)
		bu_wu_func_apply_power(fn, &b->power); /* an INF's, when it has them */
	if (b && b->guid[0]) {
		bu_memcpy(fn->guids[0], b->guid, sizeof(b->guid));
		fn->num_guids = 1;
	}
	if (dev->msos) {
		bu_wu_func_apply_msos(fn, dev->msos);
		fn->msos_done = true;
	}
	for (unsigned i = 0; i < fn->num_ifaces; i++)
		bu_wu_iface_build_pipes(&fn->ifaces[i]);
	drv->funcs[slot] = fn;
	return fn;

err_free:
	bu_wu_free(drv, fn, sizeof(*fn));
	return NULL;
}

/* ======================================================================== */
/* Class driver hooks                                                       */
/* ======================================================================== */

/** probe(): bind an interface (and the function it belongs to) to WinUSB. */
static int wu_probe(struct bu_usb_interface *intf, const struct bu_usb_match *m)
{
	const struct wu_binding *b = m ? m->data : NULL;
	struct bu_winusb_drv *drv;
	struct bu_usb_device *dev;
	struct wu_func *fn;
	bool whole;

	if (!b || !b->drv || !intf || !intf->dev)
		return BU_EINVAL;
	drv = b->drv;
	dev = intf->dev;
	/* Windows binds per function only on a composite device;
	 * an INF naming the device ID (no MI_xx) takes the whole device. */
	whole = b->compat ? !dev_is_composite(dev) : b->iface < 0;
	fn = func_covering(drv, intf);
	if (!fn) {
		fn = func_create(drv, intf, whole, b->compat ? NULL : b);
		if (!fn)
			return BU_ENOMEM;
		bu_wu_log(drv, BU_LOG_INFO, "%s %04x:%04x interface %u: bound (%s%s), instance %u",
		     fn->location, fn->vid, fn->pid, fn->first,
		     b->compat ? "compatible ID " : "binding table",
		     b->compat ? fn->compat_id : "", (unsigned)fn->instance);
	}
	fn->nbound++;
	intf->driver_data = fn;
	return 0;
}

/** The device went away or the driver is being unregistered. */
static void func_gone(struct wu_func *fn)
{
	fn->present = false;
	for (unsigned i = 0; i < fn->num_ifaces; i++) {
		struct wu_iface *wi = &fn->ifaces[i];

		for (unsigned k = 0; k < wi->num_pipes; k++)
			bu_wu_pipe_abort(&wi->pipes[k], ERROR_DEVICE_NOT_CONNECTED);
	}
	for (struct wu_req *r = fn->ctrl_reqs; r; r = r->next) {
		bu_wu_req_fail(r, ERROR_DEVICE_NOT_CONNECTED);
		bu_wu_req_cancel_inflight(r);
	}
}

/** remove(): the device is going (or the driver is unregistered). */
static void wu_remove(struct bu_usb_interface *intf)
{
	struct wu_func *fn = intf->driver_data;

	if (!fn)
		return;
	intf->driver_data = NULL;
	if (fn->present) {
		bu_wu_log(fn->drv, BU_LOG_INFO, "%s interface %u: unbound", fn->location, fn->first);
		func_gone(fn);
	}
	for (unsigned i = 0; i < fn->num_ifaces; i++)
		if (fn->ifaces[i].intf == intf)
			fn->ifaces[i].intf = NULL;
	if (fn->nbound)
		fn->nbound--;
	if (!fn->nbound) {
		/* Nothing may touch the device after this. */
		for (unsigned i = 0; i < fn->num_ifaces; i++) {
			fn->ifaces[i].intf = NULL;
			for (unsigned k = 0; k < fn->ifaces[i].num_pipes; k++)
				fn->ifaces[i].pipes[k].ep = NULL;
		}
		fn->dev = NULL;
	}
	bu_wu_func_maybe_free(fn);
}

/** poll(): timer work, once per function per bus poll. */
static void wu_poll(struct bu_usb_interface *intf, uint64_t now)
{
	struct wu_func *fn = intf->driver_data;
	struct bu_usb_interface *first = NULL;

	if (!fn || !fn->present)
		return;
	for (unsigned i = 0; i < fn->num_ifaces && !first; i++)
		first = fn->ifaces[i].intf;
	if (first == intf)
		bu_wu_func_tick(fn, now);
}

/** next_timeout(): the function's timers, asked of its first interface only. */
static uint64_t wu_next_timeout(struct bu_usb_interface *intf, uint64_t now)
{
	struct wu_func *fn = intf->driver_data;

	if (!fn || !fn->present)
		return BU_USB_NO_TIMEOUT;
	for (unsigned i = 0; i < fn->num_ifaces; i++)
		if (fn->ifaces[i].intf)
			return fn->ifaces[i].intf == intf ? bu_wu_func_next_timeout(fn, now)
							  : BU_USB_NO_TIMEOUT;
	return BU_USB_NO_TIMEOUT;
}

/** The rescan helper's probe: it matches nothing. */
static int kick_probe(struct bu_usb_interface *intf, const struct bu_usb_match *m)
{
	(void)intf;
	(void)m;
	return BU_ENOTSUP;
}

/* ======================================================================== */
/* Files (the CreateFile analogue)                                          */
/* ======================================================================== */

/** The open file with id `id`, or NULL (ids carry a generation). */
struct wu_file *bu_wu_file_get(struct bu_winusb_drv *drv, uint32_t id)
{
	uint32_t idx = (id & 0xff) - 1;
	struct wu_file *f;

	if ((id & 0xff) == 0 || idx >= BU_WINUSB_MAX_FILES)
		return NULL;
	f = &drv->files[idx];
	if (!f->used || f->gen != (uint16_t)(id >> 8) || id >> 24)
		return NULL;
	return f;
}

static struct wu_func *func_by_instance(struct bu_winusb_drv *drv, uint32_t instance)
{
	for (unsigned i = 0; i < BU_WINUSB_MAX_FUNCS; i++)
		if (drv->funcs[i] && drv->funcs[i]->instance == instance)
			return drv->funcs[i];
	return NULL;
}

/** bu_winusb_drv_open under the bus's lock. */
static uint32_t drv_open(struct bu_winusb_drv *drv, uint32_t instance, uint32_t *file)
{
	struct wu_func *fn;

	if (!drv || !file)
		return ERROR_INVALID_PARAMETER;
	fn = func_by_instance(drv, instance);
	if (!fn || !fn->present)
		return ERROR_FILE_NOT_FOUND;
	if (fn->file)
		return ERROR_ACCESS_DENIED; /* WinUSB is single-client */
	for (unsigned i = 0; i < BU_WINUSB_MAX_FILES; i++) {
		struct wu_file *f = &drv->files[i];
		uint16_t gen = (uint16_t)(f->gen + 1);

		if (f->used)
			continue;
		bu_memset(f, 0, sizeof(*f));
		f->gen = gen ? gen : 1;
		f->used = true;
		f->fn = fn;
		fn->file = f;
		*file = ((uint32_t)f->gen << 8) | (i + 1);
		return 0;
	}
	return ERROR_NOT_ENOUGH_MEMORY;
}

uint32_t bu_winusb_drv_open(struct bu_winusb_drv *drv, uint32_t instance, uint32_t *file)
{
	uint32_t rc = ERROR_INVALID_PARAMETER;

	if (drv)
		BU_UNDER_LOCK(drv->bus, rc = drv_open(drv, instance, file));
	return rc;
}

static bool func_outstanding(void *arg)
{
	return ((struct wu_func *)arg)->outstanding != 0;
}

/** bu_winusb_drv_close under the bus's lock. */
static void drv_close(struct bu_winusb_drv *drv, uint32_t id)
{
	struct wu_file *f = drv ? bu_wu_file_get(drv, id) : NULL;
	struct wu_func *fn;
	uint16_t gen;

	if (!f)
		return;
	fn = f->fn;
	/* CloseHandle cancels the file's I/O; completions still run first. */
	for (unsigned i = 0; i < fn->num_ifaces; i++)
		for (unsigned k = 0; k < fn->ifaces[i].num_pipes; k++)
			bu_wu_pipe_abort(&fn->ifaces[i].pipes[k], ERROR_OPERATION_ABORTED);
	for (struct wu_req *r = fn->ctrl_reqs; r; r = r->next) {
		bu_wu_req_fail(r, ERROR_OPERATION_ABORTED);
		bu_wu_req_cancel_inflight(r);
	}
	for (struct wu_req *r = fn->op_reqs; r; r = r->next) {
		r->cancelled = true;
		bu_wu_req_fail(r, ERROR_OPERATION_ABORTED);
	}
	bu_wu_defer(drv);
	/* The transport's close is synchronous: it waits here, in its own
	 * call, never inside a request. */
	if (fn->outstanding && !bu_wu_wait_while(drv, func_outstanding, fn, WU_WAIT_MS))
		bu_wu_log(drv, BU_LOG_WARN, "%s: requests still outstanding at close", fn->location);
	gen = f->gen;
	bu_memset(f, 0, sizeof(*f));
	f->gen = gen;
	fn->file = NULL;
	bu_wu_func_maybe_free(fn);
}

void bu_winusb_drv_close(struct bu_winusb_drv *drv, uint32_t id)
{
	if (drv)
		BU_UNDER_LOCK(drv->bus, drv_close(drv, id));
}

/* ======================================================================== */
/* Lifetime and transport                                                   */
/* ======================================================================== */

/** bu_winusb_drv_create under the bus's lock. */
static int drv_create(struct bu_usb_bus *bus, const struct bu_winusb_drv_options *opts,
		      struct bu_winusb_drv **out)
{
	struct bu_winusb_drv *drv;
	int rc;

	if (!bus || !bus->plat || !bus->plat->alloc || !bus->plat->now_us || !out)
		return BU_EINVAL;
	drv = bus->plat->alloc(bus->plat->ctx, sizeof(*drv));
	if (!drv)
		return BU_ENOMEM;
	bu_memset(drv, 0, sizeof(*drv));
	drv->bus = bus;
	drv->plat = bus->plat;
	if (opts)
		drv->opts = *opts;
	drv->max_xfer_hs = drv->opts.max_transfer_size ? drv->opts.max_transfer_size
						       : BU_WINUSB_MAX_XFER_HS;
	drv->max_xfer_hs = BU_MAX(drv->max_xfer_hs & ~0xffffu, 0x10000u);
	drv->max_xfer_fs = BU_MIN(drv->max_xfer_hs, BU_WINUSB_MAX_XFER_FS);
	drv->depth = drv->opts.depth ? BU_MIN(drv->opts.depth, WU_MAX_DEPTH) : 8;
	drv->compat.drv = drv;
	drv->compat.compat = true;
	drv->compat.iface = -1;
	drv->driver.name = "winusb";
	drv->driver.match = drv->match;
	drv->driver.probe = wu_probe;
	drv->driver.remove = wu_remove;
	drv->driver.poll = wu_poll;
	drv->driver.next_timeout = wu_next_timeout;
	drv->work.fn = drv_work;
	drv->kick.name = "winusb-rescan";
	drv->kick.probe = kick_probe;
	bu_wu_rebuild_matches(drv);
	rc = bu_usb_bus_register_driver(bus, &drv->driver);
	if (rc) {
		bu_wu_free(drv, drv, sizeof(*drv));
		return rc;
	}
	*out = drv;
	return 0;
}

int bu_winusb_drv_create(struct bu_usb_bus *bus, const struct bu_winusb_drv_options *opts,
			 struct bu_winusb_drv **out)
{
	int rc = BU_EINVAL;

	if (bus && bus->plat)
		BU_UNDER_LOCK(bus, rc = drv_create(bus, opts, out));
	return rc;
}

/** bu_winusb_drv_destroy under the bus's lock. */
static void drv_destroy(struct bu_winusb_drv *drv)
{
	if (!drv)
		return;
	for (unsigned i = 0; i < BU_WINUSB_MAX_FILES; i++)
		if (drv->files[i].used)
			bu_winusb_drv_close(drv, ((uint32_t)drv->files[i].gen << 8) | (i + 1));
	bu_usb_bus_unregister_driver(drv->bus, &drv->driver);
	for (unsigned i = 0; i < BU_WINUSB_MAX_FUNCS; i++) {
		struct wu_func *fn = drv->funcs[i];

		if (fn && fn->outstanding)
			bu_wu_wait_while(drv, func_outstanding, fn, WU_WAIT_MS);
		fn = drv->funcs[i];
		if (fn) {
			/* Nothing can reach it any more. */
			fn->outstanding = 0;
			fn->file = NULL;
			fn->nbound = 0;
			fn->present = false;
			bu_wu_func_maybe_free(fn);
		}
	}
	bu_usb_work_cancel(drv->bus, &drv->work);
	bu_wu_free(drv, drv, sizeof(*drv));
}

void bu_winusb_drv_destroy(struct bu_winusb_drv *drv)
{
	if (drv)
		BU_UNDER_LOCK(drv->bus, drv_destroy(drv));
}

void bu_winusb_drv_poll(struct bu_winusb_drv *drv)
{
	if (drv)
		bu_usb_bus_poll(drv->bus);
}

const struct bu_usb_driver *bu_winusb_drv_driver(const struct bu_winusb_drv *drv)
{
	return drv ? &drv->driver : NULL;
}

static uint32_t tp_ioctl(void *ctx, const struct bu_winusb_io *io, struct bu_winusb_iores *res)
{
	return bu_winusb_drv_ioctl(ctx, io, res);
}

static uint32_t tp_query(void *ctx, uint32_t index, struct bu_winusb_devinfo *out)
{
	return bu_winusb_drv_query(ctx, index, out);
}

static uint32_t tp_open(void *ctx, uint32_t instance, uint32_t *file)
{
	return bu_winusb_drv_open(ctx, instance, file);
}

static void tp_close(void *ctx, uint32_t file)
{
	bu_winusb_drv_close(ctx, file);
}

static void tp_poll(void *ctx)
{
	bu_winusb_drv_poll(ctx);
}

static uint64_t tp_next_timeout(void *ctx)
{
	return bu_usb_bus_next_timeout(((struct bu_winusb_drv *)ctx)->bus);
}

void bu_winusb_drv_transport(struct bu_winusb_drv *drv, struct bu_winusb_transport *tp)
{
	if (!tp)
		return;
	bu_memset(tp, 0, sizeof(*tp));
	tp->ctx = drv;
	tp->ioctl = tp_ioctl;
	tp->query = tp_query;
	tp->open = tp_open;
	tp->close = tp_close;
	tp->poll = tp_poll;
	tp->next_timeout = tp_next_timeout;
}
