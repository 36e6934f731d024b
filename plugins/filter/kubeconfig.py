# Copyright (c) kubeha developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The kubeconfig filter: one place that knows the kubeconfig layout for every role."""

from __future__ import annotations

DOCUMENTATION = r"""
name: kubeconfig
short_description: Build a kubeconfig for one cluster, one user and one context
version_added: 0.1.0
description:
  - "Returns a kubeconfig (C(apiVersion: v1), C(kind: Config)) as a dictionary, ready for
    P(ansible.builtin.to_nice_yaml#filter)."
  - Certificates are referenced by path on the node by default, so a renewed certificate is picked
    up without rewriting the kubeconfig; pass the PEM text with O(ca_data), O(cert_data) and
    O(key_data) to embed them instead (for a kubeconfig that leaves the cluster, such as an admin's).
options:
  _input:
    description: The apiserver URL, for example V(https://10.0.0.10:8443).
    type: str
    required: true
  user:
    description: Name of the user entry (the client certificate's subject decides who it is).
    type: str
    required: true
  cluster:
    description: Name of the cluster entry.
    type: str
    default: kubernetes
  ca_file:
    description: Path of the CA certificate on the node.
    type: path
  cert_file:
    description: Path of the client certificate on the node.
    type: path
  key_file:
    description: Path of the client key on the node.
    type: path
  ca_data:
    description: PEM text of the CA certificate, embedded base64-encoded.
    type: str
  cert_data:
    description: PEM text of the client certificate, embedded base64-encoded.
    type: str
  key_data:
    description: PEM text of the client key, embedded base64-encoded.
    type: str
"""

EXAMPLES = r"""
- name: Kubeconfig of the kubelet, pointed at the load balancer
  ansible.builtin.copy:
    dest: /etc/kubernetes/kubelet.kubeconfig
    mode: "0600"
    content: >-
      {{ 'https://10.0.0.10:8443' | kubeha.cluster.kubeconfig(user='system:node:worker1',
         ca_file='/srv/kubernetes/ca.crt', cert_file='/srv/kubernetes/kubelet.crt',
         key_file='/srv/kubernetes/kubelet.key') | ansible.builtin.to_nice_yaml(indent=2) }}
"""

RETURN = r"""
_value:
  description: The kubeconfig as a dictionary.
  type: dict
"""

import base64

from ansible.errors import AnsibleFilterError


def _pair(kind, path, data):
    """The path or the embedded-data entry for one of ca/cert/key, never both."""
    if path and data:
        raise AnsibleFilterError(
            "kubeconfig: give either %s_file or %s_data, not both (seen both for the %s)" % (kind, kind, kind))
    return path, data


def kubeconfig(server, user, cluster='kubernetes', ca_file=None, cert_file=None, key_file=None,
               ca_data=None, cert_data=None, key_data=None):
    """Kubeconfig dictionary for one cluster/user/context."""
    if not isinstance(server, str) or not server.startswith('https://'):
        raise AnsibleFilterError(
            "kubeconfig: the server must be an https:// URL, seen %r; use the load balancer's or "
            "apiserver's address, for example https://10.0.0.10:8443" % (server,))
    names = {'ca': 'certificate-authority', 'cert': 'client-certificate', 'key': 'client-key'}
    given = {'ca': _pair('ca', ca_file, ca_data), 'cert': _pair('cert', cert_file, cert_data),
             'key': _pair('key', key_file, key_data)}
    for kind, (path, data) in given.items():
        if not path and not data:
            raise AnsibleFilterError("kubeconfig: %s_file or %s_data is required" % (kind, kind))

    def entry(kind):
        path, data = given[kind]
        if path:
            return {names[kind]: path}
        return {names[kind] + '-data': base64.b64encode(data.encode('utf-8')).decode('ascii')}

    cluster_entry = {'server': server}
    cluster_entry.update(entry('ca'))
    user_entry = {}
    user_entry.update(entry('cert'))
    user_entry.update(entry('key'))
    context = '%s@%s' % (user, cluster)
    return {
        'apiVersion': 'v1',
        'kind': 'Config',
        'clusters': [{'name': cluster, 'cluster': cluster_entry}],
        'users': [{'name': user, 'user': user_entry}],
        'contexts': [{'name': context, 'context': {'cluster': cluster, 'user': user}}],
        'current-context': context,
        'preferences': {},
    }


class FilterModule:
    """kubeha.cluster filters."""

    def filters(self):
        return {'kubeconfig': kubeconfig}
