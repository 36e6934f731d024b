# Copyright (c) kubeha developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The host's processes, read from /proc (or a tree laid out like it, for tests): one scanner for every caller.

Each read is allowed to fail: a process can end between the directory listing and the read, and then it is
simply not there.
"""

from __future__ import annotations

import os

__all__ = ["Process", "alive", "processes"]


class Process:
    """A process seen in a /proc listing; each accessor reads its file when asked, None once it is gone."""

    __slots__ = ("pid", "proc")

    def __init__(self, pid, proc="/proc"):
        self.pid = pid
        self.proc = proc

    def _read(self, name):
        try:
            with open(os.path.join(self.proc, str(self.pid), name), "rb") as handle:
                return handle.read()
        except OSError:
            return None

    def comm(self):
        """The command name (``comm``), or None."""
        data = self._read("comm")
        return None if data is None else data.decode("utf-8", "replace").strip()

    def argv(self):
        """The arguments (``cmdline``) as a list, [] for a kernel thread, or None."""
        data = self._read("cmdline")
        if data is None:
            return None
        return [a.decode("utf-8", "replace") for a in data.rstrip(b"\0").split(b"\0")] if data else []

    def cmdline(self):
        """The arguments joined by spaces, or None."""
        argv = self.argv()
        return None if argv is None else " ".join(argv).strip()

    def stat(self):
        """The fields of ``stat`` after the command name (state first, start time at index 19), or None."""
        data = self._read("stat")
        if data is None:
            return None
        return data.decode("utf-8", "replace").rpartition(")")[2].split()

    def state(self):
        """The one-letter state (R, S, D, Z, ...), or None."""
        fields = self.stat()
        return fields[0] if fields else None

    def start_ticks(self):
        """When the process started, in clock ticks since boot, or None."""
        fields = self.stat()
        try:
            return int(fields[19])
        except (TypeError, IndexError, ValueError):
            return None


def processes(proc="/proc"):
    """Every process of ``proc`` (the caller's own included); none when ``proc`` cannot be listed."""
    try:
        entries = os.listdir(proc)
    except OSError:
        return []
    return [Process(int(entry), proc) for entry in entries if entry.isdigit()]


def alive(pid, proc="/proc"):
    """Whether process ``pid`` exists and is neither a zombie nor dead."""
    return Process(pid, proc).state() not in (None, "Z", "X")
