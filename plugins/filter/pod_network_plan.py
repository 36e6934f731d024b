# Copyright (c) kubeha developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The pod_network_plan filter: the pod network of one node, from the role's variables and the cluster's Nodes."""

from __future__ import annotations

DOCUMENTATION = r"""
name: pod_network_plan
short_description: What the pod_network role lays out on a node, from its variables and the Nodes' pod CIDRs
version_added: 0.3.0
author:
  - kubeha developers (@kubeha)
description:
  - "Input: the role's variables by name (C(pod_network_*)), templated."
  - Checks them (a pod CIDR that overlaps the service CIDR or holds a node's address is refused, naming both), and with
    O(nodes) returns the node's CNI configuration (bridge on its own pod CIDR, host-local addresses, portmap), the routes
    to every other node's pod CIDR through that node's address, and the M(kubeha.cluster.daemon) entries that lay them out
    and keep them applied.
  - A pure function of its input, tested without a host and without Ansible.
options:
  _input:
    description: The role's variables, C(pod_network_*) names to values.
    type: dict
    required: true
  nodes:
    description: The cluster's Nodes as M(kubeha.cluster.kube_nodes_info) returns them; omitted, only the checks run.
    type: list
    elements: dict
"""

EXAMPLES = r"""
- name: The routes of this node
  ansible.builtin.debug:
    msg: "{{ (settings | kubeha.cluster.pod_network_plan(nodes=_nodes.nodes)).routes }}"
  vars:
    settings: "{{ dict(q('ansible.builtin.varnames', '^pod_network_') | zip(q('ansible.builtin.vars', *q('ansible.builtin.varnames', '^pod_network_')))) }}"
"""

RETURN = r"""
_value:
  description: The plan.
  type: dict
  contains:
    problems: {description: What is wrong with the variables (empty when nothing is)., type: list, elements: str}
    pod_cidr: {description: This node's pod CIDR (with O(nodes))., type: str}
    routes: {description: "C([cidr, via]) for every other node's pod CIDR.", type: list, elements: list}
    conflist: {description: The CNI configuration list., type: dict}
    files: {description: The daemon call's file entries., type: list, elements: dict}
    units: {description: The daemon call's unit entries., type: list, elements: dict}
"""

import ipaddress
import json

from ansible.errors import AnsibleFilterError

from ansible_collections.kubeha.cluster.plugins.plugin_utils._plan import RoleSettings, get

LIBEXEC = "/usr/local/lib/kubeha"
SCRIPT = LIBEXEC + "/pod-network"
PYTHON = "/usr/bin/python3"
UNIT = "kubeha-pod-network"


def _network(s, name, problems):
    try:
        return ipaddress.ip_network(s.text(name), strict=True)
    except ValueError as exc:
        problems.append("%s%s is %r: not a network (%s); give one like 10.244.0.0/16" % (s.prefix, name, s[name], exc))
        return None


def check(s):
    """The problems of the variables, each naming the variable, the value and the fix."""
    problems = []
    if s.text("mode") not in ("routes", "none"):
        problems.append("pod_network_mode is %r: use routes (kubeha's bridge and routes) or none (bring your own CNI)" % s["mode"])
    pods = _network(s, "cidr", problems)
    services = _network(s, "service_cidr", problems)
    if pods and services and pods.overlaps(services):
        problems.append("pod_network_cidr %s overlaps the service CIDR %s (pod_network_service_cidr, kubeha_service_cidr): "
                        "pick ranges that do not overlap" % (pods, services))
    for name, address in sorted((get(s, "node_addresses") or {}).items()):
        try:
            inside = pods and ipaddress.ip_address(str(address)) in pods
        except ValueError:
            continue
        if inside:
            problems.append("pod_network_cidr %s holds the address %s of node %s: pods would shadow the node network; "
                            "pick a pod CIDR outside the nodes' network" % (pods, address, name))
    return problems


def conflist(s, pod_cidr):
    return {
        "cniVersion": "1.0.0",
        "name": "kubeha",
        "plugins": [
            {"type": "bridge", "bridge": s.text("bridge"), "isGateway": True, "ipMasq": True, "hairpinMode": True,
             "ipam": {"type": "host-local", "ranges": [[{"subnet": pod_cidr}]], "routes": [{"dst": "0.0.0.0/0"}]}},
            {"type": "portmap", "capabilities": {"portMappings": True}},
        ],
    }


def pod_network_plan(settings, nodes=None):
    """The plan: see DOCUMENTATION."""
    s = RoleSettings(settings, "pod_network_", "pod_network_plan")
    plan = {"problems": check(s)}
    if nodes is None or plan["problems"] or s.text("mode") == "none":
        return plan
    name = s.text("node_name")
    mine = [n for n in nodes if n.get("name") == name]
    if not mine or not mine[0].get("pod_cidrs"):
        raise AnsibleFilterError("pod_network_plan: Node %s has no pod CIDR yet (seen: %s)" % (name, json.dumps(mine)))
    pod_cidr = [c for c in mine[0]["pod_cidrs"] if ":" not in c][0]
    routes = sorted([c, n["address"]] for n in nodes if n.get("name") != name and n.get("address")
                    for c in n.get("pod_cidrs") or [] if ":" not in c)
    conf_path = "%s/10-kubeha.conflist" % s.text("cni_conf_dir").rstrip("/")
    routes_path = s.text("routes_file")
    plan.update({
        "pod_cidr": pod_cidr,
        "routes": routes,
        "conflist": conflist(s, pod_cidr),
        "files": [
            {"path": s.text("cni_conf_dir"), "state": "directory", "mode": "0755"},
            {"path": conf_path, "content": json.dumps(conflist(s, pod_cidr), indent=2, sort_keys=True) + "\n", "mode": "0644"},
            {"path": LIBEXEC, "state": "directory", "mode": "0755"},
            {"path": SCRIPT, "src": "pod-network", "mode": "0644", "restarts": [UNIT]},
            {"path": routes_path, "content": json.dumps({"bridge": s.text("bridge"), "routes": routes}, indent=2) + "\n",
             "mode": "0644", "restarts": [UNIT]},
            {"path": "/etc/systemd/system/%s.service" % UNIT, "mode": "0644", "validate": "systemd:%s.service" % UNIT,
             "restarts": [UNIT], "content": (
                 "# kubeha pod_network: forwarding on, and a route to every other node's pod CIDR (%s)\n"
                 "[Unit]\nDescription=kubeha pod network routes\nAfter=network-online.target\nWants=network-online.target\n\n"
                 "[Service]\nType=oneshot\nRemainAfterExit=yes\nExecStart=%s %s apply %s\n\n"
                 "[Install]\nWantedBy=multi-user.target\n" % (routes_path, PYTHON, SCRIPT, routes_path))},
        ],
        "units": [{"name": UNIT, "enabled": True, "masked": False, "restart": "now",
                   "health": {"command": [PYTHON, SCRIPT, "check", routes_path]}}],
    })
    return plan


class FilterModule:
    """kubeha pod network plan filter."""

    def filters(self):
        return {"pod_network_plan": pod_network_plan}
