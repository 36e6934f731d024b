# Copyright (c) kubeha developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The daemon_teardown filter: what undoes one kubeha.cluster.daemon call, for kubeha.cluster.node_teardown."""

from __future__ import annotations

DOCUMENTATION = r"""
name: daemon_teardown
short_description: The daemons to stop and the files to remove that undo a role's kubeha.cluster.daemon call
version_added: 0.4.0
description:
  - Input is a role's plan, whose C(files) and C(units) are the options of its one M(kubeha.cluster.daemon) call (the
    apiserver's and the control plane's, when a master is removed by C(playbooks/remove-node.yml)).
  - Returns C(daemons), the systemd units of the plan as M(kubeha.cluster.node_teardown) takes them (in the plan's
    order; a static pod is not one, it goes with its manifest), and C(files), every file the call writes (templates,
    copies, content, a static pod's staged source and its manifest in the kubelet's directory).
  - Directories are left out (a role's directory may hold what is not the role's, like C(/etc/kubernetes)), and so are
    files the call removes or only touches (a log file).
options:
  _input:
    description: The plan, a dict with C(files) and C(units) lists.
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: What undoes the apiserver's daemon call on this master
  ansible.builtin.set_fact:
    apiserver_teardown: "{{ _apiserver_planned | kubeha.cluster.daemon_teardown }}"
"""

RETURN = r"""
_value:
  description: C(daemons) (list of dicts with C(name)) and C(files) (list of absolute paths, without repeats).
  type: dict
  sample: {"daemons": [{"name": "kube-apiserver"}], "files": ["/etc/systemd/system/kube-apiserver.service"]}
"""

from ansible.errors import AnsibleFilterError

# what a daemon call's file entry does with its path besides writing it
NOT_WRITTEN = ("absent", "directory", "touch")


def daemon_teardown(plan):
    """{'daemons': [{'name': unit}], 'files': [path, ...]} that undo ``plan``'s files and units."""
    if not isinstance(plan, dict) or not isinstance(plan.get("files", []), list) or not isinstance(plan.get("units", []), list):
        raise AnsibleFilterError("daemon_teardown: expected a role's plan (a dict with lists files and units), got %r" % (plan,))
    files, daemons = [], []
    for entry in plan.get("files") or []:
        if entry.get("state", "file") not in NOT_WRITTEN and entry.get("path") and entry["path"] not in files:
            files.append(entry["path"])
    for unit in plan.get("units") or []:
        if unit.get("kind", "systemd") == "static_pod":
            files.extend(p for p in (unit.get("source"), unit.get("manifest")) if p and p not in files)
        elif unit.get("name") and {"name": unit["name"]} not in daemons:
            daemons.append({"name": unit["name"]})
    return {"daemons": daemons, "files": files}


class FilterModule:
    """kubeha daemon teardown filter."""

    def filters(self):
        return {"daemon_teardown": daemon_teardown}
