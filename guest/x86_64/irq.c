/*
 * Interrupts on x86_64: the local APIC, its one-shot timer, message
 * signalled interrupts aimed at it, and a wait that halts the CPU until
 * an interrupt or a deadline: guest.h's "Interrupts (arch)" calls.
 *
 * The CPU keeps interrupts disabled everywhere except across the `sti;
 * hlt` pair in guest_wait_for_interrupt: an interrupt that arrives while
 * the image runs stays pending in the local APIC and is delivered at the
 * next `sti`, whose one-instruction shadow lets `hlt` start first, so no
 * wake-up is lost and no handler ever interrupts the USB stack.
 *
 * References: Intel SDM vol 3 §10.4 (local APIC base, the spurious-
 * interrupt vector register), §10.5.4 (APIC timer), §10.8.5 (EOI), §10.11
 * (message signalled interrupts: address and data format).
 */
#include "guest.h"

#include "bareusb/util.h"

/* Local APIC registers (offsets from its base). */
#define LAPIC_ID	0x020
#define LAPIC_TPR	0x080
#define LAPIC_EOI	0x0b0
#define LAPIC_SVR	0x0f0
#define LAPIC_LVT_TIMER 0x320
#define LAPIC_TIMER_ICR 0x380
#define LAPIC_TIMER_CCR 0x390
#define LAPIC_TIMER_DCR 0x3e0

#define LAPIC_SVR_ENABLE  0x100u
#define LAPIC_LVT_MASKED  0x10000u
#define LAPIC_DCR_DIV16   0x3u
#define MSR_APIC_BASE	  0x1bu
#define APIC_BASE_ENABLE  0x800u
#define APIC_BASE_ADDR(v) ((v) & 0xffffff000ull)

/* Vectors (boot.S has a stub for each). */
#define VEC_DEVICE0  0x40 /* 0x40..0x47: device interrupts */
#define NUM_DEVICES  8
#define VEC_TIMER    0x48
#define VEC_SPURIOUS 0xff

/* The 8259 PICs: masked for good (the firmware leaves IRQ0 on vector 8). */
#define PIC1_DATA 0x21
#define PIC2_DATA 0xa1

/* The longest one-shot sleep: a wait past it just wakes and is asked again. */
#define MAX_SLEEP_US 1000000u

extern const uint64_t irq_table[10];
void guest_irq_dispatch(uint64_t vector);

struct irq_source {
	void (*handler)(void *ctx);
	void *ctx;
};

static struct {
	bool ready;
	uintptr_t base;		/* local APIC registers */
	uint32_t apic_id;
	uint32_t ticks_per_ms;	/* timer ticks (divide by 16) per millisecond */
	struct irq_source src[NUM_DEVICES];
	unsigned nsrc;
	volatile bool woken;	/* an interrupt arrived since the last wait returned */
	volatile uint64_t device_irqs, timer_irqs, spurious;
} irq;

static inline uint32_t lapic_rd(unsigned off)
{
	return mmio_read32(irq.base + off);
}

static inline void lapic_wr(unsigned off, uint32_t v)
{
	mmio_write32(irq.base + off, v);
}

static inline uint64_t rdmsr(uint32_t msr)
{
	uint32_t lo, hi;

	__asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
	return ((uint64_t)hi << 32) | lo;
}

/** Called from irq_common (boot.S) with the vector; interrupts are off. */
void guest_irq_dispatch(uint64_t vector)
{
	if (vector == VEC_SPURIOUS) {
		irq.spurious++; /* no EOI for the spurious vector (SDM §10.9) */
		return;
	}
	if (vector == VEC_TIMER) {
		irq.timer_irqs++;
	} else if (vector >= VEC_DEVICE0 && vector < VEC_DEVICE0 + NUM_DEVICES) {
		struct irq_source *s = &irq.src[vector - VEC_DEVICE0];

		irq.device_irqs++;
		if (s->handler)
			s->handler(s->ctx);
	}
	irq.woken = true;
	lapic_wr(LAPIC_EOI, 0);
}

/** Count timer ticks over 10 ms of the guest clock. */
static uint32_t timer_calibrate(void)
{
	uint32_t left;

	lapic_wr(LAPIC_TIMER_DCR, LAPIC_DCR_DIV16);
	lapic_wr(LAPIC_LVT_TIMER, LAPIC_LVT_MASKED | VEC_TIMER);
	lapic_wr(LAPIC_TIMER_ICR, 0xffffffffu);
	clock_delay_us(10000);
	left = lapic_rd(LAPIC_TIMER_CCR);
	lapic_wr(LAPIC_TIMER_ICR, 0);
	return (0xffffffffu - left) / 10;
}

/** The local APIC, the PICs masked, the IDT gates, the timer calibrated. */
static bool irq_init(void)
{
	uint64_t base = rdmsr(MSR_APIC_BASE);

	if (irq.ready)
		return true;
	if (!(base & APIC_BASE_ENABLE))
		return false;
	irq.base = (uintptr_t)APIC_BASE_ADDR(base);
	if (!paging_map_mmio(irq.base, 4096))
		return false;
	outb(PIC1_DATA, 0xff);
	outb(PIC2_DATA, 0xff);
	for (unsigned i = 0; i < BU_ARRAY_SIZE(irq_table); i++)
		idt_set_gate(i < NUM_DEVICES + 1 ? VEC_DEVICE0 + i : VEC_SPURIOUS, irq_table[i]);
	lapic_wr(LAPIC_SVR, LAPIC_SVR_ENABLE | VEC_SPURIOUS);
	lapic_wr(LAPIC_TPR, 0);
	irq.apic_id = lapic_rd(LAPIC_ID) >> 24;
	irq.ticks_per_ms = timer_calibrate();
	if (!irq.ticks_per_ms)
		return false;
	irq.ready = true;
	return true;
}

bool guest_irq_attach_msi(const struct pci_func *f, void (*fn)(void *ctx), void *ctx)
{
	unsigned n;

	if (!irq_init() || irq.nsrc >= NUM_DEVICES)
		return false;
	n = irq.nsrc;
	/* SDM §10.11.1: 0xFEE in bits 31:20, the destination APIC ID in
	 * 19:12, physical destination; §10.11.2: the vector in bits 7:0,
	 * fixed delivery, edge triggered. */
	if (!pci_msi_enable(f, 0xfee00000ull | ((uint64_t)(irq.apic_id & 0xff) << 12),
			    (uint16_t)(VEC_DEVICE0 + n)))
		return false;
	irq.src[n].handler = fn;
	irq.src[n].ctx = ctx;
	irq.nsrc++;
	return true;
}

void guest_wait_for_interrupt(uint64_t deadline_us)
{
	uint64_t now, us;

	if (!irq.ready)
		return;
	if (irq.woken) {
		irq.woken = false;
		return;
	}
	now = clock_now_us();
	if (deadline_us <= now)
		return;
	us = BU_MIN(deadline_us - now, (uint64_t)MAX_SLEEP_US);
	lapic_wr(LAPIC_LVT_TIMER, VEC_TIMER); /* one-shot, unmasked */
	lapic_wr(LAPIC_TIMER_ICR, (uint32_t)BU_MAX(us * irq.ticks_per_ms / 1000, 1ull));
	__asm__ volatile("sti; hlt; cli" ::: "memory");
	lapic_wr(LAPIC_TIMER_ICR, 0);
	irq.woken = false;
}
