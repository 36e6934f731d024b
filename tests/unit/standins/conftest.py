"""Fixtures shared by the stand-in tests."""

from __future__ import annotations

import subprocess

import pytest


@pytest.fixture(name='daemon')
def daemon_fixture():
    """Start stand-in daemons; stop them (SIGTERM) after the test."""
    procs = []

    def start(path, *args):
        proc = subprocess.Popen([path] + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # pylint: disable=consider-using-with
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        proc.terminate()
        proc.communicate(timeout=10)
