#!/usr/bin/env python3
"""bareusb-replay as a user runs it: the lines it prints and its exit
status, for good files (tests/sim/replay/) and bad ones made here.

    replay_tool.py BAREUSB-REPLAY REPLAY-DIR
"""
import json
import os
import subprocess
import sys
import tempfile

PROG, DIR = sys.argv[1], sys.argv[2]
failures = []
count = 0


def run(*args):
    p = subprocess.run([PROG] + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       universal_newlines=True, timeout=120)
    return p.returncode, p.stdout, p.stderr


def usbdevs(out):
    return [json.loads(l[len('usbdev '):]) for l in out.splitlines() if l.startswith('usbdev ')]


def check(name, cond, detail=''):
    global count
    count += 1
    print('%s %d - %s' % ('ok' if cond else 'not ok', count, name))
    if not cond:
        failures.append(name)
        for line in str(detail).splitlines()[-40:]:
            print('# ' + line)


def f(name):
    return os.path.join(DIR, name)


# QEMU's usb-kbd at full speed with its strings: one configured device.
rc, out, err = run(f('qemu-usb-kbd-fs.bin'), '--strings', f('qemu-usb-kbd.strings'))
devs = usbdevs(out)
check('kbd: exit 0, one usbdev line', rc == 0 and len(devs) == 1, out + err)
if devs:
    d = devs[0]
    check('kbd: ids, speed, strings',
          (d['vid'], d['pid'], d['speed'], d['mps0'], d['product'], d['configuration']) ==
          ('0627', '0001', 'full', 8, 'QEMU USB Keyboard', 1), d)
    itf = d['configs'][0]['interfaces'][0]
    check('kbd: HID boot keyboard interface, interrupt IN 0x81',
          (itf['class'], itf['subclass'], itf['protocol']) == (3, 1, 1) and
          itf['endpoints'] == [{'address': '0x81', 'type': 'interrupt', 'mps': 8,
                                'interval': 10}], itf)
check('kbd: tree line', any(l.split()[1:5] == ['full', '0627:0001', 'QEMU', 'USB']
                            and l.rstrip().endswith('configured')
                            for l in out.splitlines() if l.startswith('  ')), out)
check('kbd: speed guessed and said so', '(guessed; --speed to choose)' in out, out)

# Without strings: nulls.
rc, out, err = run(f('qemu-usb-kbd-hs.bin'))
devs = usbdevs(out)
check('kbd hs without strings: high speed, null strings',
      rc == 0 and len(devs) == 1 and devs[0]['speed'] == 'high' and
      devs[0]['manufacturer'] is None and devs[0]['product'] is None, out + err)

# Behind a hub, with the trace: tier 2, the TRB trace as the test image prints it.
rc, out, err = run(f('composite-iad.bin'), '--behind-hub', '--trace')
devs = usbdevs(out)
leo = [d for d in devs if d.get('vid') == '2341']
check('composite behind hub: hub and device, device at tier 2',
      rc == 0 and len(devs) == 2 and len(leo) == 1 and leo[0]['tier'] == 2 and
      leo[0]['path'] == '1.1' and len(leo[0]['configs'][0]['interfaces']) == 3, out + err)
check('--trace: transfer TRBs and events traced',
      any(l.startswith('[trace] xhci0: xfer @') and 'Setup Stage' in l for l in out.splitlines())
      and any(l.startswith('[trace] xhci0: event @') for l in out.splitlines()), out[-3000:])

# SuperSpeed storage behind a USB 3 hub; --sim-trace names registers.
rc, out, err = run(f('qemu-usb-storage-ss.bin'), '--behind-hub', '--sim-trace')
devs = usbdevs(out)
check('storage ss behind hub: super speed at tier 2',
      rc == 0 and any(d['vid'] == '46f4' and d['speed'] == 'super' and d['tier'] == 2
                      for d in devs), out[-3000:] + err)
check('--sim-trace: MMIO lines by register name',
      '[trace] sim: trace: MMIO W USBCMD = 0x' in out and
      '[trace] sim: trace: MMIO W DB0 = 0x00000000' in out and
      '[trace] sim: trace: MMIO W IR0.ERDP.lo = 0x' in out, out[-3000:])

# A hub: the sim's hub function answers for it; the port count from
# --hub-ports (or said to be assumed), checked against the hub descriptor
# the driver read; out of range refused.
rc, out, err = run(f('qemu-usb-hub-fs.bin'), '--strings', f('qemu-usb-hub.strings'),
                   '--hub-ports', '8')
devs = usbdevs(out)
check('hub: configured, hub driver bound, no error',
      rc == 0 and len(devs) == 1 and devs[0]['pid'] == '55aa' and 'error' not in devs[0] and
      devs[0]['configs'][0]['interfaces'][0]['driver'] == 'hub', out + err)
check('hub: 8 ports, said', '# a hub: the sim\'s hub function answers for it, 8 ports, '
      'all empty' in out, out)
rc, out, err = run(f('qemu-usb-hub-fs.bin'))
check('hub without --hub-ports: 4 assumed, said', rc == 0 and
      '4 ports (assumed; --hub-ports N)' in out, out + err)
rc, out, err = run(f('qemu-usb-hub-fs.bin'), '--hub-ports', '16')
check('--hub-ports 16: exit 2', rc == 2 and 'out of range' in err, err)

# Forcing a speed the device cannot have at that port kind is still run.
rc, out, err = run(f('qemu-usb-kbd-fs.bin'), '--speed', 'low')
check('--speed low: attached at low speed', 'at low speed' in out and
      any(d['speed'] == 'low' for d in usbdevs(out)), out + err)

# Bad input: exit 2 and the reason, nothing run.
with tempfile.TemporaryDirectory() as tmp:
    good = open(f('qemu-usb-kbd-fs.bin'), 'rb').read()
    cases = [
        ('empty', b'', 'too short for the 18-byte device descriptor'),
        ('cut in a descriptor', good[:40], 'truncated: configuration 0 at offset 18 has '
         'wTotalLength 34, the file holds 22 bytes of it, ending inside a descriptor'),
        ('trailing bytes', good + b'\0\0', '2 bytes after the last of 1 configurations'),
        ('not descriptors', b'\x89PNG\r\n\x1a\n' + bytes(40), 'not a descriptors file'),
    ]
    for name, data, want in cases:
        path = os.path.join(tmp, 'x.bin')
        with open(path, 'wb') as fh:
            fh.write(data)
        rc, out, err = run(path)
        check('bad file (%s): exit 2 and the reason' % name,
              rc == 2 and want in err and 'usbdev' not in out, 'rc %d\n%s%s' % (rc, out, err))
    strings = os.path.join(tmp, 's.txt')
    with open(strings, 'w') as fh:
        fh.write('1 ok\nnope\n')
    rc, out, err = run(f('qemu-usb-kbd-fs.bin'), '--strings', strings)
    check('bad strings file: exit 2, line named', rc == 2 and 'line 2' in err, err)
rc, out, err = run(f('qemu-usb-kbd-fs.bin'), '--speed', 'warp')
check('bad --speed: exit 2', rc == 2 and 'not low, full, high or super' in err, err)
rc, out, err = run('/nonexistent/descriptors')
check('missing file: exit 2', rc == 2 and 'No such file' in err, err)

print('1..%d' % count)
sys.exit(1 if failures else 0)
