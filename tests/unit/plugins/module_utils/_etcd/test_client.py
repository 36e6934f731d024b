"""EtcdClient against real etcd (plain and TLS): KV, compare-and-swap, leases, members, failover, errors."""

from __future__ import annotations

import http.server
import socket
import threading
import uuid

import pytest

from ansible_collections.kubeha.cluster.plugins.module_utils._etcd.client import (
    EtcdClient,
    EtcdConfigError,
    EtcdConnectionError,
    EtcdError,
    hex_id,
    parse_endpoint,
    prefix_end,
)
from support.etcd_cluster import free_port


def client_for(cluster, **overrides):
    args = cluster.connection_args()
    args.update(overrides)
    endpoints = args.pop("endpoints")
    return EtcdClient(endpoints, timeout=args.pop("timeout", 5), **args)


def unique(prefix="/test/"):
    return prefix + uuid.uuid4().hex


class BlackHole:
    """A TCP listener that accepts connections and never answers (a hung etcd)."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.url = "http://127.0.0.1:%d" % self.sock.getsockname()[1]
        self.conns = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        while True:
            try:
                conn = self.sock.accept()[0]
            except OSError:
                return
            self.conns.append(conn)

    def close(self):
        for conn in self.conns:
            conn.close()
        self.sock.close()


@pytest.fixture
def blackhole():
    hole = BlackHole()
    yield hole
    hole.close()


def test_parse_endpoint_normalises_and_refuses_bad_values():
    assert parse_endpoint("https://10.0.0.1:2379/") == "https://10.0.0.1:2379"
    assert parse_endpoint(" http://[::1]:2379 ") == "http://[::1]:2379"
    for bad in ["10.0.0.1:2379", "ftp://x:1", "https://", "https://h:99999", "https://h:2379/v3", ""]:
        with pytest.raises(EtcdConfigError) as err:
            parse_endpoint(bad)
        assert repr(bad.strip()) in str(err.value) or repr(bad) in str(err.value)


def test_helpers():
    assert prefix_end("/a/") == b"/a0"
    assert prefix_end(b"a\xff") == b"b"
    assert hex_id("10276657743932975437") == "8e9e05c52164694d"


def test_key_value_roundtrip(etcd_any):
    client = client_for(etcd_any)
    key = unique()
    assert client.get_one(key) is None
    assert client.put(key, "wert \u00e9", prev_kv=True) is None
    kv = client.get_one(key)
    assert (kv.key, kv.value, kv.version) == (key, "wert \u00e9", 1)
    assert kv.create_revision == kv.mod_revision > 0
    previous = client.put(key, "second", prev_kv=True)
    assert previous.value == "wert \u00e9"
    client.put(key + "/child", "c")
    assert sorted(k.key for k in client.get(key, prefix=True)) == [key, key + "/child"]
    deleted = client.delete(key, prefix=True)
    assert sorted(k.value for k in deleted) == ["c", "second"]
    assert client.get(key, prefix=True) == []


def test_compare_and_swap(etcd_any):
    client = client_for(etcd_any)
    key = unique()
    ok, kv = client.put_if(key, "one", create_only=True)
    assert ok and kv.value == "one"
    ok, kv = client.put_if(key, "two", create_only=True)
    assert not ok and kv.value == "one"
    ok, kv = client.put_if(key, "two", prev_value="wrong")
    assert not ok and kv.value == "one"
    ok, kv = client.put_if(key, "two", prev_value="one")
    assert ok and kv.value == "two"
    ok, kv = client.put_if(key, "three", prev_revision=kv.mod_revision - 1)
    assert not ok and kv.value == "two"
    ok, kv = client.put_if(key, "three", prev_revision=kv.mod_revision)
    assert ok and kv.value == "three"
    ok, kv = client.delete_if(key, prev_value="two")
    assert not ok and client.get_one(key).value == "three"
    ok, kv = client.delete_if(key, prev_value="three")
    assert ok and kv.value == "three" and client.get_one(key) is None


def test_leases_as_the_podmaster_uses_them(etcd_any):
    client = client_for(etcd_any)
    key = unique("/test/lock/")
    lease, ttl = client.lease_grant(30)
    assert lease > 0 and ttl == 30
    ok, kv = client.put_if(key, "master-a", create_only=True, lease=lease)
    assert ok and kv.lease == lease
    # a second candidate cannot take the lock while it is held
    other = client.lease_grant(30)[0]
    ok, kv = client.put_if(key, "master-b", create_only=True, lease=other)
    assert not ok and kv.value == "master-a"
    assert client.lease_keepalive(lease) == 30
    info = client.lease_timetolive(lease, keys=True)
    assert 0 < info["ttl"] <= 30 and info["granted_ttl"] == 30 and info["keys"] == [key]
    assert client.lease_revoke(lease) is True
    assert client.get_one(key) is None, "revoking the lease must delete the lock key"
    assert client.lease_revoke(lease) is False
    assert client.lease_keepalive(lease) == 0
    assert client.lease_timetolive(lease)["ttl"] == -1
    ok, kv = client.put_if(key, "master-b", create_only=True, lease=other)
    assert ok and kv.value == "master-b"
    client.lease_revoke(other)


def test_member_list_and_status(etcd_any):
    client = client_for(etcd_any)
    members = client.member_list()
    assert sorted(m["name"] for m in members) == ["etcd1", "etcd2", "etcd3"]
    assert sorted(m["client_urls"][0] for m in members) == sorted(etcd_any.endpoints)
    status = client.status(etcd_any.endpoints[0])
    assert status["version"].startswith("3.")
    assert status["leader"] in {m["id"] for m in members}
    assert status["raft_term"] >= 1 and status["raft_index"] > 0 and status["db_size"] > 0
    assert client.health(etcd_any.endpoints[1]) is True


def test_dead_endpoint_first_fails_over(etcd_any):
    dead = "%s://127.0.0.1:%d" % (etcd_any.scheme, free_port())
    client = client_for(etcd_any, endpoints=[dead] + etcd_any.endpoints)
    key = unique()
    client.put(key, "v")
    assert client.get_one(key).value == "v"
    assert client.last_endpoint == etcd_any.endpoints[0]
    client.delete(key)


def test_every_endpoint_dead_names_each_one():
    ports = [free_port(), free_port()]
    client = EtcdClient(["http://127.0.0.1:%d" % p for p in ports], timeout=2)
    with pytest.raises(EtcdConnectionError) as err:
        client.get("/x")
    for port in ports:
        assert "http://127.0.0.1:%d: connection refused" % port in str(err.value)


def test_wrong_ca_is_a_tls_error_naming_the_endpoint(etcd_tls):
    client = client_for(etcd_tls, ca_cert=etcd_tls.tls.wrong_ca)
    with pytest.raises(EtcdConnectionError) as err:
        client.member_list()
    for endpoint in etcd_tls.endpoints:
        assert "%s: TLS failure: server certificate not trusted" % endpoint in str(err.value)


def test_missing_client_cert_is_refused_by_the_server(etcd_tls):
    client = EtcdClient(etcd_tls.endpoints[:1], ca_cert=etcd_tls.tls.ca, timeout=5)
    with pytest.raises(EtcdConnectionError) as err:
        client.member_list()
    assert etcd_tls.endpoints[0] in str(err.value)
    assert "TLS failure" in str(err.value) or "client certificate" in str(err.value)


def test_client_cert_from_another_ca_is_refused(etcd_tls):
    client = client_for(etcd_tls, client_cert=etcd_tls.tls.wrong_client_cert, client_key=etcd_tls.tls.wrong_client_key)
    with pytest.raises(EtcdConnectionError) as err:
        client.member_list()
    assert etcd_tls.endpoints[0] in str(err.value)


def test_unreadable_ca_file_is_a_config_error(etcd_tls, tmp_path):
    client = client_for(etcd_tls, ca_cert=str(tmp_path / "missing.crt"))
    with pytest.raises(EtcdConfigError) as err:
        client.member_list()
    assert "missing.crt" in str(err.value)


def test_key_without_cert_is_refused():
    with pytest.raises(EtcdConfigError, match="client_key is set but client_cert is not"):
        EtcdClient(["https://127.0.0.1:2379"], client_key="/k")


def test_timeout_names_the_endpoint_and_reads_fail_over(etcd_plain, blackhole):
    client = EtcdClient([blackhole.url] + etcd_plain.endpoints, timeout=0.5)
    assert len(client.member_list()) == 3
    assert client.last_endpoint == etcd_plain.endpoints[0]
    alone = EtcdClient([blackhole.url], timeout=0.5)
    with pytest.raises(EtcdConnectionError) as err:
        alone.get("/x")
    assert "%s: timed out after 0.5s waiting for the answer" % blackhole.url in str(err.value)


def test_transaction_is_not_resent_after_a_timeout(etcd_plain, blackhole):
    client = EtcdClient([blackhole.url] + etcd_plain.endpoints, timeout=0.5)
    key = unique()
    with pytest.raises(EtcdError) as err:
        client.put_if(key, "v", create_only=True)
    assert "not retried on another endpoint" in str(err.value) and blackhole.url in str(err.value)
    assert EtcdClient(etcd_plain.endpoints).get_one(key) is None


def test_etcd_error_text_is_passed_through(etcd_plain):
    client = client_for(etcd_plain)
    with pytest.raises(EtcdError) as err:
        client.put(unique(), "v", lease=12345)
    assert "requested lease not found" in str(err.value)
    assert etcd_plain.endpoints[0] in str(err.value)


@pytest.mark.parametrize("write", ["put", "delete"])
def test_a_put_or_delete_is_not_resent_after_a_timeout(etcd_plain, blackhole, write):
    """A retried delete would report that nothing was deleted, a retried put the first put's value as the old one."""
    key = unique()
    EtcdClient(etcd_plain.endpoints).put(key, "before")
    client = EtcdClient([blackhole.url] + etcd_plain.endpoints, timeout=0.5)
    with pytest.raises(EtcdError) as err:
        client.put(key, "after") if write == "put" else client.delete(key)
    assert "not retried on another endpoint: the request may have been applied" in str(err.value)
    assert EtcdClient(etcd_plain.endpoints).get_one(key).value == "before"


class _OldEtcd(http.server.BaseHTTPRequestHandler):
    """etcd 3.3 as Debian 11 ships it: /version answers, /v3/ paths are 404 (it serves /v3beta/)."""

    def do_GET(self):  # noqa: N802
        body = b'{"etcdserver":"3.3.25","etcdcluster":"3.3.0"}' if self.path == "/version" else b"404 page not found\n"
        self.send_response(200 if self.path == "/version" else 404)
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):  # noqa: N802
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(404)
        self.end_headers()
        self.wfile.write(b"404 page not found\n")

    def log_message(self, *args):  # pylint: disable=arguments-differ
        pass


def test_an_etcd_without_the_v3_gateway_is_named_with_its_version_and_the_upgrade_path():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _OldEtcd)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        client = EtcdClient(["http://127.0.0.1:%d" % server.server_address[1]], timeout=5)
        with pytest.raises(EtcdError) as err:
            client.member_list()
        text = str(err.value)
        assert "answered 404 to /v3/cluster/member/list: it is etcd 3.3.25" in text
        assert "kubeha supports etcd 3.5 and later" in text and "3.3 -> 3.4 -> 3.5" in text
    finally:
        server.shutdown()
        server.server_close()
