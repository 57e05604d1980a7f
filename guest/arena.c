/*
 * The image's only allocator: first fit over a sorted list of free extents
 * of one static region (the "arena", placed after the image). It honours
 * alignment and a no-crossing boundary, returns zeroed memory, and really
 * frees (neighbouring extents coalesce), so a test can check that the stack
 * gave back everything it took. Identity paging makes every address here its
 * own bus address.
 */
#include "guest.h"

#include "bareusb/util.h"

#define GRANULE	    64u	 /* every block is a multiple of this */
#define MAX_EXTENTS 4096 /* free extents tracked (fragmentation limit) */

struct extent {
	uintptr_t start, end; /* [start, end) */
};

static struct extent ext[MAX_EXTENTS];
static unsigned n_ext, peak_ext;
static uintptr_t arena_base, arena_end;
static size_t in_use;

static uintptr_t align_up(uintptr_t v, uintptr_t a)
{
	return (v + a - 1) & ~(a - 1);
}

static bool is_pow2(size_t v)
{
	return v && !(v & (v - 1));
}

void arena_init(uintptr_t base, size_t size)
{
	arena_base = align_up(base, 4096);
	arena_end = (base + size) & ~(uintptr_t)(GRANULE - 1);
	n_ext = 0;
	in_use = 0;
	if (arena_end > arena_base) {
		ext[0].start = arena_base;
		ext[0].end = arena_end;
		n_ext = 1;
	}
	peak_ext = n_ext;
}

void *arena_alloc(size_t size, size_t align, size_t boundary)
{
	if (!n_ext)
		return NULL;
	if ((align && !is_pow2(align)) || (boundary && !is_pow2(boundary)))
		return NULL;
	if (align < GRANULE)
		align = GRANULE;
	if (size == 0)
		size = 1;
	if (size > arena_end - arena_base)
		return NULL;
	size = align_up(size, GRANULE);
	if (boundary && size > boundary)
		return NULL;

	for (unsigned i = 0; i < n_ext; i++) {
		uintptr_t c = align_up(ext[i].start, align);

		if (boundary &&
		    (c & ~(boundary - 1)) != ((c + size - 1) & ~(boundary - 1)))
			c = align_up(c + 1, boundary);
		if (c < ext[i].start || c + size > ext[i].end)
			continue;

		bool left = c > ext[i].start;
		bool right = c + size < ext[i].end;

		if (left && right) {
			if (n_ext == MAX_EXTENTS)
				continue; /* cannot split here; try further on
					   */
			memmove(&ext[i + 2], &ext[i + 1],
				(n_ext - i - 1) * sizeof(ext[0]));
			n_ext++;
			ext[i + 1].start = c + size;
			ext[i + 1].end = ext[i].end;
			ext[i].end = c;
			if (n_ext > peak_ext)
				peak_ext = n_ext;
		} else if (left) {
			ext[i].end = c;
		} else if (right) {
			ext[i].start = c + size;
		} else {
			memmove(&ext[i], &ext[i + 1],
				(n_ext - i - 1) * sizeof(ext[0]));
			n_ext--;
		}
		in_use += size;
		bu_memset((void *)c, 0, size);
		return (void *)c;
	}
	return NULL;
}

void arena_free(void *ptr, size_t size)
{
	uintptr_t p = (uintptr_t)ptr;
	unsigned i;

	if (!ptr)
		return;
	if (size == 0)
		size = 1;
	size = align_up(size, GRANULE);
	if (p < arena_base || p + size > arena_end || (p & (GRANULE - 1)))
		guest_panic("arena_free: %p+%zu is not an arena block", ptr,
			    size);

	/* First extent at or after p. */
	for (i = 0; i < n_ext && ext[i].start < p; i++)
		;
	if ((i > 0 && ext[i - 1].end > p) ||
	    (i < n_ext && ext[i].start < p + size))
		guest_panic(
		    "arena_free: %p+%zu overlaps free memory (double free?)",
		    ptr, size);
	if (size > in_use)
		guest_panic("arena_free: freeing %zu bytes with %zu in use",
			    size, in_use);
	in_use -= size;

	bool join_prev = i > 0 && ext[i - 1].end == p;
	bool join_next = i < n_ext && ext[i].start == p + size;

	if (join_prev && join_next) {
		ext[i - 1].end = ext[i].end;
		memmove(&ext[i], &ext[i + 1], (n_ext - i - 1) * sizeof(ext[0]));
		n_ext--;
	} else if (join_prev) {
		ext[i - 1].end = p + size;
	} else if (join_next) {
		ext[i].start = p;
	} else {
		if (n_ext == MAX_EXTENTS)
			guest_panic("arena_free: more than %u free extents",
				    MAX_EXTENTS);
		memmove(&ext[i + 1], &ext[i], (n_ext - i) * sizeof(ext[0]));
		ext[i].start = p;
		ext[i].end = p + size;
		n_ext++;
		if (n_ext > peak_ext)
			peak_ext = n_ext;
	}
}

size_t arena_in_use(void)
{
	return in_use;
}

size_t arena_size(void)
{
	return arena_end - arena_base;
}

unsigned arena_extents(void)
{
	return peak_ext;
}

unsigned arena_free_extents(void)
{
	return n_ext;
}

bool arena_contains(const void *p, size_t len)
{
	uintptr_t a = (uintptr_t)p;

	return a >= arena_base && a + len >= a && a + len <= arena_end;
}
