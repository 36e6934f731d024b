"""kubeha.cluster.pending_restarts filter: the hosts a rolling restart visits."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.kubeha.cluster.plugins.filter.pending_restarts import FilterModule, pending_restarts

HOSTVARS = {
    'm1': {'_r': {'restart_pending': ['kubelet']}},
    'm2': {'_r': {'restart_pending': []}},
    'm3': {'_r': {'restart_pending': ['kubelet'], 'changed': True}},
    'w1': {'_r': {'skipped': True}},
    'w2': {},
}


def test_play_order_and_only_hosts_with_pending_restarts():
    assert pending_restarts(['m3', 'm2', 'm1', 'w1', 'w2'], HOSTVARS, '_r') == ['m3', 'm1']
    assert pending_restarts(['m1', 'm3'], HOSTVARS, '_r', only=['m3', 'w1']) == ['m3']
    assert pending_restarts([], HOSTVARS, '_r') == []
    assert FilterModule().filters()['pending_restarts'] is pending_restarts


def test_a_host_missing_from_hostvars_is_not_restarted():
    assert pending_restarts(['gone', 'm1'], HOSTVARS, '_r') == ['m1']


def test_not_a_host_list():
    with pytest.raises(AnsibleFilterError, match='expected a list of host names'):
        pending_restarts('m1', HOSTVARS, '_r')
