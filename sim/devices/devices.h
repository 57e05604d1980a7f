/*
 * The sim's device models (one declarative file each) and the few helpers
 * tests use to make them do something.
 */
#ifndef SIM_DEVICES_H
#define SIM_DEVICES_H

#include "sim.h"

/** HID boot keyboard (LS, FS, HS): EP 0x81 interrupt IN, 8-byte reports. */
extern const struct sim_device_model sim_dev_hid_kbd;
/** Queue a key press + release (usage ID) on a keyboard device. */
void sim_kbd_type(struct sim_device *dev, uint8_t usage);
/** Last LED output report the host set (SET_REPORT). */
uint8_t sim_kbd_leds(struct sim_device *dev);

/**
 * WinUSB vendor device with MS OS 2.0 descriptors (FS, HS, SS), VID:PID
 * 1209:b010, bcdUSB 2.10 (3.20 at SS). BOS: USB 2.0 extension, SuperSpeed
 * capability, MS OS 2.0 platform capability (vendor code
 * SIM_WINUSB_MSOS2_VENDOR) whose 162-byte set holds compatible ID "WINUSB"
 * and DeviceInterfaceGUIDs = { SIM_WINUSB_GUID }.
 * Interface 0 (class ff/00/00): alt 0 has bulk OUT 0x01 looped back to bulk
 * IN 0x81 (packet ends kept: a short OUT packet or ZLP ends the IN transfer
 * at the same byte) and interrupt IN 0x82 (8-byte reports: LE32 sequence
 * number, then a5 5a a5 5a, always ready); alt 1 adds isochronous OUT 0x03
 * (bytes counted) and isochronous IN 0x83 (full packets, byte i of packet n
 * is (n + i) & 0xff). Vendor requests: 0x40/SIM_WINUSB_REQ_WRITE stores up
 * to 256 data bytes, 0xc0/SIM_WINUSB_REQ_READ returns them.
 * Max packet sizes: bulk 64/512/1024 (SS burst 4), interrupt 64, isoch 256.
 */
extern const struct sim_device_model sim_dev_winusb;
/** The same device with MS OS 1.0 descriptors (FS, HS; PID b011, bcdUSB 2.00):
 * string 0xEE "MSFT100" with vendor code SIM_WINUSB_MSOS1_VENDOR, Extended
 * Compat ID "WINUSB", Extended Properties DeviceInterfaceGUID (REG_SZ). */
extern const struct sim_device_model sim_dev_winusb_os1;
#define SIM_WINUSB_GUID "{6A1D3C9E-5B2F-4E8A-9C71-0D3E5F7A9B21}"
#define SIM_WINUSB_MSOS2_VENDOR 0x20
#define SIM_WINUSB_MSOS1_VENDOR 0x21
#define SIM_WINUSB_REQ_WRITE 0x10
#define SIM_WINUSB_REQ_READ 0x11
#define SIM_WINUSB_MSOS2_SET_LEN 162
/** Bytes received on the isochronous OUT endpoint so far. */
uint32_t sim_winusb_iso_out_bytes(struct sim_device *dev);
/** Isochronous IN packets sent so far. */
uint32_t sim_winusb_iso_in_packets(struct sim_device *dev);
/** Bytes accepted on bulk OUT / sent on bulk IN so far. */
uint64_t sim_winusb_bulk_out_bytes(struct sim_device *dev);
uint64_t sim_winusb_bulk_in_bytes(struct sim_device *dev);

/**
 * The OSR USB FX2 Learning Kit (FS, HS; VID:PID 0547:1002, bcdUSB 2.00), as
 * OSR documents the kit: configuration 1, interface 0 (class ff/00/00) with
 * interrupt IN 0x81 (a one-byte switch report: sent once after
 * SET_CONFIGURATION and again whenever the switches change, NAK between),
 * bulk OUT 0x06 looped back to bulk IN 0x88 (packet ends kept, as the
 * WinUSB test device's), wMaxPacketSize 64 at FS and 512 at HS. Vendor
 * requests (bmRequestType 0x40/0xc0, device or interface recipient, one
 * data byte): SET_BARGRAPH_DISPLAY, SET_7SEGMENT_DISPLAY (OUT);
 * READ_BARGRAPH_DISPLAY, READ_7SEGMENT_DISPLAY, READ_SWITCHES,
 * IS_HIGH_SPEED (IN). Anything else STALLs.
 */
extern const struct sim_device_model sim_dev_osrfx2;
#define SIM_FX2_INTR_MPS 64 /* report is one byte; the kit's own value is not reproduced */
#define SIM_FX2_READ_7SEGMENT_DISPLAY 0xD4
#define SIM_FX2_READ_SWITCHES 0xD6
#define SIM_FX2_READ_BARGRAPH_DISPLAY 0xD7
#define SIM_FX2_SET_BARGRAPH_DISPLAY 0xD8
#define SIM_FX2_IS_HIGH_SPEED 0xD9
#define SIM_FX2_SET_7SEGMENT_DISPLAY 0xDB
/** Flip the DIP switches: READ_SWITCHES and the next interrupt report see them. */
void sim_fx2_set_switches(struct sim_device *dev, uint8_t switches);
/** The bar graph and seven-segment bits the host last set. */
uint8_t sim_fx2_bargraph(struct sim_device *dev);
uint8_t sim_fx2_segments(struct sim_device *dev);
/** Interrupt reports sent so far. */
unsigned sim_fx2_reports(struct sim_device *dev);
/** Bytes accepted on bulk OUT 0x06 so far. */
uint64_t sim_fx2_bulk_out_bytes(struct sim_device *dev);

/**
 * Mass storage, bulk-only transport (class 08/06/50), a RAM disk of
 * SIM_MSC_BLOCKS blocks of 512 bytes (FS, HS, SS; VID:PID 1209:b020).
 * Bulk IN 0x81, bulk OUT 0x02. SCSI: TEST UNIT READY, REQUEST SENSE,
 * INQUIRY, READ CAPACITY(10), READ(10), WRITE(10), MODE SENSE(6); others
 * fail with ILLEGAL REQUEST sense. CBWs are validated (signature, length,
 * LUN, CB length, direction vs. command, state); a bad one is a violation
 * and the device STALLs both bulk endpoints until Reset Recovery (class
 * request 0xff, then CLEAR_FEATURE(HALT) on both), as BOT §5.3.4 and §6.6.1
 * say. Get Max LUN answers 0.
 */
extern const struct sim_device_model sim_dev_msc;
#define SIM_MSC_BLOCKS 512
/** The RAM disk contents (512-byte blocks). */
uint8_t *sim_msc_disk(struct sim_device *dev, uint32_t *blocks);
/** Commands completed (CSWs sent) and CSWs with status != 0. */
unsigned sim_msc_commands(struct sim_device *dev);
unsigned sim_msc_failed(struct sim_device *dev);

/**
 * Composite device (FS, HS; VID:PID 1209:b030, class ef/02/01): an IAD over
 * interfaces 0-1 as a CDC-ACM function (0: comm 02/02/01 with the CDC
 * functional descriptors and interrupt IN 0x83; 1: data 0a/00/00 with bulk
 * OUT 0x02 looped back to bulk IN 0x82), then interface 2, a HID boot
 * keyboard with interrupt IN 0x81 (NAKs until sim_kbd_type-like reports are
 * queued with sim_composite_key). CDC: SET/GET_LINE_CODING,
 * SET_CONTROL_LINE_STATE.
 */
extern const struct sim_device_model sim_dev_composite;
/** The same composite with MS OS 2.0 descriptors (PID b031, bcdUSB 2.10): a
 * function subset gives the CDC function (interfaces 0-1) compatible ID
 * "WINUSB" and DeviceInterfaceGUIDs = { SIM_WINUSB_GUID }; the keyboard
 * (interface 2) has none. */
extern const struct sim_device_model sim_dev_composite_msos;

/**
 * Vendor device with two configurations (FS, HS; VID:PID 1209:b050,
 * bcdUSB 2.00). Configuration 1 (bus powered, remote wakeup): interface 0
 * ff/00/00 with bulk OUT 0x01 looped back to bulk IN 0x81. Configuration 2
 * (self powered): interface 0 ff/01/00 with bulk OUT 0x02 looped back to
 * bulk IN 0x82, interface 1 ff/02/00 with isochronous IN 0x83 (128 bytes,
 * byte i of packet n is (n + i) & 0xff), which answers SYNCH_FRAME with the
 * next frame number that is a multiple of 8.
 */
extern const struct sim_device_model sim_dev_dualcfg;
/** The frame number the last SYNCH_FRAME was answered with. */
uint16_t sim_dualcfg_synch_frame(struct sim_device *dev);
/**
 * A function that wakes the host (HS, SS; VID:PID 1209:b060, bcdUSB 2.10,
 * 3.20 at SS): configuration 1 advertises remote wakeup; interface 0
 * (ff/00/00) has bulk OUT 0x01 looped back to bulk IN 0x81 and interrupt
 * IN 0x82 (8 bytes), which NAKs until sim_fwake_event queues an event. At
 * SS its GET_STATUS(interface) says Function Remote Wake Capable and
 * whether FUNCTION_SUSPEND enabled it (USB 3.2 §9.4.5).
 */
extern const struct sim_device_model sim_dev_fwake;
/**
 * Something happened on the function: `data` (up to 8 bytes) becomes its
 * next interrupt IN report, and, while suspended, it asks for a remote
 * wakeup (sim_remote_wake: only when enabled, after 5 ms of suspend; at SS
 * the Function Wake notification follows the link's return to U0).
 * Returns what sim_remote_wake returned.
 */
bool sim_fwake_event(struct sim_device *dev, const uint8_t *data, uint8_t len);

/** Queue a key press + release on the composite's keyboard. */
void sim_composite_key(struct sim_device *dev, uint8_t usage);
/** The CDC control line state (DTR bit 0, RTS bit 1) last set. */
uint16_t sim_composite_line_state(struct sim_device *dev);

/**
 * USB 2.0 hub, 4 ports (VID:PID 1209:b040): at HS a single-TT hub
 * (bDeviceProtocol 1), at FS a plain hub (protocol 0). Ports switched and
 * over-current protected per port; TT think time 8 FS bit times.
 */
extern const struct sim_device_model sim_dev_hub2;
/**
 * USB 2.0 hub, 7 ports, HS only (VID:PID 1209:b041): multiple TTs
 * (bDeviceProtocol 2; interface alt 0 is single-TT, protocol 1, alt 1
 * multi-TT, protocol 2; USB 2.0 §11.23.1). TT think time 16 FS bit times.
 */
extern const struct sim_device_model sim_dev_hub2_mtt;
/** USB 3 (SuperSpeed) hub, 4 ports (VID:PID 1209:b042): hub descriptor 0x2A,
 * SET_HUB_DEPTH required before any route through it works. */
extern const struct sim_device_model sim_dev_hub3;

/**
 * QEMU's usb-kbd with its exact descriptors (FS, HS; VID:PID 0627:0001,
 * "QEMU" / "QEMU USB Keyboard" / serial "68284-" + SIM_QEMU_KBD_SERIAL_TAIL).
 * The usbdev lines it gives are compared with ones QEMU gave.
 */
extern const struct sim_device_model sim_dev_qemu_kbd;
#define SIM_QEMU_KBD_SERIAL_TAIL "sim"

/**
 * Every model declared above, NULL-terminated (sim/devices/models.c), for
 * tests that check something of all of them (each has a VID:PID of its
 * own). A new model goes into the list too; tests/sim/test_devices.c fails
 * when the list and the declarations here differ in number.
 */
extern const struct sim_device_model *const sim_device_models[];

/**
 * Hostile device (sim/devices/hostile.c): a model whose every answer comes
 * from a byte description, for the adversarial campaign and the fuzzer.
 *
 * Description: a 4-byte header, then records `tag, LE16 length, payload`
 * (a cut-off last record keeps the bytes that are there):
 *   header[0]  bits 1:0 speed (0 low, 1 full, 2 high, 3 super),
 *              SIM_HOSTILE_H_HUB: attach it behind a hub,
 *              SIM_HOSTILE_H_GOOD: the generator made it well-formed
 *   header[1]  bits 1:0 data endpoints: 0 NAK, 1 one byte, 2 full packets, 3 STALL
 *   header[2-3] LE16: unplug this many ms after attach (0 = never)
 *   1 DEVICE    the device descriptor as sent
 *   2 CONFIG    a configuration as sent (wTotalLength too); up to 4
 *   3 STRING    index byte, then string descriptor bytes as sent (index 0:
 *               the LANGID table; 0xEE: the MS OS string; others 1..15)
 *   4 BOS       the BOS as sent
 *   5 MSOS2     vendor code, then the MS OS 2.0 descriptor set
 *   6 MSOS1     vendor code, wIndex (4 or 5), then that feature descriptor
 *   7 HUB       kind (bit 0: SuperSpeed hub), bNbrPorts claimed (the first
 *               15 exist), LE16 wHubCharacteristics, then optionally the
 *               hub descriptor as sent (else one for the claimed ports)
 *   8 REQ_FAULT bmRequestType, bRequest, LE16 wValue, flags (bit 0: any
 *               wValue), kind (STALL, NAK, babble, transaction error), count (0 = always)
 *   9 SHORT     descriptor type, index, LE16 length: answers cut to it
 *  10 EP_FAULT  endpoint, kind (enum sim_fault_kind - 1), count, LE16 arg
 *  11 CHILD     hub port, then a nested description (two levels at most)
 */
struct sim_hostile;
#define SIM_HOSTILE_MAX_LEN 65536u
#define SIM_HOSTILE_H_HUB 0x04
#define SIM_HOSTILE_H_GOOD 0x08

/** What the generator may do; each can be left out of a campaign. */
enum sim_hostile_feature {
	SIM_HF_BAD_HEADER = 1u << 0,  /**< wrong bLength / bDescriptorType, counts that lie */
	SIM_HF_TOTAL_LIE = 1u << 1,   /**< wTotalLength larger or smaller than what is sent */
	SIM_HF_MANY_IFACES = 1u << 2, /**< hundreds of interfaces */
	SIM_HF_DUP_EP = 1u << 3,      /**< duplicate endpoint addresses, wMaxPacketSize 0 */
	SIM_HF_CTRL_EP = 1u << 4,     /**< control-type endpoints in a configuration */
	SIM_HF_INTERVAL = 1u << 5,    /**< bInterval 0 / 255 */
	SIM_HF_BAD_STRING = 1u << 6,  /**< odd lengths, lone surrogates, bad LANGID tables */
	SIM_HF_HUB_PORTS = 1u << 7,   /**< hubs claiming 0 or 16..31 ports, the wrong hub kind */
	SIM_HF_HUB_WIDE = 1u << 8,    /**< hubs claiming 32..255 ports */
	SIM_HF_NESTED_HUB = 1u << 9,  /**< hostile devices (hubs too) below a hostile hub */
	SIM_HF_REQ_FAULT = 1u << 10,  /**< STALL / NAK forever / babble / short answers (standard, MS OS) */
	SIM_HF_EP_FAULT = 1u << 11,   /**< endpoint faults, unplug in a control transfer */
	SIM_HF_DETACH = 1u << 12,     /**< unplug at a time in enumeration */
	SIM_HF_MULTI_HUB_IF = 1u << 13, /**< several hub-class interfaces */
	SIM_HF_MULTI_WINUSB = 1u << 14, /**< several "WINUSB" compatible-ID functions */
	SIM_HF_ISO_ZERO = 1u << 15,   /**< isochronous wMaxPacketSize 0 (in alt 0 too) */
	SIM_HF_BAD_MPS = 1u << 16,    /**< max packet sizes illegal for the speed (EP0 too) */
	SIM_HF_SS_COMP_ZERO = 1u << 17, /**< companions with wBytesPerInterval 0, bad or missing */
	SIM_HF_SSP_ISO = 1u << 18,    /**< SSP isochronous companions */
	SIM_HF_BAD_MSOS = 1u << 19,   /**< corrupt MS OS 1.0 / 2.0 descriptors */
	SIM_HF_HUB_REQ_FAULT = 1u << 20, /**< hub class requests STALL / NAK / babble */
	SIM_HF_ALL = (1u << 21) - 1,
};
/** Name of feature bit `bit` ("total-lie", ...), NULL past the last. */
const char *sim_hostile_feature_name(unsigned bit);

/** A hostile device from a description (any bytes; at most SIM_HOSTILE_MAX_LEN used). */
struct sim_hostile *sim_hostile_from_bytes(const uint8_t *data, size_t len);
/** Write the description seed `seed` gives (features limited to `features`);
 * returns its length; *used (if not NULL) gets the features it used. */
size_t sim_hostile_generate(uint64_t seed, uint32_t features, uint8_t *buf, size_t cap,
			    uint32_t *used);
/** sim_hostile_from_bytes of what sim_hostile_generate writes. */
struct sim_hostile *sim_hostile_from_seed(uint64_t seed, uint32_t features);
/** The model to attach (valid until sim_hostile_free). */
const struct sim_device_model *sim_hostile_model(const struct sim_hostile *h);
enum sim_speed sim_hostile_speed(const struct sim_hostile *h);
bool sim_hostile_behind_hub(const struct sim_hostile *h);
bool sim_hostile_well_formed(const struct sim_hostile *h);
uint32_t sim_hostile_detach_ms(const struct sim_hostile *h);
/**
 * After sim_attach / sim_attach_hub with sim_hostile_model(h): install the
 * descriptor hook and the faults, and attach the devices described below
 * it (a hub). Call once per attach.
 */
void sim_hostile_arm(struct sim_hostile *h, struct sim_device *dev);
/** The armed device, NULL once it was unplugged (by sim_detach or a fault). */
struct sim_device *sim_hostile_device(const struct sim_hostile *h);
/** Free it (and its children); their devices must be unplugged first. */
void sim_hostile_free(struct sim_hostile *h);

/**
 * Device replay (sim/devices/replay.c): a device that answers with the
 * descriptors of a Linux sysfs `descriptors` file (Documentation/ABI/
 * stable/sysfs-bus-usb): the 18-byte device descriptor, then each
 * configuration's wTotalLength bytes. GET_DESCRIPTOR gets the file's bytes
 * unchanged (a configuration Linux kept shorter than its wTotalLength is
 * sent short again); strings only when a list was given (else every
 * string request STALLs); BOS only when one was given. Interrupt and bulk
 * IN endpoints NAK, isochronous IN sends zero-length packets, OUT accepts
 * everything, class and vendor requests STALL. A hub (bDeviceClass 9) is
 * the exception: the sim's hub function answers for it (sim/sim_hub.c:
 * hub descriptor, port status, an empty port behind every port), USB 3 at
 * super speed, with the port count of sim_replay_set_hub_ports.
 */
struct sim_replay;
#define SIM_REPLAY_MAX_CONFIGS 8 /* Linux's USB_MAXCONFIG */
#define SIM_REPLAY_MAX_LEN (18u + SIM_REPLAY_MAX_CONFIGS * 65535u)
/**
 * Parse a descriptors file image (copied). NULL on a malformed one, with
 * the reason in err (n bytes; may be NULL).
 */
struct sim_replay *sim_replay_from_bytes(const uint8_t *data, size_t len, char *err, size_t n);
/** Strings from `INDEX TEXT` lines (UTF-8, index 1..255, `#` comments); -1 and err on a bad line. */
int sim_replay_strings(struct sim_replay *r, const char *text, size_t len, char *err, size_t n);
/** String `index` (1..255) is `text` (UTF-8); 0 or -1. */
int sim_replay_set_string(struct sim_replay *r, unsigned index, const char *text);
/** A BOS to answer with (Linux's `bos_descriptors` file); -1 and err if it is not one. */
int sim_replay_set_bos(struct sim_replay *r, const uint8_t *data, size_t len, char *err, size_t n);
/** A replayed hub's downstream port count, 1..15 (default 4); -1 and err otherwise. */
int sim_replay_set_hub_ports(struct sim_replay *r, unsigned ports, char *err, size_t n);
/** The port count a replayed hub gets: the one set, or the default. */
unsigned sim_replay_hub_ports(const struct sim_replay *r);
/** Whether the descriptors are a hub's (bDeviceClass 9, USB 2.0 §11.23.1). */
bool sim_replay_is_hub(const struct sim_replay *r);
/** The model for `speed` (valid until sim_replay_free; one speed at a time). */
const struct sim_device_model *sim_replay_model(struct sim_replay *r, enum sim_speed speed);
/** After sim_attach / sim_attach_hub with sim_replay_model(r): install the answers. */
void sim_replay_arm(struct sim_replay *r, struct sim_device *dev);
/** The speed the descriptors suggest: super for bcdUSB >= 3.00 with
 * bMaxPacketSize0 9; high for endpoints only high speed allows (and no
 * bulk endpoint below 512), or, without endpoints that tell, for
 * bMaxPacketSize0 64 with bcdUSB >= 2.00; else full. */
enum sim_speed sim_replay_guess_speed(const struct sim_replay *r);
/** How many things the parser accepted but warned about; *text (if not
 * NULL) gets the i-th warning (the first 4 are kept), NULL past them. */
unsigned sim_replay_warnings(const struct sim_replay *r, unsigned i, const char **text);
/** Free it; the device must be unplugged first. */
void sim_replay_free(struct sim_replay *r);

#endif
