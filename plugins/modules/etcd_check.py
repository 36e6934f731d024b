#!/usr/bin/python
# Copyright (c) kubeha developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: etcd_check
short_description: Validate an etcd cluster in one call - health, member list, a write read back through another member
version_added: 0.1.0
description:
  - Does the checks an operator does on an etcd cluster, in one module run (one round trip from the controller).
  - Waits, bounded by O(wait_timeout), until every member is healthy (C(/health) and the status call on its own client
    URL, as M(kubeha.cluster.etcd_cluster_info) probes them) and, with O(expected_members), the member list equals
    it (names and peer URLs, no learner left).
  - Then writes O(probe_key) through the first of O(endpoints) and reads it back through a different healthy member, at
    the revision of the write, and compares the value. The key is written with a lease of 60 seconds that is revoked
    once it is read back, so the probe leaves nothing behind. It is validation, not a change; the module never reports
    C(changed).
  - Reports the member list, per-member health, the leader, the quorum verdict, the database sizes and one
    RV(summary) line.
  - Fails, before anything is written, when the quorum is lost, a member is down or the member list differs; and when
    the probe cannot be written or reads back differently. The message says what failed, what was seen and what to do.
  - To only read the cluster's state, use M(kubeha.cluster.etcd_cluster_info).
extends_documentation_fragment:
  - kubeha.cluster.etcd
  - kubeha.cluster.attributes
  - kubeha.cluster.attributes.POSIX
attributes:
  check_mode:
    support: full
    details:
      - In check mode nothing is written; the probe key is only read, through the same two members, and
        RV(probe.note) says so.
  diff_mode:
    support: none
options:
  expected_members:
    description:
      - The members the cluster must have, each as V(name=peer_url) (several peer URLs comma-separated), like the
        entries of etcd's C(--initial-cluster).
      - A member missing, a foreign member, other peer URLs, a member added but not started, or a learner fail the
        check (after the wait).
      - Without it the member list is only reported.
    type: list
    elements: str
  wait_timeout:
    description:
      - Seconds to poll (every half second) for every member healthy and the member list right before failing with
        the last state seen. V(0) looks once.
    type: float
    default: 60
  probe_key:
    description:
      - Key written through one member and read back through another. Its current value, if any, is replaced by the
        probe and then removed.
      - Defaults to C(/kubeha/probe/<host name of the target>).
    type: str
  snapshot_status_key:
    description:
      - The key where M(kubeha.cluster.etcd_snapshot) records snapshots. When set, the newest snapshot and the last
        attempt are read from it and returned in RV(snapshot); a failed last attempt, or a newest snapshot older than
        O(snapshot_max_age), is a warning (not a failure), with what to look at.
    type: str
  snapshot_max_age:
    description: Seconds after which the newest snapshot is overdue (the etcd role passes twice its interval).
    type: float
    default: 43200
seealso:
  - module: kubeha.cluster.etcd_cluster_info
  - module: kubeha.cluster.etcd_member
author:
  - kubeha developers (@kubeha)
"""

EXAMPLES = r"""
- name: Validate the etcd cluster - every member healthy, members as in the inventory, a write read back
  kubeha.cluster.etcd_check:
    endpoints: "{{ groups['etcd'] | map('extract', hostvars, 'etcd_client_url') | list }}"
    ca_cert: /etc/etcd/pki/ca.crt
    client_cert: /etc/etcd/pki/server.crt
    client_key: /etc/etcd/pki/server.key
    expected_members: "{{ groups['etcd'] | map('regex_replace', '^(.*)$', '\\1=https://\\1:2380') | list }}"
    wait_timeout: 120
  register: _etcd_check
  run_once: true

- name: Show it
  ansible.builtin.debug:
    msg: "{{ _etcd_check.summary }}"
  run_once: true
"""

RETURN = r"""
summary:
  description: One line - health and quorum, leader, members, largest database, where the probe went.
  returned: success
  type: str
  sample: >-
    3/3 voting members healthy (quorum needs 2, held); leader: etcd1; members equal the 3 expected; db size 20480 bytes
    (largest); probe written through etcd1, read back through etcd3
probe:
  description: The write and the read back.
  returned: success
  type: dict
  contains:
    key:
      description: The probe key.
      type: str
    written:
      description: Whether the probe was written (false in check mode).
      type: bool
    write_endpoint:
      description: Endpoint the probe was written through.
      type: str
    write_member:
      description: Name of the member that answered there.
      type: str
    read_endpoint:
      description: Endpoint the probe was read back through.
      type: str
    read_member:
      description: Name of that member (another member than the writer, unless the cluster has one voting member).
      type: str
    revision:
      description: Revision of the write; the read back is done at it.
      type: int
    value:
      description: Value written (empty in check mode).
      type: str
    read_value:
      description: Value read back (null when not written).
      type: str
    removed:
      description: Whether the probe's lease was revoked, taking the key away.
      type: bool
    note:
      description: Check mode, a single-member cluster - what was not done.
      type: str
members:
  description: The members, as M(kubeha.cluster.etcd_cluster_info) returns them (id, name, peer_urls, client_urls,
    is_learner, healthy).
  returned: success
  type: list
  elements: dict
endpoints:
  description: Per member client URL, as M(kubeha.cluster.etcd_cluster_info) returns it (healthy, error, member_id,
    leader, is_leader, version, db_size, raft_term, raft_index).
  returned: success
  type: list
  elements: dict
cluster_id:
  description: The cluster ID, in hex.
  returned: success
  type: str
leader:
  description: Name of the leader.
  returned: success
  type: str
leader_id:
  description: ID (hex) of the leader.
  returned: success
  type: str
db_size:
  description: Largest backend database size of the healthy members, in bytes.
  returned: success
  type: int
healthy_count:
  description: Healthy voting members.
  returned: success
  type: int
member_count:
  description: Voting members.
  returned: success
  type: int
quorum_size:
  description: Voting members needed for a quorum.
  returned: success
  type: int
quorum:
  description: Whether the quorum holds.
  returned: success
  type: bool
failure_tolerance:
  description: How many more members may fail with the quorum kept.
  returned: success
  type: int
down:
  description: Names of members that are not healthy (empty on success).
  returned: success
  type: list
  elements: str
problems:
  description: How the member list differs from O(expected_members).
  returned: when the member list differs
  type: list
  elements: str
snapshot:
  description: What O(snapshot_status_key) records.
  returned: with O(snapshot_status_key)
  type: dict
  contains:
    newest:
      description: The newest snapshot (C(time), C(member), C(path), C(file_size), C(revision), C(total_key), C(hash), C(sha256)); null before the first.
      type: dict
    last:
      description: The last attempt (C(time), C(member), C(result) C(ok) or C(failed), C(error)).
      type: dict
    age_seconds:
      description: Age of the newest snapshot.
      type: int
    problems:
      description: A failed last attempt, an overdue newest snapshot (also module warnings).
      type: list
      elements: str
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.kubeha.cluster.plugins.module_utils._etcd.check import run_check
from ansible_collections.kubeha.cluster.plugins.module_utils._etcd.common import argument_spec, run_module


def main():
    module = AnsibleModule(
        argument_spec=argument_spec(
            expected_members=dict(type="list", elements="str"),
            wait_timeout=dict(type="float", default=60.0),
            probe_key=dict(type="str", no_log=False),
            snapshot_status_key=dict(type="str", no_log=False),
            snapshot_max_age=dict(type="float", default=43200.0),
        ),
        supports_check_mode=True,
    )
    run_module(module, run_check, module.params, check_mode=module.check_mode)


if __name__ == "__main__":
    main()
