#!/usr/bin/python
# Copyright (c) kubeha developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: etcd_key_info
short_description: Read one etcd key, or every key under a prefix
version_added: 0.1.0
description:
  - Reads through etcd's v3 JSON gateway (a linearizable read, so it sees every write the cluster acknowledged),
    with no C(etcdctl) and no Python packages on the target.
  - Keys and values are UTF-8 text; etcd's base64 encoding is handled by the module.
extends_documentation_fragment:
  - kubeha.cluster.etcd
  - kubeha.cluster.attributes
  - kubeha.cluster.attributes.INFO_MODULE
  - kubeha.cluster.attributes.POSIX
options:
  key:
    description:
      - The key, as text, for example V(/kubeha/validation).
    type: str
    required: true
  prefix:
    description:
      - Read every key that starts with O(key) (RV(kvs)), not only O(key) itself.
    type: bool
    default: false
seealso:
  - module: kubeha.cluster.etcd_key
author:
  - kubeha developers (@kubeha)
"""

EXAMPLES = r"""
- name: Read the validation key through another member than the one that wrote it
  kubeha.cluster.etcd_key_info:
    endpoints: ["https://10.0.0.12:2379"]
    ca_cert: /etc/etcd/pki/ca.crt
    client_cert: /etc/etcd/pki/server.crt
    client_key: /etc/etcd/pki/server.key
    key: /kubeha/validation
  register: _read
  failed_when: not _read.found or _read.kv.value != "expected"

- name: List the podmaster locks
  kubeha.cluster.etcd_key_info:
    ca_cert: /etc/etcd/pki/ca.crt
    client_cert: /etc/etcd/pki/server.crt
    client_key: /etc/etcd/pki/server.key
    key: /kubeha/podmaster/
    prefix: true
  register: _locks
"""

RETURN = r"""
found:
  description: Whether O(key) exists (with O(prefix=true), whether any key under it exists).
  returned: success
  type: bool
kv:
  description: The key O(key) itself; V(null) when it does not exist.
  returned: success
  type: dict
  contains:
    key:
      description: The key.
      type: str
      sample: /kubeha/validation
    value:
      description: The value.
      type: str
    create_revision:
      description: Revision of the key's creation.
      type: int
    mod_revision:
      description: Revision of the key's last modification (use it with O(kubeha.cluster.etcd_key#module:prev_revision)).
      type: int
    version:
      description: Number of writes to the key since its creation.
      type: int
    lease:
      description: ID of the lease the key is bound to, V(0) for none.
      type: int
kvs:
  description: Every key read, sorted by key (same fields as RV(kv)); with O(prefix=false) at most one.
  returned: success
  type: list
  elements: dict
count:
  description: Number of keys in RV(kvs).
  returned: success
  type: int
revision:
  description: The cluster revision of the read.
  returned: success
  type: int
endpoint:
  description: The endpoint that answered.
  returned: success
  type: str
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.kubeha.cluster.plugins.module_utils._etcd.common import argument_spec, run_module
from ansible_collections.kubeha.cluster.plugins.module_utils._etcd.keys import run_key_info


def main():
    module = AnsibleModule(
        argument_spec=argument_spec(
            key=dict(type="str", required=True, no_log=False),
            prefix=dict(type="bool", default=False),
        ),
        supports_check_mode=True,
    )
    run_module(module, run_key_info, module.params)


if __name__ == "__main__":
    main()
