"""kubeha.cluster.apiserver_plan filter: the apiserver role's flags, files, units and problems."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.kubeha.cluster.plugins.filter.apiserver_plan import FilterModule, apiserver_plan

ETCD = ('https://10.0.0.11:2379', 'https://10.0.0.12:2379')
# the role's defaults, templated as Ansible hands them to the filter
DEFAULTS = {
    'apiserver_group': 'masters', 'apiserver_etcd_group': 'etcd', 'apiserver_mode': 'host',
    'apiserver_kubernetes_version': '1.35.4', 'apiserver_node_ip': '10.0.0.11', 'apiserver_secure_port': 6443,
    'apiserver_bind_address': '0.0.0.0', 'apiserver_service_cidr': '10.96.0.0/12', 'apiserver_cluster_domain': 'cluster.local',
    'apiserver_service_account_issuer': 'https://kubernetes.default.svc.cluster.local', 'apiserver_allow_privileged': True,
    'apiserver_admission_plugins': ['NodeRestriction'], 'apiserver_log_level': 2, 'apiserver_anonymous_auth': 'health_only',
    'apiserver_legacy_token_auth': False, 'apiserver_legacy_basic_auth': False, 'apiserver_secrets_dir': '/srv/kubernetes',
    'apiserver_config_dir': '/etc/kubernetes/apiserver', 'apiserver_manifest_dir': '/etc/kubernetes/manifests',
    'apiserver_binary': '/usr/local/bin/kube-apiserver', 'apiserver_image': 'registry.k8s.io/kube-apiserver:v1.35.4',
    'apiserver_log_file': '/var/log/kube-apiserver.log', 'apiserver_log_owner': 'root', 'apiserver_log_group': 'adm',
    'apiserver_log_mode': '0640', 'apiserver_audit_log_path': '/var/log/kubernetes/audit/audit.log',
    'apiserver_audit_log_maxage': 30, 'apiserver_audit_log_maxbackup': 10, 'apiserver_audit_log_maxsize': 100,
    'apiserver_audit_policy_rules': [{'level': 'Metadata'}], 'apiserver_extra_args': {},
    'apiserver_health_retries': 60, 'apiserver_health_delay': 1, 'apiserver_shutdown_delay_seconds': 5,
}
SECRETS = ['/srv/kubernetes/' + name for name in (
    'ca.crt', 'server.cert', 'server.key', 'etcd-ca.crt', 'apiserver-etcd-client.crt', 'apiserver-etcd-client.key',
    'apiserver-kubelet-client.crt', 'apiserver-kubelet-client.key', 'sa.key', 'sa.pub')]
BINARY = '/usr/local/bin/kube-apiserver'


def plan(etcd_urls=ETCD, **change):
    return apiserver_plan(dict(DEFAULTS, **{'apiserver_' + k: v for k, v in change.items()}), etcd_urls=etcd_urls)


def test_the_defaults_have_no_problem_and_the_filter_is_registered():
    assert plan()['problems'] == []
    assert FilterModule().filters()['apiserver_plan'] is apiserver_plan


def test_default_flags():
    flags = plan()['flags']
    assert flags == {
        'advertise-address': '10.0.0.11', 'allow-privileged': 'true', 'audit-log-maxage': 30, 'audit-log-maxbackup': 10,
        'audit-log-maxsize': 100, 'audit-log-path': '/var/log/kubernetes/audit/audit.log',
        'audit-policy-file': '/etc/kubernetes/apiserver/audit-policy.yaml',
        'authentication-config': '/etc/kubernetes/apiserver/authentication-config.yaml',
        'authorization-mode': 'Node,RBAC', 'bind-address': '0.0.0.0', 'client-ca-file': '/srv/kubernetes/ca.crt',
        'enable-admission-plugins': 'NodeRestriction', 'etcd-cafile': '/srv/kubernetes/etcd-ca.crt',
        'etcd-certfile': '/srv/kubernetes/apiserver-etcd-client.crt', 'etcd-keyfile': '/srv/kubernetes/apiserver-etcd-client.key',
        'etcd-servers': 'https://10.0.0.11:2379,https://10.0.0.12:2379',
        'kubelet-client-certificate': '/srv/kubernetes/apiserver-kubelet-client.crt',
        'kubelet-client-key': '/srv/kubernetes/apiserver-kubelet-client.key',
        'kubelet-preferred-address-types': 'InternalIP,ExternalIP,Hostname', 'profiling': 'false', 'secure-port': 6443,
        'service-account-issuer': 'https://kubernetes.default.svc.cluster.local', 'service-account-key-file': '/srv/kubernetes/sa.pub',
        'service-account-signing-key-file': '/srv/kubernetes/sa.key', 'service-cluster-ip-range': '10.96.0.0/12', 'shutdown-delay-duration': '5s',
        'shutdown-watch-termination-grace-period': '10s',
        'tls-cert-file': '/srv/kubernetes/server.cert', 'tls-min-version': 'VersionTLS12',
        'tls-private-key-file': '/srv/kubernetes/server.key', 'v': 2}


@pytest.mark.parametrize('version, insecure_port, authn_api', [
    ('1.18.20', True, 'v1beta1'), ('v1.23.17', True, 'v1beta1'), ('1.24.0', False, 'v1beta1'),
    ('1.33.1', False, 'v1beta1'), ('1.34.0', False, 'v1'), ('v1.35.4', False, 'v1'),
])
def test_version_gates(version, insecure_port, authn_api):
    result = plan(kubernetes_version=version, anonymous_auth='disabled')
    assert ('insecure-port' in result['flags']) is insecure_port
    if insecure_port:
        assert result['flags']['insecure-port'] == '0'
    assert result['authentication_config']['apiVersion'] == 'apiserver.config.k8s.io/' + authn_api


def test_anonymous_disabled_replaces_the_authentication_configuration():
    result = plan(anonymous_auth='disabled')
    assert result['flags']['anonymous-auth'] == 'false' and 'authentication-config' not in result['flags']
    assert result['config_files'] == ['audit-policy.yaml']
    files = {f['path']: f for f in result['files']}
    assert files['/etc/kubernetes/apiserver/authentication-config.yaml'] == {
        'path': '/etc/kubernetes/apiserver/authentication-config.yaml', 'state': 'absent'}
    (unit,) = result['units']
    assert unit['health'] == {'url': 'https://10.0.0.11:6443/readyz', 'ca_path': '/srv/kubernetes/ca.crt',
                              'client_cert': '/srv/kubernetes/kubecfg.crt', 'client_key': '/srv/kubernetes/kubecfg.key'}


def test_legacy_opt_ins_add_their_flags_and_inputs():
    result = plan(kubernetes_version='1.18.20', legacy_token_auth=True, legacy_basic_auth=True, anonymous_auth='disabled')
    assert result['flags']['token-auth-file'] == '/srv/kubernetes/known_tokens.csv'
    assert result['flags']['basic-auth-file'] == '/srv/kubernetes/basic_auth.csv'
    assert result['inputs'] == SECRETS + ['/srv/kubernetes/known_tokens.csv', '/srv/kubernetes/basic_auth.csv', BINARY]
    assert result['problems'] == []
    assert not {'token-auth-file', 'basic-auth-file'} & set(plan()['flags'])
    assert plan()['inputs'] == SECRETS + [BINARY]


def test_extra_args_and_optional_values():
    flags = plan(extra_args={'max-requests-inflight': 800}, allow_privileged='no', admission_plugins=['A', 'B'])['flags']
    assert flags['max-requests-inflight'] == 800 and flags['allow-privileged'] == 'false'
    assert flags['enable-admission-plugins'] == 'A,B'


def test_host_mode_files_and_unit():
    result = plan()
    assert result['files'] == [
        {'path': '/etc/kubernetes/apiserver', 'state': 'directory', 'mode': '0700'},
        {'path': '/var/log/kubernetes/audit', 'state': 'directory', 'mode': '0700'},
        {'path': '/etc/kubernetes/apiserver/audit-policy.yaml', 'template': 'audit-policy.yaml.j2', 'mode': '0600',
         'restarts': ['kube-apiserver']},
        {'path': '/etc/kubernetes/apiserver/authentication-config.yaml', 'template': 'authentication-config.yaml.j2',
         'mode': '0600', 'restarts': ['kube-apiserver']},
        {'path': '/var/log/kube-apiserver.log', 'state': 'touch', 'owner': 'root', 'group': 'adm', 'mode': '0640'},
        {'path': '/etc/systemd/system/kube-apiserver.service', 'template': 'kube-apiserver.service.j2', 'mode': '0644',
         'validate': 'systemd:kube-apiserver.service', 'restarts': ['kube-apiserver']},
    ]
    # the binary counts in host mode: a new release restarts the apiserver on it
    assert result['units'] == [{'name': 'kube-apiserver', 'inputs': SECRETS + [BINARY], 'enabled': True, 'health_timeout': 60,
                                'health': {'url': 'https://10.0.0.11:6443/readyz', 'ca_path': '/srv/kubernetes/ca.crt'}}]
    assert result['config_files'] == ['audit-policy.yaml', 'authentication-config.yaml']
    assert result['audit_policy'] == {'apiVersion': 'audit.k8s.io/v1', 'kind': 'Policy', 'omitStages': ['RequestReceived'],
                                      'rules': [{'level': 'Metadata'}]}


def test_static_pod_mode_stages_the_manifest():
    result = plan(mode='static_pod', node_ip='fd00::11', health_retries='7', health_delay=3)
    files = {f['path']: f for f in result['files']}
    assert files['/etc/kubernetes/apiserver/kube-apiserver.yaml'] == {
        'path': '/etc/kubernetes/apiserver/kube-apiserver.yaml', 'template': 'kube-apiserver.yaml.j2', 'mode': '0600',
        'digest_of': SECRETS}
    assert files['/etc/kubernetes/apiserver/audit-policy.yaml']['restarts'] == []
    assert '/etc/systemd/system/kube-apiserver.service' not in files and '/var/log/kube-apiserver.log' not in files
    (unit,) = result['units']
    # a restart waits for a kube-apiserver process started after the new manifest, then for /readyz
    assert unit == {'name': 'kube-apiserver', 'inputs': SECRETS, 'health_timeout': 21, 'kind': 'static_pod',
                    'process': 'kube-apiserver', 'source': '/etc/kubernetes/apiserver/kube-apiserver.yaml',
                    'manifest': '/etc/kubernetes/manifests/kube-apiserver.yaml', 'stop_timeout': 75,
                    'health': {'url': 'https://[fd00::11]:6443/readyz', 'ca_path': '/srv/kubernetes/ca.crt'}}


@pytest.mark.parametrize('change, etcd_urls, message', [
    ({'mode': 'nope'}, ETCD, "apiserver_mode is 'nope'; set it to host or static_pod."),
    ({'anonymous_auth': 'maybe'}, ETCD, "apiserver_anonymous_auth is 'maybe'; set it to health_only or disabled."),
    ({}, (), "etcd client URLs from group 'etcd': []. Every etcd member needs an address (kubeha_node_ip or gathered facts); "
             "fix the inventory."),
    ({}, ['https://10.0.0.11:2379', 'https://[]:2379'],
     "etcd client URLs from group 'etcd': ['https://10.0.0.11:2379', 'https://[]:2379']. Every etcd member needs an address"),
    ({'etcd_group': 'e'}, ['https://:2379'], "etcd client URLs from group 'e': ['https://:2379']."),
    ({'legacy_basic_auth': True, 'kubernetes_version': '1.19.0', 'anonymous_auth': 'disabled'}, ETCD,
     "apiserver_legacy_basic_auth is true but the target Kubernetes version is 1.19.0: kube-apiserver removed --basic-auth-file "
     "in 1.19 and would refuse to start. Set apiserver_legacy_basic_auth: false and give users client certificates (or, as a "
     "legacy opt-in, tokens with apiserver_legacy_token_auth)."),
    ({'extra_args': {'--insecure-port': 8080, 'etcd-servers': 'x', 'foo': 1}}, ETCD,
     "apiserver_extra_args sets ['insecure-port', 'etcd-servers'], which the role sets itself (or which would open an insecure "
     "or legacy path). Use the role's variables instead (apiserver_secure_port, apiserver_bind_address, "
     "apiserver_anonymous_auth, apiserver_legacy_*_auth, apiserver_shutdown_delay_seconds)."),
    ({'kubernetes_version': 'v1.31.4'}, ETCD,
     "apiserver_anonymous_auth is health_only but Kubernetes 1.31.4 cannot limit anonymous requests to health paths (KEP-4633 "
     "needs 1.32+). Set apiserver_anonymous_auth: disabled (every request, health checks included, then needs a client "
     "certificate) or target 1.32 or later."),
])
def test_each_problem(change, etcd_urls, message):
    (problem,) = plan(etcd_urls=etcd_urls, **change)['problems']
    assert problem.startswith(message)


def test_every_problem_at_once():
    problems = plan(etcd_urls=[], mode='x', anonymous_auth='y', legacy_basic_auth=True, extra_args={'secure-port': 1})['problems']
    assert len(problems) == 5


@pytest.mark.parametrize('settings', [None, [], 'apiserver_mode'])
def test_not_a_dict_is_refused(settings):
    with pytest.raises(AnsibleFilterError, match="apiserver_plan: expected the role's variables"):
        apiserver_plan(settings, etcd_urls=ETCD)


def test_a_missing_variable_is_named():
    settings = dict(DEFAULTS)
    del settings['apiserver_secrets_dir']
    with pytest.raises(AnsibleFilterError, match='apiserver_secrets_dir is not set'):
        apiserver_plan(settings, etcd_urls=ETCD)


def test_what_the_other_mode_left_is_refused():
    (host,) = plan()['refuse']
    (static,) = plan(mode='static_pod')['refuse']
    assert host['path'] == '/etc/kubernetes/manifests/kube-apiserver.yaml'
    assert static['path'] == '/etc/systemd/system/kube-apiserver.service'
    assert host['msg'].startswith('kube-apiserver runs in static_pod mode on this host (apiserver_mode is host now)')
    assert 'set apiserver_mode back to host' in static['msg'] and 'not supported' in static['msg']


def test_a_stopping_apiserver_keeps_serving_for_the_shutdown_delay_and_is_given_time_to_drain():
    # /readyz fails at once and the balancer moves new connections away before the listener closes
    assert plan()['flags']['shutdown-delay-duration'] == '5s'
    assert plan()['stop_timeout'] == 75
    assert plan(shutdown_delay_seconds='12')['flags']['shutdown-delay-duration'] == '12s'
    assert plan(shutdown_delay_seconds=0)['flags']['shutdown-delay-duration'] == '0s'
    assert plan(shutdown_delay_seconds=0)['stop_timeout'] == 70
    # the open watches end after the delay, instead of holding the HTTP server's shutdown for 60 s
    assert plan()['flags']['shutdown-watch-termination-grace-period'] == '10s'
    assert plan(extra_args={'shutdown-watch-termination-grace-period': '30s'})['flags']['shutdown-watch-termination-grace-period'] == '30s'
    # static pods: the wait for the new pod's process allows the old one's graceful stop
    assert plan(mode='static_pod')['units'][0]['stop_timeout'] == 75
    assert 'stop_timeout' not in plan()['units'][0]


@pytest.mark.parametrize('value', [-1, '5s', 2.5, True, None])
def test_a_shutdown_delay_that_is_not_whole_seconds_is_refused_with_the_fix(value):
    problems = plan(shutdown_delay_seconds=value)['problems']
    assert len(problems) == 1
    assert problems[0].startswith('apiserver_shutdown_delay_seconds is %r; set it to a whole number of seconds' % (value,))
    assert 'loadbalancer_check_interval x loadbalancer_check_fall' in problems[0]


def test_the_shutdown_delay_is_the_roles_variable_not_an_extra_arg():
    problems = plan(extra_args={'shutdown-delay-duration': '30s'})['problems']
    assert len(problems) == 1 and "['shutdown-delay-duration']" in problems[0] and 'apiserver_shutdown_delay_seconds' in problems[0]
