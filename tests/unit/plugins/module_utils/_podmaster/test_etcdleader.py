"""podmaster keeps etcd's leader off the master that holds its keys (real 3-member etcd)."""

from __future__ import annotations

from ansible_collections.kubeha.cluster.plugins.module_utils._etcd.client import EtcdClient, EtcdError
from ansible_collections.kubeha.cluster.plugins.module_utils._podmaster.etcdleader import LeaderAvoider
from support.etcd_cluster import wait_until


def leader_of(cluster):
    """(endpoint, member name) of the member that leads now."""
    client = EtcdClient(cluster.endpoints)
    for member in cluster.members:
        try:
            status = client.status(member.client_url)
        except EtcdError:  # a member the test stopped leads nothing
            continue
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


def test_no_move_while_another_holders_lease_counts_down(etcd_fresh_plain):
    """A leader change extends every lease: with a holder that may be dead (its lease running out), a move would
    delay the takeover of its key by seconds. The holders come from etcd's keys, not only from the caller."""
    cluster = etcd_fresh_plain
    endpoint, name = wait_until(lambda: leader_of(cluster)[0] and leader_of(cluster), 30, "an etcd leader")
    others = sorted(m.name for m in cluster.members if m.name != name)
    client = EtcdClient(cluster.endpoints, timeout=5)
    dying = client.lease_grant(1)[0]                  # a holder that stopped renewing: about to expire
    client.put("/kubeha/podmaster/kube-scheduler", others[0], lease=dying)
    avoider = LeaderAvoider(client, endpoint, interval=0, backoff=30,
                            keys=["/kubeha/podmaster/kube-scheduler", "/kubeha/podmaster/kube-controller-manager"], min_ttl=2)
    assert avoider.check(0.0, {name}) is None, "a lease with under 2 s left holds the move off"
    assert leader_of(cluster)[1] == name
    live = client.lease_grant(10)[0]                  # the key taken over by a live holder (others[0] again)
    client.put("/kubeha/podmaster/kube-scheduler", others[0], lease=live)
    done = avoider.check(1.0, {name})
    # others[0] holds a key in etcd (the caller did not say so): the leadership goes to the other master
    assert done and "to %s" % others[1] in done
    assert wait_until(lambda: leader_of(cluster)[1] == others[1], 15, "the leadership on %s" % others[1])


def test_no_move_within_the_quiet_time_after_a_leader_change(etcd_fresh_plain):
    """Right after an election a dead holder's lease was extended and looks live: no move for `quiet` seconds after
    the raft term last changed (a move is a leader change and would extend it once more)."""
    cluster = etcd_fresh_plain
    endpoint, name = wait_until(lambda: leader_of(cluster)[0] and leader_of(cluster), 30, "an etcd leader")
    avoider = LeaderAvoider(EtcdClient(cluster.endpoints, timeout=5), endpoint, interval=0, backoff=0, quiet=5)
    assert avoider.check(0.0, {name}) is None, "the term is new to it, as right after an election"
    assert avoider.check(4.9, {name}) is None
    done = avoider.check(5.1, {name})
    assert done and "moved etcd's leadership" in done
    new_endpoint, new_name = wait_until(lambda: leader_of(cluster)[1] not in (None, name) and leader_of(cluster), 15,
                                        "another leader")
    # the move itself is a leader change: a holder on the new leader waits its own quiet time too
    follower = LeaderAvoider(EtcdClient(cluster.endpoints, timeout=5), new_endpoint, interval=0, backoff=0, quiet=5)
    assert follower.check(100.0, {new_name}) is None
