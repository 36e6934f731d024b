"""kubeha.cluster.mount_unit filter: the names systemd-escape --path --suffix=mount gives."""

from __future__ import annotations

import shutil
import subprocess

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.kubeha.cluster.plugins.filter.mount_unit import FilterModule, mount_unit

PATHS = ['/var/etcd/data', '/var/etcd/shared/', '//srv//etcd', '/mnt/etcd-data', '/mnt/my disk', '/srv/.hidden/x', '/',
         '/srv/über', '/a:b_c.d']


def test_known_names():
    assert mount_unit('/var/etcd/data') == 'var-etcd-data.mount'
    assert mount_unit('/mnt/etcd-data') == 'mnt-etcd\\x2ddata.mount'
    assert mount_unit('/') == '-.mount'
    assert mount_unit('/.snap') == '\\x2esnap.mount'
    assert FilterModule().filters()['mount_unit'] is mount_unit


@pytest.mark.skipif(shutil.which('systemd-escape') is None, reason='systemd-escape is not installed here')
@pytest.mark.parametrize('path', PATHS)
def test_the_same_as_systemd_escape(path):
    want = subprocess.run(['systemd-escape', '--path', '--suffix=mount', path], capture_output=True, text=True, check=True).stdout.strip()
    assert mount_unit(path) == want


@pytest.mark.parametrize('path', ['var/etcd', '/var/../etc', '/var/./etcd'])
def test_what_is_no_mount_point_is_refused_with_the_path_named(path):
    with pytest.raises(AnsibleFilterError, match=path.replace('.', '\\.')):
        mount_unit(path)
