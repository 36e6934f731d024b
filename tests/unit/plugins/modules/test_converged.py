"""kubeha.cluster.converged and converged_info as Ansible runs them: check mode, real run, second run, the check after."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
COLLECTIONS = os.path.join(ROOT, ".cache", "collections")


def run_module(tmp_path, name, args, check=False):
    path = tmp_path / ("%s-args.json" % name)
    path.write_text(json.dumps({"ANSIBLE_MODULE_ARGS": dict(args, _ansible_check_mode=check)}))
    env = dict(os.environ, PYTHONPATH=COLLECTIONS)
    proc = subprocess.run([sys.executable, "-m", "ansible_collections.kubeha.cluster.plugins.modules." + name, str(path)],
                          capture_output=True, text=True, env=env, check=False)
    return json.loads(proc.stdout)


def test_record_then_check(tmp_path):
    conf = tmp_path / "demo.conf"
    conf.write_text("a=1\n")
    os.chmod(conf, 0o640)
    stamp = tmp_path / "kubeha" / "converged.json"
    args = dict(digest="d1", path=str(stamp), renew_by="2099-01-01T00:00:00Z",
                files={str(conf): dict(state="file", mode="0640", owner="root", group="root", sha256=hashlib.sha256(b"a=1\n").hexdigest())})
    check = run_module(tmp_path, "converged", args, check=True)
    assert check["changed"] is True and not stamp.exists()
    real = run_module(tmp_path, "converged", args)
    assert real["changed"] is True and real["recorded"] == dict(files=1, units=0)
    assert oct(os.stat(stamp).st_mode & 0o777) == "0o600"
    again = run_module(tmp_path, "converged", args)
    assert again["changed"] is False
    info = run_module(tmp_path, "converged_info", dict(digest="d1", path=str(stamp)), check=True)
    assert info["converged"] is True and info["changed"] is False and info["renew_by"] == "2099-01-01T00:00:00Z"
    conf.write_text("a=2\n")
    info = run_module(tmp_path, "converged_info", dict(digest="d2", path=str(stamp)))
    assert info["converged"] is False and info["drift"][1] == "%s: content differs from the recorded sha256" % conf
    assert info["drift"][0].startswith("the run's inputs differ")


def test_a_bad_renewal_time_fails_naming_it_and_writes_nothing(tmp_path):
    stamp = tmp_path / "converged.json"
    result = run_module(tmp_path, "converged", dict(digest="d1", path=str(stamp), renew_by="next week"))
    assert result["failed"] is True and "renew_by is 'next week'" in result["msg"] and not stamp.exists()
