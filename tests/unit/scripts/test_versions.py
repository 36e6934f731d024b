"""One default release everywhere: the set-up builds what the roles default to and the tests check.

tests/support/versions.py names the supported releases; scripts/setup.sh pins what it builds, the
roles' defaults name a release, and the demo inventory and the Molecule scenarios install one.
A release changed in one place and not in the others fails here, not on a node.
"""

from __future__ import annotations

import glob
import os
import re
import sys

import pytest
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
sys.path.insert(0, os.path.join(ROOT, 'tests', 'support'))

from versions import ETCD_DEFAULT, ETCD_SUPPORTED, KUBERNETES_DEFAULT, KUBERNETES_SUPPORTED  # noqa: E402  pylint: disable=wrong-import-position,import-error


def _setup_pin(name):
    with open(os.path.join(ROOT, 'scripts', 'setup.sh'), encoding='utf-8') as handle:
        match = re.search(r'^%s=(\S+)$' % name, handle.read(), re.M)
    assert match, 'scripts/setup.sh does not pin %s' % name
    return match.group(1)


def test_the_setup_builds_the_default_releases():
    assert _setup_pin('KUBEHA_KUBERNETES_VERSION') == KUBERNETES_DEFAULT
    assert _setup_pin('KUBEHA_ETCD_VERSION') == ETCD_DEFAULT
    assert _setup_pin('KUBEHA_ETCD_PREVIOUS_VERSION') in ETCD_SUPPORTED


@pytest.mark.parametrize('path', sorted(glob.glob(os.path.join(ROOT, 'roles', '*', 'defaults', 'main.yml'))
                                        + glob.glob(os.path.join(ROOT, 'roles', '*', 'meta', 'argument_specs.yml'))
                                        + [os.path.join(ROOT, 'playbooks', 'site.yml')]),
                         ids=lambda p: os.path.relpath(p, ROOT))
def test_every_role_defaults_to_the_default_kubernetes_release(path):
    with open(path, encoding='utf-8') as handle:
        text = handle.read()
    seen = set(re.findall(r'\b1\.\d+\.\d+\b', text))
    assert seen <= {KUBERNETES_DEFAULT}, '%s names %s; the default release is %s' % (path, sorted(seen), KUBERNETES_DEFAULT)


def test_the_etcd_role_defaults_to_the_default_etcd_release():
    with open(os.path.join(ROOT, 'roles', 'etcd', 'defaults', 'main.yml'), encoding='utf-8') as handle:
        assert yaml.safe_load(handle)['etcd_version'] == ETCD_DEFAULT


@pytest.mark.parametrize('version', KUBERNETES_SUPPORTED)
def test_every_supported_minor_has_flag_data_from_the_real_binaries(version):
    minor = '.'.join(version.split('.')[:2])
    files = sorted(glob.glob(os.path.join(ROOT, 'tests', 'data', 'flags', minor, '*.txt')))
    assert [os.path.basename(f) for f in files] == ['kube-apiserver.txt', 'kube-controller-manager.txt', 'kube-proxy.txt',
                                                    'kube-scheduler.txt', 'kubelet.txt']
    for path in files:
        with open(path, encoding='utf-8') as handle:
            head = handle.read(400)
        assert 'k8s.io/kubernetes@v%s' % version in head, '%s was not generated from the %s binaries' % (path, version)


@pytest.mark.parametrize('path', sorted(glob.glob(os.path.join(ROOT, 'molecule', '*', 'molecule.yml')))
                         + [os.path.join(ROOT, 'inventories', 'demo', 'hosts.yml')], ids=lambda p: os.path.relpath(p, ROOT))
def test_the_demo_and_the_scenarios_run_the_default_releases(path):
    with open(path, encoding='utf-8') as handle:
        text = handle.read()
    assert set(re.findall(r'kubeha_kubernetes_version: "?([0-9.]+)', text)) <= {KUBERNETES_DEFAULT}
    assert set(re.findall(r'etcd_version: "?([0-9.]+)', text)) <= set(ETCD_SUPPORTED)
