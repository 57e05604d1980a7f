/*
 * `autosuspend=MS` in watch mode: selective suspend as a power-aware
 * host does it. Every HID device keeps an interrupt read pending (its
 * reports print as `usbhid` lines); any device idle for MS ms is
 * suspended (a hub once every device below it is); every suspend and
 * resume prints a `usbpm` line saying who caused it, so a script can
 * press a key through QMP and see the keyboard wake the bus and its
 * report arrive. `pmpoke=MS` sends, once, MS ms after the watch starts,
 * a GET_STATUS to every suspended device behind a hub: the core must
 * resume the hub chain above it first (`usbpoke` gives the latency).
 * Lines: docs/contracts.md.
 */
#include "guest.h"

#include "bareusb/desc.h"
#include "bareusb/errors.h"
#include "bareusb/usb.h"
#include "bareusb/util.h"

#define PM_MAX_DEVS 32
#define PM_RETRY_US 20000   /* a device that could not be suspended: try again */
#define PM_READ_RETRY_US 100000

struct pm_dev {
	struct bu_usb_device *dev; /* NULL: free (once nothing is in flight) */
	struct bu_usb_endpoint *hid_in;
	struct bu_usb_xfer rd;
	struct bu_usb_xfer poke;
	bool reading, poking;
	uint64_t busy_us;    /* last activity: idle time counts from here */
	uint64_t retry_us;   /* next read after a failed one */
	uint64_t t_suspend_us, t_poke_us;
	uint8_t buf[64];
	uint8_t status[2];
};

static struct pm_dev pm_devs[PM_MAX_DEVS];
static uint64_t pm_idle_us, pm_poke_us, pm_t0;
static bool pm_poked;

bool guest_pm_enabled(void)
{
	return pm_idle_us != 0;
}

void guest_pm_init(void)
{
	if (!cmdline_has("autosuspend"))
		return;
	pm_idle_us = cmdline_get_u64("autosuspend", 1000) * 1000;
	if (!pm_idle_us)
		pm_idle_us = 1;
	pm_poke_us = cmdline_get_u64("pmpoke", 0) * 1000;
	pm_t0 = clock_now_us();
}

/** The interrupt IN endpoint of a device's first HID interface, or NULL. */
static struct bu_usb_endpoint *hid_endpoint(struct bu_usb_device *d)
{
	for (unsigned i = 0; i < d->num_ifaces; i++) {
		const struct bu_usb_alt_info *a = d->ifaces[i].info;
		const struct bu_usb_config_info *c = &d->configs[d->active_config];

		if (!a || a->class_code != 3)
			continue;
		for (unsigned k = 0; k < a->num_eps && a->first_ep + k < c->num_eps; k++) {
			const struct bu_usb_ep_info *e = &c->eps[a->first_ep + k];

			if ((e->address & 0x80) && (e->attributes & 3) == BU_EP_INTERRUPT)
				return bu_usb_find_endpoint(d, e->address);
		}
	}
	return NULL;
}

static struct pm_dev *pm_find(const struct bu_usb_device *d)
{
	for (unsigned i = 0; i < PM_MAX_DEVS; i++)
		if (pm_devs[i].dev == d)
			return &pm_devs[i];
	return NULL;
}

/** Take in a device, idle from `now` (the poll's clock, so that idle time never runs negative). */
static struct pm_dev *pm_add(struct bu_usb_device *d, uint64_t now)
{
	for (unsigned i = 0; i < PM_MAX_DEVS; i++) {
		struct pm_dev *p = &pm_devs[i];

		if (p->dev || p->reading || p->poking)
			continue;
		bu_memset(p, 0, sizeof(*p));
		p->dev = d;
		p->hid_in = hid_endpoint(d);
		p->busy_us = now;
		return p;
	}
	return NULL;
}

void guest_pm_forget(const struct bu_usb_device *d)
{
	struct pm_dev *p = pm_find(d);

	if (p)
		p->dev = NULL; /* the slot is reused once its transfers are back */
}

static void read_done(struct bu_usb_xfer *x)
{
	struct pm_dev *p = x->ctx;
	char path[32], hex[2 * sizeof(p->buf) + 1];
	static const char digits[] = "0123456789abcdef";

	p->reading = false;
	if (!p->dev)
		return;
	if (x->status) {
		p->retry_us = clock_now_us() + PM_READ_RETRY_US;
		return;
	}
	for (size_t i = 0; i < x->actual && i < sizeof(p->buf); i++) {
		hex[2 * i] = digits[p->buf[i] >> 4];
		hex[2 * i + 1] = digits[p->buf[i] & 15];
		hex[2 * i + 2] = 0;
	}
	if (!x->actual)
		hex[0] = 0;
	guest_dev_path(p->dev, path, sizeof(path));
	kprintf("usbhid {\"bus\":%u,\"path\":\"%s\",\"report\":\"%s\"}\n", p->dev->bus->index,
		path, hex);
	p->busy_us = clock_now_us();
}

static void poke_done(struct bu_usb_xfer *x)
{
	struct pm_dev *p = x->ctx;
	char path[32];

	p->poking = false;
	if (!p->dev)
		return;
	guest_dev_path(p->dev, path, sizeof(path));
	kprintf("usbpoke {\"bus\":%u,\"path\":\"%s\",\"status\":%d,\"us\":%llu}\n",
		p->dev->bus->index, path, x->status,
		(unsigned long long)(clock_now_us() - p->t_poke_us));
	p->busy_us = clock_now_us();
}

void guest_pm_power(void *ctx, struct bu_usb_device *dev, bool suspended, bool by_device)
{
	struct pm_dev *p = pm_find(dev);
	char path[32];

	(void)ctx;
	guest_dev_path(dev, path, sizeof(path));
	kprintf("usbpm {\"bus\":%u,\"path\":\"%s\",\"state\":\"%s\",\"by\":\"%s\"}\n",
		dev->bus->index, path, suspended ? "suspended" : "resumed",
		by_device ? "device" : "host");
	if (p && suspended && p->t_suspend_us)
		kprintf("# pm: %s suspended %llu us after the request (guest clock)\n", path,
			(unsigned long long)(clock_now_us() - p->t_suspend_us));
	if (p && !suspended)
		p->busy_us = clock_now_us();
}

/** GET_STATUS(device), asynchronous, to a suspended device behind a hub. */
static void poke(struct pm_dev *p)
{
	struct bu_usb_xfer *x = &p->poke;

	bu_memset(x, 0, sizeof(*x));
	x->ep = &p->dev->ep0;
	bu_usb_setup_pack(x->setup, USB_DIR_IN | USB_TYPE_STANDARD | USB_RECIP_DEVICE,
			  USB_REQ_GET_STATUS, 0, 0, 2);
	x->buf = p->status;
	x->len = 2;
	x->timeout_ms = 1000;
	x->complete = poke_done;
	x->ctx = p;
	p->t_poke_us = clock_now_us();
	p->poking = bu_usb_xfer_submit(x) == 0;
}

void guest_pm_poll(struct bu_usb_bus *bus)
{
	uint64_t now = clock_now_us();
	bool poke_now = pm_poke_us && !pm_poked && now - pm_t0 >= pm_poke_us;

	for (struct bu_usb_device *d = bus->devices; d; d = d->next) {
		struct pm_dev *p;

		if (d->state != BU_DEV_CONFIGURED)
			continue;
		p = pm_find(d);
		if (!p)
			p = pm_add(d, now);
		if (!p)
			continue;
		if (poke_now && d->parent && bu_usb_device_suspended(d) && !p->poking)
			poke(p);
		if (p->hid_in && !p->reading && now >= p->retry_us) {
			bu_memset(&p->rd, 0, sizeof(p->rd));
			p->rd.ep = p->hid_in;
			p->rd.buf = p->buf;
			p->rd.len = BU_MIN((size_t)p->hid_in->mps, sizeof(p->buf));
			p->rd.complete = read_done;
			p->rd.ctx = p;
			if (bu_usb_xfer_submit(&p->rd) == 0)
				p->reading = true;
			else
				p->retry_us = now + PM_READ_RETRY_US;
		}
		if (bu_usb_device_suspended(d) || p->poking || now < p->busy_us ||
		    now - p->busy_us < pm_idle_us)
			continue;
		p->t_suspend_us = now;
		if (bu_usb_device_suspend(d, true)) {
			p->busy_us = now - pm_idle_us + PM_RETRY_US; /* busy: later */
		} else {
			char path[32];

			guest_dev_path(d, path, sizeof(path));
			kprintf("# pm: %s idle %llu us when suspended (autosuspend %llu us)\n", path,
				(unsigned long long)(now - p->busy_us), (unsigned long long)pm_idle_us);
		}
	}
	if (poke_now) {
		pm_poked = true;
		kprintf("# pm: poked the suspended devices behind hubs\n");
	}
}

uint64_t guest_pm_next_deadline(const struct bu_usb_bus *bus)
{
	uint64_t next = UINT64_MAX;

	if (!pm_idle_us)
		return next;
	if (pm_poke_us && !pm_poked)
		next = pm_t0 + pm_poke_us;
	for (const struct bu_usb_device *d = bus->devices; d; d = d->next) {
		const struct pm_dev *p;

		if (d->state != BU_DEV_CONFIGURED)
			continue;
		p = pm_find(d);
		if (!p)
			return 0; /* not yet taken in: at once */
		if (p->hid_in && !p->reading)
			next = BU_MIN(next, p->retry_us);
		if (!bu_usb_device_suspended(d) && !p->poking)
			next = BU_MIN(next, p->busy_us + pm_idle_us);
	}
	return next;
}
