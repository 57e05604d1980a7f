/*
 * xHCI transfers (xHCI 1.2 §4.11, §4.10): building a TD on an endpoint's
 * Transfer Ring, one builder per transfer type (control: Setup, Data and
 * Status Stage TRBs; bulk and interrupt: Normal TRBs; isochronous: Isoch
 * TRBs) over one shared enqueue that splits buffers at 64 KiB boundaries,
 * fills TD Size (as the controller's version counts it) and lets a TD go on
 * past the Link TRB only at a TD fragment's end (§4.11.7.1); then ringing
 * the endpoint's Doorbell. Transfer Events are matched to TDs by TRB
 * address and handled per type; isoch TDs a run of missed intervals passed
 * over complete as missed (§4.10.3.2). A halted endpoint is recovered: a
 * transaction error first by a soft retry of the same TD (Reset Endpoint
 * with TSP=1, §4.6.8.1), otherwise by Reset Endpoint and Set TR Dequeue
 * Pointer past the failed TD (§4.6.8, §4.6.10) with the device's data
 * toggle reset too; a cancel stops the endpoint (Stop Endpoint, §4.6.9)
 * and turns the cancelled TDs into No-Ops or moves the dequeue pointer past
 * them.
 *
 * Reading order: the endpoint queue, the TD builders and submit, transfer
 * events, recovery, cancellation and pause, small endpoint queries.
 */
#include "xhci_priv.h"

#include "bareusb/assert.h"
#include "bareusb/errors.h"
#include "bareusb/util.h"
#include "xhci_trace.h"

/* ======================================================================== */
/* The endpoint's queue of TDs                                              */
/* ======================================================================== */

/** Whether a TRB of type `t` carries data (and so a length). */
static bool trb_has_data(unsigned t)
{
	return t == XHCI_TRB_NORMAL || t == XHCI_TRB_DATA || t == XHCI_TRB_ISOCH;
}

/** Whether the transfer's data moves IN (a control transfer: its setup says). */
static bool xfer_is_in(const struct xhci_ep *ep, const struct bu_usb_xfer *xfer)
{
	if (ep->type == BU_EP_CONTROL)
		return (xfer->setup[0] & USB_DIR_IN) != 0;
	return ep->in;
}

/** The direction the transfer's data moves, as the platform's DMA calls name it. */
static enum bu_dma_dir xfer_dir(const struct xhci_ep *ep, const struct bu_usb_xfer *xfer)
{
	return xfer_is_in(ep, xfer) ? BU_DMA_FROM_DEVICE : BU_DMA_TO_DEVICE;
}

/** The first byte of the transfer's window (the part on the ring now). */
static void *win_buf(const struct bu_usb_xfer *xfer)
{
	return (uint8_t *)xfer->buf + xfer_hc(xfer)->win_off;
}

/**
 * Give the window's buffer back to the CPU: IN data made visible (before
 * anyone reads it), then the mapping undone (a platform that bounced
 * copies it back there).
 */
static void xfer_unmap(struct xhci *x, struct xhci_ep *ep, struct bu_usb_xfer *xfer)
{
	struct xhci_xfer_state *st = xfer_hc(xfer);
	enum bu_dma_dir dir = xfer_dir(ep, xfer);

	if (!st->win_len)
		return;
	if (dir == BU_DMA_FROM_DEVICE)
		xhci_sync_cpu(x, win_buf(xfer), st->dma, st->win_len, dir);
	if (!(xfer->flags & BU_XFER_DMA) && x->plat->dma_unmap)
		x->plat->dma_unmap(x->plat->ctx, win_buf(xfer), st->win_len, dir, st->dma);
	st->win_len = 0;
}

/** Remove `xfer` from its endpoint's queue. */
static void ep_unlink(struct xhci_ep *ep, struct bu_usb_xfer *xfer)
{
	struct bu_usb_xfer **pp = &ep->head, *prev = NULL;

	while (*pp && *pp != xfer) {
		prev = *pp;
		pp = &xfer_hc(*pp)->next;
	}
	if (!*pp)
		return;
	*pp = xfer_hc(xfer)->next;
	if (ep->tail == xfer)
		ep->tail = prev;
	xfer_hc(xfer)->next = NULL;
}

/**
 * Finish a transfer: unmap, unlink, call back. `actual` counts the bytes
 * its current window moved; earlier windows moved all of theirs.
 */
static void xfer_finish(struct xhci *x, struct xhci_ep *ep,
			struct bu_usb_xfer *xfer, int status, size_t actual)
{
	struct xhci_xfer_state *st = xfer_hc(xfer);
	size_t done = st->win_off + BU_MIN(actual, (size_t)st->win_len);

	ep_unlink(ep, xfer);
	xfer_unmap(x, ep, xfer);
	xfer->status = status;
	xfer->actual = BU_MIN(done, xfer->len);
	st->state = XHCI_TD_IDLE;
	bu_usb_xfer_giveback(xfer);
}

static int window_next(struct xhci *x, struct xhci_ep *ep, struct bu_usb_xfer *xfer,
		       size_t actual);

/**
 * The controller is done with the TD: finish it, or queue the transfer's
 * next window after a full one. The dequeue moves past it only when it is
 * the oldest TD queued: the ring space of a TD still queued is never
 * handed out again.
 */
static void td_retire(struct xhci *x, struct xhci_ep *ep, struct bu_usb_xfer *xfer,
		      int status, size_t actual)
{
	if (xfer == ep->head) {
		ep->ring.deq = xfer_hc(xfer)->end;
		ep->soft_retries = 0;
	}
	if (!status) {
		status = window_next(x, ep, xfer, actual);
		if (status == 0)
			return;
		if (status == 1) /* it was the last window */
			status = 0;
		else
			actual = 0; /* the next window failed: what earlier ones moved */
	}
	xfer_finish(x, ep, xfer, status, actual);
}

void bu_xhci_ep_fail_all(struct xhci *x, struct xhci_ep *ep, int status)
{
	struct bu_usb_xfer *list = ep->head;

	/* Detach first: callbacks may resubmit, and those new transfers are
	 * not part of this batch (nor can they make it loop). */
	ep->head = ep->tail = NULL;
	if (list) {
		struct bu_usb_xfer *last = list;

		while (xfer_hc(last)->next)
			last = xfer_hc(last)->next;
		ep->ring.deq = xfer_hc(last)->end;
	}
	ep->skip_valid = false;
	ep->missed_run = false;
	while (list) {
		struct bu_usb_xfer *xfer = list;

		list = xfer_hc(xfer)->next;
		xfer_hc(xfer)->next = NULL;
		xfer_finish(x, ep, xfer, status, 0);
	}
}

/** Ring the endpoint's doorbell if it has work and is not held. */
static void ep_kick(struct xhci *x, struct xhci_ep *ep)
{
	ep->restart = false;
	if (ep->head && !ep->halted && !ep->stopping && !ep->paused && !ep->dev->disabling)
		xhci_doorbell(x, ep->dev->slot, ep->dci);
}

/* ======================================================================== */
/* TD builders (§4.11.2, §6.4.1)                                            */
/* ======================================================================== */


/**
 * The shared enqueue: push one TRB of the TD (or count it, dry). The TD's
 * first TRB is held (written with the wrong cycle bit) until the whole TD
 * is on the ring.
 */
static void td_push(struct xhci_td *td, uint32_t dw0, uint32_t dw1, uint32_t dw2,
		    uint32_t dw3)
{
	if (!td->have_first) {
		td->first = td->enq;
		td->have_first = true;
	}
	if (!td->dry)
		bu_xhci_ring_push(td->ring, dw0, dw1, dw2, dw3, td->enq == td->first);
	td->enq++;
}

/**
 * How many of the `n` bytes at hand the next data TRB takes. A TD may go on
 * past the Link TRB only where a TD fragment ends (xHCI 1.2 §4.11.7.1): the
 * TRB before the Link is trimmed to end there (as Linux xhci_align_td
 * does). One that cannot reach a fragment's end there sets `shift`: that
 * many No-Ops in front of the TD bring the latest TRB that can (`cut`) to
 * the Link instead.
 */
static size_t td_fit_link(struct xhci_td *td, size_t n)
{
	size_t over = (td->done + n) % td->frag; /* bytes past the last fragment end */
	bool reaches = over < n;                  /* a fragment ends in these n bytes */

	if (xhci_ring_slot(td->ring, td->enq) != td->ring->count - 1 ||
	    td->done + n == td->len) {
		if (reaches)
			td->cut = td->enq;
		return n;
	}
	if (reaches)
		return n - over;
	if (!td->shift)
		td->shift = td->enq - td->cut;
	return n;
}

/** TD Size of a data TRB of `n` bytes, the TD's `last` or not (§4.11.2.4). */
static uint32_t td_size(const struct xhci_td *td, size_t n, bool last)
{
	if (td->hciversion < 0x0100)
		return bu_xhci_td_size_kib(td->len - td->done);
	return bu_xhci_td_size(td->len, td->done + n, td->mps, last);
}

/** Queue the data TRBs for one DMA chunk, split at 64 KiB boundaries. */
static void td_add_chunk(struct xhci_td *td, uint64_t bus, size_t len, bool more_after)
{
	while (len) {
		size_t room = 0x10000 - (bus & 0xffff); /* §6.1: no 64 KiB crossing */
		size_t n = td_fit_link(td, BU_MIN(len, room));
		bool last = td->done + n == td->len;
		uint32_t dw3 = XHCI_TRB_TYPE_SET(td->type) | td->extra | td->flags;
		uint32_t size;

		if (!last || more_after)
			dw3 |= XHCI_TRB_CH;
		size = td_size(td, n, last && !more_after);
		td_push(td, (uint32_t)bus, (uint32_t)(bus >> 32),
			(uint32_t)n | XHCI_TRB_TD_SIZE(size), dw3);
		td->done += n;
		td->type = XHCI_TRB_NORMAL; /* following TRBs of a stage are Normal */
		td->extra = 0;
		bus += n;
		len -= n;
	}
}

/** Queue the data TRBs of the whole buffer; `more_after`: the TD goes on. */
static void td_add_data(struct xhci_td *td, bool more_after)
{
	for (int i = 0; i < td->nchunks; i++)
		td_add_chunk(td, td->chunks[i].bus, td->chunks[i].len, more_after);
}

/** Set IOC on the TD's last TRB. */
static void td_set_ioc(struct xhci_td *td)
{
	struct xhci_trb *last = xhci_ring_trb(td->ring, td->ring->enq - 1);

	if (!td->dry)
		last->dw[3] = bu_cpu_to_le32(bu_le32_to_cpu(last->dw[3]) | XHCI_TRB_IOC);
}

/** Control TD: Setup Stage, Data Stage when there is data, Status Stage. */
static void td_build_control(struct xhci_td *td, const struct bu_usb_xfer *xfer)
{
	uint32_t trt = !td->len ? XHCI_TRT_NO_DATA : td->in ? XHCI_TRT_IN : XHCI_TRT_OUT;

	/* §6.4.1.2.1: Setup Stage with immediate data, length 8. */
	td_push(td, bu_get_le32(&xfer->setup[0]), bu_get_le32(&xfer->setup[4]), 8,
		XHCI_TRB_TYPE_SET(XHCI_TRB_SETUP) | XHCI_TRB_IDT | XHCI_TRB_TRT(trt));
	td->cut = td->enq - 1; /* the Data Stage may begin past the Link */
	if (td->len) {
		td->type = XHCI_TRB_DATA;
		td->extra = td->in ? XHCI_TRB_DIR_IN : 0;
		td->flags = td->in ? XHCI_TRB_ISP : 0;
		td_add_data(td, false);
	}
	/* Status stage: opposite direction of data, IN when none. */
	td_push(td, 0, 0, 0,
		XHCI_TRB_TYPE_SET(XHCI_TRB_STATUS) | XHCI_TRB_IOC |
			(td->in && td->len ? 0 : XHCI_TRB_DIR_IN));
}

/**
 * Bulk or interrupt TD: Normal TRBs, one zero-length TRB for an empty
 * transfer, and a trailing zero-length TRB when td->zlp asks for one.
 */
static void td_build_normal(struct xhci_td *td)
{
	td->type = XHCI_TRB_NORMAL;
	td->flags = td->in ? XHCI_TRB_ISP : 0;
	if (!td->len)
		td_push(td, 0, 0, 0, XHCI_TRB_TYPE_SET(XHCI_TRB_NORMAL) | XHCI_TRB_IOC);
	td_add_data(td, td->zlp);
	if (td->zlp)
		td_push(td, 0, 0, 0, XHCI_TRB_TYPE_SET(XHCI_TRB_NORMAL));
	td_set_ioc(td);
}

/**
 * TBC and TLBPC of an Isoch TRB (§4.11.2.3) for a TD of `len` bytes. They
 * are reserved before xHCI 1.0 (Linux sets them only from 1.0 on).
 */
static uint32_t isoch_bursts(const struct xhci_td *td, const struct bu_usb_endpoint *uep,
			     size_t len)
{
	uint32_t pkts = uep->mps ? (uint32_t)((len + uep->mps - 1) / uep->mps) : 1;
	unsigned burst = uep->max_burst + 1u;
	uint32_t tbc = 0, tlbpc;

	if (td->hciversion < 0x0100)
		return 0;
	if (!pkts)
		pkts = 1;
	if (uep->dev->speed >= BU_SPEED_SUPER) {
		uint32_t r = pkts % burst;

		tbc = (pkts + burst - 1) / burst - 1;
		tlbpc = r ? r - 1 : burst - 1;
	} else {
		tlbpc = pkts - 1;
	}
	return XHCI_TRB_TBC(tbc & 3) | XHCI_TRB_TLBPC(tlbpc & 15);
}

/**
 * Isochronous TD (§4.11.2.5): one Isoch TRB with TBC and TLBPC then Normal
 * TRBs, in a given frame or as soon as possible (Frame ID and SIA mean the
 * same from xHCI 0.96 on).
 */
static void td_build_isoch(struct xhci_td *td, const struct bu_usb_xfer *xfer)
{
	td->type = XHCI_TRB_ISOCH;
	td->extra = isoch_bursts(td, xfer->ep, xfer->len);
	/* A given frame (Frame ID, MFINDEX 13:3) or as soon as possible. */
	td->extra |= (xfer->flags & BU_XFER_ISOCH_FRAME) ? XHCI_TRB_FRAME_ID(xfer->frame)
							 : XHCI_TRB_SIA;
	/* IOC on the TD's last TRB only: controllers, QEMU among them,
	 * report one completion per TD. */
	td->flags = td->in ? XHCI_TRB_ISP : 0;
	if (!td->len)
		td_push(td, 0, 0, 0, XHCI_TRB_TYPE_SET(XHCI_TRB_ISOCH) | td->extra | XHCI_TRB_IOC);
	td_add_data(td, false);
	td_set_ioc(td);
}

/**
 * Lay the TD of `xfer` out from the ring's enqueue position behind `pad`
 * unchained No-Op TRBs (§6.4.1.4), for real or `dry`. Returns the TRBs it
 * takes, the No-Ops included.
 */
static uint32_t td_lay(struct xhci_td *td, const struct xhci_ep *ep,
		       const struct bu_usb_xfer *xfer, uint32_t pad, bool dry)
{
	uint32_t start = td->ring->enq;

	td->dry = dry;
	td->enq = start;
	td->have_first = false;
	td->done = 0;
	td->shift = 0;
	td->type = td->extra = td->flags = 0;
	for (uint32_t i = 0; i < pad; i++)
		td_push(td, 0, 0, 0, XHCI_TRB_TYPE_SET(XHCI_TRB_NOOP));
	td->cut = td->enq - 1; /* the whole TD may begin past the Link */
	if (ep->type == BU_EP_CONTROL)
		td_build_control(td, xfer);
	else if (ep->type == BU_EP_ISOCH)
		td_build_isoch(td, xfer);
	else
		td_build_normal(td);
	return td->enq - start;
}

/**
 * TRBs the TD takes at the enqueue position, with the No-Ops (*pad) that
 * must go in front when none of its TRBs can end a TD fragment right before
 * the Link TRB (a chunk shorter than a packet there, say).
 */
static uint32_t td_plan(struct xhci_td *td, const struct xhci_ep *ep,
			const struct bu_usb_xfer *xfer, uint32_t *pad)
{
	uint32_t n = td_lay(td, ep, xfer, 0, true);

	*pad = td->shift;
	if (*pad)
		n = td_lay(td, ep, xfer, *pad, true);
	return n;
}

/* ======================================================================== */
/* Submit                                                                   */
/* ======================================================================== */

/** Whether the endpoint and the request allow a submit; 0 or an error. */
static int xfer_check(struct xhci *x, struct xhci_ep *ep, const struct bu_usb_xfer *xfer)
{
	if (x->failed)
		return BU_ESHUTDOWN;
	if (!ep || ep->dev->disabling)
		return BU_ENODEV;
	if (ep->broken)
		return BU_EIO;
	if (xfer->len && !xfer->buf)
		return BU_EINVAL;
	if (ep->type == BU_EP_CONTROL && xfer->len != bu_get_le16(&xfer->setup[6]))
		return BU_EINVAL;
	return 0;
}

/**
 * Map the transfer's window of `len` bytes at win_off into at most `max`
 * `chunks` (BU_XFER_DMA memory needs no mapping: one chunk) and hand its
 * bytes to the controller's view; returns the chunks' count or an error.
 * The chunks must cover the window exactly, below the DMA mask (§5.3.6).
 */
static int xfer_map(struct xhci *x, struct xhci_ep *ep, struct bu_usb_xfer *xfer, size_t len,
		    struct bu_dma_chunk *chunks, int max)
{
	struct xhci_xfer_state *st = xfer_hc(xfer);
	size_t total = 0;
	bool fits = true;
	int n = 1;

	st->win_len = 0;
	if (!len)
		return 0;
	if (xfer->flags & BU_XFER_DMA) {
		chunks[0].bus = xfer->dma + st->win_off;
		chunks[0].len = len;
	} else {
		n = x->plat->dma_map(x->plat->ctx, win_buf(xfer), len, xfer_dir(ep, xfer),
				     x->dma_mask, chunks, max);
		if (n < 0)
			return n;
	}
	for (int i = 0; i < n && i < max; i++) {
		uint64_t last = chunks[i].bus + chunks[i].len - 1;

		total += chunks[i].len;
		fits = fits && chunks[i].len && last >= chunks[i].bus && last <= x->dma_mask;
	}
	st->dma = n ? chunks[0].bus : 0;
	st->win_len = (uint32_t)len;
	if (total != len || !fits || n > max) {
		xfer_unmap(x, ep, xfer);
		return BU_EFAULT;
	}
	xhci_sync_dev(x, win_buf(xfer), st->dma, len, xfer_dir(ep, xfer));
	return n;
}

/** Put a built TD on the endpoint's queue and hand it to the controller. */
static void td_queue(struct xhci *x, struct xhci_ep *ep, struct bu_usb_xfer *xfer,
		     uint32_t first)
{
	xfer_hc(xfer)->first = first;
	xfer_hc(xfer)->end = ep->ring.enq;
	xfer_hc(xfer)->state = XHCI_TD_QUEUED;
	xfer_hc(xfer)->pending = 0;
	xfer->status = 0;
	xfer->actual = 0;
	xfer->cc = 0;
	xfer_hc(xfer)->next = NULL;
	if (ep->tail)
		xfer_hc(ep->tail)->next = xfer;
	else
		ep->head = xfer;
	ep->tail = xfer;
	if (xhci_tracing(x, BU_XHCI_TRACE_XFER, ep->dev->slot, ep->dci))
		for (uint32_t c = first; c != ep->ring.enq; c++)
			bu_xhci_trace_xfer_trb(x, ep->dev->slot, ep->dci, xhci_ring_addr(&ep->ring, c),
					       xhci_ring_trb(&ep->ring, c));
	/* The whole TD reaches the controller's view, then its first TRB's
	 * cycle bit hands it over. */
	bu_xhci_ring_sync(x, &ep->ring, first, ep->ring.enq);
	bu_xhci_ring_release(&ep->ring, first);
	bu_xhci_ring_sync(x, &ep->ring, first, first + 1);
	if (!ep->halted && !ep->stopping && !ep->paused)
		xhci_doorbell(x, ep->dev->slot, ep->dci);
	else
		ep->restart = true;
}

/** Set up the layout of `xfer`'s TD over its `nchunks` mapped chunks. */
static void td_init(struct xhci_td *td, const struct xhci *x, struct xhci_ep *ep,
		    const struct bu_usb_xfer *xfer, const struct bu_dma_chunk *chunks,
		    int nchunks)
{
	const struct bu_usb_endpoint *uep = xfer->ep;

	const struct xhci_xfer_state *st = xfer_hc(xfer);

	td->ring = &ep->ring;
	td->chunks = chunks;
	td->nchunks = nchunks;
	td->len = st->win_len;
	td->mps = uep->mps;
	td->frag = (size_t)BU_MAX(uep->mps, 1u) * (uep->max_burst + 1u);
	td->hciversion = x->hciversion;
	td->in = xfer_is_in(ep, xfer);
	/* The zero-length packet ends the transfer: after its last window. */
	td->zlp = !td->in && (xfer->flags & BU_XFER_ZLP) && ep->type == BU_EP_BULK &&
		  xfer->len && uep->mps && xfer->len % uep->mps == 0 &&
		  st->win_off + td->len == xfer->len;
}

/**
 * Chunks one TD may take: XHCI_MAX_CHUNKS, and half a small ring, so that
 * a window's TD always fits an empty ring.
 */
static int td_max_chunks(const struct xhci_ep *ep)
{
	return (int)BU_MIN((uint32_t)XHCI_MAX_CHUNKS, ep->ring.count / 2);
}

/**
 * Map and queue the transfer's window [win_off, win_off + len) as one TD.
 * 0, or an error with nothing mapped or queued: BU_ENOSPC when the ring
 * has no room now, BU_EINVAL when it never will.
 */
static int window_queue(struct xhci *x, struct xhci_ep *ep, struct bu_usb_xfer *xfer,
			size_t len)
{
	struct xhci_td *td = &x->td;
	uint32_t need, pad;
	int rc;

	rc = xfer_map(x, ep, xfer, len, x->map, td_max_chunks(ep));
	if (rc < 0)
		return rc;
	bu_memset(td, 0, sizeof(*td));
	td_init(td, x, ep, xfer, x->map, rc);
	/* Exactly what the TD takes here, the No-Ops that move it included.
	 * One that would not fit the ring from here even empty can never be
	 * queued; with No-Ops that can only be a TD of nearly a ring's size. */
	need = td_plan(td, ep, xfer, &pad);
	if (need > xhci_ring_space(&ep->ring)) {
		xfer_unmap(x, ep, xfer);
		return need > ep->ring.count - 1 ? BU_EINVAL : BU_ENOSPC;
	}
	td_lay(td, ep, xfer, pad, false);
	/* The TD took what was planned, between deq and enq, and meets the
	 * Link TRB only at a TD fragment's end. */
	BU_ASSERT(x->plat, ep->ring.enq - td->first == need && !td->shift &&
			   (uint32_t)(ep->ring.enq - ep->ring.deq) < ep->ring.count);
	td_queue(x, ep, xfer, td->first);
	return 0;
}

/**
 * Bytes in one window of a transfer too large for one TD (a mapping of
 * more chunks than a TD takes, or more TRBs than the ring holds): whole
 * packets, within max chunks - 1 4 KiB pages, so a platform that maps
 * page by page fits (include/bareusb/platform.h, dma_map). 0 when the
 * transfer cannot be split: control and isochronous TDs are one each, and
 * BU_XFER_DMA memory is one chunk anyway.
 */
static size_t window_len(const struct xhci_ep *ep, const struct bu_usb_xfer *xfer)
{
	size_t w = (size_t)(td_max_chunks(ep) - 1) * 4096u;
	unsigned mps = BU_MAX(xfer->ep->mps, 1u);

	if ((ep->type != BU_EP_BULK && ep->type != BU_EP_INTERRUPT) ||
	    (xfer->flags & BU_XFER_DMA) || xfer->len > UINT32_MAX)
		return 0;
	w -= w % mps;
	return w < xfer->len ? w : 0;
}

/**
 * After a window moved all its bytes: queue the next one. Returns 0 when
 * it is queued, 1 when that was the transfer's last window (or a short
 * one, which ends it), or the error that stopped the next one.
 */
static int window_next(struct xhci *x, struct xhci_ep *ep, struct bu_usb_xfer *xfer,
		       size_t actual)
{
	struct xhci_xfer_state *st = xfer_hc(xfer);
	size_t off = (size_t)st->win_off + st->win_len, w = window_len(ep, xfer);
	int rc;

	if (actual < st->win_len || off >= xfer->len || !w)
		return 1;
	xfer_unmap(x, ep, xfer);
	ep_unlink(ep, xfer);
	st->win_off = (uint32_t)off;
	rc = window_queue(x, ep, xfer, BU_MIN(w, xfer->len - off));
	if (rc) {
		/* Back on the queue, for xfer_finish to take it off. */
		xfer_hc(xfer)->next = ep->head;
		ep->head = xfer;
		if (!ep->tail)
			ep->tail = xfer;
	}
	return rc;
}

/** Whether the transfer has windows still to queue after the one on the ring. */
static bool window_more(const struct bu_usb_xfer *xfer)
{
	const struct xhci_xfer_state *st = xfer_hc(xfer);

	return (size_t)st->win_off + st->win_len < xfer->len;
}

int bu_xhci_xfer_submit(struct bu_usb_xfer *xfer)
{
	struct xhci *x = bus_xhci(xfer->ep->dev->bus);
	struct xhci_ep *ep = xfer->ep->hc_priv;
	size_t w;
	int rc;

	rc = xfer_check(x, ep, xfer);
	if (rc)
		return rc;
	/* The windows of a split transfer go on the ring one after the
	 * other: nothing may overtake them. */
	if (ep->tail && window_more(ep->tail))
		return BU_ENOSPC;
	xfer_hc(xfer)->win_off = 0;
	rc = window_queue(x, ep, xfer, xfer->len);
	w = window_len(ep, xfer);
	if ((rc == BU_ENOMEM || rc == BU_EINVAL) && w)
		rc = window_queue(x, ep, xfer, w);
	return rc;
}

/* ======================================================================== */
/* Transfer events (§4.10.1, §6.4.2.1)                                      */
/* ======================================================================== */

/**
 * Bytes a TD moved up to TRB `c`: every data TRB before it, plus what `c`
 * moved when it is a data TRB and `c_counts` (its length less `residual`).
 */
static size_t td_moved(struct xhci_ring *r, const struct bu_usb_xfer *xfer, uint32_t c,
		       uint32_t residual, bool c_counts)
{
	size_t n = 0;
	uint32_t dw3, tlen;

	for (uint32_t k = xfer_hc(xfer)->first; k != c; k++) {
		dw3 = bu_le32_to_cpu(xhci_ring_trb(r, k)->dw[3]);
		if (trb_has_data(XHCI_TRB_TYPE(dw3)))
			n += XHCI_TRB_LEN(bu_le32_to_cpu(xhci_ring_trb(r, k)->dw[2]));
	}
	dw3 = bu_le32_to_cpu(xhci_ring_trb(r, c)->dw[3]);
	if (c_counts && trb_has_data(XHCI_TRB_TYPE(dw3))) {
		tlen = XHCI_TRB_LEN(bu_le32_to_cpu(xhci_ring_trb(r, c)->dw[2]));
		n += tlen - BU_MIN(residual, tlen);
	}
	return n;
}

/** What one Transfer Event says, decoded. */
struct xhci_xfer_event {
	struct bu_usb_xfer *xfer; /* the TD it is for */
	uint32_t c;               /* ring counter of the TRB it names */
	unsigned cc;
	size_t actual;            /* bytes the TD moved up to and in that TRB */
};

static void ep_recover(struct xhci *x, struct xhci_ep *ep);
static void ep_soft_retry(struct xhci *x, struct xhci_ep *ep);

/* Soft retries of one TD before a hard reset (Linux xhci-ring.c MAX_SOFT_RETRY). */
#define XHCI_MAX_SOFT_RETRY 3

/** Whether a completion code halts a non-isochronous endpoint (§4.10.2). */
static bool cc_halts(unsigned cc)
{
	return cc == XHCI_CC_STALL || cc == XHCI_CC_BABBLE || cc == XHCI_CC_TRANSACTION ||
	       cc == XHCI_CC_SPLIT_TRANSACTION || cc == XHCI_CC_TRB;
}

/** Bulk or interrupt: the endpoints with a data toggle that moves per packet. */
static bool ep_has_toggle(const struct xhci_ep *ep)
{
	return ep->type == BU_EP_BULK || ep->type == BU_EP_INTERRUPT;
}

/**
 * Whether a transaction error gets a soft retry of the same TD: on bulk
 * and interrupt endpoints, a few times per TD, never on controllers whose
 * soft retry is broken (Linux XHCI_NO_SOFT_RETRY), and not for a device
 * behind a transaction translator: the failed split leaves the TT buffer
 * busy until the core has it cleared (USB 2.0 §11.17.5), for which the TD
 * must fail (Linux xhci-ring.c retries softly only outside a TT, too).
 */
static bool soft_retry_ok(const struct xhci *x, const struct xhci_ep *ep, unsigned cc)
{
	const struct bu_usb_device *udev = ep->dev->udev;

	return cc == XHCI_CC_TRANSACTION && ep_has_toggle(ep) &&
	       !(x->quirks & BU_XHCI_QUIRK_NO_SOFT_RETRY) &&
	       ep->soft_retries < XHCI_MAX_SOFT_RETRY && !ep->dev->disabling &&
	       udev && !udev->tt_hub;
}

/**
 * Whether the device's toggle is unknown once the host's is reset: a
 * bulk or interrupt packet may have reached the device with its handshake
 * lost. Not after a STALL (the device halted; CLEAR_FEATURE from the class
 * driver resets its toggle), nor a TRB Error (nothing went on the bus).
 */
static bool cc_loses_toggle(const struct xhci_ep *ep, unsigned cc)
{
	return ep_has_toggle(ep) && ep->uep && cc != XHCI_CC_STALL && cc != XHCI_CC_TRB;
}

/**
 * A TD failed. Stall, babble, transaction and split errors halt the
 * endpoint (§4.10.2). A transaction error is first retried in place (soft
 * retry); otherwise the TD fails and the endpoint is reset (hard reset),
 * with the device's toggle too when it may differ, and the TDs queued
 * after it are kept.
 */
static void td_error(struct xhci *x, struct xhci_ep *ep, const struct xhci_xfer_event *ev)
{
	int err = bu_xhci_cc_to_err(ev->cc);

	bu_xhci_log(x, BU_LOG_DEBUG, "slot %u ep %u: %s", ep->dev->slot, ep->dci,
		    bu_xhci_cc_name(ev->cc));
	if (ep->type != BU_EP_ISOCH && cc_halts(ev->cc)) {
		ep->halted = true;
		if (soft_retry_ok(x, ep, ev->cc)) {
			ep_soft_retry(x, ep);
			return;
		}
		if (ep->uep)
			ep->uep->halted = true;
		ep->resync = cc_loses_toggle(ep, ev->cc);
	}
	td_retire(x, ep, ev->xfer, err ? err : BU_EIO, ev->actual);
	if (ep->halted)
		ep_recover(x, ep);
}

/**
 * A successful or short completion of a Normal or Isoch TD. A short packet
 * ends the TD at once; the controller may still report its last TRB, an
 * event to drop (§4.10.1.1).
 */
static void td_success(struct xhci *x, struct xhci_ep *ep, const struct xhci_xfer_event *ev)
{
	uint32_t last = xfer_hc(ev->xfer)->end - 1;

	if (ev->c != last) {
		if (ev->cc == XHCI_CC_SUCCESS)
			return; /* an intermediate IOC we did not ask for */
		ep->skip_valid = true;
		ep->skip_counter = last;
	}
	td_retire(x, ep, ev->xfer, 0, ev->actual);
}

/** Event for a control TD: a short Data Stage waits for the Status Stage. */
static void control_event(struct xhci *x, struct xhci_ep *ep, struct xhci_xfer_event *ev)
{
	struct bu_usb_xfer *xfer = ev->xfer;
	uint32_t dw3 = bu_le32_to_cpu(xhci_ring_trb(&ep->ring, ev->c)->dw[3]);

	if (ev->cc != XHCI_CC_SUCCESS && ev->cc != XHCI_CC_SHORT_PACKET) {
		if (xfer_hc(xfer)->pending)
			ev->actual = xfer->actual; /* the data stage was short */
		td_error(x, ep, ev);
		return;
	}
	if (XHCI_TRB_TYPE(dw3) != XHCI_TRB_STATUS) {
		/* Short data stage: remember the length; the TD ends at its
		 * Status Stage event (§4.11.2.2). */
		xfer_hc(xfer)->pending = 1;
		xfer->actual = ev->actual;
		return;
	}
	ev->actual = xfer_hc(xfer)->pending ? xfer->actual : xfer->len;
	xfer_hc(xfer)->pending = 0;
	td_retire(x, ep, xfer, 0, ev->actual);
}

/** Event for a bulk or interrupt TD. */
static void normal_event(struct xhci *x, struct xhci_ep *ep, const struct xhci_xfer_event *ev)
{
	if (ev->cc == XHCI_CC_SUCCESS || ev->cc == XHCI_CC_SHORT_PACKET)
		td_success(x, ep, ev);
	else
		td_error(x, ep, ev);
}

/**
 * Event for an isochronous TD: a missed interval is no error of the
 * endpoint, and the TD moved nothing (whatever TRB the event names).
 */
static void isoch_event(struct xhci *x, struct xhci_ep *ep, const struct xhci_xfer_event *ev)
{
	if (ev->cc == XHCI_CC_SUCCESS || ev->cc == XHCI_CC_SHORT_PACKET)
		td_success(x, ep, ev);
	else if (bu_xhci_cc_to_err(ev->cc) == BU_EMISSED)
		td_retire(x, ep, ev->xfer, BU_EMISSED, 0);
	else
		td_error(x, ep, ev);
}

/**
 * Complete as missed the isochronous TDs queued before `upto`, or with
 * `upto` NULL those before ep->missed_end. Isoch TDs end in order, each
 * with an event, so TDs still queued before the one an event names were
 * passed over: a run of missed service intervals reported with one Missed
 * Service Error naming its last TD, or with a NULL TRB Pointer (xHCI 1.2
 * §4.10.3.2, §4.11.2.5; Linux xhci-ring.c completes them as skipped at the
 * next event). A cancelled one keeps its cancel status.
 */
static void isoch_skip_missed(struct xhci *x, struct xhci_ep *ep, const struct bu_usb_xfer *upto)
{
	struct bu_usb_xfer *xfer;

	while ((xfer = ep->head) && xfer != upto) {
		if (!upto && ep->missed_end - xfer_hc(xfer)->first - 1 >= ep->ring.count)
			break; /* queued after the run was reported */
		xfer->cc = XHCI_CC_MISSED_SERVICE;
		td_retire(x, ep, xfer,
			  xfer_hc(xfer)->state == XHCI_TD_CANCELLING ? xfer->status : BU_EMISSED, 0);
	}
	ep->missed_run = false;
}

/**
 * A Transfer Event with no TD pointer: Missed Service Error for a run of
 * isoch TDs (NULL TRB Pointer, §4.10.3.2) - the run ends at the next event
 * - or Ring Underrun / Overrun (§4.10.3.1): the ring ran empty, so a run
 * still open ends there.
 */
static void isoch_no_td_event(struct xhci *x, struct xhci_ep *ep, unsigned cc)
{
	bu_xhci_log(x, BU_LOG_DEBUG, "slot %u ep %u: %s", ep->dev->slot, ep->dci,
		    bu_xhci_cc_name(cc));
	if (cc == XHCI_CC_MISSED_SERVICE) {
		ep->missed_run = true;
		ep->missed_end = ep->ring.enq;
	} else if (ep->missed_run) {
		isoch_skip_missed(x, ep, NULL);
	}
}

/**
 * The TD a Transfer Event's TRB pointer falls in, and the TRB's counter;
 * NULL for events with no TD of ours to complete.
 */
static struct bu_usb_xfer *event_td(struct xhci *x, struct xhci_ep *ep,
				    uint64_t ptr, unsigned cc, uint32_t *c)
{
	struct bu_usb_xfer *xfer;

	if (!bu_xhci_ring_find(&ep->ring, ptr, c)) {
		if (cc != XHCI_CC_STOPPED && cc != XHCI_CC_STOPPED_LENGTH_INVALID)
			bu_xhci_log(x, BU_LOG_DEBUG,
				    "slot %u ep %u: event for unknown TRB 0x%llx (%s)",
				    ep->dev->slot, ep->dci, (unsigned long long)ptr,
				    bu_xhci_cc_name(cc));
		return NULL;
	}
	if (ep->skip_valid && *c == ep->skip_counter) {
		/* The TD already completed on its short packet; this is the
		 * controller's second event for the last TRB (§4.10.1.1). */
		ep->skip_valid = false;
		return NULL;
	}
	for (xfer = ep->head; xfer; xfer = xfer_hc(xfer)->next)
		if (*c - xfer_hc(xfer)->first < xfer_hc(xfer)->end - xfer_hc(xfer)->first)
			break;
	if (!xfer)
		bu_xhci_log(x, BU_LOG_DEBUG, "slot %u ep %u: event outside any TD (%s)",
			    ep->dev->slot, ep->dci, bu_xhci_cc_name(cc));
	else if (xfer != ep->head && ep->type != BU_EP_ISOCH)
		/* TDs finish in order, and every TD ends with IOC (isoch TDs
		 * before it were missed: isoch_skip_missed). */
		bu_xhci_log(x, BU_LOG_WARN, "slot %u ep %u: completion out of order",
			    ep->dev->slot, ep->dci);
	return xfer;
}

/** Whether a completion code says the endpoint was stopped (§4.6.9). */
static bool cc_stopped(unsigned cc)
{
	return cc == XHCI_CC_STOPPED || cc == XHCI_CC_STOPPED_LENGTH_INVALID ||
	       cc == XHCI_CC_STOPPED_SHORT_PACKET;
}

/** A Transfer Event for endpoint `ep`: find its TD, then the type's handler. */
static void ep_transfer_event(struct xhci *x, struct xhci_ep *ep, const uint32_t dw[4])
{
	uint64_t ptr = ((uint64_t)dw[1] << 32) | dw[0];
	uint32_t residual = XHCI_EVT_LEN(dw[2]);
	struct xhci_xfer_event ev = { .cc = XHCI_EVT_CC(dw[2]) };

	if (dw[3] & XHCI_TRB_ED)
		return; /* we queue no Event Data TRBs */
	if (ev.cc == XHCI_CC_RING_UNDERRUN || ev.cc == XHCI_CC_RING_OVERRUN ||
	    (ev.cc == XHCI_CC_MISSED_SERVICE && !ptr)) {
		isoch_no_td_event(x, ep, ev.cc);
		return;
	}
	ev.xfer = event_td(x, ep, ptr, ev.cc, &ev.c);
	if (!ev.xfer)
		return;
	if (ep->type == BU_EP_ISOCH)
		isoch_skip_missed(x, ep, ev.xfer);
	if (cc_stopped(ev.cc)) {
		/* The TD in progress when the endpoint stopped: the cancel
		 * path decides what happens to it. Keep what it moved so a
		 * cancelled transfer reports it (§4.6.9: Length is the stopped
		 * TRB's residue unless "Length Invalid"). A control transfer
		 * past a short data stage already holds its length. */
		if (!(ep->type == BU_EP_CONTROL && xfer_hc(ev.xfer)->pending))
			ev.xfer->actual = BU_MIN(td_moved(&ep->ring, ev.xfer, ev.c, residual,
							  ev.cc != XHCI_CC_STOPPED_LENGTH_INVALID),
						 ev.xfer->len);
		return;
	}
	ev.xfer->cc = (uint8_t)ev.cc;
	ev.actual = td_moved(&ep->ring, ev.xfer, ev.c, residual, true);
	if (ep->type == BU_EP_CONTROL)
		control_event(x, ep, &ev);
	else if (ep->type == BU_EP_ISOCH)
		isoch_event(x, ep, &ev);
	else
		normal_event(x, ep, &ev);
}

void bu_xhci_transfer_event(struct xhci *x, const uint32_t dw[4])
{
	unsigned slot = XHCI_TRB_GET_SLOT(dw[3]);
	unsigned dci = XHCI_TRB_GET_EP(dw[3]);
	struct xhci_dev *d = slot ? x->slots[slot] : NULL;

	if (!d || !d->eps[dci]) {
		bu_xhci_log(x, BU_LOG_DEBUG, "transfer event for slot %u ep %u with no endpoint",
			    slot, dci);
		return;
	}
	ep_transfer_event(x, d->eps[dci], dw);
}

/* ======================================================================== */
/* Recovery of a halted endpoint (§4.6.8, §4.6.10, §4.8.3)                  */
/* ======================================================================== */

/**
 * Turn a TD's TRBs into No-Ops in place (keeping cycle and chain bits),
 * for the controller to see before the ring runs again.
 */
static void td_to_noop(struct xhci *x, struct xhci_ring *r, struct bu_usb_xfer *xfer)
{
	for (uint32_t c = xfer_hc(xfer)->first; c != xfer_hc(xfer)->end; c++) {
		struct xhci_trb *t = xhci_ring_trb(r, c);
		uint32_t dw3 = bu_le32_to_cpu(t->dw[3]);

		t->dw[0] = t->dw[1] = t->dw[2] = 0;
		t->dw[3] = bu_cpu_to_le32((dw3 & (XHCI_TRB_C | XHCI_TRB_CH)) |
					  XHCI_TRB_TYPE_SET(XHCI_TRB_NOOP));
	}
	bu_xhci_ring_sync(x, r, xfer_hc(xfer)->first, xfer_hc(xfer)->end);
}

/**
 * Ring counter past `xfer` and the cancelled TDs right behind it: a Set TR
 * Dequeue Pointer there skips them all, and their ring space is free at
 * once instead of after the controller has walked their No-Ops.
 */
static uint32_t past_cancelled(const struct bu_usb_xfer *xfer)
{
	uint32_t at = xfer_hc(xfer)->end;

	for (xfer = xfer_hc(xfer)->next; xfer && xfer_hc(xfer)->state == XHCI_TD_CANCELLING;
	     xfer = xfer_hc(xfer)->next)
		at = xfer_hc(xfer)->end;
	return at;
}

/**
 * Complete the transfers cancelled while the endpoint was halted or
 * stopping. Called while the ring is not running, before it restarts:
 * their TRBs become No-Ops, so the controller skips them. Their ring
 * space stays in use until the controller has passed it (a later TD's
 * completion, or a Set TR Dequeue Pointer beyond it).
 */
static void ep_retire_cancelled(struct xhci *x, struct xhci_ep *ep)
{
	for (struct bu_usb_xfer *xfer = ep->head, *next; xfer; xfer = next) {
		next = xfer_hc(xfer)->next;
		if (xfer_hc(xfer)->state != XHCI_TD_CANCELLING)
			continue;
		td_to_noop(x, &ep->ring, xfer);
		/* What moved before the Stop (0 for a TD never started). */
		xfer_finish(x, ep, xfer, xfer->status, xfer->actual);
	}
}

/** Recovery failed: fail what is queued and refuse new work (BU_EIO). */
static void ep_break(struct xhci *x, struct xhci_ep *ep)
{
	ep->broken = true;
	ep->halted = false;
	ep->stopping = false;
	ep->resetting = false;
	ep->resync = false;
	bu_xhci_ep_fail_all(x, ep, BU_EIO);
}

/** The ring is stopped and both sides are reset: the endpoint runs again. */
static void ep_recovered(struct xhci *x, struct xhci_ep *ep)
{
	ep_retire_cancelled(x, ep);
	ep->halted = false;
	ep->stopping = false;
	if (ep->uep)
		ep->uep->halted = false;
	ep->skip_valid = false;
	ep_kick(x, ep);
}

/** Set TR Dequeue Pointer completion: the endpoint may run again. */
static void set_deq_done(struct xhci *x, struct xhci_cmd *cmd, unsigned cc,
			 unsigned slot)
{
	struct xhci_ep *ep = cmd->ep;

	if (cc != XHCI_CC_SUCCESS)
		bu_xhci_log(x, BU_LOG_WARN, "slot %u ep %u: Set TR Dequeue failed: %s",
			    slot, ep->dci, bu_xhci_cc_name(cc));
	ep->resetting = false;
	if (!ep->resync)
		ep_recovered(x, ep);
	if (cmd->user_done && ep->dev->udev)
		cmd->user_done(ep->dev->udev, cmd->user_ctx, cc == XHCI_CC_SUCCESS ? 0 : BU_EIO);
}

/**
 * The core reset the device's toggle (bu_usb_ep_toggle_reset): the
 * endpoint runs again once the controller's side is done too. `ctx` is the
 * core's endpoint: ours may have been replaced or freed meanwhile.
 */
static void toggle_reset_done(struct bu_usb_device *udev, void *ctx, int status)
{
	struct bu_usb_endpoint *uep = ctx;
	struct xhci_ep *ep = uep->hc_priv;

	(void)status; /* a device that refused it gets its next transfer anyway */
	if (!ep || !ep->resync)
		return;
	ep->resync = false;
	if (!ep->resetting)
		ep_recovered(bus_xhci(udev->bus), ep);
}

/**
 * Queue Set TR Dequeue Pointer to counter `at` of the endpoint's ring
 * (§4.6.10). The ring space before `at` is free from now on: the stopped
 * controller reads no TRB until it has moved there.
 */
static int ep_set_deq(struct xhci *x, struct xhci_ep *ep, uint32_t at,
		      bu_usb_done_fn user_done, void *user_ctx)
{
	uint64_t p = xhci_ring_addr(&ep->ring, at) | xhci_ring_cycle(&ep->ring, at);

	ep->ring.deq = at;
	return bu_xhci_cmd_submit(x, p,
				  XHCI_TRB_TYPE_SET(XHCI_TRB_SET_TR_DEQ) |
					  XHCI_TRB_SLOT(ep->dev->slot) | XHCI_TRB_EP(ep->dci),
				  set_deq_done, ep->dev, ep, user_done, user_ctx);
}

/**
 * Whether a recovery's Reset Endpoint went through; if not, its failure is
 * handled here (the device is going away, or the endpoint breaks).
 */
static bool reset_ep_ok(struct xhci *x, struct xhci_cmd *cmd, unsigned cc, unsigned slot)
{
	struct xhci_ep *ep = cmd->ep;

	if (ep->dev->disabling) {
		/* Disable Slot is queued behind us and frees the endpoint:
		 * a Set TR Dequeue queued now would complete after it. */
		if (cmd->user_done && ep->dev->udev)
			cmd->user_done(ep->dev->udev, cmd->user_ctx, BU_ENODEV);
		return false;
	}
	if (cc != XHCI_CC_SUCCESS && cc != XHCI_CC_CONTEXT_STATE) {
		bu_xhci_log(x, BU_LOG_WARN, "slot %u ep %u: Reset Endpoint failed: %s",
			    slot, ep->dci, bu_xhci_cc_name(cc));
		ep_break(x, ep);
		return false;
	}
	return true;
}

/** The ring position recovery restarts at: the first TD not cancelled. */
static uint32_t ep_restart_at(const struct xhci_ep *ep)
{
	const struct bu_usb_xfer *head = ep->head;

	if (!head)
		return ep->ring.enq;
	return xfer_hc(head)->state == XHCI_TD_CANCELLING ? past_cancelled(head)
							 : xfer_hc(head)->first;
}

/** Reset Endpoint (TSP=0) completion: move the dequeue pointer past the failed TD. */
static void reset_ep_done(struct xhci *x, struct xhci_cmd *cmd, unsigned cc,
			  unsigned slot)
{
	struct xhci_ep *ep = cmd->ep;

	if (reset_ep_ok(x, cmd, cc, slot) &&
	    ep_set_deq(x, ep, ep_restart_at(ep), cmd->user_done, cmd->user_ctx))
		ep_break(x, ep);
}

/**
 * Reset Endpoint (TSP=1) completion: the controller goes on with the same
 * TD where it failed. If that TD was cancelled meanwhile, Set TR Dequeue
 * Pointer skips it instead, which also drops the kept transfer state.
 */
static void soft_retry_done(struct xhci *x, struct xhci_cmd *cmd, unsigned cc,
			    unsigned slot)
{
	struct xhci_ep *ep = cmd->ep;

	if (!reset_ep_ok(x, cmd, cc, slot))
		return;
	if (ep->head && xfer_hc(ep->head)->state == XHCI_TD_CANCELLING) {
		if (ep_set_deq(x, ep, ep_restart_at(ep), NULL, NULL))
			ep_break(x, ep);
		return;
	}
	ep->resetting = false;
	ep_recovered(x, ep);
}

/** Queue Reset Endpoint for a recovery, TSP=1 (soft) or TSP=0 (hard). */
static int ep_reset(struct xhci *x, struct xhci_ep *ep, bool tsp)
{
	ep->resetting = true;
	return bu_xhci_cmd_submit(x, 0,
				  XHCI_TRB_TYPE_SET(XHCI_TRB_RESET_EP) | (tsp ? XHCI_TRB_TSP : 0) |
					  XHCI_TRB_SLOT(ep->dev->slot) | XHCI_TRB_EP(ep->dci),
				  tsp ? soft_retry_done : reset_ep_done, ep->dev, ep, NULL, NULL);
}

/**
 * Soft retry after a transaction error (xHCI 1.2 §4.6.8.1): Reset Endpoint
 * with TSP=1 keeps the transfer state and the data toggle, and the
 * controller sends the failed packet again, in the same TD. If the device
 * took it and only the ACK was lost, it drops the repeat by its toggle
 * and ACKs, and host and device are in step. The TD stays queued.
 */
static void ep_soft_retry(struct xhci *x, struct xhci_ep *ep)
{
	ep->soft_retries++;
	bu_xhci_log(x, BU_LOG_DEBUG, "slot %u ep %u: soft retry %u", ep->dev->slot, ep->dci,
		    ep->soft_retries);
	if (ep_reset(x, ep, true))
		ep_break(x, ep);
}

/**
 * Hard reset of a halted endpoint: Reset Endpoint with TSP=0 resets the
 * controller's toggle (§4.6.8), Set TR Dequeue Pointer moves past the
 * failed TD, then the doorbell. When the device's toggle may differ
 * (ep->resync) the core resets it too and the TDs behind wait for it:
 * after a lost ACK the device is a packet ahead and would drop the next
 * one as a repeat. After a STALL the class driver clears the device.
 */
static void ep_recover(struct xhci *x, struct xhci_ep *ep)
{
	if (ep->dev->disabling)
		return;
	if (ep_reset(x, ep, false)) {
		ep_break(x, ep);
		return;
	}
	if (ep->resync)
		bu_usb_ep_toggle_reset(ep->uep, toggle_reset_done);
}

/* ======================================================================== */
/* Cancellation and pause: Stop Endpoint (§4.6.9)                           */
/* ======================================================================== */

/**
 * Stop Endpoint completion: retire cancelled TDs, then resume the rest.
 * The TD the controller stopped in is skipped with Set TR Dequeue Pointer;
 * the other cancelled TDs become No-Ops.
 */
static void stop_ep_done(struct xhci *x, struct xhci_cmd *cmd, unsigned cc,
			 unsigned slot)
{
	struct xhci_ep *ep = cmd->ep;
	struct xhci_dev *d = ep->dev;
	uint32_t *oc = xhci_out_ctx(x, d, ep->dci);
	uint64_t deq;
	uint32_t hc_at;
	bool have_at, move = false;
	uint32_t move_to = 0;
	bool ok = cc == XHCI_CC_SUCCESS || cc == XHCI_CC_CONTEXT_STATE;

	(void)slot;
	/* Where it stopped: the Endpoint Context the controller wrote. */
	xhci_sync_cpu(x, oc, d->out_bus + (size_t)ep->dci * x->csz, x->csz, BU_DMA_FROM_DEVICE);
	deq = ((uint64_t)bu_le32_to_cpu(oc[3]) << 32) | (bu_le32_to_cpu(oc[2]) & ~15u);
	have_at = bu_xhci_ring_find(&ep->ring, deq, &hc_at);
	if (!ok)
		bu_xhci_log(x, BU_LOG_WARN, "slot %u ep %u: Stop Endpoint: %s", d->slot,
			    ep->dci, bu_xhci_cc_name(cc));
	/* A pause (ep_pause) wants to know the ring has stopped. */
	if (cmd->user_done && d->udev)
		cmd->user_done(d->udev, cmd->user_ctx, ok ? 0 : BU_EIO);
	for (struct bu_usb_xfer *xfer = ep->head, *next; xfer; xfer = next) {
		next = xfer_hc(xfer)->next;
		if (xfer_hc(xfer)->state != XHCI_TD_CANCELLING)
			continue;
		if (have_at && hc_at - xfer_hc(xfer)->first < xfer_hc(xfer)->end - xfer_hc(xfer)->first) {
			/* The controller is parked inside this TD: skip it and
			 * the cancelled ones right behind it. */
			move = true;
			move_to = past_cancelled(xfer);
		} else {
			td_to_noop(x, &ep->ring, xfer);
		}
		/* xfer->actual: what its Stopped event said it moved, or 0. */
		xfer_finish(x, ep, xfer, xfer->status, xfer->actual);
	}
	if (!move && ep->head && ep->type != BU_EP_ISOCH &&
	    xfer_hc(ep->head)->state == XHCI_TD_QUEUED &&
	    (have_at ? hc_at - xfer_hc(ep->head)->first >=
			       xfer_hc(ep->head)->end - xfer_hc(ep->head)->first
		     : deq == xhci_ring_addr(&ep->ring, ep->ring.enq))) {
		/* The controller let go of a TD it never finished (QEMU's
		 * Stop Endpoint leaves the dequeue pointer past the TD in
		 * progress): point it back at that TD (§4.6.10), or it would
		 * never run again after a pause or a cancel behind it. */
		bu_xhci_log(x, BU_LOG_DEBUG, "slot %u ep %u: stopped past a queued TD, moved back",
			    d->slot, ep->dci);
		move = true;
		move_to = xfer_hc(ep->head)->first;
	}
	if (move && !d->disabling && !ep_set_deq(x, ep, move_to, NULL, NULL))
		return;
	ep->stopping = false;
	ep_kick(x, ep);
}

/** Queue Stop Endpoint, with Suspend (SP) for a pause. */
static int ep_stop(struct xhci *x, struct xhci_ep *ep, bool suspend,
		   bu_usb_done_fn done, void *ctx)
{
	return bu_xhci_cmd_submit(x, 0,
				  XHCI_TRB_TYPE_SET(XHCI_TRB_STOP_EP) |
					  XHCI_TRB_SLOT(ep->dev->slot) | XHCI_TRB_EP(ep->dci) |
					  (suspend ? XHCI_TRB_SP : 0),
				  stop_ep_done, ep->dev, ep, done, ctx);
}

int bu_xhci_xfer_cancel(struct bu_usb_xfer *xfer, int status)
{
	struct xhci *x = bus_xhci(xfer->ep->dev->bus);
	struct xhci_ep *ep = xfer->ep->hc_priv;
	int rc;

	if (!ep || xfer_hc(xfer)->state == XHCI_TD_IDLE)
		return BU_ENOENT;
	if (xfer_hc(xfer)->state == XHCI_TD_CANCELLING)
		return 0; /* already being cancelled */
	xfer_hc(xfer)->state = XHCI_TD_CANCELLING;
	xfer->status = status;
	/* Recovery (halt) or a Stop in flight ends with the ring stopped:
	 * ep_retire_cancelled() completes this one then, from poll. */
	if (ep->stopping || ep->halted)
		return 0;
	ep->stopping = true;
	rc = ep_stop(x, ep, false, NULL, NULL);
	if (rc) {
		ep->stopping = false;
		xfer_hc(xfer)->state = XHCI_TD_QUEUED;
	}
	return rc;
}

int bu_xhci_ep_abort(struct bu_usb_endpoint *uep, int status)
{
	struct xhci_ep *ep = uep->hc_priv;
	int n = 0;

	if (!ep)
		return 0;
	for (struct bu_usb_xfer *xfer = ep->head, *next; xfer; xfer = next) {
		next = xfer_hc(xfer)->next;
		if (xfer_hc(xfer)->state == XHCI_TD_QUEUED && bu_xhci_xfer_cancel(xfer, status) == 0)
			n++;
	}
	return n;
}

/**
 * Stop the endpoint before its device is suspended, keeping its queued TDs
 * (Stop Endpoint with SP, §4.6.9, §4.15.1); the controller continues them
 * once ep_unpause rings the doorbell again. An endpoint halted or being
 * stopped is held where it ends up, without a command of its own.
 */
int bu_xhci_ep_pause(struct bu_usb_endpoint *uep, bu_usb_done_fn done, void *ctx)
{
	struct xhci_ep *ep = uep->hc_priv;
	int rc;

	if (!ep || ep->broken)
		return BU_ENOENT;
	if (ep->paused || ep->dev->disabling)
		return BU_EBUSY;
	if (ep->stopping || ep->halted) {
		if (done)
			return BU_EBUSY; /* recovery or a cancel first */
		ep->paused = true; /* its completion will not ring the doorbell */
		return 0;
	}
	ep->stopping = true;
	ep->paused = true;
	rc = ep_stop(bus_xhci(uep->dev->bus), ep, true, done, ctx);
	if (rc)
		ep->stopping = ep->paused = false;
	return rc;
}

void bu_xhci_ep_unpause(struct bu_usb_endpoint *uep)
{
	struct xhci_ep *ep = uep->hc_priv;

	if (!ep || !ep->paused)
		return;
	ep->paused = false;
	ep_kick(bus_xhci(uep->dev->bus), ep);
}

/** Counts a Stop or recovery in flight as one more, so callers wait for it. */
unsigned bu_xhci_ep_queued(struct bu_usb_endpoint *uep)
{
	struct xhci_ep *ep = uep->hc_priv;
	unsigned n = 0;

	if (!ep)
		return 0;
	for (struct bu_usb_xfer *xfer = ep->head; xfer; xfer = xfer_hc(xfer)->next)
		n++;
	return n + (ep->stopping || ep->halted ? 1 : 0);
}
