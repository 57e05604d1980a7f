/*
 * Controller personalities and the quirks they need: each pair runs the
 * stack on a personality once without the quirk (the model must catch the
 * driver out: a violation or a device that never works) and once with it
 * (clean). The quirks are forced through bu_xhci_options here, so that the
 * tests do not depend on the PCI table; the Meson matrix runs every sim
 * suite on every personality with the quirks the table picks.
 */
#include "harness.h"

/* Bring the stack up on `p` with `quirks` forced on and `off` forced off. */
static void up(struct stack *st, struct sim_config *cfg, enum sim_personality p,
	       uint32_t quirks, uint32_t off)
{
	struct bu_xhci_options o = { .quirks_on = quirks, .quirks_off = off };

	cfg->personality = p;
	cfg->dma_fault_nonfatal = true;
	stack_up_opts(st, cfg, &o, 0);
}

/* Enumerate a full-speed keyboard; true when it reaches Configured at full speed. */
static bool kbd_works(struct stack *st)
{
	struct bu_usb_device *dev;

	if (!sim_attach(st->sim, sim_usb2_port(st->sim, 1), &sim_dev_hid_kbd, SIM_SPEED_FULL))
		return false;
	settle(st, 3000);
	dev = find_pid(st, 0x1209, 0);
	return dev && dev->state == BU_DEV_CONFIGURED && dev->speed == BU_SPEED_FULL;
}

/* Finish a test that may have provoked violations on purpose. */
static void down_expecting(struct stack *st, const char *needle, bool expected)
{
	bool seen = needle && sim_has_violation(st->sim, needle);

	if (expected) {
		ck_assert_msg(seen, "no violation containing \"%s\"", needle);
		sim_clear_violations(st->sim);
	}
	stack_down(st);
}

/*
 * VL805: the read-ahead past a ring's Link TRB leaves the ring's memory
 * unless the ring guard is there. 300 control requests wrap EP0's ring
 * and the command ring's commands wrap the command ring.
 */
START_TEST(test_vl805_ring_guard)
{
	bool guard = _i;
	struct sim_config cfg = { 0 };
	struct stack st;
	uint16_t status;
	bool all_ok = true;

	up(&st, &cfg, SIM_PERSONALITY_VL805, guard ? BU_XHCI_QUIRK_RING_GUARD : 0,
	   guard ? 0 : BU_XHCI_QUIRK_RING_GUARD);
	if (kbd_works(&st)) {
		struct bu_usb_device *dev = find_pid(&st, 0x1209, 0);

		for (int i = 0; i < 300 && all_ok; i++)
			all_ok = bu_usb_get_status(dev, USB_RECIP_DEVICE, 0, &status) == 0;
	} else {
		all_ok = false;
	}
	ck_assert_msg(all_ok == guard, "traffic %s with the guard %s", all_ok ? "worked" : "failed",
		      guard ? "on" : "off");
	down_expecting(&st, "read-ahead", !guard);
}
END_TEST

/*
 * Skylake: the PSI table's PSIVs are not PORTSC's; trusting it makes a
 * full-speed device high-speed (and its EP0 context illegal).
 */
START_TEST(test_skylake_bogus_psi)
{
	bool quirk = _i;
	struct sim_config cfg = { 0 };
	struct stack st;
	bool works;

	up(&st, &cfg, SIM_PERSONALITY_INTEL_SPT,
	   BU_XHCI_QUIRK_RESET_DELAY | (quirk ? BU_XHCI_QUIRK_BROKEN_PSI : 0),
	   quirk ? 0 : BU_XHCI_QUIRK_BROKEN_PSI);
	works = kbd_works(&st);
	ck_assert_msg(works == quirk, "keyboard %s with the PSI quirk %s",
		      works ? "works" : "fails", quirk ? "on" : "off");
	if (!quirk && sim_violations(st.sim))
		sim_clear_violations(st.sim);
	stack_down(&st);
}
END_TEST

/* Intel: no register access for 1 ms after HCRST. */
START_TEST(test_intel_reset_delay)
{
	bool quirk = _i;
	struct sim_config cfg = { 0 };
	struct stack st;

	up(&st, &cfg, SIM_PERSONALITY_INTEL_PPT, quirk ? BU_XHCI_QUIRK_RESET_DELAY : 0,
	   quirk ? 0 : BU_XHCI_QUIRK_RESET_DELAY);
	ck_assert(kbd_works(&st));
	down_expecting(&st, "after HCRST", !quirk);
}
END_TEST

/* Every personality's name round-trips, and an unknown name is refused. */
START_TEST(test_personality_names)
{
	for (unsigned p = 0; p < SIM_PERSONALITY_COUNT; p++)
		ck_assert_uint_eq(sim_personality_from_name(sim_personality_name(p)), p);
	ck_assert_uint_eq(sim_personality_from_name("pdp-11"), SIM_PERSONALITY_COUNT);
}
END_TEST

static Suite *personality_suite(void)
{
	Suite *s = suite_create("personality");
	TCase *t = tcase_create("quirks");

	tcase_add_loop_test(t, test_vl805_ring_guard, 0, 2);
	tcase_add_loop_test(t, test_skylake_bogus_psi, 0, 2);
	tcase_add_loop_test(t, test_intel_reset_delay, 0, 2);
	tcase_add_test(t, test_personality_names);
	suite_add_tcase(s, t);
	return s;
}

int main(void)
{
	return run_suite(personality_suite());
}
