"""Enumeration timeline and state dump (runner --script, guest `dump`).

Every `usbenum` line carries `steps` (docs/contracts.md): in order, each
starting where the one before ended, adding up to `total_us`, the last
ending at `done_us`; a device on a USB 2 port (root or hub) starts with its
port's debounce, reset and recovery, one on a USB 3 root port with Enable
Slot; each ends with the probe. Then scripts/timeline draws the boot: a
valid SVG with one row per device. And `dump` logs every register by name.
"""
import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TOLERANCE_US = 2  # steps are contiguous by construction; rounding only

REGISTERS = ['CAPLENGTH=', 'HCIVERSION=', 'HCSPARAMS1=', 'HCSPARAMS2=', 'HCSPARAMS3=',
             'HCCPARAMS1=', 'HCCPARAMS2=', 'DBOFF=', 'RTSOFF=', 'USBCMD=', 'USBSTS=',
             'PAGESIZE=', 'DNCTRL=', 'CRCR=', 'DCBAAP=', 'CONFIG=', 'PORTSC=', 'PORTPMSC=',
             'PORTLI=', 'MFINDEX=', 'IMAN=', 'IMOD=', 'ERSTSZ=', 'ERSTBA=', 'ERDP=']


def check_steps(e):
    where = '%s %s' % (e['bus'], e['path'])
    steps = e['steps']
    assert steps, '%s: no steps' % where
    for a, b in zip(steps, steps[1:]):
        assert b['start_us'] >= a['start_us'], '%s: %s before %s' % (where, b, a)
        assert abs(a['start_us'] + a['us'] - b['start_us']) <= TOLERANCE_US, \
            '%s: %s does not end where %s starts' % (where, a, b)
    total = sum(s['us'] for s in steps)
    assert abs(total - e['total_us']) <= TOLERANCE_US, \
        '%s: steps add up to %d us, total_us %d' % (where, total, e['total_us'])
    end = steps[-1]['start_us'] + steps[-1]['us']
    assert abs(end - e['done_us']) <= TOLERANCE_US, \
        '%s: last step ends at %d, done_us %d' % (where, end, e['done_us'])
    assert steps[-1]['step'] == 'probe', '%s: last step %s' % (where, steps[-1]['step'])
    names = [s['step'] for s in steps]
    for want in ('enable_slot', 'address_device', 'device_desc', 'config_desc',
                 'configure_endpoint', 'set_configuration'):
        assert want in names, '%s: no %s step in %s' % (where, want, names)
    return names


def run(guest):
    w = guest.wait_for
    i, _ = w(r'^1\.\.\d+$', 60)
    lines = guest.lines[:i + 1]
    enums = [json.loads(l[len('usbenum '):]) for l in lines if l.startswith('usbenum {')]
    devs = [json.loads(l[len('usbdev '):]) for l in lines if l.startswith('usbdev {')]
    speed = {(d['bus'], d['path']): d['speed'] for d in devs}
    assert len(enums) == 4, 'want 4 usbenum lines, got %d' % len(enums)
    for e in enums:
        names = check_steps(e)
        where = '%s %s' % (e['bus'], e['path'])
        if speed[(e['bus'], e['path'])] == 'super':
            assert names[0] == 'enable_slot', '%s: USB 3 starts %s' % (where, names[0])
        else:
            assert names[:3] == ['debounce', 'reset', 'reset_recovery'], \
                '%s: USB 2 starts %s' % (where, names[:3])
            assert e['steps'][0]['us'] >= 100000, '%s: debounce under 100 ms' % where
        print('# %s: %d steps, %d us' % (where, len(names), e['total_us']))

    # The dump the `dump` word asked for.
    dump = [l for l in lines if ' dump: ' in l]
    for reg in REGISTERS:
        assert any(reg in l for l in dump), 'dump names no %s' % reg
    assert any('dump: command ring @0x' in l for l in dump)
    assert any('dump: event ring deq=' in l for l in dump)
    assert any(' DCI 1 (ep 0x00): ring @0x' in l for l in dump)

    # scripts/timeline on this boot's console.
    svg = subprocess.run([sys.executable, os.path.join(ROOT, 'scripts', 'timeline'), '-'],
                         input='\n'.join(lines) + '\n', capture_output=True, text=True,
                         check=True).stdout
    root = ET.fromstring(svg)
    ns = '{http://www.w3.org/2000/svg}'
    rows = root.findall('.//%sg[@class="device"]' % ns)
    assert len(rows) == 4, 'SVG has %d device rows' % len(rows)
    for g in rows:
        assert g.findall('%srect[@class="step"]' % ns), 'row %s has no bars' % g.get('id')
    print('# timeline: %d rows, %d bars' % (len(rows), len(root.findall('.//%srect[@class="step"]' % ns))))
