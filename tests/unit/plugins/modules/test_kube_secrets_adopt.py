"""kube_secrets adopt: a PKI made elsewhere (with the openssl command, as kubeadm or an operator would) is copied unchanged
and signs every leaf; each refusal names the file and the problem and leaves the secrets directory as it was."""

from __future__ import annotations

import datetime
import json
import os
import subprocess
import tarfile

import pytest
from cryptography import x509 as cx509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import NameOID

from support.tree import snapshot

from .test_kube_secrets import run_module

KUBEADM = {"ca_crt": "ca.crt", "ca_key": "ca.key", "sa_key": "sa.key", "sa_pub": "sa.pub", "etcd_ca_crt": "etcd/ca.crt", "etcd_ca_key": "etcd/ca.key"}
STORE = {"ca_crt": "ca/kubernetes.crt", "ca_key": "ca/kubernetes.key", "sa_key": "sa/sa.key", "sa_pub": "sa/sa.pub",
         "etcd_ca_crt": "ca/etcd.crt", "etcd_ca_key": "ca/etcd.key"}
# a configuration without x509_extensions: `openssl req -x509` then adds only what -addext says
MINIMAL_CNF = "[req]\ndistinguished_name=dn\n[dn]\n"


def openssl(*args):
    subprocess.run(["openssl"] + [str(a) for a in args], check=True, capture_output=True)


def rewrite_key(path, *options):
    """Write a key file again with other openssl pkey options (another encoding, a pass phrase)."""
    tmp = path.parent / (path.name + ".new")
    openssl("pkey", "-in", path, "-out", tmp, *options)
    os.replace(tmp, path)


def make_key(path, rsa=False):
    path.parent.mkdir(parents=True, exist_ok=True)
    if rsa:
        openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", path)
    else:
        openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", path)


def make_cert(key, crt, cn, basic_constraints="critical,CA:TRUE", days=3650):
    """A self-signed certificate; basic_constraints None leaves the extension out."""
    cnf = crt.parent / ".openssl.cnf"
    cnf.write_text(MINIMAL_CNF)
    extra = ["-addext", "basicConstraints=" + basic_constraints] if basic_constraints else []
    if basic_constraints and "CA:TRUE" in basic_constraints:
        extra += ["-addext", "keyUsage=critical,digitalSignature,keyEncipherment,keyCertSign"]
    openssl("req", "-x509", "-new", "-key", key, "-subj", "/CN=" + cn, "-days", days, "-config", cnf, "-out", crt, *extra)
    cnf.unlink()


def make_ca(directory, crt, key, cn, rsa=False):
    make_key(directory / key, rsa)
    make_cert(directory / key, directory / crt, cn)


def kubeadm_pki(directory, front_proxy=False):
    """/etc/kubernetes/pki as kubeadm leaves it: CA, etcd CA, service-account key pair (and the front-proxy CA)."""
    make_ca(directory, "ca.crt", "ca.key", "kubernetes", rsa=True)
    make_ca(directory, "etcd/ca.crt", "etcd/ca.key", "etcd-ca")
    make_key(directory / "sa.key", rsa=True)
    openssl("pkey", "-in", directory / "sa.key", "-pubout", "-out", directory / "sa.pub")
    if front_proxy:
        make_ca(directory, "front-proxy-ca.crt", "front-proxy-ca.key", "front-proxy-ca")
    return directory


def dated_cert(key_path, crt_path, start, end):
    """A CA certificate for an existing key with given dates (openssl 3.0's req cannot set them in the past)."""
    key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    name = cx509.Name([cx509.NameAttribute(NameOID.COMMON_NAME, "dated-ca")])
    cert = (cx509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(cx509.random_serial_number()).not_valid_before(start).not_valid_after(end)
            .add_extension(cx509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    crt_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def args(dest, source, layout="kubeadm", **over):
    spec = dict(dest=str(dest), masters=[dict(name="m1", ip="10.0.0.1")], etcd_members=[dict(name="m1", ip="10.0.0.1")],
                nodes=["m1", "w1"], key_type="ecdsa-p256", adopt=dict(layout=layout, dir=str(source)),
                bundles=[dict(host="m1", master=True, node=True, etcd_member="m1"), dict(host="w1", node=True)])
    spec.update(over)
    return spec


def verify(ca, cert):
    proc = subprocess.run(["openssl", "verify", "-x509_strict", "-CAfile", str(ca), str(cert)], capture_output=True, text=True, check=False)
    assert proc.returncode == 0 and proc.stdout.strip().endswith(": OK"), proc.stdout + proc.stderr


def key_lines(directory):
    """The body lines of every private key under directory: none may be in the module's output."""
    lines = []
    for root, _dirs, files in os.walk(directory):
        lines += [line for name in files if name.endswith(".key") for line in open(os.path.join(root, name)).read().splitlines()[1:-1]]
    return lines


def test_adopt_kubeadm_pki_copies_it_unchanged_and_signs_with_it(tmp_path):
    source = kubeadm_pki(tmp_path / "pki", front_proxy=True)
    dest = tmp_path / "secrets"
    check, check_out = run_module(tmp_path, args(dest, source), check=True)
    assert check["changed"] and "failed" not in check, check.get("msg")
    assert not dest.exists(), "check mode wrote something"
    for item, rel in STORE.items():
        assert check["files"][rel] == {"action": "adopted", "reasons": ["adopted from %s" % (source / KUBEADM[item])]}
    assert check["files"]["kubernetes/apiserver.crt"]["action"] == "created"
    assert check["diff"]["after"]["ca/kubernetes.crt"]["subject"] == "CN=kubernetes"
    assert check["diff"]["after"]["ca/kubernetes.crt"]["adopted_from"] == str(source / "ca.crt")
    assert check["diff"]["after"]["kubernetes/apiserver.crt"]["issuer"] == "CN=kubernetes"  # the adopted CA's name
    assert check["diff"]["after"]["ca/etcd.key"] == {"key_type": "ecdsa-p256", "adopted_from": str(source / "etcd/ca.key")}

    real, real_out = run_module(tmp_path, args(dest, source))
    assert real["changed"] and "failed" not in real, real.get("msg")
    assert {k: v["action"] for k, v in real["files"].items()} == {k: v["action"] for k, v in check["files"].items()}
    for item, rel in STORE.items():
        assert (dest / rel).read_bytes() == (source / KUBEADM[item]).read_bytes(), "%s is not byte-identical to its source" % rel
        assert os.stat(dest / rel).st_mode & 0o777 == (0o600 if rel.endswith(".key") else 0o644)
    verify(source / "ca.crt", dest / "kubernetes/apiserver.crt")
    verify(source / "ca.crt", dest / "kubelet/w1.crt")
    verify(source / "etcd/ca.crt", dest / "etcd/m1/server.crt")
    verify(source / "etcd/ca.crt", dest / "kubernetes/apiserver-etcd-client.crt")
    assert not list(dest.glob("ca/front-proxy*"))
    assert "%s and %s not adopted" % (source / "front-proxy-ca.crt", source / "front-proxy-ca.key") in json.dumps(real.get("warnings"))
    with tarfile.open(str(dest / "bundles/m1.tar")) as tar:  # what the hosts get is the adopted CA
        assert tar.extractfile("srv/kubernetes/ca.crt").read() == (source / "ca.crt").read_bytes()
        assert tar.extractfile("srv/kubernetes/sa.pub").read() == (source / "sa.pub").read_bytes()

    before = snapshot(dest)
    second, second_out = run_module(tmp_path, args(dest, source))
    assert not second["changed"] and "diff" not in second, second["files"]
    assert set(v["action"] for v in second["files"].values()) == {"unchanged"}
    assert not second.get("warnings")
    check2, check2_out = run_module(tmp_path, args(dest, source), check=True)
    assert not check2["changed"]
    assert snapshot(dest) == before
    secrets = key_lines(source) + key_lines(dest)
    for text in (check_out, real_out, second_out, check2_out):
        assert "PRIVATE KEY" not in text and not [line for line in secrets if line in text]


def test_adopt_guide_layout_with_a_key_kept_elsewhere(tmp_path):
    source = tmp_path / "srv-kubernetes"
    make_ca(source, "ca.crt", "ca.key", "guide-ca")
    make_ca(source, "etcd-ca.crt", "../vault/etcd-ca.key", "guide-etcd-ca")  # the etcd CA key is not in /srv/kubernetes
    make_key(source / "sa.key")
    openssl("pkey", "-in", source / "sa.key", "-pubout", "-out", source / "sa.pub")
    dest = tmp_path / "secrets"
    spec = args(dest, source, layout="guide")
    spec["adopt"]["files"] = {"etcd_ca_key": "../vault/etcd-ca.key"}  # relative: under adopt.dir
    result, _out = run_module(tmp_path, spec)
    assert result["changed"] and "failed" not in result, result.get("msg")
    sources = {"ca_crt": source / "ca.crt", "ca_key": source / "ca.key", "sa_key": source / "sa.key", "sa_pub": source / "sa.pub",
               "etcd_ca_crt": source / "etcd-ca.crt", "etcd_ca_key": tmp_path / "vault/etcd-ca.key"}
    for item, rel in STORE.items():
        assert (dest / rel).read_bytes() == sources[item].read_bytes()
        assert result["files"][rel] == {"action": "adopted", "reasons": ["adopted from %s" % sources[item]]}
    verify(source / "ca.crt", dest / "kubernetes/admin.crt")
    verify(source / "etcd-ca.crt", dest / "etcd/m1/peer.crt")
    assert not run_module(tmp_path, spec)[0]["changed"]


def _missing_file(source):
    (source / "etcd/ca.key").unlink()
    return "etcd/ca.key", ["(the etcd CA key of the kubeadm layout) is missing", "adopt.files.etcd_ca_key"]


def _key_of_another_ca(source):
    make_key(source / "ca.key", rsa=True)
    return "ca.key", ["does not match the certificate %s" % (source / "ca.crt"), "adopt.files.ca_key"]


def _not_a_ca(source):
    make_cert(source / "ca.key", source / "ca.crt", "kube-apiserver", basic_constraints="critical,CA:FALSE")
    return "ca.crt", ["(CN=kube-apiserver) is not a CA certificate: basicConstraints is CA:FALSE", "adopt.files.ca_crt"]


def _no_basic_constraints(source):
    make_cert(source / "etcd/ca.key", source / "etcd/ca.crt", "etcd-ca", basic_constraints=None)
    return "etcd/ca.crt", ["(CN=etcd-ca) is not a CA certificate: basicConstraints is missing"]


def _expired(source):
    now = datetime.datetime.now(datetime.timezone.utc)
    dated_cert(source / "ca.key", source / "ca.crt", now - datetime.timedelta(days=400), now - datetime.timedelta(days=35))
    return "ca.crt", ["(CN=dated-ca) expired on %s" % (now - datetime.timedelta(days=35)).strftime("%Y-%m-%d"), "Renew that CA"]


def _not_yet_valid(source):
    now = datetime.datetime.now(datetime.timezone.utc)
    dated_cert(source / "etcd/ca.key", source / "etcd/ca.crt", now + datetime.timedelta(days=2), now + datetime.timedelta(days=400))
    return "etcd/ca.crt", ["(CN=dated-ca) is not valid before %s" % (now + datetime.timedelta(days=2)).strftime("%Y-%m-%d"),
                           "check the controller's clock"]


def _sa_pub_of_another_key(source):
    make_key(source / "other.key", rsa=True)
    openssl("pkey", "-in", source / "other.key", "-pubout", "-out", source / "sa.pub")
    return "sa.pub", ["is not the public half of %s" % (source / "sa.key"), "openssl pkey -in %s -pubout" % (source / "sa.key")]


def _encrypted_key(source):
    rewrite_key(source / "sa.key", "-aes256", "-passout", "pass:secret")
    return "sa.key", ["(the service-account signing key) is not an unencrypted PEM private key", "adopt.files.sa_key"]


@pytest.mark.parametrize("damage", [_missing_file, _key_of_another_ca, _not_a_ca, _no_basic_constraints, _expired, _not_yet_valid,
                                    _sa_pub_of_another_key, _encrypted_key], ids=lambda f: f.__name__.strip("_"))
@pytest.mark.parametrize("dest_state", ["fresh", "made by the module"])
def test_a_bad_source_is_refused_naming_the_file_and_changes_nothing(tmp_path, damage, dest_state):
    source = kubeadm_pki(tmp_path / "pki")
    dest = tmp_path / "secrets"
    if dest_state != "fresh":  # adopted once already: a later run with a broken source must not touch it either
        assert not run_module(tmp_path, args(dest, source))[0].get("failed")
    rel, expected = damage(source)
    before = snapshot(dest)
    for check in (True, False):
        result, _out = run_module(tmp_path, args(dest, source), check=check)
        assert result.get("failed") and not result.get("changed"), result
        assert "changed nothing" in result["msg"]
        assert str(source / rel) in result["msg"], result["msg"]
        for text in expected:
            assert text in result["msg"], result["msg"]
        assert snapshot(dest) == before


def test_a_secrets_dir_with_another_ca_is_refused(tmp_path):
    source = kubeadm_pki(tmp_path / "pki")
    dest = tmp_path / "secrets"
    own = args(dest, source)
    del own["adopt"]
    assert run_module(tmp_path, own)[0]["changed"]  # the module's own CAs, and leaves they signed
    before = snapshot(dest)
    result, _out = run_module(tmp_path, args(dest, source))
    assert result.get("failed"), result
    msg = result["msg"]
    assert "%s already holds a different kubernetes CA" % (dest / "ca/kubernetes.crt") in msg
    assert "than the one adopted from %s" % (source / "ca.crt") in msg and "orphaned" in msg
    assert "%s already holds a different etcd CA" % (dest / "ca/etcd.crt") in msg
    assert "%s already holds a different service-account key" % (dest / "sa/sa.key") in msg
    assert "move %s and %s aside" % (dest / "ca/kubernetes.crt", dest / "ca/kubernetes.key") in msg
    assert snapshot(dest) == before

    # the way out the message gives: move the CA aside; what it signed is reissued by the adopted one
    for name in ("kubernetes", "etcd"):
        for ext in ("crt", "key"):
            os.rename(dest / "ca" / ("%s.%s" % (name, ext)), tmp_path / ("old-%s.%s" % (name, ext)))
    for rel in ("sa/sa.key", "sa/sa.pub"):
        os.rename(dest / rel, tmp_path / os.path.basename(rel))
    result, _out = run_module(tmp_path, args(dest, source))
    assert result["changed"] and "failed" not in result, result.get("msg")
    assert result["files"]["kubernetes/apiserver.crt"]["action"] == "reissued"
    assert "issuer is not the current kubernetes CA" in " ".join(result["files"]["kubernetes/apiserver.crt"]["reasons"])
    verify(source / "ca.crt", dest / "kubernetes/apiserver.crt")


def test_the_same_ca_written_otherwise_is_replaced_by_the_adopted_bytes(tmp_path):
    source = kubeadm_pki(tmp_path / "pki")
    dest = tmp_path / "secrets"
    run_module(tmp_path, args(dest, source))
    # the same key, in the traditional (PKCS#1) encoding: not another CA, so it is put back byte for byte
    rewrite_key(dest / "ca/kubernetes.key", "-traditional")
    assert (dest / "ca/kubernetes.key").read_bytes() != (source / "ca.key").read_bytes()
    result, _out = run_module(tmp_path, args(dest, source))
    assert {k: v["action"] for k, v in result["files"].items() if v["action"] != "unchanged"} == {"ca/kubernetes.key": "adopted"}
    assert result["files"]["ca/kubernetes.key"]["reasons"] == ["differs from %s, which is adopted" % (source / "ca.key")]
    assert (dest / "ca/kubernetes.key").read_bytes() == (source / "ca.key").read_bytes()


def test_adopt_with_regenerate_ca_is_refused(tmp_path):
    source = kubeadm_pki(tmp_path / "pki")
    dest = tmp_path / "secrets"
    result, _out = run_module(tmp_path, args(dest, source, regenerate_ca=["etcd:absent"]))
    assert result.get("failed") and "regenerate_ca names 'etcd:absent' while adopt takes the CAs" in result["msg"]
    assert not dest.exists()


def test_adopt_options_are_checked(tmp_path):
    dest = tmp_path / "secrets"
    spec = args(dest, tmp_path)
    spec["adopt"] = dict(layout="kops", dir=str(tmp_path), files=dict(ca_cert="x"))
    result, _out = run_module(tmp_path, spec)
    assert result.get("failed") and "layout" in result["msg"] and "kubeadm, guide" in result["msg"]
    assert not dest.exists()
