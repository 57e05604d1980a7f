#!/usr/bin/env python3
"""The test image's debug console (guest word `console`, guest/shell.c),
driven the way a user drives it: tests/runner.py --console FILE types the
commands of tests/qemu/console/NAME.txt, and the answers in the console log
are checked here against what the image itself reported (its usbdev lines).
TAP.

    console.py NAME -- tests/runner.py RUNNER-ARGS... [-- QEMU-ARGS...]

NAME: lsusb, ctrl, reset, regs, trace, badargs, device, sleep.
"""
import json
import os
import re
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
PROMPT = 'usbsh> '


class Run:
    """One boot: the console log cut into commands, and the usbdev lines."""

    def __init__(self, lines, rc, out):
        self.lines, self.rc, self.out = lines, rc, out
        self.blocks = []  # (command, [output lines])
        for l in lines:
            if l.startswith(PROMPT):
                self.blocks.append((l[len(PROMPT):], []))
            elif self.blocks:
                self.blocks[-1][1].append(l)
        self.devs = {}
        for l in lines:
            if l.startswith('usbdev '):
                d = json.loads(l[len('usbdev '):])
                self.devs[d['path']] = d

    def output(self, cmd, nth=0):
        """Output lines of the nth run of command `cmd` (exact text)."""
        found = [out for c, out in self.blocks if c == cmd]
        return found[nth] if len(found) > nth else None

    def first_dev_line(self):
        return next(i for i, l in enumerate(self.lines) if l.startswith('usbdev '))


results = []


def check(ok, text, detail=None):
    results.append(bool(ok))
    print('%s %d - %s' % ('ok' if ok else 'not ok', len(results), text))
    if not ok and detail:
        for l in str(detail).splitlines()[:20]:
            print('# ' + l)


def data_bytes(out):
    """The bytes of the `data:` line in a command's output."""
    line = next((l for l in out if l.startswith('data:')), 'data:')
    return bytes(int(b, 16) for b in line[len('data:'):].split())


def errors(out):
    return [l for l in out if l.startswith('error: ')]


# --------------------------------------------------------------------------
# The checks, one per command file


def check_lsusb(r):
    out = r.output('lsusb')
    lines = [l for l in out or [] if l.startswith('Bus ')]
    check(len(lines) == len(r.devs) == 4, 'lsusb: one line per device', '\n'.join(out or []))
    for path, d in sorted(r.devs.items()):
        want = 'ID %s:%s %s %s' % (d['vid'], d['pid'], d['manufacturer'], d['product'])
        check(any(re.match(r'^Bus 000 Device \d{3}: ', l) and l.endswith(want) for l in lines),
              'lsusb: %s listed as "%s"' % (path, want), '\n'.join(lines))
    tree = r.output('lsusb -t') or []
    check(tree and tree[0].startswith('/:  Bus 00.Port 1: Dev 0, Class=root_hub, Driver=xhci/16p'),
          'lsusb -t: the root hub first', '\n'.join(tree))
    check(any(re.match(r'^    \|__ Port 10: Dev \d+, If 0, Class=Hub, Driver=hub/8p, 12M$', l)
              for l in tree), 'lsusb -t: the hub on root port 10, its driver and ports', '\n'.join(tree))
    check(any(re.match(r'^        \|__ Port 1: Dev \d+, If 0, Class=Human Interface Device, '
                       r'Driver=\[none\], 12M$', l) for l in tree),
          'lsusb -t: the keyboard behind it one tier down', '\n'.join(tree))
    check(any(re.match(r'^    \|__ Port 3: Dev \d+, If 0, Class=Mass Storage, .*5000M$', l)
              for l in tree), 'lsusb -t: the stick at SuperSpeed', '\n'.join(tree))
    v = r.output('lsusb -v') or []
    text = '\n'.join(v)
    check(len(re.findall(r'^Device Descriptor:$', text, re.M)) == 4,
          'lsusb -v: four device descriptors')
    for path, d in sorted(r.devs.items()):
        check(re.search(r'idVendor\s+0x%s\n\s+idProduct\s+0x%s\n\s+bcdDevice\s+%d\.%s' % (
            d['vid'], d['pid'], int(d['bcdDevice'][:2], 16), d['bcdDevice'][2:]), text),
            'lsusb -v: %s idVendor/idProduct/bcdDevice as usbdev says' % path)
    check(re.search(r'iProduct\s+\d+ QEMU USB Keyboard\n', text),
          'lsusb -v: strings read from the device')
    check(text.count('HID Device Descriptor:') == 2 and
          re.search(r'bDescriptorType\s+34 Report\n\s+wDescriptorLength\s+\d+', text),
          'lsusb -v: HID class descriptors with their report descriptor length')
    check(re.search(r'Hub Descriptor:\n\s+bLength\s+\d+\n\s+bDescriptorType\s+41\n'
                    r'\s+nNbrPorts\s+8\n', text), 'lsusb -v: the hub descriptor')
    check(re.search(r'Binary Object Store Descriptor:\n(.*\n){4}\s+USB 2.0 Extension', text) and
          re.search(r'SuperSpeed USB Device Capability:\n(.*\n){4}\s+wSpeedsSupported\s+0x000e',
                    text), 'lsusb -v: the stick\'s BOS, strictly parsed, by capability')
    check(text.count('SuperSpeed Endpoint Companion Descriptor:') == 2 and
          re.search(r'bMaxBurst\s+15', text), 'lsusb -v: SuperSpeed endpoint companions')
    check(re.search(r'wMaxPacketSize\s+0x0400  1x 1024 bytes', text) and
          re.search(r'bEndpointAddress\s+0x81  EP 1 IN\n\s+bmAttributes\s+3\n'
                    r'\s+Transfer Type\s+Interrupt', text),
          'lsusb -v: endpoints spelt out')
    check(not re.search(r'\*\*', text), 'lsusb -v: nothing malformed or unrecognised',
          '\n'.join(l for l in v if '**' in l))
    check(text.count('Device Status:') == 4, 'lsusb -v: GET_STATUS of each device')


def device_bytes_expected(d):
    """The 18 bytes of a device descriptor as the usbdev line describes them."""
    mps0 = d['mps0']
    b0 = 9 if d['speed'].startswith('super') else mps0  # 2^9 = 512 at SuperSpeed
    le = lambda h: bytes([int(h[2:], 16), int(h[:2], 16)])
    return (bytes([18, 1]) + le(d['bcdUSB']) +
            bytes([d['class'], d['subclass'], d['protocol'], b0]) +
            le(d['vid']) + le(d['pid']) + le(d['bcdDevice']) +
            bytes(3) +  # iManufacturer, iProduct, iSerialNumber: not in the usbdev line
            bytes([len(d['configs'])]))


def check_ctrl(r):
    for path, cmd in (('9', 'ctrl 9 0x80 6 0x100 0 18'), ('3', 'ctrl 3 0x80 6 0x100 0 18')):
        out = r.output(cmd) or []
        d = r.devs[path]
        got = data_bytes(out)
        check('ctrl: status=ok actual=18' in out, '%s: status and length' % cmd, '\n'.join(out))
        want = device_bytes_expected(d)
        # Bytes 14..16 are string indices, which the usbdev line does not carry.
        check(len(got) == 18 and got[:14] == want[:14] and got[17] == want[17],
              '%s: bytes match the usbdev line (vid %s pid %s bcdUSB %s class %d mps0 %d)' % (
                  cmd, d['vid'], d['pid'], d['bcdUSB'], d['class'], d['mps0']),
              'got  %s\nwant %s' % (got.hex(' '), want.hex(' ')))
    out = r.output('ctrl 3 0x80 0x06 0x0200 0x0000 9') or []
    got = data_bytes(out)
    cfg = r.devs['3']['configs'][0]
    check(len(got) == 9 and got[1] == 2 and got[5] == cfg['value'] and got[7] == cfg['attributes']
          and got[8] * 8 == cfg['maxpower_ma'] and got[4] == 1,
          'configuration header: value, attributes, MaxPower as usbdev says', got.hex(' '))


def check_reset(r):
    out = r.output('reset 9') or []
    text = '\n'.join(out)
    gone = next((i for i, l in enumerate(out) if l == 'usbgone {"bus":0,"path":"9"}'), None)
    pr = next((i for i, l in enumerate(out) if re.search(r'port 9: write 0x[0-9a-f]+ .* PR ', l)),
              None)
    addr = next((i for i, l in enumerate(out) if re.search(r': cmd @0x[0-9a-f]+: Address Device '
                                                           r'slot=\d+', l)), None)
    back = next((i for i, l in enumerate(out) if l.startswith('usbdev ') and
                 json.loads(l[7:])['path'] == '9'), None)
    check(gone is not None, 'reset: the device goes (usbgone)', text)
    check(pr is not None and gone is not None and pr > gone,
          'reset: then the port is reset (PORTSC write with PR)', text)
    check(addr is not None and pr is not None and addr > pr,
          'reset: then a new Address Device goes out', text)
    check(back is not None and addr is not None and back > addr and
          json.loads(out[back][7:]).get('error') is None,
          'reset: and the device is configured again (usbdev)', text)
    check(any(re.match(r'^reset: path 9: configured again, slot \d+ address \d+$', l)
              for l in out), 'reset: the console says so', text)
    out = r.output('reset 11.1') or []
    check(any(l == 'usbgone {"bus":0,"path":"11.1"}' for l in out) and
          any(re.match(r'^reset: path 11\.1: configured again, slot \d+ address \d+$', l)
              for l in out) and
          any(l.startswith('usbdev ') and json.loads(l[7:])['path'] == '11.1' for l in out),
          'reset below a hub: gone, reset by its hub, configured again', '\n'.join(out))
    ls = r.output('lsusb') or []
    check(len([l for l in ls if l.startswith('Bus ')]) == 4, 'lsusb after the resets: all four',
          '\n'.join(ls))
    check(not any(l.startswith('[trace]') for l in r.output('lsusb') or []),
          'trace off: no more trace lines')


def check_regs(r):
    regs = '\n'.join(r.output('regs') or [])
    for name in ('CAPLENGTH=', 'HCSPARAMS1=', 'HCCPARAMS1=', 'DBOFF=', 'RTSOFF=', 'USBCMD=',
                 'USBSTS=', 'PAGESIZE=', 'CRCR=', 'DCBAAP=', 'CONFIG=', 'MFINDEX=', 'IR0 IMAN=',
                 'IR0 IMOD=', 'IR0 ERSTSZ=', 'IR0 ERSTBA=', 'IR0 ERDP=', 'command ring @',
                 'event ring deq='):
        check(': dump: ' + name in regs, 'regs: %s' % name.rstrip('='))
    check('PORTSC' not in regs and 'slot ' not in regs, 'regs: registers only')
    ports = r.output('ports') or []
    check(len([l for l in ports if 'PORTSC=' in l]) == 16, 'ports: PORTSC of all 16 ports')
    check(any(re.search(r'port 3 \(USB 3\): PORTSC=0x[0-9a-f]+ speed=4 PLS=U0 CCS PED', l)
              for l in ports), 'ports: port 3 with the stick connected and enabled, in U0')
    check(len([l for l in ports if 'PORTPMSC=' in l and 'PORTLI=' in l]) == 16,
          'ports: PORTPMSC and PORTLI')
    ctx = '\n'.join(r.output('ctx 1') or [])
    check(re.search(r'dump: slot 1 \(device 3\): route=0x00000 speed=4 .* root_port=3 .* '
                    r'state=Configured', ctx), 'ctx 1: the Slot Context by field', ctx)
    check(re.search(r'slot 1 DCI 1   context: state=Running type=Control MPS=512', ctx) and
          re.search(r'slot 1 DCI 3   context: state=Running type=Bulk IN MPS=1024 max_burst=15',
                    ctx) and re.search(r'slot 1 DCI 4   context: state=\w+ type=Bulk OUT', ctx),
          'ctx 1: every Endpoint Context by field', ctx)
    ring = '\n'.join(r.output('ring 1 0') or [])
    check(re.search(r'slot 1 DCI 1 \(ep 0x00\): ring @0x[0-9a-f]+ enq=\d+ deq=\d+ .* used=0/256',
                    ring) and re.search(r'slot 1 DCI 1   done\s+TRB @0x[0-9a-f]+: Status Stage',
                                        ring) and 'deq>' in ring,
          'ring 1 0: EP0\'s ring and the TRBs around its dequeue pointer', ring)
    for ep, dci in (('0x81', 3), ('0x02', 4)):
        ring = '\n'.join(r.output('ring 1 %s' % ep) or [])
        check(re.search(r'slot 1 DCI %d \(ep %s\): ring @' % (dci, ep), ring) and
              len(re.findall(r'\(ep 0x', ring)) == 1 and
              not re.search(r'DCI (?!%d\b)\d+ ' % dci, ring),
              'ring 1 %s: that endpoint only' % ep, ring)


def check_trace(r):
    one = next(p for p, d in r.devs.items() if d['slot'] == 1)
    other = '10' if one == '9' else '9'
    cmd = lambda p: 'ctrl %s 0x80 6 0x100 0 18' % p
    a = r.output(cmd(one)) or []
    b = r.output(cmd(other)) or []
    xa = [l for l in a if ': xfer @' in l]
    check(xa and all(l.endswith('slot=1 DCI=1 (ep 0x00)') for l in xa) and
          any('GET_DESCRIPTOR(DEVICE, 0, 18)' in l for l in xa),
          'trace xfer,event,slot=1,ep=0x00: slot 1\'s request traced', '\n'.join(a))
    check(any('Transfer Event slot=1 DCI=1' in l for l in a), 'events of slot 1 traced')
    check(not any(': cmd @' in l or 'doorbell' in l for l in a), 'other categories filtered out')
    check(not any(l.startswith('[trace]') for l in b), 'the other slot is filtered out',
          '\n'.join(b))
    c = r.output(cmd('9'), 1)  # after `trace off`
    check(c is not None and not any(l.startswith('[trace]') for l in c),
          'trace off: nothing traced', '\n'.join(c or []))
    d = [o for c_, o in r.blocks if c_ == cmd('10')][-1]  # after `trace on`
    slot10 = r.devs['10']['slot']
    check(any(l.endswith('slot=%d DCI=1 (ep 0x00)' % slot10) and ': xfer @' in l for l in d) and
          any('doorbell DB%d' % slot10 in l for l in d),
          'trace on: every category, every slot', '\n'.join(d))
    check(r.output('trace off', 1) == ['trace: off'], 'trace off says so')


def check_badargs(r):
    bad = [(c, o) for c, o in r.blocks[1:] if not c.startswith('#')]
    bad = bad[:bad.index(next(b for b in bad if b[0] == 'read 9 0x81 8 50'))]
    wrong = ['%s -> %r' % (c[:60], o) for c, o in bad if len(o) != 1 or not errors(o)]
    check(len(bad) == 44 and not wrong, 'each of 44 bad commands gives one error line',
          '\n'.join(wrong) or len(bad))
    check(r.output('read 9 0x81 8 50') == ['read: status=timed out actual=0'],
          'an interrupt read that times out', r.output('read 9 0x81 8 50'))
    ls = r.output('lsusb') or []
    check(len([l for l in ls if l.startswith('Bus ')]) == 2, 'lsusb: both devices still there')
    out = r.output('ctrl 9 0x80 6 0x100 0 18') or []
    check(data_bytes(out)[:14] == device_bytes_expected(r.devs['9'])[:14],
          'a good ctrl after the bad ones', out)
    out = r.output('read 3 0x81 13') or []
    check(data_bytes(out)[:8] == b'USBS\x01\x00\x00\x00' and data_bytes(out)[12] == 0,
          'bulk write of a CBW (TEST UNIT READY), read of its CSW: passed', out)
    check(not any(l.startswith('Bail out') for l in r.lines), 'no panic')
    check('console: 48 command(s), 44 error(s)' in '\n'.join(r.lines),
          'the console counts them', [l for l in r.lines if l.startswith('# console:')])


def check_device(r):
    trees = [o for c, o in r.blocks if c == 'lsusb -t']
    kbd = lambda t: next((l for l in t if 'Port 9:' in l), '')
    check(len(trees) == 3 and 'Driver=xferload' in kbd(trees[0]), 'xferload bound the keyboard',
          trees and kbd(trees[0]))
    out = r.output('unbind 9 0') or []
    check('unbind: path 9 interface 0: driver none' in out and
          any(l.startswith('usbxferend ') for l in out), 'unbind: the driver\'s remove ran',
          '\n'.join(out))
    check(len(trees) == 3 and 'Driver=[none]' in kbd(trees[1]), 'lsusb -t: no driver after unbind')
    out = r.output('bind 9 0') or []
    check('bind: path 9 interface 0: driver xferload' in out and
          any(l.startswith('usbxferstart ') for l in out), 'bind: the driver probed again',
          '\n'.join(out))
    check(len(trees) == 3 and 'Driver=xferload' in kbd(trees[2]), 'lsusb -t: bound again')
    check(errors(r.output('unbind 10 0') or []) == ['error: unbind: path 10 interface 0: busy'],
          'the hub driver is not unbound', r.output('unbind 10 0'))
    check(r.output('suspend 3') == ['suspend: path 3: suspending'] and
          r.output('resume 3') == ['resume: path 3: resuming'], 'suspend and resume a root-port '
          'device', [r.output('suspend 3'), r.output('resume 3')])
    out = r.output('ctrl 3 0x80 6 0x100 0 18') or []
    check('ctrl: status=ok actual=18' in out, 'the stick answers after its resume', out)


def check_sleep(r):
    out = r.output('sleep 300') or []
    text = '\n'.join(out)
    first = {}
    for l in r.lines[:r.first_dev_line() + 64]:
        if l.startswith('usbdev ') and json.loads(l[7:])['path'] not in first:
            first[json.loads(l[7:])['path']] = json.loads(l[7:])
    check(len(first) == 5, 'five devices before the sleep', sorted(first))
    ctl = [json.loads(l[9:]) for l in out if l.startswith('usbsleep ') and '"restore"' in l]
    check(len(ctl) == 1, 'sleep: one usbsleep line for the controller', text)
    c = ctl[0] if ctl else {}
    check(c.get('restore') == 'failed' and c.get('saved') is True,
          "QEMU's Restore State fails (SRE): restore failed after a save", c)
    check('controller state lost (Restore State Error): re-initialising' in text,
          'the controller is re-initialised', text)
    devs = {}
    for l in out:
        if l.startswith('usbsleep ') and '"how"' in l:
            d = json.loads(l[9:])
            devs[d['path']] = d['how']
    check(devs == {p: 'reenumerated' for p in first},
          'one usbsleep line per device, each re-enumerated', devs)
    check(c.get('reenumerated') == 5 and c.get('revalidated') == 0 and c.get('gone') == 0 and
          c.get('settled') is True, 'the controller line counts them, the bus settled', c)
    again = {}
    for l in out:
        if l.startswith('usbdev '):
            d = json.loads(l[7:])
            again[d['path']] = d
    check(sorted(again) == sorted(first) and
          all(again[p].get('error') is None and again[p]['vid'] == first[p]['vid'] and
              again[p]['pid'] == first[p]['pid'] for p in first),
          'every device is configured again (usbdev), the same vid:pid at the same path',
          sorted(again))
    print('# sleep: suspend %d us, resume %d us (controller re-initialised, devices removed), '
          'every device configured again %d us later (guest clock)' % (
              c.get('suspend_us', -1), c.get('resume_us', -1), c.get('settle_us', -1)))
    for path in ('3', '10.1'):
        o = r.output('ctrl %s 0x80 6 0x100 0 18' % path) or []
        check('ctrl: status=ok actual=18' in o and
              data_bytes(o)[8:12] == bytes.fromhex(first[path]['vid'])[::-1] +
              bytes.fromhex(first[path]['pid'])[::-1],
              'path %s answers GET_DESCRIPTOR after the sleep' % path, o)
    o = r.output('read 3 0x81 512') or []
    check('read: status=ok actual=512' in o, 'the stick reads a block after the sleep', o)
    o = r.output('read 3 0x81 13', 1) or []
    csw = data_bytes(o)
    check(csw[:8] == b'USBS\x44\x33\x22\x11' and len(csw) == 13 and csw[12] == 0,
          'and its CSW says passed', o)
    ls = r.output('lsusb') or []
    check(len([l for l in ls if l.startswith('Bus ')]) == 5, 'lsusb after the sleep: all five',
          '\n'.join(ls))


CHECKS = {'lsusb': check_lsusb, 'sleep': check_sleep, 'ctrl': check_ctrl, 'reset': check_reset, 'regs': check_regs,
          'trace': check_trace, 'badargs': check_badargs, 'device': check_device}


def main():
    argv = sys.argv[1:]
    if len(argv) < 3 or argv[0] not in CHECKS or argv[1] != '--':
        print('usage: console.py {%s} -- RUNNER RUNNER-ARGS...' % ','.join(CHECKS),
              file=sys.stderr)
        return 2
    name, runner, rest = argv[0], argv[2], argv[3:]
    log = tempfile.NamedTemporaryFile(prefix='bareusb-console-', suffix='.log', delete=False)
    log.close()
    cmd = [sys.executable, runner, '--console', os.path.join(HERE, 'console', name + '.txt'),
           '--quiet', '--log', log.name] + rest
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    with open(log.name, encoding='utf-8', errors='replace') as f:
        lines = f.read().splitlines()
    os.unlink(log.name)
    r = Run(lines, p.returncode, p.stdout)
    check(p.returncode == 0, 'runner: the image passed and the console ran to its end',
          'exit %d: %s' % (p.returncode, p.stdout[-800:]))
    try:
        CHECKS[name](r)
    except Exception as e:  # a missing block or line is this test's failure
        check(False, '%s checks ran' % name, '%s: %s' % (type(e).__name__, e))
    print('1..%d' % len(results))
    return 0 if all(results) else 1


if __name__ == '__main__':
    sys.exit(main())
