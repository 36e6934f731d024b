"""A stand-in for systemctl and journalctl in unit tests (the test machines have no systemd as PID 1).

``FakeSystemd(tmp_path)`` writes ``systemctl`` and ``journalctl`` executables into a bin directory to
put first on PATH. They keep unit states in a JSON file and log every call, so tests can set up a
unit (loaded, active, enabled, masked, needing a daemon-reload), run code that calls systemctl, and
assert on what it asked for. Only what kubeha's daemon package uses is understood: show with
--property, start [--no-block], stop, restart, try-restart, enable, disable, mask, unmask,
reset-failed, daemon-reload, kill (recorded only). A unit listed in ``fail`` fails its start/restart with rc 1, like a unit whose
ExecStart dies; one listed in ``fail_stop`` ends failed when stopped. systemd-analyze stays the real one.
"""

from __future__ import annotations

import json
import os
import stat
import sys

SYSTEMCTL = r'''#!%(python)s
import json, os, sys
state_path, log_path = %(state)r, %(log)r
with open(state_path) as h:
    state = json.load(h)
args = sys.argv[1:]
with open(log_path, "a") as h:
    h.write(json.dumps(args) + "\n")
units = state.setdefault("units", {})
def unit(name):
    return units.setdefault(name, {"load": "not-found", "active": "inactive", "file": "", "reload": "no"})
def save():
    with open(state_path, "w") as h:
        json.dump(state, h)
verb = args[0]
names = [a for a in args[1:] if not a.startswith("-")]
if verb == "show":
    props = [a.split("=", 1)[1] for a in args if a.startswith("--property=")][0].split(",")
    blocks = []
    for name in names:
        u = units.get(name, {"load": "not-found", "active": "inactive", "file": "", "reload": "no"})
        values = {"Id": name, "LoadState": u["load"], "ActiveState": u["active"], "SubState": "running" if u["active"] == "active" else "dead",
                  "UnitFileState": u["file"], "NeedDaemonReload": u["reload"], "FragmentPath": u.get("fragment", ""),
                  "Result": u.get("result", "success")}
        blocks.append("\n".join("%%s=%%s" %% (p, values.get(p, "")) for p in props))
    print("\n\n".join(blocks))
    sys.exit(0)
if verb == "daemon-reload":
    for u in units.values():
        u["reload"] = "no"
    save(); sys.exit(0)
for name in names:
    u = unit(name)
    if verb in ("start", "restart", "try-restart") and name in state.get("fail", []):
        u["active"] = "failed"; save()
        sys.stderr.write("Job for %%s failed because the control process exited with error code.\n" %% name)
        sys.exit(1)
    if u["load"] == "not-found" and verb in ("start", "restart", "enable"):
        sys.stderr.write("Failed to %%s %%s: Unit %%s not found.\n" %% (verb, name, name)); sys.exit(5)
    if verb in ("start", "restart"):
        if u["file"] == "masked":
            sys.stderr.write("Failed to %%s %%s: Unit %%s is masked.\n" %% (verb, name, name)); sys.exit(1)
        u["active"] = "active"; u["starts"] = u.get("starts", 0) + 1
    elif verb == "try-restart":
        if u["active"] == "active":
            u["starts"] = u.get("starts", 0) + 1
    elif verb == "reload":
        if u["active"] != "active":
            sys.stderr.write("Job for %%s canceled.\n" %% name); sys.exit(1)
        u["reloads"] = u.get("reloads", 0) + 1
    elif verb == "stop":
        # a unit in fail_stop exits with an error on the way down: stopped, but failed (systemctl stop still succeeds)
        u["active"] = "failed" if name in state.get("fail_stop", []) else "inactive"
        u["result"] = "exit-code" if u["active"] == "failed" else "success"
    elif verb == "reset-failed":
        if u["active"] == "failed":
            u["active"] = "inactive"
        u["result"] = "success"
    elif verb == "kill":
        pass
    elif verb == "enable":
        u["file"] = "enabled"
    elif verb == "disable":
        u["file"] = "disabled"
    elif verb == "mask":
        u["file"] = "masked"
    elif verb == "unmask":
        u["file"] = "disabled"
    else:
        sys.stderr.write("fake systemctl: unknown verb %%s\n" %% verb); sys.exit(2)
save()
'''

JOURNALCTL = r'''#!/bin/sh
echo "fake journal: $*"
echo "ExecStart died: bad flag --nope"
'''


class FakeSystemd:
    """Fake systemctl/journalctl in ``<tmp>/bin``; ``env()`` gives the PATH to use."""

    def __init__(self, tmp_path):
        self.root = str(tmp_path)
        self.bin = os.path.join(self.root, "bin")
        self.state_path = os.path.join(self.root, "systemd-state.json")
        self.log_path = os.path.join(self.root, "systemd-calls.log")
        os.makedirs(self.bin, exist_ok=True)
        self._save({"units": {}, "fail": []})
        open(self.log_path, "w").close()
        self._write("systemctl", SYSTEMCTL % dict(python=sys.executable, state=self.state_path, log=self.log_path))
        self._write("journalctl", JOURNALCTL)

    def _write(self, name, text):
        path = os.path.join(self.bin, name)
        with open(path, "w") as handle:
            handle.write(text)
        os.chmod(path, os.stat(path).st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)

    def _load(self):
        with open(self.state_path) as handle:
            return json.load(handle)

    def _save(self, state):
        with open(self.state_path, "w") as handle:
            json.dump(state, handle)

    def path_env(self):
        return self.bin + os.pathsep + os.environ.get("PATH", "")

    def add(self, name, active=False, enabled=False, masked=False, reload=False, loaded=True):
        state = self._load()
        state["units"][name] = {"load": "loaded" if loaded else "not-found", "active": "active" if active else "inactive",
                                "file": "masked" if masked else ("enabled" if enabled else "disabled"),
                                "reload": "yes" if reload else "no"}
        self._save(state)

    def fail(self, *names):
        state = self._load()
        state["fail"] = list(names)
        self._save(state)

    def fail_on_stop(self, *names):
        state = self._load()
        state["fail_stop"] = list(names)
        self._save(state)

    def unit(self, name):
        return self._load()["units"].get(name)

    def calls(self, mutating_only=True):
        """The systemctl calls made so far (argv lists); without ``show`` unless mutating_only is False."""
        with open(self.log_path) as handle:
            calls = [json.loads(line) for line in handle if line.strip()]
        return [c for c in calls if not mutating_only or c[0] != "show"]

    def clear_calls(self):
        open(self.log_path, "w").close()
