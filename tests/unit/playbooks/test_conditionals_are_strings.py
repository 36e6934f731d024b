"""Every conditional in the project's YAML is one string (or a bool), as Ansible requires.

A plain YAML scalar with ': ' inside (a regular expression such as ``' +: ok='``) parses as a mapping, which
yamllint and ansible-lint accept; Ansible only fails when the task runs ("Conditional expressions must be
strings"), which for a Molecule check can be the last minute of a long scenario (CI, 2026-12-05).
"""

from __future__ import annotations

import glob
import os

import pytest
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
KEYS = ("when", "until", "changed_when", "failed_when")


def _files():
    for top in ("playbooks", "roles", "molecule"):
        yield from sorted(glob.glob(os.path.join(ROOT, top, "**", "*.yml"), recursive=True))


def _bad(node, where):
    """(where, value) of each conditional that is not a string or a bool."""
    found = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key in KEYS or (key == "that" and where.endswith("assert")):
                for cond in value if isinstance(value, list) else [value]:
                    if not isinstance(cond, (str, bool)):
                        found.append((key, cond))
            found += _bad(value, str(key))
    elif isinstance(node, list):
        for item in node:
            found += _bad(item, where)
    return found


def test_the_check_finds_a_mapping_made_by_a_colon():
    task = yaml.safe_load("- ansible.builtin.assert:\n    that:\n      - out is search(' +: ok=1')\n  when:\n    - x is search('a: b')\n")
    assert [key for key, _cond in _bad(task, "")] == ["that", "when"]


@pytest.mark.parametrize("path", list(_files()), ids=lambda p: os.path.relpath(p, ROOT))
def test_conditionals_are_strings(path):
    with open(path, encoding="utf-8") as handle:
        try:
            docs = list(yaml.safe_load_all(handle))
        except yaml.YAMLError:
            pytest.skip("not plain YAML (a template): yamllint covers it")
    bad = [b for doc in docs for b in _bad(doc, "")]
    assert not bad, "%s: conditionals that are not one string: %s" % (os.path.relpath(path, ROOT), bad)
