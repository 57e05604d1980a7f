/*
 * sim personalities: the documented behaviours of real controller families
 * as presets of sim_config (xHCI 1.2 where they follow it; where they do
 * not, the public record named on each line: Linux's xhci-pci quirk flags,
 * iPXE's xhci quirks, Raspberry Pi's Linux tree, QEMU's hcd-xhci).
 *
 * A personality fills only the fields a test left at zero. The Meson
 * matrix runs every sim suite once per personality by setting
 * SIM_PERSONALITY in the environment; a test that needs the plain model
 * sets sim_config.personality = SIM_PERSONALITY_NONE.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim_priv.h"

static const char *const personality_names[SIM_PERSONALITY_COUNT] = {
	[SIM_PERSONALITY_ENV] = "env",
	[SIM_PERSONALITY_NONE] = "none",
	[SIM_PERSONALITY_QEMU] = "qemu",
	[SIM_PERSONALITY_INTEL_PPT] = "intel-ppt",
	[SIM_PERSONALITY_INTEL_SPT] = "intel-spt",
	[SIM_PERSONALITY_AMD096] = "amd096",
	[SIM_PERSONALITY_ASMEDIA] = "asmedia",
	[SIM_PERSONALITY_VL805] = "vl805",
};

const char *sim_personality_name(enum sim_personality p)
{
	return (unsigned)p < SIM_PERSONALITY_COUNT ? personality_names[p] : "?";
}

enum sim_personality sim_personality_from_name(const char *name)
{
	for (unsigned i = 0; i < SIM_PERSONALITY_COUNT; i++)
		if (name && strcmp(name, personality_names[i]) == 0)
			return (enum sim_personality)i;
	return SIM_PERSONALITY_COUNT;
}

#define SET_IF_ZERO(field, value) \
	do { \
		if (!(field)) \
			(field) = (value); \
	} while (0)

/** QEMU 7.2 qemu-xhci: xHCI 1.0, one Event Ring segment, CRCR acted on at the high dword, a Stop that drops the TD in progress, Restore State always failing (SRE). */
static void personality_qemu(struct sim_config *c)
{
	SET_IF_ZERO(c->hci_version, 0x0100);
	c->crcr_high_latch = true;
	c->erst_max_zero = true;
	c->stop_drops_td = true;
	c->restore_always_fails = true;
}

/** What Intel PCHs share: 64-byte contexts, scratchpads, firmware owning the controller. */
static void personality_intel(struct sim_config *c)
{
	SET_IF_ZERO(c->hci_version, 0x0100);
	c->csz64 = true;
	SET_IF_ZERO(c->scratchpads, 4);
	c->legacy = true;
	c->rsvdp_ones = true;
	/* Linux xhci_reset: no register access for 1 ms after HCRST on Intel. */
	SET_IF_ZERO(c->reset_settle_us, 1000);
}

/**
 * Intel 7-series (Panther Point, 8086:1e31): ports routed to EHCI until
 * switched; one Missed Service Error for a run of missed isoch TDs.
 */
static void personality_intel_ppt(struct sim_config *c)
{
	personality_intel(c);
	SET_IF_ZERO(c->pci_vendor, 0x8086);
	SET_IF_ZERO(c->pci_device, 0x1e31);
	c->intel_port_routing = true;
	c->missed_service_run = true;
}

/**
 * Intel 100-series (Sunrise Point-LP, Skylake, 8086:9d2f): bogus PSI (iPXE
 * XHCI_BAD_PSIV), Missed Service Error runs reported with a NULL TRB
 * pointer. Its Compliance Mode without CAS (Linux XHCI_MISSING_CAS) is
 * sim_config.compliance_without_cas, set by the tests of that recovery
 * (test_quirks) rather than here: the driver finds such a port only by
 * its 2 s poll, and the other suites' timing assumes ports that report
 * their connections.
 */
static void personality_intel_spt(struct sim_config *c)
{
	personality_intel(c);
	SET_IF_ZERO(c->pci_vendor, 0x8086);
	SET_IF_ZERO(c->pci_device, 0x9d2f);
	SET_IF_ZERO(c->scratchpads, 8);
	c->psi = true;
	c->psi_bogus = true;
	c->missed_service_null = true;
}

/** AMD Hudson FCH: xHCI 0.96 (TD Size in KiB, TBC/TLBPC reserved). */
static void personality_amd096(struct sim_config *c)
{
	SET_IF_ZERO(c->pci_vendor, 0x1022);
	SET_IF_ZERO(c->pci_device, 0x7812);
	SET_IF_ZERO(c->hci_version, 0x0096);
	c->isoc_link_chain = true;
}

/** ASMedia ASM1142: advertises AC64, corrupts DMA above 4 GiB (Linux XHCI_NO_64BIT_SUPPORT). */
static void personality_asmedia(struct sim_config *c)
{
	SET_IF_ZERO(c->pci_vendor, 0x1b21);
	SET_IF_ZERO(c->pci_device, 0x1242);
	SET_IF_ZERO(c->hci_version, 0x0100);
	c->dma_32bit_only = true;
	/* A platform that can place DMA memory below 4 GiB, as it must for
	 * this part (the driver refuses addresses above). */
	SET_IF_ZERO(c->dma_place, SIM_DMA_LOW);
}

/** VIA VL805: reads 64 bytes ahead of every TRB, across the Link TRB. */
static void personality_vl805(struct sim_config *c)
{
	SET_IF_ZERO(c->pci_vendor, 0x1106);
	SET_IF_ZERO(c->pci_device, 0x3483);
	SET_IF_ZERO(c->hci_version, 0x0100);
	c->trb_readahead = true;
}

void sim_personality_apply(struct sim_config *c)
{
	static void (*const apply[SIM_PERSONALITY_COUNT])(struct sim_config *) = {
		[SIM_PERSONALITY_QEMU] = personality_qemu,
		[SIM_PERSONALITY_INTEL_PPT] = personality_intel_ppt,
		[SIM_PERSONALITY_INTEL_SPT] = personality_intel_spt,
		[SIM_PERSONALITY_AMD096] = personality_amd096,
		[SIM_PERSONALITY_ASMEDIA] = personality_asmedia,
		[SIM_PERSONALITY_VL805] = personality_vl805,
	};

	if (c->personality == SIM_PERSONALITY_ENV) {
		const char *env = getenv("SIM_PERSONALITY");
		enum sim_personality p = SIM_PERSONALITY_NONE;

		if (env && *env) {
			p = sim_personality_from_name(env);
			if (p == SIM_PERSONALITY_COUNT || p == SIM_PERSONALITY_ENV) {
				fprintf(stderr, "sim: unknown SIM_PERSONALITY '%s'\n", env);
				abort();
			}
		}
		c->personality = p;
	}
	if ((unsigned)c->personality < SIM_PERSONALITY_COUNT && apply[c->personality])
		apply[c->personality](c);
}

/* ------------------------------------------------------------------------ */
/* Behaviours only some personalities have                                  */

void sim_trb_readahead(struct sim *sim, uint64_t trb_addr)
{
	if (!sim->cfg.trb_readahead)
		return;
	/* The next 64-byte block, wherever the ring ends. */
	sim_dma_probe(sim, (trb_addr & ~63ull) + 64, 64, false, "VL805 TRB read-ahead");
}

void sim_reset_settle_check(struct sim *sim, uint32_t off)
{
	uint64_t settle = (uint64_t)sim->cfg.reset_settle_us * SIM_US;

	if (!settle || !sim->hcrst_written_ns || sim->now >= sim->hcrst_written_ns + settle)
		return;
	sim_violation_add(sim, "register %#x accessed %llu us after HCRST (this controller "
			  "needs %u us untouched)", off,
			  (unsigned long long)((sim->now - sim->hcrst_written_ns) / SIM_US),
			  sim->cfg.reset_settle_us);
	sim->hcrst_written_ns = 0; /* one report a reset */
}
