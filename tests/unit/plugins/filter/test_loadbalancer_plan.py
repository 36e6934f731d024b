"""kubeha.cluster.loadbalancer_plan filter: the loadbalancer role's backends, peers, files, units and problems."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.kubeha.cluster.plugins.filter.loadbalancer_plan import FilterModule, loadbalancer_plan

# the role's defaults (with a load balancer address), templated as Ansible hands them to the filter
DEFAULTS = {
    'loadbalancer_mode': 'haproxy_keepalived', 'loadbalancer_group': 'loadbalancers', 'loadbalancer_backend_group': 'masters',
    'loadbalancer_address': '10.0.0.100', 'loadbalancer_dns_names': ['k8s.test'], 'loadbalancer_port': 8443,
    'loadbalancer_backend_port': 6443, 'loadbalancer_monitor_port': 8404, 'loadbalancer_ca_file': '/etc/haproxy/kubernetes-ca.crt',
    'loadbalancer_vip_prefix': 24, 'loadbalancer_secrets_dir': '/inv/secrets',
    'loadbalancer_admin_kubeconfig': '/inv/secrets/admin.kubeconfig', 'loadbalancer_cluster_name': 'kubernetes',
}
BALANCERS = {'lb1': '10.0.0.21', 'lb2': '10.0.0.22', 'lb3': '10.0.0.23'}
BACKENDS = {'m1': '10.0.0.11', 'm2': '10.0.0.12'}
CERT = {'path': '/inv/secrets/kubernetes/apiserver.crt', 'exists': True, 'dns_names': ['k8s.test'], 'ip_addresses': ['10.0.0.100']}
CERT_PATH = '/inv/secrets/kubernetes/apiserver.crt'


def plan(host='lb1', balancers=None, backends=None, cert=None, check_mode=False, validation_play=False, **change):
    settings = dict(DEFAULTS, **{'loadbalancer_' + k: v for k, v in change.items()})
    return loadbalancer_plan(settings, host=host, balancers=BALANCERS if balancers is None else balancers,
                             backends=BACKENDS if backends is None else backends, cert=CERT if cert is None else cert,
                             check_mode=check_mode, validation_play=validation_play)


def test_a_sound_setup_has_no_problem_and_the_filter_is_registered():
    assert plan()['problems'] == []
    assert FilterModule().filters()['loadbalancer_plan'] is loadbalancer_plan


def test_server_backends_peers_and_controller_paths():
    result = plan(host='lb2')
    assert result['server'] == 'https://10.0.0.100:8443'
    assert result['backends'] == [{'name': 'm1', 'address': '10.0.0.11'}, {'name': 'm2', 'address': '10.0.0.12'}]
    assert result['peers'] == ['10.0.0.21', '10.0.0.23']
    assert result['controller'] == {'ca': '/inv/secrets/ca/kubernetes-trust.crt', 'apiserver_cert': CERT_PATH,
                                    'admin_cert': '/inv/secrets/kubernetes/admin.crt', 'admin_key': '/inv/secrets/kubernetes/admin.key'}
    assert plan(host='m1')['peers'] == ['10.0.0.21', '10.0.0.22', '10.0.0.23']


def test_an_ipv6_address_is_bracketed_in_the_url():
    cert = dict(CERT, ip_addresses=['fd00::100'])
    result = plan(address='fd00::100', port=9443, cert=cert, balancers={'lb1': 'fd00::21'})
    assert result['server'] == 'https://[fd00::100]:9443'
    assert result['problems'] == []


def test_files_and_units():
    result = plan()
    assert result['files'] == [
        {'path': '/etc/haproxy/kubernetes-ca.crt', 'src': '/inv/secrets/ca/kubernetes-trust.crt', 'mode': '0644', 'reloads': ['haproxy']},
        {'path': '/etc/systemd/system/haproxy.service.d/kubeha.conf', 'template': 'haproxy-dropin.conf.j2', 'mode': '0644',
         'validate': 'systemd:haproxy.service:kubeha.conf', 'restarts': ['haproxy']},
        {'path': '/etc/haproxy/haproxy.cfg', 'template': 'haproxy.cfg.j2', 'mode': '0644', 'validate': 'haproxy -c -f %s',
         'reloads': ['haproxy']},
        {'path': '/etc/keepalived/keepalived.conf', 'template': 'keepalived.conf.j2', 'mode': '0600',
         'validate': 'keepalived --config-test --use-file=%s', 'reloads': ['keepalived']},
    ]
    assert result['units'] == [
        {'name': 'haproxy', 'enabled': True, 'health': {'url': 'http://127.0.0.1:8404/healthz'}, 'health_timeout': 30},
        {'name': 'keepalived', 'enabled': True},
    ]


@pytest.mark.parametrize('kwargs, message', [
    ({'mode': 'x'}, "loadbalancer_mode is 'x'; set it to haproxy_keepalived or external."),
    ({'address': ''}, "loadbalancer_address is empty: set kubeha_lb_address (an IP address for the VIP in haproxy_keepalived mode)."),
    ({'backends': {}}, "backends from group 'masters': []; every apiserver needs an address (kubeha_node_ip or gathered facts): "
                       "fix the inventory."),
    ({'backends': {'m1': '10.0.0.11', 'm2': ''}},
     "backends from group 'masters': [{'name': 'm1', 'address': '10.0.0.11'}, {'name': 'm2', 'address': ''}]; every apiserver"),
    ({'port': '6443', 'balancers': {'m1': '10.0.0.11', 'lb1': '10.0.0.21'}},
     "loadbalancer_port 6443 is the apiserver port 6443 (loadbalancer_backend_port): they must differ when the balancer runs on "
     "the masters; set kubeha_lb_port to another port (default 8443)."),
    ({'vip_prefix': 32, 'address': '10.0.0.21', 'cert': dict(CERT, ip_addresses=['10.0.0.21'])},
     "loadbalancer_address 10.0.0.21 is the address of lb1 itself"),
    ({'address': '10.0.1.100', 'cert': dict(CERT, ip_addresses=['10.0.1.100'])},
     "loadbalancer_address 10.0.1.100/24 spans 10.0.1.0/24, which does not hold lb1 (10.0.0.21), lb2 (10.0.0.22), lb3 (10.0.0.23)"),
    ({'cert': dict(CERT, ip_addresses=['10.0.0.10'])},
     "The apiserver certificate /inv/secrets/kubernetes/apiserver.crt does not carry the load balancer (10.0.0.100, "
     "['k8s.test']); it has: k8s.test, 10.0.0.10. Run the secrets role with kubeha_lb_address and kubeha_lb_dns_names set (it "
     "reissues the serving certificate under the same CA) before this role."),
    ({'dns_names': ['k8s.test', 'api.test']}, "does not carry the load balancer (10.0.0.100, ['k8s.test', 'api.test']); it has: "
                                              "k8s.test, 10.0.0.100."),
    ({'cert': {'path': CERT_PATH, 'exists': False}}, "; it has: no such file. Run the secrets role"),
    ({'cert': {'path': CERT_PATH, 'exists': True, 'error': 'not a PEM certificate'}}, "; it has: not a PEM certificate. Run"),
])
def test_each_problem(kwargs, message):
    (problem,) = plan(**kwargs)['problems']
    assert message in problem


def test_the_address_may_be_a_dns_name_of_the_certificate_and_is_compared_in_lower_case():
    assert plan(address='FD00::100', cert=dict(CERT, ip_addresses=['fd00::100']), mode='external')['problems'] == []
    assert plan(address='api.k8s.test', cert=dict(CERT, dns_names=['k8s.test', 'api.k8s.test']), mode='external')['problems'] == []


def test_the_vip_is_not_checked_in_external_mode():
    assert plan(mode='external', address='10.9.9.9', cert=dict(CERT, ip_addresses=['10.9.9.9']))['problems'] == []


def test_the_certificate_is_left_alone_in_the_validation_play_in_check_mode_before_it_exists_and_without_an_address():
    missing = {'path': CERT_PATH, 'exists': False}
    assert plan(cert=missing, validation_play=True)['problems'] == []
    assert plan(cert=missing, check_mode=True)['problems'] == []
    assert len(plan(cert=dict(CERT, ip_addresses=[]), check_mode=True)['problems']) == 1
    assert plan(address='', cert=missing)['problems'] == [
        "loadbalancer_address is empty: set kubeha_lb_address (an IP address for the VIP in haproxy_keepalived mode)."]


def test_the_port_may_equal_the_apiservers_when_they_do_not_share_hosts():
    assert plan(port=6443)['problems'] == []


@pytest.mark.parametrize('settings, balancers', [(None, BALANCERS), ('x', BALANCERS), (DEFAULTS, ['lb1'])])
def test_bad_arguments_are_refused(settings, balancers):
    with pytest.raises(AnsibleFilterError, match='loadbalancer_plan: '):
        loadbalancer_plan(settings, host='lb1', balancers=balancers, backends=BACKENDS)


def test_a_missing_variable_is_named():
    settings = dict(DEFAULTS)
    del settings['loadbalancer_monitor_port']
    with pytest.raises(AnsibleFilterError, match='loadbalancer_monitor_port is not set'):
        loadbalancer_plan(settings, host='lb1', balancers=BALANCERS, backends=BACKENDS)
