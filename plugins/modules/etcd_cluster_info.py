#!/usr/bin/python
# Copyright (c) kubeha developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: etcd_cluster_info
short_description: Members, per-member health, leader and quorum verdict of an etcd cluster
version_added: 0.1.0
description:
  - Reads the member list from the first endpoint that answers, then asks every member on its own client URL
    for C(/health) and C(/v3/maintenance/status) (in parallel).
  - Reports members, per-endpoint health, the leader, raft term and index, database size, version, and a quorum
    verdict (healthy voting members against the cluster size; learners do not count).
  - Fails when the quorum is lost, naming the members that are down and what to do. With a quorum but some members
    down, it succeeds with a warning naming them.
  - With O(wait=true) it polls, bounded by O(wait_timeout), until every member is healthy (and there are
    O(expected_members) of them, if given).
extends_documentation_fragment:
  - kubeha.cluster.etcd
  - kubeha.cluster.attributes
  - kubeha.cluster.attributes.INFO_MODULE
  - kubeha.cluster.attributes.POSIX
options:
  wait:
    description:
      - Poll until every member is healthy and, with O(expected_members), the cluster has that many members.
    type: bool
    default: false
  wait_timeout:
    description:
      - Seconds O(wait=true) polls before failing with the last state seen.
    type: float
    default: 60
  expected_members:
    description:
      - Number of voting members (learners not counted) the cluster should have. With O(wait=true) the module waits
        for it; without, a different count is reported as a failure.
    type: int
author:
  - kubeha developers (@kubeha)
"""

EXAMPLES = r"""
- name: Wait until the three etcd members are healthy
  kubeha.cluster.etcd_cluster_info:
    endpoints: "{{ groups['etcd'] | map('extract', hostvars, 'etcd_client_url') | list }}"
    ca_cert: /etc/etcd/pki/ca.crt
    client_cert: /etc/etcd/pki/server.crt
    client_key: /etc/etcd/pki/server.key
    wait: true
    wait_timeout: 120
    expected_members: 3
  register: _etcd

- name: Show the leader
  ansible.builtin.debug:
    msg: "leader {{ _etcd.leader }}, {{ _etcd.healthy_count }}/{{ _etcd.member_count }} healthy"
"""

RETURN = r"""
cluster_id:
  description: The cluster ID, in hex as C(etcdctl) shows it.
  returned: success
  type: str
  sample: cdf818194e3a8c32
members:
  description: The cluster's members, as the member list reports them.
  returned: success
  type: list
  elements: dict
  contains:
    id:
      description: Member ID, in hex as C(etcdctl) shows it.
      type: str
      sample: 8e9e05c52164694d
    name:
      description: Member name; empty for a member that was added but has not started yet.
      type: str
    peer_urls:
      description: Peer URLs.
      type: list
      elements: str
    client_urls:
      description: Client URLs; empty for a member that has not started yet.
      type: list
      elements: str
    is_learner:
      description: Whether the member is a non-voting learner.
      type: bool
    healthy:
      description: Whether the member answered C(/health) and its status on its first client URL.
      type: bool
endpoints:
  description: One entry per member client URL probed (the first client URL of every member).
  returned: success
  type: list
  elements: dict
  contains:
    endpoint:
      description: The client URL.
      type: str
    healthy:
      description: Whether C(/health) said true and the status call answered.
      type: bool
    error:
      description: Why the endpoint is not healthy (connection refused, TLS failure, timeout, etcd's error); empty if healthy.
      type: str
    member_id:
      description: ID (hex) of the member answering there.
      type: str
    leader:
      description: ID (hex) of the leader as this member sees it.
      type: str
    is_leader:
      description: Whether this member is the leader.
      type: bool
    version:
      description: etcd server version.
      type: str
      sample: 3.4.23
    db_size:
      description: Backend database size in bytes.
      type: int
    raft_term:
      description: Raft term.
      type: int
    raft_index:
      description: Raft index.
      type: int
    revision:
      description: The key-value store's revision as this member answered.
      type: int
leader:
  description: Name of the leader (empty when no healthy member knows one).
  returned: success
  type: str
leader_id:
  description: ID (hex) of the leader.
  returned: success
  type: str
healthy_count:
  description: Number of healthy voting members.
  returned: always
  type: int
member_count:
  description: Number of voting members (learners excluded).
  returned: always
  type: int
quorum_size:
  description: Voting members needed for a quorum (C(member_count // 2 + 1)).
  returned: always
  type: int
quorum:
  description: Whether at least RV(quorum_size) voting members are healthy.
  returned: always
  type: bool
down:
  description: Names (or peer URL when unnamed) of members that are not healthy.
  returned: always
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.kubeha.cluster.plugins.module_utils._etcd.common import argument_spec, run_module
from ansible_collections.kubeha.cluster.plugins.module_utils._etcd.health import run_cluster_info


def main():
    module = AnsibleModule(
        argument_spec=argument_spec(
            wait=dict(type="bool", default=False),
            wait_timeout=dict(type="float", default=60.0),
            expected_members=dict(type="int"),
        ),
        supports_check_mode=True,
    )
    run_module(module, run_cluster_info, module.params)


if __name__ == "__main__":
    main()
