"""Unplug a hub with devices behind it (runner --script, guest `watch`).

The boot has a keyboard on QEMU port 1 (path 9) that must stay. Through
QMP a full-speed hub goes on port 4 (path 12) with a keyboard, a mouse, a
storage device and a second hub (12.3) carrying a tablet and a serial
adapter. Removing the top hub must give a usbgone line for each of the
seven devices and none for the keyboard on port 1, and usbmem must come
back to what it was before the hub came (slots, devices, every byte).

Round 1 and 2 wait for the whole tree first. Round 3 pulls the hub while
the devices behind it are still in debounce, reset or enumeration: every
device that got a usbdev line must get a usbgone line, and memory must
still come back. Round 4 keeps a hub and plugs a mouse in and out behind it
(the change comes through the hub's status-change endpoint).
"""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import qmplib  # noqa: E402
from qmplib import check  # noqa: E402

# id: (driver, properties, path)
TREE = {
    'uh': ('usb-hub', {'port': '4'}, '12'),
    'uk': ('usb-kbd', {'port': '4.1'}, '12.1'),
    'um': ('usb-mouse', {'port': '4.2'}, '12.2'),
    'uh2': ('usb-hub', {'port': '4.3'}, '12.3'),
    'ut': ('usb-tablet', {'port': '4.3.1'}, '12.3.1'),
    'us': ('usb-serial', {'port': '4.3.2', 'chardev': 'hubser'}, '12.3.2'),
    'ud': ('usb-storage', {'port': '4.4', 'drive': 'hubdisk'}, '12.4'),
}
PATHS = [v[2] for v in TREE.values()]


def plug(qmp):
    for dev_id, (driver, props, _) in TREE.items():
        qmp.device_add(driver, bus='xhci.0', id=dev_id, **props)


def run(guest):
    qmp = guest.qmp
    i, base = qmplib.next_usbmem(guest, 0, 60)
    check(base['devices'] == 1 and base['slots_used'] == 1,
          'the port 1 keyboard is not alone at the start: %s' % base)
    qmp.blockdev_add_file('hubdisk', qmplib.disk_image(guest, 'hub.img'))
    qmp.execute('chardev-add', id='hubser', backend={
        'type': 'file', 'data': {'out': os.path.join(guest.tmpdir, 'hubser.out')}})

    for rnd in (1, 2):
        start = len(guest.lines)
        plug(qmp)
        devs, last = qmplib.collect(guest, 'usbdev', PATHS, start)
        check(not devs['extra'], 'round %d: unexpected usbdev %s' % (rnd, devs['extra']))
        for p in PATHS:
            check('error' not in devs[p], 'round %d: %s failed: %s' % (rnd, p, devs[p]))
        _, full = qmplib.next_usbmem(guest, last + 1)
        check(full['devices'] == 1 + len(PATHS) and full['slots_used'] == 1 + len(PATHS),
              'round %d: usbmem with the tree %s' % (rnd, full))

        start = len(guest.lines)
        qmp.device_del('uh')
        qmplib.wait_deleted(qmp, TREE)
        gone, last = qmplib.collect(guest, 'usbgone', PATHS, start)
        check(not gone['extra'], 'round %d: unexpected usbgone %s' % (rnd, gone['extra']))
        _, mem = qmplib.next_usbmem(guest, last + 1)
        check(qmplib.same_mem(mem, base), 'round %d: usbmem %s, before the hub %s' % (
            rnd, mem, base))
        print('# hub-unplug: round %d: %d devices gone with their hub, memory back' % (
            rnd, len(PATHS)), flush=True)

    # Round 3: pull the hub while its subtree is still coming up.
    start = len(guest.lines)
    plug(qmp)
    guest.wait_for(r'^usbdev \{"bus":0,"path":"12",', 20, start)
    time.sleep(0.12)  # children in debounce (100 ms) or being reset
    cut = len(guest.lines)
    qmp.device_del('uh')
    qmplib.wait_deleted(qmp, TREE)
    g, _ = guest.wait_for(r'^usbgone \{"bus":0,"path":"12"\}$', 20, cut)
    _, mem = qmplib.next_usbmem(guest, g + 1)
    added = {qmplib.parse(ln, 'usbdev')['path'] for ln in guest.lines[start:]
             if ln.startswith('usbdev {')}
    gone = {qmplib.parse(ln, 'usbgone')['path'] for ln in guest.lines[start:]
            if ln.startswith('usbgone {')}
    check(added == gone, 'round 3: configured %s but gone %s' % (sorted(added), sorted(gone)))
    check(qmplib.same_mem(mem, base), 'round 3: usbmem %s, before the hub %s' % (mem, base))
    print('# hub-unplug: round 3: hub pulled with %d of %d devices configured; memory back'
          % (len(added), len(PATHS)), flush=True)

    # Round 4: the hub stays; one device behind it comes and goes.
    start = len(guest.lines)
    qmp.device_add('usb-hub', bus='xhci.0', port='4', id='uh')
    qmp.device_add('usb-kbd', bus='xhci.0', port='4.1', id='uk')
    _, last = qmplib.collect(guest, 'usbdev', ['12', '12.1'], start)
    _, with_hub = qmplib.next_usbmem(guest, last + 1)
    for k in range(3):
        start = len(guest.lines)
        qmp.device_add('usb-mouse', bus='xhci.0', port='4.2', id='um')
        devs, _ = qmplib.collect(guest, 'usbdev', ['12.2'], start)
        check(devs['12.2']['product'] == 'QEMU USB Mouse' and not devs['extra'],
              'round 4: %s' % devs)
        qmp.device_del('um')
        qmplib.wait_deleted(qmp, ['um'])
        gone, last = qmplib.collect(guest, 'usbgone', ['12.2'], start)
        check(not gone['extra'], 'round 4: unexpected usbgone %s' % gone['extra'])
        _, mem = qmplib.next_usbmem(guest, last + 1)
        check(qmplib.same_mem(mem, with_hub), 'round 4: usbmem %s, with the hub %s' % (
            mem, with_hub))
    qmp.device_del('uh')
    qmplib.wait_deleted(qmp, ['uh', 'uk'])
    print('# hub-unplug: round 4: a device behind a staying hub plugged and '
          'unplugged 3 times', flush=True)

    bad = qmplib.problems(guest.lines)
    check(not bad, 'unexpected lines: %s' % bad[:5])
