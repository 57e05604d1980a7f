/*
 * xHCI driver internals shared between the driver's files (xhci.c and the
 * ring helpers that unit tests exercise directly). Not a public header.
 */
#ifndef BAREUSB_XHCI_PRIV_H
#define BAREUSB_XHCI_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bareusb/arch.h"
#include "bareusb/xhci.h"
#include "bareusb/xhci_hw.h"

/*
 * A producer ring (command or transfer): `count` usable TRBs (a power of
 * two) followed by one Link TRB that points back to the start with Toggle
 * Cycle set. `enq` and `deq` are free-running counters; a counter's slot is
 * counter % count and its cycle bit is 1 on even laps, 0 on odd ones (xHCI
 * §4.9.2: the producer cycle state starts at 1 and flips at the Link TRB).
 */
struct xhci_ring {
	struct xhci_trb *trbs; /**< count + 1 TRBs; the last is the Link TRB */
	uint64_t bus;          /**< bus address of trbs[0] */
	uint32_t count;        /**< usable TRBs (power of two) */
	uint32_t enq;          /**< next counter the producer writes */
	uint32_t deq;          /**< oldest counter the controller may still own */
};

/** Cycle bit for the TRB written at counter `c`. */
static inline uint32_t xhci_ring_cycle(const struct xhci_ring *r, uint32_t c)
{
	return ((c / r->count) & 1) ? 0 : 1;
}

/** Slot index (0..count-1) of counter `c`. */
static inline uint32_t xhci_ring_slot(const struct xhci_ring *r, uint32_t c)
{
	return c & (r->count - 1);
}

/** Bus address of the TRB at counter `c`. */
static inline uint64_t xhci_ring_addr(const struct xhci_ring *r, uint32_t c)
{
	return r->bus + 16u * xhci_ring_slot(r, c);
}

/** TRBs that can still be queued (one is always kept free). */
static inline uint32_t xhci_ring_space(const struct xhci_ring *r)
{
	return r->count - 1 - (r->enq - r->deq);
}

/**
 * Map a bus address the controller reported back to a counter in
 * [deq, enq). Returns false when the address is not a live TRB of the ring.
 */
bool bu_xhci_ring_find(const struct xhci_ring *r, uint64_t addr, uint32_t *counter);

/** Initialise ring bookkeeping over zeroed memory and write the Link TRB. */
void bu_xhci_ring_init(struct xhci_ring *r, struct xhci_trb *trbs, uint64_t bus,
		    uint32_t count);

/**
 * Write one TRB (dw3 without the cycle bit) at the enqueue position and
 * advance. With `hold`, the TRB is written with the cycle bit inverted so the
 * controller cannot start on it before bu_xhci_ring_release(). Passing the Link
 * TRB at the end of the ring is handled here: it inherits the chain bit of
 * the TRB before it, so a TD may span the wrap. Returns the TRB's counter.
 */
uint32_t bu_xhci_ring_push(struct xhci_ring *r, uint32_t dw0, uint32_t dw1,
			uint32_t dw2, uint32_t dw3, bool hold);

/** Hand a held TRB to the controller (write barrier, then its cycle bit). */
void bu_xhci_ring_release(struct xhci_ring *r, uint32_t counter);

/** The TRB at counter `c` (host order dwords, as written). */
static inline struct xhci_trb *xhci_ring_trb(struct xhci_ring *r, uint32_t c)
{
	return &r->trbs[xhci_ring_slot(r, c)];
}

/**
 * TD Size for a TRB (xHCI §4.11.2.4): packets still to move after this TRB,
 * given the TD's total length, bytes up to and including this TRB, the max
 * packet size, and whether it is the TD's last TRB.
 */
uint32_t bu_xhci_td_size(size_t td_len, size_t done_incl, unsigned mps, bool last);

/** Endpoint context Interval field for a descriptor's bInterval (§6.2.3.6). */
unsigned bu_xhci_ep_interval(enum bu_usb_speed speed, unsigned type,
			  unsigned b_interval);

/** Endpoint context EP Type for a transfer type and direction. */
unsigned bu_xhci_ep_type(unsigned type, bool in);

/** Max ESIT Payload and Mult of an endpoint context (see bu_xhci_ep_esit). */
struct bu_xhci_esit {
	uint32_t esit;  /**< Max ESIT Payload (Hi:Lo) */
	unsigned mult;  /**< the Mult field */
	const char *clamped; /**< why the payload was changed, NULL if not */
};

/**
 * Max ESIT Payload and Mult fields (xHCI §6.2.3) for an endpoint of `type`
 * at `speed` with max packet `mps`, Max Burst `burst` (0-based), the
 * descriptor's Mult `mult` (SuperSpeed isochronous) and payload `esit`;
 * `lec` is HCCPARAMS2.LEC. Non-periodic endpoints get 0 and 0. Without LEC
 * the payload fits what Max Burst and Mult describe (at most 48 KiB, so Max
 * ESIT Payload Hi stays 0); a SuperSpeedPlus isochronous payload larger
 * than one burst raises Mult as far as 2 to carry it. With LEC, Mult is
 * RsvdZ (the controller derives it) and the payload is at most 24 bits,
 * and below SuperSpeedPlus at most what Mult 2 (isochronous) or 0 allows.
 * A periodic payload of 0 becomes what Max Burst and Mult carry.
 */
struct bu_xhci_esit bu_xhci_ep_esit(enum bu_usb_speed speed, unsigned type,
				    unsigned mps, unsigned burst, unsigned mult,
				    uint32_t esit, bool lec);

#endif
