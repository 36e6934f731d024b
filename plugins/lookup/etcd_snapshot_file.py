# Copyright (c) kubeha developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The etcd_snapshot_file lookup: an etcd snapshot on the controller, checked as etcdutl snapshot status reads it."""

from __future__ import annotations

DOCUMENTATION = r"""
name: etcd_snapshot_file
short_description: Check an etcd snapshot on the controller and say what it holds, as etcdutl snapshot status does
version_added: 0.3.0
description:
  - Reads every page of the snapshot (a bbolt database) with the standard library, as C(etcdutl snapshot status) does,
    and checks the sha256 etcd appends to a snapshot it streams (a file copied from a member's data directory has none).
  - A missing file, a file that is not a whole etcd database, or one whose appended sha256 does not match fails the
    lookup, naming the file and what was found.
  - C(playbooks/etcd-restore.yml) checks its snapshot with it before anything changes on any host.
options:
  _terms:
    description: The snapshot's path on the controller (one, absolute).
    type: list
    elements: path
    required: true
"""

EXAMPLES = r"""
- name: Check the snapshot before anything changes
  ansible.builtin.set_fact:
    _snapshot: "{{ lookup('kubeha.cluster.etcd_snapshot_file', '/backups/etcd/etcd-snapshot-20261204T120000.000Z-r4242.db') }}"
"""

RETURN = r"""
_raw:
  description: What the snapshot holds.
  type: list
  elements: dict
  contains:
    path: {description: The absolute path., type: str}
    name: {description: The file name., type: str}
    revision: {description: The newest revision in it., type: int}
    total_key: {description: Live keys., type: int}
    hash: {description: 'CRC-32C of its content, as etcdutl shows it.', type: int}
    file_size: {description: Bytes., type: int}
    sha256: {description: sha256 of the file., type: str}
    sha256_trailer: {description: "C(ok): the sha256 etcd appends matched; C(none): the file has none.", type: str}
    mtime: {description: 'Its modification time (UTC, ISO 8601).', type: str}
"""

import os
import time

from ansible.errors import AnsibleLookupError
from ansible.plugins.lookup import LookupBase
from ansible_collections.kubeha.cluster.plugins.module_utils._etcd.bolt import SnapshotError, read_status


def snapshot_file(path):
    """The checked snapshot at ``path`` (see RETURN); AnsibleLookupError naming the problem."""
    if not isinstance(path, str) or not path.startswith("/"):
        raise AnsibleLookupError("etcd snapshot %r: give the absolute path of a snapshot on the controller (one that "
                                 "playbooks/etcd-backup.yml fetched, say)" % (path,))
    if not os.path.isfile(path):
        raise AnsibleLookupError("etcd snapshot %s: no such file on the controller; give the path of a snapshot "
                                 "(playbooks/etcd-backup.yml -e etcd_backup_fetch_dir=DIR copies one there)" % path)
    try:
        status = read_status(path)
    except SnapshotError as exc:
        raise AnsibleLookupError("etcd snapshot %s is not usable: %s" % (path, exc)) from None
    status["name"] = os.path.basename(path)
    status["mtime"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(os.stat(path).st_mtime))
    return status


class LookupModule(LookupBase):
    def run(self, terms, variables=None, **kwargs):
        self.set_options(var_options=variables, direct=kwargs)
        if len(terms) != 1:
            raise AnsibleLookupError("etcd_snapshot_file takes one path, got %d" % len(terms))
        return [snapshot_file(terms[0])]
