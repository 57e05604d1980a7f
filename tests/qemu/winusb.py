"""WinUSB end to end on QEMU (runner --script), checked against data the
host side controls. The guest runs `winusb=<test>` (guest/winusb_test.c);
this script picks the same test from the kernel command line:

  storage  fills the disk image with random bytes, hot-plugs usb-storage,
           checks the FNV-1a the guest read, then (after the guest left)
           that the image holds the guest's pattern everywhere
  serial   sends bytes into usb-serial's chardev socket and checks that
           they come back, then the guest's pattern, byte for byte
  kbd      types keys through QMP input-send-event and checks the HID
           usages the guest read from the interrupt pipe
  audio    after the guest left, finds the guest's samples in the WAV file
           the wav audiodev wrote
  mtp      checks the compatible ID the guest reported

The guest exits QEMU itself when done; the script waits for that, so the
verdict is the guest's TAP plus these checks.
"""

import json
import os
import random
import re
import socket
import struct
import time


def arg_value(guest, key):
    """The value of `key=` in the kernel command line."""
    m = re.search(r'(?:^| )%s=(\S+)' % re.escape(key), guest.append)
    return m.group(1) if m else None


def qemu_prop(guest, ident, prop):
    """Property `prop` of the -chardev/-audiodev/-drive with id=ident."""
    for a in guest.extra:
        parts = a.split(',')
        if 'id=' + ident in parts:
            for p in parts:
                if p.startswith(prop + '='):
                    return p[len(prop) + 1:]
    raise AssertionError('no QEMU argument with id=%s and %s=' % (ident, prop))


def fnv64(data):
    h = 0xcbf29ce484222325
    for b in data:
        h = ((h ^ b) * 0x100000001b3) & 0xffffffffffffffff
    return h


def result_line(guest, name, timeout=120):
    _, m = guest.wait_for(r'^%s (\{.*\})$' % re.escape(name), timeout)
    return json.loads(m.group(1))


def wait_guest_exit(guest, timeout=60):
    """The guest leaves QEMU by itself after its report."""
    deadline = time.monotonic() + timeout
    while guest.proc.poll() is None:
        if time.monotonic() > deadline:
            raise AssertionError('the guest did not finish within %d s' % timeout)
        time.sleep(0.05)


# --------------------------------------------------------------------------


def pattern_block(lba):
    """Block `lba` of the pattern guest/winusb_test.c writes."""
    return bytes(((lba * 7 + i * 13 + (lba >> 8) + (i >> 8) + 0x5a) & 0xff)
                 for i in range(512))


def run_storage(guest):
    size = int(arg_value(guest, 'winusb.mib') or 8) << 20
    path = os.path.join(guest.tmpdir, 'winusb-disk.img')
    rnd = random.Random(int(time.time()))
    data = rnd.randbytes(size)
    with open(path, 'wb') as f:
        f.write(data)
    want = fnv64(data)
    guest.wait_for(r'^winusb: .*|^ok \d+ - bus 0 settled', 60)
    guest.qmp.blockdev_add_file('wudisk', path)
    guest.qmp.device_add('usb-storage', bus='xhci.0', port='1', drive='wudisk', id='wums')
    res = result_line(guest, 'winusb-storage')
    assert res['blocks'] * res['block_size'] == size, res
    assert int(res['read_fnv'], 16) == want, \
        'guest read FNV %s, the image has %016x' % (res['read_fnv'], want)
    print('winusb: the guest read the whole image (FNV %016x)' % want, flush=True)
    wait_guest_exit(guest)
    with open(path, 'rb') as f:
        img = f.read()
    bad = [lba for lba in range(size // 512)
           if img[lba * 512:(lba + 1) * 512] != pattern_block(lba)]
    assert not bad, '%d blocks differ from the pattern, first %d' % (len(bad), bad[0])
    print('winusb: the image holds the pattern the guest wrote (%d blocks)' % (size // 512),
          flush=True)


def run_serial(guest):
    n = int(arg_value(guest, 'winusb.n') or 1000)
    m = int(arg_value(guest, 'winusb.m') or 1024)
    path = qemu_prop(guest, 'wuser', 'path')
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    deadline = time.monotonic() + 10
    while True:
        try:
            s.connect(path)
            break
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
    s.settimeout(30)
    guest.wait_for(r'^winusb-serial: ready', 60)
    rnd = random.Random(n)
    sent = rnd.randbytes(n)
    # In pieces, as a terminal would: usb-serial buffers only a few hundred bytes.
    for i in range(0, n, 64):
        s.sendall(sent[i:i + 64])
        time.sleep(0.002)
    want = sent + bytes(((i * 5 + 3) & 0xff) for i in range(m))
    got = b''
    while len(got) < len(want):
        chunk = s.recv(65536)
        if not chunk:
            break
        got += chunk
    res = result_line(guest, 'winusb-serial')
    assert res['received'] == n and int(res['fnv'], 16) == fnv64(sent), res
    assert got[:n] == sent, 'echo differs at byte %d' % next(
        i for i in range(min(len(got), n)) if got[i] != sent[i]) if len(got) >= n else \
        'echo short: %d of %d bytes' % (len(got), n)
    assert got == want, 'pattern differs (%d bytes of %d)' % (len(got), len(want))
    print('winusb: %d bytes in through ReadPipe, %d out through WritePipe, byte for byte'
          % (n, len(want)), flush=True)
    s.close()


QCODE_USAGE = {'a': 4, 'b': 5, 'c': 6, 'd': 7, 'e': 8, 'f': 9, 'g': 10, 'h': 11, 'i': 12,
               'j': 13, 'k': 14, 'l': 15, 'm': 16, 'n': 17, 'o': 18, 'p': 19, 'q': 20,
               'r': 21, 's': 22, 't': 23, 'u': 24, 'v': 25, 'w': 26, 'x': 27, 'y': 28,
               'z': 29}


def run_kbd(guest):
    keys = 'winusb'
    guest.wait_for(r'^winusb-kbd: ready', 60)
    time.sleep(0.2)
    for k in keys:
        guest.qmp.send_keys([k], down=True)
        time.sleep(0.05)
        guest.qmp.send_keys([k], down=False)
        time.sleep(0.05)
    res = result_line(guest, 'winusb-kbd')
    want = [QCODE_USAGE[k] for k in keys]
    assert res['usages'] == want, 'usages %r, typed %r' % (res['usages'], want)
    print('winusb: %d key presses arrived as HID reports' % len(keys), flush=True)


def wav_frames(path):
    with open(path, 'rb') as f:
        data = f.read()
    assert data[:4] == b'RIFF' and data[8:12] == b'WAVE', 'not a WAV file'
    off = 12
    fmt = None
    while off + 8 <= len(data):
        cid, clen = data[off:off + 4], struct.unpack('<I', data[off + 4:off + 8])[0]
        if cid == b'fmt ':
            fmt = struct.unpack('<HHIIHH', data[off + 8:off + 24])
        if cid == b'data':
            body = data[off + 8:]
            if clen and clen <= len(body):
                body = body[:clen]
            return fmt, body
        off += 8 + clen
    raise AssertionError('no data chunk')


def run_audio(guest):
    res = result_line(guest, 'winusb-audio')
    wait_guest_exit(guest)
    fmt, body = wav_frames(qemu_prop(guest, 'wusnd', 'path'))
    assert fmt[1] == 2 and fmt[2] == 48000 and fmt[5] == 16, 'WAV format %r' % (fmt,)
    frames = [struct.unpack('<HH', body[i:i + 4]) for i in range(0, len(body) - 3, 4)]
    # The guest's frame n is left = 0x1000 + n (16 bits, wrapping), right = ~left.
    matches = 0
    in_order = 0
    last = None
    for l, r in frames:
        if r != (~l & 0xffff) or l == 0:
            continue
        matches += 1
        if last is not None and l == (last + 1) & 0xffff:
            in_order += 1
        last = l
    frac = min(matches, res['frames']) / res['frames']
    print('winusb: %d of %d frames in the WAV (%.1f%%), %d in sequence'
          % (matches, res['frames'], 100 * frac, in_order), flush=True)
    assert frac >= 0.9 and in_order >= 0.9 * res['frames'], \
        'only %.1f%% of the samples arrived' % (100 * frac)


def run_mtp(guest):
    res = result_line(guest, 'winusb-mtp')
    assert res['compat_id'] == 'MTP' and res['discovery'] == 'MTP', res
    print('winusb: usb-mtp reports compatible ID %s' % res['compat_id'], flush=True)


def run(guest):
    test = arg_value(guest, 'winusb')
    {'storage': run_storage, 'serial': run_serial, 'kbd': run_kbd, 'audio': run_audio,
     'mtp': run_mtp}[test](guest)
    # The guest's TAP plan and exit status are the rest of the verdict.
    wait_guest_exit(guest)
