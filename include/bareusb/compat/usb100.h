/*
 * <usb100.h> for programs written for Windows: put include/bareusb/compat on
 * the include path and `#include <usb100.h>` gets the USB descriptor
 * structures and constants Windows names from bareusb.
 */
#ifndef BAREUSB_COMPAT_USB100_H
#define BAREUSB_COMPAT_USB100_H

#include "../winusb.h"

#endif
