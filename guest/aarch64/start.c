/*
 * The C side of the aarch64 start-up: boot.S arrives here at EL1 with the
 * MMU on and the first GiB of RAM mapped. The device tree says the rest:
 * RAM, the UART, the PSCI conduit and the command line (/chosen/bootargs,
 * from QEMU's -append); pci_ecam.c reads the PCIe host bridge from it.
 *
 * QEMU passes no device tree pointer to an ELF that is not a Linux image
 * (x0 is 0); it copies the tree to the start of RAM instead (hw/arm/boot.c,
 * for images that leave room below them: link.ld does). x0 is used when it
 * points at a tree, for a boot loader that passes one the Linux way.
 */
#include "guest.h"

#define VIRT_RAM_BASE 0x40000000ull /* hw/arm/virt.c VIRT_MEM */
#define GIB	      (1ull << 30)

/** The device tree: at x0 when x0 is in the mapped GiB, else at RAM's start. */
static bool find_fdt(uint64_t x0)
{
	if (x0 >= VIRT_RAM_BASE && x0 < VIRT_RAM_BASE + GIB - 64 &&
	    fdt_init((const void *)(uintptr_t)x0))
		return true;
	return fdt_init((const void *)(uintptr_t)VIRT_RAM_BASE);
}

/** The `reg` of node `node` (first entry): base and size; false if none. */
static bool node_reg(int node, uint64_t *base, uint64_t *size)
{
	unsigned ac, sc, len;
	const uint8_t *reg = fdt_prop(node, "reg", &len);

	fdt_root_cells(&ac, &sc);
	if (!reg || ac > 2 || sc > 2 || len < 4 * (ac + sc))
		return false;
	*base = fdt_read_cells(reg, ac);
	*size = fdt_read_cells(reg + 4 * ac, sc);
	return true;
}

void guest_start(uint64_t x0)
{
	struct guest_boot boot = {NULL, 0, NULL, NULL, 0}; /* no INF module on aarch64 */
	uint64_t base, size;
	unsigned len;
	int node;

	if (!find_fdt(x0)) {
		console_init();
		boot.error = "no device tree at x0 or the start of RAM";
		guest_main(&boot);
	}
	node = fdt_find_compatible(-1, "arm,pl011");
	if (node >= 0 && node_reg(node, &base, &size) &&
	    paging_map_mmio(base, size))
		console_set_base((uintptr_t)base);
	console_init();

	node = fdt_find_child("memory");
	if (node >= 0 && node_reg(node, &base, &size)) {
		if (paging_map_ram(base, size))
			boot.ram_top = base + size;
		else
			kprintf("# RAM 0x%llx+0x%llx not mapped\n",
				(unsigned long long)base,
				(unsigned long long)size);
	}
	node = fdt_find_child("psci");
	const char *method = fdt_prop(node, "method", &len);

	psci_use_smc = method && len >= 4 && method[0] == 's' &&
		       method[1] == 'm' && method[2] == 'c' && !method[3];
	node = fdt_find_child("chosen");
	boot.cmdline = fdt_prop(node, "bootargs", &len);
	if (boot.cmdline && (!len || boot.cmdline[len - 1]))
		boot.cmdline = NULL; /* not a string */
	guest_main(&boot);
}
