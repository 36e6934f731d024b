# Copyright (c) kubeha developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The control_plane_plan filter: everything the control_plane role computes from its variables."""

from __future__ import annotations

DOCUMENTATION = r"""
name: control_plane_plan
short_description: What the control_plane role does on a master, computed from the role's variables
version_added: 0.3.0
author:
  - kubeha developers (@kubeha)
description:
  - "Input: the role's variables by name (C(control_plane_*)), templated: the role gathers them with
    C(ansible.builtin.varnames) and C(ansible.builtin.vars)."
  - Returns the components' flags, the files they read, podmaster's configuration, every problem of the
    settings (each message names the variable and the fix), and the file and unit entries of the role's one
    M(kubeha.cluster.daemon) call.
  - A pure function of its input, so the same variables give the same plan, tested without a host and without Ansible.
options:
  _input:
    description: The role's variables, C(control_plane_*) names to values.
    type: dict
    required: true
  host:
    description: This master's inventory name (podmaster's identity).
    type: str
    required: true
  etcd_hosts:
    description: The members of C(control_plane_etcd_group), in inventory order.
    type: list
    elements: str
    default: []
  etcd_endpoints:
    description: podmaster's etcd client URLs (the members' URLs, or C(control_plane_podmaster_etcd_endpoints)).
    type: list
    elements: str
    default: []
  check_mode:
    description: Ansible's check mode (validations that need what earlier roles install are left out).
    type: bool
    default: false
  pyz_build:
    description: The output of the role's podmaster.pyz build (C(built <path> <sha256>)); empty before the build.
    type: str
    default: ""
"""

EXAMPLES = r"""
- name: Plan the role's work
  ansible.builtin.debug:
    msg: "{{ settings | kubeha.cluster.control_plane_plan(host=inventory_hostname, etcd_hosts=groups['etcd']) }}"
  vars:
    settings: "{{ dict(q('ansible.builtin.varnames', '^control_plane_') | zip(q('ansible.builtin.vars', *q('ansible.builtin.varnames', '^control_plane_')))) }}"
"""

RETURN = r"""
_value:
  description: The plan.
  type: dict
  contains:
    version: {description: The Kubernetes version without a leading v., type: str}
    podmaster: {description: Whether podmaster elects the components., type: bool}
    flags: {description: Component name to its flags (name to value)., type: dict}
    inputs: {description: Component name to the files it reads (a change restarts it)., type: dict}
    podmaster_config: {description: podmaster's configuration (podmaster.json without its header)., type: dict}
    podmaster_json: {description: podmaster.json's text., type: str}
    problems: {description: Every problem of the settings; empty when they are usable., type: list, elements: str}
    files: {description: The daemon call's file entries., type: list, elements: dict}
    units: {description: The daemon call's unit entries., type: list, elements: dict}
    refuse: {description: "The daemon call's refuse_if_present: what the other mode left (switching modes is refused)."
             , type: list, elements: dict}
    health_command: {description: The command that prints this master's settled podmaster status., type: list, elements: str}
    check_elected: {description: Whether the run ends by checking that exactly one master runs each component., type: bool}
    reread_seconds: {description: How long the check reads the statuses again while the masters disagree., type: int}
"""

import json
import re
import shlex

from ansible_collections.kubeha.cluster.plugins.filter.election_timing import election_timing
from ansible_collections.kubeha.cluster.plugins.plugin_utils._plan import RoleSettings, jinja_list, mode_refusal, version_at_least, zipapp_built

COMPONENTS = ("kube-scheduler", "kube-controller-manager")
PORTS = {"kube-scheduler": 10259, "kube-controller-manager": 10257}
CERTS = {"kube-scheduler": "scheduler", "kube-controller-manager": "controller-manager"}
# what tells that a component works, on the loopback: the scheduler's /readyz fails until it has read the cluster
# from the API; the controller-manager has no /readyz, its /healthz fails while it leads and cannot renew its Lease
HEALTH_PATHS = {"kube-scheduler": "/readyz", "kube-controller-manager": "/healthz"}
# flags either component must not get through *_extra_args: the role sets them (TLS, identity) or they are insecure
OWNED_FLAGS = ("address", "authentication-kubeconfig", "authorization-kubeconfig", "bind-address", "kubeconfig", "leader-elect",
               "master", "port", "secure-port", "service-account-private-key-file", "root-ca-file",
               "cluster-signing-cert-file", "cluster-signing-key-file")
CHOICES = (("control_plane_election", ("podmaster", "builtin")), ("control_plane_mode", ("host", "static_pod")),
           ("control_plane_podmaster_mode", ("host", "static_pod")))
TIMING = ("ttl", "renew_interval", "margin", "poll_interval", "timeout", "watchdog", "stop_timeout")
MANAGED = "Managed by Ansible (kubeha.cluster.control_plane): local changes are overwritten"
# `podmaster.pyz --check` of a candidate podmaster.json by the installed podmaster.pyz, when that is the new one
JSON_CHECK = """import hashlib, os, subprocess, sys
pyz, new_sha256, config = sys.argv[1:4]
same = os.path.exists(pyz) and hashlib.sha256(open(pyz, "rb").read()).hexdigest() == new_sha256
sys.exit(subprocess.call([sys.executable, pyz, "--check", "--config", config]) if same else 0)"""


def _health_url(component):
    # the component's self-signed serving certificate is not verified: the loopback answer is a status, never a secret
    return "https://127.0.0.1:%d%s" % (PORTS[component], HEALTH_PATHS[component])


def _flags(s, component, leader_elect):
    d = s["secrets_dir"]
    short = CERTS[component]
    flags = {
        "authentication-kubeconfig": "%s/%s.kubeconfig" % (d, short),
        "authorization-kubeconfig": "%s/%s.kubeconfig" % (d, short),
        "bind-address": "127.0.0.1",
        "kubeconfig": "%s/%s.kubeconfig" % (d, short),
        "leader-elect": str(leader_elect).lower(),
        "leader-elect-lease-duration": "%ss" % s["leader_elect_lease_duration"],
        "leader-elect-renew-deadline": "%ss" % s["leader_elect_renew_deadline"],
        "leader-elect-retry-period": "%ss" % s["leader_elect_retry_period"],
        "profiling": "false",
        "v": str(s["log_level"]),
    }
    if component == "kube-controller-manager":
        flags.update({"cluster-name": str(s["cluster_name"]), "controllers": "*,bootstrapsigner,tokencleaner",
                      "root-ca-file": d + "/ca.crt", "service-account-private-key-file": d + "/sa.key",
                      "service-cluster-ip-range": str(s["service_cidr"]), "use-service-account-credentials": "true"})
        if s.flag("allocate_node_cidrs"):
            flags.update({"allocate-node-cidrs": "true", "cluster-cidr": str(s["pod_cidr"])})
        if s.flag("cluster_signing"):
            flags.update({"cluster-signing-cert-file": d + "/ca.crt", "cluster-signing-key-file": d + "/ca.key"})
    # --port (the insecure port) exists up to 1.23 in both components: switch it off there
    if not version_at_least(_version(s), "1.24"):
        flags["port"] = "0"
    extra = s["scheduler_extra_args" if component == "kube-scheduler" else "controller_manager_extra_args"]
    flags.update(extra or {})
    return flags


def _version(s):
    return re.sub(r"^v", "", str(s["kubernetes_version"]))


def _inputs(s):
    d = s["secrets_dir"]
    inputs = {
        "kube-scheduler": [d + "/ca.crt", d + "/scheduler.crt", d + "/scheduler.key"],
        "kube-controller-manager": [d + "/ca.crt", d + "/controller-manager.crt", d + "/controller-manager.key", d + "/sa.key"]
        + ([d + "/ca.key"] if s.flag("cluster_signing") else []),
    }
    if s["mode"] == "host":
        # the installed binary: a new release (kubeha_kubernetes_version) restarts the component on it (a static pod's
        # image is in its manifest)
        for component, paths in inputs.items():
            paths.append("%s/%s" % (s["binary_dir"], component))
    return inputs


def _podmaster_config(s, host, etcd_hosts, endpoints, release_leases):
    local = ""
    if (s.flag("podmaster_avoid_etcd_leader") and not s["podmaster_etcd_endpoints"] and host in etcd_hosts
            and etcd_hosts.index(host) < len(endpoints)):
        # this master's own etcd member, whose leadership podmaster hands away while it holds a key
        local = endpoints[etcd_hosts.index(host)]
    components = []
    for c in COMPONENTS:
        key = str(s["podmaster_key_prefix"]) + c
        if s["mode"] == "static_pod":
            # program: a stop waits until the kubelet has stopped the process (podmaster sees the host's PIDs)
            entry = {"name": c, "key": key, "mode": "static_pod", "source": "%s/%s.yaml" % (s["secrets_dir"], c),
                     "dest": "%s/%s.yaml" % (s["manifest_dir"], c), "program": c}
        else:
            entry = {"name": c, "key": key, "mode": "host", "unit": c + ".service"}
        if release_leases:
            # the components' own election behind a fence: where a dead holder's Lease is released
            entry["lease"] = {"namespace": "kube-system", "name": c, "client_cert": "%s/%s.crt" % (s["secrets_dir"], CERTS[c]),
                              "client_key": "%s/%s.key" % (s["secrets_dir"], CERTS[c])}
        components.append(entry)
    config = {"identity": host, "endpoints": list(endpoints), "ca_cert": s["podmaster_etcd_ca"],
              "client_cert": s["podmaster_etcd_cert"], "client_key": s["podmaster_etcd_key"], "ttl": int(s["podmaster_ttl"])}
    config.update((name, float(s["podmaster_" + name])) for name in TIMING[1:])
    config.update({"status_file": s["podmaster_status_file"], "local_endpoint": local,
                   "apiserver": {"url": s["apiserver_url"], "ca_cert": s["secrets_dir"] + "/ca.crt"} if release_leases else {},
                   "components": components})
    return config


def _problems(s, podmaster, leader_elect, endpoints):
    p = []
    for name, allowed in CHOICES:
        value = s[name[len("control_plane_"):]]
        if value not in allowed:
            p.append("%s is '%s'; set it to %s." % (name, value, " or ".join(allowed)))
    if podmaster and s["mode"] == "static_pod" and not s.flag("podmaster_leader_elect"):
        p.append("control_plane_mode is static_pod with control_plane_podmaster_leader_elect false: when podmaster removes a"
                 " manifest, the kubelet stops the pod later, with no bound, so a new holder's copy could run beside the old"
                 " one with nothing to stop both acting. Keep control_plane_podmaster_leader_elect true in static_pod mode.")
    if podmaster and s["podmaster_mode"] == "static_pod" and s["mode"] == "host":
        p.append("control_plane_podmaster_mode is static_pod but control_plane_mode is host: a podmaster static pod can only"
                 " copy manifests, it cannot start systemd units. Set control_plane_mode: static_pod or control_plane_podmaster_mode: host.")
    if podmaster and (not endpoints or any(re.search(r"//(\[\]|):", str(e)) for e in endpoints)):
        p.append("podmaster's etcd endpoints from group '%s': %s. Every etcd member needs an address (kubeha_node_ip or gathered"
                 " facts), or set control_plane_podmaster_etcd_endpoints." % (s["etcd_group"], jinja_list(endpoints)))
    refused = [re.sub(r"^-+", "", str(k)) for k in list(s["scheduler_extra_args"] or {}) + list(s["controller_manager_extra_args"] or {})]
    refused = [k for k in refused if k in OWNED_FLAGS]
    if refused:
        p.append("control_plane_scheduler_extra_args / control_plane_controller_manager_extra_args set %s, which the role sets"
                 " itself (identity, TLS, election, ports) or which are insecure; use the role's variables"
                 " (control_plane_election, control_plane_apiserver_url, control_plane_cluster_signing) instead." % jinja_list(refused))
    timing = {name: s["podmaster_" + name] for name in TIMING}
    le_timing = ({"lease_duration": s["leader_elect_lease_duration"], "renew_deadline": s["leader_elect_renew_deadline"],
                  "retry_period": s["leader_elect_retry_period"]} if leader_elect else {})
    return p + election_timing(timing, podmaster=podmaster, leader_elect=le_timing)


def _nice_json(value):
    """Like Ansible's to_nice_json(indent=2), with the final newline of a file."""
    return json.dumps(value, indent=2, sort_keys=True, separators=(",", ": ")) + "\n"


def _podmaster_files(s, host_mode, pyz_local, pyz_sha256, settings, check_mode):
    lib, conf = s["podmaster_lib_dir"], s["podmaster_config_dir"]
    python = s["podmaster_python"]
    pyz = lib + "/podmaster.pyz"
    restarts = ["podmaster"] if host_mode else []
    files = [
        {"path": lib, "state": "directory", "mode": "0755"},
        {"path": conf, "state": "directory", "mode": "0755"},
        # checked before anything is written, with the code that will run: a new podmaster.pyz checks the new
        # configuration (given inline); otherwise the installed podmaster.pyz, which is then the new one, checks
        # the candidate podmaster.json. Skipped in check mode, where the certificates may only have been reported.
        {"path": pyz, "src": pyz_local, "src_sha256": pyz_sha256, "mode": "0644", "restarts": restarts,
         "validate": "" if check_mode else "%s %%s --check --config-json %s" % (python, shlex.quote(json.dumps(settings)))},
        {"path": conf + "/podmaster.json", "content": _nice_json(settings), "mode": "0600", "restarts": restarts,
         "validate": "" if check_mode else "%s -c %s %s %s %%s" % (python, shlex.quote(JSON_CHECK), pyz, pyz_sha256)},
    ]
    if host_mode:
        files.append({"path": lib + "/podmaster-health.py", "src": "podmaster_health.py", "mode": "0644"})
        files.append({"path": "/etc/systemd/system/podmaster.service", "template": "podmaster.service.j2", "mode": "0644",
                      "validate": "systemd:podmaster.service", "restarts": ["podmaster"]})
    else:
        files.append({"path": conf + "/podmaster.yaml", "template": "podmaster.yaml.j2", "mode": "0600",
                      "digest_of": _podmaster_inputs(s)})
    return files


def _podmaster_inputs(s):
    # what podmaster reads besides its files: its etcd client certificate (a change restarts it)
    return [s["podmaster_etcd_ca"], s["podmaster_etcd_cert"], s["podmaster_etcd_key"]]


def _leftovers(s):
    # built-in election: what podmaster left (its status file goes after it stopped, see tasks/main.yml)
    return [{"path": p, "state": "absent"} for p in (
        "/etc/systemd/system/podmaster.service", "/etc/systemd/system/multi-user.target.wants/podmaster.service",
        s["podmaster_lib_dir"] + "/podmaster.pyz", s["podmaster_lib_dir"] + "/podmaster-health.py",
        s["podmaster_config_dir"] + "/podmaster.json", s["podmaster_config_dir"] + "/podmaster.yaml")]


def _component_files(s, podmaster, inputs, check_mode):
    # Validations need what earlier roles install (binaries for systemd-analyze, certificates): they run for
    # real, not in check mode. The podmaster drop-in is not validated: systemd-analyze refuses BindsTo= a
    # unit that is not installed yet (the first run), and it is two fixed lines.
    files = []
    host = s["mode"] == "host"
    for c in COMPONENTS:
        v = {"_control_plane_component": c}
        files.append({"path": "%s/%s.kubeconfig" % (s["secrets_dir"], CERTS[c]), "mode": "0600", "template": "kubeconfig.j2",
                      "template_vars": v, "restarts": [c] if host else []})
        if host:
            files.append({"path": "/etc/systemd/system/%s.service" % c, "mode": "0644", "template": "component.service.j2",
                          "template_vars": v, "validate": "" if check_mode else "systemd:%s.service" % c, "restarts": [c]})
            dropin = "/etc/systemd/system/%s.service.d/podmaster.conf" % c
            if podmaster:
                files.append({"path": dropin, "mode": "0644", "template": "component-podmaster.conf.j2", "template_vars": v,
                              "restarts": [c]})
            else:
                files.append({"path": dropin, "state": "absent"})
        else:
            # the static pod's manifest: podmaster's source, or the staged copy the daemon module installs; its
            # certificates and keys are checked whenever it changes (a missing one changes its digest)
            files.append({"path": "%s/%s.yaml" % (s["secrets_dir"], c), "mode": "0600", "template": "component-pod.yaml.j2",
                          "template_vars": v, "digest_of": inputs[c],
                          "validate": "" if check_mode else "ls -d %s " + " ".join(inputs[c])})
    return files


def _units(s, podmaster, inputs, health_command):
    timeout = int(s["health_retries"]) * int(s["health_delay"])
    host = s["mode"] == "host"
    staged = s["podmaster_config_dir"] + "/podmaster.yaml"
    manifest = s["manifest_dir"] + "/podmaster.yaml"
    units = []
    # Under podmaster the components come first: the daemon module restarts them where they run (try-restart)
    # without a health wait of their own, since podmaster may stop one at any time (a handover); podmaster's
    # health, next, waits for what it holds here to answer on its port.
    for c in COMPONENTS:
        unit = {"name": c, "inputs": inputs[c], "health": {"url": _health_url(c), "validate_certs": False}, "health_timeout": timeout}
        if host and podmaster:
            units.append({"name": c, "inputs": inputs[c], "state": "as_is", "enabled": False, "restart": "now"})
        elif host:
            units.append(dict(unit, enabled=True, restart="pending"))
        elif not podmaster:
            units.append(dict(unit, kind="static_pod", restart="pending", source="%s/%s.yaml" % (s["secrets_dir"], c),
                              manifest="%s/%s.yaml" % (s["manifest_dir"], c)))
    if podmaster and s["podmaster_mode"] == "host":
        units.append({"name": "podmaster", "enabled": True, "restart": "pending", "inputs": _podmaster_inputs(s),
                      "health": {"command": health_command}, "health_timeout": max(timeout, int(s["podmaster_ttl"]) * 4)})
    elif podmaster:
        units.append({"kind": "static_pod", "name": "podmaster", "restart": "pending", "inputs": _podmaster_inputs(s),
                      "source": staged, "manifest": manifest})
    else:
        # built-in election: podmaster stopped first (a static pod one only exists where the components are static pods)
        stop = [{"name": "podmaster", "state": "stopped"}]
        if not host:
            stop.append({"kind": "static_pod", "name": "podmaster", "state": "stopped", "source": staged, "manifest": manifest})
        units = stop + units
    return units


def _refuse(s, podmaster):
    # what the other mode leaves: a component's unit file, or its manifest (podmaster's source on every master)
    host = s["mode"] == "host"
    refuse = [mode_refusal(c, s["mode"], "control_plane_mode", "%s/%s.yaml" % (s["secrets_dir"], c) if host
                           else "/etc/systemd/system/%s.service" % c) for c in COMPONENTS]
    if podmaster:
        podmaster_host = s["podmaster_mode"] == "host"
        refuse.append(mode_refusal("podmaster", s["podmaster_mode"], "control_plane_podmaster_mode",
                                   s["podmaster_config_dir"] + "/podmaster.yaml" if podmaster_host else "/etc/systemd/system/podmaster.service"))
    return refuse


def control_plane_plan(settings, host, etcd_hosts=None, etcd_endpoints=None, check_mode=False, pyz_build=""):
    """The plan of the control_plane role on one master."""
    s = RoleSettings(settings, "control_plane_", "control_plane_plan")
    etcd_hosts = list(etcd_hosts or [])
    endpoints = list(etcd_endpoints or [])
    podmaster = s["election"] == "podmaster"
    leader_elect = (not podmaster) or s.flag("podmaster_leader_elect")
    # only behind a fence that stops a dead holder's copy before its lease expires: systemd in host mode, the
    # podmaster pod's fence container in static_pod mode (a host podmaster has none for the copies it leaves)
    fenced = s["mode"] == "host" or s["podmaster_mode"] == "static_pod"
    release_leases = podmaster and fenced and leader_elect and s.flag("podmaster_release_leases")
    podmaster_host = s["podmaster_mode"] == "host"
    flags = {c: _flags(s, c, leader_elect) for c in COMPONENTS}
    inputs = _inputs(s)
    config = _podmaster_config(s, host, etcd_hosts, endpoints, release_leases)
    podmaster_settings = dict({"_managed": MANAGED}, **config)
    health_command = ([s["podmaster_python"], s["podmaster_lib_dir"] + "/podmaster-health.py", s["podmaster_status_file"]]
                      + (["%s=%s" % (c, _health_url(c)) for c in COMPONENTS] if s["mode"] == "host" else []))
    pyz_local, pyz_sha256 = zipapp_built(pyz_build)
    files = _component_files(s, podmaster, inputs, check_mode)
    files += (_podmaster_files(s, podmaster_host, pyz_local, pyz_sha256, podmaster_settings, check_mode) if podmaster
              else _leftovers(s))
    return {
        "version": _version(s),
        "podmaster": podmaster,
        "leader_elect": leader_elect,
        "components": list(COMPONENTS),
        "ports": dict(PORTS),
        "certs": dict(CERTS),
        "flags": flags,
        "inputs": inputs,
        "podmaster_config": config,
        "podmaster_json": _nice_json(podmaster_settings),
        "pyz_local": pyz_local,
        "pyz_sha256": pyz_sha256,
        "problems": _problems(s, podmaster, leader_elect, endpoints),
        "files": files,
        "units": _units(s, podmaster, inputs, health_command),
        "refuse": _refuse(s, podmaster),
        "health_command": health_command,
        "check_elected": podmaster and podmaster_host and not check_mode,
        "reread_seconds": int(s["podmaster_ttl"]) * 4,
    }


class FilterModule:
    """kubeha control_plane plan filter."""

    def filters(self):
        return {"control_plane_plan": control_plane_plan}
