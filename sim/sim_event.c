/*
 * sim interrupters and event rings (xHCI §4.9.4, §4.17, §5.5.2): ERST with
 * any number of segments up to 2^ERSTMax (more is a Host Controller
 * Error), each checked for alignment and the 64 KiB boundary, cycle bits
 * toggled after the last segment, Event Ring Full with a Host Controller
 * Event and a pause until ERDP moves, ERDP checked (inside the ring, its
 * segment in DESI, no further than the events posted), interrupt pending,
 * EHB and moderation. An interrupt is raised for newly posted events only:
 * events left on the ring when EHB is cleared raise none.
 */
#include <stdlib.h>
#include <string.h>

#include "sim_priv.h"

void sim_intr_reset(struct sim *sim)
{
	for (unsigned i = 0; i < SIM_MAX_INTRS; i++) {
		struct sim_intr *ir = &sim->intr[i];
		free(ir->segs);
		free(ir->q);
		memset(ir, 0, sizeof(*ir));
		ir->imod = 4000;
	}
}

static unsigned sim_ring_total(const struct sim_intr *ir)
{
	unsigned t = 0;

	for (unsigned i = 0; i < ir->nsegs; i++)
		t += ir->segs[i].size;
	return t;
}

/* Linear index of a bus address in the ring, or -1; its segment in *seg. */
static long sim_ring_locate(const struct sim_intr *ir, uint64_t addr, unsigned *seg)
{
	long base = 0;

	for (unsigned i = 0; i < ir->nsegs; i++) {
		const struct sim_seg *s = &ir->segs[i];
		if (addr >= s->base && addr < s->base + 16ull * s->size && !((addr - s->base) & 15)) {
			*seg = i;
			return base + (long)((addr - s->base) / 16);
		}
		base += s->size;
	}
	return -1;
}

/* Linear index of a bus address in the ring, or -1. */
static long sim_ring_index(const struct sim_intr *ir, uint64_t addr)
{
	unsigned seg;

	return sim_ring_locate(ir, addr, &seg);
}

static unsigned sim_enq_index(const struct sim_intr *ir)
{
	unsigned base = 0;

	for (unsigned i = 0; i < ir->enq_seg; i++)
		base += ir->segs[i].size;
	return base + ir->enq_idx;
}

void sim_intr_erstba(struct sim *sim, unsigned n)
{
	struct sim_intr *ir = &sim->intr[n];
	unsigned sz = ir->erstsz, max = 1u << XHCI_HCSPARAMS2_ERST_MAX(sim->hcsparams2);

	free(ir->segs);
	ir->segs = NULL;
	ir->nsegs = 0;
	ir->ready = false;
	ir->full = false;
	ir->qlen = 0;
	if (sz == 0) {
		if (n == 0)
			sim_violation_add(sim, "ERSTBA written with ERSTSZ=0 on the primary interrupter");
		return;
	}
	if (sz > max) {
		sim_hc_error(sim, "ERSTSZ larger than 2^ERSTMax");
		return;
	}
	if (ir->erstba & 0x3f)
		sim_violation_add(sim, "ERSTBA %#llx: not 64-byte aligned",
				  (unsigned long long)ir->erstba);
	ir->segs = calloc(sz, sizeof(*ir->segs));
	for (unsigned i = 0; i < sz; i++) {
		uint32_t e[4];
		if (!sim_dma_read(sim, (ir->erstba & ~0x3full) + 16ull * i, e, 16,
				  "Event Ring Segment Table entry"))
			return;
		struct sim_seg *s = &ir->segs[i];
		s->base = sim_rd64(e) & ~0x3full;
		s->size = e[2] & 0xffff;
		if (e[0] & 0x3f)
			sim_violation_add(sim, "ERST[%u] segment base %#llx: not 64-byte aligned", i,
					  (unsigned long long)sim_rd64(e));
		if (s->size < 16 || s->size > 4096) {
			sim_hc_error(sim, "ERST segment size outside 16..4096 TRBs");
			return;
		}
		if ((s->base >> 16) != ((s->base + 16ull * s->size - 1) >> 16))
			sim_violation_add(sim, "ERST[%u] segment %#llx+%u TRBs crosses a 64 KiB boundary",
					  i, (unsigned long long)s->base, s->size);
		if (!sim_dma_probe(sim, s->base, 16ull * s->size, true, "event ring segment"))
			return;
	}
	ir->nsegs = sz;
	ir->enq_seg = 0;
	ir->enq_idx = 0;
	ir->pcs = true;
	ir->ready = true;
	sim_tracef(sim, "IR%u: event ring of %u segments, %u TRBs", n, sz, sim_ring_total(ir));
}

static bool sim_write_event(struct sim *sim, struct sim_intr *ir, const uint32_t dw[4])
{
	const struct sim_seg *s = &ir->segs[ir->enq_seg];
	uint64_t addr = s->base + 16ull * ir->enq_idx;
	uint32_t t[4] = { dw[0], dw[1], dw[2], (dw[3] & ~XHCI_TRB_C) | (ir->pcs ? 1u : 0u) };

	if (!sim_dma_write(sim, addr, t, 12, "event TRB") ||
	    !sim_dma_write(sim, addr + 12, &t[3], 4, "event TRB cycle dword"))
		return false;
	sim_trace_trb(sim, "event", addr, t);
	sim->st.events++;
	if (++ir->enq_idx == s->size) {
		ir->enq_idx = 0;
		if (++ir->enq_seg == ir->nsegs) {
			ir->enq_seg = 0;
			ir->pcs = !ir->pcs;
		}
	}
	return true;
}

static void sim_queue_event(struct sim_intr *ir, const uint32_t dw[4], bool bei)
{
	if (ir->qlen == ir->qcap) {
		ir->qcap = ir->qcap ? ir->qcap * 2 : 32;
		ir->q = realloc(ir->q, ir->qcap * sizeof(*ir->q));
		if (!ir->q)
			abort();
	}
	memcpy(ir->q[ir->qlen].dw, dw, 16);
	ir->q[ir->qlen].bei = bei;
	ir->qlen++;
}

/* Try to put one event on the ring; false when it had to be held. */
static bool sim_try_post(struct sim *sim, unsigned n, const uint32_t dw[4], bool bei,
			 bool flushing)
{
	struct sim_intr *ir = &sim->intr[n];
	unsigned total = sim_ring_total(ir);
	long deq = sim_ring_index(ir, ir->erdp & ~0xfull);
	unsigned free_slots;

	if (deq < 0) {
		sim_violation_add(sim, "IR%u: event to post but ERDP %#llx is not inside the event ring",
				  n, (unsigned long long)ir->erdp);
		deq = (long)sim_enq_index(ir);
	}
	free_slots = (unsigned)(((long)total + deq - (long)sim_enq_index(ir) - 1) % (long)total);
	if (n == 0 && sim->fault_er_full) {
		sim->fault_er_full = false;
		free_slots = 1;
	}
	if (free_slots == 0 || (flushing && free_slots == 1))
		return false;
	if (free_slots == 1) {
		uint32_t full[4] = { 0, 0, (uint32_t)XHCI_CC_EVENT_RING_FULL << 24,
				     XHCI_TRB_TYPE_SET(XHCI_TRB_HC_EVENT) };
		sim_log(sim, BU_LOG_INFO, "IR%u: event ring full", n);
		if (!sim_write_event(sim, ir, full))
			return false;
		sim->st.er_full++;
		ir->full = true;
		ir->full_erdp = ir->erdp & ~0xfull;
		ir->irq_pending = true;
		return false;
	}
	if (!sim_write_event(sim, ir, dw))
		return false;
	if (!bei)
		ir->irq_pending = true;
	return true;
}

void sim_event_post(struct sim *sim, unsigned n, const uint32_t dw[4], bool bei)
{
	struct sim_intr *ir;

	if (n >= sim->nintrs) {
		sim_violation_add(sim, "event for interrupter %u >= MaxIntrs %u", n, sim->nintrs);
		n = 0;
	}
	ir = &sim->intr[n];
	if (!ir->ready) {
		sim_violation_add(sim, "event (type %u) for interrupter %u, which has no event ring",
				  XHCI_TRB_TYPE(dw[3]), n);
		return;
	}
	if (ir->full || ir->qlen) {
		sim_queue_event(ir, dw, bei);
		return;
	}
	if (!sim_try_post(sim, n, dw, bei, false))
		sim_queue_event(ir, dw, bei);
	if (ir->irq_pending && sim->next_due > sim->now)
		sim->next_due = sim->now;
}

void sim_intr_erdp(struct sim *sim, unsigned n, uint64_t val)
{
	struct sim_intr *ir = &sim->intr[n];
	uint64_t ptr = val & ~0xfull;
	bool ehb = (ir->erdp & XHCI_ERDP_EHB) && !(val & XHCI_ERDP_EHB);

	if (ir->ready) {
		unsigned seg = 0;
		long newi = sim_ring_locate(ir, ptr, &seg), oldi = sim_ring_index(ir, ir->erdp & ~0xfull);
		unsigned total = sim_ring_total(ir);
		if (newi < 0) {
			sim_violation_add(sim, "IR%u: ERDP written with %#llx, outside the event ring",
					  n, (unsigned long long)ptr);
		} else if ((val & XHCI_ERDP_DESI) != (seg & XHCI_ERDP_DESI)) {
			/* A controller may judge "ring full" from DESI. */
			sim_violation_add(sim, "IR%u: ERDP %#llx is in ERST segment %u but DESI says %u (xHCI §5.5.2.3.3)",
					  n, (unsigned long long)ptr, seg,
					  (unsigned)(val & XHCI_ERDP_DESI));
		}
		if (newi >= 0 && oldi >= 0) {
			unsigned enq = sim_enq_index(ir);
			unsigned used = (unsigned)(((long)enq - oldi + (long)total) % (long)total);
			unsigned moved = (unsigned)((newi - oldi + (long)total) % (long)total);
			if (ir->full && oldi == (long)enq)
				used = total; /* completely full: any move is fine */
			if (moved > used)
				sim_violation_add(sim, "IR%u: ERDP moved %u TRBs but only %u events were posted",
						  n, moved, used);
		}
	}
	ir->erdp = ptr | (val & XHCI_ERDP_DESI) | (ehb ? XHCI_ERDP_EHB : 0);
	if (ir->full && ptr != ir->full_erdp) {
		ir->full = false;
		sim_tracef(sim, "IR%u: event ring has room again; %u held events", n, ir->qlen);
		unsigned i = 0;
		while (i < ir->qlen && !ir->full) {
			if (!sim_try_post(sim, n, ir->q[i].dw, ir->q[i].bei, true))
				break;
			i++;
		}
		memmove(ir->q, ir->q + i, (ir->qlen - i) * sizeof(*ir->q));
		ir->qlen -= i;
		if (ir->qlen) { /* still no room: stay paused, no second Full event */
			ir->full = true;
			ir->full_erdp = ptr;
		}
		/* Engines paused on the full ring may go on. */
		if (sim->next_due > sim->now)
			sim->next_due = sim->now;
	}
	if (ir->irq_pending && sim->next_due > sim->now)
		sim->next_due = sim->now;
}

uint64_t sim_intr_due(const struct sim *sim, unsigned n)
{
	const struct sim_intr *ir = &sim->intr[n];

	if (!ir->irq_pending || (ir->erdp & XHCI_ERDP_EHB))
		return SIM_NEVER;
	return ir->imod_end > sim->now ? ir->imod_end : sim->now;
}

void sim_intr_work(struct sim *sim, unsigned n)
{
	struct sim_intr *ir = &sim->intr[n];

	if (!ir->irq_pending || (ir->erdp & XHCI_ERDP_EHB) || ir->imod_end > sim->now)
		return;
	ir->irq_pending = false;
	ir->erdp |= XHCI_ERDP_EHB;
	ir->iman |= XHCI_IMAN_IP;
	sim->usbsts |= XHCI_USBSTS_EINT;
	if ((ir->iman & XHCI_IMAN_IE) && (sim->usbcmd & XHCI_USBCMD_INTE))
		sim->st.irqs++;
	ir->imod_end = sim->now + (uint64_t)(ir->imod & 0xffff) * 250;
}

bool sim_events_paused(const struct sim *sim)
{
	for (unsigned i = 0; i < sim->nintrs; i++)
		if (sim->intr[i].full)
			return true;
	return false;
}
