"""Discovery registry logic: parsing, expected-member matching, token checks against a real v2 etcd."""

from __future__ import annotations

import pytest

from ansible_collections.kubeha.cluster.plugins.module_utils._etcd.client import EtcdError, HttpTransport
from ansible_collections.kubeha.cluster.plugins.module_utils._etcd.discovery import (
    Expected,
    Token,
    check_token,
    create_etcd_token,
    detect_service_type,
    parse_registration,
    read_token,
)


def test_parse_registration():
    entry = parse_registration("/_etcd/registry/tok/8e9e05c52164694d", "etcd1=https://10.0.0.1:2380,etcd1=https://[::1]:2380")
    assert entry == {"id": "8e9e05c52164694d", "name": "etcd1", "peer_urls": ["https://10.0.0.1:2380", "https://[::1]:2380"]}


def test_expected_members_match_by_name_or_url():
    expected = Expected(["etcd1", "https://10.0.0.2:2380", "etcd3=https://10.0.0.3:2380"])
    assert expected.count == 3
    assert expected.matches({"name": "etcd1", "peer_urls": ["https://10.9.9.9:2380"]})
    assert expected.matches({"name": "other", "peer_urls": ["https://10.0.0.2:2380/"]})
    assert expected.matches({"name": "etcd3", "peer_urls": []})
    assert not expected.matches({"name": "stale", "peer_urls": ["https://10.0.0.9:2380"]})


def entry(name, url):
    return {"id": "1", "name": name, "peer_urls": [url]}


def test_check_token_verdicts():
    expected = Expected(["a", "b", "c"])
    assert check_token(Token("u", 3, []), 3, expected, False) == []
    assert "already has 1 of 3" in check_token(Token("u", 3, [entry("a", "http://x:1")]), 3, expected, False)[0]
    with pytest.raises(EtcdError, match="made for 5 members but 3 are expected"):
        check_token(Token("u", 5, []), 3, expected, False)
    with pytest.raises(EtcdError, match=r"not in the inventory: stale \(http://s:1\)"):
        check_token(Token("u", 3, [entry("a", "http://x:1"), entry("stale", "http://s:1")]), 3, expected, False)
    full = Token("u", 3, [entry("a", "http://x:1"), entry("b", "http://y:1"), entry("c", "http://z:1")])
    with pytest.raises(EtcdError, match="is full: 3 of 3"):
        check_token(full, 3, expected, False)
    assert check_token(full, 3, expected, True) == []


def test_token_on_a_real_v2_registry(etcd_discovery_service):
    transport = HttpTransport(timeout=5)
    service = etcd_discovery_service.endpoints[0]
    assert detect_service_type(transport, service) == "etcd"
    url = service + "/v2/keys/_etcd/registry/unit-token"
    assert not read_token(transport, url).exists
    assert create_etcd_token(transport, service, "unit-token", 3) is True
    assert create_etcd_token(transport, service, "unit-token", 5) is False, "an existing token is never overwritten"
    state = read_token(transport, url)
    assert state.exists and state.size == 3 and state.registered == [] and not state.full
