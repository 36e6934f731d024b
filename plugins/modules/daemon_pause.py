#!/usr/bin/python
# Copyright (c) kubeha developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: daemon_pause
short_description: Pause the services of a list that run on a host (units and static pods), and later start exactly those again
version_added: 0.3.0
description:
  - With O(state=paused), stops the systemd units of O(units) that are active and moves the static pod manifests of
    O(manifests) that are there into O(hold_dir) (the kubelet stops those pods), recording what it did in O(state_file)
    before each change; then waits until no process whose command line matches one of O(processes) is left (at most
    O(timeout) seconds). Units that do not exist and manifests that are not there are left alone, so one list serves
    both modes.
  - With O(state=resumed), puts back what the record holds and nothing else (a service that did not run before the
    pause stays as it was) - the held manifests go back, the stopped units start. When O(manager) (podmaster) was paused
    on the host, what it starts itself (O(managed)) is left to it - its held manifests are dropped and its units not
    started - so that the resume never starts a copy beside the one the manager elects. The record is then removed.
  - A pause that stopped half way completes when run again; a resume run again after it finished has nothing to do.
  - C(playbooks/etcd-restore.yml) pauses the apiservers, the scheduler, the controller-manager and podmaster with it
    while etcd is restored, and resumes them after.
extends_documentation_fragment:
  - kubeha.cluster.attributes
  - kubeha.cluster.attributes.POSIX
attributes:
  check_mode:
    support: full
    details:
      - Reports what would be stopped, held or started; nothing changes and nothing is awaited.
  diff_mode:
    support: none
options:
  state:
    description: V(paused) or V(resumed).
    type: str
    choices: [paused, resumed]
    required: true
  units:
    description: systemd units to stop where they are active (O(state=paused)).
    type: list
    elements: str
    default: []
  manifests:
    description: Static pod manifests (absolute paths in the kubelet's manifest directory) to hold where they exist.
    type: list
    elements: path
    default: []
  processes:
    description: Regular expressions; the pause waits until no process's command line matches one of them.
    type: list
    elements: str
    default: []
  timeout:
    description: Seconds the pause waits for the processes to end.
    type: int
    default: 120
  kill:
    description:
      - O(state=paused) - stop nothing gracefully. Each unit's stop is asked for without waiting and its processes get
        SIGKILL at once, and every process matching O(processes) gets SIGKILL while the pause waits (the held static
        pods' too, which the kubelet would otherwise give their whole grace period).
      - For a restore, where what the paused services would finish serving is replaced anyway. An apiserver whose etcd
        lost its majority otherwise waits out its whole graceful stop on requests that cannot finish.
    type: bool
    default: false
  hold_dir:
    description: Where held manifests wait (created C(0700); not a directory the kubelet watches).
    type: path
    default: /var/lib/kubeha/paused-manifests
  state_file:
    description: The record of the pause (C(0600)).
    type: path
    default: /var/lib/kubeha/paused.json
  manager:
    description: A service of the lists that starts O(managed) itself (podmaster).
    type: str
    default: ""
  managed:
    description: Units or manifests (by name, without C(.service) or C(.yaml)) that O(manager) starts itself.
    type: list
    elements: str
    default: []
author:
  - kubeha developers (@kubeha)
"""

EXAMPLES = r"""
- name: Pause the control plane
  kubeha.cluster.daemon_pause:
    state: paused
    units: [podmaster, kube-scheduler, kube-controller-manager, kube-apiserver]
    manifests: [/etc/kubernetes/manifests/podmaster.yaml, /etc/kubernetes/manifests/kube-apiserver.yaml]
    processes: ['(^|/)kube-apiserver( |$)', 'podmaster\.pyz']

- name: Start again what was paused
  kubeha.cluster.daemon_pause:
    state: resumed
    manager: podmaster
    managed: [kube-scheduler, kube-controller-manager]
"""

RETURN = r"""
stopped:
  description: Units this call stopped (O(state=paused)).
  returned: state is paused
  type: list
  elements: str
held:
  description: Manifests this call moved to O(hold_dir) (O(state=paused)).
  returned: state is paused
  type: list
  elements: str
paused:
  description: The whole record (C(units), C(manifests)), with what an earlier, interrupted pause did.
  returned: state is paused
  type: dict
waited:
  description: Seconds the pause waited for the processes to end.
  returned: state is paused
  type: float
started:
  description: Units started again (O(state=resumed)).
  returned: state is resumed
  type: list
  elements: str
restored:
  description: Manifests put back (O(state=resumed)).
  returned: state is resumed
  type: list
  elements: str
left_to_manager:
  description: What O(manager) starts itself, not put back (O(state=resumed)).
  returned: state is resumed
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.kubeha.cluster.plugins.module_utils._daemon.common import DaemonError
from ansible_collections.kubeha.cluster.plugins.module_utils._daemon.pause import pause, resume


def main():
    module = AnsibleModule(
        argument_spec=dict(
            state=dict(type="str", required=True, choices=["paused", "resumed"]),
            units=dict(type="list", elements="str", default=[]),
            manifests=dict(type="list", elements="path", default=[]),
            processes=dict(type="list", elements="str", default=[]),
            timeout=dict(type="int", default=120),
            hold_dir=dict(type="path", default="/var/lib/kubeha/paused-manifests"),
            state_file=dict(type="path", default="/var/lib/kubeha/paused.json"),
            manager=dict(type="str", default=""),
            managed=dict(type="list", elements="str", default=[]),
            kill=dict(type="bool", default=False),
        ),
        supports_check_mode=True,
    )
    p = module.params
    try:
        if p["state"] == "paused":
            result = pause(p["units"], p["manifests"], p["hold_dir"], p["state_file"], processes=p["processes"],
                           timeout=p["timeout"], check_mode=module.check_mode, kill=p["kill"])
        else:
            result = resume(p["hold_dir"], p["state_file"], manager=p["manager"], managed=p["managed"], check_mode=module.check_mode)
    except (DaemonError, OSError) as exc:
        module.fail_json(msg="%s: %s" % ("pause" if p["state"] == "paused" else "resume", exc))
    module.exit_json(**result)


if __name__ == "__main__":
    main()
