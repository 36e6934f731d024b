"""kube_secrets end to end, run the way Ansible runs it: check mode, real run, second run, output hygiene."""

from __future__ import annotations

import datetime
import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
COLLECTIONS = os.path.join(ROOT, ".cache", "collections")
MODULE = "ansible_collections.kubeha.cluster.plugins.modules.kube_secrets"
PASSWORD = "given-Password-4-ops"  # an explicit secret must be as invisible as generated ones


def _args(dest, **over):
    args = dict(
        dest=str(dest),
        masters=[dict(name="m1", ip="10.0.0.1"), dict(name="m2", ip="10.0.0.2")],
        etcd_members=[dict(name="m1", ip="10.0.0.1"), dict(name="e2", ip="10.0.0.12")],
        nodes=["m1", "m2", "w1"],
        basic_auth_users=[dict(name="admin", groups=["system:masters"]), dict(name="ops", password=PASSWORD)],
        tokens=[dict(name="admin", groups=["system:masters"]), dict(name="kubelet", groups=["system:nodes"])],
        bundles=[dict(host="m1", master=True, node=True, etcd_member="m1"), dict(host="e2", etcd_member="e2"), dict(host="w1", node=True)],
        key_type="ecdsa-p256",
    )
    args.update(over)
    return args


def run_module(tmp_path, args, check=False, diff=True):
    """(result, raw stdout+stderr) of one module process."""
    args = dict(args, _ansible_check_mode=check, _ansible_diff=diff)
    path = tmp_path / "args.json"
    path.write_text(json.dumps({"ANSIBLE_MODULE_ARGS": args}))
    env = dict(os.environ, PYTHONPATH=COLLECTIONS)
    proc = subprocess.run([sys.executable, "-m", MODULE, str(path)], capture_output=True, text=True, env=env, check=False)
    return json.loads(proc.stdout), proc.stdout + proc.stderr


def _secrets(dest):
    """Every secret value under dest: key bodies, passwords, tokens."""
    found = [PASSWORD]
    for root, _dirs, files in os.walk(dest):
        for name in files:
            path = os.path.join(root, name)
            if name.endswith(".key"):
                body = open(path).read().splitlines()[1:-1]
                found += [line for line in body if len(line) > 20]
            elif name.endswith(".csv"):
                found += [line.split(",")[0] for line in open(path).read().splitlines()]
    return found


def _assert_clean(text, secrets):
    assert len(secrets) > 20  # key bodies, passwords and tokens were found, so the check below means something
    assert "PRIVATE KEY" not in text
    leaked = [s for s in secrets if s in text]
    assert not leaked, "%d secret value(s) in the output" % len(leaked)


def test_check_real_second_run(tmp_path):
    dest = tmp_path / "secrets"
    check, check_out = run_module(tmp_path, _args(dest), check=True)
    assert check["changed"] and not dest.exists()
    assert check["files"]["kubernetes/apiserver.crt"] == {"action": "created", "reasons": ["missing"]}
    assert check["diff"]["after"]["kubernetes/apiserver.crt"]["dns_names"][:2] == ["m1", "m2"]
    real, real_out = run_module(tmp_path, _args(dest))
    assert real["changed"] and "failed" not in real
    assert {k: v["action"] for k, v in real["files"].items()} == {k: v["action"] for k, v in check["files"].items()}
    assert sorted(os.listdir(dest / "bundles")) == ["e2.tar", "m1.tar", "w1.tar"]
    second, second_out = run_module(tmp_path, _args(dest))
    assert not second["changed"] and "diff" not in second
    assert set(v["action"] for v in second["files"].values()) == {"unchanged"}
    check2, check2_out = run_module(tmp_path, _args(dest), check=True)
    assert not check2["changed"]
    for text in (check_out, real_out, second_out, check2_out):
        _assert_clean(text, _secrets(dest))


def test_diff_shows_subjects_sans_expiry_never_keys(tmp_path):
    dest = tmp_path / "secrets"
    run_module(tmp_path, _args(dest))
    result, out = run_module(tmp_path, _args(dest, lb_addresses=["10.0.0.100"], lb_dns_names=["k8s.example.com"]))
    changed = {k: v for k, v in result["files"].items() if v["action"] != "unchanged"}
    assert set(changed) == {"kubernetes/apiserver.crt", "bundles/m1.tar"}
    before, after = result["diff"]["before"]["kubernetes/apiserver.crt"], result["diff"]["after"]["kubernetes/apiserver.crt"]
    assert before["subject"] == after["subject"] == "CN=kube-apiserver"
    assert "10.0.0.100" in after["ip_addresses"] and "10.0.0.100" not in before["ip_addresses"]
    assert "k8s.example.com" in after["dns_names"] and after["not_after"] >= before["not_after"]
    assert after["issuer"] == before["issuer"] == "CN=kubernetes-ca"
    _assert_clean(out, _secrets(dest))


def test_bad_input_changes_nothing(tmp_path):
    dest = tmp_path / "secrets"
    result, _out = run_module(tmp_path, _args(dest, lb_addresses=["not-an-ip"], service_cidr="10.96.0.0/33"))
    assert result["failed"] and not dest.exists()
    assert "nothing was changed" in result["msg"] and "lb_addresses: 'not-an-ip' is not an IP address" in result["msg"]
    run_module(tmp_path, _args(dest))
    (dest / "ca" / "kubernetes.key").write_text("damaged")
    result, _out = run_module(tmp_path, _args(dest, lb_addresses=["10.0.0.100"]))
    assert result["failed"] and "kubernetes CA" in result["msg"] and "regenerate_ca" in result["msg"]
    assert b"10.0.0.100" not in (dest / "bundles" / "m1.tar").read_bytes()


@pytest.mark.slow
def test_through_ansible_nothing_secret_in_output_diff_or_log(tmp_path):
    """ansible-playbook -vvv --diff with a log file: the playbook output and the log hold no secret."""
    dest = tmp_path / "secrets"
    playbook = tmp_path / "play.yml"
    task = dict(_args(dest), key_type="rsa2048")
    playbook.write_text(json.dumps([{
        "hosts": "localhost", "gather_facts": False,
        "tasks": [
            {"name": "check", "kubeha.cluster.kube_secrets": task, "check_mode": True},
            {"name": "real", "kubeha.cluster.kube_secrets": task},
            {"name": "again", "kubeha.cluster.kube_secrets": task, "register": "again"},
            {"name": "again is unchanged", "ansible.builtin.assert": {"that": ["not again.changed"]}},
        ]}]))
    log = tmp_path / "ansible.log"
    env = dict(os.environ, ANSIBLE_LOG_PATH=str(log), ANSIBLE_NOCOLOR="1", ANSIBLE_STDOUT_CALLBACK="default")
    proc = subprocess.run(["ansible-playbook", "-i", "localhost,", "-c", "local", "--diff", "-vvv",
                           "-e", "ansible_python_interpreter=" + sys.executable, str(playbook)],
                          capture_output=True, text=True, env=env, check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    assert "changed=2" in out and "failed=0" in out  # "check" (reported, not made) and "real"; "again" changed nothing
    assert "CN=kube-apiserver" in out  # the diff is there...
    _assert_clean(out, _secrets(dest))  # ...and nothing secret is
    _assert_clean(log.read_text(), _secrets(dest))


def test_renew_by_is_when_the_first_certificate_enters_its_renewal_window(tmp_path):
    dest = tmp_path / "secrets"
    check, _out = run_module(tmp_path, _args(dest), check=True)
    assert check["renew_by"] is None, "no certificate on disk yet"
    real, _out = run_module(tmp_path, _args(dest, cert_valid_days=365, renew_before=30))
    ends = []
    for rel in real["files"]:
        if rel.endswith(".crt"):
            proc = subprocess.run(["openssl", "x509", "-noout", "-enddate", "-in", str(dest / rel)], capture_output=True, text=True, check=True)
            ends.append(datetime.datetime.strptime(proc.stdout.strip().split("=", 1)[1], "%b %d %H:%M:%S %Y %Z"))
    expected = min(ends) - datetime.timedelta(days=30)
    assert real["renew_by"] == expected.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert datetime.timedelta(days=334) < expected - datetime.datetime.utcnow() < datetime.timedelta(days=336)
