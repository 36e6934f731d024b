"""The fence of static-pod mode: a dead or frozen podmaster's copies stop at its deadline, a live one's never."""

from __future__ import annotations

import json
import os

from ansible_collections.kubeha.cluster.plugins.module_utils._podmaster.activator import ActivationError
from ansible_collections.kubeha.cluster.plugins.module_utils._podmaster.elector import Component
from ansible_collections.kubeha.cluster.plugins.module_utils._podmaster.fence import Fence, read_deadline, write_deadline


class Recorder:
    """An activator whose state the test sets; deactivate() records its calls."""

    mode = "static_pod"

    def __init__(self, name, running=True, fail=""):
        self.name = name
        self.running = running
        self.fail = fail
        self.calls = 0

    def describe(self):
        return "static pod " + self.name

    def is_active(self):
        return self.running

    def deactivate(self):
        self.calls += 1
        if self.fail:
            raise ActivationError(self.fail)
        was, self.running = self.running, False
        return "removed " + self.name if was else None


def fence_for(tmp_path, *activators):
    clock = [50.0]
    path = str(tmp_path / "run" / "podmaster-deadline.json")
    comps = [Component(a.name, "/k/" + a.name, a) for a in activators]
    return Fence(comps, path, clock=lambda: clock[0]), path, clock


def test_deadline_file_round_trip(tmp_path):
    path = str(tmp_path / "run" / "d.json")
    assert read_deadline(path) is None
    write_deadline(path, 12.5)
    assert read_deadline(path) == 12.5
    assert json.loads(open(path, encoding="utf-8").read())["pid"] == os.getpid()
    assert oct(os.stat(path).st_mode & 0o777) == "0o644"
    write_deadline(path, None)
    assert read_deadline(path) is None
    assert os.listdir(os.path.dirname(path)) == ["d.json"]  # no temporary file left


def test_fence_does_nothing_while_the_deadline_is_ahead(tmp_path):
    sched = Recorder("kube-scheduler")
    fence, path, clock = fence_for(tmp_path, sched)
    assert fence.check() == []  # no file yet: podmaster has not started, or holds no lease
    write_deadline(path, 52.0)
    clock[0] = 51.9
    assert fence.check() == []
    assert sched.calls == 0 and sched.running


def test_fence_stops_what_runs_once_the_deadline_passed(tmp_path):
    sched, ctrl = Recorder("kube-scheduler"), Recorder("kube-controller-manager")
    fence, path, clock = fence_for(tmp_path, sched, ctrl)
    write_deadline(path, 52.0)
    clock[0] = 52.05
    assert fence.check() == ["kube-controller-manager: removed kube-controller-manager", "kube-scheduler: removed kube-scheduler"]
    assert not sched.running and not ctrl.running
    assert fence.check() == []  # the same passed deadline: looked at again only after RECHECK
    sched.running = True  # the kubelet ran it again (a copy written back by hand)
    clock[0] += Fence.RECHECK
    assert fence.check() == ["kube-scheduler: removed kube-scheduler"]


def test_fence_gives_a_live_podmaster_its_grace_to_step_down_itself(tmp_path):
    sched = Recorder("kube-scheduler")
    fence, path, clock = fence_for(tmp_path, sched)
    fence.grace = 0.5
    write_deadline(path, 52.0)
    clock[0] = 52.4
    assert fence.check() == [] and sched.running
    clock[0] = 52.5
    assert fence.check() == ["kube-scheduler: removed kube-scheduler"]


def test_fence_leaves_a_stepped_down_podmaster_alone(tmp_path):
    sched = Recorder("kube-scheduler", running=False)
    fence, path, clock = fence_for(tmp_path, sched)
    write_deadline(path, 52.0)
    clock[0] = 60.0
    assert fence.check() == [] and sched.calls == 0


def test_fence_reports_a_stop_that_failed(tmp_path):
    sched = Recorder("kube-scheduler", fail="kube-scheduler (pid 7) still runs 0.25s after SIGKILL")
    fence, path, clock = fence_for(tmp_path, sched)
    write_deadline(path, 52.0)
    clock[0] = 53.0
    assert fence.check() == ["kube-scheduler: stop failed: kube-scheduler (pid 7) still runs 0.25s after SIGKILL"]
