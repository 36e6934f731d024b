"""_daemon.teardown with a fake systemctl and real processes: a node taken out in order, check mode, a second run."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from ansible_collections.kubeha.cluster.plugins.module_utils._daemon.common import DaemonError
from ansible_collections.kubeha.cluster.plugins.module_utils._daemon.teardown import pod_pids, teardown

SHIM = "kubeha-tshim"


class Node:
    """A pod process in a kubepods cgroup tree, a shim (a sleep named like one), kubeconfig and key files."""

    def __init__(self, root):
        self.root = root
        self.cgroup_root = root / "cgroup"
        shim_binary = root / "bin" / SHIM
        shim_binary.parent.mkdir()
        shutil.copy(shutil.which("sleep"), shim_binary)
        self.pod = subprocess.Popen([shutil.which("sleep"), "300"])
        self.shim = subprocess.Popen([str(shim_binary), "300"])
        scope = self.cgroup_root / "pids" / "kubepods.slice" / "kubepods-besteffort.slice" / "cri-containerd-1.scope"
        scope.mkdir(parents=True)
        (scope / "cgroup.procs").write_text("%d\n" % self.pod.pid)
        (self.cgroup_root / "pids" / "system.slice").mkdir()
        (self.cgroup_root / "pids" / "system.slice" / "cgroup.procs").write_text("%d\n" % os.getpid())
        self.kubeconfig = root / "etc" / "kubernetes" / "kubelet.kubeconfig"
        self.kubeconfig.parent.mkdir(parents=True)
        self.kubeconfig.write_text("kubeconfig")
        self.keys = root / "srv" / "kubernetes"
        self.keys.mkdir(parents=True)
        (self.keys / "kubelet.key").write_text("key")

    def params(self, daemons, **extra):
        params = dict(daemons=daemons, files=[str(self.kubeconfig), str(self.keys), str(self.root / "etc" / "gone")],
                      cgroup_root=str(self.cgroup_root), shim_prefix=SHIM, kill_timeout=10)
        params.update(extra)
        return params

    def running(self, proc):
        return proc.poll() is None

    def stop(self):
        for proc in (self.pod, self.shim):
            if proc.poll() is None:
                proc.kill()
            proc.wait(timeout=10)


@pytest.fixture
def node(tmp_path):
    made = Node(tmp_path)
    yield made
    made.stop()


SYSTEMD_DAEMONS = [{"name": "kube-proxy"}, {"name": "kubelet"}, {"name": "containerd"}]


def test_pod_pids_reads_every_kubepods_cgroup_and_nothing_else(node):
    assert pod_pids(str(node.cgroup_root)) == {node.pod.pid}


def test_systemd_node_check_mode_then_run_then_nothing(node, systemd):
    for name in ("kube-proxy.service", "kubelet.service", "containerd.service"):
        systemd.add(name, active=True, enabled=True)

    preview = teardown(node.params(SYSTEMD_DAEMONS), check_mode=True)
    assert preview["changed"] is True
    assert preview["actions"] == [
        "stopped kube-proxy.service", "disabled kube-proxy.service", "stopped kubelet.service", "disabled kubelet.service",
        "killed 1 pod process(es)", "stopped containerd.service", "disabled containerd.service",
        "killed 1 containerd shim process(es)", "removed %s" % node.kubeconfig, "removed %s" % node.keys]
    assert preview["stopped"] == ["kube-proxy", "kubelet", "containerd"] and preview["killed"] == {"pods": 1, "shims": 1}
    assert systemd.calls() == [], "check mode stops nothing"
    assert node.running(node.pod) and node.running(node.shim) and node.kubeconfig.exists() and node.keys.exists()

    done = teardown(node.params(SYSTEMD_DAEMONS))
    assert done["actions"] == preview["actions"] and done["killed"] == {"pods": 1, "shims": 1}
    # the kubelet stops before its pods are killed (it would start them again), containerd after
    assert systemd.calls() == [["stop", "kube-proxy.service"], ["disable", "kube-proxy.service"],
                               ["stop", "kubelet.service"], ["disable", "kubelet.service"],
                               ["stop", "containerd.service"], ["disable", "containerd.service"]]
    assert node.pod.wait(timeout=10) == -9 and node.shim.wait(timeout=10) == -9
    assert not node.kubeconfig.exists() and not node.keys.exists()
    assert systemd.unit("kubelet.service")["active"] == "inactive" and systemd.unit("kubelet.service")["file"] == "disabled"

    systemd.clear_calls()
    again = teardown(node.params(SYSTEMD_DAEMONS))
    assert again["changed"] is False and again["actions"] == [] and systemd.calls() == []


def test_unit_that_does_not_exist_is_skipped(node, systemd):
    systemd.add("kubelet.service", active=True, enabled=True)
    done = teardown(node.params([{"name": "kube-proxy"}, {"name": "kubelet"}]))
    assert done["stopped"] == ["kubelet"] and ["stop", "kube-proxy.service"] not in systemd.calls()


def _ctl(root, pidfile):
    """A control script like the node role's: stop kills the pidfile's process and removes the pidfile."""
    ctl = root / "kubelet-ctl"
    ctl.write_text('#!/bin/sh\n[ "$1" = stop ] || exit 2\nkill -9 "$(cat %s)"\nrm -f %s\n' % (pidfile, pidfile))
    ctl.chmod(0o755)
    return str(ctl)


def test_monit_node_stops_monit_around_the_check_file(node, systemd, tmp_path):
    systemd.add("monit.service", active=True, enabled=True)
    systemd.add("kubelet.service", masked=True)
    daemon = subprocess.Popen([shutil.which("sleep"), "300"])
    pidfile = tmp_path / "kubelet.pid"
    pidfile.write_text("%d\n" % daemon.pid)
    check_file = tmp_path / "monit" / "conf.d" / "kubeha"
    check_file.parent.mkdir(parents=True)
    check_file.write_text("check process kubelet")
    daemons = [{"name": "kubelet", "supervisor": "monit", "pidfile": str(pidfile), "ctl": _ctl(tmp_path, pidfile)}]
    try:
        done = teardown(node.params(daemons, monit_check_file=str(check_file)))
        assert done["actions"][:3] == ["stopped monit.service while its checks of these daemons are removed",
                                       "removed %s" % check_file,
                                       "stopped kubelet (pid %d) with %s stop" % (daemon.pid, daemons[0]["ctl"])]
        assert done["actions"][-1] == "started monit.service again (without kubeha's checks)"
        assert daemon.wait(timeout=10) == -9 and not check_file.exists()
        assert systemd.calls() == [["stop", "monit.service"], ["start", "monit.service"]]
        systemd.clear_calls()
        again = teardown(node.params(daemons, monit_check_file=str(check_file)))
        assert again["changed"] is False and systemd.calls() == []
    finally:
        if daemon.poll() is None:
            daemon.kill()
            daemon.wait(timeout=10)


def test_a_stop_that_fails_says_what_was_done(node, systemd, tmp_path):
    systemd.add("kubelet.service", active=True, enabled=True)
    daemon = subprocess.Popen([shutil.which("sleep"), "300"])
    pidfile = tmp_path / "containerd.pid"
    pidfile.write_text("%d\n" % daemon.pid)
    broken = tmp_path / "containerd-ctl"
    broken.write_text("#!/bin/sh\necho cannot stop >&2\nexit 1\n")
    broken.chmod(0o755)
    daemons = [{"name": "kubelet"}, {"name": "containerd", "supervisor": "monit", "pidfile": str(pidfile), "ctl": str(broken)}]
    try:
        with pytest.raises(DaemonError) as failed:
            teardown(node.params(daemons))
        assert "stop failed for containerd (rc 1): cannot stop" in str(failed.value)
        assert "done before: stopped kubelet.service; disabled kubelet.service; killed 1 pod process(es)" in str(failed.value)
        assert node.kubeconfig.exists(), "nothing is removed after a failed stop"
    finally:
        daemon.kill()
        daemon.wait(timeout=10)


@pytest.mark.parametrize("path", ["/", "/etc", "etc/kubernetes/x", "/var/lib/../../etc"])
def test_a_top_directory_is_refused_before_anything(node, systemd, path):
    systemd.add("kubelet.service", active=True, enabled=True)
    with pytest.raises(DaemonError, match="files has %r: give absolute paths at least two levels deep" % path):
        teardown(node.params([{"name": "kubelet"}], files=[path]))
    assert systemd.calls() == [] and node.running(node.pod)


def test_pods_after_must_name_a_daemon(node, systemd):
    with pytest.raises(DaemonError, match="pods_after is 'kubelet', which is not one of the daemons"):
        teardown(node.params([{"name": "containerd"}]))
    assert systemd.calls() == []
