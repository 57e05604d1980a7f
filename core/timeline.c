/*
 * A device's enumeration timeline (bu_usb_device.steps): when each step of
 * its attach began and how long it took, on the platform clock.
 *
 * The port machine (port.c) keeps when its port entered debounce, the
 * lock wait, reset and recovery; once the device exists those become its
 * first steps. The enumeration (enum.c) then begins a step each time it
 * enters one, which ends the step before it, and the end of enumeration
 * (after the class drivers' probe) ends the last. Steps are contiguous by
 * construction, so their durations add up to the device's total.
 *
 * Everything lives in the device's own fixed array: nothing is allocated.
 */
#include "core_priv.h"

static const char *const step_names[BU_STEP_COUNT] = {
	[BU_STEP_DEBOUNCE] = "debounce",
	[BU_STEP_LOCK_WAIT] = "lock_wait",
	[BU_STEP_RESET] = "reset",
	[BU_STEP_RESET_RECOVERY] = "reset_recovery",
	[BU_STEP_ENABLE_SLOT] = "enable_slot",
	[BU_STEP_ADDRESS] = "address_device",
	[BU_STEP_ADDRESS_RECOVERY] = "address_recovery",
	[BU_STEP_DEVICE_DESC8] = "device_desc8",
	[BU_STEP_EP0_UPDATE] = "ep0_update",
	[BU_STEP_DEVICE_DESC] = "device_desc",
	[BU_STEP_CONFIG_HEADER] = "config_header",
	[BU_STEP_CONFIG_DESC] = "config_desc",
	[BU_STEP_BOS_HEADER] = "bos_header",
	[BU_STEP_BOS_DESC] = "bos_desc",
	[BU_STEP_LANGIDS] = "langids",
	[BU_STEP_STRINGS] = "strings",
	[BU_STEP_CONFIGURE_EP] = "configure_endpoint",
	[BU_STEP_SET_CONFIG] = "set_configuration",
	[BU_STEP_MSOS] = "msos",
	[BU_STEP_PROBE] = "probe",
};

const char *bu_usb_step_name(unsigned step)
{
	return step < BU_STEP_COUNT && step_names[step] ? step_names[step] : "?";
}

/** Close the running step at `now` (a clock that went back counts as 0). */
static void step_close(struct bu_usb_device *dev, uint64_t now)
{
	struct bu_usb_step_time *t;
	uint64_t us;

	if (!dev->steps_open || !dev->num_steps)
		return;
	t = &dev->steps[dev->num_steps - 1];
	us = now > t->start_us ? now - t->start_us : 0;
	t->us = us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
	dev->steps_open = false;
}

bool bu_core_step_begin(struct bu_usb_device *dev, unsigned step, uint64_t now)
{
	struct bu_usb_step_time *t;

	if (dev->steps_open && dev->num_steps &&
	    (dev->steps[dev->num_steps - 1].step == step || dev->steps_truncated))
		return false; /* the same step again (or no room): it goes on */
	step_close(dev, now);
	if (dev->num_steps == BU_USB_MAX_STEPS) {
		/* No room: the last entry runs on to the end. */
		dev->steps_truncated = true;
		dev->steps_open = true;
		return false;
	}
	t = &dev->steps[dev->num_steps++];
	t->start_us = now;
	t->us = 0;
	t->step = (uint8_t)step;
	dev->steps_open = true;
	return true;
}

void bu_core_step_undo(struct bu_usb_device *dev)
{
	if (!dev->steps_open || !dev->num_steps)
		return;
	dev->num_steps--;
	/* The one before was closed when this one began: it runs on. */
	if (dev->num_steps) {
		dev->steps[dev->num_steps - 1].us = 0;
		dev->steps_open = true;
	} else {
		dev->steps_open = false;
	}
}

void bu_core_step_end(struct bu_usb_device *dev, uint64_t now)
{
	step_close(dev, now);
}

void bu_core_steps_from_port(struct bu_usb_device *dev, const struct bu_port *port)
{
	/* The port's phases in order; those that did not happen are 0. */
	const uint64_t t[] = { port->t_debounce_us, port->t_lock_us, port->t_reset_us,
			       port->t_recovery_us };
	const uint8_t kind[] = { BU_STEP_DEBOUNCE, BU_STEP_LOCK_WAIT, BU_STEP_RESET,
				 BU_STEP_RESET_RECOVERY };

	/* Each begins the next and so ends the one before; the last runs on
	 * until the enumeration's first step begins. */
	for (unsigned i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (t[i])
			bu_core_step_begin(dev, kind[i], t[i]);
}
