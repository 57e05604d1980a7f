/*
 * sim device framework: the USB device side (USB 2.0 ch9) for declarative
 * models. Answers the standard requests from the model's descriptor tables,
 * MS OS 1.0 / 2.0 descriptor requests, keeps device state (address,
 * configuration, alternate settings, endpoint halt, data toggles), checks
 * request validity and bus timing, and applies injected faults.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim_priv.h"

/* ------------------------------------------------------------------------ */
/* Life cycle                                                               */

struct sim_device *sim_dev_new(struct sim *sim, const struct sim_device_model *model,
			       enum sim_speed speed)
{
	const struct sim_desc_set *set = NULL;
	struct sim_device *dev;

	switch (speed) {
	case SIM_SPEED_LOW:
		set = &model->low;
		break;
	case SIM_SPEED_FULL:
		set = &model->full;
		break;
	case SIM_SPEED_HIGH:
		set = &model->high;
		break;
	case SIM_SPEED_SUPER:
		set = &model->super;
		break;
	}
	if (!set || !set->device.data) {
		sim_log(sim, BU_LOG_ERR, "device model %s has no descriptors for speed %u",
			model->name, speed);
		return NULL;
	}
	dev = calloc(1, sizeof(*dev));
	if (!dev)
		abort();
	dev->sim = sim;
	dev->model = model;
	dev->desc = set;
	dev->speed = speed;
	dev->config_idx = -1;
	dev->attached = true;
	dev->wake_due = SIM_NEVER;
	if (model->priv_size) {
		dev->priv = calloc(1, model->priv_size);
		if (!dev->priv)
			abort();
	}
	if (model->hub) {
		dev->hub = calloc(1, sizeof(*dev->hub));
		if (!dev->hub)
			abort();
		dev->hub->due = SIM_NEVER;
		for (unsigned i = 0; i < 16; i++)
			dev->hub->port[i].reset_due = SIM_NEVER;
	}
	dev->next = sim->devices;
	sim->devices = dev;
	if (model->init)
		model->init(dev);
	return dev;
}

void sim_dev_free(struct sim_device *dev)
{
	free(dev->priv);
	free(dev->hub);
	free(dev);
}

void sim_dev_bus_reset(struct sim_device *dev)
{
	dev->address = 0;
	dev->addressed = false;
	dev->config = 0;
	dev->config_idx = -1;
	memset(dev->alt, 0, sizeof(dev->alt));
	dev->halt_in = dev->halt_out = 0;
	dev->toggle_in = dev->toggle_out = 0;
	dev->remote_wake = false;
	dev->func_wake = false;
	dev->func_suspended = false;
	dev->fwake_pending = false;
	dev->wake_due = SIM_NEVER;
	dev->setup_valid = false;
	dev->set_address_ns = 0;
	if (dev->hub)
		sim_hub_reset(dev);
	if (dev->model->reset)
		dev->model->reset(dev);
}

void sim_dev_set_address(struct sim_device *dev, uint8_t addr)
{
	dev->address = addr;
	dev->addressed = true;
	dev->set_address_ns = dev->sim->now;
}

/* ------------------------------------------------------------------------ */
/* Public accessors                                                         */

void *sim_device_priv(struct sim_device *dev)
{
	return dev->priv;
}

struct sim *sim_device_sim(struct sim_device *dev)
{
	return dev->sim;
}

uint8_t sim_device_address(const struct sim_device *dev)
{
	return dev->address;
}

uint8_t sim_device_config(const struct sim_device *dev)
{
	return dev->config;
}

enum sim_speed sim_device_speed(const struct sim_device *dev)
{
	return dev->speed;
}

uint8_t sim_device_alt(const struct sim_device *dev, uint8_t intf)
{
	return intf < 32 ? dev->alt[intf] : 0;
}

uint64_t sim_device_now_us(const struct sim_device *dev)
{
	return dev->sim->now / SIM_US;
}

void sim_device_log(struct sim_device *dev, const char *fmt, ...)
{
	char line[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	sim_log(dev->sim, BU_LOG_DEBUG, "%s: %s", dev->model->name, line);
}

uint16_t sim_device_ep_mps(const struct sim_device *dev, uint8_t ep)
{
	const uint8_t *d;

	if ((ep & 0x7f) == 0) {
		unsigned m = dev->desc->device.len > 7 ? dev->desc->device.data[7] : 0;
		return (uint16_t)(dev->speed == SIM_SPEED_SUPER ? 1u << (m > 15 ? 15 : m) : m);
	}
	if (!sim_dev_has_ep(dev, ep, &d, NULL))
		return 0;
	return (uint16_t)((d[4] | d[5] << 8) & 0x7ff);
}

void sim_device_violation(struct sim_device *dev, const char *fmt, ...)
{
	char line[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	sim_violation_add(dev->sim, "%s: %s", dev->model->name, line);
}

/* ------------------------------------------------------------------------ */
/* Faults                                                                   */

static void sim_fault_add(struct sim_device *dev, const struct sim_fault *f)
{
	for (unsigned i = 0; i < SIM_MAX_FAULTS; i++)
		if (!dev->faults[i].active) {
			dev->faults[i] = *f;
			dev->faults[i].active = 1;
			return;
		}
	sim_log(dev->sim, BU_LOG_ERR, "too many faults armed on %s", dev->model->name);
}

void sim_fault_ep(struct sim_device *dev, uint8_t ep, enum sim_fault_kind kind,
		  unsigned count, uint32_t arg)
{
	struct sim_fault f = { .kind = (uint8_t)kind, .ep = ep, .count = count, .arg = arg };

	sim_fault_add(dev, &f);
}

void sim_fault_request(struct sim_device *dev, uint8_t bm, uint8_t breq, int wvalue,
		       enum sim_fault_kind kind, unsigned count)
{
	struct sim_fault f = { .kind = (uint8_t)kind, .is_req = true, .bm = bm, .breq = breq,
			       .wvalue = wvalue, .count = count };

	sim_fault_add(dev, &f);
}

void sim_fault_clear(struct sim_device *dev)
{
	memset(dev->faults, 0, sizeof(dev->faults));
}

void sim_set_desc_hook(struct sim_device *dev, sim_desc_hook_fn fn, void *ctx)
{
	dev->desc_hook = fn;
	dev->desc_hook_ctx = ctx;
}

void sim_set_answer_hook(struct sim_device *dev, sim_answer_hook_fn fn, void *ctx)
{
	dev->answer_hook = fn;
	dev->answer_hook_ctx = ctx;
}

/* Pass an answer through the answer hook (if any); clip what it returns. */
static int sim_answer(struct sim_device *dev, const struct usb_setup_packet *s, uint8_t ep,
		      uint8_t *buf, int r, uint16_t cap)
{
	if (!dev->answer_hook)
		return r;
	r = dev->answer_hook(dev->answer_hook_ctx, dev, s, ep, buf, r, cap);
	return r > (int)cap ? cap : r;
}

static int sim_fault_use(struct sim_fault *f, uint32_t *arg)
{
	int kind = f->kind;

	if (arg)
		*arg = f->arg;
	if (f->count && --f->count == 0)
		f->active = 0;
	return kind;
}

int sim_dev_fault_take(struct sim_device *dev, uint8_t ep, int kind, uint32_t *arg)
{
	for (unsigned i = 0; i < SIM_MAX_FAULTS; i++) {
		struct sim_fault *f = &dev->faults[i];
		if (!f->active || f->is_req || f->ep != ep)
			continue;
		if (kind >= 0 ? f->kind != kind : f->kind == SIM_FAULT_DISCONNECT)
			continue;
		return sim_fault_use(f, arg);
	}
	return 0;
}

int sim_dev_req_fault(struct sim_device *dev, const struct usb_setup_packet *s)
{
	for (unsigned i = 0; i < SIM_MAX_FAULTS; i++) {
		struct sim_fault *f = &dev->faults[i];
		if (!f->active || !f->is_req || f->bm != s->bmRequestType ||
		    f->breq != s->bRequest ||
		    (f->wvalue >= 0 && (uint16_t)f->wvalue != s->wValue))
			continue;
		return sim_fault_use(f, NULL);
	}
	return 0;
}

/* ------------------------------------------------------------------------ */
/* Descriptor tables                                                        */

/* Walk the active configuration: find endpoint `ep` in the selected alts. */
bool sim_dev_has_ep(const struct sim_device *dev, uint8_t ep, const uint8_t **epd,
		    const uint8_t **comp)
{
	const struct sim_blob *cfg;
	int intf = -1;
	bool live = false;

	if (dev->config_idx < 0)
		return false;
	cfg = &dev->desc->configs[dev->config_idx];
	for (size_t off = 0; off + 2 <= cfg->len;) {
		const uint8_t *d = cfg->data + off;
		if (d[0] < 2 || off + d[0] > cfg->len)
			break;
		if (d[1] == USB_DT_INTERFACE && d[0] >= 9) {
			intf = d[2];
			live = sim_device_alt(dev, (uint8_t)intf) == d[3]; /* above 31: alt 0 */
		} else if (d[1] == USB_DT_ENDPOINT && d[0] >= 7 && live && d[2] == ep) {
			if (epd)
				*epd = d;
			if (comp) {
				const uint8_t *n = d + d[0];
				*comp = (off + d[0] + 2 <= cfg->len && n[1] == USB_DT_SS_EP_COMP) ? n : NULL;
			}
			return true;
		}
		off += d[0];
	}
	return false;
}

static bool sim_alt_exists(const struct sim_device *dev, uint8_t intf, uint8_t alt)
{
	const struct sim_blob *cfg = &dev->desc->configs[dev->config_idx];

	for (size_t off = 0; off + 2 <= cfg->len;) {
		const uint8_t *d = cfg->data + off;
		if (d[0] < 2 || off + d[0] > cfg->len)
			break;
		if (d[1] == USB_DT_INTERFACE && d[0] >= 9 && d[2] == intf && d[3] == alt)
			return true;
		off += d[0];
	}
	return false;
}

/* Reset halt and toggle of every endpoint that belongs to interface intf. */
static void sim_reset_intf_eps(struct sim_device *dev, int intf)
{
	const struct sim_blob *cfg = &dev->desc->configs[dev->config_idx];
	int cur = -1;

	for (size_t off = 0; off + 2 <= cfg->len;) {
		const uint8_t *d = cfg->data + off;
		if (d[0] < 2 || off + d[0] > cfg->len)
			break;
		if (d[1] == USB_DT_INTERFACE && d[0] >= 9)
			cur = d[2];
		else if (d[1] == USB_DT_ENDPOINT && d[0] >= 7 && (intf < 0 || cur == intf)) {
			uint16_t bit = (uint16_t)(1u << (d[2] & 15));
			if (d[2] & 0x80) {
				dev->halt_in &= ~bit;
				dev->toggle_in &= ~bit;
			} else {
				dev->halt_out &= ~bit;
				dev->toggle_out &= ~bit;
			}
		}
		off += d[0];
	}
}

static uint16_t sim_blob_copy(uint8_t *out, const struct sim_blob *b, bool patch_total)
{
	uint16_t n = b->len > SIM_CTRL_BUF ? SIM_CTRL_BUF : b->len;

	memcpy(out, b->data, n);
	if (patch_total && n >= 4) {
		out[2] = (uint8_t)b->len;
		out[3] = (uint8_t)(b->len >> 8);
	}
	return n;
}

static uint16_t sim_string_desc(uint8_t *out, const char *s)
{
	unsigned n = 2;
	const unsigned char *p = (const unsigned char *)s;

	while (*p && n + 2 <= 254) {
		uint32_t cp = *p++;
		if (cp >= 0xc0 && (*p & 0xc0) == 0x80) {
			if (cp < 0xe0) {
				cp = ((cp & 0x1f) << 6) | (*p++ & 0x3f);
			} else if (cp < 0xf0 && (p[1] & 0xc0) == 0x80) {
				cp = ((cp & 0x0f) << 12) | ((p[0] & 0x3fu) << 6) | (p[1] & 0x3fu);
				p += 2;
			}
		}
		if (cp > 0xffff)
			cp = 0xfffd;
		out[n++] = (uint8_t)cp;
		out[n++] = (uint8_t)(cp >> 8);
	}
	out[0] = (uint8_t)n;
	out[1] = USB_DT_STRING;
	return (uint16_t)n;
}

/* GET_DESCRIPTOR(device recipient); returns SIM_ACK or SIM_STALL. */
static int sim_get_descriptor(struct sim_device *dev, uint8_t type, uint8_t idx,
			      uint8_t *out, uint16_t *len)
{
	const struct sim_device_model *m = dev->model;
	const struct sim_desc_set *ds = dev->desc;

	switch (type) {
	case USB_DT_DEVICE:
		*len = sim_blob_copy(out, &ds->device, false);
		return SIM_ACK;
	case USB_DT_CONFIG:
		if (idx >= 4 || !ds->configs[idx].data)
			return SIM_STALL;
		*len = sim_blob_copy(out, &ds->configs[idx], true);
		return SIM_ACK;
	case USB_DT_STRING:
		if (idx == 0) {
			if (!m->langid)
				return SIM_STALL;
			out[0] = 4;
			out[1] = USB_DT_STRING;
			out[2] = (uint8_t)m->langid;
			out[3] = (uint8_t)(m->langid >> 8);
			*len = 4;
			return SIM_ACK;
		}
		if (idx == 0xee) {
			if (!m->msos1_vendor)
				return SIM_STALL;
			*len = sim_string_desc(out, "MSFT100");
			out[0] = 18;
			out[16] = m->msos1_vendor;
			out[17] = 0;
			*len = 18;
			return SIM_ACK;
		}
		if (idx >= 16 || !m->strings[idx] || !m->langid)
			return SIM_STALL;
		*len = sim_string_desc(out, m->strings[idx]);
		return SIM_ACK;
	case USB_DT_BOS:
		if (!m->bos.data)
			return SIM_STALL;
		*len = sim_blob_copy(out, &m->bos, true);
		return SIM_ACK;
	case USB_DT_DEVICE_QUALIFIER:
		if (!ds->qualifier.data)
			return SIM_STALL;
		*len = sim_blob_copy(out, &ds->qualifier, false);
		return SIM_ACK;
	case USB_DT_OTHER_SPEED_CONFIG:
		if (idx >= 4 || !ds->other_speed[idx].data)
			return SIM_STALL;
		*len = sim_blob_copy(out, &ds->other_speed[idx], true);
		return SIM_ACK;
	default:
		return SIM_STALL;
	}
}

static bool sim_ep_known(struct sim_device *dev, uint8_t ep)
{
	return (ep & 0x7f) == 0 || sim_dev_has_ep(dev, ep, NULL, NULL);
}

static uint16_t *sim_halt_word(struct sim_device *dev, uint8_t ep)
{
	return (ep & 0x80) ? &dev->halt_in : &dev->halt_out;
}

/* The configuration in use (else the first) advertises remote wakeup (bmAttributes D5). */
static bool sim_dev_wake_capable(const struct sim_device *dev)
{
	const struct sim_blob *cfg = &dev->desc->configs[dev->config_idx >= 0 ? dev->config_idx : 0];

	return cfg->data && cfg->len > 7 && (cfg->data[7] & 0x20);
}

static int sim_std_request(struct sim_device *dev, const struct usb_setup_packet *s,
			   uint8_t *data, uint16_t *len)
{
	struct sim *sim = dev->sim;
	uint8_t recip = s->bmRequestType & 0x1f;
	uint8_t lo = (uint8_t)s->wValue, hi = (uint8_t)(s->wValue >> 8);

	switch (s->bRequest) {
	case USB_REQ_GET_DESCRIPTOR:
		if (recip != USB_RECIP_DEVICE)
			return 1; /* class descriptors: the model */
		if (sim_get_descriptor(dev, hi, lo, data, len) != SIM_ACK)
			return SIM_STALL;
		if (dev->desc_hook &&
		    !dev->desc_hook(dev->desc_hook_ctx, dev, hi, lo, data, len, SIM_CTRL_BUF))
			return SIM_STALL;
		return SIM_ACK;
	case USB_REQ_SET_ADDRESS:
		sim_violation_add(sim, "software sent SET_ADDRESS on EP0; on xHCI the controller sends it (Address Device)");
		return SIM_STALL;
	case USB_REQ_GET_STATUS:
		*len = 2;
		data[0] = data[1] = 0;
		if (recip == USB_RECIP_DEVICE) {
			const struct sim_blob *cfg = &dev->desc->configs[dev->config_idx >= 0 ? dev->config_idx : 0];
			bool self = cfg->data && cfg->len > 7 && (cfg->data[7] & 0x40);
			data[0] = (uint8_t)((self ? 1 : 0) | (dev->remote_wake ? 2 : 0));
			return SIM_ACK;
		}
		if (recip == USB_RECIP_INTERFACE) {
			/* USB 3.2 §9.4.5, Figure 9-5: Function Remote Wake
			 * Capable (bit 0) and Function Remote Wakeup enabled
			 * (bit 1), kept for the function's first interface;
			 * zero below SuperSpeed. No such interface: Request
			 * Error. */
			if (!dev->config || s->wIndex >= 32 || !sim_alt_exists(dev, (uint8_t)s->wIndex, 0))
				return SIM_STALL;
			if (dev->speed == SIM_SPEED_SUPER)
				data[0] = (uint8_t)((sim_dev_wake_capable(dev) ? 1 : 0) |
						    (dev->func_wake && s->wIndex == dev->func_iface ? 2 : 0));
			return SIM_ACK;
		}
		if (recip == USB_RECIP_ENDPOINT) {
			uint8_t ep = (uint8_t)s->wIndex;
			if (!sim_ep_known(dev, ep))
				return SIM_STALL;
			data[0] = (*sim_halt_word(dev, ep) >> (ep & 15)) & 1;
			return SIM_ACK;
		}
		return SIM_STALL;
	case USB_REQ_CLEAR_FEATURE:
	case USB_REQ_SET_FEATURE: {
		bool set = s->bRequest == USB_REQ_SET_FEATURE;
		if (recip == USB_RECIP_ENDPOINT && s->wValue == USB_FEATURE_ENDPOINT_HALT) {
			uint8_t ep = (uint8_t)s->wIndex;
			uint16_t bit = (uint16_t)(1u << (ep & 15));
			if (!sim_ep_known(dev, ep))
				return SIM_STALL;
			if ((ep & 0x7f) == 0)
				return SIM_ACK;
			if (set) {
				*sim_halt_word(dev, ep) |= bit;
			} else {
				*sim_halt_word(dev, ep) &= ~bit;
				if (ep & 0x80)
					dev->toggle_in &= ~bit;
				else
					dev->toggle_out &= ~bit;
			}
			return SIM_ACK;
		}
		if (recip == USB_RECIP_DEVICE && s->wValue == USB_FEATURE_DEVICE_REMOTE_WAKEUP &&
		    dev->speed != SIM_SPEED_SUPER) {
			/* USB 2.0 §9.4.9: a feature the device lacks is a
			 * Request Error (bmAttributes D5, §9.6.3). */
			if (set && !sim_dev_wake_capable(dev))
				return SIM_STALL;
			dev->remote_wake = set;
			return SIM_ACK;
		}
		if (recip == USB_RECIP_DEVICE && dev->speed == SIM_SPEED_SUPER &&
		    (s->wValue == 48 || s->wValue == 49 || s->wValue == 50))
			return dev->config ? SIM_ACK : SIM_STALL;
		if (recip == USB_RECIP_INTERFACE && dev->speed == SIM_SPEED_SUPER && s->wValue == 0) {
			/* FUNCTION_SUSPEND (USB 3.2 §9.4.9): options in wIndex[15:8];
			 * Function Remote Wake (bit 1) only on a capable function. */
			if (!set)
				return SIM_STALL; /* ClearFeature(FUNCTION_SUSPEND) does not exist */
			if (!dev->config || !sim_alt_exists(dev, (uint8_t)s->wIndex, 0))
				return SIM_STALL; /* no such interface */
			if ((s->wIndex & 0x200) && !sim_dev_wake_capable(dev))
				return SIM_STALL;
			dev->func_wake = (s->wIndex & 0x200) != 0;
			dev->func_suspended = (s->wIndex & 0x100) != 0;
			dev->func_iface = (uint8_t)s->wIndex;
			if (!dev->func_wake)
				dev->fwake_pending = false; /* disarmed: no wake left to report */
			return SIM_ACK;
		}
		return SIM_STALL;
	}
	case USB_REQ_GET_CONFIGURATION:
		*len = 1;
		data[0] = dev->config;
		return SIM_ACK;
	case USB_REQ_SET_CONFIGURATION:
		if (lo == 0) {
			dev->config = 0;
			dev->config_idx = -1;
		} else {
			int idx = -1;
			/* Two with the same value: the first one. */
			for (int i = 0; i < 4 && idx < 0; i++)
				if (dev->desc->configs[i].data && dev->desc->configs[i].len > 5 &&
				    dev->desc->configs[i].data[5] == lo)
					idx = i;
			if (idx < 0)
				return SIM_STALL;
			dev->config = lo;
			dev->config_idx = idx;
		}
		memset(dev->alt, 0, sizeof(dev->alt));
		dev->halt_in = dev->halt_out = 0;
		dev->toggle_in = dev->toggle_out = 0;
		if (dev->hub)
			dev->hub->multi_tt = false;
		if (dev->model->set_config)
			dev->model->set_config(dev, dev->config);
		return SIM_ACK;
	case USB_REQ_GET_INTERFACE:
		if (!dev->config || s->wIndex >= 32 || !sim_alt_exists(dev, (uint8_t)s->wIndex, 0))
			return SIM_STALL;
		*len = 1;
		data[0] = dev->alt[s->wIndex];
		return SIM_ACK;
	case USB_REQ_SET_INTERFACE:
		if (!dev->config || s->wIndex >= 32 ||
		    !sim_alt_exists(dev, (uint8_t)s->wIndex, (uint8_t)s->wValue))
			return SIM_STALL;
		dev->alt[s->wIndex] = (uint8_t)s->wValue;
		sim_reset_intf_eps(dev, s->wIndex);
		if (dev->hub && dev->model->hub == SIM_HUB_USB2 && dev->speed == SIM_SPEED_HIGH)
			dev->hub->multi_tt = s->wValue == 1;
		if (dev->model->set_interface)
			dev->model->set_interface(dev, (uint8_t)s->wIndex, (uint8_t)s->wValue);
		return SIM_ACK;
	case USB_REQ_SYNCH_FRAME:
		/* USB 2.0 §9.4.11: only endpoints with a frame pattern answer;
		 * the model knows which (others STALL). */
		return recip == USB_RECIP_ENDPOINT && dev->config ? 1 : SIM_STALL;
	case USB_REQ_SET_SEL:
	case USB_REQ_SET_ISOCH_DELAY:
		return dev->speed == SIM_SPEED_SUPER ? SIM_ACK : SIM_STALL;
	default:
		return SIM_STALL;
	}
}

/* Dispatch one request; IN data lands in dev->ctrl_buf. */
static int sim_dev_request(struct sim_device *dev, const struct usb_setup_packet *s,
			   uint8_t *data, uint16_t *len)
{
	const struct sim_device_model *m = dev->model;
	uint8_t type = s->bmRequestType & 0x60;
	int r = 1;

	if (type == USB_TYPE_STANDARD)
		r = sim_std_request(dev, s, data, len);
	if (r != 1)
		return r;
	if (type == USB_TYPE_VENDOR && m->msos1_vendor && s->bRequest == m->msos1_vendor &&
	    (s->bmRequestType == 0xc0 || s->bmRequestType == 0xc1)) {
		if (s->wIndex == 4 && m->msos1_compat.data) {
			*len = sim_blob_copy(data, &m->msos1_compat, false);
			return SIM_ACK;
		}
		if (s->wIndex == 5 && m->msos1_props.data) {
			*len = sim_blob_copy(data, &m->msos1_props, false);
			return SIM_ACK;
		}
		return SIM_STALL;
	}
	if (type == USB_TYPE_VENDOR && m->msos2_vendor && s->bRequest == m->msos2_vendor &&
	    s->bmRequestType == 0xc0 && s->wIndex == 7) {
		*len = sim_blob_copy(data, &m->msos2_set, false);
		return SIM_ACK;
	}
	if (m->hub && type == USB_TYPE_CLASS)
		return sim_hub_control(dev, s, data, len);
	if (!m->control)
		return SIM_STALL;
	r = m->control(dev, s, data, len);
	if (r == SIM_ACK && s->bRequest == USB_REQ_GET_DESCRIPTOR && (s->bmRequestType & 0x80) &&
	    dev->desc_hook &&
	    !dev->desc_hook(dev->desc_hook_ctx, dev, (uint8_t)(s->wValue >> 8), (uint8_t)s->wValue,
			    data, len, SIM_CTRL_BUF))
		return SIM_STALL;
	return r;
}

/* ------------------------------------------------------------------------ */
/* Control pipe, stage by stage                                             */

int sim_dev_setup(struct sim_device *dev, const uint8_t raw[8])
{
	struct sim *sim = dev->sim;
	struct usb_setup_packet *s = &dev->setup;
	int f;

	s->bmRequestType = raw[0];
	s->bRequest = raw[1];
	s->wValue = (uint16_t)(raw[2] | raw[3] << 8);
	s->wIndex = (uint16_t)(raw[4] | raw[5] << 8);
	s->wLength = (uint16_t)(raw[6] | raw[7] << 8);
	dev->setup_valid = true;
	dev->ctrl_len = 0;
	dev->ctrl_pos = 0;
	dev->ctrl_result = SIM_ACK;

	if (!sim->cfg.no_timing_checks) {
		if (dev->reset_end_ns && sim->now < dev->reset_end_ns + 10 * SIM_MS &&
		    dev->speed != SIM_SPEED_SUPER)
			sim_violation_add(sim, "%s: SETUP %llu us after the end of reset (USB 2.0 §7.1.7.5 TRSTRCY: 10 ms)",
					  dev->model->name,
					  (unsigned long long)((sim->now - dev->reset_end_ns) / SIM_US));
		if (dev->set_address_ns && sim->now < dev->set_address_ns + 2 * SIM_MS)
			sim_violation_add(sim, "%s: SETUP %llu us after SET_ADDRESS (USB 2.0 §9.2.6.3: 2 ms recovery)",
					  dev->model->name,
					  (unsigned long long)((sim->now - dev->set_address_ns) / SIM_US));
	}
	if (!dev->addressed && !(s->bRequest == USB_REQ_GET_DESCRIPTOR &&
				 (s->bmRequestType & 0x60) == USB_TYPE_STANDARD))
		sim_violation_add(sim, "%s: request %02x/%02x in the Default state (only GET_DESCRIPTOR is specified there)",
				  dev->model->name, s->bmRequestType, s->bRequest);

	f = sim_dev_req_fault(dev, s);
	if (f == SIM_FAULT_XACT)
		return SIM_DEV_XACT;
	if (f == SIM_FAULT_STALL) {
		dev->ctrl_result = SIM_STALL;
		return SIM_ACK;
	}
	if (f == SIM_FAULT_NAK) {
		dev->ctrl_result = SIM_NAK;
		return SIM_ACK;
	}
	if (f == SIM_FAULT_BABBLE) {
		dev->ctrl_result = SIM_DEV_BABBLE;
		return SIM_ACK;
	}
	if (s->bmRequestType & 0x80) {
		uint16_t len = s->wLength > SIM_CTRL_BUF ? SIM_CTRL_BUF : s->wLength;
		memset(dev->ctrl_buf, 0, sizeof(dev->ctrl_buf));
		dev->ctrl_result = sim_dev_request(dev, s, dev->ctrl_buf, &len);
		if (dev->answer_hook) {
			int r = sim_answer(dev, s, 0, dev->ctrl_buf,
					   dev->ctrl_result == SIM_ACK ? len : dev->ctrl_result,
					   SIM_CTRL_BUF);

			dev->ctrl_result = r < 0 ? r : SIM_ACK;
			len = r < 0 ? 0 : (uint16_t)r;
		}
		if (len > s->wLength)
			len = s->wLength;
		dev->ctrl_len = len;
	}
	return SIM_ACK;
}

int sim_dev_ctrl_in(struct sim_device *dev, uint8_t *buf, uint16_t max)
{
	uint16_t n;

	if (!dev->setup_valid)
		return SIM_STALL;
	if (dev->ctrl_result != SIM_ACK)
		return dev->ctrl_result;
	n = (uint16_t)(dev->ctrl_len - dev->ctrl_pos);
	if (n > max)
		n = max;
	memcpy(buf, dev->ctrl_buf + dev->ctrl_pos, n);
	dev->ctrl_pos += n;
	return n;
}

int sim_dev_ctrl_out(struct sim_device *dev, const uint8_t *buf, uint16_t len)
{
	if (!dev->setup_valid)
		return SIM_STALL;
	if (dev->ctrl_result != SIM_ACK)
		return dev->ctrl_result;
	if (dev->ctrl_len + len > dev->setup.wLength || dev->ctrl_len + len > SIM_CTRL_BUF)
		return SIM_STALL;
	memcpy(dev->ctrl_buf + dev->ctrl_len, buf, len);
	dev->ctrl_len += len;
	return SIM_ACK;
}

int sim_dev_ctrl_status(struct sim_device *dev)
{
	if (!dev->setup_valid)
		return SIM_STALL;
	if (dev->ctrl_result != SIM_ACK)
		return dev->ctrl_result == SIM_DEV_BABBLE ? SIM_STALL : dev->ctrl_result;
	if (!(dev->setup.bmRequestType & 0x80)) {
		uint16_t len = dev->ctrl_len;
		if (len != dev->setup.wLength)
			return SIM_STALL;
		dev->ctrl_result = sim_dev_request(dev, &dev->setup, dev->ctrl_buf, &len);
		if (dev->ctrl_result != SIM_ACK)
			return dev->ctrl_result;
	}
	dev->setup_valid = false;
	return SIM_ACK;
}

/* ------------------------------------------------------------------------ */
/* Data endpoints                                                           */

/* What sim_dev_ep_gate lets through besides a handshake of its own. */
enum { SIM_GATE_SHORT = 1, SIM_GATE_ACK_LOST = 2 };

static int sim_dev_ep_gate(struct sim_device *dev, uint8_t ep, uint32_t *arg)
{
	int f;

	if (!dev->config || !sim_dev_has_ep(dev, ep, NULL, NULL)) {
		sim_violation_add(dev->sim, "%s: transfer to endpoint %#04x, which the active configuration / alternate setting does not have",
				  dev->model->name, ep);
		return SIM_DEV_XACT;
	}
	if ((*sim_halt_word(dev, ep) >> (ep & 15)) & 1)
		return SIM_STALL;
	f = sim_dev_fault_take(dev, ep, -1, arg);
	switch (f) {
	case SIM_FAULT_STALL:
		*sim_halt_word(dev, ep) |= (uint16_t)(1u << (ep & 15));
		return SIM_STALL;
	case SIM_FAULT_NAK:
		return SIM_NAK;
	case SIM_FAULT_BABBLE:
		return SIM_DEV_BABBLE;
	case SIM_FAULT_XACT:
		return SIM_DEV_XACT;
	case SIM_FAULT_SHORT:
		return SIM_GATE_SHORT;
	case SIM_FAULT_ACK_LOST:
		return SIM_GATE_ACK_LOST;
	default:
		return 0;
	}
}

int sim_dev_in(struct sim_device *dev, uint8_t ep, uint8_t *buf, uint16_t max, bool isoch,
	       bool *toggle)
{
	uint32_t arg = 0;
	int r = sim_dev_ep_gate(dev, ep, &arg);
	uint16_t bit = (uint16_t)(1u << (ep & 15));

	if (r < 0)
		return r;
	if (r == SIM_GATE_SHORT && arg < max)
		max = (uint16_t)arg;
	if (dev->hub && (ep & 15) == 1)
		r = sim_hub_in(dev, ep, buf, max);
	else
		r = dev->model->in ? dev->model->in(dev, ep, buf, max) : SIM_STALL;
	r = sim_answer(dev, NULL, ep, buf, r, max);
	if (r == SIM_STALL)
		dev->halt_in |= bit;
	if (r < 0 || isoch)
		return r;
	if (((dev->toggle_in & bit) != 0) != *toggle) {
		/* Host discards a packet with the wrong toggle; device moves on. */
		sim_log(dev->sim, BU_LOG_INFO, "%s ep %#04x: data toggle mismatch, IN packet lost",
			dev->model->name, ep);
		dev->toggle_in ^= bit;
		return SIM_NAK;
	}
	dev->toggle_in ^= bit;
	*toggle = !*toggle;
	return r;
}

/* One OUT packet the gate let through: toggle check, then the model. */
static int sim_dev_out_packet(struct sim_device *dev, uint8_t ep, const uint8_t *buf,
			      uint16_t len, bool isoch, bool *toggle)
{
	uint16_t bit = (uint16_t)(1u << (ep & 15));
	int r;

	if (!isoch && ((dev->toggle_out & bit) != 0) != *toggle) {
		/* Device sees a repeated toggle: ACKs and drops the data. */
		sim_log(dev->sim, BU_LOG_INFO, "%s ep %#04x: data toggle mismatch, OUT packet dropped",
			dev->model->name, ep);
		*toggle = !*toggle;
		return SIM_ACK;
	}
	r = dev->model->out ? dev->model->out(dev, ep, buf, len) : SIM_STALL;
	if (r == SIM_STALL)
		dev->halt_out |= bit;
	if (r != SIM_ACK || isoch)
		return r;
	dev->toggle_out ^= bit;
	*toggle = !*toggle;
	return SIM_ACK;
}

int sim_dev_out(struct sim_device *dev, uint8_t ep, const uint8_t *buf, uint16_t len,
		bool isoch, bool *toggle)
{
	uint32_t arg = 0;
	int gate = sim_dev_ep_gate(dev, ep, &arg);
	bool host_toggle = *toggle;
	int r;

	if (gate < 0)
		return gate == SIM_DEV_BABBLE ? SIM_DEV_XACT : gate; /* no babble on OUT */
	r = sim_dev_out_packet(dev, ep, buf, len, isoch, toggle);
	if (gate == SIM_GATE_ACK_LOST && r == SIM_ACK && !isoch) {
		/* The device took it; the host never saw the ACK, so its
		 * toggle stays and it counts a transaction error. */
		sim_log(dev->sim, BU_LOG_INFO, "injected: %s ep %#04x: ACK lost", dev->model->name, ep);
		*toggle = host_toggle;
		return SIM_DEV_XACT;
	}
	return r;
}
