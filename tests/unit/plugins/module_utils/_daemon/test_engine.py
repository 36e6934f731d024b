"""_daemon.engine with a fake systemctl: starts, content-based restarts (now and pending), health, check mode."""

from __future__ import annotations

import json
import os

import pytest

from ansible_collections.kubeha.cluster.plugins.module_utils._daemon.common import DaemonError
from ansible_collections.kubeha.cluster.plugins.module_utils._daemon.engine import _uptime, run_daemon


class Host:
    """A daemon 'demo' reading demo.conf (managed) and cert.pem (an input), with a health flag file."""

    def __init__(self, root):
        self.root = root
        self.conf = str(root / "etc" / "demo.conf")
        self.cert = str(root / "cert.pem")
        self.healthy = str(root / "healthy")
        self.state_dir = str(root / "state")
        (root / "cert.pem").write_text("cert one")
        open(self.healthy, "w").close()

    def params(self, conf="a=1\n", restart="now", unit=None, **extra):
        unit_spec = dict(name="demo", enabled=True, inputs=[self.cert], health=dict(command=["test", "-e", self.healthy]), health_timeout=1)
        unit_spec.update(unit or {})
        params = dict(files=[dict(path=self.conf, content=conf, mode="0644", restarts=["demo"])], units=[unit_spec],
                      restart=restart, state_dir=self.state_dir, health_timeout=1)
        params.update(extra)
        return params


@pytest.fixture
def host(tmp_path, systemd):
    systemd.add("demo.service")
    return Host(tmp_path)


def test_fresh_start_then_nothing_to_do(host, systemd):
    first = run_daemon(host.params())
    assert first["changed"] is True and first["units"]["demo"]["action"] == "started"
    assert first["units"]["demo"]["steps"] == ["enable"] and first["files"][host.conf] == "created"
    assert systemd.calls() == [["enable", "demo.service"], ["start", "demo.service"]]
    assert os.path.exists(os.path.join(host.state_dir, "demo.service.json"))
    systemd.clear_calls()
    again = run_daemon(host.params())
    assert again["changed"] is False and again["units"]["demo"]["action"] == "none" and again["restart_pending"] == []
    assert systemd.calls() == [], "a re-run with nothing to do changes nothing"


def test_what_a_passing_health_check_printed_is_returned(host, systemd):
    status = dict(command=["sh", "-c", "test -e %s && echo holder=m2" % host.healthy])
    first = run_daemon(host.params(), check_mode=True)
    assert "health" not in first["units"]["demo"], "check mode waits for nothing"
    run_daemon(host.params())
    params = host.params()
    params["units"][0]["health"] = status
    result = run_daemon(params)["units"]["demo"]
    assert result["action"] == "none" and result["health"] == "holder=m2"


def test_check_mode_reports_and_changes_nothing(host, systemd):
    check = run_daemon(host.params(), check_mode=True)
    assert check["changed"] is True and check["units"]["demo"]["action"] == "started" and check["files"][host.conf] == "created"
    assert not os.path.exists(host.conf) and not os.path.exists(host.state_dir) and systemd.calls() == []
    run_daemon(host.params())
    check = run_daemon(host.params(conf="a=2\n"), check_mode=True)
    assert check["units"]["demo"]["action"] == "restarted" and check["files"][host.conf] == "updated"
    assert systemd.unit("demo.service")["starts"] == 1 and open(host.conf).read() == "a=1\n"


def test_a_changed_file_restarts_now(host, systemd):
    run_daemon(host.params())
    result = run_daemon(host.params(conf="a=2\n"))
    assert result["units"]["demo"]["action"] == "restarted" and result["units"]["demo"]["reason"] == "its files changed in this run"
    assert systemd.unit("demo.service")["starts"] == 2
    assert run_daemon(host.params(conf="a=2\n"))["changed"] is False


def test_a_changed_input_restarts_though_no_managed_file_changed(host, systemd):
    run_daemon(host.params())
    with open(host.cert, "w") as handle:
        handle.write("cert two (reissued by the secrets role)")
    result = run_daemon(host.params())
    assert result["files"][host.conf] == "unchanged"
    assert result["units"]["demo"] == dict(action="restarted", reason="what it reads changed since its last restart by kubeha",
                                           active_before=True, steps=[], health="")
    assert run_daemon(host.params())["changed"] is False


def test_pending_restart_is_left_to_the_handler_and_survives_a_lost_handler(host, systemd):
    run_daemon(host.params())
    pending = run_daemon(host.params(conf="a=2\n", restart="pending"))
    assert pending["changed"] is True and pending["restart_pending"] == ["demo"] and pending["units"]["demo"]["action"] == "pending"
    assert systemd.unit("demo.service")["starts"] == 1, "pending means not restarted yet"
    # the handler never ran (the play failed): the next run still knows the unit runs old settings
    again = run_daemon(host.params(conf="a=2\n", restart="pending"))
    assert again["files"][host.conf] == "unchanged" and again["restart_pending"] == ["demo"]
    handler = run_daemon(dict(restart_pending=True, state_dir=host.state_dir))
    assert handler["changed"] is True and handler["restarted"] == ["demo"]
    assert systemd.unit("demo.service")["starts"] == 2
    assert run_daemon(dict(restart_pending=True, state_dir=host.state_dir))["changed"] is False
    assert run_daemon(host.params(conf="a=2\n", restart="pending"))["changed"] is False


def test_a_roll_restarts_only_the_units_it_names_and_the_others_stay_pending(host, systemd, tmp_path):
    """A master: the node role's first pass left the kubelet's restart pending, then the apiserver role left its own.
    The apiserver's roll restarts the apiserver only; the kubelet waits for its own (drained) turn."""
    systemd.add("other.service")
    other = dict(files=[dict(path=str(tmp_path / "other.conf"), content="b=1\n", mode="0644", restarts=["other"])],
                 units=[dict(name="other", health=dict(command=["true"]))], state_dir=host.state_dir)
    run_daemon(host.params())
    run_daemon(other)
    assert run_daemon(dict(other, files=[dict(other["files"][0], content="b=2\n")], restart="pending"))["restart_pending"] == ["other"]
    assert run_daemon(host.params(conf="a=2\n", restart="pending"))["restart_pending"] == ["demo"]
    mine = run_daemon(dict(restart_pending=True, restart_units=["demo"], state_dir=host.state_dir))
    assert mine["restarted"] == ["demo"] and systemd.unit("other.service")["starts"] == 1, "another role's unit was restarted"
    assert sorted(n for n in os.listdir(host.state_dir) if n.endswith(".pending.json")) == ["other.service.pending.json"]
    theirs = run_daemon(dict(restart_pending=True, restart_units=["other"], state_dir=host.state_dir))
    assert theirs["restarted"] == ["other"] and systemd.unit("other.service")["starts"] == 2


def test_a_file_changed_on_the_host_restarts_even_when_it_is_put_back_as_recorded(host, systemd):
    """The unit may have been restarted by hand or by a crash with the edited file: restarting is the safe side."""
    run_daemon(host.params())
    with open(host.conf, "w") as handle:
        handle.write("edited by hand\n")
    result = run_daemon(host.params(restart="pending"))
    assert result["files"][host.conf] == "updated" and result["restart_pending"] == ["demo"]
    assert run_daemon(dict(restart_pending=True, state_dir=host.state_dir))["restarted"] == ["demo"]
    assert run_daemon(host.params(restart="pending"))["changed"] is False


def test_an_unhealthy_restart_fails_with_the_journal_and_is_retried(host, systemd):
    run_daemon(host.params())
    os.unlink(host.healthy)
    with pytest.raises(DaemonError) as err:
        run_daemon(host.params(conf="a=2\n"))
    msg = str(err.value)
    assert "demo.service is not healthy 1 s after it was (re)started: command test -e" in msg
    assert "journal: fake journal" in msg and "run again (the restart is retried)" in msg
    assert err.value.result["files"][host.conf] == "updated"
    open(host.healthy, "w").close()
    retry = run_daemon(host.params(conf="a=2\n"))
    assert retry["units"]["demo"]["action"] == "restarted", "the record was not updated, so the restart happens again"


def test_a_unit_that_fails_to_start_says_so_with_its_journal(host, systemd):
    systemd.fail("demo.service")
    with pytest.raises(DaemonError) as err:
        run_daemon(host.params())
    assert "systemctl start demo.service failed (rc 1)" in str(err.value) and "journal of demo.service" in str(err.value)


def test_missing_inputs_fail_before_anything_is_written(host, systemd):
    os.unlink(host.cert)
    with pytest.raises(DaemonError) as err:
        run_daemon(host.params())
    assert "units[0] demo: missing on this host: %s; nothing was changed" % host.cert in str(err.value)
    assert not os.path.exists(host.conf) and systemd.calls() == []
    assert run_daemon(host.params(), check_mode=True)["changed"] is True, "check mode reports instead"


def test_refuse_if_present_fails_before_anything_is_written(host, systemd, tmp_path):
    other = tmp_path / "other-layout.yaml"
    refuse = [dict(path=str(other), msg="demo runs in the other layout here"), dict(path=str(tmp_path / "absent"), msg="not shown"),
              dict(path=host.cert, msg="so does its input")]
    assert run_daemon(host.params(refuse_if_present=refuse[1:2]))["changed"] is True, "nothing there: no refusal"
    os.unlink(host.conf)
    systemd.clear_calls()
    other.write_text("x")
    for check_mode in (True, False):
        with pytest.raises(DaemonError) as err:
            run_daemon(host.params(refuse_if_present=refuse), check_mode=check_mode)
        assert str(err.value) == ("%s exists on this host: demo runs in the other layout here; %s exists on this host: so does its input; "
                                  "nothing was changed" % (other, host.cert)), "every refusal, in one message"
    assert not os.path.exists(host.conf) and systemd.calls() == []


def test_as_is_units_are_never_started_but_restarted_where_they_run(host, systemd):
    params = host.params(unit=dict(state="as_is", enabled=False))
    first = run_daemon(params)
    assert first["units"]["demo"]["action"] == "recorded" and systemd.calls() == []
    assert run_daemon(host.params(conf="a=2\n", unit=dict(state="as_is", enabled=False)))["units"]["demo"]["action"] == "recorded"
    systemd.add("demo.service", active=True)  # podmaster started it on this master
    with open(host.cert, "w") as handle:
        handle.write("cert two")
    result = run_daemon(host.params(conf="a=2\n", unit=dict(state="as_is", enabled=False)))
    assert result["units"]["demo"]["action"] == "restarted" and ["try-restart", "demo.service"] in systemd.calls()


def test_stopped_and_masked(host, systemd):
    run_daemon(host.params())
    stopped = run_daemon(host.params(unit=dict(state="stopped", enabled=False)))
    assert stopped["units"]["demo"]["action"] == "stopped" and systemd.unit("demo.service")["active"] == "inactive"
    assert systemd.unit("demo.service")["file"] == "disabled"
    masked = run_daemon(host.params(unit=dict(masked=True)))
    assert masked["units"]["demo"]["steps"] == ["mask"] and systemd.unit("demo.service")["file"] == "masked"
    with pytest.raises(DaemonError, match="is masked; set masked: false to start it"):
        run_daemon(host.params())
    unmasked = run_daemon(host.params(unit=dict(masked=False)))
    assert unmasked["units"]["demo"]["action"] == "started" and unmasked["units"]["demo"]["steps"] == ["unmask", "enable"]


def test_a_unit_stopped_into_failure_is_reported_and_reset(host, systemd):
    """A stopped unit that ended failed (its process exited with an error on the way down) would stay in
    `systemctl --failed` even after its unit file is gone: the result says how it failed, then it is reset."""
    run_daemon(host.params())
    systemd.fail_on_stop("demo.service")
    check = run_daemon(host.params(unit=dict(state="stopped", enabled=False)), check_mode=True)
    assert check["units"]["demo"]["action"] == "stopped" and "reset_failed" not in check["units"]["demo"]
    stopped = run_daemon(host.params(unit=dict(state="stopped", enabled=False)))
    assert stopped["units"]["demo"]["action"] == "stopped" and stopped["units"]["demo"]["reset_failed"] == "exit-code"
    assert ["reset-failed", "demo.service"] in systemd.calls() and systemd.unit("demo.service")["active"] == "inactive"
    again = run_daemon(host.params(unit=dict(state="stopped", enabled=False)))
    assert again["changed"] is False and again["units"]["demo"]["action"] == "none"
    # one found failed already (it died before this run) is reset too, and that is a change
    state = systemd._load()
    state["units"]["demo.service"].update(active="failed", result="signal")
    systemd._save(state)
    found = run_daemon(host.params(unit=dict(state="stopped", enabled=False)), check_mode=True)
    assert found["changed"] is True and found["units"]["demo"] == dict(found["units"]["demo"], action="reset", reset_failed="signal")
    assert systemd.unit("demo.service")["active"] == "failed"
    reset = run_daemon(host.params(unit=dict(state="stopped", enabled=False)))
    assert reset["units"]["demo"]["action"] == "reset" and systemd.unit("demo.service")["active"] == "inactive"


def test_daemon_reload_only_when_systemd_asks(host, systemd):
    run_daemon(host.params())
    systemd.clear_calls()
    systemd.add("demo.service", active=True, enabled=True, reload=True)
    result = run_daemon(host.params())
    assert result["daemon_reloaded"] is True and systemd.calls()[0] == ["daemon-reload"]
    assert run_daemon(host.params())["daemon_reloaded"] is False


def test_unknown_units_and_unknown_restart_targets_are_refused(host, systemd):
    unknown = host.params(unit=dict(name="nope"))
    unknown["files"][0]["restarts"] = ["nope"]
    with pytest.raises(DaemonError, match=r"units\[0\] nope: systemd does not know nope.service; write its unit file"):
        run_daemon(unknown)
    params = host.params()
    params["files"][0]["restarts"] = ["other"]
    with pytest.raises(DaemonError, match=r"files\[0\] .*: restarts or reloads \['other'\], which is not in units \(demo\)"):
        run_daemon(params)


def test_static_pod_install_pending_restart_and_removal(tmp_path, systemd):
    staged, manifest = str(tmp_path / "stage" / "pod.yaml"), str(tmp_path / "manifests" / "pod.yaml")
    cert = tmp_path / "cert.pem"
    cert.write_text("one")
    os.makedirs(tmp_path / "manifests")

    def params(state="started"):
        return dict(files=[dict(path=staged, content="pod: {digest: '@@inputs_digest@@'}\n", mode="0600", digest_of=[str(cert)])],
                    units=[dict(name="pod", kind="static_pod", source=staged, manifest=manifest, state=state)],
                    restart="pending", state_dir=str(tmp_path / "state"))

    assert run_daemon(params())["units"]["pod"]["action"] == "started"
    assert open(manifest).read() == open(staged).read() and oct(os.stat(manifest).st_mode & 0o777) == "0o600"
    assert run_daemon(params())["changed"] is False
    cert.write_text("two")
    pending = run_daemon(params())
    assert pending["restart_pending"] == ["pod"] and open(manifest).read() != open(staged).read()
    assert run_daemon(dict(restart_pending=True, state_dir=str(tmp_path / "state")))["restarted"] == ["pod"]
    assert open(manifest).read() == open(staged).read()
    assert run_daemon(params(state="stopped"))["units"]["pod"]["action"] == "stopped" and not os.path.exists(manifest)


def test_a_static_pod_restart_waits_for_the_kubelet_to_replace_the_pod(tmp_path, systemd):
    """The old pod answers its health check until the kubelet replaces it: a roll that only asked for health would go on
    to the next host at once. With units[].process, the restart waits for a process of that program that started after
    the new manifest (a real process here, argv[0] set; one started before does not count), within health_timeout."""
    import subprocess  # pylint: disable=import-outside-toplevel
    import threading  # pylint: disable=import-outside-toplevel
    import time  # pylint: disable=import-outside-toplevel
    staged, manifest = str(tmp_path / "stage" / "pod.yaml"), str(tmp_path / "manifests" / "pod.yaml")
    os.makedirs(tmp_path / "manifests")
    program = "kubeha-test-pod-%d" % os.getpid()
    procs = []

    def params(version, **unit):
        return dict(files=[dict(path=staged, content="pod: %d\n" % version, mode="0600")],
                    units=[dict(dict(name="pod", kind="static_pod", source=staged, manifest=manifest, process=program, health_timeout=2),
                                **unit)],
                    restart="pending", state_dir=str(tmp_path / "state"))

    def start_pod():
        procs.append(subprocess.Popen([program, "30"], executable="/bin/sleep"))

    def in_the_past(proc):
        """Until the clock of start times (whole ticks) has moved on from the old pod's start: a pod started in the
        same tick as the new manifest counts as the new one."""
        with open("/proc/%d/stat" % proc.pid, encoding="ascii") as handle:
            started = int(handle.read().rsplit(")", 1)[1].split()[19]) / os.sysconf("SC_CLK_TCK")
        deadline = time.monotonic() + 5
        while _uptime() <= started + 0.02 and time.monotonic() < deadline:
            time.sleep(0.005)

    try:
        run_daemon(params(1))
        start_pod()  # the old pod, running from before the new manifest
        in_the_past(procs[-1])
        assert run_daemon(params(2))["restart_pending"] == ["pod"]
        with pytest.raises(DaemonError, match="static pod pod: no new %s process started within 2 s of its new manifest" % program):
            run_daemon(dict(restart_pending=True, state_dir=str(tmp_path / "state")))
        assert run_daemon(params(3))["restart_pending"] == ["pod"]
        timer = threading.Timer(0.8, start_pod)  # the kubelet replaces the pod a little later
        began = time.monotonic()
        timer.start()
        assert run_daemon(dict(restart_pending=True, state_dir=str(tmp_path / "state")))["restarted"] == ["pod"]
        assert time.monotonic() - began >= 0.8 and open(manifest).read() == "pod: 3\n"
        # the old pod's graceful stop (units[].stop_timeout) comes on top of health_timeout: replaced after 2.5 s, in time
        assert run_daemon(params(4, stop_timeout=1.5))["restart_pending"] == ["pod"]
        timer = threading.Timer(2.5, start_pod)
        timer.start()
        assert run_daemon(dict(restart_pending=True, state_dir=str(tmp_path / "state")))["restarted"] == ["pod"]
        assert run_daemon(params(5, stop_timeout=1.5))["restart_pending"] == ["pod"]
        with pytest.raises(DaemonError, match="static pod pod: no new %s process started within 3 s of its new manifest" % program):
            run_daemon(dict(restart_pending=True, state_dir=str(tmp_path / "state")))
    finally:
        for proc in procs:
            proc.kill()
            proc.wait()


def test_an_unhealthy_static_pod_fails_with_the_kubelets_lines_about_it(tmp_path, systemd, monkeypatch):
    """A static pod has no unit journal: the failure quotes the kubelet's journal lines that name the pod (its mirror
    pod kube-system/<name>-<node>), and no others."""
    staged, manifest = str(tmp_path / "stage" / "etcd.yaml"), str(tmp_path / "manifests" / "etcd.yaml")
    os.makedirs(tmp_path / "manifests")
    bin_dir = tmp_path / "kubelet-journal"
    bin_dir.mkdir()
    journalctl = bin_dir / "journalctl"
    journalctl.write_text('#!/bin/sh\necho "$*" > %s/args\n'
                          'echo \'I1206 "SyncLoop ADD" source="file" pods=["kube-system/etcd-m2"]\'\n'
                          'echo \'E1206 "Error syncing pod, skipping" err="pod is terminating" pod="kube-system/kube-apiserver-m2"\'\n'
                          'echo \'I1206 "Pod is terminated, but some containers are still running" pod="kube-system/etcd-m2"\'\n' % bin_dir)
    journalctl.chmod(0o755)
    monkeypatch.setenv("PATH", "%s:%s" % (bin_dir, os.environ["PATH"]))
    params = dict(files=[dict(path=staged, content="pod: 1\n", mode="0600")],
                  units=[dict(name="etcd", kind="static_pod", source=staged, manifest=manifest, health=dict(command=["false"]),
                              health_timeout=1)],
                  state_dir=str(tmp_path / "state"))
    with pytest.raises(DaemonError) as err:
        run_daemon(params)
    msg = str(err.value)
    assert msg.startswith("static pod etcd is not healthy 1 s after it was (re)started")
    assert "the kubelet's journal about it: I1206 \"SyncLoop ADD\" source=\"file\" pods=[\"kube-system/etcd-m2\"] | " \
           "I1206 \"Pod is terminated, but some containers are still running\" pod=\"kube-system/etcd-m2\"" in msg
    assert "kube-apiserver-m2" not in msg
    assert "-u kubelet.service" in (bin_dir / "args").read_text()


def test_restart_pending_takes_no_files(host):
    with pytest.raises(DaemonError, match="give it without files, units and packages"):
        run_daemon(dict(restart_pending=True, files=[dict(path="/x")], state_dir=host.state_dir))


def test_records_are_json_with_the_digest(host, systemd):
    run_daemon(host.params())
    with open(os.path.join(host.state_dir, "demo.service.json")) as handle:
        record = json.load(handle)
    # reload_digest: of the files naming it in reloads (none here)
    assert set(record) == {"digest", "reload_digest"} and len(record["digest"]) == 64 and record["reload_digest"] is None


@pytest.fixture
def apt(tmp_path, monkeypatch, systemd):
    """Fake dpkg-query and apt-get beside the fake systemctl: 'installed' is a file listing package names."""
    from ansible_collections.kubeha.cluster.plugins.module_utils._daemon import packages

    db = tmp_path / "dpkg-installed"
    db.write_text("")
    policy_seen = tmp_path / "policy-seen"
    monkeypatch.setattr(packages, "POLICY", str(tmp_path / "policy-rc.d"))
    scripts = {
        "dpkg-query": '#!/bin/sh\nshift 2\nfor p in "$@"; do if grep -qx "$p" %s; then echo "$p installed"; '
                      'else echo "dpkg-query: no packages found matching $p" >&2; fi; done\nexit 0\n' % db,
        "apt-get": '#!/bin/sh\n[ "$1" = update ] && exit 0\n[ -x %s ] && cp %s %s\nfor p in "$@"; do case $p in -*|install|*::*) ;; '
                   'nope) echo "E: Unable to locate package nope" >&2; exit 100 ;; *) echo "$p" >> %s ;; esac; done\n'
                   % (tmp_path / "policy-rc.d", tmp_path / "policy-rc.d", policy_seen, db),
    }
    for name, text in scripts.items():
        path = os.path.join(systemd.bin, name)
        with open(path, "w") as handle:
            handle.write(text)
        os.chmod(path, 0o755)
    return db, policy_seen, tmp_path / "policy-rc.d"


def test_missing_packages_are_installed_first_without_starting_services(host, systemd, apt):
    db, policy_seen, policy = apt
    check = run_daemon(host.params(packages=["haproxy"]), check_mode=True)
    assert check["packages_installed"] == ["haproxy"] and "haproxy" not in db.read_text()
    assert check["validation_skipped"] == "packages haproxy are not installed yet"
    first = run_daemon(host.params(packages=["haproxy"]))
    assert first["packages_installed"] == ["haproxy"] and db.read_text().split() == ["haproxy"]
    assert "exit 101" in policy_seen.read_text(), "a policy-rc.d forbids service starts during the install"
    assert not policy.exists(), "and is removed afterwards"
    again = run_daemon(host.params(packages=["haproxy"]))
    assert again["packages_installed"] == [] and again["changed"] is False


def test_a_package_apt_cannot_find_fails_with_apts_words(host, systemd, apt):
    with pytest.raises(DaemonError, match="apt-get install nope failed .*Unable to locate package nope"):
        run_daemon(host.params(packages=["nope"]))
    assert not os.path.exists(host.conf), "nothing was written"


def _with_ca(tmp_path, cfg="ca fine\n"):
    """A configuration whose validation opens a CA that the same call creates (as haproxy -c does)."""
    ca, conf = str(tmp_path / "ca.crt"), str(tmp_path / "lb.cfg")
    check = "sh -c 'test -s \"$0\" && grep -q fine \"$1\"' %s %%s" % ca
    return ca, conf, dict(state_dir=str(tmp_path / "state"), files=[
        dict(path=ca, content="CA PEM\n", mode="0644"),
        dict(path=conf, content=cfg, mode="0644", validate=check)])


def test_a_configuration_naming_a_file_the_call_creates_is_validated_with_it(tmp_path):
    ca, conf, params = _with_ca(tmp_path)
    result = run_daemon(params)
    assert result["files"] == {ca: "created", conf: "created"}
    assert open(ca).read() == "CA PEM\n" and open(conf).read() == "ca fine\n"
    assert run_daemon(params)["changed"] is False


def test_a_failing_validation_leaves_none_of_the_new_files(tmp_path):
    ca, conf, params = _with_ca(tmp_path, cfg="broken\n")
    with pytest.raises(DaemonError, match="validation .* failed .*nothing was written"):
        run_daemon(params)
    assert not os.path.exists(ca) and not os.path.exists(conf)


def test_check_mode_cannot_lay_them_out_and_says_so(tmp_path):
    ca, _conf, params = _with_ca(tmp_path)
    result = run_daemon(params, check_mode=True)
    assert result["changed"] is True and not os.path.exists(ca)
    assert "files this call creates are not on the host yet: %s" % ca in result["validation_skipped"]


def test_check_mode_still_fails_a_bad_file_when_nothing_it_may_need_is_missing(tmp_path):
    ca, _conf, params = _with_ca(tmp_path)
    run_daemon(params)
    params["files"][1]["content"] = "broken\n"
    with pytest.raises(DaemonError, match="validation .* failed"):
        run_daemon(params, check_mode=True)


def test_the_result_lists_what_was_written_removed_started_restarted_reloaded_and_stopped(host, systemd, tmp_path):
    """The lists callers read instead of the per-file and per-unit strings."""
    old = str(tmp_path / "etc" / "old.conf")
    systemd.add("proxy.service")
    proxy_conf = str(tmp_path / "etc" / "proxy.conf")

    def params(conf, proxy, **extra):
        p = host.params(conf=conf, **extra)
        p["files"] += [dict(path=proxy_conf, content=proxy, mode="0644", reloads=["proxy"]), dict(path=old, state="absent")]
        p["units"].append(dict(name="proxy", enabled=True, health_timeout=1))
        return p

    os.makedirs(os.path.dirname(old))
    open(old, "w").close()
    first = run_daemon(params("a=1\n", "p=1\n"))
    assert (first["written"], first["removed"]) == ([host.conf, proxy_conf], [old])
    assert (first["started"], first["restarted"], first["reloaded"], first["stopped"]) == (["demo", "proxy"], [], [], [])
    second = run_daemon(params("a=2\n", "p=2\n"))
    assert (second["written"], second["removed"], second["started"]) == ([host.conf, proxy_conf], [], [])
    assert (second["restarted"], second["reloaded"]) == (["demo"], ["proxy"]) and systemd.unit("proxy.service")["reloads"] == 1
    pending = run_daemon(params("a=3\n", "p=2\n", restart="pending"))
    assert pending["restarted"] == [] and pending["restart_pending"] == ["demo"]
    rolled = run_daemon(dict(restart_pending=True, state_dir=host.state_dir))
    assert (rolled["restarted"], rolled["reloaded"], rolled["written"]) == (["demo"], [], [])
    stop = run_daemon(params("a=3\n", "p=2\n", unit=dict(state="stopped")))
    assert stop["stopped"] == ["demo"] and stop["written"] == [] and run_daemon(params("a=3\n", "p=2\n"))["started"] == ["demo"]
