"""What each stand-in does once its flags are accepted: the endpoints the real component serves.

To add a component (the apiserver issue completes kube-apiserver), subclass Component, set the
ports the real one serves, and register it in REGISTRY.
"""

from __future__ import annotations

import datetime
import json
import os
import re
import socket
import sys

from kubeha_standin import serving


class StartError(Exception):
    """The component cannot start with this configuration (the real one would exit 1 too)."""


def last(values, name, default=None):
    """The effective value of a flag: the last one given, else default."""
    return values[name][-1] if name in values else default


def split_hostport(value, default_port):
    """'1.2.3.4:10256' / '[::]:10256' / '1.2.3.4' -> (host, port)."""
    match = re.match(r'^\[(.*)\]:(\d+)$', value) or re.match(r'^([^:]*):(\d+)$', value)
    if match:
        return match.group(1) or '0.0.0.0', int(match.group(2))
    return value or '0.0.0.0', default_port


def read_config_scalars(path):
    """Top-level scalar keys of a YAML or JSON config file (what the stand-ins need from it).

    Only ``key: value`` lines at column 0 are read (no PyYAML on the nodes); a JSON file is read whole.
    """
    with open(path, encoding='utf-8') as handle:
        text = handle.read()
    if text.lstrip().startswith('{'):
        data = json.loads(text)
        return {k: v for k, v in data.items() if not isinstance(v, (dict, list))}
    scalars = {}
    for line in text.splitlines():
        match = re.match(r'^([A-Za-z][A-Za-z0-9]*):\s*(.*?)\s*(#.*)?$', line)
        if match and match.group(2):
            scalars[match.group(1)] = match.group(2).strip('"\'')
    return scalars


class Component:
    """Behaviour of a stand-in after flag parsing."""

    uses_flag_table = True
    name = ''

    def start(self, values, log):
        """Start serving (in daemon threads) and return; raise StartError to exit 1."""
        raise NotImplementedError

    @staticmethod
    def run_cli(argv, version):
        """Run a command-line tool without a flag table (kubectl); return the exit status."""
        raise NotImplementedError


class SecureServing(Component):
    """kube-scheduler and kube-controller-manager: /healthz, /livez, /readyz over TLS on --secure-port."""

    default_port = 0

    def routes(self, values):  # pylint: disable=unused-argument
        """Path -> handler."""
        return {'/healthz': serving.ok, '/livez': serving.ok, '/readyz': serving.ok}

    def start(self, values, log):
        host = last(values, 'bind-address', '0.0.0.0')
        port = int(last(values, 'secure-port', self.default_port))
        if port == 0:
            log.info('secure serving disabled (--secure-port=0)')
            return
        cert, key = last(values, 'tls-cert-file'), last(values, 'tls-private-key-file')
        if bool(cert) != bool(key):
            raise StartError('--tls-cert-file and --tls-private-key-file must be given together')
        if not cert:
            cert_dir = last(values, 'cert-dir') or serving.temp_cert_dir(self.name)
            cert, key = serving.self_signed(cert_dir, self.name, '127.0.0.1' if host in ('0.0.0.0', '::') else host)
            log.info('generated self-signed cert (%s, %s)' % (cert, key))
        for path in cert, key:
            if not os.path.exists(path):
                raise StartError('failed to load TLS material: open %s: no such file or directory' % path)
        try:
            serving.serve(host, port, self.routes(values), tls=(cert, key))
        except OSError as exc:
            raise StartError('failed to listen on %s:%d: %s' % (host, port, exc)) from exc
        log.info('serving securely on %s:%d' % (host, port))


class Scheduler(SecureServing):
    """kube-scheduler: TLS health on 10259."""

    name = 'kube-scheduler'
    default_port = 10259


class ControllerManager(SecureServing):
    """kube-controller-manager: TLS health on 10257."""

    name = 'kube-controller-manager'
    default_port = 10257


class APIServer(SecureServing):
    """kube-apiserver, minimal: TLS /healthz, /livez, /readyz on 6443. Completed by the apiserver issue."""

    name = 'kube-apiserver'
    default_port = 6443


class Kubelet(Component):
    """kubelet: plain HTTP /healthz on 127.0.0.1:10248, healthy only while the CRI socket answers."""

    name = 'kubelet'
    config_kind = 'KubeletConfiguration'
    config_api = 'kubelet.config.k8s.io/v1beta1'

    def __init__(self):
        self.runtime_socket = '/run/containerd/containerd.sock'

    def _config(self, values):
        path = last(values, 'config')
        if not path:
            return {}
        try:
            config = read_config_scalars(path)
        except OSError as exc:
            raise StartError('failed to load kubelet config file, path: %s, error: %s' % (path, exc)) from exc
        if config.get('kind') != self.config_kind or config.get('apiVersion') != self.config_api:
            raise StartError('failed to load kubelet config file, path: %s, error: expected kind %s apiVersion %s, got kind %r apiVersion %r'
                             % (path, self.config_kind, self.config_api, config.get('kind'), config.get('apiVersion')))
        return config

    def runtime_health(self):
        """(status, body) of /healthz: 200 while a connect() to the CRI socket succeeds."""
        conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        conn.settimeout(1)
        try:
            conn.connect(self.runtime_socket)
        except OSError as exc:
            return 500, '[-]runtime failed: container runtime socket %s: %s\nhealthz check failed\n' % (self.runtime_socket, exc)
        finally:
            conn.close()
        return serving.ok()

    def start(self, values, log):
        config = self._config(values)
        driver = last(values, 'cgroup-driver', config.get('cgroupDriver', 'cgroupfs'))
        if driver not in ('systemd', 'cgroupfs'):
            raise StartError('invalid configuration: cgroupDriver %r: must be "systemd" or "cgroupfs"' % driver)
        endpoint = last(values, 'container-runtime-endpoint', config.get('containerRuntimeEndpoint', 'unix:///run/containerd/containerd.sock'))
        if not endpoint.startswith('unix://'):
            raise StartError('unsupported container runtime endpoint %r: only unix:// on Linux' % endpoint)
        self.runtime_socket = endpoint[len('unix://'):]
        host = last(values, 'healthz-bind-address', config.get('healthzBindAddress', '127.0.0.1'))
        port = int(last(values, 'healthz-port', config.get('healthzPort', 10248)))
        log.info('cgroup driver %s, container runtime %s' % (driver, endpoint))
        if port:
            try:
                serving.serve(host, port, {'/healthz': self.runtime_health})
            except OSError as exc:
                raise StartError('failed to listen on %s:%d: %s' % (host, port, exc)) from exc
            log.info('healthz serving on http://%s:%d/healthz' % (host, port))


class Proxy(Component):
    """kube-proxy: plain HTTP /healthz and /livez on 0.0.0.0:10256."""

    name = 'kube-proxy'

    def start(self, values, log):
        config = {}
        if last(values, 'config'):
            try:
                config = read_config_scalars(last(values, 'config'))
            except OSError as exc:
                raise StartError('failed to load config file %s: %s' % (last(values, 'config'), exc)) from exc
        address = last(values, 'healthz-bind-address', config.get('healthzBindAddress', '0.0.0.0:10256'))
        if not address:
            log.info('healthz serving disabled')
            return
        host, port = split_hostport(address, 10256)

        def health():
            now = datetime.datetime.now(datetime.timezone.utc).isoformat()
            return 200, serving.json_body({'lastUpdated': now, 'currentTime': now, 'nodeEligible': True})

        try:
            serving.serve(host, port, {'/healthz': health, '/livez': health})
        except OSError as exc:
            raise StartError('failed to listen on %s:%d: %s' % (host, port, exc)) from exc
        log.info('healthz serving on http://%s:%d/healthz' % (host, port))


class Kubectl(Component):
    """kubectl: only ``version --client``; anything else says it is a stand-in and fails."""

    name = 'kubectl'
    uses_flag_table = False

    def start(self, values, log):
        raise StartError('kubectl is not a daemon')

    @staticmethod
    def run_cli(argv, version):
        """Run a kubectl command line."""
        words = [a for a in argv if not a.startswith('-')]
        if words[:1] == ['version'] and ('--client' in argv or '--client=true' in argv):
            sys.stdout.write('Client Version: v%s\nKustomize Version: v5.7.1\n' % version)
            return 0
        sys.stderr.write('error: kubeha stand-in kubectl v%s only answers "kubectl version --client" (got: %s)\n' % (version, ' '.join(argv)))
        return 1


REGISTRY = {
    'kubelet': Kubelet(),
    'kube-scheduler': Scheduler(),
    'kube-controller-manager': ControllerManager(),
    'kube-proxy': Proxy(),
    'kube-apiserver': APIServer(),
    'kubectl': Kubectl(),
}

# The complete kube-apiserver stand-in (issue 7) lives in its own file and replaces the minimal one above.
from kubeha_standin.kube_apiserver import APIServer as _CompleteAPIServer  # noqa: E402  pylint: disable=wrong-import-position,cyclic-import

REGISTRY['kube-apiserver'] = _CompleteAPIServer()
