/*
 * The debug console (guest word `console`): after start-up the image reads
 * commands on its serial line, one a line, and answers on the console,
 * while it keeps polling every bus (hot-plug goes on being reported).
 * tests/runner.py --console FILE types a file's commands; docs/contracts.md
 * has the commands and the lines they print.
 *
 * Reading order: input (the line reader, which polls the buses while it
 * waits), argument parsing (every argument is untrusted), descriptors as
 * lsusb prints them, then one function per command and the command table.
 */
#include "guest.h"

#include "bareusb/desc.h"
#include "bareusb/errors.h"
#include "bareusb/usb.h"
#include "bareusb/util.h"
#include "bareusb/xhci.h"

#define PROMPT	    "usbsh> "
#define LINE_MAX    1024 /* bytes of a command line, newline excluded */
#define MAX_ARGS    12
#define DATA_MAX    4096 /* wLength, read and write lengths */
#define TIMEOUT_DEF 1000 /* read/write timeout, ms */
#define TIMEOUT_MAX 60000
#define RESET_WAIT_MS 5000 /* reset: the device back and configured */

static char line[LINE_MAX + 1];
static unsigned cur_bus;	/* `bus N` */
static unsigned n_errors;	/* error lines printed */
static int saved_log_level = -1; /* before `trace on` raised it */
/* Transfer data: whole cache lines (the DMA contract, docs/platform.md). */
static uint8_t data_buf[DATA_MAX] __attribute__((aligned(64)));
static uint8_t desc_buf[1024] __attribute__((aligned(64)));
static char str_buf[3 * BU_USB_MAX_STRING + 1];

/* ------------------------------------------------------------------------ */
/* Input                                                                    */

/** Poll every bus once and print what the log kept meanwhile. */
static void poll_buses(void)
{
	for (unsigned i = 0; i < guest_controller_count(); i++) {
		struct bu_usb_bus *bus = guest_bus(i);

		if (bus && !bus->failed)
			bu_usb_bus_poll(bus);
	}
	guest_log_flush();
}

/**
 * Read one line into `line`, echoing what is typed (backspace edits).
 * Polls the buses while no byte is waiting. Returns false for a line
 * longer than LINE_MAX (the rest of it is read and dropped).
 */
static bool read_line(void)
{
	size_t n = 0;
	bool too_long = false;

	for (;;) {
		int c = console_getc();

		if (c < 0) {
			poll_buses();
			cpu_relax();
			continue;
		}
		if (c == '\r' || c == '\n') {
			console_write("\n", 1);
			break;
		}
		if (c == 0x7f || c == 0x08) {
			if (n) {
				n--;
				console_write("\b \b", 3);
			}
			continue;
		}
		if (c < 0x20 || c > 0x7e)
			c = '?'; /* control and non-ASCII bytes stay visible */
		if (n == LINE_MAX) {
			too_long = true;
			continue;
		}
		line[n++] = (char)c;
		console_putc((char)c);
	}
	line[n] = 0;
	return !too_long;
}

/* ------------------------------------------------------------------------ */
/* Arguments                                                                */

/** Print "error: WHAT: message" and count it. */
__attribute__((format(printf, 2, 3))) static int fail(const char *what, const char *fmt, ...)
{
	char buf[256];
	va_list ap;

	va_start(ap, fmt);
	bu_vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	kprintf("error: %s: %s\n", what, buf);
	n_errors++;
	return -1;
}

/** Value of a hex digit, or -1. */
static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/**
 * Parse a number, decimal or 0x hex, at most `max`. Prints the error
 * naming `what` and returns false when `s` is not one.
 */
static bool parse_num(const char *cmd, const char *what, const char *s, uint32_t max,
		      uint32_t *out)
{
	unsigned base = 10;
	uint64_t v = 0;
	const char *p = s;

	if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
		base = 16;
		p += 2;
	}
	if (!*p) {
		fail(cmd, "%s: \"%s\" is not a number", what, s);
		return false;
	}
	for (; *p; p++) {
		int d = hex_digit(*p);

		if (d < 0 || (unsigned)d >= base) {
			fail(cmd, "%s: \"%s\" is not a number", what, s);
			return false;
		}
		v = v * base + (unsigned)d;
		if (v > max) {
			fail(cmd, "%s: %s is over %u", what, s, max);
			return false;
		}
	}
	*out = (uint32_t)v;
	return true;
}

/** Parse hex bytes ("0102ab", an optional 0x) into buf; returns the count or -1. */
static int parse_hex(const char *cmd, const char *s, uint8_t *buf, size_t max)
{
	size_t n = 0;

	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
		s += 2;
	for (; s[0]; s += 2) {
		int hi = hex_digit(s[0]), lo = s[1] ? hex_digit(s[1]) : -1;

		if (hi < 0 || lo < 0)
			return fail(cmd, "data: not an even number of hex digits");
		if (n == max)
			return fail(cmd, "data: more than %zu bytes", max);
		buf[n++] = (uint8_t)(hi << 4 | lo);
	}
	return (int)n;
}

/** The current bus, or NULL after an error line. */
static struct bu_usb_bus *bus_or_fail(const char *cmd)
{
	struct bu_usb_bus *bus = guest_bus(cur_bus);

	if (!bus)
		fail(cmd, "bus %u has no running controller", cur_bus);
	return bus;
}

/** The configured device at port path `path` of the current bus, or NULL. */
static struct bu_usb_device *device_or_fail(const char *cmd, const char *path)
{
	struct bu_usb_match m = {.flags = BU_MATCH_PATH, .path = path};
	struct bu_usb_bus *bus = bus_or_fail(cmd);
	struct bu_usb_device *dev = NULL;
	int rc;

	if (!bus)
		return NULL;
	rc = bu_usb_find_device(bus, &m, &dev);
	if (rc == BU_EINVAL)
		fail(cmd, "\"%s\" is not a port path (root port, then hub ports: 3 or 11.2)",
		     path);
	else if (rc)
		fail(cmd, "no configured device at path %s on bus %u", path, cur_bus);
	return rc ? NULL : dev;
}

/** Print "data: xx xx ..." for n bytes (nothing for 0). */
static void print_data(const uint8_t *p, size_t n)
{
	static const char hexd[] = "0123456789abcdef";
	char chunk[3 * 32 + 1];

	if (!n)
		return;
	kprintf("data:");
	for (size_t i = 0; i < n; i += 32) {
		size_t k = 0;

		for (size_t j = i; j < n && j < i + 32; j++) {
			chunk[k++] = ' ';
			chunk[k++] = hexd[p[j] >> 4];
			chunk[k++] = hexd[p[j] & 15];
		}
		console_write(chunk, k);
	}
	kprintf("\n");
}

/* ------------------------------------------------------------------------ */
/* Descriptors as lsusb prints them                                         */

static const char *class_name(unsigned c)
{
	switch (c) {
	case 0x00: return ">ifc";
	case 0x01: return "Audio";
	case 0x02: return "Communications";
	case 0x03: return "Human Interface Device";
	case 0x05: return "Physical Interface Device";
	case 0x06: return "Imaging";
	case 0x07: return "Printer";
	case 0x08: return "Mass Storage";
	case 0x09: return "Hub";
	case 0x0a: return "CDC Data";
	case 0x0b: return "Chip/SmartCard";
	case 0x0d: return "Content Security";
	case 0x0e: return "Video";
	case 0x0f: return "Personal Healthcare";
	case 0x10: return "Audio/Video Devices";
	case 0x11: return "Billboard";
	case 0xdc: return "Diagnostic";
	case 0xe0: return "Wireless";
	case 0xef: return "Miscellaneous Device";
	case 0xfe: return "Application Specific Interface";
	case 0xff: return "Vendor Specific Class";
	default: return "";
	}
}

static const char *speed_mbps(enum bu_usb_speed s)
{
	switch (s) {
	case BU_SPEED_LOW: return "1.5M";
	case BU_SPEED_FULL: return "12M";
	case BU_SPEED_HIGH: return "480M";
	case BU_SPEED_SUPER: return "5000M";
	case BU_SPEED_SUPER_PLUS: return "10000M";
	default: return "?";
	}
}

/** String descriptor `idx` of `dev` in its first language, UTF-8; "" when none. */
static const char *dev_string(struct bu_usb_device *dev, uint8_t idx)
{
	int n;

	str_buf[0] = 0;
	if (!idx || !dev->langid)
		return str_buf;
	n = bu_usb_get_descriptor(dev, USB_RECIP_DEVICE, USB_DT_STRING, idx, dev->langid,
				  desc_buf, 255);
	if (n >= 2 && desc_buf[1] == USB_DT_STRING) {
		size_t len = BU_MIN((size_t)n, (size_t)desc_buf[0]);

		if (len >= 2)
			bu_utf16le_to_utf8(desc_buf + 2, (len - 2) / 2, str_buf, sizeof(str_buf));
	}
	for (char *p = str_buf; *p; p++)
		if ((unsigned char)*p < 0x20)
			*p = '?';
	return str_buf;
}

/** How a descriptor field is shown. */
enum fkind { F_DEC, F_HEX, F_BCD, F_STR, F_HEX16, F_CLASS };

/** One field of a descriptor: name, offset, size (1, 2 or 4), kind. */
struct field {
	const char *name;
	uint8_t off, size, kind;
};

/** A little-endian field of 1, 2 or 4 bytes. */
static uint32_t get_field(const uint8_t *d, const struct field *f)
{
	return f->size == 1 ? d[f->off] : f->size == 2 ? bu_get_le16(d + f->off) : bu_get_le32(d + f->off);
}

/**
 * Print the fields of descriptor `d` (its bLength `len`) that lie inside
 * it, one a line at `indent`, by name as lsusb does.
 */
static void put_fields(struct bu_usb_device *dev, unsigned indent, const uint8_t *d, unsigned len,
		       const struct field *f, unsigned n)
{
	for (unsigned i = 0; i < n; i++, f++) {
		uint32_t v;

		if (f->off + f->size > len)
			break;
		v = get_field(d, f);
		switch (f->kind) {
		case F_HEX:
			kprintf("%*s%-19s0x%0*x\n", indent, "", f->name, f->size * 2, v);
			break;
		case F_HEX16:
			kprintf("%*s%-19s0x%04x\n", indent, "", f->name, v);
			break;
		case F_BCD:
			kprintf("%*s%-19s%2x.%02x\n", indent, "", f->name, v >> 8, v & 0xff);
			break;
		case F_CLASS:
			kprintf("%*s%-19s%5u %s\n", indent, "", f->name, v, class_name(v));
			break;
		case F_STR:
			kprintf("%*s%-19s%5u %s\n", indent, "", f->name, v,
				dev_string(dev, (uint8_t)v));
			break;
		default:
			kprintf("%*s%-19s%5u\n", indent, "", f->name, v);
			break;
		}
	}
}

static const struct field device_fields[] = {
	{"bLength", 0, 1, F_DEC},	    {"bDescriptorType", 1, 1, F_DEC},
	{"bcdUSB", 2, 2, F_BCD},	    {"bDeviceClass", 4, 1, F_CLASS},
	{"bDeviceSubClass", 5, 1, F_DEC},   {"bDeviceProtocol", 6, 1, F_DEC},
	{"bMaxPacketSize0", 7, 1, F_DEC},   {"idVendor", 8, 2, F_HEX},
	{"idProduct", 10, 2, F_HEX},	    {"bcdDevice", 12, 2, F_BCD},
	{"iManufacturer", 14, 1, F_STR},    {"iProduct", 15, 1, F_STR},
	{"iSerial", 16, 1, F_STR},	    {"bNumConfigurations", 17, 1, F_DEC},
};
static const struct field config_fields[] = {
	{"bLength", 0, 1, F_DEC},	     {"bDescriptorType", 1, 1, F_DEC},
	{"wTotalLength", 2, 2, F_HEX16},     {"bNumInterfaces", 4, 1, F_DEC},
	{"bConfigurationValue", 5, 1, F_DEC}, {"iConfiguration", 6, 1, F_STR},
	{"bmAttributes", 7, 1, F_HEX},
};
static const struct field iface_fields[] = {
	{"bLength", 0, 1, F_DEC},	      {"bDescriptorType", 1, 1, F_DEC},
	{"bInterfaceNumber", 2, 1, F_DEC},    {"bAlternateSetting", 3, 1, F_DEC},
	{"bNumEndpoints", 4, 1, F_DEC},	      {"bInterfaceClass", 5, 1, F_CLASS},
	{"bInterfaceSubClass", 6, 1, F_DEC},  {"bInterfaceProtocol", 7, 1, F_DEC},
	{"iInterface", 8, 1, F_STR},
};
static const struct field iad_fields[] = {
	{"bLength", 0, 1, F_DEC},	   {"bDescriptorType", 1, 1, F_DEC},
	{"bFirstInterface", 2, 1, F_DEC},  {"bInterfaceCount", 3, 1, F_DEC},
	{"bFunctionClass", 4, 1, F_CLASS},   {"bFunctionSubClass", 5, 1, F_DEC},
	{"bFunctionProtocol", 6, 1, F_DEC}, {"iFunction", 7, 1, F_STR},
};
static const struct field hid_fields[] = {
	{"bLength", 0, 1, F_DEC},	  {"bDescriptorType", 1, 1, F_DEC},
	{"bcdHID", 2, 2, F_BCD},	  {"bCountryCode", 4, 1, F_DEC},
	{"bNumDescriptors", 5, 1, F_DEC},
};
static const struct field ss_comp_fields[] = {
	{"bLength", 0, 1, F_DEC},	     {"bDescriptorType", 1, 1, F_DEC},
	{"bMaxBurst", 2, 1, F_DEC},	     {"bmAttributes", 3, 1, F_HEX},
	{"wBytesPerInterval", 4, 2, F_DEC},
};

/** An endpoint descriptor, with its transfer type spelt out. */
static void put_endpoint(const uint8_t *d, unsigned len)
{
	static const char *const types[] = {"Control", "Isochronous", "Bulk", "Interrupt"};
	static const char *const syncs[] = {"None", "Asynchronous", "Adaptive", "Synchronous"};
	static const char *const usages[] = {"Data", "Feedback", "Implicit feedback Data",
					     "Reserved"};
	unsigned mps;

	kprintf("      Endpoint Descriptor:\n");
	if (len < USB_DT_ENDPOINT_SIZE) {
		kprintf("        ** truncated endpoint descriptor (bLength %u)\n", len);
		return;
	}
	mps = bu_get_le16(d + 4);
	kprintf("        bLength            %5u\n", d[0]);
	kprintf("        bDescriptorType    %5u\n", d[1]);
	kprintf("        bEndpointAddress    0x%02x  EP %u %s\n", d[2], d[2] & 0x0f,
		(d[2] & 0x80) ? "IN" : "OUT");
	kprintf("        bmAttributes       %5u\n", d[3]);
	kprintf("          Transfer Type            %s\n", types[d[3] & 3]);
	kprintf("          Synch Type               %s\n", syncs[(d[3] >> 2) & 3]);
	kprintf("          Usage Type               %s\n", usages[(d[3] >> 4) & 3]);
	kprintf("        wMaxPacketSize     0x%04x  %ux %u bytes\n", mps,
		((mps >> 11) & 3) + 1, mps & 0x7ff);
	kprintf("        bInterval          %5u\n", d[6]);
}

/** A HID class descriptor (HID 1.11 §6.2.1), its class descriptor list strictly. */
static void put_hid(struct bu_usb_device *dev, const uint8_t *d, unsigned len)
{
	kprintf("        HID Device Descriptor:\n");
	put_fields(dev, 10, d, len, hid_fields, BU_ARRAY_SIZE(hid_fields));
	if (len < 6 || 6u + 3u * d[5] > len) {
		kprintf("          ** malformed HID descriptor: %u class descriptor(s) in %u bytes\n",
			len >= 6 ? d[5] : 0, len);
		return;
	}
	for (unsigned i = 0; i < d[5]; i++) {
		const uint8_t *c = d + 6 + 3 * i;

		kprintf("          bDescriptorType    %5u %s\n", c[0],
			c[0] == 0x22 ? "Report" : c[0] == 0x23 ? "Physical" : "");
		kprintf("          wDescriptorLength  %5u\n", bu_get_le16(c + 1));
	}
}

/** Any other descriptor: its bytes. */
static void put_unknown(unsigned indent, const uint8_t *d, unsigned len)
{
	kprintf("%*s** UNRECOGNIZED: ", indent, "");
	for (unsigned i = 0; i < len; i++)
		kprintf("%02x ", d[i]);
	kprintf("\n");
}

/**
 * A configuration as the device sent it (the core's copy of the bytes
 * that arrived), walked by bLength: every length is checked against what
 * is left before the descriptor is read.
 */
static void put_config(struct bu_usb_device *dev, const struct bu_usb_config_info *cfg)
{
	const uint8_t *p = cfg->raw;
	unsigned left = cfg->total_len, indent = 4;

	if (!p || left < USB_DT_CONFIG_SIZE) {
		kprintf("  Configuration Descriptor: ** not available\n");
		return;
	}
	while (left >= 2) {
		unsigned len = p[0];

		if (len < 2 || len > left) {
			kprintf("%*s** malformed descriptor: bLength %u with %u byte(s) left\n",
				indent, "", len, left);
			return;
		}
		switch (p[1]) {
		case USB_DT_CONFIG:
			kprintf("  Configuration Descriptor:\n");
			put_fields(dev, 4, p, len, config_fields, BU_ARRAY_SIZE(config_fields));
			kprintf("    MaxPower           %5umA\n",
				len > 8 ? p[8] * (dev->speed >= BU_SPEED_SUPER ? 8u : 2u) : 0u);
			break;
		case USB_DT_IAD:
			kprintf("    Interface Association:\n");
			put_fields(dev, 6, p, len, iad_fields, BU_ARRAY_SIZE(iad_fields));
			break;
		case USB_DT_INTERFACE:
			kprintf("    Interface Descriptor:\n");
			put_fields(dev, 6, p, len, iface_fields, BU_ARRAY_SIZE(iface_fields));
			indent = 6;
			break;
		case USB_DT_ENDPOINT:
			put_endpoint(p, len);
			indent = 8;
			break;
		case USB_DT_HID:
			put_hid(dev, p, len);
			break;
		case USB_DT_SS_EP_COMP:
			kprintf("        SuperSpeed Endpoint Companion Descriptor:\n");
			put_fields(dev, 10, p, len, ss_comp_fields, BU_ARRAY_SIZE(ss_comp_fields));
			break;
		default:
			put_unknown(indent, p, len);
			break;
		}
		p += len;
		left -= len;
	}
	if (left)
		kprintf("    ** %u byte(s) left over after the last descriptor\n", left);
}

/** A hub's class descriptor (USB 2.0 §11.23.2.1, USB 3.2 §10.15.2.1), read now. */
static void put_hub(struct bu_usb_device *dev)
{
	bool ss = dev->speed >= BU_SPEED_SUPER;
	int n = bu_usb_control(dev, 0xa0, USB_REQ_GET_DESCRIPTOR,
			       (uint16_t)((ss ? USB_DT_SS_HUB : USB_DT_HUB) << 8), 0, desc_buf,
			       ss ? 12 : 71, BU_USB_REQUEST_TIMEOUT_MS);
	unsigned len;

	kprintf("Hub Descriptor:\n");
	if (n < 0) {
		kprintf("  ** cannot read it: %s\n", bu_strerror(n));
		return;
	}
	len = BU_MIN((unsigned)n, (unsigned)desc_buf[0]);
	if (len < 7) {
		kprintf("  ** malformed hub descriptor: %u byte(s)\n", len);
		return;
	}
	kprintf("  bLength            %5u\n", desc_buf[0]);
	kprintf("  bDescriptorType    %5u\n", desc_buf[1]);
	kprintf("  nNbrPorts          %5u\n", desc_buf[2]);
	kprintf("  wHubCharacteristic 0x%04x\n", bu_get_le16(desc_buf + 3));
	kprintf("  bPwrOn2PwrGood     %5u * 2 milli seconds\n", desc_buf[5]);
	kprintf("  bHubContrCurrent   %5u milli Ampere\n", desc_buf[6]);
	if (ss && len >= 12) {
		kprintf("  bHubDecLat         %5u\n", desc_buf[7]);
		kprintf("  wHubDelay          %5u nano seconds\n", bu_get_le16(desc_buf + 8));
		kprintf("  DeviceRemovable    0x%04x\n", bu_get_le16(desc_buf + 10));
	} else if (len >= 8) {
		kprintf("  DeviceRemovable    0x%02x\n", desc_buf[7]);
	}
}

static const struct field bos_fields[] = {
	{"bLength", 0, 1, F_DEC},	  {"bDescriptorType", 1, 1, F_DEC},
	{"wTotalLength", 2, 2, F_HEX16},  {"bNumDeviceCaps", 4, 1, F_DEC},
};
static const struct field usb2_ext_fields[] = {
	{"bLength", 0, 1, F_DEC},	     {"bDescriptorType", 1, 1, F_DEC},
	{"bDevCapabilityType", 2, 1, F_DEC}, {"bmAttributes", 3, 4, F_HEX},
};
static const struct field ss_cap_fields[] = {
	{"bLength", 0, 1, F_DEC},	       {"bDescriptorType", 1, 1, F_DEC},
	{"bDevCapabilityType", 2, 1, F_DEC},   {"bmAttributes", 3, 1, F_HEX},
	{"wSpeedsSupported", 4, 2, F_HEX16},   {"bFunctionalitySupport", 6, 1, F_DEC},
	{"bU1DevExitLat", 7, 1, F_DEC},	       {"wU2DevExitLat", 8, 2, F_DEC},
};
static const struct field cap_fields[] = {
	{"bLength", 0, 1, F_DEC},
	{"bDescriptorType", 1, 1, F_DEC},
	{"bDevCapabilityType", 2, 1, F_DEC},
};

/**
 * The BOS (USB 3.2 §9.6.2), read now: its 5-byte header, then all of
 * wTotalLength, parsed strictly by the core's parser before anything is
 * printed from it.
 */
static void put_bos(struct bu_usb_device *dev)
{
	static struct bu_bos_info bos;
	const char *why = NULL;
	unsigned total;
	int n = bu_usb_get_descriptor(dev, USB_RECIP_DEVICE, USB_DT_BOS, 0, 0, desc_buf,
				      USB_DT_BOS_SIZE);

	kprintf("Binary Object Store Descriptor:\n");
	if (n < USB_DT_BOS_SIZE) {
		kprintf("  ** cannot read it: %s\n", n < 0 ? bu_strerror(n) : "short header");
		return;
	}
	total = BU_MIN((unsigned)bu_get_le16(desc_buf + 2), (unsigned)sizeof(desc_buf));
	n = bu_usb_get_descriptor(dev, USB_RECIP_DEVICE, USB_DT_BOS, 0, 0, desc_buf,
				  (uint16_t)total);
	if (n < 0 || bu_desc_parse_bos(desc_buf, (size_t)n, &bos, &why)) {
		kprintf("  ** malformed BOS: %s\n", n < 0 ? bu_strerror(n) : why ? why : "?");
		return;
	}
	put_fields(dev, 2, desc_buf, desc_buf[0], bos_fields, BU_ARRAY_SIZE(bos_fields));
	if (bos.warnings)
		kprintf("  ** %u irregularit%s tolerated\n", bos.warnings,
			bos.warnings == 1 ? "y" : "ies");
	for (unsigned i = 0; i < bos.num_caps; i++) {
		const struct bu_bos_cap *c = &bos.caps[i];

		switch (c->type) {
		case USB_CAP_USB2_EXT:
			kprintf("  USB 2.0 Extension Device Capability:\n");
			put_fields(dev, 4, c->data, c->len, usb2_ext_fields,
				   BU_ARRAY_SIZE(usb2_ext_fields));
			break;
		case USB_CAP_SUPERSPEED:
			kprintf("  SuperSpeed USB Device Capability:\n");
			put_fields(dev, 4, c->data, c->len, ss_cap_fields,
				   BU_ARRAY_SIZE(ss_cap_fields));
			break;
		default:
			kprintf("  Device Capability type %u:\n", c->type);
			put_fields(dev, 4, c->data, c->len, cap_fields, BU_ARRAY_SIZE(cap_fields));
			put_unknown(4, c->data, c->len);
			break;
		}
	}
}

/** lsusb -v for one device: every descriptor by field name. */
static void put_device_verbose(struct bu_usb_device *dev)
{
	int n = bu_usb_get_descriptor(dev, USB_RECIP_DEVICE, USB_DT_DEVICE, 0, 0, desc_buf,
				      USB_DT_DEVICE_SIZE);
	uint16_t status = 0;

	kprintf("Device Descriptor:\n");
	if (n < USB_DT_DEVICE_SIZE) {
		kprintf("  ** cannot read it: %s\n", n < 0 ? bu_strerror(n) : "short");
		return;
	}
	/* desc_buf is reused by the string reads: keep the 18 bytes apart. */
	uint8_t dd[USB_DT_DEVICE_SIZE];

	bu_memcpy(dd, desc_buf, sizeof(dd));
	put_fields(dev, 2, dd, BU_MIN((unsigned)dd[0], (unsigned)sizeof(dd)), device_fields,
		   BU_ARRAY_SIZE(device_fields));
	for (unsigned i = 0; i < dev->num_configs; i++)
		put_config(dev, &dev->configs[i]);
	if (dev->desc.bDeviceClass == 0x09)
		put_hub(dev);
	if (dev->desc.bcdUSB >= 0x0201)
		put_bos(dev);
	n = bu_usb_get_status(dev, USB_RECIP_DEVICE, 0, &status);
	if (n)
		kprintf("Device Status:     ** %s\n", bu_strerror(n));
	else
		kprintf("Device Status:     0x%04x\n  (%s)\n", status,
			(status & 1) ? "Self Powered" : "Bus Powered");
}

/* ------------------------------------------------------------------------ */
/* Commands                                                                 */

/** One lsusb line: "Bus 000 Device 003: ID 0627:0001 QEMU QEMU USB Keyboard". */
static int lsusb_line(struct bu_usb_device *dev, void *ctx)
{
	(void)ctx;
	kprintf("Bus %03u Device %03u: ID %04x:%04x %s %s\n", dev->bus->index, dev->address,
		dev->desc.idVendor, dev->desc.idProduct,
		dev->have_manufacturer ? dev->manufacturer : "",
		dev->have_product ? dev->product : "");
	return 0;
}

/** lsusb -t: one line per interface, indented by tier. */
static int lsusb_tree(struct bu_usb_device *dev, void *ctx)
{
	(void)ctx;
	for (unsigned i = 0; i < dev->num_ifaces; i++) {
		const struct bu_usb_interface *intf = &dev->ifaces[i];
		const struct bu_usb_driver *drv = intf->driver;

		char ports[8] = "";

		if (drv && dev->is_hub)
			bu_snprintf(ports, sizeof(ports), "/%up", dev->hub_nports);
		kprintf("%*s|__ Port %u: Dev %u, If %u, Class=%s, Driver=%s%s, %s\n",
			4 * dev->tier, "", dev->port, dev->address, intf->number,
			class_name(intf->info ? intf->info->class_code : 0),
			drv ? drv->name : "[none]", ports, speed_mbps(dev->speed));
	}
	if (!dev->num_ifaces)
		kprintf("%*s|__ Port %u: Dev %u, %s\n", 4 * dev->tier, "", dev->port,
			dev->address, dev->error ? bu_strerror(dev->error) : "unconfigured");
	return 0;
}

/** lsusb -v: the verbose dump of each device (or of the one at -s PATH). */
static int lsusb_verbose(struct bu_usb_device *dev, void *ctx)
{
	(void)ctx;
	kprintf("\n");
	lsusb_line(dev, NULL);
	if (dev->state == BU_DEV_CONFIGURED)
		put_device_verbose(dev);
	else
		kprintf("  ** not configured: %s\n", bu_strerror(dev->error));
	return 0;
}

static int cmd_lsusb(unsigned argc, char **argv)
{
	struct bu_usb_bus *bus = bus_or_fail("lsusb");
	bool tree = false, verbose = false;
	const char *path = NULL;

	if (!bus)
		return -1;
	for (unsigned i = 1; i < argc; i++) {
		if (!bu_strcmp(argv[i], "-t"))
			tree = true;
		else if (!bu_strcmp(argv[i], "-v"))
			verbose = true;
		else if (!bu_strcmp(argv[i], "-s") && i + 1 < argc)
			path = argv[++i];
		else
			return fail("lsusb", "unknown option \"%s\" (-t, -v, -s PATH)", argv[i]);
	}
	if (path) {
		struct bu_usb_device *dev = device_or_fail("lsusb", path);

		if (!dev)
			return -1;
		return verbose ? lsusb_verbose(dev, NULL) : lsusb_line(dev, NULL);
	}
	if (tree) {
		kprintf("/:  Bus %02u.Port 1: Dev 0, Class=root_hub, Driver=xhci/%up\n",
			bus->index, bus->num_ports);
		return bu_usb_foreach_device(bus, lsusb_tree, NULL);
	}
	return bu_usb_foreach_device(bus, verbose ? lsusb_verbose : lsusb_line, NULL);
}

static int cmd_bus(unsigned argc, char **argv)
{
	uint32_t n;

	if (argc != 2)
		return fail("bus", "usage: bus N");
	if (!parse_num("bus", "N", argv[1], 255, &n))
		return -1;
	if (!guest_bus(n))
		return fail("bus", "bus %u has no running controller", n);
	cur_bus = n;
	kprintf("bus %u\n", n);
	return 0;
}

/** regs, ports, ctx SLOT, ring SLOT EP: parts of the controller's dump. */
static int cmd_dump(unsigned argc, char **argv)
{
	struct bu_usb_bus *bus = bus_or_fail(argv[0]);
	bool ring = !bu_strcmp(argv[0], "ring"), ctx = !bu_strcmp(argv[0], "ctx");
	unsigned want = ring ? 3 : ctx ? 2 : 1;
	uint32_t slot = 0, ep = 0;
	int rc;

	if (!bus)
		return -1;
	if (argc != want)
		return fail(argv[0], "usage: %s", ring ? "ring SLOT EP" : ctx ? "ctx SLOT" : argv[0]);
	if (want > 1 && !parse_num(argv[0], "SLOT", argv[1], 255, &slot))
		return -1;
	if (want > 1 && !slot)
		return fail(argv[0], "SLOT: slots are numbered from 1");
	if (ring && !parse_num(argv[0], "EP", argv[2], 0xff, &ep))
		return -1;
	if (ring && (ep & 0x70))
		return fail(argv[0], "EP: 0x%02x is not an endpoint address", ep);
	rc = bu_xhci_dump_part(bus,
			       ring  ? BU_XHCI_DUMP_RINGS
			       : ctx ? BU_XHCI_DUMP_CONTEXTS
			       : argv[0][0] == 'r' ? BU_XHCI_DUMP_REGS
						   : BU_XHCI_DUMP_PORTS,
			       slot, ring ? (int)ep : -1);
	if (rc == BU_ENOENT && ring)
		return fail(argv[0], "slot %u has no endpoint 0x%02x", slot, ep);
	if (rc == BU_ENOENT)
		return fail(argv[0], "slot %u is not enabled", slot);
	return rc ? fail(argv[0], "%s", bu_strerror(rc)) : 0;
}

static int cmd_trace(unsigned argc, char **argv)
{
	struct bu_usb_bus *bus = bus_or_fail("trace");
	struct bu_xhci_trace_filter f;
	char words[LINE_MAX + 1];
	struct bu_strbuf sb;

	if (!bus)
		return -1;
	if (argc < 2)
		return fail("trace", "usage: trace on|off|CATEGORIES[,slot=N][,ep=0xEE]");
	bu_strbuf_init(&sb, words, sizeof(words));
	for (unsigned i = 1; i < argc; i++)
		bu_strbuf_printf(&sb, "%s%s", i > 1 ? " " : "", argv[i]);
	if (!bu_strcmp(words, "on")) {
		bu_memset(&f, 0, sizeof(f));
		f.categories = BU_XHCI_TRACE_ALL;
	} else if (bu_xhci_trace_filter_parse(words, &f)) {
		return fail("trace", "\"%s\": categories are cmd, xfer, event, port, db, reg, enum, "
				     "all, off; then slot=N, ep=0xEE", words);
	}
	bu_xhci_set_trace_filter(bus, f.categories ? &f : NULL);
	if (f.categories && saved_log_level < 0) {
		saved_log_level = guest_log_level;
		guest_log_level = BU_LOG_TRACE;
	} else if (!f.categories && saved_log_level >= 0) {
		guest_log_level = saved_log_level;
		saved_log_level = -1;
	}
	if (!f.categories)
		kprintf("trace: off\n");
	else if (f.match_ep)
		kprintf("trace: categories=0x%02x slot=%u ep=0x%02x\n", f.categories, f.slot, f.ep);
	else
		kprintf("trace: categories=0x%02x slot=%u ep=any\n", f.categories, f.slot);
	return 0;
}

static int cmd_ctrl(unsigned argc, char **argv)
{
	static const char *const names[] = {"bmRequestType", "bRequest", "wValue", "wIndex",
					    "wLength"};
	static const uint32_t max[] = {0xff, 0xff, 0xffff, 0xffff, DATA_MAX};
	struct bu_usb_device *dev;
	uint32_t v[5];
	int n = 0, rc;

	if (argc != 7 && argc != 8)
		return fail("ctrl", "usage: ctrl PATH bmRequestType bRequest wValue wIndex "
				    "wLength [DATA]");
	for (unsigned i = 0; i < 5; i++)
		if (!parse_num("ctrl", names[i], argv[2 + i], max[i], &v[i]))
			return -1;
	/* USB 2.0 §9.4: standard requests that change the device's state under
	 * the stack's feet (its address, configuration, alternate settings). */
	if ((v[0] & 0x60) == 0 && (v[1] == USB_REQ_SET_ADDRESS || v[1] == USB_REQ_SET_CONFIGURATION ||
				   v[1] == USB_REQ_SET_INTERFACE))
		return fail("ctrl", "bRequest %u: SET_ADDRESS, SET_CONFIGURATION and SET_INTERFACE "
				    "would leave the stack out of step with the device", v[1]);
	if (v[0] & 0x80) {
		if (argc == 8)
			return fail("ctrl", "DATA given for an IN request (bmRequestType bit 7)");
	} else {
		n = argc == 8 ? parse_hex("ctrl", argv[7], data_buf, DATA_MAX) : 0;
		if (n < 0)
			return -1;
		if ((uint32_t)n != v[4])
			return fail("ctrl", "wLength %u but %d byte(s) of DATA", v[4], n);
	}
	dev = device_or_fail("ctrl", argv[1]);
	if (!dev)
		return -1;
	rc = bu_usb_control(dev, (uint8_t)v[0], (uint8_t)v[1], (uint16_t)v[2], (uint16_t)v[3],
			    data_buf, (uint16_t)v[4], BU_USB_REQUEST_TIMEOUT_MS);
	if (rc < 0) {
		kprintf("ctrl: status=%s (%d) actual=0\n", bu_strerror(rc), rc);
		return 0;
	}
	kprintf("ctrl: status=ok actual=%d\n", rc);
	if (v[0] & 0x80)
		print_data(data_buf, (size_t)rc);
	return 0;
}

/** read PATH EP LEN [TIMEOUT_MS] / write PATH EP HEX [TIMEOUT_MS]. */
static int cmd_rw(unsigned argc, char **argv)
{
	bool wr = argv[0][0] == 'w';
	struct bu_usb_device *dev;
	struct bu_usb_endpoint *ep;
	uint32_t addr, len = 0, timeout = TIMEOUT_DEF;
	size_t actual = 0;
	int rc;

	if (argc != 4 && argc != 5)
		return fail(argv[0], "usage: %s PATH EP %s [TIMEOUT_MS]", argv[0],
			    wr ? "HEX" : "LEN");
	if (!parse_num(argv[0], "EP", argv[2], 0xff, &addr))
		return -1;
	if ((addr & 0x70) || !(addr & 0x0f))
		return fail(argv[0], "EP: 0x%02x is not a bulk or interrupt endpoint address", addr);
	if (wr != !(addr & 0x80))
		return fail(argv[0], "EP: 0x%02x is an %s endpoint", addr,
			    (addr & 0x80) ? "IN" : "OUT");
	if (argc == 5 && !parse_num(argv[0], "TIMEOUT_MS", argv[4], TIMEOUT_MAX, &timeout))
		return -1;
	if (argc == 5 && !timeout)
		return fail(argv[0], "TIMEOUT_MS: must be at least 1");
	if (wr) {
		int n = parse_hex(argv[0], argv[3], data_buf, DATA_MAX);

		if (n < 0)
			return -1;
		len = (uint32_t)n;
	} else if (!parse_num(argv[0], "LEN", argv[3], DATA_MAX, &len)) {
		return -1;
	}
	dev = device_or_fail(argv[0], argv[1]);
	if (!dev)
		return -1;
	ep = bu_usb_find_endpoint(dev, (uint8_t)addr);
	if (!ep)
		return fail(argv[0], "path %s has no open endpoint 0x%02x", argv[1], addr);
	if (ep->type == BU_EP_BULK)
		rc = bu_usb_bulk(dev, (uint8_t)addr, data_buf, len, &actual, timeout);
	else if (ep->type == BU_EP_INTERRUPT)
		rc = bu_usb_interrupt(dev, (uint8_t)addr, data_buf, len, &actual, timeout);
	else
		return fail(argv[0], "endpoint 0x%02x is neither bulk nor interrupt", addr);
	kprintf("%s: status=%s actual=%zu\n", argv[0], rc ? bu_strerror(rc) : "ok", actual);
	if (!wr)
		print_data(data_buf, actual);
	return 0;
}

/**
 * After `reset PATH`: poll until the device has gone from the path (at
 * once on a root port; below a hub once its hub got to it) and until one
 * is configured there again, RESET_WAIT_MS at most in all, and say so.
 */
static int reset_wait(const char *path)
{
	struct bu_usb_match m = {.flags = BU_MATCH_PATH, .path = path};
	uint64_t deadline = clock_now_us() + RESET_WAIT_MS * 1000ull;
	struct bu_usb_device *dev = NULL;

	kprintf("reset: path %s: port reset, enumerating again\n", path);
	for (int phase = 0; phase < 2; phase++) {
		/* phase 0: until it is gone; phase 1: until it is back */
		while (!bu_usb_find_device(guest_bus(cur_bus), &m, &dev) == !phase) {
			if (clock_now_us() >= deadline)
				return fail("reset", "path %s: no device configured again within %u ms",
					    path, RESET_WAIT_MS);
			poll_buses();
			cpu_relax();
		}
	}
	kprintf("reset: path %s: configured again, slot %u address %u\n", path, dev->slot,
		dev->address);
	return 0;
}

/**
 * What is done to one device: reset PATH, suspend PATH, resume PATH (the
 * core's selective suspend, core/pm.c), bind PATH INTERFACE, unbind PATH
 * INTERFACE.
 */
static int cmd_device(unsigned argc, char **argv)
{
	const char *cmd = argv[0];
	bool iface = !bu_strcmp(cmd, "bind") || !bu_strcmp(cmd, "unbind");
	struct bu_usb_device *dev;
	uint32_t num = 0;
	int rc;

	if (argc != (iface ? 3u : 2u))
		return fail(cmd, "usage: %s PATH%s", cmd, iface ? " INTERFACE" : "");
	if (iface && !parse_num(cmd, "INTERFACE", argv[2], 255, &num))
		return -1;
	dev = device_or_fail(cmd, argv[1]);
	if (!dev)
		return -1;
	if (!bu_strcmp(cmd, "reset"))
		rc = bu_usb_device_reset(dev); /* dev is gone from here on */
	else if (!iface)
		rc = bu_usb_device_suspend(dev, cmd[0] == 's');
	else if (cmd[0] == 'b')
		rc = bu_usb_bind_interface(dev, (uint8_t)num);
	else
		rc = bu_usb_unbind_interface(dev, (uint8_t)num);
	if (rc && iface)
		return fail(cmd, "path %s interface %u: %s", argv[1], num, bu_strerror(rc));
	if (rc)
		return fail(cmd, "path %s: %s", argv[1], bu_strerror(rc));
	if (!bu_strcmp(cmd, "reset"))
		return reset_wait(argv[1]);
	if (!iface) {
		kprintf("%s: path %s: %s\n", cmd, argv[1], cmd[0] == 'r' ? "resuming" : "suspending");
		return 0;
	}
	for (unsigned i = 0; i < dev->num_ifaces; i++)
		if (dev->ifaces[i].number == num)
			kprintf("%s: path %s interface %u: driver %s\n", cmd, argv[1], num,
				dev->ifaces[i].driver ? dev->ifaces[i].driver->name : "none");
	return 0;
}

/** `sleep [MS] [wake]`: system sleep of the current bus (sleep.c). */
static int cmd_sleep(unsigned argc, char **argv)
{
	struct bu_usb_bus *bus;
	uint32_t ms = 500;
	bool wake = false;
	int rc;

	if (argc > 3)
		return fail("sleep", "usage: sleep [MS] [wake]");
	for (unsigned i = 1; i < argc; i++) {
		if (!bu_strcmp(argv[i], "wake"))
			wake = true;
		else if (!parse_num("sleep", "MS", argv[i], 600000, &ms))
			return -1;
	}
	bus = bus_or_fail("sleep");
	if (!bus)
		return -1;
	rc = guest_sleep(bus, ms, wake);
	if (rc)
		return fail("sleep", "bus %u: %s", cur_bus, bu_strerror(rc));
	return 0;
}

static int cmd_help(unsigned argc, char **argv);

/** One command: its name and handler (argv[0] is the name). */
struct command {
	const char *name;
	int (*fn)(unsigned argc, char **argv);
	const char *usage;
};

static const struct command commands[] = {
	{"help", cmd_help, "help"},
	{"lsusb", cmd_lsusb, "lsusb [-t] [-v] [-s PATH]"},
	{"bus", cmd_bus, "bus N"},
	{"regs", cmd_dump, "regs"},
	{"ports", cmd_dump, "ports"},
	{"ctx", cmd_dump, "ctx SLOT"},
	{"ring", cmd_dump, "ring SLOT EP"},
	{"trace", cmd_trace, "trace on|off|CATEGORIES[,slot=N][,ep=0xEE]"},
	{"reset", cmd_device, "reset PATH"},
	{"ctrl", cmd_ctrl, "ctrl PATH bmRequestType bRequest wValue wIndex wLength [DATA]"},
	{"read", cmd_rw, "read PATH EP LEN [TIMEOUT_MS]"},
	{"write", cmd_rw, "write PATH EP HEX [TIMEOUT_MS]"},
	{"bind", cmd_device, "bind PATH INTERFACE"},
	{"unbind", cmd_device, "unbind PATH INTERFACE"},
	{"suspend", cmd_device, "suspend PATH"},
	{"resume", cmd_device, "resume PATH"},
	{"sleep", cmd_sleep, "sleep [MS] [wake]"},
	{"exit", NULL, "exit"},
};

static int cmd_help(unsigned argc, char **argv)
{
	(void)argc, (void)argv;
	for (unsigned i = 0; i < BU_ARRAY_SIZE(commands); i++)
		kprintf("  %s\n", commands[i].usage);
	return 0;
}

/** Blanks (spaces, tabs) at the start of `s`. */
static size_t blanks(const char *s)
{
	size_t n = 0;

	while (s[n] == ' ' || s[n] == '\t')
		n++;
	return n;
}

/** Split `line` into words; returns the count, or -1 with too many. */
static int split(char **argv)
{
	unsigned argc = 0;

	for (char *p = line; *p;) {
		while (*p == ' ' || *p == '\t')
			*p++ = 0;
		if (!*p)
			break;
		if (argc == MAX_ARGS)
			return -1;
		argv[argc++] = p;
		while (*p && *p != ' ' && *p != '\t')
			p++;
	}
	return (int)argc;
}

void guest_shell(void)
{
	unsigned n_cmds = 0;

	kprintf("# console: commands on the serial line, `help` lists them, `exit` ends\n");
	for (;;) {
		char *argv[MAX_ARGS];
		const struct command *c = NULL;
		int argc;

		poll_buses();
		kprintf(PROMPT);
		if (!read_line()) {
			fail("console", "line longer than %u bytes", LINE_MAX);
			continue;
		}
		argc = line[blanks(line)] == '#' ? 0 : split(argv); /* a comment */
		if (argc < 0) {
			fail("console", "more than %u words", MAX_ARGS);
			continue;
		}
		if (!argc)
			continue;
		n_cmds++;
		for (unsigned i = 0; i < BU_ARRAY_SIZE(commands); i++)
			if (!bu_strcmp(argv[0], commands[i].name))
				c = &commands[i];
		if (!c) {
			fail("console", "unknown command \"%s\" (help lists them)", argv[0]);
			continue;
		}
		if (!c->fn)
			break;
		c->fn((unsigned)argc, argv);
	}
	if (saved_log_level >= 0)
		guest_log_level = saved_log_level;
	kprintf("# console: %u command(s), %u error(s)\n", n_cmds, n_errors);
}
