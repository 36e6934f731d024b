"""Check a local Kubernetes artifact directory before anything is installed (runs on the controller).

    python verify_artifacts.py BINDIR PINNED_JSON COMPONENT...

BINDIR is <local_dir>/v<version>/bin/linux/<arch>. Each COMPONENT must exist there with a
<component>.sha256 file next to it (the release's format: the hex digest, optionally followed by a
file name) and its SHA-256 must match that file, and the pinned checksum when PINNED_JSON has one.
Prints one JSON object: {"ok": bool, "checksums": {component: sha256}, "problems": [text...]};
exits 1 when anything is wrong, after checking every component so the message lists them all.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys


def _sha256(path):
    digest = hashlib.sha256()
    with open(path, 'rb') as handle:
        for block in iter(lambda: handle.read(1 << 20), b''):
            digest.update(block)
    return digest.hexdigest()


def verify(bindir, pinned, components):
    """Return (checksums, problems) for the components in bindir."""
    checksums = {}
    problems = []
    for component in components:
        path = os.path.join(bindir, component)
        if not os.path.isfile(path):
            problems.append('%s: missing (no such file)' % path)
            continue
        expected = []
        if os.path.isfile(path + '.sha256'):
            with open(path + '.sha256', encoding='ascii', errors='replace') as handle:
                words = handle.read().split()
            if not words:
                problems.append('%s.sha256: empty' % path)
                continue
            expected.append((path + '.sha256', words[0].lower()))
        if component in pinned:
            expected.append(('kube_binaries_checksums[%s]' % component, str(pinned[component]).lower()))
        if not expected:
            problems.append('%s.sha256: missing, and no pinned checksum for %s' % (path, component))
            continue
        actual = _sha256(path)
        wrong = ['%s says %s' % (source, value) for source, value in expected if value != actual]
        if wrong:
            problems.append('%s: checksum mismatch, file has sha256 %s but %s' % (path, actual, '; '.join(wrong)))
            continue
        checksums[component] = actual
    return checksums, problems


def main(argv):
    """Command line: see the module docstring."""
    bindir, pinned, components = argv[0], json.loads(argv[1] or '{}'), argv[2:]
    checksums, problems = verify(bindir, pinned, components)
    print(json.dumps({'ok': not problems, 'checksums': checksums, 'problems': problems}))
    return 1 if problems else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
