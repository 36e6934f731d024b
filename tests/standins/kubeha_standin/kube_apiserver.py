"""The kube-apiserver stand-in (tests only): what the roles, the load balancer and its checks rely on.

- HTTPS on ``--bind-address``:``--secure-port`` with ``--tls-cert-file``/``--tls-private-key-file``
  (both required here: the real one would generate a self-signed pair, which nothing here may trust).
- Client certificates: verified against ``--client-ca-file`` when presented (a certificate from another
  CA fails the TLS handshake, as in Go's ``VerifyClientCertIfGiven``); the user is the subject's CN.
- Anonymous requests, as the real authenticator decides: refused everywhere with
  ``--anonymous-auth=false``; allowed only on the listed paths when ``--authentication-config`` has
  ``anonymous.conditions``; otherwise (the real default) allowed where ``system:public-info-viewer``
  allows them (``/healthz``, ``/livez``, ``/readyz``, ``/version``). Refused: 401 with a Status object.
- ``/healthz``, ``/livez``: ok while the process runs; ``/readyz``: 200 only while a linearizable read
  through ``--etcd-servers`` with ``--etcd-cafile``/``--etcd-certfile``/``--etcd-keyfile`` succeeds within
  ``--etcd-readycheck-timeout``; ``/version``: the version JSON.
- Refuses to start like the real one without ``--etcd-servers``, the service-account issuer and
  signing key, or with files that do not exist; ``--basic-auth-file`` does not exist as a flag since 1.19
  (the flag table rejects it), ``--insecure-port`` since 1.24.
- Appends one JSON line per non-health request to ``--audit-log-path`` when an audit policy is given.

etcd is read with the collection's own client (``plugins/module_utils/_etcd/client.py``): inside an
artifact, build_artifacts.py copies it in as ``kubeha_standin/etcd_client.py``.
"""

from __future__ import annotations

import datetime
import http.server
import importlib.util
import json
import os
import socket
import ssl
import threading

from kubeha_standin.components import SecureServing, StartError, last

HEALTH_PATHS = ('/healthz', '/livez', '/readyz')
PUBLIC_INFO_PATHS = HEALTH_PATHS + ('/version',)
_TRUE = ('1', 't', 'T', 'TRUE', 'true', 'True')


def _etcd_client_module():
    """The collection's etcd client: the copy inside the artifact, else the source tree's file."""
    try:
        from kubeha_standin import etcd_client  # pylint: disable=import-outside-toplevel
        return etcd_client
    except ImportError:
        pass
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    path = os.path.join(root, 'plugins', 'module_utils', '_etcd', 'client.py')
    spec = importlib.util.spec_from_file_location('kubeha_standin_etcd_client', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _duration_seconds(text, default):
    """Go duration ('2s', '500ms', '1m30s') -> seconds."""
    if not text:
        return default
    total, number = 0.0, ''
    units = {'ns': 1e-9, 'us': 1e-6, '\u00b5s': 1e-6, 'ms': 1e-3, 's': 1.0, 'm': 60.0, 'h': 3600.0}
    i = 0
    while i < len(text):
        char = text[i]
        if char.isdigit() or char == '.':
            number += char
            i += 1
            continue
        unit = next((u for u in ('ns', 'us', '\u00b5s', 'ms', 'h', 'm', 's') if text.startswith(u, i)), None)
        if unit is None or not number:
            return default
        total += float(number) * units[unit]
        number = ''
        i += len(unit)
    return total if not number else float(number) or default


def _anonymous_policy(values):
    """None (no anonymous requests), or the tuple of paths anonymous requests may reach."""
    config_path = last(values, 'authentication-config')
    anonymous_flag = 'anonymous-auth' in values
    if config_path:
        try:
            with open(config_path, encoding='utf-8') as handle:
                text = handle.read()
        except OSError as exc:
            raise StartError('failed to read --authentication-config %s: %s' % (config_path, exc)) from exc
        text = '\n'.join(line for line in text.splitlines() if not line.lstrip().startswith('#'))  # YAML comment lines
        try:
            config = json.loads(text)
        except ValueError as exc:
            raise StartError('stand-in reads --authentication-config as JSON with # comment lines only (YAML the real one also reads): %s: %s'
                             % (config_path, exc)) from exc
        if config.get('kind') != 'AuthenticationConfiguration' or not str(config.get('apiVersion', '')).startswith('apiserver.config.k8s.io/'):
            raise StartError('%s: expected kind AuthenticationConfiguration, apiVersion apiserver.config.k8s.io/*, got %r %r'
                             % (config_path, config.get('kind'), config.get('apiVersion')))
        anonymous = config.get('anonymous')
        if anonymous is not None:
            if anonymous_flag:
                raise StartError('anonymous: Forbidden: --anonymous-auth flag cannot be set when anonymous field is configured '
                                 'in authentication configuration file')
            if not anonymous.get('enabled'):
                return None
            conditions = anonymous.get('conditions') or []
            return tuple(c['path'] for c in conditions if 'path' in c) if conditions else PUBLIC_INFO_PATHS
    if last(values, 'anonymous-auth', 'true') not in _TRUE:
        return None
    return PUBLIC_INFO_PATHS


class _Handler(http.server.BaseHTTPRequestHandler):
    server_version = 'kubeha-standin-kube-apiserver'
    sys_version = ''
    protocol_version = 'HTTP/1.1'

    def _send(self, status, body, content_type='text/plain; charset=utf-8'):
        data = body.encode('utf-8')
        self.send_response(status)
        self.send_header('Content-Type', content_type)
        self.send_header('Content-Length', str(len(data)))
        self.send_header('Cache-Control', 'no-cache, private')
        self.end_headers()
        if self.command != 'HEAD':
            self.wfile.write(data)

    def _user(self):
        cert = self.connection.getpeercert() if hasattr(self.connection, 'getpeercert') else None
        if not cert:
            return None
        for rdn in cert.get('subject', ()):
            for key, value in rdn:
                if key == 'commonName':
                    return value
        return None

    def do_GET(self):  # pylint: disable=invalid-name
        """Authenticate, then serve one of the endpoints."""
        apiserver = self.server.apiserver
        path = self.path.split('?', 1)[0]
        user = self._user()
        if user is None:
            allowed = apiserver.anonymous_paths
            if allowed is None or path not in allowed:
                self._send(401, json.dumps({'kind': 'Status', 'apiVersion': 'v1', 'metadata': {}, 'status': 'Failure',
                                            'message': 'Unauthorized', 'reason': 'Unauthorized', 'code': 401}),
                           'application/json')
                return
            user = 'system:anonymous'
        status, body = apiserver.answer(path, self.path)
        if path not in HEALTH_PATHS:
            apiserver.audit(user, self.command, self.path, status, self.client_address[0])
        self._send(status, body, 'application/json' if body.startswith('{') else 'text/plain; charset=utf-8')

    do_HEAD = do_GET  # noqa: N815

    def log_message(self, format, *args):  # pylint: disable=redefined-builtin
        """Requests are not logged (health probes would flood the log); the audit log has the rest."""


class _TLSServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address, context, apiserver):
        self.address_family = socket.AF_INET6 if ':' in address[0] else socket.AF_INET
        self.context = context
        self.apiserver = apiserver
        super().__init__(address, _Handler)

    def finish_request(self, request, client_address):
        # the TLS handshake runs in the request's thread, so a slow or stopped client blocks nobody
        request.settimeout(10)
        try:
            tls = self.context.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            return
        try:
            _Handler(tls, client_address, self)
        finally:
            try:
                tls.close()
            except OSError:
                pass

    def handle_error(self, request, client_address):
        """Broken connections are the client's business."""


class APIServer(SecureServing):
    """kube-apiserver stand-in: TLS, client-certificate authentication, etcd-backed /readyz."""

    name = 'kube-apiserver'
    default_port = 6443

    def __init__(self):
        self.anonymous_paths = PUBLIC_INFO_PATHS
        self.version = ''
        self.etcd = None
        self.etcd_prefix = '/registry'
        self.ready_timeout = 2.0
        self.audit_path = None
        self._audit_lock = threading.Lock()
        self.log = None

    # configuration ---------------------------------------------------------------------------------
    @staticmethod
    def _require_files(values, names):
        for name in names:
            for path in values.get(name, []):
                for one in path.split(','):
                    if one and not os.path.exists(one):
                        raise StartError('--%s: open %s: no such file or directory' % (name, one))

    def configure(self, values, version):
        """Check the flags like the real apiserver's option validation; raise StartError."""
        self.version = version
        servers = [s for v in values.get('etcd-servers', []) for s in v.split(',') if s]
        if not servers:
            raise StartError('--etcd-servers must be specified')
        if not last(values, 'service-account-issuer'):
            raise StartError('service-account-issuer is a required flag')
        if not last(values, 'service-account-signing-key-file'):
            raise StartError('service-account-signing-key-file and service-account-issuer are required flags')
        if not (last(values, 'tls-cert-file') and last(values, 'tls-private-key-file')):
            raise StartError('stand-in needs --tls-cert-file and --tls-private-key-file (it generates no self-signed certificate)')
        self._require_files(values, ('tls-cert-file', 'tls-private-key-file', 'client-ca-file', 'etcd-cafile', 'etcd-certfile',
                                     'etcd-keyfile', 'service-account-key-file', 'service-account-signing-key-file',
                                     'audit-policy-file', 'token-auth-file', 'authentication-config'))
        self.anonymous_paths = _anonymous_policy(values)
        client = _etcd_client_module()
        try:
            self.etcd = client.EtcdClient(servers, ca_cert=last(values, 'etcd-cafile'), client_cert=last(values, 'etcd-certfile'),
                                          client_key=last(values, 'etcd-keyfile'),
                                          timeout=_duration_seconds(last(values, 'etcd-readycheck-timeout'), 2.0))
            self.etcd.transport.ssl_context()
        except client.EtcdError as exc:
            raise StartError('etcd client: %s' % exc) from exc
        self.etcd_prefix = last(values, 'etcd-prefix', '/registry').rstrip('/') or '/registry'
        if last(values, 'audit-log-path') and last(values, 'audit-policy-file') and last(values, 'audit-log-path') != '-':
            self.audit_path = last(values, 'audit-log-path')
            os.makedirs(os.path.dirname(self.audit_path) or '.', exist_ok=True)

    def context(self, values):
        """Server TLS context: our cert; client certs optional but verified against --client-ca-file."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        try:
            context.load_cert_chain(last(values, 'tls-cert-file'), last(values, 'tls-private-key-file'))
        except (OSError, ssl.SSLError) as exc:
            raise StartError('failed to load TLS serving certificate %s / key %s: %s'
                             % (last(values, 'tls-cert-file'), last(values, 'tls-private-key-file'), exc)) from exc
        ca_file = last(values, 'client-ca-file')
        if ca_file:
            try:
                context.load_verify_locations(ca_file)
            except (OSError, ssl.SSLError) as exc:
                raise StartError('unable to load client CA file %s: %s' % (ca_file, exc)) from exc
            context.verify_mode = ssl.CERT_OPTIONAL
        return context

    # behaviour ---------------------------------------------------------------------------------------
    def etcd_ready(self):
        """(True, '') when a linearizable read through the etcd client succeeds, else (False, why)."""
        try:
            self.etcd.get(self.etcd_prefix + '/health')
        except Exception as exc:  # pylint: disable=broad-except
            return False, str(exc)
        return True, ''

    def answer(self, path, raw_path):
        """(status, body) for an authenticated request."""
        if path in ('/healthz', '/livez'):
            return 200, 'ok'
        if path == '/readyz':
            ready, why = self.etcd_ready()
            verbose = 'verbose' in raw_path.partition('?')[2]
            if ready:
                return 200, '[+]ping ok\n[+]etcd-readiness ok\nreadyz check passed\n' if verbose else 'ok'
            self.log.error('readyz: etcd-readiness failed: %s' % why)
            return 500, '[+]ping ok\n[-]etcd-readiness failed: reason withheld\nreadyz check failed\n'
        if path == '/version':
            major, minor = self.version.split('.')[:2]
            return 200, json.dumps({'major': major, 'minor': minor, 'gitVersion': 'v' + self.version, 'gitCommit': 'kubeha-standin',
                                    'gitTreeState': 'clean', 'buildDate': '2020-01-01T00:00:00Z', 'goVersion': 'go1.24.0',
                                    'compiler': 'gc', 'platform': 'linux/amd64'}, indent=2)
        return 404, json.dumps({'kind': 'Status', 'apiVersion': 'v1', 'metadata': {}, 'status': 'Failure',
                                'message': 'the kubeha stand-in serves only /healthz, /livez, /readyz and /version',
                                'reason': 'NotFound', 'code': 404})

    def audit(self, user, verb, uri, status, source):
        """One audit event (level Metadata, stage ResponseComplete) as a JSON line."""
        if not self.audit_path:
            return
        now = datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%S.%fZ')
        event = {'kind': 'Event', 'apiVersion': 'audit.k8s.io/v1', 'level': 'Metadata', 'stage': 'ResponseComplete',
                 'requestURI': uri, 'verb': verb.lower(), 'user': {'username': user}, 'sourceIPs': [source],
                 'responseStatus': {'code': status}, 'requestReceivedTimestamp': now, 'stageTimestamp': now}
        with self._audit_lock:
            with open(self.audit_path, 'a', encoding='utf-8') as handle:
                handle.write(json.dumps(event, sort_keys=True) + '\n')

    def start(self, values, log):
        self.log = log
        self.configure(values, getattr(self, 'running_version', '') or os.environ.get('KUBEHA_STANDIN_VERSION', '1.34.2').lstrip('v'))
        host = last(values, 'bind-address', '0.0.0.0')
        port = int(last(values, 'secure-port', self.default_port))
        if port == 0:
            raise StartError('--secure-port 0 is not allowed for kube-apiserver: it serves only securely')
        context = self.context(values)
        try:
            server = _TLSServer((host, port), context, self)
        except OSError as exc:
            raise StartError('failed to listen on %s:%d: %s' % (host, port, exc)) from exc
        threading.Thread(target=server.serve_forever, name='apiserver-%d' % port, daemon=True).start()
        ready, why = self.etcd_ready()
        state = 'reachable' if ready else 'NOT reachable yet: ' + why
        log.info('serving securely on %s:%d; etcd %s %s' % (host, port, ', '.join(self.etcd.endpoints), state))
