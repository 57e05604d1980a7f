/*
 * The WinUSB API part (Winusb.dll analogue): the WinUsb_* functions
 * ("WinUSB functions" and each "WinUsb_... function (winusb.h)" page),
 * built only on the request interface of bareusb/winusb_ioctl.h (struct
 * bu_winusb_transport), plus the Win32 pieces they need - last error,
 * event objects, overlapped results, waits, device discovery and
 * CreateFile. Reads top to bottom:
 *   instance and handles -> last error and events -> requests (sync and
 *   overlapped) -> discovery and files -> descriptor walking -> WinUsb_*
 *   functions -> isochronous and time sync -> parse helpers.
 *
 * Every handle the caller passes is checked against the instance's pools
 * (range, alignment, magic, in use) before it is touched, so a stale or
 * made-up handle fails with ERROR_INVALID_HANDLE instead of a crash.
 */
#include "winusb_priv.h"

#include "bareusb/assert.h"
#include "bareusb/errors.h"
#include "bareusb/util.h"

/* ======================================================================== */
/* Instance and handles                                                     */
/* ======================================================================== */

#define MAGIC_FILE 0x57554631u  /* "WUF1" */
#define MAGIC_IFACE 0x57554931u /* "WUI1" */
#define MAGIC_EVENT 0x57554531u /* "WUE1" */
#define MAGIC_ISOCH 0x57555331u /* "WUS1" */

/** A device file (CreateFile analogue). */
struct api_file {
	uint32_t magic;
	bool used;
	bool overlapped;         /**< opened with FILE_FLAG_OVERLAPPED */
	uint8_t tp;              /**< transport index */
	uint32_t file;           /**< driver file id */
	uint32_t instance;
	struct bu_winusb_funcinfo info;
	uint8_t *config;         /**< cached configuration descriptor */
	uint16_t config_len;
	unsigned handles;        /**< interface handles alive */
};

/** A WINUSB_INTERFACE_HANDLE. */
struct api_iface {
	uint32_t magic;
	bool used;
	bool is_default;         /**< from WinUsb_Initialize */
	uint8_t index;           /**< interface index in the function */
	uint8_t number;          /**< bInterfaceNumber */
	struct api_file *f;
};

/** An event object. */
struct api_event {
	uint32_t magic;
	bool used;
	bool manual;
	volatile bool signalled;
};

/** A WINUSB_ISOCH_BUFFER_HANDLE. */
struct api_isoch {
	uint32_t magic;
	bool used;
	uint32_t id;             /**< driver id */
	struct api_iface *h;
};

/** A discovery search in progress (bu_winusb_find_by_guid, _vidpid). */
struct find_ctx {
	const char *guid; /**< upper case, or NULL */
	bool by_vidpid;
	uint16_t vid, pid;
	DWORD index, seen;
	const struct bu_winusb_devinfo *found; /**< api->walk once found */
	const char *found_guid;		       /**< in *found */
	unsigned tp;
	char *path;    /**< the caller's path buffer */
	DWORD size;    /**< its size */
	DWORD *needed; /**< the caller's, or NULL */
};

struct bu_winusb_api {
	const struct bu_platform *plat;
	struct bu_winusb_transport tps[BU_WINUSB_API_MAX_TRANSPORTS];
	unsigned ntp;
	uint32_t last_error;
	uint32_t *(*slot)(void *ctx);
	void *slot_ctx;
	uint32_t wait_cap_ms;
	struct api_file files[BU_WINUSB_API_MAX_FILES];
	struct api_iface ifaces[BU_WINUSB_API_MAX_IFACES];
	struct api_event events[BU_WINUSB_API_MAX_EVENTS];
	struct api_isoch isoch[BU_WINUSB_API_MAX_ISOCH];
	struct bu_winusb_devinfo walk; /**< for_each_function's current function */
	/**
	 * The discovery search in progress and its GUID text: kept here, not
	 * on the stack, which the driver parts' query (it may read MS OS
	 * descriptors, polling the bus) runs on top of.
	 */
	struct find_ctx find;
	char find_guid[BU_WINUSB_GUID_LEN + 1];
};

/** The pool element `h` points at, or NULL when it is not one. */
static void *pool_get(const void *pool, size_t elem, size_t count, const void *h)
{
	uintptr_t base = (uintptr_t)pool, p = (uintptr_t)h;

	if (!h || p < base || p >= base + elem * count || (p - base) % elem)
		return NULL;
	return (void *)p;
}

static struct api_file *file_of(struct bu_winusb_api *api, HANDLE h)
{
	struct api_file *f = pool_get(api->files, sizeof(api->files[0]),
				      BU_WINUSB_API_MAX_FILES, h);

	return f && f->used && f->magic == MAGIC_FILE ? f : NULL;
}

static struct api_iface *iface_of(struct bu_winusb_api *api, WINUSB_INTERFACE_HANDLE h)
{
	struct api_iface *i = pool_get(api->ifaces, sizeof(api->ifaces[0]),
				       BU_WINUSB_API_MAX_IFACES, h);

	return i && i->used && i->magic == MAGIC_IFACE && i->f && i->f->used ? i : NULL;
}

static struct api_event *event_of(struct bu_winusb_api *api, HANDLE h)
{
	struct api_event *e = pool_get(api->events, sizeof(api->events[0]),
				       BU_WINUSB_API_MAX_EVENTS, h);

	return e && e->used && e->magic == MAGIC_EVENT ? e : NULL;
}

static struct api_isoch *isoch_of(struct bu_winusb_api *api, WINUSB_ISOCH_BUFFER_HANDLE h)
{
	struct api_isoch *b = pool_get(api->isoch, sizeof(api->isoch[0]),
				       BU_WINUSB_API_MAX_ISOCH, h);

	return b && b->used && b->magic == MAGIC_ISOCH && iface_of(api, b->h) ? b : NULL;
}

static uint64_t api_now(struct bu_winusb_api *api)
{
	return api->plat->now_us(api->plat->ctx);
}

int bu_winusb_api_create(const struct bu_platform *plat, struct bu_winusb_api **out)
{
	struct bu_winusb_api *api;

	if (!plat || !plat->alloc || !plat->free || !plat->now_us || !out)
		return BU_EINVAL;
	api = plat->alloc(plat->ctx, sizeof(*api));
	if (!api)
		return BU_ENOMEM;
	bu_memset(api, 0, sizeof(*api));
	api->plat = plat;
	api->wait_cap_ms = BU_WINUSB_DEFAULT_WAIT_CAP_MS;
	*out = api;
	return 0;
}

void bu_winusb_api_destroy(struct bu_winusb_api *api)
{
	if (!api)
		return;
	for (unsigned i = 0; i < BU_WINUSB_API_MAX_IFACES; i++)
		if (api->ifaces[i].used)
			bu_winusb_free(api, &api->ifaces[i]);
	for (unsigned i = 0; i < BU_WINUSB_API_MAX_FILES; i++)
		if (api->files[i].used)
			bu_win32_close_handle(api, &api->files[i]);
	api->plat->free(api->plat->ctx, api, sizeof(*api));
}

int bu_winusb_api_attach(struct bu_winusb_api *api, const struct bu_winusb_transport *tp)
{
	if (!api || !tp || !tp->ioctl || !tp->query || !tp->open || !tp->close || !tp->poll)
		return BU_EINVAL;
	if (api->ntp >= BU_WINUSB_API_MAX_TRANSPORTS)
		return BU_ENOSPC;
	api->tps[api->ntp++] = *tp;
	return 0;
}

void bu_winusb_api_set_error_slot(struct bu_winusb_api *api, uint32_t *(*slot)(void *ctx),
				  void *ctx)
{
	if (!api)
		return;
	api->slot = slot;
	api->slot_ctx = ctx;
}

void bu_winusb_api_set_wait_cap(struct bu_winusb_api *api, uint32_t ms)
{
	if (api)
		api->wait_cap_ms = ms ? ms : BU_WINUSB_DEFAULT_WAIT_CAP_MS;
}

void bu_winusb_api_poll(struct bu_winusb_api *api)
{
	if (!api)
		return;
	for (unsigned i = 0; i < api->ntp; i++)
		api->tps[i].poll(api->tps[i].ctx);
}

/* ======================================================================== */
/* Last error, events, waits                                                */
/* ======================================================================== */

static uint32_t *error_slot(struct bu_winusb_api *api)
{
	uint32_t *s = api->slot ? api->slot(api->slot_ctx) : NULL;

	return s ? s : &api->last_error;
}

DWORD bu_win32_get_last_error(struct bu_winusb_api *api)
{
	return api ? *error_slot(api) : ERROR_INVALID_HANDLE;
}

void bu_win32_set_last_error(struct bu_winusb_api *api, DWORD code)
{
	if (api)
		*error_slot(api) = code;
}

/** Fail with `code` (returns FALSE). */
static BOOL fail(struct bu_winusb_api *api, uint32_t code)
{
	bu_win32_set_last_error(api, code);
	return FALSE;
}

/** Succeed (last error cleared, returns TRUE). */
static BOOL ok(struct bu_winusb_api *api)
{
	bu_win32_set_last_error(api, ERROR_SUCCESS);
	return TRUE;
}

/*
 * The handle arguments of a call, checked the way every call checks them
 * first: NULL without an instance (there is no last error to set), NULL
 * with ERROR_INVALID_HANDLE when the handle is not a live one of its kind
 * in this instance. On NULL the call fails at once.
 */

/** `obj`, the object a handle argument names; NULL sets ERROR_INVALID_HANDLE. */
static void *handle_checked(struct bu_winusb_api *api, void *obj)
{
	if (!obj)
		fail(api, ERROR_INVALID_HANDLE);
	return obj;
}

/** A WINUSB_INTERFACE_HANDLE argument. */
static struct api_iface *iface_arg(struct bu_winusb_api *api, WINUSB_INTERFACE_HANDLE h)
{
	return api ? handle_checked(api, iface_of(api, h)) : NULL;
}

/** A WINUSB_ISOCH_BUFFER_HANDLE argument. */
static struct api_isoch *isoch_arg(struct bu_winusb_api *api, WINUSB_ISOCH_BUFFER_HANDLE h)
{
	return api ? handle_checked(api, isoch_of(api, h)) : NULL;
}

/** A device file HANDLE argument. */
static struct api_file *file_arg(struct bu_winusb_api *api, HANDLE h)
{
	return api ? handle_checked(api, file_of(api, h)) : NULL;
}

/** An event HANDLE argument. */
static struct api_event *event_arg(struct bu_winusb_api *api, HANDLE h)
{
	return api ? handle_checked(api, event_of(api, h)) : NULL;
}

HANDLE bu_win32_create_event(struct bu_winusb_api *api, BOOL manual_reset, BOOL initial)
{
	if (!api)
		return NULL;
	for (unsigned i = 0; i < BU_WINUSB_API_MAX_EVENTS; i++) {
		struct api_event *e = &api->events[i];

		if (e->used)
			continue;
		e->magic = MAGIC_EVENT;
		e->used = true;
		e->manual = manual_reset != FALSE;
		e->signalled = initial != FALSE;
		bu_win32_set_last_error(api, ERROR_SUCCESS);
		return e;
	}
	bu_win32_set_last_error(api, ERROR_NOT_ENOUGH_MEMORY);
	return NULL;
}

BOOL bu_win32_set_event(struct bu_winusb_api *api, HANDLE event)
{
	struct api_event *e = event_arg(api, event);

	if (!e)
		return FALSE;
	e->signalled = true;
	return TRUE;
}

BOOL bu_win32_reset_event(struct bu_winusb_api *api, HANDLE event)
{
	struct api_event *e = event_arg(api, event);

	if (!e)
		return FALSE;
	e->signalled = false;
	return TRUE;
}

/** Deadline for a wait of `ms` (INFINITE bounded by the wait cap). */
static uint64_t deadline_of(struct bu_winusb_api *api, DWORD ms)
{
	uint32_t cap = ms == INFINITE || ms > api->wait_cap_ms ? api->wait_cap_ms : ms;

	return api_now(api) + (uint64_t)cap * 1000;
}

/**
 * Between two polls of a wait: sleep through the platform's wait hook
 * until `deadline` or the earliest next timeout of the driver parts
 * (`only`, or every one); without a hook, return at once.
 */
static void api_pause(struct bu_winusb_api *api, const struct bu_winusb_transport *only,
		      uint64_t deadline)
{
	uint64_t until = deadline;

	if (!api->plat->wait)
		return;
	for (unsigned i = 0; i < (only ? 1u : api->ntp); i++) {
		const struct bu_winusb_transport *tp = only ? only : &api->tps[i];
		uint64_t t = tp->next_timeout ? tp->next_timeout(tp->ctx) : 0;

		if (t < until)
			until = t;
	}
	if (until > api_now(api))
		api->plat->wait(api->plat->ctx, until);
}

/**
 * The API part's one wait loop: poll the driver parts (`only`, or every
 * one) until done(arg) or `deadline`; true when done. done NULL: until
 * the deadline.
 */
static bool api_wait(struct bu_winusb_api *api, const struct bu_winusb_transport *only,
		     bool (*done)(const void *arg), const void *arg, uint64_t deadline)
{
	for (;;) {
		if (done && done(arg))
			return true;
		if (api_now(api) >= deadline)
			return false;
		if (only)
			only->poll(only->ctx);
		else
			bu_winusb_api_poll(api);
		if (done && done(arg))
			return true;
		api_pause(api, only, deadline);
	}
}

static bool event_signalled(const void *arg)
{
	return ((const struct api_event *)arg)->signalled;
}

DWORD bu_win32_wait(struct bu_winusb_api *api, HANDLE event, DWORD ms)
{
	struct api_event *e = event_arg(api, event);

	if (!e)
		return WAIT_FAILED;
	if (!api_wait(api, NULL, event_signalled, e, deadline_of(api, ms)))
		return WAIT_TIMEOUT;
	if (!e->manual)
		e->signalled = false;
	return WAIT_OBJECT_0;
}

void bu_win32_sleep(struct bu_winusb_api *api, DWORD ms)
{
	if (api)
		api_wait(api, NULL, NULL, NULL, deadline_of(api, ms));
}

BOOL bu_win32_qpc(struct bu_winusb_api *api, LARGE_INTEGER *count)
{
	if (!api || !count)
		return api ? fail(api, ERROR_INVALID_PARAMETER) : FALSE;
	count->QuadPart = (LONGLONG)api_now(api);
	return TRUE;
}

/* ======================================================================== */
/* Requests                                                                 */
/* ======================================================================== */

/** A synchronous request's completion record (freed by whoever finishes last). */
struct api_sync {
	struct bu_winusb_api *api;
	volatile bool done;
	bool orphan;           /**< the caller gave up waiting */
	uint32_t status, bytes;
};

static bool sync_finished(const void *arg)
{
	return ((const struct api_sync *)arg)->done;
}

static void sync_done(void *ctx, void *cookie, uint32_t status, uint32_t bytes)
{
	struct api_sync *s = cookie;

	(void)ctx;
	if (s->orphan) {
		s->api->plat->free(s->api->plat->ctx, s, sizeof(*s));
		return;
	}
	s->status = status;
	s->bytes = bytes;
	s->done = true;
}

/** Completion of an overlapped request: the OVERLAPPED and its event. */
static void ov_done(void *ctx, void *cookie, uint32_t status, uint32_t bytes)
{
	struct bu_winusb_api *api = ctx;
	LPOVERLAPPED ov = cookie;
	struct api_event *e = event_of(api, ov->hEvent);

	ov->InternalHigh = bytes;
	ov->Internal = bu_winusb_win32_to_ntstatus(status);
	if (e)
		e->signalled = true;
}

static struct bu_winusb_transport *tp_of(struct bu_winusb_api *api, struct api_file *f)
{
	return &api->tps[f->tp];
}

/*
 * How long a cancelled request may take to come back: the controller
 * driver's Stop Endpoint and its own command timeout and abort fit well
 * inside. Past it the driver broke its promise to complete cancellations.
 */
#define API_CANCEL_WAIT_MS 30000

/**
 * The wait cap of a synchronous call passed: cancel its request, whatever
 * kind it is, and wait until it is back, so that the call never returns
 * while the controller may still write into the caller's buffer. The
 * request block `io` and result `res` are the caller's, reused.
 */
static void sync_cancel(struct bu_winusb_api *api, struct api_file *f,
			struct api_sync *s, struct bu_winusb_io *io)
{
	static const struct bu_winusb_ioparams none; /* the driver copies it */
	struct bu_winusb_transport *tp = tp_of(api, f);
	struct bu_winusb_iores res;

	bu_memset(io, 0, sizeof(*io));
	io->file = f->file;
	io->code = BU_WINUSB_IOCTL_CANCEL;
	io->params = &none;
	io->params_len = sizeof(none);
	io->done_cookie = s;
	if (tp->ioctl(tp->ctx, io, &res) != 0 && !s->done)
		return;
	api_wait(api, tp, sync_finished, s, api_now(api) + (uint64_t)API_CANCEL_WAIT_MS * 1000);
	BU_ASSERT(api->plat, s->done);
}

/**
 * Run request `io` synchronously: the driver finishes it inline or pends
 * it, and then the wait is here, at the API part's own level (the driver
 * never waits inside a request). Past the wait cap the request is
 * cancelled and waited for. Returns the Win32 status; res->bytes holds
 * the bytes moved; *frame (optional) the driver's frame result.
 */
static uint32_t io_sync(struct bu_winusb_api *api, struct api_file *f,
			struct bu_winusb_io *io, struct bu_winusb_iores *res,
			ULONG *frame)
{
	struct bu_winusb_transport *tp = tp_of(api, f);
	struct api_sync *s = api->plat->alloc(api->plat->ctx, sizeof(*s));
	uint64_t deadline;
	uint32_t st;

	if (!s)
		return ERROR_NOT_ENOUGH_MEMORY;
	bu_memset(s, 0, sizeof(*s));
	s->api = api;
	io->done = sync_done;
	io->done_cookie = s;
	st = tp->ioctl(tp->ctx, io, res);
	if (frame && (st == 0 || st == ERROR_IO_PENDING))
		*frame = res->frame;
	if (st == ERROR_IO_PENDING) {
		deadline = api_now(api) + (uint64_t)api->wait_cap_ms * 1000;
		if (!api_wait(api, tp, sync_finished, s, deadline))
			sync_cancel(api, f, s, io);
		if (!s->done) {
			s->orphan = true; /* sync_done frees it */
			return ERROR_SEM_TIMEOUT;
		}
		st = s->status == ERROR_OPERATION_ABORTED &&
			     api_now(api) >= deadline
			 ? ERROR_SEM_TIMEOUT
			 : s->status;
		res->bytes = s->bytes;
	}
	api->plat->free(api->plat->ctx, s, sizeof(*s));
	return st;
}

/**
 * A request without a transfer of the caller's (it may still pend on the
 * bus: a pipe reset, an alternate setting): returns the Win32 status.
 */
static uint32_t io_now(struct bu_winusb_api *api, struct api_file *f,
		       uint32_t code, struct bu_winusb_ioparams *prm, void *buf,
		       uint32_t len, struct bu_winusb_iores *res)
{
	struct bu_winusb_io io;
	struct bu_winusb_iores tmp;

	bu_memset(&io, 0, sizeof(io));
	io.file = f->file;
	io.code = code;
	io.params = prm;
	io.params_len = sizeof(*prm);
	io.buf = buf;
	io.buf_len = len;
	return io_sync(api, f, &io, res ? res : &tmp, NULL);
}

/**
 * Run a transfer request, synchronously (ov == NULL: poll until it
 * completes) or overlapped. Sets the last error; returns TRUE/FALSE the
 * WinUSB way. *frame (optional) gets the driver's frame result.
 */
static BOOL io_transfer(struct bu_winusb_api *api, struct api_iface *h, uint32_t code,
			struct bu_winusb_ioparams *prm, void *buf, uint32_t len, void *aux,
			uint32_t aux_len, PULONG transferred, LPOVERLAPPED ov, ULONG *frame)
{
	struct bu_winusb_transport *tp = tp_of(api, h->f);
	struct bu_winusb_iores res;
	struct bu_winusb_io io;
	uint32_t st;

	bu_memset(&io, 0, sizeof(io));
	io.file = h->f->file;
	io.code = code;
	io.params = prm;
	io.params_len = sizeof(*prm);
	io.buf = buf;
	io.buf_len = len;
	io.aux = aux;
	io.aux_len = aux_len;
	if (ov) {
		struct api_event *e = event_of(api, ov->hEvent);

		/* The request owns the OVERLAPPED from here. */
		ov->Internal = STATUS_PENDING;
		ov->InternalHigh = 0;
		if (e)
			e->signalled = false;
		io.done = ov_done;
		io.done_ctx = api;
		io.done_cookie = ov;
		st = tp->ioctl(tp->ctx, &io, &res);
		if (frame && (st == 0 || st == ERROR_IO_PENDING))
			*frame = res.frame;
		if (st == ERROR_IO_PENDING)
			return fail(api, ERROR_IO_PENDING);
		if (st) {
			ov->Internal = bu_winusb_win32_to_ntstatus(st);
			return fail(api, st);
		}
		ov->Internal = 0;
		ov->InternalHigh = res.bytes;
		if (e)
			e->signalled = true;
		if (transferred)
			*transferred = res.bytes;
		return ok(api);
	}
	res.bytes = 0;
	st = io_sync(api, h->f, &io, &res, frame);
	if (transferred)
		*transferred = st == 0 || st == ERROR_SEM_TIMEOUT ||
					       st == ERROR_OPERATION_ABORTED
				       ? res.bytes
				       : 0;
	return st ? fail(api, st) : ok(api);
}

/** Parameter block for an interface handle. */
static void params_for(struct bu_winusb_ioparams *prm, const struct api_iface *h, uint8_t pipe)
{
	bu_memset(prm, 0, sizeof(*prm));
	prm->iface = h->index;
	prm->pipe = pipe;
}

/* ======================================================================== */
/* Discovery and files                                                      */
/* ======================================================================== */

/*
 * The formatting helpers below stay out of line: the discovery calls query
 * the driver parts (which may read MS OS descriptors, polling the bus), and
 * a formatter inlined into them would sit on that path's stack unused.
 */

/* A GUID as text: braces around 8-4-4-4-12 upper-case hex digits. */
void bu_wu_guid_string(const GUID *g, char out[BU_WINUSB_GUID_LEN + 1])
{
	bu_snprintf(out, BU_WINUSB_GUID_LEN + 1,
		    "{%08X-%04X-%04X-%02X%02X-%02X%02X%02X%02X%02X%02X}", (unsigned)g->Data1,
		    g->Data2, g->Data3, g->Data4[0], g->Data4[1], g->Data4[2], g->Data4[3],
		    g->Data4[4], g->Data4[5], g->Data4[6], g->Data4[7]);
}

/** Lower-case copy of a GUID string for device paths. */
static void guid_lower(const char *in, char *out, size_t size)
{
	size_t i;

	for (i = 0; in[i] && i + 1 < size; i++)
		out[i] = (in[i] >= 'A' && in[i] <= 'Z') ? (char)(in[i] - 'A' + 'a') : in[i];
	out[i] = '\0';
}

/** The device path of a function (Windows' form, plus our instance id). */
static __attribute__((noinline)) uint32_t
make_path(const struct bu_winusb_devinfo *d, const char *guid, char *path,
	  DWORD size, DWORD *needed)
{
	char mi[8] = "", g[BU_WINUSB_GUID_LEN + 2] = "";
	int n;

	if (d->composite)
		bu_snprintf(mi, sizeof(mi), "&mi_%02x", d->first_iface);
	if (guid) {
		g[0] = '#';
		guid_lower(guid, g + 1, sizeof(g) - 1);
	}
	n = bu_snprintf(path, size, "\\\\?\\usb#vid_%04x&pid_%04x%s#%s&%u%s", d->vid, d->pid, mi,
			d->location, (unsigned)d->instance, g);
	if (needed)
		*needed = (DWORD)n + 1;
	return (DWORD)n + 1 > size ? ERROR_INSUFFICIENT_BUFFER : 0;
}

/**
 * Walk every function of every transport; `visit` returns true to stop.
 * Each function is read into api->walk, which still holds the one `visit`
 * stopped at when this returns true.
 */
static bool for_each_function(struct bu_winusb_api *api,
			      bool (*visit)(void *arg, unsigned tp,
					    const struct bu_winusb_devinfo *d),
			      void *arg)
{
	for (unsigned t = 0; t < api->ntp; t++)
		for (uint32_t i = 0; api->tps[t].query(api->tps[t].ctx, i, &api->walk) == 0; i++)
			if (visit(arg, t, &api->walk))
				return true;
	return false;
}


static bool find_visit(void *arg, unsigned tp, const struct bu_winusb_devinfo *d)
{
	struct find_ctx *c = arg;

	if (c->by_vidpid) {
		if (d->vid != c->vid || d->pid != c->pid || c->seen++ != c->index)
			return false;
		c->found = d;
		c->found_guid = d->num_guids ? d->guids[0] : NULL;
		c->tp = tp;
		return true;
	}
	for (unsigned g = 0; g < d->num_guids && g < BU_WINUSB_MAX_GUIDS; g++) {
		if (bu_strcmp(d->guids[g], c->guid) != 0 || c->seen++ != c->index)
			continue;
		c->found = d;
		c->found_guid = d->guids[g];
		c->tp = tp;
		return true;
	}
	return false;
}

/** A new search in api->find for the `index`-th match, its path into the
 * caller's buffer. */
static struct find_ctx *find_start(struct bu_winusb_api *api, DWORD index,
				   char *path, DWORD size, DWORD *needed)
{
	struct find_ctx *c = &api->find;

	bu_memset(c, 0, sizeof(*c));
	c->index = index;
	c->path = path;
	c->size = size;
	c->needed = needed;
	return c;
}

/** Run the search in api->find: the path of the function it names, or why not.
 */
static BOOL find_common(struct bu_winusb_api *api)
{
	struct find_ctx *c = &api->find;
	uint32_t st;

	if (!for_each_function(api, find_visit, c))
		return fail(api, ERROR_NO_MORE_ITEMS);
	st = make_path(c->found, c->found_guid, c->path, c->size, c->needed);
	return st ? fail(api, st) : ok(api);
}

BOOL bu_winusb_find_by_guid(struct bu_winusb_api *api, const GUID *guid, DWORD index,
			    char *path, DWORD size, DWORD *needed)
{
	struct find_ctx *c;

	if (!api)
		return FALSE;
	if (!guid || (!path && size))
		return fail(api, ERROR_INVALID_PARAMETER);
	c = find_start(api, index, path, size, needed);
	bu_wu_guid_string(guid, api->find_guid);
	c->guid = api->find_guid;
	return find_common(api);
}

BOOL bu_winusb_find_by_vidpid(struct bu_winusb_api *api, USHORT vid, USHORT pid, DWORD index,
			      char *path, DWORD size, DWORD *needed)
{
	struct find_ctx *c;

	if (!api)
		return FALSE;
	if (!path && size)
		return fail(api, ERROR_INVALID_PARAMETER);
	c = find_start(api, index, path, size, needed);
	c->by_vidpid = true;
	c->vid = vid;
	c->pid = pid;
	return find_common(api);
}

/**
 * Parse a device path: "\\?\usb#vid_<4 hex>&pid_<4 hex>[&mi_<2 hex>]#"
 * then LOCATION&INSTANCE, then optionally "#{GUID}".
 */
static bool parse_path(const char *path, uint16_t *vid, uint16_t *pid, char *loc, size_t locsz,
		       uint32_t *instance)
{
	const char *p = path, *amp = NULL;
	uint32_t v = 0;
	size_t n = 0;

	if (!path)
		return false;
	for (const char *want = "\\\\?\\usb#vid_"; *want; want++, p++)
		if (*p == '\0' || (*p | 0x20) != (*want | 0x20))
			return false;
	for (unsigned field = 0; field < 2; field++) {
		v = 0;
		for (unsigned i = 0; i < 4; i++, p++) {
			char c = *p;

			if (c >= '0' && c <= '9')
				v = v * 16 + (uint32_t)(c - '0');
			else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
				v = v * 16 + (uint32_t)((c | 0x20) - 'a' + 10);
			else
				return false;
		}
		if (field == 0) {
			*vid = (uint16_t)v;
			for (const char *want = "&pid_"; *want; want++, p++)
				if (*p == '\0' || (*p | 0x20) != (*want | 0x20))
					return false;
		} else {
			*pid = (uint16_t)v;
		}
	}
	while (*p && *p != '#')
		p++;
	if (*p++ != '#')
		return false;
	/* LOCATION&INSTANCE: the instance follows the last '&' before '#'. */
	for (const char *q = p; *q && *q != '#'; q++)
		if (*q == '&')
			amp = q;
	if (!amp || (size_t)(amp - p) >= locsz)
		return false;
	for (; p < amp; p++)
		loc[n++] = *p;
	loc[n] = '\0';
	v = 0;
	for (p = amp + 1; *p && *p != '#'; p++) {
		if (*p < '0' || *p > '9' || v > 0x0fffffff)
			return false;
		v = v * 10 + (uint32_t)(*p - '0');
	}
	*instance = v;
	return true;
}

struct open_ctx {
	uint16_t vid, pid;
	uint32_t instance;
	char loc[24];
	bool found;
	unsigned tp;
};

static bool open_visit(void *arg, unsigned tp, const struct bu_winusb_devinfo *d)
{
	struct open_ctx *c = arg;

	if (d->instance != c->instance || d->vid != c->vid || d->pid != c->pid ||
	    bu_strcmp(d->location, c->loc) != 0)
		return false;
	c->found = true;
	c->tp = tp;
	return true;
}

BOOL bu_winusb_device_info(struct bu_winusb_api *api, const char *path,
			   struct bu_winusb_devinfo *out)
{
	struct open_ctx c;

	if (!api)
		return FALSE;
	bu_memset(&c, 0, sizeof(c));
	if (!out || !parse_path(path, &c.vid, &c.pid, c.loc, sizeof(c.loc), &c.instance))
		return fail(api, ERROR_INVALID_PARAMETER);
	if (!for_each_function(api, open_visit, &c))
		return fail(api, ERROR_FILE_NOT_FOUND);
	*out = api->walk;
	return ok(api);
}

HANDLE bu_winusb_open(struct bu_winusb_api *api, const char *path, DWORD flags)
{
	struct open_ctx c;
	struct api_file *f = NULL;
	uint32_t st, file;

	if (!api)
		return INVALID_HANDLE_VALUE;
	bu_memset(&c, 0, sizeof(c));
	if (!parse_path(path, &c.vid, &c.pid, c.loc, sizeof(c.loc), &c.instance) ||
	    !for_each_function(api, open_visit, &c)) {
		bu_win32_set_last_error(api, ERROR_FILE_NOT_FOUND);
		return INVALID_HANDLE_VALUE;
	}
	for (unsigned i = 0; i < BU_WINUSB_API_MAX_FILES && !f; i++)
		if (!api->files[i].used)
			f = &api->files[i];
	if (!f) {
		bu_win32_set_last_error(api, ERROR_NOT_ENOUGH_MEMORY);
		return INVALID_HANDLE_VALUE;
	}
	st = api->tps[c.tp].open(api->tps[c.tp].ctx, c.instance, &file);
	if (st) {
		bu_win32_set_last_error(api, st);
		return INVALID_HANDLE_VALUE;
	}
	bu_memset(f, 0, sizeof(*f));
	f->magic = MAGIC_FILE;
	f->used = true;
	f->overlapped = (flags & FILE_FLAG_OVERLAPPED) != 0;
	f->tp = (uint8_t)c.tp;
	f->file = file;
	f->instance = c.instance;
	bu_win32_set_last_error(api, ERROR_SUCCESS);
	return f;
}

/** Drop one reference of a file's descriptor cache. */
static void file_unref(struct bu_winusb_api *api, struct api_file *f)
{
	if (f->handles)
		f->handles--;
	if (!f->handles && f->config) {
		api->plat->free(api->plat->ctx, f->config, f->config_len);
		f->config = NULL;
		f->config_len = 0;
	}
}

BOOL bu_win32_close_handle(struct bu_winusb_api *api, HANDLE h)
{
	struct api_event *e;
	struct api_file *f;

	if (!api)
		return FALSE;
	e = event_of(api, h);
	if (e) {
		e->used = false;
		e->magic = 0;
		return TRUE;
	}
	f = file_arg(api, h);
	if (!f)
		return FALSE;
	/* Handles still open on the file die with it (their requests are
	 * aborted by the driver's close). */
	for (unsigned i = 0; i < BU_WINUSB_API_MAX_ISOCH; i++)
		if (api->isoch[i].used && api->isoch[i].h && api->isoch[i].h->f == f)
			api->isoch[i].used = false;
	for (unsigned i = 0; i < BU_WINUSB_API_MAX_IFACES; i++)
		if (api->ifaces[i].used && api->ifaces[i].f == f)
			api->ifaces[i].used = false;
	tp_of(api, f)->close(tp_of(api, f)->ctx, f->file);
	if (f->config)
		api->plat->free(api->plat->ctx, f->config, f->config_len);
	bu_memset(f, 0, sizeof(*f));
	return TRUE;
}

/* ======================================================================== */
/* Walking the cached configuration descriptor                              */
/* ======================================================================== */

/** The `alt_index`-th interface descriptor of interface `number`, or NULL. */
static const uint8_t *find_alt(const struct api_file *f, uint8_t number, unsigned alt_index,
			       size_t *off_after)
{
	size_t off = 0;
	unsigned seen = 0;
	const uint8_t *d;

	while ((d = bu_desc_find(f->config, f->config_len, &off, USB_DT_INTERFACE, 9))) {
		if (d[2] != number)
			continue;
		if (seen++ == alt_index) {
			if (off_after)
				*off_after = off;
			return d;
		}
	}
	return NULL;
}

/** The `pipe_index`-th endpoint of an alternate setting (+ its companion). */
static const uint8_t *find_ep(const struct api_file *f, size_t off, unsigned pipe_index,
			      const uint8_t **companion, const uint8_t **ssp)
{
	const uint8_t *d, *ep = NULL;
	unsigned seen = 0;

	*companion = *ssp = NULL;
	while ((d = bu_desc_next(f->config, f->config_len, &off))) {
		if (d[1] == USB_DT_INTERFACE)
			break;
		if (ep && d[1] == USB_DT_SS_EP_COMP && d[0] >= 6 && !*companion) {
			*companion = d;
			continue;
		}
		if (ep && d[1] == USB_DT_SSP_ISOC_EP_COMP && d[0] >= 8 && *companion && !*ssp) {
			*ssp = d;
			continue;
		}
		if (ep)
			return ep;
		if (d[1] == USB_DT_ENDPOINT && d[0] >= 7 && seen++ == pipe_index)
			ep = d;
	}
	return ep;
}

/* ======================================================================== */
/* WinUSB functions                                                         */
/* ======================================================================== */

/** Claim a free interface handle for interface `index` of a file. */
static struct api_iface *iface_new(struct bu_winusb_api *api, struct api_file *f,
				   uint8_t index, uint8_t number, bool is_default)
{
	for (unsigned i = 0; i < BU_WINUSB_API_MAX_IFACES; i++) {
		struct api_iface *h = &api->ifaces[i];

		if (h->used)
			continue;
		h->magic = MAGIC_IFACE;
		h->used = true;
		h->is_default = is_default;
		h->index = index;
		h->number = number;
		h->f = f;
		f->handles++;
		return h;
	}
	return NULL;
}

BOOL bu_winusb_initialize(struct bu_winusb_api *api, HANDLE DeviceHandle,
			  PWINUSB_INTERFACE_HANDLE InterfaceHandle)
{
	struct api_file *f;
	struct bu_winusb_ioparams prm;
	struct bu_winusb_iores res;
	struct api_iface *h;
	uint32_t st;

	f = file_arg(api, DeviceHandle);
	if (!f)
		return FALSE;
	/* The file must have been opened with FILE_FLAG_OVERLAPPED
	 * ("WinUsb_Initialize function (winusb.h)"). */
	if (!f->overlapped)
		return fail(api, ERROR_INVALID_HANDLE);
	if (!InterfaceHandle)
		return fail(api, ERROR_INVALID_PARAMETER);
	bu_memset(&prm, 0, sizeof(prm));
	st = io_now(api, f, BU_WINUSB_IOCTL_OPEN_INTERFACE, &prm, NULL, 0, &res);
	if (st)
		return fail(api, st);
	if (!f->config) {
		uint8_t *cfg;

		st = io_now(api, f, BU_WINUSB_IOCTL_GET_INFO, &prm, &f->info, sizeof(f->info), NULL);
		if (st || !f->info.config_len || !f->info.num_ifaces)
			goto err_close;
		cfg = api->plat->alloc(api->plat->ctx, f->info.config_len);
		if (!cfg) {
			st = ERROR_NOT_ENOUGH_MEMORY;
			goto err_close;
		}
		prm.type = USB_CONFIGURATION_DESCRIPTOR_TYPE;
		prm.index = f->info.config_index;
		prm.flags = BU_WINUSB_IOF_CACHED;
		st = io_now(api, f, BU_WINUSB_IOCTL_GET_DESCRIPTOR, &prm, cfg, f->info.config_len,
			    &res);
		bu_memset(&prm, 0, sizeof(prm));
		if (st || res.bytes != f->info.config_len) {
			api->plat->free(api->plat->ctx, cfg, f->info.config_len);
			goto err_close;
		}
		f->config = cfg;
		f->config_len = f->info.config_len;
	}
	/* "Default interface descriptor not found" (WinUsb_Initialize's page). */
	if (!find_alt(f, f->info.iface_numbers[0], 0, NULL)) {
		st = ERROR_BAD_DEVICE;
		goto err_close;
	}
	h = iface_new(api, f, 0, f->info.iface_numbers[0], true);
	if (!h) {
		st = ERROR_NOT_ENOUGH_MEMORY;
		goto err_close;
	}
	*InterfaceHandle = h;
	return ok(api);

err_close:
	io_now(api, f, BU_WINUSB_IOCTL_CLOSE_INTERFACE, &prm, NULL, 0, NULL);
	if (!f->handles && f->config) {
		api->plat->free(api->plat->ctx, f->config, f->config_len);
		f->config = NULL;
		f->config_len = 0;
	}
	return fail(api, st ? st : ERROR_BAD_DEVICE);
}

BOOL bu_winusb_free(struct bu_winusb_api *api, WINUSB_INTERFACE_HANDLE InterfaceHandle)
{
	struct api_iface *h;
	struct bu_winusb_ioparams prm;

	h = iface_arg(api, InterfaceHandle);
	if (!h)
		return FALSE;
	for (unsigned i = 0; i < BU_WINUSB_API_MAX_ISOCH; i++)
		if (api->isoch[i].used && api->isoch[i].h == h) {
			params_for(&prm, h, 0);
			prm.handle = api->isoch[i].id;
			io_now(api, h->f, BU_WINUSB_IOCTL_ISOCH_UNREGISTER, &prm, NULL, 0, NULL);
			api->isoch[i].used = false;
		}
	params_for(&prm, h, 0);
	io_now(api, h->f, BU_WINUSB_IOCTL_CLOSE_INTERFACE, &prm, NULL, 0, NULL);
	file_unref(api, h->f);
	bu_memset(h, 0, sizeof(*h));
	return TRUE; /* "WinUsb_Free function (winusb.h)": always TRUE */
}

BOOL bu_winusb_get_associated_interface(struct bu_winusb_api *api,
					WINUSB_INTERFACE_HANDLE InterfaceHandle,
					UCHAR AssociatedInterfaceIndex,
					PWINUSB_INTERFACE_HANDLE AssociatedInterfaceHandle)
{
	struct api_iface *h, *n;
	struct bu_winusb_ioparams prm;
	uint32_t st;
	unsigned index;

	h = iface_arg(api, InterfaceHandle);
	if (!h)
		return FALSE;
	if (!h->is_default)
		return fail(api, ERROR_INVALID_HANDLE); /* must be the Initialize handle */
	if (!AssociatedInterfaceHandle)
		return fail(api, ERROR_INVALID_PARAMETER);
	index = (unsigned)AssociatedInterfaceIndex + 1; /* positional, after the default */
	if (index > 0xff)
		return fail(api, ERROR_INVALID_PARAMETER); /* the index overflow check */
	bu_memset(&prm, 0, sizeof(prm));
	prm.iface = (uint8_t)index;
	st = io_now(api, h->f, BU_WINUSB_IOCTL_OPEN_INTERFACE, &prm, NULL, 0, NULL);
	if (st)
		return fail(api, st);
	n = index < 32 ? iface_new(api, h->f, (uint8_t)index, h->f->info.iface_numbers[index],
				   false)
		       : NULL;
	if (!n) {
		io_now(api, h->f, BU_WINUSB_IOCTL_CLOSE_INTERFACE, &prm, NULL, 0, NULL);
		return fail(api, ERROR_NOT_ENOUGH_MEMORY);
	}
	*AssociatedInterfaceHandle = n;
	return ok(api);
}

BOOL bu_winusb_get_descriptor(struct bu_winusb_api *api, WINUSB_INTERFACE_HANDLE InterfaceHandle,
			      UCHAR DescriptorType, UCHAR Index, USHORT LanguageID,
			      PUCHAR Buffer, ULONG BufferLength, PULONG LengthTransferred)
{
	struct api_iface *h;
	struct bu_winusb_ioparams prm;
	struct bu_winusb_iores res;
	uint32_t st;

	h = iface_arg(api, InterfaceHandle);
	if (!h)
		return FALSE;
	if (!LengthTransferred || (!Buffer && BufferLength) || !BufferLength)
		return fail(api, ERROR_INVALID_PARAMETER);
	params_for(&prm, h, 0);
	prm.type = DescriptorType;
	prm.index = Index;
	prm.value = LanguageID;
	st = io_now(api, h->f, BU_WINUSB_IOCTL_GET_DESCRIPTOR, &prm, Buffer, BufferLength, &res);
	if (st)
		return fail(api, st);
	*LengthTransferred = res.bytes;
	return ok(api);
}

BOOL bu_winusb_query_interface_settings(struct bu_winusb_api *api,
					WINUSB_INTERFACE_HANDLE InterfaceHandle,
					UCHAR AlternateSettingNumber,
					PUSB_INTERFACE_DESCRIPTOR UsbAltInterfaceDescriptor)
{
	struct api_iface *h;
	const uint8_t *d;

	h = iface_arg(api, InterfaceHandle);
	if (!h)
		return FALSE;
	if (!UsbAltInterfaceDescriptor)
		return fail(api, ERROR_INVALID_PARAMETER);
	d = find_alt(h->f, h->number, AlternateSettingNumber, NULL);
	if (!d)
		return fail(api, ERROR_NO_MORE_ITEMS);
	bu_memcpy(UsbAltInterfaceDescriptor, d, sizeof(*UsbAltInterfaceDescriptor));
	UsbAltInterfaceDescriptor->bLength = 9;
	return ok(api);
}

BOOL bu_winusb_query_device_information(struct bu_winusb_api *api,
					WINUSB_INTERFACE_HANDLE InterfaceHandle,
					ULONG InformationType, PULONG BufferLength,
					PVOID Buffer)
{
	struct api_iface *h;
	struct bu_winusb_ioparams prm;
	struct bu_winusb_iores res;
	uint32_t st;

	h = iface_arg(api, InterfaceHandle);
	if (!h)
		return FALSE;
	if (!BufferLength || (!Buffer && *BufferLength))
		return fail(api, ERROR_INVALID_PARAMETER);
	params_for(&prm, h, 0);
	prm.type = InformationType;
	st = io_now(api, h->f, BU_WINUSB_IOCTL_QUERY_DEVICE_INFO, &prm, Buffer, *BufferLength,
		    &res);
	if (st) {
		if (st == ERROR_INSUFFICIENT_BUFFER)
			*BufferLength = 1;
		return fail(api, st);
	}
	*BufferLength = res.bytes;
	return ok(api);
}

BOOL bu_winusb_set_current_alternate_setting(struct bu_winusb_api *api,
					     WINUSB_INTERFACE_HANDLE InterfaceHandle,
					     UCHAR SettingNumber)
{
	struct api_iface *h;
	struct bu_winusb_ioparams prm;
	uint32_t st;

	h = iface_arg(api, InterfaceHandle);
	if (!h)
		return FALSE;
	params_for(&prm, h, 0);
	prm.index = SettingNumber;
	st = io_now(api, h->f, BU_WINUSB_IOCTL_SET_ALT, &prm, NULL, 0, NULL);
	return st ? fail(api, st) : ok(api);
}

BOOL bu_winusb_get_current_alternate_setting(struct bu_winusb_api *api,
					     WINUSB_INTERFACE_HANDLE InterfaceHandle,
					     PUCHAR SettingNumber)
{
	struct api_iface *h;
	struct bu_winusb_ioparams prm;
	uint32_t st;

	h = iface_arg(api, InterfaceHandle);
	if (!h)
		return FALSE;
	if (!SettingNumber)
		return fail(api, ERROR_INVALID_PARAMETER);
	params_for(&prm, h, 0);
	st = io_now(api, h->f, BU_WINUSB_IOCTL_GET_ALT, &prm, SettingNumber, 1, NULL);
	return st ? fail(api, st) : ok(api);
}

/** Fill a pipe information structure from the cached descriptors. */
static BOOL query_pipe(struct bu_winusb_api *api, WINUSB_INTERFACE_HANDLE InterfaceHandle,
		       UCHAR alt, UCHAR index, PWINUSB_PIPE_INFORMATION_EX out)
{
	struct api_iface *h = iface_arg(api, InterfaceHandle);
	const uint8_t *ep, *comp, *ssp;
	uint16_t mps;
	size_t off;

	if (!h)
		return FALSE;
	if (!out)
		return fail(api, ERROR_INVALID_PARAMETER);
	if (!find_alt(h->f, h->number, alt, &off))
		return fail(api, ERROR_INVALID_PARAMETER); /* no such interface descriptor */
	ep = find_ep(h->f, off, index, &comp, &ssp);
	if (!ep)
		return fail(api, ERROR_NO_MORE_ITEMS);
	mps = bu_get_le16(ep + 4);
	out->PipeType = (USBD_PIPE_TYPE)(ep[3] & 3);
	out->PipeId = ep[2];
	out->MaximumPacketSize = mps;
	out->Interval = ep[6];
	out->MaximumBytesPerInterval = mps & 0x7ff;
	if ((ep[3] & 1) == 1) { /* isochronous or interrupt */
		if (h->f->info.bus_speed >= BU_SPEED_SUPER && comp)
			out->MaximumBytesPerInterval =
				ssp ? bu_get_le32(ssp + 4) : bu_get_le16(comp + 4);
		else if (h->f->info.bus_speed == BU_SPEED_HIGH)
			out->MaximumBytesPerInterval = (mps & 0x7ffu) * (((mps >> 11) & 3u) + 1);
	}
	return ok(api);
}

BOOL bu_winusb_query_pipe(struct bu_winusb_api *api, WINUSB_INTERFACE_HANDLE InterfaceHandle,
			  UCHAR AlternateInterfaceNumber, UCHAR PipeIndex,
			  PWINUSB_PIPE_INFORMATION PipeInformation)
{
	WINUSB_PIPE_INFORMATION_EX ex;

	if (!iface_arg(api, InterfaceHandle))
		return FALSE;
	if (!PipeInformation)
		return fail(api, ERROR_INVALID_PARAMETER);
	if (!query_pipe(api, InterfaceHandle, AlternateInterfaceNumber, PipeIndex, &ex))
		return FALSE;
	PipeInformation->PipeType = ex.PipeType;
	PipeInformation->PipeId = ex.PipeId;
	PipeInformation->MaximumPacketSize = ex.MaximumPacketSize;
	PipeInformation->Interval = ex.Interval;
	return TRUE;
}

BOOL bu_winusb_query_pipe_ex(struct bu_winusb_api *api, WINUSB_INTERFACE_HANDLE InterfaceHandle,
			     UCHAR AlternateSettingNumber, UCHAR PipeIndex,
			     PWINUSB_PIPE_INFORMATION_EX PipeInformationEx)
{
	return query_pipe(api, InterfaceHandle, AlternateSettingNumber, PipeIndex,
			  PipeInformationEx);
}

/** A policy value of `len` bytes from the caller (little-endian, at most 4 read). */
static uint32_t read_value(const void *v, ULONG len)
{
	const uint8_t *b = v;
	uint32_t x = 0;

	for (ULONG i = 0; i < len && i < 4; i++)
		x |= (uint32_t)b[i] << (8 * i);
	return x;
}

BOOL bu_winusb_set_pipe_policy(struct bu_winusb_api *api, WINUSB_INTERFACE_HANDLE InterfaceHandle,
			       UCHAR PipeID, ULONG PolicyType, ULONG ValueLength, PVOID Value)
{
	struct api_iface *h;
	struct bu_winusb_ioparams prm;
	uint32_t st;

	h = iface_arg(api, InterfaceHandle);
	if (!h)
		return FALSE;
	if (!Value || !ValueLength)
		return fail(api, ERROR_INVALID_PARAMETER);
	params_for(&prm, h, PipeID);
	prm.type = PolicyType;
	prm.length = ValueLength;
	prm.value = read_value(Value, ValueLength);
	st = io_now(api, h->f, BU_WINUSB_IOCTL_SET_PIPE_POLICY, &prm, NULL, 0, NULL);
	return st ? fail(api, st) : ok(api);
}

BOOL bu_winusb_get_pipe_policy(struct bu_winusb_api *api, WINUSB_INTERFACE_HANDLE InterfaceHandle,
			       UCHAR PipeID, ULONG PolicyType, PULONG ValueLength, PVOID Value)
{
	struct api_iface *h;
	struct bu_winusb_ioparams prm;
	struct bu_winusb_iores res;
	uint32_t st;

	h = iface_arg(api, InterfaceHandle);
	if (!h)
		return FALSE;
	if (!ValueLength || !Value)
		return fail(api, ERROR_INVALID_PARAMETER);
	params_for(&prm, h, PipeID);
	prm.type = PolicyType;
	st = io_now(api, h->f, BU_WINUSB_IOCTL_GET_PIPE_POLICY, &prm, Value, *ValueLength, &res);
	if (st) {
		if (st == ERROR_INSUFFICIENT_BUFFER)
			*ValueLength = bu_wu_policy_size(PolicyType);
		return fail(api, st);
	}
	*ValueLength = res.bytes;
	return ok(api);
}

/** ReadPipe and WritePipe: the same checks, one request code apart. */
static BOOL pipe_rw(struct bu_winusb_api *api, WINUSB_INTERFACE_HANDLE InterfaceHandle,
		    uint32_t code, UCHAR PipeID, PUCHAR Buffer, ULONG BufferLength,
		    PULONG LengthTransferred, LPOVERLAPPED Overlapped)
{
	struct api_iface *h;
	struct bu_winusb_ioparams prm;

	h = iface_arg(api, InterfaceHandle);
	if (!h)
		return FALSE;
	if ((!Overlapped && !LengthTransferred) || (!Buffer && BufferLength))
		return fail(api, ERROR_INVALID_PARAMETER);
	params_for(&prm, h, PipeID);
	return io_transfer(api, h, code, &prm, Buffer, BufferLength, NULL, 0, LengthTransferred,
			   Overlapped, NULL);
}

BOOL bu_winusb_read_pipe(struct bu_winusb_api *api, WINUSB_INTERFACE_HANDLE InterfaceHandle,
			 UCHAR PipeID, PUCHAR Buffer, ULONG BufferLength,
			 PULONG LengthTransferred, LPOVERLAPPED Overlapped)
{
	return pipe_rw(api, InterfaceHandle, BU_WINUSB_IOCTL_READ_PIPE, PipeID, Buffer,
		       BufferLength, LengthTransferred, Overlapped);
}

BOOL bu_winusb_write_pipe(struct bu_winusb_api *api, WINUSB_INTERFACE_HANDLE InterfaceHandle,
			  UCHAR PipeID, PUCHAR Buffer, ULONG BufferLength,
			  PULONG LengthTransferred, LPOVERLAPPED Overlapped)
{
	return pipe_rw(api, InterfaceHandle, BU_WINUSB_IOCTL_WRITE_PIPE, PipeID, Buffer,
		       BufferLength, LengthTransferred, Overlapped);
}

BOOL bu_winusb_control_transfer(struct bu_winusb_api *api, WINUSB_INTERFACE_HANDLE InterfaceHandle,
				WINUSB_SETUP_PACKET SetupPacket, PUCHAR Buffer,
				ULONG BufferLength, PULONG LengthTransferred,
				LPOVERLAPPED Overlapped)
{
	struct api_iface *h;
	struct bu_winusb_ioparams prm;

	h = iface_arg(api, InterfaceHandle);
	if (!h)
		return FALSE;
	/* LengthTransferred may be NULL only without a data stage. */
	if ((!Overlapped && !LengthTransferred && BufferLength) || (!Buffer && BufferLength))
		return fail(api, ERROR_INVALID_PARAMETER);
	params_for(&prm, h, 0);
	bu_usb_setup_pack(prm.setup, SetupPacket.RequestType, SetupPacket.Request,
			  SetupPacket.Value, SetupPacket.Index, SetupPacket.Length);
	return io_transfer(api, h, BU_WINUSB_IOCTL_CONTROL, &prm, Buffer, BufferLength, NULL, 0,
			   LengthTransferred, Overlapped, NULL);
}

/** ResetPipe / AbortPipe / FlushPipe. */
static BOOL pipe_op(struct bu_winusb_api *api, WINUSB_INTERFACE_HANDLE InterfaceHandle,
		    UCHAR PipeID, uint32_t code)
{
	struct api_iface *h;
	struct bu_winusb_ioparams prm;
	uint32_t st;

	h = iface_arg(api, InterfaceHandle);
	if (!h)
		return FALSE;
	params_for(&prm, h, PipeID);
	st = io_now(api, h->f, code, &prm, NULL, 0, NULL);
	return st ? fail(api, st) : ok(api);
}

BOOL bu_winusb_reset_pipe(struct bu_winusb_api *api, WINUSB_INTERFACE_HANDLE InterfaceHandle,
			  UCHAR PipeID)
{
	return pipe_op(api, InterfaceHandle, PipeID, BU_WINUSB_IOCTL_RESET_PIPE);
}

BOOL bu_winusb_abort_pipe(struct bu_winusb_api *api, WINUSB_INTERFACE_HANDLE InterfaceHandle,
			  UCHAR PipeID)
{
	return pipe_op(api, InterfaceHandle, PipeID, BU_WINUSB_IOCTL_ABORT_PIPE);
}

BOOL bu_winusb_flush_pipe(struct bu_winusb_api *api, WINUSB_INTERFACE_HANDLE InterfaceHandle,
			  UCHAR PipeID)
{
	return pipe_op(api, InterfaceHandle, PipeID, BU_WINUSB_IOCTL_FLUSH_PIPE);
}

BOOL bu_winusb_set_power_policy(struct bu_winusb_api *api, WINUSB_INTERFACE_HANDLE InterfaceHandle,
				ULONG PolicyType, ULONG ValueLength, PVOID Value)
{
	struct api_iface *h;
	struct bu_winusb_ioparams prm;
	uint32_t st;

	h = iface_arg(api, InterfaceHandle);
	if (!h)
		return FALSE;
	if (!Value || !ValueLength)
		return fail(api, ERROR_INVALID_PARAMETER);
	params_for(&prm, h, 0);
	prm.type = PolicyType;
	prm.length = ValueLength;
	prm.value = read_value(Value, ValueLength);
	st = io_now(api, h->f, BU_WINUSB_IOCTL_SET_POWER_POLICY, &prm, NULL, 0, NULL);
	return st ? fail(api, st) : ok(api);
}

BOOL bu_winusb_get_power_policy(struct bu_winusb_api *api, WINUSB_INTERFACE_HANDLE InterfaceHandle,
				ULONG PolicyType, PULONG ValueLength, PVOID Value)
{
	struct api_iface *h;
	struct bu_winusb_ioparams prm;
	struct bu_winusb_iores res;
	uint32_t st;

	h = iface_arg(api, InterfaceHandle);
	if (!h)
		return FALSE;
	if (!ValueLength || !Value)
		return fail(api, ERROR_INVALID_PARAMETER);
	params_for(&prm, h, 0);
	prm.type = PolicyType;
	st = io_now(api, h->f, BU_WINUSB_IOCTL_GET_POWER_POLICY, &prm, Value, *ValueLength, &res);
	if (st)
		return fail(api, st);
	*ValueLength = res.bytes;
	return ok(api);
}

static bool ov_finished(const void *arg)
{
	return ((const OVERLAPPED *)arg)->Internal != STATUS_PENDING;
}

/** Wait for / read the result of an overlapped request. */
static BOOL overlapped_result(struct bu_winusb_api *api, LPOVERLAPPED ov, LPDWORD bytes,
			      BOOL wait)
{
	uint32_t st;

	if (!ov || !bytes)
		return fail(api, ERROR_INVALID_PARAMETER);
	if (ov->Internal == STATUS_PENDING) {
		if (!wait)
			return fail(api, ERROR_IO_INCOMPLETE);
		/* Waits on the request itself, not on an event another waiter
		 * may have consumed; bounded by the wait cap. */
		if (!api_wait(api, NULL, ov_finished, ov, deadline_of(api, INFINITE)))
			return fail(api, ERROR_IO_INCOMPLETE);
	}
	*bytes = (DWORD)ov->InternalHigh;
	st = bu_winusb_ntstatus_to_win32((uint32_t)ov->Internal);
	return st ? fail(api, st) : ok(api);
}

BOOL bu_winusb_get_overlapped_result(struct bu_winusb_api *api,
				     WINUSB_INTERFACE_HANDLE InterfaceHandle,
				     LPOVERLAPPED lpOverlapped,
				     LPDWORD lpNumberOfBytesTransferred, BOOL bWait)
{
	if (!iface_arg(api, InterfaceHandle))
		return FALSE;
	return overlapped_result(api, lpOverlapped, lpNumberOfBytesTransferred, bWait);
}

BOOL bu_win32_get_overlapped_result(struct bu_winusb_api *api, HANDLE file, LPOVERLAPPED ov,
				    LPDWORD bytes, BOOL wait)
{
	if (!file_arg(api, file))
		return FALSE;
	return overlapped_result(api, ov, bytes, wait);
}

BOOL bu_win32_cancel_io(struct bu_winusb_api *api, HANDLE file)
{
	struct api_file *f;

	f = file_arg(api, file);
	if (!f)
		return FALSE;
	/* Abort every endpoint of every claimed interface. */
	for (unsigned i = 0; i < BU_WINUSB_API_MAX_IFACES; i++) {
		struct api_iface *h = &api->ifaces[i];
		size_t off = 0;
		const uint8_t *d;
		bool mine = false;

		if (!h->used || h->f != f)
			continue;
		while ((d = bu_desc_next(f->config, f->config_len, &off))) {
			struct bu_winusb_ioparams prm;

			if (d[1] == USB_DT_INTERFACE && d[0] >= 9)
				mine = d[2] == h->number;
			if (!mine || d[1] != USB_DT_ENDPOINT || d[0] < 7)
				continue;
			params_for(&prm, h, d[2]);
			io_now(api, f, BU_WINUSB_IOCTL_ABORT_PIPE, &prm, NULL, 0, NULL);
		}
		{
			struct bu_winusb_ioparams prm;

			params_for(&prm, h, 0);
			io_now(api, f, BU_WINUSB_IOCTL_ABORT_PIPE, &prm, NULL, 0, NULL);
		}
	}
	return ok(api);
}

/* ======================================================================== */
/* Isochronous transfers and frame numbers                                  */
/* ======================================================================== */

BOOL bu_winusb_register_isoch_buffer(struct bu_winusb_api *api,
				     WINUSB_INTERFACE_HANDLE InterfaceHandle, UCHAR PipeID,
				     PUCHAR Buffer, ULONG BufferLength,
				     PWINUSB_ISOCH_BUFFER_HANDLE IsochBufferHandle)
{
	struct api_iface *h;
	struct api_isoch *b = NULL;
	struct bu_winusb_ioparams prm;
	struct bu_winusb_iores res;
	uint32_t st;

	h = iface_arg(api, InterfaceHandle);
	if (!h)
		return FALSE;
	if (!Buffer || !BufferLength || !IsochBufferHandle)
		return fail(api, ERROR_INVALID_PARAMETER);
	for (unsigned i = 0; i < BU_WINUSB_API_MAX_ISOCH && !b; i++)
		if (!api->isoch[i].used)
			b = &api->isoch[i];
	if (!b)
		return fail(api, ERROR_NOT_ENOUGH_MEMORY);
	params_for(&prm, h, PipeID);
	st = io_now(api, h->f, BU_WINUSB_IOCTL_ISOCH_REGISTER, &prm, Buffer, BufferLength, &res);
	if (st)
		return fail(api, st);
	b->magic = MAGIC_ISOCH;
	b->used = true;
	b->id = res.handle;
	b->h = h;
	*IsochBufferHandle = b;
	return ok(api);
}

BOOL bu_winusb_unregister_isoch_buffer(struct bu_winusb_api *api,
				       WINUSB_ISOCH_BUFFER_HANDLE IsochBufferHandle)
{
	struct api_isoch *b;
	struct bu_winusb_ioparams prm;
	uint32_t st;

	b = isoch_arg(api, IsochBufferHandle);
	if (!b)
		return FALSE;
	params_for(&prm, b->h, 0);
	prm.handle = b->id;
	st = io_now(api, b->h->f, BU_WINUSB_IOCTL_ISOCH_UNREGISTER, &prm, NULL, 0, NULL);
	if (st)
		return fail(api, st);
	bu_memset(b, 0, sizeof(*b));
	return ok(api);
}

/** One isochronous transfer through the driver. */
static BOOL isoch_xfer(struct bu_winusb_api *api, WINUSB_ISOCH_BUFFER_HANDLE bh, bool read,
		       ULONG offset, ULONG length, PULONG frame, bool asap, BOOL cont,
		       ULONG npackets, PUSBD_ISO_PACKET_DESCRIPTOR pkts, LPOVERLAPPED ov)
{
	struct api_isoch *b;
	struct bu_winusb_ioparams prm;
	ULONG next = 0, bytes;
	BOOL r;

	b = isoch_arg(api, bh);
	if (!b)
		return FALSE;
	if ((!asap && !frame) || (read && (!pkts || !npackets)))
		return fail(api, ERROR_INVALID_PARAMETER);
	/* The descriptor array's size must fit the request's 32-bit length. */
	if (read && npackets > UINT32_MAX / sizeof(*pkts))
		return fail(api, ERROR_INVALID_PARAMETER);
	params_for(&prm, b->h, 0);
	prm.handle = b->id;
	prm.offset = offset;
	prm.length = length;
	prm.type = read ? npackets : 0;
	prm.value = asap ? 0 : *frame;
	prm.flags = (uint8_t)((asap ? BU_WINUSB_IOF_ASAP : 0) |
			      (asap && cont ? BU_WINUSB_IOF_CONTINUE : 0));
	r = io_transfer(api, b->h, read ? BU_WINUSB_IOCTL_ISOCH_READ : BU_WINUSB_IOCTL_ISOCH_WRITE,
			&prm, NULL, 0, pkts, read ? npackets * (ULONG)sizeof(*pkts) : 0, &bytes, ov,
			&next);
	if (!asap && (r || bu_win32_get_last_error(api) == ERROR_IO_PENDING))
		*frame = next; /* the frame after the transfer's last */
	return r;
}

BOOL bu_winusb_write_isoch_pipe(struct bu_winusb_api *api, WINUSB_ISOCH_BUFFER_HANDLE BufferHandle,
				ULONG Offset, ULONG Length, PULONG FrameNumber,
				LPOVERLAPPED Overlapped)
{
	return isoch_xfer(api, BufferHandle, false, Offset, Length, FrameNumber, false, FALSE, 0,
			  NULL, Overlapped);
}

BOOL bu_winusb_read_isoch_pipe(struct bu_winusb_api *api, WINUSB_ISOCH_BUFFER_HANDLE BufferHandle,
			       ULONG Offset, ULONG Length, PULONG FrameNumber,
			       ULONG NumberOfPackets,
			       PUSBD_ISO_PACKET_DESCRIPTOR IsoPacketDescriptors,
			       LPOVERLAPPED Overlapped)
{
	return isoch_xfer(api, BufferHandle, true, Offset, Length, FrameNumber, false, FALSE,
			  NumberOfPackets, IsoPacketDescriptors, Overlapped);
}

BOOL bu_winusb_write_isoch_pipe_asap(struct bu_winusb_api *api,
				     WINUSB_ISOCH_BUFFER_HANDLE BufferHandle, ULONG Offset,
				     ULONG Length, BOOL ContinueStream,
				     LPOVERLAPPED Overlapped)
{
	return isoch_xfer(api, BufferHandle, false, Offset, Length, NULL, true, ContinueStream, 0,
			  NULL, Overlapped);
}

BOOL bu_winusb_read_isoch_pipe_asap(struct bu_winusb_api *api,
				    WINUSB_ISOCH_BUFFER_HANDLE BufferHandle, ULONG Offset,
				    ULONG Length, BOOL ContinueStream, ULONG NumberOfPackets,
				    PUSBD_ISO_PACKET_DESCRIPTOR IsoPacketDescriptors,
				    LPOVERLAPPED Overlapped)
{
	return isoch_xfer(api, BufferHandle, true, Offset, Length, NULL, true, ContinueStream,
			  NumberOfPackets, IsoPacketDescriptors, Overlapped);
}

/** The driver's frame number and when it was read. */
static uint32_t get_frame(struct bu_winusb_api *api, struct api_iface *h,
			  struct bu_winusb_frame *fr)
{
	struct bu_winusb_ioparams prm;

	params_for(&prm, h, 0);
	return io_now(api, h->f, BU_WINUSB_IOCTL_GET_FRAME, &prm, fr, sizeof(*fr), NULL);
}

BOOL bu_winusb_get_current_frame_number(struct bu_winusb_api *api,
					WINUSB_INTERFACE_HANDLE InterfaceHandle,
					PULONG CurrentFrameNumber, LARGE_INTEGER *TimeStamp)
{
	struct api_iface *h;
	struct bu_winusb_frame fr;
	uint32_t st;

	h = iface_arg(api, InterfaceHandle);
	if (!h)
		return FALSE;
	if (!CurrentFrameNumber || !TimeStamp)
		return fail(api, ERROR_INVALID_PARAMETER);
	st = get_frame(api, h, &fr);
	if (st)
		return fail(api, st);
	*CurrentFrameNumber = fr.frame;
	TimeStamp->QuadPart = (LONGLONG)fr.time_us; /* QPC ticks are microseconds */
	return ok(api);
}

BOOL bu_winusb_get_adjusted_frame_number(struct bu_winusb_api *api, PULONG CurrentFrameNumber,
					 LARGE_INTEGER TimeStamp)
{
	uint64_t now;

	if (!api)
		return FALSE;
	if (!CurrentFrameNumber)
		return fail(api, ERROR_INVALID_PARAMETER);
	now = api_now(api);
	if ((uint64_t)TimeStamp.QuadPart < now)
		*CurrentFrameNumber +=
			(ULONG)bu_div64_u32(now - (uint64_t)TimeStamp.QuadPart, 1000, NULL);
	return ok(api);
}

/**
 * Start or stop time-sync tracking: the handle and the information
 * structure checked (a missing one is ERROR_INVALID_HANDLE, as documented
 * for both), then the request run inline.
 */
static BOOL timesync_call(struct bu_winusb_api *api, WINUSB_INTERFACE_HANDLE handle,
			  bool have_info, uint32_t code, uint32_t tracking,
			  struct bu_winusb_iores *res)
{
	struct api_iface *h = iface_arg(api, handle);
	struct bu_winusb_ioparams prm;
	uint32_t st;

	if (!h)
		return FALSE;
	if (!have_info)
		return fail(api, ERROR_INVALID_HANDLE);
	params_for(&prm, h, 0);
	prm.handle = tracking;
	st = io_now(api, h->f, code, &prm, NULL, 0, res);
	return st ? fail(api, st) : ok(api);
}

BOOL bu_winusb_start_tracking_for_time_sync(
	struct bu_winusb_api *api, WINUSB_INTERFACE_HANDLE InterfaceHandle,
	PUSB_START_TRACKING_FOR_TIME_SYNC_INFORMATION StartTrackingInfo)
{
	struct bu_winusb_iores res;

	if (!timesync_call(api, InterfaceHandle, StartTrackingInfo != NULL,
			   BU_WINUSB_IOCTL_TIMESYNC_START, 0, &res))
		return FALSE;
	StartTrackingInfo->TimeTrackingHandle = (HANDLE)(uintptr_t)res.handle;
	return TRUE;
}

BOOL bu_winusb_get_current_frame_number_and_qpc(
	struct bu_winusb_api *api, WINUSB_INTERFACE_HANDLE InterfaceHandle,
	PUSB_FRAME_NUMBER_AND_QPC_FOR_TIME_SYNC_INFORMATION FrameQpcInfo)
{
	struct api_iface *h;
	struct bu_winusb_frame fr;
	LARGE_INTEGER at;
	uint32_t st;

	h = iface_arg(api, InterfaceHandle);
	if (!h)
		return FALSE;
	if (!FrameQpcInfo)
		return fail(api, ERROR_INVALID_HANDLE);
	st = get_frame(api, h, &fr);
	if (st)
		return fail(api, st);
	at.QuadPart = 0;
	if (FrameQpcInfo->InputFrameNumber) {
		int64_t dframes = (int32_t)(FrameQpcInfo->InputFrameNumber - fr.frame);

		at.QuadPart = (LONGLONG)fr.time_us + dframes * 1000 +
			      (LONGLONG)(FrameQpcInfo->InputMicroFrameNumber & 7) * 125;
	}
	FrameQpcInfo->QueryPerformanceCounterAtInputFrameOrMicroFrame = at;
	FrameQpcInfo->QueryPerformanceCounterFrequency.QuadPart = 1000000;
	FrameQpcInfo->PredictedAccuracyInMicroSeconds = 125; /* one microframe */
	FrameQpcInfo->CurrentGenerationID = 0;
	FrameQpcInfo->CurrentQueryPerformanceCounter.QuadPart = (LONGLONG)fr.time_us;
	FrameQpcInfo->CurrentHardwareFrameNumber = fr.frame & 0x7ff;
	FrameQpcInfo->CurrentHardwareMicroFrameNumber = 0;
	FrameQpcInfo->CurrentUSBFrameNumber = fr.frame;
	return ok(api);
}

BOOL bu_winusb_stop_tracking_for_time_sync(
	struct bu_winusb_api *api, WINUSB_INTERFACE_HANDLE InterfaceHandle,
	PUSB_STOP_TRACKING_FOR_TIME_SYNC_INFORMATION StopTrackingInfo)
{
	struct bu_winusb_iores res;

	return timesync_call(api, InterfaceHandle, StopTrackingInfo != NULL,
			     BU_WINUSB_IOCTL_TIMESYNC_STOP,
			     StopTrackingInfo ? (uint32_t)(uintptr_t)StopTrackingInfo->TimeTrackingHandle
					      : 0,
			     &res);
}

/* ======================================================================== */
/* Parse helpers: pure, exported under their Windows names                  */
/* ======================================================================== */

PUSB_COMMON_DESCRIPTOR WINAPI WinUsb_ParseDescriptors(PVOID DescriptorBuffer, ULONG TotalLength,
						      PVOID StartPosition, LONG DescriptorType)
{
	const uint8_t *buf = DescriptorBuffer, *start = StartPosition, *d;
	size_t off;

	if (!buf || !start || start < buf || start >= buf + TotalLength)
		return NULL;
	off = (size_t)(start - buf);
	while ((d = bu_desc_next(buf, TotalLength, &off)))
		if (DescriptorType == -1 || (LONG)d[1] == DescriptorType)
			return (PUSB_COMMON_DESCRIPTOR)(uintptr_t)d;
	return NULL;
}

PUSB_INTERFACE_DESCRIPTOR WINAPI WinUsb_ParseConfigurationDescriptor(
	PUSB_CONFIGURATION_DESCRIPTOR ConfigurationDescriptor, PVOID StartPosition,
	LONG InterfaceNumber, LONG AlternateSetting, LONG InterfaceClass,
	LONG InterfaceSubClass, LONG InterfaceProtocol)
{
	const uint8_t *buf = (const uint8_t *)ConfigurationDescriptor, *start = StartPosition, *d;
	size_t off, total;

	if (!buf || buf[1] != USB_CONFIGURATION_DESCRIPTOR_TYPE || buf[0] < 9)
		return NULL;
	total = bu_get_le16(buf + 2);
	if (!start)
		start = buf;
	if (start < buf || start >= buf + total)
		return NULL;
	off = (size_t)(start - buf);
	while ((d = bu_desc_find(buf, total, &off, USB_DT_INTERFACE, 9))) {
		if ((InterfaceNumber == -1 || d[2] == InterfaceNumber) &&
		    (AlternateSetting == -1 || d[3] == AlternateSetting) &&
		    (InterfaceClass == -1 || d[5] == InterfaceClass) &&
		    (InterfaceSubClass == -1 || d[6] == InterfaceSubClass) &&
		    (InterfaceProtocol == -1 || d[7] == InterfaceProtocol))
			return (PUSB_INTERFACE_DESCRIPTOR)(uintptr_t)d;
	}
	return NULL;
}
