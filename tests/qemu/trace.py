"""TRB-level trace (runner --script, guest `trace`): every command,
transfer TRB and event is logged decoded, in the order the driver sees them.
Checks one device's enumeration from port change to SET_CONFIGURATION.
"""


def run(guest):
    w = guest.wait_for
    i, _ = w(r'event @0x[0-9a-f]+: Port Status Change Event port=\d+ cc=Success', 30)
    i, _ = w(r'cmd @0x[0-9a-f]+: Enable Slot type=\d+ C=1', 30, i)
    i, _ = w(r'event @0x[0-9a-f]+: Command Completion Event slot=1 cmd=0x[0-9a-f]+ cc=Success', 30, i)
    # The Input Context, field by field (xHCI 1.2 §6.2.5.1, §6.2.2, §6.2.3):
    # Slot and EP0 added; one context entry; EP0 a Control endpoint with
    # three retries and DCS 1. Then what the controller made of it.
    i, _ = w(r'slot 1 Address Device, Input Context: drop=0x00000000 add=0x00000003 '
             r'config=0 interface=0 alt=0', 30, i)
    i, _ = w(r'slot 1   slot: route=0x00000 speed=\d MTT=0 hub=0 entries=1 '
             r'max_exit_latency=0 root_port=\d+ ports=0 .* address=0 state=', 30, i)
    i, _ = w(r'slot 1   DCI 1 \(ep 0x00\): state=Disabled type=Control MPS=\d+ .*CErr=3 '
             r'.*deq=0x[0-9a-f]+ DCS=1 avg_trb_len=8', 30, i)
    i, _ = w(r'cmd @0x[0-9a-f]+: Address Device slot=1 ctx=0x[0-9a-f]+ C=1', 30, i)
    i, _ = w(r'slot 1 Address Device, Output Device Context:', 30, i)
    i, _ = w(r'slot 1   slot: .* address=\d+ state=Addressed', 30, i)
    i, _ = w(r'slot 1   DCI 1 \(ep 0x00\): state=Running type=Control', 30, i)
    # GET_DESCRIPTOR(DEVICE, 8): a Setup Stage with IDT and TRT=IN, a Data
    # Stage IN, a Status Stage OUT, then its Transfer Event.
    i, _ = w(r'xfer @0x[0-9a-f]+: Setup Stage GET_DESCRIPTOR\(DEVICE, 0, 8\) bmRequestType=0x80 bRequest=0x06 '
             r'wValue=0x0100 wIndex=0x0000 wLength=8 trt=3 C? ?IDT', 30, i)
    i, _ = w(r'xfer @0x[0-9a-f]+: Data Stage buf=0x[0-9a-f]+ len=8 td=0 dir=in', 30, i)
    i, _ = w(r'xfer @0x[0-9a-f]+: Status Stage dir=out', 30, i)
    i, _ = w(r'event @0x[0-9a-f]+: Transfer Event slot=1 DCI=1 \(ep 0x00\) trb=0x[0-9a-f]+ residual=0 cc=Success', 30, i)
    # The keyboard's interrupt IN endpoint 1 is DCI 3 (add flag bit 3).
    i, _ = w(r'slot 1 Configure Endpoint, Input Context: drop=0x[0-9a-f]+ add=0x00000009 '
             r'config=\d+ interface=0 alt=0', 30, i)
    i, _ = w(r'slot 1   slot: .* entries=3 ', 30, i)
    i, _ = w(r'slot 1   DCI 3 \(ep 0x81\): state=Disabled type=Interrupt IN MPS=8 '
             r'max_burst=0 mult=0 .*interval=\d+ CErr=3 .*max_esit_payload=8', 30, i)
    i, _ = w(r'cmd @0x[0-9a-f]+: Configure Endpoint slot=1 ctx=0x[0-9a-f]+ C=1', 30, i)
    i, _ = w(r'slot 1   DCI 3 \(ep 0x81\): state=Running type=Interrupt IN', 30, i)
    i, _ = w(r'xfer @0x[0-9a-f]+: Setup Stage SET_CONFIGURATION\(1\) bmRequestType=0x00 bRequest=0x09 ', 30, i)
    i, _ = w(r'^usbdev ', 30, i)
    w(r'^1\.\.\d+$', 30, i)
