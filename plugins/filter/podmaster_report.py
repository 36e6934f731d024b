# Copyright (c) kubeha developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Filters for the control_plane role's last check: every master's podmaster status, and whether they agree.

Documented in podmaster_statuses.yml and podmaster_report.yml next to this file.
"""

from __future__ import annotations

import json
import time

from ansible.errors import AnsibleFilterError

from ansible_collections.kubeha.cluster.plugins.plugin_utils._plan import get


def _parse(text):
    text = str(text or "")
    if text.startswith("{"):
        try:
            return json.loads(text)
        except ValueError:
            pass
    return {"unreadable": text or "nothing"}


def podmaster_statuses(masters, hostvars, result="_control_plane_daemon", read="_control_plane_status_read"):
    """Each master's podmaster status as last read: the read task's output, else what the daemon call's health printed.

    A status the daemon call's health printed is stale when a handler restarted podmaster on any master since (a
    restart hands that master's keys over): it then counts as unread."""
    if not isinstance(masters, (list, tuple)):
        raise AnsibleFilterError("podmaster_statuses: expected a list of masters, got %r" % (masters,))
    restarted = [m for m in masters if "podmaster" in (get(get(get(hostvars, m, {}), result, {}), "restart_pending", []) or [])]
    out = {}
    for m in masters:
        hv = get(hostvars, m, {})
        done = get(hv, read, {"skipped": True})
        if not get(done, "skipped", False):
            out[m] = _parse(get(done, "stdout", ""))
            continue
        health = get(get(get(get(hv, result, {}), "units", {}), "podmaster", {}), "health", "")
        if restarted and str(health).startswith("{"):
            out[m] = {"unreadable": "stale: podmaster was restarted on %s after this status" % ", ".join(restarted)}
        else:
            out[m] = _parse(health)
    return out


def _clock(seconds):
    try:
        return time.strftime("%H:%M:%S", time.localtime(int(float(seconds or 0))))
    except (TypeError, ValueError):
        return "?"


def podmaster_report(statuses, components, reread_seconds=0):
    """Per component: the masters that run it, the holders they name, what each reported, and whether they agree
    (exactly one runs it and every master names that one); the verdict and the messages for the check."""
    if not isinstance(statuses, dict):
        raise AnsibleFilterError("podmaster_report: expected master name -> status, got %r" % (statuses,))
    report = {}
    for c in components:
        active, holders, said = [], [], {}
        for m, st in statuses.items():
            if "unreadable" in st:
                said[m] = "no status: %s" % st["unreadable"]
                holder = "?"
            else:
                comp = get(get(st, "components", {}), c, {}) or {}
                holder = comp.get("holder") or "?"
                if comp.get("active"):
                    active.append(m)
                said[m] = "holder %s%s, %s since %s, status of %s" % (
                    holder, " (held here)" if comp.get("held") else "", "active" if comp.get("active") else "standby",
                    _clock(comp.get("since")), _clock(st.get("updated")))
            if holder not in holders:
                holders.append(holder)
        report[c] = {"agreed": len(active) == 1 and holders == active, "active": active, "holders": holders, "reported": said}
    agreed = all(r["agreed"] for r in report.values())
    # a master's status read before another master's latest change (a lease moved after that read): the disagreement may
    # be the reads' skew, not a split; the check reads again past its deadline (bounded) for this
    read_at = [float(st.get("updated") or 0) for st in statuses.values() if "unreadable" not in st]
    changed_at = [float((comp or {}).get("since") or 0) for st in statuses.values() if "unreadable" not in st
                  for comp in (get(st, "components", {}) or {}).values()]
    stale_read = not agreed and bool(read_at) and bool(changed_at) and max(changed_at) > min(read_at)
    parts = ["%s: active on %s, holders named %s (%s)" % (
        c, " and ".join(r["active"]) if r["active"] else "no master", ", ".join(r["holders"]),
        "; ".join("%s: %s" % item for item in r["reported"].items())) for c, r in report.items() if not r["agreed"]]
    message = ("control_plane: the masters' podmasters still disagree on which master runs each elected component after reading"
               " again for %s s: %s. Two masters active at once is a split: read podmaster's journal there (journalctl -u"
               " podmaster) and check etcd's health; no master active or a holder unknown ('?'): podmaster there cannot reach"
               " etcd or cannot start the component." % (reread_seconds, ". ".join(parts)))
    summary = ", ".join("%s on %s" % (c, r["active"][0]) for c, r in report.items() if r["active"])
    return {"components": report, "agreed": agreed, "message": message if not agreed else "", "summary": summary,
            "stale_read": stale_read}


class FilterModule:
    """kubeha podmaster status filters."""

    def filters(self):
        return {"podmaster_statuses": podmaster_statuses, "podmaster_report": podmaster_report}
