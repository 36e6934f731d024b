"""Fencing of a frozen podmaster holder on the demo cluster: do two masters ever run a component at once?

    python3 bench/podmaster_fencing.py [--trials 10]

Needs the demo cluster, converged (`scripts/demo.sh up`) with control_plane_election: podmaster, in
host mode (the default) or in static-pod mode (podmaster a static pod). On every master a sampler reads /proc every 20 ms and reports when a
kube-scheduler or kube-controller-manager process appears or goes (a process counts until it is
gone, shutdown included). Each trial waits until every podmaster agrees on the holder of each component, waits a
random part of the renew interval (a freeze strikes at any point of the renewal cycle), then
SIGSTOPs the kube-scheduler holder's podmaster (`systemctl kill --kill-whom=main -s SIGSTOP podmaster`). The
frozen process cannot stop anything itself: the fence is systemd's watchdog (it kills podmaster;
the components bound to it stop) before the lease can expire on etcd and a peer starts its copies.
In static-pod mode the elector process is frozen (`pkill -STOP`), and the fence is the podmaster pod's
fence container, which removes the copies and waits for (or kills) their processes at the frozen
elector's deadline; nothing kills the frozen elector, so the next copy is always another master's.

Prints, per trial: when the frozen holder's kube-scheduler was gone and when the next copy started
anywhere (seconds after the freeze; the frozen master itself may win again once systemd restarted
its podmaster), and the overlaps: moments when two masters ran the same component, with their
length. Then the totals and the load. Target (issue 14): 0 overlaps over 10 trials. Asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import statistics
import subprocess
import sys
import threading
import time

PREFIX = 'kubeha-demo-'
MASTERS = [PREFIX + 'm1', PREFIX + 'm2', PREFIX + 'm3']
COMPONENTS = ('kube-scheduler', 'kube-controller-manager')
# runs inside each master: prints "<epoch> <component>=<0|1> ..." whenever the set of running components changes
SAMPLER = r'''
import os, sys, time
names = ("kube-scheduler", "kube-controller-manager")
last = None
while True:
    seen = set()
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % pid, "rb") as f:
                exe = f.read().split(b"\0", 1)[0].decode("utf-8", "replace")
        except OSError:
            continue
        base = os.path.basename(exe)
        if base in names:
            seen.add(base)
    state = " ".join("%s=%d" % (n, n in seen) for n in names)
    if state != last:
        print("%.3f %s" % (time.time(), state), flush=True)
        last = state
    time.sleep(0.02)
'''


class Sampler:
    """One sampler per master; keeps (time, {component: running}) transitions."""

    def __init__(self, node):
        self.node = node
        self.events = []
        self.proc = subprocess.Popen(['podman', 'exec', '-i', node, 'python3', '-u', '-c', SAMPLER],
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        for line in self.proc.stdout:
            stamp, *pairs = line.split()
            self.events.append((float(stamp), {k: v == '1' for k, v in (p.split('=') for p in pairs)}))

    def running(self, component, at):
        state = False
        for stamp, seen in self.events:
            if stamp > at:
                break
            state = seen[component]
        return state

    def intervals(self, component, start, end):
        """[(from, to)] when ``component`` ran on this node within [start, end]."""
        out, since = [], (start if self.running(component, start) else None)
        for stamp, seen in self.events:
            if stamp <= start or stamp > end:
                continue
            if seen[component] and since is None:
                since = stamp
            elif not seen[component] and since is not None:
                out.append((since, stamp))
                since = None
        if since is not None:
            out.append((since, end))
        return out

    def stop(self):
        self.proc.kill()


def podman_exec(node, *argv, check=True):
    return subprocess.run(['podman', 'exec', node] + list(argv), capture_output=True, text=True, check=check,
                          timeout=60).stdout


def statuses():
    out = {}
    for node in MASTERS:
        text = podman_exec(node, 'cat', '/run/kubeha/podmaster.json', check=False)
        try:
            out[node] = json.loads(text)
        except ValueError:
            out[node] = {}
    return out


def settled_holder(bound=120):
    """Wait until every podmaster names the same holder of each component and each holder runs it.

    Returns the kube-scheduler's holder (the one to freeze) and its podmaster's settings.
    """
    deadline = time.monotonic() + bound
    while time.monotonic() < deadline:
        data = statuses()
        holders = {}
        for component in COMPONENTS:
            named = {(s.get('components') or {}).get(component, {}).get('holder') for s in data.values()}
            holder = named.pop() if len(named) == 1 else None
            comp = ((data.get(holder) or {}).get('components') or {}).get(component, {}) if holder else {}
            holders[component] = holder if comp.get('active') else None
        if all(holders.values()):
            holder = holders['kube-scheduler']
            return holder, data[holder]['settings']
        time.sleep(0.3)
    sys.exit('podmasters did not settle within %d s: is the demo cluster up (scripts/demo.sh up)?' % bound)


def overlaps(samplers, start, end):
    found = []
    for component in COMPONENTS:
        spans = [(s.node, a, b) for s in samplers for a, b in s.intervals(component, start, end)]
        for i, (n1, a1, b1) in enumerate(spans):
            for n2, a2, b2 in spans[i + 1:]:
                if n1 != n2 and min(b1, b2) > max(a1, a2):
                    found.append((component, n1, n2, min(b1, b2) - max(a1, a2)))
    return found


# podmaster's elector in its static pod (not its fence, which runs with --fence)
ELECTOR = 'podmaster[.]pyz --config=[^ ]+ --identity='


def signal_podmaster(node, signame, check=True):
    """SIGSTOP or SIGCONT the podmaster elector on ``node``: its systemd unit's main process, or its static pod's."""
    static = subprocess.run(['podman', 'exec', node, 'test', '-e', '/etc/kubernetes/manifests/podmaster.yaml'],
                            capture_output=True, check=False, timeout=60).returncode == 0
    if static:
        podman_exec(node, 'pkill', '-' + signame[3:], '-f', ELECTOR, check=check)
    else:
        podman_exec(node, 'systemctl', 'kill', '--kill-whom=main', '-s', signame, 'podmaster.service', check=check)


def trial(samplers):
    holder, settings = settled_holder()
    time.sleep(random.uniform(0, settings['renew_interval']))  # nosec B311
    frozen = time.time()
    signal_podmaster(holder, 'SIGSTOP')
    by_node = {s.node: s for s in samplers}
    gone = started = None
    deadline = frozen + 60
    while time.time() < deadline:
        now = time.time()
        if gone is None and not by_node[holder].running('kube-scheduler', now - 0.1):
            gone = now
        # the next copy anywhere: another master's, or the frozen one's own after systemd restarted its
        # podmaster (a fresh process with a fresh lease may win the key again)
        if gone is not None and started is None and any(s.running('kube-scheduler', now - 0.1) for s in samplers):
            started = now
        if gone and started:
            break
        time.sleep(0.1)
    time.sleep(1)
    end = time.time()
    # whatever the watchdog did, the holder's podmaster must not stay frozen for the next trial
    signal_podmaster(holder, 'SIGCONT', check=False)
    return holder, frozen, gone, started, overlaps(samplers, frozen - 1, end)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--trials', type=int, default=10)
    opts = parser.parse_args()
    samplers = [Sampler(node) for node in MASTERS]
    try:
        total, gones, starts = [], [], []
        for number in range(1, opts.trials + 1):
            holder, frozen, gone, started, found = trial(samplers)
            total.extend(found)
            gones.append(gone - frozen if gone else float('nan'))
            starts.append(started - frozen if started else float('nan'))
            print('trial %d: froze %s; its kube-scheduler gone after %s, the next copy started after %s; overlaps: %s'
                  % (number, holder, '%.2f s' % gones[-1] if gone else 'never',
                     '%.2f s' % starts[-1] if started else 'never',
                     ', '.join('%s on %s and %s for %.2f s' % o for o in found) or 'none'), flush=True)
        good_gone = [g for g in gones if not math.isnan(g)]
        good_start = [s for s in starts if not math.isnan(s)]
        print('fencing (%d SIGSTOP trials): %d overlaps; frozen holder\'s copies gone after median %.2f s (max %.2f s), '
              'new copies started after median %.2f s (min %.2f s); target 0 overlaps'
              % (opts.trials, len(total), statistics.median(good_gone) if good_gone else float('nan'),
                 max(good_gone) if good_gone else float('nan'),
                 statistics.median(good_start) if good_start else float('nan'),
                 min(good_start) if good_start else float('nan')))
        print('load average at the end: %s (%d CPUs)' % (' '.join('%.1f' % x for x in os.getloadavg()), os.cpu_count()))
    finally:
        for sampler in samplers:
            sampler.stop()


if __name__ == '__main__':
    main()
