/*
 * Memory barriers and byte order, the only architecture-specific bits of the
 * library. DMA-visible structures are little-endian by the xHCI and USB specs.
 *
 * Two kinds of ordering matter to a host controller driver:
 *
 *   bu_dma_wmb / bu_dma_rmb order CPU accesses to DMA memory among
 *     themselves, as the controller observes them: a TRB's parameters
 *     before its cycle bit; an event's cycle bit before its other dwords.
 *   bu_wmb / bu_rmb also order DMA memory against MMIO: every TRB and
 *     context written before the doorbell write that tells the controller
 *     to read them; an MMIO read before DMA reads that depend on it.
 *
 * The per-architecture choices follow the Linux kernel's dma_wmb, wmb,
 * dma_rmb and rmb (arch/<arch>/include/asm/barrier.h). The library uses
 * them at every hand-over: bu_dma_wmb between a TRB's parameters and its
 * cycle bit (hcd/xhci_ring.c), bu_wmb before every doorbell write
 * (xhci_doorbell), bu_dma_rmb between an event's cycle bit and its other
 * dwords (hcd/xhci.c). None of them is cache maintenance: a non-coherent
 * platform supplies dma_sync_for_device/dma_sync_for_cpu. The write32 and
 * read32 of the platform table must be plain device accesses that the CPU
 * does not reorder with each other (uncached, device-nGnRE memory on Arm);
 * they need no barrier of their own. An embedder may define any of these
 * macros before this header (e.g. with -D) to override the choice.
 */
#ifndef BAREUSB_ARCH_H
#define BAREUSB_ARCH_H

#include <stdint.h>

#define bu_compiler_barrier() __asm__ __volatile__("" ::: "memory")

#if defined(__x86_64__) || defined(__i386__)
/* x86 keeps stores in order and loads in order, DMA and uncached MMIO
 * alike (write-back DMA memory, UC registers): only the compiler must be
 * held back. */
#define BU_ARCH_DMA_WMB() bu_compiler_barrier()
#define BU_ARCH_DMA_RMB() bu_compiler_barrier()
#define BU_ARCH_WMB() bu_compiler_barrier()
#define BU_ARCH_RMB() bu_compiler_barrier()
#define BU_ARCH_MB() __asm__ __volatile__("mfence" ::: "memory")
#elif defined(__aarch64__)
#define BU_ARCH_DMA_WMB() __asm__ __volatile__("dmb oshst" ::: "memory")
#define BU_ARCH_DMA_RMB() __asm__ __volatile__("dmb oshld" ::: "memory")
#define BU_ARCH_WMB() __asm__ __volatile__("dsb st" ::: "memory")
#define BU_ARCH_RMB() __asm__ __volatile__("dsb ld" ::: "memory")
#define BU_ARCH_MB() __asm__ __volatile__("dsb sy" ::: "memory")
#elif defined(__arm__)
#define BU_ARCH_DMA_WMB() __asm__ __volatile__("dmb oshst" ::: "memory")
#define BU_ARCH_DMA_RMB() __asm__ __volatile__("dmb osh" ::: "memory")
#define BU_ARCH_WMB() __asm__ __volatile__("dsb st" ::: "memory")
#define BU_ARCH_RMB() __asm__ __volatile__("dsb" ::: "memory")
#define BU_ARCH_MB() __asm__ __volatile__("dsb" ::: "memory")
#elif defined(__riscv)
#define BU_ARCH_DMA_WMB() __asm__ __volatile__("fence w,w" ::: "memory")
#define BU_ARCH_DMA_RMB() __asm__ __volatile__("fence r,r" ::: "memory")
#define BU_ARCH_WMB() __asm__ __volatile__("fence ow,ow" ::: "memory")
#define BU_ARCH_RMB() __asm__ __volatile__("fence ir,ir" ::: "memory")
#define BU_ARCH_MB() __asm__ __volatile__("fence iorw,iorw" ::: "memory")
#else
/* Unknown CPU: the strongest ordering C11 offers (it does not promise to
 * order device memory; define the macros for such a CPU). */
#define BU_ARCH_DMA_WMB() __atomic_thread_fence(__ATOMIC_SEQ_CST)
#define BU_ARCH_DMA_RMB() __atomic_thread_fence(__ATOMIC_SEQ_CST)
#define BU_ARCH_WMB() __atomic_thread_fence(__ATOMIC_SEQ_CST)
#define BU_ARCH_RMB() __atomic_thread_fence(__ATOMIC_SEQ_CST)
#define BU_ARCH_MB() __atomic_thread_fence(__ATOMIC_SEQ_CST)
#endif

/** Order CPU writes to DMA memory before later writes to DMA memory. */
#ifndef bu_dma_wmb
#define bu_dma_wmb() BU_ARCH_DMA_WMB()
#endif
/** Order a read of DMA memory (a cycle bit) before later reads of DMA memory. */
#ifndef bu_dma_rmb
#define bu_dma_rmb() BU_ARCH_DMA_RMB()
#endif
/** Order writes to DMA memory before a later MMIO write (a doorbell). */
#ifndef bu_wmb
#define bu_wmb() BU_ARCH_WMB()
#endif
/** Order an MMIO read before later reads of DMA memory. */
#ifndef bu_rmb
#define bu_rmb() BU_ARCH_RMB()
#endif
/** Full barrier: every earlier access before every later one. */
#ifndef bu_mb
#define bu_mb() BU_ARCH_MB()
#endif

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#define bu_cpu_to_le64(x) __builtin_bswap64(x)
#define bu_le64_to_cpu(x) __builtin_bswap64(x)
#define bu_cpu_to_le32(x) __builtin_bswap32(x)
#define bu_le32_to_cpu(x) __builtin_bswap32(x)
#define bu_cpu_to_le16(x) __builtin_bswap16(x)
#define bu_le16_to_cpu(x) __builtin_bswap16(x)
#else
#define bu_cpu_to_le64(x) ((uint64_t)(x))
#define bu_le64_to_cpu(x) ((uint64_t)(x))
#define bu_cpu_to_le32(x) ((uint32_t)(x))
#define bu_le32_to_cpu(x) ((uint32_t)(x))
#define bu_cpu_to_le16(x) ((uint16_t)(x))
#define bu_le16_to_cpu(x) ((uint16_t)(x))
#endif

#endif
