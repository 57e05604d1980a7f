/*
 * usbmon records: a transfer's submission or completion in the binary
 * layout Linux's usbmon gives through its mmap interface, 64 bytes of
 * header and then the data (Linux Documentation/usb/usbmon.rst, "Raw
 * binary format and API"). pcap files of link type 220
 * (LINKTYPE_USB_LINUX_MMAPPED) hold exactly these records, so a record
 * written here opens in Wireshark and tshark with their USB dissectors.
 *
 * bareusb's URBs are its transfers: a record's id is the transfer's
 * address, which pairs a completion with its submission.
 */
#include "bareusb/ch9.h"
#include "bareusb/errors.h"
#include "bareusb/usb.h"
#include "bareusb/util.h"

/* Linux errno values, as usbmon reports a URB's status. */
#define LNX_ENOENT	2
#define LNX_EIO		5
#define LNX_ENOMEM	12
#define LNX_EFAULT	14
#define LNX_EBUSY	16
#define LNX_EXDEV	18
#define LNX_ENODEV	19
#define LNX_EINVAL	22
#define LNX_ENOSPC	28
#define LNX_EPIPE	32
#define LNX_ERANGE	34
#define LNX_EPROTO	71
#define LNX_EOVERFLOW	75
#define LNX_EOPNOTSUPP	95
#define LNX_ECONNRESET	104
#define LNX_ESHUTDOWN	108
#define LNX_ETIMEDOUT	110
#define LNX_EINPROGRESS 115

/** The (negative) Linux status a URB would carry for a bareusb result. */
static int32_t linux_status(int err)
{
	switch (err) {
	case 0: return 0;
	case BU_ESTALL: return -LNX_EPIPE;
	case BU_ENODEV: return -LNX_ENODEV;
	case BU_ESHUTDOWN: return -LNX_ESHUTDOWN;
	case BU_ETIMEDOUT: return -LNX_ETIMEDOUT;
	case BU_EPROTO: return -LNX_EPROTO;
	case BU_EBABBLE: /* Linux reports babble as overflow */
	case BU_EOVERFLOW: return -LNX_EOVERFLOW;
	case BU_ECANCELED: return -LNX_ECONNRESET; /* an unlink */
	case BU_EMISSED: return -LNX_EXDEV;
	case BU_ENOMEM: return -LNX_ENOMEM;
	case BU_EINVAL: return -LNX_EINVAL;
	case BU_ENOSPC: return -LNX_ENOSPC;
	case BU_EFAULT: return -LNX_EFAULT;
	case BU_EBUSY: return -LNX_EBUSY;
	case BU_ENOTSUP: return -LNX_EOPNOTSUPP;
	case BU_ENOENT: return -LNX_ENOENT;
	case BU_ERANGE: return -LNX_ERANGE;
	default: return -LNX_EIO;
	}
}

static void put64(uint8_t *p, uint64_t v)
{
	bu_put_le32(p, (uint32_t)v);
	bu_put_le32(p + 4, (uint32_t)(v >> 32));
}

size_t bu_usbmon_record(const struct bu_usb_xfer *x, enum bu_usb_mon_event ev, int status,
			uint64_t t_us, uint8_t *buf, size_t size)
{
	static const uint8_t xfer_type[] = { [BU_EP_CONTROL] = 2, [BU_EP_ISOCH] = 0,
					     [BU_EP_BULK] = 3, [BU_EP_INTERRUPT] = 1 };
	const struct bu_usb_endpoint *ep;
	bool control, in, setup = false;
	size_t length, cap = 0;
	uint32_t usec;
	uint8_t flag_data;

	if (!x || !x->ep || !x->ep->dev || !buf || size < BU_USBMON_HDR_LEN ||
	    (ev != BU_MON_SUBMIT && ev != BU_MON_COMPLETE && ev != BU_MON_ERROR))
		return 0;
	ep = x->ep;
	control = ep->type == BU_EP_CONTROL;
	in = control ? (x->setup[0] & USB_DIR_IN) != 0 : (ep->address & USB_DIR_IN) != 0;
	/* A submission carries the buffer's size, a completion what moved. */
	length = ev == BU_MON_COMPLETE ? (x->actual <= x->len ? x->actual : x->len) : x->len;
	if (ev == BU_MON_SUBMIT && control)
		setup = true;
	if (length == 0)
		flag_data = '=';
	else if ((ev == BU_MON_SUBMIT && !in) || (ev == BU_MON_COMPLETE && in))
		flag_data = 0; /* captured below */
	else
		flag_data = ev == BU_MON_SUBMIT ? '<' : '>';
	if (flag_data == 0 && x->buf)
		cap = length <= size - BU_USBMON_HDR_LEN ? length : size - BU_USBMON_HDR_LEN;
	else if (flag_data == 0)
		flag_data = '>'; /* no buffer to show */

	bu_memset(buf, 0, BU_USBMON_HDR_LEN);
	put64(buf + 0, (uint64_t)(uintptr_t)x);
	buf[8] = (uint8_t)ev;
	buf[9] = xfer_type[ep->type & 3];
	buf[10] = (uint8_t)((ep->address & 0x0f) | (in ? USB_DIR_IN : 0));
	buf[11] = ep->dev->address;
	bu_put_le16(buf + 12, (uint16_t)(ep->dev->bus ? ep->dev->bus->index + 1 : 1));
	buf[14] = setup ? 0 : '-';
	buf[15] = flag_data;
	put64(buf + 16, bu_div64_u32(t_us, 1000000u, &usec));
	bu_put_le32(buf + 24, usec);
	bu_put_le32(buf + 28, (uint32_t)(ev == BU_MON_SUBMIT ? -LNX_EINPROGRESS : linux_status(status)));
	bu_put_le32(buf + 32, (uint32_t)length);
	bu_put_le32(buf + 36, (uint32_t)cap);
	if (setup)
		bu_memcpy(buf + 40, x->setup, 8);
	/* The URB's interval: frames at full and low speed, microframes
	 * (2^(bInterval-1)) above and for every isochronous endpoint. */
	if (ep->type == BU_EP_INTERRUPT && ep->dev->speed < BU_SPEED_HIGH)
		bu_put_le32(buf + 48, ep->interval);
	else if (ep->type == BU_EP_INTERRUPT || ep->type == BU_EP_ISOCH)
		bu_put_le32(buf + 48, 1u << (ep->interval >= 1 && ep->interval <= 16 ? ep->interval - 1 : 0));
	if (cap)
		bu_memcpy(buf + BU_USBMON_HDR_LEN, x->buf, cap);
	return BU_USBMON_HDR_LEN + cap;
}
