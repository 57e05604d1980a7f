/*
 * A reader of the flattened device tree QEMU hands over (Devicetree
 * Specification v0.4, chapter 5 "Flattened Devicetree (DTB) Format"): find
 * nodes by compatible string or name, read their properties. Every offset
 * and length is checked against the blob's own header before use.
 */
#include "guest.h"

#include "bareusb/util.h"

#define FDT_MAGIC      0xd00dfeedu
#define FDT_BEGIN_NODE 1u
#define FDT_END_NODE   2u
#define FDT_PROP       3u
#define FDT_NOP	       4u
#define FDT_END	       9u

static const uint8_t *st; /* structure block */
static uint32_t st_size;
static const char *strs; /* strings block */
static uint32_t strs_size;

static uint32_t be32(const void *p)
{
	const uint8_t *b = p;

	return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 |
	       (uint32_t)b[2] << 8 | b[3];
}

uint64_t fdt_read_cells(const void *p, unsigned cells)
{
	const uint8_t *b = p;
	uint64_t v = 0;

	for (unsigned i = 0; i < cells && i < 2; i++)
		v = v << 32 | be32(b + 4 * i);
	return v;
}

bool fdt_init(const void *blob)
{
	const uint8_t *b = blob;
	uint32_t total, off_st, off_strs;

	st = NULL;
	if (!b || be32(b) != FDT_MAGIC)
		return false;
	total = be32(b + 4);
	off_st = be32(b + 8);
	off_strs = be32(b + 12);
	/* Version 17 (v0.4 §5.2); 16 has the same layout for what we read. */
	if (be32(b + 20) < 16 || total < 40)
		return false;
	st_size = be32(b + 36);
	strs_size = be32(b + 32);
	if (off_st > total || st_size > total - off_st || off_strs > total ||
	    strs_size > total - off_strs)
		return false;
	st = b + off_st;
	strs = (const char *)b + off_strs;
	return true;
}

/** One token at *off (advanced past it); name/value for nodes and props. */
static uint32_t next_token(uint32_t *off, const char **name,
			   const uint8_t **val, uint32_t *len)
{
	uint32_t tok, o = *off;

	if (!st || o > st_size || st_size - o < 4)
		return FDT_END;
	tok = be32(st + o);
	o += 4;
	switch (tok) {
	case FDT_BEGIN_NODE: {
		uint32_t n = 0;

		while (o + n < st_size && st[o + n])
			n++;
		if (o + n >= st_size)
			return FDT_END;
		*name = (const char *)st + o;
		o = (o + n + 1 + 3) & ~3u;
		break;
	}
	case FDT_PROP: {
		uint32_t plen, nameoff;

		if (st_size - o < 8)
			return FDT_END;
		plen = be32(st + o);
		nameoff = be32(st + o + 4);
		o += 8;
		if (plen > st_size - o || nameoff >= strs_size)
			return FDT_END;
		*name = strs + nameoff;
		*val = st + o;
		*len = plen;
		o = (o + plen + 3) & ~3u;
		break;
	}
	case FDT_END_NODE:
	case FDT_NOP:
		break;
	default:
		return FDT_END;
	}
	*off = o;
	return tok;
}

/** True when the string at `a` (in the strings block) equals `b`. */
static bool name_is(const char *a, const char *b)
{
	for (; a < strs + strs_size; a++, b++) {
		if (*a != *b)
			return false;
		if (!*a)
			return true;
	}
	return false;
}

/** True when node name `n` is `name`, or `name@unit-address`. */
static bool node_is(const char *n, const char *name)
{
	for (; *name; n++, name++)
		if (*n != *name)
			return false;
	return *n == 0 || *n == '@';
}

const void *fdt_prop(int node, const char *name, unsigned *len)
{
	uint32_t off = (uint32_t)node, plen = 0;
	const char *n = NULL;
	const uint8_t *v = NULL;
	uint32_t tok;

	if (node < 0 || next_token(&off, &n, &v, &plen) != FDT_BEGIN_NODE)
		return NULL;
	for (;;) {
		tok = next_token(&off, &n, &v, &plen);
		if (tok == FDT_NOP)
			continue;
		if (tok != FDT_PROP)
			return NULL; /* properties come before subnodes */
		if (name_is(n, name)) {
			if (len)
				*len = plen;
			return v;
		}
	}
}

/** True when the stringlist [p, p + len) holds `s`. */
static bool strlist_has(const char *p, unsigned len, const char *s)
{
	size_t sl = bu_strlen(s);

	while (len > 0) {
		size_t n = 0;

		while (n < len && p[n])
			n++;
		if (n == sl && !bu_memcmp(p, s, n))
			return true;
		if (n == len)
			break;
		p += n + 1;
		len -= (unsigned)(n + 1);
	}
	return false;
}

int fdt_find_compatible(int from, const char *compat)
{
	uint32_t off = 0, at, plen = 0;
	const char *n = NULL;
	const uint8_t *v = NULL;
	uint32_t tok;

	for (;;) {
		at = off;
		tok = next_token(&off, &n, &v, &plen);
		if (tok == FDT_END)
			return -1;
		if (tok != FDT_BEGIN_NODE || (int)at <= from)
			continue;
		unsigned len;
		const char *c = fdt_prop((int)at, "compatible", &len);

		if (c && strlist_has(c, len, compat))
			return (int)at;
	}
}

int fdt_find_child(const char *name)
{
	uint32_t off = 0, at, plen = 0;
	const char *n = NULL;
	const uint8_t *v = NULL;
	int depth = 0;

	for (;;) {
		at = off;
		switch (next_token(&off, &n, &v, &plen)) {
		case FDT_BEGIN_NODE:
			depth++;
			if (depth == 2 && node_is(n, name))
				return (int)at;
			break;
		case FDT_END_NODE:
			depth--;
			break;
		case FDT_END:
			return -1;
		default:
			break;
		}
	}
}

void fdt_root_cells(unsigned *addr_cells, unsigned *size_cells)
{
	unsigned len;
	const void *p = fdt_prop(0, "#address-cells", &len);

	*addr_cells = p && len == 4 ? be32(p) : 2;
	p = fdt_prop(0, "#size-cells", &len);
	*size_cells = p && len == 4 ? be32(p) : 1;
}
