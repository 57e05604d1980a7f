/*
 * A HID boot keyboard function (HID 1.11), the behaviour behind every
 * keyboard interface the sim models: the report and HID descriptors
 * (HID 1.11 §7.1), the class requests GET/SET_REPORT, GET/SET_IDLE and
 * GET/SET_PROTOCOL (§7.2), and the 8-byte boot report (Appendix B.1) sent
 * on the interrupt IN endpoint, NAKed while no key changed. The models
 * pick the interface and endpoint; this file sees only the function.
 */
#include <string.h>

#include "model_common.h"

/* The report descriptor of the 8-byte boot report (HID 1.11 Appendix B.1),
 * byte for byte as QEMU's hw/usb/dev-hid.c gives it. */
const uint8_t sim_hid_kbd_report_desc[SIM_HID_KBD_REPORT_DESC_LEN] = {
	0x05, 0x01, 0x09, 0x06, 0xa1, 0x01, 0x75, 0x01, 0x95, 0x08, 0x05, 0x07, 0x19, 0xe0,
	0x29, 0xe7, 0x15, 0x00, 0x25, 0x01, 0x81, 0x02, 0x95, 0x01, 0x75, 0x08, 0x81, 0x01,
	0x95, 0x05, 0x75, 0x01, 0x05, 0x08, 0x19, 0x01, 0x29, 0x05, 0x91, 0x02, 0x95, 0x01,
	0x75, 0x03, 0x91, 0x01, 0x95, 0x06, 0x75, 0x08, 0x15, 0x00, 0x25, 0xff, 0x05, 0x07,
	0x19, 0x00, 0x29, 0xff, 0x81, 0x00, 0xc0,
};

#define HID_DT_REPORT 0x22
#define HID_REQ_GET_REPORT 0x01
#define HID_REQ_GET_IDLE 0x02
#define HID_REQ_GET_PROTOCOL 0x03
#define HID_REQ_SET_REPORT 0x09
#define HID_REQ_SET_IDLE 0x0a
#define HID_REQ_SET_PROTOCOL 0x0b

void sim_hid_kbd_init(struct sim_hid_kbd *k)
{
	k->protocol = 1; /* report protocol after reset (HID 1.11 §7.2.6) */
}

void sim_hid_kbd_queue(struct sim_hid_kbd *k, uint8_t usage)
{
	uint8_t down[8] = { 0, 0, usage, 0, 0, 0, 0, 0 }, up[8] = { 0 };

	if (k->tail - k->head > SIM_HID_KBD_QUEUE - 2)
		return;
	memcpy(k->queue[k->tail++ % SIM_HID_KBD_QUEUE], down, 8);
	memcpy(k->queue[k->tail++ % SIM_HID_KBD_QUEUE], up, 8);
}

/* GET_DESCRIPTOR to the interface: the report or the HID descriptor. */
static int hid_get_descriptor(const struct usb_setup_packet *s, uint8_t *data, uint16_t *len)
{
	const uint8_t hid[] = { SIM_D_HID(sizeof(sim_hid_kbd_report_desc)) };

	switch (s->wValue >> 8) {
	case HID_DT_REPORT:
		memcpy(data, sim_hid_kbd_report_desc, sizeof(sim_hid_kbd_report_desc));
		*len = sizeof(sim_hid_kbd_report_desc);
		return SIM_ACK;
	case USB_DT_HID:
		memcpy(data, hid, sizeof(hid));
		*len = sizeof(hid);
		return SIM_ACK;
	default:
		return SIM_STALL;
	}
}

int sim_hid_kbd_control(struct sim_hid_kbd *k, const struct usb_setup_packet *s, uint8_t *data,
			uint16_t *len)
{
	if (s->bmRequestType == 0x81 && s->bRequest == USB_REQ_GET_DESCRIPTOR)
		return hid_get_descriptor(s, data, len);
	if ((s->bmRequestType & 0x7f) != 0x21)
		return SIM_STALL;
	switch (s->bRequest) {
	case HID_REQ_GET_REPORT:
		memset(data, 0, 8);
		*len = 8;
		return SIM_ACK;
	case HID_REQ_GET_IDLE:
		data[0] = k->idle;
		*len = 1;
		return SIM_ACK;
	case HID_REQ_GET_PROTOCOL:
		data[0] = k->protocol;
		*len = 1;
		return SIM_ACK;
	case HID_REQ_SET_REPORT:
		if (*len >= 1)
			k->leds = data[0];
		return SIM_ACK;
	case HID_REQ_SET_IDLE:
		k->idle = (uint8_t)(s->wValue >> 8);
		return SIM_ACK;
	case HID_REQ_SET_PROTOCOL:
		if (s->wValue > 1)
			return SIM_STALL;
		k->protocol = (uint8_t)s->wValue;
		return SIM_ACK;
	default:
		return SIM_STALL;
	}
}

int sim_hid_kbd_report(struct sim_hid_kbd *k, uint8_t *buf, uint16_t max)
{
	uint16_t n = max < 8 ? max : 8;

	if (k->head == k->tail)
		return SIM_NAK;
	memcpy(buf, k->queue[k->head++ % SIM_HID_KBD_QUEUE], n);
	return n;
}
