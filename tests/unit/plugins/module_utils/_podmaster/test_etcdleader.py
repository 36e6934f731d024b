"""podmaster keeps etcd's leader off the master that holds its keys (real 3-member etcd)."""

from __future__ import annotations

from ansible_collections.kubeha.cluster.plugins.module_utils._etcd.client import EtcdClient
from ansible_collections.kubeha.cluster.plugins.module_utils._podmaster.etcdleader import LeaderAvoider
from support.etcd_cluster import wait_until


def leader_of(cluster):
    """(endpoint, member name) of the member that leads now."""
    client = EtcdClient(cluster.endpoints)
    for member in cluster.members:
        status = client.status(member.client_url)
        if status["leader"] and status["leader"] == status["member_id"]:
            return member.client_url, member.name
    return None, None


def test_a_holder_hands_etcds_leadership_to_a_master_without_a_key(etcd_fresh_plain):
    cluster = etcd_fresh_plain
    endpoint, name = wait_until(lambda: leader_of(cluster)[0] and leader_of(cluster), 30, "an etcd leader")
    others = sorted(m.name for m in cluster.members if m.name != name)
    avoider = LeaderAvoider(EtcdClient(cluster.endpoints, timeout=5), endpoint, interval=5, backoff=30)
    # this master holds one key, the first other master the other key: the leadership goes to the last one
    done = avoider.check(100.0, {name, others[0]})
    assert done and "to %s" % others[1] in done
    assert wait_until(lambda: leader_of(cluster)[1] == others[1], 15, "the leadership on %s" % others[1])
    assert avoider.check(101.0, {name}) is None, "at most once per backoff"
    # a member that does not lead does nothing, whoever holds what
    follower = next(m.client_url for m in cluster.members if m.name == others[0])
    assert LeaderAvoider(EtcdClient(cluster.endpoints), follower).check(0.0, {others[0]}) is None


def test_the_leadership_never_goes_to_a_member_that_is_down_or_holds_a_key(etcd_fresh_plain):
    """A transfer to a stopped member stalls etcd's writes until it times out; to another holder, it comes back."""
    cluster = etcd_fresh_plain
    endpoint, name = wait_until(lambda: leader_of(cluster)[0] and leader_of(cluster), 30, "an etcd leader")
    others = sorted((m for m in cluster.members if m.name != name), key=lambda m: m.name)
    others[1].stop(kill=True)                       # down: its member entry still lists its client URL
    avoider = LeaderAvoider(EtcdClient([m.client_url for m in cluster.members], timeout=2), endpoint)
    assert avoider.check(0.0, {name, others[0].name}) is None, "the only other voter without a key is down"
    assert leader_of(cluster)[1] == name
    done = avoider.check(100.0, {name})
    assert done and "to %s" % others[0].name in done
