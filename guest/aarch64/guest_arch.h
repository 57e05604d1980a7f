/*
 * aarch64 helpers of the test image, included by guest.h: system registers,
 * MMIO accessors, and the interfaces between the files of guest/aarch64/.
 *
 * The image runs at EL1 with the MMU on: an identity map with RAM as
 * Normal write-back memory and everything else as Device-nGnRE (cpu.c).
 * With the MMU off every data access would be Device-nGnRnE, where an
 * unaligned access faults (Arm ARM, "Alignment support") and nothing is
 * cached; the
 * library and the tests are ordinary C that may copy byte-packed
 * structures, so the image turns the MMU on before any C code but
 * mmu_init() runs.
 */
#ifndef GUEST_ARCH_H
#define GUEST_ARCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/** The architecture's name as the image prints it. */
#define GUEST_ARCH "aarch64"
/** What cpu_counter() counts (selftest output). */
#define GUEST_CPU_COUNTER "CNTVCT"

#define sysreg_read(name)                                                      \
	({                                                                     \
		uint64_t v_;                                                   \
		__asm__ volatile("mrs %0, " #name : "=r"(v_));                 \
		v_;                                                            \
	})
#define sysreg_write(name, v)                                                  \
	__asm__ volatile("msr " #name ", %0" ::"r"((uint64_t)(v)) : "memory")

static inline void isb(void)
{
	__asm__ volatile("isb" ::: "memory");
}

/** The virtual count (Arm ARM, the Generic Timer): ISB first so it is not
 * read early. */
static inline uint64_t cpu_counter(void)
{
	isb();
	return sysreg_read(cntvct_el0);
}

static inline void cpu_relax(void)
{
	__asm__ volatile("yield" ::: "memory");
}

/* Single LDR/STR with a plain base register: no writeback or pair, so a
 * hypervisor can emulate the access from the syndrome (Arm ARM, ESR_ELx
 * ISS encoding for a Data Abort: ISV). */
static inline uint32_t mmio_read32(uintptr_t addr)
{
	uint32_t v;

	__asm__ volatile("ldr %w0, [%1]" : "=r"(v) : "r"(addr) : "memory");
	return v;
}

static inline void mmio_write32(uintptr_t addr, uint32_t v)
{
	__asm__ volatile("str %w0, [%1]" : : "rZ"(v), "r"(addr) : "memory");
}

/* ---- boot.S ------------------------------------------------------------ */

/** Semihosting call (HLT #0xF000): operation `op`, parameter block `arg`. */
uint64_t semihosting_call(uint64_t op, const void *arg);
/** PSCI call through HVC or SMC (SMC Calling Convention, function id). */
uint64_t psci_hvc(uint64_t fn);
uint64_t psci_smc(uint64_t fn);
/** The HLT / HVC / SMC instructions of the three calls above. */
extern const char semihosting_insn[], psci_hvc_insn[], psci_smc_insn[];

/* ---- cpu.c: MMU and exceptions ----------------------------------------- */

/**
 * Build the identity map (the first GiB as device memory, the second as
 * RAM: the image, its stack and the device tree QEMU put below it) and turn
 * on the MMU and caches. Called by boot.S with the MMU off.
 */
void mmu_init(void);
/** Map [base, base + size) as RAM (Normal write-back), 1 GiB blocks. */
bool paging_map_ram(uint64_t base, uint64_t size);
/** True once an exception showed that semihosting is off (HLT undefined). */
extern bool semihosting_off;

/* ---- irq.c ------------------------------------------------------------- */

/** Take the pending interrupts from the GIC and run their handlers. */
void guest_irq_dispatch(void);

/* ---- fdt.c: the device tree QEMU hands over ---------------------------- */

/** Take the flattened device tree at `blob`; false when it is not one. */
bool fdt_init(const void *blob);
/** Offset of the first node after `from` (-1: any) with `compat`, or -1. */
int fdt_find_compatible(int from, const char *compat);
/** Offset of the root's child `name` (its unit address ignored), or -1. */
int fdt_find_child(const char *name);
/** Property `name` of the node at `node`, its length in *len; or NULL. */
const void *fdt_prop(int node, const char *name, unsigned *len);
/** `cells` (1 or 2) big-endian cells at p, as one number. */
uint64_t fdt_read_cells(const void *p, unsigned cells);
/** The root's #address-cells and #size-cells (2 and 1 when absent). */
void fdt_root_cells(unsigned *addr_cells, unsigned *size_cells);

/* ---- uart.c, start.c --------------------------------------------------- */

/** Use the PL011 at `base` (from the device tree) from now on. */
void console_set_base(uintptr_t base);
/** Use SMC rather than HVC for PSCI (the device tree's /psci method). */
extern bool psci_use_smc;
/** C entry from boot.S with x0 as QEMU left it. */
__attribute__((noreturn)) void guest_start(uint64_t x0);

#endif
