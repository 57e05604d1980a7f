/*
 * The WinUSB API over a sim stack, as the Windows-program tests bring it
 * up: once the devices are attached, settle, connect an API instance to
 * the driver part; and take both down with the stack's own checks.
 */
#ifndef TESTS_SIM_WINUSB_ENV_H
#define TESTS_SIM_WINUSB_ENV_H

#include "harness.h"

#include "bareusb/winusb.h"
#include "bareusb/winusb_drv.h"

/* Settle enumeration, then *api: an API instance attached to drv. */
static inline void winusb_env_api_up(struct stack *st, struct bu_winusb_drv *drv,
				     struct bu_winusb_api **api)
{
	struct bu_winusb_transport tp;

	ck_assert(settle(st, 5000));
	bu_winusb_drv_transport(drv, &tp);
	ck_assert_int_eq(bu_winusb_api_create(sim_platform(st->sim), api), 0);
	ck_assert_int_eq(bu_winusb_api_attach(*api, &tp), 0);
}

/* Destroy *api (cleared), drv and the stack (leak and violation checks). */
static inline void winusb_env_down(struct stack *st, struct bu_winusb_drv *drv,
				   struct bu_winusb_api **api)
{
	bu_winusb_api_destroy(*api);
	*api = NULL;
	bu_winusb_drv_destroy(drv);
	stack_down(st);
}

#endif
