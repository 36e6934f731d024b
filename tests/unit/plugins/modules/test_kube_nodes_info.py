"""kube_nodes_info: what a Node object says, and what is still missing while the module waits."""

from __future__ import annotations

from support.clock import Clock

from ansible_collections.kubeha.cluster.plugins.module_utils._kube import api
from ansible_collections.kubeha.cluster.plugins.module_utils._kube.api import ApiError, apiserver_versions, node_summary
from ansible_collections.kubeha.cluster.plugins.modules.kube_nodes_info import missing, poll

NODE = {'metadata': {'name': 'w1'}, 'spec': {'podCIDR': '10.244.1.0/24', 'podCIDRs': ['10.244.1.0/24']},
        'status': {'addresses': [{'type': 'Hostname', 'address': 'w1'}, {'type': 'InternalIP', 'address': '10.0.0.21'}],
                   'conditions': [{'type': 'MemoryPressure', 'status': 'False'}, {'type': 'Ready', 'status': 'True'}],
                   'nodeInfo': {'kubeletVersion': 'v1.35.4', 'containerRuntimeVersion': 'containerd://2.1.4'}}}


def test_a_node_is_summarised_with_its_address_pod_cidrs_readiness_and_kubelet_version():
    assert node_summary(NODE) == {'name': 'w1', 'address': '10.0.0.21', 'pod_cidrs': ['10.244.1.0/24'], 'ready': True,
                                  'kubelet_version': 'v1.35.4', 'unschedulable': False, 'cordoned_by': ''}
    fresh = {'metadata': {'name': 'w2'}, 'spec': {}, 'status': {'conditions': [{'type': 'Ready', 'status': 'False'}]}}
    assert node_summary(fresh) == {'name': 'w2', 'address': '', 'pod_cidrs': [], 'ready': False, 'kubelet_version': '',
                                   'unschedulable': False, 'cordoned_by': ''}
    cordoned = dict(NODE, metadata={'name': 'w1', 'annotations': {'kubeha.cluster/cordoned': 'kubelet v1.35.4'}},
                    spec=dict(NODE['spec'], unschedulable=True))
    assert node_summary(cordoned)['unschedulable'] is True and node_summary(cordoned)['cordoned_by'] == 'kubelet v1.35.4'


def test_each_apiservers_version_is_read_and_one_that_does_not_answer_is_reported(monkeypatch):
    asked = []

    def get_json(server, path, ca_file, cert_file, key_file, timeout=5.0):
        asked.append((server, path, ca_file, cert_file, key_file))
        if server.endswith('.13:6443'):
            raise ApiError('GET %s/version failed: [Errno 111] Connection refused' % server)
        return {'major': '1', 'minor': '35', 'gitVersion': 'v1.35.4'}

    monkeypatch.setattr(api, 'get_json', get_json)
    servers = ['https://10.0.0.11:6443', 'https://10.0.0.13:6443']
    assert apiserver_versions(servers, 'ca.crt', 'kubecfg.crt', 'kubecfg.key') == [
        {'server': servers[0], 'version': 'v1.35.4', 'error': ''},
        {'server': servers[1], 'version': '', 'error': 'GET https://10.0.0.13:6443/version failed: [Errno 111] Connection refused'}]
    assert asked == [(s, '/version', 'ca.crt', 'kubecfg.crt', 'kubecfg.key') for s in servers]


def test_missing_names_unregistered_nodes_and_those_without_a_pod_cidr():
    nodes = [node_summary(NODE), {'name': 'w2', 'address': '', 'pod_cidrs': [], 'ready': False, 'kubelet_version': '',
                                  'unschedulable': False, 'cordoned_by': ''}]
    assert missing(nodes, ['w1', 'w2', 'w3'], pod_cidrs=False) == ['Node w3 is not registered']
    assert missing(nodes, ['w1', 'w2', 'w3'], pod_cidrs=True) == ['Node w3 is not registered', 'Node w2 has no pod CIDR']
    assert missing(nodes, ['w1'], pod_cidrs=True) == []


def test_a_read_with_nothing_to_wait_for_gives_up_after_10_s_when_the_api_does_not_answer():
    clock, reads = Clock(), []

    def read():
        reads.append(clock.now)
        raise ApiError('GET https://10.0.0.10:8443/api/v1/nodes failed: [Errno 111] Connection refused')

    nodes, problems = poll(read, [], False, 120, clock=clock, sleep=clock.sleep)
    assert nodes == [] and problems == ['after 10 s: GET https://10.0.0.10:8443/api/v1/nodes failed: [Errno 111] Connection refused']
    assert len(reads) == 11 and clock.now == 10


def test_a_wait_for_named_nodes_polls_until_they_register_or_the_timeout():
    clock = Clock()
    late = node_summary(dict(NODE, metadata={'name': 'w2'}))

    def read():   # w2 registers after 30 s; the API fails once on the way
        if clock.now == 5:
            raise ApiError('GET https://10.0.0.10:8443/api/v1/nodes failed: timed out')
        return [node_summary(NODE)] + ([late] if clock.now >= 30 else [])

    nodes, problems = poll(read, ['w1', 'w2'], True, 120, clock=clock, sleep=clock.sleep)
    assert problems == [] and [n['name'] for n in nodes] == ['w1', 'w2'] and clock.now == 30
    clock.now = 0
    nodes, problems = poll(read, ['w1', 'w3'], False, 20, clock=clock, sleep=clock.sleep)
    assert problems == ['after 20 s: Node w3 is not registered'] and [n['name'] for n in nodes] == ['w1']


def test_credentials_the_api_refuses_end_the_poll_at_once():
    clock = Clock()

    def read():
        raise ApiError('GET https://10.0.0.10:8443/api/v1/nodes answered HTTP 401 Unauthorized', 401)

    assert poll(read, ['w1'], False, 120, clock=clock, sleep=clock.sleep) == (
        [], ['GET https://10.0.0.10:8443/api/v1/nodes answered HTTP 401 Unauthorized'])
    assert clock.now == 0
