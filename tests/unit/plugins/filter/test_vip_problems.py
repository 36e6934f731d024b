"""kubeha.cluster.vip_problems filter: a VIP keepalived can hold on these balancers."""

from __future__ import annotations

from ansible_collections.kubeha.cluster.plugins.filter.vip_problems import FilterModule, vip_problems

MASTERS = {'m1': '10.0.0.11', 'm2': '10.0.0.12', 'm3': '10.0.0.13'}


def test_a_vip_in_the_masters_subnet_fits():
    assert vip_problems('10.0.0.10', 24, MASTERS) == []
    assert vip_problems('10.0.0.10', 32, MASTERS) == []
    assert FilterModule().filters()['vip_problems'] is vip_problems


def test_a_vip_outside_the_masters_subnet_is_refused_with_the_subnet_named():
    (problem,) = vip_problems('10.0.1.10', 24, MASTERS)
    assert problem.startswith('loadbalancer_address 10.0.1.10/24 spans 10.0.1.0/24, which does not hold '
                              'm1 (10.0.0.11), m2 (10.0.0.12), m3 (10.0.0.13)')
    (one,) = vip_problems('10.0.0.130', 25, dict(MASTERS, m3='10.0.0.200'))
    assert 'spans 10.0.0.128/25, which does not hold m1 (10.0.0.11), m2 (10.0.0.12):' in one


def test_wrong_family_taken_address_and_garbage():
    assert 'is IPv6 but m1, m2, m3 are IPv4' in vip_problems('fd00::10', 64, MASTERS)[0]
    assert 'is the address of m2 itself' in vip_problems('10.0.0.12', 24, MASTERS)[0]
    assert 'not an IP address' in vip_problems('api.example.com', 24, MASTERS)[0]
    assert 'not a prefix length' in vip_problems('10.0.0.10', 'wide', MASTERS)[0]
    assert 'not a prefix length' in vip_problems('10.0.0.10', 33, MASTERS)[0]
