"""kubeha.cluster.node_removal: only workers of the inventory are removed; anything else is refused, named."""

from __future__ import annotations

from ansible_collections.kubeha.cluster.plugins.filter.node_removal import FilterModule, node_removal

GROUPS = {'all': ['m1', 'm2', 'm3', 'w1', 'w2', 'lb1', 'e4'], 'masters': ['m1', 'm2', 'm3'], 'etcd': ['m1', 'm2', 'm3', 'e4'],
          'loadbalancers': ['lb1'], 'workers': ['w1', 'w2', 'e4']}


def test_workers_by_list_or_comma_string_without_repeats():
    assert node_removal(['w1'], GROUPS) == {'nodes': ['w1'], 'secrets_files': ['kubelet/w1.crt', 'kubelet/w1.key', 'bundles/w1.tar'],
                                            'problems': []}
    both = node_removal('w2, w1,w2', GROUPS)
    assert both['nodes'] == ['w2', 'w1'] and both['problems'] == [] and both['secrets_files'][3:] == [
        'kubelet/w1.crt', 'kubelet/w1.key', 'bundles/w1.tar']
    assert FilterModule().filters()['node_removal'] is node_removal


def test_nothing_named_is_refused():
    for empty in ('', ' , ', []):
        (problem,) = node_removal(empty, GROUPS)['problems']
        assert problem.startswith('kubeha_remove_nodes is empty: name the workers to remove')
    (problem,) = node_removal({'w1': True}, GROUPS)['problems']
    assert problem.startswith("kubeha_remove_nodes is {'w1': True}: give the workers' inventory names")


def test_masters_etcd_members_balancers_and_strangers_are_refused_each_named():
    result = node_removal('m1,e4,lb1,w9,w1', GROUPS)
    assert result['problems'] == [
        'm1 is a master: its removal also moves its etcd member, its balancer backend and the elected Leases, which this '
        'playbook does not do; and an etcd member: take it out of the etcd group and run site.yml first (the etcd role '
        'removes the member with quorum kept), then remove the node; this playbook removes workers only',
        'e4 is an etcd member: take it out of the etcd group and run site.yml first (the etcd role removes the member with '
        'quorum kept), then remove the node; this playbook removes workers only',
        'lb1 is a load balancer: take it out of the loadbalancers group and run site.yml first (the VIP moves to the '
        'others), then remove the node; this playbook removes workers only',
        'kubeha_remove_nodes names w9, which is not in the inventory (its hosts: e4, lb1, m1, m2, m3, w1, w2)']
    assert node_removal('lb1', dict(GROUPS, loadbalancers=[]))['problems'] == [
        'lb1 is not a worker (not in the workers or kube_node group): there is no node to remove']
