/*
 * The WinUSB driver part (Winusb.sys analogue): a class driver that binds
 * functions (by MS OS compatible ID "WINUSB" or the explicit binding
 * table), keeps per-pipe request queues and policies, and serves the
 * requests of bareusb/winusb_ioctl.h. Reads top to bottom:
 *   helpers -> functions, interfaces, pipes -> requests and giveback ->
 *   bulk/interrupt engine -> isochronous engine -> control requests ->
 *   abort/reset/flush -> power policy -> class driver hooks -> files ->
 *   request validation and dispatch -> discovery, bindings -> lifetime.
 *
 * Semantics follow reference/winusb.md §4-§8: per-pipe FIFO completion;
 * reads rounded up to wMaxPacketSize with the excess kept or dropped;
 * without RAW_IO one read on the bus per pipe, with RAW_IO every read goes
 * down at once; writes split at MAXIMUM_TRANSFER_SIZE with several pieces
 * (and, without a pipe timeout, several requests) on the bus at once;
 * ZLPs per SHORT_PACKET_TERMINATE; timeouts counted from the moment a
 * request reaches the bus; AUTO_CLEAR_STALL resets the pipe before the
 * failed read completes, otherwise the pipe stays failed until ResetPipe.
 */
#include <stdarg.h>

#include "winusb_priv.h"

#include "bareusb/ch9.h"
#include "bareusb/desc.h"
#include "bareusb/errors.h"
#include "bareusb/util.h"

/* ======================================================================== */
/* Helpers                                                                  */
/* ======================================================================== */

static uint64_t now_us(struct bu_winusb_drv *drv)
{
	return drv->plat->now_us(drv->plat->ctx);
}

static void *zalloc(struct bu_winusb_drv *drv, size_t size)
{
	void *p = drv->plat->alloc ? drv->plat->alloc(drv->plat->ctx, size) : NULL;

	if (p)
		bu_memset(p, 0, size);
	return p;
}

static void release(struct bu_winusb_drv *drv, void *p, size_t size)
{
	if (p && drv->plat->free)
		drv->plat->free(drv->plat->ctx, p, size);
}

__attribute__((format(printf, 3, 4))) static void wlog(struct bu_winusb_drv *drv,
						       enum bu_log_level level,
						       const char *fmt, ...)
{
	char line[160];
	va_list ap;
	int n;

	if (!drv->plat->log)
		return;
	n = bu_snprintf(line, sizeof(line), "winusb%u: ", drv->bus->index);
	va_start(ap, fmt);
	bu_vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	va_end(ap);
	drv->plat->log(drv->plat->ctx, level, line);
}

/** Poll the bus until *flag is false or `ms` pass. Returns true when it cleared. */
static bool wait_while(struct bu_winusb_drv *drv, bool (*busy)(void *arg), void *arg,
		       uint32_t ms)
{
	uint64_t deadline = now_us(drv) + (uint64_t)ms * 1000;

	while (busy(arg)) {
		if (bu_usb_bus_poll(drv->bus) == BU_ESHUTDOWN && busy(arg))
			return false;
		if (now_us(drv) >= deadline)
			return !busy(arg);
	}
	return true;
}

/* ======================================================================== */
/* Functions, interfaces, pipes                                             */
/* ======================================================================== */

static bool is_in(const struct wu_pipe *p)
{
	return (p->id & USB_DIR_IN) != 0;
}

/** MAXIMUM_TRANSFER_SIZE of a pipe. */
static uint32_t pipe_max_xfer(const struct wu_pipe *p)
{
	const struct bu_winusb_drv *drv = p->wi->fn->drv;
	uint32_t max = p->wi->fn->speed >= BU_SPEED_HIGH ? drv->max_xfer_hs : drv->max_xfer_fs;

	if (p->mps && max % p->mps)
		max -= max % p->mps;
	return max;
}

/** Free a pipe's bounce buffer. */
static void pipe_drop_carry(struct wu_pipe *p)
{
	struct bu_winusb_drv *drv = p->wi->fn->drv;

	if (p->carry)
		release(drv, p->carry, p->mps);
	p->carry = NULL;
	p->carry_len = p->carry_off = 0;
	p->carry_short = false;
}

/**
 * (Re)build an interface's pipes from its current alternate setting.
 * Pipes whose PipeID stays keep their policies (a documented gap, §15.3);
 * new ones start with the defaults.
 */
static void iface_build_pipes(struct wu_iface *wi)
{
	struct wu_func *fn = wi->fn;
	const struct bu_usb_config_info *cfg;
	const struct bu_usb_alt_info *alt;
	struct wu_pipe old[WU_MAX_PIPES];
	unsigned nold = wi->num_pipes;

	bu_memcpy(old, wi->pipes, sizeof(old));
	for (unsigned i = 0; i < nold; i++)
		if (old[i].carry)
			pipe_drop_carry(&wi->pipes[i]);
	bu_memset(wi->pipes, 0, sizeof(wi->pipes));
	wi->num_pipes = 0;
	if (!fn->present || !wi->intf || !fn->dev || fn->dev->active_config < 0)
		return;
	cfg = &fn->dev->configs[fn->dev->active_config];
	alt = wi->intf->info;
	for (unsigned e = 0; alt && e < alt->num_eps && wi->num_pipes < WU_MAX_PIPES; e++) {
		const struct bu_usb_ep_info *info = bu_desc_alt_ep(cfg, alt, e);
		struct wu_pipe *p;

		if (!info)
			continue;
		p = &wi->pipes[wi->num_pipes++];
		p->wi = wi;
		p->id = info->address;
		p->type = USB_ENDPOINT_XFERTYPE(info->attributes);
		p->interval = info->interval;
		p->ep = bu_usb_find_endpoint(fn->dev, info->address);
		p->mps = p->ep ? p->ep->mps : (uint16_t)USB_ENDPOINT_MAXP(info->max_packet);
		p->bpi = p->mps;
		if (p->ep && p->ep->max_esit &&
		    (p->type == BU_EP_ISOCH || p->type == BU_EP_INTERRUPT))
			p->bpi = p->ep->max_esit;
		bu_wu_policies_default(&p->pol, false);
		for (unsigned k = 0; k < nold; k++)
			if (old[k].id == p->id)
				p->pol = old[k].pol;
	}
}

/** The pipe with this PipeID in an interface (0: the control pipe), or NULL. */
static struct wu_pipe *iface_pipe(struct wu_iface *wi, uint8_t id)
{
	if (id == 0)
		return &wi->ctrl;
	for (unsigned i = 0; i < wi->num_pipes; i++)
		if (wi->pipes[i].id == id)
			return &wi->pipes[i];
	return NULL;
}

/** Reset an interface's policies to the defaults (WinUsb_Initialize does). */
static void iface_reset_policies(struct wu_iface *wi)
{
	bu_wu_policies_default(&wi->ctrl.pol, true);
	for (unsigned i = 0; i < wi->num_pipes; i++)
		bu_wu_policies_default(&wi->pipes[i].pol, false);
}

/** True when a device is "composite" by Windows' rule (§10.3). */
static bool dev_is_composite(const struct bu_usb_device *dev)
{
	const struct usb_device_descriptor *d = &dev->desc;
	bool class_ok = d->bDeviceClass == 0 ||
			(d->bDeviceClass == 0xef && d->bDeviceSubClass == 0x02 &&
			 d->bDeviceProtocol == 0x01);

	return class_ok && dev->num_ifaces > 1 && dev->num_configs == 1;
}

/** Free a function that nobody references any more. */
static void func_maybe_free(struct wu_func *fn)
{
	struct bu_winusb_drv *drv = fn->drv;

	if (fn->present || fn->nbound || fn->file || fn->outstanding)
		return;
	for (unsigned i = 0; i < BU_WINUSB_MAX_FUNCS; i++)
		if (drv->funcs[i] == fn)
			drv->funcs[i] = NULL;
	for (unsigned i = 0; i < fn->num_ifaces; i++)
		for (unsigned k = 0; k < fn->ifaces[i].num_pipes; k++)
			pipe_drop_carry(&fn->ifaces[i].pipes[k]);
	release(drv, fn->ifaces, sizeof(*fn->ifaces) * fn->num_ifaces);
	release(drv, fn, sizeof(*fn));
}

/* ======================================================================== */
/* Requests                                                                 */
/* ======================================================================== */

enum wu_req_kind { RQ_READ, RQ_WRITE, RQ_CONTROL, RQ_ISOCH };
enum wu_slot_kind { SL_DATA, SL_TAIL, SL_ZLP, SL_ISOCH };

struct wu_req;

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

static void pipe_kick(struct wu_pipe *p);
static void xfer_done(struct bu_usb_xfer *x);

/** A request with `nslots` transfer slots. */
static struct wu_req *req_alloc(struct wu_func *fn, unsigned nslots)
{
	size_t size;
	struct wu_req *r;

	if (!bu_wu_array_size(sizeof(struct wu_req), nslots, sizeof(struct wu_slot), &size))
		return NULL;
	r = zalloc(fn->drv, size);
	if (!r)
		return NULL;
	r->fn = fn;
	r->size = size;
	r->nslots = nslots;
	for (unsigned i = 0; i < nslots; i++) {
		r->slots[i].req = r;
		r->slots[i].x.complete = xfer_done;
		r->slots[i].x.ctx = &r->slots[i];
	}
	fn->outstanding++;
	return r;
}

/** Set a request's result if it has none yet. */
static void req_fail(struct wu_req *r, uint32_t status)
{
	if (!r->status)
		r->status = status;
}

/** Cancel every transfer of a request still on the bus. */
static void req_cancel_inflight(struct wu_req *r)
{
	for (unsigned i = 0; i < r->nslots; i++)
		if (r->slots[i].busy)
			bu_usb_xfer_cancel(&r->slots[i].x);
}

/** Hand a finished request back to the API part and free it. */
static void req_giveback(struct wu_req *r)
{
	struct wu_func *fn = r->fn;
	uint32_t bytes = r->kind == RQ_ISOCH ? 0 : r->done;
	bu_winusb_io_done_fn cb = r->cb;
	void *ctx = r->cb_ctx, *cookie = r->cb_cookie;
	uint32_t status = r->status;

	if (r->ib && r->ib->busy)
		r->ib->busy--;
	if (r->kind == RQ_WRITE || r->kind == RQ_CONTROL)
		fn->last_busy_us = now_us(fn->drv);
	release(fn->drv, r, r->size);
	fn->outstanding--;
	if (cb)
		cb(ctx, cookie, status, bytes);
}

/** Give back the finished requests at the head of a pipe, in order. */
static void pipe_retire(struct wu_pipe *p)
{
	while (p->head && p->head->finished && !p->head->inflight) {
		struct wu_req *r = p->head;

		p->head = r->next;
		if (!p->head)
			p->tail = NULL;
		req_giveback(r);
	}
}

/** Append an accepted request to its pipe's FIFO. */
static void pipe_enqueue(struct wu_pipe *p, struct wu_req *r)
{
	r->pipe = p;
	r->next = NULL;
	if (p->tail)
		p->tail->next = r;
	else
		p->head = r;
	p->tail = r;
}

/** Mark a request finished when nothing of it is left on the bus. */
static void req_settle(struct wu_req *r)
{
	if (!r->inflight && !r->held && (r->status || r->kind != RQ_WRITE || !r->pieces_left))
		r->finished = true;
}

/** Fail every request of a halted pipe that has not reached the bus. */
static void pipe_fail_queued(struct wu_pipe *p, uint32_t status)
{
	for (struct wu_req *r = p->head; r; r = r->next) {
		if (r->finished || r->held || r->inflight)
			continue;
		req_fail(r, status);
		r->pieces_left = 0;
		r->finished = true;
	}
}

/** Time left before a request's deadline, as a transfer timeout (0 = none). */
static uint32_t req_timeout_ms(struct wu_req *r)
{
	uint64_t now;

	if (!r->deadline_us)
		return 0;
	now = now_us(r->fn->drv);
	if (now >= r->deadline_us)
		return 1;
	return (uint32_t)BU_MAX((r->deadline_us - now + 999) / 1000, 1);
}

/** Start a request's timer (PIPE_TRANSFER_TIMEOUT counts from the bus, §4). */
static void req_start(struct wu_req *r, uint32_t timeout_ms)
{
	if (r->started)
		return;
	r->started = true;
	if (timeout_ms)
		r->deadline_us = now_us(r->fn->drv) + (uint64_t)timeout_ms * 1000;
}

/** A free slot of a request, or NULL. */
static struct wu_slot *req_slot(struct wu_req *r)
{
	for (unsigned i = 0; i < r->nslots; i++)
		if (!r->slots[i].busy)
			return &r->slots[i];
	return NULL;
}

/**
 * Submit one transfer of a request. Returns 0, BU_ENOSPC (ring full: try
 * again after a completion) or another error (the request has failed).
 */
static int slot_submit(struct wu_slot *s, struct bu_usb_endpoint *ep, void *buf, uint32_t len,
		       uint8_t kind, uint32_t off, unsigned flags)
{
	struct wu_req *r = s->req;
	int rc;

	s->x.ep = ep;
	s->x.buf = len ? buf : NULL;
	s->x.len = len;
	s->x.flags = flags;
	s->x.timeout_ms = req_timeout_ms(r);
	s->x.status = 0;
	s->x.actual = 0;
	s->kind = kind;
	s->off = off;
	s->len = len;
	rc = bu_usb_xfer_submit(&s->x);
	if (rc)
		return rc;
	s->busy = true;
	r->inflight++;
	if (r->pipe)
		r->pipe->inflight++;
	return 0;
}

/* ======================================================================== */
/* Bulk and interrupt engine                                                */
/* ======================================================================== */

/** Submit what the OUT pipe's queue allows. */
static void kick_out(struct wu_pipe *p)
{
	struct bu_winusb_drv *drv = p->wi->fn->drv;
	uint32_t max = pipe_max_xfer(p);
	bool first = true;

	for (struct wu_req *r = p->head; r; r = r->next) {
		if (r->finished || r->held)
			continue;
		/* With a timeout, only the oldest request is on the bus, so
		 * waiting in the queue does not count against it (§4). */
		if (!first && p->pol.timeout_ms)
			return;
		first = false;
		while (r->pieces_left && !r->status && p->inflight < drv->depth) {
			struct wu_slot *s = req_slot(r);
			uint32_t n = 0;
			int rc;

			if (!s)
				return;
			req_start(r, p->pol.timeout_ms);
			if (r->next_off < r->len)
				n = BU_MIN(r->len - r->next_off, max);
			rc = slot_submit(s, p->ep, r->buf + r->next_off, n,
					 n ? SL_DATA : SL_ZLP, r->next_off, 0);
			if (rc == BU_ENOSPC && p->inflight)
				return;
			if (rc) {
				req_fail(r, bu_winusb_err_to_win32(rc));
				r->pieces_left = 0;
				req_settle(r);
				break;
			}
			r->next_off += n;
			r->pieces_left--;
		}
		if (r->pieces_left)
			return; /* later requests must not overtake it */
	}
}

/** Copy carried-over bytes of an earlier read into a starting read. */
static void read_take_carry(struct wu_pipe *p, struct wu_req *r)
{
	uint32_t n = BU_MIN(p->carry_len, r->len - r->done);

	if (!n)
		return;
	bu_memcpy(r->buf + r->done, p->carry + p->carry_off, n);
	r->done += n;
	p->carry_off += n;
	p->carry_len -= n;
	if (!p->carry_len && p->carry_short && r->done < r->len)
		r->finished = true; /* the transfer that left them had ended */
	if (r->done == r->len)
		r->finished = true;
	if (!p->carry_len)
		p->carry_off = 0;
}

/** Submit what the IN pipe's queue allows. */
static void kick_in(struct wu_pipe *p)
{
	struct bu_winusb_drv *drv = p->wi->fn->drv;
	uint32_t max = pipe_max_xfer(p);

	for (struct wu_req *r = p->head; r; r = r->next) {
		uint32_t n;
		bool tail;
		int rc;

		if (r->finished || r->held)
			continue;
		if (p->pol.raw_io) {
			/* RAW_IO: every (validated) read goes down at once. */
			if (r->started)
				continue;
			if (p->inflight >= drv->depth)
				return;
			req_start(r, p->pol.timeout_ms);
			rc = slot_submit(&r->slots[0], p->ep, r->buf, r->len, SL_DATA, 0, 0);
			if (rc == BU_ENOSPC && p->inflight) {
				r->started = false;
				r->deadline_us = 0;
				return;
			}
			if (rc) {
				req_fail(r, bu_winusb_err_to_win32(rc));
				req_settle(r);
			}
			continue;
		}
		/* Queued mode: one read on the bus at a time, in order. */
		if (r->inflight)
			return;
		if (!r->started) {
			req_start(r, p->pol.timeout_ms);
			read_take_carry(p, r);
			if (r->finished)
				continue;
		}
		n = bu_wu_read_piece(r->len - r->done, p->mps, max, &tail);
		if (!n) {
			r->finished = true;
			continue;
		}
		if (tail && !p->carry) {
			p->carry = zalloc(drv, p->mps);
			if (!p->carry) {
				req_fail(r, ERROR_NOT_ENOUGH_MEMORY);
				req_settle(r);
				continue;
			}
		}
		if (tail)
			rc = slot_submit(&r->slots[0], p->ep, p->carry, p->mps, SL_TAIL, r->done, 0);
		else
			rc = slot_submit(&r->slots[0], p->ep, r->buf + r->done, n, SL_DATA, r->done, 0);
		if (rc == BU_ENOSPC && p->inflight)
			return;
		if (rc) {
			req_fail(r, bu_winusb_err_to_win32(rc));
			req_settle(r);
			continue;
		}
		return;
	}
}

static void kick_isoch(struct wu_pipe *p);

/** Submit what a pipe's queue allows (not while it is failed or recovering). */
static void pipe_kick(struct wu_pipe *p)
{
	if (!p->ep || p->clearing || p->resetting || !p->wi->fn->present) {
		pipe_retire(p);
		return;
	}
	if (p->type == BU_EP_ISOCH)
		kick_isoch(p);
	else if (is_in(p))
		kick_in(p);
	else
		kick_out(p);
	pipe_retire(p);
}

/** CLEAR_FEATURE(ENDPOINT_HALT) of AUTO_CLEAR_STALL finished: release the failed read. */
static void clear_done(struct bu_usb_xfer *x)
{
	struct wu_pipe *p = x->ctx;
	struct wu_req *r = p->clear_req;

	p->clearing = false;
	p->clear_req = NULL;
	if (x->status && x->status != BU_ENODEV)
		wlog(p->wi->fn->drv, BU_LOG_WARN, "pipe 0x%02x: clearing the stall failed: %s",
		     p->id, bu_strerror(x->status));
	if (r) {
		r->held = false;
		r->fn->outstanding--;
		req_settle(r);
	}
	pipe_kick(p);
	func_maybe_free(p->wi->fn);
}

/**
 * AUTO_CLEAR_STALL (§4): the controller already reset its side of the
 * endpoint; clear the device's halt before the failed read completes.
 */
static bool pipe_auto_clear(struct wu_pipe *p, struct wu_req *r)
{
	struct wu_func *fn = p->wi->fn;
	struct bu_usb_xfer *x = &p->clear_xfer;

	if (!fn->present || !fn->dev || p->clearing)
		return false;
	bu_memset(x, 0, sizeof(*x));
	x->ep = &fn->dev->ep0;
	x->setup[0] = USB_DIR_OUT | USB_TYPE_STANDARD | USB_RECIP_ENDPOINT;
	x->setup[1] = USB_REQ_CLEAR_FEATURE;
	x->setup[2] = USB_FEATURE_ENDPOINT_HALT;
	x->setup[4] = p->id;
	x->timeout_ms = WU_CTRL_TIMEOUT_MS;
	x->complete = clear_done;
	x->ctx = p;
	if (bu_usb_xfer_submit(x))
		return false;
	p->clearing = true;
	p->clear_req = r;
	r->held = true;
	fn->outstanding++; /* the pipe's clear keeps the function alive */
	return true;
}

/** A bulk/interrupt transfer ended with an error. */
static void pipe_error(struct wu_pipe *p, struct wu_req *r, int err)
{
	req_fail(r, bu_winusb_err_to_win32(err));
	if (err == BU_ECANCELED || err == BU_ETIMEDOUT || err == BU_ENODEV ||
	    err == BU_ESHUTDOWN)
		return;
	/* A stall or bus error. */
	if (is_in(p) && p->pol.auto_clear_stall && pipe_auto_clear(p, r))
		return;
	p->halted = true;
	pipe_fail_queued(p, ERROR_GEN_FAILURE);
}

/** Completion of a bulk/interrupt transfer. */
static void data_done(struct wu_slot *s)
{
	struct wu_req *r = s->req;
	struct wu_pipe *p = r->pipe;
	struct bu_usb_xfer *x = &s->x;
	uint32_t actual = (uint32_t)BU_MIN(x->actual, s->len);
	bool short_pkt;

	if (s->kind == SL_TAIL) {
		struct wu_tail t;

		bu_wu_tail_plan(actual, r->len - r->done, &p->pol, &t);
		bu_memcpy(r->buf + r->done, p->carry, t.to_user);
		r->done += t.to_user;
		if (!x->status) {
			if (t.status) {
				req_fail(r, t.status);
			} else if (t.keep) {
				p->carry_off = t.to_user;
				p->carry_len = t.excess;
				p->carry_short = actual < p->mps;
			}
		}
	} else if (s->kind == SL_DATA) {
		r->done = BU_MAX(r->done, s->off + actual);
	}
	if (x->status == BU_ECANCELED && p->resetting) {
		/* Taken back for RESET_PIPE_ON_RESUME: not a failure; the
		 * rest goes down again once the endpoint is reset. */
		if (p->pol.raw_io && !r->done) {
			r->started = false;
			r->deadline_us = 0;
		} else if (r->done >= r->len || p->pol.raw_io || (s->kind == SL_TAIL && actual)) {
			r->finished = !r->inflight;
		}
		return;
	}
	if (x->status) {
		pipe_error(p, r, x->status);
		r->pieces_left = 0;
		req_cancel_inflight(r);
		req_settle(r);
		return;
	}
	if (r->status) { /* an earlier piece failed; this one just drains */
		req_settle(r);
		return;
	}
	if (r->kind == RQ_WRITE) {
		if (actual < s->len) {
			req_fail(r, ERROR_GEN_FAILURE);
			r->pieces_left = 0;
			req_cancel_inflight(r);
		}
		req_settle(r);
		return;
	}
	/* Reads: a short packet ends the read unless IGNORE_SHORT_PACKETS (§4);
	 * RAW_IO reads are single transfers. */
	short_pkt = actual < s->len;
	if (r->done >= r->len || p->pol.raw_io || (short_pkt && !p->pol.ignore_short_packets))
		r->finished = !r->inflight;
}

/** Every transfer of the driver completes here (from bu_usb_bus_poll). */
static void isoch_done(struct wu_slot *s);
static void ctrl_done(struct wu_slot *s);

static void xfer_done(struct bu_usb_xfer *x)
{
	struct wu_slot *s = x->ctx;
	struct wu_req *r = s->req;
	struct wu_pipe *p = r->pipe;

	s->busy = false;
	r->inflight--;
	if (p)
		p->inflight--;
	if (r->kind == RQ_CONTROL) {
		ctrl_done(s);
		return;
	}
	if (r->kind == RQ_ISOCH)
		isoch_done(s);
	else
		data_done(s);
	pipe_kick(p);
	func_maybe_free(p->wi->fn);
}

/* ======================================================================== */
/* Isochronous engine                                                       */
/* ======================================================================== */

/* Frames ahead a TD for a given frame may be queued (xHCI allows 895). */
#define ISOCH_FRAME_REACH 512

/** Submit the next packets of the isoch requests of a pipe. */
static void kick_isoch(struct wu_pipe *p)
{
	struct bu_winusb_drv *drv = p->wi->fn->drv;

	for (struct wu_req *r = p->head; r; r = r->next) {
		if (r->finished)
			continue;
		if (r->wait_frame) {
			uint32_t now = bu_usb_frame_number(drv->bus);

			/* Queue it once its frame is within the controller's
			 * Frame ID reach (895 frames, xHCI §4.11.2.5). */
			if ((int32_t)(r->start_frame - now) > ISOCH_FRAME_REACH)
				return;
			r->wait_frame = false;
		}
		while (r->next_pkt < r->npkts && !r->isoch_cancelled) {
			uint32_t i = r->next_pkt;
			uint32_t off = i * r->per;
			uint32_t n = i + 1 == r->npkts ? r->len - off : r->per;
			struct wu_slot *s = &r->slots[i];
			unsigned flags = BU_XFER_ISOCH_ASAP;
			int rc;

			/* The first packet of a request for a given frame runs
			 * in that frame; the rest follow it back to back. */
			if (i == 0 && r->at_frame) {
				flags = BU_XFER_ISOCH_FRAME;
				s->x.frame = r->start_frame;
			}
			req_start(r, 0);
			rc = slot_submit(s, p->ep, r->buf + off, n, SL_ISOCH, i, flags);
			if (rc == BU_ENOSPC && p->inflight)
				return;
			if (rc) {
				for (uint32_t k = i; k < r->npkts; k++)
					if (r->pkts)
						r->pkts[k].status = bu_winusb_err_to_usbd(rc);
				r->isoch_errors += r->npkts - i;
				req_fail(r, bu_winusb_err_to_win32(rc));
				r->next_pkt = r->npkts;
				break;
			}
			r->next_pkt++;
		}
		if (r->next_pkt >= r->npkts && !r->inflight)
			r->finished = true;
		if (r->next_pkt < r->npkts)
			return;
	}
}

/** Completion of one isochronous packet. */
static void isoch_done(struct wu_slot *s)
{
	struct wu_req *r = s->req;
	struct bu_usb_xfer *x = &s->x;

	if (r->pkts) {
		r->pkts[s->off].length = (uint32_t)BU_MIN(x->actual, s->len);
		r->pkts[s->off].status = bu_winusb_err_to_usbd(x->status);
	}
	if (x->status) {
		r->isoch_errors++;
		if (x->status == BU_ECANCELED)
			r->isoch_cancelled = true;
		if (x->status == BU_ENODEV || x->status == BU_ESHUTDOWN)
			req_fail(r, ERROR_DEVICE_NOT_CONNECTED);
	}
	if (r->next_pkt < r->npkts || r->inflight)
		return;
	/* Writes: success means everything went out; reads report per packet. */
	if (r->isoch_cancelled)
		req_fail(r, ERROR_OPERATION_ABORTED);
	else if (r->isoch_errors && !(r->pkts && r->isoch_errors < r->npkts))
		req_fail(r, ERROR_GEN_FAILURE);
	r->finished = true;
}

/* ======================================================================== */
/* Control requests                                                         */
/* ======================================================================== */

static void ctrl_done(struct wu_slot *s)
{
	struct wu_req *r = s->req;
	struct wu_func *fn = r->fn;

	r->done = (uint32_t)BU_MIN(s->x.actual, s->len);
	if (s->x.status)
		req_fail(r, bu_winusb_err_to_win32(s->x.status));
	for (struct wu_req **pp = &fn->ctrl_reqs; *pp; pp = &(*pp)->next) {
		if (*pp == r) {
			*pp = r->next;
			break;
		}
	}
	r->finished = true;
	req_giveback(r);
	func_maybe_free(fn);
}

/* ======================================================================== */
/* Abort, flush, reset                                                      */
/* ======================================================================== */

/**
 * Abort one request: nothing more of it goes out, its transfers on the bus
 * are cancelled, and it completes with `status` once they are back.
 */
static void req_abort(struct wu_req *r, uint32_t status)
{
	req_fail(r, status);
	r->pieces_left = 0;
	if (r->kind == RQ_ISOCH) {
		r->isoch_cancelled = true;
		r->next_pkt = r->npkts;
	}
	req_cancel_inflight(r);
	if (r->kind != RQ_CONTROL)
		req_settle(r); /* a control request completes from ctrl_done */
}

/** Abort every request of a pipe; they complete with `status`. */
static void pipe_abort(struct wu_pipe *p, uint32_t status)
{
	for (struct wu_req *r = p->head; r; r = r->next)
		if (!r->finished)
			req_abort(r, status);
	pipe_retire(p);
}

/** CANCEL: abort the file's pending request started with `cookie`. */
static uint32_t do_cancel(struct wu_file *f, const void *cookie)
{
	struct wu_func *fn = f->fn;

	for (struct wu_req *r = fn->ctrl_reqs; r; r = r->next) {
		if (r->file == f && r->cb_cookie == cookie) {
			req_abort(r, ERROR_OPERATION_ABORTED);
			return 0;
		}
	}
	for (unsigned i = 0; i < fn->num_ifaces; i++) {
		struct wu_iface *wi = &fn->ifaces[i];

		for (unsigned k = 0; k < wi->num_pipes; k++) {
			struct wu_pipe *p = &wi->pipes[k];

			for (struct wu_req *r = p->head; r; r = r->next) {
				if (r->file != f || r->cb_cookie != cookie || r->finished)
					continue;
				req_abort(r, ERROR_OPERATION_ABORTED);
				pipe_retire(p);
				return 0;
			}
		}
	}
	return ERROR_NOT_FOUND;
}

static bool pipe_busy(void *arg)
{
	struct wu_pipe *p = arg;

	return p->head != NULL || p->clearing;
}

/** Abort a pipe and wait for its requests to come back (AbortPipe is synchronous). */
static void pipe_abort_wait(struct wu_pipe *p)
{
	pipe_abort(p, ERROR_OPERATION_ABORTED);
	if (pipe_busy(p) && !wait_while(p->wi->fn->drv, pipe_busy, p, WU_WAIT_MS))
		wlog(p->wi->fn->drv, BU_LOG_WARN, "pipe 0x%02x: abort did not finish", p->id);
}

static bool ep_busy(void *arg)
{
	return bu_usb_endpoint_busy(arg);
}

/**
 * ResetPipe: abort what is queued, then reset both sides - the
 * controller's toggle/sequence and ring, CLEAR_FEATURE(ENDPOINT_HALT) on
 * the device (not for isochronous endpoints, §3.13).
 */
static uint32_t pipe_reset(struct wu_pipe *p)
{
	struct bu_winusb_drv *drv = p->wi->fn->drv;
	int rc;

	pipe_abort_wait(p);
	p->halted = false;
	if (!p->ep)
		return 0;
	if (p->type == BU_EP_ISOCH) {
		p->stream = false;
		return 0;
	}
	/* The controller may still be recovering from the stall. */
	wait_while(drv, ep_busy, p->ep, WU_WAIT_MS);
	rc = bu_usb_reset_endpoint(p->ep);
	if (rc) {
		wlog(drv, BU_LOG_WARN, "pipe 0x%02x: reset failed: %s", p->id, bu_strerror(rc));
		return bu_winusb_err_to_win32(rc);
	}
	return 0;
}

/* ======================================================================== */
/* Power policy (§8)                                                        */
/* ======================================================================== */

/** True when only bulk/interrupt IN reads are pending (the idle rule of §8). */
static bool func_idle(struct wu_func *fn)
{
	if (fn->ctrl_reqs)
		return false;
	for (unsigned i = 0; i < fn->num_ifaces; i++) {
		struct wu_iface *wi = &fn->ifaces[i];

		for (unsigned k = 0; k < wi->num_pipes; k++) {
			struct wu_pipe *p = &wi->pipes[k];

			if (p->head && (!is_in(p) || p->type == BU_EP_ISOCH))
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

static bool pipe_inflight(void *arg)
{
	return ((struct wu_pipe *)arg)->inflight != 0;
}

/**
 * RESET_PIPE_ON_RESUME (§4, §8) on an IN pipe whose reads waited through
 * the suspend: take their transfers off the bus without completing them,
 * reset the endpoint, and let the queue carry on where it was.
 */
static void pipe_reset_on_resume(struct wu_pipe *p)
{
	struct bu_winusb_drv *drv = p->wi->fn->drv;

	if (p->head) {
		if (!is_in(p) || p->type == BU_EP_ISOCH || p->clearing)
			return; /* writes and isoch keep a device awake: never here */
		p->resetting = true;
		for (struct wu_req *r = p->head; r; r = r->next)
			req_cancel_inflight(r);
		wait_while(drv, pipe_inflight, p, WU_WAIT_MS);
	}
	wait_while(drv, ep_busy, p->ep, WU_WAIT_MS);
	if (!bu_usb_endpoint_busy(p->ep))
		bu_usb_reset_endpoint(p->ep);
	p->resetting = false;
	pipe_kick(p);
}

/** Resume a suspended function before new work (writes, control, reads). */
static void func_resume(struct wu_func *fn)
{
	struct bu_winusb_drv *drv = fn->drv;

	if (!fn->suspended)
		return;
	fn->suspended = false;
	fn->resumes++;
	func_set_link(fn, false);
	wlog(drv, BU_LOG_DEBUG, "%s: resumed", fn->location);
	/* RESET_PIPE_ON_RESUME (§4): pipes that lose their toggle. */
	for (unsigned i = 0; i < fn->num_ifaces; i++)
		for (unsigned k = 0; k < fn->ifaces[i].num_pipes; k++) {
			struct wu_pipe *p = &fn->ifaces[i].pipes[k];

			if (p->pol.reset_pipe_on_resume && p->ep)
				pipe_reset_on_resume(p);
		}
}

/** Timer work of a function: selective suspend after SUSPEND_DELAY idle. */
static void func_tick(struct wu_func *fn, uint64_t now)
{
	struct bu_winusb_drv *drv = fn->drv;
	int rc;

	for (unsigned i = 0; i < fn->num_ifaces; i++)
		for (unsigned k = 0; k < fn->ifaces[i].num_pipes; k++) {
			struct wu_pipe *p = &fn->ifaces[i].pipes[k];

			if (p->type == BU_EP_ISOCH && p->head)
				pipe_kick(p);
		}
	if (!fn->present || fn->suspended || !fn->auto_suspend || !fn->idle_enabled)
		return;
	if (!func_idle(fn) || now < fn->last_busy_us + (uint64_t)fn->suspend_delay * 1000)
		return;
	fn->suspended = true;
	rc = func_set_link(fn, true);
	if (rc) {
		/* Not now (a transfer of another driver is queued, or the
		 * device is behind a hub): stay active, try again later. */
		fn->suspended = false;
		fn->last_busy_us = now;
		wlog(drv, BU_LOG_DEBUG, "%s: idle, but not suspended: %s", fn->location,
		     bu_strerror(rc));
		return;
	}
	fn->suspends++;
	wlog(drv, BU_LOG_DEBUG, "%s: idle for %u ms, suspended", fn->location, fn->suspend_delay);
}

/* ======================================================================== */
/* MS OS descriptors (read by the core during enumeration)                  */
/* ======================================================================== */

const struct bu_msos_info *bu_winusb_drv_msos(struct bu_winusb_drv *drv,
					      const struct bu_usb_device *dev)
{
	(void)drv;
	return dev ? dev->msos : NULL;
}

/** Device interface GUIDs and power defaults of a function from MS OS descriptors. */
static void func_apply_msos(struct wu_func *fn, const struct bu_msos_info *info)
{
	const struct bu_msos_function *m = bu_msos_find_function(info, fn->first);

	if (!m)
		return;
	if (m->compat_id[0])
		bu_memcpy(fn->compat_id, m->compat_id, sizeof(fn->compat_id));
	for (unsigned i = 0; i < m->num_guids && fn->num_guids < BU_WINUSB_MAX_GUIDS; i++) {
		bool dup = false;

		for (unsigned k = 0; k < fn->num_guids; k++)
			dup |= bu_strcmp(fn->guids[k], m->guids[i]) == 0;
		if (!dup)
			bu_memcpy(fn->guids[fn->num_guids++], m->guids[i], BU_WINUSB_GUID_LEN + 1);
	}
	/* Registry-equivalent power defaults (§8): AUTO_SUSPEND from
	 * DefaultIdleState, SUSPEND_DELAY from DefaultIdleTimeout, both only
	 * with DeviceIdleEnabled. */
	if (m->power_set & BU_MSOS_DEVICE_IDLE_ENABLED)
		fn->idle_enabled = m->device_idle_enabled != 0;
	if (fn->idle_enabled && (m->power_set & BU_MSOS_DEFAULT_IDLE_STATE))
		fn->auto_suspend = m->default_idle_state != 0;
	if (m->power_set & BU_MSOS_DEFAULT_IDLE_TIMEOUT)
		fn->suspend_delay = m->default_idle_timeout;
}

/* ======================================================================== */
/* Class driver hooks                                                       */
/* ======================================================================== */

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
	fn = zalloc(drv, sizeof(*fn));
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
	fn->ifaces = zalloc(drv, sizeof(*fn->ifaces) * n);
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
	fn->suspend_delay = 5000; /* the API page's default (§2.10) */
	fn->last_busy_us = now_us(drv);
	dev_location(dev, fn->location, sizeof(fn->location));
	if (dev->have_product)
		bu_snprintf(fn->product, sizeof(fn->product), "%s", dev->product);
	bu_memcpy(fn->compat_id, intf->compat_id, sizeof(fn->compat_id));
	/* An explicit binding acts as an INF that sets DeviceIdleEnabled. */
	fn->idle_enabled = b != NULL;
	if (b && b->guid[0]) {
		bu_memcpy(fn->guids[0], b->guid, sizeof(b->guid));
		fn->num_guids = 1;
	}
	if (dev->msos) {
		func_apply_msos(fn, dev->msos);
		fn->msos_done = true;
	}
	for (unsigned i = 0; i < fn->num_ifaces; i++)
		iface_build_pipes(&fn->ifaces[i]);
	drv->funcs[slot] = fn;
	return fn;

err_free:
	release(drv, fn, sizeof(*fn));
	return NULL;
}

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
	/* Windows binds per function only on a composite device (§10.3);
	 * an INF naming the device ID (no MI_xx) takes the whole device. */
	whole = b->compat ? !dev_is_composite(dev) : b->iface < 0;
	fn = func_covering(drv, intf);
	if (!fn) {
		fn = func_create(drv, intf, whole, b->compat ? NULL : b);
		if (!fn)
			return BU_ENOMEM;
		wlog(drv, BU_LOG_INFO, "%s %04x:%04x interface %u: bound (%s%s), instance %u",
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
			pipe_abort(&wi->pipes[k], ERROR_DEVICE_NOT_CONNECTED);
	}
	for (struct wu_req *r = fn->ctrl_reqs; r; r = r->next) {
		req_fail(r, ERROR_DEVICE_NOT_CONNECTED);
		req_cancel_inflight(r);
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
		wlog(fn->drv, BU_LOG_INFO, "%s interface %u: unbound", fn->location, fn->first);
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
	func_maybe_free(fn);
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
		func_tick(fn, now);
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
static struct wu_file *file_get(struct bu_winusb_drv *drv, uint32_t id)
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

uint32_t bu_winusb_drv_open(struct bu_winusb_drv *drv, uint32_t instance, uint32_t *file)
{
	struct wu_func *fn;

	if (!drv || !file)
		return ERROR_INVALID_PARAMETER;
	fn = func_by_instance(drv, instance);
	if (!fn || !fn->present)
		return ERROR_FILE_NOT_FOUND;
	if (fn->file)
		return ERROR_ACCESS_DENIED; /* WinUSB is single-client (§1) */
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

static bool func_outstanding(void *arg)
{
	return ((struct wu_func *)arg)->outstanding != 0;
}

void bu_winusb_drv_close(struct bu_winusb_drv *drv, uint32_t id)
{
	struct wu_file *f = drv ? file_get(drv, id) : NULL;
	struct wu_func *fn;
	uint16_t gen;

	if (!f)
		return;
	fn = f->fn;
	/* CloseHandle cancels the file's I/O; completions still run first. */
	for (unsigned i = 0; i < fn->num_ifaces; i++)
		for (unsigned k = 0; k < fn->ifaces[i].num_pipes; k++)
			pipe_abort(&fn->ifaces[i].pipes[k], ERROR_OPERATION_ABORTED);
	for (struct wu_req *r = fn->ctrl_reqs; r; r = r->next) {
		req_fail(r, ERROR_OPERATION_ABORTED);
		req_cancel_inflight(r);
	}
	if (fn->outstanding && !wait_while(drv, func_outstanding, fn, WU_WAIT_MS))
		wlog(drv, BU_LOG_WARN, "%s: requests still outstanding at close", fn->location);
	gen = f->gen;
	bu_memset(f, 0, sizeof(*f));
	f->gen = gen;
	fn->file = NULL;
	func_maybe_free(fn);
}

/* ======================================================================== */
/* Requests from the API part: validation and dispatch                      */
/* ======================================================================== */

/** ProbeForRead/Write: a caller buffer the driver may use. */
static bool range_ok(struct bu_winusb_drv *drv, const void *p, uint32_t len, bool write)
{
	if (!len)
		return true;
	if (!p || (uintptr_t)p + len < (uintptr_t)p)
		return false;
	return !drv->opts.check_range || drv->opts.check_range(drv->opts.ctx, p, len, write);
}

/** The claimed interface `index` of a file, or NULL. */
static struct wu_iface *file_iface(struct wu_file *f, uint8_t index)
{
	if (index >= f->fn->num_ifaces || index >= 32 || !(f->open_mask & (1u << index)))
		return NULL;
	return &f->fn->ifaces[index];
}

/** Put a little-endian value of `size` bytes into an output buffer. */
static void put_value(void *buf, uint32_t size, uint32_t value)
{
	uint8_t *b = buf;

	for (uint32_t i = 0; i < size; i++)
		b[i] = (uint8_t)(value >> (8 * i));
}

/** Common set-up of a pending request. */
static void req_bind(struct wu_req *r, struct wu_file *f, uint8_t kind, uint8_t iface,
		     const struct bu_winusb_io *io)
{
	r->file = f;
	r->kind = kind;
	r->iface = iface;
	r->cb = io->done;
	r->cb_ctx = io->done_ctx;
	r->cb_cookie = io->done_cookie;
}

/** READ_PIPE / WRITE_PIPE. */
static uint32_t do_rw(const struct wu_ioctx *c, bool read)
{
	struct bu_winusb_drv *drv = c->drv;
	const struct bu_winusb_io *io = c->io;
	struct wu_pipe *p = c->prm->pipe ? iface_pipe(c->wi, c->prm->pipe) : NULL;
	struct wu_func *fn = c->fn;
	struct wu_req *r;
	unsigned slots = 1;

	if (!p || !p->ep || p->type == BU_EP_ISOCH || p->type == BU_EP_CONTROL ||
	    is_in(p) != read)
		return ERROR_INVALID_PARAMETER;
	if (!range_ok(drv, io->buf, io->buf_len, read))
		return ERROR_NOACCESS;
	if (!io->done)
		return ERROR_INVALID_PARAMETER;
	if (p->halted)
		return ERROR_GEN_FAILURE; /* until WinUsb_ResetPipe (§4 AUTO_CLEAR_STALL) */
	func_resume(fn);
	if (read && !io->buf_len) {
		/* Zero-length reads complete at once, without the bus (§5.6). */
		c->res->bytes = 0;
		return 0;
	}
	if (read && p->pol.raw_io && bu_wu_raw_io_check(io->buf_len, p->mps, pipe_max_xfer(p)))
		return ERROR_INVALID_PARAMETER;
	if (!read) {
		bool zlp;
		uint32_t pieces = bu_wu_write_pieces(io->buf_len, p->mps, pipe_max_xfer(p), &p->pol,
						  &zlp);

		slots = BU_MIN(pieces, drv->depth);
		r = req_alloc(fn, slots);
		if (!r)
			return ERROR_NOT_ENOUGH_MEMORY;
		r->pieces_left = pieces;
		r->zlp = zlp;
		fn->last_busy_us = now_us(drv);
	} else {
		r = req_alloc(fn, 1);
		if (!r)
			return ERROR_NOT_ENOUGH_MEMORY;
	}
	req_bind(r, c->f, read ? RQ_READ : RQ_WRITE, c->wi->index, io);
	r->buf = io->buf;
	r->len = io->buf_len;
	pipe_enqueue(p, r);
	pipe_kick(p);
	return ERROR_IO_PENDING;
}

static uint32_t ioc_read_pipe(const struct wu_ioctx *c)
{
	return do_rw(c, true);
}

static uint32_t ioc_write_pipe(const struct wu_ioctx *c)
{
	return do_rw(c, false);
}

/** CONTROL: a control transfer on EP0 for an interface (§3.12). */
static uint32_t ioc_control(const struct wu_ioctx *c)
{
	struct bu_winusb_drv *drv = c->drv;
	const struct bu_winusb_io *io = c->io;
	struct wu_iface *wi = c->wi;
	struct wu_func *fn = c->fn;
	uint8_t setup[8];
	uint16_t wlength;
	bool in;
	struct wu_req *r;
	int rc;

	bu_memcpy(setup, c->prm->setup, sizeof(setup));
	wlength = bu_get_le16(setup + 6);
	in = (setup[0] & USB_DIR_IN) != 0;
	if (wlength > 4096 || wlength > io->buf_len || !io->done)
		return ERROR_INVALID_PARAMETER; /* Windows' 4 KB data stage limit */
	if (!range_ok(drv, io->buf, wlength, in))
		return ERROR_NOACCESS;
	if ((setup[0] & 0x60) == USB_TYPE_STANDARD) {
		/* Requests that would desynchronise the stack. */
		if (setup[1] == USB_REQ_SET_ADDRESS)
			return ERROR_INVALID_PARAMETER;
		if (setup[1] == USB_REQ_SET_CONFIGURATION && setup[2] != fn->dev->config_value)
			return ERROR_NOT_SUPPORTED; /* WinUSB keeps the first configuration (§1.2) */
		if (setup[1] == USB_REQ_SET_INTERFACE && (setup[0] & 0x1f) == USB_RECIP_INTERFACE)
			return ERROR_NOT_SUPPORTED; /* WinUsb_SetCurrentAlternateSetting does it */
	}
	/* Interface recipient: Winusb.sys puts the handle's interface number
	 * in wIndex's low byte, keeping the high byte (§3.12, §13.1). */
	if ((setup[0] & 0x1f) == USB_RECIP_INTERFACE && (setup[0] & 0x60) != 0x60)
		setup[4] = wi->number;
	func_resume(fn);
	r = req_alloc(fn, 1);
	if (!r)
		return ERROR_NOT_ENOUGH_MEMORY;
	req_bind(r, c->f, RQ_CONTROL, wi->index, io);
	r->buf = io->buf;
	r->len = wlength;
	bu_memcpy(r->slots[0].x.setup, setup, sizeof(setup));
	req_start(r, wi->ctrl.pol.timeout_ms);
	rc = slot_submit(&r->slots[0], &fn->dev->ep0, io->buf, wlength, SL_DATA, 0, 0);
	if (rc) {
		r->cb = NULL;
		req_giveback(r);
		return bu_winusb_err_to_win32(rc);
	}
	fn->last_busy_us = now_us(drv);
	r->next = fn->ctrl_reqs;
	fn->ctrl_reqs = r;
	return ERROR_IO_PENDING;
}

/** GET_DESCRIPTOR: device/configuration from the enumeration copy, others live. */
static uint32_t ioc_get_descriptor(const struct wu_ioctx *c)
{
	const struct bu_winusb_ioparams *prm = c->prm;
	struct bu_usb_device *dev = c->fn->dev;
	uint8_t type = (uint8_t)prm->type;
	uint32_t len = BU_MIN(c->io->buf_len, 0xffffu);
	int rc;

	if (type == USB_DT_DEVICE && dev->have_desc) {
		const struct usb_device_descriptor *d = &dev->desc;
		uint8_t w[18] = { 18, USB_DT_DEVICE, (uint8_t)d->bcdUSB, (uint8_t)(d->bcdUSB >> 8),
				  d->bDeviceClass, d->bDeviceSubClass, d->bDeviceProtocol,
				  d->bMaxPacketSize0, (uint8_t)d->idVendor,
				  (uint8_t)(d->idVendor >> 8), (uint8_t)d->idProduct,
				  (uint8_t)(d->idProduct >> 8), (uint8_t)d->bcdDevice,
				  (uint8_t)(d->bcdDevice >> 8), d->iManufacturer, d->iProduct,
				  d->iSerialNumber, d->bNumConfigurations };

		c->res->bytes = BU_MIN(len, (uint32_t)sizeof(w));
		bu_memcpy(c->io->buf, w, c->res->bytes);
		return 0;
	}
	if (type == USB_DT_CONFIG && prm->index < dev->num_configs &&
	    dev->config_raw[prm->index]) {
		uint32_t total = dev->configs[prm->index].total_len;

		c->res->bytes = BU_MIN(len, total);
		bu_memcpy(c->io->buf, dev->config_raw[prm->index], c->res->bytes);
		return 0;
	}
	if (prm->flags & BU_WINUSB_IOF_CACHED)
		return ERROR_INVALID_PARAMETER;
	if (!len)
		return ERROR_INVALID_PARAMETER;
	rc = bu_usb_get_descriptor(dev, USB_RECIP_DEVICE, type, prm->index, (uint16_t)prm->value,
				   c->io->buf, (uint16_t)len);
	if (rc < 0)
		return bu_winusb_err_to_win32(rc);
	c->res->bytes = (uint32_t)rc;
	return 0;
}

/** SET_ALT: SET_INTERFACE plus the new setting's pipes (§3.7). */
static uint32_t ioc_set_alt(const struct wu_ioctx *c)
{
	struct wu_func *fn = c->fn;
	struct wu_iface *wi = c->wi;
	uint8_t alt = c->prm->index;
	const struct bu_usb_config_info *cfg;
	int rc;

	if (!wi->intf || fn->dev->active_config < 0)
		return ERROR_DEVICE_NOT_CONNECTED;
	cfg = &fn->dev->configs[fn->dev->active_config];
	if (!bu_desc_find_alt(cfg, wi->number, alt))
		return ERROR_INVALID_PARAMETER;
	for (unsigned k = 0; k < wi->num_pipes; k++)
		if (wi->pipes[k].head || wi->pipes[k].clearing)
			return ERROR_BUSY; /* "fails if I/O is outstanding" (code: a gap) */
	func_resume(fn);
	rc = bu_usb_set_interface(fn->dev, wi->number, alt);
	iface_build_pipes(wi); /* endpoint pointers changed even on failure */
	return rc ? bu_winusb_err_to_win32(rc) : 0;
}

/** GET_ALT: the interface's current alternate setting. */
static uint32_t ioc_get_alt(const struct wu_ioctx *c)
{
	if (c->io->buf_len < 1 || !c->wi->intf)
		return ERROR_INVALID_PARAMETER;
	((uint8_t *)c->io->buf)[0] = c->wi->intf->alt;
	c->res->bytes = 1;
	return 0;
}

/** GET_INFO: the function's layout for the API part. */
static uint32_t ioc_get_info(const struct wu_ioctx *c)
{
	struct wu_func *fn = c->fn;
	struct bu_usb_device *dev = fn->dev;
	struct bu_winusb_funcinfo info;

	if (c->io->buf_len < sizeof(info))
		return ERROR_INSUFFICIENT_BUFFER;
	bu_memset(&info, 0, sizeof(info));
	info.num_ifaces = fn->num_ifaces;
	info.speed = fn->speed >= BU_SPEED_HIGH ? HighSpeed : LowSpeed;
	info.bus_speed = (uint8_t)fn->speed;
	info.config_value = dev->config_value;
	if (dev->active_config >= 0) {
		info.config_index = (uint8_t)dev->active_config;
		info.config_len = dev->configs[dev->active_config].total_len;
	}
	for (unsigned i = 0; i < fn->num_ifaces; i++)
		info.iface_numbers[i] = fn->ifaces[i].number;
	bu_memcpy(c->io->buf, &info, sizeof(info));
	c->res->bytes = sizeof(info);
	return 0;
}

/** QUERY_DEVICE_INFO: DEVICE_SPEED is the one information type. */
static uint32_t ioc_query_device_info(const struct wu_ioctx *c)
{
	if (c->prm->type != DEVICE_SPEED)
		return ERROR_INVALID_PARAMETER;
	if (c->io->buf_len < 1)
		return ERROR_INSUFFICIENT_BUFFER;
	/* High speed or faster reports HighSpeed, the rest LowSpeed (§2.11). */
	((uint8_t *)c->io->buf)[0] = c->fn->speed >= BU_SPEED_HIGH ? HighSpeed : LowSpeed;
	c->res->bytes = 1;
	return 0;
}

/** Give a value of `size` bytes back in the output buffer. */
static uint32_t give_value(const struct wu_ioctx *c, uint32_t size, uint32_t value)
{
	if (c->io->buf_len < size)
		return ERROR_INSUFFICIENT_BUFFER;
	put_value(c->io->buf, size, value);
	c->res->bytes = size;
	return 0;
}

/** SET_PIPE_POLICY. */
static uint32_t ioc_set_pipe_policy(const struct wu_ioctx *c)
{
	const struct bu_winusb_ioparams *prm = c->prm;
	struct wu_pipe *p = iface_pipe(c->wi, prm->pipe);

	if (!p)
		return ERROR_INVALID_PARAMETER;
	return bu_wu_policies_set(&p->pol, prm->type, prm->length, prm->value);
}

/** GET_PIPE_POLICY. */
static uint32_t ioc_get_pipe_policy(const struct wu_ioctx *c)
{
	struct wu_pipe *p = iface_pipe(c->wi, c->prm->pipe);
	uint32_t value, size, rc;

	if (!p)
		return ERROR_INVALID_PARAMETER;
	rc = bu_wu_policies_get(&p->pol, c->prm->type, p->id ? pipe_max_xfer(p) : 4096, &value,
			     &size);
	return rc ? rc : give_value(c, size, value);
}

/** SET_POWER_POLICY: AUTO_SUSPEND (1 byte) and SUSPEND_DELAY (4 bytes). */
static uint32_t ioc_set_power_policy(const struct wu_ioctx *c)
{
	const struct bu_winusb_ioparams *prm = c->prm;
	struct wu_func *fn = c->fn;

	if (prm->type == AUTO_SUSPEND && prm->length == 1) {
		/* Ignored without DeviceIdleEnabled (§8). */
		fn->auto_suspend = (prm->value & 0xff) != 0;
		if (!fn->auto_suspend)
			func_resume(fn);
		return 0;
	}
	if (prm->type == SUSPEND_DELAY && prm->length == 4) {
		fn->suspend_delay = prm->value;
		return 0;
	}
	return ERROR_INVALID_PARAMETER;
}

/** GET_POWER_POLICY. */
static uint32_t ioc_get_power_policy(const struct wu_ioctx *c)
{
	if (c->prm->type == AUTO_SUSPEND)
		return give_value(c, 1, c->fn->auto_suspend);
	if (c->prm->type == SUSPEND_DELAY)
		return give_value(c, 4, c->fn->suspend_delay);
	return ERROR_INVALID_PARAMETER;
}

/** RESET_PIPE, ABORT_PIPE, FLUSH_PIPE: requests that act on a pipe. */
static uint32_t ioc_pipe_op(const struct wu_ioctx *c)
{
	struct wu_func *fn = c->fn;
	struct wu_iface *wi = c->wi;
	uint8_t id = c->prm->pipe;
	struct wu_pipe *p = iface_pipe(wi, id);

	if (!p)
		return ERROR_INVALID_PARAMETER;
	if (id == 0) {
		/* The control pipe: abort cancels this interface's control requests. */
		if (c->io->code == BU_WINUSB_IOCTL_ABORT_PIPE)
			for (struct wu_req *r = fn->ctrl_reqs; r; r = r->next)
				if (r->iface == wi->index) {
					req_fail(r, ERROR_OPERATION_ABORTED);
					req_cancel_inflight(r);
				}
		return 0;
	}
	switch (c->io->code) {
	case BU_WINUSB_IOCTL_ABORT_PIPE:
		pipe_abort_wait(p);
		return 0;
	case BU_WINUSB_IOCTL_FLUSH_PIPE:
		/* Drops the excess kept by ALLOW_PARTIAL_READS (§3.13). */
		p->carry_len = p->carry_off = 0;
		p->carry_short = false;
		return 0;
	default:
		func_resume(fn);
		return pipe_reset(p);
	}
}

/** Find the isoch pipe a RegisterIsochBuffer PipeID names (full address or number). */
static struct wu_pipe *isoch_pipe(struct wu_iface *wi, uint8_t id)
{
	struct wu_pipe *p = iface_pipe(wi, id);

	if (p && id)
		return p->type == BU_EP_ISOCH ? p : NULL;
	/* "bits 3..0 of bEndpointAddress" per the doc: accept a bare number. */
	for (unsigned i = 0; i < wi->num_pipes; i++)
		if (wi->pipes[i].type == BU_EP_ISOCH && (wi->pipes[i].id & 0x0f) == id && id)
			return &wi->pipes[i];
	return NULL;
}

static struct wu_isoch_buf *isoch_get(struct wu_file *f, uint32_t id)
{
	uint32_t idx = (id & 0xff) - 1;

	if ((id & 0xff) == 0 || idx >= WU_MAX_ISOCH || id >> 24)
		return NULL;
	if (!f->isoch[idx].used || f->isoch[idx].gen != (uint16_t)(id >> 8))
		return NULL;
	return &f->isoch[idx];
}

static bool isoch_busy(void *arg)
{
	return ((struct wu_isoch_buf *)arg)->busy != 0;
}

/** ISOCH_READ / ISOCH_WRITE. */
static uint32_t do_isoch(const struct wu_ioctx *c, bool read)
{
	struct bu_winusb_drv *drv = c->drv;
	const struct bu_winusb_ioparams *prm = c->prm;
	const struct bu_winusb_io *io = c->io;
	struct wu_isoch_buf *ib = isoch_get(c->f, prm->handle);
	struct wu_func *fn = c->fn;
	struct wu_iface *wi;
	struct wu_pipe *p;
	struct wu_req *r;
	uint32_t count, per, rc, now, start, frames;

	if (!ib)
		return ERROR_INVALID_HANDLE;
	wi = file_iface(c->f, ib->iface);
	p = wi ? iface_pipe(wi, ib->pipe) : NULL;
	if (!p || !p->ep || p->type != BU_EP_ISOCH || is_in(p) != read || !io->done)
		return ERROR_INVALID_PARAMETER;
	if (prm->offset > ib->len || prm->length > ib->len - prm->offset || !prm->length)
		return ERROR_INVALID_PARAMETER;
	rc = bu_wu_isoch_plan(fn->speed, read, prm->length, prm->type, p->bpi, &count, &per);
	if (rc)
		return rc;
	if (read) {
		if (!io->aux || io->aux_len / sizeof(struct bu_winusb_iso_packet) < count ||
		    !range_ok(drv, io->aux, count * (uint32_t)sizeof(struct bu_winusb_iso_packet),
			      true))
			return ERROR_INVALID_PARAMETER;
	}
	now = bu_usb_frame_number(drv->bus);
	frames = bu_wu_isoch_frames(fn->speed, p->interval, count);
	if (prm->flags & BU_WINUSB_IOF_ASAP) {
		/* ContinueStream: must follow the last transfer without a gap (§3.17). */
		if ((prm->flags & BU_WINUSB_IOF_CONTINUE) && p->stream && !p->head &&
		    (int32_t)(now - p->next_frame) > 0)
			return ERROR_GEN_FAILURE;
		start = (p->stream && p->head) ? p->next_frame : now + 1;
	} else {
		start = prm->value;
		if ((int32_t)(start - now) < 0)
			return ERROR_INVALID_PARAMETER; /* USBD_STATUS_BAD_START_FRAME (§7) */
	}
	func_resume(fn);
	r = req_alloc(fn, count);
	if (!r)
		return ERROR_NOT_ENOUGH_MEMORY;
	req_bind(r, c->f, RQ_ISOCH, wi->index, io);
	r->buf = ib->buf + prm->offset;
	r->len = prm->length;
	r->ib = ib;
	ib->busy++;
	r->npkts = count;
	r->per = per;
	r->start_frame = start;
	r->wait_frame = r->at_frame = !(prm->flags & BU_WINUSB_IOF_ASAP);
	if (read) {
		r->pkts = io->aux;
		for (uint32_t i = 0; i < count; i++) {
			r->pkts[i].offset = i * per;
			r->pkts[i].length = 0;
			r->pkts[i].status = (int32_t)USBD_STATUS_PENDING;
		}
	}
	p->next_frame = start + frames;
	p->stream = true;
	c->res->frame = p->next_frame;
	fn->last_busy_us = now_us(drv);
	pipe_enqueue(p, r);
	pipe_kick(p);
	return ERROR_IO_PENDING;
}

static uint32_t ioc_isoch_read(const struct wu_ioctx *c)
{
	return do_isoch(c, true);
}

static uint32_t ioc_isoch_write(const struct wu_ioctx *c)
{
	return do_isoch(c, false);
}

/** ISOCH_REGISTER. */
static uint32_t ioc_isoch_register(const struct wu_ioctx *c)
{
	const struct bu_winusb_io *io = c->io;
	struct wu_pipe *p = isoch_pipe(c->wi, c->prm->pipe);

	if (!p || !io->buf || !io->buf_len)
		return ERROR_INVALID_PARAMETER;
	if (!range_ok(c->drv, io->buf, io->buf_len, is_in(p)))
		return ERROR_NOACCESS;
	for (unsigned i = 0; i < WU_MAX_ISOCH; i++) {
		struct wu_isoch_buf *ib = &c->f->isoch[i];
		uint16_t gen = (uint16_t)(ib->gen + 1);

		if (ib->used)
			continue;
		bu_memset(ib, 0, sizeof(*ib));
		ib->gen = gen ? gen : 1;
		ib->used = true;
		ib->iface = c->wi->index;
		ib->pipe = p->id;
		ib->buf = io->buf;
		ib->len = io->buf_len;
		c->res->handle = ((uint32_t)ib->gen << 8) | (i + 1);
		return 0;
	}
	return ERROR_NOT_ENOUGH_MEMORY;
}

/** ISOCH_UNREGISTER: blocks until the transfers using the buffer are done (§3.17). */
static uint32_t ioc_isoch_unregister(const struct wu_ioctx *c)
{
	struct wu_isoch_buf *ib = isoch_get(c->f, c->prm->handle);

	if (!ib)
		return ERROR_INVALID_HANDLE;
	if (ib->busy && !wait_while(c->drv, isoch_busy, ib, WU_WAIT_MS))
		return ERROR_BUSY;
	ib->used = false;
	return 0;
}

/** GET_FRAME: the bus's frame number and when it was read. */
static uint32_t ioc_get_frame(const struct wu_ioctx *c)
{
	struct bu_winusb_frame fr;

	if (c->io->buf_len < sizeof(fr))
		return ERROR_INSUFFICIENT_BUFFER;
	bu_memset(&fr, 0, sizeof(fr));
	fr.frame = bu_usb_frame_number(c->drv->bus);
	fr.time_us = now_us(c->drv);
	bu_memcpy(c->io->buf, &fr, sizeof(fr));
	c->res->bytes = sizeof(fr);
	return 0;
}

/** TIMESYNC_START: a tracker id of the file. */
static uint32_t ioc_timesync_start(const struct wu_ioctx *c)
{
	for (unsigned i = 0; i < WU_MAX_TIMESYNC; i++) {
		if (c->f->timesync[i])
			continue;
		c->f->timesync[i] = 1;
		c->res->handle = i + 1;
		return 0;
	}
	return ERROR_NOT_ENOUGH_MEMORY;
}

/** TIMESYNC_STOP. */
static uint32_t ioc_timesync_stop(const struct wu_ioctx *c)
{
	uint32_t id = c->prm->handle;

	if (!id || id > WU_MAX_TIMESYNC || !c->f->timesync[id - 1])
		return ERROR_INVALID_PARAMETER;
	c->f->timesync[id - 1] = 0;
	return 0;
}

/** CANCEL: the CancelIoEx analogue for one request; never a completion routine of its own. */
static uint32_t ioc_cancel(const struct wu_ioctx *c)
{
	return c->io->done ? ERROR_INVALID_PARAMETER : do_cancel(c->f, c->io->done_cookie);
}

/** OPEN_INTERFACE: claim an interface index; its policies start from the defaults. */
static uint32_t ioc_open_interface(const struct wu_ioctx *c)
{
	struct wu_func *fn = c->fn;
	uint8_t index = c->prm->iface;

	if (!fn->present)
		return ERROR_BAD_COMMAND; /* observed after disconnect (§3.1) */
	if (!fn->num_ifaces)
		return ERROR_BAD_DEVICE;
	if (index >= fn->num_ifaces || index >= 32)
		return ERROR_NO_MORE_ITEMS;
	if (c->f->open_mask & (1u << index))
		return ERROR_ALREADY_EXISTS;
	c->f->open_mask |= 1u << index;
	iface_reset_policies(&fn->ifaces[index]);
	c->res->bytes = fn->ifaces[index].number;
	return 0;
}

/** CLOSE_INTERFACE: abort its pipes, drop its idle isoch buffers, release it. */
static uint32_t ioc_close_interface(const struct wu_ioctx *c)
{
	struct wu_iface *wi = c->wi;
	struct wu_file *f = c->f;

	for (unsigned k = 0; k < wi->num_pipes; k++)
		pipe_abort_wait(&wi->pipes[k]);
	for (unsigned i = 0; i < WU_MAX_ISOCH; i++)
		if (f->isoch[i].used && f->isoch[i].iface == wi->index && !f->isoch[i].busy)
			f->isoch[i].used = false;
	f->open_mask &= ~(1u << wi->index);
	return 0;
}

/** A request code nobody serves (STATUS_INVALID_DEVICE_REQUEST). */
static uint32_t ioc_unknown(const struct wu_ioctx *c)
{
	(void)c;
	return ERROR_INVALID_PARAMETER;
}

/* What the dispatcher checks, in this order, before a row's handler runs. */
#define IOF_IFACE 0x1u   /* prm.iface must be an interface the file claimed */
#define IOF_PRESENT 0x2u /* the device must still be there */
#define IOF_OUT 0x4u     /* the buffer is output: probed writable (input buffers: the handler) */

/** One request code and how it is served. */
struct wu_ioctl {
	uint32_t code;
	uint8_t flags;
	uint32_t (*handler)(const struct wu_ioctx *c);
};

#define IOF_ALL (IOF_IFACE | IOF_PRESENT | IOF_OUT)

/*
 * Every request code. CANCEL and OPEN_INTERFACE check nothing first (a
 * cancel must reach a request whatever state the device is in; opening
 * reports a gone device its own way); CLOSE_INTERFACE works on a gone
 * device; the isochronous transfer requests name their interface through
 * the registered buffer. Rows without a buffer keep IOF_OUT: whatever
 * buffer is passed to them is probed as one the driver would write.
 */
static const struct wu_ioctl wu_ioctls[] = {
	{ BU_WINUSB_IOCTL_CANCEL, 0, ioc_cancel },
	{ BU_WINUSB_IOCTL_OPEN_INTERFACE, 0, ioc_open_interface },
	{ BU_WINUSB_IOCTL_CLOSE_INTERFACE, IOF_IFACE, ioc_close_interface },
	{ BU_WINUSB_IOCTL_READ_PIPE, IOF_ALL, ioc_read_pipe },
	{ BU_WINUSB_IOCTL_WRITE_PIPE, IOF_IFACE | IOF_PRESENT, ioc_write_pipe },
	{ BU_WINUSB_IOCTL_CONTROL, IOF_IFACE | IOF_PRESENT, ioc_control },
	{ BU_WINUSB_IOCTL_GET_DESCRIPTOR, IOF_ALL, ioc_get_descriptor },
	{ BU_WINUSB_IOCTL_GET_INFO, IOF_ALL, ioc_get_info },
	{ BU_WINUSB_IOCTL_QUERY_DEVICE_INFO, IOF_ALL, ioc_query_device_info },
	{ BU_WINUSB_IOCTL_SET_ALT, IOF_ALL, ioc_set_alt },
	{ BU_WINUSB_IOCTL_GET_ALT, IOF_ALL, ioc_get_alt },
	{ BU_WINUSB_IOCTL_SET_PIPE_POLICY, IOF_ALL, ioc_set_pipe_policy },
	{ BU_WINUSB_IOCTL_GET_PIPE_POLICY, IOF_ALL, ioc_get_pipe_policy },
	{ BU_WINUSB_IOCTL_SET_POWER_POLICY, IOF_ALL, ioc_set_power_policy },
	{ BU_WINUSB_IOCTL_GET_POWER_POLICY, IOF_ALL, ioc_get_power_policy },
	{ BU_WINUSB_IOCTL_RESET_PIPE, IOF_ALL, ioc_pipe_op },
	{ BU_WINUSB_IOCTL_ABORT_PIPE, IOF_ALL, ioc_pipe_op },
	{ BU_WINUSB_IOCTL_FLUSH_PIPE, IOF_ALL, ioc_pipe_op },
	{ BU_WINUSB_IOCTL_ISOCH_REGISTER, IOF_IFACE | IOF_PRESENT, ioc_isoch_register },
	{ BU_WINUSB_IOCTL_ISOCH_UNREGISTER, IOF_PRESENT | IOF_OUT, ioc_isoch_unregister },
	{ BU_WINUSB_IOCTL_ISOCH_READ, IOF_PRESENT | IOF_OUT, ioc_isoch_read },
	{ BU_WINUSB_IOCTL_ISOCH_WRITE, IOF_PRESENT, ioc_isoch_write },
	{ BU_WINUSB_IOCTL_GET_FRAME, IOF_ALL, ioc_get_frame },
	{ BU_WINUSB_IOCTL_TIMESYNC_START, IOF_ALL, ioc_timesync_start },
	{ BU_WINUSB_IOCTL_TIMESYNC_STOP, IOF_ALL, ioc_timesync_stop },
};

/** An unknown code is checked like any interface request, then refused. */
static const struct wu_ioctl wu_ioctl_unknown = { 0, IOF_ALL, ioc_unknown };

static const struct wu_ioctl *ioctl_row(uint32_t code)
{
	for (size_t i = 0; i < BU_ARRAY_SIZE(wu_ioctls); i++)
		if (wu_ioctls[i].code == code)
			return &wu_ioctls[i];
	return &wu_ioctl_unknown;
}

uint32_t bu_winusb_drv_ioctl(struct bu_winusb_drv *drv, const struct bu_winusb_io *io,
			     struct bu_winusb_iores *res)
{
	struct bu_winusb_ioparams prm;
	const struct wu_ioctl *row;
	struct wu_ioctx c;

	if (!drv || !io || !res)
		return ERROR_INVALID_PARAMETER;
	bu_memset(res, 0, sizeof(*res));
	bu_memset(&c, 0, sizeof(c));
	c.f = file_get(drv, io->file);
	if (!c.f)
		return ERROR_INVALID_HANDLE;
	if (!io->params || io->params_len != sizeof(prm))
		return ERROR_INVALID_PARAMETER;
	bu_memcpy(&prm, io->params, sizeof(prm)); /* read the caller's block once */
	if ((io->buf_len && !io->buf) || (io->aux_len && !io->aux))
		return ERROR_INVALID_PARAMETER;
	c.drv = drv;
	c.fn = c.f->fn;
	c.prm = &prm;
	c.io = io;
	c.res = res;
	row = ioctl_row(io->code);
	if (row->flags & IOF_IFACE) {
		c.wi = file_iface(c.f, prm.iface);
		if (!c.wi)
			return ERROR_INVALID_HANDLE;
	}
	if ((row->flags & IOF_PRESENT) && !c.fn->present)
		return ERROR_DEVICE_NOT_CONNECTED;
	if ((row->flags & IOF_OUT) && !range_ok(drv, io->buf, io->buf_len, true))
		return ERROR_NOACCESS;
	return row->handler(&c);
}

/* ======================================================================== */
/* Discovery and bindings                                                   */
/* ======================================================================== */

/**
 * GUIDs and power defaults of a function whose device came without MS OS
 * descriptors read (the core skips them with bus->no_msos): read them now,
 * synchronously (discovery runs in the caller's context).
 */
static void func_lookup_msos(struct wu_func *fn)
{
	struct bu_msos_info *info;

	if (fn->msos_done || !fn->present || !fn->dev)
		return;
	fn->msos_done = true;
	if (fn->drv->opts.no_msos || fn->dev->msos)
		return;
	info = zalloc(fn->drv, sizeof(*info));
	if (!info)
		return;
	if (bu_msos_fetch(fn->dev, info) == 0)
		func_apply_msos(fn, info);
	release(fn->drv, info, sizeof(*info));
}

uint32_t bu_winusb_drv_query(struct bu_winusb_drv *drv, uint32_t index,
			     struct bu_winusb_devinfo *out)
{
	uint32_t n = 0;

	if (!drv || !out)
		return ERROR_INVALID_PARAMETER;
	for (unsigned i = 0; i < BU_WINUSB_MAX_FUNCS; i++) {
		struct wu_func *fn = drv->funcs[i];

		if (!fn || !fn->present || n++ != index)
			continue;
		func_lookup_msos(fn);
		bu_memset(out, 0, sizeof(*out));
		out->instance = fn->instance;
		out->vid = fn->vid;
		out->pid = fn->pid;
		out->bcd_device = fn->bcd;
		out->bus = (uint8_t)drv->bus->index;
		out->first_iface = fn->first;
		out->num_ifaces = fn->num_ifaces;
		out->composite = fn->composite;
		out->present = fn->present;
		out->num_guids = fn->num_guids;
		bu_memcpy(out->location, fn->location, sizeof(out->location));
		bu_memcpy(out->compat_id, fn->compat_id, sizeof(out->compat_id));
		bu_memcpy(out->guids, fn->guids, sizeof(out->guids));
		bu_memcpy(out->product, fn->product, sizeof(out->product));
		return 0;
	}
	return ERROR_NO_MORE_ITEMS;
}

/** Rebuild the match table from the bindings (the compat rule last). */
static void rebuild_matches(struct bu_winusb_drv *drv)
{
	unsigned n = 0;

	for (unsigned i = 0; i < drv->num_bindings; i++) {
		struct bu_usb_match *m = &drv->match[n++];
		const struct wu_binding *b = &drv->bindings[i];

		bu_memset(m, 0, sizeof(*m));
		m->flags = BU_MATCH_VENDOR | BU_MATCH_PRODUCT;
		m->vid = b->vid;
		m->pid = b->pid;
		if (b->iface >= 0) {
			m->flags |= BU_MATCH_INTERFACE;
			m->interface = (uint8_t)b->iface;
		}
		m->data = b;
	}
	bu_memset(&drv->match[n], 0, sizeof(drv->match[n]));
	drv->match[n].flags = BU_MATCH_COMPAT_ID;
	drv->match[n].compat_id = "WINUSB";
	drv->match[n].data = &drv->compat;
	drv->driver.num_match = n + 1;
}

int bu_winusb_drv_bind(struct bu_winusb_drv *drv, uint16_t vid, uint16_t pid, int iface,
		       const char *guid)
{
	struct wu_binding *b;

	if (!drv || iface < -1 || iface > 255)
		return BU_EINVAL;
	if (drv->num_bindings >= BU_WINUSB_MAX_BINDINGS)
		return BU_ENOSPC;
	b = &drv->bindings[drv->num_bindings];
	bu_memset(b, 0, sizeof(*b));
	if (guid && !bu_msos_guid_normalize(guid, bu_strlen(guid), b->guid))
		return BU_EINVAL;
	b->drv = drv;
	b->vid = vid;
	b->pid = pid;
	b->iface = (int16_t)iface;
	drv->num_bindings++;
	rebuild_matches(drv);
	return 0;
}

/** Parse hex digits [s, e); returns false when empty, not hex or too big. */
static bool parse_hex(const char *s, const char *e, uint32_t max, uint32_t *out)
{
	uint32_t v = 0;

	if (s == e)
		return false;
	for (; s < e; s++) {
		char c = *s;
		unsigned d;

		if (c >= '0' && c <= '9')
			d = (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			d = (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			d = (unsigned)(c - 'A' + 10);
		else
			return false;
		v = v * 16 + d;
		if (v > max)
			return false;
	}
	*out = v;
	return true;
}

int bu_winusb_drv_bind_spec(struct bu_winusb_drv *drv, const char *spec, size_t len)
{
	const char *p = spec, *end = spec + len, *field[4];
	size_t flen[4];
	unsigned n = 0;
	uint32_t vid, pid, iface = 0;
	int ifc = -1;
	char guid[BU_WINUSB_GUID_LEN + 1];
	const char *g = NULL;

	if (!drv || !spec)
		return BU_EINVAL;
	/* Split at ':' outside braces. */
	while (p <= end && n < 4) {
		const char *s = p;
		int depth = 0;

		while (p < end && (*p != ':' || depth)) {
			depth += *p == '{' ? 1 : *p == '}' ? -1 : 0;
			p++;
		}
		field[n] = s;
		flen[n++] = (size_t)(p - s);
		p++;
	}
	if (n < 2 || p <= end)
		return BU_EINVAL;
	if (!parse_hex(field[0], field[0] + flen[0], 0xffff, &vid) ||
	    !parse_hex(field[1], field[1] + flen[1], 0xffff, &pid))
		return BU_EINVAL;
	for (unsigned i = 2; i < n; i++) {
		if (flen[i] && field[i][0] == '{') {
			if (g || flen[i] > BU_WINUSB_GUID_LEN)
				return BU_EINVAL;
			bu_memcpy(guid, field[i], flen[i]);
			guid[flen[i]] = '\0';
			g = guid;
			continue;
		}
		if (ifc >= 0 || !flen[i])
			return BU_EINVAL;
		iface = 0;
		for (size_t k = 0; k < flen[i]; k++) {
			if (field[i][k] < '0' || field[i][k] > '9')
				return BU_EINVAL;
			iface = iface * 10 + (uint32_t)(field[i][k] - '0');
			if (iface > 255)
				return BU_EINVAL;
		}
		ifc = (int)iface;
	}
	return bu_winusb_drv_bind(drv, (uint16_t)vid, (uint16_t)pid, ifc, g);
}

int bu_winusb_drv_scan(struct bu_winusb_drv *drv)
{
	int n = 0;

	if (!drv)
		return BU_EINVAL;
	for (struct bu_usb_device *d = drv->bus->devices; d; d = d->next) {
		struct bu_msos_info *info;

		if (d->state != BU_DEV_CONFIGURED || drv->opts.no_msos || d->msos)
			continue;
		/* The core did not read them (bus->no_msos, or a device that
		 * was there before): read them here, copy the compatible IDs. */
		info = zalloc(drv, sizeof(*info));
		if (!info)
			break;
		if (bu_msos_fetch(d, info) == 0 && info->version) {
			n++;
			for (unsigned i = 0; i < BU_WINUSB_MAX_FUNCS; i++)
				if (drv->funcs[i] && drv->funcs[i]->dev == d &&
				    !drv->funcs[i]->msos_done) {
					drv->funcs[i]->msos_done = true;
					func_apply_msos(drv->funcs[i], info);
				}
		}
		release(drv, info, sizeof(*info));
	}
	/* Registering a driver offers every configured device's unbound
	 * interfaces to all drivers again; the helper itself matches nothing. */
	if (bu_usb_bus_register_driver(drv->bus, &drv->kick) == 0)
		bu_usb_bus_unregister_driver(drv->bus, &drv->kick);
	return n;
}

/* ======================================================================== */
/* Lifetime and transport                                                   */
/* ======================================================================== */

int bu_winusb_drv_create(struct bu_usb_bus *bus, const struct bu_winusb_drv_options *opts,
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
	drv->kick.name = "winusb-rescan";
	drv->kick.probe = kick_probe;
	rebuild_matches(drv);
	rc = bu_usb_bus_register_driver(bus, &drv->driver);
	if (rc) {
		release(drv, drv, sizeof(*drv));
		return rc;
	}
	*out = drv;
	return 0;
}

void bu_winusb_drv_destroy(struct bu_winusb_drv *drv)
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
			wait_while(drv, func_outstanding, fn, WU_WAIT_MS);
		fn = drv->funcs[i];
		if (fn) {
			/* Nothing can reach it any more. */
			fn->outstanding = 0;
			fn->file = NULL;
			fn->nbound = 0;
			fn->present = false;
			func_maybe_free(fn);
		}
	}
	release(drv, drv, sizeof(*drv));
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
}
