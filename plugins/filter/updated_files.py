# Copyright (c) kubeha developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The updated_files filter: which hosts a restart done outside the daemon module's records visits."""

from __future__ import annotations

DOCUMENTATION = r"""
name: updated_files
short_description: The hosts whose kubeha.cluster.daemon call updated one of some files in this run, in play order
version_added: 0.2.0
description:
  - "Input: the play's hosts (C(ansible_play_hosts)), in the order a rolling restart visits them."
  - Returns those whose registered M(kubeha.cluster.daemon) result (O(result), looked up in O(hostvars)) reports one of
    O(paths) as C(updated) in this run. For restarts that are not in the daemon module's records (monit's control
    scripts), rolled with the same C(run_once) loop as M(kubeha.cluster.daemon)'s pending restarts.
options:
  _input:
    description: Host names, in play order.
    type: list
    elements: str
    required: true
  hostvars:
    description: The C(hostvars) magic variable.
    type: raw
    required: true
  result:
    description: Name of the variable each host registered the daemon call's result in.
    type: str
    required: true
  paths:
    description: The files whose update calls for the restart.
    type: list
    elements: path
    required: true
"""

EXAMPLES = r"""
- name: Restart the kubelet under monit, one node at a time
  ansible.builtin.command:
    argv: [/usr/local/lib/kubeha/kubelet-ctl, restart]
  delegate_to: "{{ _node_host }}"
  loop: "{{ ansible_play_hosts | kubeha.cluster.updated_files(hostvars, '_node_daemon_result', ['/etc/kubernetes/kubelet.conf']) }}"
  loop_control:
    loop_var: _node_host
    break_when: _node_restarted is failed
  register: _node_restarted
  changed_when: true
  run_once: true
"""

RETURN = r"""
_value:
  description: The hosts to restart, in play order.
  type: list
  elements: str
"""

from ansible_collections.kubeha.cluster.plugins.filter.pending_restarts import registered_results


def updated_files(hosts, hostvars, result, paths):
    """Hosts (in the given order) whose registered daemon result ``result`` updated one of ``paths`` in this run.

    For restarts done by other means than the daemon module's records (monit's control scripts).
    """
    wanted = set(paths or [])
    return [host for host, registered in registered_results(hosts, hostvars, result, "updated_files")
            if isinstance(registered.get("files"), dict) and any(registered["files"].get(p) == "updated" for p in wanted)]


class FilterModule:
    """kubeha filter for restarts outside the daemon module's records."""

    def filters(self):
        return {"updated_files": updated_files}
