"""The restore's plan: its token, the members still to restore, and the refusal that names what is lost."""

from __future__ import annotations

import json

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.kubeha.cluster.plugins.filter.etcd_restore_plan import FilterModule, etcd_restore_plan

SNAP = {"path": "/backups/etcd/s.db", "name": "s.db", "sha256": "0123456789abcdef" * 4, "revision": 4242, "total_key": 812,
        "file_size": 3 * 1048576, "mtime": "2026-12-04T12:00:00Z"}
TOKEN = "kubeha-etcd-aaaa-restore-0123456789ab-20261204T120000Z"
MEMBERS = [{"host": "m1", "name": "etcd-1", "marker": ""}, {"host": "m2", "name": "etcd-2", "marker": ""},
           {"host": "m3", "name": "etcd-3", "marker": ""}]
NOW = {"endpoints": [{"healthy": True, "revision": 5000}, {"healthy": True, "revision": 4999}, {"healthy": False, "revision": 0}],
       "members": [{}, {}, {}], "healthy_count": 2}


def test_registered():
    assert FilterModule().filters() == {"etcd_restore_plan": etcd_restore_plan}


def test_without_the_confirmation_the_refusal_names_the_members_what_is_lost_and_the_fix():
    plan = etcd_restore_plan(SNAP, MEMBERS, "kubeha-etcd-aaaa", cluster_now=NOW, stopped=["m1", "m2", "m3"], stamp="20261204T120000Z")
    assert plan["token"] == TOKEN and plan["pending"] == ["etcd-1", "etcd-2", "etcd-3"] and plan["needed"]
    assert not plan["confirmed"]
    assert plan["refusal"] == [
        "playbooks/etcd-restore.yml replaces the data of every etcd member (etcd-1, etcd-2, etcd-3) with the snapshot /backups/etcd/s.db "
        "(revision 4242, 812 keys, 3.0 MiB, file time 2026-12-04T12:00:00Z); nothing was changed.",
        "Lost: every change made after revision 4242: the running cluster is at revision 5000 now, so 758 revisions of writes "
        "(objects created, changed or deleted since) are undone.",
        "Stopped until etcd is back: the apiservers, the scheduler, the controller-manager and podmaster on m1, m2, m3.",
        "Kept: each member's current data, beside the restored data (member.before-restore-<time> in its data directory).",
        "To restore it, run again with -e etcd_restore_confirm=s.db"]


def test_a_wrong_confirmation_is_named_and_a_cluster_that_does_not_answer_is_said():
    plan = etcd_restore_plan(SNAP, MEMBERS, "kubeha-etcd-aaaa", cluster_now={"failed": True, "msg": "no endpoint answered"},
                             confirm="other.db")
    assert "etcd_restore_confirm is 'other.db', which is not the snapshot's file name." in plan["refusal"]
    assert plan["refusal"][1] == ("Lost: every change made after revision 4242; the running cluster does not answer (no endpoint "
                                  "answered), so how much is newer is not known.")


def test_a_restore_that_stopped_half_way_or_a_member_that_lost_its_data_since_restores_every_member_again():
    done = json.dumps({"sha256": SNAP["sha256"], "token": TOKEN})
    for members in ([dict(MEMBERS[0], marker=done), dict(MEMBERS[1], marker=done), MEMBERS[2]],
                    [dict(m, marker=done) for m in MEMBERS]):
        # the second: every marker there, but the cluster does not answer (two members lost their data since)
        cluster_now = NOW if members[2]["marker"] == "" else {"failed": True, "msg": "no quorum"}
        plan = etcd_restore_plan(SNAP, members, "kubeha-etcd-aaaa", cluster_now=cluster_now, confirm="s.db", stamp="20261205T000000Z")
        assert (plan["done"], plan["pending"], plan["refusal"], plan["confirmed"]) == ([], ["etcd-1", "etcd-2", "etcd-3"], [], True)
        # a token of its own: no member of the earlier restore can join the new one
        assert plan["token"] == "kubeha-etcd-aaaa-restore-0123456789ab-20261205T000000Z" != TOKEN


def test_a_finished_restore_needs_nothing_and_no_confirmation_unless_again():
    done = json.dumps({"sha256": SNAP["sha256"], "token": TOKEN})
    members = [dict(m, marker=done) for m in MEMBERS]
    plan = etcd_restore_plan(SNAP, members, "kubeha-etcd-aaaa", cluster_now=NOW, stamp="later")
    assert (plan["needed"], plan["refusal"], plan["done"], plan["token"]) == (False, [], ["etcd-1", "etcd-2", "etcd-3"], TOKEN)
    again = etcd_restore_plan(SNAP, members, "kubeha-etcd-aaaa", cluster_now=NOW, again=True)
    assert again["pending"] == ["etcd-1", "etcd-2", "etcd-3"] and again["refusal"][-1].endswith("etcd_restore_confirm=s.db")
    # markers of two different restores of the same snapshot are not one finished restore
    mixed = [dict(MEMBERS[0], marker=json.dumps({"sha256": SNAP["sha256"], "token": "other"}))] + members[1:]
    assert etcd_restore_plan(SNAP, mixed, "kubeha-etcd-aaaa", cluster_now=NOW, confirm="s.db")["needed"]


def test_not_a_snapshot():
    with pytest.raises(AnsibleFilterError, match="not a checked snapshot"):
        etcd_restore_plan({"path": "/x"}, MEMBERS, "t")
