"""kubeha.cluster.worker_plan: the worker role's logic (kubeconfigs, kube-proxy's configuration, files and units), without Ansible."""

from __future__ import annotations

import os

import pytest
import yaml
from ansible.errors import AnsibleFilterError

from ansible_collections.kubeha.cluster.plugins.filter.worker_plan import FilterModule, worker_plan

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
# the role's defaults as a play templates them (kubeha_lb_address set)
TEMPLATED = {'worker_lb_address': '10.0.0.10', 'worker_lb_port': 8443, 'worker_mode': 'host', 'worker_kubernetes_version': '1.35.4',
             'worker_kube_proxy_cluster_cidr': '10.244.0.0/16', 'worker_kube_proxy_image': 'registry.k8s.io/kube-proxy:v1.35.4',
             'worker_cluster_dns': ['10.96.0.10'], 'worker_drain_host': 'm1', 'worker_drain_secrets_dir': '/srv/kubernetes'}
with open(os.path.join(ROOT, 'roles', 'worker', 'defaults', 'main.yml'), encoding='utf-8') as handle:
    DEFAULTS = dict(yaml.safe_load(handle), **TEMPLATED)
BINARIES = [{'path': '/usr/local/bin/kubelet', 'src': '/c/kubelet'}, {'path': '/usr/local/bin/kube-proxy', 'src': '/c/kube-proxy'}]
SECRETS = ['/srv/kubernetes/ca.crt', '/srv/kubernetes/kube-proxy.crt', '/srv/kubernetes/kube-proxy.key']


def plan(binaries=None, install_binaries=True, **change):
    settings = dict(DEFAULTS, **{'worker_' + k: v for k, v in change.items()})
    return worker_plan(settings, host='w1', kube_binaries_files=BINARIES if binaries is None else binaries,
                       install_binaries=install_binaries)


def by_path(files):
    return {f['path']: f for f in files}


def test_every_default_is_resolved_and_the_filter_is_registered():
    assert not [k for k, v in DEFAULTS.items() if '{{' in str(v)]
    assert FilterModule().filters()['worker_plan'] is worker_plan


def test_a_missing_variable_is_named():
    settings = dict(DEFAULTS)
    del settings['worker_secrets_dir']
    with pytest.raises(AnsibleFilterError, match='worker_secrets_dir is not set'):
        worker_plan(settings, host='w1')


def test_the_kubeconfigs_point_at_the_load_balancer():
    p = plan()
    assert p['server'] == 'https://10.0.0.10:8443'
    kubelet, proxy, config = p['documents']
    assert kubelet['path'] == '/etc/kubernetes/kubelet.kubeconfig'
    assert kubelet['content']['users'] == [{'name': 'system:node:w1', 'user': {
        'client-certificate': '/srv/kubernetes/kubelet.crt', 'client-key': '/srv/kubernetes/kubelet.key'}}]
    assert proxy['content']['clusters'][0]['cluster'] == {'server': 'https://10.0.0.10:8443', 'certificate-authority': '/srv/kubernetes/ca.crt'}
    assert config['path'] == '/var/lib/kube-proxy/config.yaml' and config['content'] is p['kube_proxy_config']
    assert plan(lb_address='fd00::10', lb_port=6443)['server'] == 'https://[fd00::10]:6443'


def test_worker_kubelet_server_points_only_the_kubelet_elsewhere():
    """site.yml's first pass over a master joining a cluster being grown: the kubelet (its kubeconfig and its Lease
    gate) talks to the grown master's apiserver; kube-proxy and the drain stay on the load-balanced endpoint."""
    p = plan(kubelet_server='https://10.0.0.1:6443')
    kubelet, proxy = p['documents'][:2]
    assert kubelet['content']['clusters'][0]['cluster']['server'] == 'https://10.0.0.1:6443'
    assert p['kubelet_api']['server'] == 'https://10.0.0.1:6443'
    assert proxy['content']['clusters'][0]['cluster']['server'] == 'https://10.0.0.10:8443'
    assert p['server'] == p['drain']['server'] == 'https://10.0.0.10:8443'
    # unset: the load-balanced endpoint, so the workers' pass moves the kubelet there
    assert plan()['documents'][0]['content']['clusters'][0]['cluster']['server'] == 'https://10.0.0.10:8443'


def test_kubeadms_kube_proxy_daemonset_is_retired_through_the_admin_certificate_on_the_drain_host():
    assert plan()['replaced_daemonset'] == {
        'server': 'https://10.0.0.10:8443', 'host': 'm1', 'ca_file': '/srv/kubernetes/ca.crt', 'cert_file': '/srv/kubernetes/kubecfg.crt',
        'key_file': '/srv/kubernetes/kubecfg.key', 'namespace': 'kube-system', 'name': 'kube-proxy', 'timeout': 300}
    assert plan(kube_proxy_daemonset='old-proxy', drain_timeout='60')['replaced_daemonset'] == dict(
        plan()['replaced_daemonset'], name='old-proxy', timeout=60)
    # the drain's switch does not matter: the old kube-proxy goes whenever kubeha's runs
    assert plan(drain=False)['replaced_daemonset'] == plan()['replaced_daemonset']
    # none: the name empty, kube-proxy not run here, no master to call from, or site.yml's first pass (no balancer yet)
    for change in ({'kube_proxy_daemonset': ''}, {'kube_proxy_enabled': False}, {'drain_host': ''}, {'kubelet_lease_gate': False}):
        assert plan(**change)['replaced_daemonset'] == {}, change


def test_a_kubelet_that_moves_release_is_drained_through_the_admin_certificate_on_the_drain_host():
    assert plan()['drain'] == {
        'server': 'https://10.0.0.10:8443', 'host': 'm1', 'ca_file': '/srv/kubernetes/ca.crt',
        'cert_file': '/srv/kubernetes/kubecfg.crt', 'key_file': '/srv/kubernetes/kubecfg.key', 'timeout': 300,
        'ready_timeout': 120, 'force': False, 'delete_emptydir_data': False}
    assert plan(drain_timeout='600', drain_force='yes', drain_secrets_dir='/etc/k')['drain'] == dict(
        plan()['drain'], timeout=600, force=True, ca_file='/etc/k/ca.crt', cert_file='/etc/k/kubecfg.crt', key_file='/etc/k/kubecfg.key')
    # no drain: turned off, no master to drain from, or site.yml's first pass (no balancer serving yet)
    assert plan(drain=False)['drain'] == {}
    assert plan(drain_host='')['drain'] == {}
    assert plan(kubelet_lease_gate=False)['drain'] == {}


def test_kube_proxy_configuration_and_command_line():
    p = plan(kube_proxy_config_extra={'iptables': {'masqueradeAll': True}, 'mode': 'nftables'}, kube_proxy_verbosity=4)
    assert p['kube_proxy_config'] == {
        'apiVersion': 'kubeproxy.config.k8s.io/v1alpha1', 'kind': 'KubeProxyConfiguration',
        'clientConnection': {'kubeconfig': '/etc/kubernetes/kube-proxy.kubeconfig'}, 'mode': 'nftables', 'clusterCIDR': '10.244.0.0/16',
        'hostnameOverride': 'w1', 'healthzBindAddress': '0.0.0.0:10256', 'metricsBindAddress': '127.0.0.1:10249',
        'iptables': {'masqueradeAll': True}}
    assert p['kube_proxy_args'] == ['--config=/var/lib/kube-proxy/config.yaml', '--v=4']


def test_the_kubelet_files_for_the_node_role():
    p = plan()
    assert p['kubelet_inputs'] == ['/srv/kubernetes/ca.crt', '/srv/kubernetes/kubelet.crt', '/srv/kubernetes/kubelet.key']
    assert p['kubelet_files'] == [{'path': '/etc/kubernetes/kubelet.kubeconfig', 'template': 'yaml-document.j2',
                                   'template_vars': {'item': p['documents'][0]}, 'mode': '0600'}]
    # the node role's health gate reads the kubelet's Lease the way its kubeconfig reaches the API
    kubeconfig = p['documents'][0]['content']
    assert p['kubelet_api'] == {'server': kubeconfig['clusters'][0]['cluster']['server'],
                                'ca_file': kubeconfig['clusters'][0]['cluster']['certificate-authority'],
                                'cert_file': kubeconfig['users'][0]['user']['client-certificate'],
                                'key_file': kubeconfig['users'][0]['user']['client-key']}


def test_host_mode():
    p = plan()
    files = by_path(p['files'])
    assert [f['path'] for f in p['files']] == [
        '/etc/kubernetes/kube-proxy.kubeconfig', '/var/lib/kube-proxy/config.yaml', '/usr/local/bin/kube-proxy',
        '/etc/systemd/system/kube-proxy.service', '/etc/kubernetes/manifests/kube-proxy.yaml']
    assert files['/var/lib/kube-proxy/config.yaml']['template_vars'] == {'item': p['documents'][2]}
    assert files['/usr/local/bin/kube-proxy'] == {'path': '/usr/local/bin/kube-proxy', 'src': '/c/kube-proxy', 'restarts': ['kube-proxy']}
    assert files['/etc/kubernetes/manifests/kube-proxy.yaml'] == {'path': '/etc/kubernetes/manifests/kube-proxy.yaml', 'state': 'absent'}
    assert p['units'] == [{'name': 'kube-proxy', 'enabled': True, 'masked': False, 'inputs': SECRETS,
                           'health': {'url': 'http://127.0.0.1:10256/healthz'}, 'restart': 'pending'}]


def test_a_binary_the_node_role_does_not_install_is_an_input():
    for p in (plan(install_binaries=False), plan(binaries=[])):
        assert '/usr/local/bin/kube-proxy' not in by_path(p['files'])
        assert p['units'][0]['inputs'] == SECRETS + ['/usr/local/bin/kube-proxy']


def test_static_pod_mode():
    p = plan(mode='static_pod')
    files = by_path(p['files'])
    assert files['/etc/kubernetes/kube-proxy.kubeconfig']['restarts'] == [] and files['/var/lib/kube-proxy/config.yaml']['restarts'] == []
    assert files['/var/lib/kubeha/manifests/kube-proxy.yaml'] == {
        'path': '/var/lib/kubeha/manifests/kube-proxy.yaml', 'template': 'kube-proxy.yaml.j2', 'mode': '0600', 'digest_of': SECRETS}
    assert '/usr/local/bin/kube-proxy' not in files
    assert p['units'] == [{'name': 'kube-proxy', 'kind': 'static_pod', 'source': '/var/lib/kubeha/manifests/kube-proxy.yaml',
                           'manifest': '/etc/kubernetes/manifests/kube-proxy.yaml', 'restart': 'pending'},
                          {'name': 'kube-proxy.service', 'state': 'stopped', 'enabled': False}]
    # the host mode's entries carry their restarts
    assert plan()['kube_proxy_files'][0]['restarts'] == ['kube-proxy']


def test_teardown_stops_kube_proxy_and_removes_the_files_and_keys_not_the_binary():
    host = plan()['teardown']
    assert host['daemons'] == [{'name': 'kube-proxy'}]
    assert host['files'] == ['/etc/kubernetes/kubelet.kubeconfig', '/etc/kubernetes/kube-proxy.kubeconfig', '/var/lib/kube-proxy/config.yaml',
                             '/etc/systemd/system/kube-proxy.service', '/srv/kubernetes/ca.crt', '/srv/kubernetes/kubelet.crt',
                             '/srv/kubernetes/kubelet.key', '/srv/kubernetes/kube-proxy.crt', '/srv/kubernetes/kube-proxy.key']
    static = plan(mode='static_pod')['teardown']
    # the static pod dies with the pods the teardown kills once the kubelet is stopped
    assert static['daemons'] == []
    assert static['files'][3:5] == ['/var/lib/kubeha/manifests/kube-proxy.yaml', '/etc/kubernetes/manifests/kube-proxy.yaml']
