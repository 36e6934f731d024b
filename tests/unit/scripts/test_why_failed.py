"""scripts/why_failed.py: the failures that stopped a Molecule log, not the ignored ones, printed readably."""

from __future__ import annotations

import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
SCRIPT = os.path.join(ROOT, "scripts", "why_failed.py")


def test_the_last_failures_not_ignored_are_printed_with_their_output(tmp_path):
    nested = {"changed": True, "cmd": ["ansible-playbook", "restore.yml"], "rc": 2, "msg": "non-zero return code",
              "stderr_lines": ["[ERROR]: the restore stopped"], "stdout_lines": ["line %d" % n for n in range(100)]}
    log = tmp_path / "scenario.log"
    log.write_text("\n".join([
        "TASK [An expected refusal] ***",
        'fatal: [m1]: FAILED! => {"changed": false, "msg": "refused, as expected"}',
        "...ignoring",
        "TASK [Restore (timed)] ***",
        "fatal: [localhost]: FAILED! => " + json.dumps(nested),
        "PLAY RECAP ***",
    ]) + "\n")
    out = subprocess.run([sys.executable, SCRIPT, str(log)], capture_output=True, text=True, check=True).stdout
    assert "task [Restore (timed)] on localhost" in out
    assert "msg: non-zero return code" in out and "rc: 2" in out and "cmd: ansible-playbook restore.yml" in out
    assert "[ERROR]: the restore stopped" in out
    # the tail of the nested run's output, not its head
    assert "line 99" in out and "line 60" in out and "line 59" not in out
    assert "refused, as expected" not in out


def test_brief_is_one_line_with_the_last_failure_also_in_the_error_form_of_ansible_core_2_19(tmp_path):
    log = tmp_path / "scenario.log"
    log.write_text("\n".join([
        "TASK [An expected refusal] ***",
        "[ERROR]: Task failed: refused, as expected",
        "...ignoring",
        "TASK [The kubelet is connected to the VIP] ***",
        "[ERROR]: Task failed: Action failed: m1: " + "x" * 500,
        "ok: [localhost] => (item=m2)",
        "PLAY RECAP ***",
    ]) + "\n")
    out = subprocess.run([sys.executable, SCRIPT, str(log), "--brief"], capture_output=True, text=True, check=True).stdout
    assert out.count("\n") == 1
    assert out.startswith("line 5, task [The kubelet is connected to the VIP] on ?: Action failed: m1: xxx")
    assert len(out) < 400
    clean = tmp_path / "clean.log"
    clean.write_text("PLAY RECAP ***\n")
    out = subprocess.run([sys.executable, SCRIPT, str(clean), "--brief"], capture_output=True, text=True, check=True).stdout
    assert out == "no task failure in the log (see its end)\n"
