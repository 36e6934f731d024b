# Copyright (c) kubeha developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The node_removal filter: which workers playbooks/remove-node.yml takes out, and why it refuses the others."""

from __future__ import annotations

DOCUMENTATION = r"""
name: node_removal
short_description: The workers a removal names, checked against the inventory's groups
version_added: 0.3.0
description:
  - Returns C(nodes) (the names, in the order given, without repeats), C(secrets_files) (each node's kubelet
    certificate, key and bundle in the secrets directory, relative to it) and C(problems) (one message per refusal,
    each naming the variable or host, what was seen and what to do; empty when the removal may go on).
  - Only workers are removed here. A master, an etcd member or a balancer is refused, as its removal also moves etcd
    membership, the balancer's backends or the elected Leases, which this removal does not do.
options:
  _input:
    description: C(kubeha_remove_nodes) - a list of inventory host names, or one string of names separated by commas.
    type: raw
    required: true
  groups:
    description: The inventory's groups (C(groups)), after C(playbooks/groups.yml) accepted kubespray's names.
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: Refuse a removal of anything but workers of the inventory
  ansible.builtin.fail:
    msg: "{{ _removal.problems | join(' ') }}"
  when: _removal.problems | length > 0
  vars:
    _removal: "{{ kubeha_remove_nodes | kubeha.cluster.node_removal(groups) }}"
"""

RETURN = r"""
_value:
  description: C(nodes) (list of host names), C(secrets_files) (list of paths) and C(problems) (list of messages).
  type: dict
"""

ROLES = (
    ("masters", "a master: its removal also moves its etcd member, its balancer backend and the elected Leases, which "
                "this playbook does not do"),
    ("etcd", "an etcd member: take it out of the etcd group and run site.yml first (the etcd role removes the member "
             "with quorum kept), then remove the node"),
    ("loadbalancers", "a load balancer: take it out of the loadbalancers group and run site.yml first (the VIP moves "
                      "to the others), then remove the node"),
)


def _refused(problem):
    return {"nodes": [], "secrets_files": [], "problems": [problem]}


def node_removal(names, groups):
    """{'nodes': [...], 'problems': [...]} for ``names`` (kubeha_remove_nodes) against the inventory's ``groups``."""
    if isinstance(names, str):
        names = [n.strip() for n in names.split(",")]
    if not isinstance(names, (list, tuple)):
        return _refused("kubeha_remove_nodes is %r: give the workers' inventory names, like -e kubeha_remove_nodes=w3 "
                        "(several separated by commas)" % (names,))
    nodes = []
    for name in names:
        if name and str(name) not in nodes:
            nodes.append(str(name))
    if not nodes:
        return _refused("kubeha_remove_nodes is empty: name the workers to remove, like -e kubeha_remove_nodes=w3 "
                        "(several separated by commas)")
    problems = []
    known = set(groups.get("all") or [])
    workers = set(groups.get("workers") or [])
    for name in nodes:
        if name not in known:
            problems.append("kubeha_remove_nodes names %s, which is not in the inventory (its hosts: %s)" % (name, ", ".join(sorted(known)) or "none"))
            continue
        roles = [why for group, why in ROLES if name in (groups.get(group) or [])]
        if roles:
            problems.append("%s is %s; this playbook removes workers only" % (name, "; and ".join(roles)))
        elif name not in workers:
            problems.append("%s is not a worker (not in the workers or kube_node group): there is no node to remove" % name)
    # what kube_secrets keeps for a node (plugins/module_utils/_pki/desired.py): its kubelet leaf and its bundle
    secrets_files = [path % name for name in nodes for path in ("kubelet/%s.crt", "kubelet/%s.key", "bundles/%s.tar")]
    return {"nodes": nodes, "secrets_files": secrets_files, "problems": problems}


class FilterModule:
    """kubeha node removal filter."""

    def filters(self):
        return {"node_removal": node_removal}
