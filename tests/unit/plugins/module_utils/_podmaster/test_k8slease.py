"""podmaster releases a dead holder's Kubernetes Lease before its copy starts (a stub apiserver on loopback)."""

from __future__ import annotations

import http.server
import json
import threading

import pytest

from ansible_collections.kubeha.cluster.plugins.module_utils._podmaster.elector import Component, Elector, Settings
from ansible_collections.kubeha.cluster.plugins.module_utils._podmaster.k8slease import LeaseReleaser

PATH = "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/kube-scheduler"


class Api:
    """The Lease as the apiserver keeps it, with resourceVersion checks on update."""

    def __init__(self, holder="m1_0b3c", status=None):
        self.lease = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                      "metadata": {"name": "kube-scheduler", "namespace": "kube-system", "resourceVersion": "42"},
                      "spec": {"holderIdentity": holder, "leaseDurationSeconds": 2, "leaseTransitions": 3}}
        self.status = status
        self.puts = []


@pytest.fixture
def api():
    state = Api()

    class Handler(http.server.BaseHTTPRequestHandler):
        def _send(self, code, body):
            data = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):  # noqa: N802
            if state.status or self.path != PATH:
                self._send(state.status or 404, {"kind": "Status"})
            else:
                self._send(200, state.lease)

        def do_PUT(self):  # noqa: N802
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            state.puts.append(body)
            if body["metadata"]["resourceVersion"] != state.lease["metadata"]["resourceVersion"]:
                self._send(409, {"kind": "Status", "reason": "Conflict"})
                return
            state.lease = dict(body, metadata=dict(body["metadata"], resourceVersion="43"))
            self._send(200, state.lease)

        def log_message(self, *args):  # pylint: disable=arguments-differ
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    state.url = "http://127.0.0.1:%d" % server.server_address[1]
    yield state
    server.shutdown()
    server.server_close()


def test_the_dead_holders_lease_is_emptied_with_the_version_read(api):
    done = LeaseReleaser(api.url).release("kube-system", "kube-scheduler")
    assert done.startswith("released Lease kube-system/kube-scheduler of the dead holder m1_0b3c")
    (put,) = api.puts
    assert put["spec"]["holderIdentity"] is None and put["spec"]["leaseDurationSeconds"] == 1
    assert put["spec"]["leaseTransitions"] == 3 and put["metadata"]["resourceVersion"] == "42"
    assert "nothing to release" in LeaseReleaser(api.url).release("kube-system", "kube-scheduler")


def test_a_lease_that_changed_meanwhile_or_an_error_is_left_alone(api):
    api.lease["metadata"]["resourceVersion"] = "99"
    original = LeaseReleaser(api.url)
    # the GET sees 99, a new holder writes 100 before the PUT: the PUT must not win
    api_get = api.lease

    class Racing(LeaseReleaser):
        def _opener(self, client_cert, client_key):
            opener = super()._opener(client_cert, client_key)
            real_open = opener.open

            def open_(request, timeout=None):
                if request.get_method() == "PUT":
                    api_get["metadata"]["resourceVersion"] = "100"
                return real_open(request, timeout=timeout)
            opener.open = open_
            return opener
    assert "changed meanwhile" in Racing(api.url).release("kube-system", "kube-scheduler")
    assert api.lease["spec"]["holderIdentity"] == "m1_0b3c"
    assert "does not exist yet" in original.release("kube-system", "other")
    api.status = 403
    assert "GET answered HTTP 403" in original.release("kube-system", "kube-scheduler")
    assert "not released" in LeaseReleaser("http://127.0.0.1:9").release("kube-system", "kube-scheduler")


class Releaser:
    def __init__(self, events):
        self.events = events

    def release(self, namespace, name, cert=None, key=None):
        self.events.append("release %s/%s with %s" % (namespace, name, cert))
        return "released"


def test_the_elector_releases_before_it_starts_a_copy_and_only_then():
    from test_elector_logic import Clock, FakeEtcd, Recorder  # pylint: disable=import-outside-toplevel,import-error
    events, clock = [], Clock()
    comp = Component("kube-scheduler", "/k", Recorder(events),
                     lease={"namespace": "kube-system", "name": "kube-scheduler", "client_cert": "/srv/kubernetes/scheduler.crt"})
    elector = Elector(FakeEtcd(events, clock), "m2", [comp], Settings(ttl=6, renew_interval=2, margin=2, timeout=1),
                      clock=clock, lease_releaser=Releaser(events))
    elector.step()
    started = [e for e in events if not e.startswith("etcd:")]
    assert started == ["release kube-system/kube-scheduler with /srv/kubernetes/scheduler.crt", "activate"]
    clock.now += 2
    elector.step()
    assert [e for e in events if e.startswith("release")] == started[:1], "released once, when the copy started"
