"""OCI image archives: what scripts/oci_image.py writes, and what the controller refuses before any node is touched."""

from __future__ import annotations

import hashlib
import importlib.util
import io
import json
import os
import tarfile

import pytest

from ansible_collections.kubeha.cluster.plugins.lookup.kube_images import report
from ansible_collections.kubeha.cluster.plugins.plugin_utils._oci import ArchiveError, read_archive

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
_SPEC = importlib.util.spec_from_file_location('oci_image', os.path.join(ROOT, 'scripts', 'oci_image.py'))
oci_image = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(oci_image)


@pytest.fixture
def program(tmp_path):
    path = tmp_path / 'prog'
    path.write_bytes(b'#!/bin/sh\necho hello\n')
    return str(path)


def build(tmp_path, program, name='kubeha.local/pause:1.0', file='pause.tar'):
    out = str(tmp_path / file)
    digest = oci_image.build(out, name, 'amd64', [(program, '/pause', 0o755)], [('/bin/sh', 'busybox')], entrypoint=['/pause'])
    return out, digest


def members(path):
    with tarfile.open(path) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}


def rewrite(path, change):
    """Rewrite the archive with change(name, data) -> data or None (dropped)."""
    files = members(path)
    with tarfile.open(path, 'w') as tar:
        for name, data in files.items():
            data = change(name, data)
            if data is not None:
                info = tarfile.TarInfo(name)
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))


def test_an_archive_names_its_image_with_the_digest_containerd_records(tmp_path, program):
    out, digest = build(tmp_path, program)
    assert read_archive(out) == [{'name': 'kubeha.local/pause:1.0', 'digest': digest, 'platform': 'linux/amd64'}]
    index = json.loads(members(out)['index.json'])
    assert index['manifests'][0]['annotations'] == {'io.containerd.image.name': 'kubeha.local/pause:1.0',
                                                    'org.opencontainers.image.ref.name': '1.0'}


def test_the_same_inputs_give_the_same_bytes(tmp_path, program):
    first, _first = build(tmp_path, program, file='a.tar')
    second, _second = build(tmp_path, program, file='b.tar')
    with open(first, 'rb') as a, open(second, 'rb') as b:
        assert a.read() == b.read()


def test_the_layer_holds_the_files_owned_by_root_with_their_modes(tmp_path, program):
    out, _digest = build(tmp_path, program)
    manifest_digest = json.loads(members(out)['index.json'])['manifests'][0]['digest']
    manifest = json.loads(members(out)['blobs/sha256/' + manifest_digest.split(':')[1]])
    layer = members(out)['blobs/sha256/' + manifest['layers'][0]['digest'].split(':')[1]]
    with tarfile.open(fileobj=io.BytesIO(layer), mode='r:gz') as tar:
        entries = {m.name: m for m in tar.getmembers()}
    assert entries['pause'].mode == 0o755 and entries['pause'].uid == 0
    assert entries['bin/sh'].issym() and entries['bin/sh'].linkname == 'busybox'
    assert entries['bin'].isdir()


def _manifest_and_config(out):
    files = members(out)
    manifest_digest = json.loads(files['index.json'])['manifests'][0]['digest']
    manifest = json.loads(files['blobs/sha256/' + manifest_digest.split(':')[1]])
    return manifest, json.loads(files['blobs/sha256/' + manifest['config']['digest'].split(':')[1]])


def test_a_base_root_file_system_is_a_layer_of_its_own_shared_by_the_images_built_on_it(tmp_path, program):
    base = tmp_path / 'rootfs.tar'
    with tarfile.open(base, 'w') as tar:
        info = tarfile.TarInfo('./usr/bin/python3')
        info.size = 6
        tar.addfile(info, io.BytesIO(b'python'))
    images = {}
    for name in ('kubeha.local/kube-proxy:v1.35.4', 'kubeha.local/podmaster:1.0'):
        out = str(tmp_path / (name.split('/')[1].split(':')[0] + '.tar'))
        files = [(program, '/usr/local/bin/kube-proxy', 0o755)] if 'proxy' in name else []
        digest = oci_image.build(out, name, 'amd64', files, [], base=str(base), labels=[('kubeha.base', 'bookworm')])
        assert read_archive(out) == [{'name': name, 'digest': digest, 'platform': 'linux/amd64'}]
        images[name] = _manifest_and_config(out)
    proxy_manifest, proxy_config = images['kubeha.local/kube-proxy:v1.35.4']
    podmaster_manifest, podmaster_config = images['kubeha.local/podmaster:1.0']
    # kube-proxy: the base, then its binary; the podmaster image is the base alone
    assert len(proxy_manifest['layers']) == 2 and len(podmaster_manifest['layers']) == 1
    assert proxy_manifest['layers'][0] == podmaster_manifest['layers'][0]
    assert proxy_config['rootfs']['diff_ids'][0] == podmaster_config['rootfs']['diff_ids'][0] == 'sha256:' + hashlib.sha256(base.read_bytes()).hexdigest()
    assert len(proxy_config['history']) == 2 and proxy_config['config']['Labels'] == {'kubeha.base': 'bookworm'}


def test_a_corrupt_blob_is_refused(tmp_path, program):
    out, _digest = build(tmp_path, program)
    layer = [n for n, d in members(out).items() if n.startswith('blobs/') and d[:2] == b'\x1f\x8b'][0]
    rewrite(out, lambda name, data: data[:-1] + bytes([data[-1] ^ 1]) if name == layer else data)
    with pytest.raises(ArchiveError, match='is corrupt'):
        read_archive(out)


def test_a_missing_blob_and_a_missing_index_are_refused(tmp_path, program):
    out, _digest = build(tmp_path, program)
    config = [n for n, d in members(out).items() if n.startswith('blobs/') and b'"rootfs"' in d][0]
    rewrite(out, lambda name, data: None if name == config else data)
    with pytest.raises(ArchiveError, match='is missing'):
        read_archive(out)
    out, _digest = build(tmp_path, program, file='other.tar')
    rewrite(out, lambda name, data: None if name == 'index.json' else data)
    with pytest.raises(ArchiveError, match='index.json is missing'):
        read_archive(out)


def test_a_file_that_is_not_a_tar_is_refused(tmp_path):
    bad = tmp_path / 'bad.tar'
    bad.write_bytes(b'not an archive')
    with pytest.raises(ArchiveError, match='not a readable tar archive'):
        read_archive(str(bad))


def test_an_archive_that_names_its_image_only_by_tag_is_refused_with_the_way_to_name_it(tmp_path, program):
    out, _digest = build(tmp_path, program)

    def tag_only(name, data):
        if name != 'index.json':
            return data
        index = json.loads(data)
        index['manifests'][0]['annotations'] = {'org.opencontainers.image.ref.name': '1.0'}
        return json.dumps(index).encode()
    rewrite(out, tag_only)
    with pytest.raises(ArchiveError, match='names no image.*skopeo copy'):
        read_archive(out)


def test_the_lookup_reports_every_archive_with_its_file_entry_and_images(tmp_path, program):
    pause, pause_digest = build(tmp_path, program)
    web, web_digest = build(tmp_path, program, name='kubeha.local/web:1.0', file='web.tar')
    got = report(str(tmp_path), required=['kubeha.local/pause:1.0'], dest_dir='/var/lib/kubeha/images')
    assert got['ok'] and not got['problems']
    assert got['files'] == [{'path': '/var/lib/kubeha/images/pause.tar', 'src': pause, 'mode': '0600'},
                            {'path': '/var/lib/kubeha/images/web.tar', 'src': web, 'mode': '0600'}]
    assert got['images'] == [{'name': 'kubeha.local/pause:1.0', 'digest': pause_digest, 'archive': '/var/lib/kubeha/images/pause.tar'},
                             {'name': 'kubeha.local/web:1.0', 'digest': web_digest, 'archive': '/var/lib/kubeha/images/web.tar'}]


def test_the_lookup_names_every_problem_at_once(tmp_path, program):
    build(tmp_path, program)
    (tmp_path / 'broken.tar').write_bytes(b'x')
    got = report(str(tmp_path), required=['kubeha.local/coredns:1.15.0'])
    assert not got['ok']
    assert any('broken.tar: not a readable tar archive' in p for p in got['problems'])
    assert 'no archive holds kubeha.local/coredns:1.15.0 (the archives hold: kubeha.local/pause:1.0)' in got['problems']
    assert report(str(tmp_path / 'absent'))['problems'] == ['%s: not a directory' % (tmp_path / 'absent')]
    empty = tmp_path / 'empty'
    empty.mkdir()
    assert report(str(empty))['problems'] == ['%s holds no *.tar archive' % empty]


def test_one_name_with_two_digests_is_refused(tmp_path, program):
    build(tmp_path, program, file='a.tar')
    other = tmp_path / 'other'
    other.write_bytes(b'different content')
    oci_image.build(str(tmp_path / 'b.tar'), 'kubeha.local/pause:1.0', 'amd64', [(str(other), '/pause', 0o755)], [])
    got = report(str(tmp_path))
    assert not got['ok'] and 'also in' in got['problems'][0]
