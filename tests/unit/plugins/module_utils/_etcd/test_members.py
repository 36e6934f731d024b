"""etcd_member's add when etcd's answer is lost after the add was applied (scripted client)."""

from __future__ import annotations

import pytest

from ansible_collections.kubeha.cluster.plugins.module_utils._etcd import members as members_mod
from ansible_collections.kubeha.cluster.plugins.module_utils._etcd.client import EtcdError

PEER = "https://10.0.0.14:2380"


class LostAnswer:
    """member_add applies the add, then answers as etcd does when the leader changed meanwhile."""

    def __init__(self, apply=True):
        self.apply = apply
        self.members = [{"id": "a1", "name": "etcd1", "peer_urls": ["https://10.0.0.11:2380"], "client_urls": [],
                         "is_learner": False}]
        self.adds = 0

    def member_list(self):
        return [dict(m) for m in self.members]

    def member_add(self, peer_urls, learner=False):
        self.adds += 1
        if any(set(peer_urls) & set(m["peer_urls"]) for m in self.members):
            raise EtcdError("member add %s: etcdserver: Peer URLs already exists" % ",".join(peer_urls))
        if self.apply:
            self.members.append({"id": "b2", "name": "", "peer_urls": list(peer_urls), "client_urls": [],
                                 "is_learner": learner})
        raise EtcdError("member add %s: etcdserver: leader changed" % ",".join(peer_urls))


def run(client, monkeypatch):
    monkeypatch.setattr(members_mod, "client_from_params", lambda params: client)
    monkeypatch.setattr(members_mod.time, "sleep", lambda seconds: None)
    return members_mod.run_member({"name": "etcd4", "peer_urls": [PEER], "learner": True, "wait_timeout": 5})


def test_an_add_applied_before_its_answer_was_lost_counts_as_done(monkeypatch):
    client = LostAnswer()
    result = run(client, monkeypatch)
    assert result["changed"] and result["action"] == "added"
    assert result["member"]["id"] == "b2" and result["member"]["is_learner"]
    assert client.adds == 1, "the add was sent again"


def test_an_add_that_was_not_applied_is_tried_again_then_fails_naming_etcd(monkeypatch):
    client = LostAnswer(apply=False)
    clock = iter(range(0, 100))
    monkeypatch.setattr(members_mod.time, "monotonic", lambda: next(clock))
    with pytest.raises(EtcdError, match="leader changed"):
        run(client, monkeypatch)
    assert client.adds > 1
