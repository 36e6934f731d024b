# Copyright (c) kubeha developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The pending_restarts filter: which hosts a rolling restart visits, in play order."""

from __future__ import annotations

DOCUMENTATION = r"""
name: pending_restarts
short_description: The hosts whose kubeha.cluster.daemon call left restarts pending, in play order
version_added: 0.2.0
description:
  - "Input: the play's hosts (C(ansible_play_hosts)), in the order a rolling restart visits them."
  - Returns those whose registered M(kubeha.cluster.daemon) result (O(result), looked up in O(hostvars)) has a
    non-empty C(restart_pending), optionally only the members of O(only).
  - Every role rolls its restarts the same way with it, one host at a time and stopping at the first failure
    (a C(run_once) loop with C(delegate_to) and C(break_when)); C(throttle) alone would go on to the next host.
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
  only:
    description: Keep only these hosts (a group's members); empty keeps all.
    type: list
    elements: str
    default: []
"""

EXAMPLES = r"""
- name: Restart kube-proxy one worker at a time, stopping at the first failure
  kubeha.cluster.daemon:
    restart_pending: true
  delegate_to: "{{ _worker_host }}"
  loop: "{{ ansible_play_hosts | kubeha.cluster.pending_restarts(hostvars, '_worker_kube_proxy_result') }}"
  loop_control:
    loop_var: _worker_host
    break_when: _worker_rolled is failed
  register: _worker_rolled
  run_once: true
"""

RETURN = r"""
_value:
  description: The hosts to restart, in play order.
  type: list
  elements: str
"""

from ansible.errors import AnsibleFilterError


def registered_results(hosts, hostvars, result, filter_name):
    """(host, the dict it registered as ``result``, or {}) for each host, in the given order."""
    if isinstance(hosts, str) or not hasattr(hosts, "__iter__"):
        raise AnsibleFilterError("%s: expected a list of host names (ansible_play_hosts), got %r" % (filter_name, hosts))
    for host in hosts:
        try:
            registered = hostvars[host].get(result)
        except (KeyError, AttributeError):
            registered = None
        yield host, registered if isinstance(registered, dict) else {}


def pending_restarts(hosts, hostvars, result, only=None):
    """Hosts (in the given order) whose registered daemon result ``result`` has restarts pending."""
    keep = set(only or [])
    return [host for host, registered in registered_results(hosts, hostvars, result, "pending_restarts")
            if (not keep or host in keep) and registered.get("restart_pending")]


class FilterModule:
    """kubeha rolling-restart filter."""

    def filters(self):
        return {"pending_restarts": pending_restarts}
