# Copyright (c) kubeha developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The loadbalancer_plan filter: everything the loadbalancer role computes from its variables."""

from __future__ import annotations

DOCUMENTATION = r"""
name: loadbalancer_plan
short_description: The loadbalancer role's backends, peers, files, units and problems from its variables
version_added: 0.3.0
description:
  - Computes, from the loadbalancer role's variables and the balancers' and apiservers' addresses, what the role
    hands to C(kubeha.cluster.daemon) and to its templates, and every problem with the settings that needs no host
    (one message each, for one assert).
  - The problems include the VIP checks of P(kubeha.cluster.vip_problems#filter) and, unless O(validation_play),
    whether the controller's apiserver certificate carries the load balancer's address and DNS names.
  - Pure function of its arguments; the role's C(vars/main.yml) gathers the variables, the addresses and the
    certificate's names (the C(kubeha.cluster.cert_info) lookup).
options:
  _input:
    description: The role's variables, name (with the C(loadbalancer_) prefix) to templated value.
    type: dict
    required: true
  host:
    description: This host's inventory name (C(inventory_hostname)); the other balancers are its keepalived peers.
    type: str
    required: true
  balancers:
    description: Balancer host name to its address (C(kubeha.cluster.node_addresses) of C(loadbalancer_group)), in group order.
    type: dict
    required: true
  backends:
    description: Apiserver host name to its address (C(kubeha.cluster.node_addresses) of C(loadbalancer_backend_group)).
    type: dict
    required: true
  cert:
    description:
      - What the C(kubeha.cluster.cert_info) lookup says about the controller's
        C(<loadbalancer_secrets_dir>/kubernetes/apiserver.crt) (C(exists), C(dns_names), C(ip_addresses) or C(error)).
      - Not checked when the address is empty, in O(validation_play), or in O(check_mode) when the file does not exist yet.
    type: dict
    default: {}
  check_mode:
    description: Whether the play runs in check mode (C(ansible_check_mode)).
    type: bool
    default: false
  validation_play:
    description: Whether this is site.yml's validation play, which runs before the secrets stage makes the certificate.
    type: bool
    default: false
"""

EXAMPLES = r"""
- name: The load balancer's problems
  ansible.builtin.debug:
    msg: >-
      {{ (_loadbalancer_settings | kubeha.cluster.loadbalancer_plan(host=inventory_hostname,
          balancers={'lb1': '10.0.0.21'}, backends={'m1': '10.0.0.11'})).problems }}
"""

RETURN = r"""
_value:
  description: What the role computes.
  type: dict
  contains:
    server:
      description: The load balancer's URL, C(https://<address>:<port>) (IPv6 in brackets).
      type: str
    backends:
      description: One C(name), C(address) per apiserver, for haproxy.
      type: list
      elements: dict
    peers:
      description: The other balancers' addresses (keepalived's unicast peers).
      type: list
      elements: str
    controller:
      description: The controller's C(ca), C(apiserver_cert), C(admin_cert) and C(admin_key) paths under the secrets directory.
      type: dict
    files:
      description: The C(files) of the role's C(kubeha.cluster.daemon) call.
      type: list
      elements: dict
    units:
      description: The C(units) of the role's C(kubeha.cluster.daemon) call.
      type: list
      elements: dict
    problems:
      description: One message per problem with the settings; empty when there is none.
      type: list
      elements: str
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.kubeha.cluster.plugins.filter.addresses import url_host
from ansible_collections.kubeha.cluster.plugins.filter.vip_problems import vip_problems
from ansible_collections.kubeha.cluster.plugins.plugin_utils._plan import RoleSettings, to_int

MODES = ('haproxy_keepalived', 'external')


def _cert_problem(s, cert, path):
    """The controller's apiserver certificate must carry the load balancer's address and every DNS name."""
    address, wanted = str(s['address']), list(s['dns_names'] or [])
    names, ips = list(cert.get('dns_names') or []), list(cert.get('ip_addresses') or [])
    if (address.lower() in ips or address in names) and not [name for name in wanted if name not in names]:
        return []
    has = ', '.join(str(n) for n in names + ips) if cert.get('exists') and 'error' not in cert else cert.get('error', 'no such file')
    return ["The apiserver certificate %s does not carry the load balancer (%s, %s); it has: %s. Run the secrets role with "
            "kubeha_lb_address and kubeha_lb_dns_names set (it reissues the serving certificate under the same CA) before "
            "this role." % (path, address, wanted, has)]


def _problems(s, balancers, backends, cert, check_mode, validation_play, controller):
    p = []
    if s['mode'] not in MODES:
        p.append("loadbalancer_mode is '%s'; set it to haproxy_keepalived or external." % s['mode'])
    if not s['address']:
        p.append("loadbalancer_address is empty: set kubeha_lb_address (an IP address for the VIP in haproxy_keepalived mode).")
    elif s['mode'] == 'haproxy_keepalived':
        p.extend(vip_problems(s['address'], s['vip_prefix'], balancers))
    if not backends or any(b['address'] == '' for b in backends):
        p.append("backends from group '%s': %s; every apiserver needs an address (kubeha_node_ip or gathered facts): fix the "
                 "inventory." % (s['backend_group'], backends))
    if to_int(s['port']) == to_int(s['backend_port']) and set(balancers) & set(b['name'] for b in backends):
        p.append("loadbalancer_port %s is the apiserver port %s (loadbalancer_backend_port): they must differ when the balancer "
                 "runs on the masters; set kubeha_lb_port to another port (default 8443)." % (s['port'], s['backend_port']))
    # the certificate is the secrets stage's: site.yml's validation play (before it) leaves it to the role's own run
    if s['address'] and (not check_mode or cert.get('exists')) and not validation_play:
        p.extend(_cert_problem(s, cert, controller['apiserver_cert']))
    return p


def loadbalancer_plan(settings, host, balancers, backends, cert=None, check_mode=False, validation_play=False):
    """{server, backends, peers, controller, files, units, problems}."""
    if not isinstance(balancers, dict) or not isinstance(backends, dict):
        raise AnsibleFilterError("loadbalancer_plan: balancers and backends must be dicts of host name to address "
                                 "(kubeha.cluster.node_addresses), got %r and %r" % (balancers, backends))
    s = RoleSettings(settings, 'loadbalancer_', 'loadbalancer_plan')
    secrets = str(s['secrets_dir'])
    # the CAs the hosts trust (two during a CA rotation, rotate_ca), for haproxy's checks and the admin kubeconfig
    controller = {'ca': secrets + '/ca/kubernetes-trust.crt', 'apiserver_cert': secrets + '/kubernetes/apiserver.crt',
                  'admin_cert': secrets + '/kubernetes/admin.crt', 'admin_key': secrets + '/kubernetes/admin.key'}
    backend_list = [{'name': name, 'address': address} for name, address in backends.items()]
    files = [
        # the cluster CA haproxy verifies the apiservers with (a change reloads haproxy)
        {'path': s['ca_file'], 'src': controller['ca'], 'mode': '0644', 'reloads': ['haproxy']},
        # a new LimitNOFILE needs a restart; configuration changes are reloaded (handlers), which keeps
        # haproxy's connections and keepalived's VIP
        {'path': '/etc/systemd/system/haproxy.service.d/kubeha.conf', 'template': 'haproxy-dropin.conf.j2', 'mode': '0644',
         'validate': 'systemd:haproxy.service:kubeha.conf', 'restarts': ['haproxy']},
        # haproxy -c opens the CA file the configuration names; on a first install the daemon module lays
        # that new file out before the check (and removes it if the check fails)
        {'path': '/etc/haproxy/haproxy.cfg', 'template': 'haproxy.cfg.j2', 'mode': '0644', 'validate': 'haproxy -c -f %s',
         'reloads': ['haproxy']},
        {'path': '/etc/keepalived/keepalived.conf', 'template': 'keepalived.conf.j2', 'mode': '0600',
         'validate': 'keepalived --config-test --use-file=%s', 'reloads': ['keepalived']},
    ]
    units = [
        # 200 while haproxy sees at least one ready apiserver
        {'name': 'haproxy', 'enabled': True, 'health': {'url': 'http://127.0.0.1:%s/healthz' % s['monitor_port']},
         'health_timeout': 30},
        {'name': 'keepalived', 'enabled': True},
    ]
    return {
        'server': 'https://%s:%s' % (url_host(s['address']), s['port']),
        'backends': backend_list,
        'peers': [address for name, address in balancers.items() if name != host],
        'controller': controller,
        'files': files,
        'units': units,
        'problems': _problems(s, balancers, backend_list, cert or {}, check_mode, validation_play, controller),
    }


class FilterModule:
    """kubeha loadbalancer role filter."""

    def filters(self):
        return {"loadbalancer_plan": loadbalancer_plan}
