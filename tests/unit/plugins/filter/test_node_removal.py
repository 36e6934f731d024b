"""kubeha.cluster.node_removal: workers and masters of the inventory are removed; anything else is refused, named."""

from __future__ import annotations

from ansible_collections.kubeha.cluster.plugins.filter.node_removal import FilterModule, node_removal

GROUPS = {'all': ['m1', 'm2', 'm3', 'w1', 'w2', 'lb1', 'e4'], 'masters': ['m1', 'm2', 'm3'], 'etcd': ['m1', 'm2', 'm3', 'e4'],
          'loadbalancers': ['lb1'], 'workers': ['w1', 'w2', 'e4']}


def test_workers_by_list_or_comma_string_without_repeats():
    assert node_removal(['w1'], GROUPS) == {'nodes': ['w1'], 'masters': [], 'kept_masters': ['m1', 'm2', 'm3'],
                                            'secrets_files': ['kubelet/w1.crt', 'kubelet/w1.key', 'bundles/w1.tar'],
                                            'problems': []}
    both = node_removal('w2, w1,w2', GROUPS)
    assert both['nodes'] == ['w2', 'w1'] and both['problems'] == [] and both['secrets_files'][3:] == [
        'kubelet/w1.crt', 'kubelet/w1.key', 'bundles/w1.tar']
    assert FilterModule().filters()['node_removal'] is node_removal


def test_nothing_named_is_refused():
    for empty in ('', ' , ', []):
        (problem,) = node_removal(empty, GROUPS)['problems']
        assert problem.startswith('kubeha_remove_nodes is empty: name the workers or masters to remove')
    (problem,) = node_removal({'w1': True}, GROUPS)['problems']
    assert problem.startswith("kubeha_remove_nodes is {'w1': True}: give the inventory names of the workers or masters")


def test_etcd_members_balancers_and_strangers_are_refused_each_named():
    result = node_removal('m1,e4,lb1,w9,w1', GROUPS)
    assert result['problems'] == [
        'm1 is an etcd member: take it out of the etcd group and run site.yml with etcd_remove_members: [m1] first (the '
        'etcd role removes the member with the quorum kept, and the apiservers and podmaster follow), then remove the '
        'node; this playbook removes workers and masters only',
        'e4 is an etcd member: take it out of the etcd group and run site.yml with etcd_remove_members: [e4] first (the '
        'etcd role removes the member with the quorum kept, and the apiservers and podmaster follow), then remove the '
        'node; this playbook removes workers and masters only',
        'lb1 is a load balancer: take it out of the loadbalancers group and run site.yml first (the VIP moves to the '
        'others), then remove the node; this playbook removes workers and masters only',
        'kubeha_remove_nodes names w9, which is not in the inventory (its hosts: e4, lb1, m1, m2, m3, w1, w2)']
    assert node_removal('lb1', dict(GROUPS, loadbalancers=[]))['problems'] == [
        'lb1 is neither a worker nor a master (not in the workers, kube_node, masters or kube_control_plane group): '
        'there is no node to remove']


def test_a_master_out_of_etcd_is_removed_and_the_others_kept_in_inventory_order():
    groups = dict(GROUPS, etcd=['m1', 'm2', 'e4'])
    result = node_removal('m3,w2', groups)
    assert result['problems'] == []
    assert result['nodes'] == ['m3', 'w2'] and result['masters'] == ['m3'] and result['kept_masters'] == ['m1', 'm2']
    assert result['secrets_files'][:3] == ['kubelet/m3.crt', 'kubelet/m3.key', 'bundles/m3.tar']


def test_removing_every_master_is_refused():
    groups = dict(GROUPS, etcd=['e4'], masters=['m1', 'm2'])
    result = node_removal('m2,m1', groups)
    assert result['problems'] == [
        'kubeha_remove_nodes names every master (m2, m1): at least one must stay to serve the API; add the new masters '
        'with site.yml first, then remove the old ones']
    assert node_removal('m2', groups)['problems'] == []
