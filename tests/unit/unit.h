/*
 * Shared helpers for the Check-based unit tests: the runner (fork mode,
 * per-case timeouts, TAP on stdout for Meson) and a descriptor builder.
 */
#ifndef BAREUSB_TEST_UNIT_H
#define BAREUSB_TEST_UNIT_H

#include <check.h>
#include <stddef.h>
#include <stdint.h>

/** Per-case timeout in seconds (generous: ASan/UBSan builds are slow). */
#define UNIT_TIMEOUT 30

/** Build the suite named `name` from the test file's tcases. */
Suite *unit_suite(void);

/** Add a tcase with the standard timeout to `s`; returns it. */
TCase *unit_tcase(Suite *s, const char *name);

/** A byte buffer that descriptor bundles are built in. */
struct blob {
	uint8_t b[65536 + 64];
	size_t n;
};

/** Append n bytes. */
void blob_put(struct blob *bl, const uint8_t *p, size_t n);

/** Append literal bytes: BLOB(&bl, 0x09, 0x04, ...). */
#define BLOB(bl, ...)                                                     \
	blob_put((bl), (const uint8_t[]){ __VA_ARGS__ },                  \
		 sizeof((const uint8_t[]){ __VA_ARGS__ }))

/** Configuration header with wTotalLength 0 (fixed by blob_finish). */
void d_config(struct blob *bl, uint8_t nif, uint8_t value, uint8_t attr,
	      uint8_t power);
/** Interface descriptor. */
void d_iface(struct blob *bl, uint8_t num, uint8_t alt, uint8_t neps,
	     uint8_t cls, uint8_t sub, uint8_t proto);
/** Endpoint descriptor (7 bytes). */
void d_ep(struct blob *bl, uint8_t addr, uint8_t attr, uint16_t maxp,
	  uint8_t interval);
/** SuperSpeed endpoint companion. */
void d_ss(struct blob *bl, uint8_t burst, uint8_t attr, uint16_t bpi);
/** Interface association descriptor. */
void d_iad(struct blob *bl, uint8_t first, uint8_t count, uint8_t cls,
	   uint8_t sub, uint8_t proto);
/** Set wTotalLength (bytes 2..3) to the blob's length. */
void blob_finish(struct blob *bl);
/** Set wTotalLength to `total`. */
void blob_set_total(struct blob *bl, uint16_t total);

#endif
