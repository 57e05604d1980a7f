/*
 * The guest's bareusb platform table: direct MMIO, the arena for DMA and
 * objects (identity paging, so the CPU address is the bus address), the
 * architecture's clock, and the serial log. Single-threaded: no lock.
 */
#include "guest.h"

#include "bareusb/errors.h"

static size_t dma_bytes, obj_bytes;

static uint32_t plat_read32(void *ctx, uintptr_t addr)
{
	(void)ctx;
	return mmio_read32(addr);
}

static void plat_write32(void *ctx, uintptr_t addr, uint32_t val)
{
	(void)ctx;
	mmio_write32(addr, val);
}

/*
 * QEMU's PCIe DMA is cache-coherent (x86_64, and aarch64 virt, whose host
 * bridge the device tree marks dma-coherent): no dma_sync_* hooks. The
 * arena lies in RAM below 4 GiB on both machines, so every DMA mask the
 * library passes is met; the checks say so rather than assume it.
 */
static void *plat_dma_alloc(void *ctx, size_t size, size_t align,
			    size_t boundary, uint64_t dma_mask, uint64_t *bus)
{
	void *p = arena_alloc(size, align, boundary);

	(void)ctx;
	if (!p)
		return NULL;
	if ((uint64_t)(uintptr_t)p + size - 1 > dma_mask) {
		arena_free(p, size);
		return NULL;
	}
	dma_bytes += size;
	*bus = (uint64_t)(uintptr_t)p;
	return p;
}

static void plat_dma_free(void *ctx, void *ptr, uint64_t bus, size_t size)
{
	(void)ctx;
	if (!ptr)
		return;
	if (bus != (uint64_t)(uintptr_t)ptr)
		guest_panic("dma_free: bus address %#llx is not that of %p",
			    (unsigned long long)bus, ptr);
	if (size > dma_bytes)
		guest_panic("dma_free: %zu bytes freed, only %zu allocated",
			    size, dma_bytes);
	dma_bytes -= size;
	arena_free(ptr, size);
}

static int plat_dma_map(void *ctx, void *buf, size_t len, enum bu_dma_dir dir,
			uint64_t dma_mask, struct bu_dma_chunk *chunks, int max)
{
	uintptr_t a = (uintptr_t)buf;
	extern char __image_start[];

	(void)ctx;
	(void)dir;
	if (max < 1)
		return BU_ENOMEM;
	/* Identity paging: any RAM address from the image upward is DMA-able.
	 */
	if (len && (a < (uintptr_t)__image_start || a + len < a ||
		    (uint64_t)(a + len - 1) > dma_mask))
		return BU_EFAULT;
	chunks[0].bus = (uint64_t)a;
	chunks[0].len = len;
	return 1;
}

static void *plat_alloc(void *ctx, size_t size)
{
	void *p = arena_alloc(size, 16, 0);

	(void)ctx;
	if (p)
		obj_bytes += size;
	return p;
}

static void plat_free(void *ctx, void *ptr, size_t size)
{
	(void)ctx;
	if (!ptr)
		return;
	if (size > obj_bytes)
		guest_panic("free: %zu bytes freed, only %zu allocated", size,
			    obj_bytes);
	obj_bytes -= size;
	arena_free(ptr, size);
}

static uint64_t plat_now_us(void *ctx)
{
	(void)ctx;
	return clock_now_us();
}

static void plat_delay_us(void *ctx, uint32_t us)
{
	(void)ctx;
	clock_delay_us(us);
}

static void plat_log(void *ctx, enum bu_log_level level, const char *line)
{
	(void)ctx;
	guest_log(level, line);
}

static void plat_panic(void *ctx, const char *msg)
{
	(void)ctx;
	guest_panic("bareusb: %s", msg);
}

/* In interrupt mode: halt until an interrupt or the deadline; else return (spin). */
static void plat_wait(void *ctx, uint64_t deadline_us)
{
	(void)ctx;
	guest_wait_for_interrupt(deadline_us);
}

const struct bu_platform guest_platform = {
    .ctx = NULL,
    .read32 = plat_read32,
    .write32 = plat_write32,
    .write64 = NULL, /* the library writes low, then high */
    .dma_alloc = plat_dma_alloc,
    .dma_free = plat_dma_free,
    .dma_map = plat_dma_map,
    .dma_unmap = NULL,
    .alloc = plat_alloc,
    .free = plat_free,
    .now_us = plat_now_us,
    .delay_us = plat_delay_us,
    .log = plat_log,
    .panic = plat_panic,
    .lock = NULL,
    .unlock = NULL,
    .wait = plat_wait,
};

size_t guest_dma_in_use(void)
{
	return dma_bytes;
}

size_t guest_obj_in_use(void)
{
	return obj_bytes;
}
