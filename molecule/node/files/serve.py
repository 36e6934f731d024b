"""Serve a Kubernetes release layout over HTTP, as dl.k8s.io would, to the controller only (runs on a node).

    python3 serve.py DIRECTORY ADDRESS PORT ALLOWED_CLIENT LOG

Requests from any other address are refused (403): with kube_binaries_source url the controller
downloads, the nodes never do. Every request is appended to LOG as JSON (client, method, path,
status), so the verify step can count downloads.
"""

from __future__ import annotations

import functools
import http.server
import json
import sys


class Handler(http.server.SimpleHTTPRequestHandler):
    """Static files for the allowed client, 403 for everyone else, one log line per request."""

    allowed = ''
    log_path = ''

    def _allowed(self):
        if self.client_address[0] == self.allowed:
            return True
        self.send_error(403, 'only the controller downloads artifacts')
        return False

    def do_GET(self):  # noqa: N802 - http.server's naming
        if self._allowed():
            super().do_GET()

    def do_HEAD(self):  # noqa: N802
        if self._allowed():
            super().do_HEAD()

    def log_request(self, code='-', size='-'):
        with open(self.log_path, 'a', encoding='utf-8') as handle:
            handle.write(json.dumps({'client': self.client_address[0], 'method': self.command, 'path': self.path,
                                     'status': int(getattr(code, 'value', code))}) + '\n')


def main(directory, address, port, allowed, log_path):
    """Serve until killed."""
    Handler.allowed = allowed
    Handler.log_path = log_path
    server = http.server.ThreadingHTTPServer((address, int(port)), functools.partial(Handler, directory=directory))
    server.serve_forever()


if __name__ == '__main__':
    main(*sys.argv[1:6])
