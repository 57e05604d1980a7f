/*
 * Formatted output, the log sink and TAP over the architecture's serial
 * console (console_putc). Everything the image reports goes through here.
 */
#include "guest.h"

#include "bareusb/util.h"

int guest_log_level = BU_LOG_INFO;
bool guest_log_time;
bool guest_log_buffered;

static char logbuf[256 * 1024]; /* `logbuf`: lines kept until flushed */
static size_t logbuf_len, logbuf_lost;

void console_write(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\n')
			console_putc('\r');
		console_putc(s[i]);
	}
}

void kvprintf(const char *fmt, va_list ap)
{
	char buf[512];
	va_list ap2;
	int n;

	va_copy(ap2, ap);
	n = bu_vsnprintf(buf, sizeof(buf), fmt, ap2);
	va_end(ap2);
	if (n < 0)
		return;
	if ((size_t)n < sizeof(buf)) {
		console_write(buf, (size_t)n);
		return;
	}
	/* Too long for the stack buffer: format into the arena. */
	char *big = arena_alloc((size_t)n + 1, 16, 0);

	if (!big) {
		console_write(buf, sizeof(buf) - 1);
		console_write("...\n", 4);
		return;
	}
	bu_vsnprintf(big, (size_t)n + 1, fmt, ap);
	console_write(big, (size_t)n);
	arena_free(big, (size_t)n + 1);
}

void kprintf(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	kvprintf(fmt, ap);
	va_end(ap);
}

void kputs_line(const char *s)
{
	console_write(s, bu_strlen(s));
	console_write("\n", 1);
}

void guest_log(enum bu_log_level level, const char *line)
{
	static const char *const prefix[] = {
	    "[err] ", "[warn] ", "[info] ", "[debug] ", "[trace] ",
	};

	if ((int)level > guest_log_level)
		return;
	if (guest_log_buffered) {
		/* `logbuf`: keep the line (with its time) for guest_log_flush;
		 * the serial port is slow enough under TCG to skew timings. */
		uint64_t t = clock_now_us();
		int n = bu_snprintf(
		    logbuf + logbuf_len, sizeof(logbuf) - logbuf_len,
		    "%s%llu.%03llu %s\n",
		    (unsigned)level < BU_ARRAY_SIZE(prefix) ? prefix[level]
							    : "[?] ",
		    (unsigned long long)(t / 1000),
		    (unsigned long long)(t % 1000), line);

		if (n > 0 && (size_t)n < sizeof(logbuf) - logbuf_len)
			logbuf_len += (size_t)n;
		else
			logbuf_lost++;
		return;
	}
	if ((unsigned)level < BU_ARRAY_SIZE(prefix))
		console_write(prefix[level], bu_strlen(prefix[level]));
	else
		console_write("[?] ", 4);
	if (guest_log_time) {
		uint64_t t = clock_now_us();

		kprintf("%llu.%03llu ", (unsigned long long)(t / 1000),
			(unsigned long long)(t % 1000));
	}
	kputs_line(line);
}

void guest_log_flush(void)
{
	if (logbuf_len)
		console_write(logbuf, logbuf_len);
	if (logbuf_lost)
		kprintf("# logbuf: %zu line(s) lost (buffer full)\n",
			logbuf_lost);
	logbuf_len = 0;
	logbuf_lost = 0;
}

void glog(enum bu_log_level level, const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	if ((int)level > guest_log_level)
		return;
	va_start(ap, fmt);
	bu_vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	guest_log(level, buf);
}

void guest_panic(const char *fmt, ...)
{
	va_list ap;

	kprintf("Bail out! ");
	va_start(ap, fmt);
	kvprintf(fmt, ap);
	va_end(ap);
	kprintf("\n");
	guest_exit(GUEST_EXIT_PANIC);
}

/* ------------------------------------------------------------------------ */
/* TAP                                                                      */

static unsigned tap_n, tap_failed;

bool tap(bool ok, const char *fmt, ...)
{
	char buf[256];
	va_list ap;

	va_start(ap, fmt);
	bu_vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	tap_n++;
	if (!ok)
		tap_failed++;
	kprintf("%sok %u - %s\n", ok ? "" : "not ", tap_n, buf);
	return ok;
}

void tap_plan(void)
{
	kprintf("1..%u\n", tap_n);
}

void tap_finish(void)
{
	tap_plan();
	kprintf("# %u test(s), %u failed\n", tap_n, tap_failed);
	guest_exit(tap_failed ? GUEST_EXIT_FAIL : GUEST_EXIT_PASS);
}
