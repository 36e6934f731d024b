"""SIGKILL a supervised daemon and measure how long until it is back and healthy (runs on a node).

    python3 recover.py NAME PID_SOURCE CHECK BOUND

PID_SOURCE: systemd:UNIT (its MainPID) or pidfile:PATH. CHECK: http:URL (200 expected) or
ctr:SOCKET (``ctr version`` answers). Waits (bounded) for the daemon to be healthy first, kills
it, then polls every 50 ms until a new process passes the check or BOUND seconds pass. Prints one
JSON line; exit status 1 when the bound was exceeded.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request


def pid_of(source):
    """Current pid of the daemon, or 0."""
    kind, dummy, where = source.partition(':')
    if kind == 'systemd':
        out = subprocess.run(['systemctl', 'show', '-P', 'MainPID', where], capture_output=True, text=True, check=False).stdout
        return int(out.strip() or 0)
    try:
        with open(where, encoding='ascii') as handle:
            pid = int(handle.read().strip() or 0)
    except (OSError, ValueError):
        return 0
    try:
        os.kill(pid, 0)
    except OSError:
        return 0
    return pid


def healthy(check):
    """True when the daemon answers its health check."""
    kind, dummy, where = check.partition(':')
    if kind == 'http':
        try:
            with urllib.request.urlopen(where, timeout=1) as resp:  # nosec - node-local health URL
                return resp.status == 200
        except OSError:
            return False
    return subprocess.run(['ctr', '--address', where, '--timeout', '1s', 'version'], capture_output=True, check=False).returncode == 0


def main(name, source, check, bound):
    """Kill, then time the recovery."""
    bound = float(bound)
    deadline = time.monotonic() + 30
    while not (pid_of(source) and healthy(check)):
        if time.monotonic() > deadline:
            print(json.dumps({'name': name, 'error': 'not healthy before the kill'}))
            return 1
        time.sleep(0.1)
    old = pid_of(source)
    os.kill(old, signal.SIGKILL)
    start = time.monotonic()
    while True:
        elapsed = time.monotonic() - start
        new = pid_of(source)
        if new and new != old and healthy(check):
            print(json.dumps({'name': name, 'old_pid': old, 'new_pid': new, 'elapsed': round(elapsed, 2), 'bound': bound}))
            return 0
        if elapsed > bound:
            print(json.dumps({'name': name, 'old_pid': old, 'new_pid': new, 'elapsed': round(elapsed, 2), 'bound': bound,
                              'error': 'not back and healthy within the bound'}))
            return 1
        time.sleep(0.05)


if __name__ == '__main__':
    sys.exit(main(*sys.argv[1:5]))
