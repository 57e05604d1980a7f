/*
 * PCI over the architecture's configuration access (pci_read32/pci_write32:
 * ports 0xCF8/0xCFC on x86_64, ECAM on aarch64): enough to find xHCI
 * controllers behind any bus that is numbered, decode their BAR0 and turn
 * on memory decoding and bus mastering.
 */
#include "guest.h"

#include "bareusb/util.h"
#include "bareusb/xhci.h"

#define PCI_VENDOR_ID		 0x00
#define PCI_COMMAND		 0x04
#define PCI_COMMAND_MEMORY	 0x0002
#define PCI_COMMAND_MASTER	 0x0004
#define PCI_COMMAND_INTX_DISABLE 0x0400
#define PCI_CLASS_REV		 0x08
#define PCI_HEADER_TYPE		 0x0e /* byte; bit 7 = multi-function */
#define PCI_BAR0		 0x10
#define PCI_STATUS_CAP_LIST	 0x0010 /* in the upper half of dword 0x04 */
#define PCI_SUBSYSTEM		 0x2c /* subsystem vendor, subsystem ID */
#define PCI_CAP_PTR		 0x34
#define PCI_CAP_ID_MSI		 0x05
#define PCI_MSI_CTRL_ENABLE	 0x0001
#define PCI_MSI_CTRL_MME	 0x0070 /* multiple message enable */
#define PCI_MSI_CTRL_64BIT	 0x0080
#define PCI_CAP_ID_MSIX		 0x11
#define PCI_MSIX_CTRL_ENABLE	 0x8000
#define PCI_MSIX_CTRL_MASKALL	 0x4000
#define PCI_MSIX_ENTRY_CTRL_MASK 0x1
#define PCI_CONFIG_LAST		 0xfc /* pci_read32 reaches 256 bytes */

#define PCI_BAR_IO	  0x1
#define PCI_BAR_TYPE_MASK 0x6
#define PCI_BAR_TYPE_64	  0x4
#define PCI_BAR_MEM_MASK  0xfffffff0u

uint16_t pci_read16(const struct pci_func *f, uint8_t off)
{
	return (uint16_t)(pci_read32(f, off) >> ((off & 2) * 8));
}

void pci_write16(const struct pci_func *f, uint8_t off, uint16_t v)
{
	uint32_t d = pci_read32(f, off);
	unsigned sh = (off & 2) * 8;

	d = (d & ~(0xffffu << sh)) | ((uint32_t)v << sh);
	pci_write32(f, off, d);
}

/** Fill `f` from config space; false when no function answers there. */
static bool probe(struct pci_func *f)
{
	uint32_t id = pci_read32(f, PCI_VENDOR_ID);

	if ((id & 0xffff) == 0xffff || (id & 0xffff) == 0)
		return false;
	f->vendor = (uint16_t)id;
	f->device = (uint16_t)(id >> 16);
	f->class_rev = pci_read32(f, PCI_CLASS_REV);
	return true;
}

unsigned pci_scan(struct pci_func *out, unsigned max)
{
	unsigned n = 0;

	for (unsigned bus = 0; bus < 256; bus++) {
		for (unsigned dev = 0; dev < 32; dev++) {
			struct pci_func f = {
			    (uint8_t)bus, (uint8_t)dev, 0, 0, 0, 0};
			unsigned nfn = 1;

			if (!probe(&f))
				continue;
			if ((pci_read32(&f, PCI_HEADER_TYPE & 0xfc) >> 16) &
			    0x80)
				nfn = 8;
			for (unsigned fn = 0; fn < nfn; fn++) {
				f.fn = (uint8_t)fn;
				if (fn && !probe(&f))
					continue;
				if (n < max)
					out[n] = f;
				n++;
			}
		}
	}
	return n;
}

bool pci_bar_mem(const struct pci_func *f, unsigned bar, uint64_t *base,
		 uint64_t *size)
{
	uint8_t off = (uint8_t)(PCI_BAR0 + 4 * bar);
	uint32_t lo = pci_read32(f, off), hi = 0, mlo, mhi = 0xffffffffu;
	bool is64;
	uint16_t cmd;

	if (bar > 5 || (lo & PCI_BAR_IO))
		return false;
	is64 = (lo & PCI_BAR_TYPE_MASK) == PCI_BAR_TYPE_64;
	if (is64 && bar == 5)
		return false;
	if (is64)
		hi = pci_read32(f, (uint8_t)(off + 4));

	/* Size it with decoding off (PCI 3.0 §6.2.5.1), then restore. */
	cmd = pci_read16(f, PCI_COMMAND);
	pci_write16(f, PCI_COMMAND, (uint16_t)(cmd & ~PCI_COMMAND_MEMORY));
	pci_write32(f, off, 0xffffffffu);
	mlo = pci_read32(f, off);
	pci_write32(f, off, lo);
	if (is64) {
		pci_write32(f, (uint8_t)(off + 4), 0xffffffffu);
		mhi = pci_read32(f, (uint8_t)(off + 4));
		pci_write32(f, (uint8_t)(off + 4), hi);
	}
	pci_write16(f, PCI_COMMAND, cmd);

	uint64_t mask = ((uint64_t)mhi << 32) | (mlo & PCI_BAR_MEM_MASK);

	if (!is64)
		mask |= 0xffffffff00000000ull;
	*base = ((uint64_t)hi << 32) | (lo & PCI_BAR_MEM_MASK);
	*size = ~mask + 1;
	return *base != 0 && (mlo & PCI_BAR_MEM_MASK) != 0;
}

void pci_enable_mmio_dma(const struct pci_func *f)
{
	uint16_t cmd = pci_read16(f, PCI_COMMAND);

	cmd |=
	    PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER | PCI_COMMAND_INTX_DISABLE;
	pci_write16(f, PCI_COMMAND, cmd);
}

/** Offset of capability `id` in the list (PCI 3.0 §6.7), or 0. */
static uint8_t find_cap(const struct pci_func *f, uint8_t id)
{
	uint8_t at;

	if (!((pci_read32(f, PCI_COMMAND) >> 16) & PCI_STATUS_CAP_LIST))
		return 0;
	at = (uint8_t)(pci_read32(f, PCI_CAP_PTR) & 0xfc);
	for (unsigned n = 0; at >= 0x40 && n < 48; n++) {
		uint32_t hdr = pci_read32(f, at);

		if ((hdr & 0xff) == id)
			return at;
		at = (uint8_t)((hdr >> 8) & 0xfc);
	}
	return 0;
}

/**
 * MSI-X (PCI 3.0 §6.8.2): table entry 0 (the one xHCI interrupter 0 uses)
 * gets `addr`/`data` and is unmasked, then MSI-X is enabled. The table is
 * in a memory BAR that must be assigned and mapped already.
 */
static bool msix_enable(const struct pci_func *f, uint8_t cap, uint64_t addr,
			uint32_t data)
{
	uint16_t ctrl = pci_read16(f, (uint8_t)(cap + 2));
	uint32_t table = pci_read32(f, (uint8_t)(cap + 4));
	uint64_t base, size;
	uintptr_t entry;

	if (!pci_bar_mem(f, table & 7, &base, &size) ||
	    (table & ~7u) + 16 > size)
		return false;
	entry = (uintptr_t)(base + (table & ~7u));
	pci_write16(f, (uint8_t)(cap + 2),
		    (uint16_t)(ctrl | PCI_MSIX_CTRL_MASKALL));
	mmio_write32(entry + 0, (uint32_t)addr);
	mmio_write32(entry + 4, (uint32_t)(addr >> 32));
	mmio_write32(entry + 8, data);
	mmio_write32(entry + 12, mmio_read32(entry + 12) &
				     ~(uint32_t)PCI_MSIX_ENTRY_CTRL_MASK);
	pci_write16(
	    f, (uint8_t)(cap + 2),
	    (uint16_t)((ctrl & ~PCI_MSIX_CTRL_MASKALL) | PCI_MSIX_CTRL_ENABLE));
	return true;
}

bool pci_msi_enable(const struct pci_func *f, uint64_t addr, uint16_t data)
{
	uint8_t cap = find_cap(f, PCI_CAP_ID_MSI);
	uint16_t ctrl;
	bool is64;

	if (!cap) {
		cap = find_cap(f, PCI_CAP_ID_MSIX);
		return cap && msix_enable(f, cap, addr, data);
	}
	/* PCI 3.0 §6.8.1: message control in the capability's upper half,
	 * then the address (64-bit capable: two dwords), then the data. */
	ctrl = pci_read16(f, (uint8_t)(cap + 2));
	is64 = ctrl & PCI_MSI_CTRL_64BIT;
	if (!is64 && addr >> 32)
		return false;
	pci_write16(
	    f, (uint8_t)(cap + 2),
	    (uint16_t)(ctrl & ~(PCI_MSI_CTRL_ENABLE | PCI_MSI_CTRL_MME)));
	pci_write32(f, (uint8_t)(cap + 4), (uint32_t)addr);
	if (is64)
		pci_write32(f, (uint8_t)(cap + 8), (uint32_t)(addr >> 32));
	pci_write16(f, (uint8_t)(cap + (is64 ? 12 : 8)), data);
	pci_write16(
	    f, (uint8_t)(cap + 2),
	    (uint16_t)((ctrl & ~PCI_MSI_CTRL_MME) | PCI_MSI_CTRL_ENABLE));
	return true;
}

void pci_name(const struct pci_func *f, char buf[16])
{
	bu_snprintf(buf, 16, "0000:%02x:%02x.%x", f->bus, f->dev, f->fn);
}

/** bu_xhci_pci.cfg_read32: all ones past the first 256 bytes. */
static uint32_t xhci_cfg_read32(void *ctx, unsigned off)
{
	return off <= PCI_CONFIG_LAST ? pci_read32(ctx, (uint8_t)off) : 0xffffffffu;
}

/** bu_xhci_pci.cfg_write32: dropped past the first 256 bytes. */
static void xhci_cfg_write32(void *ctx, unsigned off, uint32_t v)
{
	if (off <= PCI_CONFIG_LAST)
		pci_write32(ctx, (uint8_t)off, v);
}

void pci_xhci_identity(const struct pci_func *f, struct bu_xhci_pci *out)
{
	uint32_t subsys = pci_read32(f, PCI_SUBSYSTEM);

	out->vendor = f->vendor;
	out->device = f->device;
	out->revision = (uint8_t)f->class_rev;
	out->subsys_vendor = (uint16_t)subsys;
	out->subsys_device = (uint16_t)(subsys >> 16);
	out->cfg_read32 = xhci_cfg_read32;
	out->cfg_write32 = xhci_cfg_write32;
	out->cfg_ctx = (void *)(uintptr_t)f;
}
