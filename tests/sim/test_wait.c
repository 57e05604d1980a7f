/*
 * Waiting, interrupts and locking on the sim: bu_usb_bus_next_timeout()
 * during enumeration and on an idle bus, the synchronous calls sleeping
 * through the platform's wait hook (woken by the controller's interrupt,
 * bounded by their own timeout and the bus's next timeout), and the
 * locking rule of platform.h checked by a platform whose lock counts its
 * levels: no library state changes outside it (register writes, memory,
 * DMA mappings), balanced, and never held across the wait hook, through
 * the core's and the WinUSB layer's entry points.
 */
#include "harness.h"

#include "bareusb/winusb.h"
#include "bareusb/winusb_drv.h"

/* The API instance the WinUsb_* names use. */
static struct bu_winusb_api *g_api;

struct bu_winusb_api *bu_winusb_current(void)
{
	return g_api;
}

/* {6A1D3C9E-5B2F-4E8A-9C71-0D3E5F7A9B21}: SIM_WINUSB_GUID */
static const GUID sim_guid = { 0x6A1D3C9Eu, 0x5B2F, 0x4E8A,
			       { 0x9C, 0x71, 0x0D, 0x3E, 0x5F, 0x7A, 0x9B, 0x21 } };

/*
 * The checking platform: the sim's table with lock, unlock and wait of its
 * own, and every call that changes state wrapped to see whether the lock
 * is held. One per test process (Check forks each case).
 */
static struct chk {
	const struct bu_platform *inner;
	struct bu_platform plat;
	struct bu_usb_bus *bus;
	bool armed;           /* between bu_xhci_create and bu_usb_bus_destroy */
	bool in_irq;          /* the interrupt handler runs (no lock by the rule) */
	int depth;            /* lock levels held */
	int max_depth;
	unsigned locks, unlocks, bad_unlocks;
	unsigned outside;     /* state changes outside the lock while armed */
	char first_outside[64];
	unsigned waits, waits_locked, waits_past, waits_over;
	uint64_t wait_limit;  /* a wait's deadline must not be past this (0: no check) */
	uint64_t last_deadline;
	unsigned irqs_handled;
} C;

static void chk_change(const char *what)
{
	if (!C.armed || C.in_irq || C.depth > 0)
		return;
	if (!C.outside++)
		snprintf(C.first_outside, sizeof(C.first_outside), "%s", what);
}

static void c_lock(void *ctx)
{
	(void)ctx;
	C.locks++;
	if (++C.depth > C.max_depth)
		C.max_depth = C.depth;
}

static void c_unlock(void *ctx)
{
	(void)ctx;
	C.unlocks++;
	if (C.depth <= 0)
		C.bad_unlocks++; /* released what this thread does not hold */
	else
		C.depth--;
}

static void c_wait(void *ctx, uint64_t deadline_us)
{
	uint64_t now = C.inner->now_us(ctx);

	C.waits++;
	C.last_deadline = deadline_us;
	if (C.depth)
		C.waits_locked++;
	if (deadline_us < now)
		C.waits_past++;
	if (C.wait_limit && deadline_us > C.wait_limit)
		C.waits_over++;
	C.inner->wait(ctx, deadline_us);
}

static void c_write32(void *ctx, uintptr_t a, uint32_t v)
{
	chk_change("write32");
	C.inner->write32(ctx, a, v);
}

static void c_write64(void *ctx, uintptr_t a, uint64_t v)
{
	chk_change("write64");
	C.inner->write64(ctx, a, v);
}

static void *c_dma_alloc(void *ctx, size_t size, size_t align, size_t boundary, uint64_t mask,
			 uint64_t *bus)
{
	chk_change("dma_alloc");
	return C.inner->dma_alloc(ctx, size, align, boundary, mask, bus);
}

static void c_dma_free(void *ctx, void *p, uint64_t bus, size_t size)
{
	chk_change("dma_free");
	C.inner->dma_free(ctx, p, bus, size);
}

static int c_dma_map(void *ctx, void *buf, size_t len, enum bu_dma_dir dir, uint64_t mask,
		     struct bu_dma_chunk *chunks, int max)
{
	chk_change("dma_map");
	return C.inner->dma_map(ctx, buf, len, dir, mask, chunks, max);
}

static void c_dma_unmap(void *ctx, void *buf, size_t len, enum bu_dma_dir dir, uint64_t bus)
{
	chk_change("dma_unmap");
	C.inner->dma_unmap(ctx, buf, len, dir, bus);
}

static void *c_alloc(void *ctx, size_t size)
{
	chk_change("alloc");
	return C.inner->alloc(ctx, size);
}

static void c_free(void *ctx, void *p, size_t size)
{
	chk_change("free");
	C.inner->free(ctx, p, size);
}

/* The interrupt handler the sim's wait hook runs: as an embedder's ISR. */
static void c_irq(void *ctx)
{
	(void)ctx;
	C.in_irq = true;
	if (C.bus && bu_xhci_irq(C.bus))
		C.irqs_handled++;
	C.in_irq = false;
}

/*
 * Bring up a sim with the wait hook (wait) and a stack on the checking
 * platform (locks: with lock/unlock), interrupt-driven when `irq`.
 */
static void chk_up(struct stack *st, bool wait, bool locks, bool irq)
{
	struct sim_config cfg = { 0 };
	struct bu_xhci_options o = { 0 };

	memset(&C, 0, sizeof(C));
	/* The plain model on every personality of the matrix: with the
	 * missing-CAS quirk (intel-spt) the driver looks at its ports every
	 * 2 s by design, and an idle bus reports that timer. */
	cfg.personality = SIM_PERSONALITY_NONE;
	cfg.wait_hook = wait;
	stack_sim(st, &cfg);
	C.inner = sim_platform(st->sim);
	C.plat = *C.inner;
	if (locks) {
		C.plat.lock = c_lock;
		C.plat.unlock = c_unlock;
		C.plat.write32 = c_write32;
		C.plat.write64 = C.inner->write64 ? c_write64 : NULL;
		C.plat.dma_alloc = c_dma_alloc;
		C.plat.dma_free = c_dma_free;
		C.plat.dma_map = c_dma_map;
		C.plat.dma_unmap = C.inner->dma_unmap ? c_dma_unmap : NULL;
		C.plat.alloc = c_alloc;
		C.plat.free = c_free;
	}
	if (wait)
		C.plat.wait = c_wait;
	o.irq = irq;
	sim_pci_identity(st->sim, &o.pci);
	ck_assert_int_eq(bu_xhci_create(sim_regs_base(st->sim), &C.plat, &o, 0, &st->bus), 0);
	st->bus->events.ctx = st;
	st->bus->events.device_added = h_on_added;
	st->bus->events.device_removed = h_on_removed;
	C.bus = st->bus;
	sim_set_irq_handler(st->sim, c_irq, NULL);
	C.armed = true;
}

static void chk_down(struct stack *st)
{
	C.armed = false;
	C.bus = NULL;
	stack_down(st);
}

/* Check the lock's books: balanced, released, never across a wait. */
static void chk_lock_books(void)
{
	ck_assert_msg(C.outside == 0, "%u state changes outside the lock, first: %s", C.outside,
		      C.first_outside);
	ck_assert_int_eq(C.bad_unlocks, 0);
	ck_assert_int_eq(C.depth, 0);
	ck_assert_uint_eq(C.locks, C.unlocks);
	ck_assert_uint_eq(C.waits_locked, 0);
}

static uint64_t now_us(struct stack *st)
{
	return sim_now_us(st->sim);
}

/* Attach a full-speed keyboard to the first USB 2 port. */
static void attach_kbd(struct stack *st)
{
	ck_assert_ptr_nonnull(sim_attach(st->sim, sim_usb2_port(st->sim, 1), &sim_dev_hid_kbd,
					 SIM_SPEED_FULL));
}

/* Attach a keyboard and let it enumerate; returns it. */
static struct bu_usb_device *kbd_up(struct stack *st)
{
	attach_kbd(st);
	ck_assert(settle(st, 3000));
	ck_assert_ptr_nonnull(st->bus->devices);
	return st->bus->devices;
}

/* The device descriptor, through the synchronous API: its length. */
static int get_dev_desc(struct bu_usb_device *dev, uint8_t *buf)
{
	return bu_usb_get_descriptor(dev, USB_RECIP_DEVICE, USB_DT_DEVICE, 0, 0, buf, 18);
}

/* ------------------------------------------------------------------------ */
/* bu_usb_bus_next_timeout                                                  */

/* An idle bus with no timer; a keyboard attached, until the bus sees it (debounce). */
static void idle_then_attach(struct stack *st, bool irq)
{
	chk_up(st, false, false, irq);
	run_ms(st, 5);
	ck_assert_uint_eq(bu_usb_bus_next_timeout(st->bus), BU_USB_NO_TIMEOUT);
	attach_kbd(st);
	/* The connection is seen (Port Status Change), debounce starts. */
	for (int i = 0; i < 100 && bu_usb_bus_idle(st->bus); i++)
		run_us(st, 100, 50);
	ck_assert(!bu_usb_bus_idle(st->bus));
}

/* Interrupt-driven: the attach sequence's timers, then nothing at all. */
START_TEST(next_timeout_irq)
{
	struct stack st;
	uint64_t t, now;

	idle_then_attach(&st, true);
	now = now_us(&st);
	t = bu_usb_bus_next_timeout(st.bus);
	/* USB 2.0 §7.1.7.3: TATTDB 100 ms from the connection. */
	ck_assert_msg(t > now && t <= now + 100000 && t + 5000 >= now + 100000,
		      "debounce deadline %llu at %llu", (unsigned long long)t,
		      (unsigned long long)now);
	ck_assert(settle(&st, 3000));
	ck_assert_uint_eq(st.added, 1);
	run_ms(&st, 2);
	ck_assert_uint_eq(bu_usb_bus_next_timeout(st.bus), BU_USB_NO_TIMEOUT);
	chk_down(&st);
}
END_TEST

/* Polled: while the controller owes an event, "at once"; idle: none. */
START_TEST(next_timeout_polled)
{
	struct stack st;
	struct bu_usb_device *dev;
	uint8_t buf[18];
	struct bu_usb_xfer x;
	struct aio a = { 0 };

	idle_then_attach(&st, false);
	ck_assert_uint_le(bu_usb_bus_next_timeout(st.bus), now_us(&st));
	ck_assert(settle(&st, 3000));
	run_ms(&st, 2);
	ck_assert_uint_eq(bu_usb_bus_next_timeout(st.bus), BU_USB_NO_TIMEOUT);
	/* A transfer in flight: only a poll would see it end. */
	dev = st.bus->devices;
	ck_assert_ptr_nonnull(dev);
	memset(&x, 0, sizeof(x));
	x.ep = &dev->ep0;
	bu_usb_setup_pack(x.setup, USB_DIR_IN, USB_REQ_GET_DESCRIPTOR, USB_DT_DEVICE << 8, 0,
			  sizeof(buf));
	x.buf = buf;
	x.len = sizeof(buf);
	x.timeout_ms = 1000;
	x.complete = aio_complete;
	x.ctx = &a;
	ck_assert_int_eq(bu_usb_xfer_submit(&x), 0);
	ck_assert_uint_le(bu_usb_bus_next_timeout(st.bus), now_us(&st));
	ck_assert(wait_flag(&st, &a.done, 1000));
	ck_assert_int_eq(x.status, 0);
	ck_assert_uint_eq(bu_usb_bus_next_timeout(st.bus), BU_USB_NO_TIMEOUT);
	chk_down(&st);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Synchronous calls through the wait hook                                  */

static bool never(void *arg)
{
	(void)arg;
	return false;
}

/* Wait `us` for nothing (it times out), each sleep bounded by that deadline; returns it. */
static uint64_t wait_for_nothing(struct stack *st, uint64_t us)
{
	uint64_t deadline = now_us(st) + us;

	C.wait_limit = deadline;
	ck_assert_int_eq(bu_usb_bus_wait(st->bus, never, NULL, deadline), BU_ETIMEDOUT);
	ck_assert_uint_ge(now_us(st), deadline);
	ck_assert_uint_eq(C.waits_over, 0);
	return deadline;
}

/* A synchronous control request sleeps in the hook and wakes on the interrupt. */
START_TEST(sync_call_waits_for_irq)
{
	struct stack st;
	struct bu_usb_device *dev;
	uint8_t buf[18];
	uint64_t t0, waits0, irqs0;
	struct sim_stats s;
	int rc;

	chk_up(&st, true, false, true);
	dev = kbd_up(&st);
	waits0 = C.waits;
	irqs0 = C.irqs_handled;
	t0 = now_us(&st);
	/* No wait may reach past the request's own 5 s limit. */
	C.wait_limit = t0 + (uint64_t)BU_USB_REQUEST_TIMEOUT_MS * 1000 + 1000;
	rc = get_dev_desc(dev, buf);
	ck_assert_int_eq(rc, 18);
	ck_assert_uint_eq(buf[1], USB_DT_DEVICE);
	ck_assert_msg(C.waits > waits0, "the request never waited through the hook");
	ck_assert_msg(C.irqs_handled > irqs0, "no interrupt woke the wait");
	sim_get_stats(st.sim, &s);
	ck_assert_uint_gt(s.wait_irqs, 0);
	ck_assert_uint_eq(C.waits_past, 0);
	ck_assert_uint_eq(C.waits_over, 0);
	/* Woken by the interrupt: milliseconds, not the 5 s deadline. */
	ck_assert_msg(now_us(&st) - t0 < 20000, "request took %llu us",
		      (unsigned long long)(now_us(&st) - t0));
	chk_down(&st);
}
END_TEST

/* Without interrupts the controller's events need polls: no sleeping past them. */
START_TEST(sync_call_polled_with_hook)
{
	struct stack st;
	struct bu_usb_device *dev;
	uint8_t buf[18];
	uint64_t t0;

	chk_up(&st, true, false, false);
	dev = kbd_up(&st);
	t0 = now_us(&st);
	ck_assert_int_eq(get_dev_desc(dev, buf), 18);
	ck_assert_msg(now_us(&st) - t0 < 20000, "request took %llu us",
		      (unsigned long long)(now_us(&st) - t0));
	ck_assert_uint_eq(C.waits_past, 0);
	chk_down(&st);
}
END_TEST

/* A wait on an idle bus sleeps once, to the caller's deadline. */
START_TEST(wait_bounded_by_caller)
{
	struct stack st;
	uint64_t deadline;

	chk_up(&st, true, false, true);
	run_ms(&st, 5);
	deadline = wait_for_nothing(&st, 50000);
	ck_assert_uint_ge(C.waits, 1);
	ck_assert_uint_le(C.waits, 2);
	ck_assert_uint_eq(C.last_deadline, deadline);
	chk_down(&st);
}
END_TEST

/* During enumeration a wait sleeps only to the bus's next timer. */
START_TEST(wait_bounded_by_bus)
{
	struct stack st;

	chk_up(&st, true, false, true);
	run_ms(&st, 5);
	attach_kbd(&st);
	/* The device enumerates inside the wait, driven by timers and interrupts. */
	wait_for_nothing(&st, 2000000);
	ck_assert_uint_eq(st.added, 1);
	ck_assert_uint_eq(count_state(&st, BU_DEV_CONFIGURED), 1);
	ck_assert_uint_gt(C.waits, 5);
	ck_assert_uint_gt(C.irqs_handled, 0);
	ck_assert_uint_eq(C.waits_past, 0);
	chk_down(&st);
}
END_TEST

/* A hub and a device behind it enumerate inside one wait: the hub's timers
 * (power-on, port reset polling) bound its sleeps; idle afterwards. */
START_TEST(wait_through_hub)
{
	struct stack st;
	struct sim_device *hub;

	chk_up(&st, true, false, true);
	run_ms(&st, 5);
	hub = sim_attach(st.sim, sim_usb2_port(st.sim, 1), &sim_dev_hub2, SIM_SPEED_HIGH);
	ck_assert_ptr_nonnull(hub);
	ck_assert_ptr_nonnull(sim_attach_hub(hub, 2, &sim_dev_hid_kbd, SIM_SPEED_FULL));
	wait_for_nothing(&st, 3000000);
	ck_assert_uint_eq(count_state(&st, BU_DEV_CONFIGURED), 2);
	ck_assert_uint_eq(C.waits_past, 0);
	/* The hub's status-change endpoint waits in the controller: no timer. */
	ck_assert_uint_eq(bu_usb_bus_next_timeout(st.bus), BU_USB_NO_TIMEOUT);
	chk_down(&st);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* The locking rule                                                         */

/* The core's entry points keep the rule, sync and async. */
START_TEST(lock_rule_core)
{
	struct stack st;
	struct bu_usb_device *dev;
	struct bu_usb_endpoint *ep;
	uint8_t buf[64];
	uint16_t status;
	struct bu_usb_xfer x;
	struct aio a = { 0 };

	chk_up(&st, true, true, true);
	ck_assert_ptr_nonnull(sim_attach(st.sim, sim_usb2_port(st.sim, 1), &sim_dev_winusb,
					 SIM_SPEED_HIGH));
	ck_assert(settle(&st, 3000));
	dev = find_pid(&st, 0x1209, 0xb010);
	ck_assert_ptr_nonnull(dev);
	ck_assert_int_eq(get_dev_desc(dev, buf), 18);
	ck_assert_int_eq(bu_usb_get_status(dev, USB_RECIP_DEVICE, 0, &status), 0);
	ck_assert_int_eq(bu_usb_set_interface(dev, 0, 0), 0);
	ep = bu_usb_find_endpoint(dev, 0x81);
	ck_assert_ptr_nonnull(ep);
	ck_assert_int_eq(bu_usb_reset_endpoint(ep), 0);
	(void)bu_usb_frame_number(st.bus);
	/* An IN read that waits for data, cancelled by abort. */
	memset(&x, 0, sizeof(x));
	x.ep = ep;
	x.buf = buf;
	x.len = sizeof(buf);
	x.complete = aio_complete;
	x.ctx = &a;
	ck_assert_int_eq(bu_usb_xfer_submit(&x), 0);
	run_ms(&st, 2);
	ck_assert_int_eq(bu_usb_abort_endpoint(ep), 1);
	ck_assert(wait_flag(&st, &a.done, 1000));
	run_ms(&st, 5);
	ck_assert_int_eq(bu_usb_set_configuration(dev, 1), 0);
	ck_assert_uint_gt(C.waits, 0);
	ck_assert_int_ge(C.max_depth, 2); /* callbacks ran under poll's level */
	chk_lock_books();
	chk_down(&st);
}
END_TEST

/* The WinUSB layer's entry points keep it too (its API part's own tables are not the bus's). */
START_TEST(lock_rule_winusb)
{
	struct stack st;
	struct bu_winusb_drv *drv;
	struct bu_winusb_transport tp;
	char path[BU_WINUSB_PATH_MAX];
	HANDLE file;
	WINUSB_INTERFACE_HANDLE h;
	UCHAR out[100], in[100];
	ULONG n = 0;
	OVERLAPPED ov;
	DWORD got = 0;

	chk_up(&st, true, true, true);
	ck_assert_int_eq(bu_winusb_drv_create(st.bus, NULL, &drv), 0);
	ck_assert_ptr_nonnull(sim_attach(st.sim, sim_usb2_port(st.sim, 1), &sim_dev_winusb,
					 SIM_SPEED_HIGH));
	ck_assert(settle(&st, 3000));
	bu_winusb_drv_transport(drv, &tp);
	/* The API part allocates from its own table: not the bus's state. */
	{
		static struct bu_platform api_plat;

		api_plat = *C.inner;
		api_plat.wait = c_wait;
		ck_assert_int_eq(bu_winusb_api_create(&api_plat, &g_api), 0);
	}
	ck_assert_int_eq(bu_winusb_api_attach(g_api, &tp), 0);
	ck_assert(bu_winusb_find_by_guid(g_api, &sim_guid, 0, path, sizeof(path), NULL));
	file = CreateFile(path, GENERIC_READ | GENERIC_WRITE, FILE_SHARE_READ | FILE_SHARE_WRITE,
			  NULL, OPEN_EXISTING, FILE_ATTRIBUTE_NORMAL | FILE_FLAG_OVERLAPPED, NULL);
	ck_assert(file != INVALID_HANDLE_VALUE);
	ck_assert(WinUsb_Initialize(file, &h));
	for (unsigned i = 0; i < sizeof(out); i++)
		out[i] = (UCHAR)i;
	ck_assert(WinUsb_WritePipe(h, 0x01, out, sizeof(out), &n, NULL));
	ck_assert_uint_eq(n, sizeof(out));
	ck_assert(WinUsb_ReadPipe(h, 0x81, in, sizeof(in), &n, NULL));
	ck_assert_uint_eq(n, sizeof(out));
	ck_assert(memcmp(in, out, sizeof(out)) == 0);
	/* Overlapped: the read completes from poll, the wait sleeps in the hook. */
	memset(&ov, 0, sizeof(ov));
	ov.hEvent = CreateEvent(NULL, TRUE, FALSE, NULL);
	ck_assert(!WinUsb_ReadPipe(h, 0x81, in, sizeof(in), NULL, &ov));
	ck_assert_uint_eq(GetLastError(), ERROR_IO_PENDING);
	ck_assert(WinUsb_WritePipe(h, 0x01, out, 10, &n, NULL));
	ck_assert(WinUsb_GetOverlappedResult(h, &ov, &got, TRUE));
	ck_assert_uint_eq(got, 10);
	ck_assert(WinUsb_SetCurrentAlternateSetting(h, 0));
	ck_assert(WinUsb_ResetPipe(h, 0x81));
	ck_assert(WinUsb_AbortPipe(h, 0x81));
	ck_assert(WinUsb_FlushPipe(h, 0x81));
	ck_assert(CloseHandle(ov.hEvent));
	ck_assert(WinUsb_Free(h));
	ck_assert(CloseHandle(file));
	bu_winusb_api_destroy(g_api);
	g_api = NULL;
	bu_winusb_drv_destroy(drv);
	ck_assert_uint_gt(C.waits, 0);
	chk_lock_books();
	chk_down(&st);
}
END_TEST

static Suite *wait_suite(void)
{
	Suite *s = suite_create("wait");
	TCase *tc = tcase_create("wait");

	tcase_add_test(tc, next_timeout_irq);
	tcase_add_test(tc, next_timeout_polled);
	tcase_add_test(tc, sync_call_waits_for_irq);
	tcase_add_test(tc, sync_call_polled_with_hook);
	tcase_add_test(tc, wait_bounded_by_caller);
	tcase_add_test(tc, wait_bounded_by_bus);
	tcase_add_test(tc, wait_through_hub);
	tcase_add_test(tc, lock_rule_core);
	tcase_add_test(tc, lock_rule_winusb);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return run_suite(wait_suite());
}
