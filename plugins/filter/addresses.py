# Copyright (c) kubeha developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Filters for the hosts' cluster addresses: one rule for every role and playbook.

Documented in node_address.yml, node_addresses.yml, url_host.yml, service_address.yml and etcd_client_urls.yml next to this file.
"""

from __future__ import annotations

import ipaddress

from ansible.errors import AnsibleFilterError

from ansible_collections.kubeha.cluster.plugins.plugin_utils._plan import get

ETCD_CLIENT_PORT = 2379


def _host_vars(host, hostvars):
    try:
        return hostvars[host]
    except (KeyError, TypeError):
        return {}


def node_address(host, hostvars):
    """kubeha_node_ip, else the default IPv4 address, else the first IPv4 address, else ''."""
    hv = _host_vars(host, hostvars)
    explicit = str(get(hv, "kubeha_node_ip", "") or "").strip()
    if explicit:
        return explicit
    facts = get(hv, "ansible_facts", {}) or {}
    default = str((get(facts, "default_ipv4", {}) or {}).get("address") or "").strip()
    if default:
        return default
    every = get(facts, "all_ipv4_addresses", []) or []
    return str(every[0]).strip() if every else ""


def _hosts(hosts, name):
    if isinstance(hosts, str) or not hasattr(hosts, "__iter__"):
        raise AnsibleFilterError("%s: expected a list of host names (such as groups['etcd']), got %r" % (name, hosts))
    return list(hosts)


def node_addresses(hosts, hostvars):
    """{host: address} for each host, in the given order."""
    return dict((host, node_address(host, hostvars)) for host in _hosts(hosts, "node_addresses"))


def url_host(address):
    """An address as the host part of a URL: IPv6 in brackets."""
    address = str(address)
    return "[%s]" % address if ":" in address and not address.startswith("[") else address


def service_address(cidr, index):
    """The index-th address of a service CIDR (1: the kubernetes Service, 10: cluster DNS by convention)."""
    try:
        network = ipaddress.ip_network(str(cidr), strict=False)
    except ValueError as exc:
        raise AnsibleFilterError("service_address: %r is not a network (%s)" % (cidr, exc)) from None
    if not 0 < int(index) < network.num_addresses - 1:
        raise AnsibleFilterError("service_address: %s has no address number %s" % (network, index))
    return str(network.network_address + int(index))


def etcd_client_urls(hosts, hostvars, scheme="https"):
    """https://<address>:<its etcd_client_port> for each etcd member, in the given order."""
    out = []
    for host in _hosts(hosts, "etcd_client_urls"):
        port = get(_host_vars(host, hostvars), "etcd_client_port", ETCD_CLIENT_PORT)
        out.append("%s://%s:%s" % (scheme, url_host(node_address(host, hostvars)), port))
    return out


class FilterModule:
    """kubeha address filters."""

    def filters(self):
        return {"node_address": node_address, "node_addresses": node_addresses, "url_host": url_host,
                "etcd_client_urls": etcd_client_urls, "service_address": service_address}
