/*
 * bareusb platform interface: the whole contract between the library
 * (hcd/, core/, winusb/) and whoever embeds it.
 *
 * An embedder fills one `struct bu_platform` and passes it when a controller
 * is created. The library never calls anything else outside itself: no libc,
 * no globals. Every callback receives the embedder's `ctx` pointer first.
 *
 * Execution model: the library is single-threaded per controller. All work
 * happens inside bu_*_poll() and the calls the embedder makes; completion
 * callbacks run from poll. If the embedder calls into one controller from
 * several threads it supplies lock/unlock (the rule is at `lock` below);
 * if it can sleep until an interrupt it supplies `wait`.
 */
#ifndef BAREUSB_PLATFORM_H
#define BAREUSB_PLATFORM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Direction of a DMA mapping, seen from the device. */
enum bu_dma_dir {
	BU_DMA_TO_DEVICE = 1,   /**< device reads the buffer (OUT) */
	BU_DMA_FROM_DEVICE = 2, /**< device writes the buffer (IN) */
	BU_DMA_BIDIR = 3,
};

/**
 * Alignment and padding of the library's own DMA buffers, and the cache
 * line size a non-coherent platform may have at most: 64 bytes (Arm
 * Cortex-A, most RISC-V cores, x86). An embedder with longer lines
 * defines it larger before including this header.
 */
#ifndef BU_DMA_ALIGN
#define BU_DMA_ALIGN 64u
#endif

/** One physically contiguous piece of a mapped buffer, as the device sees it. */
struct bu_dma_chunk {
	uint64_t bus; /**< bus address the controller uses */
	size_t len;   /**< bytes in this chunk */
};

/** Log levels for bu_platform.log, most severe first. */
enum bu_log_level {
	BU_LOG_ERR = 0,
	BU_LOG_WARN = 1,
	BU_LOG_INFO = 2,
	BU_LOG_DEBUG = 3,
	BU_LOG_TRACE = 4, /**< TRB/event trace lines (see bu_xhci_set_trace) */
};

/**
 * The platform table. Members marked optional may be NULL.
 *
 * MMIO addresses are opaque `uintptr_t` values: the library computes
 * `base + offset` from the register window it was given and hands the sum
 * back here. On bare metal that is a pointer; a simulator may decode it.
 */
struct bu_platform {
	/** Opaque embedder context, passed as the first argument of every call. */
	void *ctx;

	/*
	 * MMIO. read32/write32 are single 32-bit accesses to uncached device
	 * memory (device-nGnRE on Arm, UC on x86), never split, merged or
	 * reordered with each other by the CPU. They need no barrier of
	 * their own: the library issues bu_wmb() before a doorbell, so DMA
	 * memory written before it is visible first (include/bareusb/arch.h).
	 */

	/** Read a 32-bit register. */
	uint32_t (*read32)(void *ctx, uintptr_t addr);
	/** Write a 32-bit register. */
	void (*write32)(void *ctx, uintptr_t addr, uint32_t val);
	/**
	 * Optional: write a 64-bit register in one access. When NULL the
	 * library writes the low half, then the high half (QEMU and the xHCI
	 * spec latch 64-bit registers on the high-half write).
	 */
	void (*write64)(void *ctx, uintptr_t addr, uint64_t val);

	/*
	 * ---- DMA (docs/platform.md, "DMA") -------------------------------
	 *
	 * Every byte the controller reads or writes is either dma_alloc
	 * memory or a buffer mapped with dma_map. The library's own DMA
	 * buffers (rings, contexts, the enumeration and hub buffers) come
	 * from dma_alloc, start on a BU_DMA_ALIGN boundary and are padded to
	 * a multiple of it, so none shares a cache line with CPU-only data.
	 *
	 * `dma_mask` is the highest bus address the controller can use:
	 * ~0 for a controller with 64-bit addressing, 0xffffffff without
	 * (HCCPARAMS1.AC64=0, or BU_XHCI_QUIRK_NO_64BIT_DMA). Memory or a
	 * mapping must lie entirely at or below it: allocate low memory, or
	 * bounce. The library checks, and fails what lies above.
	 */

	/**
	 * Allocate zeroed memory of `size` bytes the controller can reach,
	 * aligned to `align` (a power of two), not crossing a `boundary`-byte
	 * boundary (a power of two, or 0 for none), at or below `dma_mask`.
	 * Returns the CPU pointer and stores the bus address in *bus, or
	 * returns NULL. It may be cacheable: see dma_sync_for_device.
	 */
	void *(*dma_alloc)(void *ctx, size_t size, size_t align, size_t boundary,
			   uint64_t dma_mask, uint64_t *bus);
	/**
	 * Free memory from dma_alloc: its CPU pointer, the bus address
	 * dma_alloc gave, and the size that was asked for.
	 */
	void (*dma_free)(void *ctx, void *ptr, uint64_t bus, size_t size);
	/**
	 * Map a caller's buffer for DMA. Fills up to `max` chunks, in order,
	 * covering exactly `len` bytes, each at or below `dma_mask`, and
	 * returns how many it used, or a negative bu_err (BU_ENOMEM when
	 * more than `max` are needed, BU_EFAULT when the memory is not
	 * DMA-able). Identity on bare metal; page by page under paging;
	 * an IOVA under an IOMMU. On BU_ENOMEM the library maps a large
	 * bulk or interrupt transfer in windows of at most (max - 1) 4 KiB
	 * pages, one after the other, so a platform that splits at every
	 * 4 KiB page always fits. A platform may bounce (copy OUT data in
	 * here, and IN data back in dma_unmap, which runs before the
	 * transfer's completion callback). On a non-coherent platform a
	 * buffer that shares a cache line with other data must be bounced.
	 */
	int (*dma_map)(void *ctx, void *buf, size_t len, enum bu_dma_dir dir,
		       uint64_t dma_mask, struct bu_dma_chunk *chunks, int max);
	/**
	 * Optional: undo dma_map. `bus` is chunks[0].bus of that mapping,
	 * a key for the platform's own bookkeeping (an IOVA to release, a
	 * bounce buffer to copy back and free). NULL when mapping needs no
	 * undo.
	 */
	void (*dma_unmap)(void *ctx, void *buf, size_t len, enum bu_dma_dir dir,
			  uint64_t bus);

	/*
	 * ---- Non-coherent DMA (docs/platform.md, "Non-coherent platforms") -
	 *
	 * Both NULL on a cache-coherent platform (x86, most PCIe hosts).
	 * Otherwise the library calls them for every DMA structure and
	 * buffer: `cpu`/`len` name the bytes, `bus` is the bus address of
	 * cpu's first byte (for a mapped buffer: chunks[0].bus). The
	 * platform rounds out to whole cache lines; the library's DMA
	 * memory never shares a line with other data.
	 */

	/**
	 * Optional: make the CPU's writes to [cpu, cpu+len) visible to the
	 * controller and drop the lines from the cache where `dir` lets the
	 * controller write (clean for BU_DMA_TO_DEVICE, clean and invalidate
	 * otherwise; Linux arch_sync_dma_for_device). Called after the CPU
	 * wrote TRBs, contexts, the DCBAA or OUT data, before the doorbell or
	 * command that lets the controller read them, and before IN data is
	 * handed over.
	 */
	void (*dma_sync_for_device)(void *ctx, void *cpu, uint64_t bus, size_t len,
				    enum bu_dma_dir dir);
	/**
	 * Optional: make the controller's writes to [cpu, cpu+len) visible
	 * to the CPU (invalidate; Linux arch_sync_dma_for_cpu). Called before
	 * the CPU reads an event TRB, an output context, or IN data.
	 */
	void (*dma_sync_for_cpu)(void *ctx, void *cpu, uint64_t bus, size_t len,
				 enum bu_dma_dir dir);

	/** Allocate zeroed, non-DMA memory for library objects; NULL on failure. */
	void *(*alloc)(void *ctx, size_t size);
	/** Free memory from alloc; `size` is the size that was asked for. */
	void (*free)(void *ctx, void *ptr, size_t size);

	/** Monotonic clock in microseconds. Must never go backwards. */
	uint64_t (*now_us)(void *ctx);
	/**
	 * Optional: busy-wait or sleep `us` microseconds. When NULL the library
	 * spins on now_us. The library only delays where a spec mandates it and
	 * never for long; enumeration delays are timers checked from poll.
	 */
	void (*delay_us)(void *ctx, uint32_t us);

	/** Log one line (no trailing newline) at `level`. */
	void (*log)(void *ctx, enum bu_log_level level, const char *line);

	/**
	 * Optional: a broken invariant of bareusb's own (BU_ASSERT, never a
	 * device's fault); must not return. NULL: it is logged at BU_LOG_ERR.
	 */
	void (*panic)(void *ctx, const char *msg);

	/* ---- Waiting, interrupts and locking (docs/platform.md) ---------- */

	/**
	 * Optional: the embedder's lock of the bus (or buses) this table
	 * serves. The rule, the same everywhere:
	 *  - It covers all state of the bus: the core's, the controller
	 *    driver's, its class drivers' (hub, WinUSB driver part) and every
	 *    device, endpoint and transfer on it.
	 *  - Every public entry point that reads or changes that state takes
	 *    it on entry and releases it before it returns, including
	 *    bu_usb_bus_poll(), bu_usb_bus_next_timeout(), transfer submit and
	 *    cancel, and every synchronous call. Not taken: bu_xhci_irq()
	 *    (registers only, interrupt context), bu_xhci_create() and
	 *    bu_usb_bus_destroy() (nothing else may run on the bus then).
	 *  - It must be recursive: completion callbacks and class drivers'
	 *    probe/remove/poll run under it, from inside poll, and may submit
	 *    or cancel again.
	 *  - Synchronous calls (bu_usb_control, bu_usb_set_interface, the
	 *    WinUSB calls that wait, ...) hold it only while they poll and
	 *    never across the wait hook; so they must be called with it not
	 *    held (never from a callback).
	 * NULL when the embedder calls the library from one thread only.
	 */
	void (*lock)(void *ctx);
	/** Release what lock took (NULL exactly when lock is NULL). */
	void (*unlock)(void *ctx);
	/**
	 * Optional: sleep until `deadline_us` (on the now_us clock) or until
	 * an interrupt or event may have arrived, whichever comes first. It
	 * may return early for any reason; it must return at once when the
	 * deadline has passed, and also when an interrupt arrived since it
	 * last returned (or the wake-up between the caller's last poll and
	 * this call would be lost). Synchronous calls use it between polls,
	 * with a deadline no later than their own timeout and than
	 * bu_usb_bus_next_timeout(); never under the lock. NULL: they spin
	 * on poll.
	 */
	void (*wait)(void *ctx, uint64_t deadline_us);
};

#ifdef __cplusplus
}
#endif

#endif
