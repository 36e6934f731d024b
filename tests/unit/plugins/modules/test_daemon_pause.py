"""kubeha.cluster.daemon_pause as a module process: what ran is paused and resumed, nothing else; the wait is bounded."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

import pytest

from support.etcd_cluster import run_module
from support.fake_systemd import FakeSystemd


@pytest.fixture
def systemd(tmp_path, monkeypatch):
    fake = FakeSystemd(tmp_path / "systemd")
    monkeypatch.setenv("PATH", fake.path_env())
    fake.add("kube-apiserver.service", active=True, enabled=True)
    fake.add("podmaster.service", active=True, enabled=True)
    fake.add("kube-scheduler.service", active=True)
    fake.add("kube-controller-manager.service", active=False)
    return fake


def base(tmp_path, **extra):
    manifests = tmp_path / "manifests"
    manifests.mkdir(exist_ok=True)
    args = dict(units=["podmaster", "kube-scheduler", "kube-controller-manager", "kube-apiserver", "nothing-here"],
                manifests=[str(manifests / "kube-apiserver.yaml"), str(manifests / "kube-scheduler.yaml")],
                hold_dir=str(tmp_path / "held"), state_file=str(tmp_path / "state" / "paused.json"))
    args.update(extra)
    return args


def test_pause_and_resume_what_ran_three_ways(tmp_path, systemd):
    (tmp_path / "manifests").mkdir()
    (tmp_path / "manifests" / "kube-apiserver.yaml").write_text("apiserver pod\n")
    # check mode: reported, nothing stopped or moved
    check = run_module("daemon_pause", dict(base(tmp_path), state="paused"), check_mode=True)
    assert check["changed"] and check["stopped"] == ["podmaster", "kube-scheduler", "kube-apiserver"]
    assert check["held"] == [str(tmp_path / "manifests" / "kube-apiserver.yaml")] and systemd.calls() == []
    # the pause: the active units stopped, the present manifest held, the record 0600
    paused = run_module("daemon_pause", dict(base(tmp_path), state="paused"))
    assert paused["changed"] and paused["stopped"] == check["stopped"] and paused["held"] == check["held"]
    assert systemd.unit("kube-apiserver.service")["active"] == "inactive"
    assert not (tmp_path / "manifests" / "kube-apiserver.yaml").exists()
    assert (tmp_path / "held" / "kube-apiserver.yaml").read_text() == "apiserver pod\n"
    assert oct(os.stat(tmp_path / "state" / "paused.json").st_mode & 0o777) == "0o600"
    again = run_module("daemon_pause", dict(base(tmp_path), state="paused"))
    assert again["changed"] is False and again["paused"]["units"] == paused["stopped"]
    # the resume: back exactly what ran; the scheduler is podmaster's to start again
    systemd.clear_calls()
    resumed = run_module("daemon_pause", dict(state="resumed", hold_dir=str(tmp_path / "held"), state_file=str(tmp_path / "state" / "paused.json"),
                                              manager="podmaster", managed=["kube-scheduler", "kube-controller-manager"]))
    assert resumed["changed"] and resumed["started"] == ["podmaster", "kube-apiserver"] and resumed["left_to_manager"] == ["kube-scheduler"]
    assert (tmp_path / "manifests" / "kube-apiserver.yaml").read_text() == "apiserver pod\n"
    assert systemd.unit("kube-scheduler.service")["active"] == "inactive"
    assert systemd.unit("kube-controller-manager.service")["active"] == "inactive"
    assert systemd.unit("podmaster.service")["active"] == "active"
    assert not (tmp_path / "state" / "paused.json").exists()
    second = run_module("daemon_pause", dict(state="resumed", hold_dir=str(tmp_path / "held"), state_file=str(tmp_path / "state" / "paused.json")))
    assert second["changed"] is False


def test_without_the_manager_paused_its_components_come_back_themselves(tmp_path, systemd):
    systemd.add("podmaster.service", active=False)
    run_module("daemon_pause", dict(base(tmp_path), state="paused"))
    resumed = run_module("daemon_pause", dict(state="resumed", hold_dir=str(tmp_path / "held"), state_file=str(tmp_path / "state" / "paused.json"),
                                              manager="podmaster", managed=["kube-scheduler", "kube-controller-manager"]))
    assert resumed["started"] == ["kube-scheduler", "kube-apiserver"] and resumed["left_to_manager"] == []


def test_the_wait_for_the_processes_is_bounded_and_names_what_is_left(tmp_path, systemd):
    marker = "kubeha-pause-test-%d" % os.getpid()
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", marker])  # pylint: disable=consider-using-with
    try:
        failed = run_module("daemon_pause", dict(base(tmp_path), state="paused", processes=[marker], timeout=1))
        assert failed["failed"] and "still running 1s after the pause: pid %d" % proc.pid in failed["msg"]
        # killed 1.5 s from now: the module must have found it running (at least one 0.25 s poll) and come back only
        # after the kill (its own start-up under load is not counted against it, as a fixed waited figure would)
        killed_at = []
        timer = threading.Timer(1.5, lambda: (killed_at.append(time.monotonic()), proc.kill()))
        timer.start()
        waited = run_module("daemon_pause", dict(base(tmp_path), state="paused", processes=[marker], timeout=20))
        returned_at = time.monotonic()
        timer.join()
        assert not waited.get("failed") and waited["waited"] >= 0.25
        assert killed_at and returned_at >= killed_at[0]
    finally:
        proc.kill()
        proc.wait()


def test_kill_stops_without_grace_what_a_graceful_stop_would_wait_for(tmp_path, systemd):
    marker = "kubeha-pause-kill-%d" % os.getpid()
    # a process that ignores SIGTERM, like an apiserver finishing requests that hang on an etcd without quorum
    deaf = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(60)"
    proc = subprocess.Popen([sys.executable, "-c", deaf, marker])  # pylint: disable=consider-using-with
    try:
        paused = run_module("daemon_pause", dict(base(tmp_path), state="paused", processes=[marker], timeout=10, kill=True))
        assert not paused.get("failed") and paused["stopped"] == ["podmaster", "kube-scheduler", "kube-apiserver"]
        assert proc.wait(timeout=5) == -9 and paused["waited"] < 5
        # each unit's stop is asked for without waiting, then its processes get SIGKILL
        assert systemd.calls()[-2:] == [["stop", "--no-block", "kube-apiserver.service"], ["kill", "--signal=SIGKILL", "kube-apiserver.service"]]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_a_manifest_that_goes_while_the_pause_holds_the_others_is_not_held(tmp_path, systemd, monkeypatch):
    """Static-pod mode: podmaster's held manifest stops it, and as it hands its leases over it takes the controller-manager's
    manifest away - between the pause's look and its move (seen in Molecule static_pod). Nothing runs that one: not held."""
    from ansible_collections.kubeha.cluster.plugins.module_utils._daemon import pause as pause_mod

    manifests = tmp_path / "manifests"
    manifests.mkdir()
    for name in ("podmaster", "kube-controller-manager", "kube-apiserver"):
        (manifests / ("%s.yaml" % name)).write_text(name + " pod\n")
    real_replace = os.replace

    def replace(src, dst):
        if src.endswith("kube-controller-manager.yaml"):
            os.unlink(src)   # podmaster's hand-over, between the pause's look and its move
        return real_replace(src, dst)
    monkeypatch.setattr(pause_mod.os, "replace", replace)
    paths = [str(manifests / ("%s.yaml" % name)) for name in ("podmaster", "kube-controller-manager", "kube-apiserver")]
    state = tmp_path / "state" / "paused.json"
    state.parent.mkdir()
    done = pause_mod.pause([], paths, str(tmp_path / "held"), str(state), timeout=1)
    assert done["held"] == [paths[0], paths[2]] and done["paused"]["manifests"] == [paths[0], paths[2]]
    assert sorted(os.listdir(tmp_path / "held")) == ["kube-apiserver.yaml", "podmaster.yaml"]
