/*
 * Runtime invariants of bareusb's own state (ring counters, transfer and
 * command state): a broken one is a bug in bareusb or a caller breaking
 * the API contract, never a device's fault (devices get error codes). It
 * reaches the embedder's panic hook (bu_platform.panic), which must not
 * return; without a hook it is logged at BU_LOG_ERR and the library goes
 * on with the fallback the call site chose.
 */
#ifndef BAREUSB_ASSERT_H
#define BAREUSB_ASSERT_H

#include <stdbool.h>

#include "bareusb/platform.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Report the invariant `expr` at file:line as broken (see above). */
void bu_assert_failed(const struct bu_platform *plat, const char *file,
		      unsigned line, const char *expr);

/** Evaluates to `cond`, reporting it when false: `if (!BU_CHECK(p, c)) return err;` */
#define BU_CHECK(plat, cond)                                                   \
	((cond) ? true : (bu_assert_failed((plat), __FILE__, __LINE__, #cond), false))

/** An invariant with no fallback at the call site. */
#define BU_ASSERT(plat, cond) ((void)BU_CHECK(plat, cond))

#ifdef __cplusplus
}
#endif

#endif
