"""containerd_images: import only what containerd lacks, and prove the digest after the import (a fake ctr plays containerd)."""

from __future__ import annotations

import json
import os
import stat

import pytest

from ansible_collections.kubeha.cluster.plugins.module_utils._daemon.common import DaemonError
from ansible_collections.kubeha.cluster.plugins.module_utils._images.containerd import converge

PAUSE = 'sha256:' + 'a' * 64
WEB = 'sha256:' + 'b' * 64
OTHER = 'sha256:' + 'c' * 64

# a ctr whose store is a JSON file; "import ARCHIVE" records what the archive file (JSON) says; every call is logged
FAKE_CTR = r'''#!/usr/bin/python3
import json, sys
store, log = sys.argv[0] + '.store', sys.argv[0] + '.log'
args = sys.argv[5:]
with open(log, 'a') as handle:
    handle.write(' '.join(args) + '\n')
try:
    images = json.load(open(store))
except FileNotFoundError:
    sys.stderr.write('ctr: failed to dial "/run/containerd/containerd.sock": connection refused\n')
    sys.exit(1)
if args[:2] == ['images', 'ls']:
    print('REF TYPE DIGEST SIZE PLATFORMS LABELS')
    for name, digest in sorted(images.items()):
        print('%s application/vnd.oci.image.manifest.v1+json %s 1.0 MiB linux/amd64 -' % (name, digest))
elif args[:2] == ['images', 'import']:
    images.update(json.load(open(args[2])))
    json.dump(images, open(store, 'w'))
'''


@pytest.fixture
def ctr(tmp_path):
    path = tmp_path / 'ctr'
    path.write_text(FAKE_CTR)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


def settings(ctr):
    return {'ctr': ctr, 'address': '/run/containerd/containerd.sock', 'namespace': 'k8s.io'}


def archive(tmp_path, name, images):
    path = tmp_path / name
    path.write_text(json.dumps(images))
    return str(path)


def store(ctr, images):
    with open(ctr + '.store', 'w', encoding='utf-8') as handle:
        json.dump(images, handle)


def calls(ctr):
    with open(ctr + '.log', encoding='utf-8') as handle:
        return [line.split() for line in handle.read().splitlines()]


def test_only_the_missing_or_different_images_are_imported(tmp_path, ctr):
    store(ctr, {'kubeha.local/pause:1.0': PAUSE, 'kubeha.local/web:1.0': OTHER})
    wanted = [{'name': 'kubeha.local/pause:1.0', 'digest': PAUSE, 'archive': archive(tmp_path, 'pause.tar', {'kubeha.local/pause:1.0': PAUSE})},
              {'name': 'kubeha.local/web:1.0', 'digest': WEB, 'archive': archive(tmp_path, 'web.tar', {'kubeha.local/web:1.0': WEB})}]
    result = converge(settings(ctr), wanted, check_mode=False)
    assert result['changed'] and result['imported'] == ['kubeha.local/web:1.0']
    assert [c[:2] for c in calls(ctr)] == [['images', 'ls'], ['images', 'import'], ['images', 'ls']]
    assert 'kubeha.local/web:1.0 %s' % OTHER in result['diff']['before']
    # the second run imports nothing
    os.remove(ctr + '.log')
    again = converge(settings(ctr), wanted, check_mode=False)
    assert not again['changed'] and again['imported'] == [] and calls(ctr) == [['images', 'ls']]


def test_check_mode_reports_without_importing(tmp_path, ctr):
    store(ctr, {})
    wanted = [{'name': 'kubeha.local/pause:1.0', 'digest': PAUSE, 'archive': archive(tmp_path, 'p.tar', {'kubeha.local/pause:1.0': PAUSE})}]
    result = converge(settings(ctr), wanted, check_mode=True)
    assert result['changed'] and result['imported'] == ['kubeha.local/pause:1.0']
    assert [c[:2] for c in calls(ctr)] == [['images', 'ls']]


def test_check_mode_before_containerd_runs_reports_every_image(tmp_path, ctr):
    wanted = [{'name': 'kubeha.local/pause:1.0', 'digest': PAUSE, 'archive': '/nowhere.tar'}]
    assert converge(settings(ctr), wanted, check_mode=True)['imported'] == ['kubeha.local/pause:1.0']
    with pytest.raises(DaemonError, match='ctr images ls failed.*Is containerd running'):
        converge(settings(ctr), wanted, check_mode=False)


def test_an_import_that_yields_another_digest_fails_naming_both(tmp_path, ctr):
    store(ctr, {})
    wanted = [{'name': 'kubeha.local/pause:1.0', 'digest': PAUSE, 'archive': archive(tmp_path, 'p.tar', {'kubeha.local/pause:1.0': OTHER})}]
    with pytest.raises(DaemonError, match='containerd has %s, the archive %s' % (OTHER, PAUSE)):
        converge(settings(ctr), wanted, check_mode=False)


def test_a_malformed_entry_is_refused(ctr):
    with pytest.raises(DaemonError, match='every entry needs name, a sha256 digest and archive'):
        converge(settings(ctr), [{'name': 'x', 'digest': 'md5:1', 'archive': '/a'}], check_mode=False)
