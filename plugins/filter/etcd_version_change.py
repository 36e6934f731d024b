# Copyright (c) kubeha developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The etcd_version_change filter: is a change of etcd_version an upgrade etcd supports, and is one under way."""

from __future__ import annotations

DOCUMENTATION = r"""
name: etcd_version_change
short_description: Whether moving the running etcd members to a release is supported, and whether it is an upgrade
version_added: 0.5.0
author:
  - kubeha developers (@kubeha)
description:
  - etcd supports a patch change within a minor release, and an upgrade to the next minor release from a recent enough
    patch of the one before (3.5 to 3.6 from 3.5.26, as etcd's upgrade guide says). A downgrade to an older minor release, and an
    upgrade that skips a minor release, are not supported; each is a problem that names the supported path.
  - The running versions are those the members report (the C(endpoints) of M(kubeha.cluster.etcd_cluster_info)); members
    that did not answer are not counted.
options:
  _input:
    description: The result of M(kubeha.cluster.etcd_cluster_info) (its C(endpoints) with C(version)); anything else is no cluster.
    type: raw
    required: true
  target:
    description: The release the members are to run (C(etcd_version)).
    type: str
    required: true
"""

EXAMPLES = r"""
- name: Refuse an unsupported change
  ansible.builtin.assert:
    that: (_etcd_cluster_now | kubeha.cluster.etcd_version_change(etcd_version)).problems | length == 0
"""

RETURN = r"""
_value:
  description: The verdict.
  type: dict
  contains:
    running: {description: The distinct versions the members run., type: list, elements: str}
    changing: {description: Some member runs another release than the target (its restart is a version change)., type: bool}
    problems: {description: Why the change is not supported, with the supported path., type: list, elements: str}
"""

import re

# the oldest patch of a minor release from which etcd supports the upgrade to the next one (etcd's upgrade guides)
UPGRADE_FROM = {"3.6": "3.5.26"}


def _parts(version):
    match = re.match(r"^v?(\d+)\.(\d+)\.(\d+)", str(version or ""))
    return tuple(int(p) for p in match.groups()) if match else None


def etcd_version_change(info, target):
    """See DOCUMENTATION."""
    endpoints = info.get("endpoints") if isinstance(info, dict) else None
    running = sorted({str(e.get("version")) for e in endpoints or [] if isinstance(e, dict) and e.get("version")},
                     key=lambda v: _parts(v) or (0, 0, 0))
    goal = _parts(target)
    problems = []
    if goal is None or not running:
        return {"running": running, "changing": False, "problems": problems}
    minor = "%d.%d" % goal[:2]
    for version in running:
        have = _parts(version)
        if have is None:
            continue
        if have[:2] > goal[:2]:
            problems.append(
                "etcd_version is %s, but a member runs %s: etcd does not support a downgrade to an older minor release (its "
                "data moves forward with the new one). Keep etcd_version at %d.%d.x; going back to %s means a new %s cluster "
                "restored from a snapshot taken before the upgrade (etcdutl snapshot restore, etcd's disaster recovery guide)."
                % (target, version, have[0], have[1], minor, minor))
        elif have[:2] < goal[:2] and (have[0], have[1] + 1) != goal[:2]:
            problems.append(
                "etcd_version is %s, but a member runs %s: etcd does not support an upgrade that skips a minor release. Upgrade "
                "one minor release at a time: set etcd_version to the latest %d.%d patch, run, then go on."
                % (target, version, have[0], have[1] + 1))
        elif have[:2] < goal[:2] and minor in UPGRADE_FROM and have < _parts(UPGRADE_FROM[minor]):
            problems.append(
                "etcd_version is %s, but a member runs %s: etcd upgrades to %s only from %s or later. Set etcd_version to the "
                "latest %d.%d patch, run, then set it to %s." % (target, version, minor, UPGRADE_FROM[minor], have[0], have[1], target))
    changing = any(_parts(v) != goal for v in running)
    return {"running": running, "changing": changing, "problems": problems}


class FilterModule:
    """etcd version change."""

    def filters(self):
        return {"etcd_version_change": etcd_version_change}
