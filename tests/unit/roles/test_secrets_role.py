"""The secrets role's installer removes the keys a host must no longer keep (issue 14 item 8).

The install script is the role's files/install-bundle.sh, run as the role runs it (sh -c, the
bundle as base64 on stdin); the paths to remove are temporary files, so nothing outside tmp_path is
touched (an empty bundle installs nothing).
"""

from __future__ import annotations

import base64
import io
import os
import subprocess
import tarfile

from ansible_collections.kubeha.cluster.plugins.filter.bundle_files import bundle_files
from ansible_collections.kubeha.cluster.plugins.module_utils._pki import desired

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


def script():
    with open(os.path.join(ROOT, 'roles', 'secrets', 'files', 'install-bundle.sh'), encoding='utf-8') as handle:
        return handle.read().rstrip('\n')  # as the file lookup reads it


def empty_bundle():
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode='w'):
        pass
    return base64.b64encode(raw.getvalue())


def install(mode, *stale):
    proc = subprocess.run(['/bin/sh', '-c', script(), 'install-bundle', mode, '', 'no-create'] + [str(p) for p in stale],
                          input=empty_bundle(), capture_output=True, check=False, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.decode().splitlines()


def test_stale_keys_are_removed_and_check_mode_only_says_so(tmp_path):
    kept, gone = tmp_path / 'sa.key', tmp_path / 'kubecfg.key'
    kept.write_text('key')
    assert install('check', kept, gone) == ['would remove %s' % kept, 'unchanged']
    assert kept.exists()
    assert install('install', kept, gone) == ['removed %s' % kept, 'unchanged']
    assert not kept.exists()
    assert install('install', kept, gone) == ['unchanged']


def test_what_each_host_must_not_keep():
    worker = desired.stale_secrets({'host': 'w1', 'node': True}, False)
    assert {'/srv/kubernetes/sa.key', '/srv/kubernetes/kubecfg.key', '/srv/kubernetes/ca.key', '/srv/kubernetes/server.key',
            '/etc/etcd/pki/server.key', '/etc/etcd/pki/peer.key', '/srv/kubernetes/known_tokens.csv'} <= set(worker)
    assert '/srv/kubernetes/kubelet.key' not in worker and '/srv/kubernetes/kube-proxy.key' not in worker
    assert not [p for p in worker if p.endswith('.crt')], 'certificates are public: not removed'
    master = {'host': 'm1', 'master': True, 'node': True, 'etcd_member': 'm1'}
    assert desired.stale_secrets(master, False) == ['/srv/kubernetes/ca.key']
    assert desired.stale_secrets(master, True) == []
    etcd_only = desired.stale_secrets({'host': 'e1', 'etcd_member': 'e1'}, False)
    assert '/srv/kubernetes/sa.key' in etcd_only and '/etc/etcd/pki/server.key' not in etcd_only


def test_the_record_counts_a_stale_key_as_drift(tmp_path):
    bundle = tmp_path / 'b.tar'
    with tarfile.open(str(bundle), mode='w'):
        pass
    assert bundle_files(str(bundle), absent=['/srv/kubernetes/sa.key']) == {'/srv/kubernetes/sa.key': {'state': 'absent'}}
