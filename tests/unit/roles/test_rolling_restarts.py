"""One rolling-restart pattern in every role: one host at a time, stopping at the first failure.

`throttle: 1` alone does not stop: Ansible goes on to the next host after one fails (any_errors_fatal
too only ends the play after every host ran the task). Every handler that restarts what a
kubeha.cluster.daemon call left pending is a run_once loop over the hosts with pending restarts
(kubeha.cluster.pending_restarts), delegated to each in turn, that breaks at the first failed item. The kubelet's
turn is several calls (drain, restart, uncordon), so the node role's handler includes tasks/kubelet_roll.yml once per
host instead, each task run_once and delegated: a failed run_once task fails every host, which ends the play there.
Every restart names its own role's units, so that one role's roll never restarts another role's pending unit out
of its order (a master's kubelet, deferred by site.yml's first pass, with the apiserver's roll).
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
    assert roles >= {'apiserver', 'control_plane', 'loadbalancer', 'worker'}


def _tasks(node):
    for task in node or []:
        yield from _tasks(task.get('block'))
        if 'block' not in task:
            yield task


def test_the_kubelets_turns_are_included_once_per_host_and_stop_at_the_first_failure():
    with open(os.path.join(ROOT, 'roles', 'node', 'handlers', 'main.yml'), encoding='utf-8') as handle:
        includes = [h for h in yaml.safe_load(handle) if 'ansible.builtin.include_tasks' in h]
    assert [h['vars']['_node_roll_by'] for h in includes] == ['systemd', 'monit']
    for handler in includes:
        assert handler['ansible.builtin.include_tasks'] == 'kubelet_roll.yml' and handler['loop_control']['loop_var'] == '_node_host'
        assert handler['loop'].startswith('{{ [] if node_restart_deferred | bool else ansible_play_hosts')
    with open(os.path.join(ROOT, 'roles', 'node', 'tasks', 'kubelet_roll.yml'), encoding='utf-8') as handle:
        turn = list(_tasks(yaml.safe_load(handle)))
    assert len(turn) == 4
    for task in turn:
        assert task.get('run_once') is True and task.get('delegate_to'), task['name']
    restart = [t for t in turn if 'kubeha.cluster.daemon' in t][0]
    assert restart['kubeha.cluster.daemon']['restart_units'] == '{{ hostvars[_node_host]._node_daemon_result.restart_pending }}'


@pytest.mark.parametrize('handler', rolling_handlers())
def test_a_rolling_restart_restarts_its_own_units_only(handler):
    var, registered = handler['loop_control']['loop_var'], handler['kubeha.cluster.daemon']['restart_units']
    assert registered.startswith('{{ hostvars[%s].' % var) and registered.endswith('.restart_pending }}')
    # the variable the loop's hosts were picked by (the role's own daemon call)
    loop = handler['loop'] if handler['loop'] != '{{ _apiserver_roll_hosts }}' else "pending_restarts(hostvars, '_apiserver_daemon'"
    assert "'%s'" % registered.split('.')[1] in loop


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
