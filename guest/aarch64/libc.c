/*
 * The four memory routines the compiler may call on its own (struct copies,
 * large initialisers), even with -ffreestanding. no_builtin keeps clang
 * from turning these loops back into calls to themselves; aligned buffers
 * move 8 bytes at a time (the WinUSB storage test copies megabytes).
 */
#include "guest.h"

#define NO_BUILTIN(f) __attribute__((no_builtin(f)))

NO_BUILTIN("memcpy") void *memcpy(void *dst, const void *src, size_t n)
{
	unsigned char *d = dst;
	const unsigned char *s = src;

	if ((((uintptr_t)d | (uintptr_t)s) & 7) == 0)
		for (; n >= 8; n -= 8, d += 8, s += 8)
			*(uint64_t *)(void *)d =
			    *(const uint64_t *)(const void *)s;
	for (; n; n--)
		*d++ = *s++;
	return dst;
}

NO_BUILTIN("memmove") void *memmove(void *dst, const void *src, size_t n)
{
	unsigned char *d = dst;
	const unsigned char *s = src;

	if (d <= s || d >= s + n)
		return memcpy(dst, src, n);
	/* Overlap with dst above src: copy backwards. */
	while (n--)
		d[n] = s[n];
	return dst;
}

NO_BUILTIN("memset") void *memset(void *dst, int c, size_t n)
{
	unsigned char *d = dst;
	uint64_t v = (uint8_t)c * 0x0101010101010101ull;

	for (; n && ((uintptr_t)d & 7); n--)
		*d++ = (unsigned char)c;
	for (; n >= 8; n -= 8, d += 8)
		*(uint64_t *)(void *)d = v;
	for (; n; n--)
		*d++ = (unsigned char)c;
	return dst;
}

NO_BUILTIN("memcmp") int memcmp(const void *a, const void *b, size_t n)
{
	const unsigned char *x = a, *y = b;

	for (; n; n--, x++, y++)
		if (*x != *y)
			return *x - *y;
	return 0;
}
