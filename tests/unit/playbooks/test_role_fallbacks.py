"""The playbooks read the roles' variables, falling back to the roles' own defaults (issue 15 item 5).

status.yml and site.yml run no role where they read a role's variable (the masters' secrets directory, podmaster's
status file, the apiserver's port), so they write `<variable> | default(<value>)`: the value must be the role's
default, or an inventory that changes nothing would see another path than the roles lay out.
"""

from __future__ import annotations

import glob
import os
import re

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
FALLBACK = re.compile(r"\b((?:apiserver|control_plane|etcd|loadbalancer|node|worker|secrets)_[a-z0-9_]+) \| default\('([^']*)'\)"
                      r"|\b((?:apiserver|control_plane|etcd|loadbalancer|node|worker|secrets)_[a-z0-9_]+) \| default\((\d+)\)")


def _role_defaults():
    out = {}
    for path in glob.glob(os.path.join(ROOT, 'roles', '*', 'defaults', 'main.yml')):
        with open(path, encoding='utf-8') as handle:
            out.update(yaml.safe_load(handle) or {})
    return out


def fallbacks():
    found = []
    for path in sorted(glob.glob(os.path.join(ROOT, 'playbooks', '*.yml')) + glob.glob(os.path.join(ROOT, 'playbooks', 'templates', '*.j2'))):
        with open(path, encoding='utf-8') as handle:
            text = handle.read()
        for match in FALLBACK.finditer(text):
            name = match.group(1) or match.group(3)
            value = match.group(2) if match.group(1) else int(match.group(4))
            found.append((os.path.relpath(path, ROOT), name, value))
    return found


def test_the_playbooks_do_read_role_variables():
    names = set(name for _path, name, _value in fallbacks())
    assert {'apiserver_secrets_dir', 'control_plane_podmaster_status_file', 'apiserver_secure_port'} <= names


def test_every_fallback_is_the_roles_default():
    defaults = _role_defaults()
    wrong = ['%s: %s | default(%r), the role says %r' % (path, name, value, defaults.get(name, '(no such variable)'))
             for path, name, value in fallbacks() if defaults.get(name) != value]
    assert not wrong, '\n'.join(wrong)


def test_no_hard_coded_role_paths_or_ports_outside_the_fallbacks():
    """/srv/kubernetes, podmaster's status file and etcd's client port appear only as a role variable's fallback."""
    bad = []
    for path in sorted(glob.glob(os.path.join(ROOT, 'playbooks', '*.yml')) + glob.glob(os.path.join(ROOT, 'playbooks', 'templates', '*.j2'))):
        with open(path, encoding='utf-8') as handle:
            for number, line in enumerate(handle, 1):
                stripped = FALLBACK.sub('', line.split('#', 1)[0])
                if re.search(r"/srv/kubernetes|/run/kubeha/podmaster\.json|:2379\b|\bip -o\b|\| *grep\b", stripped):
                    bad.append('%s:%d: %s' % (os.path.relpath(path, ROOT), number, line.strip()))
    assert not bad, '\n'.join(bad)
