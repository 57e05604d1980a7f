#!/usr/bin/env python3
"""Enumeration time of bareusb on QEMU's qemu-xhci, on the guest clock.

    python3 bench/enum.py [--kernel build/guest/guest.elf] [--runs 5]

Boots the test image --runs times for each device set (the sets
interleaved, so a slow host period hits both alike) and reads its lines:

    usbtime {"bus":0,"start_us":..,"settled_us":..}   controller start (entry
                                                      of bu_xhci_create, before
                                                      its reset) and the last
                                                      device done
    usbenum {"path":..,"enum_us":..,"since_start_us":..}   per device

and prints, per set, each device's own enumeration time (attach after its
port's reset and recovery → configured) and when it was configured
counted from controller start, as medians over the boots, then the time
from controller start to all devices configured next to:

  * Linux 6.1 on the same QEMU (xhci probe → all devices bound, median of
    5 boots: 1737 ms, as the Linux peer recorded it) for the Linux device
    set, and with --linux-peer N the peer booted N times in this sitting
    (it is found through --linux-peer-dir DIR or $BAREUSB_LINUX_PEER);
  * the limit: the mandated delays on the critical path, from a model of
    the topology that spends no time on anything else (see `limit` below).

Sets:
  linux     the set the Linux peer boots with: usb-storage SS on
            port 1, usb-kbd 2, usb-tablet 3, usb-hub 4 with usb-mouse 4.1
            and usb-serial 4.2
  nested12  12 devices with hubs three deep (see SETS)

The guest runs with loglevel=1 so no log line is printed on the serial
port while devices enumerate (each costs ~0.3 ms of TCG time).
Not part of `meson test`; `ninja -C build bench-enum` runs it.
"""

import argparse
import heapq
import json
import os
import statistics
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, 'tests'))
sys.dont_write_bytecode = True
import runner  # noqa: E402

sys.path.insert(0, HERE)
import peer  # noqa: E402

LINUX_MS = 1737.4  # the Linux peer's record: xhci probe -> all 8 devices bound, median of 5 boots

# ---------------------------------------------------------------------------
# Device sets: (QEMU port, driver, extra properties). The runner's
# controller is qemu-xhci p2=8,p3=8: QEMU port N is PORTSC N on USB 3 and
# 8+N on USB 2; a hub's ports follow after a dot.

SETS = {
    'linux': {
        'title': 'Linux device set (the Linux peer\'s)',
        'devices': [
            ('1', 'usb-storage', 'drive=d1'),
            ('2', 'usb-kbd', ''),
            ('3', 'usb-tablet', ''),
            ('4', 'usb-hub', ''),
            ('4.1', 'usb-mouse', ''),
            ('4.2', 'usb-serial', 'chardev=s1'),
        ],
    },
    'nested12': {
        'title': '12 devices, hubs three deep',
        'devices': [
            ('1', 'usb-storage', 'drive=d1'),
            ('2', 'usb-kbd', ''),
            ('3', 'usb-tablet', ''),
            ('4', 'usb-hub', ''),
            ('4.1', 'usb-mouse', ''),
            ('4.2', 'usb-serial', 'chardev=s1'),
            ('4.3', 'usb-hub', ''),
            ('4.3.1', 'usb-kbd', ''),
            ('4.3.2', 'usb-hub', ''),
            ('4.3.2.1', 'usb-tablet', ''),
            ('4.3.2.2', 'usb-mouse', ''),
            ('5', 'usb-kbd', 'usb_version=1'),
        ],
    },
}

P2 = 8  # USB 2 root ports come after the 8 USB 3 ones

# ---------------------------------------------------------------------------
# The mandated-delay limit.
#
# Delays the host must spend (USB 2.0; ms):
T_ATTDB = 100      # §7.1.7.3 TATTDB: debounce after a connect, root and hub ports
T_RSTRCY = 10      # §7.1.7.5 TRSTRCY: reset recovery before the first request
T_SETADDR = 2      # §9.2.6.3: SET_ADDRESS recovery (xHCI Address Device)
PWR_ON_2_PWR_GOOD = 1  # QEMU usb-hub bPwrOn2PwrGood (x 2 ms, §11.23.2.1)
# Resets are timed by whoever drives them: the xHC times a USB 2 root-port
# reset (TDRSTR >= 50 ms, §7.1.7.5), the hub times its port reset (TDRST
# >= 10 ms); the host only waits for the end (PRC / C_PORT_RESET). QEMU
# ends both at once, so the QEMU limit counts 0 for them; the hardware
# figure adds 50 and 10 ms. USB 3 root ports need neither debounce nor
# reset: link training enables them (xHCI §4.19.1.2).
T_DRSTR_HW = 50
T_DRST_HW = 10


def model(devices, hw=False):
    """Time (ms from controller start) at which each device could be
    configured if nothing but the mandated delays took time.

    Root ports run in parallel. Behind hubs, only one device per root-port
    tree may be at the default address: its reset and recovery hold a lock
    until Address Device (the next device's reset waits: "wait for the
    address lock" is the reset + recovery of the ones before it). Requests
    are served first come, first served, ports of one hub in port order: a
    host cannot know which port has a hub before it has addressed it.
    Descriptor reads, commands and the hub's own requests take no time.
    Returns {qemu_port: (done_ms, [(step, ms), ...])}.
    """
    t_drstr = T_DRSTR_HW if hw else 0
    t_drst = T_DRST_HW if hw else 0
    kind = {p: d for p, d, _ in devices}
    children = {}
    for p, _, _ in devices:
        if '.' in p:
            children.setdefault(p.rsplit('.', 1)[0], []).append(p)
    res = {}
    lock_free = {}
    queue = []  # (request time, port, steps so far)

    def configured(port, t, steps):
        t += T_SETADDR
        steps = steps + [('SET_ADDRESS recovery', T_SETADDR)]
        res[port] = (t, steps)
        if kind[port] == 'usb-hub':
            pg = 2 * PWR_ON_2_PWR_GOOD
            for c in children.get(port, []):
                heapq.heappush(queue, (t + pg + T_ATTDB, c, steps + [
                    ('hub %s power-good' % port, pg), ('port %s debounce' % c, T_ATTDB)]))

    for p, d, props in devices:
        if '.' in p:
            continue
        if d == 'usb-storage':  # SuperSpeed: no debounce, no reset
            configured(p, 0, [])
        else:
            configured(p, T_ATTDB + t_drstr + T_RSTRCY, [
                ('root port %s debounce' % p, T_ATTDB), ('root reset', t_drstr),
                ('reset recovery', T_RSTRCY)])
    while queue:
        t, p, steps = heapq.heappop(queue)
        root = p.split('.')[0]
        start = max(t, lock_free.get(root, 0))
        if start > t:
            steps = steps + [('wait for the address lock', start - t)]
        addressed = start + t_drst + T_RSTRCY
        lock_free[root] = addressed
        configured(p, addressed, steps + [('port %s reset' % p, t_drst),
                                          ('reset recovery', T_RSTRCY)])
    return res


def to_path(port, driver):
    """usbdev path of a QEMU port: USB 2 devices sit on PORTSC 8+N."""
    parts = port.split('.')
    root = int(parts[0])
    ss = driver == 'usb-storage' and len(parts) == 1
    return '.'.join([str(root if ss else root + P2)] + parts[1:])


# ---------------------------------------------------------------------------
# Boots


def qemu_args(devset, tmp):
    args = []
    for port, driver, props in SETS[devset]['devices']:
        if driver == 'usb-serial':
            args += ['-chardev', 'file,id=s1,path=%s' % os.path.join(tmp, 'ser.out')]
        spec = '%s,bus=xhci.0,port=%s' % (driver, port)
        if props:
            spec += ',' + props
        args += ['-device', spec]
    return args


def boot(kernel, qemu, devset, timeout):
    tmp = tempfile.mkdtemp(prefix='bareusb-bench-')
    g = runner.Guest(kernel, qemu=qemu, append='loglevel=1', extra=qemu_args(devset, tmp),
                     echo=False, disks=[('d1', 64)])
    try:
        g.start()
        status = g.wait_exit(timeout)
        if status is None:
            g.kill()
            raise runner.RunnerError('%s: timeout after %d s' % (devset, timeout))
    finally:
        g.finish()
        for f in os.listdir(tmp):
            os.unlink(os.path.join(tmp, f))
        os.rmdir(tmp)
    run = {'status': status, 'devices': {}, 'enum': {}}
    for line in g.lines:
        for prefix in ('usbtime', 'usbenum', 'usbdev'):
            if line.startswith(prefix + ' {'):
                obj = json.loads(line[len(prefix) + 1:])
                if prefix == 'usbtime' and 'bus' in obj:
                    run['time'] = obj
                elif prefix == 'usbenum':
                    run['enum'][obj['path']] = obj
                elif prefix == 'usbdev':
                    run['devices'][obj['path']] = obj
    want = {to_path(p, d) for p, d, _ in SETS[devset]['devices']}
    bad = [p for p in want if p not in run['devices'] or 'error' in run['devices'][p]]
    if status != 33 or bad or 'time' not in run:
        raise runner.RunnerError('%s: boot failed (QEMU status %s, devices %s)' % (
            devset, status, bad))
    return run


# ---------------------------------------------------------------------------
# Report


def med(xs):
    return statistics.median(xs) if xs else float('nan')


def report(devset, runs, out, peer=None):
    s = SETS[devset]
    devs = s['devices']
    lim = model(devs)
    lim_hw = model(devs, hw=True)
    totals = [(r['time']['settled_us'] - r['time']['start_us']) / 1000 for r in runs]
    resets = [r['time']['reset_to_settled_us'] / 1000 for r in runs]
    limit = max(t for t, _ in lim.values())
    limit_hw = max(t for t, _ in lim_hw.values())

    def p(line=''):
        out.append(line)

    p('== %s: %d devices, %d boots (guest clock, medians) ==' % (s['title'], len(devs), len(runs)))
    p('%-14s %-20s %-6s %10s %12s %9s' % ('path', 'device', 'speed', 'own ms', 'done at ms',
                                          'limit ms'))
    for port, driver, _ in devs:
        path = to_path(port, driver)
        own = med([r['enum'][path]['enum_us'] / 1000 for r in runs])
        done = med([r['enum'][path]['since_start_us'] / 1000 for r in runs])
        d0 = runs[0]['devices'][path]
        p('%-14s %-20s %-6s %10.2f %12.2f %9d' % (path, d0.get('product') or driver,
                                                  d0['speed'], own, done, lim[port][0]))
    total = med(totals)
    p('controller start -> all configured: %.1f ms (min %.1f, max %.1f; reset -> settled %.1f)'
      % (total, min(totals), max(totals), med(resets)))
    last = max(lim, key=lambda k: lim[k][0])
    p('limit, mandated delays on the critical path (to %s): %d ms = %s' % (
        to_path(last, dict((q, d) for q, d, _ in devs)[last]), limit,
        ' + '.join('%s %d' % (n, ms) for n, ms in lim[last][1] if ms)))
    p('  (resets count 0: QEMU ends root and hub port resets at once and the host only '
      'waits for them; with TDRSTR 50 ms and TDRST 10 ms as on hardware: %d ms)' % limit_hw)
    ratio = total / limit
    p('measured / limit: %.3f -> %s 20%% of the limit' % (
        ratio, 'within' if ratio <= 1.2 else 'NOT within'))
    if devset == 'linux':
        p('Linux 6.1 (the peer\'s record, same QEMU): %.0f ms -> bareusb %.1fx faster (goal >= 4x: %s)'
          % (LINUX_MS, LINUX_MS / total, 'met' if LINUX_MS / total >= 4 else 'NOT met'))
        if peer:
            lm = med(peer)
            p('Linux 6.1 this sitting (%d boots: %s ms): median %.0f ms -> bareusb %.1fx faster'
              % (len(peer), ', '.join('%.0f' % v for v in peer), lm, lm / total))
    p()
    return {'set': devset, 'runs': len(runs), 'total_ms': totals, 'median_ms': total,
            'limit_ms': limit, 'limit_hw_ms': limit_hw, 'ratio': ratio,
            'devices': {to_path(q, d): {
                'own_ms': med([r['enum'][to_path(q, d)]['enum_us'] / 1000 for r in runs]),
                'done_ms': med([r['enum'][to_path(q, d)]['since_start_us'] / 1000
                                for r in runs]),
                'limit_ms': lim[q][0]} for q, d, _ in devs}}


def linux_peer(work, runs):
    """Boot the Linux peer's copy in `work` (REPS=1) `runs` times
    (bench/peer.py); returns its "xhci probe -> all bound" figures."""
    boots = peer.run(work, runs, reps=1)
    return [float(b['enum']['xhci_to_all_bound_ms']) for b in boots
            if 'xhci_to_all_bound_ms' in b['enum']]


def loadavg():
    """The host's 1-minute load average (the guest clock follows host time,
    so a busy host shows up in every figure)."""
    try:
        return open('/proc/loadavg').read().split()[0]
    except OSError:
        return '?'


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--kernel', default=os.path.join(ROOT, 'build', 'guest', 'guest.elf'))
    ap.add_argument('--qemu', default=os.environ.get('QEMU', 'qemu-system-x86_64'))
    ap.add_argument('--runs', type=int, default=5)
    ap.add_argument('--sets', default='linux,nested12')
    ap.add_argument('--timeout', type=int, default=60)
    ap.add_argument('--json', help='also write the figures here')
    peer.add_arguments(ap)
    ap.add_argument('--limits', action='store_true',
                    help='print the mandated-delay model of each set and exit')
    args = ap.parse_args()
    work = peer.from_args(ap, args)
    sets = args.sets.split(',')
    if args.limits:
        for s in sets:
            for port, (t, steps) in sorted(model(SETS[s]['devices']).items()):
                print('%-8s %4d ms  %s' % (port, t, ' + '.join('%s %d' % x for x in steps)))
        return 0
    results = {s: [] for s in sets}
    t0 = time.monotonic()
    load0 = loadavg()
    try:
        for i in range(args.runs):
            for s in sets:
                results[s].append(boot(args.kernel, args.qemu, s, args.timeout))
    except runner.RunnerError as e:
        print('bench-enum: %s' % e, file=sys.stderr)
        return 1
    out = ['bareusb enumeration on QEMU qemu-xhci (TCG), %d boot(s) per set, interleaved, '
           '%.0f s; host load average before %s, after %s' % (
               args.runs, time.monotonic() - t0, load0, loadavg()), '']
    linux = None
    if args.linux_peer:
        linux = linux_peer(work, args.linux_peer)
        out.append('Linux peer booted %d times in %s' % (len(linux), work))
        out.append('')
    figures = [report(s, results[s], out, linux) for s in sets]
    print('\n'.join(out))
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(figures, f, indent=1)
    return 0


if __name__ == '__main__':
    sys.exit(main())
