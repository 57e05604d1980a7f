"""Hot-plug loop (runner --script, guest `watch`): CYCLES attach/remove
cycles through QMP in one boot, several device kinds at once per cycle.

Each cycle adds, on the runner's qemu-xhci (p2=8, p3=8):
    usb-kbd      QEMU port 1  -> path 9       (high speed)
    usb-tablet   QEMU port 2  -> path 10      (high speed)
    usb-storage  QEMU port 3  -> path 3       (SuperSpeed, a raw image)
    usb-serial   QEMU port 5  -> path 13      (full speed, a file chardev)
    usb-hub      QEMU port 6  -> path 14, usb-mouse at 6.1 -> path 14.1
waits for a usbdev line for each (configured, right product), removes them
(the hub takes its mouse along), waits for a usbgone line for each, then
for the usbmem line the guest prints once the bus is quiet: slots in use,
devices, DMA, object and arena bytes must all be back to the values printed
when watch started. 6 enumerations a cycle also cycle the controller's 64
slots many times over, so a slot that is never released shows up as a
failed Enable Slot.

Then 20 cycles pull a keyboard and a hub with a mouse 0..285 ms after
adding them, so removal meets every stage of enumeration.

HOTPLUG_CYCLES in the environment overrides the count (default 100).
"""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import qmplib  # noqa: E402
from qmplib import check  # noqa: E402

CYCLES = int(os.environ.get('HOTPLUG_CYCLES', '100'))

# id: (driver, properties, path, product, speed)
KINDS = {
    'lkbd': ('usb-kbd', {'port': '1'}, '9', 'QEMU USB Keyboard', 'high'),
    'ltab': ('usb-tablet', {'port': '2'}, '10', 'QEMU USB Tablet', 'high'),
    'lmsd': ('usb-storage', {'port': '3', 'drive': 'loopdisk'}, '3',
             'QEMU USB HARDDRIVE', 'super'),
    'lser': ('usb-serial', {'port': '5', 'chardev': 'loopser'}, '13',
             'QEMU USB SERIAL', 'full'),
    'lhub': ('usb-hub', {'port': '6'}, '14', 'QEMU USB Hub', 'full'),
    'lmou': ('usb-mouse', {'port': '6.1'}, '14.1', 'QEMU USB Mouse', 'full'),
}
TOP = [k for k in KINDS if k != 'lmou']  # device_del targets (the hub takes lmou)


def run(guest):
    qmp = guest.qmp
    i, base = qmplib.next_usbmem(guest, 0, 60)
    guest.wait_for(r'^# watching', 10, i)
    qmp.blockdev_add_file('loopdisk', qmplib.disk_image(guest, 'loop.img'))
    qmp.execute('chardev-add', id='loopser', backend={
        'type': 'file', 'data': {'out': os.path.join(guest.tmpdir, 'loopser.out')}})
    paths = {v[2]: k for k, v in KINDS.items()}
    slots = set()
    t0 = time.monotonic()
    for cycle in range(CYCLES):
        start = len(guest.lines)
        for dev_id, (driver, props, _, _, _) in KINDS.items():
            qmp.device_add(driver, bus='xhci.0', id=dev_id, **props)
        devs, i = qmplib.collect(guest, 'usbdev', paths, start)
        check(not devs['extra'], 'cycle %d: unexpected usbdev %s' % (cycle, devs['extra']))
        for path, dev_id in paths.items():
            d = devs[path]
            _, _, _, product, speed = KINDS[dev_id]
            check('error' not in d, 'cycle %d: %s failed: %s' % (cycle, path, d.get('error')))
            check(d['product'] == product and d['speed'] == speed,
                  'cycle %d: path %s is %s/%s' % (cycle, path, d['product'], d['speed']))
            slots.add(d['slot'])
        hub_ifs = devs['14']['configs'][0]['interfaces']
        check(hub_ifs[0]['driver'] == 'hub', 'cycle %d: hub driver %r' % (cycle, hub_ifs))

        start = len(guest.lines)
        for dev_id in TOP:
            qmp.device_del(dev_id)
        qmplib.wait_deleted(qmp, KINDS)
        gone, last = qmplib.collect(guest, 'usbgone', paths, start)
        check(not gone['extra'], 'cycle %d: unexpected usbgone %s' % (cycle, gone['extra']))
        _, mem = qmplib.next_usbmem(guest, last + 1)
        check(qmplib.same_mem(mem, base),
              'cycle %d: usbmem %s, at start %s' % (cycle, mem, base))
        if cycle % 10 == 9:
            print('# hotplug-loop: %d cycles, %.1f s' % (cycle + 1, time.monotonic() - t0),
                  flush=True)
    # Removal at every stage of enumeration: a keyboard (path 9) and a hub
    # with a mouse (14, 14.1) pulled 0..285 ms after they were added
    # (debounce 100 ms, reset, recovery, addressing, descriptors, the hub's
    # ports). What got a usbdev line gets a usbgone line; memory comes back.
    for k in range(20):
        start = len(guest.lines)
        qmp.device_add('usb-kbd', bus='xhci.0', port='1', id='ekbd')
        qmp.device_add('usb-hub', bus='xhci.0', port='6', id='ehub')
        qmp.device_add('usb-mouse', bus='xhci.0', port='6.1', id='emou')
        time.sleep(k * 0.015)
        qmp.device_del('ekbd')
        qmp.device_del('ehub')
        qmplib.wait_deleted(qmp, ['ekbd', 'ehub', 'emou'])
        time.sleep(0.05)  # a usbgone, if any, comes at once; then quiet
        added = {qmplib.parse(ln, 'usbdev')['path'] for ln in guest.lines[start:]
                 if ln.startswith('usbdev {')}
        gone, last = qmplib.collect(guest, 'usbgone', added, start)
        check(not gone['extra'], 'early %d: unexpected usbgone %s' % (k, gone['extra']))
        if added:
            _, mem = qmplib.next_usbmem(guest, last + 1)
            check(qmplib.same_mem(mem, base), 'early %d (%s configured): usbmem %s, at '
                  'start %s' % (k, sorted(added), mem, base))
    # Removals before a device was configured print nothing: one full
    # cycle more shows whether any of them left something behind.
    start = len(guest.lines)
    qmp.device_add('usb-kbd', bus='xhci.0', port='1', id='ekbd')
    qmplib.collect(guest, 'usbdev', ['9'], start)
    qmp.device_del('ekbd')
    _, last = qmplib.collect(guest, 'usbgone', ['9'], start)
    _, mem = qmplib.next_usbmem(guest, last + 1)
    check(qmplib.same_mem(mem, base), 'after the early removals: usbmem %s, at start %s'
          % (mem, base))
    bad = qmplib.problems(guest.lines)
    check(not bad, 'unexpected lines: %s' % bad[:5])
    print('# hotplug-loop: %d cycles of %d devices in %.1f s; slots used %d..%d; '
          'memory back to %s' % (CYCLES, len(KINDS), time.monotonic() - t0,
                                 min(slots or [0]), max(slots or [0]), base), flush=True)
