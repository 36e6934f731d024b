"""Restore time: etcd_restore (playbooks/etcd-restore.yml's member step) on a 3-member TLS etcd with 10,000 keys.

    python bench/etcd_restore.py [--keys 10000] [--value-bytes 1024] [--runs 5] [--etcd /path/to/etcd]

Fills a local 3-member etcd (TLS with client certificates) with ``--keys`` keys of ``--value-bytes`` bytes, takes
a snapshot with the etcd_snapshot module, then ``--runs`` times: stops every member, restores each one's data with
the etcd_restore module as Ansible runs it (a new Python process: the snapshot checked page by page, the data set
aside, ``etcdutl snapshot restore --bump-revision --mark-compacted``, the marker), one member after the other here
(the playbook runs them in parallel, one per host), starts the members and waits until all are healthy. Prints
each figure, the medians (per member restore, and the whole etcd part: stop, restore, healthy again), and the load
average. It never asserts: it prints figures. The playbook adds the control plane's stop and the site.yml run.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import time

# the snapshot bench's cluster filling and options (its directory is on sys.path when it is run as a script)
from etcd_snapshot import etcd_binary, fill, options, run_module, start_cluster  # pylint: disable=wrong-import-position


def main():
    opts = options(__doc__)
    etcdutl = os.path.join(os.path.dirname(opts.etcd or etcd_binary()), "etcdutl")
    with start_cluster(3, tls=True, binary=opts.etcd) as cluster, tempfile.TemporaryDirectory(prefix="kubeha-bench-restore-") as work:
        start = time.perf_counter()
        fill(cluster, opts.keys, opts.value_bytes)
        print("filled %d keys of %d bytes in %.1f s" % (opts.keys, opts.value_bytes, time.perf_counter() - start))
        members = [{"name": m.name, "client_url": m.client_url} for m in cluster.members]
        taken = run_module("etcd_snapshot", dict(cluster.connection_args(), members=members, name=members[0]["name"],
                                                 directory=os.path.join(work, "snaps")))
        if taken.get("failed"):
            sys.exit("etcd_snapshot failed: %s" % taken.get("msg"))
        snap = taken["snapshot"]
        per_member, whole = [], []
        for run in range(opts.runs):
            start = time.perf_counter()
            for m in cluster.members:
                m.stop()
            for m in cluster.members:
                began = time.perf_counter()
                result = run_module("etcd_restore", dict(
                    snapshot=snap["path"], sha256=snap["sha256"], etcdutl=etcdutl, name=m.name, initial_cluster=cluster.initial_cluster(),
                    peer_url=m.peer_url, token="bench-%d" % run, data_path=m.data_dir, bump_revision=1000000000))
                per_member.append(time.perf_counter() - began)
                if result.get("failed"):
                    sys.exit("etcd_restore failed: %s" % result.get("msg"))
            for m in cluster.members:
                m.start()
            cluster.wait_healthy()
            whole.append(time.perf_counter() - start)
        print("snapshot: %d bytes, %d keys, revision %d" % (snap["file_size"], snap["total_key"], snap["revision"]))
        print("etcd_restore module runs, per member (s): " + " ".join("%.2f" % t for t in per_member))
        print("stop, restore three members one after the other, start, all healthy (s): " + " ".join("%.2f" % t for t in whole))
        print("load average: %s" % " ".join("%.2f" % x for x in os.getloadavg()))
        print(json.dumps({"keys": opts.keys, "value_bytes": opts.value_bytes, "snapshot_bytes": snap["file_size"],
                          "etcd_restore_member_s_median": round(statistics.median(per_member), 3),
                          "etcd_part_s_median": round(statistics.median(whole), 3), "runs": opts.runs}))


if __name__ == "__main__":
    main()
