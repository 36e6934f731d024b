"""kubeha.cluster.grow_kubelet_server: which master's kubelet first talks to the grown master's apiserver.

Molecule grow_kubeadm runs it end to end (a kubeadm master grown to three in static_pod mode).
"""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.kubeha.cluster.plugins.filter.grow_kubelet_server import FilterModule, grow_kubelet_server

MASTERS = ['m1', 'm2', 'm3']
NEW = {'converged': False, 'problems': ['no record']}       # read, no record of a finished run
MEMBER = {'converged': False, 'written': '2026-12-01T00:00:00Z'}  # read, with a record: it ran before
APISERVER = {'_apiserver_planned': {'units': [{'health': {'url': 'https://10.0.0.1:6443/readyz'}}]}}


def hostvars(**converged):
    out = {'m1': dict(APISERVER), 'm2': {}, 'm3': {}}
    for host, result in converged.items():
        out[host]['_kubeha_converged'] = result
    return out


ADOPT = {'layout': 'kubeadm', 'dir': '/etc/kubernetes/pki', 'from_host': 'm1'}


def test_the_filter_is_registered():
    assert set(FilterModule().filters()) == {'grow_kubelet_server'}


def test_a_joining_master_talks_to_the_grown_masters_apiserver():
    assert grow_kubelet_server('m2', hostvars(m2=NEW), MASTERS, adopt=ADOPT, mode='static_pod') == 'https://10.0.0.1:6443'
    # from_host unset: the first master is the grown one
    assert grow_kubelet_server('m3', hostvars(m3=NEW), MASTERS, adopt={'layout': 'kubeadm', 'dir': '/x'},
                               mode='static_pod') == 'https://10.0.0.1:6443'


@pytest.mark.parametrize('host, converged, adopt, mode', [
    ('m1', {'m1': NEW}, ADOPT, 'static_pod'),     # the grown master itself
    ('m2', {'m2': MEMBER}, ADOPT, 'static_pod'),  # a master that ran before
    ('m2', {}, ADOPT, 'static_pod'),              # not read (its read skipped): not told apart
    ('m2', {'m2': NEW}, {}, 'static_pod'),        # not growing
    ('m2', {'m2': NEW}, ADOPT, 'host'),           # host mode: systemd runs the control plane, no static pod waits for an API
], ids=['grown-master', 'member', 'not-read', 'not-growing', 'host-mode'])
def test_every_other_master_stays_on_the_balanced_endpoint(host, converged, adopt, mode):
    assert grow_kubelet_server(host, hostvars(**converged), MASTERS, adopt=adopt, mode=mode) == ''


def test_the_grown_master_out_of_the_play_is_named():
    with pytest.raises(AnsibleFilterError, match='m2 joins the cluster grown from m1, whose apiserver'):
        grow_kubelet_server('m2', {'m1': {}, 'm2': {'_kubeha_converged': NEW}}, MASTERS, adopt=ADOPT, mode='static_pod')
