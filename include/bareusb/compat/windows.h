/*
 * <windows.h> for programs written for Windows: put include/bareusb/compat
 * on the include path and `#include <windows.h>` gets Windows' base types
 * and the Win32 helpers WinUSB programs use (GetLastError, CreateEvent,
 * WaitForSingleObject, CloseHandle, CreateFile, Sleep, ...) from bareusb,
 * plus HRESULT, LocalAlloc/HeapAlloc and CreateFileW (bu_kernel32.h; those
 * are linked from libbareusb_compat) and DEFINE_GUID (guiddef.h).
 */
#ifndef BAREUSB_COMPAT_WINDOWS_H
#define BAREUSB_COMPAT_WINDOWS_H

#include "../wintypes.h"
#include "bu_kernel32.h"
#include "../winusb.h"
#include "guiddef.h"

#endif
