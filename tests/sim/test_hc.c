/*
 * The controller itself under stress, the real driver on the sim: a reset
 * that takes seconds or never ends (xHCI §4.2), a controller that halts
 * on its own (§5.4.2), more events than one poll should handle, and an
 * Event Ring of several segments (§4.9.4, §6.5) lap after lap, with the
 * model's own checks of the ERST and ERDP driven register by register.
 */
#include "harness.h"

/* ------------------------------------------------------------------------ */
/* Log capture                                                              */

/* The last LOG_KEPT lines logged. */
#define LOG_KEPT 128
struct log_lines {
	char text[LOG_KEPT][240];
	unsigned n;
};

static void log_keep(void *ctx, int level, const char *line)
{
	struct log_lines *l = ctx;

	(void)level;
	snprintf(l->text[l->n++ % LOG_KEPT], sizeof(l->text[0]), "%s", line);
}

/* Kept lines that contain `needle`. */
static unsigned log_count(const struct log_lines *l, const char *needle)
{
	unsigned c = 0;

	for (unsigned i = 0; i < l->n && i < LOG_KEPT; i++)
		c += strstr(l->text[i], needle) != NULL;
	return c;
}

/* Hand the sim's INFO (and more severe) lines, the driver's too, to `l`. */
static void log_to(struct sim_config *cfg, struct log_lines *l)
{
	memset(l, 0, sizeof(*l));
	cfg->log_level = BU_LOG_INFO;
	cfg->log_fn = log_keep;
	cfg->log_ctx = l;
}

/* bu_xhci_create on `sim` with default options; *us is how long it took. */
static int create_timed(struct sim *sim, struct bu_usb_bus **bus, uint64_t *us)
{
	struct bu_xhci_options o = { 0 };
	uint64_t t0 = sim_now_us(sim);
	int r;

	sim_pci_identity(sim, &o.pci); /* the quirks of the personality's part */
	r = bu_xhci_create(sim_regs_base(sim), sim_platform(sim), &o, 0, bus);

	*us = sim_now_us(sim) - t0;
	return r;
}

/* ------------------------------------------------------------------------ */
/* HCRST                                                                    */

/* A part whose HCRST takes 3 s (Linux allows 10 s at init): the default
 * wait covers it, and says it is still waiting once a second. */
START_TEST(test_reset_takes_3s)
{
	struct sim_config cfg = { .reset_us = 3000000 };
	struct log_lines log;
	struct stack st = { 0 };
	uint64_t took;

	log_to(&cfg, &log);
	st.sim = sim_create(&cfg);
	ck_assert_int_eq(create_timed(st.sim, &st.bus, &took), 0);
	ck_assert_uint_ge(took, 3000000);
	ck_assert_uint_eq(log_count(&log, "still waiting for the reset (HCRST)"), 2);
	stack_down(&st);
}
END_TEST

/* HCRST never clears: bu_xhci_create gives up after the 10 s bound, says
 * why, and leaves nothing allocated. */
START_TEST(test_reset_never_completes)
{
	struct sim_config cfg = { 0 };
	struct log_lines log;
	struct stack st = { 0 };
	uint64_t took;

	log_to(&cfg, &log);
	st.sim = sim_create(&cfg);
	sim_fault_hcrst_stuck(st.sim, true);
	ck_assert_int_eq(create_timed(st.sim, &st.bus, &took), BU_ETIMEDOUT);
	ck_assert_ptr_null(st.bus);
	ck_assert_uint_ge(took, 10000000);
	ck_assert_uint_lt(took, 10100000);
	ck_assert_uint_eq(log_count(&log, "still waiting for the reset (HCRST)"), 9);
	ck_assert_uint_eq(log_count(&log, "reset did not complete in 10000 ms: USBCMD.HCRST still 1"), 1);
	stack_down(&st);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* A controller that halts on its own                                       */

struct done_count {
	unsigned calls;
	int status;
};

static void count_xfer(struct bu_usb_xfer *x)
{
	struct done_count *d = x->ctx;

	d->calls++;
	d->status = x->status;
}

static void count_cmd(struct bu_usb_device *dev, void *ctx, int status)
{
	struct done_count *d = ctx;

	(void)dev;
	d->calls++;
	d->status = status;
}

/* USBSTS.HCH=1 with no HSE or HCE: the pending transfers and the pending
 * command complete with BU_ESHUTDOWN exactly once, the bus is failed, and
 * the log says why with USBSTS decoded. */
START_TEST(test_halt_unexpected)
{
	struct sim_config cfg = { 0 };
	struct log_lines log;
	struct stack st;
	struct bu_usb_device *dev;
	struct bu_usb_xfer x[3];
	struct done_count xd[3] = { { 0 } }, cd = { 0 };
	uint8_t rep[3][8];
	int r = 0;

	log_to(&cfg, &log);
	stack_up(&st, &cfg, 0);
	sim_attach(st.sim, sim_usb2_port(st.sim, 1), &sim_dev_hid_kbd, SIM_SPEED_FULL);
	ck_assert(settle(&st, 3000));
	dev = find_pid(&st, 0x1209, 0);
	ck_assert_ptr_nonnull(dev);
	for (int i = 0; i < 3; i++) { /* no key pressed: they stay pending */
		memset(&x[i], 0, sizeof(x[i]));
		x[i].ep = bu_usb_find_endpoint(dev, 0x81);
		x[i].buf = rep[i];
		x[i].len = sizeof(rep[i]);
		x[i].complete = count_xfer;
		x[i].ctx = &xd[i];
		ck_assert_int_eq(bu_usb_xfer_submit(&x[i]), 0);
	}
	/* A command the core issues (Evaluate Context), here through the
	 * ops table so that its callback can be counted; it hangs. */
	sim_fault_cmd_hang(st.sim, XHCI_TRB_EVALUATE_CTX);
	ck_assert_int_eq(st.bus->ops->dev_update_ep0(dev, count_cmd, &cd), 0);
	run_ms(&st, 5);
	ck_assert_uint_eq(xd[0].calls + xd[1].calls + xd[2].calls + cd.calls, 0);

	sim_fault_halt(st.sim);
	for (int i = 0; i < 10 && r == 0; i++) {
		r = bu_usb_bus_poll(st.bus);
		sim_advance_us(st.sim, 1000);
	}
	ck_assert_int_eq(r, BU_ESHUTDOWN);
	ck_assert(st.bus->failed);
	for (int i = 0; i < 10; i++) /* later polls complete nothing twice */
		ck_assert_int_eq(bu_usb_bus_poll(st.bus), BU_ESHUTDOWN);
	for (int i = 0; i < 3; i++) {
		ck_assert_uint_eq(xd[i].calls, 1);
		ck_assert_int_eq(xd[i].status, BU_ESHUTDOWN);
	}
	ck_assert_uint_eq(cd.calls, 1);
	ck_assert_int_eq(cd.status, BU_ESHUTDOWN);
	ck_assert_uint_eq(log_count(&log, "controller failed: controller halted unexpectedly (USBSTS"), 1);
	ck_assert_uint_eq(log_count(&log, "HCH"), 1);
	ck_assert_int_eq(bu_usb_xfer_submit(&x[0]), BU_ESHUTDOWN);
	stack_down(&st);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* The firehose: numbered 8-byte records on bulk IN, always ready           */

static const uint8_t fh_dev[] = { SIM_D_DEVICE(0x0200, 0, 0, 0, 64, 0x1209, 0xb0f0, 0x0100, 0, 0,
					       0, 1) };
static const uint8_t fh_qual[] = { SIM_D_QUALIFIER(0x0200, 0, 0, 0, 64, 1) };
static const uint8_t fh_cfg[] = {
	SIM_D_CONFIG(1, 1, 0, 0x80, 50),
	SIM_D_INTERFACE(0, 0, 1, 0xff, 0, 0, 0),
	SIM_D_ENDPOINT(0x81, SIM_EP_BULK, 512, 0),
};

/* Bulk IN 0x81 is always ready: record n is LE32 n, then LE32 ~n. */
static int fh_in(struct sim_device *d, uint8_t ep, uint8_t *buf, uint16_t max)
{
	uint32_t *seq = sim_device_priv(d);
	uint32_t rec[2] = { *seq, ~*seq };

	if (ep != 0x81 || max < sizeof(rec))
		return SIM_STALL;
	(*seq)++;
	memcpy(buf, rec, sizeof(rec));
	return (int)sizeof(rec);
}

static const struct sim_device_model fh_model = {
	.name = "firehose",
	.high = { .device = SIM_BLOB(fh_dev), .configs = { SIM_BLOB(fh_cfg) },
		  .qualifier = SIM_BLOB(fh_qual) },
	.priv_size = sizeof(uint32_t),
	.in = fh_in,
};

/* Records read from the firehose, checked as they complete. */
struct stream {
	struct bu_usb_xfer *x;
	uint8_t (*buf)[8];
	unsigned slots;     /* transfers in flight at most */
	unsigned total;     /* records to read in all */
	unsigned submitted;
	unsigned done;      /* records seen, in order */
	unsigned bad;       /* a record out of order, or a transfer that failed */
	struct sim *sim;
	unsigned work_us;   /* virtual time each completion takes, as a real handler's work */
};

static void stream_submit(struct stream *s, unsigned slot);

static void stream_done(struct bu_usb_xfer *x)
{
	struct stream *s = x->ctx;
	uint32_t rec[2];

	memcpy(rec, x->buf, sizeof(rec));
	if (x->status || x->actual != 8 || rec[0] != s->done || rec[1] != ~s->done)
		s->bad++;
	s->done++;
	sim_advance_us(s->sim, s->work_us);
	if (s->submitted < s->total)
		stream_submit(s, (unsigned)(x - s->x));
}

static void stream_submit(struct stream *s, unsigned slot)
{
	ck_assert_int_eq(bu_usb_xfer_submit(&s->x[slot]), 0);
	s->submitted++;
}

/* Bring up a stack with the firehose on a USB 2 port at high speed, and
 * queue `slots` reads of the `total` records. */
static void stream_start(struct stack *st, struct stream *s, const struct sim_config *cfg,
			 const struct bu_xhci_options *o, unsigned slots, unsigned total)
{
	struct bu_usb_device *dev;

	stack_up_opts(st, cfg, o, 0);
	ck_assert_ptr_nonnull(sim_attach(st->sim, sim_usb2_port(st->sim, 1), &fh_model,
					 SIM_SPEED_HIGH));
	ck_assert(settle(st, 3000));
	dev = find_pid(st, 0x1209, 0xb0f0);
	ck_assert_ptr_nonnull(dev);
	memset(s, 0, sizeof(*s));
	s->x = calloc(slots, sizeof(*s->x));
	s->buf = calloc(slots, sizeof(*s->buf));
	s->slots = slots;
	s->total = total;
	s->sim = st->sim;
	for (unsigned i = 0; i < slots; i++) {
		s->x[i].ep = bu_usb_find_endpoint(dev, 0x81);
		s->x[i].buf = s->buf[i];
		s->x[i].len = 8;
		s->x[i].complete = stream_done;
		s->x[i].ctx = s;
	}
	for (unsigned i = 0; i < slots && s->submitted < total; i++)
		stream_submit(s, i);
}

static void stream_end(struct stack *st, struct stream *s)
{
	ck_assert_msg(s->bad == 0, "%u records lost, repeated or failed", s->bad);
	ck_assert_uint_eq(s->done, s->total);
	stack_down(st);
	free(s->x);
	free(s->buf);
}

/* ERSTSZ as the driver programmed it: the Event Ring's segment count. */
static unsigned erstsz(struct stack *st)
{
	const struct bu_platform *p = sim_platform(st->sim);
	uintptr_t base = sim_regs_base(st->sim);
	uintptr_t rt = base + (p->read32(p->ctx, base + XHCI_CAP_RTSOFF) & ~0x1fu);

	return p->read32(p->ctx, rt + XHCI_RT_IR(0) + XHCI_IR_ERSTSZ) & 0xffff;
}

/* The segments the driver should use: 4, or fewer when ERST Max allows
 * fewer (a personality may have set it: QEMU's is 0). */
static unsigned segs_expected(struct stack *st)
{
	const struct bu_platform *p = sim_platform(st->sim);
	uint32_t hcsparams2 = p->read32(p->ctx, sim_regs_base(st->sim) + XHCI_CAP_HCSPARAMS2);
	unsigned erst_max = XHCI_HCSPARAMS2_ERST_MAX(hcsparams2);

	return erst_max >= 2 ? 4 : 1u << erst_max;
}

/* ------------------------------------------------------------------------ */
/* Events per poll                                                          */

/*
 * A busy stream: 1500 reads in flight, each completion taking 2 us of the
 * handler's time, each resubmitted until 4000 records are read. The device
 * answers in about 1 us, faster than the driver handles the events, so
 * draining "until none are left" would not end before the stream does. No
 * poll may handle more than one Event Ring's worth; one that stops there
 * returns 1 and the next goes on where it stopped; every record arrives
 * once, in order, with no violation of the model's ERDP checks.
 * _i 0: one segment (ERST Max 0, as QEMU); 1: four (unless a
 * personality's ERST Max allows fewer); 2: the same, and the embedder
 * polls only after an interrupt or a poll that returned 1.
 */
START_TEST(test_event_burst_bounded)
{
	struct sim_config cfg = { .erst_max_zero = _i == 0 };
	struct bu_xhci_options o = { .xfer_ring_trbs = 2048, .irq = _i == 2 };
	struct stack st;
	struct stream s;
	struct sim_stats ss;
	uint64_t irqs = 0;
	unsigned bound, bounded = 0, polls = 0;
	int rc = 0;

	stream_start(&st, &s, &cfg, &o, 1500, 4000);
	s.work_us = 2;
	ck_assert_uint_eq(erstsz(&st), segs_expected(&st));
	bound = erstsz(&st) * 256;
	for (unsigned t = 0; t < 200000 && s.done < s.total; t++) {
		unsigned before = s.done;

		sim_get_stats(st.sim, &ss);
		if (_i == 2 && rc != 1 && ss.irqs == irqs) {
			sim_advance_us(st.sim, 20);
			continue;
		}
		irqs = ss.irqs;
		if (_i == 2)
			bu_xhci_irq(st.bus);
		rc = bu_usb_bus_poll(st.bus);
		polls++;
		ck_assert_int_ge(rc, 0);
		ck_assert_msg(s.done - before <= bound, "poll %u handled %u events, more than the %u of one Event Ring",
			      polls, s.done - before, bound);
		bounded += rc == 1;
		if (rc == 0)
			sim_advance_us(st.sim, 20);
	}
	ck_assert_uint_ge(bounded, 3);
	stream_end(&st, &s);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Event Ring segments                                                      */

/*
 * Segments of 16 TRBs, as many as ERST Max allows up to 4 (_i 0: ERST
 * Max 0, one; 1: ERST Max 1, two; 2: the default 4, four; a personality
 * may allow fewer), and 2500
 * records read 48 at a time: the ring goes round dozens of laps, across
 * every segment boundary and every cycle toggle, with the model checking
 * each ERDP (inside the ring, DESI naming its segment, no further than
 * the events posted).
 */
START_TEST(test_event_ring_laps)
{
	struct sim_config cfg = { .erst_max_zero = _i == 0, .erst_max = _i == 1 ? 1 : 0 };
	struct bu_xhci_options o = { .event_ring_trbs = 16 };
	struct stack st;
	struct stream s;
	struct sim_stats ss;
	unsigned nsegs;

	stream_start(&st, &s, &cfg, &o, 48, 2500);
	nsegs = erstsz(&st);
	ck_assert_uint_eq(nsegs, segs_expected(&st));
	for (unsigned t = 0; t < 100000 && s.done < s.total; t++) {
		bu_usb_bus_poll(st.bus);
		sim_advance_us(st.sim, 50);
	}
	sim_get_stats(st.sim, &ss);
	ck_assert_msg(ss.events / (16 * nsegs) >= 2500 / 64, "%u events: not even 39 laps",
		      ss.events);
	stream_end(&st, &s);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* The model's Event Ring, register by register                             */

struct regs {
	struct sim *sim;
	const struct bu_platform *p;
	uintptr_t op, ir, db;
	uint32_t *erst;
	uint64_t erst_bus;
};

static void r_wr(struct regs *r, uintptr_t a, uint32_t v)
{
	r->p->write32(r->p->ctx, a, v);
}

static void r_wr64(struct regs *r, uintptr_t a, uint64_t v)
{
	r_wr(r, a, (uint32_t)v);
	r_wr(r, a + 4, (uint32_t)(v >> 32));
}

static void *r_alloc(struct regs *r, size_t n, size_t align, uint64_t *bus)
{
	void *p;

	n = (n + 63) & ~(size_t)63; /* whole cache lines, as the library asks */
	p = r->p->dma_alloc(r->p->ctx, n, align < 64 ? 64 : align, 0, UINT64_MAX, bus);

	ck_assert_ptr_nonnull(p);
	memset(p, 0, n);
	return p;
}

/* A plain model (no personality) past CNR, ready for ERSTSZ/ERDP/ERSTBA;
 * its ERST has room for 8. */
static void r_setup(struct regs *r, const struct sim_config *cfg)
{
	struct sim_config c = { 0 };
	uintptr_t base;

	if (cfg)
		c = *cfg;
	c.personality = SIM_PERSONALITY_NONE;
	c.coherent = true; /* the test writes the ERST itself, no cache maintenance */
	r->sim = sim_create(&c);
	r->p = sim_platform(r->sim);
	base = sim_regs_base(r->sim);
	r->op = base + (r->p->read32(r->p->ctx, base) & 0xff);
	r->ir = base + (r->p->read32(r->p->ctx, base + XHCI_CAP_RTSOFF) & ~0x1fu) + XHCI_RT_IR(0);
	r->db = base + (r->p->read32(r->p->ctx, base + XHCI_CAP_DBOFF) & ~0x3u);
	sim_advance_us(r->sim, 5000);
	r->erst = r_alloc(r, 8 * 16, 64, &r->erst_bus);
}

/* ERST entry i: `trbs` TRBs at `bus`. */
static void r_seg(struct regs *r, unsigned i, uint64_t bus, uint32_t trbs)
{
	r->erst[i * 4] = (uint32_t)bus;
	r->erst[i * 4 + 1] = (uint32_t)(bus >> 32);
	r->erst[i * 4 + 2] = trbs;
}

/* ERSTSZ, ERDP (at `erdp`), then ERSTBA (§4.9.4). */
static void r_program(struct regs *r, unsigned erstsz, uint64_t erdp)
{
	r_wr(r, r->ir + XHCI_IR_ERSTSZ, erstsz);
	r_wr64(r, r->ir + XHCI_IR_ERDP, erdp);
	r_wr64(r, r->ir + XHCI_IR_ERSTBA, r->erst_bus);
}

/* The model recorded `violation`; then it goes. */
static void r_done(struct regs *r, const char *violation)
{
	print_violations(r->sim);
	ck_assert_msg(sim_has_violation(r->sim, violation), "no violation \"%s\"", violation);
	sim_destroy(r->sim);
}

/* ERSTSZ above 2^ERSTMax: Host Controller Error (QEMU's, for ERSTSZ != 1).
 * _i 0: ERST Max 0 and two segments; 1: ERST Max 1 and three. */
START_TEST(test_model_erstsz_over_erst_max)
{
	struct sim_config cfg = { .erst_max_zero = _i == 0, .erst_max = 1 };
	struct regs r;
	uint64_t seg[3];

	r_setup(&r, &cfg);
	for (unsigned i = 0; i < 3; i++) {
		r_alloc(&r, 16 * 16, 64, &seg[i]);
		r_seg(&r, i, seg[i], 16);
	}
	r_program(&r, _i == 0 ? 2 : 3, seg[0]);
	ck_assert(sim_usbsts(r.sim) & XHCI_USBSTS_HCE);
	r_done(&r, "ERSTSZ larger than 2^ERSTMax");
}
END_TEST

/* A segment that is not 64-byte aligned (_i 0), or crosses 64 KiB (_i 1). */
START_TEST(test_model_segment_placement)
{
	struct regs r;
	uint64_t block;

	r_setup(&r, NULL);
	r_alloc(&r, 0x20000, 0x10000, &block);
	r_seg(&r, 0, block, 16);
	if (_i == 0)
		r_seg(&r, 1, block + 0x1010, 16);
	else
		r_seg(&r, 1, block + 0xff00, 32);
	r_program(&r, 2, block);
	r_done(&r, _i == 0 ? "not 64-byte aligned" : "crosses a 64 KiB boundary");
}
END_TEST

/* ERDP outside the ring (_i 0); ERDP whose DESI is not its segment's (_i 1). */
START_TEST(test_model_erdp_checked)
{
	struct regs r;
	uint64_t s0, s1, other;

	r_setup(&r, NULL);
	r_alloc(&r, 16 * 16, 64, &s0);
	r_alloc(&r, 16 * 16, 64, &s1);
	r_alloc(&r, 16 * 16, 64, &other);
	r_seg(&r, 0, s0, 16);
	r_seg(&r, 1, s1, 16);
	r_program(&r, 2, s0);
	r_wr64(&r, r.ir + XHCI_IR_ERDP, s0); /* DESI 0 for segment 0: right */
	ck_assert_uint_eq(sim_violations(r.sim), 0);
	if (_i == 0) {
		r_wr64(&r, r.ir + XHCI_IR_ERDP, other);
		r_done(&r, "outside the event ring");
	} else {
		r_wr64(&r, r.ir + XHCI_IR_ERDP, s0 | 1);
		r_done(&r, "is in ERST segment 0 but DESI says 1");
	}
}
END_TEST

/* Where the consumer is: segment, TRB in it, lap. */
struct r_pos {
	unsigned seg, idx, lap;
};

/* Step past one TRB of segments sized `size[0..n-1]`. */
static void r_pos_next(struct r_pos *c, const uint32_t *size, unsigned n)
{
	if (++c->idx < size[c->seg])
		return;
	c->idx = 0;
	if (++c->seg == n) {
		c->seg = 0;
		c->lap++;
	}
}

/*
 * Three segments of 16, 32 and 16 TRBs: 70 No-Op completions fill segment
 * 0, then 1, then 2 with cycle bit 1, then segment 0 again with cycle bit
 * 0 (§4.9.4: no Link TRBs; the cycle toggles after the last segment only).
 */
START_TEST(test_model_segments_walk)
{
	static const uint32_t size[3] = { 16, 32, 16 };
	struct regs r;
	struct r_pos c = { 0, 0, 0 };
	uint32_t *seg[3], *cmd;
	uint64_t bus[3], cmd_bus, dcbaa_bus;

	r_setup(&r, NULL);
	for (unsigned i = 0; i < 3; i++) {
		seg[i] = r_alloc(&r, 16 * size[i], 64, &bus[i]);
		r_seg(&r, i, bus[i], size[i]);
	}
	r_alloc(&r, 64, 64, &dcbaa_bus);
	cmd = r_alloc(&r, 128 * 16, 64, &cmd_bus);
	r_wr(&r, r.op + XHCI_OP_CONFIG, 1);
	r_wr64(&r, r.op + XHCI_OP_DCBAAP, dcbaa_bus);
	r_wr64(&r, r.op + XHCI_OP_CRCR, cmd_bus | XHCI_CRCR_RCS);
	r_program(&r, 3, bus[0]);
	r_wr(&r, r.op + XHCI_OP_USBCMD, XHCI_USBCMD_RUN);
	sim_advance_us(r.sim, 100);
	for (unsigned i = 0; i < 70; i++)
		cmd[i * 4 + 3] = XHCI_TRB_TYPE_SET(XHCI_TRB_NOOP_CMD) | XHCI_TRB_C;
	r_wr(&r, r.db, 0);
	for (unsigned n = 0; n < 70; n++) {
		uint32_t *t = seg[c.seg] + 4 * c.idx;
		uint32_t cycle = c.lap & 1 ? 0 : 1;

		for (unsigned w = 0; w < 100 && (t[3] & XHCI_TRB_C) != cycle; w++)
			sim_advance_us(r.sim, 50);
		ck_assert_msg((t[3] & XHCI_TRB_C) == cycle, "event %u is not at segment %u TRB %u, lap %u",
			      n, c.seg, c.idx, c.lap);
		ck_assert_uint_eq(XHCI_TRB_TYPE(t[3]), XHCI_TRB_CMD_COMPLETION);
		ck_assert_uint_eq(XHCI_EVT_CC(t[2]), XHCI_CC_SUCCESS);
		r_pos_next(&c, size, 3);
		r_wr64(&r, r.ir + XHCI_IR_ERDP, (bus[c.seg] + 16ull * c.idx) | c.seg);
	}
	ck_assert_uint_eq(c.lap, 1);
	ck_assert_uint_eq(sim_violations(r.sim), 0);
	sim_destroy(r.sim);
}
END_TEST

static Suite *hc_suite(void)
{
	Suite *s = suite_create("hc");
	TCase *reset = tcase_create("reset");
	TCase *halt = tcase_create("halt");
	TCase *events = tcase_create("events");
	TCase *model = tcase_create("model");

	tcase_add_test(reset, test_reset_takes_3s);
	tcase_add_test(reset, test_reset_never_completes);
	tcase_add_test(halt, test_halt_unexpected);
	tcase_add_loop_test(events, test_event_burst_bounded, 0, 3);
	tcase_add_loop_test(events, test_event_ring_laps, 0, 3);
	tcase_add_loop_test(model, test_model_erstsz_over_erst_max, 0, 2);
	tcase_add_loop_test(model, test_model_segment_placement, 0, 2);
	tcase_add_loop_test(model, test_model_erdp_checked, 0, 2);
	tcase_add_test(model, test_model_segments_walk);
	suite_add_tcase(s, reset);
	suite_add_tcase(s, halt);
	suite_add_tcase(s, events);
	suite_add_tcase(s, model);
	return s;
}

int main(void)
{
	return run_suite(hc_suite());
}
