/*
 * Shared helpers for the sim tests that run the real stack (hcd/ + core/)
 * on the model: bring a controller up, advance virtual time while polling,
 * wait for enumeration or for transfers, and tear down with the checks
 * every test wants (no spec violation, nothing leaked).
 */
#ifndef TESTS_SIM_HARNESS_H
#define TESTS_SIM_HARNESS_H

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bareusb/usb.h"
#include "bareusb/xhci.h"
#include "xhci_hw.h"
#include "devices.h"
#include "sim.h"
#include "run_suite.h"

struct stack {
	struct sim *sim;
	struct bu_usb_bus *bus;
	unsigned added, removed;
	int create_err;
};

static inline void h_on_added(void *ctx, struct bu_usb_device *dev)
{
	(void)dev;
	((struct stack *)ctx)->added++;
}

static inline void h_on_removed(void *ctx, struct bu_usb_device *dev)
{
	(void)dev;
	((struct stack *)ctx)->removed++;
}

/* The model alone; SIM_LOG=<bu_log_level> prints its and the driver's logs. */
static inline void stack_sim(struct stack *st, const struct sim_config *cfg)
{
	struct sim_config c = { 0 };
	const char *lv = getenv("SIM_LOG");

	if (cfg)
		c = *cfg;
	if (lv) {
		c.log_level = atoi(lv);
		c.trace = c.log_level >= BU_LOG_TRACE;
	}
	memset(st, 0, sizeof(*st));
	st->sim = sim_create(&c);
}

/*
 * Start the driver on st->sim; returns bu_xhci_create's result (also in
 * st->create_err). Every suite runs with the model's PCI identity unless
 * it set its own in o->pci.
 */
static inline int stack_start(struct stack *st, const struct bu_xhci_options *o, unsigned index)
{
	struct bu_xhci_options opts = { 0 };
	const char *lv = getenv("SIM_LOG");

	if (o)
		opts = *o;
	if (lv)
		opts.trace = atoi(lv) >= BU_LOG_TRACE;
	if (!opts.pci.vendor && !opts.pci.cfg_read32)
		sim_pci_identity(st->sim, &opts.pci);
	st->create_err = bu_xhci_create(sim_regs_base(st->sim), sim_platform(st->sim), &opts, index,
					&st->bus);
	if (st->create_err)
		return st->create_err;
	st->bus->events.ctx = st;
	st->bus->events.device_added = h_on_added;
	st->bus->events.device_removed = h_on_removed;
	return 0;
}

static inline void stack_up_opts(struct stack *st, const struct sim_config *cfg,
			  const struct bu_xhci_options *o, unsigned index)
{
	stack_sim(st, cfg);
	ck_assert_int_eq(stack_start(st, o, index), 0);
}

static inline void stack_up(struct stack *st, const struct sim_config *cfg, unsigned index)
{
	stack_up_opts(st, cfg, NULL, index);
}

/* Poll and advance virtual time in `step_us` steps for `us` microseconds. */
static inline void run_us(struct stack *st, uint64_t us, unsigned step_us)
{
	for (uint64_t t = 0; t < us; t += step_us) {
		if (st->bus)
			bu_usb_bus_poll(st->bus);
		sim_advance_us(st->sim, step_us);
	}
}

static inline void run_ms(struct stack *st, unsigned ms)
{
	run_us(st, ms * 1000ull, 250);
}

/* Poll until the bus is idle (enumeration done), at most max_ms. */
static inline bool settle(struct stack *st, unsigned max_ms)
{
	for (unsigned t = 0; t < max_ms; t += 10) {
		run_ms(st, 10);
		if (bu_usb_bus_idle(st->bus)) {
			run_ms(st, 20);
			if (bu_usb_bus_idle(st->bus))
				return true;
		}
	}
	return false;
}

/* Poll until *flag is true, at most max_ms of virtual time. */
static inline bool wait_flag(struct stack *st, const bool *flag, unsigned max_ms)
{
	for (uint64_t t = 0; t < max_ms * 1000ull && !*flag; t += 50) {
		bu_usb_bus_poll(st->bus);
		if (*flag)
			break;
		sim_advance_us(st->sim, 50);
	}
	return *flag;
}

static inline void print_violations(struct sim *sim)
{
	for (unsigned i = 0; i < sim_violations(sim) && sim_violation(sim, i); i++)
		fprintf(stderr, "violation %u: %s\n", i, sim_violation(sim, i));
}

static inline void check_no_violations(struct sim *sim)
{
	print_violations(sim);
	ck_assert_msg(sim_violations(sim) == 0, "%u spec violations, first: %s", sim_violations(sim),
		      sim_violation(sim, 0));
}

static inline void stack_down(struct stack *st)
{
	struct sim_stats s;

	if (st->bus)
		bu_usb_bus_destroy(st->bus);
	st->bus = NULL;
	sim_get_stats(st->sim, &s);
	check_no_violations(st->sim);
	ck_assert_msg(s.dma_allocs == 0 && s.dma_maps == 0 && s.heap_allocs == 0,
		      "leak after destroy: %zu DMA blocks (%zu bytes), %zu maps, %zu heap blocks (%zu bytes)",
		      s.dma_allocs, s.dma_bytes, s.dma_maps, s.heap_allocs, s.heap_bytes);
	sim_destroy(st->sim);
}

static inline struct bu_usb_device *find_pid(struct stack *st, uint16_t vid, uint16_t pid)
{
	for (struct bu_usb_device *d = st->bus->devices; d; d = d->next)
		if (d->have_desc && d->desc.idVendor == vid && (!pid || d->desc.idProduct == pid))
			return d;
	return NULL;
}

static inline unsigned count_state(struct stack *st, enum bu_usb_dev_state state)
{
	unsigned n = 0;

	for (struct bu_usb_device *d = st->bus->devices; d; d = d->next)
		n += d->state == state;
	return n;
}

/* The interface object of bInterfaceNumber `number` (the test fails without one). */
static inline const struct bu_usb_interface *iface_no(const struct bu_usb_device *dev,
						      uint8_t number)
{
	for (unsigned i = 0; i < dev->num_ifaces; i++)
		if (dev->ifaces[i].number == number)
			return &dev->ifaces[i];
	ck_abort_msg("no interface %u", number);
	return NULL;
}

static inline const char *json_of(const struct bu_usb_device *dev)
{
	static char buf[8192];

	bu_usb_device_json(dev, buf, sizeof(buf));
	return buf;
}

/* ------------------------------------------------------------------------ */
/* Asynchronous transfers                                                   */

struct aio {
	struct bu_usb_xfer x;
	bool done;
	unsigned seq;      /* completion order, from 1 */
	unsigned *counter; /* shared completion counter */
};

static inline void aio_complete(struct bu_usb_xfer *xfer)
{
	struct aio *a = xfer->ctx;

	a->done = true;
	if (a->counter)
		a->seq = ++*a->counter;
}

/* Submit `len` bytes on `ep`; returns the submit result. */
static inline int aio_submit(struct aio *a, struct bu_usb_endpoint *ep, void *buf, size_t len,
		      uint32_t timeout_ms, unsigned *counter)
{
	memset(a, 0, sizeof(*a));
	a->x.ep = ep;
	a->x.buf = buf;
	a->x.len = len;
	a->x.timeout_ms = timeout_ms;
	a->x.complete = aio_complete;
	a->x.ctx = a;
	a->counter = counter;
	return bu_usb_xfer_submit(&a->x);
}

/* A transfer from start to completion; returns its status, *actual set. */
static inline int xfer_sync(struct stack *st, struct bu_usb_endpoint *ep, void *buf, size_t len,
		     size_t *actual, unsigned max_ms)
{
	struct aio a;
	int rc = aio_submit(&a, ep, buf, len, 0, NULL);

	if (rc)
		return rc;
	ck_assert_msg(wait_flag(st, &a.done, max_ms), "transfer on %#04x did not complete",
		      ep->address);
	if (actual)
		*actual = a.x.actual;
	return a.x.status;
}

/* Wait until the endpoint has no transfer and no recovery in flight. */
static inline void wait_ep_idle(struct stack *st, struct bu_usb_endpoint *ep)
{
	for (int i = 0; i < 2000 && bu_usb_endpoint_busy(ep); i++) {
		bu_usb_bus_poll(st->bus);
		sim_advance_us(st->sim, 50);
	}
	ck_assert(!bu_usb_endpoint_busy(ep));
}

#endif
