# Copyright (c) kubeha developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""systemctl, asked once for every unit of a call, and the journal for error messages."""

from __future__ import annotations


from .common import DaemonError, run, tail

PROPERTIES = ("Id", "LoadState", "ActiveState", "SubState", "Result", "UnitFileState", "NeedDaemonReload", "FragmentPath")
ENABLED_STATES = ("enabled", "enabled-runtime", "static", "indirect", "generated", "alias", "linked", "linked-runtime")


def unit_name(name):
    """'kubelet' -> 'kubelet.service'; names with a unit suffix are kept."""
    return name if "." in name else name + ".service"


def journal(unit, lines=15):
    """The unit's last journal lines on one line, for error messages."""
    _rc, out, _err = run(["journalctl", "--no-pager", "-o", "cat", "-n", str(lines), "-u", unit_name(unit)], timeout=10)
    return tail(out, lines) or "(no journal lines)"


def kubelet_lines(pod, lines=8, scanned=3000):
    """The kubelet's last journal lines about a static pod of kube-system (its mirror pod is named <pod>-<node>), on
    one line, for error messages: why the kubelet did not (re)start it."""
    _rc, out, _err = run(["journalctl", "--no-pager", "-o", "cat", "-n", str(scanned), "-u", "kubelet.service"], timeout=10)
    marks = ('pod="kube-system/%s-' % pod, 'kube-system/%s-' % pod, '"%s"' % pod)
    about = [line for line in (out or "").splitlines() if any(mark in line for mark in marks)]
    return tail("\n".join(about), lines) or "(no kubelet journal lines about it)"


def show(names):
    """{unit name: {property: value}} for every name, in one systemctl call."""
    units = [unit_name(n) for n in names]
    if not units:
        return {}
    rc, out, err = run(["systemctl", "show", "--property=" + ",".join(PROPERTIES)] + units, timeout=30)
    if rc != 0:
        raise DaemonError("systemctl show %s failed (rc %d): %s; is systemd running on this host?" % (" ".join(units), rc, tail(err or out)))
    blocks = []
    current = {}
    for line in out.splitlines():
        if not line.strip():
            if current:
                blocks.append(current)
                current = {}
            continue
        key, _sep, value = line.partition("=")
        current[key] = value
    if current:
        blocks.append(current)
    if len(blocks) != len(units):
        raise DaemonError("systemctl show returned %d unit(s) for %d asked (%s): %s" % (len(blocks), len(units), " ".join(units), tail(out)))
    return dict(zip(units, blocks))


def is_active(props):
    return props.get("ActiveState") in ("active", "activating", "reloading")


def is_enabled(props):
    return props.get("UnitFileState", "") in ENABLED_STATES


def systemctl(*args, unit=None, timeout=300):
    """Run systemctl; a failure raises with the command, its output and the unit's journal."""
    argv = ["systemctl"] + list(args)
    rc, out, err = run(argv, timeout=timeout)
    if rc != 0:
        msg = "%s failed (rc %d): %s" % (" ".join(argv), rc, tail(err or out) or "no output")
        if unit:
            msg += "; journal of %s: %s" % (unit_name(unit), journal(unit))
        raise DaemonError(msg)
    return out
