"""The kubelet's manifest directory is laid out by three roles (node, etcd, worker): one mode, or every run flips it."""

from __future__ import annotations

import importlib.util
import os

HERE = os.path.dirname(os.path.abspath(__file__))


def _helpers(name):
    spec = importlib.util.spec_from_file_location('_kubeha_' + name, os.path.join(HERE, name + '.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _dir_entries(files, path='/etc/kubernetes/manifests'):
    return [f for f in files if f['path'] == path]


def test_node_etcd_and_worker_give_the_manifest_directory_the_same_mode():
    node = _helpers('test_node_plan').plan()
    etcd = _helpers('test_etcd_plan').plan(mode='static_pod')
    worker = _helpers('test_worker_plan').plan(mode='static_pod')
    modes = {role: [(f['state'], f['mode']) for f in _dir_entries(files)] for role, files in
             (('node (systemd)', node['files_systemd']), ('node (monit)', node['files_monit']), ('etcd', etcd['files']),
              ('worker', worker['files']))}
    # seen on the demo before: node 0755, etcd 0700, worker 0755 - changed on every run in static-pod mode
    assert modes == dict.fromkeys(('node (systemd)', 'node (monit)', 'etcd', 'worker'), [('directory', '0700')])
