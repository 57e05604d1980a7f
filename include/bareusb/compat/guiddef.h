/*
 * <guiddef.h> for programs written for Windows: DEFINE_GUID declares a GUID
 * (extern), or defines it where <initguid.h> came first (INITGUID), as
 * Windows' guiddef.h does; IsEqualGUID compares two. The DEFINE_GUID part
 * is outside the include guard, so <initguid.h> can switch it.
 */
#ifndef BAREUSB_COMPAT_GUIDDEF_H
#define BAREUSB_COMPAT_GUIDDEF_H

#include "../wintypes.h"
#include "bu_kernel32.h"

#ifndef IsEqualGUID
#ifdef __cplusplus
static inline bool bu_guid_equal(const GUID &a, const GUID &b)
{
	const unsigned char *x = (const unsigned char *)&a, *y = (const unsigned char *)&b;

	for (unsigned i = 0; i < sizeof(GUID); i++)
		if (x[i] != y[i])
			return false;
	return true;
}
#define IsEqualGUID(a, b) bu_guid_equal((a), (b))
#else
static inline int bu_guid_equal(const GUID *a, const GUID *b)
{
	const unsigned char *x = (const unsigned char *)a, *y = (const unsigned char *)b;

	for (unsigned i = 0; i < sizeof(GUID); i++)
		if (x[i] != y[i])
			return 0;
	return 1;
}
#define IsEqualGUID(a, b) bu_guid_equal(&(a), &(b))
#endif
#endif

#endif /* BAREUSB_COMPAT_GUIDDEF_H */

#undef DEFINE_GUID
#ifdef INITGUID
/* Weak, as Windows' __declspec(selectany): several units may define it. In
 * C a file-scope const already has external linkage (no `extern` with an
 * initializer); in C++ extern "C" gives it. */
#ifdef __cplusplus
#define BU_GUID_DEF extern "C" __attribute__((weak))
#else
#define BU_GUID_DEF __attribute__((weak))
#endif
#define DEFINE_GUID(name, l, w1, w2, b1, b2, b3, b4, b5, b6, b7, b8) \
	BU_GUID_DEF const GUID name = { l, w1, w2, { b1, b2, b3, b4, b5, b6, b7, b8 } }
#else
#define DEFINE_GUID(name, l, w1, w2, b1, b2, b3, b4, b5, b6, b7, b8) \
	EXTERN_C const GUID name
#endif
