# Copyright (c) kubeha developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The grow_kubelet_server filter: the apiserver a joining master's kubelet first talks to while site.yml grows a cluster."""

from __future__ import annotations

DOCUMENTATION = r"""
name: grow_kubelet_server
short_description: The apiserver a master's kubelet first talks to while site.yml grows a single-master cluster
version_added: 0.6.0
author:
  - kubeha developers (@kubeha)
description:
  - "Growing a cluster (C(secrets_adopt)) in static_pod mode, a master that joins it - one other than the grown master,
    with no record of a finished run - gets its kubelet pointed at the grown master's apiserver in site.yml's first pass
    over the masters. That apiserver serves before the balancer does, and a kubelet replaces no static pod until it has
    heard from an API, so the joining master can replace its static pods in the etcd stage. The workers' play then moves
    the kubelet to the load-balanced endpoint (this filter returns an empty string there: C(worker_kubelet_server)'s
    default)."
  - Returns that apiserver's URL (without C(/readyz)), or an empty string for every other master, mode or run.
options:
  _input:
    description: The master's inventory name.
    type: str
    required: true
  hostvars:
    description: C(hostvars) (the grown master's C(_apiserver_planned), and this master's C(_kubeha_converged)).
    type: dict
    required: true
  masters:
    description: The masters, in inventory order (the first is the grown master when C(secrets_adopt) names none).
    type: list
    elements: str
    required: true
  adopt:
    description: C(secrets_adopt) (empty when the run does not grow a cluster).
    type: dict
    default: {}
  mode:
    description: C(kubeha_mode).
    type: str
    default: host
"""

EXAMPLES = r"""
- name: The kubelet's apiserver in the masters' first pass
  ansible.builtin.debug:
    msg: >-
      {{ inventory_hostname | kubeha.cluster.grow_kubelet_server(hostvars, groups['masters'], adopt=secrets_adopt | default({}),
         mode=kubeha_mode | default('host')) }}
"""

RETURN = r"""
_value:
  description: The grown master's apiserver URL, or an empty string.
  type: str
"""

import re
from collections.abc import Mapping

from ansible.errors import AnsibleFilterError

from ansible_collections.kubeha.cluster.plugins.plugin_utils._plan import converged_record, get


def grow_kubelet_server(host, hostvars, masters, adopt=None, mode="host"):
    """The grown master's apiserver for a master joining the cluster being grown; else '' (see DOCUMENTATION)."""
    adopt = adopt if isinstance(adopt, Mapping) else {}
    masters = [str(m) for m in masters or []]
    if not adopt or str(mode) != "static_pod" or not masters:
        return ""
    grown = str(get(adopt, "from_host") or masters[0])
    if str(host) == grown:
        return ""
    # site.yml's fast-path play reads every host while growing: a master with a record of a finished run (written) is a
    # member already, and one that was not read (its read skipped) is not told apart; both stay on the balanced endpoint
    converged = converged_record(hostvars, host)
    if "converged" not in converged or "written" in converged:
        return ""
    units = get(get(get(hostvars, grown) or {}, "_apiserver_planned") or {}, "units") or []
    url = str(get(get(units[0], "health") or {}, "url") or "") if units else ""
    if not url:
        raise AnsibleFilterError("grow_kubelet_server: %s joins the cluster grown from %s, whose apiserver's address is not known "
                                 "in this run (it was not in the play: --limit?). Run site.yml on every master while growing "
                                 "(secrets_adopt)." % (host, grown))
    return re.sub(r"/readyz$", "", url)


class FilterModule:
    """The grow's kubelet server."""

    def filters(self):
        return {"grow_kubelet_server": grow_kubelet_server}
