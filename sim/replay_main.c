/*
 * bareusb-replay: what would bareusb do with this device? Runs the real
 * stack (hcd/ + core/) on the controller model (sim/) with one device
 * that answers with the descriptors of a Linux sysfs `descriptors` file
 * (sim/devices/replay.c), and prints what the QEMU test image prints for
 * it: the device tree line, the `usbdev` JSON line (docs/contracts.md)
 * and, with --trace, the driver's TRB trace. scripts/replay builds and
 * runs it; README.md ("Replaying a device") has the how-to.
 *
 * Exit status: 0 the device was configured; 1 it was not (its usbdev line
 * says why); 2 a usage error or a bad input file; 3 the driver broke a
 * rule the model checks (printed as "# violation: ...").
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bareusb/desc.h"
#include "bareusb/usb.h"
#include "bareusb/xhci.h"
#include "devices.h"
#include "sim.h"

#define REPLAY_STEP_US 250

struct replay_opts {
	const char *file, *strings, *bos, *personality;
	int speed; /* 0: guess */
	bool behind_hub, trace, sim_trace;
	int log_level;
	unsigned timeout_ms;
	unsigned hub_ports; /* 0: not given */
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: bareusb-replay FILE [--speed low|full|high|super] [--behind-hub]\n"
		"                      [--strings FILE] [--bos FILE] [--trace] [--sim-trace]\n"
		"                      [--log 0..4] [--timeout MS] [--hub-ports N]\n"
		"FILE is a device's /sys/bus/usb/devices/<dev>/descriptors (Linux).\n"
		"  --speed       the speed to attach it at (default: guessed from the descriptors)\n"
		"  --behind-hub  attach it behind a sim hub (USB 2, or USB 3 at super speed)\n"
		"  --strings     string descriptors: lines `INDEX TEXT` (LANGID 0x0409);\n"
		"                without it every string request STALLs\n"
		"  --bos         a BOS to answer with (Linux's bos_descriptors file)\n"
		"  --trace       the driver's TRB and event trace, as the test image's `trace`\n"
		"  --sim-trace   the model's own trace too (register accesses by name, TRBs fetched)\n"
		"  --log N       driver log level (0 errors .. 4 trace; default 2, info)\n"
		"  --timeout MS  virtual time to wait for enumeration to settle (default 30000)\n"
		"  --hub-ports N a hub's downstream ports, 1..15 (Linux's sysfs maxchild;\n"
		"                default 4): the sim's hub function answers for a hub\n");
}

/* Read a whole file (at most `max` bytes); NULL and errno-style message on failure. */
static uint8_t *read_file(const char *path, size_t max, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf;
	size_t n = 0, cap = 4096;

	if (!f) {
		fprintf(stderr, "bareusb-replay: %s: %s\n", path, strerror(errno));
		return NULL;
	}
	buf = malloc(cap);
	while (buf) {
		size_t got;

		if (n == cap) {
			uint8_t *nb = cap > max ? NULL : realloc(buf, cap * 2);

			if (!nb) {
				free(buf);
				buf = NULL;
				fprintf(stderr, "bareusb-replay: %s: larger than %zu bytes\n", path, max);
				break;
			}
			buf = nb;
			cap *= 2;
		}
		got = fread(buf + n, 1, cap - n, f);
		n += got;
		if (got == 0) {
			if (ferror(f)) {
				fprintf(stderr, "bareusb-replay: %s: read error\n", path);
				free(buf);
				buf = NULL;
			}
			break;
		}
	}
	fclose(f);
	if (buf && n > max) {
		fprintf(stderr, "bareusb-replay: %s: larger than %zu bytes\n", path, max);
		free(buf);
		return NULL;
	}
	*len = n;
	return buf;
}

static int parse_args(int argc, char **argv, struct replay_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->log_level = BU_LOG_INFO;
	o->timeout_ms = 30000;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			usage(stdout);
			exit(0);
		} else if (!strcmp(a, "--behind-hub")) {
			o->behind_hub = true;
		} else if (!strcmp(a, "--trace")) {
			o->trace = true;
		} else if (!strcmp(a, "--sim-trace")) {
			o->sim_trace = true;
		} else if (!strcmp(a, "--speed") || !strcmp(a, "--strings") || !strcmp(a, "--bos") ||
			   !strcmp(a, "--log") || !strcmp(a, "--timeout") || !strcmp(a, "--hub-ports")) {
			if (!v) {
				fprintf(stderr, "bareusb-replay: %s needs a value\n", a);
				return -1;
			}
			i++;
			if (!strcmp(a, "--strings")) {
				o->strings = v;
			} else if (!strcmp(a, "--bos")) {
				o->bos = v;
			} else if (!strcmp(a, "--speed")) {
				o->speed = !strcmp(v, "low")	 ? SIM_SPEED_LOW
					   : !strcmp(v, "full")	 ? SIM_SPEED_FULL
					   : !strcmp(v, "high")	 ? SIM_SPEED_HIGH
					   : !strcmp(v, "super") ? SIM_SPEED_SUPER
								 : -1;
				if (o->speed < 0) {
					fprintf(stderr, "bareusb-replay: --speed %s: not low, full, high or super\n", v);
					return -1;
				}
			} else {
				char *end;
				unsigned long n = strtoul(v, &end, 10);

				unsigned long max = !strcmp(a, "--log")	      ? 4
						    : !strcmp(a, "--hub-ports") ? 15
										: 3600000;

				if (!*v || *end || n > max || (n == 0 && strcmp(a, "--log"))) {
					fprintf(stderr, "bareusb-replay: %s %s: out of range\n", a, v);
					return -1;
				}
				if (!strcmp(a, "--log"))
					o->log_level = (int)n;
				else if (!strcmp(a, "--hub-ports"))
					o->hub_ports = (unsigned)n;
				else
					o->timeout_ms = (unsigned)n;
			}
		} else if (a[0] == '-' && a[1]) {
			fprintf(stderr, "bareusb-replay: unknown option %s\n", a);
			return -1;
		} else if (o->file) {
			fprintf(stderr, "bareusb-replay: one FILE only (%s and %s)\n", o->file, a);
			return -1;
		} else {
			o->file = a;
		}
	}
	if (!o->file) {
		usage(stderr);
		return -1;
	}
	if (o->trace && o->log_level < BU_LOG_TRACE)
		o->log_level = BU_LOG_TRACE;
	return 0;
}

/* ------------------------------------------------------------------------ */
/* Output, as the test image prints it (guest/main.c)                       */

static const char *const level_tags[] = { "[err] ", "[warn] ", "[info] ", "[debug] ",
					   "[trace] " };

/*
 * The sim's log hook: lines come as "<who><id> <seconds> <text>". The
 * driver's (who "bus") are printed as the test image prints them,
 * "[level] text"; the model's own as "[level] sim: text".
 */
static void replay_log(void *ctx, int level, const char *line)
{
	const struct replay_opts *o = ctx;
	const char *p = line, *text;
	bool model = !strncmp(line, "sim", 3);

	if (level > o->log_level && !(model && o->sim_trace))
		return;
	while (*p && *p != ' ')
		p++;
	while (*p == ' ')
		p++;
	while (*p && *p != ' ')
		p++;
	text = *p ? p + 1 : line;
	if (level < 0)
		level = 0;
	if (level > BU_LOG_TRACE)
		level = BU_LOG_TRACE;
	printf("%s%s%s\n", level_tags[level], model ? "sim: " : "", text);
}

static void print_tree_line(const struct bu_usb_device *dev)
{
	char line[512];

	bu_usb_device_tree_line(dev, line, sizeof(line));
	printf("%s\n", line);
}

static void print_usbdev(const struct bu_usb_device *dev)
{
	size_t need = bu_usb_device_json(dev, NULL, 0);
	char *buf = malloc(need + 1);

	if (!buf) {
		printf("# usbdev JSON of %zu bytes: out of memory\n", need);
		return;
	}
	bu_usb_device_json(dev, buf, need + 1);
	printf("usbdev %s\n", buf);
	free(buf);
}

/* Path order: root port, then each hub port (as the test image sorts). */
static int dev_cmp(const void *pa, const void *pb)
{
	const struct bu_usb_device *a = *(const struct bu_usb_device *const *)pa;
	const struct bu_usb_device *b = *(const struct bu_usb_device *const *)pb;
	unsigned ta = a->tier < BU_USB_MAX_PATH ? a->tier : BU_USB_MAX_PATH;
	unsigned tb = b->tier < BU_USB_MAX_PATH ? b->tier : BU_USB_MAX_PATH;

	for (unsigned i = 0; i < ta && i < tb; i++)
		if (a->path[i] != b->path[i])
			return a->path[i] < b->path[i] ? -1 : 1;
	return (int)ta - (int)tb;
}

/* ------------------------------------------------------------------------ */
/* The run                                                                  */

static struct sim_replay *load(const struct replay_opts *o)
{
	char err[256];
	size_t len;
	uint8_t *bytes = read_file(o->file, SIM_REPLAY_MAX_LEN, &len);
	struct sim_replay *r;

	if (!bytes)
		return NULL;
	r = sim_replay_from_bytes(bytes, len, err, sizeof(err));
	free(bytes);
	if (!r) {
		fprintf(stderr, "bareusb-replay: %s: %s\n", o->file, err);
		return NULL;
	}
	if (o->strings) {
		bytes = read_file(o->strings, 1u << 20, &len);
		if (!bytes || sim_replay_strings(r, (const char *)bytes, len, err, sizeof(err))) {
			if (bytes)
				fprintf(stderr, "bareusb-replay: %s: %s\n", o->strings, err);
			free(bytes);
			sim_replay_free(r);
			return NULL;
		}
		free(bytes);
	}
	if (o->bos) {
		bytes = read_file(o->bos, 65535, &len);
		if (!bytes || sim_replay_set_bos(r, bytes, len, err, sizeof(err))) {
			if (bytes)
				fprintf(stderr, "bareusb-replay: %s: %s\n", o->bos, err);
			free(bytes);
			sim_replay_free(r);
			return NULL;
		}
		free(bytes);
	}
	return r;
}

int main(int argc, char **argv)
{
	static const char *const speed_names[] = { "?", "full", "low", "high", "super" };
	struct replay_opts o;
	struct sim_config cfg = { 0 };
	struct bu_xhci_options xo = { 0 };
	struct sim_replay *r;
	struct sim *sim;
	struct sim_device *dev, *hub = NULL;
	struct bu_usb_bus *bus = NULL;
	struct bu_usb_device **devs;
	unsigned n = 0, port, rc = 0;
	enum sim_speed speed;
	bool idle = false;
	int err;

	if (parse_args(argc, argv, &o))
		return 2;
	r = load(&o);
	if (!r)
		return 2;
	for (unsigned i = 0; i < sim_replay_warnings(r, 0, NULL); i++) {
		const char *w;

		sim_replay_warnings(r, i, &w);
		if (w)
			printf("# %s: %s\n", o.file, w);
	}
	if (o.hub_ports && sim_replay_set_hub_ports(r, o.hub_ports, NULL, 0))
		return 2; /* parse_args bounds it */
	if (sim_replay_is_hub(r))
		printf("# a hub: the sim's hub function answers for it, %u ports%s, all empty\n",
		       sim_replay_hub_ports(r), o.hub_ports ? "" : " (assumed; --hub-ports N)");
	speed = o.speed ? (enum sim_speed)o.speed : sim_replay_guess_speed(r);
	printf("# replay %s at %s speed%s%s\n", o.file, speed_names[speed],
	       o.speed ? "" : " (guessed; --speed to choose)", o.behind_hub ? ", behind a hub" : "");

	cfg.log_fn = replay_log;
	cfg.log_ctx = &o;
	cfg.log_level = o.sim_trace ? BU_LOG_TRACE : o.log_level;
	cfg.trace = o.sim_trace;
	sim = sim_create(&cfg);
	xo.trace = o.trace;
	sim_pci_identity(sim, &xo.pci);
	err = bu_xhci_create(sim_regs_base(sim), sim_platform(sim), &xo, 0, &bus);
	if (err) {
		printf("# bu_xhci_create: %s\n", bu_strerror(err));
		rc = 3;
		goto out;
	}
	port = speed == SIM_SPEED_SUPER ? sim_usb3_port(sim, 1) : sim_usb2_port(sim, 1);
	if (o.behind_hub) {
		bool ss = speed == SIM_SPEED_SUPER;

		hub = sim_attach(sim, port, ss ? &sim_dev_hub3 : &sim_dev_hub2,
				 ss ? SIM_SPEED_SUPER : SIM_SPEED_HIGH);
		dev = hub ? sim_attach_hub(hub, 1, sim_replay_model(r, speed), speed) : NULL;
	} else {
		dev = sim_attach(sim, port, sim_replay_model(r, speed), speed);
	}
	if (!dev) {
		fprintf(stderr, "bareusb-replay: the sim cannot attach a device at %s speed here\n",
			speed_names[speed]);
		rc = 2;
		goto out;
	}
	sim_replay_arm(r, dev);

	/* Poll and let virtual time pass until the bus has been idle a while. */
	for (uint64_t t = 0; t < o.timeout_ms * 1000ull && !idle; t += REPLAY_STEP_US) {
		bu_usb_bus_poll(bus);
		sim_advance_us(sim, REPLAY_STEP_US);
		if (t % 10000 == 0 && bu_usb_bus_idle(bus)) {
			for (unsigned k = 0; k < 20000 / REPLAY_STEP_US; k++) {
				bu_usb_bus_poll(bus);
				sim_advance_us(sim, REPLAY_STEP_US);
			}
			idle = bu_usb_bus_idle(bus);
		}
	}
	if (!idle)
		printf("# timeout: the bus was not idle after %u ms (virtual)\n", o.timeout_ms);

	for (struct bu_usb_device *d = bus->devices; d; d = d->next)
		n++;
	devs = calloc(n ? n : 1, sizeof(*devs));
	if (!devs)
		abort();
	n = 0;
	for (struct bu_usb_device *d = bus->devices; d; d = d->next)
		devs[n++] = d;
	qsort(devs, n, sizeof(*devs), dev_cmp);
	printf("\nbus 0: xhci sim %04x:%04x, %u root ports, %u device(s)\n", xo.pci.vendor,
	       xo.pci.device, bus->num_ports, n);
	for (unsigned k = 0; k < n; k++)
		print_tree_line(devs[k]);
	for (unsigned k = 0; k < n; k++)
		print_usbdev(devs[k]);
	rc = 1;
	for (unsigned k = 0; k < n; k++)
		if (devs[k]->tier == (hub ? 2u : 1u) && devs[k]->state == BU_DEV_CONFIGURED &&
		    !devs[k]->error)
			rc = 0;
	free(devs);
out:
	if (bus)
		bu_usb_bus_destroy(bus);
	for (unsigned i = 0; i < sim_violations(sim); i++) {
		const char *v = sim_violation(sim, i);

		if (v)
			printf("# violation: %s\n", v);
		rc = 3;
	}
	sim_destroy(sim);
	sim_replay_free(r);
	return (int)rc;
}
