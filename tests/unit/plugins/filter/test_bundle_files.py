"""kubeha.cluster.bundle_files filter: what a certificate bundle puts on a host, as the converged record keeps files."""

from __future__ import annotations

import hashlib

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.kubeha.cluster.plugins.filter.bundle_files import FilterModule, bundle_files
from ansible_collections.kubeha.cluster.plugins.module_utils._pki import bundle


def test_members_by_absolute_path_with_digest_mode_and_owner(tmp_path):
    path = tmp_path / "m1.tar"
    path.write_bytes(bundle.build([
        bundle.Member("srv/kubernetes", None, 0o700, 1),
        bundle.Member("srv/kubernetes/ca.crt", b"CA", 0o644, 1),
        bundle.Member("etc/etcd/pki/server.key", b"KEY", 0o600, 1, "etcd", "etcd"),
    ]))
    assert bundle_files(str(path)) == {
        "/srv/kubernetes": dict(state="directory", mode="0700", owner="root", group="root"),
        "/srv/kubernetes/ca.crt": dict(state="file", mode="0644", owner="root", group="root", sha256=hashlib.sha256(b"CA").hexdigest()),
        "/etc/etcd/pki/server.key": dict(state="file", mode="0600", owner="etcd", group="etcd", sha256=hashlib.sha256(b"KEY").hexdigest()),
    }
    assert FilterModule().filters()["bundle_files"] is bundle_files


def test_a_missing_bundle_names_the_path_and_the_fix(tmp_path):
    with pytest.raises(AnsibleFilterError, match=r"cannot read the bundle .*nope.tar.*run the secrets stage"):
        bundle_files(str(tmp_path / "nope.tar"))
