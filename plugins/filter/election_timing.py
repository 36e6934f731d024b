# Copyright (c) kubeha developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The election_timing filter: what is wrong with podmaster's and the components' election timing."""

from __future__ import annotations

DOCUMENTATION = r"""
name: election_timing
short_description: Problems of podmaster's lock timing and of the components' own leader election
version_added: 0.2.0
description:
  - Returns a list of messages, empty when the timing is safe. Each message names the role variables
    to change and why.
  - podmaster's timing is checked by the same code the podmaster daemon checks its configuration
    with, so the role refuses exactly what the daemon would refuse, before any host changes. That
    includes the fence for a frozen holder, systemd's watchdog plus the time to stop a component,
    which must stay below the margin.
  - "The components' leader election: client-go needs lease duration > renew deadline > 1.2 x retry
    period > 0. Under podmaster, the lease duration must also stay below podmaster's TTL, or a new
    holder's components wait for the dead holder's Lease."
options:
  _input:
    description: "podmaster's settings: ttl, renew_interval, margin, poll_interval, timeout, watchdog, stop_timeout."
    type: dict
    required: true
  leader_elect:
    description: "The components' leader election in seconds: lease_duration, renew_deadline, retry_period. Empty when it is off."
    type: dict
    default: {}
  podmaster:
    description: Whether podmaster elects the components (false checks only the leader election).
    type: bool
    default: true
  prefix:
    description: Prefix of the role's variable names, used in the messages.
    type: str
    default: control_plane_
"""

EXAMPLES = r"""
- name: Refuse unsafe timing before any host changes
  ansible.builtin.assert:
    that: problems | length == 0
    fail_msg: "{{ problems | join(' ') }}"
  vars:
    problems: >-
      {{ {'ttl': 4, 'renew_interval': 1, 'margin': 2, 'timeout': 0.75, 'watchdog': 1, 'stop_timeout': 0.5}
         | kubeha.cluster.election_timing(leader_elect={'lease_duration': 2, 'renew_deadline': 1.5, 'retry_period': 0.5}) }}
"""

RETURN = r"""
_value:
  description: One message per problem; empty when the timing is safe.
  type: list
  elements: str
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.kubeha.cluster.plugins.module_utils._podmaster.elector import Settings

JITTER = 1.2  # client-go's leaderelection.JitterFactor


def _number(value, name):
    try:
        return float(value)
    except (TypeError, ValueError):
        raise AnsibleFilterError("election_timing: %s must be a number of seconds, got %r" % (name, value)) from None


def election_timing(settings, leader_elect=None, podmaster=True, prefix="control_plane_"):
    """List of problems (strings) with the timing; empty when it is safe."""
    if not isinstance(settings, dict):
        raise AnsibleFilterError("election_timing: expected a dict of podmaster settings, got %r" % (settings,))
    out = []
    if podmaster:
        values = {name: _number(value, prefix + "podmaster_" + name)
                  for name, value in settings.items() if name in Settings.FIELDS and value is not None}
        try:
            found = Settings(**values).problems()
        except ValueError as exc:
            found = [str(exc)]
        out.extend("podmaster timing (%spodmaster_*): %s." % (prefix, problem) for problem in found)
    if leader_elect:
        lease, renew, retry = (_number(leader_elect.get(name), prefix + "leader_elect_" + name)
                               for name in ("lease_duration", "renew_deadline", "retry_period"))
        if not (lease > renew > retry * JITTER and retry > 0):
            out.append("the components' leader election is lease duration %g s, renew deadline %g s, retry period %g s: "
                       "client-go needs lease duration > renew deadline > 1.2 x retry period > 0; fix "
                       "%sleader_elect_lease_duration, _renew_deadline or _retry_period." % (lease, renew, retry, prefix))
        ttl = settings.get("ttl")
        if podmaster and ttl is not None and lease >= _number(ttl, prefix + "podmaster_ttl"):
            out.append("%sleader_elect_lease_duration is %g s, not less than podmaster's TTL (%s s): after a holder dies, "
                       "the new holder's components would wait for the dead one's Lease. Make it shorter than "
                       "%spodmaster_ttl." % (prefix, lease, ttl, prefix))
    return out


class FilterModule:
    """kubeha election timing filter."""

    def filters(self):
        return {"election_timing": election_timing}
