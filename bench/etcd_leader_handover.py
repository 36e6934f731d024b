"""Writes lost when a rolling restart of a 3-member etcd hands the leadership on: inventory order against leader last.

    python bench/etcd_leader_handover.py [--rolls 5] [--writers 4] [--interval 0.02] [--disk] [--etcd /path/to/etcd]

A graceful stop of the leader hands its leadership on (etcd's TryTransferLeadershipOnShutdown), and a write a follower
forwarded to it while the hand-over runs is dropped: the client waits etcd's request timeout (5 s + 2 election
timeouts) and gets "etcdserver: request timed out" (etcd-io/etcd#8975). Each roll restarts every member once (SIGTERM,
start, healthy), one at a time, as the etcd role's restart handler does: in the members' order ("inventory"), or with
the member that leads as the roll starts last ("leader-last", what the role does). Writers put keys through the JSON
gateway of a member picked at random among those not being restarted (an apiserver's etcd client leaves a member that
stops), never retrying. Prints, per order: the rolls, the leader changes the writers saw, the writes, the failed ones
with etcd's message and how long each waited, and the load average. Election timing is etcd's default (100/1000 ms),
as the role deploys it; ``--disk`` keeps the data on disk (default: tmpfs, like the unit tests). It never asserts.
"""

from __future__ import annotations

import argparse
import base64
import collections
import json
import os
import random
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests"))

from support import etcd_cluster  # noqa: E402  pylint: disable=wrong-import-position


def post(url, body, timeout=15.0):
    req = urllib.request.Request(url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, json.loads(resp.read() or b"{}")
    except urllib.error.HTTPError as err:
        try:
            return err.code, json.loads(err.read() or b"{}")
        except ValueError:
            return err.code, {}


def b64(text):
    return base64.b64encode(text.encode()).decode()


class Writers:
    """Threads that put keys through a member picked at random among those not in ``self.away``, never retrying."""

    def __init__(self, cluster, count, interval):
        self.cluster, self.count, self.interval = cluster, count, interval
        self.away = set()
        self.stop = False
        self.lock = threading.Lock()
        self.counts = collections.Counter()
        self.failures = []
        self.threads = []

    def _run(self, index):
        serial = 0
        while not self.stop:
            member = random.choice([m for m in self.cluster.members if m.name not in self.away])
            serial += 1
            began = time.monotonic()
            try:
                status, body = post(member.client_url + "/v3/kv/put", {"key": b64("w%d-%d" % (index, serial)), "value": b64("x" * 200)})
            except OSError:
                with self.lock:   # connection refused or reset: a client would try another member
                    self.counts["connection"] += 1
                continue
            with self.lock:
                if status == 200:
                    self.counts["ok"] += 1
                else:
                    self.counts["failed"] += 1
                    said = body.get("error") or body.get("message") or status
                    self.failures.append("%s: %s after %.1f s" % (member.name, said, time.monotonic() - began))
            time.sleep(self.interval)

    def __enter__(self):
        self.threads = [threading.Thread(target=self._run, args=(i,), daemon=True) for i in range(self.count)]
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc):
        self.stop = True
        for thread in self.threads:
            thread.join()


def status(member):
    return post(member.client_url + "/v3/maintenance/status", {}, timeout=3)[1]


def leader(cluster):
    """The member that leads, as the first member that answers sees it (None when none answers)."""
    ids = {}
    for member in cluster.members:
        try:
            ids[status(member)["header"]["member_id"]] = member
        except (OSError, KeyError, ValueError):
            continue
    for member in cluster.members:
        try:
            return ids.get(status(member)["leader"])
        except (OSError, KeyError, ValueError):
            continue
    return None


def roll(cluster, writers, order):
    """Restart every member once, one at a time; return how many times the leader changed."""
    first = leader(cluster)
    members = list(cluster.members)
    if order == "leader-last" and first is not None:
        members = [m for m in members if m is not first] + [first]
    changes, seen = 0, first
    for member in members:
        writers.away.add(member.name)
        time.sleep(0.3)   # the writers' requests in flight on it end
        member.stop()
        member.start()
        member.wait_healthy()
        writers.away.discard(member.name)
        time.sleep(1.0)
        now = leader(cluster)
        if now is not seen:
            changes += 1
            seen = now
    return changes


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rolls", type=int, default=5, help="rolls per order")
    parser.add_argument("--writers", type=int, default=4)
    parser.add_argument("--interval", type=float, default=0.02, help="each writer's pause between writes (s)")
    parser.add_argument("--disk", action="store_true", help="data on disk under $TMPDIR instead of tmpfs")
    parser.add_argument("--etcd", default=None, help="etcd binary (default: $ETCD_BIN)")
    opts = parser.parse_args()
    if opts.disk:
        etcd_cluster._scratch_dir = lambda prefix: tempfile.mkdtemp(prefix=prefix)  # pylint: disable=protected-access
    timing = ["--heartbeat-interval", "100", "--election-timeout", "1000"]
    for order in ("inventory", "leader-last"):
        with etcd_cluster.start_cluster(3, binary=opts.etcd, extra_args=timing) as cluster:
            with Writers(cluster, opts.writers, opts.interval) as writers:
                time.sleep(2)
                began = time.monotonic()
                changes = [roll(cluster, writers, order) for _round in range(opts.rolls)]
                seconds = time.monotonic() - began
            counts = writers.counts
            print("%-11s %d rolls, leader changes %s (%d in all), %d writes in %.0f s, %d failed, %d refused connections"
                  % (order, opts.rolls, changes, sum(changes), counts["ok"] + counts["failed"], seconds, counts["failed"],
                     counts["connection"]))
            for failure in writers.failures:
                print("    " + failure)
    load = " ".join("%.2f" % x for x in os.getloadavg())
    print("load average %s, %d cores, data on %s" % (load, os.cpu_count(), "disk" if opts.disk else "tmpfs"))


if __name__ == "__main__":
    main()
