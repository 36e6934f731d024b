"""etcd_check as Ansible runs it, against real etcd: the whole validation in one call, and what it never writes."""

from __future__ import annotations

import uuid

from ansible_collections.kubeha.cluster.plugins.module_utils._etcd.client import EtcdClient
from support.etcd_cluster import run_module, start_cluster


def expected(cluster, members=None):
    return ["%s=%s" % (m.name, m.peer_url) for m in (members or cluster.members)]


def check_args(cluster, **kwargs):
    args = cluster.connection_args()
    args.update(expected_members=expected(cluster), wait_timeout=20, probe_key="/test/probe/" + uuid.uuid4().hex)
    args.update(kwargs)
    return args


def client(cluster, members=None):
    args = cluster.connection_args()
    endpoints = [m.client_url for m in members] if members else args.pop("endpoints")
    args.pop("endpoints", None)
    return EtcdClient(endpoints, **args)


def state(cluster, key, members=None):
    """What a write would change: the key, the cluster's revision, the leases."""
    etcd = client(cluster, members)
    kv = etcd.get_one(key)
    revision = etcd.revision
    leases = sorted(int(lease["ID"]) for lease in etcd.call("/v3/lease/leases", {}).get("leases") or [])
    return kv, revision, leases


def test_write_read_back_through_another_member_and_nothing_left(etcd_any):
    args = check_args(etcd_any)
    key = args["probe_key"]
    etcd = client(etcd_any)
    etcd.put(key, "left by an earlier run")
    result = run_module("etcd_check", args)
    assert "failed" not in result, result.get("msg")
    assert result["changed"] is False
    probe = result["probe"]
    assert probe["written"] is True and probe["removed"] is True and probe["key"] == key
    assert probe["write_endpoint"] == etcd_any.endpoints[0] and probe["write_member"] == "etcd1"
    assert probe["read_member"] in ("etcd2", "etcd3") and probe["read_endpoint"] == etcd_any.member(
        probe["read_member"]).client_url
    assert probe["read_value"] == probe["value"] and probe["value"].startswith("probe ")
    assert probe["revision"] > 0
    # the read was done at the write's revision, through the other member: the value is there in etcd's history
    history = client(etcd_any, [etcd_any.member(probe["read_member"])]).get(key, revision=probe["revision"])
    assert [kv.value for kv in history] == [probe["value"]]
    assert etcd.get_one(key) is None, "the probe (and the earlier run's value) is removed with its lease"
    # every check an operator expects, in the one result
    assert (result["healthy_count"], result["member_count"], result["quorum"], result["down"]) == (3, 3, True, [])
    assert sorted(m["name"] for m in result["members"]) == ["etcd1", "etcd2", "etcd3"]
    assert result["leader"] in ("etcd1", "etcd2", "etcd3") and result["db_size"] > 0
    assert all(e["db_size"] > 0 for e in result["endpoints"])
    assert "3/3 voting members healthy" in result["summary"] and "members equal the 3 expected" in result["summary"]
    assert "probe written through etcd1, read back through %s" % probe["read_member"] in result["summary"]


def test_one_endpoint_given_still_reads_back_through_another_member(etcd_plain):
    args = check_args(etcd_plain, endpoints=etcd_plain.endpoints[2:], expected_members=None)
    result = run_module("etcd_check", args)
    assert "failed" not in result, result.get("msg")
    probe = result["probe"]
    assert probe["write_member"] == "etcd3" and probe["read_member"] in ("etcd1", "etcd2")
    assert probe["read_value"] == probe["value"] and probe["removed"] is True
    assert "members equal" not in result["summary"]


def test_check_mode_writes_nothing(etcd_any):
    args = check_args(etcd_any)
    key = args["probe_key"]
    client(etcd_any).put(key, "kept")
    before = state(etcd_any, key)
    result = run_module("etcd_check", args, check_mode=True)
    assert "failed" not in result, result.get("msg")
    assert result["changed"] is False and result["healthy_count"] == 3
    probe = result["probe"]
    assert probe["written"] is False and probe["value"] == "" and probe["read_value"] is None
    assert probe["note"].startswith("check mode: nothing written") and probe["read_member"] != probe["write_member"]
    assert "check mode: nothing written" in result["summary"]
    assert state(etcd_any, key) == before, "check mode wrote something (key, revision or a lease)"


def test_stopped_member_fails_with_what_was_seen_and_writes_nothing(etcd_fresh):
    args = check_args(etcd_fresh, wait_timeout=1)
    key = args["probe_key"]
    alive = etcd_fresh.members[:2]
    before = state(etcd_fresh, key, alive)
    etcd_fresh.members[2].stop()

    down = run_module("etcd_check", args)
    assert down["failed"] is True and down["changed"] is False
    assert down["msg"].startswith("etcd members down after waiting 1s: 2/3 voting members healthy")
    assert "etcd3 (%s: connection refused" % etcd_fresh.members[2].client_url in down["msg"]
    assert "Nothing was written" in down["msg"] and "systemctl start etcd" in down["msg"]
    assert down["down"] == ["etcd3"] and "probe" not in down
    assert state(etcd_fresh, key, alive) == before

    etcd_fresh.members[1].stop()
    lost = run_module("etcd_check", dict(args, wait_timeout=0))
    assert lost["failed"] is True and lost["quorum"] is False
    assert lost["msg"].startswith("etcd quorum lost: ") and "quorum needs 2, LOST" in lost["msg"]
    assert "etcd2" in lost["msg"] and "etcd3" in lost["msg"]
    assert "start the stopped members" in lost["msg"].lower() and "restore a snapshot" in lost["msg"]

    # back: the bounded wait polls until every member is healthy again, then the probe goes through
    etcd_fresh.members[1].start()
    etcd_fresh.members[2].start()
    back = run_module("etcd_check", dict(args, wait_timeout=30))
    assert "failed" not in back, back.get("msg")
    assert back["healthy_count"] == 3 and back["probe"]["read_value"] == back["probe"]["value"]
    assert client(etcd_fresh).get_one(key) is None


def test_member_list_differs_from_the_expected_one(etcd_plain):
    m1, m2, m3 = etcd_plain.members
    args = check_args(etcd_plain, wait_timeout=0, expected_members=[
        "%s=%s" % (m1.name, m1.peer_url), "%s=http://127.0.0.1:1" % m2.name, "etcd9=http://127.0.0.9:2380"])
    key = args["probe_key"]
    before = state(etcd_plain, key)
    result = run_module("etcd_check", args)
    assert result["failed"] is True and result["changed"] is False
    assert result["msg"].startswith("etcd's members differ from the 3 expected: ")
    assert sorted(result["problems"]) == sorted([
        "etcd2 has peer URLs %s, expected http://127.0.0.1:1" % m2.peer_url,
        "etcd3 (peer %s) is a member but not expected" % m3.peer_url,
        "etcd9 (peer http://127.0.0.9:2380) is expected but not a member",
    ])
    assert "etcd3=%s" % m3.peer_url in result["msg"] and "kubeha.cluster.etcd_member (state=absent)" in result["msg"]
    assert "Nothing was written" in result["msg"] and "probe" not in result
    assert state(etcd_plain, key) == before


def test_single_member_reads_back_through_itself_and_says_so():
    with start_cluster(1) as cluster:
        result = run_module("etcd_check", check_args(cluster))
        assert "failed" not in result, result.get("msg")
        probe = result["probe"]
        assert probe["write_member"] == probe["read_member"] == "etcd1"
        assert probe["read_value"] == probe["value"] and "one voting member only" in probe["note"]


def test_argument_errors(etcd_plain):
    bad = run_module("etcd_check", check_args(etcd_plain, expected_members=["etcd1"]))
    assert bad["failed"] is True and "'etcd1' is not name=peer_url" in bad["msg"]
    url = run_module("etcd_check", check_args(etcd_plain, expected_members=["etcd1=10.0.0.1:2380"]))
    assert url["failed"] is True and "peer URL" in url["msg"] and "'10.0.0.1:2380'" in url["msg"]
    twice = run_module("etcd_check", check_args(etcd_plain, expected_members=expected(etcd_plain) * 2))
    assert twice["failed"] is True and "names etcd1 twice" in twice["msg"]
