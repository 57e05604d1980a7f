/*
 * WinUSB end to end on QEMU: programs written the way a Windows program
 * drives Winusb.dll (CreateFile, WinUsb_Initialize, QueryPipe, ReadPipe /
 * WritePipe, ControlTransfer, isochronous buffers, OVERLAPPED with events,
 * GetLastError) against QEMU's devices bound to bareusb's WinUSB. Only
 * device discovery (bu_winusb_find_by_guid, the SetupAPI analogue) is
 * bareusb's own. Selected by `winusb=<test>`:
 *
 *   storage  usb-storage through a bulk-only-transport client on Write/ReadPipe:
 *            INQUIRY, READ CAPACITY, the whole disk read (FNV-1a printed for
 *            the runner), a new pattern written over it and read back
 *   serial   usb-serial (FTDI): bytes from the runner's chardev come in through
 *            ReadPipe, are echoed with WritePipe, then a pattern follows
 *   kbd      usb-kbd: HID boot reports read from the interrupt pipe
 *   audio    usb-audio: samples written with WriteIsochPipeAsap
 *   mtp      usb-mtp: its MS OS 1.0 compatible ID, from discovery and read
 *            through WinUSB control transfers
 *   bench    read and write winusb.mib MiB of usb-storage, MB/s on the guest clock
 *
 * Bindings (the INF analogue): winusb.bind=VID:PID[:IFACE][:{GUID}][,...].
 * Output: TAP lines plus one `winusb-<test> {json}` line for the runner.
 */
#include "bareusb/winusb.h"

#include "bareusb/util.h"
#include "bareusb/winusb_drv.h"
#include "guest.h"
#include "winusb_test.h"

#define MAX_DRVS 8

static struct bu_winusb_drv *drvs[MAX_DRVS];
static unsigned n_drvs;
static struct bu_winusb_api *api;

/* The embedder's half of the WinUSB API: one instance, one thread. */
struct bu_winusb_api *bu_winusb_current(void)
{
	return api;
}

/* The device interface GUIDs the test programs look for (each program's
 * own constant, as a Windows application has one). */
static const GUID GUID_STORAGE = { 0x5C8D1F2Au, 0x3B4E, 0x4F60,
				   { 0x9A, 0x7B, 0x8C, 0x9D, 0x0E, 0x1F, 0x2A, 0x3B } };
static const GUID GUID_SERIAL = { 0x7E1A2B3Cu, 0x4D5E, 0x4F70,
				  { 0x81, 0x92, 0xA3, 0xB4, 0xC5, 0xD6, 0xE7, 0xF8 } };
static const GUID GUID_KBD = { 0x2F3E4D5Cu, 0x6B7A, 0x4899,
			       { 0xA0, 0xB1, 0xC2, 0xD3, 0xE4, 0xF5, 0x06, 0x17 } };
static const GUID GUID_AUDIO = { 0x9A8B7C6Du, 0x5E4F, 0x4A3B,
				 { 0x2C, 0x1D, 0x0E, 0xFF, 0xEE, 0xDD, 0xCC, 0xBB } };
static const GUID GUID_MTP = { 0x1B2C3D4Eu, 0x5F60, 0x4172,
			       { 0x83, 0x94, 0xA5, 0xB6, 0xC7, 0xD8, 0xE9, 0xFA } };

/* ------------------------------------------------------------------------ */
/* Set-up                                                                   */

void guest_winusb_attach(struct bu_usb_bus *bus)
{
	struct bu_winusb_drv_options opts;
	const char *b = cmdline_get("winusb.bind");
	static struct bu_winusb_inf boot_inf; /* too big for the stack */
	struct bu_winusb_drv *drv;
	size_t n_inf = 0;
	int rc;

	if (n_drvs == MAX_DRVS)
		return;
	bu_memset(&opts, 0, sizeof(opts));
	opts.depth = (uint8_t)cmdline_get_u64("winusb.hwdepth", 0);
	rc = bu_winusb_drv_create(bus, &opts, &drv);
	if (rc) {
		glog(BU_LOG_ERR, "winusb: driver on bus %u: %s", bus->index, bu_strerror(rc));
		return;
	}
	drvs[n_drvs++] = drv;
	if (guest_inf(&n_inf)) {
		/* The boot INF, as Windows would install it: bindings from its models. */
		rc = bu_winusb_drv_bind_inf(drv, guest_inf(&n_inf), n_inf, &boot_inf);
		if (rc)
			glog(BU_LOG_ERR, "winusb: boot INF line %u: %s", boot_inf.error_line,
			     boot_inf.error);
		else
			glog(BU_LOG_INFO, "winusb: boot INF: %u hardware IDs bound on bus %u",
			     boot_inf.num_models, bus->index);
	}
	while (b && *b) {
		size_t n = 0;

		while (b[n] && b[n] != ',')
			n++;
		rc = bu_winusb_drv_bind_spec(drv, b, n);
		if (rc)
			glog(BU_LOG_ERR, "winusb: bad binding '%.*s'", (int)n, b);
		b += n + (b[n] == ',');
	}
}

/* Open the first device registered under `guid` (waiting up to `ms` for it). */
static bool open_by_guid(const GUID *guid, uint32_t ms, HANDLE *file, WINUSB_INTERFACE_HANDLE *h)
{
	char path[BU_WINUSB_PATH_MAX];
	uint64_t deadline = clock_now_us() + (uint64_t)ms * 1000;

	while (!bu_winusb_find_by_guid(api, guid, 0, path, sizeof(path), NULL)) {
		if (clock_now_us() >= deadline) {
			tap(false, "winusb: a device interface for the test's GUID appears");
			return false;
		}
		Sleep(20);
	}
	tap(true, "winusb: device interface %s", path);
	*file = CreateFile(path, GENERIC_READ | GENERIC_WRITE, FILE_SHARE_READ | FILE_SHARE_WRITE,
			   NULL, OPEN_EXISTING, FILE_ATTRIBUTE_NORMAL | FILE_FLAG_OVERLAPPED, NULL);
	if (*file == INVALID_HANDLE_VALUE) {
		tap(false, "winusb: CreateFile # error %lu", (unsigned long)GetLastError());
		return false;
	}
	if (!WinUsb_Initialize(*file, h)) {
		tap(false, "winusb: WinUsb_Initialize # error %lu", (unsigned long)GetLastError());
		CloseHandle(*file);
		return false;
	}
	return true;
}

/* The first IN and OUT pipes of a type in an alternate setting. */
static bool find_pipes(WINUSB_INTERFACE_HANDLE h, UCHAR alt, USBD_PIPE_TYPE type, UCHAR *in,
		       UCHAR *out, USHORT *mps)
{
	USB_INTERFACE_DESCRIPTOR id;
	WINUSB_PIPE_INFORMATION pi;

	*in = *out = 0;
	if (!WinUsb_QueryInterfaceSettings(h, alt, &id))
		return false;
	for (UCHAR i = 0; i < id.bNumEndpoints; i++) {
		if (!WinUsb_QueryPipe(h, alt, i, &pi) || pi.PipeType != type)
			continue;
		if (USB_ENDPOINT_DIRECTION_IN(pi.PipeId) && !*in)
			*in = pi.PipeId;
		else if (USB_ENDPOINT_DIRECTION_OUT(pi.PipeId) && !*out)
			*out = pi.PipeId;
		*mps = pi.MaximumPacketSize & 0x7ff;
	}
	return true;
}

static void set_timeout(WINUSB_INTERFACE_HANDLE h, UCHAR pipe, ULONG ms)
{
	WinUsb_SetPipePolicy(h, pipe, PIPE_TRANSFER_TIMEOUT, sizeof(ms), &ms);
}

/* FNV-1a, 64 bit. */
static uint64_t fnv(uint64_t h, const UCHAR *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 0x100000001b3ull;
	return h;
}

#define FNV_INIT 0xcbf29ce484222325ull

static void *big_alloc(size_t size)
{
	return arena_alloc(size, 4096, 0);
}

/* ------------------------------------------------------------------------ */
/* Bulk-only transport over WinUSB                                          */

struct bot {
	WINUSB_INTERFACE_HANDLE h;
	UCHAR in, out;
	USHORT mps;
	ULONG tag;
	UCHAR *small;   /* one packet, for short data phases and the CSW */
	ULONG chunk;    /* data-phase transfer size */
	unsigned depth; /* transfers queued per data phase */
	OVERLAPPED ov[16];
};

/* Move `len` bytes in one direction with up to `depth` overlapped transfers. */
static BOOL bot_data(struct bot *b, BOOL in, UCHAR *buf, ULONG len, ULONG *moved)
{
	ULONG sub = 0, done = 0;
	unsigned head = 0, tail = 0;
	ULONG sizes[16];
	BOOL ok = TRUE;

	*moved = 0;
	while (done < len) {
		/* Keep the queue full. */
		while (ok && sub < len && head - tail < b->depth) {
			OVERLAPPED *ov = &b->ov[head % 16];
			ULONG n = len - sub < b->chunk ? len - sub : b->chunk;
			BOOL r;

			r = in ? WinUsb_ReadPipe(b->h, b->in, buf + sub, n, NULL, ov)
			       : WinUsb_WritePipe(b->h, b->out, buf + sub, n, NULL, ov);
			if (!r && GetLastError() != ERROR_IO_PENDING) {
				ok = FALSE;
				break;
			}
			sizes[head % 16] = n;
			sub += n;
			head++;
		}
		if (head == tail)
			break;
		{
			OVERLAPPED *ov = &b->ov[tail % 16];
			DWORD n = 0;

			if (!WinUsb_GetOverlappedResult(b->h, ov, &n, TRUE))
				ok = FALSE;
			done += n;
			if (n < sizes[tail % 16] && ok) {
				/* A short transfer ends the data phase. */
				tail++;
				while (tail != head) {
					WinUsb_GetOverlappedResult(b->h, &b->ov[tail % 16], &n, TRUE);
					tail++;
				}
				break;
			}
			tail++;
		}
	}
	while (tail != head) {
		DWORD n;

		WinUsb_GetOverlappedResult(b->h, &b->ov[tail % 16], &n, TRUE);
		tail++;
	}
	*moved = done;
	return ok;
}

/* One SCSI command: CBW, data phase, CSW. Returns the CSW status or -1. */
static int bot_cmd(struct bot *b, const UCHAR *cdb, UCHAR cdb_len, BOOL in, UCHAR *data,
		   ULONG len, ULONG *got)
{
	UCHAR cbw[31];
	ULONG n = 0, moved = 0;
	UCHAR *csw = b->small;

	bu_memset(cbw, 0, sizeof(cbw));
	cbw[0] = 'U';
	cbw[1] = 'S';
	cbw[2] = 'B';
	cbw[3] = 'C';
	b->tag++;
	bu_memcpy(cbw + 4, &b->tag, 4);
	bu_memcpy(cbw + 8, &len, 4);
	cbw[12] = in ? 0x80 : 0;
	cbw[14] = cdb_len;
	bu_memcpy(cbw + 15, cdb, cdb_len);
	if (!WinUsb_WritePipe(b->h, b->out, cbw, sizeof(cbw), &n, NULL) || n != sizeof(cbw))
		return -1;
	if (len) {
		BOOL ok;

		if (in && len < b->mps) {
			/* A short data phase: read one packet (RAW_IO wants whole ones). */
			ok = WinUsb_ReadPipe(b->h, b->in, b->small, b->mps, &moved, NULL);
			if (ok)
				bu_memcpy(data, b->small, moved < len ? moved : len);
		} else {
			ok = bot_data(b, in, data, len, &moved);
		}
		if (!ok && GetLastError() == ERROR_GEN_FAILURE)
			WinUsb_ResetPipe(b->h, in ? b->in : b->out); /* BOT §6.7.2: STALL, then CSW */
	}
	if (got)
		*got = moved;
	if (!WinUsb_ReadPipe(b->h, b->in, csw, b->mps, &n, NULL) || n != 13 ||
	    csw[0] != 'U' || csw[1] != 'S' || csw[2] != 'B' || csw[3] != 'S' ||
	    bu_memcmp(csw + 4, &b->tag, 4) != 0)
		return -1;
	return csw[12];
}

static void cdb_rw10(UCHAR *cdb, UCHAR op, uint32_t lba, uint16_t blocks)
{
	bu_memset(cdb, 0, 10);
	cdb[0] = op;
	cdb[2] = (UCHAR)(lba >> 24);
	cdb[3] = (UCHAR)(lba >> 16);
	cdb[4] = (UCHAR)(lba >> 8);
	cdb[5] = (UCHAR)lba;
	cdb[7] = (UCHAR)(blocks >> 8);
	cdb[8] = (UCHAR)blocks;
}

/* Byte i of block `lba` of the pattern the test writes (tests/qemu/winusb.py knows it). */
static UCHAR pattern(uint32_t lba, uint32_t i)
{
	return (UCHAR)(lba * 7u + i * 13u + (lba >> 8) + (i >> 8) + 0x5au);
}

struct disk {
	struct bot b;
	HANDLE file;
	uint32_t blocks, block_size;
	UCHAR speed;
	ULONG max_xfer;
};

/* Open the storage function, set its pipes up and read its size. */
static bool disk_open(struct disk *d, uint32_t wait_ms)
{
	UCHAR inq[6] = { 0x12, 0, 0, 0, 36, 0 }, tur[6] = { 0 }, sense[6] = { 0x03, 0, 0, 0, 18, 0 };
	UCHAR cap[10] = { 0x25 }, one = 1, buf[64];
	ULONG len, got;
	int st = -1;

	bu_memset(d, 0, sizeof(*d));
	if (!open_by_guid(&GUID_STORAGE, wait_ms, &d->file, &d->b.h))
		return false;
	find_pipes(d->b.h, 0, UsbdPipeTypeBulk, &d->b.in, &d->b.out, &d->b.mps);
	tap(d->b.in && d->b.out, "winusb-storage: bulk pipes 0x%02x and 0x%02x, %u bytes",
	    d->b.in, d->b.out, d->b.mps);
	len = 1;
	WinUsb_QueryDeviceInformation(d->b.h, DEVICE_SPEED, &len, &d->speed);
	len = sizeof(d->max_xfer);
	WinUsb_GetPipePolicy(d->b.h, d->b.in, MAXIMUM_TRANSFER_SIZE, &len, &d->max_xfer);
	set_timeout(d->b.h, d->b.in, 20000);
	set_timeout(d->b.h, d->b.out, 20000);
	/* Several reads in the controller at once: RAW_IO (whole packets only). */
	WinUsb_SetPipePolicy(d->b.h, d->b.in, RAW_IO, sizeof(one), &one);
	d->b.small = big_alloc(4096);
	d->b.chunk = d->max_xfer;
	d->b.depth = 4;
	st = bot_cmd(&d->b, inq, 6, TRUE, buf, 36, &got);
	tap(st == 0 && got == 36 && (buf[0] & 0x1f) == 0, "winusb-storage: INQUIRY '%.8s' '%.16s'",
	    (const char *)buf + 8, (const char *)buf + 16);
	/* A fresh medium reports UNIT ATTENTION first: TEST UNIT READY until
	 * it is quiet, REQUEST SENSE after each complaint. */
	st = -1;
	for (int i = 0; i < 5 && st != 0; i++) {
		st = bot_cmd(&d->b, tur, 6, FALSE, NULL, 0, NULL);
		if (st != 0)
			bot_cmd(&d->b, sense, 6, TRUE, buf, 18, NULL);
	}
	for (int i = 0; i < 3; i++) {
		st = bot_cmd(&d->b, cap, 10, TRUE, buf, 8, &got);
		if (st == 0)
			break;
		bot_cmd(&d->b, sense, 6, TRUE, buf, 18, NULL);
	}
	d->blocks = ((uint32_t)buf[0] << 24 | (uint32_t)buf[1] << 16 | (uint32_t)buf[2] << 8 |
		     buf[3]) + 1;
	d->block_size = (uint32_t)buf[4] << 24 | (uint32_t)buf[5] << 16 | (uint32_t)buf[6] << 8 |
			buf[7];
	return tap(st == 0 && got == 8 && d->block_size == 512,
		   "winusb-storage: READ CAPACITY %u blocks of %u bytes", d->blocks,
		   d->block_size);
}

static void disk_close(struct disk *d)
{
	arena_free(d->b.small, 4096);
	WinUsb_Free(d->b.h);
	CloseHandle(d->file);
}

/* Read or write `blocks` from `lba` in commands of `cmd_blocks`. */
static bool disk_rw(struct disk *d, bool write, uint32_t lba, uint32_t blocks, UCHAR *buf,
		    uint32_t cmd_blocks)
{
	while (blocks) {
		uint32_t n = blocks < cmd_blocks ? blocks : cmd_blocks;
		UCHAR cdb[10];
		ULONG got = 0;
		int st;

		cdb_rw10(cdb, write ? 0x2a : 0x28, lba, (uint16_t)n);
		st = bot_cmd(&d->b, cdb, 10, !write, buf, n * d->block_size, &got);
		if (st != 0 || got != n * d->block_size) {
			kprintf("# winusb-storage: %s at %u: status %d, %lu bytes, error %lu\n",
				write ? "WRITE(10)" : "READ(10)", lba, st, (unsigned long)got,
				(unsigned long)GetLastError());
			return false;
		}
		lba += n;
		blocks -= n;
		buf += n * d->block_size;
	}
	return true;
}

static void test_storage(void)
{
	struct disk d;
	const uint32_t cmd = 2048; /* 1 MiB per command */
	UCHAR *buf;
	uint64_t h = FNV_INIT, t0, t_read, t_write;
	uint32_t bad = 0;
	bool ok = true;

	if (!disk_open(&d, 60000))
		return;
	buf = big_alloc((size_t)cmd * 512);
	if (!buf) {
		tap(false, "winusb-storage: buffer");
		return;
	}
	/* The whole disk as it is (the runner filled it). */
	t0 = clock_now_us();
	for (uint32_t lba = 0; lba < d.blocks && ok; lba += cmd) {
		uint32_t n = d.blocks - lba < cmd ? d.blocks - lba : cmd;

		ok = disk_rw(&d, false, lba, n, buf, cmd);
		h = fnv(h, buf, (size_t)n * 512);
	}
	t_read = clock_now_us() - t0;
	tap(ok, "winusb-storage: READ(10) of the whole disk");
	/* A new pattern over all of it, then read back. */
	t0 = clock_now_us();
	for (uint32_t lba = 0; lba < d.blocks && ok; lba += cmd) {
		uint32_t n = d.blocks - lba < cmd ? d.blocks - lba : cmd;

		for (uint32_t k = 0; k < n; k++)
			for (uint32_t i = 0; i < 512; i++)
				buf[k * 512 + i] = pattern(lba + k, i);
		ok = disk_rw(&d, true, lba, n, buf, cmd);
	}
	t_write = clock_now_us() - t0;
	tap(ok, "winusb-storage: WRITE(10) of the whole disk");
	for (uint32_t lba = 0; lba < d.blocks && ok; lba += cmd) {
		uint32_t n = d.blocks - lba < cmd ? d.blocks - lba : cmd;

		ok = disk_rw(&d, false, lba, n, buf, cmd);
		for (uint32_t k = 0; k < n && ok; k++)
			for (uint32_t i = 0; i < 512; i++)
				bad += buf[k * 512 + i] != pattern(lba + k, i);
	}
	tap(ok && bad == 0, "winusb-storage: the pattern reads back (%u bytes differ)", bad);
	kprintf("winusb-storage {\"blocks\":%u,\"block_size\":%u,\"read_fnv\":\"%016llx\","
		"\"read_us\":%llu,\"write_us\":%llu,\"speed\":%u,\"max_transfer\":%lu}\n",
		d.blocks, d.block_size, (unsigned long long)h, (unsigned long long)t_read,
		(unsigned long long)t_write, d.speed, (unsigned long)d.max_xfer);
	arena_free(buf, (size_t)cmd * 512);
	disk_close(&d);
}

/* `bench`: MB/s of READ(10)/WRITE(10) through WinUSB on the guest clock. */
static void test_bench(void)
{
	struct disk d;
	uint64_t mib = cmdline_get_u64("winusb.mib", 64);
	uint32_t cmd_kib = (uint32_t)cmdline_get_u64("winusb.cmd_kib", 16384);
	uint32_t chunk_kib = (uint32_t)cmdline_get_u64("winusb.chunk_kib", 0);
	uint32_t depth = (uint32_t)cmdline_get_u64("winusb.depth", 4);
	uint32_t cmd, total;
	UCHAR *buf;

	if (!disk_open(&d, 30000))
		return;
	if (chunk_kib)
		d.b.chunk = chunk_kib << 10;
	if (d.b.chunk > d.max_xfer)
		d.b.chunk = d.max_xfer;
	d.b.depth = depth < 1 ? 1 : depth > 16 ? 16 : depth;
	cmd = cmd_kib * 2;
	if (cmd > 65535)
		cmd = 65535 - 65535 % 2048;
	total = (uint32_t)(mib << 11);
	if (total > d.blocks)
		total = d.blocks;
	buf = big_alloc((size_t)cmd * 512);
	if (!buf) {
		tap(false, "winusb-bench: buffer of %u KiB", cmd / 2);
		return;
	}
	for (int pass = 0; pass < 2; pass++) {
		bool write = pass == 1;
		uint64_t t0 = clock_now_us(), us;
		bool ok = true;

		for (uint32_t lba = 0; lba < total && ok; lba += cmd) {
			uint32_t n = total - lba < cmd ? total - lba : cmd;

			ok = disk_rw(&d, write, lba, n, buf, cmd);
		}
		us = clock_now_us() - t0;
		tap(ok, "winusb-bench: %s %u MiB", write ? "write" : "read", total >> 11);
		kprintf("winusb-bench {\"op\":\"%s\",\"bytes\":%llu,\"us\":%llu,\"mbps\":%llu,"
			"\"command_kib\":%u,\"transfer_kib\":%lu,\"queue_depth\":%u,"
			"\"raw_io\":%s}\n",
			write ? "write" : "read", (unsigned long long)total * 512,
			(unsigned long long)us,
			(unsigned long long)(us ? (uint64_t)total * 512 / us : 0), cmd / 2,
			(unsigned long)(d.b.chunk >> 10), d.b.depth, write ? "false" : "true");
	}
	arena_free(buf, (size_t)cmd * 512);
	disk_close(&d);
}

/* ------------------------------------------------------------------------ */
/* usb-serial                                                               */

static void test_serial(void)
{
	HANDLE file;
	WINUSB_INTERFACE_HANDLE h;
	UCHAR in = 0, out = 0, pkt[64];
	USHORT mps = 64;
	uint32_t want = (uint32_t)cmdline_get_u64("winusb.n", 1000), have = 0;
	uint32_t extra = (uint32_t)cmdline_get_u64("winusb.m", 1024);
	UCHAR *rx = big_alloc(want + 64), *tx = big_alloc(extra + 1);
	ULONG n = 0;
	bool ok;

	if (!open_by_guid(&GUID_SERIAL, 10000, &file, &h))
		return;
	find_pipes(h, 0, UsbdPipeTypeBulk, &in, &out, &mps);
	tap(in && out && rx && tx, "winusb-serial: bulk pipes 0x%02x and 0x%02x", in, out);
	set_timeout(h, in, 30000);
	kprintf("winusb-serial: ready for %u bytes\n", want);
	/* The FTDI protocol: every IN packet starts with two modem-status bytes. */
	ok = true;
	while (have < want && ok) {
		ok = WinUsb_ReadPipe(h, in, pkt, sizeof(pkt), &n, NULL);
		if (ok && n > 2) {
			ULONG k = n - 2 < want - have ? n - 2 : want - have;

			bu_memcpy(rx + have, pkt + 2, k);
			have += k;
		}
	}
	tap(ok && have == want, "winusb-serial: %u bytes from the chardev through ReadPipe # %lu",
	    have, ok ? 0ul : (unsigned long)GetLastError());
	ok = WinUsb_WritePipe(h, out, rx, have, &n, NULL) && n == have;
	for (uint32_t i = 0; i < extra; i++)
		tx[i] = (UCHAR)(i * 5u + 3u);
	ok = ok && WinUsb_WritePipe(h, out, tx, extra, &n, NULL) && n == extra;
	tap(ok, "winusb-serial: echo and %u pattern bytes written with WritePipe", extra);
	kprintf("winusb-serial {\"received\":%u,\"fnv\":\"%016llx\",\"echoed\":%u,\"pattern\":%u}\n",
		have, (unsigned long long)fnv(FNV_INIT, rx, have), have, extra);
	WinUsb_Free(h);
	CloseHandle(file);
}

/* ------------------------------------------------------------------------ */
/* usb-kbd                                                                  */

static void test_kbd(void)
{
	HANDLE file;
	WINUSB_INTERFACE_HANDLE h;
	UCHAR in = 0, out = 0, rep[8], prev[8] = { 0 }, keys[64];
	USHORT mps = 8;
	uint32_t want = (uint32_t)cmdline_get_u64("winusb.keys", 5), got = 0;
	ULONG n;
	bool ok = true;
	char line[200];
	struct bu_strbuf sb;

	if (!open_by_guid(&GUID_KBD, 10000, &file, &h))
		return;
	find_pipes(h, 0, UsbdPipeTypeInterrupt, &in, &out, &mps);
	tap(in != 0, "winusb-kbd: interrupt pipe 0x%02x, %u bytes", in, mps);
	set_timeout(h, in, 30000);
	if (want > sizeof(keys))
		want = sizeof(keys);
	kprintf("winusb-kbd: ready for %u keys\n", want);
	while (got < want && ok) {
		ok = WinUsb_ReadPipe(h, in, rep, sizeof(rep), &n, NULL);
		if (!ok || n < 3)
			continue;
		kprintf("# winusb-kbd report %02x %02x %02x %02x %02x %02x %02x %02x\n", rep[0],
			rep[1], rep[2], rep[3], rep[4], rep[5], rep[6], rep[7]);
		/* A key is pressed when it appears in a report and was not in the last. */
		for (int i = 2; i < 8 && got < want; i++) {
			bool was = false;

			if (rep[i] < 4)
				continue;
			for (int k = 2; k < 8; k++)
				was |= prev[k] == rep[i];
			if (!was)
				keys[got++] = rep[i];
		}
		bu_memcpy(prev, rep, sizeof(prev));
	}
	tap(ok && got == want, "winusb-kbd: %u key presses read as HID reports # %lu", got,
	    ok ? 0ul : (unsigned long)GetLastError());
	/* Wait for the last key to be let go, so the typist is done. */
	set_timeout(h, in, 2000);
	for (int i = 0; i < 8 && ok && (prev[2] || prev[3]); i++)
		if (WinUsb_ReadPipe(h, in, prev, sizeof(prev), &n, NULL) && n >= 3)
			kprintf("# winusb-kbd report %02x %02x %02x ...\n", prev[0], prev[1], prev[2]);
	bu_strbuf_init(&sb, line, sizeof(line));
	bu_strbuf_printf(&sb, "winusb-kbd {\"usages\":[");
	for (uint32_t i = 0; i < got; i++)
		bu_strbuf_printf(&sb, "%s%u", i ? "," : "", keys[i]);
	bu_strbuf_printf(&sb, "]}");
	kprintf("%s\n", line);
	WinUsb_Free(h);
	CloseHandle(file);
}

/* ------------------------------------------------------------------------ */
/* usb-audio                                                                */

/* Frame n of the test signal: left counts up, right is its complement. */
static void audio_frame(uint32_t n, UCHAR *p)
{
	uint16_t l = (uint16_t)(0x1000u + n), r = (uint16_t)~l;

	p[0] = (UCHAR)l;
	p[1] = (UCHAR)(l >> 8);
	p[2] = (UCHAR)r;
	p[3] = (UCHAR)(r >> 8);
}

static void test_audio(void)
{
	HANDLE file;
	WINUSB_INTERFACE_HANDLE ac, as = NULL;
	WINUSB_PIPE_INFORMATION_EX px;
	WINUSB_ISOCH_BUFFER_HANDLE ib = NULL;
	OVERLAPPED ov[4];
	uint32_t ms = (uint32_t)cmdline_get_u64("winusb.ms", 1000);
	const ULONG per_xfer = 32; /* ms per transfer */
	ULONG bytes, total, sent = 0, done = 0, fails = 0, xfers = 0, slot, len, nx;
	unsigned head = 0, tail = 0;
	UCHAR vol[2] = { 0x00, 0x08 }, mute = 0, *buf;
	ULONG n;
	bool ok;

	if (!open_by_guid(&GUID_AUDIO, 10000, &file, &ac))
		return;
	/* The streaming interface follows the control interface. */
	ok = WinUsb_GetAssociatedInterface(ac, 0, &as);
	tap(ok, "winusb-audio: streaming interface from GetAssociatedInterface");
	/* Feature unit 2 on interface 0: unmute, volume at the top (+8 dB here
	 * maps to unity gain in QEMU's mixer), so samples pass unchanged. */
	for (USHORT ch = 1; ch <= 2 && ok; ch++) {
		WINUSB_SETUP_PACKET sp = { 0x21, 0x01, (USHORT)(0x0200 | ch), 0x0200, 2 };

		ok = WinUsb_ControlTransfer(ac, sp, vol, 2, &n, NULL);
	}
	if (ok) {
		WINUSB_SETUP_PACKET sp = { 0x21, 0x01, 0x0100, 0x0200, 1 };

		ok = WinUsb_ControlTransfer(ac, sp, &mute, 1, &n, NULL);
	}
	tap(ok, "winusb-audio: volume and mute set with ControlTransfer # %lu",
	    ok ? 0ul : (unsigned long)GetLastError());
	ok = ok && WinUsb_SetCurrentAlternateSetting(as, 1) && WinUsb_QueryPipeEx(as, 1, 0, &px);
	tap(ok && px.PipeType == UsbdPipeTypeIsochronous && !(px.PipeId & 0x80),
	    "winusb-audio: alternate setting 1, isochronous OUT 0x%02x, %lu bytes per interval",
	    ok ? px.PipeId : 0, ok ? (unsigned long)px.MaximumBytesPerInterval : 0ul);
	if (!ok)
		goto out;
	/* One 8 KiB slot of the registered buffer per 32 ms transfer, so no
	 * packet straddles a 64 KiB boundary (a packet split there needs two
	 * TRBs, and the controller driver's multi-TRB isochronous TDs do not
	 * complete on QEMU yet). */
	slot = 8192;
	len = per_xfer * px.MaximumBytesPerInterval;
	nx = (ms + per_xfer - 1) / per_xfer;
	bytes = nx * slot;
	buf = big_alloc(bytes);
	for (uint32_t f = 0; f < ms * px.MaximumBytesPerInterval / 4; f++)
		audio_frame(f, buf + (f * 4 / len) * slot + (f * 4) % len);
	ok = WinUsb_RegisterIsochBuffer(as, px.PipeId, buf, bytes, &ib);
	tap(ok, "winusb-audio: RegisterIsochBuffer of %lu bytes", (unsigned long)bytes);
	for (int i = 0; i < 4; i++) {
		bu_memset(&ov[i], 0, sizeof(ov[i]));
		ov[i].hEvent = CreateEvent(NULL, TRUE, FALSE, NULL);
	}
	/* Three transfers in flight, each continuing the stream. */
	total = ms * px.MaximumBytesPerInterval;
	while (ok && (sent < total || head != tail)) {
		while (sent < total && head - tail < 3) {
			ULONG n_now = len < total - sent ? len : total - sent;
			BOOL r;

			r = WinUsb_WriteIsochPipeAsap(ib, xfers * slot, n_now, xfers > 0,
						      &ov[head % 4]);
			if (!r && GetLastError() != ERROR_IO_PENDING) {
				/* Could not continue the stream: start a new one. */
				r = WinUsb_WriteIsochPipeAsap(ib, xfers * slot, n_now, FALSE,
							      &ov[head % 4]);
				if (!r && GetLastError() != ERROR_IO_PENDING) {
					ok = false;
					break;
				}
			}
			xfers++;
			sent += n_now;
			head++;
		}
		if (head != tail) {
			DWORD got;

			WaitForSingleObject(ov[tail % 4].hEvent, INFINITE);
			if (!WinUsb_GetOverlappedResult(as, &ov[tail % 4], &got, TRUE))
				fails++;
			else
				done++;
			tail++;
		}
	}
	/* A transfer with a packet the controller reports late (missed service)
	 * completes with ERROR_GEN_FAILURE, as on Windows; whether the samples
	 * arrived is the runner's check on the WAV file. */
	tap(ok, "winusb-audio: %lu isochronous transfers written (%lu with late packets)",
	    (unsigned long)xfers, (unsigned long)fails);
	kprintf("winusb-audio {\"frames\":%lu,\"first_left\":%u,\"ms\":%u,\"transfers\":%lu,"
		"\"late\":%lu}\n",
		(unsigned long)(total / 4), 0x1000u, ms, (unsigned long)done,
		(unsigned long)fails);
	for (int i = 0; i < 4; i++)
		CloseHandle(ov[i].hEvent);
	tap(WinUsb_UnregisterIsochBuffer(ib), "winusb-audio: UnregisterIsochBuffer");
	WinUsb_SetCurrentAlternateSetting(as, 0);
	arena_free(buf, bytes);
out:
	if (as)
		WinUsb_Free(as);
	WinUsb_Free(ac);
	CloseHandle(file);
}

/* ------------------------------------------------------------------------ */
/* usb-mtp                                                                  */

static void test_mtp(void)
{
	HANDLE file;
	WINUSB_INTERFACE_HANDLE h;
	struct bu_winusb_devinfo info;
	char path[BU_WINUSB_PATH_MAX];
	UCHAR os[18], hdr[16], *full;
	char compat[9] = "";
	ULONG n = 0;
	bool ok;

	if (!open_by_guid(&GUID_MTP, 10000, &file, &h))
		return;
	/* What discovery learnt from the MS OS 1.0 descriptors at enumeration. */
	ok = bu_winusb_find_by_guid(api, &GUID_MTP, 0, path, sizeof(path), NULL) &&
	     bu_winusb_device_info(api, path, &info);
	tap(ok && !bu_strcmp(info.compat_id, "MTP"), "winusb-mtp: compatible ID '%s' from discovery",
	    ok ? info.compat_id : "?");
	/* And read again through WinUSB, as a Windows tool reads it: the OS
	 * string at index 0xEE, then the Extended Compat ID ("Microsoft OS 1.0
	 * Descriptors Specification"). */
	ok = WinUsb_GetDescriptor(h, USB_STRING_DESCRIPTOR_TYPE, 0xEE, 0, os, sizeof(os), &n) &&
	     n >= 18 && os[2] == 'M' && os[4] == 'S' && os[6] == 'F' && os[8] == 'T';
	tap(ok, "winusb-mtp: OS string descriptor 0xEE 'MSFT100', vendor code 0x%02x",
	    ok ? os[16] : 0);
	if (ok) {
		WINUSB_SETUP_PACKET sp = { 0xc0, os[16], 0, 4, sizeof(hdr) };
		ULONG total;

		ok = WinUsb_ControlTransfer(h, sp, hdr, sizeof(hdr), &n, NULL) && n == 16;
		total = ok ? (ULONG)hdr[0] | (ULONG)hdr[1] << 8 : 0;
		if (ok && total >= 40 && total <= 4096) {
			full = big_alloc(total);
			sp.Length = (USHORT)total;
			ok = WinUsb_ControlTransfer(h, sp, full, total, &n, NULL) && n >= 40;
			if (ok) {
				bu_memcpy(compat, full + 18, 8);
				compat[8] = 0;
			}
			arena_free(full, total);
		}
	}
	tap(ok && !bu_strcmp(compat, "MTP"),
	    "winusb-mtp: Extended Compat ID read with ControlTransfer: '%s'", compat);
	kprintf("winusb-mtp {\"compat_id\":\"%s\",\"discovery\":\"%s\",\"vendor_code\":%u}\n",
		compat, info.compat_id, os[16]);
	WinUsb_Free(h);
	CloseHandle(file);
}

/* ------------------------------------------------------------------------ */
/* Entry                                                                    */

void guest_winusb_run(void)
{
	const char *mode = cmdline_get("winusb");
	size_t before = guest_obj_in_use();
	struct bu_winusb_transport tp;
	int rc;

	if (!mode || !n_drvs) {
		tap(false, "winusb: a test and a driver part (winusb=<test>)");
		return;
	}
	rc = bu_winusb_api_create(&guest_platform, &api);
	if (rc) {
		tap(false, "winusb: API instance # %s", bu_strerror(rc));
		return;
	}
	for (unsigned i = 0; i < n_drvs; i++) {
		bu_winusb_drv_transport(drvs[i], &tp);
		bu_winusb_api_attach(api, &tp);
	}
	if (!bu_strcmp(mode, "storage"))
		test_storage();
	else if (!bu_strcmp(mode, "bench"))
		test_bench();
	else if (!bu_strcmp(mode, "serial"))
		test_serial();
	else if (!bu_strcmp(mode, "kbd"))
		test_kbd();
	else if (!bu_strcmp(mode, "audio"))
		test_audio();
	else if (!bu_strcmp(mode, "mtp"))
		test_mtp();
	else
		tap(false, "winusb: unknown test '%s'", mode);
	bu_winusb_api_destroy(api);
	api = NULL;
	kprintf("# winusb: done (objects %zu bytes before, %zu after)\n", before,
		guest_obj_in_use());
	kprintf("winusb: done\n");
}
