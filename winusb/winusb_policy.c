/*
 * WinUSB rules as pure functions: pipe-policy defaults and validation
 * ("WinUSB functions for pipe policy modification"), read rounding and
 * excess handling, write splitting and ZLPs, isochronous packetisation
 * ("Send USB isochronous transfers from a WinUSB desktop app"), and the
 * mappings from bareusb errors to Win32 errors, USBD_STATUS and NTSTATUS.
 * No state, no I/O: the unit tests drive them table by table.
 */
#include "winusb_priv.h"

#include "bareusb/errors.h"
#include "bareusb/util.h"

/* ======================================================================== */
/* Pipe policies                                                            */
/* ======================================================================== */

/* ======================================================================== */
/* Power values ("WinUSB power management")                                 */
/* ======================================================================== */

void bu_winusb_power_from_msos(struct bu_winusb_power_settings *s,
			       const struct bu_msos_function *m)
{
	bu_memset(s, 0, sizeof(*s));
	s->set = m->power_set;
	s->device_idle_enabled = m->device_idle_enabled;
	s->default_idle_state = m->default_idle_state;
	s->default_idle_timeout = m->default_idle_timeout;
	s->user_set_device_idle_enabled = m->user_set_device_idle_enabled;
	s->system_wake_enabled = m->system_wake_enabled;
	s->device_idle_ignore_wake = m->device_idle_ignore_wake;
}

void bu_wu_power_apply(struct wu_power *p, const struct bu_winusb_power_settings *s)
{
	if (s->set & BU_MSOS_DEVICE_IDLE_ENABLED)
		p->idle_enabled = s->device_idle_enabled != 0;
	/* DefaultIdleState and UserSetDeviceIdleEnabled are ignored without
	 * DeviceIdleEnabled; DefaultIdleTimeout, SystemWakeEnabled and
	 * DeviceIdleIgnoreWakeEnable stand alone. */
	if (p->idle_enabled && (s->set & BU_MSOS_DEFAULT_IDLE_STATE))
		p->auto_suspend = s->default_idle_state != 0;
	if (s->set & BU_MSOS_DEFAULT_IDLE_TIMEOUT)
		p->suspend_delay = s->default_idle_timeout;
	if (s->set & BU_MSOS_DEVICE_IDLE_IGNORE_WAKE)
		p->ignore_wake = s->device_idle_ignore_wake != 0;
	if (s->set & BU_MSOS_SYSTEM_WAKE_ENABLED)
		p->system_wake = s->system_wake_enabled != 0;
	p->user_idle_off = p->idle_enabled && (s->set & BU_MSOS_USER_SET_DEVICE_IDLE) &&
			   s->user_set_device_idle_enabled && s->user_idle_off;
}

bool bu_wu_power_may_suspend(const struct wu_power *p, bool remote_wake)
{
	return p->idle_enabled && p->auto_suspend && !p->user_idle_off &&
	       (remote_wake || p->ignore_wake);
}

void bu_wu_policies_default(struct wu_policies *p, bool control_pipe)
{
	bu_memset(p, 0, sizeof(*p));
	p->allow_partial_reads = 1;
	p->timeout_ms = control_pipe ? WU_CTRL_TIMEOUT_MS : 0;
}

unsigned bu_wu_policy_size(uint32_t type)
{
	switch (type) {
	case SHORT_PACKET_TERMINATE:
	case AUTO_CLEAR_STALL:
	case IGNORE_SHORT_PACKETS:
	case ALLOW_PARTIAL_READS:
	case AUTO_FLUSH:
	case RAW_IO:
	case RESET_PIPE_ON_RESUME:
		return 1;
	case PIPE_TRANSFER_TIMEOUT:
	case MAXIMUM_TRANSFER_SIZE:
		return 4;
	default:
		return 0;
	}
}

/** The boolean field of a UCHAR policy, or NULL. */
static uint8_t *bool_field(struct wu_policies *p, uint32_t type)
{
	switch (type) {
	case SHORT_PACKET_TERMINATE:
		return &p->short_packet_terminate;
	case AUTO_CLEAR_STALL:
		return &p->auto_clear_stall;
	case IGNORE_SHORT_PACKETS:
		return &p->ignore_short_packets;
	case ALLOW_PARTIAL_READS:
		return &p->allow_partial_reads;
	case AUTO_FLUSH:
		return &p->auto_flush;
	case RAW_IO:
		return &p->raw_io;
	case RESET_PIPE_ON_RESUME:
		return &p->reset_pipe_on_resume;
	default:
		return NULL;
	}
}

uint32_t bu_wu_policies_set(struct wu_policies *p, uint32_t type, uint32_t len, uint32_t value)
{
	unsigned size = bu_wu_policy_size(type);
	uint8_t *b;

	/* A wrong ValueLength fails with ERROR_INVALID_PARAMETER ("WinUsb_SetPipePolicy
	 * function (winusb.h)"); so does writing the read-only
	 * MAXIMUM_TRANSFER_SIZE (the documentation does not name the code). */
	if (!size || len != size || type == MAXIMUM_TRANSFER_SIZE)
		return ERROR_INVALID_PARAMETER;
	if (type == PIPE_TRANSFER_TIMEOUT) {
		p->timeout_ms = value;
		return 0;
	}
	b = bool_field(p, type);
	*b = (value & 0xff) ? 1 : 0;
	return 0;
}

uint32_t bu_wu_policies_get(const struct wu_policies *p, uint32_t type, uint32_t max_xfer,
			 uint32_t *value, uint32_t *size)
{
	unsigned sz = bu_wu_policy_size(type);

	if (!sz)
		return ERROR_INVALID_PARAMETER;
	*size = sz;
	if (type == PIPE_TRANSFER_TIMEOUT)
		*value = p->timeout_ms;
	else if (type == MAXIMUM_TRANSFER_SIZE)
		*value = max_xfer;
	else
		*value = *bool_field((struct wu_policies *)p, type);
	return 0;
}

/* ======================================================================== */
/* Reads and writes                                                         */
/* ======================================================================== */

uint32_t bu_wu_raw_io_check(uint32_t len, uint16_t mps, uint32_t max_xfer)
{
	if (!mps || !len || len % mps || len > max_xfer)
		return ERROR_INVALID_PARAMETER;
	return 0;
}

uint32_t bu_wu_read_piece(uint32_t remaining, uint16_t mps, uint32_t max_xfer, bool *tail)
{
	uint32_t whole;

	*tail = false;
	if (!mps)
		return BU_MIN(remaining, max_xfer);
	whole = remaining - remaining % mps;
	if (whole) {
		uint32_t cap = max_xfer - max_xfer % mps;

		return BU_MIN(whole, cap ? cap : mps);
	}
	*tail = remaining != 0;
	return *tail ? mps : 0;
}

void bu_wu_tail_plan(uint32_t got, uint32_t remaining, const struct wu_policies *p,
		  struct wu_tail *out)
{
	out->to_user = BU_MIN(got, remaining);
	out->excess = got - out->to_user;
	out->keep = false;
	out->status = 0;
	if (!out->excess)
		return;
	if (!p->allow_partial_reads) {
		/* ALLOW_PARTIAL_READS off: such a read fails; the excess is dropped. */
		out->status = ERROR_GEN_FAILURE;
		return;
	}
	out->keep = !p->auto_flush;
}

uint32_t bu_wu_write_pieces(uint32_t len, uint16_t mps, uint32_t max_xfer,
			 const struct wu_policies *p, bool *zlp)
{
	uint32_t n;

	*zlp = false;
	if (!len)
		return 1; /* a zero-length write is a ZLP on the bus */
	if (!max_xfer)
		max_xfer = len;
	n = len / max_xfer + (len % max_xfer ? 1 : 0);
	if (p->short_packet_terminate && mps && len % mps == 0) {
		*zlp = true;
		n++;
	}
	return n;
}

/* ======================================================================== */
/* Isochronous                                                              */
/* ======================================================================== */

uint32_t bu_wu_isoch_max_packets(enum bu_usb_speed speed)
{
	return speed >= BU_SPEED_HIGH ? 1024u : 255u;
}

bool bu_wu_array_size(size_t head, size_t n, size_t elem, size_t *size)
{
	if (elem && n > (SIZE_MAX - head) / elem)
		return false;
	*size = head + n * elem;
	return true;
}

uint32_t bu_wu_isoch_plan(enum bu_usb_speed speed, bool in, uint32_t length, uint32_t npackets,
			  uint32_t bpi, uint32_t *count, uint32_t *per)
{
	uint32_t max = bu_wu_isoch_max_packets(speed);

	if (!bpi || !length)
		return ERROR_INVALID_PARAMETER;
	if (!in) {
		*per = bpi;
		*count = length / bpi + (length % bpi ? 1 : 0);
		return *count > max ? ERROR_INVALID_PARAMETER : 0;
	}
	if (!npackets || npackets > length || npackets > max)
		return ERROR_INVALID_PARAMETER;
	*per = length / npackets;
	*count = npackets;
	/* The last packet takes the remainder; every packet fits an interval. */
	if (*per > bpi || length - *per * (npackets - 1) > bpi)
		return ERROR_INVALID_PARAMETER;
	return 0;
}

uint32_t bu_wu_isoch_frames(enum bu_usb_speed speed, uint8_t interval, uint32_t packets)
{
	unsigned exp = interval ? (unsigned)(interval - 1) : 0;

	if (exp > 15)
		exp = 15;
	if (speed >= BU_SPEED_HIGH) {
		/* 2^(bInterval-1) microframes per packet, 8 per frame. */
		uint64_t uframes = (uint64_t)packets << exp;

		return (uint32_t)((uframes + 7) / 8);
	}
	/* Full speed: 2^(bInterval-1) frames per packet (bInterval 1..16). */
	return (uint32_t)BU_MIN((uint64_t)packets << exp, 0xffffffffu);
}

/* ======================================================================== */
/* Error mappings                                                           */
/* ======================================================================== */

uint32_t bu_winusb_err_to_win32(int err)
{
	switch (err) {
	case 0:
		return ERROR_SUCCESS;
	case BU_ETIMEDOUT:
		return ERROR_SEM_TIMEOUT;        /* PIPE_TRANSFER_TIMEOUT */
	case BU_ECANCELED:
		return ERROR_OPERATION_ABORTED;  /* AbortPipe, cancel */
	case BU_ENODEV:
	case BU_ESHUTDOWN:
		return ERROR_DEVICE_NOT_CONNECTED; /* removal */
	case BU_ENOMEM:
	case BU_ENOSPC:
		return ERROR_NOT_ENOUGH_MEMORY;
	case BU_EINVAL:
	case BU_EFAULT:
	case BU_ERANGE:
		return ERROR_INVALID_PARAMETER;
	case BU_ENOTSUP:
		return ERROR_NOT_SUPPORTED;
	case BU_EBUSY:
		return ERROR_BUSY;
	case BU_ENOENT:
		return ERROR_NO_MORE_ITEMS;
	case BU_ESTALL:
	case BU_EPROTO:
	case BU_EBABBLE:
	case BU_EOVERFLOW:
	case BU_EIO:
	case BU_EMISSED:
	case BU_EBADDESC:
	default:
		return ERROR_GEN_FAILURE; /* stall and bus errors */
	}
}

int32_t bu_winusb_err_to_usbd(int err)
{
	switch (err) {
	case 0:
		return (int32_t)USBD_STATUS_SUCCESS;
	case BU_EMISSED:
		return (int32_t)USBD_STATUS_ISO_NOT_ACCESSED_LATE;
	case BU_ECANCELED:
		return (int32_t)USBD_STATUS_CANCELED;
	case BU_ETIMEDOUT:
		return (int32_t)USBD_STATUS_TIMEOUT;
	case BU_ENODEV:
	case BU_ESHUTDOWN:
		return (int32_t)USBD_STATUS_DEVICE_GONE;
	case BU_ESTALL:
		return (int32_t)USBD_STATUS_STALL_PID;
	case BU_EBABBLE:
		return (int32_t)USBD_STATUS_BABBLE_DETECTED;
	case BU_EOVERFLOW:
		return (int32_t)USBD_STATUS_DATA_OVERRUN;
	case BU_EPROTO:
		return (int32_t)USBD_STATUS_XACT_ERROR;
	case BU_ENOSPC:
	case BU_ENOMEM:
		return (int32_t)USBD_STATUS_INSUFFICIENT_RESOURCES;
	default:
		return (int32_t)USBD_STATUS_ISO_TD_ERROR;
	}
}

/** Win32 error <-> NTSTATUS pairs that RtlNtStatusToDosError agrees with. */
static const struct {
	uint32_t win32;
	uint32_t nt;
} nt_map[] = {
	{ ERROR_SEM_TIMEOUT, 0xC00000B5u },          /* STATUS_IO_TIMEOUT */
	{ ERROR_OPERATION_ABORTED, 0xC0000120u },    /* STATUS_CANCELLED */
	{ ERROR_GEN_FAILURE, 0xC0000001u },          /* STATUS_UNSUCCESSFUL */
	{ ERROR_DEVICE_NOT_CONNECTED, 0xC000009Du }, /* STATUS_DEVICE_NOT_CONNECTED */
	{ ERROR_NOT_ENOUGH_MEMORY, 0xC0000017u },    /* STATUS_NO_MEMORY */
	{ ERROR_INVALID_PARAMETER, 0xC000000Du },    /* STATUS_INVALID_PARAMETER */
	{ ERROR_INVALID_HANDLE, 0xC0000008u },       /* STATUS_INVALID_HANDLE */
	{ ERROR_NOT_SUPPORTED, 0xC00000BBu },        /* STATUS_NOT_SUPPORTED */
	{ ERROR_MORE_DATA, 0x80000005u },            /* STATUS_BUFFER_OVERFLOW */
};

/* Anything else travels as a customer-defined error status carrying the code. */
#define WU_NT_CUSTOM 0xE0000000u

uint32_t bu_winusb_win32_to_ntstatus(uint32_t win32)
{
	if (win32 == 0)
		return 0;
	for (unsigned i = 0; i < BU_ARRAY_SIZE(nt_map); i++)
		if (nt_map[i].win32 == win32)
			return nt_map[i].nt;
	return WU_NT_CUSTOM | (win32 & 0xffffu);
}

uint32_t bu_winusb_ntstatus_to_win32(uint32_t nt)
{
	if (nt == 0)
		return 0;
	if (nt == STATUS_PENDING)
		return ERROR_IO_INCOMPLETE;
	for (unsigned i = 0; i < BU_ARRAY_SIZE(nt_map); i++)
		if (nt_map[i].nt == nt)
			return nt_map[i].win32;
	if ((nt & 0xE0000000u) == WU_NT_CUSTOM)
		return nt & 0xffffu;
	return ERROR_GEN_FAILURE;
}
