"""roles/node/files/node-daemons restart under a real monit daemon (Debian's, as on the nodes).

kubeha restarts a daemon monit supervises with its control script. While the old process is gone and the new one
not yet started, monit, if it still watched the group, would find the process missing and start it too. Two starts
race for the pidfile, and the loser's pid can end in it: Molecule node saw /run/kubelet.pid name a dead process
seconds after a restart kubeha had found healthy. restart stops monit's watch of kubeha's group first and restores
it afterwards, whether the restart passed or not. Real monit with a 1 s cycle, real processes.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time

import pytest

from support import scripts

MONIT = shutil.which('monit') or '/usr/bin/monit'

# a control script in the manner of the role's daemon-ctl.sh: every start makes a new process and writes the
# pidfile (as two start-stop-daemon starts at once do), and says who asked (monit exports MONIT_SERVICE)
CTL = """#!/bin/sh
PIDFILE={dir}/{name}.pid
case "$1" in
  start)
    setsid sleep 600 >/dev/null 2>&1 < /dev/null &
    echo $! > "$PIDFILE"
    by=kubeha; [ -n "${{MONIT_SERVICE:-}}" ] && by=monit
    echo "{name} $by $!" >> {dir}/starts.log
    ;;
  stop)
    [ -f "$PIDFILE" ] && kill "$(cat "$PIDFILE")" 2>/dev/null
    rm -f "$PIDFILE"
    ;;
  restart)
    "$0" stop
    sleep {gap}
    exec "$0" start
    ;;
  fail)
    exit 1
    ;;
esac
"""

MONITRC = """set daemon 1
set logfile {dir}/monit.log
set pidfile {dir}/monit.pid
set idfile {dir}/monit.id
set statefile {dir}/monit.state
set httpd unixsocket {dir}/monit.sock allow localhost
check process containerd with pidfile {dir}/containerd.pid
  group kubeha
  start program = "{dir}/containerd-ctl start" with timeout 10 seconds
  stop program = "{dir}/containerd-ctl stop"
check process kubelet with pidfile {dir}/kubelet.pid
  group kubeha
  start program = "{dir}/kubelet-ctl start" with timeout 10 seconds
  stop program = "{dir}/kubelet-ctl stop"
  depends on containerd
"""


def _load():
    return scripts.load(os.path.join('roles', 'node', 'files', 'node-daemons'), 'node_daemons_monit')


def _pid(directory, name):
    try:
        with open(os.path.join(directory, name + '.pid'), encoding='ascii') as handle:
            return int(handle.read().strip())
    except (OSError, ValueError):
        return None


def _alive(pid):
    if pid is None:
        return False
    try:
        with open('/proc/%d/stat' % pid, encoding='ascii') as handle:
            return handle.read().rsplit(')', 1)[1].split()[0] != 'Z'
    except OSError:
        return False


def _starts(directory):
    path = os.path.join(directory, 'starts.log')
    if not os.path.exists(path):
        return []
    with open(path, encoding='ascii') as handle:
        return [line.split() for line in handle if line.strip()]


def _poll(what, condition, seconds=20.0):
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() >= deadline:
            raise AssertionError('not within %.0f s: %s' % (seconds, what))
        time.sleep(0.2)


@pytest.fixture
def node():
    """A monit daemon watching a 'containerd' and a 'kubelet' (both started by monit), and node-daemons set up to
    use it; the control scripts leave 3 s between a restart's stop and its start (monit's cycle is 1 s)."""
    if not os.path.exists(MONIT):
        pytest.fail('monit is not installed: scripts/setup.sh installs it (apt package monit)')
    # short: monit's unix socket path must fit in sun_path
    directory = tempfile.mkdtemp(prefix='monit-', dir='/tmp')
    for name in ('containerd', 'kubelet'):
        path = os.path.join(directory, name + '-ctl')
        with open(path, 'w', encoding='ascii') as handle:
            handle.write(CTL.format(dir=directory, name=name, gap=3))
        os.chmod(path, 0o755)
    rc = os.path.join(directory, 'monitrc')
    with open(rc, 'w', encoding='ascii') as handle:
        handle.write(MONITRC.format(dir=directory))
    os.chmod(rc, 0o600)
    module = _load()
    module.MONIT = [MONIT, '-c', rc]
    module.HERE = directory
    module.answers = lambda sock, url, lease_spec=None: (_alive(_pid(directory, 'kubelet')), 'kubelet: not running')
    subprocess.run(module.MONIT, check=True, capture_output=True)
    try:
        _poll('monit started both and watches them',
              lambda: all(_alive(_pid(directory, n)) and module.monitoring(n) == ('Monitored', '') for n in module.DAEMONS))
        yield module, directory
    finally:
        subprocess.run(module.MONIT + ['quit'], check=False, capture_output=True)
        for name in ('containerd', 'kubelet'):
            for line in _starts(directory):
                if line[0] == name and _alive(int(line[2])):
                    os.kill(int(line[2]), signal.SIGKILL)
        shutil.rmtree(directory, ignore_errors=True)


def test_monit_keeps_out_of_the_restart_and_watches_again_after(node):
    module, directory = node
    before = _starts(directory)
    assert [line[:2] for line in before] == [['containerd', 'monit'], ['kubelet', 'monit']]
    assert module.restart('kubelet', os.path.join(directory, 'kubelet.pid'), 'sock', 'url', 20, []) == 0
    # the restart's own start only: monit started nothing while the kubelet was down for 3 of its cycles
    new = _starts(directory)[len(before):]
    assert [line[:2] for line in new] == [['kubelet', 'kubeha']], new
    pid = _pid(directory, 'kubelet')
    assert pid == int(new[0][2]) and _alive(pid)
    # and monit watches the group again: a kubelet killed now is started by monit
    _poll('monit watches both again', lambda: all(module.monitoring(n) == ('Monitored', '') for n in module.DAEMONS))
    os.kill(pid, signal.SIGKILL)
    _poll('monit starts the killed kubelet', lambda: _alive(_pid(directory, 'kubelet')) and _pid(directory, 'kubelet') != pid)
    assert [line[:2] for line in _starts(directory)[len(before) + 1:]] == [['kubelet', 'monit']]


def test_a_failed_restart_leaves_the_group_watched(node, capsys):
    module, directory = node
    ctl = os.path.join(directory, 'kubelet-ctl')
    with open(ctl, encoding='ascii') as handle:
        text = handle.read()
    with open(ctl, 'w', encoding='ascii') as handle:
        handle.write(text.replace('  restart)\n', '  restart)\n    exit 3\n', 1))
    assert module.restart('kubelet', os.path.join(directory, 'kubelet.pid'), 'sock', 'url', 5, []) == 1
    assert 'kubelet-ctl restart failed (rc 3)' in capsys.readouterr().out
    _poll('monit watches both again', lambda: all(module.monitoring(n) == ('Monitored', '') for n in module.DAEMONS))


def test_without_monit_the_restart_is_refused_saying_so(node, capsys):
    module, directory = node
    subprocess.run(module.MONIT + ['quit'], check=True, capture_output=True)
    _poll('monit has quit', lambda: not os.path.exists(os.path.join(directory, 'monit.pid')))
    pid = _pid(directory, 'kubelet')
    assert module.restart('kubelet', os.path.join(directory, 'kubelet.pid'), 'sock', 'url', 5, []) == 1
    out = capsys.readouterr().out
    assert 'kubelet was not restarted: monit status containerd failed' in out and 'daemon is not running' in out, out
    assert _pid(directory, 'kubelet') == pid and _alive(pid)
