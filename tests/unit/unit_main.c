/*
 * Runner shared by the unit test binaries: Check in fork mode (each case in
 * its own process, so a crash fails only that case), a timeout per case,
 * and TAP on stdout so Meson's `protocol: 'tap'` reports each case.
 */
#include "unit.h"

#include <stdlib.h>
#include <string.h>

TCase *unit_tcase(Suite *s, const char *name)
{
	TCase *tc = tcase_create(name);

	tcase_set_timeout(tc, UNIT_TIMEOUT);
	suite_add_tcase(s, tc);
	return tc;
}

void blob_put(struct blob *bl, const uint8_t *p, size_t n)
{
	ck_assert_uint_le(bl->n + n, sizeof(bl->b));
	memcpy(bl->b + bl->n, p, n);
	bl->n += n;
}

void d_config(struct blob *bl, uint8_t nif, uint8_t value, uint8_t attr,
	      uint8_t power)
{
	BLOB(bl, 9, 0x02, 0, 0, nif, value, 0, attr, power);
}

void d_iface(struct blob *bl, uint8_t num, uint8_t alt, uint8_t neps,
	     uint8_t cls, uint8_t sub, uint8_t proto)
{
	BLOB(bl, 9, 0x04, num, alt, neps, cls, sub, proto, 0);
}

void d_ep(struct blob *bl, uint8_t addr, uint8_t attr, uint16_t maxp,
	  uint8_t interval)
{
	BLOB(bl, 7, 0x05, addr, attr, (uint8_t)maxp, (uint8_t)(maxp >> 8),
	     interval);
}

void d_ss(struct blob *bl, uint8_t burst, uint8_t attr, uint16_t bpi)
{
	BLOB(bl, 6, 0x30, burst, attr, (uint8_t)bpi, (uint8_t)(bpi >> 8));
}

void d_iad(struct blob *bl, uint8_t first, uint8_t count, uint8_t cls,
	   uint8_t sub, uint8_t proto)
{
	BLOB(bl, 8, 0x0b, first, count, cls, sub, proto, 0);
}

void blob_set_total(struct blob *bl, uint16_t total)
{
	bl->b[2] = (uint8_t)total;
	bl->b[3] = (uint8_t)(total >> 8);
}

void blob_finish(struct blob *bl)
{
	ck_assert_uint_le(bl->n, 65535);
	blob_set_total(bl, (uint16_t)bl->n);
}

int main(void)
{
	SRunner *sr = srunner_create(unit_suite());
	int failed;

	/* TAP to stdout unless the caller chose another log. */
	if (!getenv("CK_TAP_LOG_FILE_NAME"))
		srunner_set_tap(sr, "-");
	srunner_run_all(sr, CK_SILENT);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
