/*
 * <tchar.h> for programs written for Windows: the generic-text names a
 * Visual Studio template uses, mapped to the narrow (default) or, with
 * UNICODE/_UNICODE, the wide entry point. Only what maps onto names the
 * program's C library has; the _t string functions map to <string.h>'s
 * and <stdio.h>'s narrow ones, so include those as Windows programs do.
 */
#ifndef BAREUSB_COMPAT_TCHAR_H
#define BAREUSB_COMPAT_TCHAR_H

#include "bu_kernel32.h"

#if defined(_UNICODE) || defined(UNICODE)
#define _tmain wmain
#define __T(x) L##x
#else
#define _tmain main
#define __T(x) x
#define _tprintf printf
#define _ftprintf fprintf
#define _stprintf sprintf
#define _tcslen strlen
#define _tcscpy strcpy
#define _tcscmp strcmp
#define _tcsicmp strcasecmp
#define _tcsncpy strncpy
#endif
#define _T(x) __T(x)
#define _TEXT(x) __T(x)
#ifndef TEXT
#define TEXT(x) __T(x)
#endif

#endif
