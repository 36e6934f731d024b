"""kubeha.cluster.site_path: site.yml's fast path or every stage, and the line that says why.

Molecule default runs it end to end (the converged re-run takes the fast path; the drift run names each drift).
"""

from __future__ import annotations

import pytest

from ansible_collections.kubeha.cluster.plugins.filter.site_path import CONVERGED, FilterModule, site_path

OK = {'converged': True, 'drift': [], 'written': '2026-12-01T00:00:00Z'}
MODE = {'converged': False, 'drift': ['/srv/kubernetes/server.key: mode is 0644, 0600 recorded']}
THREE = {'converged': False, 'drift': ['kube-proxy.service: inactive, started recorded', 'b', 'c']}
SKIPPED = {'changed': False, 'skipped': True, 'skip_reason': 'Conditional result was False'}
HOSTS = ['m1', 'm2', 'w1']


def hostvars(**records):
    return {h: ({'_kubeha_converged': records[h]} if h in records else {}) for h in HOSTS}


def test_the_filter_is_registered():
    assert set(FilterModule().filters()) == {'site_path'}


def test_every_host_converged_takes_the_fast_path():
    assert site_path(HOSTS, hostvars(m1=OK, m2=OK, w1=OK)) == {'converged': True, 'message': CONVERGED}
    # no host in the play: nothing to run either (the template's count compared 0 with 0)
    assert site_path([], {})['converged'] is True


def test_each_drifted_host_is_named_with_its_first_reason_and_how_many_more():
    path = site_path(HOSTS, hostvars(m1=OK, m2=MODE, w1=THREE))
    assert path == {'converged': False, 'message': 'Every stage runs on every host. m2: /srv/kubernetes/server.key: mode is 0644, '
                                                   '0600 recorded. w1: kube-proxy.service: inactive, started recorded (and 2 more).'}


@pytest.mark.parametrize('record', [None, SKIPPED, {'converged': False}, {'failed': True, 'msg': 'unreachable'}, 'text'])
def test_a_host_whose_record_was_not_read_says_so(record):
    records = {'m1': OK, 'm2': OK} if record is None else {'m1': OK, 'm2': OK, 'w1': record}
    assert site_path(HOSTS, hostvars(**records)) == {'converged': False, 'message': 'Every stage runs on every host. w1: not read.'}


@pytest.mark.parametrize('off', [False, 'false', 'no'])
def test_the_fast_path_turned_off_runs_every_stage_even_when_converged(off):
    assert site_path(HOSTS, hostvars(m1=OK, m2=OK, w1=OK), fast_path=off) == {
        'converged': False, 'message': 'Every stage runs (kubeha_site_fast_path is false).'}


def test_the_hosts_are_named_in_the_plays_order():
    message = site_path(['w1', 'm2'], hostvars(m2=MODE, w1=THREE))['message']
    assert message.index(' w1: ') < message.index(' m2: ')
