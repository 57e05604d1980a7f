/*
 * WinUSB driver part: the request interface (bareusb/winusb_ioctl.h) the
 * API part calls. Holds the checks shared by request handlers, the small
 * handlers (function information, pipe and power policies, cancel, open
 * and close of an interface) and the table of every request code with its
 * handler and the checks its row asks for, applied once by the
 * dispatcher. The transfer handlers live with their engines
 * (winusb_pipe.c, winusb_isoch.c, winusb_ctrl.c). Reads top to bottom:
 *   checks -> small handlers -> the table -> the dispatcher.
 */
#include "winusb_priv.h"

#include "bareusb/errors.h"
#include "bareusb/util.h"

/* ======================================================================== */
/* Checks                                                                   */
/* ======================================================================== */

/** ProbeForRead/Write: a caller buffer the driver may use. */
bool bu_wu_range_ok(struct bu_winusb_drv *drv, const void *p, uint32_t len, bool write)
{
	if (!len)
		return true;
	if (!p || (uintptr_t)p + len < (uintptr_t)p)
		return false;
	return !drv->opts.check_range || drv->opts.check_range(drv->opts.ctx, p, len, write);
}

/** The claimed interface `index` of a file, or NULL. */
struct wu_iface *bu_wu_file_iface(struct wu_file *f, uint8_t index)
{
	if (index >= f->fn->num_ifaces || index >= 32 || !(f->open_mask & (1u << index)))
		return NULL;
	return &f->fn->ifaces[index];
}

/** Put a little-endian value of `size` bytes into an output buffer. */
static void put_value(void *buf, uint32_t size, uint32_t value)
{
	uint8_t *b = buf;

	for (uint32_t i = 0; i < size; i++)
		b[i] = (uint8_t)(value >> (8 * i));
}

/** Give a value of `size` bytes back in the output buffer. */
static uint32_t give_value(const struct wu_ioctx *c, uint32_t size, uint32_t value)
{
	if (c->io->buf_len < size)
		return ERROR_INSUFFICIENT_BUFFER;
	put_value(c->io->buf, size, value);
	c->res->bytes = size;
	return 0;
}

/* ======================================================================== */
/* Handlers                                                                 */
/* ======================================================================== */

/** GET_INFO: the function's layout for the API part. */
static uint32_t ioc_get_info(const struct wu_ioctx *c)
{
	struct wu_func *fn = c->fn;
	struct bu_usb_device *dev = fn->dev;
	struct bu_winusb_funcinfo info;

	if (c->io->buf_len < sizeof(info))
		return ERROR_INSUFFICIENT_BUFFER;
	bu_memset(&info, 0, sizeof(info));
	info.num_ifaces = fn->num_ifaces;
	info.speed = fn->speed >= BU_SPEED_HIGH ? HighSpeed : LowSpeed;
	info.bus_speed = (uint8_t)fn->speed;
	info.config_value = dev->config_value;
	if (dev->active_config >= 0) {
		info.config_index = (uint8_t)dev->active_config;
		info.config_len = dev->configs[dev->active_config].total_len;
	}
	for (unsigned i = 0; i < fn->num_ifaces; i++)
		info.iface_numbers[i] = fn->ifaces[i].number;
	bu_memcpy(c->io->buf, &info, sizeof(info));
	c->res->bytes = sizeof(info);
	return 0;
}

/** QUERY_DEVICE_INFO: DEVICE_SPEED is the one information type. */
static uint32_t ioc_query_device_info(const struct wu_ioctx *c)
{
	if (c->prm->type != DEVICE_SPEED)
		return ERROR_INVALID_PARAMETER;
	if (c->io->buf_len < 1)
		return ERROR_INSUFFICIENT_BUFFER;
	/* High speed or faster reports HighSpeed, the rest LowSpeed ("WinUsb_QueryDeviceInformation
	 * function (winusb.h)"). */
	((uint8_t *)c->io->buf)[0] = c->fn->speed >= BU_SPEED_HIGH ? HighSpeed : LowSpeed;
	c->res->bytes = 1;
	return 0;
}

/** SET_PIPE_POLICY. */
static uint32_t ioc_set_pipe_policy(const struct wu_ioctx *c)
{
	const struct bu_winusb_ioparams *prm = c->prm;
	struct wu_pipe *p = bu_wu_iface_pipe(c->wi, prm->pipe);

	if (!p)
		return ERROR_INVALID_PARAMETER;
	return bu_wu_policies_set(&p->pol, prm->type, prm->length, prm->value);
}

/** GET_PIPE_POLICY. */
static uint32_t ioc_get_pipe_policy(const struct wu_ioctx *c)
{
	struct wu_pipe *p = bu_wu_iface_pipe(c->wi, c->prm->pipe);
	uint32_t value, size, rc;

	if (!p)
		return ERROR_INVALID_PARAMETER;
	rc = bu_wu_policies_get(&p->pol, c->prm->type, p->id ? bu_wu_pipe_max_xfer(p) : 4096, &value,
			     &size);
	return rc ? rc : give_value(c, size, value);
}

/** SET_POWER_POLICY: AUTO_SUSPEND (1 byte) and SUSPEND_DELAY (4 bytes). */
static uint32_t ioc_set_power_policy(const struct wu_ioctx *c)
{
	const struct bu_winusb_ioparams *prm = c->prm;
	struct wu_func *fn = c->fn;

	if (prm->type == AUTO_SUSPEND && prm->length == 1) {
		/* Ignored without DeviceIdleEnabled ("WinUSB power management"). */
		fn->pw.auto_suspend = (prm->value & 0xff) != 0;
		if (!fn->pw.auto_suspend)
			bu_wu_func_resume(fn);
		return 0;
	}
	if (prm->type == SUSPEND_DELAY && prm->length == 4) {
		fn->pw.suspend_delay = prm->value;
		return 0;
	}
	return ERROR_INVALID_PARAMETER;
}

/** GET_POWER_POLICY. */
static uint32_t ioc_get_power_policy(const struct wu_ioctx *c)
{
	if (c->prm->type == AUTO_SUSPEND)
		return give_value(c, 1, c->fn->pw.auto_suspend);
	if (c->prm->type == SUSPEND_DELAY)
		return give_value(c, 4, c->fn->pw.suspend_delay);
	return ERROR_INVALID_PARAMETER;
}

/** CANCEL: the CancelIoEx analogue for one request; never a completion routine of its own. */
static uint32_t ioc_cancel(const struct wu_ioctx *c)
{
	return c->io->done ? ERROR_INVALID_PARAMETER : bu_wu_file_cancel(c->f, c->io->done_cookie);
}

/** OPEN_INTERFACE: claim an interface index; its policies start from the defaults. */
static uint32_t ioc_open_interface(const struct wu_ioctx *c)
{
	struct wu_func *fn = c->fn;
	uint8_t index = c->prm->iface;

	if (!fn->present)
		return ERROR_BAD_COMMAND; /* as Windows answers after a disconnect */
	if (!fn->num_ifaces)
		return ERROR_BAD_DEVICE;
	if (index >= fn->num_ifaces || index >= 32)
		return ERROR_NO_MORE_ITEMS;
	if (c->f->open_mask & (1u << index))
		return ERROR_ALREADY_EXISTS;
	c->f->open_mask |= 1u << index;
	bu_wu_iface_reset_policies(&fn->ifaces[index]);
	c->res->bytes = fn->ifaces[index].number;
	return 0;
}

/**
 * CLOSE_INTERFACE: abort its pipes; once they are quiet, drop its idle
 * isoch buffers and release it (pending until then).
 */
static uint32_t ioc_close_interface(const struct wu_ioctx *c)
{
	struct wu_iface *wi = c->wi;
	struct wu_file *f = c->f;
	bool quiet = !wi->alt_busy;

	if (!c->io->done)
		return ERROR_INVALID_PARAMETER; /* it may pend: needs `done` */
	for (unsigned k = 0; k < wi->num_pipes; k++) {
		bu_wu_pipe_abort_marked(&wi->pipes[k]);
		quiet = quiet && bu_wu_pipe_quiet(&wi->pipes[k]);
	}
	if (!quiet)
		return bu_wu_op_pend(c, OP_CLOSE, NULL, NULL);
	for (unsigned i = 0; i < WU_MAX_ISOCH; i++)
		if (f->isoch[i].used && f->isoch[i].iface == wi->index && !f->isoch[i].busy)
			f->isoch[i].used = false;
	f->open_mask &= ~(1u << wi->index);
	return 0;
}

/** A request code nobody serves (STATUS_INVALID_DEVICE_REQUEST). */
static uint32_t ioc_unknown(const struct wu_ioctx *c)
{
	(void)c;
	return ERROR_INVALID_PARAMETER;
}

/* ======================================================================== */
/* The table and the dispatcher                                             */
/* ======================================================================== */

/* What the dispatcher checks, in this order, before a row's handler runs. */
#define IOF_IFACE 0x1u   /* prm.iface must be an interface the file claimed */
#define IOF_PRESENT 0x2u /* the device must still be there */
#define IOF_OUT 0x4u     /* the buffer is output: probed writable (input buffers: the handler) */
#define IOF_ALL (IOF_IFACE | IOF_PRESENT | IOF_OUT)

/** One request code and how it is served. */
struct wu_ioctl {
	uint32_t code;
	uint8_t flags; /**< IOF_* */
	uint32_t (*handler)(const struct wu_ioctx *c);
};

/*
 * Every request code. CANCEL and OPEN_INTERFACE check nothing first (a
 * cancel must reach a request whatever state the device is in; opening
 * reports a gone device its own way); CLOSE_INTERFACE works on a gone
 * device; the isochronous transfer requests name their interface through
 * the registered buffer. Rows without a buffer keep IOF_OUT: whatever
 * buffer is passed to them is probed as one the driver would write.
 */
static const struct wu_ioctl wu_ioctls[] = {
	{ BU_WINUSB_IOCTL_CANCEL, 0, ioc_cancel },
	{ BU_WINUSB_IOCTL_OPEN_INTERFACE, 0, ioc_open_interface },
	{ BU_WINUSB_IOCTL_CLOSE_INTERFACE, IOF_IFACE, ioc_close_interface },
	{ BU_WINUSB_IOCTL_READ_PIPE, IOF_ALL, bu_wu_ioc_read_pipe },
	{ BU_WINUSB_IOCTL_WRITE_PIPE, IOF_IFACE | IOF_PRESENT, bu_wu_ioc_write_pipe },
	{ BU_WINUSB_IOCTL_CONTROL, IOF_IFACE | IOF_PRESENT, bu_wu_ioc_control },
	{ BU_WINUSB_IOCTL_GET_DESCRIPTOR, IOF_ALL, bu_wu_ioc_get_descriptor },
	{ BU_WINUSB_IOCTL_GET_INFO, IOF_ALL, ioc_get_info },
	{ BU_WINUSB_IOCTL_QUERY_DEVICE_INFO, IOF_ALL, ioc_query_device_info },
	{ BU_WINUSB_IOCTL_SET_ALT, IOF_ALL, bu_wu_ioc_set_alt },
	{ BU_WINUSB_IOCTL_GET_ALT, IOF_ALL, bu_wu_ioc_get_alt },
	{ BU_WINUSB_IOCTL_SET_PIPE_POLICY, IOF_ALL, ioc_set_pipe_policy },
	{ BU_WINUSB_IOCTL_GET_PIPE_POLICY, IOF_ALL, ioc_get_pipe_policy },
	{ BU_WINUSB_IOCTL_SET_POWER_POLICY, IOF_ALL, ioc_set_power_policy },
	{ BU_WINUSB_IOCTL_GET_POWER_POLICY, IOF_ALL, ioc_get_power_policy },
	{ BU_WINUSB_IOCTL_RESET_PIPE, IOF_ALL, bu_wu_ioc_pipe_op },
	{ BU_WINUSB_IOCTL_ABORT_PIPE, IOF_ALL, bu_wu_ioc_pipe_op },
	{ BU_WINUSB_IOCTL_FLUSH_PIPE, IOF_ALL, bu_wu_ioc_pipe_op },
	{ BU_WINUSB_IOCTL_ISOCH_REGISTER, IOF_IFACE | IOF_PRESENT, bu_wu_ioc_isoch_register },
	{ BU_WINUSB_IOCTL_ISOCH_UNREGISTER, IOF_PRESENT | IOF_OUT, bu_wu_ioc_isoch_unregister },
	{ BU_WINUSB_IOCTL_ISOCH_READ, IOF_PRESENT | IOF_OUT, bu_wu_ioc_isoch_read },
	{ BU_WINUSB_IOCTL_ISOCH_WRITE, IOF_PRESENT, bu_wu_ioc_isoch_write },
	{ BU_WINUSB_IOCTL_GET_FRAME, IOF_ALL, bu_wu_ioc_get_frame },
	{ BU_WINUSB_IOCTL_TIMESYNC_START, IOF_ALL, bu_wu_ioc_timesync_start },
	{ BU_WINUSB_IOCTL_TIMESYNC_STOP, IOF_ALL, bu_wu_ioc_timesync_stop },
};

/** An unknown code is checked like any interface request, then refused. */
static const struct wu_ioctl wu_ioctl_unknown = { 0, IOF_ALL, ioc_unknown };

/** The row of a request code (the unknown row when it has none). */
static const struct wu_ioctl *ioctl_row(uint32_t code)
{
	for (size_t i = 0; i < BU_ARRAY_SIZE(wu_ioctls); i++)
		if (wu_ioctls[i].code == code)
			return &wu_ioctls[i];
	return &wu_ioctl_unknown;
}

/** bu_winusb_drv_ioctl under the bus's lock. */
static uint32_t drv_ioctl(struct bu_winusb_drv *drv, const struct bu_winusb_io *io,
			     struct bu_winusb_iores *res)
{
	struct bu_winusb_ioparams prm;
	const struct wu_ioctl *row;
	struct wu_ioctx c;

	if (!drv || !io || !res)
		return ERROR_INVALID_PARAMETER;
	bu_memset(res, 0, sizeof(*res));
	bu_memset(&c, 0, sizeof(c));
	c.f = bu_wu_file_get(drv, io->file);
	if (!c.f)
		return ERROR_INVALID_HANDLE;
	if (!io->params || io->params_len != sizeof(prm))
		return ERROR_INVALID_PARAMETER;
	bu_memcpy(&prm, io->params, sizeof(prm)); /* read the caller's block once */
	if ((io->buf_len && !io->buf) || (io->aux_len && !io->aux))
		return ERROR_INVALID_PARAMETER;
	c.drv = drv;
	c.fn = c.f->fn;
	c.prm = &prm;
	c.io = io;
	c.res = res;
	row = ioctl_row(io->code);
	if (row->flags & IOF_IFACE) {
		c.wi = bu_wu_file_iface(c.f, prm.iface);
		if (!c.wi)
			return ERROR_INVALID_HANDLE;
		/* Its pipes are being replaced: only closing until then. */
		if (c.wi->alt_busy &&
		    io->code != BU_WINUSB_IOCTL_CLOSE_INTERFACE)
			return ERROR_BUSY;
	}
	if ((row->flags & IOF_PRESENT) && !c.fn->present)
		return ERROR_DEVICE_NOT_CONNECTED;
	if ((row->flags & IOF_OUT) && !bu_wu_range_ok(drv, io->buf, io->buf_len, true))
		return ERROR_NOACCESS;
	return row->handler(&c);
}

uint32_t bu_winusb_drv_ioctl(struct bu_winusb_drv *drv, const struct bu_winusb_io *io,
			     struct bu_winusb_iores *res)
{
	uint32_t rc = ERROR_INVALID_PARAMETER;

	if (drv)
		BU_UNDER_LOCK(drv->bus, rc = drv_ioctl(drv, io, res));
	return rc;
}
