# Copyright (c) kubeha developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""etcd_check: the whole validation an operator does on a cluster, in one call.

1. Every member healthy, polled until ``wait_timeout`` (the quorum verdict of :mod:`.health`).
2. The member list equal to ``expected_members`` (names and peer URLs; no learner left), if given.
3. A probe key written through one member and read back through a different one (value compared, read at
   the revision of the write so a concurrent writer cannot make it differ). The key is written with a
   short lease that is revoked once it is read back: it is validation, not a change, so the result is
   never ``changed``. In check mode nothing is written: the key is only read through the same two members.
4. The leader and the database sizes, in the result and in one ``summary`` line.

Nothing is written when a check before the probe fails.
"""

from __future__ import annotations

import datetime
import socket
import time
import uuid

from .client import EtcdConfigError, EtcdError, norm_url, parse_endpoint
from .common import client_from_params
from .health import ADVICE_DOWN, describe, poll_cluster
from .snapshot import verdict as snapshot_verdict

PROBE_PREFIX = "/kubeha/probe/"  # default probe key: this prefix and the host name
PROBE_TTL = 60  # seconds: the probe key outlives a run that dies between the write and the revoke by this much

ADVICE_MEMBERS = ("remove foreign members with kubeha.cluster.etcd_member (state=absent) or add their hosts to the "
                  "inventory; promote a caught-up learner with kubeha.cluster.etcd_member (promote=true)")


def parse_expected(entries):
    """``["etcd1=https://10.0.0.11:2380", ...]`` -> ``{"etcd1": ["https://10.0.0.11:2380"]}`` (several URLs: comma-separated)."""
    if entries is None:
        return None
    expected = {}
    for entry in entries:
        name, sep, urls = (entry or "").partition("=")
        name = name.strip()
        peer_urls = sorted(norm_url(u) for u in urls.split(",") if u.strip())
        if not sep or not name or not peer_urls:
            raise EtcdConfigError("expected_members entry %r is not name=peer_url, like etcd1=https://10.0.0.11:2380"
                                  % (entry,))
        for url in peer_urls:
            try:
                parse_endpoint(url)
            except EtcdConfigError as exc:
                raise EtcdConfigError("expected_members entry %r: peer URL %s" % (entry, exc.msg)) from None
        if name in expected:
            raise EtcdConfigError("expected_members names %s twice" % name)
        expected[name] = peer_urls
    if not expected:
        raise EtcdConfigError("expected_members is empty; give one name=peer_url per member or leave it out")
    return expected


def _seen_text(member):
    return "%s=%s" % (member["name"] or "(unstarted)", ",".join(member["peer_urls"]))


def membership_problems(members, expected):
    """What differs between the member list and ``expected`` (from :func:`parse_expected`), one text per problem."""
    problems = []
    by_name = {}
    for member in members:
        peer_urls = sorted(norm_url(u) for u in member["peer_urls"])
        if not member["name"]:
            match = [n for n, urls in expected.items() if urls == peer_urls]
            if match:
                problems.append("%s was added (peer %s) but has not started yet" % (match[0], ",".join(peer_urls)))
            else:
                problems.append("an unstarted member with peer %s is not expected" % ",".join(peer_urls))
            continue
        by_name[member["name"]] = member
        if member["name"] not in expected:
            problems.append("%s (peer %s) is a member but not expected" % (member["name"], ",".join(peer_urls)))
        elif peer_urls != expected[member["name"]]:
            problems.append("%s has peer URLs %s, expected %s"
                            % (member["name"], ",".join(peer_urls), ",".join(expected[member["name"]])))
        if member["is_learner"]:
            problems.append("%s is still a learner" % member["name"])
    for name, urls in expected.items():
        if name not in by_name and not any(sorted(norm_url(u) for u in m["peer_urls"]) == urls
                                           for m in members if not m["name"]):
            problems.append("%s (peer %s) is expected but not a member" % (name, ",".join(urls)))
    return problems


def _wait_for_cluster(client, expected, wait_timeout, clock, sleep):
    """Poll until every member is healthy and the member list is right, or the deadline; the last look."""
    def ready(info):
        return info["quorum"] and not info["down"] and not (expected and membership_problems(info["members"], expected))
    info, unreachable = poll_cluster(client, ready, wait_timeout, clock, sleep)
    problems = membership_problems(info["members"], expected) if info is not None and expected else []
    return info, unreachable, problems


def _fail_cluster(info, unreachable, problems, expected, waited):
    """Raise the EtcdError that says what is wrong with the cluster (nothing was written)."""
    if info is None:
        raise EtcdError("etcd check failed: no etcd endpoint answered%s: %s. Nothing was written. Start etcd on those "
                        "hosts (systemctl start etcd; journalctl -u etcd) and check that the endpoints are their client "
                        "URLs and the TLS settings." % (waited, "; ".join(str(e) for e in unreachable.errors)),
                        **unreachable.result)
    result = _cluster_result(info)
    if not info["quorum"]:
        raise EtcdError("etcd quorum lost%s: %s. Nothing was written. Start the stopped members (systemctl start etcd; "
                        "journalctl -u etcd); if too many have lost their data, restore a snapshot." % (
                            waited, describe(info)), **result)
    if info["down"]:
        raise EtcdError("etcd members down%s: %s. Nothing was written. For the down members: %s." % (
            waited, describe(info), ADVICE_DOWN), **result)
    raise EtcdError("etcd's members differ from the %d expected%s: %s. Members: %s; expected: %s. Nothing was "
                    "written. To fix: %s." % (
                        len(expected), waited, "; ".join(problems), ", ".join(_seen_text(m) for m in info["members"]),
                        ", ".join("%s=%s" % (n, ",".join(u)) for n, u in expected.items()), ADVICE_MEMBERS),
                    problems=problems, **result)


def _cluster_result(info):
    result = {k: v for k, v in info.items() if k != "down_details"}
    sizes = [e["db_size"] for e in info["endpoints"] if e["healthy"]]
    result["db_size"] = max(sizes) if sizes else 0
    return result


def _member_name(info, member_id):
    return next((m["name"] for m in info["members"] if m["id"] == member_id), "") or member_id


def _pick_reader(info, client, writer_id):
    """A healthy voting member other than the writer (the last one among the given endpoints if possible)."""
    given = {norm_url(e) for e in client.endpoints}
    others = [m for m in info["members"]
              if m["id"] != writer_id and m["healthy"] and not m["is_learner"] and m["client_urls"]]
    if not others:
        return None
    preferred = [m for m in others if given & {norm_url(u) for u in m["client_urls"]}]
    return (preferred or others)[-1]


def _endpoint_client(params, endpoint):
    """A client for exactly one endpoint (no failover: the probe must go through that member)."""
    return client_from_params(dict(params, endpoints=[endpoint]))


def _probe(params, client, info, key, check_mode):
    """Write ``key`` through one member and read it back through another; the ``probe`` result."""
    write_ep = client.endpoints[0]
    try:
        writer_id = client.status(write_ep)["member_id"]
    except EtcdError as exc:
        raise EtcdError("etcd check: the write endpoint %s does not answer its status: %s. Nothing was written. Put a "
                        "member's client URL first in endpoints." % (write_ep, exc), **_cluster_result(info)) from None
    reader = _pick_reader(info, client, writer_id)
    read_ep = reader["client_urls"][0] if reader else write_ep
    probe = {"key": key, "written": False, "write_endpoint": write_ep, "write_member": _member_name(info, writer_id),
             "read_endpoint": read_ep, "read_member": reader["name"] if reader else _member_name(info, writer_id),
             "revision": 0, "value": "", "read_value": None, "removed": False, "note": ""}
    if reader is None:
        probe["note"] = "one voting member only: read back through the member that wrote"
    writer, reading = _endpoint_client(params, write_ep), _endpoint_client(params, read_ep)
    if check_mode:
        for who in (writer, reading):
            who.get(key)  # a linearizable read through each member; nothing is written
        probe["note"] = ("check mode: nothing written; %s read through %s and %s" % (
            key, probe["write_member"], probe["read_member"]) + ("; " + probe["note"] if probe["note"] else ""))
        return probe, []
    now = datetime.datetime.now(datetime.timezone.utc).isoformat()
    value = "probe %s written through %s at %s" % (uuid.uuid4().hex, probe["write_member"], now)
    probe["value"] = value
    warnings = []
    try:
        lease_id, _ttl = writer.lease_grant(PROBE_TTL)
    except EtcdError as exc:
        raise EtcdError("etcd check: granting the probe's lease through %s (%s) failed: %s. Nothing was written. The "
                        "members are healthy but the cluster refuses writes: look at etcd's log there (journalctl -u "
                        "etcd) and its alarms (a full database: defragment, raise quota-backend-bytes, disarm)." % (
                            probe["write_member"], write_ep, exc), probe=probe, **_cluster_result(info)) from None
    try:
        try:
            writer.put(key, value, lease=lease_id)
        except EtcdError as exc:
            raise EtcdError("etcd check: writing the probe key %s through %s (%s) failed: %s. The members are healthy but "
                            "the cluster refuses writes: look at etcd's log there (journalctl -u etcd) and its alarms "
                            "(a full database: defragment, raise quota-backend-bytes, disarm)." % (
                                key, probe["write_member"], write_ep, exc), probe=probe, **_cluster_result(info)) from None
        probe["written"] = True
        probe["revision"] = writer.revision
        try:
            kvs = reading.get(key, revision=probe["revision"])
        except EtcdError as exc:
            raise EtcdError("etcd check: reading the probe key %s back through %s (%s) failed: %s. It was written "
                            "through %s at revision %d. Look at etcd's log on %s (journalctl -u etcd)." % (
                                key, probe["read_member"], read_ep, exc, probe["write_member"], probe["revision"],
                                probe["read_member"]), probe=probe, **_cluster_result(info)) from None
        probe["read_value"] = kvs[0].value if kvs else None
        if probe["read_value"] != value:
            raise EtcdError("etcd check: the probe key %s read back through %s (%s) at revision %d holds %s, but %r was "
                            "written through %s: the members disagree. Compare their raft index and revision "
                            "(kubeha.cluster.etcd_cluster_info), read etcd's log on %s and write nothing else until "
                            "it is understood." % (
                                key, probe["read_member"], read_ep, probe["revision"],
                                "no value" if probe["read_value"] is None else repr(probe["read_value"]), value,
                                probe["write_member"], probe["read_member"]), probe=probe, **_cluster_result(info))
    finally:
        try:
            writer.lease_revoke(lease_id)
            probe["removed"] = True
        except EtcdError as exc:
            warnings.append("the probe key %s was not removed (%s); its lease ends in %ds and takes it away"
                            % (key, exc, PROBE_TTL))
    return probe, warnings


def summary(info, probe, expected):
    """One line for people: health, leader, members, database size, the probe."""
    text = describe(info)
    if expected:
        text += "; members equal the %d expected" % len(expected)
    text += "; db size %d bytes (largest)" % _cluster_result(info)["db_size"]
    if probe["written"]:
        text += "; probe written through %s, read back through %s" % (probe["write_member"], probe["read_member"])
    else:
        text += "; " + probe["note"]
    return text


def run_check(params, check_mode=False, clock=time.monotonic, sleep=time.sleep):
    """etcd_check: the result dict (never changed), or raise EtcdError saying what failed, what was seen, what to do."""
    expected = parse_expected(params.get("expected_members"))
    wait_timeout = float(params.get("wait_timeout") or 0)
    if wait_timeout < 0:
        raise EtcdConfigError("wait_timeout must not be negative, got %g" % wait_timeout)
    key = params.get("probe_key")
    if key is None:
        key = PROBE_PREFIX + socket.gethostname()
    if not key:
        raise EtcdConfigError("probe_key must not be empty")
    client = client_from_params(params)
    info, unreachable, problems = _wait_for_cluster(client, expected, wait_timeout, clock, sleep)
    try:
        if info is None or not info["quorum"] or info["down"] or problems:
            _fail_cluster(info, unreachable, problems, expected,
                          " after waiting %gs" % wait_timeout if wait_timeout else "")
        probe, warnings = _probe(params, client, info, key, check_mode)
    except EtcdError as exc:
        exc.result.setdefault("changed", False)  # a failed check changed nothing: say so in the result
        raise
    result = _cluster_result(info)
    result.update(changed=False, probe=probe, summary=summary(info, probe, expected), warnings=warnings)
    if params.get("snapshot_status_key"):
        recorded = client.get_one(params["snapshot_status_key"])
        snap, snap_problems = snapshot_verdict(recorded.value if recorded is not None else None, time.time(),
                                               float(params.get("snapshot_max_age") or 43200))
        result["snapshot"] = dict(snap, problems=snap_problems)
        warnings.extend(snap_problems)
    return result
