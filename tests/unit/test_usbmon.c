/*
 * Unit tests for core/usbmon.c: usbmon records byte by byte against the
 * binary layout of Linux's usbmon (Documentation/usb/usbmon.rst): the
 * 64-byte header, what data is captured when, statuses as Linux errnos.
 */
#include <string.h>

#include "bareusb/errors.h"
#include "bareusb/usb.h"
#include "unit.h"

static struct bu_usb_bus bus = { .index = 2 };
static struct bu_usb_device dev = { .bus = &bus, .address = 5, .speed = BU_SPEED_HIGH };

static uint32_t le32(const uint8_t *p)
{
	return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t le64(const uint8_t *p)
{
	return le32(p) | (uint64_t)le32(p + 4) << 32;
}

/* A control IN submission: setup captured, no data ('<'), -EINPROGRESS;
 * its completion: the data that came back, status 0. */
START_TEST(control_in)
{
	struct bu_usb_endpoint ep0 = { .dev = &dev, .address = 0, .type = BU_EP_CONTROL };
	uint8_t data[18] = { 18, 1, 0, 2 };
	struct bu_usb_xfer x = { .ep = &ep0, .setup = { 0x80, 6, 0, 1, 0, 0, 18, 0 },
				 .buf = data, .len = 18 };
	uint8_t rec[256];

	ck_assert_uint_eq(bu_usbmon_record(&x, BU_MON_SUBMIT, 0, 3000123456ull, rec, sizeof(rec)),
			  64);
	ck_assert_uint_eq(le64(rec), (uint64_t)(uintptr_t)&x); /* id */
	ck_assert_uint_eq(rec[8], 'S');
	ck_assert_uint_eq(rec[9], 2);    /* control */
	ck_assert_uint_eq(rec[10], 0x80); /* EP0, IN by bmRequestType */
	ck_assert_uint_eq(rec[11], 5);
	ck_assert_uint_eq(rec[12] | rec[13] << 8, 3); /* bus index 2 + 1 */
	ck_assert_uint_eq(rec[14], 0);	 /* setup present */
	ck_assert_uint_eq(rec[15], '<'); /* IN: no data at submission */
	ck_assert_uint_eq(le64(rec + 16), 3000);
	ck_assert_uint_eq(le32(rec + 24), 123456);
	ck_assert_int_eq((int32_t)le32(rec + 28), -115); /* -EINPROGRESS */
	ck_assert_uint_eq(le32(rec + 32), 18);
	ck_assert_uint_eq(le32(rec + 36), 0);
	ck_assert_mem_eq(rec + 40, x.setup, 8);

	x.actual = 18;
	ck_assert_uint_eq(bu_usbmon_record(&x, BU_MON_COMPLETE, 0, 3000200000ull, rec, sizeof(rec)),
			  64 + 18);
	ck_assert_uint_eq(rec[8], 'C');
	ck_assert_uint_eq(rec[14], '-');
	ck_assert_uint_eq(rec[15], 0);
	ck_assert_int_eq((int32_t)le32(rec + 28), 0);
	ck_assert_uint_eq(le32(rec + 32), 18);
	ck_assert_uint_eq(le32(rec + 36), 18);
	ck_assert_mem_eq(rec + 64, data, 18);
}
END_TEST

/* Bulk OUT: data captured at submission (cut to the buffer), none at
 * completion ('>'); a STALL is -EPIPE; an interrupt endpoint's interval
 * in microframes at high speed, frames at full speed. */
START_TEST(bulk_out_interrupt)
{
	struct bu_usb_endpoint out = { .dev = &dev, .address = 0x02, .type = BU_EP_BULK };
	uint8_t data[100];
	struct bu_usb_xfer x = { .ep = &out, .buf = data, .len = sizeof(data) };
	uint8_t rec[64 + 40];

	for (unsigned i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)i;
	ck_assert_uint_eq(bu_usbmon_record(&x, BU_MON_SUBMIT, 0, 0, rec, sizeof(rec)), 64 + 40);
	ck_assert_uint_eq(rec[9], 3);
	ck_assert_uint_eq(rec[10], 0x02);
	ck_assert_uint_eq(rec[14], '-');
	ck_assert_uint_eq(rec[15], 0);
	ck_assert_uint_eq(le32(rec + 32), 100);
	ck_assert_uint_eq(le32(rec + 36), 40);
	ck_assert_mem_eq(rec + 64, data, 40);
	x.actual = 60;
	ck_assert_uint_eq(bu_usbmon_record(&x, BU_MON_COMPLETE, BU_ESTALL, 0, rec, sizeof(rec)), 64);
	ck_assert_uint_eq(rec[15], '>');
	ck_assert_int_eq((int32_t)le32(rec + 28), -32);
	ck_assert_uint_eq(le32(rec + 32), 60);

	struct bu_usb_endpoint intr = { .dev = &dev, .address = 0x81, .type = BU_EP_INTERRUPT,
					.interval = 4 };
	struct bu_usb_xfer y = { .ep = &intr, .buf = data, .len = 8 };

	bu_usbmon_record(&y, BU_MON_SUBMIT, 0, 0, rec, sizeof(rec));
	ck_assert_uint_eq(rec[9], 1);
	ck_assert_uint_eq(le32(rec + 48), 8); /* 2^(4-1) microframes */
	dev.speed = BU_SPEED_FULL;
	bu_usbmon_record(&y, BU_MON_SUBMIT, 0, 0, rec, sizeof(rec));
	dev.speed = BU_SPEED_HIGH;
	ck_assert_uint_eq(le32(rec + 48), 4);
	/* a device's claim of more than it was given is cut to the buffer */
	y.actual = 4096;
	ck_assert_uint_eq(bu_usbmon_record(&y, BU_MON_COMPLETE, 0, 0, rec, sizeof(rec)), 64 + 8);
	ck_assert_uint_eq(le32(rec + 32), 8);
}
END_TEST

/* Refusals: a too-small buffer, no transfer, an unknown event. */
START_TEST(refusals)
{
	struct bu_usb_endpoint ep0 = { .dev = &dev, .type = BU_EP_CONTROL };
	struct bu_usb_xfer x = { .ep = &ep0 };
	uint8_t rec[64];

	ck_assert_uint_eq(bu_usbmon_record(&x, BU_MON_SUBMIT, 0, 0, rec, 63), 0);
	ck_assert_uint_eq(bu_usbmon_record(NULL, BU_MON_SUBMIT, 0, 0, rec, 64), 0);
	ck_assert_uint_eq(bu_usbmon_record(&x, (enum bu_usb_mon_event)'X', 0, 0, rec, 64), 0);
	ck_assert_uint_eq(bu_usbmon_record(&x, BU_MON_ERROR, BU_ENOSPC, 0, rec, 64), 64);
	ck_assert_int_eq((int32_t)le32(rec + 28), -28);
	ck_assert_uint_eq(rec[15], '='); /* no data at all */
}
END_TEST

Suite *unit_suite(void)
{
	Suite *s = suite_create("usbmon");
	TCase *tc = unit_tcase(s, "records");

	tcase_add_test(tc, control_in);
	tcase_add_test(tc, bulk_out_interrupt);
	tcase_add_test(tc, refusals);
	return s;
}
