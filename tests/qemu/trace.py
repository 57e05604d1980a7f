"""TRB-level trace (runner --script, guest `trace`): every command,
transfer TRB and event is logged decoded, in the order the driver sees them.
Checks one device's enumeration from port change to SET_CONFIGURATION.
"""


def run(guest):
    w = guest.wait_for
    i, _ = w(r'event @0x[0-9a-f]+: Port Status Change Event port=\d+ cc=Success', 30)
    i, _ = w(r'cmd @0x[0-9a-f]+: Enable Slot type=\d+ C=1', 30, i)
    i, _ = w(r'event @0x[0-9a-f]+: Command Completion Event slot=1 cmd=0x[0-9a-f]+ cc=Success', 30, i)
    i, _ = w(r'cmd @0x[0-9a-f]+: Address Device slot=1 ctx=0x[0-9a-f]+ C=1', 30, i)
    # GET_DESCRIPTOR(DEVICE, 8): a Setup Stage with IDT and TRT=IN, a Data
    # Stage IN, a Status Stage OUT, then its Transfer Event.
    i, _ = w(r'xfer @0x[0-9a-f]+: Setup Stage bmRequestType=0x80 bRequest=0x06 '
             r'wValue=0x0100 wIndex=0x0000 wLength=8 trt=3 C? ?IDT', 30, i)
    i, _ = w(r'xfer @0x[0-9a-f]+: Data Stage buf=0x[0-9a-f]+ len=8 td=0 dir=in', 30, i)
    i, _ = w(r'xfer @0x[0-9a-f]+: Status Stage dir=out', 30, i)
    i, _ = w(r'event @0x[0-9a-f]+: Transfer Event slot=1 ep=1 trb=0x[0-9a-f]+ len=0 cc=Success', 30, i)
    i, _ = w(r'cmd @0x[0-9a-f]+: Configure Endpoint slot=1 ctx=0x[0-9a-f]+ C=1', 30, i)
    i, _ = w(r'xfer @0x[0-9a-f]+: Setup Stage bmRequestType=0x00 bRequest=0x09 ', 30, i)
    i, _ = w(r'^usbdev ', 30, i)
    w(r'^1\.\.\d+$', 30, i)
