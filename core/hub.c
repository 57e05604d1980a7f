/*
 * Hub class driver (USB 2.0 chapter 11, USB 3.2 chapter 10).
 *
 * One small state machine per hub: read the hub descriptor, tell the
 * controller the slot is a hub (ports, TT think time, MTT), set the hub
 * depth on USB 3 hubs, power the ports, then watch them. Port changes
 * arrive on the status-change interrupt endpoint; while a port is being
 * debounced or reset the driver reads its status directly instead of
 * waiting for the next interrupt poll (a full-speed hub's is 128 ms or
 * more), so only the delays the spec mandates are spent.
 *
 * The completions only record what came back; the next step goes out
 * from hub_poll, which the bus runs at the end of every bu_usb_bus_poll,
 * so in the same poll. A completion runs deep inside the controller's
 * event handling: what a step starts there (a request, a port's new
 * device enumerated, a failed child's port disabled) would stack on top
 * of it, and on top of a synchronous request waiting in that poll.
 *
 * Each hub has one control request in flight at a time; a high-speed hub
 * also sends the requests its transaction translators need (tt.c:
 * CLEAR_TT_BUFFER, RESET_TT) among them. Within a root
 * port's tree only one device may be at the default address: a port reset
 * takes the root port's lock, and the new device gives it back once the
 * controller has addressed it.
 */
#include "core_priv.h"

#include "bareusb/desc.h"
#include "bareusb/assert.h"
#include "bareusb/util.h"

#include "timing.h"

#define HUB_MAX_PORTS 31 /* as Linux: larger bNbrPorts is refused */

/*
 * Replies the hub's control buffer receives, each requested with exactly
 * its length: the USB 2 hub descriptor at its largest (USB 2.0 §11.23.2.1:
 * 7 bytes, then DeviceRemovable and PortPwrCtrlMask of up to 32 bytes each
 * for 255 ports), the USB 3 one (USB 3.2 §10.15.2.1: 12 bytes) and
 * GET_STATUS's wPortStatus + wPortChange (USB 2.0 §11.24.2.7).
 */
#define HUB_DESC2_LEN (7 + 2 * 32)
#define HUB_DESC3_LEN 12
#define HUB_PORT_STATUS_LEN 4
#define HUB_BUF_LEN HUB_DESC2_LEN

/*
 * A hostile or broken hub must not keep the bus busy for ever: a port
 * whose status cannot be read or whose change bits cannot be cleared this
 * many times in a row is given up, and a hub that lets this many requests
 * in a row time out (5 s each) is failed as a whole.
 */
#define HUB_PORT_MAX_ERRORS 3
#define HUB_MAX_TIMEOUTS 2

/* Hub class requests and features (USB 2.0 §11.24.2, Table 11-17). */
#define HUB_REQ_SET_HUB_DEPTH 12
#define HUB_FEAT_PORT_ENABLE 1
#define HUB_FEAT_PORT_SUSPEND 2     /* USB 2 hubs */
#define HUB_FEAT_PORT_RESET 4
#define HUB_FEAT_PORT_LINK_STATE 5  /* USB 3 hubs: target state in wIndex[15:8] */
#define HUB_FEAT_PORT_POWER 8
#define HUB_FEAT_BH_PORT_RESET 28

#define PS_CONNECTION 0x0001
#define PS_ENABLE 0x0002
#define PS_SUSPEND 0x0004 /* USB 2: suspended or resuming */
#define PS_OVER_CURRENT 0x0008
#define PS_RESET 0x0010
#define PS_LOW_SPEED 0x0200
#define PS_HIGH_SPEED 0x0400
#define PS_SS_LINK_STATE(s) (((s) >> 5) & 0xf)
#define SS_LINK_INACTIVE 6

/* Change bits and the features that clear them (wPortChange). */
static const uint8_t change_feature[] = {
	16, /* C_PORT_CONNECTION */
	17, /* C_PORT_ENABLE */
	18, /* C_PORT_SUSPEND (USB 2) */
	19, /* C_PORT_OVER_CURRENT */
	20, /* C_PORT_RESET */
	23, /* C_PORT_L1 / bit 5: C_BH_PORT_RESET is 29 on USB 3 */
	25, /* USB 3 bit 6: C_PORT_LINK_STATE */
	26, /* USB 3 bit 7: C_PORT_CONFIG_ERROR */
};

struct hub_port {
	struct bu_port port; /* the port machine's state (port.c) */
	bool read;        /* status must be read */
	bool act;         /* status read and changes cleared: decide */
	bool timer_fired;
	bool reconnect;   /* C_PORT_CONNECTION was seen in the last read */
	bool disable;     /* ClearPortFeature(PORT_ENABLE) pending */
	bool disabled;    /* C_PORT_ENABLE was seen in the last read */
	bool reenumerate; /* bu_usb_device_reset asked for its device: reset the port */
	uint16_t status;
	uint16_t change;  /* change bits still to clear */
	uint8_t errors;   /* requests about it that failed in a row */
	bool broken;      /* given up: its hub cannot report or clear its state */
	uint8_t pm_req;   /* HUB_PM_*: a suspend or resume for pm.c waits to go out */
	bool woke;        /* C_PORT_SUSPEND (USB 3: C_PORT_LINK_STATE) in the last read */
	bool pm_done;     /* the pm request completed with pm_status: hub_poll tells pm.c */
	int pm_status;
};

/* Link requests pm.c makes about a hub port (bu_core_hub_port_pm). */
enum { HUB_PM_NONE = 0, HUB_PM_SUSPEND, HUB_PM_RESUME };

/** Hub setup steps, then RUN. */
enum hub_step {
	HUB_GET_DESC = 0,
	HUB_SET_MTT,
	HUB_SET_DEPTH,
	HUB_CONFIGURE,
	HUB_POWER,
	HUB_POWER_WAIT,
	HUB_RUN,
	HUB_DEAD,
};

struct hub {
	struct bu_port_hub ph; /* what the port machine knows of this hub */
	struct bu_usb_interface *intf;
	struct bu_usb_device *dev;
	struct bu_usb_endpoint *status_ep;
	bool usb3;
	bool mtt;            /* multi-TT mode selected */
	uint8_t nports;
	uint8_t step;
	uint8_t power_port;  /* next port to power */
	uint8_t pwr_good_2ms;
	uint16_t characteristics;
	uint64_t wake_us;
	bool ctrl_busy;      /* a request or the slot update is in flight */
	bool orphan;         /* removed while the slot update ran: freed by its completion */
	uint8_t ctrl_port;   /* port the request in flight is about */
	uint8_t ctrl_kind;   /* what the request in flight is */
	struct bu_usb_xfer ctrl;
	struct bu_usb_xfer intr;
	/* DMA memory of its own: HUB_BUF_LEN bytes for every reply to `ctrl`
	 * (buf), then, on a cache line of its own, the status-change bitmap
	 * `intr` reads (ibuf, HUB_IBUF_LEN bytes). */
	struct bu_usb_dma_buf dma;
	uint8_t *buf;
	uint8_t *ibuf;
	bool intr_busy;
	bool settling;       /* counted as enumerating until the first port scan */
	uint8_t timeouts;    /* requests that timed out in a row */
	uint64_t intr_retry_us;
	struct hub_port ports[HUB_MAX_PORTS + 1];
};

/* The status-change bitmap: ports 1..HUB_MAX_PORTS and the hub's bit 0. */
#define HUB_IBUF_LEN 8
/* Where it starts in the hub's DMA buffer: past buf, on its own cache line. */
#define HUB_IBUF_OFF ((HUB_BUF_LEN + BU_DMA_ALIGN - 1) & ~(BU_DMA_ALIGN - 1))

_Static_assert(HUB_BUF_LEN >= HUB_DESC2_LEN && HUB_BUF_LEN >= HUB_DESC3_LEN &&
		       HUB_BUF_LEN >= HUB_PORT_STATUS_LEN,
	       "the hub's control buffer holds every reply it is asked for");

enum ctrl_kind {
	CK_SETUP = 1,
	CK_STATUS,
	CK_CLEAR,
	CK_RESET,
	CK_DISABLE,
	CK_CONFIGURE, /* not a request: the controller's slot update */
	CK_POWER,     /* SetPortFeature(PORT_POWER) after an over-current */
	CK_TT,        /* CLEAR_TT_BUFFER or RESET_TT for an endpoint behind the hub (tt.c) */
	CK_PM,        /* a port suspend or resume for pm.c */
};

static void hub_kick(struct hub *h);
static bool hub_has_work(const struct hub *h);

/** Start a control request to the hub; completion re-enters hub_kick. */
static int hub_ctrl(struct hub *h, unsigned kind, unsigned port, uint8_t type,
		    uint8_t req, uint16_t value, uint16_t index, uint16_t len);

/** A class request about port `p` with no data stage. */
static int port_request(struct hub *h, unsigned kind, unsigned p, uint8_t req, uint16_t feature)
{
	return hub_ctrl(h, kind, p, USB_DIR_OUT | USB_TYPE_CLASS | USB_RECIP_OTHER, req, feature,
			(uint16_t)p, 0);
}


/** The hub's first scan is over (or it died): stop holding the bus busy. */
static void hub_settled(struct hub *h)
{
	if (h->settling) {
		h->settling = false;
		if (h->dev->bus->enumerating)
			h->dev->bus->enumerating--;
	}
}

static bool hub_gone(const struct hub *h)
{
	return h->dev->state == BU_DEV_GONE || h->step == HUB_DEAD;
}

/** Free a hub's state. */
static void hub_free(struct hub *h)
{
	struct bu_usb_bus *bus = h->dev->bus;

	bu_usb_dma_buf_free(bus, &h->dma);
	bu_core_free(bus, h, sizeof(*h));
}

/**
 * A completion of a removed hub's work came back: free the hub once none
 * is outstanding. True when `h` was removed (freed or still waiting).
 */
static bool hub_orphan_done(struct hub *h)
{
	if (!h->orphan)
		return false;
	if (!h->ctrl_busy && !h->intr_busy)
		hub_free(h);
	return true;
}

/** Log a hub message with its path. */
static void hub_warn(struct hub *h, const char *what, unsigned port, int err)
{
	char path[32];

	bu_core_log(h->dev->bus, BU_LOG_WARN, "hub %s port %u: %s%s%s",
		    bu_core_dev_path(h->dev, path, sizeof(path)), port, what,
		    err ? ": " : "", err ? bu_strerror(err) : "");
}

/* ------------------------------------------------------------------------ */
/* Status-change endpoint                                                   */

static void intr_done(struct bu_usb_xfer *xfer);

/** Submit the status-change interrupt transfer. */
static void intr_submit(struct hub *h)
{
	unsigned len;

	if (h->intr_busy || hub_gone(h) || !h->status_ep)
		return;
	/* (ports + 1) bits, but never beyond the endpoint's packet size. */
	len = BU_MIN((h->nports + 8u) / 8u, (unsigned)HUB_IBUF_LEN);
	len = BU_MIN(len, (unsigned)h->status_ep->mps);
	bu_memset(&h->intr, 0, sizeof(h->intr));
	h->intr.ep = h->status_ep;
	h->intr.buf = h->ibuf;
	h->intr.dma = h->dma.bus + HUB_IBUF_OFF;
	h->intr.flags = BU_XFER_DMA;
	h->intr.len = len;
	h->intr.complete = intr_done;
	h->intr.ctx = h;
	if (bu_usb_xfer_submit(&h->intr) == 0)
		h->intr_busy = true;
	else
		h->intr_retry_us = bu_core_now(h->dev->bus) + T_INTR_RETRY_US;
}

/** Status-change bitmap arrived: mark the ports whose status must be read. */
static void intr_done(struct bu_usb_xfer *xfer)
{
	struct hub *h = xfer->ctx;

	h->intr_busy = false;
	if (hub_orphan_done(h) || hub_gone(h) || xfer->status == BU_ENODEV)
		return;
	if (xfer->status) {
		/* Halted endpoints are recovered by the controller driver;
		 * try again a little later rather than spin. */
		h->intr_retry_us = bu_core_now(h->dev->bus) + T_INTR_RETRY_US;
		return;
	}
	for (unsigned p = 1; p <= h->nports && p / 8 < xfer->actual; p++)
		if ((h->ibuf[p / 8] & (1u << (p % 8))) && !h->ports[p].broken)
			h->ports[p].read = true;
	intr_submit(h); /* hub_poll reads the marked ports */
}

/* ------------------------------------------------------------------------ */
/* Ports                                                                    */

/** Speed of the device on a port from its status (USB 2.0 Table 11-21). */
static enum bu_usb_speed port_speed(const struct hub *h, uint16_t status)
{
	if (h->usb3)
		return BU_SPEED_SUPER;
	if (status & PS_LOW_SPEED)
		return BU_SPEED_LOW;
	if (status & PS_HIGH_SPEED)
		return BU_SPEED_HIGH;
	return BU_SPEED_FULL;
}

/** Set a port's state (port.c keeps the bus's busy count and the lock). */
static void port_set(struct hub *h, unsigned p, enum bu_port_state st, uint32_t wait_us)
{
	bu_port_set(&h->ph, &h->ports[p].port, st, wait_us);
}

static struct hub *hub_of_ports(struct bu_port_hub *ph)
{
	return (struct hub *)((char *)ph - offsetof(struct hub, ph));
}

/** Port machine operation: SetPortFeature(PORT_RESET or BH_PORT_RESET). */
static int hub_port_reset(struct bu_port_hub *ph, unsigned p, bool warm)
{
	return port_request(hub_of_ports(ph), CK_RESET, p, USB_REQ_SET_FEATURE,
			    warm ? HUB_FEAT_BH_PORT_RESET : HUB_FEAT_PORT_RESET);
}

/** Port machine operation: SetPortFeature(PORT_POWER) after an over-current. */
static int hub_port_power(struct bu_port_hub *ph, unsigned p)
{
	return port_request(hub_of_ports(ph), CK_POWER, p, USB_REQ_SET_FEATURE,
			    HUB_FEAT_PORT_POWER);
}

static const struct bu_port_ops hub_port_ops = {
	.reset = hub_port_reset,
	.power = hub_port_power,
};

/**
 * A port's status as the port machine wants it, from wPortStatus and the
 * change bits seen (USB 2.0 Table 11-21, USB 3.2 Table 10-10).
 */
static void port_status(const struct hub *h, const struct hub_port *hp,
			struct bu_usb_port_status *st)
{
	uint16_t s = hp->status;

	bu_memset(st, 0, sizeof(*st));
	st->connected = s & PS_CONNECTION;
	st->enabled = s & PS_ENABLE;
	st->overcurrent = s & PS_OVER_CURRENT;
	st->resetting = s & PS_RESET;
	st->connect_changed = hp->reconnect;
	st->enable_changed = hp->disabled;
	st->usb3 = h->usb3;
	st->link = h->usb3 ? (uint8_t)PS_SS_LINK_STATE(s) : BU_LINK_U0;
	st->speed = port_speed(h, s);
}

/** Decide what a port's fresh status means. */
static void port_act(struct hub *h, unsigned p)
{
	struct hub_port *hp = &h->ports[p];
	struct bu_usb_port_status st;
	struct bu_usb_device *child;
	bool timer = hp->timer_fired;

	port_status(h, hp, &st);
	child = bu_port_child(&h->ph, &hp->port);
	if (child && st.connected && st.enabled)
		bu_core_pm_port_status(child, h->usb3 ? PS_SS_LINK_STATE(hp->status) == BU_LINK_U3 ||
							PS_SS_LINK_STATE(hp->status) == BU_LINK_RESUME
						      : (hp->status & PS_SUSPEND) != 0,
				       hp->woke);
	hp->woke = false;
	hp->act = false;
	hp->timer_fired = false;
	hp->reconnect = false;
	hp->disabled = false;
	bu_port_update(&h->ph, &hp->port, &st, timer);
}

/* ------------------------------------------------------------------------ */
/* Control requests and the main step                                       */

static void ctrl_done(struct bu_usb_xfer *xfer);

static int hub_ctrl(struct hub *h, unsigned kind, unsigned port, uint8_t type,
		    uint8_t req, uint16_t value, uint16_t index, uint16_t len)
{
	struct bu_usb_xfer *x = &h->ctrl;
	int rc;

	/* One request at a time, into a buffer that holds its reply. */
	if (h->ctrl_busy)
		return BU_EBUSY;
	if (!BU_CHECK(h->dev->bus->plat, len <= HUB_BUF_LEN))
		return BU_EINVAL;
	bu_memset(x, 0, sizeof(*x));
	x->ep = &h->dev->ep0;
	bu_usb_setup_pack(x->setup, type, req, value, index, len);
	bu_usb_xfer_set_dma(x, &h->dma, len);
	x->timeout_ms = BU_USB_REQUEST_TIMEOUT_MS;
	x->complete = ctrl_done;
	x->ctx = h;
	h->ctrl_kind = (uint8_t)kind;
	h->ctrl_port = (uint8_t)port;
	rc = bu_usb_xfer_submit(x);
	h->ctrl_busy = rc == 0;
	return rc;
}

/** Mark the hub failed (the device stays, its ports are not served). */
static void hub_fail(struct hub *h, const char *what, int err)
{
	hub_warn(h, what, 0, err);
	if (!h->dev->error) {
		h->dev->error = err;
		h->dev->error_step = what;
	}
	for (unsigned p = 1; p <= h->nports; p++)
		if (h->ports[p].port.state != BU_PORT_DEVICE)
			port_set(h, p, BU_PORT_EMPTY, 0);
	h->step = HUB_DEAD;
	hub_settled(h);
	bu_core_tt_drop(h->dev); /* no clear will go out: let what waits run */
}

/** A request about port `p` failed; give the port up after too many in a row. */
static void port_error(struct hub *h, unsigned p, const char *what, int err)
{
	struct hub_port *hp = &h->ports[p];

	hub_warn(h, what, p, err);
	if (p < 1 || p > h->nports || ++hp->errors < HUB_PORT_MAX_ERRORS)
		return;
	hub_warn(h, "given up after repeated errors", p, 0);
	hp->broken = true;
	hp->read = hp->act = false;
	hp->change = 0;
	if (!bu_port_child(&h->ph, &hp->port))
		port_set(h, p, BU_PORT_FAILED, 0);
}

/** The multi-TT alternate setting of a high-speed hub (protocol 2), or NULL. */
static const struct bu_usb_alt_info *hub_mtt_alt(const struct hub *h)
{
	const struct bu_usb_device *dev = h->dev;
	const struct bu_usb_alt_info *a;

	if (dev->speed != BU_SPEED_HIGH || dev->desc.bDeviceProtocol != 2 ||
	    dev->active_config < 0)
		return NULL;
	a = bu_desc_find_alt(&dev->configs[dev->active_config], h->intf->number, 1);
	return a && a->protocol == 2 && a->num_eps == 1 ? a : NULL;
}

/** Parse the hub descriptor in h->buf. */
static int hub_parse_desc(struct hub *h, size_t len)
{
	const uint8_t *d = h->buf;

	/* USB 2.0 §11.23.2.1 (0x29) / USB 3.2 §10.15.2.1 (0x2a). */
	if (len < 7 || d[0] < 7 || d[1] != (h->usb3 ? USB_DT_SS_HUB : USB_DT_HUB))
		return BU_EBADDESC;
	if (d[2] == 0 || d[2] > HUB_MAX_PORTS || (h->usb3 && d[2] > 15))
		return BU_ERANGE;
	h->nports = d[2];
	h->characteristics = bu_get_le16(&d[3]);
	h->pwr_good_2ms = d[5];
	/* USB 2.0 §11.23.2.1: power is good 2 ms × bPwrOn2PwrGood after on. */
	h->ph.power_us = 2000u * h->pwr_good_2ms + 1;
	for (unsigned p = 1; p <= h->nports; p++)
		h->ports[p].port.num = (uint8_t)p;
	return 0;
}

/** Configure-endpoint completion (hub facts told to the controller). */
static void hub_configured(struct bu_usb_device *dev, void *ctx, int status)
{
	struct hub *h = ctx;

	(void)dev;
	h->ctrl_busy = false;
	if (hub_orphan_done(h) || hub_gone(h))
		return;
	if (status) {
		hub_fail(h, "hub slot update", status);
		return;
	}
	h->step = HUB_POWER; /* sent by hub_poll */
}

/** Completion of the hub's control request. */
static void ctrl_done(struct bu_usb_xfer *xfer)
{
	struct hub *h = xfer->ctx;
	struct hub_port *hp = &h->ports[h->ctrl_port <= h->nports ? h->ctrl_port : 0];
	int st = xfer->status;
	int rc;

	h->ctrl_busy = false;
	if (hub_orphan_done(h) || hub_gone(h) || st == BU_ENODEV)
		return;
	if (st != BU_ETIMEDOUT) {
		h->timeouts = 0; /* an answer, even a STALL */
	} else if (++h->timeouts >= HUB_MAX_TIMEOUTS) {
		hub_fail(h, "hub stopped answering", st);
		return;
	}
	switch (h->ctrl_kind) {
	case CK_SETUP:
		if (st && h->step == HUB_SET_MTT) {
			/* Refused: the hub stays in single-TT mode. */
			h->step = HUB_CONFIGURE;
			break;
		}
		if (st) {
			hub_fail(h, h->step == HUB_GET_DESC ? "hub descriptor" :
				    h->step == HUB_SET_DEPTH ? "set hub depth" : "port power", st);
			return;
		}
		if (h->step == HUB_GET_DESC) {
			rc = hub_parse_desc(h, xfer->actual);
			if (rc) {
				hub_fail(h, "hub descriptor", rc);
				return;
			}
			h->step = h->usb3 ? HUB_SET_DEPTH
				: hub_mtt_alt(h) ? HUB_SET_MTT : HUB_CONFIGURE;
		} else if (h->step == HUB_SET_MTT) {
			/* Multi-TT mode is alternate setting 1 (USB 2.0 §11.23.1);
			 * its one endpoint is the same status endpoint. */
			h->intf->alt = 1;
			h->intf->info = hub_mtt_alt(h);
			h->mtt = true;
			h->step = HUB_CONFIGURE;
		} else if (h->step == HUB_SET_DEPTH) {
			h->step = HUB_CONFIGURE;
		} else if (h->step == HUB_POWER) {
			if (++h->power_port > h->nports) {
				/* USB 2.0 §11.23.2.1: power good after 2 ms × bPwrOn2PwrGood. */
				h->step = HUB_POWER_WAIT;
				h->wake_us = bu_core_now(h->dev->bus) + h->ph.power_us;
			}
		}
		break;
	case CK_STATUS:
		if (st || xfer->actual < HUB_PORT_STATUS_LEN) {
			hp->read = false;
			port_error(h, h->ctrl_port, "port status", st ? st : BU_EPROTO);
			break;
		}
		hp->status = bu_get_le16(&h->buf[0]);
		hp->change = bu_get_le16(&h->buf[2]);
		if (!hp->change)
			hp->errors = 0;
		hp->reconnect |= (hp->change & 1) != 0;
		hp->disabled |= (hp->change & 2) != 0;
		hp->woke |= (hp->change & (h->usb3 ? 0x40 : 0x04)) != 0;
		hp->act = true;
		break;
	case CK_CLEAR:
		if (st)
			port_error(h, h->ctrl_port, "clear port feature", st);
		else
			hp->errors = 0;
		break;
	case CK_DISABLE:
		if (st)
			hub_warn(h, "port disable", h->ctrl_port, st);
		/* The failed device is off the bus: others may reset now. */
		if (h->dev->bus->core->addr_owner[h->dev->root_port] == &hp->port)
			h->dev->bus->core->addr_owner[h->dev->root_port] = NULL;
		break;
	case CK_POWER:
		/* The port machine waits the power-good time, then looks. */
		if (st)
			hub_warn(h, "port power", h->ctrl_port, st);
		break;
	case CK_TT:
		if (st)
			hub_warn(h, "TT request", h->ctrl_port, st);
		bu_core_tt_sent(h->dev, st);
		break;
	case CK_PM:
		if (st)
			hub_warn(h, "port suspend/resume", h->ctrl_port, st);
		hp->pm_done = true; /* told from hub_poll, not from this completion */
		hp->pm_status = st;
		break;
	case CK_RESET:
		if (st) {
			hub_warn(h, "port reset", h->ctrl_port, st);
			port_set(h, h->ctrl_port, BU_PORT_FAILED, 0);
		} else {
			/* Look at once: a hub that finished the reset already
			 * saves a poll period (the 2 ms poll stays as fallback). */
			hp->read = true;
		}
		break;
	}
	/* hub_poll sends what is next. */
}

/** Clear the lowest change bit of a port (USB 2.0 §11.24.2.7.2); 1: none to clear. */
static int port_clear_change(struct hub *h, unsigned p)
{
	struct hub_port *hp = &h->ports[p];

	while (hp->change) {
		unsigned bit = 0;

		while (!(hp->change & (1u << bit)))
			bit++;
		hp->change &= (uint16_t)~(1u << bit);
		if (bit < BU_ARRAY_SIZE(change_feature))
			return port_request(h, CK_CLEAR, p, USB_REQ_CLEAR_FEATURE,
					    (h->usb3 && bit == 5) ? 29 : change_feature[bit]);
	}
	return 1;
}

/**
 * A suspend or resume of port `p` that pm.c asked for (USB 2.0
 * §11.24.2.7.1.3: Set/ClearPortFeature(PORT_SUSPEND); USB 3.2
 * §10.16.2.10: SetPortFeature(PORT_LINK_STATE) U3 or U0).
 */
static int port_pm_request(struct hub *h, unsigned p)
{
	bool suspend = h->ports[p].pm_req == HUB_PM_SUSPEND;
	unsigned link = suspend ? BU_LINK_U3 : BU_LINK_U0;

	h->ports[p].pm_req = HUB_PM_NONE;
	if (h->usb3)
		return hub_ctrl(h, CK_PM, p, USB_DIR_OUT | USB_TYPE_CLASS | USB_RECIP_OTHER,
				USB_REQ_SET_FEATURE, HUB_FEAT_PORT_LINK_STATE,
				(uint16_t)(p | link << 8), 0);
	return port_request(h, CK_PM, p, suspend ? USB_REQ_SET_FEATURE : USB_REQ_CLEAR_FEATURE,
			    HUB_FEAT_PORT_SUSPEND);
}

/**
 * The running hub's next request, in priority order: a port to disable,
 * a TT request (an endpoint waits for it, USB 2.0 §11.17.5), a port
 * suspend or resume, a change bit to clear (each before acting on the status, USB 2.0
 * §11.24.2.7.2), a fresh status to act on, a status to read. Nothing
 * left: the first scan is done.
 */
static int hub_run(struct hub *h)
{
	uint16_t value, index;
	uint8_t req;
	int rc;

	for (unsigned p = 1; p <= h->nports; p++) {
		if (h->ports[p].disable) {
			h->ports[p].disable = false;
			return port_request(h, CK_DISABLE, p, USB_REQ_CLEAR_FEATURE,
					    HUB_FEAT_PORT_ENABLE);
		}
	}
	for (unsigned p = 1; p <= h->nports; p++) {
		if (h->ports[p].reenumerate) {
			h->ports[p].reenumerate = false;
			/* its reset request is on its way, or the port waits
			 * for the address lock, or it failed (logged) */
			bu_port_reenumerate(&h->ph, &h->ports[p].port);
			return 0;
		}
	}
	if (bu_core_tt_next(h->dev, &req, &value, &index))
		return hub_ctrl(h, CK_TT, index, USB_DIR_OUT | USB_TYPE_CLASS | USB_RECIP_OTHER, req,
				value, index, 0);
	for (unsigned p = 1; p <= h->nports; p++) {
		if (!h->ports[p].pm_req)
			continue;
		if (bu_port_child(&h->ph, &h->ports[p].port))
			return port_pm_request(h, p);
		h->ports[p].pm_req = HUB_PM_NONE; /* its device left meanwhile */
	}
	for (unsigned p = 1; p <= h->nports; p++) {
		if (!h->ports[p].act)
			continue;
		rc = port_clear_change(h, p);
		if (rc <= 0)
			return rc;
		port_act(h, p);
		if (h->ctrl_busy)
			return 0;
	}
	for (unsigned p = 1; p <= h->nports; p++) {
		if (h->ports[p].read) {
			h->ports[p].read = false;
			return hub_ctrl(h, CK_STATUS, p, USB_DIR_IN | USB_TYPE_CLASS | USB_RECIP_OTHER,
					USB_REQ_GET_STATUS, 0, (uint16_t)p, HUB_PORT_STATUS_LEN);
		}
	}
	hub_settled(h);
	return 0;
}

/** Next thing to do on the hub's control pipe, if it is free. */
static void hub_kick(struct hub *h)
{
	struct bu_usb_device *dev = h->dev;
	int rc = 0;

	if (h->ctrl_busy || hub_gone(h))
		return;
	switch (h->step) {
	case HUB_GET_DESC:
		rc = hub_ctrl(h, CK_SETUP, 0, USB_DIR_IN | USB_TYPE_CLASS | USB_RECIP_DEVICE,
			      USB_REQ_GET_DESCRIPTOR,
			      (uint16_t)((h->usb3 ? USB_DT_SS_HUB : USB_DT_HUB) << 8), 0,
			      h->usb3 ? HUB_DESC3_LEN : HUB_DESC2_LEN);
		break;
	case HUB_SET_MTT:
		rc = hub_ctrl(h, CK_SETUP, 0, USB_DIR_OUT | USB_TYPE_STANDARD | USB_RECIP_INTERFACE,
			      USB_REQ_SET_INTERFACE, 1, h->intf->number, 0);
		break;
	case HUB_SET_DEPTH:
		/* USB 3.2 §10.16.2.9: depth 0 for a hub on a root port. */
		rc = hub_ctrl(h, CK_SETUP, 0, USB_DIR_OUT | USB_TYPE_CLASS | USB_RECIP_DEVICE,
			      HUB_REQ_SET_HUB_DEPTH, (uint16_t)(dev->tier - 1), 0, 0);
		break;
	case HUB_CONFIGURE:
		dev->is_hub = true;
		dev->hub_nports = h->nports;
		dev->hub_tt_think = (uint8_t)((h->characteristics >> 5) & 3);
		dev->hub_mtt = h->mtt;
		h->ctrl_busy = true;
		h->ctrl_kind = CK_CONFIGURE;
		rc = dev->bus->ops->dev_configure(dev, 0, 0, hub_configured, h);
		if (rc)
			h->ctrl_busy = false;
		break;
	case HUB_POWER:
		if (!h->power_port)
			h->power_port = 1;
		rc = port_request(h, CK_SETUP, h->power_port, USB_REQ_SET_FEATURE,
				  HUB_FEAT_PORT_POWER);
		break;
	case HUB_POWER_WAIT:
		break;
	case HUB_RUN:
		rc = hub_run(h);
		break;
	default:
		break;
	}
	if (rc && rc != BU_ENODEV)
		hub_fail(h, "hub request", rc);
}

/** The hub state of a hub device, or NULL when no hub driver runs it. */
static struct hub *hub_of(struct bu_usb_device *dev)
{
	for (unsigned i = 0; dev && i < dev->num_ifaces; i++)
		if (dev->ifaces[i].driver == &bu_usb_hub_driver && dev->ifaces[i].primary)
			return dev->ifaces[i].driver_data;
	return NULL;
}

bool bu_core_hub_serves(struct bu_usb_device *hub)
{
	struct hub *h = hub_of(hub);

	return h && !hub_gone(h);
}

int bu_core_hub_child_reset(struct bu_usb_device *child)
{
	struct hub *h = hub_of(child->parent);
	struct hub_port *hp;

	if (!h || hub_gone(h) || h->step != HUB_RUN || child->port < 1 || child->port > h->nports)
		return BU_EBUSY;
	hp = &h->ports[child->port];
	if (hp->broken || hp->reenumerate || hp->port.state != BU_PORT_DEVICE ||
	    bu_port_child(&h->ph, &hp->port) != child)
		return BU_EBUSY;
	hp->reenumerate = true; /* hub_run, once its control pipe is free */
	return 0;
}

bool bu_core_hub_child_failed(struct bu_usb_device *child)
{
	struct hub *h = hub_of(child->parent);
	struct hub_port *hp;

	if (!h || hub_gone(h) || child->port < 1 || child->port > h->nports)
		return false;
	hp = &h->ports[child->port];
	if (bu_port_child(&h->ph, &hp->port) != child)
		return false;
	/* A device that never got its address still answers at address 0:
	 * disable its port (USB 2.0 §11.24.2.2) before anyone else resets,
	 * or the next device below this root port would collide with it. */
	h->dev->bus->core->addr_owner[h->dev->root_port] = &hp->port;
	hp->disable = true; /* hub_poll sends it before anything else */
	return true;
}

/** The hub port a child is on, or NULL when no running hub serves it. */
static struct hub_port *child_port(struct bu_usb_device *child, struct hub **hub)
{
	struct hub *h = hub_of(child->parent);

	if (!h || hub_gone(h) || h->step != HUB_RUN || child->port < 1 || child->port > h->nports ||
	    h->ports[child->port].broken ||
	    bu_port_child(&h->ph, &h->ports[child->port].port) != child)
		return NULL;
	*hub = h;
	return &h->ports[child->port];
}

int bu_core_hub_port_pm(struct bu_usb_device *child, bool suspend)
{
	struct hub *h;
	struct hub_port *hp = child_port(child, &h);

	if (!hp)
		return BU_ENOTSUP;
	hp->pm_req = suspend ? HUB_PM_SUSPEND : HUB_PM_RESUME;
	return 0; /* hub_poll sends it; pm.c hears from bu_core_pm_port_done */
}

void bu_core_hub_port_check(struct bu_usb_device *child)
{
	struct hub *h;
	struct hub_port *hp = child_port(child, &h);

	if (hp)
		hp->read = true;
}

bool bu_core_hub_busy(struct bu_usb_device *hub)
{
	struct hub *h = hub_of(hub);

	return h && !hub_gone(h) && (h->ctrl_busy || hub_has_work(h));
}

/* ------------------------------------------------------------------------ */
/* Driver entry points                                                      */

/** True when hub_kick has a request to start (it is not waiting for one). */
static bool hub_has_work(const struct hub *h)
{
	if (h->step != HUB_RUN)
		return h->step != HUB_POWER_WAIT;
	for (unsigned p = 1; p <= h->nports; p++) {
		const struct hub_port *hp = &h->ports[p];

		if (!hp->broken && (hp->read || hp->act || hp->disable || hp->pm_req || hp->pm_done ||
				    hp->reenumerate))
			return true;
	}
	for (const struct bu_usb_device *d = h->dev->bus->devices; d; d = d->next)
		if (d->tt_hub == h->dev && bu_core_dev(d)->tt_pending && d->state != BU_DEV_GONE)
			return true;
	return false;
}

/** next_timeout(): the hub_poll timers below, or now while a request waits to start. */
static uint64_t hub_next_timeout(struct bu_usb_interface *intf, uint64_t now)
{
	const struct hub *h = intf->driver_data;
	const struct bu_usb_bus *bus = h->dev->bus;
	uint64_t next = BU_USB_NO_TIMEOUT;

	if (hub_gone(h))
		return next;
	if (!h->ctrl_busy && hub_has_work(h))
		return now;
	if (h->step == HUB_POWER_WAIT)
		next = h->wake_us;
	if (h->intr_retry_us && h->intr_retry_us < next)
		next = h->intr_retry_us;
	for (unsigned p = 1; p <= h->nports; p++) {
		const struct hub_port *hp = &h->ports[p];

		if (hp->broken)
			continue;
		if (hp->port.wake_us && hp->port.wake_us < next)
			next = hp->port.wake_us;
		if (hp->port.state == BU_PORT_WAIT_LOCK && !bus->core->addr_owner[h->dev->root_port])
			return now;
	}
	return next;
}

/** Timers: power-good wait, port debounce/reset/recovery, intr retries. */
static void hub_poll(struct bu_usb_interface *intf, uint64_t now)
{
	struct hub *h = intf->driver_data;
	struct bu_usb_bus *bus = h->dev->bus;

	if (hub_gone(h))
		return;
	if (h->step == HUB_POWER_WAIT && now >= h->wake_us) {
		h->step = HUB_RUN;
		/* Read every port once: devices attached before power-on
		 * show up with C_PORT_CONNECTION (USB 2.0 §11.24.2.7). */
		for (unsigned p = 1; p <= h->nports; p++)
			h->ports[p].read = true;
		intr_submit(h);
	}
	if (h->intr_retry_us && now >= h->intr_retry_us) {
		h->intr_retry_us = 0;
		intr_submit(h);
	}
	for (unsigned p = 1; p <= h->nports; p++) {
		struct hub_port *hp = &h->ports[p];

		if (hp->broken)
			continue;
		if (hp->port.wake_us && now >= hp->port.wake_us) {
			hp->port.wake_us = 0;
			hp->timer_fired = true;
			hp->read = true;
		}
		if (hp->port.state == BU_PORT_WAIT_LOCK && !bus->core->addr_owner[h->dev->root_port]) {
			hp->timer_fired = false;
			hp->read = true;
		}
		if (hp->pm_done) {
			struct bu_usb_device *child = bu_port_child(&h->ph, &hp->port);

			hp->pm_done = false;
			if (child)
				bu_core_pm_port_done(child, hp->pm_status);
		}
	}
	hub_kick(h);
}

static int hub_probe(struct bu_usb_interface *intf, const struct bu_usb_match *m)
{
	struct bu_usb_device *dev = intf->dev;
	struct hub *h;

	(void)m;
	/* A device is one hub (USB 2.0 §11.12.1: one hub interface); a
	 * second hub-class interface would share its ports and EP0 state. */
	for (unsigned i = 0; i < dev->num_ifaces; i++) {
		const struct bu_usb_interface *o = &dev->ifaces[i];

		if (o != intf && o->driver == &bu_usb_hub_driver && o->primary &&
		    o->driver_data) {
			bu_core_log(dev->bus, BU_LOG_WARN,
				    "hub interface %u ignored: interface %u is the hub",
				    intf->number, o->number);
			return BU_ENOTSUP;
		}
	}
	if (dev->tier > BU_USB_MAX_HUB_TIER) {
		/* USB 2.0 §4.1.1: no more than 5 hubs in a chain. */
		dev->error = BU_ERANGE;
		dev->error_step = "hub tier limit";
		bu_core_log(dev->bus, BU_LOG_WARN, "hub at tier %u refused: too deep", dev->tier);
		return BU_ERANGE;
	}
	h = bu_core_alloc(dev->bus, sizeof(*h));
	if (!h)
		return BU_ENOMEM;
	/* Its own block, so a reply can only land where it was asked to. */
	if (bu_usb_dma_buf_alloc(dev->bus, &h->dma, HUB_IBUF_OFF + HUB_IBUF_LEN)) {
		bu_core_free(dev->bus, h, sizeof(*h));
		return BU_ENOMEM;
	}
	h->buf = h->dma.cpu;
	h->ibuf = h->buf + HUB_IBUF_OFF;
	h->intf = intf;
	h->dev = dev;
	h->ph.bus = dev->bus;
	h->ph.dev = dev;
	h->ph.ops = &hub_port_ops;
	h->ph.lock_reset = true;
	h->ph.reset_poll_us = T_RESET_POLL_US;
	h->usb3 = dev->speed >= BU_SPEED_SUPER;
	if (intf->info) {
		for (unsigned i = 0; i < intf->info->num_eps; i++) {
			unsigned idx = intf->info->first_ep + i;
			const struct bu_usb_ep_info *e;

			if (idx >= dev->configs[dev->active_config].num_eps)
				break;
			e = &dev->configs[dev->active_config].eps[idx];
			if ((e->address & USB_DIR_IN) &&
			    USB_ENDPOINT_XFERTYPE(e->attributes) == BU_EP_INTERRUPT) {
				h->status_ep = dev->eps[USB_ENDPOINT_NUMBER(e->address) * 2 + 1];
				break;
			}
		}
	}
	if (!h->status_ep) {
		hub_free(h);
		return BU_EBADDESC;
	}
	intf->driver_data = h;
	h->settling = true;
	dev->bus->enumerating++;
	return 0; /* hub_poll sends the first request */
}

static void hub_remove(struct bu_usb_interface *intf)
{
	struct hub *h = intf->driver_data;
	struct bu_usb_bus *bus = intf->dev->bus;

	if (!h)
		return;
	for (unsigned p = 1; p <= h->nports; p++) {
		port_set(h, p, BU_PORT_EMPTY, 0);
		if (bus->core->addr_owner[intf->dev->root_port] == &h->ports[p].port)
			bus->core->addr_owner[intf->dev->root_port] = NULL;
	}
	h->step = HUB_DEAD;
	hub_settled(h);
	bu_core_tt_drop(intf->dev);
	intf->driver_data = NULL;
	/* A device that is gone had its transfers completed and gets no
	 * command completion: free now. On a device still present (its
	 * driver unregistered) what is in flight still holds `h`: cancel
	 * the transfers (the slot update cannot be) and let the last
	 * completion free it. */
	if (intf->dev->state != BU_DEV_GONE && (h->ctrl_busy || h->intr_busy)) {
		h->orphan = true;
		if (h->ctrl_busy && h->ctrl_kind != CK_CONFIGURE)
			bu_usb_xfer_cancel(&h->ctrl);
		if (h->intr_busy)
			bu_usb_xfer_cancel(&h->intr);
		return;
	}
	hub_free(h);
}

static const struct bu_usb_match hub_match[] = {
	{ .flags = BU_MATCH_CLASS, .class_code = USB_CLASS_HUB },
};

const struct bu_usb_driver bu_usb_hub_driver = {
	.name = "hub",
	.match = hub_match,
	.num_match = BU_ARRAY_SIZE(hub_match),
	.probe = hub_probe,
	.remove = hub_remove,
	.poll = hub_poll,
	.next_timeout = hub_next_timeout,
};
