"""etcd_discovery for real: a self-hosted discovery etcd, a token, three members bootstrapping through it."""

from __future__ import annotations

import http.server
import threading
import urllib.parse
import urllib.request
import uuid

import pytest

from support.etcd_cluster import etcd35_binary, run_module, start_cluster

NAMES = ["etcd1", "etcd2", "etcd3"]


def register(discovery_url, member_id, value):
    """Register a member on a token the way etcd does (used to fake a stale registration)."""
    req = urllib.request.Request("%s/%s?prevExist=false" % (discovery_url, member_id), method="PUT",
                                 data=urllib.parse.urlencode({"value": value}).encode(),
                                 headers={"Content-Type": "application/x-www-form-urlencoded"})
    with urllib.request.urlopen(req, timeout=5) as resp:  # noqa: S310
        assert resp.status in (200, 201)


def test_bootstrap_through_discovery_then_refuse_full_wrong_size_and_foreign(etcd_discovery_service):
    service = etcd_discovery_service.endpoints[0]
    token = "kubeha-" + uuid.uuid4().hex[:12]
    args = {"discovery_service": service, "token": token, "expected_members": NAMES}

    check = run_module("etcd_discovery", args, check_mode=True)
    assert check["changed"] is True and check["created"] is True and check["size"] == 3
    assert check["discovery_url"] == "%s/v2/keys/_etcd/registry/%s" % (service, token)
    assert run_module("etcd_discovery", args, check_mode=True)["created"] is True, "check mode must not create"

    made = run_module("etcd_discovery", args)
    assert made["changed"] is True and made["service_type"] == "etcd"
    assert (made["size"], made["full"], made["registered"]) == (3, False, [])
    again = run_module("etcd_discovery", args)
    assert again["changed"] is False and again["discovery_url"] == made["discovery_url"]

    # three members bootstrap through the token (started together: each blocks until all registered)
    # v2 discovery is what etcd 3.5 members bootstrap from
    with start_cluster(3, discovery=made["discovery_url"], binary=etcd35_binary()) as cluster:
        info = run_module("etcd_cluster_info", dict(cluster.connection_args(), wait=True, wait_timeout=30,
                                                    expected_members=3))
        assert "failed" not in info and sorted(m["name"] for m in info["members"]) == NAMES
        assert len({e["leader"] for e in info["endpoints"]}) == 1

        full = run_module("etcd_discovery", args)
        assert full["failed"] is True and "is full: 3 of 3 members registered" in full["msg"]
        assert "Create a new token" in full["msg"]
        accepted = run_module("etcd_discovery", dict(args, allow_full=True))
        assert accepted["changed"] is False and accepted["full"] is True
        assert sorted(e["name"] for e in accepted["registered"]) == NAMES
        assert all(e["expected"] for e in accepted["registered"])
        peer_urls = sorted(u for e in accepted["registered"] for u in e["peer_urls"])
        assert peer_urls == sorted(m.peer_url for m in cluster.members)

    wrong_size = run_module("etcd_discovery", dict(args, expected_members=NAMES + ["etcd4", "etcd5"], allow_full=True))
    assert wrong_size["failed"] is True and "made for 3 members but 5 are expected" in wrong_size["msg"]

    stale = dict(args, token="kubeha-" + uuid.uuid4().hex[:12])
    url = run_module("etcd_discovery", stale)["discovery_url"]
    register(url, "1a2b3c4d5e6f7081", "old-etcd1=https://10.9.9.9:2380")
    foreign = run_module("etcd_discovery", stale)
    assert foreign["failed"] is True
    assert "not in the inventory: old-etcd1 (https://10.9.9.9:2380)" in foreign["msg"]


def test_new_random_token_and_adopting_by_url(etcd_discovery_service):
    service = etcd_discovery_service.endpoints[0]
    first = run_module("etcd_discovery", {"discovery_service": service, "size": 1})
    second = run_module("etcd_discovery", {"discovery_service": service, "size": 1})
    assert first["changed"] is True and second["changed"] is True and first["token"] != second["token"]
    adopted = run_module("etcd_discovery", {"token": first["discovery_url"], "expected_members": ["solo"]})
    assert adopted["changed"] is False and adopted["size"] == 1 and adopted["token"] == first["token"]
    missing = run_module("etcd_discovery", {"discovery_service": service, "service_type": "etcd"})
    assert missing["failed"] is True and "size" in missing["msg"]


def test_bad_service_url_is_an_argument_error():
    result = run_module("etcd_discovery", {"discovery_service": "discovery.example:2379", "size": 3})
    assert result["failed"] is True and "'discovery.example:2379'" in result["msg"]


class FakePublicService(http.server.BaseHTTPRequestHandler):
    """discovery.etcd.io in miniature: /new?size=N makes a token on the backing v2 etcd; GET proxies to it."""

    backend = ""

    def do_GET(self):  # noqa: N802 (http.server API)
        parsed = urllib.parse.urlsplit(self.path)
        if parsed.path == "/new":
            size = urllib.parse.parse_qs(parsed.query)["size"][0]
            token = uuid.uuid4().hex
            req = urllib.request.Request("%s/v2/keys/_etcd/registry/%s/_config/size" % (self.backend, token),
                                         data=urllib.parse.urlencode({"value": size}).encode(), method="PUT",
                                         headers={"Content-Type": "application/x-www-form-urlencoded"})
            urllib.request.urlopen(req, timeout=5).close()  # noqa: S310
            body = ("http://%s:%d/%s" % (self.server.server_address + (token,))).encode()
            status = 200
        else:
            try:
                with urllib.request.urlopen("%s/v2/keys/_etcd/registry%s" % (self.backend, self.path), timeout=5) as resp:  # noqa: S310
                    status, body = resp.status, resp.read()
            except urllib.error.HTTPError as exc:
                status, body = exc.code, exc.read()
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):  # pylint: disable=arguments-differ
        pass


@pytest.fixture
def public_service(etcd_discovery_service):
    handler = type("Handler", (FakePublicService,), {"backend": etcd_discovery_service.endpoints[0]})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield "http://127.0.0.1:%d" % server.server_address[1]
    server.shutdown()
    server.server_close()


def test_public_discovery_service_protocol(public_service):
    check = run_module("etcd_discovery", {"discovery_service": public_service, "expected_members": NAMES}, check_mode=True)
    assert check["changed"] is True and check["service_type"] == "public" and check["discovery_url"] == ""
    made = run_module("etcd_discovery", {"discovery_service": public_service, "expected_members": NAMES})
    assert made["changed"] is True and made["discovery_url"].startswith(public_service + "/")
    assert made["size"] == 3 and made["registered"] == []
    adopted = run_module("etcd_discovery", {"token": made["discovery_url"], "expected_members": NAMES})
    assert adopted["changed"] is False and adopted["token"] == made["token"] and adopted["service_type"] == "public"
    unknown = run_module("etcd_discovery", {"discovery_service": public_service, "token": "doesnotexist",
                                            "expected_members": NAMES})
    assert unknown["failed"] is True and "does not exist" in unknown["msg"]


def test_v3_discovery_bootstraps_etcd_36_then_refuses_full_wrong_size_and_foreign(etcd_pki):
    """etcd 3.6's own protocol: a token in the v3 key space of a TLS discovery etcd that asks for client
    certificates; three 3.6 members bootstrap from it with --discovery-token and --discovery-endpoints."""
    with start_cluster(1, tls=etcd_pki, name_prefix="v3disc") as service:
        conn = service.connection_args()
        endpoint = conn["endpoints"][0]
        args = {"service_type": "etcd-v3", "discovery_service": endpoint, "ca_cert": conn["ca_cert"],
                "client_cert": conn["client_cert"], "client_key": conn["client_key"], "expected_members": NAMES}

        check = run_module("etcd_discovery", args, check_mode=True)
        assert check["changed"] is True and check["created"] is True and check["size"] == 3
        made = run_module("etcd_discovery", args)
        token = made["token"]
        assert made["changed"] is True and made["service_type"] == "etcd-v3" and made["endpoints"] == [endpoint]
        assert (made["size"], made["full"], made["registered"], made["discovery_url"]) == (3, False, [], "")
        assert token != check["token"], "check mode made up a token and must not have created it"
        kept = dict(args, token=token)
        assert run_module("etcd_discovery", kept)["changed"] is False

        # without a client certificate the discovery etcd refuses (it asks for one)
        refused = run_module("etcd_discovery", dict(kept, client_cert=None, client_key=None))
        assert refused["failed"] is True

        flags = ["--discovery-token", token, "--discovery-endpoints", endpoint, "--discovery-cacert", conn["ca_cert"],
                 "--discovery-cert", conn["client_cert"], "--discovery-key", conn["client_key"],
                 "--discovery-insecure-transport=false", "--initial-cluster-state", "new"]
        with start_cluster(3, discovery=flags) as cluster:
            info = run_module("etcd_cluster_info", dict(cluster.connection_args(), wait=True, wait_timeout=30,
                                                        expected_members=3))
            assert "failed" not in info and sorted(m["name"] for m in info["members"]) == NAMES
            assert info["endpoints"][0]["version"].startswith("3.6.")

            full = run_module("etcd_discovery", kept)
            assert full["failed"] is True and "is full: 3 of 3 members registered" in full["msg"]
            accepted = run_module("etcd_discovery", dict(kept, allow_full=True))
            assert accepted["full"] is True and sorted(e["name"] for e in accepted["registered"]) == NAMES
            assert sorted(u for e in accepted["registered"] for u in e["peer_urls"]) == sorted(m.peer_url for m in cluster.members)

        wrong_size = run_module("etcd_discovery", dict(kept, expected_members=NAMES + ["etcd4", "etcd5"], allow_full=True))
        assert wrong_size["failed"] is True and "was made for 3 members but 5 are expected" in wrong_size["msg"]
        foreign = run_module("etcd_discovery", dict(kept, expected_members=["other1", "other2", "other3"], allow_full=True))
        assert foreign["failed"] is True and "not in the inventory" in foreign["msg"] and "etcd1" in foreign["msg"]
