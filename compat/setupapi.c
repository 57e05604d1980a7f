/*
 * SetupAPI's device-interface discovery (include/bareusb/compat/setupapi.h)
 * over the WinUSB API instance bu_winusb_current(): a device information
 * set is a snapshot of the WinUSB functions registered under one interface
 * GUID (bu_winusb_find_by_guid + bu_winusb_device_info), taken when
 * SetupDiGetClassDevs runs. Hosted code (C library allocator); the live
 * sets are remembered in a small static table so that a destroyed or
 * made-up HDEVINFO fails with ERROR_INVALID_HANDLE instead of being read.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <setupapi.h>

#define SET_MAX_LIVE 64
#define SET_MAX_ITEMS 64
#define SET_PATH_MAX 256

/** One device (and its one interface of the set's GUID). */
struct set_item {
	char path[SET_PATH_MAX];
	struct bu_winusb_devinfo info;
};

struct devinfo_set {
	GUID guid;
	unsigned n;
	struct set_item item[SET_MAX_ITEMS];
};

/* Every set SetupDiGetClassDevs returned and no one destroyed yet. */
static struct devinfo_set *live_sets[SET_MAX_LIVE];

/* GUID_DEVCLASS_USBDEVICE {88BAE032-5A81-49F0-BC3D-A4FF138216D6}: the USBDevice setup class. */
static const GUID usbdevice_class = { 0x88BAE032u, 0x5A81, 0x49F0,
				      { 0xBC, 0x3D, 0xA4, 0xFF, 0x13, 0x82, 0x16, 0xD6 } };

static BOOL fail(DWORD err)
{
	SetLastError(err);
	return FALSE;
}

static struct devinfo_set *set_of(HDEVINFO h)
{
	for (unsigned i = 0; h && h != INVALID_HANDLE_VALUE && i < SET_MAX_LIVE; i++)
		if (live_sets[i] == h)
			return live_sets[i];
	SetLastError(ERROR_INVALID_HANDLE);
	return NULL;
}

/* ======================================================================== */
/* Sets                                                                     */
/* ======================================================================== */

/** Take the snapshot; Enumerator already checked. */
static HDEVINFO get_class_devs(const GUID *guid, DWORD flags)
{
	struct bu_winusb_api *api = bu_winusb_current();
	struct devinfo_set *s;
	unsigned slot;

	if (flags & ~(DIGCF_DEFAULT | DIGCF_PRESENT | DIGCF_ALLCLASSES | DIGCF_PROFILE |
		      DIGCF_DEVICEINTERFACE)) {
		SetLastError(ERROR_INVALID_FLAGS);
		return INVALID_HANDLE_VALUE;
	}
	if (!(flags & DIGCF_DEVICEINTERFACE) || (flags & DIGCF_ALLCLASSES) || !api) {
		SetLastError(ERROR_NOT_SUPPORTED);
		return INVALID_HANDLE_VALUE;
	}
	if (!guid) {
		SetLastError(ERROR_INVALID_PARAMETER);
		return INVALID_HANDLE_VALUE;
	}
	for (slot = 0; slot < SET_MAX_LIVE && live_sets[slot]; slot++)
		;
	s = slot < SET_MAX_LIVE ? (struct devinfo_set *)calloc(1, sizeof(*s)) : NULL;
	if (!s) {
		SetLastError(ERROR_NOT_ENOUGH_MEMORY);
		return INVALID_HANDLE_VALUE;
	}
	s->guid = *guid;
	/* Let pending attach/detach events reach the driver part first. */
	bu_winusb_api_poll(api);
	while (s->n < SET_MAX_ITEMS) {
		struct set_item *it = &s->item[s->n];

		if (!bu_winusb_find_by_guid(api, guid, s->n, it->path, sizeof(it->path), NULL) ||
		    !bu_winusb_device_info(api, it->path, &it->info))
			break;
		s->n++;
	}
	live_sets[slot] = s;
	SetLastError(ERROR_SUCCESS);
	return s;
}

HDEVINFO WINAPI SetupDiGetClassDevsA(const GUID *ClassGuid, PCSTR Enumerator, HWND hwndParent,
				     DWORD Flags)
{
	(void)hwndParent;
	/* Only USB devices exist here: "USB" (any case) or no enumerator. */
	if (Enumerator && strcasecmp(Enumerator, "USB") != 0) {
		SetLastError(ERROR_NOT_SUPPORTED);
		return INVALID_HANDLE_VALUE;
	}
	return get_class_devs(ClassGuid, Flags);
}

HDEVINFO WINAPI SetupDiGetClassDevsW(const GUID *ClassGuid, PCWSTR Enumerator, HWND hwndParent,
				     DWORD Flags)
{
	(void)hwndParent;
	if (Enumerator &&
	    ((Enumerator[0] | 0x20) != 'u' || (Enumerator[1] | 0x20) != 's' ||
	     (Enumerator[2] | 0x20) != 'b' || Enumerator[3] != 0)) {
		SetLastError(ERROR_NOT_SUPPORTED);
		return INVALID_HANDLE_VALUE;
	}
	return get_class_devs(ClassGuid, Flags);
}

BOOL WINAPI SetupDiDestroyDeviceInfoList(HDEVINFO DeviceInfoSet)
{
	struct devinfo_set *s = set_of(DeviceInfoSet);

	if (!s)
		return FALSE;
	for (unsigned i = 0; i < SET_MAX_LIVE; i++)
		if (live_sets[i] == s)
			live_sets[i] = NULL;
	free(s);
	SetLastError(ERROR_SUCCESS);
	return TRUE;
}

/* ======================================================================== */
/* Devices and interfaces                                                   */
/* ======================================================================== */

static void fill_devinfo(const struct devinfo_set *s, unsigned i, PSP_DEVINFO_DATA d)
{
	d->ClassGuid = usbdevice_class;
	d->DevInst = s->item[i].info.instance + 1; /* a nonzero devnode number */
	d->Reserved = (ULONG_PTR)i + 1;
}

/** The item a SP_DEVINFO_DATA of this set names, or -1 (error set). */
static int item_of_devinfo(const struct devinfo_set *s, const SP_DEVINFO_DATA *d)
{
	if (d->cbSize != sizeof(SP_DEVINFO_DATA)) {
		SetLastError(ERROR_INVALID_USER_BUFFER);
		return -1;
	}
	if (d->Reserved == 0 || d->Reserved > s->n) {
		SetLastError(ERROR_INVALID_PARAMETER);
		return -1;
	}
	return (int)d->Reserved - 1;
}

BOOL WINAPI SetupDiEnumDeviceInfo(HDEVINFO DeviceInfoSet, DWORD MemberIndex,
				  PSP_DEVINFO_DATA DeviceInfoData)
{
	struct devinfo_set *s = set_of(DeviceInfoSet);

	if (!s)
		return FALSE;
	if (!DeviceInfoData)
		return fail(ERROR_INVALID_PARAMETER);
	if (DeviceInfoData->cbSize != sizeof(SP_DEVINFO_DATA))
		return fail(ERROR_INVALID_USER_BUFFER);
	if (MemberIndex >= s->n)
		return fail(ERROR_NO_MORE_ITEMS);
	fill_devinfo(s, MemberIndex, DeviceInfoData);
	SetLastError(ERROR_SUCCESS);
	return TRUE;
}

BOOL WINAPI SetupDiEnumDeviceInterfaces(HDEVINFO DeviceInfoSet, PSP_DEVINFO_DATA DeviceInfoData,
					const GUID *InterfaceClassGuid, DWORD MemberIndex,
					PSP_DEVICE_INTERFACE_DATA DeviceInterfaceData)
{
	struct devinfo_set *s = set_of(DeviceInfoSet);
	unsigned index = MemberIndex;

	if (!s)
		return FALSE;
	if (!InterfaceClassGuid || !DeviceInterfaceData)
		return fail(ERROR_INVALID_PARAMETER);
	if (DeviceInterfaceData->cbSize != sizeof(SP_DEVICE_INTERFACE_DATA))
		return fail(ERROR_INVALID_USER_BUFFER);
	if (DeviceInfoData) {
		/* One device has one interface of the set's class: index 0 only. */
		int it = item_of_devinfo(s, DeviceInfoData);

		if (it < 0)
			return FALSE;
		if (MemberIndex != 0)
			return fail(ERROR_NO_MORE_ITEMS);
		index = (unsigned)it;
	}
	if (memcmp(InterfaceClassGuid, &s->guid, sizeof(GUID)) != 0 || index >= s->n)
		return fail(ERROR_NO_MORE_ITEMS);
	DeviceInterfaceData->InterfaceClassGuid = s->guid;
	DeviceInterfaceData->Flags = SPINT_ACTIVE;
	DeviceInterfaceData->Reserved = (ULONG_PTR)index + 1;
	SetLastError(ERROR_SUCCESS);
	return TRUE;
}

/**
 * The checks both SetupDiGetDeviceInterfaceDetail variants make; the item
 * index, or -1 with the error set. `need` is the whole size wanted.
 */
static int detail_common(HDEVINFO set, PSP_DEVICE_INTERFACE_DATA data, const void *detail,
			 DWORD detail_cb, DWORD fixed_cb, DWORD size, size_t unit,
			 PDWORD required, PSP_DEVINFO_DATA devinfo, DWORD *need)
{
	struct devinfo_set *s = set_of(set);
	unsigned i;

	if (!s)
		return -1;
	if (!data || (!detail && size != 0) || (detail && size < fixed_cb)) {
		SetLastError(detail ? ERROR_INVALID_USER_BUFFER : ERROR_INVALID_PARAMETER);
		return -1;
	}
	if (data->cbSize != sizeof(SP_DEVICE_INTERFACE_DATA) || (detail && detail_cb != fixed_cb) ||
	    (devinfo && devinfo->cbSize != sizeof(SP_DEVINFO_DATA))) {
		SetLastError(ERROR_INVALID_USER_BUFFER);
		return -1;
	}
	if (data->Reserved == 0 || data->Reserved > s->n) {
		SetLastError(ERROR_INVALID_PARAMETER);
		return -1;
	}
	i = (unsigned)data->Reserved - 1;
	*need = (DWORD)(offsetof(SP_DEVICE_INTERFACE_DETAIL_DATA_A, DevicePath) +
			(strlen(s->item[i].path) + 1) * unit);
	if (required)
		*required = *need;
	if (devinfo)
		fill_devinfo(s, i, devinfo);
	if (size < *need) {
		SetLastError(ERROR_INSUFFICIENT_BUFFER);
		return -1;
	}
	return (int)i;
}

BOOL WINAPI SetupDiGetDeviceInterfaceDetailA(
	HDEVINFO DeviceInfoSet, PSP_DEVICE_INTERFACE_DATA DeviceInterfaceData,
	PSP_DEVICE_INTERFACE_DETAIL_DATA_A DeviceInterfaceDetailData,
	DWORD DeviceInterfaceDetailDataSize, PDWORD RequiredSize, PSP_DEVINFO_DATA DeviceInfoData)
{
	DWORD need = 0;
	const char *path;
	int i = detail_common(DeviceInfoSet, DeviceInterfaceData, DeviceInterfaceDetailData,
			      DeviceInterfaceDetailData ? DeviceInterfaceDetailData->cbSize : 0,
			      sizeof(SP_DEVICE_INTERFACE_DETAIL_DATA_A),
			      DeviceInterfaceDetailDataSize, sizeof(CHAR), RequiredSize,
			      DeviceInfoData, &need);

	if (i < 0)
		return FALSE;
	path = ((struct devinfo_set *)DeviceInfoSet)->item[i].path;
	memcpy((char *)DeviceInterfaceDetailData +
		       offsetof(SP_DEVICE_INTERFACE_DETAIL_DATA_A, DevicePath),
	       path, strlen(path) + 1);
	SetLastError(ERROR_SUCCESS);
	return TRUE;
}

BOOL WINAPI SetupDiGetDeviceInterfaceDetailW(
	HDEVINFO DeviceInfoSet, PSP_DEVICE_INTERFACE_DATA DeviceInterfaceData,
	PSP_DEVICE_INTERFACE_DETAIL_DATA_W DeviceInterfaceDetailData,
	DWORD DeviceInterfaceDetailDataSize, PDWORD RequiredSize, PSP_DEVINFO_DATA DeviceInfoData)
{
	DWORD need = 0;
	const char *path;
	WCHAR *out;
	size_t k;
	int i = detail_common(DeviceInfoSet, DeviceInterfaceData, DeviceInterfaceDetailData,
			      DeviceInterfaceDetailData ? DeviceInterfaceDetailData->cbSize : 0,
			      sizeof(SP_DEVICE_INTERFACE_DETAIL_DATA_W),
			      DeviceInterfaceDetailDataSize, sizeof(WCHAR), RequiredSize,
			      DeviceInfoData, &need);

	if (i < 0)
		return FALSE;
	path = ((struct devinfo_set *)DeviceInfoSet)->item[i].path;
	/* DevicePath is declared [ANYSIZE_ARRAY]: write through a plain pointer. */
	out = (WCHAR *)((char *)DeviceInterfaceDetailData +
			offsetof(SP_DEVICE_INTERFACE_DETAIL_DATA_W, DevicePath));
	for (k = 0; path[k]; k++)
		out[k] = (WCHAR)(unsigned char)path[k];
	out[k] = 0;
	SetLastError(ERROR_SUCCESS);
	return TRUE;
}

/* ======================================================================== */
/* Registry properties                                                      */
/* ======================================================================== */

/**
 * A property's value as UTF-8 text into buf (REG_MULTI_SZ strings are
 * separated by NULs, len counts every byte but the final NUL); its type,
 * or 0 with the error set.
 */
static DWORD property_text(const struct bu_winusb_devinfo *d, DWORD prop, char *buf, size_t size,
			   size_t *len)
{
	int n = -1;

	switch (prop) {
	case SPDRP_HARDWAREID: /* most specific first, as Windows lists them */
		n = snprintf(buf, size, "USB\\VID_%04X&PID_%04X&REV_%04X", d->vid, d->pid,
			     d->bcd_device);
		if (n > 0 && (size_t)n + 1 < size) {
			int m = d->composite ? snprintf(buf + n + 1, size - (size_t)n - 1,
							"USB\\VID_%04X&PID_%04X&MI_%02X", d->vid,
							d->pid, d->first_iface)
					     : snprintf(buf + n + 1, size - (size_t)n - 1,
							"USB\\VID_%04X&PID_%04X", d->vid, d->pid);
			n = m < 0 ? -1 : n + 1 + m;
		}
		*len = n < 0 ? 0 : (size_t)n + 1; /* the list's own NUL follows */
		return n < 0 ? 0 : REG_MULTI_SZ;
	case SPDRP_COMPATIBLEIDS:
		if (!d->compat_id[0])
			break;
		n = snprintf(buf, size, "USB\\MS_COMP_%s", d->compat_id);
		*len = n < 0 ? 0 : (size_t)n + 1;
		return n < 0 ? 0 : REG_MULTI_SZ;
	case SPDRP_FRIENDLYNAME:
		if (!d->product[0])
			break;
		n = snprintf(buf, size, "%s", d->product);
		break;
	case SPDRP_DEVICEDESC:
		n = snprintf(buf, size, "%s", d->product[0] ? d->product : "WinUsb Device");
		break;
	case SPDRP_SERVICE:
		n = snprintf(buf, size, "WINUSB");
		break;
	case SPDRP_CLASS:
		n = snprintf(buf, size, "USBDevice");
		break;
	case SPDRP_CLASSGUID:
		n = snprintf(buf, size, "{88bae032-5a81-49f0-bc3d-a4ff138216d6}");
		break;
	case SPDRP_ENUMERATOR_NAME:
		n = snprintf(buf, size, "USB");
		break;
	case SPDRP_LOCATION_INFORMATION:
		/* bareusb's location: "BUS-PORT[.PORT...]" (root port, hub ports). */
		n = snprintf(buf, size, "%s", d->location);
		break;
	default:
		SetLastError(prop >= SPDRP_MAXIMUM_PROPERTY ? ERROR_INVALID_REG_PROPERTY
							    : ERROR_INVALID_DATA);
		return 0;
	}
	if (n < 0 || (size_t)n >= size) {
		SetLastError(ERROR_INVALID_DATA);
		return 0;
	}
	*len = (size_t)n;
	return REG_SZ;
}

/** Both variants: wide selects UTF-16 output. */
static BOOL get_property(HDEVINFO set, PSP_DEVINFO_DATA devinfo, DWORD prop, PDWORD type,
			 PBYTE out, DWORD size, PDWORD required, int wide)
{
	struct devinfo_set *s = set_of(set);
	char text[256];
	size_t len = 0, unit = wide ? sizeof(WCHAR) : 1, need;
	DWORD t;
	int i;

	if (!s)
		return FALSE;
	if (!devinfo || (!out && size))
		return fail(ERROR_INVALID_PARAMETER);
	i = item_of_devinfo(s, devinfo);
	if (i < 0)
		return FALSE;
	t = property_text(&s->item[i].info, prop, text, sizeof(text) - 1, &len);
	if (!t) {
		SetLastError(GetLastError() == ERROR_SUCCESS ? ERROR_INVALID_DATA : GetLastError());
		return FALSE;
	}
	text[len] = '\0'; /* the terminating NUL (the list's second one for MULTI_SZ) */
	need = (len + 1) * unit;
	if (type)
		*type = t;
	if (required)
		*required = (DWORD)need;
	if (size < need)
		return fail(ERROR_INSUFFICIENT_BUFFER);
	for (size_t k = 0; k <= len; k++) {
		if (wide) {
			/* ASCII and the product string's UTF-8 bytes as Latin-1 code units. */
			WCHAR w = (WCHAR)(unsigned char)text[k];

			memcpy(out + k * 2, &w, 2);
		} else {
			out[k] = (BYTE)text[k];
		}
	}
	SetLastError(ERROR_SUCCESS);
	return TRUE;
}

BOOL WINAPI SetupDiGetDeviceRegistryPropertyA(HDEVINFO DeviceInfoSet,
					      PSP_DEVINFO_DATA DeviceInfoData, DWORD Property,
					      PDWORD PropertyRegDataType, PBYTE PropertyBuffer,
					      DWORD PropertyBufferSize, PDWORD RequiredSize)
{
	return get_property(DeviceInfoSet, DeviceInfoData, Property, PropertyRegDataType,
			    PropertyBuffer, PropertyBufferSize, RequiredSize, 0);
}

BOOL WINAPI SetupDiGetDeviceRegistryPropertyW(HDEVINFO DeviceInfoSet,
					      PSP_DEVINFO_DATA DeviceInfoData, DWORD Property,
					      PDWORD PropertyRegDataType, PBYTE PropertyBuffer,
					      DWORD PropertyBufferSize, PDWORD RequiredSize)
{
	return get_property(DeviceInfoSet, DeviceInfoData, Property, PropertyRegDataType,
			    PropertyBuffer, PropertyBufferSize, RequiredSize, 1);
}
