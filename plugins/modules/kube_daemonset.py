#!/usr/bin/python
# Copyright (c) kubeha developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: kube_daemonset
short_description: Delete a DaemonSet and wait until its pods have stopped, in the standard library
version_added: 0.3.0
description:
  - O(state=absent) deletes the DaemonSet with foreground propagation (the garbage collector deletes its pods first)
    and waits, within O(timeout), until the DaemonSet and every pod it owned are gone; a pod goes once its kubelet has
    stopped its containers, so the node's ports and host paths are free when this returns.
  - The worker role uses it to retire kubeadm's kube-proxy DaemonSet (C(kube-system/kube-proxy)) on an adopted cluster
    before kubeha's kube-proxy starts on the nodes, so that no node runs two kube-proxies.
  - A DaemonSet that does not exist is left so (C(changed=false)). Talks to the apiserver with a client certificate
    that may do this (an admin's).
extends_documentation_fragment:
  - kubeha.cluster.kube_api
  - kubeha.cluster.attributes
  - kubeha.cluster.attributes.POSIX
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
options:
  namespace:
    description: The DaemonSet's namespace.
    type: str
    required: true
  name:
    description: The DaemonSet's name.
    type: str
    required: true
  state:
    description: What the DaemonSet should be (only absent).
    type: str
    default: absent
    choices: [absent]
  timeout:
    description: Seconds to wait for its pods to be gone; then the module fails naming the pods left and their nodes.
    type: float
    default: 120
author:
  - kubeha developers (@kubeha)
"""

EXAMPLES = r"""
- name: Retire kubeadm's kube-proxy DaemonSet
  kubeha.cluster.kube_daemonset:
    server: https://10.0.0.10:8443
    ca_file: /srv/kubernetes/ca.crt
    cert_file: /srv/kubernetes/kubecfg.crt
    key_file: /srv/kubernetes/kubecfg.key
    namespace: kube-system
    name: kube-proxy
    state: absent
"""

RETURN = r"""
pods:
  description: The pods the DaemonSet had (C(node/pod)), deleted with it; in check mode, the ones that would be.
  type: list
  elements: str
  returned: always
  sample: [w1/kube-proxy-7xk2p]
seconds:
  description: How long the pods took to go.
  type: float
  returned: always
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.kubeha.cluster.plugins.module_utils._kube.api import ApiError, argument_spec, module_request
from ansible_collections.kubeha.cluster.plugins.module_utils._kube.daemonset import DaemonSetError, run_absent


def main():
    module = AnsibleModule(
        argument_spec=argument_spec(
            namespace=dict(type="str", required=True),
            name=dict(type="str", required=True),
            state=dict(type="str", default="absent", choices=["absent"]),
            timeout=dict(type="float", default=120.0),
        ),
        supports_check_mode=True,
    )
    p = module.params

    try:
        module.exit_json(**run_absent(module_request(p), p["namespace"], p["name"], p["timeout"], check_mode=module.check_mode))
    except DaemonSetError as exc:
        module.fail_json(msg="kube_daemonset: %s" % exc, **exc.result)
    except ApiError as exc:
        module.fail_json(msg="kube_daemonset: %s/%s: %s" % (p["namespace"], p["name"], exc))


if __name__ == "__main__":
    main()
