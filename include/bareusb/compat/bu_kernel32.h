/*
 * The kernel32 / winerror.h part of <windows.h> that WinUSB programs use
 * beyond the WinUSB helpers of bareusb/winusb.h: HRESULT and its macros
 * (winerror.h: SUCCEEDED, FAILED, HRESULT_FROM_WIN32), LocalAlloc /
 * LocalFree and HeapAlloc / HeapFree / GetProcessHeap (on the C library's
 * allocator), CreateFileW, a few more base types and the error codes the
 * SetupAPI subset sets. For hosted programs only: the functions live in
 * compat/ (libbareusb_compat), not in the freestanding library.
 */
#ifndef BAREUSB_COMPAT_BU_KERNEL32_H
#define BAREUSB_COMPAT_BU_KERNEL32_H

#include "../wintypes.h"

#ifdef __cplusplus
extern "C" {
#endif

#ifdef BU_WINTYPES_DEFINED
typedef unsigned int UINT, *PUINT;
typedef LONG HRESULT;
typedef void *HLOCAL;
typedef void *HWND;
typedef void *HINSTANCE, *HMODULE;
typedef char *PSTR;
typedef const char *PCSTR;
typedef WCHAR *PWSTR, *PWCHAR;
typedef const WCHAR *PCWSTR;
typedef LONG *LPLONG;
typedef const GUID *PCGUID;
#ifdef UNICODE
typedef WCHAR TCHAR, *PTCHAR;
typedef LPWSTR LPTSTR, PTSTR;
typedef LPCWSTR LPCTSTR, PCTSTR;
#else
typedef char TCHAR, *PTCHAR;
typedef LPSTR LPTSTR, PTSTR;
typedef LPCSTR LPCTSTR, PCTSTR;
#endif
#endif

#ifndef __cdecl
#define __cdecl /* the only convention of the hosts bareusb runs programs on */
#endif
#ifndef WINAPIV
#define WINAPIV
#endif
#ifndef ANYSIZE_ARRAY
#define ANYSIZE_ARRAY 1
#endif
#ifndef MAX_PATH
#define MAX_PATH 260
#endif
#ifndef EXTERN_C
#ifdef __cplusplus
#define EXTERN_C extern "C"
#else
#define EXTERN_C extern
#endif
#endif

/* ------------------------------------------------------------------------ */
/* HRESULT (winerror.h)                                                     */

#define S_OK ((HRESULT)0)
#define S_FALSE ((HRESULT)1)
#define E_FAIL ((HRESULT)0x80004005u)
#define E_OUTOFMEMORY ((HRESULT)0x8007000Eu)
#define E_INVALIDARG ((HRESULT)0x80070057u)
#define E_UNEXPECTED ((HRESULT)0x8000FFFFu)
#define FACILITY_WIN32 7
#define SUCCEEDED(hr) (((HRESULT)(hr)) >= 0)
#define FAILED(hr) (((HRESULT)(hr)) < 0)
#define HRESULT_CODE(hr) ((hr) & 0xFFFF)
/** A Win32 error as an HRESULT: 0 stays S_OK, others get FACILITY_WIN32. */
#define HRESULT_FROM_WIN32(x)                         \
	((HRESULT)(x) <= 0 ? (HRESULT)(x)              \
			   : (HRESULT)(((DWORD)(x) & 0x0000FFFFu) | (FACILITY_WIN32 << 16) | 0x80000000u))

/* ------------------------------------------------------------------------ */
/* Error codes the SetupAPI subset and the allocators set (winerror.h)      */

#ifndef ERROR_INVALID_DATA
#define ERROR_INVALID_DATA 13u
#endif
#ifndef ERROR_OUTOFMEMORY
#define ERROR_OUTOFMEMORY 14u
#endif
#ifndef ERROR_INVALID_FLAGS
#define ERROR_INVALID_FLAGS 1004u
#endif
#ifndef ERROR_INVALID_USER_BUFFER
#define ERROR_INVALID_USER_BUFFER 1784u
#endif

/* ------------------------------------------------------------------------ */
/* Memory (winbase.h / heapapi.h)                                           */

#define LMEM_FIXED 0x0000u
#define LMEM_ZEROINIT 0x0040u
#define LPTR (LMEM_FIXED | LMEM_ZEROINIT)
#define HEAP_ZERO_MEMORY 0x00000008u

/** uBytes of memory (zeroed with LMEM_ZEROINIT); NULL with ERROR_NOT_ENOUGH_MEMORY. */
HLOCAL WINAPI LocalAlloc(UINT uFlags, SIZE_T uBytes);
/** Free a LocalAlloc block: NULL on success (as Windows returns). */
HLOCAL WINAPI LocalFree(HLOCAL hMem);
/** The process heap (one per process, never NULL). */
HANDLE WINAPI GetProcessHeap(void);
/** dwBytes from hHeap (zeroed with HEAP_ZERO_MEMORY); NULL when it fails. */
LPVOID WINAPI HeapAlloc(HANDLE hHeap, DWORD dwFlags, SIZE_T dwBytes);
/** Free a HeapAlloc block; FALSE with ERROR_INVALID_HANDLE for another heap. */
BOOL WINAPI HeapFree(HANDLE hHeap, DWORD dwFlags, LPVOID lpMem);

/** CreateFile with a UTF-16 path: the path is narrowed and opened as CreateFileA does. */
HANDLE WINAPI CreateFileW(LPCWSTR lpFileName, DWORD dwDesiredAccess, DWORD dwShareMode,
			  LPSECURITY_ATTRIBUTES lpSecurityAttributes, DWORD dwCreationDisposition,
			  DWORD dwFlagsAndAttributes, HANDLE hTemplateFile);

#ifdef UNICODE
#define CreateFile CreateFileW
#define CreateEvent CreateEventW
#endif

#ifdef __cplusplus
}
#endif

#endif
