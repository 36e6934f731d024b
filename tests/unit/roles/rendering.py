"""Render role templates with real Ansible (role defaults + vars + case vars) and pull flags out of them.

Used by test_rendered_flags.py; other roles add their templates there as new cases.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


def role_vars(role):
    """The role's defaults, then its vars (both unrendered: Ansible renders them lazily)."""
    merged = {}
    for part in ('defaults', 'vars'):
        path = os.path.join(ROOT, 'roles', role, part, 'main.yml')
        if os.path.exists(path):
            with open(path, encoding='utf-8') as handle:
                merged.update(yaml.safe_load(handle) or {})
    # the role's tasks set _<role>_planned to its plan (set_fact); rendered alone, it is the plan itself
    plan = '_%s_plan' % role
    if plan in merged:
        merged.setdefault(plan + 'ned', '{{ %s }}' % plan)
    return merged


def render(cases, workdir):
    """Render every case's template in one ansible-playbook run; return {case id: text}.

    A case is a dict: id, role, template, and optionally vars (overriding the role's) and
    loop_item (a Jinja expression for `item`, for templates rendered in a loop).
    """
    tasks = []
    for case in cases:
        task = {
            'name': case['id'],
            'ansible.builtin.template': {
                'src': os.path.join(ROOT, 'roles', case['role'], 'templates', case['template']),
                'dest': os.path.join(str(workdir), case['id']),
                'mode': '0600',
            },
            'vars': dict(role_vars(case['role']), **case.get('vars', {})),
        }
        if 'loop_item' in case:
            task['loop'] = '{{ [%s] }}' % case['loop_item']
        tasks.append(task)
    playbook = os.path.join(str(workdir), 'render.yml')
    with open(playbook, 'w', encoding='utf-8') as handle:
        yaml.safe_dump([{'name': 'Render role templates', 'hosts': 'localhost', 'connection': 'local',
                         'gather_facts': False, 'tasks': tasks}], handle)
    env = dict(os.environ, ANSIBLE_NOCOLOR='1', ANSIBLE_RETRY_FILES_ENABLED='0',
               ANSIBLE_LOCALHOST_WARNING='0', ANSIBLE_INVENTORY_UNPARSED_WARNING='0')
    result = subprocess.run([os.path.join(os.path.dirname(sys.executable), 'ansible-playbook'), '-i', 'localhost,',
                             '-e', 'ansible_python_interpreter=%s' % sys.executable, playbook],
                            capture_output=True, text=True, env=env, cwd=str(workdir), check=False)
    if result.returncode != 0:
        raise AssertionError('rendering failed:\n%s\n%s' % (result.stdout[-4000:], result.stderr[-2000:]))
    rendered = {}
    for case in cases:
        with open(os.path.join(str(workdir), case['id']), encoding='utf-8') as handle:
            rendered[case['id']] = handle.read()
    return rendered


def systemd_execstart_args(text):
    """Arguments after the binary in a unit's ExecStart= (continuation lines joined)."""
    joined = re.sub(r'\\\n', ' ', text)
    lines = [line for line in joined.splitlines() if line.startswith('ExecStart=')]
    assert len(lines) == 1, 'expected one ExecStart= line, got %r' % lines
    return shlex.split(lines[0][len('ExecStart='):])[1:]


def start_stop_daemon_args(text):
    """Arguments after `--startas "$BINARY" --` in a control script (continuation lines joined)."""
    joined = re.sub(r'\\\n', ' ', text)
    match = re.search(r'--startas "\$BINARY" -- (.*)', joined)
    assert match, 'no start-stop-daemon --startas line in:\n%s' % text
    return shlex.split(match.group(1))
