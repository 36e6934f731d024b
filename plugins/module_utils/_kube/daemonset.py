# Copyright (c) kubeha developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A DaemonSet deleted with its pods, and waited for until they are gone (kube_daemonset's logic, testable)."""

from __future__ import annotations

import time

from ansible_collections.kubeha.cluster.plugins.module_utils._kube.api import ApiError


class DaemonSetError(Exception):
    """What failed, with the module's result so far."""

    def __init__(self, msg, **result):
        super().__init__(msg)
        self.result = result


def _path(namespace, name=""):
    return "/apis/apps/v1/namespaces/%s/daemonsets%s" % (namespace, "/" + name if name else "")


def _owned_pods(request, namespace, uid):
    """The DaemonSet's pods (by owner reference), each as node/name, sorted."""
    pods = request("GET", "/api/v1/namespaces/%s/pods" % namespace).get("items") or []
    return sorted("%s/%s" % ((p.get("spec") or {}).get("nodeName", ""), p["metadata"]["name"])
                  for p in pods if any(o.get("uid") == uid for o in p["metadata"].get("ownerReferences") or []))


def _read(request, namespace, name):
    """The DaemonSet, or None when it does not exist."""
    try:
        return request("GET", _path(namespace, name))
    except ApiError as exc:
        if exc.status == 404:
            return None
        raise


def run_absent(request, namespace, name, timeout, check_mode=False, clock=time.monotonic, sleep=time.sleep):
    """Delete the DaemonSet ``namespace/name`` (foreground: its pods first) and wait until it and its pods are gone.

    ``request(method, path, body=None)`` is the API (kube/api.request_json bound to a server and a certificate).
    Returns the module's result: changed, pods (node/name of the pods it had), seconds (the wait).
    """
    found = _read(request, namespace, name)
    if found is None:
        return {"changed": False, "pods": [], "seconds": 0.0}
    pods = _owned_pods(request, namespace, found["metadata"]["uid"])
    if check_mode:
        return {"changed": True, "pods": pods, "seconds": 0.0}
    began = clock()
    try:
        request("DELETE", _path(namespace, name),
                body={"apiVersion": "v1", "kind": "DeleteOptions", "propagationPolicy": "Foreground"})
    except ApiError as exc:
        if exc.status != 404:
            raise
    # foreground deletion: the object stays (with a deletion timestamp) until the garbage collector has deleted every
    # pod it owns, and a pod object goes once its kubelet has stopped its containers
    while True:
        try:
            if _read(request, namespace, name) is None:
                return {"changed": True, "pods": pods, "seconds": round(clock() - began, 1)}
            left = _owned_pods(request, namespace, found["metadata"]["uid"])
        except ApiError as exc:
            left = ["(not read: %s)" % exc]
        if clock() - began >= timeout:
            raise DaemonSetError(
                "the DaemonSet %s/%s was deleted, but after %d s these of its pods (node/pod) have not stopped: %s. "
                "A pod goes once its node's kubelet has stopped it: check that kubelet, or delete the pod with "
                "--grace-period=0 --force once its node is off; then run again"
                % (namespace, name, timeout, ", ".join(left) or "(none left; the DaemonSet object remains)"),
                changed=True, pods=pods, seconds=round(clock() - began, 1))
        sleep(1.0)
