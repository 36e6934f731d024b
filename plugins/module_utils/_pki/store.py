# Copyright (c) kubeha developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The controller-side directory: reads, atomic writes with a mode, mode checks."""

from __future__ import annotations


import errno
import os
import stat
import tempfile

DIR_MODE = 0o700
KEY_MODE = 0o600
CERT_MODE = 0o644


class Store:
    """Files under one root directory, written atomically with the mode they must have."""

    def __init__(self, root):
        self.root = os.path.abspath(root)

    def path(self, rel):
        return os.path.join(self.root, rel)

    def read(self, rel):
        """The bytes of a file, or None when it does not exist. Other errors propagate."""
        try:
            with open(self.path(rel), "rb") as handle:
                return handle.read()
        except (IOError, OSError) as exc:
            if exc.errno == errno.ENOENT:
                return None
            raise

    def mode(self, rel):
        """The permission bits of a file or directory, or None when it does not exist."""
        try:
            return stat.S_IMODE(os.stat(self.path(rel)).st_mode)
        except (IOError, OSError) as exc:
            if exc.errno == errno.ENOENT:
                return None
            raise

    def mtime(self, rel):
        return int(os.stat(self.path(rel)).st_mtime)

    def ensure_dir(self, rel=""):
        """Create a directory (and parents) with DIR_MODE, or set DIR_MODE on it. True if changed."""
        path = self.path(rel) if rel else self.root
        if not os.path.isdir(path):
            parent = os.path.dirname(path)
            if path != self.root and not os.path.isdir(parent):
                self.ensure_dir(os.path.relpath(parent, self.root) if parent != self.root else "")
            elif path == self.root and not os.path.isdir(parent):
                os.makedirs(parent)
            os.mkdir(path, DIR_MODE)
            os.chmod(path, DIR_MODE)
            return True
        if stat.S_IMODE(os.stat(path).st_mode) != DIR_MODE:
            os.chmod(path, DIR_MODE)
            return True
        return False

    def write(self, rel, data, mode):
        """Replace a file with ``data`` at ``mode``; readers never see a partial file."""
        path = self.path(rel)
        directory = os.path.dirname(path)
        self.ensure_dir(os.path.relpath(directory, self.root) if directory != self.root else "")
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-")
        try:
            os.fchmod(fd, mode)
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.rename(tmp, path)
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise

    def chmod(self, rel, mode):
        os.chmod(self.path(rel), mode)
