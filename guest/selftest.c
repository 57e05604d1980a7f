/*
 * `selftest` on the command line: checks of the image's own plumbing that
 * need no USB driver: the arena (alignment, boundaries, zeroing, overlap,
 * coalescing free), the platform table's DMA calls, the clock, PCI
 * discovery and the MMIO mapping of every xHCI BAR0 (moved above 4 GiB with
 * `bar_high=`). Results are TAP lines like the rest.
 */
#include "guest.h"

#include "bareusb/util.h"

#define N_BLOCKS 300

struct block {
	uint8_t *p;
	size_t size;
};

static struct block blocks[N_BLOCKS];
static uint32_t rng = 12345;

/** Small LCG: deterministic, good enough to vary sizes and order. */
static uint32_t next_rand(void)
{
	rng = rng * 1103515245u + 12345u;
	return rng >> 8;
}

static void test_arena(void)
{
	static const size_t aligns[] = {0, 16, 64, 4096, 65536};
	static const size_t bounds[] = {0, 4096, 65536};
	size_t before = arena_in_use();
	unsigned before_ext = arena_free_extents();
	bool ok_align = true, ok_bound = true, ok_zero = true, ok_alloc = true;
	bool ok_pattern = true;

	for (unsigned i = 0; i < N_BLOCKS; i++) {
		size_t size = 1 + next_rand() % 20000;
		size_t align = aligns[next_rand() % BU_ARRAY_SIZE(aligns)];
		size_t bound = bounds[next_rand() % BU_ARRAY_SIZE(bounds)];
		uintptr_t a;

		if (bound && size > bound)
			size = bound;
		blocks[i].size = size;
		blocks[i].p = arena_alloc(size, align, bound);
		if (!blocks[i].p) {
			ok_alloc = false;
			continue;
		}
		a = (uintptr_t)blocks[i].p;
		if (align && (a & (align - 1)))
			ok_align = false;
		if (bound && (a / bound) != ((a + size - 1) / bound))
			ok_bound = false;
		for (size_t k = 0; k < size; k++)
			if (blocks[i].p[k])
				ok_zero = false;
		bu_memset(blocks[i].p, (int)(i & 0xff), size);
	}
	for (unsigned i = 0; i < N_BLOCKS; i++)
		for (size_t k = 0; blocks[i].p && k < blocks[i].size; k++)
			if (blocks[i].p[k] != (uint8_t)i)
				ok_pattern = false;
	tap(ok_alloc, "arena: %u mixed allocations succeed", N_BLOCKS);
	tap(ok_align, "arena: alignment honoured");
	tap(ok_bound, "arena: no block crosses its boundary");
	tap(ok_zero, "arena: memory comes back zeroed");
	tap(ok_pattern, "arena: blocks do not overlap");

	/* Free in a shuffled order; everything must coalesce again. */
	for (unsigned i = N_BLOCKS - 1; i > 0; i--) {
		unsigned j = next_rand() % (i + 1);
		struct block t = blocks[i];

		blocks[i] = blocks[j];
		blocks[j] = t;
	}
	for (unsigned i = 0; i < N_BLOCKS; i++)
		arena_free(blocks[i].p, blocks[i].size);
	tap(arena_in_use() == before, "arena: in use back to %zu (now %zu)",
	    before, arena_in_use());
	tap(arena_free_extents() == before_ext,
	    "arena: free space coalesced (%u extent(s), %u before)",
	    arena_free_extents(), before_ext);

	tap(!arena_alloc(8192, 64, 4096), "arena: size above boundary refused");
	tap(!arena_alloc(64, 48, 0),
	    "arena: non-power-of-two alignment refused");
	tap(!arena_alloc(arena_size() + 1, 64, 0), "arena: oversize refused");
	kprintf("# arena: %zu bytes, peak %u free extents\n", arena_size(),
		arena_extents());
}

static void test_platform(void)
{
	const struct bu_platform *p = &guest_platform;
	size_t dma0 = guest_dma_in_use(), obj0 = guest_obj_in_use();
	struct bu_dma_chunk ch[2];
	uint64_t bus = 0;
	void *d = p->dma_alloc(p->ctx, 1024, 64, 65536, UINT64_MAX, &bus);
	void *o = p->alloc(p->ctx, 100);
	char local[32];
	int n;

	tap(d && bus == (uint64_t)(uintptr_t)d,
	    "dma_alloc: bus address = CPU address");
	tap(guest_dma_in_use() == dma0 + 1024, "dma_alloc: counted");
	tap(o && guest_obj_in_use() == obj0 + 100, "alloc: counted");
	n = p->dma_map(p->ctx, local, sizeof(local), BU_DMA_FROM_DEVICE, UINT64_MAX, ch, 2);
	tap(n == 1 && ch[0].bus == (uint64_t)(uintptr_t)local &&
		ch[0].len == sizeof(local),
	    "dma_map: identity, one chunk");
	n = p->dma_map(p->ctx, (void *)0x1000, 16, BU_DMA_TO_DEVICE, UINT64_MAX, ch, 2);
	tap(n < 0, "dma_map: low memory below the image refused (%d)", n);
	n = p->dma_map(p->ctx, local, sizeof(local), BU_DMA_FROM_DEVICE, 0xfff, ch, 2);
	tap(n < 0, "dma_map: a buffer above the DMA mask refused (%d)", n);
	p->dma_free(p->ctx, d, bus, 1024);
	p->free(p->ctx, o, 100);
	tap(guest_dma_in_use() == dma0 && guest_obj_in_use() == obj0,
	    "dma_free/free: counters back to start");
}

static void test_clock(void)
{
	bool mono = true;
	uint64_t prev = clock_now_us(), t0, t1, c0, c1;

	for (unsigned i = 0; i < 20000; i++) {
		uint64_t now = clock_now_us();

		if (now < prev)
			mono = false;
		prev = now;
	}
	tap(mono, "clock: monotonic over 20000 reads");
	t0 = clock_now_us();
	c0 = cpu_counter();
	clock_delay_us(50000);
	t1 = clock_now_us();
	c1 = cpu_counter();
	/* The lower bound is the contract; the upper one only catches unit
	 * errors (x1000), since a loaded host may deschedule the vCPU. */
	tap(t1 - t0 >= 50000 && t1 - t0 < 500000,
	    "clock: delay_us(50000) took %llu us",
	    (unsigned long long)(t1 - t0));
	kprintf("# clock: %s; %s ran %llu kHz over that delay\n",
		clock_source(), GUEST_CPU_COUNTER,
		(unsigned long long)((c1 - c0) * 1000 / (t1 - t0)));
}

static void test_pci(void)
{
	struct pci_func host = {0, 0, 0, 0, 0, 0};
	uint32_t id = pci_read32(&host, 0);

	tap((id & 0xffff) != 0xffff, "pci: host bridge at 00:00.0 (%04x:%04x)",
	    id & 0xffff, id >> 16);
	for (unsigned i = 0; i < guest_controller_count(); i++) {
		uintptr_t regs = guest_prepare_controller(i);
		uint32_t cap = regs ? mmio_read32(regs) : 0;

		if (regs)
			tap((cap & 0xff) >= 0x20 && (cap >> 16) >= 0x0090,
			    "xhci %u: registers readable at 0x%llx (CAPLENGTH "
			    "0x%x, HCIVERSION 0x%x)",
			    i, (unsigned long long)regs, cap & 0xff, cap >> 16);
	}
	if (cmdline_has("bar_high"))
		tap(cmdline_get_u64("bar_high", 0) >= (1ull << 32),
		    "cmdline: bar_high parsed as 0x%llx",
		    (unsigned long long)cmdline_get_u64("bar_high", 0));
}

void guest_selftest(void)
{
	test_arena();
	test_platform();
	test_clock();
	test_pci();
}
