"""The etcd_check logic: expected members, member-list differences, and a read back that disagrees (real etcd)."""

from __future__ import annotations

import uuid

import pytest

from ansible_collections.kubeha.cluster.plugins.module_utils._etcd import check
from ansible_collections.kubeha.cluster.plugins.module_utils._etcd.client import EtcdClient, EtcdConfigError, EtcdError
from support.etcd_cluster import start_cluster


def member(name, peer, learner=False):
    return {"id": uuid.uuid4().hex[:16], "name": name, "peer_urls": [peer], "client_urls": [] if not name else [peer],
            "is_learner": learner, "healthy": bool(name)}


def test_parse_expected_normalises_and_refuses_bad_entries():
    assert check.parse_expected(None) is None
    assert check.parse_expected(["a=https://10.0.0.1:2380/", "b=https://10.0.0.3:2380,https://10.0.0.2:2380"]) == {
        "a": ["https://10.0.0.1:2380"], "b": ["https://10.0.0.2:2380", "https://10.0.0.3:2380"]}
    for bad, text in ((["a"], "not name=peer_url"), (["=https://x:1"], "not name=peer_url"),
                      (["a=x:1"], "peer URL"), (["a=http://x:1", "a=http://y:1"], "names a twice"), ([], "is empty")):
        with pytest.raises(EtcdConfigError, match=text):
            check.parse_expected(bad)


def test_membership_problems_name_each_difference():
    expected = check.parse_expected(["a=https://10.0.0.1:2380", "b=https://10.0.0.2:2380", "c=https://10.0.0.3:2380",
                                     "d=https://10.0.0.4:2380"])
    members = [member("a", "https://10.0.0.1:2380"), member("b", "https://10.0.0.9:2380"),
               member("", "https://10.0.0.3:2380", learner=True), member("d", "https://10.0.0.4:2380", learner=True),
               member("x", "https://10.0.0.7:2380"), member("", "https://10.0.0.8:2380")]
    assert check.membership_problems(members, expected) == [
        "b has peer URLs https://10.0.0.9:2380, expected https://10.0.0.2:2380",
        "c was added (peer https://10.0.0.3:2380) but has not started yet",
        "d is still a learner",
        "x (peer https://10.0.0.7:2380) is a member but not expected",
        "an unstarted member with peer https://10.0.0.8:2380 is not expected",
    ]
    assert check.membership_problems(members[:1], {"a": ["https://10.0.0.1:2380"]}) == []


def test_a_read_back_that_fails_or_disagrees_fails_and_the_probe_is_removed(etcd_plain, monkeypatch):
    """The reading member answers from other data (here: another cluster): the module names both members."""
    key = "/test/probe/" + uuid.uuid4().hex
    params = dict(etcd_plain.connection_args(), probe_key=key, wait_timeout=5)
    plain = EtcdClient(etcd_plain.endpoints)
    with start_cluster(1) as other:
        real = check._endpoint_client  # pylint: disable=protected-access

        def endpoint_client(p, endpoint):
            return real(p, endpoint if endpoint == etcd_plain.endpoints[0] else other.endpoints[0])

        monkeypatch.setattr(check, "_endpoint_client", endpoint_client)
        # the other data is behind the write's revision: the read itself fails
        with pytest.raises(EtcdError) as behind:
            check.run_check(params)
        assert behind.value.msg.startswith("etcd check: reading the probe key %s back through etcd" % key)
        assert "It was written through etcd1 at revision" in behind.value.msg
        assert behind.value.result["probe"]["removed"] is True and plain.get_one(key) is None

        # the other data is ahead: the read answers, without the probe
        ahead = EtcdClient(other.endpoints)
        plain.get_one(key)
        while ahead.revision <= plain.revision + 10:
            ahead.put("/filler", "x")
        with pytest.raises(EtcdError) as failed:
            check.run_check(params)
    msg = failed.value.msg
    assert msg.startswith("etcd check: the probe key %s read back through etcd" % key)
    assert "holds no value" in msg and "written through etcd1: the members disagree" in msg
    probe = failed.value.result["probe"]
    assert probe["written"] is True and probe["removed"] is True and failed.value.result["changed"] is False
    assert plain.get_one(key) is None
