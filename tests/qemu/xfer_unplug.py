"""Unplug during transfers (runner --script, guest `watch xferload`).

The image's xferload driver keeps 4 transfers queued on every interrupt and
bulk IN endpoint (resubmitted from their completions) and runs a READ(10)
loop on mass storage. QEMU drops the transfers of a device it unplugs
without a word; the stack must complete every one with "disconnected"
(BU_ENODEV) before the driver's remove() runs (usbxferend "pending": 0).

Each round adds through QMP: a keyboard (path 9) and a tablet (10) on USB 2
ports, a storage device on a USB 3 port (3), and a hub (14) with a mouse
(14.1) and a serial adapter (14.2). While key presses and mouse moves are
sent (so reports complete and are resubmitted), each top-level device is
removed in turn; the hub takes its two devices along. Per device:
  - "in" mode: enodev == queued (all 4 per endpoint were in flight), one
    usbxfer "disconnected" line each, no other error;
  - "bot" mode: the storage moved data (ok > 0) and the one transfer in
    flight completed with disconnected;
  - keyboard, tablet and mouse saw reports complete (ok > 0).
Then usbmem must equal the value printed before anything was plugged.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import qmplib  # noqa: E402
from qmplib import check  # noqa: E402

ROUNDS = 3

# id: (driver, properties, path)
DEVS = {
    'xk': ('usb-kbd', {'port': '1'}, '9'),
    'xt': ('usb-tablet', {'port': '2'}, '10'),
    'xd': ('usb-storage', {'port': '3', 'drive': 'xdisk'}, '3'),
    'xh': ('usb-hub', {'port': '6'}, '14'),
    'xm': ('usb-mouse', {'port': '6.1'}, '14.1'),
    'xs': ('usb-serial', {'port': '6.2', 'chardev': 'xser'}, '14.2'),
}
LOADED = ['9', '10', '3', '14.1', '14.2']  # paths the xferload driver binds
REPORTS = ['9', '10', '14.1']              # HID: reports flow while we type
UNPLUG = ['xk', 'xd', 'xt', 'xh']          # order of removal


def input_burst(qmp, n=10):
    """Key presses and releases, relative and absolute moves (to whichever
    of keyboard, mouse and tablet is still there)."""
    for k in range(n):
        for events in ([{'type': 'key', 'data': {'down': d, 'key': {
                            'type': 'qcode', 'data': 'a'}}} for d in (True, False)],
                       [{'type': 'rel', 'data': {'axis': 'x', 'value': 3}}],
                       [{'type': 'abs', 'data': {'axis': 'x', 'value': 1000 * k}}]):
            try:
                qmp.execute('input-send-event', events=events)
            except Exception as e:  # runner's QMPError: that kind of device is gone
                if 'handler not found' not in str(e):
                    raise


def run(guest):
    qmp = guest.qmp
    _, base = qmplib.next_usbmem(guest, 0, 60)
    check(base['devices'] == 0, 'devices present at the start: %s' % base)
    qmp.blockdev_add_file('xdisk', qmplib.disk_image(guest, 'xfer.img'))
    qmp.execute('chardev-add', id='xser', backend={
        'type': 'file', 'data': {'out': os.path.join(guest.tmpdir, 'xser.out')}})
    paths = [v[2] for v in DEVS.values()]

    for rnd in range(1, ROUNDS + 1):
        start = len(guest.lines)
        for dev_id, (driver, props, _) in DEVS.items():
            qmp.device_add(driver, bus='xhci.0', id=dev_id, **props)
        devs, _ = qmplib.collect(guest, 'usbdev', paths, start)
        starts, _ = qmplib.collect(guest, 'usbxferstart', LOADED, start)
        for p in paths:
            check('error' not in devs[p], 'round %d: %s failed: %s' % (rnd, p, devs[p]))
        check(starts['3']['mode'] == 'bot', 'storage not in bot mode: %s' % starts['3'])

        for dev_id in UNPLUG:
            input_burst(qmp)
            qmp.device_del(dev_id)
        qmplib.wait_deleted(qmp, DEVS)
        gone, last = qmplib.collect(guest, 'usbgone', paths, start)
        ends, last2 = qmplib.collect(guest, 'usbxferend', LOADED, start)
        _, mem = qmplib.next_usbmem(guest, max(last, last2) + 1)

        errs = {}
        for ln in guest.lines[start:]:
            x = qmplib.parse(ln, 'usbxfer')
            if x:
                errs.setdefault(x['path'], []).append(x)
        for p in LOADED:
            e, s = ends[p], starts[p]
            mine = errs.get(p, [])
            check(e['pending'] == 0, 'round %d: %s: %d transfers still out at remove: %s'
                  % (rnd, p, e['pending'], e))
            check(e['other'] == 0, 'round %d: %s: errors other than disconnected: %s'
                  % (rnd, p, mine))
            check(len(mine) == e['enodev'] and all(x['error'] == 'disconnected' for x in mine),
                  'round %d: %s: usbxfer lines %s vs %s' % (rnd, p, mine, e))
            if e['mode'] == 'in':
                check(e['enodev'] == s['queued'] > 0,
                      'round %d: %s: %d queued, %d disconnected' % (
                          rnd, p, s['queued'], e['enodev']))
            else:
                check(e['enodev'] >= 1 and e['ok'] > 0,
                      'round %d: %s: storage loop %s' % (rnd, p, e))
        for p in REPORTS:
            check(ends[p]['ok'] > 0, 'round %d: %s: no report completed: %s' % (
                rnd, p, ends[p]))
        check(qmplib.same_mem(mem, base), 'round %d: usbmem %s, at start %s' % (
            rnd, mem, base))
        print('# xfer-unplug: round %d: %s' % (rnd, ', '.join(
            '%s %d ok/%d disconnected' % (p, ends[p]['ok'], ends[p]['enodev'])
            for p in LOADED)), flush=True)

    bad = qmplib.problems(guest.lines)
    check(not bad, 'unexpected lines: %s' % bad[:5])
