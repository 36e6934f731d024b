"""kubeha.cluster.secrets_plan filter: which hosts the secrets role makes certificates for, and what each receives."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.kubeha.cluster.plugins.filter.secrets_plan import FilterModule, secrets_plan

SETTINGS = {'secrets_masters_group': 'masters', 'secrets_etcd_hosts_group': 'etcd', 'secrets_workers_group': 'workers',
            'secrets_masters_are_nodes': True, 'secrets_dir': '/inv/secrets'}
GROUPS = {'all': ['m1', 'm2', 'e1', 'w1', 'x'], 'masters': ['m1', 'm2'], 'etcd': ['m1', 'e1'], 'workers': ['w1', 'm2'],
          'ungrouped': []}
ADDRESSES = {'m1': '10.0.0.11', 'm2': '10.0.0.12', 'e1': 'fd00::21', 'w1': '10.0.0.31', 'x': ''}


def plan(**change):
    return secrets_plan(dict(SETTINGS, **{'secrets_' + k: v for k, v in change.items()}), groups=GROUPS, addresses=ADDRESSES)


def test_masters_etcd_members_and_nodes():
    result = plan()
    assert FilterModule().filters()['secrets_plan'] is secrets_plan
    assert result['masters'] == [{'name': 'm1', 'ip': '10.0.0.11'}, {'name': 'm2', 'ip': '10.0.0.12'}]
    assert result['etcd_members'] == [{'name': 'm1', 'ip': '10.0.0.11'}, {'name': 'e1', 'ip': 'fd00::21'}]
    assert result['etcd'] == ['m1', 'e1']
    assert result['nodes'] == ['m1', 'm2', 'w1']  # each once, in order


def test_what_each_host_receives():
    assert plan()['bundles'] == [
        {'host': 'm1', 'master': True, 'node': True, 'etcd_member': 'm1'},
        {'host': 'm2', 'master': True, 'node': True, 'etcd_member': None},
        {'host': 'e1', 'master': False, 'node': False, 'etcd_member': 'e1'},
        {'host': 'w1', 'master': False, 'node': True, 'etcd_member': None},
    ]


def test_masters_that_are_not_nodes():
    result = plan(masters_are_nodes=False)
    assert result['nodes'] == ['w1', 'm2']
    assert [b['node'] for b in result['bundles']] == [False, True, False, True]


def test_a_host_without_an_address_gets_an_empty_ip_and_missing_groups_are_empty():
    result = secrets_plan(dict(SETTINGS, secrets_etcd_hosts_group='nothere', secrets_workers_group='ungrouped'),
                          groups=dict(GROUPS, masters=['m1', 'y']), addresses=ADDRESSES)
    assert result['masters'] == [{'name': 'm1', 'ip': '10.0.0.11'}, {'name': 'y', 'ip': ''}]
    assert result['etcd_members'] == [] and result['etcd'] == []
    assert [b['host'] for b in result['bundles']] == ['m1', 'y']


@pytest.mark.parametrize('args', [(None, GROUPS, ADDRESSES), (SETTINGS, [], ADDRESSES), (SETTINGS, GROUPS, ['m1'])])
def test_bad_arguments_are_refused(args):
    with pytest.raises(AnsibleFilterError, match='secrets_plan: expected'):
        secrets_plan(args[0], groups=args[1], addresses=args[2])


def test_a_missing_variable_is_named():
    settings = dict(SETTINGS)
    del settings['secrets_workers_group']
    with pytest.raises(AnsibleFilterError, match=r'secrets_plan: secrets_workers_group is not set \(the role.s defaults set it'):
        secrets_plan(settings, groups=GROUPS, addresses=ADDRESSES)


def test_nothing_is_adopted_by_default():
    assert plan()['adopt'] is None and plan()['adopt_sources'] == {}
    assert plan(adopt={})['adopt'] is None


def test_a_pki_on_the_controller_is_handed_to_the_module_as_it_is():
    result = plan(adopt={'layout': 'guide', 'dir': '/backup/srv/kubernetes', 'files': {'ca_key': '/vault/ca.key'}})
    # the role adds dir (this one, or the private copy of what it read on from_host)
    assert result['adopt'] == {'layout': 'guide', 'files': {'ca_key': '/vault/ca.key'}}
    assert result['adopt_sources'] == {}


def test_a_pki_on_the_existing_master_is_read_there_under_the_layouts_names():
    result = plan(adopt={'layout': 'kubeadm', 'dir': '/etc/kubernetes/pki', 'from_host': 'm1', 'files': {'sa_pub': 'keys/sa.pem'}})
    assert result['adopt_sources'] == {
        'ca_crt': '/etc/kubernetes/pki/ca.crt', 'ca_key': '/etc/kubernetes/pki/ca.key', 'sa_key': '/etc/kubernetes/pki/sa.key',
        'sa_pub': '/etc/kubernetes/pki/keys/sa.pem', 'etcd_ca_crt': '/etc/kubernetes/pki/etcd/ca.crt',
        'etcd_ca_key': '/etc/kubernetes/pki/etcd/ca.key'}
    # the copies on the controller are named after their items
    assert result['adopt'] == {'layout': 'kubeadm', 'files': {name: name for name in result['adopt_sources']}}


@pytest.mark.parametrize('spec, message', [
    ({'layout': 'kops', 'dir': '/x'}, "secrets_adopt is {'layout': 'kops', 'dir': '/x'}: give it layout (kubeadm or guide) and dir"),
    ({'layout': 'kubeadm'}, "secrets_adopt is {'layout': 'kubeadm'}: give it layout (kubeadm or guide) and dir"),
    ({'layout': 'kubeadm', 'dir': '/x', 'host': 'm1'}, "secrets_adopt has ['host'], which it does not know: use layout, dir, files and from_host"),
    ({'layout': 'kubeadm', 'dir': 'pki', 'from_host': 'm1'},
     "secrets_adopt.dir is 'pki' with from_host m1: give the absolute path of the PKI on that host"),
])
def test_an_adoption_it_cannot_use_is_refused_with_the_fix(spec, message):
    with pytest.raises(AnsibleFilterError) as caught:
        plan(adopt=spec)
    assert str(caught.value).startswith(message)


def test_members_that_leave_keep_their_certificates_while_their_hosts_are_in_the_inventory():
    # m2 leaves etcd but stays a master; e9 is gone from the inventory; m1 is still in the group
    result = plan(etcd_leaving=['m2', 'e9', 'm1'])
    assert result['etcd'] == ['m1', 'e1', 'm2']
    assert result['etcd_members'][-1] == {'name': 'm2', 'ip': '10.0.0.12'}
    assert {'host': 'm2', 'master': True, 'node': True, 'etcd_member': 'm2'} in result['bundles']
    assert plan(etcd_leaving=[])['etcd'] == ['m1', 'e1']


def test_leaving_members_not_given_as_a_list_are_refused():
    with pytest.raises(AnsibleFilterError, match="secrets_etcd_leaving is 'm2': give a list of inventory host names"):
        plan(etcd_leaving='m2')
