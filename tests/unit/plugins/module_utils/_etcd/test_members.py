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

    def member_list(self, linearizable=False):
        assert linearizable, "etcd_member decides on a quorum read of the member list"
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


class StoppingMember:
    """Three voters; the removal is applied, then its answer is lost as when the member serving it stops.

    ``requests`` records (call, endpoint) for every call, the endpoint being the first of the client's endpoints.
    """

    URLS = {"a1": "http://10.0.0.11:2379", "b2": "http://10.0.0.12:2379", "c3": "http://10.0.0.13:2379"}

    def __init__(self, endpoints, apply=True, log=None, members=None):
        self.endpoints = list(endpoints)
        self.apply = apply
        self.requests = [] if log is None else log
        self.members = members if members is not None else [
            {"id": mid, "name": "etcd%d" % (i + 1), "peer_urls": [url.replace("2379", "2380")], "client_urls": [url],
             "is_learner": False} for i, (mid, url) in enumerate(sorted(self.URLS.items()))]

    def with_endpoints(self, endpoints):
        return StoppingMember(endpoints, self.apply, self.requests, self.members)

    def status(self, endpoint):
        raise AssertionError("every endpoint is a member's client URL: no status probe needed (%s)" % endpoint)

    def member_list(self, linearizable=False):
        assert linearizable, "etcd_member decides on a quorum read of the member list"
        self.requests.append(("list", self.endpoints[0]))
        return [dict(m) for m in self.members]

    def member_remove(self, member_id):
        self.requests.append(("remove", self.endpoints[0]))
        if self.apply:
            self.members[:] = [m for m in self.members if m["id"] != member_id]
        raise EtcdError("member remove %s: %s: etcdserver: server stopped (not retried on another endpoint: the request "
                        "may have been applied)" % (member_id, self.endpoints[0]), endpoint=self.endpoints[0], code=14,
                        error="etcdserver: server stopped")


def remove(client, monkeypatch, name="etcd1"):
    """Remove a learner-free member without the health look (patched: the scripted cluster is healthy, a1 leads not)."""
    monkeypatch.setattr(members_mod, "client_from_params", lambda params: client)
    monkeypatch.setattr(members_mod, "cluster_info", lambda c: {
        "members": [dict(m, healthy=True) for m in c.member_list(linearizable=True)], "healthy_count": 3, "leader_id": "b2"})
    monkeypatch.setattr(members_mod.time, "sleep", lambda seconds: None)
    return members_mod.run_member({"name": name, "state": "absent", "wait_timeout": 5, "endpoints": client.endpoints})


def test_a_removal_applied_before_the_removed_member_stopped_counts_as_done(monkeypatch):
    """The endpoints start with the member that leaves: the removal and the reads after it go to members that stay,
    and a removal whose answer was lost ("server stopped") but that the member list shows done is a success."""
    client = StoppingMember([StoppingMember.URLS["a1"], StoppingMember.URLS["b2"]])
    result = remove(client, monkeypatch)
    assert result["changed"] and result["action"] == "removed", result
    assert [m["id"] for m in result["members"]] == ["b2", "c3"]
    sent = client.requests[client.requests.index(("remove", StoppingMember.URLS["b2"])):]
    assert [call for call, endpoint in sent].count("remove") == 1, "the removal was sent again: %s" % sent
    assert StoppingMember.URLS["a1"] not in [endpoint for call, endpoint in sent], "a request after the removal went to the removed member"


def test_a_removal_pointed_only_at_the_leaving_member_reads_through_the_others(monkeypatch):
    client = StoppingMember([StoppingMember.URLS["a1"]])
    result = remove(client, monkeypatch)
    assert result["changed"] and [m["id"] for m in result["members"]] == ["b2", "c3"], result
    assert ("remove", StoppingMember.URLS["b2"]) in client.requests


def test_a_removal_that_was_not_applied_fails_with_etcds_error(monkeypatch):
    client = StoppingMember([StoppingMember.URLS["a1"], StoppingMember.URLS["b2"]], apply=False)
    with pytest.raises(EtcdError, match="server stopped"):
        remove(client, monkeypatch)
    assert [m["id"] for m in client.members] == ["a1", "b2", "c3"]


class LaggingMember:
    """Two views of the membership, as etcd has them after a promotion forwarded to the leader.

    The promotion is answered once the leader applied it; the member that served it may not have applied it yet,
    so its own view (the default, serializable member list) still shows a learner; a linearizable list waits.
    """

    def __init__(self):
        self.committed = [{"id": "a1", "name": "etcd1", "peer_urls": [PEER.replace("14", "11")], "client_urls": [],
                           "is_learner": False},
                          {"id": "d4", "name": "etcd4", "peer_urls": [PEER], "client_urls": [], "is_learner": True}]
        self.local = [dict(m) for m in self.committed]
        self.promotes = 0

    def member_list(self, linearizable=False):
        return [dict(m) for m in (self.committed if linearizable else self.local)]

    def member_promote(self, member_id):
        self.promotes += 1
        for member in self.committed:
            if member["id"] == member_id:
                if not member["is_learner"]:
                    raise EtcdError("member promote %s: etcdserver: can only promote a learner member" % member_id)
                member["is_learner"] = False


def test_a_promotion_is_reported_as_committed_and_not_repeated(monkeypatch):
    client = LaggingMember()
    monkeypatch.setattr(members_mod, "client_from_params", lambda params: client)
    params = {"name": "etcd4", "peer_urls": [PEER], "promote": True, "wait_timeout": 5}
    result = members_mod.run_member(params)
    assert result["changed"] and result["action"] == "promoted"
    assert result["member"]["is_learner"] is False, "the result shows the lagging member's view"
    again = members_mod.run_member(params)
    assert again["changed"] is False and again["action"] == "none"
    assert client.promotes == 1


def test_a_list_without_quorum_says_what_a_membership_change_needs(monkeypatch):
    class NoQuorum:
        endpoints = ["https://10.0.0.11:2379"]

        def member_list(self, linearizable=False):
            raise EtcdError("member list failed on every endpoint: https://10.0.0.11:2379: timed out after 5s")
    monkeypatch.setattr(members_mod, "client_from_params", lambda params: NoQuorum())
    with pytest.raises(EtcdError, match="quorum read .*timed out.* need a quorum of voting members.*etcd-restore.yml"):
        members_mod.run_member({"name": "etcd4", "peer_urls": [PEER], "promote": True})
