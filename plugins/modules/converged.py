#!/usr/bin/python
# Copyright (c) kubeha developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


DOCUMENTATION = r"""
---
module: converged
short_description: Record on a host what a finished site.yml run left there
version_added: 0.1.0
description:
  - Writes the record that M(kubeha.cluster.converged_info) checks on the next run (C(0600), atomically) - the digest
    of the run's inputs, the time from which a certificate is due for renewal, and what kubeha keeps on the host,
    as the M(kubeha.cluster.daemon) calls of the run reported it (the C(kubeha_managed) fact) plus the files given
    in O(files) (a host's certificates and keys).
  - The record changes, and the task reports a change, only when its content differs; the time it was written is
    not compared.
  - C(site.yml) writes it as its last step, on every host, when the run was neither limited by tags nor failed.
author:
  - kubeha developers (@kubeha)
extends_documentation_fragment:
  - kubeha.cluster.attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
  platform:
    support: full
    platforms: posix
options:
  digest:
    description: The digest of the run's inputs (P(kubeha.cluster.site_digest#lookup)).
    type: str
    required: true
  managed:
    description: What the run's M(kubeha.cluster.daemon) calls keep on this host (their C(kubeha_managed) fact).
    type: dict
    default: {}
  files:
    description:
      - More files kubeha keeps on the host, by path, each with C(state), C(mode), C(owner), C(group) and C(sha256);
        they are added to (and win over) those of O(managed).
      - P(kubeha.cluster.bundle_files#filter) gives them for a host's certificate bundle.
    type: dict
    default: {}
  renew_by:
    description: The time (ISO 8601, UTC) from which a certificate of the cluster is due for renewal; the next run
      after it is a full one.
    type: str
  path:
    description: The record.
    type: path
    default: /var/lib/kubeha/converged.json
seealso:
  - module: kubeha.cluster.converged_info
"""

EXAMPLES = r"""
- name: Record what this run left on the host
  kubeha.cluster.converged:
    digest: "{{ lookup('kubeha.cluster.site_digest', secrets_dir, vars_digest=_kubeha_vars_digest) }}"
    managed: "{{ kubeha_managed | default({}) }}"
    files: "{{ secrets_managed.files }}"
    renew_by: "{{ secrets_managed.renew_by }}"
"""

RETURN = r"""
path:
  description: The record.
  returned: always
  type: str
  sample: /var/lib/kubeha/converged.json
recorded:
  description: How many files and units the record holds.
  returned: always
  type: dict
  sample: {"files": 42, "units": 5}
"""

from ansible.module_utils.basic import AnsibleModule

from ..module_utils._daemon.common import DaemonError
from ..module_utils._daemon.converged import STAMP, record, write


def main():
    module = AnsibleModule(
        argument_spec=dict(
            digest=dict(type="str", required=True),
            managed=dict(type="dict", default={}),
            files=dict(type="dict", default={}),
            renew_by=dict(type="str"),
            path=dict(type="path", default=STAMP),
        ),
        supports_check_mode=True,
    )
    managed = dict(module.params["managed"])
    managed["files"] = dict(managed.get("files") or {}, **module.params["files"])
    try:
        wanted = record(module.params["digest"], managed, module.params["renew_by"])
        changed, _before = write(module.params["path"], wanted, module.check_mode)
    except (DaemonError, IOError, OSError) as exc:
        module.fail_json(msg="converged: cannot write %s: %s" % (module.params["path"], exc))
    module.exit_json(changed=changed, path=module.params["path"], recorded=dict(files=len(wanted["files"]), units=len(wanted["units"])))


if __name__ == "__main__":
    main()
