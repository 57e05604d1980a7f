/*
 * The list of every device model devices.h declares (the hostile model is
 * built from bytes at run time and is not one of them).
 */
#include "devices.h"

const struct sim_device_model *const sim_device_models[] = {
	&sim_dev_hid_kbd,
	&sim_dev_winusb,
	&sim_dev_winusb_os1,
	&sim_dev_osrfx2,
	&sim_dev_msc,
	&sim_dev_composite,
	&sim_dev_composite_msos,
	&sim_dev_dualcfg,
	&sim_dev_hub2,
	&sim_dev_hub2_mtt,
	&sim_dev_hub3,
	&sim_dev_qemu_kbd,
	&sim_dev_fwake,
	NULL,
};
