#!/usr/bin/env python3
"""The image's usbmon capture (runner --pcap, guest word usbmon) against
QEMU's own (-device ...,pcap=FILE) of the same devices, URB by URB (TAP).

    usbmon_compare.py --runner RUNNER --kernel IMAGE --qemu QEMU [--arch A] [--append W]
                      [--disk ID:MIB] -- QEMU DEVICE ARGS with pcap=@NAME@

Every `pcap=@NAME@` in the device arguments becomes a file in a temporary
directory. For each device QEMU captured, the image's records of that
device address must match QEMU's in order: submission or completion,
transfer type, endpoint and direction, the SETUP packet of a control
submission, success or failure, and for completions and OUT submissions
the length and the data both captured. Known differences, not compared:

  - SeaBIOS enumerates the devices before the x86_64 image boots; QEMU's
    file starts with that traffic (the aarch64 virt machine has no firmware
    that touches USB). The image's records are matched against the
    tail of QEMU's that begins where they line up.
  - QEMU has no SET_ADDRESS (xHCI addresses with a command), nor has the
    image.
  - QEMU writes 0 as the length of IN submissions and as a submission's
    status (usbmon gives the buffer size and -EINPROGRESS), ids of 0 for
    control transfers, a len_cap counting the 64-byte header, and cuts
    data at 256 bytes on data endpoints; the image cuts at 4096.
  - QEMU records one submission per attempt of a transfer the device
    NAKed; repeated IN submissions on one endpoint count once.
  - Transfers still pending when QEMU stops end either capture unpaired.
"""
import argparse
import os
import struct
import subprocess
import sys
import tempfile


def read_pcap(path):
    with open(path, 'rb') as f:
        d = f.read()
    if len(d) < 24 or struct.unpack_from('<I', d, 0)[0] != 0xa1b2c3d4:
        raise ValueError('%s: not a little-endian pcap' % path)
    if struct.unpack_from('<I', d, 20)[0] != 220:
        raise ValueError('%s: link type is not 220 (USB_LINUX_MMAPPED)' % path)
    off, out = 24, []
    while off + 16 <= len(d):
        incl = struct.unpack_from('<I', d, off + 8)[0]
        rec = d[off + 16:off + 16 + incl]
        off += 16 + incl
        if len(rec) < 64:
            break
        status, length = struct.unpack_from('<iI', rec, 28)
        out.append({'type': chr(rec[8]), 'xfer': rec[9], 'ep': rec[10], 'dev': rec[11],
                    'setup': rec[40:48] if rec[14] == 0 else None,
                    'status': status, 'length': length, 'data': rec[64:]})
    return out


def key(r, qemu):
    """What both captures must agree on, as a comparable tuple."""
    control = r['xfer'] == 2
    inward = bool(r['ep'] & 0x80)
    k = [r['type'], r['xfer'], r['ep']]
    if r['type'] == 'S':
        if control:
            k.append(bytes(r['setup'] or b''))
        if not inward and not control:
            k.append(r['length'])
    else:
        k.append('ok' if r['status'] == 0 else 'error')
        if inward or not control:
            k.append(r['length'] if inward else None)
    return tuple(k)


def collapse_retries(recs):
    """One IN submission per endpoint until its completion (QEMU's NAKs)."""
    out, open_in = [], set()
    for r in recs:
        if r['type'] == 'S' and r['xfer'] != 2 and r['ep'] & 0x80:
            if r['ep'] in open_in:
                continue
            open_in.add(r['ep'])
        elif r['type'] == 'C':
            open_in.discard(r['ep'])
        out.append(r)
    return out


def pipe_of(r):
    return 0 if r['xfer'] == 2 else r['ep']


def compare(ours, theirs):
    """(matched, problem, where QEMU's matching tail starts) of the image's
    records against QEMU's."""
    best = (0, None if len(ours) <= 2 and len(theirs) <= 2 else
            'no common records (image %d, QEMU %d)' % (len(ours), len(theirs)), None)
    for k in range(len(theirs)):
        n = 0
        while n < len(ours) and k + n < len(theirs):
            a, b = ours[n], theirs[k + n]
            if key(a, False) != key(b, True):
                break
            m = min(len(a['data']), len(b['data']))
            if a['type'] == 'C' and a['data'][:m] != b['data'][:m]:
                break
            n += 1
        left = len(ours) - n, len(theirs) - k - n
        if n > best[0]:
            best = (n, None if max(left) <= 2 else
                    'record %d differs: image %r, QEMU %r' % (
                        n, key(ours[n], False) if n < len(ours) else None,
                        key(theirs[k + n], True) if k + n < len(theirs) else None), k)
    return best


def tshark_agrees(path, recs):
    """Wireshark's USB dissector (tshark) on the image's file: every frame
    with the URB type, address, endpoint, transfer type, status and length
    of the record written. (False, why) when it disagrees or is missing."""
    fields = ['usb.urb_type', 'usb.device_address', 'usb.endpoint_address',
              'usb.transfer_type', 'usb.urb_status', 'usb.urb_len']
    cmd = ['tshark', '-r', path, '-T', 'fields', '-E', 'separator=,']
    for f in fields:
        cmd += ['-e', f]
    try:
        t = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                           timeout=120)
    except OSError as e:
        return False, 'tshark: %s (Debian package tshark)' % e
    rows = [l.split(',') for l in t.stdout.splitlines()]
    if t.returncode != 0 or len(rows) != len(recs):
        return False, 'tshark read %d frames of %d (status %d)' % (len(rows), len(recs),
                                                                 t.returncode)
    for i, (row, r) in enumerate(zip(rows, recs)):
        want = ["'%s'" % r['type'], str(r['dev']), '0x%02x' % r['ep'], '0x%02x' % r['xfer'],
                str(r['status']), str(r['length'])]
        if row != want:
            return False, 'frame %d: tshark %s, written %s' % (i + 1, row, want)
    return True, '%d frames' % len(rows)


def main():
    argv = sys.argv[1:]
    extra = argv[argv.index('--') + 1:] if '--' in argv else []
    argv = argv[:argv.index('--')] if '--' in argv else argv
    ap = argparse.ArgumentParser()
    ap.add_argument('--runner', required=True)
    ap.add_argument('--kernel', required=True)
    ap.add_argument('--qemu', required=True)
    ap.add_argument('--arch', default='x86_64', help="the image's architecture (runner --arch)")
    ap.add_argument('--append', action='append', default=[])
    ap.add_argument('--disk', action='append', default=[])
    ap.add_argument('--min-records', type=int, default=8)
    a = ap.parse_args(argv)
    tmp = tempfile.mkdtemp(prefix='bareusb-usbmon-')
    names = []
    args = []
    for x in extra:
        while '@' in x and x.count('@') >= 2:
            i = x.index('@')
            j = x.index('@', i + 1)
            names.append(x[i + 1:j])
            x = x[:i] + os.path.join(tmp, x[i + 1:j] + '.pcap') + x[j + 1:]
        args.append(x)
    ours_path = os.path.join(tmp, 'image.pcap')
    cmd = [sys.executable, a.runner, '--kernel', a.kernel, '--arch', a.arch, '--qemu', a.qemu,
           '--quiet', '--pcap', ours_path]
    for w in a.append:
        cmd += ['--append', w]
    for d in a.disk:
        cmd += ['--disk', d]
    r = subprocess.run(cmd + ['--'] + args, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True, timeout=600)
    print('1..%d' % (3 + len(names)))
    print('%s 1 - the image boots with the capture on' % ('ok' if r.returncode == 0 else 'not ok'))
    for line in r.stdout.splitlines()[-5:]:
        print('# ' + line)
    try:
        ours = read_pcap(ours_path)
        ok = len(ours) >= a.min_records
        why = '%d records' % len(ours)
    except (OSError, ValueError) as e:
        ours, ok, why = [], False, str(e)
    print('%s 2 - the image wrote a pcap of link type 220 # %s' % ('ok' if ok else 'not ok', why))
    failed = r.returncode != 0 or not ok
    ok, why = tshark_agrees(ours_path, ours)
    print('%s %d - tshark reads every record as the image wrote it%s' % (
        'ok' if ok else 'not ok', 3, ' # ' + why if why else ''))
    failed |= not ok
    for i, name in enumerate(names, 4):
        try:
            theirs = collapse_retries(read_pcap(os.path.join(tmp, name + '.pcap')))
        except (OSError, ValueError) as e:
            print('not ok %d - %s # %s' % (i, name, e))
            failed = True
            continue
        dev = theirs[-1]['dev'] if theirs else None
        mine = collapse_retries([x for x in ours if x['dev'] == dev])
        # Endpoints run concurrently: each pipe's records are compared in
        # order, EP0's both directions as one pipe.
        # QEMU's records before the image's first control transfer lines
        # up with them are SeaBIOS's: drop them on every pipe.
        ctrl = [x for x in theirs if pipe_of(x) == 0]
        start = compare([x for x in mine if pipe_of(x) == 0], ctrl)[2]
        if start is not None and start < len(ctrl):
            theirs = theirs[next(j for j, x in enumerate(theirs) if x is ctrl[start]):]
        total, problems = 0, []
        for pipe in sorted({pipe_of(x) for x in mine + theirs}):
            n, problem, _ = compare([x for x in mine if pipe_of(x) == pipe],
                                    [x for x in theirs if pipe_of(x) == pipe])
            total += n
            if problem:
                problems.append('pipe 0x%02x: %s' % (pipe, problem))
        good = not problems and total >= a.min_records
        failed |= not good
        print('%s %d - %s (address %s): %d of the image\'s %d records match QEMU\'s%s' % (
            'ok' if good else 'not ok', i, name, dev, total, len(mine),
            ' # ' + '; '.join(problems) if problems else ''))
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
