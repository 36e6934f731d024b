#!/usr/bin/python
# Copyright (c) kubeha developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


DOCUMENTATION = r"""
---
module: converged_info
short_description: Tell whether a host is exactly as the last finished site.yml run left it
version_added: 0.1.0
description:
  - Reads the record M(kubeha.cluster.converged) wrote at the end of the last finished C(site.yml) run and compares
    the host with it, in one call. The host is converged when all of these hold; each one that does not is a line
    of RV(drift).
  - The record's digest equals O(digest), the digest of this run's inputs (P(kubeha.cluster.site_digest#lookup)).
  - No certificate is due for renewal (the record's C(renew_by) has not passed).
  - Every recorded file has its recorded content (sha256), mode, owner and group; every recorded directory exists with
    its mode and owner; every recorded absent path is absent.
  - Every recorded systemd unit is in its recorded state (active, enabled, not masked); every recorded static pod's
    manifest is its staged copy; no restart is pending in the recorded state directories.
  - Every recorded health check passes, each within at most 10 seconds (checked only when nothing else differs).
  - C(site.yml) skips its roles when every host is converged, and runs them all otherwise.
author:
  - kubeha developers (@kubeha)
extends_documentation_fragment:
  - kubeha.cluster.attributes
  - kubeha.cluster.attributes.INFO_MODULE
attributes:
  platform:
    support: full
    platforms: posix
    details:
      - Hosts managed with systemd.
options:
  digest:
    description: The digest of this run's inputs, compared with the recorded one.
    type: str
    required: true
  path:
    description: The record.
    type: path
    default: /var/lib/kubeha/converged.json
notes:
  - Only reads; the health checks are the recorded ones (URLs, ports, sockets or commands).
seealso:
  - module: kubeha.cluster.converged
  - module: kubeha.cluster.daemon
"""

EXAMPLES = r"""
- name: Is every host as the last run left it?
  kubeha.cluster.converged_info:
    digest: "{{ lookup('kubeha.cluster.site_digest', secrets_dir, vars_digest=_kubeha_vars_digest) }}"
  register: _kubeha_converged
"""

RETURN = r"""
converged:
  description: Whether the host is as the last finished run left it, with the same inputs.
  returned: always
  type: bool
  sample: false
drift:
  description: Every reason the host is not converged, one per line.
  returned: always
  type: list
  elements: str
  sample: ["/etc/kubernetes/kubelet.yaml: content differs from the recorded sha256", "kubelet.service: failed, started recorded"]
health:
  description: What each recorded health check answered, by unit (when they ran).
  returned: always
  type: dict
  sample: {"etcd": "200 {\"health\":\"true\"}"}
written:
  description: When the record was written (UTC).
  returned: when there is a record
  type: str
  sample: "2026-12-01T08:00:00Z"
renew_by:
  description: The time from which a certificate is due for renewal, as recorded (UTC).
  returned: when there is a record
  type: str
  sample: "2027-09-01T08:00:00Z"
"""

from ansible.module_utils.basic import AnsibleModule

from ..module_utils._daemon.common import DaemonError
from ..module_utils._daemon.converged import STAMP, check


def main():
    module = AnsibleModule(
        argument_spec=dict(digest=dict(type="str", required=True), path=dict(type="path", default=STAMP)),
        supports_check_mode=True,
    )
    try:
        result = check(module.params["path"], module.params["digest"])
    except DaemonError as exc:
        module.fail_json(msg="converged_info: %s" % exc)
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
