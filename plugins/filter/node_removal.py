# Copyright (c) kubeha developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The node_removal filter: which workers and masters playbooks/remove-node.yml takes out, and why it refuses the others."""

from __future__ import annotations

DOCUMENTATION = r"""
name: node_removal
short_description: The workers and masters a removal names, checked against the inventory's groups
version_added: 0.3.0
description:
  - Returns C(nodes) (the names, in the order given, without repeats), C(masters) (those of them that are masters),
    C(kept_masters) (the masters that stay, in inventory order), C(secrets_files) (each node's kubelet certificate, key
    and bundle in the secrets directory, relative to it) and C(problems) (one message per refusal, each naming the
    variable or host, what was seen and what to do; empty when the removal may go on).
  - Workers and masters are removed here. A master is refused while it is an etcd member (its member leaves first,
    through site.yml, with the quorum kept) or a balancer (the VIP moves first), and so is the removal of every master.
    An etcd member or a balancer that is not a master is refused for the same reasons.
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
- name: Refuse a removal of anything but workers and masters of the inventory
  ansible.builtin.fail:
    msg: "{{ _removal.problems | join(' ') }}"
  when: _removal.problems | length > 0
  vars:
    _removal: "{{ kubeha_remove_nodes | kubeha.cluster.node_removal(groups) }}"
"""

RETURN = r"""
_value:
  description: C(nodes), C(masters), C(kept_masters) (lists of host names), C(secrets_files) (list of paths) and
    C(problems) (list of messages).
  type: dict
"""

ROLES = (
    ("etcd", "an etcd member: take it out of the etcd group and run site.yml with etcd_remove_members: [%s] first (the "
             "etcd role removes the member with the quorum kept, and the apiservers and podmaster follow), then remove "
             "the node"),
    ("loadbalancers", "a load balancer: take it out of the loadbalancers group and run site.yml first (the VIP moves "
                      "to the others), then remove the node"),
)


def _refused(problem):
    return {"nodes": [], "masters": [], "kept_masters": [], "secrets_files": [], "problems": [problem]}


def node_removal(names, groups):
    """{'nodes': [...], 'masters': [...], 'kept_masters': [...], 'problems': [...]} for ``names`` (kubeha_remove_nodes)."""
    if isinstance(names, str):
        names = [n.strip() for n in names.split(",")]
    if not isinstance(names, (list, tuple)):
        return _refused("kubeha_remove_nodes is %r: give the inventory names of the workers or masters, like "
                        "-e kubeha_remove_nodes=w3 (several separated by commas)" % (names,))
    nodes = []
    for name in names:
        if name and str(name) not in nodes:
            nodes.append(str(name))
    if not nodes:
        return _refused("kubeha_remove_nodes is empty: name the workers or masters to remove, like "
                        "-e kubeha_remove_nodes=w3 (several separated by commas)")
    problems = []
    known = set(groups.get("all") or [])
    workers = set(groups.get("workers") or [])
    all_masters = list(groups.get("masters") or [])
    for name in nodes:
        if name not in known:
            problems.append("kubeha_remove_nodes names %s, which is not in the inventory (its hosts: %s)" % (name, ", ".join(sorted(known)) or "none"))
            continue
        roles = [(why % name if "%s" in why else why) for group, why in ROLES if name in (groups.get(group) or [])]
        if roles:
            problems.append("%s is %s; this playbook removes workers and masters only" % (name, "; and ".join(roles)))
        elif name not in workers and name not in all_masters:
            problems.append("%s is neither a worker nor a master (not in the workers, kube_node, masters or "
                            "kube_control_plane group): there is no node to remove" % name)
    masters = [name for name in nodes if name in all_masters]
    kept = [name for name in all_masters if name not in nodes]
    if masters and not kept:
        problems.append("kubeha_remove_nodes names every master (%s): at least one must stay to serve the API; add "
                        "the new masters with site.yml first, then remove the old ones" % ", ".join(masters))
    # what kube_secrets keeps for a node (plugins/module_utils/_pki/desired.py): its kubelet leaf and its bundle
    secrets_files = [path % name for name in nodes for path in ("kubelet/%s.crt", "kubelet/%s.key", "bundles/%s.tar")]
    return {"nodes": nodes, "masters": masters, "kept_masters": kept, "secrets_files": secrets_files, "problems": problems}


class FilterModule:
    """kubeha node removal filter."""

    def filters(self):
        return {"node_removal": node_removal}
