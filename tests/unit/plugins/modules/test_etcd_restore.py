"""etcd_restore on real etcd and the real etcdutl: a 3-member cluster restored from its snapshot.

What a user sees: keys written before the snapshot are back, keys written after it are gone, the revision jumped
by the bump and the revisions in between are compacted, the cluster has a new ID, each member's previous data is
kept, and a second run (an interrupted restore run again) changes nothing. The module refuses under a running etcd.
"""

from __future__ import annotations

import json
import os
import stat

import pytest

from ansible_collections.kubeha.cluster.plugins.module_utils._etcd.client import EtcdClient, EtcdError
from ansible_collections.kubeha.cluster.plugins.module_utils._etcd.restore import MARKER, RestoreError, restore_member
from support.etcd_cluster import etcd_binary, run_module

ETCDUTL = os.path.join(os.path.dirname(etcd_binary()), "etcdutl")
BUMP = 1000


def client_of(cluster):
    conn = cluster.connection_args()
    return EtcdClient(conn.pop("endpoints"), **conn)


def snapshot_of(cluster, directory):
    taken = run_module("etcd_snapshot", dict(cluster.connection_args(), name=cluster.members[0].name, directory=str(directory),
                                             members=[{"name": m.name, "client_url": m.client_url} for m in cluster.members]))
    return taken["snapshot"]


def restore_args(cluster, member, snap, token):
    return dict(snapshot=snap["path"], sha256=snap["sha256"], etcdutl=ETCDUTL, name=member.name,
                initial_cluster=cluster.initial_cluster(), peer_url=member.peer_url, token=token,
                data_path=member.data_dir, bump_revision=BUMP)


def test_the_module_refuses_while_etcd_runs(etcd_fresh_plain, tmp_path):
    cluster = etcd_fresh_plain
    snap = snapshot_of(cluster, tmp_path)
    member = cluster.members[0]
    failed = run_module("etcd_restore", restore_args(cluster, member, snap, "t1"))
    assert failed["failed"]
    assert "etcd still runs on this host (pid" in failed["msg"] and member.data_dir in failed["msg"]
    assert sorted(os.listdir(member.data_dir)) == ["member"]  # nothing set aside, nothing written
    # check mode, as the restore playbook's check run calls it: etcd still runs and the snapshot was not copied yet
    checked = run_module("etcd_restore", dict(restore_args(cluster, member, snap, "t1"), snapshot=str(tmp_path / "not-copied.db")),
                         check_mode=True)
    assert checked["changed"] and not checked.get("failed") and checked["set_aside"].endswith("/member.before-restore-<time>")
    assert sorted(os.listdir(member.data_dir)) == ["member"]


def test_a_cluster_restored_from_its_snapshot(etcd_fresh_plain, tmp_path):
    cluster = etcd_fresh_plain
    client = client_of(cluster)
    client.put("/restore/before", "kept")
    snap = snapshot_of(cluster, tmp_path / "snaps")
    client.put("/restore/after", "lost")
    old_id = client.status(cluster.endpoints[0])["cluster_id"]
    for m in cluster.members:
        m.stop()
    no_proc = tmp_path / "proc"  # etcd of other tests may run on this machine: this host's own are stopped
    no_proc.mkdir()
    token = "restored-" + snap["sha256"][:12]

    # check mode: reported, nothing written
    checked = restore_member(check_mode=True, proc=str(no_proc), **restore_args(cluster, cluster.members[0], snap, token))
    assert checked["changed"] and checked["set_aside"].startswith(cluster.members[0].data_dir + "/member.before-restore-")
    assert sorted(os.listdir(cluster.members[0].data_dir)) == ["member"]

    results = [restore_member(proc=str(no_proc), now=1700000000 + i, **restore_args(cluster, m, snap, token))
               for i, m in enumerate(cluster.members)]
    for m, result in zip(cluster.members, results):
        assert result["action"] == "restored" and result["revision"] == snap["revision"]
        assert sorted(os.listdir(m.data_dir)) == sorted(["member", os.path.basename(result["set_aside"]), MARKER])
        assert stat.S_IMODE(os.stat(os.path.join(m.data_dir, "member")).st_mode) == 0o700
        marker = json.load(open(os.path.join(m.data_dir, MARKER)))
        assert (marker["sha256"], marker["token"]) == (snap["sha256"], token)
        assert stat.S_IMODE(os.stat(os.path.join(m.data_dir, MARKER)).st_mode) == 0o600

    # the same restore again (an interrupted run, run again): nothing to do
    again = restore_member(proc=str(no_proc), **restore_args(cluster, cluster.members[0], snap, token))
    assert (again["changed"], again["action"]) == (False, "none")

    for m in cluster.members:
        m.start()
    cluster.wait_healthy()
    client = client_of(cluster)
    assert client.get_one("/restore/before").value == "kept"
    assert client.get("/restore/after") == []
    status = client.status(cluster.endpoints[1])
    assert status["cluster_id"] != old_id
    assert status["revision"] >= snap["revision"] + BUMP
    # the revisions between the snapshot and the bump are compacted: a watch cannot start inside them
    with pytest.raises(EtcdError, match="compacted"):
        client.get("/restore/before", revision=snap["revision"] + 1)
    client.put("/restore/new", "written after the restore")
    assert client.get_one("/restore/new").mod_revision > snap["revision"] + BUMP


def test_a_failed_etcdutl_puts_the_data_back(tmp_path):
    data = tmp_path / "data"
    (data / "member" / "snap").mkdir(parents=True)
    (data / "member" / "snap" / "db").write_bytes(b"old data")
    snap_path = tmp_path / "snapshot.db"
    from ansible_collections.kubeha.cluster.plugins.module_utils._etcd import restore as restore_mod

    class Done:
        returncode = 1
        stdout = b"Error: --initial-cluster must include etcd-9=https://10.0.0.9:2380"

    seen = {"sha256": "a" * 64, "revision": 7, "total_key": 1}
    no_proc = tmp_path / "proc"
    no_proc.mkdir()
    etcdutl = tmp_path / "etcdutl"
    etcdutl.write_text("#!/bin/sh\n")
    etcdutl.chmod(0o755)
    original = restore_mod.read_status
    restore_mod.read_status = lambda path: dict(seen, path=path)
    try:
        with pytest.raises(RestoreError, match="etcdutl snapshot restore failed .exit 1.: Error: --initial-cluster must include"):
            restore_member(str(snap_path), "a" * 64, str(etcdutl), "etcd-9", "etcd-1=https://10.0.0.1:2380",
                           "https://10.0.0.9:2380", "t", str(data), BUMP, proc=str(no_proc), run=lambda *a, **k: Done())
        with pytest.raises(RestoreError, match="has sha256 a{64}, not the b{64} named on the controller"):
            restore_member(str(snap_path), "b" * 64, str(etcdutl), "etcd-9", "x", "y", "t", str(data), BUMP, proc=str(no_proc))
        with pytest.raises(RestoreError, match="etcdutl is not at /nowhere/etcdutl"):
            restore_member(str(snap_path), "a" * 64, "/nowhere/etcdutl", "etcd-9", "x", "y", "t", str(data), BUMP, proc=str(no_proc))
    finally:
        restore_mod.read_status = original
    assert sorted(os.listdir(data)) == ["member"]
    assert (data / "member" / "snap" / "db").read_bytes() == b"old data"


def test_a_damaged_snapshot_is_refused_before_any_change(tmp_path):
    data = tmp_path / "data"
    (data / "member").mkdir(parents=True)
    bad = tmp_path / "bad.db"
    bad.write_bytes(b"not a database" * 100)
    no_proc = tmp_path / "proc"
    no_proc.mkdir()
    with pytest.raises(RestoreError, match="the snapshot on this host failed its check"):
        restore_member(str(bad), "a" * 64, ETCDUTL, "e", "e=http://127.0.0.1:1", "http://127.0.0.1:1", "t", str(data), BUMP,
                       proc=str(no_proc))
    assert sorted(os.listdir(data)) == ["member"]
