# Copyright (c) kubeha developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Read and verify OCI image archives on the controller (the kube_images lookup).

An archive is an OCI image layout in a tar: ``oci-layout``, ``index.json`` and ``blobs/<alg>/<hex>``, as
``skopeo copy ... oci-archive:``, ``ctr images export`` and scripts/oci_image.py write it. Every blob the
index reaches (nested indexes, manifests, configs, layers) must be present with the digest and the size that
reference it, so a truncated or corrupt file is refused on the controller, before any host is touched.
"""

from __future__ import annotations

import hashlib
import json
import tarfile

IMAGE_NAME = "io.containerd.image.name"
REF_NAME = "org.opencontainers.image.ref.name"
INDEX_TYPES = ("application/vnd.oci.image.index.v1+json", "application/vnd.docker.distribution.manifest.list.v2+json")
MANIFEST_TYPES = ("application/vnd.oci.image.manifest.v1+json", "application/vnd.docker.distribution.manifest.v2+json")


class ArchiveError(Exception):
    """What is wrong with an archive, in words that name the file."""


def _blob_name(digest):
    alg, _sep, hexdigest = str(digest).partition(":")
    if alg != "sha256" or len(hexdigest) != 64:
        raise ArchiveError("a descriptor names the digest %r (only sha256 digests are read)" % (digest,))
    return "blobs/sha256/" + hexdigest


def image_name(annotations):
    """The full reference an index entry names, or '' (a bare tag in ref.name is not a name)."""
    annotations = annotations or {}
    name = annotations.get(IMAGE_NAME) or ""
    ref = annotations.get(REF_NAME) or ""
    if not name and ("/" in ref or ":" in ref):
        name = ref
    return name


class _Reader:
    def __init__(self, tar):
        self.tar = tar
        self.members = {m.name.lstrip("./"): m for m in tar.getmembers() if m.isfile()}
        self.checked = set()

    def read(self, name):
        member = self.members.get(name)
        if member is None:
            raise ArchiveError("%s is missing" % name)
        with self.tar.extractfile(member) as handle:
            return handle.read()

    def blob(self, descriptor, parse=False):
        """Check one blob against its descriptor (digest and size); return its JSON when parse."""
        name = _blob_name(descriptor.get("digest"))
        member = self.members.get(name)
        if member is None:
            raise ArchiveError("blob %s is missing" % descriptor.get("digest"))
        if descriptor.get("size") is not None and member.size != descriptor["size"]:
            raise ArchiveError("blob %s has %d bytes, its descriptor says %s" % (descriptor["digest"], member.size, descriptor["size"]))
        if name not in self.checked:
            digest = hashlib.sha256()
            with self.tar.extractfile(member) as handle:
                for block in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(block)
            if "sha256:" + digest.hexdigest() != descriptor["digest"]:
                raise ArchiveError("blob %s is corrupt: its content has sha256:%s" % (descriptor["digest"], digest.hexdigest()))
            self.checked.add(name)
        if parse:
            try:
                return json.loads(self.read(name))
            except ValueError as exc:
                raise ArchiveError("blob %s is not JSON (%s)" % (descriptor["digest"], exc)) from None
        return None

    def manifest(self, descriptor):
        manifest = self.blob(descriptor, parse=True)
        for part in [manifest.get("config")] + list(manifest.get("layers") or []):
            if not isinstance(part, dict):
                raise ArchiveError("manifest %s has no config or a malformed layer" % descriptor["digest"])
            self.blob(part)

    def index(self, index, depth=0):
        if depth > 3:
            raise ArchiveError("indexes nest deeper than 3 levels")
        for entry in index.get("manifests") or []:
            kind = entry.get("mediaType")
            if kind in INDEX_TYPES:
                self.index(self.blob(entry, parse=True), depth + 1)
            elif kind in MANIFEST_TYPES:
                self.manifest(entry)
            else:
                raise ArchiveError("index entry %s has the media type %r, not an image" % (entry.get("digest"), kind))


def read_archive(path):
    """Verify the archive at path; return its named images as [{name, digest, platform}].

    digest is the digest of the index entry that names the image: what containerd records as the image's
    target after ``ctr images import``. Raises ArchiveError (without the path: callers add it).
    """
    try:
        with tarfile.open(path, mode="r:*") as tar:
            reader = _Reader(tar)
            try:
                layout = json.loads(reader.read("oci-layout"))
                index = json.loads(reader.read("index.json"))
            except ValueError as exc:
                raise ArchiveError("oci-layout or index.json is not JSON (%s)" % exc) from None
            if not isinstance(layout, dict) or "imageLayoutVersion" not in layout:
                raise ArchiveError("oci-layout names no imageLayoutVersion: not an OCI image layout")
            reader.index(index)
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise ArchiveError("not a readable tar archive (%s)" % (getattr(exc, "strerror", None) or exc)) from None
    images = []
    for entry in index.get("manifests") or []:
        name = image_name(entry.get("annotations"))
        if name:
            platform = entry.get("platform") or {}
            images.append({"name": name, "digest": entry["digest"],
                           "platform": "/".join(p for p in (platform.get("os"), platform.get("architecture")) if p)})
    if not images:
        raise ArchiveError("its index.json names no image (no %s annotation and no full reference in %s): "
                           "export it with its name, for example skopeo copy docker://REF oci-archive:FILE:REF" % (IMAGE_NAME, REF_NAME))
    return images
