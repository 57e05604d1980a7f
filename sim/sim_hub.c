/*
 * sim hub function (USB 2.0 ch11, USB 3.2 ch10) shared by the hub device
 * models: hub descriptor, hub/port status and features, port power, reset
 * (TDRST), suspend, USB 3 link state / warm reset / SET_HUB_DEPTH, the
 * status-change interrupt endpoint, and a high-speed hub's transaction
 * translators: a split the host abandons leaves a TT buffer busy until
 * CLEAR_TT_BUFFER names it (USB 2.0 §11.17.5, §11.24.2.3).
 */
#include <string.h>

#include "sim_priv.h"

/* wPortStatus / wPortChange bits */
#define HP_CONNECTION 0x0001
#define HP_ENABLE 0x0002
#define HP_SUSPEND 0x0004
#define HP_OVERCURRENT 0x0008
#define HP_RESET 0x0010
#define HP2_POWER 0x0100
#define HP2_LOW_SPEED 0x0200
#define HP2_HIGH_SPEED 0x0400
#define HP3_POWER 0x0200
#define HP3_LINK(v) (((v) & 0xf) << 5)
#define HC_CONNECTION 0x0001
#define HC_ENABLE 0x0002
#define HC_SUSPEND 0x0004
#define HC_OVERCURRENT 0x0008
#define HC_RESET 0x0010
#define HC3_BH_RESET 0x0020
#define HC3_LINK_STATE 0x0040

/* feature selectors */
#define F_PORT_ENABLE 1
#define F_PORT_SUSPEND 2
#define F_PORT_RESET 4
#define F_PORT_LINK_STATE 5
#define F_PORT_POWER 8
#define F_C_CONNECTION 16
#define F_C_ENABLE 17
#define F_C_SUSPEND 18
#define F_C_OVER_CURRENT 19
#define F_C_RESET 20
#define F_PORT_TEST 21
#define F_PORT_INDICATOR 22
#define F_PORT_U1_TIMEOUT 23
#define F_PORT_U2_TIMEOUT 24
#define F_C_PORT_LINK_STATE 25
#define F_C_PORT_CONFIG_ERROR 26
#define F_PORT_REMOTE_WAKE_MASK 27
#define F_BH_PORT_RESET 28
#define F_C_BH_PORT_RESET 29

static bool sim_hub3(const struct sim_device *dev)
{
	return dev->model->hub == SIM_HUB_USB3;
}

static uint16_t sim_hub_power_bit(const struct sim_device *dev)
{
	return sim_hub3(dev) ? HP3_POWER : HP2_POWER;
}

static void sim_tt_forget(struct sim_device *dev);

void sim_hub_reset(struct sim_device *dev)
{
	struct sim_hub *h = dev->hub;

	for (unsigned i = 0; i < 16; i++) {
		h->port[i].status = 0;
		h->port[i].change = 0;
		h->port[i].reset_due = SIM_NEVER;
		h->port[i].resume_due = 0;
		if (h->port[i].dev) {
			h->port[i].dev->needs_reset = true;
			sim_dev_bus_reset(h->port[i].dev);
		}
	}
	h->depth_set = false;
	h->multi_tt = false;
	h->due = SIM_NEVER;
	/* A reset hub's TTs start empty (USB 2.0 §11.24.2.9). */
	memset(h->tt_busy, 0, sizeof(h->tt_busy));
}

bool sim_hub_port_enabled(const struct sim_device *hub, unsigned port)
{
	const struct sim_hub_port *p;

	if (!hub->hub || port < 1 || port > 16)
		return false;
	p = &hub->hub->port[port - 1];
	if (!(p->status & HP_ENABLE) || (p->status & HP_RESET))
		return false;
	if (sim_hub3(hub))
		return ((p->status >> 5) & 0xf) == 0; /* U0 */
	return !(p->status & HP_SUSPEND);
}

/* Suspended or resuming: USB 2 PORT_SUSPEND, USB 3 link in U3 (or leaving it). */
static bool sim_hub_port_suspended(const struct sim_device *hub, const struct sim_hub_port *p)
{
	if (sim_hub3(hub))
		return ((p->status >> 5) & 0xf) == 3 || p->resume_due;
	return (p->status & HP_SUSPEND) != 0;
}

/* Armed for remote wakeup by the host (USB 2 device feature, USB 3 function). */
static bool sim_wake_armed(const struct sim_device *dev)
{
	return dev->speed == SIM_SPEED_SUPER ? dev->func_wake : dev->remote_wake;
}

/*
 * How long `dev` has been suspended: the earliest start among the links
 * above it that are suspended now (each has been since its own start, so
 * the device has been since the earliest). SIM_NEVER when none is (links
 * already resuming do not count).
 */
static uint64_t sim_suspended_since(const struct sim_device *dev)
{
	const struct sim *sim = dev->sim;
	uint64_t since = SIM_NEVER;

	for (const struct sim_device *c = dev; c->parent; c = c->parent) {
		const struct sim_hub_port *p;

		if (!c->parent->hub || c->port < 1 || c->port > 16)
			continue;
		p = &c->parent->hub->port[c->port - 1];
		if (sim_hub_port_suspended(c->parent, p) && !p->resume_due && p->suspend_ns < since)
			since = p->suspend_ns;
	}
	if (dev->root_port >= 1 && dev->root_port <= sim->nports &&
	    XHCI_PORTSC_PLS(sim->port[dev->root_port - 1].sc) == XHCI_PLS_U3 &&
	    sim->port[dev->root_port - 1].u3_ns < since)
		since = sim->port[dev->root_port - 1].u3_ns;
	return since;
}

static bool sim_wake_from(struct sim_device *dev);

/*
 * `dev` (a device, or a hub passing a wake on) is to signal remote wakeup:
 * held until it has been continuously suspended for 5 ms (USB 2.0
 * §7.1.7.7; USB 3.2 has no such minimum, and the model keeps the same
 * hold there, which a device may), then signalled. True when signalled
 * or held.
 */
static bool sim_wake_request(struct sim_device *dev)
{
	struct sim *sim = dev->sim;
	uint64_t since = sim_suspended_since(dev);

	if (since != SIM_NEVER && sim->now < since + 5 * SIM_MS) {
		if (dev->wake_due == SIM_NEVER) {
			sim_schedule(sim, &dev->wake_due, since + 5 * SIM_MS);
			sim_tracef(sim, "%s: remote wakeup held %llu us, until 5 ms of suspend",
				   dev->model->name,
				   (unsigned long long)((since + 5 * SIM_MS - sim->now) / SIM_US));
		}
		return true;
	}
	return sim_wake_from(dev);
}

/* Wake signalling from `dev` reaches the link above it. */
static bool sim_wake_from(struct sim_device *dev)
{
	struct sim *sim = dev->sim;
	struct sim_device *hub = dev->parent;
	struct sim_hub_port *p;
	bool woke = false;

	if (!hub)
		return sim_port_remote_wake(sim, dev->root_port);
	if (!hub->hub || dev->port < 1 || dev->port > hub->model->hub_ports)
		return false;
	p = &hub->hub->port[dev->port - 1];
	if (sim_hub_port_suspended(hub, p) && !p->resume_due) {
		/* USB 2.0 §11.9: the port reflects the resume and ends it
		 * after TDRSMDN; USB 3.2 §10.16.2.10: the link goes to U0. */
		p->resume_due = sim->now + (sim_hub3(hub) ? 1 : 20) * SIM_MS;
		if (p->resume_due < hub->hub->due)
			sim_schedule(sim, &hub->hub->due, p->resume_due);
		woke = true;
	}
	/* A suspended hub passes it on only when enabled for remote wakeup
	 * (USB 2.0 §11.4.4). */
	if ((sim_hub_route_suspended(hub) || sim_port_suspended(sim, hub->root_port)) &&
	    sim_wake_armed(hub))
		woke = sim_wake_request(hub) || woke;
	return woke;
}

void sim_wake_work(struct sim_device *dev)
{
	/* Still armed and still suspended: signal it now. Else the wake
	 * has no reason left (the host resumed it, or disarmed it). */
	if (dev->attached && sim_wake_armed(dev) &&
	    (sim_hub_route_suspended(dev) || sim_port_suspended(dev->sim, dev->root_port))) {
		sim_tracef(dev->sim, "%s: held remote wakeup signalled", dev->model->name);
		sim_wake_from(dev);
	}
}

void sim_fwake_deliver(struct sim *sim)
{
	for (struct sim_device *d = sim->devices; d; d = d->next) {
		unsigned slot = d->slot;
		uint32_t dw[4];

		if (!d->fwake_pending || sim_hub_route_suspended(d) ||
		    sim_port_suspended(sim, d->root_port))
			continue;
		d->fwake_pending = false;
		/* xHCI 1.2 §5.4.4: a notification type whose DNCTRL bit is
		 * clear is not reported; §6.4.2.7: the event carries the
		 * type in bits 7:4 and the TP's data (Function Wake: the
		 * interface, USB 3.2 §8.5.6.1) from bit 8; it goes to the
		 * slot's Interrupter Target (§6.2.2). */
		if (!d->attached || !slot || slot > SIM_MAX_SLOTS || !sim->slot[slot].enabled ||
		    !(sim->dnctrl & (1u << SIM_NOTE_FUNCTION_WAKE))) {
			sim_tracef(sim, "%s: Function Wake (interface %u) not reported (DNCTRL %#x)",
				   d->model->name, d->func_iface, sim->dnctrl);
			continue;
		}
		dw[0] = (uint32_t)SIM_NOTE_FUNCTION_WAKE << 4 | (uint32_t)d->func_iface << 8;
		dw[1] = 0;
		dw[2] = (uint32_t)XHCI_CC_SUCCESS << 24;
		dw[3] = XHCI_TRB_TYPE_SET(XHCI_TRB_DEVICE_NOTIFY) | XHCI_TRB_SLOT(slot);
		d->fwakes++;
		sim_tracef(sim, "%s: Function Wake, interface %u (slot %u)", d->model->name,
			   d->func_iface, slot);
		sim_event_post(sim, sim->slot[slot].sctx[2] >> 22, dw, false);
	}
}

bool sim_remote_wake_armed(const struct sim_device *dev)
{
	return sim_wake_armed(dev);
}

bool sim_remote_wake(struct sim_device *dev)
{
	if (!dev || !sim_wake_armed(dev))
		return false; /* not enabled: a device does not signal (USB 2.0 §9.4.5, USB 3.2 §9.2.5.2) */
	if (!sim_hub_route_suspended(dev) && !sim_port_suspended(dev->sim, dev->root_port))
		return false; /* its link is up: nothing to wake */
	/* USB 3.2 §8.5.6.1: once its link is back in U0, the function that
	 * woke says so with a Function Wake Device Notification. */
	if (dev->speed == SIM_SPEED_SUPER)
		dev->fwake_pending = true;
	return sim_wake_request(dev);
}

unsigned sim_function_wakes(const struct sim_device *dev)
{
	return dev->fwakes;
}

void sim_post_device_notification(struct sim *sim, unsigned slot, unsigned type, uint64_t data)
{
	uint32_t dw[4] = { (uint32_t)(type & 0xf) << 4 | (uint32_t)(data << 8),
			   (uint32_t)(data >> 24), (uint32_t)XHCI_CC_SUCCESS << 24,
			   XHCI_TRB_TYPE_SET(XHCI_TRB_DEVICE_NOTIFY) | XHCI_TRB_SLOT(slot & 0xff) };

	sim_event_post(sim, 0, dw, false);
}

bool sim_hub_port_is_suspended(const struct sim_device *hub, unsigned port)
{
	if (!hub->hub || port < 1 || port > hub->model->hub_ports)
		return false;
	return sim_hub_port_suspended(hub, &hub->hub->port[port - 1]);
}

bool sim_hub_route_suspended(const struct sim_device *dev)
{
	for (const struct sim_device *c = dev; c && c->parent; c = c->parent)
		if (c->parent->hub && c->port >= 1 && c->port <= 16 &&
		    sim_hub_port_suspended(c->parent, &c->parent->hub->port[c->port - 1]))
			return true;
	return false;
}

void sim_resume_recovery_check(struct sim *sim, const struct sim_device *dev)
{
	const struct sim_port *rp;
	uint64_t at = 0;

	if (sim->cfg.no_timing_checks || !dev)
		return;
	for (const struct sim_device *c = dev; c->parent; c = c->parent) {
		const struct sim_hub_port *p;

		if (!c->parent->hub || c->port < 1 || c->port > 16)
			continue;
		p = &c->parent->hub->port[c->port - 1];
		if (p->resumed_ns > at)
			at = p->resumed_ns;
	}
	if (dev->root_port >= 1 && dev->root_port <= sim->nports) {
		rp = &sim->port[dev->root_port - 1];
		if (rp->resumed_ns > at)
			at = rp->resumed_ns;
	}
	if (at && sim->now < at + 10 * SIM_MS)
		sim_violation_add(sim, "%s: traffic %llu us after its link's resume ended, before the 10 ms resume recovery (TRSMRCY: USB 2.0 §7.1.7.7, USB 3.2 §9.2.6.2)",
				  dev->model->name, (unsigned long long)((sim->now - at) / SIM_US));
}

static void sim_hub_connect(struct sim_device *hub, unsigned port)
{
	struct sim_hub_port *p = &hub->hub->port[port - 1];

	p->status |= HP_CONNECTION;
	p->change |= HC_CONNECTION;
	p->connect_ns = hub->sim->now;
	p->dev->connect_ns = hub->sim->now;
	if (sim_hub3(hub)) {
		/* link trains by itself: enabled in U0 */
		p->status |= HP_ENABLE;
		p->status &= (uint16_t)~HP3_LINK(0xf);
		sim_dev_bus_reset(p->dev);
		p->dev->needs_reset = false;
		p->dev->reset_end_ns = hub->sim->now;
	}
}

void sim_hub_attach(struct sim_device *hub, unsigned port, struct sim_device *dev)
{
	struct sim_hub_port *p = &hub->hub->port[port - 1];

	p->dev = dev;
	if (p->status & sim_hub_power_bit(hub))
		sim_hub_connect(hub, port);
}

void sim_hub_detach(struct sim_device *hub, unsigned port)
{
	struct sim_hub_port *p = &hub->hub->port[port - 1];

	if (p->dev)
		sim_tt_forget(p->dev);
	p->dev = NULL;
	p->reset_due = SIM_NEVER;
	p->resume_due = 0;
	if (p->status & HP_CONNECTION) {
		p->status &= (uint16_t)~(HP_CONNECTION | HP_ENABLE | HP_RESET | HP_SUSPEND);
		/* bit 9 is PORT_POWER on a SuperSpeed hub (USB 3.2 Table 10-13) */
		if (sim_hub3(hub))
			p->status = (uint16_t)((p->status & ~HP3_LINK(0xf)) | HP3_LINK(5));
		else
			p->status &= (uint16_t)~(HP2_LOW_SPEED | HP2_HIGH_SPEED);
		p->change |= HC_CONNECTION;
	}
}

void sim_hub_overcurrent(struct sim_device *hub, unsigned port, bool on)
{
	struct sim_hub_port *p;

	if (!hub->hub || port < 1 || port > hub->model->hub_ports)
		return;
	p = &hub->hub->port[port - 1];
	if (on) {
		/* USB 2.0 §11.12.5, §11.11.1.1: the hub switches the port's
		 * power off; the device on it goes unpowered. */
		p->status = HP_OVERCURRENT;
		p->reset_due = SIM_NEVER;
		if (p->dev)
			p->dev->needs_reset = true;
	} else {
		p->status &= (uint16_t)~HP_OVERCURRENT;
	}
	p->change |= HC_OVERCURRENT;
}

void sim_hub_link_error(struct sim_device *hub, unsigned port)
{
	struct sim_hub_port *p;

	if (!hub->hub || !sim_hub3(hub) || port < 1 || port > hub->model->hub_ports)
		return;
	p = &hub->hub->port[port - 1];
	p->status &= (uint16_t)~HP_ENABLE;
	p->status = (uint16_t)((p->status & ~HP3_LINK(0xf)) | HP3_LINK(6)); /* SS.Inactive */
	p->change |= HC3_LINK_STATE;
}

void sim_hub_work(struct sim_device *dev)
{
	struct sim *sim = dev->sim;
	struct sim_hub *h = dev->hub;

	for (unsigned i = 0; i < dev->model->hub_ports; i++) {
		struct sim_hub_port *p = &h->port[i];
		if (p->resume_due && p->resume_due <= sim->now) {
			/* USB 2.0 §11.24.2.7.1.3: PORT_SUSPEND reads 1 while the
			 * hub drives resume, then 0 with C_PORT_SUSPEND. USB 3.2
			 * §10.16.2.10: U3 -> U0 done, C_PORT_LINK_STATE. */
			p->resume_due = 0;
			p->resumed_ns = sim->now;
			if (sim_hub3(dev)) {
				p->status &= (uint16_t)~HP3_LINK(0xf);
				p->change |= HC3_LINK_STATE;
				sim_fwake_deliver(sim);
			} else {
				p->status &= (uint16_t)~HP_SUSPEND;
				p->change |= HC_SUSPEND;
			}
			sim_tracef(sim, "%s port %u: resumed", dev->model->name, i + 1);
		} else if (p->resume_due && p->resume_due < h->due) {
			sim_schedule(sim, &h->due, p->resume_due);
		}
		if (p->reset_due > sim->now) {
			if (p->reset_due < h->due)
				sim_schedule(sim, &h->due, p->reset_due);
			continue;
		}
		p->reset_due = SIM_NEVER;
		p->status &= (uint16_t)~HP_RESET;
		p->change |= p->warm ? (HC_RESET | HC3_BH_RESET) : HC_RESET;
		if (p->dev && (p->status & HP_CONNECTION)) {
			p->status |= HP_ENABLE;
			if (sim_hub3(dev)) {
				p->status &= (uint16_t)~HP3_LINK(0xf);
			} else {
				p->status &= (uint16_t)~(HP2_LOW_SPEED | HP2_HIGH_SPEED);
				if (p->dev->speed == SIM_SPEED_LOW)
					p->status |= HP2_LOW_SPEED;
				if (p->dev->speed == SIM_SPEED_HIGH)
					p->status |= HP2_HIGH_SPEED;
			}
			sim_tt_forget(p->dev);
			sim_dev_bus_reset(p->dev);
			p->dev->needs_reset = false;
			p->dev->reset_end_ns = sim->now;
		}
		sim_tracef(sim, "%s port %u: reset done", dev->model->name, i + 1);
	}
}

int sim_hub_in(struct sim_device *dev, uint8_t ep, uint8_t *buf, uint16_t max)
{
	uint8_t map[4] = { 0 };
	unsigned n = (dev->model->hub_ports + 1 + 7) / 8;
	bool any = false;

	(void)ep;
	sim_hub_work(dev);
	for (unsigned i = 0; i < dev->model->hub_ports; i++)
		if (dev->hub->port[i].change) {
			map[(i + 1) / 8] |= (uint8_t)(1u << ((i + 1) % 8));
			any = true;
		}
	if (!any)
		return SIM_NAK;
	if (n > max)
		n = max;
	memcpy(buf, map, n);
	return (int)n;
}

static int sim_hub_descriptor(struct sim_device *dev, uint8_t type, uint8_t *d, uint16_t *len)
{
	const struct sim_device_model *m = dev->model;

	if (sim_hub3(dev)) {
		if (type != USB_DT_SS_HUB)
			return SIM_STALL;
		uint8_t v[12] = { 12, USB_DT_SS_HUB, m->hub_ports, (uint8_t)m->hub_chars,
				  (uint8_t)(m->hub_chars >> 8), 50, 0, 4, 0, 0, 0, 0 };
		memcpy(d, v, sizeof(v));
		*len = sizeof(v);
		return SIM_ACK;
	}
	if (type != USB_DT_HUB)
		return SIM_STALL;
	unsigned nb = (m->hub_ports + 1 + 7) / 8;
	d[0] = (uint8_t)(7 + 2 * nb);
	d[1] = USB_DT_HUB;
	d[2] = m->hub_ports;
	d[3] = (uint8_t)m->hub_chars;
	d[4] = (uint8_t)(m->hub_chars >> 8);
	d[5] = 50;  /* 100 ms power-on to power-good */
	d[6] = 100;
	memset(d + 7, 0, nb);
	memset(d + 7 + nb, 0xff, nb);
	*len = d[0];
	return SIM_ACK;
}

/* ------------------------------------------------------------------------ */
/* Transaction translators (USB 2.0 §11.14-§11.18)                          */

struct sim_device *sim_tt_hub(struct sim_device *dev, unsigned *port)
{
	struct sim_device *child = dev;

	if (dev->speed != SIM_SPEED_LOW && dev->speed != SIM_SPEED_FULL)
		return NULL;
	for (struct sim_device *h = dev->parent; h; child = h, h = h->parent) {
		if (h->speed == SIM_SPEED_HIGH) {
			*port = child->port;
			return h;
		}
	}
	return NULL;
}

/* The TT port a request about the TT of `port` names: 1 on a single-TT hub (§11.24.2.3). */
static unsigned sim_tt_port(const struct sim_device *hub, unsigned port)
{
	return hub->hub->multi_tt ? port : 1;
}

/* The hub whose TT serves `dev` (with its TT port), if it is a hub model. */
static struct sim_device *sim_tt_of(struct sim_device *dev, unsigned *tt_port)
{
	unsigned port = 0;
	struct sim_device *hub = sim_tt_hub(dev, &port);

	if (!hub || !hub->hub)
		return NULL;
	*tt_port = sim_tt_port(hub, port);
	return hub;
}

void sim_tt_abandon(struct sim_device *dev, uint8_t ep, unsigned xtype)
{
	unsigned tt_port;
	struct sim_device *hub = sim_tt_of(dev, &tt_port);
	struct sim_tt_busy *slot = NULL;

	/* Periodic splits use no buffer that outlives its frame (§11.18). */
	if (!hub || (xtype != SIM_EP_CONTROL && xtype != SIM_EP_BULK))
		return;
	for (unsigned i = 0; i < SIM_TT_BUSY_MAX; i++) {
		struct sim_tt_busy *b = &hub->hub->tt_busy[i];

		if (b->dev == dev && b->ep == ep)
			return;
		if (!b->dev && !slot)
			slot = b;
	}
	if (!slot)
		slot = &hub->hub->tt_busy[0]; /* the oldest goes: the model keeps a few */
	*slot = (struct sim_tt_busy){ dev, dev->address, ep, (uint8_t)tt_port,
				      xtype == SIM_EP_CONTROL };
	sim_log(dev->sim, BU_LOG_INFO, "%s: TT buffer busy with an abandoned split to address %u endpoint 0x%02x",
		hub->model->name, dev->address, ep);
}

void sim_tt_transaction(struct sim_device *dev, uint8_t ep)
{
	unsigned tt_port;
	struct sim_device *hub = sim_tt_of(dev, &tt_port);

	for (unsigned i = 0; hub && i < SIM_TT_BUSY_MAX; i++) {
		struct sim_tt_busy *b = &hub->hub->tt_busy[i];

		if (b->dev != dev || b->addr != dev->address ||
		    (b->ep != ep && !(b->control && (b->ep & 0x0f) == (ep & 0x0f))))
			continue;
		sim_violation_add(dev->sim, "%s: TT buffer busy: CLEAR_TT_BUFFER not sent before a new transaction to address %u endpoint 0x%02x (USB 2.0 §11.17.5)",
				  hub->model->name, dev->address, ep);
		b->dev = NULL; /* said once */
	}
}

/* `dev` leaves (or is reset on) a hub port: its busy buffers go with it,
 * and a CLEAR_TT_BUFFER sent late may still name its old address. */
static void sim_tt_forget(struct sim_device *dev)
{
	unsigned tt_port;
	struct sim_device *hub = sim_tt_of(dev, &tt_port);

	if (!hub)
		return;
	for (unsigned i = 0; i < SIM_TT_BUSY_MAX; i++)
		if (hub->hub->tt_busy[i].dev == dev)
			hub->hub->tt_busy[i].dev = NULL;
	if (dev->address)
		hub->hub->tt_left[dev->address / 8] |= (uint8_t)(1u << (dev->address % 8));
}

/* The device behind `hub`'s TT with USB address `addr`, or NULL. */
static struct sim_device *sim_tt_device(struct sim_device *hub, unsigned addr, unsigned *tt_port)
{
	for (struct sim_device *o = hub->sim->devices; o; o = o->next) {
		unsigned port = 0;

		if (o->address == addr && o->addressed && sim_tt_hub(o, &port) == hub) {
			*tt_port = sim_tt_port(hub, port);
			return o;
		}
	}
	return NULL;
}

/* Whether `d` has endpoint `num` of transfer type `type` (direction free for control). */
static bool sim_tt_ep_is(struct sim_device *d, unsigned num, bool in, unsigned type)
{
	const uint8_t *epd = NULL;

	if (num == 0)
		return type == SIM_EP_CONTROL;
	if (type == SIM_EP_CONTROL)
		return (sim_dev_has_ep(d, (uint8_t)num, &epd, NULL) ||
			sim_dev_has_ep(d, (uint8_t)(num | 0x80), &epd, NULL)) &&
		       (epd[3] & 3) == SIM_EP_CONTROL;
	return sim_dev_has_ep(d, (uint8_t)(num | (in ? 0x80 : 0)), &epd, NULL) &&
	       (epd[3] & 3) == type;
}

/* Free the buffer a CLEAR_TT_BUFFER names, if it is busy. */
static void sim_tt_free(struct sim_hub *h, unsigned tt_port, unsigned addr, uint8_t ep)
{
	for (unsigned i = 0; i < SIM_TT_BUSY_MAX; i++) {
		struct sim_tt_busy *b = &h->tt_busy[i];

		if (b->dev && b->tt_port == tt_port && b->addr == addr && b->ep == ep)
			b->dev = NULL;
	}
}

/* CLEAR_TT_BUFFER's own fields (USB 2.0 §11.24.2.3); true when wIndex names one of the hub's TTs. */
static bool sim_tt_clear_fields(struct sim_device *hub, const struct usb_setup_packet *s)
{
	const char *name = hub->model->name;
	unsigned type = (s->wValue >> 11) & 3;
	bool port_ok = hub->hub->multi_tt ? s->wIndex >= 1 && s->wIndex <= hub->model->hub_ports
					  : s->wIndex == 1;

	if (s->wLength)
		sim_violation_add(hub->sim, "%s: CLEAR_TT_BUFFER with wLength %u (must be 0)", name,
				  s->wLength);
	if (!port_ok)
		sim_violation_add(hub->sim, "%s: CLEAR_TT_BUFFER with TT port %u (%s)", name, s->wIndex,
				  hub->hub->multi_tt ? "no such port" : "single TT: must be 1");
	if (s->wValue & 0x6000)
		sim_violation_add(hub->sim, "%s: CLEAR_TT_BUFFER wValue %#06x sets reserved bits 14:13",
				  name, s->wValue);
	if (type != SIM_EP_CONTROL && type != SIM_EP_BULK)
		sim_violation_add(hub->sim, "%s: CLEAR_TT_BUFFER wValue %#06x names endpoint type %u: only control and bulk buffers are cleared",
				  name, s->wValue, type);
	return port_ok;
}

/* What CLEAR_TT_BUFFER names must be behind that TT: the device, its endpoint of that type. */
static void sim_tt_clear_target(struct sim_device *hub, const struct usb_setup_packet *s,
				bool port_ok)
{
	unsigned num = s->wValue & 0xf, addr = (s->wValue >> 4) & 0x7f, type = (s->wValue >> 11) & 3;
	bool in = s->wValue & 0x8000;
	unsigned dev_tt = 0;
	struct sim_device *d = sim_tt_device(hub, addr, &dev_tt);
	const char *name = hub->model->name;

	if (!d && !(hub->hub->tt_left[addr / 8] & (1u << (addr % 8))))
		sim_violation_add(hub->sim, "%s: CLEAR_TT_BUFFER for address %u, no such device behind its TT",
				  name, addr);
	else if (d && port_ok && dev_tt != s->wIndex)
		sim_violation_add(hub->sim, "%s: CLEAR_TT_BUFFER names TT port %u, but address %u is behind TT port %u",
				  name, s->wIndex, addr, dev_tt);
	else if (d && !sim_tt_ep_is(d, num, in, type))
		sim_violation_add(hub->sim, "%s: CLEAR_TT_BUFFER wValue %#06x: address %u has no %s endpoint %u%s",
				  name, s->wValue, addr, type == SIM_EP_CONTROL ? "control" : "bulk",
				  num, type == SIM_EP_CONTROL ? "" : in ? " IN" : " OUT");
}

/*
 * CLEAR_TT_BUFFER (USB 2.0 §11.24.2.3): wValue names endpoint number (3:0),
 * device address (10:4), endpoint type (12:11, control or bulk), direction
 * (15); wIndex the TT (1 on a single-TT hub, else the port); wLength 0.
 * It is checked, kept for the tests, and frees the buffer it names.
 */
static int sim_tt_clear(struct sim_device *hub, const struct usb_setup_packet *s)
{
	struct sim_hub *h = hub->hub;
	uint8_t ep = (uint8_t)((s->wValue & 0xf) | ((s->wValue & 0x8000) ? 0x80 : 0));

	if (sim_hub3(hub) || hub->speed != SIM_SPEED_HIGH)
		return SIM_STALL;
	if (h->tt_clears < SIM_TT_LOG) {
		h->tt_log[h->tt_clears][0] = s->wValue;
		h->tt_log[h->tt_clears][1] = s->wIndex;
	}
	h->tt_clears++;
	sim_tt_clear_target(hub, s, sim_tt_clear_fields(hub, s));
	sim_tt_free(h, s->wIndex, (s->wValue >> 4) & 0x7f, ep);
	return SIM_ACK;
}

/* RESET_TT (USB 2.0 §11.24.2.9): every buffer of the TT in wIndex is emptied. */
static int sim_tt_reset(struct sim_device *hub, const struct usb_setup_packet *s)
{
	if (sim_hub3(hub) || hub->speed != SIM_SPEED_HIGH)
		return SIM_STALL;
	for (unsigned i = 0; i < SIM_TT_BUSY_MAX; i++)
		if (hub->hub->tt_busy[i].tt_port == s->wIndex)
			hub->hub->tt_busy[i].dev = NULL;
	return SIM_ACK;
}

unsigned sim_hub_tt_clears(const struct sim_device *hub)
{
	return hub->hub ? hub->hub->tt_clears : 0;
}

bool sim_hub_tt_clear(const struct sim_device *hub, unsigned i, uint16_t *wvalue,
		      uint16_t *windex)
{
	if (!hub->hub || i >= hub->hub->tt_clears || i >= SIM_TT_LOG)
		return false;
	*wvalue = hub->hub->tt_log[i][0];
	*windex = hub->hub->tt_log[i][1];
	return true;
}

unsigned sim_hub_tt_busy(const struct sim_device *hub)
{
	unsigned n = 0;

	for (unsigned i = 0; hub->hub && i < SIM_TT_BUSY_MAX; i++)
		n += hub->hub->tt_busy[i].dev != NULL;
	return n;
}

/* ------------------------------------------------------------------------ */
/* Hub class requests (USB 2.0 §11.24, USB 3.2 §10.16)                       */

/*
 * SetPortFeature(PORT_LINK_STATE) on a USB 3 hub (USB 3.2 §10.16.2.10):
 * U3 from an enabled port in U0 suspends it; U0 from U3 resumes it (the
 * exit takes a little while, then C_PORT_LINK_STATE); anything else is
 * taken as it comes.
 */
static int sim_hub3_link_state(struct sim_device *dev, unsigned port, struct sim_hub_port *p,
			       unsigned target)
{
	struct sim *sim = dev->sim;
	unsigned cur = (p->status >> 5) & 0xf;

	if (target == 3) {
		if (!(p->status & HP_ENABLE) || cur != 0 || p->resume_due)
			sim_violation_add(sim, "%s port %u: PORT_LINK_STATE U3 with the link in state %u%s",
					  dev->model->name, port, cur,
					  (p->status & HP_ENABLE) ? "" : " (port disabled)");
		else {
			p->status = (uint16_t)((p->status & ~HP3_LINK(0xf)) | HP3_LINK(3));
			p->suspend_ns = sim->now;
		}
		return SIM_ACK;
	}
	if (target == 0) {
		if (cur == 3 && !p->resume_due) {
			p->resume_due = sim->now + 1 * SIM_MS;
			if (p->resume_due < dev->hub->due)
				sim_schedule(sim, &dev->hub->due, p->resume_due);
		}
		return SIM_ACK;
	}
	p->status = (uint16_t)((p->status & ~HP3_LINK(0xf)) | HP3_LINK(target));
	return SIM_ACK;
}

int sim_hub_control(struct sim_device *dev, const struct usb_setup_packet *s, uint8_t *data,
		    uint16_t *len)
{
	struct sim *sim = dev->sim;
	struct sim_hub *h = dev->hub;
	unsigned port = s->wIndex & 0xff;
	struct sim_hub_port *p = port >= 1 && port <= dev->model->hub_ports ? &h->port[port - 1] : NULL;
	bool usb3 = sim_hub3(dev);

	sim_hub_work(dev);
	switch (s->bmRequestType) {
	case 0xa0:
		if (s->bRequest == USB_REQ_GET_DESCRIPTOR) {
			int r = sim_hub_descriptor(dev, (uint8_t)(s->wValue >> 8), data, len);
			if (r == SIM_ACK && dev->desc_hook &&
			    !dev->desc_hook(dev->desc_hook_ctx, dev, (uint8_t)(s->wValue >> 8),
					    (uint8_t)s->wValue, data, len, SIM_CTRL_BUF))
				return SIM_STALL;
			/* what the host learns (a hook may have changed it) */
			if (r == SIM_ACK && *len >= 5 && s->wLength >= 5) {
				h->desc_sent = true;
				h->desc_ports = data[2];
				h->desc_chars = (uint16_t)(data[3] | data[4] << 8);
			}
			return r;
		}
		if (s->bRequest == USB_REQ_GET_STATUS) {
			memset(data, 0, 4);
			*len = 4;
			return SIM_ACK;
		}
		return SIM_STALL;
	case 0x20:
		if (s->bRequest == 12 /* SET_HUB_DEPTH */ && usb3) {
			h->depth = (uint8_t)s->wValue;
			h->depth_set = true;
			if (s->wValue != dev->depth)
				sim_violation_add(sim, "%s: SET_HUB_DEPTH(%u) but the hub is at depth %u",
						  dev->model->name, s->wValue, dev->depth);
			return SIM_ACK;
		}
		if (s->bRequest == USB_REQ_CLEAR_FEATURE)
			return SIM_ACK; /* C_HUB_LOCAL_POWER / C_HUB_OVER_CURRENT */
		return SIM_STALL;
	case 0xa3:
		if (s->bRequest != USB_REQ_GET_STATUS || !p)
			return SIM_STALL;
		data[0] = (uint8_t)p->status;
		data[1] = (uint8_t)(p->status >> 8);
		data[2] = (uint8_t)p->change;
		data[3] = (uint8_t)(p->change >> 8);
		*len = 4;
		return SIM_ACK;
	case 0x23:
		break;
	default:
		return SIM_STALL;
	}
	if (s->bRequest == 8 /* CLEAR_TT_BUFFER */)
		return sim_tt_clear(dev, s);
	if (s->bRequest == 9 /* RESET_TT */)
		return sim_tt_reset(dev, s);
	if (!p)
		return SIM_STALL;
	if (s->bRequest == USB_REQ_SET_FEATURE) {
		switch (s->wValue) {
		case F_PORT_POWER:
			if (p->status & HP_OVERCURRENT)
				return SIM_ACK; /* stays off while the condition lasts */
			if (!(p->status & sim_hub_power_bit(dev))) {
				p->status |= sim_hub_power_bit(dev);
				if (p->dev)
					sim_hub_connect(dev, port);
			}
			return SIM_ACK;
		case F_PORT_RESET:
		case F_BH_PORT_RESET:
			if (s->wValue == F_BH_PORT_RESET && !usb3)
				return SIM_STALL;
			if (!(p->status & sim_hub_power_bit(dev)))
				return SIM_ACK;
			if (!usb3 && p->dev && !sim->cfg.no_timing_checks &&
			    sim->now < p->connect_ns + 100 * SIM_MS)
				sim_violation_add(sim, "%s port %u reset %llu ms after connect, before the 100 ms debounce (USB 2.0 §7.1.7.3)",
						  dev->model->name, port,
						  (unsigned long long)((sim->now - p->connect_ns) / SIM_MS));
			p->status |= HP_RESET;
			if (!usb3)
				p->status &= (uint16_t)~HP_ENABLE;
			p->warm = s->wValue == F_BH_PORT_RESET;
			p->reset_due = sim->now + sim->cfg.hub_reset_us * SIM_US;
			if (p->reset_due < h->due)
				sim_schedule(sim, &h->due, p->reset_due);
			return SIM_ACK;
		case F_PORT_SUSPEND:
			/* USB 2.0 §11.24.2.7.1.3: only an enabled port suspends. */
			if (usb3)
				return SIM_STALL;
			if (!(p->status & HP_ENABLE) || (p->status & HP_RESET) || p->resume_due)
				sim_violation_add(sim, "%s port %u: SetPortFeature(PORT_SUSPEND) on a port that is %s",
						  dev->model->name, port,
						  p->resume_due ? "resuming" : "not enabled");
			else if (!(p->status & HP_SUSPEND)) {
				p->status |= HP_SUSPEND;
				p->suspend_ns = sim->now;
			}
			return SIM_ACK;
		case F_PORT_LINK_STATE:
			if (!usb3)
				return SIM_STALL;
			return sim_hub3_link_state(dev, port, p, s->wIndex >> 8);
		case F_PORT_TEST:
		case F_PORT_INDICATOR:
		case F_PORT_U1_TIMEOUT:
		case F_PORT_U2_TIMEOUT:
		case F_PORT_REMOTE_WAKE_MASK:
			return SIM_ACK;
		default:
			return SIM_STALL;
		}
	}
	if (s->bRequest == USB_REQ_CLEAR_FEATURE) {
		switch (s->wValue) {
		case F_PORT_ENABLE:
			if (usb3)
				return SIM_STALL;
			p->status &= (uint16_t)~HP_ENABLE;
			return SIM_ACK;
		case F_PORT_SUSPEND:
			if (usb3)
				return SIM_STALL;
			/* USB 2.0 §11.24.2.7.1.3, §7.1.7.7: the hub drives
			 * resume for TDRSMDN (20 ms) itself, then reports it. */
			if ((p->status & HP_SUSPEND) && !p->resume_due) {
				p->resume_due = sim->now + 20 * SIM_MS;
				if (p->resume_due < h->due)
					sim_schedule(sim, &h->due, p->resume_due);
			}
			return SIM_ACK;
		case F_PORT_POWER:
			p->status = 0;
			p->reset_due = SIM_NEVER;
			return SIM_ACK;
		case F_C_CONNECTION:
			p->change &= (uint16_t)~HC_CONNECTION;
			return SIM_ACK;
		case F_C_ENABLE:
			p->change &= (uint16_t)~HC_ENABLE;
			return SIM_ACK;
		case F_C_SUSPEND:
			p->change &= (uint16_t)~HC_SUSPEND;
			return SIM_ACK;
		case F_C_OVER_CURRENT:
			p->change &= (uint16_t)~HC_OVERCURRENT;
			return SIM_ACK;
		case F_C_RESET:
			p->change &= (uint16_t)~HC_RESET;
			return SIM_ACK;
		case F_C_PORT_LINK_STATE:
		case F_C_PORT_CONFIG_ERROR:
		case F_C_BH_PORT_RESET:
			if (!usb3)
				return SIM_STALL;
			p->change &= (uint16_t)~(s->wValue == F_C_PORT_LINK_STATE ? HC3_LINK_STATE
						 : s->wValue == F_C_BH_PORT_RESET ? HC3_BH_RESET : 0x80);
			return SIM_ACK;
		case F_PORT_INDICATOR:
			return SIM_ACK;
		default:
			return SIM_STALL;
		}
	}
	return SIM_STALL;
}
