"""What the issued certificates say, checked with cryptography and again with `openssl verify`."""

from __future__ import annotations

import ipaddress

import pytest
from cryptography import x509 as cx509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from pki_helpers import Run, cluster, openssl_verify

SERVER, CLIENT = ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH

# file -> (CA, CN, O, extended key usages, openssl purposes)
EXPECTED = {
    "kubernetes/apiserver": ("kubernetes", "kube-apiserver", [], {SERVER}, ["sslserver"]),
    "kubernetes/admin": ("kubernetes", "admin", ["system:masters"], {CLIENT}, ["sslclient"]),
    "kubernetes/scheduler": ("kubernetes", "system:kube-scheduler", [], {CLIENT}, ["sslclient"]),
    "kubernetes/controller-manager": ("kubernetes", "system:kube-controller-manager", [], {CLIENT}, ["sslclient"]),
    "kubernetes/kube-proxy": ("kubernetes", "system:kube-proxy", [], {CLIENT}, ["sslclient"]),
    "kubernetes/apiserver-kubelet-client": ("kubernetes", "kube-apiserver-kubelet-client", ["system:masters"], {CLIENT}, ["sslclient"]),
    "kubernetes/apiserver-etcd-client": ("etcd", "kube-apiserver-etcd-client", [], {CLIENT}, ["sslclient"]),
    "kubelet/w1": ("kubernetes", "system:node:w1", ["system:nodes"], {CLIENT}, ["sslclient"]),
    "etcd/e3/peer": ("etcd", "e3", [], {SERVER, CLIENT}, ["sslserver", "sslclient"]),
    "etcd/e3/server": ("etcd", "e3", [], {SERVER, CLIENT}, ["sslserver", "sslclient"]),
}


def _cert(dest, rel):
    return cx509.load_pem_x509_certificate((dest / rel).read_bytes())


def _key(dest, rel):
    return serialization.load_pem_private_key((dest / rel).read_bytes(), None)


def _sans(cert):
    ext = cert.extensions.get_extension_for_class(cx509.SubjectAlternativeName).value
    return set(ext.get_values_for_type(cx509.DNSName)), set(str(a) for a in ext.get_values_for_type(cx509.IPAddress))


@pytest.fixture(scope="module")
def issued(tmp_path_factory):
    """One RSA bundle (the default key type) shared by the read-only checks below."""
    dest = tmp_path_factory.mktemp("pki") / "secrets"
    Run(cluster(dest, key_type="rsa2048", lb_addresses=["10.0.0.100"], lb_dns_names=["k8s.example.com"], cluster_domain="corp.internal"))
    return dest


@pytest.mark.parametrize("base", sorted(EXPECTED))
def test_leaf_chain_subject_usage_and_key(issued, base):
    ca_name, cn, orgs, ekus, purposes = EXPECTED[base]
    ca = _cert(issued, "ca/%s.crt" % ca_name)
    cert = _cert(issued, base + ".crt")
    key = _key(issued, base + ".key")
    cert.verify_directly_issued_by(ca)  # raises if the chain is wrong
    assert cert.issuer == ca.subject
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == cn
    assert [a.value for a in cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)] == orgs
    assert set(cert.extensions.get_extension_for_class(cx509.ExtendedKeyUsage).value) == ekus
    usage = cert.extensions.get_extension_for_class(cx509.KeyUsage)
    assert usage.critical and usage.value.digital_signature and usage.value.key_encipherment and not usage.value.key_cert_sign
    assert cert.extensions.get_extension_for_class(cx509.BasicConstraints).value.ca is False
    assert cert.public_key().public_numbers() == key.public_key().public_numbers()
    assert isinstance(key, rsa.RSAPrivateKey) and key.key_size == 2048
    assert cert.not_valid_after_utc <= ca.not_valid_after_utc
    for purpose in purposes:
        ok, out = openssl_verify(issued / ("ca/%s.crt" % ca_name), issued / (base + ".crt"), purpose)
        assert ok, out


def test_cas_are_distinct_self_signed_cas(issued):
    kube, etcd = _cert(issued, "ca/kubernetes.crt"), _cert(issued, "ca/etcd.crt")
    assert kube.subject != etcd.subject and kube.public_key() != etcd.public_key()
    for ca, key in ((kube, "ca/kubernetes.key"), (etcd, "ca/etcd.key")):
        ca.verify_directly_issued_by(ca)
        assert ca.extensions.get_extension_for_class(cx509.BasicConstraints).value.ca is True
        usage = ca.extensions.get_extension_for_class(cx509.KeyUsage).value
        assert usage.key_cert_sign and usage.crl_sign
        assert ca.public_key().public_numbers() == _key(issued, key).public_key().public_numbers()
    # a leaf of one CA does not verify against the other
    ok, _out = openssl_verify(issued / "ca/etcd.crt", issued / "kubernetes/apiserver.crt")
    assert not ok
    ok, _out = openssl_verify(issued / "ca/kubernetes.crt", issued / "etcd/m1/server.crt")
    assert not ok


def test_apiserver_sans(issued):
    dns, ips = _sans(_cert(issued, "kubernetes/apiserver.crt"))
    assert dns == {"m1", "m2", "k8s.example.com", "kubernetes", "kubernetes.default", "kubernetes.default.svc",
                   "kubernetes.default.svc.corp.internal", "localhost"}
    assert ips == {"10.0.0.1", "10.0.0.2", "10.0.0.100", "10.96.0.1", "127.0.0.1"}


def test_etcd_member_sans(issued):
    assert _sans(_cert(issued, "etcd/e3/peer.crt")) == ({"e3"}, {"10.0.0.3"})
    assert _sans(_cert(issued, "etcd/e3/server.crt")) == ({"e3", "localhost"}, {"10.0.0.3", "127.0.0.1"})


def test_service_account_pair(issued):
    pub = serialization.load_pem_public_key((issued / "sa/sa.pub").read_bytes())
    assert pub.public_numbers() == _key(issued, "sa/sa.key").public_key().public_numbers()


def test_ecdsa_option(params, run, tmp_path):
    run(params(key_type="ecdsa-p256"))
    dest = tmp_path / "secrets"
    key = _key(dest, "kubernetes/apiserver.key")
    assert isinstance(key, ec.EllipticCurvePrivateKey) and isinstance(key.curve, ec.SECP256R1)
    cert = _cert(dest, "kubernetes/apiserver.crt")
    # no keyEncipherment for an EC key: it cannot encrypt
    usage = cert.extensions.get_extension_for_class(cx509.KeyUsage).value
    assert usage.digital_signature and not usage.key_encipherment
    ok, out = openssl_verify(dest / "ca/kubernetes.crt", dest / "kubernetes/apiserver.crt", "sslserver")
    assert ok, out


def test_ip_named_host_becomes_ip_san(params, run, tmp_path):
    run(params(masters=[dict(name="10.0.0.9", ip="10.0.0.9")], etcd_members=[dict(name="e1", ip="10.0.0.3")], nodes=[]))
    dns, ips = _sans(_cert(tmp_path / "secrets", "kubernetes/apiserver.crt"))
    assert "10.0.0.9" in ips and "10.0.0.9" not in dns
    # every IP SAN parses as an address (ip_address raises otherwise; an address object is always truthy)
    assert [str(ipaddress.ip_address(a)) for a in ips] == list(ips)
