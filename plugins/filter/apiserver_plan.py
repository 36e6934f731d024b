# Copyright (c) kubeha developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The apiserver_plan filter: everything the apiserver role computes from its variables."""

from __future__ import annotations

DOCUMENTATION = r"""
name: apiserver_plan
short_description: The apiserver role's flags, files, units and problems from its variables
version_added: 0.3.0
description:
  - Computes, from the apiserver role's variables, what the role hands to C(kubeha.cluster.daemon) and to its
    templates, and every problem with the settings that needs no host (one message each, for one assert).
  - Flags depend on the Kubernetes version (C(--insecure-port=0) before 1.24, the AuthenticationConfiguration's
    C(v1) from 1.34) and on the choices for anonymous requests and the legacy static auth files.
  - Pure function of its arguments; the role's C(vars/main.yml) gathers the variables and the etcd URLs.
options:
  _input:
    description: The role's variables, name (with the C(apiserver_) prefix) to templated value.
    type: dict
    required: true
  etcd_urls:
    description: Every etcd member's client URL (C(kubeha.cluster.etcd_client_urls)), for C(--etcd-servers).
    type: list
    elements: str
    required: true
"""

EXAMPLES = r"""
- name: The apiserver's flags
  ansible.builtin.debug:
    msg: "{{ (_apiserver_settings | kubeha.cluster.apiserver_plan(etcd_urls=['https://10.0.0.11:2379'])).flags }}"
"""

RETURN = r"""
_value:
  description: What the role computes.
  type: dict
  contains:
    flags:
      description: Flag name (without dashes) to value, the extra arguments included.
      type: dict
    inputs:
      description: The certificates, keys and legacy auth files the apiserver reads, and in host mode its binary (a change restarts it).
      type: list
      elements: str
    config_files:
      description: Names of the configuration files rendered from C(templates/<name>.j2) into the configuration directory.
      type: list
      elements: str
    files:
      description: The C(files) of the role's C(kubeha.cluster.daemon) call.
      type: list
      elements: dict
    units:
      description: The C(units) of the role's C(kubeha.cluster.daemon) call.
      type: list
      elements: dict
    refuse:
      description: The C(refuse_if_present) of that call - what the other mode left (switching modes is refused).
      type: list
      elements: dict
    authentication_config:
      description: The AuthenticationConfiguration that limits anonymous requests to the health paths.
      type: dict
    audit_policy:
      description: The audit Policy.
      type: dict
    stop_timeout:
      description:
        - Seconds a stopping apiserver may take (the shutdown delay and the drain of its requests in flight), for the
          unit's C(TimeoutStopSec) and the static pod's C(terminationGracePeriodSeconds).
      type: int
    problems:
      description: One message per problem with the settings; empty when there is none.
      type: list
      elements: str
"""

import os
import re

from ansible.errors import AnsibleFilterError
from ansible.module_utils.parsing.convert_bool import boolean

from ansible_collections.kubeha.cluster.plugins.filter.addresses import url_host
from ansible_collections.kubeha.cluster.plugins.plugin_utils._plan import RoleSettings, mode_refusal, to_int, version_at_least

# flags the role sets itself, or that would open an insecure or legacy path: refused in apiserver_extra_args
OWNED_FLAGS = frozenset((
    'advertise-address', 'anonymous-auth', 'authentication-config', 'authorization-mode', 'basic-auth-file',
    'bind-address', 'client-ca-file', 'etcd-cafile', 'etcd-certfile', 'etcd-keyfile', 'etcd-servers',
    'insecure-bind-address', 'insecure-port', 'secure-port', 'service-account-issuer', 'service-account-key-file',
    'service-account-signing-key-file', 'shutdown-delay-duration', 'tls-cert-file', 'tls-private-key-file',
    'token-auth-file'))

# after the shutdown delay kube-apiserver waits for its in-flight requests (at most --request-timeout, 60 s by
# default) before it exits: systemd and the kubelet must not kill it sooner
DRAIN_SECONDS = 70
# the longest the open watches take to end after the shutdown delay (ended at 200 a second at least); apiserver_extra_args
# may set another --shutdown-watch-termination-grace-period
WATCH_GRACE_SECONDS = 10
# certificates and keys under apiserver_secrets_dir the apiserver reads
SECRET_FILES = ('ca.crt', 'server.cert', 'server.key', 'etcd-ca.crt', 'apiserver-etcd-client.crt',
                'apiserver-etcd-client.key', 'apiserver-kubelet-client.crt', 'apiserver-kubelet-client.key',
                'sa.key', 'sa.pub')
CONFIG_FILES = ('audit-policy.yaml', 'authentication-config.yaml')
UNIT_FILE = '/etc/systemd/system/kube-apiserver.service'


def _delay(s):
    """apiserver_shutdown_delay_seconds as a whole number of seconds (0 or more); None when it is not one."""
    value = s['shutdown_delay_seconds']
    if isinstance(value, bool) or not re.match(r'^\d+$', str(value).strip()):
        return None
    return int(str(value).strip())


def _problems(s, version, etcd_urls):
    p = []
    if s['mode'] not in ('host', 'static_pod'):
        p.append("apiserver_mode is '%s'; set it to host or static_pod." % s['mode'])
    if s['anonymous_auth'] not in ('health_only', 'disabled'):
        p.append("apiserver_anonymous_auth is '%s'; set it to health_only or disabled." % s['anonymous_auth'])
    if not etcd_urls or any(re.search(r'//(\[\]|):', str(url)) for url in etcd_urls):
        p.append("etcd client URLs from group '%s': %s. Every etcd member needs an address (kubeha_node_ip or gathered "
                 "facts); fix the inventory." % (s['etcd_group'], etcd_urls))
    if s['legacy_basic_auth'] and version_at_least(version, '1.19'):
        p.append("apiserver_legacy_basic_auth is true but the target Kubernetes version is %s: kube-apiserver removed "
                 "--basic-auth-file in 1.19 and would refuse to start. Set apiserver_legacy_basic_auth: false and give "
                 "users client certificates (or, as a legacy opt-in, tokens with apiserver_legacy_token_auth)." % version)
    owned = [name for name in (re.sub('^-+', '', str(key)) for key in s['extra_args']) if name in OWNED_FLAGS]
    if owned:
        p.append("apiserver_extra_args sets %s, which the role sets itself (or which would open an insecure or legacy "
                 "path). Use the role's variables instead (apiserver_secure_port, apiserver_bind_address, "
                 "apiserver_anonymous_auth, apiserver_legacy_*_auth, apiserver_shutdown_delay_seconds)." % owned)
    if _delay(s) is None:
        p.append("apiserver_shutdown_delay_seconds is %r; set it to a whole number of seconds, 0 or more, longer than "
                 "the load balancer takes to stop sending new connections to an apiserver whose /readyz fails "
                 "(haproxy here: loadbalancer_check_interval x loadbalancer_check_fall, 1 s by default)." % (s['shutdown_delay_seconds'],))
    if s['anonymous_auth'] == 'health_only' and not version_at_least(version, '1.32'):
        p.append("apiserver_anonymous_auth is health_only but Kubernetes %s cannot limit anonymous requests to health "
                 "paths (KEP-4633 needs 1.32+). Set apiserver_anonymous_auth: disabled (every request, health checks "
                 "included, then needs a client certificate) or target 1.32 or later." % version)
    return p


def _flags(s, secrets, config_dir, etcd_urls, version):
    flags = {
        'advertise-address': s['node_ip'],
        'allow-privileged': str(boolean(s['allow_privileged'], strict=False)).lower(),
        'audit-log-maxage': s['audit_log_maxage'],
        'audit-log-maxbackup': s['audit_log_maxbackup'],
        'audit-log-maxsize': s['audit_log_maxsize'],
        'audit-log-path': s['audit_log_path'],
        'audit-policy-file': config_dir + '/audit-policy.yaml',
        'authorization-mode': 'Node,RBAC',
        'bind-address': s['bind_address'],
        'client-ca-file': secrets + '/ca.crt',
        'enable-admission-plugins': ','.join(str(plugin) for plugin in s['admission_plugins']),
        'etcd-cafile': secrets + '/etcd-ca.crt',
        'etcd-certfile': secrets + '/apiserver-etcd-client.crt',
        'etcd-keyfile': secrets + '/apiserver-etcd-client.key',
        'etcd-servers': ','.join(str(url) for url in etcd_urls),
        'kubelet-client-certificate': secrets + '/apiserver-kubelet-client.crt',
        'kubelet-client-key': secrets + '/apiserver-kubelet-client.key',
        # reach kubelets (exec, logs) at the address they registered, as kubeadm does: a node's host name need not
        # resolve where the apiserver runs (the default order tries it first)
        'kubelet-preferred-address-types': 'InternalIP,ExternalIP,Hostname',
        'profiling': 'false',
        'secure-port': s['secure_port'],
        'service-account-issuer': s['service_account_issuer'],
        'service-account-key-file': secrets + '/sa.pub',
        'service-account-signing-key-file': secrets + '/sa.key',
        'service-cluster-ip-range': s['service_cidr'],
        # graceful stop: /readyz fails at once while the apiserver keeps serving for this long, so the balancer takes it
        # out of rotation before its listener closes; then it finishes the requests in flight and exits
        'shutdown-delay-duration': '%ss' % (_delay(s) or 0),
        # once the delay is over, the open watches end (their clients re-open them through the balancer) instead of
        # holding the HTTP server's shutdown for its whole timeout (60 s) and breaking when the process exits
        'shutdown-watch-termination-grace-period': '%ss' % WATCH_GRACE_SECONDS,
        'tls-cert-file': secrets + '/server.cert',
        'tls-min-version': 'VersionTLS12',
        'tls-private-key-file': secrets + '/server.key',
        'v': s['log_level'],
    }
    # flags that depend on the version and on the user's choices
    if s['anonymous_auth'] == 'health_only':
        flags['authentication-config'] = config_dir + '/authentication-config.yaml'
    else:
        flags['anonymous-auth'] = 'false'
    if not version_at_least(version, '1.24'):
        flags['insecure-port'] = '0'
    if s['legacy_token_auth']:
        flags['token-auth-file'] = secrets + '/known_tokens.csv'
    if s['legacy_basic_auth']:
        flags['basic-auth-file'] = secrets + '/basic_auth.csv'
    flags.update(s['extra_args'])
    return flags


def apiserver_plan(settings, etcd_urls):
    """{flags, inputs, config_files, files, units, authentication_config, audit_policy, problems}."""
    s = RoleSettings(settings, 'apiserver_', 'apiserver_plan')
    etcd_urls = list(etcd_urls or [])
    version = re.sub('^v', '', str(s['kubernetes_version']))
    secrets, config_dir = str(s['secrets_dir']), str(s['config_dir'])
    if not isinstance(s['extra_args'] or {}, dict):
        raise AnsibleFilterError("apiserver_plan: apiserver_extra_args must be a dict, got %r" % (s['extra_args'],))
    s['extra_args'] = s['extra_args'] or {}
    host = s['mode'] == 'host'
    restarts = ['kube-apiserver'] if host else []
    stop_timeout = (_delay(s) or 0) + DRAIN_SECONDS

    inputs = ['%s/%s' % (secrets, name) for name in SECRET_FILES]
    if s['legacy_token_auth']:
        inputs.append(secrets + '/known_tokens.csv')
    if s['legacy_basic_auth']:
        inputs.append(secrets + '/basic_auth.csv')
    if host:
        # the installed binary: a new release (kubeha_kubernetes_version) restarts the apiservers on it, one at a time
        # (a static pod's image is in its manifest)
        inputs.append(str(s['binary']))

    config_files = ['audit-policy.yaml'] + (['authentication-config.yaml'] if s['anonymous_auth'] == 'health_only' else [])
    files = [{'path': config_dir, 'state': 'directory', 'mode': '0700'},
             {'path': os.path.dirname(str(s['audit_log_path'])), 'state': 'directory', 'mode': '0700'}]
    for name in CONFIG_FILES:
        if name in config_files:
            files.append({'path': config_dir + '/' + name, 'template': name + '.j2', 'mode': '0600', 'restarts': restarts})
        else:
            files.append({'path': config_dir + '/' + name, 'state': 'absent'})
    staged_manifest = config_dir + '/kube-apiserver.yaml'
    manifest = str(s['manifest_dir']) + '/kube-apiserver.yaml'
    if host:
        files.append({'path': s['log_file'], 'state': 'touch', 'owner': s['log_owner'], 'group': s['log_group'],
                      'mode': s['log_mode']})
        files.append({'path': UNIT_FILE, 'template': 'kube-apiserver.service.j2', 'mode': '0644',
                      'validate': 'systemd:kube-apiserver.service', 'restarts': ['kube-apiserver']})
    else:
        files.append({'path': staged_manifest, 'template': 'kube-apiserver.yaml.j2', 'mode': '0600', 'digest_of': inputs})

    # /readyz over TLS verified against the cluster CA; with anonymous auth disabled, as the admin (kubecfg)
    health = {'url': 'https://%s:%s/readyz' % (url_host(s['node_ip']), s['secure_port']), 'ca_path': secrets + '/ca.crt'}
    if s['anonymous_auth'] == 'disabled':
        health.update({'client_cert': secrets + '/kubecfg.crt', 'client_key': secrets + '/kubecfg.key'})
    unit = {'name': 'kube-apiserver', 'inputs': inputs, 'health': health,
            'health_timeout': to_int(s['health_retries']) * to_int(s['health_delay'])}
    if host:
        unit['enabled'] = True
    else:
        # process: a restart waits for the kubelet to replace the pod before its /readyz counts (the old one answers it)
        unit.update({'kind': 'static_pod', 'source': staged_manifest, 'process': 'kube-apiserver',
                     'manifest': manifest, 'stop_timeout': stop_timeout})

    return {
        'flags': _flags(s, secrets, config_dir, etcd_urls, version),
        # how long systemd (TimeoutStopSec) or the kubelet (terminationGracePeriodSeconds) lets a stopping apiserver run
        'stop_timeout': stop_timeout,
        'inputs': inputs,
        'config_files': config_files,
        'files': files,
        'units': [unit],
        'refuse': [mode_refusal('kube-apiserver', 'host' if host else 'static_pod', 'apiserver_mode',
                                manifest if host else UNIT_FILE)],
        'authentication_config': {
            'apiVersion': 'apiserver.config.k8s.io/' + ('v1' if version_at_least(version, '1.34') else 'v1beta1'),
            'kind': 'AuthenticationConfiguration',
            'anonymous': {'enabled': True, 'conditions': [{'path': '/healthz'}, {'path': '/livez'}, {'path': '/readyz'}]},
        },
        'audit_policy': {'apiVersion': 'audit.k8s.io/v1', 'kind': 'Policy', 'omitStages': ['RequestReceived'],
                         'rules': s['audit_policy_rules']},
        'problems': _problems(s, version, etcd_urls),
    }


class FilterModule:
    """kubeha apiserver role filter."""

    def filters(self):
        return {"apiserver_plan": apiserver_plan}
