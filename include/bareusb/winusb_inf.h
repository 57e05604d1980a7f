/*
 * WinUSB INF files as the binding table's input: a driver package INF the
 * way Microsoft's documentation ("WinUSB (Winusb.sys) installation", the
 * WinUSB INF template) writes it is parsed strictly into the models it
 * installs WinUSB for and the registry values its hardware (.HW) AddReg
 * sections write, and bu_winusb_drv_bind_inf turns them into bindings.
 *
 * What is understood:
 *   [Version]       Signature = "$Windows NT$" (or "$Chicago$"); other keys kept as they are.
 *   [Manufacturer]  %Mfg% = Models[,NTamd64[,...]]: the models section used is
 *                   Models.NTamd64 (any decoration beginning with it), else
 *                   Models.NT..., else the first listed one found, else Models.
 *   models section  %Desc% = Install, USB\VID_vvvv&PID_pppp[&MI_ii][, more IDs]
 *   install section Install.NTamd64, Install.NT or Install (the first found):
 *                   Include = winusb.inf and Needs = WINUSB.NT mark a WinUSB
 *                   install; CopyFiles, AddReg, DelReg, AddProperty, FeatureScore
 *                   are accepted and not interpreted.
 *   <install>.HW    AddReg = section[,section...]; Include, Needs, DelReg accepted.
 *   AddReg sections HKR,,Name,flags,value: flags 0 / 0x0 (REG_SZ),
 *                   0x10000 (REG_MULTI_SZ), 0x10001 (REG_DWORD), 0x1 (REG_BINARY),
 *                   each optionally | 0x2 (FLG_ADDREG_NOCLOBBER).
 *                   DeviceInterfaceGUIDs (REG_MULTI_SZ) and DeviceInterfaceGUID
 *                   (REG_SZ) must hold well-formed GUIDs.
 *   <install>.Services  AddService, Include, Needs accepted.
 *   [Strings]       key = "text": %key% is replaced everywhere it is used.
 * Every other section is checked for syntax only. Anything else in the
 * sections above is an error naming its line.
 *
 * Freestanding; the parser uses no allocation (the caller's struct holds
 * the result) and stays within the library's 2 KiB stack budget for entry
 * points (tests/checks/stack_depth.py measures it).
 */
#ifndef BAREUSB_WINUSB_INF_H
#define BAREUSB_WINUSB_INF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bareusb/compiler.h"

#ifdef __cplusplus
extern "C" {
#endif

#ifndef BU_INF_MAX_MODELS
#define BU_INF_MAX_MODELS 16 /**< model lines kept */
#endif
#ifndef BU_INF_MAX_ADDREG
#define BU_INF_MAX_ADDREG 32 /**< .HW AddReg entries kept */
#endif
#define BU_INF_NAME_MAX 64   /**< section and value names, with the NUL */
#define BU_INF_VALUE_MAX 192 /**< a value's bytes (REG_MULTI_SZ: NUL-separated) */

/** AddReg flags (value types as the INF AddReg directive documents them). */
#define BU_INF_FLG_NOCLOBBER 0x00000002u
#define BU_INF_TYPE_SZ 0x00000000u
#define BU_INF_TYPE_BINARY 0x00000001u
#define BU_INF_TYPE_MULTI_SZ 0x00010000u
#define BU_INF_TYPE_DWORD 0x00010001u

/** One registry value a model's .HW section writes under HKR (Device Parameters). */
struct bu_inf_addreg {
	char install[BU_INF_NAME_MAX]; /**< the install section it belongs to */
	char name[BU_INF_NAME_MAX];    /**< value name, e.g. "DeviceIdleEnabled" */
	uint32_t flags;                /**< as written (type | FLG_ADDREG_NOCLOBBER) */
	uint32_t type;                 /**< BU_INF_TYPE_* */
	uint32_t dword;                /**< REG_DWORD value */
	/** REG_SZ: the string; REG_MULTI_SZ: the strings, each NUL-terminated,
	 *  then one more NUL; REG_BINARY: the bytes. %strings% substituted. */
	char value[BU_INF_VALUE_MAX];
	uint16_t value_len; /**< bytes used in value (without the final NUL for REG_SZ) */
	uint16_t line;      /**< where it was written */
};

/** One device a models section names. */
struct bu_inf_model {
	uint16_t vid, pid;
	int16_t iface;                 /**< MI_xx, or -1 for the whole device */
	bool winusb;                   /**< its install section includes WINUSB.NT */
	char install[BU_INF_NAME_MAX]; /**< the install section used (decorated) */
	uint16_t line;
};

/** What bu_winusb_inf_parse found, or why it stopped. */
struct bu_winusb_inf {
	struct bu_inf_model model[BU_INF_MAX_MODELS];
	unsigned num_models;
	struct bu_inf_addreg addreg[BU_INF_MAX_ADDREG];
	unsigned num_addreg;
	unsigned error_line; /**< 1-based line of the error, 0 when none or the whole file */
	char error[120];     /**< what is wrong, "" on success */
};

/**
 * Parse an INF (text[len], UTF-8 or ASCII; a UTF-8 BOM is skipped, a
 * UTF-16 one is an error; lines end with LF or CRLF) into *inf. Returns 0, or BU_EINVAL with
 * inf->error_line and inf->error set (BU_ENOSPC when it holds more models
 * or .HW AddReg entries than the limits above). Never reads past len.
 */
int bu_winusb_inf_parse(const char *text, size_t len, struct bu_winusb_inf *inf);

/**
 * The index-th .HW AddReg entry of model `m` (in file order), or NULL.
 * For the power settings a WinUSB INF writes (DeviceIdleEnabled,
 * DefaultIdleState, DefaultIdleTimeout, ...).
 */
const struct bu_inf_addreg *bu_winusb_inf_model_addreg(const struct bu_winusb_inf *inf,
						       unsigned m, unsigned index);

/**
 * The `index`-th device interface GUID of model `m` (DeviceInterfaceGUIDs
 * first, then DeviceInterfaceGUID), as written ("{...}"), or NULL.
 */
const char *bu_winusb_inf_model_guid(const struct bu_winusb_inf *inf, unsigned m,
				     unsigned index);

#ifdef __cplusplus
}
#endif

#endif
