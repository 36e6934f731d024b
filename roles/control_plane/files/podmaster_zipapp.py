"""Build podmaster.pyz: the podmaster daemon and the collection's etcd client as one Python zip application.

    python3 podmaster_zipapp.py <collection>/plugins/module_utils [OUTPUT.pyz]

Runs on the controller (the control_plane role calls it once per run, then sends the one file to each
master whose copy differs). The archive holds ``kubeha_podmaster/{_podmaster,_etcd}/*.py`` (so the
daemon's relative import of ``.._etcd`` works as in the collection) and a ``__main__.py``; the target
runs it with ``python3 podmaster.pyz --config FILE``. Same inputs give byte-identical output (sorted
entries, fixed timestamps), so a re-run sends nothing. Prints ``built|unchanged OUTPUT SHA256``.

Without OUTPUT (what the role does) it builds into a new private directory (``mkdtemp``, 0700) and
prints ``built DIR/podmaster.pyz SHA256``: nothing at a predictable path that another local user
could plant or swap, and nothing reused. The role ships the file only if it still has that sha256,
then removes the directory.

``python3 podmaster.pyz --check --config-json TEXT`` checks a configuration given as text: the role
validates the code and the configuration it is about to install together, before writing either.
"""

from __future__ import annotations

import hashlib
import os
import sys
import tempfile
import zipfile

PACKAGE = "kubeha_podmaster"
SUBPACKAGES = ("_podmaster", "_etcd")
EPOCH = (2020, 1, 1, 0, 0, 0)
MAIN = b'''"""podmaster (kubeha.cluster): python3 podmaster.pyz --config FILE [--check].

--check --config-json TEXT checks a configuration given as text instead of a file.
"""
import os
import shutil
import sys
import tempfile

from kubeha_podmaster._podmaster.daemon import main


def run(argv):
    if "--config-json" not in argv:
        return main(argv)
    at = argv.index("--config-json")
    if "--check" not in argv or at + 1 >= len(argv):
        sys.stderr.write("podmaster: --config-json TEXT only goes with --check\\n")
        return 2
    work = tempfile.mkdtemp(prefix="podmaster-check-")
    try:
        path = os.path.join(work, "podmaster.json")
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(argv[at + 1])
        return main(argv[:at] + ["--config", path] + argv[at + 2:])
    finally:
        shutil.rmtree(work, ignore_errors=True)


raise SystemExit(run(sys.argv[1:]))
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
    """Write ``output`` atomically; return True if its content changed (see :func:`sha256` for its digest)."""
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


def sha256(path):
    with open(path, "rb") as handle:
        return hashlib.sha256(handle.read()).hexdigest()


def main(argv):
    if len(argv) not in (1, 2):
        sys.stderr.write("usage: podmaster_zipapp.py <collection>/plugins/module_utils [OUTPUT.pyz]\n")
        return 2
    if len(argv) == 1:
        output = os.path.join(tempfile.mkdtemp(prefix="kubeha-podmaster-"), "podmaster.pyz")
    else:
        output = argv[1]
    changed = build(argv[0], output)
    sys.stdout.write("%s %s %s\n" % ("built" if changed else "unchanged", output, sha256(output)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
