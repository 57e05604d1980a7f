/*
 * Mass storage, bulk-only transport (USB MSC BOT 1.0), SCSI transparent
 * command set, on a RAM disk; full, high and SuperSpeed. The device checks
 * what a real one must (BOT §6.2.1 valid and §6.2.2 meaningful CBWs, the
 * CBW -> data -> CSW order, the thirteen host/device cases of §6.7) and
 * reacts as the spec says: an invalid CBW STALLs both bulk endpoints until
 * Reset Recovery; a data phase shorter than the host's ends with a short
 * packet or a STALL, and the CSW carries the residue.
 */
#include "model_common.h"

/* ------------------------------------------------------------------------ */
/* Descriptors                                                              */

#define VID 0x1209
#define PID 0xb020
#define EP_IN 0x81
#define EP_OUT 0x02

static const uint8_t dev_fs[] = { SIM_D_DEVICE(0x0200, 0, 0, 0, 64, VID, PID, 0x0100, 1, 2, 3, 1) };
static const uint8_t dev_hs[] = { SIM_D_DEVICE(0x0200, 0, 0, 0, 64, VID, PID, 0x0100, 1, 2, 3, 1) };
static const uint8_t dev_ss[] = { SIM_D_DEVICE(0x0300, 0, 0, 0, 9, VID, PID, 0x0100, 1, 2, 3, 1) };
static const uint8_t qual_fs[] = { SIM_D_QUALIFIER(0x0200, 0, 0, 0, 64, 1) };
static const uint8_t qual_hs[] = { SIM_D_QUALIFIER(0x0200, 0, 0, 0, 64, 1) };

#define MSC_CONFIG(hdr, bulk)                                                  \
	hdr(1, 1, 0, 0x80, 50),                                                \
	SIM_D_INTERFACE(0, 0, 2, USB_CLASS_MASS_STORAGE, 0x06, 0x50, 0),       \
	SIM_D_ENDPOINT(EP_IN, SIM_EP_BULK, bulk, 0),                           \
	SIM_D_ENDPOINT(EP_OUT, SIM_EP_BULK, bulk, 0)

static const uint8_t cfg_fs[] = { MSC_CONFIG(SIM_D_CONFIG, 64) };
static const uint8_t cfg_hs[] = { MSC_CONFIG(SIM_D_CONFIG, 512) };
static const uint8_t osp_fs[] = { MSC_CONFIG(SIM_D_OTHER_SPEED, 512) };
static const uint8_t osp_hs[] = { MSC_CONFIG(SIM_D_OTHER_SPEED, 64) };
static const uint8_t cfg_ss[] = {
	SIM_D_CONFIG(1, 1, 0, 0x80, 12),
	SIM_D_INTERFACE(0, 0, 2, USB_CLASS_MASS_STORAGE, 0x06, 0x50, 0),
	SIM_D_ENDPOINT(EP_IN, SIM_EP_BULK, 1024, 0), SIM_D_SS_COMP(3, 0, 0),
	SIM_D_ENDPOINT(EP_OUT, SIM_EP_BULK, 1024, 0), SIM_D_SS_COMP(3, 0, 0),
};
static const uint8_t bos[] = {
	SIM_D_BOS(2),
	SIM_D_USB2_EXT(0),
	SIM_D_SS_CAP(0, 0x000e, 1, 0x0a, 0x07ff),
};

/* ------------------------------------------------------------------------ */
/* Bulk-only transport                                                      */

#define CBW_SIG 0x43425355u /* "USBC" */
#define CSW_SIG 0x53425355u /* "USBS" */

enum { ST_CBW, ST_DATA_IN, ST_DATA_OUT, ST_CSW };

struct msc {
	uint8_t disk[SIM_MSC_BLOCKS * 512];
	int state;
	bool need_reset;     /* invalid CBW: both pipes STALL until Reset Recovery */
	uint32_t tag;
	uint32_t host_len;   /* dCBWDataTransferLength */
	uint32_t dev_len;    /* bytes the device moves in the data phase */
	uint32_t done;
	uint8_t *data;       /* IN source / OUT destination */
	uint8_t resp[64];
	uint8_t status;      /* bCSWStatus */
	uint8_t sense_key, asc;
	unsigned commands, failed;
};

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];
}

uint8_t *sim_msc_disk(struct sim_device *dev, uint32_t *blocks)
{
	struct msc *m = sim_device_priv(dev);

	if (blocks)
		*blocks = SIM_MSC_BLOCKS;
	return m->disk;
}

unsigned sim_msc_commands(struct sim_device *dev)
{
	return ((struct msc *)sim_device_priv(dev))->commands;
}

unsigned sim_msc_failed(struct sim_device *dev)
{
	return ((struct msc *)sim_device_priv(dev))->failed;
}

static void msc_sense(struct msc *m, uint8_t key, uint8_t asc)
{
	m->status = 1; /* Command Failed */
	m->sense_key = key;
	m->asc = asc;
}

/* Decode a SCSI command: what the device wants to move, and where. */
static void msc_command(struct msc *m, const uint8_t *cb, bool *in, bool *out)
{
	uint32_t lba, count;

	*in = *out = false;
	m->status = 0;
	m->dev_len = 0;
	m->data = m->resp;
	switch (cb[0]) {
	case 0x00: /* TEST UNIT READY */
	case 0x1e: /* PREVENT ALLOW MEDIUM REMOVAL */
	case 0x1b: /* START STOP UNIT */
	case 0x35: /* SYNCHRONIZE CACHE(10) */
		break;
	case 0x03: /* REQUEST SENSE: fixed format, 18 bytes */
		memset(m->resp, 0, 18);
		m->resp[0] = 0x70;
		m->resp[2] = m->sense_key;
		m->resp[7] = 10;
		m->resp[12] = m->asc;
		m->dev_len = cb[4] < 18 ? cb[4] : 18;
		m->sense_key = m->asc = 0;
		*in = true;
		return;
	case 0x12: { /* INQUIRY: standard data, 36 bytes */
		static const uint8_t inq[36] = { 0x00, 0x80, 0x04, 0x02, 31, 0, 0, 0,
						 'b', 'a', 'r', 'e', 'u', 's', 'b', ' ',
						 'S', 'i', 'm', ' ', 'R', 'A', 'M', ' ',
						 'D', 'i', 's', 'k', ' ', ' ', ' ', ' ',
						 '1', '.', '0', '0' };
		uint16_t alloc = (uint16_t)(cb[3] << 8 | cb[4]);
		if (cb[1] & 1) { /* EVPD pages: not supported */
			msc_sense(m, 0x05, 0x24);
			return;
		}
		memcpy(m->resp, inq, sizeof(inq));
		m->dev_len = alloc < 36 ? alloc : 36;
		*in = true;
		return;
	}
	case 0x1a: /* MODE SENSE(6): header only, not write protected */
		memset(m->resp, 0, 4);
		m->resp[0] = 3;
		m->dev_len = cb[4] < 4 ? cb[4] : 4;
		*in = true;
		return;
	case 0x25: /* READ CAPACITY(10) */
		m->resp[0] = (uint8_t)((SIM_MSC_BLOCKS - 1) >> 24);
		m->resp[1] = (uint8_t)((SIM_MSC_BLOCKS - 1) >> 16);
		m->resp[2] = (uint8_t)((SIM_MSC_BLOCKS - 1) >> 8);
		m->resp[3] = (uint8_t)(SIM_MSC_BLOCKS - 1);
		m->resp[4] = 0;
		m->resp[5] = 0;
		m->resp[6] = 2;
		m->resp[7] = 0;
		m->dev_len = 8;
		*in = true;
		return;
	case 0x28: /* READ(10) */
	case 0x2a: /* WRITE(10) */
		lba = be32(cb + 2);
		count = (uint32_t)(cb[7] << 8 | cb[8]);
		if (lba > SIM_MSC_BLOCKS || count > SIM_MSC_BLOCKS - lba) {
			msc_sense(m, 0x05, 0x21); /* LBA out of range */
			return;
		}
		m->data = m->disk + (size_t)lba * 512;
		m->dev_len = count * 512;
		*in = cb[0] == 0x28;
		*out = cb[0] == 0x2a;
		return;
	default:
		msc_sense(m, 0x05, 0x20); /* invalid command operation code */
		return;
	}
}

/* A CBW arrived (BOT §6.2): validate it and start the command. */
static int msc_cbw(struct sim_device *dev, struct msc *m, const uint8_t *p, uint16_t len)
{
	bool din, dout, hin;
	const char *bad = NULL;

	if (len != 31)
		bad = "CBW is not 31 bytes";
	else if (le32(p) != CBW_SIG)
		bad = "CBW signature is not USBC";
	else if (p[12] & 0x7f)
		bad = "bmCBWFlags reserved bits set";
	else if (p[13] != 0)
		bad = "bCBWLUN beyond Get Max LUN (0)";
	else if (p[14] < 1 || p[14] > 16)
		bad = "bCBWCBLength outside 1..16";
	if (bad) {
		sim_device_violation(dev, "invalid CBW (%s, %u bytes): STALL until Reset Recovery (BOT §6.6.1)",
				     bad, len);
		m->need_reset = true;
		return SIM_STALL;
	}
	m->tag = le32(p + 4);
	m->host_len = le32(p + 8);
	hin = p[12] & 0x80;
	m->done = 0;
	msc_command(m, p + 15, &din, &dout);
	if (m->dev_len > m->host_len) {
		/* cases 7 and 13: the host asked for less than the command moves */
		sim_device_violation(dev, "SCSI %#04x moves %u bytes but dCBWDataTransferLength is %u (BOT §6.7 case %d)",
				     p[15], m->dev_len, m->host_len, din ? 7 : 13);
		m->dev_len = m->host_len;
		m->status = 2;
	}
	if (m->host_len && m->dev_len && ((hin && dout) || (!hin && din))) {
		/* cases 8 and 10: directions disagree */
		sim_device_violation(dev, "SCSI %#04x is %s but the CBW says %s (BOT §6.7 case %d)",
				     p[15], din ? "IN" : "OUT", hin ? "IN" : "OUT", hin ? 8 : 10);
		m->dev_len = 0;
		m->status = 2;
	}
	if (!m->host_len && m->dev_len) {
		/* cases 2 and 3 */
		sim_device_violation(dev, "SCSI %#04x moves data but the CBW has none (BOT §6.7 case %d)",
				     p[15], din ? 2 : 3);
		m->dev_len = 0;
		m->status = 2;
	}
	if (!m->host_len)
		m->state = ST_CSW;
	else
		m->state = hin ? ST_DATA_IN : ST_DATA_OUT;
	return SIM_ACK;
}

static void msc_csw(struct msc *m, uint8_t *buf)
{
	uint32_t residue = m->host_len - m->done;

	buf[0] = (uint8_t)CSW_SIG;
	buf[1] = (uint8_t)(CSW_SIG >> 8);
	buf[2] = (uint8_t)(CSW_SIG >> 16);
	buf[3] = (uint8_t)(CSW_SIG >> 24);
	buf[4] = (uint8_t)m->tag;
	buf[5] = (uint8_t)(m->tag >> 8);
	buf[6] = (uint8_t)(m->tag >> 16);
	buf[7] = (uint8_t)(m->tag >> 24);
	buf[8] = (uint8_t)residue;
	buf[9] = (uint8_t)(residue >> 8);
	buf[10] = (uint8_t)(residue >> 16);
	buf[11] = (uint8_t)(residue >> 24);
	buf[12] = m->status;
	m->commands++;
	if (m->status)
		m->failed++;
	m->state = ST_CBW;
}

static int msc_in(struct sim_device *dev, uint8_t ep, uint8_t *buf, uint16_t max)
{
	struct msc *m = sim_device_priv(dev);
	uint32_t n;

	if (ep != EP_IN || m->need_reset)
		return SIM_STALL;
	switch (m->state) {
	case ST_DATA_IN:
		if (m->done >= m->dev_len) {
			/* Hi > Di after full packets: STALL ends the data phase (§6.7.2) */
			m->state = ST_CSW;
			return SIM_STALL;
		}
		n = m->dev_len - m->done < max ? m->dev_len - m->done : max;
		memcpy(buf, m->data + m->done, n);
		m->done += n;
		if (m->done >= m->dev_len && (m->done == m->host_len || n < max))
			m->state = ST_CSW;
		return (int)n;
	case ST_CSW:
		if (max < 13) {
			sim_device_violation(dev, "CSW read with a %u-byte packet", max);
			return SIM_STALL;
		}
		msc_csw(m, buf);
		return 13;
	default:
		return SIM_NAK; /* nothing to send */
	}
}

static int msc_out(struct sim_device *dev, uint8_t ep, const uint8_t *buf, uint16_t len)
{
	struct msc *m = sim_device_priv(dev);

	if (ep != EP_OUT || m->need_reset)
		return SIM_STALL;
	switch (m->state) {
	case ST_CBW:
		return msc_cbw(dev, m, buf, len);
	case ST_DATA_OUT:
		if (m->done + len > m->dev_len) {
			/* Ho > Do: STALL the rest (§6.7.3) */
			m->state = ST_CSW;
			return SIM_STALL;
		}
		memcpy(m->data + m->done, buf, len);
		m->done += len;
		if (m->done == m->host_len)
			m->state = ST_CSW;
		return SIM_ACK;
	default:
		sim_device_violation(dev, "bulk OUT while the CSW of tag %#x is unread (BOT §5.3)", m->tag);
		return SIM_NAK;
	}
}

static int msc_control(struct sim_device *dev, const struct usb_setup_packet *s, uint8_t *data,
		       uint16_t *len)
{
	struct msc *m = sim_device_priv(dev);

	if (s->bmRequestType == 0x21 && s->bRequest == 0xff) { /* Bulk-Only Mass Storage Reset */
		if (s->wValue != 0 || s->wIndex != 0 || s->wLength != 0)
			return SIM_STALL;
		m->state = ST_CBW;
		m->need_reset = false;
		return SIM_ACK;
	}
	if (s->bmRequestType == 0xa1 && s->bRequest == 0xfe) { /* Get Max LUN */
		if (s->wValue != 0 || s->wIndex != 0 || s->wLength != 1)
			return SIM_STALL;
		data[0] = 0;
		*len = 1;
		return SIM_ACK;
	}
	return SIM_STALL;
}

static void msc_reset(struct sim_device *dev)
{
	struct msc *m = sim_device_priv(dev);

	m->state = ST_CBW;
	m->need_reset = false;
}

static void msc_set_config(struct sim_device *dev, uint8_t value)
{
	(void)value;
	msc_reset(dev);
}

const struct sim_device_model sim_dev_msc = {
	.name = "msc",
	.full = { .device = SIM_BLOB(dev_fs), .configs = { SIM_BLOB(cfg_fs) },
		  .qualifier = SIM_BLOB(qual_fs), .other_speed = { SIM_BLOB(osp_fs) } },
	.high = { .device = SIM_BLOB(dev_hs), .configs = { SIM_BLOB(cfg_hs) },
		  .qualifier = SIM_BLOB(qual_hs), .other_speed = { SIM_BLOB(osp_hs) } },
	.super = { .device = SIM_BLOB(dev_ss), .configs = { SIM_BLOB(cfg_ss) } },
	.langid = 0x0409,
	.strings = { [1] = "bareusb sim", [2] = "Sim RAM Disk", [3] = "MSC000000001" },
	.bos = SIM_BLOB(bos),
	.priv_size = sizeof(struct msc),
	.reset = msc_reset,
	.set_config = msc_set_config,
	.control = msc_control,
	.in = msc_in,
	.out = msc_out,
};
