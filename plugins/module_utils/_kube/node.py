# Copyright (c) kubeha developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""kube_node: cordon, drain (through the eviction API, bounded), uncordon and delete a Node, as kubectl drain does.

What a drain leaves on the node, as ``kubectl drain --ignore-daemonsets`` does: mirror pods (static pods: the kubelet
runs them from its manifest directory), pods of a DaemonSet (its controller would start them again at once) and pods
that have finished. What it refuses unless told, before anything changes, as kubectl does: pods that no controller
would start elsewhere (``force``: they are deleted for good) and pods with emptyDir data (``delete_emptydir_data``:
the data goes with the pod). Every other pod is evicted through the eviction API, so PodDisruptionBudgets hold: an
eviction a budget refuses (HTTP 429) is tried again until ``timeout``; then the drain fails naming the pods left and
what the apiserver said.

A node whose machine is shut down (``out_of_service``): its kubelet no longer confirms that a pod has stopped, so an
evicted pod would stay Terminating for ever and the drain would never end. The Node first gets Kubernetes' taint for a
non-graceful shutdown, ``node.kubernetes.io/out-of-service=nodeshutdown:NoExecute`` (GA in 1.28): the pod garbage
collector then deletes the pods of that NotReady Node for good, and their controllers start them elsewhere. It is
refused, before any change, while the Node reports Ready: its kubelet still runs, so the machine is not off.

Around a kubelet's move to another release (``release``): a drain leaves alone a Node whose kubelet already reports
that release (a restart for another reason, or a run resumed after the restart, keeps its pods), and so does a Node
that is not registered (nothing runs there). A cordon made with a ``reason`` is marked on the Node (the annotation
``kubeha.cluster/cordoned``), and ``state=present`` with a ``reason`` makes schedulable only a Node so marked: one an
operator cordoned by hand stays cordoned. With ``wait_ready`` it first waits (bounded by ``timeout``) until the Node
is Ready and its kubelet reports ``release``.
"""

from __future__ import annotations

import time
import urllib.parse

from .api import CORDONED, ApiError

MIRROR = "kubernetes.io/config.mirror"
OUT_OF_SERVICE = {"key": "node.kubernetes.io/out-of-service", "value": "nodeshutdown", "effect": "NoExecute"}
FINISHED = ("Succeeded", "Failed")
POLL = 1.0


class DrainError(Exception):
    """The node could not be drained; ``result`` holds what was done (for fail_json)."""

    def __init__(self, msg, **result):
        super().__init__(msg)
        self.result = result


def pod_name(pod):
    meta = pod.get("metadata") or {}
    return "%s/%s" % (meta.get("namespace", ""), meta.get("name", ""))


def plan_drain(pods, force=False, delete_emptydir_data=False):
    """``(evict, left, refused)``: the pods to evict, the ones a drain leaves (with why) and the ones it refuses."""
    evict, left, refused = [], [], []
    for pod in sorted(pods, key=pod_name):
        meta = pod.get("metadata") or {}
        owners = [o for o in meta.get("ownerReferences") or [] if o.get("controller")]
        if MIRROR in (meta.get("annotations") or {}):
            left.append({"pod": pod_name(pod), "why": "mirror pod of a static pod (the kubelet runs it from its manifest)"})
        elif (pod.get("status") or {}).get("phase") in FINISHED:
            left.append({"pod": pod_name(pod), "why": "finished (%s)" % pod["status"]["phase"]})
        elif any(o.get("kind") == "DaemonSet" for o in owners):
            left.append({"pod": pod_name(pod), "why": "DaemonSet %s (it would start again at once)" % owners[0].get("name")})
        elif not owners and not force:
            refused.append({"pod": pod_name(pod), "why": "no controller starts it elsewhere (force: true deletes it for good)"})
        elif any("emptyDir" in v for v in (pod.get("spec") or {}).get("volumes") or []) and not delete_emptydir_data:
            refused.append({"pod": pod_name(pod), "why": "emptyDir data would be lost (delete_emptydir_data: true accepts that)"})
        else:
            evict.append(pod)
    return evict, left, refused


class NodeClient:
    """The calls kube_node makes, on top of one ``request(method, path, body=None, content_type=...)`` function."""

    def __init__(self, request):
        self.request = request

    def node(self, name):
        try:
            return self.request("GET", "/api/v1/nodes/%s" % urllib.parse.quote(name))
        except ApiError as exc:
            if exc.status == 404:
                return None
            raise

    def set_unschedulable(self, name, value, reason=None):
        """Cordon (with ``reason``: marked as kubeha's) or uncordon (kubeha's mark removed) the Node."""
        body = {"spec": {"unschedulable": True if value else None}}
        if reason or not value:
            body["metadata"] = {"annotations": {CORDONED: reason if value else None}}
        self.request("PATCH", "/api/v1/nodes/%s" % urllib.parse.quote(name), body, content_type="application/merge-patch+json")

    def add_taint(self, name, taint, attempts=5):
        """Add taint to the Node's (a merge patch on the resourceVersion read, read again on a conflict)."""
        for attempt in range(attempts):
            node = self.node(name) or {}
            if has_taint(node, taint):
                return
            taints = (node.get("spec") or {}).get("taints") or []
            body = {"metadata": {"resourceVersion": (node.get("metadata") or {}).get("resourceVersion")},
                    "spec": {"taints": taints + [dict(taint)]}}
            try:
                self.request("PATCH", "/api/v1/nodes/%s" % urllib.parse.quote(name), body,
                             content_type="application/merge-patch+json")
                return
            except ApiError as exc:
                if exc.status != 409 or attempt == attempts - 1:
                    raise

    def pods_on(self, name):
        query = urllib.parse.urlencode({"fieldSelector": "spec.nodeName=%s" % name})
        return self.request("GET", "/api/v1/pods?" + query).get("items") or []

    def evict(self, pod):
        meta = pod["metadata"]
        self.request("POST", "/api/v1/namespaces/%s/pods/%s/eviction" % (meta["namespace"], meta["name"]),
                     {"apiVersion": "policy/v1", "kind": "Eviction",
                      "metadata": {"name": meta["name"], "namespace": meta["namespace"]}})

    def delete_pod(self, pod):
        meta = pod["metadata"]
        self.request("DELETE", "/api/v1/namespaces/%s/pods/%s" % (meta["namespace"], meta["name"]))

    def pod_gone(self, pod):
        meta = pod["metadata"]
        try:
            now = self.request("GET", "/api/v1/namespaces/%s/pods/%s" % (meta["namespace"], meta["name"]))
        except ApiError as exc:
            if exc.status == 404:
                return True
            raise
        return (now.get("metadata") or {}).get("uid") != meta.get("uid")

    def delete_node(self, name):
        try:
            self.request("DELETE", "/api/v1/nodes/%s" % urllib.parse.quote(name))
        except ApiError as exc:
            if exc.status != 404:
                raise


def has_taint(node, taint):
    """Whether the Node carries a taint with ``taint``'s key and effect."""
    return any(t.get("key") == taint["key"] and t.get("effect") == taint["effect"]
               for t in (node.get("spec") or {}).get("taints") or [])


def ready(node):
    """The status of the Node's Ready condition ("True", "False", "Unknown"), or "Unknown" without one."""
    for cond in (node.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "Ready":
            return cond.get("status") or "Unknown"
    return "Unknown"


def kubelet_release(node):
    """The release the Node's kubelet reports, without the v (``1.35.4``); empty before it has reported one."""
    return ((node.get("status") or {}).get("nodeInfo") or {}).get("kubeletVersion", "").lstrip("v")


def cordoned_by(node):
    """kubeha's reason for the Node's cordon (its annotation), or ``None`` when kubeha did not cordon it."""
    return ((node.get("metadata") or {}).get("annotations") or {}).get(CORDONED)


def _wait_ready(client, name, release, timeout, clock, sleep):
    """The Node once it is Ready (and its kubelet reports ``release``, if given), within ``timeout`` seconds."""
    deadline = clock() + timeout
    while True:
        node = client.node(name) or {}
        seen = kubelet_release(node)
        if ready(node) == "True" and (not release or seen == release.lstrip("v")):
            return node
        if clock() >= deadline:
            raise DrainError("Node %s is not Ready%s after %gs (Ready: %s, its kubelet reports %s); it stays cordoned. "
                             "Look at the kubelet on that node (journalctl -u kubelet), then run again" % (
                                 name, " with its kubelet at %s" % release if release else "", timeout, ready(node),
                                 seen or "no release"))
        sleep(POLL)


def _needs_out_of_service(node, name):
    """Whether the Node still lacks the out-of-service taint; refused (before any change) while it reports Ready."""
    if has_taint(node, OUT_OF_SERVICE):
        return False
    if ready(node) == "True":
        raise DrainError("Node %s reports Ready: its kubelet runs, so its machine is not shut down; nothing was changed. "
                         "out_of_service is for a node whose machine is off: shut it down and wait until the Node is "
                         "NotReady (the controller-manager's --node-monitor-grace-period), or remove it without "
                         "out_of_service while it runs" % name)
    return True


def _drain(client, name, pods, params, clock, sleep):
    """Evict (or delete, with force, the pods no controller owns) and wait until each is gone, within the timeout."""
    deadline = clock() + params["timeout"]
    waiting = {}
    pending = list(pods)
    last = {}
    while pending or waiting:
        for pod in list(pending):
            owned = any(o.get("controller") for o in pod["metadata"].get("ownerReferences") or [])
            try:
                if owned:
                    client.evict(pod)
                else:
                    client.delete_pod(pod)
            except ApiError as exc:
                if exc.status == 404:
                    pending.remove(pod)
                    continue
                if exc.status == 429:   # a PodDisruptionBudget: try again
                    last[pod_name(pod)] = str(exc)
                    continue
                raise DrainError("draining %s: %s" % (name, exc), evicted=sorted(waiting)) from None
            pending.remove(pod)
            waiting[pod_name(pod)] = pod
        for key, pod in list(waiting.items()):
            if client.pod_gone(pod):
                del waiting[key]
        if not pending and not waiting:
            break
        if clock() >= deadline:
            why = ["%s: not evicted (%s)" % (pod_name(p), last.get(pod_name(p), "no answer yet")) for p in pending]
            why += ["%s: evicted, still terminating" % key for key in sorted(waiting)]
            raise DrainError("Node %s is not drained after %gs: %s. A PodDisruptionBudget that allows no disruption keeps "
                             "its pods (scale the workload up or relax the budget), a pod slow to stop keeps its node "
                             "(its terminationGracePeriodSeconds); raise the timeout or fix them, then run again; the node "
                             "stays cordoned" % (name, params["timeout"], "; ".join(why)),
                             evicted=sorted(pod_name(p) for p in pods if p not in pending)) from None
        sleep(POLL)


def run_node(client, params, check_mode=False, clock=time.monotonic, sleep=time.sleep):
    """kube_node's result dict; raises :class:`DrainError` (or ApiError) when the node cannot get there."""
    name, state = params["name"], params["state"]
    release, reason = (params.get("release") or "").lstrip("v"), params.get("reason") or None
    node = client.node(name)
    result = {"changed": False, "actions": [], "evicted": [], "left": [], "name": name, "kubelet_version": "",
              "kept_cordoned": False}
    if node is None:
        # absent: gone already; a drain for a release: nothing runs there to move
        if state == "absent" or (release and state in ("cordoned", "drained")):
            return result
        raise DrainError("Node %s is not registered: its kubelet has not joined the cluster (or it was deleted)" % name)
    result["kubelet_version"] = kubelet_release(node)
    unschedulable = bool((node.get("spec") or {}).get("unschedulable"))
    before = {"unschedulable": unschedulable, "registered": True}
    if state == "present":
        if unschedulable and reason and cordoned_by(node) is None:
            # cordoned by someone else (an operator, by hand): theirs to undo
            result["kept_cordoned"] = True
            return _done(result, before, before)
        if unschedulable:
            result["actions"].append("uncordoned")
            if not check_mode:
                if params.get("wait_ready"):
                    result["kubelet_version"] = kubelet_release(
                        _wait_ready(client, name, release, params["timeout"], clock, sleep))
                client.set_unschedulable(name, False)
        return _done(result, before, {"unschedulable": False, "registered": True})
    if release and result["kubelet_version"] == release:
        # the kubelet runs the release already: its pods stay
        return _done(result, before, before)
    evict, left, refused = [], [], []
    if state in ("drained", "absent"):  # cordoning alone evicts nothing, so it refuses nothing
        evict, left, refused = plan_drain(client.pods_on(name), params.get("force", False),
                                          params.get("delete_emptydir_data", False))
    result["left"] = left
    taint = bool(params.get("out_of_service")) and state in ("drained", "absent") and _needs_out_of_service(node, name)
    if refused:
        raise DrainError("Node %s cannot be drained; nothing was changed: %s" % (
            name, "; ".join("%s: %s" % (r["pod"], r["why"]) for r in refused)), refused=refused, left=left)
    if not unschedulable:
        result["actions"].append("cordoned")
        if not check_mode:
            client.set_unschedulable(name, True, reason)
    if taint:
        result["actions"].append("tainted out-of-service")
        if not check_mode:
            client.add_taint(name, OUT_OF_SERVICE)
    if evict:
        result["actions"].append("drained")
        result["evicted"] = [pod_name(p) for p in evict]
        if not check_mode:
            _drain(client, name, evict, params, clock, sleep)
    if state == "absent":
        result["actions"].append("deleted")
        if not check_mode:
            client.delete_node(name)
        return _done(result, before, {"registered": False})
    return _done(result, before, {"unschedulable": True, "registered": True})


def _done(result, before, after):
    result["changed"] = bool(result["actions"])
    result["diff"] = {"before": before, "after": after}
    return result
