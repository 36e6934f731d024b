#!/usr/bin/python
# Copyright (c) kubeha developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


DOCUMENTATION = r"""
---
module: kube_secrets
short_description: Ensure a Kubernetes cluster's CAs, certificates, keys and static auth files on the controller
version_added: 0.1.0
description:
  - Makes, in one controller-side directory (mode C(0700)), everything the C(/srv/kubernetes) step of
    the classic high-availability guide asks for, and what a TLS etcd cluster needs - declaratively and
    idempotently.
  - Two CAs (Kubernetes and etcd), a service-account key pair, and leaf certificates - apiserver serving
    certificate, admin (C(kubecfg)) client in C(system:masters), clients for the scheduler,
    controller-manager, kube-proxy, one per kubelet (C(system:node:<name>)), the apiserver's kubelet and
    etcd clients, and per etcd member a peer and a server certificate (both with server and client auth).
  - The apiserver certificate carries every master's name and IP, the load balancer's addresses and DNS
    names, the first IP of the service range, C(kubernetes), C(kubernetes.default),
    C(kubernetes.default.svc), C(kubernetes.default.svc.<cluster_domain>), C(localhost) and C(127.0.0.1).
  - Decisions come from content, never from existence alone. A leaf is reissued when it is missing or
    unreadable, its key does not match, its issuer is not the current CA, its subject, SANs or extended key
    usage differ from what is asked, or it expires within O(renew_before) days. A key is regenerated only
    when missing, unreadable or not of O(key_type); otherwise reissuing keeps the key.
  - A CA or the service-account key is created when absent (both halves, and nothing it signed left) and never
    replaced unless O(regenerate_ca) names it; a CA that expires within O(renew_before) days is a loud warning. A CA
    whose files are damaged or half missing is an error that changes nothing.
  - "With O(adopt), the two CAs and the service-account key pair are not made but adopted from a PKI made elsewhere
    (kubeadm's C(/etc/kubernetes/pki), or a C(/srv/kubernetes) of the classic guide): copied unchanged, byte for byte,
    into O(dest), they sign every leaf the module issues. Any problem with them fails the module before anything is
    written."
  - C(basic_auth.csv) and C(known_tokens.csv) in the format the apiserver reads
    (C(secret,user,uid,"group1,group2")); secrets are random, generated once and kept while the user is
    listed.
  - Optionally writes one tar per host (O(bundles)) holding exactly that host's files with their final
    paths, modes and owners, for M(ansible.builtin.unarchive) to unpack at C(/).
  - "Controller layout: C(ca/kubernetes.{crt,key}), C(ca/etcd.{crt,key}), C(ca/{kubernetes,etcd}-trust.crt) (what the hosts
    trust), C(ca/<name>-next.{crt,key}) and C(ca/<name>-previous.crt) during a rotation, C(sa/sa.{key,pub}),
    C(kubernetes/{apiserver,admin,scheduler,controller-manager,kube-proxy,apiserver-kubelet-client,apiserver-etcd-client}.{crt,key}),
    C(kubelet/<node>.{crt,key}), C(etcd/<member>/{peer,server}.{crt,key}), C(auth/basic_auth.csv),
    C(auth/known_tokens.csv), C(bundles/<host>.tar). Keys and CSV files C(0600), certificates C(0644),
    directories C(0700); modes changed by hand are restored."
  - Run it on the controller (C(delegate_to=localhost), C(run_once=true)); private keys are never returned,
    logged or shown in diffs.
author:
  - kubeha developers (@kubeha)
requirements:
  - cryptography >= 42.0 on the host that runs the module (the controller)
extends_documentation_fragment:
  - kubeha.cluster.attributes
  - kubeha.cluster.attributes.POSIX
attributes:
  check_mode:
    support: full
    details:
      - Reports every file that would be created, reissued or fixed, and why, without writing anything.
  diff_mode:
    support: full
    details:
      - Shows subjects, issuers, SANs, extended key usages and expiry dates of changed certificates, key types, and user
        names of the CSV files; never key material, passwords or tokens.
  platform:
    support: full
    platforms: posix
    details:
      - Runs on the controller (C(delegate_to=localhost)).
options:
  dest:
    description: Controller directory holding the cluster's secrets; created with mode C(0700).
    type: path
    required: true
  masters:
    description:
      - The masters; each one's name and IP go into the apiserver certificate.
      - May be empty (an etcd-only deployment); the Kubernetes CA and client certificates are made all the same.
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description: Host name (a DNS name, or an IP address which is then added as an IP SAN).
        type: str
        required: true
      ip:
        description: The master's cluster address.
        type: str
        required: true
  etcd_members:
    description: The etcd members; each gets a peer and a server certificate for its name and IP.
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description: Member name (also its subject CN and a DNS SAN, or an IP SAN if it is an address).
        type: str
        required: true
      ip:
        description: The member's cluster address.
        type: str
        required: true
  nodes:
    description: Names of the hosts running a kubelet; each gets a client certificate C(CN=system:node:<name>, O=system:nodes).
    type: list
    elements: str
    default: []
  lb_addresses:
    description: IP addresses of the load balancer in front of the apiservers (VIP or external).
    type: list
    elements: str
    default: []
  lb_dns_names:
    description: DNS names of the load balancer.
    type: list
    elements: str
    default: []
  service_cidr:
    description: Service IP range; its first address (the C(kubernetes) service) goes into the apiserver certificate.
    type: str
    default: 10.96.0.0/12
  cluster_domain:
    description: Cluster DNS domain, for C(kubernetes.default.svc.<cluster_domain>).
    type: str
    default: cluster.local
  key_type:
    description:
      - Type of new keys. Changing it regenerates the keys of every leaf on the next run; CA keys keep their type
        until the CA is regenerated.
    type: str
    choices: [rsa2048, rsa3072, rsa4096, ecdsa-p256]
    default: rsa2048
  renew_before:
    description: A leaf that expires within this many days is reissued; a CA that does is a warning.
    type: int
    default: 90
  cert_valid_days:
    description: Validity of new leaf certificates, in days (never beyond their CA's).
    type: int
    default: 365
  ca_valid_days:
    description: Validity of new CA certificates, in days.
    type: int
    default: 3650
  regenerate_ca:
    description:
      - Replace these CAs (or the service-account key) with new ones, and reissue everything they sign.
      - "Each entry is C(<name>:<fingerprint>): the name (V(kubernetes), V(etcd) or V(service_account)) and the first 16
        hex digits of the sha256 of the file there now (C(ca/<name>.crt); C(sa/sa.key)), or C(<name>:absent). Only that
        CA is replaced: once it is, the entry does nothing (a warning says it can go), so an entry left in an inventory
        never makes a new CA on every run. An entry without a fingerprint is refused with the one to use."
      - Everything signed by the old CA stops being trusted; service-account tokens signed by the old key stop working.
    type: list
    elements: str
    default: []
  rotate_ca:
    description:
      - Rotate a CA with dual trust, one phase per run, each rolled out to every host before the next (site.yml restarts
        what reads the files that change, one host at a time). The hosts trust C(ca/<name>-trust.crt) (their C(ca.crt),
        C(etcd-ca.crt), etcd's C(ca.crt)) - the current CA, then the next or the previous one while it exists.
      - V(trust) makes the next CA (C(ca/<name>-next.crt) and C(.key)), trusted beside the current one; nothing is reissued.
      - V(sign) makes it the current CA (the old certificate stays trusted as C(ca/<name>-previous.crt)); every leaf it signs
        is reissued by it, because its issuer is not the current CA. Refused before V(trust).
      - V(finish) drops the previous CA from the trust. Refused while the next CA does not sign yet.
      - A phase run again does what is left of it, or nothing. Refused with O(regenerate_ca) for the same CA, and with O(adopt).
    type: dict
    suboptions:
      kubernetes:
        description: The phase for the Kubernetes CA.
        type: str
        choices: [trust, sign, finish]
      etcd:
        description: The phase for the etcd CA.
        type: str
        choices: [trust, sign, finish]
      service_account:
        description:
          - The phase for the service-account key pair - V(trust) makes C(sa/sa-next.key), whose public half C(sa.pub) holds
            beside the current one (the apiservers accept tokens it signs); V(sign) makes it C(sa.key) (it signs every new
            token) and keeps the old public half in C(sa.pub) as C(sa/sa-previous.pub), so tokens signed before stay valid;
            V(finish) drops it - run it once the old tokens have expired (bound tokens last an hour at most by default;
            a legacy token Secret signed by the old key stops working).
        type: str
        choices: [trust, sign, finish]
  basic_auth_users:
    description: Users of C(basic_auth.csv) (legacy; the apiserver reads it only with explicit opt-in).
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: User name.
        type: str
        required: true
      uid:
        description: User ID; defaults to the name.
        type: str
      groups:
        description: Groups of the user.
        type: list
        elements: str
        default: []
      password:
        description: A password to use instead of a generated one.
        type: str
  tokens:
    description: Users of C(known_tokens.csv) (legacy static tokens).
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: User name.
        type: str
        required: true
      uid:
        description: User ID; defaults to the name.
        type: str
      groups:
        description: Groups of the user.
        type: list
        elements: str
        default: []
      token:
        description: A token to use instead of a generated one.
        type: str
  bundles:
    description:
      - Hosts to prepare a bundle for, in C(bundles/<host>.tar) under O(dest). Masters get C(/srv/kubernetes/) with
        C(ca.crt), C(server.cert), C(server.key), C(kubecfg.crt), C(kubecfg.key), C(basic_auth.csv), C(known_tokens.csv),
        C(sa.key), C(sa.pub), C(etcd-ca.crt) and the C(apiserver-etcd-client), C(apiserver-kubelet-client), C(scheduler)
        and C(controller-manager) certificates and keys. Nodes get C(/srv/kubernetes/) with C(ca.crt), C(kubelet.crt),
        C(kubelet.key), C(kube-proxy.crt), C(kube-proxy.key). An etcd member gets C(/etc/etcd/pki/) with C(ca.crt)
        (etcd CA), C(peer.crt), C(peer.key), C(server.crt), C(server.key).
    type: list
    elements: dict
    default: []
    suboptions:
      host:
        description: Inventory name of the host; a node's kubelet certificate is the one for this name in O(nodes).
        type: str
        required: true
      master:
        description: The host runs an apiserver, scheduler and controller-manager.
        type: bool
        default: false
      node:
        description: The host runs a kubelet and kube-proxy.
        type: bool
        default: false
      etcd_member:
        description: Name of the etcd member the host is (from O(etcd_members)).
        type: str
  distribute_ca_key:
    description:
      - Put the Kubernetes CA key into master bundles as C(/srv/kubernetes/ca.key), for the controller-manager's
        C(--cluster-signing-key-file) (CSR signing, needed for kubelet TLS bootstrap and certificate rotation).
      - The etcd CA key never leaves the controller.
    type: bool
    default: false
  etcd_owner:
    description: Owner of the etcd files in the bundles (C(etcd) when etcd runs as that user).
    type: str
    default: root
  etcd_group:
    description: Group of the etcd files in the bundles.
    type: str
    default: root
  adopt:
    description:
      - Adopt a PKI made elsewhere instead of making new CAs. The Kubernetes CA (certificate and key), the service-account
        key pair and the etcd CA (certificate and key) are read from O(adopt.dir) on the controller and copied unchanged,
        byte for byte, to C(ca/kubernetes.{crt,key}), C(sa/sa.{key,pub}) and C(ca/etcd.{crt,key}) in O(dest). They are
        never regenerated; every leaf certificate is issued as without O(adopt), signed by the adopted CAs, and a leaf in
        O(dest) that another CA signed is reissued.
      - "The module fails, having changed nothing, when a file is missing or unreadable, a CA key does not match its
        certificate, a certificate is not a CA (no C(basicConstraints) or C(CA:FALSE)) or is expired or not yet valid,
        C(sa.pub) is not the public half of C(sa.key), O(dest) already holds a different CA or service-account key (its
        certificates, or tokens, would be orphaned), or O(regenerate_ca) is set too."
      - Re-running with the same adoption changes nothing; the adopted files stay in O(dest) when O(adopt) is removed later.
    type: dict
    suboptions:
      layout:
        description:
          - Where the files are under O(adopt.dir).
          - V(kubeadm), like C(/etc/kubernetes/pki) - C(ca.crt), C(ca.key), C(sa.key), C(sa.pub), C(etcd/ca.crt),
            C(etcd/ca.key). A C(front-proxy-ca.crt) and C(front-proxy-ca.key) there are not adopted (a warning says so), since
            kubeha has no front-proxy CA.
          - V(guide), like the masters' C(/srv/kubernetes) - C(ca.crt), C(ca.key), C(sa.key), C(sa.pub), C(etcd-ca.crt),
            C(etcd-ca.key). kubeha's own masters hold neither CA key there (C(ca.key) only with O(distribute_ca_key)), so
            name where the keys are in O(adopt.files).
        type: str
        choices: [kubeadm, guide]
        required: true
      dir:
        description: The directory on the controller (where the module runs) holding the PKI to adopt.
        type: path
        required: true
      files:
        description: Paths of single files, in place of the layout's; a relative path is under O(adopt.dir).
        type: dict
        suboptions:
          ca_crt:
            description: The Kubernetes CA certificate.
            type: path
          ca_key:
            description: The Kubernetes CA private key (unencrypted PEM).
            type: path
          sa_key:
            description: The service-account signing key (unencrypted PEM).
            type: path
          sa_pub:
            description: The service-account public key, the public half of O(adopt.files.sa_key).
            type: path
          etcd_ca_crt:
            description: The etcd CA certificate.
            type: path
          etcd_ca_key:
            description: The etcd CA private key (unencrypted PEM).
            type: path
seealso:
  - name: PKI certificates and requirements
    description: What each Kubernetes component expects of its certificates.
    link: https://kubernetes.io/docs/setup/best-practices/certificates/
  - module: ansible.builtin.unarchive
"""

EXAMPLES = r"""
- name: Ensure the cluster's PKI on the controller
  kubeha.cluster.kube_secrets:
    dest: "{{ inventory_dir }}/secrets"
    masters:
      - {name: master1, ip: 10.0.0.11}
      - {name: master2, ip: 10.0.0.12}
    etcd_members:
      - {name: master1, ip: 10.0.0.11}
      - {name: master2, ip: 10.0.0.12}
      - {name: etcd3, ip: 10.0.0.13}
    nodes: [master1, master2, worker1]
    lb_addresses: [10.0.0.10]
    lb_dns_names: [k8s.example.com]
    basic_auth_users:
      - {name: admin, groups: [system:masters]}
    tokens:
      - {name: admin, groups: [system:masters]}
    bundles:
      - {host: master1, master: true, node: true, etcd_member: master1}
      - {host: master2, master: true, node: true, etcd_member: master2}
      - {host: etcd3, etcd_member: etcd3}
      - {host: worker1, node: true}
  delegate_to: localhost
  run_once: true
  register: pki

- name: Issue the cluster's certificates with the CAs of a kubeadm cluster (copied from its /etc/kubernetes/pki)
  kubeha.cluster.kube_secrets:
    dest: "{{ inventory_dir }}/secrets"
    masters: [{name: master1, ip: 10.0.0.11}]
    etcd_members: [{name: master1, ip: 10.0.0.11}]
    nodes: [master1]
    adopt:
      layout: kubeadm
      dir: /srv/backup/master1/etc/kubernetes/pki
  delegate_to: localhost
  run_once: true

- name: Adopt a guide-style /srv/kubernetes whose CA keys are kept apart
  kubeha.cluster.kube_secrets:
    dest: "{{ inventory_dir }}/secrets"
    masters: [{name: master1, ip: 10.0.0.11}]
    etcd_members: [{name: master1, ip: 10.0.0.11}]
    adopt:
      layout: guide
      dir: /srv/backup/master1/srv/kubernetes
      files:
        ca_key: /srv/vault/kubernetes-ca.key
        etcd_ca_key: /srv/vault/etcd-ca.key
  delegate_to: localhost
  run_once: true

- name: Replace a lost or expired etcd CA at once (one run only; nothing the old one signed is trusted after it)
  kubeha.cluster.kube_secrets:
    dest: "{{ inventory_dir }}/secrets"
    masters: [{name: master1, ip: 10.0.0.11}]
    etcd_members: [{name: master1, ip: 10.0.0.11}]
    regenerate_ca: ["etcd:5d41402abc4b2a76"]  # the current ca/etcd.crt's sha256, first 16 hex digits
  delegate_to: localhost
  run_once: true

- name: Rotate the Kubernetes CA with dual trust - the first of three phases (then sign, then finish), each rolled out
  kubeha.cluster.kube_secrets:
    dest: "{{ inventory_dir }}/secrets"
    masters: [{name: master1, ip: 10.0.0.11}]
    etcd_members: [{name: master1, ip: 10.0.0.11}]
    rotate_ca: {kubernetes: trust}
  delegate_to: localhost
  run_once: true
"""

RETURN = r"""
dest:
  description: Absolute path of the secrets directory.
  returned: always
  type: str
  sample: /home/ops/inventory/secrets
files:
  description:
    - Every file the module manages, by path relative to O(dest), with what was done (or would be, in check mode) and why.
    - V(action) is one of V(created), V(reissued), V(regenerated), V(updated), V(mode_restored), V(adopted), V(rotated),
      V(removed), V(unchanged).
    - V(rotated) is a CA file that the next CA replaced (O(rotate_ca) V(sign)); V(removed) a file a rotation took away.
    - V(adopted) is a file copied from O(adopt.dir) (its reason names the source).
  returned: always
  type: dict
  sample:
    kubernetes/apiserver.crt:
      action: reissued
      reasons: ["SANs differ: missing 10.0.0.10"]
    ca/kubernetes.crt:
      action: unchanged
      reasons: []
    ca/etcd.key:
      action: adopted
      reasons: ["adopted from /etc/kubernetes/pki/etcd/ca.key"]
bundles:
  description: Path of each host's bundle, by host.
  returned: always
  type: dict
  sample:
    master1: /home/ops/inventory/secrets/bundles/master1.tar
stale:
  description:
    - By host, the keys and secret files kubeha installs on some host that this one must not keep (absolute paths).
      The secrets role removes them, and the fast path counts one that is there as drift.
    - For example C(/srv/kubernetes/sa.key) and C(/srv/kubernetes/kubecfg.key) on a host that left the masters, and
      C(/srv/kubernetes/ca.key) on every master once O(distribute_ca_key) is off.
  returned: always
  type: dict
  sample:
    worker1: [/etc/etcd/pki/peer.key, /etc/etcd/pki/server.key, /srv/kubernetes/ca.key, /srv/kubernetes/sa.key]
renew_by:
  description:
    - When the first certificate in O(dest) (CA or leaf) enters its renewal window, O(renew_before) days before it
      expires (UTC); a run before then reissues nothing for age. In check mode, of the certificates on disk.
    - Null when there is no certificate yet.
  returned: always
  type: str
  sample: "2027-09-03T10:00:00Z"
"""

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.kubeha.cluster.plugins.module_utils._pki import adopt, desired, x509
from ansible_collections.kubeha.cluster.plugins.module_utils._pki import authfiles
from ansible_collections.kubeha.cluster.plugins.module_utils._pki.engine import Engine, PkiError

_HOST = dict(name=dict(type="str", required=True), ip=dict(type="str", required=True))


def _users(secret):
    return dict(type="list", elements="dict", default=[], options=dict(
        name=dict(type="str", required=True), uid=dict(type="str"),
        groups=dict(type="list", elements="str", default=[]), **{secret: dict(type="str", no_log=True)}))


def main():
    module = AnsibleModule(
        argument_spec=dict(
            dest=dict(type="path", required=True),
            masters=dict(type="list", elements="dict", required=True, options=_HOST),
            etcd_members=dict(type="list", elements="dict", required=True, options=_HOST),
            nodes=dict(type="list", elements="str", default=[]),
            lb_addresses=dict(type="list", elements="str", default=[]),
            lb_dns_names=dict(type="list", elements="str", default=[]),
            service_cidr=dict(type="str", default="10.96.0.0/12"),
            cluster_domain=dict(type="str", default="cluster.local"),
            key_type=dict(type="str", default="rsa2048", choices=list(x509.KEY_TYPES)),
            renew_before=dict(type="int", default=90),
            cert_valid_days=dict(type="int", default=365),
            ca_valid_days=dict(type="int", default=3650),
            regenerate_ca=dict(type="list", elements="str", default=[]),
            rotate_ca=dict(type="dict", options=dict((name, dict(type="str", choices=["trust", "sign", "finish"]))
                                                     for name in ("kubernetes", "etcd", "service_account"))),
            basic_auth_users=_users("password"),
            tokens=dict(_users("token"), no_log=False),  # the list is not secret; its token suboption is no_log
            bundles=dict(type="list", elements="dict", default=[], options=dict(
                host=dict(type="str", required=True), master=dict(type="bool", default=False),
                node=dict(type="bool", default=False), etcd_member=dict(type="str"))),
            distribute_ca_key=dict(type="bool", default=False),
            etcd_owner=dict(type="str", default="root"),
            etcd_group=dict(type="str", default="root"),
            adopt=dict(type="dict", options=dict(
                layout=dict(type="str", required=True, choices=list(adopt.LAYOUTS)),
                dir=dict(type="path", required=True),
                # paths, not secrets: no_log=False says so to the "key" in their names
                files=dict(type="dict", options=dict((name, dict(type="path", no_log=False)) for name in adopt.ITEMS)))),
        ),
        supports_check_mode=True,
    )
    if not x509.HAS_CRYPTOGRAPHY:
        module.fail_json(msg=missing_required_lib("cryptography"), exception=x509.CRYPTOGRAPHY_IMPORT_ERROR)
    params = module.params
    errors = (desired.validate(params) + desired.validate_bundles(params)
              + authfiles.validate(params["basic_auth_users"], "basic_auth_users") + authfiles.validate(params["tokens"], "tokens"))
    if errors:
        module.fail_json(msg="kube_secrets: nothing was changed because the description has %d problem(s): %s" % (len(errors), "; ".join(errors)),
                         errors=errors)
    engine = Engine(params, warn=module.warn)
    try:
        engine.plan()
        if not module.check_mode:
            engine.apply()
        bundles = engine.bundles(module.check_mode)
    except (PkiError, OSError) as exc:
        module.fail_json(msg="kube_secrets: %s" % exc, files=engine.files)
    result = dict(changed=engine.changed(), dest=engine.store.root, files=engine.files, bundles=bundles, stale=engine.stale,
                  renew_by=engine.renew_by())
    if module._diff and result["changed"]:
        result["diff"] = dict(before=engine.before, after=engine.after)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
