# Copyright (c) kubeha developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The node_plan filter: everything the node role computes from its variables."""

from __future__ import annotations

DOCUMENTATION = r"""
name: node_plan
short_description: What the node role does on a host, computed from the role's variables
version_added: 0.3.0
author:
  - kubeha developers (@kubeha)
description:
  - "Input: the role's variables by name (C(node_*)), templated: the role gathers them with
    C(ansible.builtin.varnames) and C(ansible.builtin.vars)."
  - Returns the kubelet's command line and KubeletConfiguration, the daemons monit starts, and the file and
    unit entries of the role's M(kubeha.cluster.daemon) calls for either supervisor (systemd or monit), with
    the commands that find and restart what monit runs from before its files were written.
  - A pure function of its input, so the same variables give the same plan, tested without a host and without Ansible.
options:
  _input:
    description: The role's variables, C(node_*) names to values.
    type: dict
    required: true
  kube_binaries_files:
    description:
      - The file entries of the binaries the kube_binaries role verified (its C(kube_binaries_files)); ignored
        unless C(node_install_binaries) is true.
    type: list
    elements: dict
    default: []
  kube_images_files:
    description:
      - The file entries of the image archives the kube_images role verified (its C(kube_images_files)), sent in the same
        daemon call; ignored unless C(node_images_source) is V(local).
    type: list
    elements: dict
    default: []
  check_mode:
    description: Ansible's check mode.
    type: bool
    default: false
  monit_helpers_files:
    description:
      - The C(files) report of the role's first monit call (the one that installs monit-verify); in check mode, a
        monit-verify that call would create is not there to validate kubeha's check file with.
    type: dict
    default: {}
"""

EXAMPLES = r"""
- name: The kubelet's command line
  ansible.builtin.debug:
    msg: "{{ (settings | kubeha.cluster.node_plan(kube_binaries_files=kube_binaries_files | default([]))).kubelet_args }}"
  vars:
    settings: "{{ dict(q('ansible.builtin.varnames', '^node_') | zip(q('ansible.builtin.vars', *q('ansible.builtin.varnames', '^node_')))) }}"
"""

RETURN = r"""
_value:
  description: The plan.
  type: dict
  contains:
    teardown:
      description:
        - "The node's side of its removal (M(kubeha.cluster.node_teardown)): C(daemons) (the kubelet, then containerd, under
          this node's supervisor), C(monit_check_file) (kubeha's checks, under monit; else null) and C(files): what this
          role writes (not its directories, nor monit's own unit and monitrc) and C(/var/lib/kubeha)."
      type: dict
    libexec: {description: The directory of kubeha's helpers on the host., type: str}
    containerd_pidfile: {description: containerd's pidfile under monit., type: str}
    kubelet_pidfile: {description: The kubelet's pidfile under monit., type: str}
    kubelet_healthz: {description: The kubelet's /healthz URL., type: str}
    kubelet_health:
      description:
        - "The kubelet unit's health check under systemd: its Node Lease renewed since it started (a C(command), node-daemons
          lease) when C(node_kubelet_api) is set, else its C(/healthz) (a C(url))."
      type: dict
    kubelet_args: {description: The kubelet's command line after the binary (the systemd unit and the monit script)., type: list, elements: str}
    kubelet_config: {description: The KubeletConfiguration (kubelet-config.yaml)., type: dict}
    kubelet_inputs: {description: Files the kubelet reads that others install (a change restarts it under either supervisor)., type: list, elements: str}
    monit_daemons: {description: "The daemons monit starts: name, binary, args, pidfile, log, notify.", type: list, elements: dict}
    files_systemd: {description: The daemon call's file entries under systemd., type: list, elements: dict}
    units_systemd: {description: The daemon call's unit entries under systemd., type: list, elements: dict}
    files_monit_helpers: {description: The file entries of the monit call that installs monit-verify first., type: list, elements: dict}
    files_monit: {description: The main daemon call's file entries under monit., type: list, elements: dict}
    units_monit: {description: The main daemon call's unit entries under monit., type: list, elements: dict}
    monit_restart_paths: {description: Daemon name to the files whose change restarts it under monit., type: dict}
    monit_stale_argv: {description: The command that lists the daemons running from before their files were written., type: list, elements: str}
    monit_restart_argv: {description: Daemon name to the command that restarts it under monit., type: dict}
"""

import os

from ansible.utils.vars import merge_hash

from ansible_collections.kubeha.cluster.plugins.plugin_utils._plan import RoleSettings, get, to_int, unique, version_at_least

LIBEXEC = "/usr/local/lib/kubeha"
CONTAINERD_PIDFILE = "/run/kubeha-containerd.pid"
KUBELET_PIDFILE = "/run/kubelet.pid"
CONTAINERD_DROPIN = "/etc/systemd/system/containerd.service.d/10-kubeha-restart.conf"
# kubeadm's package installs /usr/lib/systemd/system/kubelet.service.d/10-kubeadm.conf, whose ExecStart (kubeadm's
# kubeconfig and flags) replaces the one of any kubelet.service; a drop-in of the same name in /etc takes its place
KUBEADM_DROPIN = "/etc/systemd/system/kubelet.service.d/10-kubeadm.conf"
MONIT_VERIFY = LIBEXEC + "/monit-verify"
MONIT_CHECK_FILE = "/etc/monit/conf.d/kubeha"
# kubeha's records on a host (the daemon module's, the run's record, image archives)
STATE_DIR = "/var/lib/kubeha"
NODE_DAEMONS = LIBEXEC + "/node-daemons"
PYTHON = "/usr/bin/python3"


def _kubelet_args(s):
    """The kubelet's command line, in one place for the systemd unit and the monit start script."""
    args = ["--config=%s" % s.text("kubelet_config_path")]
    if s.text("kubelet_kubeconfig"):
        args += ["--kubeconfig=%s" % s.text("kubelet_kubeconfig"), "--hostname-override=%s" % s.text("kubelet_node_name")]
    if s.text("kubelet_node_ip").strip():
        args.append("--node-ip=%s" % s.text("kubelet_node_ip").strip())
    args.append("--v=%s" % s.text("kubelet_verbosity"))
    args += ["--%s=%s" % (name, value) for name, value in (s["kubelet_extra_args"] or {}).items()]
    return args


def _kubelet_config(s):
    apiserver = len(s.text("kubelet_kubeconfig")) > 0
    client_ca = s.text("kubelet_client_ca_file")
    config = {
        "apiVersion": "kubelet.config.k8s.io/v1beta1",
        "kind": "KubeletConfiguration",
        "cgroupDriver": s["cgroup_driver"],
        "containerRuntimeEndpoint": "unix://%s" % s.text("containerd_socket"),
        "healthzBindAddress": s["kubelet_healthz_bind_address"],
        "healthzPort": to_int(s["kubelet_healthz_port"]),
        "staticPodPath": s["kubelet_static_pod_path"],
        "clusterDomain": s["kubelet_cluster_domain"],
        "clusterDNS": s["kubelet_cluster_dns"],
        "readOnlyPort": 0,
        # without an apiserver (no kubeconfig) nothing can authenticate, so no webhook; anonymous stays off
        "authentication": {
            "anonymous": {"enabled": False},
            "webhook": {"enabled": apiserver},
            "x509": {"clientCAFile": client_ca} if client_ca else {},
        },
        "authorization": {"mode": "Webhook" if apiserver else "AlwaysAllow"},
    }
    optional = {}
    # cgroup v1 opt-in: releases that know the setting (1.31+) get failCgroupV1 false
    if s.flag("kubelet_allow_cgroup_v1") and version_at_least(s["kubernetes_version"], "1.31"):
        optional["failCgroupV1"] = False
    if s["kubelet_register_with_taints"]:
        optional["registerWithTaints"] = s["kubelet_register_with_taints"]
    return merge_hash(merge_hash(config, optional, recursive=True), s["kubelet_config_extra"] or {}, recursive=True)


def node_plan(settings, kube_binaries_files=None, check_mode=False, monit_helpers_files=None, kube_images_files=None):
    """The plan of the node role on one host: see DOCUMENTATION."""
    s = RoleSettings(settings, "node_", "node_plan")
    config_path, socket = s.text("kubelet_config_path"), s.text("containerd_socket")
    containerd_config = s.text("containerd_config_path")
    kubelet_binary = s.text("kubelet_binary")
    kubelet_args = _kubelet_args(s)
    healthz = "http://%s:%s/healthz" % (s.text("kubelet_healthz_bind_address"), s.text("kubelet_healthz_port"))
    extra_files = list(s["kubelet_extra_files"] or [])
    # the kubelet's health gate: its Node Lease renewed since it started, read through the balancer with its own
    # certificate (node-daemons lease), when the caller says how it reaches the API; else its /healthz
    api = s["kubelet_api"] or {}
    lease_spec = ([str(get(api, key)) for key in ("server", "ca_file", "cert_file", "key_file")] + [s.text("kubelet_node_name")]
                  if api else [])
    kubelet_health = ({"command": [PYTHON, NODE_DAEMONS, "lease"] + lease_spec + ["systemd:kubelet.service"]}
                      if lease_spec else {"url": healthz})

    # the binaries kube_binaries verified, installed by this role's daemon task; the kubelet restarts when its
    # binary is replaced, a kubelet binary this role does not install is watched as an input instead
    binaries = list(kube_binaries_files or []) if s.flag("install_binaries") else []
    installed = kubelet_binary in [get(b, "path") for b in binaries]
    kubelet_inputs = unique(list(s["kubelet_inputs"] or []) + ([] if installed else [kubelet_binary]))

    # files of both supervisors: directories, containerd's and the kubelet's configuration, binaries, the
    # caller's extra kubelet files (the worker's kubeconfig)
    common = [
        {"path": os.path.dirname(config_path), "state": "directory", "mode": "0700"},
        {"path": s["kubelet_static_pod_path"], "state": "directory", "mode": "0700"},
        {"path": os.path.dirname(containerd_config), "state": "directory", "mode": "0755"},
        {"path": containerd_config, "template": "containerd-config.toml.j2", "mode": "0644",
         "validate": "/usr/bin/containerd --config %s config dump", "restarts": ["containerd"]},
        {"path": config_path, "template": "kubelet-config.yaml.j2", "mode": "0600", "restarts": ["kubelet"]},
    ]
    common += [b for b in binaries if get(b, "path") != kubelet_binary]
    common += [dict(b, restarts=["kubelet"]) for b in binaries if get(b, "path") == kubelet_binary]
    common += [dict(f, restarts=["kubelet"]) for f in extra_files]
    # the image archives (kube_images_source local), imported after this call by containerd_images
    common += list(kube_images_files or []) if s.text("images_source") == "local" else []

    # systemd supervision: the kubelet's unit and containerd's drop-in, checked with systemd-analyze verify;
    # kubeha's monit checks (of an earlier monit supervision) and the old unit checker removed
    files_systemd = common + [
        {"path": "/etc/systemd/system/kubelet.service", "template": "kubelet.service.j2", "mode": "0644",
         "validate": "systemd:kubelet.service", "restarts": ["kubelet"]},
        # (an adopted kubeadm node: without it the kubelet would go on with kubeadm's ExecStart, not kubeha's; only
        # comments, so nothing for systemd-analyze to check)
        {"path": os.path.dirname(KUBEADM_DROPIN), "state": "directory", "mode": "0755"},
        {"path": KUBEADM_DROPIN, "template": "kubelet-kubeadm-dropin.conf.j2", "mode": "0644", "restarts": ["kubelet"]},
        {"path": os.path.dirname(CONTAINERD_DROPIN), "state": "directory", "mode": "0755"},
        {"path": CONTAINERD_DROPIN, "template": "containerd-restart.conf.j2", "mode": "0644",
         "validate": "systemd:containerd.service:%s" % os.path.basename(CONTAINERD_DROPIN), "restarts": ["containerd"]},
        {"path": "/etc/monit/conf.d/kubeha", "state": "absent"},
        {"path": LIBEXEC + "/verify-unit", "state": "absent"},
    ] + ([{"path": LIBEXEC, "state": "directory", "mode": "0755"}, {"path": NODE_DAEMONS, "src": "node-daemons", "mode": "0644"}]
         if lease_spec else [])
    units_systemd = [
        {"name": "containerd", "enabled": True, "masked": False, "health": {"socket": socket}, "restart": "now"},
        # the handler restarts the kubelet, one node at a time
        {"name": "kubelet", "enabled": True, "masked": False, "inputs": kubelet_inputs, "health": kubelet_health,
         "restart": "pending"},
    ]

    # under monit the daemons are restarted by their control scripts (handlers) when they run from before a
    # file they read was written (node-daemons stale)
    restart_paths = {
        "containerd": [containerd_config, LIBEXEC + "/containerd-ctl"],
        # the kubelet's inputs too (its certificates): a renewed one restarts it, as under systemd
        "kubelet": unique([config_path, LIBEXEC + "/kubelet-ctl", kubelet_binary] + [get(f, "path") for f in extra_files] + kubelet_inputs),
    }
    # monit's health: containerd's socket and the kubelet's /healthz, and its Lease unless a restart is pending (the
    # kubelet runs from before one of its files was written: the restart handler checks the Lease after it)
    monit_check = ([PYTHON, NODE_DAEMONS, "check"] + (["--lease=" + ",".join(lease_spec + [KUBELET_PIDFILE])] if lease_spec else [])
                   + [socket, healthz] + (restart_paths["kubelet"] if lease_spec else []))

    # monit supervision: daemons monit starts through start-stop-daemon (the guide's init scripts), one control
    # script each; first monit-verify (monit -t of a check file with the rest of monit's configuration), which
    # must be on the host before the main call validates kubeha's check file with it
    daemons = [
        {"name": "containerd", "binary": "/usr/bin/containerd", "args": ["--config=%s" % containerd_config],
         "pidfile": CONTAINERD_PIDFILE, "log": "/var/log/containerd.log", "notify": True},
        {"name": "kubelet", "binary": s["kubelet_binary"], "args": kubelet_args, "pidfile": KUBELET_PIDFILE,
         "log": "/var/log/kubelet.log", "notify": False},
    ]
    files_monit_helpers = [{"path": LIBEXEC, "state": "directory", "mode": "0755"},
                           {"path": MONIT_VERIFY, "src": "monit-verify", "mode": "0755"}]
    # a first check-mode run has no monit-verify on the host yet: monit -t checks the file alone then
    created = check_mode and get(monit_helpers_files, MONIT_VERIFY, "") == "created"
    files_monit = common + [
        # the start/stop scripts monit runs, and node-daemons (health and restarts of what monit supervises)
        {"path": LIBEXEC + "/containerd-ctl", "template": "daemon-ctl.sh.j2", "template_vars": {"item": daemons[0]},
         "mode": "0755", "validate": "/bin/sh -n %s"},
        {"path": LIBEXEC + "/kubelet-ctl", "template": "daemon-ctl.sh.j2", "template_vars": {"item": daemons[1]},
         "mode": "0755", "validate": "/bin/sh -n %s"},
        {"path": NODE_DAEMONS, "src": "node-daemons", "mode": "0644"},
        {"path": "/etc/systemd/system/monit.service", "template": "monit.service.j2", "mode": "0644",
         "validate": "systemd:monit.service", "restarts": ["monit"]},
        {"path": "/etc/monit/monitrc", "template": "monitrc.j2", "mode": "0600", "validate": "/usr/bin/monit -t -c %s",
         "restarts": ["monit"]},
        {"path": MONIT_CHECK_FILE, "template": "monit-kubeha.j2", "mode": "0600",
         "validate": "/usr/bin/monit -t -c %s" if created else MONIT_VERIFY + " %s kubeha", "restarts": ["monit"]},
    ]
    units_monit = [
        # monit starts them (start-stop-daemon); systemd must not
        {"name": "containerd", "state": "stopped", "masked": True},
        {"name": "kubelet", "state": "stopped", "masked": True},
        # asks monit to start (and monitor) kubeha's group, passes when containerd and the kubelet answer
        {"name": "monit", "enabled": True, "masked": False,
         "health": {"command": monit_check}, "restart": "now"},
    ]

    timeout = s.text("health_timeout")
    monit_restart_argv = {name: [PYTHON, NODE_DAEMONS, "restart", name, pidfile, socket, healthz, timeout] + restart_paths[name]
                          for name, pidfile in (("containerd", CONTAINERD_PIDFILE), ("kubelet", KUBELET_PIDFILE))}
    if lease_spec:
        monit_restart_argv["kubelet"].insert(3, "--lease=" + ",".join(lease_spec + [KUBELET_PIDFILE]))
    # taking the node out (node_teardown, for a node that is only a node): the supervisor's daemons, the kubelet before
    # containerd; the files this role writes (not the binaries; not the directories: the kubelet's holds its pods'
    # mounts; not monit's own unit and monitrc, which may watch more than kubeha's checks), and kubeha's state on the host
    monit = s.text("supervisor") == "monit"
    teardown = {
        "daemons": ([{"name": d["name"], "supervisor": "monit", "pidfile": d["pidfile"], "ctl": LIBEXEC + "/%s-ctl" % d["name"]}
                     for d in reversed(daemons)] if monit else [{"name": "kubelet"}, {"name": "containerd"}]),
        "monit_check_file": MONIT_CHECK_FILE if monit else None,
        "files": [get(f, "path") for f in (files_monit_helpers + files_monit if monit else files_systemd)
                  if get(f, "state", "file") not in ("directory", "absent") and "monit" not in (get(f, "restarts") or [])
                  and get(f, "path") not in [get(b, "path") for b in binaries]]
        + [STATE_DIR],
    }
    return {
        "teardown": teardown,
        "libexec": LIBEXEC,
        "containerd_pidfile": CONTAINERD_PIDFILE,
        "kubelet_pidfile": KUBELET_PIDFILE,
        "kubelet_healthz": healthz,
        "kubelet_health": kubelet_health,
        "kubelet_args": kubelet_args,
        "kubelet_config": _kubelet_config(s),
        "kubelet_inputs": kubelet_inputs,
        "monit_daemons": daemons,
        "files_systemd": files_systemd,
        "units_systemd": units_systemd,
        "files_monit_helpers": files_monit_helpers,
        "files_monit": files_monit,
        "units_monit": units_monit,
        "monit_restart_paths": restart_paths,
        "monit_stale_argv": ([PYTHON, NODE_DAEMONS, "stale", "containerd", CONTAINERD_PIDFILE] + restart_paths["containerd"]
                             + ["--", "kubelet", KUBELET_PIDFILE] + restart_paths["kubelet"]),
        "monit_restart_argv": monit_restart_argv,
    }


class FilterModule:
    """kubeha node plan filter."""

    def filters(self):
        return {"node_plan": node_plan}
