"""kubeha.cluster.status_table: playbooks/status.yml's table, from what its reads found.

Molecule default and static_pod run status.yml on their clusters and read the table; here every row and every read
that failed or did not run. (Its output matched the Jinja template it replaced, line for line, on these inputs.)
"""

from __future__ import annotations

import base64
import json

from ansible_collections.kubeha.cluster.plugins.filter.status_table import FilterModule, status_table

# 2026-12-07T06:00:00Z
NOW = 1796623200.0


def api(items_nodes, leases, pods, version='v1.35.4', rc=0):
    return {'results': [
        {'rc': rc, 'stdout': json.dumps({'gitVersion': version}) if rc == 0 else ''},
        {'rc': 0, 'stdout': json.dumps({'items': items_nodes})},
        {'rc': 0, 'stdout': json.dumps({'items': leases})},
        {'rc': 0, 'stdout': json.dumps({'items': pods})},
    ]}


NODES = [
    {'metadata': {'name': 'm1'}, 'spec': {'taints': [{'key': 'node-role.kubernetes.io/control-plane', 'effect': 'NoSchedule'}]},
     'status': {'conditions': [{'type': 'MemoryPressure', 'status': 'False'}, {'type': 'Ready', 'status': 'True'}],
                'nodeInfo': {'kubeletVersion': 'v1.35.4'},
                'addresses': [{'type': 'Hostname', 'address': 'm1'}, {'type': 'InternalIP', 'address': '10.0.0.1'}]}},
    {'metadata': {'name': 'w1'}, 'spec': {},
     'status': {'conditions': [{'type': 'Ready', 'status': 'Unknown'}], 'nodeInfo': {'kubeletVersion': 'v1.35.3'}, 'addresses': []}},
]
LEASES = [{'metadata': {'name': 'kube-scheduler'}, 'spec': {'holderIdentity': 'm2_0123abcd-0123-4567-89ab-0123456789ab'}},
          {'metadata': {'name': 'kube-controller-manager'}, 'spec': {'holderIdentity': None}},
          {'metadata': {'name': 'other'}, 'spec': {'holderIdentity': 'x'}}]
PODS = [{'metadata': {'name': 'kube-apiserver-a-very-long-static-pod-name-m1'}, 'spec': {'nodeName': 'm1'},
         'status': {'phase': 'Running', 'containerStatuses': [{'restartCount': 2}, {'restartCount': 1}]}},
        {'metadata': {'name': 'coredns-abc'}, 'spec': {}, 'status': {}}]
SNAP_RECORD = {
    'newest': {'time': '2026-12-01T00:00:00Z', 'file_size': 204800, 'revision': 42, 'total_key': 7, 'member': 'm1',
               'path': '/var/lib/kubeha/etcd-snapshots/x.db'},
    'last': {'time': '2026-12-07T06:00:00Z', 'result': 'failed', 'member': 'm2', 'error': 'no space'},
}
SNAP = {'kv': {'value': json.dumps(SNAP_RECORD)}}
ETCD = {'healthy_count': 2, 'member_count': 3, 'quorum': True, 'leader': 'm1',
        'members': [{'id': '1', 'name': 'm1', 'client_urls': ['https://10.0.0.1:2379'], 'healthy': True},
                    {'id': '2', 'name': 'm2', 'client_urls': ['https://10.0.0.2:2379'], 'healthy': True},
                    {'id': '3', 'name': 'm3', 'client_urls': [], 'healthy': False}],
        'endpoints': [{'member_id': '1', 'is_leader': True, 'db_size': 2049000}, {'member_id': '2', 'is_leader': False, 'db_size': 1536}]}


def podmaster(components):
    return {'content': base64.b64encode(json.dumps({'components': components}).encode()).decode()}


HOSTVARS = {
    'm1': {'kubeha_node_ip': '10.0.0.1', '_status_etcd': ETCD, '_status_api': api(NODES, LEASES, PODS), '_status_snapshots': SNAP,
           '_status_readyz': {'status': 200}, 'ansible_facts': {'all_ipv4_addresses': ['10.0.0.1', '10.0.0.100'], 'all_ipv6_addresses': []},
           '_status_podmaster': podmaster({'kube-scheduler': {'holder': 'm1', 'active': True}, 'kube-controller-manager': {'holder': '', 'active': False}})},
    'm2': {'kubeha_node_ip': '10.0.0.2', '_status_readyz': {'status': -1, 'msg': 'refused'}, 'ansible_facts': {'all_ipv4_addresses': ['10.0.0.2']},
           '_status_podmaster': {'failed': True, 'msg': 'file not found'}},
    'm3': {'kubeha_node_ip': '10.0.0.3', 'ansible_facts': {}},
    'lb1': {'kubeha_node_ip': '10.0.0.9', '_status_readyz': {'skipped': True}, 'ansible_facts': {'all_ipv4_addresses': ['10.0.0.9']}},
}
GROUPS = {'masters': ['m1', 'm2', 'm3'], 'etcd': ['m1', 'm2', 'm3'], 'loadbalancers': ['m1', 'lb1'], 'workers': ['w1']}
CERTS = [{'path': '/secrets/ca/kubernetes.crt', 'not_after': '2036-12-01T00:00:00Z', 'days_left': 3645},
         {'path': '/secrets/kubernetes/admin.crt', 'error': 'unreadable'}, {'path': '/secrets/ca/etcd.crt'}]
# what a person reads (rows end without trailing spaces here; the test strips them)
EXPECTED = [
    'KUBERNETES  v1.35.4',
    '  NODE               READY     KUBELET    ADDRESS          TAINTS',
    '  m1                 Ready     v1.35.4    10.0.0.1         node-role.kubernetes.io/control-plane',
    '  w1                 NotReady  v1.35.3    -',
    '  kube-scheduler             Lease held by m2',
    '  kube-controller-manager    Lease held by nobody',
    '  NAMESPACE    SYSTEM POD                                    PHASE      RESTARTS  NODE',
    '  kube-system  coredns-abc                                   ?          0         -',
    '  kube-system  kube-apiserver-a-very-long-static-pod-name-m1 Running    3         m1',
    '',
    'ETCD  2/3 healthy, quorum held, leader m1',
    '  MEMBER             CLIENT URL                  HEALTH   LEADER  DB SIZE',
    '  m1                 https://10.0.0.1:2379       ok       yes     2001 KiB',
    '  m2                 https://10.0.0.2:2379       ok               2 KiB',
    '  m3                 -                           DOWN             -',
    '  SNAPSHOTS newest 2026-12-01T00:00:00Z (150h00m ago), 200 KiB, revision 42, 7 keys, on m1: /var/lib/kubeha/etcd-snapshots/x.db',
    '  ! the last etcd snapshot (2026-12-07T06:00:00Z on m2) failed: no space',
    '  ! the newest etcd snapshot (/var/lib/kubeha/etcd-snapshots/x.db on m1) is 150h00m old, more than twice the '
    'schedule (12h00m): is the kubeha-etcd-snapshot.timer running on the members (systemctl list-timers), and does '
    'journalctl -u kubeha-etcd-snapshot say why not?',
    '',
    'APISERVERS  (load-balanced endpoint https://10.0.0.100:8443)',
    '  MASTER             ADDRESS          READYZ   HOLDS VIP',
    '  m1                 10.0.0.1         ok       yes',
    '  m2                 10.0.0.2         DOWN',
    '  m3                 10.0.0.3         -',
    '  lb1                10.0.0.9         -',
    '',
    'MASTER-ELECTED COMPONENTS  (who each podmaster sees holding the lease)',
    '  m1                 kube-scheduler             holder m1                 ACTIVE here',
    '  m1                 kube-controller-manager    holder none',
    '  m2                 no podmaster status (built-in leader election, or podmaster not running)',
    '  m3                 no podmaster status (built-in leader election, or podmaster not running)',
    '',
    'CERTIFICATES  (controller: /secrets)',
    '  ca/kubernetes.crt                        expires 2036-12-01T00:00:00Z (3645 days)',
    '  kubernetes/admin.crt                     unreadable',
    '  ca/etcd.crt                              missing',
]


def table(groups=None, hostvars=None, **kwargs):
    args = dict(lb_address='10.0.0.100', secrets_dir='/secrets', certificates=CERTS, now=NOW)
    args.update(kwargs)
    return status_table(groups or GROUPS, hostvars or HOSTVARS, **args)


def test_the_filter_is_registered():
    assert set(FilterModule().filters()) == {'status_table'}


def test_the_whole_table():
    assert [line.rstrip() for line in table().split('\n')] == EXPECTED + ['']


def test_holds_the_vip():
    facts = {'all_ipv4_addresses': ['10.0.0.2'], 'all_ipv6_addresses': ['fd00::100']}
    hostvars = dict(HOSTVARS, m2=dict(HOSTVARS['m2'], ansible_facts=facts))
    rows = [line for line in table(hostvars=hostvars, lb_address='fd00::100').splitlines() if line.endswith(' yes')]
    assert rows == ['  m2                 10.0.0.2         DOWN     yes']


def test_nothing_read():
    """A cluster that does not answer: every section says so, and nothing fails."""
    bare = {h: {'kubeha_node_ip': v['kubeha_node_ip']} for h, v in HOSTVARS.items()}
    bare['m1']['_status_api'] = api([], [], [], rc=1)
    bare['m1']['_status_etcd'] = {'failed': True, 'msg': 'no member answered: https://10.0.0.1:2379 (connection refused)'}
    bare['m1']['_status_snapshots'] = {'failed': True, 'msg': 'no member answered'}
    text = table(hostvars=bare, certificates=[])
    assert text.startswith('KUBERNETES  API not answering through the load-balanced endpoint\n')
    assert 'ETCD  ?/? healthy, quorum LOST, leader none\n' in text
    assert '  no member answered: https://10.0.0.1:2379 (connection refused)\n  SNAPSHOTS not read: no member answered\n' in text
    assert text.count('no podmaster status') == 3 and 'SYSTEM POD' not in text
    assert text.endswith('CERTIFICATES  (controller: /secrets)\n')


def test_snapshots_off_or_on_another_schedule():
    assert 'SNAPSHOTS' not in table(snapshot_enabled='false')
    # every 24 hours: the newest (150 h old) is overdue after 48 h
    assert 'more than twice the schedule (48h00m)' in table(snapshot_interval_hours=24)
    assert 'more than twice' not in table(snapshot_interval_hours=24, now=NOW - 110 * 3600)
