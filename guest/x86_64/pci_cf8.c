/*
 * PCI configuration mechanism #1 (PCI 3.0 §3.2.2.3.2): the address goes to
 * port 0xCF8, the data moves through port 0xCFC; it reaches the first 256
 * bytes of every function. On x86_64 QEMU's -kernel boot runs SeaBIOS
 * first (its multiboot option ROM loads the image), so the BARs and bus
 * numbers are assigned before the image starts.
 */
#include "guest.h"

#define PCI_CONFIG_ADDR 0xcf8
#define PCI_CONFIG_DATA 0xcfc

static uint32_t cfg_addr(const struct pci_func *f, uint8_t off)
{
	return 0x80000000u | ((uint32_t)f->bus << 16) |
	       ((uint32_t)f->dev << 11) | ((uint32_t)f->fn << 8) | (off & 0xfc);
}

uint32_t pci_read32(const struct pci_func *f, uint8_t off)
{
	outl(PCI_CONFIG_ADDR, cfg_addr(f, off));
	return inl(PCI_CONFIG_DATA);
}

void pci_write32(const struct pci_func *f, uint8_t off, uint32_t v)
{
	outl(PCI_CONFIG_ADDR, cfg_addr(f, off));
	outl(PCI_CONFIG_DATA, v);
}

bool pci_arch_init(void)
{
	return true; /* the ports are always there; SeaBIOS assigned the rest */
}
