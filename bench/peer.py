"""The Linux peer: Debian's Linux 6.1 booted on the same QEMU with the same
kind of devices, run beside a bareusb benchmark so the two are compared in
one sitting (this machine's speed drifts from day to day).

Where the peer lives is not known here: the benchmarks take it from
--linux-peer-dir DIR or, without that option, from the environment variable
BAREUSB_LINUX_PEER (add_arguments, from_args). The directory holds the
peer's build.sh and run.sh.

run(work, boots, reps) boots the copy in `work`, which work_dir made (a
copy of the peer in $BAREUSB_PEER_WORK, default /tmp/bareusb-linux-peer,
the first time), builds it there first if needed (a few minutes; Debian
packages and the kernel come from the package mirror), and returns its
`BENCH` lines parsed per boot.
"""

import os
import shutil
import statistics
import subprocess

ENV_DIR = 'BAREUSB_LINUX_PEER'


def add_arguments(ap):
    """--linux-peer N and --linux-peer-dir DIR, as every benchmark takes them."""
    ap.add_argument('--linux-peer', type=int, default=0, metavar='N',
                    help='also boot the Linux peer N times and compare with it in the '
                    'same sitting (minutes; builds it first if needed)')
    ap.add_argument('--linux-peer-dir', metavar='DIR', default=os.environ.get(ENV_DIR),
                    help='where the Linux peer is (its build.sh and run.sh); default: '
                    'the environment variable %s. Copied to $BAREUSB_PEER_WORK '
                    '(default /tmp/bareusb-linux-peer) on first use' % ENV_DIR)


def work_dir(peer_dir):
    """The working copy of the peer, made from `peer_dir` if there is none yet;
    RuntimeError when it has to be made and `peer_dir` is not a directory."""
    work = os.environ.get('BAREUSB_PEER_WORK', '/tmp/bareusb-linux-peer')
    if os.path.isdir(work):
        return work
    if not peer_dir:
        raise RuntimeError('where is the Linux peer? Give --linux-peer-dir DIR or set %s'
                           % ENV_DIR)
    if not os.path.isdir(peer_dir):
        raise RuntimeError('no Linux peer at %s (--linux-peer-dir or %s)' % (peer_dir, ENV_DIR))
    shutil.copytree(peer_dir, work, symlinks=True)
    return work


def from_args(ap, args):
    """After ap.parse_args(): the peer's working copy when --linux-peer N asks
    for boots (None otherwise); a usage error when the peer cannot be found."""
    if not args.linux_peer:
        return None
    try:
        return work_dir(args.linux_peer_dir)
    except (RuntimeError, OSError) as e:
        ap.error(str(e))


def _kv(text):
    out = {}
    for word in text.split():
        if '=' in word:
            k, v = word.split('=', 1)
            out[k] = v.strip('"')
    return out


def run(work, boots, reps=1, tag='bench'):
    """Boot the peer's copy in `work` (work_dir) `boots` times with `reps` I/O
    repetitions each; returns [per-boot dict: 'enum' -> {...}, 'io' -> {test: [MB/s]}]."""
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
    return out


def io_median(boots, test):
    """Median MB/s of one I/O test over every boot and repetition, and the count."""
    xs = [v for b in boots for v in b['io'].get(test, [])]
    return (statistics.median(xs) if xs else None), len(xs)
