"""kubeha.cluster.daemon as a module process (argument spec, check mode, diff, failures) with a fake systemctl."""

from __future__ import annotations

import os

import pytest

from support.etcd_cluster import run_module
from support.fake_systemd import FakeSystemd


@pytest.fixture
def systemd(tmp_path, monkeypatch):
    fake = FakeSystemd(tmp_path / "systemd")
    monkeypatch.setenv("PATH", fake.path_env())
    fake.add("demo.service")
    return fake


def args(tmp_path, content="a=1\n", **extra):
    base = dict(files=[dict(path=str(tmp_path / "demo.conf"), content=content, mode="0644", restarts=["demo"])],
                units=[dict(name="demo", health=dict(command=["true"]))], state_dir=str(tmp_path / "state"))
    base.update(extra)
    return base


def test_check_real_second_run_with_diff(tmp_path, systemd):
    check = run_module("daemon", args(tmp_path), check_mode=True, diff=True)
    conf = str(tmp_path / "demo.conf")
    assert check["changed"] is True
    assert check["diff"] == [dict(before_header=conf, after_header=conf, before="", after="a=1\n")]
    assert not (tmp_path / "demo.conf").exists()
    real = run_module("daemon", args(tmp_path))
    assert real["changed"] is True and real["units"]["demo"]["action"] == "started"
    again = run_module("daemon", args(tmp_path), diff=True)
    assert again["changed"] is False and again["diff"] == []


def test_templates_need_the_action_plugin(tmp_path, systemd):
    bare = args(tmp_path)
    bare["files"][0].pop("content")
    bare["files"][0]["template"] = "demo.conf.j2"
    result = run_module("daemon", bare)
    assert result["failed"] is True and "resolved by the action plugin on the controller" in result["msg"]


def test_a_failure_reports_what_was_done(tmp_path, systemd):
    systemd.fail("demo.service")
    result = run_module("daemon", args(tmp_path))
    assert result["failed"] is True and "systemctl start demo.service failed" in result["msg"]
    assert result["files"] == {str(tmp_path / "demo.conf"): "created"}


def test_choices_are_checked_by_the_argument_spec(tmp_path, systemd):
    result = run_module("daemon", args(tmp_path, restart="later"))
    assert result["failed"] is True and "restart" in result["msg"] and "now, pending" in result["msg"]


def test_file_content_never_reaches_the_hosts_journal(tmp_path, systemd, monkeypatch):
    """AnsibleModule logs "Invoked with <arguments>" on the host unless told not to; a file may hold a key."""
    import json as _json  # pylint: disable=import-outside-toplevel
    from ansible.module_utils import basic  # pylint: disable=import-outside-toplevel
    from ansible.module_utils.testing import patch_module_args  # pylint: disable=import-outside-toplevel
    from ansible_collections.kubeha.cluster.plugins.modules import daemon  # pylint: disable=import-outside-toplevel

    logged = []
    monkeypatch.setattr(basic.AnsibleModule, "log", lambda self, msg, log_args=None: logged.append(msg))
    secret = args(tmp_path, content="token=hunter2-not-for-logs\n")
    secret["files"][0]["secret"] = True
    with patch_module_args(dict(secret, _ansible_check_mode=True)):
        with pytest.raises(SystemExit):
            daemon.main()
    assert not [m for m in logged if "hunter2" in m], logged
    result = run_module("daemon", secret, check_mode=True, diff=True)
    assert result["changed"] is True and "hunter2" not in _json.dumps(result)


def test_a_no_block_units_health_is_recorded_never_waited(tmp_path, systemd):
    """etcd's members are only healthy together: the call that starts one must not wait for it, on any run."""
    unit = dict(name="demo", no_block=True, health=dict(command=["false"]), health_timeout=1)
    first = run_module("daemon", args(tmp_path, units=[unit]))
    assert not first.get("failed") and first["units"]["demo"]["action"] == "started"
    again = run_module("daemon", args(tmp_path, units=[unit]))
    assert not again.get("failed") and again["changed"] is False, again.get("msg")
    # what converged_info checks on the fast path
    assert [u["health"]["command"] for u in again["managed"]["units"].values()] == [["false"]]


def _reloading(tmp_path, content, restart="now"):
    return dict(files=[dict(path=str(tmp_path / "demo.conf"), content=content, mode="0644", reloads=["demo"])],
                units=[dict(name="demo")], state_dir=str(tmp_path / "state"), restart=restart)


def test_a_changed_configuration_is_reloaded_not_restarted(tmp_path, systemd):
    assert run_module("daemon", _reloading(tmp_path, "a=1\n"))["units"]["demo"]["action"] == "started"
    changed = run_module("daemon", _reloading(tmp_path, "a=2\n"))
    assert changed["units"]["demo"]["action"] == "reloaded" and "changed in this run" in changed["units"]["demo"]["reason"]
    unit = systemd.unit("demo.service")
    assert unit["reloads"] == 1 and unit["starts"] == 1
    assert run_module("daemon", _reloading(tmp_path, "a=2\n"))["changed"] is False


def test_a_reload_lost_to_a_failed_run_is_done_by_the_next_run(tmp_path, systemd):
    run_module("daemon", _reloading(tmp_path, "a=1\n", restart="pending"))
    first = run_module("daemon", _reloading(tmp_path, "a=2\n", restart="pending"))
    assert first["restart_pending"] == ["demo"]
    os.unlink(str(tmp_path / "state" / "demo.service.pending.json"))   # the run failed before its handler; record lost too
    again = run_module("daemon", _reloading(tmp_path, "a=2\n", restart="pending"))
    assert again["restart_pending"] == ["demo"] and "since its last reload" in again["units"]["demo"]["reason"]
    handler = run_module("daemon", dict(restart_pending=True, state_dir=str(tmp_path / "state")))
    assert handler["units"]["demo"]["action"] == "reloaded" and systemd.unit("demo.service")["reloads"] == 1
    assert run_module("daemon", _reloading(tmp_path, "a=2\n", restart="pending"))["restart_pending"] == []


def test_a_deferred_restart_of_a_unit_kubeha_adopted_survives_the_next_call(tmp_path, systemd):
    """A hand-made kubelet, running before kubeha: site.yml's first pass lays out kubeha's files and leaves the restart
    pending; the workers pass makes the same call (no file changes) and must still find the restart due."""
    systemd.add("demo.service", active=True)
    first = run_module("daemon", args(tmp_path, restart="pending"))
    assert first["restart_pending"] == ["demo"] and first["units"]["demo"]["reason"] == "its files changed in this run"
    again = run_module("daemon", args(tmp_path, restart="pending"))
    assert again["restart_pending"] == ["demo"], again["units"]["demo"]
    assert again["units"]["demo"]["reason"] == "an earlier call left its restart pending"
    assert systemd.unit("demo.service").get("starts", 0) == 0   # not restarted by either call
    handler = run_module("daemon", dict(restart_pending=True, state_dir=str(tmp_path / "state")))
    assert handler["units"]["demo"]["action"] == "restarted" and systemd.unit("demo.service")["starts"] == 1
    assert run_module("daemon", args(tmp_path, restart="pending"))["restart_pending"] == []
