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
"""

from __future__ import annotations

import logging

from .._etcd.client import EtcdError

LOG = logging.getLogger("podmaster")


class LeaderAvoider:
    """Moves etcd's leadership away from ``local_endpoint``'s member while this podmaster holds a key."""

    def __init__(self, client, local_endpoint, interval=2.0, backoff=10.0):
        self.client = client
        self.local_endpoint = local_endpoint
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
        if not status["leader"] or status["leader"] != status["member_id"]:
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
