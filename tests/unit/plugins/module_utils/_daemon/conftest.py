"""Fixtures for the daemon package: a fake systemctl on PATH, files in a temporary root."""

from __future__ import annotations

import pytest

from support.fake_systemd import FakeSystemd


@pytest.fixture
def systemd(tmp_path, monkeypatch):
    fake = FakeSystemd(tmp_path / "systemd")
    monkeypatch.setenv("PATH", fake.path_env())
    return fake
