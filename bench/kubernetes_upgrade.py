"""Kubernetes patch upgrades with the API and a workload serving: time per run, and the requests that failed.

    source .cache/env.sh && python3 bench/kubernetes_upgrade.py [--rounds 3]

Needs the nodes of the default Molecule scenario, converged (``molecule converge -s default``: three masters behind
the VIP 10.89.30.79:8443 and a worker, on KUBEHA_KUBERNETES_PATCH_FROM) and the two releases of the previous minor
release built (scripts/test.sh molecule:default builds them; or scripts/build_release.sh kubernetes VERSION). Each
round runs the scenario's converge.yml (site.yml) with kubeha_kubernetes_version moved to the other patch release
(KUBEHA_KUBERNETES_PREVIOUS_VERSION, then back to KUBEHA_KUBERNETES_PATCH_FROM: a patch downgrade is allowed and rolls
the same way): the apiservers one at a time, the elected components, then each node's kubelet drained, restarted and
made schedulable again. Meanwhile a client of the API through the VIP lists, creates, gets and watches ConfigMaps and
never retries (molecule/apiserver/files/vipclient.py api-loop). Prints each run's wall time, the seconds of the
kubelets' turns (drain, restart, uncordon, from the task timings), the client's requests, failures and slowest
request, the medians, and the load average. It never asserts.
"""

from __future__ import annotations

import argparse
import glob
import os
import re
import statistics
import sys

from etcd_day2 import step  # pylint: disable=import-error  # bench/ is the script's directory

HERE = os.path.dirname(os.path.abspath(__file__))
SCENARIO = os.path.join(os.path.dirname(HERE), 'molecule', 'default')
VIP_URL = 'https://10.89.30.79:8443'


def ephemeral():
    """The scenario's Molecule directory on the controller (its inventory and secrets), the newest."""
    found = glob.glob(os.path.expanduser('~/.ansible/tmp/molecule.*.default/inventory/ansible_inventory.yml'))
    if not found:
        sys.exit('no inventory under ~/.ansible/tmp/molecule.*.default: run "molecule converge -s default" first')
    return os.path.dirname(os.path.dirname(max(found, key=os.path.getmtime)))


def upgrade(eph, version):
    """site.yml to ``version`` with the API client running (etcd_day2.py's step); (seconds, the client's counts, output)."""
    argv = ['ansible-playbook', '-i', os.path.join(eph, 'inventory', 'ansible_inventory.yml'),
            '--extra-vars', 'kubeha_kubernetes_version=' + version, os.path.join(SCENARIO, 'converge.yml')]
    return step(eph, 'upgrade-' + version.replace('.', '-'), argv, vip_url=VIP_URL)


def turn_seconds(output):
    """The seconds of the kubelets' turns (drain, restart, uncordon), summed, from profile_tasks' lines."""
    return sum(float(m.group(1)) for m in re.finditer(
        r'^kubeha\.cluster\.node : (?:Cordon and drain the Node|Restart the kubelet|Once the Node is Ready).*?-{2,} (\d+\.\d+)s$',
        output, re.M))


def main():
    """Command line."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n', 1)[0])
    parser.add_argument('--rounds', type=int, default=3)
    args = parser.parse_args()
    eph = ephemeral()
    # every task in profile_tasks' list, so that each kubelet's turn is counted (20 by default)
    os.environ.setdefault('PROFILE_TASKS_TASK_OUTPUT_LIMIT', 'all')
    older, newer = os.environ['KUBEHA_KUBERNETES_PATCH_FROM'], os.environ['KUBEHA_KUBERNETES_PREVIOUS_VERSION']
    print('settling: every node on %s (not measured)' % older)
    upgrade(eph, older)
    rows = []
    for number in range(1, args.rounds + 1):
        for version in (newer, older):
            seconds, counts, output = upgrade(eph, version)
            rows.append((seconds, counts))
            print('round %d, to %s: %.1f s (the kubelets\' turns %.1f s of it); client: %d requests, %d failed, slowest %.2f s, '
                  'watch missed %d, reconnects %d' % (number, version, seconds, turn_seconds(output), counts['requests'],
                                                      counts['failed'], counts['slowest'], counts['watch']['missed'],
                                                      counts['watch']['reconnects']))
            if counts['errors']:
                print('  errors: %s' % counts['errors'])
    print()
    print('median %.1f s per patch release change (3 apiservers, the elected components, 4 kubelets drained one at a time, '
          '4 kube-proxies), %d failed requests of %d in all, slowest request %.2f s' % (
              statistics.median(r[0] for r in rows), sum(r[1]['failed'] for r in rows), sum(r[1]['requests'] for r in rows),
              max(r[1]['slowest'] for r in rows)))
    print('load average: %s' % ' '.join('%.2f' % x for x in os.getloadavg()))
    return 0


if __name__ == '__main__':
    sys.exit(main())
