/*
 * <winusb.h> for programs written for Windows: put include/bareusb/compat on
 * the include path and `#include <winusb.h>` gets the WinUSB API from
 * bareusb.
 */
#ifndef BAREUSB_COMPAT_WINUSB_H
#define BAREUSB_COMPAT_WINUSB_H

#include "../winusb.h"

#endif
