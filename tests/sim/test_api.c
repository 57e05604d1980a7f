/*
 * The application API on the real stack: synchronous bulk and interrupt
 * transfers (data, short packets, a timeout's cancel, an unplug in the
 * wait, refusal from callbacks), device iteration and lookup across a hub
 * while devices come and go, interface claims against class drivers, and
 * several hot-plug listeners.
 */
#include "harness.h"

/* ------------------------------------------------------------------------ */
/* Synchronous bulk and interrupt transfers                                  */

/* The WinUSB loopback device (1209:b010) on a root port. */
struct one {
	struct stack st;
	struct sim_device *sd;
	struct bu_usb_device *dev;
};

static void one_up(struct one *o, enum sim_speed speed)
{
	unsigned port;

	stack_up(&o->st, NULL, 0);
	port = speed == SIM_SPEED_SUPER ? sim_usb3_port(o->st.sim, 1) : sim_usb2_port(o->st.sim, 1);
	o->sd = sim_attach(o->st.sim, port, &sim_dev_winusb, speed);
	ck_assert_ptr_nonnull(o->sd);
	ck_assert(settle(&o->st, 5000));
	o->dev = find_pid(&o->st, 0x1209, 0xb010);
	ck_assert_ptr_nonnull(o->dev);
	ck_assert_int_eq(o->dev->state, BU_DEV_CONFIGURED);
}

/* OUT then IN through the loopback: the data comes back, short IN is not an error. */
static void loop_check(struct one *o, size_t len, uint8_t seed)
{
	static uint8_t out[8192], in[8192 + 1024];
	size_t actual = 12345;

	for (size_t i = 0; i < len; i++)
		out[i] = (uint8_t)(seed + i * 7);
	ck_assert_int_eq(bu_usb_bulk(o->dev, 0x01, out, len, &actual, 1000), 0);
	ck_assert_uint_eq(actual, len);
	memset(in, 0xee, sizeof(in));
	actual = 12345;
	/* asks for more than was sent: the short packet ends it, status 0 */
	ck_assert_int_eq(bu_usb_bulk(o->dev, 0x81, in, sizeof(in), &actual, 1000), 0);
	ck_assert_uint_eq(actual, len);
	ck_assert_mem_eq(in, out, len);
	ck_assert_uint_eq(in[len], 0xee); /* nothing written past what came */
}

START_TEST(test_bulk_loopback)
{
	static const enum sim_speed speeds[] = { SIM_SPEED_FULL, SIM_SPEED_HIGH, SIM_SPEED_SUPER };
	struct one o;

	one_up(&o, speeds[_i]);
	loop_check(&o, 1000, 3);
	loop_check(&o, 100, 9);
	loop_check(&o, 4097, 1);
	/* a NULL actual is fine */
	static uint8_t b[64];
	ck_assert_int_eq(bu_usb_bulk(o.dev, 0x01, b, 10, NULL, 0), 0);
	ck_assert_int_eq(bu_usb_bulk(o.dev, 0x81, b, sizeof(b), NULL, 0), 0);
	stack_down(&o.st);
}
END_TEST

/* A device that ends an IN transfer early (SIM_FAULT_SHORT): 0 and the length it sent. */
START_TEST(test_bulk_short)
{
	struct one o;
	static uint8_t out[2048], in[2048];
	size_t actual = 0;

	one_up(&o, SIM_SPEED_HIGH);
	for (size_t i = 0; i < sizeof(out); i++)
		out[i] = (uint8_t)i;
	ck_assert_int_eq(bu_usb_bulk(o.dev, 0x01, out, sizeof(out), &actual, 1000), 0);
	/* the first packet carries 100 bytes, not 512: the transfer ends there */
	sim_fault_ep(o.sd, 0x81, SIM_FAULT_SHORT, 1, 100);
	ck_assert_int_eq(bu_usb_bulk(o.dev, 0x81, in, sizeof(in), &actual, 1000), 0);
	ck_assert_uint_eq(actual, 100);
	ck_assert_mem_eq(in, out, 100);
	/* the rest comes with the next read */
	ck_assert_int_eq(bu_usb_bulk(o.dev, 0x81, in, sizeof(in), &actual, 1000), 0);
	ck_assert_uint_eq(actual, sizeof(out) - 100);
	ck_assert_mem_eq(in, out + 100, sizeof(out) - 100);
	stack_down(&o.st);
}
END_TEST

/* Send `len` bytes of `seed` through the loopback asynchronously, and let it run. */
static void loop_feed(struct one *o, size_t len, uint8_t seed)
{
	static uint8_t out[512];
	struct aio a;

	memset(out, seed, len);
	ck_assert_int_eq(aio_submit(&a, bu_usb_find_endpoint(o->dev, 0x01), out, len, 1000, NULL), 0);
	ck_assert(wait_flag(&o->st, &a.done, 1000));
	ck_assert_int_eq(a.x.status, 0);
	run_ms(&o->st, 20);
}

/*
 * An endpoint that NAKs forever: BU_ETIMEDOUT after the timeout, and the
 * transfer is back from the controller when the call returns: data the
 * device sends afterwards never lands in the caller's buffer. Then the
 * endpoint works again.
 */
START_TEST(test_bulk_timeout_cancel)
{
	struct one o;
	static uint8_t buf[512], buf2[512];
	size_t actual = 99;

	one_up(&o, SIM_SPEED_HIGH);
	sim_fault_ep(o.sd, 0x81, SIM_FAULT_NAK, 0, 0);
	uint64_t t0 = sim_now_us(o.st.sim);
	ck_assert_int_eq(bu_usb_bulk(o.dev, 0x81, buf, sizeof(buf), &actual, 50), BU_ETIMEDOUT);
	ck_assert_uint_ge(sim_now_us(o.st.sim) - t0, 50000);
	ck_assert_uint_lt(sim_now_us(o.st.sim) - t0, 1000000);
	ck_assert_uint_eq(actual, 0);
	/* the device answers now: nothing reaches the returned buffer */
	memset(buf, 0x5a, sizeof(buf));
	sim_fault_clear(o.sd);
	loop_feed(&o, 40, 0x11);
	for (size_t i = 0; i < sizeof(buf); i++)
		ck_assert_uint_eq(buf[i], 0x5a);
	ck_assert_int_eq(bu_usb_bulk(o.dev, 0x81, buf2, sizeof(buf2), &actual, 1000), 0);
	ck_assert_uint_eq(actual, 40);
	ck_assert_uint_eq(buf2[39], 0x11);
	/* the same on an OUT endpoint: nothing of it goes out later */
	sim_fault_ep(o.sd, 0x01, SIM_FAULT_NAK, 0, 0);
	memset(buf, 0x77, sizeof(buf));
	ck_assert_int_eq(bu_usb_bulk(o.dev, 0x01, buf, 300, &actual, 30), BU_ETIMEDOUT);
	ck_assert_uint_eq(actual, 0);
	sim_fault_clear(o.sd);
	loop_feed(&o, 20, 0x22);
	ck_assert_int_eq(bu_usb_bulk(o.dev, 0x81, buf2, sizeof(buf2), &actual, 1000), 0);
	ck_assert_uint_eq(actual, 20);
	ck_assert_uint_eq(buf2[0], 0x22);
	/* the default timeout (0) is BU_USB_REQUEST_TIMEOUT_MS */
	sim_fault_ep(o.sd, 0x81, SIM_FAULT_NAK, 0, 0);
	t0 = sim_now_us(o.st.sim);
	ck_assert_int_eq(bu_usb_bulk(o.dev, 0x81, buf, sizeof(buf), &actual, 0), BU_ETIMEDOUT);
	ck_assert_uint_ge(sim_now_us(o.st.sim) - t0, BU_USB_REQUEST_TIMEOUT_MS * 1000ull);
	sim_fault_clear(o.sd);
	loop_check(&o, 300, 4);
	check_no_violations(o.st.sim);
	stack_down(&o.st);
}
END_TEST

/* Interrupt IN: one 8-byte report; the type and address checks. */
START_TEST(test_interrupt_and_arguments)
{
	struct one o;
	static uint8_t buf[64];
	static const uint8_t tail[4] = { 0xa5, 0x5a, 0xa5, 0x5a };
	size_t actual = 0;

	one_up(&o, SIM_SPEED_HIGH);
	ck_assert_int_eq(bu_usb_interrupt(o.dev, 0x82, buf, sizeof(buf), &actual, 1000), 0);
	ck_assert_uint_eq(actual, 8);
	ck_assert_mem_eq(buf + 4, tail, 4);
	uint32_t seq = (uint32_t)buf[0] | (uint32_t)buf[1] << 8;
	ck_assert_int_eq(bu_usb_interrupt(o.dev, 0x82, buf, sizeof(buf), &actual, 1000), 0);
	ck_assert_uint_eq((uint32_t)buf[0] | (uint32_t)buf[1] << 8, seq + 1);
	/* the endpoint's type must be the helper's */
	ck_assert_int_eq(bu_usb_bulk(o.dev, 0x82, buf, sizeof(buf), &actual, 100), BU_EINVAL);
	ck_assert_int_eq(bu_usb_interrupt(o.dev, 0x81, buf, sizeof(buf), &actual, 100), BU_EINVAL);
	ck_assert_int_eq(bu_usb_interrupt(o.dev, 0x01, buf, sizeof(buf), &actual, 100), BU_EINVAL);
	/* EP0, reserved address bits, no such endpoint, one of alt 1 only */
	ck_assert_int_eq(bu_usb_bulk(o.dev, 0x00, buf, 8, &actual, 100), BU_EINVAL);
	ck_assert_int_eq(bu_usb_bulk(o.dev, 0x80, buf, 8, &actual, 100), BU_EINVAL);
	ck_assert_int_eq(bu_usb_bulk(o.dev, 0x91, buf, 8, &actual, 100), BU_EINVAL);
	ck_assert_int_eq(bu_usb_bulk(o.dev, 0x85, buf, 8, &actual, 100), BU_ENOENT);
	ck_assert_int_eq(bu_usb_bulk(o.dev, 0x02, buf, 8, &actual, 100), BU_ENOENT);
	ck_assert_int_eq(bu_usb_bulk(o.dev, 0x83, buf, 8, &actual, 100), BU_ENOENT);
	/* NULL device, NULL buffer with a length */
	ck_assert_int_eq(bu_usb_bulk(NULL, 0x81, buf, 8, &actual, 100), BU_EINVAL);
	ck_assert_int_eq(bu_usb_interrupt(NULL, 0x82, buf, 8, &actual, 100), BU_EINVAL);
	ck_assert_int_eq(bu_usb_bulk(o.dev, 0x81, NULL, 8, &actual, 100), BU_EINVAL);
	/* a zero-length OUT transfer goes out, and comes back as one */
	ck_assert_int_eq(bu_usb_bulk(o.dev, 0x01, NULL, 0, &actual, 100), 0);
	ck_assert_uint_eq(actual, 0);
	actual = 1;
	ck_assert_int_eq(bu_usb_bulk(o.dev, 0x81, buf, sizeof(buf), &actual, 100), 0);
	ck_assert_uint_eq(actual, 0);
	/* the endpoints of alt 1 once it is selected */
	ck_assert_int_eq(bu_usb_set_interface(o.dev, 0, 1), 0);
	ck_assert_int_eq(bu_usb_bulk(o.dev, 0x83, buf, 8, &actual, 100), BU_EINVAL);
	ck_assert_int_eq(bu_usb_set_interface(o.dev, 0, 0), 0);
	loop_check(&o, 64, 2);
	stack_down(&o.st);
}
END_TEST

/*
 * The device leaves during the wait (after 1024 bytes of an OUT transfer,
 * and as an IN transfer starts): BU_ENODEV, with the device freed under
 * the call (ASan watches that the helper does not touch it).
 */
START_TEST(test_bulk_unplug)
{
	struct one o;
	static uint8_t buf[4096];
	size_t actual;
	struct sim_stats s0, s1;

	stack_up(&o.st, NULL, 0);
	sim_attach(o.st.sim, sim_usb2_port(o.st.sim, 3), &sim_dev_hid_kbd, SIM_SPEED_FULL);
	ck_assert(settle(&o.st, 5000));
	run_ms(&o.st, 20);
	sim_get_stats(o.st.sim, &s0);
	for (int round = 0; round < 2; round++) {
		o.sd = sim_attach(o.st.sim, sim_usb2_port(o.st.sim, 1), &sim_dev_winusb,
				  SIM_SPEED_HIGH);
		ck_assert(settle(&o.st, 5000));
		o.dev = find_pid(&o.st, 0x1209, 0xb010);
		ck_assert_ptr_nonnull(o.dev);
		if (round == 0) {
			sim_fault_ep(o.sd, 0x01, SIM_FAULT_DISCONNECT, 1, 1024);
			ck_assert_int_eq(bu_usb_bulk(o.dev, 0x01, buf, sizeof(buf), &actual, 2000),
					 BU_ENODEV);
		} else {
			sim_fault_ep(o.sd, 0x81, SIM_FAULT_DISCONNECT, 1, 0);
			ck_assert_int_eq(bu_usb_bulk(o.dev, 0x81, buf, sizeof(buf), &actual, 2000),
					 BU_ENODEV);
		}
		ck_assert(settle(&o.st, 5000));
		ck_assert_ptr_null(find_pid(&o.st, 0x1209, 0xb010));
		ck_assert_uint_eq(o.st.removed, (unsigned)round + 1);
	}
	run_ms(&o.st, 50);
	sim_get_stats(o.st.sim, &s1);
	ck_assert_uint_eq(s1.slots_enabled, s0.slots_enabled);
	ck_assert_uint_eq(s1.heap_allocs, s0.heap_allocs);
	ck_assert_uint_eq(s1.dma_maps, s0.dma_maps);
	/* the keyboard still answers */
	uint16_t status;
	ck_assert_int_eq(bu_usb_get_status(find_pid(&o.st, 0x1209, 0xb001), USB_RECIP_DEVICE, 0,
					   &status), 0);
	stack_down(&o.st);
}
END_TEST

/* What the synchronous helpers answered when called from callbacks. */
static struct {
	int in_complete, in_added, in_removed, in_probe;
	unsigned calls;
	struct bu_usb_device *dev;
} cb;

static void cb_complete(struct bu_usb_xfer *xfer)
{
	static uint8_t b[64];

	cb.in_complete = bu_usb_bulk(xfer->ep->dev, 0x81, b, sizeof(b), NULL, 10);
	cb.calls++;
	*(bool *)xfer->ctx = true;
}

static void cb_added(void *ctx, struct bu_usb_device *dev)
{
	static uint8_t b[64];

	(void)ctx;
	if (dev->state != BU_DEV_CONFIGURED || dev->desc.idProduct != 0xb010)
		return;
	cb.dev = dev;
	cb.in_added = bu_usb_interrupt(dev, 0x82, b, sizeof(b), NULL, 10);
	cb.calls++;
}

static void cb_removed(void *ctx, struct bu_usb_device *dev)
{
	static uint8_t b[64];

	(void)ctx;
	if (dev != cb.dev)
		return;
	cb.in_removed = bu_usb_bulk(dev, 0x01, b, 1, NULL, 10);
	cb.calls++;
}

/* A listener's callbacks and a completion callback get BU_EBUSY, and nothing hangs. */
START_TEST(test_sync_refused_in_callbacks)
{
	struct one o;
	struct bu_usb_listener l = { .device_added = cb_added, .device_removed = cb_removed };
	struct bu_usb_xfer x;
	bool done = false;
	static uint8_t b[64];

	memset(&cb, 0, sizeof(cb));
	cb.in_complete = cb.in_added = cb.in_removed = 1;
	stack_up(&o.st, NULL, 0);
	ck_assert_int_eq(bu_usb_add_listener(o.st.bus, &l), 0);
	o.sd = sim_attach(o.st.sim, sim_usb2_port(o.st.sim, 1), &sim_dev_winusb, SIM_SPEED_HIGH);
	ck_assert(settle(&o.st, 5000));
	ck_assert_int_eq(cb.in_added, BU_EBUSY);
	o.dev = cb.dev;
	memset(&x, 0, sizeof(x));
	x.ep = bu_usb_find_endpoint(o.dev, 0x82);
	x.buf = b;
	x.len = sizeof(b);
	x.complete = cb_complete;
	x.ctx = &done;
	ck_assert_int_eq(bu_usb_xfer_submit(&x), 0);
	ck_assert(wait_flag(&o.st, &done, 1000));
	ck_assert_int_eq(x.status, 0);
	ck_assert_int_eq(cb.in_complete, BU_EBUSY);
	/* outside a callback the same call works */
	ck_assert_int_eq(bu_usb_interrupt(o.dev, 0x82, b, sizeof(b), NULL, 100), 0);
	sim_detach(o.sd);
	ck_assert(settle(&o.st, 5000));
	ck_assert_int_eq(cb.in_removed, BU_EBUSY);
	ck_assert_uint_eq(cb.calls, 3);
	stack_down(&o.st);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Iteration and lookup                                                      */

/*
 * Root port A: a keyboard; root port B (after A): a multi-TT hub with a WinUSB
 * device on port 4, a mass-storage device on port 1 and a composite on
 * port 2, plugged in that order, each after the one before was
 * configured, so the bus's list is neither tree order nor its reverse.
 */
struct tree {
	struct stack st;
	unsigned pa, pb;
	struct sim_device *kbd, *hub, *wu, *msc, *comp;
	char path[5][16]; /* expected tree order */
};

/* Poll until `n` devices are configured (a hub reports a new port at its own pace). */
static void wait_configured(struct stack *st, unsigned n)
{
	for (unsigned ms = 0; ms < 5000 && count_state(st, BU_DEV_CONFIGURED) != n; ms += 10)
		run_ms(st, 10);
	ck_assert_uint_eq(count_state(st, BU_DEV_CONFIGURED), n);
	ck_assert(settle(st, 5000));
}

static void tree_up(struct tree *t)
{
	stack_up(&t->st, NULL, 0);
	t->pa = sim_usb2_port(t->st.sim, 1);
	t->pb = sim_usb2_port(t->st.sim, 2);
	ck_assert_uint_lt(t->pa, t->pb);
	t->hub = sim_attach(t->st.sim, t->pb, &sim_dev_hub2_mtt, SIM_SPEED_HIGH);
	wait_configured(&t->st, 1);
	t->wu = sim_attach_hub(t->hub, 4, &sim_dev_winusb, SIM_SPEED_HIGH);
	wait_configured(&t->st, 2);
	t->kbd = sim_attach(t->st.sim, t->pa, &sim_dev_hid_kbd, SIM_SPEED_FULL);
	wait_configured(&t->st, 3);
	t->msc = sim_attach_hub(t->hub, 1, &sim_dev_msc, SIM_SPEED_HIGH);
	wait_configured(&t->st, 4);
	t->comp = sim_attach_hub(t->hub, 2, &sim_dev_composite, SIM_SPEED_HIGH);
	wait_configured(&t->st, 5);
	ck_assert(t->hub && t->wu && t->kbd && t->msc && t->comp);
	snprintf(t->path[0], sizeof(t->path[0]), "%u", t->pa);
	snprintf(t->path[1], sizeof(t->path[1]), "%u", t->pb);
	snprintf(t->path[2], sizeof(t->path[2]), "%u.1", t->pb);
	snprintf(t->path[3], sizeof(t->path[3]), "%u.2", t->pb);
	snprintf(t->path[4], sizeof(t->path[4]), "%u.4", t->pb);
}

static void path_of(const struct bu_usb_device *d, char *buf, size_t size)
{
	int n = 0;

	buf[0] = '\0';
	for (unsigned i = 0; i < d->tier; i++)
		n += snprintf(buf + n, size - (size_t)n, i ? ".%u" : "%u", d->path[i]);
}

/* What a walk saw; optionally does something at a device. */
struct walk {
	char seen[16][16];
	unsigned n;
	unsigned stop_at;   /* return 7 at this visit (1-based), 0 = never */
	const char *act_at; /* at this path: run act */
	void (*act)(struct walk *w);
	struct tree *t;
};

static int walk_fn(struct bu_usb_device *dev, void *ctx)
{
	struct walk *w = ctx;

	ck_assert_uint_lt(w->n, 16);
	path_of(dev, w->seen[w->n], sizeof(w->seen[0]));
	w->n++;
	if (w->act_at && !strcmp(w->act_at, w->seen[w->n - 1]))
		w->act(w);
	return w->n == w->stop_at ? 7 : 0;
}

static const char *find_path(struct stack *st, const char *path, int want)
{
	struct bu_usb_match m = { .flags = BU_MATCH_PATH, .path = path };
	struct bu_usb_device *d = (void *)1;
	static char got[16];

	ck_assert_int_eq(bu_usb_find_device(st->bus, &m, &d), want);
	if (want)
		ck_assert_ptr_null(d);
	if (!d)
		return NULL;
	path_of(d, got, sizeof(got));
	ck_assert_str_eq(got, path);
	return got;
}

START_TEST(test_foreach_tree_order)
{
	struct tree t;
	struct walk w;

	tree_up(&t);
	memset(&w, 0, sizeof(w));
	ck_assert_int_eq(bu_usb_foreach_device(t.st.bus, walk_fn, &w), 0);
	ck_assert_uint_eq(w.n, 5);
	for (unsigned i = 0; i < 5; i++)
		ck_assert_str_eq(w.seen[i], t.path[i]);
	/* fn stops the walk; its value comes back */
	memset(&w, 0, sizeof(w));
	w.stop_at = 3;
	ck_assert_int_eq(bu_usb_foreach_device(t.st.bus, walk_fn, &w), 7);
	ck_assert_uint_eq(w.n, 3);
	ck_assert_int_eq(bu_usb_foreach_device(NULL, walk_fn, &w), BU_EINVAL);
	ck_assert_int_eq(bu_usb_foreach_device(t.st.bus, NULL, &w), BU_EINVAL);
	stack_down(&t.st);
}
END_TEST

/* During the walk: the hub's port-1 device leaves, a device comes to port 3. */
static void unplug_and_plug(struct walk *w)
{
	sim_detach(w->t->msc);
	ck_assert_ptr_nonnull(sim_attach_hub(w->t->hub, 3, &sim_dev_hid_kbd, SIM_SPEED_FULL));
	for (unsigned ms = 0; ms < 5000 && w->t->st.added < 6; ms += 10)
		run_ms(&w->t->st, 10);
	ck_assert(settle(&w->t->st, 5000));
	ck_assert_uint_eq(w->t->st.removed, 1);
	ck_assert_uint_eq(w->t->st.added, 6);
}

/* The device being visited leaves (with the hub: its whole subtree). */
static void unplug_hub(struct walk *w)
{
	sim_detach(w->t->hub);
	ck_assert(settle(&w->t->st, 5000));
	ck_assert_uint_eq(w->t->st.removed, 5);
}

START_TEST(test_foreach_hotplug)
{
	struct tree t;
	struct walk w;
	char p3[16];

	tree_up(&t);
	memset(&w, 0, sizeof(w));
	w.t = &t;
	w.act_at = t.path[0];
	w.act = unplug_and_plug;
	ck_assert_int_eq(bu_usb_foreach_device(t.st.bus, walk_fn, &w), 0);
	snprintf(p3, sizeof(p3), "%u.3", t.pb);
	const char *want[] = { t.path[0], t.path[1], t.path[3], p3, t.path[4] };
	ck_assert_uint_eq(w.n, 5);
	for (unsigned i = 0; i < 5; i++)
		ck_assert_str_eq(w.seen[i], want[i]);
	/* removing the visited device and everything after it ends the walk */
	memset(&w, 0, sizeof(w));
	w.t = &t;
	w.act_at = t.path[1];
	w.act = unplug_hub;
	ck_assert_int_eq(bu_usb_foreach_device(t.st.bus, walk_fn, &w), 0);
	ck_assert_uint_eq(w.n, 2);
	ck_assert_uint_eq(count_state(&t.st, BU_DEV_CONFIGURED), 1);
	stack_down(&t.st);
}
END_TEST

/* Count the devices a rule matches (foreach + bu_usb_device_match). */
static int count_fn(struct bu_usb_device *dev, void *ctx)
{
	const struct bu_usb_match *m = ((const void **)ctx)[0];
	unsigned *n = ((void **)ctx)[1];

	*n += bu_usb_device_match(dev, m);
	return 0;
}

static unsigned count_matches(struct stack *st, const struct bu_usb_match *m)
{
	unsigned n = 0;
	const void *ctx[2] = { m, &n };

	ck_assert_int_eq(bu_usb_foreach_device(st->bus, count_fn, ctx), 0);
	return n;
}

/* The path of the first configured device the rule finds, or NULL (BU_ENOENT). */
static const char *find_by(struct stack *st, struct bu_usb_match m)
{
	struct bu_usb_device *d = NULL;
	static char got[16];
	int rc = bu_usb_find_device(st->bus, &m, &d);

	if (rc == BU_ENOENT) {
		ck_assert_ptr_null(d);
		return NULL;
	}
	ck_assert_int_eq(rc, 0);
	ck_assert(bu_usb_device_match(d, &m));
	path_of(d, got, sizeof(got));
	return got;
}

START_TEST(test_find)
{
	struct tree t;
	char p[16];

	tree_up(&t);
	/* VID/PID */
	ck_assert_str_eq(find_by(&t.st, (struct bu_usb_match){ .flags = BU_MATCH_VENDOR |
							      BU_MATCH_PRODUCT,
							      .vid = 0x1209, .pid = 0xb020 }),
			 t.path[2]);
	ck_assert_str_eq(find_by(&t.st, (struct bu_usb_match){ .flags = BU_MATCH_VENDOR |
							      BU_MATCH_PRODUCT,
							      .vid = 0x1209, .pid = 0xb010 }),
			 t.path[4]);
	ck_assert_ptr_null(find_by(&t.st, (struct bu_usb_match){ .flags = BU_MATCH_VENDOR |
								BU_MATCH_PRODUCT,
								.vid = 0x1209, .pid = 0xb0ff }));
	/* a vendor alone: the first in tree order; all five counted */
	ck_assert_str_eq(find_by(&t.st, (struct bu_usb_match){ .flags = BU_MATCH_VENDOR,
							      .vid = 0x1209 }),
			 t.path[0]);
	ck_assert_uint_eq(count_matches(&t.st, &(struct bu_usb_match){ .flags = BU_MATCH_VENDOR,
									.vid = 0x1209 }),
			  5);
	ck_assert_uint_eq(count_matches(&t.st, &(struct bu_usb_match){ 0 }), 5);
	/* by path */
	for (unsigned i = 0; i < 5; i++)
		ck_assert_ptr_nonnull(find_path(&t.st, t.path[i], 0));
	snprintf(p, sizeof(p), "%u.3", t.pb);
	find_path(&t.st, p, BU_ENOENT);
	snprintf(p, sizeof(p), "%u.4.1", t.pb);
	find_path(&t.st, p, BU_ENOENT);
	find_path(&t.st, "255", BU_ENOENT);
	static const char *const bad[] = { "", ".", "0", "256", "1..2", "1.", ".1", "01", "1.02",
					   "a", "1.2a", "1 .2", "1.2.3.4.5.6.7.8.9", "1000" };
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		find_path(&t.st, bad[i], BU_EINVAL);
	/* device class: the hub */
	ck_assert_str_eq(find_by(&t.st, (struct bu_usb_match){ .flags = BU_MATCH_DEV_CLASS,
							      .class_code = 9 }),
			 t.path[1]);
	/* interface class: mass storage; CDC data (the composite's second interface) */
	ck_assert_str_eq(find_by(&t.st, (struct bu_usb_match){ .flags = BU_MATCH_CLASS |
							      BU_MATCH_SUBCLASS |
							      BU_MATCH_PROTOCOL,
							      .class_code = 8, .subclass = 6,
							      .protocol = 0x50 }),
			 t.path[2]);
	ck_assert_str_eq(find_by(&t.st, (struct bu_usb_match){ .flags = BU_MATCH_CLASS,
							      .class_code = 0x0a }),
			 t.path[3]);
	/* the fields hold for one interface together, not across two */
	ck_assert_ptr_null(find_by(&t.st, (struct bu_usb_match){ .flags = BU_MATCH_CLASS |
								BU_MATCH_INTERFACE,
								.class_code = 0x0a,
								.interface = 0 }));
	ck_assert_str_eq(find_by(&t.st, (struct bu_usb_match){ .flags = BU_MATCH_CLASS |
							      BU_MATCH_INTERFACE,
							      .class_code = 0x0a, .interface = 1 }),
			 t.path[3]);
	/* HID boot keyboards: the root-port one first, the composite's too */
	struct bu_usb_match hid = { .flags = BU_MATCH_CLASS | BU_MATCH_SUBCLASS |
					     BU_MATCH_PROTOCOL,
				    .class_code = 3, .subclass = 1, .protocol = 1 };
	ck_assert_str_eq(find_by(&t.st, hid), t.path[0]);
	ck_assert_uint_eq(count_matches(&t.st, &hid), 2);
	/* any alternate setting counts: the multi-TT hub's alt 0 is protocol 1, alt 1 protocol 2 */
	for (uint8_t proto = 1; proto <= 2; proto++)
		ck_assert_str_eq(find_by(&t.st, (struct bu_usb_match){ .flags = BU_MATCH_CLASS |
								      BU_MATCH_PROTOCOL,
								      .class_code = 9,
								      .protocol = proto }),
				 t.path[1]);
	/* Microsoft OS compatible ID */
	ck_assert_str_eq(find_by(&t.st, (struct bu_usb_match){ .flags = BU_MATCH_COMPAT_ID,
							      .compat_id = "WINUSB" }),
			 t.path[4]);
	/* combined with a path */
	snprintf(p, sizeof(p), "%u.2", t.pb);
	ck_assert_str_eq(find_by(&t.st, (struct bu_usb_match){ .flags = BU_MATCH_PATH |
							      BU_MATCH_CLASS,
							      .path = p, .class_code = 3 }),
			 p);
	ck_assert_ptr_null(find_by(&t.st, (struct bu_usb_match){ .flags = BU_MATCH_PATH |
								BU_MATCH_CLASS,
								.path = p, .class_code = 8 }));
	/* bad rules */
	struct bu_usb_device *d = (void *)1;
	struct bu_usb_match m = { .flags = 1u << 12 };
	ck_assert_int_eq(bu_usb_find_device(t.st.bus, &m, &d), BU_EINVAL);
	ck_assert_ptr_null(d);
	ck_assert(!bu_usb_device_match(find_pid(&t.st, 0x1209, 0xb010), &m));
	m.flags = BU_MATCH_PATH;
	m.path = NULL;
	ck_assert_int_eq(bu_usb_find_device(t.st.bus, &m, &d), BU_EINVAL);
	m.flags = BU_MATCH_COMPAT_ID;
	m.compat_id = NULL;
	ck_assert_int_eq(bu_usb_find_device(t.st.bus, &m, &d), BU_EINVAL);
	ck_assert_int_eq(bu_usb_find_device(NULL, &m, &d), BU_EINVAL);
	ck_assert_int_eq(bu_usb_find_device(t.st.bus, NULL, &d), BU_EINVAL);
	ck_assert_int_eq(bu_usb_find_device(t.st.bus, &m, NULL), BU_EINVAL);
	ck_assert(!bu_usb_device_match(NULL, &m));
	ck_assert(!bu_usb_device_match(find_pid(&t.st, 0x1209, 0xb010), NULL));
	stack_down(&t.st);
}
END_TEST

/* A failed device is walked over but not found; one still enumerating is neither. */
START_TEST(test_find_skips_failed)
{
	struct stack st;
	struct walk w;
	struct bu_usb_device *d;
	struct bu_usb_match m = { .flags = BU_MATCH_VENDOR, .vid = 0x1209 };

	stack_up(&st, NULL, 0);
	struct sim_device *sd = sim_attach(st.sim, sim_usb2_port(st.sim, 1), &sim_dev_winusb,
					   SIM_SPEED_HIGH);
	/* the configuration cannot be set: the device fails after its descriptors */
	sim_fault_request(sd, 0x00, USB_REQ_SET_CONFIGURATION, -1, SIM_FAULT_STALL, 0);
	ck_assert(settle(&st, 10000));
	ck_assert_uint_eq(count_state(&st, BU_DEV_FAILED), 1);
	memset(&w, 0, sizeof(w));
	ck_assert_int_eq(bu_usb_foreach_device(st.bus, walk_fn, &w), 0);
	ck_assert_uint_eq(w.n, 1);
	ck_assert_int_eq(bu_usb_find_device(st.bus, &m, &d), BU_ENOENT);
	ck_assert_ptr_nonnull(sim_attach(st.sim, sim_usb2_port(st.sim, 2), &sim_dev_winusb,
					 SIM_SPEED_HIGH));
	for (int i = 0; i < 4000 && !count_state(&st, BU_DEV_ENUMERATING); i++)
		run_us(&st, 250, 250);
	ck_assert_uint_eq(count_state(&st, BU_DEV_ENUMERATING), 1);
	memset(&w, 0, sizeof(w));
	ck_assert_int_eq(bu_usb_foreach_device(st.bus, walk_fn, &w), 0);
	ck_assert_uint_eq(w.n, 1);
	ck_assert(settle(&st, 5000));
	memset(&w, 0, sizeof(w));
	ck_assert_int_eq(bu_usb_foreach_device(st.bus, walk_fn, &w), 0);
	ck_assert_uint_eq(w.n, 2);
	ck_assert_int_eq(bu_usb_find_device(st.bus, &m, &d), 0);
	stack_down(&st);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Interface claims                                                          */

static unsigned probes_cdc, probes_hid;

static int t_probe(struct bu_usb_interface *intf, const struct bu_usb_match *m)
{
	(void)m;
	if (intf->info->class_code == 2)
		probes_cdc++;
	else
		probes_hid++;
	return 0;
}

static const struct bu_usb_match m_cdc = { .flags = BU_MATCH_CLASS | BU_MATCH_SUBCLASS,
					   .class_code = 2, .subclass = 2 };
static const struct bu_usb_match m_hid = { .flags = BU_MATCH_CLASS, .class_code = 3 };
static const struct bu_usb_driver d_cdc = { .name = "t-cdc", .match = &m_cdc, .num_match = 1,
					    .probe = t_probe };
static const struct bu_usb_driver d_hid = { .name = "t-hid", .match = &m_hid, .num_match = 1,
					    .probe = t_probe };

/* Composite 1209:b030: IAD over 0 (02/02/01) + 1 (0a/00/00), then 2 (03/01/01). */
START_TEST(test_claim_release)
{
	struct stack st;
	struct bu_usb_device *dev;
	int me, other;

	probes_cdc = probes_hid = 0;
	stack_up(&st, NULL, 0);
	ck_assert_int_eq(bu_usb_bus_register_driver(st.bus, &d_hid), 0);
	ck_assert_ptr_nonnull(sim_attach(st.sim, sim_usb2_port(st.sim, 1), &sim_dev_composite,
					 SIM_SPEED_HIGH));
	ck_assert(settle(&st, 5000));
	dev = find_pid(&st, 0x1209, 0xb030);
	ck_assert_ptr_nonnull(dev);
	/* a bound driver is a claim */
	ck_assert_ptr_eq(iface_no(dev, 2)->owner, &d_hid);
	ck_assert_int_eq(bu_usb_claim_interface(dev, 2, &me), BU_EBUSY);
	ck_assert_int_eq(bu_usb_release_interface(dev, 2, &me), BU_EBUSY);
	ck_assert_int_eq(bu_usb_release_interface(dev, 2, &d_hid), BU_EBUSY);
	/* claim, again, someone else, release */
	ck_assert_int_eq(bu_usb_claim_interface(dev, 1, &me), 0);
	ck_assert_ptr_eq(iface_no(dev, 1)->owner, &me);
	ck_assert_int_eq(bu_usb_claim_interface(dev, 1, &me), 0);
	ck_assert_int_eq(bu_usb_claim_interface(dev, 1, &other), BU_EBUSY);
	ck_assert_int_eq(bu_usb_release_interface(dev, 1, &other), BU_EBUSY);
	/* arguments */
	ck_assert_int_eq(bu_usb_claim_interface(dev, 9, &me), BU_ENOENT);
	ck_assert_int_eq(bu_usb_release_interface(dev, 9, &me), BU_ENOENT);
	ck_assert_int_eq(bu_usb_claim_interface(dev, 1, NULL), BU_EINVAL);
	ck_assert_int_eq(bu_usb_claim_interface(NULL, 1, &me), BU_EINVAL);
	ck_assert_int_eq(bu_usb_release_interface(NULL, 1, &me), BU_EINVAL);
	ck_assert_int_eq(bu_usb_release_interface(dev, 0, &me), BU_EINVAL); /* not claimed */
	/* a claimed interface keeps its whole IAD function from a driver */
	ck_assert_int_eq(bu_usb_bus_register_driver(st.bus, &d_cdc), 0);
	ck_assert_uint_eq(probes_cdc, 0);
	ck_assert_ptr_null(iface_no(dev, 0)->driver);
	ck_assert_ptr_null(iface_no(dev, 0)->owner);
	ck_assert_ptr_eq(iface_no(dev, 1)->owner, &me);
	ck_assert_int_eq(bu_usb_claim_interface(dev, 0, &other), 0);
	/* the claim survives an alternate setting change of another interface */
	ck_assert_int_eq(bu_usb_set_interface(dev, 2, 0), 0);
	ck_assert_ptr_eq(iface_no(dev, 1)->owner, &me);
	ck_assert_int_eq(bu_usb_release_interface(dev, 1, &me), 0);
	ck_assert_ptr_null(iface_no(dev, 1)->owner);
	ck_assert_int_eq(bu_usb_release_interface(dev, 1, &me), BU_EINVAL);
	/* a new configuration drops the claims, and the driver binds */
	ck_assert_int_eq(bu_usb_set_configuration(dev, 1), 0);
	ck_assert_uint_eq(probes_cdc, 1);
	ck_assert_ptr_eq(iface_no(dev, 0)->owner, &d_cdc);
	ck_assert_ptr_eq(iface_no(dev, 1)->owner, &d_cdc);
	ck_assert_ptr_eq(iface_no(dev, 1)->driver, &d_cdc);
	ck_assert_int_eq(bu_usb_claim_interface(dev, 1, &me), BU_EBUSY);
	ck_assert_int_eq(bu_usb_claim_interface(dev, 0, &other), BU_EBUSY);
	/* unregistering the driver frees its interfaces */
	bu_usb_bus_unregister_driver(st.bus, &d_cdc);
	ck_assert_ptr_null(iface_no(dev, 0)->owner);
	ck_assert_ptr_null(iface_no(dev, 1)->owner);
	ck_assert_int_eq(bu_usb_claim_interface(dev, 0, &me), 0);
	ck_assert_int_eq(bu_usb_claim_interface(dev, 1, &me), 0);
	stack_down(&st);
}
END_TEST

static char bind_path[8];
static const struct bu_usb_match m_path = { .flags = BU_MATCH_PATH | BU_MATCH_INTERFACE,
					    .path = bind_path, .interface = 2 };
static const struct bu_usb_driver d_path = { .name = "t-path", .match = &m_path,
					     .num_match = 1, .probe = t_probe };

/* A driver's rule may name a port path; it outranks a class rule. */
START_TEST(test_bind_by_path)
{
	struct stack st;
	struct bu_usb_device *dev;
	unsigned port;

	stack_up(&st, NULL, 0);
	port = sim_usb2_port(st.sim, 2);
	snprintf(bind_path, sizeof(bind_path), "%u", port);
	ck_assert_int_eq(bu_usb_bus_register_driver(st.bus, &d_hid), 0);
	ck_assert_int_eq(bu_usb_bus_register_driver(st.bus, &d_path), 0);
	ck_assert_ptr_nonnull(sim_attach(st.sim, sim_usb2_port(st.sim, 1), &sim_dev_composite,
					 SIM_SPEED_HIGH));
	ck_assert_ptr_nonnull(sim_attach(st.sim, port, &sim_dev_composite_msos, SIM_SPEED_HIGH));
	ck_assert(settle(&st, 5000));
	dev = find_pid(&st, 0x1209, 0xb030);
	ck_assert_ptr_nonnull(dev);
	ck_assert_ptr_eq(iface_no(dev, 2)->owner, &d_hid);
	dev = find_pid(&st, 0x1209, 0xb031);
	ck_assert_ptr_nonnull(dev);
	ck_assert_ptr_eq(iface_no(dev, 2)->owner, &d_path);
	stack_down(&st);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Hot-plug listeners                                                        */

struct lrec {
	struct bu_usb_listener l;
	struct stack *st;
	char tag;
	struct bu_usb_listener *remove_on_removed; /* remove this one at the next removal */
};

static char order[64];
static unsigned order_n;

static void lrec_log(struct lrec *r, char what)
{
	if (order_n + 2 < sizeof(order)) {
		order[order_n++] = r->tag;
		order[order_n++] = what;
		order[order_n] = '\0';
	}
}

static void l_added(void *ctx, struct bu_usb_device *dev)
{
	(void)dev;
	lrec_log(ctx, '+');
}

static void l_removed(void *ctx, struct bu_usb_device *dev)
{
	struct lrec *r = ctx;

	(void)dev;
	lrec_log(r, '-');
	if (r->remove_on_removed) {
		ck_assert_int_eq(bu_usb_remove_listener(r->st->bus, r->remove_on_removed), 0);
		r->remove_on_removed = NULL;
	}
}

static void lrec_init(struct lrec *r, struct stack *st, char tag)
{
	memset(r, 0, sizeof(*r));
	r->l.device_added = l_added;
	r->l.device_removed = l_removed;
	r->l.ctx = r;
	r->st = st;
	r->tag = tag;
}

static void plug_unplug(struct stack *st)
{
	struct sim_device *sd = sim_attach(st->sim, sim_usb2_port(st->sim, 1), &sim_dev_hid_kbd,
					   SIM_SPEED_FULL);

	ck_assert_ptr_nonnull(sd);
	ck_assert(settle(st, 5000));
	sim_detach(sd);
	ck_assert(settle(st, 5000));
}

START_TEST(test_listeners)
{
	struct stack st;
	struct lrec a, b, c;

	stack_up(&st, NULL, 0);
	lrec_init(&a, &st, 'a');
	lrec_init(&b, &st, 'b');
	lrec_init(&c, &st, 'c');
	order_n = 0;
	order[0] = '\0';
	ck_assert_int_eq(bu_usb_add_listener(st.bus, &a.l), 0);
	ck_assert_int_eq(bu_usb_add_listener(st.bus, &b.l), 0);
	ck_assert_int_eq(bu_usb_add_listener(st.bus, &a.l), BU_EBUSY);
	ck_assert_int_eq(bu_usb_add_listener(NULL, &c.l), BU_EINVAL);
	ck_assert_int_eq(bu_usb_add_listener(st.bus, NULL), BU_EINVAL);
	ck_assert_int_eq(bu_usb_remove_listener(st.bus, &c.l), BU_ENOENT);
	ck_assert_int_eq(bu_usb_remove_listener(NULL, &a.l), BU_EINVAL);
	/* both told, in the order added; the old single callbacks too */
	plug_unplug(&st);
	ck_assert_str_eq(order, "a+b+a-b-");
	ck_assert_uint_eq(st.added, 1);
	ck_assert_uint_eq(st.removed, 1);
	/* a removes b from inside its callback: b is not told of that removal */
	order_n = 0;
	a.remove_on_removed = &b.l;
	ck_assert_int_eq(bu_usb_add_listener(st.bus, &c.l), 0);
	plug_unplug(&st);
	ck_assert_str_eq(order, "a+b+c+a-c-");
	ck_assert_ptr_null(b.l.bus);
	/* a listener removes itself from inside its callback */
	order_n = 0;
	c.remove_on_removed = &c.l;
	ck_assert_int_eq(bu_usb_add_listener(st.bus, &b.l), 0); /* b again, now last */
	plug_unplug(&st);
	ck_assert_str_eq(order, "a+c+b+a-c-b-");
	order_n = 0;
	plug_unplug(&st);
	ck_assert_str_eq(order, "a+b+a-b-");
	/* removed: not called any more; the bus's destroy tells the rest */
	ck_assert_int_eq(bu_usb_remove_listener(st.bus, &b.l), 0);
	ck_assert_int_eq(bu_usb_remove_listener(st.bus, &b.l), BU_ENOENT);
	ck_assert_ptr_nonnull(sim_attach(st.sim, sim_usb2_port(st.sim, 2), &sim_dev_hid_kbd,
					 SIM_SPEED_FULL));
	ck_assert(settle(&st, 5000));
	order_n = 0;
	stack_down(&st);
	ck_assert_str_eq(order, "a-");
	ck_assert_ptr_null(a.l.bus);
}
END_TEST

static Suite *api_suite(void)
{
	Suite *s = suite_create("api");
	TCase *x = tcase_create("sync");
	TCase *f = tcase_create("find");
	TCase *c = tcase_create("claim");
	TCase *l = tcase_create("listeners");

	tcase_set_timeout(x, 120);
	tcase_add_loop_test(x, test_bulk_loopback, 0, 3);
	tcase_add_test(x, test_bulk_short);
	tcase_add_test(x, test_bulk_timeout_cancel);
	tcase_add_test(x, test_interrupt_and_arguments);
	tcase_add_test(x, test_bulk_unplug);
	tcase_add_test(x, test_sync_refused_in_callbacks);
	tcase_add_test(f, test_foreach_tree_order);
	tcase_add_test(f, test_foreach_hotplug);
	tcase_add_test(f, test_find);
	tcase_add_test(f, test_find_skips_failed);
	tcase_add_test(c, test_claim_release);
	tcase_add_test(c, test_bind_by_path);
	tcase_add_test(l, test_listeners);
	suite_add_tcase(s, x);
	suite_add_tcase(s, f);
	suite_add_tcase(s, c);
	suite_add_tcase(s, l);
	return s;
}

int main(void)
{
	return run_suite(api_suite());
}
