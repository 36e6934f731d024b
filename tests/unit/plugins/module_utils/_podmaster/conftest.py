"""Fixtures for the podmaster tests: the shipped daemon package and a factory of podmaster processes."""

from __future__ import annotations

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from podmaster_harness import FAST, Podmaster, ship  # noqa: E402  pylint: disable=wrong-import-position


@pytest.fixture(scope="session")
def podmaster_lib(tmp_path_factory):
    """podmaster.pyz as the control_plane role ships it (path)."""
    return ship(str(tmp_path_factory.mktemp("podmaster-lib")))


@pytest.fixture
def spawn(request, tmp_path, podmaster_lib):
    """``spawn(name, endpoints, tls=..., **kw)`` starts a podmaster; every one is stopped after the test."""
    started = []
    key = "/kubeha-test/%s/kube-scheduler" % request.node.name

    def make(name, endpoints, tls=None, identity=None, settings=None, start=True):
        components = [{"name": "kube-scheduler", "key": key, "mode": "static_pod",
                       "source": os.path.join(str(tmp_path), name, "srv", "kube-scheduler.yaml"),
                       "dest": os.path.join(str(tmp_path), name, "manifests", "kube-scheduler.yaml")}]
        pm = Podmaster(podmaster_lib, str(tmp_path), name, endpoints, tls=tls, identity=identity,
                       settings=dict(FAST, **(settings or {})), components=components)
        pm.key = key
        started.append(pm)
        return pm.start() if start else pm

    yield make
    for pm in started:
        pm.stop()
