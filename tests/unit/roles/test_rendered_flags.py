"""Every flag our templates render is a real flag of that component and Kubernetes version.

Data-driven: each case renders one template of a role with real Ansible and extracts the
command-line arguments; they are parsed with the stand-ins' pflag parser against the real flag
list under tests/data/flags/<version>/<component>.txt (unknown flags and mistyped values fail).
Roles that render Kubernetes command lines add a case to CASES.
"""

from __future__ import annotations

import os
import sys
import tomllib

import pytest
import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(HERE)), 'support'))

from rendering import render, start_stop_daemon_args, systemd_execstart_args  # noqa: E402  pylint: disable=wrong-import-position,import-error
from versions import KUBERNETES_SUPPORTED  # noqa: E402  pylint: disable=wrong-import-position,import-error
from pflag import FlagError, load_flag_table, parse_args  # noqa: E402  pylint: disable=wrong-import-position,import-error

_KUBELET_ITEM = "_node_plan.monit_daemons | selectattr('name', 'equalto', 'kubelet') | first"
_FULL = {'node_kubelet_kubeconfig': '/etc/kubernetes/kubelet.conf', 'node_kubelet_node_ip': '10.0.0.5',
         'node_kubelet_extra_args': {'max-pods': 50, 'register-node': 'true'}}

# id, role, template, component, how to get the arguments, vars
CASES = [
    dict(id='node-kubelet-unit', role='node', template='kubelet.service.j2', component='kubelet', args=systemd_execstart_args),
    dict(id='node-kubelet-unit-full', role='node', template='kubelet.service.j2', component='kubelet', args=systemd_execstart_args,
         vars=_FULL),
    dict(id='node-kubelet-monit-ctl', role='node', template='daemon-ctl.sh.j2', component='kubelet', args=start_stop_daemon_args,
         loop_item=_KUBELET_ITEM),
    dict(id='node-kubelet-monit-ctl-full', role='node', template='daemon-ctl.sh.j2', component='kubelet', args=start_stop_daemon_args,
         loop_item=_KUBELET_ITEM, vars=_FULL),
    dict(id='worker-kube-proxy-unit', role='worker', template='kube-proxy.service.j2', component='kube-proxy',
         args=systemd_execstart_args, vars={'worker_lb_address': '10.0.0.10', 'worker_kube_proxy_verbosity': 4}),
]


@pytest.fixture(scope='module', name='rendered', params=KUBERNETES_SUPPORTED)
def rendered_fixture(request, tmp_path_factory):
    """All cases rendered in one ansible-playbook run, for each supported release."""
    version = request.param
    extra = [
        dict(id='bogus-flag', role='node', template='kubelet.service.j2', vars={'node_kubelet_extra_args': {'no-such-flag': 'x'}}),
        dict(id='containerd-systemd', role='node', template='containerd-config.toml.j2'),
        dict(id='kubelet-config-systemd', role='node', template='kubelet-config.yaml.j2'),
        dict(id='containerd-cgroupfs', role='node', template='containerd-config.toml.j2', vars={'node_cgroup_driver': 'cgroupfs'}),
        dict(id='kubelet-config-cgroupfs', role='node', template='kubelet-config.yaml.j2', vars={'node_cgroup_driver': 'cgroupfs'}),
    ]
    pinned = {'node_kubernetes_version': version, 'worker_kubernetes_version': version}
    cases = [dict(case, vars=dict(pinned, **case.get('vars', {}))) for case in CASES + extra]
    out = render(cases, tmp_path_factory.mktemp('rendered'))
    out['version'] = version
    return out


def check_flags(component, args, version):
    """Parse args like the real component of that release would; return the parsed values."""
    for arg in args:
        assert arg.startswith('--') and '=' in arg, 'render flags as --name=value, got %r' % arg
    values, positional = parse_args(load_flag_table(component, version), args)
    assert not positional
    return values


@pytest.mark.parametrize('case', CASES, ids=[c['id'] for c in CASES])
def test_rendered_flags_are_real(rendered, case):
    values = check_flags(case['component'], case['args'](rendered[case['id']]), rendered['version'])
    if case['component'] == 'kubelet':
        assert values['config'] == ['/var/lib/kubelet/config.yaml']


def test_full_kubelet_command_line_carries_every_setting(rendered):
    values = check_flags('kubelet', systemd_execstart_args(rendered['node-kubelet-unit-full']), rendered['version'])
    assert values['kubeconfig'] == ['/etc/kubernetes/kubelet.conf']
    assert values['node-ip'] == ['10.0.0.5']
    assert values['max-pods'] == ['50']
    assert check_flags('kubelet', start_stop_daemon_args(rendered['node-kubelet-monit-ctl-full']), rendered['version']) == values


def test_a_flag_the_kubelet_does_not_have_is_caught(rendered):
    with pytest.raises(FlagError, match='unknown flag: --no-such-flag'):
        check_flags('kubelet', systemd_execstart_args(rendered['bogus-flag']), rendered['version'])


@pytest.mark.parametrize('driver', ['systemd', 'cgroupfs'])
def test_containerd_and_kubelet_agree_on_the_cgroup_driver(rendered, driver):
    containerd = tomllib.loads(rendered['containerd-' + driver])
    cri = containerd['plugins']['io.containerd.grpc.v1.cri']
    kubelet = yaml.safe_load(rendered['kubelet-config-' + driver])
    assert cri['containerd']['runtimes']['runc']['options']['SystemdCgroup'] is (driver == 'systemd')
    assert kubelet['cgroupDriver'] == driver
    assert kubelet['kind'] == 'KubeletConfiguration' and kubelet['apiVersion'] == 'kubelet.config.k8s.io/v1beta1'
    assert kubelet['containerRuntimeEndpoint'] == 'unix://' + containerd['grpc']['address']
    assert containerd['version'] == 2


def test_standalone_kubelet_lets_nobody_in_anonymously(rendered):
    kubelet = yaml.safe_load(rendered['kubelet-config-systemd'])
    assert kubelet['authentication']['anonymous'] == {'enabled': False}
    assert kubelet['readOnlyPort'] == 0
    assert kubelet['healthzPort'] == 10248
