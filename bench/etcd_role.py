"""Benchmark the etcd role: fresh podman nodes -> healthy 3-member TLS etcd cluster, then the re-run.

    source .cache/env.sh && python3 bench/etcd_role.py [--runs 3] [--nodes 3]

Each run starts fresh nodes from the project image (localhost/kubeha-node:bookworm, systemd as PID 1) on
the `kubeha` network, installs the certificates with the kubeha.cluster.secrets role (not timed), then
times `ansible-playbook` of the kubeha.cluster.etcd role over the podman connection: the converge (static
bootstrap, host mode, Debian's etcd 3.4) and the idempotent re-run. Prints every run and the medians, with
the number of tasks that ran and how many reported changed. It measures; it never asserts on time.

The nodes use the etcd_discovery scenario's address block (10.89.30.21-23, names etcd-disc-bench-N): do not
run it beside that scenario. Reference on this machine's kind of nodes: kubespray's etcd role took
174-191 s to converge and 145-159 s to re-run (3 changed tasks per host on the re-run).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
IMAGE = os.environ.get('KUBEHA_IMAGE', 'localhost/kubeha-node:bookworm')
NETWORK = os.environ.get('KUBEHA_NET', 'kubeha')
PREFIX = 'etcd-disc-bench-'
FIRST_ADDRESS = 21

PREPARE = """---
- name: Install the etcd certificates (not timed)
  hosts: etcd
  gather_facts: false
  roles:
    - role: kubeha.cluster.secrets
"""
# Calibration: what one remote task costs right now on these nodes (the machine's load varies a lot).
CALIBRATE = """---
- name: Five one-module tasks, to measure what a task costs here
  hosts: etcd
  gather_facts: false
  tasks:
""" + "".join("""    - name: Ping %d
      ansible.builtin.ping:
""" % i for i in range(5))
CONVERGE = """---
- name: etcd through the role
  hosts: etcd
  gather_facts: false
  roles:
    - role: kubeha.cluster.etcd
"""


# A callback that counts the remote module runs (round trips) per host: controller-only actions and skipped
# tasks are not counted, loop items are (one round trip each), delegated runs count on the delegated host.
COUNTER = '''
from ansible.plugins.callback import CallbackBase
import json
LOCAL = {"set_fact", "assert", "debug", "meta", "include_tasks", "import_tasks", "include_role", "import_role",
         "fail", "validate_argument_spec", "include_vars", "add_host", "group_by"}
class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "remote_counter"
    CALLBACK_NEEDS_ENABLED = True
    def __init__(self):
        super().__init__()
        self.per_host = {}
    def _count(self, result):
        action = result._task.action.rsplit(".", 1)[-1]
        if action in LOCAL:
            return
        delegated = (result._result.get("_ansible_delegated_vars") or {}).get("inventory_hostname")
        host = delegated or result._host.get_name()
        self.per_host[host] = self.per_host.get(host, 0) + 1
    def v2_runner_on_ok(self, result):
        if "results" not in result._result:
            self._count(result)
    v2_runner_on_failed = v2_runner_on_ok
    def v2_runner_item_on_ok(self, result):
        self._count(result)
    v2_runner_item_on_failed = v2_runner_item_on_ok
    def v2_playbook_on_stats(self, stats):
        self._display.display("KUBEHA-REMOTE-TASKS " + json.dumps(self.per_host, sort_keys=True))
'''


def sh(*cmd, check=True, quiet=True):
    result = subprocess.run(cmd, capture_output=quiet, text=True, check=False)
    if check and result.returncode != 0:
        sys.exit('bench: %s failed (%d): %s' % (' '.join(cmd), result.returncode, (result.stderr or '')[-2000:]))
    return result


def names(count):
    return ['%s%d' % (PREFIX, i) for i in range(1, count + 1)]


def remove_nodes(count):
    for name in names(count):
        sh('podman', 'rm', '-f', '-t', '0', name, check=False)


def start_nodes(count):
    remove_nodes(count)
    for i, name in enumerate(names(count)):
        sh('podman', 'run', '-d', '--name', name, '--hostname', name, '--network', NETWORK,
           '--ip', '10.89.30.%d' % (FIRST_ADDRESS + i), '--cap-add', 'SYS_ADMIN,NET_RAW', '--systemd', 'always',
           IMAGE, '/sbin/init')
    deadline = time.monotonic() + 120
    for name in names(count):
        while True:
            state = sh('podman', 'exec', name, 'systemctl', 'is-system-running', check=False).stdout.strip()
            if state in ('running', 'degraded'):
                break
            if time.monotonic() > deadline:
                sys.exit('bench: %s did not boot (systemd says %r)' % (name, state))
            time.sleep(0.2)


def write_inventory(workdir, count):
    lines = ['all:', '  vars:', '    ansible_connection: containers.podman.podman',
             '    ansible_python_interpreter: /usr/bin/python3',
             '    kubeha_secrets_dir: %s/secrets' % workdir,
             '    secrets_masters_group: etcd',  # kube_secrets wants a master; the members stand in
             '    secrets_masters_are_nodes: false',
             '    secrets_etcd_file_owner: etcd', '    secrets_etcd_file_group: etcd',
             '  children:', '    etcd:', '      hosts:']
    for i, name in enumerate(names(count)):
        lines += ['        %s:' % name, '          kubeha_node_ip: 10.89.30.%d' % (FIRST_ADDRESS + i)]
    path = os.path.join(workdir, 'inventory.yml')
    with open(path, 'w', encoding='utf-8') as handle:
        handle.write('\n'.join(lines) + '\n')
    return path


def playbook(workdir, name, text):
    path = os.path.join(workdir, name)
    with open(path, 'w', encoding='utf-8') as handle:
        handle.write(text)
    return path


def run_playbook(inventory, path):
    """Run it; return (seconds, tasks that ran, changed count over all hosts, output, remote runs per host)."""
    plugins = os.path.join(os.path.dirname(path), 'callback_plugins')
    os.makedirs(plugins, exist_ok=True)
    with open(os.path.join(plugins, 'remote_counter.py'), 'w', encoding='utf-8') as handle:
        handle.write(COUNTER)
    env = dict(os.environ, ANSIBLE_NOCOLOR='1', ANSIBLE_PIPELINING='true', ANSIBLE_RETRY_FILES_ENABLED='0',
               ANSIBLE_FORKS='10', ANSIBLE_CALLBACK_PLUGINS=plugins,
               ANSIBLE_CALLBACKS_ENABLED='ansible.posix.profile_tasks,remote_counter')
    start = time.monotonic()
    result = subprocess.run(['ansible-playbook', '-i', inventory, path], capture_output=True, text=True, env=env,
                            check=False)
    seconds = time.monotonic() - start
    output = result.stdout + result.stderr
    if result.returncode != 0:
        sys.exit('bench: %s failed:\n%s' % (os.path.basename(path), output[-6000:]))
    recap = re.findall(r"^\S+\s+: ok=\d+\s+changed=(\d+)", output, re.M)
    # tasks that ran on at least one host (skipped ones cost almost nothing and are not counted)
    blocks = re.split(r'^TASK \[', output.split('PLAY RECAP')[0], flags=re.M)[1:]
    tasks = sum(1 for block in blocks if re.search(r'^(ok|changed): \[', block, re.M))
    changed = sum(int(c) for c in recap)
    counted = re.findall(r'^KUBEHA-REMOTE-TASKS (.*)$', output, re.M)
    remote = json.loads(counted[-1]) if counted else {}
    return seconds, tasks, changed, output, remote


def remote_text(per_host):
    """'7+3+3 = 13' (first member first: it runs the run_once tasks)."""
    counts = [per_host[h] for h in sorted(per_host)]
    return '%s = %d' % ('+'.join(str(c) for c in counts), sum(counts)) if counts else '-'


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--runs', type=int, default=3)
    parser.add_argument('--nodes', type=int, default=3, choices=[1, 3])
    parser.add_argument('--keep', action='store_true', help='leave the nodes of the last run running')
    args = parser.parse_args()

    rows = []
    with tempfile.TemporaryDirectory(prefix='etcd-bench-') as workdir:
        inventory = write_inventory(workdir, args.nodes)
        prepare = playbook(workdir, 'prepare.yml', PREPARE)
        converge = playbook(workdir, 'converge.yml', CONVERGE)
        calibrate = playbook(workdir, 'calibrate.yml', CALIBRATE)
        try:
            for run in range(1, args.runs + 1):
                start_nodes(args.nodes)
                run_playbook(inventory, prepare)
                first = run_playbook(inventory, converge)
                second = run_playbook(inventory, converge)
                per_task = run_playbook(inventory, calibrate)[0] / 5
                rows.append((first, second, per_task))
                print('run %d: converge %6.1f s (%d tasks ran, %d changed)   re-run %6.1f s (%d tasks ran, %d changed)'
                      '   one ping task: %.1f s' % (run, first[0], first[1], first[2], second[0], second[1], second[2],
                                                    per_task), flush=True)
                print('       remote module runs per member: converge %s   re-run %s' % (
                    remote_text(first[4]), remote_text(second[4])), flush=True)
        finally:
            if not args.keep:
                remove_nodes(args.nodes)

    converge_times = [r[0][0] for r in rows]
    rerun_times = [r[1][0] for r in rows]
    print()
    print('etcd role, %d fresh podman nodes -> healthy %d-member TLS cluster (host mode, static bootstrap), %d runs'
          % (args.nodes, args.nodes, len(rows)))
    print('  converge  median %6.1f s  (min %.1f, max %.1f)  tasks that ran %d, changed %d (all hosts)'
          % (statistics.median(converge_times), min(converge_times), max(converge_times), rows[-1][0][1], rows[-1][0][2]))
    print('  re-run    median %6.1f s  (min %.1f, max %.1f)  tasks that ran %d, changed %d (all hosts)'
          % (statistics.median(rerun_times), min(rerun_times), max(rerun_times), rows[-1][1][1], rows[-1][1][2]))
    per_task = statistics.median([r[2] for r in rows])
    print('  one remote task (ansible.builtin.ping on %d nodes) took %.1f s (median): converge = %.1f, re-run = %.1f'
          ' such tasks' % (args.nodes, per_task, statistics.median(converge_times) / per_task,
                           statistics.median(rerun_times) / per_task))
    print('  remote module runs per member (round trips; the first member also runs the run_once checks):'
          ' converge %s, re-run %s' % (remote_text(rows[-1][0][4]), remote_text(rows[-1][1][4])))
    print('  targets: converge <= 30 s, re-run <= 15 s with changed=0 (at ~2 s per task: 15 and 7.5 tasks);'
          ' re-run <= 2 remote tasks per member + the run_once checks; kubespray here: 174-191 s / 145-159 s')
    load = os.getloadavg()
    print('  load average during the bench: %.1f %.1f %.1f on %d CPUs' % (load[0], load[1], load[2], os.cpu_count()))
    print()
    print('slowest tasks of the last converge:')
    recap = rows[-1][0][3].split('TASKS RECAP')[-1].splitlines()
    for line in [line for line in recap if re.search(r' -+ [0-9.]+s$', line)][:8]:
        print('  ' + line.strip())


if __name__ == '__main__':
    main()
