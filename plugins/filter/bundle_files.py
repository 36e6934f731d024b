# Copyright (c) kubeha developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The bundle_files filter: what a host's certificate bundle puts on it, as kubeha.cluster.converged records files."""

from __future__ import annotations

DOCUMENTATION = r"""
name: bundle_files
short_description: The files a host's certificate bundle installs, with their content digests, modes and owners
version_added: 0.1.0
description:
  - Reads a bundle made by M(kubeha.cluster.kube_secrets) (an uncompressed tar unpacked at C(/)) on the controller and
    returns, by absolute path, each member as M(kubeha.cluster.converged) records files. Directories come with
    C(state=directory), files with C(state=file) and the sha256 of their content.
options:
  _input:
    description: Path of the bundle on the controller.
    type: path
    required: true
  absent:
    description:
      - Paths the host must not have (M(kubeha.cluster.kube_secrets)' C(stale) for it), recorded with C(state=absent)
        so that one that is there again is drift.
    type: list
    elements: path
    default: []
"""

EXAMPLES = r"""
- name: Record the host's certificates and keys with the rest of what the run left
  kubeha.cluster.converged:
    digest: "{{ _digest }}"
    files: "{{ (secrets_dir ~ '/bundles/' ~ inventory_hostname ~ '.tar') | kubeha.cluster.bundle_files }}"
"""

RETURN = r"""
_value:
  description: By absolute path, C(state), C(mode), C(owner), C(group) and (files) C(sha256).
  type: dict
  sample: {"/srv/kubernetes/ca.crt": {"state": "file", "mode": "0644", "owner": "root", "group": "root", "sha256": "ab12..."}}
"""

import hashlib
import tarfile

from ansible.errors import AnsibleFilterError


def bundle_files(path, absent=None):
    """{absolute path: {state, mode, owner, group[, sha256]}} of a bundle's members (and ``absent`` as state=absent)."""
    out = {}
    for gone in absent or []:
        out[str(gone)] = {"state": "absent"}
    try:
        with tarfile.open(str(path), mode="r:") as tar:
            for info in tar.getmembers():
                entry = dict(mode="%04o" % (info.mode & 0o7777), owner=info.uname or str(info.uid), group=info.gname or str(info.gid))
                if info.isdir():
                    entry["state"] = "directory"
                elif info.isfile():
                    entry["state"] = "file"
                    entry["sha256"] = hashlib.sha256(tar.extractfile(info).read()).hexdigest()
                else:
                    raise AnsibleFilterError("bundle_files: %s holds %s, which is neither a file nor a directory; make the bundle again "
                                             "with kubeha.cluster.kube_secrets" % (path, info.name))
                out["/" + info.name.strip("/")] = entry
    except (OSError, tarfile.TarError) as exc:
        raise AnsibleFilterError("bundle_files: cannot read the bundle %s: %s; run the secrets stage (kubeha.cluster.kube_secrets) "
                                 "first" % (path, exc)) from None
    return out


class FilterModule:
    """kubeha.cluster filters."""

    def filters(self):
        return {"bundle_files": bundle_files}
