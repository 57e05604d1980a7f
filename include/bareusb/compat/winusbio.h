/*
 * <winusbio.h> for programs written for Windows: put include/bareusb/compat
 * on the include path and `#include <winusbio.h>` gets WinUSB policy
 * identifiers and pipe information from bareusb.
 */
#ifndef BAREUSB_COMPAT_WINUSBIO_H
#define BAREUSB_COMPAT_WINUSBIO_H

#include "../winusbio.h"

#endif
