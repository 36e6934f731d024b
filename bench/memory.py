"""Resident memory of the real components on the demo cluster, per node and per program.

    python3 bench/memory.py [--samples 3] [--interval 5]

Needs the demo cluster, converged (`scripts/demo.sh up`). Reads the resident set size (RSS) of every
program kubeha runs on each node (`ps` inside the node), a few samples apart, and prints the median
per node and program, the total per node, and the load. Asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import time

NODES = ('kubeha-demo-m1', 'kubeha-demo-m2', 'kubeha-demo-m3', 'kubeha-demo-w1')
PROGRAMS = ('etcd', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kubelet', 'kube-proxy',
            'containerd', 'haproxy', 'keepalived', 'python3', 'monit')


def sample(node):
    """{program: RSS in MiB} of one node (python3 is podmaster there)."""
    # the program's path, not ps's comm (the kernel cuts that to 15 characters: kube-controller)
    out = subprocess.run(['podman', 'exec', node, 'ps', '-e', '-o', 'rss=,args='], capture_output=True, text=True,
                         check=True).stdout
    rss = {}
    for line in out.splitlines():
        kib, _sep, args = line.strip().partition(" ")
        comm = os.path.basename(args.strip().split(" ")[0]) if args.strip() else ""
        if comm in PROGRAMS:
            rss[comm] = rss.get(comm, 0) + int(kib) / 1024.0
    return rss


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--samples', type=int, default=3)
    parser.add_argument('--interval', type=float, default=5.0)
    opts = parser.parse_args()
    seen = {node: {} for node in NODES}
    for number in range(opts.samples):
        if number:
            time.sleep(opts.interval)
        for node in NODES:
            for program, mib in sample(node).items():
                seen[node].setdefault(program, []).append(mib)
    print('%-16s %-26s %s' % ('NODE', 'PROGRAM', 'RSS MiB (median of %d)' % opts.samples))
    for node in NODES:
        total = 0.0
        for program in PROGRAMS:
            if program in seen[node]:
                value = statistics.median(seen[node][program])
                total += value
                print('%-16s %-26s %6.0f' % (node, 'podmaster (python3)' if program == 'python3' else program, value))
        print('%-16s %-26s %6.0f' % (node, 'total', total))
    print('load average at the end: %s (%d CPUs)' % (' '.join('%.1f' % x for x in os.getloadavg()), os.cpu_count()))


if __name__ == '__main__':
    main()
