"""plugin_utils._plan and _files: what the plan filters and the controller plugins share."""

from __future__ import annotations

import hashlib

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.kubeha.cluster.plugins.plugin_utils._files import sha256_file
from ansible_collections.kubeha.cluster.plugins.plugin_utils._plan import RoleSettings, get, jinja_list, to_int, unique, version_at_least


def test_role_settings_strip_the_prefix_leave_other_roles_out_and_name_a_missing_variable():
    s = RoleSettings({'etcd_name': 'm1', 'etcd_discovery_service_port': 1, 'kubeha_mode': 'host', 'etcd_on': 'yes', 'etcd_none': None},
                     'etcd_', 'etcd_plan', exclude='etcd_discovery_service_')
    assert dict(s) == {'name': 'm1', 'on': 'yes', 'none': None}
    assert s.flag('on') is True and s.text('none') == '' and s.text('name') == 'm1'
    with pytest.raises(AnsibleFilterError, match=r"^etcd_plan: etcd_data_dir is not set"):
        s['data_dir']  # pylint: disable=pointless-statement
    with pytest.raises(AnsibleFilterError, match=r"etcd_plan: expected the role's variables \(etcd_\*\) as a dict, got None"):
        RoleSettings(None, 'etcd_', 'etcd_plan')


@pytest.mark.parametrize('value, expected', [(3, 3), ('4', 4), ('2.9', 2), ('x', 0), (None, 0)])
def test_to_int_is_jinjas_int(value, expected):
    assert to_int(value) == expected


@pytest.mark.parametrize('version, minimum, expected', [
    ('v1.24.0', '1.24', True), ('1.23.17', '1.24', False), ('3.6.5', '3.6', True), ('1.100.0', '1.34', True), (None, '1', False)])
def test_version_at_least(version, minimum, expected):
    assert version_at_least(version, minimum) is expected


def test_jinja_list_and_get():
    assert jinja_list(['https://:2379', 'a']) == "['https://:2379', 'a']" == str(['https://:2379', 'a']) and jinja_list([]) == '[]'
    assert get({'a': None}, 'a', 1) == 1 and get(None, 'a') is None and get({'a': 0}, 'a', 1) == 0 and get([], 'a', 2) == 2


def test_sha256_file(tmp_path):
    path = tmp_path / 'big'
    data = b'x' * (3 << 20) + b'tail'
    path.write_bytes(data)
    assert sha256_file(str(path)) == hashlib.sha256(data).hexdigest()


def test_unique_keeps_the_first_order_and_takes_unhashable_values():
    assert unique(['m2', 'm1', 'm2', 'w1', 'm1']) == ['m2', 'm1', 'w1'] and unique([{'a': 1}, {'a': 1}]) == [{'a': 1}] and unique([]) == []
