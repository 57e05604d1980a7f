"""System wake by a keyboard on QEMU (runner --script, guest `watch sleep=MS
sleepwake`, guest/sleep.c).

After start-up the image lets every boot keyboard wake the system and puts
the bus to sleep (bu_usb_bus_suspend) for up to MS ms. A key sent through
QMP then reaches the keyboard QEMU created last; its remote wakeup moves
its root port (or, behind a hub, the hub's, the hub passing the wake on) to
Resume with PLC while the controller is halted. The image must see that
wake before the MS ms are over, resume the bus, and name the wake's root
port; QEMU's Restore State always fails, so every device enumerates again
and must be configured again afterwards.
"""

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from qmplib import check  # noqa: E402


def key(qmp, qcode):
    for down in (True, False):
        qmp.execute('input-send-event', events=[
            {'type': 'key', 'data': {'down': down, 'key': {'type': 'qcode', 'data': qcode}}}])


def run(guest):
    w, _ = guest.wait_for(r'^# watching', 60.0, 0)
    devs = {}
    for ln in guest.lines[:w]:
        if ln.startswith('usbdev '):
            d = json.loads(ln[7:])
            devs[d['path']] = d
    kbds = [p for p, d in devs.items() if d['product'] == 'QEMU USB Keyboard']
    check(len(kbds) == 1, 'one keyboard: %s' % kbds)
    kbd = kbds[0]
    root = int(kbd.split('.')[0])
    i, _ = guest.wait_for(r'^sleep: bus 0: 1 keyboard\(s\) may wake the system$', 30.0, 0)
    i, _ = guest.wait_for(r'^sleep: bus 0: asleep after \d+ us$', 30.0, i)
    key(guest.qmp, 'a')
    j, _ = guest.wait_for(r'^sleep: bus 0: wake signalled on root port %d$' % root, 20.0, i)
    k, _ = guest.wait_for(r'^usbsleep \{"bus":0,"restore"', 30.0, j)
    c = json.loads(guest.lines[k][9:])
    check(c['wake'] == 'remote' and c['wake_port'] == root and c['wake_path'] == str(root),
          'the wake was the keyboard\'s remote wakeup on root port %d: %s' % (root, c))
    check(c['asleep_us'] < 15000000, 'it ended the sleep early (%d us asleep)' % c['asleep_us'])
    check(c['restore'] == 'failed' and c['reenumerated'] == len(devs) and c['settled'],
          'QEMU: re-initialised, every device enumerated again: %s' % c)
    again = set()
    for ln in guest.lines[k - 64 if k > 64 else 0:k]:
        if ln.startswith('usbdev ') and ln.rfind('"error"') < 0:
            again.add(json.loads(ln[7:])['path'])
    check(again >= set(devs), 'configured again: %s of %s' % (sorted(again), sorted(devs)))
    print('# sleep-wake: key woke root port %d after %d us asleep; suspend %d us, resume %d us, '
          'configured again %d us later (guest clock)' % (
              root, c['asleep_us'], c['suspend_us'], c['resume_us'], c['settle_us']), flush=True)
