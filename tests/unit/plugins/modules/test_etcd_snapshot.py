"""etcd_snapshot as Ansible runs it, on real etcd: who takes it, what is kept, what etcdutl says of it, the record."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time

import pytest

from ansible_collections.kubeha.cluster.plugins.module_utils._etcd.client import EtcdClient, EtcdEndpointError, EtcdError
from ansible_collections.kubeha.cluster.plugins.module_utils._etcd.snapshot import STATUS_KEY, elect
from ansible_collections.kubeha.cluster.plugins.plugin_utils import _zipapp
from support.etcd_cluster import etcd_binary, run_module

MODULE_UTILS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "..", "plugins", "module_utils")


def members_of(cluster):
    return [{"name": m.name, "client_url": m.client_url} for m in cluster.members]


def etcdutl_status(path):
    etcdutl = os.path.join(os.path.dirname(etcd_binary()), "etcdutl")
    out = subprocess.run([etcdutl, "snapshot", "status", path, "-w", "json"], capture_output=True, text=True, check=True, timeout=60)
    return json.loads(out.stdout)


def client_of(cluster):
    conn = cluster.connection_args()
    return EtcdClient(conn.pop("endpoints"), **conn)


def test_the_first_healthy_member_takes_it_checked_as_etcdutl_does(etcd_tls, tmp_path):
    cluster = etcd_tls
    key = "/kubeha/test/snapshot-status-%d" % os.getpid()
    client_of(cluster).put("/kubeha/test/sentinel", "before the snapshot")
    args = dict(cluster.connection_args(), members=members_of(cluster), directory=str(tmp_path / "snaps"), status_key=key)

    # check mode: the first member would take it, the others have nothing to do; nothing is written
    check = run_module("etcd_snapshot", dict(args, name=cluster.members[0].name), check_mode=True)
    other = run_module("etcd_snapshot", dict(args, name=cluster.members[1].name), check_mode=True)
    assert (check["changed"], check["taker"], check["not_healthy"]) == (True, cluster.members[0].name, [])
    assert (other["changed"], other["taker"]) == (False, cluster.members[0].name)
    assert not (tmp_path / "snaps").exists()

    # the real run, on every member: one snapshot, on the first
    results = [run_module("etcd_snapshot", dict(args, name=m.name)) for m in cluster.members]
    assert [r["changed"] for r in results] == [True, False, False], results
    snap = results[0]["snapshot"]
    assert sorted(os.listdir(tmp_path / "snaps")) == [snap["name"]]
    assert stat.S_IMODE(os.stat(tmp_path / "snaps").st_mode) == 0o700
    assert stat.S_IMODE(os.stat(snap["path"]).st_mode) == 0o600
    seen = etcdutl_status(snap["path"])
    assert (snap["hash"], snap["revision"], snap["total_key"], snap["total_size"]) == (
        seen["hash"], seen["revision"], seen["totalKey"], seen["totalSize"])
    assert snap["name"].endswith("-r%d.db" % seen["revision"]) and snap["sha256_trailer"] == "ok"

    # recorded in etcd, and etcd_check reads it back with no warning
    recorded = json.loads(client_of(cluster).get_one(key).value)
    assert recorded["newest"]["path"] == snap["path"] and recorded["last"]["result"] == "ok"
    checked = run_module("etcd_check", dict(cluster.connection_args(), snapshot_status_key=key, wait_timeout=10))
    assert checked["snapshot"]["newest"]["sha256"] == snap["sha256"] and checked["snapshot"]["problems"] == []
    assert checked["warning_texts"] == []


def test_keep_removes_the_oldest_and_a_down_member_hands_the_job_on(etcd_fresh_plain, tmp_path):
    cluster = etcd_fresh_plain
    args = dict(cluster.connection_args(), members=members_of(cluster), directory=str(tmp_path), keep=2)
    names = []
    for i in range(3):
        client_of(cluster).put("/kubeha/test/k", str(i))
        result = run_module("etcd_snapshot", dict(args, name=cluster.members[0].name))
        names.append(result["snapshot"]["name"])
    assert sorted(os.listdir(tmp_path)) == sorted(names[1:]), "the oldest was removed"
    assert result["snapshot"]["removed"] == [str(tmp_path / names[0])]

    cluster.members[0].stop()
    first = run_module("etcd_snapshot", dict(args, name=cluster.members[0].name, endpoints=cluster.endpoints[1:]))
    second = run_module("etcd_snapshot", dict(args, name=cluster.members[1].name, directory=str(tmp_path / "m2")))
    assert (first["changed"], first["taker"]) == (False, cluster.members[1].name)
    assert first["not_healthy"][0].startswith(cluster.members[0].name + ": connection refused")
    assert second["changed"] and second["snapshot"]["path"].startswith(str(tmp_path / "m2") + "/")


def test_a_failed_snapshot_leaves_no_file_and_is_reported_by_etcd_check(etcd_fresh_plain, tmp_path):
    cluster = etcd_fresh_plain
    blocked = tmp_path / "not-a-directory"
    blocked.write_text("a file where the snapshot directory should be")
    args = dict(cluster.connection_args(), members=members_of(cluster), name=cluster.members[0].name, directory=str(blocked))
    failed = run_module("etcd_snapshot", args)
    assert failed["failed"] and str(blocked) in failed["msg"]
    checked = run_module("etcd_check", dict(cluster.connection_args(), snapshot_status_key=STATUS_KEY, wait_timeout=10))
    (problem,) = checked["snapshot"]["problems"]
    assert problem.startswith("the last etcd snapshot (") and "failed" in problem and str(blocked) in problem
    assert checked["snapshot"]["newest"] is None and problem in checked["warning_texts"]

    # an overdue snapshot: recorded 3 hours ago, with a 2-hour limit
    old = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 3 * 3600))
    client_of(cluster).put(STATUS_KEY, json.dumps({"newest": {"time": old, "member": "m9", "path": "/x.db"},
                                                   "last": {"time": old, "result": "ok"}}))
    checked = run_module("etcd_check", dict(cluster.connection_args(), snapshot_status_key=STATUS_KEY, snapshot_max_age=7200))
    (problem,) = checked["snapshot"]["problems"]
    assert "(/x.db on m9) is 3h00m old, more than twice the schedule (2h00m)" in problem


def test_the_scheduled_program_is_the_same_code(etcd_fresh_plain, tmp_path):
    """etcd-snapshot.pyz, as the timer's unit runs it: exit 0 and a log line on the taker and on the others."""
    cluster = etcd_fresh_plain
    pyz = str(tmp_path / "etcd-snapshot.pyz")
    _zipapp.build(os.path.abspath(MODULE_UTILS), pyz, "etcd-snapshot")
    outputs = []
    for member in cluster.members[:2]:
        config = dict(members=members_of(cluster), name=member.name, directory=str(tmp_path / "snaps"), keep=10,
                      status_key=STATUS_KEY, timeout=5.0)
        path = tmp_path / ("%s.json" % member.name)
        path.write_text(json.dumps(config))
        proc = subprocess.run([sys.executable, pyz, "--config", str(path)], capture_output=True, text=True, timeout=60, check=False)
        assert proc.returncode == 0, proc.stderr
        outputs.append(proc.stdout)
    assert "etcd-snapshot on " in outputs[0] and ": snapshot %s/etcd-snapshot-" % (tmp_path / "snaps") in outputs[0]
    assert "%s takes the snapshot (the first healthy member); nothing to do on %s" % (cluster.members[0].name, cluster.members[1].name) in outputs[1]
    assert len(os.listdir(tmp_path / "snaps")) == 1
    proc = subprocess.run([sys.executable, pyz, "--config", str(tmp_path / "missing.json")], capture_output=True, text=True, timeout=60,
                          check=False)
    assert proc.returncode == 2 and "cannot read %s" % (tmp_path / "missing.json") in proc.stderr


class _Electing:
    """A cluster between leaders: every member answers 'RAFT NO LEADER' for the first ``passes`` rounds."""

    def __init__(self, passes):
        self.passes, self.asked = passes, 0

    def health(self, url):
        self.asked += 1
        if self.asked <= 3 * self.passes:
            raise EtcdEndpointError(url, "http", "HTTP 503 Service Unavailable: health false (RAFT NO LEADER)")
        return True


def test_the_choice_waits_out_a_leader_election_and_is_bounded():
    members = [{"name": "m%d" % i, "client_url": "https://10.0.0.%d:2379" % i} for i in (1, 2, 3)]
    clock = [0.0]

    def sleep(seconds):
        clock[0] += seconds

    # no leader for two rounds (as right after a member came back): the third round finds m1 healthy
    assert elect(_Electing(2), members, wait=15, clock=lambda: clock[0], sleep=sleep) == ("m1", members[0]["client_url"], [])
    assert clock[0] == 2.0
    # never a leader: refused after the wait, naming each member's last answer
    clock[0] = 0.0
    with pytest.raises(EtcdError, match=r"no etcd member is healthy, so no snapshot was taken \(asked again for 15 s\): m1: HTTP 503"):
        elect(_Electing(100), members, wait=15, clock=lambda: clock[0], sleep=sleep)
    assert clock[0] == 15.0
