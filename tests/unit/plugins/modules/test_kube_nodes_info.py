"""kube_nodes_info: what a Node object says, and what is still missing while the module waits."""

from __future__ import annotations

from ansible_collections.kubeha.cluster.plugins.module_utils._kube.api import node_summary
from ansible_collections.kubeha.cluster.plugins.modules.kube_nodes_info import missing

NODE = {'metadata': {'name': 'w1'}, 'spec': {'podCIDR': '10.244.1.0/24', 'podCIDRs': ['10.244.1.0/24']},
        'status': {'addresses': [{'type': 'Hostname', 'address': 'w1'}, {'type': 'InternalIP', 'address': '10.0.0.21'}],
                   'conditions': [{'type': 'MemoryPressure', 'status': 'False'}, {'type': 'Ready', 'status': 'True'}]}}


def test_a_node_is_summarised_with_its_address_pod_cidrs_and_readiness():
    assert node_summary(NODE) == {'name': 'w1', 'address': '10.0.0.21', 'pod_cidrs': ['10.244.1.0/24'], 'ready': True}
    fresh = {'metadata': {'name': 'w2'}, 'spec': {}, 'status': {'conditions': [{'type': 'Ready', 'status': 'False'}]}}
    assert node_summary(fresh) == {'name': 'w2', 'address': '', 'pod_cidrs': [], 'ready': False}


def test_missing_names_unregistered_nodes_and_those_without_a_pod_cidr():
    nodes = [node_summary(NODE), {'name': 'w2', 'address': '', 'pod_cidrs': [], 'ready': False}]
    assert missing(nodes, ['w1', 'w2', 'w3'], pod_cidrs=False) == ['Node w3 is not registered']
    assert missing(nodes, ['w1', 'w2', 'w3'], pod_cidrs=True) == ['Node w3 is not registered', 'Node w2 has no pod CIDR']
    assert missing(nodes, ['w1'], pod_cidrs=True) == []
