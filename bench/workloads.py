"""Benchmark workloads on fresh demo nodes: converge -> every Node Ready -> the smoke test passing; memory at rest.

    source .cache/env.sh && python3 bench/workloads.py [--runs 3]

Each run removes the demo cluster (`scripts/demo.sh down`), starts fresh nodes (`scripts/demo.sh nodes`),
and starts `playbooks/site.yml` (pipelining on, podman connection). While it runs, the API is asked once a
second, through the VIP with the admin kubeconfig and the built kubectl, how many Nodes are Ready. After the
converge, `playbooks/smoke.yml` runs (3 replicas spread, DNS across nodes, a node's kubelet and containerd
killed and back, a pod replaced, the master holding the elected components stopped and started again). Times
are from the start of the converge:
  ready  - every Node of the inventory reports Ready (the pod network is up; target issue 16)
  smoke  - the smoke test has passed (its own duration is printed beside it)
Then, with the smoke test's namespace gone and nothing else to do, each node's memory (podman stats: the
node container's cgroup, every process in it) is sampled 5 times, 2 s apart. Prints every run and the medians,
with the load average at the start and the end of each run. It measures; it never asserts on time.
Leaves the demo cluster up.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NODES = ['kubeha-demo-m1', 'kubeha-demo-m2', 'kubeha-demo-m3', 'kubeha-demo-w1']
RELEASE = os.environ.get('KUBEHA_RELEASE_DIR', '/var/tmp/kubeha/release')
KUBECTL = [os.path.join(RELEASE, 'kubernetes', 'v' + os.environ.get('KUBEHA_KUBERNETES_VERSION', '1.35.4'), 'bin', 'linux',
                        os.environ.get('KUBEHA_ARCH', 'amd64'), 'kubectl'),
           '--kubeconfig', os.path.join(ROOT, 'inventories', 'demo', 'secrets', 'admin.kubeconfig'), '--request-timeout=3s']
ENV = dict(os.environ, ANSIBLE_PIPELINING='true', ANSIBLE_NOCOLOR='1')


def demo(*args):
    subprocess.run(['bash', os.path.join(ROOT, 'scripts', 'demo.sh'), *args], cwd=ROOT, check=True, stdout=subprocess.DEVNULL)


def ready_nodes():
    proc = subprocess.run(KUBECTL + ['get', 'nodes', '-o', 'json'], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        return 0
    count = 0
    for node in json.loads(proc.stdout).get('items', []):
        conditions = node.get('status', {}).get('conditions', [])
        count += any(c.get('type') == 'Ready' and c.get('status') == 'True' for c in conditions)
    return count


def memory_mib():
    """{node: median MiB over 5 samples} of each demo node container."""
    samples = {n: [] for n in NODES}
    for _sample in range(5):
        out = subprocess.run(['podman', 'stats', '--no-stream', '--format', 'json'] + NODES,
                             capture_output=True, text=True, check=True).stdout
        for row in json.loads(out):
            name = row.get('name') or row.get('Name')
            used = row.get('mem_usage') or row.get('MemUsage') or ''
            samples[name].append(_mib(used.split('/')[0].strip()))
        time.sleep(2)
    return {n: statistics.median(v) for n, v in samples.items() if v}


def _mib(text):
    units = {'B': 1 / 1048576, 'kB': 1 / 1024, 'KB': 1 / 1024, 'KiB': 1 / 1024, 'MB': 1, 'MiB': 1, 'GB': 1024, 'GiB': 1024}
    for unit in sorted(units, key=len, reverse=True):
        if text.endswith(unit):
            return float(text[:-len(unit)]) * units[unit]
    return float('nan')


def one_run():
    demo('down')
    demo('nodes')
    load_start = os.getloadavg()[0]
    start = time.monotonic()
    site = subprocess.Popen(['ansible-playbook', '-i', 'inventories/demo/hosts.yml', 'playbooks/site.yml'], cwd=ROOT, env=ENV,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    ready = None
    while site.poll() is None:
        if ready is None and os.path.exists(KUBECTL[2]) and ready_nodes() == len(NODES):
            ready = time.monotonic() - start
        time.sleep(1)
    converge = time.monotonic() - start
    if site.returncode != 0:
        sys.exit('site.yml failed:\n' + site.stdout.read()[-3000:])
    if ready is None and ready_nodes() == len(NODES):
        ready = converge
    smoke = subprocess.run(['ansible-playbook', '-i', 'inventories/demo/hosts.yml', 'playbooks/smoke.yml'], cwd=ROOT, env=ENV,
                           capture_output=True, text=True, check=False)
    if smoke.returncode != 0:
        sys.exit('smoke.yml failed:\n' + smoke.stdout[-3000:])
    passed = time.monotonic() - start
    smoke_took = passed - converge
    # at rest: the smoke test's namespace deleted, its pods gone
    subprocess.run(KUBECTL + ['wait', '--for=delete', 'namespace/kubeha-smoke', '--timeout=120s'], capture_output=True, check=False)
    return {'converge': converge, 'ready': ready, 'smoke': passed, 'smoke_took': smoke_took, 'memory': memory_mib(),
            'load': (load_start, os.getloadavg()[0])}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n', 1)[0])
    parser.add_argument('--runs', type=int, default=3)
    args = parser.parse_args()
    runs = []
    print('%-4s %10s %9s %9s %10s  %-24s %s' % ('run', 'converge', 'ready', 'smoke', 'smoke took', 'memory MiB (m1 m2 m3 w1)',
                                                'load 1m start/end'))
    for i in range(args.runs):
        r = one_run()
        runs.append(r)
        print('%-4d %9.1fs %8.1fs %8.1fs %9.1fs  %-24s %.1f/%.1f' % (
            i + 1, r['converge'], r['ready'], r['smoke'], r['smoke_took'], ' '.join('%.0f' % r['memory'].get(n, 0) for n in NODES),
            *r['load']), flush=True)
    med = {k: statistics.median(r[k] for r in runs) for k in ('converge', 'ready', 'smoke', 'smoke_took')}
    mem = {n: statistics.median(r['memory'].get(n, 0) for r in runs) for n in NODES}
    print('%-4s %9.1fs %8.1fs %8.1fs %9.1fs  %-24s (medians of %d; %d cores)' % (
        'med', med['converge'], med['ready'], med['smoke'], med['smoke_took'], ' '.join('%.0f' % mem[n] for n in NODES), len(runs),
        os.cpu_count()))


if __name__ == '__main__':
    main()
