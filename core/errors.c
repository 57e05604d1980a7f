/*
 * Names for the project's error codes.
 */
#include "bareusb/errors.h"

const char *bu_strerror(int err)
{
	switch (err) {
	case BU_OK: return "ok";
	case BU_EINVAL: return "invalid argument";
	case BU_ENOMEM: return "out of memory";
	case BU_ETIMEDOUT: return "timed out";
	case BU_ESTALL: return "stall";
	case BU_ENODEV: return "disconnected";
	case BU_EPROTO: return "transaction error";
	case BU_EBABBLE: return "babble";
	case BU_EOVERFLOW: return "overflow";
	case BU_ECANCELED: return "cancelled";
	case BU_ENOTSUP: return "not supported";
	case BU_EBADDESC: return "malformed descriptor";
	case BU_EBUSY: return "busy";
	case BU_EIO: return "controller error";
	case BU_ENOSPC: return "no space";
	case BU_ESHUTDOWN: return "controller halted";
	case BU_EFAULT: return "bad DMA address";
	case BU_ERANGE: return "out of range";
	case BU_ENOENT: return "not found";
	case BU_EMISSED: return "missed service";
	default: return "unknown error";
	}
}
