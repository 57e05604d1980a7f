/*
 * A hostile device: everything it answers comes from a byte description
 * (format in devices.h), so a test or a fuzzer can make it lie in any way a
 * USB device can - descriptors with wrong lengths and types, configuration
 * totals that do not match what is sent, strings that are not UTF-16, a hub
 * that claims 255 ports, requests that STALL, NAK forever or babble, an
 * unplug in the middle of enumeration. The framework (sim_dev.c, sim_hub.c)
 * still does the protocol; the description only decides the bytes and the
 * faults, through a descriptor hook and the fault-injection calls.
 *
 * The second half is a generator: from a 64-bit seed it writes such a
 * description, hostile in the ways listed in enum sim_hostile_feature (each
 * can be switched off), or well-formed (about a third of them).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "devices.h"

/* ------------------------------------------------------------------------ */
/* The model                                                                */

#define H_MAX_CONFIGS 4  /* the framework's configs[] */
#define H_MAX_SHORT 8
#define H_MAX_FAULTS 8   /* armed faults per device in the framework */
#define H_MAX_CHILDREN 4
#define H_MAX_DEPTH 2    /* nesting of CHILD records */

enum h_tag {
	TAG_DEVICE = 1,
	TAG_CONFIG,
	TAG_STRING,
	TAG_BOS,
	TAG_MSOS2,
	TAG_MSOS1,
	TAG_HUB,
	TAG_REQ_FAULT,
	TAG_SHORT,
	TAG_EP_FAULT,
	TAG_CHILD,
};

struct h_fault {
	bool req;
	uint8_t bm, breq, ep, kind, count;
	int wvalue;
	uint32_t arg;
};

struct sim_hostile {
	struct sim_device_model model;
	uint8_t *bytes;           /* the description; blobs point into it */
	size_t len;
	uint8_t hdr[4];
	struct sim_blob device, cfg[H_MAX_CONFIGS], bos, hubdesc;
	struct sim_blob str[256];
	uint8_t hub_claim;        /* bNbrPorts the hub descriptor says */
	struct {
		uint8_t type, index;
		uint16_t len;
	} shorts[H_MAX_SHORT];
	unsigned nshort;
	struct h_fault faults[H_MAX_FAULTS];
	unsigned nfaults;
	struct {
		uint8_t port;
		struct sim_hostile *h;
	} child[H_MAX_CHILDREN];
	unsigned nchild;
	struct sim_device *dev;   /* attached and armed, NULL once unplugged */
};

struct h_priv {
	struct sim_hostile *h;
};

static const uint8_t h_default_device[] = {
	SIM_D_DEVICE(0x0200, 0, 0, 0, 64, 0x1209, 0xbad0, 0x0100, 0, 0, 0, 1)
};
static const char h_placeholder[] = "?";

static struct sim_hostile *h_of(struct sim_device *dev)
{
	struct h_priv *p = sim_device_priv(dev);

	return p->h;
}

static void h_detach(struct sim_device *dev)
{
	struct sim_hostile *h = h_of(dev);

	if (h)
		h->dev = NULL;
}

static int h_in(struct sim_device *dev, uint8_t ep, uint8_t *buf, uint16_t max)
{
	struct sim_hostile *h = h_of(dev);

	switch (h ? h->hdr[1] & 3 : 0) {
	case 1:
		if (max)
			buf[0] = ep;
		return max ? 1 : 0;
	case 2:
		for (unsigned i = 0; i < max; i++)
			buf[i] = (uint8_t)(ep + i);
		return max;
	case 3:
		return SIM_STALL;
	default:
		return SIM_NAK;
	}
}

static int h_out(struct sim_device *dev, uint8_t ep, const uint8_t *buf, uint16_t len)
{
	struct sim_hostile *h = h_of(dev);

	(void)ep;
	(void)buf;
	(void)len;
	return h && (h->hdr[1] & 3) == 3 ? SIM_STALL : SIM_ACK;
}

/* Put the raw wTotalLength back where the framework patched in the real one. */
static void h_restore_total(const struct sim_blob *raw, uint8_t *buf, uint16_t len)
{
	if (raw->data && raw->len >= 4 && len >= 4) {
		buf[2] = raw->data[2];
		buf[3] = raw->data[3];
	}
}

static uint16_t h_copy(uint8_t *buf, uint16_t cap, const struct sim_blob *b)
{
	uint16_t n = b->len < cap ? b->len : cap;

	memcpy(buf, b->data, n);
	return n;
}

/* The hub descriptor for the claimed port count (USB 2.0 §11.23.2.1, USB 3.2 §10.15.2.1). */
static uint16_t h_hub_desc(const struct sim_hostile *h, uint8_t type, uint8_t *d)
{
	unsigned nb = (h->hub_claim + 1u + 7u) / 8u;
	uint16_t chars = h->model.hub_chars;

	if (type == USB_DT_SS_HUB) {
		uint8_t v[12] = { 12, USB_DT_SS_HUB, h->hub_claim, (uint8_t)chars,
				  (uint8_t)(chars >> 8), 50, 0, 4, 0, 0, 0, 0 };
		memcpy(d, v, sizeof(v));
		return sizeof(v);
	}
	d[0] = (uint8_t)(7 + 2 * nb);
	d[1] = USB_DT_HUB;
	d[2] = h->hub_claim;
	d[3] = (uint8_t)chars;
	d[4] = (uint8_t)(chars >> 8);
	d[5] = 50;
	d[6] = 100;
	memset(d + 7, 0, nb);
	memset(d + 7 + nb, 0xff, nb);
	return d[0];
}

static bool h_hook(void *ctx, struct sim_device *dev, uint8_t type, uint8_t index, uint8_t *buf,
		   uint16_t *len, uint16_t cap)
{
	struct sim_hostile *h = ctx;

	(void)dev;
	switch (type) {
	case USB_DT_CONFIG:
		if (index < H_MAX_CONFIGS)
			h_restore_total(&h->cfg[index], buf, *len);
		break;
	case USB_DT_BOS:
		h_restore_total(&h->bos, buf, *len);
		break;
	case USB_DT_STRING:
		if (h->str[index].data)
			*len = h_copy(buf, cap, &h->str[index]);
		break;
	case USB_DT_HUB:
	case USB_DT_SS_HUB:
		if (!h->model.hub)
			break;
		*len = h->hubdesc.data ? h_copy(buf, cap, &h->hubdesc) : h_hub_desc(h, type, buf);
		break;
	default:
		break;
	}
	for (unsigned i = 0; i < h->nshort; i++)
		if (h->shorts[i].type == type && h->shorts[i].index == index && h->shorts[i].len < *len)
			*len = h->shorts[i].len;
	return true;
}

static uint16_t h_le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static struct sim_hostile *h_parse(const uint8_t *data, size_t len, unsigned depth);

/* One record; `p` (n bytes) points into h->bytes. */
static void h_record(struct sim_hostile *h, uint8_t tag, const uint8_t *p, uint16_t n,
		     unsigned depth)
{
	struct sim_device_model *m = &h->model;
	unsigned ncfg = 0;

	while (ncfg < H_MAX_CONFIGS && h->cfg[ncfg].data)
		ncfg++;
	switch (tag) {
	case TAG_DEVICE:
		h->device = (struct sim_blob){ p, n };
		break;
	case TAG_CONFIG:
		if (ncfg < H_MAX_CONFIGS && n)
			h->cfg[ncfg] = (struct sim_blob){ p, n };
		break;
	case TAG_STRING:
		if (n >= 1)
			h->str[p[0]] = (struct sim_blob){ p + 1, (uint16_t)(n - 1) };
		break;
	case TAG_BOS:
		h->bos = (struct sim_blob){ p, n };
		break;
	case TAG_MSOS2:
		if (n >= 1 && p[0]) {
			m->msos2_vendor = p[0];
			m->msos2_set = (struct sim_blob){ p + 1, (uint16_t)(n - 1) };
		}
		break;
	case TAG_MSOS1:
		if (n >= 2 && p[0]) {
			m->msos1_vendor = p[0];
			if (p[1] == 4)
				m->msos1_compat = (struct sim_blob){ p + 2, (uint16_t)(n - 2) };
			else if (p[1] == 5)
				m->msos1_props = (struct sim_blob){ p + 2, (uint16_t)(n - 2) };
		}
		break;
	case TAG_HUB:
		if (n >= 4) {
			m->hub = (p[0] & 1) ? SIM_HUB_USB3 : SIM_HUB_USB2;
			h->hub_claim = p[1];
			m->hub_ports = p[1] > 15 ? 15 : p[1];
			m->hub_chars = h_le16(p + 2);
			if (n > 4)
				h->hubdesc = (struct sim_blob){ p + 4, (uint16_t)(n - 4) };
		}
		break;
	case TAG_REQ_FAULT:
		if (n >= 7 && h->nfaults < H_MAX_FAULTS) {
			static const uint8_t kinds[] = { SIM_FAULT_STALL, SIM_FAULT_NAK,
							 SIM_FAULT_BABBLE, SIM_FAULT_XACT };
			struct h_fault *f = &h->faults[h->nfaults++];
			f->req = true;
			f->bm = p[0];
			f->breq = p[1];
			f->wvalue = (p[4] & 1) ? -1 : h_le16(p + 2);
			f->kind = kinds[p[5] % 4];
			f->count = p[6];
		}
		break;
	case TAG_SHORT:
		if (n >= 4 && h->nshort < H_MAX_SHORT) {
			h->shorts[h->nshort].type = p[0];
			h->shorts[h->nshort].index = p[1];
			h->shorts[h->nshort].len = h_le16(p + 2);
			h->nshort++;
		}
		break;
	case TAG_EP_FAULT:
		if (n >= 5 && h->nfaults < H_MAX_FAULTS) {
			struct h_fault *f = &h->faults[h->nfaults++];
			f->ep = p[0];
			f->kind = (uint8_t)(SIM_FAULT_STALL + p[1] % 6);
			f->count = p[2];
			f->arg = h_le16(p + 3);
		}
		break;
	case TAG_CHILD:
		if (n >= 1 && depth < H_MAX_DEPTH && h->nchild < H_MAX_CHILDREN) {
			struct sim_hostile *c = h_parse(p + 1, n - 1u, depth + 1);
			h->child[h->nchild].port = p[0];
			h->child[h->nchild].h = c;
			h->nchild++;
		}
		break;
	default:
		break;
	}
}

static struct sim_hostile *h_parse(const uint8_t *data, size_t len, unsigned depth)
{
	struct sim_hostile *h = calloc(1, sizeof(*h));
	struct sim_device_model *m;
	struct sim_desc_set set = { 0 };
	size_t off;

	if (!h)
		abort();
	if (len > SIM_HOSTILE_MAX_LEN)
		len = SIM_HOSTILE_MAX_LEN;
	h->bytes = malloc(len ? len : 1);
	if (!h->bytes)
		abort();
	memcpy(h->bytes, data, len);
	h->len = len;
	memcpy(h->hdr, h->bytes, len < 4 ? len : 4);
	m = &h->model;
	m->name = depth ? "hostile-child" : "hostile";
	for (off = 4; off + 3 <= len;) {
		uint8_t tag = h->bytes[off];
		size_t n = h_le16(h->bytes + off + 1);

		off += 3;
		if (n > len - off)
			n = len - off; /* a cut-off last record keeps what is there */
		h_record(h, tag, h->bytes + off, (uint16_t)n, depth);
		off += n;
	}
	set.device = h->device.data && h->device.len ? h->device
						     : (struct sim_blob)SIM_BLOB(h_default_device);
	for (unsigned i = 0; i < H_MAX_CONFIGS; i++)
		set.configs[i] = h->cfg[i];
	m->low = m->full = m->high = m->super = set;
	for (unsigned i = 1; i < 16; i++)
		if (h->str[i].data) {
			m->strings[i] = h_placeholder;
			m->langid = 0x0409;
		}
	if (h->str[0].data)
		m->langid = 0x0409;
	if (h->str[0xee].data && !m->msos1_vendor)
		m->msos1_vendor = h->str[0xee].len > 16 && h->str[0xee].data[16] ? h->str[0xee].data[16]
										  : 0x21;
	if (h->bos.data)
		m->bos = h->bos;
	m->priv_size = sizeof(struct h_priv);
	m->in = h_in;
	m->out = h_out;
	m->detach = h_detach;
	return h;
}

struct sim_hostile *sim_hostile_from_bytes(const uint8_t *data, size_t len)
{
	return h_parse(data, len, 0);
}

const struct sim_device_model *sim_hostile_model(const struct sim_hostile *h)
{
	return &h->model;
}

enum sim_speed sim_hostile_speed(const struct sim_hostile *h)
{
	static const enum sim_speed speeds[] = { SIM_SPEED_LOW, SIM_SPEED_FULL, SIM_SPEED_HIGH,
						 SIM_SPEED_SUPER };

	return speeds[h->hdr[0] & 3];
}

bool sim_hostile_behind_hub(const struct sim_hostile *h)
{
	return h->hdr[0] & SIM_HOSTILE_H_HUB;
}

bool sim_hostile_well_formed(const struct sim_hostile *h)
{
	return h->hdr[0] & SIM_HOSTILE_H_GOOD;
}

uint32_t sim_hostile_detach_ms(const struct sim_hostile *h)
{
	return h_le16(h->hdr + 2);
}

struct sim_device *sim_hostile_device(const struct sim_hostile *h)
{
	return h->dev;
}

/* Can a device of this speed hang below this hub? (As sim_attach_hub checks.) */
static bool h_child_fits(const struct sim_hostile *hub, struct sim_device *hubdev,
			 const struct sim_hostile *c, unsigned port)
{
	enum sim_speed s = sim_hostile_speed(c);

	if (port < 1 || port > hub->model.hub_ports)
		return false;
	if ((hub->model.hub == SIM_HUB_USB3) != (s == SIM_SPEED_SUPER))
		return false;
	return s != SIM_SPEED_HIGH || sim_device_speed(hubdev) == SIM_SPEED_HIGH;
}

void sim_hostile_arm(struct sim_hostile *h, struct sim_device *dev)
{
	struct h_priv *p = sim_device_priv(dev);

	p->h = h;
	h->dev = dev;
	sim_set_desc_hook(dev, h_hook, h);
	for (unsigned i = 0; i < h->nfaults; i++) {
		const struct h_fault *f = &h->faults[i];

		if (f->req)
			sim_fault_request(dev, f->bm, f->breq, f->wvalue, f->kind, f->count);
		else
			sim_fault_ep(dev, f->ep, f->kind, f->count, f->arg);
	}
	for (unsigned i = 0; i < h->nchild && h->model.hub; i++) {
		struct sim_hostile *c = h->child[i].h;
		struct sim_device *cd;

		if (c->dev || !h_child_fits(h, dev, c, h->child[i].port))
			continue;
		cd = sim_attach_hub(dev, h->child[i].port, &c->model, sim_hostile_speed(c));
		if (cd)
			sim_hostile_arm(c, cd);
	}
}

void sim_hostile_free(struct sim_hostile *h)
{
	if (!h)
		return;
	for (unsigned i = 0; i < h->nchild; i++)
		sim_hostile_free(h->child[i].h);
	free(h->bytes);
	free(h);
}

/* ------------------------------------------------------------------------ */
/* The generator                                                            */

struct gen {
	uint64_t s;
	uint32_t allow;  /* features it may use */
	uint32_t used;   /* features it did use */
	bool good;       /* this description: no feature at all */
	enum sim_speed speed;
};

/* A byte buffer that drops what does not fit. */
struct bytes {
	uint8_t *p;
	size_t cap, n;
};

#define B_LOCAL(name, size) \
	uint8_t name##_store[size]; \
	struct bytes name = { name##_store, sizeof(name##_store), 0 }

static void b_put(struct bytes *b, const void *p, size_t n)
{
	if (n > b->cap - b->n)
		n = b->cap - b->n;
	if (!n)
		return;
	memcpy(b->p + b->n, p, n);
	b->n += n;
}

static void b_u8(struct bytes *b, unsigned v)
{
	uint8_t x = (uint8_t)v;

	b_put(b, &x, 1);
}

static void b_le16(struct bytes *b, unsigned v)
{
	b_u8(b, v & 0xff);
	b_u8(b, (v >> 8) & 0xff);
}

static void b_le32(struct bytes *b, uint32_t v)
{
	b_le16(b, v & 0xffff);
	b_le16(b, v >> 16);
}

/* A whole record, or nothing when it does not fit. */
static void b_rec(struct bytes *out, uint8_t tag, const uint8_t *pre, size_t npre,
		  const uint8_t *body, size_t nbody)
{
	size_t n = npre + nbody;

	if (n > 0xffff || 3 + n > out->cap - out->n)
		return;
	b_u8(out, tag);
	b_le16(out, (unsigned)n);
	b_put(out, pre, npre);
	b_put(out, body, nbody);
}

/* splitmix64 */
static uint64_t g_next(struct gen *g)
{
	uint64_t z = (g->s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static unsigned g_below(struct gen *g, unsigned n)
{
	return n ? (unsigned)(g_next(g) % n) : 0;
}

static bool g_pct(struct gen *g, unsigned pct)
{
	return g_below(g, 100) < pct;
}

/* Use feature f with probability pct (never in a well-formed description). */
static bool g_feat(struct gen *g, uint32_t f, unsigned pct)
{
	if (g->good || !(g->allow & f) || !g_pct(g, pct))
		return false;
	g->used |= f;
	return true;
}

static unsigned g_pick(struct gen *g, const unsigned *v, unsigned n)
{
	return v[g_below(g, n)];
}
#define G_PICK(g, ...) \
	g_pick(g, (const unsigned[]){ __VA_ARGS__ }, \
	       sizeof((const unsigned[]){ __VA_ARGS__ }) / sizeof(unsigned))

/* A legal max packet size and interval for a speed and transfer type. */
static void g_ep_legal(struct gen *g, unsigned type, unsigned *mps, unsigned *iv)
{
	switch (g->speed) {
	case SIM_SPEED_LOW:
		*mps = type == SIM_EP_INTR ? 1 + g_below(g, 8) : 8;
		*iv = 10 + g_below(g, 246);
		break;
	case SIM_SPEED_FULL:
		*mps = type == SIM_EP_BULK	? G_PICK(g, 8, 16, 32, 64)
		       : type == SIM_EP_ISOCH ? 1 + g_below(g, 1023)
					      : 1 + g_below(g, 64);
		*iv = type == SIM_EP_ISOCH ? 1 + g_below(g, 4) : 1 + g_below(g, 255);
		break;
	case SIM_SPEED_HIGH:
		*mps = type == SIM_EP_BULK ? 512 : 1 + g_below(g, 1024);
		if (type != SIM_EP_BULK && *mps > 128 && g_pct(g, 30))
			*mps |= (1 + g_below(g, 2)) << 11; /* high-bandwidth */
		*iv = type == SIM_EP_BULK ? g_below(g, 2) : 1 + g_below(g, 16);
		break;
	default:
		*mps = type == SIM_EP_BULK ? 1024 : 1 + g_below(g, 1024);
		*iv = type == SIM_EP_BULK ? 0 : 1 + g_below(g, 16);
		break;
	}
	if (type == SIM_EP_CONTROL)
		*mps = g->speed == SIM_SPEED_SUPER ? 512 : g->speed == SIM_SPEED_HIGH ? 64 : 8;
}

/* An endpoint (and its SuperSpeed companions), hostile if features allow. */
static void g_ep(struct gen *g, struct bytes *b, uint8_t addr, unsigned type)
{
	unsigned mps, iv, burst = 0, attr = 0, bpi;
	bool ssp = false;

	if (g_feat(g, SIM_HF_CTRL_EP, 4))
		type = SIM_EP_CONTROL;
	g_ep_legal(g, type, &mps, &iv);
	if ((type == SIM_EP_BULK || type == SIM_EP_INTR) && g_feat(g, SIM_HF_DUP_EP, 4))
		mps = 0;
	if (type == SIM_EP_ISOCH && g_feat(g, SIM_HF_ISO_ZERO, 25))
		mps = 0;
	if (g_feat(g, SIM_HF_BAD_MPS, 6)) {
		switch (g->speed) {
		case SIM_SPEED_LOW:
			mps = G_PICK(g, 9, 64, 512, 1023);
			break;
		case SIM_SPEED_FULL:
			mps = type == SIM_EP_BULK ? G_PICK(g, 7, 512, 1024) : G_PICK(g, 1024, 1023 | 0x800);
			break;
		case SIM_SPEED_HIGH:
			mps = type == SIM_EP_BULK ? G_PICK(g, 8, 64, 1024, 0x1200) : G_PICK(g, 1025, 0x1800 | 1024, 0x7ff);
			break;
		default:
			mps = G_PICK(g, 512, 1025, 0x7ff, 0x1c00 | 1024);
			break;
		}
	}
	if (g_feat(g, SIM_HF_INTERVAL, 8))
		iv = G_PICK(g, 0, 255);
	b_u8(b, 7);
	b_u8(b, USB_DT_ENDPOINT);
	b_u8(b, addr);
	b_u8(b, type | (type == SIM_EP_ISOCH ? g_below(g, 4) << 2 : 0));
	b_le16(b, mps);
	b_u8(b, iv);
	if (g->speed != SIM_SPEED_SUPER)
		return;
	mps &= 0x7ff;
	switch (type) {
	case SIM_EP_BULK:
		burst = g_below(g, 16);
		attr = g_pct(g, 20) ? g_below(g, 17) : 0;
		break;
	case SIM_EP_INTR:
		burst = mps == 1024 ? g_below(g, 3) : 0;
		break;
	case SIM_EP_ISOCH:
		burst = mps == 1024 ? g_below(g, 16) : 0;
		attr = burst ? g_below(g, 3) : 0;
		break;
	default:
		break;
	}
	bpi = (type == SIM_EP_INTR || type == SIM_EP_ISOCH) ? (burst + 1) * (attr % 4 + 1) * mps : 0;
	if (bpi > 0xffff)
		bpi = 0xffff;
	if (bpi > 1 && g_pct(g, 30))
		bpi = 1 + g_below(g, bpi);
	if ((type == SIM_EP_INTR || type == SIM_EP_ISOCH) && g_feat(g, SIM_HF_SS_COMP_ZERO, 20))
		bpi = 0;
	if (g_feat(g, SIM_HF_SS_COMP_ZERO, 3)) {
		burst = G_PICK(g, 16, 31, 255);
		attr = G_PICK(g, 3, 31, 0xff);
	}
	if (type == SIM_EP_ISOCH && g_feat(g, SIM_HF_SSP_ISO, 30)) {
		attr |= 0x80;
		ssp = true;
	}
	if (g_feat(g, SIM_HF_SS_COMP_ZERO, 3))
		return; /* no companion at all */
	b_u8(b, 6);
	b_u8(b, USB_DT_SS_EP_COMP);
	b_u8(b, burst);
	b_u8(b, attr);
	b_le16(b, bpi);
	if (ssp) {
		b_u8(b, 8);
		b_u8(b, USB_DT_SSP_ISOC_EP_COMP);
		b_le16(b, 0);
		b_le32(b, G_PICK(g, 0, 1, 0x10000, 0x7fffffff, 0xffffffffu,
				 (burst + 1) * 3 * 1024 * 2));
	}
}

static void g_intf(struct bytes *b, unsigned num, unsigned alt, unsigned neps, unsigned cls,
		   unsigned sub, unsigned proto, unsigned istr)
{
	uint8_t d[] = { SIM_D_INTERFACE(num, alt, neps, cls, sub, proto, istr) };

	b_put(b, d, sizeof(d));
}

/* A data endpoint type legal at the speed. */
static unsigned g_ep_type(struct gen *g)
{
	if (g->speed == SIM_SPEED_LOW)
		return SIM_EP_INTR;
	return G_PICK(g, SIM_EP_BULK, SIM_EP_BULK, SIM_EP_INTR, SIM_EP_ISOCH);
}

/* A fresh endpoint address, or (hostile) one used before. */
static uint8_t g_addr(struct gen *g, uint8_t *used, unsigned *nused, bool in)
{
	uint8_t a;

	if (*nused && g_feat(g, SIM_HF_DUP_EP, 5))
		return used[g_below(g, *nused)];
	for (unsigned tries = 0;; tries++) {
		a = (uint8_t)((1 + g_below(g, 15)) | (in ? 0x80 : 0));
		bool dup = false;
		for (unsigned i = 0; i < *nused; i++)
			dup |= used[i] == a;
		if (!dup || tries > 40)
			break;
	}
	if (*nused < 64)
		used[(*nused)++] = a;
	return a;
}

enum g_kind { K_VENDOR, K_HID, K_HUB, K_WINUSB2, K_WINUSB1, K_MANY, K_COMPOSITE, K_KINDS };

/* Interfaces of one configuration for the device kind; returns bNumInterfaces. */
static unsigned g_interfaces(struct gen *g, struct bytes *b, enum g_kind kind, bool hub_mtt,
			     unsigned hub_ports, unsigned *nwinusb)
{
	uint8_t used[64];
	unsigned nused = 0, nintf = 0;

	switch (kind) {
	case K_HUB: {
		unsigned nif = g_feat(g, SIM_HF_MULTI_HUB_IF, 50) ? 2 + g_below(g, 2) : 1;
		unsigned mps = (hub_ports + 1 + 7) / 8;

		if (mps > 2 && !g_feat(g, SIM_HF_HUB_WIDE, 100))
			mps = 2;
		for (unsigned i = 0; i < nif; i++) {
			unsigned iv = g->speed == SIM_SPEED_HIGH ? 12 : g->speed == SIM_SPEED_SUPER ? 8 : 255;
			uint8_t ep[] = { SIM_D_ENDPOINT(0x81 + (i && g_pct(g, 50) ? i : 0), SIM_EP_INTR,
							mps ? mps : 1, iv) };
			uint8_t comp[] = { SIM_D_SS_COMP(0, 0, mps ? mps : 1) };

			g_intf(b, i, 0, 1, USB_CLASS_HUB, 0, hub_mtt ? 1 : 0, 0);
			b_put(b, ep, sizeof(ep));
			if (g->speed == SIM_SPEED_SUPER)
				b_put(b, comp, sizeof(comp));
			if (hub_mtt) {
				g_intf(b, i, 1, 1, USB_CLASS_HUB, 0, 2, 0);
				b_put(b, ep, sizeof(ep));
			}
		}
		return nif;
	}
	case K_HID: {
		uint8_t hid[] = { SIM_D_HID(63) };

		g_intf(b, 0, 0, 1, USB_CLASS_HID, 1, 1, 0);
		b_put(b, hid, sizeof(hid));
		g_ep(g, b, 0x81, SIM_EP_INTR);
		return 1;
	}
	case K_MANY: {
		/* hundreds of interfaces, a few with an endpoint; under 4 KiB */
		unsigned n = 100 + g_below(g, 300);

		for (unsigned i = 0; i < n && b->n + 9 + 7 + 6 + 8 < 4000; i++) {
			bool ep = g_pct(g, 10) && g->speed != SIM_SPEED_LOW;
			g_intf(b, i & 0xff, i > 255 ? 1 + i / 256 : 0, ep ? 1 : 0, USB_CLASS_VENDOR, 0, 0, 0);
			if (ep)
				g_ep(g, b, g_addr(g, used, &nused, g_pct(g, 50)), SIM_EP_BULK);
			nintf++;
		}
		return nintf > 255 ? 255 : nintf;
	}
	case K_COMPOSITE: {
		uint8_t iad[] = { SIM_D_IAD(0, 2, 2, 2, 1, 0) };

		b_put(b, iad, sizeof(iad));
		g_intf(b, 0, 0, 1, 2, 2, 1, 0);
		g_ep(g, b, g_addr(g, used, &nused, true), SIM_EP_INTR);
		g_intf(b, 1, 0, 2, 0x0a, 0, 0, 0);
		g_ep(g, b, g_addr(g, used, &nused, false), g_ep_type(g));
		g_ep(g, b, g_addr(g, used, &nused, true), g_ep_type(g));
		g_intf(b, 2, 0, 1, USB_CLASS_HID, 1, 1, 0);
		g_ep(g, b, g_addr(g, used, &nused, true), SIM_EP_INTR);
		return 3;
	}
	case K_WINUSB2:
	case K_WINUSB1:
		nintf = g_feat(g, SIM_HF_MULTI_WINUSB, 60) ? 2 + g_below(g, 5) : 1;
		*nwinusb = nintf;
		for (unsigned i = 0; i < nintf; i++) {
			unsigned neps = g->speed == SIM_SPEED_LOW ? 1 : 2;
			g_intf(b, i, 0, neps, USB_CLASS_VENDOR, 0, 0, 0);
			if (g->speed == SIM_SPEED_LOW) {
				g_ep(g, b, g_addr(g, used, &nused, true), SIM_EP_INTR);
				continue;
			}
			g_ep(g, b, g_addr(g, used, &nused, false), SIM_EP_BULK);
			g_ep(g, b, g_addr(g, used, &nused, true), SIM_EP_BULK);
		}
		return nintf;
	default: {
		unsigned nif = 1 + g_below(g, 3);

		for (unsigned i = 0; i < nif; i++) {
			unsigned neps = g_below(g, 5);
			bool iso_alt = g->speed != SIM_SPEED_LOW && g_pct(g, 30);

			g_intf(b, i, 0, neps, USB_CLASS_VENDOR, g_below(g, 3), 0, 0);
			for (unsigned e = 0; e < neps; e++) {
				unsigned t = g_ep_type(g);
				/* isochronous endpoints in alt 0 only when hostile */
				if (t == SIM_EP_ISOCH && !g_feat(g, SIM_HF_ISO_ZERO, 50))
					t = SIM_EP_BULK;
				if (g->speed == SIM_SPEED_LOW)
					t = SIM_EP_INTR;
				g_ep(g, b, g_addr(g, used, &nused, g_pct(g, 50)), t);
			}
			if (iso_alt) {
				g_intf(b, i, 1, 2, USB_CLASS_VENDOR, 0, 0, 0);
				g_ep(g, b, g_addr(g, used, &nused, true), SIM_EP_ISOCH);
				g_ep(g, b, g_addr(g, used, &nused, false), SIM_EP_ISOCH);
			}
		}
		return nif;
	}
	}
}

/* Spoil a descriptor header or two somewhere in b (from byte `from`). */
static void g_bad_headers(struct gen *g, struct bytes *b, size_t from)
{
	unsigned n = 1 + g_below(g, 3);

	for (unsigned k = 0; k < n && b->n > from; k++) {
		size_t pos[512];
		unsigned np = 0;

		for (size_t off = from; off + 2 <= b->n && np < 512 && b->p[off] >= 2;
		     off += b->p[off])
			pos[np++] = off;
		if (!np)
			return;
		size_t at = pos[g_below(g, np)];
		if (g_pct(g, 60))
			b->p[at] = (uint8_t)G_PICK(g, 0, 1, 2, 3, b->p[at] - 1u, b->p[at] + 1u, 255,
						   g_below(g, 256));
		else
			b->p[at + 1] = (uint8_t)G_PICK(g, 0, 1, 2, 4, 5, 0x21, 0x30, 0xff, g_below(g, 256));
	}
}

/* Set wTotalLength (bytes 2-3) to the size, or (hostile) to a lie. */
static void g_total(struct gen *g, struct bytes *b)
{
	unsigned total = (unsigned)b->n;

	if (b->n < 4)
		return;
	if (g_feat(g, SIM_HF_TOTAL_LIE, 20))
		total = g_pct(g, 50) ? total + 1 + g_below(g, 3000) : g_below(g, total);
	if (total > 0xffff)
		total = 0xffff;
	b->p[2] = (uint8_t)total;
	b->p[3] = (uint8_t)(total >> 8);
}

/* A string descriptor with `text`, or (hostile) one that is not valid UTF-16. */
static void g_string(struct gen *g, struct bytes *b, const char *text)
{
	size_t start = b->n;

	b_u8(b, 0);
	b_u8(b, USB_DT_STRING);
	for (const char *c = text; *c; c++)
		b_le16(b, (unsigned char)*c);
	if (g_feat(g, SIM_HF_BAD_STRING, 30)) {
		switch (g_below(g, 7)) {
		case 0: /* odd length */
			b_u8(b, 'x');
			break;
		case 1: /* lone high surrogate at the end */
			b_le16(b, 0xd800 + g_below(g, 0x400));
			break;
		case 2: /* lone low surrogate */
			b_le16(b, 0xdc00 + g_below(g, 0x400));
			b_le16(b, 'y');
			break;
		case 3: /* high surrogate followed by a non-surrogate */
			b_le16(b, 0xdbff);
			b_le16(b, 'z');
			break;
		case 4: /* bLength larger than what is sent */
			b->p[start] = 255;
			return;
		case 5: /* bLength 0, 1 or 2 */
			b->p[start] = (uint8_t)g_below(g, 3);
			return;
		default: /* wrong type, and an embedded NUL */
			b_le16(b, 0);
			b->p[start + 1] = (uint8_t)G_PICK(g, 0, 1, 2, 4, 0xff);
			break;
		}
	}
	b->p[start] = (uint8_t)(b->n - start > 255 ? 255 : b->n - start);
}

static void g_rec_string(struct bytes *out, uint8_t index, const struct bytes *s)
{
	b_rec(out, TAG_STRING, &index, 1, s->p, s->n);
}

/* "WINUSB" feature descriptors of MS OS 2.0: compatible ID and an interface GUID. */
static void g_msos2_features(struct gen *g, struct bytes *b)
{
	static const char guid[] = "{6A1D3C9E-5B2F-4E8A-9C71-0D3E5F7A9B21}";
	static const char name[] = "DeviceInterfaceGUIDs";

	b_le16(b, 20);
	b_le16(b, 0x03);
	b_put(b, "WINUSB\0\0\0\0\0\0\0\0\0\0", 16);
	b_le16(b, (unsigned)(10 + 2 * sizeof(name) + 2 * sizeof(guid) + 2));
	b_le16(b, 0x04);
	b_le16(b, 7); /* REG_MULTI_SZ */
	b_le16(b, 2 * sizeof(name));
	for (size_t i = 0; i < sizeof(name); i++)
		b_le16(b, (unsigned char)name[i]);
	b_le16(b, 2 * sizeof(guid) + 2);
	for (size_t i = 0; i < sizeof(guid); i++)
		b_le16(b, (unsigned char)guid[i]);
	b_le16(b, 0);
	(void)g;
}

/* The MS OS 2.0 descriptor set: one function, or a subset per interface. */
static size_t g_msos2_set(struct gen *g, struct bytes *b, unsigned nwinusb, unsigned cfg_index)
{
	size_t cfg_at, start = b->n;

	b_le16(b, 10);
	b_le16(b, 0x00);
	b_le32(b, 0x06030000);
	b_le16(b, 0);
	if (nwinusb <= 1 && g_pct(g, 50)) {
		g_msos2_features(g, b);
	} else {
		cfg_at = b->n;
		b_le16(b, 8);
		b_le16(b, 0x01);
		b_u8(b, cfg_index);
		b_u8(b, 0);
		b_le16(b, 0);
		for (unsigned i = 0; i < (nwinusb ? nwinusb : 1); i++) {
			size_t f_at = b->n;
			b_le16(b, 8);
			b_le16(b, 0x02);
			b_u8(b, i);
			b_u8(b, 0);
			b_le16(b, 0);
			g_msos2_features(g, b);
			if (f_at + 8 <= b->n) {
				b->p[f_at + 6] = (uint8_t)(b->n - f_at);
				b->p[f_at + 7] = (uint8_t)((b->n - f_at) >> 8);
			}
		}
		if (cfg_at + 8 <= b->n) {
			b->p[cfg_at + 6] = (uint8_t)(b->n - cfg_at);
			b->p[cfg_at + 7] = (uint8_t)((b->n - cfg_at) >> 8);
		}
	}
	if (start + 10 <= b->n) {
		b->p[start + 8] = (uint8_t)(b->n - start);
		b->p[start + 9] = (uint8_t)((b->n - start) >> 8);
	}
	if (g_feat(g, SIM_HF_BAD_MSOS, 40)) {
		size_t at = start + g_below(g, (unsigned)(b->n - start));
		if (g_pct(g, 50))
			b->p[at] ^= (uint8_t)(1 + g_below(g, 255));
		else if (start + 10 <= b->n)
			b->p[start + 8] = (uint8_t)g_below(g, 256); /* wTotalLength lie */
	}
	return b->n - start;
}

/* MS OS 1.0 Extended Compat ID: a "WINUSB" section per interface. */
static void g_msos1_compat(struct gen *g, struct bytes *b, unsigned nwinusb)
{
	size_t start = b->n;
	unsigned n = nwinusb ? nwinusb : 1;

	b_le32(b, 16 + 24 * n);
	b_le16(b, 0x0100);
	b_le16(b, 4);
	b_u8(b, n);
	b_put(b, "\0\0\0\0\0\0\0", 7);
	for (unsigned i = 0; i < n; i++) {
		b_u8(b, i);
		b_u8(b, 1);
		b_put(b, "WINUSB\0\0", 8);
		b_put(b, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 14);
	}
	if (g_feat(g, SIM_HF_BAD_MSOS, 40)) {
		size_t at = start + g_below(g, (unsigned)(b->n - start));
		b->p[at] ^= (uint8_t)(1 + g_below(g, 255));
	}
}

static void g_rec_fault(struct gen *g, struct bytes *out, uint8_t bm, uint8_t breq, int wvalue)
{
	uint8_t f[7] = { bm, breq, (uint8_t)(wvalue & 0xff), (uint8_t)((wvalue >> 8) & 0xff),
			 wvalue < 0 ? 1 : 0, (uint8_t)g_below(g, 4),
			 (uint8_t)(g_pct(g, 40) ? 0 : 1 + g_below(g, 3)) };

	b_rec(out, TAG_REQ_FAULT, f, sizeof(f), NULL, 0);
}

static void g_rec_short(struct gen *g, struct bytes *out, uint8_t type, uint8_t index)
{
	unsigned len = G_PICK(g, 0, 1, 2, 4, 7, 8, 9, 17, g_below(g, 64));
	uint8_t s[4] = { type, index, (uint8_t)len, (uint8_t)(len >> 8) };

	b_rec(out, TAG_SHORT, s, sizeof(s), NULL, 0);
}

static void g_desc(struct gen *g, struct bytes *out, unsigned depth, enum sim_speed speed);

/* One whole description into out. */
static void g_desc(struct gen *g, struct bytes *out, unsigned depth, enum sim_speed speed)
{
	static const char *const texts[] = { "", "Hostile Devices Ltd", "Adversary 3000",
					     "SN-0001" };
	bool was_good = g->good;
	enum sim_speed was_speed = g->speed;
	enum g_kind kind;
	unsigned bcd, mps0, ncfg, hub_ports = 0, nwinusb = 0, hub_kind = 0;
	bool hub_mtt = false, bos = false;
	uint8_t hdr[4] = { 0 };
	uint8_t istr[3];
	uint32_t detach = 0;
	B_LOCAL(dev, 32);

	g->speed = speed;
	g->good = g_pct(g, 30);
	{
		unsigned r = g_below(g, 100);
		kind = r < 14 ? K_HUB : r < 30 ? K_WINUSB2 : r < 40 ? K_WINUSB1 : r < 52 ? K_HID
		     : r < 58 && (g->allow & SIM_HF_MANY_IFACES) ? K_MANY : r < 68 ? K_COMPOSITE
		     : K_VENDOR;
	}
	if (kind == K_MANY)
		g->used |= SIM_HF_MANY_IFACES, g->good = false;
	if (depth && kind == K_HUB && depth >= H_MAX_DEPTH)
		kind = K_VENDOR;
	if (kind == K_WINUSB2 && speed == SIM_SPEED_LOW)
		kind = K_WINUSB1;
	if (depth == 0 && g_feat(g, SIM_HF_DETACH, 12))
		detach = 1 + g_below(g, 900);
	hdr[0] = (uint8_t)((speed == SIM_SPEED_LOW ? 0 : speed == SIM_SPEED_FULL ? 1
			    : speed == SIM_SPEED_HIGH ? 2 : 3) |
			   (depth == 0 && g_pct(g, 25) ? SIM_HOSTILE_H_HUB : 0));
	hdr[1] = (uint8_t)(g->good ? G_PICK(g, 0, 2) : g_below(g, 4));
	hdr[2] = (uint8_t)detach;
	hdr[3] = (uint8_t)(detach >> 8);
	b_put(out, hdr, 4);

	/* device descriptor */
	bos = kind == K_WINUSB2 || g_pct(g, 30);
	bcd = speed == SIM_SPEED_SUPER ? G_PICK(g, 0x0300, 0x0310, 0x0320)
	      : speed == SIM_SPEED_LOW ? G_PICK(g, 0x0110, 0x0200) : bos ? 0x0210 : 0x0200;
	bos = bcd >= 0x0201;
	mps0 = speed == SIM_SPEED_LOW ? 8 : speed == SIM_SPEED_FULL ? G_PICK(g, 8, 16, 32, 64)
	       : speed == SIM_SPEED_HIGH ? 64 : 9;
	if (g_feat(g, SIM_HF_BAD_MPS, 10))
		mps0 = G_PICK(g, 0, 7, 9, 63, 65, 128, 255, 8, 64);
	if (kind == K_HUB) {
		hub_kind = speed == SIM_SPEED_SUPER ? 3 : 2;
		if (g_feat(g, SIM_HF_HUB_PORTS, 5))
			hub_kind = 5 - hub_kind; /* the other kind of hub */
		hub_ports = 1 + g_below(g, 15);
		if (g_feat(g, SIM_HF_HUB_PORTS, 40))
			hub_ports = G_PICK(g, 0, 16, 31, 0);
		if (g_feat(g, SIM_HF_HUB_WIDE, 30))
			hub_ports = G_PICK(g, 32, 100, 224, 225, 255);
		hub_mtt = speed == SIM_SPEED_HIGH && g_pct(g, 30);
	}
	for (unsigned i = 0; i < 3; i++)
		istr[i] = (uint8_t)(g_pct(g, 70) ? i + 1 : 0);
	ncfg = g_pct(g, 10) ? 2 + g_below(g, 2) : 1;
	{
		unsigned cls = kind == K_HUB ? USB_CLASS_HUB : kind == K_COMPOSITE ? USB_CLASS_MISC : 0;
		unsigned sub = kind == K_COMPOSITE ? 2 : 0;
		unsigned proto = kind == K_COMPOSITE ? 1
				 : kind == K_HUB ? (speed == SIM_SPEED_SUPER ? 3 : speed == SIM_SPEED_HIGH ? (hub_mtt ? 2 : 1) : 0)
				 : 0;
		uint8_t d[] = { SIM_D_DEVICE(bcd, cls, sub, proto, mps0, 0x1209, 0xc000 + kind,
					     0x0100, istr[0], istr[1], istr[2], ncfg) };
		b_put(&dev, d, sizeof(d));
	}
	if (g_feat(g, SIM_HF_BAD_HEADER, 8)) {
		if (g_pct(g, 50))
			dev.p[0] = (uint8_t)G_PICK(g, 0, 8, 17, 19, 255);
		else
			dev.p[1] = (uint8_t)G_PICK(g, 0, 2, 0x21);
	}
	if (g_feat(g, SIM_HF_BAD_HEADER, 5))
		dev.p[17] = (uint8_t)G_PICK(g, 0, 5, 255); /* bNumConfigurations lies */
	b_rec(out, TAG_DEVICE, dev.p, dev.n, NULL, 0);

	/* configurations */
	for (unsigned c = 0; c < ncfg; c++) {
		B_LOCAL(cfg, 4096);
		unsigned nintf;
		uint8_t hdrc[] = { SIM_D_CONFIG(0, c + 1, 0, 0x80 | (g_pct(g, 30) ? 0x40 : 0) |
						    (g_pct(g, 20) ? 0x20 : 0), 50) };

		b_put(&cfg, hdrc, sizeof(hdrc));
		nintf = g_interfaces(g, &cfg, kind, hub_mtt, hub_ports, &nwinusb);
		cfg.p[4] = (uint8_t)nintf;
		if (g_feat(g, SIM_HF_BAD_HEADER, 10))
			cfg.p[4] = (uint8_t)g_below(g, 256); /* bNumInterfaces lies */
		if (g_feat(g, SIM_HF_BAD_HEADER, 5))
			cfg.p[5] = (uint8_t)G_PICK(g, 0, 1, 255); /* bConfigurationValue 0 / duplicate */
		if (g_feat(g, SIM_HF_BAD_HEADER, 20))
			g_bad_headers(g, &cfg, g_pct(g, 20) ? 0 : 9);
		g_total(g, &cfg);
		b_rec(out, TAG_CONFIG, cfg.p, cfg.n, NULL, 0);
	}

	/* strings */
	if (istr[0] || istr[1] || istr[2]) {
		B_LOCAL(s, 300);
		uint8_t lang[] = { 4, USB_DT_STRING, 0x09, 0x04 };

		b_put(&s, lang, sizeof(lang));
		if (g_feat(g, SIM_HF_BAD_STRING, 10)) {
			switch (g_below(g, 4)) {
			case 0:
				s.p[0] = 2; /* no language at all */
				s.n = 2;
				break;
			case 1:
				s.p[0] = 3; /* odd */
				s.n = 3;
				break;
			case 2:
				s.p[2] = s.p[3] = 0; /* LANGID 0 */
				break;
			default:
				s.p[0] = 255; /* longer than sent */
				break;
			}
		}
		g_rec_string(out, 0, &s);
		for (unsigned i = 0; i < 3; i++) {
			if (!istr[i])
				continue;
			s.n = 0;
			g_string(g, &s, texts[i + 1]);
			g_rec_string(out, istr[i], &s);
		}
	}

	/* BOS */
	if (bos) {
		B_LOCAL(b, 256);
		uint8_t head[] = { SIM_D_BOS(0) };
		uint8_t ext[] = { SIM_D_USB2_EXT(0x2) };
		uint8_t ss[] = { SIM_D_SS_CAP(0, 0x000e, 1, 0x0a, 0x07ff) };
		unsigned ncaps = 1;

		b_put(&b, head, sizeof(head));
		b_put(&b, ext, sizeof(ext));
		if (speed == SIM_SPEED_SUPER) {
			b_put(&b, ss, sizeof(ss));
			ncaps++;
		}
		if (kind == K_WINUSB2) {
			B_LOCAL(set, 2048);
			size_t set_len = g_msos2_set(g, &set, nwinusb, 0);
			uint8_t vendor = (uint8_t)(0x20 + g_below(g, 0x40));
			uint8_t cap[] = { SIM_D_MSOS2_CAP(set_len, vendor) };

			if (g_feat(g, SIM_HF_BAD_MSOS, 20)) {
				cap[24] = (uint8_t)g_below(g, 256); /* wMSOSDescriptorSetTotalLength lies */
				cap[25] = (uint8_t)g_below(g, 3);
			}
			b_put(&b, cap, sizeof(cap));
			ncaps++;
			b_rec(out, TAG_MSOS2, &vendor, 1, set.p, set.n);
		}
		b.p[4] = (uint8_t)ncaps;
		if (g_feat(g, SIM_HF_BAD_HEADER, 10)) {
			if (g_pct(g, 50))
				b.p[4] = (uint8_t)g_below(g, 256);
			else
				g_bad_headers(g, &b, 5);
		}
		g_total(g, &b);
		b_rec(out, TAG_BOS, b.p, b.n, NULL, 0);
	}
	if (kind == K_WINUSB1) {
		B_LOCAL(c, 512);
		uint8_t pre[2] = { (uint8_t)(0x20 + g_below(g, 0x40)), 4 };

		g_msos1_compat(g, &c, nwinusb);
		b_rec(out, TAG_MSOS1, pre, 2, c.p, c.n);
	}

	/* hub */
	if (kind == K_HUB) {
		uint8_t rec[4] = { (uint8_t)(hub_kind == 3 ? 1 : 0), (uint8_t)hub_ports, 0x09, 0 };

		if (!g->good && g_pct(g, 30)) {
			rec[2] = (uint8_t)g_below(g, 256);
			rec[3] = (uint8_t)g_below(g, 256);
		}
		if (g_feat(g, SIM_HF_BAD_HEADER, 15)) {
			B_LOCAL(hd, 80);
			unsigned n = G_PICK(g, 0, 2, 3, 7, 9, 12, 71);

			b_u8(&hd, n);
			b_u8(&hd, G_PICK(g, USB_DT_HUB, USB_DT_SS_HUB, 0));
			b_u8(&hd, hub_ports);
			for (unsigned i = 3; i < n && i < 71; i++)
				b_u8(&hd, g_below(g, 256));
			b_rec(out, TAG_HUB, rec, 4, hd.p, hd.n);
		} else {
			b_rec(out, TAG_HUB, rec, 4, NULL, 0);
		}
		/* devices below it (hubs among them) */
		if (depth < H_MAX_DEPTH && hub_ports && g_feat(g, SIM_HF_NESTED_HUB, 50)) {
			unsigned nc = 1 + g_below(g, 2);
			uint8_t taken = 0;
			for (unsigned i = 0; i < nc; i++) {
				B_LOCAL(child, 12288);
				enum sim_speed cs = hub_kind == 3 ? SIM_SPEED_SUPER
						    : speed == SIM_SPEED_HIGH
							? (enum sim_speed)G_PICK(g, SIM_SPEED_LOW, SIM_SPEED_FULL, SIM_SPEED_HIGH)
							: (enum sim_speed)G_PICK(g, SIM_SPEED_LOW, SIM_SPEED_FULL);
				uint8_t port = (uint8_t)(1 + g_below(g, hub_ports > 15 ? 15 : hub_ports));

				if (port == taken)
					continue;
				taken = port;
				g_desc(g, &child, depth + 1, cs);
				b_rec(out, TAG_CHILD, &port, 1, child.p, child.n);
			}
		}
	}

	/* request faults and short answers */
	if (g_feat(g, SIM_HF_REQ_FAULT, 25)) {
		unsigned n = 1 + g_below(g, 3);
		for (unsigned i = 0; i < n; i++) {
			switch (g_below(g, 9)) {
			case 0:
				g_rec_fault(g, out, 0x80, USB_REQ_GET_DESCRIPTOR, 0x0100);
				break;
			case 1:
				g_rec_fault(g, out, 0x80, USB_REQ_GET_DESCRIPTOR, 0x0200 + g_below(g, 2));
				break;
			case 2:
				g_rec_fault(g, out, 0x80, USB_REQ_GET_DESCRIPTOR, 0x0300 + g_below(g, 4));
				break;
			case 3:
				g_rec_fault(g, out, 0x80, USB_REQ_GET_DESCRIPTOR, 0x0f00);
				break;
			case 4:
				g_rec_fault(g, out, 0x00, USB_REQ_SET_CONFIGURATION, -1);
				break;
			case 5:
				if (g_feat(g, SIM_HF_HUB_REQ_FAULT, 100))
					g_rec_fault(g, out, 0xa0, USB_REQ_GET_DESCRIPTOR, -1);
				break;
			case 6:
				if (g_feat(g, SIM_HF_HUB_REQ_FAULT, 100))
					g_rec_fault(g, out, (uint8_t)G_PICK(g, 0x23, 0xa3),
						    (uint8_t)G_PICK(g, 0, 1, 3), -1);
				break;
			case 7:
				g_rec_fault(g, out, (uint8_t)G_PICK(g, 0xc0, 0xc1), (uint8_t)(0x20 + g_below(g, 0x40)), -1);
				break;
			default:
				g_rec_short(g, out, (uint8_t)G_PICK(g, USB_DT_DEVICE, USB_DT_CONFIG, USB_DT_STRING,
								   USB_DT_BOS, USB_DT_HUB, USB_DT_SS_HUB),
					    (uint8_t)g_below(g, 4));
				break;
			}
		}
	}
	if (g_feat(g, SIM_HF_EP_FAULT, 12)) {
		uint8_t f[5] = { (uint8_t)G_PICK(g, 0x00, 0x81, 0x81, 0x01, 0x82),
				 (uint8_t)g_below(g, 6), (uint8_t)(g_pct(g, 50) ? 0 : 1 + g_below(g, 3)),
				 (uint8_t)g_below(g, 64), 0 };
		b_rec(out, TAG_EP_FAULT, f, sizeof(f), NULL, 0);
	}
	if (g->good)
		out->p[0] |= SIM_HOSTILE_H_GOOD;
	g->good = was_good;
	g->speed = was_speed;
}

size_t sim_hostile_generate(uint64_t seed, uint32_t features, uint8_t *buf, size_t cap,
			    uint32_t *used)
{
	struct gen g = { .s = seed, .allow = features };
	struct bytes out = { buf, cap, 0 };
	enum sim_speed speed;

	speed = (enum sim_speed)G_PICK(&g, SIM_SPEED_LOW, SIM_SPEED_FULL, SIM_SPEED_FULL,
				       SIM_SPEED_HIGH, SIM_SPEED_HIGH, SIM_SPEED_HIGH,
				       SIM_SPEED_SUPER, SIM_SPEED_SUPER, SIM_SPEED_SUPER);
	g_desc(&g, &out, 0, speed);
	if (used)
		*used = g.used;
	return out.n;
}

struct sim_hostile *sim_hostile_from_seed(uint64_t seed, uint32_t features)
{
	static const size_t cap = SIM_HOSTILE_MAX_LEN;
	uint8_t *buf = malloc(cap);
	struct sim_hostile *h;
	size_t n;

	if (!buf)
		abort();
	n = sim_hostile_generate(seed, features, buf, cap, NULL);
	h = sim_hostile_from_bytes(buf, n);
	free(buf);
	return h;
}

static const char *const h_feature_names[] = {
	"bad-header", "total-lie", "many-ifaces", "dup-ep", "ctrl-ep", "interval",
	"bad-string", "hub-ports", "hub-wide", "nested-hub", "req-fault", "ep-fault",
	"detach", "multi-hub-if", "multi-winusb", "iso-zero", "bad-mps", "ss-comp-zero",
	"ssp-iso", "bad-msos", "hub-req-fault",
};

const char *sim_hostile_feature_name(unsigned bit)
{
	return bit < sizeof(h_feature_names) / sizeof(h_feature_names[0]) ? h_feature_names[bit]
									   : NULL;
}
