"""Real etcd on loopback for unit tests: 1- or 3-member clusters, plain or TLS, discovery helpers.

Usage from a test module or a conftest::

    from support.etcd_cluster import etcd_plain, etcd_tls, etcd_fresh  # noqa: F401  (fixtures)

    def test_something(etcd_plain):
        client_urls = etcd_plain.endpoints          # ['http://127.0.0.1:PORT', ...]
        etcd_plain.members[0].stop()                # SIGTERM (or stop(kill=True) for SIGKILL)
        etcd_plain.members[0].start()               # same data dir, same ports

Everything is built with :func:`start_cluster` (a context manager), so a test that needs its own
shape (5 members, etcd 3.5, v2 enabled) can write ``with start_cluster(...) as cluster:``.
Processes run in their own process group and are killed on exit, also when a test fails.
Data directories live on tmpfs (/dev/shm) when available so fsync costs nothing.

Environment (written by scripts/setup.sh into .cache/env.sh): ``ETCD_BIN`` is the etcd binary the
tests use (the default release, 3.6, built by scripts/build_release.sh); ``ETCD35_BIN`` is etcd 3.5,
which still serves the v2 API that a self-hosted v2 discovery registry needs.
"""

from __future__ import annotations

import contextlib
import datetime
import ipaddress
import json
import os
import random
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request

import pytest

DEFAULT_ETCD = "/var/tmp/kubeha/release/etcd/etcd-v3.6.16-linux-amd64/etcd"
DEFAULT_ETCD35 = "/var/tmp/kubeha/release/etcd/etcd-v3.5.35-linux-amd64/etcd"
START_TIMEOUT = 30.0
_PORT_LOCK = threading.Lock()
_HANDED_OUT: set[int] = set()


def etcd_binary() -> str:
    """The etcd binary the tests use: $ETCD_BIN, the default release scripts/setup.sh builds."""
    return os.environ.get("ETCD_BIN") or DEFAULT_ETCD


def etcd35_binary() -> str:
    """etcd 3.5 ($ETCD35_BIN), the last release with the v2 API (v2 discovery registries)."""
    return os.environ.get("ETCD35_BIN") or DEFAULT_ETCD35


def _port_block() -> range:
    """The ports this test process may hand out: below the kernel's ephemeral range, one slice per xdist worker.

    Ports from the ephemeral range (what ``bind(('127.0.0.1', 0))`` returns) can be taken between their hand-out and
    etcd's bind, by any outgoing connection's source port or, under pytest-xdist, by the other worker's next hand-out.
    Below that range the kernel picks no port by itself, and each worker of a run has its own slice.
    """
    low = 32768
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range", encoding="ascii") as handle:
            low = int(handle.read().split()[0])
    except (OSError, ValueError, IndexError):
        pass
    first, last = 15000, max(low, 15000 + 2000)  # [first, last): at least 2000 ports for a single process
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")  # gw0, gw1, ... under pytest-xdist, unset otherwise
    count = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1") or 1)
    index = int(worker[2:]) if worker.startswith("gw") and worker[2:].isdigit() else 0
    size = (last - first) // max(count, 1)
    return range(first + index * size, first + (index + 1) * size)


_PORTS = _port_block()
# a random start in the slice: two test runs side by side (not workers of one run) rarely meet either
_NEXT_PORT = [_PORTS.start + random.randrange(len(_PORTS))]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on and that this process has not handed out yet.

    From this process's own block (:func:`_port_block`): outside the ephemeral range and apart from the other
    pytest-xdist workers' blocks, so that a port stays free until the process it was handed to binds it.
    """
    with _PORT_LOCK:
        for _attempt in range(len(_PORTS)):
            port = _NEXT_PORT[0]
            _NEXT_PORT[0] = port + 1 if port + 1 < _PORTS.stop else _PORTS.start
            if port in _HANDED_OUT:
                continue
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
                try:
                    sock.bind(("127.0.0.1", port))
                except OSError:
                    continue  # something else has it
            _HANDED_OUT.add(port)
            return port
    raise RuntimeError("no free TCP port found on 127.0.0.1 in %d-%d" % (_PORTS.start, _PORTS.stop - 1))


def _die_with_parent() -> None:
    """In the child before exec: get SIGKILL when the test process dies (Linux PR_SET_PDEATHSIG)."""
    try:
        import ctypes  # pylint: disable=import-outside-toplevel
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # 1 = PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _scratch_dir(prefix: str) -> str:
    base = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None
    return tempfile.mkdtemp(prefix=prefix, dir=base)


# --------------------------------------------------------------------------------------------- TLS
class TlsFiles:
    """Certificates for a TLS test cluster, all PEM files in one directory.

    ``ca``: the CA etcd trusts (servers, peers, clients); ``server_cert``/``server_key``: one cert
    for every member (127.0.0.1, localhost, ::1; serverAuth + clientAuth); ``client_cert``/
    ``client_key``: a client cert signed by ``ca``; ``wrong_ca``: an unrelated CA (for TLS failure
    tests); ``wrong_client_cert``/``wrong_client_key``: a client cert signed by ``wrong_ca``.
    """

    def __init__(self, directory: str):
        self.dir = directory
        self.ca = os.path.join(directory, "ca.crt")
        self.ca_key = os.path.join(directory, "ca.key")
        self.server_cert = os.path.join(directory, "server.crt")
        self.server_key = os.path.join(directory, "server.key")
        self.client_cert = os.path.join(directory, "client.crt")
        self.client_key = os.path.join(directory, "client.key")
        self.wrong_ca = os.path.join(directory, "wrong-ca.crt")
        self.wrong_client_cert = os.path.join(directory, "wrong-client.crt")
        self.wrong_client_key = os.path.join(directory, "wrong-client.key")

    def ssl_context(self) -> ssl.SSLContext:
        """A client SSL context trusting ``ca`` and presenting the client certificate."""
        ctx = ssl.create_default_context(cafile=self.ca)
        ctx.load_cert_chain(self.client_cert, self.client_key)
        return ctx


def make_tls_files(directory: str) -> TlsFiles:
    """Write a CA, a server/peer cert, a client cert and a wrong CA into ``directory``."""
    # cryptography is a test-only dependency here (the venv has it); imported lazily so that
    # plain-mode users of this module do not need it
    # pylint: disable=import-outside-toplevel
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    os.makedirs(directory, mode=0o700, exist_ok=True)
    files = TlsFiles(directory)
    now = datetime.datetime.now(datetime.timezone.utc)
    not_before = now - datetime.timedelta(minutes=5)
    not_after = now + datetime.timedelta(days=2)

    def write_key(path, key):
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))

    def write_cert(path, cert):
        with open(path, "wb") as handle:
            handle.write(cert.public_bytes(serialization.Encoding.PEM))

    def name(common_name):
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])

    def make_ca(common_name):
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (x509.CertificateBuilder().subject_name(name(common_name)).issuer_name(name(common_name))
                .public_key(key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(not_before).not_valid_after(not_after)
                .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
                .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                             data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                             crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
                .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
                .sign(key, hashes.SHA256()))
        return key, cert

    def make_leaf(ca_key, ca_cert, common_name, usages, sans=None):
        key = ec.generate_private_key(ec.SECP256R1())
        builder = (x509.CertificateBuilder().subject_name(name(common_name)).issuer_name(ca_cert.subject)
                   .public_key(key.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(not_before).not_valid_after(not_after)
                   .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                   .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=True,
                                                data_encipherment=False, key_agreement=False, key_cert_sign=False,
                                                crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
                   .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
                   .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False))
        if sans:
            builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
        return key, builder.sign(ca_key, hashes.SHA256())

    ca_key, ca_cert = make_ca("kubeha test etcd CA")
    write_key(files.ca_key, ca_key)
    write_cert(files.ca, ca_cert)
    sans = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
            x509.IPAddress(ipaddress.ip_address("::1"))]
    key, cert = make_leaf(ca_key, ca_cert, "etcd-server",
                          [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH], sans)
    write_key(files.server_key, key)
    write_cert(files.server_cert, cert)
    key, cert = make_leaf(ca_key, ca_cert, "etcd-client", [ExtendedKeyUsageOID.CLIENT_AUTH])
    write_key(files.client_key, key)
    write_cert(files.client_cert, cert)
    wrong_key, wrong_cert = make_ca("kubeha test WRONG CA")
    write_cert(files.wrong_ca, wrong_cert)
    key, cert = make_leaf(wrong_key, wrong_cert, "etcd-client-wrong", [ExtendedKeyUsageOID.CLIENT_AUTH])
    write_key(files.wrong_client_key, key)
    write_cert(files.wrong_client_cert, cert)
    return files


# ------------------------------------------------------------------------------------------ health
def probe_health(url: str, tls: TlsFiles | None, timeout: float = 1.0) -> tuple[bool, str]:
    """GET <url>/health; (True, '') when etcd answers health true, else (False, why)."""
    ctx = tls.ssl_context() if tls is not None and url.startswith("https:") else None
    try:
        with urllib.request.urlopen(url + "/health", timeout=timeout, context=ctx) as resp:  # noqa: S310
            body = resp.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        return False, "HTTP %s: %s" % (exc.code, exc.read().decode("utf-8", "replace")[:200])
    except (OSError, ValueError) as exc:
        return False, str(exc)
    try:
        healthy = str(json.loads(body).get("health")) == "true"
    except ValueError:
        return False, "unexpected /health body %r" % body[:200]
    return healthy, "" if healthy else body


def wait_until(predicate, timeout: float, what: str, interval: float = 0.05, diagnose=None):
    """Poll ``predicate()`` until it returns a truthy value or ``timeout`` seconds pass (then fail)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            detail = diagnose() if diagnose else ""
            raise TimeoutError("timed out after %.1fs waiting for %s%s" % (timeout, what, ("\n" + detail) if detail else ""))
        time.sleep(interval)


# ------------------------------------------------------------------------------------------ member
class Member:  # pylint: disable=too-many-instance-attributes
    """One etcd process: ``name``, ``client_url``, ``peer_url``, ``data_dir``, ``proc``.

    ``start()`` runs it (again) with the same data dir and ports; ``stop()`` ends it with SIGTERM
    (``kill=True``: SIGKILL) and waits for the process to exit.
    """

    def __init__(self, name: str, workdir: str, scheme: str, tls: TlsFiles | None, binary: str, extra_args=()):
        self.name = name
        self.scheme = scheme
        self.tls = tls
        self.binary = binary
        self.extra_args = list(extra_args)
        self.client_port = free_port()
        self.peer_port = free_port()
        self.client_url = "%s://127.0.0.1:%d" % (scheme, self.client_port)
        self.peer_url = "%s://127.0.0.1:%d" % (scheme, self.peer_port)
        self.data_dir = os.path.join(workdir, name + ".etcd")
        self.log_path = os.path.join(workdir, name + ".log")
        self.proc: subprocess.Popen | None = None
        self.bootstrap_args: list[str] = []

    def command(self) -> list[str]:
        cmd = [
            self.binary, "--name", self.name, "--data-dir", self.data_dir,
            "--listen-client-urls", self.client_url, "--advertise-client-urls", self.client_url,
            "--listen-peer-urls", self.peer_url, "--initial-advertise-peer-urls", self.peer_url,
            "--heartbeat-interval", "50", "--election-timeout", "500",
            "--logger", "zap", "--log-level", "warn",
        ]
        if self.tls is not None:
            t = self.tls
            cmd += ["--cert-file", t.server_cert, "--key-file", t.server_key, "--trusted-ca-file", t.ca,
                    "--client-cert-auth",
                    "--peer-cert-file", t.server_cert, "--peer-key-file", t.server_key,
                    "--peer-trusted-ca-file", t.ca, "--peer-client-cert-auth"]
        return cmd + self.bootstrap_args + self.extra_args

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self) -> Member:
        """Start the process (no wait; see :meth:`wait_healthy`). Keeps data dir, ports and flags."""
        if self.running:
            return self
        env = {k: v for k, v in os.environ.items() if not k.startswith("ETCD")}
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(  # pylint: disable=consider-using-with
                self.command(), stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                env=env, start_new_session=True, preexec_fn=_die_with_parent)  # pylint: disable=subprocess-popen-preexec-fn
        return self

    def stop(self, kill: bool = False, timeout: float = 10.0) -> None:
        """End the process group (SIGTERM, or SIGKILL with ``kill=True``) and wait for it."""
        if self.proc is None or self.proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL if kill else signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout)

    def restart(self, kill: bool = False, wait: bool = True) -> Member:
        self.stop(kill=kill)
        self.start()
        if wait:
            self.wait_healthy()
        return self

    def healthy(self) -> bool:
        return self.running and probe_health(self.client_url, self.tls)[0]

    def log_tail(self, lines: int = 20) -> str:
        try:
            with open(self.log_path, "rb") as handle:
                data = handle.read().decode("utf-8", "replace").splitlines()
        except OSError:
            return ""
        return "\n".join(data[-lines:])

    def diagnose(self) -> str:
        state = "running" if self.running else "exited rc=%s" % (self.proc.returncode if self.proc else None)
        ok, why = probe_health(self.client_url, self.tls)
        return "%s (%s, %s): %s\n%s" % (self.name, self.client_url, state, "healthy" if ok else why, self.log_tail())

    def wait_healthy(self, timeout: float = START_TIMEOUT) -> None:
        def check():
            if not self.running:
                raise RuntimeError("etcd member %s exited:\n%s" % (self.name, self.diagnose()))
            return probe_health(self.client_url, self.tls)[0]
        wait_until(check, timeout, "etcd member %s to be healthy" % self.name, diagnose=self.diagnose)

    def __repr__(self):
        return "<Member %s %s>" % (self.name, self.client_url)


# ----------------------------------------------------------------------------------------- cluster
class EtcdCluster:
    """A set of etcd members started together. ``endpoints``: the client URLs, in member order."""

    def __init__(self, workdir: str, tls: TlsFiles | None, binary: str):
        self.workdir = workdir
        self.tls = tls
        self.binary = binary
        self.scheme = "https" if tls is not None else "http"
        self.members: list[Member] = []

    # connection facts -------------------------------------------------------------------------
    @property
    def endpoints(self) -> list[str]:
        return [m.client_url for m in self.members]

    # TLS file paths straight on the cluster (None for a plain cluster), so a cluster can stand where
    # a TlsFiles is expected
    @property
    def ca(self) -> str | None:
        return self.tls.ca if self.tls else None

    @property
    def client_cert(self) -> str | None:
        return self.tls.client_cert if self.tls else None

    @property
    def client_key(self) -> str | None:
        return self.tls.client_key if self.tls else None

    @property
    def wrong_ca(self) -> str | None:
        return self.tls.wrong_ca if self.tls else None

    def member(self, name: str) -> Member:
        for m in self.members:
            if m.name == name:
                return m
        raise KeyError(name)

    def connection_args(self) -> dict:
        """Options for the kubeha etcd modules (the shared ``etcd`` doc fragment)."""
        args: dict = {"endpoints": self.endpoints}
        if self.tls is not None:
            args.update(ca_cert=self.tls.ca, client_cert=self.tls.client_cert, client_key=self.tls.client_key)
        return args

    def initial_cluster(self, members=None) -> str:
        return ",".join("%s=%s" % (m.name, m.peer_url) for m in (members or self.members))

    # life cycle -------------------------------------------------------------------------------
    def new_member(self, name: str, extra_args=()) -> Member:
        """A member object with fresh ports and data dir (not started, not added to the cluster)."""
        return Member(name, self.workdir, self.scheme, self.tls, self.binary, extra_args)

    def spawn_joining_member(self, name: str, peer_url_member: Member | None = None) -> Member:
        """Start ``name`` with ``--initial-cluster-state existing`` to join after a member add.

        ``peer_url_member``: a member object made by :meth:`new_member` (its ports were the ones
        given to ``member add``); default: a new one. The member joins :attr:`members`.
        """
        m = peer_url_member or self.new_member(name)
        m.bootstrap_args = ["--initial-cluster", self.initial_cluster(self.members + [m]),
                            "--initial-cluster-state", "existing"]
        self.members.append(m)
        return m.start()

    def wait_healthy(self, timeout: float = START_TIMEOUT, members=None) -> None:
        members = list(members or self.members)
        deadline = time.monotonic() + timeout
        for m in members:
            m.wait_healthy(max(0.1, deadline - time.monotonic()))

    def stop(self) -> None:
        for m in self.members:
            m.stop(kill=True)

    def diagnose(self) -> str:
        return "\n".join(m.diagnose() for m in self.members)


@contextlib.contextmanager
def start_cluster(size: int = 3, tls: TlsFiles | bool | None = None, binary: str | None = None,
                  extra_args=(), discovery: str | list | None = None, wait: bool = True, name_prefix: str = "etcd"):
    """Start ``size`` members concurrently; yield an :class:`EtcdCluster`; always kill them after.

    ``tls``: a :class:`TlsFiles`, or True to make new certificates in the cluster's directory.
    ``discovery``: bootstrap through ``--discovery URL`` (v2) instead of ``--initial-cluster``; a list
    is taken as the bootstrap flags themselves (v3 discovery: ``--discovery-token``, ...).
    ``extra_args``: more etcd flags for every member (e.g. ``["--enable-v2"]``).
    ``wait``: poll (bounded) until every member reports healthy.
    """
    workdir = _scratch_dir("kubeha-etcd-")
    own_pki = tls is True
    if own_pki:
        tls = make_tls_files(os.path.join(workdir, "pki"))
    cluster = EtcdCluster(workdir, tls or None, binary or etcd_binary())
    token = os.path.basename(workdir)
    try:
        cluster.members = [cluster.new_member("%s%d" % (name_prefix, i + 1), extra_args) for i in range(size)]
        for m in cluster.members:
            if isinstance(discovery, list):
                m.bootstrap_args = list(discovery)
            elif discovery:
                m.bootstrap_args = ["--discovery", discovery]
            else:
                m.bootstrap_args = ["--initial-cluster", cluster.initial_cluster(), "--initial-cluster-state", "new",
                                    "--initial-cluster-token", token]
        for m in cluster.members:
            m.start()
        if wait:
            cluster.wait_healthy()
        yield cluster
    finally:
        cluster.stop()
        shutil.rmtree(workdir, ignore_errors=True)


@contextlib.contextmanager
def start_discovery_service(binary: str | None = None):
    """One plain etcd 3.5 with the v2 API enabled (``--enable-v2``): a self-hosted v2 discovery service.

    Yields the :class:`EtcdCluster`; its ``endpoints[0]`` is the base URL to give to
    ``etcd_discovery`` as ``discovery_service``.
    """
    with start_cluster(1, tls=None, binary=binary or etcd35_binary(), extra_args=["--enable-v2"], name_prefix="discovery") as cluster:
        yield cluster


# -------------------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="session")
def etcd_pki(tmp_path_factory) -> TlsFiles:
    """Session-wide test PKI (CA, server/peer cert, client cert, wrong CA)."""
    return make_tls_files(str(tmp_path_factory.mktemp("etcd-pki")))


@pytest.fixture(scope="session")
def etcd_plain():
    """A session-wide healthy 3-member plain-HTTP cluster. Do not break it (use etcd_fresh)."""
    with start_cluster(3) as cluster:
        yield cluster


@pytest.fixture(scope="session")
def etcd_tls(etcd_pki):
    """A session-wide healthy 3-member TLS cluster with client-cert auth. Do not break it."""
    with start_cluster(3, tls=etcd_pki) as cluster:
        yield cluster


@pytest.fixture(params=["plain", "tls"])
def etcd_any(request):
    """The session cluster, once plain and once TLS (parametrised)."""
    return request.getfixturevalue("etcd_" + request.param)


@pytest.fixture(params=["plain", "tls"])
def etcd_fresh(request, etcd_pki):
    """A new 3-member cluster for one test (plain and TLS): stop, kill or reconfigure it freely."""
    with start_cluster(3, tls=etcd_pki if request.param == "tls" else None) as cluster:
        yield cluster


@pytest.fixture
def etcd_fresh_plain():
    """A new plain 3-member cluster for one test."""
    with start_cluster(3) as cluster:
        yield cluster


@pytest.fixture(scope="session")
def etcd_discovery_service():
    """A session-wide self-hosted discovery etcd (v2 API enabled), plain HTTP."""
    with start_discovery_service() as cluster:
        yield cluster


# ------------------------------------------------------------------------------- module runner
_REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
COLLECTIONS_ROOT = os.path.join(_REPO, ".cache", "collections")


def run_module(module: str, args: dict, check_mode: bool = False, diff: bool = False, timeout: float = 120) -> dict:
    """Run ``kubeha.cluster.<module>`` as Ansible does on a node: a Python process with the args file.

    Returns the module's JSON result plus ``rc`` and ``warning_texts`` (the warnings as plain strings);
    ``failed`` is set when the module failed.
    """
    import sys  # pylint: disable=import-outside-toplevel
    payload = {"ANSIBLE_MODULE_ARGS": dict(args, _ansible_check_mode=check_mode, _ansible_diff=diff)}
    fd, path = tempfile.mkstemp(prefix="kubeha-args-", suffix=".json")
    try:
        with os.fdopen(fd, "w") as handle:
            json.dump(payload, handle)
        env = dict(os.environ, PYTHONPATH=COLLECTIONS_ROOT)
        proc = subprocess.run(  # noqa: S603
            [sys.executable, "-m", "ansible_collections.kubeha.cluster.plugins.modules." + module, path],
            capture_output=True, text=True, env=env, timeout=timeout, check=False)
    finally:
        os.unlink(path)
    try:
        result = json.loads(proc.stdout)
    except ValueError:
        raise AssertionError("module %s printed no JSON (rc %d):\nstdout: %s\nstderr: %s"
                             % (module, proc.returncode, proc.stdout[-2000:], proc.stderr[-2000:])) from None
    result["rc"] = proc.returncode
    # ansible-core 2.19 returns warnings as structured summaries; give tests the plain texts too
    result["warning_texts"] = [w.get("event", {}).get("msg", "") if isinstance(w, dict) else str(w)
                               for w in result.get("warnings", [])]
    return result
