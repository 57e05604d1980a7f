/*
 * Small freestanding helpers shared by the library and its embedders:
 * memory and string routines and a snprintf subset, so that hcd/, core/ and
 * winusb/ need nothing from libc.
 */
#ifndef BAREUSB_UTIL_H
#define BAREUSB_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bareusb/compiler.h"
#include "bareusb/platform.h"

#ifdef __cplusplus
extern "C" {
#endif

/** memcpy without libc. */
void *bu_memcpy(void *dst, const void *src, size_t n);
/** memset without libc. */
void *bu_memset(void *dst, int c, size_t n);
/** memcmp without libc. */
int bu_memcmp(const void *a, const void *b, size_t n);
/** strlen without libc. */
size_t bu_strlen(const char *s);
/** strcmp without libc. */
int bu_strcmp(const char *a, const char *b);

/**
 * snprintf subset: %d %i %u %x %X %c %s %p %% with flags '-', '0', width,
 * precision for %s, and length modifiers hh h l ll z. Returns the length the
 * full output needs (excluding NUL), like C99 snprintf.
 */
int bu_vsnprintf(char *buf, size_t size, const char *fmt, va_list ap);
/** See bu_vsnprintf. */
int bu_snprintf(char *buf, size_t size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#ifndef BU_LOG_LINE_MAX
/** Longest log line the library hands to bu_platform.log, NUL included; longer ones are cut. */
#define BU_LOG_LINE_MAX 256
#endif
BU_STATIC_ASSERT(BU_LOG_LINE_MAX >= 32, "BU_LOG_LINE_MAX: at least 32");

/**
 * The buffer a log line is formatted in, kept in the object that logs (a
 * controller, a bus, a WinUSB driver part) rather than on the stack.
 * `busy` while a line is being formatted and handed over.
 */
struct bu_log_line {
	char buf[BU_LOG_LINE_MAX];
	bool busy;
};

/**
 * Format "<tag><index>: " then `fmt` (bu_vsnprintf's subset) into `line`
 * and hand it to plat->log at `level`, under plat->lock when there is one.
 * With `line` NULL or busy (a log call made from inside the embedder's
 * log callback) the format string itself is handed over, unformatted.
 * Nothing happens when plat->log is NULL. Each layer's log macro calls
 * this directly: a variadic wrapper in between would put a second
 * register save area (176 bytes on x86_64) on every logging path.
 */
void bu_log_emit(const struct bu_platform *plat, struct bu_log_line *line,
		 enum bu_log_level level, const char *tag, unsigned index,
		 const char *fmt, ...) __attribute__((format(printf, 6, 7)));

/** Append-only text buffer that counts what would not fit. */
struct bu_strbuf {
	char *buf;
	size_t size;
	size_t len; /**< length the full text needs; buf holds min(len, size-1) */
};

/** Start an empty strbuf over buf[size]. */
void bu_strbuf_init(struct bu_strbuf *sb, char *buf, size_t size);
/** Append formatted text. */
void bu_strbuf_printf(struct bu_strbuf *sb, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/** Append `s` as a JSON string literal (quotes and escapes), or null when s is NULL. */
void bu_strbuf_json_str(struct bu_strbuf *sb, const char *s);

/**
 * Convert `n` UTF-16LE code units from untrusted bytes to UTF-8 in out[size]
 * (always NUL-terminated). Unpaired surrogates and NUL become U+FFFD.
 * Returns the UTF-8 length written.
 */
size_t bu_utf16le_to_utf8(const uint8_t *src, size_t n, char *out, size_t size);

/** bu_div64_u32 by shift and subtract: what 32-bit CPUs run (exposed for tests). */
static inline uint64_t bu_div64_u32_bitwise(uint64_t n, uint32_t d, uint32_t *rem)
{
	uint64_t q = 0, r = 0;

	for (int bit = 63; bit >= 0; bit--) {
		r = (r << 1) | ((n >> bit) & 1);
		if (r >= d) {
			r -= d;
			q |= 1ull << bit;
		}
	}
	if (rem)
		*rem = (uint32_t)r;
	return q;
}

/**
 * `n` / `d`, the remainder in *rem when rem is not NULL. 32-bit CPUs have
 * no 64-bit divide instruction and a freestanding build has no compiler
 * runtime to supply one (__udivdi3, __aeabi_uldivmod), so the library
 * divides 64-bit values only through this.
 */
static inline uint64_t bu_div64_u32(uint64_t n, uint32_t d, uint32_t *rem)
{
#if UINTPTR_MAX > 0xffffffffu
	if (rem)
		*rem = (uint32_t)(n % d);
	return n / d;
#else
	if (!(n >> 32)) {
		if (rem)
			*rem = (uint32_t)n % d;
		return (uint32_t)n / d;
	}
	return bu_div64_u32_bitwise(n, d, rem);
#endif
}

#define BU_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define BU_MIN(a, b) ((a) < (b) ? (a) : (b))
#define BU_MAX(a, b) ((a) > (b) ? (a) : (b))
#define BU_CONTAINER_OF(ptr, type, member) \
	((type *)(void *)((char *)(ptr) - offsetof(type, member)))

#ifdef __cplusplus
}
#endif

#endif
