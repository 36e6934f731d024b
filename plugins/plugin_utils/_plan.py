# Copyright (c) kubeha developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What the roles' plan filters (plugins/filter/*_plan.py) share: the role's variables, Jinja's conversions."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping

from ansible.errors import AnsibleFilterError
from ansible.module_utils.compat.version import LooseVersion
from ansible.module_utils.parsing.convert_bool import boolean


class RoleSettings(dict):
    """A role's variables by their names without the role's prefix (``etcd_data_dir`` is ``s['data_dir']``).

    The role gathers them, templated, with ``ansible.builtin.varnames`` and ``ansible.builtin.vars``; a name that
    is not there fails naming the variable."""

    def __init__(self, values, prefix, plugin, exclude=None):
        if not isinstance(values, Mapping):
            raise AnsibleFilterError("%s: expected the role's variables (%s*) as a dict, got %r" % (plugin, prefix, values))
        super().__init__((name[len(prefix):], value) for name, value in values.items()
                         if name.startswith(prefix) and not (exclude and name.startswith(exclude)))
        self.prefix, self.plugin = prefix, plugin

    def __missing__(self, name):
        raise AnsibleFilterError("%s: %s%s is not set (the role's defaults set it; was it given as null?)" % (self.plugin, self.prefix, name))

    def text(self, name):
        value = self[name]
        return "" if value is None else str(value)

    def flag(self, name):
        return boolean(self[name], strict=False)


def to_int(value):
    """Jinja's int filter: 0 for what is not a number."""
    try:
        return int(value)
    except (TypeError, ValueError):
        try:
            return int(float(value))
        except (TypeError, ValueError):
            return 0


def version_at_least(version, minimum):
    """Whether a release (with or without its leading v) is at least ``minimum``; False when it is not a version."""
    try:
        return LooseVersion(re.sub(r"^v", "", str(version))) >= LooseVersion(minimum)
    except (TypeError, ValueError):
        return False


def jinja_list(values):
    """A list as Jinja prints one (``['a', 'b']``), for messages that name what was seen."""
    return "[%s]" % ", ".join(repr(str(v)) for v in values)


def unique(values):
    """The values in their first order, each once (for unhashable values too)."""
    out = []
    for value in values:
        if value not in out:
            out.append(value)
    return out


def address_problem(address):
    """What is wrong with a host's cluster address for the other hosts: ``empty``, ``invalid`` (not an IPv4 or IPv6
    address: a name, a typo), ``unreachable`` (loopback or wildcard), or ``""`` for a usable address."""
    text = "" if address is None else str(address).strip()
    if not text:
        return "empty"
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        return "invalid"
    return "unreachable" if ip.is_loopback or ip.is_unspecified else ""


ETCD_MEMBER_COUNTS = (1, 3, 5, 7)


def etcd_count_problems(group, hosts):
    """The problem with an etcd group of ``hosts``, as a list (site.yml's check and the etcd role's say it alike); none for
    1, 3, 5 or 7 hosts."""
    if len(hosts) in ETCD_MEMBER_COUNTS:
        return []
    return ["group '%s' has %d hosts (%s): etcd needs 1, 3, 5 or 7 members (an odd count, so that a majority survives failures); "
            "add or remove hosts." % (group, len(hosts), ", ".join(hosts))]


def get(mapping, key, default=None):
    """``mapping[key]``, or ``default`` when there is no such key or mapping, or the value is null."""
    try:
        value = mapping[key]
    except (KeyError, TypeError, AttributeError):
        return default
    return default if value is None else value


def converged_record(hostvars, host):
    """A host's record of the last finished site.yml run as site.yml's fast-path play registered it
    (``_kubeha_converged``, kubeha.cluster.converged_info's result); ``{}`` when the host was not read."""
    record = get(get(hostvars, str(host)) or {}, "_kubeha_converged")
    return record if isinstance(record, Mapping) else {}


def mode_refusal(name, mode, mode_var, other_layout_path):
    """A kubeha.cluster.daemon refuse_if_present entry: what the other mode leaves of ``name`` on a host (its systemd
    unit file in static_pod mode, its manifest in host mode) means the host runs it in that mode."""
    other = "static_pod" if mode == "host" else "host"
    return {"path": other_layout_path,
            "msg": "%s runs in %s mode on this host (%s is %s now). Switching a running cluster between host and static_pod is not "
                   "supported: set %s back to %s (or kubeha_mode, which it follows). To rebuild this node in %s mode, remove "
                   "what the %s mode left first" % (name, other, mode_var, mode, mode_var, other, mode, other)}


def zipapp_built(output):
    """``(path, sha256)`` from the output of plugins/plugin_utils/_zipapp.py (``built PATH SHA256``); empty before the build."""
    words = str(output or "").split()
    return (words[1], words[-1]) if len(words) >= 3 else ("", "")
