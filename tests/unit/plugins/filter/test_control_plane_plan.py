"""kubeha.cluster.control_plane_plan, podmaster_statuses and podmaster_report: the control_plane role's logic, without Ansible."""

from __future__ import annotations

import json
import os
import shlex

import pytest
import yaml
from ansible.errors import AnsibleFilterError

from ansible_collections.kubeha.cluster.plugins.filter.control_plane_plan import FilterModule, control_plane_plan
from ansible_collections.kubeha.cluster.plugins.filter.podmaster_report import podmaster_report, podmaster_statuses
from ansible_collections.kubeha.cluster.plugins.filter import podmaster_report as report_module

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
# the role's defaults as a play templates them with no kubeha_* variable set
TEMPLATED = {
    'control_plane_kubernetes_version': '1.35.4', 'control_plane_mode': 'host', 'control_plane_apiserver_url': 'https://127.0.0.1:6443',
    'control_plane_pod_cidr': '10.244.0.0/16', 'control_plane_service_cidr': '10.96.0.0/12',
    'control_plane_podmaster_etcd_ca': '/srv/kubernetes/etcd-ca.crt',
    'control_plane_podmaster_etcd_cert': '/srv/kubernetes/apiserver-etcd-client.crt',
    'control_plane_podmaster_etcd_key': '/srv/kubernetes/apiserver-etcd-client.key',
}
with open(os.path.join(ROOT, 'roles', 'control_plane', 'defaults', 'main.yml'), encoding='utf-8') as handle:
    DEFAULTS = dict(yaml.safe_load(handle), **TEMPLATED)
ETCD_HOSTS = ['m1', 'm2', 'm3']
ETCD = ['https://10.0.0.11:2379', 'https://10.0.0.12:2379', 'https://10.0.0.13:2379']
BUILD = 'built /tmp/kubeha-podmaster-x/podmaster.pyz ' + 'ab' * 32
COMPONENTS = ['kube-scheduler', 'kube-controller-manager']


def plan(host='m1', check_mode=False, endpoints=None, **change):
    settings = dict(DEFAULTS, **{'control_plane_' + k: v for k, v in change.items()})
    return control_plane_plan(settings, host=host, etcd_hosts=ETCD_HOSTS, etcd_endpoints=ETCD if endpoints is None else endpoints,
                              check_mode=check_mode, pyz_build=BUILD)


def by_path(p):
    return {f['path']: f for f in p['files']}


def test_every_default_is_resolved_and_the_defaults_plan_cleanly():
    assert not [k for k, v in DEFAULTS.items() if '{{' in str(v)]
    p = plan()
    assert p['problems'] == [] and p['podmaster'] is True and p['version'] == '1.35.4'
    assert FilterModule().filters()['control_plane_plan'] is control_plane_plan


def test_the_components_flags():
    flags = plan()['flags']
    assert flags['kube-scheduler'] == {
        'authentication-kubeconfig': '/srv/kubernetes/scheduler.kubeconfig', 'authorization-kubeconfig': '/srv/kubernetes/scheduler.kubeconfig',
        'bind-address': '127.0.0.1', 'kubeconfig': '/srv/kubernetes/scheduler.kubeconfig', 'leader-elect': 'true',
        'leader-elect-lease-duration': '2s', 'leader-elect-renew-deadline': '1.5s', 'leader-elect-retry-period': '0.5s',
        'profiling': 'false', 'v': '2'}
    cm = flags['kube-controller-manager']
    assert cm['allocate-node-cidrs'] == 'true' and cm['cluster-cidr'] == '10.244.0.0/16' and cm['use-service-account-credentials'] == 'true'
    assert 'cluster-signing-key-file' not in cm and 'port' not in cm
    # the insecure port exists up to 1.23: switched off there
    old = plan(kubernetes_version='v1.23.17')['flags']
    assert old['kube-scheduler']['port'] == '0' and old['kube-controller-manager']['port'] == '0'
    # podmaster alone elects when the components' own election is off
    assert plan(podmaster_leader_elect=False)['flags']['kube-scheduler']['leader-elect'] == 'false'
    assert plan(podmaster_leader_elect=False, election='builtin')['flags']['kube-scheduler']['leader-elect'] == 'true'


def test_extra_args_and_cluster_signing():
    p = plan(scheduler_extra_args={'v': 4, 'feature-gates': 'A=true'}, cluster_signing=True, allocate_node_cidrs=False)
    assert p['flags']['kube-scheduler']['v'] == 4 and p['flags']['kube-scheduler']['feature-gates'] == 'A=true'
    cm = p['flags']['kube-controller-manager']
    assert cm['cluster-signing-key-file'] == '/srv/kubernetes/ca.key' and 'allocate-node-cidrs' not in cm
    # host mode: the installed binary counts (a new release restarts the component on it); a static pod's image is in its manifest
    assert p['inputs']['kube-controller-manager'][-2:] == ['/srv/kubernetes/ca.key', '/usr/local/bin/kube-controller-manager']
    assert p['inputs']['kube-scheduler'][-1] == '/usr/local/bin/kube-scheduler'
    assert plan(mode='static_pod')['inputs'] == {
        'kube-scheduler': ['/srv/kubernetes/ca.crt', '/srv/kubernetes/scheduler.crt', '/srv/kubernetes/scheduler.key'],
        'kube-controller-manager': ['/srv/kubernetes/ca.crt', '/srv/kubernetes/controller-manager.crt', '/srv/kubernetes/controller-manager.key',
                                    '/srv/kubernetes/sa.key']}


def test_podmaster_configuration():
    config = plan()['podmaster_config']
    assert config['identity'] == 'm1' and config['endpoints'] == ETCD and config['ttl'] == 4 and config['watchdog'] == 1.0
    # this master's own member: podmaster hands its leadership away while it holds a key
    assert config['local_endpoint'] == ETCD[0] and plan(host='m2')['podmaster_config']['local_endpoint'] == ETCD[1]
    assert plan(host='m9')['podmaster_config']['local_endpoint'] == ''
    assert plan(podmaster_etcd_endpoints=['https://e:2379'])['podmaster_config']['local_endpoint'] == ''
    assert config['components'][0]['lease']['client_cert'] == '/srv/kubernetes/scheduler.crt'
    # podmaster a host service copying manifests: no fence removes a dead one's copies, so no Lease is released
    static = plan(mode='static_pod')['podmaster_config']
    assert static['apiserver'] == {} and static['components'][1] == {
        'name': 'kube-controller-manager', 'key': '/kubeha/podmaster/kube-controller-manager', 'mode': 'static_pod',
        'source': '/srv/kubernetes/kube-controller-manager.yaml', 'dest': '/etc/kubernetes/manifests/kube-controller-manager.yaml',
        'program': 'kube-controller-manager'}
    # podmaster a static pod: its fence container stops a dead holder's copies, so the Lease is released as in host mode
    fenced = plan(mode='static_pod', podmaster_mode='static_pod')['podmaster_config']
    assert fenced['apiserver'] == {'url': 'https://127.0.0.1:6443', 'ca_cert': '/srv/kubernetes/ca.crt'}
    assert fenced['components'][1]['lease'] == {'namespace': 'kube-system', 'name': 'kube-controller-manager',
                                                'client_cert': '/srv/kubernetes/controller-manager.crt',
                                                'client_key': '/srv/kubernetes/controller-manager.key'}
    assert 'lease' not in plan(podmaster_release_leases=False)['podmaster_config']['components'][0]


def test_podmaster_files_are_checked_by_the_code_that_will_run():
    files = by_path(plan())
    text = files['/etc/kubeha/podmaster.json']['content']
    settings = json.loads(text)
    assert text.endswith('}\n') and settings['_managed'].startswith('Managed by Ansible')
    pyz = shlex.split(files['/usr/local/lib/kubeha/podmaster.pyz']['validate'])
    assert pyz[:4] == ['/usr/bin/python3', '%s', '--check', '--config-json'] and json.loads(pyz[4]) == settings
    assert files['/usr/local/lib/kubeha/podmaster.pyz']['src'] == '/tmp/kubeha-podmaster-x/podmaster.pyz'
    check = shlex.split(files['/etc/kubeha/podmaster.json']['validate'])
    assert check[3:] == ['/usr/local/lib/kubeha/podmaster.pyz', 'ab' * 32, '%s']
    # check mode: nothing that needs what earlier roles install (binaries, certificates) is validated;
    # podmaster's own unit needs neither
    checked = by_path(plan(check_mode=True))
    assert [f['path'] for f in checked.values() if f.get('validate')] == ['/etc/systemd/system/podmaster.service']
    assert plan(check_mode=True)['check_elected'] is False


@pytest.mark.parametrize('mode, election, podmaster_mode, units', [
    ('host', 'podmaster', 'host', ['kube-scheduler', 'kube-controller-manager', 'podmaster']),
    ('host', 'builtin', 'host', ['podmaster', 'kube-scheduler', 'kube-controller-manager']),
    ('static_pod', 'podmaster', 'host', ['podmaster']),
    ('static_pod', 'podmaster', 'static_pod', ['podmaster/pod']),
    ('static_pod', 'builtin', 'host', ['podmaster', 'podmaster/pod', 'kube-scheduler/pod', 'kube-controller-manager/pod']),
])
def test_units_in_every_mode(mode, election, podmaster_mode, units):
    p = plan(mode=mode, election=election, podmaster_mode=podmaster_mode)
    assert [u['name'] + ('/pod' if u.get('kind') == 'static_pod' else '') for u in p['units']] == units
    files = by_path(p)
    for c, short in zip(COMPONENTS, ('scheduler', 'controller-manager')):
        kubeconfig = files['/srv/kubernetes/%s.kubeconfig' % short]
        assert kubeconfig['template'] == 'kubeconfig.j2' and kubeconfig['template_vars'] == {'_control_plane_component': c}
        assert ('/etc/systemd/system/%s.service' % c in files) is (mode == 'host')
        if mode == 'static_pod':
            assert files['/srv/kubernetes/%s.yaml' % c]['validate'] == 'ls -d %s ' + ' '.join(p['inputs'][c])
    if election == 'builtin':
        assert files['/etc/kubeha/podmaster.json'] == {'path': '/etc/kubeha/podmaster.json', 'state': 'absent'}
        assert p['check_elected'] is False


def test_podmaster_unit_in_host_mode_waits_for_what_it_holds():
    p = plan(health_retries=10, health_delay=2)
    podmaster = p['units'][-1]
    assert podmaster['health'] == {'command': ['/usr/bin/python3', '/usr/local/lib/kubeha/podmaster-health.py', '/run/kubeha/podmaster.json',
                                               'kube-scheduler=https://127.0.0.1:10259/readyz',
                                               'kube-controller-manager=https://127.0.0.1:10257/healthz']}
    assert podmaster['health_timeout'] == 20 and plan(podmaster_ttl=8)['units'][-1]['health_timeout'] == 60
    assert p['units'][0] == {'name': 'kube-scheduler', 'inputs': p['inputs']['kube-scheduler'], 'state': 'as_is', 'enabled': False,
                             'restart': 'now'}
    assert p['reread_seconds'] == 16 and p['check_elected'] is True


@pytest.mark.parametrize('change, endpoints, words', [
    ({'election': 'raft'}, None, "control_plane_election is 'raft'; set it to podmaster or builtin."),
    ({'mode': 'k3s'}, None, "control_plane_mode is 'k3s'; set it to host or static_pod."),
    ({'mode': 'static_pod', 'podmaster_leader_elect': False}, None, 'Keep control_plane_podmaster_leader_elect true in static_pod mode.'),
    ({'podmaster_mode': 'static_pod'}, None, 'a podmaster static pod can only copy manifests'),
    ({}, [], "podmaster's etcd endpoints from group 'etcd': []. Every etcd member needs an address"),
    ({}, ['https://:2379'], "podmaster's etcd endpoints from group 'etcd': ['https://:2379']."),
    ({}, ['https://[]:2379'], "podmaster's etcd endpoints from group 'etcd': ['https://[]:2379']."),
    ({'controller_manager_extra_args': {'--kubeconfig': '/x', 'v': 3}}, None,
     "control_plane_scheduler_extra_args / control_plane_controller_manager_extra_args set ['kubeconfig'], which the role sets itself"),
    ({'podmaster_watchdog': 1.8}, None, 'watchdog (1.8s) + stop_timeout (0.5s) must be below margin (2s)'),
])
def test_each_problem_names_the_variable_and_the_fix(change, endpoints, words):
    problems = plan(endpoints=endpoints, **change)['problems']
    assert len(problems) == 1 and words in problems[0], problems


def test_no_endpoints_are_needed_without_podmaster():
    assert plan(election='builtin', endpoints=[])['problems'] == []


def test_a_missing_variable_or_bad_input_is_named():
    with pytest.raises(AnsibleFilterError, match='control_plane_secrets_dir is not set'):
        control_plane_plan({k: v for k, v in DEFAULTS.items() if k != 'control_plane_secrets_dir'}, host='m1')
    with pytest.raises(AnsibleFilterError, match='expected the role'):
        control_plane_plan('x', host='m1')


# --- the check after the run --------------------------------------------------------------------------
def status(identity, holds, holders, updated=1700000100.0):
    return {'identity': identity, 'updated': updated,
            'components': {c: {'holder': holders[c], 'held': c in holds, 'active': c in holds, 'since': updated - 50} for c in COMPONENTS}}


SETTLED = {'kube-scheduler': 'm1', 'kube-controller-manager': 'm2'}


def test_statuses_come_from_the_read_else_from_the_daemon_call_unless_stale():
    printed = json.dumps(status('m1', ['kube-scheduler'], SETTLED))
    daemon = {'units': {'podmaster': {'health': printed}}, 'restart_pending': []}
    hostvars = {'m1': {'_control_plane_daemon': daemon, '_control_plane_status_read': {'skipped': True, 'changed': False}},
                'm2': {'_control_plane_daemon': {'units': {}}, '_control_plane_status_read': {'rc': 1, 'stdout': 'status file missing'}},
                'm3': {}}
    got = podmaster_statuses(['m1', 'm2', 'm3'], hostvars)
    assert got == {'m1': json.loads(printed), 'm2': {'unreadable': 'status file missing'}, 'm3': {'unreadable': 'nothing'}}
    # a handler restarted podmaster on m3 after the daemon call: what m1's health printed is stale, so m1 reads again
    hostvars['m3'] = {'_control_plane_daemon': {'restart_pending': ['podmaster']}}
    assert podmaster_statuses(['m1', 'm2', 'm3'], hostvars)['m1'] == {
        'unreadable': 'stale: podmaster was restarted on m3 after this status'}
    with pytest.raises(AnsibleFilterError):
        podmaster_statuses('m1', hostvars)


def test_the_report_agrees_only_when_one_master_runs_each_and_all_name_it(monkeypatch):
    monkeypatch.setattr(report_module.time, 'localtime', report_module.time.gmtime)
    agreed = podmaster_report({m: status(m, [c for c, h in SETTLED.items() if h == m], SETTLED) for m in ETCD_HOSTS}, COMPONENTS, 16)
    assert agreed['agreed'] is True and agreed['message'] == '' and agreed['summary'] == 'kube-scheduler on m1, kube-controller-manager on m2'
    split = {m: status(m, [c for c, h in SETTLED.items() if h == m], SETTLED) for m in ETCD_HOSTS}
    split['m3'] = status('m3', ['kube-controller-manager'], dict(SETTLED, **{'kube-controller-manager': 'm3'}))
    report = podmaster_report(split, COMPONENTS, 16)
    assert report['agreed'] is False and report['components']['kube-scheduler']['agreed'] is True
    cm = report['components']['kube-controller-manager']
    assert (cm['active'], cm['holders'], cm['agreed']) == (['m2', 'm3'], ['m2', 'm3'], False)
    assert ("kube-controller-manager: active on m2 and m3, holders named m2, m3 (m1: holder m2, standby since 22:14:10, status of 22:15:00;"
            in report['message']) and 'after reading again for 16 s' in report['message']
    unreadable = dict(split, m3={'unreadable': 'rc 1'})
    cm = podmaster_report(unreadable, COMPONENTS)['components']['kube-controller-manager']
    assert cm['holders'] == ['m2', '?'] and cm['reported']['m3'] == 'no status: rc 1' and cm['agreed'] is False


@pytest.mark.parametrize('mode, election, podmaster_mode, paths', [
    ('host', 'podmaster', 'host', ['/srv/kubernetes/kube-scheduler.yaml', '/srv/kubernetes/kube-controller-manager.yaml',
                                   '/etc/kubeha/podmaster.yaml']),
    ('static_pod', 'podmaster', 'static_pod', ['/etc/systemd/system/kube-scheduler.service',
                                               '/etc/systemd/system/kube-controller-manager.service', '/etc/systemd/system/podmaster.service']),
    ('static_pod', 'podmaster', 'host', ['/etc/systemd/system/kube-scheduler.service',
                                         '/etc/systemd/system/kube-controller-manager.service', '/etc/kubeha/podmaster.yaml']),
    ('host', 'builtin', 'host', ['/srv/kubernetes/kube-scheduler.yaml', '/srv/kubernetes/kube-controller-manager.yaml']),
])
def test_what_the_other_mode_left_is_refused(mode, election, podmaster_mode, paths):
    refuse = plan(mode=mode, election=election, podmaster_mode=podmaster_mode)['refuse']
    assert [r['path'] for r in refuse] == paths
    assert refuse[0]['msg'].startswith('kube-scheduler runs in %s mode on this host (control_plane_mode is %s now)'
                                       % ('static_pod' if mode == 'host' else 'host', mode))


def test_a_read_before_another_masters_latest_handover_is_a_stale_read_not_a_verdict(monkeypatch):
    monkeypatch.setattr(report_module.time, 'localtime', report_module.time.gmtime)
    # m1 read at :26 (m2 holds the scheduler); m2 handed it to m1 at :28 and was read at :30; m3 read at :31
    t = 1700000000.0
    m1 = status('m1', [], dict(SETTLED, **{'kube-scheduler': 'm2'}), updated=t + 26)
    m2 = status('m2', ['kube-controller-manager'], dict(SETTLED, **{'kube-scheduler': 'm1'}), updated=t + 30)
    m2['components']['kube-scheduler']['since'] = t + 28
    m3 = status('m3', [], dict(SETTLED, **{'kube-scheduler': 'm1'}), updated=t + 31)
    report = podmaster_report({'m1': m1, 'm2': m2, 'm3': m3}, COMPONENTS, 16)
    assert report['agreed'] is False and report['components']['kube-scheduler']['active'] == []
    assert report['stale_read'] is True
    # the same disagreement, every status read after the last change: a verdict
    m1['updated'] = t + 29
    assert podmaster_report({'m1': m1, 'm2': m2, 'm3': m3}, COMPONENTS, 16)['stale_read'] is False
    # agreeing statuses are never stale reads
    agreed = {m: status(m, [c for c, h in SETTLED.items() if h == m], SETTLED) for m in ETCD_HOSTS}
    assert podmaster_report(agreed, COMPONENTS)['stale_read'] is False
