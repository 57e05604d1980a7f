/*
 * TRB layout rules real controllers enforce, with the real stack on the
 * model. Rings of 16 TRBs and DMA mappings split at 4 KiB pages put TDs of
 * odd sizes across the Transfer Ring's Link TRB at every position:
 *  - a TD goes on past the Link TRB only where a TD fragment (Max Packet
 *    Size x (Max Burst + 1) bytes) ends (xHCI 1.2 §4.11.7.1): bulk at high
 *    and SuperSpeed, zero-length packets, control Data Stages, isochronous
 *    TDs, chunks shorter than a packet right before the wrap;
 *  - xHCI 0.96 controllers: TD Size counts KiB, an Isoch TRB's TBC and
 *    TLBPC are reserved, and AMD's want CH on every Link TRB of an
 *    isochronous ring (BU_XHCI_QUIRK_ISOC_LINK_CHAIN);
 *  - xHCI 0.95 controllers want CH on every Link TRB of every ring.
 * The model records a violation for each broken rule; stack_down fails on
 * any.
 */
#include "harness.h"

#define PAGE 4096u
#define RING_TRBS 16

static uint8_t out_buf[8 * PAGE] __attribute__((aligned(PAGE)));
static uint8_t in_buf[8 * PAGE] __attribute__((aligned(PAGE)));

/* A stack on a controller with small rings and page-split mappings. */
struct rig {
	struct stack st;
	struct sim_device *sd;
	struct bu_usb_device *dev;
	struct bu_usb_endpoint *out, *in;
};

/*
 * Bring up `cfg` (map_split forced to a page) with options `o` (quirks,
 * PCI identity) and 16-TRB Transfer and Command Rings, attach `model` at
 * `speed` and wait until VID:PID 1209:`pid` is configured.
 */
static void rig_up(struct rig *r, struct sim_config cfg, struct bu_xhci_options o,
		   const struct sim_device_model *model, uint16_t pid, enum sim_speed speed)
{
	o.xfer_ring_trbs = o.cmd_ring_trbs = RING_TRBS;
	cfg.map_split = PAGE;
	stack_up_opts(&r->st, &cfg, &o, 0);
	r->sd = sim_attach(r->st.sim,
			   speed == SIM_SPEED_SUPER ? sim_usb3_port(r->st.sim, 1)
						    : sim_usb2_port(r->st.sim, 1),
			   model, speed);
	ck_assert_ptr_nonnull(r->sd);
	ck_assert(settle(&r->st, 5000));
	r->dev = find_pid(&r->st, 0x1209, pid);
	ck_assert_ptr_nonnull(r->dev);
	ck_assert_int_eq(r->dev->state, BU_DEV_CONFIGURED);
}

/* The WinUSB loopback device (bulk OUT 0x01 to bulk IN 0x81) at `speed`. */
static void loop_up(struct rig *r, struct sim_config cfg, struct bu_xhci_options o,
		    enum sim_speed speed)
{
	rig_up(r, cfg, o, &sim_dev_winusb, 0xb010, speed);
	r->out = bu_usb_find_endpoint(r->dev, 0x01);
	r->in = bu_usb_find_endpoint(r->dev, 0x81);
	ck_assert(r->out && r->in);
}

/* Run one transfer on `ep` with `flags` to its end; returns its status. */
static int run_xfer(struct rig *r, struct bu_usb_endpoint *ep, void *buf, size_t len,
		    unsigned flags, size_t *actual)
{
	struct aio a;
	int rc;

	memset(&a, 0, sizeof(a));
	a.x.ep = ep;
	a.x.buf = buf;
	a.x.len = len;
	a.x.flags = flags;
	a.x.complete = aio_complete;
	a.x.ctx = &a;
	rc = bu_usb_xfer_submit(&a.x);
	ck_assert_msg(rc == 0, "submit of %zu bytes on %#04x: %d", len, ep->address, rc);
	ck_assert_msg(wait_flag(&r->st, &a.done, 2000), "%zu bytes on %#04x did not complete",
		      len, ep->address);
	*actual = a.x.actual;
	return a.x.status;
}

/*
 * Write `len` bytes starting `off` bytes into a page-aligned buffer and
 * read them back to the same offset of another: both TDs are split at page
 * boundaries. With `zlp` the write ends with a zero-length packet, which
 * ends the read (asked for a packet more) at the same byte.
 */
static void echo(struct rig *r, size_t off, size_t len, bool zlp)
{
	uint8_t *o = out_buf + off, *i = in_buf + off;
	size_t actual = 0, ask = len + (zlp ? r->in->mps : 0);

	ck_assert_uint_le(off + ask, sizeof(out_buf));
	for (size_t k = 0; k < len; k++)
		o[k] = (uint8_t)(k * 7 + len);
	memset(i, 0, ask);
	ck_assert_int_eq(run_xfer(r, r->out, o, len, zlp ? BU_XFER_ZLP : 0, &actual), 0);
	ck_assert_uint_eq(actual, len);
	ck_assert_int_eq(run_xfer(r, r->in, i, ask, 0, &actual), 0);
	ck_assert_uint_eq(actual, len);
	ck_assert_mem_eq(i, o, len);
}

/*
 * Odd sizes (700 bytes up to 700 + `spread`) at odd page offsets: TDs of 1
 * to 6 TRBs land across the wrap.
 */
static void echo_sweep(struct rig *r, unsigned rounds, unsigned spread)
{
	for (unsigned n = 0; n < rounds; n++)
		echo(r, (n * 1237u + 1) % PAGE, 700 + (n * 2917u) % spread, false);
	check_no_violations(r->st.sim);
}

/* ------------------------------------------------------------------------ */
/* TD fragments at the Link TRB (xHCI 1.2 §4.11.7.1)                        */

/* High-speed bulk (512-byte packets): the TRB before the Link is trimmed. */
START_TEST(test_bulk_wrap_hs)
{
	struct rig r;

	loop_up(&r, (struct sim_config){ 0 }, (struct bu_xhci_options){ 0 }, SIM_SPEED_HIGH);
	echo_sweep(&r, 40, 9000);
	stack_down(&r.st);
}
END_TEST

/* SuperSpeed bulk, burst 4: fragments of 4 KiB, longer than the first chunk. */
START_TEST(test_bulk_wrap_ss_burst)
{
	struct rig r;

	loop_up(&r, (struct sim_config){ 0 }, (struct bu_xhci_options){ 0 }, SIM_SPEED_SUPER);
	ck_assert_uint_eq(r.out->max_burst, 3);
	echo_sweep(&r, 40, 17000);
	stack_down(&r.st);
}
END_TEST

/* `rounds` calls of `round` on the high-speed loopback device; no violation. */
static void hs_rounds(void (*round)(struct rig *r, unsigned n), unsigned rounds)
{
	struct rig r;

	loop_up(&r, (struct sim_config){ 0 }, (struct bu_xhci_options){ 0 }, SIM_SPEED_HIGH);
	for (unsigned n = 0; n < rounds; n++)
		round(&r, n);
	check_no_violations(r.st.sim);
	stack_down(&r.st);
}

/*
 * A chunk shorter than a packet (100 bytes before a page end) is the TD's
 * first: where it falls on the ring's last TRB, nothing before it can end
 * a fragment and the TD moves past the Link behind No-Op TRBs. TDs of 3
 * TRBs on a 16-TRB ring start at every position.
 */
static void short_chunk_round(struct rig *r, unsigned n)
{
	echo(r, PAGE - 100, 100 + PAGE + 1 + n, false);
}

START_TEST(test_short_chunk_before_wrap)
{
	hs_rounds(short_chunk_round, 2 * RING_TRBS);
}
END_TEST

/* Bulk OUT of whole packets with a zero-length packet after the data. */
static void zlp_round(struct rig *r, unsigned n)
{
	echo(r, (n * 301u + 3) % PAGE, 512u * (1 + n % 9), true);
}

START_TEST(test_zlp_across_wrap)
{
	hs_rounds(zlp_round, 2 * RING_TRBS);
}
END_TEST

/*
 * Control transfers whose Data Stage starts 30 bytes before a page end
 * (64-byte packets on EP0): Setup, two data TRBs and Status, and every
 * other round a GET_STATUS of three TRBs, meet the Link at every position.
 */
static void control_round(struct rig *r, unsigned n)
{
	uint8_t *o = out_buf + PAGE - 30, *i = in_buf + PAGE - 30, st[2];
	uint16_t len = (uint16_t)(40 + (n * 37u) % 216);

	for (unsigned k = 0; k < len; k++)
		o[k] = (uint8_t)(n + k);
	memset(i, 0, len);
	ck_assert_int_eq(bu_usb_control(r->dev, 0x40, SIM_WINUSB_REQ_WRITE, 0, 0, o, len, 1000),
			 len);
	ck_assert_int_eq(bu_usb_control(r->dev, 0xc0, SIM_WINUSB_REQ_READ, 0, 0, i, len, 1000),
			 len);
	ck_assert_mem_eq(i, o, len);
	if (n % 2)
		ck_assert_int_eq(bu_usb_control(r->dev, 0x80, USB_REQ_GET_STATUS, 0, 0, st, 2, 1000),
				 2);
}

START_TEST(test_control_across_wrap)
{
	hs_rounds(control_round, 3 * RING_TRBS);
}
END_TEST

/*
 * TDs of 3 TRBs, each with a 100-byte first chunk, queued until the ring is
 * full, from many start positions (`round` one-TRB echoes move it first):
 * whether one fits counts the No-Ops that move it past the Link, the ring
 * says BU_ENOSPC (not BU_EINVAL) once full, and all of them complete.
 */
#define QMAX 8
static uint8_t q_buf[2][2 * QMAX * PAGE] __attribute__((aligned(PAGE)));

/* Queue TDs on `ep` from q_buf[`dir`] until the ring is full; returns how many. */
static unsigned queue_until_full(struct rig *r, struct bu_usb_endpoint *ep, unsigned dir,
				 struct aio *a)
{
	unsigned n = 0;
	int rc = 0;

	for (; n < QMAX; n++) {
		size_t len = 100 + PAGE + 1 + n;

		rc = aio_submit(&a[n], ep, q_buf[dir] + (2 * n + 1) * PAGE - 100, len, 0, NULL);
		if (rc)
			break;
	}
	ck_assert_int_eq(rc, BU_ENOSPC);
	ck_assert_uint_ge(n, 3);
	for (unsigned k = 0; k < n; k++) {
		ck_assert(wait_flag(&r->st, &a[k].done, 2000));
		ck_assert_int_eq(a[k].x.status, 0);
		ck_assert_uint_eq(a[k].x.actual, a[k].x.len);
	}
	return n;
}

START_TEST(test_full_ring_with_padding)
{
	struct rig r;
	struct aio a[QMAX];

	loop_up(&r, (struct sim_config){ 0 }, (struct bu_xhci_options){ 0 }, SIM_SPEED_HIGH);
	for (unsigned round = 0; round < RING_TRBS; round++) {
		for (unsigned k = 0; k < round; k++)
			echo(&r, 8, 64, false);
		for (size_t k = 0; k < sizeof(q_buf[0]); k++)
			q_buf[0][k] = (uint8_t)(k * 13 + round);
		memset(q_buf[1], 0, sizeof(q_buf[1]));
		unsigned n = queue_until_full(&r, r.out, 0, a);
		ck_assert_uint_eq(queue_until_full(&r, r.in, 1, a), n);
		for (unsigned k = 0; k < n; k++) {
			size_t at = (2 * k + 1) * PAGE - 100;
			ck_assert_mem_eq(q_buf[1] + at, q_buf[0] + at, 100 + PAGE + 1 + k);
		}
	}
	check_no_violations(r.st.sim);
	stack_down(&r.st);
}
END_TEST

/* The WinUSB device's alternate setting 1: isochronous IN 0x83 and OUT 0x03 (256-byte packets). */
static void isoch_alt_up(struct rig *r)
{
	ck_assert_int_eq(bu_usb_set_interface(r->dev, 0, 1), 0);
	r->in = bu_usb_find_endpoint(r->dev, 0x83);
	r->out = bu_usb_find_endpoint(r->dev, 0x03);
	ck_assert(r->in && r->out && r->in->type == BU_EP_ISOCH);
}

/*
 * One-packet isochronous TDs, every third in one chunk, the others split
 * 100 + 156 bytes across a page: TDs of 1 and 2 TRBs at every position.
 * IN data is the device's pattern (byte i of packet n is n + i).
 */
static void isoch_sweep(struct rig *r, unsigned rounds)
{
	uint32_t out_before = sim_winusb_iso_out_bytes(r->sd);
	size_t actual;

	for (unsigned n = 0; n < rounds; n++) {
		size_t off = n % 3 ? PAGE - 100 : 8;
		uint8_t *i = in_buf + off;

		ck_assert_int_eq(run_xfer(r, r->in, i, 256, BU_XFER_ISOCH_ASAP, &actual), 0);
		ck_assert_uint_eq(actual, 256);
		for (unsigned k = 1; k < 256; k++)
			ck_assert_uint_eq(i[k], (uint8_t)(i[0] + k));
		memset(out_buf + off, (int)n, 256);
		ck_assert_int_eq(run_xfer(r, r->out, out_buf + off, 256, BU_XFER_ISOCH_ASAP,
					  &actual), 0);
	}
	ck_assert_uint_eq(sim_winusb_iso_out_bytes(r->sd) - out_before, rounds * 256u);
	check_no_violations(r->st.sim);
}

START_TEST(test_isoch_across_wrap)
{
	struct rig r;

	loop_up(&r, (struct sim_config){ 0 }, (struct bu_xhci_options){ 0 }, SIM_SPEED_HIGH);
	isoch_alt_up(&r);
	isoch_sweep(&r, 3 * RING_TRBS);
	stack_down(&r.st);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* xHCI 0.96 and 0.95 controllers                                           */

/* Multi-TRB bulk TDs on a 0.96 part: TD Size in KiB left, this TRB included. */
START_TEST(test_v096_bulk)
{
	struct rig r;

	loop_up(&r, (struct sim_config){ .hci_version = 0x0096 }, (struct bu_xhci_options){ 0 },
		SIM_SPEED_HIGH);
	echo_sweep(&r, 24, 9000);
	stack_down(&r.st);
}
END_TEST

/*
 * A high-bandwidth high-speed isochronous IN endpoint (3 x 1024 bytes a
 * microframe) and a SuperSpeed one (1024-byte packets, burst 2, Mult 1):
 * TDs of several packets, where xHCI 1.0 sets TLBPC (and TBC) and 0.96
 * reserves them. Byte i of packet n is n + i.
 */
#define HBW_VID 0x1209
#define HBW_PID 0xb0b0
static const uint8_t hbw_dev_hs[] = { SIM_D_DEVICE(0x0200, 0, 0, 0, 64, HBW_VID, HBW_PID,
						   0x0100, 0, 0, 0, 1) };
static const uint8_t hbw_dev_ss[] = { SIM_D_DEVICE(0x0300, 0, 0, 0, 9, HBW_VID, HBW_PID,
						   0x0100, 0, 0, 0, 1) };
static const uint8_t hbw_cfg_hs[] = {
	SIM_D_CONFIG(1, 1, 0, 0x80, 50),
	SIM_D_INTERFACE(0, 0, 1, 0xff, 0, 0, 0),
	SIM_D_ENDPOINT(0x81, SIM_EP_ISOCH, 1024 | (2 << 11), 1),
};
static const uint8_t hbw_cfg_ss[] = {
	SIM_D_CONFIG(1, 1, 0, 0x80, 12),
	SIM_D_INTERFACE(0, 0, 1, 0xff, 0, 0, 0),
	SIM_D_ENDPOINT(0x81, SIM_EP_ISOCH, 1024, 1), SIM_D_SS_COMP(1, 1, 4096),
};
static const uint8_t hbw_bos[] = {
	SIM_D_BOS(2),
	SIM_D_USB2_EXT(0),
	SIM_D_SS_CAP(0, 0x000e, 1, 0x0a, 0x07ff),
};

static int hbw_in(struct sim_device *d, uint8_t ep, uint8_t *buf, uint16_t max)
{
	unsigned *seq = sim_device_priv(d);

	if (ep != 0x81)
		return SIM_STALL;
	for (unsigned k = 0; k < max; k++)
		buf[k] = (uint8_t)(*seq + k);
	++*seq;
	return max;
}

static const struct sim_device_model hbw_model = {
	.name = "isoch-hbw",
	.high = { .device = SIM_BLOB(hbw_dev_hs), .configs = { SIM_BLOB(hbw_cfg_hs) } },
	.super = { .device = SIM_BLOB(hbw_dev_ss), .configs = { SIM_BLOB(hbw_cfg_ss) } },
	.bos = SIM_BLOB(hbw_bos),
	.priv_size = sizeof(unsigned),
	.in = hbw_in,
};

/* Isochronous IN TDs of `len` bytes (3 or 4 whole packets) from the model above. */
static void hbw_sweep(enum sim_speed speed, size_t len)
{
	struct rig r;
	size_t actual;

	rig_up(&r, (struct sim_config){ .hci_version = 0x0096 }, (struct bu_xhci_options){ 0 },
	       &hbw_model, HBW_PID, speed);
	r.in = bu_usb_find_endpoint(r.dev, 0x81);
	ck_assert_ptr_nonnull(r.in);
	for (unsigned n = 0; n < 2 * RING_TRBS; n++) {
		uint8_t *i = in_buf + (n % 2 ? PAGE - 1000 : 16);

		ck_assert_int_eq(run_xfer(&r, r.in, i, len, BU_XFER_ISOCH_ASAP, &actual), 0);
		ck_assert_uint_eq(actual, len);
		ck_assert_uint_eq(i[1023], (uint8_t)(i[0] + 1023));
		ck_assert_uint_eq(i[1024], (uint8_t)(i[0] + 1));
	}
	check_no_violations(r.st.sim);
	stack_down(&r.st);
}

START_TEST(test_v096_isoch_hs_tlbpc)
{
	hbw_sweep(SIM_SPEED_HIGH, 3072);
}
END_TEST

START_TEST(test_v096_isoch_ss_tbc)
{
	hbw_sweep(SIM_SPEED_SUPER, 4096);
}
END_TEST

/*
 * One- and two-TRB isochronous TDs (see isoch_sweep) on a 0.96 part with
 * the model's `cfg` and the driver's options `o`.
 */
static void v096_isoch(struct sim_config cfg, struct bu_xhci_options o)
{
	struct rig r;

	cfg.hci_version = 0x0096;
	loop_up(&r, cfg, o, SIM_SPEED_HIGH);
	isoch_alt_up(&r);
	isoch_sweep(&r, 3 * RING_TRBS);
	stack_down(&r.st);
}

/* Not AMD's: TD Size in KiB, and the Link TRB follows the TD's chain bit. */
START_TEST(test_v096_isoch_plain)
{
	v096_isoch((struct sim_config){ 0 }, (struct bu_xhci_options){ 0 });
}
END_TEST

/*
 * AMD's, whose isochronous Link TRBs need CH even right after a TD: the
 * quirk forced through the options, or found from the PCI identity.
 */
START_TEST(test_v096_isoch_amd_forced)
{
	v096_isoch((struct sim_config){ .isoc_link_chain = true },
		   (struct bu_xhci_options){ .quirks_on = BU_XHCI_QUIRK_ISOC_LINK_CHAIN });
}
END_TEST

START_TEST(test_v096_isoch_amd_pci)
{
	/* The identity is AMD's: the model must not be another vendor's. */
	v096_isoch((struct sim_config){ .isoc_link_chain = true,
					.personality = SIM_PERSONALITY_NONE },
		   (struct bu_xhci_options){ .pci = { .vendor = 0x1022 } });
}
END_TEST

/* A 0.95 part: CH on every Link TRB, the Command Ring's included. */
START_TEST(test_v095_link_chain)
{
	struct rig r;

	loop_up(&r, (struct sim_config){ .hci_version = 0x0095 }, (struct bu_xhci_options){ 0 },
		SIM_SPEED_HIGH);
	echo_sweep(&r, 24, 9000);
	for (unsigned n = 0; n < RING_TRBS; n++) /* commands around the Command Ring */
		ck_assert_int_eq(bu_usb_set_interface(r.dev, 0, n % 2), 0);
	check_no_violations(r.st.sim);
	stack_down(&r.st);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Transfers larger than one TD: windows of a page-split mapping            */

#define BIG (2u << 20) /* WinUSB's MAXIMUM_TRANSFER_SIZE (BU_WINUSB_MAX_XFER_HS) */

/* An aio on `ep` of `len` bytes at `buf`; asserts the submit went through. */
static void big_submit(struct aio *a, struct bu_usb_endpoint *ep, uint8_t *buf, size_t len)
{
	ck_assert_int_eq(aio_submit(a, ep, buf, len, 0, NULL), 0);
}

/*
 * 2 MiB bulk OUT and IN through the loopback, at once (its 256 KiB buffer
 * NAKs the OUT until the IN drains it), on a platform whose dma_map splits
 * at every 4 KiB page: 513 chunks, more than a TD takes and than the
 * 256-TRB ring holds, so each goes on the ring in windows, one after the
 * other. Both end with every byte, in order; with `ring_trbs` 16 the
 * windows are 7 pages. A transfer queued behind a windowed one waits
 * (BU_ENOSPC) rather than overtake its later windows.
 */
static void big_echo(uint32_t ring_trbs, enum sim_speed speed)
{
	struct sim_config cfg = { .map_split = PAGE };
	struct bu_xhci_options o = { .xfer_ring_trbs = ring_trbs };
	struct rig r;
	struct aio out, in, extra;
	uint8_t *ob = malloc(BIG + 200), *ib = malloc(BIG + 200), *o8, *i8;

	ck_assert(ob && ib);
	o8 = ob + 100; /* off the page: 513 pages touched */
	i8 = ib + 36;
	for (size_t k = 0; k < BIG; k++)
		o8[k] = (uint8_t)(k * 13 + (k >> 12));
	memset(i8, 0, BIG);
	stack_up_opts(&r.st, &cfg, &o, 0);
	r.sd = sim_attach(r.st.sim, speed == SIM_SPEED_SUPER ? sim_usb3_port(r.st.sim, 1)
							      : sim_usb2_port(r.st.sim, 1),
			  &sim_dev_winusb, speed);
	ck_assert(settle(&r.st, 5000));
	r.dev = find_pid(&r.st, 0x1209, 0xb010);
	ck_assert_ptr_nonnull(r.dev);
	r.out = bu_usb_find_endpoint(r.dev, 0x01);
	r.in = bu_usb_find_endpoint(r.dev, 0x81);
	big_submit(&in, r.in, i8, BIG);
	big_submit(&out, r.out, o8, BIG);
	ck_assert_int_eq(aio_submit(&extra, r.out, o8, 512, 0, NULL), BU_ENOSPC);
	ck_assert_msg(wait_flag(&r.st, &out.done, 20000), "2 MiB OUT did not complete");
	ck_assert_msg(wait_flag(&r.st, &in.done, 20000), "2 MiB IN did not complete");
	ck_assert_int_eq(out.x.status, 0);
	ck_assert_int_eq(in.x.status, 0);
	ck_assert_uint_eq(out.x.actual, BIG);
	ck_assert_uint_eq(in.x.actual, BIG);
	ck_assert_msg(memcmp(i8, o8, BIG) == 0, "2 MiB came back different");
	check_no_violations(r.st.sim);
	stack_down(&r.st);
	free(ob);
	free(ib);
}

START_TEST(test_2mib_page_split_hs)
{
	big_echo(0, SIM_SPEED_HIGH);
}
END_TEST

START_TEST(test_2mib_page_split_ss_small_ring)
{
	big_echo(RING_TRBS, SIM_SPEED_SUPER);
}
END_TEST

static Suite *trb_suite(void)
{
	Suite *s = suite_create("trb");
	TCase *frag = tcase_create("fragments");
	TCase *old = tcase_create("pre-1.0");

	tcase_add_test(frag, test_bulk_wrap_hs);
	tcase_add_test(frag, test_bulk_wrap_ss_burst);
	tcase_add_test(frag, test_short_chunk_before_wrap);
	tcase_add_test(frag, test_zlp_across_wrap);
	tcase_add_test(frag, test_control_across_wrap);
	tcase_add_test(frag, test_full_ring_with_padding);
	tcase_add_test(frag, test_isoch_across_wrap);
	tcase_add_test(old, test_v096_bulk);
	tcase_add_test(old, test_v096_isoch_hs_tlbpc);
	tcase_add_test(old, test_v096_isoch_ss_tbc);
	tcase_add_test(old, test_v096_isoch_plain);
	tcase_add_test(old, test_v096_isoch_amd_forced);
	tcase_add_test(old, test_v096_isoch_amd_pci);
	tcase_add_test(old, test_v095_link_chain);
	TCase *big = tcase_create("windows");

	tcase_add_test(big, test_2mib_page_split_hs);
	tcase_add_test(big, test_2mib_page_split_ss_small_ring);
	suite_add_tcase(s, frag);
	suite_add_tcase(s, old);
	suite_add_tcase(s, big);
	return s;
}

int main(void)
{
	return run_suite(trb_suite());
}
