/*
 * A program written for Windows runs on bareusb unchanged: tests/winapp/
 * winusb_app.c (only <windows.h>, <winusb.h>, <winusbio.h>, <usb.h>, built
 * against include/bareusb/compat, once as C11 and once as C++11; this file
 * is linked with one of the two, WINAPP_CXX says which) is given a device
 * file opened here, where the discovery bareusb does its own way happens,
 * and talks to the sim's WinUSB loopback device at each speed. Checked from
 * outside: its result and report, the bytes the device saw, that it closed
 * what it opened (WinUSB is single-client, so the device opens again) and
 * that nothing leaked; and that it fails when given no device.
 */
#include "winusb_env.h"

#include "bareusb/winusb.h"
#include "bareusb/winusb_drv.h"
#include "winusb_app.h"

#ifndef WINAPP_CXX
#error "WINAPP_CXX: 1 when linked with the C++ build of the application, else 0"
#endif

/* The API instance the WinUsb_* names use (the embedder's part of the deal). */
static struct bu_winusb_api *g_api;

struct bu_winusb_api *bu_winusb_current(void)
{
	return g_api;
}

/* {6A1D3C9E-5B2F-4E8A-9C71-0D3E5F7A9B21}: SIM_WINUSB_GUID */
static const GUID sim_guid = { 0x6A1D3C9Eu, 0x5B2F, 0x4E8A,
			       { 0x9C, 0x71, 0x0D, 0x3E, 0x5F, 0x7A, 0x9B, 0x21 } };

struct env {
	struct stack st;
	struct sim_device *sd;
	struct bu_winusb_drv *drv;
	char path[BU_WINUSB_PATH_MAX];
};

/* The stack, the WinUSB driver part and the API instance, with the device. */
static void env_up(struct env *e, enum sim_speed speed)
{
	unsigned port;

	memset(e, 0, sizeof(*e));
	stack_up(&e->st, NULL, 0);
	ck_assert_int_eq(bu_winusb_drv_create(e->st.bus, NULL, &e->drv), 0);
	port = speed == SIM_SPEED_SUPER ? sim_usb3_port(e->st.sim, 1) : sim_usb2_port(e->st.sim, 1);
	e->sd = sim_attach(e->st.sim, port, &sim_dev_winusb, speed);
	ck_assert_ptr_nonnull(e->sd);
	winusb_env_api_up(&e->st, e->drv, &g_api);
}

static void env_down(struct env *e)
{
	winusb_env_down(&e->st, e->drv, &g_api);
}

/* Discovery, the part a Windows program does with SetupAPI: GUID -> path -> file. */
static HANDLE open_device(struct env *e)
{
	HANDLE file;

	ck_assert_msg(bu_winusb_find_by_guid(g_api, &sim_guid, 0, e->path, sizeof(e->path), NULL),
		      "no device interface: %lu", (unsigned long)GetLastError());
	file = CreateFile(e->path, GENERIC_READ | GENERIC_WRITE, FILE_SHARE_READ | FILE_SHARE_WRITE,
			  NULL, OPEN_EXISTING, FILE_ATTRIBUTE_NORMAL | FILE_FLAG_OVERLAPPED, NULL);
	ck_assert_msg(file != INVALID_HANDLE_VALUE, "CreateFile(%s): %lu", e->path,
		      (unsigned long)GetLastError());
	return file;
}

static const struct {
	enum sim_speed speed;
	UCHAR code;
} speeds[] = {
	{ SIM_SPEED_FULL, LowSpeed },
	{ SIM_SPEED_HIGH, HighSpeed },
	{ SIM_SPEED_SUPER, HighSpeed },
};

START_TEST(test_app_runs)
{
	WINUSB_APP_REPORT rep;
	struct env e;
	HANDLE again;
	int rc;

	env_up(&e, speeds[_i].speed);
	rc = winusb_app_run(open_device(&e), &rep);
	ck_assert_msg(rc == WINUSB_APP_OK, "winusb_app_run: step %d failed, error %lu", rc,
		      (unsigned long)GetLastError());
	ck_assert_uint_eq(GetLastError(), ERROR_SUCCESS);
	/* The build this binary was meant to run. */
	if (WINAPP_CXX)
		ck_assert_uint_ge(rep.CplusplusLevel, 201103u);
	else
		ck_assert_uint_eq(rep.CplusplusLevel, 0);
	/* What it saw is the sim device's. */
	ck_assert_uint_eq(rep.DeviceSpeed, speeds[_i].code);
	ck_assert_uint_eq(rep.VendorId, 0x1209);
	ck_assert_uint_eq(rep.ProductId, 0xb010);
	ck_assert_uint_eq(rep.NumEndpoints, 3);
	ck_assert_uint_eq(rep.BulkOutPipe, 0x01);
	ck_assert_uint_eq(rep.BulkInPipe, 0x81);
	ck_assert_uint_eq(rep.DeviceStatus, 0); /* bus-powered, remote wakeup off */
	ck_assert_uint_eq(rep.PipeStatus, 0);   /* not halted */
	/* It echoed 1000 + 300 bytes, and the device really carried them. */
	ck_assert_uint_eq(rep.BytesWritten, 1300);
	ck_assert_uint_eq(rep.BytesRead, 1300);
	ck_assert_uint_eq(sim_winusb_bulk_out_bytes(e.sd), rep.BytesWritten);
	ck_assert_uint_eq(sim_winusb_bulk_in_bytes(e.sd), rep.BytesRead);
	/* It closed the file it was given: the single-client device opens again. */
	again = open_device(&e);
	ck_assert(CloseHandle(again));
	env_down(&e);
}
END_TEST

START_TEST(test_app_fails_without_device)
{
	struct env e;

	env_up(&e, SIM_SPEED_HIGH);
	ck_assert_int_eq(winusb_app_run(INVALID_HANDLE_VALUE, NULL), WINUSB_APP_FAIL_INITIALIZE);
	ck_assert_uint_eq(GetLastError(), ERROR_INVALID_HANDLE);
	ck_assert_uint_eq(sim_winusb_bulk_out_bytes(e.sd), 0);
	env_down(&e);
}
END_TEST

Suite *winapp_suite(void);

Suite *winapp_suite(void)
{
	Suite *s = suite_create(WINAPP_CXX ? "winapp-c++" : "winapp-c");
	TCase *t = tcase_create("winapp");

	tcase_set_timeout(t, 120);
	tcase_add_loop_test(t, test_app_runs, 0, sizeof(speeds) / sizeof(speeds[0]));
	tcase_add_test(t, test_app_fails_without_device);
	suite_add_tcase(s, t);
	return s;
}

int main(void)
{
	return run_suite(winapp_suite());
}
