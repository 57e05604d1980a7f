/*
 * Windows discovery on bareusb: libbareusb_compat's SetupAPI subset over
 * the WinUSB API instance, with devices bound from a real INF
 * (tests/winapp/fx2_walkthrough.inf, bu_winusb_drv_bind_inf) - sizes,
 * cbSize checks, A and W variants, registry properties, error codes,
 * hot-plug between two SetupDiGetClassDevs; the OSR FX2 model's vendor
 * requests, switch reports and loopback through WinUSB; and the kernel32 /
 * strsafe / HRESULT helpers a Windows program uses.
 */
#include "winusb_env.h"

#include <windows.h>
#include <setupapi.h>
#include <strsafe.h>
#include <initguid.h>

#include "bareusb/winusb_drv.h"

/* {3D2E6F1A-8C4B-4F5E-9A7D-1B2C3D4E5F60}: fx2_walkthrough.inf's interface. */
DEFINE_GUID(FX2_GUID, 0x3d2e6f1a, 0x8c4b, 0x4f5e, 0x9a, 0x7d, 0x1b, 0x2c, 0x3d, 0x4e, 0x5f,
	    0x60);

#define INF_PATH SIM_TEST_DATA "/../winapp/fx2_walkthrough.inf"
#define FLAGS (DIGCF_PRESENT | DIGCF_DEVICEINTERFACE)

static struct bu_winusb_api *g_api;

struct bu_winusb_api *bu_winusb_current(void)
{
	return g_api;
}

struct env {
	struct stack st;
	struct bu_winusb_drv *drv;
	struct sim_device *dev[2];
	struct bu_winusb_inf inf;
};

static size_t read_inf(char *buf, size_t size)
{
	FILE *f = fopen(INF_PATH, "rb");
	size_t n;

	ck_assert_msg(f != NULL, "cannot open %s", INF_PATH);
	n = fread(buf, 1, size, f);
	fclose(f);
	ck_assert_uint_lt(n, size);
	return n;
}

static void env_up(struct env *e, enum sim_speed speed)
{
	static char text[8192];
	size_t n = read_inf(text, sizeof(text));

	memset(e, 0, sizeof(*e));
	stack_up(&e->st, NULL, 0);
	ck_assert_int_eq(bu_winusb_drv_create(e->st.bus, NULL, &e->drv), 0);
	ck_assert_msg(bu_winusb_drv_bind_inf(e->drv, text, n, &e->inf) == 0, "INF line %u: %s",
		      e->inf.error_line, e->inf.error);
	e->dev[0] = sim_attach(e->st.sim, sim_usb2_port(e->st.sim, 1), &sim_dev_osrfx2, speed);
	ck_assert_ptr_nonnull(e->dev[0]);
	winusb_env_api_up(&e->st, e->drv, &g_api);
}

static void env_down(struct env *e)
{
	winusb_env_down(&e->st, e->drv, &g_api);
}

/* How many interfaces a fresh set lists. */
static unsigned count_interfaces(void)
{
	HDEVINFO set = SetupDiGetClassDevsA(&FX2_GUID, NULL, NULL, FLAGS);
	SP_DEVICE_INTERFACE_DATA ifd;
	unsigned n = 0;

	ck_assert_ptr_ne(set, INVALID_HANDLE_VALUE);
	ifd.cbSize = sizeof(ifd);
	while (SetupDiEnumDeviceInterfaces(set, NULL, &FX2_GUID, n, &ifd))
		n++;
	ck_assert_uint_eq(GetLastError(), ERROR_NO_MORE_ITEMS);
	ck_assert(SetupDiDestroyDeviceInfoList(set));
	return n;
}

START_TEST(test_discovery)
{
	struct env e;
	HDEVINFO set;
	SP_DEVICE_INTERFACE_DATA ifd;
	SP_DEVINFO_DATA dev;
	union {
		SP_DEVICE_INTERFACE_DETAIL_DATA_A a;
		SP_DEVICE_INTERFACE_DETAIL_DATA_W w;
		char bytes[512];
	} d;
	DWORD need = 0, need_w = 0, type = 0;
	char path[256];
	WCHAR wpath[256];
	BYTE prop[256];
	HANDLE file;
	size_t len;

	ck_assert_uint_eq(sizeof(SP_DEVINFO_DATA), 32);
	ck_assert_uint_eq(sizeof(SP_DEVICE_INTERFACE_DATA), 32);
	ck_assert_uint_eq(sizeof(SP_DEVICE_INTERFACE_DETAIL_DATA_A), 8);
	ck_assert_uint_eq(sizeof(SP_DEVICE_INTERFACE_DETAIL_DATA_W), 8);
	env_up(&e, SIM_SPEED_HIGH);

	/* Sets: what is not offered fails with Windows' codes. */
	ck_assert_ptr_eq(SetupDiGetClassDevsA(NULL, NULL, NULL, FLAGS), INVALID_HANDLE_VALUE);
	ck_assert_uint_eq(GetLastError(), ERROR_INVALID_PARAMETER);
	ck_assert_ptr_eq(SetupDiGetClassDevsA(&FX2_GUID, NULL, NULL, DIGCF_PRESENT),
			 INVALID_HANDLE_VALUE);
	ck_assert_uint_eq(GetLastError(), ERROR_NOT_SUPPORTED);
	ck_assert_ptr_eq(SetupDiGetClassDevsA(&FX2_GUID, NULL, NULL, 0x100 | FLAGS),
			 INVALID_HANDLE_VALUE);
	ck_assert_uint_eq(GetLastError(), ERROR_INVALID_FLAGS);
	ck_assert_ptr_eq(SetupDiGetClassDevsA(&FX2_GUID, "PCI", NULL, FLAGS), INVALID_HANDLE_VALUE);
	ck_assert_uint_eq(GetLastError(), ERROR_NOT_SUPPORTED);

	{
		static const WCHAR usb[] = { 'U', 's', 'B', 0 }, usbx[] = { 'U', 'S', 'B', 'X', 0 };
		HDEVINFO wset = SetupDiGetClassDevsW(&FX2_GUID, usb, NULL, FLAGS);

		ck_assert_ptr_ne(wset, INVALID_HANDLE_VALUE);
		ck_assert(SetupDiDestroyDeviceInfoList(wset));
		ck_assert_ptr_eq(SetupDiGetClassDevsW(&FX2_GUID, usbx, NULL, FLAGS),
				 INVALID_HANDLE_VALUE);
		ck_assert_uint_eq(GetLastError(), ERROR_NOT_SUPPORTED);
	}
	set = SetupDiGetClassDevsA(&FX2_GUID, "usb", NULL, FLAGS);
	ck_assert_ptr_ne(set, INVALID_HANDLE_VALUE);
	ifd.cbSize = sizeof(ifd) - 1;
	ck_assert(!SetupDiEnumDeviceInterfaces(set, NULL, &FX2_GUID, 0, &ifd));
	ck_assert_uint_eq(GetLastError(), ERROR_INVALID_USER_BUFFER);
	ifd.cbSize = sizeof(ifd);
	ck_assert(!SetupDiEnumDeviceInterfaces(set, NULL, &FX2_GUID, 1, &ifd));
	ck_assert_uint_eq(GetLastError(), ERROR_NO_MORE_ITEMS);
	ck_assert(SetupDiEnumDeviceInterfaces(set, NULL, &FX2_GUID, 0, &ifd));
	ck_assert(IsEqualGUID(ifd.InterfaceClassGuid, FX2_GUID));
	ck_assert_uint_eq(ifd.Flags, SPINT_ACTIVE);

	/* The size query, then every way the detail call is refused. */
	ck_assert(!SetupDiGetDeviceInterfaceDetailA(set, &ifd, NULL, 0, &need, NULL));
	ck_assert_uint_eq(GetLastError(), ERROR_INSUFFICIENT_BUFFER);
	ck_assert(!SetupDiGetDeviceInterfaceDetailW(set, &ifd, NULL, 0, &need_w, NULL));
	ck_assert_uint_eq(GetLastError(), ERROR_INSUFFICIENT_BUFFER);
	ck_assert(!SetupDiGetDeviceInterfaceDetailA(set, &ifd, NULL, 8, &need, NULL));
	ck_assert_uint_eq(GetLastError(), ERROR_INVALID_PARAMETER);
	d.a.cbSize = 5;
	ck_assert(!SetupDiGetDeviceInterfaceDetailA(set, &ifd, &d.a, sizeof(d), NULL, NULL));
	ck_assert_uint_eq(GetLastError(), ERROR_INVALID_USER_BUFFER);
	d.a.cbSize = sizeof(d.a);
	memset(d.a.DevicePath, 0x55, 8);
	ck_assert(!SetupDiGetDeviceInterfaceDetailA(set, &ifd, &d.a, need - 1, NULL, NULL));
	ck_assert_uint_eq(GetLastError(), ERROR_INSUFFICIENT_BUFFER);
	ck_assert_uint_eq((uint8_t)d.a.DevicePath[0], 0x55); /* nothing written */
	dev.cbSize = sizeof(dev);
	ck_assert(SetupDiGetDeviceInterfaceDetailA(set, &ifd, &d.a, need, NULL, &dev));
	len = strlen(d.a.DevicePath);
	ck_assert_uint_eq(need, 4 + len + 1);
	ck_assert_uint_eq(need_w, 4 + 2 * (len + 1));
	ck_assert_msg(strncmp(d.a.DevicePath, "\\\\?\\usb#vid_0547&pid_1002#", 26) == 0, "%s",
		      d.a.DevicePath);
	ck_assert_ptr_nonnull(strstr(d.a.DevicePath, "#{3d2e6f1a-8c4b-4f5e-9a7d-1b2c3d4e5f60}"));
	memcpy(path, d.a.DevicePath, len + 1);
	d.w.cbSize = sizeof(d.w);
	ck_assert(SetupDiGetDeviceInterfaceDetailW(set, &ifd, &d.w, need_w, NULL, NULL));
	memcpy(wpath, d.bytes + 4, (len + 1) * sizeof(WCHAR));
	for (size_t i = 0; i <= len; i++)
		ck_assert_uint_eq(wpath[i], (unsigned char)path[i]);

	/* Devices and their properties. */
	ck_assert(!SetupDiEnumDeviceInfo(set, 1, &dev));
	ck_assert_uint_eq(GetLastError(), ERROR_NO_MORE_ITEMS);
	dev.cbSize = 0;
	ck_assert(!SetupDiEnumDeviceInfo(set, 0, &dev));
	ck_assert_uint_eq(GetLastError(), ERROR_INVALID_USER_BUFFER);
	dev.cbSize = sizeof(dev);
	ck_assert(SetupDiEnumDeviceInfo(set, 0, &dev));
	ck_assert_uint_ne(dev.DevInst, 0);
	ck_assert(!SetupDiGetDeviceRegistryPropertyA(set, &dev, SPDRP_HARDWAREID, &type, NULL, 0,
						     &need));
	ck_assert_uint_eq(GetLastError(), ERROR_INSUFFICIENT_BUFFER);
	ck_assert_uint_eq(need, sizeof("USB\\VID_0547&PID_1002&REV_0000\0USB\\VID_0547&PID_1002\0"));
	ck_assert(!SetupDiGetDeviceRegistryPropertyA(set, &dev, SPDRP_HARDWAREID, &type, prop,
						     need - 1, NULL));
	ck_assert_uint_eq(GetLastError(), ERROR_INSUFFICIENT_BUFFER);
	ck_assert(SetupDiGetDeviceRegistryPropertyA(set, &dev, SPDRP_HARDWAREID, &type, prop,
						    sizeof(prop), NULL));
	ck_assert_uint_eq(type, REG_MULTI_SZ);
	ck_assert_mem_eq(prop, "USB\\VID_0547&PID_1002&REV_0000\0USB\\VID_0547&PID_1002\0", need);
	ck_assert(SetupDiGetDeviceRegistryPropertyA(set, &dev, SPDRP_FRIENDLYNAME, &type, prop,
						    sizeof(prop), NULL));
	ck_assert_uint_eq(type, REG_SZ);
	ck_assert_str_eq((char *)prop, "OSR USB-FX2 Learning Kit");
	ck_assert(SetupDiGetDeviceRegistryPropertyA(set, &dev, SPDRP_LOCATION_INFORMATION, &type,
						    prop, sizeof(prop), NULL));
	ck_assert_str_eq((char *)prop, "0-1");
	ck_assert(SetupDiGetDeviceRegistryPropertyW(set, &dev, SPDRP_SERVICE, &type, prop,
						    sizeof(prop), &need));
	ck_assert_uint_eq(need, 14);
	ck_assert_mem_eq(prop, "W\0I\0N\0U\0S\0B\0\0", 14);
	ck_assert(!SetupDiGetDeviceRegistryPropertyA(set, &dev, SPDRP_MFG, &type, prop,
						     sizeof(prop), NULL));
	ck_assert_uint_eq(GetLastError(), ERROR_INVALID_DATA);
	ck_assert(!SetupDiGetDeviceRegistryPropertyA(set, &dev, 0x40, &type, prop, sizeof(prop),
						     NULL));
	ck_assert_uint_eq(GetLastError(), ERROR_INVALID_REG_PROPERTY);
	ck_assert(!SetupDiGetDeviceRegistryPropertyA(set, NULL, SPDRP_HARDWAREID, &type, prop,
						     sizeof(prop), NULL));
	ck_assert_uint_eq(GetLastError(), ERROR_INVALID_PARAMETER);

	/* Destroyed or made-up sets are refused, not read. */
	ck_assert(SetupDiDestroyDeviceInfoList(set));
	ck_assert(!SetupDiDestroyDeviceInfoList(set));
	ck_assert_uint_eq(GetLastError(), ERROR_INVALID_HANDLE);
	ck_assert(!SetupDiEnumDeviceInterfaces(set, NULL, &FX2_GUID, 0, &ifd));
	ck_assert_uint_eq(GetLastError(), ERROR_INVALID_HANDLE);
	ck_assert(!SetupDiEnumDeviceInfo((HDEVINFO)&dev, 0, &dev));
	ck_assert_uint_eq(GetLastError(), ERROR_INVALID_HANDLE);

	/* CreateFile on the path, A and W: WinUSB is single-client. */
	file = CreateFileA(path, GENERIC_READ | GENERIC_WRITE, 0, NULL, OPEN_EXISTING,
			   FILE_FLAG_OVERLAPPED, NULL);
	ck_assert_ptr_ne(file, INVALID_HANDLE_VALUE);
	ck_assert_ptr_eq(CreateFileW(wpath, GENERIC_READ, 0, NULL, OPEN_EXISTING,
				     FILE_FLAG_OVERLAPPED, NULL),
			 INVALID_HANDLE_VALUE);
	ck_assert_uint_eq(GetLastError(), ERROR_ACCESS_DENIED);
	ck_assert(CloseHandle(file));
	file = CreateFileW(wpath, GENERIC_READ, 0, NULL, OPEN_EXISTING, FILE_FLAG_OVERLAPPED, NULL);
	ck_assert_ptr_ne(file, INVALID_HANDLE_VALUE);
	ck_assert(CloseHandle(file));
	env_down(&e);
}
END_TEST

/* A device that appears or leaves is seen by the next SetupDiGetClassDevs. */
START_TEST(test_hotplug)
{
	struct env e;
	HDEVINFO before;
	SP_DEVICE_INTERFACE_DATA ifd;

	env_up(&e, SIM_SPEED_HIGH);
	ck_assert_uint_eq(count_interfaces(), 1);
	before = SetupDiGetClassDevsA(&FX2_GUID, NULL, NULL, FLAGS);
	e.dev[1] = sim_attach(e.st.sim, sim_usb2_port(e.st.sim, 2), &sim_dev_osrfx2,
			      SIM_SPEED_FULL);
	ck_assert_ptr_nonnull(e.dev[1]);
	ck_assert(settle(&e.st, 5000));
	ck_assert_uint_eq(count_interfaces(), 2);
	sim_detach(e.dev[0]);
	ck_assert(settle(&e.st, 5000));
	ck_assert_uint_eq(count_interfaces(), 1);
	/* A set taken before is a snapshot: still its one device. */
	ifd.cbSize = sizeof(ifd);
	ck_assert(SetupDiEnumDeviceInterfaces(before, NULL, &FX2_GUID, 0, &ifd));
	ck_assert(!SetupDiEnumDeviceInterfaces(before, NULL, &FX2_GUID, 1, &ifd));
	ck_assert(SetupDiDestroyDeviceInfoList(before));
	sim_detach(e.dev[1]);
	ck_assert(settle(&e.st, 5000));
	ck_assert_uint_eq(count_interfaces(), 0);
	env_down(&e);
}
END_TEST

/* One-byte vendor request; returns WinUsb_ControlTransfer's result. */
static BOOL fx2_request(WINUSB_INTERFACE_HANDLE h, UCHAR type, UCHAR req, UCHAR *v, USHORT len)
{
	WINUSB_SETUP_PACKET s;
	ULONG n = 0;

	ZeroMemory(&s, sizeof(s));
	s.RequestType = type;
	s.Request = req;
	s.Length = len;
	return WinUsb_ControlTransfer(h, s, v, len, &n, NULL) && n == len;
}

static const enum sim_speed fx2_speeds[] = { SIM_SPEED_FULL, SIM_SPEED_HIGH };

START_TEST(test_fx2_model)
{
	struct env e;
	char path[256];
	HANDLE file;
	WINUSB_INTERFACE_HANDLE h;
	UCHAR v[2] = { 0 }, buf[600], in[600];
	ULONG n = 0, timeout = 200;

	env_up(&e, fx2_speeds[_i]);
	ck_assert(bu_winusb_find_by_guid(g_api, &FX2_GUID, 0, path, sizeof(path), NULL));
	file = CreateFileA(path, GENERIC_READ | GENERIC_WRITE, 0, NULL, OPEN_EXISTING,
			   FILE_FLAG_OVERLAPPED, NULL);
	ck_assert(WinUsb_Initialize(file, &h));
	/* Bar graph and seven segments, device and interface recipient. */
	v[0] = 0xa5;
	ck_assert(fx2_request(h, 0x40, SIM_FX2_SET_BARGRAPH_DISPLAY, v, 1));
	ck_assert_uint_eq(sim_fx2_bargraph(e.dev[0]), 0xa5);
	v[0] = 0x3f;
	ck_assert(fx2_request(h, 0x41, SIM_FX2_SET_7SEGMENT_DISPLAY, v, 1));
	ck_assert_uint_eq(sim_fx2_segments(e.dev[0]), 0x3f);
	ck_assert(fx2_request(h, 0xc1, SIM_FX2_READ_BARGRAPH_DISPLAY, v, 1));
	ck_assert_uint_eq(v[0], 0xa5);
	ck_assert(fx2_request(h, 0xc0, SIM_FX2_READ_7SEGMENT_DISPLAY, v, 1));
	ck_assert_uint_eq(v[0], 0x3f);
	ck_assert(fx2_request(h, 0xc0, SIM_FX2_IS_HIGH_SPEED, v, 1));
	ck_assert_uint_eq(v[0], fx2_speeds[_i] == SIM_SPEED_HIGH);
	/* Not the kit's: STALL, a failed transfer. */
	ck_assert(!fx2_request(h, 0xc0, 0xDA, v, 1));
	ck_assert(!fx2_request(h, 0x40, SIM_FX2_SET_BARGRAPH_DISPLAY, v, 2));
	ck_assert(!fx2_request(h, 0xc2, SIM_FX2_READ_SWITCHES, v, 1));
	/* Switches: the report after configuration, then one per change, NAK between. */
	WinUsb_SetPipePolicy(h, 0x81, PIPE_TRANSFER_TIMEOUT, sizeof(timeout), &timeout);
	ck_assert(WinUsb_ReadPipe(h, 0x81, v, 1, &n, NULL));
	ck_assert_uint_eq(n, 1);
	ck_assert_uint_eq(v[0], 0);
	ck_assert(!WinUsb_ReadPipe(h, 0x81, v, 1, &n, NULL));
	ck_assert_uint_eq(GetLastError(), ERROR_SEM_TIMEOUT);
	sim_fx2_set_switches(e.dev[0], 0x81);
	ck_assert(fx2_request(h, 0xc0, SIM_FX2_READ_SWITCHES, v, 1));
	ck_assert_uint_eq(v[0], 0x81);
	v[0] = 0;
	ck_assert(WinUsb_ReadPipe(h, 0x81, v, 1, &n, NULL));
	ck_assert_uint_eq(v[0], 0x81);
	ck_assert_uint_eq(sim_fx2_reports(e.dev[0]), 2);
	/* Loopback 0x06 -> 0x88 with the short last packet kept. */
	for (unsigned i = 0; i < sizeof(buf); i++)
		buf[i] = (UCHAR)(i ^ 0x5a);
	ck_assert(WinUsb_WritePipe(h, 0x06, buf, sizeof(buf), &n, NULL));
	ck_assert_uint_eq(n, sizeof(buf));
	ck_assert(WinUsb_ReadPipe(h, 0x88, in, sizeof(in), &n, NULL));
	ck_assert_uint_eq(n, sizeof(buf));
	ck_assert_mem_eq(in, buf, sizeof(buf));
	ck_assert_uint_eq(sim_fx2_bulk_out_bytes(e.dev[0]), sizeof(buf));
	ck_assert(WinUsb_Free(h));
	ck_assert(CloseHandle(file));
	env_down(&e);
}
END_TEST

/*
 * An INF's power values ("WinUSB power management"): its .HW AddReg
 * DWORDs become the function's AUTO_SUSPEND and SUSPEND_DELAY defaults,
 * by the documented precedence - DefaultIdleState counts only under
 * DeviceIdleEnabled. Value names are case-insensitive, as in the registry.
 */
static void power_inf(const char *hw, UCHAR want_auto, ULONG want_delay)
{
	static const char head[] = "[Version]\nSignature=\"$Windows NT$\"\n[Manufacturer]\n"
				   "M=Models\n[Models]\nD=I,USB\\VID_0547&PID_1002\n[I]\n"
				   "Include=winusb.inf\nNeeds=WINUSB.NT\n[I.HW]\nAddReg=R\n[R]\n"
				   "HKR,,DeviceInterfaceGUIDs,0x10000,"
				   "\"{3D2E6F1A-8C4B-4F5E-9A7D-1B2C3D4E5F60}\"\n";
	static char text[2048];
	struct env e;
	struct bu_winusb_inf *inf = calloc(1, sizeof(*inf));
	char path[256];
	HANDLE file;
	WINUSB_INTERFACE_HANDLE h;
	UCHAR b = 0xee;
	ULONG len, v = 0;

	snprintf(text, sizeof(text), "%s%s", head, hw);
	memset(&e, 0, sizeof(e));
	stack_up(&e.st, NULL, 0);
	ck_assert_int_eq(bu_winusb_drv_create(e.st.bus, NULL, &e.drv), 0);
	ck_assert_msg(bu_winusb_drv_bind_inf(e.drv, text, strlen(text), inf) == 0, "INF line %u: %s",
		      inf->error_line, inf->error);
	e.dev[0] = sim_attach(e.st.sim, sim_usb2_port(e.st.sim, 1), &sim_dev_osrfx2, SIM_SPEED_HIGH);
	ck_assert_ptr_nonnull(e.dev[0]);
	winusb_env_api_up(&e.st, e.drv, &g_api);
	ck_assert(bu_winusb_find_by_guid(g_api, &FX2_GUID, 0, path, sizeof(path), NULL));
	file = CreateFileA(path, GENERIC_READ | GENERIC_WRITE, 0, NULL, OPEN_EXISTING,
			   FILE_FLAG_OVERLAPPED, NULL);
	ck_assert(WinUsb_Initialize(file, &h));
	len = 1;
	ck_assert(WinUsb_GetPowerPolicy(h, AUTO_SUSPEND, &len, &b));
	ck_assert_msg(b == want_auto, "AUTO_SUSPEND %u, want %u for:\n%s", b, want_auto, hw);
	len = sizeof(v);
	ck_assert(WinUsb_GetPowerPolicy(h, SUSPEND_DELAY, &len, &v));
	ck_assert_msg(v == want_delay, "SUSPEND_DELAY %lu, want %lu for:\n%s", (unsigned long)v,
		      (unsigned long)want_delay, hw);
	ck_assert(WinUsb_Free(h));
	ck_assert(CloseHandle(file));
	free(inf);
	env_down(&e);
}

START_TEST(test_inf_power)
{
	power_inf("HKR,,DeviceIdleEnabled,0x00010001,1\nHKR,,DefaultIdleState,0x00010001,1\n"
		  "HKR,,DefaultIdleTimeout,0x00010001,1234\n", 1, 1234);
	power_inf("HKR,,deviceidleenabled,0x00010001,1\nHKR,,DEFAULTIDLESTATE,0x00010001,1\n", 1,
		  5000);
	/* Without DeviceIdleEnabled, DefaultIdleState is ignored; the timeout stands alone. */
	power_inf("HKR,,DefaultIdleState,0x00010001,1\nHKR,,DefaultIdleTimeout,0x00010001,700\n",
		  0, 700);
	power_inf("HKR,,DeviceIdleEnabled,0x00010001,0\nHKR,,DefaultIdleState,0x00010001,1\n", 0,
		  5000);
	/* A string where a DWORD belongs is not a power value. */
	power_inf("HKR,,DeviceIdleEnabled,0x00010001,1\nHKR,,DefaultIdleState,0,\"1\"\n", 0,
		  5000);
}
END_TEST

/* Bad INFs bind nothing; a full table is BU_ENOSPC with nothing bound. */
START_TEST(test_bind_inf_errors)
{
	static const char no_winusb[] = "[Version]\nSignature=\"$Windows NT$\"\n[Manufacturer]\n"
					"M=Models\n[Models]\nD=I,USB\\VID_0547&PID_1002\n[I]\n"
					"Include=usbser.inf\nNeeds=USBSER.NT\n";
	struct env e;
	struct bu_winusb_inf *inf = calloc(1, sizeof(*inf));
	static char text[8192];
	size_t n = read_inf(text, sizeof(text));

	memset(&e, 0, sizeof(e));
	stack_up(&e.st, NULL, 0);
	ck_assert_int_eq(bu_winusb_drv_create(e.st.bus, NULL, &e.drv), 0);
	ck_assert_int_eq(bu_winusb_drv_bind_inf(e.drv, no_winusb, sizeof(no_winusb) - 1, inf),
			 BU_EINVAL);
	ck_assert_uint_eq(inf->error_line, 6);
	for (unsigned i = 0; i + 1 < BU_WINUSB_MAX_BINDINGS; i++)
		ck_assert_int_eq(bu_winusb_drv_bind(e.drv, 0x1209, (uint16_t)(0x7000 + i), -1, NULL), 0);
	/* The FX2 INF names the kit twice (amd64 and arm64 sections: one used). */
	ck_assert_int_eq(bu_winusb_drv_bind_inf(e.drv, text, n, inf), 0);
	ck_assert_int_eq(bu_winusb_drv_bind_inf(e.drv, text, n, inf), BU_ENOSPC);
	ck_assert_ptr_nonnull(strstr(inf->error, "room"));
	ck_assert_int_eq(bu_winusb_drv_bind_inf(NULL, text, n, inf), BU_EINVAL);
	ck_assert_int_eq(bu_winusb_drv_bind_inf(e.drv, text, n, NULL), BU_EINVAL);
	/* The power values stay readable for whoever applies them. */
	ck_assert_uint_eq(inf->num_models, 1);
	ck_assert_str_eq(bu_winusb_inf_model_addreg(inf, 0, 3)->name, "DefaultIdleTimeout");
	ck_assert_uint_eq(bu_winusb_inf_model_addreg(inf, 0, 3)->dword, 5000);
	free(inf);
	bu_winusb_drv_destroy(e.drv);
	stack_down(&e.st);
}
END_TEST

START_TEST(test_kernel32)
{
	struct env e;
	char s[8];
	size_t len = 99;
	PBYTE p;

	env_up(&e, SIM_SPEED_HIGH);
	p = (PBYTE)LocalAlloc(LPTR, 64);
	ck_assert_ptr_nonnull(p);
	for (int i = 0; i < 64; i++)
		ck_assert_uint_eq(p[i], 0);
	ck_assert_ptr_null(LocalFree(p));
	ck_assert_ptr_null(LocalAlloc(0x0002 /* LMEM_MOVEABLE */, 8));
	ck_assert_uint_eq(GetLastError(), ERROR_INVALID_PARAMETER);
	p = (PBYTE)HeapAlloc(GetProcessHeap(), HEAP_ZERO_MEMORY, 16);
	ck_assert_ptr_nonnull(p);
	ck_assert_uint_eq(p[15], 0);
	ck_assert(!HeapFree((HANDLE)s, 0, p));
	ck_assert_uint_eq(GetLastError(), ERROR_INVALID_HANDLE);
	ck_assert(HeapFree(GetProcessHeap(), 0, p));
	ck_assert_int_eq(HRESULT_FROM_WIN32(ERROR_SUCCESS), S_OK);
	ck_assert_uint_eq((uint32_t)HRESULT_FROM_WIN32(ERROR_INSUFFICIENT_BUFFER), 0x8007007Au);
	ck_assert(FAILED(HRESULT_FROM_WIN32(ERROR_NO_MORE_ITEMS)));
	ck_assert(SUCCEEDED(S_FALSE));
	ck_assert_int_eq(StringCchCopyA(s, sizeof(s), "1234567"), S_OK);
	ck_assert_int_eq(StringCchCopyA(s, sizeof(s), "12345678"), STRSAFE_E_INSUFFICIENT_BUFFER);
	ck_assert_str_eq(s, "1234567");
	ck_assert_int_eq(StringCchCopyA(s, 0, "x"), STRSAFE_E_INVALID_PARAMETER);
	ck_assert_int_eq(StringCchCatA(s, sizeof(s), "9"), STRSAFE_E_INSUFFICIENT_BUFFER);
	ck_assert_int_eq(StringCchPrintfA(s, sizeof(s), "%d-%s", 42, "ab"), S_OK);
	ck_assert_str_eq(s, "42-ab");
	ck_assert_int_eq(StringCchPrintfA(s, 4, "%d", 12345), STRSAFE_E_INSUFFICIENT_BUFFER);
	ck_assert_str_eq(s, "123");
	ck_assert_int_eq(StringCchLengthA(s, sizeof(s), &len), S_OK);
	ck_assert_uint_eq(len, 3);
	ck_assert_int_eq(StringCchLengthA(s, 3, &len), STRSAFE_E_INVALID_PARAMETER);
	ck_assert_uint_eq(len, 0);
	env_down(&e);
}
END_TEST

static Suite *setupapi_suite(void)
{
	Suite *s = suite_create("setupapi");
	TCase *t = tcase_create("setupapi");

	tcase_set_timeout(t, 120);
	tcase_add_test(t, test_discovery);
	tcase_add_test(t, test_hotplug);
	tcase_add_loop_test(t, test_fx2_model, 0, 2);
	tcase_add_test(t, test_bind_inf_errors);
	tcase_add_test(t, test_inf_power);
	tcase_add_test(t, test_kernel32);
	suite_add_tcase(s, t);
	return s;
}

int main(void)
{
	return run_suite(setupapi_suite());
}
