"""Wait until haproxy reports a backend server DOWN or UP; print when, as JSON (tests and bench only).

    haproxy_watch.py --server NAME --state DOWN [--timeout 30] [--socket /run/haproxy/admin.sock]

Polls ``show stat`` on haproxy's admin socket every 10 ms. ``at`` is time.time() when the state was
first seen: containers share the host's clock, so it compares with a kill time taken on another node.
Exit status 1 (with the last status seen) when the state is not reached within the timeout.
"""

from __future__ import annotations

import argparse
import json
import socket
import sys
import time


def server_status(path, backend, server):
    """The status column of one server ('UP', 'DOWN', 'UP 1/2', 'MAINT', ...), or '' if absent."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(2)
    try:
        sock.connect(path)
        sock.sendall(b'show stat\n')
        data = b''
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    finally:
        sock.close()
    lines = data.decode('utf-8', 'replace').splitlines()
    header = lines[0].lstrip('# ').split(',')
    for line in lines[1:]:
        row = dict(zip(header, line.split(',')))
        if row.get('pxname') == backend and row.get('svname') == server:
            return row.get('status', '')
    return ''


def reached(status, wanted):
    """DOWN: down or in maintenance (not 'UP 1/2', still in rotation); UP: 'UP' exactly (not 'DOWN 1/2')."""
    if wanted == 'DOWN':
        return status.startswith('DOWN') or status.startswith('MAINT')
    return status == 'UP'


def main():
    """Command line."""
    parser = argparse.ArgumentParser()
    parser.add_argument('--server', required=True)
    parser.add_argument('--state', choices=['DOWN', 'UP'], required=True)
    parser.add_argument('--backend', default='kube-apiservers')
    parser.add_argument('--timeout', type=float, default=30.0)
    parser.add_argument('--socket', default='/run/haproxy/admin.sock')
    args = parser.parse_args()
    deadline = time.monotonic() + args.timeout
    status = ''
    first = True
    while time.monotonic() < deadline:
        try:
            status = server_status(args.socket, args.backend, args.server)
        except OSError as exc:
            status = 'socket error: %s' % exc
        if first:
            # on stderr, so that a caller can wait until the watch has begun before causing the fault
            sys.stderr.write('watching %s: %s\n' % (args.server, status))
            sys.stderr.flush()
            first = False
        if reached(status, args.state):
            print(json.dumps({'server': args.server, 'state': args.state, 'status': status, 'at': time.time()}))
            return 0
        time.sleep(0.01)
    print(json.dumps({'server': args.server, 'state': args.state, 'status': status, 'at': None}))
    return 1


if __name__ == '__main__':
    sys.exit(main())
