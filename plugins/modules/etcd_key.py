#!/usr/bin/python
# Copyright (c) kubeha developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: etcd_key
short_description: Get, put, delete or compare-and-swap one etcd key
version_added: 0.1.0
description:
  - Writes or deletes one key through etcd's v3 JSON gateway, with no C(etcdctl) and no Python packages on the target.
    To only read keys, use M(kubeha.cluster.etcd_key_info).
  - A put that would not change the value is not sent, so a second run reports C(changed=false).
  - Compare-and-swap puts (O(create_only), O(prev_value), O(prev_revision)) are one etcd transaction, so two
    writers cannot both win.
  - Keys and values are UTF-8 text; etcd's base64 encoding is handled by the module.
extends_documentation_fragment:
  - kubeha.cluster.etcd
  - kubeha.cluster.attributes
  - kubeha.cluster.attributes.POSIX
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
options:
  key:
    description:
      - The key, as text, for example V(/kubeha/validation).
    type: str
    required: true
  value:
    description:
      - The value to store. Required with O(state=present).
    type: str
  state:
    description:
      - V(present) stores O(value) (subject to the compare options); V(absent) deletes the key.
    type: str
    choices: [present, absent]
    default: present
  create_only:
    description:
      - With O(state=present), only create the key. If it exists already the module changes nothing and
        reports RV(succeeded=false) together with the current value (no failure, that is the answer).
    type: bool
    default: false
  prev_value:
    description:
      - Compare-and-swap on the value. With O(state=present), store O(value) only if the current value is this;
        with O(state=absent), delete only if it is.
      - If the compare fails the module fails and shows the current value, unless the key already holds the
        wanted result (then C(changed=false)).
    type: str
  prev_revision:
    description:
      - Compare-and-swap on the key's modification revision (RV(kv.mod_revision) of an earlier read); V(0) means
        the key must not exist. Same behaviour on failure as O(prev_value).
    type: int
seealso:
  - module: kubeha.cluster.etcd_key_info
author:
  - kubeha developers (@kubeha)
"""

EXAMPLES = r"""
- name: Write a validation key through the first etcd member
  kubeha.cluster.etcd_key:
    endpoints: ["https://10.0.0.11:2379"]
    ca_cert: /etc/etcd/pki/ca.crt
    client_cert: /etc/etcd/pki/server.crt
    client_key: /etc/etcd/pki/server.key
    key: /kubeha/validation
    value: "written by {{ inventory_hostname }}"

- name: Read it back through another member
  kubeha.cluster.etcd_key_info:
    endpoints: ["https://10.0.0.12:2379"]
    ca_cert: /etc/etcd/pki/ca.crt
    client_cert: /etc/etcd/pki/server.crt
    client_key: /etc/etcd/pki/server.key
    key: /kubeha/validation
  register: _read
  failed_when: _read.kv.value != "written by " ~ inventory_hostname

- name: Take a one-time marker (only the first writer wins)
  kubeha.cluster.etcd_key:
    key: /kubeha/bootstrap-owner
    value: "{{ inventory_hostname }}"
    create_only: true
    ca_cert: /etc/etcd/pki/ca.crt
    client_cert: /etc/etcd/pki/server.crt
    client_key: /etc/etcd/pki/server.key
  register: _owner

- name: Delete the validation key
  kubeha.cluster.etcd_key:
    key: /kubeha/validation
    state: absent
    ca_cert: /etc/etcd/pki/ca.crt
    client_cert: /etc/etcd/pki/server.crt
    client_key: /etc/etcd/pki/server.key
"""

RETURN = r"""
found:
  description: Whether the key existed before the module acted.
  returned: success
  type: bool
succeeded:
  description:
    - Whether the write (or delete) was done or was not needed. V(false) only with O(create_only) when the key
      existed already.
  returned: success
  type: bool
kv:
  description: The key after the module ran (in check mode, as it would be); V(null) when it does not exist.
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
      sample: written by master1
    create_revision:
      description: Revision of the key's creation. V(0) in check mode for a key not yet created.
      type: int
    mod_revision:
      description: Revision of the key's last modification.
      type: int
    version:
      description: Number of writes to the key since its creation.
      type: int
    lease:
      description: ID of the lease the key is bound to, V(0) for none.
      type: int
previous:
  description: The key before the module ran (same fields as RV(kv)), V(null) when it did not exist.
  returned: success
  type: dict
revision:
  description: The cluster revision etcd reported with the last request.
  returned: success
  type: int
endpoint:
  description: The endpoint that answered.
  returned: success
  type: str
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.kubeha.cluster.plugins.module_utils._etcd.common import argument_spec, run_module
from ansible_collections.kubeha.cluster.plugins.module_utils._etcd.keys import run_key


def main():
    module = AnsibleModule(
        argument_spec=argument_spec(
            key=dict(type="str", required=True, no_log=False),
            value=dict(type="str"),
            state=dict(type="str", default="present", choices=["present", "absent"]),
            create_only=dict(type="bool", default=False),
            prev_value=dict(type="str"),
            prev_revision=dict(type="int"),
        ),
        mutually_exclusive=[["create_only", "prev_value", "prev_revision"]],
        required_if=[["state", "present", ["value"]]],
        supports_check_mode=True,
    )
    run_module(module, run_key, module.params, check_mode=module.check_mode)


if __name__ == "__main__":
    main()
