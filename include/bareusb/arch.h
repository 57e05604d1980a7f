/*
 * Memory barriers and byte order, the only architecture-specific bits of the
 * library. DMA-visible structures are little-endian by the xHCI and USB specs.
 */
#ifndef BAREUSB_ARCH_H
#define BAREUSB_ARCH_H

#include <stdint.h>

/** Order CPU writes to DMA memory before a later write (e.g. doorbell). */
#define bu_wmb() __atomic_thread_fence(__ATOMIC_RELEASE)
/** Order a read of DMA memory (cycle bit) before later reads. */
#define bu_rmb() __atomic_thread_fence(__ATOMIC_ACQUIRE)
/** Full barrier. */
#define bu_mb() __atomic_thread_fence(__ATOMIC_SEQ_CST)

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#define bu_cpu_to_le64(x) __builtin_bswap64(x)
#define bu_cpu_to_le32(x) __builtin_bswap32(x)
#define bu_le32_to_cpu(x) __builtin_bswap32(x)
#define bu_cpu_to_le16(x) __builtin_bswap16(x)
#define bu_le16_to_cpu(x) __builtin_bswap16(x)
#else
#define bu_cpu_to_le64(x) ((uint64_t)(x))
#define bu_cpu_to_le32(x) ((uint32_t)(x))
#define bu_le32_to_cpu(x) ((uint32_t)(x))
#define bu_cpu_to_le16(x) ((uint16_t)(x))
#define bu_le16_to_cpu(x) ((uint16_t)(x))
#endif

#endif
