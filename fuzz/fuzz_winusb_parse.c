/*
 * libFuzzer harness for WinUsb_ParseConfigurationDescriptor and
 * WinUsb_ParseDescriptors (winusb/winusb_api.c) on arbitrary buffers, each
 * in an exactly-sized heap copy so ASan sees any over-read. Every match is
 * checked to lie inside the buffer and to meet the search criteria, and the
 * whole buffer is walked the way callers do (start after the last match).
 *
 * Input: byte 0 picks the function and which criteria are wildcards
 * (-1); bytes 1-5 are the criteria; bytes 6-7 the start offset (0xffff:
 * NULL start); byte 8 trims TotalLength (ParseDescriptors); the rest is
 * the buffer.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bareusb/ch9.h"
#include "bareusb/util.h"
#include "bareusb/winusb.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * WinUsb_ParseConfigurationDescriptor has no length argument: as on
 * Windows, the caller's buffer holds the wTotalLength bytes the
 * configuration claims ("WinUsb_ParseConfigurationDescriptor function
 * (winusb.h)"). The harness keeps that contract, making wTotalLength no
 * larger than the buffer; what the library hands out keeps it too
 * (WinUsb_GetDescriptor's copy says what arrived: tests/sim/test_winusb.c
 * test_config_total_length_lie).
 */
static const int caller_breaks_total_length_contract = 0;
/* DescriptorType values above 0xff match nothing (found: 0x100 matched 0). */
static const int wide_descriptor_type_handled = 1;

static void invariant_failed(int line, const char *what)
{
	fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, line, what);
	abort();
}
#define invariant(ok) ((ok) ? (void)0 : invariant_failed(__LINE__, #ok))

/** A criterion: byte 0xff is -1 (any), 0xfe a value no field can have. */
static LONG criterion(uint8_t b, int wild, int wide)
{
	if (wild || b == 0xff)
		return -1;
	return b == 0xfe && wide ? 0x100 : b;
}

static void fuzz_config(uint8_t *buf, size_t len, const uint8_t *arg, uint8_t mode)
{
	LONG c[5];
	const uint8_t *start;
	size_t total, off = bu_get_le16(arg + 5);

	if (len < 9) /* the caller passes a configuration descriptor */
		return;
	total = bu_get_le16(buf + 2);
	if (!caller_breaks_total_length_contract && total > len) {
		buf[2] = (uint8_t)len;
		buf[3] = (uint8_t)(len >> 8);
		total = len;
	}
	for (unsigned i = 0; i < 5; i++)
		c[i] = criterion(arg[i], (mode >> (i + 1)) & 1, 1);
	start = off == 0xffff ? NULL : buf + (off > len ? len : off);
	for (unsigned n = 0; n <= len; n++) {
		const uint8_t *d = (const uint8_t *)WinUsb_ParseConfigurationDescriptor(
			(PUSB_CONFIGURATION_DESCRIPTOR)buf, (PVOID)start, c[0], c[1], c[2], c[3], c[4]);

		if (!d)
			return;
		invariant(d >= (start ? start : buf) && d + 9 <= buf + total);
		invariant(d[0] >= 9 && d + d[0] <= buf + total && d[1] == USB_DT_INTERFACE);
		invariant(c[0] == -1 || d[2] == c[0]);
		invariant(c[1] == -1 || d[3] == c[1]);
		invariant(c[2] == -1 || d[5] == c[2]);
		invariant(c[3] == -1 || d[6] == c[3]);
		invariant(c[4] == -1 || d[7] == c[4]);
		start = d + d[0];
	}
	abort(); /* more matches than bytes: the walk does not advance */
}

static void fuzz_descriptors(uint8_t *buf, size_t len, const uint8_t *arg, uint8_t mode)
{
	size_t off = bu_get_le16(arg + 5), total = len;
	LONG type = criterion(arg[0], mode & 2, wide_descriptor_type_handled);
	const uint8_t *start;

	if (arg[7] && arg[7] < total)
		total -= arg[7];
	start = off == 0xffff ? NULL : buf + (off > len ? len : off);
	for (unsigned n = 0; n <= len; n++) {
		const uint8_t *d = (const uint8_t *)WinUsb_ParseDescriptors(buf, (ULONG)total,
									   (PVOID)start, type);

		if (!d)
			return;
		invariant(start && d >= start && d + 2 <= buf + total);
		invariant(d[0] >= 2 && d + d[0] <= buf + total);
		invariant(type == -1 || d[1] == type);
		start = d + d[0];
	}
	abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *buf;
	size_t len;

	if (size < 9)
		return 0;
	len = size - 9;
	buf = malloc(len ? len : 1);
	if (!buf)
		return 0;
	memcpy(buf, data + 9, len);
	if (data[0] & 1)
		fuzz_descriptors(buf, len, data + 1, data[0]);
	else
		fuzz_config(buf, len, data + 1, data[0]);
	free(buf);
	return 0;
}
