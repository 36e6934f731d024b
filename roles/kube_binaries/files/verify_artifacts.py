"""Verify Kubernetes release artifacts on the controller before anything is installed.

    python verify_artifacts.py local BINDIR PINNED_JSON COMPONENT...
    python verify_artifacts.py url URLDIR CACHEDIR PINNED_JSON COMPONENT...

local: BINDIR is <local_dir>/v<version>/bin/linux/<arch>. Each COMPONENT must exist there with a
<component>.sha256 file next to it (the release's format: the hex digest, optionally followed by a
file name), and its SHA-256 must match that file and the pinned checksum when PINNED_JSON has one.

url: URLDIR is <base_url>/v<version>/bin/linux/<arch>, CACHEDIR the controller's download cache
for that release path. A cached COMPONENT whose SHA-256 matches the pinned checksum (which wins
over the .sha256 file) or its cached .sha256 file is used as it is: nothing is downloaded. Any
other is downloaded (its .sha256 too, unless pinned) into a temporary file and kept only when it
matches. One lock per cache directory: hosts verifying at the same time download once.

Prints one JSON object: {"ok": bool, "dir": directory holding the verified files,
"checksums": {component: sha256}, "problems": [text...], "downloaded": [url...]}; exits 1 when
anything is wrong, after checking every component so that the message lists them all.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import sys
import tempfile
import urllib.error
import urllib.request

HEX64 = re.compile(r'^[0-9a-f]{64}$')
TIMEOUT = 60


def _sha256(path):
    digest = hashlib.sha256()
    with open(path, 'rb') as handle:
        for block in iter(lambda: handle.read(1 << 20), b''):
            digest.update(block)
    return digest.hexdigest()


def _first_word(text):
    words = text.split()
    return words[0].lower() if words else ''


def verify_local(bindir, pinned, components):
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
                word = _first_word(handle.read())
            if not word:
                problems.append('%s.sha256: empty' % path)
                continue
            expected.append((path + '.sha256', word))
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


class FetchError(Exception):
    """A download that failed, with what the server or the network said."""


def _fetch(url, dest):
    """Download url into the file dest; raise FetchError with the reason."""
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT) as resp, open(dest, 'wb') as out:  # nosec - the release URL the user chose
            for block in iter(lambda: resp.read(1 << 20), b''):
                out.write(block)
    except urllib.error.HTTPError as exc:
        raise FetchError('HTTP %d %s' % (exc.code, exc.reason)) from None
    except urllib.error.URLError as exc:
        raise FetchError('cannot download: %s' % (exc.reason,)) from None
    except OSError as exc:
        raise FetchError('cannot download: %s' % (exc.strerror or exc,)) from None


def _cached_sum(path):
    try:
        with open(path, encoding='ascii', errors='replace') as handle:
            word = _first_word(handle.read())
    except OSError:
        return ''
    return word if HEX64.match(word) else ''


@contextlib.contextmanager
def _locked(cachedir):
    os.makedirs(cachedir, 0o755, exist_ok=True)
    with open(os.path.join(cachedir, '.lock'), 'a', encoding='ascii') as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _fetch_one(urldir, cachedir, pinned, component, downloaded):
    """Make cachedir/component a verified copy of urldir/component; return its sha256 or raise FetchError."""
    url = '%s/%s' % (urldir, component)
    path = os.path.join(cachedir, component)
    if component in pinned:
        source, want = 'kube_binaries_checksums[%s]' % component, str(pinned[component]).lower()
    else:
        source, want = url + '.sha256', _cached_sum(path + '.sha256')
    if want and os.path.isfile(path) and _sha256(path) == want:
        return want
    fd, tmp = tempfile.mkstemp(dir=cachedir, prefix='.' + component + '.')
    os.close(fd)
    try:
        if component not in pinned:  # the cached .sha256 did not match (or is missing): ask the release again
            try:
                _fetch(url + '.sha256', tmp)
            except FetchError as exc:
                raise FetchError('%s.sha256: %s' % (url, exc)) from None
            want = _cached_sum(tmp)
            if not want:
                raise FetchError('%s.sha256: not a SHA-256 checksum' % url)
            os.replace(tmp, path + '.sha256')
            if os.path.isfile(path) and _sha256(path) == want:
                return want
        try:
            _fetch(url, tmp)
        except FetchError as exc:
            raise FetchError('%s: %s' % (url, exc)) from None
        downloaded.append(url)
        actual = _sha256(tmp)
        if actual != want:
            raise FetchError('%s: checksum mismatch, downloaded file has sha256 %s but %s says %s' % (url, actual, source, want))
        os.chmod(tmp, 0o755)
        os.replace(tmp, path)
        return actual
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def fetch_url(urldir, cachedir, pinned, components):
    """Return (checksums, problems, downloaded) for the components of urldir, cached in cachedir."""
    checksums, problems, downloaded = {}, [], []
    with _locked(cachedir):
        for component in components:
            try:
                checksums[component] = _fetch_one(urldir.rstrip('/'), cachedir, pinned, component, downloaded)
            except FetchError as exc:
                problems.append(str(exc))
    return checksums, problems, downloaded


def main(argv):
    """Command line: see the module docstring."""
    if argv[:1] == ['local'] and len(argv) >= 3:
        bindir, pinned, components = argv[1], json.loads(argv[2] or '{}'), argv[3:]
        checksums, problems = verify_local(bindir, pinned, components)
        downloaded = []
    elif argv[:1] == ['url'] and len(argv) >= 4:
        bindir, pinned, components = argv[2], json.loads(argv[3] or '{}'), argv[4:]
        try:
            checksums, problems, downloaded = fetch_url(argv[1], bindir, pinned, components)
        except OSError as exc:
            checksums, problems, downloaded = {}, ['%s: cannot use the download cache: %s' % (bindir, exc.strerror or exc)], []
    else:
        sys.stderr.write(__doc__)
        return 2
    print(json.dumps({'ok': not problems, 'dir': bindir, 'checksums': checksums, 'problems': problems, 'downloaded': downloaded}))
    return 1 if problems else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
