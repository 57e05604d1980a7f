/*
 * Enumeration of one device (USB 2.0 §9.1.2, xHCI 1.2 §4.3), as a table of
 * named steps:
 *
 *   enable slot → address device → SET_ADDRESS recovery →
 *   GET_DESCRIPTOR(device, 8) → [Evaluate Context when EP0's max packet
 *   size differs] → GET_DESCRIPTOR(device, 18) → each configuration
 *   (9 bytes, then wTotalLength) → BOS (header, then all of it) → string
 *   languages → manufacturer, product, serial → Configure Endpoint →
 *   SET_CONFIGURATION → Microsoft OS descriptors → done.
 *
 * Each row names a step and has two functions. start() issues the step's
 * one request or controller operation and returns STEP_WAIT, or decides
 * the step has nothing to do and returns the next step at once. done()
 * runs when that request or operation came back (or the step's timer
 * fired) and returns the next step. Either may return a BU_E* error,
 * which ends enumeration: the device is failed at that step. A step may
 * name itself as the next one to loop (strings, MS OS descriptors).
 *
 * Everything runs from completions and timers inside bu_usb_bus_poll(), so
 * a slow device holds up only itself.
 */
#include "core_priv.h"

#include "bareusb/assert.h"
#include "bareusb/desc.h"
#include "bareusb/msos.h"
#include "bareusb/util.h"

#include "timing.h"

/** The steps, in order; 0 is STEP_WAIT, not a step. */
enum enum_step {
	ST_ENABLE = 1,
	ST_ADDRESS,
	ST_ADDR_RECOVERY,
	ST_DESC8,
	ST_EP0_UPDATE,
	ST_DESC18,
	ST_CONFIG_HDR,
	ST_CONFIG_FULL,
	ST_BOS_HDR,
	ST_BOS_FULL,
	ST_LANGID,
	ST_STRINGS,
	ST_CONFIGURE,
	ST_SET_CONFIG,
	ST_MSOS,
	ST_DONE,
	ST_COUNT
};

/** start()/done() result: the step waits for its completion or timer. */
#define STEP_WAIT 0

_Static_assert(BU_CORE_CTRL_BUF_LEN >= 255 && BU_CORE_CTRL_BUF_LEN >= USB_DT_CONFIG_SIZE &&
		       BU_CORE_CTRL_BUF_LEN >= USB_DT_BOS_SIZE &&
		       BU_CORE_CTRL_BUF_LEN >= USB_DT_DEVICE_SIZE,
	       "the enumeration buffer holds every request read into it");

/** One row of the enumeration table. */
struct enum_step_row {
	const char *name;
	/** Issue the step: STEP_WAIT, the next step, or a BU_E* error. */
	int (*start)(struct bu_usb_device *dev);
	/**
	 * The step's request, operation or timer came back with `status`:
	 * the next step or a BU_E* error (*why says what was malformed).
	 * NULL: an error status fails the device, success goes to `next`.
	 */
	int (*done)(struct bu_usb_device *dev, int status, const char **why);
	uint8_t next;
	uint8_t kind; /**< its timeline step (enum bu_usb_step) */
};

static const struct enum_step_row steps[ST_COUNT];

static void log_malformed(struct bu_usb_device *dev, const char *why);

/** Temporary state of a Microsoft OS descriptor fetch (its replies land in enum_buf). */
struct msos_fetch_state {
	struct bu_msos_fetch f;
};

/* ======================================================================== */
/* Requests on EP0 and controller operations                                */
/* ======================================================================== */

/**
 * The step's request or operation came back with `status`: the step goes
 * on from the bus's poll (bu_usb_bus_poll runs a device's due timer after
 * the controller's events, so in the same poll), not from the completion.
 * A completion runs deep inside the controller's event handling; what
 * the next steps start there (requests, the end of enumeration with its
 * drivers' probes and the embedder's device_added) would stack on top.
 */
static void step_later(struct bu_usb_device *dev, int status)
{
	bu_core_dev(dev)->step_status = status;
	bu_core_dev(dev)->wake_us = 1; /* due at once */
}

/** Completion of the enumeration's control transfer. */
static void dev_ctrl_done(struct bu_usb_xfer *xfer)
{
	struct bu_usb_device *dev = xfer->ctx;

	bu_core_dev(dev)->ctrl_busy = false;
	bu_core_dev(dev)->ctrl_status = xfer->status;
	step_later(dev, xfer->status);
}

/** Completion of a controller operation (slot, address, contexts). */
static void dev_op_done(struct bu_usb_device *dev, void *ctx, int status)
{
	(void)ctx;
	step_later(dev, status);
}

/** A start() that issued something: wait for it, or fail with its error. */
static int started(int rc)
{
	return rc ? rc : STEP_WAIT;
}

int bu_core_enum_buf(struct bu_usb_device *dev, struct bu_usb_bus *bus, size_t len)
{
	struct bu_usb_dma_buf *cur = &bu_core_dev(dev)->ctrl_dma, b;

	if (cur->cpu && cur->size >= len)
		return 0;
	if (bu_usb_dma_buf_alloc(bus, &b, BU_MAX(len, (size_t)BU_CORE_CTRL_BUF_LEN)))
		return BU_ENOMEM;
	bu_usb_dma_buf_free(bus, cur);
	*cur = b;
	return 0;
}

/** The enumeration buffer: every reply of the enumeration's requests lands here. */
static uint8_t *enum_buf(const struct bu_usb_device *dev)
{
	return bu_core_dev(dev)->ctrl_dma.cpu;
}

/**
 * Send `setup` on EP0 for the current step, its data stage in the
 * enumeration buffer (DMA memory, grown to `len` first).
 */
static int dev_request(struct bu_usb_device *dev, const uint8_t setup[8], uint16_t len,
		       uint32_t timeout_ms)
{
	struct bu_usb_xfer *x = &bu_core_dev(dev)->ctrl;
	int rc;

	if (bu_core_enum_buf(dev, dev->bus, len))
		return BU_ENOMEM;
	bu_memset(x, 0, sizeof(*x));
	bu_memcpy(x->setup, setup, sizeof(x->setup));
	x->ep = &dev->ep0;
	bu_usb_xfer_set_dma(x, &bu_core_dev(dev)->ctrl_dma, len);
	x->timeout_ms = timeout_ms;
	x->complete = dev_ctrl_done;
	x->ctx = dev;
	bu_core_dev(dev)->ctrl_busy = true;
	rc = bu_usb_xfer_submit(x);
	if (rc)
		bu_core_dev(dev)->ctrl_busy = false;
	return started(rc);
}

/** GET_DESCRIPTOR(type, index) into the enumeration buffer. */
static int get_desc(struct bu_usb_device *dev, uint8_t type, uint8_t index, uint16_t lang,
		    uint16_t len)
{
	uint8_t setup[8];

	bu_usb_setup_pack(setup, USB_DIR_IN | USB_TYPE_STANDARD | USB_RECIP_DEVICE,
			  USB_REQ_GET_DESCRIPTOR, (uint16_t)(type << 8 | index), lang, len);
	return dev_request(dev, setup, len, BU_USB_REQUEST_TIMEOUT_MS);
}

/* ======================================================================== */
/* Slot and address                                                         */
/* ======================================================================== */

static int enable_start(struct bu_usb_device *dev)
{
	return started(dev->bus->ops->dev_enable(dev, dev_op_done, NULL));
}

static int address_start(struct bu_usb_device *dev)
{
	return started(dev->bus->ops->dev_address(dev, dev_op_done, NULL));
}

static int address_done(struct bu_usb_device *dev, int status, const char **why)
{
	(void)why;
	if (status)
		return status;
	/* It has its own address now: another device may reset. */
	bu_core_addr_unlock(dev);
	return ST_ADDR_RECOVERY;
}

static int addr_recovery_start(struct bu_usb_device *dev)
{
	bu_core_dev(dev)->wake_us = bu_core_now(dev->bus) + T_SETADDR_US;
	return STEP_WAIT;
}

/* ======================================================================== */
/* Device descriptor                                                        */
/* ======================================================================== */

static int desc8_start(struct bu_usb_device *dev)
{
	return get_desc(dev, USB_DT_DEVICE, 0, 0, 8);
}

/** The first 8 bytes give EP0's max packet size; tell the controller if it differs. */
static int desc8_done(struct bu_usb_device *dev, int status, const char **why)
{
	int mps;

	if (status)
		return status;
	mps = bu_desc_device_mps0(enum_buf(dev), bu_core_dev(dev)->ctrl.actual, dev->speed, why);
	if (mps < 0)
		return mps;
	if ((unsigned)mps == dev->ep0.mps)
		return ST_DESC18;
	dev->ep0.mps = (uint16_t)mps;
	return ST_EP0_UPDATE;
}

static int ep0_update_start(struct bu_usb_device *dev)
{
	return started(dev->bus->ops->dev_update_ep0(dev, dev_op_done, NULL));
}

static int desc18_start(struct bu_usb_device *dev)
{
	return get_desc(dev, USB_DT_DEVICE, 0, 0, USB_DT_DEVICE_SIZE);
}

static int desc18_done(struct bu_usb_device *dev, int status, const char **why)
{
	int rc;

	if (status)
		return status;
	rc = bu_desc_parse_device(enum_buf(dev), bu_core_dev(dev)->ctrl.actual, &dev->desc, why);
	if (rc)
		return rc;
	dev->have_desc = true;
	dev->num_configs = 0;
	return ST_CONFIG_HDR;
}

/* ======================================================================== */
/* Configurations and BOS                                                   */
/* ======================================================================== */

/** Patch a stored descriptor set's wTotalLength to the `len` bytes kept. */
static void raw_set_total(uint8_t *raw, uint16_t alloc, size_t len)
{
	if (alloc >= 4)
		bu_put_le16(raw + 2, (uint16_t)len);
}

/**
 * A descriptor set (configuration or BOS) arrived in a buffer sized by its
 * wTotalLength: keep only the `got` bytes that came (a lying device asks
 * for up to 64 KiB and sends 9) and make wTotalLength say so. Returns the
 * kept buffer; *alloc is its size.
 */
static uint8_t *raw_keep(struct bu_usb_bus *bus, uint8_t *raw, uint16_t *alloc, size_t got)
{
	uint8_t *kept;

	if (got < *alloc && got >= 4) {
		kept = bu_core_alloc(bus, got);
		if (kept) {
			bu_memcpy(kept, raw, got);
			bu_core_free(bus, raw, *alloc);
			raw = kept;
			*alloc = (uint16_t)got;
		}
	}
	raw_set_total(raw, *alloc, BU_MIN(got, (size_t)*alloc));
	return raw;
}

/** Parse configuration `i` from its raw bytes into allocated arrays. */
static int dev_parse_config(struct bu_usb_device *dev, unsigned i, size_t len,
			    const char **why)
{
	struct bu_usb_bus *bus = dev->bus;
	struct bu_usb_config_info *cfg = &dev->configs[i];
	struct bu_usb_alt_info *alts;
	struct bu_usb_ep_info *eps;
	struct bu_usb_iad_info *iads;
	uint16_t na = 0, ne = 0, ni = 0;
	int rc;

	rc = bu_desc_count_config(dev->config_raw[i], len, &na, &ne, &ni, why);
	if (rc)
		return rc;
	na = BU_MIN(na, (uint16_t)BU_USB_MAX_ALTS);
	ne = BU_MIN(ne, (uint16_t)BU_USB_MAX_EPS);
	ni = BU_MIN(ni, (uint16_t)BU_USB_MAX_IADS);
	cfg->alts = alts = na ? bu_core_alloc(bus, na * sizeof(*alts)) : NULL;
	cfg->eps = eps = ne ? bu_core_alloc(bus, ne * sizeof(*eps)) : NULL;
	cfg->iads = iads = ni ? bu_core_alloc(bus, ni * sizeof(*iads)) : NULL;
	dev->config_alloc[i][0] = na;
	dev->config_alloc[i][1] = ne;
	dev->config_alloc[i][2] = ni;
	if ((na && !alts) || (ne && !eps) || (ni && !iads))
		return BU_ENOMEM;
	rc = bu_desc_parse_config(dev->config_raw[i], len, dev->speed, cfg, alts, na, eps, ne,
				  iads, ni, why);
	/* Keep our allocations reachable for free whatever happened. */
	cfg->alts = alts;
	cfg->eps = eps;
	cfg->iads = iads;
	return rc;
}

static int config_hdr_start(struct bu_usb_device *dev)
{
	if (dev->num_configs >= dev->desc.bNumConfigurations ||
	    dev->num_configs >= BU_USB_MAX_CONFIGS)
		return ST_BOS_HDR;
	return get_desc(dev, USB_DT_CONFIG, dev->num_configs, 0, USB_DT_CONFIG_SIZE);
}

/** The 9-byte header says how much to read: a buffer of that size. */
static int config_hdr_done(struct bu_usb_device *dev, int status, const char **why)
{
	unsigned i = dev->num_configs;
	int total;

	/* Fewer configurations than it claims: keep those read (USB 2.0
	 * §9.4.3 lets a device STALL a request it cannot answer). */
	if (status == BU_ESTALL && i > 0)
		return ST_BOS_HDR;
	if (status)
		return status;
	total = bu_desc_total_length(enum_buf(dev), bu_core_dev(dev)->ctrl.actual, USB_DT_CONFIG, why);
	if (total < 0)
		return total;
	total = BU_MIN(total, BU_USB_MAX_CONFIG_LEN);
	dev->config_raw[i] = bu_core_alloc(dev->bus, (size_t)total);
	if (!dev->config_raw[i])
		return BU_ENOMEM;
	dev->config_raw_len[i] = (uint16_t)total;
	return ST_CONFIG_FULL;
}

static int config_full_start(struct bu_usb_device *dev)
{
	unsigned i = dev->num_configs;

	return get_desc(dev, USB_DT_CONFIG, (uint8_t)i, 0, dev->config_raw_len[i]);
}

static int config_full_done(struct bu_usb_device *dev, int status, const char **why)
{
	unsigned i = dev->num_configs;
	int rc;

	if (status)
		return status;
	bu_memcpy(dev->config_raw[i], enum_buf(dev),
		  BU_MIN(bu_core_dev(dev)->ctrl.actual, (size_t)dev->config_raw_len[i]));
	dev->config_raw[i] = raw_keep(dev->bus, dev->config_raw[i], &dev->config_raw_len[i],
				      bu_core_dev(dev)->ctrl.actual);
	rc = dev_parse_config(dev, i, BU_MIN(bu_core_dev(dev)->ctrl.actual, dev->config_raw_len[i]), why);
	if (rc)
		return rc;
	/* What applications get (WinUsb_GetDescriptor) describes itself. */
	raw_set_total(dev->config_raw[i], dev->config_raw_len[i], dev->configs[i].total_len);
	if (dev->configs[i].warnings)
		bu_core_log(dev->bus, BU_LOG_DEBUG, "configuration %u: %u irregularities (%s)", i,
			    dev->configs[i].warnings, *why ? *why : "");
	*why = NULL;
	dev->num_configs++;
	return ST_CONFIG_HDR;
}

/** Forget a BOS that could not be read; enumeration goes on without it. */
static int bos_skip(struct bu_usb_device *dev, int err, const char **why)
{
	char path[32];

	bu_core_free(dev->bus, dev->bos, sizeof(*dev->bos));
	bu_core_free(dev->bus, dev->bos_raw, dev->bos_raw_len);
	dev->bos = NULL;
	dev->bos_raw = NULL;
	dev->bos_raw_len = 0;
	bu_core_log(dev->bus, BU_LOG_DEBUG, "device %s: no BOS (%s%s%s)",
		    bu_core_dev_path(dev, path, sizeof(path)), bu_strerror(err),
		    *why ? ": " : "", *why ? *why : "");
	*why = NULL;
	return ST_LANGID;
}

/* USB 3.2 §9.6.2: devices with bcdUSB >= 2.01 have a BOS. It is optional
 * information: any failure only skips it. */
static int bos_hdr_start(struct bu_usb_device *dev)
{
	if (dev->desc.bcdUSB < 0x0201)
		return ST_LANGID;
	return get_desc(dev, USB_DT_BOS, 0, 0, USB_DT_BOS_SIZE);
}

static int bos_hdr_done(struct bu_usb_device *dev, int status, const char **why)
{
	int total = status ? status
			   : bu_desc_total_length(enum_buf(dev), bu_core_dev(dev)->ctrl.actual, USB_DT_BOS, why);

	if (total < 0)
		return bos_skip(dev, total, why);
	total = BU_MIN(total, 4096);
	dev->bos_raw = bu_core_alloc(dev->bus, (size_t)total);
	if (!dev->bos_raw)
		return bos_skip(dev, BU_ENOMEM, why);
	dev->bos_raw_len = (uint16_t)total;
	return ST_BOS_FULL;
}

static int bos_full_start(struct bu_usb_device *dev)
{
	const char *why = NULL;
	int rc = get_desc(dev, USB_DT_BOS, 0, 0, dev->bos_raw_len);

	return rc < 0 ? bos_skip(dev, rc, &why) : rc;
}

static int bos_full_done(struct bu_usb_device *dev, int status, const char **why)
{
	size_t len;
	int rc;

	if (status)
		return bos_skip(dev, status, why);
	bu_memcpy(dev->bos_raw, enum_buf(dev),
		  BU_MIN(bu_core_dev(dev)->ctrl.actual, (size_t)dev->bos_raw_len));
	dev->bos_raw = raw_keep(dev->bus, dev->bos_raw, &dev->bos_raw_len, bu_core_dev(dev)->ctrl.actual);
	len = BU_MIN(bu_core_dev(dev)->ctrl.actual, dev->bos_raw_len);
	dev->bos = bu_core_alloc(dev->bus, sizeof(*dev->bos));
	rc = dev->bos ? bu_desc_parse_bos(dev->bos_raw, len, dev->bos, why) : BU_ENOMEM;
	if (rc)
		return bos_skip(dev, rc, why);
	raw_set_total(dev->bos_raw, dev->bos_raw_len, dev->bos->total_len);
	return ST_LANGID;
}

/* ======================================================================== */
/* Strings                                                                  */
/* ======================================================================== */

static int langid_start(struct bu_usb_device *dev)
{
	if (!dev->desc.iManufacturer && !dev->desc.iProduct && !dev->desc.iSerialNumber)
		return ST_CONFIGURE;
	return get_desc(dev, USB_DT_STRING, 0, 0, 255);
}

static int langid_done(struct bu_usb_device *dev, int status, const char **why)
{
	/* USB 2.0 §9.6.7: a device without strings may STALL here. */
	if (status || bu_desc_first_langid(enum_buf(dev), bu_core_dev(dev)->ctrl.actual, &dev->langid, why))
		dev->langid = 0;
	*why = NULL;
	bu_core_dev(dev)->str_step = 0;
	return ST_STRINGS;
}

/** The string index of str_step (manufacturer, product, serial). */
static uint8_t string_index(const struct bu_usb_device *dev)
{
	if (!dev->langid)
		return 0;
	return bu_core_dev(dev)->str_step == 0 ? dev->desc.iManufacturer
	       : bu_core_dev(dev)->str_step == 1 ? dev->desc.iProduct
				    : dev->desc.iSerialNumber;
}

/** Read the next string the device names; none left: configure. */
static int strings_start(struct bu_usb_device *dev)
{
	for (; bu_core_dev(dev)->str_step < 3; bu_core_dev(dev)->str_step++) {
		uint8_t idx = string_index(dev);

		if (idx && get_desc(dev, USB_DT_STRING, idx, dev->langid, 255) ==
				   STEP_WAIT)
			return STEP_WAIT;
	}
	return ST_CONFIGURE;
}

/** Store the string just read for str_step. */
static int strings_done(struct bu_usb_device *dev, int status, const char **why)
{
	/* The three strings have the same size. */
	char *const outs[] = { dev->manufacturer, dev->product, dev->serial };
	bool *const haves[] = { &dev->have_manufacturer, &dev->have_product, &dev->have_serial };
	unsigned k = BU_MIN(bu_core_dev(dev)->str_step, 2u);
	char path[32];

	if (!status) {
		if (bu_desc_string_to_utf8(enum_buf(dev), bu_core_dev(dev)->ctrl.actual, outs[k],
					   sizeof(dev->product), why) >= 0)
			*haves[k] = true;
		else
			bu_core_log(dev->bus, BU_LOG_WARN, "device %s: string %u ignored: %s",
				    bu_core_dev_path(dev, path, sizeof(path)), bu_core_dev(dev)->str_step,
				    *why ? *why : "malformed");
	}
	*why = NULL;
	bu_core_dev(dev)->str_step++;
	return ST_STRINGS;
}

/* ======================================================================== */
/* Configuration                                                            */
/* ======================================================================== */

/** Choose the configuration, open its endpoints and tell the controller. */
static int configure_start(struct bu_usb_device *dev)
{
	struct bu_usb_bus *bus = dev->bus;
	const struct bu_usb_config_info *cfg;
	uint32_t opened = 0;

	if (!dev->num_configs)
		return BU_ENOENT;
	dev->active_config = 0;
	if (bus->events.choose_config) {
		int c = bus->events.choose_config(bus->events.ctx, dev);

		if (c >= 0 && c < dev->num_configs)
			dev->active_config = c;
	}
	/* USB 2.0 §9.4.7: SET_CONFIGURATION(0) unconfigures, so a
	 * configuration numbered 0 cannot be selected; take another. */
	for (unsigned i = 0; dev->configs[dev->active_config].value == 0; i++) {
		if (i >= dev->num_configs) {
			log_malformed(dev, "no configuration with a bConfigurationValue other than 0");
			return BU_EBADDESC;
		}
		dev->active_config = (int)i;
	}
	/* SET_CONFIGURATION names a value: where two configurations share
	 * one, only the first can be told apart (the device's choice). */
	for (int i = 0; i < dev->active_config; i++) {
		if (dev->configs[i].value == dev->configs[dev->active_config].value) {
			log_malformed(dev, "two configurations share a bConfigurationValue; "
					   "using the first");
			dev->active_config = i;
			break;
		}
	}
	cfg = &dev->configs[dev->active_config];
	for (unsigned a = 0; a < cfg->num_alts; a++)
		if (cfg->alts[a].alt == 0)
			opened |= bu_core_open_alt(dev, cfg, &cfg->alts[a]);
	return started(bus->ops->dev_configure(dev, opened, 0, dev_op_done, NULL));
}

static int set_config_start(struct bu_usb_device *dev)
{
	uint8_t setup[8];

	bu_usb_setup_pack(setup, USB_DIR_OUT | USB_TYPE_STANDARD | USB_RECIP_DEVICE,
			  USB_REQ_SET_CONFIGURATION, dev->configs[dev->active_config].value, 0,
			  0);
	return dev_request(dev, setup, 0, BU_USB_REQUEST_TIMEOUT_MS);
}

static int set_config_done(struct bu_usb_device *dev, int status, const char **why)
{
	(void)why;
	if (status)
		return status;
	dev->config_value = dev->configs[dev->active_config].value;
	return ST_MSOS;
}

/* ======================================================================== */
/* Microsoft OS descriptors                                                 */
/* ======================================================================== */

/*
 * Microsoft OS 1.0 and 2.0 descriptors ("Microsoft OS Descriptors for
 * USB Devices"), read with the msos.c sequencer on the enumeration's own
 * control transfers. They are optional: failures end the step, never the
 * device.
 */
static int msos_start(struct bu_usb_device *dev)
{
	struct bu_usb_bus *bus = dev->bus;
	struct msos_fetch_state *st = bu_core_dev(dev)->msos_fetch;
	uint8_t setup[8];
	int len;

	if (!st) {
		if (bus->no_msos)
			return ST_DONE;
		bu_core_dev(dev)->msos_fetch = st = bu_core_alloc(bus, sizeof(*st));
		dev->msos = bu_core_alloc(bus, sizeof(*dev->msos));
		if (!st || !dev->msos)
			return ST_DONE;
		bu_msos_fetch_init(&st->f, dev->msos, dev->desc.bcdUSB,
				   (uint8_t)dev->active_config);
	}
	len = bu_msos_fetch_next(&st->f, setup);
	if (len < 0 || len > BU_MSOS_MAX_DESC)
		return ST_DONE;
	if (dev_request(dev, setup, (uint16_t)len, T_MSOS_REQUEST_MS) != STEP_WAIT)
		return ST_DONE;
	return STEP_WAIT;
}

static int msos_done(struct bu_usb_device *dev, int status, const char **why)
{
	struct msos_fetch_state *st = bu_core_dev(dev)->msos_fetch;

	(void)why;
	bu_msos_fetch_feed(&st->f, status, enum_buf(dev), bu_core_dev(dev)->ctrl.actual);
	return status == BU_ENODEV ? ST_DONE : ST_MSOS;
}

/** Free the MS OS fetch's scratch state (and an empty result). */
static void msos_free(struct bu_usb_device *dev)
{
	struct bu_usb_bus *bus = dev->bus;

	bu_core_free(bus, bu_core_dev(dev)->msos_fetch, sizeof(struct msos_fetch_state));
	bu_core_dev(dev)->msos_fetch = NULL;
	if (dev->msos && !dev->msos->version) {
		bu_core_free(bus, dev->msos, sizeof(*dev->msos));
		dev->msos = NULL;
	}
}

static int done_start(struct bu_usb_device *dev)
{
	msos_free(dev);
	bu_core_enum_finish(dev, 0);
	return STEP_WAIT;
}

/* ======================================================================== */
/* The table and its runner                                                 */
/* ======================================================================== */

static const struct enum_step_row steps[ST_COUNT] = {
	[ST_ENABLE] = { "enable slot", enable_start, NULL, ST_ADDRESS, BU_STEP_ENABLE_SLOT },
	[ST_ADDRESS] = { "address device", address_start, address_done, 0, BU_STEP_ADDRESS },
	[ST_ADDR_RECOVERY] = { "set address recovery", addr_recovery_start, NULL, ST_DESC8, BU_STEP_ADDRESS_RECOVERY },
	[ST_DESC8] = { "device descriptor (8)", desc8_start, desc8_done, 0, BU_STEP_DEVICE_DESC8 },
	[ST_EP0_UPDATE] = { "ep0 max packet update", ep0_update_start, NULL, ST_DESC18, BU_STEP_EP0_UPDATE },
	[ST_DESC18] = { "device descriptor", desc18_start, desc18_done, 0, BU_STEP_DEVICE_DESC },
	[ST_CONFIG_HDR] = { "configuration header", config_hdr_start, config_hdr_done, 0, BU_STEP_CONFIG_HEADER },
	[ST_CONFIG_FULL] = { "configuration descriptor", config_full_start, config_full_done, 0, BU_STEP_CONFIG_DESC },
	[ST_BOS_HDR] = { "BOS header", bos_hdr_start, bos_hdr_done, 0, BU_STEP_BOS_HEADER },
	[ST_BOS_FULL] = { "BOS descriptor", bos_full_start, bos_full_done, 0, BU_STEP_BOS_DESC },
	[ST_LANGID] = { "string languages", langid_start, langid_done, 0, BU_STEP_LANGIDS },
	[ST_STRINGS] = { "strings", strings_start, strings_done, 0, BU_STEP_STRINGS },
	[ST_CONFIGURE] = { "configure endpoints", configure_start, NULL, ST_SET_CONFIG, BU_STEP_CONFIGURE_EP },
	[ST_SET_CONFIG] = { "set configuration", set_config_start, set_config_done, 0, BU_STEP_SET_CONFIG },
	[ST_MSOS] = { "Microsoft OS descriptors", msos_start, msos_done, 0, BU_STEP_MSOS },
	[ST_DONE] = { "done", done_start, NULL, 0, BU_STEP_PROBE },
};

/** Log why a step found the device's answer malformed. */
static void log_malformed(struct bu_usb_device *dev, const char *why)
{
	char path[32];

	bu_core_log(dev->bus, BU_LOG_WARN, "device %s: %s: %s",
		    bu_core_dev_path(dev, path, sizeof(path)), steps[bu_core_dev(dev)->enum_step].name, why);
}

/** Enter steps from `next` until one waits or the device's enumeration ends. */
static void step_run(struct bu_usb_device *dev, int next)
{
	char path[32];
	bool opened;

	while (dev->state == BU_DEV_ENUMERATING) {
		if (next < 0) {
			bu_core_enum_finish(dev, next);
			return;
		}
		if (next == STEP_WAIT)
			return;
		if (!BU_CHECK(dev->bus->plat, next < ST_COUNT)) {
			bu_core_enum_finish(dev, BU_EIO);
			return;
		}
		bu_core_dev(dev)->enum_step = (uint8_t)next;
		opened = bu_core_step_begin(dev, steps[next].kind, bu_core_now(dev->bus));
		if (dev->bus->trace_steps)
			bu_core_log(dev->bus, BU_LOG_TRACE, "device %s: %s",
				    bu_core_dev_path(dev, path, sizeof(path)), steps[next].name);
		next = steps[next].start(dev);
		/* A step with nothing to do (no more configurations, no BOS)
		 * is no step of the timeline. */
		if (opened && next > 0 && dev->state == BU_DEV_ENUMERATING)
			bu_core_step_undo(dev);
	}
}

/** The current step's request, operation or timer came back. */
static void step_done(struct bu_usb_device *dev, int status)
{
	const struct enum_step_row *row;
	const char *why = NULL;
	int next;

	if (dev->state != BU_DEV_ENUMERATING)
		return;
	row = &steps[bu_core_dev(dev)->enum_step];
	next = row->done ? row->done(dev, status, &why) : status ? status : row->next;
	if (next < 0 && why)
		log_malformed(dev, why);
	step_run(dev, next);
}

void bu_core_enum_start(struct bu_usb_device *dev)
{
	step_run(dev, ST_ENABLE);
}

void bu_core_enum_timer(struct bu_usb_device *dev)
{
	int status = bu_core_dev(dev)->step_status;

	bu_core_dev(dev)->step_status = 0;
	step_done(dev, status);
}

void bu_core_enum_free(struct bu_usb_device *dev)
{
	msos_free(dev);
}

const char *bu_usb_device_enum_step(const struct bu_usb_device *dev)
{
	if (dev->state == BU_DEV_ENUMERATING || dev->state == BU_DEV_FAILED)
		return bu_core_enum_step_name(dev);
	return NULL;
}

const char *bu_core_enum_step_name(const struct bu_usb_device *dev)
{
	return bu_core_dev(dev)->enum_step && bu_core_dev(dev)->enum_step < ST_COUNT ? steps[bu_core_dev(dev)->enum_step].name : "?";
}

void bu_core_enum_finish(struct bu_usb_device *dev, int err)
{
	struct bu_usb_bus *bus = dev->bus;
	char path[32];

	dev->t_done_us = bu_core_now(bus);
	bu_core_dev(dev)->wake_us = 0;
	if (err)
		bu_core_step_end(dev, dev->t_done_us);
	/* The enumeration buffer (up to a 64 KiB configuration) is DMA
	 * memory only enumeration needs. */
	if (!bu_core_dev(dev)->ctrl_busy)
		bu_usb_dma_buf_free(bus, &bu_core_dev(dev)->ctrl_dma);
	if (err && bu_core_dev(dev)->addr_lock && dev->parent && bu_core_hub_child_failed(dev))
		bu_core_dev(dev)->addr_lock = false; /* the hub holds the lock now */
	bu_core_addr_unlock(dev);
	if (err) {
		dev->state = BU_DEV_FAILED;
		dev->error = err;
		dev->error_step = bu_core_enum_step_name(dev);
		bus->stats.devices_failed++;
		bu_core_log(bus, BU_LOG_WARN, "device %s: %s failed: %s",
			    bu_core_dev_path(dev, path, sizeof(path)), dev->error_step,
			    bu_strerror(err));
	} else {
		dev->state = BU_DEV_CONFIGURED;
		bus->stats.devices_configured++;
		/* The probe is the timeline's last step: done once it is (and
		 * before the log line, whose console time is no step's). */
		bu_core_bind_device(dev);
		dev->t_done_us = bu_core_now(bus);
		bu_core_step_end(dev, dev->t_done_us);
		bu_core_log(bus, BU_LOG_INFO, "device %s: %04x:%04x configured in %llu us",
			    bu_core_dev_path(dev, path, sizeof(path)), dev->desc.idVendor,
			    dev->desc.idProduct,
			    (unsigned long long)(dev->t_done_us - dev->t_start_us));
	}
	if (bus->enumerating)
		bus->enumerating--;
	bus->stats.t_settled_us = dev->t_done_us;
	bu_core_notify_added(dev);
}
