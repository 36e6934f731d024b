# Copyright (c) kubeha developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Molecule's connection to the test nodes: Ansible's ssh connection, with large files sent by podman cp.

Commands go over SSH as on real machines (scripts/molecule-ssh-proxy runs ``sshd -i`` in the node through
``podman exec``; one multiplexed connection per node, pipelining): a task is one round trip. Files from
LARGE bytes up (the Kubernetes binaries and image archives, 50-100 MB each) are copied with ``podman cp``
instead (fetches stay on SSH): on the 2-core test machines SSH's encryption moved them at about 10 MB/s, a third of podman's
speed. Options are ssh's (the same variables).
"""

from __future__ import annotations

import os
import subprocess

from ansible.errors import AnsibleConnectionFailure
from ansible.plugins.connection import ssh

DOCUMENTATION = ssh.DOCUMENTATION.replace("name: ssh\n", "name: kubeha_node\n", 1)

LARGE = 1024 * 1024


class Connection(ssh.Connection):
    """ssh, except put_file of a large file (podman cp into the node's container)."""

    transport = "kubeha_node"

    def _node(self):
        return self.get_option("host") or self._play_context.remote_addr

    def _podman_cp(self, source, dest):
        proc = subprocess.run(["podman", "cp", source, dest], capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise AnsibleConnectionFailure("podman cp %s %s failed (rc %d): %s"
                                           % (source, dest, proc.returncode, (proc.stderr or proc.stdout).strip()))
        return proc.returncode, proc.stdout.encode(), proc.stderr.encode()

    def put_file(self, in_path, out_path):
        if os.path.isfile(in_path) and os.path.getsize(in_path) >= LARGE:
            return self._podman_cp(in_path, "%s:%s" % (self._node(), out_path))
        return super().put_file(in_path, out_path)
