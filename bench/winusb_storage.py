#!/usr/bin/env python3
"""Throughput of WinUSB on QEMU's SuperSpeed usb-storage, on the guest clock.

    python3 bench/winusb_storage.py [--kernel build/guest/guest.elf] [--runs 5]
                                    [--cmd-kib 32000] [--chunk-kib 2048] [--depth 8]

Boots the test image --runs times with `winusb=bench` (guest/winusb_test.c):
usb-storage on a SuperSpeed port of qemu-xhci, over a 64 MiB raw image full
of data (cache=writeback, as the Linux peer's), bound to WinUSB through the
binding table. A bulk-only-transport client written only on
WinUsb_WritePipe / WinUsb_ReadPipe reads the 64 MiB with READ(10) and writes
them with WRITE(10); each command's data phase goes down as transfers of
--chunk-kib (at most MAXIMUM_TRANSFER_SIZE, 2 MiB), --depth of them queued
per pipe as overlapped requests (reads with RAW_IO, so every read is on the
controller's ring at once). The guest prints

    winusb-bench {"op":"read","bytes":..,"us":..,"mbps":..,
                  "command_kib":..,"transfer_kib":..,"queue_depth":..}

and this script prints each run and the medians next to Linux 6.1 on the
same QEMU (in-process O_DIRECT loop, 1 MiB, median of 5 boots: read 1248
MB/s, write 675 MB/s, as the Linux peer recorded them) and the target of
1.2x those. With --linux-peer N it also boots the Linux peer N times (3
repetitions each, bench/peer.py; found through --linux-peer-dir DIR or
$BAREUSB_LINUX_PEER) right after, and prints the ratio
to its in-process O_DIRECT 1 MiB loop measured in the same sitting, which
is the one to trust: this machine's speed drifts from day to day.
MB/s = 10^6 bytes per second.

Not part of `meson test`; `ninja -C build bench-winusb` runs it.
"""

import argparse
import json
import os
import random
import re
import statistics
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, 'tests'))
sys.dont_write_bytecode = True
import runner  # noqa: E402

sys.path.insert(0, HERE)
import peer  # noqa: E402

LINUX = {'read': 1248, 'write': 675}  # the Linux peer's record: O_DIRECT loop, 1 MiB, median MB/s
TARGET = 1.2
GUID = '{5C8D1F2A-3B4E-4F60-9A7B-8C9D0E1F2A3B}'


def boot(args, image):
    append = ('loglevel=1 winusb=bench winusb.mib=64 winusb.bind=46f4:0001:%s '
              'winusb.cmd_kib=%d winusb.depth=%d winusb.chunk_kib=%d'
              % (GUID, args.cmd_kib, args.depth, args.chunk_kib))
    extra = ['-drive', 'if=none,id=d1,format=raw,cache=writeback,file=' + image,
             '-device', 'usb-storage,bus=xhci.0,port=1,drive=d1']
    g = runner.Guest(args.kernel, qemu=args.qemu, append=append, extra=extra,
                     mem=512, echo=args.verbose)
    res = {}
    try:
        g.start()
        status = g.wait_exit(args.timeout)
        if status is None:
            g.kill()
            raise runner.RunnerError('timeout after %d s' % args.timeout)
        for line in g.lines:
            m = re.match(r'^winusb-bench (\{.*\})$', line)
            if m:
                obj = json.loads(m.group(1))
                res[obj['op']] = obj
        bad = [l for l in g.lines if l.startswith('not ok')]
        if bad or len(res) != 2:
            raise runner.RunnerError('run failed: %s' % (bad or 'no result lines'))
    finally:
        g.finish()
    return res


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--kernel', default=os.path.join(ROOT, 'build', 'guest', 'guest.elf'))
    ap.add_argument('--qemu', default=os.environ.get('QEMU', 'qemu-system-x86_64'))
    ap.add_argument('--runs', type=int, default=5)
    ap.add_argument('--cmd-kib', type=int, default=32000,
                    help='bytes per READ(10)/WRITE(10) command, KiB (max 32767)')
    ap.add_argument('--chunk-kib', type=int, default=2048,
                    help='bytes per WinUSB transfer, KiB (capped at MAXIMUM_TRANSFER_SIZE)')
    ap.add_argument('--depth', type=int, default=8, help='transfers queued per pipe')
    ap.add_argument('--timeout', type=int, default=120)
    ap.add_argument('--verbose', action='store_true')
    peer.add_arguments(ap)
    args = ap.parse_args()
    work = peer.from_args(ap, args)

    tmp = tempfile.mkdtemp(prefix='bareusb-bench-')
    image = os.path.join(tmp, 'disk.img')
    with open(image, 'wb') as f:
        f.write(random.Random(1).randbytes(64 << 20))
    runs = []
    try:
        for i in range(args.runs):
            r = boot(args, image)
            runs.append(r)
            print('run %d: read %4d MB/s  write %4d MB/s' % (
                i + 1, r['read']['mbps'], r['write']['mbps']), flush=True)
    except runner.RunnerError as e:
        print('bench-winusb: %s' % e, file=sys.stderr)
        return 2
    finally:
        os.unlink(image)
        os.rmdir(tmp)
    first = runs[0]['read']
    print()
    print('WinUSB on QEMU usb-storage (SuperSpeed), 64 MiB each way, %d runs' % len(runs))
    print('  READ(10)/WRITE(10) of %d KiB; WinUSB transfers of %d KiB, %d queued per pipe'
          % (first['command_kib'], first['transfer_kib'], first['queue_depth']))
    print('  %-6s %10s %10s %10s %8s' % ('', 'median', 'Linux 6.1', 'target', 'ratio'))
    ok = True
    for op in ('read', 'write'):
        med = statistics.median(r[op]['mbps'] for r in runs)
        ratio = med / LINUX[op]
        ok &= ratio >= TARGET
        print('  %-6s %7d MB/s %6d MB/s %6d MB/s %7.2fx' % (
            op, med, LINUX[op], int(LINUX[op] * TARGET), ratio))
    print('  %s' % ('beats Linux by at least %.1fx both ways' % TARGET if ok
                    else 'BELOW the %.1fx target' % TARGET))
    if args.linux_peer:
        boots = peer.run(work, args.linux_peer, reps=3, tag='bench-io')
        print()
        print('Linux 6.1 peer, this sitting (%d boots in %s; in-process O_DIRECT loop, 1 MiB):'
              % (len(boots), work))
        ok_now = True
        for op, test in (('read', 'c_read_bs1M'), ('write', 'c_write_bs1M_B')):
            lin, n = peer.io_median(boots, test)
            med = statistics.median(r[op]['mbps'] for r in runs)
            if not lin:
                print('  %-6s no peer figure' % op)
                ok_now = False
                continue
            ok_now &= med / lin >= TARGET
            print('  %-6s bareusb %5d MB/s  Linux %5d MB/s (median of %d)  %5.2fx' % (
                op, med, lin, n, med / lin))
        print('  %s' % ('beats this sitting\'s Linux by at least %.1fx both ways' % TARGET
                        if ok_now else 'BELOW %.1fx this sitting\'s Linux' % TARGET))
        ok &= ok_now
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main())
