# Copyright (c) kubeha developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Desired PKI -> plan (what to create or reissue, and why) -> write.

Decisions come from content, never from existence alone: a leaf is reissued when it is missing or
unreadable, its key does not match, its issuer is not the current CA, its subject, SANs or usages
differ from what is asked, or it expires within ``renew_before`` days. A CA (and the
service-account key) is made when absent and otherwise never replaced unless ``regenerate_ca``
names it. Keys are generated only when a file needs a new one, all at once on a thread pool.

A CA is rotated with dual trust (``rotate_ca``), one phase per run, each rolled out before the next: ``trust`` makes
the next CA (``ca/<name>-next.{crt,key}``), trusted beside the current one; ``sign`` makes it the current CA (the old
certificate stays trusted as ``ca/<name>-previous.crt``), so every leaf is reissued by it; ``finish`` drops the
previous one. What the hosts trust is ``ca/<name>-trust.crt``: the current CA first (the one ``ca/<name>.key``
matches), then the next or the previous one while they exist - decided from the files, so a rotation whose variable
is dropped half way keeps trusting both. That order holds for the CAs a host signs with (desired.SIGNED_ON_HOSTS: the
Kubernetes CA); the others' bundles (etcd's) keep the order the CAs came in (previous, current, next), so that sign
leaves them as they were.

With ``adopt``, the CAs and the service-account key pair come from a PKI made elsewhere (adopt.py):
plan() lays the adopted bytes over the secrets directory (``overlay``), so that everything after it,
check mode included, decides as if they were there; apply() writes them first.
"""

from __future__ import annotations


import datetime
import hashlib
import os
from concurrent.futures import ThreadPoolExecutor

from ansible_collections.kubeha.cluster.plugins.module_utils._pki import adopt, authfiles, bundle, desired, x509
from ansible_collections.kubeha.cluster.plugins.module_utils._pki.store import CERT_MODE, KEY_MODE, Store
# the one error of the PKI code (re-exported: the module catches it from here)
from ansible_collections.kubeha.cluster.plugins.module_utils._pki.x509 import PkiError

CREATED = "created"
REISSUED = "reissued"
REGENERATED = "regenerated"
UPDATED = "updated"
MODE = "mode_restored"
ADOPTED = "adopted"
ROTATED = "rotated"
REMOVED = "removed"
UNCHANGED = "unchanged"
# the service-account key's rotation (rotate_ca: service_account)
SA_NEXT_KEY = "sa/sa-next.key"
SA_PREVIOUS_PUB = "sa/sa-previous.pub"
# a CA rotation's phases (rotate_ca), in their order
ROTATION_PHASES = ("trust", "sign", "finish")


def _fmt(when):
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def _mode_str(mode):
    return "0%o" % mode if mode is not None else "absent"


class Engine:
    """One run of the module: plan(), then apply() unless in check mode."""

    def __init__(self, params, warn=None):
        self.p = params
        self.store = Store(params["dest"])
        self.warn = warn or (lambda msg: None)
        self.now = x509.now()
        self.renew = datetime.timedelta(days=params["renew_before"])
        self.files = {}      # rel -> {"action", "reasons"}
        self.before = {}     # rel -> description (changed files only)
        self.after = {}
        self.cas = {}        # name -> (cert, key) objects (current, or new after apply)
        self.new_keys = {}   # rel -> key type to generate
        self.leaf_plan = []  # (leaf, reasons) to issue
        self.writes = []     # callables run by apply(), in order
        self.dir_changed = False
        self._forced_cache = {}  # CA name -> whether regenerate_ca asks to replace it (decided once per run)
        self.stale = {}          # host -> secret paths it must not keep (bundles())
        self.overlay = {}        # rel -> bytes of an adopted file the secrets directory does not hold yet (written first)
        self.gone = set()        # rels a CA rotation removes (read as absent from plan() on; removed by apply())
        self.next_cas = set()    # CA names whose next CA (rotate_ca: trust) apply() makes

    # ------------------------------------------------------------------ helpers
    def _record(self, rel, action, reasons=(), before=None, after=None):
        self.files[rel] = {"action": action, "reasons": list(reasons)}
        if action != UNCHANGED:
            self.before[rel] = before if before is not None else {"state": "absent"}
            self.after[rel] = after if after is not None else {"state": "present"}

    def _read(self, rel):
        if rel in self.gone:
            return None, None
        if rel in self.overlay:
            return self.overlay[rel], None
        try:
            return self.store.read(rel), None
        except (IOError, OSError) as exc:
            return None, "unreadable (%s)" % (exc.strerror or exc)

    def _mode_fix(self, rel, want):
        """Record (and queue) a mode restore for a file whose content is right."""
        if rel in self.overlay:
            return False  # adopted: written with its mode, and recorded so
        have = self.store.mode(rel)
        if have is not None and have != want:
            self._record(rel, MODE, ["mode was %s, %s restored" % (_mode_str(have), _mode_str(want))],
                         {"mode": _mode_str(have)}, {"mode": _mode_str(want)})
            self.writes.append(lambda: self.store.chmod(rel, want))
            return True
        self._record(rel, UNCHANGED)
        return False

    # ------------------------------------------------------------------ plan
    def plan(self):
        root_mode = self.store.mode("")
        if root_mode is None or root_mode != 0o700:
            self.dir_changed = True
            self._record(".", CREATED if root_mode is None else MODE,
                         ["missing"] if root_mode is None else ["mode was %s, 0700 restored" % _mode_str(root_mode)],
                         {"mode": _mode_str(root_mode)}, {"mode": "0700"})
        if self.p.get("adopt"):
            self._plan_adopt()
        for name in (desired.KUBERNETES_CA, desired.ETCD_CA):
            self._plan_rotation(name)
            self._plan_ca(name)
            self._plan_trust(name)
        self._plan_sa_rotation()
        self._plan_sa()
        for leaf in desired.leaves(self.p):
            self._plan_leaf(leaf)
        self._plan_authfile(desired.BASIC_AUTH, self.p.get("basic_auth_users") or [], "password")
        self._plan_authfile(desired.KNOWN_TOKENS, self.p.get("tokens") or [], "token")

    def _plan_adopt(self):
        """Lay the adopted files over the secrets directory; PkiError (nothing written) on any problem with them."""
        spec = self.p["adopt"]
        items = adopt.load(spec, self.store, self.now, self.p.get("regenerate_ca"))
        for item in items:
            if item.in_place:
                continue
            have, _err = self._read(item.rel)
            self.overlay[item.rel] = item.data
            reason = "adopted from %s" % item.src if have is None else "differs from %s, which is adopted" % item.src
            self._record(item.rel, ADOPTED, [reason], _describe(item.rel, have) if have is not None else None,
                         dict(_describe(item.rel, item.data), adopted_from=item.src))
        left = adopt.not_adopted(spec) if self.overlay else []
        if left:
            self.warn("adopt: %s not adopted: kubeha has no front-proxy CA (aggregation layer)" % " and ".join(left))

    def _regen_entry(self, name):
        """What ``regenerate_ca`` must say to replace the ``name`` CA there now: ``name:<sha256 of its file, 16 hex>``.

        The file is ``ca/<name>.crt`` (``sa/sa.key`` for the service-account key); ``name:absent`` when it is not there.
        """
        rel = desired.SA_KEY if name == desired.SERVICE_ACCOUNT else "ca/%s.crt" % name
        data, _err = self._read(rel)
        return "%s:%s" % (name, hashlib.sha256(data).hexdigest()[:16] if data is not None else "absent")

    def _forced(self, name):
        """Whether ``regenerate_ca`` asks to replace the ``name`` CA that is there now (one-shot: tied to its fingerprint)."""
        cache = self._forced_cache
        if name in cache:
            return cache[name]
        entries = [str(e) for e in self.p.get("regenerate_ca") or [] if str(e).split(":", 1)[0] == name]
        current = self._regen_entry(name)
        if not entries:
            cache[name] = False
        elif any(":" not in e for e in entries):
            raise PkiError("regenerate_ca: %r names no fingerprint, so it would make a new %s on every run while it stays "
                           "set. To replace the one there now, set regenerate_ca: ['%s'] (its name and the first 16 hex "
                           "digits of its file's sha256); once it is replaced, that entry does nothing and can go."
                           % (name, "service-account key" if name == desired.SERVICE_ACCOUNT else name + " CA", current))
        elif current in entries:
            cache[name] = True
        else:
            cache[name] = False
            self.warn("regenerate_ca: %s names a %s that is not there any more (now %s): nothing regenerated, an earlier run "
                      "did it. Remove the entry from the inventory." % (", ".join(entries), name, current))
        return cache[name]

    def _ca_pair(self, crt, key):
        """(cert, key) of a CA pair in the secrets directory; PkiError naming what is wrong with it."""
        cert_data, cert_err = self._read(crt)
        key_data, key_err = self._read(key)
        problem = cert_err or key_err
        if not problem and (cert_data is None or key_data is None):
            problem = "%s is missing" % (crt if cert_data is None else key)
        if not problem:
            cert, ca_key = x509.load_cert(cert_data), x509.load_key(key_data, check=False)
            if not x509.cert_matches_key(cert, ca_key):
                problem = "%s does not match %s" % (crt, key)
            elif not x509.is_ca(cert):
                problem = "%s is not a CA certificate" % crt
            elif cert.not_valid_after_utc <= self.now:
                problem = "%s expired on %s" % (crt, _fmt(cert.not_valid_after_utc))
            else:
                return cert, ca_key
        raise PkiError(problem)

    def _rotation_refusals(self, name, where, what, current):
        """What refuses any rotate_ca phase of ``name`` (``what``: the CA or key, whose file is ``current``)."""
        if any(str(e).split(":", 1)[0] == name for e in self.p.get("regenerate_ca") or []):
            raise PkiError("%s and regenerate_ca both name the %s: regenerate_ca replaces it at once (what it signed is not "
                           "accepted any more), rotate_ca replaces it with dual trust; keep one of them" % (where, what))
        if self.p.get("adopt"):
            raise PkiError("%s with adopt set: adopt would copy the adopted %s over the rotated one on every run. Once adopted, "
                           "it is in the secrets directory: remove adopt (secrets_adopt) first, then rotate" % (where, what))
        if self.store.mode(current) is None:
            raise PkiError("%s: there is no %s to rotate yet (%s is missing); remove rotate_ca for a new cluster" % (where, what, current))

    def _plan_rotation(self, name):
        """rotate_ca's phase for the ``name`` CA: make the next CA (trust), make it current (sign), drop the previous (finish).

        Each phase is decided from the files: a phase run again does what is left of it, or nothing."""
        phase = (self.p.get("rotate_ca") or {}).get(name)
        if not phase:
            return
        crt, key = "ca/%s.crt" % name, "ca/%s.key" % name
        nxt_crt, nxt_key, prev = "ca/%s-next.crt" % name, "ca/%s-next.key" % name, "ca/%s-previous.crt" % name
        has_next = self.store.mode(nxt_crt) is not None or self.store.mode(nxt_key) is not None
        has_prev = self.store.mode(prev) is not None
        where = "rotate_ca: %s: %s" % (name, phase)
        if phase not in ROTATION_PHASES:
            raise PkiError("%s is not a phase; the phases are %s, one run each, in that order" % (where, ", ".join(ROTATION_PHASES)))
        self._rotation_refusals(name, where, "%s CA" % name, crt)
        if phase == "trust":
            if has_prev and not has_next:
                raise PkiError("%s, but this rotation is past that phase: the new %s CA signs already (%s is the old one, still "
                               "trusted). Run sign again (it resumes what is left of it), then finish" % (where, name, prev))
            if has_next:
                try:
                    self._ca_pair(nxt_crt, nxt_key)
                except PkiError as exc:
                    raise PkiError("%s: the next CA made by an earlier run cannot be used: %s. Remove %s and %s and run trust "
                                   "again (nothing signed by it yet)" % (where, exc, self.store.path(nxt_crt), self.store.path(nxt_key))) from None
                return
            self.next_cas.add(name)
            self.new_keys[nxt_key] = self.p["key_type"]
            reason = "rotate_ca: trust - the next %s CA, trusted beside the current one until it signs" % name
            self._record(nxt_key, CREATED, [reason], None, {"key_type": self.p["key_type"], "state": "new key"})
            self._record(nxt_crt, CREATED, [reason], None, {"subject": "CN=" + self._next_ca_name(name), "ca": True})
        elif phase == "sign":
            if not has_next:
                if has_prev:
                    return  # made current by an earlier run: its leaves are reissued as for any other issuer
                raise PkiError("%s, but no rotation was started: run trust first, and roll it out, so that every host trusts "
                               "the next CA before anything it signs is used" % where)
            try:
                self._ca_pair(nxt_crt, nxt_key)
            except PkiError as exc:
                raise PkiError("%s: the next CA cannot be used: %s. Nothing signed by it is used yet: remove %s and %s and run "
                               "trust again" % (where, exc, self.store.path(nxt_crt), self.store.path(nxt_key))) from None
            current, _err = self._read(crt)
            old = x509.describe(x509.load_cert(current)) if current is not None and _parses(current) else None
            self.overlay[crt], self.overlay[key] = self.store.read(nxt_crt), self.store.read(nxt_key)
            self.overlay[prev] = current
            reason = "rotate_ca: sign - the next %s CA signs from now on" % name
            self._record(crt, ROTATED, [reason], old, x509.describe(x509.load_cert(self.overlay[crt])))
            self._record(key, ROTATED, [reason], {"key_type": "replaced"}, {"key_type": "the next CA's"})
            self._record(prev, CREATED, ["rotate_ca: sign - the old %s CA, still trusted until finish" % name], None, old)
            for rel in (nxt_crt, nxt_key):
                self.gone.add(rel)
                self._record(rel, REMOVED, ["rotate_ca: sign - it is the current %s CA now" % name], {"state": "present"},
                             {"state": "absent"})
        else:
            if has_next:
                raise PkiError("%s, but the next %s CA does not sign yet (%s is there): run sign, and roll it out, first"
                               % (where, name, nxt_crt))
            if has_prev:
                self.gone.add(prev)
                self._record(prev, REMOVED, ["rotate_ca: finish - every certificate is signed by the current %s CA" % name],
                             {"state": "present"}, {"state": "absent"})

    def _next_ca_name(self, name):
        """The next CA's common name: the CA's own, with the time it is made (two CAs never share a subject)."""
        return "%s-%s" % (desired.CA_NAMES[name], self.now.strftime("%Y%m%d%H%M%S"))

    def _plan_trust(self, name):
        """ca/<name>-trust.crt: what every host trusts - the current CA, then the next or the previous one while it exists."""
        rel = "ca/%s-trust.crt" % name
        current, nxt, previous = "ca/%s.crt" % name, "ca/%s-next.crt" % name, "ca/%s-previous.crt" % name
        # the signing CA first where a host signs with it (desired.SIGNED_ON_HOSTS); elsewhere the order the CAs came in,
        # the old one first: sign leaves that bundle as it was (the same two certificates)
        parts = [current, nxt, previous] if name in desired.SIGNED_ON_HOSTS else [previous, current, nxt]

        def content():
            return b"".join(self._read(part)[0] or b"" for part in parts)

        made_here = self.cas.get(name) is None or name in self.next_cas
        have, err = self._read(rel)
        if err:
            raise PkiError("%s is %s: fix its permissions or remove it (it is made again)" % (self.store.path(rel), err))
        if not made_here and content() == have:
            self._mode_fix(rel, CERT_MODE)
            return
        trusted = [part for part in parts if self._read(part)[0] is not None or (part == nxt and name in self.next_cas)
                   or (part == current and made_here)]
        self._record(rel, CREATED if have is None else UPDATED, ["trusts %s" % ", ".join(trusted)],
                     {"state": "present"} if have is not None else None, {"trusts": trusted})

        def write():
            data = content()
            if data != self.store.read(rel):
                self.store.write(rel, data, CERT_MODE)
        self.writes.append(write)

    def _plan_ca(self, name):
        crt, key = "ca/%s.crt" % name, "ca/%s.key" % name
        cert_data, cert_err = self._read(crt)
        key_data, key_err = self._read(key)
        if self._forced(name):
            reason = "regenerate_ca asks for a new %s CA" % name
        elif cert_data is None and key_data is None and not cert_err and not key_err:
            reason = "missing"
            signed = [leaf.cert for leaf in desired.leaves(self.p) if leaf.ca == name and self.store.mode(leaf.cert) is not None]
            if signed:
                raise PkiError(
                    "%s CA in %s is missing (ca/%s.crt and ca/%s.key) while certificates it signed are there (%s): a new CA "
                    "would silently replace it. Restore ca/%s.crt and ca/%s.key from a backup, or set regenerate_ca: ['%s'] "
                    "to make a new CA and reissue everything it signs." % (
                        name, self.store.root, name, name, ", ".join(signed[:3]) + (", ..." if len(signed) > 3 else ""), name, name,
                        self._regen_entry(name)))
        else:
            cert, ca_key, problem = None, None, cert_err or key_err
            if not problem:
                try:
                    cert = x509.load_cert(cert_data) if cert_data is not None else None
                    ca_key = x509.load_key(key_data, check=False) if key_data is not None else None
                except PkiError as exc:
                    problem = str(exc)
            if not problem:
                if cert is None or ca_key is None:
                    problem = "%s is missing while %s exists" % (crt if cert is None else key, key if cert is None else crt)
                elif not x509.cert_matches_key(cert, ca_key):
                    problem = "%s does not match %s" % (crt, key)
                elif not x509.is_ca(cert):
                    problem = "%s is not a CA certificate" % crt
            if problem:
                raise PkiError(
                    "%s CA in %s cannot be used: %s. A CA is never replaced on its own, because every certificate it "
                    "signed would stop being trusted: restore ca/%s.crt and ca/%s.key from a backup, or set "
                    "regenerate_ca: ['%s'] to make a new CA and reissue everything it signs."
                    % (name, self.store.root, problem, name, name, self._regen_entry(name)))
            self.cas[name] = (cert, ca_key)
            left = cert.not_valid_after_utc - self.now
            if left <= datetime.timedelta(0):
                self.warn("THE %s CA EXPIRED on %s: nothing it signed is trusted any more. Set regenerate_ca: ['%s'] "
                          "to make a new CA and reissue every certificate, then redistribute." % (
                              name.upper(), _fmt(cert.not_valid_after_utc), self._regen_entry(name)))
            elif left < self.renew:
                self.warn("THE %s CA EXPIRES on %s (in %d days, within renew_before=%d): leaves cannot outlive it. Plan a CA rotation: "
                          "set regenerate_ca: ['%s'], then redistribute." % (
                              name.upper(), _fmt(cert.not_valid_after_utc), left.days, self.p["renew_before"], self._regen_entry(name)))
            self._mode_fix(key, KEY_MODE)
            self._mode_fix(crt, CERT_MODE)
            return
        key_type = self.p["key_type"]
        self.new_keys[key] = key_type
        before_cert = x509.describe(x509.load_cert(cert_data)) if cert_data and reason != "missing" and _parses(cert_data) else None
        self._record(key, CREATED if reason == "missing" else REGENERATED, [reason],
                     {"key_type": "absent"} if key_data is None else {"key_type": "replaced"}, {"key_type": key_type, "state": "new key"})
        self._record(crt, CREATED if reason == "missing" else REGENERATED, [reason], before_cert, {
            "subject": "CN=" + desired.CA_NAMES[name], "not_after": _fmt(self.now + datetime.timedelta(days=self.p["ca_valid_days"])),
            "ca": True})
        self.cas[name] = None  # made by apply()

    def _plan_sa_rotation(self):
        """rotate_ca's phase for the service-account key, as for a CA: trust (the next key's public half is accepted
        beside the current one), sign (the next key signs; the old public half stays accepted, so tokens it signed
        stay valid until they expire), finish (the old public half is accepted no more)."""
        name = desired.SERVICE_ACCOUNT
        phase = (self.p.get("rotate_ca") or {}).get(name)
        if not phase:
            return
        nxt, prev = SA_NEXT_KEY, SA_PREVIOUS_PUB
        has_next, has_prev = self.store.mode(nxt) is not None, self.store.mode(prev) is not None
        where = "rotate_ca: %s: %s" % (name, phase)
        self._rotation_refusals(name, where, "service-account key", desired.SA_KEY)
        if phase == "trust":
            if has_prev and not has_next:
                raise PkiError("%s, but this rotation is past that phase: the new key signs already (%s is the old one's public "
                               "half, still accepted). Run sign again (it resumes), then finish" % (where, prev))
            if not has_next:
                self.new_keys[nxt] = self.p["key_type"]
                self._record(nxt, CREATED, ["rotate_ca: trust - the next service-account key, accepted beside the current "
                                            "one until it signs"], None, {"key_type": self.p["key_type"], "state": "new key"})
        elif phase == "sign":
            if not has_next:
                if has_prev:
                    return
                raise PkiError("%s, but no rotation was started: run trust first, and roll it out, so that every apiserver "
                               "accepts the next key before it signs a token" % where)
            current, _err = self._read(desired.SA_KEY)
            try:
                old_pub = x509.public_key_to_pem(x509.load_key(current, check=False))
                self.overlay[desired.SA_KEY] = self.store.read(nxt)
                x509.load_key(self.overlay[desired.SA_KEY], check=False)
            except (PkiError, TypeError) as exc:
                raise PkiError("%s: the keys cannot be read (%s): restore %s from a backup, or remove %s and run trust again"
                               % (where, exc, self.store.path(desired.SA_KEY), self.store.path(nxt))) from None
            self.overlay[prev] = old_pub
            self._record(desired.SA_KEY, ROTATED, ["rotate_ca: sign - the next service-account key signs from now on"],
                         {"key_type": "replaced"}, {"key_type": "the next key's"})
            self._record(prev, CREATED, ["rotate_ca: sign - the old key's public half, accepted until finish"])
            self.gone.add(nxt)
            self._record(nxt, REMOVED, ["rotate_ca: sign - it is the current key now"], {"state": "present"}, {"state": "absent"})
        elif has_next:
            raise PkiError("%s, but the next key does not sign yet (%s is there): run sign, and roll it out, first" % (where, nxt))
        elif has_prev:
            self.gone.add(prev)
            self._record(prev, REMOVED, ["rotate_ca: finish - tokens signed by the old key are accepted no more"],
                         {"state": "present"}, {"state": "absent"})

    def _sa_extra_public(self, applied=False):
        """The public halves sa.pub holds beside sa.key's during a rotation (the next key's, or the previous one), or None
        when the next key is made by this run and apply() has not made it yet."""
        if SA_NEXT_KEY in self.new_keys and not applied:
            return None
        out = b""
        nxt, _err = self._read(SA_NEXT_KEY)
        if nxt is not None:
            out += x509.public_key_to_pem(x509.load_key(nxt, check=False))
        prev, _err = self._read(SA_PREVIOUS_PUB)
        return out + (prev or b"")

    def _plan_sa(self):
        key_data, key_err = self._read(desired.SA_KEY)
        pub_data, _err = self._read(desired.SA_PUB)
        sa_key = None
        if key_data is not None and not self._forced(desired.SERVICE_ACCOUNT):
            try:
                sa_key = x509.load_key(key_data, check=False)
            except PkiError as exc:
                key_err = str(exc)
        if key_err and not self._forced(desired.SERVICE_ACCOUNT):
            raise PkiError("%s is %s. It signs every service-account token, so it is never replaced on its own: restore it from a "
                           "backup, or set regenerate_ca: ['%s'] (existing tokens stop working)."
                           % (self.store.path(desired.SA_KEY), key_err, self._regen_entry(desired.SERVICE_ACCOUNT)))
        if sa_key is None and key_data is None and pub_data is not None and not self._forced(desired.SERVICE_ACCOUNT):
            raise PkiError("%s is missing while sa.pub is there: a new key would invalidate every service-account token. Restore it "
                           "from a backup, or set regenerate_ca: ['%s']." % (
                               self.store.path(desired.SA_KEY), self._regen_entry(desired.SERVICE_ACCOUNT)))
        if sa_key is None:
            reason = "regenerate_ca asks for a new service-account key" if key_data is not None else "missing"
            self.new_keys[desired.SA_KEY] = self.p["key_type"]
            self._record(desired.SA_KEY, CREATED if key_data is None else REGENERATED, [reason],
                         {"key_type": "absent" if key_data is None else "replaced"}, {"key_type": self.p["key_type"], "state": "new key"})
            self._record(desired.SA_PUB, CREATED if pub_data is None else UPDATED, ["public half of a new sa.key"])
            self.sa_key = None
            return
        self.sa_key = sa_key
        self._mode_fix(desired.SA_KEY, KEY_MODE)
        want = x509.public_key_to_pem(sa_key)
        extra = self._sa_extra_public()
        if extra is None or extra:
            # a rotation: sa.pub holds sa.key's public half first, then the next key's or the previous one
            def bundle(applied=False):
                return want + (self._sa_extra_public(applied) or b"")
            if extra is None or bundle() != pub_data:
                self._record(desired.SA_PUB, CREATED if pub_data is None else UPDATED,
                             ["the public halves of the keys a rotation accepts (rotate_ca)"])
                self.writes.append(lambda: self.store.write(desired.SA_PUB, bundle(True), CERT_MODE))
            else:
                self._mode_fix(desired.SA_PUB, CERT_MODE)
        elif not _holds_public_half(pub_data, sa_key) or _public_halves(pub_data) > 1:
            self._record(desired.SA_PUB, CREATED if pub_data is None else UPDATED,
                         ["missing" if pub_data is None else "does not hold the public half of sa.key (alone)"])
            self.writes.append(lambda: self.store.write(desired.SA_PUB, want, CERT_MODE))
        else:
            self._mode_fix(desired.SA_PUB, CERT_MODE)

    def _plan_leaf(self, leaf):
        key_type = self.p["key_type"]
        key_data, key_err = self._read(leaf.key)
        key, key_reason = None, None
        if key_err:
            key_reason = "key " + key_err
        elif key_data is None:
            key_reason = "key missing"
        else:
            try:
                key = x509.load_key(key_data, check=False)
                if x509.key_type_of(key) != key_type:
                    key_reason = "key is %s, %s asked" % (x509.key_type_of(key), key_type)
                    key = None
            except PkiError as exc:
                key_reason = "key unreadable: %s" % exc
        ca = self.cas[leaf.ca]
        cert_data, cert_err = self._read(leaf.cert)
        cert, reasons = None, []
        if cert_err:
            reasons.append("certificate " + cert_err)
        elif cert_data is None:
            reasons.append("missing")
        else:
            try:
                cert = x509.load_cert(cert_data)
            except PkiError as exc:
                reasons.append("unreadable: %s" % exc)
        if cert is not None:
            reasons += self._leaf_problems(leaf, cert, key, ca)
        if key_reason:
            self.new_keys[leaf.key] = key_type
            self._record(leaf.key, CREATED if key_data is None else REGENERATED, [key_reason],
                         {"key_type": "absent"} if key_data is None else {"key_type": _key_type_or_unreadable(key_data)},
                         {"key_type": key_type, "state": "new key"})
            if not reasons:
                reasons.append("new key")
        else:
            self._mode_fix(leaf.key, KEY_MODE)
        if reasons:
            self._record(leaf.cert, CREATED if cert_data is None else REISSUED, reasons,
                         x509.describe(cert) if cert is not None else None, self._planned(leaf, ca))
            self.leaf_plan.append(leaf)
        else:
            self._mode_fix(leaf.cert, CERT_MODE)

    def _leaf_problems(self, leaf, cert, key, ca):
        reasons = []
        if key is not None and not x509.cert_matches_key(cert, key):
            reasons.append("key does not match the certificate")
        if ca is None:
            reasons.append("issuer is not the current CA (a new %s CA is made)" % leaf.ca)
        elif not x509.issued_by(cert, ca[0]):
            reasons.append("issuer is not the current %s CA (issued by %s)" % (leaf.ca, x509.name_to_string(cert.issuer)))
        want_subject = x509.make_name(leaf.common_name, leaf.organizations)
        if cert.subject != want_subject:
            reasons.append("subject is %s, %s asked" % (x509.name_to_string(cert.subject), x509.name_to_string(want_subject)))
        dns, ips = x509.sans_of(cert)
        have = set(d.lower() for d in dns) | set(ips)
        want = set(leaf.dns_names) | set(leaf.ip_addresses)
        if have != want:
            parts = []
            if want - have:
                parts.append("missing %s" % ", ".join(sorted(want - have)))
            if have - want:
                parts.append("not asked %s" % ", ".join(sorted(have - want)))
            reasons.append("SANs differ: " + "; ".join(parts))
        if x509.eku_of(cert) != x509.eku_names(leaf.profile):
            reasons.append("extended key usage is %s, %s asked" % (x509.eku_of(cert) or "none", x509.eku_names(leaf.profile)))
        end = cert.not_valid_after_utc
        # a leaf already lasting as long as its CA cannot be improved by reissuing it
        ca_end = ca[0].not_valid_after_utc if ca else None
        if end - self.now < self.renew and (ca_end is None or end < ca_end):
            if end <= self.now:
                reasons.append("expired on %s" % _fmt(end))
            else:
                reasons.append("expires on %s, within renew_before (%d days)" % (_fmt(end), self.p["renew_before"]))
        return reasons

    def _planned(self, leaf, ca):
        end = self.now + datetime.timedelta(days=self.p["cert_valid_days"])
        if ca is not None:
            end = min(end, ca[0].not_valid_after_utc)
        return {
            "subject": x509.name_to_string(x509.make_name(leaf.common_name, leaf.organizations)),
            "issuer": x509.name_to_string(ca[0].subject) if ca is not None else "CN=" + desired.CA_NAMES[leaf.ca],
            "not_after": _fmt(end),
            "dns_names": leaf.dns_names,
            "ip_addresses": leaf.ip_addresses,
            "extended_key_usage": x509.eku_names(leaf.profile),
            "key_type": self.p["key_type"],
        }

    def _plan_authfile(self, rel, entries, secret_key):
        data, err = self._read(rel)
        if err:
            raise PkiError("%s is %s: fix its permissions or remove it to start it anew" % (self.store.path(rel), err))
        content, added, removed = authfiles.render(entries, data, secret_key)
        if content != data:
            reasons = []
            if data is None:
                reasons.append("missing")
            if added and data is not None:
                reasons.append("users added: %s" % ", ".join(added))
            if removed:
                reasons.append("users removed: %s" % ", ".join(removed))
            if not reasons:
                reasons.append("uid, groups or a given secret changed")
            self._record(rel, CREATED if data is None else UPDATED, reasons,
                         {"users": authfiles.users_of(data)} if data is not None else None,
                         {"users": [e["name"] for e in entries]})
            self.writes.append(lambda: self.store.write(rel, content, KEY_MODE))
        else:
            self._mode_fix(rel, KEY_MODE)

    # ------------------------------------------------------------------ apply
    def changed(self):
        return any(f["action"] != UNCHANGED for f in self.files.values())

    def apply(self):
        """Write what plan() found, in order: directory, keys, CAs, SA, leaves, other files."""
        self.store.ensure_dir()
        for rel in sorted(self.overlay):  # adopted, or a rotated CA: before anything reads or signs with them
            self.store.write(rel, self.overlay[rel], KEY_MODE if rel.endswith(".key") else CERT_MODE)
        for rel in sorted(self.gone):
            if self.store.mode(rel) is not None:
                os.unlink(self.store.path(rel))
        keys = self._generate(self.new_keys)
        for name in (desired.KUBERNETES_CA, desired.ETCD_CA):
            if self.cas[name] is None:
                crt, key_rel = "ca/%s.crt" % name, "ca/%s.key" % name
                key = keys[key_rel]
                cert = x509.make_ca(key, desired.CA_NAMES[name], self.p["ca_valid_days"])
                self.store.write(key_rel, x509.key_to_pem(key), KEY_MODE)
                self.store.write(crt, x509.cert_to_pem(cert), CERT_MODE)
                self.cas[name] = (cert, key)
                self.after[crt] = x509.describe(cert)
        for name in sorted(self.next_cas):
            key = keys["ca/%s-next.key" % name]
            cert = x509.make_ca(key, self._next_ca_name(name), self.p["ca_valid_days"])
            self.store.write("ca/%s-next.key" % name, x509.key_to_pem(key), KEY_MODE)
            self.store.write("ca/%s-next.crt" % name, x509.cert_to_pem(cert), CERT_MODE)
            self.after["ca/%s-next.crt" % name] = x509.describe(cert)
        if desired.SA_KEY in keys:
            self.store.write(desired.SA_KEY, x509.key_to_pem(keys[desired.SA_KEY]), KEY_MODE)
            self.store.write(desired.SA_PUB, x509.public_key_to_pem(keys[desired.SA_KEY]), CERT_MODE)
        if SA_NEXT_KEY in keys:
            self.store.write(SA_NEXT_KEY, x509.key_to_pem(keys[SA_NEXT_KEY]), KEY_MODE)
        for name in set(leaf.ca for leaf in self.leaf_plan):
            cert, key = self.cas[name]
            if "ca/%s.key" % name not in keys:  # loaded unchecked by plan(): check it before it signs
                self.cas[name] = (cert, x509.load_key(self.store.read("ca/%s.key" % name)))
        for leaf in self.leaf_plan:
            key = keys.get(leaf.key)
            if key is None:
                key = x509.load_key(self.store.read(leaf.key))
            else:
                self.store.write(leaf.key, x509.key_to_pem(key), KEY_MODE)
            ca_cert, ca_key = self.cas[leaf.ca]
            cert = x509.issue(ca_cert, ca_key, key, leaf.common_name, leaf.organizations, leaf.dns_names, leaf.ip_addresses,
                              leaf.profile, self.p["cert_valid_days"])
            self.store.write(leaf.cert, x509.cert_to_pem(cert), CERT_MODE)
            self.after[leaf.cert] = x509.describe(cert)
        for write in self.writes:
            write()

    @staticmethod
    def _generate(wanted):
        if not wanted:
            return {}
        rels = sorted(wanted)
        workers = min(len(rels), max(2, os.cpu_count() or 2))
        with ThreadPoolExecutor(max_workers=workers) as pool:
            keys = list(pool.map(lambda rel: x509.generate_key(wanted[rel]), rels))
        return dict(zip(rels, keys))

    # ------------------------------------------------------------------ bundles
    def bundles(self, check_mode):
        """Plan and (unless check_mode) write bundles/<host>.tar; returns {host: path}.

        Run after apply() (or after plan() alone in check mode): a bundle is built from the files
        as they are on disk, so in check mode a bundle whose files would change is reported as
        changing without being built.
        """
        out = {}
        self.stale = {}
        for spec in self.p.get("bundles") or []:
            host = spec["host"]
            rel = "bundles/%s.tar" % host
            out[host] = self.store.path(rel)
            self.stale[host] = desired.stale_secrets(spec, self.p.get("distribute_ca_key"))
            files = desired.host_files(spec, self.p.get("distribute_ca_key"))
            old, err = self._read(rel)
            if err:
                raise PkiError("%s is %s: fix its permissions or remove it" % (self.store.path(rel), err))
            dirs = set(dst.rsplit("/", 1)[0] for _src, dst, _kind in files)
            changing = sorted(dst for src, dst, _kind in files if self.files.get(src, {}).get("action") not in (None, UNCHANGED, MODE))
            wanted = {"files": sorted(dirs | set(dst for _src, dst, _kind in files)), "changed_files": changing}
            if check_mode:
                pending = sorted(set(src for src, _dst, _kind in files if self.files.get(src, {}).get("action") not in (None, UNCHANGED, MODE)))
                if old is None or pending:
                    reasons = ["missing"] if old is None else ["files in it change: %s" % ", ".join(pending)]
                    self._record(rel, CREATED if old is None else UPDATED, reasons, {"files": sorted(bundle.names(old))} if old else None, wanted)
                    continue
            new = self._bundle_bytes(spec, files)
            if new != old:
                reason = "missing" if old is None else "files in it changed: %s" % ", ".join(changing or ["file times"])
                self._record(rel, CREATED if old is None else UPDATED, [reason], {"files": sorted(bundle.names(old))} if old else None, wanted)
                if not check_mode:
                    self.store.write(rel, new, KEY_MODE)
            else:
                have = self.store.mode(rel)
                self._mode_fix(rel, KEY_MODE)
                if have != KEY_MODE and not check_mode:
                    self.store.chmod(rel, KEY_MODE)
        return out

    def renew_by(self):
        """When the first certificate on disk enters its renewal window (UTC text), or None.

        A run before that time reissues nothing for age; kubeha.cluster.converged records it so that
        the first site.yml run after it is a full one.
        """
        ends = []
        for rel in sorted(self.files):
            if not rel.endswith(".crt"):
                continue
            data, _err = self._read(rel)
            if data is None:
                continue
            try:
                ends.append(x509.load_cert(data).not_valid_after_utc)
            except PkiError:
                continue
        return _fmt(min(ends) - self.renew) if ends else None

    def _bundle_bytes(self, spec, files):
        members = []
        dirs = {}
        owner = {"srv/kubernetes": ("root", "root"),
                 "etc/etcd/pki": (self.p.get("etcd_owner") or "root", self.p.get("etcd_group") or "root")}
        for src, dst, kind in files:
            data = self.store.read(src)
            if data is None:
                raise PkiError("%s is missing although %s needs it; run again without check mode" % (self.store.path(src), spec["host"]))
            directory = dst.rsplit("/", 1)[0]
            user, group = owner[directory]
            mtime = self.store.mtime(src)
            dirs[directory] = max(dirs.get(directory, 0), mtime)
            members.append(bundle.Member(dst, data, bundle.MODES[kind], mtime, user, group))
        for directory, mtime in dirs.items():
            user, group = owner[directory]
            members.append(bundle.Member(directory, None, 0o700, mtime, user, group))
        return bundle.build(members)


def _parses(data):
    try:
        x509.load_cert(data)
    except PkiError:
        return False
    return True


def _holds_public_half(data, key):
    """Whether PEM bytes are the public half of ``key`` (in any PEM encoding of it: an adopted sa.pub is kept as it is)."""
    if data is None:
        return False
    try:
        return x509.same_public_key(x509.load_public_key(data), key)
    except PkiError:
        return False


def _public_halves(data):
    """How many PEM public keys ``data`` holds."""
    return (data or b"").count(b"-----BEGIN PUBLIC KEY-----") + (data or b"").count(b"-----BEGIN RSA PUBLIC KEY-----")


def _describe(rel, data):
    """What an adopted file says, for diffs: a certificate's description, a key's type; never key material."""
    try:
        if rel.endswith(".crt"):
            return x509.describe(x509.load_cert(data))
        key = x509.load_public_key(data) if rel.endswith(".pub") else x509.load_key(data, check=False)
        return {"key_type": x509.key_type_of(key)}
    except PkiError:
        return {"state": "unreadable"}


def _key_type_or_unreadable(data):
    try:
        return x509.key_type_of(x509.load_key(data, check=False))
    except PkiError:
        return "unreadable"
