"""Every task that changes a host goes through what the fast path's record covers, or is listed here with why.

site.yml's fast path trusts the record of the last finished run (kubeha.cluster.converged): files and units
laid out by kubeha.cluster.daemon, the secrets bundle's files. A task that writes to a host some other
way is invisible to drift detection. This test lists every such task of every role; a new one fails it,
named, until it is recorded or added below with the reason it is safe (issue 14 item 6).
"""

from __future__ import annotations

import glob
import os

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
# modules that do not change the host they run on (reads, checks, controller-side facts)
READS = {'ansible.builtin.assert', 'ansible.builtin.set_fact', 'ansible.builtin.debug', 'ansible.builtin.meta',
         'ansible.builtin.include_tasks', 'ansible.builtin.import_tasks', 'ansible.builtin.fail', 'ansible.builtin.stat',
         'ansible.builtin.uri', 'ansible.builtin.setup', 'ansible.builtin.group_by', 'ansible.builtin.include_role',
         'ansible.builtin.wait_for', 'ansible.builtin.slurp', 'kubeha.cluster.etcd_cluster_info',
         'kubeha.cluster.kube_nodes_info'}
# what the record covers: the daemon module's files and units, and the etcd cluster's own state (checked by
# etcd_check on every full run, and by etcd's recorded health on the fast path)
RECORDED = {'kubeha.cluster.daemon', 'kubeha.cluster.etcd_member', 'kubeha.cluster.etcd_check', 'kubeha.cluster.etcd_discovery'}
# (role, task name) -> why it may write outside the record
ALLOWED = {
    # playbooks/remove-node.yml (roles/worker/tasks/remove.yml): the node leaves the cluster, and kubeha's record with it
    ('node', "Stop the node's daemons, kill the pods and shims they leave, remove its files and kubeha's state"):
        'the removal of a worker: it stops what the record describes and removes the record itself (/var/lib/kubeha)',
    ('control_plane', "Build podmaster.pyz on the controller (the daemon and the collection's etcd client in one file)"):
        'controller only (delegate_to: localhost); the pyz it builds is a daemon file',
    ('control_plane', "Remove podmaster.pyz's private build directory on the controller"): 'controller only',
    ('etcd', "Build etcd-snapshot.pyz on the controller (the scheduled snapshot and the collection's etcd client in one file)"):
        'controller only (delegate_to: localhost); the pyz it builds is a daemon file',
    ('etcd', "Remove etcd-snapshot.pyz's private build directory on the controller"): 'controller only',
    ('etcd', "Take the cluster's first snapshot (on the first healthy member)"):
        'only while the cluster has no snapshot (etcd_check reads the record in etcd); a snapshot is data, not configuration',
    ('control_plane', "Remove podmaster's status file (podmaster stopped in this run; a stopped podmaster writes no status)"):
        'a runtime file under /run, not configuration',
    ('control_plane', "Read this master's podmaster status again (settled here; bounded by the deadline)"): 'a read',
    ('control_plane', "Read this master's podmaster status (only when the daemon call's health check did not print it in this run)"):
        'a read',
    ('etcd', "Look at the member's certificates, data and etcd binary (one read, nothing changes)"): 'a read',
    # a repair of a member removed from the cluster: the fast path sees it (the member's recorded health check fails),
    # and the run that follows joins it again, which records the member as a new one
    # tasks/stop.yml's daemon call records the stop; its wait is a read
    ('etcd', 'Wait until no etcd process is left (bounded) - {{ _etcd_stop_host | default(inventory_hostname) }}'): 'a read',
    ('etcd', "Wipe the removed member's data on its host (etcd_remove_wipe_data) - {{ _etcd_leaving }}"):
        'on a host that left the cluster, asked for by etcd_remove_wipe_data',
    ('etcd', "Set the removed member's data aside (kept) - {{ etcd_name }}"): 'a repair: the data is kept, not configuration',
    # playbooks/etcd-restore.yml (tasks/restore.yml): an operation on data, run on demand and confirmed; the
    # site.yml run it ends with records the hosts again
    ('etcd', "Create the member's restore directory (0700)"): 'the restore: data, not configuration',
    ('etcd', 'Copy the snapshot to the member (0600)'): 'the restore: data, not configuration',
    ('etcd', 'Look for snapshots on the members that hold data (only when the data of a majority is gone)'): 'a read',
    ('etcd', "Remove the member's copy of the snapshot"): 'the restore: data, not configuration',
    ('etcd', 'Copy etcdutl'): "the restore's tool (static pod mode has no etcd release on the host otherwise)",
    ('etcd', "Restore the member's data from the snapshot (its data set aside, kept)"): 'the restore: data, not configuration',
    ('secrets', "Ensure the cluster's CAs, certificates, keys and auth files on the controller"): 'controller only',
    # secrets_adopt.from_host: the PKI read on the existing master, in a private directory removed after the module's run
    ('secrets', "A private directory for them on the controller (0700)"): 'controller only, removed in the same run',
    ('secrets', "Write them there (0600)"): 'controller only, removed in the same run',
    ('secrets', "Remove the copies of the PKI read from the existing master (controller)"): 'controller only',
    ('secrets', "Install this host's certificates and keys (content, modes and owners from its bundle)"):
        "recorded: site.yml records the bundle's files (bundle_files) and the stale keys as absent",
    ('loadbalancer', 'Write the admin kubeconfig for external users on the controller'): 'controller only',
    ('node', 'Find the daemons monit runs from before their files were written (a read; a due restart is a change)'): 'a read',
    ('node', 'Restart containerd under monit'):
        "a due restart is found on every full run by comparing the process's start with its files' times "
        "(node-daemons stale), so one a failed run lost is done by the next run",
    ('node', 'Restart the kubelet under monit - {{ _node_host }}'): 'as above',
    ('node', "Reload monit without kubeha's checks"): "monit's own configuration is a daemon file; a reload changes no file",
    ('etcd', 'Create the directory of this etcd build'):
        "recorded: the binary is an input of etcd's unit, whose content the daemon call records; every full run "
        "checks it against the release's tarball",
    ('etcd', 'Download the etcd release (checked against its sha256)'): 'recorded, as above',
    ('etcd', 'Unpack the etcd release, or put back a binary that differs from it'): 'recorded, as above',
    ('node', 'Import the images containerd lacks or holds with another digest (archives sent by the daemon task)'):
        "containerd's image store is runtime state (the kubelet's image GC may empty it under disk pressure); the archives "
        "are recorded daemon files, and every full run (a changed input, kubeha_site_fast_path=false) imports what is missing",
    ('node', 'Cordon and drain the Node if its kubelet moves to another release - {{ _node_host }}'):
        "a Node's schedulability and pods are cluster state in the API, not a host's; only while a kubelet restart onto "
        "another release is pending (the pending restart is kept on the host, so a later run drains it)",
    ('node', 'Once the Node is Ready on the new release, make it schedulable again - {{ _node_host }}'): 'as above',
    ('worker', "Make schedulable again a Node kubeha left cordoned, once Ready on the release"):
        "the API's state: every full run reads which Nodes carry kubeha's cordon mark",
    ('worker', "Retire kubeadm's kube-proxy DaemonSet before kubeha's kube-proxy starts (one call, on the drain host)"):
        "a cluster object in the API, not a host's state: every full run reads whether it exists (an adopted cluster's)",
    ('kube_images', 'Import the images containerd lacks or holds with another digest'): 'as above (the role used on its own)',
    ('cluster_dns', "Compare CoreDNS's objects with the API (kubectl diff, server-side)"): 'a read of the API',
    ('cluster_dns', 'Apply them (server-side, kubeha as field manager)'):
        "cluster objects in the API, not a host's state; compared with the API on every full run",
    ('cluster_dns', "Wait until CoreDNS's replicas are available"): 'a read of the API',
}


def _tasks(node):
    for task in node or []:
        if isinstance(task, dict):
            for key in ('block', 'rescue', 'always'):
                yield from _tasks(task.get(key))
            yield task


def writers():
    found = {}
    for path in sorted(glob.glob(os.path.join(ROOT, 'roles', '*', 'tasks', '*.yml'))
                       + glob.glob(os.path.join(ROOT, 'roles', '*', 'handlers', '*.yml'))):
        role = path.split(os.sep)[-3]
        with open(path, encoding='utf-8') as handle:
            for task in _tasks(yaml.safe_load(handle)):
                modules = [k for k in task if '.' in k]
                if modules and modules[0] not in READS | RECORDED:
                    found[(role, task.get('name'))] = (os.path.relpath(path, ROOT), modules[0])
    return found


def test_every_host_write_is_recorded_or_explained():
    unexplained = sorted('%s: task %r (%s)' % (where, name, module) for (role, name), (where, module) in writers().items()
                         if (role, name) not in ALLOWED)
    assert not unexplained, 'tasks that change a host outside what the fast path records:\n' + '\n'.join(unexplained)


def test_the_list_names_only_tasks_that_exist():
    stale = sorted(key for key in ALLOWED if key not in writers())
    assert not stale, 'listed but gone (remove them): %s' % stale
