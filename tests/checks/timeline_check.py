#!/usr/bin/env python3
"""scripts/timeline on a captured boot log (timeline-boot.log, the test
image's console with five devices: a USB 3 stick, a keyboard and a tablet
on USB 2 root ports, a hub and a mouse below it): the output is an SVG
xml.etree parses, with one row per usbenum line, one bar per step in time
order, a label with the bus, path and product, an axis in ms and a legend
naming each step kind drawn. TAP.

    timeline_check.py --script scripts/timeline --log timeline-boot.log
"""
import argparse
import json
import subprocess
import sys
import xml.etree.ElementTree as ET

NS = '{http://www.w3.org/2000/svg}'


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--script', required=True)
    ap.add_argument('--log', required=True)
    a = ap.parse_args()
    with open(a.log, encoding='utf-8') as f:
        lines = f.read().splitlines()
    enums = [json.loads(l[len('usbenum '):]) for l in lines if l.startswith('usbenum {')]
    products = {json.loads(l[7:])['path']: json.loads(l[7:])['product']
                for l in lines if l.startswith('usbdev {')}
    results = []

    def check(ok, text, detail=None):
        results.append(ok)
        print('%s %d - %s' % ('ok' if ok else 'not ok', len(results), text))
        if not ok and detail:
            print('# ' + str(detail))

    print('1..8')
    r = subprocess.run([sys.executable, a.script, a.log], capture_output=True, text=True)
    check(r.returncode == 0, 'scripts/timeline exits 0', r.stderr)
    try:
        root = ET.fromstring(r.stdout)
    except ET.ParseError as e:
        check(False, 'the output is well-formed XML', e)
        return 1
    check(root.tag == NS + 'svg' and root.get('width') and root.get('viewBox'),
          'the root is an <svg> with a size and a viewBox', root.tag)
    rows = root.findall('.//%sg[@class="device"]' % NS)
    check(len(rows) == len(enums) == 5, 'one row per device (%d)' % len(rows))
    bars_ok, order_ok, label_ok = True, True, True
    for e in enums:
        g = root.find('.//%sg[@id="dev-%s-%s"]' % (NS, e['bus'], e['path']))
        if g is None:
            bars_ok = False
            continue
        bars = g.findall('%srect[@class="step"]' % NS)
        if len(bars) != len(e['steps']) or any(float(b.get('width')) <= 0 for b in bars):
            bars_ok = False
        xs = [float(b.get('x')) for b in bars]
        if xs != sorted(xs):
            order_ok = False
        text = ''.join(t.text or '' for t in g.findall('%stext' % NS))
        if e['path'] not in text or (products.get(e['path']) or '-') not in text:
            label_ok = False
    check(bars_ok, 'each row has one bar per step')
    check(order_ok, 'bars run left to right in step order')
    check(label_ok, 'each row is labelled with its path and product')
    axis = [t.text for t in root.findall('.//%sg[@class="axis-labels"]/%stext' % (NS, NS))]
    check(len(axis) >= 3 and axis[0] == '0' and any('ms' in (t.text or '')
                                                    for t in root.iter(NS + 'text')),
          'a time axis in ms starting at 0', axis)
    kinds = {s['step'] for e in enums for s in e['steps']}
    legend = {t.text for t in root.findall('.//%sg[@class="legend"]/%stext' % (NS, NS))}
    fills = {}
    for g in rows:
        for b in g.findall('%srect[@class="step"]' % NS):
            fills.setdefault(b.find(NS + 'title').text.split(': ')[1].split(',')[0], set()).add(
                b.get('fill'))
    check(legend == kinds and all(len(v) == 1 for v in fills.values())
          and len({next(iter(v)) for v in fills.values()}) == len(fills),
          'a legend entry and one colour per step kind', (sorted(legend ^ kinds), fills))
    return 0 if all(results) else 1


if __name__ == '__main__':
    sys.exit(main())
