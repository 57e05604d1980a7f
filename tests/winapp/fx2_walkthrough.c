/*
 * A Windows desktop program for the OSR USB FX2 Learning Kit, written from
 * Microsoft's documentation only: the steps of "How to access a USB device
 * by using WinUSB functions" and the WinUSB application template's
 * discovery, in order -
 *   1. find the device interface path (SetupDiGetClassDevs with
 *      DIGCF_PRESENT | DIGCF_DEVICEINTERFACE, SetupDiEnumDeviceInterfaces,
 *      SetupDiGetDeviceInterfaceDetail twice: the size, then the path),
 *   2. open it (CreateFile with FILE_FLAG_OVERLAPPED) and WinUsb_Initialize,
 *   3. ask the device speed (WinUsb_QueryDeviceInformation),
 *   4. walk interface setting 0 and its pipes (WinUsb_QueryInterfaceSettings,
 *      WinUsb_QueryPipe),
 *   5. light the bar graph with a vendor request on the default endpoint
 *      (WinUsb_ControlTransfer) and read it back,
 *   6. loop data through the bulk pipes, synchronously and overlapped
 *      (WinUsb_WritePipe, WinUsb_ReadPipe, WinUsb_GetOverlappedResult),
 *   7. read the switches from the interrupt pipe,
 *   8. clean up (WinUsb_Free, CloseHandle).
 * The FX2 kit's vendor requests and endpoints are those OSR documents for
 * the kit. Its INF is fx2_walkthrough.inf (the interface GUID below).
 *
 * It includes only Windows headers: it builds with MinGW-w64 against the
 * real Windows SDK headers, and with scripts/winapp against bareusb's
 * include/bareusb/compat, unchanged.
 *
 * Usage: fx2_walkthrough [BARGRAPH-HEX]. Prints what it did; exits 0 when
 * every step worked, else the number of the step that failed.
 */
#include <windows.h>
#include <tchar.h>
#include <strsafe.h>
#include <setupapi.h>
#include <winusb.h>
#include <usb.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <initguid.h>

/* {3D2E6F1A-8C4B-4F5E-9A7D-1B2C3D4E5F60}: this program's device interface (its INF). */
DEFINE_GUID(GUID_DEVINTERFACE_FX2_WALKTHROUGH, 0x3d2e6f1a, 0x8c4b, 0x4f5e, 0x9a, 0x7d, 0x1b,
	    0x2c, 0x3d, 0x4e, 0x5f, 0x60);

/* The kit's vendor requests (OSR USB FX2 Learning Kit documentation). */
#define FX2_READ_7SEGMENT_DISPLAY 0xD4
#define FX2_READ_SWITCHES 0xD6
#define FX2_READ_BARGRAPH_DISPLAY 0xD7
#define FX2_SET_BARGRAPH_DISPLAY 0xD8
#define FX2_SET_7SEGMENT_DISPLAY 0xDB

#define LOOP_LENGTH 700 /* not a multiple of 64 or 512: the last packet is short */

typedef struct _DEVICE_DATA {
	HANDLE DeviceHandle;
	WINUSB_INTERFACE_HANDLE WinusbHandle;
	UCHAR PipeBulkIn;
	UCHAR PipeBulkOut;
	UCHAR PipeInterrupt;
	TCHAR DevicePath[MAX_PATH];
} DEVICE_DATA, *PDEVICE_DATA;

static void PrintError(const char *Step)
{
	printf("%s failed: error %lu\n", Step, (unsigned long)GetLastError());
}

/* Step 1: the path of the first device that registered our interface. */
static BOOL GetDevicePath(LPTSTR DevicePath, size_t BufLen)
{
	HDEVINFO deviceInfo;
	SP_DEVICE_INTERFACE_DATA interfaceData;
	SP_DEVINFO_DATA devinfoData;
	PSP_DEVICE_INTERFACE_DETAIL_DATA detailData = NULL;
	ULONG length = 0, requiredLength = 0;
	BYTE hardwareId[256];
	DWORD propertyType = 0;
	BOOL result = FALSE;
	HRESULT hr;

	deviceInfo = SetupDiGetClassDevs(&GUID_DEVINTERFACE_FX2_WALKTHROUGH, NULL, NULL,
					 DIGCF_PRESENT | DIGCF_DEVICEINTERFACE);
	if (deviceInfo == INVALID_HANDLE_VALUE) {
		PrintError("SetupDiGetClassDevs");
		return FALSE;
	}
	interfaceData.cbSize = sizeof(SP_DEVICE_INTERFACE_DATA);
	if (!SetupDiEnumDeviceInterfaces(deviceInfo, NULL, &GUID_DEVINTERFACE_FX2_WALKTHROUGH, 0,
					 &interfaceData)) {
		PrintError("SetupDiEnumDeviceInterfaces");
		goto done;
	}
	/* First call: the size only, which fails with ERROR_INSUFFICIENT_BUFFER. */
	if (SetupDiGetDeviceInterfaceDetail(deviceInfo, &interfaceData, NULL, 0, &requiredLength,
					    NULL) ||
	    GetLastError() != ERROR_INSUFFICIENT_BUFFER) {
		PrintError("SetupDiGetDeviceInterfaceDetail (size)");
		goto done;
	}
	detailData = (PSP_DEVICE_INTERFACE_DETAIL_DATA)LocalAlloc(LMEM_FIXED, requiredLength);
	if (detailData == NULL) {
		PrintError("LocalAlloc");
		goto done;
	}
	detailData->cbSize = sizeof(SP_DEVICE_INTERFACE_DETAIL_DATA);
	length = requiredLength;
	devinfoData.cbSize = sizeof(SP_DEVINFO_DATA);
	if (!SetupDiGetDeviceInterfaceDetail(deviceInfo, &interfaceData, detailData, length,
					     &requiredLength, &devinfoData)) {
		PrintError("SetupDiGetDeviceInterfaceDetail");
		goto done;
	}
	hr = StringCchCopy(DevicePath, BufLen, detailData->DevicePath);
	if (FAILED(hr)) {
		printf("StringCchCopy failed: 0x%08lx\n", (unsigned long)hr);
		goto done;
	}
	/* Which device it is, as Device Manager would show it. */
	if (SetupDiGetDeviceRegistryProperty(deviceInfo, &devinfoData, SPDRP_HARDWAREID,
					     &propertyType, hardwareId, sizeof(hardwareId), NULL) &&
	    propertyType == REG_MULTI_SZ)
		printf("Hardware ID: %s\n", (const char *)hardwareId);
	result = TRUE;
done:
	LocalFree(detailData);
	SetupDiDestroyDeviceInfoList(deviceInfo);
	return result;
}

/* Step 2: open the device and get a WinUSB handle. */
static BOOL OpenDevice(PDEVICE_DATA DeviceData)
{
	if (!GetDevicePath(DeviceData->DevicePath, sizeof(DeviceData->DevicePath) / sizeof(TCHAR)))
		return FALSE;
	DeviceData->DeviceHandle =
		CreateFile(DeviceData->DevicePath, GENERIC_WRITE | GENERIC_READ,
			   FILE_SHARE_WRITE | FILE_SHARE_READ, NULL, OPEN_EXISTING,
			   FILE_ATTRIBUTE_NORMAL | FILE_FLAG_OVERLAPPED, NULL);
	if (DeviceData->DeviceHandle == INVALID_HANDLE_VALUE) {
		PrintError("CreateFile");
		return FALSE;
	}
	if (!WinUsb_Initialize(DeviceData->DeviceHandle, &DeviceData->WinusbHandle)) {
		PrintError("WinUsb_Initialize");
		CloseHandle(DeviceData->DeviceHandle);
		return FALSE;
	}
	return TRUE;
}

/* Step 3. */
static BOOL GetUSBDeviceSpeed(WINUSB_INTERFACE_HANDLE hDeviceHandle, UCHAR *pDeviceSpeed)
{
	ULONG length = sizeof(UCHAR);

	if (!WinUsb_QueryDeviceInformation(hDeviceHandle, DEVICE_SPEED, &length, pDeviceSpeed)) {
		PrintError("WinUsb_QueryDeviceInformation");
		return FALSE;
	}
	if (*pDeviceSpeed == LowSpeed)
		printf("Device speed: %u (Low speed or full speed)\n", *pDeviceSpeed);
	else if (*pDeviceSpeed == HighSpeed)
		printf("Device speed: %u (High speed)\n", *pDeviceSpeed);
	else
		printf("Device speed: %u\n", *pDeviceSpeed);
	return TRUE;
}

/* Step 4: the pipes of interface setting 0. */
static BOOL QueryDeviceEndpoints(PDEVICE_DATA DeviceData)
{
	USB_INTERFACE_DESCRIPTOR InterfaceDescriptor;
	WINUSB_PIPE_INFORMATION Pipe;
	UCHAR index;

	ZeroMemory(&InterfaceDescriptor, sizeof(USB_INTERFACE_DESCRIPTOR));
	if (!WinUsb_QueryInterfaceSettings(DeviceData->WinusbHandle, 0, &InterfaceDescriptor)) {
		PrintError("WinUsb_QueryInterfaceSettings");
		return FALSE;
	}
	printf("Interface %u: %u endpoints\n", InterfaceDescriptor.bInterfaceNumber,
	       InterfaceDescriptor.bNumEndpoints);
	for (index = 0; index < InterfaceDescriptor.bNumEndpoints; index++) {
		ZeroMemory(&Pipe, sizeof(WINUSB_PIPE_INFORMATION));
		if (!WinUsb_QueryPipe(DeviceData->WinusbHandle, 0, index, &Pipe)) {
			PrintError("WinUsb_QueryPipe");
			return FALSE;
		}
		if (Pipe.PipeType == UsbdPipeTypeBulk && USB_ENDPOINT_DIRECTION_IN(Pipe.PipeId)) {
			printf("Endpoint index: %u Pipe type: Bulk Pipe ID: 0x%02x\n", index, Pipe.PipeId);
			DeviceData->PipeBulkIn = Pipe.PipeId;
		} else if (Pipe.PipeType == UsbdPipeTypeBulk &&
			   USB_ENDPOINT_DIRECTION_OUT(Pipe.PipeId)) {
			printf("Endpoint index: %u Pipe type: Bulk Pipe ID: 0x%02x\n", index, Pipe.PipeId);
			DeviceData->PipeBulkOut = Pipe.PipeId;
		} else if (Pipe.PipeType == UsbdPipeTypeInterrupt) {
			printf("Endpoint index: %u Pipe type: Interrupt Pipe ID: 0x%02x\n", index,
			       Pipe.PipeId);
			DeviceData->PipeInterrupt = Pipe.PipeId;
		}
	}
	return DeviceData->PipeBulkIn && DeviceData->PipeBulkOut && DeviceData->PipeInterrupt;
}

/* A one-byte vendor request to the interface (Steps 5 and 7). */
static BOOL VendorRequest(WINUSB_INTERFACE_HANDLE hDeviceHandle, BOOL ToDevice, UCHAR Request,
			  UCHAR *pValue)
{
	WINUSB_SETUP_PACKET SetupPacket;
	ULONG cbSent = 0;

	ZeroMemory(&SetupPacket, sizeof(WINUSB_SETUP_PACKET));
	/* Vendor request to the interface: 0x41 out, 0xC1 in. */
	SetupPacket.RequestType = ToDevice ? 0x41 : 0xC1;
	SetupPacket.Request = Request;
	SetupPacket.Value = 0;
	SetupPacket.Index = 0;
	SetupPacket.Length = sizeof(UCHAR);
	if (!WinUsb_ControlTransfer(hDeviceHandle, SetupPacket, pValue, sizeof(UCHAR), &cbSent, 0)) {
		PrintError("WinUsb_ControlTransfer");
		return FALSE;
	}
	return cbSent == sizeof(UCHAR);
}

/* Step 5: the bar graph, set and read back. */
static BOOL SendDatatoDefaultEndpoint(WINUSB_INTERFACE_HANDLE hDeviceHandle, UCHAR Bars)
{
	UCHAR value = Bars, readBack = 0;

	if (!VendorRequest(hDeviceHandle, TRUE, FX2_SET_BARGRAPH_DISPLAY, &value) ||
	    !VendorRequest(hDeviceHandle, FALSE, FX2_READ_BARGRAPH_DISPLAY, &readBack))
		return FALSE;
	printf("Bar graph: set 0x%02x, reads 0x%02x\n", Bars, readBack);
	return readBack == Bars;
}

/* Step 6a: synchronous write, then synchronous read of the same bytes. */
static BOOL LoopSynchronous(PDEVICE_DATA DeviceData, UCHAR *Out, UCHAR *In)
{
	ULONG cbSent = 0, cbRead = 0;

	if (!WinUsb_WritePipe(DeviceData->WinusbHandle, DeviceData->PipeBulkOut, Out, LOOP_LENGTH,
			      &cbSent, 0)) {
		PrintError("WinUsb_WritePipe");
		return FALSE;
	}
	printf("Wrote to pipe 0x%02x: %lu bytes\n", DeviceData->PipeBulkOut, (unsigned long)cbSent);
	if (!WinUsb_ReadPipe(DeviceData->WinusbHandle, DeviceData->PipeBulkIn, In, LOOP_LENGTH,
			     &cbRead, 0)) {
		PrintError("WinUsb_ReadPipe");
		return FALSE;
	}
	printf("Read from pipe 0x%02x: %lu bytes\n", DeviceData->PipeBulkIn, (unsigned long)cbRead);
	return cbSent == LOOP_LENGTH && cbRead == cbSent && memcmp(Out, In, cbRead) == 0;
}

/* Step 6b: the read queued first (overlapped), then the write, then both completed. */
static BOOL LoopOverlapped(PDEVICE_DATA DeviceData, UCHAR *Out, UCHAR *In)
{
	OVERLAPPED readOverlapped, writeOverlapped;
	ULONG cbRead = 0, cbSent = 0;
	BOOL ok = FALSE;

	ZeroMemory(&readOverlapped, sizeof(OVERLAPPED));
	ZeroMemory(&writeOverlapped, sizeof(OVERLAPPED));
	readOverlapped.hEvent = CreateEvent(NULL, TRUE, FALSE, NULL);
	writeOverlapped.hEvent = CreateEvent(NULL, TRUE, FALSE, NULL);
	if (readOverlapped.hEvent == NULL || writeOverlapped.hEvent == NULL) {
		PrintError("CreateEvent");
		goto done;
	}
	if (WinUsb_ReadPipe(DeviceData->WinusbHandle, DeviceData->PipeBulkIn, In, LOOP_LENGTH, NULL,
			    &readOverlapped) ||
	    GetLastError() != ERROR_IO_PENDING) {
		PrintError("WinUsb_ReadPipe (overlapped)");
		goto done;
	}
	if (!WinUsb_WritePipe(DeviceData->WinusbHandle, DeviceData->PipeBulkOut, Out, LOOP_LENGTH,
			      NULL, &writeOverlapped) &&
	    GetLastError() != ERROR_IO_PENDING) {
		PrintError("WinUsb_WritePipe (overlapped)");
		WinUsb_AbortPipe(DeviceData->WinusbHandle, DeviceData->PipeBulkIn);
		goto done;
	}
	if (!WinUsb_GetOverlappedResult(DeviceData->WinusbHandle, &writeOverlapped, &cbSent, TRUE) ||
	    !WinUsb_GetOverlappedResult(DeviceData->WinusbHandle, &readOverlapped, &cbRead, TRUE)) {
		PrintError("WinUsb_GetOverlappedResult");
		WinUsb_AbortPipe(DeviceData->WinusbHandle, DeviceData->PipeBulkIn);
		goto done;
	}
	printf("Overlapped: wrote %lu, read %lu bytes\n", (unsigned long)cbSent,
	       (unsigned long)cbRead);
	ok = cbSent == LOOP_LENGTH && cbRead == cbSent && memcmp(Out, In, cbRead) == 0;
done:
	if (readOverlapped.hEvent)
		CloseHandle(readOverlapped.hEvent);
	if (writeOverlapped.hEvent)
		CloseHandle(writeOverlapped.hEvent);
	return ok;
}

/* Step 7: the switch report on the interrupt pipe, against READ_SWITCHES. */
static BOOL ReadSwitches(PDEVICE_DATA DeviceData)
{
	UCHAR report = 0, switches = 0;
	ULONG cbRead = 0, timeout = 1000;

	if (!WinUsb_SetPipePolicy(DeviceData->WinusbHandle, DeviceData->PipeInterrupt,
				  PIPE_TRANSFER_TIMEOUT, sizeof(timeout), &timeout)) {
		PrintError("WinUsb_SetPipePolicy");
		return FALSE;
	}
	if (!WinUsb_ReadPipe(DeviceData->WinusbHandle, DeviceData->PipeInterrupt, &report,
			     sizeof(report), &cbRead, 0)) {
		PrintError("WinUsb_ReadPipe (interrupt)");
		return FALSE;
	}
	if (!VendorRequest(DeviceData->WinusbHandle, FALSE, FX2_READ_SWITCHES, &switches))
		return FALSE;
	printf("Switches: interrupt report 0x%02x (%lu byte), READ_SWITCHES 0x%02x\n", report,
	       (unsigned long)cbRead, switches);
	return cbRead == 1 && report == switches;
}

int __cdecl _tmain(int argc, LPTSTR *argv)
{
	DEVICE_DATA deviceData;
	UCHAR deviceSpeed = 0, bars = 0x5a;
	static UCHAR out[LOOP_LENGTH], in[LOOP_LENGTH];
	int step = 0;
	ULONG i;

	if (argc > 1)
		bars = (UCHAR)strtoul(argv[1], NULL, 16);
	for (i = 0; i < LOOP_LENGTH; i++)
		out[i] = (UCHAR)(i * 7 + 3);
	ZeroMemory(&deviceData, sizeof(deviceData));
	if (!OpenDevice(&deviceData)) {
		printf("Device not found or not opened\n");
		return 2;
	}
	printf("Device path: %s\n", deviceData.DevicePath);
	if (!GetUSBDeviceSpeed(deviceData.WinusbHandle, &deviceSpeed))
		step = 3;
	else if (!QueryDeviceEndpoints(&deviceData))
		step = 4;
	else if (!SendDatatoDefaultEndpoint(deviceData.WinusbHandle, bars))
		step = 5;
	else if (!LoopSynchronous(&deviceData, out, in))
		step = 6;
	else if (!LoopOverlapped(&deviceData, out, in))
		step = 6;
	else if (!ReadSwitches(&deviceData))
		step = 7;

	/* Step 8. */
	WinUsb_Free(deviceData.WinusbHandle);
	CloseHandle(deviceData.DeviceHandle);
	if (step)
		printf("Step %d failed\n", step);
	else
		printf("All steps passed\n");
	return step;
}
