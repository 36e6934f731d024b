"""_daemon.health against real listeners on loopback: HTTP status, TCP port, unix socket, command, bounded waits."""

from __future__ import annotations

import http.server
import socket
import threading
import time

import pytest

from ansible_collections.kubeha.cluster.plugins.module_utils._daemon import health
from ansible_collections.kubeha.cluster.plugins.module_utils._daemon.common import DaemonError
from support.etcd_cluster import free_port


@pytest.fixture
def http_server():
    """A server on a free port answering /ok with 200 and anything else with 500 'etcd not ready'."""
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server's name)
            status, body = (200, b"ok") if self.path == "/ok" else (500, b"[-]etcd failed: etcd not ready")
            self.send_response(status)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield "http://127.0.0.1:%d" % server.server_address[1]
    server.shutdown()
    server.server_close()


def test_url_status_and_body_are_what_is_reported(http_server):
    assert health.probe(dict(url=http_server + "/ok")) == (True, "200 ok")
    ok, seen = health.probe(dict(url=http_server + "/readyz"))
    assert ok is False and seen == "500 [-]etcd failed: etcd not ready"
    assert health.probe(dict(url=http_server + "/readyz", status=500))[0] is True


def test_port_socket_and_command(tmp_path):
    port = free_port()
    ok, seen = health.probe(dict(port=port))
    assert ok is False and "ConnectionRefusedError" in seen
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", port))
        listener.listen()
        assert health.probe(dict(port=port)) == (True, "accepted")
    path = str(tmp_path / "s.sock")
    assert health.probe(dict(socket=path))[0] is False
    with socket.socket(socket.AF_UNIX) as listener:
        listener.bind(path)
        listener.listen()
        assert health.probe(dict(socket=path)) == (True, "accepted")
    assert health.probe(dict(command=["true"]))[0] is True
    assert health.probe(dict(command=["sh", "-c", "echo '{\"holder\": \"m1\"}'"])) == (True, '{"holder": "m1"}')
    ok, seen = health.probe(dict(command=["sh", "-c", "echo broken >&2; exit 3"]))
    assert ok is False and seen == "rc 3 broken"


def test_wait_returns_as_soon_as_it_passes_and_gives_up_at_the_bound(tmp_path):
    flag = tmp_path / "up"
    threading.Timer(0.3, flag.touch).start()
    start = time.monotonic()
    ok, _seen, attempts = health.wait(dict(command=["test", "-e", str(flag)]), timeout=10, interval=0.05)
    # as soon as it passes: the flag appears at 0.3 s; a wait that ran to its 10 s bound would take 10 s
    # (3 s leaves room for a loaded 2-core runner starting `test` processes)
    assert ok is True and attempts >= 2 and time.monotonic() - start < 3
    start = time.monotonic()
    ok, seen, attempts = health.wait(dict(command=["false"]), timeout=0.5, interval=0.1)
    # gives up at the bound: 0.5 s, plus one attempt in flight and the runner's slack (not several bounds)
    assert ok is False and seen.startswith("rc 1") and attempts >= 3
    assert 0.5 <= time.monotonic() - start < 1.5


@pytest.mark.parametrize("check", [{}, dict(url="http://x", port=1)])
def test_exactly_one_kind_of_check(check):
    with pytest.raises(DaemonError, match="health needs exactly one of url, port, socket or command"):
        health.check_spec(check, "units[0] x")


def test_a_self_signed_https_url_is_refused_unless_validate_certs_is_false(tmp_path):
    """A component's own self-signed serving certificate (kube-scheduler's): verified by default, skipped only when asked."""
    import datetime
    import ssl

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost@1700000000")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(now).not_valid_after(now + datetime.timedelta(hours=1))
            .sign(key, hashes.SHA256()))
    (tmp_path / "tls.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "tls.key").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                         serialization.NoEncryption()))

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server's name)
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(tmp_path / "tls.crt"), str(tmp_path / "tls.key"))
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = "https://127.0.0.1:%d/readyz" % server.server_address[1]
    try:
        ok, seen = health.probe(dict(url=url))
        assert ok is False and "CERTIFICATE_VERIFY_FAILED" in seen
        assert health.probe(dict(url=url, validate_certs=True))[0] is False
        assert health.probe(dict(url=url, validate_certs=False)) == (True, "200 ok")
    finally:
        server.shutdown()
        server.server_close()
