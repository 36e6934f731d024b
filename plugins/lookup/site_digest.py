# Copyright (c) kubeha developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The site_digest lookup: one digest of everything a site.yml run is made from."""

from __future__ import annotations

DOCUMENTATION = r"""
name: site_digest
short_description: Digest of the inputs of a site.yml run (inventory variables, the collection, controller files)
version_added: 0.1.0
description:
  - Without terms and with O(part=vars), the sha256 of the variables of every host in the inventory as the inventory,
    its vars files and extra vars give them (untemplated), and of every group's members. Facts, registered variables,
    C(set_fact) results, C(ansible_*) connection variables and groups whose name starts with C(_kubeha) are left out,
    so the digest does not depend on what a run has done so far.
  - With O(part=site), the sha256 of O(vars_digest), of this collection's roles, playbooks and plugins, and of the
    controller paths given as terms (a directory counts with every file under it; a file of up to 1 MiB by its content,
    a bigger one by its size and modification time; a path that does not exist counts as missing).
  - C(site.yml) takes the O(part=vars) digest once as the run starts, and records the O(part=site) digest on every host
    when the run has finished (M(kubeha.cluster.converged)); a later run that finds the same digest and no drift on any
    host (M(kubeha.cluster.converged_info)) has nothing to do.
options:
  _terms:
    description: Controller paths whose content is an input of the run (the secrets directory, a local artifact directory).
    type: list
    elements: path
    default: []
  part:
    description: V(vars) for the variables' digest, V(site) for the whole digest.
    type: str
    choices: [vars, site]
    default: site
  vars_digest:
    description: The O(part=vars) digest taken when the run started; required with O(part=site).
    type: str
"""

EXAMPLES = r"""
- name: Take the variables' digest as the run starts
  ansible.builtin.set_fact:
    _kubeha_vars_digest: "{{ lookup('kubeha.cluster.site_digest', part='vars') }}"
  run_once: true

- name: The whole digest, with the secrets directory
  ansible.builtin.debug:
    msg: "{{ lookup('kubeha.cluster.site_digest', inventory_dir ~ '/secrets', vars_digest=_kubeha_vars_digest) }}"
"""

RETURN = r"""
_raw:
  description: One sha256, in hex.
  type: list
  elements: str
"""

import hashlib
import json
import os

from ansible import __version__ as ANSIBLE_VERSION
from ansible.errors import AnsibleLookupError
from ansible.plugins.lookup import LookupBase
from ansible.utils.display import Display

# what the variables of a host hold besides its inventory (run-time names), and the switch of the fast path itself
RUN_TIME = frozenset(("omit", "playbook_dir", "play_hosts", "role_names", "environment", "vars", "hostvars",
                      "kubeha_site_fast_path"))
BIG = 1 << 20
COLLECTION = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
COLLECTION_PARTS = ("roles", "playbooks", "plugins")


def _plain(value):
    """JSON-able copy of an untemplated variable value."""
    if isinstance(value, dict):
        return dict((str(k), _plain(v)) for k, v in value.items())
    if isinstance(value, (list, tuple, set, frozenset)):
        items = [_plain(v) for v in value]
        return sorted(items, key=repr) if isinstance(value, (set, frozenset)) else items
    if value is None or isinstance(value, (bool, int, float)):
        return value
    return str(value)


def host_inputs(all_vars, run_time_names):
    """The variables of one host that are inputs: no ansible_* names, no facts or run results, no _kubeha groups."""
    out = {}
    for name, value in all_vars.items():
        if name.startswith("ansible_") or name in RUN_TIME or name in run_time_names:
            continue
        if name == "groups":
            value = dict((g, sorted(h)) for g, h in value.items() if not g.startswith("_kubeha"))
        elif name == "group_names":
            value = sorted(g for g in value if not g.startswith("_kubeha"))
        out[name] = _plain(value)
    return out


# ansible-core's private parts the vars digest reads (tested with ansible-core 2.17 to 2.19): the variable manager
# and inventory behind hostvars, and the fact caches that tell facts and run results from inputs
INTERNALS = (("hostvars", "_variable_manager"), ("hostvars", "_inventory"), ("variable manager", "_nonpersistent_fact_cache"),
             ("variable manager", "_fact_cache"))


def internals(hostvars):
    """(variable manager, inventory), or None when this ansible-core does not have what the digest reads."""
    manager = getattr(hostvars, "_variable_manager", None)
    inventory = getattr(hostvars, "_inventory", None)
    if manager is None or inventory is None:
        return None
    if not all(hasattr(manager, name) for owner, name in INTERNALS if owner == "variable manager"):
        return None
    return manager, inventory


def unsupported_digest():
    """A digest no record can match: every run is a full run (the fast path is off, nothing else changes)."""
    Display().warning("kubeha.cluster.site_digest: ansible-core %s lacks the internals the fast path reads (%s): site.yml "
                      "runs every stage each time. Nothing else changes; kubeha_site_fast_path: false says so explicitly."
                      % (ANSIBLE_VERSION, ", ".join("%s.%s" % pair for pair in INTERNALS)))
    return "unsupported-" + os.urandom(16).hex()


def vars_digest(variable_manager, inventory):
    digest = hashlib.sha256()
    for host in sorted(inventory.get_hosts("all"), key=lambda h: h.name):
        run_time = set(variable_manager._nonpersistent_fact_cache.get(host.name, {}))  # pylint: disable=protected-access
        try:
            run_time |= set(variable_manager._fact_cache.get(host.name) or {})  # pylint: disable=protected-access
        except KeyError:  # the cache has no entry for the host
            pass
        values = variable_manager.get_vars(host=host, include_hostvars=False)
        digest.update(json.dumps([host.name, host_inputs(values, run_time)], sort_keys=True).encode("utf-8"))
    return digest.hexdigest()


def _file_sum(path, digest):
    st = os.stat(path)
    if st.st_size > BIG:
        digest.update(("big %d %d\n" % (st.st_size, st.st_mtime_ns)).encode())
        return
    with open(path, "rb") as handle:
        digest.update(hashlib.sha256(handle.read()).hexdigest().encode() + b"\n")


def paths_digest(paths):
    """sha256 over the paths: names, then content (small files) or size and mtime (big ones)."""
    digest = hashlib.sha256()
    for top in paths:
        digest.update(("path %s\n" % top).encode())
        if os.path.isfile(top):
            _file_sum(top, digest)
        elif os.path.isdir(top):
            for root, dirs, files in os.walk(top):
                dirs.sort()
                dirs[:] = [d for d in dirs if d != "__pycache__"]
                for name in sorted(files):
                    if name.endswith((".pyc", ".pyo")):
                        continue
                    path = os.path.join(root, name)
                    digest.update(("file %s\n" % os.path.relpath(path, top)).encode())
                    _file_sum(path, digest)
        else:
            digest.update(b"missing\n")
    return digest.hexdigest()


def site_digest(vars_part, paths, collection=COLLECTION):
    digest = hashlib.sha256(vars_part.encode())
    digest.update(paths_digest([os.path.join(collection, p) for p in COLLECTION_PARTS]).encode())
    digest.update(paths_digest(sorted(set(p for p in paths if p))).encode())
    return digest.hexdigest()


class LookupModule(LookupBase):
    def run(self, terms, variables=None, **kwargs):
        self.set_options(var_options=variables, direct=kwargs)
        part = self.get_option("part")
        if part == "vars":
            hostvars = (variables or {}).get("hostvars")
            if hostvars is None:
                raise AnsibleLookupError("site_digest part=vars needs the play's hostvars; use it in a task of a play")
            found = internals(hostvars)
            return [vars_digest(*found) if found else unsupported_digest()]
        start = self.get_option("vars_digest")
        if not start:
            raise AnsibleLookupError("site_digest part=site needs vars_digest, the part=vars digest taken when the run started")
        return [site_digest(start, [os.path.abspath(os.path.expanduser(str(t))) for t in terms if t])]
