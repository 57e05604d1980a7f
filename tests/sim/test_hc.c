/*
 * The controller itself under stress, the real driver on the sim: a reset
 * that takes seconds or never ends (xHCI §4.2).
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
	uint64_t t0 = sim_now_us(sim);
	int r = bu_xhci_create(sim_regs_base(sim), sim_platform(sim), NULL, 0, bus);

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

static Suite *hc_suite(void)
{
	Suite *s = suite_create("hc");
	TCase *reset = tcase_create("reset");

	tcase_add_test(reset, test_reset_takes_3s);
	tcase_add_test(reset, test_reset_never_completes);
	suite_add_tcase(s, reset);
	return s;
}

int main(void)
{
	return run_suite(hc_suite());
}
