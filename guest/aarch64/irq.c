/*
 * Interrupts on QEMU's virt machine: the GICv2 (ARM Generic Interrupt
 * Controller Architecture Specification v2.0: distributor §4.3, CPU
 * interface §4.4) and its GICv2m MSI frame, whose MSI_SETSPI_NS register
 * turns a PCI function's MSI write into an edge-triggered SPI (the frame's
 * MSI_TYPER says which SPIs it owns). All from the device tree:
 * "arm,cortex-a15-gic" and its "arm,gic-v2m-frame" child. A GICv3 machine
 * (gic-version=3) is not handled: attach reports false and the image polls.
 *
 * The CPU takes IRQs at EL1 (boot.S vectors, cpu.c guest_exception ->
 * guest_irq_dispatch); the virtual timer's PPI bounds
 * guest_wait_for_interrupt's WFI.
 */
#include "guest.h"

#define GICD_CTLR	0x000
#define GICD_ISENABLER	0x100
#define GICD_IPRIORITYR 0x400
#define GICD_ITARGETSR	0x800
#define GICD_ICFGR	0xc00
#define GICC_CTLR	0x000
#define GICC_PMR	0x004
#define GICC_IAR	0x00c
#define GICC_EOIR	0x010
#define GIC_SPURIOUS	1023

#define V2M_MSI_TYPER	   0x008
#define V2M_MSI_SETSPI_NS  0x040
#define V2M_TYPER_BASE(v)  (((v) >> 16) & 0x3ff)
#define V2M_TYPER_COUNT(v) ((v)&0x3ff)

#define TIMER_PPI    27 /* the EL1 virtual timer (virt's device tree) */
#define CNTV_ENABLE  1u
#define CNTV_IMASK   2u
#define MAX_HANDLERS 8

struct handler {
	unsigned intid;
	void (*fn)(void *ctx);
	void *ctx;
};

static uintptr_t gicd, gicc, v2m;
static unsigned spi_next, spi_end;
static struct handler handlers[MAX_HANDLERS];
static unsigned n_handlers;
static bool gic_tried, gic_up;
static volatile unsigned irq_count; /* interrupts taken so far */

/** Enable `intid` at priority 0xa0 for CPU 0, edge or level. */
static void gic_enable(unsigned intid, bool edge)
{
	uintptr_t cfg = gicd + GICD_ICFGR + 4 * (intid / 16);
	unsigned sh = 2 * (intid % 16) + 1;
	uint32_t v;

	/* Byte registers, written as whole words (§4.3.11, §4.3.12). */
	v = mmio_read32(gicd + GICD_IPRIORITYR + (intid & ~3u));
	v = (v & ~(0xffu << 8 * (intid & 3))) | 0xa0u << 8 * (intid & 3);
	mmio_write32(gicd + GICD_IPRIORITYR + (intid & ~3u), v);
	if (intid >= 32) { /* SPIs: target CPU 0, trigger mode */
		v = mmio_read32(gicd + GICD_ITARGETSR + (intid & ~3u));
		v = (v & ~(0xffu << 8 * (intid & 3))) | 1u << 8 * (intid & 3);
		mmio_write32(gicd + GICD_ITARGETSR + (intid & ~3u), v);
		v = mmio_read32(cfg);
		v = edge ? v | 1u << sh : v & ~(1u << sh);
		mmio_write32(cfg, v);
	}
	mmio_write32(gicd + GICD_ISENABLER + 4 * (intid / 32),
		     1u << (intid % 32));
}

/** Find the GIC and its MSI frame, start both interfaces; once. */
static bool gic_init(void)
{
	unsigned ac, sc, len;
	const uint8_t *reg;
	int node, frame;

	if (gic_tried)
		return gic_up;
	gic_tried = true;
	node = fdt_find_compatible(-1, "arm,cortex-a15-gic");
	if (node < 0)
		node = fdt_find_compatible(-1, "arm,gic-400");
	frame = fdt_find_compatible(node, "arm,gic-v2m-frame");
	fdt_root_cells(&ac, &sc); /* virt: the GIC node's cells are the same */
	reg = fdt_prop(node, "reg", &len);
	if (!reg || ac > 2 || sc > 2 || len < 8 * (ac + sc))
		return false;
	gicd = (uintptr_t)fdt_read_cells(reg, ac);
	gicc = (uintptr_t)fdt_read_cells(reg + 4 * (ac + sc), ac);
	reg = fdt_prop(frame, "reg", &len);
	if (reg && len >= 4 * (ac + sc))
		v2m = (uintptr_t)fdt_read_cells(reg, ac);
	if (!paging_map_mmio(gicd, 0x1000) || !paging_map_mmio(gicc, 0x2000) ||
	    (v2m && !paging_map_mmio(v2m, 0x1000)))
		return false;
	if (v2m) {
		uint32_t t = mmio_read32(v2m + V2M_MSI_TYPER);

		spi_next = V2M_TYPER_BASE(t);
		spi_end = spi_next + V2M_TYPER_COUNT(t);
	}
	mmio_write32(gicd + GICD_CTLR, 1);
	mmio_write32(gicc + GICC_PMR, 0xf0);
	mmio_write32(gicc + GICC_CTLR, 1);
	gic_enable(TIMER_PPI, false);
	kprintf("# gic: GICv2 distributor 0x%llx, CPU interface 0x%llx, "
		"v2m 0x%llx (SPIs %u-%u)\n",
		(unsigned long long)gicd, (unsigned long long)gicc,
		(unsigned long long)v2m, spi_next, spi_end ? spi_end - 1 : 0);
	gic_up = true;
	return true;
}

void guest_irq_dispatch(void)
{
	for (;;) {
		uint32_t iar = mmio_read32(gicc + GICC_IAR);
		unsigned intid = iar & 0x3ff;

		if (intid == GIC_SPURIOUS)
			return;
		irq_count++;
		if (intid == TIMER_PPI)
			sysreg_write(cntv_ctl_el0, CNTV_IMASK); /* one-shot */
		for (unsigned i = 0; i < n_handlers; i++)
			if (handlers[i].intid == intid)
				handlers[i].fn(handlers[i].ctx);
		mmio_write32(gicc + GICC_EOIR, iar);
	}
}

bool guest_irq_attach_msi(const struct pci_func *f, void (*fn)(void *ctx),
			  void *ctx)
{
	unsigned spi;

	if (!gic_init() || !v2m || spi_next >= spi_end ||
	    n_handlers == MAX_HANDLERS)
		return false;
	spi = spi_next;
	handlers[n_handlers].intid = spi;
	handlers[n_handlers].fn = fn;
	handlers[n_handlers].ctx = ctx;
	n_handlers++;
	gic_enable(spi, true);
	if (!pci_msi_enable(f, v2m + V2M_MSI_SETSPI_NS, (uint16_t)spi)) {
		n_handlers--;
		return false;
	}
	spi_next++;
	__asm__ volatile("msr daifclr, #2" ::: "memory");
	return true;
}

void guest_wait_for_interrupt(uint64_t deadline_us)
{
	uint64_t now = clock_now_us(), ticks;
	unsigned seen = irq_count;

	if (!gic_up || now >= deadline_us)
		return;
	ticks = (deadline_us - now) * (clock_khz() ? clock_khz() : 1) / 1000;
	sysreg_write(cntv_cval_el0, cpu_counter() + ticks + 1);
	sysreg_write(cntv_ctl_el0, CNTV_ENABLE);
	/* Masked between the check and WFI, so an interrupt in between still
	 * ends the WFI (a pending IRQ wakes it even masked); taken on unmask.
	 */
	__asm__ volatile("msr daifset, #2" ::: "memory");
	if (irq_count == seen)
		__asm__ volatile("dsb sy\n\twfi" ::: "memory");
	__asm__ volatile("msr daifclr, #2" ::: "memory");
	sysreg_write(cntv_ctl_el0, CNTV_IMASK);
}
