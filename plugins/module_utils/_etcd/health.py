# Copyright (c) kubeha developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Cluster health: per-member probes, the quorum verdict, and a bounded wait for a healthy cluster."""

from __future__ import annotations

import threading
import time

from .client import EtcdConfigError, EtcdConnectionError, EtcdEndpointError, EtcdError
from .common import client_from_params

POLL_INTERVAL = 0.5

ADVICE_DOWN = ("start etcd on them (systemctl start etcd) and read their logs (journalctl -u etcd); a member whose "
               "data is lost must be removed (kubeha.cluster.etcd_member state=absent) and added again")


def quorum_verdict(healthy, size):
    """The quorum verdict for ``healthy`` healthy voting members out of ``size``.

    Returns ``healthy_count``, ``member_count``, ``quorum_size`` (size // 2 + 1), ``quorum`` (bool) and
    ``failure_tolerance`` (how many more members may fail with the quorum kept; 0 without quorum).
    """
    healthy = int(healthy)
    size = int(size)
    needed = size // 2 + 1
    quorum = size > 0 and healthy >= needed
    return {"healthy_count": healthy, "member_count": size, "quorum_size": needed, "quorum": quorum,
            "failure_tolerance": healthy - needed if quorum else 0}


def probe_endpoint(client, endpoint):
    """Health and status of one endpoint, as the ``endpoints`` entries of etcd_cluster_info."""
    entry = {"endpoint": endpoint, "healthy": False, "error": "", "member_id": "", "leader": "", "is_leader": False,
             "version": "", "db_size": 0, "raft_term": 0, "raft_index": 0, "revision": 0}
    try:
        status = client.status(endpoint)
    except EtcdEndpointError as exc:
        entry["error"] = exc.cause
        return entry
    for name in ("member_id", "leader", "version", "db_size", "raft_term", "raft_index", "revision"):
        entry[name] = status[name]
    entry["is_leader"] = bool(status["leader"]) and status["leader"] == status["member_id"]
    if status["errors"]:
        entry["error"] = "etcd reports: %s" % "; ".join(status["errors"])
        return entry
    try:
        client.health(endpoint)
    except EtcdEndpointError as exc:
        entry["error"] = exc.cause
        return entry
    entry["healthy"] = True
    return entry


def _probe_all(client, endpoints):
    results = [None] * len(endpoints)

    def work(i, endpoint):
        results[i] = probe_endpoint(client, endpoint)

    threads = [threading.Thread(target=work, args=(i, ep), daemon=True) for i, ep in enumerate(endpoints)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def _label(member):
    return member["name"] or ",".join(member["peer_urls"]) or member["id"]


def cluster_info(client):
    """Members, per-member health, leader and the quorum verdict; raises EtcdConnectionError if no endpoint answers."""
    members = client.member_list()
    header = client.last_header
    probe_urls = [m["client_urls"][0] for m in members if m["client_urls"]]
    entries = dict(zip(probe_urls, _probe_all(client, probe_urls)))
    by_id = {m["id"]: m for m in members}
    down = []
    for member in members:
        entry = entries.get(member["client_urls"][0]) if member["client_urls"] else None
        member["healthy"] = bool(entry and entry["healthy"] and entry["member_id"] == member["id"])
        if entry and entry["healthy"] and entry["member_id"] != member["id"]:
            entry["healthy"] = False
            entry["error"] = "answered as member %s, not %s (%s)" % (entry["member_id"], member["id"], _label(member))
        if not member["healthy"]:
            why = entry["error"] if entry else "not started yet (no client URL)"
            down.append({"name": _label(member), "endpoint": entry["endpoint"] if entry else "", "error": why})
    voting = [m for m in members if not m["is_learner"]]
    verdict = quorum_verdict(sum(1 for m in voting if m["healthy"]), len(voting))
    leaders = {}
    for entry in entries.values():
        if entry["healthy"] and entry["leader"]:
            leaders[entry["leader"]] = leaders.get(entry["leader"], 0) + 1
    leader_id = max(leaders, key=leaders.get) if leaders else ""
    info = {
        "cluster_id": "%x" % int(header.get("cluster_id") or 0),
        "members": members,
        "endpoints": list(entries.values()),
        "leader_id": leader_id,
        "leader": by_id[leader_id]["name"] if leader_id in by_id else "",
        "down": [d["name"] for d in down],
        "down_details": down,
    }
    info.update(verdict)
    return info


def describe(info):
    """One line: '2/3 voting members healthy (quorum 2, held); down: etcd3 (url: refused)'."""
    text = "%d/%d voting members healthy (quorum needs %d, %s)" % (
        info["healthy_count"], info["member_count"], info["quorum_size"], "held" if info["quorum"] else "LOST")
    if info["down_details"]:
        text += "; down: " + ", ".join("%s (%s)" % (d["name"], d["error"] if not d["endpoint"] else "%s: %s" % (
            d["endpoint"], d["error"])) for d in info["down_details"])
    if info.get("leader"):
        text += "; leader: %s" % info["leader"]
    return text


def _complete(info, expected):
    return (info["quorum"] and not info["down"]
            and (expected is None or info["member_count"] == expected))


def poll_cluster(client, ready, wait_timeout, clock=time.monotonic, sleep=time.sleep):
    """:func:`cluster_info` until ``ready(info)`` or ``wait_timeout`` seconds pass (0: one look).

    Returns ``(info, None)``, or ``(None, EtcdConnectionError)`` when no endpoint answered the last look.
    """
    deadline = clock() + wait_timeout
    while True:
        try:
            info, unreachable = cluster_info(client), None
        except EtcdConnectionError as exc:
            info, unreachable = None, exc
        if (info is not None and ready(info)) or clock() >= deadline:
            return info, unreachable
        sleep(max(0.0, min(POLL_INTERVAL, deadline - clock())))


def run_cluster_info(params, clock=time.monotonic, sleep=time.sleep):
    """etcd_cluster_info: the result dict, or raise EtcdError with the state in ``result``."""
    expected = params.get("expected_members")
    if expected is not None and expected < 1:
        raise EtcdConfigError("expected_members must be 1 or more, got %d" % expected)
    wait_timeout = float(params.get("wait_timeout") or 0)
    if wait_timeout < 0:
        raise EtcdConfigError("wait_timeout must not be negative, got %g" % wait_timeout)
    client = client_from_params(params)
    wait = bool(params.get("wait"))
    info, unreachable = poll_cluster(client, lambda seen: _complete(seen, expected), wait_timeout if wait else 0, clock, sleep)
    waited = " after waiting %gs" % wait_timeout if wait else ""
    if info is None:
        raise EtcdError("no etcd endpoint answered%s: %s. Check that etcd runs on those hosts, that the endpoints "
                        "are its client URLs, and the TLS settings." % (
                            waited, "; ".join(str(e) for e in unreachable.errors)), **unreachable.result)
    result = dict(info)
    result.pop("down_details")
    if not info["quorum"]:
        raise EtcdError("etcd quorum lost%s: %s. Bring back the down members: %s." % (waited, describe(info), ADVICE_DOWN),
                        **result)
    if expected is not None and info["member_count"] != expected:
        raise EtcdError("etcd has %d voting members, %d expected%s: %s. Members: %s." % (
            info["member_count"], expected, waited, describe(info),
            ", ".join("%s%s" % (_label(m), " (learner)" if m["is_learner"] else "") for m in info["members"])),
            **result)
    if wait and info["down"]:
        raise EtcdError("etcd members still down%s: %s. For the down members: %s." % (waited, describe(info), ADVICE_DOWN),
                        **result)
    warnings = []
    if info["down"]:
        warnings.append("etcd is degraded: %s. For the down members: %s." % (describe(info), ADVICE_DOWN))
    result["warnings"] = warnings
    return result
