"""The daemon action plugin as ansible-playbook runs it (local connection, fake systemctl on PATH).

Templates are rendered on the controller from the play's templates/ directory, small controller
files travel inline, a big one is transferred only when the host's copy differs; check mode, the real
run and the second run; file contents never echoed back in the result.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys

import pytest

from ansible_collections.kubeha.cluster.plugins.action.daemon import merge_managed
from support.fake_systemd import FakeSystemd

PLAY = """
- hosts: localhost
  gather_facts: false
  tasks:
    - name: The demo daemon
      kubeha.cluster.daemon:
        files:
          - {path: "{{ root }}/etc", state: directory, mode: "0750"}
          - {path: "{{ root }}/etc/demo.conf", template: demo.conf.j2, mode: "0600", restarts: [demo]}
          - {path: "{{ root }}/bin/demo", src: demo-binary, mode: "0755", restarts: [demo]}
          - {path: "{{ root }}/bin/helper", src: helper.sh, src_sha256: "{{ helper_sha256 | default(omit) }}", mode: "0755"}
        units:
          - {name: demo, enabled: true, health: {command: [test, -e, "{{ root }}/etc/demo.conf"]}}
        state_dir: "{{ root }}/state"
      register: demo
    - name: Save the result
      ansible.builtin.copy:
        content: "{{ demo | to_json }}"
        dest: "{{ result }}"
        mode: "0600"
      check_mode: false
"""


@pytest.fixture
def play(tmp_path):
    base = tmp_path / "play"
    (base / "templates").mkdir(parents=True)
    (base / "files").mkdir()
    (base / "templates" / "demo.conf.j2").write_text("{{ ansible_managed | comment }}\ngreeting = {{ greeting }}\n")
    (base / "files" / "demo-binary").write_bytes(os.urandom(700 * 1024))
    (base / "files" / "helper.sh").write_text("#!/bin/sh\necho helper\n")
    (base / "site.yml").write_text(PLAY)
    fake = FakeSystemd(tmp_path / "systemd")
    fake.add("demo.service")
    root = tmp_path / "host"
    result = tmp_path / "result.json"

    def run(*extra, greeting="world", fails=False):
        env = dict(os.environ, PATH=fake.path_env(), ANSIBLE_NOCOLOR="1", ANSIBLE_STDOUT_CALLBACK="ansible.builtin.default")
        argv = [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", "localhost,", "-c", "local",
                "-e", "ansible_python_interpreter=%s" % sys.executable, "-e", "root=%s" % root, "-e", "result=%s" % result, "-e", "greeting=%s" % greeting,
                str(base / "site.yml")] + list(extra)
        proc = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=180, check=False)
        if fails:
            assert proc.returncode != 0, proc.stdout[-3000:]
            return None, proc.stdout
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        with open(result) as handle:
            return json.load(handle), proc.stdout

    return run, root, fake, base


def test_check_run_rerun_and_a_template_change(play):
    run, root, fake, base = play
    check, _out = run("--check", "--diff")
    assert check["changed"] is True and check["units"]["demo"]["action"] == "started"
    assert set(check["files"].values()) == {"created"} and not (root / "etc").exists()
    first, out = run("-vvv")
    assert first["changed"] is True and first["files"][str(root / "bin/demo")] == "created"
    big = str(base / "files/demo-binary")
    assert re.search(r"PUT %s TO " % re.escape(big), out), "the first run sends the big file (the check below can fail)"
    assert (root / "bin/demo").read_bytes() == (base / "files/demo-binary").read_bytes()
    assert (root / "bin/helper").read_text() == "#!/bin/sh\necho helper\n"
    assert "greeting = world" in (root / "etc/demo.conf").read_text()
    assert "Ansible managed" in (root / "etc/demo.conf").read_text()
    assert oct(os.stat(root / "etc/demo.conf").st_mode & 0o777) == "0o600"
    assert fake.unit("demo.service")["active"] == "active"
    again, out = run("-vvv")
    assert again["changed"] is False and set(again["files"].values()) == {"unchanged"}
    assert not re.search(r"PUT %s TO " % re.escape(big), out), "an unchanged big file is not sent again"
    assert "invocation" not in again and "greeting = world" not in out, "file contents are not echoed back"
    changed, _out = run(greeting="there")
    assert changed["files"][str(root / "etc/demo.conf")] == "updated" and changed["units"]["demo"]["action"] == "restarted"
    assert fake.unit("demo.service")["starts"] == 2


def test_a_big_file_changed_on_the_host_is_sent_again(play):
    run, root, fake, base = play
    run()
    (root / "bin/demo").write_bytes(b"tampered")
    result, _out = run()
    assert result["files"][str(root / "bin/demo")] == "updated" and result["units"]["demo"]["action"] == "restarted"
    assert (root / "bin/demo").read_bytes() == (base / "files/demo-binary").read_bytes()
    assert "need_transfer" not in result


def test_the_host_fact_sums_up_what_the_calls_keep(play):
    run, root, _fake, base = play
    check, _out = run("--check")
    assert "ansible_facts" not in check, "check mode lays out nothing, so it records nothing"
    first, _out = run()
    managed = first["ansible_facts"]["kubeha_managed"]
    binary = managed["files"][str(root / "bin/demo")]
    assert binary == dict(state="file", mode="0755", owner="root", group="root",
                          sha256=hashlib.sha256((base / "files/demo-binary").read_bytes()).hexdigest())
    assert managed["files"][str(root / "etc")] == dict(state="directory", mode="0750", owner="root", group="root")
    assert managed["units"]["demo.service"]["health"]["command"][:2] == ["test", "-e"]


def test_later_calls_win_and_another_runs_fact_is_dropped():
    one = dict(files={"/a": {"mode": "0600"}, "/b": {"mode": "0600"}}, units={"x.service": {"state": "started"}}, state_dirs=["/s"])
    two = dict(files={"/b": {"mode": "0644"}}, units={}, state_dirs=["/s", "/t"])
    merged = merge_managed(merge_managed(None, one, run="r1"), two, run="r1")
    assert merged == dict(files={"/a": {"mode": "0600"}, "/b": {"mode": "0644"}}, units={"x.service": {"state": "started"}},
                          state_dirs=["/s", "/t"], run="r1")
    assert merge_managed(merged, two, run="r2") == dict(files={"/b": {"mode": "0644"}}, units={}, state_dirs=["/s", "/t"], run="r2")
    assert "run" not in merge_managed(None, one)


def test_the_run_id_is_the_playbook_process_and_its_start(tmp_path):
    """Workers are children of ansible-playbook: the id is its pid and start time, the same for every task of a run."""
    import os
    from ansible_collections.kubeha.cluster.plugins.action.daemon import run_id
    here = run_id(os.getpid())
    pid, started = here.split(":")
    assert int(pid) == os.getpid() and started.isdigit() and run_id(os.getpid()) == here
    assert run_id() == run_id(os.getppid()) != here
    assert run_id(2 ** 22 + 7) == "%d:" % (2 ** 22 + 7)  # no such process: the pid alone


def test_a_controller_file_that_changed_since_its_build_is_not_sent(play):
    run, root, _fake, base = play
    built = hashlib.sha256((base / "files" / "helper.sh").read_bytes()).hexdigest()
    first, _out = run("-e", "helper_sha256=" + built)
    assert first["files"][str(root / "bin/helper")] == "created"
    (base / "files" / "helper.sh").write_text("#!/bin/sh\necho planted\n")   # swapped after the build
    _result, out = run("-e", "helper_sha256=" + built, fails=True)
    assert "helper.sh has sha256" in out and "not the %s it was built with" % built in out and "nothing was sent" in out
    assert (root / "bin/helper").read_text() == "#!/bin/sh\necho helper\n"


LATER = """
- hosts: localhost
  gather_facts: false
  tasks:
    - name: A file whose source an earlier stage only reported
      kubeha.cluster.daemon:
        files:
          - {path: "{{ root }}/etc/ca.crt", src: "{{ root }}/controller/ca.crt", mode: "0644"}
          - {path: "{{ root }}/etc/demo.conf", content: "ca = {{ root }}/etc/ca.crt\\n", mode: "0644", validate: "grep -q BEGIN %s"}
        state_dir: "{{ root }}/state"
      register: demo
    - name: Save the result
      ansible.builtin.copy:
        content: "{{ demo | to_json }}"
        dest: "{{ result }}"
        mode: "0600"
      check_mode: false
"""


def test_check_mode_reports_a_file_whose_controller_source_is_not_made_yet(tmp_path):
    """site.yml --check on a fresh controller: the PKI stage only reported the CA; the next stage must not fail on it."""
    (tmp_path / "later.yml").write_text(LATER)
    root, result = tmp_path / "host", tmp_path / "result.json"
    env = dict(os.environ, ANSIBLE_NOCOLOR="1")
    argv = [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", "localhost,", "-c", "local",
            "-e", "ansible_python_interpreter=%s" % sys.executable, "-e", "root=%s" % root, "-e", "result=%s" % result,
            str(tmp_path / "later.yml")]
    check = subprocess.run(argv + ["--check"], capture_output=True, text=True, env=env, timeout=180, check=False)
    assert check.returncode == 0, check.stdout[-3000:]
    report = json.loads(result.read_text())
    assert report["changed"] is True and report["files"][str(root / "etc/ca.crt")] == "not decided"
    assert "is not on the controller yet" in report["check_mode_undecided"][str(root / "etc/ca.crt")]
    assert "not on the host yet: %s" % (root / "etc/ca.crt") in report["validation_skipped"]
    assert not root.exists()
    real = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=180, check=False)
    assert real.returncode != 0 and "controller/ca.crt" in real.stdout, "a real run still refuses a missing source"
