/*
 * Device reports: the `usbdev` JSON object (DESIGN.md, "The usbdev line")
 * and a one-line human summary. Both only read the device; they may be
 * called from event callbacks.
 */
#include "bareusb/desc.h"
#include "bareusb/usb.h"
#include "bareusb/util.h"

const char *bu_usb_speed_name(enum bu_usb_speed speed)
{
	switch (speed) {
	case BU_SPEED_LOW:
		return "low";
	case BU_SPEED_FULL:
		return "full";
	case BU_SPEED_HIGH:
		return "high";
	case BU_SPEED_SUPER:
		return "super";
	case BU_SPEED_SUPER_PLUS:
		return "super+";
	default:
		return "unknown";
	}
}

const char *bu_usb_ep_type_name(uint8_t attributes)
{
	switch (USB_ENDPOINT_XFERTYPE(attributes)) {
	case BU_EP_CONTROL:
		return "control";
	case BU_EP_ISOCH:
		return "isochronous";
	case BU_EP_BULK:
		return "bulk";
	default:
		return "interrupt";
	}
}

static const char *const dev_state_names[] = {
    [BU_DEV_NEW] = "new",
    [BU_DEV_ENUMERATING] = "enumerating",
    [BU_DEV_CONFIGURED] = "configured",
    [BU_DEV_FAILED] = "failed",
    [BU_DEV_GONE] = "gone",
};

/** Name of a device state. */
static const char *dev_state_name(enum bu_usb_dev_state st)
{
	if ((unsigned)st < BU_ARRAY_SIZE(dev_state_names))
		return dev_state_names[st];
	return "unknown";
}

/** Append the dotted port path ("3" on a root port, "3.2" behind a hub). */
static void put_path(struct bu_strbuf *sb, const struct bu_usb_device *dev)
{
	unsigned n = dev->tier < BU_USB_MAX_PATH ? dev->tier : BU_USB_MAX_PATH;

	if (n == 0) { /* not placed yet: the root port is all we know */
		bu_strbuf_printf(sb, "%u", dev->root_port);
		return;
	}
	for (unsigned i = 0; i < n; i++)
		bu_strbuf_printf(sb, i ? ".%u" : "%u", dev->path[i]);
}

/**
 * The class driver bound to an alternate setting's interface in the active
 * configuration, or NULL (other configurations are never bound).
 */
static const char *alt_driver(const struct bu_usb_device *dev,
			      const struct bu_usb_config_info *cfg,
			      const struct bu_usb_alt_info *alt)
{
	if (dev->active_config < 0 || cfg != &dev->configs[dev->active_config])
		return NULL;
	for (unsigned i = 0; i < dev->num_ifaces && i < BU_USB_MAX_IFACES; i++)
		if (dev->ifaces[i].number == alt->number &&
		    dev->ifaces[i].driver)
			return dev->ifaces[i].driver->name;
	return NULL;
}

/** Append one endpoint object. */
static void put_endpoint(struct bu_strbuf *sb, const struct bu_usb_ep_info *ep)
{
	bu_strbuf_printf(sb,
			 "{\"address\":\"0x%02x\",\"type\":\"%s\",\"mps\":%u,"
			 "\"interval\":%u}",
			 ep->address, bu_usb_ep_type_name(ep->attributes),
			 (unsigned)USB_ENDPOINT_MAXP(ep->max_packet),
			 ep->interval);
}

/** Append one alternate setting object with its endpoints. */
static void put_alt(struct bu_strbuf *sb, const struct bu_usb_device *dev,
		    const struct bu_usb_config_info *cfg,
		    const struct bu_usb_alt_info *alt)
{
	bu_strbuf_printf(
	    sb,
	    "{\"number\":%u,\"alt\":%u,\"class\":%u,\"subclass\":%u,"
	    "\"protocol\":%u,\"driver\":",
	    alt->number, alt->alt, alt->class_code, alt->subclass,
	    alt->protocol);
	bu_strbuf_json_str(sb, alt_driver(dev, cfg, alt));
	bu_strbuf_printf(sb, ",\"endpoints\":[");
	for (unsigned i = 0; i < alt->num_eps; i++) {
		const struct bu_usb_ep_info *ep = bu_desc_alt_ep(cfg, alt, i);

		if (!ep)
			break;
		if (i)
			bu_strbuf_printf(sb, ",");
		put_endpoint(sb, ep);
	}
	bu_strbuf_printf(sb, "]}");
}

/** Append one configuration object. */
static void put_config(struct bu_strbuf *sb, const struct bu_usb_device *dev,
		       const struct bu_usb_config_info *cfg)
{
	/* USB 3.2 Table 9-21: 8 mA units at SuperSpeed, else 2 mA. */
	unsigned unit =
	    dev->speed == BU_SPEED_SUPER || dev->speed == BU_SPEED_SUPER_PLUS
		? 8
		: 2;

	bu_strbuf_printf(sb,
			 "{\"value\":%u,\"attributes\":%u,\"maxpower_ma\":%u,"
			 "\"interfaces\":[",
			 cfg->value, cfg->attributes, cfg->max_power * unit);
	for (unsigned i = 0; cfg->alts && i < cfg->num_alts; i++) {
		if (i)
			bu_strbuf_printf(sb, ",");
		put_alt(sb, dev, cfg, &cfg->alts[i]);
	}
	bu_strbuf_printf(sb, "]}");
}

size_t bu_usb_device_json(const struct bu_usb_device *dev, char *buf,
			  size_t size)
{
	struct bu_strbuf sb;
	unsigned nconf;

	bu_strbuf_init(&sb, buf, size);
	if (!dev) {
		bu_strbuf_printf(&sb, "null");
		return sb.len;
	}
	bu_strbuf_printf(&sb, "{\"bus\":%u,\"path\":\"",
			 dev->bus ? dev->bus->index : 0);
	put_path(&sb, dev);
	bu_strbuf_printf(&sb, "\",\"tier\":%u,\"slot\":%u,\"speed\":\"%s\"",
			 dev->tier, dev->slot, bu_usb_speed_name(dev->speed));
	if (dev->have_desc) {
		const struct usb_device_descriptor *d = &dev->desc;

		bu_strbuf_printf(
		    &sb,
		    ",\"vid\":\"%04x\",\"pid\":\"%04x\",\"bcdUSB\":\"%04x\","
		    "\"bcdDevice\":\"%04x\",\"class\":%u,\"subclass\":%u,"
		    "\"protocol\":%u",
		    d->idVendor, d->idProduct, d->bcdUSB, d->bcdDevice,
		    d->bDeviceClass, d->bDeviceSubClass, d->bDeviceProtocol);
	}
	bu_strbuf_printf(&sb, ",\"mps0\":%u,\"manufacturer\":", dev->ep0.mps);
	bu_strbuf_json_str(&sb,
			   dev->have_manufacturer ? dev->manufacturer : NULL);
	bu_strbuf_printf(&sb, ",\"product\":");
	bu_strbuf_json_str(&sb, dev->have_product ? dev->product : NULL);
	bu_strbuf_printf(&sb, ",\"serial\":");
	bu_strbuf_json_str(&sb, dev->have_serial ? dev->serial : NULL);
	bu_strbuf_printf(&sb, ",\"configuration\":%u,\"configs\":[",
			 dev->config_value);
	nconf = dev->num_configs < BU_USB_MAX_CONFIGS ? dev->num_configs
						      : BU_USB_MAX_CONFIGS;
	for (unsigned i = 0; i < nconf; i++) {
		if (i)
			bu_strbuf_printf(&sb, ",");
		put_config(&sb, dev, &dev->configs[i]);
	}
	bu_strbuf_printf(&sb, "]");
	if (dev->error) {
		char msg[96];

		if (dev->error_step)
			bu_snprintf(msg, sizeof(msg), "%s: %s", dev->error_step,
				    bu_strerror(dev->error));
		else
			bu_snprintf(msg, sizeof(msg), "%s",
				    bu_strerror(dev->error));
		bu_strbuf_printf(&sb, ",\"error\":");
		bu_strbuf_json_str(&sb, msg);
	}
	bu_strbuf_printf(&sb, "}");
	return sb.len;
}

/** Append device text with control characters replaced (no line injection). */
static void put_printable(struct bu_strbuf *sb, const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		bu_strbuf_printf(sb, "%c",
				 c < 0x20 || c == 0x7f ? '?' : (char)c);
	}
}

size_t bu_usb_device_summary(const struct bu_usb_device *dev, char *buf,
			     size_t size)
{
	struct bu_strbuf sb;

	bu_strbuf_init(&sb, buf, size);
	if (!dev)
		return 0;
	put_path(&sb, dev);
	bu_strbuf_printf(&sb, " %s", bu_usb_speed_name(dev->speed));
	if (dev->have_desc)
		bu_strbuf_printf(&sb, " %04x:%04x", dev->desc.idVendor,
				 dev->desc.idProduct);
	if (dev->have_product) {
		bu_strbuf_printf(&sb, " ");
		put_printable(&sb, dev->product);
	}
	if (dev->error)
		bu_strbuf_printf(
		    &sb, " [%s: %s%s%s]", dev_state_name(dev->state),
		    dev->error_step ? dev->error_step : "",
		    dev->error_step ? ": " : "", bu_strerror(dev->error));
	else
		bu_strbuf_printf(&sb, " [%s]", dev_state_name(dev->state));
	return sb.len;
}

size_t bu_usb_device_tree_line(const struct bu_usb_device *dev, char *buf,
			       size_t size)
{
	struct bu_strbuf sb, pb;
	char path[4 * BU_USB_MAX_PATH + 4];
	unsigned tier, start;

	bu_strbuf_init(&sb, buf, size);
	if (!dev)
		return 0;
	bu_strbuf_init(&pb, path, sizeof(path));
	put_path(&pb, dev);
	tier = dev->tier < 6 ? dev->tier : 6;
	bu_strbuf_printf(&sb, "%*s%-*s %-6s %04x:%04x  ", 2 * (int)dev->tier, "",
			 (int)(14 - 2 * tier), path, bu_usb_speed_name(dev->speed),
			 dev->desc.idVendor, dev->desc.idProduct);
	start = (unsigned)sb.len;
	put_printable(&sb, dev->have_product ? dev->product : "-");
	for (unsigned n = (unsigned)sb.len - start; n < 24; n++)
		bu_strbuf_printf(&sb, " ");
	bu_strbuf_printf(&sb, " slot %-3u %s", dev->slot,
			 dev->state == BU_DEV_FAILED ? "FAILED"
						     : dev_state_name(dev->state));
	if (dev->error)
		bu_strbuf_printf(&sb, " (%s: %s)",
				 dev->error_step ? dev->error_step : "?",
				 bu_strerror(dev->error));
	return sb.len;
}
