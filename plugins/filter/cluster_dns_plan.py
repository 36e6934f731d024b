# Copyright (c) kubeha developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The cluster_dns_plan filter: CoreDNS's Kubernetes objects, and the kubectl calls that apply them."""

from __future__ import annotations

DOCUMENTATION = r"""
name: cluster_dns_plan
short_description: CoreDNS as a Deployment behind the cluster DNS Service, from the cluster_dns role's variables
version_added: 0.3.0
author:
  - kubeha developers (@kubeha)
description:
  - "Input: the role's variables by name (C(cluster_dns_*)), templated."
  - Returns the objects (ServiceAccount, ClusterRole and binding, the Corefile's ConfigMap, the Deployment and the
    C(kube-dns) Service on the cluster DNS address) as one C(List), and the kubectl command lines that compare them
    with the API and apply them server-side.
  - Checks the variables; an address outside the service CIDR is refused, naming both.
  - A pure function of its input, tested without a host and without Ansible.
options:
  _input:
    description: The role's variables, C(cluster_dns_*) names to values.
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: The Corefile
  ansible.builtin.debug:
    msg: "{{ (settings | kubeha.cluster.cluster_dns_plan).corefile }}"
  vars:
    settings: "{{ dict(q('ansible.builtin.varnames', '^cluster_dns_') | zip(q('ansible.builtin.vars', *q('ansible.builtin.varnames', '^cluster_dns_')))) }}"
"""

RETURN = r"""
_value:
  description: The plan.
  type: dict
  contains:
    problems: {description: What is wrong with the variables (empty when nothing is)., type: list, elements: str}
    corefile: {description: CoreDNS's configuration., type: str}
    manifest: {description: The objects as one JSON C(List), what kubectl reads on its standard input., type: str}
    diff_argv: {description: C(kubectl diff --server-side) of the manifest (exit 1 when the API differs)., type: list, elements: str}
    apply_argv: {description: C(kubectl apply --server-side) of the manifest., type: list, elements: str}
    rollout_argv: {description: C(kubectl rollout status) of the Deployment, bounded by the wait timeout., type: list, elements: str}
"""

import ipaddress
import json

from ansible_collections.kubeha.cluster.plugins.plugin_utils._plan import RoleSettings, to_int

NAMESPACE = "kube-system"
LABELS = {"k8s-app": "kube-dns"}
FIELD_MANAGER = "kubeha"


def check(s):
    problems = []
    try:
        address = ipaddress.ip_address(s.text("address"))
        services = ipaddress.ip_network(s.text("service_cidr"), strict=False)
        if address not in services:
            problems.append("cluster_dns_address %s is outside the service CIDR %s (cluster_dns_service_cidr): "
                            "pick an address inside it (the 10th by convention)" % (address, services))
    except ValueError as exc:
        problems.append("cluster_dns_address %r or cluster_dns_service_cidr %r is not an address/network (%s)"
                        % (s["address"], s["service_cidr"], exc))
    if to_int(s["replicas"]) < 1:
        problems.append("cluster_dns_replicas is %r: run at least 1 (2 or more keep DNS up while a node is down)" % s["replicas"])
    if not s.text("image"):
        problems.append("cluster_dns_image is empty: name the CoreDNS image (with kube_images_source local, one in its archives)")
    return problems


def corefile(s):
    return (".:53 {\n"
            "    errors\n"
            "    health {\n        lameduck 5s\n    }\n"
            "    ready\n"
            "    kubernetes %s in-addr.arpa ip6.arpa {\n        pods insecure\n        fallthrough in-addr.arpa ip6.arpa\n        ttl 30\n    }\n"
            "    prometheus :9153\n"
            "    forward . %s\n"
            "    cache 30\n"
            "    loop\n"
            "    reload\n"
            "    loadbalance\n"
            "}\n" % (s.text("domain"), " ".join(str(u) for u in (s["upstream"] or ["/etc/resolv.conf"]))))


def objects(s):
    meta = {"name": "coredns", "namespace": NAMESPACE, "labels": dict(LABELS)}
    probe = {"periodSeconds": 5, "timeoutSeconds": 3}
    container = {
        "name": "coredns", "image": s.text("image"), "imagePullPolicy": "IfNotPresent",
        "args": ["-conf", "/etc/coredns/Corefile"],
        "ports": [{"name": "dns", "containerPort": 53, "protocol": "UDP"},
                  {"name": "dns-tcp", "containerPort": 53, "protocol": "TCP"},
                  {"name": "metrics", "containerPort": 9153, "protocol": "TCP"}],
        "resources": {"requests": {"cpu": "50m", "memory": "70Mi"}, "limits": {"memory": s.text("memory_limit")}},
        "volumeMounts": [{"name": "config", "mountPath": "/etc/coredns", "readOnly": True}],
        "readinessProbe": dict(probe, httpGet={"path": "/ready", "port": 8181}),
        "livenessProbe": dict(probe, httpGet={"path": "/health", "port": 8080}, initialDelaySeconds=10, failureThreshold=5),
        "securityContext": {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                            "capabilities": {"add": ["NET_BIND_SERVICE"], "drop": ["ALL"]}},
    }
    return [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": meta},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
         "metadata": {"name": "system:coredns", "labels": dict(LABELS)},
         "rules": [{"apiGroups": [""], "resources": ["endpoints", "services", "pods", "namespaces"], "verbs": ["list", "watch"]},
                   {"apiGroups": ["discovery.k8s.io"], "resources": ["endpointslices"], "verbs": ["list", "watch"]}]},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
         "metadata": {"name": "system:coredns", "labels": dict(LABELS)},
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "system:coredns"},
         "subjects": [{"kind": "ServiceAccount", "name": "coredns", "namespace": NAMESPACE}]},
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": {"Corefile": corefile(s)}},
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta,
         "spec": {"replicas": to_int(s["replicas"]), "selector": {"matchLabels": dict(LABELS)},
                  "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1}},
                  "template": {"metadata": {"labels": dict(LABELS)}, "spec": {
                      "serviceAccountName": "coredns", "priorityClassName": "system-cluster-critical",
                      "dnsPolicy": "Default", "nodeSelector": {"kubernetes.io/os": "linux"},
                      "tolerations": [{"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"},
                                      {"key": "CriticalAddonsOnly", "operator": "Exists"}],
                      # replicas on different nodes when the nodes allow it
                      "affinity": {"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
                          {"weight": 100, "podAffinityTerm": {"labelSelector": {"matchLabels": dict(LABELS)},
                                                              "topologyKey": "kubernetes.io/hostname"}}]}},
                      "containers": [container],
                      "volumes": [{"name": "config", "configMap": {"name": "coredns"}}]}}}},
        {"apiVersion": "v1", "kind": "Service",
         "metadata": {"name": "kube-dns", "namespace": NAMESPACE,
                      "labels": dict(LABELS, **{"kubernetes.io/name": "CoreDNS"})},
         "spec": {"selector": dict(LABELS), "clusterIP": s.text("address"),
                  "ports": [{"name": "dns", "port": 53, "protocol": "UDP", "targetPort": 53},
                            {"name": "dns-tcp", "port": 53, "protocol": "TCP", "targetPort": 53},
                            {"name": "metrics", "port": 9153, "protocol": "TCP", "targetPort": 9153}]}},
    ]


def cluster_dns_plan(settings):
    """The plan: see DOCUMENTATION."""
    s = RoleSettings(settings, "cluster_dns_", "cluster_dns_plan")
    kubectl = [s.text("kubectl"), "--server=" + s.text("api_server"), "--certificate-authority=" + s.text("ca_file"),
               "--client-certificate=" + s.text("cert_file"), "--client-key=" + s.text("key_file"), "--request-timeout=30s"]
    timeout = to_int(s["wait_timeout"])
    return {
        "problems": check(s),
        "corefile": corefile(s),
        "manifest": json.dumps({"apiVersion": "v1", "kind": "List", "items": objects(s)}, sort_keys=True),
        "diff_argv": kubectl + ["diff", "--server-side", "--field-manager=" + FIELD_MANAGER, "--force-conflicts", "-f", "-"],
        "apply_argv": kubectl + ["apply", "--server-side", "--field-manager=" + FIELD_MANAGER, "--force-conflicts", "-f", "-"],
        "rollout_argv": kubectl + ["--namespace=" + NAMESPACE, "rollout", "status", "deployment/coredns", "--timeout=%ds" % timeout],
    }


class FilterModule:
    """kubeha cluster DNS plan filter."""

    def filters(self):
        return {"cluster_dns_plan": cluster_dns_plan}
