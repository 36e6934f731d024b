"""kubeha.cluster.site_digest lookup: a run's inputs in one digest, and nothing a run does by itself."""

from __future__ import annotations

import os

from ansible.inventory.manager import InventoryManager
from ansible.parsing.dataloader import DataLoader
from ansible.vars.manager import VariableManager

from ansible_collections.kubeha.cluster.plugins.lookup import site_digest as sd

INVENTORY = """
all:
  vars:
    kubeha_lb_address: 10.0.0.100
    ansible_connection: ssh
  children:
    masters:
      hosts:
        m1: {kubeha_node_ip: 10.0.0.1}
        m2: {kubeha_node_ip: 10.0.0.2}
"""


def _manager(tmp_path, text=INVENTORY):
    path = tmp_path / "hosts.yml"
    path.write_text(text)
    loader = DataLoader()
    inventory = InventoryManager(loader=loader, sources=[str(path)])
    return VariableManager(loader=loader, inventory=inventory), inventory


def test_the_variables_digest_follows_the_inventory(tmp_path):
    manager, inventory = _manager(tmp_path)
    first = sd.vars_digest(manager, inventory)
    assert first == sd.vars_digest(manager, inventory)
    other, other_inventory = _manager(tmp_path, INVENTORY.replace("10.0.0.100", "10.0.0.101"))
    assert sd.vars_digest(other, other_inventory) != first
    moved, moved_inventory = _manager(tmp_path, INVENTORY.replace("    masters:", "    workers:"))
    assert sd.vars_digest(moved, moved_inventory) != first, "group membership is an input"


def test_what_a_run_does_is_not_an_input(tmp_path):
    manager, inventory = _manager(tmp_path)
    first = sd.vars_digest(manager, inventory)
    manager.set_nonpersistent_facts("m1", {"_etcd_member": {"name": "m1"}, "registered": {"rc": 0}})
    manager.set_host_facts("m2", {"kubeha_managed": {"files": {}}, "architecture": "x86_64"})
    inventory.add_group("_kubeha_run")
    inventory.add_host("m1", group="_kubeha_run")
    assert sd.vars_digest(manager, inventory) == first


def test_host_inputs_leave_out_connection_and_run_time_names():
    values = {"ansible_host": "x", "omit": "__omit", "playbook_dir": "/p", "kubeha_lb_address": "10.0.0.1", "registered": 1,
              "groups": {"all": ["m1"], "_kubeha_run": ["m1"]}, "group_names": ["masters", "_kubeha_run"]}
    assert sd.host_inputs(values, {"registered"}) == {"kubeha_lb_address": "10.0.0.1", "groups": {"all": ["m1"]}, "group_names": ["masters"]}


def test_controller_paths_count_by_content_and_missing_ones_count_too(tmp_path):
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (secrets / "ca.crt").write_text("one")
    first = sd.site_digest("v", [str(secrets)])
    assert sd.site_digest("v", [str(secrets)]) == first
    (secrets / "ca.crt").write_text("two")
    second = sd.site_digest("v", [str(secrets)])
    assert second != first
    assert sd.site_digest("w", [str(secrets)]) != second, "the variables' digest is part of it"
    assert sd.site_digest("v", [str(tmp_path / "gone")]) != sd.site_digest("v", [])


def test_a_big_file_counts_by_size_and_time(tmp_path):
    big = tmp_path / "kube-apiserver"
    big.write_bytes(b"x" * (sd.BIG + 1))
    os.utime(big, (1000000000, 1000000000))
    first = sd.paths_digest([str(big)])
    big.write_bytes(b"y" * (sd.BIG + 2))
    os.utime(big, (1000000000, 1000000000))
    assert sd.paths_digest([str(big)]) != first, "a new size alone changes it"
    resized = sd.paths_digest([str(big)])
    os.utime(big, (1000000500, 1000000500))
    assert sd.paths_digest([str(big)]) != resized, "a new mtime alone (same size) changes it"
    timed = sd.paths_digest([str(big)])
    big.write_bytes(b"z" * (sd.BIG + 2))          # new bytes, same size and time: not read, so the same digest
    os.utime(big, (1000000500, 1000000500))
    assert sd.paths_digest([str(big)]) == timed


def test_the_collection_is_an_input(tmp_path):
    collection = tmp_path / "collection"
    (collection / "roles" / "etcd").mkdir(parents=True)
    (collection / "roles" / "etcd" / "main.yml").write_text("a")
    first = sd.site_digest("v", [], collection=str(collection))
    (collection / "roles" / "etcd" / "main.yml").write_text("b")
    assert sd.site_digest("v", [], collection=str(collection)) != first


def test_the_private_parts_it_reads_are_checked_and_their_absence_only_turns_the_fast_path_off(tmp_path):
    """hostvars of this ansible-core give what the digest reads; without them every run is a full run (a warning, a
    digest that no record matches), never an error."""
    from ansible.vars.hostvars import HostVars

    manager, inventory = _manager(tmp_path)
    hostvars = HostVars(inventory=inventory, variable_manager=manager, loader=DataLoader())
    assert sd.internals(hostvars) == (manager, inventory)

    class Elsewhere:
        """hostvars of an ansible-core whose internals moved"""

    assert sd.internals(Elsewhere()) is None
    first, second = sd.unsupported_digest(), sd.unsupported_digest()
    assert first.startswith("unsupported-") and first != second
    del manager._fact_cache  # pylint: disable=protected-access
    assert sd.internals(hostvars) is None
