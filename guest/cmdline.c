/*
 * The kernel command line: QEMU's -append text, as the architecture's
 * start-up code found it (without the image name the multiboot loader puts
 * first). Words are separated by spaces; a word is `key` or `key=value`.
 * The image understands watch, trace, timeout=<ms> and a few more (see
 * README.md); any other key=value is kept for tests to look up.
 */
#include "guest.h"

#include "bareusb/util.h"

#define CMDLINE_MAX 2048
#define MAX_WORDS   64

static char line[CMDLINE_MAX];
static char raw[CMDLINE_MAX];
static const char *words[MAX_WORDS];
static unsigned n_words;

void cmdline_parse(const char *s)
{
	const char *p = s;
	size_t n = 0;
	char *q;

	n_words = 0;
	raw[0] = 0;
	if (!s)
		return;
	while (*p == ' ')
		p++;
	while (p[n] && n < CMDLINE_MAX - 1) {
		raw[n] = p[n];
		n++;
	}
	raw[n] = 0;

	/* Cut a copy into words. */
	bu_memcpy(line, raw, n + 1);
	for (q = line; *q && n_words < MAX_WORDS;) {
		words[n_words++] = q;
		while (*q && *q != ' ')
			q++;
		while (*q == ' ')
			*q++ = 0;
	}
}

/** The word for `key`, or NULL. */
static const char *find(const char *key)
{
	size_t kl = bu_strlen(key);

	for (unsigned i = 0; i < n_words; i++) {
		const char *w = words[i];

		if (!bu_memcmp(w, key, kl) && (w[kl] == 0 || w[kl] == '='))
			return w;
	}
	return NULL;
}

bool cmdline_has(const char *key)
{
	return find(key) != NULL;
}

const char *cmdline_get(const char *key)
{
	const char *w = find(key);
	size_t kl = bu_strlen(key);

	if (!w || w[kl] != '=')
		return NULL;
	return w + kl + 1;
}

uint64_t cmdline_get_u64(const char *key, uint64_t def)
{
	const char *v = cmdline_get(key);
	uint64_t r = 0;
	unsigned base = 10;

	if (!v || !*v)
		return def;
	if (v[0] == '0' && (v[1] == 'x' || v[1] == 'X')) {
		base = 16;
		v += 2;
	}
	for (; *v; v++) {
		unsigned d;

		if (*v >= '0' && *v <= '9')
			d = (unsigned)(*v - '0');
		else if (base == 16 && *v >= 'a' && *v <= 'f')
			d = (unsigned)(*v - 'a' + 10);
		else if (base == 16 && *v >= 'A' && *v <= 'F')
			d = (unsigned)(*v - 'A' + 10);
		else
			return def;
		r = r * base + d;
	}
	return r;
}

const char *cmdline_raw(void)
{
	return raw;
}
