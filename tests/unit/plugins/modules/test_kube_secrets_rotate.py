"""kube_secrets' CA rotation with dual trust (rotate_ca): trust, sign, finish, each checked, run and run again."""

from __future__ import annotations

import tarfile

from cryptography import x509

from .test_kube_secrets import _args, run_module

KUBE_LEAVES = ["kubernetes/apiserver.crt", "kubernetes/admin.crt", "kubernetes/kube-proxy.crt", "kubelet/w1.crt"]
ETCD_LEAVES = ["etcd/m1/peer.crt", "kubernetes/apiserver-etcd-client.crt"]


def certs(path):
    return x509.load_pem_x509_certificates(path.read_bytes())


def host_file(dest, host, member):
    """A file's bytes in a host's bundle."""
    with tarfile.open(str(dest / "bundles" / ("%s.tar" % host))) as tar:
        return tar.extractfile(member).read()


def changed(result):
    return {k: v["action"] for k, v in result["files"].items() if v["action"] != "unchanged"}


def signed_by(dest, rel, ca_rel):
    leaf, ca = certs(dest / rel)[0], certs(dest / ca_rel)[0]
    try:
        leaf.verify_directly_issued_by(ca)
    except Exception:  # pylint: disable=broad-except
        return False
    return True


def test_a_rotation_trusts_the_next_ca_first_then_signs_with_it_then_drops_the_old_one(tmp_path):
    dest = tmp_path / "secrets"
    run_module(tmp_path, _args(dest))
    old = (dest / "ca/kubernetes.crt").read_bytes()
    assert (dest / "ca/kubernetes-trust.crt").read_bytes() == old, "the trust of a cluster that rotates nothing is its CA"
    assert host_file(dest, "w1", "srv/kubernetes/ca.crt") == old

    # trust: the next CA, trusted beside the current one on every host; nothing reissued
    trust = dict(rotate_ca={"kubernetes": "trust"})
    check, _out = run_module(tmp_path, _args(dest, **trust), check=True)
    assert changed(check) == {"ca/kubernetes-next.key": "created", "ca/kubernetes-next.crt": "created",
                              "ca/kubernetes-trust.crt": "updated", "bundles/m1.tar": "updated", "bundles/w1.tar": "updated"}
    assert not (dest / "ca/kubernetes-next.crt").exists()
    done, _out = run_module(tmp_path, _args(dest, **trust))
    assert changed(done) == changed(check)
    nxt = (dest / "ca/kubernetes-next.crt").read_bytes()
    assert (dest / "ca/kubernetes-trust.crt").read_bytes() == old + nxt
    assert host_file(dest, "m1", "srv/kubernetes/ca.crt") == old + nxt
    assert host_file(dest, "e2", "etc/etcd/pki/ca.crt") == (dest / "ca/etcd.crt").read_bytes(), "the etcd CA moved"
    assert certs(dest / "ca/kubernetes-next.crt")[0].subject != certs(dest / "ca/kubernetes.crt")[0].subject
    assert all(signed_by(dest, rel, "ca/kubernetes.crt") for rel in KUBE_LEAVES)
    assert not run_module(tmp_path, _args(dest, **trust))[0]["changed"]

    # sign: the next CA is the current one; every leaf it signs is reissued by it; the old one stays trusted
    sign = dict(rotate_ca={"kubernetes": "sign"})
    check, _out = run_module(tmp_path, _args(dest, **sign), check=True)
    assert (dest / "ca/kubernetes.crt").read_bytes() == old and (dest / "ca/kubernetes-next.crt").exists()
    done, _out = run_module(tmp_path, _args(dest, **sign))
    assert changed(done) == changed(check)
    assert changed(done)["ca/kubernetes.crt"] == "rotated" and changed(done)["ca/kubernetes-next.crt"] == "removed"
    assert changed(done)["ca/kubernetes-previous.crt"] == "created"
    assert all(changed(done)[rel] == "reissued" for rel in KUBE_LEAVES)
    assert not set(changed(done)) & set(ETCD_LEAVES), "the etcd CA's leaves were reissued"
    assert (dest / "ca/kubernetes.crt").read_bytes() == nxt and (dest / "ca/kubernetes-previous.crt").read_bytes() == old
    assert not (dest / "ca/kubernetes-next.crt").exists() and not (dest / "ca/kubernetes-next.key").exists()
    assert all(signed_by(dest, rel, "ca/kubernetes.crt") for rel in KUBE_LEAVES)
    # the signing CA first: the controller-manager's cluster signing takes the first certificate with ca.key
    assert host_file(dest, "m1", "srv/kubernetes/ca.crt") == nxt + old
    assert not run_module(tmp_path, _args(dest, **sign))[0]["changed"]

    # finish: the old CA is trusted no more
    finish = dict(rotate_ca={"kubernetes": "finish"})
    done, _out = run_module(tmp_path, _args(dest, **finish))
    assert changed(done) == {"ca/kubernetes-previous.crt": "removed", "ca/kubernetes-trust.crt": "updated",
                             "bundles/m1.tar": "updated", "bundles/w1.tar": "updated"}
    assert host_file(dest, "w1", "srv/kubernetes/ca.crt") == nxt
    assert not run_module(tmp_path, _args(dest, **finish))[0]["changed"]
    # and without rotate_ca at all
    assert not run_module(tmp_path, _args(dest))[0]["changed"]


def test_the_etcd_ca_rotates_on_its_own_files(tmp_path):
    dest = tmp_path / "secrets"
    run_module(tmp_path, _args(dest))
    run_module(tmp_path, _args(dest, rotate_ca={"etcd": "trust"}))
    two = (dest / "ca/etcd-trust.crt").read_bytes()
    assert len(certs(dest / "ca/etcd-trust.crt")) == 2
    assert host_file(dest, "e2", "etc/etcd/pki/ca.crt") == two and host_file(dest, "m1", "srv/kubernetes/etcd-ca.crt") == two
    done, _out = run_module(tmp_path, _args(dest, rotate_ca={"etcd": "sign"}))
    assert all(changed(done)[rel] == "reissued" for rel in ETCD_LEAVES)
    assert not set(changed(done)) & set(KUBE_LEAVES)
    # the etcd bundle keeps the order the CAs came in: sign leaves it (and every host's copy) as it was, so etcd, which
    # reads its CA file only at its start, has no restart for it (its reissued certificates it reads per connection)
    assert "ca/etcd-trust.crt" not in changed(done) and (dest / "ca/etcd-trust.crt").read_bytes() == two
    assert host_file(dest, "e2", "etc/etcd/pki/ca.crt") == two and host_file(dest, "m1", "srv/kubernetes/etcd-ca.crt") == two
    done, _out = run_module(tmp_path, _args(dest, rotate_ca={"etcd": "finish"}))
    assert host_file(dest, "e2", "etc/etcd/pki/ca.crt") == (dest / "ca/etcd.crt").read_bytes()


def test_a_phase_out_of_order_is_refused_naming_the_one_to_run_and_nothing_changes(tmp_path):
    dest = tmp_path / "secrets"
    run_module(tmp_path, _args(dest))
    before = {p.name: p.read_bytes() for p in (dest / "ca").iterdir()}
    sign, _out = run_module(tmp_path, _args(dest, rotate_ca={"kubernetes": "sign"}))
    assert sign["failed"] and "rotate_ca: kubernetes: sign, but no rotation was started: run trust first" in sign["msg"]
    both, _out = run_module(tmp_path, _args(dest, rotate_ca={"kubernetes": "trust"}, regenerate_ca=["kubernetes:absent"]))
    assert both["failed"] and "regenerate_ca both name the kubernetes CA" in both["msg"]
    assert {p.name: p.read_bytes() for p in (dest / "ca").iterdir()} == before
    run_module(tmp_path, _args(dest, rotate_ca={"kubernetes": "trust"}))
    finish, _out = run_module(tmp_path, _args(dest, rotate_ca={"kubernetes": "finish"}))
    assert finish["failed"] and "the next kubernetes CA does not sign yet" in finish["msg"] and "run sign" in finish["msg"]
    run_module(tmp_path, _args(dest, rotate_ca={"kubernetes": "sign"}))
    trust, _out = run_module(tmp_path, _args(dest, rotate_ca={"kubernetes": "trust"}))
    assert trust["failed"] and "past that phase" in trust["msg"] and "Run sign again" in trust["msg"]


def test_a_damaged_next_ca_is_named_before_it_signs(tmp_path):
    dest = tmp_path / "secrets"
    run_module(tmp_path, _args(dest))
    run_module(tmp_path, _args(dest, rotate_ca={"kubernetes": "trust"}))
    (dest / "ca/kubernetes-next.key").write_bytes((dest / "ca/etcd.key").read_bytes())
    sign, _out = run_module(tmp_path, _args(dest, rotate_ca={"kubernetes": "sign"}))
    assert sign["failed"] and "the next CA cannot be used: ca/kubernetes-next.crt does not match ca/kubernetes-next.key" in sign["msg"]
    assert "run trust again" in sign["msg"] and (dest / "ca/kubernetes-next.crt").exists()


def public_keys(path):
    from cryptography.hazmat.primitives import serialization
    blocks = path.read_bytes().split(b"-----END PUBLIC KEY-----")[:-1]
    return [serialization.load_pem_public_key(b + b"-----END PUBLIC KEY-----\n") for b in blocks]


def spki(key):
    from cryptography.hazmat.primitives import serialization
    if hasattr(key, "public_key"):
        key = key.public_key()
    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def private(path):
    from cryptography.hazmat.primitives import serialization
    return serialization.load_pem_private_key(path.read_bytes(), None)


def test_the_service_account_key_rotates_keeping_old_tokens_valid_until_finish(tmp_path):
    dest = tmp_path / "secrets"
    run_module(tmp_path, _args(dest))
    old = private(dest / "sa/sa.key")
    done, _out = run_module(tmp_path, _args(dest, rotate_ca={"service_account": "trust"}))
    assert changed(done) == {"sa/sa-next.key": "created", "sa/sa.pub": "updated", "bundles/m1.tar": "updated"}
    nxt = private(dest / "sa/sa-next.key")
    # the apiservers accept both (sa.pub), the current key still signs (sa.key)
    assert [spki(k) for k in public_keys(dest / "sa/sa.pub")] == [spki(old), spki(nxt)]
    assert spki(private(dest / "sa/sa.key")) == spki(old)
    assert not run_module(tmp_path, _args(dest, rotate_ca={"service_account": "trust"}))[0]["changed"]
    done, _out = run_module(tmp_path, _args(dest, rotate_ca={"service_account": "sign"}))
    assert changed(done)["sa/sa.key"] == "rotated" and changed(done)["sa/sa-next.key"] == "removed"
    assert spki(private(dest / "sa/sa.key")) == spki(nxt)
    assert [spki(k) for k in public_keys(dest / "sa/sa.pub")] == [spki(nxt), spki(old)], "old tokens would be refused"
    assert host_file(dest, "m1", "srv/kubernetes/sa.pub") == (dest / "sa/sa.pub").read_bytes()
    assert not set(changed(done)) & set(KUBE_LEAVES), "a service-account rotation reissued certificates"
    assert not run_module(tmp_path, _args(dest, rotate_ca={"service_account": "sign"}))[0]["changed"]
    done, _out = run_module(tmp_path, _args(dest, rotate_ca={"service_account": "finish"}))
    assert changed(done) == {"sa/sa-previous.pub": "removed", "sa/sa.pub": "updated", "bundles/m1.tar": "updated"}
    assert [spki(k) for k in public_keys(dest / "sa/sa.pub")] == [spki(nxt)]
    assert not run_module(tmp_path, _args(dest, rotate_ca={"service_account": "finish"}))[0]["changed"]
    assert not run_module(tmp_path, _args(dest))[0]["changed"]
    sign, _out = run_module(tmp_path, _args(dest, rotate_ca={"service_account": "sign"}))
    assert sign["failed"] and "no rotation was started: run trust first" in sign["msg"]
