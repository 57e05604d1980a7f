/*
 * Unit tests for the WinUSB layer's pure parts and its two boundaries:
 * header layouts and constants (winusb.h, winusbio.h), pipe-policy rules
 * and read/write planning (Microsoft's "WinUSB functions for pipe policy
 * modification"), isochronous packetisation, the error mappings (Win32,
 * USBD_STATUS, NTSTATUS), the API part against a scripted
 * transport (handle validation, last error, events, overlapped results,
 * the IOCTL packets it sends, discovery paths), the driver part's request
 * validation without a device, and the parse helpers on hostile bytes.
 */
#include <stdlib.h>
#include <string.h>

/* The Microsoft names first: winusb_priv.h would leave them out. */
#include "bareusb/winusb.h"

#include "../../winusb/winusb_priv.h"
#include "bareusb/util.h"
#include "bareusb/winusb_drv.h"
#include "unit.h"

/* ------------------------------------------------------------------------ */
/* A host platform with a settable clock                                    */

static uint64_t fake_now;

static void *h_alloc(void *ctx, size_t size)
{
	(void)ctx;
	return calloc(1, size);
}

static void h_free(void *ctx, void *p, size_t size)
{
	(void)ctx;
	(void)size;
	free(p);
}

static uint64_t h_now(void *ctx)
{
	(void)ctx;
	return fake_now += 10;
}

static const struct bu_platform host_plat = {
	.alloc = h_alloc, .free = h_free, .now_us = h_now,
};

static struct bu_winusb_api *g_api;

struct bu_winusb_api *bu_winusb_current(void)
{
	return g_api;
}

/* ------------------------------------------------------------------------ */
/* Layouts and constants                                                    */

START_TEST(test_layouts)
{
	ck_assert_uint_eq(sizeof(WINUSB_SETUP_PACKET), 8);
	ck_assert_uint_eq(offsetof(WINUSB_SETUP_PACKET, Request), 1);
	ck_assert_uint_eq(offsetof(WINUSB_SETUP_PACKET, Length), 6);
	ck_assert_uint_eq(sizeof(WINUSB_PIPE_INFORMATION), 12);
	ck_assert_uint_eq(offsetof(WINUSB_PIPE_INFORMATION, PipeId), 4);
	ck_assert_uint_eq(offsetof(WINUSB_PIPE_INFORMATION, MaximumPacketSize), 6);
	ck_assert_uint_eq(offsetof(WINUSB_PIPE_INFORMATION, Interval), 8);
	ck_assert_uint_eq(sizeof(WINUSB_PIPE_INFORMATION_EX), 16);
	ck_assert_uint_eq(offsetof(WINUSB_PIPE_INFORMATION_EX, MaximumBytesPerInterval), 12);
	ck_assert_uint_eq(sizeof(USB_INTERFACE_DESCRIPTOR), 9);
	ck_assert_uint_eq(sizeof(USB_CONFIGURATION_DESCRIPTOR), 9);
	ck_assert_uint_eq(sizeof(USB_DEVICE_DESCRIPTOR), 18);
	ck_assert_uint_eq(sizeof(USBD_ISO_PACKET_DESCRIPTOR), 12);
	ck_assert_uint_eq(offsetof(USBD_ISO_PACKET_DESCRIPTOR, Status), 8);
	ck_assert_uint_eq(sizeof(OVERLAPPED), 4 * sizeof(void *) + (sizeof(void *) == 4 ? 4 : 0));
	ck_assert_uint_eq(offsetof(OVERLAPPED, InternalHigh), sizeof(ULONG_PTR));
	ck_assert_uint_eq(sizeof(BOOL), 4);
	ck_assert_uint_eq(sizeof(ULONG), 4);
	ck_assert_uint_eq(sizeof(LARGE_INTEGER), 8);
	ck_assert_uint_eq(sizeof(USB_START_TRACKING_FOR_TIME_SYNC_INFORMATION), sizeof(HANDLE) + 1);
	ck_assert_uint_eq(sizeof(USB_FRAME_NUMBER_AND_QPC_FOR_TIME_SYNC_INFORMATION),
			  sizeof(HANDLE) + 52);
}
END_TEST

START_TEST(test_constants)
{
	/* The values the Windows SDK headers give (winusbio.h, usb.h, winerror.h,
	 * ...): the numbers programs were compiled with. */
	static const struct {
		unsigned long have, want;
	} k[] = {
		{ SHORT_PACKET_TERMINATE, 1 }, { AUTO_CLEAR_STALL, 2 }, { PIPE_TRANSFER_TIMEOUT, 3 },
		{ IGNORE_SHORT_PACKETS, 4 }, { ALLOW_PARTIAL_READS, 5 }, { AUTO_FLUSH, 6 },
		{ RAW_IO, 7 }, { MAXIMUM_TRANSFER_SIZE, 8 }, { RESET_PIPE_ON_RESUME, 9 },
		{ AUTO_SUSPEND, 0x81 }, { SUSPEND_DELAY, 0x83 }, { DEVICE_SPEED, 1 },
		{ LowSpeed, 1 }, { FullSpeed, 2 }, { HighSpeed, 3 },
		{ UsbdPipeTypeControl, 0 }, { UsbdPipeTypeIsochronous, 1 },
		{ UsbdPipeTypeBulk, 2 }, { UsbdPipeTypeInterrupt, 3 },
		{ ERROR_FILE_NOT_FOUND, 2 }, { ERROR_ACCESS_DENIED, 5 }, { ERROR_INVALID_HANDLE, 6 },
		{ ERROR_NOT_ENOUGH_MEMORY, 8 }, { ERROR_BAD_COMMAND, 22 }, { ERROR_GEN_FAILURE, 31 },
		{ ERROR_NOT_SUPPORTED, 50 }, { ERROR_INVALID_PARAMETER, 87 },
		{ ERROR_SEM_TIMEOUT, 121 }, { ERROR_INSUFFICIENT_BUFFER, 122 },
		{ ERROR_ALREADY_EXISTS, 183 }, { ERROR_NO_MORE_ITEMS, 259 },
		{ ERROR_NO_SUCH_DEVICE, 433 }, { ERROR_OPERATION_ABORTED, 995 },
		{ ERROR_IO_INCOMPLETE, 996 }, { ERROR_IO_PENDING, 997 },
		{ ERROR_DEVICE_NOT_CONNECTED, 1167 }, { ERROR_BAD_DEVICE, 1200 },
		{ (uint32_t)USBD_STATUS_STALL_PID, 0xC0000004u },
		{ (uint32_t)USBD_STATUS_ISO_NOT_ACCESSED_LATE, 0xC0050000u },
		{ (uint32_t)USBD_STATUS_CANCELED, 0xC0010000u }, { STATUS_PENDING, 0x103 },
	};

	for (unsigned i = 0; i < BU_ARRAY_SIZE(k); i++)
		ck_assert_msg(k[i].have == k[i].want, "constant %u: %lx != %lx", i, k[i].have,
			      k[i].want);
	ck_assert(USBD_ERROR(USBD_STATUS_STALL_PID));
	ck_assert(USBD_SUCCESS(USBD_STATUS_SUCCESS));
	ck_assert(USBD_PENDING(USBD_STATUS_PENDING));
	ck_assert(USB_ENDPOINT_DIRECTION_IN(0x81));
	ck_assert(USB_ENDPOINT_DIRECTION_OUT(0x01));
	ck_assert_uint_eq(WinUSB_TestGuid.Data1, 0xDA812BFFu);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Policies                                                                 */

START_TEST(test_policy_defaults)
{
	struct wu_policies p, c;
	uint32_t v, sz;

	bu_wu_policies_default(&p, false);
	bu_wu_policies_default(&c, true);
	ck_assert_uint_eq(p.allow_partial_reads, 1);
	ck_assert_uint_eq(p.timeout_ms, 0);
	ck_assert_uint_eq(c.timeout_ms, 5000);
	ck_assert_uint_eq(p.raw_io | p.auto_flush | p.short_packet_terminate | p.auto_clear_stall |
				  p.ignore_short_packets | p.reset_pipe_on_resume,
			  0);
	ck_assert_uint_eq(bu_wu_policies_get(&p, MAXIMUM_TRANSFER_SIZE, 12345, &v, &sz), 0);
	ck_assert_uint_eq(v, 12345);
	ck_assert_uint_eq(sz, 4);
}
END_TEST

struct set_case {
	uint32_t type, len, value;
	uint32_t want; /* status */
	uint32_t read; /* value read back */
};

static const struct set_case set_cases[] = {
	{ SHORT_PACKET_TERMINATE, 1, 1, 0, 1 },
	{ AUTO_CLEAR_STALL, 1, 0x100, 0, 0 }, /* only the low byte counts */
	{ AUTO_CLEAR_STALL, 1, 7, 0, 1 },
	{ PIPE_TRANSFER_TIMEOUT, 4, 123456, 0, 123456 },
	{ PIPE_TRANSFER_TIMEOUT, 1, 5, ERROR_INVALID_PARAMETER, 0 },
	{ PIPE_TRANSFER_TIMEOUT, 8, 5, ERROR_INVALID_PARAMETER, 0 },
	{ IGNORE_SHORT_PACKETS, 1, 1, 0, 1 },
	{ ALLOW_PARTIAL_READS, 1, 0, 0, 0 },
	{ AUTO_FLUSH, 1, 1, 0, 1 },
	{ RAW_IO, 1, 1, 0, 1 },
	{ RAW_IO, 4, 1, ERROR_INVALID_PARAMETER, 0 },
	{ RAW_IO, 0, 1, ERROR_INVALID_PARAMETER, 0 },
	{ MAXIMUM_TRANSFER_SIZE, 4, 1, ERROR_INVALID_PARAMETER, 0 },
	{ RESET_PIPE_ON_RESUME, 1, 1, 0, 1 },
	{ 0, 1, 1, ERROR_INVALID_PARAMETER, 0 },
	{ 0x0A, 1, 1, ERROR_INVALID_PARAMETER, 0 },
	{ 0x20, 4, 1, ERROR_INVALID_PARAMETER, 0 }, /* libusbK-only IDs */
	{ AUTO_SUSPEND, 1, 1, ERROR_INVALID_PARAMETER, 0 },
};

START_TEST(test_policy_set)
{
	const struct set_case *c = &set_cases[_i];
	struct wu_policies p;
	uint32_t v = 0xffff, sz = 0;

	bu_wu_policies_default(&p, false);
	if (c->type == ALLOW_PARTIAL_READS || c->type == AUTO_CLEAR_STALL)
		p.allow_partial_reads = p.auto_clear_stall = 1;
	ck_assert_uint_eq(bu_wu_policies_set(&p, c->type, c->len, c->value), c->want);
	if (c->want)
		return;
	ck_assert_uint_eq(bu_wu_policies_get(&p, c->type, 0, &v, &sz), 0);
	ck_assert_uint_eq(v, c->read);
	ck_assert_uint_eq(sz, c->len);
}
END_TEST

struct piece_case {
	uint32_t remaining, mps, max;
	uint32_t want;
	bool tail;
};

static const struct piece_case piece_cases[] = {
	{ 1000, 512, 2u << 20, 512, false }, /* whole packets first */
	{ 488, 512, 2u << 20, 512, true },   /* then one packet into the bounce buffer */
	{ 10, 64, 256u << 10, 64, true },
	{ 4096, 512, 2u << 20, 4096, false },
	{ 5u << 20, 1024, 2u << 20, 2u << 20, false }, /* split at MAXIMUM_TRANSFER_SIZE */
	{ 5u << 20, 1024, 1000, 1024, false },         /* a cap below one packet */
	{ 0, 512, 1024, 0, false },
};

START_TEST(test_read_piece)
{
	const struct piece_case *c = &piece_cases[_i];
	bool tail = !c->tail;

	ck_assert_uint_eq(bu_wu_read_piece(c->remaining, (uint16_t)c->mps, c->max, &tail), c->want);
	ck_assert(tail == c->tail);
}
END_TEST

struct tail_case {
	uint32_t got, remaining;
	uint8_t partial, flush;
	uint32_t to_user, excess;
	bool keep;
	uint32_t status;
};

static const struct tail_case tail_cases[] = {
	{ 100, 10, 1, 0, 10, 90, true, 0 },              /* kept for the next read */
	{ 100, 10, 1, 1, 10, 90, false, 0 },             /* AUTO_FLUSH: dropped */
	{ 100, 10, 0, 0, 10, 90, false, ERROR_GEN_FAILURE }, /* partial reads off: fails */
	{ 5, 10, 0, 0, 5, 0, false, 0 },                 /* short, nothing in excess */
	{ 0, 10, 1, 0, 0, 0, false, 0 },                 /* a ZLP */
	{ 10, 10, 0, 1, 10, 0, false, 0 },
};

START_TEST(test_tail_plan)
{
	const struct tail_case *c = &tail_cases[_i];
	struct wu_policies p;
	struct wu_tail t;

	bu_wu_policies_default(&p, false);
	p.allow_partial_reads = c->partial;
	p.auto_flush = c->flush;
	bu_wu_tail_plan(c->got, c->remaining, &p, &t);
	ck_assert_uint_eq(t.to_user, c->to_user);
	ck_assert_uint_eq(t.excess, c->excess);
	ck_assert(t.keep == c->keep);
	ck_assert_uint_eq(t.status, c->status);
}
END_TEST

START_TEST(test_raw_and_write_rules)
{
	struct wu_policies p;
	bool zlp;

	bu_wu_policies_default(&p, false);
	ck_assert_uint_eq(bu_wu_raw_io_check(1024, 512, 2u << 20), 0);
	ck_assert_uint_eq(bu_wu_raw_io_check(1000, 512, 2u << 20), ERROR_INVALID_PARAMETER);
	ck_assert_uint_eq(bu_wu_raw_io_check(0, 512, 2u << 20), ERROR_INVALID_PARAMETER);
	ck_assert_uint_eq(bu_wu_raw_io_check(4u << 20, 512, 2u << 20), ERROR_INVALID_PARAMETER);
	ck_assert_uint_eq(bu_wu_raw_io_check(512, 0, 2u << 20), ERROR_INVALID_PARAMETER);
	/* Writes: split at MAXIMUM_TRANSFER_SIZE, a ZLP only with SPT. */
	ck_assert_uint_eq(bu_wu_write_pieces(0, 512, 65536, &p, &zlp), 1);
	ck_assert(!zlp);
	ck_assert_uint_eq(bu_wu_write_pieces(1024, 512, 65536, &p, &zlp), 1);
	ck_assert(!zlp);
	ck_assert_uint_eq(bu_wu_write_pieces(65536 * 3 + 1, 512, 65536, &p, &zlp), 4);
	p.short_packet_terminate = 1;
	ck_assert_uint_eq(bu_wu_write_pieces(1024, 512, 65536, &p, &zlp), 2);
	ck_assert(zlp);
	ck_assert_uint_eq(bu_wu_write_pieces(1000, 512, 65536, &p, &zlp), 1);
	ck_assert(!zlp);
	ck_assert_uint_eq(bu_wu_write_pieces(0, 512, 65536, &p, &zlp), 1);
	ck_assert(!zlp);
}
END_TEST

START_TEST(test_isoch_rules)
{
	uint32_t count, per;

	ck_assert_uint_eq(bu_wu_isoch_plan(BU_SPEED_HIGH, false, 2560, 0, 256, &count, &per), 0);
	ck_assert_uint_eq(count, 10);
	ck_assert_uint_eq(per, 256);
	ck_assert_uint_eq(bu_wu_isoch_plan(BU_SPEED_HIGH, false, 2561, 0, 256, &count, &per), 0);
	ck_assert_uint_eq(count, 11);
	ck_assert_uint_eq(bu_wu_isoch_plan(BU_SPEED_HIGH, true, 2048, 8, 256, &count, &per), 0);
	ck_assert_uint_eq(count, 8);
	ck_assert_uint_eq(per, 256);
	ck_assert_uint_eq(bu_wu_isoch_plan(BU_SPEED_HIGH, true, 2048, 4, 256, &count, &per),
			  ERROR_INVALID_PARAMETER);
	ck_assert_uint_eq(bu_wu_isoch_plan(BU_SPEED_HIGH, true, 2048, 0, 256, &count, &per),
			  ERROR_INVALID_PARAMETER);
	ck_assert_uint_eq(bu_wu_isoch_plan(BU_SPEED_HIGH, true, 4, 8, 256, &count, &per), ERROR_INVALID_PARAMETER);
	ck_assert_uint_eq(bu_wu_isoch_plan(BU_SPEED_HIGH, false, 0, 0, 256, &count, &per),
			  ERROR_INVALID_PARAMETER);
	/* Packet counts are capped per speed: 1024 (HS/SS), 255 (FS). */
	ck_assert_uint_eq(bu_wu_isoch_plan(BU_SPEED_HIGH, false, 1024 * 8, 0, 8, &count, &per), 0);
	ck_assert_uint_eq(count, 1024);
	ck_assert_uint_eq(bu_wu_isoch_plan(BU_SPEED_HIGH, false, 1024 * 8 + 1, 0, 8, &count, &per),
			  ERROR_INVALID_PARAMETER);
	ck_assert_uint_eq(bu_wu_isoch_plan(BU_SPEED_FULL, false, 256 * 8, 0, 8, &count, &per),
			  ERROR_INVALID_PARAMETER);
	ck_assert_uint_eq(bu_wu_isoch_plan(BU_SPEED_FULL, true, 255 * 8, 255, 8, &count, &per), 0);
	ck_assert_uint_eq(bu_wu_isoch_plan(BU_SPEED_FULL, true, 256 * 8, 256, 8, &count, &per),
			  ERROR_INVALID_PARAMETER);
	ck_assert_uint_eq(bu_wu_isoch_plan(BU_SPEED_SUPER, true, 0xffffffffu, 0x40000000u, 0xffffu,
					   &count, &per),
			  ERROR_INVALID_PARAMETER);
	/* Request sizes that would wrap a size_t are refused, not truncated. */
	{
		size_t size = 0;

		ck_assert(bu_wu_array_size(16, 1024, 136, &size));
		ck_assert_uint_eq(size, 16 + 1024 * 136);
		ck_assert(!bu_wu_array_size(16, SIZE_MAX / 136 + 1, 136, &size));
		ck_assert(!bu_wu_array_size(SIZE_MAX - 8, 1, 16, &size));
	}
	/* Frames: FS one packet per 2^(bInterval-1) frames, HS per 2^(bInterval-1) uframes. */
	ck_assert_uint_eq(bu_wu_isoch_frames(BU_SPEED_FULL, 1, 10), 10);
	ck_assert_uint_eq(bu_wu_isoch_frames(BU_SPEED_FULL, 2, 10), 20);
	ck_assert_uint_eq(bu_wu_isoch_frames(BU_SPEED_HIGH, 1, 80), 10);
	ck_assert_uint_eq(bu_wu_isoch_frames(BU_SPEED_HIGH, 4, 4), 4);
	ck_assert_uint_eq(bu_wu_isoch_frames(BU_SPEED_SUPER, 1, 3), 1);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Error mappings                                                           */

START_TEST(test_error_mapping)
{
	static const struct {
		int err;
		uint32_t win32;
		int32_t usbd;
	} m[] = {
		{ 0, 0, (int32_t)USBD_STATUS_SUCCESS },
		{ BU_ETIMEDOUT, ERROR_SEM_TIMEOUT, (int32_t)USBD_STATUS_TIMEOUT },
		{ BU_ECANCELED, ERROR_OPERATION_ABORTED, (int32_t)USBD_STATUS_CANCELED },
		{ BU_ESTALL, ERROR_GEN_FAILURE, (int32_t)USBD_STATUS_STALL_PID },
		{ BU_EBABBLE, ERROR_GEN_FAILURE, (int32_t)USBD_STATUS_BABBLE_DETECTED },
		{ BU_EPROTO, ERROR_GEN_FAILURE, (int32_t)USBD_STATUS_XACT_ERROR },
		{ BU_ENODEV, ERROR_DEVICE_NOT_CONNECTED, (int32_t)USBD_STATUS_DEVICE_GONE },
		{ BU_EMISSED, ERROR_GEN_FAILURE, (int32_t)USBD_STATUS_ISO_NOT_ACCESSED_LATE },
		{ BU_ENOMEM, ERROR_NOT_ENOUGH_MEMORY, (int32_t)USBD_STATUS_INSUFFICIENT_RESOURCES },
		{ BU_EINVAL, ERROR_INVALID_PARAMETER, (int32_t)USBD_STATUS_ISO_TD_ERROR },
		{ BU_EIO, ERROR_GEN_FAILURE, (int32_t)USBD_STATUS_ISO_TD_ERROR },
	};
	static const uint32_t win[] = { ERROR_SEM_TIMEOUT, ERROR_OPERATION_ABORTED,
					ERROR_GEN_FAILURE, ERROR_DEVICE_NOT_CONNECTED,
					ERROR_NOT_ENOUGH_MEMORY, ERROR_INVALID_PARAMETER,
					ERROR_NO_SUCH_DEVICE, ERROR_FILE_NOT_FOUND, ERROR_BUSY };

	for (unsigned i = 0; i < BU_ARRAY_SIZE(m); i++) {
		ck_assert_uint_eq(bu_winusb_err_to_win32(m[i].err), m[i].win32);
		ck_assert_int_eq(bu_winusb_err_to_usbd(m[i].err), m[i].usbd);
	}
	/* OVERLAPPED.Internal carries an NTSTATUS that maps back exactly. */
	ck_assert_uint_eq(bu_winusb_win32_to_ntstatus(0), 0);
	ck_assert_uint_eq(bu_winusb_win32_to_ntstatus(ERROR_SEM_TIMEOUT), 0xC00000B5u);
	ck_assert_uint_eq(bu_winusb_win32_to_ntstatus(ERROR_OPERATION_ABORTED), 0xC0000120u);
	for (unsigned i = 0; i < BU_ARRAY_SIZE(win); i++) {
		uint32_t nt = bu_winusb_win32_to_ntstatus(win[i]);

		ck_assert(nt & 0x80000000u);
		ck_assert_uint_ne(nt, STATUS_PENDING);
		ck_assert_uint_eq(bu_winusb_ntstatus_to_win32(nt), win[i]);
	}
	ck_assert_uint_eq(bu_winusb_ntstatus_to_win32(STATUS_PENDING), ERROR_IO_INCOMPLETE);
	ck_assert_uint_eq(bu_winusb_ntstatus_to_win32(0xC0001234u), ERROR_GEN_FAILURE);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* The API part against a scripted transport                                */

/* One configuration: interface 0 (alt 0: bulk 0x81/0x02; alt 1: + isoch
 * 0x83), interface 1 (interrupt 0x84). */
static const uint8_t cfg_bytes[] = {
	9, 2, 57, 0, 2, 1, 0, 0x80, 50,
	9, 4, 0, 0, 2, 0xff, 0, 0, 0,
	7, 5, 0x81, 2, 0x00, 0x02, 0,
	7, 5, 0x02, 2, 0x00, 0x02, 0,
	9, 4, 0, 1, 1, 0xff, 0, 0, 0,
	7, 5, 0x83, 1, 0x00, 0x14, 1, /* HS: 1024 x (2 + 1) per microframe */
	9, 4, 1, 0, 1, 3, 0, 0, 0,
};

struct script {
	struct bu_winusb_io last;
	struct bu_winusb_ioparams lastp;
	unsigned calls, opens, closes, polls;
	uint32_t open_mask;
	bool pend;              /* READ/WRITE/CONTROL answer ERROR_IO_PENDING */
	bu_winusb_io_done_fn done;
	void *done_ctx, *done_cookie;
	bool overlapped_seen;
};

static struct script sc;

static uint32_t s_ioctl(void *ctx, const struct bu_winusb_io *io, struct bu_winusb_iores *res)
{
	const struct bu_winusb_ioparams *p = io->params;

	(void)ctx;
	ck_assert_ptr_nonnull(p);
	ck_assert_uint_eq(io->params_len, sizeof(*p));
	sc.calls++;
	sc.last = *io;
	sc.lastp = *p;
	memset(res, 0, sizeof(*res));
	switch (io->code) {
	case BU_WINUSB_IOCTL_OPEN_INTERFACE:
		if (p->iface >= 2)
			return ERROR_NO_MORE_ITEMS;
		if (sc.open_mask & (1u << p->iface))
			return ERROR_ALREADY_EXISTS;
		sc.open_mask |= 1u << p->iface;
		return 0;
	case BU_WINUSB_IOCTL_CLOSE_INTERFACE:
		sc.open_mask &= ~(1u << p->iface);
		return 0;
	case BU_WINUSB_IOCTL_GET_INFO: {
		struct bu_winusb_funcinfo fi = { 0 };

		fi.num_ifaces = 2;
		fi.speed = HighSpeed;
		fi.bus_speed = BU_SPEED_HIGH;
		fi.config_value = 1;
		fi.config_len = sizeof(cfg_bytes);
		fi.iface_numbers[1] = 1;
		memcpy(io->buf, &fi, sizeof(fi));
		res->bytes = sizeof(fi);
		return 0;
	}
	case BU_WINUSB_IOCTL_GET_DESCRIPTOR:
		res->bytes = (uint32_t)BU_MIN(io->buf_len, sizeof(cfg_bytes));
		memcpy(io->buf, cfg_bytes, res->bytes);
		return 0;
	case BU_WINUSB_IOCTL_READ_PIPE:
	case BU_WINUSB_IOCTL_WRITE_PIPE:
	case BU_WINUSB_IOCTL_CONTROL:
		ck_assert_ptr_nonnull(io->done);
		if (!sc.pend) {
			res->bytes = io->buf_len;
			return 0;
		}
		sc.done = io->done;
		sc.done_ctx = io->done_ctx;
		sc.done_cookie = io->done_cookie;
		return ERROR_IO_PENDING;
	default:
		return 0;
	}
}

static uint32_t s_query(void *ctx, uint32_t index, struct bu_winusb_devinfo *out)
{
	(void)ctx;
	if (index > 0)
		return ERROR_NO_MORE_ITEMS;
	memset(out, 0, sizeof(*out));
	out->instance = 7;
	out->vid = 0x1234;
	out->pid = 0xabcd;
	out->first_iface = 2;
	out->composite = true;
	out->present = true;
	out->num_guids = 1;
	strcpy(out->location, "0-3.1");
	strcpy(out->guids[0], "{DA812BFF-12C3-46A2-8E2B-DBD3B7834C43}");
	return 0;
}

static uint32_t s_open(void *ctx, uint32_t instance, uint32_t *file)
{
	(void)ctx;
	if (instance != 7)
		return ERROR_FILE_NOT_FOUND;
	sc.opens++;
	*file = 0x105;
	return 0;
}

static void s_close(void *ctx, uint32_t file)
{
	(void)ctx;
	ck_assert_uint_eq(file, 0x105);
	sc.closes++;
}

static void s_poll(void *ctx)
{
	(void)ctx;
	sc.polls++;
}

static const struct bu_winusb_transport script_tp = {
	.ioctl = s_ioctl, .query = s_query, .open = s_open, .close = s_close, .poll = s_poll,
};

static void api_up(void)
{
	memset(&sc, 0, sizeof(sc));
	ck_assert_int_eq(bu_winusb_api_create(&host_plat, &g_api), 0);
	ck_assert_int_eq(bu_winusb_api_attach(g_api, &script_tp), 0);
}

static void api_down(void)
{
	bu_winusb_api_destroy(g_api);
	g_api = NULL;
}

static HANDLE open_dev(char *path, size_t size)
{
	HANDLE f;

	ck_assert(bu_winusb_find_by_guid(g_api, &WinUSB_TestGuid, 0, path, (DWORD)size, NULL));
	f = CreateFile(path, GENERIC_READ | GENERIC_WRITE, FILE_SHARE_READ | FILE_SHARE_WRITE, NULL,
		       OPEN_EXISTING, FILE_FLAG_OVERLAPPED, NULL);
	ck_assert(f != INVALID_HANDLE_VALUE);
	return f;
}

START_TEST(test_api_discovery)
{
	char path[BU_WINUSB_PATH_MAX];
	DWORD need = 0;
	HANDLE f;

	api_up();
	ck_assert(bu_winusb_find_by_guid(g_api, &WinUSB_TestGuid, 0, path, sizeof(path), &need));
	ck_assert_str_eq(path, "\\\\?\\usb#vid_1234&pid_abcd&mi_02#0-3.1&7"
			       "#{da812bff-12c3-46a2-8e2b-dbd3b7834c43}");
	ck_assert_uint_eq(need, strlen(path) + 1);
	ck_assert(!bu_winusb_find_by_guid(g_api, &WinUSB_TestGuid, 1, path, sizeof(path), NULL));
	ck_assert_uint_eq(GetLastError(), ERROR_NO_MORE_ITEMS);
	ck_assert(bu_winusb_find_by_vidpid(g_api, 0x1234, 0xabcd, 0, path, sizeof(path), NULL));
	ck_assert(!bu_winusb_find_by_vidpid(g_api, 0x1234, 0xabce, 0, path, sizeof(path), NULL));
	f = open_dev(path, sizeof(path));
	ck_assert_uint_eq(sc.opens, 1);
	/* Paths are matched on every part (case-insensitive hex digits). */
	ck_assert(CreateFile("\\\\?\\USB#VID_1234&PID_ABCD&MI_02#0-3.1&7", 0, 0, NULL,
			     OPEN_EXISTING, FILE_FLAG_OVERLAPPED, NULL) != INVALID_HANDLE_VALUE);
	ck_assert(CreateFile("\\\\?\\usb#vid_1234&pid_abcd#0-3.2&7", 0, 0, NULL, OPEN_EXISTING,
			     FILE_FLAG_OVERLAPPED, NULL) == INVALID_HANDLE_VALUE);
	ck_assert_uint_eq(GetLastError(), ERROR_FILE_NOT_FOUND);
	ck_assert(CreateFile("\\\\?\\usb#vid_1234&pid_abcd#0-3.1&", 0, 0, NULL, OPEN_EXISTING,
			     FILE_FLAG_OVERLAPPED, NULL) == INVALID_HANDLE_VALUE);
	ck_assert(CreateFile(NULL, 0, 0, NULL, OPEN_EXISTING, 0, NULL) == INVALID_HANDLE_VALUE);
	ck_assert(CreateFile(path, 0, 0, NULL, 2 /* CREATE_ALWAYS */, 0, NULL) ==
		  INVALID_HANDLE_VALUE);
	ck_assert_uint_eq(GetLastError(), ERROR_INVALID_PARAMETER);
	ck_assert(CloseHandle(f));
	ck_assert_uint_eq(sc.closes, 1);
	api_down();
}
END_TEST

START_TEST(test_api_handles)
{
	char path[BU_WINUSB_PATH_MAX];
	WINUSB_INTERFACE_HANDLE h, a, x;
	USB_INTERFACE_DESCRIPTOR id;
	WINUSB_PIPE_INFORMATION_EX px;
	UCHAR b = 1;
	HANDLE f;

	api_up();
	f = open_dev(path, sizeof(path));
	ck_assert(WinUsb_Initialize(f, &h));
	ck_assert_uint_eq(sc.open_mask, 1);
	/* Positional associated interfaces; one handle each. */
	ck_assert(WinUsb_GetAssociatedInterface(h, 0, &a));
	ck_assert_uint_eq(sc.lastp.iface, 1);
	ck_assert(!WinUsb_GetAssociatedInterface(h, 0, &x));
	ck_assert_uint_eq(GetLastError(), ERROR_ALREADY_EXISTS);
	ck_assert(!WinUsb_GetAssociatedInterface(h, 1, &x));
	ck_assert_uint_eq(GetLastError(), ERROR_NO_MORE_ITEMS);
	ck_assert(WinUsb_QueryInterfaceSettings(a, 0, &id));
	ck_assert_uint_eq(id.bInterfaceNumber, 1);
	ck_assert_uint_eq(id.bInterfaceClass, 3);
	/* QueryPipeEx: HS high-bandwidth isoch = 1024 x 3 per microframe. */
	ck_assert(WinUsb_QueryPipeEx(h, 1, 0, &px));
	ck_assert_uint_eq(px.PipeId, 0x83);
	ck_assert_uint_eq(px.MaximumPacketSize, 0x1400);
	ck_assert_uint_eq(px.MaximumBytesPerInterval, 3072);
	ck_assert(!WinUsb_QueryPipeEx(h, 1, 1, &px));
	ck_assert_uint_eq(GetLastError(), ERROR_NO_MORE_ITEMS);
	/* Every handle is checked against the pools before use. */
	ck_assert(!WinUsb_SetPipePolicy((WINUSB_INTERFACE_HANDLE)((char *)h + 1), 0x81, RAW_IO, 1,
					&b));
	ck_assert_uint_eq(GetLastError(), ERROR_INVALID_HANDLE);
	ck_assert(!WinUsb_SetPipePolicy((WINUSB_INTERFACE_HANDLE)&id, 0x81, RAW_IO, 1, &b));
	ck_assert_uint_eq(GetLastError(), ERROR_INVALID_HANDLE);
	ck_assert(!WinUsb_Initialize((HANDLE)h, &x)); /* an interface handle is not a file */
	ck_assert_uint_eq(GetLastError(), ERROR_INVALID_HANDLE);
	/* Policies travel as (type, length, value). */
	ck_assert(WinUsb_SetPipePolicy(h, 0x81, RAW_IO, 1, &b));
	ck_assert_uint_eq(sc.last.code, BU_WINUSB_IOCTL_SET_PIPE_POLICY);
	ck_assert_uint_eq(sc.lastp.pipe, 0x81);
	ck_assert_uint_eq(sc.lastp.type, RAW_IO);
	ck_assert_uint_eq(sc.lastp.length, 1);
	ck_assert_uint_eq(sc.lastp.value, 1);
	ck_assert(WinUsb_Free(a));
	ck_assert(!WinUsb_Free(a));
	ck_assert_uint_eq(GetLastError(), ERROR_INVALID_HANDLE);
	ck_assert(WinUsb_Free(h));
	ck_assert_uint_eq(sc.open_mask, 0);
	ck_assert(CloseHandle(f));
	api_down();
}
END_TEST

START_TEST(test_api_overlapped)
{
	char path[BU_WINUSB_PATH_MAX];
	WINUSB_INTERFACE_HANDLE h;
	WINUSB_SETUP_PACKET sp = { 0xa1, 0x01, 0x0300, 0x0507, 4 };
	UCHAR buf[64];
	OVERLAPPED ov;
	HANDLE ev;
	DWORD n = 0;
	ULONG got = 0;
	HANDLE f;

	api_up();
	f = open_dev(path, sizeof(path));
	ck_assert(WinUsb_Initialize(f, &h));
	/* Inline completion of a synchronous call. */
	ck_assert(WinUsb_ReadPipe(h, 0x81, buf, 64, &got, NULL));
	ck_assert_uint_eq(got, 64);
	/* The setup packet goes down little-endian, by value. */
	ck_assert(WinUsb_ControlTransfer(h, sp, buf, 4, &got, NULL));
	ck_assert_mem_eq(sc.lastp.setup, ((uint8_t[]){ 0xa1, 1, 0, 3, 7, 5, 4, 0 }), 8);
	/* Overlapped: pending, event reset, completion writes OVERLAPPED + event. */
	sc.pend = true;
	ev = CreateEvent(NULL, TRUE, TRUE, NULL);
	memset(&ov, 0, sizeof(ov));
	ov.hEvent = ev;
	ck_assert(!WinUsb_ReadPipe(h, 0x81, buf, 64, NULL, &ov));
	ck_assert_uint_eq(GetLastError(), ERROR_IO_PENDING);
	ck_assert_uint_eq(ov.Internal, STATUS_PENDING);
	ck_assert_uint_eq(WaitForSingleObject(ev, 0), WAIT_TIMEOUT);
	ck_assert(!WinUsb_GetOverlappedResult(h, &ov, &n, FALSE));
	ck_assert_uint_eq(GetLastError(), ERROR_IO_INCOMPLETE);
	ck_assert(!HasOverlappedIoCompleted(&ov));
	sc.done(sc.done_ctx, sc.done_cookie, ERROR_SEM_TIMEOUT, 17);
	ck_assert(HasOverlappedIoCompleted(&ov));
	ck_assert_uint_eq(WaitForSingleObject(ev, 0), WAIT_OBJECT_0);
	ck_assert_uint_eq(WaitForSingleObject(ev, 0), WAIT_OBJECT_0); /* manual reset */
	ck_assert(!WinUsb_GetOverlappedResult(h, &ov, &n, TRUE));
	ck_assert_uint_eq(GetLastError(), ERROR_SEM_TIMEOUT);
	ck_assert_uint_eq(n, 17);
	/* Success through an auto-reset event. */
	CloseHandle(ev);
	ev = CreateEvent(NULL, FALSE, FALSE, NULL);
	ov.hEvent = ev;
	ck_assert(!WinUsb_WritePipe(h, 0x02, buf, 64, NULL, &ov));
	sc.done(sc.done_ctx, sc.done_cookie, 0, 64);
	ck_assert_uint_eq(WaitForSingleObject(ev, 0), WAIT_OBJECT_0);
	ck_assert_uint_eq(WaitForSingleObject(ev, 5), WAIT_TIMEOUT); /* it reset itself */
	ck_assert(WinUsb_GetOverlappedResult(h, &ov, &n, FALSE));
	ck_assert_uint_eq(n, 64);
	ck_assert(GetOverlappedResult(f, &ov, &n, FALSE));
	ck_assert(CloseHandle(ev));
	ck_assert(!CloseHandle(ev));
	ck_assert_uint_eq(GetLastError(), ERROR_INVALID_HANDLE);
	ck_assert(WinUsb_Free(h));
	ck_assert(CloseHandle(f));
	api_down();
}
END_TEST

static uint32_t tls_slot;

static uint32_t *slot_fn(void *ctx)
{
	(void)ctx;
	return &tls_slot;
}

START_TEST(test_api_last_error)
{
	api_up();
	SetLastError(1234);
	ck_assert_uint_eq(GetLastError(), 1234);
	/* A per-thread slot from the embedder. */
	bu_winusb_api_set_error_slot(g_api, slot_fn, NULL);
	ck_assert(!WinUsb_Free(NULL));
	ck_assert_uint_eq(tls_slot, ERROR_INVALID_HANDLE);
	bu_winusb_api_set_error_slot(g_api, NULL, NULL);
	ck_assert_uint_eq(GetLastError(), 1234);
	/* Events: pool exhaustion, waits with and without timeout. */
	HANDLE e[BU_WINUSB_API_MAX_EVENTS];
	for (unsigned i = 0; i < BU_WINUSB_API_MAX_EVENTS; i++)
		ck_assert_ptr_nonnull(e[i] = CreateEvent(NULL, TRUE, FALSE, NULL));
	ck_assert_ptr_null(CreateEvent(NULL, TRUE, FALSE, NULL));
	ck_assert_uint_eq(GetLastError(), ERROR_NOT_ENOUGH_MEMORY);
	ck_assert(SetEvent(e[3]));
	ck_assert_uint_eq(WaitForSingleObject(e[3], INFINITE), WAIT_OBJECT_0);
	ck_assert(ResetEvent(e[3]));
	fake_now = 0;
	ck_assert_uint_eq(WaitForSingleObject(e[3], 20), WAIT_TIMEOUT);
	ck_assert_uint_ge(fake_now, 20000);
	for (unsigned i = 0; i < BU_WINUSB_API_MAX_EVENTS; i++)
		ck_assert(CloseHandle(e[i]));
	api_down();
}
END_TEST

/* ------------------------------------------------------------------------ */
/* The driver part's validation, without a device                           */

START_TEST(test_drv_validation)
{
	struct bu_usb_bus bus;
	struct bu_winusb_drv *drv;
	struct bu_winusb_ioparams prm = { 0 };
	struct bu_winusb_io io = { 0 };
	struct bu_winusb_iores res;
	struct bu_winusb_devinfo info;
	uint32_t file = 0;

	memset(&bus, 0, sizeof(bus));
	bus.plat = &host_plat;
	ck_assert_int_eq(bu_winusb_drv_create(&bus, NULL, &drv), 0);
	ck_assert_uint_eq(bus.num_drivers, 1);
	ck_assert_str_eq(bus.drivers[0]->name, "winusb");
	/* Match table: the compatible-ID rule, then bindings in front of it. */
	ck_assert_uint_eq(bus.drivers[0]->num_match, 1);
	ck_assert_str_eq(bus.drivers[0]->match[0].compat_id, "WINUSB");
	ck_assert_int_eq(bu_winusb_drv_bind(drv, 0x46f4, 0x0001, -1, NULL), 0);
	ck_assert_int_eq(bu_winusb_drv_bind(drv, 0x0403, 0x6001, 0,
					    "{DA812BFF-12C3-46A2-8E2B-DBD3B7834C43}"), 0);
	ck_assert_uint_eq(bus.drivers[0]->num_match, 3);
	ck_assert_uint_eq(bus.drivers[0]->match[0].flags, BU_MATCH_VENDOR | BU_MATCH_PRODUCT);
	ck_assert_uint_eq(bus.drivers[0]->match[1].flags,
			  BU_MATCH_VENDOR | BU_MATCH_PRODUCT | BU_MATCH_INTERFACE);
	ck_assert_uint_eq(bus.drivers[0]->match[2].flags, BU_MATCH_COMPAT_ID);
	for (int i = 2; i < BU_WINUSB_MAX_BINDINGS; i++)
		ck_assert_int_eq(bu_winusb_drv_bind(drv, 1, (uint16_t)i, -1, NULL), 0);
	ck_assert_int_eq(bu_winusb_drv_bind(drv, 1, 1, -1, NULL), BU_ENOSPC);
	ck_assert_int_eq(bu_winusb_drv_bind(drv, 1, 1, 300, NULL), BU_EINVAL);
	/* Nothing bound: discovery is empty, opens fail. */
	ck_assert_uint_eq(bu_winusb_drv_query(drv, 0, &info), ERROR_NO_MORE_ITEMS);
	ck_assert_uint_eq(bu_winusb_drv_open(drv, 1, &file), ERROR_FILE_NOT_FOUND);
	ck_assert_uint_eq(bu_winusb_drv_open(drv, 1, NULL), ERROR_INVALID_PARAMETER);
	/* A request on a file nobody opened, with made-up ids. */
	io.params = &prm;
	io.params_len = sizeof(prm);
	for (uint32_t id = 0; id < 0x300; id += 0x41) {
		io.file = id;
		io.code = BU_WINUSB_IOCTL_READ_PIPE;
		ck_assert_uint_eq(bu_winusb_drv_ioctl(drv, &io, &res), ERROR_INVALID_HANDLE);
	}
	ck_assert_uint_eq(bu_winusb_drv_ioctl(drv, NULL, &res), ERROR_INVALID_PARAMETER);
	ck_assert_uint_eq(bu_winusb_drv_ioctl(NULL, &io, &res), ERROR_INVALID_PARAMETER);
	bu_winusb_drv_close(drv, 0x1234); /* harmless */
	bu_winusb_drv_destroy(drv);
	ck_assert_uint_eq(bus.num_drivers, 0);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Parse helpers on hostile bytes                                           */

START_TEST(test_parse_helpers)
{
	uint8_t *cfg = malloc(sizeof(cfg_bytes));
	PUSB_INTERFACE_DESCRIPTOR id;
	PUSB_COMMON_DESCRIPTOR c;

	memcpy(cfg, cfg_bytes, sizeof(cfg_bytes));
	id = WinUsb_ParseConfigurationDescriptor((PUSB_CONFIGURATION_DESCRIPTOR)cfg, cfg, 1, -1, -1,
						 -1, -1);
	ck_assert_ptr_nonnull(id);
	ck_assert_uint_eq(id->bInterfaceClass, 3);
	id = WinUsb_ParseConfigurationDescriptor((PUSB_CONFIGURATION_DESCRIPTOR)cfg, NULL, -1, -1,
						 0xff, -1, -1);
	ck_assert_ptr_eq(id, (void *)(cfg + 9));
	/* Search from after the first match. */
	id = WinUsb_ParseConfigurationDescriptor((PUSB_CONFIGURATION_DESCRIPTOR)cfg, cfg + 18, -1,
						 -1, 0xff, -1, -1);
	ck_assert_ptr_eq(id, (void *)(cfg + 32));
	ck_assert_ptr_null(WinUsb_ParseConfigurationDescriptor((PUSB_CONFIGURATION_DESCRIPTOR)cfg,
								cfg, 0, 2, -1, -1, -1));
	c = WinUsb_ParseDescriptors(cfg, sizeof(cfg_bytes), cfg + 9, USB_ENDPOINT_DESCRIPTOR_TYPE);
	ck_assert_ptr_eq(c, (void *)(cfg + 18));
	ck_assert_ptr_null(WinUsb_ParseDescriptors(cfg, sizeof(cfg_bytes), cfg + sizeof(cfg_bytes),
						   -1));
	ck_assert_ptr_null(WinUsb_ParseDescriptors(NULL, 10, cfg, -1));
	/* A bLength of 0 stops the walk instead of looping. */
	cfg[18] = 0;
	ck_assert_ptr_null(WinUsb_ParseDescriptors(cfg, sizeof(cfg_bytes), cfg + 9,
						   USB_ENDPOINT_DESCRIPTOR_TYPE));
	/* wTotalLength beyond ... the walk stays inside what it says. */
	cfg[18] = 7;
	cfg[2] = 20;
	ck_assert_ptr_null(WinUsb_ParseConfigurationDescriptor((PUSB_CONFIGURATION_DESCRIPTOR)cfg,
								cfg, 1, -1, -1, -1, -1));
	cfg[1] = 4;
	ck_assert_ptr_null(WinUsb_ParseConfigurationDescriptor((PUSB_CONFIGURATION_DESCRIPTOR)cfg,
								cfg, -1, -1, -1, -1, -1));
	free(cfg);
}
END_TEST

/*
 * The power values' precedence ("WinUSB power management"): AUTO_SUSPEND
 * (from DefaultIdleState) counts only with DeviceIdleEnabled; the user's
 * "off" only where UserSetDeviceIdleEnabled offers it; a device without
 * remote wakeup is suspended only with DeviceIdleIgnoreWakeEnable.
 */
#define PW_IDLE BU_MSOS_DEVICE_IDLE_ENABLED
#define PW_STATE BU_MSOS_DEFAULT_IDLE_STATE
#define PW_USER BU_MSOS_USER_SET_DEVICE_IDLE
#define PW_IGNORE BU_MSOS_DEVICE_IDLE_IGNORE_WAKE
static const struct power_case {
	uint8_t set;
	uint32_t idle, state, user_set, ignore;
	bool user_off, remote_wake;
	bool auto_suspend, may_suspend;
} power_cases[] = {
	/* nothing given: WinUSB's defaults, no selective suspend */
	{ 0, 0, 0, 0, 0, false, true, false, false },
	/* DefaultIdleState without DeviceIdleEnabled is ignored */
	{ PW_STATE, 0, 1, 0, 0, false, true, false, false },
	{ PW_IDLE | PW_STATE, 0, 1, 0, 0, false, true, false, false },
	/* both: suspended when idle, with remote wakeup */
	{ PW_IDLE | PW_STATE, 1, 1, 0, 0, false, true, true, true },
	/* DeviceIdleEnabled alone: AUTO_SUSPEND stays off */
	{ PW_IDLE, 1, 0, 0, 0, false, true, false, false },
	/* no remote wakeup: only with DeviceIdleIgnoreWakeEnable */
	{ PW_IDLE | PW_STATE, 1, 1, 0, 0, false, false, true, false },
	{ PW_IDLE | PW_STATE | PW_IGNORE, 1, 1, 0, 1, false, false, true, true },
	{ PW_IDLE | PW_STATE | PW_IGNORE, 1, 1, 0, 0, false, false, true, false },
	/* the user's "off" counts only where UserSetDeviceIdleEnabled offers it */
	{ PW_IDLE | PW_STATE | PW_USER, 1, 1, 1, 0, true, true, true, false },
	{ PW_IDLE | PW_STATE | PW_USER, 1, 1, 0, 0, true, true, true, true },
	{ PW_IDLE | PW_STATE, 1, 1, 0, 0, true, true, true, true },
};

START_TEST(test_power_rules)
{
	const struct power_case *c = &power_cases[_i];
	struct bu_winusb_power_settings s = { 0 };
	struct wu_power p = { .suspend_delay = 5000 };

	s.set = c->set;
	s.device_idle_enabled = c->idle;
	s.default_idle_state = c->state;
	s.user_set_device_idle_enabled = c->user_set;
	s.device_idle_ignore_wake = c->ignore;
	s.user_idle_off = c->user_off;
	bu_wu_power_apply(&p, &s);
	ck_assert_uint_eq(p.auto_suspend, c->auto_suspend);
	ck_assert_uint_eq(p.suspend_delay, 5000);
	ck_assert_int_eq(bu_wu_power_may_suspend(&p, c->remote_wake), c->may_suspend);
	/* AUTO_SUSPEND set by the application is still ignored without
	 * DeviceIdleEnabled. */
	p.auto_suspend = 1;
	if (!(c->set & PW_IDLE) || !c->idle)
		ck_assert(!bu_wu_power_may_suspend(&p, true));
}
END_TEST

START_TEST(test_power_from_msos)
{
	struct bu_msos_function m = { 0 };
	struct bu_winusb_power_settings s;
	struct wu_power p = { .suspend_delay = 5000 };

	m.power_set = BU_MSOS_DEVICE_IDLE_ENABLED | BU_MSOS_DEFAULT_IDLE_TIMEOUT |
		      BU_MSOS_SYSTEM_WAKE_ENABLED;
	m.device_idle_enabled = 1;
	m.default_idle_timeout = 100;
	m.system_wake_enabled = 1;
	bu_winusb_power_from_msos(&s, &m);
	bu_wu_power_apply(&p, &s);
	ck_assert(p.idle_enabled && p.system_wake && !p.auto_suspend);
	ck_assert_uint_eq(p.suspend_delay, 100);
}
END_TEST

Suite *unit_suite(void)
{
	Suite *s = suite_create("winusb");
	TCase *t = unit_tcase(s, "headers");

	tcase_add_test(t, test_layouts);
	tcase_add_test(t, test_constants);
	t = unit_tcase(s, "policy");
	tcase_add_test(t, test_policy_defaults);
	tcase_add_loop_test(t, test_policy_set, 0, BU_ARRAY_SIZE(set_cases));
	tcase_add_loop_test(t, test_read_piece, 0, BU_ARRAY_SIZE(piece_cases));
	tcase_add_loop_test(t, test_tail_plan, 0, BU_ARRAY_SIZE(tail_cases));
	tcase_add_test(t, test_raw_and_write_rules);
	tcase_add_test(t, test_isoch_rules);
	tcase_add_test(t, test_error_mapping);
	tcase_add_loop_test(t, test_power_rules, 0, BU_ARRAY_SIZE(power_cases));
	tcase_add_test(t, test_power_from_msos);
	t = unit_tcase(s, "api");
	tcase_add_test(t, test_api_discovery);
	tcase_add_test(t, test_api_handles);
	tcase_add_test(t, test_api_overlapped);
	tcase_add_test(t, test_api_last_error);
	tcase_add_test(t, test_drv_validation);
	tcase_add_test(t, test_parse_helpers);
	return s;
}
