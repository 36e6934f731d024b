"""etcd_member as Ansible runs it: add a learner, start it, promote, remove, refuse a quorum-losing removal."""

from __future__ import annotations

from support.etcd_cluster import run_module, wait_until


def member_names(cluster):
    result = run_module("etcd_cluster_info", cluster.connection_args())
    return sorted((m["name"] or m["peer_urls"][0], m["is_learner"]) for m in result["members"])


def test_add_promote_remove(etcd_fresh):
    cluster = etcd_fresh
    conn = cluster.connection_args()
    new = cluster.new_member("etcd4")
    args = dict(conn, name="etcd4", peer_urls=[new.peer_url])
    before = member_names(cluster)

    check = run_module("etcd_member", args, check_mode=True, diff=True)
    assert check["changed"] is True and check["action"] == "added" and check["member"]["is_learner"] is True
    assert check["diff"]["before"] == {} and check["diff"]["after"]["member"]["peer_urls"] == [new.peer_url]
    assert member_names(cluster) == before, "check mode must not add"

    added = run_module("etcd_member", args)
    assert added["changed"] is True and added["action"] == "added", added.get("msg")
    assert added["member"]["is_learner"] is True and added["member"]["id"]
    assert len(added["members"]) == 4
    again = run_module("etcd_member", args)
    assert again["changed"] is False and again["action"] == "none" and again["member"]["id"] == added["member"]["id"]

    # start etcd4 so that it can catch up, then promote
    cluster.spawn_joining_member("etcd4", new)
    wait_until(lambda: any(m["name"] == "etcd4" for m in run_module("etcd_member", args)["members"]), 30,
               "etcd4 to start and publish its name", interval=0.2)
    promote = dict(args, promote=True)
    check = run_module("etcd_member", promote, check_mode=True)
    assert check["changed"] is True and check["action"] == "promoted" and check["member"]["is_learner"] is False
    assert ("etcd4", True) in member_names(cluster), "check mode must not promote"
    promoted = run_module("etcd_member", promote)
    assert promoted["changed"] is True and promoted["action"] == "promoted", promoted.get("msg")
    assert promoted["member"]["is_learner"] is False and promoted["member"]["name"] == "etcd4"
    assert run_module("etcd_member", promote)["changed"] is False
    assert ("etcd4", False) in member_names(cluster)

    remove = dict(conn, name="etcd4", state="absent")
    check = run_module("etcd_member", remove, check_mode=True)
    assert check["changed"] is True and check["action"] == "removed" and len(check["members"]) == 3
    assert len(member_names(cluster)) == 4, "check mode must not remove"
    removed = run_module("etcd_member", remove)
    assert removed["changed"] is True and removed["member"] is None
    assert sorted(m["name"] for m in removed["members"]) == ["etcd1", "etcd2", "etcd3"]
    assert run_module("etcd_member", remove)["changed"] is False
    cluster.members.remove(new)
    new.stop(kill=True)


def test_removal_that_would_lose_quorum_is_refused(etcd_fresh):
    cluster = etcd_fresh
    conn = cluster.connection_args()
    cluster.member("etcd3").stop()
    refused = run_module("etcd_member", dict(conn, name="etcd2", state="absent"))
    assert refused["failed"] is True
    assert "refusing to remove etcd2" in refused["msg"] and "1 healthy of 2" in refused["msg"]
    assert "etcd3" in refused["msg"]
    assert len(member_names(cluster)) == 3
    # removing the dead member keeps 2 of 2 healthy: allowed
    removed = run_module("etcd_member", dict(conn, name="etcd3", state="absent"))
    assert removed["changed"] is True, removed.get("msg")
    assert sorted(m["name"] for m in removed["members"]) == ["etcd1", "etcd2"]


def test_missing_member_without_peer_urls_is_explained(etcd_plain):
    result = run_module("etcd_member", dict(etcd_plain.connection_args(), name="nosuch"))
    assert result["failed"] is True and "cannot be added without peer_urls" in result["msg"]
    assert "etcd1" in result["msg"]


def test_name_and_url_of_different_members_is_refused(etcd_plain):
    other = etcd_plain.member("etcd2").peer_url
    result = run_module("etcd_member", dict(etcd_plain.connection_args(), name="etcd1", peer_urls=[other]))
    assert result["failed"] is True and "match different members" in result["msg"]
