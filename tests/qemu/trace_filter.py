"""The trace aimed at one slot and endpoint (guest `trace=xfer,event,slot=2,ep=0x00`,
bu_xhci_trace_filter): with a keyboard and a tablet attached, only slot 2's
EP0 transfer TRBs and events (and slot 2's command completions) appear; no commands, doorbells or register writes,
nothing of slot 1.
"""
import re


def run(guest):
    guest.wait_for(r'^1\.\.\d+$', 60)
    trace = [l for l in guest.lines if l.startswith('[trace]')]
    xfers = [l for l in trace if ': xfer @' in l]
    events = [l for l in trace if ': event @' in l]
    assert xfers, 'no transfer TRB traced'
    assert events, 'no event traced'
    for l in xfers:
        assert l.endswith('slot=2 DCI=1 (ep 0x00)'), 'transfer of another endpoint: ' + l
    for l in events:
        assert 'Transfer Event slot=2 DCI=1 (ep 0x00)' in l or \
            'Command Completion Event slot=2 ' in l or \
            re.search(r'Port Status Change Event|Host Controller Event', l), \
            'event of another slot or endpoint: ' + l
    assert any('Setup Stage GET_DESCRIPTOR(DEVICE, 0, 8)' in l for l in xfers), \
        'no GET_DESCRIPTOR(DEVICE) by name'
    assert any('residual=0 cc=Success' in l for l in events), 'no residual in events'
    for what in (': cmd @', 'doorbell DB', ': write ', 'Input Context'):
        assert not any(what in l for l in trace), 'filtered-out category traced: ' + what
