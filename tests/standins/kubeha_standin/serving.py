"""Health endpoints: light threaded HTTP(S) servers, self-signed TLS like the real components."""

from __future__ import annotations

import http.server
import json
import os
import socket
import ssl
import subprocess
import tempfile
import threading


class _Handler(http.server.BaseHTTPRequestHandler):
    """Answers GET from the server's route table: path -> callable returning (status, body)."""

    server_version = 'kubeha-standin'
    sys_version = ''

    def do_GET(self):  # pylint: disable=invalid-name
        """Serve one GET."""
        route = self.server.routes.get(self.path.split('?', 1)[0])
        if route is None:
            status, body = 404, '404 page not found\n'
        else:
            status, body = route()
        data = body.encode('utf-8')
        self.send_response(status)
        self.send_header('Content-Type', 'application/json' if body.startswith('{') else 'text/plain; charset=utf-8')
        self.send_header('Content-Length', str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format, *args):  # pylint: disable=redefined-builtin
        """Keep health probes out of the log; the component logs what matters."""


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address, routes):
        self.address_family = socket.AF_INET6 if ':' in address[0] else socket.AF_INET
        self.routes = routes
        super().__init__(address, _Handler)


def self_signed(cert_dir, name, host):
    """Write (or reuse) a self-signed cert/key pair in cert_dir, as the real components do without --tls-*-file."""
    cert = os.path.join(cert_dir, name + '.crt')
    key = os.path.join(cert_dir, name + '.key')
    if os.path.exists(cert) and os.path.exists(key):
        return cert, key
    os.makedirs(cert_dir, mode=0o700, exist_ok=True)
    san = 'IP:%s' % host if host.replace('.', '').isdigit() or ':' in host else 'DNS:%s' % host
    subprocess.run(
        ['openssl', 'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
         '-days', '365', '-subj', '/CN=%s@standin' % host, '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1,%s' % san,
         '-keyout', key, '-out', cert],
        check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    os.chmod(key, 0o600)
    return cert, key


def serve(host, port, routes, tls=None):
    """Start serving routes on host:port in a daemon thread; tls is (cert, key) or None. Returns the server."""
    server = _Server((host, port), routes)
    if tls:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(tls[0], tls[1])
        server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, name='serve-%s-%d' % (host, port), daemon=True)
    thread.start()
    return server


def ok():
    """The body every real component answers on a passing /healthz."""
    return 200, 'ok'


def json_body(data):
    """A JSON body, as kube-proxy's /healthz answers."""
    return json.dumps(data, sort_keys=True)


def temp_cert_dir(component):
    """Where to keep a generated cert when --cert-dir is not given (the real default differs per component)."""
    return os.path.join(tempfile.gettempdir(), 'kubeha-standin-%s' % component)
