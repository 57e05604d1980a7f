"""The Linux peer (/work/shared/peers/linux-peer): Debian's Linux 6.1 booted
on the same QEMU with the same kind of devices, run beside a bareusb
benchmark so the two are compared in one sitting (this machine's speed
drifts from day to day).

run(boots, reps) copies the peer to $BAREUSB_PEER_WORK (default
/tmp/bareusb-linux-peer) the first time, builds it there if needed (a few
minutes; Debian packages and the kernel come from the package mirror),
boots it and returns its `BENCH` lines parsed per boot.
"""

import os
import shutil
import statistics
import subprocess

LINUX_PEER = '/work/shared/peers/linux-peer'


def _kv(text):
    out = {}
    for word in text.split():
        if '=' in word:
            k, v = word.split('=', 1)
            out[k] = v.strip('"')
    return out


def run(boots, reps=1, tag='bench'):
    """Boot the peer `boots` times with `reps` I/O repetitions each; returns
    (work directory, [per-boot dict: 'enum' -> {...}, 'io' -> {test: [MB/s]}])."""
    work = os.environ.get('BAREUSB_PEER_WORK', '/tmp/bareusb-linux-peer')
    if not os.path.isdir(work):
        if not os.path.isdir(LINUX_PEER):
            raise RuntimeError('no Linux peer at %s' % LINUX_PEER)
        shutil.copytree(LINUX_PEER, work, symlinks=True)
    logs = os.path.join(work, 'results', tag)
    shutil.rmtree(logs, ignore_errors=True)
    env = dict(os.environ, RUNS=str(boots), REPS=str(reps), TAG=tag)
    if not os.path.exists(os.path.join(work, 'build', 'initramfs.cpio.gz')):
        subprocess.run(['./build.sh'], cwd=work, env=env, check=True)
    subprocess.run(['./run.sh'], cwd=work, env=env, check=True, stdout=subprocess.DEVNULL)
    out = []
    for f in sorted(os.listdir(logs)):
        if not (f.startswith('run-') and f.endswith('.log')):
            continue
        boot = {'enum': {}, 'io': {}}
        for line in open(os.path.join(logs, f), errors='replace'):
            if 'BENCH enum_summary' in line:
                boot['enum'] = _kv(line.split('BENCH enum_summary', 1)[1])
            elif 'BENCH io ' in line:
                a = _kv(line.split('BENCH io ', 1)[1])
                if a.get('rc') == '0' and 'MBps' in a and int(a.get('bytes', 0)):
                    boot['io'].setdefault(a['test'], []).append(float(a['MBps']))
        out.append(boot)
    return work, out


def io_median(boots, test):
    """Median MB/s of one I/O test over every boot and repetition, and the count."""
    xs = [v for b in boots for v in b['io'].get(test, [])]
    return (statistics.median(xs) if xs else None), len(xs)
