"""kube_node's cordon, drain and delete against a scripted apiserver: what is evicted, left, refused and waited for."""

from __future__ import annotations

import pytest

from support.clock import Clock

from ansible_collections.kubeha.cluster.plugins.module_utils._kube.api import ApiError
from ansible_collections.kubeha.cluster.plugins.module_utils._kube.node import DrainError, NodeClient, plan_drain, run_node


def pod(name, owner=None, ns="default", phase="Running", mirror=False, emptydir=False, uid=None):
    meta = {"name": name, "namespace": ns, "uid": uid or "uid-" + name}
    if owner:
        meta["ownerReferences"] = [{"kind": owner[0], "name": owner[1], "controller": True}]
    if mirror:
        meta["annotations"] = {"kubernetes.io/config.mirror": "abc"}
    spec = {"volumes": [{"name": "scratch", "emptyDir": {}}]} if emptydir else {}
    return {"metadata": meta, "spec": spec, "status": {"phase": phase}}


class Apiserver:
    """Nodes and pods; an evicted pod goes after ``terminating`` reads; ``budget`` refuses that many evictions (429)."""

    def __init__(self, pods, unschedulable=False, budget=0, terminating=1, ready="True", kubelet="v1.34.3"):
        self.nodes = {"w1": {"metadata": {"name": "w1", "resourceVersion": "1"},
                             "spec": {"unschedulable": True} if unschedulable else {},
                             "status": {"conditions": [{"type": "MemoryPressure", "status": "False"},
                                                       {"type": "Ready", "status": ready}],
                                        "nodeInfo": {"kubeletVersion": kubelet}}}}
        self.upgrade_after = None   # (reads, version): the kubelet reports version from that many Node reads on
        self.conflicts = 0   # PATCHes answered 409 as if another writer had just changed the Node
        self.pods = {"%s/%s" % (p["metadata"]["namespace"], p["metadata"]["name"]): p for p in pods}
        self.budget = budget
        self.terminating = terminating
        self.leaving = {}
        self.calls = []

    def __call__(self, method, path, body=None, content_type="application/json"):
        self.calls.append((method, path))
        parts = path.split("?")[0].strip("/").split("/")
        if parts[:3] == ["api", "v1", "nodes"]:
            node = self.nodes.get(parts[3])
            if node is None:
                raise ApiError("%s %s answered HTTP 404" % (method, path), 404)
            if method == "GET" and self.upgrade_after:
                reads, version = self.upgrade_after
                self.upgrade_after = (reads - 1, version)
                if reads <= 1:
                    node["status"]["nodeInfo"]["kubeletVersion"] = version
            if method == "PATCH":
                assert content_type == "application/merge-patch+json"
                annotations = node["metadata"].setdefault("annotations", {})
                for key, value in ((body.get("metadata") or {}).get("annotations") or {}).items():
                    if value is None:
                        annotations.pop(key, None)
                    else:
                        annotations[key] = value
                version = (body.get("metadata") or {}).get("resourceVersion")
                if self.conflicts > 0:   # another writer: the node controller's NoSchedule taint of a cordon
                    self.conflicts -= 1
                    node["spec"].setdefault("taints", []).append({"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"})
                    node["metadata"]["resourceVersion"] = str(int(node["metadata"]["resourceVersion"]) + 1)
                if version is not None and version != node["metadata"]["resourceVersion"]:
                    raise ApiError("%s %s answered HTTP 409 the object has been modified" % (method, path), 409)
                node["spec"].update(body["spec"])
                node["metadata"]["resourceVersion"] = str(int(node["metadata"]["resourceVersion"]) + 1)
            if method == "DELETE":
                del self.nodes[parts[3]]
            return node
        if parts == ["api", "v1", "pods"]:
            assert "fieldSelector=spec.nodeName%3Dw1" in path
            return {"items": [p for k, p in self.pods.items() if k not in self.leaving or self.leaving[k] > 0]}
        key = "%s/%s" % (parts[3], parts[5])   # api/v1/namespaces/NS/pods/NAME[/eviction]
        if parts[-1] == "eviction" or method == "DELETE":
            if key not in self.pods:
                raise ApiError("not found", 404)
            if parts[-1] == "eviction" and self.budget > 0:
                self.budget -= 1
                raise ApiError("POST %s answered HTTP 429 Cannot evict pod as it would violate the pod's disruption budget." % path, 429)
            self.leaving.setdefault(key, self.terminating)
            return {}
        if key in self.leaving:
            self.leaving[key] -= 1
            if self.leaving[key] < 0:
                self.pods.pop(key, None)
        if key not in self.pods:
            raise ApiError("not found", 404)
        return self.pods[key]

    def changes(self):
        return [c for c in self.calls if c[0] != "GET"]


PODS = [pod("web-1", ("ReplicaSet", "web-7d")), pod("web-2", ("ReplicaSet", "web-7d"), ns="shop"),
        pod("proxy", ("DaemonSet", "kube-proxy"), ns="kube-system"), pod("kube-apiserver-w1", mirror=True, ns="kube-system"),
        pod("job-done", ("Job", "once"), phase="Succeeded")]


def run(api, state="drained", check_mode=False, **params):
    clock = Clock()
    return run_node(NodeClient(api), dict({"name": "w1", "state": state, "timeout": 30}, **params), check_mode=check_mode,
                    clock=clock, sleep=clock.sleep)


def test_plan_leaves_mirror_daemonset_and_finished_pods_and_refuses_what_kubectl_refuses():
    bare, scratch = pod("debug"), pod("cache", ("ReplicaSet", "cache-1"), emptydir=True)
    evict, left, refused = plan_drain(PODS + [bare, scratch])
    assert [p["metadata"]["name"] for p in evict] == ["web-1", "web-2"]
    assert sorted(x["pod"] for x in left) == ["default/job-done", "kube-system/kube-apiserver-w1", "kube-system/proxy"]
    assert [(x["pod"], x["why"].split(" ")[0]) for x in refused] == [("default/cache", "emptyDir"), ("default/debug", "no")]
    evict, _left, refused = plan_drain([bare, scratch], force=True, delete_emptydir_data=True)
    assert len(evict) == 2 and refused == []


def test_drain_cordons_evicts_waits_and_a_second_run_changes_nothing():
    api = Apiserver(PODS, terminating=3)
    check = run(api, check_mode=True)
    assert check["changed"] and check["actions"] == ["cordoned", "drained"]
    assert check["evicted"] == ["default/web-1", "shop/web-2"]
    assert api.changes() == [], "check mode changed something"
    done = run(api)
    assert done["actions"] == ["cordoned", "drained"] and done["evicted"] == ["default/web-1", "shop/web-2"]
    assert ("PATCH", "/api/v1/nodes/w1") in api.calls
    assert ("POST", "/api/v1/namespaces/shop/pods/web-2/eviction") in api.calls
    assert "default/web-1" not in api.pods and "shop/web-2" not in api.pods, "returned before the pods were gone"
    assert sorted(api.pods) == ["default/job-done", "kube-system/kube-apiserver-w1", "kube-system/proxy"]
    again = run(api)
    assert again["changed"] is False and again["actions"] == [] and again["diff"]["before"] == again["diff"]["after"]


def test_an_eviction_a_budget_refuses_is_tried_again():
    api = Apiserver(PODS, budget=3)
    done = run(api)
    assert done["actions"] == ["cordoned", "drained"]
    assert len([c for c in api.calls if c[1].endswith("/eviction")]) == 5
    assert "default/web-1" not in api.pods and "shop/web-2" not in api.pods


def test_a_budget_that_never_allows_fails_naming_the_pod_and_the_node_stays_cordoned():
    api = Apiserver(PODS, budget=10 ** 6)
    with pytest.raises(DrainError) as failure:
        run(api, timeout=10)
    message = str(failure.value)
    assert "Node w1 is not drained after 10s" in message and "default/web-1: not evicted" in message
    assert "disruption budget" in message and "the node stays cordoned" in message
    assert api.nodes["w1"]["spec"]["unschedulable"] is True


def test_pods_that_would_be_lost_are_refused_before_any_change():
    api = Apiserver(PODS + [pod("debug")])
    with pytest.raises(DrainError, match="cannot be drained; nothing was changed: default/debug: no controller"):
        run(api)
    assert api.changes() == []
    cordoned = run(api, state="cordoned")
    assert cordoned["actions"] == ["cordoned"] and cordoned["evicted"] == [], "cordoning alone refused or evicted"
    assert api.changes() == [("PATCH", "/api/v1/nodes/w1")], "cordoning touched pods: %s" % api.changes()
    done = run(api, force=True)
    assert done["actions"] == ["drained"] and "default/debug" in done["evicted"] and ("DELETE", "/api/v1/namespaces/default/pods/debug") in api.calls


def test_absent_drains_then_deletes_and_present_uncordons():
    api = Apiserver(PODS, unschedulable=True)
    back = run(api, state="present")
    assert back["actions"] == ["uncordoned"] and api.nodes["w1"]["spec"]["unschedulable"] is None
    assert run(api, state="present")["changed"] is False
    gone = run(api, state="absent")
    assert gone["actions"] == ["cordoned", "drained", "deleted"] and "w1" not in api.nodes
    assert run(api, state="absent")["changed"] is False


def test_a_node_that_is_not_registered_is_named():
    api = Apiserver(PODS)
    api.nodes.clear()
    with pytest.raises(DrainError, match="Node w1 is not registered"):
        run(api, state="cordoned")


OUT_OF_SERVICE = {"key": "node.kubernetes.io/out-of-service", "value": "nodeshutdown", "effect": "NoExecute"}


def test_out_of_service_is_refused_while_the_node_reports_ready():
    api = Apiserver(PODS)
    with pytest.raises(DrainError, match="Node w1 reports Ready: its kubelet runs, so its machine is not shut down; nothing was changed"):
        run(api, state="absent", out_of_service=True)
    assert api.changes() == []


def test_out_of_service_taints_a_shut_down_node_once_then_drains_and_deletes():
    api = Apiserver(PODS, ready="Unknown")
    check = run(api, state="absent", out_of_service=True, check_mode=True)
    assert check["actions"] == ["cordoned", "tainted out-of-service", "drained", "deleted"] and api.changes() == []
    # the taint goes on before the evictions: on a NotReady node only it lets the evicted pods go
    drained = run(api, state="drained", out_of_service=True)
    assert drained["actions"] == ["cordoned", "tainted out-of-service", "drained"]
    patches = [i for i, c in enumerate(api.calls) if c[0] == "PATCH"]
    evictions = [i for i, c in enumerate(api.calls) if c[1].endswith("/eviction")]
    assert len(patches) == 2 and patches[-1] < min(evictions)
    assert api.nodes["w1"]["spec"]["taints"] == [OUT_OF_SERVICE]
    again = run(api, state="drained", out_of_service=True)
    assert again["changed"] is False and again["actions"] == []
    assert run(api, state="absent", out_of_service=True)["actions"] == ["deleted"] and "w1" not in api.nodes


def test_out_of_service_keeps_a_taint_another_writer_added_meanwhile():
    api = Apiserver(PODS, ready="False", unschedulable=True)
    api.conflicts = 1
    done = run(api, state="drained", out_of_service=True)
    assert done["actions"] == ["tainted out-of-service", "drained"]
    assert api.nodes["w1"]["spec"]["taints"] == [{"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}, OUT_OF_SERVICE]
    assert len([c for c in api.calls if c[0] == "PATCH"]) == 2, "the conflict was not read again and retried"


CORDONED = "kubeha.cluster/cordoned"


def test_a_drain_for_a_release_moves_the_pods_once_and_marks_the_cordon_as_kubeha_s():
    api = Apiserver(PODS)
    move = dict(release="1.35.4", reason="kubelet v1.35.4")
    check = run(api, check_mode=True, **move)
    assert check["actions"] == ["cordoned", "drained"] and check["kubelet_version"] == "1.34.3" and api.changes() == []
    done = run(api, **move)
    assert done["actions"] == ["cordoned", "drained"] and done["evicted"] == ["default/web-1", "shop/web-2"]
    assert api.nodes["w1"]["spec"]["unschedulable"] is True
    assert api.nodes["w1"]["metadata"]["annotations"] == {CORDONED: "kubelet v1.35.4"}
    # the kubelet restarted on the new release: a resumed run drains nothing, and the Node is made schedulable
    api.nodes["w1"]["status"]["nodeInfo"]["kubeletVersion"] = "v1.35.4"
    again = run(api, **move)
    assert again["changed"] is False and again["kubelet_version"] == "1.35.4"
    back = run(api, state="present", wait_ready=True, **move)
    assert back["actions"] == ["uncordoned"] and api.nodes["w1"]["spec"]["unschedulable"] is None
    assert api.nodes["w1"]["metadata"]["annotations"] == {}, "kubeha's mark stayed on the Node"
    assert run(api, state="present", wait_ready=True, **move)["changed"] is False


def test_a_node_on_the_release_or_not_registered_is_left_alone():
    api = Apiserver(PODS, kubelet="v1.35.4")
    same = run(api, release="v1.35.4", reason="kubelet v1.35.4")
    assert same["changed"] is False and same["actions"] == [] and api.changes() == []
    api.nodes.clear()
    gone = run(api, release="1.35.4")
    assert gone["changed"] is False and gone["kubelet_version"] == ""


def test_a_cordon_made_by_hand_stays_when_kubeha_uncordons_its_own():
    api = Apiserver(PODS, unschedulable=True)
    kept = run(api, state="present", release="1.35.4", reason="kubelet v1.35.4", wait_ready=True)
    assert kept["changed"] is False and kept["kept_cordoned"] is True and api.changes() == []
    # a drain for a release does not take the cordon over: it was there before, so it stays after
    drained = run(api, release="1.35.4", reason="kubelet v1.35.4")
    assert drained["actions"] == ["drained"] and CORDONED not in api.nodes["w1"]["metadata"].get("annotations", {})
    assert run(api, state="present", reason="kubelet v1.35.4")["kept_cordoned"] is True
    # without a reason, present uncordons whatever cordoned it (the module's plain state)
    assert run(api, state="present")["actions"] == ["uncordoned"]


def test_wait_ready_waits_for_the_release_and_fails_naming_what_the_node_reports():
    api = Apiserver(PODS)
    run(api, release="1.35.4", reason="r")
    with pytest.raises(DrainError) as failure:
        run(api, state="present", release="1.35.4", reason="r", wait_ready=True, timeout=5)
    assert str(failure.value).startswith("Node w1 is not Ready with its kubelet at 1.35.4 after 5s (Ready: True, "
                                         "its kubelet reports 1.34.3); it stays cordoned")
    assert api.nodes["w1"]["spec"]["unschedulable"] is True
    api.upgrade_after = (3, "v1.35.4")
    reads = len([c for c in api.calls if c == ("GET", "/api/v1/nodes/w1")])
    back = run(api, state="present", release="1.35.4", reason="r", wait_ready=True, timeout=30)
    assert back["actions"] == ["uncordoned"] and back["kubelet_version"] == "1.35.4"
    assert len([c for c in api.calls if c == ("GET", "/api/v1/nodes/w1")]) - reads == 3, "uncordoned before the release"
    assert api.nodes["w1"]["spec"]["unschedulable"] is None
