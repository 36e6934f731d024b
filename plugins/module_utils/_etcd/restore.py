# Copyright (c) kubeha developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Restore one stopped etcd member's data from a snapshot, with ``etcdutl snapshot restore`` (etcd's disaster recovery).

The member's current data is set aside (renamed, never deleted) before etcdutl writes the new data beside it; if
etcdutl fails, it is put back, so a failed restore leaves the member as it was. ``--bump-revision`` and
``--mark-compacted`` make every revision after the restore higher than any a client saw before it, and compact
the ones in between (Kubernetes' documented procedure: watches and caches never see revisions go backwards).

A marker file in the data directory records which snapshot and cluster token the data was restored from, so that
an interrupted restore run, run again, restores only the members it had not reached (their data would be the same:
etcd derives the member and cluster IDs from the names, peer URLs and token).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time

from .._daemon.procs import processes
from .bolt import SnapshotError, read_status

__all__ = ["MARKER", "RestoreError", "etcd_running", "read_marker", "restore_member"]

MARKER = "kubeha-restore.json"


class RestoreError(Exception):
    """A restore step failed; the message says what, what was seen and what to do."""


def etcd_running(proc="/proc"):
    """The PIDs of processes named ``etcd`` on this host (a member's data is never replaced under a running etcd)."""
    return sorted(p.pid for p in processes(proc) if p.comm() == "etcd")


def read_marker(data_path):
    """The marker of the last restore of this data directory, or None."""
    try:
        with open(os.path.join(data_path, MARKER), "r", encoding="utf-8") as handle:
            value = json.load(handle)
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def _restored_already(data_path, sha256, token):
    marker = read_marker(data_path)
    return (marker is not None and marker.get("sha256") == sha256 and marker.get("token") == token
            and os.path.isdir(os.path.join(data_path, "member")))


def _chown_tree(path, uid, gid):
    os.chown(path, uid, gid)
    for root, dirs, files in os.walk(path):
        for name in dirs + files:
            os.chown(os.path.join(root, name), uid, gid, follow_symlinks=False)


def restore_member(snapshot, sha256, etcdutl, name, initial_cluster, peer_url, token, data_path, bump_revision,
                   again=False, check_mode=False, now=None, proc="/proc", run=subprocess.run):
    """Restore ``data_path`` from ``snapshot``; return the result dict (``changed``, ``action``, ``set_aside``, ...).

    ``action`` is ``restored``, or ``none`` when the marker says this data was restored from the same snapshot
    with the same token (unless ``again``). Raises :class:`RestoreError` before any change when etcd runs on the
    host, the snapshot is not the one named (sha256) or not a whole database, or etcdutl is missing; and after
    putting the old data back when etcdutl fails.
    """
    result = {"changed": False, "action": "none", "data_path": data_path, "snapshot": snapshot, "set_aside": "",
              "token": token}
    if not again and _restored_already(data_path, sha256, token):
        result["marker"] = read_marker(data_path)
        return result
    if check_mode and not os.path.exists(snapshot):
        # check mode: the run that would stop etcd and copy the snapshot here has done neither
        member = os.path.join(data_path, "member")
        result.update(changed=True, action="restored", set_aside=(member + ".before-restore-<time>") if os.path.lexists(member) else "")
        return result
    pids = [] if check_mode else etcd_running(proc)
    if pids:
        raise RestoreError("etcd still runs on this host (pid %s): its data in %s is not replaced under it; stop it "
                           "first (the restore playbook stops every member before this step)"
                           % (", ".join(str(p) for p in pids), data_path))
    try:
        status = read_status(snapshot)
    except SnapshotError as exc:
        raise RestoreError("the snapshot on this host failed its check: %s; copy it again" % exc) from None
    if status["sha256"] != sha256:
        raise RestoreError("the snapshot %s on this host has sha256 %s, not the %s named on the controller: copy it again"
                           % (snapshot, status["sha256"], sha256))
    if not (os.path.isfile(etcdutl) and os.access(etcdutl, os.X_OK)):
        raise RestoreError("etcdutl is not at %s (or not executable): it comes with etcd's release (etcd_artifact_dir "
                           "or etcd_artifact_url)" % etcdutl)
    when = time.time() if now is None else now
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(when))
    member = os.path.join(data_path, "member")
    set_aside = member + ".before-restore-" + stamp if os.path.lexists(member) else ""
    work = os.path.join(data_path, ".kubeha-restore-" + stamp)
    result.update(changed=True, action="restored", set_aside=set_aside, revision=status["revision"],
                  total_key=status["total_key"], bumped_by=int(bump_revision))
    if check_mode:
        return result
    if not os.path.isdir(data_path):
        os.makedirs(data_path, mode=0o700)
    owner = os.stat(data_path)
    argv = [etcdutl, "snapshot", "restore", snapshot, "--name", name, "--initial-cluster", initial_cluster,
            "--initial-cluster-token", token, "--initial-advertise-peer-urls", peer_url, "--data-dir", work,
            "--bump-revision", str(int(bump_revision)), "--mark-compacted"]
    if set_aside:
        os.rename(member, set_aside)
    try:
        done = run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, check=False)
        output = (done.stdout or b"").decode("utf-8", "replace").strip()
        if done.returncode != 0:
            raise RestoreError("etcdutl snapshot restore failed (exit %d): %s; the member's data was put back as it was"
                               % (done.returncode, output[-2000:]))
        os.rename(os.path.join(work, "member"), member)
        os.rmdir(work)
        os.chmod(member, 0o700)
        _chown_tree(member, owner.st_uid, owner.st_gid)
    except BaseException:
        if os.path.lexists(work):
            shutil.rmtree(work, ignore_errors=True)
        if set_aside and not os.path.lexists(member):
            os.rename(set_aside, member)
        raise
    marker = {"sha256": sha256, "token": token, "name": name, "snapshot": snapshot, "revision": status["revision"],
              "bump_revision": int(bump_revision), "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(when)),
              "set_aside": set_aside}
    tmp = os.path.join(data_path, "." + MARKER)
    with open(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w", encoding="utf-8") as handle:
        json.dump(marker, handle, sort_keys=True)
    os.rename(tmp, os.path.join(data_path, MARKER))
    result["marker"] = marker
    return result
