"""One rolling-restart pattern in every role: one host at a time, stopping at the first failure.

`throttle: 1` alone does not stop: Ansible goes on to the next host after one fails (any_errors_fatal
too only ends the play after every host ran the task). Every handler that restarts what a
kubeha.cluster.daemon call left pending is a run_once loop over the hosts with pending restarts
(kubeha.cluster.pending_restarts), delegated to each in turn, that breaks at the first failed item.
"""

from __future__ import annotations

import glob
import os

import pytest
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
HANDLERS = sorted(glob.glob(os.path.join(ROOT, 'roles', '*', 'handlers', 'main.yml')))


def rolling_handlers():
    found = []
    for path in HANDLERS:
        with open(path, encoding='utf-8') as handle:
            for handler in yaml.safe_load(handle) or []:
                if (handler.get('kubeha.cluster.daemon') or {}).get('restart_pending'):
                    found.append(pytest.param(handler, id='%s: %s' % (path.split(os.sep)[-3], handler['name'])))
    return found


def test_every_role_with_restarts_is_covered():
    roles = {p.id.split(':')[0] for p in rolling_handlers()}
    assert roles >= {'apiserver', 'control_plane', 'loadbalancer', 'node', 'worker'}


@pytest.mark.parametrize('handler', rolling_handlers())
def test_a_rolling_restart_stops_at_the_first_failed_host(handler):
    assert 'throttle' not in handler, 'throttle: 1 goes on after a failed host'
    assert handler.get('run_once') is True
    var = handler['loop_control']['loop_var']
    assert handler['delegate_to'] == '{{ %s }}' % var
    assert handler['loop_control']['break_when'] == '%s is failed' % handler['register']
    assert 'pending_restarts(hostvars' in handler['loop'] or handler['loop'] == '{{ _apiserver_roll_hosts }}'
    assert 'when' not in handler, 'run_once evaluates when on one host only: the loop decides who restarts'


def _notified(node):
    if isinstance(node, list):
        for item in node:
            yield from _notified(item)
    elif isinstance(node, dict):
        if 'notify' in node:
            value = node['notify']
            yield from ([value] if isinstance(value, str) else value)
        for key in ('block', 'rescue', 'always'):
            yield from _notified(node.get(key) or [])


@pytest.mark.parametrize('role', sorted(os.path.basename(os.path.dirname(os.path.dirname(p))) for p in HANDLERS))
def test_every_notify_names_a_handler_of_the_role(role):
    """Ansible fails a run that notifies an unknown handler, but only once a task changed: find it here."""
    with open(os.path.join(ROOT, 'roles', role, 'handlers', 'main.yml'), encoding='utf-8') as handle:
        handlers = yaml.safe_load(handle) or []
    names = {h['name'] for h in handlers} | {h['listen'] for h in handlers if h.get('listen')}
    for path in glob.glob(os.path.join(ROOT, 'roles', role, 'tasks', '*.yml')):
        with open(path, encoding='utf-8') as handle:
            for notified in _notified(yaml.safe_load(handle) or []):
                assert notified in names, '%s notifies %r; the handlers are %s' % (os.path.relpath(path, ROOT), notified, sorted(names))
