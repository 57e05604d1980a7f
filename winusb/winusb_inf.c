/*
 * WinUSB INF parser (include/bareusb/winusb_inf.h): lines -> sections ->
 * [Strings] substitution -> [Version] -> [Manufacturer] -> models ->
 * install sections -> .HW AddReg. Strict: what it does not understand is an
 * error naming the line. No allocation; every read is bounded by the
 * text's length.
 */
#include "bareusb/winusb_inf.h"

#include <stdarg.h>

#include "bareusb/errors.h"
#include "bareusb/msos.h"
#include "bareusb/util.h"

/* ======================================================================== */
/* Lines and fields                                                         */
/* ======================================================================== */

struct inf_ctx {
	const char *text;
	size_t len;
	struct bu_winusb_inf *inf;
};

/** One line: [s, e) without its comment and surrounding blanks. */
struct inf_line {
	const char *s, *e;
	unsigned no;
};

/** Where a line scan stands. */
struct inf_pos {
	size_t at;
	unsigned no;
};

static int inf_err(struct inf_ctx *c, unsigned line, int rc, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/** Record an error (the first one wins) and return rc. */
static int inf_err(struct inf_ctx *c, unsigned line, int rc, const char *fmt, ...)
{
	va_list ap;

	if (c->inf->error[0])
		return rc;
	c->inf->error_line = line;
	va_start(ap, fmt);
	bu_vsnprintf(c->inf->error, sizeof(c->inf->error), fmt, ap);
	va_end(ap);
	return rc;
}

static bool is_blank(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\v' || ch == '\f';
}

static char lower(char ch)
{
	return ch >= 'A' && ch <= 'Z' ? (char)(ch - 'A' + 'a') : ch;
}

/** [s, e) equals the NUL-terminated word, ignoring case. */
static bool eq_word(const char *s, const char *e, const char *word)
{
	for (; s < e; s++, word++)
		if (!*word || lower(*s) != lower(*word))
			return false;
	return !*word;
}

/** Trim blanks from both ends of [*s, *e). */
static void trim(const char **s, const char **e)
{
	while (*s < *e && is_blank(**s))
		(*s)++;
	while (*e > *s && is_blank((*e)[-1]))
		(*e)--;
}

/** The next non-empty line from p; false at the end of the text. */
static bool next_line(const struct inf_ctx *c, struct inf_pos *p, struct inf_line *l)
{
	while (p->at < c->len) {
		const char *s = c->text + p->at, *end = c->text + c->len, *e = s;
		bool quoted = false;

		while (e < end && *e != '\n')
			e++;
		p->at = (size_t)(e - c->text) + (e < end);
		p->no++;
		l->no = p->no;
		l->s = s;
		/* A ';' outside quotes starts a comment ("" inside quotes toggles twice). */
		for (l->e = s; l->e < e && (quoted || *l->e != ';'); l->e++)
			quoted ^= *l->e == '"';
		trim(&l->s, &l->e);
		if (l->s < l->e)
			return true;
	}
	return false;
}

/** The first occurrence of `ch` outside quotes in [s, e), or e. */
static const char *find_unquoted(const char *s, const char *e, char ch)
{
	bool quoted = false;

	for (; s < e; s++) {
		if (*s == '"')
			quoted = !quoted;
		else if (!quoted && *s == ch)
			return s;
	}
	return e;
}

/** Split a line at '=' (outside quotes) into key and value; false when there is none. */
static bool split_key(const struct inf_line *l, const char **ks, const char **ke, const char **vs,
		      const char **ve)
{
	const char *eq = find_unquoted(l->s, l->e, '=');

	if (eq == l->e)
		return false;
	*ks = l->s;
	*ke = eq;
	*vs = eq + 1;
	*ve = l->e;
	trim(ks, ke);
	trim(vs, ve);
	return true;
}

/** The next comma-separated field of [*s, e) (trimmed); false past the last. */
static bool next_field(const char **s, const char *e, bool *done, const char **fs,
		       const char **fe)
{
	const char *comma;

	if (*done)
		return false;
	comma = find_unquoted(*s, e, ',');
	*fs = *s;
	*fe = comma;
	trim(fs, fe);
	*done = comma == e;
	*s = comma + (comma < e);
	return true;
}

/* ======================================================================== */
/* Sections                                                                 */
/* ======================================================================== */

/** A section header line "[name]": its name in [*ns, *ne). */
static bool header_name(const struct inf_line *l, const char **ns, const char **ne)
{
	if (*l->s != '[' || l->e[-1] != ']' || l->e - l->s < 2)
		return false;
	*ns = l->s + 1;
	*ne = l->e - 1;
	trim(ns, ne);
	return true;
}

/**
 * Find section [name] of length nlen (ignoring case); p is left on its
 * first line. Returns its header's line number, 0 when there is none.
 */
static unsigned section_find(const struct inf_ctx *c, const char *name, size_t nlen,
			     struct inf_pos *p)
{
	struct inf_line l;
	const char *ns, *ne;

	p->at = 0;
	p->no = 0;
	while (next_line(c, p, &l)) {
		if (!header_name(&l, &ns, &ne) || (size_t)(ne - ns) != nlen)
			continue;
		for (size_t i = 0; i <= nlen; i++) {
			if (i == nlen)
				return l.no;
			if (lower(ns[i]) != lower(name[i]))
				break;
		}
	}
	return 0;
}

/** The next line of the current section; false at the next header or the end. */
static bool section_line(const struct inf_ctx *c, struct inf_pos *p, struct inf_line *l)
{
	struct inf_pos save = *p;

	if (!next_line(c, p, l))
		return false;
	if (*l->s == '[') {
		*p = save;
		return false;
	}
	return true;
}

/** Every line is in a section, headers are well formed, quotes are closed. */
static int check_syntax(struct inf_ctx *c)
{
	struct inf_pos p = { 0, 0 };
	struct inf_line l;
	bool in_section = false;
	const char *ns, *ne;

	while (next_line(c, &p, &l)) {
		bool quoted = false;

		for (const char *q = l.s; q < l.e; q++) {
			quoted ^= *q == '"';
			if ((unsigned char)*q < 0x20 && *q != '\t')
				return inf_err(c, l.no, BU_EINVAL, "control character in the text");
		}
		if (quoted)
			return inf_err(c, l.no, BU_EINVAL, "unterminated string");
		if (*l.s == '[') {
			if (!header_name(&l, &ns, &ne) || ns == ne ||
			    find_unquoted(ns, ne, ']') != ne || find_unquoted(ns, ne, '[') != ne)
				return inf_err(c, l.no, BU_EINVAL, "malformed section header");
			in_section = true;
			continue;
		}
		if (!in_section)
			return inf_err(c, l.no, BU_EINVAL, "text before the first section");
		if (l.e[-1] == '\\')
			return inf_err(c, l.no, BU_EINVAL, "line continuation ('\\') not supported");
	}
	return 0;
}

/* ======================================================================== */
/* Values and [Strings]                                                     */
/* ======================================================================== */

/** Append [s, e) to out[*n] (room for size, NUL kept); false when it does not fit. */
static bool put(char *out, size_t size, size_t *n, const char *s, const char *e)
{
	if ((size_t)(e - s) >= size - *n)
		return false;
	for (; s < e; s++)
		out[(*n)++] = *s;
	out[*n] = '\0';
	return true;
}

/**
 * Decode a field: quotes removed ("" inside quotes is one quote) and, when
 * `subst`, %key% replaced from [Strings] (%% is a '%'). Into out[size];
 * returns the length, or a negative error (recorded against `line`).
 */
static int decode(struct inf_ctx *c, const char *s, const char *e, bool subst, char *out,
		  size_t size, unsigned line)
{
	size_t n = 0;
	bool quoted = false;

	out[0] = '\0';
	while (s < e) {
		const char *pct;

		if (*s == '"') {
			if (quoted && s + 1 < e && s[1] == '"') {
				if (!put(out, size, &n, s, s + 1))
					goto too_long;
				s += 2;
				continue;
			}
			quoted = !quoted;
			s++;
			continue;
		}
		if (*s != '%' || !subst) {
			if (!put(out, size, &n, s, s + 1))
				goto too_long;
			s++;
			continue;
		}
		for (pct = s + 1; pct < e && *pct != '%'; pct++)
			;
		if (pct == e)
			return inf_err(c, line, BU_EINVAL, "unmatched '%%'");
		if (pct == s + 1) {
			if (!put(out, size, &n, s, s + 1))
				goto too_long;
		} else {
			struct inf_pos p;
			struct inf_line l;
			const char *ks, *ke, *vs, *ve;
			bool found = false;

			if (!section_find(c, "Strings", 7, &p))
				return inf_err(c, line, BU_EINVAL, "%%%.*s%% used, but there is no [Strings] section",
					       (int)(pct - s - 1), s + 1);
			while (!found && section_line(c, &p, &l)) {
				if (!split_key(&l, &ks, &ke, &vs, &ve))
					return inf_err(c, l.no, BU_EINVAL, "[Strings]: expected key = value");
				if ((size_t)(ke - ks) != (size_t)(pct - s - 1))
					continue;
				found = true;
				for (size_t i = 0; found && i < (size_t)(ke - ks); i++)
					found = lower(ks[i]) == lower(s[1 + i]);
			}
			if (!found)
				return inf_err(c, line, BU_EINVAL, "%%%.*s%% is not defined in [Strings]",
					       (int)(pct - s - 1), s + 1);
			/* The string's own quotes go; no further substitution. */
			for (bool q = false; vs < ve; vs++) {
				if (*vs == '"' && !(q && vs + 1 < ve && vs[1] == '"')) {
					q = !q;
					continue;
				}
				if (*vs == '"')
					vs++;
				if (!put(out, size, &n, vs, vs + 1))
					goto too_long;
			}
		}
		s = pct + 1;
	}
	return (int)n;
too_long:
	return inf_err(c, line, BU_EINVAL, "value longer than %u bytes", (unsigned)size - 1);
}

/** A number field: 0x hex or decimal, up to 32 bits. */
static bool parse_number(const char *s, const char *e, uint32_t *out)
{
	uint64_t v = 0;
	unsigned base = 10;

	if (s == e)
		return false;
	if (e - s > 2 && s[0] == '0' && lower(s[1]) == 'x') {
		base = 16;
		s += 2;
	}
	for (; s < e; s++) {
		char ch = lower(*s);
		unsigned d;

		if (ch >= '0' && ch <= '9')
			d = (unsigned)(ch - '0');
		else if (base == 16 && ch >= 'a' && ch <= 'f')
			d = (unsigned)(ch - 'a' + 10);
		else
			return false;
		v = v * base + d;
		if (v > 0xffffffffu)
			return false;
	}
	*out = (uint32_t)v;
	return true;
}

/** `digits` hex digits at *s (advanced), into *out. */
static bool hex_digits(const char **s, const char *e, unsigned digits, uint32_t *out)
{
	uint32_t v = 0;

	if (e - *s < (ptrdiff_t)digits)
		return false;
	for (unsigned i = 0; i < digits; i++, (*s)++) {
		char ch = lower(**s);

		if (ch >= '0' && ch <= '9')
			v = v * 16 + (uint32_t)(ch - '0');
		else if (ch >= 'a' && ch <= 'f')
			v = v * 16 + (uint32_t)(ch - 'a' + 10);
		else
			return false;
	}
	*out = v;
	return true;
}

/** A word at *s (ignoring case), advanced past it. */
static bool word_at(const char **s, const char *e, const char *word)
{
	const char *p = *s;

	for (; *word; word++, p++)
		if (p >= e || lower(*p) != lower(*word))
			return false;
	*s = p;
	return true;
}

/** USB\VID_vvvv&PID_pppp[&MI_ii] into a model. */
static bool parse_hwid(const char *s, const char *e, struct bu_inf_model *m)
{
	uint32_t vid, pid, mi;

	if (!word_at(&s, e, "USB\\VID_") || !hex_digits(&s, e, 4, &vid) ||
	    !word_at(&s, e, "&PID_") || !hex_digits(&s, e, 4, &pid))
		return false;
	m->vid = (uint16_t)vid;
	m->pid = (uint16_t)pid;
	m->iface = -1;
	if (s == e)
		return true;
	if (!word_at(&s, e, "&MI_") || !hex_digits(&s, e, 2, &mi) || s != e)
		return false;
	m->iface = (int16_t)mi;
	return true;
}

/* ======================================================================== */
/* Install sections and AddReg                                              */
/* ======================================================================== */

/** Find a section named name + suffix; its header line, 0 when none. */
static unsigned find_suffixed(struct inf_ctx *c, const char *name, const char *suffix,
			      struct inf_pos *p)
{
	char buf[BU_INF_NAME_MAX + 16];
	int n = bu_snprintf(buf, sizeof(buf), "%s%s", name, suffix);

	if (n < 0 || (size_t)n >= sizeof(buf))
		return 0;
	return section_find(c, buf, (size_t)n, p);
}

/** Check one REG_MULTI_SZ/REG_SZ GUID list value; the entry is complete. */
static int check_guids(struct inf_ctx *c, const struct bu_inf_addreg *a)
{
	char norm[BU_MSOS_GUID_LEN + 1];

	for (size_t at = 0; at < a->value_len && a->value[at];) {
		size_t len = bu_strlen(a->value + at);

		if (!bu_msos_guid_normalize(a->value + at, len, norm) || a->value[at] != '{')
			return inf_err(c, a->line, BU_EINVAL, "%s: \"%s\" is not a GUID {...}",
				       a->name, a->value + at);
		at += len + 1;
	}
	return 0;
}

/** One AddReg line of section `sec` for install section `install`. */
static int addreg_line(struct inf_ctx *c, const struct inf_line *l, const char *install)
{
	struct bu_inf_addreg *a;
	const char *s = l->s, *fs, *fe;
	bool done = false;
	unsigned f = 0;
	int n;

	if (find_unquoted(l->s, l->e, '=') != l->e)
		return inf_err(c, l->no, BU_EINVAL, "AddReg entry expected (root, subkey, name, flags, value)");
	if (c->inf->num_addreg >= BU_INF_MAX_ADDREG)
		return inf_err(c, l->no, BU_ENOSPC, "more than %u AddReg entries", BU_INF_MAX_ADDREG);
	a = &c->inf->addreg[c->inf->num_addreg];
	bu_memset(a, 0, sizeof(*a));
	a->line = (uint16_t)(l->no > 0xffff ? 0xffff : l->no);
	bu_memcpy(a->install, install, bu_strlen(install) + 1);
	while (next_field(&s, l->e, &done, &fs, &fe)) {
		switch (f++) {
		case 0:
			if (!eq_word(fs, fe, "HKR"))
				return inf_err(c, l->no, BU_EINVAL, "only HKR is supported in a .HW AddReg section");
			break;
		case 1:
			if (fs != fe)
				return inf_err(c, l->no, BU_EINVAL, "subkeys are not supported (HKR,,name,...)");
			break;
		case 2:
			n = decode(c, fs, fe, true, a->name, sizeof(a->name), l->no);
			if (n < 0)
				return n;
			if (n == 0)
				return inf_err(c, l->no, BU_EINVAL, "the default value (no name) is not supported");
			break;
		case 3:
			if (fs != fe && !parse_number(fs, fe, &a->flags))
				return inf_err(c, l->no, BU_EINVAL, "flags: not a number");
			a->type = a->flags & ~BU_INF_FLG_NOCLOBBER;
			if (a->type != BU_INF_TYPE_SZ && a->type != BU_INF_TYPE_MULTI_SZ &&
			    a->type != BU_INF_TYPE_DWORD && a->type != BU_INF_TYPE_BINARY)
				return inf_err(c, l->no, BU_EINVAL, "flags 0x%x not supported", a->flags);
			break;
		default: {
			/* Values: one string, several (MULTI_SZ), a number or bytes. */
			size_t at = a->value_len;

			if (a->type == BU_INF_TYPE_DWORD) {
				char num[24];

				n = decode(c, fs, fe, true, num, sizeof(num), l->no);
				if (n < 0)
					return n;
				if (f != 5 || !parse_number(num, num + n, &a->dword))
					return inf_err(c, l->no, BU_EINVAL, "REG_DWORD: one number expected");
				break;
			}
			if (a->type == BU_INF_TYPE_BINARY) {
				uint32_t byte;

				if (!parse_number(fs, fe, &byte) || byte > 0xff || at + 1 >= sizeof(a->value))
					return inf_err(c, l->no, BU_EINVAL, "REG_BINARY: bytes expected");
				a->value[a->value_len++] = (char)byte;
				break;
			}
			if (a->type == BU_INF_TYPE_SZ && f != 5)
				return inf_err(c, l->no, BU_EINVAL, "REG_SZ: one string expected");
			/* Room for this string, its NUL and the list's final NUL. */
			if (at + 2 > sizeof(a->value))
				return inf_err(c, l->no, BU_EINVAL, "value longer than %u bytes",
					       (unsigned)sizeof(a->value) - 2);
			n = decode(c, fs, fe, true, a->value + at, sizeof(a->value) - at - 1, l->no);
			if (n < 0)
				return n;
			a->value_len = (uint16_t)(at + (size_t)n + (a->type == BU_INF_TYPE_MULTI_SZ));
			break;
		}
		}
	}
	if (f < 4)
		return inf_err(c, l->no, BU_EINVAL, "AddReg entry needs root, subkey, name and flags");
	if (a->type == BU_INF_TYPE_DWORD && f < 5)
		return inf_err(c, l->no, BU_EINVAL, "REG_DWORD: one number expected");
	if (eq_word(a->name, a->name + bu_strlen(a->name), "DeviceInterfaceGUIDs") ||
	    eq_word(a->name, a->name + bu_strlen(a->name), "DeviceInterfaceGUID")) {
		bool multi = a->name[bu_strlen(a->name) - 1] == 's' || a->name[bu_strlen(a->name) - 1] == 'S';

		if (a->type != (multi ? BU_INF_TYPE_MULTI_SZ : BU_INF_TYPE_SZ))
			return inf_err(c, l->no, BU_EINVAL, "%s must be %s", a->name,
				       multi ? "REG_MULTI_SZ (0x10000)" : "REG_SZ (0)");
		n = check_guids(c, a);
		if (n)
			return n;
	}
	c->inf->num_addreg++;
	return 0;
}

/** Every AddReg section a list value names, for install section `install`. */
static int addreg_sections(struct inf_ctx *c, const char *vs, const char *ve, unsigned line,
			   const char *install)
{
	const char *fs, *fe;
	bool done = false;

	while (next_field(&vs, ve, &done, &fs, &fe)) {
		struct inf_pos p;
		struct inf_line l;
		int rc;

		if (fs == fe)
			continue;
		if (!section_find(c, fs, (size_t)(fe - fs), &p))
			return inf_err(c, line, BU_EINVAL, "AddReg section [%.*s] not found",
				       (int)(fe - fs), fs);
		while (section_line(c, &p, &l)) {
			rc = addreg_line(c, &l, install);
			if (rc)
				return rc;
		}
	}
	return 0;
}

/** Does the list [vs, ve) name `word` (ignoring case)? */
static bool list_has(const char *vs, const char *ve, const char *word)
{
	const char *fs, *fe;
	bool done = false;

	while (next_field(&vs, ve, &done, &fs, &fe))
		if (eq_word(fs, fe, word))
			return true;
	return false;
}

/**
 * Walk the directives of section name+suffix (optional unless `required`):
 * each key must be in `known` (NUL-separated, ending with an empty one).
 * `flags` collects: bit 0 Include names winusb.inf, bit 1 Needs names
 * WINUSB.NT; with `hw`, AddReg sections are read for `name`.
 */
static int directives(struct inf_ctx *c, const char *name, const char *suffix, const char *known,
		      bool hw, unsigned *flags)
{
	struct inf_pos p;
	struct inf_line l;
	const char *ks, *ke, *vs, *ve;

	if (!find_suffixed(c, name, suffix, &p))
		return 0;
	while (section_line(c, &p, &l)) {
		const char *k = known;
		int rc;

		if (!split_key(&l, &ks, &ke, &vs, &ve))
			return inf_err(c, l.no, BU_EINVAL, "[%s%s]: directive = value expected", name, suffix);
		while (*k && !eq_word(ks, ke, k))
			k += bu_strlen(k) + 1;
		if (!*k)
			return inf_err(c, l.no, BU_EINVAL, "[%s%s]: directive %.*s not understood", name,
				       suffix, (int)(ke - ks), ks);
		if (eq_word(ks, ke, "Include") && list_has(vs, ve, "winusb.inf"))
			*flags |= 1;
		if (eq_word(ks, ke, "Needs") && list_has(vs, ve, hw ? "WINUSB.NT.HW" : "WINUSB.NT"))
			*flags |= 2;
		if (hw && eq_word(ks, ke, "AddReg")) {
			rc = addreg_sections(c, vs, ve, l.no, name);
			if (rc)
				return rc;
		}
	}
	return 0;
}

/** Resolve and read model m's install section (once per section). */
static int install_section(struct inf_ctx *c, struct bu_inf_model *m, const char *is,
			   const char *ie, unsigned line)
{
	static const char *const decorations[] = { ".NTamd64", ".NT", "" };
	struct inf_pos p;
	unsigned flags = 0, hwflags = 0, base_len;
	int rc;

	if ((size_t)(ie - is) >= BU_INF_NAME_MAX - 9)
		return inf_err(c, line, BU_EINVAL, "install section name too long");
	bu_memcpy(m->install, is, (size_t)(ie - is));
	base_len = (unsigned)(ie - is);
	for (unsigned d = 0;; d++) {
		if (d == sizeof(decorations) / sizeof(decorations[0]))
			return inf_err(c, line, BU_EINVAL, "install section [%.*s] not found",
				       (int)(ie - is), is);
		m->install[base_len] = '\0';
		if (find_suffixed(c, m->install, decorations[d], &p)) {
			bu_memcpy(m->install + base_len, decorations[d], bu_strlen(decorations[d]) + 1);
			break;
		}
	}
	m->winusb = true;
	for (unsigned k = 0; k < c->inf->num_models; k++)
		if (&c->inf->model[k] != m && bu_strcmp(c->inf->model[k].install, m->install) == 0)
			return 0; /* read already */
	rc = directives(c, m->install, "",
			"Include\0Needs\0CopyFiles\0AddReg\0DelReg\0AddProperty\0FeatureScore\0"
			"CopyINF\0",
			false, &flags);
	if (rc)
		return rc;
	if (flags != 3)
		return inf_err(c, line, BU_EINVAL,
			       "[%s] does not install WinUSB (Include=winusb.inf, Needs=WINUSB.NT)",
			       m->install);
	rc = directives(c, m->install, ".HW", "AddReg\0Include\0Needs\0DelReg\0AddProperty\0", true,
			&hwflags);
	if (rc)
		return rc;
	return directives(c, m->install, ".Services", "AddService\0Include\0Needs\0DelService\0",
			  false, &flags);
}

/* ======================================================================== */
/* Manufacturer and models                                                  */
/* ======================================================================== */

/** One model line. */
static int model_line(struct inf_ctx *c, const struct inf_line *l)
{
	const char *ks, *ke, *vs, *ve, *fs, *fe, *is = NULL, *ie = NULL;
	bool done = false;
	unsigned f = 0;
	char id[48]; /* longer than any USB hardware ID the parser takes */
	int n, rc;

	if (!split_key(l, &ks, &ke, &vs, &ve))
		return inf_err(c, l->no, BU_EINVAL, "model line expected: %%Desc%% = install-section, USB\\VID_...");
	while (next_field(&vs, ve, &done, &fs, &fe)) {
		struct bu_inf_model *m;

		if (f++ == 0) {
			is = fs;
			ie = fe;
			if (is == ie)
				return inf_err(c, l->no, BU_EINVAL, "model line without an install section");
			continue;
		}
		n = decode(c, fs, fe, true, id, sizeof(id), l->no);
		if (n < 0)
			return n;
		if (c->inf->num_models >= BU_INF_MAX_MODELS)
			return inf_err(c, l->no, BU_ENOSPC, "more than %u models", BU_INF_MAX_MODELS);
		m = &c->inf->model[c->inf->num_models];
		bu_memset(m, 0, sizeof(*m));
		if (!parse_hwid(id, id + n, m))
			return inf_err(c, l->no, BU_EINVAL,
				       "hardware ID \"%s\" is not USB\\VID_xxxx&PID_xxxx[&MI_xx]", id);
		m->line = (uint16_t)(l->no > 0xffff ? 0xffff : l->no);
		rc = install_section(c, m, is, ie, l->no);
		if (rc)
			return rc;
		c->inf->num_models++;
	}
	if (f < 2)
		return inf_err(c, l->no, BU_EINVAL, "model line without a hardware ID");
	return 0;
}

/** The models section a [Manufacturer] entry names, read. */
static int manufacturer_line(struct inf_ctx *c, const struct inf_line *l)
{
	const char *ks, *ke, *vs, *ve, *fs, *fe, *base = NULL, *base_e = NULL;
	bool done = false;
	char name[BU_INF_NAME_MAX + 32];
	struct inf_pos p, best = { 0, 0 };
	unsigned rank = 0, f = 0;
	struct inf_line ml;
	int rc;

	if (!split_key(l, &ks, &ke, &vs, &ve))
		return inf_err(c, l->no, BU_EINVAL, "[Manufacturer]: %%Mfg%% = models-section expected");
	while (next_field(&vs, ve, &done, &fs, &fe)) {
		unsigned r;
		int n;

		if (f++ == 0) {
			base = fs;
			base_e = fe;
			if (base == base_e || base_e - base >= BU_INF_NAME_MAX)
				return inf_err(c, l->no, BU_EINVAL, "bad models section name");
			/* The undecorated section ranks last. */
			if (!rank && section_find(c, base, (size_t)(base_e - base), &p)) {
				rank = 1;
				best = p;
			}
			continue;
		}
		n = bu_snprintf(name, sizeof(name), "%.*s.%.*s", (int)(base_e - base), base,
				(int)(fe - fs), fs);
		if (n < 0 || (size_t)n >= sizeof(name) || fs == fe)
			return inf_err(c, l->no, BU_EINVAL, "bad target decoration");
		r = eq_word(fs, fs + (fe - fs < 7 ? fe - fs : 7), "NTamd64") ? 4
		    : eq_word(fs, fs + (fe - fs < 2 ? fe - fs : 2), "NT")    ? 3
									     : 2;
		if (r > rank && section_find(c, name, (size_t)n, &p)) {
			rank = r;
			best = p;
		}
	}
	if (!rank)
		return inf_err(c, l->no, BU_EINVAL, "models section [%.*s] not found",
			       (int)(base_e - base), base);
	while (section_line(c, &best, &ml)) {
		rc = model_line(c, &ml);
		if (rc)
			return rc;
	}
	return 0;
}

/* ======================================================================== */
/* Entry points                                                             */
/* ======================================================================== */

int bu_winusb_inf_parse(const char *text, size_t len, struct bu_winusb_inf *inf)
{
	struct inf_ctx c;
	struct inf_pos p;
	struct inf_line l;
	const char *ks, *ke, *vs, *ve;
	char sig[24];
	bool signed_ok = false;
	int rc;

	if (!inf)
		return BU_EINVAL;
	bu_memset(inf, 0, sizeof(*inf));
	c.text = text;
	c.len = len;
	c.inf = inf;
	if (!text)
		return inf_err(&c, 0, BU_EINVAL, "no text");
	if (len >= 2 && (((uint8_t)text[0] == 0xff && (uint8_t)text[1] == 0xfe) ||
			 ((uint8_t)text[0] == 0xfe && (uint8_t)text[1] == 0xff)))
		return inf_err(&c, 0, BU_EINVAL, "UTF-16 text: save the INF as UTF-8 or ASCII");
	if (len >= 3 && (uint8_t)text[0] == 0xef && (uint8_t)text[1] == 0xbb &&
	    (uint8_t)text[2] == 0xbf) {
		/* UTF-8 BOM: blank it out of the first line's view. */
		c.text += 3;
		c.len -= 3;
	}
	rc = check_syntax(&c);
	if (rc)
		return rc;
	if (!section_find(&c, "Version", 7, &p))
		return inf_err(&c, 0, BU_EINVAL, "no [Version] section");
	while (section_line(&c, &p, &l)) {
		if (!split_key(&l, &ks, &ke, &vs, &ve))
			return inf_err(&c, l.no, BU_EINVAL, "[Version]: key = value expected");
		if (!eq_word(ks, ke, "Signature"))
			continue;
		rc = decode(&c, vs, ve, true, sig, sizeof(sig), l.no);
		if (rc < 0)
			return rc;
		signed_ok = eq_word(sig, sig + rc, "$Windows NT$") || eq_word(sig, sig + rc, "$Chicago$");
		if (!signed_ok)
			return inf_err(&c, l.no, BU_EINVAL, "Signature is not \"$Windows NT$\"");
	}
	if (!signed_ok)
		return inf_err(&c, 0, BU_EINVAL, "[Version] has no Signature");
	if (!section_find(&c, "Manufacturer", 12, &p))
		return inf_err(&c, 0, BU_EINVAL, "no [Manufacturer] section");
	while (section_line(&c, &p, &l)) {
		struct inf_pos save = p;

		rc = manufacturer_line(&c, &l);
		if (rc)
			return rc;
		p = save;
	}
	if (!inf->num_models)
		return inf_err(&c, 0, BU_EINVAL, "no USB device in any models section");
	return 0;
}

const struct bu_inf_addreg *bu_winusb_inf_model_addreg(const struct bu_winusb_inf *inf,
						       unsigned m, unsigned index)
{
	if (!inf || m >= inf->num_models)
		return NULL;
	for (unsigned i = 0; i < inf->num_addreg && i < BU_INF_MAX_ADDREG; i++)
		if (bu_strcmp(inf->addreg[i].install, inf->model[m].install) == 0 && index-- == 0)
			return &inf->addreg[i];
	return NULL;
}

const char *bu_winusb_inf_model_guid(const struct bu_winusb_inf *inf, unsigned m,
				     unsigned index)
{
	static const char *const names[] = { "DeviceInterfaceGUIDs", "DeviceInterfaceGUID" };

	for (unsigned pass = 0; pass < 2; pass++) {
		const struct bu_inf_addreg *a;

		for (unsigned i = 0; (a = bu_winusb_inf_model_addreg(inf, m, i)) != NULL; i++) {
			if (!eq_word(a->name, a->name + bu_strlen(a->name), names[pass]))
				continue;
			for (size_t at = 0; at < a->value_len && a->value[at];) {
				if (index-- == 0)
					return a->value + at;
				at += bu_strlen(a->value + at) + 1;
			}
		}
	}
	return NULL;
}
