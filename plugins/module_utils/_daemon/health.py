# Copyright (c) kubeha developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Is a daemon answering? An HTTP(S) status, a TCP port, a unix socket or a command, polled with a bound."""

from __future__ import annotations


import socket
import ssl
import time
from urllib.error import HTTPError, URLError
from urllib.request import HTTPSHandler, Request, build_opener

from .common import DaemonError, run, tail

KINDS = ("url", "port", "socket", "command")


def describe(check):
    if check.get("url"):
        return "GET %s" % check["url"]
    if check.get("port"):
        return "TCP %s:%s" % (check.get("host") or "127.0.0.1", check["port"])
    if check.get("socket"):
        return "unix socket %s" % check["socket"]
    if check.get("command"):
        return "command %s" % " ".join(check["command"])
    return "nothing"


def check_spec(check, where):
    """Raise when a health check is not exactly one of url, port, socket, command."""
    kinds = [k for k in KINDS if check.get(k)]
    if len(kinds) != 1:
        raise DaemonError("%s: health needs exactly one of url, port, socket or command; got %s" % (where, kinds or "none"))


def _ssl_context(check):
    context = ssl.create_default_context(cafile=check.get("ca_path") or None)
    if check.get("validate_certs") is False:
        # a component's own self-signed serving certificate, asked on the loopback for its status only
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if check.get("client_cert"):
        context.load_cert_chain(check["client_cert"], check.get("client_key") or None)
    return context


def probe(check, timeout=2.0):
    """(ok, what was seen) for one attempt."""
    try:
        if check.get("url"):
            handlers = [HTTPSHandler(context=_ssl_context(check))] if check["url"].startswith("https:") else []
            opener = build_opener(*handlers)
            try:
                with opener.open(Request(check["url"]), timeout=timeout) as resp:
                    status, body = resp.status, resp.read(200)
            except HTTPError as exc:
                status, body = exc.code, exc.read(200)
            want = int(check.get("status") or 200)
            seen = "%d %s" % (status, body.decode("utf-8", "replace").strip()[:120])
            return status == want, seen
        if check.get("port"):
            with socket.create_connection((check.get("host") or "127.0.0.1", int(check["port"])), timeout=timeout):
                return True, "accepted"
        if check.get("socket"):
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(timeout)
            try:
                sock.connect(check["socket"])
            finally:
                sock.close()
            return True, "accepted"
        if check.get("command"):
            rc, out, err = run(list(check["command"]), timeout=max(timeout, 10))
            if rc == 0:  # what a healthy command printed is returned to the caller (e.g. a status)
                return True, (out or "").strip()[-4096:]
            return False, "rc %d %s" % (rc, tail(err or out, 3))
    except (URLError, OSError, ssl.SSLError, ValueError) as exc:
        reason = getattr(exc, "reason", None) or exc
        return False, "%s: %s" % (type(exc).__name__, reason)
    return False, "no check"


def wait(check, timeout, interval=0.5):
    """Poll until the check passes or ``timeout`` seconds pass: (ok, last thing seen, attempts)."""
    deadline = time.monotonic() + float(timeout)
    attempts = 0
    while True:
        attempts += 1
        ok, seen = probe(check)
        if ok or time.monotonic() >= deadline:
            return ok, seen, attempts
        time.sleep(min(interval, max(0.0, deadline - time.monotonic())))
