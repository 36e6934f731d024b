# Copyright (c) kubeha developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The kube_version_change filter: is moving a running cluster to kubeha_kubernetes_version one Kubernetes supports."""

from __future__ import annotations

DOCUMENTATION = r"""
name: kube_version_change
short_description: Whether moving a running cluster to a Kubernetes release is supported, with the path when it is not
version_added: 0.6.0
author:
  - kubeha developers (@kubeha)
description:
  - Kubernetes' version skew policy (kubernetes.io/releases/version-skew-policy/) and its upgrade procedures allow a
    patch change within a minor release and an upgrade to the next minor release; the apiservers go first, then the
    controller-manager and the scheduler, then the kubelets. An upgrade that skips a minor release and a downgrade to an
    older minor release are not supported; each is a problem that names the supported path.
  - A kubelet may be up to three minor releases older than the apiservers, so a kubelet older than that for the target
    is a problem too (a cluster adopted with old nodes; kubeha keeps its kubelets on the apiservers' release).
  - The running releases are what each master's apiserver answered to C(/version) and what each Node's kubelet reports
    (the result of M(kubeha.cluster.kube_nodes_info) with O(kubeha.cluster.kube_nodes_info#module:apiservers)).
    Apiservers that did not answer are not counted; with none answering, no cluster was read and nothing is refused.
options:
  _input:
    description: The result of M(kubeha.cluster.kube_nodes_info) (C(apiservers), C(nodes)), failed or not; anything else is no cluster.
    type: raw
    required: true
  target:
    description: The release the cluster is to run (C(kubeha_kubernetes_version)).
    type: str
    required: true
  hosts:
    description: The masters whose apiservers were asked, in the same order, to name them in problems.
    type: list
    elements: str
    default: []
"""

EXAMPLES = r"""
- name: Refuse an unsupported change of kubeha_kubernetes_version
  ansible.builtin.assert:
    that: _change.problems | length == 0
    fail_msg: "{{ _change.problems }}"
  vars:
    _change: "{{ _kube_versions | kubeha.cluster.kube_version_change(kubeha_kubernetes_version, hosts=groups['masters']) }}"
"""

RETURN = r"""
_value:
  description: The verdict.
  type: dict
  contains:
    read: {description: Some apiserver answered (a running cluster was read)., type: bool}
    apiservers: {description: "The release each apiserver that answered runs ({host or URL: 1.35.4}).", type: dict}
    kubelets: {description: "The release each Node's kubelet runs ({node: 1.35.4}).", type: dict}
    changing: {description: Some apiserver or kubelet runs another release than the target., type: bool}
    minor_upgrade: {description: The target is a newer minor release than the oldest apiserver runs., type: bool}
    problems: {description: Why the change is not supported, with the supported path., type: list, elements: str}
"""

import re
from collections.abc import Mapping

from ansible.errors import AnsibleFilterError

# the kubelet may be this many minor releases older than kube-apiserver (the version skew policy, since 1.28)
KUBELET_SKEW = 3


def _parts(version):
    match = re.match(r"^v?(\d+)\.(\d+)\.(\d+)", str(version or ""))
    return tuple(int(p) for p in match.groups()) if match else None


def _text(parts):
    return "%d.%d.%d" % parts


def _where(running, parts):
    return ", ".join(sorted(name for name, seen in running.items() if seen == parts))


def kube_version_change(info, target, hosts=None):
    """See DOCUMENTATION."""
    wanted = _parts(target)
    if wanted is None:
        raise AnsibleFilterError("kube_version_change: target '%s' is not a release like 1.35.4" % target)
    info = info if isinstance(info, Mapping) else {}
    hosts = list(hosts or [])
    apiservers = {}
    for index, seen in enumerate(info.get("apiservers") or []):
        parts = _parts(seen.get("version")) if isinstance(seen, Mapping) else None
        if parts is not None:
            apiservers[hosts[index] if index < len(hosts) else seen.get("server", "?")] = parts
    kubelets = {}
    for node in info.get("nodes") or []:
        parts = _parts(node.get("kubelet_version")) if isinstance(node, Mapping) else None
        if parts is not None:
            kubelets[node.get("name", "?")] = parts
    problems = []
    if apiservers:
        lowest, highest = min(apiservers.values()), max(apiservers.values())
        major = wanted[0]
        if wanted[0] != lowest[0] or wanted[0] != highest[0]:
            problems.append("kubeha_kubernetes_version %s: the apiservers run %s; a change of major release is not supported."
                            % (target, ", ".join(sorted(set(_text(p) for p in apiservers.values())))))
        elif wanted[1] < highest[1]:
            problems.append(
                "kubeha_kubernetes_version %s is a downgrade to an older minor release: kube-apiserver %s runs on %s. "
                "Kubernetes does not support it (stored objects may already be in the newer release's form). Stay on %d.%d "
                "(a patch change within it is supported); to go back, restore etcd from a snapshot taken before the upgrade "
                "with the cluster on the older release." % (target, _text(highest), _where(apiservers, highest), major, highest[1]))
        elif wanted[1] > lowest[1] + 1:
            steps = ["%d.%d" % (major, minor) for minor in range(lowest[1] + 1, wanted[1])]
            problems.append(
                "kubeha_kubernetes_version %s skips %s: kube-apiserver %s runs on %s, and Kubernetes upgrades one minor release "
                "at a time. Run site.yml with kubeha_kubernetes_version set to a %s release first%s, then %s."
                % (target, " and ".join(steps), _text(lowest), _where(apiservers, lowest), steps[0],
                   "".join(", then a %s release" % step for step in steps[1:]), target))
        else:
            old = sorted(name for name, parts in kubelets.items() if parts[0] == wanted[0] and wanted[1] - parts[1] > KUBELET_SKEW)
            if old:
                problems.append(
                    "kubeha_kubernetes_version %s: the kubelets of %s run %s, more than %d minor releases older, which "
                    "kube-apiserver %d.%d does not support (the version skew policy). Move them to %d.%d or later first."
                    % (target, ", ".join(old), ", ".join(sorted(set(_text(kubelets[n]) for n in old))), KUBELET_SKEW, major,
                       wanted[1], major, wanted[1] - KUBELET_SKEW))
    running = list(apiservers.values()) + list(kubelets.values())
    return {
        "read": bool(apiservers),
        "apiservers": dict((name, _text(parts)) for name, parts in apiservers.items()),
        "kubelets": dict((name, _text(parts)) for name, parts in kubelets.items()),
        "changing": any(parts != wanted for parts in running),
        "minor_upgrade": bool(apiservers) and wanted[1] > min(apiservers.values())[1] and wanted[0] == min(apiservers.values())[0],
        "problems": problems,
    }


class FilterModule:
    def filters(self):
        return {"kube_version_change": kube_version_change}
