"""Run real podmaster daemons against real etcd, the way the control_plane role ships them.

:func:`ship` builds ``podmaster.pyz`` with the role's builder (the one file the role copies to each
master): the daemon runs with the relative import of the collection's one etcd client and no Ansible
on the path. :class:`Podmaster` is one daemon process with its own source/manifest dirs;
:class:`Checker` samples who is active; :class:`BlackholeProxy` is a TCP proxy on loopback that can
stop forwarding (accepting but never answering), to cut one podmaster off from etcd.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time

from ansible_collections.kubeha.cluster.plugins.plugin_utils import _zipapp

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", "..", "..", ".."))
MODULE_UTILS = os.path.join(ROOT, "plugins", "module_utils")
PACKAGE = "kubeha_podmaster"
# Short timings keep the tests quick; the benchmark (bench/podmaster_takeover.py) uses the defaults.
FAST = {"ttl": 4, "renew_interval": 1.2, "margin": 1.3, "poll_interval": 0.25, "timeout": 0.5}

MANIFEST = """apiVersion: v1
kind: Pod
metadata:
  name: kube-scheduler
  namespace: kube-system
spec:
  hostNetwork: true
  containers:
    - name: kube-scheduler
      image: registry.k8s.io/kube-scheduler:v1.34.2
      command: [kube-scheduler, --kubeconfig=/srv/kubernetes/scheduler.kubeconfig, --leader-elect=true]
"""


def ship(dest):
    """Build podmaster.pyz in ``dest`` with the roles' builder (plugins/plugin_utils/_zipapp.py); return its path.

    That is the one file the role copies to every master: the daemon and the collection's etcd client.
    """
    os.makedirs(dest, exist_ok=True)
    pyz = os.path.join(dest, "podmaster.pyz")
    _zipapp.build(MODULE_UTILS, pyz, "podmaster")
    return pyz


def wait_for(predicate, timeout, what, interval=0.02):
    """Poll ``predicate`` until truthy (returned) or fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %.1fs waiting for %s" % (timeout, what))
        time.sleep(interval)


class Podmaster:  # pylint: disable=too-many-instance-attributes
    """One podmaster daemon with its own source and manifest directories under ``workdir``/``name``."""

    def __init__(self, pyz, workdir, name, endpoints, tls=None, identity=None, settings=None, components=None):
        self.pyz = pyz
        self.name = name
        self.dir = os.path.join(workdir, name)
        self.src_dir = os.path.join(self.dir, "srv")
        self.dest_dir = os.path.join(self.dir, "manifests")
        for d in (self.src_dir, self.dest_dir):
            os.makedirs(d, exist_ok=True)
        self.source = os.path.join(self.src_dir, "kube-scheduler.yaml")
        self.dest = os.path.join(self.dest_dir, "kube-scheduler.yaml")
        if not os.path.exists(self.source):
            with open(self.source, "w", encoding="utf-8") as handle:
                handle.write(MANIFEST)
        self.status_file = os.path.join(self.dir, "status.json")
        self.log_path = os.path.join(self.dir, "podmaster.log")
        self.config_path = os.path.join(self.dir, "podmaster.json")
        conf = {"identity": identity or name, "endpoints": list(endpoints), "status_file": self.status_file,
                "components": components or [{"name": "kube-scheduler", "key": "/kubeha-test/podmaster/kube-scheduler",
                                              "mode": "static_pod", "source": self.source, "dest": self.dest}]}
        if tls is not None:
            conf.update(ca_cert=tls.ca, client_cert=tls.client_cert, client_key=tls.client_key)
        conf.update(settings or {})
        self.conf = conf
        with open(self.config_path, "w", encoding="utf-8") as handle:
            json.dump(conf, handle)
        self.proc = None

    def start(self, log_level="DEBUG"):
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "NOTIFY_SOCKET")}
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(  # pylint: disable=consider-using-with
                [sys.executable, self.pyz, "--config", self.config_path,
                 "--log-level", log_level], stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env)
        return self

    @property
    def active(self):
        return os.path.exists(self.dest)

    @property
    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def signal(self, sig):
        self.proc.send_signal(sig)

    def kill(self):
        if self.running:
            self.proc.kill()
            self.proc.wait(10)

    def stop(self, timeout=10):
        if self.running:
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(signal.SIGCONT)
                self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)

    def status(self):
        try:
            with open(self.status_file, encoding="utf-8") as handle:
                return json.load(handle)
        except (OSError, ValueError):
            return {}

    def log(self, offset=0):
        """The daemon's log (stdout and stderr), from byte ``offset`` on (see :meth:`log_size`)."""
        with open(self.log_path, encoding="utf-8", errors="replace") as handle:
            handle.seek(offset)
            return handle.read()

    def log_size(self):
        return os.path.getsize(self.log_path) if os.path.exists(self.log_path) else 0


class Checker:
    """Samples every ``interval`` seconds which podmasters have their copy active.

    ``overlaps``: samples where more than one was active (with the names); ``max_gap``: longest time
    between two samples actually achieved (so a test can prove the sampling was dense enough).
    ``exclude``: names not counted (a podmaster whose host is considered dead).
    """

    def __init__(self, podmasters, interval=0.02):
        self.podmasters = list(podmasters)
        self.interval = interval
        self.exclude = set()
        self.overlaps = []
        self.samples = 0
        self.max_gap = 0.0
        self.gaps = []
        self.history = []   # (t, frozenset(active names)) on every change
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def active(self):
        return frozenset(p.name for p in self.podmasters if p.name not in self.exclude and p.active)

    def _run(self):
        last = time.monotonic()
        seen = None
        while not self._stop.is_set():
            now = time.monotonic()
            active = self.active()
            self.samples += 1
            self.max_gap = max(self.max_gap, now - last)
            self.gaps.append(now - last)
            last = now
            if len(active) > 1:
                self.overlaps.append((now, sorted(active)))
            if active != seen:
                self.history.append((now, active))
                seen = active
            self._stop.wait(self.interval)

    def gap_percentile(self, pct):
        ordered = sorted(self.gaps) or [0.0]
        return ordered[min(len(ordered) - 1, int(len(ordered) * pct / 100.0))]

    def first_change_after(self, t0, predicate):
        for t, active in self.history:
            if t >= t0 and predicate(active):
                return t
        return None

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(5)


class BlackholeProxy:
    """TCP proxy on 127.0.0.1 to ``upstream`` (host, port); ``blackhole()`` stops all forwarding.

    While blackholed, new connections are accepted but never answered and bytes on existing ones are
    swallowed: to the client it looks like a cut network (requests time out), not a refused port.
    """

    def __init__(self, upstream):
        self.upstream = upstream
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.port = self.listener.getsockname()[1]
        self.cut = threading.Event()
        self.closed = threading.Event()
        self.connections = []   # (monotonic time accepted)
        self._socks = []
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def url(self, scheme):
        return "%s://127.0.0.1:%d" % (scheme, self.port)

    def blackhole(self):
        self.cut.set()

    def restore(self):
        self.cut.clear()

    def _accept(self):
        while not self.closed.is_set():
            try:
                client, _addr = self.listener.accept()
            except OSError:
                return
            with self._lock:
                self.connections.append(time.monotonic())
                self._socks.append(client)
            if self.cut.is_set():
                continue  # accepted, never answered
            try:
                upstream = socket.create_connection(self.upstream, timeout=2)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._socks.append(upstream)
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, src, dst):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if self.cut.is_set():
                    continue  # swallowed: the other side waits forever
                dst.sendall(data)
        except OSError:
            pass
        finally:
            if not self.cut.is_set():
                for s in (src, dst):
                    with contextlib.suppress(OSError):
                        s.shutdown(socket.SHUT_RDWR)

    def close(self):
        self.closed.set()
        with contextlib.suppress(OSError):
            self.listener.close()
        with self._lock:
            for s in self._socks:
                with contextlib.suppress(OSError):
                    s.close()
