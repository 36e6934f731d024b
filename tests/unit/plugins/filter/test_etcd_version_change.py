"""Which etcd release changes the role makes (a patch, the next minor from a recent patch), and which it refuses."""

from __future__ import annotations

import pytest

from ansible_collections.kubeha.cluster.plugins.filter.etcd_version_change import FilterModule, etcd_version_change


def info(*versions):
    return {"endpoints": [{"version": v} for v in versions] + [{"version": ""}]}


def test_registered():
    assert FilterModule().filters() == {"etcd_version_change": etcd_version_change}


@pytest.mark.parametrize("running, target, changing", [
    (("3.6.16", "3.6.16", "3.6.16"), "3.6.16", False),
    (("3.6.15", "3.6.16", "3.6.16"), "3.6.16", True),      # a patch upgrade, half done
    (("3.6.16",), "3.6.12", True),                         # a patch downgrade: supported within a minor
    (("3.5.35", "3.5.35", "3.6.16"), "3.6.16", True),      # 3.5 -> 3.6, half done
    (("3.5.26",), "3.6.0", True),
])
def test_supported(running, target, changing):
    result = etcd_version_change(info(*running), target)
    assert (result["problems"], result["changing"]) == ([], changing)
    assert result["running"] == sorted(set(running), key=lambda v: tuple(int(p) for p in v.split(".")))


def test_a_downgrade_to_an_older_minor_is_refused_with_the_way_back():
    (problem,) = etcd_version_change(info("3.6.16", "3.5.35"), "3.5.35")["problems"]
    assert problem.startswith("etcd_version is 3.5.35, but a member runs 3.6.16: etcd does not support a downgrade")
    assert "Keep etcd_version at 3.6.x; going back to 3.5 means a new 3.5 cluster restored from a snapshot" in problem


def test_skipping_a_minor_and_an_old_patch_are_refused_with_the_path():
    (skip,) = etcd_version_change(info("3.4.30"), "3.6.16")["problems"]
    assert "skips a minor release" in skip and "set etcd_version to the latest 3.5 patch" in skip
    (old,) = etcd_version_change(info("3.5.21"), "3.6.16")["problems"]
    assert old == ("etcd_version is 3.6.16, but a member runs 3.5.21: etcd upgrades to 3.6 only from 3.5.26 or later. Set "
                   "etcd_version to the latest 3.5 patch, run, then set it to 3.6.16.")


def test_no_cluster_no_verdict():
    for nothing in (None, {}, {"failed": True}, {"skipped": True}, info()):
        assert etcd_version_change(nothing, "3.6.16") == {"running": [], "changing": False, "problems": []}
