/*
 * WinUSB driver part: the isochronous engine. Registered buffers, the
 * requests that read or write a slice of one packet by packet (at a given
 * frame or as soon as possible, following the previous one), and the
 * frame number and time-sync requests. Reads top to bottom:
 *   engine (submit, complete) -> registered buffers -> ISOCH_READ and
 *   ISOCH_WRITE -> frame number and time sync.
 */
#include "winusb_priv.h"

#include "bareusb/errors.h"
#include "bareusb/util.h"

/* ======================================================================== */
/* Engine                                                                   */
/* ======================================================================== */

/* Frames ahead a TD for a given frame may be queued (xHCI allows 895). */
#define ISOCH_FRAME_REACH 512

/** Submit the next packets of the isoch requests of a pipe. */
void bu_wu_isoch_kick(struct wu_pipe *p)
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
			bu_wu_req_start(r, 0);
			rc = bu_wu_slot_submit(s, p->ep, bu_wu_req_at(r, off), n, SL_ISOCH, i, flags);
			if (rc == BU_ENOSPC && p->inflight)
				return;
			if (rc) {
				for (uint32_t k = i; k < r->npkts; k++)
					if (r->pkts)
						r->pkts[k].status = bu_winusb_err_to_usbd(rc);
				r->isoch_errors += r->npkts - i;
				bu_wu_req_fail(r, bu_winusb_err_to_win32(rc));
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
void bu_wu_isoch_done(struct wu_slot *s)
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
			bu_wu_req_fail(r, ERROR_DEVICE_NOT_CONNECTED);
	}
	if (r->next_pkt < r->npkts || r->inflight)
		return;
	/* Writes: success means everything went out; reads report per packet. */
	if (r->isoch_cancelled)
		bu_wu_req_fail(r, ERROR_OPERATION_ABORTED);
	else if (r->isoch_errors && !(r->pkts && r->isoch_errors < r->npkts))
		bu_wu_req_fail(r, ERROR_GEN_FAILURE);
	r->finished = true;
}

/* ======================================================================== */
/* Registered buffers                                                       */
/* ======================================================================== */

/** Find the isoch pipe a RegisterIsochBuffer PipeID names (full address or number). */
static struct wu_pipe *isoch_pipe(struct wu_iface *wi, uint8_t id)
{
	struct wu_pipe *p = bu_wu_iface_pipe(wi, id);

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

/** ISOCH_REGISTER. */
uint32_t bu_wu_ioc_isoch_register(const struct wu_ioctx *c)
{
	const struct bu_winusb_io *io = c->io;
	struct wu_pipe *p = isoch_pipe(c->wi, c->prm->pipe);

	if (!p || !io->buf || !io->buf_len)
		return ERROR_INVALID_PARAMETER;
	if (!bu_wu_range_ok(c->drv, io->buf, io->buf_len, bu_wu_pipe_in(p)))
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

/**
 * ISOCH_UNREGISTER: done once the transfers using the buffer are
 * ("WinUsb_UnregisterIsochBuffer function (winusb.h)"): pending until then.
 */
uint32_t bu_wu_ioc_isoch_unregister(const struct wu_ioctx *c)
{
	struct wu_isoch_buf *ib = isoch_get(c->f, c->prm->handle);

	if (!ib)
		return ERROR_INVALID_HANDLE;
	if (!ib->busy) {
		ib->used = false;
		return 0;
	}
	if (!c->io->done)
		return ERROR_INVALID_PARAMETER; /* it pends: needs `done` */
	for (const struct wu_req *r = c->fn->op_reqs; r; r = r->next)
		if (r->target == ib)
			return ERROR_BUSY;
	return bu_wu_op_pend(c, OP_UNREGISTER, NULL, ib);
}

/* ======================================================================== */
/* Transfers                                                                */
/* ======================================================================== */

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
	wi = bu_wu_file_iface(c->f, ib->iface);
	p = wi ? bu_wu_iface_pipe(wi, ib->pipe) : NULL;
	if (!p || !p->ep || p->type != BU_EP_ISOCH || bu_wu_pipe_in(p) != read || !io->done)
		return ERROR_INVALID_PARAMETER;
	if (prm->offset > ib->len || prm->length > ib->len - prm->offset || !prm->length)
		return ERROR_INVALID_PARAMETER;
	rc = bu_wu_isoch_plan(fn->speed, read, prm->length, prm->type, p->bpi, &count, &per);
	if (rc)
		return rc;
	if (read) {
		if (!io->aux || io->aux_len / sizeof(struct bu_winusb_iso_packet) < count ||
		    !bu_wu_range_ok(drv, io->aux, count * (uint32_t)sizeof(struct bu_winusb_iso_packet),
			      true))
			return ERROR_INVALID_PARAMETER;
	}
	now = bu_usb_frame_number(drv->bus);
	frames = bu_wu_isoch_frames(fn->speed, p->interval, count);
	if (prm->flags & BU_WINUSB_IOF_ASAP) {
		/* ContinueStream: must follow the last transfer without a gap
		 * ("WinUsb_WriteIsochPipeAsap function (winusb.h)"). */
		if ((prm->flags & BU_WINUSB_IOF_CONTINUE) && p->stream && !p->head &&
		    (int32_t)(now - p->next_frame) > 0)
			return ERROR_GEN_FAILURE;
		start = (p->stream && p->head) ? p->next_frame : now + 1;
	} else {
		start = prm->value;
		if ((int32_t)(start - now) < 0)
			return ERROR_INVALID_PARAMETER; /* USBD_STATUS_BAD_START_FRAME */
	}
	bu_wu_func_resume(fn);
	r = bu_wu_req_alloc(fn, count);
	if (!r)
		return ERROR_NOT_ENOUGH_MEMORY;
	bu_wu_req_bind(r, c->f, RQ_ISOCH, wi->index, io);
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
	fn->last_busy_us = bu_wu_now_us(drv);
	bu_wu_pipe_enqueue(p, r);
	bu_wu_pipe_kick(p);
	return ERROR_IO_PENDING;
}

uint32_t bu_wu_ioc_isoch_read(const struct wu_ioctx *c)
{
	return do_isoch(c, true);
}

uint32_t bu_wu_ioc_isoch_write(const struct wu_ioctx *c)
{
	return do_isoch(c, false);
}

/* ======================================================================== */
/* Frame number and time sync                                               */
/* ======================================================================== */

/** GET_FRAME: the bus's frame number and when it was read. */
uint32_t bu_wu_ioc_get_frame(const struct wu_ioctx *c)
{
	struct bu_winusb_frame fr;

	if (c->io->buf_len < sizeof(fr))
		return ERROR_INSUFFICIENT_BUFFER;
	bu_memset(&fr, 0, sizeof(fr));
	fr.frame = bu_usb_frame_number(c->drv->bus);
	fr.time_us = bu_wu_now_us(c->drv);
	bu_memcpy(c->io->buf, &fr, sizeof(fr));
	c->res->bytes = sizeof(fr);
	return 0;
}

/** TIMESYNC_START: a tracker id of the file. */
uint32_t bu_wu_ioc_timesync_start(const struct wu_ioctx *c)
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
uint32_t bu_wu_ioc_timesync_stop(const struct wu_ioctx *c)
{
	uint32_t id = c->prm->handle;

	if (!id || id > WU_MAX_TIMESYNC || !c->f->timesync[id - 1])
		return ERROR_INVALID_PARAMETER;
	c->f->timesync[id - 1] = 0;
	return 0;
}
