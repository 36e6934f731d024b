"""The control_plane role: rendered flags are real real flags of the default release, what it hands to kubeha.cluster.daemon in
every election and mode, podmaster's zip application and health check, and check mode on static pods.

Templates and the daemon arguments are rendered with real Ansible (tests/unit/roles/rendering.py); the
check-mode run plays the role against localhost.
"""

from __future__ import annotations

import json
import os
import shlex
import socket
import subprocess
import sys

import kubernetes_validate
import pytest
import yaml
from ansible_collections.kubeha.cluster.plugins.plugin_utils import _zipapp

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))
ROLE = os.path.join(ROOT, 'roles', 'control_plane')
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(ROOT, 'tests', 'support'))
sys.path.insert(0, os.path.join(ROLE, 'files'))

from rendering import render, systemd_execstart_args  # noqa: E402  pylint: disable=wrong-import-position,import-error
from versions import KUBERNETES_DEFAULT  # noqa: E402  pylint: disable=wrong-import-position,import-error
from pflag import load_flag_table, parse_args  # noqa: E402  pylint: disable=wrong-import-position,import-error
import podmaster_health  # noqa: E402  pylint: disable=wrong-import-position,import-error

VERSION = KUBERNETES_DEFAULT
COMPONENTS = ['kube-scheduler', 'kube-controller-manager']
ETCD = ['https://10.0.0.11:2379', 'https://10.0.0.12:2379', 'https://10.0.0.13:2379']
PYZ_SHA256 = 'ab' * 32
# the role's facts that come from the controller (endpoints from the inventory, the build task's output)
# (tasks/main.yml sets _control_plane_planned once per run: here it is the plan itself, as it would be)
BASE = {'_control_plane_etcd_endpoints': ETCD, 'role_path': ROLE, '_control_plane_planned': '{{ _control_plane_plan }}',
        '_control_plane_pyz_build': {'stdout': 'built /tmp/kubeha-podmaster-0123456789abcdef.pyz ' + PYZ_SHA256}}
DAEMON_ARGS = 'daemon-args.json.j2'
MODES = {
    'podmaster-host': {},
    'builtin-host': {'control_plane_election': 'builtin'},
    'podmaster-static': {'control_plane_mode': 'static_pod'},
    'podmaster-static-pod': {'control_plane_mode': 'static_pod', 'control_plane_podmaster_mode': 'static_pod'},
    'builtin-static': {'control_plane_mode': 'static_pod', 'control_plane_election': 'builtin'},
}
CASES = ([dict(id='daemon-' + name, role='control_plane', template=DAEMON_ARGS, vars=dict(BASE, **extra)) for name, extra in MODES.items()]
         + [dict(id='unit-' + c, role='control_plane', template='component.service.j2', vars=dict(BASE, _control_plane_component=c))
            for c in COMPONENTS]
         + [dict(id='unit-builtin-' + c, role='control_plane', template='component.service.j2',
                 vars=dict(BASE, _control_plane_component=c, control_plane_election='builtin')) for c in COMPONENTS]
         + [dict(id='dropin-kube-scheduler', role='control_plane', template='component-podmaster.conf.j2',
                 vars=dict(BASE, _control_plane_component='kube-scheduler'))]
         + [dict(id='podmaster-pod', role='control_plane', template='podmaster.yaml.j2', vars=dict(BASE, **MODES['podmaster-static-pod']))]
         + [dict(id='problems-' + name, role='control_plane', template='problems.json.j2', vars=dict(BASE, **extra))
            for name, extra in (('defaults', {}),
                                ('static-no-leader-elect', {'control_plane_mode': 'static_pod', 'control_plane_podmaster_leader_elect': False}),
                                ('slow-watchdog', {'control_plane_podmaster_watchdog': 1.8}),
                                ('long-lease', {'control_plane_leader_elect_lease_duration': 4,
                                                'control_plane_leader_elect_renew_deadline': 3}))])


@pytest.fixture(scope='module', name='rendered')
def rendered_fixture(tmp_path_factory):
    """Every case rendered in one ansible-playbook run (the role's templates are found like in a role)."""
    workdir = tmp_path_factory.mktemp('control-plane-rendered')
    os.symlink(os.path.join(ROLE, 'templates'), str(workdir / 'templates'))
    args_template = workdir / DAEMON_ARGS
    # the files rendered from one template for each component carry their text, as the daemon action renders it
    args_template.write_text(
        "{%- set files = [] -%}{%- for f in _control_plane_plan.files -%}"
        "{%- set _ = files.append(f | combine({'content': lookup('ansible.builtin.template', f.template, template_vars=f.template_vars)})"
        " if f.template_vars is defined else f) -%}{%- endfor -%}"
        "{{ {'files': files, 'units': _control_plane_plan.units} | to_json }}\n")
    check_template = workdir / CHECK_TEMPLATE
    check_template.write_text("{{ {'report': _control_plane_report.components, 'agreed': _control_plane_report.agreed,"
                              " 'message': _control_plane_report.message} | to_json }}\n")
    problems_template = workdir / 'problems.json.j2'
    problems_template.write_text("{{ _control_plane_plan.problems | to_json }}\n")
    templates = {DAEMON_ARGS: str(args_template), CHECK_TEMPLATE: str(check_template), 'problems.json.j2': str(problems_template)}
    cases = [dict(c, template=templates.get(c['template'], c['template'])) for c in CASES]
    return render(cases, workdir)


def flags(component, args):
    """Parse like the component's 1.34 binary (unknown flags and bad values raise FlagError)."""
    values, positional = parse_args(load_flag_table(component, VERSION), args)
    assert not positional
    return values


def daemon_args(rendered, mode):
    args = json.loads(rendered['daemon-' + mode])
    return {f['path']: f for f in args['files']}, {u['name'] + ('/pod' if u.get('kind') == 'static_pod' else ''): u for u in args['units']}


@pytest.mark.parametrize('component', COMPONENTS)
def test_unit_flags_are_real_and_the_unit_carries_no_digest(rendered, component):
    values = flags(component, systemd_execstart_args(rendered['unit-' + component]))
    short = {'kube-scheduler': 'scheduler', 'kube-controller-manager': 'controller-manager'}[component]
    assert values['kubeconfig'] == ['/srv/kubernetes/%s.kubeconfig' % short]
    assert values['leader-elect'] == ['true'] and values['bind-address'] == ['127.0.0.1']
    assert 'sha256' not in rendered['unit-' + component]
    # bound to podmaster by the drop-in only, so the unit validates before podmaster.service exists
    assert 'podmaster.service' not in rendered['unit-' + component].split('[Unit]')[1]
    assert flags(component, systemd_execstart_args(rendered['unit-builtin-' + component])) == values


def test_the_podmaster_drop_in_binds_the_component_to_podmaster(rendered):
    text = rendered['dropin-kube-scheduler']
    assert text.startswith('#') and '[Unit]\nAfter=podmaster.service\nBindsTo=podmaster.service\n' in text


def test_podmaster_host_mode(rendered):
    files, units = daemon_args(rendered, 'podmaster-host')
    for component, short in (('kube-scheduler', 'scheduler'), ('kube-controller-manager', 'controller-manager')):
        kubeconfig = files['/srv/kubernetes/%s.kubeconfig' % short]
        assert kubeconfig['mode'] == '0600' and kubeconfig['restarts'] == [component]
        assert '/srv/kubernetes/%s.crt' % short in kubeconfig['content'] and kubeconfig['content'].startswith('#')
        unit_file = files['/etc/systemd/system/%s.service' % component]
        assert unit_file['validate'] == 'systemd:%s.service' % component and unit_file['restarts'] == [component]
        dropin = files['/etc/systemd/system/%s.service.d/podmaster.conf' % component]
        assert 'BindsTo=podmaster.service' in dropin['content'] and dropin['restarts'] == [component]
        unit = units[component]
        # podmaster starts it on the holder; the daemon module restarts it there (only) when what it reads changed,
        # with no health wait of its own (podmaster may stop it any time): podmaster's health checks its port
        assert unit['state'] == 'as_is' and unit['enabled'] is False and unit['restart'] == 'now' and 'health' not in unit
        assert {'/srv/kubernetes/ca.crt', '/srv/kubernetes/%s.crt' % short, '/srv/kubernetes/%s.key' % short} <= set(unit['inputs'])
        values = flags(component, systemd_execstart_args(unit_file['content']))
        named = [v for vs in values.values() for v in vs if v.startswith('/srv/kubernetes/') and not v.endswith('.kubeconfig')]
        assert set(named) <= set(unit['inputs'])
    # the components first: podmaster's health, after their restarts, waits for what it holds to answer
    assert list(units) == COMPONENTS + ['podmaster']
    podmaster = units['podmaster']
    assert podmaster['enabled'] is True and podmaster['restart'] == 'pending' and podmaster.get('state', 'started') == 'started'
    assert podmaster['inputs'] == ['/srv/kubernetes/etcd-ca.crt', '/srv/kubernetes/apiserver-etcd-client.crt',
                                   '/srv/kubernetes/apiserver-etcd-client.key']
    assert podmaster['health']['command'] == ['/usr/bin/python3', '/usr/local/lib/kubeha/podmaster-health.py',
                                              '/run/kubeha/podmaster.json', 'kube-scheduler=https://127.0.0.1:10259/readyz',
                                              'kube-controller-manager=https://127.0.0.1:10257/healthz']
    for path in ('/usr/local/lib/kubeha/podmaster.pyz', '/etc/kubeha/podmaster.json', '/etc/systemd/system/podmaster.service'):
        assert files[path]['restarts'] == ['podmaster']
    assert files['/etc/systemd/system/podmaster.service']['template'] == 'podmaster.service.j2'
    assert files['/usr/local/lib/kubeha/podmaster-health.py']['src'] == 'podmaster_health.py'


def test_podmaster_is_checked_with_the_code_that_will_run(rendered):
    """The new pyz checks the new configuration inline; podmaster.json is checked by the installed pyz when it is the new one."""
    files, _units = daemon_args(rendered, 'podmaster-host')
    config = json.loads(files['/etc/kubeha/podmaster.json']['content'])
    assert config['endpoints'] == ETCD and config['ttl'] == 4 and config['watchdog'] == 1.0 and [c['unit'] for c in config['components']] == [
        c + '.service' for c in COMPONENTS]
    # host mode: a new holder releases the dead holder's Lease with the component's own certificate
    leases = {c['name']: c.get('lease') for c in config['components']}
    assert leases['kube-scheduler'] == {'namespace': 'kube-system', 'name': 'kube-scheduler',
                                        'client_cert': '/srv/kubernetes/scheduler.crt', 'client_key': '/srv/kubernetes/scheduler.key'}
    assert leases['kube-controller-manager']['client_cert'] == '/srv/kubernetes/controller-manager.crt'
    assert config['apiserver'] == {'url': 'https://127.0.0.1:6443', 'ca_cert': '/srv/kubernetes/ca.crt'}
    pyz = shlex.split(files['/usr/local/lib/kubeha/podmaster.pyz']['validate'])
    assert pyz[:4] == ['/usr/bin/python3', '%s', '--check', '--config-json'] and json.loads(pyz[4]) == config
    check = shlex.split(files['/etc/kubeha/podmaster.json']['validate'])
    assert check[0:2] == ['/usr/bin/python3', '-c'] and check[3:] == ['/usr/local/lib/kubeha/podmaster.pyz', PYZ_SHA256, '%s']
    assert '%s' not in check[2]  # the daemon module replaces %s in every word


def test_builtin_host_mode_removes_podmaster(rendered):
    files, units = daemon_args(rendered, 'builtin-host')
    # a podmaster static pod only exists where the components are static pods
    assert list(units) == ['podmaster'] + COMPONENTS and units['podmaster']['state'] == 'stopped'
    _files, static_units = daemon_args(rendered, 'builtin-static')
    assert static_units['podmaster']['state'] == 'stopped' and static_units['podmaster/pod']['state'] == 'stopped'
    for path in ('/etc/systemd/system/podmaster.service', '/etc/systemd/system/multi-user.target.wants/podmaster.service',
                 '/usr/local/lib/kubeha/podmaster.pyz', '/usr/local/lib/kubeha/podmaster-health.py', '/etc/kubeha/podmaster.json',
                 '/etc/kubeha/podmaster.yaml', '/etc/systemd/system/kube-scheduler.service.d/podmaster.conf'):
        assert files[path] == {'path': path, 'state': 'absent'}
    for component in COMPONENTS:
        unit = units[component]
        assert unit['enabled'] is True and unit.get('state', 'started') == 'started' and unit['restart'] == 'pending'
        # a gate the real program can fail: the scheduler's /readyz (it has read the cluster), the controller-manager's /healthz
        assert unit['health'] == {'url': {'kube-scheduler': 'https://127.0.0.1:10259/readyz',
                                          'kube-controller-manager': 'https://127.0.0.1:10257/healthz'}[component], 'validate_certs': False}


@pytest.mark.parametrize('mode', ['podmaster-static', 'podmaster-static-pod', 'builtin-static'])
def test_static_pods_carry_the_digest_of_what_they_read(rendered, mode):
    files, units = daemon_args(rendered, mode)
    for component in COMPONENTS:
        source = files['/srv/kubernetes/%s.yaml' % component]
        assert source['mode'] == '0600' and '/srv/kubernetes/ca.crt' in source['digest_of']
        manifest = yaml.safe_load(source['content'])
        kubernetes_validate.validate(manifest, VERSION, strict=True)
        annotations = manifest['metadata']['annotations']
        assert annotations['kubeha.io/inputs-sha256'] == '@@inputs_digest@@' and len(annotations['kubeha.io/kubeconfig-sha256']) == 64
        container = manifest['spec']['containers'][0]
        assert flags(component, container['command'][1:])['kubeconfig'][0].endswith('.kubeconfig')
        # missing certificates fail the (changed) source before anything is written
        assert source['validate'].startswith('ls -d %s /srv/kubernetes/ca.crt')
        if mode == 'builtin-static':
            assert units[component + '/pod'] == dict(units[component + '/pod'], source='/srv/kubernetes/%s.yaml' % component,
                                                     manifest='/etc/kubernetes/manifests/%s.yaml' % component, restart='pending')
        else:
            assert component not in units and component + '/pod' not in units  # podmaster copies the source
        assert '/etc/systemd/system/%s.service' % component not in files


def test_podmaster_static_pod_restarts_with_its_code_configuration_and_certificates(rendered):
    files, units = daemon_args(rendered, 'podmaster-static-pod')
    staged = files['/etc/kubeha/podmaster.yaml']
    assert staged['template'] == 'podmaster.yaml.j2' and staged['digest_of'] == units['podmaster/pod']['inputs']
    assert units['podmaster/pod'] == dict(units['podmaster/pod'], source='/etc/kubeha/podmaster.yaml',
                                          manifest='/etc/kubernetes/manifests/podmaster.yaml', restart='pending')
    assert '/etc/systemd/system/podmaster.service' not in files and files['/etc/kubeha/podmaster.json']['restarts'] == []


def test_podmaster_pod_sees_the_hosts_processes_and_runs_its_fence_beside_it(rendered):
    pod = yaml.safe_load(rendered['podmaster-pod'])
    assert pod['spec']['hostPID'] is True and pod['spec']['hostNetwork'] is True
    main, fence = pod['spec']['containers']
    assert main['name'] == 'podmaster' and '--fence' not in main['command']
    assert fence['name'] == 'fence' and fence['command'] == main['command'][:3] + ['--fence'] and fence['image'] == main['image']
    assert fence['volumeMounts'] == main['volumeMounts'] and {'name': 'manifests', 'mountPath': '/etc/kubernetes/manifests'} in main['volumeMounts']
    assert {v['name'] for v in pod['spec']['volumes']} == {m['name'] for m in main['volumeMounts']}


# --- podmaster.pyz and its health check --------------------------------------------------------------
def test_podmaster_zipapp_is_reproducible_and_checks_inline_configuration(tmp_path):
    module_utils = os.path.join(ROOT, 'plugins', 'module_utils')
    first, second = str(tmp_path / 'a.pyz'), str(tmp_path / 'b.pyz')
    assert _zipapp.build(module_utils, first) and _zipapp.build(module_utils, second)
    assert _zipapp.sha256(first) == _zipapp.sha256(second)
    assert not _zipapp.build(module_utils, first)
    config = {'endpoints': ['http://127.0.0.1:2379'], 'components': [{'name': 'kube-scheduler', 'mode': 'host', 'unit': 'x.service'}]}

    def check(*args):
        proc = subprocess.run([sys.executable, first] + list(args), capture_output=True, text=True, check=False, timeout=60)
        return proc.returncode, proc.stdout + proc.stderr

    assert check('--check', '--config-json', json.dumps(config))[0] == 0
    code, output = check('--check', '--config-json', json.dumps(dict(config, ttl=1)))
    assert code == 2 and 'ttl must be at least 2 seconds' in output
    code, output = check('--config-json', json.dumps(config))
    assert code == 2 and 'only goes with --check' in output


def test_podmaster_health(tmp_path):
    status = tmp_path / 'podmaster.json'
    with socket.socket() as listener:
        listener.bind(('127.0.0.1', 0))
        listener.listen(1)
        port = listener.getsockname()[1]
        ports = {'kube-scheduler': port, 'kube-controller-manager': 1}

        def write(components, pid=os.getpid(), **extra):
            status.write_text(json.dumps(dict({'identity': 'm1', 'pid': pid, 'components': components}, **extra)))
            return podmaster_health.problems(str(status), ports)

        held = {'holder': 'm1', 'held': True, 'active': True}
        standby = {'holder': 'm2', 'held': False, 'active': False}
        assert write({'kube-scheduler': held, 'kube-controller-manager': standby}) == []
        assert 'holder not known yet' in ' '.join(write({'kube-scheduler': {'holder': '', 'reason': 'starting'}}))
        assert 'refuses connections' in ' '.join(write({'kube-controller-manager': held}))
        assert 'not running' in ' '.join(write({'kube-scheduler': standby}, pid=2 ** 22 + 1))
        # settled only: what it holds runs here, and nothing it does not hold
        assert 'held here but not running yet' in ' '.join(write({'kube-scheduler': dict(held, active=False)}))
        assert 'not held here' in ' '.join(write({'kube-scheduler': dict(standby, active=True)}))
        assert 'under another lease' in ' '.join(write({'kube-scheduler': dict(standby, holder='m1')}))
        assert 'stopping' in ' '.join(write({'kube-scheduler': standby}, stopping=True))
        failed = write({'kube-scheduler': dict(standby, stop_failed='systemctl stop kube-scheduler.service failed (exit 1)')})
        assert failed[0].startswith('kube-scheduler: could not be stopped here (systemctl stop kube-scheduler.service failed (exit 1))')
        stale = write({'kube-scheduler': standby}, updated=1000.0, settings={'ttl': 6})
        assert 'more than the lease TTL' in ' '.join(stale)
    status.unlink()
    assert 'status file' in ' '.join(podmaster_health.problems(str(status), {}))


def test_podmaster_health_asks_a_component_url_for_200():
    """COMPONENT=URL: the component must answer 200 there (its /readyz fails until it has read the cluster)."""
    import http.server
    import threading

    answers = {'/readyz': (500, b'[-]sched-handler-sync failed: reason withheld')}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802  pylint: disable=invalid-name
            code, body = answers.get(self.path, (404, b'not found'))
            self.send_response(code)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):  # pylint: disable=arguments-differ
            pass

    server = http.server.HTTPServer(('127.0.0.1', 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = 'http://127.0.0.1:%d/readyz' % server.server_address[1]
    try:
        assert podmaster_health.answers(url) == '%s answers 500: [-]sched-handler-sync failed: reason withheld' % url
        answers['/readyz'] = (200, b'ok')
        assert podmaster_health.answers(url) is None
    finally:
        server.shutdown()
        server.server_close()
    assert 'does not answer' in podmaster_health.answers(url)
    assert podmaster_health.main(['/nonexistent', 'kube-scheduler=readyz']) == 2


def test_podmaster_health_prints_the_status_when_healthy(tmp_path, capsys):
    """What the daemon module returns as podmaster's health: one line of JSON, the check's fields, below 4 KiB."""
    status = tmp_path / 'podmaster.json'
    comp = {'key': '/kubeha/podmaster/kube-scheduler', 'mode': 'host', 'target': 'kube-scheduler.service' * 20,
            'held': False, 'active': False, 'holder': 'm2', 'holder_lease': '694d9a0c1f2e3b4d', 'since': 1700000000.5,
            'reason': 'key /kubeha/podmaster/kube-scheduler is now held by m2 (lease 694d9a0c1f2e3b4d)' * 10}
    full = {'identity': 'm1', 'lease': '694d9a0c1f2e3b4e', 'lease_ttl': 6, 'deadline_in': 3.2, 'etcd_errors': 0,
            'last_error': 'x' * 2000, 'stopping': False, 'pid': os.getpid(), 'updated': 1700000100.25,
            'settings': {'ttl': 6, 'renew_interval': 2.0, 'margin': 2.0, 'poll_interval': 0.5, 'timeout': 1.0},
            'components': {name: dict(comp) for name in COMPONENTS}}
    status.write_text(json.dumps(full))
    assert podmaster_health.main([str(status)]) == 1  # written long ago: podmaster stuck
    full['updated'] = __import__('time').time()
    status.write_text(json.dumps(full))
    capsys.readouterr()
    assert podmaster_health.main([str(status)]) == 0
    out = capsys.readouterr().out
    assert out.endswith('\n') and out.count('\n') == 1 and len(out) < 1024
    printed = json.loads(out)
    assert printed['identity'] == 'm1' and printed['pid'] == os.getpid() and printed['updated'] == full['updated']
    assert printed['components'] == {name: {'holder': 'm2', 'holder_lease': '694d9a0c1f2e3b4d', 'held': False,
                                            'active': False, 'since': 1700000000.5} for name in COMPONENTS}
    full['components']['kube-scheduler']['holder'] = ''
    status.write_text(json.dumps(full))
    assert podmaster_health.main([str(status)]) == 1
    assert 'holder not known yet' in capsys.readouterr().out


# --- the check after the run: the masters' statuses compared ---------------------------------------------
def _status(identity, holds, holders, updated=1700000100.0):
    """A podmaster status as the health check prints it: ``holds`` the components active here."""
    return {'identity': identity, 'pid': 1, 'lease': 'a', 'updated': updated,
            'components': {c: {'holder': holders[c], 'holder_lease': 'a', 'held': c in holds, 'active': c in holds,
                               'since': updated - 50} for c in COMPONENTS}}


SETTLED = {'kube-scheduler': 'm1', 'kube-controller-manager': 'm2'}
HANDOVER = dict(SETTLED, **{'kube-controller-manager': 'm3'})
CHECKS = {
    'agreed': {'m1': _status('m1', ['kube-scheduler'], SETTLED), 'm2': _status('m2', ['kube-controller-manager'], SETTLED),
               'm3': _status('m3', [], SETTLED)},
    # read before and after a handover of the controller-manager from m3 to m2: two holders named, two masters active
    'handover': {'m1': _status('m1', ['kube-scheduler'], HANDOVER), 'm2': _status('m2', ['kube-controller-manager'], SETTLED),
                 'm3': _status('m3', ['kube-controller-manager'], HANDOVER)},
    # every master names one holder, but two run the component
    'split': {'m1': _status('m1', ['kube-scheduler'], SETTLED), 'm2': _status('m2', ['kube-controller-manager'], SETTLED),
              'm3': _status('m3', ['kube-controller-manager'], SETTLED)},
    'unreadable': {'m1': _status('m1', ['kube-scheduler'], SETTLED), 'm2': _status('m2', ['kube-controller-manager'], SETTLED),
                   'm3': {'unreadable': 'rc 1 status file /run/kubeha/podmaster.json: No such file or directory'}},
}
CHECK_TEMPLATE = 'check.json.j2'
CASES += [dict(id='check-' + name, role='control_plane', template=CHECK_TEMPLATE, vars=dict(BASE, _control_plane_statuses=statuses))
          for name, statuses in CHECKS.items()]


def check_report(rendered, name):
    answer = json.loads(rendered['check-' + name])
    return answer['report'], answer['agreed'], answer['message']


def test_the_check_passes_when_one_master_runs_each_component_and_all_name_it(rendered):
    report, agreed, _message = check_report(rendered, 'agreed')
    assert agreed is True
    assert {c: (r['agreed'], r['active'], r['holders']) for c, r in report.items()} == {
        'kube-scheduler': (True, ['m1'], ['m1']), 'kube-controller-manager': (True, ['m2'], ['m2'])}


@pytest.mark.parametrize('name', ['handover', 'split', 'unreadable'])
def test_the_check_fails_naming_the_masters_and_what_each_reported(rendered, name):
    report, agreed, message = check_report(rendered, name)
    assert agreed is False and report['kube-scheduler']['agreed'] is (name != 'unreadable')
    cm = report['kube-controller-manager']
    assert cm['agreed'] is False
    assert ('kube-scheduler:' in message) is (name == 'unreadable') and 'kube-controller-manager: active on' in message
    for master in ('m1', 'm2', 'm3'):
        assert '%s: ' % master in message
    if name == 'unreadable':
        assert cm['active'] == ['m2'] and cm['holders'] == ['m2', '?'] and 'No such file or directory' in message
    else:
        assert cm['active'] == ['m2', 'm3'] and 'active on m2 and m3' in message
        assert cm['holders'] == (['m3', 'm2'] if name == 'handover' else ['m2'])
        assert 'm3: holder %s (held here), active since' % ('m3' if name == 'handover' else 'm2') in message
        assert 'm1: holder %s, standby since' % ('m3' if name == 'handover' else 'm2') in message


def test_the_check_takes_the_status_from_the_daemon_call_unless_a_handler_restarted_podmaster(tmp_path):
    """Which status the check compares: the daemon call's podmaster health, or the read task's when that ran."""
    printed = json.dumps(_status('localhost', ['kube-scheduler'], dict(SETTLED, **{'kube-scheduler': 'localhost'})))
    read_again = json.dumps(_status('localhost', [], SETTLED))
    cases = [
        ('from-daemon', {'units': {'podmaster': {'action': 'none', 'health': printed}}, 'restart_pending': []}, {'skipped': True}),
        ('handler-restarted', {'units': {'podmaster': {'action': 'pending'}}, 'restart_pending': ['podmaster']},
         {'rc': 0, 'stdout': read_again}),
        # the health ran, but a handler restarted a podmaster afterwards (here, or on another master)
        ('stale', {'units': {'podmaster': {'action': 'none', 'health': printed}}, 'restart_pending': ['podmaster']},
         {'rc': 0, 'stdout': read_again}),
        ('no-health', {'units': {'podmaster': {'action': 'started'}}, 'restart_pending': []}, {'rc': 0, 'stdout': read_again}),
    ]
    tasks = []
    for name, daemon, read in cases:
        # before the read task: is this master's status usable (no read), then after it (when it ran)
        tasks.append({'name': 'Stand-ins for the daemon call: ' + name,
                      'ansible.builtin.set_fact': {'_control_plane_daemon': daemon, '_control_plane_status_read': {'skipped': True}}})
        tasks.append({'name': 'Whether the read runs: ' + name, 'ansible.builtin.set_fact': {
            '_from_daemon': "{{ _control_plane_statuses['localhost'].unreadable is not defined }}"}})
        tasks.append({'name': 'Stand-ins for the read: ' + name, 'ansible.builtin.set_fact': {'_control_plane_status_read': read}})
        tasks.append({'name': 'Save ' + name, 'ansible.builtin.copy': {
            'dest': str(tmp_path / (name + '.json')), 'mode': '0600',
            'content': "{{ {'from_daemon': _from_daemon | bool, 'statuses': _control_plane_statuses,"
                       " 'agreed': _control_plane_report.agreed} | to_json }}"}})
    playbook = tmp_path / 'play.yml'
    playbook.write_text(yaml.safe_dump([{
        'name': 'The check', 'hosts': 'all', 'gather_facts': False, 'tasks': tasks,
        'vars_files': [os.path.join(ROLE, 'defaults', 'main.yml'), os.path.join(ROLE, 'vars', 'main.yml')],
        'vars': {'role_path': ROLE, '_control_plane_planned': '{{ _control_plane_plan }}'}}]))
    env = dict(os.environ, ANSIBLE_NOCOLOR='1', ANSIBLE_RETRY_FILES_ENABLED='0', ANSIBLE_LOCALHOST_WARNING='0')
    result = subprocess.run([os.path.join(os.path.dirname(sys.executable), 'ansible-playbook'), '-i', 'localhost,', '-c', 'local',
                             '-e', 'ansible_python_interpreter=%s' % sys.executable, '-e', 'control_plane_group=all', str(playbook)],
                            capture_output=True, text=True, env=env, check=False, timeout=300)
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    seen = {name: json.loads((tmp_path / (name + '.json')).read_text()) for name, _d, _r in cases}
    assert seen['from-daemon'] == {'from_daemon': True, 'statuses': {'localhost': json.loads(printed)}, 'agreed': False}
    for name in ('handler-restarted', 'stale', 'no-health'):
        assert seen[name]['from_daemon'] is False and seen[name]['statuses'] == {'localhost': json.loads(read_again)}, name


# --- check mode against localhost ----------------------------------------------------------------------
def test_static_pod_modes_in_check_mode_report_and_write_nothing(tmp_path):
    """Both static pod modes make a daemon call the module accepts; check mode reports and writes nothing."""
    where = {'control_plane_mode': 'static_pod', 'control_plane_podmaster_mode': 'static_pod',
             'control_plane_secrets_dir': str(tmp_path / 'srv'), 'control_plane_manifest_dir': str(tmp_path / 'manifests'),
             'control_plane_podmaster_lib_dir': str(tmp_path / 'lib'), 'control_plane_podmaster_config_dir': str(tmp_path / 'etc')}
    inventory = tmp_path / 'inventory.yml'
    host = {'ansible_connection': 'local', 'kubeha_node_ip': '127.0.0.1', 'ansible_python_interpreter': sys.executable}
    inventory.write_text(yaml.safe_dump({'all': {'hosts': {'localhost': host},
                                                 'children': {'masters': {'hosts': {'localhost': None}}, 'etcd': {'hosts': {'localhost': None}}}}}))
    report = tmp_path / 'daemon.json'
    save = {'name': 'Save what the daemon call reported', 'check_mode': False,
            'ansible.builtin.copy': {'content': '{{ _control_plane_daemon | to_json }}', 'dest': str(report), 'mode': '0600'}}
    playbook = tmp_path / 'play.yml'
    playbook.write_text(yaml.safe_dump([{'name': 'Role', 'hosts': 'masters', 'gather_facts': False,
                                         'roles': [{'role': 'kubeha.cluster.control_plane'}], 'post_tasks': [save]}]))
    env = dict(os.environ, ANSIBLE_NOCOLOR='1', ANSIBLE_RETRY_FILES_ENABLED='0', TMPDIR=str(tmp_path))
    result = subprocess.run([os.path.join(os.path.dirname(sys.executable), 'ansible-playbook'), '--check', '-i', str(inventory),
                             '-e', json.dumps(where), str(playbook)], capture_output=True, text=True, env=env, check=False, timeout=300)
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    answer = json.loads(report.read_text())
    assert answer['changed'] and answer['units']['podmaster']['action'] == 'started'
    assert answer['files'][where['control_plane_podmaster_lib_dir'] + '/podmaster.pyz'] == 'created'
    assert answer['files'][where['control_plane_secrets_dir'] + '/kube-scheduler.yaml'] == 'created'
    for name in ('srv', 'manifests', 'lib', 'etc'):
        assert not (tmp_path / name).exists()


def test_inventory_checks_refuse_unsafe_election_settings_naming_the_variables(rendered):
    """What the role's first task refuses, before any host changes."""
    assert json.loads(rendered['problems-defaults']) == []
    (static,) = json.loads(rendered['problems-static-no-leader-elect'])
    assert static.startswith('control_plane_mode is static_pod with control_plane_podmaster_leader_elect false')
    assert 'Keep control_plane_podmaster_leader_elect true in static_pod mode.' in static
    (watchdog,) = json.loads(rendered['problems-slow-watchdog'])
    assert 'control_plane_podmaster_*' in watchdog and 'watchdog (1.8s) + stop_timeout (0.5s) must be below margin (2s)' in watchdog
    (lease,) = json.loads(rendered['problems-long-lease'])
    assert lease.startswith("control_plane_leader_elect_lease_duration is 4 s, not less than podmaster's TTL (4 s)")


def test_podmaster_zipapp_builds_into_a_new_private_directory(capsys):
    """No predictable path on the controller that another local user could plant or swap (issue: /tmp/kubeha-podmaster-<digest>.pyz)."""
    module_utils = os.path.join(ROOT, 'plugins', 'module_utils')
    outputs = []
    for _run in range(2):
        assert _zipapp.main([module_utils, 'podmaster']) == 0
        word, path, digest = capsys.readouterr().out.split()
        outputs.append(path)
        assert word == 'built' and os.path.basename(path) == 'podmaster.pyz'
        assert os.stat(os.path.dirname(path)).st_mode & 0o777 == 0o700
        assert _zipapp.sha256(path) == digest
    assert outputs[0] != outputs[1], 'a new directory each run: nothing is reused'
    for path in outputs:
        os.unlink(path)
        os.rmdir(os.path.dirname(path))
