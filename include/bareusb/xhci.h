/*
 * bareusb xHCI host-controller driver: public entry points.
 *
 * The driver takes a register window and a platform table, nothing else:
 * PCI discovery is the embedder's (guest/pci.c is one example), and the
 * in-process model in sim/ hands it a simulated window.
 */
#ifndef BAREUSB_XHCI_H
#define BAREUSB_XHCI_H

#include <stdbool.h>
#include <stdint.h>

#include "bareusb/platform.h"
#include "bareusb/usb.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Options for bu_xhci_create; zero-initialise for defaults. */
struct bu_xhci_options {
	uint32_t event_ring_trbs;   /**< event ring size (0 = 256; QEMU: 16..4096) */
	uint32_t cmd_ring_trbs;     /**< command ring size (0 = 64) */
	uint32_t xfer_ring_trbs;    /**< per-endpoint transfer ring (0 = 256) */
	uint32_t handoff_timeout_ms; /**< BIOS handoff wait (0 = 1000) */
	uint32_t reset_timeout_ms;  /**< HCRST/CNR wait (0 = 1000) */
	uint32_t cmd_timeout_ms;    /**< command completion wait (0 = 5000) */
	bool trace;                 /**< log every TRB and event at BU_LOG_TRACE */
	/**
	 * Interrupt-driven use: enable the primary interrupter (IMAN.IE and
	 * USBCMD.INTE) so the controller raises its interrupt (MSI/MSI-X or
	 * INTx, the embedder's to route) for events; the handler calls
	 * bu_xhci_irq and schedules bu_usb_bus_poll. Off: polled only.
	 */
	bool irq;
	/** Interrupt moderation, IMOD.IMODI in 250 ns units (0 = 160, 40 us). */
	uint16_t imod_interval;
};

/**
 * Take over the controller at `regs` (its BAR0 mapping): BIOS handoff,
 * halt, reset, set up DCBAA, scratchpads, rings and ports, start it, and
 * create its USB bus. On success *busp belongs to the caller (destroy with
 * bu_usb_bus_destroy). `index` is the bus number printed in usbdev lines.
 */
int bu_xhci_create(uintptr_t regs, const struct bu_platform *plat,
		   const struct bu_xhci_options *opts, unsigned index,
		   struct bu_usb_bus **busp);

/**
 * Interrupt handler part (with bu_xhci_options.irq): acknowledge the
 * controller's interrupt (USBSTS.EINT, IMAN.IP) and return true if it was
 * this controller's, false if not (a shared line). Touches registers only:
 * safe in interrupt context, without the embedder's lock. The events
 * themselves are handled by the next bu_usb_bus_poll, which the embedder
 * runs outside the interrupt; until then the controller blocks further
 * interrupts for them (ERDP.EHB).
 */
bool bu_xhci_irq(struct bu_usb_bus *bus);
/** Turn TRB/event tracing on or off at run time. */
void bu_xhci_set_trace(struct bu_usb_bus *bus, bool on);

/** Log a decoded dump of the controller's registers and port states. */
void bu_xhci_dump(struct bu_usb_bus *bus);

#ifdef __cplusplus
}
#endif

#endif
