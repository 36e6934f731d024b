"""Activators on real files and a recording systemctl: what a holder and a loser leave on the host."""

from __future__ import annotations

import os
import stat

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
