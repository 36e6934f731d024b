# Copyright (c) kubeha developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The secrets_plan filter: which hosts get which certificates, from the secrets role's variables and the inventory."""

from __future__ import annotations

DOCUMENTATION = r"""
name: secrets_plan
short_description: The secrets role's masters, etcd members, nodes and per-host bundles from the inventory
version_added: 0.3.0
description:
  - Computes, from the secrets role's variables and the inventory's groups and addresses, the lists the role hands
    to C(kubeha.cluster.kube_secrets) (C(masters), C(etcd_members), C(nodes), C(bundles)).
  - A host without a known address gets an empty C(ip), which the module refuses with the host's name.
  - Pure function of its arguments.
options:
  _input:
    description: The role's variables, name (with the C(secrets_) prefix) to templated value.
    type: dict
    required: true
  groups:
    description: The inventory's groups (C(groups)); a group that does not exist counts as empty.
    type: dict
    required: true
  addresses:
    description: Host name to its cluster address (C(kubeha.cluster.node_addresses)), for at least the masters and etcd members.
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: What each host receives
  ansible.builtin.debug:
    msg: >-
      {{ (_secrets_settings | kubeha.cluster.secrets_plan(groups=groups,
          addresses=groups['all'] | kubeha.cluster.node_addresses(hostvars))).bundles }}
"""

RETURN = r"""
_value:
  description: What the role computes.
  type: dict
  contains:
    masters:
      description: One C(name), C(ip) per master.
      type: list
      elements: dict
    etcd_members:
      description: One C(name), C(ip) per etcd member.
      type: list
      elements: dict
    etcd:
      description:
        - The etcd members' host names, with those of C(secrets_etcd_leaving) still in the inventory (their certificates
          stay until they have left).
      type: list
      elements: str
    nodes:
      description: The hosts that run a kubelet (the masters when C(secrets_masters_are_nodes), and the workers).
      type: list
      elements: str
    adopt:
      description:
        - The kube_secrets module's C(adopt) option from C(secrets_adopt), without C(dir) (the role adds it); null when
          nothing is adopted. With C(from_host), its C(files) name the copies the role reads from that host.
      type: dict
    adopt_sources:
      description: With C(secrets_adopt.from_host), each adopted file's path on that host, by item; else empty.
      type: dict
    bundles:
      description: What each host receives, one C(host), C(master), C(node), C(etcd_member) (its name, or null) per host.
      type: list
      elements: dict
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.kubeha.cluster.plugins.module_utils._pki import adopt
from ansible_collections.kubeha.cluster.plugins.plugin_utils._plan import RoleSettings, unique


def _group(groups, name):
    hosts = groups.get(name)
    return list(hosts) if hosts else []


def _adopt(spec):
    """(the module's adopt option without its dir, {item: path on from_host} to read first) of secrets_adopt."""
    if not spec:
        return None, {}
    if not isinstance(spec, dict) or spec.get('layout') not in adopt.LAYOUTS or not spec.get('dir'):
        raise AnsibleFilterError("secrets_adopt is %r: give it layout (%s) and dir (the directory of the PKI to adopt: on the "
                                 "controller, or on from_host when that names the existing master)" % (spec, ' or '.join(adopt.LAYOUTS)))
    unknown = sorted(set(spec) - {'layout', 'dir', 'files', 'from_host'})
    if unknown:
        raise AnsibleFilterError("secrets_adopt has %s, which it does not know: use layout, dir, files and from_host" % unknown)
    option = {'layout': spec['layout'], 'files': dict(spec.get('files') or {})}
    if not spec.get('from_host'):
        return option, {}
    if not str(spec['dir']).startswith('/'):
        raise AnsibleFilterError("secrets_adopt.dir is %r with from_host %s: give the absolute path of the PKI on that host, like "
                                 "/etc/kubernetes/pki" % (spec['dir'], spec['from_host']))
    # read on from_host, written under the same item names into a private directory on the controller
    sources = adopt.sources(spec)
    option['files'] = dict((name, name) for name in sources)
    return option, sources


def secrets_plan(settings, groups, addresses):
    """{masters, etcd_members, etcd, nodes, bundles}."""
    if not isinstance(settings, dict) or not isinstance(groups, dict) or not isinstance(addresses, dict):
        raise AnsibleFilterError("secrets_plan: expected the dict of the secrets_* variables, groups and a dict of addresses, "
                                 "got %r, %r and %r" % (type(settings).__name__, type(groups).__name__, type(addresses).__name__))
    s = RoleSettings(settings, "secrets_", "secrets_plan")
    masters = _group(groups, s["masters_group"])
    # Members that leave (the etcd role's etcd_remove_members) while their hosts stay in the inventory keep their
    # certificates until they are gone: the role moves a leaving leader's leadership through its own TLS endpoint, and
    # etcd reads its certificate files at every new connection. A later run without them in the list removes the files.
    known = set(_group(groups, "all"))
    in_group = _group(groups, s["etcd_hosts_group"])
    leaving = settings.get("secrets_etcd_leaving") or []
    if not isinstance(leaving, (list, tuple)):
        raise AnsibleFilterError("secrets_plan: secrets_etcd_leaving is %r: give a list of inventory host names "
                                 "(the etcd role's etcd_remove_members)" % (leaving,))
    etcd = unique(in_group + [str(h) for h in leaving if str(h) in known and str(h) not in in_group])
    workers = _group(groups, s["workers_group"])
    nodes = unique((masters if s.flag("masters_are_nodes") else []) + workers)
    adopt_option, adopt_sources = _adopt(settings.get("secrets_adopt"))
    return {
        'adopt': adopt_option,
        'adopt_sources': adopt_sources,
        'masters': [{'name': host, 'ip': addresses.get(host, '')} for host in masters],
        'etcd_members': [{'name': host, 'ip': addresses.get(host, '')} for host in etcd],
        'etcd': etcd,
        'nodes': nodes,
        'bundles': [{'host': host, 'master': host in masters, 'node': host in nodes, 'etcd_member': host if host in etcd else None}
                    for host in unique(masters + etcd + workers)],
    }


class FilterModule:
    """kubeha secrets role filter."""

    def filters(self):
        return {"secrets_plan": secrets_plan}
