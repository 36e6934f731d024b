"""kubeha.cluster node_address, node_addresses, url_host, etcd_client_urls: one address rule for every role."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.kubeha.cluster.plugins.filter.addresses import FilterModule, etcd_client_urls, node_address, node_addresses, url_host

HOSTVARS = {
    'm1': {'kubeha_node_ip': '10.0.0.11', 'ansible_facts': {'default_ipv4': {'address': '192.168.1.1'}}},
    'm2': {'kubeha_node_ip': '', 'ansible_facts': {'default_ipv4': {'address': '10.0.0.12'}}},
    'm3': {'ansible_facts': {'default_ipv4': {}, 'all_ipv4_addresses': ['10.0.0.13', '172.17.0.1']}},
    'v6': {'kubeha_node_ip': 'fd00::14', 'etcd_client_port': 12379},
    'bare': {},
}


def test_kubeha_node_ip_first_then_the_default_address_then_the_first_address():
    assert [node_address(h, HOSTVARS) for h in ['m1', 'm2', 'm3', 'v6']] == ['10.0.0.11', '10.0.0.12', '10.0.0.13', 'fd00::14']


def test_a_host_without_any_address_or_unknown_gets_an_empty_one():
    assert node_address('bare', HOSTVARS) == '' and node_address('nowhere', HOSTVARS) == ''


def test_addresses_by_host_in_the_given_order():
    assert list(node_addresses(['m3', 'm1'], HOSTVARS).items()) == [('m3', '10.0.0.13'), ('m1', '10.0.0.11')]
    with pytest.raises(AnsibleFilterError, match="expected a list of host names"):
        node_addresses('m1', HOSTVARS)


def test_ipv6_goes_in_brackets_once():
    assert url_host('fd00::14') == '[fd00::14]' and url_host('[fd00::14]') == '[fd00::14]'
    assert url_host('10.0.0.1') == '10.0.0.1' and url_host('m1.example') == 'm1.example'


def test_etcd_urls_with_each_members_own_port():
    assert etcd_client_urls(['m1', 'v6'], HOSTVARS) == ['https://10.0.0.11:2379', 'https://[fd00::14]:12379']
    assert etcd_client_urls(['m2'], HOSTVARS, scheme='http') == ['http://10.0.0.12:2379']
    assert set(FilterModule().filters()) == {'node_address', 'node_addresses', 'url_host', 'etcd_client_urls', 'service_address'}
