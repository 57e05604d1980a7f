/*
 * The hosted part of bareusb's <windows.h> and <strsafe.h>
 * (include/bareusb/compat): LocalAlloc/HeapAlloc on the C library's
 * allocator, CreateFileW, and the strsafe string functions. Not part of the
 * freestanding library: programs built against the compat headers link it
 * (libbareusb_compat).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <windows.h>
#include <strsafe.h>

/* ======================================================================== */
/* Memory                                                                   */
/* ======================================================================== */

/* The process heap handle: any distinct non-NULL address. */
static const char process_heap_tag;

HLOCAL WINAPI LocalAlloc(UINT uFlags, SIZE_T uBytes)
{
	void *p;

	if (uFlags & ~(UINT)LMEM_ZEROINIT) {
		SetLastError(ERROR_INVALID_PARAMETER); /* movable memory is not offered */
		return NULL;
	}
	p = (uFlags & LMEM_ZEROINIT) ? calloc(1, uBytes ? uBytes : 1) : malloc(uBytes ? uBytes : 1);
	if (!p)
		SetLastError(ERROR_NOT_ENOUGH_MEMORY);
	return p;
}

HLOCAL WINAPI LocalFree(HLOCAL hMem)
{
	free(hMem);
	return NULL;
}

HANDLE WINAPI GetProcessHeap(void)
{
	return (HANDLE)&process_heap_tag;
}

LPVOID WINAPI HeapAlloc(HANDLE hHeap, DWORD dwFlags, SIZE_T dwBytes)
{
	if (hHeap != GetProcessHeap())
		return NULL;
	return (dwFlags & HEAP_ZERO_MEMORY) ? calloc(1, dwBytes ? dwBytes : 1)
					    : malloc(dwBytes ? dwBytes : 1);
}

BOOL WINAPI HeapFree(HANDLE hHeap, DWORD dwFlags, LPVOID lpMem)
{
	(void)dwFlags;
	if (hHeap != GetProcessHeap()) {
		SetLastError(ERROR_INVALID_HANDLE);
		return FALSE;
	}
	free(lpMem);
	return TRUE;
}

/* ======================================================================== */
/* Files                                                                    */
/* ======================================================================== */

HANDLE WINAPI CreateFileW(LPCWSTR lpFileName, DWORD dwDesiredAccess, DWORD dwShareMode,
			  LPSECURITY_ATTRIBUTES lpSecurityAttributes, DWORD dwCreationDisposition,
			  DWORD dwFlagsAndAttributes, HANDLE hTemplateFile)
{
	char path[MAX_PATH];
	size_t i;

	if (!lpFileName) {
		SetLastError(ERROR_INVALID_PARAMETER);
		return INVALID_HANDLE_VALUE;
	}
	/* Device paths are ASCII: anything else names no device. */
	for (i = 0; lpFileName[i]; i++) {
		if (i + 1 >= sizeof(path) || lpFileName[i] > 0x7f) {
			SetLastError(ERROR_FILE_NOT_FOUND);
			return INVALID_HANDLE_VALUE;
		}
		path[i] = (char)lpFileName[i];
	}
	path[i] = '\0';
	return CreateFileA(path, dwDesiredAccess, dwShareMode, lpSecurityAttributes,
			   dwCreationDisposition, dwFlagsAndAttributes, hTemplateFile);
}

/* ======================================================================== */
/* strsafe                                                                  */
/* ======================================================================== */

/* Copy src (and append at dest's end with cat) into cch chars of dest. */
static HRESULT cch_copy(LPSTR dest, size_t cch, LPCSTR src, int cat)
{
	size_t at = 0, i;

	if (!dest || cch == 0 || cch > STRSAFE_MAX_CCH)
		return STRSAFE_E_INVALID_PARAMETER;
	if (cat) {
		while (at < cch && dest[at])
			at++;
		if (at == cch)
			return STRSAFE_E_INVALID_PARAMETER;
	}
	if (!src)
		src = "";
	for (i = 0; src[i]; i++) {
		if (at + i + 1 >= cch) {
			dest[at + i] = '\0';
			return STRSAFE_E_INSUFFICIENT_BUFFER;
		}
		dest[at + i] = src[i];
	}
	dest[at + i] = '\0';
	return S_OK;
}

HRESULT StringCchCopyA(LPSTR pszDest, size_t cchDest, LPCSTR pszSrc)
{
	return cch_copy(pszDest, cchDest, pszSrc, 0);
}

HRESULT StringCbCopyA(LPSTR pszDest, size_t cbDest, LPCSTR pszSrc)
{
	return cch_copy(pszDest, cbDest, pszSrc, 0);
}

HRESULT StringCchCatA(LPSTR pszDest, size_t cchDest, LPCSTR pszSrc)
{
	return cch_copy(pszDest, cchDest, pszSrc, 1);
}

HRESULT StringCbCatA(LPSTR pszDest, size_t cbDest, LPCSTR pszSrc)
{
	return cch_copy(pszDest, cbDest, pszSrc, 1);
}

HRESULT StringCchCopyW(LPWSTR pszDest, size_t cchDest, LPCWSTR pszSrc)
{
	size_t i;

	if (!pszDest || cchDest == 0 || cchDest > STRSAFE_MAX_CCH)
		return STRSAFE_E_INVALID_PARAMETER;
	for (i = 0; pszSrc && pszSrc[i]; i++) {
		if (i + 1 >= cchDest) {
			pszDest[i] = 0;
			return STRSAFE_E_INSUFFICIENT_BUFFER;
		}
		pszDest[i] = pszSrc[i];
	}
	pszDest[i] = 0;
	return S_OK;
}

HRESULT StringCbCopyW(LPWSTR pszDest, size_t cbDest, LPCWSTR pszSrc)
{
	return StringCchCopyW(pszDest, cbDest / sizeof(WCHAR), pszSrc);
}

/* The length of a string of `unit`-byte characters, at most cch_max - 1. */
static HRESULT cch_length(const void *psz, size_t unit, size_t cch_max, size_t *out)
{
	const unsigned char *p = (const unsigned char *)psz;
	size_t n = 0;

	if (p && cch_max <= STRSAFE_MAX_CCH) {
		while (n < cch_max && (unit == 1 ? p[n] != 0 : ((const WCHAR *)psz)[n] != 0))
			n++;
		if (n < cch_max) {
			if (out)
				*out = n;
			return S_OK;
		}
	}
	if (out)
		*out = 0;
	return STRSAFE_E_INVALID_PARAMETER;
}

HRESULT StringCchLengthA(LPCSTR psz, size_t cchMax, size_t *pcchLength)
{
	return cch_length(psz, 1, cchMax, pcchLength);
}

HRESULT StringCbLengthA(LPCSTR psz, size_t cbMax, size_t *pcbLength)
{
	return cch_length(psz, 1, cbMax, pcbLength);
}

HRESULT StringCchLengthW(LPCWSTR psz, size_t cchMax, size_t *pcchLength)
{
	return cch_length(psz, sizeof(WCHAR), cchMax, pcchLength);
}

HRESULT StringCchVPrintfA(LPSTR pszDest, size_t cchDest, LPCSTR pszFormat, va_list argList)
{
	int n;

	if (!pszDest || cchDest == 0 || cchDest > STRSAFE_MAX_CCH)
		return STRSAFE_E_INVALID_PARAMETER;
	if (!pszFormat) {
		pszDest[0] = '\0';
		return STRSAFE_E_INVALID_PARAMETER;
	}
	n = vsnprintf(pszDest, cchDest, pszFormat, argList);
	if (n < 0) {
		pszDest[0] = '\0';
		return STRSAFE_E_INVALID_PARAMETER;
	}
	return (size_t)n >= cchDest ? STRSAFE_E_INSUFFICIENT_BUFFER : S_OK;
}

HRESULT StringCchPrintfA(LPSTR pszDest, size_t cchDest, LPCSTR pszFormat, ...)
{
	va_list ap;
	HRESULT hr;

	va_start(ap, pszFormat);
	hr = StringCchVPrintfA(pszDest, cchDest, pszFormat, ap);
	va_end(ap);
	return hr;
}

HRESULT StringCbPrintfA(LPSTR pszDest, size_t cbDest, LPCSTR pszFormat, ...)
{
	va_list ap;
	HRESULT hr;

	va_start(ap, pszFormat);
	hr = StringCchVPrintfA(pszDest, cbDest, pszFormat, ap);
	va_end(ap);
	return hr;
}
