# Copyright (c) kubeha developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The site_problems filter: what playbooks/site.yml refuses in an inventory, across the roles, before anything changes."""

from __future__ import annotations

DOCUMENTATION = r"""
name: site_problems
short_description: What playbooks/site.yml refuses in an inventory across the roles, one message per problem
version_added: 0.6.0
author:
  - kubeha developers (@kubeha)
description:
  - "The checks that span roles, made by site.yml's first play before any host is contacted: the masters group has hosts,
    etcd has 1, 3, 5 or 7 members, every host (of the etcd, masters, workers and loadbalancers groups) has a cluster
    address of its own that the others can reach, the load-balanced address is set and is no host's, a haproxy and
    keepalived balancer has hosts, and C(kubeha_mode) and C(kubeha_kubernetes_version) are usable."
  - Each message names the group, host or variable, the value seen and the fix. The roles check their own variables again.
  - Pure - tested without Ansible.
options:
  _input:
    description: C(groups).
    type: dict
    required: true
  hostvars:
    description: C(hostvars), for each host's address (see P(kubeha.cluster.node_address#filter)).
    type: dict
    required: true
  lb_address:
    description: C(kubeha_lb_address).
    type: str
    default: ""
  loadbalancer_mode:
    description: C(loadbalancer_mode).
    type: str
    default: haproxy_keepalived
  mode:
    description: C(kubeha_mode).
    type: str
    default: host
  kubernetes_version:
    description: C(kubeha_kubernetes_version).
    type: str
    default: ""
"""

EXAMPLES = r"""
- name: Validate the inventory (nothing has been changed yet)
  ansible.builtin.assert:
    that: _kubeha_problems | length == 0
    fail_msg: "{{ ['The inventory is not usable for kubeha; nothing was changed. Fix:'] + _kubeha_problems }}"
  vars:
    _kubeha_problems: >-
      {{ groups | kubeha.cluster.site_problems(hostvars, lb_address=kubeha_lb_address | default(''),
         mode=kubeha_mode | default('host'), kubernetes_version=kubeha_kubernetes_version | default('1.35.4')) }}
"""

RETURN = r"""
_value:
  description: One message per problem (empty when there is none).
  type: list
  elements: str
"""

import re

from ansible_collections.kubeha.cluster.plugins.filter.addresses import node_address
from ansible_collections.kubeha.cluster.plugins.plugin_utils._plan import address_problem, etcd_count_problems, get, unique


def site_problems(groups, hostvars, lb_address="", loadbalancer_mode="haproxy_keepalived", mode="host", kubernetes_version=""):
    """The inventory's problems across the roles: see DOCUMENTATION."""
    etcd, masters, workers, lbs = ([str(h) for h in get(groups, name, []) or []] for name in ("etcd", "masters", "workers", "loadbalancers"))
    p = []
    if not masters:
        p.append("group 'masters' (or kubespray's 'kube_control_plane') has no hosts: put the hosts that run the apiservers in it.")
    p += etcd_count_problems("etcd", etcd)
    owners = {}
    for host in unique(etcd + masters + workers + lbs):
        ip = node_address(host, hostvars)
        problem = address_problem(ip)
        if problem == "empty":
            p.append("%s: no address: set kubeha_node_ip for %s in the inventory (its cluster address)." % (host, host))
        elif problem == "invalid":
            p.append("%s: kubeha_node_ip '%s' is not an IPv4 or IPv6 address: set it to %s's cluster address." % (host, ip, host))
        elif problem == "unreachable":
            p.append("%s: kubeha_node_ip '%s' is a loopback or wildcard address the other hosts cannot reach: set it to %s's "
                     "cluster address." % (host, ip, host))
        if ip:
            owners.setdefault(ip, []).append(host)
    p += ["address %s is used by %s: every host needs its own kubeha_node_ip." % (ip, ", ".join(hosts))
          for ip, hosts in owners.items() if len(hosts) > 1]
    lb = "" if lb_address is None else str(lb_address).strip()
    if not lb:
        p.append("kubeha_lb_address is not set: set it to the apiservers' load-balanced address (a free IP for the keepalived VIP, "
                 "or your external balancer's address).")
    elif lb in owners:
        p.append("kubeha_lb_address %s is also the address of %s: the VIP must be a free address on the masters' subnet."
                 % (lb, ", ".join(owners[lb])))
    if str(loadbalancer_mode) == "haproxy_keepalived" and not lbs:
        p.append("group 'loadbalancers' has no hosts: put the hosts that run haproxy and keepalived in it (the masters will do), "
                 "or set loadbalancer_mode: external.")
    if str(mode) not in ("host", "static_pod"):
        p.append("kubeha_mode is '%s': use host (systemd units) or static_pod (manifests for the kubelet)." % mode)
    if not re.match(r"^v?1\.[0-9]+\.[0-9]+$", str(kubernetes_version)):
        p.append("kubeha_kubernetes_version is '%s': use a release like 1.35.4." % kubernetes_version)
    return p


class FilterModule:
    """site.yml's inventory check."""

    def filters(self):
        return {"site_problems": site_problems}
