"""Benchmark playbooks/site.yml: fresh demo nodes -> the whole HA control plane, then the re-run.

    source .cache/env.sh && python3 bench/site_converge.py [--runs 3]

Each run removes the demo cluster (`scripts/demo.sh down`), starts fresh nodes (`scripts/demo.sh
nodes`: 3 masters, 1 worker, stand-ins for the Kubernetes binaries), then times `ansible-playbook
-i inventories/demo/hosts.yml playbooks/site.yml` over the podman connection (pipelining on), and the
idempotent re-run. Prints every run and the medians as a table: wall time, tasks that ran (per host,
summed), and how many reported changed. It measures; it never asserts on time. Targets: converge
<= 120 s, re-run <= 35 % of the converge with changed=0. Leaves the demo cluster up.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RECAP = re.compile(r'^(\S+)\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)\s+skipped=(\d+)')


def demo(*args):
    subprocess.run(['bash', os.path.join(ROOT, 'scripts', 'demo.sh'), *args], cwd=ROOT, check=True,
                   stdout=subprocess.DEVNULL)


def site():
    """(seconds, tasks that ran, changed, failed) of one site.yml run."""
    env = dict(os.environ, ANSIBLE_PIPELINING='true', ANSIBLE_NOCOLOR='1')
    start = time.monotonic()
    proc = subprocess.run(['ansible-playbook', '-i', 'inventories/demo/hosts.yml', 'playbooks/site.yml'],
                          cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    seconds = time.monotonic() - start
    ran = changed = failed = 0
    for line in proc.stdout.splitlines():
        match = RECAP.match(line)
        if match:
            ok, chg, unreachable, fail = (int(match.group(i)) for i in (2, 3, 4, 5))
            ran += ok + fail
            changed += chg
            failed += fail + unreachable
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout[-4000:] + proc.stderr[-2000:])
        raise SystemExit('site.yml failed (exit %d); see above' % proc.returncode)
    return seconds, ran, changed, failed


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--runs', type=int, default=3)
    opts = parser.parse_args()
    rows = []
    for run in range(1, opts.runs + 1):
        demo('down')
        demo('nodes')
        converge = site()
        rerun = site()
        rows.append((converge, rerun))
        print('run %d: converge %6.1f s, %4d tasks, %3d changed | re-run %6.1f s, %4d tasks, %3d changed (%.0f %%)'
              % (run, converge[0], converge[1], converge[2], rerun[0], rerun[1], rerun[2], 100 * rerun[0] / converge[0]),
              flush=True)
    conv = statistics.median(r[0][0] for r in rows)
    again = statistics.median(r[1][0] for r in rows)
    print()
    print('%-10s %10s %12s %9s' % ('', 'wall (s)', 'host-tasks', 'changed'))
    print('%-10s %10.1f %12d %9d' % ('converge', conv, rows[0][0][1], rows[0][0][2]))
    print('%-10s %10.1f %12d %9d' % ('re-run', again, rows[0][1][1], max(r[1][2] for r in rows)))
    print('re-run / converge: %.0f %% (target <= 35 %%); converge target <= 120 s; load average %s'
          % (100 * again / conv, ' '.join('%.1f' % x for x in os.getloadavg())))
    print('median of %d runs over the podman connection, pipelining on; the SSH figures are not measured yet' % opts.runs)


if __name__ == '__main__':
    main()
