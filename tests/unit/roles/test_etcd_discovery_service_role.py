"""The etcd_discovery_service role refuses to serve anyone who reaches its port unless told to (issue 14 item 16)."""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from test_apiserver_role import run_role  # noqa: E402  pylint: disable=wrong-import-position,import-error

TLS = {'etcd_discovery_service_cert': '/etc/etcd/pki/server.crt', 'etcd_discovery_service_key': '/etc/etcd/pki/server.key'}


def test_no_client_ca_is_refused_naming_both_ways_out(tmp_path):
    code, output = run_role(tmp_path, 'etcd_discovery_service', TLS)
    text = ' '.join(output.split())
    assert code != 0 and 'set etcd_discovery_service_client_ca' in text and 'etcd_discovery_service_allow_anonymous: true' in text
    assert 'Nothing was changed' in text


def test_anonymous_is_an_explicit_opt_in_with_a_warning(tmp_path):
    # check mode goes on to the daemon call, which needs the real host: only the check's verdict is asserted
    _code, output = run_role(tmp_path, 'etcd_discovery_service', dict(TLS, etcd_discovery_service_allow_anonymous=True))
    text = ' '.join(output.split())
    assert 'asks for no client certificate (etcd_discovery_service_allow_anonymous)' in text
    assert 'set etcd_discovery_service_client_ca' not in text, text[-2000:]
