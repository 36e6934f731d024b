"""Snapshot time and size: etcd_snapshot (the timer's and etcd-backup.yml's code) on a 3-member TLS etcd with 10,000 keys.

    python bench/etcd_snapshot.py [--keys 10000] [--value-bytes 1024] [--runs 5] [--etcd /path/to/etcd]

Fills a local 3-member etcd (TLS with client certificates, as the collection deploys it) with ``--keys`` keys
of ``--value-bytes`` bytes under /registry/ (about what a few thousand Kubernetes objects weigh), then takes
``--runs`` snapshots with the etcd_snapshot module as Ansible runs it (a new Python process: stream through
the gateway, check every page as etcdutl does, keep, prune, record), and as many with ``etcdctl snapshot
save`` (gRPC, no check) for comparison. Prints every figure, the medians, the snapshot's size, and the load
average. It never asserts: it prints figures.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests"))

from support.etcd_cluster import COLLECTIONS_ROOT, etcd_binary, run_module, start_cluster  # noqa: E402  pylint: disable=wrong-import-position

sys.path.insert(0, COLLECTIONS_ROOT)


def fill(cluster, keys, value_bytes):
    # pylint: disable-next=import-outside-toplevel
    from ansible_collections.kubeha.cluster.plugins.module_utils._etcd.client import EtcdClient
    conn = cluster.connection_args()
    client = EtcdClient(conn.pop("endpoints"), **conn)
    value = "x" * value_bytes
    for i in range(keys):
        client.put("/registry/bench/%06d" % i, value)


def options(doc):
    """The options of the etcd data benches (this one and bench/etcd_restore.py)."""
    parser = argparse.ArgumentParser(description=doc.split("\n", 1)[0])
    parser.add_argument("--keys", type=int, default=10000)
    parser.add_argument("--value-bytes", type=int, default=1024)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--etcd", default=None, help="etcd binary (default: $ETCD_BIN, the default release)")
    return parser.parse_args()


def main():
    opts = options(__doc__)
    etcdctl = os.path.join(os.path.dirname(opts.etcd or etcd_binary()), "etcdctl")
    with start_cluster(3, tls=True, binary=opts.etcd) as cluster, tempfile.TemporaryDirectory(prefix="kubeha-bench-snap-") as work:
        start = time.perf_counter()
        fill(cluster, opts.keys, opts.value_bytes)
        print("filled %d keys of %d bytes in %.1f s" % (opts.keys, opts.value_bytes, time.perf_counter() - start))
        members = [{"name": m.name, "client_url": m.client_url} for m in cluster.members]
        args = dict(cluster.connection_args(), members=members, name=members[0]["name"], directory=os.path.join(work, "snaps"),
                    keep=2)
        ours, theirs, checks, sizes = [], [], [], []
        for run in range(opts.runs):
            start = time.perf_counter()
            result = run_module("etcd_snapshot", args)
            ours.append(time.perf_counter() - start)
            if result.get("failed"):
                sys.exit("etcd_snapshot failed: %s" % result.get("msg"))
            snap = result["snapshot"]
            sizes.append(snap["file_size"])
            # pylint: disable-next=import-outside-toplevel
            from ansible_collections.kubeha.cluster.plugins.module_utils._etcd.bolt import read_status
            start = time.perf_counter()
            read_status(snap["path"])
            checks.append(time.perf_counter() - start)
            tls = cluster.tls
            out = os.path.join(work, "etcdctl-%d.db" % run)
            start = time.perf_counter()
            subprocess.run([etcdctl, "--endpoints", members[0]["client_url"], "--cacert", tls.ca, "--cert", tls.client_cert,
                            "--key", tls.client_key, "snapshot", "save", out], check=True, capture_output=True)
            theirs.append(time.perf_counter() - start)
            os.unlink(out)
        print("keys in the snapshot: %d, revision %d" % (snap["total_key"], snap["revision"]))
        print("etcd_snapshot module runs (s): " + " ".join("%.2f" % t for t in ours))
        print("  of which the check (every page, CRC-32C, sha256) in process (s): " + " ".join("%.2f" % t for t in checks))
        print("etcdctl snapshot save (s): " + " ".join("%.2f" % t for t in theirs))
        print("load average: %s" % " ".join("%.2f" % x for x in os.getloadavg()))
        print(json.dumps({"keys": opts.keys, "value_bytes": opts.value_bytes, "snapshot_bytes_median": statistics.median(sizes),
                          "etcd_snapshot_s_median": round(statistics.median(ours), 3),
                          "check_s_median": round(statistics.median(checks), 3),
                          "etcdctl_save_s_median": round(statistics.median(theirs), 3), "runs": opts.runs}))


if __name__ == "__main__":
    main()
