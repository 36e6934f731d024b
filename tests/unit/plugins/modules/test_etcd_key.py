"""etcd_key and etcd_key_info as Ansible runs them, against the real 3-member cluster (plain and TLS)."""

from __future__ import annotations

import uuid

from support.etcd_cluster import run_module


def key_args(cluster, **kwargs):
    args = cluster.connection_args()
    args.update(kwargs)
    return args


def test_put_check_real_second_run_then_read_through_another_member(etcd_any):
    key = "/test/key/" + uuid.uuid4().hex
    args = key_args(etcd_any, endpoints=etcd_any.endpoints[:1], key=key, value="hello")
    check = run_module("etcd_key", args, check_mode=True, diff=True)
    assert check["changed"] is True and check["found"] is False
    assert check["diff"] == {"before": {}, "after": {"key": key, "value": "hello"}}
    other = key_args(etcd_any, endpoints=etcd_any.endpoints[2:], key=key)
    assert run_module("etcd_key_info", other)["kv"] is None, "check mode must not write"

    real = run_module("etcd_key", args)
    assert real["changed"] is True and real["kv"]["value"] == "hello" and real["kv"]["mod_revision"] > 0
    again = run_module("etcd_key", args)
    assert again["changed"] is False and again["kv"] == real["kv"]

    read = run_module("etcd_key_info", other)
    assert read["changed"] is False and read["found"] is True and read["kv"]["value"] == "hello"
    assert read["endpoint"] == etcd_any.endpoints[2]


def test_delete_check_real_second_run(etcd_any):
    key = "/test/key/" + uuid.uuid4().hex
    run_module("etcd_key", key_args(etcd_any, key=key, value="x"))
    args = key_args(etcd_any, key=key, state="absent")
    check = run_module("etcd_key", args, check_mode=True)
    assert check["changed"] is True and check["kv"] is None and check["previous"]["value"] == "x"
    assert run_module("etcd_key_info", key_args(etcd_any, key=key))["found"] is True
    assert run_module("etcd_key", args)["changed"] is True
    assert run_module("etcd_key_info", key_args(etcd_any, key=key))["found"] is False
    assert run_module("etcd_key", args)["changed"] is False


def test_create_only(etcd_any):
    key = "/test/key/" + uuid.uuid4().hex
    first = run_module("etcd_key", key_args(etcd_any, key=key, value="first", create_only=True))
    assert first["changed"] is True and first["succeeded"] is True
    second = run_module("etcd_key", key_args(etcd_any, key=key, value="second", create_only=True))
    assert second["changed"] is False and second["succeeded"] is False and second["kv"]["value"] == "first"
    assert "failed" not in second


def test_compare_and_swap_on_value_and_revision(etcd_plain):
    key = "/test/key/" + uuid.uuid4().hex
    put = run_module("etcd_key", key_args(etcd_plain, key=key, value="v1"))
    wrong = run_module("etcd_key", key_args(etcd_plain, key=key, value="v2", prev_value="nope"))
    assert wrong["failed"] is True and "compare failed" in wrong["msg"] and "'v1'" in wrong["msg"]
    check = run_module("etcd_key", key_args(etcd_plain, key=key, value="v2", prev_value="v1"), check_mode=True)
    assert check["changed"] is True
    swapped = run_module("etcd_key", key_args(etcd_plain, key=key, value="v2", prev_value="v1"))
    assert swapped["changed"] is True and swapped["kv"]["value"] == "v2"
    # re-running the same swap finds the wanted value in place: no change, no failure
    assert run_module("etcd_key", key_args(etcd_plain, key=key, value="v2", prev_value="v1"))["changed"] is False
    stale = run_module("etcd_key", key_args(etcd_plain, key=key, value="v3", prev_revision=put["kv"]["mod_revision"]))
    assert stale["failed"] is True and "mod_revision %d" % swapped["kv"]["mod_revision"] in stale["msg"]
    fresh = run_module("etcd_key", key_args(etcd_plain, key=key, value="v3", prev_revision=swapped["kv"]["mod_revision"]))
    assert fresh["changed"] is True and fresh["kv"]["value"] == "v3"
    gone = run_module("etcd_key", key_args(etcd_plain, key=key, state="absent", prev_value="v2"))
    assert gone["failed"] is True and "Nothing was deleted" in gone["msg"]
    assert run_module("etcd_key_info", key_args(etcd_plain, key=key))["kv"]["value"] == "v3"


def test_argument_errors(etcd_plain):
    bad = run_module("etcd_key", {"endpoints": ["10.0.0.1:2379"], "key": "/k", "state": "absent"})
    assert bad["failed"] is True and "'10.0.0.1:2379'" in bad["msg"] and "endpoints" in bad["msg"]
    both = run_module("etcd_key", key_args(etcd_plain, key="/k", value="v", create_only=True, prev_value="x"))
    assert both["failed"] is True and "mutually exclusive" in both["msg"]
    missing = run_module("etcd_key", key_args(etcd_plain, key="/k"))
    assert missing["failed"] is True and "value" in missing["msg"]


def test_key_info_reads_a_prefix_and_reports_missing_keys(etcd_any):
    base = "/test/info/" + uuid.uuid4().hex
    for name in ("b", "a"):
        run_module("etcd_key", key_args(etcd_any, key="%s/%s" % (base, name), value=name.upper()))
    listing = run_module("etcd_key_info", key_args(etcd_any, key=base + "/", prefix=True), check_mode=True)
    assert listing["changed"] is False and listing["found"] is True and listing["count"] == 2
    assert [(kv["key"], kv["value"]) for kv in listing["kvs"]] == [(base + "/a", "A"), (base + "/b", "B")]
    assert listing["kv"] is None
    missing = run_module("etcd_key_info", key_args(etcd_any, key=base + "/none"))
    assert missing["changed"] is False and missing["found"] is False and missing["kvs"] == [] and missing["kv"] is None
