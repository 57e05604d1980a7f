/*
 * winusb.h for bareusb: the WinUSB API ("WinUSB functions", winusb.h) with
 * Microsoft's names, types, structure layouts, constants and return
 * conventions, so that a program written against Windows' Winusb.dll builds
 * against this header unchanged (device discovery aside) and behaves the
 * same on bare metal.
 *
 * How it maps onto a freestanding library
 * ---------------------------------------
 * Windows keeps the last error per thread and finds "the process" without
 * being told. A freestanding library has neither threads nor globals, so
 * every piece of state hangs off an API instance (`struct bu_winusb_api`,
 * the analogue of Winusb.dll loaded in one process) that the embedder
 * creates. The library exports each function as `bu_winusb_<name>(api,
 * ...)`; this header turns them into Microsoft's names (WinUsb_*,
 * GetLastError, CreateEvent, WaitForSingleObject, CloseHandle, CreateFile,
 * ...) as static inline wrappers that pass BU_WINUSB_CURRENT(), by default
 * `bu_winusb_current()`: a function the *embedder* defines (one instance
 * for a single-threaded embedder, the calling thread's for a threaded one).
 * So the library needs no global and no link-time hook, and a Windows
 * program needs no change.
 *
 * Last error: kept in the API instance (set by every function, as Windows
 * does), or in the slot the embedder's bu_winusb_api_set_error_slot()
 * callback returns, which gives true per-thread semantics.
 *
 * Waiting: nothing runs in the background. Synchronous calls, GetOverlapped
 * Result(bWait = TRUE) and WaitForSingleObject poll the driver part until
 * the request completes; an INFINITE wait is bounded by the instance's
 * wait cap (bu_winusb_api_set_wait_cap, default 10 minutes), after which a
 * synchronous request of any kind (pipe, control, isochronous) is
 * cancelled and fails with ERROR_SEM_TIMEOUT - but only once it is back:
 * no synchronous call returns while the controller may still use the
 * caller's buffers.
 * None of these may be called from a completion callback.
 *
 * Define BU_WINUSB_NO_WIN32_HELPERS to leave out GetLastError, CreateEvent
 * and the other Win32 names (when the embedder has its own), and
 * BU_WINUSB_NO_WINUSB_NAMES to get only the bu_winusb_* functions.
 * Compiles as C11 and C++11.
 */
#ifndef BAREUSB_WINUSB_H
#define BAREUSB_WINUSB_H

#include <stddef.h>
#include <stdint.h>

#include "bareusb/compiler.h"
#include "bareusb/platform.h"
#include "bareusb/winusb_ioctl.h"
#include "bareusb/winusbio.h"
#include "bareusb/wintypes.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ======================================================================== */
/* USB descriptors as Windows names them (usb100.h / usbspec.h), pack(1)    */
/* ======================================================================== */

#if !defined(BU_HAVE_USBSPEC_TYPES) && !defined(__USB100_H__) && !defined(__USBSPEC_H__)
#define BU_USBSPEC_DEFINED 1

#define USB_DEVICE_DESCRIPTOR_TYPE 0x01
#define USB_CONFIGURATION_DESCRIPTOR_TYPE 0x02
#define USB_STRING_DESCRIPTOR_TYPE 0x03
#define USB_INTERFACE_DESCRIPTOR_TYPE 0x04
#define USB_ENDPOINT_DESCRIPTOR_TYPE 0x05
#define USB_DEVICE_QUALIFIER_DESCRIPTOR_TYPE 0x06
#define USB_OTHER_SPEED_CONFIGURATION_DESCRIPTOR_TYPE 0x07
#define USB_INTERFACE_POWER_DESCRIPTOR_TYPE 0x08
#define USB_OTG_DESCRIPTOR_TYPE 0x09
#define USB_DEBUG_DESCRIPTOR_TYPE 0x0A
#define USB_INTERFACE_ASSOCIATION_DESCRIPTOR_TYPE 0x0B
#define USB_BOS_DESCRIPTOR_TYPE 0x0F
#define USB_DEVICE_CAPABILITY_DESCRIPTOR_TYPE 0x10
#define USB_SUPERSPEED_ENDPOINT_COMPANION_DESCRIPTOR_TYPE 0x30
#define USB_SUPERSPEEDPLUS_ISOCH_ENDPOINT_COMPANION_DESCRIPTOR_TYPE 0x31

#define USB_ENDPOINT_DIRECTION_MASK 0x80
#define USB_ENDPOINT_DIRECTION_OUT(addr) (!((addr) & USB_ENDPOINT_DIRECTION_MASK))
#define USB_ENDPOINT_DIRECTION_IN(addr) ((addr) & USB_ENDPOINT_DIRECTION_MASK)
#define USB_ENDPOINT_TYPE_MASK 0x03
#define USB_ENDPOINT_TYPE_CONTROL 0x00
#define USB_ENDPOINT_TYPE_ISOCHRONOUS 0x01
#define USB_ENDPOINT_TYPE_BULK 0x02
#define USB_ENDPOINT_TYPE_INTERRUPT 0x03

#define USB_REQUEST_GET_STATUS 0x00
#define USB_REQUEST_CLEAR_FEATURE 0x01
#define USB_REQUEST_SET_FEATURE 0x03
#define USB_REQUEST_SET_ADDRESS 0x05
#define USB_REQUEST_GET_DESCRIPTOR 0x06
#define USB_REQUEST_SET_DESCRIPTOR 0x07
#define USB_REQUEST_GET_CONFIGURATION 0x08
#define USB_REQUEST_SET_CONFIGURATION 0x09
#define USB_REQUEST_GET_INTERFACE 0x0A
#define USB_REQUEST_SET_INTERFACE 0x0B
#define USB_REQUEST_SYNC_FRAME 0x0C
#define USB_FEATURE_ENDPOINT_STALL 0x0000

#define BMREQUEST_HOST_TO_DEVICE 0
#define BMREQUEST_DEVICE_TO_HOST 1
#define BMREQUEST_STANDARD 0
#define BMREQUEST_CLASS 1
#define BMREQUEST_VENDOR 2
#define BMREQUEST_TO_DEVICE 0
#define BMREQUEST_TO_INTERFACE 1
#define BMREQUEST_TO_ENDPOINT 2
#define BMREQUEST_TO_OTHER 3

#pragma pack(push, 1)

typedef struct _USB_COMMON_DESCRIPTOR {
	UCHAR bLength;
	UCHAR bDescriptorType;
} USB_COMMON_DESCRIPTOR, *PUSB_COMMON_DESCRIPTOR;

typedef struct _USB_DEVICE_DESCRIPTOR {
	UCHAR bLength;
	UCHAR bDescriptorType;
	USHORT bcdUSB;
	UCHAR bDeviceClass;
	UCHAR bDeviceSubClass;
	UCHAR bDeviceProtocol;
	UCHAR bMaxPacketSize0;
	USHORT idVendor;
	USHORT idProduct;
	USHORT bcdDevice;
	UCHAR iManufacturer;
	UCHAR iProduct;
	UCHAR iSerialNumber;
	UCHAR bNumConfigurations;
} USB_DEVICE_DESCRIPTOR, *PUSB_DEVICE_DESCRIPTOR;

typedef struct _USB_CONFIGURATION_DESCRIPTOR {
	UCHAR bLength;
	UCHAR bDescriptorType;
	USHORT wTotalLength;
	UCHAR bNumInterfaces;
	UCHAR bConfigurationValue;
	UCHAR iConfiguration;
	UCHAR bmAttributes;
	UCHAR MaxPower;
} USB_CONFIGURATION_DESCRIPTOR, *PUSB_CONFIGURATION_DESCRIPTOR;

typedef struct _USB_INTERFACE_DESCRIPTOR {
	UCHAR bLength;
	UCHAR bDescriptorType;
	UCHAR bInterfaceNumber;
	UCHAR bAlternateSetting;
	UCHAR bNumEndpoints;
	UCHAR bInterfaceClass;
	UCHAR bInterfaceSubClass;
	UCHAR bInterfaceProtocol;
	UCHAR iInterface;
} USB_INTERFACE_DESCRIPTOR, *PUSB_INTERFACE_DESCRIPTOR;

typedef struct _USB_ENDPOINT_DESCRIPTOR {
	UCHAR bLength;
	UCHAR bDescriptorType;
	UCHAR bEndpointAddress;
	UCHAR bmAttributes;
	USHORT wMaxPacketSize;
	UCHAR bInterval;
} USB_ENDPOINT_DESCRIPTOR, *PUSB_ENDPOINT_DESCRIPTOR;

typedef struct _USB_STRING_DESCRIPTOR {
	UCHAR bLength;
	UCHAR bDescriptorType;
	WCHAR bString[1];
} USB_STRING_DESCRIPTOR, *PUSB_STRING_DESCRIPTOR;

typedef struct _USB_INTERFACE_ASSOCIATION_DESCRIPTOR {
	UCHAR bLength;
	UCHAR bDescriptorType;
	UCHAR bFirstInterface;
	UCHAR bInterfaceCount;
	UCHAR bFunctionClass;
	UCHAR bFunctionSubClass;
	UCHAR bFunctionProtocol;
	UCHAR iFunction;
} USB_INTERFACE_ASSOCIATION_DESCRIPTOR, *PUSB_INTERFACE_ASSOCIATION_DESCRIPTOR;

typedef struct _USB_SUPERSPEED_ENDPOINT_COMPANION_DESCRIPTOR {
	UCHAR bLength;
	UCHAR bDescriptorType;
	UCHAR bMaxBurst;
	UCHAR bmAttributes;
	USHORT wBytesPerInterval;
} USB_SUPERSPEED_ENDPOINT_COMPANION_DESCRIPTOR,
	*PUSB_SUPERSPEED_ENDPOINT_COMPANION_DESCRIPTOR;

typedef struct _USB_BOS_DESCRIPTOR {
	UCHAR bLength;
	UCHAR bDescriptorType;
	USHORT wTotalLength;
	UCHAR bNumDeviceCaps;
} USB_BOS_DESCRIPTOR, *PUSB_BOS_DESCRIPTOR;

#pragma pack(pop)

BU_STATIC_ASSERT(sizeof(USB_COMMON_DESCRIPTOR) == 2, "USB_COMMON_DESCRIPTOR");
BU_STATIC_ASSERT(sizeof(USB_DEVICE_DESCRIPTOR) == 18, "USB_DEVICE_DESCRIPTOR");
BU_STATIC_ASSERT(offsetof(USB_DEVICE_DESCRIPTOR, idVendor) == 8, "idVendor offset");
BU_STATIC_ASSERT(sizeof(USB_CONFIGURATION_DESCRIPTOR) == 9, "USB_CONFIGURATION_DESCRIPTOR");
BU_STATIC_ASSERT(offsetof(USB_CONFIGURATION_DESCRIPTOR, wTotalLength) == 2,
		 "wTotalLength offset");
BU_STATIC_ASSERT(sizeof(USB_INTERFACE_DESCRIPTOR) == 9, "USB_INTERFACE_DESCRIPTOR");
BU_STATIC_ASSERT(sizeof(USB_ENDPOINT_DESCRIPTOR) == 7, "USB_ENDPOINT_DESCRIPTOR");
BU_STATIC_ASSERT(offsetof(USB_ENDPOINT_DESCRIPTOR, wMaxPacketSize) == 4,
		 "wMaxPacketSize offset");
BU_STATIC_ASSERT(sizeof(USB_INTERFACE_ASSOCIATION_DESCRIPTOR) == 8, "IAD");
BU_STATIC_ASSERT(sizeof(USB_SUPERSPEED_ENDPOINT_COMPANION_DESCRIPTOR) == 6, "SS companion");
BU_STATIC_ASSERT(sizeof(USB_BOS_DESCRIPTOR) == 5, "USB_BOS_DESCRIPTOR");

#endif /* own usbspec types */

/* ======================================================================== */
/* WinUSB types (winusb.h)                                                  */
/* ======================================================================== */

/** Opaque handle of one interface (WinUsb_Initialize, _GetAssociatedInterface). */
typedef PVOID WINUSB_INTERFACE_HANDLE, *PWINUSB_INTERFACE_HANDLE;
/** Opaque handle of a registered isochronous buffer. */
typedef PVOID WINUSB_ISOCH_BUFFER_HANDLE, *PWINUSB_ISOCH_BUFFER_HANDLE;

#pragma pack(push, 1)
/** The SETUP packet of WinUsb_ControlTransfer (passed by value, 8 bytes). */
typedef struct _WINUSB_SETUP_PACKET {
	UCHAR RequestType; /**< bmRequestType */
	UCHAR Request;     /**< bRequest */
	USHORT Value;      /**< wValue */
	USHORT Index;      /**< wIndex */
	USHORT Length;     /**< wLength: data stage bytes */
} WINUSB_SETUP_PACKET, *PWINUSB_SETUP_PACKET;
#pragma pack(pop)

BU_STATIC_ASSERT(sizeof(WINUSB_SETUP_PACKET) == 8, "WINUSB_SETUP_PACKET size");
BU_STATIC_ASSERT(offsetof(WINUSB_SETUP_PACKET, Value) == 2, "Value offset");
BU_STATIC_ASSERT(offsetof(WINUSB_SETUP_PACKET, Index) == 4, "Index offset");
BU_STATIC_ASSERT(offsetof(WINUSB_SETUP_PACKET, Length) == 6, "Length offset");

/** USBD status of an isochronous packet (usb.h). */
typedef LONG USBD_STATUS;

#define USBD_SUCCESS(s) ((USBD_STATUS)(s) >= 0)
#define USBD_PENDING(s) ((ULONG)(s) >> 30 == 1)
#define USBD_ERROR(s) ((USBD_STATUS)(s) < 0)

#define USBD_STATUS_SUCCESS ((USBD_STATUS)0x00000000)
#define USBD_STATUS_PENDING ((USBD_STATUS)0x40000000)
#define USBD_STATUS_CRC ((USBD_STATUS)0xC0000001u)
#define USBD_STATUS_BTSTUFF ((USBD_STATUS)0xC0000002u)
#define USBD_STATUS_DATA_TOGGLE_MISMATCH ((USBD_STATUS)0xC0000003u)
#define USBD_STATUS_STALL_PID ((USBD_STATUS)0xC0000004u)
#define USBD_STATUS_DEV_NOT_RESPONDING ((USBD_STATUS)0xC0000005u)
#define USBD_STATUS_DATA_OVERRUN ((USBD_STATUS)0xC0000008u)
#define USBD_STATUS_XACT_ERROR ((USBD_STATUS)0xC0000011u)
#define USBD_STATUS_BABBLE_DETECTED ((USBD_STATUS)0xC0000012u)
#define USBD_STATUS_ENDPOINT_HALTED ((USBD_STATUS)0xC0000030u)
#define USBD_STATUS_BAD_START_FRAME ((USBD_STATUS)0xC0000A00u)
#define USBD_STATUS_ISOCH_REQUEST_FAILED ((USBD_STATUS)0xC0000B00u)
#define USBD_STATUS_NOT_SUPPORTED ((USBD_STATUS)0xC0000E00u)
#define USBD_STATUS_INSUFFICIENT_RESOURCES ((USBD_STATUS)0xC0001000u)
#define USBD_STATUS_BUFFER_TOO_SMALL ((USBD_STATUS)0xC0003000u)
#define USBD_STATUS_TIMEOUT ((USBD_STATUS)0xC0006000u)
#define USBD_STATUS_DEVICE_GONE ((USBD_STATUS)0xC0007000u)
#define USBD_STATUS_CANCELED ((USBD_STATUS)0xC0010000u)
#define USBD_STATUS_ISO_NOT_ACCESSED_BY_HW ((USBD_STATUS)0xC0020000u)
#define USBD_STATUS_ISO_TD_ERROR ((USBD_STATUS)0xC0030000u)
#define USBD_STATUS_ISO_NA_LATE_USBPORT ((USBD_STATUS)0xC0040000u)
#define USBD_STATUS_ISO_NOT_ACCESSED_LATE ((USBD_STATUS)0xC0050000u)

/** One packet of an isochronous transfer (usb.h), 12 bytes. */
typedef struct _USBD_ISO_PACKET_DESCRIPTOR {
	ULONG Offset;       /**< packet start, relative to the transfer */
	ULONG Length;       /**< IN: bytes received in this packet */
	USBD_STATUS Status; /**< per-packet USBD status */
} USBD_ISO_PACKET_DESCRIPTOR, *PUSBD_ISO_PACKET_DESCRIPTOR;

BU_STATIC_ASSERT(sizeof(USBD_ISO_PACKET_DESCRIPTOR) == 12, "USBD_ISO_PACKET_DESCRIPTOR");
BU_STATIC_ASSERT(sizeof(USBD_ISO_PACKET_DESCRIPTOR) == sizeof(struct bu_winusb_iso_packet),
		 "driver packet layout");

#pragma pack(push, 1)
/** WinUsb_StartTrackingForTimeSync (usbioctl.h). */
typedef struct _USB_START_TRACKING_FOR_TIME_SYNC_INFORMATION {
	HANDLE TimeTrackingHandle;        /**< in: INVALID_HANDLE_VALUE; out: the handle */
	BOOLEAN IsStartupDelayTolerable;
} USB_START_TRACKING_FOR_TIME_SYNC_INFORMATION,
	*PUSB_START_TRACKING_FOR_TIME_SYNC_INFORMATION;

/** WinUsb_StopTrackingForTimeSync. */
typedef struct _USB_STOP_TRACKING_FOR_TIME_SYNC_INFORMATION {
	HANDLE TimeTrackingHandle;
} USB_STOP_TRACKING_FOR_TIME_SYNC_INFORMATION,
	*PUSB_STOP_TRACKING_FOR_TIME_SYNC_INFORMATION;

/** WinUsb_GetCurrentFrameNumberAndQpc. */
typedef struct _USB_FRAME_NUMBER_AND_QPC_FOR_TIME_SYNC_INFORMATION {
	HANDLE TimeTrackingHandle;
	ULONG InputFrameNumber;      /**< 0 = not interested */
	ULONG InputMicroFrameNumber;
	LARGE_INTEGER QueryPerformanceCounterAtInputFrameOrMicroFrame;
	LARGE_INTEGER QueryPerformanceCounterFrequency;
	ULONG PredictedAccuracyInMicroSeconds;
	ULONG CurrentGenerationID;
	LARGE_INTEGER CurrentQueryPerformanceCounter;
	ULONG CurrentHardwareFrameNumber;      /**< 11 bits */
	ULONG CurrentHardwareMicroFrameNumber; /**< 3 bits */
	ULONG CurrentUSBFrameNumber;           /**< 32 bits */
} USB_FRAME_NUMBER_AND_QPC_FOR_TIME_SYNC_INFORMATION,
	*PUSB_FRAME_NUMBER_AND_QPC_FOR_TIME_SYNC_INFORMATION;
#pragma pack(pop)

BU_STATIC_ASSERT(sizeof(USB_START_TRACKING_FOR_TIME_SYNC_INFORMATION) == sizeof(HANDLE) + 1,
		 "time-sync start packed");
BU_STATIC_ASSERT(sizeof(USB_FRAME_NUMBER_AND_QPC_FOR_TIME_SYNC_INFORMATION) ==
			 sizeof(HANDLE) + 52,
		 "time-sync frame/QPC packed");

/* ======================================================================== */
/* The API instance (the Winusb.dll analogue)                               */
/* ======================================================================== */

struct bu_winusb_api;

#ifndef BU_WINUSB_API_MAX_TRANSPORTS
#define BU_WINUSB_API_MAX_TRANSPORTS 8 /**< driver parts (buses) per instance */
#endif
BU_STATIC_ASSERT(BU_WINUSB_API_MAX_TRANSPORTS >= 1 && BU_WINUSB_API_MAX_TRANSPORTS <= 256,
		 "BU_WINUSB_API_MAX_TRANSPORTS: a file keeps its transport in a uint8_t (1..256)");
#ifndef BU_WINUSB_API_MAX_FILES
#define BU_WINUSB_API_MAX_FILES 32     /**< open device files */
#endif
BU_STATIC_ASSERT(BU_WINUSB_API_MAX_FILES >= 1, "BU_WINUSB_API_MAX_FILES: at least one (>= 1)");
#ifndef BU_WINUSB_API_MAX_IFACES
#define BU_WINUSB_API_MAX_IFACES 64    /**< interface handles */
#endif
BU_STATIC_ASSERT(BU_WINUSB_API_MAX_IFACES >= 1, "BU_WINUSB_API_MAX_IFACES: at least one (>= 1)");
#ifndef BU_WINUSB_API_MAX_EVENTS
#define BU_WINUSB_API_MAX_EVENTS 256   /**< event objects */
#endif
BU_STATIC_ASSERT(BU_WINUSB_API_MAX_EVENTS >= 1, "BU_WINUSB_API_MAX_EVENTS: at least one (>= 1)");
#ifndef BU_WINUSB_API_MAX_ISOCH
#define BU_WINUSB_API_MAX_ISOCH 32     /**< registered isoch buffers */
#endif
BU_STATIC_ASSERT(BU_WINUSB_API_MAX_ISOCH >= 1, "BU_WINUSB_API_MAX_ISOCH: at least one (>= 1)");
#define BU_WINUSB_PATH_MAX 160         /**< longest device path, with NUL */
#define BU_WINUSB_DEFAULT_WAIT_CAP_MS 600000u /**< bound of an INFINITE wait */

/**
 * Create an API instance. `plat` gives its memory (alloc/free) and clock
 * (now_us); it must outlive the instance. Returns 0, BU_EINVAL or
 * BU_ENOMEM (bareusb error codes, <bareusb/errors.h>).
 */
int bu_winusb_api_create(const struct bu_platform *plat, struct bu_winusb_api **out);
/** Close everything still open and free the instance. */
void bu_winusb_api_destroy(struct bu_winusb_api *api);
/**
 * Add a driver part (one per bus; *tp is copied). For the in-process
 * driver see bu_winusb_drv_transport() in bareusb/winusb_drv.h. Returns 0
 * or BU_ENOSPC.
 */
int bu_winusb_api_attach(struct bu_winusb_api *api, const struct bu_winusb_transport *tp);
/**
 * Where the last error lives: `slot(ctx)` returns the calling thread's
 * slot (NULL slot: the instance's own field, the default).
 */
void bu_winusb_api_set_error_slot(struct bu_winusb_api *api, uint32_t *(*slot)(void *ctx),
				  void *ctx);
/** Bound every INFINITE wait to `ms` milliseconds (0 = the default). */
void bu_winusb_api_set_wait_cap(struct bu_winusb_api *api, uint32_t ms);
/** Poll every attached driver part once. */
void bu_winusb_api_poll(struct bu_winusb_api *api);

/* ------------------------------------------------------------------------ */
/* Discovery: the SetupAPI + CreateFile analogue                            */

/**
 * The `index`-th device interface registered under `guid` (Windows'
 * SetupDiEnumDeviceInterfaces + SetupDiGetDeviceInterfaceDetail): its path,
 * like "\\?\usb#vid_16c0&pid_05dc&mi_01#0-3.2&7#{GUID}", into
 * path[size]. *needed (optional) receives the size the path needs. FALSE
 * with ERROR_NO_MORE_ITEMS past the end, ERROR_INSUFFICIENT_BUFFER when it
 * does not fit, ERROR_INVALID_PARAMETER for a NULL guid or path.
 */
BOOL bu_winusb_find_by_guid(struct bu_winusb_api *api, const GUID *guid, DWORD index,
			    char *path, DWORD size, DWORD *needed);
/** Like bu_winusb_find_by_guid, over the WinUSB functions of one VID/PID. */
BOOL bu_winusb_find_by_vidpid(struct bu_winusb_api *api, USHORT vid, USHORT pid,
			      DWORD index, char *path, DWORD size, DWORD *needed);
/** What discovery knows about the function at `path`. */
BOOL bu_winusb_device_info(struct bu_winusb_api *api, const char *path,
			   struct bu_winusb_devinfo *out);
/**
 * Open a device path (CreateFile): `flags` is CreateFile's
 * dwFlagsAndAttributes (FILE_FLAG_OVERLAPPED is what WinUsb_Initialize
 * wants). Returns the handle or INVALID_HANDLE_VALUE with ERROR_FILE_NOT_FOUND
 * (no such device), ERROR_ACCESS_DENIED (already open: WinUSB is
 * single-client), ERROR_NOT_ENOUGH_MEMORY.
 */
HANDLE bu_winusb_open(struct bu_winusb_api *api, const char *path, DWORD flags);

/* ------------------------------------------------------------------------ */
/* Win32 helpers (on the instance)                                          */

DWORD bu_win32_get_last_error(struct bu_winusb_api *api);
void bu_win32_set_last_error(struct bu_winusb_api *api, DWORD code);
/** An event object; NULL with ERROR_NOT_ENOUGH_MEMORY when none is free. */
HANDLE bu_win32_create_event(struct bu_winusb_api *api, BOOL manual_reset, BOOL initial);
BOOL bu_win32_set_event(struct bu_winusb_api *api, HANDLE event);
BOOL bu_win32_reset_event(struct bu_winusb_api *api, HANDLE event);
/**
 * Wait for an event (polling the drivers): WAIT_OBJECT_0, WAIT_TIMEOUT, or
 * WAIT_FAILED with ERROR_INVALID_HANDLE. An auto-reset event is reset.
 */
DWORD bu_win32_wait(struct bu_winusb_api *api, HANDLE event, DWORD ms);
/** Close an event or a device file handle. */
BOOL bu_win32_close_handle(struct bu_winusb_api *api, HANDLE h);
/** Wait `ms` milliseconds, polling the drivers. */
void bu_win32_sleep(struct bu_winusb_api *api, DWORD ms);
/** QueryPerformanceCounter / Frequency on the platform clock (1 MHz). */
BOOL bu_win32_qpc(struct bu_winusb_api *api, LARGE_INTEGER *count);
/** Win32 GetOverlappedResult on a device file handle. */
BOOL bu_win32_get_overlapped_result(struct bu_winusb_api *api, HANDLE file,
				    LPOVERLAPPED ov, LPDWORD bytes, BOOL wait);
/** CancelIo on a device file handle: every request of the file is aborted. */
BOOL bu_win32_cancel_io(struct bu_winusb_api *api, HANDLE file);

/* ------------------------------------------------------------------------ */
/* The WinUSB functions, with the instance first                            */

/**
 * Claim the default interface of an opened device file (its policies reset);
 * FALSE with ERROR_INVALID_HANDLE (bad or non-overlapped file), ERROR_BAD_DEVICE,
 * ERROR_BAD_COMMAND (unplugged) or ERROR_ALREADY_EXISTS.
 */
BOOL bu_winusb_initialize(struct bu_winusb_api *api, HANDLE DeviceHandle,
			  PWINUSB_INTERFACE_HANDLE InterfaceHandle);
/**
 * Release an interface handle (its pipes are aborted); TRUE, or FALSE with
 * ERROR_INVALID_HANDLE.
 */
BOOL bu_winusb_free(struct bu_winusb_api *api, WINUSB_INTERFACE_HANDLE InterfaceHandle);
/**
 * Handle of the interface AssociatedInterfaceIndex + 1 positions after the default
 * one; ERROR_ALREADY_EXISTS, ERROR_NO_MORE_ITEMS, ERROR_INVALID_PARAMETER (index 255).
 */
BOOL bu_winusb_get_associated_interface(struct bu_winusb_api *api,
					WINUSB_INTERFACE_HANDLE InterfaceHandle,
					UCHAR AssociatedInterfaceIndex,
					PWINUSB_INTERFACE_HANDLE AssociatedInterfaceHandle);
/**
 * A descriptor (device and configuration from the enumeration copy, others from the
 * device), truncated to BufferLength.
 */
BOOL bu_winusb_get_descriptor(struct bu_winusb_api *api, WINUSB_INTERFACE_HANDLE InterfaceHandle,
			      UCHAR DescriptorType, UCHAR Index, USHORT LanguageID,
			      PUCHAR Buffer, ULONG BufferLength, PULONG LengthTransferred);
/**
 * The AlternateSettingNumber-th (index) interface descriptor of the handle's
 * interface; ERROR_NO_MORE_ITEMS past the end.
 */
BOOL bu_winusb_query_interface_settings(struct bu_winusb_api *api,
					WINUSB_INTERFACE_HANDLE InterfaceHandle,
					UCHAR AlternateSettingNumber,
					PUSB_INTERFACE_DESCRIPTOR UsbAltInterfaceDescriptor);
/**
 * DEVICE_SPEED as one UCHAR (HighSpeed at high speed and above, else LowSpeed);
 * ERROR_INVALID_PARAMETER for other types, ERROR_INSUFFICIENT_BUFFER.
 */
BOOL bu_winusb_query_device_information(struct bu_winusb_api *api,
					WINUSB_INTERFACE_HANDLE InterfaceHandle,
					ULONG InformationType, PULONG BufferLength,
					PVOID Buffer);
/**
 * SET_INTERFACE to bAlternateSetting SettingNumber and the new pipe set; ERROR_BUSY
 * with I/O pending, ERROR_INVALID_PARAMETER for an unknown setting.
 */
BOOL bu_winusb_set_current_alternate_setting(struct bu_winusb_api *api,
					     WINUSB_INTERFACE_HANDLE InterfaceHandle,
					     UCHAR SettingNumber);
/** The interface's current bAlternateSetting (as last set). */
BOOL bu_winusb_get_current_alternate_setting(struct bu_winusb_api *api,
					     WINUSB_INTERFACE_HANDLE InterfaceHandle,
					     PUCHAR SettingNumber);
/**
 * The PipeIndex-th endpoint of an alternate setting (index); ERROR_NO_MORE_ITEMS past
 * the end.
 */
BOOL bu_winusb_query_pipe(struct bu_winusb_api *api, WINUSB_INTERFACE_HANDLE InterfaceHandle,
			  UCHAR AlternateInterfaceNumber, UCHAR PipeIndex,
			  PWINUSB_PIPE_INFORMATION PipeInformation);
/** WinUsb_QueryPipe plus MaximumBytesPerInterval (HS mult, SS companion). */
BOOL bu_winusb_query_pipe_ex(struct bu_winusb_api *api, WINUSB_INTERFACE_HANDLE InterfaceHandle,
			     UCHAR AlternateSettingNumber, UCHAR PipeIndex,
			     PWINUSB_PIPE_INFORMATION_EX PipeInformationEx);
/**
 * Set a pipe policy ("WinUSB functions for pipe policy modification");
 * ERROR_INVALID_PARAMETER for a wrong
 * ValueLength, an unknown type or pipe, MAXIMUM_TRANSFER_SIZE.
 */
BOOL bu_winusb_set_pipe_policy(struct bu_winusb_api *api, WINUSB_INTERFACE_HANDLE InterfaceHandle,
			       UCHAR PipeID, ULONG PolicyType, ULONG ValueLength, PVOID Value);
/**
 * Read a pipe policy; *ValueLength in = room, out = bytes (ERROR_INSUFFICIENT_BUFFER
 * sets the size needed).
 */
BOOL bu_winusb_get_pipe_policy(struct bu_winusb_api *api, WINUSB_INTERFACE_HANDLE InterfaceHandle,
			       UCHAR PipeID, ULONG PolicyType, PULONG ValueLength, PVOID Value);
/**
 * Read from a bulk/interrupt IN pipe, synchronously or overlapped (ERROR_IO_PENDING);
 * ERROR_SEM_TIMEOUT, ERROR_GEN_FAILURE, ERROR_OPERATION_ABORTED,
 * ERROR_DEVICE_NOT_CONNECTED.
 */
BOOL bu_winusb_read_pipe(struct bu_winusb_api *api, WINUSB_INTERFACE_HANDLE InterfaceHandle,
			 UCHAR PipeID, PUCHAR Buffer, ULONG BufferLength,
			 PULONG LengthTransferred, LPOVERLAPPED Overlapped);
/**
 * Write to a bulk/interrupt OUT pipe (0 bytes = a ZLP); same errors as
 * WinUsb_ReadPipe.
 */
BOOL bu_winusb_write_pipe(struct bu_winusb_api *api, WINUSB_INTERFACE_HANDLE InterfaceHandle,
			  UCHAR PipeID, PUCHAR Buffer, ULONG BufferLength,
			  PULONG LengthTransferred, LPOVERLAPPED Overlapped);
/**
 * A control transfer on EP0 (data stage at most 4096 bytes; interface recipients get
 * the handle's interface number in wIndex's low byte).
 */
BOOL bu_winusb_control_transfer(struct bu_winusb_api *api, WINUSB_INTERFACE_HANDLE InterfaceHandle,
				WINUSB_SETUP_PACKET SetupPacket, PUCHAR Buffer,
				ULONG BufferLength, PULONG LengthTransferred,
				LPOVERLAPPED Overlapped);
/**
 * Abort the pipe, then reset both sides (toggle, halt); nothing is sent for
 * isochronous pipes.
 */
BOOL bu_winusb_reset_pipe(struct bu_winusb_api *api, WINUSB_INTERFACE_HANDLE InterfaceHandle,
			  UCHAR PipeID);
/**
 * Abort every request of the pipe and wait for them (they fail with
 * ERROR_OPERATION_ABORTED).
 */
BOOL bu_winusb_abort_pipe(struct bu_winusb_api *api, WINUSB_INTERFACE_HANDLE InterfaceHandle,
			  UCHAR PipeID);
/** Drop the bytes a partial read kept (ALLOW_PARTIAL_READS without AUTO_FLUSH). */
BOOL bu_winusb_flush_pipe(struct bu_winusb_api *api, WINUSB_INTERFACE_HANDLE InterfaceHandle,
			  UCHAR PipeID);
/** AUTO_SUSPEND (UCHAR) or SUSPEND_DELAY (ULONG ms); ERROR_INVALID_PARAMETER otherwise. */
BOOL bu_winusb_set_power_policy(struct bu_winusb_api *api, WINUSB_INTERFACE_HANDLE InterfaceHandle,
				ULONG PolicyType, ULONG ValueLength, PVOID Value);
/** Read AUTO_SUSPEND or SUSPEND_DELAY. */
BOOL bu_winusb_get_power_policy(struct bu_winusb_api *api, WINUSB_INTERFACE_HANDLE InterfaceHandle,
				ULONG PolicyType, PULONG ValueLength, PVOID Value);
/**
 * Result of an overlapped request: ERROR_IO_INCOMPLETE while pending without bWait,
 * else the request's own status and byte count.
 */
BOOL bu_winusb_get_overlapped_result(struct bu_winusb_api *api,
				     WINUSB_INTERFACE_HANDLE InterfaceHandle,
				     LPOVERLAPPED lpOverlapped,
				     LPDWORD lpNumberOfBytesTransferred, BOOL bWait);
/**
 * Register a buffer for an isochronous pipe (PipeID as bEndpointAddress or its
 * number).
 */
BOOL bu_winusb_register_isoch_buffer(struct bu_winusb_api *api,
				     WINUSB_INTERFACE_HANDLE InterfaceHandle, UCHAR PipeID,
				     PUCHAR Buffer, ULONG BufferLength,
				     PWINUSB_ISOCH_BUFFER_HANDLE IsochBufferHandle);
/** Unregister an isochronous buffer, waiting for transfers still using it. */
BOOL bu_winusb_unregister_isoch_buffer(struct bu_winusb_api *api,
				       WINUSB_ISOCH_BUFFER_HANDLE IsochBufferHandle);
/**
 * Isochronous OUT from *FrameNumber on (out: the frame after the last used); a start
 * frame in the past fails.
 */
BOOL bu_winusb_write_isoch_pipe(struct bu_winusb_api *api, WINUSB_ISOCH_BUFFER_HANDLE BufferHandle,
				ULONG Offset, ULONG Length, PULONG FrameNumber,
				LPOVERLAPPED Overlapped);
/**
 * Isochronous IN of NumberOfPackets packets from *FrameNumber on; per-packet results
 * in IsoPacketDescriptors.
 */
BOOL bu_winusb_read_isoch_pipe(struct bu_winusb_api *api, WINUSB_ISOCH_BUFFER_HANDLE BufferHandle,
			       ULONG Offset, ULONG Length, PULONG FrameNumber,
			       ULONG NumberOfPackets,
			       PUSBD_ISO_PACKET_DESCRIPTOR IsoPacketDescriptors,
			       LPOVERLAPPED Overlapped);
/**
 * Isochronous OUT as soon as possible; ContinueStream fails (ERROR_GEN_FAILURE) when
 * the stream cannot continue without a gap.
 */
BOOL bu_winusb_write_isoch_pipe_asap(struct bu_winusb_api *api,
				     WINUSB_ISOCH_BUFFER_HANDLE BufferHandle, ULONG Offset,
				     ULONG Length, BOOL ContinueStream,
				     LPOVERLAPPED Overlapped);
/** Isochronous IN as soon as possible (see WinUsb_WriteIsochPipeAsap). */
BOOL bu_winusb_read_isoch_pipe_asap(struct bu_winusb_api *api,
				    WINUSB_ISOCH_BUFFER_HANDLE BufferHandle, ULONG Offset,
				    ULONG Length, BOOL ContinueStream, ULONG NumberOfPackets,
				    PUSBD_ISO_PACKET_DESCRIPTOR IsoPacketDescriptors,
				    LPOVERLAPPED Overlapped);
/** The 32-bit bus frame number and the QPC time (microseconds) it was read at. */
BOOL bu_winusb_get_current_frame_number(struct bu_winusb_api *api,
					WINUSB_INTERFACE_HANDLE InterfaceHandle,
					PULONG CurrentFrameNumber, LARGE_INTEGER *TimeStamp);
/** *CurrentFrameNumber advanced by the milliseconds since TimeStamp. */
BOOL bu_winusb_get_adjusted_frame_number(struct bu_winusb_api *api, PULONG CurrentFrameNumber,
					 LARGE_INTEGER TimeStamp);
/** Start frame/QPC tracking; the tracking handle comes back in the structure. */
BOOL bu_winusb_start_tracking_for_time_sync(
	struct bu_winusb_api *api, WINUSB_INTERFACE_HANDLE InterfaceHandle,
	PUSB_START_TRACKING_FOR_TIME_SYNC_INFORMATION StartTrackingInfo);
/** Current frame numbers and QPC, and the QPC of an input (micro)frame. */
BOOL bu_winusb_get_current_frame_number_and_qpc(
	struct bu_winusb_api *api, WINUSB_INTERFACE_HANDLE InterfaceHandle,
	PUSB_FRAME_NUMBER_AND_QPC_FOR_TIME_SYNC_INFORMATION FrameQpcInfo);
/** Stop tracking (ERROR_INVALID_PARAMETER for an unknown tracking handle). */
BOOL bu_winusb_stop_tracking_for_time_sync(
	struct bu_winusb_api *api, WINUSB_INTERFACE_HANDLE InterfaceHandle,
	PUSB_STOP_TRACKING_FOR_TIME_SYNC_INFORMATION StopTrackingInfo);

/**
 * Pure helpers, exported under their Windows names (no instance needed).
 * WinUsb_ParseConfigurationDescriptor: the first interface descriptor at or
 * after StartPosition inside the configuration that matches every
 * criterion not -1. WinUsb_ParseDescriptors: the first descriptor of
 * DescriptorType at or after StartPosition inside DescriptorBuffer
 * [TotalLength]. Both walk untrusted bytes safely and return NULL when
 * nothing matches or the arguments are bad
 * ("WinUsb_ParseConfigurationDescriptor function (winusb.h)").
 */
PUSB_INTERFACE_DESCRIPTOR WINAPI WinUsb_ParseConfigurationDescriptor(
	PUSB_CONFIGURATION_DESCRIPTOR ConfigurationDescriptor, PVOID StartPosition,
	LONG InterfaceNumber, LONG AlternateSetting, LONG InterfaceClass,
	LONG InterfaceSubClass, LONG InterfaceProtocol);
PUSB_COMMON_DESCRIPTOR WINAPI WinUsb_ParseDescriptors(PVOID DescriptorBuffer, ULONG TotalLength,
						      PVOID StartPosition, LONG DescriptorType);

/* ======================================================================== */
/* Microsoft's names                                                        */
/* ======================================================================== */

#ifndef BU_WINUSB_CURRENT
/**
 * Provided by the embedder: the API instance of the calling context (see
 * the top of this file). Override with #define BU_WINUSB_CURRENT() ...
 */
struct bu_winusb_api *bu_winusb_current(void);
#define BU_WINUSB_CURRENT() bu_winusb_current()
#endif

#ifndef BU_WINUSB_NO_WINUSB_NAMES

static inline BOOL WINAPI WinUsb_Initialize(HANDLE DeviceHandle,
					    PWINUSB_INTERFACE_HANDLE InterfaceHandle)
{
	return bu_winusb_initialize(BU_WINUSB_CURRENT(), DeviceHandle, InterfaceHandle);
}

static inline BOOL WINAPI WinUsb_Free(WINUSB_INTERFACE_HANDLE InterfaceHandle)
{
	return bu_winusb_free(BU_WINUSB_CURRENT(), InterfaceHandle);
}

static inline BOOL WINAPI WinUsb_GetAssociatedInterface(
	WINUSB_INTERFACE_HANDLE InterfaceHandle, UCHAR AssociatedInterfaceIndex,
	PWINUSB_INTERFACE_HANDLE AssociatedInterfaceHandle)
{
	return bu_winusb_get_associated_interface(BU_WINUSB_CURRENT(), InterfaceHandle,
						  AssociatedInterfaceIndex,
						  AssociatedInterfaceHandle);
}

static inline BOOL WINAPI WinUsb_GetDescriptor(WINUSB_INTERFACE_HANDLE InterfaceHandle,
					       UCHAR DescriptorType, UCHAR Index,
					       USHORT LanguageID, PUCHAR Buffer,
					       ULONG BufferLength, PULONG LengthTransferred)
{
	return bu_winusb_get_descriptor(BU_WINUSB_CURRENT(), InterfaceHandle, DescriptorType,
					Index, LanguageID, Buffer, BufferLength,
					LengthTransferred);
}

static inline BOOL WINAPI WinUsb_QueryInterfaceSettings(
	WINUSB_INTERFACE_HANDLE InterfaceHandle, UCHAR AlternateSettingNumber,
	PUSB_INTERFACE_DESCRIPTOR UsbAltInterfaceDescriptor)
{
	return bu_winusb_query_interface_settings(BU_WINUSB_CURRENT(), InterfaceHandle,
						  AlternateSettingNumber,
						  UsbAltInterfaceDescriptor);
}

static inline BOOL WINAPI WinUsb_QueryDeviceInformation(WINUSB_INTERFACE_HANDLE InterfaceHandle,
							ULONG InformationType,
							PULONG BufferLength, PVOID Buffer)
{
	return bu_winusb_query_device_information(BU_WINUSB_CURRENT(), InterfaceHandle,
						  InformationType, BufferLength, Buffer);
}

static inline BOOL WINAPI WinUsb_SetCurrentAlternateSetting(
	WINUSB_INTERFACE_HANDLE InterfaceHandle, UCHAR SettingNumber)
{
	return bu_winusb_set_current_alternate_setting(BU_WINUSB_CURRENT(), InterfaceHandle,
						       SettingNumber);
}

static inline BOOL WINAPI WinUsb_GetCurrentAlternateSetting(
	WINUSB_INTERFACE_HANDLE InterfaceHandle, PUCHAR SettingNumber)
{
	return bu_winusb_get_current_alternate_setting(BU_WINUSB_CURRENT(), InterfaceHandle,
						       SettingNumber);
}

static inline BOOL WINAPI WinUsb_QueryPipe(WINUSB_INTERFACE_HANDLE InterfaceHandle,
					   UCHAR AlternateInterfaceNumber, UCHAR PipeIndex,
					   PWINUSB_PIPE_INFORMATION PipeInformation)
{
	return bu_winusb_query_pipe(BU_WINUSB_CURRENT(), InterfaceHandle,
				    AlternateInterfaceNumber, PipeIndex, PipeInformation);
}

static inline BOOL WINAPI WinUsb_QueryPipeEx(WINUSB_INTERFACE_HANDLE InterfaceHandle,
					     UCHAR AlternateSettingNumber, UCHAR PipeIndex,
					     PWINUSB_PIPE_INFORMATION_EX PipeInformationEx)
{
	return bu_winusb_query_pipe_ex(BU_WINUSB_CURRENT(), InterfaceHandle,
				       AlternateSettingNumber, PipeIndex, PipeInformationEx);
}

static inline BOOL WINAPI WinUsb_SetPipePolicy(WINUSB_INTERFACE_HANDLE InterfaceHandle,
					       UCHAR PipeID, ULONG PolicyType,
					       ULONG ValueLength, PVOID Value)
{
	return bu_winusb_set_pipe_policy(BU_WINUSB_CURRENT(), InterfaceHandle, PipeID,
					 PolicyType, ValueLength, Value);
}

static inline BOOL WINAPI WinUsb_GetPipePolicy(WINUSB_INTERFACE_HANDLE InterfaceHandle,
					       UCHAR PipeID, ULONG PolicyType,
					       PULONG ValueLength, PVOID Value)
{
	return bu_winusb_get_pipe_policy(BU_WINUSB_CURRENT(), InterfaceHandle, PipeID,
					 PolicyType, ValueLength, Value);
}

static inline BOOL WINAPI WinUsb_ReadPipe(WINUSB_INTERFACE_HANDLE InterfaceHandle, UCHAR PipeID,
					  PUCHAR Buffer, ULONG BufferLength,
					  PULONG LengthTransferred, LPOVERLAPPED Overlapped)
{
	return bu_winusb_read_pipe(BU_WINUSB_CURRENT(), InterfaceHandle, PipeID, Buffer,
				   BufferLength, LengthTransferred, Overlapped);
}

static inline BOOL WINAPI WinUsb_WritePipe(WINUSB_INTERFACE_HANDLE InterfaceHandle, UCHAR PipeID,
					   PUCHAR Buffer, ULONG BufferLength,
					   PULONG LengthTransferred, LPOVERLAPPED Overlapped)
{
	return bu_winusb_write_pipe(BU_WINUSB_CURRENT(), InterfaceHandle, PipeID, Buffer,
				    BufferLength, LengthTransferred, Overlapped);
}

static inline BOOL WINAPI WinUsb_ControlTransfer(WINUSB_INTERFACE_HANDLE InterfaceHandle,
						 WINUSB_SETUP_PACKET SetupPacket, PUCHAR Buffer,
						 ULONG BufferLength, PULONG LengthTransferred,
						 LPOVERLAPPED Overlapped)
{
	return bu_winusb_control_transfer(BU_WINUSB_CURRENT(), InterfaceHandle, SetupPacket,
					  Buffer, BufferLength, LengthTransferred, Overlapped);
}

static inline BOOL WINAPI WinUsb_ResetPipe(WINUSB_INTERFACE_HANDLE InterfaceHandle, UCHAR PipeID)
{
	return bu_winusb_reset_pipe(BU_WINUSB_CURRENT(), InterfaceHandle, PipeID);
}

static inline BOOL WINAPI WinUsb_AbortPipe(WINUSB_INTERFACE_HANDLE InterfaceHandle, UCHAR PipeID)
{
	return bu_winusb_abort_pipe(BU_WINUSB_CURRENT(), InterfaceHandle, PipeID);
}

static inline BOOL WINAPI WinUsb_FlushPipe(WINUSB_INTERFACE_HANDLE InterfaceHandle, UCHAR PipeID)
{
	return bu_winusb_flush_pipe(BU_WINUSB_CURRENT(), InterfaceHandle, PipeID);
}

static inline BOOL WINAPI WinUsb_SetPowerPolicy(WINUSB_INTERFACE_HANDLE InterfaceHandle,
						ULONG PolicyType, ULONG ValueLength, PVOID Value)
{
	return bu_winusb_set_power_policy(BU_WINUSB_CURRENT(), InterfaceHandle, PolicyType,
					  ValueLength, Value);
}

static inline BOOL WINAPI WinUsb_GetPowerPolicy(WINUSB_INTERFACE_HANDLE InterfaceHandle,
						ULONG PolicyType, PULONG ValueLength, PVOID Value)
{
	return bu_winusb_get_power_policy(BU_WINUSB_CURRENT(), InterfaceHandle, PolicyType,
					  ValueLength, Value);
}

static inline BOOL WINAPI WinUsb_GetOverlappedResult(WINUSB_INTERFACE_HANDLE InterfaceHandle,
						     LPOVERLAPPED lpOverlapped,
						     LPDWORD lpNumberOfBytesTransferred,
						     BOOL bWait)
{
	return bu_winusb_get_overlapped_result(BU_WINUSB_CURRENT(), InterfaceHandle,
					       lpOverlapped, lpNumberOfBytesTransferred, bWait);
}

static inline BOOL WINAPI WinUsb_RegisterIsochBuffer(WINUSB_INTERFACE_HANDLE InterfaceHandle,
						     UCHAR PipeID, PUCHAR Buffer,
						     ULONG BufferLength,
						     PWINUSB_ISOCH_BUFFER_HANDLE IsochBufferHandle)
{
	return bu_winusb_register_isoch_buffer(BU_WINUSB_CURRENT(), InterfaceHandle, PipeID,
					       Buffer, BufferLength, IsochBufferHandle);
}

static inline BOOL WINAPI WinUsb_UnregisterIsochBuffer(WINUSB_ISOCH_BUFFER_HANDLE IsochBufferHandle)
{
	return bu_winusb_unregister_isoch_buffer(BU_WINUSB_CURRENT(), IsochBufferHandle);
}

static inline BOOL WINAPI WinUsb_WriteIsochPipe(WINUSB_ISOCH_BUFFER_HANDLE BufferHandle,
						ULONG Offset, ULONG Length, PULONG FrameNumber,
						LPOVERLAPPED Overlapped)
{
	return bu_winusb_write_isoch_pipe(BU_WINUSB_CURRENT(), BufferHandle, Offset, Length,
					  FrameNumber, Overlapped);
}

static inline BOOL WINAPI WinUsb_ReadIsochPipe(WINUSB_ISOCH_BUFFER_HANDLE BufferHandle,
					       ULONG Offset, ULONG Length, PULONG FrameNumber,
					       ULONG NumberOfPackets,
					       PUSBD_ISO_PACKET_DESCRIPTOR IsoPacketDescriptors,
					       LPOVERLAPPED Overlapped)
{
	return bu_winusb_read_isoch_pipe(BU_WINUSB_CURRENT(), BufferHandle, Offset, Length,
					 FrameNumber, NumberOfPackets, IsoPacketDescriptors,
					 Overlapped);
}

static inline BOOL WINAPI WinUsb_WriteIsochPipeAsap(WINUSB_ISOCH_BUFFER_HANDLE BufferHandle,
						    ULONG Offset, ULONG Length,
						    BOOL ContinueStream, LPOVERLAPPED Overlapped)
{
	return bu_winusb_write_isoch_pipe_asap(BU_WINUSB_CURRENT(), BufferHandle, Offset,
					       Length, ContinueStream, Overlapped);
}

static inline BOOL WINAPI WinUsb_ReadIsochPipeAsap(WINUSB_ISOCH_BUFFER_HANDLE BufferHandle,
						   ULONG Offset, ULONG Length,
						   BOOL ContinueStream, ULONG NumberOfPackets,
						   PUSBD_ISO_PACKET_DESCRIPTOR IsoPacketDescriptors,
						   LPOVERLAPPED Overlapped)
{
	return bu_winusb_read_isoch_pipe_asap(BU_WINUSB_CURRENT(), BufferHandle, Offset,
					      Length, ContinueStream, NumberOfPackets,
					      IsoPacketDescriptors, Overlapped);
}

static inline BOOL WINAPI WinUsb_GetCurrentFrameNumber(WINUSB_INTERFACE_HANDLE InterfaceHandle,
						       PULONG CurrentFrameNumber,
						       LARGE_INTEGER *TimeStamp)
{
	return bu_winusb_get_current_frame_number(BU_WINUSB_CURRENT(), InterfaceHandle,
						  CurrentFrameNumber, TimeStamp);
}

static inline BOOL WINAPI WinUsb_GetAdjustedFrameNumber(PULONG CurrentFrameNumber,
							LARGE_INTEGER TimeStamp)
{
	return bu_winusb_get_adjusted_frame_number(BU_WINUSB_CURRENT(), CurrentFrameNumber,
						   TimeStamp);
}

static inline BOOL WINAPI WinUsb_StartTrackingForTimeSync(
	WINUSB_INTERFACE_HANDLE InterfaceHandle,
	PUSB_START_TRACKING_FOR_TIME_SYNC_INFORMATION StartTrackingInfo)
{
	return bu_winusb_start_tracking_for_time_sync(BU_WINUSB_CURRENT(), InterfaceHandle,
						      StartTrackingInfo);
}

static inline BOOL WINAPI WinUsb_GetCurrentFrameNumberAndQpc(
	WINUSB_INTERFACE_HANDLE InterfaceHandle,
	PUSB_FRAME_NUMBER_AND_QPC_FOR_TIME_SYNC_INFORMATION FrameQpcInfo)
{
	return bu_winusb_get_current_frame_number_and_qpc(BU_WINUSB_CURRENT(), InterfaceHandle,
							  FrameQpcInfo);
}

static inline BOOL WINAPI WinUsb_StopTrackingForTimeSync(
	WINUSB_INTERFACE_HANDLE InterfaceHandle,
	PUSB_STOP_TRACKING_FOR_TIME_SYNC_INFORMATION StopTrackingInfo)
{
	return bu_winusb_stop_tracking_for_time_sync(BU_WINUSB_CURRENT(), InterfaceHandle,
						     StopTrackingInfo);
}

/* Undocumented exports of Winusb.dll: aliases of the synchronous calls. */
static inline BOOL WINAPI WinUsb_AbortPipeAsync(WINUSB_INTERFACE_HANDLE InterfaceHandle,
						UCHAR PipeID)
{
	return bu_winusb_abort_pipe(BU_WINUSB_CURRENT(), InterfaceHandle, PipeID);
}

static inline BOOL WINAPI WinUsb_ResetPipeAsync(WINUSB_INTERFACE_HANDLE InterfaceHandle,
						UCHAR PipeID)
{
	return bu_winusb_reset_pipe(BU_WINUSB_CURRENT(), InterfaceHandle, PipeID);
}

static inline BOOL WINAPI WinUsb_SetCurrentAlternateSettingAsync(
	WINUSB_INTERFACE_HANDLE InterfaceHandle, UCHAR SettingNumber)
{
	return bu_winusb_set_current_alternate_setting(BU_WINUSB_CURRENT(), InterfaceHandle,
						       SettingNumber);
}

#endif /* !BU_WINUSB_NO_WINUSB_NAMES */

#ifndef BU_WINUSB_NO_WIN32_HELPERS

static inline DWORD WINAPI GetLastError(void)
{
	return bu_win32_get_last_error(BU_WINUSB_CURRENT());
}

static inline void WINAPI SetLastError(DWORD dwErrCode)
{
	bu_win32_set_last_error(BU_WINUSB_CURRENT(), dwErrCode);
}

static inline HANDLE WINAPI CreateEventA(LPSECURITY_ATTRIBUTES lpEventAttributes,
					 BOOL bManualReset, BOOL bInitialState, LPCSTR lpName)
{
	(void)lpEventAttributes;
	(void)lpName;
	return bu_win32_create_event(BU_WINUSB_CURRENT(), bManualReset, bInitialState);
}

static inline HANDLE WINAPI CreateEventW(LPSECURITY_ATTRIBUTES lpEventAttributes,
					 BOOL bManualReset, BOOL bInitialState, LPCWSTR lpName)
{
	(void)lpEventAttributes;
	(void)lpName;
	return bu_win32_create_event(BU_WINUSB_CURRENT(), bManualReset, bInitialState);
}

static inline BOOL WINAPI SetEvent(HANDLE hEvent)
{
	return bu_win32_set_event(BU_WINUSB_CURRENT(), hEvent);
}

static inline BOOL WINAPI ResetEvent(HANDLE hEvent)
{
	return bu_win32_reset_event(BU_WINUSB_CURRENT(), hEvent);
}

static inline DWORD WINAPI WaitForSingleObject(HANDLE hHandle, DWORD dwMilliseconds)
{
	return bu_win32_wait(BU_WINUSB_CURRENT(), hHandle, dwMilliseconds);
}

static inline BOOL WINAPI CloseHandle(HANDLE hObject)
{
	return bu_win32_close_handle(BU_WINUSB_CURRENT(), hObject);
}

static inline void WINAPI Sleep(DWORD dwMilliseconds)
{
	bu_win32_sleep(BU_WINUSB_CURRENT(), dwMilliseconds);
}

static inline BOOL WINAPI QueryPerformanceCounter(LARGE_INTEGER *lpPerformanceCount)
{
	return bu_win32_qpc(BU_WINUSB_CURRENT(), lpPerformanceCount);
}

static inline BOOL WINAPI QueryPerformanceFrequency(LARGE_INTEGER *lpFrequency)
{
	if (!lpFrequency)
		return FALSE;
	lpFrequency->QuadPart = 1000000; /* the platform clock counts microseconds */
	return TRUE;
}

static inline BOOL WINAPI GetOverlappedResult(HANDLE hFile, LPOVERLAPPED lpOverlapped,
					      LPDWORD lpNumberOfBytesTransferred, BOOL bWait)
{
	return bu_win32_get_overlapped_result(BU_WINUSB_CURRENT(), hFile, lpOverlapped,
					      lpNumberOfBytesTransferred, bWait);
}

static inline BOOL WINAPI CancelIo(HANDLE hFile)
{
	return bu_win32_cancel_io(BU_WINUSB_CURRENT(), hFile);
}

/**
 * CreateFile on a device path from discovery. Only OPEN_EXISTING of a
 * WinUSB device path is supported; other arguments are accepted as
 * Windows programs pass them.
 */
static inline HANDLE WINAPI CreateFileA(LPCSTR lpFileName, DWORD dwDesiredAccess,
					DWORD dwShareMode,
					LPSECURITY_ATTRIBUTES lpSecurityAttributes,
					DWORD dwCreationDisposition, DWORD dwFlagsAndAttributes,
					HANDLE hTemplateFile)
{
	(void)dwDesiredAccess;
	(void)dwShareMode;
	(void)lpSecurityAttributes;
	(void)hTemplateFile;
	if (dwCreationDisposition != OPEN_EXISTING) {
		bu_win32_set_last_error(BU_WINUSB_CURRENT(), ERROR_INVALID_PARAMETER);
		return INVALID_HANDLE_VALUE;
	}
	return bu_winusb_open(BU_WINUSB_CURRENT(), lpFileName, dwFlagsAndAttributes);
}

#ifndef CreateEvent
#define CreateEvent CreateEventA
#endif
#ifndef CreateFile
#define CreateFile CreateFileA
#endif
#ifndef ZeroMemory
#define ZeroMemory(dst, len) bu_win32_zero((dst), (len))
#endif

/** ZeroMemory without libc. */
static inline void bu_win32_zero(void *dst, size_t len)
{
	volatile unsigned char *d = (volatile unsigned char *)dst;

	while (len--)
		*d++ = 0;
}

#endif /* !BU_WINUSB_NO_WIN32_HELPERS */

#ifdef __cplusplus
}
#endif

#endif
