/*
 * Unit tests for core/util.c: bu_snprintf (checked against the host's
 * snprintf where the formats overlap), bu_strbuf and bu_utf16le_to_utf8.
 */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "bareusb/util.h"
#include "unit.h"

/* ------------------------------------------------------------------------ */
/* bu_snprintf: one argument per case, compared with libc and an expectation */

enum arg_kind { A_NONE, A_INT, A_UINT, A_LONG, A_ULONG, A_LL, A_ULL, A_SIZE, A_STR, A_CHAR };

struct fmt_case {
	const char *fmt;
	enum arg_kind kind;
	long long i;
	unsigned long long u;
	const char *s;
	const char *expect;
};

static const struct fmt_case fmt_cases[] = {
	{ "plain", A_NONE, 0, 0, NULL, "plain" },
	{ "%%", A_NONE, 0, 0, NULL, "%" },
	{ "%d", A_INT, 0, 0, NULL, "0" },
	{ "%d", A_INT, 42, 0, NULL, "42" },
	{ "%d", A_INT, -42, 0, NULL, "-42" },
	{ "%i", A_INT, INT_MAX, 0, NULL, "2147483647" },
	{ "%d", A_INT, INT_MIN, 0, NULL, "-2147483648" },
	{ "%5d", A_INT, 42, 0, NULL, "   42" },
	{ "%-5d|", A_INT, 42, 0, NULL, "42   |" },
	{ "%05d", A_INT, 42, 0, NULL, "00042" },
	{ "%05d", A_INT, -42, 0, NULL, "-0042" },
	{ "%5d", A_INT, -42, 0, NULL, "  -42" },
	{ "%-6d|", A_INT, -42, 0, NULL, "-42   |" },
	{ "%2d", A_INT, 12345, 0, NULL, "12345" },
	{ "%u", A_UINT, 0, 4294967295u, NULL, "4294967295" },
	{ "%x", A_UINT, 0, 0xdeadbeef, NULL, "deadbeef" },
	{ "%X", A_UINT, 0, 0xdeadbeef, NULL, "DEADBEEF" },
	{ "%04x", A_UINT, 0, 0x627, NULL, "0627" },
	{ "%02x", A_UINT, 0, 0x81, NULL, "81" },
	{ "%08X", A_UINT, 0, 0xab, NULL, "000000AB" },
	{ "%ld", A_LONG, -1234567890123LL, 0, NULL, "-1234567890123" },
	{ "%lu", A_ULONG, 0, 18446744073709551615ULL, NULL, "18446744073709551615" },
	{ "%lld", A_LL, LLONG_MIN, 0, NULL, "-9223372036854775808" },
	{ "%lld", A_LL, LLONG_MAX, 0, NULL, "9223372036854775807" },
	{ "%llx", A_ULL, 0, 0x0123456789abcdefULL, NULL, "123456789abcdef" },
	{ "%016llx", A_ULL, 0, 0xfeedULL, NULL, "000000000000feed" },
	{ "%llu", A_ULL, 0, 18446744073709551615ULL, NULL, "18446744073709551615" },
	{ "%zu", A_SIZE, 0, 65536, NULL, "65536" },
	{ "%zx", A_SIZE, 0, 0xffff, NULL, "ffff" },
	{ "%hhu", A_UINT, 0, 200, NULL, "200" },
	{ "%s", A_STR, 0, 0, "QEMU", "QEMU" },
	{ "%s", A_STR, 0, 0, "", "" },
	{ "[%8s]", A_STR, 0, 0, "abc", "[     abc]" },
	{ "[%-8s]", A_STR, 0, 0, "abc", "[abc     ]" },
	{ "[%.2s]", A_STR, 0, 0, "abcdef", "[ab]" },
	{ "[%6.2s]", A_STR, 0, 0, "abcdef", "[    ab]" },
	{ "%c%c", A_CHAR, 'x', 0, NULL, "xx" },
	{ "a%db", A_INT, 7, 0, NULL, "a7b" },
};

/** Format one case with bu_snprintf or libc snprintf. */
static int fmt_one(const struct fmt_case *c, char *buf, size_t size, int libc)
{
#define FMT(...) (libc ? snprintf(buf, size, c->fmt, __VA_ARGS__) \
		       : bu_snprintf(buf, size, c->fmt, __VA_ARGS__))
	_Pragma("GCC diagnostic push");
	_Pragma("GCC diagnostic ignored \"-Wformat-nonliteral\"");
	_Pragma("GCC diagnostic ignored \"-Wformat-security\"");
	_Pragma("GCC diagnostic ignored \"-Wformat-extra-args\"");
	switch (c->kind) {
	case A_NONE: return FMT(0);
	case A_INT: return FMT((int)c->i);
	case A_UINT: return FMT((unsigned)c->u);
	case A_LONG: return FMT((long)c->i);
	case A_ULONG: return FMT((unsigned long)c->u);
	case A_LL: return FMT((long long)c->i);
	case A_ULL: return FMT((unsigned long long)c->u);
	case A_SIZE: return FMT((size_t)c->u);
	case A_STR: return FMT(c->s);
	case A_CHAR: return FMT((int)c->i, (int)c->i);
	}
	_Pragma("GCC diagnostic pop");
	return -1;
#undef FMT
}

/* The 32-bit CPUs' 64-bit division against the host's. */
START_TEST(div64_bitwise)
{
	static const uint64_t ns[] = { 0, 1, 999, 1000, 0xffffffffull, 0x100000000ull,
				       0x123456789abcdefull, ~0ull };
	static const uint32_t ds[] = { 1, 3, 10, 16, 1000, 0x80000000u, 0xffffffffu };

	for (size_t i = 0; i < BU_ARRAY_SIZE(ns); i++)
		for (size_t j = 0; j < BU_ARRAY_SIZE(ds); j++) {
			uint32_t rem = 0;
			uint64_t q = bu_div64_u32_bitwise(ns[i], ds[j], &rem);

			ck_assert_uint_eq(q, ns[i] / ds[j]);
			ck_assert_uint_eq(rem, ns[i] % ds[j]);
		}
}
END_TEST

START_TEST(snprintf_table)
{
	const struct fmt_case *c = &fmt_cases[_i];
	char got[128], want[128];
	int n = fmt_one(c, got, sizeof(got), 0);
	int m = fmt_one(c, want, sizeof(want), 1);

	ck_assert_str_eq(got, c->expect);
	ck_assert_int_eq(n, (int)strlen(c->expect));
	/* The host's snprintf agrees on every format we support. */
	ck_assert_str_eq(want, c->expect);
	ck_assert_int_eq(m, n);
}
END_TEST

START_TEST(snprintf_truncation)
{
	const struct fmt_case *c = &fmt_cases[_i];
	size_t full = strlen(c->expect);

	for (size_t size = 0; size <= full + 1; size++) {
		char buf[160];
		int n;

		memset(buf, 0x5a, sizeof(buf));
		n = fmt_one(c, buf + 8, size, 0);
		ck_assert_int_eq(n, (int)full);
		for (int k = 0; k < 8; k++)
			ck_assert_int_eq(buf[k], 0x5a);
		for (size_t k = 8 + size; k < sizeof(buf); k++)
			ck_assert_int_eq(buf[k], 0x5a); /* nothing past size */
		if (size) {
			size_t keep = full < size - 1 ? full : size - 1;

			ck_assert_int_eq(buf[8 + keep], '\0');
			ck_assert_int_eq(memcmp(buf + 8, c->expect, keep), 0);
		}
	}
}
END_TEST

START_TEST(snprintf_null_buffer)
{
	ck_assert_int_eq(bu_snprintf(NULL, 0, "%d-%s", 123, "abc"), 7);
}
END_TEST

START_TEST(snprintf_multi)
{
	const char *volatile null_str = NULL; /* hide it from -Wformat-overflow */
	char buf[64];
	int n = bu_snprintf(buf, sizeof(buf), "%s %u.%u %c 0x%02x %5s|%-3d|",
			    "usb", 2u, 0u, 'k', 0x81u, "hi", -1);

	ck_assert_str_eq(buf, "usb 2.0 k 0x81    hi|-1 |");
	ck_assert_int_eq(n, (int)strlen(buf));
	n = bu_snprintf(buf, sizeof(buf), "%s", null_str);
	ck_assert_str_eq(buf, "(null)");
	n = bu_snprintf(buf, sizeof(buf), "%*d|%.*s", 4, 7, 2, "xyz");
	ck_assert_str_eq(buf, "   7|xy");
	ck_assert_int_eq(n, 7);
}
END_TEST

START_TEST(snprintf_pointer)
{
	char buf[64];

	bu_snprintf(buf, sizeof(buf), "%p", (void *)(uintptr_t)0x1000);
	ck_assert_str_eq(buf, "0x1000");
}
END_TEST

/* ------------------------------------------------------------------------ */
/* strbuf                                                                   */

START_TEST(strbuf_append_and_truncate)
{
	char buf[8];
	struct bu_strbuf sb;

	bu_strbuf_init(&sb, buf, sizeof(buf));
	bu_strbuf_printf(&sb, "abc");
	bu_strbuf_printf(&sb, "%d", 12345);
	ck_assert_uint_eq(sb.len, 8);
	ck_assert_str_eq(buf, "abc1234");
	bu_strbuf_printf(&sb, "more");
	ck_assert_uint_eq(sb.len, 12);
	ck_assert_str_eq(buf, "abc1234");
}
END_TEST

START_TEST(strbuf_json_escape)
{
	char buf[64];
	struct bu_strbuf sb;

	bu_strbuf_init(&sb, buf, sizeof(buf));
	bu_strbuf_json_str(&sb, "a\"b\\c\n\x01");
	ck_assert_str_eq(buf, "\"a\\\"b\\\\c\\u000a\\u0001\"");
	bu_strbuf_init(&sb, buf, sizeof(buf));
	bu_strbuf_json_str(&sb, NULL);
	ck_assert_str_eq(buf, "null");
}
END_TEST

/* ------------------------------------------------------------------------ */
/* UTF-16LE to UTF-8                                                        */

struct utf_case {
	const char *name;
	uint16_t units[8];
	size_t n;
	size_t size;
	const char *expect;
};

static const struct utf_case utf_cases[] = {
	{ "ascii", { 'Q', 'E', 'M', 'U' }, 4, 64, "QEMU" },
	{ "empty", { 0 }, 0, 64, "" },
	{ "latin1", { 0xe9 }, 1, 64, "\xc3\xa9" },
	{ "bmp", { 0x20ac }, 1, 64, "\xe2\x82\xac" },
	{ "pair", { 0xd83d, 0xde00 }, 2, 64, "\xf0\x9f\x98\x80" },
	{ "lone high", { 0xd83d, 'a' }, 2, 64, "\xef\xbf\xbd" "a" },
	{ "high at end", { 'a', 0xd83d }, 2, 64, "a\xef\xbf\xbd" },
	{ "lone low", { 0xde00, 'b' }, 2, 64, "\xef\xbf\xbd" "b" },
	{ "two highs", { 0xd800, 0xd800, 0xdc00 }, 3, 64, "\xef\xbf\xbd\xf0\x90\x80\x80" },
	{ "nul", { 'a', 0, 'b' }, 3, 64, "a\xef\xbf\xbd" "b" },
	{ "max bmp", { 0xffff }, 1, 64, "\xef\xbf\xbf" },
	{ "trunc ascii", { 'a', 'b', 'c' }, 3, 3, "ab" },
	{ "trunc multibyte", { 'a', 0x20ac }, 2, 4, "a" },
	{ "trunc exact", { 'a', 0x20ac }, 2, 5, "a\xe2\x82\xac" },
	{ "trunc pair", { 0xd83d, 0xde00 }, 2, 4, "" },
	{ "size 1", { 'a' }, 1, 1, "" },
};

START_TEST(utf16_table)
{
	const struct utf_case *c = &utf_cases[_i];
	uint8_t src[16];
	char out[80];
	size_t n;

	for (size_t k = 0; k < c->n; k++) {
		src[2 * k] = (uint8_t)c->units[k];
		src[2 * k + 1] = (uint8_t)(c->units[k] >> 8);
	}
	memset(out, 0x5a, sizeof(out));
	n = bu_utf16le_to_utf8(src, c->n, out, c->size);
	ck_assert_msg(strcmp(out, c->expect) == 0, "%s", c->name);
	ck_assert_uint_eq(n, strlen(c->expect));
	for (size_t k = c->size; k < sizeof(out); k++)
		ck_assert_int_eq(out[k], 0x5a);
}
END_TEST

START_TEST(utf16_size0)
{
	uint8_t src[2] = { 'a', 0 };
	char out[1] = { 0x5a };

	ck_assert_uint_eq(bu_utf16le_to_utf8(src, 1, out, 0), 0);
	ck_assert_int_eq(out[0], 0x5a);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* memory and string helpers                                                */

START_TEST(mem_helpers)
{
	char a[8] = "abcdefg", b[8];

	ck_assert_ptr_eq(bu_memcpy(b, a, 8), b);
	ck_assert_str_eq(b, "abcdefg");
	bu_memset(b, 'z', 3);
	ck_assert_int_eq(bu_memcmp(b, "zzzdefg", 8), 0);
	ck_assert_int_lt(bu_memcmp("a", "b", 1), 0);
	ck_assert_int_gt(bu_memcmp("\xff", "a", 1), 0);
	ck_assert_uint_eq(bu_strlen(""), 0);
	ck_assert_uint_eq(bu_strlen(a), 7);
	ck_assert_int_eq(bu_strcmp("abc", "abc"), 0);
	ck_assert_int_lt(bu_strcmp("ab", "abc"), 0);
	ck_assert_int_gt(bu_strcmp("\xe9", "a"), 0);
}
END_TEST

Suite *unit_suite(void)
{
	Suite *s = suite_create("util");
	TCase *tc;

	tc = unit_tcase(s, "snprintf");
	tcase_add_loop_test(tc, snprintf_table, 0, (int)BU_ARRAY_SIZE(fmt_cases));
	tcase_add_loop_test(tc, snprintf_truncation, 0, (int)BU_ARRAY_SIZE(fmt_cases));
	tcase_add_test(tc, snprintf_null_buffer);
	tcase_add_test(tc, snprintf_multi);
	tcase_add_test(tc, snprintf_pointer);
	tc = unit_tcase(s, "strbuf");
	tcase_add_test(tc, strbuf_append_and_truncate);
	tcase_add_test(tc, strbuf_json_escape);
	tc = unit_tcase(s, "utf16");
	tcase_add_loop_test(tc, utf16_table, 0, (int)BU_ARRAY_SIZE(utf_cases));
	tcase_add_test(tc, utf16_size0);
	tc = unit_tcase(s, "mem");
	tcase_add_test(tc, mem_helpers);
	tcase_add_test(tc, div64_bitwise);
	return s;
}
