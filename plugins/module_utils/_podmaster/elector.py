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

Every state change happens under one lock and is logged with the key, holder and reason. No
subprocess runs under that lock: activations and stops run outside it, one at a time per component
(its ``op_lock``), stops of several components in parallel, and each activation re-checks the
deadline right before and right after it runs.
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


class Settings:  # pylint: disable=too-many-instance-attributes
    """Timing of the lock. Defaults: TTL 4 s, renew every 1 s, step down 2 s before the lease could expire.

    Why these: a holder that dies without revoking its lease (power loss, SIGKILL) is replaced when its
    lease expires, between ``ttl - renew_interval`` and ``ttl`` seconds after its last renewal, plus
    one ``poll_interval``: 3-4.25 s here. The components then start and take their own Lease, which
    keeps the Lease takeover p95 under 8 s. A larger TTL rides out longer etcd outages without a
    handover but makes that takeover slower.

    The fence: a holder that cannot renew stops its components at its deadline (``margin`` seconds
    before etcd can expire its lease), each stop bounded by ``stop_timeout`` (then SIGKILL). A holder
    that is frozen (SIGSTOP, a stalled VM) cannot stop anything itself: systemd's watchdog
    (``watchdog`` seconds without a ping, then SIGKILL) kills it, and the units bound to it stop
    within ``stop_timeout``. So ``watchdog + stop_timeout`` must stay below ``margin``: then a frozen
    holder's components are gone before its lease can expire and a peer can start them.
    """

    FIELDS = ("ttl", "renew_interval", "margin", "poll_interval", "timeout", "max_backoff", "watchdog",
              "stop_timeout")

    def __init__(self, ttl=4, renew_interval=None, margin=None, poll_interval=0.25, timeout=0.75, max_backoff=None,
                 watchdog=0, stop_timeout=None):
        self.ttl = int(ttl)
        self.renew_interval = float(renew_interval) if renew_interval else self.ttl / 4.0
        self.margin = float(margin) if margin else self.ttl / 2.0
        self.poll_interval = float(poll_interval)
        self.timeout = float(timeout)
        self.max_backoff = float(max_backoff) if max_backoff else self.renew_interval
        self.watchdog = float(watchdog or 0)
        self.stop_timeout = float(stop_timeout) if stop_timeout else self.margin / 4.0
        self.check()

    def check(self):
        """Raise ValueError naming the setting when the values cannot keep the lock safe."""
        for problem in self.problems():
            raise ValueError(problem)

    def problems(self):
        """Every reason these values cannot keep the lock safe (empty when they can)."""
        out = []
        if self.ttl < 2:
            out.append("ttl must be at least 2 seconds, got %r" % self.ttl)
        for name in ("renew_interval", "margin", "poll_interval", "timeout", "max_backoff", "stop_timeout"):
            if getattr(self, name) <= 0:
                out.append("%s must be a positive number of seconds, got %r" % (name, getattr(self, name)))
        if self.watchdog < 0:
            out.append("watchdog must be 0 (none) or a positive number of seconds, got %r" % self.watchdog)
        if out:
            return out
        if self.margin >= self.ttl:
            out.append("margin (%gs) must be smaller than ttl (%ds)" % (self.margin, self.ttl))
        if self.renew_interval + self.timeout >= self.ttl - self.margin:
            out.append("renew_interval (%gs) + timeout (%gs) must be below ttl - margin (%gs): otherwise a holder "
                       "steps down before its first renewal can complete; lower them or raise ttl"
                       % (self.renew_interval, self.timeout, self.ttl - self.margin))
        if 2 * self.stop_timeout >= self.margin:
            out.append("stop_timeout (%gs) must be below half the margin (%gs): a holder that steps down at its "
                       "deadline stops its components (stop_timeout, then SIGKILL and a check, as long again) before "
                       "its lease can expire; lower stop_timeout or raise margin" % (self.stop_timeout, self.margin))
        if self.watchdog and self.watchdog + self.stop_timeout >= self.margin:
            out.append("watchdog (%gs) + stop_timeout (%gs) must be below margin (%gs): a frozen holder is killed by "
                       "systemd's watchdog and its components stop after that, all before its lease can expire on "
                       "etcd; lower watchdog or stop_timeout, or raise margin (and ttl)"
                       % (self.watchdog, self.stop_timeout, self.margin))
        return out

    def as_dict(self):
        return {name: getattr(self, name) for name in self.FIELDS}

    def __repr__(self):
        return "Settings(%s)" % ", ".join("%s=%g" % item for item in self.as_dict().items())


class Component:  # pylint: disable=too-many-instance-attributes
    """One elected component: its key, its activator and what this podmaster knows about it."""

    def __init__(self, name, key, activator, lease=None):
        self.name = name
        self.key = key
        self.activator = activator
        self.lease = lease or None  # the component's own Kubernetes Lease: {namespace, name, client_cert, client_key}
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
        self.stop_failed = ""         # why the last stop failed ("" when it did not)
        self.op_lock = threading.RLock()  # one activator call at a time (main thread and guard)
        self.next_reconcile = 0.0     # when a standby next checks that nothing runs here

    def status(self):
        return {"key": self.key, "mode": self.activator.mode, "target": self.activator.describe(),
                "held": self.held, "active": self.active, "holder": self.holder,
                "holder_lease": "%x" % self.holder_lease if self.holder_lease else "",
                "since": self.since, "reason": self.reason, "stop_failed": self.stop_failed}


class _Stopping(Exception):
    pass


class _SteppedDown(Exception):
    """The deadline passed during this step: end it; the next one starts from a fresh lease."""


class Elector:  # pylint: disable=too-many-instance-attributes
    """Runs the lock for ``components`` against ``client`` (an ``_etcd`` :class:`EtcdClient`)."""

    def __init__(self, client, identity, components, settings=None, clock=boottime, on_change=None,
                 leader_avoider=None, lease_releaser=None, on_deadline=None):  # pylint: disable=too-many-arguments,too-many-positional-arguments
        self.client = client
        self.on_deadline = on_deadline  # told every new deadline (or None) before anything is activated under it
        self._published = None
        self.lease_releaser = lease_releaser  # releases a dead holder's Kubernetes Lease before a copy starts
        self.leader_avoider = leader_avoider  # keeps etcd's leader off this master while it holds a key
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
        self.last_step = None      # clock() when the main loop last began a step
        self.exit_code = 0         # 1 when a component could not be stopped at shutdown
        self._lock = threading.RLock()
        self._drops = 0            # step-downs whose stops are still running: no etcd request until done
        self._drops_done = threading.Condition(self._lock)
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
        """Not under the lock: stop ``comp`` here and forget that we hold it. True when it is stopped."""
        with self._lock:
            comp.held = False
        with comp.op_lock:
            try:
                change, error = comp.activator.deactivate(), ""
            except ActivationError as exc:
                change, error = None, str(exc)
        with self._lock:
            if error:
                comp.must_deactivate = True
                if comp.stop_failed != error:
                    comp.stop_failed = error
                    comp.reason = "%s; stop failed: %s" % (reason, error)
                    self._changed()
                LOG.error("%s: cannot stop it here (key %s): %s; retrying every %gs", comp.name, comp.key, error,
                          self.settings.poll_interval)
                return False
            failed_before, comp.stop_failed, comp.must_deactivate = comp.stop_failed, "", False
            if comp.active or change or failed_before:
                self._set_active(comp, False, reason + ("; " + change if change else ""))
            else:
                comp.reason = reason
            return True

    def _deactivate_all(self, comps, reason):
        """Stop ``comps`` in parallel (not under the lock). True when every one is stopped."""
        comps = list(comps)
        if len(comps) <= 1:
            return all(self._deactivate(comp, reason) for comp in comps)
        results = {}

        def stop(comp):
            results[comp.name] = self._deactivate(comp, reason)
        threads = [threading.Thread(target=stop, args=(comp,), name="podmaster-stop-" + comp.name, daemon=True)
                   for comp in comps]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return all(results.get(comp.name) for comp in comps)

    def _to_stop(self):
        """Under the lock: the components that run here or may."""
        return [comp for comp in self.components if comp.held or comp.active or comp.must_deactivate]

    def _drop_lease(self, reason):
        """Under the lock: stop using the current lease; returns the components the caller must stop."""
        comps = self._to_stop()
        for comp in self.components:
            comp.held = False
        if self.lease_id:
            LOG.warning("lease %x given up: %s", self.lease_id, reason)
            self.stale_leases.append(self.lease_id)
        self.lease_id = 0
        self.deadline = None
        self._drops += 1
        self._changed()
        return comps

    def _stop_dropped(self, comps, reason):
        """Not under the lock: stop what a step-down left running, then let etcd requests go again."""
        try:
            self._deactivate_all(comps, reason)
        finally:
            with self._lock:
                self._drops -= 1
                self._drops_done.notify_all()

    def enforce_deadline(self):
        """Step down if the deadline passed (any thread). Returns True if it did."""
        with self._lock:
            if not (self.lease_id and self.deadline is not None):
                return False
            late = self.clock() - self.deadline
            if late < 0:
                return False
            reason = ("no successful renewal for %.1fs (deadline = last renewal + TTL %ds - margin %gs passed %.1fs "
                      "ago): stepping down before the lease can expire on etcd"
                      % (self.lease_ttl - self.settings.margin + late, self.lease_ttl, self.settings.margin, late))
            comps = self._drop_lease(reason)
        self._stop_dropped(comps, reason)
        return True

    # ------------------------------------------------------------------------------- etcd calls
    def _call(self, func, *args, **kwargs):
        """Every etcd request goes through here: deadline and stop are checked before sending."""
        if self.enforce_deadline():
            raise _SteppedDown()
        with self._lock:
            while self._drops and not self.stopping:  # a step-down's stops come before any request
                self._drops_done.wait(0.05)
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
        reason = "lease %x no longer exists on etcd (keep-alive found none)" % lease_id
        with self._lock:
            if self.lease_id != lease_id:
                return  # given up while the request was out: a late answer changes nothing
            if ttl <= 0:
                comps = self._drop_lease(reason)
                self.stale_leases.remove(lease_id)
            else:
                comps = None
                self.lease_ttl = ttl
                self.deadline = max(self.deadline, sent + ttl - self.settings.margin)
                self.next_renew = sent + self.settings.renew_interval
                for comp in self.components:
                    if comp.held:
                        comp.next_check = 0.0  # re-read our keys after each renewal
        if comps is not None:
            self._stop_dropped(comps, reason)

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
        lost = None
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
                    comp.held = False
                    lost = "key %s is now %s" % (
                        comp.key, "held by %s (lease %x)" % (kv.value, kv.lease) if kv is not None else "gone")
                comp.next_check = now + self.settings.poll_interval
        if lost:
            self._deactivate(comp, lost)

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
    def _lease_valid(self, comp, lease_id=None):
        """Under the lock: may ``comp`` run here now (held under a lease whose deadline is ahead)?"""
        return (comp.held and bool(self.lease_id) and (lease_id is None or self.lease_id == lease_id)
                and self.deadline is not None and self.clock() < self.deadline and not self.stopping)

    def _sync_activation(self):
        """Activate (or refresh) what we hold while the deadline is ahead; stop what we do not hold."""
        for comp in self.components:
            with self._lock:
                retry_stop = comp.must_deactivate and not comp.held
                wanted = self._lease_valid(comp)
            if retry_stop:
                self._deactivate(comp, comp.reason)
            if not wanted:
                self._reconcile_standby(comp)
                continue
            self._activate(comp)

    def _activate(self, comp):
        """Not under the lock: activate ``comp``, with the deadline checked right before and right after."""
        with comp.op_lock:
            with self._lock:
                lease_id = self.lease_id
                if not self._lease_valid(comp, lease_id):
                    return
            error = ""
            if not comp.active and comp.lease and self.lease_releaser is not None:
                LOG.info("%s: %s", comp.name, self.lease_releaser.release(
                    comp.lease.get("namespace") or "kube-system", comp.lease.get("name") or comp.name,
                    comp.lease.get("client_cert"), comp.lease.get("client_key")))
            try:
                change = comp.activator.activate()
            except ActivationError as exc:
                change, error = None, str(exc)
        if error:
            LOG.error("%s: cannot activate %s: %s; giving the key back to a peer", comp.name,
                      comp.activator.describe(), error)
            with self._lock:
                comp.release = True
                comp.cooldown_until = self.clock() + self.settings.ttl
            self._deactivate(comp, "activation failed: %s" % error)
            return
        with self._lock:
            still = self._lease_valid(comp, lease_id)
            now = self.clock()
            if still and not comp.active:
                self._set_active(comp, True, "holding key %s with lease %x valid for %.1fs more%s"
                                 % (comp.key, self.lease_id, self.deadline - now, "; " + change if change else ""))
            elif still and change:
                comp.reason = change
                self._changed()
                LOG.info("%s: %s (key %s, holder %s)", comp.name, change, comp.key, self.identity)
            elif not still:
                comp.active = comp.active or bool(change)
        if not still:
            self._deactivate(comp, "the lease or its deadline was lost while activating (%s): stopping it again"
                             % (change or "no change"))

    def _reconcile_standby(self, comp):
        """A component we do not hold must not run here, whoever started it."""
        with self._lock:
            now = self.clock()
            if now < comp.next_reconcile:
                return
            comp.next_reconcile = now + self.settings.renew_interval
        with comp.op_lock:
            try:
                running = comp.activator.is_active()
            except ActivationError as exc:
                LOG.warning("%s: cannot tell whether it runs here: %s", comp.name, exc)
                return
        if running:
            LOG.warning("%s: found running here without holding key %s (started outside podmaster?): stopping it",
                        comp.name, comp.key)
            with self._lock:
                if comp.held:
                    return  # acquired meanwhile: it may run
                comp.active = True  # so the transition below is logged as one
            self._deactivate(comp, "running here without holding key %s" % comp.key)

    # -------------------------------------------------------------------------------- main loop
    def step(self):
        """One round: lease, keys, activation. Never raises for etcd or activation errors."""
        self.last_step = self.clock()
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
                # at once: the key reads and etcd leadership moves below may take longer than a renew interval
                self._publish_deadline()
                for comp in self.components:
                    now = self.clock()
                    if now >= comp.next_check and now >= comp.cooldown_until:
                        self._check(comp)
                self._avoid_etcd_leader()
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
        self._publish_deadline()
        self._sync_activation()

    def _publish_deadline(self):
        """Tell ``on_deadline`` (the fence's heartbeat) a changed deadline, right after the grant or renewal that moved it
        and before anything runs under it."""
        with self._lock:
            deadline = self.deadline
            if self.on_deadline is None or deadline == self._published:
                return
        try:
            self.on_deadline(deadline)
        except Exception as exc:  # pylint: disable=broad-exception-caught
            LOG.warning("cannot publish the deadline for the fence (retrying every step): %s", exc)
            return
        self._published = deadline

    def _avoid_etcd_leader(self):
        """While holding a key, hand etcd's leadership away from this master (see etcdleader)."""
        if self.leader_avoider is None or not any(comp.held for comp in self.components):
            return
        holders = {comp.holder for comp in self.components if comp.holder} | {self.identity}
        try:
            self.leader_avoider.check(self.clock(), holders, call=self._call)
        except EtcdError as exc:
            LOG.warning("could not check or move etcd's leadership (%s); trying again later", exc)

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
                stopping = self.stopping
                comps = self._to_stop() if stopping else []
            if stopping:
                self._deactivate_all(comps, "stopping (%s)" % self.stop_reason)
                self._main_wake.set()
            else:
                self.enforce_deadline()
            with self._lock:
                wait = self.settings.poll_interval
                if self.deadline is not None:
                    wait = min(wait, self.deadline - self.clock())
            self._guard_wake.wait(max(0.005, wait))
            self._guard_wake.clear()

    def start(self):
        """Deactivate whatever a previous run left active, then start the guard thread."""
        self._deactivate_all(self.components, "starting: no lease held yet")
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
        """Stop everything here, then revoke our lease so peers take over at once.

        If a component cannot be stopped, the lease is not revoked (a peer would start its copy while
        ours still runs): it expires at its TTL, and :attr:`exit_code` becomes 1.
        """
        self.stopping = True
        reason = "stopping (%s)" % (self.stop_reason or "shutdown")
        with self._lock:
            comps = self._to_stop()
        stopped = self._deactivate_all(comps, reason)
        with self._lock:
            lease_id, self.lease_id, self.deadline = self.lease_id, 0, None
            self._finished = True
            self._changed()
        self._guard_wake.set()
        if not stopped:
            self.exit_code = 1
            LOG.error("not revoking lease %x: %s could not be stopped here (%s); peers take over when it expires",
                      lease_id, ", ".join(c.name for c in comps if c.stop_failed),
                      "; ".join(c.stop_failed for c in comps if c.stop_failed))
            return
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
                "stop_failed": sorted(comp.name for comp in self.components if comp.stop_failed),
                "settings": self.settings.as_dict(),
                "components": {comp.name: comp.status() for comp in self.components},
            }
