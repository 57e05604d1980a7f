/*
 * Monotonic microsecond clock on the Arm generic timer's virtual count
 * (CNTVCT_EL0), whose frequency CNTFRQ_EL0 gives (QEMU 7.2: 62.5 MHz). No
 * calibration and no MMIO.
 */
#include "guest.h"

static uint64_t freq_hz; /* CNTFRQ_EL0 */
static uint64_t start;	 /* count at clock_init */

void clock_init(const char *prefer)
{
	(void)prefer; /* one source */
	freq_hz = sysreg_read(cntfrq_el0) & 0xffffffffu;
	if (!freq_hz)
		freq_hz = 62500000; /* firmware left CNTFRQ unset */
	start = cpu_counter();
}

uint64_t clock_now_us(void)
{
	uint64_t d = cpu_counter() - start;

	/* Split so d * 10^6 cannot overflow. */
	return d / freq_hz * 1000000 + d % freq_hz * 1000000 / freq_hz;
}

void clock_delay_us(uint64_t us)
{
	uint64_t end = clock_now_us() + us;

	while (clock_now_us() < end)
		cpu_relax();
}

const char *clock_source(void)
{
	return "cntvct";
}

uint64_t clock_khz(void)
{
	return freq_hz / 1000;
}
