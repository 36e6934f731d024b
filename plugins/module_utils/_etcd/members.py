# Copyright (c) kubeha developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""etcd_member: add (as learner), promote, update peer URLs, remove without losing the quorum."""

from __future__ import annotations

import time

from .client import EtcdConfigError, EtcdError, parse_endpoint
from .common import client_from_params
from .health import cluster_info, describe, quorum_verdict

# etcd refusals that go away by themselves: a cluster whose members connected less than 5 s ago,
# a learner still catching up with the leader, an election in progress
TRANSIENT = ("unhealthy cluster", "in sync with leader", "no leader", "leader changed")
POLL_INTERVAL = 0.5


def _norm_urls(urls, what):
    out = []
    for url in urls or []:
        try:
            out.append(parse_endpoint(url))
        except EtcdConfigError as exc:
            raise EtcdConfigError("%s: %s" % (what, exc.msg.replace("endpoint", "URL", 1))) from None
    return out


def find_member(members, name=None, peer_urls=()):
    """The member with ``name`` or sharing one of ``peer_urls``; raises if they point at different members."""
    wanted = set(_norm_urls(peer_urls, "peer_urls"))
    by_name = [m for m in members if name and m["name"] == name]
    by_url = [m for m in members if wanted & set(_norm_urls(m["peer_urls"], "peer_urls"))]
    found = {m["id"]: m for m in by_name + by_url}
    if len(found) > 1:
        raise EtcdError("name %r and peer_urls %s match different members: %s; fix the name or the URLs" % (
            name, ",".join(peer_urls), ", ".join("%s (%s, %s)" % (m["id"], m["name"] or "unstarted",
                                                                  ",".join(m["peer_urls"])) for m in found.values())))
    return next(iter(found.values()), None)


def _retry(action, wait_timeout, clock=time.monotonic, sleep=time.sleep):
    deadline = clock() + wait_timeout
    while True:
        try:
            return action()
        except EtcdError as exc:
            text = str(exc).lower()
            if not any(t in text for t in TRANSIENT) or clock() >= deadline:
                raise
        sleep(max(0.0, min(POLL_INTERVAL, deadline - clock())))


def _members(client):
    """The member list as the cluster committed it (a quorum read).

    A membership change is answered once the leader applied it; the member that reads next may not have yet, and
    its own view would still show the member added, a learner promoted or a member removed as before.
    """
    return client.member_list(linearizable=True)


def _add(client, peer_urls, learner):
    """member_add, and if its answer was an error, a look whether it was applied all the same.

    An add whose answer is lost (a timeout, "leader changed" after the proposal) may be in the cluster;
    trying it again would fail with "Peer URLs already exists". The member list decides: a member with
    these peer URLs is the one just added.
    """
    try:
        return client.member_add(peer_urls, learner=learner)
    except EtcdError as exc:
        try:
            members = _members(client)
        except EtcdError:
            raise exc from None
        found = find_member(members, None, peer_urls)
        if found is None:
            raise
        return found, members


def _staying_client(client, member, members):
    """A client for the removal of ``member`` and the reads after it: endpoints of members that stay.

    A removed member stops once it applies its own removal: a request it serves then fails ("etcdserver: server
    stopped", a refused connection) although the removal was applied, and a read through it may see the list from
    before. The configured endpoints that are not the member's come first (an endpoint that is none of the members'
    client URLs is asked which member it is), then the client URLs of the voters that stay, so a run pointed only at
    the leaving member reads through the others.
    """
    gone_id = member["id"]
    gone_urls = set(_norm_urls(member["client_urls"], "client_urls"))
    known = {}
    for other in members:
        for url in _norm_urls(other["client_urls"], "client_urls"):
            known[url] = other["id"]
    endpoints = []
    for endpoint in client.endpoints:
        if endpoint in gone_urls:
            continue
        if endpoint not in known:
            try:
                known[endpoint] = client.status(endpoint)["member_id"]
            except EtcdError:
                known[endpoint] = ""
        if known[endpoint] != gone_id:
            endpoints.append(endpoint)
    for other in members:
        if other["id"] != gone_id and not other["is_learner"]:
            endpoints += [u for u in _norm_urls(other["client_urls"], "client_urls") if u not in endpoints]
    return client.with_endpoints(endpoints) if endpoints else client


def _remove(client, member):
    """member_remove, then the member list; an error whose removal was applied all the same counts as done.

    A removal whose answer is lost (the member that served it stopped, a timeout, "leader changed" after the
    proposal) may be in the cluster; the member list, read through a member that stays, decides.
    """
    try:
        client.member_remove(member["id"])
    except EtcdError as exc:
        try:
            members = _members(client)
        except EtcdError:
            raise exc from None
        if any(m["id"] == member["id"] for m in members):
            raise
        return members
    return _members(client)


def run_member(params, check_mode=False):
    """etcd_member: the result dict, or raise EtcdError."""
    name = params.get("name") or None
    peer_urls = _norm_urls(params.get("peer_urls"), "peer_urls")
    if not name and not peer_urls:
        raise EtcdConfigError("give name, peer_urls or both to identify the member")
    wait_timeout = float(params.get("wait_timeout") if params.get("wait_timeout") is not None else 30)
    client = client_from_params(params)
    try:
        members = _members(client)
    except EtcdError as exc:
        raise EtcdError("cannot read the member list with a quorum read (%s). Adding, promoting and removing a member "
                        "need a quorum of voting members: kubeha.cluster.etcd_check shows which members are down; start "
                        "them, or restore a snapshot (playbooks/etcd-restore.yml) if a majority is lost" % exc,
                        **exc.result) from None
    member = find_member(members, name, peer_urls)
    state = params.get("state") or "present"
    if state == "absent":
        return _absent(client, members, member, check_mode, wait_timeout, avoid=params.get("leader_avoid") or ())
    if state == "not_leader":
        return _not_leader(client, members, member, check_mode, wait_timeout, avoid=params.get("leader_avoid") or ())
    return _present(client, params, members, member, name, peer_urls, check_mode, wait_timeout)


def _result(actions, member, members, before):
    member_out = dict(member) if member else None
    return {"changed": bool(actions), "action": "_and_".join(actions) or "none", "member": member_out,
            "members": members, "diff": {"before": {"member": before} if before else {},
                                         "after": {"member": member_out} if member_out else {}}}


def _present(client, params, members, member, name, peer_urls, check_mode, wait_timeout):
    # pylint: disable=too-many-arguments,too-many-positional-arguments
    actions = []
    before = dict(member) if member else None
    if member is None:
        if not peer_urls:
            raise EtcdError("member %s is not in the cluster and cannot be added without peer_urls; members: %s" % (
                name, ", ".join(m["name"] or ",".join(m["peer_urls"]) for m in members)))
        learner = bool(params.get("learner", True))
        actions.append("added")
        if check_mode:
            member = {"id": "", "name": "", "peer_urls": peer_urls, "client_urls": [], "is_learner": learner}
            members = members + [member]
        else:
            member, members = _retry(lambda: _add(client, peer_urls, learner), wait_timeout)
    elif peer_urls and name and member["name"] == name and set(_norm_urls(member["peer_urls"], "peer_urls")) != set(peer_urls):
        actions.append("updated")
        if check_mode:
            member = dict(member, peer_urls=peer_urls)
        else:
            _retry(lambda: client.member_update(member["id"], peer_urls), wait_timeout)
            member = dict(member, peer_urls=peer_urls)
    if params.get("promote") and member["is_learner"]:
        actions.append("promoted")
        if not check_mode:
            try:
                _retry(lambda: client.member_promote(member["id"]), wait_timeout)
            except EtcdError as exc:
                if "in sync with leader" in str(exc):
                    raise EtcdError("learner %s (%s) is not caught up with the leader after %gs: start etcd on it "
                                    "(--initial-cluster-state existing) and wait until it has synced, then run again. "
                                    "etcd said: %s" % (member["name"] or "unstarted", ",".join(member["peer_urls"]),
                                                       wait_timeout, exc), member=member,
                                    action="_and_".join(a for a in actions if a != "promoted") or "none") from None
                raise
        member = dict(member, is_learner=False)
    if actions and not check_mode:
        members = _members(client)
        member = next((m for m in members if m["id"] == member["id"]), member)
    elif check_mode:
        members = [member if (m is member or (m["id"] and m["id"] == member["id"])) else m for m in members]
    return _result(actions, member, members, before)


def _absent(client, members, member, check_mode, wait_timeout, avoid=()):
    if member is None:
        return _result([], None, members, None)
    # a learner votes for nothing and leads nothing: only a voter's removal needs the cluster's health and leader
    info = None if member["is_learner"] else cluster_info(client)
    if info is not None:
        healthy = next((m["healthy"] for m in info["members"] if m["id"] == member["id"]), False)
        voting = [m for m in info["members"] if not m["is_learner"]]
        if len(voting) <= 1:
            raise EtcdError("refusing to remove %s: it is the last voting member of the cluster" % (
                member["name"] or member["id"]))
        after = quorum_verdict(info["healthy_count"] - (1 if healthy else 0), len(voting) - 1)
        if not after["quorum"]:
            raise EtcdError(
                "refusing to remove %s: the cluster would keep %d healthy of %d voting members, below its quorum of "
                "%d. Now: %s. Bring the down members back first (or replace them one at a time)." % (
                    member["name"] or member["id"], after["healthy_count"], after["member_count"],
                    after["quorum_size"], describe(info)), member=member)
    # the leader leaves last: hand its leadership to another healthy voter first, so the cluster does not wait
    # for an election after the removal (kubespray and etcd's runbook do the same)
    actions = ["leader_moved"] if info is not None and _hand_over(client, info, member, check_mode, wait_timeout, avoid) else []
    actions.append("removed")
    if not check_mode:
        staying = _staying_client(client, member, members)
        members = _retry(lambda: _remove(staying, member), wait_timeout)
    else:
        members = [m for m in members if m["id"] != member["id"]]
    return _result(actions, None, members, dict(member))


def _not_leader(client, members, member, check_mode, wait_timeout, avoid=()):
    """The member stays as it is; when it leads, its leadership moves to another healthy voter.

    Run before the member's etcd is stopped for good (its host leaves the cluster): the leadership moves once, to a
    member that stays, and the member's last moments serve no write of the cluster's.
    """
    if member is None or member["is_learner"]:
        return _result([], member, members, dict(member) if member else None)
    moved = _hand_over(client, cluster_info(client), member, check_mode, wait_timeout, avoid)
    return _result(["leader_moved"] if moved else [], member, members, dict(member))


def _hand_over(client, info, member, check_mode, wait_timeout, avoid):
    """When ``member`` leads (per ``info``), move its leadership (not in check mode); whether it led."""
    if info["leader_id"] != member["id"] or not member["client_urls"]:
        return False
    if not check_mode:
        _move_leader(client, info, member, wait_timeout, avoid=avoid)
    return True


def _move_leader(client, info, member, wait_timeout, avoid=(), clock=time.monotonic, sleep=time.sleep):
    """Hand the leadership of ``member`` (the leader) to another healthy voter; wait until it has moved.

    A voter named in ``avoid`` (by name or peer URL: members about to leave too) is chosen only when no other is healthy,
    so that the leadership moves once, not once per leaving member.
    """
    avoid = set(str(a) for a in avoid or ())
    candidates = [m for m in info["members"] if m["healthy"] and not m["is_learner"] and m["id"] != member["id"]]
    staying = [m for m in candidates if m.get("name") not in avoid and not avoid.intersection(m.get("peer_urls") or [])]
    target = (staying or candidates or [None])[0]
    if target is None:
        raise EtcdError("refusing to remove %s: it leads the cluster and no other voting member is healthy to take over. "
                        "Now: %s" % (member["name"] or member["id"], describe(info)), member=member)
    _retry(lambda: client.move_leader(member["client_urls"][0], target["id"]), wait_timeout)
    deadline = clock() + wait_timeout
    while True:
        now = cluster_info(client)
        if now["leader_id"] and now["leader_id"] != member["id"]:
            return now
        if clock() >= deadline:
            raise EtcdError("moved the leadership of %s to %s, but after %gs it still leads: %s" % (
                member["name"] or member["id"], target["name"] or target["id"], wait_timeout, describe(now)), member=member)
        sleep(0.2)
