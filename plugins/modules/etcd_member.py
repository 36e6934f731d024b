#!/usr/bin/python
# Copyright (c) kubeha developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: etcd_member
short_description: Add, promote or remove an etcd cluster member
version_added: 0.1.0
description:
  - Runtime reconfiguration of an etcd cluster through the v3 JSON gateway. The member is found by O(name) or by
    any of its O(peer_urls); a member that was added but has not started yet has no name, so give O(peer_urls) too.
  - V(present) adds a missing member (as a learner by default, which catches up without counting towards the quorum),
    updates the peer URLs of a member found by name, and with O(promote=true) promotes a learner to a voting member.
  - V(absent) removes the member, but refuses if the removal would leave fewer healthy voting members than the
    smaller cluster's quorum.
  - V(not_leader) changes nothing but the leadership - when the member leads the cluster, its leadership moves to
    another healthy voter (one not in O(leader_avoid) when there is one), and the module waits until it has moved. Run it
    before stopping a member's etcd for good, so that its last moments serve none of the cluster's writes.
  - Idempotent, so a second run reports C(changed=false).
extends_documentation_fragment:
  - kubeha.cluster.etcd
  - kubeha.cluster.attributes
  - kubeha.cluster.attributes.POSIX
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
options:
  name:
    description:
      - Member name (etcd's C(--name)). At least one of O(name) and O(peer_urls) is required.
    type: str
  peer_urls:
    description:
      - Peer URLs of the member (etcd's C(--initial-advertise-peer-urls)). Required to add a member.
    type: list
    elements: str
  state:
    description:
      - V(present) to have the member in the cluster, V(absent) to remove it, V(not_leader) to have it not lead.
      - A removal is refused when it would cost the quorum. A member that leads the cluster hands its leadership to
        another healthy voter first (and the module waits, within O(wait_timeout), until it has moved).
    type: str
    choices: [present, absent, not_leader]
    default: present
  learner:
    description:
      - Add a missing member as a non-voting learner (etcd 3.4 and later). V(false) adds a voting member
        straight away, which etcd refuses when a started member is not yet connected.
    type: bool
    default: true
  promote:
    description:
      - Promote the member to a voting member if it is a learner. The learner's etcd must be running and caught up
        with the leader; the module retries until O(wait_timeout) while etcd says it is not ready yet.
    type: bool
    default: false
  leader_avoid:
    description:
      - With O(state=absent) or O(state=not_leader), members (names or peer URLs) not to hand the leadership to, when another healthy voter can
        take it - the members that leave next, so that the leadership moves once.
    type: list
    elements: str
    default: []
  wait_timeout:
    description:
      - Seconds to keep retrying while etcd refuses a change for a passing reason (a learner still catching up
        with the leader for O(promote=true); members connected for less than 5 seconds, which etcd's
        C(--strict-reconfig-check) requires before any membership change; an election in progress).
    type: float
    default: 30
author:
  - kubeha developers (@kubeha)
"""

EXAMPLES = r"""
- name: Add etcd4 as a learner before starting it
  kubeha.cluster.etcd_member:
    endpoints: ["https://10.0.0.11:2379"]
    ca_cert: /etc/etcd/pki/ca.crt
    client_cert: /etc/etcd/pki/server.crt
    client_key: /etc/etcd/pki/server.key
    name: etcd4
    peer_urls: ["https://10.0.0.14:2380"]
  register: _added

# ... start etcd on etcd4 with --initial-cluster-state existing ...

- name: Promote etcd4 once it has caught up
  kubeha.cluster.etcd_member:
    endpoints: ["https://10.0.0.11:2379"]
    ca_cert: /etc/etcd/pki/ca.crt
    client_cert: /etc/etcd/pki/server.crt
    client_key: /etc/etcd/pki/server.key
    name: etcd4
    peer_urls: ["https://10.0.0.14:2380"]
    promote: true

- name: Remove a dead member (refused if it would cost the quorum)
  kubeha.cluster.etcd_member:
    endpoints: ["https://10.0.0.11:2379"]
    ca_cert: /etc/etcd/pki/ca.crt
    client_cert: /etc/etcd/pki/server.crt
    client_key: /etc/etcd/pki/server.key
    name: etcd3
    state: absent

- name: Hand etcd3's leadership to a member that stays, before its etcd stops for good
  kubeha.cluster.etcd_member:
    endpoints: ["https://10.0.0.11:2379"]
    ca_cert: /etc/etcd/pki/ca.crt
    client_cert: /etc/etcd/pki/server.crt
    client_key: /etc/etcd/pki/server.key
    name: etcd3
    state: not_leader
    leader_avoid: [etcd4]
"""

RETURN = r"""
action:
  description:
    - What the module did (or would do in check mode); V(none), V(removed) (V(leader_moved_and_removed) when the member
      led the cluster), V(leader_moved) (O(state=not_leader), when it led), or V(added), V(updated) and V(promoted)
      joined by C(_and_) in that order, like V(added_and_promoted).
  returned: success
  type: str
  sample: added
member:
  description: The member after the run (in check mode, as it would be); V(null) when absent.
  returned: success
  type: dict
  contains:
    id:
      description: Member ID in hex; empty in check mode for a member not yet added.
      type: str
    name:
      description: Member name; empty until the member has started.
      type: str
    peer_urls:
      description: Peer URLs.
      type: list
      elements: str
    client_urls:
      description: Client URLs.
      type: list
      elements: str
    is_learner:
      description: Whether the member is a learner.
      type: bool
members:
  description: The member list after the run (same fields as RV(member)).
  returned: success
  type: list
  elements: dict
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.kubeha.cluster.plugins.module_utils._etcd.common import argument_spec, run_module
from ansible_collections.kubeha.cluster.plugins.module_utils._etcd.members import run_member


def main():
    module = AnsibleModule(
        argument_spec=argument_spec(
            name=dict(type="str"),
            peer_urls=dict(type="list", elements="str"),
            state=dict(type="str", default="present", choices=["present", "absent", "not_leader"]),
            learner=dict(type="bool", default=True),
            promote=dict(type="bool", default=False),
            wait_timeout=dict(type="float", default=30.0),
            leader_avoid=dict(type="list", elements="str", default=[]),
        ),
        required_one_of=[["name", "peer_urls"]],
        supports_check_mode=True,
    )
    run_module(module, run_member, module.params, check_mode=module.check_mode)


if __name__ == "__main__":
    main()
