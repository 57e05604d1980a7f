/*
 * A WinUSB application as one writes it for Windows (Microsoft's "Write a
 * Windows desktop app that communicates with a USB device" flow, plain C,
 * no <tchar.h>): initialize on an opened device file, ask the speed, read
 * the device descriptor, walk the pipes of alternate setting 0, set pipe
 * timeouts, loop data through the bulk pipes (synchronous and overlapped,
 * with events), read the device and pipe status with control transfers,
 * and clean up. Device discovery (SetupAPI + CreateFile) is the caller's.
 *
 * It uses only Windows' headers and names, so it builds unchanged against
 * the Windows SDK and against include/bareusb/compat, as C and as C++.
 *
 * DWORD and ULONG are 32 bits everywhere, but unsigned long is 64 bits on
 * LP64 targets, so they are printed as (unsigned long) with %lu: right on
 * Windows (where the cast does nothing) and on bareusb.
 */
#include <windows.h>
#include <winusb.h>
#include <winusbio.h>
#include <usb.h>

#include <stdio.h>
#include <string.h>

#include "winusb_app.h"

#define PIPE_TIMEOUT_MS 2000
#define MESSAGE_LENGTH 1000 /* not a multiple of any bulk wMaxPacketSize */
#define REPLY_LENGTH 300

static UCHAR g_out[MESSAGE_LENGTH];
static UCHAR g_in[MESSAGE_LENGTH + 24];

static void PrintError(const char *what)
{
	fprintf(stderr, "winusb_app: %s failed, error %lu\n", what,
		(unsigned long)GetLastError());
}

static void FillPattern(PUCHAR buffer, ULONG length, UCHAR seed)
{
	ULONG i;

	for (i = 0; i < length; i++)
		buffer[i] = (UCHAR)(i * 31 + seed);
}

/* The pipe IDs of the first bulk IN and bulk OUT pipes of setting 0. */
static BOOL QueryDeviceEndpoints(WINUSB_INTERFACE_HANDLE hWinUsb, PUCHAR pNumEndpoints,
				 PUCHAR pPipeInId, PUCHAR pPipeOutId)
{
	USB_INTERFACE_DESCRIPTOR InterfaceDescriptor;
	WINUSB_PIPE_INFORMATION Pipe;
	UCHAR index;

	ZeroMemory(&InterfaceDescriptor, sizeof(InterfaceDescriptor));
	if (!WinUsb_QueryInterfaceSettings(hWinUsb, 0, &InterfaceDescriptor)) {
		PrintError("WinUsb_QueryInterfaceSettings");
		return FALSE;
	}
	*pNumEndpoints = InterfaceDescriptor.bNumEndpoints;
	*pPipeInId = 0;
	*pPipeOutId = 0;
	for (index = 0; index < InterfaceDescriptor.bNumEndpoints; index++) {
		ZeroMemory(&Pipe, sizeof(Pipe));
		if (!WinUsb_QueryPipe(hWinUsb, 0, index, &Pipe)) {
			PrintError("WinUsb_QueryPipe");
			return FALSE;
		}
		if (Pipe.PipeType != UsbdPipeTypeBulk)
			continue;
		if (USB_ENDPOINT_DIRECTION_IN(Pipe.PipeId)) {
			if (!*pPipeInId)
				*pPipeInId = Pipe.PipeId;
		} else if (USB_ENDPOINT_DIRECTION_OUT(Pipe.PipeId)) {
			if (!*pPipeOutId)
				*pPipeOutId = Pipe.PipeId;
		}
	}
	/* Past the last pipe the index is refused with ERROR_NO_MORE_ITEMS. */
	if (WinUsb_QueryPipe(hWinUsb, 0, InterfaceDescriptor.bNumEndpoints, &Pipe) ||
	    GetLastError() != ERROR_NO_MORE_ITEMS) {
		fprintf(stderr, "winusb_app: QueryPipe past the end: error %lu\n",
			(unsigned long)GetLastError());
		return FALSE;
	}
	return *pPipeInId && *pPipeOutId;
}

static BOOL SetPipeTimeout(WINUSB_INTERFACE_HANDLE hWinUsb, UCHAR PipeId)
{
	ULONG timeout = PIPE_TIMEOUT_MS;
	ULONG readBack = 0;
	ULONG length = sizeof(readBack);

	if (!WinUsb_SetPipePolicy(hWinUsb, PipeId, PIPE_TRANSFER_TIMEOUT, sizeof(timeout),
				  &timeout)) {
		PrintError("WinUsb_SetPipePolicy(PIPE_TRANSFER_TIMEOUT)");
		return FALSE;
	}
	if (!WinUsb_GetPipePolicy(hWinUsb, PipeId, PIPE_TRANSFER_TIMEOUT, &length, &readBack)) {
		PrintError("WinUsb_GetPipePolicy(PIPE_TRANSFER_TIMEOUT)");
		return FALSE;
	}
	if (length != sizeof(readBack) || readBack != timeout) {
		fprintf(stderr, "winusb_app: pipe %02x timeout reads back as %lu\n", PipeId,
			(unsigned long)readBack);
		return FALSE;
	}
	return TRUE;
}

/* A standard GET_STATUS to the device or to an endpoint (USB 2.0 §9.4.5). */
static BOOL GetStatus(WINUSB_INTERFACE_HANDLE hWinUsb, UCHAR Recipient, USHORT Index,
		      PUSHORT pStatus)
{
	WINUSB_SETUP_PACKET SetupPacket;
	UCHAR status[2] = { 0xff, 0xff };
	ULONG cbSent = 0;

	ZeroMemory(&SetupPacket, sizeof(SetupPacket));
	SetupPacket.RequestType = (UCHAR)((BMREQUEST_DEVICE_TO_HOST << 7) |
					  (BMREQUEST_STANDARD << 5) | Recipient);
	SetupPacket.Request = USB_REQUEST_GET_STATUS;
	SetupPacket.Value = 0;
	SetupPacket.Index = Index;
	SetupPacket.Length = sizeof(status);
	if (!WinUsb_ControlTransfer(hWinUsb, SetupPacket, status, sizeof(status), &cbSent, NULL)) {
		PrintError("WinUsb_ControlTransfer(GET_STATUS)");
		return FALSE;
	}
	if (cbSent != sizeof(status)) {
		fprintf(stderr, "winusb_app: GET_STATUS returned %lu bytes\n",
			(unsigned long)cbSent);
		return FALSE;
	}
	*pStatus = (USHORT)(status[0] | (status[1] << 8));
	return TRUE;
}

/* Wait for an overlapped request; the byte count in *pcbTransferred. */
static BOOL WaitForRequest(WINUSB_INTERFACE_HANDLE hWinUsb, LPOVERLAPPED pOverlapped,
			   PULONG pcbTransferred)
{
	DWORD waitResult = WaitForSingleObject(pOverlapped->hEvent, PIPE_TIMEOUT_MS * 2);

	if (waitResult != WAIT_OBJECT_0) {
		fprintf(stderr, "winusb_app: WaitForSingleObject returned %lu\n",
			(unsigned long)waitResult);
		return FALSE;
	}
	if (!WinUsb_GetOverlappedResult(hWinUsb, pOverlapped, pcbTransferred, FALSE)) {
		PrintError("WinUsb_GetOverlappedResult");
		return FALSE;
	}
	return TRUE;
}

static BOOL CheckEcho(ULONG cbWritten, ULONG cbRead)
{
	if (cbRead != cbWritten || memcmp(g_in, g_out, cbWritten) != 0) {
		fprintf(stderr, "winusb_app: wrote %lu bytes, read back %lu, not the same\n",
			(unsigned long)cbWritten, (unsigned long)cbRead);
		return FALSE;
	}
	return TRUE;
}

/*
 * Round 1: a synchronous write, then an overlapped read (which may also
 * complete at once) waited for with its event.
 */
static int WriteThenRead(WINUSB_INTERFACE_HANDLE hWinUsb, HANDLE hEvent, UCHAR PipeOutId,
			 UCHAR PipeInId, PWINUSB_APP_REPORT pReport)
{
	OVERLAPPED Overlapped;
	ULONG cbSent = 0, cbRead = 0;

	FillPattern(g_out, MESSAGE_LENGTH, 0x5a);
	if (!WinUsb_WritePipe(hWinUsb, PipeOutId, g_out, MESSAGE_LENGTH, &cbSent, NULL)) {
		PrintError("WinUsb_WritePipe");
		return WINUSB_APP_FAIL_WRITE;
	}
	pReport->BytesWritten += cbSent;
	if (cbSent != MESSAGE_LENGTH) {
		fprintf(stderr, "winusb_app: wrote %lu of %d bytes\n", (unsigned long)cbSent,
			MESSAGE_LENGTH);
		return WINUSB_APP_FAIL_WRITE;
	}

	ZeroMemory(&Overlapped, sizeof(Overlapped));
	Overlapped.hEvent = hEvent;
	ResetEvent(hEvent);
	memset(g_in, 0, sizeof(g_in));
	if (!WinUsb_ReadPipe(hWinUsb, PipeInId, g_in, sizeof(g_in), NULL, &Overlapped) &&
	    GetLastError() != ERROR_IO_PENDING) {
		PrintError("WinUsb_ReadPipe");
		return WINUSB_APP_FAIL_READ;
	}
	if (!WaitForRequest(hWinUsb, &Overlapped, &cbRead))
		return WINUSB_APP_FAIL_READ;
	pReport->BytesRead += cbRead;
	return CheckEcho(cbSent, cbRead) ? WINUSB_APP_OK : WINUSB_APP_FAIL_ECHO;
}

/*
 * Round 2: the read is queued first (it must stay pending: nothing has been
 * sent), then an overlapped write completed through Win32's
 * GetOverlappedResult on the device file, then the read.
 */
static int ReadWhileWriting(WINUSB_INTERFACE_HANDLE hWinUsb, HANDLE hDeviceFile, HANDLE hEvent,
			    UCHAR PipeOutId, UCHAR PipeInId, PWINUSB_APP_REPORT pReport)
{
	OVERLAPPED ReadOverlapped, WriteOverlapped;
	HANDLE hWriteEvent;
	DWORD cbSent = 0;
	ULONG cbRead = 0;
	int result = WINUSB_APP_OK;

	hWriteEvent = CreateEvent(NULL, TRUE, FALSE, NULL);
	if (hWriteEvent == NULL) {
		PrintError("CreateEvent");
		return WINUSB_APP_FAIL_EVENT;
	}
	ZeroMemory(&ReadOverlapped, sizeof(ReadOverlapped));
	ZeroMemory(&WriteOverlapped, sizeof(WriteOverlapped));
	ReadOverlapped.hEvent = hEvent;
	WriteOverlapped.hEvent = hWriteEvent;
	ResetEvent(hEvent);
	memset(g_in, 0, sizeof(g_in));
	FillPattern(g_out, REPLY_LENGTH, 0xa5);

	if (WinUsb_ReadPipe(hWinUsb, PipeInId, g_in, sizeof(g_in), NULL, &ReadOverlapped) ||
	    GetLastError() != ERROR_IO_PENDING) {
		PrintError("WinUsb_ReadPipe (queued before the write)");
		result = WINUSB_APP_FAIL_READ;
		goto out;
	}
	if (!WinUsb_WritePipe(hWinUsb, PipeOutId, g_out, REPLY_LENGTH, NULL, &WriteOverlapped) &&
	    GetLastError() != ERROR_IO_PENDING) {
		PrintError("WinUsb_WritePipe (overlapped)");
		WinUsb_AbortPipe(hWinUsb, PipeInId);
		result = WINUSB_APP_FAIL_WRITE;
		goto out;
	}
	if (!GetOverlappedResult(hDeviceFile, &WriteOverlapped, &cbSent, TRUE)) {
		PrintError("GetOverlappedResult (write)");
		WinUsb_AbortPipe(hWinUsb, PipeInId);
		result = WINUSB_APP_FAIL_WRITE;
		goto out;
	}
	pReport->BytesWritten += cbSent;
	if (!WaitForRequest(hWinUsb, &ReadOverlapped, &cbRead)) {
		WinUsb_AbortPipe(hWinUsb, PipeInId);
		result = WINUSB_APP_FAIL_READ;
		goto out;
	}
	pReport->BytesRead += cbRead;
	if (!CheckEcho(cbSent, cbRead))
		result = WINUSB_APP_FAIL_ECHO;
out:
	CloseHandle(hWriteEvent);
	return result;
}

static int TalkToDevice(WINUSB_INTERFACE_HANDLE hWinUsb, HANDLE hDeviceFile,
			PWINUSB_APP_REPORT pReport)
{
	USB_DEVICE_DESCRIPTOR DeviceDescriptor;
	UCHAR DeviceSpeed = 0;
	ULONG length = sizeof(DeviceSpeed);
	UCHAR PipeInId = 0, PipeOutId = 0;
	HANDLE hEvent;
	int result;

	if (!WinUsb_QueryDeviceInformation(hWinUsb, DEVICE_SPEED, &length, &DeviceSpeed) ||
	    length != sizeof(DeviceSpeed)) {
		PrintError("WinUsb_QueryDeviceInformation(DEVICE_SPEED)");
		return WINUSB_APP_FAIL_SPEED;
	}
	if (DeviceSpeed != LowSpeed && DeviceSpeed != FullSpeed && DeviceSpeed != HighSpeed) {
		fprintf(stderr, "winusb_app: unknown device speed %u\n", DeviceSpeed);
		return WINUSB_APP_FAIL_SPEED;
	}
	pReport->DeviceSpeed = DeviceSpeed;

	ZeroMemory(&DeviceDescriptor, sizeof(DeviceDescriptor));
	length = 0;
	if (!WinUsb_GetDescriptor(hWinUsb, USB_DEVICE_DESCRIPTOR_TYPE, 0, 0,
				  (PUCHAR)&DeviceDescriptor, sizeof(DeviceDescriptor), &length)) {
		PrintError("WinUsb_GetDescriptor(USB_DEVICE_DESCRIPTOR_TYPE)");
		return WINUSB_APP_FAIL_DESCRIPTOR;
	}
	if (length != sizeof(DeviceDescriptor) ||
	    DeviceDescriptor.bLength != sizeof(DeviceDescriptor) ||
	    DeviceDescriptor.bDescriptorType != USB_DEVICE_DESCRIPTOR_TYPE) {
		fprintf(stderr, "winusb_app: bad device descriptor (%lu bytes)\n",
			(unsigned long)length);
		return WINUSB_APP_FAIL_DESCRIPTOR;
	}
	pReport->VendorId = DeviceDescriptor.idVendor;
	pReport->ProductId = DeviceDescriptor.idProduct;

	if (!QueryDeviceEndpoints(hWinUsb, &pReport->NumEndpoints, &PipeInId, &PipeOutId))
		return pReport->NumEndpoints ? WINUSB_APP_FAIL_PIPES : WINUSB_APP_FAIL_INTERFACE;
	pReport->BulkInPipe = PipeInId;
	pReport->BulkOutPipe = PipeOutId;

	if (!SetPipeTimeout(hWinUsb, PipeInId) || !SetPipeTimeout(hWinUsb, PipeOutId))
		return WINUSB_APP_FAIL_POLICY;

	hEvent = CreateEvent(NULL, TRUE, FALSE, NULL);
	if (hEvent == NULL) {
		PrintError("CreateEvent");
		return WINUSB_APP_FAIL_EVENT;
	}
	result = WriteThenRead(hWinUsb, hEvent, PipeOutId, PipeInId, pReport);
	if (result == WINUSB_APP_OK)
		result = ReadWhileWriting(hWinUsb, hDeviceFile, hEvent, PipeOutId, PipeInId,
					  pReport);
	CloseHandle(hEvent);
	if (result != WINUSB_APP_OK)
		return result;

	if (!GetStatus(hWinUsb, BMREQUEST_TO_DEVICE, 0, &pReport->DeviceStatus) ||
	    !GetStatus(hWinUsb, BMREQUEST_TO_ENDPOINT, PipeInId, &pReport->PipeStatus))
		return WINUSB_APP_FAIL_CONTROL;
	return WINUSB_APP_OK;
}

int winusb_app_run(HANDLE DeviceFile, PWINUSB_APP_REPORT Report)
{
	WINUSB_APP_REPORT local;
	WINUSB_INTERFACE_HANDLE hWinUsb = NULL;
	DWORD lastError;
	int result;

	if (Report == NULL)
		Report = &local;
	ZeroMemory(Report, sizeof(*Report));
#ifdef __cplusplus
	Report->CplusplusLevel = (ULONG)__cplusplus;
#endif

	if (!WinUsb_Initialize(DeviceFile, &hWinUsb)) {
		PrintError("WinUsb_Initialize");
		result = WINUSB_APP_FAIL_INITIALIZE;
	} else {
		result = TalkToDevice(hWinUsb, DeviceFile, Report);
	}

	/* Clean up without losing the reason of a failure. */
	lastError = GetLastError();
	if (hWinUsb != NULL)
		WinUsb_Free(hWinUsb);
	if (DeviceFile != INVALID_HANDLE_VALUE)
		CloseHandle(DeviceFile);
	SetLastError(result == WINUSB_APP_OK ? ERROR_SUCCESS : lastError);
	return result;
}
