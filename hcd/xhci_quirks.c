/*
 * bareusb xHCI host-controller driver: controller quirks by PCI identity.
 *
 * Real controllers differ from the xHCI specification in ways a driver must
 * know before it touches them. The embedder passes the controller's PCI
 * identity (and config-space accessors) in bu_xhci_options.pci; this file
 * turns it into the set of enum bu_xhci_quirk bits in force, one table line
 * a quirk, each naming where the behaviour is documented: the Linux
 * xhci-pci / pci-quirks flag that records it, or the vendor's datasheet.
 * The options may force any bit on or off over the table.
 *
 * The quirks that act once, at set-up and teardown (the Intel PCH port
 * routing), live here too; the rest are tested where they matter.
 */
#include "xhci_priv.h"

#include "bareusb/util.h"

#define PCI_ANY 0xffffu

/** One quirk: which parts have it and where that is documented. */
struct xhci_quirk_entry {
	uint16_t vendor;
	uint16_t device;     /* PCI_ANY: every device of the vendor */
	uint16_t min_hciver; /* 0: any; else HCIVERSION must be in [min, max] */
	uint16_t max_hciver;
	uint32_t quirks;
	const char *source;
};

#define PCI_VENDOR_INTEL   0x8086
#define PCI_VENDOR_AMD     0x1022
#define PCI_VENDOR_ASMEDIA 0x1b21
#define PCI_VENDOR_ETRON   0x1b6f
#define PCI_VENDOR_VIA     0x1106

static const struct xhci_quirk_entry quirk_table[] = {
	/* vendor, device, HCIVERSION range, quirks, source */
	{ PCI_VENDOR_AMD, PCI_ANY, 0x0096, 0x0096, BU_XHCI_QUIRK_ISOC_LINK_CHAIN,
	  "Linux xhci-pci XHCI_AMD_0x96_HOST" },
	{ PCI_VENDOR_AMD, 0x43b9, 0, 0, BU_XHCI_QUIRK_NO_SOFT_RETRY,
	  "Linux xhci-pci XHCI_NO_SOFT_RETRY (Promontory A)" },
	{ PCI_VENDOR_AMD, 0x43bb, 0, 0, BU_XHCI_QUIRK_NO_SOFT_RETRY,
	  "Linux xhci-pci XHCI_NO_SOFT_RETRY (Promontory A)" },
	{ PCI_VENDOR_ETRON, 0x7023, 0, 0, BU_XHCI_QUIRK_NO_SOFT_RETRY,
	  "Linux xhci-pci XHCI_NO_SOFT_RETRY (Etron EJ168)" },
	{ PCI_VENDOR_ETRON, 0x7052, 0, 0, BU_XHCI_QUIRK_NO_SOFT_RETRY,
	  "Linux xhci-pci XHCI_NO_SOFT_RETRY (Etron EJ188)" },
	{ PCI_VENDOR_ASMEDIA, 0x1142, 0, 0, BU_XHCI_QUIRK_NO_64BIT_DMA,
	  "Linux xhci-pci XHCI_NO_64BIT_SUPPORT (ASM1042A)" },
	{ PCI_VENDOR_ASMEDIA, 0x1242, 0, 0, BU_XHCI_QUIRK_NO_64BIT_DMA,
	  "Linux xhci-pci XHCI_NO_64BIT_SUPPORT (ASM1142)" },
	{ PCI_VENDOR_ASMEDIA, 0x2142, 0, 0, BU_XHCI_QUIRK_NO_64BIT_DMA,
	  "Linux xhci-pci XHCI_NO_64BIT_SUPPORT (ASM2142)" },
	{ PCI_VENDOR_ASMEDIA, 0x3242, 0, 0, BU_XHCI_QUIRK_NO_64BIT_DMA,
	  "Linux xhci-pci XHCI_NO_64BIT_SUPPORT (ASM3242)" },
	{ PCI_VENDOR_INTEL, PCI_ANY, 0, 0, BU_XHCI_QUIRK_RESET_DELAY,
	  "Linux xhci_reset, XHCI_INTEL_HOST: 1 ms after HCRST" },
	{ PCI_VENDOR_INTEL, 0x9d2f, 0, 0, BU_XHCI_QUIRK_BROKEN_PSI,
	  "iPXE xhci XHCI_BAD_PSIV (Skylake)" },
	{ PCI_VENDOR_VIA, 0x3483, 0, 0, BU_XHCI_QUIRK_RING_GUARD,
	  "Raspberry Pi Linux VLI_TRB_CACHE_BUG (VL805 TRB read-ahead)" },
};

/** Whether table entry `e` matches the controller. */
static bool quirk_matches(const struct xhci *x, const struct xhci_quirk_entry *e)
{
	const struct bu_xhci_pci *pci = &x->opts.pci;

	if (!pci->vendor || e->vendor != pci->vendor)
		return false;
	if (e->device != PCI_ANY && e->device != pci->device)
		return false;
	if (e->min_hciver &&
	    (x->hciversion < e->min_hciver || x->hciversion > e->max_hciver))
		return false;
	return true;
}

void bu_xhci_quirks_init(struct xhci *x)
{
	const struct bu_xhci_pci *pci = &x->opts.pci;
	uint32_t q = 0;

	for (size_t i = 0; i < BU_ARRAY_SIZE(quirk_table); i++) {
		const struct xhci_quirk_entry *e = &quirk_table[i];

		if (!quirk_matches(x, e) || (e->quirks & x->opts.quirks_off))
			continue;
		q |= e->quirks;
		bu_xhci_log(x, BU_LOG_INFO, "quirk %s for %04x:%04x (%s)",
			    bu_xhci_quirk_name(e->quirks), pci->vendor, pci->device, e->source);
	}
	q |= x->opts.quirks_on;
	q &= ~x->opts.quirks_off;
	x->quirks = q;
	if (q & BU_XHCI_QUIRK_NO_64BIT_DMA)
		x->ac64 = false; /* every DMA address below 4 GiB (§5.3.6) */
}

const char *bu_xhci_quirk_name(uint32_t quirk)
{
	static const char *const names[] = {
		"intel-port-switch", "no-64bit-dma", "no-soft-retry", "isoc-link-chain",
		"missing-cas", "ring-guard", "broken-psi", "reset-delay",
	};

	for (unsigned i = 0; i < BU_ARRAY_SIZE(names); i++)
		if (quirk & (1u << i))
			return names[i];
	return "?";
}
