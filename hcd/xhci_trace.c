/*
 * xHCI decoders: names for TRB types, completion codes and link states, the
 * one table that maps completion codes to project errors, and one-line
 * decodes of TRBs (transfer, command and event TRBs each by their own
 * helper), PORTSC and USBSTS (xHCI 1.2 §6.4, §5.4). Pure functions, used by
 * the driver's trace, sim/'s trace and test messages.
 *
 * Reading order: names, completion codes, TRB decoders, register decoders.
 */
#include "xhci_trace.h"

#include <stdbool.h>

#include "bareusb/desc.h"
#include "bareusb/errors.h"
#include "bareusb/util.h"

const char *bu_xhci_trb_type_name(unsigned type)
{
	static const char *const names[] = {
		[XHCI_TRB_NORMAL] = "Normal",
		[XHCI_TRB_SETUP] = "Setup Stage",
		[XHCI_TRB_DATA] = "Data Stage",
		[XHCI_TRB_STATUS] = "Status Stage",
		[XHCI_TRB_ISOCH] = "Isoch",
		[XHCI_TRB_LINK] = "Link",
		[XHCI_TRB_EVENT_DATA] = "Event Data",
		[XHCI_TRB_NOOP] = "No-Op",
		[XHCI_TRB_ENABLE_SLOT] = "Enable Slot",
		[XHCI_TRB_DISABLE_SLOT] = "Disable Slot",
		[XHCI_TRB_ADDRESS_DEVICE] = "Address Device",
		[XHCI_TRB_CONFIGURE_EP] = "Configure Endpoint",
		[XHCI_TRB_EVALUATE_CTX] = "Evaluate Context",
		[XHCI_TRB_RESET_EP] = "Reset Endpoint",
		[XHCI_TRB_STOP_EP] = "Stop Endpoint",
		[XHCI_TRB_SET_TR_DEQ] = "Set TR Dequeue Pointer",
		[XHCI_TRB_RESET_DEVICE] = "Reset Device",
		[XHCI_TRB_FORCE_EVENT] = "Force Event",
		[XHCI_TRB_NEGOTIATE_BW] = "Negotiate Bandwidth",
		[XHCI_TRB_SET_LT] = "Set Latency Tolerance",
		[XHCI_TRB_GET_PORT_BW] = "Get Port Bandwidth",
		[XHCI_TRB_FORCE_HEADER] = "Force Header",
		[XHCI_TRB_NOOP_CMD] = "No-Op Command",
		[XHCI_TRB_TRANSFER_EVENT] = "Transfer Event",
		[XHCI_TRB_CMD_COMPLETION] = "Command Completion Event",
		[XHCI_TRB_PORT_STATUS] = "Port Status Change Event",
		[XHCI_TRB_BW_REQUEST] = "Bandwidth Request Event",
		[XHCI_TRB_DOORBELL_EVENT] = "Doorbell Event",
		[XHCI_TRB_HC_EVENT] = "Host Controller Event",
		[XHCI_TRB_DEVICE_NOTIFY] = "Device Notification Event",
		[XHCI_TRB_MFINDEX_WRAP] = "MFINDEX Wrap Event",
	};

	if (type < BU_ARRAY_SIZE(names) && names[type])
		return names[type];
	return "Reserved";
}

/** One completion code: its spec name and the project error it maps to. */
struct cc_info {
	const char *name;
	int err;
};

/* §6.4.5; the mapping is the one place completion codes become errors. */
static const struct cc_info cc_table[] = {
	[XHCI_CC_INVALID] = { "Invalid", BU_EIO },
	[XHCI_CC_SUCCESS] = { "Success", 0 },
	[XHCI_CC_DATA_BUFFER] = { "Data Buffer Error", BU_EIO },
	[XHCI_CC_BABBLE] = { "Babble Detected", BU_EBABBLE },
	[XHCI_CC_TRANSACTION] = { "USB Transaction Error", BU_EPROTO },
	[XHCI_CC_TRB] = { "TRB Error", BU_EIO },
	[XHCI_CC_STALL] = { "Stall Error", BU_ESTALL },
	[XHCI_CC_RESOURCE] = { "Resource Error", BU_ENOSPC },
	[XHCI_CC_BANDWIDTH] = { "Bandwidth Error", BU_ENOSPC },
	[XHCI_CC_NO_SLOTS] = { "No Slots Available", BU_ENOSPC },
	[XHCI_CC_INVALID_STREAM_TYPE] = { "Invalid Stream Type", BU_EINVAL },
	[XHCI_CC_SLOT_NOT_ENABLED] = { "Slot Not Enabled", BU_ENODEV },
	[XHCI_CC_EP_NOT_ENABLED] = { "Endpoint Not Enabled", BU_ENOENT },
	[XHCI_CC_SHORT_PACKET] = { "Short Packet", 0 },
	[XHCI_CC_RING_UNDERRUN] = { "Ring Underrun", BU_EMISSED },
	[XHCI_CC_RING_OVERRUN] = { "Ring Overrun", BU_EMISSED },
	[XHCI_CC_VF_EVENT_RING_FULL] = { "VF Event Ring Full", BU_EIO },
	[XHCI_CC_PARAMETER] = { "Parameter Error", BU_EINVAL },
	[XHCI_CC_BANDWIDTH_OVERRUN] = { "Bandwidth Overrun", BU_EOVERFLOW },
	[XHCI_CC_CONTEXT_STATE] = { "Context State Error", BU_EIO },
	[XHCI_CC_NO_PING_RESPONSE] = { "No Ping Response", BU_EPROTO },
	[XHCI_CC_EVENT_RING_FULL] = { "Event Ring Full", BU_EIO },
	[XHCI_CC_INCOMPATIBLE_DEVICE] = { "Incompatible Device", BU_ENOTSUP },
	[XHCI_CC_MISSED_SERVICE] = { "Missed Service", BU_EMISSED },
	[XHCI_CC_CMD_RING_STOPPED] = { "Command Ring Stopped", BU_ECANCELED },
	[XHCI_CC_CMD_ABORTED] = { "Command Aborted", BU_ETIMEDOUT },
	[XHCI_CC_STOPPED] = { "Stopped", BU_ECANCELED },
	[XHCI_CC_STOPPED_LENGTH_INVALID] = { "Stopped - Length Invalid", BU_ECANCELED },
	[XHCI_CC_STOPPED_SHORT_PACKET] = { "Stopped - Short Packet", BU_ECANCELED },
	[XHCI_CC_MAX_EXIT_LATENCY] = { "Max Exit Latency Too Large", BU_EINVAL },
	[30] = { "Reserved", BU_EIO },
	[XHCI_CC_ISOCH_BUFFER_OVERRUN] = { "Isoch Buffer Overrun", BU_EOVERFLOW },
	[XHCI_CC_EVENT_LOST] = { "Event Lost", BU_EIO },
	[XHCI_CC_UNDEFINED] = { "Undefined Error", BU_EIO },
	[XHCI_CC_INVALID_STREAM_ID] = { "Invalid Stream ID", BU_EINVAL },
	[XHCI_CC_SECONDARY_BANDWIDTH] = { "Secondary Bandwidth Error", BU_ENOSPC },
	[XHCI_CC_SPLIT_TRANSACTION] = { "Split Transaction Error", BU_EPROTO },
};

const char *bu_xhci_cc_name(unsigned cc)
{
	if (cc < BU_ARRAY_SIZE(cc_table))
		return cc_table[cc].name;
	return cc >= 224 ? "Vendor Info" : cc >= 192 ? "Vendor Error" : "Reserved";
}

int bu_xhci_cc_to_err(unsigned cc)
{
	if (cc < BU_ARRAY_SIZE(cc_table))
		return cc_table[cc].err;
	return cc >= 224 ? 0 : BU_EIO;
}

const char *bu_xhci_pls_name(unsigned pls)
{
	static const char *const names[16] = {
		"U0", "U1", "U2", "U3", "Disabled", "RxDetect", "Inactive",
		"Polling", "Recovery", "HotReset", "Compliance", "TestMode",
		"Rsvd12", "Rsvd13", "Rsvd14", "Resume",
	};

	return names[pls & 15];
}

/** Append the names of the flag bits set in `v`. */
static void put_flags(struct bu_strbuf *sb, uint32_t v,
		      const char *const names[32])
{
	for (unsigned i = 0; i < 32; i++)
		if ((v & (1u << i)) && names[i])
			bu_strbuf_printf(sb, " %s", names[i]);
}

/** Flag names of transfer TRBs' dword 3 (§6.4.1). */
static const char *const xfer_flags[32] = {
	[0] = "C", [1] = "ENT", [2] = "ISP", [3] = "NS", [4] = "CH",
	[5] = "IOC", [6] = "IDT", [9] = "BEI",
};

/** Fields of a Transfer Ring TRB (§6.4.1, §6.4.4); false if `type` is not one. */
static bool decode_transfer_trb(struct bu_strbuf *sb, unsigned type, const uint32_t dw[4])
{
	uint64_t ptr = (uint64_t)dw[1] << 32 | dw[0];

	switch (type) {
	case XHCI_TRB_NORMAL:
	case XHCI_TRB_DATA:
	case XHCI_TRB_ISOCH:
		bu_strbuf_printf(sb, " buf=0x%llx len=%u td=%u", (unsigned long long)ptr,
				 XHCI_TRB_LEN(dw[2]), (dw[2] >> 17) & 31);
		if (type == XHCI_TRB_DATA)
			bu_strbuf_printf(sb, " dir=%s", dw[3] & XHCI_TRB_DIR_IN ? "in" : "out");
		if (type == XHCI_TRB_ISOCH)
			bu_strbuf_printf(sb, " frame=%u%s", (dw[3] >> 20) & 0x7ff,
					 dw[3] & XHCI_TRB_SIA ? " SIA" : "");
		put_flags(sb, dw[3] & 0x27f, xfer_flags);
		return true;
	case XHCI_TRB_SETUP:
		bu_strbuf_printf(sb,
				 " bmRequestType=0x%02x bRequest=0x%02x wValue=0x%04x wIndex=0x%04x wLength=%u trt=%u",
				 dw[0] & 0xff, (dw[0] >> 8) & 0xff, dw[0] >> 16,
				 dw[1] & 0xffff, dw[1] >> 16, (dw[3] >> 16) & 3);
		put_flags(sb, dw[3] & 0x61, xfer_flags);
		return true;
	case XHCI_TRB_STATUS:
		bu_strbuf_printf(sb, " dir=%s", dw[3] & XHCI_TRB_DIR_IN ? "in" : "out");
		put_flags(sb, dw[3] & 0x33, xfer_flags);
		return true;
	case XHCI_TRB_LINK:
		bu_strbuf_printf(sb, " next=0x%llx%s", (unsigned long long)ptr,
				 dw[3] & XHCI_TRB_TC ? " TC" : "");
		put_flags(sb, dw[3] & 0x31, xfer_flags);
		return true;
	case XHCI_TRB_EVENT_DATA:
		bu_strbuf_printf(sb, " data=0x%llx", (unsigned long long)ptr);
		put_flags(sb, dw[3] & 0x233, xfer_flags);
		return true;
	case XHCI_TRB_NOOP:
		put_flags(sb, dw[3] & 0x33, xfer_flags);
		return true;
	default:
		return false;
	}
}

/** Fields of a Command TRB (§6.4.3); false if `type` is not one decoded here. */
static bool decode_command_trb(struct bu_strbuf *sb, unsigned type, const uint32_t dw[4])
{
	uint64_t ptr = (uint64_t)dw[1] << 32 | dw[0];
	unsigned slot = XHCI_TRB_GET_SLOT(dw[3]);
	unsigned ep = XHCI_TRB_GET_EP(dw[3]);

	switch (type) {
	case XHCI_TRB_ENABLE_SLOT:
		bu_strbuf_printf(sb, " type=%u C=%u", (dw[3] >> 16) & 31, dw[3] & 1);
		return true;
	case XHCI_TRB_ADDRESS_DEVICE:
	case XHCI_TRB_CONFIGURE_EP:
	case XHCI_TRB_EVALUATE_CTX:
		bu_strbuf_printf(sb, " slot=%u ctx=0x%llx%s C=%u", slot,
				 (unsigned long long)ptr,
				 (dw[3] & (1u << 9)) ?
					 (type == XHCI_TRB_ADDRESS_DEVICE ? " BSR" : " DC") : "",
				 dw[3] & 1);
		return true;
	case XHCI_TRB_RESET_EP:
	case XHCI_TRB_STOP_EP:
		bu_strbuf_printf(sb, " slot=%u ep=%u%s C=%u", slot, ep,
				 type == XHCI_TRB_RESET_EP && (dw[3] & XHCI_TRB_TSP) ? " TSP" : "",
				 dw[3] & 1);
		return true;
	case XHCI_TRB_SET_TR_DEQ:
		bu_strbuf_printf(sb, " slot=%u ep=%u deq=0x%llx dcs=%u stream=%u C=%u",
				 slot, ep, (unsigned long long)(ptr & ~15ull),
				 (unsigned)(ptr & 1), dw[2] >> 16, dw[3] & 1);
		return true;
	case XHCI_TRB_DISABLE_SLOT:
	case XHCI_TRB_RESET_DEVICE:
		bu_strbuf_printf(sb, " slot=%u C=%u", slot, dw[3] & 1);
		return true;
	default:
		return false;
	}
}

/** Fields of an Event TRB (§6.4.2); false if `type` is not one decoded here. */
static bool decode_event_trb(struct bu_strbuf *sb, unsigned type, const uint32_t dw[4])
{
	uint64_t ptr = (uint64_t)dw[1] << 32 | dw[0];
	unsigned slot = XHCI_TRB_GET_SLOT(dw[3]);
	const char *cc = bu_xhci_cc_name(XHCI_EVT_CC(dw[2]));

	switch (type) {
	case XHCI_TRB_TRANSFER_EVENT:
		/* §6.4.2.1: the length is what is left of the TRB's transfer,
		 * except after an Event Data TRB, where it is what the TD has
		 * moved so far (EDTLA). */
		bu_strbuf_printf(sb, " slot=%u DCI=%u (ep 0x%02x) %s=0x%llx %s=%u cc=%s%s C=%u",
				 slot, XHCI_TRB_GET_EP(dw[3]),
				 bu_xhci_dci_ep_address(XHCI_TRB_GET_EP(dw[3])),
				 dw[3] & XHCI_TRB_ED ? "data" : "trb", (unsigned long long)ptr,
				 dw[3] & XHCI_TRB_ED ? "transferred" : "residual",
				 XHCI_EVT_LEN(dw[2]), cc, dw[3] & XHCI_TRB_ED ? " ED" : "", dw[3] & 1);
		return true;
	case XHCI_TRB_CMD_COMPLETION:
		bu_strbuf_printf(sb, " slot=%u cmd=0x%llx cc=%s C=%u", slot,
				 (unsigned long long)ptr, cc, dw[3] & 1);
		return true;
	case XHCI_TRB_PORT_STATUS:
		bu_strbuf_printf(sb, " port=%u cc=%s C=%u", XHCI_EVT_PORT(dw[0]), cc,
				 dw[3] & 1);
		return true;
	case XHCI_TRB_HC_EVENT:
		bu_strbuf_printf(sb, " cc=%s C=%u", cc, dw[3] & 1);
		return true;
	default:
		return false;
	}
}

int bu_xhci_trb_decode(const uint32_t dw[4], char *buf, size_t size)
{
	struct bu_strbuf sb;
	unsigned type = XHCI_TRB_TYPE(dw[3]);

	bu_strbuf_init(&sb, buf, size);
	bu_strbuf_printf(&sb, "%s", bu_xhci_trb_type_name(type));
	if (!decode_transfer_trb(&sb, type, dw) && !decode_command_trb(&sb, type, dw) &&
	    !decode_event_trb(&sb, type, dw))
		bu_strbuf_printf(&sb, " %08x %08x %08x %08x", dw[0], dw[1], dw[2], dw[3]);
	return (int)sb.len;
}

int bu_xhci_portsc_decode(uint32_t v, char *buf, size_t size)
{
	static const char *const bits[32] = {
		[0] = "CCS", [1] = "PED", [3] = "OCA", [4] = "PR", [9] = "PP",
		[16] = "LWS", [17] = "CSC", [18] = "PEC", [19] = "WRC",
		[20] = "OCC", [21] = "PRC", [22] = "PLC", [23] = "CEC",
		[24] = "CAS", [25] = "WCE", [26] = "WDE", [27] = "WOE",
		[30] = "DR", [31] = "WPR",
	};
	struct bu_strbuf sb;

	bu_strbuf_init(&sb, buf, size);
	bu_strbuf_printf(&sb, "0x%08x speed=%u PLS=%s", v, XHCI_PORTSC_SPEED(v),
			 bu_xhci_pls_name(XHCI_PORTSC_PLS(v)));
	put_flags(&sb, v, bits);
	return (int)sb.len;
}

int bu_xhci_usbsts_decode(uint32_t v, char *buf, size_t size)
{
	static const char *const bits[32] = {
		[0] = "HCH", [2] = "HSE", [3] = "EINT", [4] = "PCD",
		[8] = "SSS", [9] = "RSS", [10] = "SRE", [11] = "CNR",
		[12] = "HCE",
	};
	struct bu_strbuf sb;

	bu_strbuf_init(&sb, buf, size);
	bu_strbuf_printf(&sb, "0x%08x", v);
	put_flags(&sb, v, bits);
	return (int)sb.len;
}

/* ------------------------------------------------------------------------ */
/* Contexts (§6.2), field by field under the specification's names          */

static const char *slot_state_name(unsigned s)
{
	static const char *const names[] = { "Disabled/Enabled", "Default", "Addressed",
					     "Configured" };

	return s < BU_ARRAY_SIZE(names) ? names[s] : "Reserved";
}

static const char *ep_state_name(unsigned s)
{
	static const char *const names[] = { "Disabled", "Running", "Halted", "Stopped",
					     "Error" };

	return s < BU_ARRAY_SIZE(names) ? names[s] : "Reserved";
}

const char *bu_xhci_ep_type_name(unsigned type)
{
	static const char *const names[] = { "Not Valid", "Isoch OUT", "Bulk OUT",
					     "Interrupt OUT", "Control", "Isoch IN",
					     "Bulk IN", "Interrupt IN" };

	return names[type & 7];
}

int bu_xhci_slot_ctx_decode(const uint32_t dw[4], char *buf, size_t size)
{
	struct bu_strbuf sb;

	bu_strbuf_init(&sb, buf, size);
	bu_strbuf_printf(&sb,
			 "route=0x%05x speed=%u MTT=%u hub=%u entries=%u max_exit_latency=%u "
			 "root_port=%u ports=%u tt_hub_slot=%u tt_port=%u TTT=%u intr=%u "
			 "address=%u state=%s",
			 dw[0] & 0xfffff, dw[0] >> 20 & 0xf, dw[0] >> 25 & 1, dw[0] >> 26 & 1,
			 XHCI_SLOT_GET_ENTRIES(dw[0]), dw[1] & 0xffff, dw[1] >> 16 & 0xff,
			 dw[1] >> 24, dw[2] & 0xff, dw[2] >> 8 & 0xff, dw[2] >> 16 & 3,
			 dw[2] >> 22, XHCI_SLOT_GET_ADDR(dw[3]),
			 slot_state_name(XHCI_SLOT_GET_STATE(dw[3])));
	return (int)sb.len;
}

int bu_xhci_ep_ctx_decode(const uint32_t dw[5], char *buf, size_t size)
{
	struct bu_strbuf sb;
	uint64_t deq = (uint64_t)dw[3] << 32 | (dw[2] & ~15u);

	bu_strbuf_init(&sb, buf, size);
	bu_strbuf_printf(&sb,
			 "state=%s type=%s MPS=%u max_burst=%u mult=%u max_pstreams=%u LSA=%u "
			 "interval=%u CErr=%u HID=%u deq=0x%llx DCS=%u avg_trb_len=%u "
			 "max_esit_payload=%u",
			 ep_state_name(XHCI_EP_GET_STATE(dw[0])),
			 bu_xhci_ep_type_name(XHCI_EP_GET_TYPE(dw[1])), XHCI_EP_GET_MPS(dw[1]),
			 dw[1] >> 8 & 0xff, dw[0] >> 8 & 3, dw[0] >> 10 & 0x1f, dw[0] >> 15 & 1,
			 dw[0] >> 16 & 0xff, dw[1] >> 1 & 3, dw[1] >> 7 & 1,
			 (unsigned long long)deq, dw[2] & 1, dw[4] & 0xffff,
			 (dw[0] >> 24) << 16 | dw[4] >> 16);
	return (int)sb.len;
}

int bu_xhci_icc_decode(const uint32_t dw[8], char *buf, size_t size)
{
	struct bu_strbuf sb;

	bu_strbuf_init(&sb, buf, size);
	bu_strbuf_printf(&sb, "drop=0x%08x add=0x%08x config=%u interface=%u alt=%u", dw[0],
			 dw[1], dw[7] & 0xff, dw[7] >> 8 & 0xff, dw[7] >> 16 & 0xff);
	return (int)sb.len;
}
