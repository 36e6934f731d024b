"""roles/node/files/node-daemons stale: which daemon monit runs started before a file it reads was written.

A run that writes the kubelet's configuration and fails before its handler restarts the kubelet leaves it
running the old settings; the next run's files are unchanged, so only this comparison (the process's start time
against the files' mtimes) still knows a restart is due (issue 14 item 6). Real processes, real /proc.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import os
import subprocess
import sys
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
SCRIPT = os.path.join(ROOT, 'roles', 'node', 'files', 'node-daemons')


def _load():
    loader = importlib.machinery.SourceFileLoader('node_daemons', SCRIPT)
    spec = importlib.util.spec_from_loader('node_daemons', loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


@pytest.fixture
def daemon(tmp_path):
    """A running process with a pidfile, and two files it 'reads' written long before it started."""
    proc = subprocess.Popen(['sleep', '60'])
    pidfile = tmp_path / 'kubelet.pid'
    pidfile.write_text('%d\n' % proc.pid)
    files = [tmp_path / 'kubelet.yaml', tmp_path / 'kubelet']
    for path in files:
        path.write_text('v1')
        os.utime(path, (time.time() - 300, time.time() - 300))
    yield str(pidfile), [str(f) for f in files]
    proc.kill()
    proc.wait()


def _stale(*argv):
    out = subprocess.run([sys.executable, SCRIPT, 'stale'] + list(argv), capture_output=True, text=True, check=False)
    return out.returncode, out.stdout.split()


def test_a_daemon_started_after_its_files_is_not_stale(daemon):
    pidfile, files = daemon
    assert _stale('kubelet', pidfile, *files) == (0, [])


def test_a_file_written_after_the_start_makes_it_stale(daemon):
    pidfile, files = daemon
    os.utime(files[1], (time.time() + 5, time.time() + 5))
    assert _stale('kubelet', pidfile, *files) == (0, ['kubelet'])
    # several daemons in one call, each with its own pidfile and files; one that does not run is not stale
    assert _stale('containerd', pidfile + '.none', files[1], '--', 'kubelet', pidfile, *files) == (0, ['kubelet'])


def test_files_that_do_not_exist_call_for_no_restart(daemon, tmp_path):
    pidfile, _files = daemon
    assert _stale('kubelet', pidfile, str(tmp_path / 'gone')) == (0, [])


def test_restart_uses_the_same_comparison(daemon):
    module = _load()
    pidfile, files = daemon
    started, written = module.started_and_written(pidfile, files)
    assert started is not None and written < started
    os.utime(files[0], (time.time() + 5, time.time() + 5))
    assert module.started_and_written(pidfile, files)[1] > started


def test_bad_arguments_are_refused_with_the_usage():
    code, _out = _stale('kubelet')
    assert code == 2
