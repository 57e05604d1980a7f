/*
 * The few Windows base types, constants and Win32 error codes that the
 * WinUSB headers (bareusb/winusb.h, bareusb/winusbio.h) are written in,
 * with the Win32 (LLP64) sizes: BOOL and LONG/ULONG/DWORD are 32 bits,
 * handles are pointers.
 *
 * They are defined only when the embedder has not defined them already: an
 * embedder that has its own Windows headers includes them first (their
 * guards _WINDEF_ / _MINWINDEF_ are detected) or defines
 * BU_HAVE_WINDOWS_TYPES before including any bareusb WinUSB header. Each
 * constant is defined under its own #ifndef, so a partial set elsewhere
 * does not clash.
 *
 * Freestanding: only <stddef.h> and <stdint.h>. Compiles as C11 and C++11.
 */
#ifndef BAREUSB_WINTYPES_H
#define BAREUSB_WINTYPES_H

#include <stddef.h>
#include <stdint.h>

#include "bareusb/compiler.h"

#if !defined(BU_HAVE_WINDOWS_TYPES) && !defined(_WINDEF_) && !defined(_MINWINDEF_)
#define BU_WINTYPES_DEFINED 1

/* ------------------------------------------------------------------------ */
/* Calling convention: __stdcall on 32-bit x86, nothing elsewhere.          */

#if defined(__i386__) && defined(__GNUC__)
#define WINAPI __attribute__((stdcall))
#else
#define WINAPI
#endif

/* ------------------------------------------------------------------------ */
/* Integer and pointer types (Win32 ABI, LLP64)                             */

typedef int BOOL, *PBOOL, *LPBOOL;
typedef uint8_t BOOLEAN, *PBOOLEAN;
typedef uint8_t BYTE, *PBYTE, *LPBYTE;
typedef char CHAR, *PCHAR;
typedef uint8_t UCHAR, *PUCHAR;
typedef uint16_t USHORT, *PUSHORT;
typedef uint16_t WORD, *PWORD;
typedef int32_t LONG, *PLONG;
typedef uint32_t ULONG, *PULONG;
typedef uint32_t DWORD, *PDWORD, *LPDWORD;
typedef int64_t LONGLONG;
typedef uint64_t ULONGLONG;
typedef intptr_t LONG_PTR;
typedef uintptr_t ULONG_PTR, *PULONG_PTR;
typedef uintptr_t SIZE_T;
typedef void VOID, *PVOID, *LPVOID;
typedef const void *LPCVOID;
typedef void *HANDLE, **PHANDLE;
typedef uint16_t WCHAR;
typedef char *LPSTR;
typedef const char *LPCSTR;
typedef WCHAR *LPWSTR;
typedef const WCHAR *LPCWSTR;

/** 64-bit signed integer with 32-bit halves (winnt.h). */
typedef union _LARGE_INTEGER {
	__extension__ struct {
		DWORD LowPart;
		LONG HighPart;
	};
	struct {
		DWORD LowPart;
		LONG HighPart;
	} u;
	LONGLONG QuadPart;
} LARGE_INTEGER, *PLARGE_INTEGER;

/** A GUID as Windows lays it out in memory (guiddef.h). */
typedef struct _GUID {
	uint32_t Data1;
	uint16_t Data2;
	uint16_t Data3;
	uint8_t Data4[8];
} GUID, *LPGUID;
typedef const GUID *REFGUID, *LPCGUID;

/**
 * The asynchronous I/O block (minwinbase.h). `Internal` carries the status
 * (STATUS_PENDING while the request runs), `InternalHigh` the byte count;
 * `hEvent` is set when the request completes.
 */
typedef struct _OVERLAPPED {
	ULONG_PTR Internal;
	ULONG_PTR InternalHigh;
	__extension__ union {
		__extension__ struct {
			DWORD Offset;
			DWORD OffsetHigh;
		};
		PVOID Pointer;
	};
	HANDLE hEvent;
} OVERLAPPED, *LPOVERLAPPED;

/** CreateEvent / CreateFile security attributes (accepted and ignored). */
typedef struct _SECURITY_ATTRIBUTES {
	DWORD nLength;
	LPVOID lpSecurityDescriptor;
	BOOL bInheritHandle;
} SECURITY_ATTRIBUTES, *PSECURITY_ATTRIBUTES, *LPSECURITY_ATTRIBUTES;

BU_STATIC_ASSERT(sizeof(BOOL) == 4, "BOOL is 32 bits");
BU_STATIC_ASSERT(sizeof(ULONG) == 4 && sizeof(LONG) == 4, "LONG is 32 bits");
BU_STATIC_ASSERT(sizeof(LARGE_INTEGER) == 8, "LARGE_INTEGER");
BU_STATIC_ASSERT(sizeof(GUID) == 16, "GUID");
BU_STATIC_ASSERT(offsetof(OVERLAPPED, hEvent) == 2 * sizeof(ULONG_PTR) + sizeof(PVOID) +
			 (sizeof(PVOID) < 8 ? 4 : 0),
		 "OVERLAPPED layout");

#endif /* own Windows types */

/* ------------------------------------------------------------------------ */
/* Constants (each under its own guard)                                     */

#ifndef TRUE
#define TRUE 1
#endif
#ifndef FALSE
#define FALSE 0
#endif
#ifndef INVALID_HANDLE_VALUE
#define INVALID_HANDLE_VALUE ((HANDLE)(LONG_PTR)-1)
#endif
#ifndef INFINITE
#define INFINITE 0xFFFFFFFFu
#endif
#ifndef WAIT_OBJECT_0
#define WAIT_OBJECT_0 0x00000000u
#endif
#ifndef WAIT_ABANDONED
#define WAIT_ABANDONED 0x00000080u
#endif
#ifndef WAIT_TIMEOUT
#define WAIT_TIMEOUT 0x00000102u
#endif
#ifndef WAIT_FAILED
#define WAIT_FAILED 0xFFFFFFFFu
#endif
#ifndef STATUS_PENDING
#define STATUS_PENDING 0x00000103u
#endif
#ifndef HasOverlappedIoCompleted
/** True once the request of an OVERLAPPED has completed (winbase.h). */
#define HasOverlappedIoCompleted(lpOverlapped) \
	(((DWORD)(lpOverlapped)->Internal) != STATUS_PENDING)
#endif

/* CreateFile arguments (winnt.h / fileapi.h) */
#ifndef GENERIC_READ
#define GENERIC_READ 0x80000000u
#endif
#ifndef GENERIC_WRITE
#define GENERIC_WRITE 0x40000000u
#endif
#ifndef FILE_SHARE_READ
#define FILE_SHARE_READ 0x00000001u
#endif
#ifndef FILE_SHARE_WRITE
#define FILE_SHARE_WRITE 0x00000002u
#endif
#ifndef OPEN_EXISTING
#define OPEN_EXISTING 3u
#endif
#ifndef FILE_ATTRIBUTE_NORMAL
#define FILE_ATTRIBUTE_NORMAL 0x00000080u
#endif
#ifndef FILE_FLAG_OVERLAPPED
#define FILE_FLAG_OVERLAPPED 0x40000000u
#endif

/* ------------------------------------------------------------------------ */
/* Win32 error codes WinUSB sets (winerror.h, "System Error Codes")         */

#ifndef ERROR_SUCCESS
#define ERROR_SUCCESS 0u
#endif
#ifndef NO_ERROR
#define NO_ERROR 0u
#endif
#ifndef ERROR_FILE_NOT_FOUND
#define ERROR_FILE_NOT_FOUND 2u
#endif
#ifndef ERROR_ACCESS_DENIED
#define ERROR_ACCESS_DENIED 5u
#endif
#ifndef ERROR_INVALID_HANDLE
#define ERROR_INVALID_HANDLE 6u
#endif
#ifndef ERROR_NOT_ENOUGH_MEMORY
#define ERROR_NOT_ENOUGH_MEMORY 8u
#endif
#ifndef ERROR_BAD_COMMAND
#define ERROR_BAD_COMMAND 22u
#endif
#ifndef ERROR_GEN_FAILURE
#define ERROR_GEN_FAILURE 31u
#endif
#ifndef ERROR_NOT_SUPPORTED
#define ERROR_NOT_SUPPORTED 50u
#endif
#ifndef ERROR_INVALID_PARAMETER
#define ERROR_INVALID_PARAMETER 87u
#endif
#ifndef ERROR_SEM_TIMEOUT
#define ERROR_SEM_TIMEOUT 121u
#endif
#ifndef ERROR_INSUFFICIENT_BUFFER
#define ERROR_INSUFFICIENT_BUFFER 122u
#endif
#ifndef ERROR_BUSY
#define ERROR_BUSY 170u
#endif
#ifndef ERROR_ALREADY_EXISTS
#define ERROR_ALREADY_EXISTS 183u
#endif
#ifndef ERROR_MORE_DATA
#define ERROR_MORE_DATA 234u
#endif
#ifndef ERROR_NO_MORE_ITEMS
#define ERROR_NO_MORE_ITEMS 259u
#endif
#ifndef ERROR_NO_SUCH_DEVICE
#define ERROR_NO_SUCH_DEVICE 433u
#endif
#ifndef ERROR_OPERATION_ABORTED
#define ERROR_OPERATION_ABORTED 995u
#endif
#ifndef ERROR_NOACCESS
#define ERROR_NOACCESS 998u
#endif
#ifndef ERROR_IO_INCOMPLETE
#define ERROR_IO_INCOMPLETE 996u
#endif
#ifndef ERROR_IO_PENDING
#define ERROR_IO_PENDING 997u
#endif
#ifndef ERROR_NOT_FOUND
#define ERROR_NOT_FOUND 1168u
#endif
#ifndef ERROR_DEVICE_NOT_CONNECTED
#define ERROR_DEVICE_NOT_CONNECTED 1167u
#endif
#ifndef ERROR_BAD_DEVICE
#define ERROR_BAD_DEVICE 1200u
#endif

#endif
