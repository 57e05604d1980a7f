/*
 * The adversarial-device campaign: thousands of hostile devices
 * (sim/devices/hostile.c, each from a fixed seed) plugged in one after the
 * other beside well-behaved ones - a keyboard or the WinUSB device, a USB 2
 * and a SuperSpeed hub - at the speed and place their description asks for
 * (a root port or a hub port). For every one:
 *   - it settles within 30 s of virtual time (or the case fails, seed shown);
 *   - it ends configured with endpoints inside USB limits, or failed with a
 *     stated reason (dev->error, dev->error_step), or it was unplugged;
 *     a well-formed one (the generator says so) must configure;
 *   - the well-behaved device still answers (GET_STATUS and a data transfer);
 *   - once it is unplugged, the core's heap and DMA use is back where it was;
 *   - the sim recorded no spec violation.
 * ASan and UBSan (the suite's build) catch memory errors on the way.
 *
 * Environment, for longer local runs: HOSTILE_SEED (base seed, hex or
 * decimal), HOSTILE_COUNT (devices, rounded up to whole cases),
 * HOSTILE_EXCLUDE (comma-separated feature names, see sim_hostile_feature_name,
 * to leave out), HOSTILE_ONLY (one seed, with its log: SIM_LOG=5),
 * HOSTILE_SURVEY=1 (list spec violations with their seeds and go on).
 */
#include <sys/mman.h>

#include "harness.h"
#include "hostile_check.h"

#include "bareusb/util.h"
#include "bareusb/winusb_drv.h"

#define PER_CASE 250u
#define DEFAULT_COUNT 2000u
#define DEFAULT_SEED 0x686f7374696c65ull /* "hostile" */
#define SETTLE_LIMIT_US (30ull * 1000 * 1000)
#define STEP_US 1000u

/* ------------------------------------------------------------------------ */
/* Outcome counts, shared by the forked cases                               */

#define MAX_REASONS 48

struct reason {
	char text[64];
	unsigned count;
};

struct totals {
	unsigned devices, configured, failed, detached, well_formed;
	unsigned below_configured, below_failed; /* devices below hostile hubs */
	struct reason reasons[MAX_REASONS];
};

static struct totals *g_totals;

static void count_reason(const struct bu_usb_device *dev)
{
	char text[64];

	snprintf(text, sizeof(text), "%s: %s", dev->error_step, bu_strerror(dev->error));
	for (unsigned i = 0; i < MAX_REASONS; i++) {
		struct reason *r = &g_totals->reasons[i];
		if (!r->text[0])
			snprintf(r->text, sizeof(r->text), "%s", text);
		if (!strcmp(r->text, text)) {
			r->count++;
			return;
		}
	}
}

/* ------------------------------------------------------------------------ */
/* Settings from the environment                                            */

static uint64_t env_u64(const char *name, uint64_t def)
{
	const char *v = getenv(name);

	return v && *v ? strtoull(v, NULL, 0) : def;
}

static uint32_t features(void)
{
	const char *ex = getenv("HOSTILE_EXCLUDE");
	uint32_t f = SIM_HF_ALL;

	if (!ex)
		return f;
	for (unsigned bit = 0; sim_hostile_feature_name(bit); bit++) {
		const char *name = sim_hostile_feature_name(bit);
		size_t n = strlen(name);
		for (const char *p = ex; (p = strstr(p, name)) != NULL; p += n)
			if ((p == ex || p[-1] == ',') && (p[n] == 0 || p[n] == ','))
				f &= ~(1u << bit);
	}
	return f;
}

static uint64_t mix(uint64_t x)
{
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

/* ------------------------------------------------------------------------ */
/* The bench: stack, a good device, two good hubs                           */

struct bench {
	struct stack st;
	struct bu_winusb_drv *drv;
	bool kbd;                      /* good device: keyboard, else WinUSB */
	struct sim_device *good, *hub2, *hub3;
	unsigned good_port, hub2_port, hub3_port;
	struct bu_usb_device *good_dev, *hub2_dev, *hub3_dev;
	struct sim_stats base;
	uint64_t rng;
	unsigned xfers;
};

static unsigned rnd(struct bench *b, unsigned n)
{
	b->rng = mix(b->rng + 0x9e3779b97f4a7c15ull);
	return (unsigned)(b->rng % n);
}

static struct bu_usb_device *dev_at(struct bench *b, const struct bu_usb_device *parent,
				    unsigned port)
{
	for (struct bu_usb_device *d = b->st.bus->devices; d; d = d->next)
		if (d->parent == parent && (parent ? d->port : d->root_port) == port)
			return d;
	return NULL;
}

static void step(struct bench *b)
{
	bu_usb_bus_poll(b->st.bus);
	sim_advance_us(b->st.sim, STEP_US);
}

/* Run until the bus has been idle, and `until` (if given) held, for 20 ms. */
static bool quiesce(struct bench *b, uint64_t limit_us, bool (*until)(struct bench *, void *),
		    void *ctx)
{
	uint64_t t0 = sim_now_us(b->st.sim);
	unsigned idle = 0;

	while (sim_now_us(b->st.sim) - t0 < limit_us) {
		step(b);
		idle = bu_usb_bus_idle(b->st.bus) && (!until || until(b, ctx)) ? idle + 1 : 0;
		if (idle >= 20)
			return true;
	}
	return false;
}

static void stats_now(struct bench *b, struct sim_stats *s)
{
	sim_get_stats(b->st.sim, s);
}

static void good_works(struct bench *b, uint64_t seed);

static void bench_up(struct bench *b, unsigned case_no, uint64_t seed)
{
	struct sim_config cfg = { .usb2_ports = 4, .usb3_ports = 4, .log_level = -1 };
	struct sim *sim;

	memset(b, 0, sizeof(*b));
	b->rng = mix(seed ^ (0x51ull << 56) ^ case_no);
	stack_up(&b->st, &cfg, 0);
	sim = b->st.sim;
	ck_assert_int_eq(bu_winusb_drv_create(b->st.bus, NULL, &b->drv), 0);
	b->kbd = case_no % 2 == 0;
	b->hub2_port = sim_usb2_port(sim, 1 + rnd(b, 4));
	do
		b->good_port = sim_usb2_port(sim, 1 + rnd(b, 4));
	while (b->good_port == b->hub2_port);
	b->hub3_port = sim_usb3_port(sim, 1 + rnd(b, 4));
	if (b->kbd) {
		static const enum sim_speed s[] = { SIM_SPEED_LOW, SIM_SPEED_FULL, SIM_SPEED_HIGH };
		b->good = sim_attach(sim, b->good_port, &sim_dev_hid_kbd, s[rnd(b, 3)]);
	} else if (rnd(b, 2)) {
		b->good = sim_attach(sim, b->good_port, &sim_dev_winusb, SIM_SPEED_HIGH);
	} else {
		do
			b->good_port = sim_usb3_port(sim, 1 + rnd(b, 4));
		while (b->good_port == b->hub3_port);
		b->good = sim_attach(sim, b->good_port, &sim_dev_winusb, SIM_SPEED_SUPER);
	}
	b->hub2 = sim_attach(sim, b->hub2_port, &sim_dev_hub2, SIM_SPEED_HIGH);
	b->hub3 = sim_attach(sim, b->hub3_port, &sim_dev_hub3, SIM_SPEED_SUPER);
	ck_assert(b->good && b->hub2 && b->hub3);
	ck_assert(quiesce(b, 5000000, NULL, NULL));
	b->good_dev = dev_at(b, NULL, b->good_port);
	b->hub2_dev = dev_at(b, NULL, b->hub2_port);
	b->hub3_dev = dev_at(b, NULL, b->hub3_port);
	ck_assert(b->good_dev && b->hub2_dev && b->hub3_dev);
	ck_assert_int_eq(b->good_dev->state, BU_DEV_CONFIGURED);
	ck_assert_int_eq(b->hub2_dev->state, BU_DEV_CONFIGURED);
	ck_assert_int_eq(b->hub3_dev->state, BU_DEV_CONFIGURED);
	check_no_violations(sim);
	good_works(b, seed);
	stats_now(b, &b->base);
}

/* A real transfer to the good device: GET_STATUS, then a report or an echo. */
static void good_works(struct bench *b, uint64_t seed)
{
	uint16_t status = 0xffff;
	uint8_t buf[64], back[512];
	size_t actual = 0;
	struct bu_usb_endpoint *in;

	ck_assert_msg(b->good_dev->state == BU_DEV_CONFIGURED,
		      "seed %#llx: the good device is no longer configured",
		      (unsigned long long)seed);
	ck_assert_msg(bu_usb_get_status(b->good_dev, USB_RECIP_DEVICE, 0, &status) == 0,
		      "seed %#llx: GET_STATUS to the good device failed", (unsigned long long)seed);
	ck_assert_uint_eq(status & ~3u, 0);
	if (b->kbd) {
		uint8_t usage = (uint8_t)(4 + b->xfers % 26);

		in = bu_usb_find_endpoint(b->good_dev, 0x81);
		ck_assert_ptr_nonnull(in);
		sim_kbd_type(b->good, usage);
		ck_assert_int_eq(xfer_sync(&b->st, in, buf, 8, &actual, 1000), 0);
		ck_assert_uint_eq(actual, 8);
		ck_assert_uint_eq(buf[2], usage);
		ck_assert_int_eq(xfer_sync(&b->st, in, buf, 8, &actual, 1000), 0); /* release */
		ck_assert_uint_eq(buf[2], 0);
	} else {
		struct bu_usb_endpoint *out = bu_usb_find_endpoint(b->good_dev, 0x01);

		in = bu_usb_find_endpoint(b->good_dev, 0x81);
		ck_assert(in && out);
		for (unsigned i = 0; i < sizeof(buf); i++)
			buf[i] = (uint8_t)(b->xfers + i);
		ck_assert_int_eq(xfer_sync(&b->st, out, buf, 37, &actual, 1000), 0);
		ck_assert_int_eq(xfer_sync(&b->st, in, back, sizeof(back), &actual, 1000), 0);
		ck_assert_uint_eq(actual, 37);
		ck_assert_mem_eq(back, buf, 37);
	}
	b->xfers++;
}

/* ------------------------------------------------------------------------ */
/* One hostile device                                                       */

struct place {
	struct sim_hostile *h;
	const struct bu_usb_device *parent; /* good hub, or NULL for a root port */
	unsigned port;
	uint64_t t0, detach_at;             /* virtual us; detach_at 0 = never */
};

static bool device_gone(struct bench *b, void *ctx)
{
	struct place *p = ctx;

	return dev_at(b, p->parent, p->port) == NULL;
}

/* Settled: plugged in and seen by the core, or unplugged (when its time
 * came) and gone from the core. */
static bool hostile_settled(struct bench *b, void *ctx)
{
	struct place *p = ctx;

	if (p->detach_at && sim_hostile_device(p->h))
		return false;
	return !sim_hostile_device(p->h) == device_gone(b, ctx);
}

/* Poll until it settled; false 30 s (virtual) after the attach or the
 * unplug time, whichever is later. */
static bool run_hostile(struct bench *b, struct place *p)
{
	uint64_t end = (p->detach_at > p->t0 ? p->detach_at : p->t0) + SETTLE_LIMIT_US;
	unsigned idle = 0;

	while (sim_now_us(b->st.sim) < end) {
		if (p->detach_at && sim_now_us(b->st.sim) >= p->detach_at && sim_hostile_device(p->h))
			sim_detach(sim_hostile_device(p->h));
		step(b);
		idle = bu_usb_bus_idle(b->st.bus) && hostile_settled(b, p) ? idle + 1 : 0;
		if (idle >= 20)
			return true;
	}
	return false;
}

/* Configured with sane values, or failed with a reason (hostile_check.h); counted. */
static void check_outcome(struct bench *b, const struct bu_usb_device *dev, uint64_t seed,
			  bool top, bool well_formed)
{
	char why[200];

	(void)b;
	ck_assert_msg(!hostile_check_outcome(dev, well_formed, why, sizeof(why)), "seed %#llx: %s",
		      (unsigned long long)seed, why);
	if (dev->state == BU_DEV_FAILED || dev->error) {
		if (top) {
			g_totals->failed++;
			count_reason(dev);
		} else {
			g_totals->below_failed++;
		}
	} else if (top) {
		g_totals->configured++;
	} else {
		g_totals->below_configured++;
	}
}

/* Every device below `hub` (recursively) has an outcome too. */
static void check_below(struct bench *b, const struct bu_usb_device *hub, uint64_t seed)
{
	for (struct bu_usb_device *d = b->st.bus->devices; d; d = d->next)
		if (d->parent == hub) {
			check_outcome(b, d, seed, false, false);
			check_below(b, d, seed);
		}
}

/* The core's devices, for a failure message. */
static void print_devices(struct bench *b)
{
	for (struct bu_usb_device *d = b->st.bus->devices; d; d = d->next)
		fprintf(stderr, "device root %u port %u tier %u: %04x:%04x state %d error %d (%s)\n",
			d->root_port, d->port, d->tier, d->desc.idVendor, d->desc.idProduct, d->state,
			d->error, d->error_step ? d->error_step : "");
}

static void fail_seed(struct bench *b, uint64_t seed, const char *what)
{
	print_devices(b);
	print_violations(b->st.sim);
	ck_abort_msg("seed %#llx: %s", (unsigned long long)seed, what);
}

/* Spec violations fail the case; HOSTILE_SURVEY=1 lists them and goes on. */
static void check_violations(struct bench *b, uint64_t seed)
{
	struct sim *sim = b->st.sim;

	if (!sim_violations(sim))
		return;
	if (!getenv("HOSTILE_SURVEY"))
		fail_seed(b, seed, "spec violations");
	for (unsigned i = 0; i < sim_violations(sim) && sim_violation(sim, i); i++)
		printf("# seed %#llx: violation: %s\n", (unsigned long long)seed, sim_violation(sim, i));
	sim_clear_violations(sim);
}

static void one_hostile(struct bench *b, uint64_t seed, uint32_t feat)
{
	struct sim *sim = b->st.sim;
	struct place p = { .h = sim_hostile_from_seed(seed, feat) };
	enum sim_speed speed = sim_hostile_speed(p.h);
	struct sim_device *sd;
	struct sim_stats s;
	char why[300];

	if (sim_hostile_behind_hub(p.h)) {
		p.port = 1 + rnd(b, 4);
		p.parent = speed == SIM_SPEED_SUPER ? b->hub3_dev : b->hub2_dev;
		sd = sim_attach_hub(speed == SIM_SPEED_SUPER ? b->hub3 : b->hub2, p.port,
				    sim_hostile_model(p.h), speed);
	} else {
		do
			p.port = speed == SIM_SPEED_SUPER ? sim_usb3_port(sim, 1 + rnd(b, 4))
							  : sim_usb2_port(sim, 1 + rnd(b, 4));
		while (p.port == b->good_port || p.port == b->hub2_port || p.port == b->hub3_port);
		sd = sim_attach(sim, p.port, sim_hostile_model(p.h), speed);
	}
	ck_assert_ptr_nonnull(sd);
	sim_hostile_arm(p.h, sd);
	p.t0 = sim_now_us(sim);
	if (sim_hostile_detach_ms(p.h))
		p.detach_at = p.t0 + sim_hostile_detach_ms(p.h) * 1000ull;
	g_totals->devices++;
	if (!run_hostile(b, &p))
		fail_seed(b, seed, "did not settle within 30 s of virtual time");

	if (!sim_hostile_device(p.h)) {
		g_totals->detached++;
	} else {
		const struct bu_usb_device *dev = dev_at(b, p.parent, p.port);
		bool wf = sim_hostile_well_formed(p.h);

		if (!dev)
			fail_seed(b, seed, "no device in the core for it");
		g_totals->well_formed += wf;
		check_outcome(b, dev, seed, true, wf);
		check_below(b, dev, seed);
		ck_assert_msg(dev->state != BU_DEV_CONFIGURED ||
			      sim_device_config(sd) == dev->config_value,
			      "seed %#llx: the core set configuration %u, the device has %u",
			      (unsigned long long)seed, dev->config_value, sim_device_config(sd));
	}
	check_violations(b, seed);
	good_works(b, seed);

	/* unplug; everything it cost comes back */
	if (sim_hostile_device(p.h))
		sim_detach(sim_hostile_device(p.h));
	if (!quiesce(b, SETTLE_LIMIT_US, device_gone, &p))
		fail_seed(b, seed, "still in the core 30 s after the unplug");
	sim_hostile_free(p.h);
	stats_now(b, &s);
	if (hostile_check_stats(&s, &b->base, why, sizeof(why))) {
		print_devices(b);
		ck_abort_msg("seed %#llx: %s", (unsigned long long)seed, why);
	}
	check_violations(b, seed);
}

static void bench_down(struct bench *b)
{
	bu_winusb_drv_destroy(b->drv);
	stack_down(&b->st);
}

START_TEST(test_campaign)
{
	uint64_t base = env_u64("HOSTILE_SEED", DEFAULT_SEED);
	uint64_t count = env_u64("HOSTILE_COUNT", DEFAULT_COUNT);
	uint32_t feat = features();
	struct bench b;

	bench_up(&b, (unsigned)_i, base);
	for (uint64_t k = (uint64_t)_i * PER_CASE; k < ((uint64_t)_i + 1) * PER_CASE && k < count; k++)
		one_hostile(&b, base + k, feat);
	bench_down(&b);
}
END_TEST

/*
 * Seeds that hung the bus before the hub driver bounded its errors: a hub
 * whose ClearPortFeature(C_PORT_CONNECTION) always STALLs (the debounce
 * restarted on every status read), and nested hubs that NAK GetPortStatus
 * for ever (a 5 s timeout per read, ports taking turns). Each must settle.
 */
static const uint64_t found_seeds[] = { 0x2001955u, 0x20017d9u };

START_TEST(test_found_seed)
{
	struct bench b;

	bench_up(&b, 0, found_seeds[_i]);
	one_hostile(&b, found_seeds[_i], features());
	bench_down(&b);
}
END_TEST

/* One seed alone (HOSTILE_ONLY), for looking at a failure. */
START_TEST(test_one)
{
	struct bench b;
	uint64_t seed = env_u64("HOSTILE_ONLY", 0);

	static uint8_t d[SIM_HOSTILE_MAX_LEN];
	uint32_t used = 0;
	size_t n = sim_hostile_generate(seed, features(), d, sizeof(d), &used);

	fprintf(stderr, "seed %#llx: %zu bytes, features", (unsigned long long)seed, n);
	for (unsigned bit = 0; sim_hostile_feature_name(bit); bit++)
		if (used & (1u << bit))
			fprintf(stderr, " %s", sim_hostile_feature_name(bit));
	for (size_t i = 0; i < n; i++)
		fprintf(stderr, "%s%02x", i % 32 ? " " : "\n  ", d[i]);
	fprintf(stderr, "\n");
	bench_up(&b, 0, seed);
	one_hostile(&b, seed, features());
	bench_down(&b);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* What the campaign found, one description each                            */

/* Plug a description in at high speed on root port 1; the core's device. */
static struct bu_usb_device *plug_bytes(struct stack *st, struct sim_hostile **h,
					const uint8_t *d, size_t n)
{
	struct sim_device *sd;

	stack_up(st, NULL, 0);
	*h = sim_hostile_from_bytes(d, n);
	sd = sim_attach(st->sim, sim_usb2_port(st->sim, 1), sim_hostile_model(*h), SIM_SPEED_HIGH);
	ck_assert_ptr_nonnull(sd);
	sim_hostile_arm(*h, sd);
	run_ms(st, 500);
	ck_assert(settle(st, 10000));
	ck_assert_ptr_nonnull(st->bus->devices);
	return st->bus->devices;
}

#define H_REC(tag, ...) tag, SIM_LE16(sizeof((const uint8_t[]){ __VA_ARGS__ })), __VA_ARGS__
#define H_CONFIG(value) \
	H_REC(2, 9, USB_DT_CONFIG, 25, 0, 1, value, 0, 0x80, 50, \
	      SIM_D_INTERFACE(0, 0, 1, 0xff, 0, 0, 0), \
	      SIM_D_ENDPOINT(0x81, SIM_EP_BULK, 512, 0))

/* bConfigurationValue 0 cannot be set (SET_CONFIGURATION(0) unconfigures):
 * the core used to send it and then talk to endpoints the device, still
 * in the Address state, does not have (campaign seed 0x686f7374697f6e). */
START_TEST(test_config_value_zero)
{
	static const uint8_t only_zero[] = {
		2, 0, 0, 0,
		H_REC(1, SIM_D_DEVICE(0x0200, 0, 0, 0, 64, 0x1209, 0xc0de, 0x0100, 0, 0, 0, 1)),
		H_CONFIG(0),
	};
	static const uint8_t zero_then_two[] = {
		2, 0, 0, 0,
		H_REC(1, SIM_D_DEVICE(0x0200, 0, 0, 0, 64, 0x1209, 0xc0de, 0x0100, 0, 0, 0, 2)),
		H_CONFIG(0),
		H_CONFIG(2),
	};
	struct stack st;
	struct sim_hostile *h;
	struct bu_usb_device *dev;

	dev = plug_bytes(&st, &h, only_zero, sizeof(only_zero));
	ck_assert_int_eq(dev->state, BU_DEV_FAILED);
	ck_assert_int_eq(dev->error, BU_EBADDESC);
	ck_assert_str_eq(dev->error_step, "configure endpoints");
	stack_down(&st);
	sim_hostile_free(h);

	dev = plug_bytes(&st, &h, zero_then_two, sizeof(zero_then_two));
	ck_assert_int_eq(dev->state, BU_DEV_CONFIGURED);
	ck_assert_uint_eq(dev->config_value, 2);
	ck_assert_ptr_nonnull(bu_usb_find_endpoint(dev, 0x81));
	stack_down(&st);
	sim_hostile_free(h);
}
END_TEST

/* Descriptions are data: the same seed gives the same bytes, any bytes parse. */
START_TEST(test_generator)
{
	static uint8_t a[SIM_HOSTILE_MAX_LEN], c[SIM_HOSTILE_MAX_LEN];
	uint32_t used_all = 0;
	unsigned good = 0;

	for (uint64_t seed = 1; seed <= 3000; seed++) {
		uint32_t used = 0;
		size_t n = sim_hostile_generate(seed, SIM_HF_ALL, a, sizeof(a), &used);
		size_t m = sim_hostile_generate(seed, SIM_HF_ALL, c, sizeof(c), NULL);
		struct sim_hostile *h;

		ck_assert_uint_ge(n, 4);
		ck_assert_uint_eq(n, m);
		ck_assert_mem_eq(a, c, n);
		used_all |= used;
		h = sim_hostile_from_bytes(a, n);
		good += sim_hostile_well_formed(h);
		ck_assert(!sim_hostile_well_formed(h) || used == 0);
		sim_hostile_free(h);
		/* no feature allowed: nothing hostile used */
		sim_hostile_generate(seed, 0, a, sizeof(a), &used);
		ck_assert_uint_eq(used, 0);
		/* cut anywhere, still a description */
		h = sim_hostile_from_bytes(a, (size_t)(mix(seed) % (n + 1)));
		sim_hostile_free(h);
	}
	ck_assert_msg(used_all == SIM_HF_ALL, "features never used: %#x", SIM_HF_ALL & ~used_all);
	ck_assert_uint_gt(good, 300);
	ck_assert_uint_lt(good, 2000);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("hostile");
	TCase *tc = tcase_create("campaign");
	uint64_t count = env_u64("HOSTILE_COUNT", DEFAULT_COUNT);
	int rc;

	g_totals = mmap(NULL, sizeof(*g_totals), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
			-1, 0);
	if (g_totals == MAP_FAILED)
		return EXIT_FAILURE;
	memset(g_totals, 0, sizeof(*g_totals));
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_generator);
	tcase_add_test(tc, test_config_value_zero);
	tcase_add_loop_test(tc, test_found_seed, 0,
			    (int)(sizeof(found_seeds) / sizeof(found_seeds[0])));
	if (getenv("HOSTILE_ONLY"))
		tcase_add_test(tc, test_one);
	else
		tcase_add_loop_test(tc, test_campaign, 0, (int)((count + PER_CASE - 1) / PER_CASE));
	suite_add_tcase(s, tc);
	rc = run_suite(s);
	printf("# hostile: %u devices: %u configured, %u failed, %u unplugged; %u of them "
	       "well-formed (configured); below hostile hubs %u configured, %u failed\n",
	       g_totals->devices, g_totals->configured, g_totals->failed, g_totals->detached,
	       g_totals->well_formed, g_totals->below_configured, g_totals->below_failed);
	for (unsigned i = 0; i < MAX_REASONS && g_totals->reasons[i].text[0]; i++)
		printf("#   failed at %s: %u\n", g_totals->reasons[i].text, g_totals->reasons[i].count);
	return rc;
}
