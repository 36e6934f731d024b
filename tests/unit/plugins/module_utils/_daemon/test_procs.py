"""_daemon.procs: the one /proc scanner (engine, pause, teardown, the etcd restore), on real processes."""

from __future__ import annotations

import os
import shutil
import subprocess
import time

from ansible_collections.kubeha.cluster.plugins.module_utils._daemon import procs


def _by_pid(pid):
    return [p for p in procs.processes() if p.pid == pid]


def test_a_running_process_reads_back_as_started(tmp_path):
    binary = tmp_path / "kubeha-tproc"
    shutil.copy(shutil.which("sleep"), binary)
    child = subprocess.Popen([str(binary), "300", "1"])
    try:
        # Popen returns once the child is forked, maybe before it has exec'd (its comm still the parent's): read
        # until it has, for at most 10 s
        deadline = time.monotonic() + 10
        while True:
            [seen] = _by_pid(child.pid)
            if seen.comm() == "kubeha-tproc" or time.monotonic() > deadline:
                break
            time.sleep(0.01)
        assert seen.comm() == "kubeha-tproc"
        assert seen.argv() == [str(binary), "300", "1"]
        assert seen.cmdline() == "%s 300 1" % binary
        assert seen.state() in ("R", "S")
        # the start time is on the clock of /proc/uptime, in ticks
        with open("/proc/uptime", encoding="ascii") as handle:
            uptime = float(handle.read().split()[0])
        assert 0 <= uptime - seen.start_ticks() / os.sysconf("SC_CLK_TCK") < 30
        assert procs.alive(child.pid)
    finally:
        child.kill()
        child.wait()
    # reaped: gone from the listing, and every read says so
    assert not _by_pid(child.pid) and not procs.alive(child.pid)
    gone = procs.Process(child.pid)
    assert (gone.comm(), gone.argv(), gone.cmdline(), gone.state(), gone.start_ticks()) == (None, None, None, None, None)


def test_a_zombie_is_not_alive():
    child = subprocess.Popen(["true"])
    deadline = time.monotonic() + 10
    while procs.Process(child.pid).state() != "Z":
        assert time.monotonic() < deadline, "the child never became a zombie"
        time.sleep(0.05)
    assert not procs.alive(child.pid) and _by_pid(child.pid)
    child.wait()


def test_a_tree_laid_out_like_proc(tmp_path):
    """The callers' tests pass such a tree; a kernel thread has an empty cmdline, entries that are not pids are skipped."""
    for pid, comm, cmdline in (("7", "kthreadd", b""), ("42", "etcd", b"/usr/bin/etcd\0--name\0m1\0")):
        (tmp_path / pid).mkdir()
        (tmp_path / pid / "comm").write_text(comm + "\n")
        (tmp_path / pid / "cmdline").write_bytes(cmdline)
    (tmp_path / "self").mkdir()
    found = {p.pid: (p.comm(), p.argv()) for p in procs.processes(str(tmp_path))}
    assert found == {7: ("kthreadd", []), 42: ("etcd", ["/usr/bin/etcd", "--name", "m1"])}
    assert not procs.alive(42, str(tmp_path))  # no stat file: nothing says it runs
    assert not procs.processes(str(tmp_path / "missing"))
