/*
 * The WinUSB layer on the sim, written the way a Windows program uses
 * Winusb.dll (WinUsb_*, CreateFile, CreateEvent, GetLastError): the device
 * models bind automatically by MS OS 2.0 / 1.0 compatible ID and are found
 * by their DeviceInterfaceGUID; bulk loopback under the pipe policies;
 * isochronous IN and OUT; stalls with and without AUTO_CLEAR_STALL;
 * timeouts; abort and flush with requests queued; composite functions;
 * unplug; selective suspend; and every function given bad handles, bad
 * pipe IDs, NULL and short buffers and out-of-range indexes.
 */
#include "harness.h"

#include "bareusb/winusb.h"
#include "bareusb/winusb_drv.h"

/* The API instance the WinUsb_* names use (the embedder's part of the deal). */
static struct bu_winusb_api *g_api;

struct bu_winusb_api *bu_winusb_current(void)
{
	return g_api;
}

/* {6A1D3C9E-5B2F-4E8A-9C71-0D3E5F7A9B21}: SIM_WINUSB_GUID */
static const GUID sim_guid = { 0x6A1D3C9Eu, 0x5B2F, 0x4E8A,
			       { 0x9C, 0x71, 0x0D, 0x3E, 0x5F, 0x7A, 0x9B, 0x21 } };
/* A GUID for explicit bindings. */
static const GUID bind_guid = { 0x11223344u, 0x5566, 0x7788,
				{ 0x99, 0xAA, 0xBB, 0xCC, 0xDD, 0xEE, 0xFF, 0x00 } };
#define BIND_GUID "{11223344-5566-7788-99AA-BBCCDDEEFF00}"

struct env {
	struct stack st;
	struct sim_device *sd;
	struct bu_winusb_drv *drv;
	HANDLE file;
	WINUSB_INTERFACE_HANDLE h;
	char path[BU_WINUSB_PATH_MAX];
	unsigned suspends, resumes;
};

static unsigned port_for(struct sim *sim, enum sim_speed speed, unsigned n)
{
	return speed == SIM_SPEED_SUPER ? sim_usb3_port(sim, n) : sim_usb2_port(sim, n);
}

static int suspend_hook(void *ctx, struct bu_usb_device *dev, bool suspend)
{
	struct env *e = ctx;

	(void)dev;
	if (suspend)
		e->suspends++;
	else
		e->resumes++;
	return 0;
}

static const int core_link;

/* A descriptor hook set on the model as it is attached, before enumeration. */
static sim_desc_hook_fn env_hook;

/* Bring the stack, the driver part and the API instance up; attach a model. */
static void env_up_opts(struct env *e, const struct sim_device_model *m, enum sim_speed speed,
			const char *bind, const struct bu_winusb_drv_options *o)
{
	struct bu_winusb_drv_options opts = { 0 };
	struct bu_winusb_transport tp;

	memset(e, 0, sizeof(*e));
	if (o)
		opts = *o;
	/* Options whose ctx is &core_link keep the driver's default
	 * suspend (the core's link control); others count calls. */
	if (!o || o->ctx != &core_link)
		opts.suspend = suspend_hook;
	opts.ctx = e;
	stack_up(&e->st, NULL, 0);
	/* The driver part registers with the bus, as an embedder does at start. */
	ck_assert_int_eq(bu_winusb_drv_create(e->st.bus, &opts, &e->drv), 0);
	if (bind)
		ck_assert_int_eq(bu_winusb_drv_bind_spec(e->drv, bind, strlen(bind)), 0);
	e->sd = sim_attach(e->st.sim, port_for(e->st.sim, speed, 1), m, speed);
	ck_assert_ptr_nonnull(e->sd);
	if (env_hook)
		sim_set_desc_hook(e->sd, env_hook, NULL);
	ck_assert(settle(&e->st, 5000));
	bu_winusb_drv_transport(e->drv, &tp);
	ck_assert_int_eq(bu_winusb_api_create(sim_platform(e->st.sim), &g_api), 0);
	ck_assert_int_eq(bu_winusb_api_attach(g_api, &tp), 0);
	e->file = INVALID_HANDLE_VALUE;
}

static void env_up(struct env *e, const struct sim_device_model *m, enum sim_speed speed,
		   const char *bind)
{
	env_up_opts(e, m, speed, bind, NULL);
}

/* Find the first device registered under `guid`, open it and initialise. */
static void env_open(struct env *e, const GUID *guid)
{
	ck_assert_msg(bu_winusb_find_by_guid(g_api, guid, 0, e->path, sizeof(e->path), NULL),
		      "no device interface: %lu", (unsigned long)GetLastError());
	e->file = CreateFile(e->path, GENERIC_READ | GENERIC_WRITE,
			     FILE_SHARE_READ | FILE_SHARE_WRITE, NULL, OPEN_EXISTING,
			     FILE_ATTRIBUTE_NORMAL | FILE_FLAG_OVERLAPPED, NULL);
	ck_assert_msg(e->file != INVALID_HANDLE_VALUE, "CreateFile(%s): %lu", e->path,
		      (unsigned long)GetLastError());
	ck_assert_msg(WinUsb_Initialize(e->file, &e->h), "WinUsb_Initialize: %lu",
		      (unsigned long)GetLastError());
}

static void env_down(struct env *e)
{
	if (e->h)
		ck_assert(WinUsb_Free(e->h));
	if (e->file != INVALID_HANDLE_VALUE)
		ck_assert(CloseHandle(e->file));
	bu_winusb_api_destroy(g_api);
	g_api = NULL;
	bu_winusb_drv_destroy(e->drv);
	stack_down(&e->st);
}

/* Expect FALSE with `err` from the last call. */
#define CK_FAIL_WITH(call, err)                                                             \
	do {                                                                                \
		SetLastError(0xdeadu);                                                      \
		BOOL r_ = (call);                                                           \
		DWORD e_ = GetLastError();                                                  \
		ck_assert_msg(!r_ && e_ == (DWORD)(err), "%s: returned %d, error %lu, want %lu", \
			      #call, r_, (unsigned long)e_, (unsigned long)(err));          \
	} while (0)

#define CK_OK(call)                                                                         \
	do {                                                                                \
		BOOL r_ = (call);                                                           \
		ck_assert_msg(r_, "%s failed: %lu", #call, (unsigned long)GetLastError());  \
	} while (0)

static void fill(uint8_t *b, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		b[i] = (uint8_t)(i * 7 + seed + (i >> 8));
}

static void set_u8_policy(WINUSB_INTERFACE_HANDLE h, UCHAR pipe, ULONG type, UCHAR v)
{
	CK_OK(WinUsb_SetPipePolicy(h, pipe, type, sizeof(v), &v));
}

static ULONG write_sync(WINUSB_INTERFACE_HANDLE h, UCHAR pipe, const void *buf, ULONG len)
{
	ULONG n = 0;

	CK_OK(WinUsb_WritePipe(h, pipe, (PUCHAR)buf, len, &n, NULL));
	return n;
}

static ULONG read_sync(WINUSB_INTERFACE_HANDLE h, UCHAR pipe, void *buf, ULONG len)
{
	ULONG n = 0;

	CK_OK(WinUsb_ReadPipe(h, pipe, (PUCHAR)buf, len, &n, NULL));
	return n;
}

/* A zeroed OVERLAPPED with a fresh manual-reset event. */
static void ov_open(OVERLAPPED *ov)
{
	memset(ov, 0, sizeof(*ov));
	ov->hEvent = CreateEvent(NULL, TRUE, FALSE, NULL);
	ck_assert_ptr_nonnull(ov->hEvent);
}

static void set_timeout(WINUSB_INTERFACE_HANDLE h, UCHAR pipe, ULONG ms)
{
	CK_OK(WinUsb_SetPipePolicy(h, pipe, PIPE_TRANSFER_TIMEOUT, sizeof(ms), &ms));
}

/* ------------------------------------------------------------------------ */
/* Binding and discovery                                                    */

struct bind_case {
	const struct sim_device_model *model;
	enum sim_speed speed;
	uint16_t pid;
	UCHAR speed_code;
};

static const struct bind_case bind_cases[] = {
	{ &sim_dev_winusb, SIM_SPEED_FULL, 0xb010, LowSpeed },
	{ &sim_dev_winusb, SIM_SPEED_HIGH, 0xb010, HighSpeed },
	{ &sim_dev_winusb, SIM_SPEED_SUPER, 0xb010, HighSpeed },
	{ &sim_dev_winusb_os1, SIM_SPEED_FULL, 0xb011, LowSpeed },
	{ &sim_dev_winusb_os1, SIM_SPEED_HIGH, 0xb011, HighSpeed },
};

START_TEST(test_bind_compat_id)
{
	const struct bind_case *bc = &bind_cases[_i];
	struct bu_winusb_devinfo info;
	struct env e;
	char path2[BU_WINUSB_PATH_MAX];
	DWORD needed = 0;
	UCHAR speed = 0;
	ULONG len = 1;
	struct bu_usb_device *dev;

	env_up(&e, bc->model, bc->speed, NULL);
	dev = find_pid(&e.st, 0x1209, bc->pid);
	ck_assert_ptr_nonnull(dev);
	/* Bound by compatible ID, through the core's matching. */
	ck_assert_str_eq(dev->ifaces[0].compat_id, "WINUSB");
	ck_assert_ptr_eq(dev->ifaces[0].driver, bu_winusb_drv_driver(e.drv));
	ck_assert_msg(strstr(json_of(dev), "\"driver\":\"winusb\""), "%s", json_of(dev));
	/* Found by its DeviceInterfaceGUID, exactly once. */
	ck_assert(bu_winusb_find_by_guid(g_api, &sim_guid, 0, e.path, sizeof(e.path), &needed));
	ck_assert_uint_eq(needed, strlen(e.path) + 1);
	ck_assert_msg(strstr(e.path, "\\\\?\\usb#vid_1209&pid_b0") == e.path, "%s", e.path);
	ck_assert_msg(strstr(e.path, "#{6a1d3c9e-5b2f-4e8a-9c71-0d3e5f7a9b21}"), "%s", e.path);
	ck_assert_msg(!strstr(e.path, "&mi_"), "not composite: %s", e.path);
	CK_FAIL_WITH(bu_winusb_find_by_guid(g_api, &sim_guid, 1, path2, sizeof(path2), NULL),
		     ERROR_NO_MORE_ITEMS);
	CK_FAIL_WITH(bu_winusb_find_by_guid(g_api, &sim_guid, 0, path2, 10, &needed),
		     ERROR_INSUFFICIENT_BUFFER);
	ck_assert_uint_eq(needed, strlen(e.path) + 1);
	CK_FAIL_WITH(bu_winusb_find_by_guid(g_api, &bind_guid, 0, path2, sizeof(path2), NULL),
		     ERROR_NO_MORE_ITEMS);
	CK_OK(bu_winusb_find_by_vidpid(g_api, 0x1209, bc->pid, 0, path2, sizeof(path2), NULL));
	ck_assert_str_eq(path2, e.path);
	CK_OK(bu_winusb_device_info(g_api, e.path, &info));
	ck_assert_str_eq(info.compat_id, "WINUSB");
	ck_assert_uint_eq(info.num_guids, 1);
	ck_assert_str_eq(info.guids[0], SIM_WINUSB_GUID);
	ck_assert(!info.composite);
	ck_assert_uint_eq(info.num_ifaces, 1);
	env_open(&e, &sim_guid);
	CK_OK(WinUsb_QueryDeviceInformation(e.h, DEVICE_SPEED, &len, &speed));
	ck_assert_uint_eq(len, 1);
	ck_assert_uint_eq(speed, bc->speed_code);
	/* WinUSB is single-client. */
	ck_assert(CreateFile(e.path, GENERIC_READ, 0, NULL, OPEN_EXISTING, FILE_FLAG_OVERLAPPED,
			     NULL) == INVALID_HANDLE_VALUE);
	ck_assert_uint_eq(GetLastError(), ERROR_ACCESS_DENIED);
	env_down(&e);
}
END_TEST

START_TEST(test_bind_table)
{
	struct env e;
	struct bu_winusb_devinfo info;
	UCHAR inq[6 + 31] = { 0x55, 0x53, 0x42, 0x43, 1, 0, 0, 0, 36, 0, 0, 0, 0x80, 0, 6,
			      0x12, 0, 0, 0, 36, 0 };
	UCHAR data[512], csw[512];

	/* The INF analogue: VID/PID/interface with a device interface GUID. */
	env_up(&e, &sim_dev_msc, SIM_SPEED_HIGH, "1209:b020:0:" BIND_GUID);
	env_open(&e, &bind_guid);
	CK_OK(bu_winusb_device_info(g_api, e.path, &info));
	ck_assert_str_eq(info.guids[0], BIND_GUID);
	ck_assert_str_eq(info.compat_id, "");
	/* A bulk-only-transport INQUIRY through WritePipe/ReadPipe. */
	ck_assert_uint_eq(write_sync(e.h, 0x02, inq, 31), 31);
	ck_assert_uint_eq(read_sync(e.h, 0x81, data, sizeof(data)), 36);
	ck_assert_uint_eq(read_sync(e.h, 0x81, csw, sizeof(csw)), 13);
	ck_assert_mem_eq(csw, "USBS", 4);
	ck_assert_uint_eq(csw[12], 0);
	env_down(&e);
}
END_TEST

START_TEST(test_bind_spec_parsing)
{
	struct env e;
	static const char *bad[] = { "", "1209", "xyz:b010", "1209:b010:", "1209:b010:256",
				     "1209:b010:{1234}", "12090:b010", "1209:b010:1:2",
				     "1209:b010:{11223344-5566-7788-99AA-BBCCDDEEFF00}:"
				     "{11223344-5566-7788-99AA-BBCCDDEEFF00}" };

	env_up(&e, &sim_dev_winusb, SIM_SPEED_HIGH, NULL);
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(bu_winusb_drv_bind_spec(e.drv, bad[i], strlen(bad[i])) == BU_EINVAL,
			      "accepted %s", bad[i]);
	ck_assert_int_eq(bu_winusb_drv_bind_spec(e.drv, "1209:B010", 9), 0);
	ck_assert_int_eq(bu_winusb_drv_bind_spec(e.drv, "1209:b010:{" "11223344-5566-7788-99aa-bbccddeeff00}", 48), 0);
	ck_assert_int_eq(bu_winusb_drv_bind(e.drv, 1, 2, 3, "not a guid"), BU_EINVAL);
	env_down(&e);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Descriptors, settings, pipes                                             */

START_TEST(test_query)
{
	struct env e;
	USB_INTERFACE_DESCRIPTOR id;
	WINUSB_PIPE_INFORMATION pi;
	WINUSB_PIPE_INFORMATION_EX px;
	USB_DEVICE_DESCRIPTOR dd;
	UCHAR cfg[256], str[256], alt = 0xff;
	ULONG n = 0;
	static const UCHAR ids[] = { 0x01, 0x81, 0x82 };
	PUSB_INTERFACE_DESCRIPTOR pid;
	PUSB_COMMON_DESCRIPTOR pc;

	env_up(&e, &sim_dev_winusb, SIM_SPEED_HIGH, NULL);
	env_open(&e, &sim_guid);
	CK_OK(WinUsb_QueryInterfaceSettings(e.h, 0, &id));
	ck_assert_uint_eq(id.bInterfaceNumber, 0);
	ck_assert_uint_eq(id.bAlternateSetting, 0);
	ck_assert_uint_eq(id.bNumEndpoints, 3);
	ck_assert_uint_eq(id.bInterfaceClass, 0xff);
	CK_OK(WinUsb_QueryInterfaceSettings(e.h, 1, &id));
	ck_assert_uint_eq(id.bAlternateSetting, 1);
	ck_assert_uint_eq(id.bNumEndpoints, 5);
	CK_FAIL_WITH(WinUsb_QueryInterfaceSettings(e.h, 2, &id), ERROR_NO_MORE_ITEMS);
	for (UCHAR i = 0; i < 3; i++) {
		CK_OK(WinUsb_QueryPipe(e.h, 0, i, &pi));
		ck_assert_uint_eq(pi.PipeId, ids[i]);
	}
	CK_OK(WinUsb_QueryPipe(e.h, 0, 0, &pi));
	ck_assert_int_eq(pi.PipeType, UsbdPipeTypeBulk);
	ck_assert_uint_eq(pi.MaximumPacketSize, 512);
	CK_OK(WinUsb_QueryPipe(e.h, 0, 2, &pi));
	ck_assert_int_eq(pi.PipeType, UsbdPipeTypeInterrupt);
	ck_assert_uint_eq(pi.Interval, 4);
	CK_FAIL_WITH(WinUsb_QueryPipe(e.h, 0, 3, &pi), ERROR_NO_MORE_ITEMS);
	CK_OK(WinUsb_QueryPipeEx(e.h, 1, 4, &px));
	ck_assert_uint_eq(px.PipeId, 0x83);
	ck_assert_int_eq(px.PipeType, UsbdPipeTypeIsochronous);
	ck_assert_uint_eq(px.MaximumBytesPerInterval, 256);
	CK_FAIL_WITH(WinUsb_QueryPipeEx(e.h, 1, 5, &px), ERROR_NO_MORE_ITEMS);
	CK_FAIL_WITH(WinUsb_QueryPipeEx(e.h, 0, 0, NULL), ERROR_INVALID_PARAMETER);
	/* Descriptors. */
	CK_OK(WinUsb_GetDescriptor(e.h, USB_DEVICE_DESCRIPTOR_TYPE, 0, 0, (PUCHAR)&dd, sizeof(dd),
				   &n));
	ck_assert_uint_eq(n, 18);
	ck_assert_uint_eq(dd.idVendor, 0x1209);
	ck_assert_uint_eq(dd.idProduct, 0xb010);
	CK_OK(WinUsb_GetDescriptor(e.h, USB_CONFIGURATION_DESCRIPTOR_TYPE, 0, 0, cfg, 9, &n));
	ck_assert_uint_eq(n, 9);
	n = cfg[2] | cfg[3] << 8;
	CK_OK(WinUsb_GetDescriptor(e.h, USB_CONFIGURATION_DESCRIPTOR_TYPE, 0, 0, cfg, sizeof(cfg),
				   &n));
	ck_assert_uint_eq(n, (ULONG)(cfg[2] | cfg[3] << 8));
	CK_OK(WinUsb_GetDescriptor(e.h, USB_STRING_DESCRIPTOR_TYPE, 2, 0x0409, str, sizeof(str),
				   &n));
	ck_assert_uint_eq(str[1], USB_STRING_DESCRIPTOR_TYPE);
	ck_assert_uint_eq(str[2], 'S');
	/* The parse helpers over the configuration just read. */
	pid = WinUsb_ParseConfigurationDescriptor((PUSB_CONFIGURATION_DESCRIPTOR)cfg, cfg, -1, 1,
						  -1, -1, -1);
	ck_assert_ptr_nonnull(pid);
	ck_assert_uint_eq(pid->bNumEndpoints, 5);
	ck_assert_ptr_null(WinUsb_ParseConfigurationDescriptor((PUSB_CONFIGURATION_DESCRIPTOR)cfg,
								cfg, 3, -1, -1, -1, -1));
	pc = WinUsb_ParseDescriptors(cfg, n, cfg, USB_ENDPOINT_DESCRIPTOR_TYPE);
	ck_assert_ptr_nonnull(pc);
	ck_assert_uint_eq(((PUSB_ENDPOINT_DESCRIPTOR)pc)->bEndpointAddress, 0x01);
	/* Alternate settings. */
	CK_OK(WinUsb_GetCurrentAlternateSetting(e.h, &alt));
	ck_assert_uint_eq(alt, 0);
	CK_OK(WinUsb_SetCurrentAlternateSetting(e.h, 1));
	CK_OK(WinUsb_GetCurrentAlternateSetting(e.h, &alt));
	ck_assert_uint_eq(alt, 1);
	CK_FAIL_WITH(WinUsb_SetCurrentAlternateSetting(e.h, 7), ERROR_INVALID_PARAMETER);
	CK_OK(WinUsb_SetCurrentAlternateSetting(e.h, 0));
	env_down(&e);
}
END_TEST

START_TEST(test_policies)
{
	struct env e;
	ULONG v = 0, len;
	UCHAR b = 0;

	env_up(&e, &sim_dev_winusb, SIM_SPEED_HIGH, NULL);
	env_open(&e, &sim_guid);
	/* Defaults ("WinUsb_SetPipePolicy function (winusb.h)"). */
	len = sizeof(v);
	CK_OK(WinUsb_GetPipePolicy(e.h, 0x00, PIPE_TRANSFER_TIMEOUT, &len, &v));
	ck_assert_uint_eq(len, 4);
	ck_assert_uint_eq(v, 5000);
	len = sizeof(v);
	CK_OK(WinUsb_GetPipePolicy(e.h, 0x81, PIPE_TRANSFER_TIMEOUT, &len, &v));
	ck_assert_uint_eq(v, 0);
	len = 1;
	CK_OK(WinUsb_GetPipePolicy(e.h, 0x81, ALLOW_PARTIAL_READS, &len, &b));
	ck_assert_uint_eq(len, 1);
	ck_assert_uint_eq(b, 1);
	for (ULONG t = SHORT_PACKET_TERMINATE; t <= RESET_PIPE_ON_RESUME; t++) {
		if (t == ALLOW_PARTIAL_READS || t == PIPE_TRANSFER_TIMEOUT || t == MAXIMUM_TRANSFER_SIZE)
			continue;
		len = 1;
		b = 0xee;
		CK_OK(WinUsb_GetPipePolicy(e.h, 0x81, t, &len, &b));
		ck_assert_uint_eq(b, 0);
	}
	len = sizeof(v);
	CK_OK(WinUsb_GetPipePolicy(e.h, 0x81, MAXIMUM_TRANSFER_SIZE, &len, &v));
	ck_assert_uint_eq(v, 2u << 20);
	/* Set, read back, reject bad lengths and the read-only one. */
	set_u8_policy(e.h, 0x81, RAW_IO, 1);
	len = 1;
	CK_OK(WinUsb_GetPipePolicy(e.h, 0x81, RAW_IO, &len, &b));
	ck_assert_uint_eq(b, 1);
	v = 250;
	CK_OK(WinUsb_SetPipePolicy(e.h, 0x01, PIPE_TRANSFER_TIMEOUT, sizeof(v), &v));
	CK_FAIL_WITH(WinUsb_SetPipePolicy(e.h, 0x01, PIPE_TRANSFER_TIMEOUT, 1, &v),
		     ERROR_INVALID_PARAMETER);
	CK_FAIL_WITH(WinUsb_SetPipePolicy(e.h, 0x81, RAW_IO, 4, &v), ERROR_INVALID_PARAMETER);
	CK_FAIL_WITH(WinUsb_SetPipePolicy(e.h, 0x81, MAXIMUM_TRANSFER_SIZE, 4, &v),
		     ERROR_INVALID_PARAMETER);
	CK_FAIL_WITH(WinUsb_SetPipePolicy(e.h, 0x81, 0x42, 1, &b), ERROR_INVALID_PARAMETER);
	CK_FAIL_WITH(WinUsb_SetPipePolicy(e.h, 0x05, RAW_IO, 1, &b), ERROR_INVALID_PARAMETER);
	CK_FAIL_WITH(WinUsb_SetPipePolicy(e.h, 0x81, RAW_IO, 1, NULL), ERROR_INVALID_PARAMETER);
	len = 0;
	CK_FAIL_WITH(WinUsb_GetPipePolicy(e.h, 0x81, PIPE_TRANSFER_TIMEOUT, &len, &v),
		     ERROR_INSUFFICIENT_BUFFER);
	ck_assert_uint_eq(len, 4);
	/* WinUsb_Initialize resets every policy of the interface. */
	ck_assert(WinUsb_Free(e.h));
	CK_OK(WinUsb_Initialize(e.file, &e.h));
	len = 1;
	CK_OK(WinUsb_GetPipePolicy(e.h, 0x81, RAW_IO, &len, &b));
	ck_assert_uint_eq(b, 0);
	len = sizeof(v);
	CK_OK(WinUsb_GetPipePolicy(e.h, 0x01, PIPE_TRANSFER_TIMEOUT, &len, &v));
	ck_assert_uint_eq(v, 0);
	/* Power policy. */
	/* AUTO_SUSPEND defaults to DefaultIdleState, absent here: off (the rule
	 * of Microsoft's "WinUSB power management" page, the one the driver
	 * documents). */
	len = 1;
	b = 0xee;
	CK_OK(WinUsb_GetPowerPolicy(e.h, AUTO_SUSPEND, &len, &b));
	ck_assert_uint_eq(len, 1);
	ck_assert_uint_eq(b, 0);
	len = sizeof(v);
	CK_OK(WinUsb_GetPowerPolicy(e.h, SUSPEND_DELAY, &len, &v));
	ck_assert_uint_eq(v, 5000);
	v = 100;
	CK_OK(WinUsb_SetPowerPolicy(e.h, SUSPEND_DELAY, sizeof(v), &v));
	CK_FAIL_WITH(WinUsb_SetPowerPolicy(e.h, SUSPEND_DELAY, 1, &v), ERROR_INVALID_PARAMETER);
	CK_FAIL_WITH(WinUsb_SetPowerPolicy(e.h, 0x82, 1, &b), ERROR_INVALID_PARAMETER);
	env_down(&e);
}
END_TEST

/*
 * SetCurrentAlternateSetting rebuilds the pipes: a PipeID in both settings
 * keeps its policies, a new one starts with the defaults, and one that
 * went away and came back does too (winusb_pipe.c keeps them per PipeID).
 */
START_TEST(test_policies_across_alt)
{
	struct env e;
	ULONG v = 0, len;
	UCHAR b = 0;

	env_up(&e, &sim_dev_winusb, SIM_SPEED_HIGH, NULL);
	env_open(&e, &sim_guid);
	v = 1234;
	CK_OK(WinUsb_SetPipePolicy(e.h, 0x81, PIPE_TRANSFER_TIMEOUT, sizeof(v), &v));
	set_u8_policy(e.h, 0x01, SHORT_PACKET_TERMINATE, 1);
	len = 1;
	CK_FAIL_WITH(WinUsb_GetPipePolicy(e.h, 0x83, RAW_IO, &len, &b), ERROR_INVALID_PARAMETER);
	/* Alt 1: 0x01, 0x81 and 0x82 stay, 0x03 and 0x83 are new. */
	CK_OK(WinUsb_SetCurrentAlternateSetting(e.h, 1));
	len = sizeof(v);
	CK_OK(WinUsb_GetPipePolicy(e.h, 0x81, PIPE_TRANSFER_TIMEOUT, &len, &v));
	ck_assert_uint_eq(v, 1234);
	len = 1;
	CK_OK(WinUsb_GetPipePolicy(e.h, 0x01, SHORT_PACKET_TERMINATE, &len, &b));
	ck_assert_uint_eq(b, 1);
	len = sizeof(v);
	CK_OK(WinUsb_GetPipePolicy(e.h, 0x83, PIPE_TRANSFER_TIMEOUT, &len, &v));
	ck_assert_uint_eq(v, 0);
	set_u8_policy(e.h, 0x83, AUTO_CLEAR_STALL, 1);
	/* Back to alt 0 (0x83 goes) and to alt 1 again (0x83 starts afresh). */
	CK_OK(WinUsb_SetCurrentAlternateSetting(e.h, 0));
	len = 1;
	CK_FAIL_WITH(WinUsb_GetPipePolicy(e.h, 0x83, AUTO_CLEAR_STALL, &len, &b),
		     ERROR_INVALID_PARAMETER);
	CK_OK(WinUsb_SetCurrentAlternateSetting(e.h, 1));
	len = 1;
	CK_OK(WinUsb_GetPipePolicy(e.h, 0x83, AUTO_CLEAR_STALL, &len, &b));
	ck_assert_uint_eq(b, 0);
	len = sizeof(v);
	CK_OK(WinUsb_GetPipePolicy(e.h, 0x81, PIPE_TRANSFER_TIMEOUT, &len, &v));
	ck_assert_uint_eq(v, 1234);
	env_down(&e);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Bulk loopback                                                            */

static const enum sim_speed loop_speeds[] = { SIM_SPEED_FULL, SIM_SPEED_HIGH, SIM_SPEED_SUPER };

START_TEST(test_loopback_basic)
{
	struct env e;
	uint8_t out[4096], in[8192];
	ULONG mps;
	WINUSB_PIPE_INFORMATION pi;

	env_up(&e, &sim_dev_winusb, loop_speeds[_i], NULL);
	env_open(&e, &sim_guid);
	CK_OK(WinUsb_QueryPipe(e.h, 0, 1, &pi));
	mps = pi.MaximumPacketSize;
	fill(out, sizeof(out), 3);
	/* A short final packet ends the read. */
	ck_assert_uint_eq(write_sync(e.h, 0x01, out, 1000), 1000);
	ck_assert_uint_eq(read_sync(e.h, 0x81, in, sizeof(in)), 1000);
	ck_assert_mem_eq(in, out, 1000);
	/* A multiple of wMaxPacketSize needs SHORT_PACKET_TERMINATE to end it. */
	set_u8_policy(e.h, 0x01, SHORT_PACKET_TERMINATE, 1);
	ck_assert_uint_eq(write_sync(e.h, 0x01, out, 2 * mps), 2 * mps);
	ck_assert_uint_eq(read_sync(e.h, 0x81, in, sizeof(in)), 2 * mps);
	ck_assert_mem_eq(in, out, 2 * mps);
	set_u8_policy(e.h, 0x01, SHORT_PACKET_TERMINATE, 0);
	ck_assert_uint_eq(write_sync(e.h, 0x01, out, 2 * mps), 2 * mps);
	ck_assert_uint_eq(write_sync(e.h, 0x01, out + 2 * mps, 10), 10);
	ck_assert_uint_eq(read_sync(e.h, 0x81, in, sizeof(in)), 2 * mps + 10);
	ck_assert_mem_eq(in, out, 2 * mps + 10);
	/* A zero-length write is a ZLP; the read that meets it returns 0. */
	ck_assert_uint_eq(write_sync(e.h, 0x01, out, 0), 0);
	ck_assert_uint_eq(read_sync(e.h, 0x81, in, sizeof(in)), 0);
	/* A zero-length read completes at once. */
	ck_assert_uint_eq(read_sync(e.h, 0x81, in, 0), 0);
	/* Interrupt IN: 8-byte reports, sequence numbers counting up. */
	ck_assert_uint_eq(read_sync(e.h, 0x82, in, 64), 8);
	ck_assert_uint_eq(read_sync(e.h, 0x82, in + 8, 64), 8);
	ck_assert_uint_eq(in[4], 0xa5);
	ck_assert_uint_eq((uint32_t)(in[8] | in[9] << 8) - (uint32_t)(in[0] | in[1] << 8), 1);
	env_down(&e);
}
END_TEST

START_TEST(test_partial_reads)
{
	struct env e;
	uint8_t out[256], in[1024];
	ULONG got;

	env_up(&e, &sim_dev_winusb, SIM_SPEED_HIGH, NULL);
	env_open(&e, &sim_guid);
	fill(out, sizeof(out), 9);
	/* ALLOW_PARTIAL_READS on, AUTO_FLUSH off: the excess comes next time. */
	write_sync(e.h, 0x01, out, 100);
	ck_assert_uint_eq(read_sync(e.h, 0x81, in, 10), 10);
	ck_assert_mem_eq(in, out, 10);
	ck_assert_uint_eq(read_sync(e.h, 0x81, in, 50), 50);
	ck_assert_mem_eq(in, out + 10, 50);
	/* What is left ended a short transfer: the read takes just that. */
	ck_assert_uint_eq(read_sync(e.h, 0x81, in, 512), 40);
	ck_assert_mem_eq(in, out + 60, 40);
	/* FlushPipe drops kept bytes. */
	write_sync(e.h, 0x01, out, 100);
	ck_assert_uint_eq(read_sync(e.h, 0x81, in, 10), 10);
	CK_OK(WinUsb_FlushPipe(e.h, 0x81));
	write_sync(e.h, 0x01, out + 100, 7);
	ck_assert_uint_eq(read_sync(e.h, 0x81, in, 512), 7);
	ck_assert_mem_eq(in, out + 100, 7);
	/* AUTO_FLUSH on: the excess is dropped. */
	set_u8_policy(e.h, 0x81, AUTO_FLUSH, 1);
	write_sync(e.h, 0x01, out, 100);
	ck_assert_uint_eq(read_sync(e.h, 0x81, in, 10), 10);
	write_sync(e.h, 0x01, out + 100, 5);
	ck_assert_uint_eq(read_sync(e.h, 0x81, in, 512), 5);
	ck_assert_mem_eq(in, out + 100, 5);
	/* ALLOW_PARTIAL_READS off: a read the device overfills fails. */
	set_u8_policy(e.h, 0x81, ALLOW_PARTIAL_READS, 0);
	write_sync(e.h, 0x01, out, 100);
	CK_FAIL_WITH(WinUsb_ReadPipe(e.h, 0x81, in, 10, &got, NULL), ERROR_GEN_FAILURE);
	/* Not a multiple of wMaxPacketSize but nothing in excess: fine. */
	write_sync(e.h, 0x01, out, 10);
	ck_assert_uint_eq(read_sync(e.h, 0x81, in, 10), 10);
	env_down(&e);
}
END_TEST

START_TEST(test_ignore_short_and_raw)
{
	struct env e;
	uint8_t out[2048], in[4096];
	OVERLAPPED ov[4];
	HANDLE ev[4];
	DWORD n;

	env_up(&e, &sim_dev_winusb, SIM_SPEED_HIGH, NULL);
	env_open(&e, &sim_guid);
	fill(out, sizeof(out), 1);
	/* IGNORE_SHORT_PACKETS: the read spans short packets until it is full. */
	set_u8_policy(e.h, 0x81, IGNORE_SHORT_PACKETS, 1);
	write_sync(e.h, 0x01, out, 100);
	write_sync(e.h, 0x01, out + 100, 200);
	ck_assert_uint_eq(read_sync(e.h, 0x81, in, 300), 300);
	ck_assert_mem_eq(in, out, 300);
	set_u8_policy(e.h, 0x81, IGNORE_SHORT_PACKETS, 0);
	/* RAW_IO: lengths must be multiples of wMaxPacketSize. */
	set_u8_policy(e.h, 0x81, RAW_IO, 1);
	CK_FAIL_WITH(WinUsb_ReadPipe(e.h, 0x81, in, 10, &n, NULL), ERROR_INVALID_PARAMETER);
	CK_FAIL_WITH(WinUsb_ReadPipe(e.h, 0x81, in, (3u << 20), &n, NULL),
		     ERROR_INVALID_PARAMETER);
	/* Several raw reads queued at once complete in order, one message each. */
	for (int i = 0; i < 4; i++) {
		memset(&ov[i], 0, sizeof(ov[i]));
		ev[i] = CreateEvent(NULL, TRUE, FALSE, NULL);
		ck_assert_ptr_nonnull(ev[i]);
		ov[i].hEvent = ev[i];
		CK_FAIL_WITH(WinUsb_ReadPipe(e.h, 0x81, in + 1024 * i, 1024, NULL, &ov[i]),
			     ERROR_IO_PENDING);
	}
	CK_FAIL_WITH(WinUsb_GetOverlappedResult(e.h, &ov[0], &n, FALSE), ERROR_IO_INCOMPLETE);
	for (int i = 0; i < 4; i++)
		write_sync(e.h, 0x01, out + 100 * i, 10 + i);
	for (int i = 0; i < 4; i++) {
		ck_assert_uint_eq(WaitForSingleObject(ev[i], 1000), WAIT_OBJECT_0);
		CK_OK(WinUsb_GetOverlappedResult(e.h, &ov[i], &n, TRUE));
		ck_assert_uint_eq(n, 10 + i);
		ck_assert_mem_eq(in + 1024 * i, out + 100 * i, 10 + i);
		ck_assert(HasOverlappedIoCompleted(&ov[i]));
		CloseHandle(ev[i]);
	}
	env_down(&e);
}
END_TEST

/*
 * Bulk loopback under every combination of SHORT_PACKET_TERMINATE (OUT) x
 * IGNORE_SHORT_PACKETS x ALLOW_PARTIAL_READS x AUTO_FLUSH x RAW_IO (IN),
 * for a few write/read shapes. The expected outcome comes from
 * matrix_expect(), a walk over the packets on the wire written from
 * Microsoft's "WinUSB functions for pipe policy modification" alone (not
 * from winusb_policy.c).
 */
struct pol_combo {
	bool spt, isp, apr, af, raw;
};

struct matrix_shape {
	ULONG write, read;
};

static const struct matrix_shape matrix_shapes[] = {
	{ 1024, 2048 }, /* an exact multiple of wMaxPacketSize (512) */
	{ 100, 512 },   /* one short packet */
	{ 700, 512 },   /* more than the read buffer */
	{ 100, 50 },    /* a buffer below one packet: RAW_IO refuses it */
};

struct matrix_expect {
	DWORD err;  /* first read's error (0: success) */
	ULONG n;    /* its bytes (the head of the write) */
	ULONG rest; /* the written bytes from here on are still to come */
};

static struct matrix_expect matrix_expect(const struct pol_combo *c, ULONG w, ULONG r,
					  ULONG mps)
{
	struct matrix_expect x = { 0, 0, 0 };
	bool zlp = c->spt && w % mps == 0; /* SHORT_PACKET_TERMINATE */
	ULONG pos = 0;

	/* RAW_IO: a multiple of wMaxPacketSize or the read fails. */
	if (c->raw && (r == 0 || r % mps)) {
		x.err = ERROR_INVALID_PARAMETER;
		return x;
	}
	for (;;) {
		ULONG len;

		if (pos == w && !zlp) {
			/* Nothing more comes: the read waits for its timeout. */
			x.err = ERROR_SEM_TIMEOUT;
			x.rest = w;
			return x;
		}
		len = w - pos < mps ? w - pos : mps;
		if (pos == w)
			zlp = false;
		pos += len;
		if (x.n + len > r) {
			/* The read was rounded up: the packet overfills it. */
			ULONG excess = x.n + len - r;

			x.n = r;
			if (!c->apr) {
				x.err = ERROR_GEN_FAILURE;
				x.rest = pos;
			} else {
				x.rest = c->af ? pos : pos - excess; /* kept for the next read */
			}
			return x;
		}
		x.n += len;
		/* Full, or a short packet (IGNORE_SHORT_PACKETS only without RAW_IO). */
		if (x.n == r || (len < mps && (c->raw || !c->isp))) {
			x.rest = pos;
			return x;
		}
	}
}

START_TEST(test_policy_matrix)
{
	struct pol_combo c = { _i & 1, (_i >> 1) & 1, (_i >> 2) & 1, (_i >> 3) & 1, (_i >> 4) & 1 };
	struct env e;
	uint8_t out[2048], in[4096], got[4096];
	const uint8_t marker[7] = { 'm', 'a', 'r', 'k', 'e', 'r', '!' };

	env_up(&e, &sim_dev_winusb, SIM_SPEED_HIGH, NULL);
	env_open(&e, &sim_guid);
	set_u8_policy(e.h, 0x01, SHORT_PACKET_TERMINATE, c.spt);
	for (unsigned k = 0; k < sizeof(matrix_shapes) / sizeof(matrix_shapes[0]); k++) {
		const struct matrix_shape *sh = &matrix_shapes[k];
		struct matrix_expect x = matrix_expect(&c, sh->write, sh->read, 512);
		ULONG n = 0, total = 0, want;
		BOOL ok;

		fill(out, sh->write, 50 + k);
		set_u8_policy(e.h, 0x81, IGNORE_SHORT_PACKETS, c.isp);
		set_u8_policy(e.h, 0x81, ALLOW_PARTIAL_READS, c.apr);
		set_u8_policy(e.h, 0x81, AUTO_FLUSH, c.af);
		set_u8_policy(e.h, 0x81, RAW_IO, c.raw);
		set_timeout(e.h, 0x81, 30);
		ck_assert_uint_eq(write_sync(e.h, 0x01, out, sh->write), sh->write);
		SetLastError(0);
		ok = WinUsb_ReadPipe(e.h, 0x81, in, sh->read, &n, NULL);
		ck_assert_msg(ok == !x.err && (ok || GetLastError() == x.err),
			      "combo %d shape %u: returned %d error %lu, want error %lu", _i, k, ok,
			      (unsigned long)GetLastError(), (unsigned long)x.err);
		if (ok) {
			ck_assert_msg(n == x.n, "combo %d shape %u: %lu bytes, want %lu", _i, k,
				      (unsigned long)n, (unsigned long)x.n);
			ck_assert_mem_eq(in, out, n);
		}
		/* Drain with plain reads: what is left of the write, then the marker. */
		set_u8_policy(e.h, 0x81, IGNORE_SHORT_PACKETS, 0);
		set_u8_policy(e.h, 0x81, RAW_IO, 0);
		write_sync(e.h, 0x01, marker, sizeof(marker));
		want = sh->write - x.rest + (ULONG)sizeof(marker);
		for (int tries = 0; total < want && tries < 4; tries++)
			total += read_sync(e.h, 0x81, got + total, (ULONG)sizeof(got) - total);
		ck_assert_msg(total == want, "combo %d shape %u: %lu bytes left, want %lu", _i, k,
			      (unsigned long)total, (unsigned long)want);
		ck_assert_mem_eq(got, out + x.rest, sh->write - x.rest);
		ck_assert_mem_eq(got + sh->write - x.rest, marker, sizeof(marker));
	}
	env_down(&e);
}
END_TEST

START_TEST(test_large_split)
{
	/* 1 MiB each way, split at a 64 KiB MAXIMUM_TRANSFER_SIZE with four
	 * transfers in flight; the read is queued before the write. */
	struct bu_winusb_drv_options o = { .max_transfer_size = 64 << 10, .depth = 4 };
	size_t len = 1u << 20;
	uint8_t *out = malloc(len), *in = malloc(len + 512);
	OVERLAPPED ov;
	DWORD n = 0;
	ULONG w = 0, max = 0, vl = 4;
	struct env e;

	env_up_opts(&e, &sim_dev_winusb, loop_speeds[_i], NULL, &o);
	env_open(&e, &sim_guid);
	CK_OK(WinUsb_GetPipePolicy(e.h, 0x01, MAXIMUM_TRANSFER_SIZE, &vl, &max));
	ck_assert_uint_eq(max, loop_speeds[_i] == SIM_SPEED_FULL ? 64u << 10 : 64u << 10);
	fill(out, len, 77);
	set_u8_policy(e.h, 0x01, SHORT_PACKET_TERMINATE, 1);
	memset(&ov, 0, sizeof(ov));
	ov.hEvent = CreateEvent(NULL, TRUE, FALSE, NULL);
	CK_FAIL_WITH(WinUsb_ReadPipe(e.h, 0x81, in, (ULONG)len + 512, NULL, &ov), ERROR_IO_PENDING);
	CK_OK(WinUsb_WritePipe(e.h, 0x01, out, (ULONG)len, &w, NULL));
	ck_assert_uint_eq(w, len);
	CK_OK(WinUsb_GetOverlappedResult(e.h, &ov, &n, TRUE));
	ck_assert_uint_eq(n, len);
	ck_assert(memcmp(in, out, len) == 0);
	CloseHandle(ov.hEvent);
	env_down(&e);
	free(out);
	free(in);
}
END_TEST

START_TEST(test_overlapped_queue)
{
	struct env e;
	uint8_t out[8][600], in[8][1024];
	OVERLAPPED wo[8], ro[8];
	DWORD n;

	env_up(&e, &sim_dev_winusb, SIM_SPEED_HIGH, NULL);
	env_open(&e, &sim_guid);
	for (int i = 0; i < 8; i++) {
		fill(out[i], sizeof(out[i]), (unsigned)i);
		memset(&ro[i], 0, sizeof(ro[i]));
		memset(&wo[i], 0, sizeof(wo[i]));
		ro[i].hEvent = CreateEvent(NULL, TRUE, FALSE, NULL);
		wo[i].hEvent = CreateEvent(NULL, FALSE, FALSE, NULL); /* auto-reset */
	}
	/* Eight reads, then eight writes of different lengths, all queued. */
	for (int i = 0; i < 8; i++)
		CK_FAIL_WITH(WinUsb_ReadPipe(e.h, 0x81, in[i], sizeof(in[i]), NULL, &ro[i]),
			     ERROR_IO_PENDING);
	for (int i = 0; i < 8; i++) {
		BOOL r = WinUsb_WritePipe(e.h, 0x01, out[i], 100 + 50 * (ULONG)i, NULL, &wo[i]);

		ck_assert(!r && GetLastError() == ERROR_IO_PENDING);
	}
	for (int i = 0; i < 8; i++) {
		ck_assert_uint_eq(WaitForSingleObject(wo[i].hEvent, 2000), WAIT_OBJECT_0);
		CK_OK(WinUsb_GetOverlappedResult(e.h, &wo[i], &n, FALSE));
		ck_assert_uint_eq(n, 100 + 50 * (ULONG)i);
	}
	for (int i = 0; i < 8; i++) {
		CK_OK(WinUsb_GetOverlappedResult(e.h, &ro[i], &n, TRUE));
		ck_assert_uint_eq(n, 100 + 50 * (ULONG)i);
		ck_assert_mem_eq(in[i], out[i], n);
		ck_assert_uint_eq(WaitForSingleObject(ro[i].hEvent, 0), WAIT_OBJECT_0);
		CloseHandle(ro[i].hEvent);
		CloseHandle(wo[i].hEvent);
	}
	env_down(&e);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Errors: stall, timeout, abort, unplug                                    */

START_TEST(test_stall)
{
	struct env e;
	uint8_t out[100], in[512];
	DWORD n;
	bool acs = _i == 1;

	env_up(&e, &sim_dev_winusb, SIM_SPEED_HIGH, NULL);
	env_open(&e, &sim_guid);
	fill(out, sizeof(out), 5);
	if (acs)
		set_u8_policy(e.h, 0x81, AUTO_CLEAR_STALL, 1);
	write_sync(e.h, 0x01, out, sizeof(out));
	sim_fault_ep(e.sd, 0x81, SIM_FAULT_STALL, 1, 0);
	CK_FAIL_WITH(WinUsb_ReadPipe(e.h, 0x81, in, sizeof(in), &n, NULL), ERROR_GEN_FAILURE);
	if (!acs) {
		/* The pipe stays failed until WinUsb_ResetPipe. */
		CK_FAIL_WITH(WinUsb_ReadPipe(e.h, 0x81, in, sizeof(in), &n, NULL),
			     ERROR_GEN_FAILURE);
		CK_OK(WinUsb_ResetPipe(e.h, 0x81));
	}
	ck_assert_uint_eq(read_sync(e.h, 0x81, in, sizeof(in)), sizeof(out));
	ck_assert_mem_eq(in, out, sizeof(out));
	env_down(&e);
}
END_TEST

START_TEST(test_timeout)
{
	struct env e;
	uint8_t in[512], out[5] = { 1, 2, 3, 4, 5 };
	ULONG t = 50;
	DWORD n;

	env_up(&e, &sim_dev_winusb, SIM_SPEED_HIGH, NULL);
	env_open(&e, &sim_guid);
	CK_OK(WinUsb_SetPipePolicy(e.h, 0x81, PIPE_TRANSFER_TIMEOUT, sizeof(t), &t));
	CK_FAIL_WITH(WinUsb_ReadPipe(e.h, 0x81, in, sizeof(in), &n, NULL), ERROR_SEM_TIMEOUT);
	ck_assert_uint_eq(n, 0);
	/* The pipe works afterwards. */
	write_sync(e.h, 0x01, out, sizeof(out));
	ck_assert_uint_eq(read_sync(e.h, 0x81, in, sizeof(in)), 5);
	ck_assert_mem_eq(in, out, 5);
	/* The wait cap bounds an INFINITE wait on a pipe without a timeout. */
	t = 0;
	CK_OK(WinUsb_SetPipePolicy(e.h, 0x81, PIPE_TRANSFER_TIMEOUT, sizeof(t), &t));
	bu_winusb_api_set_wait_cap(g_api, 30);
	CK_FAIL_WITH(WinUsb_ReadPipe(e.h, 0x81, in, sizeof(in), &n, NULL), ERROR_SEM_TIMEOUT);
	bu_winusb_api_set_wait_cap(g_api, 0);
	env_down(&e);
}
END_TEST

/*
 * Defect: isochronous requests had no packet cap, and the per-packet array
 * size was an unchecked multiplication (it wraps where size_t is 32 bits).
 * Now one request carries at most 1024 packets at high speed (255 at full
 * speed) and a bigger one is refused; smaller ones still work.
 */
START_TEST(test_isoch_packet_cap)
{
	struct env e;
	WINUSB_ISOCH_BUFFER_HANDLE ob, ib;
	size_t len = 1025u * 256u;
	uint8_t *obuf = calloc(1, len), *ibuf = calloc(1, len);
	USBD_ISO_PACKET_DESCRIPTOR *pk = calloc(1025, sizeof(*pk));
	OVERLAPPED ov;
	DWORD n;

	env_up(&e, &sim_dev_winusb, SIM_SPEED_HIGH, NULL);
	env_open(&e, &sim_guid);
	CK_OK(WinUsb_SetCurrentAlternateSetting(e.h, 1));
	CK_OK(WinUsb_RegisterIsochBuffer(e.h, 0x03, obuf, (ULONG)len, &ob));
	CK_OK(WinUsb_RegisterIsochBuffer(e.h, 0x83, ibuf, (ULONG)len, &ib));
	CK_FAIL_WITH(WinUsb_WriteIsochPipeAsap(ob, 0, (ULONG)len, FALSE, NULL),
		     ERROR_INVALID_PARAMETER);
	CK_FAIL_WITH(WinUsb_ReadIsochPipeAsap(ib, 0, (ULONG)len, FALSE, 1025, pk, NULL),
		     ERROR_INVALID_PARAMETER);
	CK_FAIL_WITH(WinUsb_ReadIsochPipeAsap(ib, 0, (ULONG)len, FALSE, 0x40000000u, pk, NULL),
		     ERROR_INVALID_PARAMETER);
	memset(&ov, 0, sizeof(ov));
	ov.hEvent = CreateEvent(NULL, TRUE, FALSE, NULL);
	CK_FAIL_WITH(WinUsb_WriteIsochPipeAsap(ob, 0, 16u * 256u, FALSE, &ov), ERROR_IO_PENDING);
	CK_OK(WinUsb_GetOverlappedResult(e.h, &ov, &n, TRUE));
	ck_assert_uint_eq(sim_winusb_iso_out_bytes(e.sd), 16u * 256u);
	CloseHandle(ov.hEvent);
	CK_OK(WinUsb_UnregisterIsochBuffer(ob));
	CK_OK(WinUsb_UnregisterIsochBuffer(ib));
	env_down(&e);
	free(obuf);
	free(ibuf);
	free(pk);
}
END_TEST

/* The device's configuration says wTotalLength 65535 and sends its real bytes. */
static bool total_65535(void *ctx, struct sim_device *dev, uint8_t type, uint8_t index,
			uint8_t *buf, uint16_t *len, uint16_t cap)
{
	(void)ctx;
	(void)dev;
	(void)index;
	(void)cap;
	if (type == USB_DT_CONFIG && *len >= 9)
		buf[2] = buf[3] = 0xff;
	return true;
}

/*
 * Defect: the core clamped the length it parsed but kept the raw bytes, so
 * WinUsb_GetDescriptor handed out a configuration whose wTotalLength said
 * 65535 and WinUsb_ParseConfigurationDescriptor walked past the caller's
 * buffer (ASan: heap-buffer-overflow). The stored copy now describes what
 * arrived.
 */
START_TEST(test_config_total_length_lie)
{
	struct env e;
	uint8_t big[4096], *cfg;
	ULONG n = 0;

	env_hook = total_65535;
	env_up(&e, &sim_dev_winusb, SIM_SPEED_HIGH, NULL);
	env_hook = NULL;
	env_open(&e, &sim_guid);
	CK_OK(WinUsb_GetDescriptor(e.h, USB_CONFIGURATION_DESCRIPTOR_TYPE, 0, 0, big, sizeof(big),
				   &n));
	ck_assert_uint_gt(n, 9);
	ck_assert_uint_lt(n, sizeof(big));
	/* An application walks the copy it was given, in a block of its size. */
	cfg = malloc(n);
	memcpy(cfg, big, n);
	ck_assert_ptr_nonnull(WinUsb_ParseConfigurationDescriptor(
		(PUSB_CONFIGURATION_DESCRIPTOR)cfg, cfg, 0, 0, -1, -1, -1));
	ck_assert_ptr_null(WinUsb_ParseConfigurationDescriptor(
		(PUSB_CONFIGURATION_DESCRIPTOR)cfg, cfg, 7, 9, -1, -1, -1));
	free(cfg);
	ck_assert_uint_eq(big[2] | big[3] << 8, n);
	env_down(&e);
}
END_TEST

/*
 * The wait cap of a synchronous call that is not a pipe read or write.
 * Defect: ControlTransfer and the isochronous calls returned FALSE /
 * ERROR_SEM_TIMEOUT with their request still queued, and the late answer
 * was written into memory the caller had freed (ASan: heap-use-after-free
 * in the sim's DMA for the control data, in the driver for the isoch
 * packet descriptors). Now the request is cancelled and waited for.
 */
START_TEST(test_wait_cap_cancels_every_kind)
{
	struct env e;
	WINUSB_SETUP_PACKET setup = { 0x80, USB_REQ_GET_DESCRIPTOR, USB_DT_DEVICE << 8, 0, 18 };
	WINUSB_ISOCH_BUFFER_HANDLE ib;
	USBD_ISO_PACKET_DESCRIPTOR *pk;
	uint8_t *buf, *ibuf = calloc(1, 8192);
	ULONG frame = 0;
	LARGE_INTEGER ts;
	DWORD n = 1;

	env_up(&e, &sim_dev_winusb, SIM_SPEED_HIGH, NULL);
	env_open(&e, &sim_guid);
	bu_winusb_api_set_wait_cap(g_api, 30);
	/* Isochronous: a read 200 frames ahead outlasts the 30 ms cap. */
	CK_OK(WinUsb_SetCurrentAlternateSetting(e.h, 1));
	CK_OK(WinUsb_RegisterIsochBuffer(e.h, 0x83, ibuf, 8192, &ib));
	CK_OK(WinUsb_GetCurrentFrameNumber(e.h, &frame, &ts));
	frame += 200;
	pk = malloc(8 * sizeof(*pk));
	CK_FAIL_WITH(WinUsb_ReadIsochPipe(ib, 0, 2048, &frame, 8, pk, NULL), ERROR_SEM_TIMEOUT);
	free(pk);
	run_ms(&e.st, 300);
	CK_OK(WinUsb_UnregisterIsochBuffer(ib));
	/* Control (on the same alternate setting): the device NAKs the data stage until the fault is cleared. */
	sim_fault_request(e.sd, 0x80, USB_REQ_GET_DESCRIPTOR, USB_DT_DEVICE << 8, SIM_FAULT_NAK, 0);
	buf = malloc(18);
	CK_FAIL_WITH(WinUsb_ControlTransfer(e.h, setup, buf, 18, &n, NULL), ERROR_SEM_TIMEOUT);
	free(buf);
	sim_fault_clear(e.sd);
	run_ms(&e.st, 50);
	buf = malloc(18);
	CK_OK(WinUsb_ControlTransfer(e.h, setup, buf, 18, &n, NULL));
	ck_assert_uint_eq(n, 18);
	free(buf);
	bu_winusb_api_set_wait_cap(g_api, 0);
	env_down(&e);
	free(ibuf);
}
END_TEST

START_TEST(test_abort_queued)
{
	struct env e;
	uint8_t in[4][512], out[8] = { 9, 8, 7, 6, 5, 4, 3, 2 };
	OVERLAPPED ov[4];
	DWORD n;

	env_up(&e, &sim_dev_winusb, SIM_SPEED_HIGH, NULL);
	env_open(&e, &sim_guid);
	for (int i = 0; i < 4; i++) {
		memset(&ov[i], 0, sizeof(ov[i]));
		ov[i].hEvent = CreateEvent(NULL, TRUE, FALSE, NULL);
		CK_FAIL_WITH(WinUsb_ReadPipe(e.h, 0x81, in[i], 512, NULL, &ov[i]), ERROR_IO_PENDING);
	}
	Sleep(5);
	CK_OK(WinUsb_AbortPipe(e.h, 0x81));
	/* AbortPipe is synchronous: everything came back, as aborted. */
	for (int i = 0; i < 4; i++) {
		ck_assert(HasOverlappedIoCompleted(&ov[i]));
		ck_assert_uint_eq(WaitForSingleObject(ov[i].hEvent, 0), WAIT_OBJECT_0);
		CK_FAIL_WITH(WinUsb_GetOverlappedResult(e.h, &ov[i], &n, FALSE),
			     ERROR_OPERATION_ABORTED);
		ck_assert_uint_eq(n, 0);
		CloseHandle(ov[i].hEvent);
	}
	/* The pipe still works. */
	write_sync(e.h, 0x01, out, sizeof(out));
	ck_assert_uint_eq(read_sync(e.h, 0x81, in[0], 512), sizeof(out));
	env_down(&e);
}
END_TEST

/* Expect a completed overlapped request to have failed with `err`; its count. */
static DWORD ov_failed(struct env *e, OVERLAPPED *ov, DWORD err)
{
	DWORD n = 0xdead;

	ck_assert(HasOverlappedIoCompleted(ov));
	ck_assert_uint_eq(WaitForSingleObject(ov->hEvent, 0), WAIT_OBJECT_0);
	CK_FAIL_WITH(WinUsb_GetOverlappedResult(e->h, ov, &n, FALSE), err);
	CloseHandle(ov->hEvent);
	return n;
}

/*
 * AbortPipe on queued writes ("WinUsb_AbortPipe function (winusb.h)"):
 * every one completes with ERROR_OPERATION_ABORTED; the ones behind the
 * first moved nothing; the device holds the head of the first write and
 * nothing else, and the pipe works afterwards.
 */
START_TEST(test_abort_writes)
{
	struct env e;
	const ULONG big = 300u << 10, lens[3] = { big, 1000, 10 };
	uint8_t *out = malloc(big), *in = malloc(big);
	uint8_t msg[33];
	OVERLAPPED ov[3];
	uint64_t took;

	env_up(&e, &sim_dev_winusb, SIM_SPEED_HIGH, NULL);
	env_open(&e, &sim_guid);
	fill(out, big, 21);
	fill(msg, sizeof(msg), 22);
	for (int i = 0; i < 3; i++) {
		ov_open(&ov[i]);
		CK_FAIL_WITH(WinUsb_WritePipe(e.h, 0x01, out, lens[i], NULL, &ov[i]),
			     ERROR_IO_PENDING);
	}
	Sleep(50); /* the loop buffer (256 KiB) fills; the device NAKs */
	for (int i = 0; i < 3; i++)
		ck_assert(!HasOverlappedIoCompleted(&ov[i]));
	took = sim_winusb_bulk_out_bytes(e.sd);
	ck_assert_uint_gt(took, 0);
	ck_assert_uint_lt(took, big);
	CK_OK(WinUsb_AbortPipe(e.h, 0x01));
	/* The aborted write reports what it moved (the Stopped event's
	 * length, passed on by the xHCI driver). */
	ck_assert_uint_eq(ov_failed(&e, &ov[0], ERROR_OPERATION_ABORTED), took);
	ck_assert_uint_eq(ov_failed(&e, &ov[1], ERROR_OPERATION_ABORTED), 0);
	ck_assert_uint_eq(ov_failed(&e, &ov[2], ERROR_OPERATION_ABORTED), 0);
	ck_assert_uint_eq(sim_winusb_bulk_out_bytes(e.sd), took);
	/* What the device took is the head of the first write, nothing more. */
	ck_assert_uint_eq(read_sync(e.h, 0x81, in, (ULONG)took), took);
	ck_assert(memcmp(in, out, took) == 0);
	ck_assert_uint_eq(write_sync(e.h, 0x01, msg, sizeof(msg)), sizeof(msg));
	ck_assert_uint_eq(read_sync(e.h, 0x81, in, 512), sizeof(msg));
	ck_assert_mem_eq(in, msg, sizeof(msg));
	env_down(&e);
	free(out);
	free(in);
}
END_TEST

/*
 * FlushPipe ("WinUsb_FlushPipe function (winusb.h)"; ALLOW_PARTIAL_READS
 * and AUTO_FLUSH in "WinUSB functions for pipe policy modification") drops
 * only the bytes ALLOW_PARTIAL_READS kept: not data still on the device,
 * not queued reads (they stay pending and then complete in order), and
 * with AUTO_FLUSH nothing is kept to drop.
 */
START_TEST(test_flush)
{
	struct env e;
	uint8_t out[1024], in[3][1024];
	OVERLAPPED ov[3];
	DWORD n;

	env_up(&e, &sim_dev_winusb, SIM_SPEED_HIGH, NULL);
	env_open(&e, &sim_guid);
	fill(out, sizeof(out), 31);
	/* A 10-byte read of two full packets keeps 502 bytes; the flush drops
	 * them but not the second packet, still on the device. */
	set_u8_policy(e.h, 0x01, SHORT_PACKET_TERMINATE, 1);
	write_sync(e.h, 0x01, out, 1024);
	ck_assert_uint_eq(read_sync(e.h, 0x81, in[0], 10), 10);
	ck_assert_mem_eq(in[0], out, 10);
	CK_OK(WinUsb_FlushPipe(e.h, 0x81));
	ck_assert_uint_eq(read_sync(e.h, 0x81, in[0], 1024), 512);
	ck_assert_mem_eq(in[0], out + 512, 512);
	/* Reads queued (one on the bus) survive a flush and complete in order. */
	for (int i = 0; i < 3; i++) {
		ov_open(&ov[i]);
		CK_FAIL_WITH(WinUsb_ReadPipe(e.h, 0x81, in[i], 1024, NULL, &ov[i]),
			     ERROR_IO_PENDING);
	}
	CK_OK(WinUsb_FlushPipe(e.h, 0x81));
	for (int i = 0; i < 3; i++)
		CK_FAIL_WITH(WinUsb_GetOverlappedResult(e.h, &ov[i], &n, FALSE),
			     ERROR_IO_INCOMPLETE);
	for (int i = 0; i < 3; i++)
		write_sync(e.h, 0x01, out + 100 * i, 20 + (ULONG)i);
	for (int i = 0; i < 3; i++) {
		CK_OK(WinUsb_GetOverlappedResult(e.h, &ov[i], &n, TRUE));
		ck_assert_uint_eq(n, 20 + i);
		ck_assert_mem_eq(in[i], out + 100 * i, n);
		CloseHandle(ov[i].hEvent);
	}
	/* AUTO_FLUSH: the excess is gone at once, FlushPipe has nothing to
	 * drop, the next message arrives whole. */
	set_u8_policy(e.h, 0x81, AUTO_FLUSH, 1);
	write_sync(e.h, 0x01, out, 100);
	ck_assert_uint_eq(read_sync(e.h, 0x81, in[0], 10), 10);
	write_sync(e.h, 0x01, out + 200, 30);
	CK_OK(WinUsb_FlushPipe(e.h, 0x81));
	ck_assert_uint_eq(read_sync(e.h, 0x81, in[0], 512), 30);
	ck_assert_mem_eq(in[0], out + 200, 30);
	env_down(&e);
}
END_TEST

/*
 * PIPE_TRANSFER_TIMEOUT on writes to a device that NAKs forever ("WinUSB
 * functions for pipe policy modification"): ERROR_SEM_TIMEOUT; the timer
 * of a request queued behind another starts only when it reaches the bus,
 * so it outlives the first one's deadline; the pipe works afterwards. With RAW_IO (reads), requests go
 * down at once and their timers run together.
 */
START_TEST(test_timeout_write)
{
	struct env e;
	uint8_t out[700], in[1024];
	OVERLAPPED a, b;
	ULONG n = 0;
	DWORD got;

	env_up(&e, &sim_dev_winusb, SIM_SPEED_HIGH, NULL);
	env_open(&e, &sim_guid);
	fill(out, sizeof(out), 41);
	set_timeout(e.h, 0x01, 100);
	sim_fault_ep(e.sd, 0x01, SIM_FAULT_NAK, 0, 0);
	CK_FAIL_WITH(WinUsb_WritePipe(e.h, 0x01, out, 100, &n, NULL), ERROR_SEM_TIMEOUT);
	ck_assert_uint_eq(n, 0);
	ck_assert_uint_eq(sim_winusb_bulk_out_bytes(e.sd), 0);
	/* Two queued writes: the second's 100 ms start when the first ends. */
	ov_open(&a);
	ov_open(&b);
	CK_FAIL_WITH(WinUsb_WritePipe(e.h, 0x01, out, 300, NULL, &a), ERROR_IO_PENDING);
	CK_FAIL_WITH(WinUsb_WritePipe(e.h, 0x01, out + 300, 400, NULL, &b), ERROR_IO_PENDING);
	CK_FAIL_WITH(WinUsb_GetOverlappedResult(e.h, &a, &got, TRUE), ERROR_SEM_TIMEOUT);
	ck_assert_uint_eq(got, 0);
	Sleep(60); /* 160 ms after b was queued, 60 after it reached the bus */
	CK_FAIL_WITH(WinUsb_GetOverlappedResult(e.h, &b, &got, FALSE), ERROR_IO_INCOMPLETE);
	sim_fault_clear(e.sd);
	CK_OK(WinUsb_GetOverlappedResult(e.h, &b, &got, TRUE));
	ck_assert_uint_eq(got, 400);
	CloseHandle(a.hEvent);
	CloseHandle(b.hEvent);
	/* Only b's bytes reached the device; the pipe works. */
	ck_assert_uint_eq(read_sync(e.h, 0x81, in, sizeof(in)), 400);
	ck_assert_mem_eq(in, out + 300, 400);
	ck_assert_uint_eq(write_sync(e.h, 0x01, out, 5), 5);
	ck_assert_uint_eq(read_sync(e.h, 0x81, in, sizeof(in)), 5);
	/* RAW_IO reads: both on the bus, both time out by the first deadline. */
	set_u8_policy(e.h, 0x81, RAW_IO, 1);
	set_timeout(e.h, 0x81, 100);
	ov_open(&a);
	ov_open(&b);
	CK_FAIL_WITH(WinUsb_ReadPipe(e.h, 0x81, in, 512, NULL, &a), ERROR_IO_PENDING);
	CK_FAIL_WITH(WinUsb_ReadPipe(e.h, 0x81, in + 512, 512, NULL, &b), ERROR_IO_PENDING);
	CK_FAIL_WITH(WinUsb_GetOverlappedResult(e.h, &a, &got, TRUE), ERROR_SEM_TIMEOUT);
	Sleep(10);
	ck_assert(HasOverlappedIoCompleted(&b));
	CK_FAIL_WITH(WinUsb_GetOverlappedResult(e.h, &b, &got, FALSE), ERROR_SEM_TIMEOUT);
	CloseHandle(a.hEvent);
	CloseHandle(b.hEvent);
	ck_assert_uint_eq(write_sync(e.h, 0x01, out, 7), 7);
	ck_assert_uint_eq(read_sync(e.h, 0x81, in, 512), 7);
	ck_assert_mem_eq(in, out, 7);
	env_down(&e);
}
END_TEST

START_TEST(test_unplug)
{
	struct env e;
	uint8_t in[512];
	OVERLAPPED ov;
	DWORD n;

	env_up(&e, &sim_dev_winusb, SIM_SPEED_HIGH, NULL);
	env_open(&e, &sim_guid);
	memset(&ov, 0, sizeof(ov));
	ov.hEvent = CreateEvent(NULL, TRUE, FALSE, NULL);
	CK_FAIL_WITH(WinUsb_ReadPipe(e.h, 0x81, in, 512, NULL, &ov), ERROR_IO_PENDING);
	sim_detach(e.sd);
	run_ms(&e.st, 50);
	CK_FAIL_WITH(WinUsb_GetOverlappedResult(e.h, &ov, &n, TRUE), ERROR_DEVICE_NOT_CONNECTED);
	CK_FAIL_WITH(WinUsb_ReadPipe(e.h, 0x81, in, 512, &n, NULL), ERROR_DEVICE_NOT_CONNECTED);
	CK_FAIL_WITH(bu_winusb_find_by_guid(g_api, &sim_guid, 0, e.path, sizeof(e.path), NULL),
		     ERROR_NO_MORE_ITEMS);
	CloseHandle(ov.hEvent);
	env_down(&e);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Control, isochronous, composite, power                                   */

START_TEST(test_control)
{
	struct env e;
	WINUSB_SETUP_PACKET wr = { 0x40, SIM_WINUSB_REQ_WRITE, 0, 0, 5 };
	WINUSB_SETUP_PACKET rd = { 0xc0, SIM_WINUSB_REQ_READ, 0, 0, 64 };
	WINUSB_SETUP_PACKET bad = { 0xc0, 0x77, 0, 0, 8 };
	WINUSB_SETUP_PACKET big = { 0xc0, SIM_WINUSB_REQ_READ, 0, 0, 4097 };
	UCHAR msg[5] = { 'h', 'e', 'l', 'l', 'o' }, buf[4097];
	ULONG n = 0;
	OVERLAPPED ov;
	DWORD got;

	env_up(&e, &sim_dev_winusb, SIM_SPEED_HIGH, NULL);
	env_open(&e, &sim_guid);
	CK_OK(WinUsb_ControlTransfer(e.h, wr, msg, sizeof(msg), &n, NULL));
	ck_assert_uint_eq(n, 5);
	memset(&ov, 0, sizeof(ov));
	ov.hEvent = CreateEvent(NULL, TRUE, FALSE, NULL);
	CK_FAIL_WITH(WinUsb_ControlTransfer(e.h, rd, buf, 64, NULL, &ov), ERROR_IO_PENDING);
	CK_OK(WinUsb_GetOverlappedResult(e.h, &ov, &got, TRUE));
	ck_assert_uint_eq(got, 5);
	ck_assert_mem_eq(buf, msg, 5);
	CloseHandle(ov.hEvent);
	/* A STALLed request fails with ERROR_GEN_FAILURE; EP0 recovers by itself. */
	CK_FAIL_WITH(WinUsb_ControlTransfer(e.h, bad, buf, 8, &n, NULL), ERROR_GEN_FAILURE);
	CK_OK(WinUsb_ControlTransfer(e.h, rd, buf, 64, &n, NULL));
	ck_assert_uint_eq(n, 5);
	/* 4 KiB data stage limit, buffer shorter than wLength, NULL buffer. */
	CK_FAIL_WITH(WinUsb_ControlTransfer(e.h, big, buf, sizeof(buf), &n, NULL),
		     ERROR_INVALID_PARAMETER);
	CK_FAIL_WITH(WinUsb_ControlTransfer(e.h, rd, buf, 10, &n, NULL), ERROR_INVALID_PARAMETER);
	CK_FAIL_WITH(WinUsb_ControlTransfer(e.h, rd, NULL, 64, &n, NULL), ERROR_INVALID_PARAMETER);
	env_down(&e);
}
END_TEST

START_TEST(test_isoch)
{
	struct env e;
	WINUSB_ISOCH_BUFFER_HANDLE ob, ib;
	USBD_ISO_PACKET_DESCRIPTOR pk[16];
	uint8_t *obuf = calloc(1, 8192), *ibuf = calloc(1, 8192);
	OVERLAPPED ov;
	ULONG frame = 0, next;
	LARGE_INTEGER ts;
	DWORD n;
	WINUSB_PIPE_INFORMATION_EX px;
	enum sim_speed speed = _i ? SIM_SPEED_HIGH : SIM_SPEED_FULL;

	env_up(&e, &sim_dev_winusb, speed, NULL);
	env_open(&e, &sim_guid);
	CK_OK(WinUsb_SetCurrentAlternateSetting(e.h, 1));
	CK_OK(WinUsb_QueryPipeEx(e.h, 1, 3, &px));
	ck_assert_uint_eq(px.PipeId, 0x03);
	ck_assert_uint_eq(px.MaximumBytesPerInterval, 256);
	CK_OK(WinUsb_RegisterIsochBuffer(e.h, 0x03, obuf, 8192, &ob));
	CK_OK(WinUsb_RegisterIsochBuffer(e.h, 0x83, ibuf, 8192, &ib));
	CK_FAIL_WITH(WinUsb_RegisterIsochBuffer(e.h, 0x81, ibuf, 8192, &ib), ERROR_INVALID_PARAMETER);
	/* OUT, ASAP: 10 packets of 256 bytes. */
	memset(&ov, 0, sizeof(ov));
	ov.hEvent = CreateEvent(NULL, TRUE, FALSE, NULL);
	CK_FAIL_WITH(WinUsb_WriteIsochPipeAsap(ob, 0, 2560, FALSE, &ov), ERROR_IO_PENDING);
	CK_OK(WinUsb_GetOverlappedResult(e.h, &ov, &n, TRUE));
	ck_assert_uint_eq(n, 0); /* always 0 for isochronous */
	ck_assert_uint_eq(sim_winusb_iso_out_bytes(e.sd), 2560);
	/* OUT at a frame: FrameNumber comes back as the frame after the last. */
	CK_OK(WinUsb_GetCurrentFrameNumber(e.h, &frame, &ts));
	frame += 5;
	next = frame;
	CK_OK(WinUsb_WriteIsochPipe(ob, 2560, 1024, &next, NULL));
	ck_assert_uint_eq(next, frame + (speed == SIM_SPEED_FULL ? 4 : 4));
	ck_assert_uint_eq(sim_winusb_iso_out_bytes(e.sd), 3584);
	/* A start frame in the past is refused. */
	next = frame - 100;
	CK_FAIL_WITH(WinUsb_WriteIsochPipe(ob, 0, 256, &next, NULL), ERROR_INVALID_PARAMETER);
	/* IN, ASAP: 8 packets, each byte i of packet n is (n + i) & 0xff. */
	memset(pk, 0, sizeof(pk));
	CK_FAIL_WITH(WinUsb_ReadIsochPipeAsap(ib, 0, 2048, FALSE, 8, pk, &ov), ERROR_IO_PENDING);
	CK_OK(WinUsb_GetOverlappedResult(e.h, &ov, &n, TRUE));
	ck_assert_uint_eq(n, 0);
	for (int p = 0; p < 8; p++) {
		ck_assert_int_eq(pk[p].Status, USBD_STATUS_SUCCESS);
		ck_assert_uint_eq(pk[p].Offset, 256u * (ULONG)p);
		ck_assert_uint_eq(pk[p].Length, 256);
		for (int i = 1; i < 256; i++)
			ck_assert_uint_eq(ibuf[256 * p + i], (uint8_t)(ibuf[256 * p] + i));
		if (p)
			ck_assert_uint_eq(ibuf[256 * p], (uint8_t)(ibuf[256 * (p - 1)] + 1));
	}
	/* Bad windows and handles. */
	CK_FAIL_WITH(WinUsb_ReadIsochPipeAsap(ib, 8000, 1024, FALSE, 4, pk, NULL),
		     ERROR_INVALID_PARAMETER);
	CK_FAIL_WITH(WinUsb_WriteIsochPipeAsap(ib, 0, 256, FALSE, NULL), ERROR_INVALID_PARAMETER);
	CK_FAIL_WITH(WinUsb_WriteIsochPipeAsap(NULL, 0, 256, FALSE, NULL), ERROR_INVALID_HANDLE);
	CK_OK(WinUsb_UnregisterIsochBuffer(ob));
	CK_OK(WinUsb_UnregisterIsochBuffer(ib));
	CK_FAIL_WITH(WinUsb_UnregisterIsochBuffer(ib), ERROR_INVALID_HANDLE);
	CloseHandle(ov.hEvent);
	env_down(&e);
	free(obuf);
	free(ibuf);
}
END_TEST

/* Check n IN packets of 256 bytes: success, offsets, lengths, the model's
 * pattern (byte i of packet k is (seq + i) & 0xff, seq counting packets);
 * returns the sequence byte of the last packet. */
static uint8_t iso_check(const USBD_ISO_PACKET_DESCRIPTOR *pk, const uint8_t *buf, int n,
			 int prev)
{
	for (int p = 0; p < n; p++) {
		ck_assert_int_eq(pk[p].Status, USBD_STATUS_SUCCESS);
		ck_assert_uint_eq(pk[p].Offset, 256u * (ULONG)p);
		ck_assert_uint_eq(pk[p].Length, 256);
		for (int i = 1; i < 256; i++)
			ck_assert_uint_eq(buf[256 * p + i], (uint8_t)(buf[256 * p] + i));
		if (prev >= 0)
			ck_assert_uint_eq(buf[256 * p], (uint8_t)(prev + 1));
		prev = buf[256 * p];
	}
	return (uint8_t)prev;
}

/*
 * Isochronous at explicit frames and as streams ("WinUsb_ReadIsochPipe
 * function (winusb.h)", "WinUsb_ReadIsochPipeAsap function (winusb.h)"):
 * ReadIsochPipe at GetCurrentFrameNumber + 5 fills its descriptors, does
 * not start early, returns the frame after its last and chains; the ASAP
 * calls with ContinueStream = TRUE behind a FALSE one continue the stream,
 * and fail once the stream has run dry.
 */
START_TEST(test_isoch_stream)
{
	struct env e;
	WINUSB_ISOCH_BUFFER_HANDLE ib, ob;
	USBD_ISO_PACKET_DESCRIPTOR pk[8], pk2[8];
	uint8_t *ibuf = calloc(1, 8192), *obuf = calloc(1, 8192);
	OVERLAPPED a, b;
	ULONG frame = 0, start, next, now = 0;
	LARGE_INTEGER ts;
	uint32_t pkts;
	uint8_t last;
	DWORD n;

	env_up(&e, &sim_dev_winusb, _i ? SIM_SPEED_HIGH : SIM_SPEED_FULL, NULL);
	env_open(&e, &sim_guid);
	CK_OK(WinUsb_SetCurrentAlternateSetting(e.h, 1));
	CK_OK(WinUsb_RegisterIsochBuffer(e.h, 0x83, ibuf, 8192, &ib));
	CK_OK(WinUsb_RegisterIsochBuffer(e.h, 0x03, obuf, 8192, &ob));
	/* 8 packets of 256 bytes, one per frame (FS bInterval 1, HS 4). */
	CK_OK(WinUsb_GetCurrentFrameNumber(e.h, &frame, &ts));
	start = next = frame + 5;
	memset(pk, 0xee, sizeof(pk));
	ov_open(&a);
	pkts = sim_winusb_iso_in_packets(e.sd);
	CK_FAIL_WITH(WinUsb_ReadIsochPipe(ib, 0, 2048, &next, 8, pk, &a), ERROR_IO_PENDING);
	ck_assert_uint_eq(next, start + 8);
	CK_OK(WinUsb_GetCurrentFrameNumber(e.h, &now, &ts));
	ck_assert_uint_lt(now, start);
	ck_assert_uint_eq(sim_winusb_iso_in_packets(e.sd), pkts); /* nothing yet */
	CK_OK(WinUsb_GetOverlappedResult(e.h, &a, &n, TRUE));
	ck_assert_uint_eq(n, 0);
	/* Frames start..start+7: the first packet is scheduled at
	 * its frame (Frame ID), so it cannot be done before start + 7. */
	CK_OK(WinUsb_GetCurrentFrameNumber(e.h, &now, &ts));
	ck_assert_uint_ge(now, start + 7);
	ck_assert_uint_eq(sim_winusb_iso_in_packets(e.sd), pkts + 8);
	last = iso_check(pk, ibuf, 8, -1);
	/* The next transfer starts at the returned frame. */
	start = next;
	CK_OK(WinUsb_ReadIsochPipe(ib, 2048, 2048, &next, 8, pk, NULL));
	ck_assert_uint_eq(next, start + 8);
	last = iso_check(pk, ibuf + 2048, 8, last);
	/* ASAP: a new stream, then one continuing it while the first is queued. */
	ov_open(&b);
	CK_FAIL_WITH(WinUsb_ReadIsochPipeAsap(ib, 0, 1024, FALSE, 4, pk, &a), ERROR_IO_PENDING);
	CK_FAIL_WITH(WinUsb_ReadIsochPipeAsap(ib, 1024, 1024, TRUE, 4, pk2, &b), ERROR_IO_PENDING);
	CK_OK(WinUsb_GetOverlappedResult(e.h, &a, &n, TRUE));
	CK_OK(WinUsb_GetOverlappedResult(e.h, &b, &n, TRUE));
	last = iso_check(pk, ibuf, 4, -1);
	iso_check(pk2, ibuf + 1024, 4, last);
	/* Once the stream has run dry it cannot be continued; a new one can. */
	Sleep(20);
	CK_FAIL_WITH(WinUsb_ReadIsochPipeAsap(ib, 0, 1024, TRUE, 4, pk, NULL), ERROR_GEN_FAILURE);
	CK_OK(WinUsb_ReadIsochPipeAsap(ib, 0, 1024, FALSE, 4, pk, NULL));
	iso_check(pk, ibuf, 4, -1);
	/* OUT the same way: both halves go out, in full. */
	CK_FAIL_WITH(WinUsb_WriteIsochPipeAsap(ob, 0, 1024, FALSE, &a), ERROR_IO_PENDING);
	CK_FAIL_WITH(WinUsb_WriteIsochPipeAsap(ob, 1024, 1024, TRUE, &b), ERROR_IO_PENDING);
	CK_OK(WinUsb_GetOverlappedResult(e.h, &a, &n, TRUE));
	CK_OK(WinUsb_GetOverlappedResult(e.h, &b, &n, TRUE));
	ck_assert_uint_eq(sim_winusb_iso_out_bytes(e.sd), 2048);
	Sleep(20);
	CK_FAIL_WITH(WinUsb_WriteIsochPipeAsap(ob, 0, 1024, TRUE, NULL), ERROR_GEN_FAILURE);
	ck_assert_uint_eq(sim_winusb_iso_out_bytes(e.sd), 2048);
	CloseHandle(a.hEvent);
	CloseHandle(b.hEvent);
	CK_OK(WinUsb_UnregisterIsochBuffer(ib));
	CK_OK(WinUsb_UnregisterIsochBuffer(ob));
	env_down(&e);
	free(ibuf);
	free(obuf);
}
END_TEST

START_TEST(test_composite)
{
	struct env e;
	WINUSB_INTERFACE_HANDLE data = NULL, dummy;
	USB_INTERFACE_DESCRIPTOR id;
	uint8_t out[300], in[512];
	char p0[BU_WINUSB_PATH_MAX], p1[BU_WINUSB_PATH_MAX];
	struct bu_winusb_devinfo info;
	ULONG got;

	/* Two functions of the composite device: the CDC IAD group (0-1) and the HID (2). */
	env_up(&e, &sim_dev_composite, SIM_SPEED_HIGH, "1209:b030:0:" BIND_GUID);
	ck_assert_int_eq(bu_winusb_drv_bind_spec(e.drv, "1209:b030:2", 11), 0);
	bu_winusb_drv_scan(e.drv);
	CK_OK(bu_winusb_find_by_vidpid(g_api, 0x1209, 0xb030, 0, p0, sizeof(p0), NULL));
	CK_OK(bu_winusb_find_by_vidpid(g_api, 0x1209, 0xb030, 1, p1, sizeof(p1), NULL));
	ck_assert_msg(strstr(p0, "&mi_00") || strstr(p1, "&mi_00"), "%s %s", p0, p1);
	ck_assert_msg(strstr(p0, "&mi_02") || strstr(p1, "&mi_02"), "%s %s", p0, p1);
	env_open(&e, &bind_guid);
	CK_OK(bu_winusb_device_info(g_api, e.path, &info));
	ck_assert(info.composite);
	ck_assert_uint_eq(info.num_ifaces, 2);
	/* The associated interface is the CDC data interface. */
	CK_OK(WinUsb_GetAssociatedInterface(e.h, 0, &data));
	CK_FAIL_WITH(WinUsb_GetAssociatedInterface(e.h, 0, &dummy), ERROR_ALREADY_EXISTS);
	CK_FAIL_WITH(WinUsb_GetAssociatedInterface(e.h, 1, &dummy), ERROR_NO_MORE_ITEMS);
	CK_FAIL_WITH(WinUsb_GetAssociatedInterface(e.h, 255, &dummy), ERROR_INVALID_PARAMETER);
	CK_FAIL_WITH(WinUsb_GetAssociatedInterface(data, 0, &dummy), ERROR_INVALID_HANDLE);
	CK_OK(WinUsb_QueryInterfaceSettings(data, 0, &id));
	ck_assert_uint_eq(id.bInterfaceNumber, 1);
	ck_assert_uint_eq(id.bInterfaceClass, 0x0a);
	fill(out, sizeof(out), 4);
	ck_assert_uint_eq(write_sync(data, 0x02, out, sizeof(out)), sizeof(out));
	ck_assert_uint_eq(read_sync(data, 0x82, in, sizeof(in)), sizeof(out));
	ck_assert_mem_eq(in, out, sizeof(out));
	/* The data pipes belong to the data interface, not the default one. */
	CK_FAIL_WITH(WinUsb_WritePipe(e.h, 0x02, out, 1, &got, NULL),
		     ERROR_INVALID_PARAMETER);
	ck_assert(WinUsb_Free(data));
	env_down(&e);
}
END_TEST

/* Automatic per-function binding (MS OS 2.0 function subset, no binding
 * table): only the CDC function (0-1) is WinUSB's, found by its GUID; the
 * keyboard (2) stays unbound. */
START_TEST(test_composite_msos2)
{
	struct env e;
	WINUSB_INTERFACE_HANDLE data = NULL;
	USB_INTERFACE_DESCRIPTOR id;
	struct bu_winusb_devinfo info;
	struct bu_usb_device *dev;
	char other[BU_WINUSB_PATH_MAX];
	uint8_t out[100], in[512];
	const char *j;

	env_up(&e, &sim_dev_composite_msos, SIM_SPEED_HIGH, NULL);
	env_open(&e, &sim_guid);
	ck_assert_msg(strstr(e.path, "&mi_00"), "%s", e.path);
	CK_FAIL_WITH(bu_winusb_find_by_guid(g_api, &sim_guid, 1, other, sizeof(other), NULL),
		     ERROR_NO_MORE_ITEMS);
	CK_OK(bu_winusb_device_info(g_api, e.path, &info));
	ck_assert(info.composite);
	ck_assert_uint_eq(info.num_ifaces, 2);
	CK_OK(WinUsb_GetAssociatedInterface(e.h, 0, &data));
	CK_OK(WinUsb_QueryInterfaceSettings(data, 0, &id));
	ck_assert_uint_eq(id.bInterfaceNumber, 1);
	fill(out, sizeof(out), 9);
	ck_assert_uint_eq(write_sync(data, 0x02, out, sizeof(out)), sizeof(out));
	ck_assert_uint_eq(read_sync(data, 0x82, in, sizeof(in)), sizeof(out));
	ck_assert_mem_eq(in, out, sizeof(out));
	dev = find_pid(&e.st, 0x1209, 0xb031);
	ck_assert_ptr_nonnull(dev);
	j = json_of(dev);
	ck_assert_msg(strstr(j, "\"number\":2,\"alt\":0,\"class\":3,\"subclass\":1,\"protocol\":1,"
				"\"driver\":null"), "%s", j);
	ck_assert_msg(strstr(j, "\"number\":0,\"alt\":0,\"class\":2,\"subclass\":2,\"protocol\":1,"
				"\"driver\":\"winusb\""), "%s", j);
	ck_assert(WinUsb_Free(data));
	env_down(&e);
}
END_TEST

START_TEST(test_suspend)
{
	struct env e;
	UCHAR on = 1, v = 0;
	ULONG delay = 20, len = 1;
	uint8_t out[4] = { 1, 2, 3, 4 }, in[512];

	/* Explicit bindings act as an INF with DeviceIdleEnabled. */
	env_up(&e, &sim_dev_winusb, SIM_SPEED_HIGH, "1209:b010:" BIND_GUID);
	env_open(&e, &bind_guid);
	CK_OK(WinUsb_SetPowerPolicy(e.h, SUSPEND_DELAY, sizeof(delay), &delay));
	/* DeviceIdleEnabled without DefaultIdleState: AUTO_SUSPEND is off by
	 * default and an idle device stays up ("WinUSB power management"). */
	v = 0xee;
	CK_OK(WinUsb_GetPowerPolicy(e.h, AUTO_SUSPEND, &len, &v));
	ck_assert_uint_eq(v, 0);
	Sleep(60);
	ck_assert_uint_eq(e.suspends, 0);
	CK_OK(WinUsb_SetPowerPolicy(e.h, AUTO_SUSPEND, sizeof(on), &on));
	CK_OK(WinUsb_GetPowerPolicy(e.h, AUTO_SUSPEND, &len, &v));
	ck_assert_uint_eq(v, 1);
	Sleep(60);
	ck_assert_uint_eq(e.suspends, 1);
	ck_assert_uint_eq(e.resumes, 0);
	/* The next transfer resumes the device first. */
	write_sync(e.h, 0x01, out, sizeof(out));
	ck_assert_uint_eq(e.resumes, 1);
	ck_assert_uint_eq(read_sync(e.h, 0x81, in, sizeof(in)), 4);
	Sleep(60);
	ck_assert_uint_eq(e.suspends, 2);
	on = 0;
	CK_OK(WinUsb_SetPowerPolicy(e.h, AUTO_SUSPEND, sizeof(on), &on));
	ck_assert_uint_eq(e.resumes, 2);
	Sleep(60);
	ck_assert_uint_eq(e.suspends, 2);
	env_down(&e);
}
END_TEST

/* The link state of the device's root port, USB 2 or USB 3, through the controller driver. */
static unsigned env_link(struct env *e, enum sim_speed speed)
{
	struct bu_usb_port_status ps;

	ck_assert_int_eq(e->st.bus->ops->port_status(e->st.bus, port_for(e->st.sim, speed, 1), &ps),
			 0);
	return ps.link;
}

/* Without an embedder hook the power policy suspends the real link. */
START_TEST(test_suspend_link)
{
	struct bu_winusb_drv_options o = { .ctx = (void *)&core_link };
	struct env e;
	UCHAR on = 1;
	ULONG delay = 20;
	uint8_t out[4] = { 9, 8, 7, 6 }, in[512];
	OVERLAPPED ov = { 0 };
	ULONG n = 0;

	env_up_opts(&e, &sim_dev_winusb, SIM_SPEED_HIGH, "1209:b010:" BIND_GUID, &o);
	env_open(&e, &bind_guid);
	CK_OK(WinUsb_SetPowerPolicy(e.h, SUSPEND_DELAY, sizeof(delay), &delay));
	CK_OK(WinUsb_SetPowerPolicy(e.h, AUTO_SUSPEND, sizeof(on), &on));
	Sleep(60);
	ck_assert_uint_eq(env_link(&e, SIM_SPEED_HIGH), BU_LINK_U3);
	/* The next write resumes it and the data loops back. */
	ck_assert_uint_eq(write_sync(e.h, 0x01, out, sizeof(out)), sizeof(out));
	ck_assert_uint_eq(env_link(&e, SIM_SPEED_HIGH), BU_LINK_U0);
	ck_assert_uint_eq(read_sync(e.h, 0x81, in, sizeof(in)), sizeof(out));
	ck_assert_mem_eq(in, out, sizeof(out));
	/* A pending read does not keep it awake ("WinUSB power management":
	 * with only IN transfers pending the device is idle): the link goes to
	 * U3 with the read queued, and the read is answered after the next
	 * write resumes it. */
	ov.hEvent = CreateEvent(NULL, TRUE, FALSE, NULL);
	ck_assert(!WinUsb_ReadPipe(e.h, 0x81, in, sizeof(in), &n, &ov));
	ck_assert_uint_eq(GetLastError(), ERROR_IO_PENDING);
	Sleep(60);
	ck_assert_uint_eq(env_link(&e, SIM_SPEED_HIGH), BU_LINK_U3);
	ck_assert(!HasOverlappedIoCompleted(&ov));
	ck_assert_uint_eq(write_sync(e.h, 0x01, out, sizeof(out)), sizeof(out));
	CK_OK(WinUsb_GetOverlappedResult(e.h, &ov, &n, TRUE));
	ck_assert_uint_eq(n, sizeof(out));
	ck_assert_mem_eq(in, out, sizeof(out));
	ck_assert_uint_eq(env_link(&e, SIM_SPEED_HIGH), BU_LINK_U0);
	CloseHandle(ov.hEvent);
	Sleep(60);
	ck_assert_uint_eq(env_link(&e, SIM_SPEED_HIGH), BU_LINK_U3);
	env_down(&e);
}
END_TEST

/*
 * Remote wakeup under the WinUSB power policy ("WinUSB power management":
 * a device that supports remote wakeup is armed when it is selectively
 * suspended): a WinUSB function with a read pending on its interrupt pipe
 * is suspended when idle, armed (USB 2: DEVICE_REMOTE_WAKEUP; USB 3:
 * FUNCTION_SUSPEND with Remote Wake Enabled), wakes the host by itself
 * (USB 2 resume signalling; USB 3 U3 exit and a Function Wake
 * notification), and the pending WinUsb_ReadPipe completes with the
 * report that woke it; the device is disarmed after the resume.
 * _i: 0 = high speed, 1 = SuperSpeed.
 */
START_TEST(test_remote_wake)
{
	struct bu_winusb_drv_options o = { .ctx = (void *)&core_link };
	enum sim_speed speed = _i ? SIM_SPEED_SUPER : SIM_SPEED_HIGH;
	const uint8_t report[3] = { 0x5a, 0x01, 0xc3 };
	uint8_t in[8] = { 0 };
	struct env e;
	OVERLAPPED ov;
	UCHAR on = 1;
	ULONG delay = 20, n = 0;

	env_up_opts(&e, &sim_dev_fwake, speed, "1209:b060:" BIND_GUID, &o);
	env_open(&e, &bind_guid);
	CK_OK(WinUsb_SetPowerPolicy(e.h, SUSPEND_DELAY, sizeof(delay), &delay));
	CK_OK(WinUsb_SetPowerPolicy(e.h, AUTO_SUSPEND, sizeof(on), &on));
	ov_open(&ov);
	CK_FAIL_WITH(WinUsb_ReadPipe(e.h, 0x82, in, sizeof(in), NULL, &ov), ERROR_IO_PENDING);
	Sleep(60);
	ck_assert_uint_eq(env_link(&e, speed), BU_LINK_U3);
	ck_assert(sim_remote_wake_armed(e.sd));
	ck_assert(!HasOverlappedIoCompleted(&ov));
	/* The device has something to say: it wakes the host itself. */
	ck_assert(sim_fwake_event(e.sd, report, sizeof(report)));
	CK_OK(WinUsb_GetOverlappedResult(e.h, &ov, &n, TRUE));
	ck_assert_uint_eq(n, sizeof(report));
	ck_assert_mem_eq(in, report, sizeof(report));
	ck_assert_uint_eq(env_link(&e, speed), BU_LINK_U0);
	ck_assert(!sim_remote_wake_armed(e.sd));
	CloseHandle(ov.hEvent);
	env_down(&e);
}
END_TEST

/* CLEAR_FEATURE(ENDPOINT_HALT) sent to the device alone: its data toggle
 * restarts at DATA0 while the host's stays, as in a device that lost its
 * toggle in suspend. */
static void device_drops_toggle(WINUSB_INTERFACE_HANDLE h, UCHAR ep)
{
	WINUSB_SETUP_PACKET cf = { 0x02, 0x01, 0, ep, 0 };
	ULONG n = 0;

	CK_OK(WinUsb_ControlTransfer(h, cf, NULL, 0, &n, NULL));
}

/*
 * RESET_PIPE_ON_RESUME ("WinUSB functions for pipe policy modification",
 * "WinUSB power management"): after a selective suspend the pipes are
 * reset (toggle on both sides) before new requests; a device whose toggles
 * were lost then still gets and returns every byte. _i: 0 = policy off,
 * 1 = on, 2 = on with a read pending across the suspend (the idle rule lets
 * a device suspend with IN reads pending, and the policy resets the
 * endpoint all the same - the pending read must survive it).
 */
START_TEST(test_reset_on_resume)
{
	struct env e;
	UCHAR on = 1;
	ULONG delay = 20;
	uint8_t out[100], in[512];
	uint64_t before;
	OVERLAPPED ov;
	DWORD n = 0;
	bool policy = _i != 0, pending = _i == 2;

	env_up(&e, &sim_dev_winusb, SIM_SPEED_HIGH, "1209:b010:" BIND_GUID);
	env_open(&e, &bind_guid);
	fill(out, sizeof(out), 11);
	if (policy) {
		set_u8_policy(e.h, 0x01, RESET_PIPE_ON_RESUME, 1);
		set_u8_policy(e.h, 0x81, RESET_PIPE_ON_RESUME, 1);
	}
	/* One packet each way: both sides' toggles are at DATA1. */
	ck_assert_uint_eq(write_sync(e.h, 0x01, out, sizeof(out)), sizeof(out));
	ck_assert_uint_eq(read_sync(e.h, 0x81, in, sizeof(in)), sizeof(out));
	device_drops_toggle(e.h, 0x01);
	device_drops_toggle(e.h, 0x81);
	if (pending) {
		ov_open(&ov);
		CK_FAIL_WITH(WinUsb_ReadPipe(e.h, 0x81, in, sizeof(in), NULL, &ov),
			     ERROR_IO_PENDING);
	}
	CK_OK(WinUsb_SetPowerPolicy(e.h, SUSPEND_DELAY, sizeof(delay), &delay));
	CK_OK(WinUsb_SetPowerPolicy(e.h, AUTO_SUSPEND, sizeof(on), &on));
	Sleep(60);
	ck_assert_uint_eq(e.suspends, 1);
	ck_assert_uint_eq(e.resumes, 0);
	before = sim_winusb_bulk_out_bytes(e.sd);
	if (!pending) /* a pending read owns `in`: no CPU writes to it (non-coherent DMA) */
		memset(in, 0, sizeof(in));
	fill(out, sizeof(out), 12);
	ck_assert_uint_eq(write_sync(e.h, 0x01, out, sizeof(out)), sizeof(out));
	ck_assert_uint_eq(e.resumes, 1);
	if (!policy) {
		/* No reset: the device takes the DATA1 packet for a repeat and
		 * drops it, so nothing comes back. */
		ck_assert_uint_eq(sim_winusb_bulk_out_bytes(e.sd) - before, 0);
		set_timeout(e.h, 0x81, 50);
		CK_FAIL_WITH(WinUsb_ReadPipe(e.h, 0x81, in, sizeof(in), &n, NULL),
			     ERROR_SEM_TIMEOUT);
		env_down(&e);
		return;
	}
	ck_assert_uint_eq(sim_winusb_bulk_out_bytes(e.sd) - before, sizeof(out));
	if (pending) {
		ck_assert_uint_eq(WaitForSingleObject(ov.hEvent, 200), WAIT_OBJECT_0);
		CK_OK(WinUsb_GetOverlappedResult(e.h, &ov, &n, FALSE));
		CloseHandle(ov.hEvent);
	} else {
		n = read_sync(e.h, 0x81, in, sizeof(in));
	}
	ck_assert_uint_eq(n, sizeof(out));
	ck_assert_mem_eq(in, out, sizeof(out));
	env_down(&e);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Bad handles, pipe IDs, buffers and indexes                               */

START_TEST(test_bad_arguments)
{
	struct env e;
	WINUSB_INTERFACE_HANDLE bad[3];
	WINUSB_INTERFACE_HANDLE h2;
	USB_INTERFACE_DESCRIPTOR id;
	WINUSB_PIPE_INFORMATION pi;
	WINUSB_PIPE_INFORMATION_EX px;
	WINUSB_SETUP_PACKET sp = { 0x80, 6, 0x0100, 0, 18 };
	UCHAR buf[64], b = 0;
	ULONG n = 0, len = 1, v = 0;
	DWORD d;
	OVERLAPPED ov;
	LARGE_INTEGER ts;
	WINUSB_ISOCH_BUFFER_HANDLE ih;
	USB_START_TRACKING_FOR_TIME_SYNC_INFORMATION st;
	USB_STOP_TRACKING_FOR_TIME_SYNC_INFORMATION sp2;
	USB_FRAME_NUMBER_AND_QPC_FOR_TIME_SYNC_INFORMATION fq;
	HANDLE plain;

	env_up(&e, &sim_dev_winusb, SIM_SPEED_HIGH, NULL);
	env_open(&e, &sim_guid);
	memset(&ov, 0, sizeof(ov));
	bad[0] = NULL;
	bad[1] = INVALID_HANDLE_VALUE;
	bad[2] = (WINUSB_INTERFACE_HANDLE)&id; /* not one of ours */
	for (int i = 0; i < 3; i++) {
		WINUSB_INTERFACE_HANDLE h = bad[i];

		CK_FAIL_WITH(WinUsb_Free(h), ERROR_INVALID_HANDLE);
		CK_FAIL_WITH(WinUsb_GetAssociatedInterface(h, 0, &h2), ERROR_INVALID_HANDLE);
		CK_FAIL_WITH(WinUsb_GetDescriptor(h, 1, 0, 0, buf, 18, &n), ERROR_INVALID_HANDLE);
		CK_FAIL_WITH(WinUsb_QueryInterfaceSettings(h, 0, &id), ERROR_INVALID_HANDLE);
		CK_FAIL_WITH(WinUsb_QueryDeviceInformation(h, DEVICE_SPEED, &len, buf),
			     ERROR_INVALID_HANDLE);
		CK_FAIL_WITH(WinUsb_SetCurrentAlternateSetting(h, 0), ERROR_INVALID_HANDLE);
		CK_FAIL_WITH(WinUsb_GetCurrentAlternateSetting(h, &b), ERROR_INVALID_HANDLE);
		CK_FAIL_WITH(WinUsb_QueryPipe(h, 0, 0, &pi), ERROR_INVALID_HANDLE);
		CK_FAIL_WITH(WinUsb_QueryPipeEx(h, 0, 0, &px), ERROR_INVALID_HANDLE);
		CK_FAIL_WITH(WinUsb_SetPipePolicy(h, 0x81, RAW_IO, 1, &b), ERROR_INVALID_HANDLE);
		CK_FAIL_WITH(WinUsb_GetPipePolicy(h, 0x81, RAW_IO, &len, &b), ERROR_INVALID_HANDLE);
		CK_FAIL_WITH(WinUsb_ReadPipe(h, 0x81, buf, 64, &n, NULL), ERROR_INVALID_HANDLE);
		CK_FAIL_WITH(WinUsb_WritePipe(h, 0x01, buf, 64, &n, NULL), ERROR_INVALID_HANDLE);
		CK_FAIL_WITH(WinUsb_ControlTransfer(h, sp, buf, 18, &n, NULL), ERROR_INVALID_HANDLE);
		CK_FAIL_WITH(WinUsb_ResetPipe(h, 0x81), ERROR_INVALID_HANDLE);
		CK_FAIL_WITH(WinUsb_AbortPipe(h, 0x81), ERROR_INVALID_HANDLE);
		CK_FAIL_WITH(WinUsb_FlushPipe(h, 0x81), ERROR_INVALID_HANDLE);
		CK_FAIL_WITH(WinUsb_SetPowerPolicy(h, AUTO_SUSPEND, 1, &b), ERROR_INVALID_HANDLE);
		CK_FAIL_WITH(WinUsb_GetPowerPolicy(h, AUTO_SUSPEND, &len, &b), ERROR_INVALID_HANDLE);
		CK_FAIL_WITH(WinUsb_GetOverlappedResult(h, &ov, &d, FALSE), ERROR_INVALID_HANDLE);
		CK_FAIL_WITH(WinUsb_RegisterIsochBuffer(h, 0x83, buf, 64, &ih), ERROR_INVALID_HANDLE);
		CK_FAIL_WITH(WinUsb_UnregisterIsochBuffer(h), ERROR_INVALID_HANDLE);
		CK_FAIL_WITH(WinUsb_WriteIsochPipe(h, 0, 64, &n, NULL), ERROR_INVALID_HANDLE);
		CK_FAIL_WITH(WinUsb_ReadIsochPipe(h, 0, 64, &n, 1, NULL, NULL), ERROR_INVALID_HANDLE);
		CK_FAIL_WITH(WinUsb_ReadIsochPipeAsap(h, 0, 64, FALSE, 1, NULL, NULL),
			     ERROR_INVALID_HANDLE);
		CK_FAIL_WITH(WinUsb_GetCurrentFrameNumber(h, &n, &ts), ERROR_INVALID_HANDLE);
		CK_FAIL_WITH(WinUsb_StartTrackingForTimeSync(h, &st), ERROR_INVALID_HANDLE);
		CK_FAIL_WITH(WinUsb_GetCurrentFrameNumberAndQpc(h, &fq), ERROR_INVALID_HANDLE);
		CK_FAIL_WITH(WinUsb_StopTrackingForTimeSync(h, &sp2), ERROR_INVALID_HANDLE);
		CK_FAIL_WITH(WinUsb_Initialize(h, &h2), ERROR_INVALID_HANDLE);
		ck_assert_uint_eq(WaitForSingleObject(h, 0), WAIT_FAILED);
		CK_FAIL_WITH(CloseHandle(h), ERROR_INVALID_HANDLE);
	}
	/* Bad pipe IDs. */
	CK_FAIL_WITH(WinUsb_ReadPipe(e.h, 0x85, buf, 64, &n, NULL), ERROR_INVALID_PARAMETER);
	CK_FAIL_WITH(WinUsb_ReadPipe(e.h, 0x01, buf, 64, &n, NULL), ERROR_INVALID_PARAMETER);
	CK_FAIL_WITH(WinUsb_WritePipe(e.h, 0x81, buf, 64, &n, NULL), ERROR_INVALID_PARAMETER);
	CK_FAIL_WITH(WinUsb_ReadPipe(e.h, 0x00, buf, 64, &n, NULL), ERROR_INVALID_PARAMETER);
	CK_FAIL_WITH(WinUsb_ResetPipe(e.h, 0x07), ERROR_INVALID_PARAMETER);
	CK_FAIL_WITH(WinUsb_AbortPipe(e.h, 0x87), ERROR_INVALID_PARAMETER);
	CK_FAIL_WITH(WinUsb_FlushPipe(e.h, 0x83), ERROR_INVALID_PARAMETER); /* alt 1 only */
	CK_FAIL_WITH(WinUsb_GetPipePolicy(e.h, 0x42, RAW_IO, &len, &b), ERROR_INVALID_PARAMETER);
	/* NULL and short buffers. */
	CK_FAIL_WITH(WinUsb_ReadPipe(e.h, 0x81, NULL, 64, &n, NULL), ERROR_INVALID_PARAMETER);
	CK_FAIL_WITH(WinUsb_WritePipe(e.h, 0x01, NULL, 64, &n, NULL), ERROR_INVALID_PARAMETER);
	CK_FAIL_WITH(WinUsb_ReadPipe(e.h, 0x81, buf, 64, NULL, NULL), ERROR_INVALID_PARAMETER);
	CK_FAIL_WITH(WinUsb_GetDescriptor(e.h, 1, 0, 0, NULL, 18, &n), ERROR_INVALID_PARAMETER);
	CK_FAIL_WITH(WinUsb_GetDescriptor(e.h, 1, 0, 0, buf, 18, NULL), ERROR_INVALID_PARAMETER);
	CK_FAIL_WITH(WinUsb_QueryInterfaceSettings(e.h, 0, NULL), ERROR_INVALID_PARAMETER);
	CK_FAIL_WITH(WinUsb_QueryPipe(e.h, 0, 0, NULL), ERROR_INVALID_PARAMETER);
	CK_FAIL_WITH(WinUsb_GetCurrentAlternateSetting(e.h, NULL), ERROR_INVALID_PARAMETER);
	CK_FAIL_WITH(WinUsb_GetAssociatedInterface(e.h, 0, NULL), ERROR_INVALID_PARAMETER);
	len = 0;
	CK_FAIL_WITH(WinUsb_QueryDeviceInformation(e.h, DEVICE_SPEED, &len, buf),
		     ERROR_INSUFFICIENT_BUFFER);
	ck_assert_uint_eq(len, 1);
	len = 1;
	CK_FAIL_WITH(WinUsb_QueryDeviceInformation(e.h, 2, &len, buf), ERROR_INVALID_PARAMETER);
	CK_FAIL_WITH(WinUsb_QueryDeviceInformation(e.h, DEVICE_SPEED, NULL, buf),
		     ERROR_INVALID_PARAMETER);
	CK_FAIL_WITH(WinUsb_GetOverlappedResult(e.h, NULL, &d, FALSE), ERROR_INVALID_PARAMETER);
	CK_FAIL_WITH(WinUsb_GetCurrentFrameNumber(e.h, NULL, &ts), ERROR_INVALID_PARAMETER);
	CK_FAIL_WITH(WinUsb_GetAdjustedFrameNumber(NULL, ts), ERROR_INVALID_PARAMETER);
	CK_FAIL_WITH(WinUsb_StartTrackingForTimeSync(e.h, NULL), ERROR_INVALID_HANDLE);
	CK_FAIL_WITH(WinUsb_RegisterIsochBuffer(e.h, 0x03, buf, 64, &ih), ERROR_INVALID_PARAMETER);
	/* Out-of-range indexes. */
	CK_FAIL_WITH(WinUsb_QueryInterfaceSettings(e.h, 200, &id), ERROR_NO_MORE_ITEMS);
	CK_FAIL_WITH(WinUsb_QueryPipe(e.h, 0, 30, &pi), ERROR_NO_MORE_ITEMS);
	CK_FAIL_WITH(WinUsb_QueryPipe(e.h, 9, 0, &pi), ERROR_INVALID_PARAMETER);
	CK_FAIL_WITH(WinUsb_GetAssociatedInterface(e.h, 0, &h2), ERROR_NO_MORE_ITEMS);
	/* Time sync works on a good handle; a bad tracking handle fails. */
	st.TimeTrackingHandle = INVALID_HANDLE_VALUE;
	st.IsStartupDelayTolerable = TRUE;
	CK_OK(WinUsb_StartTrackingForTimeSync(e.h, &st));
	memset(&fq, 0, sizeof(fq));
	fq.TimeTrackingHandle = st.TimeTrackingHandle;
	CK_OK(WinUsb_GetCurrentFrameNumberAndQpc(e.h, &fq));
	ck_assert_uint_eq(fq.QueryPerformanceCounterFrequency.QuadPart, 1000000);
	ck_assert_uint_eq(fq.CurrentHardwareFrameNumber, fq.CurrentUSBFrameNumber & 0x7ff);
	sp2.TimeTrackingHandle = st.TimeTrackingHandle;
	CK_OK(WinUsb_StopTrackingForTimeSync(e.h, &sp2));
	CK_FAIL_WITH(WinUsb_StopTrackingForTimeSync(e.h, &sp2), ERROR_INVALID_PARAMETER);
	/* Frame numbers. */
	CK_OK(WinUsb_GetCurrentFrameNumber(e.h, &n, &ts));
	v = n;
	Sleep(10);
	CK_OK(WinUsb_GetAdjustedFrameNumber(&v, ts));
	ck_assert_uint_ge(v, n + 9);
	/* A file not opened for overlapped I/O is refused by Initialize. */
	CloseHandle(e.file);
	e.file = INVALID_HANDLE_VALUE;
	e.h = NULL; /* its handles died with the file */
	plain = CreateFile(e.path, GENERIC_READ | GENERIC_WRITE, 0, NULL, OPEN_EXISTING,
			   FILE_ATTRIBUTE_NORMAL, NULL);
	ck_assert(plain != INVALID_HANDLE_VALUE);
	CK_FAIL_WITH(WinUsb_Initialize(plain, &h2), ERROR_INVALID_HANDLE);
	CK_OK(CloseHandle(plain));
	ck_assert(CreateFile("\\\\?\\usb#vid_1209&pid_b010#9-9&99", 0, 0, NULL, OPEN_EXISTING,
			     FILE_FLAG_OVERLAPPED, NULL) == INVALID_HANDLE_VALUE);
	ck_assert_uint_eq(GetLastError(), ERROR_FILE_NOT_FOUND);
	ck_assert(CreateFile("garbage", 0, 0, NULL, OPEN_EXISTING, FILE_FLAG_OVERLAPPED, NULL) ==
		  INVALID_HANDLE_VALUE);
	env_down(&e);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* The driver part against a hostile API part                               */

static bool probe_deny(void *ctx, const void *p, size_t len, bool write)
{
	(void)ctx;
	(void)len;
	(void)write;
	return p != (const void *)0x1000; /* "user" memory at 0x1000 is not mapped */
}

/* One request block, straight to the driver part, with completion routine
 * `done`. */
static uint32_t raw_io_done(struct env *e, uint32_t file, uint32_t code,
			    const struct bu_winusb_ioparams *prm, uint32_t plen,
			    void *buf, uint32_t blen, void *aux, uint32_t alen,
			    bu_winusb_io_done_fn done, void *cookie)
{
	struct bu_winusb_io io;
	struct bu_winusb_iores res;

	memset(&io, 0, sizeof(io));
	io.file = file;
	io.code = code;
	io.params = prm;
	io.params_len = plen;
	io.buf = buf;
	io.buf_len = blen;
	io.aux = aux;
	io.aux_len = alen;
	io.done = done;
	io.done_cookie = cookie;
	return bu_winusb_drv_ioctl(e->drv, &io, &res);
}

static uint32_t raw_io(struct env *e, uint32_t file, uint32_t code,
		       const struct bu_winusb_ioparams *prm, uint32_t plen,
		       void *buf, uint32_t blen, void *aux, uint32_t alen,
		       bool with_done)
{
	return raw_io_done(
	    e, file, code, prm, plen, buf, blen, aux, alen,
	    with_done ? (bu_winusb_io_done_fn)(uintptr_t)1 : NULL, NULL);
}

/* ------------------------------------------------------------------------ */
/* The driver's requests never wait; completions never resubmit inside      */

/* A deferred-work probe (bu_usb_work): it can only run inside bu_usb_bus_poll.
 */
struct probe {
	struct bu_usb_work w; /* first: the callback gets it back */
	unsigned runs;
};

static void probe_run(struct bu_usb_work *w)
{
	((struct probe *)w)->runs++;
}

/* A request's completion, as the driver part calls it. */
struct io_rec {
	unsigned calls;
	uint32_t status;
	bool done;
};

static void rec_done(void *ctx, void *cookie, uint32_t status, uint32_t bytes)
{
	struct io_rec *r = cookie;

	(void)ctx;
	(void)bytes;
	r->calls++;
	r->status = status;
	r->done = true;
}

/* One request straight to the driver part; with `rec`, a completion routine. */
static uint32_t drv_io(struct env *e, uint32_t file, uint32_t code,
		       const struct bu_winusb_ioparams *prm, void *buf,
		       uint32_t len, struct io_rec *rec)
{
	if (rec)
		memset(rec, 0, sizeof(*rec));
	return raw_io_done(e, file, code, prm, sizeof(*prm), buf, len, NULL, 0,
			   rec ? rec_done : NULL, rec);
}

/*
 * Issue `code`: it must pend, and return without having polled the bus
 * (the probe queued before it has not run) or slept in the platform's
 * wait hook, its completion not run yet.
 */
static void pends_without_poll(struct env *e, uint32_t file, uint32_t code,
			       const struct bu_winusb_ioparams *p,
			       struct io_rec *rec)
{
	struct probe pr = {.w.fn = probe_run};
	struct sim_stats before, after;

	bu_usb_work_queue(e->st.bus, &pr.w);
	sim_get_stats(e->st.sim, &before);
	ck_assert_uint_eq(drv_io(e, file, code, p, NULL, 0, rec),
			  ERROR_IO_PENDING);
	sim_get_stats(e->st.sim, &after);
	ck_assert_msg(pr.runs == 0,
		      "request 0x%08x polled the bus inside the driver", code);
	ck_assert_uint_eq(after.waits, before.waits);
	ck_assert_uint_eq(rec->calls, 0);
	bu_usb_work_cancel(e->st.bus, &pr.w);
}

/* The driver part's file on the first function, interface 0 claimed. */
static uint32_t drv_file(struct env *e)
{
	struct bu_winusb_devinfo info;
	struct bu_winusb_ioparams p;
	uint32_t file = 0;

	ck_assert_uint_eq(bu_winusb_drv_query(e->drv, 0, &info), 0);
	ck_assert_uint_eq(bu_winusb_drv_open(e->drv, info.instance, &file), 0);
	memset(&p, 0, sizeof(p));
	ck_assert_uint_eq(
	    drv_io(e, file, BU_WINUSB_IOCTL_OPEN_INTERFACE, &p, NULL, 0, NULL),
	    0);
	return file;
}

/* RESET_PIPE and SET_ALT pend like IRPs and complete from bu_usb_bus_poll. */
START_TEST(test_ioctl_pends)
{
	struct env e;
	struct bu_winusb_ioparams p;
	struct sim_stats before, after;
	struct io_rec rec;
	uint8_t alt = 0xff;
	uint32_t file;

	env_up(&e, &sim_dev_winusb, SIM_SPEED_HIGH, NULL);
	file = drv_file(&e);
	memset(&p, 0, sizeof(p));
	/* RESET_PIPE: its Configure Endpoint and CLEAR_FEATURE(ENDPOINT_HALT)
	 * go out from the poll. */
	p.pipe = 0x81;
	sim_get_stats(e.st.sim, &before);
	pends_without_poll(&e, file, BU_WINUSB_IOCTL_RESET_PIPE, &p, &rec);
	ck_assert(wait_flag(&e.st, &rec.done, 2000));
	sim_get_stats(e.st.sim, &after);
	ck_assert_uint_eq(rec.calls, 1);
	ck_assert_uint_eq(rec.status, 0);
	ck_assert_uint_gt(after.commands, before.commands);
	/* SET_ALT: the same, then the new setting's pipes. */
	p.pipe = 0;
	p.index = 1;
	pends_without_poll(&e, file, BU_WINUSB_IOCTL_SET_ALT, &p, &rec);
	ck_assert(wait_flag(&e.st, &rec.done, 2000));
	ck_assert_uint_eq(rec.calls, 1);
	ck_assert_uint_eq(rec.status, 0);
	ck_assert_uint_eq(
	    drv_io(&e, file, BU_WINUSB_IOCTL_GET_ALT, &p, &alt, 1, NULL), 0);
	ck_assert_uint_eq(alt, 1);
	/* The isochronous pipe of alt 1 is there; resetting it needs no bus. */
	p.pipe = 0x83;
	ck_assert_uint_eq(
	    drv_io(&e, file, BU_WINUSB_IOCTL_RESET_PIPE, &p, NULL, 0, &rec), 0);
	bu_winusb_drv_close(e.drv, file);
	env_down(&e);
}
END_TEST

/*
 * A pending RESET_PIPE or SET_ALT when it is cancelled, the device goes
 * away or the file is closed: its completion runs exactly once, nothing
 * leaks (stack_down), nothing completes into freed memory (ASan).
 */
START_TEST(test_ioctl_pending_ends)
{
	struct env e;
	struct bu_winusb_ioparams p, none;
	struct io_rec rec;
	uint32_t file;
	bool reset = _i == 0 || _i >= 3;

	env_up(&e, &sim_dev_winusb, SIM_SPEED_HIGH, NULL);
	file = drv_file(&e);
	memset(&p, 0, sizeof(p));
	memset(&none, 0, sizeof(none));
	if (reset)
		p.pipe = 0x81;
	else
		p.index = 1;
	pends_without_poll(&e, file,
			   reset ? BU_WINUSB_IOCTL_RESET_PIPE
				 : BU_WINUSB_IOCTL_SET_ALT,
			   &p, &rec);
	if (_i == 4)
		bu_usb_bus_poll(e.st.bus); /* the endpoint reset is on its way */
	switch (_i) {
	case 0:
	case 4: /* CANCEL (CancelIoEx); then, with the reset out, unplug and close */
		ck_assert_uint_eq(raw_io_done(&e, file, BU_WINUSB_IOCTL_CANCEL, &none, sizeof(none),
					      NULL, 0, NULL, 0, NULL, &rec), 0);
		ck_assert(wait_flag(&e.st, &rec.done, 2000));
		ck_assert_uint_eq(rec.status, ERROR_OPERATION_ABORTED);
		if (_i == 4) {
			/* The reset still runs: the function must outlive it. */
			sim_detach(e.sd);
			bu_winusb_drv_close(e.drv, file);
		}
		run_ms(&e.st, 50);
		if (_i == 0)
			bu_winusb_drv_close(e.drv, file);
		break;
	case 1:
	case 3: /* unplug */
		sim_detach(e.sd);
		ck_assert(wait_flag(&e.st, &rec.done, 2000));
		run_ms(&e.st, 50);
		bu_winusb_drv_close(e.drv, file);
		break;
	default: /* close: the transport's close waits for it */
		bu_winusb_drv_close(e.drv, file);
		ck_assert(rec.done);
		break;
	}
	ck_assert_uint_eq(rec.calls, 1);
	run_ms(&e.st, 20);
	ck_assert_uint_eq(rec.calls, 1);
	env_down(&e);
}
END_TEST

/*
 * Completions of WinUSB transfers do not put the next transfers on the bus
 * from under the controller's event handler: a monitor sees each SUBMIT
 * of the pipe only after the poll's deferred work began (a probe queued at
 * the COMPLETE runs first), never between a COMPLETE and it.
 */
struct resubmit_watch {
	struct probe pr;
	struct bu_usb_bus *bus;
	bool complete_unprobed; /* a COMPLETE, and the poll's work has not begun
				   since */
	bool seen_complete;
	unsigned nested;   /* SUBMITs from inside a completion */
	unsigned deferred; /* SUBMITs after a completion, from the work */
};

static void resubmit_probe(struct bu_usb_work *w)
{
	struct resubmit_watch *rw = (struct resubmit_watch *)w;

	rw->pr.runs++;
	rw->complete_unprobed = false;
}

static void resubmit_mon(void *ctx, const struct bu_usb_xfer *x,
			 enum bu_usb_mon_event ev, int status)
{
	struct resubmit_watch *rw = ctx;

	(void)status;
	if (x->ep->address != 0x81)
		return;
	if (ev == BU_MON_COMPLETE) {
		rw->complete_unprobed = true;
		rw->seen_complete = true;
		/* Queued before the completion runs, so ahead of anything
		 * the completion queues. */
		bu_usb_work_queue(rw->bus, &rw->pr.w);
	} else if (ev == BU_MON_SUBMIT && rw->complete_unprobed) {
		rw->nested++;
	} else if (ev == BU_MON_SUBMIT && rw->seen_complete) {
		rw->deferred++;
	}
}

START_TEST(test_no_resubmit_in_completion)
{
	struct env e;
	struct resubmit_watch rw = {.pr.w.fn = resubmit_probe};
	uint8_t out[8][512], in[8][512];
	OVERLAPPED ro[8];
	DWORD n;

	env_up(&e, &sim_dev_winusb, SIM_SPEED_HIGH, NULL);
	env_open(&e, &sim_guid);
	rw.bus = e.st.bus;
	e.st.bus->monitor.ctx = &rw;
	e.st.bus->monitor.urb = resubmit_mon;
	/* Eight reads queued: one on the bus at a time (no RAW_IO), each
	 * completion lets the next one go. */
	for (int i = 0; i < 8; i++) {
		fill(out[i], sizeof(out[i]), 40u + (unsigned)i);
		ov_open(&ro[i]);
		CK_FAIL_WITH(WinUsb_ReadPipe(e.h, 0x81, in[i], sizeof(in[i]),
					     NULL, &ro[i]),
			     ERROR_IO_PENDING);
	}
	for (int i = 0; i < 8; i++)
		ck_assert_uint_eq(write_sync(e.h, 0x01, out[i], 100), 100);
	for (int i = 0; i < 8; i++) {
		CK_OK(WinUsb_GetOverlappedResult(e.h, &ro[i], &n, TRUE));
		ck_assert_uint_eq(n, 100);
		ck_assert_mem_eq(in[i], out[i], n);
		CloseHandle(ro[i].hEvent);
	}
	e.st.bus->monitor.urb = NULL;
	bu_usb_work_cancel(e.st.bus, &rw.pr.w);
	ck_assert_msg(rw.nested == 0,
		      "%u reads submitted from inside a completion", rw.nested);
	ck_assert_uint_ge(rw.deferred, 7);
	env_down(&e);
}
END_TEST

START_TEST(test_hostile_requests)
{
	struct bu_winusb_drv_options o = { .check_range = probe_deny };
	struct bu_winusb_devinfo info;
	struct bu_winusb_ioparams p;
	const uint32_t P = sizeof(p);
	uint8_t buf[64];
	uint32_t file = 0, stale;
	struct env e;

	env_up_opts(&e, &sim_dev_winusb, SIM_SPEED_HIGH, NULL, &o);
	ck_assert_uint_eq(bu_winusb_drv_query(e.drv, 0, &info), 0);
	ck_assert_uint_eq(bu_winusb_drv_open(e.drv, info.instance, &file), 0);
	ck_assert_uint_eq(bu_winusb_drv_open(e.drv, info.instance, &stale), ERROR_ACCESS_DENIED);
	memset(&p, 0, sizeof(p));
	/* Parameter blocks: missing, short, long. */
	ck_assert_uint_eq(raw_io(&e, file, BU_WINUSB_IOCTL_OPEN_INTERFACE, NULL, P, NULL, 0, NULL,
				 0, false), ERROR_INVALID_PARAMETER);
	ck_assert_uint_eq(raw_io(&e, file, BU_WINUSB_IOCTL_OPEN_INTERFACE, &p, P - 1, NULL, 0,
				 NULL, 0, false), ERROR_INVALID_PARAMETER);
	ck_assert_uint_eq(raw_io(&e, file, BU_WINUSB_IOCTL_OPEN_INTERFACE, &p, P + 1, NULL, 0,
				 NULL, 0, false), ERROR_INVALID_PARAMETER);
	/* Interfaces must be claimed before use; indexes are checked. */
	p.pipe = 0x81;
	ck_assert_uint_eq(raw_io(&e, file, BU_WINUSB_IOCTL_READ_PIPE, &p, P, buf, 64, NULL, 0, true),
			  ERROR_INVALID_HANDLE);
	p.iface = 1;
	ck_assert_uint_eq(raw_io(&e, file, BU_WINUSB_IOCTL_OPEN_INTERFACE, &p, P, NULL, 0, NULL, 0,
				 false), ERROR_NO_MORE_ITEMS);
	p.iface = 200;
	ck_assert_uint_eq(raw_io(&e, file, BU_WINUSB_IOCTL_OPEN_INTERFACE, &p, P, NULL, 0, NULL, 0,
				 false), ERROR_NO_MORE_ITEMS);
	p.iface = 0;
	ck_assert_uint_eq(raw_io(&e, file, BU_WINUSB_IOCTL_OPEN_INTERFACE, &p, P, NULL, 0, NULL, 0,
				 false), 0);
	ck_assert_uint_eq(raw_io(&e, file, BU_WINUSB_IOCTL_OPEN_INTERFACE, &p, P, NULL, 0, NULL, 0,
				 false), ERROR_ALREADY_EXISTS);
	/* Buffers: NULL with a length, wrapping ranges, memory the probe refuses. */
	ck_assert_uint_eq(raw_io(&e, file, BU_WINUSB_IOCTL_READ_PIPE, &p, P, NULL, 64, NULL, 0, true),
			  ERROR_INVALID_PARAMETER);
	ck_assert_uint_eq(raw_io(&e, file, BU_WINUSB_IOCTL_READ_PIPE, &p, P, (void *)(UINTPTR_MAX - 8),
				 64, NULL, 0, true), ERROR_NOACCESS);
	ck_assert_uint_eq(raw_io(&e, file, BU_WINUSB_IOCTL_READ_PIPE, &p, P, (void *)0x1000, 64,
				 NULL, 0, true), ERROR_NOACCESS);
	ck_assert_uint_eq(raw_io(&e, file, BU_WINUSB_IOCTL_GET_INFO, &p, P, (void *)0x1000, 64,
				 NULL, 0, false), ERROR_NOACCESS);
	ck_assert_uint_eq(raw_io(&e, file, BU_WINUSB_IOCTL_READ_PIPE, &p, P, buf, 64, NULL, 4, true),
			  ERROR_INVALID_PARAMETER);
	/* A transfer without a completion route is refused, not run blind. */
	ck_assert_uint_eq(raw_io(&e, file, BU_WINUSB_IOCTL_READ_PIPE, &p, P, buf, 64, NULL, 0,
				 false), ERROR_INVALID_PARAMETER);
	/* Pipes: absent, wrong direction, control, isoch in the wrong alt. */
	p.pipe = 0x85;
	ck_assert_uint_eq(raw_io(&e, file, BU_WINUSB_IOCTL_READ_PIPE, &p, P, buf, 64, NULL, 0, true),
			  ERROR_INVALID_PARAMETER);
	p.pipe = 0x01;
	ck_assert_uint_eq(raw_io(&e, file, BU_WINUSB_IOCTL_READ_PIPE, &p, P, buf, 64, NULL, 0, true),
			  ERROR_INVALID_PARAMETER);
	p.pipe = 0x83;
	ck_assert_uint_eq(raw_io(&e, file, BU_WINUSB_IOCTL_ISOCH_REGISTER, &p, P, buf, 64, NULL, 0,
				 false), ERROR_INVALID_PARAMETER);
	/* Control: wLength beyond the buffer, beyond 4 KiB; SET_ADDRESS. */
	p.pipe = 0;
	memcpy(p.setup, (uint8_t[]){ 0xc0, SIM_WINUSB_REQ_READ, 0, 0, 0, 0, 65, 0 }, 8);
	ck_assert_uint_eq(raw_io(&e, file, BU_WINUSB_IOCTL_CONTROL, &p, P, buf, 64, NULL, 0, true),
			  ERROR_INVALID_PARAMETER);
	memcpy(p.setup, (uint8_t[]){ 0xc0, SIM_WINUSB_REQ_READ, 0, 0, 0, 0, 0x01, 0x10 }, 8);
	ck_assert_uint_eq(raw_io(&e, file, BU_WINUSB_IOCTL_CONTROL, &p, P, buf, 64, NULL, 0, true),
			  ERROR_INVALID_PARAMETER);
	memcpy(p.setup, (uint8_t[]){ 0x00, 0x05, 9, 0, 0, 0, 0, 0 }, 8);
	ck_assert_uint_eq(raw_io(&e, file, BU_WINUSB_IOCTL_CONTROL, &p, P, buf, 0, NULL, 0, true),
			  ERROR_INVALID_PARAMETER);
	memcpy(p.setup, (uint8_t[]){ 0x00, 0x09, 2, 0, 0, 0, 0, 0 }, 8);
	ck_assert_uint_eq(raw_io(&e, file, BU_WINUSB_IOCTL_CONTROL, &p, P, buf, 0, NULL, 0, true),
			  ERROR_NOT_SUPPORTED);
	memset(p.setup, 0, 8);
	/* Isochronous handles and windows; unknown codes; policies' values. */
	p.handle = 0x0101;
	ck_assert_uint_eq(raw_io(&e, file, BU_WINUSB_IOCTL_ISOCH_WRITE, &p, P, NULL, 0, NULL, 0,
				 true), ERROR_INVALID_HANDLE);
	ck_assert_uint_eq(raw_io(&e, file, BU_WINUSB_IOCTL_ISOCH_UNREGISTER, &p, P, NULL, 0, NULL,
				 0, false), ERROR_INVALID_HANDLE);
	ck_assert_uint_eq(raw_io(&e, file, 0x0350C0FCu, &p, P, NULL, 0, NULL, 0, false),
			  ERROR_INVALID_PARAMETER);
	p.pipe = 0x81;
	p.type = PIPE_TRANSFER_TIMEOUT;
	p.length = 3;
	ck_assert_uint_eq(raw_io(&e, file, BU_WINUSB_IOCTL_SET_PIPE_POLICY, &p, P, NULL, 0, NULL, 0,
				 false), ERROR_INVALID_PARAMETER);
	p.type = 0;
	p.length = 0;
	/* After close, the id is dead - also once the slot is reused. */
	bu_winusb_drv_close(e.drv, file);
	ck_assert_uint_eq(raw_io(&e, file, BU_WINUSB_IOCTL_GET_ALT, &p, P, buf, 1, NULL, 0, false),
			  ERROR_INVALID_HANDLE);
	ck_assert_uint_eq(bu_winusb_drv_open(e.drv, info.instance, &stale), 0);
	ck_assert_uint_ne(stale, file);
	ck_assert_uint_eq(raw_io(&e, file, BU_WINUSB_IOCTL_GET_ALT, &p, P, buf, 1, NULL, 0, false),
			  ERROR_INVALID_HANDLE);
	bu_winusb_drv_close(e.drv, stale);
	env_down(&e);
}
END_TEST

Suite *winusb_suite(void);

Suite *winusb_suite(void)
{
	Suite *s = suite_create("winusb");
	TCase *t = tcase_create("winusb");

	tcase_set_timeout(t, 120);
	tcase_add_loop_test(t, test_bind_compat_id, 0, sizeof(bind_cases) / sizeof(bind_cases[0]));
	tcase_add_test(t, test_bind_table);
	tcase_add_test(t, test_bind_spec_parsing);
	tcase_add_test(t, test_query);
	tcase_add_test(t, test_policies);
	tcase_add_test(t, test_policies_across_alt);
	tcase_add_loop_test(t, test_loopback_basic, 0, 3);
	tcase_add_test(t, test_partial_reads);
	tcase_add_test(t, test_ignore_short_and_raw);
	tcase_add_loop_test(t, test_policy_matrix, 0, 32);
	tcase_add_loop_test(t, test_large_split, 1, 3);
	tcase_add_test(t, test_overlapped_queue);
	tcase_add_loop_test(t, test_stall, 0, 2);
	tcase_add_test(t, test_timeout);
	tcase_add_test(t, test_wait_cap_cancels_every_kind);
	tcase_add_test(t, test_config_total_length_lie);
	tcase_add_test(t, test_isoch_packet_cap);
	tcase_add_test(t, test_abort_queued);
	tcase_add_test(t, test_abort_writes);
	tcase_add_test(t, test_flush);
	tcase_add_test(t, test_timeout_write);
	tcase_add_test(t, test_unplug);
	tcase_add_test(t, test_control);
	tcase_add_loop_test(t, test_isoch, 0, 2);
	tcase_add_loop_test(t, test_isoch_stream, 0, 2);
	tcase_add_test(t, test_composite);
	tcase_add_test(t, test_composite_msos2);
	tcase_add_test(t, test_suspend);
	tcase_add_test(t, test_suspend_link);
	tcase_add_loop_test(t, test_remote_wake, 0, 2);
	tcase_add_loop_test(t, test_reset_on_resume, 0, 3);
	tcase_add_test(t, test_bad_arguments);
	tcase_add_test(t, test_hostile_requests);
	tcase_add_test(t, test_ioctl_pends);
	tcase_add_loop_test(t, test_ioctl_pending_ends, 0, 5);
	tcase_add_test(t, test_no_resubmit_in_completion);
	suite_add_tcase(s, t);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(winusb_suite());
	int failed;

	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
