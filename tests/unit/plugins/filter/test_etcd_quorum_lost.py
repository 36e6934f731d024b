"""The etcd role's refusal when the data of a majority of the members is gone: who lacks it, the newest snapshot, the restore."""

from __future__ import annotations

from ansible_collections.kubeha.cluster.plugins.filter.etcd_plan import FilterModule, etcd_quorum_lost

HOSTS = ["h1", "h2", "h3"]
HOSTVARS = {h: {"_etcd_member": {"name": "etcd-" + h[1]}} for h in HOSTS}
DOWN = {"failed": True, "msg": "no endpoint answered"}


def test_registered():
    assert FilterModule().filters()["etcd_quorum_lost"] is etcd_quorum_lost


def test_two_of_three_without_data_names_them_the_newest_snapshot_and_the_restore():
    hostvars = dict(HOSTVARS, h1=dict(HOSTVARS["h1"], _etcd_snapshots_left={"files": [
        {"path": "/var/lib/kubeha/etcd-snapshots/etcd-snapshot-20261204T060000.000Z-r90.db", "mtime": 10.0},
        {"path": "/var/lib/kubeha/etcd-snapshots/etcd-snapshot-20261204T120000.000Z-r99.db", "mtime": 20.0}]}))
    lines = etcd_quorum_lost(DOWN, ["h1"], HOSTS, hostvars, inventory="/inv/hosts.yml")
    assert lines[0] == ("etcd cannot come back by itself: 2 of its 3 members hold no data (etcd-2, etcd-3), a quorum needs 2, and "
                        "only etcd-1 holds data; members without data cannot join a cluster that has no leader. Nothing was changed.")
    assert lines[2] == ("the newest snapshot on the members is /var/lib/kubeha/etcd-snapshots/etcd-snapshot-20261204T120000.000Z-r99.db "
                        "on h1; copy it to the controller: ansible -i /inv/hosts.yml h1 -m ansible.builtin.fetch -a "
                        "'src=/var/lib/kubeha/etcd-snapshots/etcd-snapshot-20261204T120000.000Z-r99.db dest=/backups/etcd/ flat=true'")
    assert lines[3] == ("then: ansible-playbook -i /inv/hosts.yml playbooks/etcd-restore.yml -e etcd_restore_snapshot="
                        "/backups/etcd/etcd-snapshot-20261204T120000.000Z-r99.db -e etcd_restore_confirm="
                        "etcd-snapshot-20261204T120000.000Z-r99.db")


def test_without_a_snapshot_on_the_members_the_copies_elsewhere_are_named():
    lines = etcd_quorum_lost(DOWN, ["h1"], HOSTS, HOSTVARS, snapshots=[])
    assert "no snapshot was found on the members that hold data" in lines[-1] and "etcd-restore.yml" in lines[-1]


def test_a_cluster_that_can_come_back_is_not_refused():
    # a majority with data (stopped members are started by the run)
    assert etcd_quorum_lost(DOWN, ["h1", "h2"], HOSTS, HOSTVARS) == []
    # a new cluster
    assert etcd_quorum_lost({"skipped": True}, [], HOSTS, HOSTVARS) == []
    # a healthy majority answered (members grown in the inventory: they join)
    five = {"members": [{}] * 3, "healthy_count": 3}
    assert etcd_quorum_lost(five, ["h1", "h2", "h3"], HOSTS + ["h4", "h5"], HOSTVARS) == []


def test_the_running_clusters_size_counts_when_it_answered():
    # five members in the running cluster, the group already shrunk to three: one with data is not a quorum of five
    info = {"members": [{}] * 5, "healthy_count": 1}
    lines = etcd_quorum_lost(info, ["h1"], HOSTS, HOSTVARS, snapshots=[])
    assert "2 of its 5 members hold no data" in lines[0] and "a quorum needs 3" in lines[0]
