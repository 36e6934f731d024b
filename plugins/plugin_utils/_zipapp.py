# Copyright (c) kubeha developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Build the programs kubeha runs on its hosts as Python zip applications, from the collection's module_utils.

    python3 _zipapp.py <collection>/plugins/module_utils PROGRAM [OUTPUT.pyz]

PROGRAM is one of :data:`PROGRAMS`:

* ``podmaster``: the podmaster daemon and the etcd client (the control_plane role);
  ``python3 podmaster.pyz --config FILE``. ``python3 podmaster.pyz --check --config-json TEXT`` checks a
  configuration given as text: the role validates the code and the configuration it is about to install
  together, before writing either.
* ``etcd-snapshot``: the scheduled etcd snapshot (the etcd role's timer);
  ``python3 etcd-snapshot.pyz --config FILE``.

Runs on the controller (a role calls it once per run, then sends the one file to each host whose copy
differs). The archive holds ``<package>/<subpackage>/*.py`` (so relative imports such as podmaster's
``.._etcd`` work as in the collection) and a ``__main__.py``. Same inputs give byte-identical output
(sorted entries, fixed timestamps), so a re-run sends nothing. Prints ``built|unchanged OUTPUT SHA256``.

Without OUTPUT (what the roles do) it builds into a new private directory (``mkdtemp``, 0700) and
prints ``built DIR/PROGRAM.pyz SHA256``: nothing at a predictable path that another local user could
plant or swap, and nothing reused. The role ships the file only if it still has that sha256, then
removes the directory.
"""

from __future__ import annotations

import hashlib
import os
import sys
import tempfile
import zipfile

EPOCH = (2020, 1, 1, 0, 0, 0)
PODMASTER_MAIN = b'''"""podmaster (kubeha.cluster): python3 podmaster.pyz --config FILE [--check].

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
SNAPSHOT_MAIN = b'''"""etcd-snapshot (kubeha.cluster): python3 etcd-snapshot.pyz --config FILE."""
from kubeha_etcd_snapshot._etcd.snapshot import main

raise SystemExit(main())
'''
# program: (package, subpackages of module_utils, __main__.py, the package's docstring)
PROGRAMS = {
    "podmaster": ("kubeha_podmaster", ("_podmaster", "_etcd"), PODMASTER_MAIN,
                  "kubeha podmaster and the etcd client of kubeha.cluster, shipped by the control_plane role."),
    "etcd-snapshot": ("kubeha_etcd_snapshot", ("_etcd",), SNAPSHOT_MAIN,
                      "kubeha's scheduled etcd snapshot and etcd client, shipped by the etcd role."),
}


def entries(module_utils, program="podmaster"):
    """(archive name, bytes) of every file of ``program``, sorted."""
    package, subpackages, main_py, doc = PROGRAMS[program]
    found = [("__main__.py", main_py), (package + "/__init__.py", ('"""%s"""\n' % doc).encode("utf-8"))]
    for sub in subpackages:
        directory = os.path.join(module_utils, sub)
        names = sorted(n for n in os.listdir(directory) if n.endswith(".py"))
        if "__init__.py" not in names:
            raise SystemExit("_zipapp: %s has no __init__.py: is %s the collection's plugins/module_utils?"
                             % (directory, module_utils))
        for name in names:
            with open(os.path.join(directory, name), "rb") as handle:
                found.append(("%s/%s/%s" % (package, sub, name), handle.read()))
    return sorted(found)


def build(module_utils, output, program="podmaster"):
    """Write ``output`` atomically; return True if its content changed (see :func:`sha256` for its digest)."""
    directory = os.path.dirname(os.path.abspath(output))
    fd, tmp = tempfile.mkstemp(prefix=".%s-" % program, suffix=".pyz", dir=directory)
    try:
        with os.fdopen(fd, "wb") as handle:
            with zipfile.ZipFile(handle, "w", zipfile.ZIP_DEFLATED) as archive:
                for name, data in entries(module_utils, program):
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
    if len(argv) not in (2, 3) or argv[1] not in PROGRAMS:
        sys.stderr.write("usage: _zipapp.py <collection>/plugins/module_utils {%s} [OUTPUT.pyz]\n" % ",".join(sorted(PROGRAMS)))
        return 2
    program = argv[1]
    if len(argv) == 2:
        output = os.path.join(tempfile.mkdtemp(prefix="kubeha-%s-" % program), program + ".pyz")
    else:
        output = argv[2]
    changed = build(argv[0], output, program)
    sys.stdout.write("%s %s %s\n" % ("built" if changed else "unchanged", output, sha256(output)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
