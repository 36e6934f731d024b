"""The kube-apiserver stand-in: TLS, client-certificate authentication, and a /readyz that follows the real etcd."""

from __future__ import annotations

import json
import os
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

from support.etcd_cluster import make_tls_files, start_cluster

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, 'standins'))

import build_artifacts  # noqa: E402  pylint: disable=wrong-import-position,import-error


@pytest.fixture(scope='module', name='binary')
def binary_fixture(tmp_path_factory):
    """The kube-apiserver artifact, built the way the roles install it."""
    dest = tmp_path_factory.mktemp('artifacts')
    build_artifacts.build(str(dest), '1.34.2', components=('kube-apiserver',))
    return os.path.join(str(dest), 'v1.34.2', 'bin', 'linux', 'amd64', 'kube-apiserver')


@pytest.fixture(scope='module', name='kube_pki')
def kube_pki_fixture(tmp_path_factory):
    """A Kubernetes CA with a serving cert (127.0.0.1), a client cert, and a client cert from another CA."""
    return make_tls_files(str(tmp_path_factory.mktemp('kube-pki')))


@pytest.fixture(scope='module', name='etcd')
def etcd_fixture(tmp_path_factory):
    """A 3-member TLS etcd with its own CA, distinct from the Kubernetes CA."""
    pki = make_tls_files(str(tmp_path_factory.mktemp('etcd-pki')))
    with start_cluster(3, tls=pki) as cluster:
        yield cluster


def free_port():
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def flags(kube_pki, etcd_cluster, port, tmp_path, extra=()):
    """The flags the apiserver role renders, pointed at test files."""
    auth = tmp_path / 'authentication-config.json'
    auth.write_text(json.dumps({'apiVersion': 'apiserver.config.k8s.io/v1', 'kind': 'AuthenticationConfiguration',
                                'anonymous': {'enabled': True, 'conditions': [{'path': '/livez'}, {'path': '/readyz'}, {'path': '/healthz'}]}}))
    policy = tmp_path / 'audit-policy.yaml'
    policy.write_text('apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: Metadata\n')
    args = ['--bind-address=127.0.0.1', '--secure-port=%d' % port,
            '--etcd-servers=%s' % ','.join(etcd_cluster.endpoints), '--etcd-cafile=%s' % etcd_cluster.tls.ca,
            '--etcd-certfile=%s' % etcd_cluster.tls.client_cert, '--etcd-keyfile=%s' % etcd_cluster.tls.client_key,
            '--etcd-readycheck-timeout=1s',
            '--client-ca-file=%s' % kube_pki.ca, '--tls-cert-file=%s' % kube_pki.server_cert,
            '--tls-private-key-file=%s' % kube_pki.server_key,
            '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
            '--service-account-key-file=%s' % kube_pki.client_cert, '--service-account-signing-key-file=%s' % kube_pki.client_key,
            '--service-cluster-ip-range=10.96.0.0/12', '--authorization-mode=Node,RBAC',
            '--authentication-config=%s' % auth, '--audit-policy-file=%s' % policy, '--audit-log-path=%s' % (tmp_path / 'audit.log')]
    return args + list(extra)


@pytest.fixture(name='apiserver')
def apiserver_fixture(binary, daemon):
    """Start stand-in apiservers with a list of flags; stopped after the test by the daemon fixture."""
    return lambda args: daemon(binary, *args)


def get(url, context, bound=10.0):
    """GET url, waiting (bounded) for the port to open; (status, body)."""
    deadline = time.monotonic() + bound
    while True:
        try:
            with urllib.request.urlopen(url, timeout=3, context=context) as resp:  # nosec - local test URL
                return resp.status, resp.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()
        except urllib.error.URLError as exc:
            if not isinstance(exc.reason, ConnectionRefusedError) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def ca_only(kube_pki):
    """A client that holds only the CA."""
    return ssl.create_default_context(cafile=kube_pki.ca)


def with_client_cert(kube_pki, cert=None, key=None):
    """A client that presents a certificate."""
    context = ssl.create_default_context(cafile=kube_pki.ca)
    context.load_cert_chain(cert or kube_pki.client_cert, key or kube_pki.client_key)
    return context


def test_health_for_anyone_with_the_ca_the_rest_needs_a_client_cert(binary, apiserver, kube_pki, etcd, tmp_path):
    port = free_port()
    apiserver(flags(kube_pki, etcd, port, tmp_path))
    base = 'https://127.0.0.1:%d' % port
    assert get(base + '/readyz', ca_only(kube_pki)) == (200, 'ok')
    assert get(base + '/livez', ca_only(kube_pki)) == (200, 'ok')
    status, body = get(base + '/version', ca_only(kube_pki))
    assert status == 401 and json.loads(body)['reason'] == 'Unauthorized'
    status, body = get(base + '/version', with_client_cert(kube_pki))
    assert status == 200 and json.loads(body)['gitVersion'] == 'v1.34.2'
    # a certificate from another CA fails the handshake, as in Go's VerifyClientCertIfGiven
    with pytest.raises((urllib.error.URLError, ssl.SSLError, ConnectionError)):
        get(base + '/version', with_client_cert(kube_pki, kube_pki.wrong_client_cert, kube_pki.wrong_client_key))
    # a client that does not trust the serving CA refuses it
    with pytest.raises(urllib.error.URLError):
        get(base + '/readyz', ssl.create_default_context(cafile=kube_pki.wrong_ca))
    # non-health requests are audited with the user's name
    events = [json.loads(line) for line in (tmp_path / 'audit.log').read_text().splitlines()]
    assert [(e['requestURI'], e['user']['username'], e['responseStatus']['code']) for e in events] == [('/version', 'etcd-client', 200)]


def test_anonymous_auth_false_refuses_health_without_a_cert(binary, apiserver, kube_pki, etcd, tmp_path):
    port = free_port()
    args = [a for a in flags(kube_pki, etcd, port, tmp_path) if not a.startswith('--authentication-config')]
    apiserver(args + ['--anonymous-auth=false'])
    base = 'https://127.0.0.1:%d' % port
    assert get(base + '/readyz', ca_only(kube_pki))[0] == 401
    assert get(base + '/readyz', with_client_cert(kube_pki)) == (200, 'ok')


def test_anonymous_in_both_flag_and_config_is_refused(binary, kube_pki, etcd, tmp_path):
    result = subprocess.run([binary] + flags(kube_pki, etcd, free_port(), tmp_path) + ['--anonymous-auth=false'],
                            capture_output=True, text=True, timeout=20, check=False)
    assert result.returncode == 1 and '--anonymous-auth flag cannot be set' in result.stderr


def test_readyz_follows_etcd(binary, apiserver, kube_pki, tmp_path):
    pki = make_tls_files(str(tmp_path / 'etcd-pki'))
    with start_cluster(1, tls=pki) as cluster:
        port = free_port()
        apiserver(flags(kube_pki, cluster, port, tmp_path))
        url = 'https://127.0.0.1:%d/readyz' % port
        assert get(url, ca_only(kube_pki)) == (200, 'ok')
        cluster.members[0].stop(kill=True)
        status, body = get(url, ca_only(kube_pki))
        assert status == 500 and '[-]etcd-readiness failed' in body
        assert get(url.replace('/readyz', '/livez'), ca_only(kube_pki)) == (200, 'ok')
        cluster.members[0].start()
        deadline = time.monotonic() + 30
        while get(url, ca_only(kube_pki))[0] != 200:
            assert time.monotonic() < deadline, 'readyz did not recover after etcd came back'
            time.sleep(0.1)


def test_readyz_needs_the_etcd_client_cert(binary, apiserver, kube_pki, etcd, tmp_path):
    """Without the etcd client certificate the TLS etcd refuses it, so the apiserver is not ready."""
    port = free_port()
    args = [a for a in flags(kube_pki, etcd, port, tmp_path) if not a.startswith(('--etcd-certfile', '--etcd-keyfile'))]
    apiserver(args)
    status, body = get('https://127.0.0.1:%d/readyz' % port, ca_only(kube_pki))
    assert status == 500 and 'etcd-readiness failed' in body


@pytest.mark.parametrize('drop, message', [
    ('--etcd-servers', '--etcd-servers must be specified'),
    ('--service-account-issuer', 'service-account-issuer is a required flag'),
    ('--service-account-signing-key-file', 'service-account-signing-key-file and service-account-issuer are required flags'),
])
def test_refuses_to_start_without_required_flags(binary, kube_pki, etcd, tmp_path, drop, message):
    args = [a for a in flags(kube_pki, etcd, free_port(), tmp_path) if not a.startswith(drop + '=')]
    result = subprocess.run([binary] + args, capture_output=True, text=True, timeout=20, check=False)
    assert result.returncode == 1 and message in result.stderr


@pytest.mark.parametrize('flag', ['--basic-auth-file=/srv/kubernetes/basic_auth.csv', '--insecure-port=8080', '--address=127.0.0.1'])
def test_removed_flags_are_unknown_in_1_34(binary, kube_pki, etcd, tmp_path, flag):
    result = subprocess.run([binary] + flags(kube_pki, etcd, free_port(), tmp_path) + [flag], capture_output=True, text=True, timeout=20, check=False)
    assert result.returncode == 1 and 'unknown flag: %s' % flag.split('=')[0] in result.stderr


def test_missing_files_are_named(binary, kube_pki, etcd, tmp_path):
    args = flags(kube_pki, etcd, free_port(), tmp_path) + ['--tls-cert-file=%s' % (tmp_path / 'nope.crt')]
    result = subprocess.run([binary] + args, capture_output=True, text=True, timeout=20, check=False)
    assert result.returncode == 1 and 'nope.crt: no such file or directory' in result.stderr
