"""Fixtures for tests under tests/unit/plugins: real etcd clusters on loopback (see support.etcd_cluster)."""

from __future__ import annotations

# pylint: disable=unused-import
from support.etcd_cluster import (  # noqa: F401  (pytest fixtures, used by name)
    etcd_any,
    etcd_discovery_service,
    etcd_fresh,
    etcd_fresh_plain,
    etcd_pki,
    etcd_plain,
    etcd_tls,
)
