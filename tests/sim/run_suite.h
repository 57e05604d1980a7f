/*
 * main() of every sim test binary: run one Check suite with TAP on stdout.
 */
#ifndef TESTS_SIM_RUN_SUITE_H
#define TESTS_SIM_RUN_SUITE_H

#include <check.h>
#include <stdlib.h>

/* main() of a sim test binary: run `s` with TAP on stdout; exit status. */
static inline int run_suite(Suite *s)
{
	SRunner *sr = srunner_create(s);
	int failed;

	srunner_set_tap(sr, "-");
	srunner_run_all(sr, CK_SILENT);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

#endif
