/*
 * USB 2.0 / 3.x chapter 9 constants and wire layouts. Wire structs are
 * packed, little-endian as sent; convert 16-bit fields with bu_le16_to_cpu
 * or read them with bu_get_le16().
 */
#ifndef BAREUSB_CH9_H
#define BAREUSB_CH9_H

#include <stdint.h>

#include "bareusb/compiler.h"

#ifdef __cplusplus
extern "C" {
#endif

/* bmRequestType (USB 2.0 §9.3.1, Table 9-2) */
#define USB_DIR_OUT 0x00
#define USB_DIR_IN 0x80
#define USB_TYPE_STANDARD 0x00
#define USB_TYPE_CLASS 0x20
#define USB_TYPE_VENDOR 0x40
#define USB_RECIP_DEVICE 0x00
#define USB_RECIP_INTERFACE 0x01
#define USB_RECIP_ENDPOINT 0x02
#define USB_RECIP_OTHER 0x03

/* bRequest (USB 2.0 Table 9-4, USB 3.2 Table 9-5) */
#define USB_REQ_GET_STATUS 0x00
#define USB_REQ_CLEAR_FEATURE 0x01
#define USB_REQ_SET_FEATURE 0x03
#define USB_REQ_SET_ADDRESS 0x05
#define USB_REQ_GET_DESCRIPTOR 0x06
#define USB_REQ_SET_DESCRIPTOR 0x07
#define USB_REQ_GET_CONFIGURATION 0x08
#define USB_REQ_SET_CONFIGURATION 0x09
#define USB_REQ_GET_INTERFACE 0x0a
#define USB_REQ_SET_INTERFACE 0x0b
#define USB_REQ_SYNCH_FRAME 0x0c
#define USB_REQ_SET_SEL 0x30
#define USB_REQ_SET_ISOCH_DELAY 0x31

/* Feature selectors (USB 2.0 Table 9-6) */
#define USB_FEATURE_ENDPOINT_HALT 0
#define USB_FEATURE_DEVICE_REMOTE_WAKEUP 1
#define USB_FEATURE_TEST_MODE 2

/* Descriptor types (USB 2.0 Table 9-5, USB 3.2 Table 9-6) */
#define USB_DT_DEVICE 0x01
#define USB_DT_CONFIG 0x02
#define USB_DT_STRING 0x03
#define USB_DT_INTERFACE 0x04
#define USB_DT_ENDPOINT 0x05
#define USB_DT_DEVICE_QUALIFIER 0x06
#define USB_DT_OTHER_SPEED_CONFIG 0x07
#define USB_DT_INTERFACE_POWER 0x08
#define USB_DT_OTG 0x09
#define USB_DT_DEBUG 0x0a
#define USB_DT_IAD 0x0b
#define USB_DT_BOS 0x0f
#define USB_DT_DEVICE_CAPABILITY 0x10
#define USB_DT_HID 0x21
#define USB_DT_HUB 0x29
#define USB_DT_SS_HUB 0x2a
#define USB_DT_SS_EP_COMP 0x30
#define USB_DT_SSP_ISOC_EP_COMP 0x31

/* Sizes of the fixed descriptors */
#define USB_DT_DEVICE_SIZE 18
#define USB_DT_CONFIG_SIZE 9
#define USB_DT_INTERFACE_SIZE 9
#define USB_DT_ENDPOINT_SIZE 7
#define USB_DT_IAD_SIZE 8
#define USB_DT_SS_EP_COMP_SIZE 6
#define USB_DT_SSP_ISOC_EP_COMP_SIZE 8
#define USB_DT_BOS_SIZE 5

/* Class codes used by the core */
#define USB_CLASS_PER_INTERFACE 0x00
#define USB_CLASS_HID 0x03
#define USB_CLASS_MASS_STORAGE 0x08
#define USB_CLASS_HUB 0x09
#define USB_CLASS_MISC 0xef
#define USB_CLASS_VENDOR 0xff

/* Endpoint descriptor fields */
#define USB_ENDPOINT_DIR_IN 0x80
#define USB_ENDPOINT_NUMBER(a) ((a) & 0x0f)
#define USB_ENDPOINT_XFERTYPE(attr) ((attr) & 0x03)
#define USB_ENDPOINT_MAXP(w) ((w) & 0x07ff)
#define USB_ENDPOINT_MAXP_MULT(w) (((w) >> 11) & 0x03)

/** SETUP packet (USB 2.0 Table 9-2), 8 bytes, little-endian on the wire. */
struct usb_setup_packet {
	uint8_t bmRequestType;
	uint8_t bRequest;
	uint16_t wValue;
	uint16_t wIndex;
	uint16_t wLength;
} __attribute__((packed));
BU_STATIC_ASSERT(sizeof(struct usb_setup_packet) == 8, "setup packet");

/** Device descriptor (USB 2.0 Table 9-8); kept in host byte order by the core. */
struct usb_device_descriptor {
	uint8_t bLength;
	uint8_t bDescriptorType;
	uint16_t bcdUSB;
	uint8_t bDeviceClass;
	uint8_t bDeviceSubClass;
	uint8_t bDeviceProtocol;
	uint8_t bMaxPacketSize0;
	uint16_t idVendor;
	uint16_t idProduct;
	uint16_t bcdDevice;
	uint8_t iManufacturer;
	uint8_t iProduct;
	uint8_t iSerialNumber;
	uint8_t bNumConfigurations;
} __attribute__((packed));
BU_STATIC_ASSERT(sizeof(struct usb_device_descriptor) == 18, "device descriptor");

/** Read a little-endian 16-bit value from device bytes. */
static inline uint16_t bu_get_le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | (p[1] << 8));
}

/** Write a 16-bit value little-endian, as on the wire. */
static inline void bu_put_le16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

/** Read a little-endian 32-bit value from device bytes. */
static inline uint32_t bu_get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
	       ((uint32_t)p[3] << 24);
}

/** Write a 32-bit value little-endian, as on the wire. */
static inline void bu_put_le32(uint8_t *p, uint32_t v)
{
	bu_put_le16(p, (uint16_t)v);
	bu_put_le16(p + 2, (uint16_t)(v >> 16));
}

#ifdef __cplusplus
}
#endif

#endif
