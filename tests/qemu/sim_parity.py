"""Sim/QEMU parity (runner --script): the usbdev lines QEMU's usb-kbd gives
here must be the ones recorded in tests/sim/qemu-usb-kbd.usbdev, which the
sim suite's QEMU keyboard model (sim/devices/qemu_kbd.c) must reproduce
(tests/sim/test_devices.c: test_qemu_kbd_same_usbdev). The sim compares
itself with the recording; this compares the recording with live QEMU, so
neither side can drift alone. Masked: the slot (allocation order) and the
serial string's tail (QEMU appends the PCI address and port).
"""
import json
import os
import re

HERE = os.path.dirname(os.path.abspath(__file__))
RECORDING = os.path.join(HERE, '..', 'sim', 'qemu-usb-kbd.usbdev')


def masked(obj):
    obj = dict(obj)
    obj.pop('slot', None)
    if isinstance(obj.get('serial'), str):
        obj['serial'] = obj['serial'].split('-')[0]
    return obj


def run(guest):
    guest.wait_for(r'^1\.\.\d+$', 60)
    with guest.cond:
        lines = list(guest.lines)
    live = {}
    for line in lines:
        m = re.match(r'^usbdev (\{.*\})\s*$', line)
        if m:
            d = json.loads(m.group(1))
            live[d['path']] = masked(d)
    want = {}
    for line in open(RECORDING, encoding='utf-8'):
        if line.startswith('usbdev '):
            d = json.loads(line[len('usbdev '):])
            want[d['path']] = masked(d)
    if not want:
        raise AssertionError('no usbdev line in %s' % RECORDING)
    for path, rec in sorted(want.items()):
        got = live.get(path)
        if got is None:
            raise AssertionError('QEMU gave no device at path %s' % path)
        if got != rec:
            diff = sorted(k for k in set(got) | set(rec) if got.get(k) != rec.get(k))
            raise AssertionError('path %s differs from the recording in %s:\n  qemu %s\n  rec  %s'
                                 % (path, ', '.join(diff), json.dumps(got), json.dumps(rec)))
    print('sim-parity: %d device(s) match %s' % (len(want), os.path.basename(RECORDING)))
