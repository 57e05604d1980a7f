/*
 * sim PCI function: the controller's identity and its 256-byte
 * configuration space (PCI Local Bus 3.0 §6.1 type 0 header; xHCI 1.2
 * §5.2 SBRN and FLADJ) and, with intel_port_routing, the Intel 7/8/9
 * Series PCH port-routing registers that decide which root ports the xHCI
 * sees. The driver reaches it through bu_xhci_options.pci, filled by
 * sim_pci_identity(); a write the model has no register for is a violation,
 * so a quirk applied to the wrong part shows.
 */
#include "bareusb/xhci.h"
#include "sim_priv.h"

#define PCI_ID        0x00
#define PCI_COMMAND   0x04 /* Status in the high half: no capabilities */
#define PCI_CLASS_REV 0x08
#define PCI_BAR0      0x10
#define PCI_BAR1      0x14
#define PCI_SUBSYS    0x2c
#define PCI_SBRN      0x60 /* xHCI §5.2.3 SBRN, §5.2.4 FLADJ in byte 0x61 */
#define PCI_CFG_SIZE  0x100

#define PCI_CLASS_XHCI  0x0c0330u
#define PCI_COMMAND_RW  0x0547u /* I/O, memory, master, parity, SERR, INTx disable */
#define PCI_BAR_MEM64   0x4u
#define PCI_SBRN_USB30  0x30u
#define PCI_FLADJ_60000 0x20u

/* Intel PCH xHCI routing registers (Intel 7/8/9 Series PCH datasheets). */
#define INTEL_XUSB2PR    0xd0
#define INTEL_XUSB2PRM   0xd4
#define INTEL_USB3_PSSEN 0xd8
#define INTEL_USB3PRM    0xdc

/* Bit mask of every root port of one kind: bit n is its (n+1)-th port. */
static uint32_t sim_pci_port_mask(const struct sim *sim, bool usb3)
{
	unsigned n = usb3 ? sim->cfg.usb3_ports : sim->cfg.usb2_ports;

	return n >= 32 ? 0xffffffffu : (1u << n) - 1;
}

/* A dword offset inside config space, or a violation. */
static bool sim_pci_off_ok(struct sim *sim, unsigned off, const char *op)
{
	if (off < PCI_CFG_SIZE && !(off & 3))
		return true;
	sim_violation_add(sim, "PCI config %s at %#x: not a dword of the 256-byte space", op, off);
	return false;
}

/* The Intel routing registers, or false for any other offset. */
static bool sim_pci_intel_read(const struct sim *sim, unsigned off, uint32_t *v)
{
	if (!sim->cfg.intel_port_routing)
		return false;
	switch (off) {
	case INTEL_XUSB2PR: *v = sim->xusb2pr; return true;
	case INTEL_XUSB2PRM: *v = sim_pci_port_mask(sim, false); return true;
	case INTEL_USB3_PSSEN: *v = sim->usb3_pssen; return true;
	case INTEL_USB3PRM: *v = sim_pci_port_mask(sim, true); return true;
	default: return false;
	}
}

uint32_t sim_pci_cfg_read32(struct sim *sim, unsigned off)
{
	const struct sim_config *c = &sim->cfg;
	uint32_t v = 0;

	if (!sim_pci_off_ok(sim, off, "read"))
		return 0xffffffffu;
	switch (off) {
	case PCI_ID: return c->pci_vendor | (uint32_t)c->pci_device << 16;
	case PCI_COMMAND: return sim->pci_command;
	case PCI_CLASS_REV: return PCI_CLASS_XHCI << 8 | c->pci_revision;
	case PCI_BAR0: return (uint32_t)sim->base | PCI_BAR_MEM64;
	case PCI_BAR1: return (uint32_t)((uint64_t)sim->base >> 32);
	case PCI_SUBSYS: return c->pci_subsys_vendor | (uint32_t)c->pci_subsys_device << 16;
	case PCI_SBRN: return PCI_SBRN_USB30 | PCI_FLADJ_60000 << 8;
	default: break;
	}
	sim_pci_intel_read(sim, off, &v);
	return v;
}

/* A write to XUSB2PR or USB3_PSSEN: only the bits the mask allows change. */
static void sim_pci_route_write(struct sim *sim, uint32_t *reg, bool usb3, uint32_t val)
{
	uint32_t mask = sim_pci_port_mask(sim, usb3);
	bool was[SIM_MAX_PORTS];

	for (unsigned p = 1; p <= sim->nports; p++)
		was[p - 1] = sim_port_routed(sim, p);
	*reg = (*reg & ~mask) | (val & mask);
	for (unsigned p = 1; p <= sim->nports; p++)
		if (sim_port_routed(sim, p) != was[p - 1])
			sim_port_rerouted(sim, p);
}

void sim_pci_cfg_write32(struct sim *sim, unsigned off, uint32_t val)
{
	if (!sim_pci_off_ok(sim, off, "write"))
		return;
	if (off == PCI_COMMAND) {
		sim->pci_command = val & PCI_COMMAND_RW;
	} else if (sim->cfg.intel_port_routing && off == INTEL_XUSB2PR) {
		sim_pci_route_write(sim, &sim->xusb2pr, false, val);
	} else if (sim->cfg.intel_port_routing && off == INTEL_USB3_PSSEN) {
		sim_pci_route_write(sim, &sim->usb3_pssen, true, val);
	} else {
		sim_violation_add(sim, "PCI config write %#x at %#x of %04x:%04x: no writable register there",
				  val, off, sim->cfg.pci_vendor, sim->cfg.pci_device);
	}
}

static uint32_t sim_pci_read_cb(void *ctx, unsigned off)
{
	return sim_pci_cfg_read32(ctx, off);
}

static void sim_pci_write_cb(void *ctx, unsigned off, uint32_t val)
{
	sim_pci_cfg_write32(ctx, off, val);
}

void sim_pci_identity(struct sim *sim, struct bu_xhci_pci *out)
{
	const struct sim_config *c = &sim->cfg;

	out->vendor = c->pci_vendor;
	out->device = c->pci_device;
	out->revision = c->pci_revision;
	out->subsys_vendor = c->pci_subsys_vendor;
	out->subsys_device = c->pci_subsys_device;
	out->cfg_read32 = sim_pci_read_cb;
	out->cfg_write32 = sim_pci_write_cb;
	out->cfg_ctx = sim;
}

void sim_pci_init(struct sim *sim)
{
	struct sim_config *c = &sim->cfg;

	if (!c->pci_vendor) {
		/* QEMU's qemu-xhci and its default subsystem (Red Hat, QEMU). */
		c->pci_vendor = 0x1b36;
		c->pci_device = 0x000d;
		if (!c->pci_subsys_vendor && !c->pci_subsys_device) {
			c->pci_subsys_vendor = 0x1af4;
			c->pci_subsys_device = 0x1100;
		}
	}
	/* Firmware enabled the function and left every port on the EHCI. */
	sim->pci_command = 0x0006;
	sim->xusb2pr = 0;
	sim->usb3_pssen = 0;
}
