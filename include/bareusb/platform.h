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

	/**
	 * Allocate zeroed, DMA-coherent memory of `size` bytes, aligned to
	 * `align` (a power of two) and not crossing a `boundary`-byte boundary
	 * (a power of two, or 0 for none). Returns the CPU pointer and stores
	 * the bus address in *bus, or returns NULL.
	 */
	void *(*dma_alloc)(void *ctx, size_t size, size_t align, size_t boundary,
			   uint64_t *bus);
	/** Free memory from dma_alloc; `size` is the size that was asked for. */
	void (*dma_free)(void *ctx, void *ptr, size_t size);
	/**
	 * Map a caller's buffer for DMA. Fills up to `max` chunks, in order,
	 * covering exactly `len` bytes, and returns how many it used, or a
	 * negative bu_err (BU_ENOMEM when more than `max` are needed, BU_EFAULT
	 * when the memory is not DMA-able). Identity on bare metal.
	 */
	int (*dma_map)(void *ctx, void *buf, size_t len, enum bu_dma_dir dir,
		       struct bu_dma_chunk *chunks, int max);
	/** Undo dma_map (may be NULL when mapping needs no undo). */
	void (*dma_unmap)(void *ctx, void *buf, size_t len, enum bu_dma_dir dir);

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
