/*
 * libFuzzer harness for the whole enumeration: the input is a hostile
 * device's description (sim/devices/hostile.c, format in devices.h), plugged
 * in on the sim beside a good keyboard - on a root port or behind a good
 * hub, at the speed it names, with its faults, its unplug time and the
 * devices below it when it is a hub. The checks of the sim campaign
 * (tests/sim/test_hostile.c, hostile_check.h) are abort()s here:
 *   - it settles within 30 s of virtual time;
 *   - it ends configured within USB limits, failed with a reason, or unplugged;
 *   - the sim records no spec violation;
 *   - the keyboard still answers GET_STATUS and delivers a key;
 *   - after the unplug, heap, DMA and slots are back where they were, and
 *     after the bus is destroyed nothing is left.
 * Seeds: fuzz/corpus/enum/ (descriptions the campaign's generator writes).
 * FUZZ_LOG=<bu_log_level> shows the driver's and the model's log.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bareusb/usb.h"
#include "bareusb/xhci.h"
#include "devices.h"
#include "sim.h"

#include "../tests/sim/hostile_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define STEP_US 1000u
#define LIMIT_US (30ull * 1000 * 1000)

struct fe {
	struct sim *sim;
	struct bu_usb_bus *bus;
	struct sim_hostile *h;
	const struct bu_usb_device *parent; /* hub the hostile device is below, or NULL */
	unsigned port;
};

static void fe_fail(struct fe *f, const char *what)
{
	fprintf(stderr, "fuzz_enum: %s\n", what);
	for (unsigned i = 0; i < sim_violations(f->sim) && sim_violation(f->sim, i); i++)
		fprintf(stderr, "violation %u: %s\n", i, sim_violation(f->sim, i));
	abort();
}

static struct bu_usb_device *fe_dev_at(struct fe *f, const struct bu_usb_device *parent,
				       unsigned port)
{
	for (struct bu_usb_device *d = f->bus->devices; d; d = d->next)
		if (d->parent == parent && (parent ? d->port : d->root_port) == port)
			return d;
	return NULL;
}

/* The hostile device is plugged in and seen, or unplugged and gone. */
static bool fe_hostile_settled(struct fe *f, uint64_t detach_at)
{
	bool plugged = sim_hostile_device(f->h) != NULL;

	if (detach_at && plugged)
		return false;
	return plugged == (fe_dev_at(f, f->parent, f->port) != NULL);
}

/* Poll until the bus was idle and `settled` held for 20 ms; false 30 s after
 * the start or the unplug time, whichever is later. */
static bool fe_run(struct fe *f, uint64_t detach_at, bool hostile)
{
	uint64_t t0 = sim_now_us(f->sim);
	uint64_t end = (detach_at > t0 ? detach_at : t0) + LIMIT_US;
	unsigned idle = 0;

	while (sim_now_us(f->sim) < end) {
		if (detach_at && sim_now_us(f->sim) >= detach_at && sim_hostile_device(f->h))
			sim_detach(sim_hostile_device(f->h));
		bu_usb_bus_poll(f->bus);
		sim_advance_us(f->sim, STEP_US);
		idle = bu_usb_bus_idle(f->bus) && (!hostile || fe_hostile_settled(f, detach_at))
			       ? idle + 1 : 0;
		if (idle >= 20)
			return true;
	}
	return false;
}

static void fe_check_below(struct fe *f, const struct bu_usb_device *hub, char *why, size_t n)
{
	for (struct bu_usb_device *d = f->bus->devices; d; d = d->next)
		if (d->parent == hub) {
			if (hostile_check_outcome(d, false, why, n))
				fe_fail(f, why);
			fe_check_below(f, d, why, n);
		}
}

static void fe_key_done(struct bu_usb_xfer *x)
{
	*(bool *)x->ctx = true;
}

/* GET_STATUS and one key report from the keyboard. */
static void fe_good_works(struct fe *f, struct sim_device *kbd, struct bu_usb_device *dev)
{
	uint16_t status = 0;
	uint8_t rep[8];
	bool done = false;
	struct bu_usb_xfer x = { .buf = rep, .len = sizeof(rep), .complete = fe_key_done,
				 .ctx = &done };

	if (dev->state != BU_DEV_CONFIGURED || bu_usb_get_status(dev, USB_RECIP_DEVICE, 0, &status))
		fe_fail(f, "the keyboard no longer answers GET_STATUS");
	x.ep = bu_usb_find_endpoint(dev, 0x81);
	sim_kbd_type(kbd, 0x04);
	if (!x.ep || bu_usb_xfer_submit(&x))
		fe_fail(f, "cannot read the keyboard");
	for (unsigned i = 0; i < 2000 && !done; i++) {
		bu_usb_bus_poll(f->bus);
		sim_advance_us(f->sim, 500);
	}
	if (!done || x.status || x.actual != 8 || rep[2] != 0x04)
		fe_fail(f, "the keyboard's report did not arrive");
	done = false;
	if (bu_usb_xfer_submit(&x)) /* the release */
		fe_fail(f, "cannot read the keyboard");
	for (unsigned i = 0; i < 2000 && !done; i++) {
		bu_usb_bus_poll(f->bus);
		sim_advance_us(f->sim, 500);
	}
	if (!done)
		fe_fail(f, "the keyboard's release did not arrive");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sim_config cfg = { .usb2_ports = 2, .usb3_ports = 2, .log_level = -1 };
	struct bu_xhci_options opts = { 0 };
	const char *lv = getenv("FUZZ_LOG");
	struct fe f = { 0 };
	struct sim_device *kbd, *hub = NULL, *sd;
	struct bu_usb_device *kbd_dev;
	enum sim_speed speed;
	struct sim_stats base, s;
	uint64_t detach_at = 0;
	char why[300];

	if (size > SIM_HOSTILE_MAX_LEN)
		return -1;
	if (lv)
		cfg.log_level = atoi(lv);
	f.sim = sim_create(&cfg);
	if (bu_xhci_create(sim_regs_base(f.sim), sim_platform(f.sim), &opts, 0, &f.bus))
		fe_fail(&f, "bu_xhci_create");
	f.h = sim_hostile_from_bytes(data, size);
	speed = sim_hostile_speed(f.h);

	/* the good ones */
	kbd = sim_attach(f.sim, sim_usb2_port(f.sim, 1), &sim_dev_hid_kbd, SIM_SPEED_FULL);
	if (sim_hostile_behind_hub(f.h))
		hub = speed == SIM_SPEED_SUPER
			? sim_attach(f.sim, sim_usb3_port(f.sim, 1), &sim_dev_hub3, SIM_SPEED_SUPER)
			: sim_attach(f.sim, sim_usb2_port(f.sim, 2), &sim_dev_hub2, SIM_SPEED_HIGH);
	if (!fe_run(&f, 0, false))
		fe_fail(&f, "the good devices did not settle");
	kbd_dev = fe_dev_at(&f, NULL, sim_usb2_port(f.sim, 1));
	if (!kbd_dev || kbd_dev->state != BU_DEV_CONFIGURED)
		fe_fail(&f, "the keyboard did not configure");
	if (hub) {
		f.parent = fe_dev_at(&f, NULL, speed == SIM_SPEED_SUPER ? sim_usb3_port(f.sim, 1)
								     : sim_usb2_port(f.sim, 2));
		if (!f.parent || f.parent->state != BU_DEV_CONFIGURED)
			fe_fail(&f, "the hub did not configure");
	}
	sim_get_stats(f.sim, &base);

	/* the hostile one */
	if (hub) {
		f.port = 1;
		sd = sim_attach_hub(hub, f.port, sim_hostile_model(f.h), speed);
	} else {
		f.port = speed == SIM_SPEED_SUPER ? sim_usb3_port(f.sim, 2) : sim_usb2_port(f.sim, 2);
		sd = sim_attach(f.sim, f.port, sim_hostile_model(f.h), speed);
	}
	if (!sd)
		fe_fail(&f, "cannot attach");
	sim_hostile_arm(f.h, sd);
	if (sim_hostile_detach_ms(f.h))
		detach_at = sim_now_us(f.sim) + sim_hostile_detach_ms(f.h) * 1000ull;
	if (!fe_run(&f, detach_at, true))
		fe_fail(&f, "did not settle within 30 s of virtual time");
	if (sim_violations(f.sim))
		fe_fail(&f, "spec violations");
	if (sim_hostile_device(f.h)) {
		const struct bu_usb_device *dev = fe_dev_at(&f, f.parent, f.port);

		if (!dev)
			fe_fail(&f, "no device in the core for it");
		if (hostile_check_outcome(dev, false, why, sizeof(why)))
			fe_fail(&f, why);
		fe_check_below(&f, dev, why, sizeof(why));
	}
	fe_good_works(&f, kbd, kbd_dev);

	/* unplugged, everything it cost comes back */
	if (sim_hostile_device(f.h))
		sim_detach(sim_hostile_device(f.h));
	if (!fe_run(&f, 0, true))
		fe_fail(&f, "still in the core 30 s after the unplug");
	sim_get_stats(f.sim, &s);
	if (hostile_check_stats(&s, &base, why, sizeof(why)))
		fe_fail(&f, why);
	if (sim_violations(f.sim))
		fe_fail(&f, "spec violations after the unplug");
	bu_usb_bus_destroy(f.bus);
	sim_get_stats(f.sim, &s);
	if (s.heap_allocs || s.dma_allocs || s.dma_maps)
		fe_fail(&f, "memory left after the bus was destroyed");
	if (sim_violations(f.sim))
		fe_fail(&f, "spec violations at destroy");
	sim_destroy(f.sim);
	sim_hostile_free(f.h);
	return 0;
}
