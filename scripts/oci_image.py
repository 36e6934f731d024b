"""Write a one-layer OCI image archive from files on this machine, with no registry and no daemon.

    python3 scripts/oci_image.py OUT.tar --name REF [--arch amd64] [--entrypoint JSON] [--cmd JSON]
        [--env K=V ...] [--file SRC:DEST[:MODE] ...] [--link DEST:TARGET ...] [--created RFC3339]
        [--base ROOTFS.tar] [--label K=V ...]

The archive is an OCI image layout in a tar (oci-layout, index.json, blobs/sha256/...), what
`ctr images import`, `skopeo copy oci-archive:` and `podman load` read. index.json names the image
twice, as containerd's own export does: `io.containerd.image.name` holds REF and
`org.opencontainers.image.ref.name` its tag. The layer is one gzip-compressed tar with every file
owned by root and stamped with --created, so the same inputs give the same bytes and the same
digests: a node that already holds the image sees the same digest and imports nothing. --base puts
an uncompressed root file system tar (mmdebstrap's, for images that need Debian's packages) under
that layer as a layer of its own; images built on the same base share its digest, so containerd
keeps it once.

scripts/build_release.sh (images) uses it for the local images of kube_images_source: local.
"""

from __future__ import annotations

import argparse
import calendar
import gzip
import hashlib
import io
import json
import os
import sys
import tarfile
import time

OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json'
OCI_INDEX = 'application/vnd.oci.image.index.v1+json'
OCI_CONFIG = 'application/vnd.oci.image.config.v1+json'
OCI_LAYER_GZIP = 'application/vnd.oci.image.layer.v1.tar+gzip'


def _epoch(created):
    return calendar.timegm(time.strptime(created, '%Y-%m-%dT%H:%M:%SZ'))


def _tarinfo(name, kind, mtime, mode=0o755, size=0, target=''):
    info = tarfile.TarInfo(name)
    info.type, info.mode, info.size, info.mtime, info.linkname = kind, mode, size, mtime, target
    info.uid = info.gid = 0
    info.uname = info.gname = 'root'
    return info


def layer(files, links, mtime):
    """Return (uncompressed tar, gzip of it): the parent directories, files and symlinks, sorted."""
    entries = {}
    for src, dest, mode in files:
        with open(src, 'rb') as handle:
            data = handle.read()
        entries[dest.strip('/')] = ('file', data, mode)
    for dest, target in links:
        entries[dest.strip('/')] = ('link', target, 0o777)
    dirs = set()
    for name in entries:
        parts = name.split('/')[:-1]
        dirs.update('/'.join(parts[:i]) for i in range(1, len(parts) + 1))
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode='w', format=tarfile.PAX_FORMAT) as tar:
        for name in sorted(dirs | set(entries)):
            if name in dirs and name not in entries:
                tar.addfile(_tarinfo(name + '/', tarfile.DIRTYPE, mtime))
            elif entries[name][0] == 'link':
                tar.addfile(_tarinfo(name, tarfile.SYMTYPE, mtime, 0o777, target=entries[name][1]))
            else:
                _kind, data, mode = entries[name]
                tar.addfile(_tarinfo(name, tarfile.REGTYPE, mtime, mode, len(data)), io.BytesIO(data))
    data = raw.getvalue()
    return data, _gzip(data)


def _json(obj):
    return json.dumps(obj, sort_keys=True, separators=(',', ':')).encode()


def _descriptor(media_type, blob, **extra):
    return dict({'mediaType': media_type, 'digest': 'sha256:' + hashlib.sha256(blob).hexdigest(), 'size': len(blob)}, **extra)


def _gzip(data):
    compressed = io.BytesIO()
    with gzip.GzipFile(fileobj=compressed, mode='wb', mtime=0, compresslevel=6) as gz:
        gz.write(data)
    return compressed.getvalue()


def build(out, name, arch, files, links, entrypoint=None, cmd=None, env=(), created='2026-01-01T00:00:00Z',
          base=None, labels=None):
    """Write the archive to out; return the manifest's digest (what containerd reports as the image's)."""
    mtime = _epoch(created)
    layers = []
    if base:
        with open(base, 'rb') as handle:
            raw = handle.read()
        layers.append((raw, _gzip(raw), 'kubeha scripts/oci_image.py --base ' + os.path.basename(base)))
    if files or links or not base:
        raw, gz = layer(files, links, mtime)
        layers.append((raw, gz, 'kubeha scripts/oci_image.py'))
    config = {'architecture': arch, 'os': 'linux', 'created': created,
              'config': {'Env': list(env) or ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'],
                         'WorkingDir': '/'},
              'rootfs': {'type': 'layers', 'diff_ids': ['sha256:' + hashlib.sha256(raw).hexdigest() for raw, _gz, _by in layers]},
              'history': [{'created': created, 'created_by': by} for _raw, _gz, by in layers]}
    if entrypoint:
        config['config']['Entrypoint'] = entrypoint
    if cmd:
        config['config']['Cmd'] = cmd
    if labels:
        config['config']['Labels'] = dict(labels)
    config_blob = _json(config)
    manifest = _json({'schemaVersion': 2, 'mediaType': OCI_MANIFEST,
                      'config': _descriptor(OCI_CONFIG, config_blob),
                      'layers': [_descriptor(OCI_LAYER_GZIP, gz) for _raw, gz, _by in layers]})
    tag = name.rsplit(':', 1)[1] if ':' in name.rsplit('/', 1)[-1] else 'latest'
    index = _json({'schemaVersion': 2, 'mediaType': OCI_INDEX,
                   'manifests': [_descriptor(OCI_MANIFEST, manifest, platform={'architecture': arch, 'os': 'linux'},
                                             annotations={'io.containerd.image.name': name,
                                                          'org.opencontainers.image.ref.name': tag})]})
    blobs = [config_blob] + [gz for _raw, gz, _by in layers] + [manifest]
    tmp = out + '.new'
    with tarfile.open(tmp, mode='w', format=tarfile.PAX_FORMAT) as tar:
        members = [('oci-layout', b'{"imageLayoutVersion":"1.0.0"}'), ('index.json', index)]
        members += [('blobs/sha256/' + hashlib.sha256(b).hexdigest(), b) for b in blobs]
        for directory in ('blobs/', 'blobs/sha256/'):
            tar.addfile(_tarinfo(directory, tarfile.DIRTYPE, mtime))
        for member, blob in members:
            tar.addfile(_tarinfo(member, tarfile.REGTYPE, mtime, 0o644, len(blob)), io.BytesIO(blob))
    os.replace(tmp, out)
    return 'sha256:' + hashlib.sha256(manifest).hexdigest()


def _file_spec(text):
    parts = text.split(':')
    if len(parts) not in (2, 3) or not parts[0] or not parts[1].startswith('/'):
        raise argparse.ArgumentTypeError('--file wants SRC:/DEST[:MODE], got %r' % text)
    return parts[0], parts[1], int(parts[2], 8) if len(parts) == 3 else 0o755


def _link_spec(text):
    dest, sep, target = text.partition(':')
    if not sep or not dest.startswith('/') or not target:
        raise argparse.ArgumentTypeError('--link wants /DEST:TARGET, got %r' % text)
    return dest, target


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.split('\n', 1)[0])
    parser.add_argument('out')
    parser.add_argument('--name', required=True, help='the image reference, for example kubeha.local/pause:1.0')
    parser.add_argument('--arch', default='amd64')
    parser.add_argument('--entrypoint', type=json.loads)
    parser.add_argument('--cmd', type=json.loads)
    parser.add_argument('--env', action='append', default=[])
    parser.add_argument('--file', action='append', type=_file_spec, default=[])
    parser.add_argument('--link', action='append', type=_link_spec, default=[])
    parser.add_argument('--created', default='2026-01-01T00:00:00Z')
    parser.add_argument('--base', help='an uncompressed root file system tar, the first layer')
    parser.add_argument('--label', action='append', default=[], type=lambda text: tuple(text.split('=', 1)))
    args = parser.parse_args(argv)
    digest = build(args.out, args.name, args.arch, args.file, args.link, args.entrypoint, args.cmd, args.env, args.created,
                   args.base, args.label)
    print('%s %s %s' % (args.out, args.name, digest))
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
