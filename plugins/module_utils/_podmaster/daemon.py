# Copyright (c) kubeha developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""podmaster entry point: ``python3 -m <package>._podmaster.daemon --config FILE``.

The configuration is one JSON object (the control_plane role writes it)::

    {
      "identity": "master1",                      # default: the host name
      "endpoints": ["https://10.0.0.11:2379"],
      "ca_cert": "...", "client_cert": "...", "client_key": "...",
      "ttl": 4, "renew_interval": 1, "margin": 2, "poll_interval": 0.25, "timeout": 0.75, "max_backoff": 1,
      "watchdog": 1, "stop_timeout": 0.5,         # systemd's WatchdogSec and the units' TimeoutStopSec
      "status_file": "/run/kubeha/podmaster.json",
      "deadline_file": "/run/kubeha/podmaster-deadline.json",  # the fence's heartbeat (static_pod components)
      "apiserver": {"url": "https://127.0.0.1:6443", "ca_cert": "/srv/kubernetes/ca.crt"},  # host mode: where a
                                                   # dead holder's Lease is released (components[].lease)
      "local_endpoint": "https://10.0.0.11:2379",  # this master's etcd member: keep etcd's leader off it while
                                                   # holding a key ("" or absent: never move etcd's leadership)
      "components": [
        {"name": "kube-scheduler", "key": "/kubeha/podmaster/kube-scheduler", "mode": "static_pod",
         "source": "/srv/kubernetes/kube-scheduler.yaml", "dest": "/etc/kubernetes/manifests/kube-scheduler.yaml",
         "program": "kube-scheduler"},            # a stop waits until no such process runs here (needs hostPID)
        {"name": "kube-controller-manager", "mode": "host", "unit": "kube-controller-manager.service"}
      ]
    }

The status file (JSON, replaced atomically on every change and at least every renew interval) tells
who holds what: ``components.<name>.active`` / ``holder`` / ``reason``. Exit codes: 0 after a stop
signal, 1 when a component could not be stopped at shutdown (its lease is then left to expire, not
revoked), 2 for a configuration error (the message names the setting).

``--fence`` runs the fence instead (see :mod:`.fence`): the second container of podmaster's static pod,
which stops the static_pod components here when podmaster's published deadline passes.

Liveness: with ``watchdog`` set, a thread of its own pings systemd's watchdog every quarter of it,
as long as the main loop has begun a step within the last TTL. A frozen process (SIGSTOP, a stalled
VM) pings nothing and is killed after ``watchdog`` seconds; a main loop stuck for a TTL is too.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import socket
import sys
import threading
import time

from .._etcd.client import EtcdClient, EtcdConfigError, parse_endpoint
from .activator import HostActivator, StaticPodActivator
from .elector import Component, Elector, Settings
from .etcdleader import LeaderAvoider
from .fence import Fence, write_deadline, write_json
from .k8slease import LeaseReleaser

DEFAULT_KEY_PREFIX = "/kubeha/podmaster/"
DEFAULT_STATUS_FILE = "/run/kubeha/podmaster.json"


class ConfigError(Exception):
    """The configuration cannot be used; the message names the setting and what to do."""


def _component(index, spec, settings):
    where = "components[%d]" % index
    if not isinstance(spec, dict) or not spec.get("name"):
        raise ConfigError("%s needs a name (e.g. kube-scheduler)" % where)
    name = str(spec["name"])
    key = str(spec.get("key") or DEFAULT_KEY_PREFIX + name)
    mode = spec.get("mode", "static_pod")
    if mode == "static_pod":
        missing = [f for f in ("source", "dest") if not spec.get(f)]
        if missing:
            raise ConfigError("%s (%s): mode static_pod needs %s" % (where, name, " and ".join(missing)))
        if os.path.abspath(spec["source"]) == os.path.abspath(spec["dest"]):
            raise ConfigError("%s (%s): source and dest are the same file %s" % (where, name, spec["source"]))
        program = spec.get("program")
        if program and os.getpid() == 1:
            raise ConfigError("%s (%s): program %s is set, but this podmaster is PID 1 of its own PID namespace and cannot "
                              "see the kubelet's containers; run its pod with hostPID: true" % (where, name, program))
        activator = StaticPodActivator(spec["source"], spec["dest"], program=program, stop_timeout=settings.stop_timeout)
    elif mode == "host":
        if not spec.get("unit"):
            raise ConfigError("%s (%s): mode host needs unit (e.g. kube-scheduler.service)" % (where, name))
        activator = HostActivator(spec["unit"], systemctl=spec.get("systemctl", "systemctl"),
                                  stop_timeout=settings.stop_timeout, call_timeout=settings.margin * 0.9)
    else:
        raise ConfigError("%s (%s): mode must be static_pod or host, got %r" % (where, name, mode))
    if spec.get("lease") is not None and not isinstance(spec["lease"], dict):
        raise ConfigError("%s (%s): lease must be an object {namespace, name, client_cert, client_key}" % (where, name))
    return Component(name, key, activator, lease=spec.get("lease"))


def load_config(path, identity=None):
    """(client, identity, components, settings, status_file, local_endpoint, lease_releaser, deadline_file) from ``path``."""
    try:
        with open(path, encoding="utf-8") as handle:
            conf = json.load(handle)
    except OSError as exc:
        raise ConfigError("cannot read config %s: %s" % (path, exc.strerror or exc)) from None
    except ValueError as exc:
        raise ConfigError("config %s is not valid JSON: %s" % (path, exc)) from None
    if not isinstance(conf, dict):
        raise ConfigError("config %s must hold a JSON object" % path)
    try:
        settings = Settings(**{k: conf[k] for k in Settings.FIELDS if conf.get(k) is not None})
    except (TypeError, ValueError) as exc:
        raise ConfigError("config %s: %s" % (path, exc)) from None
    components = [_component(i, spec, settings) for i, spec in enumerate(conf.get("components") or [])]
    if not components:
        raise ConfigError("config %s lists no components; add e.g. {\"name\": \"kube-scheduler\", ...}" % path)
    keys = [c.key for c in components]
    if len(set(keys)) != len(keys):
        raise ConfigError("config %s: two components share a key (%s)" % (path, ", ".join(keys)))
    try:
        client = EtcdClient(conf.get("endpoints") or [], ca_cert=conf.get("ca_cert"), client_cert=conf.get("client_cert"),
                            client_key=conf.get("client_key"), timeout=settings.timeout)
        if any(e.startswith("https:") for e in client.endpoints):
            client.transport.ssl_context()  # certificate files are read now: errors show at start, not later
    except EtcdConfigError as exc:
        raise ConfigError("config %s: %s" % (path, exc)) from None
    identity = identity or conf.get("identity") or socket.gethostname()
    local = conf.get("local_endpoint") or ""
    if local:
        try:
            local = parse_endpoint(local)
        except EtcdConfigError as exc:
            raise ConfigError("config %s: local_endpoint: %s" % (path, exc)) from None
        if local not in client.endpoints:
            raise ConfigError("config %s: local_endpoint %s is not one of the endpoints (%s)"
                              % (path, local, ", ".join(client.endpoints)))
    apiserver = conf.get("apiserver") or {}
    releaser = LeaseReleaser(apiserver["url"], apiserver.get("ca_cert"), timeout=settings.timeout) if apiserver.get("url") else None
    if any(c.lease for c in components) and releaser is None:
        raise ConfigError("config %s: a component has a lease but apiserver.url is not set (where to release it)" % path)
    status = conf.get("status_file", DEFAULT_STATUS_FILE)
    # the fence's heartbeat, beside the status file unless named
    heartbeat = conf.get("deadline_file") or os.path.join(os.path.dirname(status) or ".", "podmaster-deadline.json")
    return client, str(identity), components, settings, status, local, releaser, heartbeat


def run_fence(components, path, settings):
    """``--fence``: stop the static_pod components here whenever podmaster's deadline passes, until SIGTERM."""
    static = [c for c in components if c.activator.mode == "static_pod"]
    if not static:
        sys.stderr.write("podmaster --fence: the config lists no static_pod component; nothing to fence\n")
        return 2
    fence = Fence(static, path, grace=settings.margin / 4.0)

    def on_signal(_signum, _frame):
        fence.stopped.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    fence.run()
    return 0


def write_status(path, data):
    """Replace ``path`` atomically with ``data`` as JSON (0644: it holds no secret)."""
    write_json(path, data, ".podmaster-status-")


def sd_notify(message):
    """Tell systemd (Type=notify, WatchdogSec=) about readiness and liveness; no-op elsewhere."""
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return
    if address.startswith("@"):
        address = "\0" + address[1:]
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.connect(address)
            sock.sendall(message.encode("utf-8"))
    except OSError:
        pass


class WatchdogPinger:
    """Pings systemd's watchdog from its own thread while the elector's main loop is alive.

    The main loop may wait on etcd for up to a timeout per request; pinging from here keeps the
    watchdog short (a fence for a frozen process) without killing a podmaster that merely waits.
    """

    def __init__(self, elector, interval, hang_limit, notify=None):
        self.elector = elector
        self.interval = interval
        self.hang_limit = hang_limit
        self.notify = notify or sd_notify
        self._stop = threading.Event()
        self._thread = None

    def alive(self):
        last = self.elector.last_step
        return last is None or self.elector.clock() - last < self.hang_limit

    def _loop(self):
        while not self._stop.wait(self.interval):
            if self.alive():
                self.notify("WATCHDOG=1")

    def start(self):
        self._thread = threading.Thread(target=self._loop, name="podmaster-watchdog", daemon=True)
        self._thread.start()

    def stop(self):
        self._stop.set()


class StatusWriter:
    """Writes the elector's status when it changed, and at least every ``interval`` seconds."""

    def __init__(self, elector, path, interval):
        self.elector = elector
        self.path = path
        self.interval = interval
        self._generation = None
        self._written = 0.0
        self._warned = False
        self._ready = False

    def __call__(self):
        if not self._ready:
            sd_notify("READY=1")  # after the first step: leftovers of an earlier run are deactivated by now
            self._ready = True
        if not self.path:
            return
        now = time.monotonic()
        if self._generation == self.elector.generation and now - self._written < self.interval:
            return
        data = self.elector.status()
        data.update(pid=os.getpid(), updated=time.time())
        try:
            write_status(self.path, data)
        except OSError as exc:
            if not self._warned:
                logging.getLogger("podmaster").warning("cannot write status file %s: %s", self.path, exc)
                self._warned = True
            return
        self._generation = self.elector.generation
        self._written = now


def _min_live_ttl(settings):
    """Whole seconds a live holder's lease always has left: it renews every renew_interval and steps down at the
    margin, so at least TTL - margin (etcd reports whole seconds, rounded down)."""
    return max(1, int(settings.ttl - settings.margin))


def main(argv=None):
    parser = argparse.ArgumentParser(prog="podmaster", description="Run components on exactly one master at a time, "
                                     "elected with an etcd lease lock.")
    parser.add_argument("--config", required=True, help="JSON configuration file")
    parser.add_argument("--identity", help="value written to the keys (default: config identity, else the host name)")
    parser.add_argument("--log-level", default=os.environ.get("PODMASTER_LOG_LEVEL", "INFO"),
                        choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    parser.add_argument("--check", action="store_true", help="validate the configuration and exit")
    parser.add_argument("--fence", action="store_true", help="run the fence for the static_pod components, not the elector")
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level, stream=sys.stderr,
                        format="%(asctime)s podmaster[%(process)d] %(levelname)s %(message)s")
    try:
        client, identity, components, settings, status_file, local, releaser, heartbeat = load_config(args.config, args.identity)
    except ConfigError as exc:
        sys.stderr.write("podmaster: %s\n" % exc)
        return 2
    if args.check:
        sys.stdout.write("podmaster: config %s is valid: identity %s, %s, components %s\n"
                         % (args.config, identity, settings, ", ".join("%s=%s" % (c.name, c.key) for c in components)))
        return 0
    if args.fence:
        return run_fence(components, heartbeat, settings)
    static = any(c.activator.mode == "static_pod" for c in components)
    elector = Elector(client, identity, components, settings,
                      leader_avoider=LeaderAvoider(client, local, keys=[c.key for c in components],
                                                   min_ttl=_min_live_ttl(settings), quiet=settings.ttl + 2) if local else None,
                      lease_releaser=releaser, on_deadline=(lambda deadline: write_deadline(heartbeat, deadline)) if static else None)
    logging.getLogger("podmaster").info("starting: identity %s, endpoints %s, %s, components %s", identity,
                                        ",".join(client.endpoints), settings,
                                        ", ".join("%s (%s)" % (c.name, c.activator.describe()) for c in components))

    def on_signal(signum, _frame):
        elector.request_stop(signal.Signals(signum).name)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    writer = StatusWriter(elector, status_file, settings.renew_interval)
    pinger = None
    if os.environ.get("WATCHDOG_USEC"):
        interval = min(settings.watchdog or 1e9, int(os.environ["WATCHDOG_USEC"]) / 1e6) / 4.0
        pinger = WatchdogPinger(elector, interval, hang_limit=settings.ttl)
        pinger.start()
    elector.run(after_step=writer)
    sd_notify("STOPPING=1")
    if pinger is not None:
        pinger.stop()
    logging.getLogger("podmaster").log(logging.ERROR if elector.exit_code else logging.INFO, "stopped (%s)%s",
                                       elector.stop_reason or "shutdown",
                                       ": a component could not be stopped" if elector.exit_code else "")
    return elector.exit_code


if __name__ == "__main__":
    raise SystemExit(main())
