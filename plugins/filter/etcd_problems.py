# Copyright (c) kubeha developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The etcd_problems filter: what the etcd role refuses in its inventory, before anything changes.

Also the etcd_node_problems filter (documented in etcd_node_problems.yml next to this file): what the role refuses in
what its one read of a member found.
"""

from __future__ import annotations

DOCUMENTATION = r"""
name: etcd_problems
short_description: What the etcd role refuses in its inventory, one message per problem, before anything changes
version_added: 0.6.0
author:
  - kubeha developers (@kubeha)
description:
  - "The checks that need no host: the member count (1, 3, 5 or 7), each member's name and address, names and
    addresses used twice, the ports, discovery, the release, the artifact, the initial snapshot, the raft timing,
    flags of C(etcd_extra_args) that the role manages, the dedicated storage, the data and snapshot directories,
    the snapshot schedule, and C(etcd_remove_members) naming a host still in the group."
  - Each message names the host or variable, the value seen and the fix. An empty list means the inventory is usable.
  - Pure, apart from the checks of files on the controller (C(etcd_artifact_dir)'s binaries, C(etcd_initial_snapshot)).
options:
  _input:
    description: The role's variables, C(etcd_*) names to templated values (as for P(kubeha.cluster.etcd_plan#filter)).
    type: dict
    required: true
  planned:
    description: This member's plan (P(kubeha.cluster.etcd_plan#filter)), for the release source and the data paths.
    type: dict
    required: true
  hosts:
    description: The hosts of C(etcd_group), in inventory order.
    type: list
    elements: str
    default: []
  members:
    description:
      - What each member's first task recorded about it (its C(_etcd_member) fact - C(host), C(name), C(ip)); a host
        of the group without one is not in the play.
    type: list
    elements: dict
    default: []
"""

EXAMPLES = r"""
- name: Validate the inventory before anything changes
  ansible.builtin.assert:
    that: _etcd_problems | length == 0
    fail_msg: "{{ ['The etcd inventory is not usable; nothing was changed. Fix:'] + _etcd_problems }}"
  vars:
    _etcd_problems: "{{ _etcd_settings | kubeha.cluster.etcd_problems(planned=_etcd_planned, hosts=_etcd_hosts, members=_etcd_members) }}"
"""

RETURN = r"""
_value:
  description: One message per problem (empty when there is none).
  type: list
  elements: str
"""

import json
import os
import re
from collections.abc import Mapping

from ansible.module_utils.parsing.convert_bool import boolean

from ansible_collections.kubeha.cluster.plugins.plugin_utils._plan import RoleSettings, address_problem, etcd_count_problems, get, to_int, version_at_least

PREFIX = "etcd_"
OTHER_ROLE = "etcd_discovery_service_"
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")
WHOLE_NUMBER = re.compile(r"^[0-9]+$")
SHA256 = re.compile(r"^[0-9a-fA-F]{64}$")
# etcd's own limit (embed.Config: an election timeout above 50 s is refused)
MAX_ELECTION_TIMEOUT = 50000
SNAPSHOT_INTERVALS = ("1", "2", "3", "4", "6", "8", "12", "24")
DATA_MOUNT_KEYS = ("src", "fstype", "opts", "path", "shared")
# Flags that belong to the role (TLS, addresses, bootstrap, raft timing: etcd_heartbeat_interval, etcd_election_timeout);
# etcd_extra_args may not set them.
RESERVED_FLAGS = frozenset((
    "name", "data-dir", "heartbeat-interval", "election-timeout", "config-file",
    "listen-peer-urls", "listen-client-urls", "listen-metrics-urls", "initial-advertise-peer-urls", "advertise-client-urls",
    "initial-cluster", "initial-cluster-state", "initial-cluster-token",
    "discovery", "discovery-fallback", "discovery-srv", "discovery-token", "discovery-endpoints", "discovery-cacert",
    "discovery-cert", "discovery-key", "discovery-insecure-transport",
    "cert-file", "key-file", "trusted-ca-file", "client-cert-auth", "auto-tls",
    "peer-cert-file", "peer-key-file", "peer-trusted-ca-file", "peer-client-cert-auth", "peer-auto-tls",
))


def _members_problems(group, hosts, members):
    """The member count, each member's name and address, and names or addresses used twice."""
    p = []
    if not hosts:
        p.append("group '%s' has no hosts: put 1, 3, 5 or 7 hosts in it, or set etcd_group to the group that has them." % group)
    else:
        p += etcd_count_problems(group, hosts)
    recorded = {}
    for member in members:
        recorded.setdefault(str(get(member, "host", "")), member)
    names, addresses = {}, {}
    for host in hosts:
        member = recorded.get(host)
        if member is None:
            p.append("%s: in group '%s' but not in this play (--limit, or unreachable): run the role on the whole group; "
                     "bootstrap, joins and restarts need every member." % (host, group))
            continue
        name, ip = str(get(member, "name", "")), str(get(member, "ip", "")).strip()
        if not NAME.match(name):
            p.append("%s: etcd_name '%s' is not a valid member name: use letters, digits, '.', '_' and '-' (it defaults to the "
                     "inventory hostname)." % (host, name))
        problem = address_problem(ip)
        if problem == "empty":
            p.append("%s: no address (etcd_node_ip is empty): set kubeha_node_ip for %s in the inventory, or gather facts." % (host, host))
        elif problem == "invalid":
            p.append("%s: etcd_node_ip '%s' is not an IPv4 or IPv6 address (etcd listens on addresses, not names): set "
                     "kubeha_node_ip for %s to its cluster address." % (host, ip, host))
        elif problem == "unreachable":
            p.append("%s: etcd_node_ip '%s' is a loopback or wildcard address that the other members cannot reach: set "
                     "kubeha_node_ip for %s to its cluster address." % (host, ip, host))
        names.setdefault(name, []).append(host)
        if ip:
            addresses.setdefault(ip, []).append(host)
    p += ["etcd_name '%s' is used by %s: every member needs its own name; set etcd_name per host." % (name, ", ".join(owners))
          for name, owners in names.items() if len(owners) > 1]
    p += ["address %s is used by %s: every member needs its own address; set kubeha_node_ip per host." % (ip, ", ".join(owners))
          for ip, owners in addresses.items() if len(owners) > 1]
    return p


def _discovery_problems(s):
    if s.text("bootstrap") != "discovery":
        return []
    p = []
    service, token = s.text("discovery_service"), s.text("discovery_token")
    if not re.match(r"^https?://[^/]+", service) and not re.match(r"^https?://[^/]+/.+", token):
        p.append("etcd_bootstrap is discovery but etcd_discovery_service '%s' is not a URL: set it to the discovery service, like "
                 "https://10.0.0.5:4001 (kubeha.cluster.etcd_discovery_service) or https://discovery.etcd.io." % service)
    if (service.startswith("http://") or token.startswith("http://")) and not s.flag("discovery_allow_http"):
        p.append("the discovery service is plain HTTP (%s), where anyone on the path can add or hide members at bootstrap: serve "
                 "it over HTTPS (kubeha.cluster.etcd_discovery_service does with a certificate), or set "
                 "etcd_discovery_allow_http: true to accept that." % service)
    return p


def _release_problems(s, planned):
    p = []
    version = s.text("version")
    if not re.match(r"^v?3\.[0-9]+\.[0-9]+$", version):
        p.append("etcd_version is '%s': use a release like 3.6.16." % version)
    elif not version_at_least(version, "3.5.0"):
        p.append("etcd_version is %s, older than 3.5, the oldest etcd kubeha supports (its client uses the /v3/ gateway of 3.5 "
                 "and later; Kubernetes itself needs 3.5): upgrade the cluster to 3.5 first (one minor at a time), then to 3.6." % version)
    if s.text("install_source") != "artifact" or s.text("mode") != "host":
        return p
    sha, artifact_dir = s.text("artifact_sha256"), s.text("artifact_dir")
    if get(planned, "from_url") and sha and not SHA256.match(sha):
        p.append("etcd_artifact_sha256 '%s' is not a sha256 (64 hex digits): set it to the release tarball's sha256 (from its "
                 "SHA256SUMS), or leave it empty to check against SHA256SUMS." % sha)
    elif get(planned, "from_dir"):
        p += ["etcd_artifact_dir '%s' holds no %s (%s/%s on the controller): point it at the directory of an unpacked etcd "
              "release (etcd-v%s-linux-<arch>/)." % (artifact_dir, tool, artifact_dir, tool, version)
              for tool in ("etcd", "etcdctl", "etcdutl") if not os.path.isfile(os.path.join(artifact_dir, tool))]
    return p


def _initial_snapshot_problems(s):
    snapshot = s.text("initial_snapshot")
    if not snapshot:
        return []
    p = []
    if not snapshot.startswith("/") or not os.path.isfile(snapshot):
        p.append("etcd_initial_snapshot '%s' is not a file on the controller: give the absolute path of the snapshot the new "
                 "cluster starts from (etcdctl snapshot save writes one), or leave it empty for an empty cluster." % snapshot)
    if s.text("bootstrap") != "static":
        p.append("etcd_initial_snapshot is set with etcd_bootstrap %s: a cluster restored from a snapshot is given its member "
                 "list (etcdutl snapshot restore --initial-cluster); set etcd_bootstrap: static." % s.text("bootstrap"))
    if s.text("mode") == "host" and s.text("install_source") != "artifact":
        p.append("etcd_initial_snapshot needs etcdutl, which Debian's etcd-server (etcd_install_source %s) does not have: set "
                 "etcd_install_source: artifact (etcd_artifact_dir or etcd_artifact_url)." % s.text("install_source"))
    return p


def _settings_problems(s):
    """Ports, raft timing, flags the role manages, and the dedicated storage."""
    p = []
    client, peer, metrics = to_int(s["client_port"]), to_int(s["peer_port"]), to_int(s["metrics_port"])
    if client == peer or metrics in (client, peer):
        p.append("etcd_client_port (%s), etcd_peer_port (%s) and etcd_metrics_port (%s) must differ."
                 % (s.text("client_port"), s.text("peer_port"), s.text("metrics_port")))
    heartbeat, election = s.text("heartbeat_interval"), s.text("election_timeout")
    if (not WHOLE_NUMBER.match(heartbeat) or not WHOLE_NUMBER.match(election) or int(heartbeat) < 1
            or int(election) < 5 * int(heartbeat) or int(election) > MAX_ELECTION_TIMEOUT):
        p.append("etcd_heartbeat_interval is %s and etcd_election_timeout %s (milliseconds): etcd needs an election timeout of at "
                 "least 5 heartbeat intervals and at most %d, like 250 and 2500." % (heartbeat, election, MAX_ELECTION_TIMEOUT))
    extra = s["extra_args"] or {}
    reserved = sorted(set(re.sub(r"^-+", "", str(k)) for k in extra) & RESERVED_FLAGS) if isinstance(extra, Mapping) else []
    if reserved:
        p.append("etcd_extra_args sets %s, which the role manages (TLS, addresses, bootstrap, raft timing): remove them; use the "
                 "role's variables instead." % ", ".join(reserved))
    mount = s["data_mount"] or {}
    if mount:
        if not isinstance(mount, Mapping):
            p.append("etcd_data_mount is %r: give a dict like {src: /dev/vdb1, fstype: ext4}, or {} for none." % (mount,))
        else:
            if not str(get(mount, "src", "")) or not str(get(mount, "fstype", "")):
                p.append("etcd_data_mount needs src and fstype, like {src: /dev/vdb1, fstype: ext4}: got %s." % json.dumps(mount, sort_keys=True, default=str))
            unknown = [str(k) for k in mount if k not in DATA_MOUNT_KEYS]
            if unknown:
                p.append("etcd_data_mount has unknown keys %s: use src, fstype, opts, path and shared." % ", ".join(unknown))
    return p


def _paths_problems(s, planned):
    p = []
    data_dir, data_path = s.text("data_dir"), str(get(planned, "data_path", ""))
    if not data_dir.startswith("/") or not str(get(planned, "mount_path", "")).startswith("/"):
        p.append("etcd_data_dir ('%s') and etcd_data_mount.path must be absolute paths." % data_dir)
    if s.flag("snapshot_enabled"):
        if s.text("snapshot_interval_hours") not in SNAPSHOT_INTERVALS:
            p.append("etcd_snapshot_interval_hours is %s: use a divisor of 24 (1, 2, 3, 4, 6, 8, 12 or 24), so that snapshots come "
                     "at even intervals from 00:00 UTC." % s.text("snapshot_interval_hours"))
        keep = s.text("snapshot_keep")
        if not WHOLE_NUMBER.match(keep) or not 1 <= int(keep) <= 1000:
            p.append("etcd_snapshot_keep is %s: keep between 1 and 1000 snapshots per member." % keep)
        snapshot_dir = s.text("snapshot_dir")
        if not re.match(r"^/.", snapshot_dir) or (snapshot_dir.rstrip("/") + "/").startswith(data_path.rstrip("/") + "/"):
            p.append("etcd_snapshot_dir ('%s') must be an absolute path outside etcd's data dir, like "
                     "/var/lib/kubeha/etcd-snapshots." % snapshot_dir)
    return p


def etcd_problems(settings, planned, hosts=None, members=None):
    """The etcd role's inventory problems: see DOCUMENTATION."""
    s = RoleSettings(settings, PREFIX, "etcd_problems", exclude=OTHER_ROLE)
    hosts = [str(h) for h in hosts or []]
    members = [m for m in (members or []) if isinstance(m, Mapping)]
    planned = planned if isinstance(planned, Mapping) else {}
    group = s.text("group")
    p = _members_problems(group, hosts, members)
    p += _settings_problems(s)
    p += _discovery_problems(s)
    p += _release_problems(s, planned)
    p += _initial_snapshot_problems(s)
    p += _paths_problems(s, planned)
    names_in_group = set(str(get(m, "name", "")) for m in members if str(get(m, "host", "")) in hosts)
    still = [str(name) for name in s["remove_members"] or [] if str(name) in names_in_group]
    if still:
        p.append("etcd_remove_members names %s, still in group '%s': take the host out of the group to remove its member, or take "
                 "the name out of etcd_remove_members." % (", ".join(still), group))
    return p


def etcd_node_problems(seen, settings, planned, host="", check_mode=False, secrets_ran=False):
    """What the etcd role refuses in its read of a member: see etcd_node_problems.yml."""
    s = RoleSettings(settings, PREFIX, "etcd_node_problems", exclude=OTHER_ROLE)
    seen = seen if isinstance(seen, Mapping) else {}
    planned = planned if isinstance(planned, Mapping) else {}
    check_mode, secrets_ran = boolean(check_mode, strict=False), boolean(secrets_ran, strict=False)
    p = []
    for want in get(planned, "tls_files", []):
        path, var, key = str(get(want, "path", "")), str(get(want, "var", "")), boolean(get(want, "key", False), strict=False)
        found = get(seen, path)
        if found is None:
            # check mode after the secrets stage of this run: it reported the file, which it would install
            if not (check_mode and secrets_ran):
                p.append("%s is missing: run the kubeha.cluster.secrets role first, or set %s to where the file is on %s."
                         % (path, var, host))
        elif not str(get(found, "type", "")).startswith("regular"):
            p.append("%s is a %s, not a file: put the %s there (kubeha.cluster.secrets does), or set %s to where it is."
                     % (path, get(found, "type"), "key" if key else "certificate", var))
        elif key and str(get(found, "mode", "")) not in ("0600", "0400"):
            p.append("%s has mode %s: a private key must be 0600 (kubeha.cluster.secrets writes it so); chmod 0600 it."
                     % (path, get(found, "mode")))
        elif key and s.text("mode") == "host" and str(get(found, "owner", "")) != s.text("user"):
            p.append("%s is owned by %s, but etcd runs as %s and cannot read a 0600 key: set secrets_etcd_file_owner and "
                     "secrets_etcd_file_group to %s for kubeha.cluster.secrets (the user must exist; playbooks/site.yml and Debian's "
                     "etcd-server package create it), or chown the file." % (path, get(found, "owner"), s.text("user"), s.text("user")))
    data_path = str(get(planned, "data_path", ""))
    data = get(seen, data_path + "/member")
    if data is not None and get(data, "type") != "directory":
        p.append("%s/member is a %s, not etcd's data directory: move it away (etcd keeps its data in a member/ directory there)."
                 % (data_path, get(data, "type")))
    ca = s.text("discovery_ca_cert")
    if get(planned, "fresh") and s.text("bootstrap") == "discovery" and ca and ca not in seen:
        p.append("etcd_discovery_ca_cert %s is missing, and the members need it to reach the discovery service while the cluster "
                 "bootstraps: put the CA there or set etcd_discovery_ca_cert to where it is." % ca)
    return p


class FilterModule:
    """The etcd role's checks."""

    def filters(self):
        return {"etcd_problems": etcd_problems, "etcd_node_problems": etcd_node_problems}
