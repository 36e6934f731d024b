"""Fixtures for the _pki tests."""

from __future__ import annotations

import pytest

from pki_helpers import Run, cluster


@pytest.fixture
def run():
    return Run


@pytest.fixture
def params(tmp_path):
    return lambda **over: cluster(tmp_path / "secrets", **over)
