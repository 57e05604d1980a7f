/*
 * The xHCI model on its own, driven by a tiny register-level driver written
 * here: does the model follow the spec (reset/CNR, command ring, event ring
 * cycle bits and wrap, Enable Slot / Address Device, a control transfer) and
 * does it catch what it must (violations, faults)?
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xhci_hw.h"
#include "devices.h"
#include "sim.h"
#include "run_suite.h"

#define OP(off) (md->op + (off))

struct md {
	struct sim *sim;
	const struct bu_platform *p;
	uintptr_t base, op, rt, db;
	uint32_t *cmd;    /* 32 TRBs, last is Link */
	uint64_t cmd_bus;
	unsigned cmd_enq;
	bool cmd_pcs;
	uint32_t *ev;     /* 2 segments of 16 */
	uint64_t ev_bus[2];
	uint32_t *ev_seg[2];
	unsigned ev_seg_i, ev_idx;
	bool ev_ccs;
	uint64_t *dcbaa;
	uint64_t dcbaa_bus;
	uint32_t *erst;
	uint64_t erst_bus;
	/* the device md_address addressed */
	unsigned slot, port;
	enum sim_speed speed;
	uint32_t *in;      /* input context, 33 x 32 bytes */
	uint64_t in_bus;
	uint32_t *ring;    /* EP0 transfer ring, 16 TRBs */
	uint64_t ring_bus;
};

static uint32_t rd(struct md *md, uintptr_t a)
{
	return md->p->read32(md->p->ctx, a);
}

static void wr(struct md *md, uintptr_t a, uint32_t v)
{
	md->p->write32(md->p->ctx, a, v);
}

static void wr64(struct md *md, uintptr_t a, uint64_t v)
{
	wr(md, a, (uint32_t)v);
	wr(md, a + 4, (uint32_t)(v >> 32));
}

static bool wait_bits(struct md *md, uintptr_t a, uint32_t mask, uint32_t want, unsigned ms)
{
	uint64_t end = md->p->now_us(md->p->ctx) + ms * 1000ull;

	while (md->p->now_us(md->p->ctx) < end) {
		if ((rd(md, a) & mask) == want)
			return true;
		md->p->delay_us(md->p->ctx, 10);
	}
	return false;
}

static void *dalloc(struct md *md, size_t n, uint64_t *bus)
{
	void *p = md->p->dma_alloc(md->p->ctx, (n + 63) & ~(size_t)63, 64, 65536, UINT64_MAX, bus);
	ck_assert_ptr_nonnull(p);
	return p;
}

static void md_setup(struct md *md, const struct sim_config *cfg)
{
	struct sim_config c = { 0 };

	if (cfg)
		c = *cfg;
	c.coherent = true; /* the test writes rings and contexts itself */
	memset(md, 0, sizeof(*md));
	md->sim = sim_create(&c);
	md->p = sim_platform(md->sim);
	md->base = sim_regs_base(md->sim);
	md->op = md->base + (rd(md, md->base) & 0xff);
	md->rt = md->base + (rd(md, md->base + XHCI_CAP_RTSOFF) & ~0x1fu);
	md->db = md->base + (rd(md, md->base + XHCI_CAP_DBOFF) & ~0x3u);
}

static void md_start(struct md *md)
{
	ck_assert(wait_bits(md, OP(XHCI_OP_USBSTS), XHCI_USBSTS_CNR, 0, 100));
	wr(md, OP(XHCI_OP_USBCMD), XHCI_USBCMD_HCRST);
	ck_assert(wait_bits(md, OP(XHCI_OP_USBCMD), XHCI_USBCMD_HCRST, 0, 100));
	ck_assert(wait_bits(md, OP(XHCI_OP_USBSTS), XHCI_USBSTS_CNR, 0, 100));
	wr(md, OP(XHCI_OP_CONFIG), 8);
	md->dcbaa = dalloc(md, 9 * 8, &md->dcbaa_bus);
	wr64(md, OP(XHCI_OP_DCBAAP), md->dcbaa_bus);
	md->cmd = dalloc(md, 32 * 16, &md->cmd_bus);
	md->cmd[31 * 4 + 0] = (uint32_t)md->cmd_bus;
	md->cmd[31 * 4 + 1] = (uint32_t)(md->cmd_bus >> 32);
	md->cmd[31 * 4 + 3] = XHCI_TRB_TYPE_SET(XHCI_TRB_LINK) | XHCI_TRB_TC;
	md->cmd_pcs = true;
	wr64(md, OP(XHCI_OP_CRCR), md->cmd_bus | XHCI_CRCR_RCS);
	for (int i = 0; i < 2; i++)
		md->ev_seg[i] = dalloc(md, 16 * 16, &md->ev_bus[i]);
	md->erst = dalloc(md, 32, &md->erst_bus);
	for (int i = 0; i < 2; i++) {
		md->erst[i * 4] = (uint32_t)md->ev_bus[i];
		md->erst[i * 4 + 1] = (uint32_t)(md->ev_bus[i] >> 32);
		md->erst[i * 4 + 2] = 16;
	}
	md->ev_ccs = true;
	wr(md, md->rt + XHCI_RT_IR(0) + XHCI_IR_ERSTSZ, 2);
	wr64(md, md->rt + XHCI_RT_IR(0) + XHCI_IR_ERDP, md->ev_bus[0]);
	wr64(md, md->rt + XHCI_RT_IR(0) + XHCI_IR_ERSTBA, md->erst_bus);
	wr(md, md->rt + XHCI_RT_IR(0) + XHCI_IR_IMAN, XHCI_IMAN_IE);
	wr(md, OP(XHCI_OP_USBCMD), XHCI_USBCMD_RUN | XHCI_USBCMD_INTE);
	ck_assert(wait_bits(md, OP(XHCI_OP_USBSTS), XHCI_USBSTS_HCH, 0, 20));
}

/* Next event (any type) within ms, or false. */
static bool md_event(struct md *md, uint32_t ev[4], unsigned ms)
{
	uint64_t end = md->p->now_us(md->p->ctx) + ms * 1000ull;

	while (md->p->now_us(md->p->ctx) < end) {
		uint32_t *t = md->ev_seg[md->ev_seg_i] + md->ev_idx * 4;
		if ((t[3] & 1) == (md->ev_ccs ? 1u : 0u)) {
			memcpy(ev, t, 16);
			if (++md->ev_idx == 16) {
				md->ev_idx = 0;
				if (++md->ev_seg_i == 2) {
					md->ev_seg_i = 0;
					md->ev_ccs = !md->ev_ccs;
				}
			}
			wr64(md, md->rt + XHCI_RT_IR(0) + XHCI_IR_ERDP,
			     (md->ev_bus[md->ev_seg_i] + 16ull * md->ev_idx) | XHCI_ERDP_EHB |
				     md->ev_seg_i);
			return true;
		}
		md->p->delay_us(md->p->ctx, 5);
	}
	return false;
}

static uint64_t md_cmd_post(struct md *md, uint32_t d0, uint32_t d1, uint32_t d2, uint32_t d3)
{
	uint32_t *t = md->cmd + md->cmd_enq * 4;
	uint64_t at = md->cmd_bus + 16ull * md->cmd_enq;

	t[0] = d0;
	t[1] = d1;
	t[2] = d2;
	t[3] = d3 | (md->cmd_pcs ? 1u : 0u);
	if (++md->cmd_enq == 31) {
		md->cmd[31 * 4 + 3] = (md->cmd[31 * 4 + 3] & ~1u) | (md->cmd_pcs ? 1u : 0u);
		md->cmd_enq = 0;
		md->cmd_pcs = !md->cmd_pcs;
	}
	wr(md, md->db, 0);
	return at;
}

/* Run a command; returns its completion code, slot id in *slot. */
static unsigned md_cmd(struct md *md, uint32_t d0, uint32_t d1, uint32_t d2, uint32_t d3,
		       unsigned *slot)
{
	uint64_t at = md_cmd_post(md, d0, d1, d2, d3);
	uint32_t ev[4];

	for (;;) {
		ck_assert_msg(md_event(md, ev, 1000), "no command completion");
		if (XHCI_TRB_TYPE(ev[3]) != XHCI_TRB_CMD_COMPLETION)
			continue;
		ck_assert_uint_eq(((uint64_t)ev[1] << 32) | ev[0], at);
		if (slot)
			*slot = ev[3] >> 24;
		return XHCI_EVT_CC(ev[2]);
	}
}

static void md_teardown(struct md *md)
{
	for (unsigned i = 0; i < sim_violations(md->sim); i++)
		fprintf(stderr, "violation: %s\n", sim_violation(md->sim, i));
	sim_destroy(md->sim);
}

/* ------------------------------------------------------------------------ */

START_TEST(test_reset_cnr)
{
	struct md m, *md = &m;

	md_setup(md, NULL);
	ck_assert(rd(md, OP(XHCI_OP_USBSTS)) & XHCI_USBSTS_CNR);
	wr(md, OP(XHCI_OP_CONFIG), 4); /* too early */
	ck_assert(sim_has_violation(md->sim, "CNR=1"));
	sim_clear_violations(md->sim);
	md_start(md);
	ck_assert_uint_eq(sim_violations(md->sim), 0);
	/* HCRST while running is a violation */
	wr(md, OP(XHCI_OP_USBCMD), XHCI_USBCMD_HCRST);
	ck_assert(sim_has_violation(md->sim, "HCRST written while the controller runs"));
	sim_clear_violations(md->sim);
	md_teardown(md);
}
END_TEST

START_TEST(test_noop_and_wrap)
{
	struct md m, *md = &m;

	md_setup(md, NULL);
	md_start(md);
	/* 80 commands: wraps the 31-TRB command ring and the 32-TRB event ring */
	for (int i = 0; i < 80; i++)
		ck_assert_uint_eq(md_cmd(md, 0, 0, 0, XHCI_TRB_TYPE_SET(XHCI_TRB_NOOP_CMD), NULL),
				  XHCI_CC_SUCCESS);
	ck_assert_uint_eq(sim_violations(md->sim), 0);
	/* an unknown command type gives TRB Error */
	ck_assert_uint_eq(md_cmd(md, 0, 0, 0, XHCI_TRB_TYPE_SET(XHCI_TRB_FORCE_HEADER), NULL),
			  XHCI_CC_TRB);
	sim_clear_violations(md->sim);
	md_teardown(md);
}
END_TEST

START_TEST(test_completion_is_not_synchronous)
{
	struct md m, *md = &m;
	uint32_t *t;

	md_setup(md, NULL);
	md_start(md);
	t = md->ev_seg[0];
	md_cmd_post(md, 0, 0, 0, XHCI_TRB_TYPE_SET(XHCI_TRB_NOOP_CMD));
	ck_assert_uint_eq(t[3] & 1, 0); /* nothing inside the doorbell write */
	sim_advance_us(md->sim, 100);
	ck_assert_uint_eq(t[3] & 1, 1);
	md_teardown(md);
}
END_TEST

START_TEST(test_event_ring_full)
{
	struct md m, *md = &m;
	uint32_t ev[4];
	struct sim_stats st;

	md_setup(md, NULL);
	md_start(md);
	/* 40 No-Ops without reading events: the 32-entry ring fills. */
	for (int b = 0; b < 2; b++) {
		for (int i = 0; i < 20; i++)
			md_cmd_post(md, 0, 0, 0, XHCI_TRB_TYPE_SET(XHCI_TRB_NOOP_CMD));
		sim_advance_us(md->sim, 5000);
	}
	sim_get_stats(md->sim, &st);
	ck_assert_uint_eq(st.er_full, 1);
	unsigned n = 0, full = 0;
	while (md_event(md, ev, 5)) {
		if (XHCI_TRB_TYPE(ev[3]) == XHCI_TRB_HC_EVENT) {
			ck_assert_uint_eq(XHCI_EVT_CC(ev[2]), XHCI_CC_EVENT_RING_FULL);
			full++;
		} else {
			n++;
		}
	}
	ck_assert_uint_eq(full, 1);
	ck_assert_uint_eq(n, 40); /* none lost: the controller paused */
	ck_assert_uint_eq(sim_violations(md->sim), 0);
	md_teardown(md);
}
END_TEST

START_TEST(test_cmd_abort)
{
	struct md m, *md = &m;
	uint32_t ev[4];

	md_setup(md, NULL);
	md_start(md);
	sim_fault_cmd_hang(md->sim, XHCI_TRB_NOOP_CMD);
	uint64_t at = md_cmd_post(md, 0, 0, 0, XHCI_TRB_TYPE_SET(XHCI_TRB_NOOP_CMD));
	ck_assert(!md_event(md, ev, 50));
	ck_assert(rd(md, OP(XHCI_OP_CRCR)) & XHCI_CRCR_CRR);
	wr(md, OP(XHCI_OP_CRCR), XHCI_CRCR_CA);
	ck_assert(md_event(md, ev, 10));
	ck_assert_uint_eq(XHCI_EVT_CC(ev[2]), XHCI_CC_CMD_ABORTED);
	ck_assert_uint_eq(((uint64_t)ev[1] << 32) | ev[0], at);
	ck_assert(md_event(md, ev, 10));
	ck_assert_uint_eq(XHCI_EVT_CC(ev[2]), XHCI_CC_CMD_RING_STOPPED);
	ck_assert(!(rd(md, OP(XHCI_OP_CRCR)) & XHCI_CRCR_CRR));
	/* restart */
	ck_assert_uint_eq(md_cmd(md, 0, 0, 0, XHCI_TRB_TYPE_SET(XHCI_TRB_NOOP_CMD), NULL),
			  XHCI_CC_SUCCESS);
	md_teardown(md);
}
END_TEST

/*
 * Attach `model` at `speed` (a USB 3 port for SuperSpeed, where link
 * training enables the port; a USB 2 port is reset), Enable Slot and
 * Address Device with EP0 max packet `ep0_mps`. Returns Address Device's
 * completion code; md->slot, port, speed, in, ring are set.
 */
static unsigned md_address(struct md *md, const struct sim_device_model *model,
			   enum sim_speed speed, unsigned ep0_mps)
{
	bool usb3 = speed == SIM_SPEED_SUPER;
	unsigned port = usb3 ? sim_usb3_port(md->sim, 1) : sim_usb2_port(md->sim, 1), slot = 0;
	uint32_t ev[4];
	uint64_t out_bus;
	uint32_t *in;

	ck_assert_ptr_nonnull(sim_attach(md->sim, port, model, speed));
	ck_assert(md_event(md, ev, usb3 ? 100 : 10));
	ck_assert_uint_eq(XHCI_TRB_TYPE(ev[3]), XHCI_TRB_PORT_STATUS);
	ck_assert_uint_eq(ev[0] >> 24, port);
	uintptr_t sc = OP(XHCI_OP_PORTSC(port));
	if (usb3) {
		ck_assert(rd(md, sc) & XHCI_PORTSC_PED);
		wr(md, sc, XHCI_PORTSC_PP | XHCI_PORTSC_CSC);
	} else {
		ck_assert_uint_eq(XHCI_PORTSC_SPEED(rd(md, sc)), 0); /* undefined before reset */
		wr(md, sc, XHCI_PORTSC_PP | XHCI_PORTSC_CSC);
		md->p->delay_us(md->p->ctx, 100000); /* debounce */
		wr(md, sc, XHCI_PORTSC_PP | XHCI_PORTSC_PR);
		ck_assert(md_event(md, ev, 200));
		ck_assert(rd(md, sc) & XHCI_PORTSC_PRC);
		ck_assert(rd(md, sc) & XHCI_PORTSC_PED);
		wr(md, sc, XHCI_PORTSC_PP | XHCI_PORTSC_PRC);
		md->p->delay_us(md->p->ctx, 10000); /* TRSTRCY */
	}
	ck_assert_uint_eq(XHCI_PORTSC_SPEED(rd(md, sc)), speed);

	ck_assert_uint_eq(md_cmd(md, 0, 0, 0, XHCI_TRB_TYPE_SET(XHCI_TRB_ENABLE_SLOT), &slot),
			  XHCI_CC_SUCCESS);
	ck_assert_uint_eq(slot, 1);
	md->slot = slot;
	md->port = port;
	md->speed = speed;
	md->in = in = dalloc(md, 33 * 32, &md->in_bus);
	dalloc(md, 32 * 32, &out_bus);
	md->ring = dalloc(md, 16 * 16, &md->ring_bus);
	md->dcbaa[slot] = out_bus;
	in[1] = 3;
	in[8] = XHCI_SLOT_SPEED(speed) | XHCI_SLOT_ENTRIES(1);
	in[9] = XHCI_SLOT_ROOT_PORT(port);
	in[16 + 1] = XHCI_EP_CERR(3) | XHCI_EP_TYPE(XHCI_EPT_CONTROL) | XHCI_EP_MPS(ep0_mps);
	in[16 + 2] = (uint32_t)md->ring_bus | 1;
	in[16 + 3] = (uint32_t)(md->ring_bus >> 32);
	in[16 + 4] = 8;
	return md_cmd(md, (uint32_t)md->in_bus, (uint32_t)(md->in_bus >> 32), 0,
		      XHCI_TRB_TYPE_SET(XHCI_TRB_ADDRESS_DEVICE) | XHCI_TRB_SLOT(slot), NULL);
}

/* Enumerate the keyboard by hand: reset, Enable Slot, Address Device, GET_DESCRIPTOR. */
static void md_enum(struct md *md, enum sim_speed speed, unsigned ep0_mps, unsigned *cc_addr,
		    uint8_t *desc, unsigned *got)
{
	uint32_t ev[4];
	uint64_t ring_bus, buf_bus;
	uint32_t *ring;
	uint8_t *buf;
	unsigned slot;

	*cc_addr = md_address(md, &sim_dev_hid_kbd, speed, ep0_mps);
	if (*cc_addr != XHCI_CC_SUCCESS)
		return;
	slot = md->slot;
	ring = md->ring;
	ring_bus = md->ring_bus;
	buf = dalloc(md, 64, &buf_bus);
	ck_assert_int_eq(sim_slot_state(md->sim, slot), XHCI_SLOT_STATE_ADDRESSED);
	md->p->delay_us(md->p->ctx, 3000);
	/* GET_DESCRIPTOR(DEVICE, 18): Setup, Data IN (ISP), Status OUT (IOC) */
	ring[0] = 0x01000680;
	ring[1] = 0x00120000;
	ring[2] = 8;
	ring[3] = XHCI_TRB_TYPE_SET(XHCI_TRB_SETUP) | XHCI_TRB_IDT | XHCI_TRB_TRT(XHCI_TRT_IN) | 1;
	ring[4] = (uint32_t)buf_bus;
	ring[5] = (uint32_t)(buf_bus >> 32);
	ring[6] = 18;
	ring[7] = XHCI_TRB_TYPE_SET(XHCI_TRB_DATA) | XHCI_TRB_DIR_IN | XHCI_TRB_ISP | 1;
	ring[11] = XHCI_TRB_TYPE_SET(XHCI_TRB_STATUS) | XHCI_TRB_IOC | 1;
	wr(md, md->db + 4 * slot, 1);
	*got = 0;
	for (;;) {
		ck_assert(md_event(md, ev, 100));
		ck_assert_uint_eq(XHCI_TRB_TYPE(ev[3]), XHCI_TRB_TRANSFER_EVENT);
		uint64_t ptr = ((uint64_t)ev[1] << 32) | ev[0];
		if (ptr == ring_bus + 16) {
			ck_assert_uint_eq(XHCI_EVT_CC(ev[2]), XHCI_CC_SHORT_PACKET);
			*got = 18 - XHCI_EVT_LEN(ev[2]);
			continue;
		}
		ck_assert_uint_eq(ptr, ring_bus + 32);
		ck_assert_uint_eq(XHCI_EVT_CC(ev[2]), XHCI_CC_SUCCESS);
		if (!*got)
			*got = 18;
		break;
	}
	memcpy(desc, buf, 18);
}

START_TEST(test_enumerate_by_hand)
{
	struct md m, *md = &m;
	unsigned cc, got;
	uint8_t d[18];

	md_setup(md, NULL);
	md_start(md);
	md_enum(md, SIM_SPEED_FULL, 8, &cc, d, &got);
	ck_assert_uint_eq(cc, XHCI_CC_SUCCESS);
	ck_assert_uint_eq(got, 18);
	ck_assert_uint_eq(d[0], 18);
	ck_assert_uint_eq(d[1], USB_DT_DEVICE);
	ck_assert_uint_eq(d[8] | d[9] << 8, 0x1209);
	for (unsigned i = 0; i < sim_violations(md->sim); i++)
		fprintf(stderr, "%s\n", sim_violation(md->sim, i));
	ck_assert_uint_eq(sim_violations(md->sim), 0);
	md_teardown(md);
}
END_TEST

START_TEST(test_ep0_mps_wrong_is_short)
{
	struct md m, *md = &m;
	unsigned cc, got;
	uint8_t d[18];

	/* FS device with bMaxPacketSize0 8, driver leaves EP0 at 64: the
	 * device's 8-byte packet is short, so only 8 bytes arrive. */
	md_setup(md, NULL);
	md_start(md);
	md_enum(md, SIM_SPEED_FULL, 64, &cc, d, &got);
	ck_assert_uint_eq(cc, XHCI_CC_SUCCESS);
	ck_assert_uint_eq(got, 8);
	md_teardown(md);
}
END_TEST

START_TEST(test_ep0_mps_illegal)
{
	struct md m, *md = &m;
	unsigned cc, got;
	uint8_t d[18];

	md_setup(md, NULL);
	md_start(md);
	md_enum(md, SIM_SPEED_HIGH, 8, &cc, d, &got); /* HS EP0 must be 64 */
	ck_assert_uint_eq(cc, XHCI_CC_PARAMETER);
	ck_assert(sim_has_violation(md->sim, "Max Packet Size 8 is not legal"));
	sim_clear_violations(md->sim);
	md_teardown(md);
}
END_TEST

/*
 * Configure Endpoint adding one endpoint at `dci` whose context has DW0,
 * DW1 and DW4 as given (TR Dequeue Pointer filled in here); returns the
 * completion code.
 */
static unsigned md_add_ep(struct md *md, unsigned dci, uint32_t dw0, uint32_t dw1, uint32_t dw4)
{
	uint64_t ring_bus;
	uint32_t *in = md->in, *ep = md->in + (dci + 1) * 8;

	dalloc(md, 16 * 16, &ring_bus);
	memset(in, 0, 33 * 32);
	in[1] = 1u | 1u << dci;
	in[8] = XHCI_SLOT_SPEED(md->speed) | XHCI_SLOT_ENTRIES(dci);
	in[9] = XHCI_SLOT_ROOT_PORT(md->port);
	ep[0] = dw0;
	ep[1] = dw1;
	ep[2] = (uint32_t)ring_bus | 1;
	ep[3] = (uint32_t)(ring_bus >> 32);
	ep[4] = dw4;
	return md_cmd(md, (uint32_t)md->in_bus, (uint32_t)(md->in_bus >> 32), 0,
		      XHCI_TRB_TYPE_SET(XHCI_TRB_CONFIGURE_EP) | XHCI_TRB_SLOT(md->slot), NULL);
}

#define CTX_TYPE(t) (XHCI_EP_CERR((t) == XHCI_EPT_ISOCH_IN ? 0 : 3) | XHCI_EP_TYPE(t))

/* Endpoint contexts the model must refuse (Parameter Error and a
 * violation naming the problem), and two it must take. */
static const struct {
	const char *name;
	enum sim_speed speed;
	bool no_lec;
	unsigned dci;
	uint32_t dw0, dw1, dw4;
	const char *violation; /* NULL: accepted */
} ep_ctx_cases[] = {
	{ "control endpoint at an even DCI", SIM_SPEED_HIGH, false, 4, 0,
	  CTX_TYPE(XHCI_EPT_CONTROL) | XHCI_EP_MPS(64), XHCI_EP_AVG_TRB(8), "odd DCI" },
	{ "isochronous Max Packet Size 0", SIM_SPEED_HIGH, false, 3, XHCI_EP_INTERVAL(0),
	  CTX_TYPE(XHCI_EPT_ISOCH_IN), XHCI_EP_AVG_TRB(1) | XHCI_EP_ESIT_LO(1),
	  "Max Packet Size 0" },
	{ "high-speed bulk 64", SIM_SPEED_HIGH, false, 2, 0,
	  CTX_TYPE(XHCI_EPT_BULK_OUT) | XHCI_EP_MPS(64), XHCI_EP_AVG_TRB(3072), "not legal" },
	{ "full-speed bulk 24", SIM_SPEED_FULL, false, 3, 0,
	  CTX_TYPE(XHCI_EPT_BULK_IN) | XHCI_EP_MPS(24), XHCI_EP_AVG_TRB(3072), "not legal" },
	{ "low-speed bulk", SIM_SPEED_LOW, false, 3, 0,
	  CTX_TYPE(XHCI_EPT_BULK_IN) | XHCI_EP_MPS(8), XHCI_EP_AVG_TRB(3072), "not legal" },
	{ "low-speed isochronous", SIM_SPEED_LOW, false, 3, XHCI_EP_INTERVAL(3),
	  CTX_TYPE(XHCI_EPT_ISOCH_IN) | XHCI_EP_MPS(8), XHCI_EP_AVG_TRB(8) | XHCI_EP_ESIT_LO(8),
	  "not legal" },
	{ "high-speed control 8", SIM_SPEED_HIGH, false, 5, 0,
	  CTX_TYPE(XHCI_EPT_CONTROL) | XHCI_EP_MPS(8), XHCI_EP_AVG_TRB(8), "not legal" },
	{ "low-speed interrupt 64", SIM_SPEED_LOW, false, 3, XHCI_EP_INTERVAL(6),
	  CTX_TYPE(XHCI_EPT_INTR_IN) | XHCI_EP_MPS(64), XHCI_EP_AVG_TRB(64) | XHCI_EP_ESIT_LO(64),
	  "not legal" },
	{ "interrupt Max ESIT Payload 0", SIM_SPEED_HIGH, false, 3, XHCI_EP_INTERVAL(3),
	  CTX_TYPE(XHCI_EPT_INTR_IN) | XHCI_EP_MPS(64), XHCI_EP_AVG_TRB(64), "Max ESIT Payload 0" },
	{ "Max ESIT Payload Hi without LEC", SIM_SPEED_HIGH, true, 3,
	  XHCI_EP_INTERVAL(3) | XHCI_EP_ESIT_HI(0x10040), CTX_TYPE(XHCI_EPT_INTR_IN) | XHCI_EP_MPS(64),
	  XHCI_EP_AVG_TRB(64) | XHCI_EP_ESIT_LO(0x10040), "LEC=0" },
	{ "Max ESIT Payload above one packet, LEC", SIM_SPEED_HIGH, false, 3,
	  XHCI_EP_INTERVAL(3) | XHCI_EP_ESIT_HI(0x10040), CTX_TYPE(XHCI_EPT_INTR_IN) | XHCI_EP_MPS(64),
	  XHCI_EP_AVG_TRB(64) | XHCI_EP_ESIT_LO(0x10040), "Max ESIT Payload 65600 >" },
	{ "SuperSpeed isochronous Mult with LEC", SIM_SPEED_SUPER, false, 3,
	  XHCI_EP_INTERVAL(3) | XHCI_EP_MULT(1), CTX_TYPE(XHCI_EPT_ISOCH_IN) | XHCI_EP_MPS(1024),
	  XHCI_EP_AVG_TRB(2048) | XHCI_EP_ESIT_LO(2048), "RsvdZ" },
	{ "SuperSpeed isochronous payload above Mult 2, LEC", SIM_SPEED_SUPER, false, 3,
	  XHCI_EP_INTERVAL(3), CTX_TYPE(XHCI_EPT_ISOCH_IN) | XHCI_EP_MPS(1024) | XHCI_EP_BURST(1),
	  XHCI_EP_AVG_TRB(6145) | XHCI_EP_ESIT_LO(6145), "Max ESIT Payload 6145 >" },
	{ "SuperSpeed isochronous payload above Mult, no LEC", SIM_SPEED_SUPER, true, 3,
	  XHCI_EP_INTERVAL(3) | XHCI_EP_MULT(1),
	  CTX_TYPE(XHCI_EPT_ISOCH_IN) | XHCI_EP_MPS(1024) | XHCI_EP_BURST(1),
	  XHCI_EP_AVG_TRB(4097) | XHCI_EP_ESIT_LO(4097), "Max ESIT Payload 4097 >" },
	/* LEC: the controller derives Mult 2 from the payload. */
	{ "SuperSpeed isochronous 3 bursts, LEC", SIM_SPEED_SUPER, false, 3, XHCI_EP_INTERVAL(3),
	  CTX_TYPE(XHCI_EPT_ISOCH_IN) | XHCI_EP_MPS(1024) | XHCI_EP_BURST(1),
	  XHCI_EP_AVG_TRB(6144) | XHCI_EP_ESIT_LO(6144), NULL },
	{ "SuperSpeed isochronous Mult 1, no LEC", SIM_SPEED_SUPER, true, 3,
	  XHCI_EP_INTERVAL(3) | XHCI_EP_MULT(1),
	  CTX_TYPE(XHCI_EPT_ISOCH_IN) | XHCI_EP_MPS(1024) | XHCI_EP_BURST(1),
	  XHCI_EP_AVG_TRB(4096) | XHCI_EP_ESIT_LO(4096), NULL },
};

START_TEST(test_ep_ctx_checks)
{
	struct sim_config cfg = { .no_lec = ep_ctx_cases[_i].no_lec };
	struct md m, *md = &m;
	const struct sim_device_model *model =
	    ep_ctx_cases[_i].speed == SIM_SPEED_SUPER ? &sim_dev_winusb : &sim_dev_hid_kbd;
	unsigned cc, mps0 = ep_ctx_cases[_i].speed == SIM_SPEED_SUPER ? 512
			  : ep_ctx_cases[_i].speed == SIM_SPEED_HIGH ? 64 : 8;

	md_setup(md, &cfg);
	md_start(md);
	ck_assert_uint_eq(rd(md, md->base + XHCI_CAP_HCCPARAMS2) & XHCI_HCCPARAMS2_LEC,
			  cfg.no_lec ? 0 : XHCI_HCCPARAMS2_LEC);
	ck_assert_uint_eq(md_address(md, model, ep_ctx_cases[_i].speed, mps0), XHCI_CC_SUCCESS);
	ck_assert_uint_eq(sim_violations(md->sim), 0);
	cc = md_add_ep(md, ep_ctx_cases[_i].dci, ep_ctx_cases[_i].dw0, ep_ctx_cases[_i].dw1,
		       ep_ctx_cases[_i].dw4);
	if (!ep_ctx_cases[_i].violation) {
		ck_assert_uint_eq(cc, XHCI_CC_SUCCESS);
		ck_assert_uint_eq(sim_violations(md->sim), 0);
		ck_assert_int_eq(sim_ep_state(md->sim, md->slot, ep_ctx_cases[_i].dci),
				 XHCI_EP_STATE_RUNNING);
	} else {
		ck_assert_msg(cc == XHCI_CC_PARAMETER, "%s: completion code %u",
			      ep_ctx_cases[_i].name, cc);
		ck_assert_msg(sim_has_violation(md->sim, ep_ctx_cases[_i].violation),
			      "%s: no violation with \"%s\" (%u violations, first: %s)",
			      ep_ctx_cases[_i].name, ep_ctx_cases[_i].violation,
			      sim_violations(md->sim), sim_violation(md->sim, 0));
		ck_assert_int_eq(sim_ep_state(md->sim, md->slot, ep_ctx_cases[_i].dci),
				 XHCI_EP_STATE_DISABLED);
		sim_clear_violations(md->sim);
	}
	md_teardown(md);
}
END_TEST

START_TEST(test_dma_fault_is_hse)
{
	struct sim_config cfg = { .dma_fault_nonfatal = true, .log_level = -1 };
	struct md m, *md = &m;

	md_setup(md, &cfg);
	md_start(md);
	/* stop the ring, point it somewhere unmapped and ring */
	md_cmd(md, 0, 0, 0, XHCI_TRB_TYPE_SET(XHCI_TRB_NOOP_CMD), NULL);
	wr(md, OP(XHCI_OP_CRCR), XHCI_CRCR_CS);
	sim_advance_us(md->sim, 100);
	wr64(md, OP(XHCI_OP_CRCR), 0xdead0000ull | 1);
	wr(md, md->db, 0);
	sim_advance_us(md->sim, 100);
	ck_assert(rd(md, OP(XHCI_OP_USBSTS)) & XHCI_USBSTS_HSE);
	ck_assert(sim_has_violation(md->sim, "0xdead0000"));
	sim_clear_violations(md->sim);
	md_teardown(md);
}
END_TEST

static Suite *model_suite(void)
{
	Suite *s = suite_create("model");
	TCase *tc = tcase_create("model");

	tcase_add_test(tc, test_reset_cnr);
	tcase_add_test(tc, test_noop_and_wrap);
	tcase_add_test(tc, test_completion_is_not_synchronous);
	tcase_add_test(tc, test_event_ring_full);
	tcase_add_test(tc, test_cmd_abort);
	tcase_add_test(tc, test_enumerate_by_hand);
	tcase_add_test(tc, test_ep0_mps_wrong_is_short);
	tcase_add_test(tc, test_ep0_mps_illegal);
	tcase_add_test(tc, test_dma_fault_is_hse);
	tcase_add_loop_test(tc, test_ep_ctx_checks, 0,
			    (int)(sizeof(ep_ctx_cases) / sizeof(ep_ctx_cases[0])));
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return run_suite(model_suite());
}
