# Copyright (c) kubeha developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""etcd client on the standard library: v3 JSON gateway, v2 keys (discovery registries only).

* Several endpoints with failover, a per-request timeout, TLS with a CA and a client cert/key.
* Errors name the endpoint and the cause (refused, TLS failure and its reason, timeout, HTTP status
  with etcd's own error text). Callers see text keys and values, never base64; IDs and revisions
  are ints (member IDs also as hex through :func:`hex_id`).
* No Ansible imports: the podmaster daemon ships this file as it is.
"""

from __future__ import annotations

import base64
import copy
import http.client
import json
import socket
import ssl
import urllib.parse

__all__ = [
    "EtcdClient", "EtcdError", "EtcdConfigError", "EtcdEndpointError", "EtcdConnectionError",
    "HttpTransport", "KeyValue", "hex_id", "parse_endpoint",
]

UNAVAILABLE = 14  # gRPC code etcd uses for "no leader", "unhealthy cluster", "request timed out"
NOT_FOUND = 5


# ---------------------------------------------------------------------------------------- errors
class EtcdError(Exception):
    """Base error. ``str()`` is the whole message; ``result`` holds extra values for a module's fail_json."""

    def __init__(self, msg, **result):
        super().__init__(msg)
        self.msg = msg
        self.result = result


MIN_VERSION = "3.5"  # the oldest etcd kubeha supports (the etcd role refuses to install an older one)


class EtcdConfigError(EtcdError):
    """Bad client settings (endpoint URL, certificate files): raised before anything is sent."""


class EtcdEndpointError(EtcdError):
    """One request to one endpoint failed.

    ``kind``: ``refused``, ``tls``, ``timeout``, ``dns``, ``connection`` (other socket errors), ``http``
    (etcd answered with an error status), ``protocol`` (an answer that is not what etcd sends).
    ``sent``: whether the request may have reached etcd (False when it certainly did not).
    ``status``: HTTP status; ``code``: etcd's gRPC code; ``error``: etcd's own error text.
    """

    def __init__(self, endpoint, kind, cause, sent=True, status=None, code=None, error=None):
        super().__init__("%s: %s" % (endpoint, cause), endpoint=endpoint)
        self.endpoint = endpoint
        self.kind = kind
        self.cause = cause
        self.sent = sent
        self.status = status
        self.code = code
        self.error = error

    @property
    def unavailable(self):
        """etcd said it cannot serve now (no leader, unhealthy cluster, timeout inside etcd)."""
        return self.code == UNAVAILABLE or self.status == 503

    @property
    def failover(self):
        """Whether trying another endpoint makes sense (the endpoint, not the request, is the problem)."""
        return self.kind != "http" or self.unavailable


class EtcdConnectionError(EtcdError):
    """No endpoint could answer; ``errors`` holds one :class:`EtcdEndpointError` per endpoint tried."""

    def __init__(self, what, errors):
        lines = "; ".join(str(e) for e in errors)
        super().__init__("%s failed on every endpoint: %s" % (what, lines),
                         endpoint_errors=[{"endpoint": e.endpoint, "error": e.cause} for e in errors])
        self.errors = list(errors)


# --------------------------------------------------------------------------------------- helpers
def _b64(text):
    if isinstance(text, str):
        text = text.encode("utf-8")
    return base64.b64encode(text).decode("ascii")


def _unb64(data):
    if not data:
        return ""
    raw = base64.b64decode(data)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        # not text: show it the way etcdctl's JSON output would rather than crash
        return raw.decode("utf-8", "backslashreplace")


def _int(value, default=0):
    if value is None or value == "":
        return default
    return int(value)


def hex_id(value):
    """A member/cluster/lease ID as etcdctl prints it (lower-case hex, no padding)."""
    return "%x" % _int(value)


def prefix_end(key):
    """The range_end that makes a range request cover every key starting with ``key``."""
    raw = bytearray(key.encode("utf-8") if isinstance(key, str) else key)
    for i in range(len(raw) - 1, -1, -1):
        if raw[i] < 0xFF:
            raw[i] += 1
            return bytes(raw[:i + 1])
    return b"\0"  # every key


def parse_endpoint(value):
    """Normalise an endpoint URL (``scheme://host:port``) or raise :class:`EtcdConfigError` naming it."""
    text = value.strip() if isinstance(value, str) else value
    hint = "use a URL like https://10.0.0.11:2379"
    if not isinstance(text, str) or not text:
        raise EtcdConfigError("endpoint %r is empty or not text; %s" % (value, hint))
    parsed = urllib.parse.urlsplit(text)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise EtcdConfigError("endpoint %r is not an http:// or https:// URL with a host; %s" % (value, hint))
    try:
        port = parsed.port
    except ValueError:
        raise EtcdConfigError("endpoint %r has an invalid port; %s" % (value, hint)) from None
    if parsed.query or parsed.fragment or parsed.path not in ("", "/") or parsed.username or parsed.password:
        raise EtcdConfigError("endpoint %r must be only scheme, host and port (no path, query or credentials); %s"
                              % (value, hint))
    host = parsed.hostname
    if ":" in host:
        host = "[%s]" % host
    return "%s://%s%s" % (parsed.scheme, host, (":%d" % port) if port else "")


def norm_url(url):
    """``url`` as :func:`parse_endpoint` normalises it, for comparing URLs; as given (trimmed) when it is not one."""
    try:
        return parse_endpoint(url)
    except EtcdConfigError:
        return url.strip().rstrip("/") if isinstance(url, str) else url


class KeyValue:
    """A key as etcd returns it, decoded: ``key``/``value`` text, revisions and lease as ints."""

    __slots__ = ("key", "value", "create_revision", "mod_revision", "version", "lease")

    def __init__(self, key, value, create_revision=0, mod_revision=0, version=0, lease=0):
        self.key = key
        self.value = value
        self.create_revision = create_revision
        self.mod_revision = mod_revision
        self.version = version
        self.lease = lease

    @classmethod
    def from_json(cls, data):
        return cls(_unb64(data.get("key")), _unb64(data.get("value")), _int(data.get("create_revision")),
                   _int(data.get("mod_revision")), _int(data.get("version")), _int(data.get("lease")))

    def as_dict(self):
        return {name: getattr(self, name) for name in self.__slots__}

    def __eq__(self, other):
        return isinstance(other, KeyValue) and self.as_dict() == other.as_dict()

    def __repr__(self):
        return "KeyValue(%r, %r, mod_revision=%d)" % (self.key, self.value, self.mod_revision)


# ------------------------------------------------------------------------------------- transport
class HttpTransport:
    """HTTP(S) requests with one TLS configuration and timeout; errors as :class:`EtcdEndpointError`."""

    def __init__(self, ca_cert=None, client_cert=None, client_key=None, timeout=5.0):
        if client_key and not client_cert:
            raise EtcdConfigError("client_key is set but client_cert is not; give both or neither")
        if client_cert and not client_key:
            raise EtcdConfigError("client_cert is set but client_key is not; give both or neither")
        if timeout is None or float(timeout) <= 0:
            raise EtcdConfigError("timeout must be a positive number of seconds, got %r" % (timeout,))
        self.ca_cert = ca_cert
        self.client_cert = client_cert
        self.client_key = client_key
        self.timeout = float(timeout)
        self._context = None

    def ssl_context(self):
        if self._context is None:
            try:
                ctx = ssl.create_default_context(cafile=self.ca_cert) if self.ca_cert else ssl.create_default_context()
            except (OSError, ssl.SSLError) as exc:
                raise EtcdConfigError("cannot load ca_cert %s: %s" % (self.ca_cert, _reason(exc))) from None
            if self.client_cert:
                try:
                    ctx.load_cert_chain(self.client_cert, self.client_key)
                except (OSError, ssl.SSLError) as exc:
                    raise EtcdConfigError("cannot load client_cert %s with client_key %s: %s"
                                          % (self.client_cert, self.client_key, _reason(exc))) from None
            self._context = ctx
        return self._context

    def _open(self, url, method, body, headers, timeout, endpoint):
        """Connect, send, and wait for the answer's head; return ``(connection, response)``, the body still unread."""
        parsed = urllib.parse.urlsplit(url)
        if parsed.scheme == "https":
            conn = http.client.HTTPSConnection(parsed.hostname, parsed.port, timeout=timeout, context=self.ssl_context())
        elif parsed.scheme == "http":
            conn = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=timeout)
        else:
            raise EtcdConfigError("%r is not an http:// or https:// URL" % url)
        target = parsed.path or "/"
        if parsed.query:
            target += "?" + parsed.query
        try:
            try:
                # connecting (and the TLS handshake) or sending failed: etcd did not act on the request
                conn.connect()
                conn.request(method, target, body=body, headers=headers or {})
            except (OSError, http.client.HTTPException) as exc:
                raise _socket_error(endpoint, exc, timeout, sent=False) from None
            try:
                return conn, conn.getresponse()
            except (OSError, http.client.HTTPException) as exc:
                # waiting for the answer failed: etcd may have acted
                raise _socket_error(endpoint, exc, timeout, sent=True) from None
        except BaseException:
            conn.close()
            raise

    def request(self, url, method="GET", body=None, headers=None, timeout=None, endpoint=None):
        """Send one request; return ``(status, body bytes)`` for 2xx, raise :class:`EtcdEndpointError` otherwise."""
        endpoint = endpoint or _origin(url)
        timeout = self.timeout if timeout is None else timeout
        conn, resp = self._open(url, method, body, headers, timeout, endpoint)
        try:
            data = resp.read()
        except (OSError, http.client.HTTPException) as exc:
            raise _socket_error(endpoint, exc, timeout, sent=True) from None
        finally:
            conn.close()
        if not 200 <= resp.status < 300:
            raise _http_error(endpoint, resp.status, resp.reason, data)
        return resp.status, data

    def lines(self, url, body=None, headers=None, timeout=None, endpoint=None):
        """POST and yield the answer's lines as they arrive (a gateway stream: one JSON message per line).

        ``timeout`` bounds each read, not the whole stream. A non-2xx answer raises :class:`EtcdEndpointError` before
        the first line; a connection that fails raises it with ``sent=True``. A stream cut in the middle of a message
        ends with that message's part, which does not parse as JSON: the caller sees it.
        """
        endpoint = endpoint or _origin(url)
        timeout = self.timeout if timeout is None else timeout
        conn, resp = self._open(url, "POST", body, headers, timeout, endpoint)
        try:
            if not 200 <= resp.status < 300:
                raise _http_error(endpoint, resp.status, resp.reason, resp.read())
            while True:
                try:
                    line = resp.readline()
                except (OSError, http.client.HTTPException) as exc:
                    raise _socket_error(endpoint, exc, timeout, sent=True) from None
                if not line:
                    return
                yield line
        finally:
            conn.close()


def _refused_before_proposal(exc):
    """etcd answered 'unavailable' for a reason that means it did not start applying the request."""
    text = (exc.error or "").lower()
    return exc.unavailable and any(t in text for t in ("no leader", "unhealthy cluster", "not enough started", "not capable"))


def _origin(url):
    parsed = urllib.parse.urlsplit(url)
    return "%s://%s" % (parsed.scheme, parsed.netloc)


def _reason(exc):
    if isinstance(exc, ssl.SSLCertVerificationError):
        return exc.verify_message or exc.reason or str(exc)
    if isinstance(exc, ssl.SSLError):
        return exc.reason or str(exc)
    return getattr(exc, "strerror", None) or str(exc)


def _socket_error(endpoint, reason, timeout, sent):
    if isinstance(reason, ssl.SSLCertVerificationError):
        return EtcdEndpointError(endpoint, "tls", "TLS failure: server certificate not trusted (%s); check ca_cert"
                                 % (reason.verify_message or reason.reason), sent=False)
    if isinstance(reason, ssl.SSLError):
        why = reason.reason or str(reason)
        hint = ""
        if "CERTIFICATE_REQUIRED" in why.upper() or "BAD_CERTIFICATE" in why.upper() or "UNKNOWN_CA" in why.upper():
            hint = "; the server refused the client certificate: check client_cert/client_key and the server's CA"
        return EtcdEndpointError(endpoint, "tls", "TLS failure: %s%s" % (why, hint), sent=False)
    if isinstance(reason, ConnectionRefusedError):
        return EtcdEndpointError(endpoint, "refused", "connection refused (is etcd running and listening there?)", sent=False)
    if isinstance(reason, (socket.timeout, TimeoutError)):
        return EtcdEndpointError(endpoint, "timeout", "timed out after %gs%s"
                                 % (timeout, " waiting for the answer" if sent else " connecting"), sent=sent)
    if isinstance(reason, socket.gaierror):
        return EtcdEndpointError(endpoint, "dns", "cannot resolve the host name: %s" % (reason.strerror or reason), sent=False)
    if isinstance(reason, (ConnectionResetError, http.client.RemoteDisconnected, BrokenPipeError)):
        return EtcdEndpointError(endpoint, "connection",
                                 "connection closed by the server (%s); with TLS this often means the client "
                                 "certificate was refused" % (_reason(reason) or type(reason).__name__), sent=sent)
    if isinstance(reason, OSError):
        return EtcdEndpointError(endpoint, "connection", "connection failed: %s" % _reason(reason), sent=sent)
    return EtcdEndpointError(endpoint, "connection", "connection failed: %s" % (reason,), sent=sent)


def _http_error(endpoint, status, reason, raw):
    text = (raw or b"").decode("utf-8", "replace").strip()
    code = None
    message = text
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    if isinstance(data, dict):
        # v3 gateway: {"error", "message", "code"}; v2 keys: {"errorCode", "message", "cause"}; /health: {"health"}
        if "code" in data:
            code = _int(data.get("code"), None)
        message = data.get("message") or data.get("error") or text
        if data.get("cause"):
            message = "%s (%s)" % (message, data["cause"])
        if "errorCode" in data:
            code = _int(data["errorCode"], None)
        if "health" in data and "message" not in data:
            message = "health %s%s" % (data.get("health"), (" (%s)" % data["reason"]) if data.get("reason") else "")
    return EtcdEndpointError(endpoint, "http", "HTTP %s %s: %s" % (status, reason, message[:500]),
                             status=status, code=code, error=message)


# ---------------------------------------------------------------------------------------- client
class EtcdClient:  # pylint: disable=too-many-public-methods
    """Client for an etcd cluster through its v3 JSON gateway.

    ``endpoints``: client URLs; requests go to the endpoint that answered last, then the others in order.
    A read fails over on any endpoint failure; a write fails over only when it certainly did not reach etcd
    or etcd refused it as unavailable (no leader), so a compare-and-swap is never sent twice.
    """

    def __init__(self, endpoints, ca_cert=None, client_cert=None, client_key=None, timeout=5.0):
        if isinstance(endpoints, str):
            endpoints = [endpoints]
        if not endpoints:
            raise EtcdConfigError("no etcd endpoints given; use URLs like https://10.0.0.11:2379")
        self.endpoints = [parse_endpoint(e) for e in endpoints]
        self.transport = HttpTransport(ca_cert, client_cert, client_key, timeout)
        self._preferred = 0
        self.last_endpoint = None
        self.last_header = {}

    @property
    def timeout(self):
        return self.transport.timeout

    def with_endpoints(self, endpoints):
        """A client with the same TLS settings and timeout for other ``endpoints`` (tried in that order)."""
        other = copy.copy(self)
        other.endpoints = [parse_endpoint(e) for e in endpoints]
        other._preferred = 0  # pylint: disable=protected-access
        other.last_endpoint = None
        other.last_header = {}
        return other

    # raw calls ----------------------------------------------------------------------------
    def call_endpoint(self, endpoint, path, payload=None, timeout=None):
        """POST ``payload`` as JSON to ``endpoint + path``; return the decoded JSON answer."""
        body = json.dumps(payload if payload is not None else {}).encode("utf-8")
        try:
            _status, raw = self.transport.request(endpoint + path, "POST", body, {"Content-Type": "application/json"},
                                                  timeout=timeout, endpoint=endpoint)
        except EtcdEndpointError as exc:
            # a gRPC NotFound (a lease that is gone) is a 404 too, with etcd's JSON error: only a bare 404 means no gateway
            if exc.status == 404 and exc.code is None and path.startswith("/v3/"):
                raise self._too_old(endpoint, path) from None
            raise
        text = raw.decode("utf-8", "replace").strip()
        if path.endswith("/keepalive"):
            # a streaming call: one JSON object per line, {"result": {...}} or {"error": {...}}
            text = text.splitlines()[0] if text else ""
        try:
            data = json.loads(text) if text else {}
        except ValueError:
            raise EtcdEndpointError(endpoint, "protocol", "answer to %s is not JSON: %r" % (path, text[:200])) from None
        if isinstance(data, dict) and path.endswith("/keepalive"):
            if "error" in data:
                err = data["error"] or {}
                raise EtcdEndpointError(endpoint, "http", "etcd error: %s" % (err.get("message") or err),
                                        code=_int(err.get("grpc_code", err.get("code")), None), error=str(err))
            data = data.get("result", data)
        if not isinstance(data, dict):
            raise EtcdEndpointError(endpoint, "protocol", "answer to %s is not a JSON object" % path)
        return data

    def _too_old(self, endpoint, path):
        """The error for an etcd that has no /v3/ gateway (before 3.4: /v3beta/, /v3alpha/), naming its version."""
        try:
            seen = "etcd %s" % (self.version(endpoint).get("etcdserver") or "of an unknown version")
        except EtcdError as exc:
            seen = "a server whose /version does not answer either (%s)" % exc
        return EtcdEndpointError(
            endpoint, "http", "answered 404 to %s: it is %s, older than the /v3/ gateway paths kubeha uses (etcd 3.4 "
            "has them; kubeha supports etcd %s and later). Upgrade it one minor version at a time (3.3 -> 3.4 -> 3.5, a "
            "snapshot before each step: https://etcd.io/docs/v3.5/upgrades/), or let the kubeha.cluster.etcd role "
            "install a supported release." % (path, seen, MIN_VERSION), status=404, error="too old")

    def call(self, path, payload=None, idempotent=True, what=None, timeout=None):
        """POST to the first endpoint that answers (see the class doc for failover); return JSON."""
        errors = []
        order = self.endpoints[self._preferred:] + self.endpoints[:self._preferred]
        for endpoint in order:
            try:
                data = self.call_endpoint(endpoint, path, payload, timeout=timeout)
            except EtcdEndpointError as exc:
                errors.append(exc)
                if exc.kind == "http" and not exc.unavailable:
                    # etcd's own verdict on the request (not found, compare failed, bad request...): final
                    raise EtcdError("%s: %s" % (what or path, exc), endpoint=endpoint, status=exc.status,
                                    code=exc.code, error=exc.error) from None
                if not idempotent and exc.sent and not _refused_before_proposal(exc):
                    raise EtcdError("%s: %s (not retried on another endpoint: the request may have been applied)"
                                    % (what or path, exc), endpoint=endpoint, status=exc.status, code=exc.code,
                                    error=exc.error) from None
                continue
            self._preferred = self.endpoints.index(endpoint)
            self.last_endpoint = endpoint
            self.last_header = data.get("header") or {}
            return data
        raise EtcdConnectionError(what or path, errors)

    @property
    def revision(self):
        """Cluster revision of the last answer's header."""
        return _int(self.last_header.get("revision"))

    # key-value --------------------------------------------------------------------------------
    def get(self, key, prefix=False, serializable=False, revision=None, limit=None):
        """Keys at ``key`` (or under it with ``prefix``) as a list of :class:`KeyValue`."""
        payload = {"key": _b64(key)}
        if prefix:
            payload["range_end"] = _b64(prefix_end(key))
        if serializable:
            payload["serializable"] = True
        if revision:
            payload["revision"] = str(revision)
        if limit:
            payload["limit"] = str(limit)
        data = self.call("/v3/kv/range", payload, what="get %s" % key)
        return [KeyValue.from_json(kv) for kv in data.get("kvs") or []]

    def get_one(self, key, serializable=False):
        """The :class:`KeyValue` at ``key`` or None."""
        kvs = self.get(key, serializable=serializable)
        return kvs[0] if kvs else None

    def put(self, key, value, lease=0, prev_kv=False):
        """Store ``value``; returns the previous :class:`KeyValue` when ``prev_kv`` (None if there was none)."""
        payload = {"key": _b64(key), "value": _b64(value)}
        if lease:
            payload["lease"] = str(lease)
        if prev_kv:
            payload["prev_kv"] = True
        # not idempotent: a put retried after a lost answer would report the first put's value as the previous one
        data = self.call("/v3/kv/put", payload, idempotent=False, what="put %s" % key)
        prev = data.get("prev_kv")
        return KeyValue.from_json(prev) if prev else None

    def delete(self, key, prefix=False):
        """Delete ``key`` (or every key under it); returns the deleted :class:`KeyValue` list."""
        payload = {"key": _b64(key), "prev_kv": True}
        if prefix:
            payload["range_end"] = _b64(prefix_end(key))
        # not idempotent: a delete retried after a lost answer would report that nothing was deleted
        data = self.call("/v3/kv/deleterange", payload, idempotent=False, what="delete %s" % key)
        return [KeyValue.from_json(kv) for kv in data.get("prev_kvs") or []]

    def txn(self, compare, success, failure=(), what="txn"):
        """A raw transaction (gateway JSON, keys already base64); returns ``(succeeded, responses)``."""
        data = self.call("/v3/kv/txn", {"compare": list(compare), "success": list(success), "failure": list(failure)},
                         idempotent=False, what=what)
        return bool(data.get("succeeded")), data.get("responses") or []

    @staticmethod
    def compare(key, target, value, result="EQUAL"):
        """One txn comparison: ``target`` is VERSION, CREATE, MOD, VALUE or LEASE."""
        field = {"VERSION": "version", "CREATE": "create_revision", "MOD": "mod_revision", "VALUE": "value",
                 "LEASE": "lease"}[target]
        return {"key": _b64(key), "target": target, "result": result,
                field: _b64(value) if target == "VALUE" else str(value)}

    def put_if(self, key, value, create_only=False, prev_value=None, prev_revision=None, lease=0):
        """Compare-and-swap put in one transaction.

        ``create_only``: only if the key does not exist; ``prev_value``: only if the value is this;
        ``prev_revision``: only if the key's mod revision is this (0: does not exist).
        Returns ``(succeeded, current)``: ``current`` is the :class:`KeyValue` after a successful put
        (fetched in the same transaction) or the one that made the compare fail (None if absent).
        """
        compares = []
        if create_only:
            compares.append(self.compare(key, "CREATE", 0))
        if prev_value is not None:
            compares.append(self.compare(key, "VALUE", prev_value))
        if prev_revision is not None:
            compares.append(self.compare(key, "MOD", prev_revision))
        put = {"key": _b64(key), "value": _b64(value)}
        if lease:
            put["lease"] = str(lease)
        read = {"request_range": {"key": _b64(key)}}
        ok, responses = self.txn(compares, [{"request_put": put}, read], [read], what="put %s" % key)
        kvs = (responses[-1].get("response_range") or {}).get("kvs") if responses else None
        return ok, (KeyValue.from_json(kvs[0]) if kvs else None)

    def delete_if(self, key, prev_value=None, prev_revision=None):
        """Delete ``key`` only if its value / mod revision match; returns ``(succeeded, current or deleted kv)``."""
        compares = []
        if prev_value is not None:
            compares.append(self.compare(key, "VALUE", prev_value))
        if prev_revision is not None:
            compares.append(self.compare(key, "MOD", prev_revision))
        ok, responses = self.txn(compares, [{"request_delete_range": {"key": _b64(key), "prev_kv": True}}],
                                 [{"request_range": {"key": _b64(key)}}], what="delete %s" % key)
        resp = responses[0] if responses else {}
        kvs = (resp.get("response_delete_range") or {}).get("prev_kvs") if ok else (resp.get("response_range") or {}).get("kvs")
        return ok, (KeyValue.from_json(kvs[0]) if kvs else None)

    # leases -----------------------------------------------------------------------------------
    def lease_grant(self, ttl, lease_id=0):
        """Grant a lease of ``ttl`` seconds; returns ``(lease_id, ttl)``."""
        payload = {"TTL": str(int(ttl))}
        if lease_id:
            payload["ID"] = str(lease_id)
        data = self.call("/v3/lease/grant", payload, idempotent=False, what="lease grant")
        if data.get("error"):
            raise EtcdError("lease grant: %s" % data["error"], endpoint=self.last_endpoint)
        return _int(data.get("ID")), _int(data.get("TTL"))

    def lease_keepalive(self, lease_id):
        """Renew a lease once; returns the new TTL, 0 when the lease no longer exists."""
        data = self.call("/v3/lease/keepalive", {"ID": str(lease_id)}, what="lease keepalive %x" % lease_id)
        return _int(data.get("TTL"))

    def lease_timetolive(self, lease_id, keys=False):
        """``{"ttl", "granted_ttl", "keys"}`` of a lease; ``ttl`` is -1 when it does not exist."""
        payload = {"ID": str(lease_id)}
        if keys:
            payload["keys"] = True
        data = self.call("/v3/lease/timetolive", payload, what="lease timetolive %x" % lease_id)
        return {"ttl": _int(data.get("TTL"), -1), "granted_ttl": _int(data.get("grantedTTL")),
                "keys": [_unb64(k) for k in data.get("keys") or []]}

    def lease_revoke(self, lease_id):
        """Revoke a lease (its keys go with it); returns False if it did not exist."""
        try:
            self.call("/v3/lease/revoke", {"ID": str(lease_id)}, what="lease revoke %x" % lease_id)
        except EtcdError as exc:
            if exc.result.get("code") == NOT_FOUND:
                return False
            raise
        return True

    # cluster ----------------------------------------------------------------------------------
    @staticmethod
    def _member(data):
        return {"id": hex_id(data.get("ID")), "name": data.get("name") or "",
                "peer_urls": list(data.get("peerURLs") or []), "client_urls": list(data.get("clientURLs") or []),
                "is_learner": bool(data.get("isLearner"))}

    def member_list(self, linearizable=False):
        """Members as dicts: ``id`` (hex), ``name``, ``peer_urls``, ``client_urls``, ``is_learner``.

        By default the answering member's own view, which may not yet have applied a membership change committed
        through another member; ``linearizable`` waits until it has (a quorum read: fails without a quorum).
        """
        data = self.call("/v3/cluster/member/list", {"linearizable": True} if linearizable else {},
                         what="member list")
        return [self._member(m) for m in data.get("members") or []]

    def member_add(self, peer_urls, learner=False):
        """Add a member; returns ``(new member, members)``."""
        payload = {"peerURLs": list(peer_urls)}
        if learner:
            payload["isLearner"] = True
        data = self.call("/v3/cluster/member/add", payload, idempotent=False, what="member add %s" % ",".join(peer_urls))
        return self._member(data.get("member") or {}), [self._member(m) for m in data.get("members") or []]

    def member_remove(self, member_id):
        data = self.call("/v3/cluster/member/remove", {"ID": str(int(member_id, 16))}, idempotent=False,
                         what="member remove %s" % member_id)
        return [self._member(m) for m in data.get("members") or []]

    def member_update(self, member_id, peer_urls):
        data = self.call("/v3/cluster/member/update", {"ID": str(int(member_id, 16)), "peerURLs": list(peer_urls)},
                         idempotent=False, what="member update %s" % member_id)
        return [self._member(m) for m in data.get("members") or []]

    def member_promote(self, member_id):
        data = self.call("/v3/cluster/member/promote", {"ID": str(int(member_id, 16))}, idempotent=False,
                         what="member promote %s" % member_id)
        return [self._member(m) for m in data.get("members") or []]

    # per-endpoint health ----------------------------------------------------------------------
    def status(self, endpoint):
        """``/v3/maintenance/status`` of one endpoint (no failover), decoded."""
        data = self.call_endpoint(endpoint, "/v3/maintenance/status", {})
        header = data.get("header") or {}
        return {"member_id": hex_id(header.get("member_id")), "cluster_id": hex_id(header.get("cluster_id")),
                "leader": hex_id(data.get("leader")) if _int(data.get("leader")) else "",
                "version": data.get("version") or "", "db_size": _int(data.get("dbSize")),
                "raft_term": _int(data.get("raftTerm")), "raft_index": _int(data.get("raftIndex")),
                "revision": _int(header.get("revision")), "is_learner": bool(data.get("isLearner")),
                "errors": list(data.get("errors") or [])}

    def move_leader(self, endpoint, target_id):
        """Hand etcd's leadership to member ``target_id`` (hex); ``endpoint`` must be the leader's (no failover)."""
        self.call_endpoint(endpoint, "/v3/maintenance/transfer-leadership", {"targetID": str(int(target_id, 16))})

    def health(self, endpoint):
        """``/health`` of one endpoint: True, or raises :class:`EtcdEndpointError` with the reason."""
        _status, raw = self.transport.request(endpoint + "/health", endpoint=endpoint)
        try:
            data = json.loads(raw.decode("utf-8", "replace"))
        except ValueError:
            raise EtcdEndpointError(endpoint, "protocol", "/health answer is not JSON: %r" % raw[:200]) from None
        if str(data.get("health")) != "true":
            raise EtcdEndpointError(endpoint, "http", "unhealthy: %s" % (data.get("reason") or data))
        return True

    def version(self, endpoint):
        """``/version`` of one endpoint: ``{"etcdserver": ..., "etcdcluster": ...}``."""
        _status, raw = self.transport.request(endpoint + "/version", endpoint=endpoint)
        try:
            return json.loads(raw.decode("utf-8", "replace"))
        except ValueError:
            raise EtcdEndpointError(endpoint, "protocol", "/version answer is not JSON: %r" % raw[:200]) from None
