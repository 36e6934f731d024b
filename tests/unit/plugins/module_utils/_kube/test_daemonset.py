"""kube_daemonset's deletion against a scripted apiserver: what it deletes, reports, waits for and when it gives up."""

from __future__ import annotations

import pytest

from support.clock import Clock

from ansible_collections.kubeha.cluster.plugins.module_utils._kube.api import ApiError
from ansible_collections.kubeha.cluster.plugins.module_utils._kube.daemonset import DaemonSetError, run_absent

DS = "/apis/apps/v1/namespaces/kube-system/daemonsets/kube-proxy"


class Apiserver:
    """A DaemonSet and pods in kube-system; after a DELETE its pods go one per ``per_pod`` reads, then the DaemonSet."""

    def __init__(self, exists=True, nodes=("m1", "w1"), per_pod=2, stuck=False):
        self.ds = {"metadata": {"name": "kube-proxy", "namespace": "kube-system", "uid": "ds-uid"}} if exists else None
        owner = [{"kind": "DaemonSet", "name": "kube-proxy", "uid": "ds-uid", "controller": True}]
        self.pods = [{"metadata": {"name": "kube-proxy-" + n, "ownerReferences": owner}, "spec": {"nodeName": n}}
                     for n in nodes]
        # someone else's pod in the namespace, and one owned by another DaemonSet of the same name (another uid)
        self.pods.append({"metadata": {"name": "coredns-1", "ownerReferences": [{"kind": "ReplicaSet", "uid": "rs"}]},
                          "spec": {"nodeName": "m1"}})
        self.pods.append({"metadata": {"name": "kube-proxy-old", "ownerReferences": [{"kind": "DaemonSet", "uid": "old"}]},
                          "spec": {"nodeName": "w1"}})
        self.per_pod, self.stuck, self.deleted, self.reads = per_pod, stuck, None, 0
        self.calls = []

    def __call__(self, method, path, body=None):
        self.calls.append(method)
        if path == DS:
            if method == "DELETE":
                if self.ds is None:
                    raise ApiError("DELETE answered HTTP 404", 404)
                assert body["propagationPolicy"] == "Foreground"
                self.deleted = True
                return {}
            if self.deleted and not self.stuck:
                self.reads += 1
                if self.reads % self.per_pod == 0:
                    owned = [p for p in self.pods if p["metadata"]["ownerReferences"][0]["uid"] == "ds-uid"]
                    if owned:
                        self.pods.remove(owned[0])
                    else:
                        self.ds = None
            if self.ds is None:
                raise ApiError("GET answered HTTP 404", 404)
            return self.ds
        assert (method, path) == ("GET", "/api/v1/namespaces/kube-system/pods")
        return {"items": self.pods}


def run(api, check_mode=False, timeout=60):
    clock = Clock()
    return run_absent(api, "kube-system", "kube-proxy", timeout, check_mode=check_mode, clock=clock,
                      sleep=clock.sleep), clock


def test_a_missing_daemonset_is_left_so():
    api = Apiserver(exists=False)
    result = run(api)[0]
    assert result == {"changed": False, "pods": [], "seconds": 0.0}
    assert "DELETE" not in api.calls


def test_check_mode_names_its_pods_and_deletes_nothing():
    api = Apiserver()
    result = run(api, check_mode=True)[0]
    assert result["changed"] is True
    # only the pods it owns (by uid), each with its node
    assert result["pods"] == ["m1/kube-proxy-m1", "w1/kube-proxy-w1"]
    assert "DELETE" not in api.calls and api.ds is not None


def test_the_deletion_waits_until_every_pod_and_the_daemonset_are_gone():
    api = Apiserver(per_pod=3)
    result, clock = run(api)
    assert result["changed"] is True and result["pods"] == ["m1/kube-proxy-m1", "w1/kube-proxy-w1"]
    assert api.ds is None and [p["metadata"]["name"] for p in api.pods] == ["coredns-1", "kube-proxy-old"]
    # it polled once a second until the DaemonSet was gone: 2 pods and the object, 3 reads each
    assert result["seconds"] == clock.now == 8.0


def test_pods_that_do_not_stop_fail_it_naming_them_after_the_timeout():
    api = Apiserver(stuck=True)
    with pytest.raises(DaemonSetError) as err:
        run(api, timeout=30)
    message = str(err.value)
    assert "after 30 s" in message and "m1/kube-proxy-m1, w1/kube-proxy-w1" in message
    assert "kube-proxy-old" not in message and "--force" in message
    assert err.value.result == {"changed": True, "pods": ["m1/kube-proxy-m1", "w1/kube-proxy-w1"], "seconds": 30.0}


def test_an_api_error_other_than_not_found_is_raised():
    def refused(method, path, body=None):
        raise ApiError("GET %s answered HTTP 403 (the certificate may not do this)" % path, 403)
    with pytest.raises(ApiError, match="403"):
        run_absent(refused, "kube-system", "kube-proxy", 10)
