# Copyright (c) kubeha developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Per-host bundles: one uncompressed tar a host unpacks at ``/``, carrying modes and owners.

A bundle is byte-for-byte stable while its files are unchanged (sorted members, each member's
mtime taken from its controller file, fixed owner names), so it is rewritten only when a file in it
changed. GNU tar's ``--diff`` on the host (what ``ansible.builtin.unarchive`` runs) then reports a
file whose content, mode, owner or mtime differs, and unpacking restores all four.
"""

from __future__ import annotations


import io
import tarfile

MODES = {"key": 0o600, "secret": 0o600, "cert": 0o644}


class Member:
    """One file (or directory, when data is None) of a bundle."""

    def __init__(self, name, data, mode, mtime, owner="root", group="root"):
        self.name = name
        self.data = data
        self.mode = mode
        self.mtime = int(mtime)
        self.owner = owner
        self.group = group


def build(members):
    """The tar bytes for ``members`` (directories first, then files, each sorted by name)."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for member in sorted(members, key=lambda m: (m.data is not None, m.name)):
            info = tarfile.TarInfo(member.name)
            info.mode = member.mode
            info.mtime = member.mtime
            info.uid = 0
            info.gid = 0
            info.uname = member.owner
            info.gname = member.group
            if member.data is None:
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            else:
                info.size = len(member.data)
                tar.addfile(info, io.BytesIO(member.data))
    return out.getvalue()


def names(data):
    """Member names of a bundle's bytes (for diffs); [] if they are not a tar."""
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as tar:
            return tar.getnames()
    except (tarfile.TarError, EOFError):
        return []
