/*
 * A USB 3 vendor function that wakes the host (VID:PID 1209:b060), at high
 * speed and SuperSpeed: remote wakeup in its configuration, bulk loopback
 * and an interrupt IN endpoint that answers only with the events the test
 * gives it, each of which also asks for a remote wakeup (see devices.h).
 */
#include "model_common.h"

/* ------------------------------------------------------------------------ */
/* Descriptors                                                              */

#define VID 0x1209
#define PID 0xb060

static const uint8_t dev_hs[] = { SIM_D_DEVICE(0x0210, 0, 0, 0, 64, VID, PID, 0x0100, 1, 2, 0, 1) };
static const uint8_t dev_ss[] = { SIM_D_DEVICE(0x0320, 0, 0, 0, 9, VID, PID, 0x0100, 1, 2, 0, 1) };
static const uint8_t qual_hs[] = { SIM_D_QUALIFIER(0x0210, 0, 0, 0, 64, 1) };

/* Interface 0 ff/00/00: bulk loopback pair and the event endpoint. */
#define FW_IFACE(bulk, iv)                                                     \
	SIM_D_INTERFACE(0, 0, 3, USB_CLASS_VENDOR, 0, 0, 0),                   \
	SIM_D_ENDPOINT(0x01, SIM_EP_BULK, bulk, 0),                            \
	SIM_D_ENDPOINT(0x81, SIM_EP_BULK, bulk, 0),                            \
	SIM_D_ENDPOINT(0x82, SIM_EP_INTR, 8, iv)

/* Bus powered, remote wakeup (bmAttributes D5); at full speed the other
 * speed's view (USB 2.0 §9.6.4). */
static const uint8_t cfg_hs[] = { SIM_D_CONFIG(1, 1, 0, 0xa0, 50), FW_IFACE(512, 4) };
static const uint8_t osp_hs[] = { SIM_D_OTHER_SPEED(1, 1, 0, 0xa0, 50), FW_IFACE(64, 1) };
static const uint8_t cfg_ss[] = {
	SIM_D_CONFIG(1, 1, 0, 0xa0, 25),
	SIM_D_INTERFACE(0, 0, 3, USB_CLASS_VENDOR, 0, 0, 0),
	SIM_D_ENDPOINT(0x01, SIM_EP_BULK, 1024, 0), SIM_D_SS_COMP(0, 0, 0),
	SIM_D_ENDPOINT(0x81, SIM_EP_BULK, 1024, 0), SIM_D_SS_COMP(0, 0, 0),
	SIM_D_ENDPOINT(0x82, SIM_EP_INTR, 8, 4), SIM_D_SS_COMP(0, 0, 8),
};
static const uint8_t bos[] = {
	SIM_D_BOS(2),
	SIM_D_USB2_EXT(0),
	SIM_D_SS_CAP(0, 0x000e, 1, 0x0a, 0x07ff),
};

/* ------------------------------------------------------------------------ */
/* Behaviour                                                                */

#define FW_EVENTS 8

/** The function's state (model priv). */
struct fwake {
	struct sim_loop loop;         /* bulk OUT 0x01 -> bulk IN 0x81 */
	uint8_t ev[FW_EVENTS][8];     /* events waiting on interrupt IN 0x82 */
	uint8_t ev_len[FW_EVENTS];    /* their lengths */
	unsigned head, tail;          /* free-running: next to send, next free */
};

static struct fwake *fw(struct sim_device *dev)
{
	return sim_device_priv(dev);
}

bool sim_fwake_event(struct sim_device *dev, const uint8_t *data, uint8_t len)
{
	struct fwake *f = fw(dev);

	if (f->tail - f->head < FW_EVENTS) {
		uint8_t n = len < 8 ? len : 8;

		memcpy(f->ev[f->tail % FW_EVENTS], data, n);
		f->ev_len[f->tail % FW_EVENTS] = n;
		f->tail++;
	}
	return sim_remote_wake(dev);
}

static void sim_fwake_reset(struct sim_device *dev)
{
	sim_loop_reset(&fw(dev)->loop);
	fw(dev)->head = fw(dev)->tail = 0;
}

static int sim_fwake_in(struct sim_device *dev, uint8_t ep, uint8_t *buf, uint16_t max)
{
	struct fwake *f = fw(dev);
	uint16_t n;

	switch (ep) {
	case 0x81:
		return sim_loop_in(&f->loop, buf, max);
	case 0x82:
		if (f->head == f->tail)
			return SIM_NAK;
		n = f->ev_len[f->head % FW_EVENTS] < max ? f->ev_len[f->head % FW_EVENTS] : max;
		memcpy(buf, f->ev[f->head % FW_EVENTS], n);
		f->head++;
		return n;
	default:
		return SIM_STALL;
	}
}

static int sim_fwake_out(struct sim_device *dev, uint8_t ep, const uint8_t *buf, uint16_t len)
{
	if (ep != 0x01)
		return SIM_STALL;
	return sim_loop_out(&fw(dev)->loop, buf, len, sim_device_ep_mps(dev, 0x01));
}

const struct sim_device_model sim_dev_fwake = {
	.name = "fwake",
	.high = { .device = SIM_BLOB(dev_hs), .configs = { SIM_BLOB(cfg_hs) },
		  .qualifier = SIM_BLOB(qual_hs), .other_speed = { SIM_BLOB(osp_hs) } },
	.super = { .device = SIM_BLOB(dev_ss), .configs = { SIM_BLOB(cfg_ss) } },
	.langid = 0x0409,
	.strings = { [1] = "bareusb sim", [2] = "Sim Function Wake" },
	.bos = SIM_BLOB(bos),
	.priv_size = sizeof(struct fwake),
	.reset = sim_fwake_reset,
	.in = sim_fwake_in,
	.out = sim_fwake_out,
};
