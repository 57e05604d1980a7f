/*
 * Controller quirks by PCI identity (hcd/xhci_quirks.c) on models that
 * behave like the parts the quirks are for: which table lines an identity
 * selects, the Intel 7/8/9 Series PCH port routing (USB3_PSSEN, XUSB2PR)
 * switched at start and given back at destroy, Compliance Mode without CAS
 * recovered by a warm reset, and a 32-bit-only controller that advertises
 * AC64 (ASMedia).
 */
#include "harness.h"

#include "bareusb/errors.h"

#define XUSB2PR    0xd0
#define USB3_PSSEN 0xd8

/* ------------------------------------------------------------------------ */
/* Log capture                                                              */

/* The driver's and the model's lines at INFO and above, one string. */
struct log_text {
	char buf[64 * 1024];
	size_t len;
};

static struct log_text logs;

static void log_keep(void *ctx, int level, const char *line)
{
	struct log_text *l = ctx;
	int n;

	if (getenv("SIM_LOG"))
		fprintf(stderr, "%s\n", line);
	if (level > BU_LOG_INFO || l->len >= sizeof(l->buf) - 1)
		return;
	n = snprintf(l->buf + l->len, sizeof(l->buf) - l->len, "%s\n", line);
	l->len += (size_t)n < sizeof(l->buf) - l->len ? (size_t)n : sizeof(l->buf) - l->len - 1;
}

/*
 * A config capturing the log, for the PCI identity `vendor`:`device` on
 * personality `p`: each test models its part itself, whatever
 * SIM_PERSONALITY the matrix runs it with.
 */
static struct sim_config quirk_cfg(enum sim_personality p, uint16_t vendor, uint16_t device)
{
	struct sim_config c = { .personality = p, .pci_vendor = vendor, .pci_device = device,
				.log_fn = log_keep, .log_ctx = &logs, .log_level = BU_LOG_INFO };

	logs.len = 0;
	logs.buf[0] = 0;
	return c;
}

/* How many captured lines hold both `a` and `b`. */
static unsigned log_count(const char *a, const char *b)
{
	unsigned found = 0;

	for (const char *l = logs.buf; *l;) {
		const char *end = strchr(l, '\n');
		size_t n = end ? (size_t)(end - l) : strlen(l);
		char line[1024];

		snprintf(line, sizeof(line), "%.*s", (int)n, l);
		found += strstr(line, a) && strstr(line, b);
		l += n + (end ? 1 : 0);
	}
	return found;
}

static bool logged(const char *a, const char *b)
{
	return log_count(a, b) > 0;
}

#define ASSERT_LOGGED(a, b) ck_assert_msg(logged(a, b), "no log line with \"%s\" and \"%s\"", a, b)

/* Configured devices on the bus. */
static unsigned configured(struct stack *st)
{
	return count_state(st, BU_DEV_CONFIGURED);
}

/* ------------------------------------------------------------------------ */
/* Which table lines an identity selects                                    */

struct identity_case {
	uint16_t vendor, device, hciversion;
	const char *quirks[4]; /* the names the log must show, NULL-ended */
};

static const char *const all_quirks[] = {
	"intel-port-switch", "no-64bit-dma", "no-soft-retry", "isoc-link-chain",
	"missing-cas", "ring-guard", "broken-psi", "reset-delay",
};

static const struct identity_case identities[] = {
	{ 0x8086, 0x1e31, 0, { "intel-port-switch", "reset-delay" } },
	{ 0x8086, 0x8c31, 0, { "intel-port-switch", "reset-delay" } },
	{ 0x8086, 0x9cb1, 0, { "intel-port-switch", "reset-delay" } },
	{ 0x8086, 0x9d2f, 0, { "missing-cas", "broken-psi", "reset-delay" } },
	{ 0x8086, 0xa12f, 0, { "missing-cas", "reset-delay" } },
	{ 0x8086, 0x19d0, 0, { "missing-cas", "reset-delay" } },
	{ 0x1b21, 0x1242, 0, { "no-64bit-dma" } },
	{ 0x1022, 0x43bb, 0, { "no-soft-retry" } },
	{ 0x1022, 0x7814, 0x0096, { "isoc-link-chain" } },
	{ 0x1022, 0x7814, 0, { NULL } }, /* the same AMD part at xHCI 1.1: none */
	{ 0x1b36, 0x000d, 0, { NULL } }, /* QEMU's qemu-xhci */
	{ 0x1234, 0x5678, 0, { NULL } }, /* nobody's */
};

static bool expected(const struct identity_case *c, const char *name)
{
	for (unsigned i = 0; c->quirks[i]; i++)
		if (!strcmp(c->quirks[i], name))
			return true;
	return false;
}

/* Each identity gets exactly the quirks of its table lines, each logged with its source. */
START_TEST(test_identity_selects_quirks)
{
	const struct identity_case *c = &identities[_i];
	struct sim_config cfg = quirk_cfg(SIM_PERSONALITY_NONE, c->vendor, c->device);
	char id[16];
	struct stack st;

	cfg.hci_version = c->hciversion;
	cfg.intel_port_routing = c->vendor == 0x8086; /* Intel PCHs have the registers */
	cfg.dma_place = SIM_DMA_LOW;                   /* what a 32-bit-only part needs */
	snprintf(id, sizeof(id), "for %04x:%04x (", c->vendor, c->device);
	stack_up(&st, &cfg, 0);
	for (unsigned i = 0; i < sizeof(all_quirks) / sizeof(all_quirks[0]); i++) {
		char name[40];

		snprintf(name, sizeof(name), "quirk %s ", all_quirks[i]);
		ck_assert_msg(logged(name, id) == expected(c, all_quirks[i]), "%04x:%04x: %s%s",
			      c->vendor, c->device, all_quirks[i],
			      expected(c, all_quirks[i]) ? " missing" : " applied");
	}
	stack_down(&st);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Intel PCH port routing                                                   */

/* A Panther Point-like PCH (an Intel one as such) with its ports on the EHCI. */
static void pch_up(struct stack *st, uint16_t vendor, uint16_t device)
{
	struct sim_config cfg = quirk_cfg(vendor == 0x8086 ? SIM_PERSONALITY_INTEL_PPT
							   : SIM_PERSONALITY_NONE,
					  vendor, device);

	cfg.intel_port_routing = true;
	stack_sim(st, &cfg);
}

/* A high-speed device on USB 2 port 1 and a SuperSpeed one on USB 3 port 1. */
static void attach_two(struct stack *st)
{
	ck_assert_ptr_nonnull(sim_attach(st->sim, sim_usb2_port(st->sim, 1), &sim_dev_winusb,
					 SIM_SPEED_HIGH));
	ck_assert_ptr_nonnull(sim_attach(st->sim, sim_usb3_port(st->sim, 1), &sim_dev_winusb,
					 SIM_SPEED_SUPER));
}

/* Start the driver on the PCH model; both devices enumerate, every port switched. */
static void pch_start_routed(struct stack *st)
{
	ck_assert_int_eq(stack_start(st, NULL, 0), 0);
	ck_assert(settle(st, 5000));
	ck_assert_uint_eq(configured(st), 2);
	ck_assert_uint_eq(sim_pci_cfg_read32(st->sim, XUSB2PR), 0xf);
	ck_assert_uint_eq(sim_pci_cfg_read32(st->sim, USB3_PSSEN), 0xf);
}

/*
 * Panther Point with every port left on the EHCI and devices already
 * plugged in: the driver switches SuperSpeed and the USB 2 ports over, the
 * devices appear and enumerate, and one plugged in later does too. Without
 * the switch nothing connects here at all.
 */
START_TEST(test_intel_routing_enumerates)
{
	struct stack st;

	pch_up(&st, 0x8086, 0x1e31);
	attach_two(&st);
	pch_start_routed(&st);
	ASSERT_LOGGED("Intel PCH port routing", "USB 2 ports 0xf on the xHCI (was 0x0)");
	ck_assert_ptr_nonnull(sim_attach(st.sim, sim_usb2_port(st.sim, 2), &sim_dev_hid_kbd,
					 SIM_SPEED_FULL));
	ck_assert(settle(&st, 5000));
	ck_assert_uint_eq(configured(&st), 3);
	stack_down(&st);
}
END_TEST

/*
 * Firmware had routed some ports itself (USB 2 port 3, SuperSpeed on USB 3
 * port 2): the driver adds the rest and, at bu_usb_bus_destroy, puts back
 * exactly what it found, so firmware or the next OS sees its own setting.
 */
START_TEST(test_intel_routing_restored)
{
	struct stack st;

	pch_up(&st, 0x8086, 0x8c31);
	sim_pci_cfg_write32(st.sim, XUSB2PR, 0x4);
	sim_pci_cfg_write32(st.sim, USB3_PSSEN, 0x2);
	attach_two(&st);
	pch_start_routed(&st);
	bu_usb_bus_destroy(st.bus);
	st.bus = NULL;
	ck_assert_uint_eq(sim_pci_cfg_read32(st.sim, XUSB2PR), 0x4);
	ck_assert_uint_eq(sim_pci_cfg_read32(st.sim, USB3_PSSEN), 0x2);
	stack_down(&st);
}
END_TEST

/* A PCH model the driver must leave on the EHCI, and the log line that says why. */
struct left_case {
	uint16_t vendor, device;
	struct bu_xhci_options opts;
	const char *log[2]; /* NULL: no quirk line at all */
};

static const struct left_case left_cases[] = {
	/* the quirk forced off over the table */
	{ 0x8086, 0x1e31, { .quirks_off = BU_XHCI_QUIRK_INTEL_PORT_SWITCH },
	  { "quirk intel-port-switch for 8086:1e31 forced off", "usb_is_intel_switchable_xhci" } },
	/* the identity without config accessors */
	{ 0x8086, 0x1e31, { .pci = { .vendor = 0x8086, .device = 0x1e31 } },
	  { "needs PCI config access", "ports may stay routed to the EHCI" } },
	/* an unknown vendor with the same registers */
	{ 0x1234, 0x5678, { 0 }, { NULL, NULL } },
};

/* Without the switch the ports stay on the EHCI: nothing connects, config space untouched. */
START_TEST(test_intel_routing_left_alone)
{
	const struct left_case *c = &left_cases[_i];
	struct stack st;

	pch_up(&st, c->vendor, c->device);
	attach_two(&st);
	ck_assert_int_eq(stack_start(&st, &c->opts, 0), 0);
	if (c->log[0])
		ASSERT_LOGGED(c->log[0], c->log[1]);
	else
		ck_assert_msg(!logged("quirk ", "for 1234:5678"), "a quirk for an unknown part:\n%s",
			      logs.buf);
	run_ms(&st, 3000);
	ck_assert_uint_eq(st.added, 0);
	ck_assert_ptr_null(st.bus->devices);
	ck_assert_uint_eq(sim_pci_cfg_read32(st.sim, XUSB2PR), 0);
	ck_assert_uint_eq(sim_pci_cfg_read32(st.sim, USB3_PSSEN), 0);
	stack_down(&st);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Compliance Mode without CAS (Intel 100 Series and others)                */

/*
 * Sunrise Point-LP: the first two link trainings of a SuperSpeed device end
 * in Compliance Mode, CCS=0, no CAS, no event. The driver's 2 s check finds
 * the port, the core warm-resets it and the device enumerates: once when
 * it was there before the driver started, and again after a re-plug.
 */
START_TEST(test_compliance_recovered)
{
	struct sim_config cfg = quirk_cfg(SIM_PERSONALITY_INTEL_SPT, 0x8086, 0x9d2f);
	struct sim_device *sd;
	struct stack st;
	unsigned port;

	cfg.compliance_without_cas = 2;
	stack_sim(&st, &cfg);
	port = sim_usb3_port(st.sim, 1);
	sd = sim_attach(st.sim, port, &sim_dev_winusb, SIM_SPEED_SUPER);
	ck_assert_ptr_nonnull(sd);
	ck_assert_int_eq(stack_start(&st, NULL, 0), 0);
	run_ms(&st, 2500);
	ck_assert(settle(&st, 5000));
	ck_assert_uint_eq(configured(&st), 1);
	ck_assert_uint_eq(log_count("Compliance Mode without CAS", "warm reset"), 1);

	sim_detach(sd);
	ck_assert(settle(&st, 1000));
	ck_assert_ptr_null(st.bus->devices);
	sd = sim_attach(st.sim, port, &sim_dev_winusb, SIM_SPEED_SUPER);
	ck_assert_ptr_nonnull(sd);
	run_ms(&st, 2500);
	ck_assert(settle(&st, 5000));
	ck_assert_uint_eq(configured(&st), 1);
	ck_assert_uint_eq(log_count("Compliance Mode without CAS", "warm reset"), 2);
	stack_down(&st);
}
END_TEST

/*
 * The same link without the quirk (a part the table does not name, or the
 * quirk forced off): the port stays in Compliance Mode and the device is
 * never seen - what the quirk is for.
 */
START_TEST(test_compliance_without_quirk)
{
	struct sim_config cfg = _i ? quirk_cfg(SIM_PERSONALITY_INTEL_SPT, 0x8086, 0x9d2f)
				   : quirk_cfg(SIM_PERSONALITY_NONE, 0x1234, 0x5678);
	struct bu_xhci_options o = { .quirks_off = _i ? BU_XHCI_QUIRK_MISSING_CAS : 0 };
	struct stack st;
	unsigned port;

	cfg.compliance_without_cas = 1;
	stack_sim(&st, &cfg);
	port = sim_usb3_port(st.sim, 1);
	ck_assert_ptr_nonnull(sim_attach(st.sim, port, &sim_dev_winusb, SIM_SPEED_SUPER));
	ck_assert_int_eq(stack_start(&st, &o, 0), 0);
	run_ms(&st, 5000);
	ck_assert_uint_eq(st.added, 0);
	ck_assert_uint_eq(XHCI_PORTSC_PLS(sim_portsc(st.sim, port)), XHCI_PLS_COMPLIANCE);
	ck_assert(!logged("Compliance Mode without CAS", "warm reset"));
	stack_down(&st);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* A controller that advertises AC64 but decodes 32 bits (ASMedia)          */

/*
 * ASM1142 (1b21:1242) on a platform whose DMA memory is above 4 GiB: the
 * model records any DMA there and raises HSE. Without the quirk the driver
 * trusts AC64 and hands it such addresses; with it (from the table) it
 * passes a 32-bit DMA mask to dma_alloc and dma_map, and a platform that
 * honours it allocates below 4 GiB, where the part works. One that
 * ignores the mask is refused: bu_xhci_create fails cleanly with no DMA
 * fault. With memory below 4 GiB anyway the same part works.
 */
/* The ASM1142 with its quirk and DMA placed at `place` enumerates a device. */
static void asmedia_works(enum sim_dma_place place)
{
	struct sim_config cfg = quirk_cfg(SIM_PERSONALITY_ASMEDIA, 0x1b21, 0x1242);
	struct stack st;

	cfg.dma_32bit_only = true;
	cfg.dma_place = place;
	stack_sim(&st, &cfg);
	ck_assert_ptr_nonnull(sim_attach(st.sim, sim_usb3_port(st.sim, 1), &sim_dev_winusb,
					 SIM_SPEED_SUPER));
	ck_assert_int_eq(stack_start(&st, NULL, 0), 0);
	ck_assert(settle(&st, 5000));
	ck_assert_uint_eq(configured(&st), 1);
	stack_down(&st);
}

START_TEST(test_asmedia_dma_above_4g)
{
	struct sim_config cfg = quirk_cfg(SIM_PERSONALITY_ASMEDIA, 0x1b21, 0x1242);
	struct bu_xhci_options o = { .quirks_off = BU_XHCI_QUIRK_NO_64BIT_DMA };
	struct stack st;

	cfg.dma_32bit_only = true;
	cfg.dma_fault_nonfatal = true;
	cfg.dma_place = SIM_DMA_HIGH;
	stack_sim(&st, &cfg);
	stack_start(&st, &o, 0);
	ck_assert_msg(sim_has_violation(st.sim, "above 4 GiB"), "no DMA above 4 GiB seen");
	ck_assert(sim_usbsts(st.sim) & XHCI_USBSTS_HSE);
	sim_clear_violations(st.sim);
	stack_down(&st);

	cfg = quirk_cfg(SIM_PERSONALITY_ASMEDIA, 0x1b21, 0x1242);
	cfg.dma_32bit_only = true;
	cfg.dma_fault_nonfatal = true;
	cfg.dma_place = SIM_DMA_HIGH;
	cfg.dma_ignore_mask = true;
	stack_sim(&st, &cfg);
	ck_assert_int_eq(stack_start(&st, NULL, 0), BU_ENOMEM);
	ASSERT_LOGGED("quirk no-64bit-dma for 1b21:1242", "XHCI_NO_64BIT_SUPPORT");
	stack_down(&st);

	/* The mask honoured (high memory by default, the controller's below
	 * 4 GiB), then low memory anyway: the part works. */
	asmedia_works(SIM_DMA_HIGH);
	asmedia_works(SIM_DMA_LOW);
}
END_TEST

static Suite *quirks_suite(void)
{
	Suite *s = suite_create("quirks");
	TCase *tc = tcase_create("identity");

	tcase_add_loop_test(tc, test_identity_selects_quirks, 0,
			    (int)(sizeof(identities) / sizeof(identities[0])));
	suite_add_tcase(s, tc);
	tc = tcase_create("intel-routing");
	tcase_add_test(tc, test_intel_routing_enumerates);
	tcase_add_test(tc, test_intel_routing_restored);
	tcase_add_loop_test(tc, test_intel_routing_left_alone, 0,
			    (int)(sizeof(left_cases) / sizeof(left_cases[0])));
	suite_add_tcase(s, tc);
	tc = tcase_create("compliance");
	tcase_add_test(tc, test_compliance_recovered);
	tcase_add_loop_test(tc, test_compliance_without_quirk, 0, 2);
	suite_add_tcase(s, tc);
	tc = tcase_create("dma");
	tcase_add_test(tc, test_asmedia_dma_above_4g);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return run_suite(quirks_suite());
}
