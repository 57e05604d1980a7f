/*
 * The WinUSB INF parser (winusb/winusb_inf.c): Microsoft-style INFs parse
 * into models and .HW AddReg entries; each thing it does not understand is
 * an error naming the line; nothing is read past the text's length.
 */
#include "unit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bareusb/errors.h"
#include "bareusb/winusb_inf.h"

/* The template's shape: decorated models, .NT-less install section, power values. */
static const char good_inf[] =
	"; comment line\r\n"
	"[Version]\r\n"
	"Signature   = \"$Windows NT$\"\r\n"
	"Class       = USBDevice\r\n"
	"ClassGUID   = {88BAE032-5A81-49f0-BC3D-A4FF138216D6}\r\n"
	"Provider    = %Mfg%\r\n"
	"\r\n"
	"[Manufacturer]\r\n"
	"%Mfg% = Models,NTx86,NTamd64.10.0\r\n"
	"\r\n"
	"[Models.NTx86]\r\n"
	"%Dev% = Wrong_Install, USB\\VID_dead&PID_beef\r\n"
	"[Models.NTamd64.10.0]\r\n"
	"%Dev%  = USB_Install, USB\\VID_0547&PID_1002\r\n"
	"%Dev2% = USB_Install, USB\\VID_1209&PID_B031&MI_02, USB\\VID_1209&PID_B030&MI_02\r\n"
	"[USB_Install]\r\n"
	"Include = winusb.inf\r\n"
	"Needs   = WINUSB.NT\r\n"
	"[USB_Install.Services]\r\n"
	"Include    = winusb.inf\r\n"
	"AddService = WinUSB,0x00000002,WinUSB_ServiceInstall\r\n"
	"[USB_Install.HW]\r\n"
	"AddReg = Dev_AddReg, Power_AddReg\r\n"
	"[Dev_AddReg]\r\n"
	"HKR,,DeviceInterfaceGUIDs,0x10000,\"{3D2E6F1A-8C4B-4F5E-9A7D-1B2C3D4E5F60}\",\"{6a1d3c9e-5b2f-4e8a-9c71-0d3e5f7a9b21}\"\r\n"
	"[Power_AddReg]\r\n"
	"HKR,,DeviceIdleEnabled,0x00010001,1 ; a comment after a value\r\n"
	"HKR,,DefaultIdleTimeout,0x00010001,0x1388\r\n"
	"HKR,,Label,0,\"say \"\"hi\"\" %% %Dev%\"\r\n"
	"[SourceDisksNames]\r\n"
	"1 = %Disk%,,,\\x86\r\n"
	"[Strings]\r\n"
	"Mfg  = \"bareusb\"\r\n"
	"Dev  = \"FX2\"\r\n"
	"Dev2 = \"Composite function\"\r\n"
	"Disk = \"Disk 1\"\r\n";

START_TEST(test_parse_good)
{
	struct bu_winusb_inf *inf = calloc(1, sizeof(*inf));
	const struct bu_inf_addreg *a;

	ck_assert_int_eq(bu_winusb_inf_parse(good_inf, strlen(good_inf), inf), 0);
	ck_assert_str_eq(inf->error, "");
	ck_assert_uint_eq(inf->num_models, 3);
	ck_assert_uint_eq(inf->model[0].vid, 0x0547);
	ck_assert_uint_eq(inf->model[0].pid, 0x1002);
	ck_assert_int_eq(inf->model[0].iface, -1);
	ck_assert_str_eq(inf->model[0].install, "USB_Install");
	ck_assert_uint_eq(inf->model[0].line, 14);
	ck_assert(inf->model[0].winusb);
	ck_assert_uint_eq(inf->model[1].pid, 0xb031);
	ck_assert_int_eq(inf->model[1].iface, 2);
	ck_assert_uint_eq(inf->model[2].pid, 0xb030);
	/* The .HW AddReg entries, once per install section, in file order. */
	ck_assert_uint_eq(inf->num_addreg, 4);
	a = bu_winusb_inf_model_addreg(inf, 0, 1);
	ck_assert_ptr_nonnull(a);
	ck_assert_str_eq(a->name, "DeviceIdleEnabled");
	ck_assert_uint_eq(a->type, BU_INF_TYPE_DWORD);
	ck_assert_uint_eq(a->dword, 1);
	a = bu_winusb_inf_model_addreg(inf, 2, 2);
	ck_assert_str_eq(a->name, "DefaultIdleTimeout");
	ck_assert_uint_eq(a->dword, 5000);
	ck_assert_uint_eq(a->line, 28);
	a = bu_winusb_inf_model_addreg(inf, 0, 3);
	ck_assert_str_eq(a->value, "say \"hi\" % FX2");
	ck_assert_ptr_null(bu_winusb_inf_model_addreg(inf, 0, 4));
	ck_assert_ptr_null(bu_winusb_inf_model_addreg(inf, 3, 0));
	ck_assert_str_eq(bu_winusb_inf_model_guid(inf, 1, 0), "{3D2E6F1A-8C4B-4F5E-9A7D-1B2C3D4E5F60}");
	ck_assert_str_eq(bu_winusb_inf_model_guid(inf, 1, 1), "{6a1d3c9e-5b2f-4e8a-9c71-0d3e5f7a9b21}");
	ck_assert_ptr_null(bu_winusb_inf_model_guid(inf, 1, 2));
	free(inf);
}
END_TEST

/* A minimal valid INF with one line replaced: LINE_n is line n. */
#define HEAD "[Version]\nSignature=\"$Windows NT$\"\n[Manufacturer]\nM=Models\n[Models]\n"
#define MODEL "D=Inst,USB\\VID_0547&PID_1002\n"
#define INST "[Inst]\nInclude=winusb.inf\nNeeds=WINUSB.NT\n"
#define HW "[Inst.HW]\nAddReg=R\n[R]\n"
#define GUIDS "HKR,,DeviceInterfaceGUIDs,0x10000,\"{3D2E6F1A-8C4B-4F5E-9A7D-1B2C3D4E5F60}\"\n"

static const struct {
	const char *text;
	int rc;
	unsigned line;
	const char *says; /* a word the message must contain */
} bad[] = {
	{ "", BU_EINVAL, 0, "[Version]" },
	{ "\xff\xfe[\0V\0", BU_EINVAL, 0, "UTF-16" },
	{ "Signature=x\n[Version]\n", BU_EINVAL, 1, "before the first section" },
	{ "[Version\n", BU_EINVAL, 1, "section header" },
	{ "[Version]\nSignature=\"$Windows NT$\n", BU_EINVAL, 2, "unterminated" },
	{ "[Version]\nSignature=\"$Windows 95$\"\n", BU_EINVAL, 2, "Signature" },
	{ "[Version]\nClass=USBDevice\n[Manufacturer]\nM=Models\n", BU_EINVAL, 0, "Signature" },
	{ "[Version]\nSignature=\"$Windows NT$\"\n", BU_EINVAL, 0, "[Manufacturer]" },
	{ HEAD "D=Inst,USB\\VID_0547&PID_1002\\\n", BU_EINVAL, 6, "continuation" },
	{ "[Version]\nSignature=\"$Windows NT$\"\n[Manufacturer]\nM=Missing,NTamd64\n", BU_EINVAL, 4,
	  "Missing" },
	{ HEAD "D=Inst,PCI\\VEN_8086&DEV_1234\n" INST, BU_EINVAL, 6, "hardware ID" },
	{ HEAD "D=Inst,USB\\VID_0547&PID_102\n" INST, BU_EINVAL, 6, "hardware ID" },
	{ HEAD "D=Inst,USB\\VID_0547&PID_1002&REV_0001\n" INST, BU_EINVAL, 6, "hardware ID" },
	{ HEAD "D=Inst\n" INST, BU_EINVAL, 6, "hardware ID" },
	{ HEAD "D=Nowhere,USB\\VID_0547&PID_1002\n" INST, BU_EINVAL, 6, "Nowhere" },
	{ HEAD MODEL "[Inst]\nInclude=winusb.inf\n", BU_EINVAL, 6, "WINUSB.NT" },
	{ HEAD MODEL "[Inst]\nInclude=usbstor.inf\nNeeds=USBSTOR.NT\n", BU_EINVAL, 6, "WinUSB" },
	{ HEAD MODEL INST "Frobnicate=1\n", BU_EINVAL, 10, "Frobnicate" },
	{ HEAD MODEL INST "[Inst.HW]\nAddReg=Nope\n", BU_EINVAL, 11, "Nope" },
	{ HEAD MODEL INST HW "HKLM,,DeviceInterfaceGUIDs,0x10000,\"{3D2E6F1A-8C4B-4F5E-9A7D-1B2C3D4E5F60}\"\n",
	  BU_EINVAL, 13, "HKR" },
	{ HEAD MODEL INST HW "HKR,Sub,X,0x10001,1\n", BU_EINVAL, 13, "subkeys" },
	{ HEAD MODEL INST HW "HKR,,DeviceInterfaceGUIDs,0x10000,\"{3D2E6F1A-8C4B-4F5E-9A7D}\"\n",
	  BU_EINVAL, 13, "GUID" },
	{ HEAD MODEL INST HW "HKR,,DeviceInterfaceGUIDs,0,\"{3D2E6F1A-8C4B-4F5E-9A7D-1B2C3D4E5F60}\"\n",
	  BU_EINVAL, 13, "REG_MULTI_SZ" },
	{ HEAD MODEL INST HW "HKR,,X,0x20000,1\n", BU_EINVAL, 13, "flags" },
	{ HEAD MODEL INST HW "HKR,,X,0x10001,one\n", BU_EINVAL, 13, "REG_DWORD" },
	{ HEAD MODEL INST HW "HKR,,X,0x10001\n", BU_EINVAL, 13, "REG_DWORD" },
	{ HEAD MODEL INST HW "HKR,,%Undefined%,0x10001,1\n", BU_EINVAL, 13, "Undefined" },
	{ HEAD MODEL INST HW "HKR,,X,0,\"a\",\"b\"\n", BU_EINVAL, 13, "REG_SZ" },
	{ HEAD MODEL INST "[Inst.HW]\nAddReg=R\nLoadOrder=1\n[R]\n", BU_EINVAL, 12, "LoadOrder" },
	{ HEAD "D=Inst,USB\\VID_0547&PID_1002\n" INST "[Inst.Services]\nStartType=3\n", BU_EINVAL,
	  11, "StartType" },
	{ HEAD MODEL INST HW GUIDS "HKR,,Name,0,\"" /* 200 x 'a' */
	  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	  "aaaaaaaaaaaaaaaa\"\n",
	  BU_EINVAL, 14, "longer" },
};

START_TEST(test_parse_bad)
{
	struct bu_winusb_inf *inf = calloc(1, sizeof(*inf));
	size_t len = strlen(bad[_i].text);
	/* An exact-size heap copy: ASan sees any read past the length. */
	char *copy = malloc(len ? len : 1);

	memcpy(copy, bad[_i].text, len);
	ck_assert_int_eq(bu_winusb_inf_parse(copy, len, inf), bad[_i].rc);
	ck_assert_msg(inf->error_line == bad[_i].line, "case %d: line %u, want %u (%s)", _i,
		      inf->error_line, bad[_i].line, inf->error);
	ck_assert_msg(strstr(inf->error, bad[_i].says) != NULL, "case %d: \"%s\" lacks \"%s\"", _i,
		      inf->error, bad[_i].says);
	free(copy);
	free(inf);
}
END_TEST

/* The good INF without its final newline, cut anywhere: never a read past the end. */
START_TEST(test_parse_truncated)
{
	struct bu_winusb_inf *inf = calloc(1, sizeof(*inf));
	size_t full = strlen(good_inf);

	for (size_t n = 0; n < full; n++) {
		char *copy = malloc(n ? n : 1);

		memcpy(copy, good_inf, n);
		(void)bu_winusb_inf_parse(copy, n, inf);
		free(copy);
	}
	free(inf);
}
END_TEST

/* More models or AddReg entries than kept is BU_ENOSPC, not an overrun. */
START_TEST(test_parse_limits)
{
	struct bu_winusb_inf *inf = calloc(1, sizeof(*inf));
	char *text = malloc(16384);
	size_t n = 0;

	n += (size_t)sprintf(text + n, HEAD);
	for (unsigned i = 0; i <= BU_INF_MAX_MODELS; i++)
		n += (size_t)sprintf(text + n, "D=Inst,USB\\VID_0547&PID_%04X\n", i);
	n += (size_t)sprintf(text + n, INST);
	ck_assert_int_eq(bu_winusb_inf_parse(text, n, inf), BU_ENOSPC);
	ck_assert_uint_eq(inf->error_line, 6 + BU_INF_MAX_MODELS);
	n = (size_t)sprintf(text, HEAD MODEL INST HW);
	for (unsigned i = 0; i <= BU_INF_MAX_ADDREG; i++)
		n += (size_t)sprintf(text + n, "HKR,,V%u,0x10001,%u\n", i, i);
	ck_assert_int_eq(bu_winusb_inf_parse(text, n, inf), BU_ENOSPC);
	ck_assert_ptr_nonnull(strstr(inf->error, "AddReg"));
	ck_assert_int_eq(bu_winusb_inf_parse(NULL, 0, inf), BU_EINVAL);
	ck_assert_int_eq(bu_winusb_inf_parse(text, n, NULL), BU_EINVAL);
	free(text);
	free(inf);
}
END_TEST

Suite *unit_suite(void)
{
	Suite *s = suite_create("inf");
	TCase *t = unit_tcase(s, "inf");

	tcase_add_test(t, test_parse_good);
	tcase_add_loop_test(t, test_parse_bad, 0, (int)(sizeof(bad) / sizeof(bad[0])));
	tcase_add_test(t, test_parse_truncated);
	tcase_add_test(t, test_parse_limits);
	return s;
}
