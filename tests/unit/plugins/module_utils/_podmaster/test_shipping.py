"""podmaster.pyz, the one file the control_plane role copies to every master."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile

from podmaster_harness import MODULE_UTILS, ship


def test_pyz_holds_the_daemon_and_the_etcd_client_and_nothing_else(tmp_path):
    pyz = ship(str(tmp_path))
    with zipfile.ZipFile(pyz) as archive:
        names = archive.namelist()
    assert "__main__.py" in names
    for sub in ("_podmaster", "_etcd"):
        wanted = sorted("kubeha_podmaster/%s/%s" % (sub, n) for n in os.listdir(os.path.join(MODULE_UTILS, sub)) if n.endswith(".py"))
        assert sorted(n for n in names if n.startswith("kubeha_podmaster/%s/" % sub)) == wanted
    assert not [n for n in names if "__pycache__" in n or "_pki" in n]


def test_pyz_is_reproducible_so_reruns_copy_nothing(tmp_path):
    first = ship(str(tmp_path / "a"))
    second = ship(str(tmp_path / "b"))
    with open(first, "rb") as a, open(second, "rb") as b:
        assert a.read() == b.read()
    mtime = os.stat(first).st_mtime_ns
    ship(str(tmp_path / "a"))      # same inputs: the file is left alone
    assert os.stat(first).st_mtime_ns == mtime


def test_pyz_runs_with_only_the_standard_library(tmp_path):
    pyz = ship(str(tmp_path))
    # -I: isolated (no site-packages, no PYTHONPATH): Ansible and everything else out of reach
    out = subprocess.run([sys.executable, "-I", pyz, "--help"], capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stderr
    assert "usage: podmaster" in out.stdout and "--config CONFIG" in out.stdout
