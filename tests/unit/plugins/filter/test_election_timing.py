"""kubeha.cluster.election_timing filter: the role refuses what podmaster and client-go would refuse."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.kubeha.cluster.plugins.filter.election_timing import FilterModule, election_timing

DEFAULTS = {'ttl': 4, 'renew_interval': 1, 'margin': 2, 'poll_interval': 0.25, 'timeout': 0.75, 'watchdog': 1,
            'stop_timeout': 0.5}
LEASE = {'lease_duration': 2, 'renew_deadline': 1.5, 'retry_period': 0.5}


def test_the_role_defaults_are_safe():
    assert election_timing(DEFAULTS, leader_elect=LEASE) == []
    assert FilterModule().filters()['election_timing'] is election_timing


def test_a_watchdog_fence_slower_than_the_margin_is_refused_naming_the_variables():
    (problem,) = election_timing(dict(DEFAULTS, watchdog='1.6'))
    assert problem.startswith('podmaster timing (control_plane_podmaster_*): watchdog (1.6s) + stop_timeout (0.5s) '
                              'must be below margin (2s)')


@pytest.mark.parametrize('change, words', [
    ({'ttl': 1}, 'ttl must be at least 2 seconds'),
    ({'renew_interval': 1.5}, 'renew_interval (1.5s) + timeout (0.75s) must be below ttl - margin (2s)'),
    ({'stop_timeout': 1}, 'stop_timeout (1s) must be below half the margin (2s)'),
    ({'margin': 4}, 'margin (4s) must be smaller than ttl (4s)'),
])
def test_unsafe_podmaster_timing(change, words):
    assert any(words in p for p in election_timing(dict(DEFAULTS, **change)))


def test_leader_election_rules_of_client_go_and_the_ttl():
    bad = election_timing(DEFAULTS, leader_elect=dict(LEASE, renew_deadline=0.5))
    assert bad and 'client-go needs lease duration > renew deadline > 1.2 x retry period > 0' in bad[0]
    assert 'renew deadline 0.5 s' in bad[0]
    slow = election_timing(DEFAULTS, leader_elect=dict(LEASE, lease_duration=4, renew_deadline=3))
    assert slow == ["control_plane_leader_elect_lease_duration is 4 s, not less than podmaster's TTL (4 s): after a holder "
                    "dies, the new holder's components would wait for the dead one's Lease. Make it shorter than "
                    "control_plane_podmaster_ttl."]
    # builtin election: podmaster's settings do not matter, the TTL rule neither
    assert election_timing(dict(DEFAULTS, ttl=1), leader_elect=dict(LEASE, lease_duration=15, renew_deadline=10),
                           podmaster=False) == []


def test_garbage_names_the_variable():
    with pytest.raises(AnsibleFilterError, match=r"control_plane_podmaster_margin must be a number of seconds, got 'soon'"):
        election_timing(dict(DEFAULTS, margin='soon'))
    with pytest.raises(AnsibleFilterError, match='expected a dict'):
        election_timing(['ttl'])
