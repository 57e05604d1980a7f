/*
 * <usbspec.h> for programs written for Windows: put include/bareusb/compat
 * on the include path and `#include <usbspec.h>` gets the USB descriptor
 * structures and constants Windows names from bareusb.
 */
#ifndef BAREUSB_COMPAT_USBSPEC_H
#define BAREUSB_COMPAT_USBSPEC_H

#include "../winusb.h"

#endif
