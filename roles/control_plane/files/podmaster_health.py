"""Is this master's podmaster up and settled, and what it runs here answering? Print its status if so.

    python3 podmaster-health.py STATUS_FILE [COMPONENT=PORT|COMPONENT=URL ...]

The health check of ``podmaster.service`` (the control_plane role gives it to kubeha.cluster.daemon,
which runs it after a start or restart and on every run, polling with a bound). Healthy when the status
is settled here:

- the status file was written by a podmaster process that is alive (after a restart, the new one), that
  is not stopping, and it is fresh (written within the lease TTL; podmaster rewrites it every renew
  interval);
- it knows who holds every component (no empty ``holder``);
- what it holds runs here (``active``), and nothing it does not hold runs here;
- every COMPONENT it runs here accepts connections on 127.0.0.1:PORT, or answers 200 at URL (the
  component's /readyz or /healthz on the loopback, which fails while it cannot work, e.g. before it has
  read what it needs from the API or while it cannot renew its Lease; its self-signed serving certificate
  is not verified, the answer is only a status).

Exit 0 when healthy, with this master's status on stdout as one line of JSON (identity, pid, lease, when
it was written, and per component holder, holder_lease, held, active, since): the daemon module returns it as
the unit's ``health``, and the role's check compares the masters' lines. Exit 1 otherwise, with what was
seen on stdout. Standard library only.
"""

from __future__ import annotations

import json
import os
import socket
import ssl
import sys
import time
from urllib.error import HTTPError, URLError
from urllib.request import HTTPSHandler, Request, build_opener

# what the role's check needs of each component's status (the whole status can exceed what the daemon
# module returns of a health check's output, 4 KiB)
COMPONENT_FIELDS = ("holder", "holder_lease", "held", "active", "since")


def load(status_file):
    """(status, problem): the parsed status file, or None and why it cannot be read."""
    try:
        with open(status_file, encoding="utf-8") as handle:
            status = json.load(handle)
    except (OSError, ValueError) as exc:
        return None, "status file %s: %s" % (status_file, getattr(exc, "strerror", None) or exc)
    if not isinstance(status, dict):
        return None, "status file %s does not hold a JSON object" % status_file
    return status, None


def _reason(comp):
    return comp.get("reason") or "no reason given"


def problems(status_file, ports, status=None, now=None):
    """What is not healthy or not settled yet (empty when healthy)."""
    if status is None:
        status, problem = load(status_file)
        if problem:
            return [problem]
    now = time.time() if now is None else now
    out = []
    pid = status.get("pid")
    if not isinstance(pid, int) or not os.path.exists("/proc/%d" % pid):
        out.append("status file %s was written by pid %s, which is not running (podmaster starting?)" % (status_file, pid))
    if status.get("stopping"):
        out.append("podmaster (pid %s) is stopping" % pid)
    ttl = (status.get("settings") or {}).get("ttl")
    updated = status.get("updated")
    if isinstance(ttl, (int, float)) and isinstance(updated, (int, float)) and now - updated > ttl:
        out.append("status file %s was last written %.1f s ago, more than the lease TTL (%s s): podmaster is stuck" % (
            status_file, now - updated, ttl))
    components = status.get("components") or {}
    if not components:
        out.append("status file %s lists no components" % status_file)
    for name, comp in sorted(components.items()):
        if comp.get("stop_failed"):
            out.append("%s: could not be stopped here (%s); podmaster keeps trying, and will not hand over its lease "
                       "while it runs" % (name, comp["stop_failed"]))
        if not comp.get("holder"):
            out.append("%s: holder not known yet (%s)" % (name, _reason(comp)))
        elif comp.get("holder") == status.get("identity") and not comp.get("held"):
            out.append("%s: the key names this master under another lease (%s; an earlier podmaster's, until it "
                       "expires)" % (name, comp.get("holder_lease") or "unknown"))
        elif comp.get("held") and not comp.get("active"):
            out.append("%s: held here but not running yet (%s)" % (name, _reason(comp)))
        elif comp.get("active") and not comp.get("held"):
            out.append("%s: runs here but the key is not held here (holder %s; stopping it?: %s)" % (
                name, comp.get("holder"), _reason(comp)))
        elif comp.get("active") and name in ports:
            problem = answers(ports[name])
            if problem:
                out.append("%s runs here but %s" % (name, problem))
    return out


def answers(where, timeout=2):
    """Why a component does not answer at ``where`` (a port on 127.0.0.1, or a URL that must answer 200); None when it does."""
    if isinstance(where, int):
        try:
            with socket.create_connection(("127.0.0.1", where), timeout=timeout):
                return None
        except OSError as exc:
            return "127.0.0.1:%d refuses connections (%s)" % (where, exc.strerror or exc)
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    try:
        with build_opener(HTTPSHandler(context=context)).open(Request(where), timeout=timeout) as resp:
            status, body = resp.status, resp.read(300)
    except HTTPError as exc:
        status, body = exc.code, exc.read(300)
    except (URLError, OSError, ValueError) as exc:
        return "%s does not answer (%s)" % (where, getattr(exc, "reason", None) or exc)
    if status != 200:
        return "%s answers %d: %s" % (where, status, body.decode("utf-8", "replace").strip().replace("\n", " ")[:200])
    return None


def summary(status):
    """The status as the role's check reads it: one line of JSON, well below 4 KiB."""
    components = {}
    for name, comp in sorted((status.get("components") or {}).items()):
        components[name] = dict((field, comp.get(field)) for field in COMPONENT_FIELDS)
    data = {"identity": status.get("identity"), "pid": status.get("pid"), "lease": status.get("lease"),
            "updated": status.get("updated"), "components": components}
    return json.dumps(data, sort_keys=True, separators=(",", ":"))


def main(argv):
    if not argv:
        sys.stderr.write("usage: podmaster-health.py STATUS_FILE [COMPONENT=PORT|COMPONENT=URL ...]\n")
        return 2
    ports = {}
    for arg in argv[1:]:
        name, _sep, where = arg.partition("=")
        if not (where.isdigit() or where.startswith(("http://", "https://"))):
            sys.stderr.write("podmaster-health.py: %r is not COMPONENT=PORT or COMPONENT=URL\n" % arg)
            return 2
        ports[name] = int(where) if where.isdigit() else where
    status, problem = load(argv[0])
    found = [problem] if problem else problems(argv[0], ports, status)
    sys.stdout.write(("; ".join(found) if found else summary(status)) + "\n")
    return 1 if found else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
