"""_daemon.converged: the record of a finished run, and every kind of drift that calls for a full run."""

from __future__ import annotations

import datetime
import json
import os

import pytest

from ansible_collections.kubeha.cluster.plugins.module_utils._daemon import converged
from ansible_collections.kubeha.cluster.plugins.module_utils._daemon.engine import run_daemon

DIGEST = "d" * 64


@pytest.fixture
def host(tmp_path, systemd):
    """A converged demo daemon: its files and unit laid out by run_daemon, its report recorded."""
    systemd.add("demo.service")
    healthy = tmp_path / "healthy"
    healthy.write_text("")
    conf, gone, data = str(tmp_path / "etc" / "demo.conf"), str(tmp_path / "old.conf"), str(tmp_path / "data")
    params = dict(state_dir=str(tmp_path / "state"), health_timeout=1,
                  files=[dict(path=data, state="directory", mode="0700"),
                         dict(path=conf, content="a=1\n", mode="0640", restarts=["demo"]),
                         dict(path=gone, state="absent")],
                  units=[dict(name="demo", enabled=True, health=dict(command=["test", "-e", str(healthy)]), health_timeout=1)])
    result = run_daemon(params)
    stamp = str(tmp_path / "kubeha" / "converged.json")
    changed, before = converged.write(stamp, converged.record(DIGEST, result["managed"], "2099-01-01T00:00:00Z"), False)
    assert (changed, before) == (True, None)

    class Host:
        pass
    out = Host()
    out.__dict__.update(stamp=stamp, conf=conf, gone=gone, data=data, healthy=str(healthy), state_dir=params["state_dir"],
                        managed=result["managed"], systemd=systemd)
    return out


def test_the_daemon_reports_what_it_keeps(host):
    files = host.managed["files"]
    assert files[host.conf]["sha256"] and files[host.conf]["mode"] == "0640" and files[host.conf]["owner"] == "root"
    assert files[host.data] == dict(state="directory", mode="0700", owner="root", group="root")
    assert files[host.gone] == dict(state="absent")
    assert host.managed["units"]["demo.service"]["enabled"] is True
    assert host.managed["state_dirs"] == [host.state_dir]


def test_a_host_as_recorded_is_converged_and_its_health_was_asked(host):
    result = converged.check(host.stamp, DIGEST)
    assert result["converged"] is True, result["drift"]
    assert result["drift"] == [] and result["health"] == {"demo": ""}
    assert oct(os.stat(host.stamp).st_mode & 0o777) == "0o600"


def test_writing_the_same_record_again_changes_nothing(host):
    with open(host.stamp) as handle:
        written = json.load(handle)["written"]
    changed, before = converged.write(host.stamp, converged.record(DIGEST, host.managed, "2099-01-01T00:00:00Z"), False)
    assert changed is False and before["written"] == written


def test_check_mode_reports_a_new_record_without_writing_it(host):
    with open(host.stamp) as handle:
        old = handle.read()
    changed, _before = converged.write(host.stamp, converged.record("e" * 64, host.managed), True)
    assert changed is True
    with open(host.stamp) as handle:
        assert handle.read() == old


def _drift(host, digest=DIGEST, now=None):
    result = converged.check(host.stamp, digest, now=now)
    assert result["converged"] is False
    return result["drift"]


def test_no_record(tmp_path):
    result = converged.check(str(tmp_path / "none.json"), DIGEST)
    assert result["converged"] is False and "no record of a finished site.yml run" in result["drift"][0]


def test_other_inputs(host):
    assert _drift(host, digest="e" * 64) == [
        "the run's inputs differ from the recorded run's (inventory variables, the collection or the controller's secrets)"]


def test_certificates_due_for_renewal(host):
    later = datetime.datetime(2099, 1, 2, tzinfo=datetime.timezone.utc)
    assert _drift(host, now=later) == ["certificates are due for renewal since 2099-01-01T00:00:00Z"]


@pytest.mark.parametrize("change, expected", [
    (lambda h: open(h.conf, "a").write("b=2\n"), "{conf}: content differs from the recorded sha256"),
    (lambda h: os.chmod(h.conf, 0o644), "{conf}: mode is 0644, 0640 recorded"),
    (lambda h: os.unlink(h.conf), "{conf}: missing"),
    (lambda h: os.chmod(h.data, 0o755), "{data}: mode is 0755, 0700 recorded"),
    (lambda h: open(h.gone, "w").close(), "{gone}: exists, absent recorded"),
])
def test_files_that_moved(host, change, expected):
    change(host)
    assert _drift(host) == [expected.format(**host.__dict__)]


def test_a_stopped_or_disabled_unit(host):
    host.systemd.add("demo.service", active=False, enabled=True)
    assert _drift(host) == ["demo.service: inactive, started recorded"]
    host.systemd.add("demo.service", active=True, enabled=False)
    assert _drift(host) == ["demo.service: not enabled (disabled)"]


def test_a_pending_restart(host):
    with open(os.path.join(host.state_dir, "demo.service.pending.json"), "w") as handle:
        json.dump({}, handle)
    assert _drift(host) == ["demo.service: restart pending (%s)" % host.state_dir]


def test_a_failing_health_check(host):
    os.unlink(host.healthy)
    drift = _drift(host)
    assert len(drift) == 1 and drift[0].startswith("demo: not healthy (command test -e %s answered 'rc 1" % host.healthy)


def test_after_a_failing_health_check_the_others_are_not_waited_for(host):
    with open(host.stamp) as handle:
        stamp = json.load(handle)
    stamp["units"]["other.service"] = dict(stamp["units"]["demo.service"], name="other")
    with open(host.stamp, "w") as handle:
        json.dump(stamp, handle)
    host.systemd.add("other.service", active=True, enabled=True)
    os.unlink(host.healthy)
    result = converged.check(host.stamp, DIGEST)
    assert len(result["health"]) == 1, "a second failing check was waited for: %s %s" % (result["health"], result["drift"])
    first = next(iter(result["health"]))
    assert result["drift"][0].startswith("%s: not healthy" % first)
    assert result["drift"][1] == "not asked after that: %s" % ({"demo", "other"} - {first}).pop()


def test_health_is_not_asked_when_something_else_already_calls_for_a_run(host):
    os.unlink(host.healthy)
    result = converged.check(host.stamp, "e" * 64)
    assert result["health"] == {} and len(result["drift"]) == 1


def test_a_static_pod_whose_manifest_is_not_its_staged_copy(tmp_path):
    manifest, source = tmp_path / "manifests" / "pod.yaml", tmp_path / "staged.yaml"
    manifest.parent.mkdir()
    manifest.write_text("one")
    source.write_text("one")
    managed = dict(units={"pod-pod": dict(name="pod", kind="static_pod", state="started", manifest=str(manifest), source=str(source))})
    stamp = str(tmp_path / "converged.json")
    converged.write(stamp, converged.record(DIGEST, managed), False)
    assert converged.check(stamp, DIGEST)["converged"] is True
    source.write_text("two")
    assert converged.check(stamp, DIGEST)["drift"] == ["static pod pod: manifest %s differs from its staged copy %s" % (manifest, source)]


def test_a_bad_renewal_time_is_refused_naming_it():
    with pytest.raises(converged.DaemonError, match="renew_by is 'soon'; give an ISO 8601 time"):
        converged.record(DIGEST, {}, "soon")


def test_what_cannot_be_compared_is_drift_not_a_failure(host):
    with open(host.stamp) as handle:
        stamp = json.load(handle)
    stamp["renew_by"] = "garbage"
    with open(host.stamp, "w") as handle:
        json.dump(stamp, handle)
    drift = _drift(host)
    assert drift == ["the record %s cannot be compared with the host: the record's renew_by is 'garbage'; give an ISO 8601 time "
                     "such as 2027-03-01T00:00:00Z" % host.stamp]


def test_a_unit_that_is_not_settled_is_drift(host):
    """A crash loop shows as activating (auto-restart) between its restarts: it must not pass the fast path."""
    host.systemd.add("demo.service", active=True, enabled=True)
    state = host.systemd._load()  # pylint: disable=protected-access
    state["units"]["demo.service"]["active"] = "activating"
    host.systemd._save(state)  # pylint: disable=protected-access
    (problem,) = _drift(host)
    assert problem.startswith("demo.service: activating") and problem.endswith(", started recorded")


def test_a_units_input_kept_by_another_task_is_recorded_and_its_change_is_drift(tmp_path, systemd):
    """A release's binary unpacked by get_url/unarchive, a certificate from the secrets role: the daemon call does not
    write them, but a changed one must call for a full run (issue 14 item 6)."""
    systemd.add("demo.service")
    binary = tmp_path / "opt" / "demo"
    binary.parent.mkdir()
    binary.write_bytes(b"release one")
    params = dict(state_dir=str(tmp_path / "state"), files=[],
                  units=[dict(name="demo", enabled=True, inputs=[str(binary)])])
    managed = run_daemon(params)["managed"]
    assert managed["files"] == {str(binary): dict(state="file", sha256=converged.sha256_file(str(binary)))}
    stamp = str(tmp_path / "converged.json")
    converged.write(stamp, converged.record(DIGEST, managed), False)
    assert converged.check(stamp, DIGEST)["converged"] is True
    binary.write_bytes(b"replaced by hand")
    assert converged.check(stamp, DIGEST)["drift"] == ["%s: content differs from the recorded sha256" % binary]
