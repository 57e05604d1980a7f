/*
 * System sleep of a bus from the debug console (`sleep [MS] [wake]`,
 * shell.c): bu_usb_bus_suspend, MS milliseconds asleep (polling for a
 * wake; with `wake` every boot keyboard may wake the system and a wake
 * ends the sleep early), bu_usb_bus_resume, then the bus left to settle
 * (re-enumerated devices print their usbdev lines), and the contract
 * lines (docs/contracts.md): one `usbsleep` line per device that was on
 * the bus, from bu_usb_bus_events.device_resumed, and one for the
 * controller.
 */
#include "guest.h"

#include "bareusb/usb.h"
#include "bareusb/util.h"

/* Re-enumeration after a lost controller state: every device again. */
#define SLEEP_SETTLE_MS 15000

static const char *how_name(int how)
{
	switch (how) {
	case BU_RESUME_REVALIDATED:
		return "revalidated";
	case BU_RESUME_REENUMERATED:
		return "reenumerated";
	case BU_RESUME_GONE:
		return "gone";
	default:
		return "?";
	}
}

static const char *wake_name(enum bu_usb_wake_kind k)
{
	switch (k) {
	case BU_WAKE_REMOTE:
		return "remote";
	case BU_WAKE_CONNECT:
		return "connect";
	case BU_WAKE_DISCONNECT:
		return "disconnect";
	case BU_WAKE_OVERCURRENT:
		return "overcurrent";
	default:
		return "none";
	}
}

void guest_sleep_resumed(void *ctx, struct bu_usb_device *dev, int how)
{
	char path[32];

	(void)ctx;
	guest_dev_path(dev, path, sizeof(path));
	kprintf("usbsleep {\"bus\":%u,\"path\":\"%s\",\"how\":\"%s\"}\n", dev->bus->index, path,
		how_name(how));
}

/** Let every boot keyboard (HID interface, protocol 1) wake the system. */
static unsigned arm_keyboards(struct bu_usb_bus *bus)
{
	static const struct bu_usb_match kbd = {
		.flags = BU_MATCH_CLASS | BU_MATCH_PROTOCOL, .class_code = 3, .protocol = 1};
	unsigned n = 0;

	for (struct bu_usb_device *d = bus->devices; d; d = d->next)
		if (d->state == BU_DEV_CONFIGURED && bu_usb_device_match(d, &kbd) &&
		    bu_usb_device_set_system_wake(d, true) == 0)
			n++;
	return n;
}

int guest_sleep(struct bu_usb_bus *bus, unsigned ms, bool wake)
{
	struct bu_usb_sleep_report r;
	uint64_t t0, t_asleep, t_awake, t_settled;
	unsigned armed = wake ? arm_keyboards(bus) : 0, woke = 0;
	char path[3 * BU_USB_MAX_PATH + 3] = "null";
	int rc;

	if (wake)
		kprintf("sleep: bus %u: %u keyboard(s) may wake the system\n", bus->index, armed);
	t0 = clock_now_us();
	rc = bu_usb_bus_suspend(bus, 0);
	if (rc)
		return rc;
	t_asleep = clock_now_us();
	kprintf("sleep: bus %u: asleep after %llu us\n", bus->index,
		(unsigned long long)(t_asleep - t0));
	while (clock_now_us() - t_asleep < ms * 1000ull) {
		bu_usb_bus_poll(bus);
		woke = bu_usb_bus_wake_check(bus);
		if (wake && woke)
			break;
		cpu_relax();
	}
	if (woke)
		kprintf("sleep: bus %u: wake signalled on root port %u\n", bus->index, woke);
	t_awake = clock_now_us();
	rc = bu_usb_bus_resume(bus);
	if (rc)
		return rc;
	while (!bu_usb_bus_idle(bus) && clock_now_us() - t_awake < SLEEP_SETTLE_MS * 1000ull) {
		bu_usb_bus_poll(bus);
		cpu_relax();
	}
	t_settled = clock_now_us();
	bu_usb_bus_wake_source(bus, &r);
	if (r.wake_tier) {
		size_t n = 0;

		path[0] = '"';
		n = 1;
		for (unsigned i = 0; i < r.wake_tier && i < BU_USB_MAX_PATH; i++)
			n += bu_snprintf(path + n, sizeof(path) - n, "%s%u", i ? "." : "",
					 r.wake_path[i]);
		bu_snprintf(path + n, sizeof(path) - n, "\"");
	}
	kprintf("usbsleep {\"bus\":%u,\"restore\":\"%s\",\"saved\":%s,\"suspend_us\":%u,"
		"\"asleep_us\":%llu,\"resume_us\":%u,\"settle_us\":%llu,\"wake\":\"%s\","
		"\"wake_port\":%u,\"wake_path\":%s,\"revalidated\":%u,\"reenumerated\":%u,"
		"\"gone\":%u,\"settled\":%s}\n",
		bus->index, r.restored ? "ok" : "failed", r.saved ? "true" : "false", r.suspend_us,
		(unsigned long long)(t_awake - t_asleep), r.resume_us,
		(unsigned long long)(t_settled - t_awake), wake_name(r.wake), r.wake_port, path,
		r.revalidated, r.reenumerated, r.gone, bu_usb_bus_idle(bus) ? "true" : "false");
	return 0;
}
