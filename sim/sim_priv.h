/*
 * sim internals shared by the model's files. Not for tests.
 *
 * Time is kept in nanoseconds (sim->now). Every piece of pending work has a
 * due time; sim_run() processes everything due up to sim->now in time order.
 */
#ifndef SIM_SIM_PRIV_H
#define SIM_SIM_PRIV_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "xhci_hw.h"
#include "sim.h"

#define SIM_NEVER UINT64_MAX
#define SIM_US 1000ull
#define SIM_MS 1000000ull

#define SIM_MAX_PORTS 32
#define SIM_MAX_INTRS 16
#define SIM_MAX_SLOTS 64
#define SIM_MAX_VIOL 64
#define SIM_CTRL_BUF 4096

/* Register window layout (deliberately not QEMU's). */
#define SIM_CAPLENGTH 0x80
#define SIM_XECP_OFF 0x2000
#define SIM_DB_OFF 0x3000
#define SIM_RT_OFF 0x4000
#define SIM_WINDOW 0x10000

/* ------------------------------------------------------------------------ */
/* DMA space                                                                */

#define SIM_PERM_R 1 /* the device may read (host to device) */
#define SIM_PERM_W 2 /* the device may write (device to host) */

struct sim_region {
	uint64_t bus;
	size_t len;
	uint8_t *host;    /* CPU view of bus..bus+len */
	void *block;      /* what to free (dma_alloc), NULL for maps */
	void *map_buf;    /* dma_map: caller's buffer */
	size_t map_len;   /* dma_map: caller's length */
	uint8_t perm;
	uint8_t dir;
	bool is_map;
	bool dead;        /* freed / unmapped: any access is a use-after-free */
	/* Non-coherent mode (sim_config.noncoherent): what the controller
	 * sees, updated from `host` only by dma_sync_for_device (a cache
	 * clean) and copied to `host` only by dma_sync_for_cpu (an
	 * invalidate), per 64-byte line of bus address space. */
	uint8_t *dev;
	uint8_t *dev_wrote; /* per line: the controller wrote it since the last invalidate */
};

#define SIM_CACHE_LINE 64 /* the non-coherent mode's cache line */

/* ------------------------------------------------------------------------ */
/* Devices                                                                  */

struct sim_fault {
	uint8_t active;
	uint8_t kind;
	uint8_t ep;       /* endpoint faults */
	bool is_req;
	uint8_t bm, breq;
	int wvalue;
	unsigned count;   /* 0 = forever */
	uint32_t arg;
};
#define SIM_MAX_FAULTS 8

struct sim_hub_port {
	struct sim_device *dev;
	uint16_t status;  /* wPortStatus */
	uint16_t change;  /* wPortChange */
	uint64_t reset_due; /* ns; SIM_NEVER when not resetting */
	bool warm;
	uint64_t connect_ns;
	uint64_t resume_due; /* ns: the resume under way ends; 0 when none */
	uint64_t resumed_ns; /* resume signalling ended / link back in U0 (TRSMRCY counts from here) */
	uint64_t suspend_ns; /* the port was suspended (a device's suspend time counts from here) */
};

/*
 * A buffer of a high-speed hub's TT holding a split transaction the host
 * abandoned (USB 2.0 §11.17.5): busy until CLEAR_TT_BUFFER frees it.
 */
struct sim_tt_busy {
	struct sim_device *dev; /* the device whose split it holds; NULL = free */
	uint8_t addr;     /* the device's address then */
	uint8_t ep;       /* endpoint number, bit 7: the split's direction (IN) */
	uint8_t tt_port;  /* 1 on a single-TT hub, else the port of its TT */
	bool control;     /* a control endpoint: any new transaction to it meets the buffer */
};
#define SIM_TT_BUSY_MAX 16
#define SIM_TT_LOG 16

struct sim_hub {
	struct sim_hub_port port[16];
	uint8_t depth;    /* SET_HUB_DEPTH value (USB 3) */
	bool depth_set;
	bool multi_tt;    /* alt 1 selected on a multi-TT hub */
	bool desc_sent;   /* a hub descriptor went out: what the host may know */
	uint8_t desc_ports; /* its bNbrPorts */
	uint16_t desc_chars; /* its wHubCharacteristics */
	uint64_t due;
	/* Transaction translator(s) of a high-speed hub (sim_hub.c). */
	struct sim_tt_busy tt_busy[SIM_TT_BUSY_MAX];
	uint8_t tt_left[16];  /* bitmap: addresses of devices that left from behind it */
	unsigned tt_clears;   /* CLEAR_TT_BUFFER requests answered */
	uint16_t tt_log[SIM_TT_LOG][2]; /* the first ones' wValue, wIndex */
};

struct sim_device {
	struct sim *sim;
	const struct sim_device_model *model;
	const struct sim_desc_set *desc;  /* descriptors at the running speed */
	enum sim_speed speed;
	struct sim_device *parent;        /* hub above, NULL on a root port */
	struct sim_device *next;          /* sim's device list */
	unsigned port;                    /* port on parent, or root port */
	unsigned root_port;
	unsigned depth;                   /* 0 on a root port */
	bool attached;

	uint8_t address;                  /* 0 = Default */
	bool addressed;
	uint8_t config;                   /* bConfigurationValue, 0 = none */
	int config_idx;                   /* index into desc->configs, -1 */
	uint8_t alt[32];
	uint16_t halt_in, halt_out;       /* endpoint Halt feature bits */
	uint16_t toggle_in, toggle_out;   /* device-side data toggle / seq parity */
	bool remote_wake;                 /* USB 2: DEVICE_REMOTE_WAKEUP set */
	bool func_wake;                   /* USB 3: FUNCTION_SUSPEND with Function Remote Wake */
	bool func_suspended;              /* USB 3: FUNCTION_SUSPEND with Low Power Suspend */
	uint8_t func_iface;               /* USB 3: the interface FUNCTION_SUSPEND named last */
	uint64_t wake_due;                /* a remote wakeup held until 5 ms of suspend (SIM_NEVER: none) */
	bool fwake_pending;               /* USB 3: Function Wake to send once its links are in U0 */
	unsigned fwakes;                  /* Function Wake notifications it sent */
	unsigned slot;                    /* slot bound by Address Device, 0 = none */

	uint64_t connect_ns;              /* when the device became visible */
	uint64_t reset_end_ns;            /* last bus reset end */
	uint64_t set_address_ns;          /* last SET_ADDRESS */
	bool needs_reset;                 /* reset before Address Device */

	/* control pipe state */
	struct usb_setup_packet setup;
	bool setup_valid;
	uint8_t ctrl_buf[SIM_CTRL_BUF];
	uint16_t ctrl_len;                /* IN: bytes prepared; OUT: bytes received */
	uint16_t ctrl_pos;                /* IN: bytes sent */
	int ctrl_result;                  /* SIM_ACK/SIM_STALL for the request */

	struct sim_fault faults[SIM_MAX_FAULTS];
	sim_desc_hook_fn desc_hook;
	void *desc_hook_ctx;
	sim_answer_hook_fn answer_hook;
	void *answer_hook_ctx;

	struct sim_hub *hub;
	void *priv;
};

/* ------------------------------------------------------------------------ */
/* Controller state                                                         */

struct sim_port {
	uint32_t sc;        /* PORTSC as read (RW1C/RW1S bits as state) */
	uint32_t pmsc, li, hlpmc;
	bool usb3;
	struct sim_device *dev;
	uint64_t due;       /* pending port work */
	int pending;        /* SIM_PORT_* */
	uint64_t connect_ns;
	uint64_t resume_ns;  /* USB 2: PLS=Resume written (TDRSMDN counts from here) */
	uint64_t resumed_ns; /* the link is back from U3 (TRSMRCY counts from here) */
	uint64_t u3_ns;      /* the link went to U3 (a device's suspend time counts from here) */
};
enum { SIM_PORT_NONE, SIM_PORT_RESET, SIM_PORT_WARM, SIM_PORT_TRAIN, SIM_PORT_RESUME };

struct sim_seg {
	uint64_t base;
	uint32_t size;
};

struct sim_evq {
	uint32_t dw[4];
	bool bei;
};

struct sim_intr {
	uint32_t iman, imod, erstsz;
	uint64_t erstba, erdp;
	struct sim_seg *segs;
	unsigned nsegs;
	unsigned enq_seg, enq_idx;
	bool pcs;
	bool ready;          /* ERSTBA written with a valid table */
	bool full;           /* Event Ring Full posted; paused until ERDP moves */
	uint64_t full_erdp;  /* ERDP when it filled */
	struct sim_evq *q;   /* events held while full */
	unsigned qlen, qcap;
	bool irq_pending;    /* an event wants an interrupt */
	uint64_t imod_end;   /* moderation interval ends (ns) */
	uint32_t edtla;
};

struct sim_td_trb {
	uint64_t addr;
	uint32_t dw[4];
};

struct sim_ep {
	uint8_t state;       /* XHCI_EP_STATE_* */
	uint8_t type;        /* XHCI_EPT_* */
	uint16_t mps;
	uint8_t burst, mult, interval, cerr;
	uint32_t max_esit;
	uint16_t avg_trb;
	uint64_t deq;
	bool ccs;
	bool checked;        /* context compared with the descriptor once */

	/* engine */
	uint64_t due;
	bool active;         /* in sim->active list */
	struct sim_td_trb *td;  /* current TD's TRBs */
	unsigned td_n, td_cap;
	bool td_live;
	unsigned cur;        /* current TRB index within the TD */
	uint32_t cur_off;    /* bytes done in it */
	uint64_t td_len;     /* total bytes */
	uint64_t td_done;
	uint32_t edtla;      /* bytes since last Event Data */
	uint64_t next_deq;   /* ring position after the TD */
	bool next_ccs;
	unsigned errs;       /* consecutive transaction errors in this TD */
	int ctrl_stage;      /* control: 0 setup, 1 data, 2 status */
	bool short_seen;
	bool host_toggle;
	uint64_t svc_ns;     /* periodic: next service opportunity */
	unsigned pkts_this_esit;
	bool idle_reported;  /* isoch: underrun/overrun already reported */
	bool held_by_suspend; /* waiting: the root port is in U3 */
	bool frame_due;      /* isoch: this TD's Frame ID was checked; it waits for it */
	/* isoch: a run of missed TDs not yet reported (sim_config.missed_service_run) */
	unsigned missed_n;
	uint64_t missed_ptr; /* the last missed TD's last TRB */
	uint32_t missed_len; /* its length (nothing of it moved) */
	unsigned missed_intr; /* its Interrupter Target */
};

struct sim_slot {
	bool enabled;
	uint8_t state;       /* XHCI_SLOT_STATE_*; enabled-but-nothing = 0 */
	uint64_t out_ctx;
	uint32_t sctx[4];    /* our copy of slot context dwords 0..3 */
	struct sim_ep ep[32];
	struct sim_device *dev;
	uint8_t address;
};

struct sim_cmd {
	uint64_t deq;
	bool ccs;
	bool crr;
	bool busy;            /* a command is executing */
	uint64_t cur_addr;
	uint32_t cur[4];
	uint64_t due;
	bool stop_req, abort_req;
	uint32_t crcr_lo;     /* latched low dword */
	unsigned hang_type;   /* fault: 0 none, 0xff any, else TRB type */
	bool hanging;
};

struct sim {
	struct sim_config cfg;
	struct bu_platform plat;
	unsigned id;
	uintptr_t base;
	uint64_t now;          /* ns */
	uint64_t hcrst_written_ns; /* when HCRST was last written (0: never) */
	uint64_t next_due;     /* cached earliest due time */
	bool in_run;
	/* The platform's wait hook (sim_config.wait_hook): interrupts the
	 * "CPU" has taken, and who handles them. */
	uint64_t irqs_taken;
	void (*irq_fn)(void *ctx);
	void *irq_ctx;

	/* capability values */
	uint32_t hcsparams1, hcsparams2, hcsparams3, hccparams1, hccparams2;
	unsigned nports, nintrs, nslots, ctx_size;
	uint32_t xcap[64];     /* extended capability dwords at SIM_XECP_OFF */
	unsigned xcap_len;
	unsigned legacy_off;   /* dword index of the legacy cap in xcap, or ~0 */
	uint64_t bios_due;

	/* operational */
	uint32_t usbcmd, usbsts, dnctrl, config;
	uint64_t dcbaap;
	uint32_t dcbaap_lo;
	uint64_t ctrl_due;     /* controller state change pending */
	int ctrl_pending;      /* SIM_CTRL_* */
	uint64_t cnr_until;
	bool cnr_stuck;
	bool hcrst_stuck;      /* fault: HCRST never completes */
	/* Save and Restore State (§4.23.2). */
	bool state_saved;      /* a Save State completed since power-on / HCRST */
	bool fault_save_sre, fault_restore_sre; /* the next save / restore fails (SRE) */
	unsigned saved_enq_seg, saved_enq_idx; /* the primary event ring's producer */
	bool saved_pcs;
	bool pme;              /* a wake was signalled while halted (sim_pme_take) */
	uint64_t run_start_ns; /* for MFINDEX */
	uint32_t mfindex_base;

	struct sim_port port[SIM_MAX_PORTS];
	unsigned compliance_left; /* USB 3 trainings still to end in Compliance Mode */
	struct sim_intr intr[SIM_MAX_INTRS];
	struct sim_slot slot[SIM_MAX_SLOTS + 1];
	struct sim_cmd cmd;
	uint8_t addr_used[128];

	/* active endpoints (slot << 8 | dci) */
	uint16_t active[SIM_MAX_SLOTS * 31 + 1];
	unsigned nactive;

	struct sim_device *devices;

	/* DMA space and heap accounting */
	struct sim_region *regions;
	size_t nregions, cap_regions;
	uint64_t bus_next;
	size_t dma_allocs, dma_bytes, dma_maps, heap_allocs, heap_bytes;
	uint64_t bus_low;        /* next bus address below 4 GiB, for a 32-bit DMA mask */
	struct sim_heap_block {  /* the platform's live alloc() blocks: no DMA there */
		const uint8_t *p;
		size_t size;
	} *heap_blocks;
	size_t nheap_blocks, cap_heap_blocks;

	/* PCI function (sim_pci.c) */
	uint32_t pci_command;
	uint32_t xusb2pr, usb3_pssen; /* Intel port routing, with intel_port_routing */

	/* faults */
	bool fault_er_full;
	bool fault_bw;

	/* stats */
	struct sim_stats st;

	/* diagnostics */
	unsigned nviol;
	char *viol[SIM_MAX_VIOL];
	bool trace;
	int log_level;
	uint64_t last_now_us;
};
enum { SIM_CTRL_NONE, SIM_CTRL_RESET_DONE, SIM_CTRL_HALT_DONE, SIM_CTRL_RUN_DONE,
       SIM_CTRL_SAVE_DONE, SIM_CTRL_RESTORE_DONE };

/* sim_core.c */
void sim_log(struct sim *sim, int level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void sim_violation_add(struct sim *sim, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void sim_tracef(struct sim *sim, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void sim_trace_trb(struct sim *sim, const char *what, uint64_t addr,
		   const uint32_t dw[4]);
void sim_schedule(struct sim *sim, uint64_t *due, uint64_t when);
void sim_run(struct sim *sim);
bool sim_dma_read(struct sim *sim, uint64_t bus, void *dst, size_t len,
		  const char *what);
bool sim_dma_write(struct sim *sim, uint64_t bus, const void *src, size_t len,
		   const char *what);
bool sim_dma_probe(struct sim *sim, uint64_t bus, size_t len, bool write,
		   const char *what);
void sim_host_error(struct sim *sim, const char *why);
void sim_hc_error(struct sim *sim, const char *why);
bool sim_running(const struct sim *sim);

/* sim_regs.c */
uint32_t sim_mmio_read(struct sim *sim, uint32_t off);
void sim_mmio_write(struct sim *sim, uint32_t off, uint32_t val);
void sim_regs_init(struct sim *sim);

/* sim_personality.c */
/** Fill the fields the configuration left at zero from its personality. */
void sim_personality_apply(struct sim_config *c);
/** VL805: the read-ahead after fetching the TRB at `trb_addr`. */
void sim_trb_readahead(struct sim *sim, uint64_t trb_addr);
/** A register access at `off` while the controller must be left alone after HCRST. */
void sim_reset_settle_check(struct sim *sim, uint32_t off);
void sim_ctrl_work(struct sim *sim);
void sim_hc_reset(struct sim *sim);
uint32_t sim_mfindex(const struct sim *sim);

/* sim_event.c */
void sim_event_post(struct sim *sim, unsigned intr, const uint32_t dw[4], bool bei);
void sim_intr_erstba(struct sim *sim, unsigned n);
void sim_intr_erdp(struct sim *sim, unsigned n, uint64_t val);
void sim_intr_work(struct sim *sim, unsigned n);
uint64_t sim_intr_due(const struct sim *sim, unsigned n);
void sim_intr_reset(struct sim *sim);
bool sim_events_paused(const struct sim *sim);

/* sim_cmd.c */
void sim_cmd_doorbell(struct sim *sim);
void sim_cmd_crcr(struct sim *sim, uint32_t lo, uint32_t hi, bool hi_write);
void sim_cmd_work(struct sim *sim);
void sim_slots_reset(struct sim *sim);
uint64_t sim_ctx_addr(struct sim *sim, uint64_t base, unsigned idx);
void sim_write_out_ep(struct sim *sim, unsigned slot, unsigned dci);
void sim_write_out_slot(struct sim *sim, unsigned slot);
void sim_slot_detach_dev(struct sim *sim, struct sim_device *dev);

/* sim_xfer.c */
void sim_ep_doorbell(struct sim *sim, unsigned slot, uint32_t val);
void sim_ep_work(struct sim *sim, unsigned slot, unsigned dci);
void sim_ep_activate(struct sim *sim, unsigned slot, unsigned dci, uint64_t when);
void sim_ep_deactivate(struct sim *sim, unsigned slot, unsigned dci);
void sim_ep_reset_engine(struct sim_ep *ep);
void sim_ep_reset(struct sim *sim, unsigned slot, unsigned dci, bool tsp);
bool sim_ep_stop(struct sim *sim, unsigned slot, unsigned dci);
void sim_xfer_event(struct sim *sim, unsigned slot, unsigned dci, uint64_t ptr,
		    uint32_t len, unsigned cc, bool ed, unsigned intr, bool bei);

/* sim_pci.c */
void sim_pci_init(struct sim *sim);

/* sim_port.c */
void sim_ports_init(struct sim *sim);
/* False while intel_port_routing keeps the root port on the EHCI. */
bool sim_port_routed(const struct sim *sim, unsigned port);
/* The port's routing changed: a device on it appears or goes away. */
void sim_port_rerouted(struct sim *sim, unsigned port);
uint32_t sim_port_read(struct sim *sim, unsigned port, unsigned reg);
void sim_port_write(struct sim *sim, unsigned port, unsigned reg, uint32_t val);
void sim_port_work(struct sim *sim, unsigned port);
void sim_port_change(struct sim *sim, unsigned port, uint32_t bits);
void sim_ports_hc_reset(struct sim *sim);
void sim_ports_running(struct sim *sim);
/* True while a root port's link is suspended (U3) or resuming: no bus traffic. */
bool sim_port_suspended(const struct sim *sim, unsigned port);
struct sim_device *sim_route(struct sim *sim, unsigned root_port, uint32_t route,
			     const char **why);
unsigned sim_port_psiv(const struct sim *sim, unsigned port, enum sim_speed speed);
enum sim_speed sim_psiv_speed(const struct sim *sim, unsigned port, unsigned psiv);

/* sim_dev.c */
struct sim_device *sim_dev_new(struct sim *sim, const struct sim_device_model *model,
			       enum sim_speed speed);
void sim_dev_free(struct sim_device *dev);
void sim_dev_bus_reset(struct sim_device *dev);
/* control transfer, stage by stage */
int sim_dev_setup(struct sim_device *dev, const uint8_t setup[8]);
int sim_dev_ctrl_in(struct sim_device *dev, uint8_t *buf, uint16_t max);
int sim_dev_ctrl_out(struct sim_device *dev, const uint8_t *buf, uint16_t len);
int sim_dev_ctrl_status(struct sim_device *dev);
/* data packets; returns bytes / SIM_ACK or SIM_NAK / SIM_STALL / SIM_DEV_* */
int sim_dev_in(struct sim_device *dev, uint8_t ep, uint8_t *buf, uint16_t max, bool isoch,
	       bool *toggle);
int sim_dev_out(struct sim_device *dev, uint8_t ep, const uint8_t *buf, uint16_t len,
		bool isoch, bool *toggle);
int sim_dev_req_fault(struct sim_device *dev, const struct usb_setup_packet *s);
int sim_dev_fault_take(struct sim_device *dev, uint8_t ep, int kind, uint32_t *arg);
bool sim_dev_has_ep(const struct sim_device *dev, uint8_t ep, const uint8_t **epd,
		    const uint8_t **comp);
void sim_dev_set_address(struct sim_device *dev, uint8_t addr);
enum { SIM_DEV_BABBLE = -10, SIM_DEV_XACT = -11, SIM_DEV_GONE = -12 };

/* sim_hub.c */
int sim_hub_control(struct sim_device *dev, const struct usb_setup_packet *s,
		    uint8_t *data, uint16_t *len);
int sim_hub_in(struct sim_device *dev, uint8_t ep, uint8_t *buf, uint16_t max);
void sim_hub_work(struct sim_device *dev);
void sim_hub_attach(struct sim_device *hub, unsigned port, struct sim_device *dev);
void sim_hub_detach(struct sim_device *hub, unsigned port);
bool sim_hub_port_enabled(const struct sim_device *hub, unsigned port);
/* A root port in U3 sees remote wakeup: U3 -> Resume with PLC (xHCI §4.15.2.3). */
bool sim_port_remote_wake(struct sim *sim, unsigned port);
/* True while a hub port on the way to `dev` is suspended or resuming. */
bool sim_hub_route_suspended(const struct sim_device *dev);
/* A packet reaches `dev`: flag it when a link above it is still in its
 * resume recovery (USB 2.0 §7.1.7.7 TRSMRCY). */
void sim_resume_recovery_check(struct sim *sim, const struct sim_device *dev);
/* A held remote wakeup whose 5 ms are over is signalled (scheduler). */
void sim_wake_work(struct sim_device *dev);
/* Device Notification type Function Wake (USB 3.2 §8.5.6, Table 8-18). */
#define SIM_NOTE_FUNCTION_WAKE 1
/* A link came back to U0: Function Wakes whose route is up are sent. */
void sim_fwake_deliver(struct sim *sim);
/** True when `mps` is a legal max packet size for the type at the speed (USB 2.0 §5.5-§5.8, USB 3.2 §9.6.6). */
bool sim_mps_legal(enum sim_speed sp, unsigned xtype, unsigned mps);
void sim_hub_reset(struct sim_device *dev);
/* The nearest high-speed hub above a low/full-speed `dev` (its TT) and the
 * port of that hub leading down to it; NULL for any other device. */
struct sim_device *sim_tt_hub(struct sim_device *dev, unsigned *port);
/* A split to endpoint `ep` (bit 7: direction of the stage) of `dev`, of
 * transfer type `xtype`, was abandoned: its TT buffer is busy now. */
void sim_tt_abandon(struct sim_device *dev, uint8_t ep, unsigned xtype);
/* A transaction to `ep` of `dev` goes through its TT: a busy buffer for it is a violation. */
void sim_tt_transaction(struct sim_device *dev, uint8_t ep);

static inline uint64_t sim_rd64(const uint32_t *p)
{
	return (uint64_t)p[0] | ((uint64_t)p[1] << 32);
}

#endif
