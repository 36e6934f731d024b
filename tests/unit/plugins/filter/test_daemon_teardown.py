"""kubeha.cluster.daemon_teardown: the units to stop and the files to remove that undo a daemon call's plan."""

from __future__ import annotations

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.kubeha.cluster.plugins.filter.daemon_teardown import FilterModule, daemon_teardown


def test_systemd_units_in_order_and_written_files_only():
    plan = {
        'files': [
            {'path': '/etc/kubernetes/apiserver', 'state': 'directory', 'mode': '0700'},
            {'path': '/etc/kubernetes/apiserver/audit-policy.yaml', 'template': 'audit-policy.yaml.j2'},
            {'path': '/etc/kubernetes/apiserver/authentication-config.yaml', 'state': 'absent'},
            {'path': '/var/log/kube-apiserver-audit.log', 'state': 'touch'},
            {'path': '/etc/systemd/system/kube-apiserver.service', 'template': 'kube-apiserver.service.j2'},
            {'path': '/etc/kubernetes/apiserver/audit-policy.yaml', 'content': 'again'},
        ],
        'units': [{'name': 'kube-scheduler', 'enabled': True}, {'name': 'podmaster', 'kind': 'systemd'}, {'name': 'kube-scheduler'}],
    }
    assert daemon_teardown(plan) == {
        'daemons': [{'name': 'kube-scheduler'}, {'name': 'podmaster'}],
        'files': ['/etc/kubernetes/apiserver/audit-policy.yaml', '/etc/systemd/system/kube-apiserver.service']}
    assert FilterModule().filters()['daemon_teardown'] is daemon_teardown


def test_a_static_pod_goes_with_its_staged_source_and_manifest():
    plan = {'files': [{'path': '/srv/kubernetes/kube-scheduler.yaml', 'template': 'component-pod.yaml.j2'}],
            'units': [{'name': 'kube-scheduler', 'kind': 'static_pod', 'source': '/srv/kubernetes/kube-scheduler.yaml',
                       'manifest': '/etc/kubernetes/manifests/kube-scheduler.yaml'}]}
    assert daemon_teardown(plan) == {
        'daemons': [], 'files': ['/srv/kubernetes/kube-scheduler.yaml', '/etc/kubernetes/manifests/kube-scheduler.yaml']}


@pytest.mark.parametrize('plan', [None, [], {'files': 'x'}, {'units': {}}])
def test_not_a_plan_is_refused(plan):
    with pytest.raises(AnsibleFilterError, match='daemon_teardown: expected a role.s plan'):
        daemon_teardown(plan)
