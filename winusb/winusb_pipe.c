/*
 * WinUSB driver part: pipes, requests and the bulk/interrupt engine. Each
 * pipe keeps a FIFO of accepted requests and applies its policies as it
 * puts them on the bus; every transfer of the driver completes through
 * here. Reads top to bottom:
 *   pipes -> requests and giveback -> bulk/interrupt engine -> completion
 *   -> abort, cancel, flush, reset -> READ_PIPE/WRITE_PIPE and pipe
 *   requests.
 *
 * What the engine does is the behaviour "WinUSB Functions for Pipe Policy
 * Modification" describes: per-pipe FIFO completion; reads rounded up to
 * wMaxPacketSize with the excess kept or dropped; without RAW_IO one read
 * on the bus per pipe, with RAW_IO every read goes down at once; writes
 * split at MAXIMUM_TRANSFER_SIZE with several pieces (and, without a pipe
 * timeout, several requests) on the bus at once; ZLPs per
 * SHORT_PACKET_TERMINATE; timeouts counted from the moment a request
 * reaches the bus; AUTO_CLEAR_STALL clears the halt before the failed read
 * completes, otherwise the pipe stays failed until ResetPipe.
 */
#include "winusb_priv.h"

#include "bareusb/ch9.h"
#include "bareusb/desc.h"
#include "bareusb/errors.h"
#include "bareusb/util.h"

/* ======================================================================== */
/* Pipes                                                                    */
/* ======================================================================== */

bool bu_wu_pipe_in(const struct wu_pipe *p)
{
	return (p->id & USB_DIR_IN) != 0;
}

/** MAXIMUM_TRANSFER_SIZE of a pipe. */
uint32_t bu_wu_pipe_max_xfer(const struct wu_pipe *p)
{
	const struct bu_winusb_drv *drv = p->wi->fn->drv;
	uint32_t max = p->wi->fn->speed >= BU_SPEED_HIGH ? drv->max_xfer_hs : drv->max_xfer_fs;

	if (p->mps && max % p->mps)
		max -= max % p->mps;
	return max;
}

/** Free a pipe's bounce buffer. */
void bu_wu_pipe_drop_carry(struct wu_pipe *p)
{
	struct bu_winusb_drv *drv = p->wi->fn->drv;

	bu_usb_dma_buf_free(drv->bus, &p->carry_dma);
	p->carry = NULL;
	p->carry_len = p->carry_off = 0;
	p->carry_short = false;
}

/**
 * (Re)build an interface's pipes from its current alternate setting.
 * Pipes whose PipeID stays keep their policies (the documentation does not
 * say what Windows does); new ones start with the defaults.
 */
void bu_wu_iface_build_pipes(struct wu_iface *wi)
{
	struct wu_func *fn = wi->fn;
	const struct bu_usb_config_info *cfg;
	const struct bu_usb_alt_info *alt;
	unsigned nold = wi->num_pipes;

	for (unsigned i = 0; i < nold; i++) {
		wi->keep[i].id = wi->pipes[i].id;
		wi->keep[i].pol = wi->pipes[i].pol;
		if (wi->pipes[i].carry)
			bu_wu_pipe_drop_carry(&wi->pipes[i]);
	}
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
			if (wi->keep[k].id == p->id)
				p->pol = wi->keep[k].pol;
	}
}

/** The pipe with this PipeID in an interface (0: the control pipe), or NULL. */
struct wu_pipe *bu_wu_iface_pipe(struct wu_iface *wi, uint8_t id)
{
	if (id == 0)
		return &wi->ctrl;
	for (unsigned i = 0; i < wi->num_pipes; i++)
		if (wi->pipes[i].id == id)
			return &wi->pipes[i];
	return NULL;
}

/** Reset an interface's policies to the defaults (WinUsb_Initialize does). */
void bu_wu_iface_reset_policies(struct wu_iface *wi)
{
	bu_wu_policies_default(&wi->ctrl.pol, true);
	for (unsigned i = 0; i < wi->num_pipes; i++)
		bu_wu_policies_default(&wi->pipes[i].pol, false);
}

/* ======================================================================== */
/* Requests                                                                 */
/* ======================================================================== */

static void xfer_done(struct bu_usb_xfer *x);

/** A request with `nslots` transfer slots. */
struct wu_req *bu_wu_req_alloc(struct wu_func *fn, unsigned nslots)
{
	size_t size;
	struct wu_req *r;

	if (!bu_wu_array_size(sizeof(struct wu_req), nslots, sizeof(struct wu_slot), &size))
		return NULL;
	r = bu_wu_zalloc(fn->drv, size);
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

/** Common set-up of a pending request. */
void bu_wu_req_bind(struct wu_req *r, struct wu_file *f, uint8_t kind, uint8_t iface,
		     const struct bu_winusb_io *io)
{
	r->file = f;
	r->kind = kind;
	r->iface = iface;
	r->cb = io->done;
	r->cb_ctx = io->done_ctx;
	r->cb_cookie = io->done_cookie;
}

/** Set a request's result if it has none yet. */
void bu_wu_req_fail(struct wu_req *r, uint32_t status)
{
	if (!r->status)
		r->status = status;
}

/** Cancel every transfer of a request still on the bus. */
void bu_wu_req_cancel_inflight(struct wu_req *r)
{
	for (unsigned i = 0; i < r->nslots; i++)
		if (r->slots[i].busy)
			bu_usb_xfer_cancel(&r->slots[i].x);
}

/** Hand a finished request back to the API part and free it. */
void bu_wu_req_giveback(struct wu_req *r)
{
	struct wu_func *fn = r->fn;
	uint32_t bytes = r->kind == RQ_ISOCH ? 0 : r->done;
	bu_winusb_io_done_fn cb = r->cb;
	void *ctx = r->cb_ctx, *cookie = r->cb_cookie;
	uint32_t status = r->status;

	if (r->ib && r->ib->busy)
		r->ib->busy--;
	if (r->kind == RQ_WRITE || r->kind == RQ_CONTROL)
		fn->last_busy_us = bu_wu_now_us(fn->drv);
	bu_wu_free(fn->drv, r, r->size);
	fn->outstanding--;
	if (cb)
		cb(ctx, cookie, status, bytes);
}

/**
 * Give back the finished requests at the head of a pipe, in order, and
 * any finished request cancelled on its own (a synchronous call's that
 * outlived its wait cap behind an overlapped one that is still pending).
 */
static __attribute__((noinline)) void pipe_retire(struct wu_pipe *p)
{
	struct wu_req **pp = &p->head, *prev = NULL;
	bool in_order = true;

	while (*pp) {
		struct wu_req *r = *pp;

		if (!r->finished || r->inflight || (!in_order && !r->cancelled)) {
			in_order = false;
			prev = r;
			pp = &r->next;
			continue;
		}
		*pp = r->next;
		if (p->tail == r)
			p->tail = prev;
		bu_wu_req_giveback(r);
		/* The callback may have queued more: look again from the head. */
		pp = &p->head;
		prev = NULL;
		in_order = true;
	}
}

/** Append an accepted request to its pipe's FIFO. */
void bu_wu_pipe_enqueue(struct wu_pipe *p, struct wu_req *r)
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
		bu_wu_req_fail(r, status);
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
	now = bu_wu_now_us(r->fn->drv);
	if (now >= r->deadline_us)
		return 1;
	return (uint32_t)BU_MAX(bu_div64_u32(r->deadline_us - now + 999, 1000, NULL), 1);
}

/** Start a request's timer (PIPE_TRANSFER_TIMEOUT counts from the bus). */
void bu_wu_req_start(struct wu_req *r, uint32_t timeout_ms)
{
	if (r->started)
		return;
	r->started = true;
	if (timeout_ms)
		r->deadline_us = bu_wu_now_us(r->fn->drv) + (uint64_t)timeout_ms * 1000;
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
int bu_wu_slot_submit(struct wu_slot *s, struct bu_usb_endpoint *ep, void *buf, uint32_t len,
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
static __attribute__((noinline)) void kick_out(struct wu_pipe *p)
{
	struct bu_winusb_drv *drv = p->wi->fn->drv;
	uint32_t max = bu_wu_pipe_max_xfer(p);
	bool first = true;

	for (struct wu_req *r = p->head; r; r = r->next) {
		if (r->finished || r->held)
			continue;
		/* With a timeout, only the oldest request is on the bus, so
		 * waiting in the queue does not count against it. */
		if (!first && p->pol.timeout_ms)
			return;
		first = false;
		while (r->pieces_left && !r->status && p->inflight < drv->depth) {
			struct wu_slot *s = req_slot(r);
			uint32_t n = 0;
			int rc;

			if (!s)
				return;
			bu_wu_req_start(r, p->pol.timeout_ms);
			if (r->next_off < r->len)
				n = BU_MIN(r->len - r->next_off, max);
			rc = bu_wu_slot_submit(s, p->ep, bu_wu_req_at(r, r->next_off), n,
					 n ? SL_DATA : SL_ZLP, r->next_off, 0);
			if (rc == BU_ENOSPC && p->inflight)
				return;
			if (rc) {
				bu_wu_req_fail(r, bu_winusb_err_to_win32(rc));
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
	bu_memcpy(bu_wu_req_at(r, r->done), p->carry + p->carry_off, n);
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
static __attribute__((noinline)) void kick_in(struct wu_pipe *p)
{
	struct bu_winusb_drv *drv = p->wi->fn->drv;
	uint32_t max = bu_wu_pipe_max_xfer(p);

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
			bu_wu_req_start(r, p->pol.timeout_ms);
			rc = bu_wu_slot_submit(&r->slots[0], p->ep, r->buf, r->len, SL_DATA, 0, 0);
			if (rc == BU_ENOSPC && p->inflight) {
				r->started = false;
				r->deadline_us = 0;
				return;
			}
			if (rc) {
				bu_wu_req_fail(r, bu_winusb_err_to_win32(rc));
				req_settle(r);
			}
			continue;
		}
		/* Queued mode: one read on the bus at a time, in order. */
		if (r->inflight)
			return;
		if (!r->started) {
			bu_wu_req_start(r, p->pol.timeout_ms);
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
			if (bu_usb_dma_buf_alloc(drv->bus, &p->carry_dma, p->mps) == 0)
				p->carry = p->carry_dma.cpu;
			if (!p->carry) {
				bu_wu_req_fail(r, ERROR_NOT_ENOUGH_MEMORY);
				req_settle(r);
				continue;
			}
		}
		if (tail) {
			/* The pipe's own DMA buffer, not the caller's memory. */
			r->slots[0].x.dma = p->carry_dma.bus;
			rc = bu_wu_slot_submit(&r->slots[0], p->ep, p->carry, p->mps, SL_TAIL, r->done,
					       BU_XFER_DMA);
		}
		else
			rc = bu_wu_slot_submit(&r->slots[0], p->ep, bu_wu_req_at(r, r->done), n, SL_DATA, r->done, 0);
		if (rc == BU_ENOSPC && p->inflight)
			return;
		if (rc) {
			bu_wu_req_fail(r, bu_winusb_err_to_win32(rc));
			req_settle(r);
			continue;
		}
		return;
	}
}

/** Submit what a pipe's queue allows (not while it is failed, recovering or
 * being reset). */
void bu_wu_pipe_kick(struct wu_pipe *p)
{
	if (!p->ep || p->clearing || p->resetting || p->reset_want ||
	    p->reset_busy || !p->wi->fn->present) {
		pipe_retire(p);
		return;
	}
	if (p->type == BU_EP_ISOCH)
		bu_wu_isoch_kick(p);
	else if (bu_wu_pipe_in(p))
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
		bu_wu_log(p->wi->fn->drv, BU_LOG_WARN, "pipe 0x%02x: clearing the stall failed: %s",
		     p->id, bu_strerror(x->status));
	if (r) {
		r->held = false;
		/* r itself keeps the function until its giveback. */
		r->fn->outstanding--;
		req_settle(r);
	}
	bu_wu_pipe_kick_later(p);
}

/**
 * AUTO_CLEAR_STALL: the controller already reset its side of the
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
	bu_wu_req_fail(r, bu_winusb_err_to_win32(err));
	if (err == BU_ECANCELED || err == BU_ETIMEDOUT || err == BU_ENODEV ||
	    err == BU_ESHUTDOWN)
		return;
	/* A stall or bus error. */
	if (bu_wu_pipe_in(p) && p->pol.auto_clear_stall && pipe_auto_clear(p, r))
		return;
	p->halted = true;
	pipe_fail_queued(p, ERROR_GEN_FAILURE);
}

/** Completion of a bulk/interrupt transfer. */
static __attribute__((noinline)) void data_done(struct wu_slot *s)
{
	struct wu_req *r = s->req;
	struct wu_pipe *p = r->pipe;
	struct bu_usb_xfer *x = &s->x;
	uint32_t actual = (uint32_t)BU_MIN(x->actual, s->len);
	bool short_pkt;

	if (s->kind == SL_TAIL) {
		struct wu_tail t;

		bu_wu_tail_plan(actual, r->len - r->done, &p->pol, &t);
		bu_memcpy(bu_wu_req_at(r, r->done), p->carry, t.to_user);
		r->done += t.to_user;
		if (!x->status) {
			if (t.status) {
				bu_wu_req_fail(r, t.status);
			} else if (t.keep) {
				p->carry_off = t.to_user;
				p->carry_len = t.excess;
				p->carry_short = actual < p->mps;
			}
		}
	} else if (s->kind == SL_DATA) {
		r->done = BU_MAX(r->done, s->off + actual);
	}
	if (x->status == BU_ECANCELED && p->resetting && !r->status) {
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
		bu_wu_req_cancel_inflight(r);
		req_settle(r);
		return;
	}
	if (r->status) { /* an earlier piece failed; this one just drains */
		req_settle(r);
		return;
	}
	if (r->kind == RQ_WRITE) {
		if (actual < s->len) {
			bu_wu_req_fail(r, ERROR_GEN_FAILURE);
			r->pieces_left = 0;
			bu_wu_req_cancel_inflight(r);
		}
		req_settle(r);
		return;
	}
	/* Reads: a short packet ends the read unless IGNORE_SHORT_PACKETS;
	 * RAW_IO reads are single transfers. */
	short_pkt = actual < s->len;
	if (r->done >= r->len || p->pol.raw_io || (short_pkt && !p->pol.ignore_short_packets))
		r->finished = !r->inflight;
}

/* ======================================================================== */
/* Completion                                                               */
/* ======================================================================== */

/** Every transfer of the driver completes here (from bu_usb_bus_poll). */
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
		bu_wu_ctrl_done(s);
		return;
	}
	if (r->kind == RQ_ISOCH)
		bu_wu_isoch_done(s);
	else
		data_done(s);
	/* The next transfers go down from the driver's work, at the poll's
	 * depth, not from under the controller's event handler; the request
	 * keeps the function until its giveback there. */
	bu_wu_pipe_kick_later(p);
}

void bu_wu_pipe_kick_later(struct wu_pipe *p)
{
	p->kick_due = true;
	bu_wu_defer(p->wi->fn->drv);
}

/* ======================================================================== */
/* Abort, cancel, flush, reset                                              */
/* ======================================================================== */

/**
 * Abort one request: nothing more of it goes out, its transfers on the bus
 * are cancelled, and it completes with `status` once they are back.
 */
static void req_abort(struct wu_req *r, uint32_t status)
{
	bu_wu_req_fail(r, status);
	r->pieces_left = 0;
	if (r->kind == RQ_ISOCH) {
		r->isoch_cancelled = true;
		r->next_pkt = r->npkts;
	}
	bu_wu_req_cancel_inflight(r);
	if (r->kind != RQ_CONTROL)
		req_settle(r); /* a control request completes from ctrl_done */
}

/** Abort every request of a pipe; they complete with `status`. */
void bu_wu_pipe_abort(struct wu_pipe *p, uint32_t status)
{
	for (struct wu_req *r = p->head; r; r = r->next)
		if (!r->finished)
			req_abort(r, status);
	pipe_retire(p);
}

/** CANCEL: abort the file's pending request started with `cookie`. */
uint32_t bu_wu_file_cancel(struct wu_file *f, const void *cookie)
{
	struct wu_func *fn = f->fn;

	for (struct wu_req *r = fn->ctrl_reqs; r; r = r->next) {
		if (r->file == f && r->cb_cookie == cookie) {
			req_abort(r, ERROR_OPERATION_ABORTED);
			return 0;
		}
	}
	for (struct wu_req *r = fn->op_reqs; r; r = r->next) {
		if (r->file == f && r->cb_cookie == cookie) {
			/* Given back from the work (once the core called back,
			 * when an operation of its is under way); what it
			 * started goes on. */
			r->cancelled = true;
			bu_wu_req_fail(r, ERROR_OPERATION_ABORTED);
			bu_wu_defer(fn->drv);
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
				r->cancelled = true;
				req_abort(r, ERROR_OPERATION_ABORTED);
				pipe_retire(p);
				return 0;
			}
		}
	}
	return ERROR_NOT_FOUND;
}

void bu_wu_pipe_abort_marked(struct wu_pipe *p)
{
	for (struct wu_req *r = p->head; r; r = r->next)
		r->op_wait = true;
	bu_wu_pipe_abort(p, ERROR_OPERATION_ABORTED);
}

bool bu_wu_pipe_quiet(const struct wu_pipe *p)
{
	if (p->clearing || p->reset_want || p->resetting || p->reset_busy)
		return false;
	for (const struct wu_req *r = p->head; r; r = r->next)
		if (r->op_wait)
			return false;
	return true;
}

/** The core's endpoint reset of a pipe ended. */
static void pipe_reset_done(struct bu_usb_device *dev, void *ctx, int status)
{
	struct wu_pipe *p = ctx;
	struct wu_func *fn = p->wi->fn;

	(void)dev;
	if (status && status != BU_ENODEV)
		bu_wu_log(fn->drv, BU_LOG_WARN, "pipe 0x%02x: reset failed: %s",
			  p->id, bu_strerror(status));
	p->reset_busy = false;
	p->reset_status = status;
	/* The reset kept the function; the work may free it. */
	fn->outstanding--;
	bu_wu_pipe_kick_later(p);
}

/**
 * Reset a pipe's endpoint on both sides (RESET_PIPE, or
 * RESET_PIPE_ON_RESUME) once none of its transfers is on the bus and the
 * controller is done with the endpoint: the controller's toggle/sequence
 * and ring, CLEAR_FEATURE(ENDPOINT_HALT) on the device, asynchronously.
 */
void bu_wu_pipe_reset_step(struct wu_pipe *p)
{
	struct wu_func *fn = p->wi->fn;
	int rc;

	if ((!p->reset_want && !p->resetting) || p->reset_busy || p->inflight ||
	    p->clearing)
		return;
	if (!p->ep || !fn->present) {
		p->reset_want = p->resetting = false;
		p->reset_status = 0;
		bu_wu_pipe_kick_later(p);
		return;
	}
	if (bu_usb_endpoint_busy(p->ep)) {
		/* The controller may still be recovering: the next poll. */
		bu_wu_defer(fn->drv);
		return;
	}
	p->reset_want = p->resetting = false;
	p->reset_busy = true;
	fn->outstanding++;
	rc = bu_usb_reset_endpoint_async(p->ep, pipe_reset_done, p);
	if (rc)
		pipe_reset_done(fn->dev, p, rc);
}

/** Whether a pending request's wait is over (its result set when it is). */
static bool op_ready(struct wu_func *fn, struct wu_req *r)
{
	struct wu_iface *wi = &fn->ifaces[r->iface];

	if (r->inflight)
		return false; /* the core's operation has not called back */
	if (r->cancelled)
		return true;
	switch (r->op) {
	case OP_ABORT:
		return bu_wu_pipe_quiet(r->pipe);
	case OP_RESET:
		if (!bu_wu_pipe_quiet(r->pipe))
			return false;
		if (r->pipe->reset_status && r->pipe->reset_status != BU_ENODEV)
			bu_wu_req_fail(
			    r, bu_winusb_err_to_win32(r->pipe->reset_status));
		return true;
	case OP_CLOSE:
		if (wi->alt_busy)
			return false;
		for (unsigned k = 0; k < wi->num_pipes; k++)
			if (!bu_wu_pipe_quiet(&wi->pipes[k]))
				return false;
		/* Drop the interface's idle isoch buffers, then release it. */
		for (unsigned i = 0; i < WU_MAX_ISOCH; i++)
			if (r->file->isoch[i].used &&
			    r->file->isoch[i].iface == wi->index &&
			    !r->file->isoch[i].busy)
				r->file->isoch[i].used = false;
		r->file->open_mask &= ~(1u << wi->index);
		return true;
	case OP_UNREGISTER:
		if (((struct wu_isoch_buf *)r->target)->busy)
			return false;
		((struct wu_isoch_buf *)r->target)->used = false;
		return true;
	default:
		return true; /* OP_SET_ALT: its done set the result */
	}
}

void bu_wu_ops_run(struct wu_func *fn)
{
	struct wu_req **pp = &fn->op_reqs;

	while (*pp) {
		struct wu_req *r = *pp;

		if (!op_ready(fn, r)) {
			pp = &r->next;
			continue;
		}
		*pp = r->next;
		r->finished = true;
		bu_wu_req_giveback(r);
		pp = &fn->op_reqs; /* the completion may have pended another */
	}
}

uint32_t bu_wu_op_pend(const struct wu_ioctx *c, uint8_t op, struct wu_pipe *p,
		       void *target)
{
	struct wu_req *r = bu_wu_req_alloc(c->fn, 0);
	struct wu_req **pp = &c->fn->op_reqs;

	if (!r)
		return ERROR_NOT_ENOUGH_MEMORY;
	bu_wu_req_bind(r, c->f, RQ_OP, c->wi ? c->wi->index : 0, c->io);
	r->op = op;
	r->pipe = p;
	r->target = target;
	while (*pp)
		pp = &(*pp)->next;
	/* It completes in order with the others that are ready together. */
	*pp = r;
	bu_wu_defer(c->drv);
	return ERROR_IO_PENDING;
}

/** Whether a request is pending on pipe `p` already (one at a time). */
static bool op_pending(const struct wu_func *fn, const struct wu_pipe *p)
{
	for (const struct wu_req *r = fn->op_reqs; r; r = r->next)
		if (r->pipe == p)
			return true;
	return false;
}

/**
 * ResetPipe: abort what is queued, then reset both sides - the
 * controller's toggle/sequence and ring, CLEAR_FEATURE(ENDPOINT_HALT) on
 * the device (not for isochronous endpoints: "WinUsb_ResetPipe function
 * (winusb.h)"). AbortPipe: only the first half. Both pend until done.
 */
static uint32_t pipe_abort_reset(const struct wu_ioctx *c, struct wu_pipe *p,
				 bool reset)
{
	if (!c->io->done)
		return ERROR_INVALID_PARAMETER; /* it may pend: needs `done` */
	if (op_pending(c->fn, p))
		return ERROR_BUSY;
	bu_wu_pipe_abort_marked(p);
	if (reset) {
		p->halted = false;
		p->reset_status = 0;
		if (p->type == BU_EP_ISOCH)
			p->stream = false;
		else if (p->ep)
			p->reset_want = true;
	}
	if (bu_wu_pipe_quiet(p))
		return 0;
	return bu_wu_op_pend(c, reset ? OP_RESET : OP_ABORT, p, NULL);
}

/* ======================================================================== */
/* Requests from the API part                                               */
/* ======================================================================== */

/** READ_PIPE / WRITE_PIPE. */
static uint32_t do_rw(const struct wu_ioctx *c, bool read)
{
	struct bu_winusb_drv *drv = c->drv;
	const struct bu_winusb_io *io = c->io;
	struct wu_pipe *p = c->prm->pipe ? bu_wu_iface_pipe(c->wi, c->prm->pipe) : NULL;
	struct wu_func *fn = c->fn;
	struct wu_req *r;
	unsigned slots = 1;

	if (!p || !p->ep || p->type == BU_EP_ISOCH || p->type == BU_EP_CONTROL ||
	    bu_wu_pipe_in(p) != read)
		return ERROR_INVALID_PARAMETER;
	if (!bu_wu_range_ok(drv, io->buf, io->buf_len, read))
		return ERROR_NOACCESS;
	if (!io->done)
		return ERROR_INVALID_PARAMETER;
	if (p->halted)
		return ERROR_GEN_FAILURE; /* until WinUsb_ResetPipe (AUTO_CLEAR_STALL off) */
	bu_wu_func_resume(fn);
	if (read && !io->buf_len) {
		/* Zero-length reads complete at once, without the bus. */
		c->res->bytes = 0;
		return 0;
	}
	if (read && p->pol.raw_io && bu_wu_raw_io_check(io->buf_len, p->mps, bu_wu_pipe_max_xfer(p)))
		return ERROR_INVALID_PARAMETER;
	if (!read) {
		bool zlp;
		uint32_t pieces = bu_wu_write_pieces(io->buf_len, p->mps, bu_wu_pipe_max_xfer(p), &p->pol,
						  &zlp);

		slots = BU_MIN(pieces, drv->depth);
		r = bu_wu_req_alloc(fn, slots);
		if (!r)
			return ERROR_NOT_ENOUGH_MEMORY;
		r->pieces_left = pieces;
		r->zlp = zlp;
		fn->last_busy_us = bu_wu_now_us(drv);
	} else {
		r = bu_wu_req_alloc(fn, 1);
		if (!r)
			return ERROR_NOT_ENOUGH_MEMORY;
	}
	bu_wu_req_bind(r, c->f, read ? RQ_READ : RQ_WRITE, c->wi->index, io);
	r->buf = io->buf;
	r->len = io->buf_len;
	bu_wu_pipe_enqueue(p, r);
	bu_wu_pipe_kick(p);
	return ERROR_IO_PENDING;
}

uint32_t bu_wu_ioc_read_pipe(const struct wu_ioctx *c)
{
	return do_rw(c, true);
}

uint32_t bu_wu_ioc_write_pipe(const struct wu_ioctx *c)
{
	return do_rw(c, false);
}

/** RESET_PIPE, ABORT_PIPE, FLUSH_PIPE: requests that act on a pipe. */
uint32_t bu_wu_ioc_pipe_op(const struct wu_ioctx *c)
{
	struct wu_func *fn = c->fn;
	struct wu_iface *wi = c->wi;
	uint8_t id = c->prm->pipe;
	struct wu_pipe *p = bu_wu_iface_pipe(wi, id);

	if (!p)
		return ERROR_INVALID_PARAMETER;
	if (id == 0) {
		/* The control pipe: abort cancels this interface's control requests. */
		if (c->io->code == BU_WINUSB_IOCTL_ABORT_PIPE)
			for (struct wu_req *r = fn->ctrl_reqs; r; r = r->next)
				if (r->iface == wi->index) {
					bu_wu_req_fail(r, ERROR_OPERATION_ABORTED);
					bu_wu_req_cancel_inflight(r);
				}
		return 0;
	}
	switch (c->io->code) {
	case BU_WINUSB_IOCTL_ABORT_PIPE:
		return pipe_abort_reset(c, p, false);
	case BU_WINUSB_IOCTL_FLUSH_PIPE:
		/* Drops the excess kept by ALLOW_PARTIAL_READS ("WinUsb_FlushPipe
		 * function (winusb.h)"). */
		p->carry_len = p->carry_off = 0;
		p->carry_short = false;
		return 0;
	default:
		bu_wu_func_resume(fn);
		return pipe_abort_reset(c, p, true);
	}
}
