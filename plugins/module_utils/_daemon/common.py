# Copyright (c) kubeha developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Errors, command running and digests shared by the daemon package."""

from __future__ import annotations


import hashlib
import os
import subprocess


class DaemonError(Exception):
    """What failed, what was seen and what to do; ``result`` carries what was already done."""

    def __init__(self, msg, **result):
        super().__init__(msg)
        self.msg = msg
        self.result = result

    def __str__(self):
        return self.msg


def run(argv, env=None, timeout=None, data=None):
    """Run a command: (rc, stdout, stderr) as text. A missing program is rc 127, like a shell."""
    full_env = None
    if env:
        full_env = dict(os.environ)
        full_env.update(env)
    try:
        proc = subprocess.run(argv, env=full_env, timeout=timeout, check=False, stdin=subprocess.DEVNULL if data is None else None,
                              input=data, capture_output=True)
    except FileNotFoundError as exc:
        return 127, "", "%s: %s" % (argv[0], exc.strerror)
    except subprocess.TimeoutExpired:
        return 124, "", "%s: no answer within %s s" % (" ".join(argv), timeout)
    return proc.returncode, proc.stdout.decode("utf-8", "replace"), proc.stderr.decode("utf-8", "replace")


def sha256_bytes(data):
    return hashlib.sha256(data).hexdigest()


def sha256_file(path):
    """The sha256 of a file's content, or None when it does not exist (or is not a regular file)."""
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    except (IOError, OSError):
        return None
    return digest.hexdigest()


def inputs_digest(paths):
    """One digest over the content of files (a missing file counts as such): it changes when any of them does."""
    digest = hashlib.sha256()
    for path in sorted(set(paths)):
        digest.update(("%s\0%s\n" % (path, sha256_file(path) or "missing")).encode("utf-8"))
    return digest.hexdigest()


def tail(text, lines=15):
    """The last lines of a command's output, for error messages."""
    parts = [line for line in (text or "").strip().splitlines() if line.strip()]
    return " | ".join(parts[-lines:])
