"""Plan decisions: what is reissued and why, what is never replaced, what check mode reports."""

from __future__ import annotations

import datetime
import hashlib
import os

import pytest
from cryptography import x509 as cx509

from ansible_collections.kubeha.cluster.plugins.module_utils._pki import x509
from ansible_collections.kubeha.cluster.plugins.module_utils._pki.engine import PkiError
from pki_helpers import openssl_verify
from support.tree import snapshot as _snapshot


def _load(dest, rel):
    return cx509.load_pem_x509_certificate((dest / rel).read_bytes())


def test_check_mode_reports_everything_and_writes_nothing(params, run, tmp_path):
    result = run(params(), check=True)
    assert result.changed
    assert not (tmp_path / "secrets").exists()
    changes = result.changes()
    assert changes["ca/kubernetes.key"] == "created" and changes["kubernetes/apiserver.crt"] == "created"
    assert changes["etcd/e3/server.crt"] == "created" and changes["kubelet/w1.crt"] == "created"
    # the real run then does exactly what check mode announced
    real = run(params())
    assert real.changes() == changes


def test_second_run_changes_nothing(params, run, tmp_path):
    run(params())
    before = _snapshot(tmp_path / "secrets")
    again = run(params())
    assert not again.changed and again.changes() == {}
    assert _snapshot(tmp_path / "secrets") == before
    assert not run(params(), check=True).changed


def test_adding_lb_address_reissues_only_apiserver_under_same_ca(params, run, tmp_path):
    dest = tmp_path / "secrets"
    run(params())
    ca_before = (dest / "ca/kubernetes.crt").read_bytes()
    key_before = (dest / "kubernetes/apiserver.key").read_bytes()
    check = run(params(lb_addresses=["10.0.0.100"]), check=True)
    assert check.changes() == {"kubernetes/apiserver.crt": "reissued"}
    assert "missing 10.0.0.100" in check.reasons("kubernetes/apiserver.crt")
    assert check.engine.after["kubernetes/apiserver.crt"]["ip_addresses"][-3:] == ["10.0.0.100", "10.96.0.1", "127.0.0.1"]
    real = run(params(lb_addresses=["10.0.0.100"]))
    assert real.changes() == {"kubernetes/apiserver.crt": "reissued"}
    assert (dest / "ca/kubernetes.crt").read_bytes() == ca_before
    assert (dest / "kubernetes/apiserver.key").read_bytes() == key_before  # same key, new certificate
    assert "10.0.0.100" in x509.sans_of(_load(dest, "kubernetes/apiserver.crt"))[1]
    ok, out = openssl_verify(dest / "ca/kubernetes.crt", dest / "kubernetes/apiserver.crt", "sslserver")
    assert ok, out
    assert not run(params(lb_addresses=["10.0.0.100"])).changed


def test_expiring_leaf_is_reissued(params, run, tmp_path):
    dest = tmp_path / "secrets"
    run(params())
    ca_cert, ca_key = _load(dest, "ca/kubernetes.crt"), x509.load_key((dest / "ca/kubernetes.key").read_bytes())
    key = x509.load_key((dest / "kubernetes/scheduler.key").read_bytes())
    short = x509.issue(ca_cert, ca_key, key, "system:kube-scheduler", [], [], [], x509.CLIENT, 10)
    (dest / "kubernetes/scheduler.crt").write_bytes(x509.cert_to_pem(short))
    result = run(params())
    assert result.changes() == {"kubernetes/scheduler.crt": "reissued"}
    assert "within renew_before (90 days)" in result.reasons("kubernetes/scheduler.crt")
    assert _load(dest, "kubernetes/scheduler.crt").not_valid_after_utc - x509.now() > datetime.timedelta(days=300)


def test_foreign_ca_leaf_is_reissued(params, run, tmp_path):
    dest = tmp_path / "secrets"
    run(params())
    other_key = x509.generate_key("ecdsa-p256")
    other_ca = x509.make_ca(other_key, "kubernetes-ca", 100)  # same name, different key: only the signature tells
    key = x509.load_key((dest / "kubernetes/admin.key").read_bytes())
    foreign = x509.issue(other_ca, other_key, key, "admin", ["system:masters"], [], [], x509.CLIENT, 365)
    (dest / "kubernetes/admin.crt").write_bytes(x509.cert_to_pem(foreign))
    result = run(params())
    assert result.changes() == {"kubernetes/admin.crt": "reissued"}
    assert "issuer is not the current kubernetes CA" in result.reasons("kubernetes/admin.crt")
    ok, out = openssl_verify(dest / "ca/kubernetes.crt", dest / "kubernetes/admin.crt", "sslclient")
    assert ok, out


def test_mismatched_key_is_reissued(params, run, tmp_path):
    dest = tmp_path / "secrets"
    run(params())
    (dest / "etcd/e3/peer.key").write_bytes(x509.key_to_pem(x509.generate_key("ecdsa-p256")))
    result = run(params())
    assert result.changes() == {"etcd/e3/peer.crt": "reissued"}
    assert "key does not match" in result.reasons("etcd/e3/peer.crt")
    assert x509.cert_matches_key(_load(dest, "etcd/e3/peer.crt"), x509.load_key((dest / "etcd/e3/peer.key").read_bytes()))


def test_unreadable_key_and_cert_are_replaced(params, run, tmp_path):
    dest = tmp_path / "secrets"
    run(params())
    (dest / "kubernetes/kube-proxy.key").write_bytes(b"garbage")
    (dest / "kubelet/w1.crt").write_bytes(b"-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----\n")
    result = run(params())
    assert result.changes() == {"kubernetes/kube-proxy.key": "regenerated", "kubernetes/kube-proxy.crt": "reissued",
                                "kubelet/w1.crt": "reissued"}
    assert "unreadable" in result.reasons("kubernetes/kube-proxy.key")
    assert "unreadable" in result.reasons("kubelet/w1.crt")


def test_subject_change_and_key_type_change(params, run, tmp_path):
    dest = tmp_path / "secrets"
    run(params())
    result = run(params(nodes=["m1", "m2", "w1", "w2"]))
    assert result.changes() == {"kubelet/w2.key": "created", "kubelet/w2.crt": "created"}
    # a key type change regenerates leaf keys, keeps the CAs
    result = run(params(nodes=["m1"], key_type="rsa2048"))
    changes = result.changes()
    assert changes["kubernetes/apiserver.key"] == "regenerated"
    assert "key is ecdsa-p256, rsa2048 asked" in result.reasons("kubernetes/apiserver.key")
    assert not any(rel.startswith(("ca/", "sa/")) for rel in changes)


def test_permissions_changed_by_hand_are_restored(params, run, tmp_path):
    dest = tmp_path / "secrets"
    run(params(bundles=[dict(host="m1", master=True, node=True, etcd_member="m1")]))
    os.chmod(dest / "kubernetes/apiserver.key", 0o644)
    os.chmod(dest / "ca/kubernetes.key", 0o640)
    os.chmod(dest / "kubernetes/admin.crt", 0o600)
    os.chmod(dest / "bundles/m1.tar", 0o644)
    os.chmod(dest, 0o755)
    check = run(params(bundles=[dict(host="m1", master=True, node=True, etcd_member="m1")]), check=True)
    expected = {"kubernetes/apiserver.key": "mode_restored", "ca/kubernetes.key": "mode_restored",
                "kubernetes/admin.crt": "mode_restored", "bundles/m1.tar": "mode_restored", ".": "mode_restored"}
    assert check.changes() == expected
    assert os.stat(dest / "kubernetes/apiserver.key").st_mode & 0o777 == 0o644
    result = run(params(bundles=[dict(host="m1", master=True, node=True, etcd_member="m1")]))
    assert result.changes() == expected
    modes = {rel: mode for rel, (_data, mode) in _snapshot(dest).items()}
    assert modes["kubernetes/apiserver.key"] == 0o600 and modes["ca/kubernetes.key"] == 0o600
    assert modes["kubernetes/admin.crt"] == 0o644 and modes["bundles/m1.tar"] == 0o600
    assert os.stat(dest).st_mode & 0o777 == 0o700


def test_ca_is_never_replaced_on_its_own(params, run, tmp_path):
    dest = tmp_path / "secrets"
    run(params())
    (dest / "ca/etcd.key").write_bytes(x509.key_to_pem(x509.generate_key("ecdsa-p256")))
    before = _snapshot(dest)
    with pytest.raises(PkiError, match="etcd CA .* cannot be used: ca/etcd.crt does not match ca/etcd.key.*regenerate_ca: \\['etcd:[0-9a-f]{16}'\\]"):
        run(params())
    (dest / "ca/kubernetes.crt").unlink()
    with pytest.raises(PkiError, match="kubernetes CA .* ca/kubernetes.crt is missing while ca/kubernetes.key exists"):
        run(params())
    del before["ca/kubernetes.crt"]
    assert _snapshot(dest) == before  # nothing written
    # both halves gone while the certificates it signed remain: still no silent new CA
    (dest / "ca/kubernetes.key").unlink()
    with pytest.raises(PkiError, match="kubernetes CA .* is missing .* while certificates it signed are there"):
        run(params())
    (dest / "sa/sa.key").unlink()
    with pytest.raises(PkiError, match="sa.key is missing while sa.pub is there.*regenerate_ca: \\['service_account:absent'\\]"):
        run(params(regenerate_ca=[entry(dest, "kubernetes"), entry(dest, "etcd")]))
    result = run(params(regenerate_ca=[entry(dest, "kubernetes"), entry(dest, "etcd"), "service_account:absent"]))
    assert result.changes()["ca/kubernetes.crt"] == "regenerated" and result.changes()["sa/sa.key"] == "created"


def test_regenerate_ca_reissues_only_what_it_signed(params, run, tmp_path):
    dest = tmp_path / "secrets"
    run(params())
    old_ca = _load(dest, "ca/etcd.crt")
    result = run(params(regenerate_ca=[entry(dest, "etcd")]))
    changes = result.changes()
    assert changes["ca/etcd.crt"] == "regenerated" and changes["ca/etcd.key"] == "regenerated"
    assert set(rel for rel, action in changes.items() if action == "reissued") == {
        "kubernetes/apiserver-etcd-client.crt", "etcd/m1/peer.crt", "etcd/m1/server.crt", "etcd/m2/peer.crt",
        "etcd/m2/server.crt", "etcd/e3/peer.crt", "etcd/e3/server.crt"}
    assert _load(dest, "ca/etcd.crt").public_key() != old_ca.public_key()
    ok, out = openssl_verify(dest / "ca/etcd.crt", dest / "etcd/e3/server.crt", "sslserver")
    assert ok, out
    assert not run(params()).changed


def test_expiring_ca_is_a_loud_warning_and_kept(params, run, tmp_path):
    dest = tmp_path / "secrets"
    run(params())
    key = x509.load_key((dest / "ca/kubernetes.key").read_bytes())
    (dest / "ca/kubernetes.crt").write_bytes(x509.cert_to_pem(x509.make_ca(key, "kubernetes-ca", 30)))
    result = run(params())
    assert any("THE KUBERNETES CA EXPIRES" in w and "regenerate_ca: ['%s']" % entry(dest, "kubernetes") in w for w in result.warnings)
    assert "ca/kubernetes.crt" not in result.changes()
    # leaves that outlive the CA are not reissued forever: a leaf can never last longer than its CA
    (dest / "kubernetes/admin.crt").unlink()
    run(params())
    admin = _load(dest, "kubernetes/admin.crt")
    assert admin.not_valid_after_utc <= _load(dest, "ca/kubernetes.crt").not_valid_after_utc
    assert not run(params()).changed


def test_service_account_key_kept_and_pub_rederived(params, run, tmp_path):
    dest = tmp_path / "secrets"
    run(params())
    key = (dest / "sa/sa.key").read_bytes()
    (dest / "sa/sa.pub").write_bytes(b"stale")
    result = run(params())
    assert result.changes() == {"sa/sa.pub": "updated"}
    assert (dest / "sa/sa.key").read_bytes() == key


def test_etcd_only_deployment(params, run, tmp_path):
    result = run(params(masters=[], nodes=[], bundles=[dict(host="e3", etcd_member="e3")]))
    assert result.files["etcd/e3/server.crt"]["action"] == "created"
    ok, out = openssl_verify(tmp_path / "secrets/ca/etcd.crt", tmp_path / "secrets/etcd/e3/server.crt", "sslserver")
    assert ok, out
    assert not run(params(masters=[], nodes=[], bundles=[dict(host="e3", etcd_member="e3")])).changed


def test_invalid_description_is_refused():
    from ansible_collections.kubeha.cluster.plugins.module_utils._pki import desired  # pylint: disable=import-outside-toplevel
    from pki_helpers import cluster  # pylint: disable=import-outside-toplevel
    errors = desired.validate(cluster("/nonexistent", lb_addresses=["lb.example.com"], service_cidr="10.96.0.1/12",
                                      masters=[dict(name="m 1", ip="10.0.0.300")], renew_before=400))
    text = "\n".join(errors)
    assert "lb_addresses: 'lb.example.com' is not an IP address; put DNS names in lb_dns_names" in text
    assert "service_cidr" in text and "not usable" in text and "not an IP address" in text and "renew_before" in text


def entry(dest, name):
    """The regenerate_ca entry that names the CA there now."""
    rel = "sa/sa.key" if name == "service_account" else "ca/%s.crt" % name
    path = dest / rel
    return "%s:%s" % (name, hashlib.sha256(path.read_bytes()).hexdigest()[:16] if path.exists() else "absent")


def test_regenerate_ca_left_in_the_inventory_replaces_the_ca_once(params, run, tmp_path):
    dest = tmp_path / "secrets"
    run(params())
    wanted = entry(dest, "etcd")
    first = run(params(regenerate_ca=[wanted]))
    assert first.changes()["ca/etcd.crt"] == "regenerated"
    again = run(params(regenerate_ca=[wanted]))          # still set on the next run: nothing new
    assert not again.changed
    assert any("regenerate_ca: %s names a etcd that is not there any more" % wanted in w and "Remove the entry" in w
               for w in again.warnings)


def test_regenerate_ca_without_a_fingerprint_is_refused_with_the_entry_to_use(params, run, tmp_path):
    dest = tmp_path / "secrets"
    run(params())
    before = _snapshot(dest)
    with pytest.raises(PkiError, match="regenerate_ca: 'kubernetes' names no fingerprint.*set regenerate_ca: \\['%s'\\]"
                       % entry(dest, "kubernetes")):
        run(params(regenerate_ca=["kubernetes"]))
    assert _snapshot(dest) == before
