# Copyright (c) kubeha developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Taking a node out for good: its daemons stopped and disabled, the pods they leave killed, its files removed.

The order matters and is fixed: the supervisor's watch goes first (monit would start what is stopped), then the
daemons in the caller's order; the pod processes are killed once the daemon that starts them (the kubelet) is
stopped, and the runtime's shims once every daemon is; the files go last. Each step looks before it acts, so a
second call (or one after a failure half way) does only what is left, and check mode reports what would be done.
"""

from __future__ import annotations

import os
import shutil
import signal
import time

from . import procs
from .common import DaemonError, run, tail
from .systemd import is_active, is_enabled, show, systemctl, unit_name

__all__ = ["pod_pids", "shim_pids", "teardown"]

POD_CGROUPS = ("kubepods.slice", "kubepods")


def _cgroup_procs(top):
    pids = set()
    for dirpath, _dirs, files in os.walk(top):
        if "cgroup.procs" not in files:
            continue
        try:
            with open(os.path.join(dirpath, "cgroup.procs"), encoding="ascii") as handle:
                pids.update(int(line) for line in handle if line.strip())
        except (OSError, ValueError):
            continue
    return pids


def pod_pids(cgroup_root="/sys/fs/cgroup"):
    """The processes in the kubelet's pod cgroups (either cgroup driver; every v1 hierarchy, or the v2 tree)."""
    pids = set()
    tops = [cgroup_root]
    try:
        tops += [os.path.join(cgroup_root, d) for d in sorted(os.listdir(cgroup_root))]
    except OSError:
        return pids
    for top in tops:
        for name in POD_CGROUPS:
            path = os.path.join(top, name)
            if os.path.isdir(path):
                pids |= _cgroup_procs(path)
    return pids


def shim_pids(proc="/proc", prefix="containerd-shim"):
    """containerd's shims (their command name starts with ``prefix``), which outlive a stopped containerd."""
    return {p.pid for p in procs.processes(proc) if (p.comm() or "").startswith(prefix)}


def _pidfile_pid(path, proc="/proc"):
    """The live process a pidfile names, or None."""
    try:
        with open(path, encoding="ascii") as handle:
            pid = int(handle.read().strip() or 0)
    except (OSError, ValueError):
        return None
    return pid if pid > 0 and procs.alive(pid, proc) else None


def _kill_all(find, what, timeout, proc="/proc"):
    """SIGKILL what ``find()`` returns until nothing is left (at most ``timeout`` s); the number killed."""
    killed = set()
    deadline = time.monotonic() + timeout
    while True:
        left = {pid for pid in find() if procs.alive(pid, proc)}
        if not left:
            return len(killed)
        if time.monotonic() >= deadline:
            raise DaemonError("%s: processes %s still run %.0f s after SIGKILL; look at them with ps -o pid,stat,args -p %s "
                              "(a process in state D waits on a device or a mount)"
                              % (what, ", ".join(str(p) for p in sorted(left)), timeout, ",".join(str(p) for p in sorted(left))),
                              killed=len(killed))
        for pid in left - killed:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        killed |= left
        time.sleep(0.2)


def _check_paths(paths):
    for path in paths:
        parts = [p for p in path.split("/") if p]
        if not path.startswith("/") or len(parts) < 2 or ".." in parts:
            raise DaemonError("files has %r: give absolute paths at least two levels deep (like /etc/kubernetes/kubelet.kubeconfig); "
                              "a top directory is never removed" % path)


def _remove(path):
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path)
    else:
        os.unlink(path)


class _Teardown:
    def __init__(self, params, check_mode):
        self.p = params
        self.check_mode = check_mode
        self.proc = params.get("proc", "/proc")
        self.actions = []
        self.stopped = []
        self.killed = {"pods": 0, "shims": 0}
        self.removed = []

    def act(self, text):
        self.actions.append(text)
        return not self.check_mode

    def result(self, **extra):
        out = dict(changed=bool(self.actions), actions=self.actions, stopped=self.stopped, killed=self.killed,
                   removed=self.removed)
        out.update(extra)
        return out

    def fail(self, exc):
        return DaemonError("%s (done before: %s)" % (exc, "; ".join(self.actions) or "nothing"), **self.result())

    def monit_unwatch(self):
        """Stop monit, drop kubeha's check file; True when monit ran (it starts again at the end)."""
        check_file = self.p.get("monit_check_file")
        if not check_file or not os.path.exists(check_file):
            return False
        unit = unit_name(self.p.get("monit_unit") or "monit")
        running = is_active(show([unit])[unit])
        if running and self.act("stopped %s while its checks of these daemons are removed" % unit):
            systemctl("stop", unit, unit=unit)
        if self.act("removed %s" % check_file):
            os.unlink(check_file)
        self.removed.append(check_file)
        return running

    def stop_daemon(self, daemon):
        name = daemon["name"]
        if daemon.get("supervisor", "systemd") == "monit":
            pid = _pidfile_pid(daemon["pidfile"], self.proc)
            if pid is None:
                return
            self.stopped.append(name)
            if self.act("stopped %s (pid %d) with %s stop" % (name, pid, daemon["ctl"])):
                rc, out, err = run([daemon["ctl"], "stop"], timeout=60)
                if rc != 0 or _pidfile_pid(daemon["pidfile"], self.proc):
                    raise DaemonError("%s stop failed for %s (rc %d): %s; the process is %d (pidfile %s)"
                                      % (daemon["ctl"], name, rc, tail(err or out) or "no output", pid, daemon["pidfile"]))
            return
        unit = unit_name(name)
        props = show([unit])[unit]
        if props.get("LoadState") == "not-found":
            return
        if is_active(props):
            self.stopped.append(name)
            if self.act("stopped %s" % unit):
                systemctl("stop", unit, unit=unit)
        if is_enabled(props) and props.get("UnitFileState") != "static" and self.act("disabled %s" % unit):
            systemctl("disable", unit, unit=unit)

    def kill(self, key, find, what):
        pids = {pid for pid in find() if procs.alive(pid, self.proc)}
        if not pids:
            return
        if self.act("killed %d %s process(es)" % (len(pids), what)):
            self.killed[key] = _kill_all(find, what, float(self.p.get("kill_timeout") or 30), self.proc)
        else:
            self.killed[key] = len(pids)

    def remove_files(self):
        reload_systemd = False
        for path in self.p.get("files") or []:
            if not os.path.lexists(path):
                continue
            if self.act("removed %s" % path):
                _remove(path)
            self.removed.append(path)
            reload_systemd = reload_systemd or path.startswith("/etc/systemd/")
        if reload_systemd and self.act("reloaded systemd's units"):
            systemctl("daemon-reload")
            names = [unit_name(d["name"]) for d in self.p.get("daemons") or [] if d.get("supervisor", "systemd") == "systemd"]
            run(["systemctl", "reset-failed"] + names, timeout=30)

    def run(self):
        _check_paths(self.p.get("files") or [])
        pods_after = self.p.get("pods_after") or "kubelet"
        daemons = self.p.get("daemons") or []
        if pods_after not in [d["name"] for d in daemons]:
            raise DaemonError("pods_after is %r, which is not one of the daemons (%s): name the daemon that starts the pods"
                              % (pods_after, ", ".join(d["name"] for d in daemons) or "none"))
        try:
            monit_ran = self.monit_unwatch()
            for daemon in daemons:
                self.stop_daemon(daemon)
                if daemon["name"] == pods_after:
                    self.kill("pods", lambda: pod_pids(self.p.get("cgroup_root") or "/sys/fs/cgroup"), "pod")
            self.kill("shims", lambda: shim_pids(self.proc, self.p.get("shim_prefix") or "containerd-shim"), "containerd shim")
            self.remove_files()
            monit = unit_name(self.p.get("monit_unit") or "monit")
            if monit_ran and self.act("started %s again (without kubeha's checks)" % monit):
                systemctl("start", monit, unit=monit)
        except (DaemonError, OSError) as exc:
            raise self.fail(exc) from None
        return self.result()


def teardown(params, check_mode=False):
    """Stop ``daemons`` (in order; pods killed after ``pods_after``), kill the shims, remove ``files``: see the module."""
    return _Teardown(params, check_mode).run()
