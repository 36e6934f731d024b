"""A role's defaults as a play templates them, for the tests of its plan filter (no Ansible needed)."""

from __future__ import annotations

import os

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# the etcd role's templated defaults for host e1 (10.0.0.11) with no kubeha_* variable set
ETCD_TEMPLATED = {
    'etcd_name': 'e1', 'etcd_node_ip': '10.0.0.11', 'etcd_mode': 'host', 'etcd_kubernetes_version': '1.35.4',
    'etcd_image': 'gcr.io/etcd-development/etcd:v3.6.16', 'etcd_arch': '',
    'etcd_ca_cert': '/etc/etcd/pki/ca.crt', 'etcd_peer_cert': '/etc/etcd/pki/peer.crt', 'etcd_peer_key': '/etc/etcd/pki/peer.key',
    'etcd_server_cert': '/etc/etcd/pki/server.crt', 'etcd_server_key': '/etc/etcd/pki/server.key',
}


def role_defaults(role, templated=None):
    """roles/<role>/defaults/main.yml, with ``templated`` in place of the values Ansible would template."""
    with open(os.path.join(ROOT, 'roles', role, 'defaults', 'main.yml'), encoding='utf-8') as handle:
        return dict(yaml.safe_load(handle), **(templated or {}))


ETCD_DEFAULTS = role_defaults('etcd', ETCD_TEMPLATED)
