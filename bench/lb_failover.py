"""How fast the load balancer recovers: haproxy dropping a dead apiserver, the VIP moving to the backup.

    python3 bench/lb_failover.py [--rounds 5] [--skip-kill]

Needs the nodes of the apiserver Molecule scenario, converged (``molecule converge -s apiserver``):
masters apiserver-m1..m3, haproxy + keepalived on m1 and m2, VIP 10.89.30.59:8443. Prints figures, the
median of each, and the targets; asserts nothing about time.

1. Dead backend: SIGKILL kube-apiserver on apiserver-m3; time until each haproxy reports it DOWN
   (watchers on the balancers poll haproxy's admin socket every 10 ms; the kill time is taken on the
   node, and nodes share the host's clock). Target: median <= 1 s.
2. VIP move, clean: ``systemctl stop keepalived`` on the holder; time until /readyz through the VIP
   answers 200 from the backup (the first request started after the backup had the VIP).
3. VIP move, holder dies: ``podman kill`` of the holder node; same measure. Target: median <= 3 s.
   The killed node is started again and the cluster settles before the next round.
"""

from __future__ import annotations

import argparse
import glob
import http.client
import json
import os
import ssl
import statistics
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
WATCH = os.path.join(os.path.dirname(HERE), 'molecule', 'apiserver', 'files', 'haproxy_watch.py')
LBS = ('apiserver-m1', 'apiserver-m2')
VICTIM = 'apiserver-m3'
VIP, PORT = '10.89.30.59', 8443


def podman(*args, check=True, timeout=60):
    """Run podman; return stdout."""
    return subprocess.run(('podman',) + args, check=check, capture_output=True, text=True, timeout=timeout).stdout


def find_ca():
    """The scenario's cluster CA on the controller."""
    found = glob.glob(os.path.expanduser('~/.ansible/tmp/molecule.*.apiserver/secrets/ca/kubernetes.crt'))
    if not found:
        sys.exit('no CA found under ~/.ansible/tmp/molecule.*.apiserver/secrets: run "molecule converge -s apiserver" first')
    # the newest (one per checkout of the collection that ran the scenario)
    return max(found, key=os.path.getmtime)


def watch(node, server, state, timeout=30):
    """Start haproxy_watch.py in node; return the process once it has begun watching."""
    with open(WATCH, 'rb') as handle:
        script = handle.read()
    command = ['podman', 'exec', '-i', node, 'python3', '-', '--server', server, '--state', state, '--timeout', str(timeout)]
    proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # pylint: disable=consider-using-with
    proc.stdin.write(script.decode())
    proc.stdin.close()
    line = proc.stderr.readline()
    if not line.startswith('watching'):
        raise RuntimeError('%s: watcher did not start: %s%s' % (node, line, proc.stderr.read()))
    return proc


def watch_result(proc):
    """When the watched state was reached (time.time()), or None."""
    out = proc.stdout.read()
    proc.wait(timeout=60)
    proc.stderr.read()
    return json.loads(out.strip().splitlines()[-1])['at']


def in_node_time(node, code):
    """Run python code in node that prints time.time() just before acting; return that time."""
    return float(podman('exec', node, 'python3', '-c', code).strip().splitlines()[-1])


def kill_apiserver(node):
    """SIGKILL the kube-apiserver main process; the node's clock at the kill."""
    return in_node_time(node, 'import os, subprocess, time\n'
                              'pid = int(subprocess.check_output(["systemctl", "show", "-p", "MainPID", "--value", "kube-apiserver"]))\n'
                              'now = time.time(); os.kill(pid, 9); print(now)')


def stop_keepalived(node):
    """systemctl stop keepalived; the node's clock at the stop."""
    return in_node_time(node, 'import subprocess, time\nnow = time.time()\n'
                              'subprocess.run(["systemctl", "stop", "keepalived"], check=True); print(now)')


def vip_holder():
    """The balancer whose eth0 carries the VIP, or None."""
    for node in LBS:
        out = podman('exec', node, 'ip', '-o', '-4', 'addr', 'show', 'dev', 'eth0', check=False)
        if VIP + '/' in out:
            return node
    return None


def wait_for(predicate, bound, what):
    """Poll predicate until true, at most bound seconds."""
    deadline = time.monotonic() + bound
    while not predicate():
        if time.monotonic() > deadline:
            raise RuntimeError('timed out after %ds waiting for %s' % (bound, what))
        time.sleep(0.1)


class Prober:
    """GET /readyz through the VIP every 20 ms in a thread; keeps (start, end, ok) of every attempt."""

    def __init__(self, ca):
        self.context = ssl.create_default_context(cafile=ca)
        self.attempts = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _once(self):
        conn = http.client.HTTPSConnection(VIP, PORT, timeout=0.5, context=self.context)
        try:
            conn.request('GET', '/readyz')
            return conn.getresponse().status == 200
        except (OSError, ssl.SSLError, http.client.HTTPException):
            return False
        finally:
            conn.close()

    def _run(self):
        while not self.stop.is_set():
            start = time.time()
            ok = self._once()
            self.attempts.append((start, time.time(), ok))
            time.sleep(0.02)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join()

    def first_ok_started_after(self, moment):
        """End time of the first successful request that started at or after moment."""
        for start, end, ok in self.attempts:
            if ok and start >= moment:
                return end
        return None


def vip_appears(node, timeout=30):
    """Start a poller in node printing time.time() when the VIP appears on eth0; return the process."""
    code = ('import subprocess, sys, time\nsys.stderr.write("watching\\n"); sys.stderr.flush()\n'
            'deadline = time.monotonic() + %f\n'
            'while time.monotonic() < deadline:\n'
            '    if "%s/" in subprocess.run(["ip", "-o", "-4", "addr", "show", "dev", "eth0"], capture_output=True, text=True).stdout:\n'
            '        print(time.time()); break\n'
            '    time.sleep(0.01)\n' % (timeout, VIP))
    proc = subprocess.Popen(['podman', 'exec', node, 'python3', '-c', code],  # pylint: disable=consider-using-with
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    proc.stderr.readline()
    return proc


def settle(ca):
    """Wait until every backend is UP on both balancers and the VIP answers."""
    for node in LBS:
        for server in ('apiserver-m1', 'apiserver-m2', 'apiserver-m3'):
            watch_result(watch(node, server, 'UP', timeout=60))
    wait_for(vip_holder, 30, 'a VIP holder')
    with Prober(ca) as prober:
        wait_for(lambda: any(ok for _s, _e, ok in prober.attempts), 30, 'the VIP to answer')


def bench_backend(rounds):
    """Seconds from SIGKILL of an apiserver to DOWN in haproxy, per balancer and round."""
    figures = []
    for number in range(rounds):
        watchers = {node: watch(node, VICTIM, 'DOWN') for node in LBS}
        killed = kill_apiserver(VICTIM)
        downs = {node: watch_result(proc) for node, proc in watchers.items()}
        for node, at in downs.items():
            figures.append(None if at is None else at - killed)
        print('  round %d: %s' % (number + 1, ', '.join('%s %.2f s' % (n, a - killed) if a else '%s never' % n for n, a in downs.items())))
        podman('exec', VICTIM, 'systemctl', 'start', 'kube-apiserver')
        for node in LBS:
            watch_result(watch(node, VICTIM, 'UP'))
    return figures


def bench_vip(rounds, ca, how):
    """Seconds from the holder's failure to the first answer through the VIP from the backup."""
    figures = []
    for number in range(rounds):
        holder = vip_holder()
        backup = [n for n in LBS if n != holder][0]
        appears = vip_appears(backup)
        with Prober(ca) as prober:
            wait_for(lambda: any(ok for _s, _e, ok in prober.attempts), 10, 'the VIP to answer before the fault')  # noqa: B023
            if how == 'stop':
                failed_at = stop_keepalived(holder)
            else:
                failed_at = time.time()
                podman('kill', holder)
            out, _err = appears.communicate(timeout=60)
            taken_at = float(out.strip()) if out.strip() else None
            wait_for(lambda: taken_at is not None and prober.first_ok_started_after(taken_at) is not None, 30,
                     'an answer from the backup')  # noqa: B023
            answered = prober.first_ok_started_after(taken_at)
        figures.append(answered - failed_at)
        print('  round %d: %s -> %s, VIP on the backup after %.2f s, answering after %.2f s'
              % (number + 1, holder, backup, taken_at - failed_at, answered - failed_at))
        if how == 'stop':
            podman('exec', holder, 'systemctl', 'start', 'keepalived')
        else:
            podman('start', holder)
        settle(ca)
    return figures


def report(name, figures, target):
    """Print one figure line."""
    good = [f for f in figures if f is not None]
    median = statistics.median(good) if good else float('nan')
    print('%-44s median %.2f s  (min %.2f, max %.2f, n=%d%s)  target <= %.1f s'
          % (name, median, min(good) if good else float('nan'), max(good) if good else float('nan'), len(good),
             ', %d never' % (len(figures) - len(good)) if len(good) != len(figures) else '', target))


def main():
    """Command line."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n', 1)[0])
    parser.add_argument('--rounds', type=int, default=5)
    parser.add_argument('--skip-kill', action='store_true', help='skip the podman kill rounds (slowest)')
    args = parser.parse_args()
    ca = find_ca()
    settle(ca)
    print('haproxy: SIGKILLed apiserver out of rotation (%d rounds, both balancers)' % args.rounds)
    backend = bench_backend(args.rounds)
    print('VIP: keepalived stopped on the holder (%d rounds)' % args.rounds)
    clean = bench_vip(args.rounds, ca, 'stop')
    killed = []
    if not args.skip_kill:
        print('VIP: holder node killed (podman kill, %d rounds)' % args.rounds)
        killed = bench_vip(args.rounds, ca, 'kill')
    print()
    report('dead apiserver out of rotation', backend, 1.0)
    report('VIP answering from backup, clean stop', clean, 3.0)
    if killed:
        report('VIP answering from backup, holder killed', killed, 3.0)
    return 0


if __name__ == '__main__':
    sys.exit(main())
