"""The worker role's kube-proxy static pod: a valid Pod whose flags are real real flags of the default release, with the
digests that make the kubelet restart it when what it reads changes.

Rendered with real Ansible (tests/unit/roles/rendering.py, as for test_rendered_flags.py).
"""

from __future__ import annotations

import os
import sys

import kubernetes_validate
import pytest
import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(ROOT, 'tests', 'support'))

from rendering import render  # noqa: E402  pylint: disable=wrong-import-position,import-error
from versions import KUBERNETES_DEFAULT  # noqa: E402  pylint: disable=wrong-import-position,import-error
from pflag import load_flag_table, parse_args  # noqa: E402  pylint: disable=wrong-import-position,import-error

VERSION = KUBERNETES_DEFAULT
VARS = {'worker_lb_address': '10.0.0.10', '_worker_kube_proxy_config_digest': 'c0ffee', 'worker_kube_proxy_verbosity': 4}


@pytest.fixture(scope='module', name='pod')
def pod_fixture(tmp_path_factory):
    text = render([dict(id='kube-proxy-pod', role='worker', template='kube-proxy.yaml.j2', vars=VARS)],
                  tmp_path_factory.mktemp('worker'))['kube-proxy-pod']
    assert text.startswith('#'), 'ansible_managed comes first'
    return yaml.safe_load(text)


def test_the_static_pod_is_a_valid_pod_with_real_flags(pod):
    kubernetes_validate.validate(pod, '1.34', strict=True)
    command = pod['spec']['containers'][0]['command']
    assert command[0] == 'kube-proxy'
    values, positional = parse_args(load_flag_table('kube-proxy', VERSION), command[1:])
    assert not positional
    assert values['config'] == ['/var/lib/kube-proxy/config.yaml'] and values['v'] == ['4']
    assert pod['spec']['containers'][0]['image'] == 'registry.k8s.io/kube-proxy:v' + VERSION


def test_the_manifest_carries_the_digests_of_what_the_pod_reads(pod):
    annotations = pod['metadata']['annotations']
    assert annotations['kubeha.io/inputs-sha256'] == '@@inputs_digest@@', 'filled in on the host by kubeha.cluster.daemon (digest_of)'
    assert annotations['kubeha.io/config-sha256'] == 'c0ffee'
