# Copyright (c) kubeha developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The etcd_plan filter: everything the etcd role computes from its variables.

Also the etcd_seen, etcd_data_hosts, etcd_removed_hosts, etcd_learner_hosts, etcd_unlisted_members and
etcd_data_path filters (documented in their .yml files next to this file): what the role's one read of a member found,
which members hold data, how the running cluster's member list differs from the inventory, and a member's data path.
"""

from __future__ import annotations

DOCUMENTATION = r"""
name: etcd_plan
short_description: What the etcd role does on a member, computed from the role's variables
version_added: 0.3.0
author:
  - kubeha developers (@kubeha)
description:
  - "Input: the role's variables by name (C(etcd_*), without the C(etcd_discovery_service_*) variables of the
    kubeha.cluster.etcd_discovery_service role), templated: the role gathers them with C(ansible.builtin.varnames)
    and C(ansible.builtin.vars)."
  - Returns the member's URLs and paths, the release it installs, what its one read asks about, the bootstrap
    settings, etcd's flags, and the file and unit entries of the role's M(kubeha.cluster.daemon) calls.
  - Pure - the same variables and arguments give the same plan, so it is tested without a host and without Ansible.
    Nothing in it fails on a bad setting that the role's inventory check reports (that check uses the plan too).
options:
  _input:
    description: The role's variables, C(etcd_*) names to values.
    type: dict
    required: true
  host:
    description: This member's inventory name.
    type: str
    required: true
  hosts:
    description: The members (the hosts of C(etcd_group)), in inventory order.
    type: list
    elements: str
    default: []
  members:
    description:
      - What each member's first task recorded about it (its C(_etcd_member) fact - C(name), C(client_url),
        C(initial) and others), in inventory order; members without it are left out.
    type: list
    elements: dict
    default: []
  data_hosts:
    description: The members that hold data (see P(kubeha.cluster.etcd_data_hosts#filter)).
    type: list
    elements: str
    default: []
  seen:
    description: What this member's read found (see P(kubeha.cluster.etcd_seen#filter)).
    type: dict
    default: {}
  discovery:
    description: The result of the role's M(kubeha.cluster.etcd_discovery) call (C(discovery_url), or C(token) and C(endpoints)).
    type: dict
    default: {}
  architecture:
    description: The member's architecture as Ansible's facts name it (C(x86_64), C(aarch64), ...), used when C(etcd_arch) is empty.
    type: str
    default: x86_64
  check_mode:
    description: Ansible's check mode (a release that would be downloaded is not there yet).
    type: bool
    default: false
  bootstrapped:
    description: The cluster is bootstrapped in this run - the bootstrap settings become the settled ones (state existing).
    type: bool
    default: false
  pyz_build:
    description: The output of the role's etcd-snapshot.pyz build (C(built <path> <sha256>)); empty before the build.
    type: str
    default: ""
"""

EXAMPLES = r"""
- name: Plan the role's work
  ansible.builtin.debug:
    msg: "{{ settings | kubeha.cluster.etcd_plan(host=inventory_hostname, hosts=groups['etcd']) }}"
  vars:
    settings: "{{ dict(q('ansible.builtin.varnames', '^etcd_') | zip(q('ansible.builtin.vars', *q('ansible.builtin.varnames', '^etcd_')))) }}"
"""

RETURN = r"""
_value:
  description: The plan.
  type: dict
  contains:
    size: {description: The number of members., type: int}
    restart_batch: {description: How many members a restart takes down at once (floor(n/2), at least 1)., type: int}
    peer_url: {description: This member's peer URL., type: str}
    client_url: {description: This member's client URL., type: str}
    mount_path: {description: Where the dedicated storage is mounted., type: str}
    mount_unit: {description: The systemd mount unit of the dedicated storage (empty for a path that is not absolute)., type: str}
    data_path: {description: etcd's data directory., type: str}
    from_dir: {description: The binary comes from an artifact directory on the controller., type: bool}
    from_url: {description: The binary comes from a release tarball at a URL., type: bool}
    url: {description: The release tarball's URL., type: str}
    url_checksum: {description: The tarball's checksum as get_url takes it., type: str}
    binary: {description: The etcd binary on the member., type: str}
    binary_from_package: {description: Debian's etcd-server package provides the binary., type: bool}
    binary_present: {description: The binary is there (or is not the role's to check, in static pod mode)., type: bool}
    read_paths: {description: What the member's one read asks about., type: list, elements: str}
    tls_files: {description: "The certificates and keys etcd reads: path, var (the variable that sets it), key (a private key)."
                , type: list, elements: dict}
    inputs: {description: "Files other tasks keep whose change restarts the member: the CA file, and a binary from a release URL
               (etcd reads its certificates and keys again for every new connection).", type: list, elements: str}
    endpoints: {description: Every member's client URL., type: list, elements: str}
    names: {description: Every member's name., type: list, elements: str}
    initial_cluster: {description: name=peer URL of every member., type: str}
    cluster_token: {description: The initial cluster token., type: str}
    has_data: {description: This member holds data., type: bool}
    fresh: {description: No member holds data (the cluster bootstraps in this run)., type: bool}
    joining: {description: This member joins a running cluster., type: bool}
    learner_phase:
      description: The member joins now, as a learner - its flags and health use 127.0.0.1 only until join.yml promotes it.
      type: bool
    bootstrap_state: {description: new or existing., type: str}
    v3_discovery: {description: Discovery uses etcd's v3 protocol (etcd 3.6 and later)., type: bool}
    discovering: {description: The member bootstraps through discovery in this run., type: bool}
    bootstrap_flags: {description: etcd's bootstrap flags (name to value)., type: dict}
    flags: {description: etcd's other flags (name to value)., type: dict}
    files: {description: The daemon call's file entries., type: list, elements: dict}
    units: {description: The daemon call's unit entries., type: list, elements: dict}
    record_files: {description: "The file entries that record a bootstrapped cluster (host mode; in static pod mode a member with data keeps
                   its manifest's bootstrap flags instead)."
                   , type: list, elements: dict}
    state_dir: {description: The daemon module's restart records for etcd., type: str}
    refuse: {description: "The daemon call's refuse_if_present: what the other mode left (switching modes is refused)."
             , type: list, elements: dict}
    local_client_url: {description: The client URL on the member's loopback address., type: str}
    arch: {description: The release's architecture (amd64 and so on)., type: str}
    release_name: {description: The release's name (etcd-v<version>-linux-<arch>)., type: str}
    artifact_id: {description: The directory of this build under C(etcd_install_dir)., type: str}
    artifact_files: {description: The file entries of an artifact directory's binaries (host mode)., type: list, elements: dict}
    unit_validate: {description: The unit file's validation (empty while check mode has no binary to verify it with)., type: str}
    bootstrap_file: {description: The bootstrap settings' environment file (host mode)., type: str}
    unit_file: {description: etcd's systemd unit file (host mode)., type: str}
    staged_manifest: {description: Where the static pod manifest is staged., type: str}
    discovery_url: {description: The v2 discovery URL (empty without one)., type: str}
    health: {description: "etcd's /health through its client URL with its certificate: the unit's health check.", type: dict}
    snapshot_status_key: {description: The etcd key where scheduled and on-demand snapshots record their outcome., type: str}
    snapshot_members: {description: "The members that may take a snapshot (name, client_url), in inventory order.", type: list, elements: dict}
    snapshot_max_age: {description: Seconds after which the newest snapshot is overdue (twice the interval)., type: int}
    snapshot_pyz_local: {description: The etcd-snapshot.pyz built on the controller for this run (empty without one)., type: str}
"""

import hashlib
import json
import os
import re
from collections.abc import Mapping

from ansible.errors import AnsibleFilterError
from ansible.module_utils.parsing.convert_bool import boolean

from ansible_collections.kubeha.cluster.plugins.filter.addresses import url_host
from ansible_collections.kubeha.cluster.plugins.filter.mount_unit import mount_unit
from ansible_collections.kubeha.cluster.plugins.module_utils._etcd.restore import MARKER as RESTORE_MARKER
from ansible_collections.kubeha.cluster.plugins.plugin_utils._plan import RoleSettings, get, mode_refusal, to_int, version_at_least, zipapp_built

PREFIX = "etcd_"
OTHER_ROLE = "etcd_discovery_service_"
ARCH = {"x86_64": "amd64", "aarch64": "arm64", "ppc64le": "ppc64le", "s390x": "s390x"}
BOOTSTRAP_FILE = "/etc/default/etcd-bootstrap"
# the static pod manifest's bootstrap flag lines (etcd.yaml.j2), kept as written once the member holds data
KEEP_BOOTSTRAP_LINES = r'^\s+- "--(initial-cluster|initial-cluster-state|initial-cluster-token|discovery|discovery-token|discovery-endpoints' \
    r'|discovery-cert|discovery-key|discovery-cacert|discovery-insecure-transport)='
UNIT_FILE = "/etc/systemd/system/etcd.service"
# the daemon module's restart records for etcd, apart from other roles' (the handler restarts etcd and nothing else)
STATE_DIR = "/var/lib/kubeha/daemons/etcd"
# the scheduled snapshot (plugins/module_utils/_etcd/snapshot.py): a timer on every member, its record in etcd
SNAPSHOT_TIMER_UNIT = "kubeha-etcd-snapshot.timer"
SNAPSHOT_TIMER = "/etc/systemd/system/" + SNAPSHOT_TIMER_UNIT
SNAPSHOT_SERVICE = "/etc/systemd/system/kubeha-etcd-snapshot.service"
SNAPSHOT_STATUS_KEY = "/kubeha/etcd-snapshots/status"
TLS = (("ca_cert", False), ("peer_cert", False), ("peer_key", True), ("server_cert", False), ("server_key", True))


def etcd_seen(lines):
    """{path: {type, mode, owner}} from the read's output lines (path TAB type TAB mode TAB owner)."""
    if isinstance(lines, str):
        lines = lines.splitlines()
    out = {}
    for line in lines or []:
        fields = str(line).split("\t")
        if len(fields) == 4:
            out[fields[0]] = {"type": fields[1], "mode": fields[2], "owner": fields[3]}
    return out


def etcd_data_hosts(hosts, hostvars):
    """The members whose read found member/wal/ in their data dir (members not read yet are left out).

    etcd itself counts a member as initialized by its WAL directory: a member/ left by a start that failed before its
    first WAL entry (a join with a wrong initial cluster, say) holds no data, and the member joins again.
    """
    out = []
    for host in hosts or []:
        hv = get(hostvars, host)
        read = get(hv, "_etcd_read") if hv is not None else None
        stdout = get(read, "stdout") if read is not None else None
        member = get(hv, "_etcd_member") if hv is not None else None
        if stdout is None or member is None:
            continue
        if ("\n%s/member/wal\tdirectory\t" % get(member, "data_dir")) in "\n" + str(stdout):
            out.append(host)
    return out


def _mount_and_data_path(data_dir, data_mount, name):
    """(the mount's path, etcd's data directory) for a member ``name``."""
    mount = data_mount if isinstance(data_mount, Mapping) else {}
    mount_path = str(mount.get("path", data_dir))
    shared = boolean(mount.get("shared", False), strict=False)
    return mount_path, (mount_path + "/" + str(name)) if shared else str(data_dir)


def etcd_data_path(data_dir, data_mount, name):
    """etcd's data directory of member ``name``: ``data_dir``, or ``<mount path>/<name>`` on a shared mount."""
    return _mount_and_data_path(data_dir, data_mount or {}, name)[1]


def _paths(s):
    mount_path, data_path = _mount_and_data_path(s.text("data_dir"), s["data_mount"] or {}, s.text("name"))
    try:
        unit = mount_unit(mount_path)
    except AnsibleFilterError:
        unit = ""  # the inventory check names the setting
    return mount_path, unit, data_path


def _release(s, architecture):
    source = s.text("install_source")
    artifact_dir = s.text("artifact_dir")
    from_dir = source == "artifact" and len(artifact_dir) > 0
    from_url = source == "artifact" and len(artifact_dir) == 0
    arch = s.text("arch")
    if not arch:
        machine = str(architecture or "x86_64")
        arch = ARCH.get(machine, machine)
    version = re.sub(r"^v", "", s.text("version"))
    release = "etcd-v%s-linux-%s" % (version, arch)
    url = s.text("artifact_url") or "%s/v%s/%s.tar.gz" % (re.sub(r"/+$", "", s.text("artifact_base_url")), version, release)
    sha = s.text("artifact_sha256")
    checksum = "sha256:" + (sha if sha else re.sub(r"/[^/]*$", "/SHA256SUMS", url))
    if from_url:
        artifact_id = release + ("-" + sha[:12] if sha else "")
    else:
        artifact_id = release + "-local"
    binary = "/usr/bin/etcd" if source == "package" else "%s/%s/etcd" % (s.text("install_dir"), artifact_id)
    return dict(from_dir=from_dir, from_url=from_url, arch=arch, release_name=release, url=url, url_checksum=checksum,
                artifact_id=artifact_id, binary=binary, binary_from_package=s.text("mode") == "host" and source == "package")


def _discovery_flags(s, discovery, v3):
    if not v3:
        return {"discovery": discovery.get("discovery_url", "")}
    endpoints = list(discovery.get("endpoints", []) or [])
    first = str(endpoints[0]) if endpoints else ""
    flags = {"discovery-token": discovery.get("token", ""), "discovery-endpoints": ",".join(str(e) for e in endpoints),
             "discovery-cert": s["server_cert"], "discovery-key": s["server_key"],
             "discovery-insecure-transport": "true" if first.startswith("http://") else "false"}
    if s.text("discovery_ca_cert"):
        flags["discovery-cacert"] = s["discovery_ca_cert"]
    return flags


def _flags(s, peer_url, client_url, local_client_url, data_path, learner_phase=False):
    flags = {
        "name": s["name"],
        "data-dir": data_path,
        "listen-peer-urls": peer_url,
        "initial-advertise-peer-urls": peer_url,
        "listen-client-urls": local_client_url if learner_phase else client_url + "," + local_client_url,
        "advertise-client-urls": client_url,
        "cert-file": s["server_cert"],
        "key-file": s["server_key"],
        "trusted-ca-file": s["ca_cert"],
        "client-cert-auth": "true",
        "auto-tls": "false",
        "peer-cert-file": s["peer_cert"],
        "peer-key-file": s["peer_key"],
        "peer-trusted-ca-file": s["ca_cert"],
        "peer-client-cert-auth": "true",
        "peer-auto-tls": "false",
        "discovery-fallback": "exit",
        "logger": "zap",
        "heartbeat-interval": str(to_int(s["heartbeat_interval"])),
        "election-timeout": str(to_int(s["election_timeout"])),
    }
    if to_int(s["metrics_port"]) > 0:
        flags["listen-metrics-urls"] = "http://127.0.0.1:%s" % s.text("metrics_port")
    extra = s["extra_args"] or {}
    if not isinstance(extra, Mapping):
        raise AnsibleFilterError("etcd_plan: etcd_extra_args must be a dict of flag names to values, got %r" % (extra,))
    flags.update(extra)
    return flags


def _snapshot_members(members):
    """The members that may take a snapshot, in inventory order (the first healthy one does)."""
    return [{"name": str(get(m, "name")), "client_url": str(get(m, "client_url"))} for m in members]


def _snapshot_files(s, name, members, seen, pyz_build, check_mode):
    """The scheduled snapshot's files and timer (every member; the first healthy one takes it), or their removal."""
    if not boolean(s["snapshot_enabled"], strict=False):
        if SNAPSHOT_TIMER not in seen:
            return [], []
        return ([{"path": p, "state": "absent"} for p in (SNAPSHOT_TIMER, SNAPSHOT_SERVICE, s.text("config_dir") + "/snapshot.json",
                                                          s.text("install_dir") + "/etcd-snapshot.pyz")],
                [{"name": SNAPSHOT_TIMER_UNIT, "state": "stopped", "enabled": False}])
    pyz_local, pyz_sha256 = zipapp_built(pyz_build)
    config = {"members": _snapshot_members(members), "name": name, "ca_cert": s["ca_cert"], "client_cert": s["server_cert"], "client_key": s["server_key"],
              "directory": s.text("snapshot_dir"), "keep": to_int(s["snapshot_keep"]), "status_key": SNAPSHOT_STATUS_KEY,
              "timeout": 5.0}
    hours = to_int(s["snapshot_interval_hours"])
    files = [{"path": s.text("install_dir"), "state": "directory", "mode": "0755"},
             {"path": s.text("install_dir") + "/etcd-snapshot.pyz", "src": pyz_local, "src_sha256": pyz_sha256, "mode": "0644"},
             {"path": s.text("config_dir") + "/snapshot.json", "content": json.dumps(config, indent=2, sort_keys=True) + "\n",
              "mode": "0600"},
             {"path": SNAPSHOT_SERVICE, "template": "kubeha-etcd-snapshot.service.j2", "mode": "0644",
              "validate": "" if check_mode else "systemd:kubeha-etcd-snapshot.service"},
             {"path": SNAPSHOT_TIMER, "template": "kubeha-etcd-snapshot.timer.j2", "mode": "0644",
              "template_vars": {"_etcd_snapshot_calendar": "*-*-* 00/%d:00:00" % hours if hours < 24 else "*-*-* 00:00:00"},
              "validate": "" if check_mode else "systemd:kubeha-etcd-snapshot.timer", "restarts": [SNAPSHOT_TIMER_UNIT]}]
    units = [{"name": SNAPSHOT_TIMER_UNIT, "enabled": True, "restart": "now"}]
    return files, units


def etcd_plan(settings, host, hosts=None, members=None, data_hosts=None, seen=None, discovery=None, architecture="x86_64",
              check_mode=False, bootstrapped=False, pyz_build=""):
    """The etcd role's plan for one member: see DOCUMENTATION."""
    s = RoleSettings(settings, PREFIX, "etcd_plan", exclude=OTHER_ROLE)
    hosts = list(hosts or [])
    members = [m for m in (members or []) if isinstance(m, Mapping)]
    data_hosts = list(data_hosts or [])
    seen = seen if isinstance(seen, Mapping) else {}
    discovery = discovery if isinstance(discovery, Mapping) else {}
    check_mode = boolean(check_mode, strict=False)
    mode = s.text("mode")
    bootstrap = s.text("bootstrap")

    address = url_host(s["node_ip"])
    peer_url = "https://%s:%s" % (address, s.text("peer_port"))
    client_url = "https://%s:%s" % (address, s.text("client_port"))
    local_client_url = "https://127.0.0.1:%s" % s.text("client_port")
    mount_path, unit, data_path = _paths(s)
    release = _release(s, architecture)
    binary = release["binary"]
    tls_files = [dict(path=s[name], var=PREFIX + name, key=key) for name, key in TLS]
    tls_paths = [f["path"] for f in tls_files]

    # the one read of the member before anything changes (tasks/main.yml)
    discovery_ca = [s["discovery_ca_cert"]] if (bootstrap == "discovery" and s.text("discovery_ca_cert")) else []
    read_paths = tls_paths + [data_path + "/member", data_path + "/member/wal"] + ([binary] if mode == "host" else []) + discovery_ca + [SNAPSHOT_TIMER]
    binary_present = mode != "host" or binary in seen

    # files etcd reads that other tasks keep and reads only at its start: a change restarts it. Those are its trust bundle
    # (the CA file: client and peer trust are built once) and, from a release URL, the binary. Its certificates and keys are
    # not: etcd's TLS reads them again for every new connection it accepts or makes (client/pkg/transport, GetCertificate and
    # GetClientCertificate), so a reissued or renewed leaf is served without a restart, and without a leader change.
    inputs = [s["ca_cert"]] + ([binary] if mode == "host" and release["from_url"] and (binary_present or not check_mode) else [])
    # systemd-analyze verify needs the unit's binary; in check mode a release that would be downloaded is not there
    unit_validate = "systemd:etcd.service" if (binary_present or not check_mode) else ""
    artifact_files = []
    if mode == "host" and release["from_dir"]:
        bindir, src = os.path.dirname(binary), s.text("artifact_dir")
        artifact_files = [{"path": bindir, "state": "directory", "mode": "0755"},
                          {"path": binary, "src": src + "/etcd", "mode": "0755", "restarts": ["etcd"]},
                          {"path": bindir + "/etcdctl", "src": src + "/etcdctl", "mode": "0755"},
                          {"path": bindir + "/etcdutl", "src": src + "/etcdutl", "mode": "0755"}]

    # the cluster
    endpoints = [m.get("client_url") for m in members]
    names = [m.get("name") for m in members]
    initial_cluster = ",".join(str(m.get("initial")) for m in members)
    token = s.text("cluster_token") or "kubeha-etcd-" + hashlib.sha256(initial_cluster.encode("utf-8")).hexdigest()[:16]
    has_data = host in data_hosts
    fresh = len(data_hosts) == 0
    joining = len(data_hosts) > 0 and not has_data
    # new only while the whole cluster bootstraps in this run; afterwards (and for joining members) existing,
    # which etcd needs when a data dir is ever empty again
    state = "new" if (fresh and not boolean(bootstrapped, strict=False)) else "existing"
    v3 = version_at_least(s["version"], "3.6")
    discovering = bootstrap == "discovery" and state == "new"
    bootstrap_flags = {"initial-cluster-state": state}
    if discovering:
        bootstrap_flags.update(_discovery_flags(s, discovery, v3))
    else:
        joined = initial_cluster
        if joining and not boolean(bootstrapped, strict=False):
            # etcd starts a joining member only when its initial cluster is the running cluster's member list: the
            # members with data, those that join before it (one at a time, in inventory order) and itself
            before = hosts[:hosts.index(host)] if host in hosts else []
            joined = ",".join(str(m.get("initial")) for m in members
                              if m.get("host") in data_hosts or m.get("host") in before or m.get("host") == host
                              or m.get("host") is None)
        bootstrap_flags.update({"initial-cluster": joined, "initial-cluster-token": token})

    # the daemon calls of tasks/main.yml
    staged_manifest = s.text("config_dir") + "/etcd.yaml"
    # A member that joins starts as a learner, which refuses writes ("rpc not supported for learner"): while it is one,
    # it listens for clients on 127.0.0.1 only, so that the apiservers and podmaster, whose endpoint lists may name its
    # address already (a member replaced or repaired in place), are refused a connection (which their clients retry on
    # another member) instead of a write. join.yml starts it so, promotes it, then restarts it with its client URL.
    learner_phase = joining and not boolean(bootstrapped, strict=False)
    health_url = (local_client_url if learner_phase else client_url) + "/health"
    health = {"url": health_url, "ca_path": s["ca_cert"], "client_cert": s["server_cert"], "client_key": s["server_key"]}
    # process: a restart waits for the kubelet to replace the pod before the member's health counts (the old one answers
    # it); health: recorded, so that a re-run's fast path sees a member that stopped serving (removed, crash-looping),
    # awaited as long as the role's other health waits (the kubelet starts the pod, a joining member catches up)
    pod_unit = {"name": "etcd", "kind": "static_pod", "source": staged_manifest, "manifest": s.text("manifest_dir") + "/etcd.yaml",
                "process": "etcd", "health": health, "health_timeout": to_int(s["health_timeout"])}
    bootstrap_item = {"path": BOOTSTRAP_FILE, "template": "etcd-bootstrap.env.j2", "mode": "0600"}
    # the restore marker counts too: a restored member's manifest differs from the one taken away before the restore, so
    # the kubelet starts a new pod (a static pod's UID is a hash of its manifest; the same UID added back while the old
    # pod still terminates can stay down, kubernetes/kubernetes#113145)
    manifest_item = {"path": staged_manifest, "template": "etcd.yaml.j2", "mode": "0600",
                     "digest_of": inputs + [data_path + "/" + RESTORE_MARKER]}
    if has_data:
        # etcd reads its bootstrap flags only while its data dir is empty, and the kubelet restarts the pod for any
        # change of its manifest (and replaces none before its API source is ready, which rules out a change right
        # after a bootstrap): a member with data keeps the ones it was started with, as kubeadm's manifests do.
        # etcd refuses to bootstrap again a member the cluster knows ("has already been bootstrapped").
        manifest_item["keep_lines"] = KEEP_BOOTSTRAP_LINES
    refuse = [mode_refusal("etcd", mode, "etcd_mode", pod_unit["manifest"] if mode == "host" else UNIT_FILE)]
    if mode == "host":
        files = artifact_files + [{"path": UNIT_FILE, "template": "etcd.service.j2", "mode": "0644", "validate": unit_validate,
                                   "restarts": ["etcd"]}, bootstrap_item]
        units = [{"name": "etcd", "enabled": True, "no_block": True, "inputs": inputs, "health": health, "health_timeout": 10}]
        record_files = [bootstrap_item]
    else:
        files = [{"path": data_path, "state": "directory", "mode": "0700"},
                 {"path": s["config_dir"], "state": "directory", "mode": "0755"},
                 {"path": s["manifest_dir"], "state": "directory", "mode": "0700"},
                 manifest_item]
        units = [pod_unit]
        record_files = []
    snapshot_files, snapshot_units = _snapshot_files(s, s.text("name"), members, seen, pyz_build, check_mode)
    files += snapshot_files
    units += snapshot_units

    return dict(
        size=len(hosts), restart_batch=max(1, len(hosts) // 2),
        peer_url=peer_url, client_url=client_url, local_client_url=local_client_url,
        mount_path=mount_path, mount_unit=unit, data_path=data_path,
        from_dir=release["from_dir"], from_url=release["from_url"], arch=release["arch"], release_name=release["release_name"],
        url=release["url"], url_checksum=release["url_checksum"], artifact_id=release["artifact_id"], binary=binary,
        binary_from_package=release["binary_from_package"], binary_present=binary_present,
        bootstrap_file=BOOTSTRAP_FILE, unit_file=UNIT_FILE, staged_manifest=staged_manifest, state_dir=STATE_DIR,
        tls_files=tls_files, read_paths=read_paths, inputs=inputs, unit_validate=unit_validate, artifact_files=artifact_files,
        endpoints=endpoints, names=names, initial_cluster=initial_cluster, cluster_token=token,
        has_data=has_data, fresh=fresh, joining=joining, bootstrap_state=state, v3_discovery=v3, discovering=discovering,
        discovery_url=discovery.get("discovery_url", ""), bootstrap_flags=bootstrap_flags,
        flags=_flags(s, peer_url, client_url, local_client_url, data_path, learner_phase), learner_phase=learner_phase,
        files=files, units=units, record_files=record_files, health=health, refuse=refuse,
        snapshot_status_key=SNAPSHOT_STATUS_KEY, snapshot_members=_snapshot_members(members), snapshot_max_age=2 * 3600 * to_int(s["snapshot_interval_hours"]),
        snapshot_pyz_local=zipapp_built(pyz_build)[0],
    )


def _hosts_listed(hosts, hostvars, listed):
    """(host, listed?) for each of ``hosts`` with a ``_etcd_member`` fact: its name or peer URL is in ``listed``."""
    for host in hosts or []:
        hv = get(hostvars, host)
        member = get(hv, "_etcd_member") if hv is not None else None
        if member is not None:
            yield host, str(get(member, "name")) in listed or str(get(member, "peer_url")) in listed


def _names_and_peers(members):
    return set(str(get(m, "name") or "") for m in members) | set(str(u) for m in members for u in (get(m, "peer_urls") or []))


def etcd_removed_hosts(info, data_hosts, hostvars):
    """The members with data that the running cluster's member list no longer has (removed while their data stayed).

    Only when the list was read from a cluster with a healthy majority of its members: a list read from a
    cluster without quorum (or not read) proves nothing, and nothing is returned.
    """
    members = list(get(info, "members") or []) if info is not None else []
    if not members or int(get(info, "healthy_count") or 0) <= len(members) // 2:
        return []
    return [host for host, listed in _hosts_listed(data_hosts, hostvars, _names_and_peers(members)) if not listed]


def etcd_restart_batches(hosts, size, info, hostvars):
    """``hosts`` (the members whose restart is pending) in batches of ``size``, the leader's host in the last batch.

    A leader that stops hands its leadership on (etcd's graceful stop), and a write a follower forwarded to it while the
    hand-over runs is dropped and times out (etcd-io/etcd#8975): restarting the followers first makes that one hand-over
    per roll, to a member that already runs the new settings, where the inventory's order could make two or three. The
    leader is the one ``info`` (M(kubeha.cluster.etcd_cluster_info), read as the roll starts) names; without one, the
    inventory's order.
    """
    hosts = [str(h) for h in hosts or []]
    size = max(1, to_int(size))
    leader_id = str(get(info, "leader_id") or "") if info is not None else ""
    leaders = [m for m in (get(info, "members") or []) if leader_id and str(get(m, "id")) == leader_id] if info is not None else []
    listed = _names_and_peers(leaders)
    leader_hosts = [host for host, is_leader in _hosts_listed(hosts, hostvars, listed) if is_leader] if listed else []
    ordered = [h for h in hosts if h not in leader_hosts] + leader_hosts
    return [ordered[i:i + size] for i in range(0, len(ordered), size)]


def etcd_learner_hosts(info, hosts, hostvars):
    """The inventory's members that the running cluster lists as learners (joined, not promoted yet: an interrupted run)."""
    members = list(get(info, "members") or []) if info is not None else []
    learners = _names_and_peers([m for m in members if get(m, "is_learner")])
    return [host for host, listed in _hosts_listed(hosts, hostvars, learners) if listed]


def etcd_unlisted_members(info, hosts, hostvars):
    """The running cluster's members that no inventory member matches (by name or peer URL), as sorted names (or peer URL).

    Only from a member list read from a cluster with a healthy majority (like :func:`etcd_removed_hosts`).
    """
    members = list(get(info, "members") or []) if info is not None else []
    if not members or int(get(info, "healthy_count") or 0) <= len(members) // 2:
        return []
    listed = set()
    for host in hosts or []:
        hv = get(hostvars, host)
        member = get(hv, "_etcd_member") if hv is not None else None
        if member is not None:
            listed |= {str(get(member, "name")), str(get(member, "peer_url"))}
    unlisted = []
    for member in members:
        name = str(get(member, "name") or "")
        peers = [str(u) for u in (get(member, "peer_urls") or [])]
        if name not in listed and not listed.intersection(peers):
            unlisted.append(name or (peers[0] if peers else str(get(member, "id"))))
    # etcd lists members by ID: sorted, the message and the removal order do not change from run to run
    return sorted(unlisted)


def etcd_quorum_lost(info, data_hosts, hosts, hostvars, snapshots=None, inventory=""):
    """Why the cluster cannot come back by itself (the data of a majority of its members is gone), as lines; [] if it can.

    Only when fewer members hold data than a quorum of the cluster (the running cluster's member count when a member
    answered, else the group's) and no healthy majority answers. ``snapshots``: the snapshots found on the members
    with data (``host``, ``path``, ``mtime``); the newest is named, with how to copy it and restore from it.
    """
    data_hosts = [h for h in (data_hosts or []) if h in (hosts or [])]
    if not data_hosts:
        return []  # a new cluster (or one about to be): nothing to lose
    members = list(get(info, "members") or []) if isinstance(info, Mapping) else []
    size = len(members) or len(hosts or [])
    needed = size // 2 + 1
    if len(data_hosts) >= needed or int(get(info, "healthy_count") or 0) >= needed:
        return []
    without = [h for h in hosts if h not in data_hosts]

    def name(host):
        return str(get(get(get(hostvars, host) or {}, "_etcd_member") or {}, "name") or host)

    lines = [
        "etcd cannot come back by itself: %d of its %d members hold no data (%s), a quorum needs %d, and only %s %s data; "
        "members without data cannot join a cluster that has no leader. Nothing was changed."
        % (len(without), size, ", ".join(name(h) for h in without), needed, ", ".join(name(h) for h in data_hosts),
           "holds" if len(data_hosts) == 1 else "hold"),
        "If their data is not lost but out of reach (a disk not mounted, a host restored without /var/lib/etcd), bring it back "
        "and run again. Otherwise restore the cluster from a snapshot (every member, from the same file):",
    ]
    if snapshots is None:
        # the role's find on each member with data (registered as _etcd_snapshots_left)
        snapshots = [dict(host=h, path=get(f, "path"), mtime=get(f, "mtime")) for h in data_hosts
                     for f in (get(get(get(hostvars, h) or {}, "_etcd_snapshots_left") or {}, "files") or [])]
    found = sorted((s for s in snapshots if isinstance(s, Mapping) and s.get("path")),
                   key=lambda s: (str(s.get("path", "")).rsplit("/", 1)[-1], float(s.get("mtime") or 0)))
    inv = inventory or "<inventory>"
    if found:
        newest = found[-1]
        base = str(newest["path"]).rsplit("/", 1)[-1]
        where = (newest["path"], newest.get("host", "?"), inv, newest.get("host", "?"), newest["path"])
        lines += [
            "the newest snapshot on the members is %s on %s; copy it to the controller: ansible -i %s %s -m ansible.builtin.fetch "
            "-a 'src=%s dest=/backups/etcd/ flat=true'" % where,
            "then: ansible-playbook -i %s playbooks/etcd-restore.yml -e etcd_restore_snapshot=/backups/etcd/%s "
            "-e etcd_restore_confirm=%s" % (inv, base, base),
        ]
    else:
        lines += [
            "no snapshot was found on the members that hold data; take the newest copy you keep elsewhere (etcd-backup.yml's "
            "etcd_backup_fetch_dir) and run: ansible-playbook -i %s playbooks/etcd-restore.yml -e etcd_restore_snapshot=<path> "
            "-e etcd_restore_confirm=<file name>" % inv,
        ]
    return lines


class FilterModule:
    """The etcd role's plan."""

    def filters(self):
        return {"etcd_plan": etcd_plan, "etcd_seen": etcd_seen, "etcd_data_hosts": etcd_data_hosts,
                "etcd_removed_hosts": etcd_removed_hosts, "etcd_learner_hosts": etcd_learner_hosts,
                "etcd_unlisted_members": etcd_unlisted_members, "etcd_quorum_lost": etcd_quorum_lost,
                "etcd_restart_batches": etcd_restart_batches,
                "etcd_data_path": etcd_data_path}
