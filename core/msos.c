/*
 * Microsoft OS descriptors, host side ("Microsoft OS 1.0 Descriptors
 * Specification", "Microsoft OS 2.0 Descriptors Specification"): pure
 * parsers for the MS OS 1.0 OS string, Extended Compat ID and Extended
 * Properties descriptors and the MS OS 2.0 platform capability and
 * descriptor set; a request sequencer for event-driven enumerators; a
 * synchronous fetch on top of it.
 *
 * Everything the device sends is hostile: each element's length is checked
 * against its minimum and against what is left before it is read.
 */
#include "bareusb/msos.h"

#include "core_priv.h"

#include "bareusb/ch9.h"
#include "bareusb/util.h"

const uint8_t bu_msos20_platform_uuid[16] = {
	0xdf, 0x60, 0xdd, 0xd8, 0x89, 0x45, 0xc7, 0x4c,
	0x9c, 0xd2, 0x65, 0x9d, 0x9e, 0x64, 0x8a, 0x9f,
};

/* ======================================================================== */
/* Small helpers                                                            */
/* ======================================================================== */

/** Record a tolerated problem (the first one's text is kept). */
static void warn(struct bu_msos_info *info, const char *why)
{
	if (!info)
		return;
	if (info->warnings < 0xffff)
		info->warnings++;
	if (!info->why)
		info->why = why;
}

/** Copy an 8-byte, NUL-padded ID into a 9-byte string (printable ASCII only). */
static void copy_id(char out[9], const uint8_t *in)
{
	unsigned n = 0;

	for (; n < 8 && in[n]; n++)
		out[n] = (in[n] >= 0x20 && in[n] < 0x7f) ? (char)in[n] : '?';
	out[n] = '\0';
}

/** The function for `first` in info (added when missing), or NULL when full. */
static struct bu_msos_function *get_function(struct bu_msos_info *info, uint8_t first,
					     bool whole)
{
	struct bu_msos_function *fn;

	for (unsigned i = 0; i < info->num_funcs; i++) {
		fn = &info->funcs[i];
		if (fn->first_interface == first && fn->whole_device == whole)
			return fn;
	}
	if (info->num_funcs >= BU_MSOS_MAX_FUNCS) {
		warn(info, "more functions than kept");
		return NULL;
	}
	fn = &info->funcs[info->num_funcs++];
	bu_memset(fn, 0, sizeof(*fn));
	fn->first_interface = first;
	fn->whole_device = whole;
	return fn;
}

/** Lower-case ASCII. */
static char lower(char c)
{
	return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

/**
 * True when the UTF-16LE name[len] (NUL-terminated or not) equals the
 * ASCII `want`, ignoring case (registry value names are case-insensitive).
 */
static bool name_is(const uint8_t *name, size_t len, const char *want)
{
	size_t n = len / 2, i;

	for (i = 0; i < n; i++) {
		uint16_t c = bu_get_le16(name + 2 * i);

		if (c == 0)
			break;
		if (!want[i] || c > 0x7f || lower((char)c) != lower(want[i]))
			return false;
	}
	return want[i] == '\0';
}

bool bu_msos_guid_normalize(const char *in, size_t len, char *out)
{
	static const char hex[] = "0123456789ABCDEF";
	/* Positions of the dashes in the braceless 36-character form. */
	size_t o = 0;

	if (!in || !out)
		return false;
	if (len >= 2 && in[0] == '{' && in[len - 1] == '}') {
		in++;
		len -= 2;
	}
	if (len != 36)
		return false;
	out[o++] = '{';
	for (size_t i = 0; i < 36; i++) {
		char c = in[i];

		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (c != '-')
				return false;
			out[o++] = '-';
			continue;
		}
		if (c >= 'a' && c <= 'f')
			c = (char)(c - 'a' + 'A');
		if (!((c >= '0' && c <= '9') || (c >= 'A' && c <= 'F')))
			return false;
		out[o++] = hex[(c >= 'A') ? c - 'A' + 10 : c - '0'];
	}
	out[o++] = '}';
	out[o] = '\0';
	return true;
}

/** Add a GUID given as UTF-16LE s[n units] to fn (valid and new only). */
static bool add_guid(struct bu_msos_function *fn, const uint8_t *s, size_t n)
{
	char ascii[48], norm[BU_MSOS_GUID_LEN + 1];

	if (n > sizeof(ascii))
		return false;
	for (size_t i = 0; i < n; i++) {
		uint16_t c = bu_get_le16(s + 2 * i);

		if (c > 0x7f)
			return false;
		ascii[i] = (char)c;
	}
	if (!bu_msos_guid_normalize(ascii, n, norm))
		return false;
	for (unsigned i = 0; i < fn->num_guids; i++)
		if (bu_strcmp(fn->guids[i], norm) == 0)
			return true;
	if (fn->num_guids >= BU_MSOS_MAX_GUIDS)
		return false;
	bu_memcpy(fn->guids[fn->num_guids++], norm, sizeof(norm));
	return true;
}

bool bu_msos_apply_property(struct bu_msos_function *fn, uint32_t type, const uint8_t *name,
			    size_t name_len, const uint8_t *data, size_t data_len)
{
	static const struct {
		const char *name;
		uint8_t bit;
		size_t off;
	} dwords[] = {
		{ "DeviceIdleEnabled", BU_MSOS_DEVICE_IDLE_ENABLED,
		  offsetof(struct bu_msos_function, device_idle_enabled) },
		{ "DefaultIdleState", BU_MSOS_DEFAULT_IDLE_STATE,
		  offsetof(struct bu_msos_function, default_idle_state) },
		{ "DefaultIdleTimeout", BU_MSOS_DEFAULT_IDLE_TIMEOUT,
		  offsetof(struct bu_msos_function, default_idle_timeout) },
		{ "UserSetDeviceIdleEnabled", BU_MSOS_USER_SET_DEVICE_IDLE,
		  offsetof(struct bu_msos_function, user_set_device_idle_enabled) },
		{ "SystemWakeEnabled", BU_MSOS_SYSTEM_WAKE_ENABLED,
		  offsetof(struct bu_msos_function, system_wake_enabled) },
		{ "DeviceIdleIgnoreWakeEnable", BU_MSOS_DEVICE_IDLE_IGNORE_WAKE,
		  offsetof(struct bu_msos_function, device_idle_ignore_wake) },
	};

	if (!fn || !name || (data_len && !data))
		return false;
	if (fn->num_props < 0xffff)
		fn->num_props++;
	if (name_is(name, name_len, "DeviceInterfaceGUIDs") ||
	    name_is(name, name_len, "DeviceInterfaceGUID")) {
		size_t units = data_len / 2, start = 0;
		bool any = false;

		if (type != BU_REG_SZ && type != BU_REG_MULTI_SZ && type != BU_REG_EXPAND_SZ)
			return false;
		/* One string (REG_SZ) or a NUL-separated list (REG_MULTI_SZ);
		 * tolerate a missing final NUL, as libusb does. */
		for (size_t i = 0; i <= units; i++) {
			if (i == units || bu_get_le16(data + 2 * i) == 0) {
				if (i > start)
					any |= add_guid(fn, data + 2 * start, i - start);
				else if (i < units)
					break; /* empty string: end of the list */
				start = i + 1;
				if (type != BU_REG_MULTI_SZ)
					break;
			}
		}
		return any;
	}
	for (unsigned k = 0; k < BU_ARRAY_SIZE(dwords); k++) {
		uint32_t v;

		if (!name_is(name, name_len, dwords[k].name))
			continue;
		if (data_len != 4)
			return false;
		if (type == BU_REG_DWORD_LITTLE_ENDIAN)
			v = bu_get_le32(data);
		else if (type == BU_REG_DWORD_BIG_ENDIAN)
			v = ((uint32_t)data[0] << 24) | ((uint32_t)data[1] << 16) |
			    ((uint32_t)data[2] << 8) | data[3];
		else
			return false;
		bu_memcpy((char *)fn + dwords[k].off, &v, sizeof(v));
		fn->power_set |= dwords[k].bit;
		return true;
	}
	return false;
}

/* ======================================================================== */
/* MS OS 1.0                                                                */
/* ======================================================================== */

int bu_msos1_parse_os_string(const uint8_t *buf, size_t len, uint8_t *vendor_code)
{
	static const char sig[] = "MSFT100";

	if (!buf || len < 2 || buf[1] != USB_DT_STRING)
		return BU_EBADDESC;
	if (buf[0] < BU_MSOS1_STRING_LEN || len < BU_MSOS1_STRING_LEN)
		return BU_ENOENT; /* a string descriptor, but too short for one */
	for (unsigned i = 0; i < 7; i++)
		if (bu_get_le16(buf + 2 + 2 * i) != (uint8_t)sig[i])
			return BU_ENOENT;
	if (vendor_code)
		*vendor_code = buf[16];
	return 0;
}

int bu_msos1_feature_length(const uint8_t *buf, size_t len, uint16_t index)
{
	size_t hdr = index == BU_MSOS1_COMPAT_ID_INDEX ? BU_MSOS1_COMPAT_HEADER_LEN
						       : BU_MSOS1_PROPS_HEADER_LEN;
	uint32_t dw;

	if (!buf || len < hdr)
		return BU_EBADDESC;
	dw = bu_get_le32(buf);
	if (bu_get_le16(buf + 4) != 0x0100 || bu_get_le16(buf + 6) != index)
		return BU_EBADDESC;
	if (dw < hdr || dw > BU_MSOS_MAX_DESC)
		return BU_EBADDESC;
	return (int)dw;
}

int bu_msos1_parse_compat_id(const uint8_t *buf, size_t len, struct bu_msos_info *info)
{
	int total = bu_msos1_feature_length(buf, len, BU_MSOS1_COMPAT_ID_INDEX);
	unsigned count;
	size_t end;

	if (total < 0 || !info)
		return BU_EBADDESC;
	end = BU_MIN((size_t)total, len);
	count = buf[8];
	if (BU_MSOS1_COMPAT_HEADER_LEN + (size_t)count * BU_MSOS1_COMPAT_FUNC_LEN > end) {
		/* Keep the sections that are there, as long as one is. */
		warn(info, "compat ID: bCount beyond dwLength");
		count = (unsigned)((end - BU_MSOS1_COMPAT_HEADER_LEN) / BU_MSOS1_COMPAT_FUNC_LEN);
		if (!count)
			return BU_EBADDESC;
	}
	for (unsigned i = 0; i < count; i++) {
		const uint8_t *s = buf + BU_MSOS1_COMPAT_HEADER_LEN + i * BU_MSOS1_COMPAT_FUNC_LEN;
		struct bu_msos_function *fn = get_function(info, s[0], false);

		if (!fn)
			break;
		copy_id(fn->compat_id, s + 2);
		copy_id(fn->subcompat_id, s + 10);
	}
	return 0;
}

int bu_msos1_parse_ext_props(const uint8_t *buf, size_t len, struct bu_msos_function *fn,
			     uint16_t *warnings)
{
	int total = bu_msos1_feature_length(buf, len, BU_MSOS1_EXT_PROPS_INDEX);
	size_t end, off = BU_MSOS1_PROPS_HEADER_LEN;
	unsigned count;

	if (total < 0 || !fn)
		return BU_EBADDESC;
	end = BU_MIN((size_t)total, len);
	count = bu_get_le16(buf + 8);
	for (unsigned i = 0; i < count; i++) {
		uint32_t size, type, nlen, dlen;

		/* dwSize(4) dwPropertyDataType(4) wPropertyNameLength(2) name
		 * dwPropertyDataLength(4) data; dwSize = 14 + N + M. */
		if (end - off < 14)
			goto bad;
		size = bu_get_le32(buf + off);
		type = bu_get_le32(buf + off + 4);
		nlen = bu_get_le16(buf + off + 8);
		if (size < 14 || size > end - off || nlen > size - 14)
			goto bad;
		dlen = bu_get_le32(buf + off + 10 + nlen);
		if (dlen > size - 14 - nlen)
			goto bad;
		bu_msos_apply_property(fn, type, buf + off + 10, nlen, buf + off + 14 + nlen, dlen);
		off += size;
	}
	return 0;
bad:
	if (warnings && *warnings < 0xffff)
		(*warnings)++;
	return 0;
}

/* ======================================================================== */
/* MS OS 2.0                                                                */
/* ======================================================================== */

int bu_msos2_parse_platform(const struct bu_bos_info *bos, struct bu_msos_info *info)
{
	const struct bu_bos_cap *cap = bu_desc_bos_platform(bos, bu_msos20_platform_uuid);
	unsigned n;
	bool found = false;

	if (!info)
		return BU_EINVAL;
	if (!cap)
		return BU_ENOENT;
	/* Spec tables 4-5: 20-byte header, then 8-byte set-information entries. */
	if (cap->len < 28)
		return BU_EBADDESC;
	n = (cap->len - 20u) / 8u;
	for (unsigned i = 0; i < n; i++) {
		const uint8_t *e = cap->data + 20 + 8 * i;
		uint32_t ver = bu_get_le32(e);
		uint16_t set_len = bu_get_le16(e + 4);

		if (set_len < 10 || e[6] == 0) {
			warn(info, "MS OS 2.0: unusable set-information entry");
			continue;
		}
		/* We act as the newest Windows: the highest version wins. */
		if (!found || ver >= info->windows_version) {
			info->windows_version = ver;
			info->set_len = set_len;
			info->vendor_code = e[6];
			info->alt_enum_code = e[7];
			found = true;
		}
	}
	return found ? 0 : BU_EBADDESC;
}

/** Apply one MS OS 2.0 feature element to fn (NULL: outside any usable scope). */
static void msos2_feature(struct bu_msos_info *info, struct bu_msos_function *fn,
			  const uint8_t *e, uint16_t wlen, uint16_t type)
{
	switch (type) {
	case BU_MSOS20_FEATURE_COMPATIBLE_ID:
		if (wlen < 20) {
			warn(info, "MS OS 2.0: short compatible ID");
			return;
		}
		if (fn) {
			copy_id(fn->compat_id, e + 4);
			copy_id(fn->subcompat_id, e + 12);
		}
		return;
	case BU_MSOS20_FEATURE_REG_PROPERTY: {
		uint16_t dtype, nlen, dlen;

		/* wLength wDescriptorType wPropertyDataType wPropertyNameLength
		 * name[N] wPropertyDataLength data[M] */
		if (wlen < 10) {
			warn(info, "MS OS 2.0: short registry property");
			return;
		}
		dtype = bu_get_le16(e + 4);
		nlen = bu_get_le16(e + 6);
		if ((size_t)nlen + 10 > wlen) {
			warn(info, "MS OS 2.0: property name past its element");
			return;
		}
		dlen = bu_get_le16(e + 8 + nlen);
		if ((size_t)nlen + dlen + 10 > wlen) {
			warn(info, "MS OS 2.0: property data past its element");
			return;
		}
		if (fn)
			bu_msos_apply_property(fn, dtype, e + 8, nlen, e + 10 + nlen, dlen);
		return;
	}
	case BU_MSOS20_FEATURE_VENDOR_REVISION:
		if (wlen >= 6)
			info->vendor_revision = bu_get_le16(e + 4);
		return;
	case BU_MSOS20_FEATURE_CCGP_DEVICE:
		info->ccgp = true;
		return;
	case BU_MSOS20_FEATURE_MIN_RESUME_TIME:
	case BU_MSOS20_FEATURE_MODEL_ID:
		return; /* nothing WinUSB acts on */
	default:
		warn(info, "MS OS 2.0: unknown element type");
		return;
	}
}

int bu_msos2_parse_set(const uint8_t *buf, size_t len, uint8_t config_index,
		       struct bu_msos_info *info)
{
	size_t end, off, cfg_end = 0, func_end = 0;
	bool in_cfg = false, cfg_match = false, in_func = false;
	struct bu_msos_function *fn = NULL;
	uint16_t total;

	if (!buf || !info || len < 10)
		return BU_EBADDESC;
	/* Set header: wLength 10, type 0, dwWindowsVersion, wTotalLength. */
	if (bu_get_le16(buf) != 10 || bu_get_le16(buf + 2) != BU_MSOS20_SET_HEADER)
		return BU_EBADDESC;
	total = bu_get_le16(buf + 8);
	if (total < 10)
		return BU_EBADDESC;
	if (total > len)
		warn(info, "MS OS 2.0: set shorter than wTotalLength");
	end = BU_MIN((size_t)total, len);
	off = 10;
	while (end - off >= 4) {
		const uint8_t *e = buf + off;
		uint16_t wlen = bu_get_le16(e), type = bu_get_le16(e + 2);

		if (in_func && off >= func_end)
			in_func = false;
		if (in_cfg && off >= cfg_end)
			in_cfg = in_func = false;
		if (wlen < 4 || wlen > end - off) {
			warn(info, "MS OS 2.0: element length out of range");
			break;
		}
		if (type == BU_MSOS20_SUBSET_CONFIGURATION) {
			uint16_t sub;

			if (wlen < 8) {
				warn(info, "MS OS 2.0: short configuration subset");
				break;
			}
			sub = bu_get_le16(e + 6);
			if (sub < 8 || sub > end - off) {
				warn(info, "MS OS 2.0: configuration subset length");
				break;
			}
			in_cfg = true;
			in_func = false;
			cfg_end = off + sub;
			cfg_match = e[4] == config_index;
			off += wlen;
			continue;
		}
		if (type == BU_MSOS20_SUBSET_FUNCTION) {
			uint16_t sub;

			if (wlen < 8) {
				warn(info, "MS OS 2.0: short function subset");
				break;
			}
			sub = bu_get_le16(e + 6);
			if (sub < 8 || sub > end - off || (in_cfg && off + sub > cfg_end)) {
				warn(info, "MS OS 2.0: function subset length");
				break;
			}
			in_func = true;
			func_end = off + sub;
			fn = (!in_cfg || cfg_match) ? get_function(info, e[4], false) : NULL;
			off += wlen;
			continue;
		}
		if (type == BU_MSOS20_SET_HEADER) {
			warn(info, "MS OS 2.0: nested set header");
			break;
		}
		if (!in_func)
			fn = (!in_cfg || cfg_match) ? get_function(info, 0, true) : NULL;
		if (in_cfg && !cfg_match)
			fn = NULL;
		msos2_feature(info, fn, e, wlen, type);
		off += wlen;
	}
	/* Drop scopes that carried nothing (e.g. only a vendor revision). */
	for (unsigned i = 0; i < info->num_funcs;) {
		struct bu_msos_function *f = &info->funcs[i];

		if (!f->compat_id[0] && !f->num_props) {
			for (unsigned k = i; k + 1 < info->num_funcs; k++)
				info->funcs[k] = info->funcs[k + 1];
			info->num_funcs--;
			continue;
		}
		i++;
	}
	return 0;
}

const struct bu_msos_function *bu_msos_find_function(const struct bu_msos_info *info,
						     uint8_t iface)
{
	const struct bu_msos_function *whole = NULL;

	if (!info)
		return NULL;
	for (unsigned i = 0; i < info->num_funcs && i < BU_MSOS_MAX_FUNCS; i++) {
		const struct bu_msos_function *fn = &info->funcs[i];

		if (fn->whole_device) {
			if (!whole)
				whole = fn;
			continue;
		}
		if (fn->first_interface == iface)
			return fn;
	}
	return whole;
}

/* ======================================================================== */
/* Sequencer                                                                */
/* ======================================================================== */

enum fetch_step {
	ST_START,
	ST_BOS_HEAD,
	ST_BOS_FULL,
	ST_MSOS2_SET,
	ST_OS_STRING,
	ST_COMPAT_HEAD,
	ST_COMPAT_FULL,
	ST_PROPS_HEAD,
	ST_PROPS_FULL,
	ST_DONE,
};

void bu_msos_fetch_init(struct bu_msos_fetch *f, struct bu_msos_info *info, uint16_t bcd_usb,
			uint8_t config_index)
{
	bu_memset(f, 0, sizeof(*f));
	f->info = info;
	f->bcd_usb = bcd_usb;
	f->config_index = config_index;
	if (info)
		bu_memset(info, 0, sizeof(*info));
	f->step = info ? ST_START : ST_DONE;
}

int bu_msos_fetch_next(struct bu_msos_fetch *f, uint8_t setup[8])
{
	struct bu_msos_info *info = f->info;

	if (f->step == ST_START)
		f->step = f->bcd_usb >= 0x0201 ? ST_BOS_HEAD : ST_OS_STRING;
	/* Skip functions whose properties there is no point in reading. */
	while (f->step == ST_PROPS_HEAD && f->func < info->num_funcs &&
	       !info->funcs[f->func].compat_id[0])
		f->func++;
	if (f->step == ST_PROPS_HEAD && f->func >= info->num_funcs)
		f->step = ST_DONE;

	switch (f->step) {
	case ST_BOS_HEAD:
		f->want = USB_DT_BOS_SIZE;
		bu_usb_setup_pack(setup, USB_DIR_IN, USB_REQ_GET_DESCRIPTOR, USB_DT_BOS << 8, 0, f->want);
		break;
	case ST_BOS_FULL:
		f->want = f->total;
		bu_usb_setup_pack(setup, USB_DIR_IN, USB_REQ_GET_DESCRIPTOR, USB_DT_BOS << 8, 0, f->want);
		break;
	case ST_MSOS2_SET:
		f->want = info->set_len;
		bu_usb_setup_pack(setup, USB_DIR_IN | USB_TYPE_VENDOR | USB_RECIP_DEVICE,
			   info->vendor_code, 0, BU_MSOS20_DESCRIPTOR_INDEX, f->want);
		break;
	case ST_OS_STRING:
		f->want = BU_MSOS1_STRING_LEN;
		bu_usb_setup_pack(setup, USB_DIR_IN, USB_REQ_GET_DESCRIPTOR,
			   (USB_DT_STRING << 8) | BU_MSOS1_STRING_INDEX, 0, f->want);
		break;
	case ST_COMPAT_HEAD:
	case ST_COMPAT_FULL:
		f->want = f->step == ST_COMPAT_HEAD ? BU_MSOS1_COMPAT_HEADER_LEN : f->total;
		bu_usb_setup_pack(setup, USB_DIR_IN | USB_TYPE_VENDOR | USB_RECIP_DEVICE,
			   info->vendor_code, 0, BU_MSOS1_COMPAT_ID_INDEX, f->want);
		break;
	case ST_PROPS_HEAD:
	case ST_PROPS_FULL: {
		/* Interface recipient, interface number in wValue's high byte
		 * (the spec) - then in its low byte (Linux gadgets), then as a
		 * device request (some firmware); "Microsoft OS 1.0
		 * Descriptors Specification", Extended Properties. */
		uint8_t iface = info->funcs[f->func].first_interface;
		uint16_t value = f->attempt == 1 ? iface : (uint16_t)(iface << 8);
		uint8_t rt = USB_DIR_IN | USB_TYPE_VENDOR |
			     (f->attempt == 2 ? USB_RECIP_DEVICE : USB_RECIP_INTERFACE);

		f->want = f->step == ST_PROPS_HEAD ? BU_MSOS1_PROPS_HEADER_LEN : f->total;
		bu_usb_setup_pack(setup, rt, info->vendor_code, value, BU_MSOS1_EXT_PROPS_INDEX, f->want);
		break;
	}
	default:
		f->step = ST_DONE;
		return BU_ENOENT;
	}
	return f->want;
}

/** Move on to the next function's properties. */
static void next_function(struct bu_msos_fetch *f)
{
	f->func++;
	f->attempt = 0;
	f->step = ST_PROPS_HEAD;
}

/** A reply of the MS OS 2.0 part (BOS, platform capability, descriptor set). */
static void feed_msos2(struct bu_msos_fetch *f, int status, const uint8_t *data, size_t len)
{
	struct bu_msos_info *info = f->info;
	int rc;

	switch (f->step) {
	case ST_BOS_HEAD:
		rc = status ? status : bu_desc_total_length(data, len, USB_DT_BOS, NULL);
		if (rc < 0 || rc <= USB_DT_BOS_SIZE) {
			f->step = ST_OS_STRING;
			return;
		}
		f->total = (uint16_t)BU_MIN(rc, BU_MSOS_MAX_DESC);
		f->step = ST_BOS_FULL;
		return;
	case ST_BOS_FULL: {
		struct bu_bos_info bos;

		if (status || bu_desc_parse_bos(data, len, &bos, NULL) ||
		    bu_msos2_parse_platform(&bos, info)) {
			info->vendor_code = 0;
			f->step = ST_OS_STRING;
			return;
		}
		if (info->set_len > BU_MSOS_MAX_DESC) {
			warn(info, "MS OS 2.0: set larger than 4 KiB");
			info->set_len = BU_MSOS_MAX_DESC;
		}
		f->step = ST_MSOS2_SET;
		return;
	}
	case ST_MSOS2_SET:
		if (status || bu_msos2_parse_set(data, len, f->config_index, info)) {
			/* Fall back to MS OS 1.0 as a Windows 8 host would. */
			warn(info, "MS OS 2.0: set unreadable");
			info->num_funcs = 0;
			info->vendor_code = 0;
			f->step = ST_OS_STRING;
			return;
		}
		info->version = 2;
		f->step = ST_DONE;
		return;
	default:
		f->step = ST_DONE;
		return;
	}
}

/** A reply of the MS OS 1.0 part (OS string, compat ID, extended properties). */
static void feed_msos1(struct bu_msos_fetch *f, int status, const uint8_t *data, size_t len)
{
	struct bu_msos_info *info = f->info;
	int rc;

	switch (f->step) {
	case ST_OS_STRING:
		if (status || bu_msos1_parse_os_string(data, len, &info->vendor_code)) {
			/* STALL or no signature: no MS OS descriptors (§11.1). */
			info->vendor_code = 0;
			f->step = ST_DONE;
			return;
		}
		info->version = 1;
		f->step = ST_COMPAT_HEAD;
		return;
	case ST_COMPAT_HEAD:
		rc = status ? status : bu_msos1_feature_length(data, len, BU_MSOS1_COMPAT_ID_INDEX);
		if (rc < 0) {
			f->step = ST_DONE;
			return;
		}
		if (rc <= BU_MSOS1_COMPAT_HEADER_LEN) {
			f->step = ST_DONE; /* no function sections */
			return;
		}
		f->total = (uint16_t)rc;
		f->step = ST_COMPAT_FULL;
		return;
	case ST_COMPAT_FULL:
		if (status || bu_msos1_parse_compat_id(data, len, info)) {
			warn(info, "MS OS 1.0: compat ID unreadable");
			f->step = ST_DONE;
			return;
		}
		f->func = 0;
		f->attempt = 0;
		f->step = ST_PROPS_HEAD;
		return;
	case ST_PROPS_HEAD:
		rc = status ? status : bu_msos1_feature_length(data, len, BU_MSOS1_EXT_PROPS_INDEX);
		if (rc < 0) {
			if (status == BU_ESTALL && f->attempt < 2) {
				/* wValue 0 is the same in both byte orders. */
				f->attempt = (f->attempt == 0 &&
					      info->funcs[f->func].first_interface != 0) ? 1 : 2;
				return;
			}
			next_function(f);
			return;
		}
		if (rc <= BU_MSOS1_PROPS_HEADER_LEN) {
			next_function(f);
			return;
		}
		f->total = (uint16_t)rc;
		f->step = ST_PROPS_FULL;
		return;
	case ST_PROPS_FULL:
		if (!status)
			bu_msos1_parse_ext_props(data, len, &info->funcs[f->func], &info->warnings);
		next_function(f);
		return;
	default:
		f->step = ST_DONE;
		return;
	}
}

void bu_msos_fetch_feed(struct bu_msos_fetch *f, int status, const uint8_t *data, size_t len)
{
	struct bu_msos_info *info = f->info;

	if (f->step == ST_DONE || !info)
		return;
	if (status == BU_ENODEV) {
		f->step = ST_DONE;
		return;
	}
	if (status == 0 && len > f->want)
		len = f->want;
	if (status == 0 && len && !data)
		status = BU_EINVAL;
	if (f->step >= ST_BOS_HEAD && f->step <= ST_MSOS2_SET)
		feed_msos2(f, status, data, len);
	else
		feed_msos1(f, status, data, len);
}

/* ======================================================================== */
/* Device helpers                                                           */
/* ======================================================================== */

void bu_msos_apply(const struct bu_msos_info *info, struct bu_usb_device *dev)
{
	if (!info || !dev)
		return;
	for (unsigned i = 0; i < dev->num_ifaces && i < BU_USB_MAX_IFACES; i++) {
		struct bu_usb_interface *intf = &dev->ifaces[i];
		const struct bu_msos_function *fn = NULL;

		for (unsigned k = 0; k < info->num_funcs && k < BU_MSOS_MAX_FUNCS; k++) {
			const struct bu_msos_function *c = &info->funcs[k];

			if (!c->whole_device && (c->first_interface == intf->number ||
						 c->first_interface == intf->func_first)) {
				fn = c;
				if (c->first_interface == intf->number)
					break;
			}
		}
		if (!fn)
			fn = bu_msos_find_function(info, intf->number);
		if (!fn || !fn->compat_id[0])
			continue;
		bu_memcpy(intf->compat_id, fn->compat_id, sizeof(intf->compat_id));
		bu_memcpy(intf->subcompat_id, fn->subcompat_id, sizeof(intf->subcompat_id));
	}
}

int bu_msos_fetch(struct bu_usb_device *dev, struct bu_msos_info *info)
{
	struct bu_msos_fetch f;
	struct bu_usb_dma_buf buf;
	uint8_t setup[8];
	int want, cfg_index;

	if (!dev || !info || !dev->bus || !dev->bus->plat)
		return BU_EINVAL;
	if (dev->state == BU_DEV_GONE)
		return BU_ENODEV;
	/* The replies land in DMA memory (up to Windows' 4 KB per descriptor). */
	if (bu_usb_dma_buf_alloc(dev->bus, &buf, BU_MSOS_MAX_DESC))
		return BU_ENOMEM;
	cfg_index = dev->active_config >= 0 ? dev->active_config : 0;
	bu_msos_fetch_init(&f, info, dev->desc.bcdUSB, (uint8_t)cfg_index);
	while ((want = bu_msos_fetch_next(&f, setup)) >= 0 && want <= BU_MSOS_MAX_DESC) {
		int rc = bu_core_control(dev, setup[0], setup[1], bu_get_le16(setup + 2),
					 bu_get_le16(setup + 4), NULL, &buf, (uint16_t)want, 1000);

		bu_msos_fetch_feed(&f, rc < 0 ? rc : 0, buf.cpu, rc < 0 ? 0 : (size_t)rc);
		if (rc == BU_ENODEV || rc == BU_ESHUTDOWN)
			break;
	}
	bu_usb_dma_buf_free(dev->bus, &buf);
	if (dev->state == BU_DEV_GONE)
		return BU_ENODEV;
	bu_msos_apply(info, dev);
	return 0;
}
