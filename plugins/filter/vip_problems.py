# Copyright (c) kubeha developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The vip_problems filter: can keepalived hold this VIP on these balancers?"""

from __future__ import annotations

DOCUMENTATION = r"""
name: vip_problems
short_description: Problems of a keepalived VIP against the balancers' addresses
version_added: 0.2.0
description:
  - Returns a list of messages, empty when the VIP fits. Each names the variable, the value seen and the fix.
  - The VIP must be an IP address of the same family as the balancers' addresses, must not be one of them, and
    with a prefix shorter than the address length (O(prefix)) the subnet it spans must hold every balancer's
    address, or keepalived would add it on a segment the balancers do not share and clients could not reach it.
options:
  _input:
    description: The VIP (C(loadbalancer_address)).
    type: str
    required: true
  prefix:
    description: Prefix length of the VIP (C(loadbalancer_vip_prefix)); a full-length prefix (32, 128) spans no subnet.
    type: int
    required: true
  addresses:
    description: Balancer host name -> its address (C(kubeha_node_ip) or gathered facts).
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: Refuse a VIP the balancers cannot hold
  ansible.builtin.assert:
    that: problems | length == 0
    fail_msg: "{{ problems | join(' ') }}"
  vars:
    problems: "{{ '10.0.0.10' | kubeha.cluster.vip_problems(24, {'m1': '10.0.0.11', 'm2': '10.0.0.12'}) }}"
"""

RETURN = r"""
_value:
  description: One message per problem; empty when the VIP fits.
  type: list
  elements: str
"""

import ipaddress


def vip_problems(vip, prefix, addresses):
    """Messages for what is wrong with ``vip``/``prefix`` on balancers at ``addresses`` ({host: address})."""
    try:
        address = ipaddress.ip_address(str(vip))
    except ValueError:
        return ["loadbalancer_address is %r, not an IP address: keepalived needs one for the VIP (set kubeha_lb_address)." % (vip,)]
    try:
        prefix = int(prefix)
        network = ipaddress.ip_network("%s/%d" % (address, prefix), strict=False)
    except (TypeError, ValueError):
        return ["loadbalancer_vip_prefix is %r, not a prefix length for %s (0-%d)." % (prefix, address, address.max_prefixlen)]
    out = []
    hosts = {}
    for host, text in sorted((addresses or {}).items()):
        try:
            hosts[host] = ipaddress.ip_address(str(text))
        except ValueError:
            continue  # an address problem the backend check reports
    other = sorted(h for h, a in hosts.items() if a.version != address.version)
    if other:
        out.append("loadbalancer_address %s is IPv%d but %s %s IPv%d: keepalived adds the VIP next to the balancers' own "
                   "addresses; use a VIP of their family." % (address, address.version, ", ".join(other),
                                                              "is" if len(other) == 1 else "are", 6 if address.version == 4 else 4))
    taken = sorted(h for h, a in hosts.items() if a == address)
    if taken:
        out.append("loadbalancer_address %s is the address of %s itself: the VIP must be a free address that moves between "
                   "the balancers; pick an unused one in their subnet." % (address, ", ".join(taken)))
    if prefix < address.max_prefixlen:
        outside = sorted("%s (%s)" % (h, a) for h, a in hosts.items() if a.version == address.version and a not in network)
        if outside:
            out.append("loadbalancer_address %s/%d spans %s, which does not hold %s: keepalived would put the VIP on a subnet "
                       "the balancers do not share. Pick a VIP in the balancers' subnet, or fix loadbalancer_vip_prefix."
                       % (address, prefix, network, ", ".join(outside)))
    return out


class FilterModule:
    """kubeha VIP filter."""

    def filters(self):
        return {"vip_problems": vip_problems}
