#!/usr/bin/python
# Copyright (c) kubeha developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: kube_node
short_description: Cordon, drain, uncordon or delete a Node, as kubectl drain does, in the standard library
version_added: 0.3.0
description:
  - O(state=cordoned) marks the Node unschedulable; O(state=drained) also evicts its pods through the eviction API (so
    PodDisruptionBudgets hold; an eviction a budget refuses is tried again) and waits until they are gone, within
    O(timeout); O(state=absent) drains and then deletes the Node; O(state=present) makes it schedulable again.
  - A drain leaves mirror pods (static pods), DaemonSet pods and finished pods, as C(kubectl drain --ignore-daemonsets)
    does. Before anything changes it refuses pods no controller would start elsewhere (O(force) deletes them) and pods
    with emptyDir data (O(delete_emptydir_data) accepts losing it), naming each.
  - Talks to the apiserver with a client certificate that may do this (an admin's), in the standard library.
  - Around a kubelet's move to another release (O(release)), a drain leaves alone a Node whose kubelet reports that
    release already, or that is not registered; a cordon with a O(reason) is marked on the Node (annotation
    C(kubeha.cluster/cordoned)), and O(state=present) with a O(reason) makes schedulable only a Node so marked (one
    cordoned by hand stays cordoned).
  - Idempotent, so a second run reports C(changed=false).
extends_documentation_fragment:
  - kubeha.cluster.kube_api
  - kubeha.cluster.attributes
  - kubeha.cluster.attributes.POSIX
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
options:
  name:
    description: The Node's name.
    type: str
    required: true
  state:
    description: What the Node should be.
    type: str
    choices: [present, cordoned, drained, absent]
    default: drained
  timeout:
    description: Seconds the drain may take (evictions refused by a budget tried again, pods terminating), or the wait of O(wait_ready).
    type: float
    default: 300
  force:
    description: Delete pods that no controller owns (they are not started elsewhere).
    type: bool
    default: false
  delete_emptydir_data:
    description: Evict pods with emptyDir volumes (their data is lost).
    type: bool
    default: false
  out_of_service:
    description:
      - The Node's machine is shut down. With O(state=drained) or O(state=absent), the Node gets the taint of a
        non-graceful shutdown (C(node.kubernetes.io/out-of-service=nodeshutdown:NoExecute)) before the drain, so that
        Kubernetes deletes its pods for good (no kubelet is left to confirm that they stopped) and their controllers
        start them elsewhere.
      - Refused before any change while the Node reports Ready (its kubelet runs).
    type: bool
    default: false
  release:
    description:
      - The Kubernetes release the Node's kubelet moves to (C(1.35.4)).
      - With O(state=cordoned) or O(state=drained), a Node whose kubelet already reports it is left as it is, and so is
        a Node that is not registered. With O(state=present) and O(wait_ready), the Node must report it.
    type: str
  reason:
    description:
      - Why kubeha cordons the Node, kept in its annotation C(kubeha.cluster/cordoned) when this call cordons it.
      - With O(state=present), only a Node cordoned with such an annotation is made schedulable (and the annotation
        removed); a Node cordoned otherwise stays cordoned (RV(kept_cordoned)).
    type: str
  wait_ready:
    description:
      - With O(state=present), wait (within O(timeout)) until the Node is Ready, and its kubelet reports O(release) when
        given, before it is made schedulable; fails naming what the Node reports.
    type: bool
    default: false
author:
  - kubeha developers (@kubeha)
"""

EXAMPLES = r"""
- name: Drain a worker before its kubelet is upgraded
  kubeha.cluster.kube_node:
    server: https://10.0.0.10:8443
    ca_file: /srv/kubernetes/ca.crt
    cert_file: /srv/kubernetes/admin.crt
    key_file: /srv/kubernetes/admin.key
    name: w1
    state: drained
    timeout: 300

- name: Remove a worker whose machine is shut down (its pods are deleted for good and started elsewhere)
  kubeha.cluster.kube_node:
    server: https://10.0.0.10:8443
    ca_file: /srv/kubernetes/ca.crt
    cert_file: /srv/kubernetes/admin.crt
    key_file: /srv/kubernetes/admin.key
    name: w3
    state: absent
    out_of_service: true

- name: Make it schedulable again
  kubeha.cluster.kube_node:
    server: https://10.0.0.10:8443
    ca_file: /srv/kubernetes/ca.crt
    cert_file: /srv/kubernetes/admin.crt
    key_file: /srv/kubernetes/admin.key
    name: w1
    state: present

- name: Drain w2 before its kubelet moves to 1.35.4 (nothing happens when it runs 1.35.4 already)
  kubeha.cluster.kube_node:
    server: https://10.0.0.10:8443
    ca_file: /srv/kubernetes/ca.crt
    cert_file: /srv/kubernetes/admin.crt
    key_file: /srv/kubernetes/admin.key
    name: w2
    state: drained
    release: 1.35.4
    reason: kubelet v1.35.4

- name: Once its kubelet runs 1.35.4 and the Node is Ready, make it schedulable (unless someone else cordoned it)
  kubeha.cluster.kube_node:
    server: https://10.0.0.10:8443
    ca_file: /srv/kubernetes/ca.crt
    cert_file: /srv/kubernetes/admin.crt
    key_file: /srv/kubernetes/admin.key
    name: w2
    state: present
    release: 1.35.4
    reason: kubelet v1.35.4
    wait_ready: true
    timeout: 120
"""

RETURN = r"""
actions:
  description: What was done (or would be, in check mode), in order.
  type: list
  elements: str
  returned: always
  sample: [cordoned, tainted out-of-service, drained]
evicted:
  description: The pods evicted (C(namespace/name)); in check mode, the ones that would be.
  type: list
  elements: str
  returned: always
left:
  description: The pods a drain leaves on the Node, each with why (C(pod), C(why)).
  type: list
  elements: dict
  returned: always
kubelet_version:
  description: The release the Node's kubelet reports, without the v (empty when the Node is not registered).
  type: str
  returned: always
  sample: 1.35.4
kept_cordoned:
  description: With O(state=present) and O(reason), the Node stays cordoned because kubeha did not cordon it.
  type: bool
  returned: always
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.kubeha.cluster.plugins.module_utils._kube.api import ApiError, argument_spec, module_request
from ansible_collections.kubeha.cluster.plugins.module_utils._kube.node import DrainError, NodeClient, run_node


def main():
    module = AnsibleModule(
        argument_spec=argument_spec(
            name=dict(type="str", required=True),
            state=dict(type="str", default="drained", choices=["present", "cordoned", "drained", "absent"]),
            timeout=dict(type="float", default=300.0),
            force=dict(type="bool", default=False),
            delete_emptydir_data=dict(type="bool", default=False),
            out_of_service=dict(type="bool", default=False),
            release=dict(type="str"),
            reason=dict(type="str"),
            wait_ready=dict(type="bool", default=False),
        ),
        supports_check_mode=True,
    )
    p = module.params

    try:
        module.exit_json(**run_node(NodeClient(module_request(p)), p, check_mode=module.check_mode))
    except DrainError as exc:
        module.fail_json(msg="kube_node: %s" % exc, **exc.result)
    except ApiError as exc:
        module.fail_json(msg="kube_node: %s" % exc)


if __name__ == "__main__":
    main()
