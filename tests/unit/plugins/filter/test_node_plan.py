"""kubeha.cluster.node_plan: the node role's logic (kubelet flags and configuration, files and units per supervisor), without Ansible."""

from __future__ import annotations

import os

import pytest
import yaml
from ansible.errors import AnsibleFilterError

from ansible_collections.kubeha.cluster.plugins.filter.node_plan import FilterModule, node_plan

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
# the role's defaults as a play templates them with no kubeha_* variable set
TEMPLATED = {'node_kubernetes_version': '1.35.4', 'node_kubelet_node_name': 'n1', 'node_kubelet_node_ip': '10.0.0.21',
             'node_kubelet_cluster_domain': 'cluster.local', 'node_images_source': 'registry'}
with open(os.path.join(ROOT, 'roles', 'node', 'defaults', 'main.yml'), encoding='utf-8') as handle:
    DEFAULTS = dict(yaml.safe_load(handle), **TEMPLATED)
LIB = '/usr/local/lib/kubeha'
BINARIES = [{'path': '/usr/local/bin/kubelet', 'src': '/cache/kubelet', 'mode': '0755'},
            {'path': '/usr/local/bin/kubectl', 'src': '/cache/kubectl', 'mode': '0755'}]


def plan(binaries=None, check_mode=False, helpers=None, **change):
    settings = dict(DEFAULTS, **{'node_' + k: v for k, v in change.items()})
    return node_plan(settings, kube_binaries_files=BINARIES if binaries is None else binaries, check_mode=check_mode,
                     monit_helpers_files=helpers)


def by_path(files):
    return {f['path']: f for f in files}


def test_every_default_is_resolved_and_the_filter_is_registered():
    assert not [k for k, v in DEFAULTS.items() if '{{' in str(v)]
    assert FilterModule().filters()['node_plan'] is node_plan


def test_a_missing_variable_is_named():
    settings = dict(DEFAULTS)
    del settings['node_kubelet_binary']
    with pytest.raises(AnsibleFilterError, match='node_kubelet_binary is not set'):
        node_plan(settings)


def test_the_standalone_kubelet():
    p = plan()
    assert p['kubelet_args'] == ['--config=/var/lib/kubelet/config.yaml', '--node-ip=10.0.0.21', '--v=2']
    config = p['kubelet_config']
    assert list(config) == ['apiVersion', 'kind', 'cgroupDriver', 'containerRuntimeEndpoint', 'healthzBindAddress', 'healthzPort',
                            'staticPodPath', 'clusterDomain', 'clusterDNS', 'readOnlyPort', 'authentication', 'authorization']
    assert config['containerRuntimeEndpoint'] == 'unix:///run/containerd/containerd.sock' and config['healthzPort'] == 10248
    # no apiserver: no webhook, nobody anonymous, everything allowed to the (local) client
    assert config['authentication'] == {'anonymous': {'enabled': False}, 'webhook': {'enabled': False}, 'x509': {}}
    assert config['authorization'] == {'mode': 'AlwaysAllow'}
    assert p['kubelet_healthz'] == 'http://127.0.0.1:10248/healthz'


def test_the_kubelet_with_an_apiserver_and_extra_args():
    p = plan(kubelet_kubeconfig='/etc/kubernetes/kubelet.kubeconfig', kubelet_client_ca_file='/srv/kubernetes/ca.crt',
             kubelet_extra_args={'max-pods': 50, 'register-node': True}, kubelet_node_ip='  ', kubelet_verbosity=4)
    assert p['kubelet_args'] == ['--config=/var/lib/kubelet/config.yaml', '--kubeconfig=/etc/kubernetes/kubelet.kubeconfig',
                                 '--hostname-override=n1', '--v=4', '--max-pods=50', '--register-node=True']
    config = p['kubelet_config']
    assert config['authentication']['webhook'] == {'enabled': True}
    assert config['authentication']['x509'] == {'clientCAFile': '/srv/kubernetes/ca.crt'}
    assert config['authorization'] == {'mode': 'Webhook'}
    # the same command line under monit
    assert p['monit_daemons'][1]['args'] == p['kubelet_args']


@pytest.mark.parametrize('version, allow, expected', [
    ('1.35.4', True, False), ('v1.31.0', True, False), ('1.30.9', True, None), ('1.35.4', False, None)])
def test_the_cgroup_v1_opt_in(version, allow, expected):
    config = plan(kubernetes_version=version, kubelet_allow_cgroup_v1=allow)['kubelet_config']
    assert config.get('failCgroupV1') is expected


def test_taints_and_the_extra_configuration_are_merged_recursively():
    taints = [{'key': 'node-role.kubernetes.io/control-plane', 'effect': 'NoSchedule'}]
    config = plan(kubelet_register_with_taints=taints, kubelet_allow_cgroup_v1=True,
                  kubelet_config_extra={'authentication': {'webhook': {'cacheTTL': '1m'}}, 'maxPods': 30, 'failCgroupV1': True})['kubelet_config']
    assert config['registerWithTaints'] == taints and config['maxPods'] == 30 and config['failCgroupV1'] is True
    assert config['authentication']['webhook'] == {'enabled': False, 'cacheTTL': '1m'}
    assert list(config)[-3:] == ['failCgroupV1', 'registerWithTaints', 'maxPods']


def test_systemd_files_and_units():
    p = plan(kubelet_extra_files=[{'path': '/etc/kubernetes/kubelet.kubeconfig', 'template': 'yaml-document.j2', 'mode': '0600'}],
             kubelet_inputs=['/srv/kubernetes/ca.crt', '/srv/kubernetes/ca.crt'])
    files = by_path(p['files_systemd'])
    assert [f['path'] for f in p['files_systemd']][:5] == [
        '/var/lib/kubelet', '/etc/kubernetes/manifests', '/etc/containerd', '/etc/containerd/config.toml', '/var/lib/kubelet/config.yaml']
    assert files['/usr/local/bin/kubelet']['restarts'] == ['kubelet'] and 'restarts' not in files['/usr/local/bin/kubectl']
    assert files['/etc/kubernetes/kubelet.kubeconfig']['restarts'] == ['kubelet']
    assert files['/etc/systemd/system/containerd.service.d/10-kubeha-restart.conf']['validate'] == \
        'systemd:containerd.service:10-kubeha-restart.conf'
    assert files['/etc/monit/conf.d/kubeha'] == {'path': '/etc/monit/conf.d/kubeha', 'state': 'absent'}
    # kubeadm's drop-in (its package's, in /usr/lib) is taken over by an empty one of the same name
    dropin = files['/etc/systemd/system/kubelet.service.d/10-kubeadm.conf']
    assert dropin['template'] == 'kubelet-kubeadm-dropin.conf.j2' and dropin['restarts'] == ['kubelet']
    assert files['/etc/systemd/system/kubelet.service.d']['state'] == 'directory'
    containerd, kubelet = p['units_systemd']
    assert containerd['health'] == {'socket': '/run/containerd/containerd.sock'} and containerd['restart'] == 'now'
    # the installed binary restarts the kubelet through its file entry; inputs are listed once
    assert kubelet['inputs'] == ['/srv/kubernetes/ca.crt'] and kubelet['restart'] == 'pending'


def test_a_kubelet_binary_the_role_does_not_install_is_an_input():
    for p in (plan(install_binaries=False), plan(binaries=[])):
        assert p['kubelet_inputs'] == ['/usr/local/bin/kubelet']
        assert '/usr/local/bin/kubelet' not in by_path(p['files_systemd'])
    assert plan(install_binaries=False)['kubelet_inputs'] == plan(binaries=[BINARIES[1]])['kubelet_inputs']


def test_monit_files_units_and_restarts():
    p = plan(kubelet_extra_files=[{'path': '/etc/x.conf', 'content': 'x'}], kubelet_inputs=['/srv/kubernetes/kubelet.crt'])
    files = by_path(p['files_monit'])
    ctl = files[LIB + '/kubelet-ctl']
    assert ctl['template'] == 'daemon-ctl.sh.j2' and ctl['template_vars'] == {'item': p['monit_daemons'][1]}
    assert files[LIB + '/containerd-ctl']['template_vars']['item']['args'] == ['--config=/etc/containerd/config.toml']
    assert files['/etc/monit/conf.d/kubeha']['validate'] == LIB + '/monit-verify %s kubeha'
    assert p['files_monit_helpers'] == [{'path': LIB, 'state': 'directory', 'mode': '0755'},
                                        {'path': LIB + '/monit-verify', 'src': 'monit-verify', 'mode': '0755'}]
    assert [u['name'] for u in p['units_monit']] == ['containerd', 'kubelet', 'monit']
    assert p['units_monit'][2]['health']['command'] == [
        '/usr/bin/python3', LIB + '/node-daemons', 'check', '/run/containerd/containerd.sock', 'http://127.0.0.1:10248/healthz']
    # a renewed certificate (an input) restarts the kubelet under monit too
    assert p['monit_restart_paths']['kubelet'] == ['/var/lib/kubelet/config.yaml', LIB + '/kubelet-ctl', '/usr/local/bin/kubelet', '/etc/x.conf',
                                                   '/srv/kubernetes/kubelet.crt']
    assert p['monit_stale_argv'] == ['/usr/bin/python3', LIB + '/node-daemons', 'stale', 'containerd', '/run/kubeha-containerd.pid',
                                     '/etc/containerd/config.toml', LIB + '/containerd-ctl', '--', 'kubelet', '/run/kubelet.pid',
                                     '/var/lib/kubelet/config.yaml', LIB + '/kubelet-ctl', '/usr/local/bin/kubelet', '/etc/x.conf',
                                     '/srv/kubernetes/kubelet.crt']
    assert p['monit_restart_argv']['containerd'] == [
        '/usr/bin/python3', LIB + '/node-daemons', 'restart', 'containerd', '/run/kubeha-containerd.pid', '/run/containerd/containerd.sock',
        'http://127.0.0.1:10248/healthz', '60', '/etc/containerd/config.toml', LIB + '/containerd-ctl']


@pytest.mark.parametrize('check_mode, helpers, alone', [
    (True, {LIB + '/monit-verify': 'created'}, True), (True, {LIB + '/monit-verify': 'unchanged'}, False),
    (False, {LIB + '/monit-verify': 'created'}, False), (True, None, False)])
def test_a_first_check_mode_run_checks_the_monit_file_alone(check_mode, helpers, alone):
    validate = by_path(plan(check_mode=check_mode, helpers=helpers)['files_monit'])['/etc/monit/conf.d/kubeha']['validate']
    assert validate == ('/usr/bin/monit -t -c %s' if alone else LIB + '/monit-verify %s kubeha')


def test_with_the_api_given_the_kubelet_is_healthy_once_its_node_lease_is_renewed():
    """The worker role gives node_kubelet_api: then the kubelet's gate is its Node Lease read through the balancer with
    its own certificate (node-daemons lease), which a kubelet with a refused certificate fails; else its /healthz."""
    assert plan()['units_systemd'][1]['health'] == {'url': 'http://127.0.0.1:10248/healthz'}
    assert LIB + '/node-daemons' not in by_path(plan()['files_systemd'])
    api = {'server': 'https://10.0.0.10:6443', 'ca_file': '/srv/kubernetes/ca.crt', 'cert_file': '/srv/kubernetes/kubelet.crt',
           'key_file': '/srv/kubernetes/kubelet.key'}
    p = plan(kubelet_api=api)
    spec = ['https://10.0.0.10:6443', '/srv/kubernetes/ca.crt', '/srv/kubernetes/kubelet.crt', '/srv/kubernetes/kubelet.key', 'n1']
    assert p['units_systemd'][1]['health'] == p['kubelet_health'] == {
        'command': ['/usr/bin/python3', LIB + '/node-daemons', 'lease'] + spec + ['systemd:kubelet.service']}
    assert by_path(p['files_systemd'])[LIB + '/node-daemons'] == {'path': LIB + '/node-daemons', 'src': 'node-daemons', 'mode': '0644'}
    lease = '--lease=' + ','.join(spec + ['/run/kubelet.pid'])
    # under monit the Lease is left to the restart handler while the kubelet runs from before one of its files
    assert p['units_monit'][2]['health']['command'] == [
        '/usr/bin/python3', LIB + '/node-daemons', 'check', lease, '/run/containerd/containerd.sock', 'http://127.0.0.1:10248/healthz',
    ] + p['monit_restart_paths']['kubelet']
    assert p['monit_restart_argv']['kubelet'][:5] == ['/usr/bin/python3', LIB + '/node-daemons', 'restart', lease, 'kubelet']
    assert lease not in p['monit_restart_argv']['containerd']


def test_local_images_travel_in_the_daemon_call_and_registry_sends_none():
    archives = [{'path': '/var/lib/kubeha/images', 'state': 'directory', 'mode': '0700'},
                {'path': '/var/lib/kubeha/images/pause.tar', 'src': '/c/pause.tar', 'mode': '0600'}]
    local = node_plan(dict(DEFAULTS, node_images_source='local'), kube_images_files=archives)
    assert [f for f in local['files_systemd'] if f['path'].startswith('/var/lib/kubeha/images')] == archives
    assert [f for f in local['files_monit'] if f['path'].startswith('/var/lib/kubeha/images')] == archives
    registry = node_plan(dict(DEFAULTS), kube_images_files=archives)
    assert not [f for f in registry['files_systemd'] if f['path'].startswith('/var/lib/kubeha/images')]


def test_teardown_per_supervisor():
    systemd = plan()['teardown']
    assert systemd['daemons'] == [{'name': 'kubelet'}, {'name': 'containerd'}] and systemd['monit_check_file'] is None
    assert '/etc/systemd/system/kubelet.service' in systemd['files'] and '/var/lib/kubelet/config.yaml' in systemd['files']
    # not the directories (the kubelet's holds its pods' mounts), not what must be absent anyway
    assert '/var/lib/kubelet' not in systemd['files'] and '/etc/monit/conf.d/kubeha' not in systemd['files']
    assert systemd['files'][-1] == '/var/lib/kubeha' and '/usr/local/bin/kubelet' not in systemd['files']
    monit = plan(supervisor='monit')['teardown']
    assert monit['daemons'] == [
        {'name': 'kubelet', 'supervisor': 'monit', 'pidfile': '/run/kubelet.pid', 'ctl': LIB + '/kubelet-ctl'},
        {'name': 'containerd', 'supervisor': 'monit', 'pidfile': '/run/kubeha-containerd.pid', 'ctl': LIB + '/containerd-ctl'}]
    assert monit['monit_check_file'] == '/etc/monit/conf.d/kubeha'
    # kubeha's control scripts and helpers go; monit's own unit and monitrc stay (they may watch more than kubeha's checks)
    assert {LIB + '/kubelet-ctl', LIB + '/containerd-ctl', LIB + '/monit-verify'} <= set(monit['files'])
    assert not {'/etc/monit/monitrc', '/etc/systemd/system/monit.service', '/etc/monit/conf.d/kubeha'} & set(monit['files'])
