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

/**
 * Controller quirks: behaviours of real parts that differ from the xHCI
 * specification, or that a driver must work around. bu_xhci_create looks
 * them up by the PCI identity in bu_xhci_options.pci (the table and each
 * entry's public source are in hcd/xhci_quirks.c); an embedder may also
 * force any of them on or off (quirks_on, quirks_off).
 */
enum bu_xhci_quirk {
	/** Intel 7/8/9-series PCH: root ports are routed to the EHCI until
	 * USB3_PSSEN/XUSB2PR (PCI config 0xD8/0xD0) switch them; needs the
	 * config-space accessors. Restored on destroy. */
	BU_XHCI_QUIRK_INTEL_PORT_SWITCH = 1u << 0,
	/** AC64 is advertised but DMA above 4 GiB fails: 32-bit DMA only. */
	BU_XHCI_QUIRK_NO_64BIT_DMA = 1u << 1,
	/** Reset Endpoint with TSP (soft retry) is broken: never use it. */
	BU_XHCI_QUIRK_NO_SOFT_RETRY = 1u << 2,
	/** xHCI 0.96 (AMD): Link TRBs of isochronous rings keep the chain bit. */
	BU_XHCI_QUIRK_ISOC_LINK_CHAIN = 1u << 3,
	/** Compliance Mode is entered without CAS: a USB 3 port with
	 * PLS=Compliance (and CCS=0) is warm-reset by the driver. */
	BU_XHCI_QUIRK_MISSING_CAS = 1u << 4,
	/** The controller prefetches TRBs past a ring's Link TRB: every
	 * ring is followed by a guard of mapped, zeroed TRBs. */
	BU_XHCI_QUIRK_RING_GUARD = 1u << 5,
	/** The Protocol Speed ID tables are bogus: use the default PSIVs. */
	BU_XHCI_QUIRK_BROKEN_PSI = 1u << 6,
	/** Registers must not be touched for 1 ms after HCRST is set. */
	BU_XHCI_QUIRK_RESET_DELAY = 1u << 7,
};

/**
 * The controller's PCI identity and config space, for the quirk table.
 * vendor 0: unknown (no PCI quirk applies). The accessors may be NULL when
 * no quirk in use needs config space.
 */
struct bu_xhci_pci {
	uint16_t vendor, device;
	uint16_t subsys_vendor, subsys_device;
	uint8_t revision;
	/** Read/write a dword of the controller's PCI config space at `off`. */
	uint32_t (*cfg_read32)(void *ctx, unsigned off);
	void (*cfg_write32)(void *ctx, unsigned off, uint32_t val);
	void *cfg_ctx;
};

/** Options for bu_xhci_create; zero-initialise for defaults. */
struct bu_xhci_options {
	/**
	 * TRBs per Event Ring segment (0 = 256; 16..4096). The ring has up
	 * to 4 segments where the controller's ERST Max allows, one on
	 * QEMU's qemu-xhci; one poll handles at most the ring's size of
	 * events.
	 */
	uint32_t event_ring_trbs;
	uint32_t cmd_ring_trbs;     /**< command ring size (0 = 64) */
	uint32_t xfer_ring_trbs;    /**< per-endpoint transfer ring (0 = 256) */
	uint32_t handoff_timeout_ms; /**< BIOS handoff wait (0 = 1000) */
	/** HCRST and CNR wait at init, each (0 = 10000: some parts take seconds). */
	uint32_t reset_timeout_ms;
	uint32_t cmd_timeout_ms;    /**< command completion wait (0 = 5000) */
	bool trace;                 /**< log every TRB and event at BU_LOG_TRACE */
	/** Trace categories from the start (enum bu_xhci_trace_category),
	 * added to `trace`'s all; see bu_xhci_set_trace_filter for more. */
	uint32_t trace_categories;
	/**
	 * Interrupt-driven use: enable the primary interrupter (IMAN.IE and
	 * USBCMD.INTE) so the controller raises its interrupt (MSI/MSI-X or
	 * INTx, the embedder's to route) for events; the handler calls
	 * bu_xhci_irq and schedules bu_usb_bus_poll, which the embedder runs
	 * again at once while it returns 1 (events left: the controller need
	 * not interrupt again for them). Off: polled only.
	 */
	bool irq;
	/** Interrupt moderation, IMOD.IMODI in 250 ns units (0 = 160, 40 us). */
	uint16_t imod_interval;
	/** PCI identity and config space (quirk lookup). */
	struct bu_xhci_pci pci;
	/** Quirks (enum bu_xhci_quirk) forced on / off over the table's. */
	uint32_t quirks_on, quirks_off;
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
/** What the trace shows: bu_xhci_trace_filter.categories. */
enum bu_xhci_trace_category {
	BU_XHCI_TRACE_CMD = 1u << 0,      /**< command TRBs, and slot commands' contexts */
	BU_XHCI_TRACE_XFER = 1u << 1,     /**< transfer TRBs as queued */
	BU_XHCI_TRACE_EVENT = 1u << 2,    /**< events as handled */
	BU_XHCI_TRACE_PORT = 1u << 3,     /**< every PORTSC read and write, decoded */
	BU_XHCI_TRACE_DOORBELL = 1u << 4, /**< doorbell writes */
	BU_XHCI_TRACE_REG = 1u << 5,      /**< every other register write, by name */
	BU_XHCI_TRACE_ENUM = 1u << 6,     /**< the core's enumeration steps */
	BU_XHCI_TRACE_ALL = 0x7fu,
};

/**
 * A run-time trace filter. A line about a slot (a command, transfer,
 * event or doorbell for it) is shown only when `slot` is 0 or that slot;
 * a line about an endpoint only when `match_ep` is false or its address
 * is `ep` (0x00 for EP0). Lines about no slot (port changes, Enable Slot,
 * register writes) pass both. Trace lines go to the platform log at
 * BU_LOG_TRACE, the format docs/contracts.md gives.
 */
struct bu_xhci_trace_filter {
	uint32_t categories; /**< enum bu_xhci_trace_category; 0 = trace off */
	uint8_t slot;        /**< 0 = every slot */
	uint8_t ep;          /**< endpoint address, with match_ep */
	bool match_ep;
};

/** Turn TRB/event tracing on (every category, no filter) or off at run time. */
void bu_xhci_set_trace(struct bu_usb_bus *bus, bool on);
/** Set the trace filter at run time (NULL: trace off). */
void bu_xhci_set_trace_filter(struct bu_usb_bus *bus, const struct bu_xhci_trace_filter *f);
/**
 * Parse a filter from words: a comma-separated category list ("cmd",
 * "xfer", "event", "port", "db", "reg", "enum", "all" or "off"), then
 * optional "slot=N" and "ep=0xEE" separated by commas or spaces, e.g.
 * "xfer,event,slot=2,ep=0x81". BU_EINVAL on an unknown word or a bad
 * number, with *f untouched.
 */
int bu_xhci_trace_filter_parse(const char *words, struct bu_xhci_trace_filter *f);

/**
 * Log the controller's state, one line each (prefix "dump: ") at
 * BU_LOG_INFO: every capability, operational, port and interrupter-0
 * runtime register by name, decoded (xHCI 1.2 §5.3 to §5.5); the Command
 * Ring with its pending commands; each endpoint's Transfer Ring (counters,
 * queued TDs, its Endpoint Context, the TRBs around the dequeue pointer,
 * decoded); the Event Ring's dequeue pointer and cycle; and the step of
 * every device still enumerating. Reads registers, writes none. The
 * driver logs it by itself, at BU_LOG_WARN, when a command times out.
 */
void bu_xhci_dump(struct bu_usb_bus *bus);

/** Parts of the state dump, for bu_xhci_dump_part. */
enum bu_xhci_dump_parts {
	/** Capability, operational and interrupter-0 registers, the Command
	 * Ring with its pending commands, the Event Ring's dequeue pointer. */
	BU_XHCI_DUMP_REGS = 1u << 0,
	BU_XHCI_DUMP_PORTS = 1u << 1,    /**< PORTSC, PORTPMSC, PORTLI of every root port */
	BU_XHCI_DUMP_CONTEXTS = 1u << 2, /**< each slot's Slot Context and Endpoint Contexts */
	/** Each endpoint's Transfer Ring: counters, queued TDs, the TRBs
	 * around its dequeue pointer. */
	BU_XHCI_DUMP_RINGS = 1u << 3,
	BU_XHCI_DUMP_ENUM = 1u << 4, /**< the step of every device still enumerating */
	BU_XHCI_DUMP_ALL = 0x1fu,
};

/**
 * Log parts of bu_xhci_dump's lines (same prefix and format, BU_LOG_INFO):
 * `parts` is a set of enum bu_xhci_dump_parts. The slot lines are limited
 * to `slot` (0: every slot) and, with `ep` >= 0, to the endpoint with that
 * address (0x00 for EP0) and its slot's line. Reads registers and the
 * Output Device Contexts, writes none. Returns 0; BU_EINVAL for a NULL
 * bus, no or unknown parts, a slot above 255 or a malformed endpoint
 * address; BU_ENOENT when the slot asked for is not enabled or has no
 * such endpoint (the register parts are logged all the same).
 */
int bu_xhci_dump_part(struct bu_usb_bus *bus, unsigned parts, unsigned slot, int ep);

#ifdef __cplusplus
}
#endif

#endif
