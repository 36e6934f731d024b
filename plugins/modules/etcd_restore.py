#!/usr/bin/python
# Copyright (c) kubeha developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: etcd_restore
short_description: Restore a stopped etcd member's data from a snapshot with etcdutl, the old data set aside
version_added: 0.3.0
description:
  - Runs C(etcdutl snapshot restore) for this member into a new directory beside its data, with a new cluster token,
    C(--bump-revision) and C(--mark-compacted) (etcd's disaster recovery, as Kubernetes documents it; revisions never
    go backwards for watches and caches), then puts the result in place of O(data_path)C(/member).
  - The member's data is set aside first (C(member.before-restore-<UTC time>), kept, never deleted; its path is
    returned); if etcdutl fails, it is put back, and the member is as it was.
  - Refused before any change when an C(etcd) process runs on the host, when O(snapshot) is not the file whose
    sha256 is O(sha256) or not a whole etcd database (read as C(etcdutl snapshot status) reads it), or when
    O(etcdutl) is missing.
  - A marker (O(data_path)C(/kubeha-restore.json), C(0600)) records the snapshot and token; a member whose data was
    restored from the same snapshot with the same token is left as it is (a restore run that was interrupted, run
    again, restores only the members it had not reached), unless O(again).
  - This is the member step of C(playbooks/etcd-restore.yml), which stops the apiservers and every member first,
    and starts and checks them after.
extends_documentation_fragment:
  - kubeha.cluster.attributes
  - kubeha.cluster.attributes.POSIX
attributes:
  check_mode:
    support: full
    details:
      - Checks the snapshot and reports the change (and where the data would be set aside); nothing is written.
  diff_mode:
    support: none
options:
  snapshot:
    description: The snapshot on this host.
    type: path
    required: true
  sha256:
    description: The snapshot's sha256, as checked on the controller.
    type: str
    required: true
  etcdutl:
    description: The C(etcdutl) of etcd's release on this host.
    type: path
    required: true
  name:
    description: This member's name.
    type: str
    required: true
  initial_cluster:
    description: Every member as C(name=peer URL), comma separated (the cluster after the restore).
    type: str
    required: true
  peer_url:
    description: This member's peer URL.
    type: str
    required: true
  token:
    description: The restored cluster's token (a new one, so the restored cluster gets a new cluster ID).
    type: str
    required: true
  data_path:
    description: The member's data directory (the one holding C(member)).
    type: path
    required: true
  bump_revision:
    description: How far the revision jumps (Kubernetes documents a billion, beyond any revision written since).
    type: int
    default: 1000000000
  again:
    description: Restore even when the marker says this data was restored from the same snapshot and token.
    type: bool
    default: false
author:
  - kubeha developers (@kubeha)
seealso:
  - module: kubeha.cluster.etcd_snapshot
"""

EXAMPLES = r"""
- name: Restore the member's data (etcd stopped on every member)
  kubeha.cluster.etcd_restore:
    snapshot: /var/lib/kubeha/etcd-restore/etcd-snapshot-20261204T120000.000Z-r4242.db
    sha256: 9f2c...
    etcdutl: /opt/kubeha/etcd/etcd-v3.6.16-linux-amd64-local/etcdutl
    name: etcd-1
    initial_cluster: etcd-1=https://10.0.0.1:2380,etcd-2=https://10.0.0.2:2380,etcd-3=https://10.0.0.3:2380
    peer_url: https://10.0.0.1:2380
    token: kubeha-etcd-0123456789abcdef-restore-9f2c01234567
    data_path: /var/lib/etcd
"""

RETURN = r"""
action:
  description: C(restored), or C(none) when the marker shows this data restored from the same snapshot and token.
  returned: always
  type: str
set_aside:
  description: Where the member's previous data was moved (empty when it had none, or nothing was restored).
  returned: always
  type: str
revision:
  description: The snapshot's revision (the restored cluster starts above it by O(bump_revision)).
  returned: when restored
  type: int
marker:
  description: The marker now in the data directory (snapshot, sha256, token, time, set_aside).
  returned: when the data was restored, now or before
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.kubeha.cluster.plugins.module_utils._etcd.restore import RestoreError, restore_member


def main():
    module = AnsibleModule(
        argument_spec=dict(
            snapshot=dict(type="path", required=True),
            sha256=dict(type="str", required=True),
            etcdutl=dict(type="path", required=True),
            name=dict(type="str", required=True),
            initial_cluster=dict(type="str", required=True),
            peer_url=dict(type="str", required=True),
            token=dict(type="str", required=True, no_log=False),
            data_path=dict(type="path", required=True),
            bump_revision=dict(type="int", default=1000000000),
            again=dict(type="bool", default=False),
        ),
        supports_check_mode=True,
    )
    params = dict(module.params)
    try:
        result = restore_member(check_mode=module.check_mode, **params)
    except (RestoreError, OSError) as exc:
        module.fail_json(msg="restore of etcd member %s from %s: %s" % (params["name"], params["snapshot"], exc))
    module.exit_json(msg="etcd member %s: %s" % (params["name"], "data restored from %s%s" % (
        params["snapshot"], (", the previous data kept in " + result["set_aside"]) if result["set_aside"] else "")
        if result["changed"] else "already restored from %s with this token, nothing to do" % params["snapshot"]),
        **result)


if __name__ == "__main__":
    main()
