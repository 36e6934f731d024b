"""Quorum verdicts and cluster_info against real etcd."""

from __future__ import annotations

import pytest

from ansible_collections.kubeha.cluster.plugins.module_utils._etcd.client import EtcdClient
from ansible_collections.kubeha.cluster.plugins.module_utils._etcd.health import cluster_info, describe, quorum_verdict


@pytest.mark.parametrize("healthy,size,quorum,needed,tolerance", [
    (3, 3, True, 2, 1),
    (2, 3, True, 2, 0),
    (1, 3, False, 2, 0),
    (3, 5, True, 3, 0),
    (2, 5, False, 3, 0),
    (1, 1, True, 1, 0),
    (0, 1, False, 1, 0),
    (2, 4, False, 3, 0),
    (0, 0, False, 1, 0),
])
def test_quorum_verdict(healthy, size, quorum, needed, tolerance):
    verdict = quorum_verdict(healthy, size)
    assert verdict == {"healthy_count": healthy, "member_count": size, "quorum_size": needed, "quorum": quorum,
                       "failure_tolerance": tolerance}


def test_cluster_info_healthy(etcd_any):
    args = etcd_any.connection_args()
    info = cluster_info(EtcdClient(args.pop("endpoints"), **args))
    assert info["quorum"] and info["healthy_count"] == 3 and info["member_count"] == 3 and info["down"] == []
    assert info["leader"] in {"etcd1", "etcd2", "etcd3"}
    assert sum(1 for e in info["endpoints"] if e["is_leader"]) == 1
    assert "3/3 voting members healthy" in describe(info)
