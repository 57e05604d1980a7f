/*
 * Helpers for harnesses that run the real stack (hcd/ + core/) on the sim:
 * bring a controller up quietly, poll while virtual time passes, take the
 * device's answers from the input, and tear down with the one check every
 * run ends with: all memory the stack took through the platform table
 * (DMA blocks, mappings, heap) came back. The sim aborts by itself on a
 * DMA fault. Spec violations the model records are not failures here (a
 * hostile device can steer the stack into ones it cannot help); set
 * FUZZ_LOG=<bu_log_level> to see them and the driver's log.
 */
#ifndef FUZZ_FUZZ_SIM_H
#define FUZZ_FUZZ_SIM_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bareusb/usb.h"
#include "bareusb/xhci.h"
#include "devices.h"
#include "sim.h"

struct fz_stack {
	struct sim *sim;
	struct bu_usb_bus *bus;
};

/** The input, read front to back; reads past its end give 0. */
struct fz_input {
	const uint8_t *data;
	size_t size, pos;
};

static inline void fz_invariant(int ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "fuzz invariant failed: %s\n", what);
		abort();
	}
}

static inline bool fz_more(const struct fz_input *in)
{
	return in->pos < in->size;
}

static inline uint8_t fz_u8(struct fz_input *in)
{
	return in->pos < in->size ? in->data[in->pos++] : 0;
}

static inline uint16_t fz_u16(struct fz_input *in)
{
	uint16_t lo = fz_u8(in);

	return (uint16_t)(lo | fz_u8(in) << 8);
}

static inline uint32_t fz_u32(struct fz_input *in)
{
	uint32_t lo = fz_u16(in);

	return lo | (uint32_t)fz_u16(in) << 16;
}

/** Copy up to n input bytes to out; returns how many there were. */
static inline size_t fz_bytes(struct fz_input *in, uint8_t *out, size_t n)
{
	if (n > in->size - in->pos)
		n = in->size - in->pos;
	memcpy(out, in->data + in->pos, n);
	in->pos += n;
	return n;
}

/** A controller (cfg may be NULL) with the stack on it; aborts on failure. */
static inline void fz_up(struct fz_stack *st, const struct sim_config *cfg)
{
	struct sim_config c = { 0 };
	struct bu_xhci_options opts = { 0 };
	const char *lv = getenv("FUZZ_LOG");

	if (cfg)
		c = *cfg;
	c.log_level = lv ? atoi(lv) : -1;
	st->sim = sim_create(&c);
	fz_invariant(bu_xhci_create(sim_regs_base(st->sim), sim_platform(st->sim), &opts, 0,
				    &st->bus) == 0,
		     "bu_xhci_create");
}

/** Poll and advance virtual time for `ms`, in `step_us` steps. */
static inline void fz_run_ms(struct fz_stack *st, unsigned ms, unsigned step_us)
{
	for (uint64_t t = 0; t < ms * 1000ull; t += step_us) {
		bu_usb_bus_poll(st->bus);
		sim_advance_us(st->sim, step_us);
	}
}

/** Run until the bus has been idle for 20 ms, at most max_ms. */
static inline void fz_settle(struct fz_stack *st, unsigned max_ms, unsigned step_us)
{
	for (unsigned t = 0; t < max_ms; t += 10) {
		fz_run_ms(st, 10, step_us);
		if (bu_usb_bus_idle(st->bus)) {
			fz_run_ms(st, 20, step_us);
			if (bu_usb_bus_idle(st->bus))
				return;
		}
	}
}

/** Destroy the bus (if still there) and check nothing leaked. */
static inline void fz_down(struct fz_stack *st)
{
	struct sim_stats s;

	if (st->bus)
		bu_usb_bus_destroy(st->bus);
	st->bus = NULL;
	sim_get_stats(st->sim, &s);
	if (getenv("FUZZ_LOG"))
		for (unsigned i = 0; i < sim_violations(st->sim) && sim_violation(st->sim, i); i++)
			fprintf(stderr, "violation %u: %s\n", i, sim_violation(st->sim, i));
	if (s.dma_allocs || s.dma_maps || s.heap_allocs) {
		fprintf(stderr, "leak after destroy: %zu DMA blocks (%zu bytes), %zu maps, %zu heap blocks (%zu bytes)\n",
			s.dma_allocs, s.dma_bytes, s.dma_maps, s.heap_allocs, s.heap_bytes);
		abort();
	}
	sim_destroy(st->sim);
}

#endif
