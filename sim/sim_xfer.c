/*
 * sim transfer rings (xHCI §4.9-§4.11, §4.14): doorbells, TD fetch with Link
 * TRBs (Toggle Cycle), Normal / Setup / Data / Status / Isoch / Event Data /
 * No-Op TRBs, chain bit, IOC, ISP, IDT, BEI, TD Size (as xHCI 1.0 or 0.96
 * counts it), 64 KiB rule, TD fragments at Link TRBs; one USB
 * packet at a time against the device model, with per-packet time, NAK
 * retry, CErr-counted transaction errors, STALL and babble halting the
 * endpoint, short packets with the right events and residues, periodic
 * service intervals, Stop Endpoint.
 */
#include <stdlib.h>
#include <string.h>

#include "xhci_trace.h"
#include "sim_priv.h"

#define SIM_TD_MAX 4096

/* ------------------------------------------------------------------------ */
/* Active list, engine state                                                */

void sim_ep_activate(struct sim *sim, unsigned s, unsigned dci, uint64_t when)
{
	struct sim_ep *ep = &sim->slot[s].ep[dci];

	if (!ep->active) {
		ep->active = true;
		sim->active[sim->nactive++] = (uint16_t)(s << 8 | dci);
		ep->due = SIM_NEVER;
	}
	if (when < ep->due)
		sim_schedule(sim, &ep->due, when);
}

void sim_ep_deactivate(struct sim *sim, unsigned s, unsigned dci)
{
	struct sim_ep *ep = &sim->slot[s].ep[dci];
	uint16_t key = (uint16_t)(s << 8 | dci);

	ep->due = SIM_NEVER;
	if (!ep->active)
		return;
	ep->active = false;
	for (unsigned i = 0; i < sim->nactive; i++)
		if (sim->active[i] == key) {
			sim->active[i] = sim->active[--sim->nactive];
			break;
		}
}

void sim_ep_reset_engine(struct sim_ep *ep)
{
	ep->td_n = 0;
	ep->td_live = false;
	ep->cur = 0;
	ep->cur_off = 0;
	ep->td_len = ep->td_done = 0;
	ep->edtla = 0;
	ep->errs = 0;
	ep->ctrl_stage = 0;
	ep->short_seen = false;
	ep->pkts_this_esit = 0;
	ep->idle_reported = false;
	ep->frame_due = false;
	ep->missed_n = 0;
}

static unsigned sim_xtype(const struct sim_ep *ep)
{
	return ep->type == XHCI_EPT_CONTROL ? SIM_EP_CONTROL : ep->type & 3;
}

static bool sim_ep_in(const struct sim_ep *ep)
{
	return ep->type >= XHCI_EPT_CONTROL;
}

/* The endpoint the current TD's stage talks to, bit 7 its direction: a
 * control TD's Setup is OUT, its data stage goes the request's way and its
 * status stage the other way (IN when there is no data stage). */
static uint8_t sim_td_ep(const struct sim_ep *ep, unsigned dci)
{
	uint8_t num = (uint8_t)(dci / 2);
	bool in, data;

	if (sim_xtype(ep) != SIM_EP_CONTROL || !ep->td_n)
		return bu_xhci_dci_ep_address(dci);
	in = ep->td[0].dw[0] & 0x80;
	data = (ep->td[0].dw[1] >> 16) != 0;
	if (ep->ctrl_stage == 0)
		return num;
	if (ep->ctrl_stage == 1)
		return (uint8_t)(num | (in ? 0x80 : 0));
	return (uint8_t)(num | (data && in ? 0 : 0x80));
}

/* Time on the wire for one packet. */
static uint64_t sim_packet_ns(enum sim_speed sp, unsigned bytes)
{
	switch (sp) {
	case SIM_SPEED_LOW:
		return 20000 + bytes * 5333ull;
	case SIM_SPEED_FULL:
		return 5000 + bytes * 667ull;
	case SIM_SPEED_HIGH:
		return 1000 + bytes * 17ull;
	default:
		return 500 + bytes * 2ull;
	}
}

static uint64_t sim_period_ns(const struct sim_ep *ep)
{
	return 125000ull << (ep->interval > 15 ? 15 : ep->interval);
}

/* ------------------------------------------------------------------------ */
/* Events                                                                   */

void sim_xfer_event(struct sim *sim, unsigned s, unsigned dci, uint64_t ptr, uint32_t len,
		    unsigned cc, bool ed, unsigned intr, bool bei)
{
	uint32_t ev[4] = { (uint32_t)ptr, (uint32_t)(ptr >> 32),
			   ((uint32_t)cc << 24) | (len & 0xffffff),
			   XHCI_TRB_TYPE_SET(XHCI_TRB_TRANSFER_EVENT) | XHCI_TRB_SLOT(s) |
				   XHCI_TRB_EP(dci) | (ed ? XHCI_TRB_ED : 0) };
	sim_event_post(sim, intr < sim->nintrs ? intr : 0, ev, bei);
}

static void sim_trb_event(struct sim *sim, unsigned s, unsigned dci, const struct sim_td_trb *t,
			  uint32_t residual, unsigned cc)
{
	bool bei = (t->dw[3] & XHCI_TRB_BEI) && cc == XHCI_CC_SUCCESS;

	sim_xfer_event(sim, s, dci, t->addr, residual, cc, false, t->dw[2] >> 22, bei);
}

static bool sim_is_xfer_trb(unsigned type)
{
	return type == XHCI_TRB_NORMAL || type == XHCI_TRB_DATA || type == XHCI_TRB_ISOCH;
}

/* ------------------------------------------------------------------------ */
/* TD fetch and TRB checks                                                  */

static bool sim_td_push(struct sim_ep *ep, uint64_t addr, const uint32_t dw[4], bool ccs)
{
	if (ep->td_n == ep->td_cap) {
		ep->td_cap = ep->td_cap ? ep->td_cap * 2 : 16;
		ep->td = realloc(ep->td, ep->td_cap * sizeof(*ep->td));
		if (!ep->td)
			abort();
	}
	ep->td[ep->td_n].addr = addr;
	memcpy(ep->td[ep->td_n].dw, dw, 16);
	/* keep the consumer cycle state in the reserved-for-us bit 0 of a copy */
	ep->td[ep->td_n].dw[3] = (dw[3] & ~XHCI_TRB_C) | (ccs ? 1u : 0u);
	ep->td_n++;
	return ep->td_n <= SIM_TD_MAX;
}

/* Validate one TRB of a TD; returns false (and a violation) on a TRB Error. */
static bool sim_check_trb(struct sim *sim, unsigned s, unsigned dci, const struct sim_ep *ep,
			  const struct sim_td_trb *t, unsigned idx)
{
	unsigned type = XHCI_TRB_TYPE(t->dw[3]);
	unsigned xt = sim_xtype(ep);
	uint32_t len = XHCI_TRB_LEN(t->dw[2]);
	uint64_t buf = sim_rd64(t->dw);
	bool ok_type;

#define SIM_TRBERR(fmt, ...)                                                      \
	do {                                                                      \
		sim_violation_add(sim, "slot %u DCI %u TRB @%#llx: " fmt, s, dci,  \
				  (unsigned long long)t->addr, ##__VA_ARGS__);    \
		return false;                                                     \
	} while (0)
	switch (type) {
	case XHCI_TRB_SETUP:
		ok_type = xt == SIM_EP_CONTROL && idx == 0;
		break;
	case XHCI_TRB_DATA:
	case XHCI_TRB_STATUS:
		ok_type = xt == SIM_EP_CONTROL && idx > 0;
		break;
	case XHCI_TRB_ISOCH:
		ok_type = xt == SIM_EP_ISOCH && idx == 0;
		break;
	case XHCI_TRB_NORMAL:
		ok_type = xt != SIM_EP_CONTROL ? (xt != SIM_EP_ISOCH || idx > 0) : idx > 1;
		break;
	case XHCI_TRB_EVENT_DATA:
	case XHCI_TRB_NOOP:
		ok_type = true;
		break;
	default:
		ok_type = false;
	}
	if (!ok_type)
		SIM_TRBERR("%s TRB not allowed here (TD position %u, endpoint type %u)",
			   bu_xhci_trb_type_name(type), idx, ep->type);
	if ((t->dw[2] >> 22) >= sim->nintrs)
		SIM_TRBERR("Interrupter Target %u >= MaxIntrs",
			   t->dw[2] >> 22);
	if ((t->dw[3] & XHCI_TRB_BEI) && type != XHCI_TRB_NORMAL && type != XHCI_TRB_ISOCH &&
	    type != XHCI_TRB_EVENT_DATA)
		SIM_TRBERR("BEI set on a %s TRB",
			   bu_xhci_trb_type_name(type));
	if (!sim_is_xfer_trb(type))
		return true;
	if (t->dw[3] & XHCI_TRB_IDT) {
		bool in = type == XHCI_TRB_DATA ? (t->dw[3] & XHCI_TRB_DIR_IN) : sim_ep_in(ep);
		if (in)
			SIM_TRBERR("IDT on an IN transfer");
		if (len > 8)
			SIM_TRBERR("IDT with length %u > 8", len);
		return true;
	}
	if (len > 65536)
		SIM_TRBERR("length %u > 64 KiB", len);
	if (len && (buf >> 16) != ((buf + len - 1) >> 16))
		SIM_TRBERR("buffer %#llx+%u crosses a 64 KiB boundary (xHCI §6.4.1)",
			   (unsigned long long)buf, len);
#undef SIM_TRBERR
	return true;
}

/*
 * TD Size (xHCI §4.11.2.4) for a TRB of `len` bytes with `before` bytes of a
 * `total`-byte TD ahead of it: from xHCI 1.0 the packets left after it (0 on
 * the TD's last TRB); before 1.0 the KiB left, this TRB included.
 */
static uint64_t sim_want_td_size(const struct sim *sim, const struct sim_ep *ep, uint64_t total,
				 uint64_t before, uint32_t len, bool last)
{
	uint64_t want;

	if (sim->cfg.hci_version < 0x100)
		want = (total - before) >> 10;
	else
		want = last ? 0 : (total + ep->mps - 1) / ep->mps - (before + len) / ep->mps;
	return want > 31 ? 31 : want;
}

/* TD Size of every transfer TRB in [from, to). */
static void sim_check_td_size(struct sim *sim, unsigned s, unsigned dci, struct sim_ep *ep,
			      unsigned from, unsigned to)
{
	uint64_t total = 0, cum = 0;
	unsigned last = to;

	for (unsigned i = from; i < to; i++)
		if (sim_is_xfer_trb(XHCI_TRB_TYPE(ep->td[i].dw[3]))) {
			total += XHCI_TRB_LEN(ep->td[i].dw[2]);
			last = i;
		}
	for (unsigned i = from; i < to; i++) {
		const struct sim_td_trb *t = &ep->td[i];
		if (!sim_is_xfer_trb(XHCI_TRB_TYPE(t->dw[3])))
			continue;
		uint32_t len = XHCI_TRB_LEN(t->dw[2]);
		uint64_t want = sim_want_td_size(sim, ep, total, cum, len, i == last);
		unsigned got = (t->dw[2] >> 17) & 0x1f;
		cum += len;
		if (got != want) {
			sim_violation_add(sim, "slot %u DCI %u TRB @%#llx: TD Size %u, expected %llu (TD %llu bytes, %llu up to here, MPS %u; %s)",
					  s, dci, (unsigned long long)t->addr, got,
					  (unsigned long long)want, (unsigned long long)total,
					  (unsigned long long)cum, ep->mps,
					  sim->cfg.hci_version < 0x100
						  ? "xHCI 0.96: KiB left in the TD, this TRB included"
						  : "xHCI 1.0: packets left after this TRB");
			return;
		}
	}
}

/*
 * Whether this controller follows a Link TRB of the ring only with CH set,
 * between TDs too: every ring of an xHCI 0.95 part, the isochronous rings
 * with sim_config.isoc_link_chain (AMD 0.96).
 */
static bool sim_link_needs_ch(const struct sim *sim, const struct sim_ep *ep)
{
	return sim->cfg.hci_version < 0x0096 ||
	       (sim->cfg.isoc_link_chain && sim_xtype(ep) == SIM_EP_ISOCH);
}

/*
 * Check a Link TRB at `at` met while fetching a TD (`chained`: inside one).
 * Returns false when the controller ends the TD at it (a Link TRB without
 * the CH it needs).
 */
static bool sim_check_link(struct sim *sim, unsigned s, unsigned dci, const struct sim_ep *ep,
			   uint64_t at, const uint32_t t[4], bool chained)
{
	if (t[0] & 0xf)
		sim_violation_add(sim, "slot %u DCI %u: Link TRB @%#llx target %#llx not 16-byte aligned",
				  s, dci, (unsigned long long)at, (unsigned long long)sim_rd64(t));
	if (t[3] & XHCI_TRB_CH)
		return true;
	if (sim_link_needs_ch(sim, ep)) {
		sim_violation_add(sim, "slot %u DCI %u: Link TRB @%#llx without CH, which %s needs on every Link TRB%s",
				  s, dci, (unsigned long long)at,
				  sim->cfg.hci_version < 0x0096 ? "an xHCI 0.95 controller"
								 : "this isochronous ring (AMD 0.96)",
				  chained ? "; the TD ends there" : "");
		return !chained;
	}
	if (chained)
		sim_violation_add(sim, "slot %u DCI %u: Link TRB @%#llx inside a TD without CH",
				  s, dci, (unsigned long long)at);
	return true;
}

/*
 * The TD goes on with data past the Link TRB at `link`: only at the end of
 * a TD fragment, a whole number of Max Burst Payloads (Max Packet Size x
 * (Max Burst + 1)) before it (xHCI 1.2 §4.11.7.1). The TD's last fetched
 * TRB is the first data TRB after the Link.
 */
static void sim_check_fragment(struct sim *sim, unsigned s, unsigned dci, const struct sim_ep *ep,
			       uint64_t link)
{
	uint64_t bytes = 0, mbp = (uint64_t)ep->mps * (ep->burst + 1u);

	for (unsigned i = 0; i + 1 < ep->td_n; i++)
		if (sim_is_xfer_trb(XHCI_TRB_TYPE(ep->td[i].dw[3])))
			bytes += XHCI_TRB_LEN(ep->td[i].dw[2]);
	if (mbp && bytes % mbp)
		sim_violation_add(sim, "slot %u DCI %u: TD goes on past the Link TRB @%#llx after %llu bytes, not a multiple of its TD fragment, %llu bytes (xHCI 1.2 §4.11.7.1)",
				  s, dci, (unsigned long long)link, (unsigned long long)bytes,
				  (unsigned long long)mbp);
}

/* Whether the fetched TD holds No-Op and Event Data TRBs only (§6.4.1.4). */
static bool sim_td_aux_only(const struct sim_ep *ep)
{
	for (unsigned i = 0; i < ep->td_n; i++) {
		unsigned ty = XHCI_TRB_TYPE(ep->td[i].dw[3]);
		if (ty != XHCI_TRB_NOOP && ty != XHCI_TRB_EVENT_DATA)
			return false;
	}
	return true;
}

static void sim_ep_error_state(struct sim *sim, unsigned s, unsigned dci, uint64_t ptr,
			       unsigned intr)
{
	struct sim_ep *ep = &sim->slot[s].ep[dci];

	sim_xfer_event(sim, s, dci, ptr, 0, XHCI_CC_TRB, false, intr, false);
	ep->state = XHCI_EP_STATE_ERROR;
	sim_ep_reset_engine(ep);
	sim_ep_deactivate(sim, s, dci);
	sim_write_out_ep(sim, s, dci);
}

/* Fetch the next TD: 1 = ready, 0 = ring empty / TD incomplete, -1 = error. */
static int sim_fetch_td(struct sim *sim, unsigned s, unsigned dci)
{
	struct sim_ep *ep = &sim->slot[s].ep[dci];
	uint64_t deq = ep->deq;
	bool ccs = ep->ccs, control = sim_xtype(ep) == SIM_EP_CONTROL;
	unsigned links = 0;
	bool chained = false, seen_status = false;
	uint64_t link_at = 0; /* a Link TRB inside the TD, no data after it yet */
	uint32_t t[4];

	ep->td_n = 0;
	for (;;) {
		if (!sim_dma_read(sim, deq, t, 16, "transfer ring TRB"))
			return -1;
		sim_trb_readahead(sim, deq);
		if ((t[3] & XHCI_TRB_C) != (ccs ? 1u : 0u))
			return 0;
		unsigned type = XHCI_TRB_TYPE(t[3]);
		if (type == XHCI_TRB_LINK) {
			sim_trace_trb(sim, "xfer fetch", deq, t);
			if (++links > 32) {
				sim_hc_error(sim, "more than 32 consecutive Link TRBs on a transfer ring");
				return -1;
			}
			bool go_on = sim_check_link(sim, s, dci, ep, deq, t, chained);
			if (chained)
				link_at = deq;
			if (t[3] & XHCI_TRB_TC)
				ccs = !ccs;
			deq = sim_rd64(t) & ~0xfull;
			if (!go_on)
				break;
			continue;
		}
		links = 0;
		sim_trace_trb(sim, "xfer fetch", deq, t);
		if (!sim_td_push(ep, deq, t, ccs)) {
			sim_violation_add(sim, "slot %u DCI %u: TD longer than %u TRBs", s, dci, SIM_TD_MAX);
			sim_ep_error_state(sim, s, dci, deq, 0);
			return -1;
		}
		deq += 16;
		if (link_at && sim_is_xfer_trb(type) && XHCI_TRB_LEN(t[2])) {
			sim_check_fragment(sim, s, dci, ep, link_at);
			link_at = 0;
		}
		if (control) {
			if (type == XHCI_TRB_NOOP && ep->td_n == 1 && !(t[3] & XHCI_TRB_CH))
				break; /* an unchained No-Op is a TD of its own */
			if (type == XHCI_TRB_STATUS)
				seen_status = true;
			if (type == XHCI_TRB_SETUP || !seen_status || (t[3] & XHCI_TRB_CH)) {
				chained = type != XHCI_TRB_SETUP && (t[3] & XHCI_TRB_CH);
				continue;
			}
			break;
		}
		if (!(t[3] & XHCI_TRB_CH))
			break;
		chained = true;
	}
	ep->next_deq = deq;
	ep->next_ccs = ccs;
	/* Per-TRB checks. */
	for (unsigned i = 0; i < ep->td_n; i++)
		if (!sim_check_trb(sim, s, dci, ep, &ep->td[i], i)) {
			sim_ep_error_state(sim, s, dci, ep->td[i].addr, ep->td[i].dw[2] >> 22);
			return -1;
		}
	ep->td_len = 0;
	for (unsigned i = 0; i < ep->td_n; i++)
		if (sim_is_xfer_trb(XHCI_TRB_TYPE(ep->td[i].dw[3])))
			ep->td_len += XHCI_TRB_LEN(ep->td[i].dw[2]);
	if (control && !sim_td_aux_only(ep)) {
		const uint32_t *st = ep->td[0].dw;
		unsigned trt = (st[3] >> 16) & 3;
		bool in = st[0] & 0x80;
		uint16_t wlen = (uint16_t)(st[1] >> 16);
		bool has_data = false, data_in = false;
		unsigned status_dir = 2;
		if (!(st[3] & XHCI_TRB_IDT) || XHCI_TRB_LEN(st[2]) != 8) {
			sim_violation_add(sim, "slot %u DCI %u: Setup TRB @%#llx needs IDT=1 and length 8",
					  s, dci, (unsigned long long)ep->td[0].addr);
			sim_ep_error_state(sim, s, dci, ep->td[0].addr, st[2] >> 22);
			return -1;
		}
		for (unsigned i = 1; i < ep->td_n; i++) {
			unsigned ty = XHCI_TRB_TYPE(ep->td[i].dw[3]);
			if (ty == XHCI_TRB_DATA) {
				has_data = true;
				data_in = ep->td[i].dw[3] & XHCI_TRB_DIR_IN;
			}
			if (ty == XHCI_TRB_STATUS)
				status_dir = (ep->td[i].dw[3] & XHCI_TRB_DIR_IN) ? 1 : 0;
		}
		unsigned want_trt = wlen == 0 ? XHCI_TRT_NO_DATA : in ? XHCI_TRT_IN : XHCI_TRT_OUT;
		if (trt != want_trt || has_data != (wlen != 0)) {
			sim_violation_add(sim, "slot %u DCI %u: Setup TRB @%#llx TRT %u / data stage %s for bmRequestType %#04x wLength %u",
					  s, dci, (unsigned long long)ep->td[0].addr, trt,
					  has_data ? "present" : "absent", st[0] & 0xff, wlen);
			sim_ep_error_state(sim, s, dci, ep->td[0].addr, st[2] >> 22);
			return -1;
		}
		if (has_data && data_in != in)
			sim_violation_add(sim, "slot %u DCI %u: Data Stage DIR=%s but the request is %s",
					  s, dci, data_in ? "IN" : "OUT", in ? "IN" : "OUT");
		if (status_dir != (has_data && in ? 0u : 1u))
			sim_violation_add(sim, "slot %u DCI %u: Status Stage DIR=%s, must be %s (xHCI §4.11.2.2)",
					  s, dci, status_dir ? "IN" : "OUT", has_data && in ? "OUT" : "IN");
		if (has_data && ep->td_len != wlen)
			sim_violation_add(sim, "slot %u DCI %u: data stage of %llu bytes for wLength %u",
					  s, dci, (unsigned long long)ep->td_len, wlen);
		sim_check_td_size(sim, s, dci, ep, 1, ep->td_n);
	} else {
		sim_check_td_size(sim, s, dci, ep, 0, ep->td_n);
	}
	ep->td_live = true;
	ep->cur = 0;
	ep->cur_off = 0;
	ep->td_done = 0;
	ep->errs = 0;
	ep->ctrl_stage = 0;
	ep->short_seen = false;
	return 1;
}

/* ------------------------------------------------------------------------ */
/* Completion helpers                                                       */

static void sim_td_finish(struct sim *sim, unsigned s, unsigned dci)
{
	struct sim_ep *ep = &sim->slot[s].ep[dci];

	ep->deq = ep->next_deq;
	ep->ccs = ep->next_ccs;
	ep->td_live = false;
	ep->td_n = 0;
	ep->frame_due = false;
}

static void sim_ep_halt(struct sim *sim, unsigned s, unsigned dci, unsigned cc)
{
	struct sim_ep *ep = &sim->slot[s].ep[dci];
	struct sim_td_trb *t = &ep->td[ep->cur < ep->td_n ? ep->cur : ep->td_n - 1];
	uint32_t len = sim_is_xfer_trb(XHCI_TRB_TYPE(t->dw[3])) ? XHCI_TRB_LEN(t->dw[2]) : 0;

	sim_trb_event(sim, s, dci, t, len > ep->cur_off ? len - ep->cur_off : 0, cc);
	if (sim_xtype(ep) == SIM_EP_ISOCH)
		return;
	/* A STALL handshake ends the split; an error leaves it pending. */
	if (cc != XHCI_CC_STALL && sim->slot[s].dev)
		sim_tt_abandon(sim->slot[s].dev, sim_td_ep(ep, dci), sim_xtype(ep));
	/* The transfer state stays for a soft retry (sim_ep_reset). */
	ep->state = XHCI_EP_STATE_HALTED;
	ep->deq = t->addr;
	ep->ccs = t->dw[3] & 1;
	sim_ep_deactivate(sim, s, dci);
	sim_write_out_ep(sim, s, dci);
	sim_log(sim, BU_LOG_INFO, "slot %u DCI %u halted: %s", s, dci, bu_xhci_cc_name(cc));
}

/* Pass non-transfer TRBs (Event Data, No-Op) at the current position. */
static void sim_pass_aux(struct sim *sim, unsigned s, unsigned dci, unsigned cc)
{
	struct sim_ep *ep = &sim->slot[s].ep[dci];

	while (ep->cur < ep->td_n) {
		struct sim_td_trb *t = &ep->td[ep->cur];
		unsigned type = XHCI_TRB_TYPE(t->dw[3]);
		if (type == XHCI_TRB_EVENT_DATA) {
			if (t->dw[3] & XHCI_TRB_IOC)
				sim_xfer_event(sim, s, dci, sim_rd64(t->dw), ep->edtla, cc, true,
					       t->dw[2] >> 22, t->dw[3] & XHCI_TRB_BEI);
			ep->edtla = 0;
		} else if (type == XHCI_TRB_NOOP) {
			if (t->dw[3] & XHCI_TRB_IOC)
				sim_trb_event(sim, s, dci, t, 0, XHCI_CC_SUCCESS);
		} else {
			return;
		}
		ep->cur++;
		ep->cur_off = 0;
	}
}

/* A transfer TRB completed in full: IOC event, move on. */
static void sim_trb_done(struct sim *sim, unsigned s, unsigned dci)
{
	struct sim_ep *ep = &sim->slot[s].ep[dci];
	struct sim_td_trb *t = &ep->td[ep->cur];

	if (t->dw[3] & XHCI_TRB_IOC)
		sim_trb_event(sim, s, dci, t, 0, XHCI_CC_SUCCESS);
	ep->cur++;
	ep->cur_off = 0;
	sim_pass_aux(sim, s, dci, XHCI_CC_SUCCESS);
}

/* Index of the last transfer TRB of the current stage/TD from `from`. */
static unsigned sim_last_xfer(const struct sim_ep *ep, unsigned from)
{
	unsigned last = from;

	for (unsigned i = from; i < ep->td_n; i++) {
		unsigned ty = XHCI_TRB_TYPE(ep->td[i].dw[3]);
		if (ty == XHCI_TRB_STATUS)
			break;
		if (sim_is_xfer_trb(ty))
			last = i;
	}
	return last;
}

/* A short packet ended the data at the current TRB (xHCI §4.10.1.1). */
static void sim_short(struct sim *sim, unsigned s, unsigned dci)
{
	struct sim_ep *ep = &sim->slot[s].ep[dci];
	unsigned last = sim_last_xfer(ep, ep->cur);
	struct sim_td_trb *t = &ep->td[ep->cur];
	uint32_t residual = XHCI_TRB_LEN(t->dw[2]) - ep->cur_off;
	bool reported = false;

	if (t->dw[3] & XHCI_TRB_ISP) {
		sim_trb_event(sim, s, dci, t, residual, XHCI_CC_SHORT_PACKET);
		reported = true;
	}
	for (unsigned i = ep->cur; i <= last; i++) {
		struct sim_td_trb *u = &ep->td[i];
		unsigned ty = XHCI_TRB_TYPE(u->dw[3]);
		if (ty == XHCI_TRB_EVENT_DATA && (u->dw[3] & XHCI_TRB_IOC)) {
			sim_xfer_event(sim, s, dci, sim_rd64(u->dw), ep->edtla, XHCI_CC_SHORT_PACKET, true,
				       u->dw[2] >> 22, false);
			ep->edtla = 0;
			reported = true;
		}
	}
	struct sim_td_trb *l = &ep->td[last];
	if (l->dw[3] & XHCI_TRB_IOC) {
		if (!reported)
			sim_trb_event(sim, s, dci, l, (uint32_t)(ep->td_len - ep->td_done),
				      XHCI_CC_SHORT_PACKET);
		else if (last != ep->cur && sim->cfg.second_event_on_short)
			sim_trb_event(sim, s, dci, l, XHCI_TRB_LEN(l->dw[2]), XHCI_CC_SUCCESS);
	}
	ep->cur = last + 1;
	ep->cur_off = 0;
	ep->short_seen = true;
	sim_pass_aux(sim, s, dci, XHCI_CC_SHORT_PACKET);
}

/* Move n bytes between pkt and the TD's buffers from the current position,
 * without changing it (to_mem: IN data into memory). */
static bool sim_td_move(struct sim *sim, struct sim_ep *ep, uint8_t *pkt, unsigned n,
			bool to_mem, unsigned stop_type)
{
	unsigned cur = ep->cur, done = 0;
	uint32_t off = ep->cur_off;

	while (done < n && cur < ep->td_n) {
		const struct sim_td_trb *t = &ep->td[cur];
		unsigned ty = XHCI_TRB_TYPE(t->dw[3]);
		if (ty == stop_type)
			break;
		uint32_t len = sim_is_xfer_trb(ty) ? XHCI_TRB_LEN(t->dw[2]) : 0;
		uint32_t k = n - done < len - off ? n - done : len - off;
		if (k) {
			if (t->dw[3] & XHCI_TRB_IDT) {
				memcpy(pkt + done, (const uint8_t *)t->dw + off, k);
			} else {
				uint64_t a = sim_rd64(t->dw) + off;
				bool ok = to_mem ? sim_dma_write(sim, a, pkt + done, k, "transfer data (IN)")
						 : sim_dma_read(sim, a, pkt + done, k, "transfer data (OUT)");
				if (!ok)
					return false;
			}
		}
		done += k;
		off += k;
		if (off >= len) {
			cur++;
			off = 0;
		}
	}
	return true;
}

/* Account n moved bytes: complete full TRBs (IOC events) as they fill. */
static void sim_td_advance(struct sim *sim, unsigned s, unsigned dci, unsigned n,
			   unsigned stop_type)
{
	struct sim_ep *ep = &sim->slot[s].ep[dci];
	/* Bulk/interrupt OUT: a zero-length Normal TRB is a zero-length packet
	 * of its own (how a driver ends a transfer with a ZLP); it completes
	 * only when that packet was sent (n == 0), not with the data before. */
	bool zlp_trbs = !sim_ep_in(ep) && (sim_xtype(ep) == SIM_EP_BULK || sim_xtype(ep) == SIM_EP_INTR);
	bool zero_pkt = n == 0;

	while (ep->cur < ep->td_n) {
		struct sim_td_trb *t = &ep->td[ep->cur];
		unsigned ty = XHCI_TRB_TYPE(t->dw[3]);
		if (ty == stop_type)
			return;
		if (!sim_is_xfer_trb(ty)) {
			sim_pass_aux(sim, s, dci, XHCI_CC_SUCCESS);
			continue;
		}
		if (zlp_trbs && XHCI_TRB_LEN(t->dw[2]) == 0) {
			if (!zero_pkt)
				return;
			zero_pkt = false;
		}
		uint32_t room = XHCI_TRB_LEN(t->dw[2]) - ep->cur_off;
		if (room == 0) {
			sim_trb_done(sim, s, dci);
			continue;
		}
		if (n == 0)
			return;
		uint32_t k = n < room ? n : room;
		ep->cur_off += k;
		ep->td_done += k;
		ep->edtla += k;
		n -= k;
	}
}

/* ------------------------------------------------------------------------ */
/* Endpoint checks against the device's descriptors                         */

static unsigned sim_expected_interval(enum sim_speed sp, unsigned xt, unsigned b)
{
	if (sp == SIM_SPEED_HIGH || sp == SIM_SPEED_SUPER || xt == SIM_EP_ISOCH) {
		unsigned v = b < 1 ? 1 : b > 16 ? 16 : b;
		return v - 1 + ((sp == SIM_SPEED_FULL && xt == SIM_EP_ISOCH) ? 3 : 0);
	}
	unsigned v = b * 8u, l = 0;
	while (v >>= 1)
		l++;
	return l < 3 ? 3 : l > 10 ? 10 : l;
}

static void sim_oracle_check(struct sim *sim, unsigned s, unsigned dci, struct sim_device *dev)
{
	struct sim_ep *ep = &sim->slot[s].ep[dci];
	const uint8_t *d = NULL, *comp = NULL;
	uint8_t addr = bu_xhci_dci_ep_address(dci);

	ep->checked = true;
	if (dci == 1 || !sim_dev_has_ep(dev, addr, &d, &comp))
		return;
	unsigned xt = d[3] & 3, w = d[4] | d[5] << 8, mps = w & 0x7ff, hsmult = (w >> 11) & 3;
	unsigned want_type = xt | ((addr & 0x80) ? 4 : 0);
	unsigned burst = 0, mult = 0, esit = 0, interval = ep->interval;
	bool periodic = xt == SIM_EP_ISOCH || xt == SIM_EP_INTR;

	/* A size illegal for the speed and type must be fixed by the host:
	 * any legal one no larger will do (the context check verifies it). */
	if (!sim_mps_legal(dev->speed, xt, mps) && sim_mps_legal(dev->speed, xt, ep->mps) &&
	    ep->mps <= mps)
		mps = ep->mps;

	if (dev->speed == SIM_SPEED_SUPER && comp) {
		burst = comp[2];
		/* With HCCPARAMS2.LEC=1 the Mult field is RsvdZ (xHCI §6.2.3). */
		mult = xt == SIM_EP_ISOCH && !(sim->hccparams2 & XHCI_HCCPARAMS2_LEC) ? (comp[3] & 3) : 0;
		if (periodic) {
			/* USB 3.2 §9.6.7: wBytesPerInterval is at most what the
			 * burst (and Mult) of max packets carry; a device that
			 * claims more, or 0, gets that (the host's clamp). */
			unsigned most = (burst + 1) * ((xt == SIM_EP_ISOCH ? (comp[3] & 3) : 0) + 1) * mps;

			esit = (unsigned)(comp[4] | comp[5] << 8);
			if (!esit || esit > most)
				esit = most;
		}
	} else if (dev->speed == SIM_SPEED_HIGH && periodic) {
		burst = hsmult;
		esit = mps * (hsmult + 1);
	} else if (periodic) {
		esit = mps;
	}
	if (periodic)
		interval = sim_expected_interval(dev->speed, xt, d[6]);
	if (ep->type != want_type || ep->mps != mps || ep->burst != burst || ep->mult != mult ||
	    ep->max_esit != esit || ep->interval != interval)
		sim_violation_add(sim, "slot %u DCI %u (endpoint %#04x) context does not match its descriptor: type %u/%u mps %u/%u burst %u/%u mult %u/%u esit %u/%u interval %u/%u (context/expected)",
				  s, dci, addr, ep->type, want_type, ep->mps, mps, ep->burst, burst,
				  ep->mult, mult, ep->max_esit, esit, ep->interval, interval);
}

/* The device a slot talks to, if it is reachable now. */
static struct sim_device *sim_slot_dev(struct sim *sim, unsigned s)
{
	struct sim_slot *sl = &sim->slot[s];
	const char *why;
	struct sim_device *dev = sl->dev;

	if (!dev)
		return NULL;
	if (sim_route(sim, (sl->sctx[1] >> 16) & 0xff, XHCI_SLOT_ROUTE(sl->sctx[0]), &why) != dev)
		return NULL;
	if (dev->address != (sl->state == XHCI_SLOT_STATE_DEFAULT ? 0 : sl->address)) {
		sim_log(sim, BU_LOG_INFO, "slot %u: device is at address %u, slot uses %u (was it reset?)",
			s, dev->address, sl->state == XHCI_SLOT_STATE_DEFAULT ? 0 : sl->address);
		return NULL;
	}
	return dev;
}

/*
 * Reset Endpoint of a halted endpoint (xHCI 1.2 §4.6.8): TSP=0 resets the
 * data toggle and the transfer state (the next doorbell starts at the TR
 * Dequeue Pointer); TSP=1, a soft retry (§4.6.8.1), keeps both, so the
 * transaction that failed goes out again where the TD stopped, with the
 * same toggle and a fresh CErr count. See sim_config.soft_retry_broken.
 */
void sim_ep_reset(struct sim *sim, unsigned s, unsigned dci, bool tsp)
{
	struct sim_ep *ep = &sim->slot[s].ep[dci];

	ep->state = XHCI_EP_STATE_STOPPED;
	if (!tsp) {
		ep->host_toggle = false;
		sim_ep_reset_engine(ep);
		return;
	}
	ep->errs = 0;
	if (sim->cfg.soft_retry_broken) {
		sim_violation_add(sim, "slot %u DCI %u: Reset Endpoint with TSP=1 on a controller whose soft retry is broken (Linux XHCI_NO_SOFT_RETRY)",
				  s, dci);
		ep->host_toggle = !ep->host_toggle;
	}
}

/* A transaction error on the current packet: retry per CErr or halt. */
static void sim_xact_error(struct sim *sim, unsigned s, unsigned dci)
{
	struct sim_ep *ep = &sim->slot[s].ep[dci];

	ep->errs++;
	if (sim_xtype(ep) == SIM_EP_ISOCH) {
		return;
	}
	if (ep->cerr && ep->errs >= ep->cerr) {
		sim_ep_halt(sim, s, dci, XHCI_CC_TRANSACTION);
		return;
	}
	sim_ep_activate(sim, s, dci, sim->now + 125 * SIM_US);
}

/* ------------------------------------------------------------------------ */
/* Control transfers                                                        */

static unsigned sim_dev_mps0(const struct sim_device *dev)
{
	return sim_device_ep_mps(dev, 0);
}

static void sim_ctrl_step(struct sim *sim, unsigned s, unsigned dci, struct sim_device *dev)
{
	struct sim_ep *ep = &sim->slot[s].ep[dci];
	uint8_t pkt[1024];
	int r;

	if (ep->ctrl_stage == 0) {
		const struct sim_td_trb *st = &ep->td[0];
		uint8_t raw[8];
		memcpy(raw, st->dw, 8);
		r = sim_dev_setup(dev, raw);
		if (r == SIM_DEV_XACT) {
			sim_xact_error(sim, s, dci);
			return;
		}
		ep->errs = 0;
		uint16_t wlen = (uint16_t)(raw[6] | raw[7] << 8);
		if (dci == 1 && ep->mps != sim_dev_mps0(dev) && wlen > ep->mps &&
		    !(raw[1] == USB_REQ_GET_DESCRIPTOR && raw[3] == USB_DT_DEVICE))
			sim_violation_add(sim, "slot %u: EP0 Max Packet Size %u but the device's bMaxPacketSize0 means %u (request %02x/%02x wLength %u)",
					  s, ep->mps, sim_dev_mps0(dev), raw[0], raw[1], wlen);
		if (st->dw[3] & XHCI_TRB_IOC)
			sim_trb_event(sim, s, dci, st, 0, XHCI_CC_SUCCESS);
		ep->cur = 1;
		ep->cur_off = 0;
		sim_pass_aux(sim, s, dci, XHCI_CC_SUCCESS);
		ep->ctrl_stage = ep->td_len ? 1 : 2;
		sim_ep_activate(sim, s, dci, sim->now + sim_packet_ns(dev->speed, 8));
		return;
	}
	if (ep->ctrl_stage == 1) {
		bool in = dev->setup.bmRequestType & 0x80;
		uint64_t left = ep->td_len - ep->td_done;
		unsigned want = left < ep->mps ? (unsigned)left : ep->mps;
		unsigned dmps = sim_dev_mps0(dev);
		if (in) {
			r = sim_dev_ctrl_in(dev, pkt, (uint16_t)(dmps < sizeof(pkt) ? dmps : sizeof(pkt)));
			if (r == SIM_DEV_BABBLE || r > (int)ep->mps || (r >= 0 && (uint64_t)r > left)) {
				sim_ep_halt(sim, s, dci, XHCI_CC_BABBLE);
				return;
			}
		} else {
			if (!sim_td_move(sim, ep, pkt, want, false, XHCI_TRB_STATUS))
				return;
			r = want > dmps ? SIM_STALL : sim_dev_ctrl_out(dev, pkt, (uint16_t)want);
			if (r == SIM_ACK)
				r = (int)want;
		}
		if (r == SIM_STALL) {
			sim_ep_halt(sim, s, dci, XHCI_CC_STALL);
			return;
		}
		if (r == SIM_NAK) {
			sim_ep_activate(sim, s, dci, sim->now + 125 * SIM_US);
			return;
		}
		if (r == SIM_DEV_XACT) {
			sim_xact_error(sim, s, dci);
			return;
		}
		ep->errs = 0;
		if (in && !sim_td_move(sim, ep, pkt, (unsigned)r, true, XHCI_TRB_STATUS))
			return;
		sim_td_advance(sim, s, dci, (unsigned)r, XHCI_TRB_STATUS);
		bool is_short = in && (unsigned)r < want;
		if (is_short)
			sim_short(sim, s, dci);
		if (is_short || ep->td_done >= ep->td_len) {
			while (ep->cur < ep->td_n && XHCI_TRB_TYPE(ep->td[ep->cur].dw[3]) != XHCI_TRB_STATUS)
				ep->cur++;
			ep->ctrl_stage = 2;
		}
		sim_ep_activate(sim, s, dci, sim->now + sim_packet_ns(dev->speed, (unsigned)r));
		return;
	}
	/* status stage */
	r = sim_dev_ctrl_status(dev);
	if (r == SIM_STALL) {
		sim_ep_halt(sim, s, dci, XHCI_CC_STALL);
		return;
	}
	if (r == SIM_NAK) {
		sim_ep_activate(sim, s, dci, sim->now + 125 * SIM_US);
		return;
	}
	if (r == SIM_DEV_XACT) {
		sim_xact_error(sim, s, dci);
		return;
	}
	if (ep->cur < ep->td_n) {
		struct sim_td_trb *t = &ep->td[ep->cur];
		if (t->dw[3] & XHCI_TRB_IOC)
			sim_trb_event(sim, s, dci, t, 0, XHCI_CC_SUCCESS);
		ep->cur++;
		sim_pass_aux(sim, s, dci, XHCI_CC_SUCCESS);
	}
	sim_td_finish(sim, s, dci);
	sim_ep_activate(sim, s, dci, sim->now + sim_packet_ns(dev->speed, 0));
}

/* ------------------------------------------------------------------------ */
/* Bulk and interrupt                                                       */

static void sim_data_step(struct sim *sim, unsigned s, unsigned dci, struct sim_device *dev)
{
	struct sim_ep *ep = &sim->slot[s].ep[dci];
	bool in = sim_ep_in(ep), intr = sim_xtype(ep) == SIM_EP_INTR;
	uint8_t addr = bu_xhci_dci_ep_address(dci);
	uint8_t pkt[1024];
	uint64_t left = ep->td_len - ep->td_done;
	unsigned want = left < ep->mps ? (unsigned)left : ep->mps;
	uint32_t arg;
	int r;

	if (intr && sim->now < ep->svc_ns) {
		sim_ep_activate(sim, s, dci, ep->svc_ns);
		return;
	}
	/* Disconnect-mid-TD fault: unplug once `arg` bytes of this TD moved. */
	for (unsigned i = 0; i < SIM_MAX_FAULTS; i++) {
		struct sim_fault *f = &dev->faults[i];
		if (f->active && !f->is_req && f->ep == addr && f->kind == SIM_FAULT_DISCONNECT &&
		    ep->td_done >= f->arg) {
			sim_dev_fault_take(dev, addr, SIM_FAULT_DISCONNECT, &arg);
			sim_log(sim, BU_LOG_INFO, "injected: %s unplugged after %llu bytes of a TD",
				dev->model->name, (unsigned long long)ep->td_done);
			sim_detach(dev);
			sim_xact_error(sim, s, dci);
			return;
		}
	}
	if (in) {
		r = sim_dev_in(dev, addr, pkt, ep->mps, false, &ep->host_toggle);
		if (r == SIM_DEV_BABBLE || (r >= 0 && (unsigned)r > want)) {
			sim_ep_halt(sim, s, dci, XHCI_CC_BABBLE);
			return;
		}
	} else {
		if (!sim_td_move(sim, ep, pkt, want, false, 0))
			return;
		r = sim_dev_out(dev, addr, pkt, (uint16_t)want, false, &ep->host_toggle);
		if (r == SIM_ACK)
			r = (int)want;
	}
	if (r == SIM_STALL) {
		sim_ep_halt(sim, s, dci, XHCI_CC_STALL);
		return;
	}
	if (r == SIM_NAK || r == SIM_DEV_XACT) {
		if (r == SIM_DEV_XACT) {
			sim_xact_error(sim, s, dci);
			return;
		}
		ep->svc_ns = intr ? sim->now + sim_period_ns(ep) : 0;
		sim_ep_activate(sim, s, dci, intr ? ep->svc_ns : sim->now + 125 * SIM_US);
		return;
	}
	ep->errs = 0;
	if (in && !sim_td_move(sim, ep, pkt, (unsigned)r, true, 0))
		return;
	sim_td_advance(sim, s, dci, (unsigned)r, 0);
	if (in && (unsigned)r < want)
		sim_short(sim, s, dci);
	if (intr) {
		unsigned per = (ep->burst + 1u) * (ep->mult + 1u);
		if (++ep->pkts_this_esit >= per || (in && (unsigned)r < want)) {
			ep->pkts_this_esit = 0;
			ep->svc_ns = sim->now + sim_period_ns(ep);
		}
	}
	uint64_t next = sim->now + sim_packet_ns(dev->speed, (unsigned)r);
	if (ep->cur >= ep->td_n)
		sim_td_finish(sim, s, dci);
	sim_ep_activate(sim, s, dci, intr && ep->svc_ns > next ? ep->svc_ns : next);
}

/* ------------------------------------------------------------------------ */
/* Isochronous                                                              */

/* Report a run of missed TDs kept back by sim_isoch_missed (its one event). */
static void sim_missed_flush(struct sim *sim, unsigned s, unsigned dci)
{
	struct sim_ep *ep = &sim->slot[s].ep[dci];
	bool null = sim->cfg.missed_service_null;

	if (!ep->missed_n)
		return;
	sim_log(sim, BU_LOG_DEBUG, "slot %u DCI %u: one Missed Service Error for %u TDs", s, dci,
		ep->missed_n);
	sim_xfer_event(sim, s, dci, null ? 0 : ep->missed_ptr, null ? 0 : ep->missed_len,
		       XHCI_CC_MISSED_SERVICE, false, ep->missed_intr, false);
	ep->missed_n = 0;
}

/*
 * The current TD's frame has passed (xHCI §4.11.2.5): Missed Service Error,
 * at once for this TD, or, with missed_service_run, kept back until the
 * run of missed TDs ends and then reported once for all (§4.10.3.2).
 */
static void sim_isoch_missed(struct sim *sim, unsigned s, unsigned dci)
{
	struct sim_ep *ep = &sim->slot[s].ep[dci];
	const struct sim_td_trb *last = &ep->td[ep->td_n - 1];

	if (sim->cfg.missed_service_run || sim->cfg.missed_service_null) {
		ep->missed_n++;
		ep->missed_ptr = last->addr;
		ep->missed_len = sim_is_xfer_trb(XHCI_TRB_TYPE(last->dw[3])) ? XHCI_TRB_LEN(last->dw[2]) : 0;
		ep->missed_intr = last->dw[2] >> 22;
	} else {
		sim_trb_event(sim, s, dci, &ep->td[0], (uint32_t)ep->td_len, XHCI_CC_MISSED_SERVICE);
	}
	sim_td_finish(sim, s, dci);
	sim_ep_activate(sim, s, dci, sim->now + 1 * SIM_US);
}

/*
 * The isochronous ring is empty: a run of missed TDs ends here; a service
 * interval that finds nothing to do reports Ring Underrun (OUT) or Ring
 * Overrun (IN) once, with no TRB pointer (§4.10.3.1). True while the
 * endpoint stays scheduled for that interval.
 */
static bool sim_isoch_empty(struct sim *sim, unsigned s, unsigned dci)
{
	struct sim_ep *ep = &sim->slot[s].ep[dci];

	sim_missed_flush(sim, s, dci);
	if (!ep->svc_ns || ep->idle_reported)
		return false;
	if (sim->now < ep->svc_ns) {
		sim_ep_activate(sim, s, dci, ep->svc_ns);
		return true;
	}
	ep->idle_reported = true;
	sim_xfer_event(sim, s, dci, 0, 0,
		       sim_ep_in(ep) ? XHCI_CC_RING_OVERRUN : XHCI_CC_RING_UNDERRUN, false, 0, false);
	ep->svc_ns = 0;
	return false;
}

/* TBC and TLBPC of the TD's Isoch TRB (xHCI §4.11.2.3); reserved before 1.0. */
static void sim_check_isoch_bursts(struct sim *sim, unsigned s, unsigned dci,
				   const struct sim_ep *ep, enum sim_speed speed)
{
	const struct sim_td_trb *first = &ep->td[0];
	uint64_t npk = ep->td_len ? (ep->td_len + ep->mps - 1) / ep->mps : 1;
	unsigned tbc = (first->dw[3] >> 7) & 3, tlbpc = (first->dw[3] >> 16) & 0xf;
	unsigned want_tbc = 0, want_tlbpc = (unsigned)(npk - 1);
	bool reserved = sim->cfg.hci_version < 0x100;

	if (reserved) {
		want_tlbpc = 0;
	} else if (speed == SIM_SPEED_SUPER) {
		unsigned b = ep->burst + 1u, r = (unsigned)(npk % b);
		want_tbc = (unsigned)((npk + b - 1) / b - 1);
		want_tlbpc = r == 0 ? ep->burst : r - 1;
	}
	if (tbc != want_tbc || (tlbpc != (want_tlbpc & 0xf)))
		sim_violation_add(sim, "slot %u DCI %u Isoch TRB @%#llx: TBC %u TLBPC %u, expected %u / %u%s",
				  s, dci, (unsigned long long)first->addr, tbc, tlbpc, want_tbc,
				  want_tlbpc, reserved ? " (reserved before xHCI 1.0)" : "");
}

static void sim_isoch_td(struct sim *sim, unsigned s, unsigned dci, struct sim_device *dev)
{
	struct sim_ep *ep = &sim->slot[s].ep[dci];
	struct sim_td_trb *first = &ep->td[0];
	bool in = sim_ep_in(ep);
	uint8_t addr = bu_xhci_dci_ep_address(dci);
	uint8_t pkt[1024];
	uint64_t per = sim_period_ns(ep);
	bool toggle = false;

	/* Scheduling: SIA (as soon as possible) or Frame ID; after an idle
	 * ring (underrun/overrun reported) the stream starts again at once. */
	if (ep->svc_ns == 0)
		ep->svc_ns = ep->idle_reported ? sim->now : (sim->now / per + 1) * per;
	if (!(first->dw[3] & XHCI_TRB_SIA) && !ep->frame_due) {
		/* Checked once, when the TD is first seen; then it waits. */
		unsigned frame = (first->dw[3] >> 20) & 0x7ff;
		unsigned cur = (sim_mfindex(sim) >> 3) & 0x7ff;
		unsigned ahead = (frame - cur) & 0x7ff;
		if (ahead == 0 || ahead > 895) {
			sim_isoch_missed(sim, s, dci);
			return;
		}
		uint64_t at = sim->now + (uint64_t)ahead * 1000 * SIM_US - (sim_mfindex(sim) & 7) * 125000ull;
		if (at > sim->now && ep->svc_ns < at) {
			ep->svc_ns = at;
		}
		ep->frame_due = true;
	}
	sim_missed_flush(sim, s, dci); /* this TD is not missed: a run ends */
	if (sim->now < ep->svc_ns) {
		sim_ep_activate(sim, s, dci, ep->svc_ns);
		return;
	}
	sim_check_isoch_bursts(sim, s, dci, ep, dev->speed);
	if (ep->td_len > ep->max_esit)
		sim_violation_add(sim, "slot %u DCI %u: isoch TD of %llu bytes > Max ESIT Payload %u",
				  s, dci, (unsigned long long)ep->td_len, ep->max_esit);
	/* Move the whole TD in this service interval. */
	unsigned cc = XHCI_CC_SUCCESS;
	uint64_t t_wire = 0;
	bool is_short = false;
	while (ep->td_done < ep->td_len || (ep->td_len == 0 && t_wire == 0)) {
		uint64_t left = ep->td_len - ep->td_done;
		unsigned want = left < ep->mps ? (unsigned)left : ep->mps;
		int r;
		if (in) {
			r = sim_dev_in(dev, addr, pkt, ep->mps, true, &toggle);
			if (r == SIM_NAK)
				r = 0;
			if (r >= 0 && (unsigned)r > want) {
				cc = XHCI_CC_ISOCH_BUFFER_OVERRUN;
				break;
			}
		} else {
			if (!sim_td_move(sim, ep, pkt, want, false, 0))
				return;
			r = sim_dev_out(dev, addr, pkt, (uint16_t)want, true, &toggle);
			if (r == SIM_ACK || r == SIM_NAK)
				r = (int)want;
		}
		t_wire += sim_packet_ns(dev->speed, r > 0 ? (unsigned)r : 0);
		if (r == SIM_DEV_XACT || r == SIM_STALL || r == SIM_DEV_BABBLE) {
			cc = XHCI_CC_TRANSACTION;
			break;
		}
		if (in && !sim_td_move(sim, ep, pkt, (unsigned)r, true, 0))
			return;
		sim_td_advance(sim, s, dci, (unsigned)r, 0);
		if (in && (unsigned)r < want) {
			is_short = true;
			break;
		}
		if (ep->td_len == 0)
			break;
	}
	if (cc != XHCI_CC_SUCCESS)
		sim_ep_halt(sim, s, dci, cc); /* isoch: event only, no halt */
	else if (is_short)
		sim_short(sim, s, dci);
	else
		sim_td_advance(sim, s, dci, 0, 0);
	sim_td_finish(sim, s, dci);
	ep->svc_ns += per;
	ep->idle_reported = false;
	sim_ep_activate(sim, s, dci, sim->now + t_wire);
}

/* ------------------------------------------------------------------------ */
/* Doorbell, work, stop                                                     */

void sim_ep_doorbell(struct sim *sim, unsigned s, uint32_t val)
{
	unsigned dci = val & 0xff;
	struct sim_slot *sl = &sim->slot[s];

	if (s > (sim->config & 0xff) || !sl->enabled) {
		sim_violation_add(sim, "doorbell %u rung (target %u) for a disabled slot", s, dci);
		return;
	}
	if (val & 0xff00)
		sim_violation_add(sim, "doorbell %u = %#x: bits 15:8 are RsvdZ", s, val);
	if (val >> 16)
		sim_violation_add(sim, "doorbell %u = %#x: Stream ID on a non-stream endpoint", s, val);
	if (dci == 0 || dci > 31) {
		sim_violation_add(sim, "doorbell %u with target %u (must be a DCI 1..31)", s, dci);
		return;
	}
	struct sim_ep *ep = &sl->ep[dci];
	switch (ep->state) {
	case XHCI_EP_STATE_DISABLED:
		sim_violation_add(sim, "doorbell %u rung for DCI %u, which is not enabled", s, dci);
		return;
	case XHCI_EP_STATE_HALTED:
	case XHCI_EP_STATE_ERROR:
		sim_log(sim, BU_LOG_DEBUG, "doorbell %u DCI %u ignored: endpoint halted/error", s, dci);
		return;
	case XHCI_EP_STATE_STOPPED:
		ep->state = XHCI_EP_STATE_RUNNING;
		break;
	default:
		break;
	}
	sim_ep_activate(sim, s, dci, sim->now + 2 * SIM_US);
}

void sim_ep_work(struct sim *sim, unsigned s, unsigned dci)
{
	struct sim_slot *sl = &sim->slot[s];
	struct sim_ep *ep = &sl->ep[dci];
	struct sim_device *dev;

	if (!sim_running(sim) || ep->state != XHCI_EP_STATE_RUNNING) {
		sim_ep_deactivate(sim, s, dci);
		return;
	}
	if (sim_events_paused(sim)) {
		sim_ep_activate(sim, s, dci, sim->now + 20 * SIM_US);
		return;
	}
	if (!ep->td_live) {
		int r = sim_fetch_td(sim, s, dci);
		if (r <= 0) {
			if (r == 0 && sim_xtype(ep) == SIM_EP_ISOCH && sim_isoch_empty(sim, s, dci))
				return;
			if (r == 0)
				sim_ep_deactivate(sim, s, dci);
			return;
		}
		if (sim_xtype(ep) == SIM_EP_INTR && ep->svc_ns < sim->now) {
			uint64_t per = sim_period_ns(ep);
			ep->svc_ns = (sim->now / per + 1) * per;
			ep->pkts_this_esit = 0;
		}
	}
	if (ep->cur == 0 && ep->td_done == 0 && sim_td_aux_only(ep)) {
		/* A TD of No-Op / Event Data TRBs only (a cancelled TD turned
		 * into No-Ops, or padding): no bus transaction, just its events
		 * (§6.4.1.4). */
		sim_pass_aux(sim, s, dci, XHCI_CC_SUCCESS);
		sim_td_finish(sim, s, dci);
		sim_ep_activate(sim, s, dci, sim->now + 1 * SIM_US);
		return;
	}
	if (sim_port_suspended(sim, (sl->sctx[1] >> 16) & 0xff) || sim_hub_route_suspended(sl->dev)) {
		/* A suspended link (root port or hub port on the way)
		 * carries no packets: the TD waits for the resume (USB 2.0
		 * §7.1.7.6, §11.9), as on a real port in U3. */
		if (!ep->held_by_suspend) {
			sim_log(sim, BU_LOG_INFO, "slot %u dci %u: TD waits, its root port is suspended",
				s, dci);
			sim->st.suspended_waits++;
		}
		ep->held_by_suspend = true;
		sim_ep_activate(sim, s, dci, sim->now + 100 * SIM_US);
		return;
	}
	ep->held_by_suspend = false;
	dev = sim_slot_dev(sim, s);
	sim_resume_recovery_check(sim, dev);
	if (!dev) {
		if (sim_xtype(ep) == SIM_EP_ISOCH) {
			sim_missed_flush(sim, s, dci);
			sim_trb_event(sim, s, dci, &ep->td[0], (uint32_t)ep->td_len, XHCI_CC_TRANSACTION);
			sim_td_finish(sim, s, dci);
			sim_ep_activate(sim, s, dci, sim->now + sim_period_ns(ep));
			return;
		}
		sim_xact_error(sim, s, dci);
		return;
	}
	if (!ep->checked)
		sim_oracle_check(sim, s, dci, dev);
	sim_tt_transaction(dev, sim_td_ep(ep, dci));
	switch (sim_xtype(ep)) {
	case SIM_EP_CONTROL:
		sim_ctrl_step(sim, s, dci, dev);
		break;
	case SIM_EP_ISOCH:
		sim_isoch_td(sim, s, dci, dev);
		break;
	default:
		sim_data_step(sim, s, dci, dev);
		break;
	}
}

bool sim_ep_stop(struct sim *sim, unsigned s, unsigned dci)
{
	struct sim_ep *ep = &sim->slot[s].ep[dci];
	uint32_t t[4];

	sim_missed_flush(sim, s, dci); /* events in the order things happened */
	if (ep->td_live && ep->cur < ep->td_n) {
		struct sim_td_trb *tr = &ep->td[ep->cur];
		uint32_t len = sim_is_xfer_trb(XHCI_TRB_TYPE(tr->dw[3])) ? XHCI_TRB_LEN(tr->dw[2]) : 0;
		sim_trb_event(sim, s, dci, tr, len - (ep->cur_off < len ? ep->cur_off : len),
			      XHCI_CC_STOPPED);
		if (sim->slot[s].dev)
			sim_tt_abandon(sim->slot[s].dev, sim_td_ep(ep, dci), sim_xtype(ep));
		ep->deq = tr->addr;
		ep->ccs = tr->dw[3] & 1;
		if (sim->cfg.stop_drops_td && ep->next_deq) {
			ep->deq = ep->next_deq;
			ep->ccs = ep->next_ccs;
		}
	} else if (sim_dma_read(sim, ep->deq, t, 16, "transfer ring TRB (stop)") &&
		   (t[3] & XHCI_TRB_C) == (ep->ccs ? 1u : 0u) &&
		   XHCI_TRB_TYPE(t[3]) != XHCI_TRB_LINK) {
		uint32_t len = sim_is_xfer_trb(XHCI_TRB_TYPE(t[3])) ? XHCI_TRB_LEN(t[2]) : 0;
		sim_xfer_event(sim, s, dci, ep->deq, len, XHCI_CC_STOPPED, false, t[2] >> 22, false);
	}
	ep->state = XHCI_EP_STATE_STOPPED;
	sim_ep_reset_engine(ep);
	sim_ep_deactivate(sim, s, dci);
	return true;
}
