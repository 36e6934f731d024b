"""The daemon's configuration: bad input is refused with the setting named, before anything runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from ansible_collections.kubeha.cluster.plugins.module_utils._podmaster.daemon import ConfigError, load_config
from ansible_collections.kubeha.cluster.plugins.module_utils._podmaster.elector import Settings


def write(tmp_path, **conf):
    base = {"endpoints": ["http://127.0.0.1:2379"],
            "components": [{"name": "kube-scheduler", "source": "/srv/kubernetes/kube-scheduler.yaml",
                            "dest": "/etc/kubernetes/manifests/kube-scheduler.yaml"}]}
    base.update(conf)
    path = tmp_path / "podmaster.json"
    path.write_text(json.dumps(base))
    return str(path)


def test_defaults(tmp_path):
    client, identity, comps, settings, status, local, releaser, heartbeat = load_config(write(tmp_path))
    assert releaser is None
    assert local == ""
    assert identity == os.uname().nodename
    assert [c.key for c in comps] == ["/kubeha/podmaster/kube-scheduler"]
    assert settings.as_dict() == {"ttl": 4, "renew_interval": 1.0, "margin": 2.0, "poll_interval": 0.25, "timeout": 0.75,
                                  "max_backoff": 1.0, "watchdog": 0.0, "stop_timeout": 0.5}
    assert client.timeout == 0.75
    assert status == "/run/kubeha/podmaster.json"
    assert heartbeat == "/run/kubeha/podmaster-deadline.json"


def test_program_needs_the_hosts_pid_namespace(tmp_path, monkeypatch):
    lease = {"namespace": "kube-system", "name": "kube-scheduler", "client_cert": "/s.crt", "client_key": "/s.key"}
    conf = {"components": [{"name": "kube-scheduler", "source": "/a", "dest": "/b", "program": "kube-scheduler", "lease": lease}],
            "apiserver": {"url": "https://127.0.0.1:6443"}}
    comps = load_config(write(tmp_path, **conf))[2]
    assert comps[0].activator.program == "kube-scheduler" and comps[0].activator.stop_timeout == 0.5
    assert comps[0].lease == lease  # behind the fence, a static pod's Lease is released as a unit's is
    monkeypatch.setattr(os, "getpid", lambda: 1)
    with pytest.raises(ConfigError, match=r"components\[0\] \(kube-scheduler\): program kube-scheduler is set, but this "
                       r"podmaster is PID 1 .* run its pod with hostPID: true"):
        load_config(write(tmp_path, **conf))


@pytest.mark.parametrize("conf, message", [
    ({"components": []}, "lists no components"),
    ({"components": [{"name": "x", "mode": "pod"}]}, r"components\[0\] \(x\): mode must be static_pod or host"),
    ({"components": [{"name": "x", "source": "/a"}]}, "mode static_pod needs dest"),
    ({"components": [{"name": "x", "mode": "host"}]}, "mode host needs unit"),
    ({"components": [{"name": "x", "source": "/a", "dest": "/a"}]}, "source and dest are the same file"),
    ({"components": [{"name": "a", "key": "/k", "mode": "host", "unit": "a"},
                     {"name": "b", "key": "/k", "mode": "host", "unit": "b"}]}, "two components share a key"),
    ({"ttl": 1}, "ttl must be at least 2"),
    ({"ttl": 6, "renew_interval": 3.5}, r"renew_interval \(3.5s\) \+ timeout \(0.75s\) must be below ttl - margin"),
    ({"watchdog": 1.5}, r"watchdog \(1.5s\) \+ stop_timeout \(0.5s\) must be below margin \(2s\)"),
    ({"stop_timeout": 1}, r"stop_timeout \(1s\) must be below half the margin \(2s\)"),
    ({"watchdog": -1}, "watchdog must be 0 .none. or a positive number"),
    ({"endpoints": []}, "no etcd endpoints"),
    ({"local_endpoint": "https://10.9.9.9:2379"}, r"local_endpoint https://10.9.9.9:2379 is not one of the endpoints"),
    ({"local_endpoint": "10.9.9.9:2379"}, r"local_endpoint: .*not an http:// or https:// URL"),
    ({"endpoints": ["127.0.0.1:2379"]}, "not an http:// or https:// URL"),
    ({"endpoints": ["https://127.0.0.1:2379"], "ca_cert": "/nonexistent/ca.crt"}, "cannot load ca_cert /nonexistent/ca.crt"),
])
def test_bad_config_is_refused_naming_the_setting(tmp_path, conf, message):
    with pytest.raises(ConfigError, match=message):
        load_config(write(tmp_path, **conf))


def test_settings_derive_from_ttl():
    s = Settings(ttl=16)
    assert (s.renew_interval, s.margin, s.max_backoff, s.stop_timeout) == (4.0, 8.0, 4.0, 2.0)


def test_entry_point_checks_and_exits_2_on_bad_config(tmp_path, podmaster_lib):
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    cmd = [sys.executable, podmaster_lib, "--config"]
    ok = subprocess.run(cmd + [write(tmp_path), "--check"], env=env, capture_output=True, text=True, check=False)
    assert ok.returncode == 0, ok.stderr
    assert "is valid" in ok.stdout and "kube-scheduler=/kubeha/podmaster/kube-scheduler" in ok.stdout
    bad = subprocess.run(cmd + [write(tmp_path, ttl=1)], env=env, capture_output=True, text=True, check=False)
    assert bad.returncode == 2
    assert "ttl must be at least 2" in bad.stderr
