"""A client of the load-balanced apiserver (tests and bench only; standard library).

    vipclient.py probe URL --ca CA [--cert C --key K] [--sni NAME]   one GET, one retry; JSON result
    vipclient.py loop URL --ca CA --stop-file F [--interval 0.05]    GET until F exists; JSON counts

TLS is always verified against CA, and the host name (or --sni NAME) against the certificate.
"loop" allows one retry per request, as a client library would; ``failed`` counts requests that
failed twice in a row.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import ssl
import sys
import time
import urllib.parse


def get(url, context, sni=None, timeout=2.0):
    """(status, body) of one GET; raises OSError/ssl errors/http.client errors."""
    parts = urllib.parse.urlsplit(url)
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


def context_for(args):
    """Client TLS context: the CA, and the client certificate if given."""
    context = ssl.create_default_context(cafile=args.ca)
    if args.cert:
        context.load_cert_chain(args.cert, args.key)
    return context


def main():
    """Command line."""
    parser = argparse.ArgumentParser()
    parser.add_argument('command', choices=['probe', 'loop'])
    parser.add_argument('url')
    parser.add_argument('--ca', required=True)
    parser.add_argument('--cert')
    parser.add_argument('--key')
    parser.add_argument('--sni')
    parser.add_argument('--expect', type=int, default=200)
    parser.add_argument('--stop-file')
    parser.add_argument('--interval', type=float, default=0.05)
    parser.add_argument('--max-seconds', type=float, default=900)
    args = parser.parse_args()
    context = context_for(args)
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
        time.sleep(args.interval)
    counts['seconds'] = round(time.monotonic() - started, 1)
    print(json.dumps(counts))
    return 0


if __name__ == '__main__':
    sys.exit(main())
