"""docs/variables.md is what scripts/variables_doc.py makes of the roles' argument specs (it cannot drift)."""

from __future__ import annotations

import os
import subprocess
import sys

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
SCRIPT = os.path.join(ROOT, "scripts", "variables_doc.py")


def test_the_page_is_current():
    proc = subprocess.run([sys.executable, SCRIPT, "--check"], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr


def test_every_role_variable_is_on_the_page():
    with open(os.path.join(ROOT, "docs", "variables.md")) as handle:
        page = handle.read()
    roles = os.path.join(ROOT, "roles")
    for role in sorted(os.listdir(roles)):
        spec_path = os.path.join(roles, role, "meta", "argument_specs.yml")
        if not os.path.isfile(spec_path):
            continue
        with open(spec_path) as handle:
            options = yaml.safe_load(handle)["argument_specs"]["main"].get("options") or {}
        assert "\n## %s\n" % role in page
        for name in options:
            assert "| `%s` |" % name in page, "%s of role %s is missing from docs/variables.md" % (name, role)
