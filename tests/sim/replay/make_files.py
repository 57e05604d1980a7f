#!/usr/bin/env python3
"""Write the replay test files: each is what Linux's sysfs `descriptors`
file holds for the device (Documentation/ABI/stable/sysfs-bus-usb): the
18-byte device descriptor, then each configuration's wTotalLength bytes.
Run from this directory; the .bin files are committed next to it.

- qemu-usb-kbd-fs.bin / -hs.bin: QEMU's usb-kbd (hw/usb/dev-hid.c) at full
  and high speed, as QEMU presents it on qemu-xhci (the same bytes as
  sim/devices/qemu_kbd.c; tests/sim/qemu-usb-kbd.usbdev has the usbdev
  lines QEMU gave for it). Strings in qemu-usb-kbd.strings.
- qemu-usb-storage-ss.bin: QEMU's usb-storage (hw/usb/dev-storage.c) at
  SuperSpeed: bulk 0x81/0x02 of 1024 bytes with bMaxBurst 15 companions,
  self-powered, bMaxPower 0 (tests/qemu/*.json have QEMU's usbdev line).
- qemu-usb-hub-fs.bin: QEMU's usb-hub (hw/usb/dev-hub.c), full speed
  only, 8 ports (its sysfs `maxchild`): bcdUSB 1.10, bMaxPacketSize0 8,
  self-powered with remote wakeup, the status-change endpoint 0x81 of 2
  bytes polled every 255 ms. Strings in qemu-usb-hub.strings.
- composite-iad.bin: a full-speed composite laid out as the Arduino
  Leonardo's (Arduino AVR core USBCore.cpp, CDC.cpp, HID.cpp): an IAD over
  a CDC-ACM function (interfaces 0-1), then a HID interface 2.
"""


def le16(v):
    return [v & 0xff, v >> 8]


def device(bcd, cls, sub, proto, mps0, vid, pid, bcddev, imf, ipr, isn, ncfg):
    return [18, 1] + le16(bcd) + [cls, sub, proto, mps0] + le16(vid) + le16(pid) + \
        le16(bcddev) + [imf, ipr, isn, ncfg]


def config(value, icfg, attr, maxpower, nintf, body):
    return [9, 2] + le16(9 + len(body)) + [nintf, value, icfg, attr, maxpower] + body


def intf(num, alt, neps, cls, sub, proto, istr=0):
    return [9, 4, num, alt, neps, cls, sub, proto, istr]


def ep(addr, attr, mps, interval):
    return [7, 5, addr, attr] + le16(mps) + [interval]


def hid(report_len):
    return [9, 0x21] + le16(0x0111) + [0, 1, 0x22] + le16(report_len)


def write(name, data):
    with open(name, 'wb') as f:
        f.write(bytes(data))


# QEMU usb-kbd: bcdUSB 2.00 at both speeds, report descriptor 63 bytes.
for speed, mps0, interval in (('fs', 8, 10), ('hs', 64, 7)):
    write('qemu-usb-kbd-%s.bin' % speed,
          device(0x0200, 0, 0, 0, mps0, 0x0627, 0x0001, 0, 1, 4, 11, 1) +
          config(1, 8, 0xa0, 50, 1, intf(0, 0, 1, 3, 1, 1) + hid(63) +
                 ep(0x81, 3, 8, interval)))

# QEMU usb-storage at SuperSpeed.
write('qemu-usb-storage-ss.bin',
      device(0x0300, 0, 0, 0, 9, 0x46f4, 0x0001, 0, 1, 2, 3, 1) +
      config(1, 6, 0xc0, 0, 1, intf(0, 0, 2, 8, 6, 0x50) +
             ep(0x81, 2, 1024, 0) + [6, 0x30, 15, 0] + le16(0) +
             ep(0x02, 2, 1024, 0) + [6, 0x30, 15, 0] + le16(0)))

# QEMU usb-hub: full speed only, bcdUSB 1.10.
write('qemu-usb-hub-fs.bin',
      device(0x0110, 9, 0, 0, 8, 0x0409, 0x55aa, 0x0101, 1, 2, 3, 1) +
      config(1, 0, 0xe0, 0, 1, intf(0, 0, 1, 9, 0, 0) + ep(0x81, 3, 2, 255)))

# Composite: IAD + CDC-ACM (comm with header, call management, ACM and
# union functional descriptors; data with two bulk endpoints) + HID.
write('composite-iad.bin',
      device(0x0200, 0xef, 0x02, 0x01, 64, 0x2341, 0x8036, 0x0100, 1, 2, 3, 1) +
      config(1, 0, 0xa0, 250, 3,
             [8, 0x0b, 0, 2, 2, 2, 1, 0] +
             intf(0, 0, 1, 2, 2, 0) +
             [5, 0x24, 0x00] + le16(0x0110) +
             [5, 0x24, 0x01, 1, 1] +
             [4, 0x24, 0x02, 6] +
             [5, 0x24, 0x06, 0, 1] +
             ep(0x81, 3, 16, 64) +
             intf(1, 0, 2, 0x0a, 0, 0) +
             ep(0x02, 2, 64, 0) + ep(0x83, 2, 64, 0) +
             intf(2, 0, 1, 3, 0, 0) + hid(101) + ep(0x84, 3, 64, 1)))
