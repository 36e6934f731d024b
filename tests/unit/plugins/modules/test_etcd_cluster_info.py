"""etcd_cluster_info as Ansible runs it: healthy, degraded, quorum lost, TLS errors, failover."""

from __future__ import annotations

from support.etcd_cluster import free_port, run_module


def test_healthy_cluster(etcd_any):
    result = run_module("etcd_cluster_info", dict(etcd_any.connection_args(), wait=True, wait_timeout=20,
                                                  expected_members=3))
    assert result["changed"] is False and "failed" not in result
    assert (result["healthy_count"], result["member_count"], result["quorum"]) == (3, 3, True)
    assert sorted(m["name"] for m in result["members"]) == ["etcd1", "etcd2", "etcd3"]
    assert all(m["peer_urls"] and m["client_urls"] and m["is_learner"] is False for m in result["members"])
    assert sorted(e["endpoint"] for e in result["endpoints"]) == sorted(etcd_any.endpoints)
    leader = [e for e in result["endpoints"] if e["is_leader"]]
    assert len(leader) == 1 and result["leader_id"] == leader[0]["member_id"]
    assert result["leader"] == next(m["name"] for m in result["members"] if m["id"] == result["leader_id"])
    for entry in result["endpoints"]:
        assert entry["healthy"] and entry["error"] == "" and entry["version"].startswith("3.")
        assert entry["raft_term"] >= 1 and entry["raft_index"] > 0 and entry["db_size"] > 0 and entry["revision"] > 0
    # check mode is the same read
    assert run_module("etcd_cluster_info", etcd_any.connection_args(), check_mode=True)["quorum"] is True


def test_expected_members_mismatch_fails(etcd_plain):
    result = run_module("etcd_cluster_info", dict(etcd_plain.connection_args(), expected_members=5))
    assert result["failed"] is True and "3 voting members, 5 expected" in result["msg"]


def test_one_then_two_members_down(etcd_fresh):
    args = etcd_fresh.connection_args()
    etcd_fresh.members[2].stop()
    degraded = run_module("etcd_cluster_info", args)
    assert "failed" not in degraded
    assert (degraded["healthy_count"], degraded["member_count"], degraded["quorum"]) == (2, 3, True)
    assert degraded["down"] == ["etcd3"]
    assert any("etcd3" in w and "degraded" in w for w in degraded["warning_texts"])
    waited = run_module("etcd_cluster_info", dict(args, wait=True, wait_timeout=1))
    assert waited["failed"] is True and "still down after waiting 1s" in waited["msg"] and "etcd3" in waited["msg"]

    etcd_fresh.members[1].stop()
    lost = run_module("etcd_cluster_info", args)
    assert lost["failed"] is True and lost["quorum"] is False
    assert "quorum lost" in lost["msg"] and "etcd2" in lost["msg"] and "etcd3" in lost["msg"]
    assert "connection refused" in lost["msg"] and "systemctl start etcd" in lost["msg"]
    assert sorted(lost["down"]) == ["etcd1", "etcd2", "etcd3"] or sorted(lost["down"]) == ["etcd2", "etcd3"]

    # bring them back: wait=true polls until all three are healthy again
    etcd_fresh.members[1].start()
    etcd_fresh.members[2].start()
    back = run_module("etcd_cluster_info", dict(args, wait=True, wait_timeout=30, expected_members=3))
    assert "failed" not in back and back["healthy_count"] == 3


def test_wrong_ca_names_the_endpoint(etcd_tls):
    result = run_module("etcd_cluster_info", dict(etcd_tls.connection_args(), ca_cert=etcd_tls.tls.wrong_ca))
    assert result["failed"] is True
    assert "%s: TLS failure: server certificate not trusted" % etcd_tls.endpoints[0] in result["msg"]


def test_dead_endpoint_first_fails_over(etcd_any):
    dead = "%s://127.0.0.1:%d" % (etcd_any.scheme, free_port())
    args = etcd_any.connection_args()
    args["endpoints"] = [dead] + args["endpoints"]
    result = run_module("etcd_cluster_info", args)
    assert "failed" not in result and result["healthy_count"] == 3


def test_malformed_endpoint_is_an_argument_error():
    result = run_module("etcd_cluster_info", {"endpoints": ["https://127.0.0.1:2379", "etcd1:2379"]})
    assert result["failed"] is True and "option endpoints" in result["msg"] and "'etcd1:2379'" in result["msg"]
