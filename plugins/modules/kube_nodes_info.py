#!/usr/bin/python
# Copyright (c) kubeha developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: kube_nodes_info
short_description: Read the cluster's Nodes (addresses, pod CIDRs, Ready), waiting for the named ones
version_added: 0.3.0
description:
  - Lists the Nodes through the apiserver with a client certificate that may list them (kube-proxy's, bound to
    C(system:node-proxier), or an admin's; the Node authorizer lets a kubelet read only its own Node), in the standard library.
  - With O(wait_for), polls (once a second, bounded by O(wait_timeout)) until every named Node is registered and, with
    O(pod_cidrs), has a pod CIDR from the controller-manager; then fails naming what is missing.
  - Without O(wait_for), a read the API does not answer is tried again for at most 10 seconds (a balancer switching
    backends), then fails. A credential file that does not exist, or credentials the API refuses, fail at once.
extends_documentation_fragment:
  - kubeha.cluster.kube_api
  - kubeha.cluster.attributes
  - kubeha.cluster.attributes.INFO_MODULE
  - kubeha.cluster.attributes.POSIX
options:
  wait_for:
    description: Node names that must be registered.
    type: list
    elements: str
    default: []
  pod_cidrs:
    description: Also wait until every node of O(wait_for) has a pod CIDR.
    type: bool
    default: false
  wait_timeout:
    description: Seconds to wait for O(wait_for) (without it, for an answer; at most 10).
    type: int
    default: 120
  apiservers:
    description:
      - Apiserver URLs whose C(/version) is read first, each once, with the same certificates (every master's own
        apiserver, to see a roll or an upgrade half done). One that does not answer is reported, not a failure.
      - Returned as RV(apiservers), also when the Nodes cannot be read (the module then fails).
    type: list
    elements: str
    default: []
author:
  - kubeha developers (@kubeha)
"""

EXAMPLES = r"""
- name: Wait for the nodes' pod CIDRs
  kubeha.cluster.kube_nodes_info:
    server: https://10.0.0.10:8443
    ca_file: /srv/kubernetes/ca.crt
    cert_file: /srv/kubernetes/kube-proxy.crt
    key_file: /srv/kubernetes/kube-proxy.key
    wait_for: "{{ groups['workers'] }}"
    pod_cidrs: true
"""

RETURN = r"""
nodes:
  description: Every Node, sorted by name.
  type: list
  elements: dict
  returned: success
  contains:
    name: {description: The Node's name., type: str}
    address: {description: Its InternalIP., type: str}
    pod_cidrs: {description: Its pod CIDRs (empty until the controller-manager allocates one)., type: list, elements: str}
    ready: {description: Whether its Ready condition is True., type: bool}
    kubelet_version: {description: The version its kubelet reports (C(v1.35.4))., type: str}
    unschedulable: {description: Whether it is cordoned., type: bool}
    cordoned_by:
      description: Why kubeha cordoned it (M(kubeha.cluster.kube_node)'s O(kubeha.cluster.kube_node#module:reason)); empty when kubeha did not.
      type: str
apiservers:
  description: What each apiserver of O(apiservers) answered to C(/version), in their order.
  type: list
  elements: dict
  returned: always
  contains:
    server: {description: The URL asked., type: str}
    version: {description: Its C(gitVersion) (C(v1.35.4)); empty when it did not answer., type: str}
    error: {description: Why it did not answer; empty when it did., type: str}
"""

import os
import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.kubeha.cluster.plugins.module_utils._kube.api import ApiError, apiserver_versions, argument_spec, get_json, node_summary


def missing(nodes, wanted, pod_cidrs):
    by_name = {n["name"]: n for n in nodes}
    problems = ["Node %s is not registered" % name for name in wanted if name not in by_name]
    if pod_cidrs:
        problems += ["Node %s has no pod CIDR" % name for name in wanted if name in by_name and not by_name[name]["pod_cidrs"]]
    return problems


def poll(read, wait_for, pod_cidrs, wait_timeout, clock=time.monotonic, sleep=time.sleep):
    """(nodes, problems): read() once a second until the Nodes of ``wait_for`` are there (with ``pod_cidrs``, with a pod
    CIDR), for at most ``wait_timeout`` s; with nothing to wait for, only until the API answers, for at most 10 s.
    ``problems`` is empty on success; otherwise it says what was still missing, or the last error, and after how long.
    A refusal of the credentials (HTTP 401, 403) ends it at once."""
    bound = wait_timeout if wait_for else min(wait_timeout, 10)
    deadline = clock() + bound
    while True:
        try:
            nodes = read()
            problems = missing(nodes, wait_for, pod_cidrs)
        except ApiError as exc:
            if exc.status in (401, 403):   # the credentials, not the time: waiting will not help
                return [], [str(exc)]
            nodes, problems = [], [str(exc)]
        if not problems:
            return nodes, []
        if clock() >= deadline:
            return nodes, ["after %d s: %s" % (bound, problems[0])] + problems[1:]
        sleep(1)


def main():
    module = AnsibleModule(
        argument_spec=argument_spec(
            wait_for=dict(type="list", elements="str", default=[]),
            pod_cidrs=dict(type="bool", default=False),
            wait_timeout=dict(type="int", default=120),
            apiservers=dict(type="list", elements="str", default=[]),
        ),
        supports_check_mode=True,
    )
    p = module.params
    absent = ["%s %s" % (k, p[k]) for k in ("ca_file", "cert_file", "key_file") if not os.path.exists(p[k])]
    if absent:   # no wait makes a file appear: a host the secrets stage has not reached (or a check-mode preview of it)
        module.fail_json(msg="kube_nodes_info: %s: no such file. The secrets stage installs them (site.yml)." % ", ".join(absent))
    versions = apiserver_versions(p["apiservers"], p["ca_file"], p["cert_file"], p["key_file"])

    def read():
        items = get_json(p["server"], "/api/v1/nodes", p["ca_file"], p["cert_file"], p["key_file"]).get("items") or []
        return sorted((node_summary(n) for n in items), key=lambda n: n["name"])

    nodes, problems = poll(read, p["wait_for"], p["pod_cidrs"], p["wait_timeout"])
    if problems:
        hint = (" Pod CIDRs come from the controller-manager (--allocate-node-cidrs, control_plane_allocate_node_cidrs): "
                "is it running and elected?" if any("pod CIDR" in x for x in problems) else "")
        module.fail_json(msg="kube_nodes_info: %s.%s" % ("; ".join(problems), hint), apiservers=versions)
    module.exit_json(changed=False, nodes=nodes, apiservers=versions)


if __name__ == "__main__":
    main()
