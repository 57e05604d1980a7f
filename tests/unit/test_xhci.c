/*
 * Unit tests for the xHCI driver's pure parts: ring arithmetic across the
 * Link TRB and the cycle wrap, TD Size, endpoint context encodings,
 * completion-code mapping and the decoders.
 */
#include <stdio.h>
#include <string.h>

#include "bareusb/errors.h"
#include "bareusb/util.h"
#include "xhci_trace.h"
#include "unit.h"
#include "xhci_priv.h"

#define RING_N 8

static struct xhci_trb trbs[RING_N + 1];
static const uint64_t RING_BUS = 0x123450000ull;

static uint32_t trb_type(const struct xhci_trb *t)
{
	return XHCI_TRB_TYPE(t->dw[3]);
}

START_TEST(ring_init_link)
{
	struct xhci_ring r;

	memset(trbs, 0xaa, sizeof(trbs));
	bu_xhci_ring_init(&r, trbs, RING_BUS, RING_N);
	ck_assert_uint_eq(trb_type(&trbs[RING_N]), XHCI_TRB_LINK);
	ck_assert(trbs[RING_N].dw[3] & XHCI_TRB_TC);
	/* The link's cycle bit is 0 until the producer reaches it. */
	ck_assert_uint_eq(trbs[RING_N].dw[3] & XHCI_TRB_C, 0);
	ck_assert_uint_eq(((uint64_t)trbs[RING_N].dw[1] << 32) | trbs[RING_N].dw[0], RING_BUS);
	for (int i = 0; i < RING_N; i++)
		ck_assert_uint_eq(trbs[i].dw[3], 0);
	ck_assert_uint_eq(xhci_ring_space(&r), RING_N - 1);
}
END_TEST

START_TEST(ring_cycle_wrap)
{
	struct xhci_ring r;

	bu_xhci_ring_init(&r, trbs, RING_BUS, RING_N);
	/* First lap: cycle 1, and the Link TRB handed over with cycle 1. */
	for (uint32_t i = 0; i < RING_N; i++) {
		uint32_t c = bu_xhci_ring_push(&r, i, 0, 0, XHCI_TRB_TYPE_SET(XHCI_TRB_NORMAL), false);

		ck_assert_uint_eq(c, i);
		ck_assert_uint_eq(trbs[i].dw[3] & XHCI_TRB_C, 1);
		r.deq = r.enq; /* the controller consumed it */
	}
	ck_assert_uint_eq(trbs[RING_N].dw[3] & XHCI_TRB_C, 1);
	ck_assert_uint_eq(trbs[RING_N].dw[3] & XHCI_TRB_CH, 0);
	/* Second lap: cycle 0 from slot 0. */
	bu_xhci_ring_push(&r, 0x55, 0, 0, XHCI_TRB_TYPE_SET(XHCI_TRB_NORMAL), false);
	ck_assert_uint_eq(trbs[0].dw[0], 0x55);
	ck_assert_uint_eq(trbs[0].dw[3] & XHCI_TRB_C, 0);
	ck_assert_uint_eq(xhci_ring_cycle(&r, RING_N), 0);
	ck_assert_uint_eq(xhci_ring_cycle(&r, 2 * RING_N), 1);
	ck_assert_uint_eq(xhci_ring_addr(&r, RING_N + 3), RING_BUS + 3 * 16);
}
END_TEST

START_TEST(ring_chain_across_link)
{
	struct xhci_ring r;

	bu_xhci_ring_init(&r, trbs, RING_BUS, RING_N);
	r.enq = r.deq = RING_N - 2; /* two slots before the end, lap 0 */
	bu_xhci_ring_push(&r, 0, 0, 0, XHCI_TRB_TYPE_SET(XHCI_TRB_NORMAL) | XHCI_TRB_CH, true);
	bu_xhci_ring_push(&r, 0, 0, 0, XHCI_TRB_TYPE_SET(XHCI_TRB_NORMAL) | XHCI_TRB_CH, false);
	/* A TD spanning the wrap: the Link TRB carries the chain bit. */
	ck_assert(trbs[RING_N].dw[3] & XHCI_TRB_CH);
	bu_xhci_ring_push(&r, 0, 0, 0, XHCI_TRB_TYPE_SET(XHCI_TRB_NORMAL) | XHCI_TRB_IOC, false);
	ck_assert_uint_eq(trbs[0].dw[3] & XHCI_TRB_C, 0); /* lap 1 */
	/* The held first TRB has the wrong cycle until released. */
	ck_assert_uint_eq(trbs[RING_N - 2].dw[3] & XHCI_TRB_C, 0);
	bu_xhci_ring_release(&r, RING_N - 2);
	ck_assert_uint_eq(trbs[RING_N - 2].dw[3] & XHCI_TRB_C, 1);
}
END_TEST

START_TEST(ring_find)
{
	struct xhci_ring r;
	uint32_t c;

	bu_xhci_ring_init(&r, trbs, RING_BUS, RING_N);
	r.deq = RING_N - 1;
	r.enq = RING_N + 2; /* live: slots 7, 0, 1 */
	ck_assert(bu_xhci_ring_find(&r, RING_BUS + 7 * 16, &c));
	ck_assert_uint_eq(c, RING_N - 1);
	ck_assert(bu_xhci_ring_find(&r, RING_BUS + 1 * 16, &c));
	ck_assert_uint_eq(c, RING_N + 1);
	ck_assert(!bu_xhci_ring_find(&r, RING_BUS + 2 * 16, &c)); /* not queued */
	ck_assert(!bu_xhci_ring_find(&r, RING_BUS + 8 * 16, &c)); /* the link */
	ck_assert(!bu_xhci_ring_find(&r, RING_BUS + 8, &c));      /* misaligned */
	ck_assert(!bu_xhci_ring_find(&r, RING_BUS - 16, &c));
	ck_assert_uint_eq(xhci_ring_space(&r), RING_N - 1 - 3);
}
END_TEST

/* TD Size (xHCI §4.11.2.4): packets left after this TRB, 0 on the last. */
START_TEST(td_size)
{
	ck_assert_uint_eq(bu_xhci_td_size(4096, 1024, 512, false), 6);
	ck_assert_uint_eq(bu_xhci_td_size(4096, 4096, 512, true), 0);
	ck_assert_uint_eq(bu_xhci_td_size(1000, 600, 512, false), 1);
	ck_assert_uint_eq(bu_xhci_td_size(1 << 20, 4096, 512, false), 31); /* clamped */
	ck_assert_uint_eq(bu_xhci_td_size(0, 0, 512, false), 0);
	ck_assert_uint_eq(bu_xhci_td_size(513, 100, 512, false), 2);
}
END_TEST

struct interval_case {
	enum bu_usb_speed speed;
	unsigned type, b_interval, expect;
};

/* xHCI §6.2.3.6 and the per-speed bInterval meanings (USB 2.0 §9.6.6). */
static const struct interval_case interval_cases[] = {
	{ BU_SPEED_HIGH, BU_EP_INTERRUPT, 7, 6 },   /* 2^6 uframes = 8 ms */
	{ BU_SPEED_HIGH, BU_EP_INTERRUPT, 4, 3 },
	{ BU_SPEED_HIGH, BU_EP_INTERRUPT, 0, 0 },   /* clamped to 1 */
	{ BU_SPEED_HIGH, BU_EP_INTERRUPT, 200, 15 },/* clamped to 16 */
	{ BU_SPEED_HIGH, BU_EP_BULK, 5, 0 },
	{ BU_SPEED_SUPER, BU_EP_ISOCH, 1, 0 },
	{ BU_SPEED_SUPER, BU_EP_INTERRUPT, 12, 11 },
	{ BU_SPEED_FULL, BU_EP_INTERRUPT, 10, 6 },  /* 10 ms -> 8 ms = 2^6 uframes */
	{ BU_SPEED_FULL, BU_EP_INTERRUPT, 255, 10 },/* 255 ms -> 128 ms */
	{ BU_SPEED_FULL, BU_EP_INTERRUPT, 1, 3 },   /* 1 ms = 2^3 uframes */
	{ BU_SPEED_LOW, BU_EP_INTERRUPT, 10, 6 },
	{ BU_SPEED_FULL, BU_EP_ISOCH, 1, 3 },       /* 1 frame */
	{ BU_SPEED_FULL, BU_EP_ISOCH, 4, 6 },       /* 8 frames */
	{ BU_SPEED_FULL, BU_EP_BULK, 0, 0 },
};

START_TEST(ep_interval)
{
	const struct interval_case *c = &interval_cases[_i];

	ck_assert_uint_eq(bu_xhci_ep_interval(c->speed, c->type, c->b_interval), c->expect);
}
END_TEST

/* Max ESIT Payload and Mult with and without HCCPARAMS2.LEC (xHCI §6.2.3). */
static const struct {
	enum bu_usb_speed speed;
	unsigned type, mps, burst, mult;
	uint32_t esit;
	bool lec;
	uint32_t want_esit;
	unsigned want_mult;
	bool clamped;
} esit_cases[] = {
	/* non-periodic endpoints carry no payload */
	{ BU_SPEED_SUPER, BU_EP_BULK, 1024, 15, 0, 5000, false, 0, 0, false },
	{ BU_SPEED_HIGH, BU_EP_CONTROL, 64, 0, 0, 64, true, 0, 0, false },
	/* as described */
	{ BU_SPEED_HIGH, BU_EP_ISOCH, 1024, 2, 0, 3072, false, 3072, 0, false },
	{ BU_SPEED_SUPER, BU_EP_ISOCH, 1024, 15, 2, 49152, false, 49152, 2, false },
	/* LEC: Mult is RsvdZ, the controller derives it (up to 2 at SuperSpeed) */
	{ BU_SPEED_SUPER, BU_EP_ISOCH, 1024, 15, 2, 49152, true, 49152, 0, false },
	{ BU_SPEED_SUPER, BU_EP_ISOCH, 1024, 15, 0, 49153, true, 49152, 0, true },
	{ BU_SPEED_SUPER, BU_EP_INTERRUPT, 1024, 2, 0, 4096, true, 3072, 0, true },
	/* payload 0 on a periodic endpoint: what burst and Mult carry */
	{ BU_SPEED_SUPER, BU_EP_INTERRUPT, 64, 1, 0, 0, false, 128, 0, true },
	{ BU_SPEED_SUPER, BU_EP_ISOCH, 256, 1, 1, 0, true, 1024, 0, true },
	/* no LEC: at most what Max Burst and Mult describe, Hi stays 0 */
	{ BU_SPEED_SUPER, BU_EP_ISOCH, 1024, 15, 0, 0x12345, false, 16384, 0, true },
	{ BU_SPEED_HIGH, BU_EP_INTERRUPT, 64, 0, 0, 0x10040, false, 64, 0, true },
	/* SuperSpeedPlus: LEC takes 24 bits; without it Mult grows to 2 */
	{ BU_SPEED_SUPER_PLUS, BU_EP_ISOCH, 1024, 15, 0, 0x12345, true, 0x12345, 0, false },
	{ BU_SPEED_SUPER_PLUS, BU_EP_ISOCH, 1024, 15, 0, 0x1000000, true, 0xffffff, 0, true },
	{ BU_SPEED_SUPER_PLUS, BU_EP_ISOCH, 1024, 15, 0, 20000, false, 20000, 1, false },
	{ BU_SPEED_SUPER_PLUS, BU_EP_ISOCH, 1024, 15, 0, 0x12345, false, 49152, 2, true },
	{ BU_SPEED_SUPER_PLUS, BU_EP_INTERRUPT, 1024, 2, 0, 0x12345, true, 3072, 0, true },
};

START_TEST(ep_esit)
{
	struct bu_xhci_esit e = bu_xhci_ep_esit(esit_cases[_i].speed, esit_cases[_i].type,
						 esit_cases[_i].mps, esit_cases[_i].burst,
						 esit_cases[_i].mult, esit_cases[_i].esit,
						 esit_cases[_i].lec);

	ck_assert_uint_eq(e.esit, esit_cases[_i].want_esit);
	ck_assert_uint_eq(e.mult, esit_cases[_i].want_mult);
	ck_assert_uint_eq(e.clamped != NULL, esit_cases[_i].clamped);
	if (!esit_cases[_i].lec)
		ck_assert_uint_eq(XHCI_EP_ESIT_HI(e.esit), 0);
}
END_TEST

START_TEST(ep_type)
{
	ck_assert_uint_eq(bu_xhci_ep_type(BU_EP_CONTROL, false), XHCI_EPT_CONTROL);
	ck_assert_uint_eq(bu_xhci_ep_type(BU_EP_CONTROL, true), XHCI_EPT_CONTROL);
	ck_assert_uint_eq(bu_xhci_ep_type(BU_EP_BULK, true), XHCI_EPT_BULK_IN);
	ck_assert_uint_eq(bu_xhci_ep_type(BU_EP_BULK, false), XHCI_EPT_BULK_OUT);
	ck_assert_uint_eq(bu_xhci_ep_type(BU_EP_INTERRUPT, true), XHCI_EPT_INTR_IN);
	ck_assert_uint_eq(bu_xhci_ep_type(BU_EP_ISOCH, false), XHCI_EPT_ISOCH_OUT);
}
END_TEST

struct cc_case {
	unsigned cc;
	int err;
	const char *name;
};

static const struct cc_case cc_cases[] = {
	{ XHCI_CC_SUCCESS, 0, "Success" },
	{ XHCI_CC_SHORT_PACKET, 0, "Short Packet" },
	{ XHCI_CC_STALL, BU_ESTALL, "Stall Error" },
	{ XHCI_CC_BABBLE, BU_EBABBLE, "Babble Detected" },
	{ XHCI_CC_TRANSACTION, BU_EPROTO, "USB Transaction Error" },
	{ XHCI_CC_SPLIT_TRANSACTION, BU_EPROTO, "Split Transaction Error" },
	{ XHCI_CC_TRB, BU_EIO, "TRB Error" },
	{ XHCI_CC_NO_SLOTS, BU_ENOSPC, "No Slots Available" },
	{ XHCI_CC_SLOT_NOT_ENABLED, BU_ENODEV, "Slot Not Enabled" },
	{ XHCI_CC_STOPPED, BU_ECANCELED, "Stopped" },
	{ XHCI_CC_CMD_ABORTED, BU_ETIMEDOUT, "Command Aborted" },
	{ XHCI_CC_MISSED_SERVICE, BU_EMISSED, "Missed Service" },
	{ XHCI_CC_PARAMETER, BU_EINVAL, "Parameter Error" },
	{ XHCI_CC_CONTEXT_STATE, BU_EIO, "Context State Error" },
	{ 200, BU_EIO, "Vendor Error" },
	{ 230, 0, "Vendor Info" },
	{ 100, BU_EIO, "Reserved" },
};

START_TEST(cc_mapping)
{
	const struct cc_case *c = &cc_cases[_i];

	ck_assert_int_eq(bu_xhci_cc_to_err(c->cc), c->err);
	ck_assert_str_eq(bu_xhci_cc_name(c->cc), c->name);
}
END_TEST

START_TEST(decode_trbs)
{
	char buf[200];
	uint32_t setup[4] = { 0x01000680, 0x00120000, 8,
			      XHCI_TRB_TYPE_SET(XHCI_TRB_SETUP) | XHCI_TRB_IDT |
				      XHCI_TRB_TRT(XHCI_TRT_IN) | XHCI_TRB_C };
	uint32_t normal[4] = { 0x1000, 0x1, 512 | XHCI_TRB_TD_SIZE(3),
			       XHCI_TRB_TYPE_SET(XHCI_TRB_NORMAL) | XHCI_TRB_CH | XHCI_TRB_ISP };
	uint32_t ev[4] = { 0x2000, 0, (XHCI_CC_STALL << 24) | 5,
			   XHCI_TRB_TYPE_SET(XHCI_TRB_TRANSFER_EVENT) | XHCI_TRB_SLOT(3) |
				   XHCI_TRB_EP(1) | XHCI_TRB_C };

	bu_xhci_trb_decode(setup, buf, sizeof(buf));
	ck_assert_str_eq(buf, "Setup Stage bmRequestType=0x80 bRequest=0x06 wValue=0x0100 "
			      "wIndex=0x0000 wLength=18 trt=3 C IDT");
	bu_xhci_trb_decode(normal, buf, sizeof(buf));
	ck_assert_str_eq(buf, "Normal buf=0x100001000 len=512 td=3 ISP CH");
	bu_xhci_trb_decode(ev, buf, sizeof(buf));
	ck_assert_str_eq(buf, "Transfer Event slot=3 DCI=1 (ep 0x00) trb=0x2000 residual=5 cc=Stall Error C=1");
	bu_xhci_portsc_decode(XHCI_PORTSC_CCS | XHCI_PORTSC_PED | XHCI_PORTSC_PP |
				      (3u << 10) | XHCI_PORTSC_CSC | XHCI_PORTSC_PRC,
			      buf, sizeof(buf));
	ck_assert_str_eq(buf, "0x00220e03 speed=3 PLS=U0 CCS PED PP CSC PRC");
	bu_xhci_usbsts_decode(XHCI_USBSTS_HCH | XHCI_USBSTS_HCE, buf, sizeof(buf));
	ck_assert_str_eq(buf, "0x00001001 HCH HCE");
}
END_TEST

/* Trace filters from words (bu_xhci_trace_filter_parse): the categories,
 * slot and endpoint; anything unknown or out of range refused untouched. */
START_TEST(trace_filter_words)
{
	struct bu_xhci_trace_filter f = { .categories = 0x55 };

	ck_assert_int_eq(bu_xhci_trace_filter_parse("xfer,event,slot=2,ep=0x81", &f), 0);
	ck_assert_uint_eq(f.categories, BU_XHCI_TRACE_XFER | BU_XHCI_TRACE_EVENT);
	ck_assert_uint_eq(f.slot, 2);
	ck_assert(f.match_ep);
	ck_assert_uint_eq(f.ep, 0x81);
	ck_assert_int_eq(bu_xhci_trace_filter_parse("all", &f), 0);
	ck_assert_uint_eq(f.categories, BU_XHCI_TRACE_ALL);
	ck_assert_uint_eq(f.slot, 0);
	ck_assert(!f.match_ep);
	ck_assert_int_eq(bu_xhci_trace_filter_parse("db reg  ep=0", &f), 0);
	ck_assert_uint_eq(f.categories, BU_XHCI_TRACE_DOORBELL | BU_XHCI_TRACE_REG);
	ck_assert(f.match_ep && f.ep == 0);
	ck_assert_int_eq(bu_xhci_trace_filter_parse("cmd,off", &f), 0);
	ck_assert_uint_eq(f.categories, 0);

	static const char *const bad[] = { "xfers", "slot=256", "slot=", "slot=2x", "ep=0x181",
					   "ep=0x71", "ep=", "cmd,bogus", "SLOT=1", "ep=0xg1",
					   "slot=99999999999" };
	for (unsigned i = 0; i < BU_ARRAY_SIZE(bad); i++) {
		f.categories = 0x55;
		ck_assert_msg(bu_xhci_trace_filter_parse(bad[i], &f) == BU_EINVAL, "%s accepted",
			      bad[i]);
		ck_assert_uint_eq(f.categories, 0x55);
	}
	ck_assert_int_eq(bu_xhci_trace_filter_parse(NULL, &f), BU_EINVAL);
}
END_TEST

Suite *unit_suite(void)
{
	Suite *s = suite_create("xhci");
	TCase *tc;

	tc = unit_tcase(s, "ring");
	tcase_add_test(tc, ring_init_link);
	tcase_add_test(tc, ring_cycle_wrap);
	tcase_add_test(tc, ring_chain_across_link);
	tcase_add_test(tc, ring_find);
	tc = unit_tcase(s, "encode");
	tcase_add_test(tc, td_size);
	tcase_add_loop_test(tc, ep_interval, 0, (int)(sizeof(interval_cases) / sizeof(interval_cases[0])));
	tcase_add_test(tc, ep_type);
	tcase_add_loop_test(tc, ep_esit, 0, (int)(sizeof(esit_cases) / sizeof(esit_cases[0])));
	tc = unit_tcase(s, "cc");
	tcase_add_loop_test(tc, cc_mapping, 0, (int)(sizeof(cc_cases) / sizeof(cc_cases[0])));
	tc = unit_tcase(s, "decode");
	tcase_add_test(tc, decode_trbs);
	tcase_add_test(tc, trace_filter_words);
	return s;
}
