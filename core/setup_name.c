/*
 * Control requests by name, for traces and logs: a SETUP packet becomes
 * "GET_DESCRIPTOR(CONFIGURATION, 0, 9)" or "SET_PORT_FEATURE(PORT_RESET, 3)"
 * rather than five numbers. Standard requests are USB 2.0 §9.4 and USB 3.2
 * §9.4; hub requests USB 2.0 §11.24.2 and USB 3.2 §10.16.2; HID requests
 * HID 1.11 §7.2; mass-storage requests the Bulk-Only Transport 1.0 §3.
 * Anything else is printed by its kind and numbers.
 */
#include "bareusb/ch9.h"
#include "bareusb/desc.h"
#include "bareusb/util.h"

/** Name of a descriptor type, or NULL. */
static const char *desc_type_name(unsigned type)
{
	switch (type) {
	case USB_DT_DEVICE: return "DEVICE";
	case USB_DT_CONFIG: return "CONFIGURATION";
	case USB_DT_STRING: return "STRING";
	case USB_DT_INTERFACE: return "INTERFACE";
	case USB_DT_ENDPOINT: return "ENDPOINT";
	case USB_DT_DEVICE_QUALIFIER: return "DEVICE_QUALIFIER";
	case USB_DT_OTHER_SPEED_CONFIG: return "OTHER_SPEED_CONFIGURATION";
	case USB_DT_INTERFACE_POWER: return "INTERFACE_POWER";
	case USB_DT_BOS: return "BOS";
	case USB_DT_HID: return "HID";
	case 0x22: return "REPORT"; /* HID 1.11 §7.1 */
	case USB_DT_HUB: return "HUB";
	case USB_DT_SS_HUB: return "SS_HUB";
	default: return NULL;
	}
}

/** Name of a standard feature selector (USB 3.2 Table 9-7), by recipient. */
static const char *std_feature_name(unsigned recipient, unsigned feature)
{
	switch (recipient << 8 | feature) {
	case 0x000 | 1: return "DEVICE_REMOTE_WAKEUP";
	case 0x000 | 2: return "TEST_MODE";
	case 0x000 | 48: return "U1_ENABLE";
	case 0x000 | 49: return "U2_ENABLE";
	case 0x000 | 50: return "LTM_ENABLE";
	case 0x100 | 0: return "FUNCTION_SUSPEND";
	case 0x200 | 0: return "ENDPOINT_HALT";
	default: return NULL;
	}
}

/** Name of a hub port feature selector (USB 2.0 Table 11-17, USB 3.2 Table 10-9). */
static const char *port_feature_name(unsigned feature)
{
	static const char *const names[] = {
		[0] = "PORT_CONNECTION", [1] = "PORT_ENABLE", [2] = "PORT_SUSPEND",
		[3] = "PORT_OVER_CURRENT", [4] = "PORT_RESET", [5] = "PORT_LINK_STATE",
		[8] = "PORT_POWER", [9] = "PORT_LOW_SPEED", [16] = "C_PORT_CONNECTION",
		[17] = "C_PORT_ENABLE", [18] = "C_PORT_SUSPEND", [19] = "C_PORT_OVER_CURRENT",
		[20] = "C_PORT_RESET", [21] = "PORT_TEST", [22] = "PORT_INDICATOR",
		[23] = "PORT_U1_TIMEOUT", [24] = "PORT_U2_TIMEOUT", [25] = "C_PORT_LINK_STATE",
		[26] = "C_PORT_CONFIG_ERROR", [27] = "PORT_REMOTE_WAKE_MASK",
		[28] = "BH_PORT_RESET", [29] = "C_BH_PORT_RESET", [30] = "FORCE_LINKPM_ACCEPT",
	};

	return feature < BU_ARRAY_SIZE(names) ? names[feature] : NULL;
}

/** A feature selector by name where one is known, else its number. */
static void put_feature(struct bu_strbuf *sb, const char *name, unsigned feature)
{
	if (name)
		bu_strbuf_printf(sb, "%s", name);
	else
		bu_strbuf_printf(sb, "%u", feature);
}

/** Standard requests (type 0); false when bRequest is not one. */
static bool describe_standard(struct bu_strbuf *sb, const uint8_t *s, unsigned value,
			      unsigned index, unsigned length)
{
	unsigned recipient = s[0] & 0x1f;
	const char *dt;

	switch (s[1]) {
	case USB_REQ_GET_DESCRIPTOR:
	case USB_REQ_SET_DESCRIPTOR:
		bu_strbuf_printf(sb, "%s_DESCRIPTOR(",
				 s[1] == USB_REQ_GET_DESCRIPTOR ? "GET" : "SET");
		dt = desc_type_name(value >> 8);
		if (dt)
			bu_strbuf_printf(sb, "%s", dt);
		else
			bu_strbuf_printf(sb, "0x%02x", value >> 8);
		bu_strbuf_printf(sb, ", %u", value & 0xff);
		if (index) /* a string's language, an interface's number */
			bu_strbuf_printf(sb, ", 0x%04x", index);
		bu_strbuf_printf(sb, ", %u)", length);
		return true;
	case USB_REQ_GET_STATUS:
		bu_strbuf_printf(sb, "GET_STATUS(%s %u)",
				 recipient == 0 ? "device" : recipient == 1 ? "interface" : "endpoint",
				 index);
		return true;
	case USB_REQ_CLEAR_FEATURE:
	case USB_REQ_SET_FEATURE:
		bu_strbuf_printf(sb, "%s_FEATURE(", s[1] == USB_REQ_SET_FEATURE ? "SET" : "CLEAR");
		put_feature(sb, std_feature_name(recipient, value), value);
		bu_strbuf_printf(sb, ", %u)", index);
		return true;
	case USB_REQ_SET_ADDRESS:
		bu_strbuf_printf(sb, "SET_ADDRESS(%u)", value);
		return true;
	case USB_REQ_GET_CONFIGURATION:
		bu_strbuf_printf(sb, "GET_CONFIGURATION()");
		return true;
	case USB_REQ_SET_CONFIGURATION:
		bu_strbuf_printf(sb, "SET_CONFIGURATION(%u)", value);
		return true;
	case USB_REQ_GET_INTERFACE:
		bu_strbuf_printf(sb, "GET_INTERFACE(%u)", index);
		return true;
	case USB_REQ_SET_INTERFACE:
		bu_strbuf_printf(sb, "SET_INTERFACE(%u, %u)", index, value);
		return true;
	case USB_REQ_SYNCH_FRAME:
		bu_strbuf_printf(sb, "SYNCH_FRAME(0x%02x)", index);
		return true;
	case USB_REQ_SET_SEL:
		bu_strbuf_printf(sb, "SET_SEL(%u)", length);
		return true;
	case USB_REQ_SET_ISOCH_DELAY:
		bu_strbuf_printf(sb, "SET_ISOCH_DELAY(%u ns)", value);
		return true;
	default:
		return false;
	}
}

/** Hub class requests (USB 2.0 Table 11-16, USB 3.2 Table 10-8); false if not one. */
static bool describe_hub(struct bu_strbuf *sb, const uint8_t *s, unsigned value,
			 unsigned index, unsigned length)
{
	bool port = (s[0] & 0x1f) == 3; /* recipient Other: a port */

	switch (s[1]) {
	case USB_REQ_GET_STATUS:
		if (port)
			bu_strbuf_printf(sb, "GET_PORT_STATUS(%u)", index);
		else
			bu_strbuf_printf(sb, "GET_HUB_STATUS()");
		return true;
	case USB_REQ_CLEAR_FEATURE:
	case USB_REQ_SET_FEATURE:
		bu_strbuf_printf(sb, "%s_%s_FEATURE(", s[1] == USB_REQ_SET_FEATURE ? "SET" : "CLEAR",
				 port ? "PORT" : "HUB");
		put_feature(sb, port ? port_feature_name(value) : NULL, value);
		bu_strbuf_printf(sb, ", %u)", port ? index & 0xff : index);
		return true;
	case USB_REQ_GET_DESCRIPTOR:
		return describe_standard(sb, s, value, index, length);
	case 8: /* CLEAR_TT_BUFFER */
		bu_strbuf_printf(sb, "CLEAR_TT_BUFFER(0x%04x, %u)", value, index);
		return true;
	case 9: /* RESET_TT */
		bu_strbuf_printf(sb, "RESET_TT(%u)", index);
		return true;
	case 12: /* SET_HUB_DEPTH (USB 3.2) */
		bu_strbuf_printf(sb, "SET_HUB_DEPTH(%u)", value);
		return true;
	default:
		return false;
	}
}

/** HID (interface 3) and Bulk-Only mass-storage class requests; false if neither. */
static bool describe_interface_class(struct bu_strbuf *sb, const uint8_t *s, unsigned value,
				     unsigned index, unsigned length)
{
	static const char *const hid[] = { [1] = "GET_REPORT", [2] = "GET_IDLE",
					   [3] = "GET_PROTOCOL", [9] = "SET_REPORT",
					   [10] = "SET_IDLE", [11] = "SET_PROTOCOL" };

	if (s[1] == 0xff) {
		bu_strbuf_printf(sb, "BULK_ONLY_RESET(%u)", index);
		return true;
	}
	if (s[1] == 0xfe) {
		bu_strbuf_printf(sb, "GET_MAX_LUN(%u)", index);
		return true;
	}
	if (s[1] < BU_ARRAY_SIZE(hid) && hid[s[1]]) {
		bu_strbuf_printf(sb, "%s(0x%04x, %u, %u)", hid[s[1]], value, index, length);
		return true;
	}
	return false;
}

int bu_usb_setup_describe(const uint8_t setup[8], char *buf, size_t size)
{
	struct bu_strbuf sb;
	unsigned value = bu_get_le16(setup + 2), index = bu_get_le16(setup + 4);
	unsigned length = bu_get_le16(setup + 6);
	unsigned kind = setup[0] >> 5 & 3;
	bool done = false;

	bu_strbuf_init(&sb, buf, size);
	if (kind == 0)
		done = describe_standard(&sb, setup, value, index, length);
	else if (kind == 1 && (setup[0] & 0x1f) == 1)
		done = describe_interface_class(&sb, setup, value, index, length);
	else if (kind == 1) /* to a device or a port: only hubs define these */
		done = describe_hub(&sb, setup, value, index, length);
	if (!done)
		bu_strbuf_printf(&sb, "%s_REQUEST(0x%02x, 0x%04x, 0x%04x, %u)",
				 kind == 0 ? "STANDARD" : kind == 1 ? "CLASS" :
				 kind == 2 ? "VENDOR" : "RESERVED",
				 setup[1], value, index, length);
	return (int)sb.len;
}
