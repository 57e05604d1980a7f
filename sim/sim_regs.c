/*
 * sim register file: capability, operational, runtime and doorbell
 * registers with the xHCI access semantics (xHCI 1.2 §5), the extended
 * capability list (USB Legacy Support owned by "firmware", Supported
 * Protocol with and without PSI), reset/CNR and run/stop.
 */
#include <stdio.h>
#include <string.h>

#include "xhci_trace.h"
#include "sim_priv.h"

#define SIM_OP(off) (SIM_CAPLENGTH + (off))

/* ------------------------------------------------------------------------ */
/* Capabilities                                                             */

static unsigned sim_xcap_protocol(struct sim *sim, unsigned at, bool usb3,
				  unsigned first, unsigned count)
{
	uint32_t *x = &sim->xcap[at];
	unsigned psic = 0;

	if (sim->cfg.psi) {
		if (usb3) {
			/* PSIV 4: 5 Gb/s, symmetric, full duplex, SuperSpeed. */
			x[4] = (5u << 16) | (1u << 8) | (3u << 4) | 4u;
			psic = 1;
		} else if (sim->cfg.psi_bogus) {
			/* PSIVs that are not the ones PORTSC reports: FS and HS
			 * swapped (the model of a broken table). */
			x[4] = (480u << 16) | (2u << 4) | 1u;
			x[5] = (1500u << 16) | (1u << 4) | 2u;
			x[6] = (12u << 16) | (2u << 4) | 3u;
			psic = 3;
		} else {
			x[4] = (12u << 16) | (2u << 4) | 1u;   /* FS 12 Mb/s */
			x[5] = (1500u << 16) | (1u << 4) | 2u; /* LS 1500 Kb/s */
			x[6] = (480u << 16) | (2u << 4) | 3u;  /* HS 480 Mb/s */
			psic = 3;
		}
	}
	x[0] = XHCI_XCAP_PROTOCOL | ((usb3 ? 0x03u : 0x02u) << 24) |
	       ((usb3 ? 0x00u : 0x00u) << 16);
	x[1] = XHCI_PROTO_NAME_USB;
	x[2] = first | (count << 8) | (psic << 28);
	x[3] = 0; /* Protocol Slot Type 0 */
	return 4 + psic;
}

void sim_regs_init(struct sim *sim)
{
	struct sim_config *c = &sim->cfg;
	unsigned at = 0, prev = ~0u;

	sim->nports = c->usb2_ports + c->usb3_ports;
	sim->nintrs = c->max_intrs;
	sim->nslots = c->max_slots;
	sim->ctx_size = c->csz64 ? 64 : 32;
	sim->hcsparams1 = sim->nslots | (sim->nintrs << 8) | (sim->nports << 24);
	sim->hcsparams2 = 0x1u /* IST 1 microframe */ | ((c->erst_max_zero ? 0 : c->erst_max) << 4) |
			  ((c->scratchpads >> 5) << 21) | ((c->scratchpads & 0x1f) << 27);
	sim->hcsparams3 = 0x0au | (0x200u << 16);
	sim->hccparams1 = (c->no_ac64 ? 0 : XHCI_HCCPARAMS1_AC64) |
			  (c->csz64 ? XHCI_HCCPARAMS1_CSZ : 0) |
			  (c->ppc ? XHCI_HCCPARAMS1_PPC : 0) |
			  ((SIM_XECP_OFF / 4u) << 16);
	/* HCCPARAMS2 exists from xHCI 1.1 (§5.3.9); LEC lets Max ESIT Payload
	 * exceed 16 bits (§6.2.3). */
	sim->hccparams2 = c->hci_version >= 0x0110 && !c->no_lec ? XHCI_HCCPARAMS2_LEC : 0;

	sim->legacy_off = ~0u;
	if (c->legacy) {
		sim->legacy_off = at;
		sim->xcap[at] = XHCI_XCAP_LEGACY | XHCI_LEGSUP_BIOS_OWNED;
		sim->xcap[at + 1] = 0x1u; /* USB SMI enable, as firmware leaves it */
		prev = at;
		at += 4;
	}
	for (int pass = 0; pass < 2; pass++) {
		bool usb3 = (pass == 0) == c->usb3_first;
		unsigned count = usb3 ? c->usb3_ports : c->usb2_ports;
		unsigned first = (usb3 == c->usb3_first) ? 1 : 1 + (c->usb3_first ? c->usb3_ports : c->usb2_ports);
		if (!count)
			continue;
		if (prev != ~0u)
			sim->xcap[prev] |= (at - prev) << 8;
		prev = at;
		at += sim_xcap_protocol(sim, at, usb3, first, count);
	}
	sim->xcap_len = at;
}

uint32_t sim_mfindex(const struct sim *sim)
{
	if (!sim_running(sim))
		return sim->mfindex_base & 0x3fff;
	return (uint32_t)(sim->mfindex_base + (sim->now - sim->run_start_ns) / 125000) & 0x3fff;
}

/* ------------------------------------------------------------------------ */
/* Reset, run/stop                                                          */

void sim_hc_reset(struct sim *sim)
{
	sim_tracef(sim, "HCRST");
	sim->usbcmd = XHCI_USBCMD_HCRST;
	sim->usbsts = XHCI_USBSTS_HCH | XHCI_USBSTS_CNR;
	sim->dnctrl = 0;
	sim->dcbaap = 0;
	sim->dcbaap_lo = 0;
	sim->config = 0;
	sim->mfindex_base = 0;
	sim->state_saved = false;
	memset(&sim->cmd, 0, sizeof(sim->cmd));
	sim->cmd.due = SIM_NEVER;
	sim_intr_reset(sim);
	sim_slots_reset(sim);
	sim_ports_hc_reset(sim);
	if (sim->hcrst_stuck) {
		sim_tracef(sim, "HCRST will not complete (fault)");
		return;
	}
	sim->ctrl_pending = SIM_CTRL_RESET_DONE;
	sim_schedule(sim, &sim->ctrl_due, sim->now + sim->cfg.reset_us * SIM_US);
}

void sim_fault_hcrst_stuck(struct sim *sim, bool on)
{
	sim->hcrst_stuck = on;
}

void sim_fault_save_restore_error(struct sim *sim, bool save, bool on)
{
	if (save)
		sim->fault_save_sre = on;
	else
		sim->fault_restore_sre = on;
}

void sim_fault_power_lost(struct sim *sim)
{
	sim_log(sim, BU_LOG_INFO, "controller loses power (injected)");
	sim->mfindex_base = sim_mfindex(sim);
	sim_hc_reset(sim);
	/* Power-on, not a reset: USBCMD reads 0; ready after cnr_us. */
	sim->usbcmd = 0;
	sim->ctrl_pending = SIM_CTRL_NONE;
	sim->cnr_until = sim->now + sim->cfg.cnr_us * SIM_US;
	sim_schedule(sim, &sim->ctrl_due, sim->cnr_until);
}

bool sim_pme_take(struct sim *sim)
{
	bool pme = sim->pme;

	sim->pme = false;
	return pme;
}

/*
 * CSS / CRS (§4.23.2, §5.4.1): honoured only while HCH=1 and one at a
 * time; otherwise ignored, as real parts do, and a violation.
 */
static void sim_save_restore(struct sim *sim, uint32_t val)
{
	bool css = val & XHCI_USBCMD_CSS, crs = val & XHCI_USBCMD_CRS;

	if (css && crs) {
		sim_violation_add(sim, "USBCMD written with both CSS and CRS: ignored (xHCI §5.4.1)");
		return;
	}
	if (!(sim->usbsts & XHCI_USBSTS_HCH) || (val & XHCI_USBCMD_RUN)) {
		sim_violation_add(sim, "%s written while the controller runs (HCH=0 or R/S=1): ignored (xHCI §5.4.1: only when HCHalted)",
				  css ? "CSS (Save State)" : "CRS (Restore State)");
		return;
	}
	if (sim->usbsts & (XHCI_USBSTS_SSS | XHCI_USBSTS_RSS)) {
		sim_violation_add(sim, "%s written while a save or restore is still busy (SSS/RSS=1)",
				  css ? "CSS" : "CRS");
		return;
	}
	if (css && !(sim->hccparams2 & XHCI_HCCPARAMS2_FSC)) {
		/* Without Force Save Context the contexts in memory are only
		 * current for stopped endpoints (§4.23.2 step 1). */
		for (unsigned s = 1; s <= sim->nslots; s++)
			for (unsigned dci = 1; sim->slot[s].enabled && dci < 32; dci++)
				if (sim->slot[s].ep[dci].state == XHCI_EP_STATE_RUNNING)
					sim_violation_add(sim, "CSS (Save State) with slot %u DCI %u Running: with HCCPARAMS2.FSC=0 every Running endpoint is stopped first (xHCI 1.2 §4.23.2)",
							  s, dci);
	}
	sim_tracef(sim, "%s", css ? "Save State" : "Restore State");
	sim->usbsts |= css ? XHCI_USBSTS_SSS : XHCI_USBSTS_RSS;
	sim->ctrl_pending = css ? SIM_CTRL_SAVE_DONE : SIM_CTRL_RESTORE_DONE;
	sim_schedule(sim, &sim->ctrl_due,
		     sim->now + (css ? sim->cfg.save_us : sim->cfg.restore_us) * SIM_US);
}

/* The save or restore is done: SRE when it failed (§5.4.2). */
static void sim_save_restore_done(struct sim *sim, bool save)
{
	struct sim_intr *ir = &sim->intr[0];

	if (save) {
		sim->usbsts &= ~XHCI_USBSTS_SSS;
		if (sim->fault_save_sre) {
			sim->fault_save_sre = false;
			sim->state_saved = false;
			sim->usbsts |= XHCI_USBSTS_SRE;
			sim_tracef(sim, "Save State failed (SRE)");
			return;
		}
		sim->saved_enq_seg = ir->enq_seg;
		sim->saved_enq_idx = ir->enq_idx;
		sim->saved_pcs = ir->pcs;
		sim->state_saved = true;
		sim_tracef(sim, "state saved");
		return;
	}
	sim->usbsts &= ~XHCI_USBSTS_RSS;
	if (!sim->state_saved || sim->fault_restore_sre || sim->cfg.restore_always_fails) {
		sim->fault_restore_sre = false;
		sim->usbsts |= XHCI_USBSTS_SRE;
		sim_tracef(sim, "Restore State failed (SRE)%s", sim->state_saved ? "" : ": nothing saved");
		return;
	}
	if (!ir->ready)
		sim_violation_add(sim, "Restore State before the primary interrupter's ERSTSZ/ERSTBA were restored (xHCI §4.23.2)");
	else if (sim->saved_enq_seg < ir->nsegs) {
		/* The internal Event Ring producer comes back with the state
		 * (writing ERSTBA reset it to the start). */
		ir->enq_seg = sim->saved_enq_seg;
		ir->enq_idx = sim->saved_enq_idx;
		ir->pcs = sim->saved_pcs;
	}
	sim->state_saved = false;
	sim_tracef(sim, "state restored");
}

void sim_fault_halt(struct sim *sim)
{
	sim_log(sim, BU_LOG_ERR, "controller halts itself (injected internal error)");
	sim->mfindex_base = sim_mfindex(sim);
	sim->usbcmd &= ~XHCI_USBCMD_RUN;
	sim->usbsts |= XHCI_USBSTS_HCH;
	sim->cmd.crr = false;
	sim->cmd.busy = false;
	sim->ctrl_pending = SIM_CTRL_NONE;
}

/* Check what must be set up before R/S=1 (xHCI §4.2). */
static void sim_check_run(struct sim *sim)
{
	if ((sim->config & 0xff) == 0)
		sim_violation_add(sim, "R/S=1 with CONFIG.MaxSlotsEn=0");
	if (!sim->dcbaap)
		sim_violation_add(sim, "R/S=1 with DCBAAP not programmed");
	if (!sim->intr[0].ready)
		sim_violation_add(sim, "R/S=1 before the primary event ring was set up (ERSTSZ, ERDP, ERSTBA)");
	if (sim->cfg.scratchpads && sim->dcbaap) {
		uint64_t arr = 0;
		if (!sim_dma_read(sim, sim->dcbaap, &arr, 8, "DCBAA[0] (scratchpad array pointer)"))
			return;
		if (!arr || (arr & 63)) {
			sim_violation_add(sim, "R/S=1: DCBAA[0] = %#llx is not a 64-byte aligned scratchpad array (%u buffers needed)",
					  (unsigned long long)arr, sim->cfg.scratchpads);
			return;
		}
		for (unsigned i = 0; i < sim->cfg.scratchpads; i++) {
			uint64_t buf = 0;
			uint8_t probe[4096];
			if (!sim_dma_read(sim, arr + 8ull * i, &buf, 8, "scratchpad array entry"))
				return;
			if (!buf || (buf & 0xfff)) {
				sim_violation_add(sim, "scratchpad buffer %u at %#llx is not page aligned", i,
						  (unsigned long long)buf);
				return;
			}
			if (!sim_dma_probe(sim, buf, sizeof(probe), true, "scratchpad buffer (one page)") ||
			    !sim_dma_read(sim, buf, probe, sizeof(probe), "scratchpad buffer (one page)"))
				return;
		}
	}
}

void sim_ctrl_work(struct sim *sim)
{
	int what = sim->ctrl_pending;

	sim->ctrl_pending = SIM_CTRL_NONE;
	switch (what) {
	case SIM_CTRL_RESET_DONE:
		sim->usbcmd &= ~XHCI_USBCMD_HCRST;
		sim->cnr_until = sim->now + sim->cfg.cnr_us * SIM_US;
		sim_schedule(sim, &sim->ctrl_due, sim->cnr_until);
		return;
	case SIM_CTRL_HALT_DONE:
		sim->usbsts |= XHCI_USBSTS_HCH;
		sim->mfindex_base = sim_mfindex(sim);
		sim->cmd.crr = false;
		sim_tracef(sim, "halted");
		break;
	case SIM_CTRL_SAVE_DONE:
	case SIM_CTRL_RESTORE_DONE:
		sim_save_restore_done(sim, what == SIM_CTRL_SAVE_DONE);
		break;
	case SIM_CTRL_RUN_DONE:
		if (!(sim->usbcmd & XHCI_USBCMD_RUN))
			break;
		sim->usbsts &= ~XHCI_USBSTS_HCH;
		sim->run_start_ns = sim->now;
		sim_tracef(sim, "running");
		sim_ports_running(sim);
		break;
	default:
		break;
	}
	if ((sim->usbsts & XHCI_USBSTS_CNR) && !sim->cnr_stuck &&
	    !(sim->usbcmd & XHCI_USBCMD_HCRST)) {
		if (sim->now >= sim->cnr_until)
			sim->usbsts &= ~XHCI_USBSTS_CNR;
		else
			sim_schedule(sim, &sim->ctrl_due, sim->cnr_until);
	}
}

static void sim_usbcmd_write(struct sim *sim, uint32_t val)
{
	uint32_t old = sim->usbcmd;

	if (val & XHCI_USBCMD_HCRST) {
		if (!(sim->usbsts & XHCI_USBSTS_HCH))
			sim_violation_add(sim, "HCRST written while the controller runs (HCH=0); halt it first (xHCI §5.4.1)");
		sim_hc_reset(sim);
		sim->hcrst_written_ns = sim->now;
		return;
	}
	if (val & (1u << 7))
		sim_violation_add(sim, "LHCRST written but HCCPARAMS1.LHRC=0");
	if (val & (XHCI_USBCMD_CSS | XHCI_USBCMD_CRS))
		sim_save_restore(sim, val);
	/* CSS and CRS read as 0 (§5.4.1). */
	sim->usbcmd = val & ~(XHCI_USBCMD_HCRST | (1u << 7) | XHCI_USBCMD_CSS | XHCI_USBCMD_CRS);
	if ((val & XHCI_USBCMD_RUN) && !(old & XHCI_USBCMD_RUN)) {
		if (sim->usbsts & XHCI_USBSTS_HCE) {
			sim_violation_add(sim, "R/S=1 while HCE is set: reset the controller first");
			sim->usbcmd &= ~XHCI_USBCMD_RUN;
			return;
		}
		if (sim->usbsts & XHCI_USBSTS_HSE)
			sim_violation_add(sim, "R/S=1 while HSE is set");
		sim_check_run(sim);
		sim->ctrl_pending = SIM_CTRL_RUN_DONE;
		sim_schedule(sim, &sim->ctrl_due, sim->now + 5 * SIM_US);
	} else if (!(val & XHCI_USBCMD_RUN) && (old & XHCI_USBCMD_RUN)) {
		sim->ctrl_pending = SIM_CTRL_HALT_DONE;
		sim_schedule(sim, &sim->ctrl_due, sim->now + sim->cfg.halt_us * SIM_US);
	}
}

/* ------------------------------------------------------------------------ */
/* Register decode                                                          */

/*
 * The register at `off` by its xHCI 1.2 name (§5.3 capability, §5.4
 * operational and port, §5.5 runtime, §5.6 doorbell registers), as the
 * model-side trace prints it: "USBCMD", "PORTSC3", "IR0.ERDP.lo", "DB1".
 * The high dword of a 64-bit register is "NAME.hi"; an offset inside no
 * named register is printed relative to its block ("xcap+0x10").
 */
static const char *sim_reg_name(const struct sim *sim, uint32_t off, char *buf, size_t n)
{
	static const struct { uint32_t off; const char *name; } names[] = {
		{ XHCI_CAP_CAPLENGTH, "CAPLENGTH" },    { XHCI_CAP_HCSPARAMS1, "HCSPARAMS1" },
		{ XHCI_CAP_HCSPARAMS2, "HCSPARAMS2" },  { XHCI_CAP_HCSPARAMS3, "HCSPARAMS3" },
		{ XHCI_CAP_HCCPARAMS1, "HCCPARAMS1" },  { XHCI_CAP_DBOFF, "DBOFF" },
		{ XHCI_CAP_RTSOFF, "RTSOFF" },          { XHCI_CAP_HCCPARAMS2, "HCCPARAMS2" },
		{ SIM_OP(XHCI_OP_USBCMD), "USBCMD" },   { SIM_OP(XHCI_OP_USBSTS), "USBSTS" },
		{ SIM_OP(XHCI_OP_PAGESIZE), "PAGESIZE" }, { SIM_OP(XHCI_OP_DNCTRL), "DNCTRL" },
		{ SIM_OP(XHCI_OP_CRCR), "CRCR.lo" },    { SIM_OP(XHCI_OP_CRCR) + 4, "CRCR.hi" },
		{ SIM_OP(XHCI_OP_DCBAAP), "DCBAAP.lo" }, { SIM_OP(XHCI_OP_DCBAAP) + 4, "DCBAAP.hi" },
		{ SIM_OP(XHCI_OP_CONFIG), "CONFIG" },   { SIM_RT_OFF, "MFINDEX" },
	};
	static const char *const port_regs[4] = { "PORTSC", "PORTPMSC", "PORTLI", "PORTHLPMC" };
	static const struct { uint32_t off; const char *name; } ir_regs[] = {
		{ XHCI_IR_IMAN, "IMAN" },           { XHCI_IR_IMOD, "IMOD" },
		{ XHCI_IR_ERSTSZ, "ERSTSZ" },       { XHCI_IR_ERSTBA, "ERSTBA.lo" },
		{ XHCI_IR_ERSTBA + 4, "ERSTBA.hi" }, { XHCI_IR_ERDP, "ERDP.lo" },
		{ XHCI_IR_ERDP + 4, "ERDP.hi" },
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (names[i].off == off)
			return names[i].name;
	if (off < SIM_CAPLENGTH) {
		snprintf(buf, n, "cap+%#x", off);
	} else if (off >= SIM_OP(0x400) && off < SIM_OP(0x400 + 0x10 * SIM_MAX_PORTS)) {
		unsigned rel = off - SIM_OP(0x400);

		if (rel % 4 == 0)
			snprintf(buf, n, "%s%u", port_regs[rel % 16 / 4], rel / 16 + 1);
		else
			snprintf(buf, n, "PORT%u+%#x", rel / 16 + 1, rel % 16);
	} else if (off >= SIM_XECP_OFF && off < SIM_DB_OFF) {
		unsigned idx = (off - SIM_XECP_OFF) / 4;

		/* xHCI 1.2 §7.1.1 / §7.1.2: the legacy support capability's two dwords. */
		if (off % 4 == 0 && sim->legacy_off != ~0u && idx == sim->legacy_off)
			snprintf(buf, n, "USBLEGSUP");
		else if (off % 4 == 0 && sim->legacy_off != ~0u && idx == sim->legacy_off + 1)
			snprintf(buf, n, "USBLEGCTLSTS");
		else
			snprintf(buf, n, "xcap+%#x", off - SIM_XECP_OFF);
	} else if (off >= SIM_DB_OFF && off < SIM_RT_OFF) {
		snprintf(buf, n, "DB%u", (off - SIM_DB_OFF) / 4);
	} else if (off >= SIM_RT_OFF + 0x20) {
		unsigned rel = (off - SIM_RT_OFF - 0x20) % 32;
		const char *reg = NULL;

		for (size_t i = 0; i < sizeof(ir_regs) / sizeof(ir_regs[0]); i++)
			if (ir_regs[i].off == rel)
				reg = ir_regs[i].name;
		if (reg)
			snprintf(buf, n, "IR%u.%s", (off - SIM_RT_OFF - 0x20) / 32, reg);
		else
			snprintf(buf, n, "IR%u+%#x", (off - SIM_RT_OFF - 0x20) / 32, rel);
	} else {
		snprintf(buf, n, "%#x", off);
	}
	return buf;
}

static uint32_t sim_read_raw(struct sim *sim, uint32_t off)
{
	if (off < SIM_CAPLENGTH) {
		switch (off) {
		case XHCI_CAP_CAPLENGTH:
			return SIM_CAPLENGTH | ((uint32_t)sim->cfg.hci_version << 16);
		case XHCI_CAP_HCSPARAMS1:
			return sim->hcsparams1;
		case XHCI_CAP_HCSPARAMS2:
			return sim->hcsparams2;
		case XHCI_CAP_HCSPARAMS3:
			return sim->hcsparams3;
		case XHCI_CAP_HCCPARAMS1:
			return sim->hccparams1;
		case XHCI_CAP_DBOFF:
			return SIM_DB_OFF;
		case XHCI_CAP_RTSOFF:
			return SIM_RT_OFF;
		case XHCI_CAP_HCCPARAMS2:
			return sim->hccparams2;
		default:
			return 0;
		}
	}
	if (off < SIM_OP(0x400)) {
		switch (off - SIM_CAPLENGTH) {
		case XHCI_OP_USBCMD:
			return sim->usbcmd;
		case XHCI_OP_USBSTS:
			return sim->usbsts;
		case XHCI_OP_PAGESIZE:
			return 1;
		case XHCI_OP_DNCTRL:
			return sim->dnctrl;
		case XHCI_OP_CRCR:
			return sim->cmd.crr ? XHCI_CRCR_CRR : 0;
		case XHCI_OP_DCBAAP:
			return (uint32_t)sim->dcbaap;
		case XHCI_OP_DCBAAP + 4:
			return (uint32_t)(sim->dcbaap >> 32);
		case XHCI_OP_CONFIG:
			return sim->config;
		default:
			return 0;
		}
	}
	if (off < SIM_OP(0x400 + 0x10 * sim->nports)) {
		unsigned rel = off - SIM_OP(0x400);
		return sim_port_read(sim, rel / 16 + 1, rel % 16);
	}
	if (off >= SIM_XECP_OFF && off < SIM_XECP_OFF + 4 * sim->xcap_len)
		return sim->xcap[(off - SIM_XECP_OFF) / 4];
	if (off >= SIM_DB_OFF && off < SIM_RT_OFF)
		return 0;
	if (off == SIM_RT_OFF)
		return sim_mfindex(sim);
	if (off >= SIM_RT_OFF + 0x20 && off < SIM_RT_OFF + 0x20 + 0x20 * sim->nintrs) {
		struct sim_intr *ir = &sim->intr[(off - SIM_RT_OFF - 0x20) / 32];
		switch ((off - SIM_RT_OFF - 0x20) % 32) {
		case XHCI_IR_IMAN:
			return ir->iman;
		case XHCI_IR_IMOD: {
			uint32_t left = 0;
			if (ir->imod_end > sim->now)
				left = (uint32_t)((ir->imod_end - sim->now) / 250);
			return (ir->imod & 0xffff) | ((left > 0xffff ? 0xffff : left) << 16);
		}
		case XHCI_IR_ERSTSZ:
			return ir->erstsz;
		case XHCI_IR_ERSTBA:
			return (uint32_t)ir->erstba;
		case XHCI_IR_ERSTBA + 4:
			return (uint32_t)(ir->erstba >> 32);
		case XHCI_IR_ERDP:
			return (uint32_t)ir->erdp;
		case XHCI_IR_ERDP + 4:
			return (uint32_t)(ir->erdp >> 32);
		default:
			return 0;
		}
	}
	return 0;
}

/**
 * The RsvdP bits set in `off` when sim_config.rsvdp_ones (one of each
 * register's RsvdP fields), 0 for other registers or without it.
 */
static uint32_t sim_rsvdp_ones(const struct sim *sim, uint32_t off)
{
	if (!sim->cfg.rsvdp_ones)
		return 0;
	if (off == SIM_OP(XHCI_OP_USBCMD))
		return 1u << 20; /* 31:17 */
	if (off == SIM_OP(XHCI_OP_CONFIG))
		return 1u << 16; /* 31:10 */
	if (off == SIM_RT_OFF + 0x20 + XHCI_IR_IMAN)
		return 1u << 8;  /* 31:2 */
	if (off == SIM_RT_OFF + 0x20 + XHCI_IR_ERSTSZ)
		return 1u << 24; /* 31:16 */
	return 0;
}

uint32_t sim_mmio_read(struct sim *sim, uint32_t off)
{
	uint32_t v = sim_read_raw(sim, off) | sim_rsvdp_ones(sim, off);
	char nb[32];

	if (sim->trace && off != SIM_OP(XHCI_OP_USBSTS))
		sim_tracef(sim, "MMIO R %s = 0x%08x", sim_reg_name(sim, off, nb, sizeof(nb)), v);
	return v;
}

static void sim_legacy_write(struct sim *sim, unsigned idx, uint32_t val)
{
	uint32_t *x = &sim->xcap[sim->legacy_off];

	if (idx == 0) {
		uint32_t keep = x[0] & 0xffffu;
		bool os_new = (val & XHCI_LEGSUP_OS_OWNED) && !(x[0] & XHCI_LEGSUP_OS_OWNED);
		x[0] = keep | (val & (XHCI_LEGSUP_BIOS_OWNED | XHCI_LEGSUP_OS_OWNED)) |
		       (x[0] & 0x00fe0000u) | (x[0] & 0xfe000000u);
		if (os_new && (x[0] & XHCI_LEGSUP_BIOS_OWNED) && !sim->cfg.bios_never_releases)
			sim_schedule(sim, &sim->bios_due, sim->now + sim->cfg.bios_release_us * SIM_US);
		return;
	}
	if (idx == 1) {
		uint32_t rw = (1u << 0) | (1u << 4) | (1u << 13) | (1u << 14) | (1u << 15);
		x[1] = (x[1] & ~rw & ~(val & 0xe0000000u)) | (val & rw);
		return;
	}
	sim_violation_add(sim, "write to read-only extended capability dword %u", idx);
}

void sim_mmio_write(struct sim *sim, uint32_t off, uint32_t val)
{
	char nb[32];
	const char *name = sim_reg_name(sim, off, nb, sizeof(nb));

	sim_tracef(sim, "MMIO W %s = 0x%08x", name, val);
	if ((val & sim_rsvdp_ones(sim, off)) != sim_rsvdp_ones(sim, off))
		sim_violation_add(sim, "%s written as %#x: RsvdP bits not preserved (xHCI §5.1)", name,
				  val);
	val &= ~sim_rsvdp_ones(sim, off);
	if (off >= SIM_XECP_OFF && off < SIM_XECP_OFF + 4 * sim->xcap_len) {
		unsigned idx = (off - SIM_XECP_OFF) / 4;
		if (sim->legacy_off != ~0u && idx >= sim->legacy_off && idx < sim->legacy_off + 2)
			sim_legacy_write(sim, idx - sim->legacy_off, val);
		else
			sim_violation_add(sim, "write %#x to read-only extended capability %s", val, name);
		return;
	}
	if (off < SIM_CAPLENGTH) {
		sim_violation_add(sim, "write %#x to read-only capability register %s", val, name);
		return;
	}
	if ((sim->usbsts & XHCI_USBSTS_CNR) && off != SIM_OP(XHCI_OP_USBSTS)) {
		sim_violation_add(sim, "write %#x to %s while USBSTS.CNR=1 (xHCI §5.4.2: only USBSTS may be written)",
				  val, name);
		return;
	}
	if (off < SIM_OP(0x400)) {
		switch (off - SIM_CAPLENGTH) {
		case XHCI_OP_USBCMD:
			sim_usbcmd_write(sim, val);
			return;
		case XHCI_OP_USBSTS:
			sim->usbsts &= ~(val & XHCI_USBSTS_RW1C);
			return;
		case XHCI_OP_DNCTRL:
			sim->dnctrl = val & 0xffff;
			return;
		case XHCI_OP_CRCR:
			sim_cmd_crcr(sim, val, 0, false);
			return;
		case XHCI_OP_CRCR + 4:
			sim_cmd_crcr(sim, sim->cmd.crcr_lo, val, true);
			return;
		case XHCI_OP_DCBAAP:
			sim->dcbaap_lo = val;
			return;
		case XHCI_OP_DCBAAP + 4:
			if (!(sim->usbsts & XHCI_USBSTS_HCH))
				sim_violation_add(sim, "DCBAAP written while running");
			if (sim->dcbaap_lo & 0x3f)
				sim_violation_add(sim, "DCBAAP %#x: bits 5:0 are RsvdZ (64-byte alignment)",
						  sim->dcbaap_lo);
			if (val && !(sim->hccparams1 & XHCI_HCCPARAMS1_AC64))
				sim_violation_add(sim, "DCBAAP high dword %#x with AC64=0", val);
			sim->dcbaap = ((uint64_t)val << 32) | (sim->dcbaap_lo & ~0x3fu);
			return;
		case XHCI_OP_CONFIG:
			if (!(sim->usbsts & XHCI_USBSTS_HCH))
				sim_violation_add(sim, "CONFIG written while running");
			if ((val & 0xff) > sim->nslots)
				sim_violation_add(sim, "CONFIG.MaxSlotsEn=%u > MaxSlots=%u", val & 0xff,
						  sim->nslots);
			if (val & (1u << 9))
				sim_violation_add(sim, "CONFIG.CIE set but HCCPARAMS2.CIC=0");
			sim->config = val;
			return;
		default:
			sim_violation_add(sim, "write %#x to reserved operational register %s", val, name);
			return;
		}
	}
	if (off < SIM_OP(0x400 + 0x10 * sim->nports)) {
		unsigned rel = off - SIM_OP(0x400);
		sim_port_write(sim, rel / 16 + 1, rel % 16, val);
		return;
	}
	if (off >= SIM_DB_OFF && off < SIM_DB_OFF + 4 * (sim->nslots + 1)) {
		unsigned n = (off - SIM_DB_OFF) / 4;
		if (!sim_running(sim)) {
			sim_log(sim, BU_LOG_WARN, "doorbell %u = %#x ignored: controller halted", n, val);
			return;
		}
		if (n == 0)
			sim_cmd_doorbell(sim);
		if (n == 0 && val != 0)
			sim_violation_add(sim, "DB0 written with %#x: the command ring doorbell takes 0", val);
		if (n > 0)
			sim_ep_doorbell(sim, n, val);
		return;
	}
	if (off == SIM_RT_OFF) {
		sim_violation_add(sim, "write to read-only MFINDEX");
		return;
	}
	if (off >= SIM_RT_OFF + 0x20 && off < SIM_RT_OFF + 0x20 + 0x20 * sim->nintrs) {
		unsigned n = (off - SIM_RT_OFF - 0x20) / 32;
		struct sim_intr *ir = &sim->intr[n];
		switch ((off - SIM_RT_OFF - 0x20) % 32) {
		case XHCI_IR_IMAN:
			ir->iman = (ir->iman & ~XHCI_IMAN_IE & ~(val & XHCI_IMAN_IP)) |
				   (val & XHCI_IMAN_IE);
			return;
		case XHCI_IR_IMOD:
			ir->imod = val;
			if (val >> 16)
				ir->imod_end = sim->now + (uint64_t)(val >> 16) * 250;
			return;
		case XHCI_IR_ERSTSZ:
			if (n == 0 && !(sim->usbsts & XHCI_USBSTS_HCH))
				sim_violation_add(sim, "ERSTSZ of the primary interrupter written while running");
			ir->erstsz = val & 0xffff;
			return;
		case XHCI_IR_ERSTBA:
			ir->erstba = (ir->erstba & ~0xffffffffull) | val;
			return;
		case XHCI_IR_ERSTBA + 4:
			if (n == 0 && !(sim->usbsts & XHCI_USBSTS_HCH))
				sim_violation_add(sim, "ERSTBA of the primary interrupter written while running");
			ir->erstba = (ir->erstba & 0xffffffffull) | ((uint64_t)val << 32);
			sim_intr_erstba(sim, n);
			return;
		case XHCI_IR_ERDP:
			sim_intr_erdp(sim, n, (ir->erdp & ~0xffffffffull) | val);
			return;
		case XHCI_IR_ERDP + 4:
			sim_intr_erdp(sim, n, (ir->erdp & 0xffffffffull & ~(uint64_t)XHCI_ERDP_EHB) |
						     ((uint64_t)val << 32));
			return;
		default:
			sim_violation_add(sim, "write %#x to reserved runtime register %s", val, name);
			return;
		}
	}
	sim_violation_add(sim, "write %#x to unimplemented register offset %#x", val, off);
}
