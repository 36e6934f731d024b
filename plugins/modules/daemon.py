#!/usr/bin/python
# Copyright (c) kubeha developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


DOCUMENTATION = r"""
---
module: daemon
short_description: Lay out a daemon's files and keep its systemd units or static pods running, restarted when what they read changed
version_added: 0.1.0
description:
  - The whole job of putting a daemon on a host, in one call (one round trip), so a role needs one task per daemon
    instead of one per package, file, directory and unit.
  - "Files: each entry of O(files) is a directory, a file (from O(files[].content), a controller O(files[].template) or
    a controller O(files[].src), binaries included), an empty file to create (C(touch)) or a file to remove. Changes are
    decided from content, mode, owner and group. Every changed file is validated first (O(files[].validate)), and
    nothing is written unless all pass; files are then replaced atomically (temporary file in the same directory,
    mode and owner set, renamed). Missing parent directories are created C(0755 root:root)."
  - "Units: each entry of O(units) is a systemd unit or a static pod. A stopped unit is started (and waited for with
    O(units[].health)); C(systemctl daemon-reload) runs once when unit files changed or systemd asks for it."
  - "Restarts are decided from content: kubeha records, per unit, a digest of the files it reads (the O(files) entries
    naming it in O(files[].restarts), and its watched O(units[].inputs) such as certificates) when it (re)starts it.
    A running unit whose digest differs is restarted, so a restart lost to an earlier failed run happens on the next
    one. With O(restart=pending) the restart is recorded instead and done by a later call with
    O(restart_pending=true), typically a handler with C(throttle: 1) for rolling restarts."
  - A static pod (O(units[].kind=static_pod)) is started by copying its staged manifest O(units[].source) into the
    kubelet's manifest directory (O(units[].manifest)); it is restarted the same way when the staged copy differs.
    Put the digest of the files the pod reads into the manifest with O(files[].digest_of), so that a new certificate
    changes the manifest and the kubelet restarts the pod.
author:
  - kubeha developers (@kubeha)
extends_documentation_fragment:
  - kubeha.cluster.attributes
attributes:
  action:
    description: Indicates this has a corresponding action plugin so some parts of the options can be executed on the controller.
    support: full
    details:
      - Templates are rendered and controller files read by the action plugin on the controller; a large O(files[].src)
        is transferred only when the host's copy differs.
  async:
    description: Supports being used with the C(async) keyword.
    support: none
  check_mode:
    support: full
    details:
      - Reports the files that would change, the units that would start, stop or restart and why; validations run.
  diff_mode:
    support: full
    details:
      - Text files show their content; binaries and O(files[].secret) files their sha256, mode and owner only.
  platform:
    support: full
    platforms: posix
    details:
      - Units need systemd; static pods need a kubelet watching O(units[].manifest)'s directory.
options:
  files:
    description: Directories and files, laid out in this order (directories first).
    type: list
    elements: dict
    default: []
    suboptions:
      path:
        description: Absolute path on the host.
        type: path
        required: true
      state:
        description: C(file), C(directory), C(touch) (an empty file when missing; attributes only otherwise) or C(absent).
        type: str
        choices: [file, directory, touch, absent]
        default: file
      content:
        description: The file's text.
        type: str
      content_base64:
        description: The file's bytes, base64-encoded (set by the action plugin for small O(files[].src)).
        type: str
      template:
        description: A Jinja2 template rendered on the controller with the task's variables, found like M(ansible.builtin.template) finds it.
        type: str
      template_vars:
        description: Variables for O(files[].template) only, on top of the task's (one template rendered for several files).
        type: dict
      src:
        description: A file on the controller (a role's C(files/) directory is searched), binaries included.
        type: path
      src_sha256:
        description:
          - The sha256 that O(files[].src) must have on the controller; the action plugin fails, sending nothing, when it
            differs (a build artefact changed between its build and its shipping).
        type: str
      checksum:
        description: Set by the action plugin - the sha256 of a large O(files[].src), compared with the host's copy before it is sent.
        type: str
      staged:
        description: Set by the action plugin - the transferred copy of a large O(files[].src) on the host.
        type: path
      mode:
        description: Permissions, quoted octal like C("0644"). Required except for C(absent).
        type: raw
      owner:
        description: Owner name.
        type: str
        default: root
      group:
        description: Group name.
        type: str
        default: root
      validate:
        description:
          - Check a changed file before anything is written. A command with C(%s) for the candidate file (like
            M(ansible.builtin.template)), or C(systemd:UNIT) (a unit file) or C(systemd:UNIT:DROPIN) (a drop-in of an
            installed unit) for C(systemd-analyze verify), where any message about the unit fails.
          - Files the same call creates and that have no validation of their own (a CA a configuration names) are
            laid out before the validations run, and removed again if one fails. In check mode they cannot be, so a
            validation that fails while such files are missing is reported in RV(validation_skipped) instead.
        type: str
      restarts:
        description: Names of O(units) that read this file; its content is part of their restart digest.
        type: list
        elements: str
        default: []
      reloads:
        description:
          - Names of O(units) that reload this file without a restart (C(systemctl reload)). A running unit is reloaded
            when the file changed in this call or differs from what the unit last loaded (a digest kept with its restart
            record), so a reload lost to a run that failed before its handler is done by the next run. With
            O(restart=pending) the reload is left pending like a restart, and a restart covers it.
        type: list
        elements: str
        default: []
      secret:
        description:
          - Never show the content in diffs, and mask it wherever the module's result would carry it.
          - The module never logs its arguments on the host (no C(Invoked with) line in the journal), secret or not.
        type: bool
        default: false
      digest_of:
        description:
          - Files on the host whose content digest replaces C(@@inputs_digest@@) in this file's content (for static pod
            manifests, whose content must change for the kubelet to restart the pod).
        type: list
        elements: path
        default: []
      keep_lines:
        description:
          - A regular expression. When the file exists, its lines that match it replace the matching lines of the new
            content, at the place of the first of them; nothing is kept when either side has none.
          - For settings a program reads only once, which must not change the file afterwards (etcd's bootstrap flags in
            a static pod manifest, which the kubelet would otherwise restart the pod for).
        type: str
  packages:
    description:
      - Debian packages the daemon comes from (its binary, its unit), installed with apt-get when missing, before the
        files are validated and written. A temporary C(policy-rc.d) keeps their services from starting with the
        packaged configuration. In check mode they are reported, and validations are skipped while they are missing.
    type: list
    elements: str
    default: []
  units:
    description: systemd units or static pods, handled in this order after the files.
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: Unit name (C(.service) is implied) or static pod name.
        type: str
        required: true
      kind:
        description: C(systemd) or C(static_pod).
        type: str
        choices: [systemd, static_pod]
        default: systemd
      state:
        description:
          - C(started) keeps it running; C(stopped) stops it (a static pod's manifest is removed); C(as_is) never starts
            or stops it (something else does, like podmaster) but restarts it when it runs and what it reads changed.
        type: str
        choices: [started, stopped, as_is]
        default: started
      enabled:
        description: Start at boot (systemd). Unset leaves it as it is.
        type: bool
      masked:
        description: Mask (implies stopped) or unmask the unit. Unset leaves it as it is.
        type: bool
      no_block:
        description:
          - Start without waiting for the unit to be up (C(systemctl start --no-block)); this call never waits for its
            health (for members that can only be healthy together, like etcd's).
          - Its O(units[].health) is still recorded, and M(kubeha.cluster.converged_info) checks it on every fast-path run.
        type: bool
        default: false
      inputs:
        description:
          - Files the unit reads that are not in O(files) (certificates, keys, a binary unpacked from a release); their
            content is part of its restart digest.
          - Their content as of this call is also in RV(managed), so that a later change of one is drift for
            M(kubeha.cluster.converged_info).
        type: list
        elements: path
        default: []
      health:
        description: How to tell it is up, after a start or restart and on every run. Exactly one of url, port, socket, command.
        type: dict
        suboptions:
          url:
            description: HTTP(S) URL that must answer O(units[].health.status).
            type: str
          status:
            description: The status O(units[].health.url) must answer.
            type: int
            default: 200
          ca_path:
            description: CA bundle to verify an HTTPS O(units[].health.url).
            type: path
          validate_certs:
            description:
              - Whether an HTTPS O(units[].health.url) must present a certificate O(units[].health.ca_path) verifies.
              - V(false) only for a loopback URL of a component that serves a self-signed certificate of its own
                (kube-scheduler's and kube-controller-manager's health endpoints); the answer is a status, never a secret.
            type: bool
            default: true
          client_cert:
            description: Client certificate for O(units[].health.url).
            type: path
          client_key:
            description: Key of O(units[].health.client_cert).
            type: path
          port:
            description: TCP port that must accept connections.
            type: int
          host:
            description: Host of O(units[].health.port).
            type: str
            default: 127.0.0.1
          socket:
            description: Unix socket that must accept connections.
            type: path
          command:
            description: Command (argv) that must exit 0.
            type: list
            elements: str
      health_timeout:
        description: Seconds to wait for O(units[].health); default O(health_timeout).
        type: float
      restart:
        description: This unit's restart mode; default O(restart).
        type: str
        choices: [now, pending]
      manifest:
        description: static_pod - the manifest's path in the kubelet's manifest directory.
        type: path
      source:
        description: static_pod - the staged manifest (usually one of O(files)) copied to O(units[].manifest) to start or restart the pod.
        type: path
      process:
        description:
          - static_pod - the program the pod runs (the base name of its container's command, like C(kube-apiserver)).
          - When a new manifest replaces a running pod's, the restart waits (within O(units[].stop_timeout) +
            O(units[].health_timeout)) until a process of that name started after the new manifest was installed, and
            only then for O(units[].health). The old pod answers its health check until the kubelet replaces it, so
            without this a rolling restart would take the old pod's answer for the new one's and go on to the next host
            at once.
        type: str
      stop_timeout:
        description:
          - static_pod - seconds the old pod may take to stop gracefully (its C(terminationGracePeriodSeconds)), added to
            the wait for the new process (see O(units[].process)). A host unit's stop is bounded by its own
            C(TimeoutStopSec).
        type: float
        default: 0
  restart:
    description:
      - C(now) restarts (and waits for) units whose digest changed in this call; C(pending) records the restart for a
        later O(restart_pending=true) call and returns the units in RV(restart_pending).
    type: str
    choices: [now, pending]
    default: now
  restart_pending:
    description:
      - Restart, in order, what earlier calls on this host left pending, waiting for each one's health; give no O(files)
        or O(units). A failed restart stays pending for the next call.
    type: bool
    default: false
  restart_units:
    description:
      - With O(restart_pending=true), restart only the pending restarts of these units (their names, as in O(units[].name));
        the others stay pending for their own call. Each role names its own units, so that one role's rolling restart never
        restarts another role's unit out of its order (a kubelet whose restart site.yml's first pass left pending for its
        drained, Lease-gated turn, on a master whose apiserver rolls first). Empty - every pending restart.
    type: list
    elements: str
    default: []
  health_timeout:
    description: Seconds to wait for a unit's health.
    type: float
    default: 60
  state_dir:
    description: Where the restart records are kept on the host (C(0700)).
    type: path
    default: /var/lib/kubeha/daemons
  refuse_if_present:
    description:
      - Paths whose presence makes the call fail before it changes anything, with their O(refuse_if_present[].msg) (every
        path present, in one message). For
        what another layout of the same daemon left on the host (a systemd unit where a static pod is wanted, or the
        other way round).
    type: list
    elements: dict
    default: []
    suboptions:
      path:
        description: An absolute path on the host.
        type: path
        required: true
      msg:
        description: Why it is refused and what to do; the failure names the path before it.
        type: str
        required: true
  check_mode_undecided:
    description:
      - Set by the action plugin in check mode - files whose O(files[].src) is not on the controller yet (an earlier
        stage, such as the controller's PKI, only reported it). They are left out, reported as C(not decided), and a
        validation that fails while they are missing is reported in RV(validation_skipped) instead of failing.
    type: list
    elements: path
    default: []
"""

EXAMPLES = r"""
- name: The kubelet and containerd, their files and units, in one task
  kubeha.cluster.daemon:
    files:
      - {path: /var/lib/kubelet, state: directory, mode: "0700"}
      - {path: /usr/local/bin/kubelet, src: /srv/artifacts/v1.34.2/bin/linux/amd64/kubelet, mode: "0755", restarts: [kubelet]}
      - {path: /var/lib/kubelet/config.yaml, template: kubelet-config.yaml.j2, mode: "0600", restarts: [kubelet]}
      - {path: /etc/systemd/system/kubelet.service, template: kubelet.service.j2, mode: "0644",
         validate: "systemd:kubelet.service", restarts: [kubelet]}
    units:
      - {name: containerd, enabled: true, health: {socket: /run/containerd/containerd.sock}}
      - {name: kubelet, enabled: true, health: {url: "http://127.0.0.1:10248/healthz"}}
    restart: pending
  register: node_daemon
  notify: Restart node daemons

# handlers/main.yml: one host at a time
- name: Restart node daemons
  kubeha.cluster.daemon:
    restart_pending: true
  throttle: 1

- name: An apiserver that restarts when its certificates change
  kubeha.cluster.daemon:
    files:
      - {path: /etc/systemd/system/kube-apiserver.service, template: kube-apiserver.service.j2, mode: "0644", restarts: [kube-apiserver]}
    units:
      - name: kube-apiserver
        enabled: true
        inputs: [/srv/kubernetes/server.cert, /srv/kubernetes/server.key, /srv/kubernetes/ca.crt]
        health: {url: "https://127.0.0.1:6443/readyz", ca_path: /srv/kubernetes/ca.crt}
    restart: pending
"""

RETURN = r"""
files:
  description: Per path, what was (or in check mode would be) done - created, updated, attributes, removed or unchanged.
  returned: when files were given
  type: dict
  sample: {"/var/lib/kubelet/config.yaml": "updated", "/var/lib/kubelet": "unchanged"}
created_parents:
  description: Missing parent directories that were created.
  returned: when files were given
  type: list
  elements: str
  sample: ["/etc/kubeha"]
units:
  description:
    - Per unit, the action (started, stopped, restarted, reloaded, pending, recorded, reset, none) and why.
    - C(reset_failed) is how a unit asked to be stopped had failed (systemd's C(Result), like C(exit-code) or C(signal)),
      when it was found failed or ended failed on its way down; it is then cleared with C(systemctl reset-failed), so a
      removed unit does not stay in C(systemctl --failed). C(reset) is the action when that was the only change.
    - C(health) is what the unit's health check saw when it passed in this call (a command's standard output, up to
      4 KiB, so a status the check prints reaches the play without another task; C(200 ok) for a URL).
  returned: always
  type: dict
  sample: {"kubelet": {"action": "pending", "reason": "its files changed in this run", "active_before": true, "steps": []},
           "containerd": {"action": "none", "health": "accepted"}}
packages_installed:
  description: Packages of O(packages) that were missing and were (or in check mode would be) installed.
  returned: when files or units were given
  type: list
  elements: str
  sample: ["haproxy"]
restart_pending:
  description: Units whose restart was left to a O(restart_pending=true) call.
  returned: always
  type: list
  elements: str
  sample: ["kubelet"]
written:
  description: Paths created or changed (content or attributes), in the order of O(files); what a caller reads instead
    of the strings of RV(files).
  returned: always
  type: list
  elements: str
  sample: ["/var/lib/kubelet/config.yaml"]
removed:
  description: Paths removed (O(files[].state=absent) that were there).
  returned: always
  type: list
  elements: str
  sample: ["/etc/monit/conf.d/kubeha"]
started:
  description: Units started by this call.
  returned: always
  type: list
  elements: str
  sample: ["containerd"]
stopped:
  description: Units stopped by this call.
  returned: always
  type: list
  elements: str
  sample: ["podmaster"]
restarted:
  description: Units restarted by this call (a restart now, or a pending one rolled by O(restart_pending=true)).
  returned: always
  type: list
  elements: str
  sample: ["kube-apiserver"]
reloaded:
  description: Units that reloaded their configuration (O(files[].reloads)) in this call, recorded like a restart.
  returned: always
  type: list
  elements: str
  sample: ["haproxy"]
daemon_reloaded:
  description: Whether systemd reloaded its units.
  returned: when units were given
  type: bool
  sample: true
validation_skipped:
  description: Why validations were not decided in check mode (packages not installed yet, or a failing validation
    while files the call creates are not on the host yet).
  returned: in check mode, when so
  type: str
  sample: "packages haproxy are not installed yet"
managed:
  description:
    - What this call keeps on the host, for M(kubeha.cluster.converged_info) to check on a later run without
      repeating the call. C(files) maps each path to its state, mode, owner, group and (files) the sha256 of its
      content, and each unit's O(units[].inputs) to the sha256 of its content; C(units) maps each unit to its
      desired state and health check; C(state_dirs) names where its restart records are.
    - The action plugin adds it to the host's C(kubeha_managed) fact (later calls win for a path they share), which
      M(kubeha.cluster.converged) records at the end of C(site.yml).
  returned: when files or units were given, outside check mode
  type: dict
  sample: {"files": {"/etc/kubernetes/kubelet.yaml": {"state": "file", "mode": "0644", "owner": "root", "group": "root",
                                                      "sha256": "9f86d0..."}},
           "units": {"kubelet.service": {"name": "kubelet", "kind": "systemd", "state": "started", "enabled": true}},
           "state_dirs": ["/var/lib/kubeha/daemons"]}
"""

from ansible.module_utils.basic import AnsibleModule

from ..module_utils._daemon.common import DaemonError
from ..module_utils._daemon.engine import run_daemon

HEALTH = dict(
    url=dict(type="str"),
    status=dict(type="int", default=200),
    ca_path=dict(type="path"),
    validate_certs=dict(type="bool", default=True),
    client_cert=dict(type="path"),
    client_key=dict(type="path", no_log=False),
    port=dict(type="int"),
    host=dict(type="str", default="127.0.0.1"),
    socket=dict(type="path"),
    command=dict(type="list", elements="str"),
)

FILE = dict(
    path=dict(type="path", required=True),
    state=dict(type="str", choices=["file", "directory", "touch", "absent"], default="file"),
    content=dict(type="str"),
    content_base64=dict(type="str"),
    template=dict(type="str"),
    template_vars=dict(type="dict"),
    src=dict(type="path"),
    src_sha256=dict(type="str"),
    checksum=dict(type="str"),
    staged=dict(type="path"),
    mode=dict(type="raw"),
    owner=dict(type="str", default="root"),
    group=dict(type="str", default="root"),
    validate=dict(type="str"),
    restarts=dict(type="list", elements="str", default=[]),
    reloads=dict(type="list", elements="str", default=[]),
    secret=dict(type="bool", default=False),
    digest_of=dict(type="list", elements="path", default=[]),
    keep_lines=dict(type="str"),
)

UNIT = dict(
    name=dict(type="str", required=True),
    kind=dict(type="str", choices=["systemd", "static_pod"], default="systemd"),
    state=dict(type="str", choices=["started", "stopped", "as_is"], default="started"),
    enabled=dict(type="bool"),
    masked=dict(type="bool"),
    no_block=dict(type="bool", default=False),
    inputs=dict(type="list", elements="path", default=[]),
    health=dict(type="dict", options=HEALTH),
    health_timeout=dict(type="float"),
    restart=dict(type="str", choices=["now", "pending"]),
    manifest=dict(type="path"),
    source=dict(type="path"),
    process=dict(type="str"),
    stop_timeout=dict(type="float", default=0),
)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            files=dict(type="list", elements="dict", options=FILE, default=[]),
            packages=dict(type="list", elements="str", default=[]),
            units=dict(type="list", elements="dict", options=UNIT, default=[]),
            restart=dict(type="str", choices=["now", "pending"], default="now"),
            restart_pending=dict(type="bool", default=False),
            restart_units=dict(type="list", elements="str", default=[]),
            health_timeout=dict(type="float", default=60),
            state_dir=dict(type="path", default="/var/lib/kubeha/daemons"),
            refuse_if_present=dict(type="list", elements="dict", default=[],
                                   options=dict(path=dict(type="path", required=True), msg=dict(type="str", required=True))),
            check_mode_undecided=dict(type="list", elements="path", default=[]),
        ),
        supports_check_mode=True,
        # files carry keys and tokens: no "Invoked with ..." line in the host's journal, whatever a file holds
        no_log=True,
    )
    for item in module.params["files"]:
        if item.get("secret"):
            for field in ("content", "content_base64"):
                if item.get(field):
                    module.no_log_values.add(item[field])
    for index, item in enumerate(module.params["files"]):
        if item.get("template") is not None or item.get("src") is not None:
            module.fail_json(msg="files[%d] %s: template and src are resolved by the action plugin on the controller; "
                                 "call kubeha.cluster.daemon as a task, not as a bare module" % (index, item["path"]))
    try:
        result = run_daemon(module.params, check_mode=module.check_mode, diff=module._diff)
    except DaemonError as exc:
        module.fail_json(msg=str(exc), **exc.result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
