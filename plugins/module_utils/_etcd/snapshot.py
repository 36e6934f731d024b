# Copyright (c) kubeha developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""etcd snapshots: taken through the v3 gateway, checked, kept, and their status recorded in etcd.

Used by the ``etcd_snapshot`` module (on demand, ``playbooks/etcd-backup.yml``) and by the scheduled
``etcd-snapshot.pyz`` on every member (:func:`main`, a systemd timer of the etcd role). Both take a
snapshot on one member only: the first of the members, in inventory order, that answers ``/health``,
so a member that is down hands the job to the next one.

A snapshot is streamed from ``/v3/maintenance/snapshot`` into a temporary file (0600) in the snapshot
directory (0700), with the sha256 etcd appends at its end, then checked as ``etcdutl snapshot status``
does (:mod:`.bolt`) and only then renamed to ``etcd-snapshot-<UTC time, ms>-r<revision>.db``. The oldest
beyond ``keep`` are removed. The outcome, success or failure, is written to one etcd key
(``status_key``) as JSON, so the etcd role's check and the status playbook see the newest snapshot of
the whole cluster, whichever member took it, and a schedule that stopped.
"""

from __future__ import annotations

import base64
import datetime
import json
import os
import re
import socket
import sys
import tempfile
import time

from .bolt import SnapshotError, read_status
from .client import EtcdClient, EtcdEndpointError, EtcdError

__all__ = ["NAME_RE", "age_text", "elect", "existing", "main", "take", "verdict", "record"]

NAME_RE = re.compile(r"^etcd-snapshot-(\d{8}T\d{6}\.\d{3}Z)-r(\d+)\.db$")
STATUS_KEY = "/kubeha/etcd-snapshots/status"


def _utc(now):
    return datetime.datetime.fromtimestamp(now, datetime.timezone.utc)


def _iso(now):
    return _utc(now).strftime("%Y-%m-%dT%H:%M:%SZ")


def existing(directory):
    """The snapshots kubeha took in ``directory``, oldest first, as ``(name, path)``."""
    try:
        names = os.listdir(directory)
    except FileNotFoundError:
        return []
    return [(n, os.path.join(directory, n)) for n in sorted(n for n in names if NAME_RE.match(n))]


def prepare_directory(directory):
    """Create ``directory`` 0700 root-only, or tighten it to 0700; returns what was done (empty: nothing)."""
    if not os.path.isabs(directory):
        raise EtcdError("snapshot directory %r is not an absolute path; set etcd_snapshot_dir to one like "
                        "/var/lib/kubeha/etcd-snapshots" % (directory,))
    if os.path.lexists(directory) and not os.path.isdir(directory):
        raise EtcdError("snapshot directory %s exists and is not a directory: move it away, or set etcd_snapshot_dir to "
                        "another path" % directory)
    if not os.path.isdir(directory):
        os.makedirs(directory, 0o700)
        os.chmod(directory, 0o700)
        return "created %s (0700)" % directory
    mode = os.stat(directory).st_mode & 0o7777
    if mode != 0o700:
        os.chmod(directory, 0o700)
        return "%s was %04o, now 0700" % (directory, mode)
    return ""


def stream(client, endpoint, handle, timeout=None):
    """Write the snapshot of ``endpoint`` to ``handle``; return the number of bytes (database and sha256)."""
    written = 0
    url = endpoint + "/v3/maintenance/snapshot"
    for line in client.transport.lines(url, b"{}", {"Content-Type": "application/json"}, timeout=timeout,
                                       endpoint=endpoint):
        line = line.strip()
        if not line:
            continue
        try:
            message = json.loads(line)
        except ValueError:
            raise EtcdEndpointError(endpoint, "protocol", "the snapshot stream broke off after %d bytes (a message that is "
                                    "not JSON: %r)" % (written, line[:80])) from None
        if not isinstance(message, dict):
            raise EtcdEndpointError(endpoint, "protocol", "the snapshot stream sent %r" % (line[:80],))
        if message.get("error"):
            err = message["error"]
            raise EtcdEndpointError(endpoint, "http", "etcd stopped the snapshot after %d bytes: %s"
                                    % (written, err.get("message") or err), error=str(err))
        blob = (message.get("result") or {}).get("blob")
        if blob:
            data = base64.b64decode(blob)
            handle.write(data)
            written += len(data)
    return written


def take(client, endpoint, directory, keep, now=None, timeout=None):
    """Take, check and keep one snapshot of ``endpoint`` in ``directory``; remove the oldest beyond ``keep``.

    Returns the snapshot (``path``, ``name``, ``time``, ``file_size``, ``revision``, ``total_key``, ``hash``,
    ``sha256``, ``seconds``) with ``removed`` (older snapshots pruned) and ``directory_fix``. Raises
    :class:`EtcdError` with what failed; a failed snapshot leaves no file behind.
    """
    started = time.monotonic()
    tmp = None
    try:
        fix = prepare_directory(directory)
        fd, tmp = tempfile.mkstemp(prefix=".etcd-snapshot-", suffix=".part", dir=directory)
        with os.fdopen(fd, "wb") as handle:
            stream(client, endpoint, handle, timeout=timeout)
            handle.flush()
            os.fsync(handle.fileno())
        try:
            status = read_status(tmp)
        except SnapshotError as exc:
            raise EtcdError("the snapshot from %s failed its check: %s" % (endpoint, exc), endpoint=endpoint) from None
        if status["sha256_trailer"] != "ok":
            raise EtcdError("the snapshot from %s has no sha256 at its end (%d bytes): the stream was cut short"
                            % (endpoint, status["file_size"]), endpoint=endpoint)
        when = time.time() if now is None else now
        name = "etcd-snapshot-%s.%03dZ-r%d.db" % (_utc(when).strftime("%Y%m%dT%H%M%S"), int(when * 1000) % 1000,
                                                  status["revision"])
        path = os.path.join(directory, name)
        os.rename(tmp, path)
        tmp = None
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except (EtcdEndpointError, OSError) as exc:
        raise EtcdError("snapshot of %s into %s failed: %s" % (endpoint, directory, exc), endpoint=endpoint) from None
    finally:
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)
    removed = []
    kept = existing(directory)
    for _name, old in kept[:max(0, len(kept) - int(keep))]:
        os.unlink(old)
        removed.append(old)
    status.pop("path", None)
    return dict(status, path=path, name=name, time=_iso(when), seconds=round(time.monotonic() - started, 3),
                endpoint=endpoint, removed=removed, directory_fix=fix)


def elect(client, members, wait=15.0, clock=time.monotonic, sleep=time.sleep):
    """The first of ``members`` (``{"name", "client_url"}``, inventory order) whose ``/health`` answers true.

    Returns ``(name, client_url, not_healthy)``: ``not_healthy`` lists ``name: reason`` of the members before it.
    While none is healthy (a leader election in progress: "RAFT NO LEADER" on every member) it asks again once a
    second, for at most ``wait`` seconds; then raises :class:`EtcdError` with what each member answered last.
    """
    deadline = clock() + wait
    while True:
        skipped = []
        for member in members:
            try:
                client.health(member["client_url"])
            except EtcdEndpointError as exc:
                skipped.append("%s: %s" % (member["name"], exc.cause))
                continue
            return member["name"], member["client_url"], skipped
        if clock() >= deadline:
            raise EtcdError("no etcd member is healthy, so no snapshot was taken (asked again for %.0f s): %s"
                            % (wait, "; ".join(skipped)), not_healthy=skipped)
        sleep(1.0)


def record(client, key, member, now, snapshot=None, error=None):
    """Write the outcome to ``key``: the newest snapshot (kept from before on a failure) and the last attempt."""
    try:
        previous = client.get_one(key)
        old = json.loads(previous.value) if previous is not None else {}
    except (EtcdError, ValueError):
        old = {}
    newest = old.get("newest") if isinstance(old, dict) else None
    if snapshot is not None:
        newest = {k: snapshot[k] for k in ("time", "member", "path", "file_size", "revision", "total_key", "hash", "sha256")
                  if k in snapshot}
    data = {"newest": newest, "last": {"time": _iso(now), "member": member, "result": "failed" if error else "ok",
                                       "error": error or ""}}
    client.put(key, json.dumps(data, sort_keys=True))
    return data


def age_text(seconds):
    """``3h05m``."""
    hours, rest = divmod(int(seconds), 3600)
    return "%dh%02dm" % (hours, rest // 60)


def verdict(value, now, max_age):
    """Problems with the recorded snapshot status (the JSON text of the status key, or None), for ``max_age`` seconds.

    Returns ``(summary dict, problems list)``: the last attempt failed, the newest older than ``max_age``. No
    snapshot at all is no problem here (``newest`` is None): a new cluster's first one is the etcd role's to take.
    """
    try:
        data = json.loads(value) if value else {}
    except ValueError:
        data = {}
    newest = data.get("newest") if isinstance(data, dict) else None
    last = data.get("last") if isinstance(data, dict) else None
    problems = []
    summary = {"newest": newest, "last": last, "age_seconds": None}
    if isinstance(last, dict) and last.get("result") == "failed":
        problems.append("the last etcd snapshot (%s on %s) failed: %s" % (last.get("time"), last.get("member"),
                                                                          last.get("error")))
    if not isinstance(newest, dict) or not newest.get("time"):
        summary["newest"] = None
        return summary, problems
    try:
        taken = datetime.datetime.strptime(newest["time"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc)
    except ValueError:
        problems.append("the newest etcd snapshot's time %r is not a UTC time" % (newest.get("time"),))
        return summary, problems
    age = max(0.0, now - taken.timestamp())
    summary["age_seconds"] = int(age)
    if age > max_age:
        problems.append("the newest etcd snapshot (%s on %s) is %s old, more than twice the schedule (%s): is the "
                        "kubeha-etcd-snapshot.timer running on the members (systemctl list-timers), and does "
                        "journalctl -u kubeha-etcd-snapshot say why not?"
                        % (newest.get("path"), newest.get("member"), age_text(age), age_text(max_age)))
    return summary, problems


def run(config, now=None, log=None):
    """One scheduled (or on-demand) snapshot as the configuration says; returns the result dict.

    ``config``: ``members`` (``[{"name", "client_url"}]``), ``name`` (this member), ``endpoints`` (default: the
    members' client URLs), ``ca_cert``, ``client_cert``, ``client_key``, ``directory``, ``keep``, ``status_key``,
    ``timeout``, ``check_mode``.
    """
    log = log or (lambda text: None)
    now = time.time() if now is None else now
    members = config["members"]
    client = EtcdClient(config.get("endpoints") or [m["client_url"] for m in members], config.get("ca_cert"), config.get("client_cert"),
                        config.get("client_key"), float(config.get("timeout") or 5.0))
    chosen, url, not_healthy = elect(client, members)
    result = {"changed": False, "taker": chosen, "not_healthy": not_healthy}
    if chosen != config["name"]:
        result["msg"] = "%s takes the snapshot (the first healthy member); nothing to do on %s" % (chosen, config["name"])
        log(result["msg"])
        return result
    if not 1 <= int(config["keep"]) <= 1000:
        raise EtcdError("keep is %r: keep between 1 and 1000 snapshots (etcd_snapshot_keep)" % (config["keep"],))
    if config.get("check_mode"):
        result.update(changed=True, msg="a snapshot would be taken on %s" % chosen)
        return result
    try:
        snapshot = take(client, url, config["directory"], config["keep"], now=now,
                        timeout=max(30.0, float(config.get("timeout") or 5.0)))
    except EtcdError as exc:
        try:
            record(client, config["status_key"], chosen, now, error=str(exc))
        except EtcdError as rec:
            exc.result["status_not_recorded"] = str(rec)
        raise
    snapshot["member"] = chosen
    result.update(changed=True, snapshot=snapshot,
                  msg="snapshot %s: %d bytes, revision %d, %d keys, hash %d, in %.1f s%s"
                  % (snapshot["path"], snapshot["file_size"], snapshot["revision"], snapshot["total_key"],
                     snapshot["hash"], snapshot["seconds"],
                     (", removed %s" % ", ".join(os.path.basename(p) for p in snapshot["removed"])) if snapshot["removed"] else ""))
    log(result["msg"])
    result["status"] = record(client, config["status_key"], chosen, now, snapshot=snapshot)
    return result


def main(argv=None):
    """``etcd-snapshot.pyz --config FILE``: the scheduled snapshot (exit 0: taken or another member's job)."""
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 2 or argv[0] != "--config":
        sys.stderr.write("usage: etcd-snapshot.pyz --config FILE\n")
        return 2
    try:
        with open(argv[1], encoding="utf-8") as handle:
            config = json.load(handle)
    except (OSError, ValueError) as exc:
        sys.stderr.write("etcd-snapshot: cannot read %s: %s\n" % (argv[1], exc))
        return 2

    def log(text):
        sys.stdout.write("etcd-snapshot on %s: %s\n" % (socket.gethostname(), text))
        sys.stdout.flush()

    try:
        run(config, log=log)
    except EtcdError as exc:
        sys.stderr.write("etcd-snapshot: FAILED: %s\n" % exc)
        return 1
    return 0
