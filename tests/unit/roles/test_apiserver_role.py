"""The apiserver and loadbalancer roles: rendered flags are real real flags of the default release, the manifest validates,
version gates, and refusals that change nothing.

Templates are rendered with real Ansible (tests/unit/roles/rendering.py, as for test_rendered_flags.py);
the refusals run the role in check mode against localhost and read its failure message.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import kubernetes_validate
import pytest
import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(ROOT, 'tests', 'support'))

from rendering import render, systemd_execstart_args  # noqa: E402  pylint: disable=wrong-import-position,import-error
from versions import KUBERNETES_DEFAULT  # noqa: E402  pylint: disable=wrong-import-position,import-error
from pflag import load_flag_table, parse_args  # noqa: E402  pylint: disable=wrong-import-position,import-error

VERSION = KUBERNETES_DEFAULT
ETCD = ['https://10.0.0.11:2379', 'https://10.0.0.12:2379', 'https://10.0.0.13:2379']
BASE = {'_apiserver_etcd_urls': ETCD, '_apiserver_config_digest': 'c0ffee', 'apiserver_node_ip': '10.0.0.11'}
# what the role hands to kubeha.cluster.daemon, rendered like the templates (a test-only template, written by the fixture)
DAEMON_ARGS = 'daemon-args.json.j2'
DISABLED_TOKEN = dict(BASE, apiserver_anonymous_auth='disabled', apiserver_legacy_token_auth=True)
LB = {'_loadbalancer_plan': {'backends': [{'name': 'm1', 'address': '10.0.0.11'}, {'name': 'm2', 'address': '10.0.0.12'}],
                             'peers': ['10.0.0.12']}, 'loadbalancer_address': '10.0.0.100', 'loadbalancer_node_ip': '10.0.0.11',
      'loadbalancer_vrrp_priority': 150, 'loadbalancer_vip_interface': 'eth0', 'inventory_hostname': 'm1'}

CASES = [
    dict(id='unit', role='apiserver', template='kube-apiserver.service.j2', vars=BASE),
    dict(id='unit-legacy-token', role='apiserver', template='kube-apiserver.service.j2',
         vars=dict(BASE, apiserver_legacy_token_auth=True, apiserver_extra_args={'max-requests-inflight': 800})),
    dict(id='unit-anonymous-disabled', role='apiserver', template='kube-apiserver.service.j2', vars=dict(BASE, apiserver_anonymous_auth='disabled')),
    dict(id='unit-1.18', role='apiserver', template='kube-apiserver.service.j2',
         vars=dict(BASE, apiserver_kubernetes_version='1.18.20', apiserver_anonymous_auth='disabled', apiserver_legacy_basic_auth=True)),
    dict(id='manifest', role='apiserver', template='kube-apiserver.yaml.j2', vars=BASE),
    dict(id='manifest-event-ttl', role='apiserver', template='kube-apiserver.yaml.j2',
         vars=dict(BASE, apiserver_extra_args={'event-ttl': '2h0m0s'})),
    dict(id='authn', role='apiserver', template='authentication-config.yaml.j2', vars=BASE),
    dict(id='audit', role='apiserver', template='audit-policy.yaml.j2', vars=BASE),
    dict(id='daemon-host', role='apiserver', template=DAEMON_ARGS, vars=BASE),
    dict(id='daemon-host-disabled-token', role='apiserver', template=DAEMON_ARGS, vars=DISABLED_TOKEN),
    dict(id='unit-disabled-token', role='apiserver', template='kube-apiserver.service.j2', vars=DISABLED_TOKEN),
    dict(id='daemon-static', role='apiserver', template=DAEMON_ARGS, vars=dict(BASE, apiserver_mode='static_pod')),
    dict(id='haproxy', role='loadbalancer', template='haproxy.cfg.j2', vars=LB),
    dict(id='keepalived', role='loadbalancer', template='keepalived.conf.j2', vars=LB),
]


@pytest.fixture(scope='module', name='rendered')
def rendered_fixture(tmp_path_factory):
    """Every case rendered in one ansible-playbook run."""
    workdir = tmp_path_factory.mktemp('apiserver-rendered')
    args_template = workdir / DAEMON_ARGS
    args_template.write_text("{{ {'files': _apiserver_plan.files, 'units': _apiserver_plan.units} | to_json }}\n")
    cases = [dict(c, template=str(args_template)) if c['template'] == DAEMON_ARGS else c for c in CASES]
    return render(cases, workdir)


def flags(args):
    """Parse like kube-apiserver 1.34 (unknown flags and bad values raise FlagError)."""
    values, positional = parse_args(load_flag_table('kube-apiserver', VERSION), args)
    assert not positional
    return values


def test_unit_flags_are_real_and_carry_the_cluster(rendered):
    values = flags(systemd_execstart_args(rendered['unit']))
    assert values['etcd-servers'] == [','.join(ETCD)]
    assert values['etcd-cafile'] == ['/srv/kubernetes/etcd-ca.crt']
    assert values['etcd-certfile'] == ['/srv/kubernetes/apiserver-etcd-client.crt']
    assert values['client-ca-file'] == ['/srv/kubernetes/ca.crt']
    assert values['tls-cert-file'] == ['/srv/kubernetes/server.cert']
    assert values['tls-private-key-file'] == ['/srv/kubernetes/server.key']
    assert values['service-account-issuer'] == ['https://kubernetes.default.svc.cluster.local']
    assert values['service-account-signing-key-file'] == ['/srv/kubernetes/sa.key']
    assert values['authorization-mode'] == ['Node,RBAC']
    assert values['secure-port'] == ['6443']
    assert values['audit-log-path'] == ['/var/log/kubernetes/audit/audit.log']
    assert values['authentication-config'] == ['/etc/kubernetes/apiserver/authentication-config.yaml']
    # anonymous requests are limited by the authentication configuration, so the flag must be absent
    assert not {'anonymous-auth', 'token-auth-file', 'basic-auth-file', 'insecure-port'} & set(values)
    assert 'StandardOutput=append:/var/log/kube-apiserver.log' in rendered['unit']
    # no digest in the unit: kubeha.cluster.daemon keeps one per unit (test_every_file_the_apiserver_reads_restarts_it)
    assert 'sha256' not in rendered['unit']


def test_legacy_token_and_extra_args(rendered):
    values = flags(systemd_execstart_args(rendered['unit-legacy-token']))
    assert values['token-auth-file'] == ['/srv/kubernetes/known_tokens.csv']
    assert values['max-requests-inflight'] == ['800']


def test_anonymous_disabled(rendered):
    values = flags(systemd_execstart_args(rendered['unit-anonymous-disabled']))
    assert values['anonymous-auth'] == ['false'] and 'authentication-config' not in values


def test_old_version_gets_basic_auth_and_a_closed_insecure_port(rendered):
    args = systemd_execstart_args(rendered['unit-1.18'])
    assert '--basic-auth-file=/srv/kubernetes/basic_auth.csv' in args
    assert '--insecure-port=0' in args


def test_static_pod_manifest_validates_and_has_the_same_flags(rendered):
    manifest = yaml.safe_load(rendered['manifest'])
    kubernetes_validate.validate(manifest, VERSION, strict=True)
    container = manifest['spec']['containers'][0]
    assert container['command'][0] == 'kube-apiserver'
    assert flags(container['command'][1:]) == flags(systemd_execstart_args(rendered['unit']))
    assert container['image'] == 'registry.k8s.io/kube-apiserver:v' + VERSION
    assert container['readinessProbe']['httpGet']['path'] == '/readyz'
    # the daemon module puts the digest of the certificates and keys in on the host (digest_of)
    assert manifest['metadata']['annotations']['kubeha.io/inputs-sha256'] == '@@inputs_digest@@'
    assert manifest['metadata']['annotations']['kubeha.io/config-sha256'] == 'c0ffee'


def _secret_and_config_paths(values):
    """Every file under /srv/kubernetes or /etc/kubernetes/apiserver that a parsed flag names."""
    paths = [v for vs in values.values() for v in vs if v.startswith(('/srv/kubernetes/', '/etc/kubernetes/apiserver/'))]
    return [p for p in paths if p.startswith('/srv/')], [p for p in paths if p.startswith('/etc/')]


def test_a_flag_added_or_removed_changes_the_manifest_by_that_flag_only(rendered):
    """Molecule static_pod rolls a new flag (--event-ttl) through the manifests and does not roll it back: removing an
    extra flag changes the staged manifest as adding it did (kubeha.cluster.daemon rolls on a changed manifest)."""
    with_flag = yaml.safe_load(rendered['manifest-event-ttl'])['spec']['containers'][0]['command']
    without = yaml.safe_load(rendered['manifest'])['spec']['containers'][0]['command']
    assert rendered['manifest-event-ttl'] != rendered['manifest']
    assert [a for a in with_flag if a not in without] == ['--event-ttl=2h0m0s']
    assert [a for a in without if a not in with_flag] == []


@pytest.mark.parametrize('case, unit', [('daemon-host', 'unit'), ('daemon-host-disabled-token', 'unit-disabled-token')])
def test_every_file_the_apiserver_reads_restarts_it(rendered, case, unit):
    """Host mode: certificates and keys are the unit's inputs, configuration files and the unit name it in restarts."""
    args = json.loads(rendered[case])
    files = {f['path']: f for f in args['files']}
    (daemon,) = args['units']
    values = flags(systemd_execstart_args(rendered[unit]))
    secrets, configs = _secret_and_config_paths(values)
    assert secrets and configs
    assert set(secrets) <= set(daemon['inputs'])
    for path in configs:
        assert files[path]['restarts'] == ['kube-apiserver'] and files[path]['mode'] == '0600'
    service = files['/etc/systemd/system/kube-apiserver.service']
    assert service['restarts'] == ['kube-apiserver'] and service['validate'] == 'systemd:kube-apiserver.service'
    assert daemon['name'] == 'kube-apiserver' and daemon['enabled'] is True and daemon.get('kind', 'systemd') == 'systemd'
    assert files['/var/log/kube-apiserver.log'] == {'path': '/var/log/kube-apiserver.log', 'state': 'touch', 'owner': 'root',
                                                    'group': 'adm', 'mode': '0640'}
    assert files['/etc/kubernetes/apiserver']['mode'] == '0700' and files['/var/log/kubernetes/audit']['mode'] == '0700'
    assert daemon['health']['url'] == 'https://10.0.0.11:6443/readyz'
    assert daemon['health']['ca_path'] == '/srv/kubernetes/ca.crt'
    assert daemon['health_timeout'] == 60


def test_health_gate_and_inputs_follow_the_auth_choices(rendered):
    (daemon,) = json.loads(rendered['daemon-host-disabled-token'])['units']
    # anonymous requests refused everywhere: the gate asks as the admin
    assert daemon['health']['client_cert'] == '/srv/kubernetes/kubecfg.crt'
    assert daemon['health']['client_key'] == '/srv/kubernetes/kubecfg.key'
    assert '/srv/kubernetes/known_tokens.csv' in daemon['inputs']
    files = {f['path']: f for f in json.loads(rendered['daemon-host-disabled-token'])['files']}
    assert files['/etc/kubernetes/apiserver/authentication-config.yaml'] == {
        'path': '/etc/kubernetes/apiserver/authentication-config.yaml', 'state': 'absent'}
    (health_only,) = json.loads(rendered['daemon-host'])['units']
    assert 'client_cert' not in health_only['health']


def test_static_pod_is_staged_with_the_digest_of_its_inputs(rendered):
    args = json.loads(rendered['daemon-static'])
    files = {f['path']: f for f in args['files']}
    (daemon,) = args['units']
    staged = files['/etc/kubernetes/apiserver/kube-apiserver.yaml']
    assert staged['template'] == 'kube-apiserver.yaml.j2' and staged['mode'] == '0600'
    assert staged['digest_of'] == daemon['inputs'] and '/srv/kubernetes/server.cert' in daemon['inputs']
    assert daemon == dict(daemon, kind='static_pod', name='kube-apiserver', source='/etc/kubernetes/apiserver/kube-apiserver.yaml',
                          manifest='/etc/kubernetes/manifests/kube-apiserver.yaml')
    assert '/etc/systemd/system/kube-apiserver.service' not in files and '/var/log/kube-apiserver.log' not in files
    # configuration changes reach the pod through the manifest's config digest, not through a unit
    assert files['/etc/kubernetes/apiserver/audit-policy.yaml']['restarts'] == []


def test_anonymous_only_on_health_paths(rendered):
    text = '\n'.join(line for line in rendered['authn'].splitlines() if not line.startswith('#'))
    config = json.loads(text)
    assert yaml.safe_load(rendered['authn']) == config  # what the real apiserver reads (YAML) is what the stand-in reads
    assert config['apiVersion'] == 'apiserver.config.k8s.io/v1' and config['kind'] == 'AuthenticationConfiguration'
    assert config['anonymous'] == {'enabled': True, 'conditions': [{'path': '/healthz'}, {'path': '/livez'}, {'path': '/readyz'}]}


def test_audit_policy(rendered):
    policy = yaml.safe_load(rendered['audit'])
    assert policy['kind'] == 'Policy' and policy['apiVersion'] == 'audit.k8s.io/v1'
    assert policy['rules'][-1] == {'level': 'Metadata'}


def test_haproxy_checks_readyz_over_verified_tls_fast(rendered):
    text = rendered['haproxy']
    assert 'mode tcp' in text
    assert 'http-check send meth GET uri /readyz' in text
    assert 'check check-ssl verify required ca-file /etc/haproxy/kubernetes-ca.crt inter 500ms fall 2 rise 2' in text
    assert 'server m1 10.0.0.11:6443' in text and 'server m2 10.0.0.12:6443' in text
    assert 'bind :::8443 v4v6' in text


def test_keepalived_vip_follows_a_checked_haproxy(rendered):
    text = rendered['keepalived']
    assert 'track_script' in text and 'http://127.0.0.1:8404/healthz' in text
    assert '10.0.0.100/32 dev eth0' in text
    assert 'unicast_peer {\n        10.0.0.12\n    }' in text
    assert 'nopreempt' in text and 'state BACKUP' in text


# --- refusals: the role in check mode against localhost -------------------------------------------
def run_role(tmp_path, role, extra, post_tasks=()):
    """Run a role in check mode on localhost (in groups masters, etcd); return (rc, output)."""
    inventory = tmp_path / 'inventory.yml'
    host = {'ansible_connection': 'local', 'kubeha_node_ip': '127.0.0.1', 'ansible_python_interpreter': sys.executable}
    inventory.write_text(yaml.safe_dump({'all': {'hosts': {'localhost': host},
                                                 'children': {'masters': {'hosts': {'localhost': None}}, 'etcd': {'hosts': {'localhost': None}}}}}))
    playbook = tmp_path / 'play.yml'
    playbook.write_text(yaml.safe_dump([{'name': 'Role', 'hosts': 'masters', 'gather_facts': False,
                                         'roles': [{'role': 'kubeha.cluster.' + role}], 'post_tasks': list(post_tasks)}]))
    env = dict(os.environ, ANSIBLE_NOCOLOR='1', ANSIBLE_RETRY_FILES_ENABLED='0')
    result = subprocess.run([os.path.join(os.path.dirname(sys.executable), 'ansible-playbook'), '--check', '-i', str(inventory),
                             '-e', json.dumps(extra), str(playbook)], capture_output=True, text=True, env=env, check=False, timeout=300)
    return result.returncode, result.stdout + result.stderr


@pytest.mark.parametrize('extra, message', [
    ({'apiserver_legacy_basic_auth': True}, 'kube-apiserver removed --basic-auth-file in 1.19'),
    ({'apiserver_legacy_basic_auth': True, 'kubeha_kubernetes_version': '1.19.0'}, 'kube-apiserver removed --basic-auth-file in 1.19'),
    ({'kubeha_kubernetes_version': '1.31.4'}, 'cannot limit anonymous requests to health paths (KEP-4633 needs 1.32+)'),
    ({'apiserver_extra_args': {'insecure-port': 8080}}, "apiserver_extra_args sets ['insecure-port']"),
    ({'apiserver_extra_args': {'--etcd-servers': 'http://127.0.0.1:2379'}}, "apiserver_extra_args sets ['etcd-servers']"),
    ({'kubeha_node_ip': ''}, "etcd client URLs from group 'etcd': ['https://:2379']. Every etcd member needs an address"),
])
def test_refusals_say_what_to_do(tmp_path, extra, message):
    code, output = run_role(tmp_path, 'apiserver', extra)
    assert code != 0
    assert message in ' '.join(output.split())


def test_loadbalancer_refuses_a_missing_address(tmp_path):
    code, output = run_role(tmp_path, 'loadbalancer', {})
    assert code != 0 and 'set kubeha_lb_address' in ' '.join(output.split())


def test_loadbalancer_refuses_the_apiserver_port_on_masters(tmp_path):
    code, output = run_role(tmp_path, 'loadbalancer', {'kubeha_lb_address': '10.0.0.100', 'kubeha_lb_port': 6443, 'loadbalancer_group': 'masters'})
    assert code != 0 and 'they must differ when the balancer runs on the masters' in ' '.join(output.split())


def test_static_pod_mode_in_check_mode_reports_and_writes_nothing(tmp_path):
    """The role's static_pod call is one the daemon module accepts; check mode reports the pod it would start."""
    where = {'apiserver_mode': 'static_pod', 'apiserver_config_dir': str(tmp_path / 'apiserver'),
             'apiserver_manifest_dir': str(tmp_path / 'manifests'), 'apiserver_audit_log_path': str(tmp_path / 'audit' / 'audit.log'),
             'apiserver_secrets_dir': str(tmp_path / 'srv')}
    report = tmp_path / 'daemon.json'
    save = {'name': 'Save what the daemon call reported', 'check_mode': False,
            'ansible.builtin.copy': {'content': '{{ _apiserver_daemon | to_json }}', 'dest': str(report), 'mode': '0600'}}
    code, output = run_role(tmp_path, 'apiserver', where, post_tasks=[save])
    assert code == 0, output[-3000:]
    result = json.loads(report.read_text())
    assert result['changed'] and result['units']['kube-apiserver']['action'] == 'started'
    assert result['files'][where['apiserver_config_dir'] + '/kube-apiserver.yaml'] == 'created'
    assert result['files'][where['apiserver_config_dir'] + '/audit-policy.yaml'] == 'created'
    assert not (tmp_path / 'apiserver').exists() and not (tmp_path / 'manifests').exists()


@pytest.mark.parametrize('sans, dns_names, ok', [
    ('IP:10.0.0.100,DNS:k8s.test', ['k8s.test'], True),
    ('IP:10.0.0.10,DNS:k8s.test', ['k8s.test'], False),  # a prefix of the address is not the address
    ('IP:10.0.0.100,DNS:k8s.test', ['k8s.test', 'api.test'], False),
])
def test_loadbalancer_checks_its_names_in_the_apiserver_certificate(tmp_path, sans, dns_names, ok):
    """The controller's apiserver certificate must carry the load balancer's address and every DNS name."""
    secrets = tmp_path / 'secrets'
    (secrets / 'kubernetes').mkdir(parents=True)
    subprocess.run(['openssl', 'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
                    '-subj', '/CN=kube-apiserver', '-addext', 'subjectAltName=' + sans, '-days', '1',
                    '-keyout', str(tmp_path / 'key.pem'), '-out', str(secrets / 'kubernetes' / 'apiserver.crt')],
                   check=True, capture_output=True)
    extra = {'kubeha_lb_address': '10.0.0.100', 'kubeha_lb_dns_names': dns_names,
             'kubeha_secrets_dir': str(secrets), 'loadbalancer_admin_kubeconfig': ''}
    code, output = run_role(tmp_path, 'loadbalancer', extra)
    text = ' '.join(output.split())
    if ok:
        assert code == 0, text[-2000:]
    else:
        assert code != 0 and 'does not carry the load balancer (10.0.0.100, ' in text, text[-2000:]
        assert 'Run the secrets role with kubeha_lb_address and kubeha_lb_dns_names set' in text


def test_loadbalancer_refuses_a_vip_outside_the_balancers_subnet(tmp_path):
    # localhost balances at 127.0.0.1; a /24 VIP elsewhere would sit on a segment it does not share
    code, output = run_role(tmp_path, 'loadbalancer', {'kubeha_lb_address': '10.0.0.100', 'loadbalancer_vip_prefix': 24,
                                                       'loadbalancer_group': 'masters'})
    text = ' '.join(output.split())
    assert code != 0 and 'loadbalancer_address 10.0.0.100/24 spans 10.0.0.0/24, which does not hold localhost (127.0.0.1)' in text
