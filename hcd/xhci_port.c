/*
 * xHCI root ports (xHCI 1.2 §4.19, §5.4.8): the Supported Protocol
 * capabilities that say which port speaks USB 2 or USB 3 and at what
 * speeds (§7.2, PSI), PORTSC reads and the one PORTSC write helper that
 * preserves what must be preserved, and the root-port operations the core
 * calls: status, reset, link state and power.
 *
 * Reading order: Supported Protocols and speeds, PORTSC access, the port
 * operations, port power at start, the debug dump.
 */
#include "xhci_priv.h"

#include "bareusb/errors.h"
#include "bareusb/util.h"
#include "xhci_trace.h"

#define XHCI_PORT_POWER_DELAY_US 20000 /* §5.4.8: 20 ms after PP=1 */
/* Linux xhci.c compliance_mode_recovery (XHCI_COMP_MODE_QUIRK): every 2 s. */
#define XHCI_COMPLIANCE_POLL_US 2000000

/* ======================================================================== */
/* Supported Protocols and port speeds (§7.2)                              */
/* ======================================================================== */

void bu_xhci_read_protocols(struct xhci *x)
{
	uintptr_t cap = 0;

	while ((cap = bu_xhci_xcap_find(x, XHCI_XCAP_PROTOCOL, cap)) != 0 &&
	       x->num_protos < XHCI_MAX_PROTOCOLS) {
		struct xhci_protocol *p = &x->protos[x->num_protos];
		uint32_t d0 = xhci_rd32(x, cap), d2 = xhci_rd32(x, cap + 8);
		uint32_t d3 = xhci_rd32(x, cap + 12);
		unsigned psic = XHCI_PROTO_PSIC(d2);

		p->major = (uint8_t)XHCI_PROTO_MAJOR(d0);
		p->minor = (uint8_t)XHCI_PROTO_MINOR(d0);
		p->slot_type = (uint8_t)XHCI_PROTO_SLOT_TYPE(d3);
		p->first_port = (uint8_t)XHCI_PROTO_PORT_OFF(d2);
		p->num_ports = (uint8_t)XHCI_PROTO_PORT_COUNT(d2);
		p->num_psi = (uint8_t)BU_MIN(psic, (unsigned)XHCI_MAX_PSI);
		for (unsigned i = 0; i < p->num_psi; i++)
			p->psi[i] = xhci_rd32(x, cap + 16 + 4 * i);
		for (unsigned i = 0; i < p->num_ports; i++) {
			unsigned port = p->first_port + i;

			if (port >= 1 && port <= x->max_ports)
				x->port_proto[port] = (uint8_t)(x->num_protos + 1);
		}
		bu_xhci_log(x, BU_LOG_DEBUG, "USB %x.%02x ports %u-%u slot type %u, %u PSI",
			    p->major, p->minor, p->first_port,
			    p->first_port + p->num_ports - 1, p->slot_type, p->num_psi);
		x->num_protos++;
	}
}

const struct xhci_protocol *bu_xhci_port_protocol(struct xhci *x, unsigned port)
{
	if (port < 1 || port > x->max_ports || !x->port_proto[port])
		return NULL;
	return &x->protos[x->port_proto[port] - 1];
}

/** Speed of one Protocol Speed ID dword of a USB `major` protocol (§7.2.1). */
static enum bu_usb_speed psi_speed(unsigned major, uint32_t psi)
{
	uint64_t bps = XHCI_PSI_PSIM(psi);

	for (unsigned e = 0; e < XHCI_PSI_PSIE(psi); e++)
		bps *= 1000;
	if (major >= 3)
		return (XHCI_PSI_LP(psi) || bps > 5000000000ull) ? BU_SPEED_SUPER_PLUS
								 : BU_SPEED_SUPER;
	if (bps <= 1500000)
		return BU_SPEED_LOW;
	if (bps <= 12000000)
		return BU_SPEED_FULL;
	return BU_SPEED_HIGH;
}

/**
 * Speed of a PORTSC Port Speed value on `port`: from the protocol's PSI
 * table when it has one (§7.2.1), else the default mapping (§7.2.2.1.1),
 * which is also what controllers with a bogus table get (the broken-PSI
 * quirk).
 */
static enum bu_usb_speed port_speed(struct xhci *x, unsigned port, unsigned psiv)
{
	const struct xhci_protocol *p = bu_xhci_port_protocol(x, port);

	if (p && p->num_psi && !(x->quirks & BU_XHCI_QUIRK_BROKEN_PSI)) {
		for (unsigned i = 0; i < p->num_psi; i++)
			if (XHCI_PSI_PSIV(p->psi[i]) == psiv)
				return psi_speed(p->major, p->psi[i]);
	}
	switch (psiv) {
	case 1: return BU_SPEED_FULL;
	case 2: return BU_SPEED_LOW;
	case 3: return BU_SPEED_HIGH;
	case 4: return BU_SPEED_SUPER;
	case 5: case 6: case 7: return BU_SPEED_SUPER_PLUS;
	default: return BU_SPEED_UNKNOWN;
	}
}

/* ======================================================================== */
/* PORTSC (§5.4.8)                                                          */
/* ======================================================================== */

/**
 * Write PORTSC preserving what must be preserved (§4.19.2): never write the
 * read value back (PED is RW1C and the change bits are RW1C).
 */
static void portsc_write(struct xhci *x, unsigned port, uint32_t cur,
			 uint32_t set)
{
	if (xhci_tracing(x, BU_XHCI_TRACE_PORT, 0, 0)) {
		char buf[160];

		bu_xhci_portsc_decode((cur & XHCI_PORTSC_PRESERVE) | set, buf, sizeof(buf));
		bu_xhci_log(x, BU_LOG_TRACE, "port %u: write %s", port, buf);
	}
	xhci_op_wr(x, XHCI_OP_PORTSC(port), (cur & XHCI_PORTSC_PRESERVE) | set);
}

/** PORTSC of a valid port; BU_ENODEV when the controller is gone (all ones). */
static int portsc_read(struct xhci *x, unsigned port, uint32_t *v)
{
	if (port < 1 || port > x->max_ports)
		return BU_EINVAL;
	*v = xhci_op_rd(x, XHCI_OP_PORTSC(port));
	return *v == 0xffffffffu ? BU_ENODEV : 0;
}

/**
 * A USB 3 port stuck in Compliance Mode on a part that does not set CAS
 * for it (BU_XHCI_QUIRK_MISSING_CAS): PLS=Compliance with CCS=0 and no
 * reset running. Only a warm reset brings the link back (xHCI 1.2 §5.4.8
 * PORTSC.CAS and PLS; USB 3.2 §7.5.2); a part with CAS reports it there.
 * Linux's xhci_port_missing_cas_quirk also takes Polling at resume; here a
 * port polls while it trains, so only Compliance counts.
 */
static bool port_stuck_in_compliance(struct xhci *x, unsigned port, uint32_t v)
{
	const struct xhci_protocol *p = bu_xhci_port_protocol(x, port);

	return (x->quirks & BU_XHCI_QUIRK_MISSING_CAS) && p && p->major >= 3 &&
	       XHCI_PORTSC_PLS(v) == XHCI_PLS_COMPLIANCE &&
	       !(v & (XHCI_PORTSC_CCS | XHCI_PORTSC_CAS | XHCI_PORTSC_PR | XHCI_PORTSC_WPR));
}

/* ======================================================================== */
/* Root-port operations                                                     */
/* ======================================================================== */

int bu_xhci_port_status(struct bu_usb_bus *bus, unsigned port,
			struct bu_usb_port_status *st)
{
	struct xhci *x = bus_xhci(bus);
	const struct xhci_protocol *p;
	uint32_t v;
	int rc;

	rc = portsc_read(x, port, &v);
	if (rc)
		return rc;
	p = bu_xhci_port_protocol(x, port);
	st->connected = (v & XHCI_PORTSC_CCS) != 0;
	st->connect_changed = (v & XHCI_PORTSC_CSC) != 0;
	st->enabled = (v & XHCI_PORTSC_PED) != 0;
	st->resetting = (v & (XHCI_PORTSC_PR | XHCI_PORTSC_WPR)) != 0;
	st->overcurrent = (v & XHCI_PORTSC_OCA) != 0;
	st->changed = (v & XHCI_PORTSC_CHANGE_MASK) != 0;
	st->usb3 = p && p->major >= 3;
	st->speed = port_speed(x, port, XHCI_PORTSC_SPEED(v));
	st->link = (uint8_t)XHCI_PORTSC_PLS(v);
	if (port_stuck_in_compliance(x, port, v)) {
		/* A device is there that the port never reported: hand it to
		 * the core as a new connection that is not enabled, which
		 * USB 3 root ports answer with a warm reset (Linux xhci-hub.c
		 * fakes the connection the same way). */
		bu_xhci_log(x, BU_LOG_WARN, "port %u: Compliance Mode without CAS, warm reset", port);
		st->connected = st->connect_changed = true;
	}
	if (xhci_tracing(x, BU_XHCI_TRACE_PORT, 0, 0) || (v & XHCI_PORTSC_CHANGE_MASK)) {
		char buf[160];

		bu_xhci_portsc_decode(v, buf, sizeof(buf));
		bu_xhci_log(x, BU_LOG_DEBUG, "port %u: %s", port, buf);
	}
	if (v & XHCI_PORTSC_CHANGE_MASK)
		portsc_write(x, port, v, v & XHCI_PORTSC_CHANGE_MASK);
	return 0;
}

int bu_xhci_port_reset(struct bu_usb_bus *bus, unsigned port, bool warm)
{
	struct xhci *x = bus_xhci(bus);
	const struct xhci_protocol *p = bu_xhci_port_protocol(x, port);
	uint32_t v;
	int rc;

	rc = portsc_read(x, port, &v);
	if (rc)
		return rc;
	if (warm && !(p && p->major >= 3))
		warm = false; /* WPR is reserved on USB 2 ports */
	portsc_write(x, port, v, warm ? XHCI_PORTSC_WPR : XHCI_PORTSC_PR);
	return 0;
}

int bu_xhci_port_set_link(struct bu_usb_bus *bus, unsigned port,
			  enum bu_usb_link link)
{
	struct xhci *x = bus_xhci(bus);
	uint32_t v;
	int rc;

	rc = portsc_read(x, port, &v);
	if (rc)
		return rc;
	if (!(v & XHCI_PORTSC_PED))
		return BU_EINVAL;
	portsc_write(x, port, v, XHCI_PORTSC_LWS | XHCI_PORTSC_PLS_SET(link));
	return 0;
}

/** Set PP on a switchable port the xHC powered off (§4.19.4, §5.4.8). */
int bu_xhci_port_power(struct bu_usb_bus *bus, unsigned port)
{
	struct xhci *x = bus_xhci(bus);
	uint32_t v;
	int rc;

	if (!(x->hccparams1 & XHCI_HCCPARAMS1_PPC))
		return BU_ENOTSUP;
	rc = portsc_read(x, port, &v);
	if (rc)
		return rc;
	if (v & XHCI_PORTSC_OCA)
		return BU_EBUSY;
	if (v & XHCI_PORTSC_PP)
		return BU_ENOTSUP;
	portsc_write(x, port, v, XHCI_PORTSC_PP);
	return 0;
}

/* ======================================================================== */
/* Start-up and diagnostics                                                 */
/* ======================================================================== */

/** Only switchable ports (HCCPARAMS1.PPC) can be off (§4.19.4). */
void bu_xhci_ports_power_on(struct xhci *x)
{
	bool powered = false;

	if (!(x->hccparams1 & XHCI_HCCPARAMS1_PPC))
		return;
	for (unsigned p = 1; p <= x->max_ports; p++) {
		uint32_t v = xhci_op_rd(x, XHCI_OP_PORTSC(p));

		if (!(v & XHCI_PORTSC_PP)) {
			portsc_write(x, p, v, XHCI_PORTSC_PP);
			powered = true;
		}
	}
	if (powered)
		bu_xhci_udelay(x, XHCI_PORT_POWER_DELAY_US);
}

void bu_xhci_ports_poll(struct xhci *x)
{
	uint64_t now;

	if (!(x->quirks & BU_XHCI_QUIRK_MISSING_CAS) || x->failed)
		return;
	now = xhci_now_us(x);
	if (now < x->compliance_poll_us)
		return;
	x->compliance_poll_us = now + XHCI_COMPLIANCE_POLL_US;
	for (unsigned port = 1; port <= x->max_ports; port++) {
		uint32_t v;

		if (!portsc_read(x, port, &v) && port_stuck_in_compliance(x, port, v))
			bu_usb_bus_port_changed(&x->bus, port);
	}
}
