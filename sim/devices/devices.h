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
 * WinUSB vendor device with MS OS 2.0 descriptors (FS, HS, SS): interface 0
 * alt 0 bulk loopback 0x01 -> 0x81 and interrupt IN 0x82; alt 1 adds
 * isochronous OUT 0x03 and isochronous IN 0x83.
 */
extern const struct sim_device_model sim_dev_winusb;
/** The same device described with MS OS 1.0 descriptors (FS, HS). */
extern const struct sim_device_model sim_dev_winusb_os1;
/** Bytes received on the isochronous OUT endpoint so far. */
uint32_t sim_winusb_iso_out_bytes(struct sim_device *dev);

/** Mass storage, bulk-only transport, 256 KiB RAM disk (FS, HS, SS). */
extern const struct sim_device_model sim_dev_msc;
/** The RAM disk contents (512-byte blocks). */
uint8_t *sim_msc_disk(struct sim_device *dev, uint32_t *blocks);

/** Composite device with an IAD (CDC-ACM-like pair) plus a HID keyboard (FS, HS). */
extern const struct sim_device_model sim_dev_composite;

/** USB 2.0 hub, 4 ports: HS with a single TT, or FS. */
extern const struct sim_device_model sim_dev_hub2;
/** USB 2.0 hub, 7 ports, HS with multiple TTs (alt 1). */
extern const struct sim_device_model sim_dev_hub2_mtt;
/** USB 3 (SuperSpeed) hub, 4 ports. */
extern const struct sim_device_model sim_dev_hub3;

#endif
