# Copyright (c) kubeha developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""etcd discovery registries: create or adopt a token, read it, refuse stale or foreign ones.

v2 protocol (etcd's "discovery service protocol", what etcd 3.5 and older speak): a token is a v2
keys directory, on a self-hosted etcd ``/v2/keys/_etcd/registry/<token>``; its ``_config/size``
key holds the cluster size; each member registers as ``<dir>/<member id hex>`` with the value
``name=peer_url[,...]`` and the first ``size`` registrations (by creation index) form the cluster.
A public service (discovery.etcd.io) hands out such URLs from ``GET <service>/new?size=N``.

v3 protocol (etcd 3.6 removed v2 discovery; its members take ``--discovery-token`` and
``--discovery-endpoints``): the same layout as v3 keys on an etcd cluster that serves as the
discovery service, ``/_etcd/registry/<token>/_config/size`` and
``/_etcd/registry/<token>/members/<member id hex>``, ordered by create revision. It is read and
written here through the collection's v3 client (TLS, client certificates).
"""

from __future__ import annotations

import json
import re
import urllib.parse
import uuid

from .client import EtcdClient, EtcdConfigError, EtcdEndpointError, EtcdError, HttpTransport, norm_url, parse_endpoint

REGISTRY_PATH = "/v2/keys/_etcd/registry"
V3_REGISTRY = "/_etcd/registry"
TOKEN_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
V2_KEY_NOT_FOUND = 100
V2_NODE_EXISTS = 105


class Token:
    """What a discovery URL holds: ``size`` (None: no token there) and ``registered`` entries."""

    def __init__(self, url, size, registered):
        self.url = url
        self.size = size
        self.registered = registered

    @property
    def exists(self):
        return self.size is not None

    @property
    def full(self):
        return self.size is not None and len(self.registered) >= self.size


def parse_registration(key, value):
    """``{"id", "name", "peer_urls"}`` from a registry entry (``<dir>/<id>`` = ``name=url,name=url``)."""
    name, urls = "", []
    for part in (value or "").split(","):
        if "=" in part:
            entry_name, url = part.split("=", 1)
            name = name or entry_name.strip()
            urls.append(url.strip())
    return {"id": key.rstrip("/").rsplit("/", 1)[-1], "name": name, "peer_urls": urls}


def _v2_get(transport, url):
    """JSON of a v2 keys GET, or None for 'key not found'."""
    try:
        _status, raw = transport.request(url, headers={"Accept": "application/json"})
    except EtcdEndpointError as exc:
        if exc.status == 404 and (exc.code in (None, V2_KEY_NOT_FOUND)):
            return None
        raise EtcdError("reading discovery registry %s: %s" % (url, exc.cause), endpoint=exc.endpoint) from None
    try:
        return json.loads(raw.decode("utf-8", "replace"))
    except ValueError:
        raise EtcdError("discovery registry %s did not answer JSON: %r" % (url, raw[:200])) from None


def read_token(transport, discovery_url):
    """Read a token's size and registrations (ordered by creation, like etcd does)."""
    size_doc = _v2_get(transport, discovery_url + "/_config/size")
    if size_doc is None:
        return Token(discovery_url, None, [])
    raw_size = (size_doc.get("node") or {}).get("value")
    try:
        size = int(raw_size)
    except (TypeError, ValueError):
        raise EtcdError("discovery token %s has a size key that is not a number (%r): the token is damaged; create a "
                        "new one" % (discovery_url, raw_size)) from None
    listing = _v2_get(transport, discovery_url) or {}
    nodes = [n for n in (listing.get("node") or {}).get("nodes") or []
             if not n.get("dir") and not n.get("key", "").rstrip("/").rsplit("/", 1)[-1].startswith("_")]
    nodes.sort(key=lambda n: n.get("createdIndex", 0))
    return Token(discovery_url, size, [parse_registration(n.get("key", ""), n.get("value")) for n in nodes])


def create_etcd_token(transport, service, token, size):
    """Create ``token`` of ``size`` on a self-hosted etcd; returns False if it existed already."""
    url = "%s%s/%s/_config/size?prevExist=false" % (service, REGISTRY_PATH, token)
    body = urllib.parse.urlencode({"value": str(size)}).encode("ascii")
    try:
        transport.request(url, "PUT", body, {"Content-Type": "application/x-www-form-urlencoded"})
    except EtcdEndpointError as exc:
        if exc.code == V2_NODE_EXISTS or exc.status == 412:
            return False
        hint = ""
        if exc.status == 404:
            hint = " (is the v2 API enabled on the discovery etcd? start it with --enable-v2)"
        raise EtcdError("creating discovery token on %s: %s%s" % (service, exc.cause, hint), endpoint=exc.endpoint) from None
    return True


def create_public_token(transport, service, size):
    """``GET <service>/new?size=N`` on a public discovery service; returns the discovery URL."""
    try:
        _status, raw = transport.request("%s/new?size=%d" % (service, size))
    except EtcdEndpointError as exc:
        raise EtcdError("creating a discovery token on %s: %s" % (service, exc.cause), endpoint=exc.endpoint) from None
    url = raw.decode("utf-8", "replace").strip()
    if not url.startswith(("http://", "https://")):
        raise EtcdError("discovery service %s answered %r instead of a discovery URL" % (service, url[:200]))
    return url.rstrip("/")


def detect_service_type(transport, service):
    """``etcd`` when ``<service>/version`` answers like etcd, else ``public``."""
    try:
        _status, raw = transport.request(service + "/version")
        data = json.loads(raw.decode("utf-8", "replace"))
    except (EtcdEndpointError, ValueError):
        return "public"
    return "etcd" if isinstance(data, dict) and "etcdserver" in data else "public"


def v3_size_key(token):
    return "%s/%s/_config/size" % (V3_REGISTRY, token)


def v3_members_prefix(token):
    return "%s/%s/members/" % (V3_REGISTRY, token)


def read_token_v3(client, token, where):
    """Read a v3 token's size and registrations (ordered by create revision, as etcd 3.6 does)."""
    size_kv = client.get_one(v3_size_key(token))
    if size_kv is None:
        return Token(where, None, [])
    try:
        size = int(size_kv.value)
    except (TypeError, ValueError):
        size = 0
    if size <= 0:
        raise EtcdError("discovery token %s has a size key that is not a positive number (%r): the token is damaged; "
                        "create a new one" % (where, size_kv.value))
    kvs = sorted(client.get(v3_members_prefix(token), prefix=True), key=lambda kv: kv.create_revision)
    return Token(where, size, [parse_registration(kv.key, kv.value) for kv in kvs])


def create_token_v3(client, token, size):
    """Create a v3 token of ``size`` (only if it does not exist); returns False if it existed already."""
    created, _current = client.put_if(v3_size_key(token), str(size), create_only=True)
    return created


def run_discovery_v3(params, expected, size, check_mode):
    """etcd_discovery with service_type etcd-v3: a token on an etcd cluster's v3 key space."""
    service = (params.get("discovery_service") or "").strip()
    endpoints = [e.strip().rstrip("/") for e in service.split(",") if e.strip()]
    if not endpoints:
        raise EtcdConfigError("discovery_service is required with service_type etcd-v3: the discovery etcd's client "
                              "URL(s), comma-separated, like https://10.0.0.5:4001")
    for endpoint in endpoints:
        parse_endpoint(endpoint)
    token = (params.get("token") or "").strip() or None
    if token and not TOKEN_RE.match(token):
        raise EtcdConfigError("token %r is not a v3 discovery token (letters, digits, '_', '-', '.'); etcd 3.6 takes "
                              "the token and the discovery endpoints, not a discovery URL" % token)
    client = EtcdClient(endpoints, params.get("ca_cert"), params.get("client_cert"), params.get("client_key"),
                        params.get("timeout") or 10.0)
    created = False
    if token is None:
        if size is None:
            raise EtcdConfigError("size (or expected_members) is required to create a discovery token")
        token = uuid.uuid4().hex
    where = "%s on %s" % (token, ",".join(endpoints))
    state = read_token_v3(client, token, where)
    if not state.exists:
        if size is None:
            raise EtcdConfigError("token %s does not exist yet: give size (or expected_members) to create it" % where)
        created = True
        if not check_mode:
            created = create_token_v3(client, token, size)
            state = read_token_v3(client, token, where)
        else:
            state = Token(where, size, [])
    warnings = check_token(state, size, expected, bool(params.get("allow_full")))
    registered = [dict(e, expected=expected.matches(e) if expected is not None else True) for e in state.registered]
    return {"changed": created, "created": created, "discovery_url": "", "token": token, "endpoints": endpoints,
            "size": state.size, "full": state.full, "registered": registered, "service_type": "etcd-v3", "warnings": warnings}


class Expected:
    """The inventory's members: names, peer URLs, or ``name=peer_url``."""

    def __init__(self, items):
        self.names = set()
        self.urls = set()
        for item in items or []:
            item = (item or "").strip()
            if not item:
                continue
            name, url = item.split("=", 1) if "=" in item else ("", item)
            if not url.startswith(("http://", "https://")):
                name, url = item, ""
            if name:
                self.names.add(name)
            if url:
                self.urls.add(norm_url(url))
        self.count = len([i for i in items or [] if (i or "").strip()])

    def matches(self, entry):
        return entry["name"] in self.names or any(norm_url(u) in self.urls for u in entry["peer_urls"])


def _who(entry):
    return "%s (%s)" % (entry["name"] or "unnamed", ",".join(entry["peer_urls"]) or "no peer URL")


def resolve(params, transport):
    """``(kind, service, discovery_url or None, token or None)`` from the module parameters."""
    token = (params.get("token") or "").strip() or None
    service = (params.get("discovery_service") or "").strip().rstrip("/") or None
    kind = params.get("service_type") or "auto"
    if service:
        try:
            parse_endpoint(urllib.parse.urlunsplit(urllib.parse.urlsplit(service)[:2] + ("", "", "")))
        except EtcdConfigError:
            raise EtcdConfigError("discovery_service %r is not an http:// or https:// URL" % service) from None
    if token and token.startswith(("http://", "https://")):
        url = token.rstrip("/")
        name = url.rsplit("/", 1)[-1]
        if kind == "auto":
            kind = "etcd" if (REGISTRY_PATH + "/") in url else "public"
        return kind, service, url, name
    if token and not TOKEN_RE.match(token):
        raise EtcdConfigError("token %r is neither a discovery URL nor a token (letters, digits, '_', '-', '.')" % token)
    if not service:
        raise EtcdConfigError("discovery_service is required unless token is a full discovery URL")
    if kind == "auto":
        kind = detect_service_type(transport, service)
    if token:
        url = "%s%s/%s" % (service, REGISTRY_PATH, token) if kind == "etcd" else "%s/%s" % (service, token)
        return kind, service, url, token
    return kind, service, None, None


def check_token(state, size, expected, allow_full):
    """Refuse a token of another size, with foreign members, or full; returns warnings."""
    url = state.url
    redo = ("Create a new token (run without token, or with a new token value) and start the members with the new "
            "discovery URL; a token bootstraps one cluster, once.")
    if size is not None and state.size != size:
        raise EtcdError("discovery token %s was made for %d members but %d are expected. %s" % (
            url, state.size, size, redo), size=state.size, registered=state.registered)
    if expected is not None:
        foreign = [e for e in state.registered if not expected.matches(e)]
        if foreign:
            raise EtcdError("discovery token %s holds members that are not in the inventory: %s (stale token from "
                            "another cluster or an earlier attempt). %s" % (url, ", ".join(_who(e) for e in foreign), redo),
                            size=state.size, registered=state.registered)
    if state.full and not allow_full:
        raise EtcdError("discovery token %s is full: %d of %d members registered (%s). If this cluster already runs "
                        "on it, etcd needs no discovery any more (set allow_full=true to accept it); otherwise: %s" % (
                            url, len(state.registered), state.size, ", ".join(_who(e) for e in state.registered), redo),
                        size=state.size, registered=state.registered)
    warnings = []
    if state.registered and not state.full:
        warnings.append("discovery token %s already has %d of %d members registered (%s): an earlier bootstrap "
                        "attempt? Members restarted with wiped data dirs cannot register again under the same name."
                        % (url, len(state.registered), state.size, ", ".join(_who(e) for e in state.registered)))
    return warnings


def run_discovery(params, check_mode=False):
    """etcd_discovery: the result dict, or raise EtcdError."""
    transport = HttpTransport(params.get("ca_cert"), params.get("client_cert"), params.get("client_key"),
                              params.get("timeout") or 10.0)
    expected = Expected(params["expected_members"]) if params.get("expected_members") is not None else None
    size = params.get("size")
    if size is not None and size < 1:
        raise EtcdConfigError("size must be 1 or more, got %d" % size)
    if size is None and expected is not None and expected.count:
        size = expected.count
    if expected is not None and size is not None and expected.count > size:
        raise EtcdConfigError("expected_members lists %d members but size is %d" % (expected.count, size))
    if params.get("service_type") == "etcd-v3":
        return run_discovery_v3(params, expected, size, check_mode)
    kind, service, url, token = resolve(params, transport)
    created = False
    warnings = []
    if url is not None:
        state = read_token(transport, url)
        if not state.exists:
            if kind != "etcd":
                raise EtcdError("discovery token %s does not exist on the discovery service; check the URL or create a "
                                "new token (omit token)" % url)
            if size is None:
                raise EtcdConfigError("token %s does not exist yet: give size (or expected_members) to create it" % url)
            base = service or url.split(REGISTRY_PATH, 1)[0]
            created = True
            if not check_mode:
                created = create_etcd_token(transport, base, token, size)
                state = read_token(transport, url)
            else:
                state = Token(url, size, [])
    else:
        if size is None:
            raise EtcdConfigError("size (or expected_members) is required to create a discovery token")
        created = True
        if kind == "etcd":
            token = uuid.uuid4().hex
            url = "%s%s/%s" % (service, REGISTRY_PATH, token)
            if not check_mode:
                create_etcd_token(transport, service, token, size)
                state = read_token(transport, url)
            else:
                state = Token(url, size, [])
        elif check_mode:
            warnings.append("check mode: a public discovery service hands out the URL only when asked to create it")
            url, token, state = "", "", Token("", size, [])
        else:
            url = create_public_token(transport, service, size)
            token = url.rsplit("/", 1)[-1]
            state = read_token(transport, url)
            if not state.exists:
                state = Token(url, size, [])
    warnings += check_token(state, size, expected, bool(params.get("allow_full")))
    registered = [dict(e, expected=expected.matches(e) if expected is not None else True) for e in state.registered]
    return {"changed": created, "created": created, "discovery_url": url, "token": token, "size": state.size,
            "full": state.full, "registered": registered, "service_type": kind, "warnings": warnings}
