"""kubeha.cluster.cert_info lookup: a certificate's subject and expiry read on the controller, no openssl command."""

from __future__ import annotations

import datetime

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID

from ansible_collections.kubeha.cluster.plugins.lookup.cert_info import LookupModule, cert_info

NOW = datetime.datetime(2026, 12, 3, tzinfo=datetime.timezone.utc)


def _cert(path, days):
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, 'kubernetes')])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(NOW - datetime.timedelta(days=1))
            .not_valid_after(NOW + datetime.timedelta(days=days, hours=1)).sign(key, hashes.SHA256()))
    path.write_bytes(cert.public_bytes(Encoding.PEM))
    return str(path)


def test_subject_expiry_and_days_left(tmp_path):
    info = cert_info(_cert(tmp_path / 'ca.crt', 3650), now=NOW)
    assert info == dict(path=str(tmp_path / 'ca.crt'), exists=True, subject='CN=kubernetes',
                        not_after=(NOW + datetime.timedelta(days=3650, hours=1)).strftime('%Y-%m-%dT%H:%M:%SZ'), days_left=3650,
                        dns_names=[], ip_addresses=[])


def test_an_expired_certificate_has_negative_days(tmp_path):
    assert cert_info(_cert(tmp_path / 'old.crt', 5), now=NOW + datetime.timedelta(days=30))['days_left'] == -25


def test_missing_and_unreadable_files_are_reported_not_raised(tmp_path):
    assert cert_info(str(tmp_path / 'none.crt')) == dict(path=str(tmp_path / 'none.crt'), exists=False)
    garbage = tmp_path / 'garbage.crt'
    garbage.write_text('not a certificate')
    info = cert_info(str(garbage))
    assert info['exists'] is True and 'not a PEM certificate' in info['error'] and 'not_after' not in info


def test_the_lookup_returns_one_entry_per_term(tmp_path):
    one = _cert(tmp_path / 'a.crt', 10)
    out = LookupModule().run([one, str(tmp_path / 'b.crt')], variables={})
    assert [o['path'] for o in out] == [one, str(tmp_path / 'b.crt')] and out[0]['subject'] == 'CN=kubernetes'


def test_the_subject_alternative_names(tmp_path):
    """What the loadbalancer role checks: the LB's name and address in the apiserver certificate (IPv6 compressed)."""
    import ipaddress  # pylint: disable=import-outside-toplevel
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, 'kube-apiserver')])
    sans = x509.SubjectAlternativeName([x509.DNSName('k8s.example'), x509.IPAddress(ipaddress.ip_address('10.0.0.100')),
                                        x509.IPAddress(ipaddress.ip_address('FD00:0:0:0:0:0:0:64'))])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key()).serial_number(2)
            .not_valid_before(NOW).not_valid_after(NOW + datetime.timedelta(days=1)).add_extension(sans, critical=False)
            .sign(key, hashes.SHA256()))
    path = tmp_path / 'apiserver.crt'
    path.write_bytes(cert.public_bytes(Encoding.PEM))
    info = cert_info(str(path), now=NOW)
    assert info['dns_names'] == ['k8s.example'] and info['ip_addresses'] == ['10.0.0.100', 'fd00::64']
    assert cert_info(_cert(tmp_path / 'plain.crt', 5), now=NOW)['dns_names'] == []
