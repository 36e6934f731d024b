"""Rolling apiserver restarts under a client of the API through the VIP: the requests that failed in each roll.

    source .cache/env.sh && python3 bench/apiserver_roll.py [--rounds 3] [--shutdown-delay 5]

Needs the nodes of the apiserver Molecule scenario, verified (``molecule verify -s apiserver``: apiserver-m1..m3
behind haproxy on two balancers and the VIP 10.89.30.59:8443). Each round re-runs the apiserver role (the scenario's
rerun.yml, --tags apiserver) with another log level (apiserver_log_level 3, then 2 again), so that all three
apiservers restart one at a time, the handler's health-gated roll, with apiserver_shutdown_delay_seconds set to
--shutdown-delay (the role's default 5; 0 shows what a roll costs without the graceful stop). Meanwhile a client of
the API through the VIP lists, creates, gets and watches ConfigMaps, each request on a new connection and never
retried (files/vipclient.py api-loop). Prints per roll its wall time, the client's requests, failures, slowest
request and watch streams broken and events missed; then the medians, the failures in all, and the load average.
It never asserts. It leaves the apiservers on the role's defaults (a last run, not measured, when --shutdown-delay
is not 5).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys

from etcd_day2 import SCENARIO, ephemeral, step


def main():
    """Command line."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n', 1)[0])
    parser.add_argument('--rounds', type=int, default=3)
    parser.add_argument('--shutdown-delay', type=int, default=5)
    args = parser.parse_args()
    eph = ephemeral()
    inventory = os.path.join(eph, 'inventory', 'ansible_inventory.yml')

    def argv(level, delay):
        return ['ansible-playbook', '-i', inventory, '--tags', 'apiserver', '--extra-vars',
                json.dumps({'apiserver_log_level': level, 'apiserver_shutdown_delay_seconds': delay}),
                os.path.join(SCENARIO, 'rerun.yml')]

    print('settling: the apiservers on log level 2 with a shutdown delay of %d s (not measured)' % args.shutdown_delay)
    step(eph, 'settle', argv(2, args.shutdown_delay))
    rows = []
    for number in range(1, args.rounds + 1):
        for level in (3, 2):
            seconds, counts, _output = step(eph, 'roll', argv(level, args.shutdown_delay))
            rows.append((seconds, counts))
            watch = counts['watch']
            print('roll %d (log level %d): %.1f s; client: %d requests, %d failed (watch %d), slowest %.2f s; watch streams %d, '
                  'broken %d, missed %d' % (number, level, seconds, counts['requests'], counts['failed'], watch['failed'],
                                            counts['slowest'], watch['streams'], watch['broken'], watch['missed']))
            for error in counts['errors'] + watch['errors']:
                print('  %s' % error)
    if args.shutdown_delay != 5:
        print('back to the defaults (not measured)')
        step(eph, 'settle', argv(2, 5))
    print()
    print('shutdown delay %d s: %d rolls of 3 apiservers, median %.1f s per roll; %d failed requests of %d in all '
          '(per roll: %s); slowest request %.2f s; watch events missed %d' % (
              args.shutdown_delay, len(rows), statistics.median(row[0] for row in rows), sum(row[1]['failed'] for row in rows),
              sum(row[1]['requests'] for row in rows), ' '.join(str(row[1]['failed']) for row in rows),
              max(row[1]['slowest'] for row in rows), sum(row[1]['watch']['missed'] for row in rows)))
    print('load average: %s' % ' '.join('%.2f' % x for x in os.getloadavg()))
    return 0


if __name__ == '__main__':
    sys.exit(main())
