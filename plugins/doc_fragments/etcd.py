# Copyright (c) kubeha developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment:
    """Connection options shared by the etcd modules (the argument spec lives in module_utils/_etcd/common.py)."""

    DOCUMENTATION = r"""
options:
  endpoints:
    description:
      - Client URLs of etcd members, like V(https://10.0.0.11:2379).
      - Requests go to the first endpoint that answers; an endpoint that refuses the connection, fails the TLS
        handshake, times out or has no leader is skipped (failover) and the next one is tried.
      - A value that is not an C(http://) or C(https://) URL with a host is refused before anything is sent.
    type: list
    elements: str
    default: [https://127.0.0.1:2379]
  ca_cert:
    description:
      - PEM file with the CA certificate(s) that signed the etcd server certificates.
      - Without it, C(https) endpoints are verified against the system trust store. Certificate verification
        cannot be switched off.
    type: path
  client_cert:
    description:
      - PEM client certificate for etcd's client-certificate authentication (C(--client-cert-auth)).
      - Requires O(client_key).
    type: path
  client_key:
    description:
      - PEM private key of O(client_cert). The file is read by the module on the target host and never returned.
    type: path
  timeout:
    description:
      - Seconds to wait for one request to one endpoint (connect and answer) before failing over to the next one.
    type: float
    default: 5
notes:
  - The modules talk to etcd's v3 JSON gateway (C(/v3/...)), served by etcd 3.4 and later, using the Python standard
    library only; no Python packages are needed on the target host.
"""
