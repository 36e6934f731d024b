# Copyright (c) kubeha developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment:
    """The apiserver connection of the Kubernetes API modules (the argument spec: module_utils/_kube/api.py)."""

    DOCUMENTATION = r"""
options:
  server:
    description: The apiserver's URL (the load-balanced endpoint).
    type: str
    required: true
  ca_file:
    description: The cluster CA that verifies the apiserver.
    type: path
    required: true
  cert_file:
    description: The client certificate; what it may do is what the module may do (the Node authorizer lets a kubelet's
      read only its own Node; an admin's may do everything).
    type: path
    required: true
  key_file:
    description: Its key.
    type: path
    required: true
"""
