/*
 * aarch64 CPU set-up: the identity map and MMU (4 KiB granule, 48-bit
 * virtual addresses, 1 GiB blocks at level 1), and the exception handler
 * that turns every unexpected exception into a register dump and a failed
 * test (instead of a silent hang).
 *
 * Memory types (MAIR_EL1): index 0 Device-nGnRE for MMIO, index 1 Normal
 * write-back for RAM. QEMU's virt PCIe is DMA-coherent (the device tree
 * says dma-coherent), so DMA memory needs no cache maintenance.
 */
#include "guest.h"

#include "bareusb/util.h"

/* ------------------------------------------------------------------------ */
/* Translation tables (Arm ARM, "VMSAv8-64 translation table format")      */

#define PTE_VALID     (1ull << 0)
#define PTE_TABLE     (3ull << 0) /* level 0-2: next-level table */
#define PTE_BLOCK     (1ull << 0) /* level 1-2: block */
#define PTE_ATTR(i)   ((uint64_t)(i) << 2)
#define PTE_SH_INNER  (3ull << 8)
#define PTE_AF	      (1ull << 10)
#define PTE_PXN	      (1ull << 53)
#define PTE_UXN	      (1ull << 54)
#define PTE_ADDR_MASK 0x0000fffffffff000ull

#define ATTR_DEVICE 0 /* MAIR index: Device-nGnRE */
#define ATTR_NORMAL 1 /* MAIR index: Normal, inner/outer write-back */
#define MAIR_VALUE  (0x04ull | 0xffull << 8)

#define TCR_T0SZ(n)    ((uint64_t)(n))
#define TCR_IRGN0_WBWA (1ull << 8)
#define TCR_ORGN0_WBWA (1ull << 10)
#define TCR_SH0_INNER  (3ull << 12)
#define TCR_TG0_4K     (0ull << 14)
#define TCR_EPD1       (1ull << 23) /* no walks through TTBR1 */
#define TCR_IPS(n)     ((uint64_t)(n) << 32)

#define SCTLR_M (1ull << 0)
#define SCTLR_A (1ull << 1)
#define SCTLR_C (1ull << 2)
#define SCTLR_I (1ull << 12)

#define GIB	  (1ull << 30)
#define L1_TABLES 4 /* each covers 512 GiB */

static uint64_t l0[512] __attribute__((aligned(4096)));
static uint64_t l1[L1_TABLES][512] __attribute__((aligned(4096)));
static unsigned l1_used;
static unsigned pa_bits;
static bool mmu_on;

/** Clean (and invalidate) the cache lines over [p, p + n). */
static void dcache_clean(const void *p, size_t n)
{
	uint64_t line = 4u << ((sysreg_read(ctr_el0) >> 16) & 0xf);
	uintptr_t a = (uintptr_t)p & ~(uintptr_t)(line - 1);

	for (; a < (uintptr_t)p + n; a += line)
		__asm__ volatile("dc civac, %0" : : "r"(a) : "memory");
	__asm__ volatile("dsb ish" ::: "memory");
}

/** Make new table entries visible to the table walker and the TLBs. */
static void tables_changed(void)
{
	dcache_clean(l0, sizeof(l0));
	dcache_clean(l1, sizeof(l1[0]) * l1_used);
	if (mmu_on)
		__asm__ volatile("tlbi vmalle1\n\tdsb ish\n\tisb" ::: "memory");
}

/** The level 1 table for `addr`, created when absent; NULL when none left. */
static uint64_t *l1_table(uint64_t addr)
{
	uint64_t *e = &l0[(addr >> 39) & 511];

	if (*e & PTE_VALID)
		return (uint64_t *)(uintptr_t)(*e & PTE_ADDR_MASK);
	if (l1_used == L1_TABLES)
		return NULL;
	uint64_t *t = l1[l1_used++];

	*e = (uint64_t)(uintptr_t)t | PTE_TABLE;
	return t;
}

/**
 * Map the GiB at `gib` as RAM or device memory. A GiB already mapped the
 * other way stays as it is (false): RAM is never turned into device memory.
 */
static bool map_gib(uint64_t gib, bool ram)
{
	uint64_t addr = gib * GIB;
	uint64_t want = addr | PTE_BLOCK | PTE_AF |
			(ram ? PTE_ATTR(ATTR_NORMAL) | PTE_SH_INNER | PTE_UXN
			     : PTE_ATTR(ATTR_DEVICE) | PTE_PXN | PTE_UXN);
	uint64_t *t;

	if (pa_bits < 64 && addr >= (1ull << pa_bits))
		return false;
	t = l1_table(addr);
	if (!t)
		return false;
	if (t[gib & 511] & PTE_VALID)
		return t[gib & 511] == want;
	t[gib & 511] = want;
	return true;
}

/** Map every GiB [base, base + size) touches; false if any could not be. */
static bool map_range(uint64_t base, uint64_t size, bool ram)
{
	bool ok = true;

	if (size == 0 || base + size < base || base + size > (1ull << 48))
		return false;
	for (uint64_t g = base / GIB; g <= (base + size - 1) / GIB; g++)
		ok = map_gib(g, ram) && ok;
	tables_changed();
	return ok;
}

bool paging_map_mmio(uint64_t phys, uint64_t size)
{
	return map_range(phys, size, false);
}

bool paging_map_ram(uint64_t base, uint64_t size)
{
	return map_range(base, size, true);
}

void mmu_init(void)
{
	static const unsigned pa_range_bits[] = {32, 36, 40, 42, 44, 48};
	unsigned pa_range = sysreg_read(id_aa64mmfr0_el1) & 0xf;
	uint64_t sctlr;

	if (pa_range > 5)
		pa_range = 5;
	pa_bits = pa_range_bits[pa_range];
	/* hw/arm/virt.c: flash, GIC, UART, RTC, ..., the PCIe MMIO window
	 * and ECAM below 1 GiB; RAM from 1 GiB (the image is in its first
	 * GiB; start.c maps the rest once the device tree says how much). */
	map_gib(0, false);
	map_gib(1, true);
	tables_changed();

	sysreg_write(mair_el1, MAIR_VALUE);
	sysreg_write(tcr_el1, TCR_T0SZ(16) | TCR_IRGN0_WBWA | TCR_ORGN0_WBWA |
				  TCR_SH0_INNER | TCR_TG0_4K | TCR_EPD1 |
				  TCR_IPS(pa_range));
	sysreg_write(ttbr0_el1, (uint64_t)(uintptr_t)l0);
	isb();
	__asm__ volatile("tlbi vmalle1\n\tdsb ish\n\tisb" ::: "memory");
	sctlr = sysreg_read(sctlr_el1);
	sctlr |= SCTLR_M | SCTLR_C | SCTLR_I;
	sctlr &= ~SCTLR_A; /* unaligned accesses to RAM are fine */
	sysreg_write(sctlr_el1, sctlr);
	isb();
	mmu_on = true;
}

/* ------------------------------------------------------------------------ */
/* Exceptions                                                               */

/** Register frame built by exception_common in boot.S. */
struct exc_frame {
	uint64_t x[31];
	uint64_t elr, spsr, esr, far, sp;
};
_Static_assert(sizeof(struct exc_frame) == 36 * 8, "boot.S FRAME_SIZE");

#define ESR_EC(esr)    ((unsigned)((esr) >> 26) & 0x3f)
#define EC_UNKNOWN     0x00
#define EC_DABT_CUR_EL 0x25

bool semihosting_off;

void guest_exception(struct exc_frame *f, uint64_t entry);

/** A short frame-pointer backtrace (the image keeps frame pointers). */
static void backtrace(uint64_t fp)
{
	extern char __image_start[], __image_end[];

	for (int i = 0;
	     i < 12 && fp && (fp & 15) == 0 && fp >= (uintptr_t)__image_start &&
	     fp < (uintptr_t)__image_end;
	     i++) {
		const uint64_t *frame = (const uint64_t *)(uintptr_t)fp;

		kprintf("# frame %d: %016llx\n", i,
			(unsigned long long)frame[1]);
		fp = frame[0];
	}
}

/** Called from exception_common; returns only to resume where it was. */
void guest_exception(struct exc_frame *f, uint64_t entry)
{
	static const char *const kinds[] = {"synchronous", "IRQ", "FIQ",
					    "SError"};
	static const char *const from[] = {"EL1 with SP_EL0", "EL1",
					   "lower EL (AArch64)",
					   "lower EL (AArch32)"};
	unsigned ec = ESR_EC(f->esr);

	if (entry == 5) { /* IRQ while at EL1 */
		guest_irq_dispatch();
		return;
	}
	/* The HLT of a semihosting call is undefined without semihosting;
	 * an HVC or SMC without PSCI behind it likewise: go on after it. */
	if (entry == 4 && ec == EC_UNKNOWN) {
		if (f->elr == (uintptr_t)semihosting_insn)
			semihosting_off = true;
		if (f->elr == (uintptr_t)semihosting_insn ||
		    f->elr == (uintptr_t)psci_hvc_insn ||
		    f->elr == (uintptr_t)psci_smc_insn) {
			f->x[0] = ~0ull;
			f->elr += 4;
			return;
		}
	}
	kprintf("\n# CPU exception: %s from %s, ESR_EL1=0x%llx (EC 0x%02x)\n",
		kinds[entry & 3], from[(entry >> 2) & 3],
		(unsigned long long)f->esr, ec);
	kprintf("# ELR=%016llx FAR=%016llx SPSR=%08llx\n",
		(unsigned long long)f->elr, (unsigned long long)f->far,
		(unsigned long long)f->spsr);
	kprintf("# SP=%016llx LR=%016llx\n", (unsigned long long)f->sp,
		(unsigned long long)f->x[30]);
	for (unsigned i = 0; i < 30; i += 3)
		kprintf("# x%-2u=%016llx x%-2u=%016llx x%-2u=%016llx\n", i,
			(unsigned long long)f->x[i], i + 1,
			(unsigned long long)f->x[i + 1], i + 2,
			(unsigned long long)f->x[i + 2]);
	backtrace(f->x[29]);
	guest_panic("CPU exception (EC 0x%02x%s) at 0x%llx", ec,
		    ec == EC_DABT_CUR_EL ? ", data abort" : "",
		    (unsigned long long)f->elr);
}
