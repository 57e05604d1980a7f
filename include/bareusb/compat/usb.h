/*
 * <usb.h> for programs written for Windows: put include/bareusb/compat on
 * the include path and `#include <usb.h>` gets USBD_STATUS and
 * USBD_ISO_PACKET_DESCRIPTOR (Windows' usb.h) from bareusb.
 */
#ifndef BAREUSB_COMPAT_USB_H
#define BAREUSB_COMPAT_USB_H

#include "../winusb.h"

#endif
