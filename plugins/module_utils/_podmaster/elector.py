# Copyright (c) kubeha developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The lease lock: which master runs a component, decided on etcd.

One process holds one etcd v3 lease and any number of keys (one per component):

* Acquire: a transaction that creates the key only if it does not exist (``create_revision == 0``),
  bound to the lease, value = this podmaster's identity. A key is ours only when its ``lease`` is our
  lease ID: the same identity running on two hosts never makes both holders.
* Renew: lease keep-alive every ``renew_interval``; the key is re-read after each renewal.
* Deadline: ``send time of the last successful grant/keep-alive + granted TTL - margin``, on the
  boot-time clock (monotonic, and counts suspend). etcd cannot expire the lease before ``send time +
  TTL``, so stepping down at the deadline always happens while the lease still stands. A guard thread
  enforces the deadline even while the main loop waits for etcd, and every etcd call checks it first:
  a process frozen past its deadline (SIGSTOP, a stalled VM) deactivates before it does anything else
  when it wakes, and only becomes active again after a fresh lease and a fresh acquire.
* Errors: exponential back-off from ``poll_interval`` up to ``max_backoff``, never a tight loop.
* Stop: deactivate everything, then revoke the lease so its keys vanish and a peer takes over at once.

Everything that changes state happens under one lock and is logged with the key, holder and reason.
"""

from __future__ import annotations

import logging
import random
import threading
import time

from .._etcd.client import EtcdError
from .activator import ActivationError

LOG = logging.getLogger("podmaster")


def boottime():
    """Seconds on CLOCK_BOOTTIME (monotonic and counting suspend), else CLOCK_MONOTONIC."""
    clock = getattr(time, "CLOCK_BOOTTIME", None)
    if clock is not None:
        try:
            return time.clock_gettime(clock)
        except OSError:
            pass
    return time.monotonic()


class Settings:
    """Timing of the lock. Defaults: TTL 6 s, renew every 2 s, step down 2 s before the lease could expire.

    Why these: a holder that dies without revoking its lease (power loss, SIGKILL) is replaced when its
    lease expires, between ``ttl - renew_interval`` and ``ttl`` seconds after its last renewal, plus
    one ``poll_interval``: 4.5-6.5 s here, which keeps the takeover p95 under 8 s. A larger TTL rides
    out longer etcd outages without a handover but makes that takeover slower (TTL 15: ~10-16 s).
    """

    FIELDS = ("ttl", "renew_interval", "margin", "poll_interval", "timeout", "max_backoff")

    def __init__(self, ttl=6, renew_interval=None, margin=None, poll_interval=0.5, timeout=1.0, max_backoff=None):
        self.ttl = int(ttl)
        self.renew_interval = float(renew_interval) if renew_interval else self.ttl / 3.0
        self.margin = float(margin) if margin else self.ttl / 3.0
        self.poll_interval = float(poll_interval)
        self.timeout = float(timeout)
        self.max_backoff = float(max_backoff) if max_backoff else self.renew_interval
        self.check()

    def check(self):
        """Raise ValueError naming the setting when the values cannot keep the lock safe."""
        if self.ttl < 2:
            raise ValueError("ttl must be at least 2 seconds, got %r" % self.ttl)
        for name in self.FIELDS[1:]:
            if getattr(self, name) <= 0:
                raise ValueError("%s must be a positive number of seconds, got %r" % (name, getattr(self, name)))
        if self.margin >= self.ttl:
            raise ValueError("margin (%gs) must be smaller than ttl (%ds)" % (self.margin, self.ttl))
        if self.renew_interval + self.timeout >= self.ttl - self.margin:
            raise ValueError("renew_interval (%gs) + timeout (%gs) must be below ttl - margin (%gs): otherwise a holder "
                             "steps down before its first renewal can complete; lower them or raise ttl"
                             % (self.renew_interval, self.timeout, self.ttl - self.margin))

    def as_dict(self):
        return {name: getattr(self, name) for name in self.FIELDS}

    def __repr__(self):
        return "Settings(%s)" % ", ".join("%s=%g" % item for item in self.as_dict().items())


class Component:  # pylint: disable=too-many-instance-attributes
    """One elected component: its key, its activator and what this podmaster knows about it."""

    def __init__(self, name, key, activator):
        self.name = name
        self.key = key
        self.activator = activator
        self.held = False          # the key is bound to our current lease (as last seen)
        self.active = False        # we activated it and have not deactivated it since
        self.holder = ""           # value of the key as last seen ("" when absent or unknown)
        self.holder_lease = 0
        self.mod_revision = 0
        self.since = time.time()
        self.reason = "not started"
        self.next_check = 0.0
        self.cooldown_until = 0.0
        self.release = False       # activation failed: give the key back so a peer can run it
        self.must_deactivate = False  # a deactivation failed: retry it every tick
        self.next_reconcile = 0.0     # when a standby next checks that nothing runs here

    def status(self):
        return {"key": self.key, "mode": self.activator.mode, "target": self.activator.describe(),
                "held": self.held, "active": self.active, "holder": self.holder,
                "holder_lease": "%x" % self.holder_lease if self.holder_lease else "",
                "since": self.since, "reason": self.reason}


class _Stopping(Exception):
    pass


class _SteppedDown(Exception):
    """The deadline passed during this step: end it; the next one starts from a fresh lease."""


class Elector:  # pylint: disable=too-many-instance-attributes
    """Runs the lock for ``components`` against ``client`` (an ``_etcd`` :class:`EtcdClient`)."""

    def __init__(self, client, identity, components, settings=None, clock=boottime, on_change=None):
        self.client = client
        self.identity = identity
        self.components = list(components)
        self.settings = settings or Settings()
        self.clock = clock
        self.on_change = on_change
        self.lease_id = 0
        self.lease_ttl = 0
        self.deadline = None
        self.next_renew = 0.0
        self.next_attempt = 0.0
        self.errors = 0
        self.last_error = ""
        self.stale_leases = []
        self.stopping = False
        self.stop_reason = ""
        self.generation = 0        # bumped on every state change, for the status writer
        self._lock = threading.RLock()
        self._main_wake = threading.Event()
        self._guard_wake = threading.Event()
        self._guard = None
        self._finished = False

    # ------------------------------------------------------------------------------ transitions
    def _changed(self):
        self.generation += 1

    def _set_active(self, comp, active, reason):
        before = "active" if comp.active else "standby"
        after = "active" if active else "standby"
        comp.active = active
        comp.reason = reason
        comp.since = time.time()
        self._changed()
        holder = self.identity if comp.held or active else (comp.holder or "none")
        LOG.info("%s: %s -> %s (key %s, holder %s, lease %x): %s", comp.name, before, after, comp.key, holder,
                 self.lease_id, reason)

    def _deactivate(self, comp, reason):
        """Under the lock: stop ``comp`` here and forget that we hold it."""
        comp.held = False
        try:
            change = comp.activator.deactivate()
        except ActivationError as exc:
            comp.must_deactivate = True
            LOG.error("%s: cannot deactivate (key %s): %s; retrying every %gs", comp.name, comp.key, exc,
                      self.settings.poll_interval)
            change = None
        else:
            comp.must_deactivate = False
        if comp.active or change:
            self._set_active(comp, False, reason + ("; " + change if change else ""))
        else:
            comp.reason = reason

    def _drop_lease(self, reason):
        """Under the lock: step down everywhere and stop using the current lease."""
        for comp in self.components:
            if comp.held or comp.active:
                self._deactivate(comp, reason)
        if self.lease_id:
            LOG.warning("lease %x given up: %s", self.lease_id, reason)
            self.stale_leases.append(self.lease_id)
        self.lease_id = 0
        self.deadline = None
        self._changed()

    def enforce_deadline(self):
        """Step down if the deadline passed (any thread; takes the lock). Returns True if it did."""
        with self._lock:
            if self.lease_id and self.deadline is not None:
                late = self.clock() - self.deadline
                if late >= 0:
                    self._drop_lease("no successful renewal for %.1fs (deadline = last renewal + TTL %ds - margin %gs "
                                     "passed %.1fs ago): stepping down before the lease can expire on etcd"
                                     % (self.lease_ttl - self.settings.margin + late, self.lease_ttl,
                                        self.settings.margin, late))
                    return True
        return False

    # ------------------------------------------------------------------------------- etcd calls
    def _call(self, func, *args, **kwargs):
        """Every etcd request goes through here: deadline and stop are checked before sending."""
        if self.enforce_deadline():
            raise _SteppedDown()
        if self.stopping:
            raise _Stopping()
        LOG.debug("etcd request: %s %s", func.__name__, " ".join(str(a) for a in args))
        return func(*args, **kwargs)

    def _grant(self):
        sent = self.clock()
        lease_id, ttl = self._call(self.client.lease_grant, self.settings.ttl)
        if not lease_id or ttl <= 0:
            raise EtcdError("lease grant answered lease %r with TTL %r" % (lease_id, ttl))
        with self._lock:
            self.lease_id = lease_id
            self.lease_ttl = ttl
            self.deadline = sent + ttl - self.settings.margin
            self.next_renew = sent + self.settings.renew_interval
            self._changed()
        LOG.info("lease %x granted (TTL %ds), identity %s", lease_id, ttl, self.identity)

    def _renew(self):
        lease_id = self.lease_id
        sent = self.clock()
        ttl = self._call(self.client.lease_keepalive, lease_id)
        with self._lock:
            if self.lease_id != lease_id:
                return  # given up while the request was out: a late answer changes nothing
            if ttl <= 0:
                self._drop_lease("lease %x no longer exists on etcd (keep-alive found none)" % lease_id)
                self.stale_leases.remove(lease_id)
                return
            self.lease_ttl = ttl
            self.deadline = max(self.deadline, sent + ttl - self.settings.margin)
            self.next_renew = sent + self.settings.renew_interval
            for comp in self.components:
                if comp.held:
                    comp.next_check = 0.0  # re-read our keys after each renewal

    def _check(self, comp):
        """Read the key; create it bound to our lease if it is absent; update who holds it."""
        lease_id = self.lease_id
        if not lease_id:
            return
        kv = self._call(self.client.get_one, comp.key)
        how = "key found bound to our lease"
        if kv is None:
            _ok, kv = self._call(self.client.put_if, comp.key, self.identity, create_only=True, lease=lease_id)
            how = "created the key bound to our lease"
        with self._lock:
            if self.lease_id != lease_id:
                return
            now = self.clock()
            comp.holder = kv.value if kv is not None else ""
            comp.holder_lease = kv.lease if kv is not None else 0
            if kv is not None and kv.lease == lease_id:
                if not comp.held:
                    comp.held = True
                    comp.mod_revision = kv.mod_revision
                    comp.reason = "acquired: %s" % how
                    self._changed()
                    LOG.info("%s: acquired key %s (holder %s, lease %x): %s", comp.name, comp.key, self.identity,
                             lease_id, how)
                comp.next_check = now + self.settings.renew_interval
            else:
                if comp.held or comp.active:
                    self._deactivate(comp, "key %s is now %s" % (
                        comp.key, "held by %s (lease %x)" % (kv.value, kv.lease) if kv is not None else "gone"))
                comp.next_check = now + self.settings.poll_interval

    def _release(self, comp):
        """Give back a key we hold but cannot serve (its activation failed)."""
        ok, _kv = self._call(self.client.delete_if, comp.key, prev_revision=comp.mod_revision)
        comp.release = False
        LOG.warning("%s: key %s %s; not competing for %ds", comp.name, comp.key,
                    "released" if ok else "had already changed", self.settings.ttl)

    def _revoke_stale(self):
        while self.stale_leases:
            lease_id = self.stale_leases[0]
            found = self._call(self.client.lease_revoke, lease_id)
            self.stale_leases.pop(0)
            if found:
                LOG.info("revoked given-up lease %x: its keys are free now", lease_id)

    # ------------------------------------------------------------------------------- activation
    def _sync_activation(self):
        """Under the lock: activate (or refresh) what we hold while the deadline is ahead."""
        with self._lock:
            now = self.clock()
            valid = bool(self.lease_id) and self.deadline is not None and now < self.deadline and not self.stopping
            for comp in self.components:
                if comp.must_deactivate and not comp.held:
                    self._deactivate(comp, comp.reason)
                if not (comp.held and valid):
                    self._reconcile_standby(comp, now)
                    continue
                try:
                    change = comp.activator.activate()
                except ActivationError as exc:
                    LOG.error("%s: cannot activate %s: %s; giving the key back to a peer", comp.name,
                              comp.activator.describe(), exc)
                    comp.release = True
                    comp.cooldown_until = now + self.settings.ttl
                    self._deactivate(comp, "activation failed: %s" % exc)
                    continue
                if not comp.active:
                    self._set_active(comp, True, "holding key %s with lease %x valid for %.1fs more%s"
                                     % (comp.key, self.lease_id, self.deadline - now, "; " + change if change else ""))
                elif change:
                    comp.reason = change
                    self._changed()
                    LOG.info("%s: %s (key %s, holder %s)", comp.name, change, comp.key, self.identity)

    def _reconcile_standby(self, comp, now):
        """Under the lock: a component we do not hold must not run here, whoever started it."""
        if now < comp.next_reconcile:
            return
        comp.next_reconcile = now + self.settings.renew_interval
        try:
            running = comp.activator.is_active()
        except ActivationError as exc:
            LOG.warning("%s: cannot tell whether it runs here: %s", comp.name, exc)
            return
        if running:
            LOG.warning("%s: found running here without holding key %s (started outside podmaster?): stopping it",
                        comp.name, comp.key)
            comp.active = True  # so the transition below is logged as one
            self._deactivate(comp, "running here without holding key %s" % comp.key)

    # -------------------------------------------------------------------------------- main loop
    def step(self):
        """One round: lease, keys, activation. Never raises for etcd or activation errors."""
        self.enforce_deadline()
        now = self.clock()
        if not self.stopping and now >= self.next_attempt:
            try:
                for comp in self.components:
                    if comp.release:
                        self._release(comp)
                self._revoke_stale()
                if not self.lease_id:
                    self._grant()
                elif now >= self.next_renew:
                    self._renew()
                for comp in self.components:
                    now = self.clock()
                    if now >= comp.next_check and now >= comp.cooldown_until:
                        self._check(comp)
            except _Stopping:
                return
            except _SteppedDown:
                pass
            except EtcdError as exc:
                self.errors += 1
                delay = min(self.settings.max_backoff, self.settings.poll_interval * 2 ** min(self.errors - 1, 10))
                delay *= random.uniform(0.8, 1.2)  # nosec B311 (jitter, not security)
                self.next_attempt = self.clock() + delay
                self.last_error = str(exc)
                self._changed()
                LOG.warning("etcd error #%d (%s); next attempt in %.2fs", self.errors, exc, delay)
            else:
                if self.errors:
                    LOG.info("etcd reachable again after %d error(s)", self.errors)
                    self.errors = 0
                    self.last_error = ""
                    self._changed()
        self._sync_activation()

    def next_delay(self):
        """Seconds to wait before the next step: at most one poll interval, less when a deadline comes first."""
        now = self.clock()
        times = [now + self.settings.poll_interval, self.next_attempt]
        if self.lease_id:
            times.append(self.next_renew)
        times.extend(comp.next_check for comp in self.components)
        upcoming = [t for t in times if t > now]
        return max(0.01, min(upcoming) - now) if upcoming else 0.01

    def _guard_loop(self):
        """Enforce the deadline and a stop request while the main loop may be waiting on etcd."""
        while True:
            with self._lock:
                if self._finished:
                    return
                if self.stopping:
                    for comp in self.components:
                        if comp.held or comp.active:
                            self._deactivate(comp, "stopping (%s)" % self.stop_reason)
                else:
                    self.enforce_deadline()
                wait = self.settings.poll_interval
                if self.deadline is not None:
                    wait = min(wait, self.deadline - self.clock())
            if self.stopping:
                self._main_wake.set()
            self._guard_wake.wait(max(0.005, wait))
            self._guard_wake.clear()

    def start(self):
        """Deactivate whatever a previous run left active, then start the guard thread."""
        with self._lock:
            for comp in self.components:
                self._deactivate(comp, "starting: no lease held yet")
        self._guard = threading.Thread(target=self._guard_loop, name="podmaster-guard", daemon=True)
        self._guard.start()

    def request_stop(self, reason):
        """Ask the daemon to stop; safe from a signal handler (no lock taken in the calling thread)."""
        self.stop_reason = reason
        self.stopping = True
        self._guard_wake.set()

    def run(self, after_step=None):
        """Loop until :meth:`request_stop`; then deactivate, revoke the lease and return."""
        self.start()
        try:
            while not self.stopping:
                self.step()
                if after_step is not None:
                    after_step()
                if self.stopping:
                    break
                self._main_wake.wait(self.next_delay())
                self._main_wake.clear()
        finally:
            self.shutdown()
            if after_step is not None:
                after_step()

    def shutdown(self):
        """Deactivate everything, then revoke our lease so peers take over at once."""
        self.stopping = True
        with self._lock:
            for comp in self.components:
                if comp.held or comp.active or comp.must_deactivate:
                    self._deactivate(comp, "stopping (%s)" % (self.stop_reason or "shutdown"))
            lease_id, self.lease_id, self.deadline = self.lease_id, 0, None
            self._finished = True
            self._changed()
        self._guard_wake.set()
        for stale in [lease_id] + self.stale_leases:
            if not stale:
                continue
            try:
                self.client.lease_revoke(stale)
                LOG.info("revoked lease %x: peers can take over now", stale)
            except EtcdError as exc:
                LOG.warning("could not revoke lease %x (%s): peers take over when it expires, within %ds",
                            stale, exc, self.settings.ttl)
        self.stale_leases = []

    # ---------------------------------------------------------------------------------- status
    def status(self):
        with self._lock:
            now = self.clock()
            return {
                "identity": self.identity,
                "lease": "%x" % self.lease_id if self.lease_id else "",
                "lease_ttl": self.lease_ttl,
                "deadline_in": round(self.deadline - now, 3) if self.deadline is not None else None,
                "etcd_errors": self.errors,
                "last_error": self.last_error,
                "stopping": self.stopping,
                "settings": self.settings.as_dict(),
                "components": {comp.name: comp.status() for comp in self.components},
            }
