# Copyright (c) kubeha developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The mount_unit filter: the name systemd requires for the mount unit of a path."""

from __future__ import annotations

DOCUMENTATION = r"""
name: mount_unit
short_description: The name of a path's systemd mount unit
version_added: 0.2.0
description:
  - Returns the path escaped as C(systemd-escape --path --suffix=mount) does (C(/var/etcd/data) gives
    C(var-etcd-data.mount)). systemd refuses a mount unit whose name is not its C(Where=) escaped this way.
options:
  _input:
    description: An absolute path.
    type: path
    required: true
"""

EXAMPLES = r"""
- name: The unit that mounts etcd's storage
  ansible.builtin.debug:
    msg: "{{ '/var/etcd/data' | kubeha.cluster.mount_unit }}"
"""

RETURN = r"""
_value:
  description: The unit's name, with its C(.mount) suffix.
  type: str
"""

import string

from ansible.errors import AnsibleFilterError

_KEEP = set(string.ascii_letters + string.digits + ":_.")


def mount_unit(path):
    """'/var/etcd/data' -> 'var-etcd-data.mount' (systemd's path escaping)."""
    path = str(path)
    if not path.startswith("/"):
        raise AnsibleFilterError("mount_unit: %r is not an absolute path; a mount point must be one." % (path,))
    parts = [p for p in path.split("/") if p]
    if any(p in (".", "..") for p in parts):
        raise AnsibleFilterError("mount_unit: %r has '.' or '..' in it; give the mount point's plain path." % (path,))
    if not parts:
        return "-.mount"
    out = []
    for i, byte in enumerate("/".join(parts).encode("utf-8")):
        char = chr(byte)
        if char == "/":
            out.append("-")
        elif char in _KEEP and not (i == 0 and char == "."):
            out.append(char)
        else:
            out.append("\\x%02x" % byte)
    return "".join(out) + ".mount"


class FilterModule:
    """kubeha systemd mount unit filter."""

    def filters(self):
        return {"mount_unit": mount_unit}
