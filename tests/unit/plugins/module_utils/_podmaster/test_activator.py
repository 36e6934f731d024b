"""Activators on real files and a recording systemctl: what a holder and a loser leave on the host."""

from __future__ import annotations

import os
import stat
import time

import pytest

from ansible_collections.kubeha.cluster.plugins.module_utils._podmaster.activator import (
    ActivationError, HostActivator, StaticPodActivator)


@pytest.fixture
def dirs(tmp_path):
    src = tmp_path / "srv"
    dest = tmp_path / "manifests"
    src.mkdir()
    dest.mkdir()
    (src / "kube-scheduler.yaml").write_text("kind: Pod\n")
    return StaticPodActivator(str(src / "kube-scheduler.yaml"), str(dest / "kube-scheduler.yaml")), src, dest


def test_static_pod_copy_is_0600_updated_and_removed(dirs):
    act, src, dest = dirs
    assert not act.is_active()
    assert act.activate() == "created %s" % act.dest
    assert (dest / "kube-scheduler.yaml").read_text() == "kind: Pod\n"
    assert stat.S_IMODE(os.stat(act.dest).st_mode) == 0o600
    assert act.activate() is None  # nothing to do the second time
    (src / "kube-scheduler.yaml").write_text("kind: Pod\nspec: {}\n")
    assert act.activate() == "updated %s (source changed)" % act.dest
    assert (dest / "kube-scheduler.yaml").read_text() == "kind: Pod\nspec: {}\n"
    assert sorted(os.listdir(dest)) == ["kube-scheduler.yaml"]
    assert act.deactivate() == "removed %s" % act.dest
    assert act.deactivate() is None
    assert os.listdir(dest) == []


def test_static_pod_mode_is_restored(dirs):
    act, _src, _dest = dirs
    act.activate()
    os.chmod(act.dest, 0o644)
    assert act.activate() is not None
    assert stat.S_IMODE(os.stat(act.dest).st_mode) == 0o600


def test_static_pod_replaces_by_rename_not_in_place(dirs):
    act, src, _dest = dirs
    act.activate()
    before = os.stat(act.dest).st_ino
    (src / "kube-scheduler.yaml").write_text("kind: Pod\nv: 2\n")
    act.activate()
    assert os.stat(act.dest).st_ino != before  # a new file renamed over the old: readers never see half of it


def test_static_pod_missing_source_says_what_to_do(dirs):
    act, src, dest = dirs
    os.unlink(str(src / "kube-scheduler.yaml"))
    with pytest.raises(ActivationError, match="cannot read source manifest .*kube-scheduler.yaml.*control_plane role"):
        act.activate()
    assert os.listdir(dest) == []


def test_static_pod_failed_rename_leaves_no_temp_file(dirs, monkeypatch):
    act, _src, dest = dirs

    def refuse(_a, _b):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(os, "rename", refuse)
    with pytest.raises(ActivationError, match="cannot write .*kube-scheduler.yaml: No space left on device"):
        act.activate()
    assert os.listdir(dest) == []


def test_static_pod_destination_that_is_not_a_file(dirs):
    act, _src, _dest = dirs
    os.mkdir(act.dest)
    with pytest.raises(ActivationError, match="cannot read active manifest .*Is a directory"):
        act.activate()


@pytest.fixture
def systemctl(tmp_path):
    """A fake systemctl that records its arguments and keeps one unit's state in a file."""
    state = tmp_path / "state"
    calls = tmp_path / "calls"
    state.write_text("inactive")
    script = tmp_path / "systemctl"
    script.write_text("""#!/bin/sh
echo "$*" >> %(calls)s
case "$1" in
  is-active) s=$(cat %(state)s); echo "$s"; [ "$s" = active ] ;;
  start) echo active > %(state)s ;;
  stop) echo inactive > %(state)s ;;
  *) exit 3 ;;
esac
""" % {"calls": calls, "state": state})
    script.chmod(0o755)
    return str(script), state, calls


def test_host_activator_starts_without_blocking_and_always_stops(systemctl):
    path, state, calls = systemctl
    act = HostActivator("kube-scheduler.service", systemctl=path)
    assert act.deactivate() is None   # inactive: nothing reported...
    assert act.activate() == "started kube-scheduler.service"
    assert act.is_active()
    assert act.activate() is None
    assert act.deactivate() == "stopped kube-scheduler.service (was active)"
    assert state.read_text().strip() == "inactive"
    lines = calls.read_text().splitlines()
    # ...but stop is still sent: it cancels a start job queued by --no-block that has not run yet
    assert lines[:2] == ["is-active kube-scheduler.service", "stop kube-scheduler.service"]
    assert "start --no-block kube-scheduler.service" in lines


def test_host_activator_failure_names_the_unit(tmp_path):
    script = tmp_path / "systemctl"
    script.write_text("#!/bin/sh\n[ \"$1\" = is-active ] && { echo inactive; exit 3; }\necho 'Unit kube-x.service not found.'; exit 5\n")
    script.chmod(0o755)
    act = HostActivator("kube-x.service", systemctl=str(script))
    with pytest.raises(ActivationError, match=r"systemctl start kube-x.service failed \(exit 5\): Unit kube-x.service not found"):
        act.activate()


def _fake_systemctl(tmp_path, body):
    script = tmp_path / "systemctl"
    script.write_text("#!/bin/sh\necho \"$*\" >> %s\n%s\n" % (tmp_path / "calls", body))
    script.chmod(0o755)
    return str(script)


def test_host_activator_bounds_every_systemctl_call(tmp_path):
    # systemd busy (a daemon-reload in the way): is-active does not answer
    path = _fake_systemctl(tmp_path, "sleep 5")
    act = HostActivator("kube-scheduler.service", systemctl=path, stop_timeout=0.3, call_timeout=0.4)
    began = time.monotonic()
    # a slow is-active does not stop the start; a start that does not answer either is the error
    with pytest.raises(ActivationError, match=r"systemctl start --no-block kube-scheduler.service did not answer within 0.4s"):
        act.activate()
    assert time.monotonic() - began < 2


def test_host_activator_stop_that_hangs_is_killed_and_checked(tmp_path):
    state = tmp_path / "state"
    state.write_text("active")
    path = _fake_systemctl(tmp_path, """case "$1" in
  is-active) cat %(s)s ;;
  stop) sleep 5 ;;
  kill) echo failed > %(s)s ;;
esac""" % {"s": state})
    act = HostActivator("kube-scheduler.service", systemctl=path, stop_timeout=0.3, call_timeout=0.4)
    assert act.deactivate() == ("killed kube-scheduler.service (stop took longer than 0.3s; now failed); "
                                "it ended failed (cleared with reset-failed)")
    assert "kill --signal=SIGKILL kube-scheduler.service" in (tmp_path / "calls").read_text()
    assert (tmp_path / "calls").read_text().splitlines()[-1] == "reset-failed kube-scheduler.service"


def test_host_activator_clears_a_unit_whose_stop_ended_failed(tmp_path):
    # systemd's own stop timed out and killed the component: the unit is 'failed', the host 'degraded'
    state = tmp_path / "state"
    state.write_text("active")
    path = _fake_systemctl(tmp_path, """case "$1" in
  is-active) cat %(s)s ;;
  stop) echo failed > %(s)s ;;
  reset-failed) echo inactive > %(s)s ;;
esac""" % {"s": state})
    act = HostActivator("kube-scheduler.service", systemctl=path, stop_timeout=0.3, call_timeout=0.4)
    assert act.deactivate() == "stopped kube-scheduler.service (was active); it ended failed (cleared with reset-failed)"
    assert state.read_text().strip() == "inactive"


def test_host_activator_kill_that_does_not_take_is_an_error(tmp_path):
    # a process in D state: SIGKILL is sent, the unit stays up; that must never count as stopped
    path = _fake_systemctl(tmp_path, """case "$1" in
  is-active) echo deactivating ;;
  stop) sleep 5 ;;
esac""")
    act = HostActivator("kube-scheduler.service", systemctl=path, stop_timeout=0.3, call_timeout=0.4)
    with pytest.raises(ActivationError, match=r"kube-scheduler.service is still deactivating 0.3s after SIGKILL"):
        act.deactivate()


class FakeProc:
    """A /proc with processes that a fake kubelet stops after some clock time, and a recorded kill."""

    def __init__(self, root, clock):
        self.root = root
        self.clock = clock
        self.stop_at = {}  # pid -> clock time at which the "kubelet" stops it (None: never)
        self.killed = []
        root.mkdir()

    def spawn(self, pid, argv0, stop_at=None, state="S"):
        (self.root / str(pid)).mkdir()
        (self.root / str(pid) / "cmdline").write_bytes(argv0.encode() + b"\0--flag=x\0")
        (self.root / str(pid) / "stat").write_text("%d (%s) %s 1 2 3\n" % (pid, os.path.basename(argv0)[:15], state))
        self.stop_at[pid] = stop_at

    def gone(self, pid):
        for name in ("cmdline", "stat"):
            (self.root / str(pid) / name).unlink()
        (self.root / str(pid)).rmdir()
        del self.stop_at[pid]

    def sleep(self, seconds):
        self.clock[0] += seconds
        for pid, when in list(self.stop_at.items()):
            if when is not None and self.clock[0] >= when - 1e-9:
                self.gone(pid)

    def kill(self, pid, sig):
        self.killed.append((pid, sig))
        if pid in self.stop_at:
            self.gone(pid)


@pytest.fixture
def proc(tmp_path):
    clock = [100.0]
    fake = FakeProc(tmp_path / "proc", clock)
    src = tmp_path / "src"
    src.mkdir()
    (src / "kube-scheduler.yaml").write_text("kind: Pod\n")
    act = StaticPodActivator(str(src / "kube-scheduler.yaml"), str(tmp_path / "kube-scheduler.yaml"), program="kube-scheduler",
                             stop_timeout=0.5, proc=str(fake.root), clock=lambda: clock[0], sleep=fake.sleep, kill=fake.kill)
    return act, fake


def test_static_pod_stop_waits_for_the_kubelet_to_stop_the_process(proc):
    act, fake = proc
    act.activate()
    fake.spawn(40, "/usr/local/bin/kube-scheduler", stop_at=100.3)
    fake.spawn(41, "kube-controller-manager")  # another component: not ours to wait for
    fake.spawn(42, "kube-scheduler", state="Z")  # a zombie is gone already
    assert act.pids() == [40]
    assert act.is_active()
    assert act.deactivate() == "removed %s; kube-scheduler (pid 40) stopped by the kubelet in 0.30s" % act.dest
    assert fake.killed == [] and not act.is_active()
    assert act.deactivate() is None


def test_static_pod_process_the_kubelet_keeps_is_killed_then_checked(proc):
    act, fake = proc
    fake.spawn(40, "kube-scheduler")  # running without a manifest: a standby stops it too
    assert act.is_active()
    assert act.deactivate() == "kube-scheduler (pid 40) killed: the kubelet had not stopped it within 0.5s"
    assert fake.killed == [(40, 9)]


def test_static_pod_process_that_survives_sigkill_is_an_error(proc):
    act, fake = proc
    act.activate()
    fake.spawn(40, "kube-scheduler")
    fake.kill = lambda pid, sig: fake.killed.append((pid, sig))  # a process in D state
    act.kill = fake.kill
    with pytest.raises(ActivationError, match=r"kube-scheduler \(pid 40\) still runs 0.25s after SIGKILL \(its manifest "
                       r".*kube-scheduler.yaml is removed\)"):
        act.deactivate()
    assert not os.path.exists(act.dest)


def test_static_pod_without_program_does_not_look_at_processes(dirs):
    act = dirs[0]
    act.proc = "/nonexistent"
    assert act.pids() == [] and not act.is_active()
    act.activate()
    assert act.deactivate() == "removed %s" % act.dest
