"""Helpers shared by the QMP-driven qemu-suite scripts (runner --script).

The scripts run inside tests/runner.py with a Guest booted with `watch`:
they add and remove devices through QMP and read the guest's console lines

    usbdev {...}      a device was configured (or failed: "error")
    usbgone {...}     a device went away
    usbmem {...}      slots, devices and memory in use; printed when watch
                      starts and again once the bus has been quiet after a
                      hot-plug event
    usbxferstart/usbxfer/usbxferend {...}   the `xferload` test driver

QEMU port N of the runner's controller (qemu-xhci p2=8,p3=8) is PORTSC N
for a SuperSpeed device and 8+N for a USB 2 one.
"""

import json
import os
import re
import time


class CheckError(AssertionError):
    """An expectation about the guest's lines was not met."""


def check(cond, msg):
    if not cond:
        raise CheckError(msg)


def parse(line, prefix):
    """The JSON object of a `prefix {...}` line, or None."""
    if not line.startswith(prefix + ' {'):
        return None
    return json.loads(line[len(prefix) + 1:])


def collect(guest, prefix, want, start, timeout=20.0, key=lambda o: o.get('path')):
    """Wait until a `prefix` line exists (index >= start) for every key in
    `want`; returns ({key: obj}, last index). Extra keys are returned too
    (in 'extra') so the caller can complain about them."""
    want = set(want)
    got, extra = {}, []
    i = start
    deadline = time.monotonic() + timeout
    rx = r'^%s \{' % re.escape(prefix)
    last = start
    while not want.issubset(got):
        left = deadline - time.monotonic()
        if left <= 0:
            raise CheckError('%s lines missing for %s (have %s)' % (
                prefix, sorted(want - set(got)), sorted(got)))
        i, _ = guest.wait_for(rx, left, i)
        obj = parse(guest.lines[i], prefix)
        k = key(obj)
        if k in want:
            got[k] = obj
        else:
            extra.append(obj)
        last = i
        i += 1
    got['extra'] = extra
    return got, last


def next_usbmem(guest, start, timeout=20.0):
    """The first usbmem line at index >= start: (index, obj)."""
    i, _ = guest.wait_for(r'^usbmem \{', timeout, start)
    return i, parse(guest.lines[i], 'usbmem')


def same_mem(a, b):
    """usbmem lines agree on slots, devices and every byte count."""
    keys = ('slots_used', 'devices', 'dma_bytes', 'object_bytes', 'arena_bytes')
    return all(a.get(k) == b.get(k) for k in keys)


def wait_deleted(qmp, ids, timeout=20.0):
    """Wait for QEMU's DEVICE_DELETED event of every id in `ids`."""
    left = set(ids)
    deadline = time.monotonic() + timeout
    while left:
        ev = qmp.wait_event('DEVICE_DELETED', max(0.1, deadline - time.monotonic()))
        left.discard((ev.get('data') or {}).get('device'))


def disk_image(guest, name, mib=8):
    """A sparse raw image in the run's temp dir."""
    path = os.path.join(guest.tmpdir, name)
    with open(path, 'wb') as f:
        f.truncate(mib << 20)
    return path


def problems(lines):
    """Guest lines that no hot-plug test should see."""
    bad = []
    for line in lines:
        if line.startswith(('[err]', '[warn]', 'Bail out!', 'not ok')):
            bad.append(line)
        elif line.startswith('usbdev {') and 'error' in parse(line, 'usbdev'):
            bad.append(line[:200])
    return bad
