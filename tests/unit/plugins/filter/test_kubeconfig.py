"""kubeha.cluster.kubeconfig filter: the layout kubectl and the components read."""

from __future__ import annotations

import base64

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.kubeha.cluster.plugins.filter.kubeconfig import FilterModule, kubeconfig


def test_paths_reference_files_on_the_node():
    cfg = kubeconfig('https://10.0.0.10:8443', user='system:kube-proxy', ca_file='/srv/kubernetes/ca.crt',
                     cert_file='/srv/kubernetes/kube-proxy.crt', key_file='/srv/kubernetes/kube-proxy.key')
    assert cfg['clusters'] == [{'name': 'kubernetes', 'cluster': {
        'server': 'https://10.0.0.10:8443', 'certificate-authority': '/srv/kubernetes/ca.crt'}}]
    assert cfg['users'][0]['user'] == {'client-certificate': '/srv/kubernetes/kube-proxy.crt',
                                       'client-key': '/srv/kubernetes/kube-proxy.key'}
    assert cfg['current-context'] == 'system:kube-proxy@kubernetes'
    assert cfg['contexts'][0]['context'] == {'cluster': 'kubernetes', 'user': 'system:kube-proxy'}


def test_data_is_embedded_base64():
    cfg = kubeconfig('https://lb:8443', user='admin', cluster='prod', ca_data='CA PEM\n',
                     cert_data='CERT PEM\n', key_data='KEY PEM\n')
    assert base64.b64decode(cfg['clusters'][0]['cluster']['certificate-authority-data']) == b'CA PEM\n'
    assert base64.b64decode(cfg['users'][0]['user']['client-key-data']) == b'KEY PEM\n'
    assert cfg['current-context'] == 'admin@prod'


@pytest.mark.parametrize('server', ['http://10.0.0.10:8080', '10.0.0.10:8443', None])
def test_only_https_servers(server):
    with pytest.raises(AnsibleFilterError, match='https://'):
        kubeconfig(server, user='u', ca_file='a', cert_file='b', key_file='c')


def test_path_and_data_together_are_refused():
    with pytest.raises(AnsibleFilterError, match='ca_file or ca_data|either ca_file'):
        kubeconfig('https://x', user='u', ca_file='a', ca_data='A', cert_file='b', key_file='c')


def test_missing_key_is_refused():
    with pytest.raises(AnsibleFilterError, match='key_file or key_data is required'):
        kubeconfig('https://x', user='u', ca_file='a', cert_file='b')


def test_registered_under_its_name():
    assert FilterModule().filters()['kubeconfig'] is kubeconfig
