#!/usr/bin/env python3
"""A bus that never settles: the test image is booted with timeout=1, so
its buses are still busy (devices in debounce) when it stops waiting. The
human "reset to settled" line must then say the bus never settled rather
than print the reset time subtracted from 0 (a wrapped 64-bit number), the
usbtime line's reset_to_settled_us must stay sane, and the controller's
state dump must come by itself. The image's own verdict is a failure (its
"bus settled" test), which is expected here. TAP.

    unsettled.py -- tests/runner.py RUNNER-ARGS... -- QEMU-ARGS...
"""
import json
import os
import re
import subprocess
import sys
import tempfile

HOUR_US = 3600 * 1000 * 1000


def main():
    argv = sys.argv[1:]
    if len(argv) < 2 or argv[0] != '--':
        print('usage: unsettled.py -- RUNNER RUNNER-ARGS...', file=sys.stderr)
        return 2
    runner, rest = argv[1], argv[2:]
    log = tempfile.NamedTemporaryFile(prefix='bareusb-unsettled-', suffix='.log', delete=False)
    log.close()
    cmd = [sys.executable, runner, '--append', 'timeout=1', '--quiet', '--log', log.name] + rest
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    with open(log.name, encoding='utf-8', errors='replace') as f:
        lines = f.read().splitlines()
    os.unlink(log.name)
    results = []

    def check(ok, text, detail=None):
        results.append(ok)
        print('%s %d - %s' % ('ok' if ok else 'not ok', len(results), text))
        if not ok and detail:
            print('# ' + detail)

    print('1..5')
    check(r.returncode == 1, 'the image reports the bus as not settled (runner exit 1)',
          'runner exit %d: %s' % (r.returncode, r.stdout[-500:]))
    human = [l for l in lines if 'reset to settled' in l]
    sane = bool(human)
    for l in human:
        m = re.search(r'reset to settled (\d+)\.\d{3} ms', l)
        if m and int(m.group(1)) * 1000 > HOUR_US:
            sane = False
        if not m and 'never' not in l:
            sane = False
    check(sane, 'the reset-to-settled line does not wrap around', ' | '.join(human))
    check(any('reset to settled: never' in l for l in human),
          'it says the bus never settled', ' | '.join(human))
    times = [json.loads(l[len('usbtime '):]) for l in lines if l.startswith('usbtime {')]
    bus_times = [t for t in times if 'bus' in t]
    check(bus_times and all(0 <= t['reset_to_settled_us'] < HOUR_US for t in bus_times),
          'usbtime reset_to_settled_us stays sane', repr(bus_times))
    check(any(' dump: USBCMD=' in l for l in lines) and any(' dump: end' in l for l in lines),
          'the state dump comes by itself on the settle timeout')
    return 0 if all(results) else 1


if __name__ == '__main__':
    sys.exit(main())
