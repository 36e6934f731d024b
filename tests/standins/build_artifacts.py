"""Lay out the stand-ins as a Kubernetes release artifact directory, with .sha256 files.

    python3 tests/standins/build_artifacts.py DEST [--version 1.34.2] [--arch amd64] [--components ...]

writes DEST/v<version>/bin/linux/<arch>/<component> and <component>.sha256 (the hex digest, as
dl.k8s.io serves it), the official release layout that roles/kube_binaries installs from. Each
file is a stand-in (see kubeha_standin/__init__.py): a self-contained executable Python zip
application carrying the shared code and the real component's flag list for that version.
Re-running with the same inputs writes byte-identical files (fixed zip timestamps), so checksums
only change when the stand-ins or the flag lists change.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import os
import sys
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from kubeha_standin.flags import flag_file  # noqa: E402  pylint: disable=wrong-import-position

COMPONENTS = ('kubelet', 'kube-apiserver', 'kube-scheduler', 'kube-controller-manager', 'kube-proxy', 'kubectl')
SHEBANG = b'#!/usr/bin/python3\n'
_EPOCH = (2020, 1, 1, 0, 0, 0)
ETCD_CLIENT = os.path.join(os.path.dirname(os.path.dirname(HERE)), 'plugins', 'module_utils', '_etcd', 'client.py')

_MAIN = '''"""kubeha stand-in for {component} v{version}: NOT the real component (tests only)."""
import sys
from kubeha_standin.runner import main
FLAGS = {flags!r}
sys.exit(main({component!r}, sys.argv[1:], version={version!r}, flag_text=FLAGS))
'''


def _zip_bytes(component, version):
    flags = None
    if component != 'kubectl':
        with open(flag_file(component, version), encoding='utf-8') as handle:
            flags = handle.read()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, 'w', zipfile.ZIP_DEFLATED) as archive:
        package = os.path.join(HERE, 'kubeha_standin')
        for name in sorted(os.listdir(package)):
            if name.endswith('.py'):
                with open(os.path.join(package, name), 'rb') as handle:
                    archive.writestr(zipfile.ZipInfo('kubeha_standin/' + name, _EPOCH), handle.read())
        # the kube-apiserver stand-in reads etcd with the collection's own client (standard library only)
        with open(ETCD_CLIENT, 'rb') as handle:
            archive.writestr(zipfile.ZipInfo('kubeha_standin/etcd_client.py', _EPOCH), handle.read())
        archive.writestr(zipfile.ZipInfo('__main__.py', _EPOCH), _MAIN.format(component=component, version=version, flags=flags))
    return SHEBANG + buf.getvalue()


def build(dest, version, arch='amd64', components=COMPONENTS):
    """Write the artifact directory; return {component: sha256}."""
    version = version.lstrip('v')
    bindir = os.path.join(dest, 'v' + version, 'bin', 'linux', arch)
    os.makedirs(bindir, exist_ok=True)
    sums = {}
    for component in components:
        data = _zip_bytes(component, version)
        path = os.path.join(bindir, component)
        with open(path, 'wb') as handle:
            handle.write(data)
        os.chmod(path, 0o755)
        sums[component] = hashlib.sha256(data).hexdigest()
        with open(path + '.sha256', 'w', encoding='ascii') as handle:
            handle.write(sums[component])
    return sums


def main(argv=None):
    """Command line."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n', 1)[0])
    parser.add_argument('dest')
    parser.add_argument('--version', default='1.34.2')
    parser.add_argument('--arch', default='amd64')
    parser.add_argument('--components', nargs='+', default=list(COMPONENTS), choices=COMPONENTS)
    args = parser.parse_args(argv)
    for component, digest in sorted(build(args.dest, args.version, args.arch, args.components).items()):
        print('%s  %s' % (digest, component))
    return 0


if __name__ == '__main__':
    sys.exit(main())
