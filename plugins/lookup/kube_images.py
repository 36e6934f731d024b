# Copyright (c) kubeha developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The kube_images lookup: verify OCI image archives on the controller before any node imports them."""

from __future__ import annotations

DOCUMENTATION = r"""
name: kube_images
short_description: Verify the OCI image archives of an air-gapped site on the controller, and name their images
version_added: 0.3.0
description:
  - Reads every archive in O(dir) (or the ones O(archives) names), checks each blob its index reaches against its
    digest and size, and reads the image names the index gives (C(io.containerd.image.name), or a full reference
    in C(org.opencontainers.image.ref.name)).
  - Every problem is reported, never raised, so one run lists all of them; a name in O(required) that no archive
    holds is one.
  - Runs in the controller's Python; no command runs.
options:
  dir:
    description: The controller directory holding the archives.
    type: str
    required: true
  archives:
    description: File names in O(dir) to use; empty means every C(*.tar) there.
    type: list
    elements: str
    default: []
  required:
    description: Image references that must be among the archives' images (the node's sandbox image, CoreDNS, ...).
    type: list
    elements: str
    default: []
  dest_dir:
    description: Where the archives go on the host; the report's RV(_raw.files) and RV(_raw.images) use it.
    type: str
    default: /var/lib/kubeha/images
"""

EXAMPLES = r"""
- name: Verify the archives and require the sandbox image
  ansible.builtin.set_fact:
    report: "{{ lookup('kubeha.cluster.kube_images', dir='/srv/images', required=['kubeha.local/pause:1.0']) }}"
"""

RETURN = r"""
_raw:
  description: One report.
  type: dict
  contains:
    ok:
      description: Whether every archive was verified and every required image found.
      type: bool
    problems:
      description: What is wrong, one text per archive or missing image.
      type: list
      elements: str
    images:
      description: One entry per image - C(name), C(digest), C(archive) (its path on the host) - as M(kubeha.cluster.containerd_images) takes them.
      type: list
      elements: dict
    files:
      description: One M(kubeha.cluster.daemon) file entry per archive (C(path) in O(dest_dir), C(src), C(mode) V(0600)).
      type: list
      elements: dict
"""

import os

from ansible.errors import AnsibleLookupError
from ansible.plugins.lookup import LookupBase

from ansible_collections.kubeha.cluster.plugins.plugin_utils._oci import ArchiveError, read_archive


def report(directory, archives=(), required=(), dest_dir="/var/lib/kubeha/images"):
    """The lookup's report (see RETURN)."""
    problems, images, files = [], [], []
    if not os.path.isdir(directory):
        return dict(ok=False, problems=["%s: not a directory" % directory], images=[], files=[])
    names = list(archives) or sorted(n for n in os.listdir(directory) if n.endswith(".tar"))
    if not names:
        problems.append("%s holds no *.tar archive" % directory)
    seen = {}
    for name in names:
        path = os.path.join(directory, name)
        dest = os.path.join(dest_dir, os.path.basename(name))
        try:
            found = read_archive(path)
        except ArchiveError as exc:
            problems.append("%s: %s" % (path, exc))
            continue
        except OSError as exc:
            problems.append("%s: cannot be read (%s)" % (path, exc.strerror or exc))
            continue
        files.append({"path": dest, "src": path, "mode": "0600"})
        for image in found:
            if image["name"] in seen and seen[image["name"]]["digest"] != image["digest"]:
                problems.append("%s: %s is also in %s with another digest (%s, here %s); keep one of them"
                                % (path, image["name"], seen[image["name"]]["src"], seen[image["name"]]["digest"], image["digest"]))
                continue
            seen[image["name"]] = dict(image, src=path)
            images.append({"name": image["name"], "digest": image["digest"], "archive": dest})
    for ref in required:
        if ref not in seen:
            problems.append("no archive holds %s (the archives hold: %s)" % (ref, ", ".join(sorted(seen)) or "nothing"))
    return dict(ok=not problems, problems=problems, images=images, files=files)


class LookupModule(LookupBase):
    def run(self, terms, variables=None, **kwargs):
        self.set_options(var_options=variables, direct=kwargs)
        if terms:
            raise AnsibleLookupError("kube_images takes no terms; pass dir= (and archives=, required=, dest_dir=)")
        return [report(os.path.expanduser(self.get_option("dir")), self.get_option("archives"),
                       self.get_option("required"), self.get_option("dest_dir"))]
