/*
 * libFuzzer harness for the WinUSB API (winusb/winusb_api.c over
 * the driver part in winusb/): a small interpreter turns the input into a
 * sequence of WinUSB and Win32 calls - with good, stale, made-up and
 * wrong-kind handles, any pipe ID, length, policy type, value and value
 * size, OVERLAPPED structures reused while pending, waited on twice or
 * never submitted, isochronous offsets, lengths, frames and packet counts -
 * against the WinUSB device model on the sim, polling the bus between
 * calls, maybe unplugging the device half way.
 *
 * Checked after every call: a BOOL call returns TRUE, or FALSE with a
 * Win32 error the API documents (one of wintypes.h's ERROR_* codes, never
 * none); a handle that was never valid (NULL, a small number, a handle
 * moved off its slot, a handle of another kind) is refused with
 * ERROR_INVALID_HANDLE or ERROR_INVALID_PARAMETER. Every buffer the
 * harness passes is exactly as long as the length it claims, so ASan sees
 * the API or the driver step outside one, and the buffers of a synchronous
 * call are freed as soon as it returns, so a late write into one is caught
 * too (an OVERLAPPED request's live until the end). At the end the API instance, the
 * driver part and the bus are destroyed and every allocation must have
 * come back.
 *
 * Input: byte 0 the device (bits 0-1 speed FS/HS/SS, bit 2 the MS OS 1.0
 * model, bit 3 the composite with an MS OS 2.0 function subset); then up
 * to MAX_OPS calls, each an opcode byte and its arguments (see run_op).
 */
#define BU_WINUSB_NO_WINUSB_NAMES
#include "fuzz_sim.h"

#include "bareusb/winusb.h"
#include "bareusb/winusb_drv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_OPS 64
#define NSLOT 4         /* handles of each kind kept */
#define MAX_KEEP 160    /* buffers kept until the end */
#define MAX_BUF 16384   /* longest buffer passed */
#define SENTINEL 0xdeadu
#define WAIT_CAP_MS 10  /* every wait the API does ends within this */

/* {6A1D3C9E-5B2F-4E8A-9C71-0D3E5F7A9B21}: SIM_WINUSB_GUID */
static const GUID sim_guid = { 0x6A1D3C9Eu, 0x5B2F, 0x4E8A,
			       { 0x9C, 0x71, 0x0D, 0x3E, 0x5F, 0x7A, 0x9B, 0x21 } };

struct env {
	struct fz_input in;
	struct fz_stack st;
	struct bu_winusb_drv *drv;
	struct bu_winusb_api *api;
	struct sim_device *sd;
	HANDLE files[NSLOT];
	WINUSB_INTERFACE_HANDLE ifh[NSLOT];
	HANDLE events[NSLOT];
	WINUSB_ISOCH_BUFFER_HANDLE isoch[NSLOT];
	OVERLAPPED ov[NSLOT];   /* live until everything is destroyed */
	void *keep[MAX_KEEP];   /* buffers of overlapped requests and isochronous
				 * registrations: freed at the end */
	unsigned nkeep;
	void *tmp[8];           /* buffers of a synchronous call: freed when it
				 * returns, as a caller may */
	unsigned ntmp;
	char path[BU_WINUSB_PATH_MAX];
};

/* Every Win32 error the API may report. */
static const DWORD documented[] = {
	ERROR_FILE_NOT_FOUND, ERROR_ACCESS_DENIED, ERROR_INVALID_HANDLE,
	ERROR_NOT_ENOUGH_MEMORY, ERROR_BAD_COMMAND, ERROR_GEN_FAILURE, ERROR_NOT_SUPPORTED,
	ERROR_INVALID_PARAMETER, ERROR_SEM_TIMEOUT, ERROR_INSUFFICIENT_BUFFER, ERROR_BUSY,
	ERROR_ALREADY_EXISTS, ERROR_MORE_DATA, ERROR_NO_MORE_ITEMS, ERROR_NO_SUCH_DEVICE,
	ERROR_OPERATION_ABORTED, ERROR_NOACCESS, ERROR_IO_INCOMPLETE, ERROR_IO_PENDING,
	ERROR_DEVICE_NOT_CONNECTED, ERROR_NOT_FOUND, ERROR_BAD_DEVICE,
};

static void check_result(struct env *e, BOOL r, bool bogus_handle, const char *call)
{
	DWORD err = bu_win32_get_last_error(e->api);
	bool known = false;

	for (size_t i = 0; i < sizeof(documented) / sizeof(documented[0]); i++)
		known |= err == documented[i];
	if (getenv("FUZZ_LOG"))
		fprintf(stderr, "%s -> %d, error %lu%s\n", call, r, (unsigned long)err,
			bogus_handle ? " (bogus handle)" : "");
	if (r && !bogus_handle)
		return;
	if (r || !known || (bogus_handle && err != ERROR_INVALID_HANDLE &&
			    err != ERROR_INVALID_PARAMETER)) {
		fprintf(stderr, "%s: returned %d with error %lu%s\n", call, r, (unsigned long)err,
			bogus_handle ? " for a handle that was never valid" : "");
		abort();
	}
}

/* Run a BOOL call with the sentinel in the last-error slot, then check it. */
#define CALL(e, bogus, expr)                                              \
	do {                                                              \
		bu_win32_set_last_error((e)->api, SENTINEL);              \
		BOOL r_ = (expr);                                         \
		check_result((e), r_, (bogus), #expr);                    \
	} while (0)

/**
 * A buffer of exactly `len` bytes: one the API may use until the end
 * (`keep`: an overlapped request's, a registered isochronous one), or one
 * freed as soon as the synchronous call returns, so ASan catches a late
 * write into it.
 */
static void *arg_buf(struct env *e, size_t len, bool keep)
{
	void *b;

	if (keep ? e->nkeep == MAX_KEEP : e->ntmp == sizeof(e->tmp) / sizeof(e->tmp[0]))
		return NULL;
	b = malloc(len ? len : 1);
	if (!b)
		abort();
	memset(b, 0xa5, len);
	if (keep)
		e->keep[e->nkeep++] = b;
	else
		e->tmp[e->ntmp++] = b;
	return b;
}

/** A buffer only the synchronous call now running may use. */
static void *call_buf(struct env *e, size_t len)
{
	return arg_buf(e, len, false);
}

/** A length: small ones mostly, sometimes large or odd. */
static ULONG pick_len(struct env *e)
{
	uint8_t b = fz_u8(&e->in);

	switch (b >> 6) {
	case 0:
		return b & 0x3f;
	case 1:
		return (ULONG)(b & 0x3f) * 64;
	case 2:
		return 512u * (b & 0x1f) + (b & 0x20 ? 1 : 0);
	default:
		return fz_u16(&e->in) % (MAX_BUF + 1);
	}
}

/*
 * Found and fixed: a WinUsb_WritePipe of 0 bytes from a NULL buffer made
 * the driver compute NULL + 0 (now bu_wu_req_at), and a synchronous
 * WinUsb_ReadPipe queued behind a pending overlapped read was never given
 * back by its cancel (now a request cancelled alone retires out of order).
 * Both are in fuzz/regressions/winusb_api/.
 */
static const bool null_empty_buffer_handled = true;
static const bool sync_behind_pending_handled = true;

static bool sync_call_allowed(const struct env *e)
{
	if (sync_behind_pending_handled)
		return true;
	for (unsigned i = 0; i < NSLOT; i++)
		if (e->ov[i].Internal == STATUS_PENDING)
			return false;
	return true;
}

/** A buffer argument: exactly *len bytes, or NULL (then *len may be kept). */
static uint8_t *pick_buf(struct env *e, ULONG *len, bool keep)
{
	uint8_t how = fz_u8(&e->in);

	*len = pick_len(e);
	if ((how & 7) == 7 && (*len || null_empty_buffer_handled))
		return NULL;
	if ((how & 7) == 6)
		*len = 0;
	return arg_buf(e, *len, keep);
}

/*
 * A handle from a slot of `slots` or a bogus one: NULL, a small number, a
 * real handle moved off its slot, or a handle of another kind. *bogus says
 * it can never be valid.
 */
static void *pick_handle(struct env *e, void *const *slots, bool *bogus)
{
	uint8_t b = fz_u8(&e->in);
	void *h = slots[b & (NSLOT - 1)];

	*bogus = true;
	switch ((b >> 2) & 7) {
	case 4:
		return NULL;
	case 5:
		return (void *)(uintptr_t)(1 + fz_u8(&e->in));
	case 6:
		/* 1..7 bytes into a handle: never a whole element further
		 * (an event is 8 bytes, so +8 was another valid event). */
		return h ? (void *)((uint8_t *)h + 1 + (b >> 5) % 7) : NULL;
	case 7: {
		/* another kind: a file where an interface goes, and so on */
		void *o = (void *)slots == (void *)e->files ? (void *)e->ifh[b & (NSLOT - 1)]
							     : e->files[b & (NSLOT - 1)];
		return o;
	}
	default:
		*bogus = false;
		return h;
	}
}

static WINUSB_INTERFACE_HANDLE pick_iface(struct env *e, bool *bogus)
{
	return pick_handle(e, (void *const *)e->ifh, bogus);
}

static LPOVERLAPPED pick_ov(struct env *e)
{
	uint8_t b = fz_u8(&e->in);

	if (b & 0x80)
		return NULL;
	e->ov[b & (NSLOT - 1)].hEvent = b & 0x40 ? NULL : e->events[(b >> 2) & (NSLOT - 1)];
	return &e->ov[b & (NSLOT - 1)];
}

/** A pipe ID: the model's endpoints mostly, any byte sometimes. */
static UCHAR pick_pipe(struct env *e)
{
	static const UCHAR pipes[] = { 0x01, 0x81, 0x82, 0x03, 0x83, 0x02, 0x00, 0x80 };
	uint8_t b = fz_u8(&e->in);

	return b & 0x80 ? fz_u8(&e->in) : pipes[b & 7];
}

static void run_op(struct env *e)
{
	uint8_t op = fz_u8(&e->in);
	bool bogus = false;
	WINUSB_INTERFACE_HANDLE h;
	ULONG len, n = 0;
	uint8_t *buf;
	uint8_t slot = fz_u8(&e->in) & (NSLOT - 1);

	switch (op % 26) {
	case 0: { /* CreateFile on the device path (or a mangled one) */
		char path[BU_WINUSB_PATH_MAX];
		DWORD needed = 0;
		uint8_t m = fz_u8(&e->in);

		bu_win32_set_last_error(e->api, SENTINEL);
		if (!bu_winusb_find_by_guid(e->api, &sim_guid, m & 1, path,
					    m & 2 ? (DWORD)(m >> 2) : sizeof(path), &needed)) {
			check_result(e, FALSE, false, "find_by_guid");
			break;
		}
		if (m & 0x80)
			path[(m >> 2) % (strlen(path) + 1)] ^= 0x5a;
		e->files[slot] = bu_winusb_open(e->api, path, m & 0x40 ? 0 : FILE_FLAG_OVERLAPPED);
		if (e->files[slot] == INVALID_HANDLE_VALUE) {
			e->files[slot] = NULL;
			check_result(e, FALSE, false, "open");
		}
		break;
	}
	case 1: { /* WinUsb_Initialize */
		HANDLE f = pick_handle(e, (void *const *)e->files, &bogus);

		CALL(e, bogus, bu_winusb_initialize(e->api, f, &e->ifh[slot]));
		break;
	}
	case 2:
		h = pick_iface(e, &bogus);
		CALL(e, bogus, bu_winusb_free(e->api, h));
		break;
	case 3:
		h = pick_iface(e, &bogus);
		CALL(e, bogus, bu_winusb_get_associated_interface(e->api, h, fz_u8(&e->in),
								   &e->ifh[slot]));
		break;
	case 4: {
		uint8_t type = fz_u8(&e->in), index = fz_u8(&e->in);
		USHORT lang = fz_u16(&e->in);

		h = pick_iface(e, &bogus);
		buf = pick_buf(e, &len, false);
		CALL(e, bogus, bu_winusb_get_descriptor(e->api, h, type, index, lang, buf, len,
							slot & 1 ? NULL : &n));
		break;
	}
	case 5: {
		USB_INTERFACE_DESCRIPTOR *d = slot & 1 ? NULL : call_buf(e, sizeof(*d));

		h = pick_iface(e, &bogus);
		CALL(e, bogus, bu_winusb_query_interface_settings(e->api, h, fz_u8(&e->in), d));
		break;
	}
	case 6: {
		ULONG type = fz_u8(&e->in), room = fz_u8(&e->in) & 7;

		h = pick_iface(e, &bogus);
		buf = slot & 1 ? NULL : call_buf(e, room);
		CALL(e, bogus, bu_winusb_query_device_information(e->api, h, type,
								   slot & 2 ? NULL : &room, buf));
		break;
	}
	case 7:
		h = pick_iface(e, &bogus);
		CALL(e, bogus, bu_winusb_set_current_alternate_setting(e->api, h, fz_u8(&e->in)));
		break;
	case 8: {
		UCHAR *alt = slot & 1 ? NULL : call_buf(e, 1);

		h = pick_iface(e, &bogus);
		CALL(e, bogus, bu_winusb_get_current_alternate_setting(e->api, h, alt));
		break;
	}
	case 9: {
		uint8_t alt = fz_u8(&e->in), index = fz_u8(&e->in);

		h = pick_iface(e, &bogus);
		if (slot & 1) {
			WINUSB_PIPE_INFORMATION_EX *pi = slot & 2 ? NULL : call_buf(e, sizeof(*pi));

			CALL(e, bogus, bu_winusb_query_pipe_ex(e->api, h, alt, index, pi));
		} else {
			WINUSB_PIPE_INFORMATION *pi = slot & 2 ? NULL : call_buf(e, sizeof(*pi));

			CALL(e, bogus, bu_winusb_query_pipe(e->api, h, alt, index, pi));
		}
		break;
	}
	case 10: { /* SetPipePolicy: any type, value and value size */
		UCHAR pipe = pick_pipe(e);
		ULONG type = fz_u8(&e->in), vlen = fz_u8(&e->in) % 9;
		uint8_t *v = call_buf(e, vlen);

		if (vlen)
			fz_bytes(&e->in, v, vlen);
		h = pick_iface(e, &bogus);
		CALL(e, bogus, bu_winusb_set_pipe_policy(e->api, h, pipe, type, vlen,
							 slot & 1 ? NULL : v));
		break;
	}
	case 11: {
		UCHAR pipe = pick_pipe(e);
		ULONG type = fz_u8(&e->in), vlen = fz_u8(&e->in) % 9;
		uint8_t *v = call_buf(e, vlen);

		h = pick_iface(e, &bogus);
		CALL(e, bogus, bu_winusb_get_pipe_policy(e->api, h, pipe, type,
							 slot & 2 ? NULL : &vlen,
							 slot & 1 ? NULL : v));
		break;
	}
	case 12:
	case 13: { /* ReadPipe / WritePipe, sync or overlapped */
		UCHAR pipe = pick_pipe(e);
		LPOVERLAPPED ov = pick_ov(e);

		h = pick_iface(e, &bogus);
		buf = pick_buf(e, &len, ov != NULL);
		if (!ov && !sync_call_allowed(e))
			break;
		if (op % 26 == 12)
			CALL(e, bogus, bu_winusb_read_pipe(e->api, h, pipe, buf, len,
							   slot & 1 ? NULL : &n, ov));
		else
			CALL(e, bogus, bu_winusb_write_pipe(e->api, h, pipe, buf, len,
							    slot & 1 ? NULL : &n, ov));
		break;
	}
	case 14: { /* ControlTransfer: any SETUP, buffer as long as claimed */
		WINUSB_SETUP_PACKET s;
		LPOVERLAPPED ov = pick_ov(e);

		s.RequestType = fz_u8(&e->in);
		s.Request = fz_u8(&e->in);
		s.Value = fz_u16(&e->in);
		s.Index = fz_u16(&e->in);
		h = pick_iface(e, &bogus);
		buf = pick_buf(e, &len, ov != NULL);
		s.Length = slot & 2 ? (USHORT)fz_u16(&e->in) : (USHORT)len;
		if (!ov && !sync_call_allowed(e))
			break;
		CALL(e, bogus, bu_winusb_control_transfer(e->api, h, s, buf, len,
							  slot & 1 ? NULL : &n, ov));
		break;
	}
	case 15: {
		UCHAR pipe = pick_pipe(e);

		h = pick_iface(e, &bogus);
		if (slot == 0)
			CALL(e, bogus, bu_winusb_reset_pipe(e->api, h, pipe));
		else if (slot == 1)
			CALL(e, bogus, bu_winusb_abort_pipe(e->api, h, pipe));
		else
			CALL(e, bogus, bu_winusb_flush_pipe(e->api, h, pipe));
		break;
	}
	case 16: { /* power policy: any type, value and value size */
		ULONG type = fz_u8(&e->in), vlen = fz_u8(&e->in) % 9;
		uint8_t *v = call_buf(e, vlen);

		if (vlen)
			fz_bytes(&e->in, v, vlen);
		h = pick_iface(e, &bogus);
		if (slot & 1)
			CALL(e, bogus, bu_winusb_set_power_policy(e->api, h, type, vlen,
								  slot & 2 ? NULL : v));
		else
			CALL(e, bogus, bu_winusb_get_power_policy(e->api, h, type,
								  slot & 2 ? NULL : &vlen, v));
		break;
	}
	case 17: { /* GetOverlappedResult, WinUSB's and Win32's; CancelIo */
		LPOVERLAPPED ov = pick_ov(e);
		BOOL wait = fz_u8(&e->in) & 1;

		if (slot & 2) {
			HANDLE f = pick_handle(e, (void *const *)e->files, &bogus);

			if (slot & 1)
				CALL(e, bogus, bu_win32_cancel_io(e->api, f));
			else
				CALL(e, bogus, bu_win32_get_overlapped_result(e->api, f, ov, &n, wait));
		} else {
			h = pick_iface(e, &bogus);
			CALL(e, bogus, bu_winusb_get_overlapped_result(e->api, h, ov,
								       slot & 1 ? NULL : &n, wait));
		}
		break;
	}
	case 18: { /* events and CloseHandle */
		uint8_t m = fz_u8(&e->in);

		if ((m & 3) == 0) {
			e->events[slot] = bu_win32_create_event(e->api, m & 4, m & 8);
		} else if ((m & 3) == 1) {
			HANDLE x = pick_handle(e, (void *const *)(m & 4 ? e->files : e->events),
					       &bogus);

			/* CloseHandle takes files and events alike */
			for (unsigned i = 0; i < NSLOT; i++)
				bogus &= x != e->files[i] && x != e->events[i];
			CALL(e, bogus, bu_win32_close_handle(e->api, x));
		} else if ((m & 3) == 2) {
			HANDLE x = pick_handle(e, (void *const *)e->events, &bogus);

			if (m & 4)
				CALL(e, bogus, bu_win32_set_event(e->api, x));
			else
				CALL(e, bogus, bu_win32_reset_event(e->api, x));
		} else {
			HANDLE x = pick_handle(e, (void *const *)e->events, &bogus);
			DWORD r = bu_win32_wait(e->api, x, m & 4 ? INFINITE : m >> 3);

			fz_invariant(r == WAIT_OBJECT_0 || r == WAIT_TIMEOUT || r == WAIT_FAILED,
				     "wait result");
			fz_invariant(!bogus || r == WAIT_FAILED, "wait on a bogus handle fails");
		}
		break;
	}
	case 19: { /* RegisterIsochBuffer */
		UCHAR pipe = pick_pipe(e);

		h = pick_iface(e, &bogus);
		buf = pick_buf(e, &len, true);
		CALL(e, bogus, bu_winusb_register_isoch_buffer(e->api, h, pipe, buf, len,
							       &e->isoch[slot]));
		break;
	}
	case 20: {
		WINUSB_ISOCH_BUFFER_HANDLE b = pick_handle(e, (void *const *)e->isoch, &bogus);

		CALL(e, bogus, bu_winusb_unregister_isoch_buffer(e->api, b));
		break;
	}
	case 21: { /* isochronous transfers: any offset, length, frame, packets */
		WINUSB_ISOCH_BUFFER_HANDLE b = pick_handle(e, (void *const *)e->isoch, &bogus);
		ULONG off = pick_len(e), ilen = pick_len(e), frame = fz_u32(&e->in);
		ULONG npk = fz_u8(&e->in) % 70;
		LPOVERLAPPED ov = pick_ov(e);
		USBD_ISO_PACKET_DESCRIPTOR *pk = arg_buf(e, npk * sizeof(*pk), ov != NULL);
		ULONG now = 0;
		LARGE_INTEGER ts;
		uint8_t m = fz_u8(&e->in);

		if (!ov && !sync_call_allowed(e))
			break;
		if ((m & 0x10) && e->ifh[0] &&
		    bu_winusb_get_current_frame_number(e->api, e->ifh[0], &now, &ts))
			frame = now + (frame & 0x1f); /* near the current frame */
		switch (m & 3) {
		case 0:
			CALL(e, bogus, bu_winusb_write_isoch_pipe(e->api, b, off, ilen,
								  m & 4 ? NULL : &frame, ov));
			break;
		case 1:
			CALL(e, bogus, bu_winusb_read_isoch_pipe(e->api, b, off, ilen,
								 m & 4 ? NULL : &frame, npk,
								 m & 8 ? NULL : pk, ov));
			break;
		case 2:
			CALL(e, bogus, bu_winusb_write_isoch_pipe_asap(e->api, b, off, ilen,
								       m & 4, ov));
			break;
		default:
			CALL(e, bogus, bu_winusb_read_isoch_pipe_asap(e->api, b, off, ilen, m & 4,
								      npk, m & 8 ? NULL : pk, ov));
			break;
		}
		break;
	}
	case 22: { /* frame numbers */
		ULONG frame = 0;
		LARGE_INTEGER ts = { .QuadPart = (LONGLONG)fz_u32(&e->in) };

		h = pick_iface(e, &bogus);
		if (slot & 1)
			CALL(e, bogus, bu_winusb_get_current_frame_number(e->api, h,
									  slot & 2 ? NULL : &frame,
									  &ts));
		else
			CALL(e, false, bu_winusb_get_adjusted_frame_number(e->api,
									   slot & 2 ? NULL : &frame,
									   ts));
		break;
	}
	case 23: { /* time sync tracking */
		USB_START_TRACKING_FOR_TIME_SYNC_INFORMATION start = {
			.TimeTrackingHandle = INVALID_HANDLE_VALUE,
			.IsStartupDelayTolerable = fz_u8(&e->in) & 1 };
		USB_FRAME_NUMBER_AND_QPC_FOR_TIME_SYNC_INFORMATION q;
		USB_STOP_TRACKING_FOR_TIME_SYNC_INFORMATION stop;

		h = pick_iface(e, &bogus);
		memset(&q, 0, sizeof(q));
		q.TimeTrackingHandle = (HANDLE)(uintptr_t)fz_u8(&e->in);
		q.InputFrameNumber = fz_u32(&e->in);
		q.InputMicroFrameNumber = fz_u8(&e->in);
		stop.TimeTrackingHandle = q.TimeTrackingHandle;
		if (slot == 0)
			CALL(e, bogus, bu_winusb_start_tracking_for_time_sync(e->api, h, &start));
		else if (slot == 1)
			CALL(e, bogus, bu_winusb_get_current_frame_number_and_qpc(e->api, h, &q));
		else if (slot == 2)
			CALL(e, bogus, bu_winusb_stop_tracking_for_time_sync(e->api, h, &stop));
		else
			CALL(e, bogus, bu_winusb_get_current_frame_number_and_qpc(e->api, h, NULL));
		break;
	}
	case 24: /* let time pass */
		bu_win32_sleep(e->api, fz_u8(&e->in) % (WAIT_CAP_MS + 1));
		break;
	default: /* unplug the device, once */
		if (e->sd && (fz_u8(&e->in) & 3) == 0) {
			sim_detach(e->sd);
			e->sd = NULL;
		}
		break;
	}
}

static const struct sim_device_model *const models[] = {
	&sim_dev_winusb, &sim_dev_winusb_os1, &sim_dev_composite_msos,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct env env;
	struct env *e = &env;
	struct bu_winusb_transport tp;
	const struct sim_device_model *m;
	enum sim_speed speed;
	uint8_t dev;

	if (size < 1)
		return 0;
	memset(e, 0, sizeof(*e));
	e->in = (struct fz_input){ data, size, 0 };
	dev = fz_u8(&e->in);
	m = models[dev & 8 ? 2 : dev & 4 ? 1 : 0];
	speed = (dev & 3) == 0 ? SIM_SPEED_FULL : SIM_SPEED_HIGH;
	if ((dev & 3) == 2 && m == &sim_dev_winusb)
		speed = SIM_SPEED_SUPER;

	fz_up(&e->st, NULL);
	fz_invariant(bu_winusb_drv_create(e->st.bus, NULL, &e->drv) == 0, "drv_create");
	e->sd = sim_attach(e->st.sim, speed == SIM_SPEED_SUPER ? sim_usb3_port(e->st.sim, 1)
							   : sim_usb2_port(e->st.sim, 1),
			   m, speed);
	fz_invariant(e->sd != NULL, "attach");
	fz_settle(&e->st, 2000, 500);
	bu_winusb_drv_transport(e->drv, &tp);
	fz_invariant(bu_winusb_api_create(sim_platform(e->st.sim), &e->api) == 0, "api_create");
	fz_invariant(bu_winusb_api_attach(e->api, &tp) == 0, "api_attach");
	bu_winusb_api_set_wait_cap(e->api, WAIT_CAP_MS);

	/* The usual start: open the first device and claim its interface. */
	if (bu_winusb_find_by_guid(e->api, &sim_guid, 0, e->path, sizeof(e->path), NULL)) {
		e->files[0] = bu_winusb_open(e->api, e->path, FILE_FLAG_OVERLAPPED);
		if (e->files[0] == INVALID_HANDLE_VALUE)
			e->files[0] = NULL;
		else
			CALL(e, false, bu_winusb_initialize(e->api, e->files[0], &e->ifh[0]));
	}
	e->events[0] = bu_win32_create_event(e->api, TRUE, FALSE);
	e->events[1] = bu_win32_create_event(e->api, FALSE, FALSE);

	for (unsigned i = 0; i < MAX_OPS && fz_more(&e->in); i++) {
		run_op(e);
		while (e->ntmp)
			free(e->tmp[--e->ntmp]);
		bu_winusb_api_poll(e->api);
		sim_advance_us(e->st.sim, 100);
	}

	bu_winusb_api_destroy(e->api);
	bu_winusb_drv_destroy(e->drv);
	fz_down(&e->st);
	for (unsigned i = 0; i < e->nkeep; i++)
		free(e->keep[i]);
	return 0;
}
