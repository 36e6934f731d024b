# Copyright (c) kubeha developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The Debian packages a daemon comes from, installed when missing without letting them start anything.

A package's postinst would start its service at once with the packaged configuration (Debian's
etcd-server starts a single-node etcd, haproxy binds :80); a temporary policy-rc.d forbids that, so
the daemon starts only when kubeha has written its files.
"""

from __future__ import annotations


import os

from .common import DaemonError, run, tail

POLICY = "/usr/sbin/policy-rc.d"


def missing(names):
    """The packages of ``names`` that are not installed (one dpkg-query call)."""
    if not names:
        return []
    rc, out, err = run(["dpkg-query", "-W", "-f=${Package} ${db:Status-Status}\\n"] + list(names), timeout=60)
    if rc not in (0, 1):
        raise DaemonError("dpkg-query failed (rc %d): %s; packages need a Debian-family host with dpkg" % (rc, tail(err or out)))
    installed = set()
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1] == "installed":
            installed.add(parts[0].split(":")[0])
    return [n for n in names if n not in installed]


def install(names):
    """apt-get install the packages (refreshing the index once if apt cannot find them), services kept stopped."""
    env = {"DEBIAN_FRONTEND": "noninteractive"}
    own_policy = not os.path.exists(POLICY)
    if own_policy:
        with open(POLICY, "w") as handle:
            handle.write("#!/bin/sh\n# written by kubeha while it installs packages: no service starts from a postinst\nexit 101\n")
        os.chmod(POLICY, 0o755)
    try:
        argv = ["apt-get", "install", "-y", "-q", "--no-install-recommends", "-o", "Dpkg::Options::=--force-confold"] + list(names)
        rc, out, err = run(argv, env=env, timeout=1800)
        if rc != 0:
            urc, uout, uerr = run(["apt-get", "update", "-q"], env=env, timeout=600)
            if urc != 0:
                raise DaemonError("apt-get update failed (rc %d): %s; check the host's apt sources and network" % (urc, tail(uerr or uout, 5)))
            rc, out, err = run(argv, env=env, timeout=1800)
        if rc != 0:
            raise DaemonError("apt-get install %s failed (rc %d): %s; install them by hand or fix the host's apt sources" % (
                " ".join(names), rc, tail(err or out, 8)))
    finally:
        if own_policy and os.path.exists(POLICY):
            os.unlink(POLICY)
