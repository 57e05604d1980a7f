/*
 * The OSR USB FX2 Learning Kit (VID:PID 0547:1002), at full and high speed,
 * as OSR's public documentation of the kit and Microsoft's WinUSB
 * walkthrough ("How to access a USB device by using WinUSB functions")
 * describe it: one vendor interface with interrupt IN 0x81 (the switches),
 * bulk OUT 0x06 looped back to bulk IN 0x88, and vendor requests for the
 * bar graph, the seven-segment display and the switches (see devices.h).
 */
#include "model_common.h"

/* ------------------------------------------------------------------------ */
/* Descriptors                                                              */

#define VID 0x0547
#define PID 0x1002

static const uint8_t dev_desc[] = { SIM_D_DEVICE(0x0200, 0, 0, 0, 64, VID, PID, 0x0000, 1, 2, 0, 1) };
static const uint8_t qual[] = { SIM_D_QUALIFIER(0x0200, 0, 0, 0, 64, 1) };

#define FX2_CONFIG(bulk)                                                       \
	SIM_D_CONFIG(1, 1, 0, 0xa0, 50),                                       \
	SIM_D_INTERFACE(0, 0, 3, USB_CLASS_VENDOR, 0, 0, 0),                   \
	SIM_D_ENDPOINT(0x81, SIM_EP_INTR, SIM_FX2_INTR_MPS, 1),                \
	SIM_D_ENDPOINT(0x06, SIM_EP_BULK, bulk, 0),                            \
	SIM_D_ENDPOINT(0x88, SIM_EP_BULK, bulk, 0)

static const uint8_t cfg_fs[] = { FX2_CONFIG(64) };
static const uint8_t cfg_hs[] = { FX2_CONFIG(512) };

/* ------------------------------------------------------------------------ */
/* Behaviour                                                                */

/** The kit's state (model priv). */
struct osrfx2 {
	struct sim_loop loop;
	uint8_t bargraph;   /* one bit per lit bar */
	uint8_t segments;   /* one bit per lit segment */
	uint8_t switches;   /* one bit per closed DIP switch */
	bool report_due;    /* the switch state waits on the interrupt pipe */
	unsigned reports;   /* interrupt reports sent */
};

static struct osrfx2 *fx2(struct sim_device *dev)
{
	return sim_device_priv(dev);
}

void sim_fx2_set_switches(struct sim_device *dev, uint8_t switches)
{
	fx2(dev)->switches = switches;
	fx2(dev)->report_due = true;
}

uint8_t sim_fx2_bargraph(struct sim_device *dev)
{
	return fx2(dev)->bargraph;
}

uint8_t sim_fx2_segments(struct sim_device *dev)
{
	return fx2(dev)->segments;
}

unsigned sim_fx2_reports(struct sim_device *dev)
{
	return fx2(dev)->reports;
}

uint64_t sim_fx2_bulk_out_bytes(struct sim_device *dev)
{
	return fx2(dev)->loop.out_bytes;
}

static void fx2_reset(struct sim_device *dev)
{
	sim_loop_reset(&fx2(dev)->loop);
}

static void fx2_set_config(struct sim_device *dev, uint8_t value)
{
	sim_loop_reset(&fx2(dev)->loop);
	/* The firmware reports the switches once configured, then on change. */
	fx2(dev)->report_due = value != 0;
}

static int fx2_control(struct sim_device *dev, const struct usb_setup_packet *s, uint8_t *data,
		       uint16_t *len)
{
	struct osrfx2 *k = fx2(dev);
	uint8_t type = s->bmRequestType & 0x7f; /* vendor, device or interface */
	bool in = (s->bmRequestType & 0x80) != 0;
	uint8_t value;

	if (type != 0x40 && type != 0x41)
		return SIM_STALL;
	if (!in) {
		/* SET_BARGRAPH_DISPLAY / SET_7SEGMENT_DISPLAY: one data byte. */
		if (*len != 1)
			return SIM_STALL;
		if (s->bRequest == SIM_FX2_SET_BARGRAPH_DISPLAY)
			k->bargraph = data[0];
		else if (s->bRequest == SIM_FX2_SET_7SEGMENT_DISPLAY)
			k->segments = data[0];
		else
			return SIM_STALL;
		return SIM_ACK;
	}
	switch (s->bRequest) {
	case SIM_FX2_READ_BARGRAPH_DISPLAY:
		value = k->bargraph;
		break;
	case SIM_FX2_READ_7SEGMENT_DISPLAY:
		value = k->segments;
		break;
	case SIM_FX2_READ_SWITCHES:
		value = k->switches;
		break;
	case SIM_FX2_IS_HIGH_SPEED:
		value = sim_device_speed(dev) == SIM_SPEED_HIGH;
		break;
	default:
		return SIM_STALL;
	}
	if (*len < 1)
		return SIM_STALL;
	data[0] = value;
	*len = 1;
	return SIM_ACK;
}

static int fx2_in(struct sim_device *dev, uint8_t ep, uint8_t *buf, uint16_t max)
{
	struct osrfx2 *k = fx2(dev);

	switch (ep) {
	case 0x88:
		return sim_loop_in(&k->loop, buf, max);
	case 0x81:
		if (!k->report_due || max < 1)
			return SIM_NAK;
		k->report_due = false;
		k->reports++;
		buf[0] = k->switches;
		return 1;
	default:
		return SIM_STALL;
	}
}

static int fx2_out(struct sim_device *dev, uint8_t ep, const uint8_t *buf, uint16_t len)
{
	if (ep != 0x06)
		return SIM_STALL;
	return sim_loop_out(&fx2(dev)->loop, buf, len, sim_device_ep_mps(dev, 0x06));
}

const struct sim_device_model sim_dev_osrfx2 = {
	.name = "osrfx2",
	.full = { .device = SIM_BLOB(dev_desc), .configs = { SIM_BLOB(cfg_fs) },
		  .qualifier = SIM_BLOB(qual), .other_speed = { SIM_BLOB(cfg_hs) } },
	.high = { .device = SIM_BLOB(dev_desc), .configs = { SIM_BLOB(cfg_hs) },
		  .qualifier = SIM_BLOB(qual), .other_speed = { SIM_BLOB(cfg_fs) } },
	.langid = 0x0409,
	.strings = { [1] = "OSR", [2] = "OSR USB-FX2 Learning Kit" },
	.priv_size = sizeof(struct osrfx2),
	.reset = fx2_reset,
	.set_config = fx2_set_config,
	.control = fx2_control,
	.in = fx2_in,
	.out = fx2_out,
};
