/*
 * Controller quirks by PCI identity (hcd/xhci_quirks.c) on models that
 * behave like the parts the quirks are for: a 32-bit-only controller that
 * advertises AC64 (ASMedia).
 */
#include "harness.h"

#include "bareusb/errors.h"

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

/* A config capturing the log, for the PCI identity `vendor`:`device`. */
static struct sim_config quirk_cfg(uint16_t vendor, uint16_t device)
{
	struct sim_config c = { .pci_vendor = vendor, .pci_device = device,
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
/* A controller that advertises AC64 but decodes 32 bits (ASMedia)          */

/*
 * ASM1142 (1b21:1242) on a platform whose DMA memory is above 4 GiB: the
 * model records any DMA there and raises HSE. Without the quirk the driver
 * trusts AC64 and hands it such addresses; with it (from the table) it
 * refuses them, so bu_xhci_create fails cleanly with no DMA fault; with
 * memory below 4 GiB the same part works.
 */
START_TEST(test_asmedia_dma_above_4g)
{
	struct sim_config cfg = quirk_cfg(0x1b21, 0x1242);
	struct bu_xhci_options o = { .quirks_off = BU_XHCI_QUIRK_NO_64BIT_DMA };
	struct stack st;

	cfg.dma_32bit_only = true;
	cfg.dma_fault_nonfatal = true;
	stack_sim(&st, &cfg);
	stack_start(&st, &o, 0);
	ck_assert_msg(sim_has_violation(st.sim, "above 4 GiB"), "no DMA above 4 GiB seen");
	ck_assert(sim_usbsts(st.sim) & XHCI_USBSTS_HSE);
	sim_clear_violations(st.sim);
	stack_down(&st);

	cfg = quirk_cfg(0x1b21, 0x1242);
	cfg.dma_32bit_only = true;
	cfg.dma_fault_nonfatal = true;
	stack_sim(&st, &cfg);
	ck_assert_int_eq(stack_start(&st, NULL, 0), BU_ENOMEM);
	ASSERT_LOGGED("quirk no-64bit-dma for 1b21:1242", "XHCI_NO_64BIT_SUPPORT");
	stack_down(&st);

	cfg = quirk_cfg(0x1b21, 0x1242);
	cfg.dma_32bit_only = true;
	cfg.dma_place = SIM_DMA_LOW;
	stack_sim(&st, &cfg);
	ck_assert_ptr_nonnull(sim_attach(st.sim, sim_usb3_port(st.sim, 1), &sim_dev_winusb,
					 SIM_SPEED_SUPER));
	ck_assert_int_eq(stack_start(&st, NULL, 0), 0);
	ck_assert(settle(&st, 5000));
	ck_assert_uint_eq(configured(&st), 1);
	stack_down(&st);
}
END_TEST

static Suite *quirks_suite(void)
{
	Suite *s = suite_create("quirks");
	TCase *tc = tcase_create("dma");

	tcase_add_test(tc, test_asmedia_dma_above_4g);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return run_suite(quirks_suite());
}
