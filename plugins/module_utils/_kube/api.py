# Copyright (c) kubeha developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The Kubernetes API with a client certificate, in the standard library (no client package on the nodes)."""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.request


def argument_spec(**options):
    """The apiserver connection (doc fragment kubeha.cluster.kube_api) plus a module's own ``options``."""
    spec = dict(server=dict(type="str", required=True), ca_file=dict(type="path", required=True),
                cert_file=dict(type="path", required=True), key_file=dict(type="path", required=True))
    spec.update(options)
    return spec


class ApiError(Exception):
    """A read that failed: the URL and what the server or the network said; ``status`` is the HTTP status, if any."""

    def __init__(self, msg, status=None):
        super().__init__(msg)
        self.status = status


def request_json(server, path, ca_file, cert_file, key_file, method="GET", body=None, content_type="application/json",
                 timeout=5.0):
    """``method`` server+path (``body`` sent as JSON), verified against ca_file, with the client certificate.

    Returns the decoded JSON answer; raises :class:`ApiError` with the HTTP status (404 for an object that is not
    there, 429 for an eviction a PodDisruptionBudget refuses) or the network's error.
    """
    url = server.rstrip("/") + path
    data = None if body is None else json.dumps(body).encode("utf-8")
    headers = {"Accept": "application/json"}
    if data is not None:
        headers["Content-Type"] = content_type
    try:
        context = ssl.create_default_context(cafile=ca_file)
        context.load_cert_chain(cert_file, key_file)
        opener = urllib.request.build_opener(urllib.request.HTTPSHandler(context=context))
        req = urllib.request.Request(url, data=data, headers=headers, method=method)
        with opener.open(req, timeout=timeout) as answer:
            return json.loads(answer.read().decode("utf-8") or "{}")
    except urllib.error.HTTPError as exc:
        detail = exc.read().decode("utf-8", "replace")[:300]
        hint = {401: "the apiserver does not accept %s" % cert_file,
                403: "the certificate %s may not do this" % cert_file}.get(exc.code, "")
        raise ApiError("%s %s answered HTTP %d %s%s" % (method, url, exc.code, detail, (" (%s)" % hint) if hint else ""),
                       exc.code) from None
    except (OSError, ValueError, ssl.SSLError) as exc:
        raise ApiError("%s %s failed: %s" % (method, url, getattr(exc, "reason", None) or exc)) from None


def module_request(params, timeout=10.0):
    """request_json bound to a module's connection options (server, ca_file, cert_file, key_file): request(method, path, ...)."""
    def request(method, path, body=None, content_type="application/json"):
        return request_json(params["server"], path, params["ca_file"], params["cert_file"], params["key_file"], method=method,
                            body=body, content_type=content_type, timeout=timeout)
    return request


def get_json(server, path, ca_file, cert_file, key_file, timeout=5.0):
    """GET server+path, verified against ca_file, with the client certificate; return the decoded JSON."""
    return request_json(server, path, ca_file, cert_file, key_file, timeout=timeout)


# the annotation of a Node kubeha cordoned (kube_node's reason): kubeha uncordons only Nodes that carry it
CORDONED = "kubeha.cluster/cordoned"


def node_summary(node):
    """name, address (InternalIP), pod_cidrs, ready, kubelet_version, unschedulable and cordoned_by (kubeha's cordon) of a Node."""
    status = node.get("status") or {}
    spec = node.get("spec") or {}
    addresses = {a.get("type"): a.get("address") for a in status.get("addresses") or []}
    cidrs = list(spec.get("podCIDRs") or ([spec["podCIDR"]] if spec.get("podCIDR") else []))
    ready = [c.get("status") for c in status.get("conditions") or [] if c.get("type") == "Ready"]
    annotations = node["metadata"].get("annotations") or {}
    return {"name": node["metadata"]["name"], "address": addresses.get("InternalIP", ""), "pod_cidrs": cidrs,
            "ready": ready == ["True"], "kubelet_version": (status.get("nodeInfo") or {}).get("kubeletVersion", ""),
            "unschedulable": bool(spec.get("unschedulable")), "cordoned_by": annotations.get(CORDONED, "")}


def apiserver_versions(servers, ca_file, cert_file, key_file, timeout=5.0):
    """GET /version of each apiserver: [{server, version (its gitVersion, "" when it did not answer), error}]."""
    seen = []
    for server in servers:
        try:
            version, error = str(get_json(server, "/version", ca_file, cert_file, key_file, timeout=timeout).get("gitVersion") or ""), ""
        except ApiError as exc:
            version, error = "", str(exc)
        seen.append({"server": server, "version": version, "error": error})
    return seen
