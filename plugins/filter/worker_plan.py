# Copyright (c) kubeha developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The worker_plan filter: everything the worker role computes from its variables."""

from __future__ import annotations

DOCUMENTATION = r"""
name: worker_plan
short_description: What the worker role does on a host, computed from the role's variables
version_added: 0.3.0
author:
  - kubeha developers (@kubeha)
description:
  - "Input: the role's variables by name (C(worker_*)), templated: the role gathers them with
    C(ansible.builtin.varnames) and C(ansible.builtin.vars)."
  - Returns the kubeconfigs of the kubelet and kube-proxy (pointed at the load balancer), kube-proxy's
    KubeProxyConfiguration and command line, what the kubelet and kube-proxy read, the kubelet's files that the
    node role lays out, and the file and unit entries of the role's M(kubeha.cluster.daemon) call for
    C(worker_mode) (a systemd service or a static pod).
  - A pure function of its input, so the same variables give the same plan, tested without a host and without Ansible.
options:
  _input:
    description: The role's variables, C(worker_*) names to values.
    type: dict
    required: true
  host:
    description: This host's inventory name (the kubelet's identity, C(system:node:<host>), and kube-proxy's hostnameOverride).
    type: str
    required: true
  kube_binaries_files:
    description: The file entries of the binaries the node role installs (C(kube_binaries_files)).
    type: list
    elements: dict
    default: []
  install_binaries:
    description: Whether the node role installs those binaries (C(node_install_binaries)).
    type: bool
    default: true
"""

EXAMPLES = r"""
- name: kube-proxy's command line
  ansible.builtin.debug:
    msg: "{{ (settings | kubeha.cluster.worker_plan(host=inventory_hostname)).kube_proxy_args }}"
  vars:
    settings: "{{ dict(q('ansible.builtin.varnames', '^worker_') | zip(q('ansible.builtin.vars', *q('ansible.builtin.varnames', '^worker_')))) }}"
"""

RETURN = r"""
_value:
  description: The plan.
  type: dict
  contains:
    teardown:
      description:
        - "The worker's side of its removal (M(kubeha.cluster.node_teardown), before the node role's): C(daemons)
          (kube-proxy's service in host mode) and C(files): the kubeconfigs, kube-proxy's configuration, unit or
          manifest, and the certificates and keys of the kubelet and kube-proxy in C(worker_secrets_dir)."
      type: dict
    server: {description: The load-balanced apiserver URL., type: str}
    documents:
      description:
        - "The YAML files the role writes, each C(path) and C(content) (a dict): the kubelet's kubeconfig,
          kube-proxy's kubeconfig and its KubeProxyConfiguration, in that order."
      type: list
      elements: dict
    kube_proxy_config: {description: kube-proxy's KubeProxyConfiguration., type: dict}
    kube_proxy_args: {description: kube-proxy's command line after the binary., type: list, elements: str}
    kubelet_inputs: {description: The certificates the kubelet reads (a change restarts it)., type: list, elements: str}
    kube_proxy_inputs: {description: The certificates kube-proxy reads (a change restarts it)., type: list, elements: str}
    kubelet_files: {description: The kubelet's kubeconfig as a file entry of the node role's daemon call., type: list, elements: dict}
    kubelet_api:
      description: How the kubelet reaches the API (C(server), C(ca_file), C(cert_file), C(key_file)), for the node role's health gate.
      type: dict
    kube_proxy_files: {description: kube-proxy's kubeconfig and configuration as file entries., type: list, elements: dict}
    drain:
      description:
        - "The node role's C(node_drain) (a kubelet that moves to another release has its Node drained first): C(server),
          C(host) (C(worker_drain_host)), the CA and admin certificate (C(kubecfg.crt)) in C(worker_drain_secrets_dir) on
          that host, C(timeout), C(ready_timeout), C(force) and C(delete_emptydir_data)."
        - Empty when C(worker_drain) is false, no C(worker_drain_host) is set, or the kubelet has no Lease gate yet (site.yml's
          first pass over the masters, before the balancer serves).
      type: dict
    replaced_daemonset:
      description:
        - "The DaemonSet kubeha's kube-proxy replaces (C(worker_kube_proxy_daemonset) in C(kube-system), kubeadm's), for
          kube_daemonset: C(server), C(host), C(ca_file), C(cert_file), C(key_file) (as for the drain), C(namespace),
          C(name), C(timeout) (C(worker_drain_timeout))."
        - Empty when kube-proxy is not run here, the name is empty, no C(worker_drain_host) is set, or the kubelet has no
          Lease gate yet (site.yml's first pass over the masters).
      type: dict
    staged_manifest: {description: Where the static pod's manifest is staged., type: str}
    files: {description: The daemon call's file entries for C(worker_mode)., type: list, elements: dict}
    units: {description: The daemon call's unit entries for C(worker_mode)., type: list, elements: dict}
"""

from ansible.module_utils.parsing.convert_bool import boolean
from ansible.utils.vars import merge_hash

from ansible_collections.kubeha.cluster.plugins.filter.addresses import url_host
from ansible_collections.kubeha.cluster.plugins.filter.kubeconfig import kubeconfig
from ansible_collections.kubeha.cluster.plugins.plugin_utils._plan import RoleSettings, get, to_int, unique

STAGED_MANIFEST = "/var/lib/kubeha/manifests/kube-proxy.yaml"
UNIT_FILE = "/etc/systemd/system/kube-proxy.service"
DOCUMENT_TEMPLATE = "yaml-document.j2"


def _document_file(document, mode, restarts=None):
    """A file entry rendered from templates/yaml-document.j2 (ansible_managed, then the document as YAML)."""
    item = {"path": document["path"], "template": DOCUMENT_TEMPLATE, "template_vars": {"item": document}, "mode": mode}
    if restarts is not None:
        item["restarts"] = restarts
    return item


def worker_plan(settings, host, kube_binaries_files=None, install_binaries=True):
    """The plan of the worker role on one host: see DOCUMENTATION."""
    s = RoleSettings(settings, "worker_", "worker_plan")
    secrets = s.text("secrets_dir")
    server = "https://%s:%s" % (url_host(s["lb_address"]), s.text("lb_port"))
    kubelet_kubeconfig, proxy_kubeconfig = s["kubelet_kubeconfig"], s["kube_proxy_kubeconfig"]
    proxy_config = merge_hash({
        "apiVersion": "kubeproxy.config.k8s.io/v1alpha1",
        "kind": "KubeProxyConfiguration",
        "clientConnection": {"kubeconfig": proxy_kubeconfig},
        "mode": s["kube_proxy_mode"],
        "clusterCIDR": s["kube_proxy_cluster_cidr"],
        "hostnameOverride": host,
        "healthzBindAddress": "0.0.0.0:%s" % s.text("kube_proxy_healthz_port"),
        "metricsBindAddress": "127.0.0.1:10249",
    }, s["kube_proxy_config_extra"] or {}, recursive=True)
    # the kubelet's way to the API (its kubeconfig, and the node role's health gate reads its Lease the same way):
    # the load-balanced endpoint, or worker_kubelet_server where set (a master joining a cluster being grown, before
    # the balancer serves)
    kubelet_api = {"server": s.text("kubelet_server") or server, "ca_file": secrets + "/ca.crt", "cert_file": secrets + "/kubelet.crt",
                   "key_file": secrets + "/kubelet.key"}
    documents = [
        {"path": kubelet_kubeconfig,
         "content": kubeconfig(kubelet_api["server"], user="system:node:%s" % host, ca_file=kubelet_api["ca_file"],
                               cert_file=kubelet_api["cert_file"], key_file=kubelet_api["key_file"])},
        {"path": proxy_kubeconfig,
         "content": kubeconfig(server, user="system:kube-proxy", ca_file=secrets + "/ca.crt",
                               cert_file=secrets + "/kube-proxy.crt", key_file=secrets + "/kube-proxy.key")},
        {"path": s["kube_proxy_config_path"], "content": proxy_config},
    ]
    # what the secrets role put on this host for each daemon: a new certificate restarts it
    kubelet_inputs = [kubelet_api["ca_file"], kubelet_api["cert_file"], kubelet_api["key_file"]]
    proxy_inputs = [secrets + "/ca.crt", secrets + "/kube-proxy.crt", secrets + "/kube-proxy.key"]

    # the kubelet's kubeconfig, laid out by the node role's daemon call (a change restarts the kubelet there)
    kubelet_files = [_document_file(documents[0], "0600")]
    # kube-proxy's kubeconfig and KubeProxyConfiguration
    proxy_files = [_document_file(documents[1], "0600", ["kube-proxy"]), _document_file(documents[2], "0600", ["kube-proxy"])]
    manifest_dir = s.text("manifest_dir")
    binary = s["kube_proxy_binary"]

    if s.text("mode") == "host":
        # the binary the node role verified (also listed here, so that a replaced binary restarts kube-proxy and a
        # first check-mode run validates the unit), else watched as an input
        binaries = list(kube_binaries_files or []) if boolean(install_binaries, strict=False) else []
        binary_files = [dict(b, restarts=["kube-proxy"]) for b in binaries if get(b, "path") == binary]
        files = proxy_files + binary_files + [
            {"path": UNIT_FILE, "template": "kube-proxy.service.j2", "mode": "0644", "validate": "systemd:kube-proxy.service",
             "restarts": ["kube-proxy"]},
            {"path": manifest_dir + "/kube-proxy.yaml", "state": "absent"},
        ]
        units = [
            # the handler restarts it, one worker at a time
            {"name": "kube-proxy", "enabled": True, "masked": False, "inputs": proxy_inputs + ([] if binary_files else [binary]),
             "health": {"url": "http://127.0.0.1:%s/healthz" % s.text("kube_proxy_healthz_port")}, "restart": "pending"},
        ]
    else:
        # static_pod: the manifest is staged, then installed into the kubelet's directory (which starts or restarts
        # the pod); its annotations carry the digests of the certificates (filled in on the host) and of the kubeconfig
        # and configuration, so a change to any of them changes the manifest and the kubelet restarts the pod
        files = [dict(f, restarts=[]) for f in proxy_files] + [
            {"path": manifest_dir, "state": "directory", "mode": "0700"},
            {"path": STAGED_MANIFEST, "template": "kube-proxy.yaml.j2", "mode": "0600", "digest_of": proxy_inputs},
        ]
        units = [
            {"name": "kube-proxy", "kind": "static_pod", "source": STAGED_MANIFEST, "manifest": manifest_dir + "/kube-proxy.yaml",
             "restart": "pending"},
            # the other mode's service, if it was ever installed, must not hold kube-proxy's ports
            {"name": "kube-proxy.service", "state": "stopped", "enabled": False},
        ]

    # taking the worker out (node_teardown, before the node role's part): kube-proxy's service (a static pod dies with
    # the pods), the files this role writes and the keys the secrets role put here for the kubelet and kube-proxy
    teardown = {
        "daemons": [{"name": "kube-proxy"}] if s.text("mode") == "host" else [],
        "files": unique([get(f, "path") for f in kubelet_files + proxy_files]
                        + ([UNIT_FILE] if s.text("mode") == "host" else [STAGED_MANIFEST, manifest_dir + "/kube-proxy.yaml"])
                        + kubelet_inputs + proxy_inputs),
    }
    # the API as an admin on the drain host (its admin certificate): the drain's calls and the DaemonSet's retirement
    admin_api = {}
    if s.text("drain_host") and s.flag("kubelet_lease_gate"):
        drain_secrets = s.text("drain_secrets_dir")
        admin_api = {"server": server, "host": s.text("drain_host"), "ca_file": drain_secrets + "/ca.crt",
                     "cert_file": drain_secrets + "/kubecfg.crt", "key_file": drain_secrets + "/kubecfg.key"}
    # a kubelet's move to another release: its Node drained first, through an admin's certificate on a master
    drain = {}
    if s.flag("drain") and admin_api:
        drain = dict(admin_api, timeout=to_int(s["drain_timeout"]), ready_timeout=to_int(s["drain_ready_timeout"]),
                     force=s.flag("drain_force"), delete_emptydir_data=s.flag("drain_delete_emptydir_data"))
    # kubeadm's kube-proxy (a DaemonSet) on an adopted cluster: deleted, its pods gone, before kubeha's starts, so that
    # no node runs two
    replaced = {}
    if s.flag("kube_proxy_enabled") and s.text("kube_proxy_daemonset") and admin_api:
        replaced = dict(admin_api, namespace="kube-system", name=s.text("kube_proxy_daemonset"), timeout=to_int(s["drain_timeout"]))
    return {
        "teardown": teardown,
        "server": server,
        "drain": drain,
        "replaced_daemonset": replaced,
        "documents": documents,
        "kube_proxy_config": proxy_config,
        "kube_proxy_args": ["--config=%s" % s.text("kube_proxy_config_path"), "--v=%s" % s.text("kube_proxy_verbosity")],
        "kubelet_inputs": kubelet_inputs,
        "kube_proxy_inputs": proxy_inputs,
        "kubelet_files": kubelet_files,
        "kubelet_api": kubelet_api,
        "kube_proxy_files": proxy_files,
        "staged_manifest": STAGED_MANIFEST,
        "files": files,
        "units": units,
    }


class FilterModule:
    """kubeha worker plan filter."""

    def filters(self):
        return {"worker_plan": worker_plan}
