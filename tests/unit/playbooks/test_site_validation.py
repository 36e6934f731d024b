"""playbooks/site.yml refuses an unusable inventory before it changes anything.

The first play runs with every tag; ``--tags validate`` stops there. The hosts below are never
contacted: each sets kubeha_node_ip, so no facts are gathered. That is proven, not assumed: they are
reached over SSH at TEST-NET addresses (RFC 5737) that nothing answers, so a task that contacted one
would show it UNREACHABLE.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
SITE = os.path.join(ROOT, 'playbooks', 'site.yml')


def inventory(etcd=3, masters=3, workers=1, lb='10.0.0.100', ips=None, extra=None):
    hosts = {}
    names = ['m%d' % i for i in range(1, max(etcd, masters) + 1)] + ['w%d' % i for i in range(1, workers + 1)]
    for index, name in enumerate(names):
        hosts[name] = {'kubeha_node_ip': (ips or {}).get(name, '10.0.0.%d' % (index + 1)), 'ansible_host': '192.0.2.%d' % (index + 1)}
    variables = {'ansible_connection': 'ssh', 'ansible_ssh_common_args': '-o ConnectTimeout=2 -o BatchMode=yes'}
    if lb is not None:
        variables['kubeha_lb_address'] = lb
    variables.update(extra or {})
    return {'all': {'vars': variables, 'hosts': hosts, 'children': {
        'etcd': {'hosts': {n: None for n in names[:etcd]}},
        'masters': {'hosts': {n: None for n in names[:masters]}},
        'loadbalancers': {'hosts': {n: None for n in names[:2]}},
        'workers': {'hosts': {n: None for n in names[max(etcd, masters):]}},
    }}}


def validate(tmp_path, inv, playbook=SITE):
    path = tmp_path / 'hosts.yml'
    path.write_text(yaml.safe_dump(inv))
    env = dict(os.environ, ANSIBLE_NOCOLOR='1', ANSIBLE_STDOUT_CALLBACK='ansible.builtin.default')
    bindir = os.path.dirname(sys.executable)
    proc = subprocess.run([os.path.join(bindir, 'ansible-playbook'), '-i', str(path), playbook, '--tags', 'validate'],
                          capture_output=True, text=True, env=env, timeout=120, check=False)
    out = proc.stdout + proc.stderr
    assert 'UNREACHABLE' not in out and 'unreachable=1' not in out, 'a host was contacted:\n' + out
    return proc.returncode, out


def test_a_good_inventory_passes(tmp_path):
    rc, out = validate(tmp_path, inventory())
    assert rc == 0, out
    assert 'Validate the inventory' in out


@pytest.mark.parametrize('inv, expected', [
    (inventory(etcd=2, masters=3), "group 'etcd' has 2 hosts (m1, m2)"),
    (inventory(lb=None), 'kubeha_lb_address is not set'),
    (inventory(ips={'m2': '10.0.0.1'}), 'address 10.0.0.1 is used by m1, m2'),
    (inventory(ips={'m3': 'node-three'}), "m3: kubeha_node_ip 'node-three' is not an IPv4 or IPv6 address"),
    (inventory(ips={'m1': '127.0.0.1'}), "m1: kubeha_node_ip '127.0.0.1' is a loopback"),
    (inventory(lb='10.0.0.2'), 'kubeha_lb_address 10.0.0.2 is also the address of m2'),
    (inventory(extra={'kubeha_mode': 'docker'}), "kubeha_mode is 'docker'"),
], ids=['even-etcd', 'no-lb', 'duplicate-ip', 'name-not-ip', 'loopback', 'vip-taken', 'bad-mode'])
def test_a_bad_inventory_is_refused_before_any_change(tmp_path, inv, expected):
    rc, out = validate(tmp_path, inv)
    assert rc != 0
    assert expected in out
    assert 'nothing was changed' in out


def test_kubespray_group_names_are_accepted(tmp_path):
    inv = inventory()
    children = inv['all']['children']
    children['kube_control_plane'] = children.pop('masters')
    children['kube_node'] = children.pop('workers')
    rc, out = validate(tmp_path, inv)
    assert rc == 0, out


def test_the_installed_collection_runs_it_as_kubeha_cluster_site(tmp_path):
    """`ansible-playbook kubeha.cluster.site` (the collection on ANSIBLE_COLLECTIONS_PATH) finds its templates too."""
    rc, out = validate(tmp_path, inventory(), playbook='kubeha.cluster.site')
    assert rc == 0, out
    assert 'Validate the inventory' in out
    rc, out = validate(tmp_path, inventory(etcd=4), playbook='kubeha.cluster.site')
    assert rc != 0 and "group 'etcd' has 4 hosts" in out and 'nothing was changed' in out


@pytest.mark.parametrize('extra, expected', [
    ({'control_plane_podmaster_watchdog': 3}, 'watchdog (3s) + stop_timeout (0.5s) must be below margin (2s)'),
    ({'loadbalancer_vip_prefix': 24, 'kubeha_lb_address': '10.0.1.100'}, 'loadbalancer_address 10.0.1.100/24 spans 10.0.1.0/24'),
    ({'worker_mode': 'docker'}, "worker_mode is 'docker'"),
], ids=['podmaster-timing', 'vip-subnet', 'worker-mode'])
def test_a_later_stages_settings_are_refused_before_the_first_stage(tmp_path, extra, expected):
    """Each role's own checks run in the validation, not when its stage comes (after earlier stages changed hosts)."""
    rc, out = validate(tmp_path, inventory(extra=extra))
    text = ' '.join(out.split())
    assert rc != 0 and expected in text, out[-3000:]
    assert 'Check every role' in out and 'TASK [kubeha.cluster.secrets' not in out
