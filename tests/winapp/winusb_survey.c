/*
 * A Windows program that surveys every WinUSB device it can find, written
 * from Microsoft's SetupAPI and WinUSB documentation only: for each of two
 * device interface GUIDs (its own, which its INF registers for the devices
 * it installs WinUSB on, and the one the WinUSB test device family
 * announces in its Microsoft OS descriptors) it lists the devices with
 * SetupAPI (path, hardware ID, friendly name, location), opens each, walks
 * its interfaces (WinUsb_GetAssociatedInterface) and pipes, and exercises
 * what it recognises: on a vendor-class interface with a bulk pair it
 * loops data through, on a mass storage bulk-only interface it sends a
 * SCSI INQUIRY (USB Mass Storage Class Bulk-Only Transport 1.0, §5).
 *
 * Windows headers only: builds with MinGW-w64 and with scripts/winapp.
 * Usage: winusb_survey [EXPECTED-DEVICES]. Exit status: the number of
 * devices that failed (or 100 when the count is not the expected one).
 */
#include <windows.h>
#include <setupapi.h>
#include <winusb.h>
#include <usb.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <initguid.h>

/* {3D2E6F1A-8C4B-4F5E-9A7D-1B2C3D4E5F61}: the interface winusb_survey.inf registers. */
DEFINE_GUID(GUID_DEVINTERFACE_SURVEY, 0x3d2e6f1a, 0x8c4b, 0x4f5e, 0x9a, 0x7d, 0x1b, 0x2c, 0x3d,
	    0x4e, 0x5f, 0x61);
/* {6A1D3C9E-5B2F-4E8A-9C71-0D3E5F7A9B21}: what the test devices' MS OS descriptors announce. */
DEFINE_GUID(GUID_DEVINTERFACE_SIM_WINUSB, 0x6a1d3c9e, 0x5b2f, 0x4e8a, 0x9c, 0x71, 0x0d, 0x3e,
	    0x5f, 0x7a, 0x9b, 0x21);

static UCHAR g_out[512], g_in[512];

static void PrintError(const char *What)
{
	printf("  %s failed: error %lu\n", What, (unsigned long)GetLastError());
}

static void PrintProperty(HDEVINFO Set, PSP_DEVINFO_DATA Dev, DWORD Property, const char *Name)
{
	char value[256];
	DWORD type = 0, need = 0;

	if (SetupDiGetDeviceRegistryPropertyA(Set, Dev, Property, &type, (PBYTE)value,
					      sizeof(value), &need))
		printf("  %s: %s\n", Name, value);
	else
		printf("  %s: (none, error %lu)\n", Name, (unsigned long)GetLastError());
}

/* Loop a short message through a bulk OUT/IN pair. */
static BOOL Loopback(WINUSB_INTERFACE_HANDLE h, UCHAR Out, UCHAR In)
{
	ULONG sent = 0, got = 0, i, timeout = 2000;

	for (i = 0; i < 100; i++)
		g_out[i] = (UCHAR)(0x40 + i);
	WinUsb_SetPipePolicy(h, In, PIPE_TRANSFER_TIMEOUT, sizeof(timeout), &timeout);
	if (!WinUsb_WritePipe(h, Out, g_out, 100, &sent, NULL) ||
	    !WinUsb_ReadPipe(h, In, g_in, sizeof(g_in), &got, NULL)) {
		PrintError("loopback");
		return FALSE;
	}
	printf("  loopback 0x%02x -> 0x%02x: %lu bytes %s\n", Out, In, (unsigned long)got,
	       got == sent && memcmp(g_in, g_out, got) == 0 ? "match" : "DIFFER");
	return got == sent && memcmp(g_in, g_out, got) == 0;
}

/* SCSI INQUIRY through the bulk-only transport: CBW, 36 data bytes, CSW. */
static BOOL Inquiry(WINUSB_INTERFACE_HANDLE h, UCHAR Out, UCHAR In)
{
	UCHAR cbw[31], csw[13];
	ULONG n = 0, data = 0;

	ZeroMemory(cbw, sizeof(cbw));
	cbw[0] = 'U'; cbw[1] = 'S'; cbw[2] = 'B'; cbw[3] = 'C'; /* dCBWSignature */
	cbw[4] = 0x2a;                                          /* dCBWTag */
	cbw[8] = 36;                                            /* dCBWDataTransferLength */
	cbw[12] = 0x80;                                         /* bmCBWFlags: data in */
	cbw[14] = 6;                                            /* bCBWCBLength */
	cbw[15] = 0x12;                                         /* INQUIRY */
	cbw[19] = 36;                                           /* allocation length */
	if (!WinUsb_WritePipe(h, Out, cbw, sizeof(cbw), &n, NULL) ||
	    !WinUsb_ReadPipe(h, In, g_in, 36, &data, NULL) ||
	    !WinUsb_ReadPipe(h, In, csw, sizeof(csw), &n, NULL)) {
		PrintError("INQUIRY");
		return FALSE;
	}
	printf("  INQUIRY: %lu bytes, vendor \"%.8s\", CSW status %u\n", (unsigned long)data,
	       (const char *)g_in + 8, csw[12]);
	return data == 36 && n == 13 && csw[0] == 'U' && csw[3] == 'S' && csw[12] == 0;
}

/* Pipes of one interface; exercise what it is. */
static BOOL Interface(WINUSB_INTERFACE_HANDLE h)
{
	USB_INTERFACE_DESCRIPTOR d;
	WINUSB_PIPE_INFORMATION pipe;
	UCHAR i, in = 0, out = 0;

	if (!WinUsb_QueryInterfaceSettings(h, 0, &d)) {
		PrintError("WinUsb_QueryInterfaceSettings");
		return FALSE;
	}
	printf("  interface %u: class %02x/%02x/%02x, %u endpoints\n", d.bInterfaceNumber,
	       d.bInterfaceClass, d.bInterfaceSubClass, d.bInterfaceProtocol, d.bNumEndpoints);
	for (i = 0; i < d.bNumEndpoints; i++) {
		if (!WinUsb_QueryPipe(h, 0, i, &pipe)) {
			PrintError("WinUsb_QueryPipe");
			return FALSE;
		}
		printf("    pipe 0x%02x type %d max packet %u\n", pipe.PipeId, (int)pipe.PipeType,
		       pipe.MaximumPacketSize);
		if (pipe.PipeType == UsbdPipeTypeBulk && !in && USB_ENDPOINT_DIRECTION_IN(pipe.PipeId))
			in = pipe.PipeId;
		if (pipe.PipeType == UsbdPipeTypeBulk && !out && USB_ENDPOINT_DIRECTION_OUT(pipe.PipeId))
			out = pipe.PipeId;
	}
	if (!in || !out)
		return TRUE;
	if (d.bInterfaceClass == 0x08 && d.bInterfaceProtocol == 0x50)
		return Inquiry(h, out, in);
	return Loopback(h, out, in);
}

static BOOL Device(const char *Path)
{
	HANDLE file;
	WINUSB_INTERFACE_HANDLE h = NULL, other = NULL;
	USB_DEVICE_DESCRIPTOR dd;
	ULONG n = 0;
	UCHAR k;
	BOOL ok;

	file = CreateFileA(Path, GENERIC_READ | GENERIC_WRITE, FILE_SHARE_READ | FILE_SHARE_WRITE,
			   NULL, OPEN_EXISTING, FILE_ATTRIBUTE_NORMAL | FILE_FLAG_OVERLAPPED, NULL);
	if (file == INVALID_HANDLE_VALUE) {
		PrintError("CreateFile");
		return FALSE;
	}
	if (!WinUsb_Initialize(file, &h)) {
		PrintError("WinUsb_Initialize");
		CloseHandle(file);
		return FALSE;
	}
	ok = WinUsb_GetDescriptor(h, USB_DEVICE_DESCRIPTOR_TYPE, 0, 0, (PUCHAR)&dd, sizeof(dd), &n);
	if (ok)
		printf("  device %04x:%04x, bcdUSB %04x\n", dd.idVendor, dd.idProduct, dd.bcdUSB);
	ok = ok && Interface(h);
	for (k = 0; ok && WinUsb_GetAssociatedInterface(h, k, &other); k++) {
		ok = Interface(other);
		WinUsb_Free(other);
	}
	if (ok && GetLastError() != ERROR_NO_MORE_ITEMS) {
		PrintError("WinUsb_GetAssociatedInterface");
		ok = FALSE;
	}
	WinUsb_Free(h);
	CloseHandle(file);
	return ok;
}

/* Every device of one interface class: returns how many, failures in *Failed. */
static int Survey(const GUID *Guid, const char *Name, int *Failed)
{
	HDEVINFO set = SetupDiGetClassDevsA(Guid, NULL, NULL, DIGCF_PRESENT | DIGCF_DEVICEINTERFACE);
	SP_DEVICE_INTERFACE_DATA ifd;
	SP_DEVINFO_DATA dev;
	PSP_DEVICE_INTERFACE_DETAIL_DATA_A detail;
	DWORD index, need;
	int found = 0;

	if (set == INVALID_HANDLE_VALUE) {
		PrintError("SetupDiGetClassDevs");
		(*Failed)++;
		return 0;
	}
	for (index = 0;; index++) {
		ifd.cbSize = sizeof(ifd);
		if (!SetupDiEnumDeviceInterfaces(set, NULL, Guid, index, &ifd)) {
			if (GetLastError() != ERROR_NO_MORE_ITEMS) {
				PrintError("SetupDiEnumDeviceInterfaces");
				(*Failed)++;
			}
			break;
		}
		need = 0;
		SetupDiGetDeviceInterfaceDetailA(set, &ifd, NULL, 0, &need, NULL);
		detail = (PSP_DEVICE_INTERFACE_DETAIL_DATA_A)HeapAlloc(GetProcessHeap(),
								       HEAP_ZERO_MEMORY, need);
		if (!detail) {
			(*Failed)++;
			break;
		}
		detail->cbSize = sizeof(*detail);
		dev.cbSize = sizeof(dev);
		found++;
		if (!SetupDiGetDeviceInterfaceDetailA(set, &ifd, detail, need, NULL, &dev)) {
			PrintError("SetupDiGetDeviceInterfaceDetail");
			(*Failed)++;
		} else {
			printf("%s device %d: %s\n", Name, found, detail->DevicePath);
			PrintProperty(set, &dev, SPDRP_HARDWAREID, "hardware ID");
			PrintProperty(set, &dev, SPDRP_FRIENDLYNAME, "friendly name");
			PrintProperty(set, &dev, SPDRP_LOCATION_INFORMATION, "location");
			if (!Device(detail->DevicePath))
				(*Failed)++;
		}
		HeapFree(GetProcessHeap(), 0, detail);
	}
	SetupDiDestroyDeviceInfoList(set);
	return found;
}

int main(int argc, char **argv)
{
	int failed = 0, found;

	found = Survey(&GUID_DEVINTERFACE_SURVEY, "INF", &failed);
	found += Survey(&GUID_DEVINTERFACE_SIM_WINUSB, "MS OS", &failed);
	printf("%d devices, %d failed\n", found, failed);
	if (argc > 1 && found != atoi(argv[1]))
		return 100;
	return failed;
}
