/*
 * libFuzzer harness for the hub driver (core/hub.c) through the whole
 * stack on the sim: a hub model (USB 2 single-TT or full-speed, USB 2
 * multi-TT, or USB 3) on a root port, maybe a device or a second hub below
 * it, and every answer that is hub business - the hub descriptor
 * (GET_DESCRIPTOR 0x29/0x2A), GET_STATUS of the hub and of each port
 * (wPortStatus/wPortChange), and each packet of the status-change
 * endpoint - passed through, rewritten, cut short or refused as the input
 * says. When the input runs out the real model answers, so the stack gets
 * to enumerate what is really there. Checked: no crash, no sanitizer
 * report, no DMA fault, and after the bus is destroyed every allocation
 * came back.
 *
 * Input: byte 0 the topology (bits 0-1 hub kind, bits 2-4 the downstream
 * port of a device, bit 5 that device is a hub with a keyboard below, bit 6
 * unplug the top hub after byte 1 x 20 ms); then one answer edit per
 * intercepted answer, in the order the stack asks (see edit_answer).
 */
#include "fuzz_sim.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Ask the input how to answer one hub request or status-change packet. */
static int edit_answer(void *ctx, struct sim_device *dev, const struct usb_setup_packet *s,
		       uint8_t ep, uint8_t *buf, int r, uint16_t cap)
{
	struct fz_input *in = ctx;
	uint8_t op, n;

	(void)dev;
	if (s) {
		bool hub_desc = s->bmRequestType == 0xa0 && s->bRequest == USB_REQ_GET_DESCRIPTOR;
		bool status = (s->bmRequestType == 0xa0 || s->bmRequestType == 0xa3) &&
			      s->bRequest == USB_REQ_GET_STATUS;

		if (!(hub_desc || status) || !fz_more(in))
			return r;
	} else if ((ep & 0x7f) != 1 || !fz_more(in)) {
		return r;
	}
	op = fz_u8(in);
	n = op >> 2;
	switch (op & 3) {
	case 0: /* as the model answered */
		return r;
	case 1: /* replace: n bytes (hub descriptor: a length byte follows) */
		if (s && s->bRequest == USB_REQ_GET_DESCRIPTOR)
			n = fz_u8(in);
		if (n > cap)
			n = (uint8_t)cap;
		memset(buf, 0, n);
		return (int)fz_bytes(in, buf, n);
	case 2: /* flip bits: n (offset, mask) pairs in what the model sent */
		if (r < 0 && !s) { /* a status-change NAK becomes a bitmap */
			r = cap < 4 ? cap : 4;
			memset(buf, 0, (size_t)r);
		}
		for (unsigned i = 0; i < (n & 7) && r > 0; i++) {
			uint8_t off = fz_u8(in);

			buf[off % r] ^= fz_u8(in);
		}
		return r;
	default: /* refuse */
		return n & 1 ? SIM_NAK : SIM_STALL;
	}
}

static const struct {
	const struct sim_device_model *model;
	enum sim_speed speed;
} hubs[4] = {
	{ &sim_dev_hub2, SIM_SPEED_HIGH },
	{ &sim_dev_hub2, SIM_SPEED_FULL },
	{ &sim_dev_hub2_mtt, SIM_SPEED_HIGH },
	{ &sim_dev_hub3, SIM_SPEED_SUPER },
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz_input in = { data, size, 0 };
	struct sim_config cfg = { 0 };
	struct fz_stack st;
	struct sim_device *hub, *below = NULL;
	uint8_t topo, unplug;
	unsigned kind, port;
	bool super;

	if (size < 2)
		return 0;
	topo = fz_u8(&in);
	unplug = fz_u8(&in);
	kind = topo & 3;
	port = (topo >> 2) & 7;
	super = hubs[kind].speed == SIM_SPEED_SUPER;

	cfg.usb2_ports = 2;
	cfg.usb3_ports = 2;
	fz_up(&st, &cfg);
	hub = sim_attach(st.sim, super ? sim_usb3_port(st.sim, 1) : sim_usb2_port(st.sim, 1),
			 hubs[kind].model, hubs[kind].speed);
	fz_invariant(hub != NULL, "hub attached");
	sim_set_answer_hook(hub, edit_answer, &in);
	if (port && port <= hubs[kind].model->hub_ports) {
		if (topo & 0x20) {
			below = sim_attach_hub(hub, port, super ? &sim_dev_hub3 : &sim_dev_hub2,
					       super ? SIM_SPEED_SUPER
					       : hubs[kind].speed == SIM_SPEED_FULL ? SIM_SPEED_FULL
										    : SIM_SPEED_HIGH);
			if (below) {
				sim_set_answer_hook(below, edit_answer, &in);
				sim_attach_hub(below, 1, super ? &sim_dev_winusb : &sim_dev_hid_kbd,
					       super ? SIM_SPEED_SUPER : SIM_SPEED_FULL);
			}
		} else {
			below = sim_attach_hub(hub, port, super ? &sim_dev_winusb : &sim_dev_hid_kbd,
					       super ? SIM_SPEED_SUPER : SIM_SPEED_LOW);
		}
	}
	if (topo & 0x40) {
		fz_run_ms(&st, 20u * unplug, 500);
		sim_detach(hub);
	}
	fz_settle(&st, 4000, 500);
	fz_down(&st);
	return 0;
}
