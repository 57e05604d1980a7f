/*
 * winusbio.h for bareusb: the WinUSB policy identifiers, device-information
 * constants, pipe types and pipe-information structures, with Microsoft's
 * names, values and layouts (winusbio.h).
 *
 * The pipe-information structures use natural alignment, as Microsoft's
 * header does (not libusbK's pack(2)); the sizes and offsets are checked at
 * compile time. Compiles as C11 and C++11.
 */
#ifndef BAREUSB_WINUSBIO_H
#define BAREUSB_WINUSBIO_H

#include "bareusb/compiler.h"
#include "bareusb/wintypes.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------ */
/* Pipe policy types (WinUsb_SetPipePolicy / WinUsb_GetPipePolicy)          */

#define SHORT_PACKET_TERMINATE 0x01 /**< UCHAR, OUT: ZLP after a write of n x wMaxPacketSize */
#define AUTO_CLEAR_STALL 0x02       /**< UCHAR, IN: reset the pipe after a failed read */
#define PIPE_TRANSFER_TIMEOUT 0x03  /**< ULONG ms, 0 = none (control pipe: 5000) */
#define IGNORE_SHORT_PACKETS 0x04   /**< UCHAR, IN: a short packet does not end a read */
#define ALLOW_PARTIAL_READS 0x05    /**< UCHAR, IN: excess data kept or dropped (default TRUE) */
#define AUTO_FLUSH 0x06             /**< UCHAR, IN: drop the excess of a partial read */
#define RAW_IO 0x07                 /**< UCHAR, IN: bypass the queue, n x wMaxPacketSize only */
#define MAXIMUM_TRANSFER_SIZE 0x08  /**< ULONG, read-only: largest transfer submitted */
#define RESET_PIPE_ON_RESUME 0x09   /**< UCHAR: reset the pipe after a resume */

/* ------------------------------------------------------------------------ */
/* Power policy types (WinUsb_SetPowerPolicy / WinUsb_GetPowerPolicy)       */
/* (0x80 is added so they never collide with pipe policy types.)             */

#define AUTO_SUSPEND 0x81  /**< UCHAR: selective suspend when idle */
#define SUSPEND_DELAY 0x83 /**< ULONG: idle milliseconds before suspending */

/* ------------------------------------------------------------------------ */
/* WinUsb_QueryDeviceInformation                                            */

#define DEVICE_SPEED 0x01 /**< InformationType: one UCHAR speed code */
#define LowSpeed 0x01     /**< full speed or lower reports this */
#define FullSpeed 0x02    /**< defined, never reported */
#define HighSpeed 0x03    /**< high speed or faster reports this */

/* ------------------------------------------------------------------------ */
/* Pipe types and pipe information                                          */

/** Endpoint transfer types, as in bmAttributes bits 1:0. */
typedef enum _USBD_PIPE_TYPE {
	UsbdPipeTypeControl = 0,
	UsbdPipeTypeIsochronous = 1,
	UsbdPipeTypeBulk = 2,
	UsbdPipeTypeInterrupt = 3
} USBD_PIPE_TYPE;

/** One endpoint of an alternate setting (WinUsb_QueryPipe). */
typedef struct _WINUSB_PIPE_INFORMATION {
	USBD_PIPE_TYPE PipeType;  /**< from bmAttributes & 3 */
	UCHAR PipeId;             /**< bEndpointAddress (bit 7 = IN) */
	USHORT MaximumPacketSize; /**< wMaxPacketSize as described */
	UCHAR Interval;           /**< bInterval as described */
} WINUSB_PIPE_INFORMATION, *PWINUSB_PIPE_INFORMATION;

/** WinUsb_QueryPipeEx: adds the bytes moved per service interval. */
typedef struct _WINUSB_PIPE_INFORMATION_EX {
	USBD_PIPE_TYPE PipeType;
	UCHAR PipeId;
	USHORT MaximumPacketSize;
	UCHAR Interval;
	ULONG MaximumBytesPerInterval; /**< periodic: per interval; else wMaxPacketSize */
} WINUSB_PIPE_INFORMATION_EX, *PWINUSB_PIPE_INFORMATION_EX;

BU_STATIC_ASSERT(sizeof(USBD_PIPE_TYPE) == 4, "USBD_PIPE_TYPE is an int-sized enum");
BU_STATIC_ASSERT(sizeof(WINUSB_PIPE_INFORMATION) == 12, "WINUSB_PIPE_INFORMATION size");
BU_STATIC_ASSERT(offsetof(WINUSB_PIPE_INFORMATION, PipeId) == 4, "PipeId offset");
BU_STATIC_ASSERT(offsetof(WINUSB_PIPE_INFORMATION, MaximumPacketSize) == 6,
		 "MaximumPacketSize offset");
BU_STATIC_ASSERT(offsetof(WINUSB_PIPE_INFORMATION, Interval) == 8, "Interval offset");
BU_STATIC_ASSERT(sizeof(WINUSB_PIPE_INFORMATION_EX) == 16, "WINUSB_PIPE_INFORMATION_EX size");
BU_STATIC_ASSERT(offsetof(WINUSB_PIPE_INFORMATION_EX, MaximumBytesPerInterval) == 12,
		 "MaximumBytesPerInterval offset");

/* ------------------------------------------------------------------------ */
/* GUIDs                                                                    */

/** {DA812BFF-12C3-46A2-8E2B-DBD3B7834C43}, winusbio.h's test GUID. */
#define BU_WINUSB_TEST_GUID_INIT \
	{ 0xda812bffu, 0x12c3, 0x46a2, { 0x8e, 0x2b, 0xdb, 0xd3, 0xb7, 0x83, 0x4c, 0x43 } }

#if defined(__GNUC__)
__attribute__((unused))
#endif
static const GUID WinUSB_TestGuid = BU_WINUSB_TEST_GUID_INIT;

#ifdef __cplusplus
}
#endif

#endif
