"""Hot-plug through QMP while the image runs with `watch` (runner --script).

Adds a keyboard on a USB 2 port and a storage device on a USB 3 port,
waits for their usbdev lines, removes them again and waits for usbgone.
The runner's default controller is qemu-xhci,p2=8,p3=8: QEMU port N is
PORTSC N (USB 3) or 8+N (USB 2).
"""

import json
import os
import tempfile


def usbdev_at(guest, path, start):
    i, m = guest.wait_for(r'^usbdev (\{.*"path":"%s".*\})$' % path, 20, start)
    return i, json.loads(m.group(1))


def run(guest):
    i, _ = guest.wait_for(r'^# watching', 60)
    qmp = guest.qmp

    qmp.device_add('usb-kbd', bus='xhci.0', port='2', id='hk')
    i, dev = usbdev_at(guest, '10', i)
    assert dev['speed'] == 'high' and dev['product'] == 'QEMU USB Keyboard', dev
    assert dev.get('error') is None, dev
    qmp.device_del('hk')
    i, _ = guest.wait_for(r'^usbgone \{"bus":0,"path":"10"\}$', 20, i)

    disk = os.path.join(guest.tmpdir, 'hot.img')
    with open(disk, 'wb') as f:
        f.truncate(8 << 20)
    qmp.blockdev_add_file('hotdisk', disk)
    qmp.device_add('usb-storage', bus='xhci.0', port='3', drive='hotdisk', id='hs')
    i, dev = usbdev_at(guest, '3', i)
    assert dev['speed'] == 'super' and dev['vid'] == '46f4', dev
    qmp.device_del('hs')
    i, _ = guest.wait_for(r'^usbgone \{"bus":0,"path":"3"\}$', 20, i)

    # Same port again: a fresh enumeration after removal.
    qmp.device_add('usb-tablet', bus='xhci.0', port='2', id='ht')
    i, dev = usbdev_at(guest, '10', i)
    assert dev['product'] == 'QEMU USB Tablet', dev
    print('hotplug: all steps seen', flush=True)
