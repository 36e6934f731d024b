"""The stand-ins behave like the real components where our roles and tests rely on it."""

from __future__ import annotations

import hashlib
import os
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
STANDINS = os.path.join(ROOT, 'standins')
sys.path.insert(0, STANDINS)

import build_artifacts  # noqa: E402  pylint: disable=wrong-import-position,import-error
from kubeha_standin import FlagError, load_flag_table, parse_args  # noqa: E402  pylint: disable=wrong-import-position,import-error

DAEMONS = ('kubelet', 'kube-apiserver', 'kube-scheduler', 'kube-controller-manager', 'kube-proxy')


@pytest.fixture(scope='module', name='artifacts')
def artifacts_fixture(tmp_path_factory):
    """The artifact directory as the molecule scenario builds it."""
    dest = tmp_path_factory.mktemp('artifacts')
    sums = build_artifacts.build(str(dest), '1.34.2')
    return os.path.join(str(dest), 'v1.34.2', 'bin', 'linux', 'amd64'), sums


def run(path, *args, timeout=10):
    """Run an artifact to completion."""
    return subprocess.run([path] + list(args), capture_output=True, text=True, timeout=timeout, check=False)


def free_port():
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def poll(url, context=None, bound=10.0):
    """GET url until it answers (any status) or bound seconds pass; return (status, body)."""
    deadline = time.monotonic() + bound
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2, context=context) as resp:  # nosec - local test URL
                return resp.status, resp.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()
        except (urllib.error.URLError, ConnectionError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def test_artifact_layout_matches_the_release_and_checksums(artifacts):
    bindir, sums = artifacts
    for component in build_artifacts.COMPONENTS:
        path = os.path.join(bindir, component)
        with open(path, 'rb') as handle:
            digest = hashlib.sha256(handle.read()).hexdigest()
        with open(path + '.sha256', encoding='ascii') as handle:
            assert handle.read().strip() == digest == sums[component]
        assert os.access(path, os.X_OK)


def test_rebuild_is_byte_identical(artifacts, tmp_path):
    sums = artifacts[1]
    assert build_artifacts.build(str(tmp_path), '1.34.2') == sums


@pytest.mark.parametrize('component', DAEMONS)
def test_version_and_unknown_flag_like_the_real_component(artifacts, component):
    path = os.path.join(artifacts[0], component)
    version = run(path, '--version')
    assert (version.returncode, version.stdout) == (0, 'Kubernetes v1.34.2\n')
    bad = run(path, '--no-such-flag=1')
    assert bad.returncode == 1
    assert 'unknown flag: --no-such-flag' in bad.stderr


@pytest.mark.parametrize('component', DAEMONS)
def test_flag_lists_are_the_real_ones(component):
    table = load_flag_table(component, '1.34.2')
    assert {'v', 'version', 'help'} <= set(table.flags)
    assert table.shorthands == {'h': 'help', 'v': 'v'}
    assert len(table.flags) > 50


def test_pflag_forms():
    table = load_flag_table('kube-scheduler', '1.34')
    values, rest = parse_args(table, ['--v', '2', '-v=3', '-v4', '--leader-elect', '--profiling=false', '--kubeconfig=/k', '--bind-address', '-x'])
    assert values == {'v': ['2', '3', '4'], 'leader-elect': ['true'], 'profiling': ['false'], 'kubeconfig': ['/k'], 'bind-address': ['-x']}
    assert not rest


@pytest.mark.parametrize('argv, message', [
    (['--kubeconfig'], 'flag needs an argument: --kubeconfig'),
    (['-x'], "unknown shorthand flag: 'x' in -x"),
    (['--leader-elect=yes'], 'invalid argument "yes" for "--leader-elect" flag'),
    (['--secure-port=ten'], 'invalid argument "ten" for "--secure-port" flag'),
    (['--leader-elect-lease-duration=15'], 'time: invalid duration "15"'),
    (['---v'], 'bad flag syntax: ---v'),
])
def test_pflag_errors(argv, message):
    with pytest.raises(FlagError, match=message.replace('(', r'\(').replace(')', r'\)')):
        parse_args(load_flag_table('kube-scheduler', '1.34'), argv)


def test_positional_argument_is_refused(artifacts):
    result = run(os.path.join(artifacts[0], 'kube-proxy'), 'extra')
    assert result.returncode == 1 and 'unknown command "extra"' in result.stderr


def test_kubelet_health_follows_the_runtime_socket(artifacts, daemon, tmp_path):
    sock_path = str(tmp_path / 'cri.sock')
    port = free_port()
    config = tmp_path / 'config.yaml'
    config.write_text('apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\ncgroupDriver: systemd\n'
                      'containerRuntimeEndpoint: unix://%s\nhealthzBindAddress: 127.0.0.1\nhealthzPort: %d\n' % (sock_path, port))
    proc = daemon(os.path.join(artifacts[0], 'kubelet'), '--config=%s' % config, '--v=2')
    url = 'http://127.0.0.1:%d/healthz' % port
    status, body = poll(url)
    assert status == 500 and 'runtime failed' in body
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(sock_path)
    listener.listen(8)
    try:
        assert poll(url) == (200, 'ok')
    finally:
        listener.close()
    assert proc.poll() is None


def test_kubelet_refuses_a_config_of_the_wrong_kind(artifacts, tmp_path):
    config = tmp_path / 'config.yaml'
    config.write_text('apiVersion: v1\nkind: ConfigMap\n')
    result = run(os.path.join(artifacts[0], 'kubelet'), '--config', str(config))
    assert result.returncode == 1 and 'expected kind KubeletConfiguration' in result.stderr
    assert 'stand-in' in result.stderr


@pytest.mark.parametrize('component', ['kube-scheduler', 'kube-controller-manager'])
def test_secure_health_with_a_generated_self_signed_cert(artifacts, daemon, tmp_path, component):
    port = free_port()
    daemon(os.path.join(artifacts[0], component), '--bind-address=127.0.0.1', '--secure-port=%d' % port, '--cert-dir=%s' % tmp_path)
    cert = tmp_path / (component + '.crt')
    deadline = time.monotonic() + 10
    while not (cert.exists() and cert.stat().st_size):
        assert time.monotonic() < deadline, 'no self-signed cert written in %s' % tmp_path
        time.sleep(0.05)
    status, body = poll('https://127.0.0.1:%d/healthz' % port, context=ssl.create_default_context(cafile=str(cert)))
    assert (status, body) == (200, 'ok')
    with pytest.raises((urllib.error.URLError, ConnectionError)):
        urllib.request.urlopen('http://127.0.0.1:%d/healthz' % port, timeout=2)  # plain HTTP is not served  # nosec


def test_kube_proxy_health(artifacts, daemon):
    port = free_port()
    daemon(os.path.join(artifacts[0], 'kube-proxy'), '--healthz-bind-address=127.0.0.1:%d' % port)
    status, body = poll('http://127.0.0.1:%d/healthz' % port)
    assert status == 200 and '"nodeEligible": true' in body


def test_kubectl_stand_in_says_what_it_is(artifacts):
    path = os.path.join(artifacts[0], 'kubectl')
    assert run(path, 'version', '--client').stdout.startswith('Client Version: v1.34.2')
    other = run(path, 'get', 'nodes')
    assert other.returncode == 1 and 'stand-in' in other.stderr
