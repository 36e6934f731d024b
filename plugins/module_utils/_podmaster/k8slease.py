# Copyright (c) kubeha developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Release a dead holder's Kubernetes Lease before the new holder's copy starts (host mode).

A component with ``--leader-elect`` that starts while another identity holds its Lease waits out the
lease duration, counted from when it first sees the Lease, before it takes it over: seconds added to
every takeover. Under podmaster in host mode the old copy is already gone when a new holder activates
(the fence: a holder stops its copies before its etcd lease can expire, and systemd's watchdog stops a
frozen one's), so the new holder may release the Lease as client-go's own ReleaseOnCancel does (an
empty holder, lease duration 1 s), with the component's own credentials, and the copy it starts takes
the Lease at once. Optimistic: the update carries the resourceVersion it read, so a Lease that changed
meanwhile is left alone. Errors are reported, never raised: the component then simply waits.
"""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.request


class LeaseReleaser:
    """Releases ``namespace/name`` Leases through the apiserver at ``url`` with per-component client certificates."""

    def __init__(self, url, ca_cert=None, timeout=1.0):
        self.url = url.rstrip("/")
        self.ca_cert = ca_cert
        self.timeout = float(timeout)

    def _opener(self, client_cert, client_key):
        if not self.url.startswith("https:"):
            return urllib.request.build_opener()
        context = ssl.create_default_context(cafile=self.ca_cert)
        if client_cert:
            context.load_cert_chain(client_cert, client_key)
        return urllib.request.build_opener(urllib.request.HTTPSHandler(context=context))

    def release(self, namespace, name, client_cert=None, client_key=None):
        """Empty the Lease's holder; returns what happened, as one line for the log."""
        path = "%s/apis/coordination.k8s.io/v1/namespaces/%s/leases/%s" % (self.url, namespace, name)
        try:
            opener = self._opener(client_cert, client_key)
            with opener.open(urllib.request.Request(path), timeout=self.timeout) as answer:
                lease = json.loads(answer.read().decode("utf-8"))
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                return "Lease %s/%s does not exist yet: nothing to release" % (namespace, name)
            return "Lease %s/%s not released: GET answered HTTP %d" % (namespace, name, exc.code)
        except (OSError, ValueError, ssl.SSLError) as exc:
            return "Lease %s/%s not released: %s" % (namespace, name, exc)
        spec = lease.get("spec") or {}
        holder = spec.get("holderIdentity") or ""
        if not holder:
            return "Lease %s/%s has no holder: nothing to release" % (namespace, name)
        spec = dict(spec, holderIdentity=None, leaseDurationSeconds=1)
        body = json.dumps(dict(lease, spec=spec)).encode("utf-8")
        request = urllib.request.Request(path, data=body, method="PUT", headers={"Content-Type": "application/json"})
        try:
            with opener.open(request, timeout=self.timeout):
                pass
        except urllib.error.HTTPError as exc:
            if exc.code == 409:
                return "Lease %s/%s changed meanwhile (held by someone else now?): left alone" % (namespace, name)
            return "Lease %s/%s not released: PUT answered HTTP %d" % (namespace, name, exc.code)
        except (OSError, ssl.SSLError) as exc:
            return "Lease %s/%s not released: %s" % (namespace, name, exc)
        return "released Lease %s/%s of the dead holder %s, so the new copy takes it at once" % (namespace, name, holder)
