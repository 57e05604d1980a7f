"""Register writes and doorbells by name (guest `trace=reg,db`): the driver's
bring-up writes USBCMD, CRCR, DCBAAP, CONFIG and the interrupter's ERSTSZ,
ERSTBA and ERDP; port resets write PORTSC; doorbells name the command ring
and each endpoint. No TRB or event lines.
"""


def run(guest):
    guest.wait_for(r'^1\.\.\d+$', 60)
    trace = [l for l in guest.lines if l.startswith('[trace]')]
    for rx in (r': write USBCMD = 0x[0-9a-f]{8}$', r': write CRCR = 0x[0-9a-f]{16}$',
               r': write DCBAAP = 0x[0-9a-f]{16}$', r': write CONFIG = 0x[0-9a-f]{8}$',
               r': write IR0\.ERSTSZ = 0x0000000[1-4]$', r': write IR0\.ERSTBA = 0x[0-9a-f]{16}$',
               r': write IR0\.ERDP = 0x[0-9a-f]{16}$', r': write PORTSC\d+ = 0x[0-9a-f]{8}$',
               r': doorbell DB0 = 0x00000000 \(command ring\)$',
               r': doorbell DB1 = 0x00000001 \(slot 1 DCI 1, ep 0x00\)$'):
        guest.wait_for(rx, 1)
    for what in (': cmd @', ': xfer @', ': event @'):
        assert not any(what in l for l in trace), 'filtered-out category traced: ' + what
