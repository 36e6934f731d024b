# Copyright (c) kubeha developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Pause what runs of a set of services on a host, and later start exactly that again.

``pause`` stops the systemd units of the list that are active and moves the static pod manifests of the list that
are there into a holding directory (the kubelet then stops those pods), records what it did in a state file, and
waits (bounded) until no process matching the given patterns is left. ``resume`` puts back what the state file
records, and nothing else: a service that did not run before the pause is not started by the resume. What a manager
(podmaster) starts itself is left to it when the manager was paused too, so that the resume never starts a second
active copy beside the one it elects.

The state file is written before each change, so a pause that stopped half way is completed by running it again,
and a resume run again after it finished has nothing to do.
"""

from __future__ import annotations

import json
import os
import re
import signal
import time

from . import procs, systemd
from .common import DaemonError, run

__all__ = ["matching_processes", "pause", "resume"]


def matching_processes(patterns, proc="/proc"):
    """``pid: command line`` of the processes whose command line matches one of ``patterns`` (regular expressions)."""
    found = {}
    compiled = [re.compile(p) for p in patterns or []]
    if not compiled:
        return found
    me = os.getpid()
    for process in procs.processes(proc):
        cmdline = None if process.pid == me else process.cmdline()
        if cmdline and any(c.search(cmdline) for c in compiled):
            found[process.pid] = cmdline
    return found


def _read(state_file):
    try:
        with open(state_file, "r", encoding="utf-8") as handle:
            value = json.load(handle)
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def _write(state_file, record):
    directory = os.path.dirname(state_file)
    if directory and not os.path.isdir(directory):
        os.makedirs(directory, mode=0o700)
    tmp = state_file + ".tmp"
    with open(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w", encoding="utf-8") as handle:
        json.dump(record, handle, sort_keys=True)
    os.rename(tmp, state_file)


def pause(units, manifests, hold_dir, state_file, processes=(), timeout=120, check_mode=False, proc="/proc", kill=False):
    """Stop the active ``units`` and hold the present ``manifests``; wait until no process matches ``processes``.

    With ``kill``, nothing stops gracefully: each unit's stop is asked for and its processes get SIGKILL at once, and
    so does every process matching ``processes`` while the pause waits (a held static pod's, too).

    Returns ``changed``, ``stopped`` (units), ``held`` (manifest paths) - what this call did - and ``paused`` (the
    whole record, with what an earlier, interrupted call did). Raises :class:`DaemonError` when a matching process
    is still there after ``timeout`` seconds, naming it.
    """
    record = _read(state_file) or {"units": [], "manifests": []}
    props = systemd.show(units) if units else {}
    stopped, held = [], []
    for name in units or []:
        if systemd.is_active(props[systemd.unit_name(name)]):
            stopped.append(name)
            if not check_mode:
                if name not in record["units"]:
                    record["units"].append(name)
                    _write(state_file, record)
                if kill:
                    # the stop job first, so that systemd does not start the killed unit again (Restart=)
                    systemd.systemctl("stop", "--no-block", systemd.unit_name(name), unit=name)
                    run(["systemctl", "kill", "--signal=SIGKILL", systemd.unit_name(name)], timeout=30)
                else:
                    systemd.systemctl("stop", systemd.unit_name(name), unit=name)
    for path in manifests or []:
        if os.path.exists(path):
            if not check_mode:
                if not os.path.isdir(hold_dir):
                    os.makedirs(hold_dir, mode=0o700)
                if path not in record["manifests"]:
                    record["manifests"].append(path)
                    _write(state_file, record)
                try:
                    os.replace(path, os.path.join(hold_dir, os.path.basename(path)))
                except FileNotFoundError:
                    # gone meanwhile: podmaster, stopping with its held manifest, takes its components' manifests
                    # away as it hands its leases over; nothing runs it, so nothing is held or put back
                    record["manifests"].remove(path)
                    _write(state_file, record)
                    continue
            held.append(path)
    result = {"changed": bool(stopped or held), "stopped": stopped, "held": held, "paused": record, "waited": 0.0}
    if check_mode:
        return result
    started = time.monotonic()
    while True:
        left = matching_processes(processes, proc)
        if not left:
            break
        if kill:
            for pid in left:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        if time.monotonic() - started >= timeout:
            raise DaemonError("still running %ds after the pause: %s; the kubelet (static pods) or systemd did not stop them: "
                              "look at `crictl ps` and `systemctl status` on this host"
                              % (timeout, "; ".join("pid %d %s" % (pid, cmd[:120]) for pid, cmd in sorted(left.items()))))
        time.sleep(0.25)
    result["waited"] = round(time.monotonic() - started, 2)
    return result


def resume(hold_dir, state_file, manager="", managed=(), check_mode=False):
    """Put back what :func:`pause` recorded: manifests moved back, units started; ``managed`` left to ``manager``.

    Returns ``changed``, ``started`` (units), ``restored`` (manifest paths) and ``left_to_manager`` (what the manager
    starts itself: its manifests are removed from the holding directory, their units are not started).
    """
    record = _read(state_file)
    if record is None:
        return {"changed": False, "started": [], "restored": [], "left_to_manager": []}

    def base(name):
        return re.sub(r"\.(yaml|service)$", "", os.path.basename(name))

    manager_paused = bool(manager) and any(base(n) == manager for n in record["units"] + record["manifests"])
    left = [n for n in record["manifests"] + record["units"] if manager_paused and base(n) in managed]
    restored = [p for p in record["manifests"] if p not in left]
    started = [u for u in record["units"] if u not in left]
    if check_mode:
        return {"changed": True, "started": started, "restored": restored, "left_to_manager": left}
    for path in record["manifests"]:
        held = os.path.join(hold_dir, os.path.basename(path))
        if not os.path.exists(held):
            continue  # put back by an earlier resume that stopped half way
        if path in left:
            os.unlink(held)
        else:
            os.replace(held, path)
    for name in started:
        systemd.systemctl("start", "--no-block", systemd.unit_name(name), unit=name)
    os.unlink(state_file)
    return {"changed": True, "started": started, "restored": restored, "left_to_manager": left}
