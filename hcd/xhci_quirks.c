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
	{ PCI_VENDOR_INTEL, 0x1e31, 0, 0, BU_XHCI_QUIRK_INTEL_PORT_SWITCH,
	  "Linux pci-quirks usb_is_intel_switchable_xhci (Panther Point, 7 Series)" },
	{ PCI_VENDOR_INTEL, 0x8c31, 0, 0, BU_XHCI_QUIRK_INTEL_PORT_SWITCH,
	  "Linux pci-quirks usb_is_intel_switchable_xhci (Lynx Point, 8 Series)" },
	{ PCI_VENDOR_INTEL, 0x9c31, 0, 0, BU_XHCI_QUIRK_INTEL_PORT_SWITCH,
	  "Linux pci-quirks usb_is_intel_switchable_xhci (Lynx Point-LP)" },
	/* Wildcat Point (9 Series) has the same four registers (Intel 9
	 * Series PCH datasheet; coreboot soc/intel/broadwell xhci.h for the
	 * -LP part). Linux's list stops at Lynx Point; iPXE's XHCI_PCH
	 * switches every Intel xHCI. Setting bits firmware already set is
	 * harmless, and firmware that leaves ports on the EHCI needs it. */
	{ PCI_VENDOR_INTEL, 0x8cb1, 0, 0, BU_XHCI_QUIRK_INTEL_PORT_SWITCH,
	  "Intel 9 Series PCH datasheet XUSB2PR/USB3_PSSEN; iPXE xhci.c XHCI_PCH (Wildcat Point)" },
	{ PCI_VENDOR_INTEL, 0x9cb1, 0, 0, BU_XHCI_QUIRK_INTEL_PORT_SWITCH,
	  "coreboot soc/intel/broadwell xhci.h USB2PR/USB3PR; iPXE xhci.c XHCI_PCH (Wildcat Point-LP)" },
	{ PCI_VENDOR_INTEL, 0x22b5, 0, 0, BU_XHCI_QUIRK_MISSING_CAS,
	  "Linux xhci-pci XHCI_MISSING_CAS (Cherryview)" },
	{ PCI_VENDOR_INTEL, 0x9d2f, 0, 0, BU_XHCI_QUIRK_MISSING_CAS,
	  "Linux xhci-pci XHCI_MISSING_CAS (Sunrise Point-LP); Intel 100 Series PCH spec update erratum 8" },
	{ PCI_VENDOR_INTEL, 0xa12f, 0, 0, BU_XHCI_QUIRK_MISSING_CAS,
	  "Linux xhci-pci XHCI_MISSING_CAS (Sunrise Point-H); Intel 100 Series PCH spec update erratum 8" },
	{ PCI_VENDOR_INTEL, 0x5aa8, 0, 0, BU_XHCI_QUIRK_MISSING_CAS,
	  "Linux xhci-pci XHCI_MISSING_CAS (Apollo Lake)" },
	{ PCI_VENDOR_INTEL, 0x19d0, 0, 0, BU_XHCI_QUIRK_MISSING_CAS,
	  "Linux xhci-pci XHCI_MISSING_CAS (Denverton)" },
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

		if (!quirk_matches(x, e))
			continue;
		bu_xhci_log(x, (e->quirks & x->opts.quirks_off) ? BU_LOG_WARN : BU_LOG_INFO,
			    "quirk %s for %04x:%04x%s (%s)", bu_xhci_quirk_name(e->quirks),
			    pci->vendor, pci->device,
			    (e->quirks & x->opts.quirks_off) ? " forced off by the options" : "",
			    e->source);
		q |= e->quirks;
	}
	q |= x->opts.quirks_on;
	q &= ~x->opts.quirks_off;
	x->quirks = q;
	if (q & BU_XHCI_QUIRK_NO_64BIT_DMA)
		x->ac64 = false; /* every DMA address below 4 GiB (§5.3.6) */
}

/* ======================================================================== */
/* Intel PCH port routing (7/8/9 Series)                                    */
/* ======================================================================== */

/*
 * On these PCHs every root port is wired to both the EHCI and the xHCI, and
 * starts routed to the EHCI. Four dwords of the xHCI's PCI config space
 * switch them (Intel 7/8/9 Series PCH datasheets, xHCI configuration
 * registers; Linux pci-quirks usb_enable_intel_xhci_ports): a set bit of
 * USB3_PSSEN turns on SuperSpeed on that USB 3 port, a set bit of XUSB2PR
 * routes that USB 2 port to the xHCI; USB3PRM and XUSB2PRM (set by
 * firmware) say which bits software may set.
 */
#define INTEL_XUSB2PR    0xd0
#define INTEL_XUSB2PRM   0xd4
#define INTEL_USB3_PSSEN 0xd8
#define INTEL_USB3PRM    0xdc

/** Set the switchable bits of routing register `reg` (mask in `mask_reg`); returns what was there. */
static uint32_t route_ports(const struct bu_xhci_pci *pci, unsigned reg, unsigned mask_reg)
{
	uint32_t found = pci->cfg_read32(pci->cfg_ctx, reg);

	pci->cfg_write32(pci->cfg_ctx, reg, found | pci->cfg_read32(pci->cfg_ctx, mask_reg));
	return found;
}

void bu_xhci_quirks_start(struct xhci *x)
{
	const struct bu_xhci_pci *pci = &x->opts.pci;

	if (!(x->quirks & BU_XHCI_QUIRK_INTEL_PORT_SWITCH))
		return;
	if (!pci->cfg_read32 || !pci->cfg_write32) {
		bu_xhci_log(x, BU_LOG_WARN,
			    "Intel PCH port routing needs PCI config access (bu_xhci_options.pci): "
			    "ports may stay routed to the EHCI and look empty here");
		return;
	}
	/* SuperSpeed first, so a USB 3 device does not first connect at
	 * high speed on the USB 2 port that is about to be switched. */
	x->fw_usb3_pssen = route_ports(pci, INTEL_USB3_PSSEN, INTEL_USB3PRM);
	x->fw_xusb2pr = route_ports(pci, INTEL_XUSB2PR, INTEL_XUSB2PRM);
	x->routed = true;
	bu_xhci_log(x, BU_LOG_INFO,
		    "Intel PCH port routing: SuperSpeed on 0x%x (was 0x%x), USB 2 ports 0x%x on the xHCI (was 0x%x)",
		    pci->cfg_read32(pci->cfg_ctx, INTEL_USB3_PSSEN), x->fw_usb3_pssen,
		    pci->cfg_read32(pci->cfg_ctx, INTEL_XUSB2PR), x->fw_xusb2pr);
}

void bu_xhci_quirks_stop(struct xhci *x)
{
	const struct bu_xhci_pci *pci = &x->opts.pci;

	if (!x->routed)
		return;
	/* The reverse order: USB 2 ports back first, then SuperSpeed. */
	pci->cfg_write32(pci->cfg_ctx, INTEL_XUSB2PR, x->fw_xusb2pr);
	pci->cfg_write32(pci->cfg_ctx, INTEL_USB3_PSSEN, x->fw_usb3_pssen);
	x->routed = false;
	bu_xhci_log(x, BU_LOG_DEBUG, "Intel PCH port routing given back as firmware left it");
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
