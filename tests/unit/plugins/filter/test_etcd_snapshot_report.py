"""The status table's snapshot line: the newest snapshot, its age, and what is wrong."""

from __future__ import annotations

import json

from ansible_collections.kubeha.cluster.plugins.filter.etcd_snapshot_report import FilterModule, etcd_snapshot_report

NOW = 1_800_000_000.0  # 2027-01-15T08:00:00Z
NEWEST = {"time": "2027-01-15T06:55:00Z", "member": "m1", "path": "/var/lib/kubeha/etcd-snapshots/a.db", "file_size": 5 * 1024 * 1024,
          "revision": 4242, "total_key": 1234}


def test_registered():
    assert FilterModule().filters() == {"etcd_snapshot_report": etcd_snapshot_report}


def test_newest_snapshot_line():
    report = etcd_snapshot_report(json.dumps({"newest": NEWEST, "last": {"result": "ok"}}), max_age=43200, now=NOW)
    assert report["line"] == "newest 2027-01-15T06:55:00Z (1h05m ago), 5120 KiB, revision 4242, 1234 keys, on m1: /var/lib/kubeha/etcd-snapshots/a.db"
    assert report["problems"] == [] and report["age_seconds"] == 3900


def test_overdue_and_failed_are_problems():
    value = json.dumps({"newest": NEWEST, "last": {"time": "2027-01-15T07:59:00Z", "member": "m2", "result": "failed", "error": "disk full"}})
    report = etcd_snapshot_report(value, max_age=3600, now=NOW)
    assert report["problems"] == [
        "the last etcd snapshot (2027-01-15T07:59:00Z on m2) failed: disk full",
        "the newest etcd snapshot (/var/lib/kubeha/etcd-snapshots/a.db on m1) is 1h05m old, more than twice the schedule (1h00m): is the "
        "kubeha-etcd-snapshot.timer running on the members (systemctl list-timers), and does journalctl -u kubeha-etcd-snapshot say why not?"]


def test_nothing_recorded_yet():
    for value in (None, "", "not json", json.dumps({"newest": None})):
        report = etcd_snapshot_report(value, now=NOW)
        assert (report["line"], report["problems"], report["newest"]) == ("none taken yet", [], None)
