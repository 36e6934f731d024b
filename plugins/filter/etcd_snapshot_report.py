# Copyright (c) kubeha developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The etcd_snapshot_report filter: the snapshot record in etcd, as the status table shows it."""

from __future__ import annotations

DOCUMENTATION = r"""
name: etcd_snapshot_report
short_description: The newest etcd snapshot and the last attempt, as one line and a list of problems
version_added: 0.3.0
author:
  - kubeha developers (@kubeha)
description:
  - Reads what M(kubeha.cluster.etcd_snapshot) records in etcd (the value of its status key, as
    M(kubeha.cluster.etcd_key_info) returns it) with the same rules as M(kubeha.cluster.etcd_check) - a failed last
    attempt, or a newest snapshot older than O(max_age), is a problem.
options:
  _input:
    description: The status key's value (JSON text); empty or null when nothing was recorded.
    type: raw
    required: true
  max_age:
    description: Seconds after which the newest snapshot is overdue (twice the etcd role's interval).
    type: int
    default: 43200
  now:
    description: The current time (seconds since the epoch); default the controller's clock.
    type: float
"""

EXAMPLES = r"""
- name: Show the newest snapshot
  ansible.builtin.debug:
    msg: "{{ (_read.kv.value if _read.kv else '') | kubeha.cluster.etcd_snapshot_report(max_age=43200) }}"
"""

RETURN = r"""
_value:
  description: The report.
  type: dict
  contains:
    line: {description: "One line: the newest snapshot's time, age, size, revision, keys, member and path, or that none was taken.", type: str}
    problems: {description: A failed last attempt, an overdue newest snapshot., type: list, elements: str}
    newest: {description: The newest snapshot as recorded (null before the first)., type: dict}
    age_seconds: {description: Its age., type: int}
"""

import time

from ansible_collections.kubeha.cluster.plugins.module_utils._etcd.snapshot import age_text, verdict


def etcd_snapshot_report(value, max_age=43200, now=None):
    """See DOCUMENTATION."""
    summary, problems = verdict(value or None, time.time() if now is None else float(now), float(max_age))
    newest = summary["newest"]
    if newest is None:
        line = "none taken yet"
    else:
        line = "newest %s (%s ago), %d KiB, revision %s, %s keys, on %s: %s" % (
            newest.get("time"), age_text(summary["age_seconds"]), int(newest.get("file_size") or 0) // 1024,
            newest.get("revision", "?"), newest.get("total_key", "?"), newest.get("member", "?"), newest.get("path", "?"))
    return dict(summary, line=line, problems=problems)


class FilterModule:
    """etcd snapshot report."""

    def filters(self):
        return {"etcd_snapshot_report": etcd_snapshot_report}
