#!/usr/bin/env python3
"""Boot the bareusb test image under QEMU and judge what it reports.

    runner.py --kernel build/guest/guest.elf [options] [-- QEMU ARGS...]
    runner.py --kernel build/guest/guest-aarch64.elf ...   (the aarch64 image)

The image's architecture (--arch, by default read from the ELF header)
picks the QEMU binary and machine: x86_64 boots on q35, aarch64 on virt
with a Cortex-A57. Everything after `--` goes to QEMU unchanged, so any set of USB devices
(including usb-host passthrough) can be attached without editing code. The
runner adds `-device qemu-xhci,id=xhci,p2=8,p3=8` unless the arguments
already define an xHCI controller (qemu-xhci, nec-usb-xhci, or any device
with id=xhci) or --no-default-controller is given.

The guest prints TAP and `usbdev {...}` lines on its serial console and
leaves QEMU with status 33 = pass, 35 = fail, 37 = panic: through
isa-debug-exit on x86_64, through semihosting's SYS_EXIT on aarch64. The runner echoes the console, checks the TAP stream, optionally
checks the usbdev lines against --expect, and exits with:

    0  pass             1  test failure (guest verdict, TAP or --expect)
    2  usage or QEMU error (bad arguments, crash, no verdict)
    3  timeout (QEMU killed)

A --script FILE.py defining `run(guest)` can drive a running guest (started
with `watch`) through QMP: see Guest.wait_for, Guest.qmp, QMP.device_add.

--console FILE boots the image with `console` (its debug console,
guest/shell.c) and types FILE's commands on its serial input, one a line,
each once the image prompts for it (`usbsh> `), then `exit`; the answers
are on the console like every other line (--log keeps them). FILE `-`
reads the commands from the runner's own standard input as they come, so
a person can type them (give a --timeout long enough).

Python 3 standard library only.
"""

import argparse
import itertools
import json
import os
import re
import shlex
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

EXIT_PASS, EXIT_FAIL, EXIT_ERROR, EXIT_TIMEOUT = 0, 1, 2, 3

# isa-debug-exit (x86_64) and semihosting SYS_EXIT (aarch64): QEMU exits
# with (value << 1) | 1; values from guest/guest.h.
QEMU_STATUS = {33: 'pass', 35: 'fail', 37: 'panic'}

# Per architecture: QEMU binary, machine, and the device or switch the
# image's guest_exit needs (guest/x86_64/serial.c, guest/aarch64/uart.c).
ARCHES = {
    'x86_64': {'qemu': 'qemu-system-x86_64',
               'machine': ['-machine', 'q35'],
               'exit': ['-device', 'isa-debug-exit,iobase=0xf4,iosize=0x04']},
    'aarch64': {'qemu': 'qemu-system-aarch64',
                'machine': ['-machine', 'virt', '-cpu', 'cortex-a57'],
                'exit': ['-semihosting-config', 'enable=on']},
}
# ELF e_machine values (the x86_64 image is an ELF32 multiboot wrapper).
ELF_MACHINES = {3: 'x86_64', 62: 'x86_64', 183: 'aarch64'}

# The first line of the device tree report (guest/main.c report_bus).
TREE_RE = re.compile(r'^bus \d+: ')

# The debug console's prompt (guest/shell.c): ends a partial line while the
# image waits for a command.
CONSOLE_PROMPT = 'usbsh> '

DEFAULT_CONTROLLER = 'qemu-xhci,id=xhci,p2=8,p3=8'
XHCI_DRIVERS = ('qemu-xhci', 'nec-usb-xhci')

TAP_RE = re.compile(r'^(not )?ok (\d+)\b(.*)$')
PLAN_RE = re.compile(r'^1\.\.(\d+)\s*$')


class RunnerError(Exception):
    """A problem with the run itself (not the guest's verdict)."""


# --------------------------------------------------------------------------
# QMP client


class QMPError(Exception):
    """QMP answered with an error object."""


class QMP:
    """A small synchronous QMP client over a unix socket.

    Commands are matched to answers by id; asynchronous events are kept in
    self.events (and can be waited for with wait_event).
    """

    def __init__(self, path, timeout=10.0):
        self.path = path
        self.sock = None
        self.buf = b''
        self.events = []
        self.greeting = None
        self.next_id = 1
        self.timeout = timeout

    def connect(self, deadline):
        """Connect (QEMU may still be creating the socket) and negotiate."""
        while True:
            try:
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                s.connect(self.path)
                break
            except OSError:
                s.close()
                if time.monotonic() > deadline:
                    raise RunnerError('QMP socket %s did not come up' % self.path)
                time.sleep(0.05)
        s.settimeout(self.timeout)
        self.sock = s
        self.greeting = self._read_msg()
        self.execute('qmp_capabilities')

    def close(self):
        if self.sock:
            self.sock.close()
            self.sock = None

    def _read_msg(self):
        while b'\n' not in self.buf:
            data = self.sock.recv(65536)
            if not data:
                raise RunnerError('QMP connection closed')
            self.buf += data
        line, self.buf = self.buf.split(b'\n', 1)
        return json.loads(line.decode('utf-8', 'replace'))

    def execute(self, cmd, **args):
        """Run a QMP command; returns its 'return' value or raises QMPError."""
        msg_id = self.next_id
        self.next_id += 1
        msg = {'execute': cmd, 'id': msg_id}
        if args:
            msg['arguments'] = args
        self.sock.sendall(json.dumps(msg).encode() + b'\n')
        while True:
            reply = self._read_msg()
            if 'event' in reply:
                self.events.append(reply)
                continue
            if reply.get('id') != msg_id:
                continue
            if 'error' in reply:
                raise QMPError('%s: %s' % (cmd, reply['error'].get('desc', reply['error'])))
            return reply.get('return')

    def wait_event(self, name, timeout=10.0):
        """Wait for (and consume) the first event called `name`."""
        deadline = time.monotonic() + timeout
        while True:
            for i, ev in enumerate(self.events):
                if ev.get('event') == name:
                    return self.events.pop(i)
            left = deadline - time.monotonic()
            if left <= 0:
                raise RunnerError('no %s event within %.1f s' % (name, timeout))
            self.sock.settimeout(left)
            try:
                self.events.append(self._read_msg())
            except socket.timeout:
                pass
            finally:
                self.sock.settimeout(self.timeout)

    # Convenience wrappers for hot-plug tests.
    def device_add(self, driver, **props):
        """device_add driver=... with string properties (bus, port, id, ...)."""
        return self.execute('device_add', driver=driver, **props)

    def device_del(self, dev_id):
        return self.execute('device_del', id=dev_id)

    def blockdev_add_file(self, node, path, read_only=False):
        """Add a raw file block node for usb-storage (drive=node)."""
        return self.execute('blockdev-add', **{
            'node-name': node, 'driver': 'raw', 'read-only': read_only,
            'file': {'driver': 'file', 'filename': path}})

    def send_keys(self, qcodes, down=True):
        """input-send-event with key events for QEMU qcodes (e.g. 'a')."""
        events = [{'type': 'key', 'data': {'down': down,
                   'key': {'type': 'qcode', 'data': k}}} for k in qcodes]
        return self.execute('input-send-event', events=events)

    def human(self, command):
        """Run an HMP command (e.g. 'info usb') and return its text."""
        return self.execute('human-monitor-command', **{'command-line': command})

    def quit(self):
        try:
            self.execute('quit')
        except (RunnerError, OSError):
            pass


# --------------------------------------------------------------------------
# The guest under QEMU


class Guest:
    """One QEMU run of the test image: command line, console, verdict."""

    def __init__(self, kernel, qemu=None, append='', mem=256,
                 extra=(), default_controller=True, use_qmp=False,
                 echo=True, timestamps=False, log_path=None, disks=(),
                 arch='x86_64'):
        if arch not in ARCHES:
            raise RunnerError('unknown architecture %r (have: %s)' % (
                arch, ', '.join(sorted(ARCHES))))
        self.capture_path = None  # usbmon records (--pcap), set before start
        self.inf = None  # a WinUSB INF handed to the image (--inf), set before start
        self.kernel = kernel
        self.arch = arch
        self.qemu = qemu or ARCHES[arch]['qemu']
        self.append = append
        self.mem = mem
        self.extra = list(extra)
        self.default_controller = default_controller and not has_controller(self.extra)
        self.use_qmp = use_qmp
        self.echo = echo
        self.timestamps = timestamps
        self.log = open(log_path, 'w', encoding='utf-8') if log_path else None
        self.tmpdir = tempfile.mkdtemp(prefix='bareusb-qemu-')
        self.disks = [self.make_disk(i, s) for i, s in disks]
        self.qmp = None
        self.proc = None
        self.lines = []
        self.line_times = []  # host seconds since QEMU start, per line
        self.cond = threading.Condition()
        self.eof = False
        self.t0 = None
        self.stderr_lines = []
        self.threads = []
        self.use_stdin = False  # --console: commands go to the serial input
        self.partial = ''       # console text after the last newline
        self.prompts = 0        # times the console prompt was seen

    # ---- set-up ----------------------------------------------------------

    def make_disk(self, drive_id, size_mib):
        """A sparse raw disk image in the temp dir, attached as -drive id."""
        path = os.path.join(self.tmpdir, '%s.img' % drive_id)
        with open(path, 'wb') as f:
            f.truncate(size_mib << 20)
        return drive_id, path

    def command(self):
        arch = ARCHES[self.arch]
        cmd = ([self.qemu] + arch['machine'] +
               ['-accel', 'tcg', '-m', str(self.mem),
                '-nodefaults', '-display', 'none', '-monitor', 'none',
                '-serial', 'stdio', '-nic', 'none', '-no-reboot'] +
               arch['exit'] + ['-kernel', self.kernel])
        append = self.append
        if self.capture_path and self.arch == 'aarch64':
            # The capture line: a host file the image writes through
            # semihosting (virt has one UART for the normal world).
            append = (append + ' usbmon capture=' + self.capture_path).strip()
        elif self.capture_path:
            # The capture line: the image's second serial port (COM2).
            cmd += ['-serial', 'file:' + self.capture_path]
            append = (append + ' usbmon').strip()
        if append:
            cmd += ['-append', append]
        if self.inf:
            # The image's first multiboot module is its boot INF.
            cmd += ['-initrd', self.inf]
        if self.use_qmp:
            cmd += ['-qmp', 'unix:%s,server=on,wait=off' % self.qmp_path()]
        for drive_id, path in self.disks:
            cmd += ['-drive', 'if=none,id=%s,format=raw,file=%s' % (drive_id, path)]
        if self.default_controller:
            cmd += ['-device', DEFAULT_CONTROLLER]
        return cmd + self.extra

    def qmp_path(self):
        return os.path.join(self.tmpdir, 'qmp.sock')

    # ---- running ---------------------------------------------------------

    def start(self):
        if not os.path.exists(self.kernel):
            raise RunnerError('no test image at %s (build first)' % self.kernel)
        if not shutil.which(self.qemu):
            raise RunnerError('QEMU binary %r not found' % self.qemu)
        cmd = self.command()
        self.emit('# qemu: ' + ' '.join(shlex.quote(c) for c in cmd))
        self.t0 = time.monotonic()
        self.proc = subprocess.Popen(cmd,
                                     stdin=subprocess.PIPE if self.use_stdin
                                     else subprocess.DEVNULL,
                                     stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE)
        for target, stream in ((self._read_console, self.proc.stdout),
                               (self._read_stderr, self.proc.stderr)):
            t = threading.Thread(target=target, args=(stream,), daemon=True)
            t.start()
            self.threads.append(t)
        if self.use_qmp:
            self.qmp = QMP(self.qmp_path())
            try:
                self.qmp.connect(time.monotonic() + 10)
            except (OSError, RunnerError) as e:
                # Most often QEMU refused its command line and exited.
                time.sleep(0.2)
                why = '; '.join(self.stderr_lines[-3:]) or str(e)
                raise RunnerError('QEMU did not start its QMP monitor: %s' % why)

    def emit(self, line):
        if self.echo:
            if self.timestamps and self.t0 is not None:
                line = '[%8.3f] %s' % (time.monotonic() - self.t0, line)
            print(line, flush=True)

    def _read_console(self, stream):
        # Read what arrives (not whole lines) so that a prompt waiting at
        # the end of a partial line is seen.
        buf = b''
        fd = stream.fileno()
        while True:
            data = os.read(fd, 65536)
            if not data:
                break
            buf += data
            *done, buf = buf.split(b'\n')
            for raw in done:
                self._line(raw)
            with self.cond:
                partial = buf.decode('utf-8', 'replace').replace('\r', '')
                if partial == CONSOLE_PROMPT and self.partial != CONSOLE_PROMPT:
                    self.prompts += 1
                self.partial = partial
                self.cond.notify_all()
        if buf:
            self._line(buf)
        with self.cond:
            self.eof = True
            self.cond.notify_all()

    def _line(self, raw):
        line = raw.decode('utf-8', 'replace').rstrip('\r\n').replace('\r', '')
        self.emit(line)
        if self.log:
            self.log.write(line + '\n')
        with self.cond:
            self.lines.append(line)
            self.line_times.append(time.monotonic() - self.t0)
            self.partial = ''
            self.cond.notify_all()

    def console(self, commands, timeout=60.0):
        """Type `commands` (an iterable of strings, read lazily) on the debug
        console, each once the image prompts for it, up to the first `exit`
        (sent at the end when none came). Returns the index of the first console line of this
        run."""
        first = len(self.lines)
        seen = getattr(self, 'prompts_seen', 0)
        last = None
        for cmd in itertools.chain(commands, ['exit']):
            if last is not None and last.split()[:1] == ['exit']:
                break  # the console has ended
            deadline = time.monotonic() + timeout
            with self.cond:
                while self.prompts <= seen:
                    if self.eof:
                        raise RunnerError('QEMU ended before the console prompted for %r'
                                          % cmd)
                    left = deadline - time.monotonic()
                    if left <= 0:
                        raise RunnerError('no console prompt within %.0f s (for %r)'
                                          % (timeout, cmd))
                    self.cond.wait(left)
                seen = self.prompts
            self.proc.stdin.write(cmd.encode('utf-8', 'replace') + b'\n')
            self.proc.stdin.flush()
            last = cmd
        self.prompts_seen = seen
        return first

    def _read_stderr(self, stream):
        for raw in iter(stream.readline, b''):
            line = raw.decode('utf-8', 'replace').rstrip('\r\n')
            self.stderr_lines.append(line)
            print('qemu: ' + line, file=sys.stderr, flush=True)

    def wait_for(self, pattern, timeout=30.0, start=0):
        """Wait for a console line (index >= start) matching the regex.

        Returns (index, match). Raises RunnerError on timeout or QEMU exit.
        """
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        i = start
        with self.cond:
            while True:
                while i < len(self.lines):
                    m = rx.search(self.lines[i])
                    if m:
                        return i, m
                    i += 1
                if self.eof:
                    raise RunnerError('QEMU ended before %r appeared' % pattern)
                left = deadline - time.monotonic()
                if left <= 0:
                    raise RunnerError('%r did not appear within %.1f s' % (pattern, timeout))
                self.cond.wait(left)

    def wait_exit(self, timeout):
        """Wait for QEMU to exit; returns its status, or None on timeout."""
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self):
        """End QEMU: QMP quit when available, then SIGTERM, then SIGKILL."""
        if self.proc is None or self.proc.poll() is not None:
            return
        if self.qmp:
            self.qmp.quit()
            if self.wait_exit(5) is not None:
                return
        self.kill()

    def kill(self):
        """End QEMU at once (any thread): SIGTERM, then SIGKILL."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        if self.wait_exit(5) is None:
            self.proc.kill()
            self.proc.wait()

    def finish(self):
        for t in self.threads:
            t.join(timeout=5)
        if self.qmp:
            self.qmp.close()
        if self.log:
            self.log.close()
        shutil.rmtree(self.tmpdir, ignore_errors=True)

    # ---- results ---------------------------------------------------------

    def usbdevs(self):
        """Parsed usbdev lines (the last one per bus/path wins)."""
        return parse_usbdev_lines(self.lines)

    def tap(self):
        return parse_tap(self.lines)

    def boot_to_tree(self):
        """Host seconds from QEMU's start to the first device tree line."""
        for line, t in zip(self.lines, self.line_times):
            if TREE_RE.match(line):
                return t
        return None


def elf_arch(path):
    """The image's architecture from its ELF header, or None."""
    try:
        with open(path, 'rb') as f:
            head = f.read(20)
    except OSError:
        return None
    if len(head) < 20 or head[:4] != b'\x7fELF':
        return None
    order = 'little' if head[5] == 1 else 'big'
    return ELF_MACHINES.get(int.from_bytes(head[18:20], order))


def has_controller(args):
    """True when the QEMU arguments already define an xHCI controller."""
    for i, a in enumerate(args[:-1]):
        if a not in ('-device', '--device'):
            continue
        spec = args[i + 1]
        if spec.startswith('{'):
            try:
                obj = json.loads(spec)
            except ValueError:
                continue
            driver, dev_id = obj.get('driver'), obj.get('id')
        else:
            parts = spec.split(',')
            driver = parts[0]
            if driver.startswith('driver='):
                driver = driver[len('driver='):]
            dev_id = next((p[3:] for p in parts[1:] if p.startswith('id=')), None)
        if driver in XHCI_DRIVERS or dev_id == 'xhci':
            return True
    return False


def parse_usbdev_lines(lines):
    devs, errors = {}, []
    for line in lines:
        if not line.startswith('usbdev '):
            continue
        try:
            obj = json.loads(line[len('usbdev '):])
        except ValueError as e:
            errors.append('bad usbdev JSON (%s): %s' % (e, line[:200]))
            continue
        devs[(obj.get('bus'), str(obj.get('path')))] = obj
    return devs, errors


def parse_tap(lines):
    """Returns (results {n: ok}, plan or None, bail-out text or None, problems)."""
    results, plan, bail, problems = {}, None, None, []
    for line in lines:
        m = TAP_RE.match(line)
        if m:
            n = int(m.group(2))
            if n in results:
                problems.append('TAP test %d reported twice' % n)
            results[n] = m.group(1) is None
            continue
        m = PLAN_RE.match(line)
        if m:
            if plan is not None:
                problems.append('TAP plan given twice')
            plan = int(m.group(1))
        elif line.startswith('Bail out!'):
            bail = line
    return results, plan, bail, problems


# --------------------------------------------------------------------------
# --expect: check usbdev lines against expected fields


def match_value(exp, act, where, errs):
    """Check `act` against `exp`: {"re": ...} regex, dict subset, list, scalar."""
    if isinstance(exp, dict) and set(exp) == {'re'}:
        if act is None or not re.search(exp['re'], str(act)):
            errs.append('%s: %r does not match /%s/' % (where, act, exp['re']))
    elif isinstance(exp, dict):
        if not isinstance(act, dict):
            errs.append('%s: expected an object, got %r' % (where, act))
            return
        for k, v in exp.items():
            if k not in act:
                errs.append('%s.%s: missing' % (where, k))
            else:
                match_value(v, act[k], '%s.%s' % (where, k), errs)
    elif isinstance(exp, list):
        if not isinstance(act, list) or len(act) != len(exp):
            errs.append('%s: expected %d item(s), got %r' % (
                where, len(exp), len(act) if isinstance(act, list) else act))
            return
        for i, (e, a) in enumerate(zip(exp, act)):
            match_value(e, a, '%s[%d]' % (where, i), errs)
    elif exp != act:
        errs.append('%s: expected %r, got %r' % (where, exp, act))


def flat_interfaces(dev):
    return [alt for cfg in dev.get('configs') or [] for alt in cfg.get('interfaces') or []]


def flat_endpoints(dev):
    return [ep for alt in flat_interfaces(dev) for ep in alt.get('endpoints') or []]


def match_multiset(exp_list, act_list, where, errs):
    """Each expected item matches a distinct actual item; counts are equal."""
    if len(exp_list) != len(act_list):
        errs.append('%s: expected %d, got %d' % (where, len(exp_list), len(act_list)))
    left = list(act_list)
    for i, exp in enumerate(exp_list):
        for j, act in enumerate(left):
            e = []
            match_value(exp, act, where, e)
            if not e:
                del left[j]
                break
        else:
            errs.append('%s: no match for %s' % (where, json.dumps(exp)))


def check_expect(spec, devs):
    """Returns a list of mismatch messages (empty = all good)."""
    if isinstance(spec, list):
        spec = {'devices': spec}
    errs = []
    if 'count' in spec and len(devs) != spec['count']:
        errs.append('expected %d device(s), got %d: %s' % (
            spec['count'], len(devs), ', '.join('%s/%s' % k for k in sorted(devs, key=str))))
    for exp in spec.get('devices', []):
        exp = dict(exp)
        key = (exp.pop('bus', 0), str(exp.pop('path')))
        where = 'bus %s path %s' % key
        dev = devs.get(key)
        if dev is None:
            errs.append('%s: no usbdev line' % where)
            continue
        if 'error' not in exp and dev.get('error') is not None:
            errs.append('%s: enumeration error %r' % (where, dev['error']))
        eps = exp.pop('endpoints', None)
        ifs = exp.pop('interfaces', None)
        match_value(exp, dev, where, errs)
        if eps is not None:
            match_multiset(eps, flat_endpoints(dev), where + ' endpoints', errs)
        if ifs is not None:
            match_multiset(ifs, [{k: v for k, v in alt.items() if k != 'endpoints'}
                                 for alt in flat_interfaces(dev)],
                           where + ' interfaces', errs)
    return errs


def load_expect(arg):
    text = arg if arg.lstrip().startswith(('{', '[')) else open(arg, encoding='utf-8').read()
    return json.loads(text)


# --------------------------------------------------------------------------
# Main


def parse_args(argv):
    if '--' in argv:
        i = argv.index('--')
        argv, extra = argv[:i], argv[i + 1:]
    else:
        extra = []
    p = argparse.ArgumentParser(
        description='Boot the bareusb test image under QEMU (args after -- go to QEMU).')
    p.add_argument('--kernel', required=True, help='the test image (build/guest/guest.elf)')
    p.add_argument('--arch', choices=sorted(ARCHES),
                   help="the image's architecture (default: from its ELF header)")
    p.add_argument('--qemu', default=os.environ.get('QEMU'),
                   help='QEMU binary (default: qemu-system-<arch>)')
    p.add_argument('--timeout', type=float, default=120, help='seconds before QEMU is killed')
    p.add_argument('--append', action='append', default=[],
                   help='guest kernel command line words (repeatable)')
    p.add_argument('--mem', type=int, default=256, help='guest RAM in MiB')
    p.add_argument('--no-default-controller', action='store_true',
                   help='do not add -device ' + DEFAULT_CONTROLLER)
    p.add_argument('--disk', action='append', default=[], metavar='ID[:MIB]',
                   help='make a raw disk image and add -drive if=none,id=ID')
    p.add_argument('--expect', help='JSON file (or inline JSON) of expected devices')
    p.add_argument('--qmp', action='store_true', help='open a QMP socket')
    p.add_argument('--script', help='Python file with run(guest), run after start-up')
    p.add_argument('--console', metavar='FILE',
                   help="boot with `console` and type FILE's commands (one a line, `-`: "
                        'standard input) on the debug console, then exit')
    p.add_argument('--quiet', action='store_true', help='do not echo the console')
    p.add_argument('--timestamps', action='store_true',
                   help='prefix echoed lines with host seconds since QEMU start')
    p.add_argument('--log', help='also write the console to this file')
    p.add_argument('--pcap', metavar='FILE',
                   help='capture every transfer (guest word usbmon; on x86_64 a second '
                        'serial port, on aarch64 a file written through semihosting) and '
                        'write it to FILE as a pcap')
    p.add_argument('--dry-run', action='store_true', help='print the QEMU command and exit')
    p.add_argument('--inf', metavar='FILE',
                   help='a WinUSB INF the image binds devices from (x86_64: a multiboot module)')
    args = p.parse_args(argv)
    disks = []
    for d in args.disk:
        name, _, size = d.partition(':')
        disks.append((name, int(size) if size else 16))
    args.disks = disks
    return args, extra


PCAP_LINKTYPE_USB_LINUX_MMAPPED = 220
USBMON_HDR = 64


def usbmon_to_pcap(raw, out_path):
    """Write the image's usbmon record stream (64-byte headers, each
    followed by its len_cap bytes of data) as a pcap file of link type 220
    (LINKTYPE_USB_LINUX_MMAPPED), little-endian as the records are.
    Returns (records written, bytes of a cut-off last record)."""
    n, off = 0, 0
    with open(out_path, 'wb') as f:
        # pcap global header: magic, version 2.4, UTC offset, accuracy,
        # snap length, link type.
        f.write(struct.pack('<IHHiIII', 0xa1b2c3d4, 2, 4, 0, 0, 0x40000,
                            PCAP_LINKTYPE_USB_LINUX_MMAPPED))
        while off + USBMON_HDR <= len(raw):
            hdr = raw[off:off + USBMON_HDR]
            ts_sec, ts_usec = struct.unpack_from('<qi', hdr, 16)
            length, len_cap = struct.unpack_from('<II', hdr, 32)
            flag_data = hdr[15]
            if off + USBMON_HDR + len_cap > len(raw):
                break
            rec = raw[off:off + USBMON_HDR + len_cap]
            # The original length counts the data usbmon left out.
            orig = USBMON_HDR + (length if flag_data == 0 else len_cap)
            f.write(struct.pack('<IIII', ts_sec, ts_usec, len(rec), max(orig, len(rec))))
            f.write(rec)
            off += len(rec)
            n += 1
    return n, len(raw) - off


def read_console_file(path):
    """The commands of a --console file, one a line, blank lines dropped
    (`#` comment lines are kept: the console skips them). `-`: standard
    input, read a line at a time as the console asks for them."""
    if path == '-':
        return (l.rstrip('\r\n') for l in sys.stdin if l.strip())
    with open(path, encoding='utf-8') as f:
        text = f.read()
    return [l.rstrip('\r') for l in text.split('\n') if l.strip()]


def run_script(path, guest):
    ns = {'__file__': path, '__name__': 'bareusb_script'}
    with open(path, encoding='utf-8') as f:
        exec(compile(f.read(), path, 'exec'), ns)
    if 'run' not in ns:
        raise RunnerError('%s defines no run(guest)' % path)
    return ns['run'](guest)


def verdict(guest, status, timed_out, script_err, expect):
    """Work out the run's exit code; prints the reasons."""
    failures = []
    code = EXIT_PASS
    results, plan, bail, problems = guest.tap()
    if timed_out:
        failures.append('timeout: QEMU killed after %.0f s' % guest.timeout)
        code = EXIT_TIMEOUT
    elif script_err is not None:
        failures.append('script: %s' % script_err)
        code = EXIT_FAIL
    elif guest.script_ended:
        pass  # the script ended QEMU; its result and the TAP decide
    elif status in QEMU_STATUS:
        if QEMU_STATUS[status] != 'pass':
            failures.append('guest verdict: %s (QEMU status %d)' % (QEMU_STATUS[status], status))
            code = EXIT_FAIL
    elif status == 0:
        failures.append('QEMU exited 0 without a verdict (guest reset, triple fault, '
                        'or PSCI power-off without semihosting?)')
        code = EXIT_ERROR
    else:
        failures.append('QEMU failed with status %s' % status)
        code = EXIT_ERROR

    if bail:
        failures.append(bail)
    failures += problems
    if not results and code == EXIT_PASS:
        failures.append('no TAP results on the console')
    if plan is not None and plan != len(results):
        failures.append('TAP plan 1..%d but %d result(s)' % (plan, len(results)))
    if plan is None and code == EXIT_PASS:
        failures.append('no TAP plan')
    bad = sorted(n for n, ok in results.items() if not ok)
    if bad:
        failures.append('TAP test(s) failed: %s' % ', '.join(map(str, bad)))

    devs, dev_errs = guest.usbdevs()
    failures += dev_errs
    if expect is not None:
        errs = check_expect(expect, devs)
        for e in errs:
            print('expect: MISMATCH %s' % e, flush=True)
        if errs:
            failures.append('%d expectation(s) not met' % len(errs))
        else:
            print('expect: all %d expected device(s) match' % len(
                expect if isinstance(expect, list) else expect.get('devices', [])), flush=True)
    if failures and code == EXIT_PASS:
        code = EXIT_FAIL
    for f in failures:
        print('runner: %s' % f, flush=True)
    tree = guest.boot_to_tree()
    if tree is not None:
        print('runner: boot to tree %.2f s (%s, host clock)' % (tree, guest.arch), flush=True)
    print('runner: %s (%d device line(s), %d TAP result(s), %.1f s)' % (
        'PASS' if code == EXIT_PASS else 'FAIL', len(devs), len(results),
        time.monotonic() - guest.t0), flush=True)
    return code


def main(argv=None):
    args, extra = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        expect = load_expect(args.expect) if args.expect else None
    except (OSError, ValueError) as e:
        print('runner: cannot read --expect: %s' % e, file=sys.stderr)
        return EXIT_ERROR
    arch = args.arch or elf_arch(args.kernel) or 'x86_64'
    if args.console:
        args.append.append('console')
    guest = Guest(args.kernel, qemu=args.qemu, append=' '.join(args.append),
                  mem=args.mem, extra=extra,
                  default_controller=not args.no_default_controller,
                  use_qmp=args.qmp or bool(args.script), echo=not args.quiet,
                  timestamps=args.timestamps, log_path=args.log, disks=args.disks,
                  arch=arch)
    guest.script_ended = False
    guest.timeout = args.timeout
    guest.use_stdin = bool(args.console)
    commands = None
    if args.console:
        try:
            commands = read_console_file(args.console)
        except OSError as e:
            print('runner: cannot read --console: %s' % e, file=sys.stderr)
            guest.finish()
            return EXIT_ERROR
    if args.pcap:
        guest.capture_path = os.path.join(guest.tmpdir, 'usbmon.raw')
    if args.inf:
        if arch != 'x86_64' or not os.path.isfile(args.inf):
            print('runner: --inf needs the x86_64 image and a readable file', file=sys.stderr)
            guest.finish()
            return EXIT_ERROR
        guest.inf = os.path.abspath(args.inf)
    if args.dry_run:
        print(' '.join(shlex.quote(c) for c in guest.command()))
        guest.finish()
        return EXIT_PASS
    script_err, status = None, None
    timed_out = threading.Event()

    def on_timeout():
        timed_out.set()
        guest.kill()

    watchdog = threading.Timer(args.timeout, on_timeout)
    watchdog.daemon = True
    try:
        guest.start()
        watchdog.start()
        if commands is not None:
            guest.console(commands, timeout=args.timeout)
        if args.script:
            try:
                run_script(args.script, guest)
            except Exception as e:  # the script's failure is the test's
                script_err = '%s: %s' % (type(e).__name__, e)
            guest.script_ended = guest.proc.poll() is None
            guest.stop()
        status = guest.proc.wait()
    except RunnerError as e:
        print('runner: %s' % e, file=sys.stderr, flush=True)
        watchdog.cancel()
        if guest.proc is not None:
            guest.kill()
        guest.finish()
        return EXIT_ERROR
    except KeyboardInterrupt:
        watchdog.cancel()
        guest.kill()
        guest.finish()
        return EXIT_ERROR
    watchdog.cancel()
    if args.pcap:
        try:
            with open(guest.capture_path, 'rb') as f:
                raw = f.read()
        except OSError:
            raw = b''
        n, cut = usbmon_to_pcap(raw, args.pcap)
        print('runner: %d usbmon record(s) written to %s%s' % (
            n, args.pcap, ' (%d bytes of a cut-off record dropped)' % cut if cut else ''),
            flush=True)
    guest.finish()
    return verdict(guest, status, timed_out.is_set(), script_err, expect)


if __name__ == '__main__':
    sys.exit(main())
