"""Benchmark kube_secrets: the whole bundle for 3 masters and 5 etcd members, cold and with nothing to do.

Prints figures; asserts nothing about time. Targets (issue 5): <= 2 s cold, <= 300 ms when nothing changes.

    python bench/kube_secrets.py [--rounds N] [--key-type rsa2048|ecdsa-p256]

Two measures: the module as Ansible runs it (a Python process: interpreter start, imports, work) and
the work alone (plan, apply, bundles in-process); each in wall time and CPU time (which a busy
machine inflates much less).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COLLECTIONS = os.path.join(ROOT, ".cache", "collections")
sys.path.insert(0, COLLECTIONS)
sys.path.insert(0, os.path.join(ROOT, "tests", "unit"))
# conftest links the collection into .cache/collections
import conftest  # noqa: E402,F401  pylint: disable=unused-import,wrong-import-position

from ansible_collections.kubeha.cluster.plugins.module_utils._pki.engine import Engine  # noqa: E402  pylint: disable=wrong-import-position

MODULE = "ansible_collections.kubeha.cluster.plugins.modules.kube_secrets"


def description(dest, key_type):
    masters = [dict(name="master%d" % i, ip="10.0.0.%d" % (10 + i)) for i in range(1, 4)]
    members = [dict(name="etcd%d" % i, ip="10.0.0.%d" % (20 + i)) for i in range(1, 6)]
    return dict(
        dest=dest, masters=masters, etcd_members=members, nodes=[m["name"] for m in masters],
        lb_addresses=["10.0.0.100"], lb_dns_names=["k8s.example.com"], service_cidr="10.96.0.0/12",
        cluster_domain="cluster.local", key_type=key_type, renew_before=90, cert_valid_days=365, ca_valid_days=3650,
        regenerate_ca=[], basic_auth_users=[dict(name="admin", uid=None, groups=["system:masters"], password=None)],
        tokens=[dict(name=n, uid=None, groups=[], token=None) for n in ("admin", "kubelet", "kube-proxy")],
        bundles=[dict(host=m["name"], master=True, node=True, etcd_member=None) for m in masters]
        + [dict(host=e["name"], master=False, node=False, etcd_member=e["name"]) for e in members],
        distribute_ca_key=False, etcd_owner="root", etcd_group="root",
    )


def in_process(params):
    start, cpu = time.perf_counter(), time.process_time()
    engine = Engine(params)
    engine.plan()
    engine.apply()
    engine.bundles(False)
    return time.perf_counter() - start, time.process_time() - cpu, engine.changed()


def _children_cpu():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def as_process(params, workdir):
    args = os.path.join(workdir, "args.json")
    with open(args, "w") as handle:
        json.dump({"ANSIBLE_MODULE_ARGS": params}, handle)
    env = dict(os.environ, PYTHONPATH=COLLECTIONS)
    start, cpu = time.perf_counter(), _children_cpu()
    proc = subprocess.run([sys.executable, "-m", MODULE, args], capture_output=True, text=True, env=env, check=True)
    elapsed = time.perf_counter() - start
    return elapsed, _children_cpu() - cpu, json.loads(proc.stdout)["changed"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--key-type", default="rsa2048", choices=["rsa2048", "rsa3072", "rsa4096", "ecdsa-p256"])
    opts = parser.parse_args()
    figures = {}
    workdir = tempfile.mkdtemp(prefix="kube-secrets-bench-")
    try:
        for label, runner in (("module process", lambda p: as_process(p, workdir)), ("work in-process", in_process)):
            cold, warm = [], []
            for _round in range(opts.rounds):
                dest = os.path.join(workdir, "secrets")
                shutil.rmtree(dest, ignore_errors=True)
                params = description(dest, opts.key_type)
                elapsed, cpu, changed = runner(params)
                if not changed:
                    raise SystemExit("a cold run changed nothing: the benchmark is broken")
                cold.append((elapsed, cpu))
                elapsed, cpu, changed = runner(params)
                if changed:
                    raise SystemExit("a second run changed something: kube_secrets is not idempotent")
                warm.append((elapsed, cpu))
            figures[label] = (cold, warm)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    files = 2 * 2 + 2 + 7 * 2 + 3 * 2 + 5 * 4
    print("kube_secrets: 3 masters (also nodes), 5 etcd members, %s keys, %d key/cert files + 2 CSV + 8 bundles; %d rounds, "
          "%d CPUs, load average %.1f (figures scale with it)" % (opts.key_type, files, opts.rounds, os.cpu_count() or 0, os.getloadavg()[0]))
    print("%-16s %-13s %10s %10s %10s %12s   target (wall)" % ("", "", "wall med", "wall min", "wall max", "CPU median"))
    for label, (cold, warm) in figures.items():
        for name, values, target in (("cold", cold, "<= 2 s"), ("nothing to do", warm, "<= 300 ms")):
            wall = [v[0] for v in values]
            cpu = statistics.median(v[1] for v in values)
            ms = [statistics.median(wall) * 1000, min(wall) * 1000, max(wall) * 1000, cpu * 1000]
            print("%-16s %-13s %8.0fms %8.0fms %8.0fms %10.0fms   %s" % tuple([label, name] + ms + [target]))
    print("CPU time is user+system of the work (threads add up); with %d CPUs, an idle machine's wall time is about CPU / %d for"
          " key generation" % (os.cpu_count() or 1, os.cpu_count() or 1))


if __name__ == "__main__":
    main()
