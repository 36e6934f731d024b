# Copyright (c) kubeha developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The etcd_restore_plan filter: what playbooks/etcd-restore.yml will do, and what it costs, before anything changes."""

from __future__ import annotations

DOCUMENTATION = r"""
name: etcd_restore_plan
short_description: Plan an etcd restore - its token, the members still to restore, the confirmation and what is lost
version_added: 0.3.0
author:
  - kubeha developers (@kubeha)
description:
  - Takes the snapshot as the M(kubeha.cluster.etcd_snapshot_file) lookup checked it, and decides, before anything
    changes, whether there is anything to restore, the restored cluster's token, and whether the confirmation was given.
  - Nothing is to be restored when every member's data came from this snapshot in one restore (their markers name its
    sha256 and one token) and the running cluster answers with a healthy majority - a second run of a finished restore.
    Otherwise every member is restored (a run that stopped half way, or a member that lost its data since, restores all
    of them again), with a token of its own - the cluster's token, the snapshot's sha256 and O(stamp) - so that the
    restored cluster has a new cluster ID and no member of an earlier one can join it.
  - The refusal names the snapshot, every member whose data is replaced, what is lost (every change after the
    snapshot's revision, with the running cluster's revision when it answers), the components that stop, and the
    variable that confirms it.
options:
  _input:
    description: The snapshot (the lookup's result).
    type: dict
    required: true
  members:
    description: One entry per member of the etcd group, in inventory order - C(host), C(name), C(marker) (the member's
      restore marker as JSON text, empty when it has none).
    type: list
    elements: dict
    required: true
  cluster_token:
    description: The cluster's token (the etcd role's plan).
    type: str
    required: true
  cluster_now:
    description: What M(kubeha.cluster.etcd_cluster_info) read from the running cluster (a failed read when it does not answer).
    type: dict
    default: {}
  confirm:
    description: The confirmation given (C(etcd_restore_confirm)); it must be the snapshot's file name.
    type: str
    default: ""
  again:
    description: Restore every member even when its marker shows this restore done (C(etcd_restore_again)).
    type: bool
    default: false
  stopped:
    description: The hosts whose apiservers and elected components stop during the restore (the masters).
    type: list
    elements: str
    default: []
  stamp:
    description: What makes this restore's token its own (the playbook gives the UTC time of the run).
    type: str
    default: ""
"""

EXAMPLES = r"""
- name: Plan the restore
  ansible.builtin.set_fact:
    _etcd_restore: "{{ _snapshot | kubeha.cluster.etcd_restore_plan(members, cluster_token=_etcd_planned.cluster_token) }}"
"""

RETURN = r"""
_value:
  description: The plan.
  type: dict
  contains:
    snapshot: {description: The snapshot (as given)., type: dict}
    token: {description: The restored cluster's token (the finished restore's when nothing is to be done)., type: str}
    pending: {description: Members whose data is to be restored (all of them, or none)., type: list, elements: str}
    done: {description: Members whose data this snapshot's restore already made (all of them, or none)., type: list, elements: str}
    needed: {description: Whether anything is to be restored., type: bool}
    confirmed: {description: Whether the confirmation names the snapshot., type: bool}
    refusal: {description: Why the run stops before any change (empty when it may go on)., type: list, elements: str}
    lost: {description: What the restore loses, in words., type: str}
"""

import json

from ansible.errors import AnsibleFilterError


def _marker(text):
    if isinstance(text, dict):
        return text
    try:
        value = json.loads(text or "null")
    except (TypeError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def _mib(size):
    return "%.1f MiB" % (int(size) / 1048576.0)


def _lost(snapshot, cluster_now):
    revision = int(snapshot["revision"])
    now = [int(e.get("revision") or 0) for e in (cluster_now or {}).get("endpoints") or [] if e.get("healthy")]
    if now:
        current = max(now)
        if current > revision:
            return ("every change made after revision %d: the running cluster is at revision %d now, so %d revisions of "
                    "writes (objects created, changed or deleted since) are undone" % (revision, current, current - revision))
        return ("every change made after revision %d (the running cluster is at revision %d now: none are newer, though the "
                "data of every member is still replaced)" % (revision, current))
    why = (cluster_now or {}).get("msg") or "no member answered"
    return ("every change made after revision %d; the running cluster does not answer (%s), so how much is newer is "
            "not known" % (revision, why))


def _healthy_majority(cluster_now):
    members = list((cluster_now or {}).get("members") or [])
    return bool(members) and int((cluster_now or {}).get("healthy_count") or 0) > len(members) // 2


def etcd_restore_plan(snapshot, members, cluster_token, cluster_now=None, confirm="", again=False, stopped=None, stamp=""):
    """See DOCUMENTATION."""
    if not isinstance(snapshot, dict) or not snapshot.get("sha256") or not snapshot.get("name"):
        raise AnsibleFilterError("etcd_restore_plan: the input is not a checked snapshot (the etcd_snapshot_file lookup's result)")
    members = list(members or [])
    names = [m.get("name") or m.get("host") for m in members]
    markers = [_marker(m.get("marker")) for m in members]
    tokens = set(str(m.get("token")) for m in markers if m is not None)
    # done: every member's data came from this snapshot in one restore (one token), and the cluster answers healthy
    done = (not again and bool(members) and all(m is not None and m.get("sha256") == snapshot["sha256"] for m in markers)
            and len(tokens) == 1 and _healthy_majority(cluster_now))
    # each restore gets a token of its own (a new cluster ID): a member left from an earlier one can never rejoin it
    token = "%s-restore-%s%s" % (cluster_token, snapshot["sha256"][:12], ("-" + stamp) if stamp else "")
    pending = [] if done else names
    done_names = names if done else []
    confirmed = str(confirm or "") == snapshot["name"]
    lost = _lost(snapshot, cluster_now)
    refusal = []
    if pending and not confirmed:
        what = (", ".join(names), snapshot["path"], int(snapshot["revision"]), int(snapshot.get("total_key", 0)),
                _mib(snapshot.get("file_size", 0)), snapshot.get("mtime", "unknown"))
        refusal = [
            "playbooks/etcd-restore.yml replaces the data of every etcd member (%s) with the snapshot %s (revision %d, %d keys, "
            "%s, file time %s); nothing was changed." % what,
            "Lost: %s." % lost,
            "Stopped until etcd is back: the apiservers, the scheduler, the controller-manager and podmaster on %s." % (
                ", ".join(stopped or []) or "no master (the inventory has none)"),
            "Kept: each member's current data, beside the restored data (member.before-restore-<time> in its data directory).",
        ]
        if confirm:
            refusal.append("etcd_restore_confirm is %r, which is not the snapshot's file name." % str(confirm))
        refusal.append("To restore it, run again with -e etcd_restore_confirm=%s" % snapshot["name"])
    return dict(snapshot=snapshot, token=tokens.pop() if done else token, pending=pending, done=done_names, needed=len(pending) > 0,
                confirmed=confirmed, refusal=refusal, lost=lost)


class FilterModule:
    def filters(self):
        return {"etcd_restore_plan": etcd_restore_plan}
