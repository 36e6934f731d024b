"""A client of the load-balanced apiserver (tests and bench only; standard library).

    vipclient.py probe URL --ca CA [--cert C --key K] [--sni NAME]   one GET, one retry; JSON result
    vipclient.py loop URL --ca CA --stop-file F [--interval 0.05]    GET until F exists; JSON counts
    vipclient.py api-loop URL --ca CA --cert C --key K --namespace NS --stop-file F [--interval 0.1] [--wait-up S]
                                                                     list, create, get and watch until F exists
    vipclient.py handovers < {"client": COUNTS, "etcd_log": {HOST: [LINE, ...]}}
                                                                     which failed requests etcd dropped in a leader
                                                                     hand-over (JSON)

TLS is always verified against CA, and the host name (or --sni NAME) against the certificate; an
http:// URL (loop only: a workload's NodePort) has no TLS and --ca is not read.
"loop" allows one retry per request, as a client library would; ``failed`` counts requests that
failed twice in a row.

"api-loop" is a Kubernetes client of the API behind URL that never retries: each request is made once,
on a new connection, and counts as failed when it raises or answers another status than expected. It
creates NS (if missing), keeps one watch on NS's ConfigMaps open (re-opened from the last
resourceVersion when a stream ends, as client-go's reflector does; a relist when the apiserver answers
410 Gone), and until F exists lists NS's ConfigMaps, creates one and gets it by name. With --wait-up S
it first waits up to S seconds for URL to serve at all (an endpoint that comes up during the test: a
new VIP); the loop and its counts start once it does, and ``waited`` says how long that took. A watch request
that fails to open counts as failed too (``failed`` is the sum; ``watch.failed`` its part); a stream that breaks after it opened is counted apart
(``watch.broken``: the reflector re-opens it, and ``missed`` shows whether anything was lost). The
last 10 errors are kept. At the end it waits (at most 20 s) until the watch has seen every ConfigMap
it created, and prints JSON: the counts, the slowest request, and the watch's reconnects, relists and
the names it never saw (``missed``). Each error starts with the time it was seen and ends with how long the request
took.

"handovers" reads api-loop's counts and the etcd members' log lines around the failures (JSON on stdin) and prints
which failed requests were writes etcd dropped while a leader handed its leadership on (etcd-io/etcd#8975): etcd's
"request timed out", for a request made within a second of a member's "leadership transfer starting". A stopping leader
hands its leadership on; a write a follower forwarded to it meanwhile is dropped, and its client waits for etcd's request
timeout. Prints {"handovers": [times], "handover_losses": [{"failed_at", "began", "handover_at", "error"}]}.
"""

from __future__ import annotations

import argparse
import datetime
import http.client
import json
import os
import re
import socket
import ssl
import sys
import threading
import time
import urllib.parse


def get(url, context, sni=None, timeout=2.0):
    """(status, body) of one GET; raises OSError/ssl errors/http.client errors."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme == 'http':
        conn = http.client.HTTPConnection(parts.hostname, parts.port or 80, timeout=timeout)
    else:
        conn = http.client.HTTPSConnection(parts.hostname, parts.port or 443, timeout=timeout, context=context)
    if sni:
        # connect to the address, verify the certificate for the name
        raw = socket.create_connection((parts.hostname, parts.port or 443), timeout)
        conn.sock = context.wrap_socket(raw, server_hostname=sni)
    try:
        conn.request('GET', parts.path or '/')
        resp = conn.getresponse()
        return resp.status, resp.read().decode('utf-8', 'replace')
    finally:
        conn.close()


def attempt(url, context, sni=None, expect=200):
    """One request and, if it fails, one retry; (ok, retried, detail)."""
    detail = ''
    for number in (1, 2):
        try:
            status, body = get(url, context, sni)
            if status == expect:
                return True, number == 2, body
            detail = 'status %d: %s' % (status, body[:200])
        except (OSError, ssl.SSLError, http.client.HTTPException) as exc:
            detail = '%s: %s' % (type(exc).__name__, exc)
        if number == 1:
            time.sleep(0.2)
    return False, True, detail


def call(base, context, method, path, body=None, timeout=30.0):
    """(status, parsed JSON or text) of one request on a new connection."""
    parts = urllib.parse.urlsplit(base)
    conn = http.client.HTTPSConnection(parts.hostname, parts.port or 443, timeout=timeout, context=context)
    try:
        payload = json.dumps(body).encode() if body is not None else None
        conn.request(method, path, body=payload, headers={'Content-Type': 'application/json', 'Accept': 'application/json'})
        resp = conn.getresponse()
        text = resp.read().decode('utf-8', 'replace')
        try:
            return resp.status, json.loads(text)
        except ValueError:
            return resp.status, text
    finally:
        conn.close()


class Watcher(threading.Thread):
    """One watch on a namespace's ConfigMaps, kept open from the last resourceVersion it saw."""

    def __init__(self, base, context, namespace, resource_version):
        super().__init__(daemon=True)
        self.base, self.context, self.namespace = base, context, namespace
        self.resource_version = resource_version
        self.seen = set()
        self.counts = {'events': 0, 'streams': 0, 'reconnects': 0, 'relists': 0, 'failed': 0, 'broken': 0, 'errors': []}
        self.stopping = threading.Event()
        self.lock = threading.Lock()

    def note(self, detail):
        self.counts['errors'] = (self.counts['errors'] + ['%.2f %s' % (time.time(), detail)])[-10:]

    def relist(self):
        status, body = call(self.base, self.context, 'GET', '/api/v1/namespaces/%s/configmaps' % self.namespace)
        if status != 200:
            raise OSError('relist: status %d' % status)
        with self.lock:
            self.seen.update(item['metadata']['name'] for item in body['items'])
        self.resource_version = body['metadata']['resourceVersion']
        self.counts['relists'] += 1

    def stream(self):
        """Open one watch and read it to its end; False when it could not be opened (counted as failed)."""
        parts = urllib.parse.urlsplit(self.base)
        conn = http.client.HTTPSConnection(parts.hostname, parts.port or 443, timeout=90, context=self.context)
        try:
            try:
                conn.request('GET', '/api/v1/namespaces/%s/configmaps?watch=1&allowWatchBookmarks=true&timeoutSeconds=60'
                             '&resourceVersion=%s' % (self.namespace, self.resource_version))
                resp = conn.getresponse()
            except (OSError, ssl.SSLError, http.client.HTTPException) as exc:
                self.counts['failed'] += 1
                self.note('watch: %s: %s' % (type(exc).__name__, exc))
                return False
            if resp.status == 410:
                self.relist()
                return True
            if resp.status != 200:
                self.counts['failed'] += 1
                self.note('watch: status %d' % resp.status)
                return False
            self.counts['streams'] += 1
            try:
                self.read(resp)
            except (OSError, ssl.SSLError, http.client.HTTPException, ValueError) as exc:
                self.counts['broken'] += 1
                self.note('watch stream broke: %s: %s' % (type(exc).__name__, exc))
            return True
        finally:
            conn.close()

    def read(self, resp):
        """The events of one open stream, until it ends or the loop stops."""
        while not self.stopping.is_set():
            line = resp.readline()
            if not line:
                return
            event = json.loads(line)
            obj = event.get('object') or {}
            if event.get('type') == 'ERROR':
                self.note('watch event ERROR: %s' % obj.get('message'))
                if obj.get('code') == 410:
                    self.relist()
                return
            self.resource_version = obj['metadata']['resourceVersion']
            if event.get('type') == 'ADDED':
                with self.lock:
                    self.seen.add(obj['metadata']['name'])
            self.counts['events'] += 1

    def run(self):
        first = True
        while not self.stopping.is_set():
            if not first:
                self.counts['reconnects'] += 1
            first = False
            try:
                if not self.stream():
                    time.sleep(0.2)
            except (OSError, ssl.SSLError, http.client.HTTPException, ValueError, KeyError) as exc:
                self.counts['failed'] += 1
                self.note('watch: %s: %s' % (type(exc).__name__, exc))
                time.sleep(0.2)


def wait_up(args, context):
    """Seconds until URL first answered a request (bounded by --wait-up); 0 without --wait-up."""
    began = time.monotonic()
    while args.wait_up and time.monotonic() - began < args.wait_up:
        try:
            if call(args.url, context, 'GET', '/readyz', timeout=2.0)[0] == 200:
                break
        except (OSError, ssl.SSLError, http.client.HTTPException):
            pass
        time.sleep(0.2)
    return round(time.monotonic() - began, 1)


def failed_at(counts):
    """Record when a request failed: the first and the last failure (epoch seconds) bound the window it saw."""
    now = round(time.time(), 2)
    counts['first_failed_at'] = counts.get('first_failed_at') or now
    counts['last_failed_at'] = now


def api_loop(args, context):
    """list, create and watch until the stop file exists; the JSON counts."""
    ns = args.namespace
    waited = wait_up(args, context)
    status, body = call(args.url, context, 'POST', '/api/v1/namespaces', {'metadata': {'name': ns}})
    if status not in (201, 409):
        raise SystemExit('cannot create namespace %s: %d %s' % (ns, status, body))
    status, body = call(args.url, context, 'GET', '/api/v1/namespaces/%s/configmaps' % ns)
    if status != 200:
        raise SystemExit('cannot list configmaps in %s: %d %s' % (ns, status, body))
    watcher = Watcher(args.url, context, ns, body['metadata']['resourceVersion'])
    with watcher.lock:
        watcher.seen.update(item['metadata']['name'] for item in body['items'])
    watcher.start()
    counts = {'requests': 0, 'lists': 0, 'creates': 0, 'gets': 0, 'failed': 0, 'errors': [], 'slowest': 0.0,
              'waited': waited, 'started_at': round(time.time(), 2)}
    created = []
    started = time.monotonic()
    number = 0
    while not os.path.exists(args.stop_file) and time.monotonic() - started < args.max_seconds:
        number += 1
        name = 'loop-%d-%d' % (int(time.time()), number)
        path = '/api/v1/namespaces/%s/configmaps' % ns
        for kind, method, url, body, expect in (
                ('list', 'GET', path + '?limit=100', None, 200),
                ('create', 'POST', path, {'metadata': {'name': name}, 'data': {'n': str(number)}}, 201),
                ('get', 'GET', path + '/' + name, None, 200)):
            began = time.monotonic()
            try:
                status, answer = call(args.url, context, method, url, body)
                ok = status == expect
                detail = '' if ok else '%s %s: status %d: %s' % (kind, name, status, str(answer)[:200])
            except (OSError, ssl.SSLError, http.client.HTTPException) as exc:
                ok, detail = False, '%s %s: %s: %s' % (kind, name, type(exc).__name__, exc)
            took = time.monotonic() - began
            counts['slowest'] = max(counts['slowest'], round(took, 3))
            counts['requests'] += 1
            counts[kind + 's'] += 1
            if ok and kind == 'create':
                created.append(name)
            if not ok:
                counts['failed'] += 1
                counts['errors'] = (counts['errors'] + ['%.2f %s (after %.2f s)' % (time.time(), detail, took)])[-10:]
                failed_at(counts)
            if not ok and kind == 'create':
                break
        time.sleep(args.interval)
    counts['seconds'] = round(time.monotonic() - started, 1)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        with watcher.lock:
            missed = [n for n in created if n not in watcher.seen]
        if not missed:
            break
        time.sleep(0.2)
    watcher.stopping.set()
    counts['watch'] = dict(watcher.counts, missed=len(missed), missed_names=missed[:5])
    # one figure for every request that failed: the watch's that could not be opened too
    counts['failed'] += watcher.counts['failed']
    return counts


HANDOVER = 'leadership transfer starting'
TIMED_OUT = 'etcdserver: request timed out'
LOG_TIME = re.compile(r'"ts":"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?)Z"')
ERROR = re.compile(r'^(\d+(?:\.\d+)?) (.*?)(?: \(after (\d+(?:\.\d+)?) s\))?$', re.S)


def log_time(line):
    """The epoch seconds of an etcd log line (its zap "ts", UTC), or None."""
    found = LOG_TIME.search(line)
    if not found:
        return None
    stamp = found.group(1)
    fmt = '%Y-%m-%dT%H:%M:%S.%f' if '.' in stamp else '%Y-%m-%dT%H:%M:%S'
    return datetime.datetime.strptime(stamp[:26], fmt).replace(tzinfo=datetime.timezone.utc).timestamp()


def handovers(client, etcd_log, slack=1.0):
    """The failed requests of api-loop's counts that etcd dropped in a leader hand-over (see the module's doc).

    A failure counts when etcd answered "request timed out" and a member logged "leadership transfer starting" within
    ``slack`` seconds of the request's start (its failure time less how long it took; without that, etcd's request
    timeout of 7 s). Failures beyond the 10 errors the counts keep are never counted.
    """
    starts = sorted(t for lines in (etcd_log or {}).values() for line in lines or []
                    if HANDOVER in line for t in [log_time(line)] if t is not None)
    losses = []
    for error in client.get('errors') or []:
        found = ERROR.match(error)
        if not found or TIMED_OUT not in found.group(2):
            continue
        failed = float(found.group(1))
        began = failed - (float(found.group(3)) if found.group(3) else 7.0)
        near = [t for t in starts if abs(t - began) <= slack]
        if near:
            losses.append({'failed_at': failed, 'began': round(began, 2), 'handover_at': round(near[0], 3),
                           'error': found.group(2)[:160]})
    return {'handovers': [round(t, 3) for t in starts], 'handover_losses': losses}


def context_for(args):
    """Client TLS context: the CA, and the client certificate if given."""
    if urllib.parse.urlsplit(args.url).scheme == 'http':
        return None
    if not args.ca:
        raise SystemExit('--ca is required for %s' % args.url)
    context = ssl.create_default_context(cafile=args.ca)
    if args.cert:
        context.load_cert_chain(args.cert, args.key)
    return context


def main():
    """Command line."""
    parser = argparse.ArgumentParser()
    parser.add_argument('command', choices=['probe', 'loop', 'api-loop', 'handovers'])
    parser.add_argument('url', nargs='?')
    parser.add_argument('--ca', help='required for https URLs')
    parser.add_argument('--cert')
    parser.add_argument('--key')
    parser.add_argument('--sni')
    parser.add_argument('--expect', type=int, default=200)
    parser.add_argument('--stop-file')
    parser.add_argument('--interval', type=float, default=0.05)
    parser.add_argument('--max-seconds', type=float, default=900)
    parser.add_argument('--namespace', default='vipclient')
    parser.add_argument('--wait-up', type=float, default=0)
    args = parser.parse_args()
    if args.command == 'handovers':
        given = json.load(sys.stdin)
        print(json.dumps(handovers(given.get('client') or {}, given.get('etcd_log') or {})))
        return 0
    if not args.url:
        parser.error('%s needs URL' % args.command)
    context = context_for(args)
    if args.command == 'api-loop':
        print(json.dumps(api_loop(args, context)))
        return 0
    if args.command == 'probe':
        ok, retried, detail = attempt(args.url, context, args.sni, args.expect)
        print(json.dumps({'ok': ok, 'retried': retried, 'body': detail}))
        return 0 if ok else 1
    counts = {'requests': 0, 'retried': 0, 'failed': 0, 'errors': []}
    started = time.monotonic()
    while not os.path.exists(args.stop_file) and time.monotonic() - started < args.max_seconds:
        ok, retried, detail = attempt(args.url, context, args.sni, args.expect)
        counts['requests'] += 1
        counts['retried'] += int(retried)
        if not ok:
            counts['failed'] += 1
            counts['errors'] = (counts['errors'] + ['%.2f %s' % (time.time(), detail)])[-10:]
            failed_at(counts)
        time.sleep(args.interval)
    counts['seconds'] = round(time.monotonic() - started, 1)
    print(json.dumps(counts))
    return 0


if __name__ == '__main__':
    sys.exit(main())
