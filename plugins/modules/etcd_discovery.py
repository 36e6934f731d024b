#!/usr/bin/python
# Copyright (c) kubeha developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: etcd_discovery
short_description: Create or adopt an etcd discovery token and check it before any member starts
version_added: 0.1.0
description:
  - Prepares the URL that goes into C(etcd --discovery) when members bootstrap through a discovery service
    (etcd's v2 discovery protocol), and checks an existing token so that a cluster never bootstraps on a stale one.
  - On a self-hosted discovery service (an etcd with the v2 API enabled, C(--enable-v2)) the token is created as
    C(/v2/keys/_etcd/registry/<token>/_config/size). On a public discovery service (like
    U(https://discovery.etcd.io)) a new token comes from C(GET <service>/new?size=N).
  - With O(token) the module adopts that token; on a self-hosted service it creates it if missing, so a fixed token
    makes re-runs idempotent. Without O(token) a new random token is created on every run (C(changed=true)).
  - Refuses a token whose size is not O(size), one that is already full (a token bootstraps one cluster, once), and
    one holding members that are not in O(expected_members) (the classic stale-token trap), saying what to do.
extends_documentation_fragment:
  - kubeha.cluster.attributes
  - kubeha.cluster.attributes.POSIX
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
options:
  discovery_service:
    description:
      - Base URL of the discovery service. Either a self-hosted etcd with the v2 API enabled, like
        V(http://10.0.0.5:2379), or a public discovery service, like V(https://discovery.etcd.io).
      - With O(service_type=etcd-v3), the client URL(s) of the etcd cluster that serves as the discovery service,
        comma-separated (what etcd 3.6 takes as C(--discovery-endpoints)).
      - Optional when O(token) is a full discovery URL.
    type: str
  service_type:
    description:
      - V(etcd) for a self-hosted etcd (v2 keys), V(public) for a service speaking the C(/new?size=N) protocol; both are
        v2 discovery, which etcd 3.5 and older bootstrap from.
      - V(etcd-v3) for v3 discovery, which etcd 3.6 bootstraps from (C(--discovery-token), C(--discovery-endpoints)). The
        token lives in the v3 key space of an etcd cluster, reached with O(ca_cert), O(client_cert) and O(client_key).
      - V(auto) asks C(<discovery_service>/version) and treats an etcd answer as V(etcd), anything else as V(public).
    type: str
    choices: [auto, etcd, etcd-v3, public]
    default: auto
  token:
    description:
      - A discovery token to adopt (or, on a self-hosted service, to create if it does not exist yet), or a full
        discovery URL as given to C(etcd --discovery).
      - Omit to create a new random token.
      - Anyone who knows the token can register members on it until it is full; keep it out of public logs.
    type: str
  size:
    description:
      - Expected cluster size (the token's C(_config/size)). Defaults to the number of O(expected_members);
        required when creating a token without O(expected_members).
    type: int
  expected_members:
    description:
      - The members the inventory will start, each as a name (etcd's C(--name)), a peer URL, or C(name=peer_url).
      - Any member registered on the token that matches none of these is a foreign member and the token is refused.
    type: list
    elements: str
  allow_full:
    description:
      - Accept a full token whose registered members are all in O(expected_members) (a re-run after the cluster has
        bootstrapped from it). Without it, a full token is refused.
    type: bool
    default: false
  ca_cert:
    description:
      - PEM CA bundle to verify an C(https) discovery service; the system trust store otherwise.
    type: path
  client_cert:
    description:
      - PEM client certificate, if the discovery service asks for one.
    type: path
  client_key:
    description:
      - PEM key of O(client_cert).
    type: path
  timeout:
    description:
      - Seconds to wait for one request.
    type: float
    default: 10
author:
  - kubeha developers (@kubeha)
"""

EXAMPLES = r"""
- name: Create (or adopt) a discovery token on the site's self-hosted discovery etcd
  kubeha.cluster.etcd_discovery:
    discovery_service: "http://{{ hostvars[groups['etcd_discovery'][0]].kubeha_node_ip }}:2379"
    token: "{{ etcd_discovery_token }}"
    expected_members: "{{ groups['etcd'] }}"
  run_once: true
  register: _discovery

- name: Use a token from the public discovery service
  kubeha.cluster.etcd_discovery:
    token: https://discovery.etcd.io/3e86b59982e49066c5d813af1c2e2579
    expected_members: [etcd1, etcd2, etcd3]
  run_once: true
  register: _discovery
# then: etcd --discovery "{{ _discovery.discovery_url }}"

- name: A v3 discovery token for etcd 3.6 members, on a TLS discovery etcd that asks for client certificates
  kubeha.cluster.etcd_discovery:
    service_type: etcd-v3
    discovery_service: https://10.0.0.5:4001
    ca_cert: /etc/etcd/pki/ca.crt
    client_cert: /etc/etcd/pki/server.crt
    client_key: /etc/etcd/pki/server.key
    expected_members: [etcd1, etcd2, etcd3]
  run_once: true
  register: _discovery
# then: etcd --discovery-token "{{ _discovery.token }}" --discovery-endpoints "{{ _discovery.endpoints | join(',') }}" ...
"""

RETURN = r"""
discovery_url:
  description: The URL for C(etcd --discovery) (v2 discovery; empty with O(service_type=etcd-v3)).
  returned: success
  type: str
  sample: http://10.0.0.5:2379/v2/keys/_etcd/registry/6c007a14875d53d9bf0ef5a6fc0257c8
token:
  description: The token (last path element of RV(discovery_url); with O(service_type=etcd-v3), C(--discovery-token)).
  returned: success
  type: str
endpoints:
  description: With O(service_type=etcd-v3), the discovery etcd's client URLs (C(--discovery-endpoints)).
  returned: when service_type is etcd-v3
  type: list
  elements: str
size:
  description: The token's size.
  returned: success
  type: int
created:
  description: Whether the module created the token (or would, in check mode).
  returned: success
  type: bool
full:
  description: Whether as many members as RV(size) have registered.
  returned: success
  type: bool
service_type:
  description: V(etcd) (self-hosted) or V(public), as detected or given.
  returned: success
  type: str
registered:
  description: Members registered on the token, in registration order.
  returned: success
  type: list
  elements: dict
  contains:
    id:
      description: Member ID (hex) the member registered with.
      type: str
    name:
      description: Member name.
      type: str
    peer_urls:
      description: Peer URLs.
      type: list
      elements: str
    expected:
      description: Whether the member matches an entry of O(expected_members).
      type: bool
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.kubeha.cluster.plugins.module_utils._etcd.discovery import run_discovery
from ansible_collections.kubeha.cluster.plugins.module_utils._etcd.common import run_module


def main():
    module = AnsibleModule(
        argument_spec=dict(
            discovery_service=dict(type="str"),
            service_type=dict(type="str", default="auto", choices=["auto", "etcd", "etcd-v3", "public"]),
            # a discovery token is returned by the module (it goes into the etcd command line), so not no_log
            token=dict(type="str", no_log=False),
            size=dict(type="int"),
            expected_members=dict(type="list", elements="str"),
            allow_full=dict(type="bool", default=False),
            ca_cert=dict(type="path"),
            client_cert=dict(type="path"),
            client_key=dict(type="path", no_log=False),
            timeout=dict(type="float", default=10.0),
        ),
        required_one_of=[["discovery_service", "token"]],
        supports_check_mode=True,
    )
    run_module(module, run_discovery, module.params, check_mode=module.check_mode)


if __name__ == "__main__":
    main()
