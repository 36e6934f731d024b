# Copyright (c) kubeha developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What "active" means for a component on this host.

Both activators are idempotent: ``activate()`` brings the component to the desired running state
(and up to date) and returns what it changed, or None; ``deactivate()`` stops it and returns what it
changed, or None; ``is_active()`` reports what is on the host now. Errors are raised as
:class:`ActivationError` with what failed and what was seen.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import time

MANIFEST_MODE = 0o600


class ActivationError(Exception):
    """Activating or deactivating a component failed; the message says what and why."""


def _fsync_dir(path):
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


class StaticPodActivator:
    """Active = ``dest`` (in the kubelet's manifest directory) is a copy of ``source``, mode 0600.

    The copy is written to a hidden temporary file in the destination directory (the kubelet ignores
    dot files), flushed, then renamed over ``dest``: the kubelet never reads half a manifest. While
    active, a changed source is copied again; deactivation removes ``dest``.

    With ``program`` (the component's executable name, e.g. ``kube-scheduler``), deactivation also
    waits until no such process runs on this host (``proc``: the host's PID namespace, so a podmaster
    pod needs ``hostPID``): the kubelet stops the pod within ``stop_timeout``, or podmaster sends
    SIGKILL itself and checks again for ``STOP_GRACE``. Only then is the stop reported, so a lease is
    never revoked, nor a peer let in, while the old copy still runs. A process that survives is an error.
    """

    mode = "static_pod"
    STOP_GRACE = 0.25  # a killed process is reaped by its container runtime

    def __init__(self, source, dest, program=None, stop_timeout=0.5, proc="/proc", clock=time.monotonic,
                 sleep=time.sleep, kill=os.kill):  # pylint: disable=too-many-arguments,too-many-positional-arguments
        self.source = source
        self.dest = dest
        self.program = program or None
        self.stop_timeout = float(stop_timeout)
        self.proc = proc
        self.clock = clock
        self.sleep = sleep
        self.kill = kill

    def describe(self):
        return "static pod %s (from %s%s)" % (self.dest, self.source,
                                              ", process %s" % self.program if self.program else "")

    def pids(self):
        """PIDs of live ``program`` processes on this host (zombies excluded; empty without ``program``)."""
        if not self.program:
            return []
        try:
            entries = os.listdir(self.proc)
        except OSError as exc:
            raise ActivationError("cannot list processes in %s: %s" % (self.proc, exc.strerror or exc)) from None
        found = []
        for entry in entries:
            if not entry.isdigit() or int(entry) == os.getpid():
                continue
            try:
                with open(os.path.join(self.proc, entry, "cmdline"), "rb") as handle:
                    argv0 = handle.read().split(b"\0", 1)[0].decode("utf-8", "replace")
                if os.path.basename(argv0) != self.program:
                    continue
                with open(os.path.join(self.proc, entry, "stat"), "rb") as handle:
                    state = handle.read().rsplit(b")", 1)[-1].split()[:1]
            except OSError:
                continue  # gone meanwhile
            if state != [b"Z"]:
                found.append(int(entry))
        return sorted(found)

    def _wait_gone(self, seconds):
        """PIDs still running after waiting up to ``seconds`` for them to go."""
        end = self.clock() + seconds
        while True:
            pids = self.pids()
            if not pids or self.clock() >= end:
                return pids
            self.sleep(0.02)

    def _read_source(self):
        try:
            with open(self.source, "rb") as handle:
                return handle.read()
        except OSError as exc:
            raise ActivationError("cannot read source manifest %s: %s; the control_plane role renders it there"
                                  % (self.source, exc.strerror or exc)) from None

    def _current(self):
        try:
            st = os.lstat(self.dest)
            with open(self.dest, "rb") as handle:
                return handle.read(), st.st_mode & 0o7777
        except FileNotFoundError:
            return None, None
        except OSError as exc:
            raise ActivationError("cannot read active manifest %s: %s" % (self.dest, exc.strerror or exc)) from None

    def is_active(self):
        return os.path.lexists(self.dest) or bool(self.pids())

    def activate(self):
        wanted = self._read_source()
        data, mode = self._current()
        if data == wanted and mode == MANIFEST_MODE:
            return None
        directory = os.path.dirname(self.dest) or "."
        try:
            fd, tmp = tempfile.mkstemp(prefix=".podmaster-", suffix=".tmp", dir=directory)
        except OSError as exc:
            raise ActivationError("cannot create a temporary file in %s: %s" % (directory, exc.strerror or exc)) from None
        try:
            with os.fdopen(fd, "wb") as handle:
                os.fchmod(handle.fileno(), MANIFEST_MODE)
                handle.write(wanted)
                handle.flush()
                os.fsync(handle.fileno())
            os.rename(tmp, self.dest)
        except OSError as exc:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise ActivationError("cannot write %s: %s" % (self.dest, exc.strerror or exc)) from None
        _fsync_dir(directory)
        return "created %s" % self.dest if data is None else "updated %s (source changed)" % self.dest

    def deactivate(self):
        removed = None
        try:
            os.unlink(self.dest)
            removed = "removed %s" % self.dest
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise ActivationError("cannot remove %s: %s" % (self.dest, exc.strerror or exc)) from None
        if removed:
            _fsync_dir(os.path.dirname(self.dest) or ".")
        stopped = self._stop_processes()
        if removed and stopped:
            return "%s; %s" % (removed, stopped)
        return removed or stopped

    def _stop_processes(self):
        """Wait for the kubelet to stop ``program`` here, else SIGKILL it; what was done, or None."""
        if not self.program:
            return None
        start = self.clock()
        before = self.pids()
        if not before:
            return None
        left = self._wait_gone(self.stop_timeout)
        if not left:
            took = self.clock() - start
            return "%s (pid %s) stopped by the kubelet in %.2fs" % (self.program, ",".join(map(str, before)), took)
        for pid in left:
            try:
                self.kill(pid, 9)
            except ProcessLookupError:
                pass
            except OSError as exc:
                raise ActivationError("cannot SIGKILL %s (pid %d), still running %gs after its manifest %s was removed: "
                                      "%s; podmaster needs root in the host's PID namespace (hostPID)"
                                      % (self.program, pid, self.stop_timeout, self.dest, exc.strerror or exc)) from None
        still = self._wait_gone(self.STOP_GRACE)
        if still:
            raise ActivationError("%s (pid %s) still runs %gs after SIGKILL (its manifest %s is removed): a process that "
                                  "cannot be killed (D state?) or one the kubelet started again"
                                  % (self.program, ",".join(map(str, still)), self.STOP_GRACE, self.dest))
        return "%s (pid %s) killed: the kubelet had not stopped it within %gs" % (
            self.program, ",".join(map(str, left)), self.stop_timeout)


class HostActivator:
    """Active = the component's systemd unit is running (``systemctl start``/``stop``).

    Every ``systemctl`` call is bounded (the daemon keeps each bound below the lock's margin), so a
    slow systemd (one busy with a daemon-reload) never holds up a step-down: ``call_timeout`` for
    queries, start and kill, ``stop_timeout`` (the unit's own TimeoutStopSec) plus a grace for stop.
    Start is queued without waiting (``--no-block``). A stop that takes longer is followed by SIGKILL
    and the unit's state is read again until it is not running, for ``stop_timeout``: a kill that
    did not take is an error, never reported as a stop.
    """

    mode = "host"
    RUNNING = ("active", "activating", "reloading", "deactivating", "refreshing")

    STOP_GRACE = 0.25  # systemd's own SIGKILL after TimeoutStopSec, and the answer, take a moment

    def __init__(self, unit, systemctl="systemctl", stop_timeout=0.5, call_timeout=None, clock=time.monotonic,
                 sleep=time.sleep):
        self.unit = unit
        self.systemctl = systemctl
        self.stop_timeout = float(stop_timeout)
        self.call_timeout = float(call_timeout) if call_timeout else self.stop_timeout
        self.clock = clock
        self.sleep = sleep

    def describe(self):
        return "systemd unit %s" % self.unit

    def _run(self, *args, timeout=None):
        cmd = [self.systemctl] + list(args)
        try:
            return subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                  check=False, timeout=timeout or self.call_timeout)
        except OSError as exc:
            raise ActivationError("cannot run %s: %s" % (" ".join(cmd), exc.strerror or exc)) from None

    def _run_bounded(self, *args, timeout=None):
        try:
            return self._run(*args, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise ActivationError("systemctl %s did not answer within %gs (systemd busy?)"
                                  % (" ".join(args), timeout or self.call_timeout)) from None

    def state(self, timeout=None):
        """systemd's ActiveState of the unit (``active``, ``activating``, ``inactive``, ``failed``...)."""
        out = self._run_bounded("is-active", self.unit, timeout=timeout).stdout
        return out.decode("utf-8", "replace").strip() or "unknown"

    def is_active(self):
        return self.state() in self.RUNNING

    def activate(self):
        try:
            if self.is_active():
                return None
        except ActivationError:
            pass  # systemd slow to answer: start anyway (a start of a running unit changes nothing)
        proc = self._run_bounded("start", "--no-block", self.unit)
        if proc.returncode != 0:
            raise ActivationError("systemctl start %s failed (exit %d): %s"
                                  % (self.unit, proc.returncode, proc.stdout.decode("utf-8", "replace").strip()))
        return "started %s" % self.unit

    def deactivate(self):
        # always stop: it also cancels a start job queued by activate() that has not run yet
        try:
            was = self.state(timeout=self.stop_timeout)
        except ActivationError:
            was = "not known (systemd busy)"  # a slow answer must not delay the stop itself
        try:
            proc = self._run("stop", self.unit, timeout=self.stop_timeout + self.STOP_GRACE)
        except subprocess.TimeoutExpired:
            return self._kill()
        if proc.returncode != 0:
            raise ActivationError("systemctl stop %s failed (exit %d): %s"
                                  % (self.unit, proc.returncode, proc.stdout.decode("utf-8", "replace").strip()))
        try:
            now = self.state(timeout=self.stop_timeout)
        except ActivationError:
            now = "unknown"
        note = self._clear_failed(now)
        if was in ("inactive", "failed", "unknown") and not note:
            return None
        return "stopped %s (was %s)%s" % (self.unit, was, note)

    def _clear_failed(self, state):
        """A unit that ended failed (its stop timed out, systemd killed it) stays in ``systemctl --failed`` and leaves
        the host 'degraded': clear it, as the daemon module does for the units it stops."""
        if state != "failed":
            return ""
        try:
            self._run_bounded("reset-failed", self.unit)
        except ActivationError:
            return "; it ended failed, and reset-failed did not answer"
        return "; it ended failed (cleared with reset-failed)"

    def _kill(self):
        """SIGKILL the unit's processes, then wait (bounded) until systemd reports it is not running."""
        self._run_bounded("kill", "--signal=SIGKILL", self.unit)
        end = self.clock() + self.stop_timeout
        while True:
            state = self.state(timeout=self.stop_timeout)
            if state not in self.RUNNING:
                note = self._clear_failed(state)
                return "killed %s (stop took longer than %gs; now %s)%s" % (self.unit, self.stop_timeout, state, note)
            if self.clock() >= end:
                raise ActivationError("%s is still %s %gs after SIGKILL (stop took longer than %gs): a process that "
                                      "cannot be killed (D state?); see journalctl -u %s"
                                      % (self.unit, state, self.stop_timeout, self.stop_timeout, self.unit))
            self.sleep(0.02)
