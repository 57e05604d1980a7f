/*
 * System sleep of the controller (xHCI 1.2 §4.23.2, Suspend-Resume): the
 * controller half of bu_usb_bus_suspend / bu_usb_bus_resume (core/sleep.c
 * suspends and resumes the devices). Suspend: every Running endpoint
 * stopped (without Force Save Context), the root ports' wake enables
 * (PORTSC WCE/WDE/WOE, §4.15, §5.4.8), R/S=0 until HCHalted, the
 * Operational and interrupter registers software must restore read and
 * kept, then Save State (USBCMD.CSS; USBSTS.SSS busy; SRE on failure).
 * Resume: those registers written back while halted, Restore State
 * (USBCMD.CRS; USBSTS.RSS busy), and, when SRE says the restore failed or
 * the controller lost power meanwhile (CNR set, or DCBAAP reset to 0),
 * the state is reported lost: the core releases every device (at once:
 * the controller touches nothing while halted) and bus_reinit sets the
 * controller up from scratch. QEMU's qemu-xhci takes CSS without saving
 * anything and answers every CRS with SRE, so there the second path runs
 * every time.
 *
 * Reading order: the wake enables and the wake check, suspend, resume,
 * re-initialisation.
 */
#include "xhci_priv.h"

#include "bareusb/errors.h"
#include "bareusb/util.h"

/* §5.4.2: SSS and RSS clear when the save or restore is done; Linux's
 * xhci_suspend and xhci_resume allow 10 ms each (XHCI_MAX_HALT_USEC is
 * 16 ms); 20 ms, as for the halt. */
#define XHCI_SAVE_RESTORE_TIMEOUT_US 20000
/* §5.4.1: HCH within 16 ms of R/S=0 (xhci.c's own halt uses the same bound). */
#define XHCI_PM_HALT_TIMEOUT_US 20000

#define XHCI_PORTSC_WAKE_MASK (XHCI_PORTSC_WCE | XHCI_PORTSC_WDE | XHCI_PORTSC_WOE)

/* ======================================================================== */
/* Wake enables and the wake check (§4.15, §5.4.8)                          */
/* ======================================================================== */

/** Set every port's WCE/WDE/WOE to `bits`, acknowledging no change bit. */
static void ports_wake_set(struct xhci *x, uint32_t bits)
{
	for (unsigned p = 1; p <= x->max_ports; p++) {
		uint32_t v = xhci_op_rd(x, XHCI_OP_PORTSC(p));

		if (v == 0xffffffffu)
			return;
		if ((v & XHCI_PORTSC_WAKE_MASK) == bits)
			continue;
		xhci_op_wr(x, XHCI_OP_PORTSC(p),
			   (v & XHCI_PORTSC_PRESERVE & ~XHCI_PORTSC_WAKE_MASK) | bits);
	}
}

unsigned bu_xhci_bus_wake_check(struct bu_usb_bus *bus, enum bu_usb_wake_kind *kind)
{
	struct xhci *x = bus_xhci(bus);

	for (unsigned p = 1; p <= x->max_ports; p++) {
		uint32_t v = xhci_op_rd(x, XHCI_OP_PORTSC(p));

		if (v == 0xffffffffu)
			return 0;
		/* §4.15.2.3: a remote wakeup moves a U3 port to Resume and
		 * sets PLC (a USB 3 port may already show U0). */
		if ((v & XHCI_PORTSC_PLC) && (XHCI_PORTSC_PLS(v) == XHCI_PLS_RESUME ||
					      XHCI_PORTSC_PLS(v) == XHCI_PLS_U0)) {
			*kind = BU_WAKE_REMOTE;
			return p;
		}
		if ((v & XHCI_PORTSC_CSC) && (v & XHCI_PORTSC_CCS) && (v & XHCI_PORTSC_WCE)) {
			*kind = BU_WAKE_CONNECT;
			return p;
		}
		if ((v & XHCI_PORTSC_CSC) && !(v & XHCI_PORTSC_CCS) && (v & XHCI_PORTSC_WDE)) {
			*kind = BU_WAKE_DISCONNECT;
			return p;
		}
		if ((v & XHCI_PORTSC_OCC) && (v & XHCI_PORTSC_WOE)) {
			*kind = BU_WAKE_OVERCURRENT;
			return p;
		}
	}
	return 0;
}

/* ======================================================================== */
/* Suspend (§4.23.2 steps 1-4)                                              */
/* ======================================================================== */

/**
 * §4.23.2 step 1: without Force Save Context (HCCPARAMS2.FSC; no
 * HCCPARAMS2 before xHCI 1.1) every Running endpoint, idle ones too, is
 * stopped before Save State, so that its context in memory is current.
 * Those not stopped yet get a Stop Endpoint (held paused, marked to be
 * let go after the restore); BU_EBUSY while any went out.
 */
static int pm_stop_endpoints(struct xhci *x)
{
	bool sent = false;

	if (x->hccparams2 & XHCI_HCCPARAMS2_FSC)
		return 0;
	for (unsigned s = 1; s <= x->max_slots && s < 256; s++) {
		struct xhci_dev *d = x->slots[s];

		for (unsigned dci = 1; d && d->udev && dci < 32; dci++) {
			struct xhci_ep *ep = d->eps[dci];

			if (!ep || !ep->uep || ep->paused)
				continue;
			if (bu_xhci_ep_pause(ep->uep, NULL, NULL) == 0) {
				ep->sleep_paused = true;
				sent = true;
			}
		}
	}
	return sent ? BU_EBUSY : 0;
}

/** After a restore: the endpoints pm_stop_endpoints stopped may run again. */
static void pm_restart_endpoints(struct xhci *x)
{
	for (unsigned s = 1; s <= x->max_slots && s < 256; s++) {
		struct xhci_dev *d = x->slots[s];

		for (unsigned dci = 1; d && dci < 32; dci++) {
			struct xhci_ep *ep = d->eps[dci];

			if (!ep || !ep->sleep_paused)
				continue;
			ep->sleep_paused = false;
			if (ep->uep)
				bu_xhci_ep_unpause(ep->uep);
		}
	}
}

/** Read what §4.23.2 has software restore: USBCMD, DNCTRL, CONFIG, DCBAAP, interrupter 0. */
static void pm_save_regs(struct xhci *x)
{
	uintptr_t ir = x->rt + XHCI_RT_IR(0);

	x->pm.usbcmd = xhci_op_rd(x, XHCI_OP_USBCMD);
	x->pm.dnctrl = xhci_op_rd(x, XHCI_OP_DNCTRL);
	x->pm.config = xhci_op_rd(x, XHCI_OP_CONFIG);
	x->pm.dcbaap = xhci_op_rd(x, XHCI_OP_DCBAAP) |
		       (uint64_t)xhci_op_rd(x, XHCI_OP_DCBAAP + 4) << 32;
	x->pm.iman = xhci_rd32(x, ir + XHCI_IR_IMAN);
	x->pm.imod = xhci_rd32(x, ir + XHCI_IR_IMOD);
	x->pm.erstsz = xhci_rd32(x, ir + XHCI_IR_ERSTSZ);
	x->pm.erstba = xhci_rd32(x, ir + XHCI_IR_ERSTBA) |
		       (uint64_t)xhci_rd32(x, ir + XHCI_IR_ERSTBA + 4) << 32;
	x->pm.erdp = xhci_rd32(x, ir + XHCI_IR_ERDP) |
		     (uint64_t)xhci_rd32(x, ir + XHCI_IR_ERDP + 4) << 32;
}

int bu_xhci_bus_suspend(struct bu_usb_bus *bus, unsigned wake)
{
	struct xhci *x = bus_xhci(bus);
	uint32_t bits = 0, usbcmd;
	int rc;

	if (x->failed)
		return BU_ESHUTDOWN;
	/* Nothing may be owed: a command or a Disable Slot still out. */
	if (x->cmd_ring.enq != x->cmd_ring.deq || x->disabling || pm_stop_endpoints(x))
		return BU_EBUSY;
	if (wake & BU_SLEEP_WAKE_CONNECT)
		bits |= XHCI_PORTSC_WCE;
	if (wake & BU_SLEEP_WAKE_DISCONNECT)
		bits |= XHCI_PORTSC_WDE;
	if (wake & BU_SLEEP_WAKE_OVERCURRENT)
		bits |= XHCI_PORTSC_WOE;
	ports_wake_set(x, bits);
	/* USBCMD as it runs: the halt clears INTE along with R/S. */
	usbcmd = xhci_op_rd(x, XHCI_OP_USBCMD);
	rc = bu_xhci_hc_halt(x);
	if (rc) {
		bu_xhci_log(x, BU_LOG_ERR, "did not halt for suspend (%s)", bu_strerror(rc));
		ports_wake_set(x, 0);
		return rc;
	}
	pm_save_regs(x);
	x->pm.usbcmd = usbcmd & ~(XHCI_USBCMD_RUN | XHCI_USBCMD_CSS | XHCI_USBCMD_CRS);
	/* The Command Ring is idle: it starts over at its first TRB, the
	 * only place CRCR can point at on the way back. */
	bu_xhci_cmd_ring_restart(x);
	x->pm.suspended = true;
	x->pm.lost = false;
	/* CSS only with HCH=1 (§5.4.1: otherwise undefined); SSS while it saves. */
	xhci_op_wr(x, XHCI_OP_USBCMD,
		   (x->pm.usbcmd & ~(XHCI_USBCMD_RUN | XHCI_USBCMD_CRS)) | XHCI_USBCMD_CSS);
	rc = bu_xhci_hc_wait(x, XHCI_OP_USBSTS, XHCI_USBSTS_SSS, 0,
			     XHCI_SAVE_RESTORE_TIMEOUT_US);
	x->pm.saved = rc == 0 && !(xhci_op_rd(x, XHCI_OP_USBSTS) & XHCI_USBSTS_SRE);
	if (!x->pm.saved) {
		/* §4.23.2: SRE after a save means it failed; the resume
		 * re-initialises. Not an error for the suspend itself. */
		bu_xhci_log(x, BU_LOG_WARN, "Save State failed (%s)",
			    rc ? "SSS stuck" : "USBSTS.SRE");
		xhci_op_wr(x, XHCI_OP_USBSTS, XHCI_USBSTS_SRE);
		return 1;
	}
	return 0;
}

/* ======================================================================== */
/* Resume (§4.23.2 steps 5-9)                                               */
/* ======================================================================== */

/** Whether the controller lost power (or was reset) since the suspend. */
static bool pm_power_lost(struct xhci *x, uint32_t sts)
{
	uint64_t dcbaap = xhci_op_rd(x, XHCI_OP_DCBAAP) |
			  (uint64_t)xhci_op_rd(x, XHCI_OP_DCBAAP + 4) << 32;

	/* After power-on CNR is 1 until it is ready, and every register
	 * holds its reset value (§5.4.2, §5.4.6: DCBAAP 0). */
	return (sts & XHCI_USBSTS_CNR) || !(sts & XHCI_USBSTS_HCH) || dcbaap != x->pm.dcbaap;
}

/** Write back the saved registers, the Command Ring at its enqueue position (§4.23.2). */
static void pm_restore_regs(struct xhci *x)
{
	uintptr_t ir = x->rt + XHCI_RT_IR(0);
	/* CRCR reads its pointer as 0 (§5.4.5): the ring restarted at its start. */
	uint64_t crcr = x->cmd_ring.bus | XHCI_CRCR_RCS;

	xhci_op_wr(x, XHCI_OP_USBCMD, x->pm.usbcmd & ~(XHCI_USBCMD_RUN | XHCI_USBCMD_CSS |
						       XHCI_USBCMD_CRS));
	xhci_op_wr(x, XHCI_OP_DNCTRL, x->pm.dnctrl);
	bu_xhci_hc_wr64(x, x->op + XHCI_OP_CRCR, crcr);
	bu_xhci_hc_wr64(x, x->op + XHCI_OP_DCBAAP, x->pm.dcbaap);
	xhci_op_wr(x, XHCI_OP_CONFIG, x->pm.config);
	xhci_wr32(x, ir + XHCI_IR_ERSTSZ, x->pm.erstsz);
	bu_xhci_hc_wr64(x, ir + XHCI_IR_ERSTBA, x->pm.erstba);
	bu_xhci_hc_wr64(x, ir + XHCI_IR_ERDP, x->pm.erdp & ~(uint64_t)XHCI_ERDP_EHB);
	xhci_wr32(x, ir + XHCI_IR_IMOD, x->pm.imod);
	xhci_wr32(x, ir + XHCI_IR_IMAN, (xhci_rd32(x, ir + XHCI_IR_IMAN) & XHCI_IMAN_RSVDP) |
						(x->pm.iman & XHCI_IMAN_IE) | XHCI_IMAN_IP);
}

/** The state is gone: the core releases every slot at once, then bus_reinit. */
static int pm_lost(struct xhci *x, const char *why)
{
	bu_xhci_log(x, BU_LOG_INFO, "controller state lost (%s): re-initialising", why);
	x->pm.lost = true;
	return 1;
}

int bu_xhci_bus_resume(struct bu_usb_bus *bus)
{
	struct xhci *x = bus_xhci(bus);
	uint32_t sts;
	int rc;

	if (!x->pm.suspended)
		return BU_EINVAL;
	x->pm.suspended = false;
	sts = xhci_op_rd(x, XHCI_OP_USBSTS);
	if (sts == 0xffffffffu) {
		bu_xhci_fail(x, "controller vanished during suspend");
		return BU_ENODEV;
	}
	if (pm_power_lost(x, sts))
		return pm_lost(x, "power lost");
	if (!x->pm.saved)
		return pm_lost(x, "nothing saved");
	ports_wake_set(x, 0);
	pm_restore_regs(x);
	/* CRS only with HCH=1 (§5.4.1); RSS while it restores, SRE on failure. */
	xhci_op_wr(x, XHCI_OP_USBCMD, (x->pm.usbcmd & ~(XHCI_USBCMD_RUN | XHCI_USBCMD_CSS)) |
					      XHCI_USBCMD_CRS);
	rc = bu_xhci_hc_wait(x, XHCI_OP_USBSTS, XHCI_USBSTS_RSS, 0,
			     XHCI_SAVE_RESTORE_TIMEOUT_US);
	if (rc)
		return pm_lost(x, "RSS stuck");
	if (xhci_op_rd(x, XHCI_OP_USBSTS) & XHCI_USBSTS_SRE) {
		xhci_op_wr(x, XHCI_OP_USBSTS, XHCI_USBSTS_SRE);
		return pm_lost(x, "Restore State Error");
	}
	xhci_op_wr(x, XHCI_OP_USBCMD, (x->pm.usbcmd & ~(XHCI_USBCMD_CSS | XHCI_USBCMD_CRS)) |
					      XHCI_USBCMD_RUN);
	rc = bu_xhci_hc_wait(x, XHCI_OP_USBSTS, XHCI_USBSTS_HCH, 0, XHCI_PM_HALT_TIMEOUT_US);
	if (rc) {
		bu_xhci_log(x, BU_LOG_ERR, "did not run after Restore State");
		return pm_lost(x, "not running");
	}
	pm_restart_endpoints(x);
	return 0;
}

/* ======================================================================== */
/* Re-initialisation                                                        */
/* ======================================================================== */

int bu_xhci_bus_reinit(struct bu_usb_bus *bus)
{
	struct xhci *x = bus_xhci(bus);
	int rc;

	if (!x->pm.lost)
		return BU_EINVAL;
	rc = bu_xhci_hc_reinit(x);
	x->pm.lost = false;
	if (!rc)
		ports_wake_set(x, 0); /* sticky (RWS): HCRST keeps them */
	if (rc)
		bu_xhci_fail(x, "re-initialisation after resume failed");
	return rc;
}
