"""kubeha.cluster.pod_network_plan: the checks, the CNI configuration and the routes of one node, without Ansible."""

from __future__ import annotations

import json
import os

import pytest
import yaml
from ansible.errors import AnsibleFilterError

from ansible_collections.kubeha.cluster.plugins.filter.pod_network_plan import FilterModule, pod_network_plan

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
TEMPLATED = {'pod_network_mode': 'routes', 'pod_network_cidr': '10.244.0.0/16', 'pod_network_service_cidr': '10.96.0.0/12',
             'pod_network_node_addresses': {'m1': '10.0.0.11', 'w1': '10.0.0.21'}, 'pod_network_node_name': 'w1',
             'pod_network_api_server': 'https://10.0.0.10:8443', 'pod_network_ca_file': '/srv/kubernetes/ca.crt',
             'pod_network_cert_file': '/srv/kubernetes/kube-proxy.crt', 'pod_network_key_file': '/srv/kubernetes/kube-proxy.key'}
with open(os.path.join(ROOT, 'roles', 'pod_network', 'defaults', 'main.yml'), encoding='utf-8') as handle:
    DEFAULTS = dict(yaml.safe_load(handle), **TEMPLATED)
NODES = [{'name': 'm1', 'address': '10.0.0.11', 'pod_cidrs': ['10.244.0.0/24'], 'ready': True},
         {'name': 'm2', 'address': '10.0.0.12', 'pod_cidrs': ['10.244.2.0/24', 'fd00::/64'], 'ready': True},
         {'name': 'w1', 'address': '10.0.0.21', 'pod_cidrs': ['10.244.1.0/24'], 'ready': False}]


def plan(nodes=None, **change):
    return pod_network_plan(dict(DEFAULTS, **{'pod_network_' + k: v for k, v in change.items()}), nodes=nodes)


def test_every_default_is_resolved_and_the_filter_is_registered():
    assert not [k for k, v in DEFAULTS.items() if '{{' in str(v)]
    assert FilterModule().filters()['pod_network_plan'] is pod_network_plan
    assert plan() == {'problems': []}


@pytest.mark.parametrize('change, message', [
    ({'cidr': '10.96.0.0/16'}, 'pod_network_cidr 10.96.0.0/16 overlaps the service CIDR 10.96.0.0/12'),
    ({'cidr': '10.0.0.0/16'}, 'pod_network_cidr 10.0.0.0/16 holds the address 10.0.0.11 of node m1'),
    ({'cidr': '10.244.0.1/16'}, "pod_network_cidr is '10.244.0.1/16': not a network"),
    ({'mode': 'flannel'}, "pod_network_mode is 'flannel': use routes"),
])
def test_bad_settings_are_named_with_the_value_and_the_fix(change, message):
    problems = plan(**change)['problems']
    assert any(message in p for p in problems), problems


def test_the_node_bridges_its_own_pod_cidr_and_routes_the_others_through_their_nodes():
    p = plan(NODES)
    assert p['pod_cidr'] == '10.244.1.0/24'
    assert p['routes'] == [['10.244.0.0/24', '10.0.0.11'], ['10.244.2.0/24', '10.0.0.12']]
    bridge = p['conflist']['plugins'][0]
    assert bridge['type'] == 'bridge' and bridge['bridge'] == 'cni0' and bridge['isGateway']
    assert bridge['ipam'] == {'type': 'host-local', 'ranges': [[{'subnet': '10.244.1.0/24'}]], 'routes': [{'dst': '0.0.0.0/0'}]}
    files = {f['path']: f for f in p['files']}
    assert json.loads(files['/etc/cni/net.d/10-kubeha.conflist']['content']) == p['conflist']
    assert json.loads(files['/etc/kubeha/pod-routes.json']['content'])['routes'] == p['routes']
    # a changed route list or script re-applies the routes; the unit checks them as its health
    assert files['/etc/kubeha/pod-routes.json']['restarts'] == ['kubeha-pod-network']
    unit, = p['units']
    assert unit['health']['command'][-2:] == ['check', '/etc/kubeha/pod-routes.json']


def test_a_node_without_a_pod_cidr_fails_naming_it():
    with pytest.raises(AnsibleFilterError, match='Node w1 has no pod CIDR'):
        plan([dict(NODES[2], pod_cidrs=[])])


def test_mode_none_lays_out_nothing():
    assert plan(NODES, mode='none') == {'problems': []}
