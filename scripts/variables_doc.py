"""Write docs/variables.md from every role's meta/argument_specs.yml (the one source of the roles' variables).

    python3 scripts/variables_doc.py          # rewrite docs/variables.md
    python3 scripts/variables_doc.py --check  # exit 1 when docs/variables.md is not what the specs give

A unit test runs --check, so the page can never drift from the argument specs.
"""

from __future__ import annotations

import argparse
import os
import re
import sys

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "docs", "variables.md")
# site.yml's order: what runs first comes first
ORDER = ["node", "kube_binaries", "secrets", "etcd", "etcd_discovery_service", "apiserver", "loadbalancer", "control_plane", "worker"]


def plain(text):
    """Ansible doc markup (C(), O(), V(), I(), M(), RV()) as Markdown."""
    text = re.sub(r"\b(?:C|V|RV)\(([^)]*)\)", r"`\1`", text)
    text = re.sub(r"\bO\(([^)]*)\)", lambda m: "`%s`" % m.group(1).split("=")[0], text)
    text = re.sub(r"\bI\(([^)]*)\)", r"*\1*", text)
    text = re.sub(r"\bM\(([^)]*)\)", r"`\1`", text)
    return text.replace("|", "\\|").replace("\n", " ")


def describe(value):
    if isinstance(value, list):
        return " ".join(plain(str(v)) for v in value)
    return plain(str(value or ""))


def default_text(spec):
    if "default" not in spec:
        return "required" if spec.get("required") else ""
    value = spec["default"]
    if value in ("", None):
        return '`""`' if value == "" else "-"
    text = yaml.safe_dump(value, default_flow_style=True, width=10000).strip()
    if text.endswith("\n..."):
        text = text[:-4].strip()
    text = text.replace("\n...", "").strip()
    if len(text) > 60:
        text = text[:57] + "..."
    return "`%s`" % text.replace("|", "\\|")


def render():
    roles = sorted(d for d in os.listdir(os.path.join(ROOT, "roles"))
                   if os.path.isfile(os.path.join(ROOT, "roles", d, "meta", "argument_specs.yml")))
    roles = [r for r in ORDER if r in roles] + [r for r in roles if r not in ORDER]
    lines = ["# Role variables", "",
             "Generated from each role's `meta/argument_specs.yml` by `scripts/variables_doc.py`; do not edit by hand.",
             "The cluster-wide `kubeha_*` variables that most of these default to are in [conventions.md](conventions.md);",
             "`ansible-doc -t role kubeha.cluster.<role>` shows the same from an installed collection.", ""]
    lines += ["| role | what it does |", "|---|---|"]
    specs = {}
    for role in roles:
        with open(os.path.join(ROOT, "roles", role, "meta", "argument_specs.yml")) as handle:
            specs[role] = yaml.safe_load(handle)["argument_specs"]["main"]
        lines.append("| [`%s`](#%s) | %s |" % (role, role.replace("_", "_"), describe(specs[role].get("short_description"))))
    for role in roles:
        spec = specs[role]
        lines += ["", "## %s" % role, "", describe(spec.get("description") or spec.get("short_description")), "",
                  "| variable | type | default | description |", "|---|---|---|---|"]
        for name, option in (spec.get("options") or {}).items():
            kind = option.get("type", "str")
            if option.get("choices"):
                kind += " (%s)" % ", ".join(str(c) for c in option["choices"])
            lines.append("| `%s` | %s | %s | %s |" % (name, kind, default_text(option), describe(option.get("description"))))
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true")
    opts = parser.parse_args()
    text = render()
    if opts.check:
        try:
            with open(OUT) as handle:
                current = handle.read()
        except OSError:
            current = ""
        if current != text:
            sys.stderr.write("docs/variables.md is out of date with the roles' argument specs: run python3 scripts/variables_doc.py\n")
            return 1
        return 0
    with open(OUT, "w") as handle:
        handle.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
