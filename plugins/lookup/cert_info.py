# Copyright (c) kubeha developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The cert_info lookup: what a certificate file on the controller holds, read with cryptography."""

from __future__ import annotations

DOCUMENTATION = r"""
name: cert_info
short_description: Subject and validity of certificate files on the controller
version_added: 0.2.0
description:
  - For each term, a certificate file (PEM) on the controller, one dictionary - C(path), C(exists), and for a
    certificate that could be read C(subject), C(not_after) (ISO 8601, UTC), C(days_left) (whole days, negative once
    it has expired), C(dns_names) and C(ip_addresses) (its subjectAltName entries; IP addresses in their compressed,
    lower-case form); C(error) says why a file that exists could not be read.
  - Read with the C(cryptography) library the collection's PKI uses; no command runs. A missing or unreadable file is
    reported in its dictionary, never as a failure, so that a status report shows every file.
options:
  _terms:
    description: Certificate files.
    type: list
    elements: path
    required: true
"""

EXAMPLES = r"""
- name: When the cluster CA expires
  ansible.builtin.debug:
    msg: "{{ lookup('kubeha.cluster.cert_info', secrets_dir ~ '/ca/kubernetes.crt').not_after }}"
"""

RETURN = r"""
_list:
  description: One dictionary per term.
  type: list
  elements: dict
"""

import datetime

from ansible.plugins.lookup import LookupBase

from ansible_collections.kubeha.cluster.plugins.module_utils._pki.x509 import PkiError, load_cert, sans_of


def cert_info(path, now=None):
    """{path, exists, subject, not_after, days_left} or {path, exists, error} for one file."""
    now = now or datetime.datetime.now(datetime.timezone.utc)
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except FileNotFoundError:
        return dict(path=path, exists=False)
    except OSError as exc:
        return dict(path=path, exists=True, error="cannot be read (%s)" % (exc.strerror or exc))
    try:
        cert = load_cert(data)
    except PkiError as exc:
        return dict(path=path, exists=True, error=str(exc))
    end = cert.not_valid_after_utc
    dns_names, ips = sans_of(cert)
    return dict(path=path, exists=True, subject=cert.subject.rfc4514_string(), not_after=end.strftime("%Y-%m-%dT%H:%M:%SZ"),
                days_left=(end - now).days, dns_names=dns_names, ip_addresses=ips)


class LookupModule(LookupBase):
    """Subject and validity of each certificate file given."""

    def run(self, terms, variables=None, **kwargs):
        self.set_options(var_options=variables, direct=kwargs)
        return [cert_info(str(term)) for term in terms]
