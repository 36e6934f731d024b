# Copyright (c) kubeha developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Keep etcd's leader off the master that holds podmaster's keys.

When one machine both holds a key and leads etcd, its death costs twice: etcd first elects a new
leader, and the new leader extends every lease (by its election timeout, back to the full TTL), so
the dead holder's podmaster lease outlives it by seconds more. The holder therefore looks, every
``interval`` seconds, whether its own etcd member leads; if so it hands etcd's leadership to a
voting member on a machine that holds no key (by member name = podmaster identity), at most once
per ``backoff`` seconds. A leadership transfer pauses etcd's writes for about one round trip.

A move is itself a leader change, and so extends every lease too. It must never come while another
holder may be dead and its lease counting down (a takeover then waits seconds more). So: no move
within ``quiet`` seconds of a leader change (etcd's raft term; right after an election a dead holder's
lease looks as fresh as a live one's, for up to its TTL plus the election timeout), and none while a
holder's lease has less than ``min_ttl`` seconds left (a live holder renews every renew_interval, so its
lease stays near the full TTL). The keys and their holders are read from etcd at the time of the move.
"""

from __future__ import annotations

import logging

from .._etcd.client import EtcdError

LOG = logging.getLogger("podmaster")


class LeaderAvoider:
    """Moves etcd's leadership away from ``local_endpoint``'s member while this podmaster holds a key."""

    def __init__(self, client, local_endpoint, interval=1.0, backoff=3.0, keys=(), min_ttl=0, quiet=0.0):
        self.client = client
        self.local_endpoint = local_endpoint
        self.quiet = float(quiet)       # seconds after a leader change without a move
        self.term = None                # etcd's raft term at the last check
        self.term_seen = 0.0            # when it last changed
        self.keys = list(keys)          # podmaster's keys, read at the time of a move
        self.min_ttl = int(min_ttl)     # a holder's lease with less left may be counting down: no move
        self.interval = float(interval)
        self.backoff = float(backoff)
        self.next_check = 0.0
        self.moves = 0

    def _answers(self, member, call):
        for url in member["client_urls"]:
            try:
                if call(self.client.status, url.rstrip("/"))["member_id"] == member["id"]:
                    return True
            except EtcdError:
                continue  # refused, timed out, TLS: not a target now
        return False

    def check(self, now, holders, call=None):
        """Move the leadership if the local member leads; returns what was done (or None).

        ``holders``: the identities that hold a key (this podmaster's included). ``call(func, *args)``
        sends an etcd request (the elector's, which checks its deadline first); default: direct.
        """
        if now < self.next_check:
            return None
        self.next_check = now + self.interval
        call = call or (lambda func, *args: func(*args))
        status = call(self.client.status, self.local_endpoint)
        if status["raft_term"] != self.term:
            self.term, self.term_seen = status["raft_term"], now
        if not status["leader"] or status["leader"] != status["member_id"]:
            return None
        if now - self.term_seen < self.quiet:
            LOG.debug("not moving etcd's leadership yet: the leader changed %.1fs ago (a dead holder's lease is extended "
                      "for up to %.0fs after an election)", now - self.term_seen, self.quiet)
            return None
        for key in self.keys:
            for kv in call(self.client.get, key):
                holders = set(holders) | {kv.value}
                left = call(self.client.lease_timetolive, kv.lease)["ttl"] if kv.lease else -1
                if kv.lease and left < self.min_ttl:
                    LOG.debug("not moving etcd's leadership: %s's lease on %s has %ds left (a holder that may be dead; a "
                              "leader change would extend its lease)", kv.value, key, left)
                    return None
        members = call(self.client.member_list)
        # only to a voting member on a master that holds no key (else two holders would hand it back and forth),
        # and only one that answers now: a transfer to a member that is down stalls etcd's writes until it times out
        voters = sorted((m for m in members if m["id"] != status["member_id"] and not m["is_learner"] and m["client_urls"]
                         and m["name"] not in holders), key=lambda m: m["name"])
        target = next((m for m in voters if self._answers(m, call)), None)
        if target is None:
            return None
        call(self.client.move_leader, self.local_endpoint, target["id"])
        self.moves += 1
        self.next_check = now + self.backoff
        done = "moved etcd's leadership from this master's member %s to %s (%s): a holder's crash should not also cost " \
               "etcd a leader" % (status["member_id"], target["name"] or target["id"], target["id"])
        LOG.info("%s", done)
        return done
