/*
 * xHCI ring arithmetic and field encoders: pure functions with no register
 * access, so unit tests can check them against the spec directly.
 */
#include "xhci_priv.h"

#include "bareusb/util.h"

void bu_xhci_ring_init(struct xhci_ring *r, struct xhci_trb *trbs, uint64_t bus,
		    uint32_t count)
{
	struct xhci_trb *link = &trbs[count];

	r->trbs = trbs;
	r->bus = bus;
	r->count = count;
	r->enq = 0;
	r->deq = 0;
	r->link_chain = false;
	bu_memset(trbs, 0, (count + 1) * sizeof(*trbs));
	/* §4.9.2.1: the last TRB links back with Toggle Cycle; its cycle bit
	 * is written each lap by xhci_ring_push. */
	link->dw[0] = bu_cpu_to_le32((uint32_t)bus);
	link->dw[1] = bu_cpu_to_le32((uint32_t)(bus >> 32));
	link->dw[2] = 0;
	link->dw[3] = bu_cpu_to_le32(XHCI_TRB_TYPE_SET(XHCI_TRB_LINK) | XHCI_TRB_TC);
}

bool bu_xhci_ring_find(const struct xhci_ring *r, uint64_t addr, uint32_t *counter)
{
	uint32_t slot, off;

	if (addr < r->bus || addr >= r->bus + 16ull * r->count || (addr & 15))
		return false;
	slot = (uint32_t)((addr - r->bus) / 16);
	off = (slot - xhci_ring_slot(r, r->deq)) & (r->count - 1);
	if (off >= r->enq - r->deq)
		return false;
	*counter = r->deq + off;
	return true;
}

bool bu_xhci_ring_link_chain(uint16_t hciversion, uint32_t quirks, bool isoch)
{
	return hciversion < 0x0096 || (isoch && (quirks & BU_XHCI_QUIRK_ISOC_LINK_CHAIN));
}

uint32_t bu_xhci_ring_push(struct xhci_ring *r, uint32_t dw0, uint32_t dw1,
			uint32_t dw2, uint32_t dw3, bool hold)
{
	uint32_t c = r->enq++;
	uint32_t cycle = xhci_ring_cycle(r, c);
	struct xhci_trb *t = xhci_ring_trb(r, c);

	t->dw[0] = bu_cpu_to_le32(dw0);
	t->dw[1] = bu_cpu_to_le32(dw1);
	t->dw[2] = bu_cpu_to_le32(dw2);
	/* The controller may be running this ring: the parameters must be
	 * visible before the cycle bit hands the TRB over. */
	bu_dma_wmb();
	t->dw[3] = bu_cpu_to_le32((dw3 & ~XHCI_TRB_C) | (hold ? cycle ^ 1 : cycle));
	if (xhci_ring_slot(r, r->enq) == 0) {
		/* We just filled the last usable TRB: hand over the Link TRB of
		 * this lap, carrying the chain bit so a TD may span it. */
		struct xhci_trb *link = &r->trbs[r->count];
		uint32_t ldw3 = XHCI_TRB_TYPE_SET(XHCI_TRB_LINK) | XHCI_TRB_TC |
				(r->link_chain ? XHCI_TRB_CH : dw3 & XHCI_TRB_CH) | cycle;

		bu_dma_wmb();
		link->dw[3] = bu_cpu_to_le32(ldw3);
	}
	return c;
}

void bu_xhci_ring_release(struct xhci_ring *r, uint32_t counter)
{
	struct xhci_trb *t = xhci_ring_trb(r, counter);

	bu_dma_wmb();
	t->dw[3] = bu_cpu_to_le32(bu_le32_to_cpu(t->dw[3]) ^ XHCI_TRB_C);
}

uint32_t bu_xhci_td_size(size_t td_len, size_t done_incl, unsigned mps, bool last)
{
	size_t total_packets, sent_packets;

	if (last || !mps || !td_len)
		return 0;
	total_packets = (td_len + mps - 1) / mps;
	sent_packets = done_incl / mps;
	if (sent_packets >= total_packets)
		return 0;
	return (uint32_t)BU_MIN(total_packets - sent_packets, (size_t)31);
}

uint32_t bu_xhci_td_size_kib(size_t remaining)
{
	return (uint32_t)BU_MIN(remaining >> 10, (size_t)31);
}

/** floor(log2(v)) for v > 0. */
static unsigned ilog2(unsigned v)
{
	unsigned n = 0;

	while (v >>= 1)
		n++;
	return n;
}

unsigned bu_xhci_ep_interval(enum bu_usb_speed speed, unsigned type,
			  unsigned b_interval)
{
	unsigned v;

	switch (speed) {
	case BU_SPEED_HIGH:
		if (type == BU_EP_CONTROL || type == BU_EP_BULK)
			/* NAK rate in microframes: not an xHCI period. */
			return 0;
		/* periodic endpoints: 2^(bInterval-1) uframes, as SuperSpeed */
		__attribute__((fallthrough));
	case BU_SPEED_SUPER:
	case BU_SPEED_SUPER_PLUS:
		if (type != BU_EP_ISOCH && type != BU_EP_INTERRUPT)
			return 0;
		v = BU_MIN(BU_MAX(b_interval, 1u), 16u);
		return v - 1;
	case BU_SPEED_FULL:
		if (type == BU_EP_ISOCH) {
			/* 2^(bInterval-1) frames = 2^(bInterval+2) uframes */
			v = BU_MIN(BU_MAX(b_interval, 1u), 16u);
			return BU_MIN(v - 1 + 3, 15u);
		}
		__attribute__((fallthrough));
	case BU_SPEED_LOW:
		if (type != BU_EP_INTERRUPT)
			return 0;
		/* bInterval frames, rounded down to a power of two uframes */
		v = BU_MAX(b_interval, 1u);
		v = ilog2(v * 8);
		return BU_MIN(BU_MAX(v, 3u), 10u);
	default:
		return 0;
	}
}

unsigned bu_xhci_ep_type(unsigned type, bool in)
{
	if (type == BU_EP_CONTROL)
		return XHCI_EPT_CONTROL;
	return (type & 3) | (in ? 4u : 0u);
}

struct bu_xhci_esit bu_xhci_ep_esit(enum bu_usb_speed speed, unsigned type,
				    unsigned mps, unsigned burst, unsigned mult,
				    uint32_t esit, bool lec)
{
	struct bu_xhci_esit r = { 0, 0, NULL };
	bool ss = speed == BU_SPEED_SUPER || speed == BU_SPEED_SUPER_PLUS;
	unsigned max_mult = ss && type == BU_EP_ISOCH ? 2 : 0;
	uint32_t per_burst, cap;

	if (type != BU_EP_ISOCH && type != BU_EP_INTERRUPT)
		return r;
	per_burst = (uint32_t)mps * (BU_MIN(burst, 15u) + 1u);
	mult = BU_MIN(mult, max_mult);
	r.esit = esit;
	if (lec) {
		/* Mult is RsvdZ: the controller computes it from the payload. */
		cap = speed == BU_SPEED_SUPER_PLUS && type == BU_EP_ISOCH
			      ? 0xffffffu
			      : per_burst * (max_mult + 1u);
	} else {
		if (speed == BU_SPEED_SUPER_PLUS && type == BU_EP_ISOCH && per_burst)
			while (mult < max_mult && esit > per_burst * (mult + 1u))
				mult++;
		r.mult = mult;
		cap = per_burst * (mult + 1u);
	}
	if (r.esit == 0) {
		r.esit = per_burst * (mult + 1u);
		r.clamped = "Max ESIT Payload 0 on a periodic endpoint";
	} else if (r.esit > cap) {
		r.esit = cap;
		r.clamped = lec ? "Max ESIT Payload above what the endpoint carries"
				: "Max ESIT Payload above what Max Burst and Mult "
				  "carry without HCCPARAMS2.LEC";
	}
	return r;
}
