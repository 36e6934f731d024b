#!/usr/bin/python
# Copyright (c) kubeha developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: etcd_snapshot
short_description: Take, check and keep an etcd snapshot on the first healthy member, and record it in etcd
version_added: 0.3.0
description:
  - Run on every member with the same O(members); only the first of them (inventory order) whose C(/health) answers
    takes the snapshot, the others report that member and change nothing. A member that is down hands the job to the
    next one.
  - The snapshot is streamed from that member's C(/v3/maintenance/snapshot) (etcd's JSON gateway; no C(etcdctl), no
    Python packages) into a temporary C(0600) file in O(directory) (created or tightened to C(0700)), with the sha256
    etcd appends at its end.
  - It is then checked before it is kept, the way C(etcdutl snapshot status) reads it (every page of the database,
    revision, live keys, CRC-32C hash) plus the sha256, and renamed to C(etcd-snapshot-<UTC time>-r<revision>.db).
    The oldest beyond O(keep) are removed.
  - The outcome is written to the etcd key O(status_key) as JSON (the newest snapshot of the cluster, and the last
    attempt with its error), which M(kubeha.cluster.etcd_check) and the status playbook read. A failed snapshot leaves
    no file and records the failure.
  - This is what the etcd role's C(kubeha-etcd-snapshot.timer) runs on a schedule, and what C(playbooks/etcd-backup.yml)
    runs on demand.
extends_documentation_fragment:
  - kubeha.cluster.etcd
  - kubeha.cluster.attributes
  - kubeha.cluster.attributes.POSIX
attributes:
  check_mode:
    support: full
    details:
      - Finds the member that would take the snapshot (health reads only) and reports a change there; nothing is written.
  diff_mode:
    support: none
options:
  members:
    description:
      - The members that may take the snapshot, in order; the first healthy one does.
      - When O(endpoints) is left at its default, these client URLs are the module's endpoints too.
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description: Member name.
        type: str
        required: true
      client_url:
        description: The member's client URL.
        type: str
        required: true
  name:
    description: This host's member name (one of O(members)).
    type: str
    required: true
  directory:
    description: Where snapshots are kept on this host (an absolute path; C(0700), snapshots C(0600)).
    type: path
    required: true
  keep:
    description: How many snapshots to keep in O(directory); older ones are removed after a new one is kept.
    type: int
    default: 10
  status_key:
    description: The etcd key that records the newest snapshot and the last attempt.
    type: str
    default: /kubeha/etcd-snapshots/status
notes:
  - Each snapshot changes the host, so a second run takes another one (C(changed) on the member that took it).
author:
  - kubeha developers (@kubeha)
seealso:
  - module: kubeha.cluster.etcd_check
  - name: Kubernetes - backing up an etcd cluster
    description: Why and how snapshots are taken (etcdctl snapshot save does the same through gRPC).
    link: https://kubernetes.io/docs/tasks/administer-cluster/configure-upgrade-etcd/#backing-up-an-etcd-cluster
"""

EXAMPLES = r"""
- name: Snapshot etcd on the first healthy member
  kubeha.cluster.etcd_snapshot:
    members:
      - {name: m1, client_url: "https://10.0.0.11:2379"}
      - {name: m2, client_url: "https://10.0.0.12:2379"}
      - {name: m3, client_url: "https://10.0.0.13:2379"}
    name: "{{ inventory_hostname }}"
    directory: /var/lib/kubeha/etcd-snapshots
    ca_cert: /etc/etcd/pki/ca.crt
    client_cert: /etc/etcd/pki/server.crt
    client_key: /etc/etcd/pki/server.key
  register: snap
"""

RETURN = r"""
taker:
  description: The member that takes (or took) the snapshot.
  returned: always
  type: str
not_healthy:
  description: "C(name: reason) of the members before RV(taker) that did not answer healthy."
  returned: always
  type: list
  elements: str
snapshot:
  description: The snapshot kept, on the member that took it.
  returned: when this host took one
  type: dict
  contains:
    path: {description: Where it is kept., type: str, sample: /var/lib/kubeha/etcd-snapshots/etcd-snapshot-20261204T120000.000Z-r4242.db}
    time: {description: When it was taken (UTC)., type: str}
    file_size: {description: Bytes on disk (database and sha256)., type: int}
    revision: {description: etcd revision it holds., type: int}
    total_key: {description: "Live keys (as etcdutl 3.6 counts them; etcdutl 3.5 counts every entry of every bucket).", type: int}
    hash: {description: CRC-32C of its content as C(etcdutl snapshot status) shows it., type: int}
    sha256: {description: sha256 of the file., type: str}
    seconds: {description: Time to take and check it., type: float}
    removed: {description: Older snapshots removed to keep O(keep)., type: list, elements: str}
status:
  description: What O(status_key) holds now (C(newest) snapshot, C(last) attempt).
  returned: when this host took one
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.kubeha.cluster.plugins.module_utils._etcd.common import DEFAULT_ENDPOINTS, argument_spec, run_module
from ansible_collections.kubeha.cluster.plugins.module_utils._etcd.snapshot import STATUS_KEY, run


def main():
    module = AnsibleModule(
        argument_spec=argument_spec(
            members=dict(type="list", elements="dict", required=True,
                         options=dict(name=dict(type="str", required=True), client_url=dict(type="str", required=True))),
            name=dict(type="str", required=True),
            directory=dict(type="path", required=True),
            keep=dict(type="int", default=10),
            status_key=dict(type="str", default=STATUS_KEY, no_log=False),
        ),
        supports_check_mode=True,
    )
    params = dict(module.params, check_mode=module.check_mode)
    if params["endpoints"] == DEFAULT_ENDPOINTS:
        params["endpoints"] = [m["client_url"] for m in params["members"]]
    run_module(module, run, params)


if __name__ == "__main__":
    main()
