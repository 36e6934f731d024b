"""The etcd role's templates and inventory validation, rendered and run with real Ansible.

- The systemd unit's and the static pod's etcd flags are parsed by real etcd binaries of every supported
  release (3.5 and 3.6, built by scripts/setup.sh): `etcd <flags> --version` parses every flag before
  printing the version, so an unknown flag or a mistyped value fails.
- The static pod manifest is valid against the Kubernetes Pod schema (kubernetes-validate --strict).
- A bad inventory fails in the role's first check, naming the host or variable and the fix, before any
  task that could change a host has run.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys

import pytest
import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from rendering import ROOT, render, systemd_execstart_args  # noqa: E402  pylint: disable=wrong-import-position,import-error

sys.path.insert(0, os.path.join(ROOT, 'tests', 'support'))
from versions import ETCD_SUPPORTED  # noqa: E402  pylint: disable=wrong-import-position,import-error

BIN = os.path.dirname(sys.executable)
INITIAL_CLUSTER = 'etcd1=https://10.0.0.11:2380,etcd2=https://10.0.0.12:2380,etcd3=https://10.0.0.13:2380'
THREE = {
    '_etcd_hosts': ['etcd1', 'etcd2', 'etcd3'],
    # what each member's first task records about it (tasks/validate.yml)
    '_etcd_members': [{'name': 'etcd%d' % i, 'client_url': 'https://10.0.0.1%d:2379' % i,
                       'initial': 'etcd%d=https://10.0.0.1%d:2380' % (i, i)} for i in (1, 2, 3)],
    'etcd_name': 'etcd1',
    'etcd_node_ip': '10.0.0.11',
    'etcd_group': 'etcd',
    'etcd_mode': 'host',
    'etcd_kubernetes_version': '1.34.2',
}
FRESH = dict(THREE, _etcd_data_hosts=[])
SETTLED = dict(THREE, _etcd_data_hosts=['etcd1'])
# v2 discovery (etcd 3.5: a discovery URL) and v3 discovery (etcd 3.6: a token and the discovery etcd's endpoints)
DISCOVERY = dict(FRESH, etcd_bootstrap='discovery', etcd_discovery_ca_cert='/etc/etcd/discovery/ca.crt', etcd_version='3.5.35',
                 _etcd_discovery={'discovery_url': 'https://10.0.0.5:4001/v2/keys/_etcd/registry/0123abcd'})
DISCOVERY_V3 = dict(DISCOVERY, etcd_version='3.6.16',
                    _etcd_discovery={'discovery_url': '', 'token': '0123abcd', 'endpoints': ['https://10.0.0.5:4001']})

CASES = [
    dict(id='unit-fresh', role='etcd', template='etcd.service.j2', vars=FRESH),
    dict(id='env-fresh', role='etcd', template='etcd-bootstrap.env.j2', vars=FRESH),
    dict(id='env-settled', role='etcd', template='etcd-bootstrap.env.j2', vars=SETTLED),
    dict(id='env-discovery', role='etcd', template='etcd-bootstrap.env.j2', vars=DISCOVERY),
    dict(id='env-discovery-v3', role='etcd', template='etcd-bootstrap.env.j2', vars=DISCOVERY_V3),
    dict(id='unit-extra', role='etcd', template='etcd.service.j2',
         vars=dict(SETTLED, etcd_extra_args={'quota-backend-bytes': 8589934592, 'auto-compaction-retention': '1h'},
                   etcd_unsupported_arch='arm', etcd_data_mount={'src': 'nfs:/x', 'fstype': 'nfs4', 'path': '/srv/etcd',
                                                                 'shared': True})),
    dict(id='pod-fresh', role='etcd', template='etcd.yaml.j2', vars=dict(FRESH, etcd_mode='static_pod')),
    dict(id='pod-settled', role='etcd', template='etcd.yaml.j2', vars=dict(SETTLED, etcd_mode='static_pod')),
    dict(id='pod-discovery', role='etcd', template='etcd.yaml.j2', vars=dict(DISCOVERY, etcd_mode='static_pod')),
    dict(id='pod-discovery-v3', role='etcd', template='etcd.yaml.j2', vars=dict(DISCOVERY_V3, etcd_mode='static_pod')),
    dict(id='disc-service', role='etcd_discovery_service', template='etcd-discovery.service.j2',
         vars={'etcd_discovery_service_ip': '10.0.0.5', 'etcd_discovery_service_cert': '/etc/etcd/pki/server.crt',
               'etcd_discovery_service_key': '/etc/etcd/pki/server.key'}),
]


# every supported release, as scripts/setup.sh builds them (a missing one fails the test that needs it)
ETCD = {'.'.join(version.split('.')[:2]): os.path.join(os.environ.get('KUBEHA_RELEASE_DIR', '/var/tmp/kubeha/release'), 'etcd',
                                                       'etcd-v%s-linux-%s' % (version, os.environ.get('KUBEHA_ARCH', 'amd64')), 'etcd')
        for version in ETCD_SUPPORTED}


@pytest.fixture(scope='module', name='rendered')
def rendered_fixture(tmp_path_factory):
    """All cases rendered in one ansible-playbook run."""
    return render(CASES, tmp_path_factory.mktemp('etcd-rendered'))


def env_flags(text):
    """ETCD_X_Y="v" lines of an environment file as --x-y=v flags (what etcd does with them)."""
    flags = []
    for line in text.splitlines():
        if line.startswith('ETCD_'):
            name, value = line.split('=', 1)
            flags.append('--%s=%s' % (name[len('ETCD_'):].lower().replace('_', '-'), shlex.split(value)[0]))
    return flags


def flag_map(args):
    out = {}
    for arg in args:
        name, value = arg.split("=", 1) if "=" in arg else (arg, "")
        out[name] = value
    return out


def pod_args(text):
    pod = yaml.safe_load(text)
    command = pod['spec']['containers'][0]['command']
    assert command[0] == 'etcd'
    return command[1:]


def run_etcd_parser(binary, args):
    """Let etcd parse the flags: with --version it exits 0 after a successful parse, 2 on a bad flag."""
    result = subprocess.run([binary] + args + ['--version'], capture_output=True, text=True, check=False, timeout=30)
    return result.returncode, result.stdout + result.stderr


@pytest.mark.parametrize('version', sorted(ETCD))
@pytest.mark.parametrize('case', ['unit-fresh', 'unit-extra'])
def test_unit_flags_are_real_etcd_flags(rendered, version, case):
    args = systemd_execstart_args(rendered[case]) + env_flags(rendered['env-fresh'])
    code, output = run_etcd_parser(ETCD[version], args)
    assert code == 0, output


@pytest.mark.parametrize('version', sorted(ETCD))
def test_bogus_flag_is_caught_by_the_parser(rendered, version):
    """The parser check can fail: an extra flag etcd does not know is refused."""
    code, output = run_etcd_parser(ETCD[version], systemd_execstart_args(rendered['unit-fresh']) + ['--no-such-flag=1'])
    assert code != 0 and 'no-such-flag' in output


@pytest.mark.parametrize('case, version', [('pod-fresh', '3.5'), ('pod-fresh', '3.6'), ('pod-settled', '3.5'), ('pod-settled', '3.6'),
                                           ('pod-discovery', '3.5'), ('pod-discovery-v3', '3.6')])
def test_pod_flags_are_real_etcd_flags(rendered, version, case):
    code, output = run_etcd_parser(ETCD[version], pod_args(rendered[case]))
    assert code == 0, output


def test_tls_on_both_ports_with_client_certificates_and_no_auto_tls(rendered):
    flags = flag_map(systemd_execstart_args(rendered['unit-fresh']))
    assert flags['--client-cert-auth'] == 'true'
    assert flags['--peer-client-cert-auth'] == 'true'
    assert flags['--auto-tls'] == 'false' and flags['--peer-auto-tls'] == 'false'
    assert flags['--trusted-ca-file'] == flags['--peer-trusted-ca-file'] == '/etc/etcd/pki/ca.crt'
    assert flags['--cert-file'] == '/etc/etcd/pki/server.crt' and flags['--peer-cert-file'] == '/etc/etcd/pki/peer.crt'
    # listens on the node address and localhost, advertises only what it listens on
    assert flags['--listen-client-urls'] == 'https://10.0.0.11:2379,https://127.0.0.1:2379'
    assert flags['--advertise-client-urls'] == 'https://10.0.0.11:2379'
    assert flags['--listen-peer-urls'] == flags['--initial-advertise-peer-urls'] == 'https://10.0.0.11:2380'
    assert flags['--listen-metrics-urls'] == 'http://127.0.0.1:2381'
    assert flags['--data-dir'] == '/var/etcd/data'
    assert flags['--discovery-fallback'] == 'exit'  # never turn into a proxy when discovery says the cluster is full


def test_bootstrap_settings(rendered):
    fresh = flag_map(env_flags(rendered['env-fresh']))
    assert fresh['--initial-cluster-state'] == 'new'
    assert fresh['--initial-cluster'] == INITIAL_CLUSTER
    assert fresh['--initial-cluster-token'].startswith('kubeha-etcd-')
    settled = flag_map(env_flags(rendered['env-settled']))
    assert settled['--initial-cluster-state'] == 'existing'
    assert settled['--initial-cluster'] == INITIAL_CLUSTER
    assert settled['--initial-cluster-token'] == fresh['--initial-cluster-token']
    discovery = flag_map(env_flags(rendered['env-discovery']))
    assert discovery == {'--initial-cluster-state': 'new', '--discovery': DISCOVERY['_etcd_discovery']['discovery_url']}
    assert 'SSL_CERT_FILE="/etc/etcd/discovery/ca.crt"' in rendered['env-discovery']
    # etcd 3.6: v3 discovery with the member's own certificate (the discovery etcd asks for one), TLS verified
    v3 = flag_map(env_flags(rendered['env-discovery-v3']))
    assert v3 == {'--initial-cluster-state': 'new', '--discovery-token': '0123abcd', '--discovery-endpoints': 'https://10.0.0.5:4001',
                  '--discovery-cert': '/etc/etcd/pki/server.crt', '--discovery-key': '/etc/etcd/pki/server.key',
                  '--discovery-cacert': '/etc/etcd/discovery/ca.crt', '--discovery-insecure-transport': 'false'}
    code, output = run_etcd_parser(ETCD['3.6'], systemd_execstart_args(rendered['unit-fresh']) + env_flags(rendered['env-discovery-v3']))
    assert code == 0, output


def test_extra_args_storage_and_arch(rendered):
    text = rendered['unit-extra']
    flags = flag_map(systemd_execstart_args(text))
    assert flags['--quota-backend-bytes'] == '8589934592'
    assert flags['--auto-compaction-retention'] == '1h'
    assert flags['--data-dir'] == '/srv/etcd/etcd1'  # shared storage: one subdirectory per member
    assert 'RequiresMountsFor=/srv/etcd' in text
    assert 'Environment=ETCD_UNSUPPORTED_ARCH=arm' in text


def test_manifest_carries_the_inputs_digest_token(rendered):
    """The daemon module fills @@inputs_digest@@ (digest_of the CA file), so a new trust bundle changes the pod."""
    pod = yaml.safe_load(rendered['pod-settled'])
    assert pod['metadata']['annotations']['kubeha.io/inputs-digest'] == '@@inputs_digest@@'


def test_discovery_service_unit(rendered):
    flags = flag_map(systemd_execstart_args(rendered['disc-service']))
    assert flags['--enable-v2'] == 'true'
    assert flags['--listen-client-urls'] == 'https://10.0.0.5:4001,https://127.0.0.1:4001'
    assert flags['--advertise-client-urls'] == 'https://10.0.0.5:4001'
    assert flags['--listen-peer-urls'] == 'http://127.0.0.1:4002'  # a one-member etcd: peers on loopback only
    assert flags['--cert-file'] == '/etc/etcd/pki/server.crt'
    # the data dir is made by the unit (0700, owned by the service's user), not by a task
    assert 'ExecStartPre=+/usr/bin/install -d -o etcd -g etcd -m 0700 /var/lib/etcd-discovery' in rendered['disc-service']
    # etcd 3.5 still serves the v2 store with --enable-v2 (3.6 does not)
    code, output = run_etcd_parser(ETCD['3.5'], systemd_execstart_args(rendered['disc-service']))
    assert code == 0, output


@pytest.mark.skipif(shutil.which('kubernetes-validate', path=BIN) is None, reason='kubernetes-validate is not installed')
@pytest.mark.parametrize('kubernetes', ['1.30.0', '1.34.0'])
@pytest.mark.parametrize('case', ['pod-fresh', 'pod-settled', 'pod-discovery', 'pod-discovery-v3'])
def test_manifest_is_a_valid_pod(rendered, tmp_path, kubernetes, case):
    path = tmp_path / 'etcd.yaml'
    path.write_text(rendered[case], encoding='utf-8')
    result = subprocess.run([shutil.which('kubernetes-validate', path=BIN), '-k', kubernetes, '--strict', str(path)],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    pod = yaml.safe_load(rendered[case])
    spec = pod['spec']
    assert spec['hostNetwork'] is True
    mounts = {m['mountPath']: m for m in spec['containers'][0]['volumeMounts']}
    assert mounts['/etc/etcd/pki']['readOnly'] is True
    assert '/var/etcd/data' in mounts
    if case == 'pod-discovery':
        assert spec['containers'][0]['env'] == [{'name': 'SSL_CERT_FILE', 'value': '/etc/etcd/discovery/ca.crt'}]
        assert '/etc/etcd/discovery' in mounts


def test_manifest_validation_can_fail(rendered, tmp_path):
    """kubernetes-validate does reject a broken pod (so the test above means something)."""
    validate = shutil.which('kubernetes-validate', path=BIN)
    if validate is None:
        pytest.skip('kubernetes-validate is not installed')
    pod = yaml.safe_load(rendered['pod-fresh'])
    pod['spec']['containers'][0]['volumeMounts'][0]['readOnlyy'] = True
    path = tmp_path / 'etcd.yaml'
    path.write_text(yaml.safe_dump(pod), encoding='utf-8')
    result = subprocess.run([validate, '-k', '1.34.0', '--strict', str(path)], capture_output=True, text=True, check=False)
    assert result.returncode != 0


# --- inventory validation: the real role, run against bad inventories --------------------------------

def run_role(tmp_path, hosts, group_vars=None):
    """Run the etcd role in check mode on local-connection hosts; return (rc, output)."""
    inventory = {'all': {'children': {'etcd': {'hosts': hosts}},
                         'vars': dict({'ansible_connection': 'local', 'ansible_python_interpreter': sys.executable},
                                      **(group_vars or {}))}}
    (tmp_path / 'inventory.yml').write_text(yaml.safe_dump(inventory), encoding='utf-8')
    (tmp_path / 'play.yml').write_text(yaml.safe_dump([{
        'name': 'etcd', 'hosts': 'etcd', 'gather_facts': False, 'roles': [{'role': 'kubeha.cluster.etcd'}]}]),
        encoding='utf-8')
    collections = [os.path.join(ROOT, '.cache', 'collections'), os.environ.get('ANSIBLE_COLLECTIONS_PATH', '')]
    env = dict(os.environ, ANSIBLE_NOCOLOR='1', ANSIBLE_RETRY_FILES_ENABLED='0', ANSIBLE_LOCALHOST_WARNING='0',
               ANSIBLE_COLLECTIONS_PATH=os.pathsep.join(collections))
    result = subprocess.run([os.path.join(BIN, 'ansible-playbook'), '--check', '-i', str(tmp_path / 'inventory.yml'),
                             str(tmp_path / 'play.yml')], capture_output=True, text=True, env=env, cwd=str(tmp_path),
                            check=False, timeout=300)
    return result.returncode, result.stdout + result.stderr


def ips(*last):
    return {'e%d' % i: {'kubeha_node_ip': '10.9.0.%d' % octet} for i, octet in enumerate(last, 1)}


@pytest.mark.parametrize('hosts, group_vars, expected', [
    (ips(1, 2), {}, ["group 'etcd' has 2 hosts (e1, e2)", '1, 3, 5 or 7 members']),
    (ips(1, 2, 2), {}, ['address 10.9.0.2 is used by e2, e3', 'set kubeha_node_ip per host']),
    ({'e1': {'kubeha_node_ip': '10.9.0.1'}, 'e2': {'kubeha_node_ip': '10.9.0.300'}, 'e3': {'kubeha_node_ip': 'node3'}}, {},
     ["e2: etcd_node_ip '10.9.0.300' is not an IPv4 or IPv6 address", "e3: etcd_node_ip 'node3' is not an IPv4"]),
    ({'e1': {'kubeha_node_ip': '10.9.0.1', 'etcd_name': 'x'}, 'e2': {'kubeha_node_ip': '10.9.0.2', 'etcd_name': 'x'},
      'e3': {'kubeha_node_ip': '127.0.0.1'}}, {},
     ["etcd_name 'x' is used by e1, e2", 'e3: etcd_node_ip \'127.0.0.1\' is a loopback']),
    (ips(1, 2, 3), {'etcd_extra_args': {'client-cert-auth': 'false', '--peer-auto-tls': 'true', 'election-timeout': 9000},
                    'etcd_heartbeat_interval': 500, 'etcd_election_timeout': 1000},
     ['etcd_extra_args sets client-cert-auth, election-timeout, peer-auto-tls, which the role manages',
      'etcd_heartbeat_interval is 500 and etcd_election_timeout 1000 (milliseconds): etcd needs an election timeout of at least 5']),
    (ips(1, 2, 3), {'etcd_bootstrap': 'discovery', 'etcd_discovery_service': 'http://10.9.0.9:4001'},
     ['the discovery service is plain HTTP', 'etcd_discovery_allow_http: true']),
    (ips(1, 2, 3), {'etcd_install_source': 'artifact', 'etcd_artifact_url': 'https://example.invalid/etcd.tgz',
                    'etcd_artifact_sha256': 'abc'}, ["etcd_artifact_sha256 'abc' is not a sha256"]),
    (ips(1, 2, 3), {'etcd_version': '3.4.23'}, ['etcd_version is 3.4.23, older than 3.5', 'upgrade the cluster to 3.5 first']),
    (ips(1, 2, 3), {'etcd_data_mount': {'src': '/dev/vdb'}}, ['etcd_data_mount needs src and fstype']),
    (ips(1, 2, 3), {'etcd_initial_snapshot': '/nonexistent/old.db', 'etcd_bootstrap': 'discovery',
                    'etcd_discovery_service': 'https://10.9.0.9:4001', 'etcd_install_source': 'package'},
     ["etcd_initial_snapshot '/nonexistent/old.db' is not a file on the controller", 'set etcd_bootstrap: static',
      "Debian's etcd-server (etcd_install_source package)", 'set etcd_install_source: artifact']),
], ids=['even', 'duplicate-ip', 'bad-ip', 'duplicate-name-loopback', 'reserved-flags', 'http-discovery', 'artifact-sha',
        'etcd-3.4', 'mount', 'initial-snapshot'])
def test_bad_inventory_fails_first_and_names_the_fix(tmp_path, hosts, group_vars, expected):
    code, output = run_role(tmp_path, hosts, group_vars)
    assert code != 0, output
    assert 'nothing was changed' in output, output
    for text in expected:
        assert text in output, output
    # nothing past the inventory check ran
    assert 'Mount the dedicated etcd storage' not in output and "Look at the member's certificates" not in output, output
