# Copyright (c) kubeha developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""One call for a daemon: files, then systemd units or static pods, restarts and health.

Restarts are decided from content, never from "a task reported changed": each unit's record under
``state_dir`` holds the digest of every file it reads (the managed files naming it in ``restarts``
and its watched ``inputs``, such as certificates) as of its last (re)start by kubeha. A running unit
whose digest differs is restarted, whether its files changed in this run or in an earlier run whose
restart never happened. With ``restart: pending`` the restart is left to a later call with
``restart_pending: true`` (a throttled handler), so masters or members restart one at a time.
"""

from __future__ import annotations


import hashlib
import json
import os
import tempfile
import time

from . import files as _files
from . import health as _health
from . import packages as _packages
from . import procs
from . import systemd as _systemd
from .common import DaemonError, sha256_file

SYSTEMD_DIRS = ("/etc/systemd/", "/run/systemd/", "/usr/lib/systemd/", "/lib/systemd/")
UNIT_KINDS = ("systemd", "static_pod")
UNIT_STATES = ("started", "stopped", "as_is")
RESTART_MODES = ("now", "pending")


class Unit:
    """One entry of ``units``."""

    def __init__(self, index, raw, defaults):
        self.name = raw.get("name") or ""
        self.where = "units[%d] %s" % (index, self.name or "(no name)")
        if not self.name or "/" in self.name:
            raise DaemonError("%s: name must be a unit or pod name without '/'" % self.where)
        self.kind = raw.get("kind") or "systemd"
        self.state = raw.get("state") or "started"
        self.restart = raw.get("restart") or defaults["restart"]
        for value, allowed, option in ((self.kind, UNIT_KINDS, "kind"), (self.state, UNIT_STATES, "state"), (self.restart, RESTART_MODES, "restart")):
            if value not in allowed:
                raise DaemonError("%s: %s is '%s'; use one of %s" % (self.where, option, value, ", ".join(allowed)))
        self.enabled = raw.get("enabled")
        self.masked = raw.get("masked")
        self.no_block = bool(raw.get("no_block"))
        self.inputs = list(raw.get("inputs") or [])
        self.health = raw.get("health") or None
        self.health_timeout = float(raw.get("health_timeout") or defaults["health_timeout"])
        self.manifest = raw.get("manifest") or ""
        self.source = raw.get("source") or ""
        self.process = raw.get("process") or ""
        self.stop_timeout = float(raw.get("stop_timeout") or 0)
        if self.health:
            _health.check_spec(self.health, self.where)
        if self.kind == "static_pod":
            if not (os.path.isabs(self.manifest) and os.path.isabs(self.source)):
                raise DaemonError("%s: a static_pod needs absolute manifest (in the kubelet's manifest directory) and source (the staged copy)" % self.where)
            if self.state == "as_is" or self.enabled is not None or self.masked is not None or self.no_block:
                raise DaemonError("%s: state as_is, enabled, masked and no_block are for systemd units" % self.where)
        self.key = ("pod-" if self.kind == "static_pod" else "") + (self.name if self.kind == "static_pod" else _systemd.unit_name(self.name))

    def spec(self):
        """What a later restart_pending call needs to restart this unit and wait for it."""
        return dict(name=self.name, kind=self.kind, state=self.state, manifest=self.manifest, source=self.source,
                    process=self.process, stop_timeout=self.stop_timeout, health=None if self.no_block else self.health,
                    health_timeout=self.health_timeout)


class Records:
    """The restart records of one host: <key>.json (as of the last restart) and <key>.pending.json."""

    def __init__(self, state_dir, check_mode):
        self.dir = state_dir
        self.check_mode = check_mode

    def _path(self, key, pending=False):
        return os.path.join(self.dir, key + (".pending.json" if pending else ".json"))

    def read(self, key, pending=False):
        try:
            with open(self._path(key, pending), "r") as handle:
                return json.load(handle)
        except (IOError, OSError, ValueError):
            return None

    def write(self, key, record, pending=False):
        if self.check_mode:
            return
        if not os.path.isdir(self.dir):
            os.makedirs(self.dir, 0o700)
        fd, tmp = tempfile.mkstemp(dir=self.dir, prefix="." + key + ".")
        with os.fdopen(fd, "w") as handle:
            json.dump(record, handle, sort_keys=True)
        os.replace(tmp, self._path(key, pending))

    def drop_pending(self, key):
        if not self.check_mode and os.path.exists(self._path(key, True)):
            os.unlink(self._path(key, True))

    def pending(self):
        out = []
        if not os.path.isdir(self.dir):
            return out
        for name in sorted(os.listdir(self.dir)):
            if name.endswith(".pending.json"):
                record = self.read(name[:-len(".pending.json")], pending=True)
                if record:
                    out.append((name[:-len(".pending.json")], record))
        return sorted(out, key=lambda kr: kr[1].get("order", 0))


def unit_digest(unit, items):
    """Digest of what a unit reads: the desired content of managed files naming it, the current content of its inputs."""
    sums = {}
    for item in items:
        if item.state == "file" and unit.name in item.restarts:
            sums[item.path] = item.sha256
    for path in unit.inputs:
        sums.setdefault(path, sha256_file(path) or "missing")
    return hashlib.sha256(json.dumps(sorted(sums.items())).encode("utf-8")).hexdigest()


def reload_digest(unit, items):
    """Digest of the managed files naming the unit in ``reloads`` (None when none does)."""
    sums = dict((i.path, i.sha256) for i in items if i.state == "file" and unit.name in i.reloads)
    return hashlib.sha256(json.dumps(sorted(sums.items())).encode("utf-8")).hexdigest() if sums else None


def managed(items, units, state_dir):
    """What this call keeps on the host, as kubeha.cluster.converged_info checks it later: each file's
    state, content digest and attributes, the content of each unit's inputs, each unit's desired state and
    health check."""
    files = {}
    for item in items:
        entry = dict(state=item.state)
        if item.state != "absent":
            entry.update(mode="%04o" % item.mode, owner=item.owner, group=item.group)
        if item.state == "file":
            entry["sha256"] = item.sha256
        files[item.path] = entry
    # what a unit reads that another task keeps (certificates, a release's binary): its content as of now, so that a
    # later change (a replaced binary, a certificate edited by hand) is drift; a file the call keeps wins
    for unit in units:
        for path in unit.inputs:
            digest = sha256_file(path)
            if path not in files and digest is not None:
                files[path] = dict(state="file", sha256=digest)
    out_units = {}
    for unit in units:
        entry = dict(kind=unit.kind, state=unit.state, health=unit.health, health_timeout=unit.health_timeout)
        if unit.kind == "static_pod":
            entry.update(manifest=unit.manifest, source=unit.source)
        else:
            entry.update(enabled=unit.enabled, masked=unit.masked)
        out_units[unit.key] = dict(entry, name=unit.name)
    return dict(files=files, units=out_units, state_dirs=[state_dir])


def _wait_healthy(spec_health, timeout, label, journal_unit, static_pod=None):
    if not spec_health:
        return
    ok, seen, attempts = _health.wait(spec_health, timeout)
    if not ok:
        msg = "%s is not healthy %d s after it was (re)started: %s answered '%s' (%d attempts)" % (
            label, timeout, _health.describe(spec_health), seen, attempts)
        if journal_unit:
            msg += "; journal: %s" % _systemd.journal(journal_unit)
        if static_pod:
            msg += "; the kubelet's journal about it: %s" % _systemd.kubelet_lines(static_pod)
        raise DaemonError(msg + "; fix the cause above and run again (the restart is retried)")
    return seen


def _uptime():
    """Seconds since boot, on the clock of the processes' start times (/proc/<pid>/stat); None when unreadable."""
    try:
        with open("/proc/uptime", encoding="ascii") as handle:
            return float(handle.read().split()[0])
    except (OSError, IndexError, ValueError):
        return None


def _started_after(name, since):
    """Whether a process whose program (the base name of its argv[0]) is name started at or after since (seconds since
    boot, from _uptime: /proc/stat's btime is whole seconds and can be a second off, enough to miss a quick restart)."""
    if since is None:
        return False
    tick = os.sysconf("SC_CLK_TCK")
    for process in procs.processes():
        argv = process.argv()
        if not argv or os.path.basename(argv[0]) != name:
            continue
        ticks = process.start_ticks()
        # both clocks count boot time in whole ticks
        if ticks is not None and ticks / tick >= since:
            return True
    return False


def _replace_pod(unit_spec):
    """Install a static pod's new manifest over the running one's, and wait until the kubelet has replaced the pod
    (a process of units[].process started after the install), then for its health."""
    since = _uptime()
    _install_manifest(unit_spec, False)
    name, timeout = unit_spec.get("process"), unit_spec.get("health_timeout") or 60
    if name:
        # the old pod's graceful stop comes first (the kubelet starts the new one once it is gone)
        waited = timeout + (unit_spec.get("stop_timeout") or 0)
        deadline = time.monotonic() + waited
        while not _started_after(name, since):
            if time.monotonic() >= deadline:
                raise DaemonError("static pod %s: no new %s process started within %d s of its new manifest; the kubelet has "
                                  "not replaced the pod (is it running, and watching %s?); the old pod may still run" % (
                                      unit_spec["name"], name, waited, os.path.dirname(unit_spec["manifest"])))
            time.sleep(0.5)
    return _wait_healthy(unit_spec.get("health"), timeout, "static pod %s" % unit_spec["name"], None, static_pod=unit_spec["name"])


def _install_manifest(unit_spec, check_mode):
    """Copy a static pod's staged source into the kubelet's manifest directory (0600, atomically)."""
    try:
        with open(unit_spec["source"], "rb") as handle:
            data = handle.read()
    except (IOError, OSError) as exc:
        raise DaemonError("static pod %s: its staged manifest %s cannot be read (%s); write it in files first" % (
            unit_spec["name"], unit_spec["source"], exc.strerror)) from None
    if check_mode:
        return
    item = _files.FileItem(0, dict(path=unit_spec["manifest"], content=data, mode="0600"))
    changes = [_files.plan_item(item)]
    _files.apply(changes)


class Run:
    """State of one call: what was done so far goes into every result and error."""

    def __init__(self, params, check_mode):
        self.params = params
        self.check_mode = check_mode
        self.records = Records(params.get("state_dir") or "/var/lib/kubeha/daemons", check_mode)
        self.result = dict(changed=False, files={}, units={}, restart_pending=[])
        self.health_seen = {}

    def fail(self, exc):
        exc.result = dict(self.result, **exc.result)
        raise exc

    def healthy(self, unit, label, journal_unit):
        """Wait for a unit's health; what the check saw goes into the unit's result."""
        static_pod = unit.name if unit.kind == "static_pod" else None
        seen = _wait_healthy(unit.health, unit.health_timeout, label, journal_unit, static_pod=static_pod)
        if seen is not None:
            self.health_seen[unit.name] = seen

    def unit_result(self, unit, action, **extra):
        entry = dict(action=action, **extra)
        if unit.name in self.health_seen:
            entry["health"] = self.health_seen[unit.name]
        self.result["units"][unit.name] = entry
        if action not in ("none", "recorded"):
            self.result["changed"] = True

    @staticmethod
    def _reload_due(unit, items, changed_paths, record, rdigest):
        """Why a running unit must reload its configuration now (or None).

        A file naming it in ``reloads`` changed in this call, or differs from what it last (re)loaded: a reload
        lost to a run that failed before its handler is found again on the next run, from content.
        """
        if rdigest is None:
            return None
        if any(i.path in changed_paths for i in items if unit.name in i.reloads):
            return "its configuration changed in this run (reload)"
        if record is not None and record.get("reload_digest") not in (None, rdigest):
            return "its configuration changed since its last reload by kubeha (reload)"
        return None

    def _reload(self, unit, name, digest, rdigest, order, reason, extra):
        if unit.restart == "pending":
            self.records.write(name, dict(digest=digest, reload_digest=rdigest, verb="reload", order=order, reason=reason,
                                          unit=unit.spec()), pending=True)
            self.result["restart_pending"].append(unit.name)
            return self.unit_result(unit, "pending", reason=reason, **extra)
        if not self.check_mode:
            _systemd.systemctl("reload", name, unit=unit.name)
            if not unit.no_block:
                self.healthy(unit, name, unit.name)
            self.records.write(name, dict(digest=digest, reload_digest=rdigest))
            self.records.drop_pending(name)
        return self.unit_result(unit, "reloaded", reason=reason, **extra)

    # -- restart_pending: the handler's call ----------------------------------------------------
    def restart_pending(self, only=None):
        for key, record in self.records.pending():
            spec = record["unit"]
            if only and spec["name"] not in only:
                continue   # another role's restart (a kubelet's, deferred by site.yml's first pass): its own call does it
            self.result["changed"] = True
            if not self.check_mode:
                if spec["kind"] == "static_pod":
                    _replace_pod(spec)
                else:
                    verb = record.get("verb") or ("try-restart" if spec.get("state") == "as_is" else "restart")
                    _systemd.systemctl(verb, _systemd.unit_name(spec["name"]), unit=spec["name"])
                    _wait_healthy(spec.get("health"), spec.get("health_timeout") or 60, _systemd.unit_name(spec["name"]), spec["name"])
                    self.records.write(key, dict(digest=record["digest"], reload_digest=record.get("reload_digest")))
                self.records.drop_pending(key)
            self.result["units"][spec["name"]] = dict(action="reloaded" if record.get("verb") == "reload" else "restarted",
                                                      reason=record.get("reason", ""))
        return summarize(self.result)

    # -- the main call ---------------------------------------------------------------------------
    def converge(self, items, units, diff):
        refused = ["%s exists on this host: %s" % (r["path"], r["msg"]) for r in self.params.get("refuse_if_present") or []
                   if os.path.lexists(r["path"])]
        if refused:
            raise DaemonError("%s; nothing was changed" % "; ".join(refused))
        if not self.check_mode:  # in check mode an earlier role may only have reported them
            for unit in units:
                missing = [p for p in unit.inputs if not os.path.exists(p)]
                if missing:
                    raise DaemonError("%s: missing on this host: %s; nothing was changed. Install them first "
                                      "(kubeha.cluster.secrets for certificates and keys)" % (unit.where, ", ".join(missing)))
        changes = _files.plan(items)
        transfer = [c.item.index for c in changes if c.action == "transfer"]
        if transfer and not self.check_mode:
            self.result["need_transfer"] = transfer
            return self.result
        wanted = _packages.missing(self.params.get("packages") or [])
        self.result["packages_installed"] = wanted
        if wanted:
            self.result["changed"] = True
            if not self.check_mode:
                _packages.install(wanted)
        if wanted and self.check_mode:
            self.result["validation_skipped"] = "packages %s are not installed yet" % ", ".join(wanted)
        else:
            undecided = _files.validate_with_new_files(changes, self.check_mode, self.params.get("check_mode_undecided") or [])
            if undecided:
                self.result["validation_skipped"] = undecided
        if diff:
            self.result["diff"] = _files.diffs(changes)
        parents = [] if self.check_mode else _files.apply(changes)
        actions = {"none": "unchanged", "create": "created", "update": "updated", "transfer": "updated",
                   "attributes": "attributes", "remove": "removed"}
        self.result["files"] = dict((c.item.path, "created" if c.action == "transfer" and c.attrs is None else actions[c.action]) for c in changes)
        self.result["created_parents"] = parents
        if any(c.changed for c in changes) or parents:
            self.result["changed"] = True
        changed_paths = set(c.item.path for c in changes if c.content_changed)
        systemd_units = [u for u in units if u.kind == "systemd"]
        props = self._systemd_props(systemd_units, changed_paths)
        for order, unit in enumerate(units):
            if unit.kind == "systemd":
                self._systemd_unit(unit, order, items, props[_systemd.unit_name(unit.name)], changed_paths)
            else:
                self._static_pod(unit, order, items)
        self.result["managed"] = managed(items, units, self.records.dir)
        return self.result

    def _systemd_props(self, units, changed_paths):
        if not units:
            return {}
        props = _systemd.show([u.name for u in units])
        reload_needed = any(p.startswith(SYSTEMD_DIRS) for p in changed_paths) or any(
            v.get("NeedDaemonReload") == "yes" for v in props.values())
        self.result["daemon_reloaded"] = bool(reload_needed)
        if reload_needed:
            self.result["changed"] = True
            if not self.check_mode:
                _systemd.systemctl("daemon-reload")
                props = _systemd.show([u.name for u in units])
        return props

    def _systemd_unit(self, unit, order, items, props, changed_paths):
        name = _systemd.unit_name(unit.name)
        unit_files = set(i.path for i in items if i.state == "file" and os.path.basename(os.path.dirname(i.path)) in (name + ".d",)) | set(
            i.path for i in items if os.path.basename(i.path) == name)
        new_unit_file = bool(unit_files & changed_paths)
        if props.get("LoadState") == "not-found" and not (self.check_mode and new_unit_file) and unit.state != "stopped":
            raise DaemonError("%s: systemd does not know %s; write its unit file in files (or install its package)" % (unit.where, name))
        active = _systemd.is_active(props)
        file_state = props.get("UnitFileState", "")
        steps = []
        if unit.masked is True and file_state != "masked":
            steps.append(("mask", name))
        if unit.masked is False and file_state == "masked":
            steps.append(("unmask", name))
            file_state = "disabled"
        elif file_state == "masked" and unit.state == "started" and unit.masked is None:
            raise DaemonError("%s: %s is masked; set masked: false to start it" % (unit.where, name))
        if unit.enabled is True and not _systemd.is_enabled(dict(UnitFileState=file_state)) and not unit.masked:
            steps.append(("enable", name))
        if unit.enabled is False and file_state in ("enabled", "enabled-runtime"):
            steps.append(("disable", name))
        for step in steps:
            if not self.check_mode:
                _systemd.systemctl(*step, unit=unit.name)
        digest = unit_digest(unit, items)
        rdigest = reload_digest(unit, items)
        record = self.records.read(name)
        extra = dict(active_before=active, steps=[s[0] for s in steps])
        if steps:
            self.result["changed"] = True
        if unit.state == "stopped" or unit.masked is True:
            self.records.drop_pending(name)
            action, after = "none", props
            if active:
                action = "stopped"
                if not self.check_mode:
                    _systemd.systemctl("stop", name, unit=unit.name)
                    after = _systemd.show([name])[name]
            if after.get("ActiveState") == "failed":
                # A unit asked to be stopped (a removed podmaster, say) that ended failed - its process exited
                # with an error or was killed on the way down - would stay in `systemctl --failed` for good,
                # even once its unit file is gone. The failure is reported here, then cleared.
                extra["reset_failed"] = after.get("Result") or "failed"
                if not self.check_mode:
                    _systemd.systemctl("reset-failed", name, unit=unit.name)
                action = "stopped" if action == "stopped" else "reset"
            return self.unit_result(unit, action, **extra)
        if not active:
            if unit.state == "as_is":
                self.records.write(name, dict(digest=digest))
                self.records.drop_pending(name)
                return self.unit_result(unit, "recorded", **extra)
            if not self.check_mode:
                _systemd.systemctl("start", name, *(["--no-block"] if unit.no_block else []), unit=unit.name)
                if not unit.no_block:
                    self.healthy(unit, name, unit.name)
                self.records.write(name, dict(digest=digest, reload_digest=rdigest))
                self.records.drop_pending(name)
            return self.unit_result(unit, "started", **extra)
        files_changed = any(i.path in changed_paths for i in items if unit.name in i.restarts)
        # a unit that kubeha never restarted (one it adopted: a hand-made kubelet) but whose restart an earlier call left
        # pending still runs its old files: the pending restart stands
        left_pending = record is None and self.records.read(name, pending=True) is not None
        if not files_changed and not left_pending and (record is None or record.get("digest") == digest):
            reload_reason = self._reload_due(unit, items, changed_paths, record, rdigest)
            if reload_reason:
                return self._reload(unit, name, digest, rdigest, order, reload_reason, extra)
            if record is None:
                self.records.write(name, dict(digest=digest, reload_digest=rdigest))
            self.records.drop_pending(name)
            if unit.health and not unit.no_block and not self.check_mode:
                self.healthy(unit, name, unit.name)
            return self.unit_result(unit, "recorded" if record is None else "none", **extra)
        reason = ("its files changed in this run" if files_changed else
                  "an earlier call left its restart pending" if left_pending else
                  "what it reads changed since its last restart by kubeha")
        if unit.restart == "pending":
            self.records.write(name, dict(digest=digest, reload_digest=rdigest, order=order, reason=reason, unit=unit.spec()),
                               pending=True)
            self.result["restart_pending"].append(unit.name)
            return self.unit_result(unit, "pending", reason=reason, **extra)
        if not self.check_mode:
            _systemd.systemctl("try-restart" if unit.state == "as_is" else "restart", name, unit=unit.name)
            if not unit.no_block:
                self.healthy(unit, name, unit.name)
            self.records.write(name, dict(digest=digest, reload_digest=rdigest))
            self.records.drop_pending(name)
        return self.unit_result(unit, "restarted", reason=reason, **extra)

    def _static_pod(self, unit, order, items):
        key = "pod-" + unit.name
        staged = None
        for item in items:
            if item.path == unit.source and item.state == "file":
                staged = item.sha256
        if staged is None:
            staged = sha256_file(unit.source)
        installed = sha256_file(unit.manifest)
        if unit.state == "stopped":
            self.records.drop_pending(key)
            if installed is not None:
                if not self.check_mode:
                    os.unlink(unit.manifest)
                return self.unit_result(unit, "stopped")
            return self.unit_result(unit, "none")
        if staged is None:
            raise DaemonError("%s: the staged manifest %s does not exist; write it in files" % (unit.where, unit.source))
        if installed is None:
            if not self.check_mode:
                _install_manifest(unit.spec(), False)
                self.healthy(unit, "static pod %s" % unit.name, None)
                self.records.drop_pending(key)
            return self.unit_result(unit, "started")
        if installed == staged:
            self.records.drop_pending(key)
            if unit.health and not self.check_mode:
                self.healthy(unit, "static pod %s" % unit.name, None)
            return self.unit_result(unit, "none")
        reason = "its staged manifest differs from the one the kubelet runs"
        if unit.restart == "pending":
            self.records.write(key, dict(digest=staged, order=order, reason=reason, unit=unit.spec()), pending=True)
            self.result["restart_pending"].append(unit.name)
            return self.unit_result(unit, "pending", reason=reason)
        if not self.check_mode:
            seen = _replace_pod(unit.spec())
            if seen is not None:
                self.health_seen[unit.name] = seen
        return self.unit_result(unit, "restarted", reason=reason)


def run_daemon(params, check_mode=False, diff=False):
    """The module's whole job; raises DaemonError with what was done so far in ``result``."""
    state = Run(params, check_mode)
    try:
        if params.get("restart_pending"):
            if params.get("files") or params.get("units") or params.get("packages"):
                raise DaemonError("restart_pending restarts what earlier calls left pending; give it without files, units and packages")
            return state.restart_pending(params.get("restart_units") or None)
        defaults = dict(restart=params.get("restart") or "now", health_timeout=params.get("health_timeout") or 60)
        if defaults["restart"] not in RESTART_MODES:
            raise DaemonError("restart is '%s'; use one of %s" % (defaults["restart"], ", ".join(RESTART_MODES)))
        items = [_files.FileItem(i, raw) for i, raw in enumerate(params.get("files") or [])]
        seen = {}
        for item in items:
            if item.path in seen:
                raise DaemonError("%s: the same path is already files[%d]" % (item.where, seen[item.path]))
            seen[item.path] = item.index
        units = [Unit(i, raw, defaults) for i, raw in enumerate(params.get("units") or [])]
        known = set(u.name for u in units)
        for item in items:
            unknown = [n for n in item.restarts + item.reloads if n not in known]
            if unknown:
                raise DaemonError("%s: restarts or reloads %s, which is not in units (%s)" % (item.where, unknown, ", ".join(sorted(known)) or "none"))
        return summarize(state.converge(items, units, diff))
    except DaemonError as exc:
        state.fail(exc)
    return None


# per-file and per-unit actions, and the lists a caller reads instead of parsing them
WRITTEN = ("created", "updated", "attributes")


def summarize(result):
    """Add the call's contract to a result: which paths were written and removed, which units were started,
    stopped, restarted and reloaded (or in check mode would be), in the order of the call."""
    files = result.get("files") or {}
    units = result.get("units") or {}
    result["written"] = [p for p, action in files.items() if action in WRITTEN]
    result["removed"] = [p for p, action in files.items() if action == "removed"]
    for verb in ("started", "stopped", "restarted", "reloaded"):
        result[verb] = [name for name, entry in units.items() if entry.get("action") == verb]
    return result
