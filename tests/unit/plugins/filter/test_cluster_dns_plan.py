"""kubeha.cluster.cluster_dns_plan: CoreDNS's objects and the kubectl calls, without Ansible."""

from __future__ import annotations

import json
import os
import re

import pytest
import yaml

from ansible_collections.kubeha.cluster.plugins.filter.addresses import service_address
from ansible_collections.kubeha.cluster.plugins.filter.cluster_dns_plan import FilterModule, cluster_dns_plan

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
TEMPLATED = {'cluster_dns_service_cidr': '10.96.0.0/12', 'cluster_dns_address': '10.96.0.10', 'cluster_dns_domain': 'cluster.local',
             'cluster_dns_api_server': 'https://10.0.0.10:8443', 'cluster_dns_ca_file': '/srv/kubernetes/ca.crt',
             'cluster_dns_cert_file': '/srv/kubernetes/kubecfg.crt', 'cluster_dns_key_file': '/srv/kubernetes/kubecfg.key'}
with open(os.path.join(ROOT, 'roles', 'cluster_dns', 'defaults', 'main.yml'), encoding='utf-8') as handle:
    DEFAULTS = dict(yaml.safe_load(handle), **TEMPLATED)


def plan(**change):
    return cluster_dns_plan(dict(DEFAULTS, **{'cluster_dns_' + k: v for k, v in change.items()}))


def objects(p):
    return {o['kind']: o for o in json.loads(p['manifest'])['items']}


def test_every_default_is_resolved_and_the_filter_is_registered():
    assert not [k for k, v in DEFAULTS.items() if '{{' in str(v)]
    assert FilterModule().filters()['cluster_dns_plan'] is cluster_dns_plan
    assert plan()['problems'] == []


def test_the_service_sits_on_the_cluster_dns_address_in_front_of_the_deployment():
    o = objects(plan())
    assert o['Service']['metadata']['name'] == 'kube-dns' and o['Service']['spec']['clusterIP'] == '10.96.0.10'
    assert o['Service']['spec']['selector'] == o['Deployment']['spec']['template']['metadata']['labels']
    assert o['Deployment']['spec']['replicas'] == 2
    container, = o['Deployment']['spec']['template']['spec']['containers']
    assert container['image'] == 'registry.k8s.io/coredns/coredns:v1.12.1'
    assert o['ClusterRoleBinding']['subjects'] == [{'kind': 'ServiceAccount', 'name': 'coredns', 'namespace': 'kube-system'}]
    assert 'kubernetes cluster.local in-addr.arpa ip6.arpa' in o['ConfigMap']['data']['Corefile']


def test_the_corefile_uses_only_plugins_the_local_coredns_build_has():
    with open(os.path.join(ROOT, 'scripts', 'images', 'coredns', 'main.go'), encoding='utf-8') as handle:
        directives = re.search(r'Directives = \[\]string\{(.*?)\}', handle.read(), re.S).group(1)
    built = set(re.findall(r'"([a-z_0-9]+)"', directives))
    used = {line.split()[0] for line in plan()['corefile'].splitlines()[1:] if line.startswith('    ') and not line.startswith('     ')}
    used -= {'}'}
    assert used and used <= built, used - built


def test_kubectl_compares_and_applies_server_side_through_the_balancer():
    p = plan()
    assert p['diff_argv'][:2] == ['/usr/local/bin/kubectl', '--server=https://10.0.0.10:8443']
    assert p['diff_argv'][-6:] == ['diff', '--server-side', '--field-manager=kubeha', '--force-conflicts', '-f', '-']
    assert p['apply_argv'][-6] == 'apply'
    assert p['rollout_argv'][-1] == '--timeout=180s'


@pytest.mark.parametrize('change, message', [
    ({'address': '10.100.0.10', 'service_cidr': '10.96.0.0/16'}, 'cluster_dns_address 10.100.0.10 is outside the service CIDR 10.96.0.0/16'),
    ({'replicas': 0}, 'cluster_dns_replicas is 0'),
    ({'image': ''}, 'cluster_dns_image is empty'),
])
def test_bad_settings_are_named(change, message):
    assert any(message in p for p in plan(**change)['problems'])


def test_the_cluster_dns_address_is_the_tenth_of_the_service_cidr():
    assert service_address('10.96.0.0/12', 10) == '10.96.0.10'
    assert service_address('fd00:10:96::/112', 10) == 'fd00:10:96::a'
    with pytest.raises(Exception, match='has no address number 300'):
        service_address('10.96.0.0/24', 300)
