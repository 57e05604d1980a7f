/*
 * sim: an in-process xHCI controller model with device models and fault
 * injection. Host code (uses libc); never linked into the library.
 *
 * A test creates a controller with sim_create(), hands sim_platform() and
 * sim_regs_base() to bu_xhci_create() (or drives the registers itself),
 * attaches device models to ports, and advances virtual time. The model does
 * its work only when virtual time passes a due time: from now_us/delay_us,
 * from register reads, or from sim_advance_us(), never inside the register
 * write that asked for it.
 *
 * Everything the driver does wrong that the xHCI or USB specifications
 * forbid is recorded as a "violation" (with a message naming what and
 * where); a test fails when sim_violations() is not 0 at its end. Where real
 * hardware would react (Host System Error on a bad DMA address, TRB Error,
 * Parameter Error, babble, ...), the model reacts the same way as well.
 * DMA space is checked as an IOMMU would: the model's access to a buffer
 * no longer mapped is a violation and Host System Error, and so is (a
 * violation) the driver unmapping a buffer that a TD on an enabled,
 * running endpoint of a running controller still points at.
 */
#ifndef SIM_SIM_H
#define SIM_SIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bareusb/ch9.h"
#include "bareusb/platform.h"

#ifdef __cplusplus
extern "C" {
#endif

struct sim;
struct sim_device;
struct bu_xhci_pci;

/** Bus speeds, numbered as the default PSIVs (xHCI §7.2.1). */
enum sim_speed {
	SIM_SPEED_FULL = 1,
	SIM_SPEED_LOW = 2,
	SIM_SPEED_HIGH = 3,
	SIM_SPEED_SUPER = 4,
};

/** Where the platform's dma_alloc and dma_map place bus addresses. */
enum sim_dma_place {
	SIM_DMA_AUTO = 0, /**< above 4 GiB when AC64 is advertised, below without it */
	SIM_DMA_LOW,      /**< always below 4 GiB (little RAM, or a 32-bit IOMMU window) */
	SIM_DMA_HIGH,     /**< always above 4 GiB (RAM high, as on big servers) */
};

/**
 * Personalities: named presets of the fields below that give the model the
 * documented behaviours of a family of real controllers (docs/sim.md has
 * each one and its sources). A personality only sets fields the test left
 * at zero, so what a test sets explicitly wins.
 */
enum sim_personality {
	SIM_PERSONALITY_ENV = 0, /**< from the SIM_PERSONALITY environment variable, else NONE */
	SIM_PERSONALITY_NONE,    /**< the plain model: the xHCI 1.2 specification only */
	SIM_PERSONALITY_QEMU,    /**< QEMU's qemu-xhci */
	SIM_PERSONALITY_INTEL_PPT, /**< Intel 7-series PCH (Panther Point) */
	SIM_PERSONALITY_INTEL_SPT, /**< Intel 100-series PCH (Sunrise Point, Skylake) */
	SIM_PERSONALITY_AMD096,  /**< AMD xHCI 0.96 (Hudson FCH) */
	SIM_PERSONALITY_ASMEDIA, /**< ASMedia ASM1142 */
	SIM_PERSONALITY_VL805,   /**< VIA VL805 (Raspberry Pi 4) */
	SIM_PERSONALITY_COUNT
};

/** Name of a personality ("none", "qemu", "intel-ppt", ...). */
const char *sim_personality_name(enum sim_personality p);
/** Personality by name; SIM_PERSONALITY_COUNT if unknown. */
enum sim_personality sim_personality_from_name(const char *name);

/**
 * Controller configuration. Zero-initialise for defaults; every zero means
 * "the default" noted on the field.
 */
struct sim_config {
	enum sim_personality personality; /**< see enum sim_personality */
	/**
	 * VL805: after every TRB it fetches, the controller also reads the next
	 * 64 bytes (a read-ahead that does not stop at a Link TRB). A read-ahead
	 * that falls outside DMA memory is a DMA fault (Raspberry Pi Linux
	 * VLI_TRB_CACHE_BUG).
	 */
	bool trb_readahead;
	/**
	 * Intel: registers must not be accessed for this long after HCRST is
	 * written (Linux xhci_reset waits 1 ms on Intel hosts); an access
	 * sooner is a violation. 0: no check.
	 */
	uint32_t reset_settle_us;
	/**
	 * Skylake: the Supported Protocol PSI dwords do not describe the PSIVs
	 * PORTSC really uses (iPXE XHCI_BAD_PSIV); implies psi.
	 */
	bool psi_bogus;
	unsigned usb2_ports;     /**< USB 2 root ports (0 with usb3_ports 0: 4 + 4) */
	unsigned usb3_ports;     /**< USB 3 root ports */
	bool usb3_first;         /**< USB 3 ports get the low numbers (default: USB 2 first) */
	unsigned max_slots;      /**< HCSPARAMS1.MaxSlots (0: 32) */
	unsigned max_intrs;      /**< HCSPARAMS1.MaxIntrs (0: 4) */
	bool csz64;              /**< 64-byte contexts (HCCPARAMS1.CSZ) */
	bool no_ac64;            /**< clear AC64: only 32-bit DMA addresses */
	/**
	 * AC64 is advertised but the controller drops address bits 63:32, so
	 * any DMA at or above 4 GiB is a violation and a Host System Error, as
	 * with AC64=0 (ASMedia ASM1042A/1142/2142/3242: Linux xhci-pci
	 * XHCI_NO_64BIT_SUPPORT).
	 */
	bool dma_32bit_only;
	/** The platform's DMA placement (see enum sim_dma_place). */
	enum sim_dma_place dma_place;
	unsigned scratchpads;    /**< Max Scratchpad Buffers (0..1023) */
	/**
	 * HCIVERSION (0: 0x0110). Below 0x0100 (the 0.96 parts: NEC uPD720200,
	 * AMD Hudson, Etron, early ASMedia/Fresco/VIA) TD Size counts the KiB
	 * left in the TD and an Isoch TRB's TBC and TLBPC are reserved; below
	 * 0x0096 every Link TRB, on every ring, must carry CH (0.95 parts).
	 */
	uint16_t hci_version;
	bool no_lec;             /**< clear HCCPARAMS2.LEC (Large ESIT Payload; set by default from HCIVERSION 1.1) */
	unsigned erst_max;       /**< HCSPARAMS2.ERST Max (0: 4, i.e. 16 segments) */
	/**
	 * HCSPARAMS2.ERST Max reads 0 (erst_max is ignored): the Event Ring
	 * is one segment, ERSTSZ above 1 a Host Controller Error, as on
	 * QEMU's qemu-xhci.
	 */
	bool erst_max_zero;
	bool psi;                /**< Supported Protocol caps carry PSI dwords */
	bool ppc;                /**< port power control: ports start unpowered */
	bool legacy;             /**< USB Legacy Support cap, owned by "firmware" */
	uint32_t bios_release_us; /**< firmware lets go this long after OS Owned (0: 2000) */
	bool bios_never_releases; /**< firmware never clears BIOS Owned */
	uint32_t cnr_us;         /**< CNR after power-on and after HCRST (0: 1000) */
	uint32_t reset_us;       /**< HCRST duration (0: 300) */
	uint32_t halt_us;        /**< R/S=0 to HCH=1 (0: 200) */
	uint32_t save_us;        /**< Save State: USBSTS.SSS busy this long after CSS (0: 1000) */
	uint32_t restore_us;     /**< Restore State: USBSTS.RSS busy this long after CRS (0: 1000) */
	/** Restore State always ends with SRE, as on QEMU 7.2, which saves nothing. */
	bool restore_always_fails;
	uint32_t cmd_us;         /**< per-command execution time (0: 20) */
	uint32_t port_reset_us;  /**< USB 2 root port reset (0: 50000, TDRSTR) */
	uint32_t hot_reset_us;   /**< USB 3 hot reset (0: 10000) */
	uint32_t warm_reset_us;  /**< USB 3 warm reset (0: 80000) */
	uint32_t train_us;       /**< USB 3 link training after attach (0: 20000) */
	uint32_t hub_reset_us;   /**< hub downstream port reset (0: 15000, TDRST) */
	bool no_write64;         /**< leave bu_platform.write64 NULL */
	/**
	 * Give the platform a wait hook: it advances virtual time to the
	 * deadline, or only until the controller asserts an interrupt (IP
	 * with IE and INTE), which it then "takes": the handler of
	 * sim_set_irq_handler runs, as an embedder's interrupt handler would.
	 * An interrupt asserted while the "CPU" was not waiting is taken at
	 * the next wait, which returns at once.
	 */
	bool wait_hook;
	/**
	 * CRCR acts when its high dword is written (as QEMU's qemu-xhci
	 * does): a Command Stop or Abort written to the low dword alone is
	 * only remembered. Real controllers differ; Linux writes CRCR as 64
	 * bits, low dword first, for the ones that need it.
	 */
	bool crcr_high_latch;
	/** QEMU 7.2: Stop Endpoint leaves the TR Dequeue Pointer past the TD in progress
	 * (hcd-xhci.c drops its fetched transfer, "data might be lost"); the spec (xHCI 1.2
	 * §4.6.9) leaves it on the TRB where the endpoint stopped */
	bool stop_drops_td;
	/**
	 * Some RsvdP bits of USBCMD, CONFIG, IMAN and ERSTSZ read as 1 (as a
	 * real part's may); every write must carry them back unchanged
	 * (xHCI §5.1: RsvdP is preserved with read-modify-write).
	 */
	bool rsvdp_ones;
	/* PCI identity and config space (sim_pci_identity, sim_pci_cfg_read32). */
	uint16_t pci_vendor;     /**< Vendor ID (0: 0x1b36 with device 0x000d, QEMU's qemu-xhci) */
	uint16_t pci_device;     /**< Device ID */
	uint8_t pci_revision;    /**< Revision ID */
	uint16_t pci_subsys_vendor, pci_subsys_device; /**< Subsystem IDs (config 0x2c) */
	/**
	 * Intel 7/8/9 Series PCH port routing: config space holds XUSB2PR
	 * (0xd0), XUSB2PRM (0xd4), USB3_PSSEN (0xd8) and USB3PRM (0xdc), the
	 * masks covering every root port and the routing starting at 0 (all
	 * ports on the EHCI, as firmware leaves them). While a port's bit is
	 * clear a device on it is invisible here (CCS=0, no Port Status
	 * Change); setting the bit makes it connect (Linux pci-quirks
	 * usb_enable_intel_xhci_ports).
	 */
	bool intel_port_routing;
	/**
	 * The first N USB 3 link trainings after an attach end in Compliance
	 * Mode with CCS=0, CAS=0 and no Port Status Change Event; only a warm
	 * reset (WPR) recovers the link (Intel Cherryview/Sunrise Point/Apollo
	 * Lake/Denverton: Linux xhci-pci XHCI_MISSING_CAS; Intel 100 Series
	 * PCH specification update erratum 8).
	 */
	unsigned compliance_without_cas;
	/**
	 * The Link TRB of an isochronous ring must carry CH even between TDs,
	 * as on AMD's xHCI 0.96 hosts (Linux XHCI_AMD_0x96_HOST): one without
	 * it is a violation, and inside a TD the controller ends the TD there.
	 */
	bool isoc_link_chain;
	size_t map_split;        /**< dma_map splits at host pages of this size (0: one chunk) */
	bool second_event_on_short; /**< after an ISP short event, also report the TD's IOC TRB (as many real HCs do) */
	/**
	 * Isochronous TDs missed in a row (their Frame ID already past) get
	 * one Missed Service Error event for the whole run, naming the last
	 * TRB of the last missed TD, instead of one event each: xHCI 1.2
	 * §4.10.3.2 allows it and Intel PCH controllers report runs so (Linux
	 * xhci-ring.c sets ep->skip on COMP_MISSED_SERVICE_ERROR and completes
	 * the skipped TDs at the next event).
	 */
	bool missed_service_run;
	/**
	 * As missed_service_run, with a NULL TRB Pointer in the run's event
	 * (xHCI 1.2 §4.10.3.2): where the run ended shows only in the next
	 * Transfer Event of the endpoint (or its Ring Underrun / Overrun).
	 */
	bool missed_service_null;
	/**
	 * Soft retry is broken: after Reset Endpoint with TSP=1 (xHCI 1.2
	 * §4.6.8.1) the retried packet goes out with the wrong data toggle,
	 * and the command is recorded as a violation. Models the controllers
	 * Linux marks XHCI_NO_SOFT_RETRY (AMD Promontory, Etron), which a
	 * driver must recover with TSP=0 only.
	 */
	bool soft_retry_broken;
	bool no_timing_checks;   /**< skip USB timing checks (debounce, reset recovery, SET_ADDRESS recovery) */
	bool violations_fatal;   /**< abort() at the first violation (for debugging) */
	bool dma_fault_nonfatal; /**< a DMA fault is a violation + HSE (default: also abort) */
	/**
	 * Non-coherent DMA, as on most Arm and RISC-V boards: the platform
	 * table gets dma_sync_for_device/dma_sync_for_cpu, the controller sees
	 * a separate copy of DMA memory that only a sync for the device
	 * (clean) updates, and the CPU sees the controller's writes only after
	 * a sync for the CPU (invalidate), per 64-byte line. A clean of a line
	 * the controller wrote but the CPU changed, and an invalidate that
	 * drops CPU writes, are violations. SIM_NONCOHERENT=1 in the
	 * environment sets it for every sim a test creates.
	 */
	bool noncoherent;
	/** Stay coherent whatever SIM_NONCOHERENT says (a test that writes DMA memory itself). */
	bool coherent;
	/** The platform ignores the DMA mask (allocates and maps anywhere). */
	bool dma_ignore_mask;
	int log_level;           /**< print messages at or below this bu_log_level (0: WARN; -1: none) */
	bool trace;              /**< model-side trace from the start (see sim_trace) */
	/**
	 * Log hook: every line the sim would print (model messages, model
	 * trace, violations, and the driver's lines through the platform log,
	 * each as printed, without the newline) goes here instead of stderr.
	 * `level` is the bu_log_level (model trace: BU_LOG_TRACE). NULL: stderr.
	 */
	void (*log_fn)(void *ctx, int level, const char *line);
	void *log_ctx;           /**< log_fn's first argument */
};

/** Create a controller model; NULL cfg means defaults. Never returns NULL. */
struct sim *sim_create(const struct sim_config *cfg);
/** Destroy the model and every device attached to it. */
void sim_destroy(struct sim *sim);

/** The platform table the driver uses (valid until sim_destroy). */
const struct bu_platform *sim_platform(struct sim *sim);
/** The register window's base, an opaque address decoded by read32/write32. */
uintptr_t sim_regs_base(struct sim *sim);

/** Root ports (MaxPorts). */
unsigned sim_num_ports(const struct sim *sim);
/** True when root port `port` (1-based) is a USB 3 port. */
bool sim_port_is_usb3(const struct sim *sim, unsigned port);
/** PORTSC number of the n-th (1-based) USB 2 / USB 3 root port, 0 if none. */
unsigned sim_usb2_port(const struct sim *sim, unsigned n);
unsigned sim_usb3_port(const struct sim *sim, unsigned n);
/** Raw PORTSC of a root port (no side effects). */
uint32_t sim_portsc(struct sim *sim, unsigned port);

/* ------------------------------------------------------------------------ */
/* PCI identity and config space                                            */

/**
 * Fill `out` (a bu_xhci_options.pci) with the model's identity and config
 * accessors bound to it, as an embedder fills it from the PCI function.
 */
void sim_pci_identity(struct sim *sim, struct bu_xhci_pci *out);
/** Read a config dword (`off` dword-aligned, below 256), as the driver would. */
uint32_t sim_pci_cfg_read32(struct sim *sim, unsigned off);
/** Write a config dword: firmware's view for tests (the same rules as the driver's). */
void sim_pci_cfg_write32(struct sim *sim, unsigned off, uint32_t val);

/* ------------------------------------------------------------------------ */
/* Time                                                                     */

/** Advance virtual time by `us`, doing all work that falls due. */
void sim_advance_us(struct sim *sim, uint64_t us);
/** Current virtual time in microseconds (no side effects). */
uint64_t sim_now_us(const struct sim *sim);
/** The interrupt handler the wait hook runs for each interrupt it takes (NULL: none). */
void sim_set_irq_handler(struct sim *sim, void (*fn)(void *ctx), void *ctx);

/* ------------------------------------------------------------------------ */
/* Devices and ports                                                        */

struct sim_device_model;

/**
 * Attach a device model to root port `port` at `speed` (which the port and
 * model must support). The device is owned by the sim until sim_detach.
 * Returns NULL (and logs why) when the port is occupied or the speed wrong.
 */
struct sim_device *sim_attach(struct sim *sim, unsigned port,
			      const struct sim_device_model *model,
			      enum sim_speed speed);
/** Attach below a hub device model's downstream port `port` (1-based). */
struct sim_device *sim_attach_hub(struct sim_device *hub, unsigned port,
				  const struct sim_device_model *model,
				  enum sim_speed speed);
/** Unplug a device (and everything below it); the pointer becomes invalid. */
void sim_detach(struct sim_device *dev);

/** Over-current on a root port starts (on) or ends. */
void sim_overcurrent(struct sim *sim, unsigned port, bool on);
/** A USB 3 root port's link fails into SS.Inactive (needs a warm reset). */
void sim_link_error(struct sim *sim, unsigned port);

/**
 * Over-current on downstream port `port` of a hub device model starts (on:
 * the hub switches the port's power off, USB 2.0 §11.12.5) or ends.
 */
void sim_hub_overcurrent(struct sim_device *hub, unsigned port, bool on);
/**
 * The device signals remote wakeup (USB 2.0 §7.1.7.7, USB 3.2 §8.5.9.3):
 * only when the host enabled it (DEVICE_REMOTE_WAKEUP, or FUNCTION_SUSPEND
 * with Function Remote Wake at SuperSpeed) and its link is suspended.
 * A hub port it is on resumes (C_PORT_SUSPEND / C_PORT_LINK_STATE), and a
 * suspended hub above passes the wake up when it is enabled for it, up to
 * the root port (U3 -> Resume). False when nothing was signalled.
 */
bool sim_remote_wake(struct sim_device *dev);
/** True while the host has the device armed for remote wakeup. */
bool sim_remote_wake_armed(const struct sim_device *dev);
/**
 * Function Wake Device Notifications (USB 3.2 §8.5.6.1) the device sent and
 * the controller reported (xHCI 1.2 §6.4.2.7: only with DNCTRL.N1 set).
 * A USB 3 device that wakes sends one once every link above it is in U0
 * again, naming the interface its FUNCTION_SUSPEND named.
 */
unsigned sim_function_wakes(const struct sim_device *dev);
/** True while a hub model's downstream port is suspended (USB 2 PORT_SUSPEND, USB 3 U3) or resuming. */
bool sim_hub_port_is_suspended(const struct sim_device *hub, unsigned port);
/** A USB 3 hub's downstream port link fails into SS.Inactive (needs a warm reset). */
void sim_hub_link_error(struct sim_device *hub, unsigned port);

/*
 * A high-speed hub model's transaction translator(s). A control or bulk
 * split to a low/full-speed device behind it that the host abandons (a TD
 * stopped in flight, or halted by a transaction error or babble) leaves
 * its TT buffer busy; the next transaction to that endpoint before a
 * CLEAR_TT_BUFFER that names it is a violation (USB 2.0 §11.17.5), and so
 * is a CLEAR_TT_BUFFER whose wValue/wIndex name nothing behind the TT.
 */
/** CLEAR_TT_BUFFER requests the hub answered so far. */
unsigned sim_hub_tt_clears(const struct sim_device *hub);
/** wValue and wIndex of the i-th of them (the first 16 are kept); false past them. */
bool sim_hub_tt_clear(const struct sim_device *hub, unsigned i, uint16_t *wvalue,
		      uint16_t *windex);
/** Buffers of the hub's TT(s) now busy with an abandoned split. */
unsigned sim_hub_tt_busy(const struct sim_device *hub);

/** The device's USB address (0 while in the Default state). */
uint8_t sim_device_address(const struct sim_device *dev);
/** The device's active bConfigurationValue (0 = not configured). */
uint8_t sim_device_config(const struct sim_device *dev);
/** The device model's private state (model->priv_size bytes, zeroed at attach). */
void *sim_device_priv(struct sim_device *dev);
/** The sim a device belongs to. */
struct sim *sim_device_sim(struct sim_device *dev);
/** Speed the device runs at. */
enum sim_speed sim_device_speed(const struct sim_device *dev);

/* ------------------------------------------------------------------------ */
/* Fault injection                                                          */

/**
 * The controller posts a Device Notification Event (xHCI 1.2 §6.4.2.7) on
 * interrupter 0 as given, whatever DNCTRL says: `slot` (0-255), `type`
 * (4 bits) and `data` (the notification data, 56 bits from bit 8), for
 * tests of a driver's checks.
 */
void sim_post_device_notification(struct sim *sim, unsigned slot, unsigned type, uint64_t data);

/** What a device-side fault does. */
enum sim_fault_kind {
	SIM_FAULT_STALL = 1,  /**< answer STALL (endpoint: sets its Halt feature) */
	SIM_FAULT_NAK,        /**< NAK (for `count` tries, or forever) */
	SIM_FAULT_BABBLE,     /**< the device sends more than max packet size */
	SIM_FAULT_XACT,       /**< a transaction error (CRC/timeout) per try; CErr honoured */
	SIM_FAULT_DISCONNECT, /**< unplug after `arg` bytes of the next TD (as a request fault on SET_ADDRESS: during Address Device) */
	SIM_FAULT_SHORT,      /**< the next IN transfer ends after `arg` bytes */
	/**
	 * OUT only: the device takes the packet (its data toggle moves on, or
	 * it drops a repeat) but its ACK is lost, so the host sees a
	 * transaction error for that try (CErr honoured). On IN it has no
	 * effect: there the host drops the device's repeat by its toggle.
	 */
	SIM_FAULT_ACK_LOST,
};

/**
 * Arm a fault on endpoint `ep` (bEndpointAddress; 0 = EP0's data and status
 * stages) for `count` transactions (0 = until sim_fault_clear).
 */
void sim_fault_ep(struct sim_device *dev, uint8_t ep, enum sim_fault_kind kind,
		  unsigned count, uint32_t arg);
/**
 * Arm a fault on control requests that match bmRequestType/bRequest and,
 * when w_value >= 0, wValue. Applies to the next `count` matches (0 = all).
 */
void sim_fault_request(struct sim_device *dev, uint8_t bm_request_type,
		       uint8_t b_request, int w_value, enum sim_fault_kind kind,
		       unsigned count);
/** Remove every fault armed on the device. */
void sim_fault_clear(struct sim_device *dev);

/**
 * Descriptor hook: called with every descriptor the device is about to send
 * in answer to GET_DESCRIPTOR (standard or class), after the framework built
 * it. It may edit buf (capacity `cap`) and *len. Return false to STALL.
 */
typedef bool (*sim_desc_hook_fn)(void *ctx, struct sim_device *dev,
				 uint8_t type, uint8_t index, uint8_t *buf,
				 uint16_t *len, uint16_t cap);
void sim_set_desc_hook(struct sim_device *dev, sim_desc_hook_fn fn, void *ctx);

/**
 * Answer hook: called with every IN answer the device gives, after the model
 * (and the descriptor hook) produced it: the data of a control IN request
 * (`setup` set, `ep` 0) and each packet on an IN data endpoint (`setup`
 * NULL, `ep` the bEndpointAddress). `r` is what the model answered: a byte
 * count (data in buf) or SIM_NAK / SIM_STALL. The hook may rewrite buf (room
 * for `cap` bytes) and returns the answer to give instead, in the same form
 * (a count above `cap` is clipped). Injected faults still come first.
 */
typedef int (*sim_answer_hook_fn)(void *ctx, struct sim_device *dev,
				  const struct usb_setup_packet *setup, uint8_t ep,
				  uint8_t *buf, int r, uint16_t cap);
void sim_set_answer_hook(struct sim_device *dev, sim_answer_hook_fn fn, void *ctx);

/** Host System Error now (as on a PCI error): USBSTS.HSE, the HC halts. */
void sim_fault_hse(struct sim *sim);
/** The next command of this TRB type (0 = any) never completes until aborted. */
void sim_fault_cmd_hang(struct sim *sim, unsigned trb_type);
/** CNR stays set (from now on, also through HCRST) while `on`. */
void sim_fault_cnr_stuck(struct sim *sim, bool on);
/** A wedged controller: from now on HCRST, once written, never clears while `on`. */
void sim_fault_hcrst_stuck(struct sim *sim, bool on);
/**
 * The controller halts itself now, as on an internal error, without HSE or
 * HCE (xHCI §5.4.2): R/S reads 0, HCH 1, nothing runs any more.
 */
void sim_fault_halt(struct sim *sim);
/**
 * Save and Restore State (xHCI 1.2 §4.23.2): the next Save State (`save`)
 * or Restore State ends with USBSTS.SRE set, as on a controller whose
 * save or restore failed, while `on`. A Restore State with no Save State
 * before it (since power-on or HCRST) sets SRE anyway.
 */
void sim_fault_save_restore_error(struct sim *sim, bool save, bool on);
/**
 * The controller loses power now (system sleep without auxiliary power):
 * every register back to its power-on value (CNR set for cnr_us, DCBAAP
 * 0), the saved state gone, the ports' devices reset.
 */
void sim_fault_power_lost(struct sim *sim);
/**
 * Whether the controller signalled a wake (PME) while halted since the
 * last call: a root port's remote wakeup (U3 -> Resume), or a connect,
 * disconnect or over-current its PORTSC WCE, WDE or WOE enables (xHCI 1.2
 * §4.15, §5.4.8). Clears it.
 */
bool sim_pme_take(struct sim *sim);
/** Behave as if the primary event ring filled up at the next event. */
void sim_fault_event_ring_full(struct sim *sim);
/** The next Configure Endpoint that adds a periodic endpoint fails with Bandwidth Error. */
void sim_fault_bandwidth(struct sim *sim);

/* ------------------------------------------------------------------------ */
/* Accounting, violations, trace                                            */

/** Resource counters, for leak checks. */
struct sim_stats {
	size_t dma_allocs;   /**< dma_alloc blocks not yet freed */
	size_t dma_bytes;    /**< their bytes */
	size_t dma_maps;     /**< dma_map mappings not yet unmapped */
	size_t heap_allocs;  /**< alloc blocks not yet freed */
	size_t heap_bytes;
	unsigned slots_enabled; /**< device slots currently enabled */
	unsigned events;     /**< events written to event rings */
	unsigned commands;   /**< commands completed */
	uint64_t irqs;       /**< interrupts asserted (IP 0->1 with IE and INTE) */
	uint64_t waits;      /**< calls of the platform's wait hook */
	uint64_t wait_irqs;  /**< waits that ended by taking an interrupt */
	unsigned er_full;    /**< Event Ring Full events posted */
	unsigned suspended_waits; /**< TDs that found their root port suspended */
};
void sim_get_stats(struct sim *sim, struct sim_stats *st);

/** Number of violations recorded so far. */
unsigned sim_violations(const struct sim *sim);
/** Text of violation i (0-based; the first 64 are kept), or NULL. */
const char *sim_violation(const struct sim *sim, unsigned i);
/** Forget recorded violations (for tests that provoke them on purpose). */
void sim_clear_violations(struct sim *sim);
/** True when a recorded violation's text contains `needle`. */
bool sim_has_violation(const struct sim *sim, const char *needle);

/** Model-side trace (register accesses, TRBs fetched, events) at BU_LOG_TRACE. */
void sim_trace(struct sim *sim, bool on);
/** Change the print threshold (see sim_config.log_level). */
void sim_set_log_level(struct sim *sim, int level);

/** Raw USBSTS / slot state helpers for tests of the model. */
uint32_t sim_usbsts(struct sim *sim);
/** Slot state as the model holds it (XHCI_SLOT_STATE_*, -1 = disabled). */
int sim_slot_state(struct sim *sim, unsigned slot);
/** Endpoint state of slot/DCI as the model holds it (XHCI_EP_STATE_*). */
int sim_ep_state(struct sim *sim, unsigned slot, unsigned dci);

#ifdef __cplusplus
}
#endif

#include "sim_dev.h"

#endif
