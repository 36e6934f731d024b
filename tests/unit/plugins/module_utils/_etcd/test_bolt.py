"""The snapshot reader against etcdutl on real snapshots, and what it says of damaged ones."""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from ansible_collections.kubeha.cluster.plugins.module_utils._etcd.bolt import SnapshotError, crc32c, read_status
from ansible_collections.kubeha.cluster.plugins.module_utils._etcd.client import EtcdClient
from ansible_collections.kubeha.cluster.plugins.module_utils._etcd.snapshot import stream
from support.etcd_cluster import etcd_binary, start_cluster


def etcdutl(path):
    tool = os.path.join(os.path.dirname(etcd_binary()), "etcdutl")
    out = subprocess.run([tool, "snapshot", "status", path, "-w", "json"], capture_output=True, text=True, check=True, timeout=60)
    return json.loads(out.stdout)


def test_crc32c_known_value():
    assert crc32c(b"123456789") == 0xE3069283  # the CRC-32C check value
    assert crc32c(b"6789", crc32c(b"12345")) == 0xE3069283


@pytest.fixture(scope="module")
def snapshot_file(tmp_path_factory):
    """A snapshot of a cluster with puts, overwrites, deletes and a compaction, taken through the gateway."""
    path = str(tmp_path_factory.mktemp("snap") / "s.db")
    with start_cluster(1) as cluster:
        client = EtcdClient(cluster.endpoints)
        for i in range(2000):
            client.put("/registry/things/%04d" % i, "v" * (i % 300))
        for i in range(0, 2000, 7):
            client.put("/registry/things/%04d" % i, "again")
        for i in range(0, 2000, 5):
            client.delete("/registry/things/%04d" % i)
        with open(path, "wb") as handle:
            stream(client, cluster.endpoints[0], handle)
    return path


def test_status_is_what_etcdutl_says(snapshot_file):
    mine, theirs = read_status(snapshot_file), etcdutl(snapshot_file)
    assert (mine["hash"], mine["revision"], mine["total_key"], mine["total_size"], mine["version"]) == (
        theirs["hash"], theirs["revision"], theirs["totalKey"], theirs["totalSize"], theirs["version"])
    assert mine["total_key"] == 1600 and mine["sha256_trailer"] == "ok"


def test_damage_is_named(snapshot_file, tmp_path):
    with open(snapshot_file, "rb") as handle:
        data = handle.read()
    cut = tmp_path / "cut.db"
    cut.write_bytes(data[:len(data) // 2])
    with pytest.raises(SnapshotError, match="cut short"):
        read_status(str(cut))
    flipped = bytearray(data)
    flipped[len(data) // 2] ^= 0xFF
    (tmp_path / "flipped.db").write_bytes(bytes(flipped))
    with pytest.raises(SnapshotError, match="the sha256 etcd appended does not match"):
        read_status(str(tmp_path / "flipped.db"))
    (tmp_path / "text.db").write_bytes(b"not a database" * 100)
    with pytest.raises(SnapshotError, match="no valid bbolt meta page"):
        read_status(str(tmp_path / "text.db"))
    with pytest.raises(SnapshotError, match="cannot read"):
        read_status(str(tmp_path / "missing.db"))
