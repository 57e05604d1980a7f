/*
 * <strsafe.h> for programs written for Windows: the bounded string
 * functions Microsoft's WinUSB template and walkthrough use, with their
 * documented results: S_OK; STRSAFE_E_INSUFFICIENT_BUFFER when the result
 * was truncated (the destination still ends in a NUL); STRSAFE_E_INVALID_
 * PARAMETER for a zero or too large size (the destination, if any, is left
 * an empty string). Cch sizes count characters, Cb sizes bytes. Linked
 * from libbareusb_compat (StringCchPrintf needs the C library).
 */
#ifndef BAREUSB_COMPAT_STRSAFE_H
#define BAREUSB_COMPAT_STRSAFE_H

#include <stdarg.h>

#include "bu_kernel32.h"

#ifdef __cplusplus
extern "C" {
#endif

#define STRSAFE_MAX_CCH 2147483647
#define STRSAFE_E_INSUFFICIENT_BUFFER ((HRESULT)0x8007007Au) /* ERROR_INSUFFICIENT_BUFFER */
#define STRSAFE_E_INVALID_PARAMETER ((HRESULT)0x80070057u)   /* ERROR_INVALID_PARAMETER */
#define STRSAFE_E_END_OF_FILE ((HRESULT)0x80070026u)         /* ERROR_HANDLE_EOF */

HRESULT StringCchCopyA(LPSTR pszDest, size_t cchDest, LPCSTR pszSrc);
HRESULT StringCchCopyW(LPWSTR pszDest, size_t cchDest, LPCWSTR pszSrc);
HRESULT StringCbCopyA(LPSTR pszDest, size_t cbDest, LPCSTR pszSrc);
HRESULT StringCbCopyW(LPWSTR pszDest, size_t cbDest, LPCWSTR pszSrc);
HRESULT StringCchCatA(LPSTR pszDest, size_t cchDest, LPCSTR pszSrc);
HRESULT StringCbCatA(LPSTR pszDest, size_t cbDest, LPCSTR pszSrc);
/** The length of psz without its NUL, into *pcchLength; fails past cchMax. */
HRESULT StringCchLengthA(LPCSTR psz, size_t cchMax, size_t *pcchLength);
HRESULT StringCchLengthW(LPCWSTR psz, size_t cchMax, size_t *pcchLength);
HRESULT StringCbLengthA(LPCSTR psz, size_t cbMax, size_t *pcbLength);
HRESULT StringCchPrintfA(LPSTR pszDest, size_t cchDest, LPCSTR pszFormat, ...)
	__attribute__((format(printf, 3, 4)));
HRESULT StringCbPrintfA(LPSTR pszDest, size_t cbDest, LPCSTR pszFormat, ...)
	__attribute__((format(printf, 3, 4)));
HRESULT StringCchVPrintfA(LPSTR pszDest, size_t cchDest, LPCSTR pszFormat, va_list argList);

#ifdef UNICODE
#define StringCchCopy StringCchCopyW
#define StringCbCopy StringCbCopyW
#define StringCchLength StringCchLengthW
#else
#define StringCchCopy StringCchCopyA
#define StringCbCopy StringCbCopyA
#define StringCchCat StringCchCatA
#define StringCbCat StringCbCatA
#define StringCchLength StringCchLengthA
#define StringCbLength StringCbLengthA
#define StringCchPrintf StringCchPrintfA
#define StringCbPrintf StringCbPrintfA
#define StringCchVPrintf StringCchVPrintfA
#endif

#ifdef __cplusplus
}
#endif

#endif
