/*
 * xHCI hardware definitions: register offsets and bits, TRB and context
 * layouts, completion codes. Names follow the xHCI 1.2 specification;
 * section numbers are cited per block. Shared by hcd/ (the driver), the
 * decoders, and sim/ (the controller model).
 *
 * Tiers: offset XHCI_OP_USBCMD, bit XHCI_USBCMD_RUN, field extractor
 * XHCI_HCSPARAMS1_SLOTS(v).
 */
#ifndef BAREUSB_XHCI_HW_H
#define BAREUSB_XHCI_HW_H

#include <stdint.h>

#include "bareusb/compiler.h"

/* Capability registers (§5.3) */
#define XHCI_CAP_CAPLENGTH 0x00 /* byte 0; HCIVERSION in bits 31:16 */
#define XHCI_CAP_HCSPARAMS1 0x04
#define XHCI_CAP_HCSPARAMS2 0x08
#define XHCI_CAP_HCSPARAMS3 0x0c
#define XHCI_CAP_HCCPARAMS1 0x10
#define XHCI_CAP_DBOFF 0x14
#define XHCI_CAP_RTSOFF 0x18
#define XHCI_CAP_HCCPARAMS2 0x1c

#define XHCI_CAPLENGTH(v) ((v) & 0xff)
#define XHCI_HCIVERSION(v) (((v) >> 16) & 0xffff)
#define XHCI_HCSPARAMS1_SLOTS(v) ((v) & 0xff)
#define XHCI_HCSPARAMS1_INTRS(v) (((v) >> 8) & 0x7ff)
#define XHCI_HCSPARAMS1_PORTS(v) (((v) >> 24) & 0xff)
#define XHCI_HCSPARAMS2_ERST_MAX(v) (((v) >> 4) & 0xf)
#define XHCI_HCSPARAMS2_SCRATCH(v) ((((v) >> 16) & 0x3e0) | (((v) >> 27) & 0x1f))
#define XHCI_HCCPARAMS1_AC64 (1u << 0)
#define XHCI_HCCPARAMS1_CSZ (1u << 2)
#define XHCI_HCCPARAMS1_PPC (1u << 3)
#define XHCI_HCCPARAMS1_XECP(v) (((v) >> 16) & 0xffff)
#define XHCI_HCCPARAMS2_FSC (1u << 2) /* Force Save Context Capability (1.1+, §4.23.2) */
#define XHCI_HCCPARAMS2_LEC (1u << 4) /* Large ESIT Payload Capability (1.1+) */

/* Operational registers (§5.4), offsets from CAPLENGTH */
#define XHCI_OP_USBCMD 0x00
#define XHCI_OP_USBSTS 0x04
#define XHCI_OP_PAGESIZE 0x08
#define XHCI_OP_DNCTRL 0x14
#define XHCI_OP_CRCR 0x18
#define XHCI_OP_DCBAAP 0x30
#define XHCI_OP_CONFIG 0x38
#define XHCI_OP_PORTSC(n) (0x400 + 0x10 * ((n) - 1)) /* n is 1-based */
#define XHCI_OP_PORTPMSC(n) (0x404 + 0x10 * ((n) - 1))
#define XHCI_OP_PORTLI(n) (0x408 + 0x10 * ((n) - 1))

#define XHCI_USBCMD_RUN (1u << 0)
#define XHCI_USBCMD_HCRST (1u << 1)
/* RsvdP bits: written back as read (§5.4.1, §5.4.7, §5.5.2.1, §5.5.2.3.1). */
#define XHCI_USBCMD_RSVDP 0xfffe1070u /* 6:4, 12, 31:17 */
#define XHCI_CONFIG_RSVDP 0xfffffc00u /* 31:10 */
#define XHCI_IMAN_RSVDP 0xfffffffcu   /* 31:2 */
#define XHCI_ERSTSZ_RSVDP 0xffff0000u /* 31:16 */
#define XHCI_USBCMD_INTE (1u << 2)
#define XHCI_USBCMD_HSEE (1u << 3)
/* Save/Restore State (§4.23.2, §5.4.1): CSS, CRS read as 0; EWE enables MFINDEX wrap events. */
#define XHCI_USBCMD_CSS (1u << 8)
#define XHCI_USBCMD_CRS (1u << 9)
#define XHCI_USBCMD_EWE (1u << 10)

#define XHCI_USBSTS_HCH (1u << 0)
#define XHCI_USBSTS_HSE (1u << 2)
#define XHCI_USBSTS_EINT (1u << 3)
#define XHCI_USBSTS_PCD (1u << 4)
#define XHCI_USBSTS_SSS (1u << 8) /* §5.4.2: Save State Status, busy while saving */
#define XHCI_USBSTS_RSS (1u << 9) /* §5.4.2: Restore State Status, busy while restoring */
#define XHCI_USBSTS_SRE (1u << 10)
#define XHCI_USBSTS_CNR (1u << 11)
#define XHCI_USBSTS_HCE (1u << 12)
#define XHCI_USBSTS_RW1C (XHCI_USBSTS_HSE | XHCI_USBSTS_EINT | XHCI_USBSTS_PCD | XHCI_USBSTS_SRE)

#define XHCI_CRCR_RCS (1u << 0)
#define XHCI_CRCR_CS (1u << 1)
#define XHCI_CRCR_CA (1u << 2)
#define XHCI_CRCR_CRR (1u << 3)

#define XHCI_CONFIG_SLOTS(n) ((n) & 0xff)

/* PORTSC (§5.4.8) */
#define XHCI_PORTSC_CCS (1u << 0)
#define XHCI_PORTSC_PED (1u << 1)
#define XHCI_PORTSC_OCA (1u << 3)
#define XHCI_PORTSC_PR (1u << 4)
#define XHCI_PORTSC_PLS(v) (((v) >> 5) & 0xf)
#define XHCI_PORTSC_PLS_SET(p) (((uint32_t)(p) & 0xf) << 5)
#define XHCI_PORTSC_PP (1u << 9)
#define XHCI_PORTSC_SPEED(v) (((v) >> 10) & 0xf)
#define XHCI_PORTSC_PIC_MASK (3u << 14)
#define XHCI_PORTSC_LWS (1u << 16)
#define XHCI_PORTSC_CSC (1u << 17)
#define XHCI_PORTSC_PEC (1u << 18)
#define XHCI_PORTSC_WRC (1u << 19)
#define XHCI_PORTSC_OCC (1u << 20)
#define XHCI_PORTSC_PRC (1u << 21)
#define XHCI_PORTSC_PLC (1u << 22)
#define XHCI_PORTSC_CEC (1u << 23)
#define XHCI_PORTSC_CAS (1u << 24)
#define XHCI_PORTSC_WCE (1u << 25)
#define XHCI_PORTSC_WDE (1u << 26)
#define XHCI_PORTSC_WOE (1u << 27)
#define XHCI_PORTSC_DR (1u << 30)
#define XHCI_PORTSC_WPR (1u << 31)
#define XHCI_PORTSC_CHANGE_MASK 0x00fe0000u
/* Bits carried over on every write: PP, PIC and the wake enables (§4.19.2). */
#define XHCI_PORTSC_PRESERVE (XHCI_PORTSC_PP | XHCI_PORTSC_PIC_MASK | \
			      XHCI_PORTSC_WCE | XHCI_PORTSC_WDE | XHCI_PORTSC_WOE)

/* Port link states (§5.4.8, PLS) */
#define XHCI_PLS_U0 0
#define XHCI_PLS_U3 3
#define XHCI_PLS_DISABLED 4
#define XHCI_PLS_RXDETECT 5
#define XHCI_PLS_INACTIVE 6
#define XHCI_PLS_POLLING 7
#define XHCI_PLS_RECOVERY 8
#define XHCI_PLS_HOT_RESET 9
#define XHCI_PLS_COMPLIANCE 10
#define XHCI_PLS_RESUME 15

/* Runtime registers (§5.5) */
#define XHCI_RT_MFINDEX 0x00
#define XHCI_RT_IR(n) (0x20 + 0x20 * (n))
#define XHCI_IR_IMAN 0x00
#define XHCI_IR_IMOD 0x04
#define XHCI_IR_ERSTSZ 0x08
#define XHCI_IR_ERSTBA 0x10
#define XHCI_IR_ERDP 0x18
#define XHCI_IMAN_IP (1u << 0)
#define XHCI_IMAN_IE (1u << 1)
#define XHCI_ERDP_EHB (1u << 3)
#define XHCI_ERDP_DESI 0x7u /* 2:0 Dequeue ERST Segment Index (§5.5.2.3.3) */

/* Doorbells (§5.6) */
#define XHCI_DB(n) (4 * (n))

/* Extended capabilities (§7) */
#define XHCI_XCAP_ID(v) ((v) & 0xff)
#define XHCI_XCAP_NEXT(v) (((v) >> 8) & 0xff)
#define XHCI_XCAP_LEGACY 1
#define XHCI_XCAP_PROTOCOL 2
#define XHCI_LEGSUP_BIOS_OWNED (1u << 16)
#define XHCI_LEGSUP_OS_OWNED (1u << 24)
#define XHCI_LEGCTLSTS 0x04
#define XHCI_LEGCTLSTS_PRESERVE 0x000e1feeu /* reserved bits kept on write */
#define XHCI_LEGCTLSTS_EVENTS 0xe0000000u  /* RW1C SMI events */
#define XHCI_PROTO_MAJOR(v) (((v) >> 24) & 0xff)
#define XHCI_PROTO_MINOR(v) (((v) >> 16) & 0xff)
#define XHCI_PROTO_NAME_USB 0x20425355u /* "USB " */
#define XHCI_PROTO_PORT_OFF(v) ((v) & 0xff)
#define XHCI_PROTO_PORT_COUNT(v) (((v) >> 8) & 0xff)
#define XHCI_PROTO_PSIC(v) (((v) >> 28) & 0xf)
#define XHCI_PROTO_SLOT_TYPE(v) ((v) & 0x1f)
#define XHCI_PSI_PSIV(v) ((v) & 0xf)
#define XHCI_PSI_PSIE(v) (((v) >> 4) & 0x3)
#define XHCI_PSI_PLT(v) (((v) >> 6) & 0x3)
#define XHCI_PSI_LP(v) (((v) >> 14) & 0x3)
#define XHCI_PSI_PSIM(v) (((v) >> 16) & 0xffff)

/* TRBs (§4.11, §6.4): 16 bytes, four little-endian dwords. */
struct xhci_trb {
	uint32_t dw[4];
};
BU_STATIC_ASSERT(sizeof(struct xhci_trb) == 16, "TRB size");

#define XHCI_TRB_C (1u << 0)
#define XHCI_TRB_TC (1u << 1)  /* Link */
#define XHCI_TRB_ENT (1u << 1)
#define XHCI_TRB_ISP (1u << 2)
#define XHCI_TRB_ED (1u << 2)  /* Transfer Event */
#define XHCI_TRB_CH (1u << 4)
#define XHCI_TRB_IOC (1u << 5)
#define XHCI_TRB_IDT (1u << 6)
#define XHCI_TRB_BEI (1u << 9)
#define XHCI_TRB_BSR (1u << 9) /* Address Device */
#define XHCI_TRB_DC (1u << 9)  /* Configure Endpoint */
#define XHCI_TRB_TSP (1u << 9) /* Reset Endpoint */
#define XHCI_TRB_SIA (1u << 31) /* Isoch */
#define XHCI_TRB_SP (1u << 23)  /* Stop Endpoint: the device will be suspended */
#define XHCI_TRB_FRAME_ID(f) (((uint32_t)(f) & 0x7ffu) << 20) /* Isoch, without SIA */
#define XHCI_TRB_TYPE(v) (((v) >> 10) & 0x3f)
#define XHCI_TRB_TYPE_SET(t) ((uint32_t)(t) << 10)
#define XHCI_TRB_DIR_IN (1u << 16)   /* Data/Status stage */
#define XHCI_TRB_TRT(t) ((uint32_t)(t) << 16) /* Setup stage */
#define XHCI_TRT_NO_DATA 0
#define XHCI_TRT_OUT 2
#define XHCI_TRT_IN 3
#define XHCI_TRB_LEN(v) ((v) & 0x1ffff)
#define XHCI_TRB_TD_SIZE(n) ((uint32_t)((n) > 31 ? 31 : (n)) << 17)
#define XHCI_TRB_INTR(n) ((uint32_t)(n) << 22)
#define XHCI_TRB_SLOT(s) ((uint32_t)(s) << 24)
#define XHCI_TRB_GET_SLOT(v) (((v) >> 24) & 0xff)
#define XHCI_TRB_EP(e) ((uint32_t)(e) << 16)
#define XHCI_TRB_GET_EP(v) (((v) >> 16) & 0x1f)
#define XHCI_TRB_SLOT_TYPE(t) ((uint32_t)(t) << 16)
#define XHCI_TRB_TBC(n) ((uint32_t)(n) << 7)
#define XHCI_TRB_TLBPC(n) ((uint32_t)(n) << 16)
#define XHCI_TRB_FRAME(n) (((uint32_t)(n) & 0x7ff) << 20)
#define XHCI_EVT_CC(v) (((v) >> 24) & 0xff)
#define XHCI_EVT_LEN(v) ((v) & 0xffffff)
#define XHCI_EVT_PORT(v) (((v) >> 24) & 0xff)
/* Device Notification Event (§6.4.2.7), DW0: type 7:4, data from bit 8. */
#define XHCI_DN_TYPE(v) (((v) >> 4) & 0xf)
#define XHCI_DN_DATA(v) ((v) >> 8)
/* Notification types (USB 3.2 §8.5.6, Table 8-18): Function Wake. */
#define XHCI_DN_FUNCTION_WAKE 1
/* DNCTRL (§5.4.4): bit N enables notification type N. */
#define XHCI_DNCTRL_N(n) (1u << (n))

enum xhci_trb_type {
	XHCI_TRB_NORMAL = 1,
	XHCI_TRB_SETUP = 2,
	XHCI_TRB_DATA = 3,
	XHCI_TRB_STATUS = 4,
	XHCI_TRB_ISOCH = 5,
	XHCI_TRB_LINK = 6,
	XHCI_TRB_EVENT_DATA = 7,
	XHCI_TRB_NOOP = 8,
	XHCI_TRB_ENABLE_SLOT = 9,
	XHCI_TRB_DISABLE_SLOT = 10,
	XHCI_TRB_ADDRESS_DEVICE = 11,
	XHCI_TRB_CONFIGURE_EP = 12,
	XHCI_TRB_EVALUATE_CTX = 13,
	XHCI_TRB_RESET_EP = 14,
	XHCI_TRB_STOP_EP = 15,
	XHCI_TRB_SET_TR_DEQ = 16,
	XHCI_TRB_RESET_DEVICE = 17,
	XHCI_TRB_FORCE_EVENT = 18,
	XHCI_TRB_NEGOTIATE_BW = 19,
	XHCI_TRB_SET_LT = 20,
	XHCI_TRB_GET_PORT_BW = 21,
	XHCI_TRB_FORCE_HEADER = 22,
	XHCI_TRB_NOOP_CMD = 23,
	XHCI_TRB_TRANSFER_EVENT = 32,
	XHCI_TRB_CMD_COMPLETION = 33,
	XHCI_TRB_PORT_STATUS = 34,
	XHCI_TRB_BW_REQUEST = 35,
	XHCI_TRB_DOORBELL_EVENT = 36,
	XHCI_TRB_HC_EVENT = 37,
	XHCI_TRB_DEVICE_NOTIFY = 38,
	XHCI_TRB_MFINDEX_WRAP = 39,
};

/* Completion codes (§6.4.5) */
enum xhci_cc {
	XHCI_CC_INVALID = 0,
	XHCI_CC_SUCCESS = 1,
	XHCI_CC_DATA_BUFFER = 2,
	XHCI_CC_BABBLE = 3,
	XHCI_CC_TRANSACTION = 4,
	XHCI_CC_TRB = 5,
	XHCI_CC_STALL = 6,
	XHCI_CC_RESOURCE = 7,
	XHCI_CC_BANDWIDTH = 8,
	XHCI_CC_NO_SLOTS = 9,
	XHCI_CC_INVALID_STREAM_TYPE = 10,
	XHCI_CC_SLOT_NOT_ENABLED = 11,
	XHCI_CC_EP_NOT_ENABLED = 12,
	XHCI_CC_SHORT_PACKET = 13,
	XHCI_CC_RING_UNDERRUN = 14,
	XHCI_CC_RING_OVERRUN = 15,
	XHCI_CC_VF_EVENT_RING_FULL = 16,
	XHCI_CC_PARAMETER = 17,
	XHCI_CC_BANDWIDTH_OVERRUN = 18,
	XHCI_CC_CONTEXT_STATE = 19,
	XHCI_CC_NO_PING_RESPONSE = 20,
	XHCI_CC_EVENT_RING_FULL = 21,
	XHCI_CC_INCOMPATIBLE_DEVICE = 22,
	XHCI_CC_MISSED_SERVICE = 23,
	XHCI_CC_CMD_RING_STOPPED = 24,
	XHCI_CC_CMD_ABORTED = 25,
	XHCI_CC_STOPPED = 26,
	XHCI_CC_STOPPED_LENGTH_INVALID = 27,
	XHCI_CC_STOPPED_SHORT_PACKET = 28,
	XHCI_CC_MAX_EXIT_LATENCY = 29,
	XHCI_CC_ISOCH_BUFFER_OVERRUN = 31,
	XHCI_CC_EVENT_LOST = 32,
	XHCI_CC_UNDEFINED = 33,
	XHCI_CC_INVALID_STREAM_ID = 34,
	XHCI_CC_SECONDARY_BANDWIDTH = 35,
	XHCI_CC_SPLIT_TRANSACTION = 36,
};

/* Slot context (§6.2.2) */
#define XHCI_SLOT_ROUTE(r) ((uint32_t)(r) & 0xfffff)
#define XHCI_SLOT_SPEED(s) ((uint32_t)(s) << 20)
#define XHCI_SLOT_MTT (1u << 25)
#define XHCI_SLOT_HUB (1u << 26)
#define XHCI_SLOT_ENTRIES(n) ((uint32_t)(n) << 27)
#define XHCI_SLOT_GET_ENTRIES(v) (((v) >> 27) & 0x1f)
#define XHCI_SLOT_ROOT_PORT(p) ((uint32_t)(p) << 16)
#define XHCI_SLOT_NPORTS(n) ((uint32_t)(n) << 24)
#define XHCI_SLOT_TT_SLOT(s) ((uint32_t)(s))
#define XHCI_SLOT_TT_PORT(p) ((uint32_t)(p) << 8)
#define XHCI_SLOT_TTT(t) ((uint32_t)(t) << 16)
#define XHCI_SLOT_GET_ADDR(v) ((v) & 0xff)
#define XHCI_SLOT_GET_STATE(v) (((v) >> 27) & 0x1f)
#define XHCI_SLOT_STATE_DISABLED 0
#define XHCI_SLOT_STATE_DEFAULT 1
#define XHCI_SLOT_STATE_ADDRESSED 2
#define XHCI_SLOT_STATE_CONFIGURED 3

/* Endpoint context (§6.2.3) */
#define XHCI_EP_GET_STATE(v) ((v) & 0x7)
#define XHCI_EP_STATE_DISABLED 0
#define XHCI_EP_STATE_RUNNING 1
#define XHCI_EP_STATE_HALTED 2
#define XHCI_EP_STATE_STOPPED 3
#define XHCI_EP_STATE_ERROR 4
#define XHCI_EP_MULT(m) ((uint32_t)(m) << 8)
#define XHCI_EP_INTERVAL(i) ((uint32_t)(i) << 16)
#define XHCI_EP_ESIT_HI(p) ((uint32_t)(((p) >> 16) & 0xff) << 24)
#define XHCI_EP_CERR(c) ((uint32_t)(c) << 1)
#define XHCI_EP_TYPE(t) ((uint32_t)(t) << 3)
#define XHCI_EP_GET_TYPE(v) (((v) >> 3) & 0x7)
#define XHCI_EP_BURST(b) ((uint32_t)(b) << 8)
#define XHCI_EP_MPS(m) ((uint32_t)(m) << 16)
#define XHCI_EP_GET_MPS(v) (((v) >> 16) & 0xffff)
#define XHCI_EP_DCS (1u << 0)
#define XHCI_EP_AVG_TRB(n) ((uint32_t)(n) & 0xffff)
#define XHCI_EP_ESIT_LO(p) ((uint32_t)((p) & 0xffff) << 16)

enum xhci_ep_type {
	XHCI_EPT_INVALID = 0,
	XHCI_EPT_ISOCH_OUT = 1,
	XHCI_EPT_BULK_OUT = 2,
	XHCI_EPT_INTR_OUT = 3,
	XHCI_EPT_CONTROL = 4,
	XHCI_EPT_ISOCH_IN = 5,
	XHCI_EPT_BULK_IN = 6,
	XHCI_EPT_INTR_IN = 7,
};

/* Input control context (§6.2.5.1): dw0 drop flags, dw1 add flags. */
#define XHCI_ICC_DROP 0
#define XHCI_ICC_ADD 1

/* Event Ring Segment Table entry (§6.5) */
struct xhci_erst_entry {
	uint64_t base;
	uint32_t size;
	uint32_t reserved;
};
BU_STATIC_ASSERT(sizeof(struct xhci_erst_entry) == 16, "ERST entry size");

#endif
