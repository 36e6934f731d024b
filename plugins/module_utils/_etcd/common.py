# Copyright (c) kubeha developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Argument spec of the shared connection options and the client built from module parameters."""

from __future__ import annotations

from .client import EtcdClient, EtcdConfigError, EtcdError

# Mirrors plugins/doc_fragments/etcd.py: keep the two in step.
DEFAULT_ENDPOINTS = ["https://127.0.0.1:2379"]


def connection_argument_spec():
    """The options of the ``kubeha.cluster.etcd`` doc fragment, as an AnsibleModule argument spec."""
    return dict(
        endpoints=dict(type="list", elements="str", default=list(DEFAULT_ENDPOINTS)),
        ca_cert=dict(type="path"),
        client_cert=dict(type="path"),
        client_key=dict(type="path", no_log=False),
        timeout=dict(type="float", default=5.0),
    )


def argument_spec(**options):
    """Connection options plus a module's own ``options``."""
    spec = connection_argument_spec()
    spec.update(options)
    return spec


def client_from_params(params):
    """An :class:`EtcdClient` for module parameters (raises EtcdConfigError on bad values)."""
    try:
        return EtcdClient(
            params["endpoints"],
            ca_cert=params.get("ca_cert"),
            client_cert=params.get("client_cert"),
            client_key=params.get("client_key"),
            timeout=params.get("timeout") or 5.0,
        )
    except EtcdConfigError as exc:
        if exc.msg.startswith(("endpoint ", "no etcd endpoints")):
            raise EtcdConfigError("option endpoints: %s" % exc.msg) from None
        raise


def run_module(module, work, *args, **kwargs):
    """Run ``work(*args, **kwargs)`` for an etcd module and end it: its warnings become module warnings,
    an EtcdError fails the module with its message and the result fields it carries (what was seen).

    ``module`` is the AnsibleModule (used only through its methods, so this package stays free of
    Ansible imports for the podmaster daemon).
    """
    try:
        result = work(*args, **kwargs)
    except EtcdError as exc:
        module.fail_json(msg=str(exc), **exc.result)
    for warning in result.pop("warnings", []):
        module.warn(warning)
    result.setdefault("changed", False)
    module.exit_json(**result)
