"""kubeha.cluster.etcd_plan, etcd_seen and etcd_data_hosts: the etcd role's logic, without Ansible.

The role's rendered templates and its inventory checks are tested with real Ansible in
tests/unit/roles/test_etcd_role.py; here every branch of the plan is checked directly.
"""

from __future__ import annotations

import hashlib
import json
import re

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.kubeha.cluster.plugins.filter.etcd_plan import (
    FilterModule, etcd_data_hosts, etcd_data_path, etcd_learner_hosts, etcd_plan, etcd_removed_hosts, etcd_restart_batches, etcd_seen,
    etcd_unlisted_members)
from support.role_defaults import ETCD_DEFAULTS

# the role's defaults as a play templates them for host e1 (10.0.0.11) with no kubeha_* variable set
DEFAULTS = ETCD_DEFAULTS
HOSTS = ['e1', 'e2', 'e3']
MEMBERS = [{'name': h, 'client_url': 'https://10.0.0.1%d:2379' % i, 'initial': '%s=https://10.0.0.1%d:2380' % (h, i),
            'data_dir': '/var/etcd/data'} for i, h in enumerate(HOSTS, 1)]
INITIAL = 'e1=https://10.0.0.11:2380,e2=https://10.0.0.12:2380,e3=https://10.0.0.13:2380'
TLS = ['/etc/etcd/pki/ca.crt', '/etc/etcd/pki/peer.crt', '/etc/etcd/pki/peer.key', '/etc/etcd/pki/server.crt', '/etc/etcd/pki/server.key']
BINARY = '/opt/kubeha/etcd/etcd-v3.6.16-linux-amd64/etcd'
SNAPSHOT_TIMER = '/etc/systemd/system/kubeha-etcd-snapshot.timer'


def plan(host='e1', data_hosts=(), seen=None, discovery=None, check_mode=False, bootstrapped=False, architecture='x86_64',
         pyz_build='', **change):
    settings = dict(DEFAULTS, **{'etcd_' + k: v for k, v in change.items()})
    return etcd_plan(settings, host=host, hosts=HOSTS, members=MEMBERS, data_hosts=list(data_hosts), seen=seen or {},
                     discovery=discovery or {}, architecture=architecture, check_mode=check_mode, bootstrapped=bootstrapped,
                     pyz_build=pyz_build)


def by_path(files):
    return {f['path']: f for f in files}


def test_the_filters_are_registered():
    assert set(FilterModule().filters()) == {'etcd_plan', 'etcd_seen', 'etcd_data_hosts', 'etcd_removed_hosts', 'etcd_learner_hosts',
                                             'etcd_unlisted_members', 'etcd_quorum_lost', 'etcd_data_path', 'etcd_restart_batches'}


def test_urls_paths_and_cluster():
    p = plan()
    assert p['size'] == 3 and p['restart_batch'] == 1
    assert p['peer_url'] == 'https://10.0.0.11:2380' and p['client_url'] == 'https://10.0.0.11:2379'
    assert p['data_path'] == p['mount_path'] == '/var/etcd/data' and p['mount_unit'] == 'var-etcd-data.mount'
    assert p['endpoints'] == [m['client_url'] for m in MEMBERS] and p['names'] == HOSTS
    assert p['initial_cluster'] == INITIAL
    assert p['cluster_token'] == 'kubeha-etcd-' + hashlib.sha256(INITIAL.encode()).hexdigest()[:16]
    assert plan(cluster_token='mine')['cluster_token'] == 'mine'
    assert plan(node_ip='fd00::1')['client_url'] == 'https://[fd00::1]:2379'
    assert [f['var'] for f in p['tls_files'] if f['key']] == ['etcd_peer_key', 'etcd_server_key']


def test_restart_batch_is_half_the_members_and_at_least_one():
    settings = dict(DEFAULTS)
    assert etcd_plan(settings, host='e1', hosts=['e%d' % i for i in range(1, 6)])['restart_batch'] == 2
    assert etcd_plan(settings, host='e1', hosts=['e1'])['restart_batch'] == 1


def test_shared_storage_gives_each_member_a_subdirectory():
    p = plan(data_mount={'src': 'nfs:/x', 'fstype': 'nfs4', 'path': '/srv/etcd', 'shared': 'yes'})
    assert p['mount_path'] == '/srv/etcd' and p['mount_unit'] == 'srv-etcd.mount' and p['data_path'] == '/srv/etcd/e1'
    assert plan(data_mount={'src': '/dev/vdb', 'fstype': 'ext4'})['data_path'] == '/var/etcd/data'
    # a relative path is the inventory check's to report, not an error here
    assert plan(data_dir='var/etcd')['mount_unit'] == ''


def test_a_leaving_members_data_path_is_the_one_its_plan_had():
    """etcd_data_path (a member that leaves is no longer planned) agrees with the plan's data_path."""
    shared = {'src': 'nfs:/x', 'fstype': 'nfs4', 'path': '/srv/etcd', 'shared': 'yes'}
    assert etcd_data_path('/var/etcd/data', shared, 'e1') == plan(data_mount=shared)['data_path'] == '/srv/etcd/e1'
    assert etcd_data_path('/var/etcd/data', {}, 'e4') == plan()['data_path'] == '/var/etcd/data'
    assert etcd_data_path('/data/etcd', {'src': '/dev/vdb', 'fstype': 'ext4'}, 'e4') == '/data/etcd'
    assert FilterModule().filters()['etcd_data_path'] is etcd_data_path


def test_release_from_a_url_a_directory_or_a_package():
    p = plan()
    assert p['from_url'] and not p['from_dir'] and p['binary'] == BINARY
    assert p['url'] == 'https://github.com/etcd-io/etcd/releases/download/v3.6.16/etcd-v3.6.16-linux-amd64.tar.gz'
    assert p['url_checksum'] == 'sha256:https://github.com/etcd-io/etcd/releases/download/v3.6.16/SHA256SUMS'
    pinned = plan(artifact_sha256='ab' * 32, artifact_base_url='https://mirror/etcd//', architecture='aarch64', version='v3.5.35')
    assert pinned['url'] == 'https://mirror/etcd/v3.5.35/etcd-v3.5.35-linux-arm64.tar.gz'
    assert pinned['url_checksum'] == 'sha256:' + 'ab' * 32
    assert pinned['binary'] == '/opt/kubeha/etcd/etcd-v3.5.35-linux-arm64-' + 'ab' * 6 + '/etcd'
    assert plan(artifact_url='https://x/y/etcd.tgz')['url_checksum'] == 'sha256:https://x/y/SHA256SUMS'
    assert plan(arch='s390x', architecture='aarch64')['arch'] == 's390x'
    assert plan(architecture='riscv64')['arch'] == 'riscv64'
    local = plan(artifact_dir='/srv/release')
    assert local['from_dir'] and not local['from_url']
    assert local['binary'] == '/opt/kubeha/etcd/etcd-v3.6.16-linux-amd64-local/etcd'
    assert local['artifact_files'] == local['files'][:4]
    assert [(f['path'], f.get('src')) for f in local['artifact_files']] == [
        ('/opt/kubeha/etcd/etcd-v3.6.16-linux-amd64-local', None),
        ('/opt/kubeha/etcd/etcd-v3.6.16-linux-amd64-local/etcd', '/srv/release/etcd'),
        ('/opt/kubeha/etcd/etcd-v3.6.16-linux-amd64-local/etcdctl', '/srv/release/etcdctl'),
        ('/opt/kubeha/etcd/etcd-v3.6.16-linux-amd64-local/etcdutl', '/srv/release/etcdutl')]
    assert local['artifact_files'][1]['restarts'] == ['etcd']
    package = plan(install_source='package')
    assert package['binary'] == '/usr/bin/etcd' and package['binary_from_package'] and not package['from_url']
    assert not plan(install_source='package', mode='static_pod')['binary_from_package']


def test_the_read_and_what_it_found():
    p = plan()
    assert p['read_paths'] == TLS + ['/var/etcd/data/member', '/var/etcd/data/member/wal', BINARY, SNAPSHOT_TIMER]
    assert plan(mode='static_pod')['read_paths'] == TLS + ['/var/etcd/data/member', '/var/etcd/data/member/wal', SNAPSHOT_TIMER]
    disc = plan(bootstrap='discovery', discovery_ca_cert='/etc/etcd/d/ca.crt')
    assert disc['read_paths'][-2:] == ['/etc/etcd/d/ca.crt', SNAPSHOT_TIMER]
    assert not p['binary_present'] and plan(seen={BINARY: {}})['binary_present'] and plan(mode='static_pod')['binary_present']


def test_inputs_and_validation_in_check_mode():
    """A release that check mode would download is not there: not an input, and the unit is not verified."""
    # the CA file is read once at start; the certificates and keys on every new connection: no restart for those
    assert plan()['inputs'] == [TLS[0], BINARY]
    unit = by_path(plan()['files'])['/etc/systemd/system/etcd.service']
    assert unit['validate'] == 'systemd:etcd.service'
    checked = plan(check_mode=True)
    assert checked['inputs'] == [TLS[0]] and by_path(checked['files'])['/etc/systemd/system/etcd.service']['validate'] == ''
    present = plan(check_mode=True, seen={BINARY: {'type': 'regular file'}})
    assert present['inputs'] == [TLS[0], BINARY] and present['unit_validate'] == 'systemd:etcd.service'
    assert plan(artifact_dir='/srv/release')['inputs'] == [TLS[0]]  # its binary is one of the daemon call's files


def test_fresh_settled_and_joining_members():
    fresh = plan()
    assert fresh['fresh'] and not fresh['joining'] and fresh['bootstrap_state'] == 'new'
    assert fresh['bootstrap_flags'] == {'initial-cluster-state': 'new', 'initial-cluster': INITIAL,
                                        'initial-cluster-token': fresh['cluster_token']}
    settled = plan(data_hosts=['e1', 'e2', 'e3'])
    assert settled['has_data'] and not settled['fresh'] and not settled['joining']
    assert settled['bootstrap_flags']['initial-cluster-state'] == 'existing'
    joining = plan(host='e3', data_hosts=['e1', 'e2'])
    assert joining['joining'] and not joining['has_data'] and joining['bootstrap_state'] == 'existing'
    recorded = plan(bootstrapped=True)
    assert recorded['fresh'] and recorded['bootstrap_flags']['initial-cluster-state'] == 'existing'


def test_discovery_v2_and_v3():
    v2 = plan(bootstrap='discovery', version='3.5.35', discovery={'discovery_url': 'https://d:4001/v2/keys/x'})
    assert not v2['v3_discovery'] and v2['discovering']
    assert v2['bootstrap_flags'] == {'initial-cluster-state': 'new', 'discovery': 'https://d:4001/v2/keys/x'}
    v3 = plan(bootstrap='discovery', discovery_ca_cert='/etc/etcd/d/ca.crt',
              discovery={'discovery_url': '', 'token': 't0k', 'endpoints': ['https://d:4001', 'https://e:4001']})
    assert v3['v3_discovery'] and v3['bootstrap_flags'] == {
        'initial-cluster-state': 'new', 'discovery-token': 't0k', 'discovery-endpoints': 'https://d:4001,https://e:4001',
        'discovery-cert': '/etc/etcd/pki/server.crt', 'discovery-key': '/etc/etcd/pki/server.key',
        'discovery-insecure-transport': 'false', 'discovery-cacert': '/etc/etcd/d/ca.crt'}
    http = plan(bootstrap='discovery', discovery={'token': 't', 'endpoints': ['http://d:4001']})
    assert http['bootstrap_flags']['discovery-insecure-transport'] == 'true' and 'discovery-cacert' not in http['bootstrap_flags']
    # before the discovery call (or when it was skipped): empty values, no error
    assert plan(bootstrap='discovery')['bootstrap_flags']['discovery-token'] == ''
    # once the cluster is bootstrapped, discovery is over: the member list instead
    after = plan(bootstrap='discovery', bootstrapped=True, discovery={'token': 't'})
    assert not after['discovering'] and after['bootstrap_flags']['initial-cluster'] == INITIAL
    assert not plan(version='not-a-version')['v3_discovery']


def test_flags_metrics_and_extra_args():
    flags = plan()['flags']
    assert list(flags)[:2] == ['name', 'data-dir'] and flags['name'] == 'e1'
    assert flags['listen-client-urls'] == 'https://10.0.0.11:2379,https://127.0.0.1:2379'
    assert flags['listen-metrics-urls'] == 'http://127.0.0.1:2381' and list(flags)[-1] == 'listen-metrics-urls'
    assert (flags['client-cert-auth'], flags['peer-client-cert-auth'], flags['auto-tls']) == ('true', 'true', 'false')
    assert 'listen-metrics-urls' not in plan(metrics_port=0)['flags']
    # raft's timing: kubeha's defaults (a loaded leader keeps its leadership), or the role's variables
    assert (flags['heartbeat-interval'], flags['election-timeout']) == ('250', '2500')
    timed = plan(heartbeat_interval=150, election_timeout='1500')['flags']
    assert (timed['heartbeat-interval'], timed['election-timeout']) == ('150', '1500')
    extra = plan(extra_args={'quota-backend-bytes': 8589934592, 'logger': 'json'})['flags']
    assert extra['quota-backend-bytes'] == 8589934592 and extra['logger'] == 'json' and list(extra)[-1] == 'quota-backend-bytes'
    with pytest.raises(AnsibleFilterError, match='etcd_extra_args must be a dict'):
        plan(extra_args=['--x'])


def test_daemon_files_and_units_per_mode():
    host = plan(snapshot_enabled=False)
    assert [f['path'] for f in host['files']] == ['/etc/systemd/system/etcd.service', '/etc/default/etcd-bootstrap']
    assert host['units'] == [{'name': 'etcd', 'enabled': True, 'no_block': True, 'inputs': [TLS[0], BINARY], 'health_timeout': 10,
                              'health': {'url': 'https://10.0.0.11:2379/health', 'ca_path': TLS[0], 'client_cert': TLS[3],
                                         'client_key': TLS[4]}}]
    assert host['record_files'] == [host['files'][1]] and 'record_units' not in host
    pod = plan(mode='static_pod', snapshot_enabled=False)
    assert [(f['path'], f.get('state'), f['mode']) for f in pod['files']] == [
        ('/var/etcd/data', 'directory', '0700'), ('/etc/etcd', 'directory', '0755'), ('/etc/kubernetes/manifests', 'directory', '0700'),
        ('/etc/etcd/etcd.yaml', None, '0600')]
    # the CA file and the restore marker: a restored member's manifest differs, so the kubelet starts a new pod; a reissued
    # certificate or key leaves it as it is (etcd reads those again for every new connection)
    assert pod['files'][3]['template'] == 'etcd.yaml.j2' and pod['files'][3]['digest_of'] == [TLS[0], '/var/etcd/data/kubeha-restore.json']
    # the same health check as the unit's: recorded, so a re-run's fast path sees a member that stopped serving
    assert pod['units'] == [{'name': 'etcd', 'kind': 'static_pod', 'source': '/etc/etcd/etcd.yaml',
                             'manifest': '/etc/kubernetes/manifests/etcd.yaml', 'process': 'etcd',
                             'health': host['units'][0]['health'], 'health_timeout': 120}]
    assert pod['record_files'] == [], "no manifest change after a bootstrap: the kubelet would not replace the pod"
    assert 'keep_lines' not in pod['files'][3], "a cluster that bootstraps writes its bootstrap flags"
    kept = plan(mode='static_pod', data_hosts=['e1', 'e2', 'e3'])['files'][3]['keep_lines']
    joining = plan(mode='static_pod', data_hosts=['e2', 'e3'])
    assert joining['joining'] and 'keep_lines' not in joining['files'][3], "a member that (re)joins writes the join's flags"
    flags = list(plan(bootstrap='discovery', discovery=dict(token='t', endpoints=['https://d:2379']))['bootstrap_flags'])
    lines = ['        - "--%s=x"' % f for f in flags + ['initial-cluster', 'initial-cluster-token', 'discovery']]
    assert all(re.search(kept, line) for line in lines), lines
    assert not [f for f in plan()['flags'] if re.search(kept, '        - "--%s=x"' % f)], "etcd's other flags follow the inventory"
    assert host['state_dir'] == '/var/lib/kubeha/daemons/etcd'
    assert [r['path'] for r in host['refuse'] + pod['refuse']] == ['/etc/kubernetes/manifests/etcd.yaml', '/etc/systemd/system/etcd.service']
    assert pod['refuse'][0]['msg'] == (
        'etcd runs in host mode on this host (etcd_mode is static_pod now). Switching a running cluster between host and static_pod '
        'is not supported: set etcd_mode back to host (or kubeha_mode, which it follows). To rebuild this node in static_pod mode, '
        'remove what the host mode left first')


def test_a_missing_variable_is_named():
    settings = dict(DEFAULTS)
    del settings['etcd_peer_port']
    with pytest.raises(AnsibleFilterError, match='etcd_peer_port is not set'):
        etcd_plan(settings, host='e1')
    with pytest.raises(AnsibleFilterError, match='expected the role'):
        etcd_plan(['etcd_name'], host='e1')


def test_seen_parses_the_read():
    out = 'a\tregular file\t0644\tetcd\nb\tdirectory\t0700\troot\nnot a line\n'
    expected = {'a': {'type': 'regular file', 'mode': '0644', 'owner': 'etcd'}, 'b': {'type': 'directory', 'mode': '0700', 'owner': 'root'}}
    assert etcd_seen(out.splitlines()) == etcd_seen(out) == expected
    assert etcd_seen([]) == etcd_seen(None) == {}


def test_data_hosts_from_each_members_read():
    def read(data_dir, has):
        found = '\n%s/member\tdirectory\t0700\tetcd\n%s/member/wal\tdirectory\t0700\tetcd' % (data_dir, data_dir)
        return {'stdout': 'x\tregular file\t0644\tetcd' + (found if has else '')}
    hostvars = {
        'e1': {'_etcd_member': {'data_dir': '/var/etcd/data'}, '_etcd_read': read('/var/etcd/data', True)},
        'e2': {'_etcd_member': {'data_dir': '/srv/etcd/e2'}, '_etcd_read': read('/var/etcd/data', True)},  # not its data dir
        'e3': {'_etcd_member': {'data_dir': '/var/etcd/data'}},  # not read yet
        'e4': {'_etcd_member': {'data_dir': '/var/etcd/data'}, '_etcd_read': read('/var/etcd/data', False)},
        'e5': {'_etcd_member': {'data_dir': '/d'}, '_etcd_read': {'stdout': '/d/member\tregular file\t0644\tetcd'}},
        # member/ without a WAL: a start that failed before its first entry (etcd counts it as not initialized)
        'e7': {'_etcd_member': {'data_dir': '/d'}, '_etcd_read': {'stdout': '/d/member\tdirectory\t0700\tetcd'}},
    }
    assert etcd_data_hosts(['e1', 'e2', 'e3', 'e4', 'e5', 'e6', 'e7'], hostvars) == ['e1']


def removed_world():
    hostvars = {h: {'_etcd_member': {'name': h, 'peer_url': 'https://10.0.0.%d:2380' % i}} for i, h in enumerate(['m1', 'm2', 'm3'], 1)}
    members = [{'name': 'm1', 'peer_urls': ['https://10.0.0.1:2380']}, {'name': 'm2', 'peer_urls': ['https://10.0.0.2:2380']}]
    return hostvars, members


def test_removed_hosts_hold_data_but_are_not_in_the_member_list():
    hostvars, members = removed_world()
    assert etcd_removed_hosts({'members': members, 'healthy_count': 2}, ['m1', 'm2', 'm3'], hostvars) == ['m3']
    # without data it is a plain join, not a removal
    assert etcd_removed_hosts({'members': members, 'healthy_count': 2}, ['m1', 'm2'], hostvars) == []
    # added back but not started yet: no name, its peer URL is listed
    added = members + [{'name': '', 'peer_urls': ['https://10.0.0.3:2380']}]
    assert etcd_removed_hosts({'members': added, 'healthy_count': 2}, ['m1', 'm2', 'm3'], hostvars) == []


def test_removed_hosts_need_a_member_list_read_from_a_healthy_majority():
    hostvars, members = removed_world()
    assert etcd_removed_hosts({'members': members, 'healthy_count': 1}, ['m1', 'm2', 'm3'], hostvars) == []
    assert etcd_removed_hosts({'members': [], 'healthy_count': 0}, ['m3'], hostvars) == []
    assert etcd_removed_hosts({'failed': True, 'msg': 'no endpoint answered'}, ['m3'], hostvars) == []


def test_learner_hosts_are_the_inventorys_members_left_unpromoted():
    hostvars, members = removed_world()
    learner = members + [{'name': 'm3', 'peer_urls': ['https://10.0.0.3:2380'], 'is_learner': True}]
    assert etcd_learner_hosts({'members': learner, 'healthy_count': 3}, ['m1', 'm2', 'm3'], hostvars) == ['m3']
    # added as a learner but not started: no name yet, found by its peer URL
    unnamed = members + [{'name': '', 'peer_urls': ['https://10.0.0.3:2380'], 'is_learner': True}]
    assert etcd_learner_hosts({'members': unnamed}, ['m1', 'm2', 'm3'], hostvars) == ['m3']
    assert etcd_learner_hosts({'members': members}, ['m1', 'm2', 'm3'], hostvars) == []
    assert etcd_learner_hosts({'skipped': True}, ['m1'], hostvars) == []


def five_members():
    hostvars = {h: {'_etcd_member': {'name': 'etcd-' + h, 'peer_url': 'https://10.0.0.%d:2380' % i}}
                for i, h in enumerate(['m1', 'm2', 'm3', 'm4', 'm5'], 1)}
    members = [{'id': '%x' % (0xa0 + i), 'name': 'etcd-m%d' % i, 'peer_urls': ['https://10.0.0.%d:2380' % i]} for i in range(1, 6)]
    return hostvars, members


def test_restart_batches_put_the_leader_last():
    """The followers restart first: a roll hands the leadership on once, whatever the leader's place in the inventory."""
    hostvars, members = five_members()
    info = {'leader_id': '%x' % 0xa1, 'members': members}
    assert etcd_restart_batches(['m1', 'm2', 'm3'], 1, info, hostvars) == [['m2'], ['m3'], ['m1']]
    assert etcd_restart_batches(['m1', 'm2', 'm3', 'm4', 'm5'], 2, info, hostvars) == [['m2', 'm3'], ['m4', 'm5'], ['m1']]
    # the leader is found by its peer URL too (a member whose name differs from the one the inventory gives)
    renamed = [dict(m, name='') if m['id'] == 'a3' else m for m in members]
    assert etcd_restart_batches(['m1', 'm2', 'm3'], 1, {'leader_id': 'a3', 'members': renamed}, hostvars) == [['m1'], ['m2'], ['m3']]
    assert etcd_restart_batches(['m3', 'm1', 'm2'], '1', {'leader_id': 'a3', 'members': members}, hostvars) == [['m1'], ['m2'], ['m3']]


def test_restart_batches_keep_the_order_without_a_leader_to_move():
    hostvars, members = five_members()
    # the leader's restart is not pending: nothing moves
    assert etcd_restart_batches(['m2', 'm3'], 1, {'leader_id': 'a1', 'members': members}, hostvars) == [['m2'], ['m3']]
    # no read (check mode, nothing pending: a skipped task), a failed read, no leader known
    for info in ({'skipped': True}, {'failed': True, 'msg': 'no endpoint answered'}, {'leader_id': '', 'members': members}, None):
        assert etcd_restart_batches(['m1', 'm2', 'm3'], 1, info, hostvars) == [['m1'], ['m2'], ['m3']]
    assert etcd_restart_batches([], 1, {'leader_id': 'a1', 'members': members}, hostvars) == []
    assert etcd_restart_batches(['m1', 'm2', 'm3'], 0, None, hostvars) == [['m1'], ['m2'], ['m3']]


@pytest.mark.parametrize('mode', ['host', 'static_pod'])
def test_scheduled_snapshots_on_every_member_in_both_modes(mode):
    built = 'built /tmp/kubeha-etcd-snapshot-x/etcd-snapshot.pyz ' + 'cd' * 32
    p = plan(mode=mode, pyz_build=built, snapshot_interval_hours=4, snapshot_keep=3, snapshot_dir='/backup/etcd')
    files = by_path(p['files'])
    pyz = files['/opt/kubeha/etcd/etcd-snapshot.pyz']
    assert (pyz['src'], pyz['src_sha256'], pyz['mode']) == ('/tmp/kubeha-etcd-snapshot-x/etcd-snapshot.pyz', 'cd' * 32, '0644')
    config = json.loads(files['/etc/etcd/snapshot.json']['content'])
    assert files['/etc/etcd/snapshot.json']['mode'] == '0600'
    assert config['members'] == [{'name': m['name'], 'client_url': m['client_url']} for m in MEMBERS] == p['snapshot_members']
    assert (config['name'], config['directory'], config['keep'], config['status_key']) == ('e1', '/backup/etcd', 3, p['snapshot_status_key'])
    assert (config['ca_cert'], config['client_cert'], config['client_key']) == (TLS[0], TLS[3], TLS[4])
    timer = files[SNAPSHOT_TIMER]
    assert timer['template_vars'] == {'_etcd_snapshot_calendar': '*-*-* 00/4:00:00'} and timer['restarts'] == ['kubeha-etcd-snapshot.timer']
    assert files['/etc/systemd/system/kubeha-etcd-snapshot.service']['validate'] == 'systemd:kubeha-etcd-snapshot.service'
    assert p['units'][-1] == {'name': 'kubeha-etcd-snapshot.timer', 'enabled': True, 'restart': 'now'}
    assert p['snapshot_max_age'] == 8 * 3600 and p['snapshot_pyz_local'] == '/tmp/kubeha-etcd-snapshot-x/etcd-snapshot.pyz'
    assert plan(snapshot_interval_hours=24)['files'][-1]['template_vars'] == {'_etcd_snapshot_calendar': '*-*-* 00:00:00'}
    # etcd itself does not restart for any of them
    assert not [f for f in p['files'] if 'snapshot' in f['path'] and 'etcd' in f.get('restarts', [])]


def test_disabled_snapshots_remove_the_timer_only_where_it_is():
    assert not [f for f in plan(snapshot_enabled=False)['files'] if 'snapshot' in f['path']]
    p = plan(snapshot_enabled=False, seen={SNAPSHOT_TIMER: {'type': 'regular file'}})
    assert [(f['path'], f['state']) for f in p['files'] if 'snapshot' in f['path']] == [
        (SNAPSHOT_TIMER, 'absent'), ('/etc/systemd/system/kubeha-etcd-snapshot.service', 'absent'),
        ('/etc/etcd/snapshot.json', 'absent'), ('/opt/kubeha/etcd/etcd-snapshot.pyz', 'absent')]
    assert p['units'][-1] == {'name': 'kubeha-etcd-snapshot.timer', 'state': 'stopped', 'enabled': False}


def test_unlisted_members_are_those_no_inventory_host_names():
    hostvars, members = removed_world()
    # m2's host taken out of the group; a member added by hand, and one added but never started (no name)
    world = members + [{'name': 'extra', 'peer_urls': ['https://10.0.0.9:2380']}, {'name': '', 'peer_urls': ['https://10.0.0.8:2380']},
                       {'name': '', 'peer_urls': ['https://10.0.0.3:2380']}]
    info = {'members': world, 'healthy_count': 4}
    assert etcd_unlisted_members(info, ['m1', 'm3'], hostvars) == ['extra', 'https://10.0.0.8:2380', 'm2']
    assert etcd_unlisted_members(info, ['m1', 'm2', 'm3'], hostvars) == ['extra', 'https://10.0.0.8:2380']
    # a list from a cluster without a healthy majority proves nothing, nor does a failed read
    assert etcd_unlisted_members(dict(info, healthy_count=2), ['m1'], hostvars) == []
    assert etcd_unlisted_members({'failed': True}, ['m1'], hostvars) == []


def test_joining_members_start_with_the_member_list_of_their_turn():
    """etcd refuses a join whose initial cluster is not the running cluster's member list ("member count is unequal")."""
    members = [dict(m, host=m['name']) for m in MEMBERS]

    def initial(host, bootstrapped=False):
        return etcd_plan(DEFAULTS, host=host, hosts=HOSTS, members=members, data_hosts=['e1'],
                         bootstrapped=bootstrapped)['bootstrap_flags']['initial-cluster']
    assert initial('e2') == 'e1=https://10.0.0.11:2380,e2=https://10.0.0.12:2380'
    assert initial('e3') == INITIAL, "e2 joined before it"
    assert initial('e2', bootstrapped=True) == INITIAL, "settled once joined"
    # a joining member listens for clients on 127.0.0.1 only until it is promoted (a learner refuses writes: clients that
    # name its address already must be refused a connection, not a write); its health is read there
    joining = etcd_plan(DEFAULTS, host='e2', hosts=HOSTS, members=members, data_hosts=['e1'])
    assert joining['learner_phase'] and joining['flags']['listen-client-urls'] == 'https://127.0.0.1:2379'
    assert joining['flags']['advertise-client-urls'] == joining['client_url'] != 'https://127.0.0.1:2379'
    assert joining['units'][0]['health']['url'] == 'https://127.0.0.1:2379/health'
    voter = etcd_plan(DEFAULTS, host='e2', hosts=HOSTS, members=members, data_hosts=['e1'], bootstrapped=True)
    assert not voter['learner_phase'] and voter['flags']['listen-client-urls'] == voter['client_url'] + ',https://127.0.0.1:2379'
    assert voter['units'][0]['health']['url'] == voter['client_url'] + '/health'
    # one member that lost its data: the whole inventory, as before
    assert etcd_plan(DEFAULTS, host='e2', hosts=HOSTS, members=members, data_hosts=['e1', 'e3'])['bootstrap_flags']['initial-cluster'] == INITIAL
