/*
 * Isochronous Transfer Events as real controllers report them: a run of
 * TDs whose frames have passed gets one Missed Service Error per TD, one
 * for the whole run naming its last TD, or one with a NULL TRB Pointer
 * (xHCI 1.2 §4.10.3.2, §4.11.2.5; sim_config.missed_service_run and
 * missed_service_null). Whatever the style, every TD completes exactly
 * once and in order, a missed one with BU_EMISSED and no data, the ones
 * after it deliver theirs, and the ring stays sound for a cancel and for
 * the stream after (a 32-TRB ring, so it wraps).
 */
#include "harness.h"

/* The WinUSB device at high speed with alternate setting 1 (isoch 0x03 / 0x83). */
struct iso {
	struct stack st;
	struct sim_device *sd;
	struct bu_usb_device *dev;
	struct bu_usb_endpoint *ep;
	unsigned order; /* completions so far */
};

/* One isochronous TD and what its completions did. */
struct td {
	struct bu_usb_xfer x;
	unsigned calls; /* completions: must end at exactly 1 */
	unsigned seq;   /* completion order, from 1 */
	unsigned *order;
	uint8_t buf[256];
};

enum { TD_LEN = 256 };

static void td_complete(struct bu_usb_xfer *xfer)
{
	struct td *t = xfer->ctx;

	t->calls++;
	t->seq = ++*t->order;
}

static void iso_up(struct iso *w, const struct sim_config *cfg, uint8_t addr)
{
	struct bu_xhci_options o = { .xfer_ring_trbs = 32 };
	struct sim_config c = { 0 };

	if (cfg)
		c = *cfg;
	c.map_split = 128; /* TDs of several TRBs: a run's event names a later one */
	stack_up_opts(&w->st, &c, &o, 0);
	w->sd = sim_attach(w->st.sim, sim_usb2_port(w->st.sim, 1), &sim_dev_winusb, SIM_SPEED_HIGH);
	ck_assert_ptr_nonnull(w->sd);
	ck_assert(settle(&w->st, 5000));
	w->dev = find_pid(&w->st, 0x1209, 0xb010);
	ck_assert_ptr_nonnull(w->dev);
	ck_assert_int_eq(bu_usb_set_interface(w->dev, 0, 1), 0);
	w->ep = bu_usb_find_endpoint(w->dev, addr);
	ck_assert_ptr_nonnull(w->ep);
	ck_assert_uint_eq(w->ep->type, BU_EP_ISOCH);
	w->order = 0;
}

/*
 * Submit `n` TDs from `t`: as soon as possible (frame_delta 0) or in the
 * frame `frame_delta` away from now (negative: already past, so missed).
 */
static void td_submit(struct iso *w, struct td *t, unsigned n, int frame_delta)
{
	uint32_t now = bu_usb_frame_number(w->st.bus);

	for (unsigned i = 0; i < n; i++) {
		memset(&t[i], 0, sizeof(t[i]));
		memset(t[i].buf, 0x40 + (int)i, sizeof(t[i].buf));
		t[i].order = &w->order;
		t[i].x.ep = w->ep;
		t[i].x.buf = t[i].buf;
		t[i].x.len = TD_LEN;
		t[i].x.complete = td_complete;
		t[i].x.ctx = &t[i];
		t[i].x.flags = frame_delta ? BU_XFER_ISOCH_FRAME : BU_XFER_ISOCH_ASAP;
		t[i].x.frame = now + (uint32_t)frame_delta;
		ck_assert_int_eq(bu_usb_xfer_submit(&t[i].x), 0);
	}
}

/* Poll until all `n` TDs completed (bounded), then a while longer for repeats. */
static void td_wait(struct iso *w, struct td *t, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		for (unsigned ms = 0; ms < 1000 && !t[i].calls; ms++)
			run_ms(&w->st, 1);
		ck_assert_msg(t[i].calls, "TD %u of %u never completed", i, n);
	}
	run_ms(&w->st, 5);
}

/* TD `i` of `t` completed once, as the `seq`-th, with `status` and the bytes that go with it. */
static void td_check(const struct td *t, unsigned i, unsigned seq, int status)
{
	ck_assert_msg(t[i].calls == 1, "TD %u completed %u times", i, t[i].calls);
	ck_assert_msg(t[i].seq == seq, "TD %u completed as number %u, expected %u", i, t[i].seq, seq);
	ck_assert_msg(t[i].x.status == status, "TD %u status %d, expected %d", i, t[i].x.status,
		      status);
	ck_assert_uint_eq(t[i].x.actual, status ? 0 : TD_LEN);
	if (status == BU_EMISSED)
		ck_assert_uint_eq(t[i].x.cc, XHCI_CC_MISSED_SERVICE);
}

/* Bytes the device has taken on isochronous OUT 0x03 (0 for IN). */
static uint32_t out_bytes(struct iso *w)
{
	return w->ep->address == 0x03 ? sim_winusb_iso_out_bytes(w->sd) : 0;
}

/*
 * After a run: TDs cancelled before their (far) frame complete once each
 * with BU_ECANCELED, and a stream after them runs and delivers everything.
 */
static void cancel_then_stream(struct iso *w)
{
	enum { NC = 5, NS = 8 };
	static struct td c[NC], g[NS];
	uint32_t before;
	unsigned base;

	base = w->order;
	td_submit(w, c, NC, 400);
	run_ms(&w->st, 3);
	ck_assert_int_eq(bu_usb_abort_endpoint(w->ep), NC);
	td_wait(w, c, NC);
	for (unsigned i = 0; i < NC; i++)
		td_check(c, i, base + i + 1, BU_ECANCELED);
	base = w->order;
	before = out_bytes(w);
	td_submit(w, g, NS, 0);
	td_wait(w, g, NS);
	for (unsigned i = 0; i < NS; i++)
		td_check(g, i, base + i + 1, 0);
	if (w->ep->address == 0x03)
		ck_assert_uint_eq(out_bytes(w) - before, NS * TD_LEN);
}

/*
 * GOOD1 TDs as soon as possible, MISS TDs whose frame has passed, GOOD2
 * as soon as possible again: each completes once, in order, the missed
 * ones with BU_EMISSED and 0 bytes; the device gets exactly the good ones.
 */
static void missed_run(const struct sim_config *cfg, uint8_t addr)
{
	enum { GOOD1 = 2, MISS = 4, GOOD2 = 3, N = GOOD1 + MISS + GOOD2 };
	static struct td t[N];
	struct iso w;
	uint32_t before;

	iso_up(&w, cfg, addr);
	before = out_bytes(&w);
	td_submit(&w, t, GOOD1, 0);
	td_submit(&w, t + GOOD1, MISS, -3);
	td_submit(&w, t + GOOD1 + MISS, GOOD2, 0);
	td_wait(&w, t, N);
	for (unsigned i = 0; i < N; i++)
		td_check(t, i, i + 1, i >= GOOD1 && i < GOOD1 + MISS ? BU_EMISSED : 0);
	if (addr == 0x03)
		ck_assert_uint_eq(out_bytes(&w) - before, (GOOD1 + GOOD2) * TD_LEN);
	cancel_then_stream(&w);
	stack_down(&w.st);
}

/*
 * A run of missed TDs at the end of the queue, reported with a NULL TRB
 * Pointer: no TD event follows, the Ring Underrun (OUT) or Overrun (IN) of
 * the empty ring ends the run (xHCI 1.2 §4.10.3.1).
 */
static void missed_run_at_end(uint8_t addr)
{
	enum { GOOD = 2, MISS = 3, N = GOOD + MISS };
	static struct td t[N];
	struct sim_config cfg = { .missed_service_null = true };
	struct iso w;

	iso_up(&w, &cfg, addr);
	td_submit(&w, t, GOOD, 0);
	td_submit(&w, t + GOOD, MISS, -3);
	td_wait(&w, t, N);
	for (unsigned i = 0; i < N; i++)
		td_check(t, i, i + 1, i >= GOOD ? BU_EMISSED : 0);
	cancel_then_stream(&w);
	stack_down(&w.st);
}

/* How the model reports a run of missed TDs, and on which endpoint. */
static const struct missed_case {
	bool run;     /* one event for the run, naming its last TD (Intel PCH) */
	bool null;    /* one event for the run, with a NULL TRB Pointer */
	uint8_t addr; /* isoch OUT 0x03 or IN 0x83 */
} missed_cases[] = {
	{ false, false, 0x03 }, /* one event per TD: the sim's default, the control case */
	{ true, false, 0x03 },
	{ true, false, 0x83 },
	{ false, true, 0x03 },
	{ false, true, 0x83 },
};

START_TEST(test_missed_run)
{
	const struct missed_case *c = &missed_cases[_i];
	struct sim_config cfg = { .missed_service_run = c->run, .missed_service_null = c->null };

	missed_run(&cfg, c->addr);
}
END_TEST

/* A NULL-pointer run at the end of the queue, OUT (Ring Underrun) and IN (Ring Overrun). */
START_TEST(test_missed_run_then_empty)
{
	missed_run_at_end(_i ? 0x83 : 0x03);
}
END_TEST

static Suite *isoch_events_suite(void)
{
	Suite *s = suite_create("isoch_events");
	TCase *m = tcase_create("missed");

	tcase_add_loop_test(m, test_missed_run, 0,
			    (int)(sizeof(missed_cases) / sizeof(missed_cases[0])));
	tcase_add_loop_test(m, test_missed_run_then_empty, 0, 2);
	suite_add_tcase(s, m);
	return s;
}

int main(void)
{
	return run_suite(isoch_events_suite());
}
