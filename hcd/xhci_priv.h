/*
 * xHCI driver internals shared between the driver's files. Not a public
 * header: embedders use include/bareusb/xhci.h.
 *
 * Holds the driver's state (controller, command slots, devices, endpoints,
 * Supported Protocols), the register-access and context helpers every file
 * uses, and the declarations each file offers the others, grouped by the
 * file that defines them in the driver's reading order: xhci.c (controller),
 * xhci_cmd.c (Command Ring), xhci_dev.c (slots and contexts), xhci_port.c
 * (root ports), xhci_xfer.c (Transfer Rings and transfer events),
 * xhci_ring.c (ring arithmetic and field encoders).
 */
#ifndef BAREUSB_XHCI_PRIV_H
#define BAREUSB_XHCI_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bareusb/arch.h"
#include "bareusb/util.h"
#include "bareusb/xhci.h"
#include "xhci_hw.h"
#include "xhci_trace.h"

/*
 * A producer ring (command or transfer): `count` usable TRBs (a power of
 * two) followed by one Link TRB that points back to the start with Toggle
 * Cycle set. `enq` and `deq` are free-running counters; a counter's slot is
 * counter % count and its cycle bit is 1 on even laps, 0 on odd ones (xHCI
 * §4.9.2: the producer cycle state starts at 1 and flips at the Link TRB).
 */
struct xhci_ring {
	struct xhci_trb *trbs; /**< count + 1 TRBs; the last is the Link TRB */
	uint64_t bus;          /**< bus address of trbs[0] */
	uint32_t count;        /**< usable TRBs (power of two) */
	uint32_t enq;          /**< next counter the producer writes */
	uint32_t deq;          /**< oldest counter the controller may still own */
	bool link_chain;       /**< the Link TRB always carries CH (bu_xhci_ring_link_chain) */
};

/** Cycle bit for the TRB written at counter `c`. */
static inline uint32_t xhci_ring_cycle(const struct xhci_ring *r, uint32_t c)
{
	return ((c / r->count) & 1) ? 0 : 1;
}

/** Slot index (0..count-1) of counter `c`. */
static inline uint32_t xhci_ring_slot(const struct xhci_ring *r, uint32_t c)
{
	return c & (r->count - 1);
}

/** Bus address of the TRB at counter `c`. */
static inline uint64_t xhci_ring_addr(const struct xhci_ring *r, uint32_t c)
{
	return r->bus + 16u * xhci_ring_slot(r, c);
}

/** TRBs that can still be queued (one is always kept free). */
static inline uint32_t xhci_ring_space(const struct xhci_ring *r)
{
	return r->count - 1 - (r->enq - r->deq);
}

/**
 * Map a bus address the controller reported back to a counter in
 * [deq, enq). Returns false when the address is not a live TRB of the ring.
 */
bool bu_xhci_ring_find(const struct xhci_ring *r, uint64_t addr, uint32_t *counter);

/**
 * Initialise ring bookkeeping over zeroed memory and write the Link TRB;
 * link_chain starts false (the ring's owner sets it afterwards).
 */
void bu_xhci_ring_init(struct xhci_ring *r, struct xhci_trb *trbs, uint64_t bus,
		    uint32_t count);

/**
 * Whether a ring's Link TRB must carry CH whatever the TRB before it: on
 * every ring of a controller older than xHCI 0.96 (Linux
 * XHCI_LINK_TRB_QUIRK, 0.95 hosts), and on isochronous rings with
 * BU_XHCI_QUIRK_ISOC_LINK_CHAIN (Linux XHCI_AMD_0x96_HOST).
 */
bool bu_xhci_ring_link_chain(uint16_t hciversion, uint32_t quirks, bool isoch);

/**
 * Write one TRB (dw3 without the cycle bit) at the enqueue position and
 * advance. With `hold`, the TRB is written with the cycle bit inverted so the
 * controller cannot start on it before bu_xhci_ring_release(). Passing the Link
 * TRB at the end of the ring is handled here: it inherits the chain bit of
 * the TRB before it, so a TD may span the wrap (or always has it, with
 * `link_chain`). Returns the TRB's counter.
 */
uint32_t bu_xhci_ring_push(struct xhci_ring *r, uint32_t dw0, uint32_t dw1,
			uint32_t dw2, uint32_t dw3, bool hold);

/** Hand a held TRB to the controller (write barrier, then its cycle bit). */
void bu_xhci_ring_release(struct xhci_ring *r, uint32_t counter);

/** The TRB at counter `c` (host order dwords, as written). */
static inline struct xhci_trb *xhci_ring_trb(struct xhci_ring *r, uint32_t c)
{
	return &r->trbs[xhci_ring_slot(r, c)];
}

/**
 * TD Size for a TRB (xHCI §4.11.2.4): packets still to move after this TRB,
 * given the TD's total length, bytes up to and including this TRB, the max
 * packet size, and whether it is the TD's last TRB. xHCI 1.0 and later.
 */
uint32_t bu_xhci_td_size(size_t td_len, size_t done_incl, unsigned mps, bool last);

/**
 * TD Size for a TRB on a controller before xHCI 1.0 (HCIVERSION 0.96): the
 * bytes of the TD not yet moved, this TRB's included, in KiB, at most 31
 * (as Linux xhci_td_remainder and U-Boot compute it for those hosts).
 */
uint32_t bu_xhci_td_size_kib(size_t remaining);

/** Endpoint context Interval field for a descriptor's bInterval (§6.2.3.6). */
unsigned bu_xhci_ep_interval(enum bu_usb_speed speed, unsigned type,
			  unsigned b_interval);

/** Endpoint context EP Type for a transfer type and direction. */
unsigned bu_xhci_ep_type(unsigned type, bool in);

/** Max ESIT Payload and Mult of an endpoint context (see bu_xhci_ep_esit). */
struct bu_xhci_esit {
	uint32_t esit;  /**< Max ESIT Payload (Hi:Lo) */
	unsigned mult;  /**< the Mult field */
	const char *clamped; /**< why the payload was changed, NULL if not */
};

/**
 * Max ESIT Payload and Mult fields (xHCI §6.2.3) for an endpoint of `type`
 * at `speed` with max packet `mps`, Max Burst `burst` (0-based), the
 * descriptor's Mult `mult` (SuperSpeed isochronous) and payload `esit`;
 * `lec` is HCCPARAMS2.LEC. Non-periodic endpoints get 0 and 0. Without LEC
 * the payload fits what Max Burst and Mult describe (at most 48 KiB, so Max
 * ESIT Payload Hi stays 0); a SuperSpeedPlus isochronous payload larger
 * than one burst raises Mult as far as 2 to carry it. With LEC, Mult is
 * RsvdZ (the controller derives it) and the payload is at most 24 bits,
 * and below SuperSpeedPlus at most what Mult 2 (isochronous) or 0 allows.
 * A periodic payload of 0 becomes what Max Burst and Mult carry.
 */
struct bu_xhci_esit bu_xhci_ep_esit(enum bu_usb_speed speed, unsigned type,
				    unsigned mps, unsigned burst, unsigned mult,
				    uint32_t esit, bool lec);

/* ======================================================================== */
/* Driver state                                                             */
/* ======================================================================== */

#define XHCI_MAX_PORTS 255
#define XHCI_MAX_PROTOCOLS 8
#define XHCI_MAX_PSI 16
#define XHCI_MAX_CHUNKS 64      /* DMA chunks per TD (a window, xhci_xfer.c) */

/**
 * A TD being laid out on a Transfer Ring from a mapped buffer. The same
 * builders run twice: `dry` first, only counting TRBs and finding where the
 * TD meets the Link TRB, then for real.
 */
struct xhci_td {
	struct xhci_ring *ring;
	const struct bu_dma_chunk *chunks;
	int nchunks;
	size_t len;       /* bytes in the whole TD */
	size_t done;      /* bytes queued so far */
	unsigned mps;
	size_t frag;      /* TD fragment: Max Packet Size x (Max Burst + 1) */
	uint16_t hciversion;
	bool in;
	bool zlp;         /* bulk OUT ends with a zero-length packet */
	bool dry;         /* count the TRBs, write nothing */
	uint32_t enq;     /* counter the next TRB goes to */
	uint32_t first;   /* counter of the first TRB (held) */
	bool have_first;
	uint32_t cut;     /* the latest TRB a Link TRB may follow */
	uint32_t shift;   /* No-Ops needed in front so that `cut` meets the Link */
	uint32_t type;    /* TRB type for the next data TRB */
	uint32_t extra;   /* extra dw3 flags for the next data TRB only */
	uint32_t flags;   /* flags for every data TRB (ISP) */
};

/** One xHCI Supported Protocol capability (§7.2). */
struct xhci_protocol {
	uint8_t major;
	uint8_t minor;
	uint8_t slot_type;
	uint8_t first_port; /* 1-based */
	uint8_t num_ports;
	uint8_t num_psi;
	uint32_t psi[XHCI_MAX_PSI];
};

struct xhci;
struct xhci_cmd;

/**
 * What runs when a command completes: its completion code (or
 * XHCI_CC_CMD_ABORTED when it timed out) and the event's Slot ID.
 */
typedef void xhci_cmd_done_fn(struct xhci *x, struct xhci_cmd *cmd, unsigned cc,
			      unsigned slot);

/** A pending command: what to call when its completion event arrives. */
struct xhci_cmd {
	xhci_cmd_done_fn *done;   /* NULL: nobody waits for it */
	struct xhci_dev *dev;
	struct xhci_ep *ep;
	bu_usb_done_fn user_done; /* the core's callback, if any */
	void *user_ctx;           /* and its context */
	uint64_t deadline_us;
	uint32_t counter;
	uint8_t type;
	bool active;
	bool aborted;
};

/** Where a transfer is (xhci_xfer_state.state). */
enum xhci_td_state {
	XHCI_TD_IDLE = 0,       /* not on a ring */
	XHCI_TD_QUEUED = 1,     /* its TD is on the Transfer Ring */
	XHCI_TD_CANCELLING = 2, /* cancelled; completes once the ring stops */
};

/** The driver's state of one transfer, kept in the transfer's opaque bu_usb_xfer.hc. */
struct xhci_xfer_state {
	struct bu_usb_xfer *next; /* endpoint queue link */
	uint64_t dma;             /* bus address of buf[0]: chunks[0].bus of the
				   * mapping (dma_unmap's key), or xfer->dma */
	uint32_t first;           /* ring counter of the TD's first TRB (a No-Op
				   * when the TD was moved past the Link TRB) */
	uint32_t end;             /* one past its last TRB */
	uint32_t win_off;         /* the bytes on the ring now: buf + win_off... */
	uint32_t win_len;         /* ...this many (mapped; 0 when nothing is) */
	uint16_t pending;         /* events still expected */
	uint8_t state;            /* enum xhci_td_state */
};

_Static_assert(sizeof(struct xhci_xfer_state) <= sizeof(((struct bu_usb_xfer *)0)->hc),
	       "the driver's transfer state fits bu_usb_xfer.hc");

/** The driver's state of `xfer` (const-callable: the state is the driver's own). */
static inline struct xhci_xfer_state *xfer_hc(const struct bu_usb_xfer *xfer)
{
	return (struct xhci_xfer_state *)(uintptr_t)&xfer->hc;
}

/** Per-endpoint driver state (one per DCI of a slot). */
struct xhci_ep {
	struct xhci_dev *dev;
	struct bu_usb_endpoint *uep;
	struct xhci_ring ring;
	unsigned dci;
	unsigned type;       /* enum bu_usb_ep_type */
	bool in;
	bool halted;         /* controller halted it; recovery pending */
	bool stopping;       /* Stop Endpoint in flight (cancel) */
	bool paused;         /* held stopped for a suspend: no doorbell until unpaused */
	bool sleep_paused;   /* paused by a bus suspend (xhci_pm.c): unpaused after the restore */
	bool restart;        /* ring the doorbell once recovery is done */
	bool broken;         /* recovery failed: the endpoint refuses work */
	bool skip_valid;     /* drop one event at skip_counter (after a short) */
	uint32_t skip_counter;
	bool resetting;      /* a recovery's Reset Endpoint / Set TR Dequeue in flight */
	bool resync;         /* held until the core reset the device's data toggle */
	uint8_t soft_retries; /* Reset Endpoint TSP=1 retries of the head TD */
	bool missed_run;     /* isoch: a Missed Service Error without a TRB pointer... */
	uint32_t missed_end; /* ...was seen with the enqueue here: the run lies before it */
	struct bu_usb_xfer *head, *tail; /* TDs on the ring, in order */
	size_t ring_bytes;
};

/** Per-slot driver state: the Device Context and Input Context. */
struct xhci_dev {
	struct bu_usb_device *udev;
	unsigned slot;
	void *out_ctx;  /* Output Device Context (§6.2.1), the DCBAA entry */
	uint64_t out_bus;
	void *in_ctx;   /* Input Context (§6.2.5) */
	uint64_t in_bus;
	struct xhci_ep *eps[32]; /* by DCI; eps[1] is EP0 */
	struct xhci_ep *old_eps[32]; /* replaced during a Configure Endpoint */
	/* Being disabled (dev_disable): the core's device waits for `gone_done`,
	 * which runs once its transfers are back (xhci_dev.c). */
	struct xhci_dev *next_disable; /* on xhci.disabling */
	bool disabling;
	bool disable_queued;           /* its Disable Slot is on the Command Ring */
	struct bu_usb_device *gone;    /* the core's device, kept for gone_done */
	bu_usb_done_fn gone_done;
	void *gone_ctx;
};

/*
 * Event Ring segments at most (xHCI §4.9.4): 4, when HCSPARAMS2.ERST Max
 * allows (2^ERSTMax entries, §5.3.4), else what it allows. Four segments
 * of 256 TRBs hold four times the events of one before the controller
 * pauses on Event Ring Full (the Raspberry Pi kernel added ERST entries
 * for that reason: "xhci: Use more event ring segment table entries"),
 * each segment stays one 4 KiB page (no multi-page contiguous DMA memory
 * needed), the ERST is one 64-byte block, and every segment index fits
 * ERDP's 3-bit DESI field (§5.5.2.3.3) unambiguously.
 */
#define XHCI_EVENT_SEGS 4

/**
 * The Event Ring of the primary interrupter (§4.9.4, §6.5): `nsegs`
 * segments of `seg_trbs` TRBs each (both powers of two), listed in order
 * in the ERST. It has no Link TRBs: the controller goes from the end of a
 * segment to the start of the next, and toggles its cycle bit only after
 * the last. `deq` is a free-running counter over all segments: its slot is
 * deq % (nsegs * seg_trbs) and its cycle bit is 1 on even laps.
 */
struct xhci_event_ring {
	struct xhci_trb *seg[XHCI_EVENT_SEGS];
	uint64_t seg_bus[XHCI_EVENT_SEGS];
	unsigned nsegs;
	uint32_t seg_trbs;
	uint32_t deq;
	struct xhci_erst_entry *erst; /* nsegs entries */
	uint64_t erst_bus;
};

/** The controller. */
struct xhci {
	struct bu_usb_bus bus;
	const struct bu_platform *plat;
	struct bu_xhci_options opts;
	uintptr_t base, op, rt, db;
	uint32_t hcsparams1, hcsparams2, hccparams1, hccparams2;
	uint16_t hciversion;
	bool lec;  /* HCCPARAMS2.LEC: Max ESIT Payload may exceed 16 bits */
	unsigned max_slots, max_ports, csz, page_size, num_scratch;
	bool ac64;
	uint64_t dma_mask; /* highest bus address it reaches: 4 GiB - 1 without AC64 */
	uint32_t quirks; /* enum bu_xhci_quirk, from the table and the options */
	bool routed;     /* Intel port routing switched: fw_* go back on stop */
	uint32_t fw_xusb2pr, fw_usb3_pssen; /* the routing as firmware left it */
	uint64_t compliance_poll_us; /* next look for ports stuck in Compliance Mode */
	struct bu_xhci_trace_filter trace; /* what the trace shows */
	bool failed;

	struct xhci_protocol protos[XHCI_MAX_PROTOCOLS];
	unsigned num_protos;
	uint8_t port_proto[XHCI_MAX_PORTS + 1]; /* index+1 into protos, 0 = none */

	uint64_t *dcbaa;
	uint64_t dcbaa_bus;
	uint64_t *scratch_array;
	uint64_t scratch_array_bus;
	void **scratch_bufs;

	struct xhci_ring cmd_ring;
	struct xhci_cmd *cmds; /* one per command ring slot */

	struct xhci_event_ring evt; /* primary interrupter's */

	struct xhci_dev *slots[256];
	struct xhci_dev *disabling; /* devices being disabled, oldest first */

	struct bu_log_line log; /* bu_xhci_log's line */
	/* A decoded TRB (bu_xhci_trace_trb) or context (bu_xhci_ctx_log), one
	 * line at a time: decoded, then handed to the log at once. */
	char trb_text[300];
	char req_text[80]; /* a traced Setup Stage's request by name */
	/*
	 * The chunks bu_xhci_xfer_submit maps a transfer's buffer into, kept
	 * from the mapping until its TD is on the ring. Submits to one bus
	 * never overlap (under the bus lock; the submit path calls no
	 * completion), so one array serves them all, off the stack.
	 */
	struct bu_dma_chunk map[XHCI_MAX_CHUNKS];
	struct xhci_td td; /* the TD bu_xhci_xfer_submit lays out, likewise */
	/* System sleep (xhci_pm.c): what software restores (§4.23.2). */
	struct xhci_pm {
		bool suspended; /* halted for system sleep */
		bool saved;     /* Save State succeeded (SRE stayed 0) */
		bool lost;      /* state lost: slots go at once, bus_reinit next */
		uint32_t usbcmd, dnctrl, config, iman, imod, erstsz;
		uint64_t dcbaap, erstba, erdp;
	} pm;
};

/** The controller behind a core bus. */
static inline struct xhci *bus_xhci(struct bu_usb_bus *bus)
{
	return bus->hc_priv;
}

/* ------------------------------------------------------------------------ */
/* Trace (xhci.c): what the filter lets through                             */

/**
 * Whether the trace shows a line of category `cat` (enum
 * bu_xhci_trace_category) about `slot` and `dci` (0: about none): one
 * branch when tracing is off.
 */
static inline bool xhci_tracing(const struct xhci *x, uint32_t cat, unsigned slot, unsigned dci)
{
	const struct bu_xhci_trace_filter *f = &x->trace;

	if (!(f->categories & cat))
		return false;
	if (slot && f->slot && slot != f->slot)
		return false;
	return !dci || !f->match_ep || bu_xhci_dci_ep_address(dci) == f->ep;
}

/**
 * Trace a command TRB (BU_XHCI_TRACE_CMD) or an event (_EVENT) when the
 * filter lets it through; each names its slot and endpoint itself.
 */
void bu_xhci_trace_trb(struct xhci *x, uint32_t cat, uint64_t addr, const struct xhci_trb *t);
/**
 * Trace a transfer TRB of `slot` and `dci` (BU_XHCI_TRACE_XFER), a Setup
 * Stage with its request by name. Apart from bu_xhci_trace_trb so that
 * only the transfer path carries the request decoder's stack.
 */
void bu_xhci_trace_xfer_trb(struct xhci *x, unsigned slot, unsigned dci, uint64_t addr,
			    const struct xhci_trb *t);
/** Trace a register write (BU_XHCI_TRACE_REG) by the register's name. */
void bu_xhci_trace_reg(struct xhci *x, uintptr_t addr, uint64_t v, unsigned bits);
/** Trace a doorbell write (BU_XHCI_TRACE_DOORBELL). */
void bu_xhci_trace_doorbell(struct xhci *x, unsigned slot, unsigned target);

/* ------------------------------------------------------------------------ */
/* Register access (§5): every access goes through the platform table.      */

/** Read a 32-bit register at `addr`. */
static inline uint32_t xhci_rd32(struct xhci *x, uintptr_t addr)
{
	return x->plat->read32(x->plat->ctx, addr);
}

/** Write a 32-bit register at `addr`. */
static inline void xhci_wr32(struct xhci *x, uintptr_t addr, uint32_t v)
{
	if (x->trace.categories & BU_XHCI_TRACE_REG)
		bu_xhci_trace_reg(x, addr, v, 32);
	x->plat->write32(x->plat->ctx, addr, v);
}

/** Read an operational register (§5.4). */
static inline uint32_t xhci_op_rd(struct xhci *x, unsigned off)
{
	return xhci_rd32(x, x->op + off);
}

/** Write an operational register (§5.4). */
static inline void xhci_op_wr(struct xhci *x, unsigned off, uint32_t v)
{
	xhci_wr32(x, x->op + off, v);
}

/** The platform clock in microseconds. */
static inline uint64_t xhci_now_us(struct xhci *x)
{
	return x->plat->now_us(x->plat->ctx);
}

/**
 * Make the CPU's writes to DMA memory [cpu, cpu+len) at bus address `bus`
 * visible to the controller (the platform's dma_sync_for_device; nothing
 * on a coherent platform). Before a doorbell or command that reads them.
 */
static inline void xhci_sync_dev(struct xhci *x, const void *cpu, uint64_t bus, size_t len,
				 enum bu_dma_dir dir)
{
	if (x->plat->dma_sync_for_device && len)
		x->plat->dma_sync_for_device(x->plat->ctx, (void *)(uintptr_t)cpu, bus, len, dir);
}

/** Make the controller's writes to [cpu, cpu+len) visible to the CPU, before reading them. */
static inline void xhci_sync_cpu(struct xhci *x, const void *cpu, uint64_t bus, size_t len,
				 enum bu_dma_dir dir)
{
	if (x->plat->dma_sync_for_cpu && len)
		x->plat->dma_sync_for_cpu(x->plat->ctx, (void *)(uintptr_t)cpu, bus, len, dir);
}

/** The Output Device Context as the controller last wrote it (§6.2.1), before reading it. */
static inline void xhci_out_ctx_sync(struct xhci *x, struct xhci_dev *d)
{
	xhci_sync_cpu(x, d->out_ctx, d->out_bus, 32 * x->csz, BU_DMA_FROM_DEVICE);
}

/**
 * Ring a Doorbell (§5.6): DB0 for commands, DB slot with the DCI for
 * transfers. bu_wmb orders every TRB and context written before it ahead
 * of the MMIO write that tells the controller to read them.
 */
static inline void xhci_doorbell(struct xhci *x, unsigned slot, unsigned target)
{
	if (xhci_tracing(x, BU_XHCI_TRACE_DOORBELL, slot, slot ? target : 0))
		bu_xhci_trace_doorbell(x, slot, target);
	bu_wmb();
	x->plat->write32(x->plat->ctx, x->db + XHCI_DB(slot), target);
}

/** Input Context entry `index` (0 = Input Control, 1 = Slot, DCI+1 = Endpoint). */
static inline uint32_t *xhci_in_ctx(struct xhci *x, struct xhci_dev *d, unsigned index)
{
	return (uint32_t *)((char *)d->in_ctx + index * x->csz);
}

/** Output Device Context entry: 0 = Slot Context, DCI = Endpoint Context. */
static inline uint32_t *xhci_out_ctx(struct xhci *x, struct xhci_dev *d, unsigned dci)
{
	return (uint32_t *)((char *)d->out_ctx + dci * x->csz);
}

/* ------------------------------------------------------------------------ */
/* xhci.c: controller services for the other files                          */

/** Log a formatted line at `level`, prefixed with the controller ("xhciN: "). */
#define bu_xhci_log(x, level, ...) \
	bu_log_emit((x)->plat, &(x)->log, (level), "xhci", (x)->bus.index, __VA_ARGS__)
/**
 * Log a slot's contexts field by field (xhci_dev.c): the Input Context
 * (Input Control, Slot and every added Endpoint Context) when `input`,
 * else the Output Device Context (Slot and every endpoint not Disabled).
 * `what` names the occasion ("Address Device", "Configure Endpoint failed").
 */
void bu_xhci_ctx_log(struct xhci *x, struct xhci_dev *d, enum bu_log_level level,
		     const char *what, bool input);
/**
 * Report a controller that stopped working, halt it and fail it for good;
 * after the halt every pending command and transfer completes (from here).
 */
void bu_xhci_fail(struct xhci *x, const char *why);
/** Short delay; a spin on the clock when the platform has no delay. */
void bu_xhci_udelay(struct xhci *x, uint32_t us);
/** Next extended capability (§7) with `id` after `prev` (0 = first); 0 if none. */
uintptr_t bu_xhci_xcap_find(struct xhci *x, unsigned id, uintptr_t prev);
/** Zeroed DMA memory the controller can reach; NULL on failure. */
void *bu_xhci_dma_zalloc(struct xhci *x, size_t size, size_t align,
			 size_t boundary, uint64_t *bus);
/** Give back bu_xhci_dma_zalloc memory at bus address `bus` (NULL is fine). */
void bu_xhci_dma_free(struct xhci *x, void *p, uint64_t bus, size_t size);
/** Zeroed driver memory from the platform; NULL on failure. */
void *bu_xhci_zalloc(struct xhci *x, size_t size);
/** Give back bu_xhci_zalloc memory (NULL is fine). */
void bu_xhci_free(struct xhci *x, void *p, size_t size);
/** Allocate a producer ring (§6.5: 64-byte aligned, no 64 KiB crossing). */
int bu_xhci_ring_alloc(struct xhci *x, struct xhci_ring *r, uint32_t count);
/** Free a producer ring (one never allocated is fine). */
void bu_xhci_ring_free(struct xhci *x, struct xhci_ring *r);
/**
 * Hand the TRBs at ring counters [from, to) to the controller's view of
 * memory (xhci_sync_dev), with the Link TRB when they reach the ring's
 * end; before the doorbell.
 */
void bu_xhci_ring_sync(struct xhci *x, struct xhci_ring *r, uint32_t from, uint32_t to);

/** Bounded wait until (operational register `off` & mask) == value (xhci_pm.c). */
int bu_xhci_hc_wait(struct xhci *x, unsigned off, uint32_t mask, uint32_t value,
		    uint64_t timeout_us);
/** Write a 64-bit register as the driver always does (xhci_pm.c). */
void bu_xhci_hc_wr64(struct xhci *x, uintptr_t addr, uint64_t v);
/** Clear R/S and wait for HCH (§5.4.1); 0 when halted. */
int bu_xhci_hc_halt(struct xhci *x);
/**
 * Empty an idle Command Ring and start it over at its first TRB (halted
 * controller only): CRCR takes only 64-byte aligned pointers (§5.4.5), so
 * a ring is restarted from its start, not where it stood (Linux's
 * xhci_clear_command_ring does the same before a suspend).
 */
void bu_xhci_cmd_ring_restart(struct xhci *x);
/**
 * Set a controller whose state was lost up again as at creation, on the
 * memory it has (every slot already released): HCRST, an empty DCBAA
 * but the scratchpads, both rings from their start, then run (§4.2).
 */
int bu_xhci_hc_reinit(struct xhci *x);

/* ------------------------------------------------------------------------ */
/* xhci_pm.c: system sleep (§4.23.2)                                         */

/** ops.bus_suspend: wake enables, halt, Save State and the registers to restore. */
int bu_xhci_bus_suspend(struct bu_usb_bus *bus, unsigned wake);
/** ops.bus_resume: restore the registers, Restore State, run; 1 when the state is lost. */
int bu_xhci_bus_resume(struct bu_usb_bus *bus);
/** ops.bus_reinit: bu_xhci_hc_reinit after a lost state. */
int bu_xhci_bus_reinit(struct bu_usb_bus *bus);
/** ops.bus_wake_check: the root port signalling a wake while halted, or 0. */
unsigned bu_xhci_bus_wake_check(struct bu_usb_bus *bus, enum bu_usb_wake_kind *kind);

/* ------------------------------------------------------------------------ */
/* xhci_cmd.c: the Command Ring (§4.6)                                      */

/** Allocate the Command Ring and its pending-command slots. */
int bu_xhci_cmd_ring_alloc(struct xhci *x);
/** Free what bu_xhci_cmd_ring_alloc allocated. */
void bu_xhci_cmd_ring_free(struct xhci *x);
/**
 * Queue one command TRB and ring DB0. `done` (may be NULL) runs from poll
 * with the completion code, or with XHCI_CC_CMD_ABORTED when it timed out.
 */
int bu_xhci_cmd_submit(struct xhci *x, uint64_t param, uint32_t dw3,
		       xhci_cmd_done_fn *done, struct xhci_dev *dev,
		       struct xhci_ep *ep, bu_usb_done_fn user_done, void *user_ctx);
/** Handle a Command Completion Event (§6.4.2.2). */
void bu_xhci_cmd_complete(struct xhci *x, const uint32_t dw[4]);
/** Abort the oldest command if it is past its deadline (§4.6.1.2). */
void bu_xhci_cmd_check_timeout(struct xhci *x);
/** The deadline of the command at the ring's head, or BU_USB_NO_TIMEOUT. */
uint64_t bu_xhci_cmd_next_timeout(struct xhci *x);
/** Fail every pending command with BU_ESHUTDOWN (controller dead). */
/**
 * `d` is being freed: commands still on the ring for it keep their place
 * but lose their device and completion functions (nothing may reach freed
 * memory when they complete).
 */
void bu_xhci_cmd_forget_dev(struct xhci *x, const struct xhci_dev *d);
void bu_xhci_cmd_fail_all(struct xhci *x);

/* ------------------------------------------------------------------------ */
/* xhci_dev.c: slots, Device and Input Contexts                             */

/** ops.dev_enable: Enable Slot with the root port's protocol slot type. */
int bu_xhci_dev_enable(struct bu_usb_device *u, bu_usb_done_fn done, void *ctx);
/** ops.dev_address: Address Device (BSR=0) with Slot and EP0 contexts. */
int bu_xhci_dev_address(struct bu_usb_device *u, bu_usb_done_fn done, void *ctx);
/** ops.dev_update_ep0: Evaluate Context with EP0's new max packet size. */
int bu_xhci_dev_update_ep0(struct bu_usb_device *u, bu_usb_done_fn done, void *ctx);
/** ops.dev_configure: one Configure Endpoint for all changes (§4.6.6). */
int bu_xhci_dev_configure(struct bu_usb_device *u, uint32_t add_mask, uint32_t drop_mask,
			  bu_usb_done_fn done, void *ctx);
/**
 * ops.dev_disable: Disable Slot; the device's transfers complete with
 * BU_ENODEV, and `done` runs, once the controller no longer touches them.
 */
int bu_xhci_dev_disable(struct bu_usb_device *u, bu_usb_done_fn done, void *ctx);
/** Queue the Disable Slots that waited for Command Ring space (from poll). */
void bu_xhci_dev_disable_pending(struct xhci *x);
/**
 * The controller is halted: complete every transfer (BU_ENODEV for devices
 * being disabled, whose `done` then runs; BU_ESHUTDOWN for the others).
 */
void bu_xhci_dev_fail_all(struct xhci *x);
/** bu_xhci_dev_fail_all, then free every slot's state (the controller is halted). */
void bu_xhci_dev_free_all(struct xhci *x);

/* ------------------------------------------------------------------------ */
/* xhci_port.c: root ports (§4.19) and Supported Protocols (§7.2)           */

/** Record the Supported Protocol capabilities: which port speaks what. */
void bu_xhci_read_protocols(struct xhci *x);

/* xhci_quirks.c */
/** Set x->quirks from the PCI identity and the options (after the caps are read). */
void bu_xhci_quirks_init(struct xhci *x);
/**
 * The quirks' set-up in PCI config space (Intel PCH port routing): after
 * the firmware handoff and reset, before the ports are powered and scanned.
 */
void bu_xhci_quirks_start(struct xhci *x);
/** Undo bu_xhci_quirks_start (config space as firmware left it); controller halted. */
void bu_xhci_quirks_stop(struct xhci *x);
/** Name of one quirk bit, for logs. */
const char *bu_xhci_quirk_name(uint32_t quirk);
/** The protocol of a root port, or NULL when no capability names it. */
const struct xhci_protocol *bu_xhci_port_protocol(struct xhci *x, unsigned port);
/** Power the switchable root ports that are off (§4.19.4), then wait. */
void bu_xhci_ports_power_on(struct xhci *x);
/**
 * Periodic root-port work, from poll: with MISSING_CAS, every 2 s, hand the
 * core the USB 3 ports stuck in Compliance Mode (they raise no event).
 */
void bu_xhci_ports_poll(struct xhci *x);
/** ops.port_status: read PORTSC, acknowledge its change bits. */
int bu_xhci_port_status(struct bu_usb_bus *bus, unsigned port,
			struct bu_usb_port_status *st);
/** ops.port_reset: USB 2 reset (PR) or USB 3 warm reset (WPR). */
int bu_xhci_port_reset(struct bu_usb_bus *bus, unsigned port, bool warm);
/** ops.port_set_link: PLS write with the Link State Write Strobe (§4.15.2). */
int bu_xhci_port_set_link(struct bu_usb_bus *bus, unsigned port,
			  enum bu_usb_link link);
/** ops.port_power: set PP on a switchable port the xHC powered off. */
int bu_xhci_port_power(struct bu_usb_bus *bus, unsigned port);

/* ------------------------------------------------------------------------ */
/* xhci_dump.c: the state dump (bu_xhci_dump)                               */

/**
 * Log every register by name, decoded, the rings with their pending
 * commands and the TRBs around each dequeue pointer, and each device's
 * enumeration step, at `level`. Reads registers only.
 */
void bu_xhci_dump_at(struct xhci *x, enum bu_log_level level);

/* ------------------------------------------------------------------------ */
/* xhci_xfer.c: Transfer Rings, transfer events, recovery, cancellation     */

/** ops.xfer_submit: queue a TD (control, bulk, interrupt or isochronous). */
int bu_xhci_xfer_submit(struct bu_usb_xfer *xfer);
/** ops.xfer_cancel: stop the endpoint; the TD completes with `status`. */
int bu_xhci_xfer_cancel(struct bu_usb_xfer *xfer, int status);
/** ops.ep_abort: cancel every queued transfer of an endpoint. */
int bu_xhci_ep_abort(struct bu_usb_endpoint *uep, int status);
/** ops.ep_pause: stop the endpoint keeping its TDs (before a suspend). */
int bu_xhci_ep_pause(struct bu_usb_endpoint *uep, bu_usb_done_fn done, void *ctx);
/** ops.ep_unpause: let a paused endpoint run its queued TDs again. */
void bu_xhci_ep_unpause(struct bu_usb_endpoint *uep);
/** ops.ep_queued: transfers on the endpoint's ring. */
unsigned bu_xhci_ep_queued(struct bu_usb_endpoint *uep);
/** Complete every queued transfer of an endpoint with `status`. */
void bu_xhci_ep_fail_all(struct xhci *x, struct xhci_ep *ep, int status);
/** Handle a Transfer Event (§6.4.2.1). */
void bu_xhci_transfer_event(struct xhci *x, const uint32_t dw[4]);

#endif
