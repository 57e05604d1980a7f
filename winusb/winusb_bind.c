/*
 * WinUSB driver part: what binds a function and how it is found. Holds the
 * MS OS descriptor results (compatible ID, device interface GUIDs, power
 * defaults), the discovery query the API part enumerates devices with, and
 * the binding table (the INF analogue) with its text form and the rescan.
 * Reads top to bottom:
 *   MS OS descriptors -> discovery -> bindings -> rescan.
 */
#include "winusb_priv.h"

#include "bareusb/errors.h"
#include "bareusb/util.h"

/* ======================================================================== */
/* MS OS descriptors (read by the core during enumeration)                  */
/* ======================================================================== */

const struct bu_msos_info *bu_winusb_drv_msos(struct bu_winusb_drv *drv,
					      const struct bu_usb_device *dev)
{
	(void)drv;
	return dev ? dev->msos : NULL;
}

/** Device interface GUIDs and power defaults of a function from MS OS descriptors. */
void bu_wu_func_apply_msos(struct wu_func *fn, const struct bu_msos_info *info)
{
	const struct bu_msos_function *m = bu_msos_find_function(info, fn->first);
	struct bu_winusb_power_settings ps;

	if (!m)
		return;
	if (m->compat_id[0])
		bu_memcpy(fn->compat_id, m->compat_id, sizeof(fn->compat_id));
	for (unsigned i = 0; i < m->num_guids && fn->num_guids < BU_WINUSB_MAX_GUIDS; i++) {
		bool dup = false;

		for (unsigned k = 0; k < fn->num_guids; k++)
			dup |= bu_strcmp(fn->guids[k], m->guids[i]) == 0;
		if (!dup)
			bu_memcpy(fn->guids[fn->num_guids++], m->guids[i], BU_WINUSB_GUID_LEN + 1);
	}
	/* Registry-equivalent power values ("WinUSB power management"). */
	bu_winusb_power_from_msos(&ps, m);
	bu_wu_func_apply_power(fn, &ps);
}

/**
 * GUIDs and power defaults of a function whose device came without MS OS
 * descriptors read (the core skips them with bus->no_msos): read them now,
 * synchronously (discovery runs in the caller's context).
 */
static void func_lookup_msos(struct wu_func *fn)
{
	struct bu_msos_info *info;

	if (fn->msos_done || !fn->present || !fn->dev)
		return;
	fn->msos_done = true;
	if (fn->drv->opts.no_msos || fn->dev->msos)
		return;
	info = bu_wu_zalloc(fn->drv, sizeof(*info));
	if (!info)
		return;
	if (bu_msos_fetch(fn->dev, info) == 0)
		bu_wu_func_apply_msos(fn, info);
	bu_wu_free(fn->drv, info, sizeof(*info));
}

/* ======================================================================== */
/* Discovery                                                                */
/* ======================================================================== */

/** bu_winusb_drv_query under the bus's lock. */
static uint32_t drv_query(struct bu_winusb_drv *drv, uint32_t index,
			     struct bu_winusb_devinfo *out)
{
	uint32_t n = 0;

	if (!drv || !out)
		return ERROR_INVALID_PARAMETER;
	for (unsigned i = 0; i < BU_WINUSB_MAX_FUNCS; i++) {
		struct wu_func *fn = drv->funcs[i];

		if (!fn || !fn->present || n++ != index)
			continue;
		func_lookup_msos(fn);
		bu_memset(out, 0, sizeof(*out));
		out->instance = fn->instance;
		out->vid = fn->vid;
		out->pid = fn->pid;
		out->bcd_device = fn->bcd;
		out->bus = (uint8_t)drv->bus->index;
		out->first_iface = fn->first;
		out->num_ifaces = fn->num_ifaces;
		out->composite = fn->composite;
		out->present = fn->present;
		out->num_guids = fn->num_guids;
		bu_memcpy(out->location, fn->location, sizeof(out->location));
		bu_memcpy(out->compat_id, fn->compat_id, sizeof(out->compat_id));
		bu_memcpy(out->guids, fn->guids, sizeof(out->guids));
		bu_memcpy(out->product, fn->product, sizeof(out->product));
		return 0;
	}
	return ERROR_NO_MORE_ITEMS;
}

uint32_t bu_winusb_drv_query(struct bu_winusb_drv *drv, uint32_t index,
			     struct bu_winusb_devinfo *out)
{
	uint32_t rc = ERROR_INVALID_PARAMETER;

	if (drv)
		BU_UNDER_LOCK(drv->bus, rc = drv_query(drv, index, out));
	return rc;
}

/* ======================================================================== */
/* Bindings                                                                 */
/* ======================================================================== */

/** Rebuild the match table from the bindings (the compat rule last). */
void bu_wu_rebuild_matches(struct bu_winusb_drv *drv)
{
	unsigned n = 0;

	for (unsigned i = 0; i < drv->num_bindings; i++) {
		struct bu_usb_match *m = &drv->match[n++];
		const struct wu_binding *b = &drv->bindings[i];

		bu_memset(m, 0, sizeof(*m));
		m->flags = BU_MATCH_VENDOR | BU_MATCH_PRODUCT;
		m->vid = b->vid;
		m->pid = b->pid;
		if (b->iface >= 0) {
			m->flags |= BU_MATCH_INTERFACE;
			m->interface = (uint8_t)b->iface;
		}
		m->data = b;
	}
	bu_memset(&drv->match[n], 0, sizeof(drv->match[n]));
	drv->match[n].flags = BU_MATCH_COMPAT_ID;
	drv->match[n].compat_id = "WINUSB";
	drv->match[n].data = &drv->compat;
	drv->driver.num_match = n + 1;
}

/** bu_winusb_drv_bind under the bus's lock. */
static int drv_bind(struct bu_winusb_drv *drv, uint16_t vid, uint16_t pid, int iface,
		       const char *guid)
{
	struct wu_binding *b;

	if (!drv || iface < -1 || iface > 255)
		return BU_EINVAL;
	if (drv->num_bindings >= BU_WINUSB_MAX_BINDINGS)
		return BU_ENOSPC;
	b = &drv->bindings[drv->num_bindings];
	bu_memset(b, 0, sizeof(*b));
	if (guid && !bu_msos_guid_normalize(guid, bu_strlen(guid), b->guid))
		return BU_EINVAL;
	b->drv = drv;
	b->vid = vid;
	b->pid = pid;
	b->iface = (int16_t)iface;
	drv->num_bindings++;
	bu_wu_rebuild_matches(drv);
	return 0;
}

int bu_winusb_drv_bind(struct bu_winusb_drv *drv, uint16_t vid, uint16_t pid, int iface,
		       const char *guid)
{
	int rc = BU_EINVAL;

	if (drv)
		BU_UNDER_LOCK(drv->bus, rc = drv_bind(drv, vid, pid, iface, guid));
	return rc;
}

/** Parse hex digits [s, e); returns false when empty, not hex or too big. */
static bool parse_hex(const char *s, const char *e, uint32_t max, uint32_t *out)
{
	uint32_t v = 0;

	if (s == e)
		return false;
	for (; s < e; s++) {
		char c = *s;
		unsigned d;

		if (c >= '0' && c <= '9')
			d = (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			d = (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			d = (unsigned)(c - 'A' + 10);
		else
			return false;
		v = v * 16 + d;
		if (v > max)
			return false;
	}
	*out = v;
	return true;
}

/** bu_winusb_drv_bind_spec under the bus's lock. */
static int drv_bind_spec(struct bu_winusb_drv *drv, const char *spec, size_t len)
{
	const char *p = spec, *end = spec + len, *field[4];
	size_t flen[4];
	unsigned n = 0;
	uint32_t vid, pid, iface = 0;
	int ifc = -1;
	char guid[BU_WINUSB_GUID_LEN + 1];
	const char *g = NULL;

	if (!drv || !spec)
		return BU_EINVAL;
	/* Split at ':' outside braces. */
	while (p <= end && n < 4) {
		const char *s = p;
		int depth = 0;

		while (p < end && (*p != ':' || depth)) {
			depth += *p == '{' ? 1 : *p == '}' ? -1 : 0;
			p++;
		}
		field[n] = s;
		flen[n++] = (size_t)(p - s);
		p++;
	}
	if (n < 2 || p <= end)
		return BU_EINVAL;
	if (!parse_hex(field[0], field[0] + flen[0], 0xffff, &vid) ||
	    !parse_hex(field[1], field[1] + flen[1], 0xffff, &pid))
		return BU_EINVAL;
	for (unsigned i = 2; i < n; i++) {
		if (flen[i] && field[i][0] == '{') {
			if (g || flen[i] > BU_WINUSB_GUID_LEN)
				return BU_EINVAL;
			bu_memcpy(guid, field[i], flen[i]);
			guid[flen[i]] = '\0';
			g = guid;
			continue;
		}
		if (ifc >= 0 || !flen[i])
			return BU_EINVAL;
		iface = 0;
		for (size_t k = 0; k < flen[i]; k++) {
			if (field[i][k] < '0' || field[i][k] > '9')
				return BU_EINVAL;
			iface = iface * 10 + (uint32_t)(field[i][k] - '0');
			if (iface > 255)
				return BU_EINVAL;
		}
		ifc = (int)iface;
	}
	return bu_winusb_drv_bind(drv, (uint16_t)vid, (uint16_t)pid, ifc, g);
}

int bu_winusb_drv_bind_spec(struct bu_winusb_drv *drv, const char *spec, size_t len)
{
	int rc = BU_EINVAL;

	if (drv)
		BU_UNDER_LOCK(drv->bus, rc = drv_bind_spec(drv, spec, len));
	return rc;
}

/**
 * The power values model `m` of an INF writes under its hardware key
 * (.HW AddReg, REG_DWORD; "WinUSB power management"), read by the code
 * that reads MS OS 2.0 registry properties (bu_msos_apply_property): the
 * same names, case-insensitive as registry names are. DeviceIdleEnabled
 * and DeviceIdleIgnoreWakeEnable that the INF leaves out are 0, as on
 * Windows: such a device is not suspended when idle. Not inlined: its
 * name buffer stays off the parser's path.
 */
static __attribute__((noinline)) int inf_power(struct bu_winusb_drv *drv,
					       const struct bu_winusb_inf *inf, unsigned m,
					       struct bu_winusb_power_settings *out)
{
	struct bu_msos_function *f = bu_wu_zalloc(drv, sizeof(*f));
	const struct bu_inf_addreg *a;
	uint8_t name16[2 * BU_INF_NAME_MAX], le[4];

	if (!f)
		return BU_ENOMEM;
	for (unsigned i = 0; (a = bu_winusb_inf_model_addreg(inf, m, i)) != NULL; i++) {
		size_t n = 0;

		if (a->type != BU_INF_TYPE_DWORD)
			continue;
		for (; n < BU_INF_NAME_MAX && a->name[n]; n++)
			bu_put_le16(name16 + 2 * n, (uint8_t)a->name[n]);
		bu_put_le32(le, a->dword);
		bu_msos_apply_property(f, BU_REG_DWORD_LITTLE_ENDIAN, name16, 2 * n, le, sizeof(le));
	}
	bu_winusb_power_from_msos(out, f);
	out->set |= BU_MSOS_DEVICE_IDLE_ENABLED | BU_MSOS_DEVICE_IDLE_IGNORE_WAKE;
	bu_wu_free(drv, f, sizeof(*f));
	return 0;
}

/** bu_winusb_drv_bind_inf's binding step, under the bus's lock. */
static int drv_bind_inf(struct bu_winusb_drv *drv, const struct bu_winusb_inf *inf)
{
	int rc = 0;

	if (drv->num_bindings + inf->num_models > BU_WINUSB_MAX_BINDINGS)
		return BU_ENOSPC;
	for (unsigned m = 0; m < inf->num_models && !rc; m++) {
		rc = drv_bind(drv, inf->model[m].vid, inf->model[m].pid, inf->model[m].iface,
			      bu_winusb_inf_model_guid(inf, m, 0));
		if (!rc)
			rc = inf_power(drv, inf, m, &drv->bindings[drv->num_bindings - 1].power);
	}
	return rc;
}

int bu_winusb_drv_bind_inf(struct bu_winusb_drv *drv, const char *text, size_t len,
			   struct bu_winusb_inf *inf)
{
	int rc;

	if (!drv || !inf)
		return BU_EINVAL;
	rc = bu_winusb_inf_parse(text, len, inf);
	if (rc)
		return rc;
	BU_UNDER_LOCK(drv->bus, rc = drv_bind_inf(drv, inf));
	if (rc == BU_ENOSPC)
		bu_snprintf(inf->error, sizeof(inf->error), "the binding table has room for %u more",
			    (unsigned)(BU_WINUSB_MAX_BINDINGS - drv->num_bindings));
	return rc;
}

/* ======================================================================== */
/* Rescan                                                                   */
/* ======================================================================== */

/** bu_winusb_drv_scan under the bus's lock. */
static int drv_scan(struct bu_winusb_drv *drv)
{
	int n = 0;

	if (!drv)
		return BU_EINVAL;
	for (struct bu_usb_device *d = drv->bus->devices; d; d = d->next) {
		struct bu_msos_info *info;

		if (d->state != BU_DEV_CONFIGURED || drv->opts.no_msos || d->msos)
			continue;
		/* The core did not read them (bus->no_msos, or a device that
		 * was there before): read them here, copy the compatible IDs. */
		info = bu_wu_zalloc(drv, sizeof(*info));
		if (!info)
			break;
		if (bu_msos_fetch(d, info) == 0 && info->version) {
			n++;
			for (unsigned i = 0; i < BU_WINUSB_MAX_FUNCS; i++)
				if (drv->funcs[i] && drv->funcs[i]->dev == d &&
				    !drv->funcs[i]->msos_done) {
					drv->funcs[i]->msos_done = true;
					bu_wu_func_apply_msos(drv->funcs[i], info);
				}
		}
		bu_wu_free(drv, info, sizeof(*info));
	}
	/* Registering a driver offers every configured device's unbound
	 * interfaces to all drivers again; the helper itself matches nothing. */
	if (bu_usb_bus_register_driver(drv->bus, &drv->kick) == 0)
		bu_usb_bus_unregister_driver(drv->bus, &drv->kick);
	return n;
}

int bu_winusb_drv_scan(struct bu_winusb_drv *drv)
{
	int rc = BU_EINVAL;

	if (drv)
		BU_UNDER_LOCK(drv->bus, rc = drv_scan(drv));
	return rc;
}
