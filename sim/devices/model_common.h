/*
 * Pieces several device models share (not for tests): a bulk loopback FIFO,
 * the HID boot keyboard function, and the WinUSB test device's handlers,
 * which the MS OS 1.0 variant reuses with its own descriptors.
 */
#ifndef SIM_DEVICES_MODEL_COMMON_H
#define SIM_DEVICES_MODEL_COMMON_H

#include <string.h>

#include "devices.h"

/* UTF-16LE code unit of an ASCII character, for MS OS descriptor bytes. */
#define SIM_W(c) (uint8_t)(c), 0

/* The interface GUID (SIM_WINUSB_GUID) as 38 UTF-16LE code units, no NUL. */
#define SIM_WINUSB_GUID_W16 \
	SIM_W('{'), SIM_W('6'), SIM_W('A'), SIM_W('1'), SIM_W('D'), SIM_W('3'), SIM_W('C'), SIM_W('9'), \
	SIM_W('E'), SIM_W('-'), SIM_W('5'), SIM_W('B'), SIM_W('2'), SIM_W('F'), SIM_W('-'), SIM_W('4'), \
	SIM_W('E'), SIM_W('8'), SIM_W('A'), SIM_W('-'), SIM_W('9'), SIM_W('C'), SIM_W('7'), SIM_W('1'), \
	SIM_W('-'), SIM_W('0'), SIM_W('D'), SIM_W('3'), SIM_W('E'), SIM_W('5'), SIM_W('F'), SIM_W('7'), \
	SIM_W('A'), SIM_W('9'), SIM_W('B'), SIM_W('2'), SIM_W('1'), SIM_W('}')

/* MS OS 2.0 feature descriptors of a WinUSB function: compatible ID
 * "WINUSB", then registry property DeviceInterfaceGUIDs (REG_MULTI_SZ)
 * = { SIM_WINUSB_GUID }. */
#define SIM_MSOS2_WINUSB_FEATURES_LEN (20 + 132)
#define SIM_MSOS2_WINUSB_FEATURES                                                \
	SIM_LE16(20), SIM_LE16(0x03), 'W', 'I', 'N', 'U', 'S', 'B', 0, 0,       \
	0, 0, 0, 0, 0, 0, 0, 0,                                                 \
	SIM_LE16(132), SIM_LE16(0x04), SIM_LE16(7), SIM_LE16(42),               \
	SIM_W('D'), SIM_W('e'), SIM_W('v'), SIM_W('i'), SIM_W('c'), SIM_W('e'), \
	SIM_W('I'), SIM_W('n'), SIM_W('t'), SIM_W('e'), SIM_W('r'), SIM_W('f'), \
	SIM_W('a'), SIM_W('c'), SIM_W('e'), SIM_W('G'), SIM_W('U'), SIM_W('I'), \
	SIM_W('D'), SIM_W('s'), 0, 0,                                           \
	SIM_LE16(80), SIM_WINUSB_GUID_W16, 0, 0, 0, 0

/** An isochronous IN test packet: byte i of packet n is (n + i) & 0xff; n counts up. */
static inline int sim_iso_pattern(uint8_t *buf, uint16_t max, uint32_t *seq)
{
	for (unsigned i = 0; i < max; i++)
		buf[i] = (uint8_t)(*seq + i);
	(*seq)++;
	return max;
}

/* ------------------------------------------------------------------------ */
/* Bulk loopback: OUT bytes come back on IN with the same packet ends      */

#define SIM_LOOP_BYTES (256u * 1024u)
#define SIM_LOOP_MARKS 256u

/**
 * A byte FIFO plus the positions where a short OUT packet (or a ZLP) ended
 * a transfer. Full-size OUT packets merge; an IN packet never crosses a
 * mark, so the host sees the same transfer ends it wrote.
 */
struct sim_loop {
	uint8_t buf[SIM_LOOP_BYTES];
	uint64_t rd, wr;
	uint64_t mark[SIM_LOOP_MARKS];
	unsigned mhead, mtail;
	uint64_t in_bytes, out_bytes;
};

static inline void sim_loop_reset(struct sim_loop *l)
{
	l->rd = l->wr = 0;
	l->mhead = l->mtail = 0;
}

/** One OUT packet of `len` bytes on an endpoint whose max packet is `mps`. */
static inline int sim_loop_out(struct sim_loop *l, const uint8_t *p, uint16_t len, uint16_t mps)
{
	bool ends = len < mps;

	if (l->wr - l->rd + len > SIM_LOOP_BYTES || (ends && l->mtail - l->mhead >= SIM_LOOP_MARKS))
		return SIM_NAK; /* full: flow control */
	for (unsigned i = 0; i < len; i++)
		l->buf[(l->wr + i) % SIM_LOOP_BYTES] = p[i];
	l->wr += len;
	l->out_bytes += len;
	if (ends)
		l->mark[l->mtail++ % SIM_LOOP_MARKS] = l->wr;
	return SIM_ACK;
}

/** One IN packet of at most `max` bytes. */
static inline int sim_loop_in(struct sim_loop *l, uint8_t *p, uint16_t max)
{
	uint64_t n = l->wr - l->rd;
	bool marked = l->mhead != l->mtail;
	uint64_t m = marked ? l->mark[l->mhead % SIM_LOOP_MARKS] : 0;

	if (marked && m - l->rd < n)
		n = m - l->rd;
	if (n > max)
		n = max;
	if (n == 0) {
		if (marked && m == l->rd) {
			l->mhead++; /* a zero-length packet ended a transfer here */
			return 0;
		}
		return SIM_NAK;
	}
	for (unsigned i = 0; i < n; i++)
		p[i] = l->buf[(l->rd + i) % SIM_LOOP_BYTES];
	l->rd += n;
	l->in_bytes += n;
	if (marked && l->rd == m && n < max)
		l->mhead++; /* delivered as a short packet */
	return (int)n;
}

/* ------------------------------------------------------------------------ */
/* HID boot keyboard function (hid_func.c): hid_kbd.c, qemu_kbd.c and the  */
/* composites' keyboard interface                                          */

#define SIM_HID_KBD_REPORT_DESC_LEN 63
#define SIM_HID_KBD_QUEUE 32

/** The report descriptor every sim keyboard answers with. */
extern const uint8_t sim_hid_kbd_report_desc[SIM_HID_KBD_REPORT_DESC_LEN];

/** One keyboard function's state: reports waiting, LEDs, idle rate, protocol. */
struct sim_hid_kbd {
	uint8_t queue[SIM_HID_KBD_QUEUE][8];
	unsigned head, tail;
	uint8_t leds, idle, protocol;
};

void sim_hid_kbd_init(struct sim_hid_kbd *k);
/** Queue a press and a release of `usage` (dropped when the queue is full). */
void sim_hid_kbd_queue(struct sim_hid_kbd *k, uint8_t usage);
/** A request to the keyboard's interface (the caller checked wIndex). */
int sim_hid_kbd_control(struct sim_hid_kbd *k, const struct usb_setup_packet *s, uint8_t *data,
			uint16_t *len);
/** The next report on the interrupt IN endpoint, SIM_NAK when none waits. */
int sim_hid_kbd_report(struct sim_hid_kbd *k, uint8_t *buf, uint16_t max);

/* The keyboard model's handlers (hid_kbd.c: interface 0, EP 0x81), which
 * QEMU's usb-kbd twin reuses with its own descriptors. */
void sim_kbd_init(struct sim_device *dev);
int sim_kbd_control(struct sim_device *dev, const struct usb_setup_packet *s, uint8_t *data,
		    uint16_t *len);
int sim_kbd_in(struct sim_device *dev, uint8_t ep, uint8_t *buf, uint16_t max);

/* ------------------------------------------------------------------------ */
/* The WinUSB test device (winusb.c), shared with winusb_os1.c              */

/** The WinUSB test device's state (model priv). */
struct winusb {
	struct sim_loop loop;
	uint32_t intr_seq;
	uint32_t iso_in_seq;
	uint32_t iso_out_bytes;
	uint8_t echo[256];
	uint16_t echo_len;
};

void sim_winusb_init(struct sim_device *dev);
void sim_winusb_reset(struct sim_device *dev);
void sim_winusb_set_config(struct sim_device *dev, uint8_t value);
void sim_winusb_set_interface(struct sim_device *dev, uint8_t intf, uint8_t alt);
int sim_winusb_control(struct sim_device *dev, const struct usb_setup_packet *s, uint8_t *data,
		       uint16_t *len);
int sim_winusb_in(struct sim_device *dev, uint8_t ep, uint8_t *buf, uint16_t max);
int sim_winusb_out(struct sim_device *dev, uint8_t ep, const uint8_t *buf, uint16_t len);

#endif
