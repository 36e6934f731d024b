"""roles/node/files/node-daemons stale: which daemon monit runs started before a file it reads was written.

A run that writes the kubelet's configuration and fails before its handler restarts the kubelet leaves it
running the old settings; the next run's files are unchanged, so only this comparison (the process's start time
against the files' mtimes) still knows a restart is due (issue 14 item 6). Real processes, real /proc.
"""

from __future__ import annotations

import datetime
import json
import os
import subprocess
import sys
import time

import pytest

from support import scripts

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
SCRIPT = os.path.join(ROOT, 'roles', 'node', 'files', 'node-daemons')


def _load():
    return scripts.load(os.path.join('roles', 'node', 'files', 'node-daemons'), 'node_daemons')


@pytest.fixture
def daemon(tmp_path):
    """A running process with a pidfile, and two files it 'reads' written long before it started."""
    proc = subprocess.Popen(['sleep', '60'])
    pidfile = tmp_path / 'kubelet.pid'
    pidfile.write_text('%d\n' % proc.pid)
    files = [tmp_path / 'kubelet.yaml', tmp_path / 'kubelet']
    for path in files:
        path.write_text('v1')
        os.utime(path, (time.time() - 300, time.time() - 300))
    yield str(pidfile), [str(f) for f in files]
    proc.kill()
    proc.wait()


def _stale(*argv):
    out = subprocess.run([sys.executable, SCRIPT, 'stale'] + list(argv), capture_output=True, text=True, check=False)
    return out.returncode, out.stdout.split()


def test_a_daemon_started_after_its_files_is_not_stale(daemon):
    pidfile, files = daemon
    assert _stale('kubelet', pidfile, *files) == (0, [])


def test_a_file_written_after_the_start_makes_it_stale(daemon):
    pidfile, files = daemon
    os.utime(files[1], (time.time() + 5, time.time() + 5))
    assert _stale('kubelet', pidfile, *files) == (0, ['kubelet'])
    # several daemons in one call, each with its own pidfile and files; one that does not run is not stale
    assert _stale('containerd', pidfile + '.none', files[1], '--', 'kubelet', pidfile, *files) == (0, ['kubelet'])


def test_files_that_do_not_exist_call_for_no_restart(daemon, tmp_path):
    pidfile, _files = daemon
    assert _stale('kubelet', pidfile, str(tmp_path / 'gone')) == (0, [])


def test_restart_uses_the_same_comparison(daemon):
    module = _load()
    pidfile, files = daemon
    started, written = module.started_and_written(pidfile, files)
    assert started is not None and written < started
    os.utime(files[0], (time.time() + 5, time.time() + 5))
    assert module.started_and_written(pidfile, files)[1] > started


def test_bad_arguments_are_refused_with_the_usage():
    code, _out = _stale('kubelet')
    assert code == 2


# ----------------------------------------------------------------------------------------- lease
# node-daemons lease: the kubelet's health gate once it talks to the API (issue 21 item 3). A kubelet whose
# certificate the apiserver refuses still answers /healthz 200; its Node Lease, read through the balancer with its
# own certificate and renewed since it started, is what it can fail. Here a TLS server that verifies client
# certificates against the cluster CA, like the apiserver, serves a Lease whose renewTime each test sets.

class _LeaseServer:
    def __init__(self, tls):
        import http.server  # pylint: disable=import-outside-toplevel
        import ssl  # pylint: disable=import-outside-toplevel
        import threading  # pylint: disable=import-outside-toplevel
        self.lease = None
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's name)
                if owner.lease is None or not self.path.endswith('/namespaces/kube-node-lease/leases/w1'):
                    self.send_response(404)
                    body = b'{"kind":"Status","message":"leases.coordination.k8s.io \\"w1\\" not found","code":404}'
                else:
                    self.send_response(200)
                    body = json.dumps(owner.lease).encode()
                self.send_header('Content-Type', 'application/json')
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(('127.0.0.1', 0), Handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(tls.server_cert, tls.server_key)
        context.load_verify_locations(tls.ca)
        context.verify_mode = ssl.CERT_OPTIONAL  # like the apiserver: a certificate, if given, must verify
        self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.url = 'https://localhost:%d' % self.httpd.server_address[1]

    def renewed(self, seconds_from_now, duration=40):
        when = datetime.datetime.fromtimestamp(time.time() + seconds_from_now, datetime.timezone.utc)
        self.lease = {'kind': 'Lease', 'spec': {'holderIdentity': 'w1', 'leaseDurationSeconds': duration,
                                                'renewTime': when.strftime('%Y-%m-%dT%H:%M:%S.%fZ')}}

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def apiserver(tmp_path):
    from support.etcd_cluster import make_tls_files  # pylint: disable=import-outside-toplevel
    tls = make_tls_files(str(tmp_path / 'pki'))
    server = _LeaseServer(tls)
    yield server, tls
    server.close()


def _lease(server, tls, pidfile, cert=None, key=None):
    argv = [sys.executable, SCRIPT, 'lease', server.url, tls.ca, cert or tls.client_cert, key or tls.client_key, 'w1', pidfile]
    out = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=30)
    return out.returncode, out.stdout.strip()


def test_a_lease_renewed_since_the_kubelet_started_passes(apiserver, daemon):
    server, tls = apiserver
    server.renewed(0)
    code, out = _lease(server, tls, daemon[0])
    assert code == 0 and out.startswith("kubelet's Lease w1 renewed") and server.url in out


def test_a_lease_last_renewed_before_the_kubelet_started_fails(apiserver, daemon):
    server, tls = apiserver
    started = _load().started_at(daemon[0])
    server.renewed(started - time.time() - 5)
    code, out = _lease(server, tls, daemon[0])
    assert code == 1 and 'before the kubelet started: not renewed by this kubelet yet' in out


def test_an_expired_lease_fails(apiserver, tmp_path):
    server, tls = apiserver
    pidfile = tmp_path / 'self.pid'
    pidfile.write_text('1\n')  # init: started long before the renewal below
    server.renewed(-5, duration=2)
    code, out = _lease(server, tls, str(pidfile))
    assert code == 1 and 'longer than its 2 s duration' in out, out


def test_a_certificate_the_apiserver_does_not_trust_fails(apiserver, daemon):
    server, tls = apiserver
    server.renewed(-1)
    code, out = _lease(server, tls, daemon[0], cert=tls.wrong_client_cert, key=tls.wrong_client_key)
    assert code == 1 and "kubelet's Lease: GET %s" % server.url in out and 'refuses the kubelet' in out, out


def test_no_lease_yet_says_the_node_is_not_registered(apiserver, daemon):
    server, tls = apiserver
    code, out = _lease(server, tls, daemon[0])
    assert code == 1 and 'answered 404' in out and 'has not registered Node w1' in out, out


def test_a_kubelet_that_does_not_run_fails(apiserver, tmp_path):
    server, tls = apiserver
    server.renewed(-1)
    code, out = _lease(server, tls, str(tmp_path / 'missing.pid'))
    assert code == 1 and out.startswith('kubelet: not running'), out


def test_under_monit_the_lease_waits_for_a_pending_kubelet_restart(daemon, capsys):
    """check --lease=... SOCKET URL FILE...: while the kubelet runs from before one of its files was written (the run
    that wrote its new kubeconfig has not restarted it yet), the Lease is left to the restart handler; otherwise asked."""
    module = _load()
    module.MONIT = ['/bin/true']
    asked = []
    module.answers = lambda sock, url, lease_spec=None: (asked.append(lease_spec), (True, ''))[1]
    pidfile, files = daemon
    spec = 'https://lb:6443,ca,crt,key,w1,' + pidfile
    assert module.check('/run/containerd.sock', 'http://127.0.0.1:10248/healthz', spec, files) == 0
    assert asked == [spec]
    os.utime(files[0], None)  # written after the kubelet started: a restart is pending
    assert module.check('/run/containerd.sock', 'http://127.0.0.1:10248/healthz', spec, files) == 0
    assert asked == [spec, None] and 'checked after its pending restart' in capsys.readouterr().out
