/*
 * The host side of scripts/winapp: runs a program written for Windows
 * (its main or wmain renamed bu_winapp_main / bu_winapp_wmain when
 * scripts/winapp linked it) on the real stack (hcd/ + core/ + winusb/)
 * over the controller model (sim/), with the device models named on the
 * command line attached and the INFs given bound - what Windows would have
 * done before the program started. It defines bu_winusb_current() (the
 * process's WinUSB instance) for the program and for libbareusb_compat's
 * SetupAPI.
 *
 *   PROGRAM [--device MODEL[@SPEED]]... [--inf FILE.inf]... [--log N] -- [ARGS]
 *
 * Exit status: the program's; 125 for a usage error, a bad INF or a device
 * that does not enumerate; 124 when the model saw the driver break a rule
 * ("# violation: ..." on stderr).
 */
#include <errno.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

#include "bareusb/usb.h"
#include "bareusb/winusb.h"
#include "bareusb/winusb_drv.h"
#include "bareusb/xhci.h"
#include "devices.h"
#include "sim.h"

#define WINAPP_MAX_DEVICES 8
#define WINAPP_MAX_INF (256u * 1024u)
#define WINAPP_SETUP_ERROR 125
#define WINAPP_VIOLATION 124

int bu_winapp_main(int argc, char **argv) __attribute__((weak));
int bu_winapp_wmain(int argc, wchar_t **argv) __attribute__((weak));

/* The process's WinUSB API instance (one process, one instance). */
static struct bu_winusb_api *winapp_api;

struct bu_winusb_api *bu_winusb_current(void)
{
	return winapp_api;
}

/* Short names scripts/winapp accepts for the models, and their default speed. */
static const struct {
	const char *alias;
	const char *model;
	enum sim_speed speed;
} aliases[] = {
	{ "fx2", "osrfx2", SIM_SPEED_HIGH },
	{ "osrfx2", "osrfx2", SIM_SPEED_HIGH },
	{ "winusb", "winusb", SIM_SPEED_HIGH },
	{ "winusb-os1", "winusb-os1", SIM_SPEED_HIGH },
	{ "composite", "composite-msos", SIM_SPEED_HIGH },
	{ "composite-msos", "composite-msos", SIM_SPEED_HIGH },
	{ "bot", "msc", SIM_SPEED_HIGH },
	{ "disk", "msc", SIM_SPEED_HIGH },
	{ "msc", "msc", SIM_SPEED_HIGH },
};

static void usage(void)
{
	fprintf(stderr,
		"usage: PROGRAM [--device MODEL[@SPEED]]... [--inf FILE.inf]... [--log N] -- [ARGS]\n"
		"  MODEL: fx2 (osrfx2), winusb, winusb-os1, composite (composite-msos), bot (msc),\n"
		"         or any model name of sim/devices; SPEED: low, full, high, super\n");
}

/* MODEL[@SPEED] -> model and speed; false with a message. */
static bool parse_device(const char *spec, const struct sim_device_model **model,
			 enum sim_speed *speed)
{
	char name[64];
	const char *at = strchr(spec, '@');
	size_t n = at ? (size_t)(at - spec) : strlen(spec);
	const char *want = NULL;

	if (n >= sizeof(name))
		goto bad;
	memcpy(name, spec, n);
	name[n] = '\0';
	*speed = SIM_SPEED_HIGH;
	for (size_t i = 0; i < sizeof(aliases) / sizeof(aliases[0]); i++)
		if (!strcmp(name, aliases[i].alias)) {
			want = aliases[i].model;
			*speed = aliases[i].speed;
		}
	if (!want)
		want = name;
	*model = NULL;
	for (size_t i = 0; sim_device_models[i]; i++)
		if (!strcmp(sim_device_models[i]->name, want))
			*model = sim_device_models[i];
	if (!*model)
		goto bad;
	if (at) {
		const char *s = at + 1;

		*speed = !strcmp(s, "low")    ? SIM_SPEED_LOW
			 : !strcmp(s, "full")  ? SIM_SPEED_FULL
			 : !strcmp(s, "high")  ? SIM_SPEED_HIGH
			 : !strcmp(s, "super") ? SIM_SPEED_SUPER
					       : (enum sim_speed)-1;
		if ((int)*speed < 0)
			goto bad;
	}
	return true;
bad:
	fprintf(stderr, "winapp: --device %s: no such model or speed\n", spec);
	usage();
	return false;
}

/* Read an INF and add its bindings; false with a message naming the line. */
static bool bind_inf(struct bu_winusb_drv *drv, const char *path)
{
	FILE *f = fopen(path, "rb");
	char *text = malloc(WINAPP_MAX_INF + 1);
	struct bu_winusb_inf *inf = calloc(1, sizeof(*inf));
	size_t len = 0;
	bool ok = false;
	int rc;

	if (!f || !text || !inf) {
		fprintf(stderr, "winapp: %s: %s\n", path, f ? "out of memory" : strerror(errno));
		goto out;
	}
	len = fread(text, 1, WINAPP_MAX_INF + 1, f);
	if (ferror(f) || len > WINAPP_MAX_INF) {
		fprintf(stderr, "winapp: %s: unreadable or larger than %u bytes\n", path,
			WINAPP_MAX_INF);
		goto out;
	}
	rc = bu_winusb_drv_bind_inf(drv, text, len, inf);
	if (rc) {
		if (inf->error_line)
			fprintf(stderr, "winapp: %s:%u: %s\n", path, inf->error_line, inf->error);
		else
			fprintf(stderr, "winapp: %s: %s\n", path, inf->error);
		goto out;
	}
	ok = true;
out:
	if (f)
		fclose(f);
	free(text);
	free(inf);
	return ok;
}

/* Poll until the bus is idle (enumeration done), at most max_ms of virtual time. */
static bool settle(struct sim *sim, struct bu_usb_bus *bus, unsigned max_ms)
{
	unsigned idle_ms = 0;

	for (unsigned t = 0; t < max_ms; t++) {
		for (unsigned k = 0; k < 4; k++) {
			bu_usb_bus_poll(bus);
			sim_advance_us(sim, 250);
		}
		idle_ms = bu_usb_bus_idle(bus) ? idle_ms + 1 : 0;
		if (idle_ms >= 20)
			return true;
	}
	return false;
}

/* Run the program's entry point with argv[0] and the arguments after "--". */
static int run_program(int argc, char **argv)
{
	wchar_t **wargv;
	int rc;

	if (bu_winapp_main)
		return bu_winapp_main(argc, argv);
	if (!bu_winapp_wmain) {
		fprintf(stderr, "winapp: the program has no main, wmain or _tmain\n");
		return WINAPP_SETUP_ERROR;
	}
	/* The arguments are the environment's multibyte text (UTF-8 by default). */
	setlocale(LC_CTYPE, "");
	if (MB_CUR_MAX == 1)
		setlocale(LC_CTYPE, "C.UTF-8");
	wargv = calloc((size_t)argc + 1, sizeof(*wargv));
	rc = wargv ? 0 : WINAPP_SETUP_ERROR;
	for (int i = 0; !rc && i < argc; i++) {
		size_t n = mbstowcs(NULL, argv[i], 0);

		wargv[i] = n == (size_t)-1 ? NULL : calloc(n + 1, sizeof(wchar_t));
		if (!wargv[i]) {
			fprintf(stderr, "winapp: argument %d: not convertible\n", i);
			rc = WINAPP_SETUP_ERROR;
			break;
		}
		mbstowcs(wargv[i], argv[i], n + 1);
	}
	if (!rc)
		rc = bu_winapp_wmain(argc, wargv);
	for (int i = 0; wargv && i < argc; i++)
		free(wargv[i]);
	free(wargv);
	return rc;
}

int main(int argc, char **argv)
{
	const struct sim_device_model *models[WINAPP_MAX_DEVICES];
	enum sim_speed speeds[WINAPP_MAX_DEVICES];
	const char *infs[WINAPP_MAX_DEVICES];
	unsigned ndev = 0, ninf = 0, usb2 = 0, usb3 = 0;
	struct sim_config cfg = { 0 };
	struct bu_xhci_options xo = { 0 };
	struct bu_winusb_transport tp;
	struct bu_winusb_drv *drv = NULL;
	struct bu_usb_bus *bus = NULL;
	struct sim *sim;
	int i, rc = WINAPP_SETUP_ERROR, log_level = -1;

	for (i = 1; i < argc && strcmp(argv[i], "--") != 0; i++) {
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!v || (strcmp(argv[i], "--device") && strcmp(argv[i], "--inf") &&
			   strcmp(argv[i], "--log"))) {
			usage();
			return WINAPP_SETUP_ERROR;
		}
		i++;
		if (!strcmp(argv[i - 1], "--log")) {
			log_level = atoi(v);
		} else if (!strcmp(argv[i - 1], "--inf")) {
			if (ninf == WINAPP_MAX_DEVICES)
				return WINAPP_SETUP_ERROR;
			infs[ninf++] = v;
		} else {
			if (ndev == WINAPP_MAX_DEVICES || !parse_device(v, &models[ndev], &speeds[ndev]))
				return WINAPP_SETUP_ERROR;
			ndev++;
		}
	}
	if (i == argc) {
		usage();
		return WINAPP_SETUP_ERROR;
	}
	/* The program sees its own name and the arguments after "--". */
	argv[i] = argv[0];

	if (log_level >= 0)
		cfg.log_level = log_level;
	sim = sim_create(&cfg);
	if (!sim)
		return WINAPP_SETUP_ERROR;
	sim_pci_identity(sim, &xo.pci);
	if (bu_xhci_create(sim_regs_base(sim), sim_platform(sim), &xo, 0, &bus) ||
	    bu_winusb_drv_create(bus, NULL, &drv)) {
		fprintf(stderr, "winapp: the stack did not start\n");
		goto out;
	}
	for (unsigned k = 0; k < ninf; k++)
		if (!bind_inf(drv, infs[k]))
			goto out;
	for (unsigned k = 0; k < ndev; k++) {
		unsigned port = speeds[k] == SIM_SPEED_SUPER ? sim_usb3_port(sim, ++usb3)
							     : sim_usb2_port(sim, ++usb2);

		if (!sim_attach(sim, port, models[k], speeds[k])) {
			fprintf(stderr, "winapp: %s cannot attach at that speed\n", models[k]->name);
			goto out;
		}
	}
	if (!settle(sim, bus, 10000)) {
		fprintf(stderr, "winapp: enumeration did not settle\n");
		goto out;
	}
	bu_winusb_drv_transport(drv, &tp);
	if (bu_winusb_api_create(sim_platform(sim), &winapp_api) ||
	    bu_winusb_api_attach(winapp_api, &tp)) {
		fprintf(stderr, "winapp: no WinUSB API instance\n");
		goto out;
	}
	fflush(stdout);
	rc = run_program(argc - i, argv + i);
	fflush(stdout);
out:
	if (winapp_api)
		bu_winusb_api_destroy(winapp_api);
	winapp_api = NULL;
	if (drv)
		bu_winusb_drv_destroy(drv);
	if (bus)
		bu_usb_bus_destroy(bus);
	for (unsigned k = 0; k < sim_violations(sim); k++) {
		fprintf(stderr, "# violation: %s\n", sim_violation(sim, k) ? sim_violation(sim, k) : "?");
		rc = WINAPP_VIOLATION;
	}
	sim_destroy(sim);
	return rc;
}
