/*
 * PCIe configuration through ECAM (PCI Express Base Specification,
 * "Enhanced Configuration Access Mechanism": bus << 20 | device << 15 |
 * function << 12 | register), and BAR assignment.
 *
 * The host bridge is the device tree's "pci-host-ecam-generic" node
 * (hw/arm/virt.c puts ECAM at 0x4010000000 with highmem, else 0x3f000000;
 * its `ranges` give the memory windows). A -kernel boot of an ELF on virt
 * runs no firmware, so nothing has assigned BARs: pci_arch_init gives every
 * memory BAR of the functions on the root bus an address in the 32-bit
 * window (a 64-bit BAR too, while it fits; else in the 64-bit window).
 * Bridges are left alone: devices behind a pcie-root-port are not found.
 * I/O BARs stay unassigned.
 */
#include "guest.h"

#include "bareusb/util.h"

#define PCI_COMMAND	   0x04
#define PCI_COMMAND_MEMORY 0x0002
#define PCI_HEADER_TYPE	   0x0c /* dword: header type in bits 23:16 */
#define PCI_BAR0	   0x10

#define PCI_BAR_IO	 0x1
#define PCI_BAR_TYPE_64	 0x4
#define PCI_BAR_MEM_MASK 0xfffffff0u

/* `ranges` space codes (IEEE 1275 PCI bus binding, phys.hi bits 25:24). */
#define SPACE_MEM32 2
#define SPACE_MEM64 3

/** A memory window of the host bridge: PCI address = CPU address. */
struct window {
	uint64_t base, size, next;
};

static uintptr_t ecam;
static unsigned bus_first, bus_last;
static struct window mem32, mem64;

static uintptr_t cfg(const struct pci_func *f, uint8_t off)
{
	return ecam + ((uintptr_t)(f->bus - bus_first) << 20 |
		       (uintptr_t)f->dev << 15 | (uintptr_t)f->fn << 12 |
		       (off & 0xfcu));
}

uint32_t pci_read32(const struct pci_func *f, uint8_t off)
{
	if (!ecam || f->bus < bus_first || f->bus > bus_last)
		return 0xffffffffu;
	return mmio_read32(cfg(f, off));
}

void pci_write32(const struct pci_func *f, uint8_t off, uint32_t v)
{
	if (ecam && f->bus >= bus_first && f->bus <= bus_last)
		mmio_write32(cfg(f, off), v);
}

/** Read the node's `ranges` into mem32/mem64 (identity windows only). */
static void read_ranges(int node)
{
	unsigned pa_cells, size_cells, len;
	const uint8_t *r = fdt_prop(node, "ranges", &len);
	const uint32_t *sc = fdt_prop(node, "#size-cells", NULL);
	unsigned entry;

	fdt_root_cells(&pa_cells, &size_cells);
	size_cells = sc ? (unsigned)fdt_read_cells(sc, 1) : 2;
	if (pa_cells > 2 || size_cells > 2)
		return;
	entry = 4 * (3 + pa_cells + size_cells);
	for (unsigned at = 0; r && at + entry <= len; at += entry) {
		uint32_t hi = (uint32_t)fdt_read_cells(r + at, 1);
		uint64_t pci = fdt_read_cells(r + at + 4, 2);
		uint64_t cpu = fdt_read_cells(r + at + 12, pa_cells);
		uint64_t size =
		    fdt_read_cells(r + at + 12 + 4 * pa_cells, size_cells);
		struct window *w = NULL;

		if (((hi >> 24) & 3) == SPACE_MEM32)
			w = &mem32;
		else if (((hi >> 24) & 3) == SPACE_MEM64)
			w = &mem64;
		if (!w || pci != cpu) {
			if (w)
				kprintf("# pci: window 0x%llx at CPU 0x%llx "
					"not used (not identity)\n",
					(unsigned long long)pci,
					(unsigned long long)cpu);
			continue;
		}
		w->base = w->next = pci;
		w->size = size;
	}
}

/** Place `size` bytes (a power of two) in `w`; 0 when it does not fit. */
static uint64_t window_alloc(struct window *w, uint64_t size)
{
	uint64_t a = (w->next + size - 1) & ~(size - 1);

	if (!w->size || a < w->next || a + size > w->base + w->size)
		return 0;
	w->next = a + size;
	return a;
}

/** Size and place every memory BAR of `f` (a type 0 header). */
static void assign_function(const struct pci_func *f)
{
	char name[16];

	pci_name(f, name);
	for (unsigned bar = 0; bar < 6; bar++) {
		uint8_t off = (uint8_t)(PCI_BAR0 + 4 * bar);
		uint32_t lo = pci_read32(f, off), mhi = 0xffffffffu, mlo;
		bool is64 = (lo & 0x6) == PCI_BAR_TYPE_64 && bar < 5;
		uint64_t size, at;

		if (lo & PCI_BAR_IO)
			continue;
		pci_write32(f, off, 0xffffffffu);
		mlo = pci_read32(f, off);
		if (is64) {
			pci_write32(f, (uint8_t)(off + 4), 0xffffffffu);
			mhi = pci_read32(f, (uint8_t)(off + 4));
		}
		size = ~((uint64_t)mhi << 32 | (mlo & PCI_BAR_MEM_MASK)) + 1;
		if (!is64)
			size &= 0xffffffffu;
		at = size ? window_alloc(&mem32, size) : 0; /* 0: none */
		if (!at && is64 && size)
			at = window_alloc(&mem64, size);
		pci_write32(f, off, (uint32_t)at | (lo & 0xf));
		if (is64)
			pci_write32(f, (uint8_t)(off + 4),
				    (uint32_t)(at >> 32));
		if (size && !at)
			kprintf("# pci %s: no room for BAR%u (0x%llx bytes)\n",
				name, bar, (unsigned long long)size);
		else if (at)
			glog(BU_LOG_DEBUG, "pci %s BAR%u: 0x%llx, 0x%llx bytes",
			     name, bar, (unsigned long long)at,
			     (unsigned long long)size);
		if (is64)
			bar++;
	}
}

/** Assign the BARs of every function on the root bus. */
static void assign_root_bus(void)
{
	for (unsigned dev = 0; dev < 32; dev++) {
		for (unsigned fn = 0; fn < 8; fn++) {
			struct pci_func f = {.bus = (uint8_t)bus_first,
					     .dev = (uint8_t)dev,
					     .fn = (uint8_t)fn};
			uint32_t id = pci_read32(&f, 0);
			uint32_t hdr;

			if ((id & 0xffff) == 0xffff) {
				if (fn == 0)
					break;
				continue;
			}
			hdr = pci_read32(&f, PCI_HEADER_TYPE) >> 16;
			/* Decoding off until pci_enable_mmio_dma. */
			pci_write16(&f, PCI_COMMAND,
				    (uint16_t)(pci_read16(&f, PCI_COMMAND) &
					       ~PCI_COMMAND_MEMORY));
			if ((hdr & 0x7f) == 0)
				assign_function(&f);
			if (fn == 0 && !(hdr & 0x80))
				break;
		}
	}
}

bool pci_arch_init(void)
{
	unsigned pa_cells, size_cells, len;
	int node = fdt_find_compatible(-1, "pci-host-ecam-generic");
	const uint8_t *reg = fdt_prop(node, "reg", &len);
	const uint8_t *range = fdt_prop(node, "bus-range", NULL);
	uint64_t base, size;

	fdt_root_cells(&pa_cells, &size_cells);
	if (!reg || pa_cells > 2 || size_cells > 2 ||
	    len < 4 * (pa_cells + size_cells))
		return false;
	base = fdt_read_cells(reg, pa_cells);
	size = fdt_read_cells(reg + 4 * pa_cells, size_cells);
	bus_first = range ? (unsigned)fdt_read_cells(range, 1) & 0xff : 0;
	bus_last = range ? (unsigned)fdt_read_cells(range + 4, 1) & 0xff : 255;
	if (size >> 20 == 0)
		return false;
	if (bus_last - bus_first + 1 > size >> 20)
		bus_last = bus_first + (unsigned)(size >> 20) - 1;
	if (!paging_map_mmio(base, size)) {
		kprintf("# pci: cannot map ECAM at 0x%llx\n",
			(unsigned long long)base);
		return false;
	}
	ecam = (uintptr_t)base;
	read_ranges(node);
	kprintf("# pci: ECAM at 0x%llx, buses %u-%u, windows 0x%llx+0x%llx "
		"and 0x%llx+0x%llx\n",
		(unsigned long long)base, bus_first, bus_last,
		(unsigned long long)mem32.base, (unsigned long long)mem32.size,
		(unsigned long long)mem64.base, (unsigned long long)mem64.size);
	assign_root_bus();
	return true;
}
