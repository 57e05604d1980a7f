/*
 * Freestanding helpers: memory, strings, a small snprintf, UTF-16 to UTF-8.
 */
#include "bareusb/assert.h"
#include "bareusb/util.h"

#include <stdbool.h>

void *bu_memcpy(void *dst, const void *src, size_t n)
{
	unsigned char *d = dst;
	const unsigned char *s = src;

	while (n--)
		*d++ = *s++;
	return dst;
}

void *bu_memset(void *dst, int c, size_t n)
{
	unsigned char *d = dst;

	while (n--)
		*d++ = (unsigned char)c;
	return dst;
}

int bu_memcmp(const void *a, const void *b, size_t n)
{
	const unsigned char *x = a, *y = b;

	for (; n; n--, x++, y++)
		if (*x != *y)
			return *x - *y;
	return 0;
}

size_t bu_strlen(const char *s)
{
	size_t n = 0;

	while (s[n])
		n++;
	return n;
}

int bu_strcmp(const char *a, const char *b)
{
	while (*a && *a == *b) {
		a++;
		b++;
	}
	return (unsigned char)*a - (unsigned char)*b;
}

/* ------------------------------------------------------------------------ */
/* snprintf subset                                                          */

/** Output cursor for the formatter: counts everything, stores what fits. */
struct fmt_out {
	char *buf;
	size_t size;
	size_t len;
};

/** Emit one character. */
static void fmt_putc(struct fmt_out *o, char c)
{
	if (o->len + 1 < o->size)
		o->buf[o->len] = c;
	o->len++;
}

/** Emit `n` copies of `c`. */
static void fmt_pad(struct fmt_out *o, char c, int n)
{
	while (n-- > 0)
		fmt_putc(o, c);
}

/** Emit an unsigned number in `base` with width/zero/left-justify rules. */
static void fmt_num(struct fmt_out *o, unsigned long long v, unsigned base,
		    bool upper, bool neg, int width, bool zero, bool left)
{
	const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
	char tmp[24];
	int n = 0, total;

	do {
		uint32_t digit;

		v = bu_div64_u32(v, base, &digit);
		tmp[n++] = digits[digit];
	} while (v);
	total = n + (neg ? 1 : 0);
	if (!left && !zero)
		fmt_pad(o, ' ', width - total);
	if (neg)
		fmt_putc(o, '-');
	if (!left && zero)
		fmt_pad(o, '0', width - total);
	while (n)
		fmt_putc(o, tmp[--n]);
	if (left)
		fmt_pad(o, ' ', width - total);
}

/** Emit at most `prec` (< 0: all) characters of `s`, padded to `width`. */
static void fmt_str(struct fmt_out *o, const char *s, int prec, int width, bool left)
{
	int n = 0;

	if (!s)
		s = "(null)";
	while ((prec < 0 || n < prec) && s[n])
		n++;
	if (!left)
		fmt_pad(o, ' ', width - n);
	for (int i = 0; i < n; i++)
		fmt_putc(o, s[i]);
	if (left)
		fmt_pad(o, ' ', width - n);
}

/** Format `fmt` with `ap` onto o (bu_vsnprintf without the final NUL). */
static void fmt_run(struct fmt_out *o, const char *fmt, va_list ap)
{
	for (; *fmt; fmt++) {
		bool left = false, zero = false;
		int width = 0, prec = -1, lng = 0;

		if (*fmt != '%') {
			fmt_putc(o, *fmt);
			continue;
		}
		fmt++;
		for (;; fmt++) {
			if (*fmt == '-')
				left = true;
			else if (*fmt == '0')
				zero = true;
			else
				break;
		}
		if (*fmt == '*') {
			width = va_arg(ap, int);
			fmt++;
		}
		while (*fmt >= '0' && *fmt <= '9')
			width = width * 10 + (*fmt++ - '0');
		if (*fmt == '.') {
			fmt++;
			prec = 0;
			if (*fmt == '*') {
				prec = va_arg(ap, int);
				fmt++;
			}
			while (*fmt >= '0' && *fmt <= '9')
				prec = prec * 10 + (*fmt++ - '0');
		}
		for (;; fmt++) {
			if (*fmt == 'l')
				lng++;
			else if (*fmt == 'z')
				lng = 3;
			else if (*fmt == 'h')
				;
			else
				break;
		}
		switch (*fmt) {
		case 'd':
		case 'i': {
			long long v = lng >= 2 ? va_arg(ap, long long)
				    : lng == 1 ? va_arg(ap, long)
				    : lng == 3 ? (long long)va_arg(ap, size_t)
						: va_arg(ap, int);
			unsigned long long mag = v < 0 ? 0ULL - (unsigned long long)v
						       : (unsigned long long)v;
			fmt_num(o, mag, 10, false, v < 0, width, zero, left);
			break;
		}
		case 'u':
		case 'x':
		case 'X': {
			unsigned long long v = lng >= 2 ? va_arg(ap, unsigned long long)
					     : lng == 1 ? va_arg(ap, unsigned long)
					     : lng == 3 ? va_arg(ap, size_t)
							: va_arg(ap, unsigned int);
			fmt_num(o, v, *fmt == 'u' ? 10 : 16, *fmt == 'X', false,
				width, zero, left);
			break;
		}
		case 'p':
			fmt_putc(o, '0');
			fmt_putc(o, 'x');
			fmt_num(o, (uintptr_t)va_arg(ap, void *), 16, false,
				false, width, zero, left);
			break;
		case 'c':
			fmt_putc(o, (char)va_arg(ap, int));
			break;
		case 's':
			fmt_str(o, va_arg(ap, const char *), prec, width, left);
			break;
		case '%':
			fmt_putc(o, '%');
			break;
		case '\0':
			fmt--;
			break;
		default:
			fmt_putc(o, '%');
			fmt_putc(o, *fmt);
			break;
		}
	}
}

/** NUL-terminate what fits of o's text; returns the length the full text needs. */
static int fmt_end(struct fmt_out *o)
{
	if (o->size)
		o->buf[o->len < o->size ? o->len : o->size - 1] = '\0';
	return (int)o->len;
}

int bu_vsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
{
	struct fmt_out o = { buf, size, 0 };

	fmt_run(&o, fmt, ap);
	return fmt_end(&o);
}

/*
 * The variadic functions below are built without the SSE registers on x86:
 * their prologue then saves only the six general argument registers, not
 * the eight vector ones too (176 bytes of frame become 48), and they sit at
 * the bottom of the deepest paths (every log line). The formatter takes no
 * floating-point arguments, so nothing is lost.
 */
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
#define BU_VA_GPR_ONLY __attribute__((target("general-regs-only")))
#else
#define BU_VA_GPR_ONLY
#endif

BU_VA_GPR_ONLY int bu_snprintf(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = bu_vsnprintf(buf, size, fmt, ap);
	va_end(ap);
	return n;
}

/* ------------------------------------------------------------------------ */
/* Log lines                                                                */

BU_VA_GPR_ONLY void bu_log_emit(const struct bu_platform *plat, struct bu_log_line *line,
		 enum bu_log_level level, const char *tag, unsigned index,
		 const char *fmt, ...)
{
	struct fmt_out o;
	va_list ap;

	if (!plat->log)
		return;
	if (plat->lock)
		plat->lock(plat->ctx);
	if (!line || line->busy) {
		plat->log(plat->ctx, level, fmt);
	} else {
		line->busy = true;
		o = (struct fmt_out){ line->buf, sizeof(line->buf), 0 };
		fmt_str(&o, tag, -1, 0, false);
		fmt_num(&o, index, 10, false, false, 0, false, false);
		fmt_str(&o, ": ", -1, 0, false);
		va_start(ap, fmt);
		fmt_run(&o, fmt, ap);
		va_end(ap);
		fmt_end(&o);
		plat->log(plat->ctx, level, line->buf);
		line->busy = false;
	}
	if (plat->unlock)
		plat->unlock(plat->ctx);
}

/* ------------------------------------------------------------------------ */
/* strbuf                                                                   */

void bu_strbuf_init(struct bu_strbuf *sb, char *buf, size_t size)
{
	sb->buf = buf;
	sb->size = size;
	sb->len = 0;
	if (size)
		buf[0] = '\0';
}

BU_VA_GPR_ONLY void bu_strbuf_printf(struct bu_strbuf *sb, const char *fmt, ...)
{
	size_t room = sb->len < sb->size ? sb->size - sb->len : 0;
	char *at = room ? sb->buf + sb->len : NULL;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = bu_vsnprintf(at, room, fmt, ap);
	va_end(ap);
	sb->len += (size_t)n;
	if (sb->size && sb->len >= sb->size)
		sb->buf[sb->size - 1] = '\0';
}

void bu_strbuf_json_str(struct bu_strbuf *sb, const char *s)
{
	if (!s) {
		bu_strbuf_printf(sb, "null");
		return;
	}
	bu_strbuf_printf(sb, "\"");
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			bu_strbuf_printf(sb, "\\%c", c);
		else if (c < 0x20)
			bu_strbuf_printf(sb, "\\u%04x", c);
		else
			bu_strbuf_printf(sb, "%c", c);
	}
	bu_strbuf_printf(sb, "\"");
}

/* ------------------------------------------------------------------------ */
/* UTF-16LE to UTF-8                                                        */

/** Append one code point as UTF-8 if it fits with room for the NUL. */
static bool utf8_put(char *out, size_t size, size_t *len, uint32_t cp)
{
	char tmp[4];
	size_t n;

	if (cp < 0x80) {
		tmp[0] = (char)cp;
		n = 1;
	} else if (cp < 0x800) {
		tmp[0] = (char)(0xc0 | (cp >> 6));
		tmp[1] = (char)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		tmp[0] = (char)(0xe0 | (cp >> 12));
		tmp[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		tmp[2] = (char)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		tmp[0] = (char)(0xf0 | (cp >> 18));
		tmp[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
		tmp[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
		tmp[3] = (char)(0x80 | (cp & 0x3f));
		n = 4;
	}
	if (*len + n + 1 > size)
		return false;
	bu_memcpy(out + *len, tmp, n);
	*len += n;
	return true;
}

size_t bu_utf16le_to_utf8(const uint8_t *src, size_t n, char *out, size_t size)
{
	size_t len = 0;

	if (!size)
		return 0;
	for (size_t i = 0; i < n; i++) {
		uint32_t cp = (uint32_t)src[2 * i] | ((uint32_t)src[2 * i + 1] << 8);

		if (cp >= 0xd800 && cp < 0xdc00 && i + 1 < n) {
			uint32_t lo = (uint32_t)src[2 * i + 2] |
				      ((uint32_t)src[2 * i + 3] << 8);

			if (lo >= 0xdc00 && lo < 0xe000) {
				cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
				i++;
			} else {
				cp = 0xfffd;
			}
		} else if ((cp >= 0xd800 && cp < 0xe000) || cp == 0) {
			cp = 0xfffd;
		}
		if (!utf8_put(out, size, &len, cp))
			break;
	}
	out[len] = '\0';
	return len;
}

/** Append string `s` to msg[*n], keeping room for the NUL (bu_assert_failed). */
static void msg_put(char *msg, size_t size, size_t *n, const char *s)
{
	while (*s && *n + 1 < size)
		msg[(*n)++] = *s++;
}

void bu_assert_failed(const struct bu_platform *plat, const char *file,
		      unsigned line, const char *expr)
{
	char msg[96], num[11];
	const char *base = file;
	size_t n = 0, k = sizeof(num) - 1;

	/* "invariant broken at <file>:<line>: <expr>" without the formatter:
	 * this runs at the bottom of the deepest paths (the submit path's
	 * checks), so its frame stays small. The file's name without its
	 * directories and the line name the assertion; a long expression is
	 * cut. */
	for (const char *c = file; *c; c++)
		if (*c == '/' || *c == '\\')
			base = c + 1;
	num[k] = '\0';
	do {
		num[--k] = (char)('0' + line % 10);
		line /= 10;
	} while (line && k);
	msg_put(msg, sizeof(msg), &n, "invariant broken at ");
	msg_put(msg, sizeof(msg), &n, base);
	msg_put(msg, sizeof(msg), &n, ":");
	msg_put(msg, sizeof(msg), &n, &num[k]);
	msg_put(msg, sizeof(msg), &n, ": ");
	msg_put(msg, sizeof(msg), &n, expr);
	msg[n] = '\0';
	if (plat && plat->panic)
		plat->panic(plat->ctx, msg);
	else if (plat && plat->log)
		plat->log(plat->ctx, BU_LOG_ERR, msg);
}
