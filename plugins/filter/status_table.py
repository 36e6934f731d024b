# Copyright (c) kubeha developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The status_table filter: playbooks/status.yml's table of the cluster, from what its reads found."""

from __future__ import annotations

DOCUMENTATION = r"""
name: status_table
short_description: The cluster at a glance - playbooks/status.yml's table, from what its reads found
version_added: 0.6.0
author:
  - kubeha developers (@kubeha)
description:
  - "Plain text a person reads at a glance: the release and the Nodes the API reports (Ready, kubelet release, address,
    taints), the elected components' Leases and the system pods; the etcd members (health, leader, database size) and
    the snapshots' record; every apiserver's /readyz and which balancer holds the VIP; podmaster's view on each master;
    the certificates' expiry."
  - "It reads what playbooks/status.yml registered on the first master (C(_status_etcd), C(_status_api),
    C(_status_snapshots)) and on each master and balancer (C(_status_readyz), C(_status_podmaster), their addresses
    from C(ansible_facts)). A read that failed or did not run shows as such (C(-), C(DOWN), C(not read)), never as an error."
options:
  _input:
    description: C(groups) (C(masters), C(loadbalancers)).
    type: dict
    required: true
  hostvars:
    description: C(hostvars).
    type: dict
    required: true
  lb_address:
    description: C(kubeha_lb_address).
    type: str
    required: true
  lb_port:
    description: C(kubeha_lb_port).
    type: int
    default: 8443
  secrets_dir:
    description: The cluster's secrets directory on the controller (shown, and taken off the certificates' paths).
    type: str
    default: ""
  certificates:
    description: The certificates' expiry as P(kubeha.cluster.cert_info#lookup) returns it (C(path), C(not_after), C(days_left) or C(error)).
    type: list
    elements: dict
    default: []
  snapshot_enabled:
    description: C(etcd_snapshot_enabled) - the members take scheduled snapshots, whose record the table shows.
    type: bool
    default: true
  snapshot_interval_hours:
    description: C(etcd_snapshot_interval_hours); the newest snapshot is overdue after twice the interval.
    type: int
    default: 6
  now:
    description: The time (seconds since the epoch) the snapshots' age is measured at; now when unset.
    type: float
"""

EXAMPLES = r"""
- name: Compose the table
  ansible.builtin.set_fact:
    _status_table: >-
      {{ groups | kubeha.cluster.status_table(hostvars, lb_address=kubeha_lb_address, secrets_dir=_secrets,
         certificates=query('kubeha.cluster.cert_info', _secrets ~ '/ca/kubernetes.crt')) }}
"""

RETURN = r"""
_value:
  description: The table, lines ending with a newline.
  type: str
"""

import base64
import json
import re
from collections.abc import Mapping

from ansible.module_utils.parsing.convert_bool import boolean

from ansible_collections.kubeha.cluster.plugins.filter.addresses import node_address
from ansible_collections.kubeha.cluster.plugins.filter.etcd_snapshot_report import etcd_snapshot_report
from ansible_collections.kubeha.cluster.plugins.plugin_utils._plan import get, to_int, unique

NODE_ROW = "  %-18s %-9s %-10s %-16s %s"
MEMBER_ROW = "  %-18s %-27s %-8s %-7s %s"
APISERVER_ROW = "  %-18s %-16s %-8s %s"
ELECTED = ("kube-scheduler", "kube-controller-manager")
# a Lease's holder is <host>_<uuid>: the host is what a person looks for
HOLDER_ID = re.compile(r"_[0-9a-f-]{36}$")


def _vars(hostvars, host):
    return get(hostvars, host) or {}


def _api_json(result):
    """The JSON kubectl printed, or {} for a failed (or missing) call."""
    if not isinstance(result, Mapping) or to_int(get(result, "rc", 1)) != 0:
        return {}
    try:
        return json.loads(get(result, "stdout") or "{}")
    except ValueError:
        return {}


def _kubernetes(api):
    version, nodes, leases, pods = (_api_json(api[i] if i < len(api) else {}) for i in range(4))
    lines = ["KUBERNETES  %s" % (get(version, "gitVersion") or "API not answering through the load-balanced endpoint"),
             NODE_ROW % ("NODE", "READY", "KUBELET", "ADDRESS", "TAINTS")]
    for node in get(nodes, "items", []):
        status, spec = get(node, "status", {}), get(node, "spec", {})
        ready = ([c for c in get(status, "conditions", []) if get(c, "type") == "Ready"] + [{}])[0]
        addresses = [get(a, "address") for a in get(status, "addresses", []) if get(a, "type") == "InternalIP"]
        lines.append(NODE_ROW % (get(get(node, "metadata", {}), "name", ""), "Ready" if get(ready, "status") == "True" else "NotReady",
                                 get(get(status, "nodeInfo", {}), "kubeletVersion", "?"), (addresses + ["-"])[0],
                                 ",".join(str(get(t, "key", "")) for t in get(spec, "taints", []))))
    for lease in get(leases, "items", []):
        name = get(get(lease, "metadata", {}), "name", "")
        if name in ELECTED:
            holder = get(get(lease, "spec", {}), "holderIdentity") or "nobody"
            lines.append("  %-26s Lease held by %s" % (name, HOLDER_ID.sub("", str(holder))))
    items = get(pods, "items", [])
    if items:
        # the pod column as wide as the longest name (static pods carry their node's name)
        width = max([30] + [len(str(get(get(p, "metadata", {}), "name", ""))) for p in items])
        row = "  %-12s %-" + str(width) + "s %-10s %-9s %s"
        lines.append(row % ("NAMESPACE", "SYSTEM POD", "PHASE", "RESTARTS", "NODE"))
        for pod in sorted(items, key=lambda p: str(get(get(p, "metadata", {}), "name", ""))):
            status = get(pod, "status", {})
            lines.append(row % ("kube-system", get(get(pod, "metadata", {}), "name", ""), get(status, "phase", "?"),
                                sum(to_int(get(c, "restartCount", 0)) for c in get(status, "containerStatuses", [])),
                                get(get(pod, "spec", {}), "nodeName", "-")))
    return lines


def _etcd(info, snapshots, snapshot_enabled, snapshot_max_age, now):
    counts = (get(info, "healthy_count", "?"), get(info, "member_count", "?"))
    quorum = "held" if get(info, "quorum", False) else "LOST"
    lines = ["ETCD  %s/%s healthy, quorum %s, leader %s" % (counts + (quorum, get(info, "leader") or "none")),
             MEMBER_ROW % ("MEMBER", "CLIENT URL", "HEALTH", "LEADER", "DB SIZE")]
    endpoints = get(info, "endpoints", [])
    for member in get(info, "members", []):
        endpoint = ([e for e in endpoints if get(e, "member_id") == get(member, "id")] + [{}])[0]
        size = get(endpoint, "db_size")
        lines.append(MEMBER_ROW % (get(member, "name", ""), (list(get(member, "client_urls", [])) + ["-"])[0],
                                   "ok" if get(member, "healthy") else "DOWN", "yes" if get(endpoint, "is_leader") else "",
                                   "%d KiB" % int(round(float(size) / 1024)) if size is not None else "-"))
    if get(info, "msg") is not None:
        lines.append("  %s" % get(info, "msg"))
    if snapshot_enabled:
        value = get(get(snapshots, "kv", {}), "value", "")
        report = etcd_snapshot_report(value, max_age=snapshot_max_age, now=now)
        read_error = get(snapshots, "msg")
        lines.append("  SNAPSHOTS %s" % (report["line"] if read_error is None else "not read: %s" % read_error))
        lines += ["  ! %s" % problem for problem in report["problems"]]
    return lines


def _apiservers(hosts, hostvars, lb_address, lb_port):
    lines = ["APISERVERS  (load-balanced endpoint https://%s:%s)" % (lb_address, lb_port),
             APISERVER_ROW % ("MASTER", "ADDRESS", "READYZ", "HOLDS VIP")]
    for host in hosts:
        hv = _vars(hostvars, host)
        readyz = get(hv, "_status_readyz", {})
        facts = get(hv, "ansible_facts", {})
        holds_vip = str(lb_address) in [str(a) for a in list(get(facts, "all_ipv4_addresses", [])) + list(get(facts, "all_ipv6_addresses", []))]
        status = get(readyz, "status")
        lines.append(APISERVER_ROW % (host, node_address(host, hostvars), "ok" if status == 200 else ("DOWN" if status is not None else "-"),
                                      "yes" if holds_vip else ""))
    return lines


def _podmaster(masters, hostvars):
    lines = ["MASTER-ELECTED COMPONENTS  (who each podmaster sees holding the lease)"]
    for host in masters:
        read = get(_vars(hostvars, host), "_status_podmaster", {})
        try:
            status = json.loads(base64.b64decode(get(read, "content"))) if get(read, "content") is not None else {}
        except ValueError:
            status = {}
        components = get(status, "components", {})
        if not components:
            lines.append("  %-18s %s" % (host, "no podmaster status (built-in leader election, or podmaster not running)"))
        for name, component in components.items():
            holder = component.get("holder", "?") if isinstance(component, Mapping) else "?"
            lines.append("  %-18s %-26s holder %-18s %s" % (host, name, holder or "none", "ACTIVE here" if get(component, "active") else ""))
    return lines


def _certificates(secrets_dir, certificates):
    lines = ["CERTIFICATES  (controller: %s)" % secrets_dir]
    for cert in certificates or []:
        if get(cert, "not_after") is not None:
            state = "expires %s (%s days)" % (get(cert, "not_after"), get(cert, "days_left"))
        else:
            state = get(cert, "error", "missing")
        lines.append("  %-40s %s" % (str(get(cert, "path", "")).replace(str(secrets_dir) + "/", ""), state))
    return lines


def status_table(groups, hostvars, lb_address, lb_port=8443, secrets_dir="", certificates=None, snapshot_enabled=True,
                 snapshot_interval_hours=6, now=None):
    """The table: see DOCUMENTATION."""
    masters, lbs = ([str(h) for h in get(groups, name, [])] for name in ("masters", "loadbalancers"))
    first = _vars(hostvars, masters[0]) if masters else {}
    snapshot_enabled = boolean(snapshot_enabled, strict=False)
    snapshot_max_age = to_int(snapshot_interval_hours) * 7200
    api = list(get(get(first, "_status_api", {}), "results", []))
    sections = [
        _kubernetes(api),
        _etcd(get(first, "_status_etcd", {}), get(first, "_status_snapshots", {}), snapshot_enabled, snapshot_max_age, now),
        _apiservers(unique(masters + lbs), hostvars, lb_address, lb_port),
        _podmaster(masters, hostvars),
        _certificates(secrets_dir, certificates),
    ]
    return "\n\n".join("\n".join(lines) for lines in sections) + "\n"


class FilterModule:
    """status.yml's table."""

    def filters(self):
        return {"status_table": status_table}
