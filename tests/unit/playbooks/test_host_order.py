"""The playbooks' plays keep the inventory's host order, which the rolling restarts follow.

Ansible's intersect filter goes through a set when the items are strings, so a play whose hosts are
`groups[...] | intersect(...)` runs its hosts, and rolls its restarts, in an order that changes from run
to run (hash randomisation). select('in', ...) keeps the first list's order.
"""

from __future__ import annotations

import glob
import os

import pytest
import yaml
from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar, trust_as_template

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
PLAYBOOKS = sorted(glob.glob(os.path.join(ROOT, 'playbooks', '*.yml')))


def plays():
    for path in PLAYBOOKS:
        with open(path, encoding='utf-8') as handle:
            for play in yaml.safe_load(handle) or []:
                if isinstance(play.get('hosts'), str) and '{{' in play['hosts']:
                    yield os.path.basename(path), play


@pytest.mark.parametrize('name, play', list(plays()), ids=lambda v: v if isinstance(v, str) else v.get('name', '')[:40])
def test_templated_hosts_keep_the_inventory_order(name, play):
    assert 'intersect(' not in play['hosts'], '%s: %s' % (name, play['name'])


def test_select_in_keeps_the_first_lists_order():
    hosts = ['m%d' % i for i in range(1, 40)]
    variables = {'groups': {'masters': hosts, '_kubeha_run': list(reversed(hosts))}}
    templar = Templar(loader=DataLoader(), variables=variables)
    ordered = templar.template(trust_as_template("{{ groups['masters'] | select('in', groups['_kubeha_run'] | default([])) | list }}"))
    assert ordered == hosts
