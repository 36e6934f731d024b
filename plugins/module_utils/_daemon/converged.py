# Copyright (c) kubeha developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The record of a finished site.yml run on a host, and the check that nothing has moved since.

At the end of a run site.yml records, on every host, the digest of the run's inputs (inventory
variables, the collection, the controller's secrets) and what kubeha keeps there: every file with
its content digest and attributes, every unit with its desired state and health check. A later run
that brings the same inputs and finds every file, unit and health check as recorded, no restart
pending and no certificate due for renewal, has nothing to do on that host.
"""

from __future__ import annotations


import datetime
import grp
import json
import os
import pwd
import stat
import tempfile

from . import health as _health
from . import systemd as _systemd
from .common import DaemonError, sha256_file

STAMP = "/var/lib/kubeha/converged.json"
FORMAT = 1
HEALTH_TIMEOUT = 10.0


def _now():
    return datetime.datetime.now(datetime.timezone.utc)


def _parse_time(text, what):
    try:
        value = datetime.datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        raise DaemonError("%s is '%s'; give an ISO 8601 time such as 2027-03-01T00:00:00Z" % (what, text)) from None
    return value if value.tzinfo else value.replace(tzinfo=datetime.timezone.utc)


def record(digest, managed, renew_by=None):
    """The stamp's content (without the time it was written)."""
    managed = managed or {}
    if renew_by:
        renew_by = _parse_time(renew_by, "renew_by").strftime("%Y-%m-%dT%H:%M:%SZ")
    return dict(format=FORMAT, digest=digest, renew_by=renew_by or None,
                files=dict(managed.get("files") or {}), units=dict(managed.get("units") or {}),
                state_dirs=list(managed.get("state_dirs") or []))


def read(path):
    try:
        with open(path, "r") as handle:
            data = json.load(handle)
    except (IOError, OSError, ValueError):
        return None
    return data if isinstance(data, dict) and data.get("format") == FORMAT else None


def _same(a, b):
    """Equal apart from the time each was written."""
    a, b = dict(a or {}), dict(b or {})
    a.pop("written", None)
    b.pop("written", None)
    return a == b


def write(path, wanted, check_mode):
    """Write the stamp when it differs from what is there: (changed, before)."""
    before = read(path)
    if before is not None and _same(before, wanted):
        return False, before
    if not check_mode:
        directory = os.path.dirname(path)
        if not os.path.isdir(directory):
            os.makedirs(directory, 0o700)
        data = dict(wanted, written=_now().strftime("%Y-%m-%dT%H:%M:%SZ"))
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=".converged.")
        with os.fdopen(fd, "w") as handle:
            json.dump(data, handle, sort_keys=True, indent=1)
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    return True, before


def _owner(uid):
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def _group(gid):
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return str(gid)


def file_drift(path, want):
    """What differs between a path and its record, or None."""
    try:
        st = os.lstat(path)
    except OSError:
        st = None
    state = want.get("state") or "file"
    if state == "absent":
        return None if st is None else "%s: exists, absent recorded" % path
    if st is None:
        return "%s: missing" % path
    if state == "directory" and not stat.S_ISDIR(st.st_mode):
        return "%s: not a directory" % path
    if state in ("file", "touch") and not stat.S_ISREG(st.st_mode):
        return "%s: not a regular file" % path
    have = dict(mode="%04o" % stat.S_IMODE(st.st_mode), owner=_owner(st.st_uid), group=_group(st.st_gid))
    for key in ("mode", "owner", "group"):
        if want.get(key) is not None and str(want[key]) != have[key]:
            return "%s: %s is %s, %s recorded" % (path, key, have[key], want[key])
    if state == "file" and want.get("sha256") and sha256_file(path) != want["sha256"]:
        return "%s: content differs from the recorded sha256" % path
    return None


def _pending(state_dirs):
    out = []
    for directory in state_dirs:
        try:
            names = os.listdir(directory)
        except OSError:
            continue
        out += ["%s: restart pending (%s)" % (n[:-len(".pending.json")], directory) for n in sorted(names) if n.endswith(".pending.json")]
    return out


def unit_drift(units):
    """What differs between the recorded units and the running ones, and the health checks to run."""
    problems, checks = [], []
    systemd_units = dict((k, u) for k, u in units.items() if u.get("kind") != "static_pod")
    props = _systemd.show([u["name"] for u in systemd_units.values()]) if systemd_units else {}
    for key in sorted(units):
        unit = units[key]
        name, state = unit.get("name") or key, unit.get("state") or "started"
        if unit.get("kind") == "static_pod":
            installed, staged = sha256_file(unit.get("manifest") or ""), sha256_file(unit.get("source") or "")
            if state == "stopped":
                if installed is not None:
                    problems.append("static pod %s: manifest %s present, stopped recorded" % (name, unit.get("manifest")))
                continue
            if installed is None or installed != staged:
                problems.append("static pod %s: manifest %s %s" % (
                    name, unit.get("manifest"), "missing" if installed is None else "differs from its staged copy %s" % unit.get("source")))
                continue
        else:
            prop = props.get(_systemd.unit_name(name)) or {}
            active = _systemd.is_active(prop)
            file_state = prop.get("UnitFileState", "")
            if unit.get("masked") is True or state == "stopped":
                if active:
                    problems.append("%s: active, stopped recorded" % _systemd.unit_name(name))
                continue
            if unit.get("masked") is False and file_state == "masked":
                problems.append("%s: masked" % _systemd.unit_name(name))
            if state == "started" and prop.get("ActiveState") != "active":
                # activating (a crash loop's auto-restart included), reloading, deactivating: not settled, so drift
                problems.append("%s: %s%s, started recorded" % (
                    _systemd.unit_name(name), prop.get("ActiveState") or "unknown",
                    " (%s)" % prop["SubState"] if prop.get("SubState") and active else ""))
                continue
            if unit.get("enabled") is True and not _systemd.is_enabled(prop):
                problems.append("%s: not enabled (%s)" % (_systemd.unit_name(name), file_state or "unknown"))
            if unit.get("enabled") is False and file_state in ("enabled", "enabled-runtime"):
                problems.append("%s: enabled, disabled recorded" % _systemd.unit_name(name))
            if state == "as_is":
                continue
        if unit.get("health"):
            checks.append((name, unit["health"], min(float(unit.get("health_timeout") or HEALTH_TIMEOUT), HEALTH_TIMEOUT)))
    return problems, checks


def check(path, digest, now=None):
    """{converged, drift, ...}: every reason this host is not as the last finished run left it."""
    stamp = read(path)
    if stamp is None:
        return dict(converged=False, drift=["no record of a finished site.yml run (%s)" % path], health={})
    drift = []
    if stamp.get("digest") != digest:
        drift.append("the run's inputs differ from the recorded run's (inventory variables, the collection or the controller's secrets)")
    now = now or _now()
    checks = []
    try:  # what cannot be compared is drift: the full run that follows reports the real problem
        if stamp.get("renew_by") and now >= _parse_time(stamp["renew_by"], "the record's renew_by"):
            drift.append("certificates are due for renewal since %s" % stamp["renew_by"])
        for path_, want in sorted((stamp.get("files") or {}).items()):
            problem = file_drift(path_, want)
            if problem:
                drift.append(problem)
        drift += _pending(stamp.get("state_dirs") or [])
        problems, checks = unit_drift(stamp.get("units") or {})
        drift += problems
    except (DaemonError, AttributeError, TypeError, ValueError) as exc:
        drift.append("the record %s cannot be compared with the host: %s" % (path, exc))
    seen = {}
    if not drift:  # health checks take time: only when nothing else already calls for a run
        for index, (name, spec, timeout) in enumerate(checks):
            ok, what, _attempts = _health.wait(spec, timeout)
            seen[name] = what
            if not ok:
                drift.append("%s: not healthy (%s answered '%s')" % (name, _health.describe(spec), what))
                # one failing check already calls for the whole run, which checks everything: waiting up to the
                # timeout on each of the others (one after another) would only delay it
                rest = [other for other, _spec, _timeout in checks[index + 1:]]
                if rest:
                    drift.append("not asked after that: %s" % ", ".join(rest))
                break
    return dict(converged=not drift, drift=drift, health=seen, written=stamp.get("written"), renew_by=stamp.get("renew_by"))
