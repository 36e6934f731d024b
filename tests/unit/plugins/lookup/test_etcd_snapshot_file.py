"""kubeha.cluster.etcd_snapshot_file: a snapshot on the controller, checked before a restore changes anything."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleLookupError

from ansible_collections.kubeha.cluster.plugins.module_utils._etcd.client import EtcdClient
from ansible_collections.kubeha.cluster.plugins.lookup.etcd_snapshot_file import LookupModule, snapshot_file
from support.etcd_cluster import run_module


def test_a_snapshot_taken_by_etcd_snapshot(etcd_plain, tmp_path):
    conn = etcd_plain.connection_args()
    EtcdClient(conn.pop("endpoints"), **conn).put("/kubeha/test/lookup", "x")
    taken = run_module("etcd_snapshot", dict(etcd_plain.connection_args(), name=etcd_plain.members[0].name, directory=str(tmp_path),
                                             members=[{"name": m.name, "client_url": m.client_url} for m in etcd_plain.members]))
    snap = taken["snapshot"]
    seen = LookupModule().run([snap["path"]], variables={})[0]
    assert (seen["name"], seen["sha256"], seen["revision"], seen["hash"], seen["sha256_trailer"]) == (
        snap["name"], snap["sha256"], snap["revision"], snap["hash"], "ok")
    assert seen["revision"] > 0 and seen["mtime"].endswith("Z")


def test_missing_relative_cut_and_foreign_files_are_refused(tmp_path):
    with pytest.raises(AnsibleLookupError, match="no such file on the controller"):
        snapshot_file(str(tmp_path / "none.db"))
    with pytest.raises(AnsibleLookupError, match="give the absolute path"):
        snapshot_file("backups/s.db")
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"\0" * 8192)
    with pytest.raises(AnsibleLookupError, match="junk.db is not usable"):
        snapshot_file(str(junk))
    with pytest.raises(AnsibleLookupError, match="takes one path, got 2"):
        LookupModule().run(["/a", "/b"], variables={})
