/*
 * A WinUSB application written for Windows: its entry point and what it
 * reports back. Nothing here (or in winusb_app.c) is bareusb's; the program
 * builds against Windows' SDK headers or, with include/bareusb/compat and
 * include/ on the include path, against bareusb's, as C or as C++.
 */
#ifndef WINUSB_APP_H
#define WINUSB_APP_H

#include <windows.h>

#ifdef __cplusplus
extern "C" {
#endif

/* What winusb_app_run returns: 0, or the step that failed. */
#define WINUSB_APP_OK 0
#define WINUSB_APP_FAIL_INITIALIZE 1 /* WinUsb_Initialize */
#define WINUSB_APP_FAIL_SPEED 2      /* WinUsb_QueryDeviceInformation(DEVICE_SPEED) */
#define WINUSB_APP_FAIL_DESCRIPTOR 3 /* WinUsb_GetDescriptor(device) */
#define WINUSB_APP_FAIL_INTERFACE 4  /* WinUsb_QueryInterfaceSettings */
#define WINUSB_APP_FAIL_PIPES 5      /* WinUsb_QueryPipe: no bulk IN + OUT pair */
#define WINUSB_APP_FAIL_POLICY 6     /* WinUsb_SetPipePolicy / GetPipePolicy */
#define WINUSB_APP_FAIL_WRITE 7      /* WinUsb_WritePipe */
#define WINUSB_APP_FAIL_READ 8       /* WinUsb_ReadPipe and its completion */
#define WINUSB_APP_FAIL_ECHO 9       /* the data read back is not the data written */
#define WINUSB_APP_FAIL_CONTROL 10   /* WinUsb_ControlTransfer(GET_STATUS) */
#define WINUSB_APP_FAIL_EVENT 11     /* CreateEvent */

/* What the application saw, for its caller to check. */
typedef struct _WINUSB_APP_REPORT {
	UCHAR DeviceSpeed;    /* LowSpeed or HighSpeed (DEVICE_SPEED) */
	USHORT VendorId;      /* idVendor of the device descriptor */
	USHORT ProductId;     /* idProduct */
	UCHAR NumEndpoints;   /* bNumEndpoints of alternate setting 0 */
	UCHAR BulkInPipe;     /* PipeId of the bulk IN pipe used */
	UCHAR BulkOutPipe;    /* PipeId of the bulk OUT pipe used */
	ULONG BytesWritten;   /* total of every WritePipe */
	ULONG BytesRead;      /* total of every ReadPipe (each checked against its write) */
	USHORT DeviceStatus;  /* GET_STATUS(device) */
	USHORT PipeStatus;    /* GET_STATUS(bulk IN endpoint): bit 0 = halted */
	ULONG CplusplusLevel; /* __cplusplus when built as C++, else 0 */
} WINUSB_APP_REPORT, *PWINUSB_APP_REPORT;

/*
 * Talk to the WinUSB device opened as DeviceFile (CreateFile on its device
 * interface path, with FILE_FLAG_OVERLAPPED): query it, loop data through
 * its first bulk OUT/IN pipe pair and check it comes back unchanged, read
 * its status. DeviceFile is the application's from then on: it is closed
 * before returning, whatever the outcome. Report (may be NULL) is filled
 * with what was seen. Returns WINUSB_APP_OK or the failing step; the
 * reason is printed to stderr and left in GetLastError().
 */
int winusb_app_run(HANDLE DeviceFile, PWINUSB_APP_REPORT Report);

#ifdef __cplusplus
}
#endif

#endif
