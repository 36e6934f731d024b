# Copyright (c) kubeha developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The desired PKI of a cluster, from its declarative description: which CA signs what, for whom.

Controller-side layout (relative to the secrets directory, 0700 directories)::

    ca/kubernetes.crt  ca/kubernetes.key        Kubernetes CA (the one that signs)
    ca/etcd.crt        ca/etcd.key              etcd CA
    ca/<ca>-trust.crt                           what the hosts trust: the CA, and during a rotation (rotate_ca) the
    ca/<ca>-next.{crt,key}  ca/<ca>-previous.crt    next one (before it signs) or the previous one (until finish)
    sa/sa.key          sa/sa.pub                service-account signing key pair
    kubernetes/apiserver.{crt,key}              apiserver serving certificate
    kubernetes/admin.{crt,key}                  kubecfg/admin client (system:masters)
    kubernetes/{scheduler,controller-manager,kube-proxy}.{crt,key}
    kubernetes/apiserver-kubelet-client.{crt,key}
    kubernetes/apiserver-etcd-client.{crt,key}  signed by the etcd CA
    kubelet/<node>.{crt,key}                    system:node:<node>
    etcd/<member>/{peer,server}.{crt,key}       signed by the etcd CA
    auth/basic_auth.csv  auth/known_tokens.csv
    bundles/<host>.tar                          what each host receives, ready to unpack at /
"""

from __future__ import annotations


import ipaddress
import re

KUBERNETES_CA = "kubernetes"
ETCD_CA = "etcd"
SERVICE_ACCOUNT = "service_account"
CA_NAMES = {KUBERNETES_CA: "kubernetes-ca", ETCD_CA: "etcd-ca"}
# CAs a host may sign with (a controller-manager given the Kubernetes CA's key takes the first certificate of its bundle
# with it): their trust bundle puts the signing CA first. Every other bundle keeps the order its CAs came in (previous,
# current, next), so that a rotation's sign phase leaves it as it was and what reads it only at its start (etcd) has no
# restart for it.
SIGNED_ON_HOSTS = frozenset([KUBERNETES_CA])

BASIC_AUTH = "auth/basic_auth.csv"
KNOWN_TOKENS = "auth/known_tokens.csv"
SA_KEY = "sa/sa.key"
SA_PUB = "sa/sa.pub"

_LABEL = re.compile(r"^[A-Za-z0-9_*]([A-Za-z0-9_-]*[A-Za-z0-9_])?$")
_SAFE_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")


class Leaf:
    """One leaf certificate: where it lives, who signs it, what it must say."""

    def __init__(self, base, ca, common_name, organizations=(), dns_names=(), ip_addresses=(), profile="client"):
        self.base = base
        self.ca = ca
        self.common_name = common_name
        self.organizations = list(organizations)
        self.dns_names = _unique([d.lower() for d in dns_names])
        self.ip_addresses = _unique([str(ipaddress.ip_address(a)) for a in ip_addresses])
        self.profile = profile

    @property
    def cert(self):
        return self.base + ".crt"

    @property
    def key(self):
        return self.base + ".key"


def _unique(items):
    seen = set()
    out = []
    for item in items:
        if item not in seen:
            seen.add(item)
            out.append(item)
    return out


def is_ip(value):
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def _split_names(names):
    """(dns names, ip addresses) from a list of host names that may be addresses."""
    dns = [n for n in names if not is_ip(n)]
    ips = [n for n in names if is_ip(n)]
    return dns, ips


def validate(params):
    """Every problem with the description, as messages saying what was seen and what to do."""
    errors = []
    masters = params.get("masters") or []
    members = params.get("etcd_members") or []
    if not members:
        errors.append("etcd_members is empty: list at least one etcd member as {name, ip}")
    for what, hosts in (("masters", masters), ("etcd_members", members)):
        seen = set()
        for host in hosts:
            name, ip = host.get("name") or "", host.get("ip") or ""
            if not _SAFE_NAME.match(name):
                errors.append("%s: name %r is not usable in a certificate or file name (letters, digits, '.', '-', '_')" % (what, name))
            elif name in seen:
                errors.append("%s: %r is listed twice" % (what, name))
            seen.add(name)
            if not ip:
                errors.append("%s: %s has no IP address (with the secrets role: set kubeha_node_ip for it, or gather its facts)" % (what, name))
            elif not is_ip(ip):
                errors.append("%s: %s has ip %r, which is not an IP address" % (what, name, ip))
    for name in params.get("nodes") or []:
        if not _SAFE_NAME.match(name or ""):
            errors.append("nodes: name %r is not usable in a certificate or file name" % (name,))
    for addr in params.get("lb_addresses") or []:
        if not is_ip(addr):
            errors.append("lb_addresses: %r is not an IP address; put DNS names in lb_dns_names" % (addr,))
    for name in params.get("lb_dns_names") or []:
        if is_ip(name) or not all(_LABEL.match(label) for label in (name or "").rstrip(".").split(".")):
            errors.append("lb_dns_names: %r is not a DNS name; put addresses in lb_addresses" % (name,))
    try:
        network = ipaddress.ip_network(params.get("service_cidr") or "", strict=True)
        if network.num_addresses < 4:
            errors.append("service_cidr: %s is too small for a service range" % network)
    except ValueError as exc:
        errors.append("service_cidr: %r is not a network address with prefix, e.g. 10.96.0.0/12 (%s)" % (params.get("service_cidr"), exc))
    domain = params.get("cluster_domain") or ""
    if not domain or not all(_LABEL.match(label) for label in domain.split(".")):
        errors.append("cluster_domain: %r is not a DNS domain, e.g. cluster.local" % (domain,))
    if params["renew_before"] < 0 or params["renew_before"] >= params["cert_valid_days"]:
        errors.append("renew_before (%d days) must be at least 0 and less than cert_valid_days (%d): otherwise every run reissues"
                      % (params["renew_before"], params["cert_valid_days"]))
    if params["ca_valid_days"] <= params["renew_before"]:
        errors.append("ca_valid_days (%d) must be more than renew_before (%d)" % (params["ca_valid_days"], params["renew_before"]))
    return errors


def service_ip(cidr):
    """The first address of the service range: the ``kubernetes`` service's cluster IP."""
    return str(ipaddress.ip_network(cidr, strict=True).network_address + 1)


def leaves(params):
    """Every leaf certificate the cluster needs, in a stable order."""
    masters = params["masters"]
    members = params["etcd_members"]
    domain = params["cluster_domain"].rstrip(".")
    master_dns, master_ips = _split_names([m["name"] for m in masters])
    apiserver_dns = (master_dns + list(params.get("lb_dns_names") or [])
                     + ["kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc." + domain, "localhost"])
    apiserver_ips = (master_ips + [m["ip"] for m in masters] + list(params.get("lb_addresses") or [])
                     + [service_ip(params["service_cidr"]), "127.0.0.1"])
    out = [
        Leaf("kubernetes/apiserver", KUBERNETES_CA, "kube-apiserver", (), apiserver_dns, apiserver_ips, "server"),
        Leaf("kubernetes/admin", KUBERNETES_CA, "admin", ["system:masters"]),
        Leaf("kubernetes/scheduler", KUBERNETES_CA, "system:kube-scheduler"),
        Leaf("kubernetes/controller-manager", KUBERNETES_CA, "system:kube-controller-manager"),
        Leaf("kubernetes/kube-proxy", KUBERNETES_CA, "system:kube-proxy"),
        Leaf("kubernetes/apiserver-kubelet-client", KUBERNETES_CA, "kube-apiserver-kubelet-client", ["system:masters"]),
        Leaf("kubernetes/apiserver-etcd-client", ETCD_CA, "kube-apiserver-etcd-client"),
    ]
    for node in params.get("nodes") or []:
        out.append(Leaf("kubelet/" + node, KUBERNETES_CA, "system:node:" + node, ["system:nodes"]))
    for member in members:
        dns, ips = _split_names([member["name"]])
        out.append(Leaf("etcd/%s/peer" % member["name"], ETCD_CA, member["name"], (), dns, ips + [member["ip"]], "peer"))
        out.append(Leaf("etcd/%s/server" % member["name"], ETCD_CA, member["name"], (), dns + ["localhost"],
                        ips + [member["ip"], "127.0.0.1"], "peer"))
    return out


def host_files(bundle, distribute_ca_key):
    """What one host receives: (controller file, path on the host, kind) triples.

    ``bundle``: {host, master, node, etcd_member}; kind is ``key``, ``cert`` or ``secret``
    (a 0600 file that is not a key) and decides the mode.
    """
    srv = "srv/kubernetes/"
    pki = "etc/etcd/pki/"
    files = []
    if bundle.get("master") or bundle.get("node"):
        # the CAs the hosts trust (the current one first: the controller-manager's signing pair with ca.key)
        files.append(("ca/kubernetes-trust.crt", srv + "ca.crt", "cert"))
    if bundle.get("master"):
        files += [
            ("kubernetes/apiserver.crt", srv + "server.cert", "cert"),
            ("kubernetes/apiserver.key", srv + "server.key", "key"),
            ("kubernetes/admin.crt", srv + "kubecfg.crt", "cert"),
            ("kubernetes/admin.key", srv + "kubecfg.key", "key"),
            (BASIC_AUTH, srv + "basic_auth.csv", "secret"),
            (KNOWN_TOKENS, srv + "known_tokens.csv", "secret"),
            (SA_KEY, srv + "sa.key", "key"),
            (SA_PUB, srv + "sa.pub", "cert"),
            ("ca/etcd-trust.crt", srv + "etcd-ca.crt", "cert"),
        ]
        for base in ("apiserver-etcd-client", "apiserver-kubelet-client", "scheduler", "controller-manager"):
            files += [("kubernetes/%s.crt" % base, srv + base + ".crt", "cert"), ("kubernetes/%s.key" % base, srv + base + ".key", "key")]
        if distribute_ca_key:
            files.append(("ca/kubernetes.key", srv + "ca.key", "key"))
    if bundle.get("node"):
        files += [
            ("kubelet/%s.crt" % bundle["host"], srv + "kubelet.crt", "cert"),
            ("kubelet/%s.key" % bundle["host"], srv + "kubelet.key", "key"),
            ("kubernetes/kube-proxy.crt", srv + "kube-proxy.crt", "cert"),
            ("kubernetes/kube-proxy.key", srv + "kube-proxy.key", "key"),
        ]
    member = bundle.get("etcd_member")
    if member:
        files += [
            ("ca/etcd-trust.crt", pki + "ca.crt", "cert"),
            ("etcd/%s/peer.crt" % member, pki + "peer.crt", "cert"),
            ("etcd/%s/peer.key" % member, pki + "peer.key", "key"),
            ("etcd/%s/server.crt" % member, pki + "server.crt", "cert"),
            ("etcd/%s/server.key" % member, pki + "server.key", "key"),
        ]
    return files


def stale_secrets(bundle, distribute_ca_key):
    """Absolute paths of the keys and secret files kubeha installs somewhere that ``bundle``'s host must not keep.

    Everything a host could receive (master, node and etcd member, with the CA key) minus what it receives
    now: a host that left ``masters`` loses sa.key and kubecfg.key, one that is no longer an etcd member its
    etcd keys, every master its ca.key once ``distribute_ca_key`` is off. Certificates (public) are not listed.
    """
    everything = host_files({"host": bundle["host"], "master": True, "node": True, "etcd_member": bundle["host"]}, True)
    kept = set(dst for _src, dst, _kind in host_files(bundle, distribute_ca_key))
    return sorted("/" + dst for _src, dst, kind in everything if kind in ("key", "secret") and dst not in kept)


def validate_bundles(params):
    errors = []
    members = set(m["name"] for m in params.get("etcd_members") or [])
    nodes = set(params.get("nodes") or [])
    seen = set()
    for bundle in params.get("bundles") or []:
        host = bundle["host"]
        if not _SAFE_NAME.match(host or ""):
            errors.append("bundles: host %r is not usable as a file name" % (host,))
        if host in seen:
            errors.append("bundles: host %r is listed twice" % (host,))
        seen.add(host)
        if bundle.get("etcd_member") and bundle["etcd_member"] not in members:
            errors.append("bundles: %s asks for etcd member %r, which is not in etcd_members (%s)"
                          % (host, bundle["etcd_member"], ", ".join(sorted(members))))
        if bundle.get("node") and host not in nodes:
            errors.append("bundles: %s is a node but not in nodes, so it has no kubelet certificate; add it to nodes" % host)
    return errors
