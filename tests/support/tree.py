"""What a directory holds, to compare before and after a run."""

from __future__ import annotations

import os


def snapshot(directory):
    """{relative path: (bytes, mode)} of every file under directory; None when it does not exist."""
    if not os.path.exists(directory):
        return None
    out = {}
    for root, _dirs, files in os.walk(directory):
        for name in files:
            path = os.path.join(root, name)
            with open(path, "rb") as handle:
                out[os.path.relpath(path, directory)] = (handle.read(), os.stat(path).st_mode & 0o777)
    return out
