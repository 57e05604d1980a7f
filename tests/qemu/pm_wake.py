"""Selective suspend and remote wakeup on QEMU (runner --script, guest
`watch autosuspend=200 pmpoke=3000`).

The boot has a usb-hub on QEMU port 2 (path 10) with a usb-kbd behind it
(10.1), then a usb-kbd on port 1 (path 9). QEMU gives keys to the
keyboard created last. With autosuspend every idle device is suspended:
the keyboard behind the hub before the hub. The one-shot poke (GET_STATUS
to the suspended keyboard behind the hub) must resume the hub first, then
the keyboard. Once they sleep again, a key sent through QMP wakes the
keyboard on the root port, and the report carrying it is printed; once
that keyboard is unplugged, a key wakes the one behind the hub (and the
hub).
"""

import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import qmplib  # noqa: E402
from qmplib import check  # noqa: E402

ROOT, HUB, BEHIND = '9', '10', '10.1'


def pm_line(guest, path, state, by, start, timeout=20.0):
    """Index of the first matching usbpm line at or after `start`."""
    rx = r'^usbpm \{"bus":0,"path":"%s","state":"%s","by":"%s"\}$' % (
        re.escape(path), state, by)
    return guest.wait_for(rx, timeout, start)[0]


def key(qmp, qcode):
    for down in (True, False):
        qmp.execute('input-send-event', events=[
            {'type': 'key', 'data': {'down': down, 'key': {'type': 'qcode', 'data': qcode}}}])


def report_line(guest, path, usage, start):
    rx = r'^usbhid \{"bus":0,"path":"%s","report":"0000%02x0000000000"\}$' % (
        re.escape(path), usage)
    return guest.wait_for(rx, 20.0, start)[0]


def run(guest):
    qmp = guest.qmp
    i_b = pm_line(guest, BEHIND, 'suspended', 'host', 0)
    i_h = pm_line(guest, HUB, 'suspended', 'host', 0)
    check(i_b < i_h, 'the hub was suspended before the keyboard below it')
    pm_line(guest, ROOT, 'suspended', 'host', 0)
    print('# pm-wake: both keyboards and the hub suspended', flush=True)

    # The poke: the hub chain resumes root first, then the keyboard.
    i_p, _ = guest.wait_for(r'^usbpoke \{', 30.0, 0)
    poke = qmplib.parse(guest.lines[i_p], 'usbpoke')
    check(poke['path'] == BEHIND and poke['status'] == 0, 'poke: %s' % poke)
    r_h = pm_line(guest, HUB, 'resumed', 'host', i_h)
    r_b = pm_line(guest, BEHIND, 'resumed', 'host', i_b)
    check(r_h < r_b < i_p, 'hub resumed (line %d) before the keyboard (line %d), both before '
          'the poke completed (line %d)' % (r_h, r_b, i_p))
    # Root port TDRSMDN + TRSMRCY, then the hub port's 20 ms + TRSMRCY.
    check(poke['us'] >= 60000, 'the poke through two suspended links took %d us' % poke['us'])
    print('# pm-wake: GET_STATUS behind the suspended hub answered after %d us '
          '(guest clock; at least 60000)' % poke['us'], flush=True)

    # Asleep again. QEMU gives keys to the keyboard created last: the
    # root one first.
    s_b = pm_line(guest, BEHIND, 'suspended', 'host', r_b)
    s_h = pm_line(guest, HUB, 'suspended', 'host', r_h)
    start = max(s_b, s_h) + 1
    key(qmp, 'b')
    pm_line(guest, ROOT, 'resumed', 'device', start)
    report_line(guest, ROOT, 0x05, start)
    print('# pm-wake: a key woke the keyboard on the root port, report printed', flush=True)

    # The keyboard behind the hub gets the keys once the root one is gone
    # (a root port reports the unplug even while suspended).
    qmp.device_del('kb1')
    qmplib.wait_deleted(qmp, ['kb1'])
    guest.wait_for(r'^usbgone \{"bus":0,"path":"9"\}', 20.0, start)
    last = [i for i, ln in enumerate(guest.lines) if ln.startswith('usbpm {"bus":0,"path":"10",')]
    check(last and '"suspended"' in guest.lines[last[-1]], 'the hub is not asleep')
    start = len(guest.lines)
    key(qmp, 'a')
    w_h = pm_line(guest, HUB, 'resumed', 'device', start)
    # QEMU kicks the keyboard's stopped interrupt endpoint itself when the
    # key comes (xHCI restarts a stopped endpoint only on a doorbell) and
    # its usb-hub carries traffic to a suspended port: the report may come
    # before the keyboard's resume, whose "by" then is the host's (the
    # next read was held and resumed it). The sim tests (pm wake:*) keep
    # the strict order.
    w_b = guest.wait_for(r'^usbpm \{"bus":0,"path":"10\.1","state":"resumed"', 20.0, start)[0]
    report_line(guest, BEHIND, 0x04, start)
    check(w_h < w_b, 'wake order: hub %d, keyboard %d' % (w_h, w_b))
    print('# pm-wake: a key woke the keyboard behind the hub, report printed', flush=True)

    # Every suspend came when its device had been idle for the autosuspend
    # time, not much later: with `irq` the image halts between polls and
    # must wake for the idle deadlines (guest_pm_next_deadline), which no
    # interrupt announces.
    idle = [re.match(r'^# pm: (\S+) idle (\d+) us when suspended \(autosuspend (\d+) us\)$', ln)
            for ln in guest.lines]
    idle = [(m.group(1), int(m.group(2)), int(m.group(3))) for m in idle if m]
    check(len(idle) >= 5, 'only %d suspend idle lines' % len(idle))
    # The slack allows for a loaded host delaying QEMU's timer (88 ms seen);
    # without the deadline the halt lasts up to its 1 s cap.
    for path, us, limit in idle:
        check(limit <= us <= limit + 250000,
              '%s suspended after %d us of idle time (autosuspend %d us, at most 250 ms late)' %
              (path, us, limit))
    print('# pm-wake: %d suspends, idle %d..%d us at the suspend (guest clock; autosuspend %d us)'
          % (len(idle), min(u for _, u, _ in idle), max(u for _, u, _ in idle), idle[0][2]),
          flush=True)
