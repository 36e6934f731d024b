# Copyright (c) kubeha developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The site_path filter: which path site.yml takes (the fast path or every stage), and why."""

from __future__ import annotations

DOCUMENTATION = r"""
name: site_path
short_description: Which path site.yml takes - the fast path or every stage - and the reason it prints
version_added: 0.6.0
author:
  - kubeha developers (@kubeha)
description:
  - "site.yml reads every host's record of the last finished run (M(kubeha.cluster.converged_info), registered as
    C(_kubeha_converged)). When the fast path is on and every host of the play is converged, the stages are skipped
    and only the final check runs; otherwise every stage runs on every host."
  - "Returns the decision and the line site.yml prints: each host that is not converged with the first reason
    (its drift), and how many more it has; a host whose record was not read says so."
options:
  _input:
    description: The play's hosts (C(ansible_play_hosts_all)).
    type: list
    elements: str
    required: true
  hostvars:
    description: C(hostvars) (each host's C(_kubeha_converged)).
    type: dict
    required: true
  fast_path:
    description: C(kubeha_site_fast_path).
    type: bool
    default: true
"""

EXAMPLES = r"""
- name: Say which path this run takes, and why
  ansible.builtin.debug:
    msg: "{{ (ansible_play_hosts_all | kubeha.cluster.site_path(hostvars, fast_path=kubeha_site_fast_path | default(true))).message }}"
  run_once: true
"""

RETURN = r"""
_value:
  description: The path.
  type: dict
  contains:
    converged:
      description: Whether the stages are skipped (the fast path is on and every host is converged).
      type: bool
    message:
      description: The path and why, one line.
      type: str
      sample: "Every stage runs on every host. m2: /srv/kubernetes/server.key: mode is 0644, 0600 recorded."
"""

from ansible.module_utils.parsing.convert_bool import boolean

from ansible_collections.kubeha.cluster.plugins.plugin_utils._plan import converged_record

CONVERGED = ("Every host is as the last finished run left it, with the same inputs: the stages are skipped and only the "
             "final check runs (kubeha_site_fast_path=false runs them anyway).")


def site_path(hosts, hostvars, fast_path=True):
    """The path site.yml takes and its message (see DOCUMENTATION)."""
    if not boolean(fast_path, strict=False):
        return {"converged": False, "message": "Every stage runs (kubeha_site_fast_path is false)."}
    reasons = []
    for host in [str(h) for h in hosts or []]:
        record = converged_record(hostvars, host)
        if not boolean(record.get("converged", False), strict=False):
            drift = [str(d) for d in record.get("drift") or []] or ["not read"]
            more = " (and %d more)" % (len(drift) - 1) if len(drift) > 1 else ""
            reasons.append(" %s: %s%s." % (host, drift[0], more))
    if not reasons:
        return {"converged": True, "message": CONVERGED}
    return {"converged": False, "message": "Every stage runs on every host." + "".join(reasons)}


class FilterModule:
    """site.yml's path."""

    def filters(self):
        return {"site_path": site_path}
