/*
 * bareusb error codes: one project-wide enum. Library functions return 0 on
 * success and a negative BU_E* value on failure, never a bare -1.
 */
#ifndef BAREUSB_ERRORS_H
#define BAREUSB_ERRORS_H

#ifdef __cplusplus
extern "C" {
#endif

enum bu_err {
	BU_OK = 0,
	BU_EINVAL = -1,        /**< invalid argument from the caller */
	BU_ENOMEM = -2,        /**< platform allocation failed or a limit hit */
	BU_ETIMEDOUT = -3,     /**< no answer within the deadline */
	BU_ESTALL = -4,        /**< the endpoint answered STALL */
	BU_ENODEV = -5,        /**< the device is disconnected / gone */
	BU_EPROTO = -6,        /**< transaction error (CRC, timeout on the wire) */
	BU_EBABBLE = -7,       /**< the device sent more than asked (babble) */
	BU_EOVERFLOW = -8,     /**< data did not fit the buffer */
	BU_ECANCELED = -9,     /**< cancelled by the caller or a timeout */
	BU_ENOTSUP = -10,      /**< not supported by this controller/device */
	BU_EBADDESC = -11,     /**< the device sent a malformed descriptor */
	BU_EBUSY = -12,        /**< resource in use */
	BU_EIO = -13,          /**< controller error (HCE, HSE, TRB error) */
	BU_ENOSPC = -14,       /**< no free slot / ring space / bandwidth */
	BU_ESHUTDOWN = -15,    /**< controller halted or failed */
	BU_EFAULT = -16,       /**< bad DMA address */
	BU_ERANGE = -17,       /**< value out of range (e.g. hub tier limit) */
	BU_ENOENT = -18,       /**< no such object (descriptor, endpoint) */
	BU_EMISSED = -19,      /**< isochronous service missed */
	BU_ERR_MIN = -19,
};

/** A short, static, human-readable name for an error code (or 0). */
const char *bu_strerror(int err);

#ifdef __cplusplus
}
#endif

#endif
