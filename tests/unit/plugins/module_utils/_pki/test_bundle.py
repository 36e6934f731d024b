"""Per-host bundles: stable bytes, and GNU tar (what unarchive runs) restores content, modes and owners."""

from __future__ import annotations

import os
import subprocess

import pytest

from ansible_collections.kubeha.cluster.plugins.module_utils._pki import bundle

HOSTS = [dict(host="m1", master=True, node=True, etcd_member="m1"), dict(host="e3", etcd_member="e3"), dict(host="w1", node=True)]


def _tar(*args):
    proc = subprocess.run(["tar"] + list(args), capture_output=True, text=True, check=False)
    return proc.returncode, proc.stdout + proc.stderr


def test_bundles_hold_exactly_each_hosts_files(params, run, tmp_path):
    result = run(params(bundles=HOSTS))
    names = {host: set(bundle.names(open(path, "rb").read())) for host, path in result.bundles.items()}
    etcd = {"etc/etcd/pki", "etc/etcd/pki/ca.crt", "etc/etcd/pki/peer.crt", "etc/etcd/pki/peer.key",
            "etc/etcd/pki/server.crt", "etc/etcd/pki/server.key"}
    assert names["e3"] == etcd  # etcd-only: no Kubernetes CA file, no apiserver key
    assert names["w1"] == {"srv/kubernetes", "srv/kubernetes/ca.crt", "srv/kubernetes/kubelet.crt", "srv/kubernetes/kubelet.key",
                           "srv/kubernetes/kube-proxy.crt", "srv/kubernetes/kube-proxy.key"}
    guide = {"ca.crt", "server.cert", "server.key", "kubecfg.crt", "kubecfg.key", "basic_auth.csv", "known_tokens.csv"}
    assert {"srv/kubernetes/" + n for n in guide} <= names["m1"] and etcd <= names["m1"]
    assert not any(n.endswith(("ca.key", "etcd-ca.key")) for n in set().union(*names.values()))
    # the etcd files of m1 are m1's own
    dest = tmp_path / "secrets"
    extract = tmp_path / "root"
    extract.mkdir()
    assert _tar("-C", str(extract), "-xf", result.bundles["m1"])[0] == 0
    assert (extract / "etc/etcd/pki/peer.crt").read_bytes() == (dest / "etcd/m1/peer.crt").read_bytes()
    assert (extract / "srv/kubernetes/server.cert").read_bytes() == (dest / "kubernetes/apiserver.crt").read_bytes()


def test_ca_key_only_on_request(params, run):
    result = run(params(bundles=HOSTS, distribute_ca_key=True))
    assert "srv/kubernetes/ca.key" in bundle.names(open(result.bundles["m1"], "rb").read())
    assert "srv/kubernetes/ca.key" not in bundle.names(open(result.bundles["w1"], "rb").read())


def test_bundle_bytes_stable_and_rebuilt_only_on_change(params, run):
    first = run(params(bundles=HOSTS))
    data = {h: open(p, "rb").read() for h, p in first.bundles.items()}
    assert not run(params(bundles=HOSTS)).changed
    assert {h: open(p, "rb").read() for h, p in first.bundles.items()} == data
    check = run(params(bundles=HOSTS, lb_addresses=["10.0.0.100"]), check=True)
    assert check.changes() == {"kubernetes/apiserver.crt": "reissued", "bundles/m1.tar": "updated"}
    assert "kubernetes/apiserver.crt" in check.reasons("bundles/m1.tar")
    assert run(params(bundles=HOSTS, lb_addresses=["10.0.0.100"])).changes() == check.changes()


@pytest.mark.skipif(os.getuid() != 0, reason="unpacking with owners needs root")
def test_gnu_tar_diff_sees_and_unpack_restores_modes_owners_content(params, run, tmp_path):
    result = run(params(bundles=HOSTS, etcd_owner="nobody", etcd_group="nogroup"))
    root = tmp_path / "root"
    root.mkdir()
    tar = result.bundles["m1"]
    assert _tar("-C", str(root), "-xf", tar)[0] == 0
    assert _tar("--diff", "-C", str(root), "-f", tar) == (0, "")
    key = root / "srv/kubernetes/server.key"
    assert (key.stat().st_mode & 0o777, key.stat().st_uid) == (0o600, 0)
    assert (root / "srv/kubernetes/ca.crt").stat().st_mode & 0o777 == 0o644
    assert (root / "srv/kubernetes").stat().st_mode & 0o777 == 0o700
    peer = root / "etc/etcd/pki/peer.key"
    assert peer.stat().st_uid == 65534
    os.chmod(key, 0o644)
    os.chown(root / "srv/kubernetes/ca.crt", 1, 1)
    (root / "srv/kubernetes/known_tokens.csv").write_text("tampered")
    rc, out = _tar("--diff", "-C", str(root), "-f", tar)
    assert rc == 1 and "server.key: Mode differs" in out and "ca.crt: Uid differs" in out and "known_tokens.csv: " in out
    assert _tar("-C", str(root), "-xf", tar)[0] == 0
    assert _tar("--diff", "-C", str(root), "-f", tar) == (0, "")
    assert key.stat().st_mode & 0o777 == 0o600
