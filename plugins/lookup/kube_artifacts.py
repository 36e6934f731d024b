# Copyright (c) kubeha developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The kube_artifacts lookup: verify Kubernetes release artifacts on the controller before anything is installed."""

from __future__ import annotations

DOCUMENTATION = r"""
name: kube_artifacts
short_description: Verify (and for a URL source, download into a cache) Kubernetes release binaries on the controller
version_added: 0.2.0
description:
  - The terms are component names (C(kubelet), C(kubectl), ...). Every one is checked, so that the report lists every
    bad file at once; a missing file, a failed download or a wrong checksum is reported, never raised.
  - With O(source=local), O(dir) is C(<local_dir>/v<version>/bin/linux/<arch>). Each component must exist there with a
    C(<component>.sha256) file next to it (the release's format - the hex digest, optionally followed by a file name)
    or a pinned checksum in O(checksums), and its SHA-256 must match both when both are given.
  - With O(source=url), O(url) is C(<base_url>/v<version>/bin/linux/<arch>) and O(dir) the controller's download
    cache for that release path. A cached component whose SHA-256 matches the pinned checksum (which wins over the
    C(.sha256) file) or its cached C(.sha256) file is used as it is - nothing is downloaded. Any other is downloaded
    (its C(.sha256) too, unless pinned) into a temporary file and kept only when it matches. One lock per cache
    directory, so that hosts verifying at the same time download once.
  - Runs in the controller's Python; no command runs.
options:
  _terms:
    description: Component names (file names in the release's C(bin/linux/<arch>) directory).
    type: list
    elements: str
    required: true
  source:
    description: V(local) to verify files in O(dir), V(url) to fill the cache O(dir) from O(url).
    type: str
    choices: [local, url]
    required: true
  dir:
    description: The directory holding the components (V(local)) or the download cache (V(url)), on the controller.
    type: str
    required: true
  url:
    description: The release directory the components are downloaded from; required with O(source=url).
    type: str
  checksums:
    description: Pinned SHA-256 checksums by component name.
    type: dict
    default: {}
  install_dir:
    description: Where the components go on the host; when set, the report's RV(_raw.files) holds their file entries.
    type: str
"""

EXAMPLES = r"""
- name: Verify kubelet and kubectl in a local release copy
  ansible.builtin.set_fact:
    report: >-
      {{ lookup('kubeha.cluster.kube_artifacts', 'kubelet', 'kubectl', source='local',
                dir='/srv/k8s/v1.34.2/bin/linux/amd64', install_dir='/usr/local/bin') }}

- name: Download (once) into the controller's cache
  ansible.builtin.debug:
    msg: >-
      {{ lookup('kubeha.cluster.kube_artifacts', 'kubelet', source='url',
                url='https://dl.k8s.io/release/v1.34.2/bin/linux/amd64',
                dir='~/.cache/kubeha/v1.34.2/bin/linux/amd64').problems }}
"""

RETURN = r"""
_raw:
  description: One report.
  type: dict
  contains:
    ok:
      description: Whether every component was verified.
      type: bool
    dir:
      description: The directory holding the verified files (O(dir)).
      type: str
    checksums:
      description: The SHA-256 of every verified component, by name.
      type: dict
    problems:
      description: What is wrong, one text per component that failed.
      type: list
      elements: str
    downloaded:
      description: The URLs downloaded by this call (empty for V(local) and for a warm cache).
      type: list
      elements: str
    files:
      description: >-
        With O(install_dir), one M(kubeha.cluster.daemon) file entry per component - C(path) under O(install_dir),
        C(src) in O(dir), C(mode) V(0755).
      type: list
      elements: dict
"""

import contextlib
import fcntl
import os
import re
import tempfile
import urllib.error

from ansible.errors import AnsibleLookupError
from ansible.module_utils.urls import ConnectionError as UrlConnectionError, open_url
from ansible.plugins.lookup import LookupBase

from ansible_collections.kubeha.cluster.plugins.plugin_utils._files import sha256_file

HEX64 = re.compile(r"^[0-9a-f]{64}$")
TIMEOUT = 60


def _first_word(text):
    words = text.split()
    return words[0].lower() if words else ""


def verify_local(bindir, pinned, components):
    """Return (checksums, problems) for the components in bindir."""
    checksums = {}
    problems = []
    for component in components:
        path = os.path.join(bindir, component)
        if not os.path.isfile(path):
            problems.append("%s: missing (no such file)" % path)
            continue
        try:
            expected = []
            if os.path.isfile(path + ".sha256"):
                with open(path + ".sha256", encoding="ascii", errors="replace") as handle:
                    word = _first_word(handle.read())
                if not word:
                    problems.append("%s.sha256: empty" % path)
                    continue
                expected.append((path + ".sha256", word))
            if component in pinned:
                expected.append(("kube_binaries_checksums[%s]" % component, str(pinned[component]).lower()))
            if not expected:
                problems.append("%s.sha256: missing, and no pinned checksum for %s" % (path, component))
                continue
            actual = sha256_file(path)
        except OSError as exc:
            problems.append("%s: cannot be read (%s)" % (path, exc.strerror or exc))
            continue
        wrong = ["%s says %s" % (source, value) for source, value in expected if value != actual]
        if wrong:
            problems.append("%s: checksum mismatch, file has sha256 %s but %s" % (path, actual, "; ".join(wrong)))
            continue
        checksums[component] = actual
    return checksums, problems


class FetchError(Exception):
    """A download that failed, with what the server or the network said."""


def _fetch(url, dest):
    """Download url into the file dest; raise FetchError with the reason."""
    try:
        with open_url(url, timeout=TIMEOUT) as resp, open(dest, "wb") as out:
            for block in iter(lambda: resp.read(1 << 20), b""):
                out.write(block)
    except urllib.error.HTTPError as exc:
        raise FetchError("HTTP %d %s" % (exc.code, exc.reason)) from None
    except urllib.error.URLError as exc:
        raise FetchError("cannot download: %s" % (exc.reason,)) from None
    except UrlConnectionError as exc:
        raise FetchError("cannot download: %s" % (exc,)) from None
    except (OSError, ValueError) as exc:
        raise FetchError("cannot download: %s" % (getattr(exc, "strerror", None) or exc,)) from None


def _cached_sum(path):
    try:
        with open(path, encoding="ascii", errors="replace") as handle:
            word = _first_word(handle.read())
    except OSError:
        return ""
    return word if HEX64.match(word) else ""


@contextlib.contextmanager
def _locked(cachedir):
    os.makedirs(cachedir, 0o755, exist_ok=True)
    with open(os.path.join(cachedir, ".lock"), "a", encoding="ascii") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _fetch_one(urldir, cachedir, pinned, component, downloaded):
    """Make cachedir/component a verified copy of urldir/component; return its sha256 or raise FetchError."""
    url = "%s/%s" % (urldir, component)
    path = os.path.join(cachedir, component)
    if component in pinned:
        source, want = "kube_binaries_checksums[%s]" % component, str(pinned[component]).lower()
    else:
        source, want = url + ".sha256", _cached_sum(path + ".sha256")
    if want and os.path.isfile(path) and sha256_file(path) == want:
        return want
    fd, tmp = tempfile.mkstemp(dir=cachedir, prefix="." + component + ".")
    os.close(fd)
    try:
        if component not in pinned:  # the cached .sha256 did not match (or is missing): ask the release again
            try:
                _fetch(url + ".sha256", tmp)
            except FetchError as exc:
                raise FetchError("%s.sha256: %s" % (url, exc)) from None
            want = _cached_sum(tmp)
            if not want:
                raise FetchError("%s.sha256: not a SHA-256 checksum" % url)
            os.replace(tmp, path + ".sha256")
            if os.path.isfile(path) and sha256_file(path) == want:
                return want
        try:
            _fetch(url, tmp)
        except FetchError as exc:
            raise FetchError("%s: %s" % (url, exc)) from None
        downloaded.append(url)
        actual = sha256_file(tmp)
        if actual != want:
            raise FetchError("%s: checksum mismatch, downloaded file has sha256 %s but %s says %s" % (url, actual, source, want))
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
                checksums[component] = _fetch_one(urldir.rstrip("/"), cachedir, pinned, component, downloaded)
            except FetchError as exc:
                problems.append(str(exc))
            except OSError as exc:
                problems.append("%s: cannot use the download cache: %s" % (os.path.join(cachedir, component), exc.strerror or exc))
    return checksums, problems, downloaded


def verify(source, bindir, components, pinned=None, url=None, install_dir=None):
    """The report {ok, dir, checksums, problems, downloaded[, files]}; a bad artifact is reported, never raised."""
    pinned = pinned or {}
    components = [str(c) for c in components]
    downloaded = []
    if source == "local":
        checksums, problems = verify_local(bindir, pinned, components)
    else:
        try:
            checksums, problems, downloaded = fetch_url(url, bindir, pinned, components)
        except OSError as exc:
            checksums, problems = {}, ["%s: cannot use the download cache: %s" % (bindir, exc.strerror or exc)]
    report = dict(ok=not problems, dir=bindir, checksums=checksums, problems=problems, downloaded=downloaded)
    if install_dir is not None:
        report["files"] = [dict(path="%s/%s" % (install_dir, c), src="%s/%s" % (bindir, c), mode="0755") for c in components]
    return report


class LookupModule(LookupBase):
    """Verify the components given as terms; one report."""

    def run(self, terms, variables=None, **kwargs):
        self.set_options(var_options=variables, direct=kwargs)
        source = self.get_option("source")
        url = self.get_option("url")
        if source == "url" and not url:
            raise AnsibleLookupError("kube_artifacts: source=url needs url (the release directory to download from)")
        if not terms:
            raise AnsibleLookupError("kube_artifacts: name at least one component")
        return [verify(source, self.get_option("dir"), terms, pinned=self.get_option("checksums"), url=url,
                       install_dir=self.get_option("install_dir"))]
