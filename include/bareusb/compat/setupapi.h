/*
 * <setupapi.h> for programs written for Windows: the device-interface
 * discovery subset of SetupAPI that WinUSB programs use (Microsoft's
 * "How to access a USB device by using WinUSB functions" and the WinUSB
 * application template), with Microsoft's names, structure layouts (each
 * checked through its cbSize), A and W variants and error codes:
 * SetupDiGetClassDevs, SetupDiEnumDeviceInterfaces,
 * SetupDiGetDeviceInterfaceDetail, SetupDiEnumDeviceInfo,
 * SetupDiGetDeviceRegistryProperty, SetupDiDestroyDeviceInfoList.
 *
 * The device list is the WinUSB functions the API instance
 * bu_winusb_current() reaches (bu_winusb_find_by_guid and
 * bu_winusb_device_info): a set is a snapshot taken by SetupDiGetClassDevs,
 * so a device that appears or leaves is seen by the next one. Only device
 * interface sets exist here (DIGCF_DEVICEINTERFACE with a GUID; every
 * listed device is present); other requests fail with ERROR_NOT_SUPPORTED.
 * Hosted: linked from libbareusb_compat (compat/setupapi.c).
 */
#ifndef BAREUSB_COMPAT_SETUPAPI_H
#define BAREUSB_COMPAT_SETUPAPI_H

#include "windows.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef PVOID HDEVINFO;

/* 32-bit Windows packs SetupAPI structures to 1 byte, 64-bit to 8. */
#if UINTPTR_MAX == 0xffffffffu
#pragma pack(push, 1)
#endif

/** A device in a set (SP_DEVINFO_DATA). */
typedef struct _SP_DEVINFO_DATA {
	DWORD cbSize;
	GUID ClassGuid;
	DWORD DevInst;
	ULONG_PTR Reserved;
} SP_DEVINFO_DATA, *PSP_DEVINFO_DATA;

/** A device interface in a set (SP_DEVICE_INTERFACE_DATA). */
typedef struct _SP_DEVICE_INTERFACE_DATA {
	DWORD cbSize;
	GUID InterfaceClassGuid;
	DWORD Flags;
	ULONG_PTR Reserved;
} SP_DEVICE_INTERFACE_DATA, *PSP_DEVICE_INTERFACE_DATA;

/** Its path (SP_DEVICE_INTERFACE_DETAIL_DATA_A / _W); cbSize is the fixed part. */
typedef struct _SP_DEVICE_INTERFACE_DETAIL_DATA_A {
	DWORD cbSize;
	CHAR DevicePath[ANYSIZE_ARRAY];
} SP_DEVICE_INTERFACE_DETAIL_DATA_A, *PSP_DEVICE_INTERFACE_DETAIL_DATA_A;

typedef struct _SP_DEVICE_INTERFACE_DETAIL_DATA_W {
	DWORD cbSize;
	WCHAR DevicePath[ANYSIZE_ARRAY];
} SP_DEVICE_INTERFACE_DETAIL_DATA_W, *PSP_DEVICE_INTERFACE_DETAIL_DATA_W;

#if UINTPTR_MAX == 0xffffffffu
#pragma pack(pop)
#endif

/* SetupDiGetClassDevs flags */
#define DIGCF_DEFAULT 0x00000001u
#define DIGCF_PRESENT 0x00000002u
#define DIGCF_ALLCLASSES 0x00000004u
#define DIGCF_PROFILE 0x00000008u
#define DIGCF_DEVICEINTERFACE 0x00000010u

/* SP_DEVICE_INTERFACE_DATA.Flags */
#define SPINT_ACTIVE 0x00000001u
#define SPINT_DEFAULT 0x00000002u
#define SPINT_REMOVED 0x00000004u

/* SetupDiGetDeviceRegistryProperty properties (those answered here) */
#define SPDRP_DEVICEDESC 0x00000000u
#define SPDRP_HARDWAREID 0x00000001u
#define SPDRP_COMPATIBLEIDS 0x00000002u
#define SPDRP_SERVICE 0x00000004u
#define SPDRP_CLASS 0x00000007u
#define SPDRP_CLASSGUID 0x00000008u
#define SPDRP_MFG 0x0000000Bu
#define SPDRP_FRIENDLYNAME 0x0000000Cu
#define SPDRP_LOCATION_INFORMATION 0x0000000Du
#define SPDRP_ENUMERATOR_NAME 0x00000016u
#define SPDRP_MAXIMUM_PROPERTY 0x00000025u

/* Registry value types (winnt.h) */
#ifndef REG_SZ
#define REG_NONE 0u
#define REG_SZ 1u
#define REG_EXPAND_SZ 2u
#define REG_BINARY 3u
#define REG_DWORD 4u
#define REG_MULTI_SZ 7u
#endif

/* SetupAPI's own error codes (setupapi.h: APPLICATION_ERROR_MASK | ERROR_SEVERITY_ERROR | n) */
#define ERROR_INVALID_REG_PROPERTY 0xE0000209u
#define ERROR_NO_SUCH_DEVINST 0xE000020Bu

HDEVINFO WINAPI SetupDiGetClassDevsA(const GUID *ClassGuid, PCSTR Enumerator, HWND hwndParent,
				     DWORD Flags);
HDEVINFO WINAPI SetupDiGetClassDevsW(const GUID *ClassGuid, PCWSTR Enumerator, HWND hwndParent,
				     DWORD Flags);
BOOL WINAPI SetupDiDestroyDeviceInfoList(HDEVINFO DeviceInfoSet);
BOOL WINAPI SetupDiEnumDeviceInterfaces(HDEVINFO DeviceInfoSet, PSP_DEVINFO_DATA DeviceInfoData,
					const GUID *InterfaceClassGuid, DWORD MemberIndex,
					PSP_DEVICE_INTERFACE_DATA DeviceInterfaceData);
BOOL WINAPI SetupDiGetDeviceInterfaceDetailA(
	HDEVINFO DeviceInfoSet, PSP_DEVICE_INTERFACE_DATA DeviceInterfaceData,
	PSP_DEVICE_INTERFACE_DETAIL_DATA_A DeviceInterfaceDetailData,
	DWORD DeviceInterfaceDetailDataSize, PDWORD RequiredSize, PSP_DEVINFO_DATA DeviceInfoData);
BOOL WINAPI SetupDiGetDeviceInterfaceDetailW(
	HDEVINFO DeviceInfoSet, PSP_DEVICE_INTERFACE_DATA DeviceInterfaceData,
	PSP_DEVICE_INTERFACE_DETAIL_DATA_W DeviceInterfaceDetailData,
	DWORD DeviceInterfaceDetailDataSize, PDWORD RequiredSize, PSP_DEVINFO_DATA DeviceInfoData);
BOOL WINAPI SetupDiEnumDeviceInfo(HDEVINFO DeviceInfoSet, DWORD MemberIndex,
				  PSP_DEVINFO_DATA DeviceInfoData);
BOOL WINAPI SetupDiGetDeviceRegistryPropertyA(HDEVINFO DeviceInfoSet,
					      PSP_DEVINFO_DATA DeviceInfoData, DWORD Property,
					      PDWORD PropertyRegDataType, PBYTE PropertyBuffer,
					      DWORD PropertyBufferSize, PDWORD RequiredSize);
BOOL WINAPI SetupDiGetDeviceRegistryPropertyW(HDEVINFO DeviceInfoSet,
					      PSP_DEVINFO_DATA DeviceInfoData, DWORD Property,
					      PDWORD PropertyRegDataType, PBYTE PropertyBuffer,
					      DWORD PropertyBufferSize, PDWORD RequiredSize);

#ifdef UNICODE
#define SetupDiGetClassDevs SetupDiGetClassDevsW
#define SetupDiGetDeviceInterfaceDetail SetupDiGetDeviceInterfaceDetailW
#define SetupDiGetDeviceRegistryProperty SetupDiGetDeviceRegistryPropertyW
#define SP_DEVICE_INTERFACE_DETAIL_DATA SP_DEVICE_INTERFACE_DETAIL_DATA_W
#define PSP_DEVICE_INTERFACE_DETAIL_DATA PSP_DEVICE_INTERFACE_DETAIL_DATA_W
#else
#define SetupDiGetClassDevs SetupDiGetClassDevsA
#define SetupDiGetDeviceInterfaceDetail SetupDiGetDeviceInterfaceDetailA
#define SetupDiGetDeviceRegistryProperty SetupDiGetDeviceRegistryPropertyA
#define SP_DEVICE_INTERFACE_DETAIL_DATA SP_DEVICE_INTERFACE_DETAIL_DATA_A
#define PSP_DEVICE_INTERFACE_DETAIL_DATA PSP_DEVICE_INTERFACE_DETAIL_DATA_A
#endif

#ifdef __cplusplus
}
#endif

#endif
