#!/usr/bin/env python3
"""Write the hand-made seed inputs of fuzz/corpus/<harness>/ (run from
anywhere; existing files of the same name are overwritten, others kept).

Each seed is a well-formed case of what its harness parses, laid out as the
harness reads its input (see the comment at the top of fuzz/fuzz_*.c), so
the fuzzer starts from inputs that get past the first checks.
"""
import os
import struct

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'corpus')
GUID = '{6A1D3C9E-5B2F-4E8A-9C71-0D3E5F7A9B21}'
PLATFORM_UUID = bytes([0xdf, 0x60, 0xdd, 0xd8, 0x89, 0x45, 0xc7, 0x4c,
                       0x9c, 0xd2, 0x65, 0x9d, 0x9e, 0x64, 0x8a, 0x9f])


def w16(s):
    return s.encode('utf-16-le')


def put(harness, name, data):
    d = os.path.join(ROOT, harness)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), 'wb') as f:
        f.write(bytes(data))


# ---- MS OS 1.0 (Microsoft OS Descriptors 1.0) ------------------------------

def os_string(vendor):
    return bytes([0x12, 3]) + w16('MSFT100') + bytes([vendor, 0])


def compat_id(funcs):
    body = b''.join(bytes([first, 1]) + cid.ljust(8, b'\0') + sub.ljust(8, b'\0') + bytes(6)
                    for first, cid, sub in funcs)
    return struct.pack('<IHHB7x', 16 + len(body), 0x0100, 4, len(funcs)) + body


def ext_prop(ptype, name, data):
    n = w16(name) + b'\0\0'
    return struct.pack('<IIH', 14 + len(n) + len(data), ptype, len(n)) + n + \
        struct.pack('<I', len(data)) + data


def ext_props(props):
    body = b''.join(props)
    return struct.pack('<IHHH', 10 + len(body), 0x0100, 5, len(props)) + body


GUID_SZ = ext_prop(1, 'DeviceInterfaceGUID', w16(GUID) + b'\0\0')
GUIDS_MULTI = ext_prop(7, 'DeviceInterfaceGUIDs',
                       w16(GUID) + b'\0\0' + w16(GUID.lower()) + b'\0\0\0\0')
IDLE = ext_prop(4, 'DeviceIdleEnabled', struct.pack('<I', 1))
TIMEOUT = ext_prop(4, 'DefaultIdleTimeout', struct.pack('<I', 5000))

# ---- MS OS 2.0 --------------------------------------------------------------


def msos2_compat(cid=b'WINUSB'):
    return struct.pack('<HH', 20, 3) + cid.ljust(8, b'\0') + bytes(8)


def msos2_prop(ptype, name, data):
    n = w16(name) + b'\0\0'
    return struct.pack('<HHHH', 10 + len(n) + len(data), 4, ptype, len(n)) + n + \
        struct.pack('<H', len(data)) + data


def msos2_set(body):
    return struct.pack('<HHIH', 10, 0, 0x06030000, 10 + len(body)) + body


def msos2_config(value, body):
    return struct.pack('<HHBBH', 8, 1, value, 0, 8 + len(body)) + body


def msos2_function(first, body):
    return struct.pack('<HHBBH', 8, 2, first, 0, 8 + len(body)) + body


MSOS2_GUIDS = msos2_prop(7, 'DeviceInterfaceGUIDs', w16(GUID) + b'\0\0\0\0')
SET_PLAIN = msos2_set(msos2_compat() + MSOS2_GUIDS)
SET_COMPOSITE = msos2_set(msos2_config(0, msos2_function(0, msos2_compat() + MSOS2_GUIDS) +
                                       msos2_function(2, msos2_compat(b'WINUSB') +
                                                      msos2_prop(4, 'DeviceIdleEnabled',
                                                                 struct.pack('<I', 1)))) +
                          struct.pack('<HHH', 6, 8, 0x0102))


def bos(caps):
    body = b''.join(caps)
    return struct.pack('<BBHB', 5, 15, 5 + len(body), len(caps)) + body


def msos2_cap(set_len, vendor, alt=0):
    return bytes([28, 16, 5, 0]) + PLATFORM_UUID + struct.pack('<IHBB', 0x06030000, set_len,
                                                               vendor, alt)


USB2_EXT = bytes([7, 16, 2, 2, 0, 0, 0])
BOS = bos([USB2_EXT, msos2_cap(len(SET_PLAIN), 0x20)])
BOS_COMPOSITE = bos([msos2_cap(len(SET_COMPOSITE), 0x20)])


def msos_seeds():
    # Parser targets: byte 0 target, byte 1 argument, then the descriptor.
    put('msos', 'os_string', [0, 0] + list(os_string(0x21)))
    put('msos', 'compat_header', [1, 0] + list(compat_id([(0, b'WINUSB', b'')])[:16]))
    put('msos', 'props_header', [1, 1] + list(ext_props([GUID_SZ])[:10]))
    put('msos', 'compat_id', [2, 4] + list(compat_id([(0, b'WINUSB', b''),
                                                     (2, b'RNDIS', b'5162001')])))
    put('msos', 'ext_props', [3, 1] + list(ext_props([GUID_SZ, GUIDS_MULTI, IDLE, TIMEOUT])))
    put('msos', 'bos_platform', [4, 0] + list(BOS))
    put('msos', 'set_plain', [5, 1] + list(SET_PLAIN))
    put('msos', 'set_composite', [5, 0x43] + list(SET_COMPOSITE))
    put('msos', 'property', [6, 1, 40] + list(w16('DeviceInterfaceGUID') + b'\0\0') +
        list(w16(GUID) + b'\0\0'))
    put('msos', 'guid', [7, 0] + list(GUID.lower().encode()))
    # Sequencer: target >= 8, bcdUSB, config index, interfaces; then per
    # request a status byte (0x80: all that was asked) or 0 + LE16 length,
    # and the data.

    def ans(data):
        return [0] + list(struct.pack('<H', len(data))) + list(data)

    put('msos', 'fetch_msos2', [8] + list(struct.pack('<H', 0x0210)) + [0, 2] +
        ans(BOS[:5]) + ans(BOS) + ans(SET_PLAIN))
    put('msos', 'fetch_msos2_composite', [8] + list(struct.pack('<H', 0x0210)) + [0, 3] +
        ans(BOS_COMPOSITE[:5]) + ans(BOS_COMPOSITE) + ans(SET_COMPOSITE))
    compat = compat_id([(0, b'WINUSB', b''), (1, b'WINUSB', b'')])
    props = ext_props([GUID_SZ, IDLE])
    put('msos', 'fetch_msos1', [8] + list(struct.pack('<H', 0x0200)) + [0, 2] +
        ans(os_string(0x21)) + ans(compat[:16]) + ans(compat) +
        ans(props[:10]) + ans(props) + [1] + ans(props[:10]) + ans(props))
    put('msos', 'fetch_bos_then_msos1', [8] + list(struct.pack('<H', 0x0210)) + [0, 1] +
        [1] + ans(os_string(0x21)) + ans(compat[:16]) + ans(compat))


# ---- WinUsb_Parse* ------------------------------------------------------------

def config(ifaces):
    body = b''
    for num, alt, cls, eps in ifaces:
        body += bytes([9, 4, num, alt, len(eps), cls, 0, 0, 0])
        for ep in eps:
            body += bytes([7, 5, ep, 2, 0, 2, 0])
        body += bytes([5, 0x24, 0, 0x10, 1])  # a class-specific descriptor
    return struct.pack('<BBHBBBBB', 9, 2, 9 + len(body), len(ifaces), 1, 0, 0x80, 50) + body


def parse_seeds():
    cfg = config([(0, 0, 0xff, [0x01, 0x81]), (0, 1, 0xff, [0x02, 0x82]),
                  (1, 0, 0x02, [0x83])])
    # byte 0: bit 0 ParseDescriptors, bits 1-5 wildcards; bytes 1-5
    # criteria; 6-7 start offset; 8 TotalLength trim.
    put('winusb_parse', 'config_all', [0x3e, 0, 0, 0, 0, 0, 0, 0, 0] + list(cfg))
    put('winusb_parse', 'config_alt1', [0x30, 0, 1, 0xff, 0, 0, 0, 0, 0] + list(cfg))
    put('winusb_parse', 'config_null_start', [0x3e, 0, 0, 0, 0, 0, 0xff, 0xff, 0] + list(cfg))
    put('winusb_parse', 'descriptors_endpoints', [1, 5, 0, 0, 0, 0, 9, 0, 0] + list(cfg))
    put('winusb_parse', 'descriptors_any', [3, 0, 0, 0, 0, 0, 0, 0, 3] + list(cfg))


# ---- hub --------------------------------------------------------------------

def hub_seeds():
    # byte 0: bits 0-1 kind (hs, fs, mtt, ss), bits 2-4 port of a device,
    # bit 5 it is a hub, bit 6 unplug after byte 1 x 20 ms; then edits.
    put('hub', 'hs_kbd_port1', [0x04, 0])
    put('hub', 'fs_kbd_port1', [0x05, 0])
    put('hub', 'mtt_kbd_port7', [0x1e, 0])
    put('hub', 'ss_hub_below_port1', [0x27, 0])
    put('hub', 'hs_hub_below_port1', [0x24, 0])
    put('hub', 'hs_unplug_100ms', [0x48, 5])
    # hub descriptor replaced by one claiming 15 ports, then port status
    # words flipped and a status-change bitmap naming every port.
    hub_desc = bytes([9, 0x29, 15, 0x09, 0, 50, 100, 0, 0])
    put('hub', 'hs_desc_15_ports', [0x04, 0, 1, len(hub_desc)] + list(hub_desc) +
        [2 | (2 << 2), 0, 0x03, 2, 0x10] + [1 | (2 << 2), 0xff, 0xff])
    ss_desc = bytes([12, 0x2a, 4, 0x09, 0, 50, 0, 4, 0, 0, 0, 0])
    put('hub', 'ss_desc_status_edits', [0x07, 0, 1, len(ss_desc)] + list(ss_desc) +
        [0, 0, 1 | (4 << 2), 0x01, 0x01, 0x01, 0x00, 2 | (1 << 2), 3, 0x40])


# ---- WinUSB API -------------------------------------------------------------
# byte 0 the device (bits 0-1 FS/HS/SS, bit 2 MS OS 1.0 model, bit 3
# composite); then calls: opcode, slot byte, arguments in the order
# fuzz_winusb_api.c's run_op reads them. Handle bytes 0-3 are slots,
# OVERLAPPED byte 0x80 is "none" (synchronous).

def w_write(pipe_idx, len_byte, ov=0x80):
    return [13, 0, pipe_idx, ov, 0, 0, len_byte]


def w_read(pipe_idx, len_byte, ov=0x80):
    return [12, 0, pipe_idx, ov, 0, 0, len_byte]


GET_OV = [17, 0, 0x00, 1, 0]          # GetOverlappedResult(ov 0, wait)
SET_ALT1 = [7, 0, 0, 1]
TIMEOUT_81 = [10, 0, 0x01, 3, 4, 5, 0, 0, 0, 0]   # PIPE_TRANSFER_TIMEOUT 5 ms on 0x81


def api_seeds():
    put('winusb_api', 'open_only_hs', [1])
    put('winusb_api', 'loopback_overlapped', [1] + w_write(0, 0x41) + w_read(1, 0x41, 0) +
        GET_OV + [15, 1, 1, 0])
    put('winusb_api', 'loopback_ss', [2] + w_write(0, 0xc0, 0) + w_read(1, 0xc0) + GET_OV)
    put('winusb_api', 'timeout_then_abort', [1] + TIMEOUT_81 + w_read(1, 0x41) +
        w_read(1, 0x41, 1) + [15, 1, 1, 0] + [17, 0, 0x01, 1, 0])
    put('winusb_api', 'policies', [1] + [10, 0, 0x01, 1, 1, 1, 0] + [10, 0, 0x01, 5, 1, 0, 0] +
        [11, 0, 0x01, 8, 4, 0] + [16, 1, 0x81, 1, 1, 0] + [16, 0, 0x83, 4, 0])
    put('winusb_api', 'control_echo', [1] + [14, 0, 0x80, 0x40, 0x10, 0, 0, 0, 0, 0, 0, 0x10] +
        [14, 0, 0x80, 0xc0, 0x11, 0, 0, 0, 0, 0, 0, 0x10])
    put('winusb_api', 'query', [1] + [4, 0, 1, 0, 0, 0, 0, 0, 0x12] + [4, 0, 2, 0, 0, 0, 0, 0, 0x41] +
        [5, 0, 0, 1] + [6, 0, 1, 4, 0] + [8, 0, 0] + [9, 0, 1, 3, 0] + [9, 1, 0, 0, 0])
    put('winusb_api', 'isoch_hs', [1] + SET_ALT1 + [19, 0, 0x04, 0, 0, 0x84] +
        [21, 0, 0, 0, 0x84, 0, 0, 0, 0, 8, 0x80, 3] +
        [19, 1, 0x03, 0, 0, 0x84] + [21, 0, 1, 0, 0x82, 0, 0, 0, 0, 0, 0x80, 2] +
        [21, 0, 0, 0, 0x84, 5, 0, 0, 0, 8, 0x00, 0x11] + GET_OV + [20, 0, 0])
    put('winusb_api', 'unplug_pending', [1] + w_read(1, 0x41, 0) + [25, 0, 0] + GET_OV +
        [2, 0, 0] + [18, 0, 5, 0])
    put('winusb_api', 'composite_assoc', [9] + [3, 1, 0, 0] + [4, 1, 2, 0, 0, 0, 1, 0, 0x41] +
        [2, 0, 1] + [17, 3, 0x80, 0, 0])
    put('winusb_api', 'time_sync', [1] + [23, 0, 1, 0, 0, 0, 0, 0, 0, 0] +
        [23, 1, 0, 0, 1, 10, 0, 0, 0, 0] + [23, 2, 0, 0, 1, 0, 0, 0, 0, 0] + [22, 1, 0, 0, 0, 0, 0])
    put('winusb_api', 'os1_events', [5] + [18, 2, 0] + [18, 0, 2, 4] + [18, 0, 3, 0] +
        [0, 1, 0] + [1, 1, 1] + [24, 0, 5])


if __name__ == '__main__':
    msos_seeds()
    parse_seeds()
    hub_seeds()
    api_seeds()
