"""kubeha.cluster.etcd_problems and etcd_node_problems: what the etcd role refuses before anything changes.

Every check, one case each, with the message a user reads. The role's whole first check (a real ansible-playbook run
against bad inventories) is tested in tests/unit/roles/test_etcd_role.py.
"""

from __future__ import annotations


import pytest

from ansible_collections.kubeha.cluster.plugins.filter.etcd_plan import etcd_plan
from ansible_collections.kubeha.cluster.plugins.filter.etcd_problems import FilterModule, etcd_node_problems, etcd_problems
from ansible_collections.kubeha.cluster.plugins.plugin_utils._plan import address_problem
from support.role_defaults import ETCD_DEFAULTS

# the role's defaults as a play templates them for host e1 (10.0.0.11) with no kubeha_* variable set
DEFAULTS = ETCD_DEFAULTS
HOSTS = ['e1', 'e2', 'e3']


def member(host, ip, name=None):
    return {'host': host, 'name': name or host, 'ip': ip}


MEMBERS = [member(h, '10.0.0.1%d' % i) for i, h in enumerate(HOSTS, 1)]


def settings(**change):
    return dict(DEFAULTS, **{'etcd_' + k: v for k, v in change.items()})


def problems(hosts=None, members=None, **change):
    s = settings(**change)
    hosts = HOSTS if hosts is None else hosts
    members = MEMBERS if members is None else members
    planned = etcd_plan(s, host=hosts[0] if hosts else 'e1', hosts=hosts, members=members)
    return etcd_problems(s, planned=planned, hosts=hosts, members=members)


def only(found):
    assert len(found) == 1, found
    return found[0]


def test_the_filters_are_registered():
    assert set(FilterModule().filters()) == {'etcd_problems', 'etcd_node_problems'}


@pytest.mark.parametrize('count', [1, 3, 5, 7])
def test_a_usable_inventory_has_no_problem(count):
    hosts = ['e%d' % i for i in range(1, count + 1)]
    assert problems(hosts=hosts, members=[member(h, '10.0.0.%d' % i) for i, h in enumerate(hosts, 1)]) == []


def test_the_member_count():
    assert only(problems(hosts=[], members=[])) == ("group 'etcd' has no hosts: put 1, 3, 5 or 7 hosts in it, or set etcd_group "
                                                    "to the group that has them.")
    found = only(problems(hosts=['e1', 'e2'], members=MEMBERS[:2]))
    assert found.startswith("group 'etcd' has 2 hosts (e1, e2): etcd needs 1, 3, 5 or 7 members")


def test_a_member_not_in_the_play():
    found = only(problems(members=MEMBERS[:2]))
    assert found.startswith("e3: in group 'etcd' but not in this play (--limit, or unreachable): run the role on the whole group")


@pytest.mark.parametrize('ip, expected', [
    ('', "e3: no address (etcd_node_ip is empty): set kubeha_node_ip for e3 in the inventory, or gather facts."),
    ('10.0.0.300', "e3: etcd_node_ip '10.0.0.300' is not an IPv4 or IPv6 address (etcd listens on addresses, not names)"),
    ('node3', "e3: etcd_node_ip 'node3' is not an IPv4 or IPv6 address"),
    ('127.0.1.1', "e3: etcd_node_ip '127.0.1.1' is a loopback or wildcard address that the other members cannot reach"),
    ('0.0.0.0', "e3: etcd_node_ip '0.0.0.0' is a loopback or wildcard address"),
    ('::1', "e3: etcd_node_ip '::1' is a loopback or wildcard address"),
])
def test_each_members_address(ip, expected):
    assert only(problems(members=MEMBERS[:2] + [member('e3', ip)])).startswith(expected)


def test_ipv6_addresses_are_usable():
    assert problems(members=[member(h, 'fd00::%d' % i) for i, h in enumerate(HOSTS, 1)]) == []


def test_names_and_addresses_used_twice():
    found = problems(members=[member('e1', '10.0.0.11', 'x'), member('e2', '10.0.0.11', 'x'), member('e3', '10.0.0.13', '-bad')])
    assert found == [
        "e3: etcd_name '-bad' is not a valid member name: use letters, digits, '.', '_' and '-' (it defaults to the inventory hostname).",
        "etcd_name 'x' is used by e1, e2: every member needs its own name; set etcd_name per host.",
        "address 10.0.0.11 is used by e1, e2: every member needs its own address; set kubeha_node_ip per host.",
    ]


def test_ports_must_differ():
    assert only(problems(metrics_port=2379)) == ("etcd_client_port (2379), etcd_peer_port (2380) and etcd_metrics_port (2379) "
                                                 "must differ.")


@pytest.mark.parametrize('heartbeat, election', [(500, 1000), (0, 1000), ('x', 2500), (250, 60000), (250, '2.5s')])
def test_raft_timing(heartbeat, election):
    found = only(problems(heartbeat_interval=heartbeat, election_timeout=election))
    assert found == ("etcd_heartbeat_interval is %s and etcd_election_timeout %s (milliseconds): etcd needs an election timeout of "
                     "at least 5 heartbeat intervals and at most 50000, like 250 and 2500." % (heartbeat, election))


@pytest.mark.parametrize('heartbeat, election', [(100, 500), (250, 2500), (1000, 50000), ('100', '1000')])
def test_raft_timing_within_etcds_bounds(heartbeat, election):
    assert problems(heartbeat_interval=heartbeat, election_timeout=election) == []


def test_flags_the_role_manages():
    found = only(problems(extra_args={'client-cert-auth': 'false', '--peer-auto-tls': 'true', 'election-timeout': 9000,
                                      'quota-backend-bytes': 8589934592}))
    assert found == ("etcd_extra_args sets client-cert-auth, election-timeout, peer-auto-tls, which the role manages (TLS, addresses, "
                     "bootstrap, raft timing): remove them; use the role's variables instead.")


def test_discovery():
    assert only(problems(bootstrap='discovery', discovery_service='10.0.0.5:4001')).startswith(
        "etcd_bootstrap is discovery but etcd_discovery_service '10.0.0.5:4001' is not a URL")
    assert problems(bootstrap='discovery', discovery_service='https://10.0.0.5:4001') == []
    # a whole discovery URL in the token needs no service
    assert problems(bootstrap='discovery', discovery_token='https://discovery.etcd.io/0123') == []
    found = only(problems(bootstrap='discovery', discovery_service='http://10.0.0.5:4001'))
    assert found.startswith('the discovery service is plain HTTP (http://10.0.0.5:4001), where anyone on the path can add or hide members')
    assert problems(bootstrap='discovery', discovery_service='http://10.0.0.5:4001', discovery_allow_http=True) == []
    # static bootstrap: the discovery settings are not read
    assert problems(discovery_service='http://10.0.0.5:4001') == []


@pytest.mark.parametrize('version, expected', [
    ('3.6', "etcd_version is '3.6': use a release like 3.6.16."),
    ('3.4.23', 'etcd_version is 3.4.23, older than 3.5, the oldest etcd kubeha supports'),
])
def test_the_release(version, expected):
    assert only(problems(version=version)).startswith(expected)
    assert problems(version='v3.5.21') == []


def test_the_artifact(tmp_path):
    found = only(problems(artifact_url='https://example.invalid/etcd.tgz', artifact_sha256='abc'))
    assert found.startswith("etcd_artifact_sha256 'abc' is not a sha256 (64 hex digits)")
    assert problems(artifact_url='https://example.invalid/etcd.tgz', artifact_sha256='a' * 64) == []
    (tmp_path / 'etcd').write_text('')
    found = problems(artifact_dir=str(tmp_path))
    assert found == ["etcd_artifact_dir '%s' holds no %s (%s/%s on the controller): point it at the directory of an unpacked etcd "
                     "release (etcd-v3.6.16-linux-<arch>/)." % (tmp_path, tool, tmp_path, tool) for tool in ('etcdctl', 'etcdutl')]
    for tool in ('etcdctl', 'etcdutl'):
        (tmp_path / tool).write_text('')
    assert problems(artifact_dir=str(tmp_path)) == []
    # Debian's package, or a static pod's image: no artifact to check
    assert problems(artifact_dir='/nonexistent', install_source='package') == []
    assert problems(artifact_dir='/nonexistent', mode='static_pod') == []


def test_the_initial_snapshot(tmp_path):
    found = problems(initial_snapshot='/nonexistent/old.db', bootstrap='discovery', discovery_service='https://10.0.0.5:4001',
                     install_source='package')
    assert [line.split(':')[0] for line in found] == ["etcd_initial_snapshot '/nonexistent/old.db' is not a file on the controller",
                                                      'etcd_initial_snapshot is set with etcd_bootstrap discovery',
                                                      'etcd_initial_snapshot needs etcdutl, which Debian\'s etcd-server (etcd_install_source package) '
                                                      'does not have']
    snapshot = tmp_path / 'old.db'
    snapshot.write_text('')
    assert problems(initial_snapshot=str(snapshot)) == []
    assert only(problems(initial_snapshot='old.db')).startswith("etcd_initial_snapshot 'old.db' is not a file on the controller")


def test_the_dedicated_storage():
    assert only(problems(data_mount={'src': '/dev/vdb'})) == ('etcd_data_mount needs src and fstype, like {src: /dev/vdb1, fstype: '
                                                              'ext4}: got {"src": "/dev/vdb"}.')
    assert only(problems(data_mount={'src': '/dev/vdb', 'fstype': 'ext4', 'size': '1G'})) == (
        'etcd_data_mount has unknown keys size: use src, fstype, opts, path and shared.')
    assert only(problems(data_mount='/dev/vdb')).startswith("etcd_data_mount is '/dev/vdb': give a dict like")
    assert problems(data_mount={'src': 'nfs:/x', 'fstype': 'nfs4', 'path': '/srv/etcd', 'shared': True}) == []
    assert only(problems(data_mount={'src': '/dev/vdb', 'fstype': 'ext4', 'path': 'srv/etcd'})) == (
        "etcd_data_dir ('/var/etcd/data') and etcd_data_mount.path must be absolute paths.")


def test_the_data_and_snapshot_directories():
    assert only(problems(data_dir='var/etcd')) == "etcd_data_dir ('var/etcd') and etcd_data_mount.path must be absolute paths."
    assert only(problems(snapshot_dir='/var/etcd/data/snapshots')) == (
        "etcd_snapshot_dir ('/var/etcd/data/snapshots') must be an absolute path outside etcd's data dir, like "
        "/var/lib/kubeha/etcd-snapshots.")
    assert only(problems(snapshot_dir='snapshots')).startswith("etcd_snapshot_dir ('snapshots') must be an absolute path")
    # a sibling whose name starts like the data dir is outside it
    assert problems(snapshot_dir='/var/etcd/data-snapshots') == []


def test_the_snapshot_schedule():
    assert only(problems(snapshot_interval_hours=5)).startswith('etcd_snapshot_interval_hours is 5: use a divisor of 24')
    assert only(problems(snapshot_keep=0)) == 'etcd_snapshot_keep is 0: keep between 1 and 1000 snapshots per member.'
    assert only(problems(snapshot_keep='ten')) == 'etcd_snapshot_keep is ten: keep between 1 and 1000 snapshots per member.'
    # no schedule: nothing of it is checked
    assert problems(snapshot_enabled=False, snapshot_interval_hours=5, snapshot_keep=0, snapshot_dir='/var/etcd/data/x') == []


def test_members_to_remove_still_in_the_group():
    found = only(problems(remove_members=['e3', 'e9']))
    assert found == ("etcd_remove_members names e3, still in group 'etcd': take the host out of the group to remove its member, or "
                     "take the name out of etcd_remove_members.")
    assert problems(remove_members=['e9']) == []


@pytest.mark.parametrize('address, expected', [
    ('10.0.0.1', ''), (' 10.0.0.1 ', ''), ('fd00::1', ''), ('', 'empty'), (None, 'empty'), ('host1', 'invalid'),
    ('10.0.0.256', 'invalid'), ('010.0.0.1', 'invalid'), ('127.0.0.1', 'unreachable'), ('0.0.0.0', 'unreachable'),
    ('::', 'unreachable'), ('::1', 'unreachable'),
])
def test_address_problem(address, expected):
    assert address_problem(address) == expected


# --- what the member's one read found (GNU stat: path, type, mode, owner) ---------------------------------------------

SEEN_OK = {
    '/etc/etcd/pki/ca.crt': {'type': 'regular file', 'mode': '0644', 'owner': 'etcd'},
    '/etc/etcd/pki/peer.crt': {'type': 'regular file', 'mode': '0644', 'owner': 'etcd'},
    '/etc/etcd/pki/peer.key': {'type': 'regular file', 'mode': '0600', 'owner': 'etcd'},
    '/etc/etcd/pki/server.crt': {'type': 'regular file', 'mode': '0644', 'owner': 'etcd'},
    '/etc/etcd/pki/server.key': {'type': 'regular file', 'mode': '0400', 'owner': 'etcd'},
    '/var/etcd/data/member': {'type': 'directory', 'mode': '0700', 'owner': 'etcd'},
}
SEEN_BAD = {
    '/etc/etcd/pki/ca.crt': {'type': 'regular file', 'mode': '0644', 'owner': 'root'},
    '/etc/etcd/pki/peer.key': {'type': 'regular file', 'mode': '0644', 'owner': 'etcd'},
    '/etc/etcd/pki/server.crt': {'type': 'directory', 'mode': '0755', 'owner': 'root'},
    '/etc/etcd/pki/server.key': {'type': 'regular file', 'mode': '0600', 'owner': 'root'},
    '/var/etcd/data/member': {'type': 'regular empty file', 'mode': '0644', 'owner': 'root'},
}


def node_problems(seen, data_hosts=('e1',), check_mode=False, secrets_ran=False, **change):
    s = settings(**change)
    planned = etcd_plan(s, host='e1', hosts=HOSTS, members=MEMBERS, data_hosts=list(data_hosts), seen=seen)
    return etcd_node_problems(seen, s, planned, host='e1', check_mode=check_mode, secrets_ran=secrets_ran)


def test_a_good_member_has_no_problem():
    assert node_problems(SEEN_OK) == []
    # in static pod mode the kubelet runs etcd as root: the keys' owner does not matter
    assert node_problems(dict(SEEN_OK, **{'/etc/etcd/pki/server.key': dict(SEEN_OK['/etc/etcd/pki/server.key'], owner='root')}),
                         mode='static_pod') == []


def test_each_file_is_named_with_the_fix():
    found = node_problems(SEEN_BAD, data_hosts=(), bootstrap='discovery', discovery_service='https://10.0.0.5:4001',
                          discovery_ca_cert='/etc/etcd/discovery/ca.crt')
    assert found == [
        '/etc/etcd/pki/peer.crt is missing: run the kubeha.cluster.secrets role first, or set etcd_peer_cert to where the file is on e1.',
        '/etc/etcd/pki/peer.key has mode 0644: a private key must be 0600 (kubeha.cluster.secrets writes it so); chmod 0600 it.',
        '/etc/etcd/pki/server.crt is a directory, not a file: put the certificate there (kubeha.cluster.secrets does), or set '
        'etcd_server_cert to where it is.',
        '/etc/etcd/pki/server.key is owned by root, but etcd runs as etcd and cannot read a 0600 key: set secrets_etcd_file_owner and '
        "secrets_etcd_file_group to etcd for kubeha.cluster.secrets (the user must exist; playbooks/site.yml and Debian's etcd-server "
        'package create it), or chown the file.',
        "/var/etcd/data/member is a regular empty file, not etcd's data directory: move it away (etcd keeps its data in a member/ "
        'directory there).',
        'etcd_discovery_ca_cert /etc/etcd/discovery/ca.crt is missing, and the members need it to reach the discovery service while '
        'the cluster bootstraps: put the CA there or set etcd_discovery_ca_cert to where it is.',
    ]


def test_missing_files_in_check_mode():
    """Check mode after this run's secrets stage: it reported the files it would install; without that stage they are missing."""
    missing = {path: entry for path, entry in SEEN_OK.items() if not path.endswith('.key')}
    assert node_problems(missing, check_mode=True, secrets_ran=True) == []
    assert [line.split(' ')[0] for line in node_problems(missing, check_mode=True)] == ['/etc/etcd/pki/peer.key', '/etc/etcd/pki/server.key']
    assert len(node_problems(missing, secrets_ran=True)) == 2
