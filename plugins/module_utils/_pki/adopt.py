# Copyright (c) kubeha developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Adopting a PKI made elsewhere: kubeadm's ``/etc/kubernetes/pki``, or a ``/srv/kubernetes`` of the classic guide.

The Kubernetes CA (certificate and key), the service-account key pair and the etcd CA are read from
the source directory, checked, and copied unchanged (byte for byte) to their places in the secrets
directory, where they sign every leaf the engine issues. Nothing of them is ever regenerated.

Every problem is found before anything is written: a missing or unreadable file, a key that does not
belong to its certificate, a certificate that is no CA or is not valid now, an ``sa.pub`` that is not
the public half of ``sa.key``, and a secrets directory that already holds a different CA (or
service-account key), which adopting would orphan.
"""

from __future__ import annotations


import hashlib
import os

from ansible_collections.kubeha.cluster.plugins.module_utils._pki import desired, x509
from ansible_collections.kubeha.cluster.plugins.module_utils._pki.store import CERT_MODE, KEY_MODE
from ansible_collections.kubeha.cluster.plugins.module_utils._pki.x509 import PkiError

KUBEADM = "kubeadm"
GUIDE = "guide"

# item (the name of its adopt.files entry) -> (file in the secrets directory, what it is, mode there)
ITEMS = {
    "ca_crt": ("ca/kubernetes.crt", "the Kubernetes CA certificate", CERT_MODE),
    "ca_key": ("ca/kubernetes.key", "the Kubernetes CA key", KEY_MODE),
    "sa_key": (desired.SA_KEY, "the service-account signing key", KEY_MODE),
    "sa_pub": (desired.SA_PUB, "the service-account public key", CERT_MODE),
    "etcd_ca_crt": ("ca/etcd.crt", "the etcd CA certificate", CERT_MODE),
    "etcd_ca_key": ("ca/etcd.key", "the etcd CA key", KEY_MODE),
}
# where each item is in a layout, relative to adopt.dir
LAYOUTS = {
    KUBEADM: {"ca_crt": "ca.crt", "ca_key": "ca.key", "sa_key": "sa.key", "sa_pub": "sa.pub",
              "etcd_ca_crt": "etcd/ca.crt", "etcd_ca_key": "etcd/ca.key"},
    # the masters' /srv/kubernetes (desired.host_files names), with the etcd CA key beside etcd-ca.crt
    GUIDE: {"ca_crt": "ca.crt", "ca_key": "ca.key", "sa_key": "sa.key", "sa_pub": "sa.pub",
            "etcd_ca_crt": "etcd-ca.crt", "etcd_ca_key": "etcd-ca.key"},
}
# files a layout may hold that kubeha has no place for: a warning says they are left where they are
NOT_ADOPTED = {KUBEADM: ("front-proxy-ca.crt", "front-proxy-ca.key"), GUIDE: ()}
# (certificate item, key item, CA name) of the two CAs
CAS = (("ca_crt", "ca_key", desired.KUBERNETES_CA), ("etcd_ca_crt", "etcd_ca_key", desired.ETCD_CA))


class Item:
    """One adopted file: where it comes from, where it goes, its bytes, and whether the secrets directory has them."""

    def __init__(self, name, src, data):
        self.name = name
        self.src = src
        self.data = data
        self.rel, self.what, self.mode = ITEMS[name]
        self.in_place = False  # the secrets directory holds these very bytes already

    @property
    def option(self):
        return "adopt.files." + self.name


def sources(spec):
    """{item: absolute path} of a spec ({layout, dir, files}): the layout's names under dir, or what files names."""
    base = os.path.abspath(spec["dir"])
    given = spec.get("files") or {}
    out = {}
    for name, rel in LAYOUTS[spec["layout"]].items():
        path = given.get(name) or rel
        out[name] = os.path.normpath(os.path.join(base, os.path.expanduser(path)))
    return out


def _fp(data):
    return "sha256 %s" % hashlib.sha256(data).hexdigest()[:16]


def _fmt(when):
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def load(spec, store, now, regenerate_ca=()):
    """The adopted files, checked, as Items in ITEMS order; PkiError naming every problem (nothing is written here).

    ``store`` is the secrets directory: a CA or service-account key there that is not the adopted one is a
    problem, since adopting would orphan what it signed. An Item whose bytes are there already has in_place set.
    """
    layout = spec["layout"]
    problems = []
    items = {}
    for name, src in sources(spec).items():
        _rel, what, _mode = ITEMS[name]
        try:
            with open(src, "rb") as handle:
                items[name] = Item(name, src, handle.read())
        except (IOError, OSError) as exc:
            if not os.path.exists(src):
                problems.append("%s (%s of the %s layout) is missing: put it there, or name where it is in adopt.files.%s"
                                % (src, what, layout, name))
            else:
                problems.append("%s (%s) cannot be read (%s): make it readable by the user that runs the module on the controller"
                                % (src, what, exc.strerror or exc))
    objects = {}
    for cert_name, key_name, ca in CAS:
        if cert_name in items and key_name in items:
            objects[ca] = _check_ca(items[cert_name], items[key_name], now, problems)
    if "sa_key" in items and "sa_pub" in items:
        objects[desired.SERVICE_ACCOUNT] = _check_sa(items["sa_key"], items["sa_pub"], problems)
    for entry in regenerate_ca or []:
        problems.append("regenerate_ca names %r while adopt takes the CAs and the service-account key from %s: an adopted one is "
                        "used as it is, never replaced; remove the entry (or leave adopt out to replace a CA)" % (str(entry), spec["dir"]))
    _check_destinations(store, items, objects, problems)
    if problems:
        raise PkiError("adopting the %s PKI in %s changed nothing, because %d problem(s) were found: %s"
                       % (layout, spec["dir"], len(problems), "; ".join(problems)))
    return [items[name] for name in ITEMS]


def not_adopted(spec):
    """Files of the layout under dir that kubeha does not adopt (it has no place for them), as absolute paths."""
    base = os.path.abspath(spec["dir"])
    return [os.path.join(base, rel) for rel in NOT_ADOPTED[spec["layout"]] if os.path.exists(os.path.join(base, rel))]


def _parse(item, loader, wanted, problems):
    """``loader(item.data)``, or None after adding a problem naming the file, what it is, and the ``wanted`` one."""
    try:
        return loader(item.data)
    except PkiError as exc:
        problems.append("%s (%s) is %s: name %s in %s" % (item.src, item.what, exc, wanted, item.option))
        return None


def _check_ca(cert_item, key_item, now, problems):
    """(certificate, key) of an adopted CA, or None after adding its problems."""
    found = len(problems)
    cert = _parse(cert_item, x509.load_cert, "the CA's PEM certificate", problems)
    key = _parse(key_item, x509.load_key, "the CA's unencrypted PEM key", problems)  # load_key checks it: it will sign
    if cert is None:
        return None
    subject = x509.name_to_string(cert.subject) or "an empty subject"
    flag = x509.ca_flag(cert)
    if not flag:
        problems.append("%s (%s) is not a CA certificate: %s is %s, so nothing it signs is trusted. Name the CA's own certificate "
                        "in %s" % (cert_item.src, subject, "basicConstraints", "missing" if flag is None else "CA:FALSE", cert_item.option))
    elif not x509.may_sign_certificates(cert):
        problems.append("%s (%s) is a CA whose keyUsage lacks keyCertSign, so nothing it signs is trusted. Name a CA certificate "
                        "that may sign certificates in %s" % (cert_item.src, subject, cert_item.option))
    if cert.not_valid_after_utc <= now:
        problems.append("%s (%s) expired on %s: nothing it signs is trusted. Renew that CA where it was made and adopt the "
                        "renewed one, or leave adopt out to have kubeha make new CAs" % (cert_item.src, subject, _fmt(cert.not_valid_after_utc)))
    elif cert.not_valid_before_utc > now:
        problems.append("%s (%s) is not valid before %s (now %s): check the controller's clock, or the CA's dates"
                        % (cert_item.src, subject, _fmt(cert.not_valid_before_utc), _fmt(now)))
    if key is not None and not x509.cert_matches_key(cert, key):
        problems.append("%s does not match the certificate %s (%s): its public half is another key's. Name the key of that CA in %s"
                        % (key_item.src, cert_item.src, subject, key_item.option))
    return (cert, key) if len(problems) == found else None


def _check_sa(key_item, pub_item, problems):
    """The adopted service-account key, or None after adding its problems."""
    found = len(problems)
    key = _parse(key_item, x509.load_key, "an unencrypted PEM key", problems)
    pub = _parse(pub_item, x509.load_public_key, "the PEM public key of sa.key", problems)
    if key is not None and pub is not None and not x509.same_public_key(key, pub):
        problems.append("%s is not the public half of %s: the apiserver would refuse the tokens that key signs. Name the sa.pub "
                        "that belongs to it in %s, or make it anew: openssl pkey -in %s -pubout -out sa.pub"
                        % (pub_item.src, key_item.src, pub_item.option, key_item.src))
    return key if len(problems) == found else None


def _owner(name):
    """The CA (or the service-account key) an item belongs to."""
    if name.startswith("sa_"):
        return desired.SERVICE_ACCOUNT
    return desired.ETCD_CA if name.startswith("etcd_") else desired.KUBERNETES_CA


def _same(rel, have, adopted):
    """Whether the bytes ``have`` of the secrets directory's ``rel`` are the adopted CA (cert, key) or service-account key."""
    try:
        if rel.endswith(".crt"):
            return x509.same_cert(x509.load_cert(have), adopted[0])
        public = adopted if rel.startswith("sa/") else adopted[0].public_key()
        if rel.endswith(".pub"):
            return x509.same_public_key(x509.load_public_key(have), public)
        return x509.same_public_key(x509.load_key(have, check=False), public)
    except PkiError:
        return False


def _check_destinations(store, items, objects, problems):
    """Set in_place on the items whose bytes the secrets directory holds; a problem where it holds another CA or key.

    A file there that is the same CA or key written otherwise (another PEM encoding) is not a problem: the adopted
    bytes replace it.
    """
    for owner in (desired.KUBERNETES_CA, desired.SERVICE_ACCOUNT, desired.ETCD_CA):
        for item in (i for i in items.values() if _owner(i.name) == owner):
            try:
                have = store.read(item.rel)
            except (IOError, OSError) as exc:
                problems.append("%s cannot be read (%s): fix its permissions" % (store.path(item.rel), exc.strerror or exc))
                continue
            item.in_place = have == item.data
            if have is None or item.in_place or objects.get(owner) is None or _same(item.rel, have, objects[owner]):
                continue  # (a source with problems of its own: they are said already)
            what = "service-account key" if owner == desired.SERVICE_ACCOUNT else "%s CA" % owner
            harm = ("every service-account token signed with the key there would stop working" if owner == desired.SERVICE_ACCOUNT
                    else "every certificate the one there signed would be orphaned")
            files = " and ".join(store.path(ITEMS[name][0]) for name in sorted(items) if _owner(name) == owner)
            problems.append("%s already holds a different %s (%s) than the one adopted from %s (%s): %s. Adopt into an empty "
                            "secrets directory, or keep that %s by leaving adopt out; to move to the adopted one, first move %s "
                            "aside (keep a backup), and what it signed is reissued"
                            % (store.path(item.rel), what, _fp(have), item.src, _fp(item.data), harm, what, files))
            break  # one message for one CA
