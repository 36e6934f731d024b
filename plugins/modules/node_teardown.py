#!/usr/bin/python
# Copyright (c) kubeha developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: node_teardown
short_description: Take a node out for good - stop its Kubernetes daemons and pods, remove its files and keys
version_added: 0.3.0
description:
  - The node's side of removing a worker (C(playbooks/remove-node.yml)), after its Node was drained. The steps, in
    this order, follow.
  - kubeha's monit checks (O(monit_check_file)) are removed with monit stopped, so that monit cannot start again what
    is stopped next. monit starts again at the end, with the checks it has besides kubeha's.
  - The O(daemons), in order, are stopped and disabled (systemd units) or stopped with their control scripts (daemons
    monit ran, found by their pidfiles).
  - Once O(pods_after) (the kubelet) is stopped, every process left in the kubelet's pod cgroups (C(kubepods.slice) or
    C(kubepods), either cgroup driver) is killed. These are the DaemonSet and static pods a drain leaves.
  - Once every daemon is stopped, containerd's shims are killed.
  - The O(files) are removed (directories with what they hold), and systemd reloads its units when one was under
    C(/etc/systemd).
  - Each step looks first, so a second run reports C(changed=false), and a run after a failure half way does what is
    left.
extends_documentation_fragment:
  - kubeha.cluster.attributes
  - kubeha.cluster.attributes.POSIX
attributes:
  check_mode:
    support: full
    details:
      - Reports each step that would be done (RV(actions)); nothing is stopped, killed or removed.
  diff_mode:
    support: none
options:
  daemons:
    description: The daemons to stop, in order (kube-proxy, the kubelet, containerd).
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description: The systemd unit (C(.service) implied), or the daemon's name under monit.
        type: str
        required: true
      supervisor:
        description: C(systemd) (stop and disable the unit; a unit that does not exist is skipped) or C(monit).
        type: str
        choices: [systemd, monit]
        default: systemd
      pidfile:
        description: C(monit) - the daemon's pidfile.
        type: path
      ctl:
        description: C(monit) - its control script, run with C(stop).
        type: path
  pods_after:
    description: The daemon (of O(daemons)) after whose stop the pods' processes are killed.
    type: str
    default: kubelet
  monit_check_file:
    description: kubeha's check file in monit's configuration, removed first (with monit stopped). Unset without monit.
    type: path
  monit_unit:
    description: monit's systemd unit.
    type: str
    default: monit
  files:
    description:
      - Paths to remove (files, or directories with what they hold); each absolute and at least two levels deep.
      - Directories holding mounts (the kubelet's C(/var/lib/kubelet) with its pods' volumes) do not belong here.
    type: list
    elements: path
    default: []
  kill_timeout:
    description: Seconds the killed processes may take to go.
    type: float
    default: 30
author:
  - kubeha developers (@kubeha)
"""

EXAMPLES = r"""
- name: Stop kube-proxy, the kubelet and containerd, kill what they leave, remove the node's kubeconfigs and keys
  kubeha.cluster.node_teardown:
    daemons:
      - {name: kube-proxy}
      - {name: kubelet}
      - {name: containerd}
    files:
      - /etc/systemd/system/kube-proxy.service
      - /etc/kubernetes/kube-proxy.kubeconfig
      - /etc/kubernetes/kubelet.kubeconfig
      - /srv/kubernetes/kubelet.key
      - /srv/kubernetes/kube-proxy.key
"""

RETURN = r"""
actions:
  description: What was done (or would be, in check mode), in order.
  type: list
  elements: str
  returned: always
  sample: ["stopped kube-proxy", "disabled kube-proxy", "killed 4 pod process(es)", "removed /srv/kubernetes/kubelet.key"]
stopped:
  description: The daemons that ran and were (or would be) stopped.
  type: list
  elements: str
  returned: always
killed:
  description: How many pod processes (C(pods)) and containerd shims (C(shims)) were killed (or would be).
  type: dict
  returned: always
  sample: {"pods": 4, "shims": 2}
removed:
  description: The paths removed (or that would be), O(monit_check_file) included.
  type: list
  elements: str
  returned: always
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.kubeha.cluster.plugins.module_utils._daemon.common import DaemonError
from ansible_collections.kubeha.cluster.plugins.module_utils._daemon.teardown import teardown


def main():
    module = AnsibleModule(
        argument_spec=dict(
            daemons=dict(type="list", elements="dict", required=True, options=dict(
                name=dict(type="str", required=True),
                supervisor=dict(type="str", default="systemd", choices=["systemd", "monit"]),
                pidfile=dict(type="path"),
                ctl=dict(type="path"),
            ), required_if=[("supervisor", "monit", ["pidfile", "ctl"])]),
            pods_after=dict(type="str", default="kubelet"),
            monit_check_file=dict(type="path"),
            monit_unit=dict(type="str", default="monit"),
            files=dict(type="list", elements="path", default=[]),
            kill_timeout=dict(type="float", default=30.0),
        ),
        supports_check_mode=True,
    )
    try:
        module.exit_json(**teardown(module.params, check_mode=module.check_mode))
    except DaemonError as exc:
        module.fail_json(msg="node_teardown: %s" % exc, **exc.result)


if __name__ == "__main__":
    main()
