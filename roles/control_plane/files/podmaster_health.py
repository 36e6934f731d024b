"""Is this master's podmaster up and what it runs here answering?

    python3 podmaster-health.py STATUS_FILE [COMPONENT=PORT ...]

The health check of ``podmaster.service`` (the control_plane role gives it to kubeha.cluster.daemon,
which runs it after a start or restart and on every run, polling with a bound). Healthy when:

- the status file was written by a podmaster process that is alive (after a restart, the new one);
- it knows who holds every component (no empty ``holder``), and runs what it holds;
- every COMPONENT it runs here (``active``) accepts connections on 127.0.0.1:PORT.

Exit 0 when healthy, 1 otherwise, with what was seen on stdout. Standard library only.
"""

from __future__ import annotations

import json
import os
import socket
import sys


def problems(status_file, ports):
    """What is not healthy yet (empty when healthy)."""
    try:
        with open(status_file, encoding="utf-8") as handle:
            status = json.load(handle)
    except (OSError, ValueError) as exc:
        return ["status file %s: %s" % (status_file, getattr(exc, "strerror", None) or exc)]
    out = []
    pid = status.get("pid")
    if not isinstance(pid, int) or not os.path.exists("/proc/%d" % pid):
        out.append("status file %s was written by pid %s, which is not running (podmaster starting?)" % (status_file, pid))
    components = status.get("components") or {}
    if not components:
        out.append("status file %s lists no components" % status_file)
    for name, comp in sorted(components.items()):
        if not comp.get("holder"):
            out.append("%s: holder not known yet (%s)" % (name, comp.get("reason") or "no reason given"))
        elif comp.get("held") and not comp.get("active"):
            out.append("%s: held here but not running yet (%s)" % (name, comp.get("reason") or "no reason given"))
        elif comp.get("active") and name in ports:
            try:
                with socket.create_connection(("127.0.0.1", ports[name]), timeout=1):
                    pass
            except OSError as exc:
                out.append("%s runs here but 127.0.0.1:%d refuses connections (%s)" % (name, ports[name], exc.strerror or exc))
    return out


def main(argv):
    if not argv:
        sys.stderr.write("usage: podmaster-health.py STATUS_FILE [COMPONENT=PORT ...]\n")
        return 2
    ports = {}
    for arg in argv[1:]:
        name, _sep, port = arg.partition("=")
        if not port.isdigit():
            sys.stderr.write("podmaster-health.py: %r is not COMPONENT=PORT\n" % arg)
            return 2
        ports[name] = int(port)
    found = problems(argv[0], ports)
    sys.stdout.write(("; ".join(found) if found else "healthy") + "\n")
    return 1 if found else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
