"""Time of one whole etcd_cluster_info module run against a local 3-member etcd.

    python bench/etcd_cluster_info.py [--runs 30] [--plain] [--etcd /path/to/etcd]

Each run is what Ansible does on a node: a new Python process executing the module with its args
file (interpreter start, imports, argument parsing, member list, /health and status of all three
members, JSON out). TLS with client certificates by default (as the collection deploys etcd);
``--plain`` for HTTP. Prints every figure, then median and p95 (nearest rank). Target: <= 300 ms
per call. For context it also prints the in-process time of the module's work (member list and
probes, without interpreter start and imports), the bare ``import ansible.module_utils.basic`` cost,
the CPU time of each module process (user+sys: what the run costs, whatever the load) and the load
average (the other figures are wall-clock times on a possibly shared machine). It never asserts: it
prints figures.
"""

from __future__ import annotations

import argparse
import math
import os
import resource
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests"))

from support.etcd_cluster import COLLECTIONS_ROOT, run_module, start_cluster  # noqa: E402  pylint: disable=wrong-import-position

sys.path.insert(0, COLLECTIONS_ROOT)

LINK = os.path.join(COLLECTIONS_ROOT, "ansible_collections", "kubeha", "cluster")


def nearest_rank(values, pct):
    ordered = sorted(values)
    return ordered[max(0, math.ceil(pct / 100.0 * len(ordered)) - 1)]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--plain", action="store_true", help="plain HTTP instead of TLS with client certs")
    parser.add_argument("--etcd", default=None, help="etcd binary (default: $ETCD_BIN or /usr/bin/etcd)")
    opts = parser.parse_args()
    if not os.path.exists(LINK):
        os.makedirs(os.path.dirname(LINK), exist_ok=True)
        os.symlink(os.path.join("..", "..", "..", ".."), LINK)

    with start_cluster(3, tls=not opts.plain, binary=opts.etcd) as cluster:
        args = cluster.connection_args()
        first = run_module("etcd_cluster_info", args)  # warm the page cache; not counted
        if first.get("failed"):
            sys.exit("etcd_cluster_info failed: %s" % first.get("msg"))
        mode = "plain" if opts.plain else "TLS + client certs"
        print("etcd %s, %d members, %s, python %s" % (
            first["endpoints"][0]["version"], first["member_count"], mode, sys.version.split()[0]))
        times, cpu = [], []
        for _run in range(opts.runs):
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            start = time.perf_counter()
            result = run_module("etcd_cluster_info", args)
            times.append((time.perf_counter() - start) * 1000.0)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu.append((after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime) * 1000.0)
            if result.get("failed") or result["healthy_count"] != 3:
                sys.exit("run failed: %s" % result.get("msg", result))
        # pylint: disable-next=import-outside-toplevel
        from ansible_collections.kubeha.cluster.plugins.module_utils._etcd.health import run_cluster_info
        params = dict(args, timeout=5.0, wait=False, wait_timeout=0, expected_members=None)
        inner = []
        for _run in range(opts.runs):
            start = time.perf_counter()
            run_cluster_info(params)
            inner.append((time.perf_counter() - start) * 1000.0)
    imports = []
    for _run in range(min(opts.runs, 10)):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import ansible.module_utils.basic"], check=True)
        imports.append((time.perf_counter() - start) * 1000.0)
    print("runs (ms): " + " ".join("%.0f" % t for t in times))
    print("load average: %s" % " ".join("%.2f" % x for x in os.getloadavg()))
    print("python start + import ansible.module_utils.basic alone: median %.0f ms" % statistics.median(imports))
    print("module work in process (member list + 3x health/status): median %.1f ms, p95 %.1f ms"
          % (statistics.median(inner), nearest_rank(inner, 95)))
    print("CPU time of one module process (user+sys, independent of load): median %.0f ms, p95 %.0f ms"
          % (statistics.median(cpu), nearest_rank(cpu, 95)))
    print("etcd_cluster_info whole module run: median %.0f ms, p95 %.0f ms, min %.0f ms, max %.0f ms (n=%d; target <= 300 ms)"
          % (statistics.median(times), nearest_rank(times, 95), min(times), max(times), len(times)))


if __name__ == "__main__":
    main()
