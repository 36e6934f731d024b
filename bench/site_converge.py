"""Benchmark playbooks/site.yml: fresh demo nodes -> the whole HA control plane, then the re-run.

    source .cache/env.sh && python3 bench/site_converge.py [--runs 3] [--connection podman|ssh|both] [--mode host|static_pod]

Each run removes the demo cluster (`scripts/demo.sh down`), starts fresh nodes (`scripts/demo.sh
nodes`: 3 masters, 1 worker, the real Kubernetes and etcd releases built by scripts/setup.sh, sshd with
the demo key), then
times `ansible-playbook -i inventories/demo/hosts.yml playbooks/site.yml` (pipelining on), the
idempotent re-run (the fast path: every host as the last run left it, the stages skipped) and a re-run
of every stage (`-e kubeha_site_fast_path=false`, what a run with a changed input costs), over the
podman connection (podman exec; it has no pipelining) or over SSH (`-i inventories/demo/ssh.yml`:
how users reach real machines). Prints every run and the medians as
a table: wall time, tasks that ran (per host, summed), how many reported changed, the CPU time
of the controller's processes (a busy machine inflates wall time, not CPU time), and the seconds
each role took (ansible.posix.profile_roles). It measures; it
never asserts on time. Targets on the real programs: converge <= 150 s, the fast-path re-run <= 10 s
with changed=0.
With --mode static_pod every run adds -e @inventories/demo/static_pod.yml: the control plane as static pods.
Leaves the demo cluster up.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ROLE_LINE = re.compile(r'^(?:kubeha\.cluster\.)?([\w.]+) -+ ([\d.]+)s$')
RECAP = re.compile(r'^(\S+)\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)\s+skipped=(\d+)')
INVENTORIES = {
    'podman': ['-i', 'inventories/demo/hosts.yml'],
    'ssh': ['-i', 'inventories/demo/hosts.yml', '-i', 'inventories/demo/ssh.yml'],
}


def demo(*args):
    subprocess.run(['bash', os.path.join(ROOT, 'scripts', 'demo.sh'), *args], cwd=ROOT, check=True,
                   stdout=subprocess.DEVNULL)


def children_cpu():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


MODE_VARS = {'host': [], 'static_pod': ['-e', '@inventories/demo/static_pod.yml']}


def site(connection, *extra):
    """(seconds, tasks that ran, changed, controller CPU seconds, seconds per role) of one site.yml run."""
    env = dict(os.environ, ANSIBLE_PIPELINING='true', ANSIBLE_NOCOLOR='1',
               ANSIBLE_CALLBACKS_ENABLED='ansible.posix.profile_roles')
    start, cpu = time.monotonic(), children_cpu()
    proc = subprocess.run(['ansible-playbook', *INVENTORIES[connection], 'playbooks/site.yml', *extra],
                          cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    seconds, cpu = time.monotonic() - start, children_cpu() - cpu
    ran = changed = 0
    roles, in_roles = {}, False
    for line in proc.stdout.splitlines():
        in_roles = in_roles or line.startswith('ROLES RECAP')
        role = ROLE_LINE.match(line.strip()) if in_roles else None
        if role and role.group(1) != 'total':
            roles[role.group(1)] = float(role.group(2))
        match = RECAP.match(line)
        if match:
            ok, chg, fail = (int(match.group(i)) for i in (2, 3, 5))
            ran += ok + fail
            changed += chg
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout[-4000:] + proc.stderr[-2000:])
        raise SystemExit('site.yml over %s failed (exit %d); see above' % (connection, proc.returncode))
    return seconds, ran, changed, cpu, roles


def measure(connection, runs, mode):
    rows = []
    extra = MODE_VARS[mode]
    for run in range(1, runs + 1):
        demo('down')
        demo('nodes')
        converge = site(connection, *extra)
        rerun = site(connection, *extra)
        full = site(connection, *extra, '-e', 'kubeha_site_fast_path=false')
        rows.append((converge, rerun, full))
        print('%-6s %s run %d: converge %6.1f s (cpu %5.1f s), %4d tasks, %3d changed | re-run %6.1f s (cpu %5.1f s), %4d tasks, %3d changed (%.0f %%)'
              ' | every stage %6.1f s, %4d tasks, %3d changed'
              % (connection, mode, run, converge[0], converge[3], converge[1], converge[2], rerun[0], rerun[3], rerun[1], rerun[2],
                 100 * rerun[0] / converge[0], full[0], full[1], full[2]), flush=True)
    return rows


def table(connection, rows, mode):
    conv = statistics.median(r[0][0] for r in rows)
    again = statistics.median(r[1][0] for r in rows)
    print()
    print('%s connection, %s mode, median of %d runs (pipelining on)' % (connection, mode, len(rows)))
    full = statistics.median(r[2][0] for r in rows)
    print('%-12s %10s %10s %12s %9s' % ('', 'wall (s)', 'cpu (s)', 'host-tasks', 'changed'))
    for label, index, wall in (('converge', 0, conv), ('re-run', 1, again), ('every stage', 2, full)):
        cpu = statistics.median(r[index][3] for r in rows)
        print('%-12s %10.1f %10.1f %12d %9d' % (label, wall, cpu, rows[0][index][1], max(r[index][2] for r in rows)))
    print('re-run / converge: %.0f %%; targets on the real programs: converge <= 150 s, re-run <= 10 s with changed=0; '
          'every stage / converge: %.0f %%'
          % (100 * again / conv, 100 * full / conv))
    print("seconds per role (profile_roles; site.yml's own tasks under ansible.builtin.*), median over the runs:")
    names = sorted(set(rows[0][0][4]) | set(rows[0][1][4]) | set(rows[0][2][4]), key=lambda n: -rows[0][0][4].get(n, 0))
    for name in names:
        print('  %-28s converge %6.1f   re-run %6.1f   every stage %6.1f' % (
            name, *(statistics.median(r[i][4].get(name, 0) for r in rows) for i in range(3))))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--runs', type=int, default=3)
    parser.add_argument('--connection', choices=['podman', 'ssh', 'both'], default='both')
    parser.add_argument('--mode', choices=sorted(MODE_VARS), default='host')
    opts = parser.parse_args()
    connections = ['podman', 'ssh'] if opts.connection == 'both' else [opts.connection]
    results = [(c, measure(c, opts.runs, opts.mode)) for c in connections]
    for connection, rows in results:
        table(connection, rows, opts.mode)
    print('load average at the end: %s (%d CPUs)' % (' '.join('%.1f' % x for x in os.getloadavg()), os.cpu_count()))


if __name__ == '__main__':
    main()
