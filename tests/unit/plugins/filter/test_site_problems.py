"""kubeha.cluster.site_problems: what playbooks/site.yml refuses across the roles, before any host is contacted.

Every check, with the message a user reads; site.yml's first play running it on bad inventories is tested in
tests/unit/playbooks/test_site_validation.py.
"""

from __future__ import annotations

import pytest

from ansible_collections.kubeha.cluster.plugins.filter.site_problems import FilterModule, site_problems

GROUPS = {'etcd': ['m1', 'm2', 'm3'], 'masters': ['m1', 'm2', 'm3'], 'workers': ['w1'], 'loadbalancers': ['m1', 'm2']}
HOSTVARS = {'m1': {'kubeha_node_ip': '10.0.0.1'}, 'm2': {'kubeha_node_ip': '10.0.0.2'}, 'm3': {'kubeha_node_ip': '10.0.0.3'},
            'w1': {'kubeha_node_ip': '10.0.0.4'}}


def problems(groups=None, hostvars=None, **change):
    args = dict(lb_address='10.0.0.100', mode='host', kubernetes_version='1.35.4')
    args.update(change)
    return site_problems(dict(GROUPS, **(groups or {})), dict(HOSTVARS, **(hostvars or {})), **args)


def test_the_filter_is_registered():
    assert set(FilterModule().filters()) == {'site_problems'}


def test_a_usable_inventory_has_no_problem():
    assert problems() == []
    # facts instead of kubeha_node_ip, an external balancer with no loadbalancers group, one etcd member, a v-prefixed release
    assert problems(groups={'etcd': ['m1'], 'loadbalancers': []}, loadbalancer_mode='external', kubernetes_version='v1.34.3',
                    hostvars={'w1': {'ansible_facts': {'default_ipv4': {'address': '10.0.0.4'}}}}) == []


def test_the_groups():
    assert problems(groups={'masters': []}) == [
        "group 'masters' (or kubespray's 'kube_control_plane') has no hosts: put the hosts that run the apiservers in it."]
    assert problems(groups={'etcd': ['m1', 'm2']}) == [
        "group 'etcd' has 2 hosts (m1, m2): etcd needs 1, 3, 5 or 7 members (an odd count, so that a majority survives failures); "
        "add or remove hosts."]
    assert problems(groups={'loadbalancers': []}) == [
        "group 'loadbalancers' has no hosts: put the hosts that run haproxy and keepalived in it (the masters will do), or set "
        "loadbalancer_mode: external."]
    # kubespray's inventories without an etcd group (before groups.yml maps them): named, not a crash
    assert problems(groups={'etcd': None})[0].startswith("group 'etcd' has 0 hosts ()")


@pytest.mark.parametrize('ip, expected', [
    ('', 'w1: no address: set kubeha_node_ip for w1 in the inventory (its cluster address).'),
    ('node-four', "w1: kubeha_node_ip 'node-four' is not an IPv4 or IPv6 address: set it to w1's cluster address."),
    ('127.0.0.1', "w1: kubeha_node_ip '127.0.0.1' is a loopback or wildcard address the other hosts cannot reach: set it to w1's "
                  "cluster address."),
])
def test_each_hosts_address(ip, expected):
    assert problems(hostvars={'w1': {'kubeha_node_ip': ip}}) == [expected]


def test_addresses_used_twice_and_the_vip():
    assert problems(hostvars={'w1': {'kubeha_node_ip': '10.0.0.1'}}) == [
        'address 10.0.0.1 is used by m1, w1: every host needs its own kubeha_node_ip.']
    assert problems(lb_address='10.0.0.2') == [
        "kubeha_lb_address 10.0.0.2 is also the address of m2: the VIP must be a free address on the masters' subnet."]
    assert problems(lb_address='') == [
        "kubeha_lb_address is not set: set it to the apiservers' load-balanced address (a free IP for the keepalived VIP, or your "
        "external balancer's address)."]


def test_the_mode_and_the_release():
    assert problems(mode='docker') == ["kubeha_mode is 'docker': use host (systemd units) or static_pod (manifests for the kubelet)."]
    assert problems(kubernetes_version='1.35') == ["kubeha_kubernetes_version is '1.35': use a release like 1.35.4."]
