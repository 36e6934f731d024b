# Copyright (c) kubeha developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""X.509 helpers on ``cryptography``: keys, CAs, leaf certificates, and what a certificate says.

The only file of the collection that touches ``cryptography``; the rest of ``_pki`` works with the
plain values these functions return.
"""

from __future__ import annotations


import datetime
import ipaddress
import traceback

try:
    from cryptography import x509
    from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, rsa
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
except ImportError:
    HAS_CRYPTOGRAPHY = False
    CRYPTOGRAPHY_IMPORT_ERROR = traceback.format_exc()
else:
    HAS_CRYPTOGRAPHY = True
    CRYPTOGRAPHY_IMPORT_ERROR = None

KEY_TYPES = ("rsa2048", "rsa3072", "rsa4096", "ecdsa-p256")

# usage profiles of the certificates a cluster needs
SERVER = "server"
CLIENT = "client"
PEER = "peer"  # server and client: etcd members talk to each other both ways


class PkiError(Exception):
    """The PKI cannot be made or used as asked (a certificate or key, a setting); the message says which and what
    to do. Nothing was written when it is raised."""


def generate_key(key_type):
    """A new private key of ``key_type`` (one of KEY_TYPES)."""
    if key_type.startswith("rsa"):
        return rsa.generate_private_key(public_exponent=65537, key_size=int(key_type[3:]))
    if key_type == "ecdsa-p256":
        return ec.generate_private_key(ec.SECP256R1())
    raise PkiError("unknown key type %r; use one of %s" % (key_type, ", ".join(KEY_TYPES)))


def key_type_of(key):
    """The KEY_TYPES name of a private or public key, or a description if it is none of them."""
    if isinstance(key, (rsa.RSAPrivateKey, rsa.RSAPublicKey)):
        return "rsa%d" % key.key_size
    if isinstance(key, (ec.EllipticCurvePrivateKey, ec.EllipticCurvePublicKey)):
        if isinstance(key.curve, ec.SECP256R1):
            return "ecdsa-p256"
        return "ecdsa-%s" % key.curve.name
    return type(key).__name__


def key_to_pem(key):
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())


def public_key_to_pem(key):
    return key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def cert_to_pem(cert):
    return cert.public_bytes(serialization.Encoding.PEM)


def load_key(data, check=True):
    """A private key from PEM bytes; PkiError if they are not an unencrypted private key.

    ``check=False`` skips OpenSSL's RSA consistency check (about 35 ms a key): enough for reading
    the public half of keys this module wrote into its own 0700 directory. Keys that will sign
    something are loaded again with the check.
    """
    try:
        if check:
            key = serialization.load_pem_private_key(data, password=None)
        else:
            key = serialization.load_pem_private_key(data, password=None, unsafe_skip_rsa_key_validation=True)
    except (ValueError, TypeError) as exc:
        raise PkiError("not an unencrypted PEM private key (%s)" % exc.__class__.__name__)
    if not isinstance(key, (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey)):
        raise PkiError("unsupported key algorithm %s" % type(key).__name__)
    return key


def load_public_key(data):
    """A public key from PEM bytes (SubjectPublicKeyInfo or PKCS#1); PkiError if they are not one."""
    try:
        return serialization.load_pem_public_key(data)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise PkiError("not a PEM public key (%s)" % exc.__class__.__name__)


def load_cert(data):
    """A certificate from PEM bytes (the first one); PkiError if there is none."""
    try:
        return x509.load_pem_x509_certificate(data)
    except ValueError as exc:
        raise PkiError("not a PEM certificate (%s)" % exc)


def same_public_key(key_a, key_b):
    """True when two keys (private or public) have the same public half."""
    return _spki(key_a) == _spki(key_b)


def _spki(key):
    if hasattr(key, "public_key"):
        key = key.public_key()
    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def same_cert(cert_a, cert_b):
    """True when two certificates are the same one (the same DER bytes)."""
    return cert_a.public_bytes(serialization.Encoding.DER) == cert_b.public_bytes(serialization.Encoding.DER)


def cert_matches_key(cert, key):
    return same_public_key(cert.public_key(), key)


def make_name(common_name, organizations=()):
    attrs = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, org) for org in organizations]
    attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, common_name))
    return x509.Name(attrs)


def name_to_string(name):
    return name.rfc4514_string()


def now():
    return datetime.datetime.now(datetime.timezone.utc)


def _signing_hash(key):
    return hashes.SHA256()


def make_ca(key, common_name, days):
    """A self-signed CA certificate for ``key``, valid ``days`` days from an hour ago."""
    start = now() - datetime.timedelta(hours=1)
    name = make_name(common_name)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + datetime.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(_key_usage(ca=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    return builder.sign(key, _signing_hash(key))


def _key_usage(ca=False, rsa_key=False):
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=rsa_key and not ca,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=ca,
        crl_sign=ca,
        encipher_only=False,
        decipher_only=False,
    )


def _eku_oids(profile):
    if profile == SERVER:
        return [ExtendedKeyUsageOID.SERVER_AUTH]
    if profile == CLIENT:
        return [ExtendedKeyUsageOID.CLIENT_AUTH]
    if profile == PEER:
        return [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
    raise PkiError("unknown certificate profile %r" % profile)


def eku_names(profile):
    """The extended key usages of a profile, by name (``serverAuth``, ``clientAuth``)."""
    return sorted(_EKU_NAMES[oid] for oid in _eku_oids(profile))


if HAS_CRYPTOGRAPHY:
    _EKU_NAMES = {ExtendedKeyUsageOID.SERVER_AUTH: "serverAuth", ExtendedKeyUsageOID.CLIENT_AUTH: "clientAuth"}


def issue(ca_cert, ca_key, key, common_name, organizations, dns_names, ip_addresses, profile, days):
    """A leaf certificate for ``key`` signed by the CA, never outliving the CA."""
    start = now() - datetime.timedelta(hours=1)
    end = min(start + datetime.timedelta(days=days), ca_cert.not_valid_after_utc)
    public = key.public_key()
    builder = (
        x509.CertificateBuilder()
        .subject_name(make_name(common_name, organizations))
        .issuer_name(ca_cert.subject)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(rsa_key=isinstance(public, rsa.RSAPublicKey)), critical=True)
        .add_extension(x509.ExtendedKeyUsage(_eku_oids(profile)), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
    )
    general_names = [x509.DNSName(n) for n in dns_names] + [x509.IPAddress(ipaddress.ip_address(a)) for a in ip_addresses]
    if general_names:
        builder = builder.add_extension(x509.SubjectAlternativeName(general_names), critical=False)
    return builder.sign(ca_key, _signing_hash(ca_key))


def issued_by(cert, ca_cert):
    """True when ``ca_cert`` signed ``cert`` (issuer name and signature both checked)."""
    if cert.issuer != ca_cert.subject:
        return False
    try:
        cert.verify_directly_issued_by(ca_cert)
    except (InvalidSignature, ValueError, TypeError):
        return False
    return True


def is_ca(cert):
    return bool(ca_flag(cert))


def ca_flag(cert):
    """The CA flag of a certificate's basicConstraints (True or False), or None when it has none."""
    try:
        return cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        return None


def may_sign_certificates(cert):
    """False when the certificate's keyUsage is there and lacks keyCertSign (verifiers then refuse what it signs)."""
    try:
        return cert.extensions.get_extension_for_class(x509.KeyUsage).value.key_cert_sign
    except x509.ExtensionNotFound:
        return True


def sans_of(cert):
    """(dns names, ip addresses as strings) of a certificate; empty lists if it has no SANs."""
    try:
        ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return [], []
    return ext.get_values_for_type(x509.DNSName), [str(a) for a in ext.get_values_for_type(x509.IPAddress)]


def eku_of(cert):
    try:
        ext = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        return []
    return sorted(_EKU_NAMES.get(oid, oid.dotted_string) for oid in ext)


def describe(cert):
    """What a certificate says, for diffs and results: never key material."""
    dns, ips = sans_of(cert)
    return {
        "subject": name_to_string(cert.subject),
        "issuer": name_to_string(cert.issuer),
        "serial": "%x" % cert.serial_number,
        "not_before": cert.not_valid_before_utc.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "not_after": cert.not_valid_after_utc.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "dns_names": dns,
        "ip_addresses": ips,
        "extended_key_usage": eku_of(cert),
        "key_type": key_type_of(cert.public_key()),
    }
