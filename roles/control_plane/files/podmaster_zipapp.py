"""Build podmaster.pyz: the podmaster daemon and the collection's etcd client as one Python zip application.

    python3 podmaster_zipapp.py <collection>/plugins/module_utils OUTPUT.pyz

Runs on the controller (the control_plane role calls it once per run, then copies one file to each
master). The archive holds ``kubeha_podmaster/{_podmaster,_etcd}/*.py`` (so the daemon's relative
import of ``.._etcd`` works as in the collection) and a ``__main__.py``; the target runs it with
``python3 podmaster.pyz --config FILE``. Same inputs give byte-identical output (sorted entries, fixed
timestamps), so a re-run copies nothing.
"""

from __future__ import annotations

import os
import sys
import tempfile
import zipfile

PACKAGE = "kubeha_podmaster"
SUBPACKAGES = ("_podmaster", "_etcd")
EPOCH = (2020, 1, 1, 0, 0, 0)
MAIN = b'''"""podmaster (kubeha.cluster): python3 podmaster.pyz --config FILE."""
from kubeha_podmaster._podmaster.daemon import main

raise SystemExit(main())
'''
INIT = b'"""kubeha podmaster and the etcd client of kubeha.cluster, shipped by the control_plane role."""\n'


def entries(module_utils):
    """(archive name, bytes) of every file, sorted."""
    found = [("__main__.py", MAIN), (PACKAGE + "/__init__.py", INIT)]
    for sub in SUBPACKAGES:
        directory = os.path.join(module_utils, sub)
        names = sorted(n for n in os.listdir(directory) if n.endswith(".py"))
        if "__init__.py" not in names:
            raise SystemExit("podmaster_zipapp: %s has no __init__.py: is %s the collection's plugins/module_utils?"
                             % (directory, module_utils))
        for name in names:
            with open(os.path.join(directory, name), "rb") as handle:
                found.append(("%s/%s/%s" % (PACKAGE, sub, name), handle.read()))
    return sorted(found)


def build(module_utils, output):
    """Write ``output`` atomically; return True if its content changed."""
    directory = os.path.dirname(os.path.abspath(output))
    fd, tmp = tempfile.mkstemp(prefix=".podmaster-", suffix=".pyz", dir=directory)
    try:
        with os.fdopen(fd, "wb") as handle:
            with zipfile.ZipFile(handle, "w", zipfile.ZIP_DEFLATED) as archive:
                for name, data in entries(module_utils):
                    info = zipfile.ZipInfo(name, EPOCH)
                    info.external_attr = 0o644 << 16
                    info.compress_type = zipfile.ZIP_DEFLATED
                    archive.writestr(info, data)
        with open(tmp, "rb") as new:
            data = new.read()
        try:
            with open(output, "rb") as old:
                if old.read() == data:
                    return False
        except OSError:
            pass
        os.chmod(tmp, 0o644)
        os.rename(tmp, output)
        tmp = None
        return True
    finally:
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)


def main(argv):
    if len(argv) != 2:
        sys.stderr.write("usage: podmaster_zipapp.py <collection>/plugins/module_utils OUTPUT.pyz\n")
        return 2
    changed = build(argv[0], argv[1])
    sys.stdout.write("%s %s\n" % ("built" if changed else "unchanged", argv[1]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
