"""Elector decisions with a scripted etcd and a manual clock: the orderings real processes rarely hit."""

from __future__ import annotations

import threading

import pytest

from ansible_collections.kubeha.cluster.plugins.module_utils._etcd.client import EtcdError, KeyValue
from ansible_collections.kubeha.cluster.plugins.module_utils._podmaster.activator import ActivationError
from ansible_collections.kubeha.cluster.plugins.module_utils._podmaster.elector import Component, Elector, Settings

KEY = "/kubeha/podmaster/kube-scheduler"


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


class Recorder:
    """Activator that logs into the shared event list."""

    mode = "static_pod"

    def __init__(self, events):
        self.events = events
        self.on = False

    def describe(self):
        return "recorder"

    def is_active(self):
        return self.on

    def activate(self):
        if self.on:
            return None
        self.on = True
        self.events.append("activate")
        return "activated"

    def deactivate(self):
        self.events.append("deactivate")
        was, self.on = self.on, False
        return "deactivated" if was else None


class FakeEtcd:
    """One key, leases by ID; ``during`` hooks run inside a call (to move the clock while 'on the wire')."""

    def __init__(self, events, clock):
        self.events = events
        self.clock = clock
        self.kv = None
        self.leases = {}
        self.next_id = 0x10
        self.during = {}
        self.fail = set()

    def _hit(self, name):
        self.events.append("etcd:" + name)
        hook = self.during.pop(name, None)
        if hook:
            hook()
        if name in self.fail:
            raise EtcdError("%s: connection refused" % name)

    def lease_grant(self, ttl):
        self._hit("lease_grant")
        self.next_id += 1
        self.leases[self.next_id] = ttl
        return self.next_id, ttl

    def lease_keepalive(self, lease_id):
        self._hit("lease_keepalive")
        return self.leases.get(lease_id, 0)

    def lease_revoke(self, lease_id):
        self._hit("lease_revoke")
        if self.kv is not None and self.kv.lease == lease_id:
            self.kv = None
        return self.leases.pop(lease_id, None) is not None

    def get_one(self, key):
        self._hit("get_one")
        return self.kv

    def put_if(self, key, value, create_only=False, lease=0):
        self._hit("put_if")
        if self.kv is None:
            self.kv = KeyValue(key, value, 5, 5, 1, lease)
            return True, self.kv
        return False, self.kv

    def delete_if(self, key, prev_revision=None):
        self._hit("delete_if")
        self.kv = None
        return True, None


@pytest.fixture
def world():
    events = []
    clock = Clock()
    etcd = FakeEtcd(events, clock)
    act = Recorder(events)
    # TTL 6, renew 2, margin 2: the arithmetic of the tests below
    settings = Settings(ttl=6, renew_interval=2, margin=2, poll_interval=0.5, timeout=1)
    elector = Elector(etcd, "m1", [Component("kube-scheduler", KEY, act)], settings, clock=clock)
    return elector, etcd, act, clock, events


def test_acquires_then_activates(world):
    elector, etcd, act, _clock, events = world
    elector.step()
    assert events == ["etcd:lease_grant", "etcd:get_one", "etcd:put_if", "activate"]
    assert act.on and etcd.kv.value == "m1"


def test_same_identity_other_lease_is_not_ours(world):
    elector, etcd, act, _clock, _events = world
    etcd.kv = KeyValue(KEY, "m1", 3, 3, 1, 0x999)  # written by a twin with our name
    elector.step()
    assert not act.on
    assert elector.components[0].holder == "m1" and not elector.components[0].held


def test_a_late_keepalive_answer_never_extends_past_the_deadline(world):
    elector, etcd, act, clock, events = world
    elector.step()
    clock.now += 2.0                    # renewal due; the process freezes while the request is out
    etcd.during["lease_keepalive"] = lambda: setattr(clock, "now", clock.now + 30)
    del events[:]
    elector.step()
    # the answer came (TTL 6 from a request sent 30 s ago): it extends nothing; deactivate, end the step
    assert events == ["etcd:lease_keepalive", "deactivate"]
    assert not act.on
    etcd.leases.clear()                  # meanwhile etcd expired the lease and a peer took the key
    etcd.kv = KeyValue(KEY, "m2", 9, 9, 1, 0x777)
    elector.step()
    assert events[2:] == ["etcd:lease_revoke", "etcd:lease_grant", "etcd:get_one"]
    assert not act.on


def test_wakes_past_deadline_and_deactivates_before_any_request(world):
    elector, etcd, act, clock, events = world
    elector.step()
    clock.now += 20                      # SIGSTOP ... SIGCONT; meanwhile etcd expired the lease, m2 took the key
    etcd.leases.clear()
    etcd.kv = KeyValue(KEY, "m2", 9, 9, 1, 0x777)
    del events[:]
    elector.step()
    assert events == ["deactivate", "etcd:lease_revoke", "etcd:lease_grant", "etcd:get_one"]
    assert act.on is False
    assert elector.components[0].holder == "m2"


def test_guard_steps_down_while_the_main_loop_is_blocked(world):
    elector, _etcd, act, clock, events = world
    elector.step()
    clock.now += 3.9
    assert not elector.enforce_deadline() and act.on
    clock.now += 0.1                     # deadline = grant sent + TTL 6 - margin 2
    assert elector.enforce_deadline()    # what the guard thread calls, whatever the main loop does
    assert not act.on and events[-1] == "deactivate"


def test_errors_back_off_exponentially(world):
    elector, etcd, _act, clock, events = world
    etcd.fail.add("lease_grant")
    delays = []
    for _attempt in range(5):
        elector.step()
        delays.append(elector.next_attempt - clock.now)
        clock.now = elector.next_attempt
    assert events.count("etcd:lease_grant") == 5
    assert 0.4 <= delays[0] <= 0.6
    assert all(b >= a * 1.3 for a, b in zip(delays[:2], delays[1:3]))
    assert all(d <= 2.0 * 1.2 for d in delays)


def test_lost_key_deactivates(world):
    elector, etcd, act, clock, events = world
    elector.step()
    etcd.kv = KeyValue(KEY, "m2", 9, 9, 1, 0x777)  # someone deleted ours and m2 took it
    clock.now += 2.0
    elector.step()
    assert not act.on and events[-1] == "deactivate"
    assert "m2" in elector.components[0].reason


def test_shutdown_deactivates_then_revokes(world):
    elector, etcd, act, _clock, events = world
    elector.step()
    del events[:]
    elector.shutdown()
    assert events == ["deactivate", "etcd:lease_revoke"]
    assert etcd.kv is None and not act.on


def test_standby_stops_what_runs_without_the_key(world):
    elector, etcd, act, clock, events = world
    etcd.kv = KeyValue(KEY, "m2", 9, 9, 1, 0x777)
    elector.step()
    act.on = True                       # started outside podmaster
    clock.now += 2.0
    elector.step()
    assert not act.on and events[-1] == "deactivate"
    assert "without holding key" in elector.components[0].reason


class Probe(Recorder):
    """Recorder that runs ``hook`` inside activate/deactivate (a slow or failing systemctl)."""

    def __init__(self, events, on_activate=None, on_deactivate=None):
        super().__init__(events)
        self.on_activate = on_activate
        self.on_deactivate = on_deactivate

    def activate(self):
        if self.on_activate:
            self.on_activate()
        return super().activate()

    def deactivate(self):
        if self.on_deactivate:
            self.on_deactivate()
        return super().deactivate()


def _lock_free(elector):
    """Can another thread take the elector's lock right now?"""
    got = []

    def take():
        if elector._lock.acquire(timeout=0.5):  # pylint: disable=protected-access
            got.append(True)
            elector._lock.release()  # pylint: disable=protected-access
    thread = threading.Thread(target=take)
    thread.start()
    thread.join()
    return bool(got)


def make(events, clock, *activators, **settings):
    etcd = FakeEtcd(events, clock)
    comps = [Component("c%d" % i, KEY if i == 0 else KEY + str(i), act) for i, act in enumerate(activators)]
    conf = {"ttl": 6, "renew_interval": 2, "margin": 2, "poll_interval": 0.5, "timeout": 1}
    conf.update(settings)
    return Elector(etcd, "m1", comps, Settings(**conf), clock=clock), etcd


def test_no_activator_call_runs_under_the_elector_lock():
    events, clock, seen = [], Clock(), []
    holder = {}
    act = Probe(events, on_activate=lambda: seen.append(_lock_free(holder["e"])),
                on_deactivate=lambda: seen.append(_lock_free(holder["e"])))
    elector, _etcd = make(events, clock, act)
    holder["e"] = elector
    elector.step()                       # activates
    clock.now += 10                      # deadline passed: the step-down stops it
    elector.enforce_deadline()
    assert "activate" in events and "deactivate" in events
    assert seen and all(seen), "an activator call ran while the elector lock was held: %r" % seen


def test_a_slow_activation_that_ends_past_the_deadline_is_stopped_again():
    events, clock = [], Clock()
    # systemctl start took 10 s (a daemon-reload in the way): the lease may be gone by the time it returns
    act = Probe(events, on_activate=lambda: setattr(clock, "now", clock.now + 10))
    elector, _etcd = make(events, clock, act)
    elector.step()
    assert events[-2:] == ["activate", "deactivate"]
    assert not act.on and not elector.components[0].active
    assert "lost while activating" in elector.components[0].reason


def test_activation_is_skipped_when_the_deadline_passed_before_it():
    events, clock = [], Clock()
    elector, etcd = make(events, clock, Recorder(events))
    etcd.during["put_if"] = lambda: setattr(clock, "now", clock.now + 4.5)   # the acquire answered late
    elector.step()
    assert "activate" not in events


def test_a_failed_stop_is_reported_and_keeps_the_lease_at_shutdown():
    events, clock = [], Clock()

    def refuse():
        raise ActivationError("systemctl stop c0.service failed (exit 1): Access denied")
    act = Probe(events, on_deactivate=refuse)
    elector, etcd = make(events, clock, act)
    act.on_deactivate = None
    elector.step()
    assert act.on
    act.on_deactivate = refuse
    del events[:]
    elector.shutdown()
    status = elector.status()
    assert status["stop_failed"] == ["c0"]
    assert "Access denied" in status["components"]["c0"]["stop_failed"]
    assert "etcd:lease_revoke" not in events, "revoked the lease while its component still runs"
    assert elector.exit_code == 1
    assert etcd.leases, "the lease must be left to expire"


def test_components_stop_in_parallel():
    events, clock = [], Clock()
    barrier = threading.Barrier(2, timeout=2)
    # each stop waits until the other one has begun: sequential stops would break the barrier
    acts = [Probe(events, on_deactivate=barrier.wait), Probe(events, on_deactivate=barrier.wait)]
    elector, _etcd = make(events, clock, *acts)
    for act, comp in zip(acts, elector.components):
        act.on = comp.active = True
    elector.shutdown()
    assert not barrier.broken and events.count("deactivate") == 2
    assert elector.exit_code == 0


def test_settings_refuse_a_watchdog_fence_slower_than_the_margin():
    with pytest.raises(ValueError, match=r"watchdog \(2s\) \+ stop_timeout \(0.5s\) must be below margin \(2s\)"):
        Settings(ttl=4, renew_interval=1, margin=2, timeout=0.75, watchdog=2, stop_timeout=0.5)
    assert Settings(ttl=4, renew_interval=1, margin=2, timeout=0.75, watchdog=1, stop_timeout=0.5).watchdog == 1


def test_deadline_is_published_for_the_fence_before_anything_runs_under_it(world):
    elector, _etcd, act, clock, events = world
    elector.on_deadline = lambda deadline: events.append("deadline %s" % deadline)
    elector.step()
    # granted at 100 with TTL 6 and margin 2: the fence may act from 104 on; published at once, before the key reads
    # (which may be slow) and before anything is activated under it
    assert events == ["etcd:lease_grant", "deadline 104.0", "etcd:get_one", "etcd:put_if", "activate"]
    del events[:]
    clock.now += 2.0
    elector.step()
    assert events == ["etcd:lease_keepalive", "deadline 106.0", "etcd:get_one"]
    del events[:]
    elector.step()  # nothing moved: nothing written
    assert "deadline" not in " ".join(events)
    assert act.on


def test_a_deadline_that_cannot_be_published_is_tried_again(world):
    elector, _etcd, _act, _clock, events = world
    attempts = []

    def publish(deadline):
        attempts.append(deadline)
        if len(attempts) == 1:
            raise OSError("No space left on device")
    elector.on_deadline = publish
    elector.step()
    elector.step()
    assert attempts == [104.0, 104.0]
