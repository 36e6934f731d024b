# Copyright (c) kubeha developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The fence for static pods: what stops a dead or frozen podmaster's copies before its lease can expire.

In host mode, systemd is the fence: the component units are bound to podmaster.service, and its
watchdog kills a frozen podmaster. A static pod has neither: a podmaster killed alone (SIGKILL, OOM)
or frozen leaves its copied manifests in the kubelet's directory, and the kubelet runs them on while
a peer takes the key when the lease expires.

So podmaster publishes its deadline (``last renewal + TTL - margin`` on the boot-time clock, which
every container on the host shares) to a small file before it activates anything under it, and a
second container of the same pod runs :class:`Fence`: when the published deadline passes and a
component still runs here, the fence removes its manifest and waits for (or kills) its processes,
exactly as podmaster's own step-down would. That happens ``grace`` after the deadline (a quarter of
the margin: a live podmaster steps down at the deadline itself), so still ``margin - grace`` seconds
before etcd can expire the lease, which leaves room for a stop (the stop timeout, then SIGKILL and a
check: at most half the margin). The old copy is gone before any peer starts one, and a peer may
release the component's Kubernetes Lease at once (``components[].lease``), as in host mode.

A live podmaster renews every ``renew_interval`` and moves the deadline on, so the fence never acts
while it is healthy; when both act (a podmaster that steps down at its deadline), the second finds
nothing left to do.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import threading

from .activator import ActivationError
from .elector import boottime

LOG = logging.getLogger("podmaster.fence")


def write_json(path, data, prefix):
    """Replace ``path`` atomically with ``data`` as JSON (0644: podmaster's files hold no secret)."""
    directory = os.path.dirname(path) or "."
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=prefix, dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            os.fchmod(handle.fileno(), 0o644)
            json.dump(data, handle, indent=1, sort_keys=True)
            handle.write("\n")
        os.rename(tmp, path)
    except OSError:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def write_deadline(path, deadline):
    """Publish ``{"deadline": <boot-time seconds or null>, "pid": ...}`` at ``path``."""
    write_json(path, {"deadline": deadline, "pid": os.getpid(), "clock": "boottime"}, ".podmaster-deadline-")


def read_deadline(path):
    """The published deadline, or None (no file, no lease, or a file being replaced)."""
    try:
        with open(path, encoding="utf-8") as handle:
            value = json.load(handle).get("deadline")
    except (OSError, ValueError, AttributeError):
        return None
    return float(value) if isinstance(value, (int, float)) else None


class Fence:
    """Stops ``components`` here once the deadline in ``path`` has passed (see the module's text)."""

    RECHECK = 1.0  # while the deadline stays passed, look again this often (a kubelet that restarted the pod)

    def __init__(self, components, path, grace=0.0, clock=boottime, poll_interval=0.1):  # pylint: disable=too-many-arguments,too-many-positional-arguments
        self.components = list(components)
        self.path = path
        self.grace = float(grace)  # act this long after the deadline: a live podmaster steps down at it itself
        self.clock = clock
        self.poll_interval = poll_interval
        self._checked = (None, 0.0)  # (deadline, when) of the last look at a passed deadline
        self.stopped = threading.Event()

    def check(self):
        """One look: stop what runs here if the deadline passed. Returns what was done (a list)."""
        deadline = read_deadline(self.path)
        now = self.clock()
        if deadline is None or now < deadline + self.grace:
            return []
        seen, when = self._checked
        if seen == deadline and now - when < self.RECHECK:
            return []
        self._checked = (deadline, now)
        running = [comp for comp in self.components if self._runs(comp)]
        if not running or read_deadline(self.path) != deadline:
            return []  # nothing here, or podmaster renewed meanwhile
        late = now - deadline
        done = []

        def stop(comp):
            try:
                change = comp.activator.deactivate()
            except ActivationError as exc:
                LOG.error("%s: podmaster's deadline passed %.1fs ago and it still runs here; stopping it failed: %s",
                          comp.name, late, exc)
                done.append("%s: stop failed: %s" % (comp.name, exc))
                return
            LOG.warning("%s: podmaster's deadline passed %.1fs ago (it is dead or frozen): %s", comp.name, late,
                        change or "already stopped")
            done.append("%s: %s" % (comp.name, change or "already stopped"))
        threads = [threading.Thread(target=stop, args=(comp,), daemon=True) for comp in running]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return sorted(done)

    @staticmethod
    def _runs(comp):
        try:
            return comp.activator.is_active()
        except ActivationError as exc:
            LOG.warning("%s: cannot tell whether it runs here: %s", comp.name, exc)
            return True  # deactivate() then says what fails

    def run(self):
        """Check every ``poll_interval`` until :attr:`stopped` is set."""
        LOG.info("fence: watching %s for %s", self.path, ", ".join(c.activator.describe() for c in self.components))
        while not self.stopped.wait(self.poll_interval):
            self.check()
