/*
 * Compiler glue shared by the public headers, so they compile as C11 and as
 * C++11 alike.
 */
#ifndef BAREUSB_COMPILER_H
#define BAREUSB_COMPILER_H

/** Compile-time check of a struct layout (sizes and offsets). */
#ifdef __cplusplus
#define BU_STATIC_ASSERT(cond, msg) static_assert(cond, msg)
#else
#define BU_STATIC_ASSERT(cond, msg) _Static_assert(cond, msg)
#endif

#endif
