/*
 * xHCI decoders: human-readable names and one-line decodes of TRBs, events,
 * PORTSC values and completion codes. Used by the driver's trace switch, by
 * sim/'s model-side trace, and by anyone debugging at controller level.
 */
#ifndef BAREUSB_XHCI_TRACE_H
#define BAREUSB_XHCI_TRACE_H

#include <stddef.h>
#include <stdint.h>

#include "xhci_hw.h"

#ifdef __cplusplus
extern "C" {
#endif

/** The endpoint address of a Device Context Index (§4.5.1): 1 is EP0
 * (0x00), then OUT and IN of each number in turn (2 = 0x01, 3 = 0x81). */
static inline uint8_t bu_xhci_dci_ep_address(unsigned dci)
{
	return (uint8_t)((dci / 2) | ((dci & 1) && dci > 1 ? 0x80 : 0));
}

/** Name of a TRB type ("Normal", "Transfer Event", ...), "Reserved" if unknown. */
const char *bu_xhci_trb_type_name(unsigned type);
/** Name of a completion code ("Success", "Stall Error", ...). */
const char *bu_xhci_cc_name(unsigned cc);
/** Map a completion code to the project error enum (0 for success/short). */
int bu_xhci_cc_to_err(unsigned cc);
/** Name of a PORTSC link state value. */
const char *bu_xhci_pls_name(unsigned pls);

/**
 * Decode one TRB (host-order dwords) into buf: type, fields and flags,
 * e.g. "Normal buf=0x1000 len=512 td=0 C CH ISP". Returns what snprintf would.
 */
int bu_xhci_trb_decode(const uint32_t dw[4], char *buf, size_t size);
/** Decode a PORTSC value: "CCS PED PP speed=3 PLS=U0 CSC PRC". */
int bu_xhci_portsc_decode(uint32_t portsc, char *buf, size_t size);
/** Decode USBSTS: "HCH HSE EINT PCD CNR HCE". */
int bu_xhci_usbsts_decode(uint32_t sts, char *buf, size_t size);

/** Name of an Endpoint Context EP Type (§6.2.3, Table 6-9): "Bulk IN", ... */
const char *bu_xhci_ep_type_name(unsigned type);
/**
 * Decode a Slot Context (§6.2.2, host-order dwords 0..3) field by field:
 * "route=0x00000 speed=3 MTT=0 hub=0 entries=3 ... address=2 state=Addressed".
 */
int bu_xhci_slot_ctx_decode(const uint32_t dw[4], char *buf, size_t size);
/**
 * Decode an Endpoint Context (§6.2.3, dwords 0..4): state, EP type, MPS,
 * Max Burst, Mult, MaxPStreams, LSA, Interval, CErr, HID, TR Dequeue
 * Pointer, DCS, Average TRB Length and Max ESIT Payload (both halves).
 */
int bu_xhci_ep_ctx_decode(const uint32_t dw[5], char *buf, size_t size);
/** Decode an Input Control Context (§6.2.5.1, dwords 0..7): drop and add
 * flags, Configuration Value, Interface Number, Alternate Setting. */
int bu_xhci_icc_decode(const uint32_t dw[8], char *buf, size_t size);

#ifdef __cplusplus
}
#endif

#endif
