/*
 * sim root ports (xHCI §4.19, §5.4.8-5.4.11): PORTSC with RW1C/RW1S/RO bits,
 * USB 2 reset, USB 3 link training, hot and warm reset, link states,
 * over-current, Port Status Change Events on PSCEG 0->1; attach and detach
 * at any moment, the Intel PCH routing that hides a port's device while the
 * port belongs to the EHCI, Compliance Mode without CAS, and the topology
 * walk by route string.
 */
#include <stdlib.h>
#include <string.h>

#include "xhci_trace.h"
#include "sim_priv.h"

#define SIM_PORTSC_RO (XHCI_PORTSC_CCS | XHCI_PORTSC_OCA | (0xfu << 10) | XHCI_PORTSC_CAS | \
		       XHCI_PORTSC_DR)

static struct sim_port *sim_p(struct sim *sim, unsigned port)
{
	return &sim->port[port - 1];
}

static uint32_t sim_change_mask(const struct sim_port *p)
{
	return p->usb3 ? XHCI_PORTSC_CHANGE_MASK
		       : (XHCI_PORTSC_CHANGE_MASK & ~(XHCI_PORTSC_WRC | XHCI_PORTSC_CEC));
}

static void sim_set_pls(struct sim_port *p, unsigned pls)
{
	p->sc = (p->sc & ~XHCI_PORTSC_PLS_SET(0xf)) | XHCI_PORTSC_PLS_SET(pls);
}

static void sim_set_speed(struct sim_port *p, unsigned psiv)
{
	p->sc = (p->sc & ~(0xfu << 10)) | (psiv << 10);
}

unsigned sim_port_psiv(const struct sim *sim, unsigned port, enum sim_speed speed)
{
	(void)sim;
	(void)port;
	return (unsigned)speed;
}

enum sim_speed sim_psiv_speed(const struct sim *sim, unsigned port, unsigned psiv)
{
	(void)sim;
	(void)port;
	return (enum sim_speed)psiv;
}

bool sim_port_routed(const struct sim *sim, unsigned port)
{
	const struct sim_port *p = &sim->port[port - 1];
	unsigned n = 0;

	if (!sim->cfg.intel_port_routing)
		return true;
	for (unsigned i = 1; i < port; i++) /* n: its index among ports of its kind */
		n += sim->port[i - 1].usb3 == p->usb3;
	return ((p->usb3 ? sim->usb3_pssen : sim->xusb2pr) >> n) & 1;
}

/* The device on a root port as the xHCI sees it: none while the EHCI has the port. */
static struct sim_device *sim_port_dev(const struct sim *sim, unsigned port)
{
	return sim_port_routed(sim, port) ? sim->port[port - 1].dev : NULL;
}

void sim_ports_init(struct sim *sim)
{
	const struct sim_config *c = &sim->cfg;

	sim->compliance_left = c->compliance_without_cas;
	for (unsigned i = 1; i <= sim->nports; i++) {
		struct sim_port *p = sim_p(sim, i);
		bool first_group = i <= (c->usb3_first ? c->usb3_ports : c->usb2_ports);
		p->usb3 = first_group == c->usb3_first;
		p->sc = c->ppc ? 0 : XHCI_PORTSC_PP;
		sim_set_pls(p, c->ppc ? XHCI_PLS_DISABLED : XHCI_PLS_RXDETECT);
		p->due = SIM_NEVER;
	}
}

unsigned sim_num_ports(const struct sim *sim)
{
	return sim->nports;
}

bool sim_port_is_usb3(const struct sim *sim, unsigned port)
{
	return port >= 1 && port <= sim->nports && sim->port[port - 1].usb3;
}

static unsigned sim_nth_port(const struct sim *sim, unsigned n, bool usb3)
{
	for (unsigned i = 1; i <= sim->nports; i++)
		if (sim->port[i - 1].usb3 == usb3 && --n == 0)
			return i;
	return 0;
}

unsigned sim_usb2_port(const struct sim *sim, unsigned n)
{
	return n ? sim_nth_port(sim, n, false) : 0;
}

unsigned sim_usb3_port(const struct sim *sim, unsigned n)
{
	return n ? sim_nth_port(sim, n, true) : 0;
}

uint32_t sim_portsc(struct sim *sim, unsigned port)
{
	return port >= 1 && port <= sim->nports ? sim->port[port - 1].sc : 0;
}

/* Set change bits; a Port Status Change Event when PSCEG goes 0 -> 1. */
void sim_port_change(struct sim *sim, unsigned port, uint32_t bits)
{
	struct sim_port *p = sim_p(sim, port);
	uint32_t mask = sim_change_mask(p);
	bool was = p->sc & mask;

	p->sc |= bits & mask;
	if (!sim_running(sim) &&
	    (((bits & XHCI_PORTSC_PLC) && XHCI_PORTSC_PLS(p->sc) == XHCI_PLS_RESUME) ||
	     ((bits & XHCI_PORTSC_CSC) && (p->sc & XHCI_PORTSC_CCS) && (p->sc & XHCI_PORTSC_WCE)) ||
	     ((bits & XHCI_PORTSC_CSC) && !(p->sc & XHCI_PORTSC_CCS) && (p->sc & XHCI_PORTSC_WDE)) ||
	     ((bits & XHCI_PORTSC_OCC) && (p->sc & XHCI_PORTSC_WOE)))) {
		/* Halted: no event, but a wake (PME) when enabled (xHCI §4.15). */
		sim->pme = true;
		sim_tracef(sim, "port %u: wake signalled while halted", port);
	}
	if (!was && (p->sc & mask) && sim_running(sim)) {
		uint32_t ev[4] = { (uint32_t)port << 24, 0, (uint32_t)XHCI_CC_SUCCESS << 24,
				   XHCI_TRB_TYPE_SET(XHCI_TRB_PORT_STATUS) };
		sim->usbsts |= XHCI_USBSTS_PCD;
		sim_event_post(sim, 0, ev, false);
	}
}

void sim_ports_running(struct sim *sim)
{
	(void)sim; /* no events for change bits already set: software scans */
}

void sim_ports_hc_reset(struct sim *sim)
{
	for (unsigned i = 1; i <= sim->nports; i++) {
		struct sim_port *p = sim_p(sim, i);
		uint32_t keep = p->sc & (XHCI_PORTSC_CCS | XHCI_PORTSC_OCA);
		p->due = SIM_NEVER;
		p->pending = SIM_PORT_NONE;
		p->pmsc = p->li = p->hlpmc = 0;
		p->sc = keep | (sim->cfg.ppc ? 0 : XHCI_PORTSC_PP);
		if (!sim_port_dev(sim, i)) {
			p->sc &= ~XHCI_PORTSC_CCS;
			sim_set_pls(p, sim->cfg.ppc ? XHCI_PLS_DISABLED : XHCI_PLS_RXDETECT);
			continue;
		}
		sim_dev_bus_reset(p->dev);
		p->dev->needs_reset = !p->usb3;
		if (sim->cfg.ppc) {
			p->sc &= ~XHCI_PORTSC_CCS;
			sim_set_pls(p, XHCI_PLS_DISABLED);
		} else if (p->usb3) {
			p->sc &= ~XHCI_PORTSC_CCS;
			sim_set_pls(p, XHCI_PLS_POLLING);
			p->pending = SIM_PORT_TRAIN;
			sim_schedule(sim, &p->due, sim->now + sim->cfg.train_us * SIM_US);
		} else {
			sim_set_pls(p, XHCI_PLS_POLLING);
			p->sc |= XHCI_PORTSC_CSC;
		}
	}
}

uint32_t sim_port_read(struct sim *sim, unsigned port, unsigned reg)
{
	struct sim_port *p = sim_p(sim, port);

	switch (reg) {
	case 0:
		return p->sc;
	case 4:
		return p->pmsc;
	case 8:
		return p->usb3 ? (p->li & 0xffff) | (p->sc & XHCI_PORTSC_CCS ? 0x110000u : 0) : 0;
	default:
		return p->hlpmc;
	}
}

static void sim_port_start_reset(struct sim *sim, unsigned port, bool warm)
{
	struct sim_port *p = sim_p(sim, port);

	if (p->pending == SIM_PORT_RESET || p->pending == SIM_PORT_WARM)
		return;
	if (!p->usb3 && p->dev && !sim->cfg.no_timing_checks &&
	    sim->now < p->connect_ns + 100 * SIM_MS)
		sim_violation_add(sim, "port %u reset %llu ms after connect, before the 100 ms debounce (USB 2.0 §7.1.7.3 TATTDB)",
				  port, (unsigned long long)((sim->now - p->connect_ns) / SIM_MS));
	p->sc |= XHCI_PORTSC_PR;
	if (!p->usb3) {
		p->sc &= ~XHCI_PORTSC_PED;
		sim->port[port - 1].pending = SIM_PORT_RESET;
		sim_schedule(sim, &p->due, sim->now + sim->cfg.port_reset_us * SIM_US);
	} else if (warm) {
		p->pending = SIM_PORT_WARM;
		sim_schedule(sim, &p->due, sim->now + sim->cfg.warm_reset_us * SIM_US);
	} else {
		p->pending = SIM_PORT_RESET;
		sim_set_pls(p, XHCI_PLS_HOT_RESET);
		sim_schedule(sim, &p->due, sim->now + sim->cfg.hot_reset_us * SIM_US);
	}
	sim_tracef(sim, "port %u: %s reset started", port, warm ? "warm" : "port");
}

bool sim_port_suspended(const struct sim *sim, unsigned port)
{
	unsigned pls;

	if (port < 1 || port > sim->nports)
		return false;
	pls = XHCI_PORTSC_PLS(sim->port[port - 1].sc);
	return pls == XHCI_PLS_U3 || pls == XHCI_PLS_RESUME;
}

bool sim_port_remote_wake(struct sim *sim, unsigned port)
{
	struct sim_port *p;

	if (port < 1 || port > sim->nports)
		return false;
	p = sim_p(sim, port);
	if (XHCI_PORTSC_PLS(p->sc) != XHCI_PLS_U3)
		return false;
	sim_set_pls(p, XHCI_PLS_RESUME);
	p->resume_ns = sim->now;
	sim_port_change(sim, port, XHCI_PORTSC_PLC);
	sim_tracef(sim, "port %u: remote wakeup, U3 -> Resume", port);
	return true;
}

static void sim_port_pls_write(struct sim *sim, unsigned port, unsigned pls)
{
	struct sim_port *p = sim_p(sim, port);
	unsigned cur = XHCI_PORTSC_PLS(p->sc);

	switch (pls) {
	case XHCI_PLS_U0:
		if (cur == XHCI_PLS_RESUME && !p->usb3) {
			/* xHCI 1.2 §4.15.2.2, USB 2.0 §7.1.7.7: Resume is
			 * driven for TDRSMDN (20 ms) before U0 ends it. */
			if (!sim->cfg.no_timing_checks && sim->now < p->resume_ns + 20 * SIM_MS)
				sim_violation_add(sim, "port %u: PLS=U0 written %llu us after Resume, before TDRSMDN (20 ms, USB 2.0 §7.1.7.7)",
						  port, (unsigned long long)((sim->now - p->resume_ns) / SIM_US));
			p->resumed_ns = sim->now;
		}
		if (cur == XHCI_PLS_U3 || cur == XHCI_PLS_RESUME) {
			p->pending = SIM_PORT_RESUME;
			sim_schedule(sim, &p->due, sim->now + (p->usb3 ? 2000 : 1000) * SIM_US);
		} else if (cur != XHCI_PLS_U0) {
			sim_violation_add(sim, "port %u: PLS=U0 written in link state %s", port,
					  bu_xhci_pls_name(cur));
		}
		return;
	case XHCI_PLS_U3:
		if (!(p->sc & XHCI_PORTSC_PED) || cur != XHCI_PLS_U0) {
			sim_violation_add(sim, "port %u: PLS=U3 written while %s", port,
					  (p->sc & XHCI_PORTSC_PED) ? bu_xhci_pls_name(cur) : "disabled");
			return;
		}
		sim_set_pls(p, XHCI_PLS_U3);
		p->u3_ns = sim->now;
		return;
	case XHCI_PLS_RESUME:
		if (p->usb3 || cur != XHCI_PLS_U3) {
			sim_violation_add(sim, "port %u: PLS=Resume written on a %s port in %s", port,
					  p->usb3 ? "USB 3" : "USB 2", bu_xhci_pls_name(cur));
			return;
		}
		sim_set_pls(p, XHCI_PLS_RESUME);
		p->resume_ns = sim->now;
		return;
	case XHCI_PLS_DISABLED:
		if (!p->usb3) {
			sim_violation_add(sim, "port %u: PLS=Disabled written on a USB 2 port", port);
			return;
		}
		p->sc &= ~XHCI_PORTSC_PED;
		sim_set_pls(p, XHCI_PLS_DISABLED);
		return;
	case XHCI_PLS_RXDETECT:
		if (!p->usb3 || cur != XHCI_PLS_DISABLED) {
			sim_violation_add(sim, "port %u: PLS=RxDetect written in %s", port,
					  bu_xhci_pls_name(cur));
			return;
		}
		sim_set_pls(p, XHCI_PLS_RXDETECT);
		if (sim_port_dev(sim, port)) {
			sim_set_pls(p, XHCI_PLS_POLLING);
			p->pending = SIM_PORT_TRAIN;
			sim_schedule(sim, &p->due, sim->now + sim->cfg.train_us * SIM_US);
		}
		return;
	default:
		sim_violation_add(sim, "port %u: PLS=%u (%s) is not software-writable", port, pls,
				  bu_xhci_pls_name(pls));
	}
}

void sim_port_write(struct sim *sim, unsigned port, unsigned reg, uint32_t val)
{
	struct sim_port *p = sim_p(sim, port);
	uint32_t mask = sim_change_mask(p);

	if (reg == 4) {
		p->pmsc = p->usb3 ? (val & 0x1ffff) : (val & 0xf001fff8u);
		return;
	}
	if (reg == 8) {
		if (p->usb3)
			p->li = val & 0xffff;
		return;
	}
	if (reg == 12) {
		p->hlpmc = val;
		return;
	}
	if (val & ((1u << 2) | (3u << 28)))
		sim_violation_add(sim, "PORTSC%u write %#x sets RsvdZ bits", port, val);
	if (!p->usb3 && (val & (XHCI_PORTSC_WRC | XHCI_PORTSC_CEC | XHCI_PORTSC_WPR)))
		sim_violation_add(sim, "PORTSC%u write %#x sets WRC/CEC/WPR, RsvdZ on a USB 2 port", port, val);
	/* RW1C change bits */
	p->sc &= ~(val & mask);
	/* RWS: wake enables */
	p->sc = (p->sc & ~(XHCI_PORTSC_WCE | XHCI_PORTSC_WDE | XHCI_PORTSC_WOE)) |
		(val & (XHCI_PORTSC_WCE | XHCI_PORTSC_WDE | XHCI_PORTSC_WOE));
	/* PP (only with PPC) */
	if (sim->cfg.ppc) {
		bool on = val & XHCI_PORTSC_PP, was = p->sc & XHCI_PORTSC_PP;
		if (on && !was && !(p->sc & XHCI_PORTSC_OCA)) {
			p->sc |= XHCI_PORTSC_PP;
			sim_set_pls(p, XHCI_PLS_RXDETECT);
			if (sim_port_dev(sim, port)) {
				p->pending = SIM_PORT_TRAIN;
				sim_schedule(sim, &p->due, sim->now + (p->usb3 ? sim->cfg.train_us : 20000) * SIM_US);
			}
		} else if (!on && was) {
			p->sc &= ~(XHCI_PORTSC_PP | XHCI_PORTSC_CCS | XHCI_PORTSC_PED | XHCI_PORTSC_PR);
			sim_set_pls(p, XHCI_PLS_DISABLED);
			sim_set_speed(p, 0);
			p->pending = SIM_PORT_NONE;
			p->due = SIM_NEVER;
		}
	}
	/* PED: writing 1 disables the port */
	if ((val & XHCI_PORTSC_PED) && (p->sc & XHCI_PORTSC_PED)) {
		sim_log(sim, BU_LOG_INFO, "port %u disabled by software (PED written as 1)", port);
		p->sc &= ~XHCI_PORTSC_PED;
		if (p->usb3)
			sim_set_pls(p, XHCI_PLS_DISABLED);
	}
	if (!(p->sc & XHCI_PORTSC_PP))
		return;
	if (val & XHCI_PORTSC_LWS)
		sim_port_pls_write(sim, port, XHCI_PORTSC_PLS(val));
	if (p->usb3 && (val & XHCI_PORTSC_WPR))
		sim_port_start_reset(sim, port, true);
	else if (val & XHCI_PORTSC_PR)
		sim_port_start_reset(sim, port, false);
}

static void sim_port_enable(struct sim *sim, unsigned port)
{
	struct sim_port *p = sim_p(sim, port);

	p->sc |= XHCI_PORTSC_PED | XHCI_PORTSC_CCS;
	sim_set_pls(p, XHCI_PLS_U0);
	sim_set_speed(p, sim_port_psiv(sim, port, p->dev->speed));
	sim_dev_bus_reset(p->dev);
	p->dev->needs_reset = false;
	p->dev->reset_end_ns = sim->now;
}

/*
 * Link training ended in Compliance Mode and the part does not say so
 * (sim_config.compliance_without_cas): CCS and CAS stay 0, no change bit,
 * no event. Only a warm reset retrains the link.
 */
static void sim_port_compliance(struct sim *sim, unsigned port)
{
	struct sim_port *p = sim_p(sim, port);

	sim->compliance_left--;
	p->sc &= ~(XHCI_PORTSC_CCS | XHCI_PORTSC_PED | XHCI_PORTSC_CAS);
	sim_set_pls(p, XHCI_PLS_COMPLIANCE);
	sim_log(sim, BU_LOG_INFO, "port %u: link training ended in Compliance Mode (no CAS, no event)",
		port);
}

void sim_port_work(struct sim *sim, unsigned port)
{
	struct sim_port *p = sim_p(sim, port);
	int what = p->pending;

	p->pending = SIM_PORT_NONE;
	switch (what) {
	case SIM_PORT_RESET:
		p->sc &= ~XHCI_PORTSC_PR;
		if (p->dev && (p->sc & XHCI_PORTSC_CCS)) {
			if (p->usb3 && XHCI_PORTSC_PLS(p->sc) != XHCI_PLS_HOT_RESET) {
				/* e.g. Inactive: a hot reset cannot recover it */
			} else {
				sim_port_enable(sim, port);
			}
		} else if (p->usb3 && XHCI_PORTSC_PLS(p->sc) != XHCI_PLS_COMPLIANCE) {
			sim_set_pls(p, XHCI_PLS_RXDETECT);
		}
		sim_tracef(sim, "port %u: reset done", port);
		sim_port_change(sim, port, XHCI_PORTSC_PRC);
		break;
	case SIM_PORT_WARM:
		p->sc &= ~XHCI_PORTSC_PR;
		if (sim_port_dev(sim, port)) {
			sim_port_enable(sim, port);
		} else {
			p->sc &= ~(XHCI_PORTSC_PED | XHCI_PORTSC_CCS);
			sim_set_pls(p, XHCI_PLS_RXDETECT);
		}
		sim_port_change(sim, port, XHCI_PORTSC_PRC | XHCI_PORTSC_WRC);
		break;
	case SIM_PORT_TRAIN:
		if (!sim_port_dev(sim, port))
			break;
		p->connect_ns = sim->now;
		p->dev->connect_ns = sim->now;
		if (p->usb3 && sim->compliance_left) {
			sim_port_compliance(sim, port);
			break;
		}
		if (p->usb3) {
			sim_port_enable(sim, port);
		} else {
			p->sc |= XHCI_PORTSC_CCS;
			sim_set_pls(p, XHCI_PLS_POLLING);
		}
		sim_port_change(sim, port, XHCI_PORTSC_CSC);
		break;
	case SIM_PORT_RESUME:
		if (XHCI_PORTSC_PLS(p->sc) == XHCI_PLS_U3 || XHCI_PORTSC_PLS(p->sc) == XHCI_PLS_RESUME) {
			sim_set_pls(p, XHCI_PLS_U0);
			/* USB 3: the link is in U0 now; resume recovery
			 * (USB 3.2 §9.2.6.2, 10 ms) counts from here. */
			if (p->usb3)
				p->resumed_ns = sim->now;
			sim_port_change(sim, port, XHCI_PORTSC_PLC);
			sim_fwake_deliver(sim);
		}
		break;
	default:
		break;
	}
}

/* ------------------------------------------------------------------------ */
/* Attach / detach                                                          */

/** A powered port without over-current sees the device on it: USB 2 connect, USB 3 training. */
static void sim_port_detect(struct sim *sim, unsigned port)
{
	struct sim_port *p = sim_p(sim, port);

	if (!sim_port_dev(sim, port) || !(p->sc & XHCI_PORTSC_PP) ||
	    (p->sc & XHCI_PORTSC_OCA) || (p->sc & XHCI_PORTSC_CCS))
		return;
	if (p->usb3) {
		sim_set_pls(p, XHCI_PLS_POLLING);
		p->pending = SIM_PORT_TRAIN;
		sim_schedule(sim, &p->due, sim->now + sim->cfg.train_us * SIM_US);
	} else {
		p->sc |= XHCI_PORTSC_CCS;
		sim_set_pls(p, XHCI_PLS_POLLING);
		sim_port_change(sim, port, XHCI_PORTSC_CSC);
	}
}

/* The port's device was just plugged in (or routed here): the xHCI sees a new connection. */
static void sim_port_plugged(struct sim *sim, unsigned port)
{
	struct sim_port *p = sim_p(sim, port);

	p->connect_ns = sim->now;
	p->dev->connect_ns = sim->now;
	p->dev->needs_reset = !p->usb3;
	sim_port_detect(sim, port);
}

struct sim_device *sim_attach(struct sim *sim, unsigned port,
			      const struct sim_device_model *model, enum sim_speed speed)
{
	struct sim_port *p;
	struct sim_device *dev;

	if (port < 1 || port > sim->nports) {
		sim_log(sim, BU_LOG_ERR, "sim_attach: no root port %u", port);
		return NULL;
	}
	p = sim_p(sim, port);
	if (p->dev) {
		sim_log(sim, BU_LOG_ERR, "sim_attach: root port %u is occupied", port);
		return NULL;
	}
	if (p->usb3 != (speed == SIM_SPEED_SUPER)) {
		sim_log(sim, BU_LOG_ERR, "sim_attach: speed %u on a USB %d root port", speed,
			p->usb3 ? 3 : 2);
		return NULL;
	}
	dev = sim_dev_new(sim, model, speed);
	if (!dev)
		return NULL;
	dev->root_port = port;
	dev->port = port;
	p->dev = dev;
	sim_log(sim, BU_LOG_INFO, "attach %s at root port %u, speed %u", model->name, port, speed);
	sim_port_plugged(sim, port);
	return dev;
}

struct sim_device *sim_attach_hub(struct sim_device *hub, unsigned port,
				  const struct sim_device_model *model, enum sim_speed speed)
{
	struct sim *sim = hub->sim;
	struct sim_device *dev;

	if (!hub->hub || port < 1 || port > hub->model->hub_ports) {
		sim_log(sim, BU_LOG_ERR, "sim_attach_hub: %s has no port %u", hub->model->name, port);
		return NULL;
	}
	if (hub->hub->port[port - 1].dev) {
		sim_log(sim, BU_LOG_ERR, "sim_attach_hub: port %u is occupied", port);
		return NULL;
	}
	if ((hub->model->hub == SIM_HUB_USB3) != (speed == SIM_SPEED_SUPER) ||
	    (hub->speed != SIM_SPEED_HIGH && speed == SIM_SPEED_HIGH)) {
		sim_log(sim, BU_LOG_ERR, "sim_attach_hub: speed %u not possible below %s", speed,
			hub->model->name);
		return NULL;
	}
	if (hub->depth >= 4) {
		sim_log(sim, BU_LOG_ERR, "sim_attach_hub: tier limit");
		return NULL;
	}
	dev = sim_dev_new(sim, model, speed);
	if (!dev)
		return NULL;
	dev->parent = hub;
	dev->port = port;
	dev->root_port = hub->root_port;
	dev->depth = hub->depth + 1;
	dev->needs_reset = true;
	sim_log(sim, BU_LOG_INFO, "attach %s at hub %s port %u, speed %u", model->name,
		hub->model->name, port, speed);
	sim_hub_attach(hub, port, dev);
	return dev;
}

/* The port's device went away (unplugged, or routed to the EHCI): disconnect. */
static void sim_port_gone(struct sim *sim, unsigned port)
{
	struct sim_port *p = sim_p(sim, port);
	bool was = p->sc & (XHCI_PORTSC_CCS | XHCI_PORTSC_PR | XHCI_PORTSC_PED);

	p->pending = SIM_PORT_NONE;
	p->due = SIM_NEVER;
	p->sc &= ~(XHCI_PORTSC_CCS | XHCI_PORTSC_PED | XHCI_PORTSC_PR);
	sim_set_speed(p, 0);
	if (p->sc & XHCI_PORTSC_PP)
		sim_set_pls(p, XHCI_PLS_RXDETECT);
	if (was)
		sim_port_change(sim, port, XHCI_PORTSC_CSC);
}

void sim_port_rerouted(struct sim *sim, unsigned port)
{
	struct sim_port *p = sim_p(sim, port);
	bool routed = sim_port_routed(sim, port);

	if (!p->dev)
		return;
	sim_log(sim, BU_LOG_INFO, "root port %u with %s routed to the %s", port,
		p->dev->model->name, routed ? "xHCI" : "EHCI");
	if (!routed) {
		sim_port_gone(sim, port);
		return;
	}
	sim_dev_bus_reset(p->dev); /* the EHCI's state goes with the move */
	sim_port_plugged(sim, port);
}

void sim_detach(struct sim_device *dev)
{
	struct sim *sim = dev->sim;

	if (dev->hub)
		for (unsigned i = 0; i < 16; i++)
			if (dev->hub->port[i].dev)
				sim_detach(dev->hub->port[i].dev);
	sim_log(sim, BU_LOG_INFO, "detach %s", dev->model->name);
	if (dev->model->detach)
		dev->model->detach(dev);
	if (dev->parent) {
		sim_hub_detach(dev->parent, dev->port);
	} else {
		sim_port_gone(sim, dev->root_port);
		sim_p(sim, dev->root_port)->dev = NULL;
	}
	sim_slot_detach_dev(sim, dev);
	for (struct sim_device **pp = &sim->devices; *pp; pp = &(*pp)->next)
		if (*pp == dev) {
			*pp = dev->next;
			break;
		}
	sim_dev_free(dev);
}

void sim_overcurrent(struct sim *sim, unsigned port, bool on)
{
	struct sim_port *p;

	if (port < 1 || port > sim->nports)
		return;
	p = sim_p(sim, port);
	if (on) {
		p->sc |= XHCI_PORTSC_OCA;
		p->sc &= ~XHCI_PORTSC_PED;
		if (sim->cfg.ppc)
			p->sc &= ~(XHCI_PORTSC_PP | XHCI_PORTSC_CCS);
	} else {
		p->sc &= ~XHCI_PORTSC_OCA;
	}
	sim_port_change(sim, port, XHCI_PORTSC_OCC);
	if (!on) /* a device attached meanwhile is seen now (without PPC) */
		sim_port_detect(sim, port);
}

void sim_link_error(struct sim *sim, unsigned port)
{
	struct sim_port *p;

	if (port < 1 || port > sim->nports || !sim->port[port - 1].usb3)
		return;
	p = sim_p(sim, port);
	p->sc &= ~XHCI_PORTSC_PED;
	sim_set_pls(p, XHCI_PLS_INACTIVE);
	sim_port_change(sim, port, XHCI_PORTSC_PLC);
}

struct sim_device *sim_route(struct sim *sim, unsigned root_port, uint32_t route,
			     const char **why)
{
	struct sim_port *p;
	struct sim_device *dev;

	if (root_port < 1 || root_port > sim->nports) {
		*why = "no such root port";
		return NULL;
	}
	p = sim_p(sim, root_port);
	dev = p->dev;
	if (!dev || !(p->sc & XHCI_PORTSC_CCS)) {
		*why = "nothing connected on the root port";
		return NULL;
	}
	if (!(p->sc & XHCI_PORTSC_PED)) {
		*why = "root port not enabled";
		return NULL;
	}
	if (XHCI_PORTSC_PLS(p->sc) != XHCI_PLS_U0) {
		*why = "root port link not in U0";
		return NULL;
	}
	for (unsigned tier = 0; tier < 5; tier++) {
		unsigned nib = (route >> (4 * tier)) & 0xf;
		if (!nib)
			break;
		if (!dev->hub) {
			*why = "route string goes through a device that is not a hub";
			return NULL;
		}
		if (!dev->config) {
			*why = "route string goes through an unconfigured hub";
			return NULL;
		}
		if (dev->model->hub == SIM_HUB_USB3 &&
		    (!dev->hub->depth_set || dev->hub->depth != dev->depth)) {
			*why = "USB 3 hub has no (or the wrong) hub depth: SET_HUB_DEPTH missing";
			return NULL;
		}
		if (nib > dev->model->hub_ports) {
			*why = "route string names a hub port that does not exist";
			return NULL;
		}
		if (!sim_hub_port_enabled(dev, nib)) {
			*why = "hub port on the route is not enabled";
			return NULL;
		}
		dev = dev->hub->port[nib - 1].dev;
		if (!dev) {
			*why = "nothing connected on the hub port";
			return NULL;
		}
	}
	return dev;
}
