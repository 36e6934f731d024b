"""Benchmark ansible's built-in modules against one kubeha.cluster.daemon call for the same daemon layout.

    source .cache/env.sh && python3 bench/builtins_vs_daemon.py [--runs 5] [--connection podman|ssh|both]

The question (issue 15 item 4): with SSH pipelining, do the built-ins (file, template, copy with
validate, systemd_service, handlers) cost little enough to replace the daemon module? Both plays lay out
the same thing on the 4 demo nodes (`scripts/demo.sh nodes`; no cluster is built), the shape of one
role's daemon: a directory, four templated configuration files, a 0600 key, a JSON file checked by a
validate command before it is written, and two systemd units (their unit files, enabled and started,
restarted when a file they read changed). The built-in play is written as a careful role would write it:
one task per kind of thing, loops, handlers for the restarts, a daemon-reload only when a unit file
changed. The daemon play is one task.

Three steps per run, each timed for both plays (the other play's files are removed first, so each step
starts from the same state):
  fresh    nothing there: everything written, the units started;
  re-run   nothing changed: the play must report changed=0;
  change   one configuration value changed: one file written, one unit restarted.
Prints every run and the medians (wall time, tasks that ran summed over the hosts, changed), with the
load average. It measures; it never asserts on time. Leaves the demo nodes up (`scripts/demo.sh down`).
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RECAP = re.compile(r'^(\S+)\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)\s+skipped=(\d+)')
INVENTORIES = {
    'podman': ['-i', 'inventories/demo/hosts.yml'],
    'ssh': ['-i', 'inventories/demo/hosts.yml', '-i', 'inventories/demo/ssh.yml'],
}
DIR = '/etc/kubeha-bench'
STATE = '/var/lib/kubeha-bench/daemons'
UNITS = ('kubeha-bench-a', 'kubeha-bench-b')
CONFIGS = ('one', 'two', 'three', 'four')

CONF_TEMPLATE = """# {{ _bench_name }} on {{ inventory_hostname }}
value={{ bench_value }}
address={{ kubeha_node_ip }}
"""
UNIT_TEMPLATE = """[Unit]
Description=kubeha bench {{ _bench_unit }}

[Service]
ExecStart=/bin/sleep infinity

[Install]
WantedBy=multi-user.target
"""
VALIDATE = 'python3 -m json.tool %s'

BUILTINS = """---
- name: The layout with the built-in modules
  hosts: all
  gather_facts: false
  vars:
    _bench_json: "{{ {'name': inventory_hostname, 'value': bench_value | string} | to_json }}"
  tasks:
    - name: Directory
      ansible.builtin.file: {path: %(dir)s, state: directory, mode: "0755"}
    - name: Configuration files (unit a reads them)
      ansible.builtin.template: {src: conf.j2, dest: "%(dir)s/{{ _bench_name }}.conf", mode: "0644"}
      loop: %(configs)s
      loop_control: {loop_var: _bench_name}
      notify: Restart a
    - name: Key (unit a reads it)
      ansible.builtin.copy: {content: "secret {{ inventory_hostname }}\\n", dest: "%(dir)s/key", mode: "0600"}
      no_log: true
      notify: Restart a
    - name: JSON configuration, validated before it is written (unit b reads it)
      ansible.builtin.copy: {content: "{{ _bench_json }}\\n", dest: "%(dir)s/config.json", mode: "0644", validate: "%(validate)s"}
      notify: Restart b
    - name: Unit files
      ansible.builtin.template: {src: unit.j2, dest: "/etc/systemd/system/{{ _bench_unit }}.service", mode: "0644"}
      loop: %(units)s
      loop_control: {loop_var: _bench_unit}
      register: _bench_unit_files
      notify: [Restart a, Restart b]
    - name: Reload systemd when a unit file changed
      ansible.builtin.systemd_service: {daemon_reload: true}
      when: _bench_unit_files is changed
    - name: Units enabled and started
      ansible.builtin.systemd_service: {name: "{{ _bench_unit }}", enabled: true, state: started}
      loop: %(units)s
      loop_control: {loop_var: _bench_unit}
  handlers:
    - name: Restart a
      ansible.builtin.systemd_service: {name: %(a)s, state: restarted}
    - name: Restart b
      ansible.builtin.systemd_service: {name: %(b)s, state: restarted}
"""

DAEMON = """---
- name: The layout with one kubeha.cluster.daemon call
  hosts: all
  gather_facts: false
  vars:
    _bench_json: "{{ {'name': inventory_hostname, 'value': bench_value | string} | to_json }}"
  tasks:
    - name: Directory, files, units
      kubeha.cluster.daemon:
        state_dir: %(state)s
        files:
          - {path: %(dir)s, state: directory, mode: "0755"}
%(conf_entries)s
          - {path: %(dir)s/key, content: "secret {{ inventory_hostname }}\\n", mode: "0600", secret: true, restarts: [%(a)s]}
          - {path: %(dir)s/config.json, content: "{{ _bench_json }}\\n", mode: "0644", validate: "%(validate)s", restarts: [%(b)s]}
%(unit_entries)s
        units:
          - {name: %(a)s, enabled: true}
          - {name: %(b)s, enabled: true}
"""

CLEAN = """---
- name: Remove what either play laid out
  hosts: all
  gather_facts: false
  tasks:
    - name: Stop, disable and remove the units and files, forget the daemon module's records
      ansible.builtin.shell: |
        systemctl disable --now %(units)s >/dev/null 2>&1 || true
        rm -rf %(dir)s %(state)s %(unit_files)s
        systemctl daemon-reload
      changed_when: true
"""


def write(workdir):
    units = list(UNITS)
    values = {'dir': DIR, 'state': STATE, 'configs': list(CONFIGS), 'units': units, 'a': UNITS[0], 'b': UNITS[1],
              'validate': VALIDATE,
              'unit_files': ' '.join('/etc/systemd/system/%s.service' % u for u in units)}
    values['conf_entries'] = '\n'.join(
        '          - {path: %s/%s.conf, template: conf.j2, template_vars: {_bench_name: %s}, mode: "0644", restarts: [%s]}'
        % (DIR, name, name, UNITS[0]) for name in CONFIGS)
    values['unit_entries'] = '\n'.join(
        '          - {path: /etc/systemd/system/%s.service, template: unit.j2, template_vars: {_bench_unit: %s}, mode: "0644",'
        ' validate: "systemd:%s.service", restarts: [%s]}' % (unit, unit, unit, unit) for unit in units)
    os.makedirs(os.path.join(workdir, 'templates'), exist_ok=True)
    for name, text in (('templates/conf.j2', CONF_TEMPLATE), ('templates/unit.j2', UNIT_TEMPLATE),
                       ('builtins.yml', BUILTINS % values), ('daemon.yml', DAEMON % values), ('clean.yml', CLEAN % values)):
        with open(os.path.join(workdir, name), 'w', encoding='utf-8') as handle:
            handle.write(text)


def play(workdir, connection, name, value='1'):
    """(seconds, tasks that ran summed over the hosts, changed) of one run of a play."""
    env = dict(os.environ, ANSIBLE_PIPELINING='true', ANSIBLE_NOCOLOR='1')
    inventories = [arg if arg == '-i' else os.path.join(ROOT, arg) for arg in INVENTORIES[connection]]
    start = time.monotonic()
    proc = subprocess.run(['ansible-playbook', *inventories, os.path.join(workdir, name), '-e', 'bench_value=%s' % value],
                          cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    seconds = time.monotonic() - start
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout[-4000:] + proc.stderr[-2000:])
        raise SystemExit('%s over %s failed (exit %d); see above' % (name, connection, proc.returncode))
    ran = changed = 0
    for line in proc.stdout.splitlines():
        match = RECAP.match(line)
        if match:
            ran += int(match.group(2)) + int(match.group(5))
            changed += int(match.group(3))
    return seconds, ran, changed


def measure(workdir, connection, runs):
    rows = []
    for run in range(1, runs + 1):
        row = {}
        for name in ('builtins.yml', 'daemon.yml'):
            play(workdir, connection, 'clean.yml')
            row[name] = (play(workdir, connection, name, '1'), play(workdir, connection, name, '1'),
                         play(workdir, connection, name, '2'))
        rows.append(row)
        print('%-6s run %d: ' % (connection, run) + ' | '.join(
            '%s fresh %5.1f s, re-run %5.1f s (changed %d), change %5.1f s' % (
                name[:-4], r[0][0], r[1][0], r[1][2], r[2][0]) for name, r in row.items()), flush=True)
    play(workdir, connection, 'clean.yml')
    return rows


def table(connection, rows):
    print()
    print('%s connection, median of %d runs (ANSIBLE_PIPELINING on; podman exec has none), 4 hosts' % (connection, len(rows)))
    print('%-10s %-9s %9s %12s %9s' % ('play', 'step', 'wall (s)', 'host-tasks', 'changed'))
    for name in ('builtins.yml', 'daemon.yml'):
        for index, step in enumerate(('fresh', 're-run', 'change')):
            print('%-10s %-9s %9.1f %12d %9d' % (name[:-4], step, statistics.median(r[name][index][0] for r in rows),
                                                 rows[0][name][index][1], max(r[name][index][2] for r in rows)))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--runs', type=int, default=5)
    parser.add_argument('--connection', choices=['podman', 'ssh', 'both'], default='both')
    opts = parser.parse_args()
    subprocess.run(['bash', os.path.join(ROOT, 'scripts', 'demo.sh'), 'nodes'], cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    connections = ['podman', 'ssh'] if opts.connection == 'both' else [opts.connection]
    with tempfile.TemporaryDirectory(prefix='kubeha-bench-') as workdir:
        write(workdir)
        results = [(c, measure(workdir, c, opts.runs)) for c in connections]
    for connection, rows in results:
        table(connection, rows)
    print('load average at the end: %s (%d CPUs)' % (' '.join('%.1f' % x for x in os.getloadavg()), os.cpu_count()))


if __name__ == '__main__':
    main()
