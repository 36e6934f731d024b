"""etcd membership changes with the API serving: time per step, and the requests that failed during each.

    source .cache/env.sh && python3 bench/etcd_day2.py [--rounds 3]

Needs the nodes of the apiserver Molecule scenario, verified (``molecule verify -s apiserver``, which leaves
etcd on the default release with three members: apiserver-m1..m3 behind the VIP 10.89.30.59:8443, podmaster,
and the etcd-only hosts apiserver-e4 and apiserver-e5 out of the cluster). Each round grows etcd 3 -> 5 onto
e4 and e5 (the scenario's converge.yml with files/etcd_grown.yml added to the inventory) and shrinks it back
(etcd_remove_members, their data wiped), as the scenario's etcd_day2.yml does, while a client of the API
through the VIP lists, creates, gets and watches ConfigMaps and never retries (files/vipclient.py api-loop). It first
shrinks to three members (not measured), whatever an earlier run left. Prints each step's wall time, the
seconds of the role's per-member tasks (joins, stops and removals, from the task timings), the client's
requests, failures and slowest request, the medians, and the load average. It never asserts.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import re
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SCENARIO = os.path.join(os.path.dirname(HERE), 'molecule', 'apiserver')
CLIENT = os.path.join(SCENARIO, 'files', 'vipclient.py')
VIP_URL = 'https://10.89.30.59:8443'
LEAVING = ['apiserver-e4', 'apiserver-e5']


def ephemeral():
    """The scenario's Molecule directory on the controller (its inventory and secrets)."""
    found = glob.glob(os.path.expanduser('~/.ansible/tmp/molecule.*.apiserver/inventory/ansible_inventory.yml'))
    if not found:
        sys.exit('no inventory under ~/.ansible/tmp/molecule.*.apiserver: run "molecule verify -s apiserver" first')
    # the newest (one per checkout of the collection that ran the scenario)
    return os.path.dirname(os.path.dirname(max(found, key=os.path.getmtime)))


def step(eph, name, argv, vip_url=VIP_URL):
    """Run one step with the API client running; (seconds, the client's counts, the run's output).

    Also bench/kubernetes_upgrade.py's (another scenario: its VIP, its ephemeral directory)."""
    stop = os.path.join(eph, 'stop-bench-client')
    if os.path.exists(stop):
        os.unlink(stop)
    secrets = os.path.join(eph, 'secrets')
    client = subprocess.Popen(  # pylint: disable=consider-using-with
        [sys.executable, CLIENT, 'api-loop', vip_url, '--ca', secrets + '/ca/kubernetes.crt', '--cert', secrets + '/kubernetes/admin.crt',
         '--key', secrets + '/kubernetes/admin.key', '--namespace', 'bench-%s-%d' % (name, int(time.time())), '--stop-file', stop,
         '--interval', '0.1'], stdout=subprocess.PIPE, text=True)
    env = dict(os.environ, ANSIBLE_FORCE_COLOR='0', ANSIBLE_NOCOLOR='1', ANSIBLE_CALLBACKS_ENABLED='ansible.posix.profile_tasks',
               MOLECULE_INVENTORY_FILE=os.path.join(eph, 'inventory', 'ansible_inventory.yml'), MOLECULE_EPHEMERAL_DIRECTORY=eph,
               # the scenario's configuration: its connection plugin (kubeha_node) and callbacks
               ANSIBLE_CONFIG=os.path.join(eph, 'ansible.cfg'))
    began = time.monotonic()
    run = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    seconds = time.monotonic() - began
    with open(stop, 'w', encoding='utf-8'):
        pass
    counts = json.loads(client.communicate(timeout=120)[0])
    os.unlink(stop)
    if run.returncode != 0:
        sys.exit('%s failed (rc %d):\n%s' % (name, run.returncode, '\n'.join(run.stdout.splitlines()[-40:])))
    return seconds, counts, run.stdout


def task_seconds(output, pattern):
    """The seconds of the tasks whose name matches ``pattern``, from profile_tasks' lines (``name --- 1.23s``)."""
    return [float(m.group(1)) for m in re.finditer(r'^.*(?:%s).*?-{2,} (\d+\.\d+)s$' % pattern, output, re.M)]


def main():
    """Command line."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n', 1)[0])
    parser.add_argument('--rounds', type=int, default=3)
    args = parser.parse_args()
    eph = ephemeral()
    inventory = os.path.join(eph, 'inventory', 'ansible_inventory.yml')
    converge = os.path.join(SCENARIO, 'converge.yml')
    # the release etcd_day2.yml upgraded to (the scenario's inventory names the one before)
    version = os.environ['KUBEHA_ETCD_VERSION']
    release = {'etcd_version': version, 'etcd_artifact_dir': '%s/etcd/etcd-v%s-linux-%s' % (
        os.environ['KUBEHA_RELEASE_DIR'], version, os.environ.get('KUBEHA_ARCH', 'amd64'))}
    grow_argv = ['ansible-playbook', '-i', inventory, '-i', os.path.join(SCENARIO, 'files', 'etcd_grown.yml'),
                 '--extra-vars', json.dumps(release), converge]
    shrink_argv = ['ansible-playbook', '-i', inventory, '--extra-vars',
                   json.dumps(dict(release, etcd_remove_members=LEAVING, etcd_remove_wipe_data=True)), converge]
    rows = {'grow 3 -> 5': [], 'shrink 5 -> 3': []}
    print('settling: etcd on the three masters (a shrink, not measured)')
    step(eph, 'settle', shrink_argv)
    for number in range(1, args.rounds + 1):
        for name, argv in (('grow 3 -> 5', grow_argv), ('shrink 5 -> 3', shrink_argv)):
            seconds, counts, output = step(eph, name.split()[0], argv)
            member = task_seconds(output, r'Add the member as a learner|Start the learner|Promote the learner|Hand the leaving member|'
                                          r'Stop etcd, its unit or its static pod|Remove a member that left the inventory')
            rows[name].append((seconds, counts))
            print('round %d, %s: %.1f s (the etcd role member tasks: %s s); client: %d requests, %d failed, slowest %.2f s, watch missed %d, '
                  'reconnects %d, relists %d' % (number, name, seconds, '+'.join('%.1f' % s for s in member), counts['requests'],
                                                 counts['failed'], counts['slowest'], counts['watch']['missed'],
                                                 counts['watch']['reconnects'], counts['watch']['relists']))
            if counts['errors']:
                print('  errors: %s' % counts['errors'])
    print()
    for name, got in rows.items():
        seconds = [row[0] for row in got]
        counts = [row[1] for row in got]
        print('%-14s median %.1f s per step (two members, and the rolls of the apiservers and podmaster), %d failed requests '
              'of %d in all, slowest request %.2f s' % (name, statistics.median(seconds), sum(c['failed'] for c in counts),
                                                        sum(c['requests'] for c in counts), max(c['slowest'] for c in counts)))
    print('load average: %s' % ' '.join('%.2f' % x for x in os.getloadavg()))
    return 0


if __name__ == '__main__':
    sys.exit(main())
