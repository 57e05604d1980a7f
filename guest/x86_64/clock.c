/*
 * Monotonic microsecond clock. The HPET (q35 and pc put it at 0xFED00000)
 * is preferred: its period comes from the capability register, so no
 * calibration is needed. Without one (or with `clock=tsc`), the TSC is
 * calibrated against PIT channel 2 over 50 ms.
 */
#include "guest.h"

#include "bareusb/util.h"

#define HPET_BASE	   0xfed00000u
#define HPET_CAP_LO	   0x000
#define HPET_CAP_HI	   0x004 /* COUNTER_CLK_PERIOD in femtoseconds */
#define HPET_CONFIG	   0x010
#define HPET_CONFIG_ENABLE 0x1u
#define HPET_COUNTER_LO	   0x0f0
#define HPET_COUNTER_HI	   0x0f4

#define FS_PER_US 1000000000ull
#define PIT_HZ	  1193182ull

static enum { CLOCK_NONE, CLOCK_HPET, CLOCK_TSC } source;
static uint64_t period_fs;  /* HPET tick in femtoseconds */
static uint64_t tsc_khz;    /* TSC ticks per millisecond */
static uint64_t last_ticks; /* raw counter at the previous reading */
static uint64_t acc_us;	    /* microseconds accumulated so far */
static uint64_t acc_rem; /* sub-microsecond remainder (fs or TSC ticks*1000) */

/** Read the 64-bit HPET main counter without tearing. */
static uint64_t hpet_counter(void)
{
	uint32_t hi, lo, hi2;

	do {
		hi = mmio_read32(HPET_BASE + HPET_COUNTER_HI);
		lo = mmio_read32(HPET_BASE + HPET_COUNTER_LO);
		hi2 = mmio_read32(HPET_BASE + HPET_COUNTER_HI);
	} while (hi != hi2);
	return ((uint64_t)hi << 32) | lo;
}

/** Start the HPET main counter; false when there is no usable HPET. */
static bool hpet_start(void)
{
	uint32_t cap_lo = mmio_read32(HPET_BASE + HPET_CAP_LO);
	uint32_t period = mmio_read32(HPET_BASE + HPET_CAP_HI);

	/* HPET 1.0a §2.3.4: period must be nonzero and at most 100 ns. */
	if (cap_lo == 0xffffffffu || cap_lo == 0 || period == 0 ||
	    period > 100000000u)
		return false;
	period_fs = period;
	mmio_write32(HPET_BASE + HPET_CONFIG,
		     mmio_read32(HPET_BASE + HPET_CONFIG) | HPET_CONFIG_ENABLE);
	/* The counter must move. */
	uint64_t t0 = hpet_counter();

	for (unsigned i = 0; i < 1000000; i++)
		if (hpet_counter() != t0)
			return true;
	return false;
}

/** Calibrate the TSC on PIT channel 2 (gate via port 0x61), one-shot 50 ms. */
static void tsc_calibrate(void)
{
	const uint64_t ticks = PIT_HZ / 20; /* 50 ms */
	uint8_t p61 = inb(0x61);
	uint64_t t0, t1;

	outb(0x61, (uint8_t)((p61 & ~0x02) | 0x01)); /* gate on, speaker off */
	outb(0x43, 0xb0);			     /* ch2, lo/hi, mode 0 */
	outb(0x42, (uint8_t)ticks);
	outb(0x42, (uint8_t)(ticks >> 8));
	/* Restart the count by toggling the gate. */
	outb(0x61, (uint8_t)(inb(0x61) & ~0x01));
	outb(0x61, (uint8_t)(inb(0x61) | 0x01));
	t0 = rdtsc();
	for (uint64_t i = 0; i < 1000000000ull; i++)
		if (inb(0x61) & 0x20) /* OUT2 high: count reached 0 */
			break;
	t1 = rdtsc();
	outb(0x61, p61);
	tsc_khz = (t1 - t0) / 50;
	if (tsc_khz == 0)
		tsc_khz = 1000000; /* unusable PIT: assume 1 GHz */
}

void clock_init(const char *prefer)
{
	bool force_tsc = prefer && !bu_strcmp(prefer, "tsc");

	if (!force_tsc && hpet_start()) {
		source = CLOCK_HPET;
		last_ticks = hpet_counter();
	} else {
		tsc_calibrate();
		source = CLOCK_TSC;
		last_ticks = rdtsc();
	}
	acc_us = 0;
	acc_rem = 0;
}

uint64_t clock_now_us(void)
{
	uint64_t now, delta;

	switch (source) {
	case CLOCK_HPET:
		now = hpet_counter();
		delta = now - last_ticks;
		last_ticks = now;
		/* Accumulate in pieces so delta * period cannot overflow. */
		while (delta) {
			uint64_t d =
			    delta > (1ull << 30) ? (1ull << 30) : delta;
			uint64_t fs = d * period_fs + acc_rem;

			acc_us += fs / FS_PER_US;
			acc_rem = fs % FS_PER_US;
			delta -= d;
		}
		return acc_us;
	case CLOCK_TSC:
		now = rdtsc();
		delta = now - last_ticks;
		last_ticks = now;
		while (delta) {
			uint64_t d =
			    delta > (1ull << 40) ? (1ull << 40) : delta;
			uint64_t t =
			    d * 1000 + acc_rem; /* ticks per us = khz/1000 */

			acc_us += t / tsc_khz;
			acc_rem = t % tsc_khz;
			delta -= d;
		}
		return acc_us;
	default:
		return 0;
	}
}

void clock_delay_us(uint64_t us)
{
	uint64_t end = clock_now_us() + us;

	while (clock_now_us() < end)
		cpu_relax();
}

const char *clock_source(void)
{
	return source == CLOCK_HPET  ? "hpet"
	       : source == CLOCK_TSC ? "tsc"
				     : "none";
}

uint64_t clock_khz(void)
{
	if (source == CLOCK_HPET)
		return 1000000000000ull / period_fs; /* fs per ms / period */
	return tsc_khz;
}
