"""kube_version_change: which changes of kubeha_kubernetes_version Kubernetes supports on a running cluster."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.kubeha.cluster.plugins.filter.kube_version_change import kube_version_change

MASTERS = ['m1', 'm2', 'm3']


def read(*versions, kubelets=None, failed=False):
    """A kube_nodes_info result: each master's apiserver ('' = did not answer) and each Node's kubelet."""
    result = {'apiservers': [{'server': 'https://10.0.0.1%d:6443' % i, 'version': ('v' + v) if v else '', 'error': '' if v else 'refused'}
                             for i, v in enumerate(versions, 1)]}
    if failed:
        result.update(failed=True, msg='kube_nodes_info: ...')
    else:
        result['nodes'] = [{'name': n, 'kubelet_version': 'v' + v} for n, v in (kubelets or {}).items()]
    return result


def test_a_patch_change_either_way_and_the_next_minor_release_are_supported():
    for target in ('1.35.4', '1.35.6', '1.35.1', '1.36.0'):
        assert kube_version_change(read('1.35.4', '1.35.4', '1.35.4'), target, hosts=MASTERS)['problems'] == [], target
    same = kube_version_change(read('1.35.4', '1.35.4', '1.35.4', kubelets={'m1': '1.35.4', 'w1': '1.35.4'}), '1.35.4', hosts=MASTERS)
    assert same == {'read': True, 'apiservers': {'m1': '1.35.4', 'm2': '1.35.4', 'm3': '1.35.4'},
                    'kubelets': {'m1': '1.35.4', 'w1': '1.35.4'}, 'changing': False, 'minor_upgrade': False, 'problems': []}
    minor = kube_version_change(read('1.35.4', '1.35.4', '1.35.4'), '1.36.3', hosts=MASTERS)
    assert minor['changing'] and minor['minor_upgrade']
    patch = kube_version_change(read('1.35.4', '1.35.4', '1.35.4'), '1.35.6', hosts=MASTERS)
    assert patch['changing'] and not patch['minor_upgrade']


def test_a_skipped_minor_release_is_refused_with_each_step_named():
    problems = kube_version_change(read('1.34.4', '1.34.4', '1.34.4'), '1.36.3', hosts=MASTERS)['problems']
    assert problems == [
        'kubeha_kubernetes_version 1.36.3 skips 1.35: kube-apiserver 1.34.4 runs on m1, m2, m3, and Kubernetes upgrades one '
        'minor release at a time. Run site.yml with kubeha_kubernetes_version set to a 1.35 release first, then 1.36.3.']
    two = kube_version_change(read('1.34.4', '1.34.4', '1.34.4'), '1.37.2', hosts=MASTERS)['problems'][0]
    assert 'skips 1.35 and 1.36' in two and 'set to a 1.35 release first, then a 1.36 release, then 1.37.2.' in two


def test_an_upgrade_half_done_is_completed_but_not_taken_further():
    half = read('1.36.3', '1.35.4', '1.35.4')
    assert kube_version_change(half, '1.36.3', hosts=MASTERS)['problems'] == []
    further = kube_version_change(half, '1.37.2', hosts=MASTERS)['problems']
    assert len(further) == 1 and 'skips 1.36: kube-apiserver 1.35.4 runs on m2, m3' in further[0]


def test_a_downgrade_to_an_older_minor_release_is_refused_a_patch_downgrade_is_not():
    problems = kube_version_change(read('1.35.4', '1.35.4', '1.36.3'), '1.35.4', hosts=MASTERS)['problems']
    assert len(problems) == 1
    assert problems[0].startswith('kubeha_kubernetes_version 1.35.4 is a downgrade to an older minor release: '
                                  'kube-apiserver 1.36.3 runs on m3. Kubernetes does not support it')
    assert 'Stay on 1.36' in problems[0] and 'restore etcd from a snapshot taken before the upgrade' in problems[0]
    assert kube_version_change(read('1.36.3', '1.36.3', '1.36.3'), '1.36.1', hosts=MASTERS)['problems'] == []
    assert 'change of major release' in kube_version_change(read('1.35.4'), '2.0.0')['problems'][0]


def test_kubelets_more_than_three_minor_releases_behind_the_target_are_refused():
    nodes = {'m1': '1.35.4', 'w1': '1.32.9', 'w2': '1.33.0'}
    assert kube_version_change(read('1.35.4', kubelets=nodes), '1.36.0', hosts=MASTERS)['problems'] == [
        'kubeha_kubernetes_version 1.36.0: the kubelets of w1 run 1.32.9, more than 3 minor releases older, which '
        'kube-apiserver 1.36 does not support (the version skew policy). Move them to 1.33 or later first.']
    assert kube_version_change(read('1.35.4', kubelets=nodes), '1.35.6', hosts=MASTERS)['problems'] == []


def test_no_cluster_read_refuses_nothing_and_silent_apiservers_do_not_count():
    for nothing in (None, {}, 'skipped', read(failed=True), read('', '', '')):
        verdict = kube_version_change(nothing, '1.37.2', hosts=MASTERS)
        assert verdict == {'read': False, 'apiservers': {}, 'kubelets': {}, 'changing': False, 'minor_upgrade': False,
                           'problems': []}, nothing
    # the Nodes could not be listed (the module failed), yet the apiservers answered: still checked
    assert kube_version_change(read('1.34.4', '', '', failed=True), '1.36.3', hosts=MASTERS)['problems'][0].startswith(
        'kubeha_kubernetes_version 1.36.3 skips 1.35: kube-apiserver 1.34.4 runs on m1,')
    # without hosts, the URL names the apiserver
    assert 'runs on https://10.0.0.11:6443,' in kube_version_change(read('1.34.4'), '1.36.3')['problems'][0]


def test_a_target_that_is_no_release_is_an_error():
    with pytest.raises(AnsibleFilterError, match="target 'latest' is not a release like 1.35.4"):
        kube_version_change(read('1.35.4'), 'latest')
