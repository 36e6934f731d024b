"""Helpers for the _pki tests (imported by name: pytest puts this directory on sys.path)."""

from __future__ import annotations

import subprocess

from ansible_collections.kubeha.cluster.plugins.module_utils._pki.engine import UNCHANGED, Engine


def cluster(dest, **over):
    """The module's parameters (with its defaults) for 2 masters, 3 etcd members, 1 worker."""
    params = dict(
        dest=str(dest),
        masters=[dict(name="m1", ip="10.0.0.1"), dict(name="m2", ip="10.0.0.2")],
        etcd_members=[dict(name="m1", ip="10.0.0.1"), dict(name="m2", ip="10.0.0.2"), dict(name="e3", ip="10.0.0.3")],
        nodes=["m1", "m2", "w1"],
        lb_addresses=[],
        lb_dns_names=[],
        service_cidr="10.96.0.0/12",
        cluster_domain="cluster.local",
        key_type="ecdsa-p256",  # fast; RSA (the default) has its own tests
        renew_before=90,
        cert_valid_days=365,
        ca_valid_days=3650,
        regenerate_ca=[],
        basic_auth_users=[],
        tokens=[],
        bundles=[],
        distribute_ca_key=False,
        etcd_owner="root",
        etcd_group="root",
    )
    params.update(over)
    return params


class Run:
    """One run of the engine, the way the module drives it."""

    def __init__(self, params, check=False):
        self.warnings = []
        self.engine = Engine(params, warn=self.warnings.append)
        self.engine.plan()
        if not check:
            self.engine.apply()
        self.bundles = self.engine.bundles(check)
        self.files = self.engine.files
        self.changed = self.engine.changed()

    def changes(self):
        """{file: action} of every file that changed."""
        return {rel: f["action"] for rel, f in self.files.items() if f["action"] != UNCHANGED}

    def reasons(self, rel):
        return " | ".join(self.files[rel]["reasons"])


def openssl_verify(ca, cert, purpose=None):
    """`openssl verify` of one certificate against one CA: (ok, output)."""
    cmd = ["openssl", "verify", "-x509_strict", "-CAfile", str(ca)]
    if purpose:
        cmd += ["-purpose", purpose]
    proc = subprocess.run(cmd + [str(cert)], capture_output=True, text=True, check=False)
    return proc.returncode == 0 and proc.stdout.strip().endswith(": OK"), proc.stdout + proc.stderr
