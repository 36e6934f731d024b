"""kubeha.cluster.kube_artifacts lookup (the kube_binaries role's artifact check): local check and url download cache.

The url source is served by a local HTTP server that counts requests: a warm cache downloads
nothing, a wrong checksum keeps nothing, and hosts verifying at once download once.
"""

from __future__ import annotations

import functools
import hashlib
import http.server
import json
import os
import subprocess
import sys
import threading

import pytest
import yaml

from ansible_collections.kubeha.cluster.plugins.lookup.kube_artifacts import verify

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
REL = 'v1.34.2/bin/linux/amd64'


def run(source, *args, **options):
    """The lookup's code: run(source, [url,] dir, pinned, component...) -> (ok, report)."""
    if source == 'url':
        options['url'], args = args[0], args[1:]
    report = verify(source, args[0], list(args[2:]), pinned=args[1], **options)
    return report['ok'], report


@pytest.fixture(name='release')
def release_fixture(tmp_path):
    """A release layout with kubelet and kubectl and their .sha256 files."""
    bindir = tmp_path / 'release' / REL
    bindir.mkdir(parents=True)
    for name in ('kubelet', 'kubectl'):
        data = ('#!/bin/sh\necho %s\n' % name).encode()
        (bindir / name).write_bytes(data)
        (bindir / (name + '.sha256')).write_text(hashlib.sha256(data).hexdigest())
    return tmp_path / 'release'


@pytest.fixture(name='server')
def server_fixture(release):
    """Serve the release over HTTP; yields (base URL, list of requested paths)."""
    requests = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def log_request(self, code='-', size='-'):
            requests.append(self.path)

    httpd = http.server.ThreadingHTTPServer(('127.0.0.1', 0), functools.partial(Handler, directory=str(release)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield 'http://127.0.0.1:%d' % httpd.server_address[1], requests
    httpd.shutdown()


def test_local_names_every_bad_file_and_passes_good_ones(release):
    bindir = release / REL
    ok, out = run('local', str(bindir), {}, 'kubelet', 'kubectl')
    assert ok and out['ok'] and out['dir'] == str(bindir) and set(out['checksums']) == {'kubelet', 'kubectl'}
    (bindir / 'kubelet').write_text('tampered')
    ok, out = run('local', str(bindir), {'kubectl': '0' * 64}, 'kubelet', 'kubectl', 'kube-proxy')
    assert not ok and out['downloaded'] == []
    assert [p.split(': ')[1].split(',')[0] for p in out['problems']] == ['checksum mismatch', 'checksum mismatch', 'missing (no such file)']
    assert 'kube_binaries_checksums[kubectl] says ' + '0' * 64 in out['problems'][1]


def test_url_downloads_once_then_uses_the_cache(server, tmp_path):
    url, requests = server
    cache = tmp_path / 'cache' / REL
    ok, out = run('url', url + '/' + REL, str(cache), {}, 'kubelet', 'kubectl')
    assert ok and out['dir'] == str(cache)
    assert out['downloaded'] == [url + '/' + REL + '/kubelet', url + '/' + REL + '/kubectl']
    assert (cache / 'kubelet').read_bytes() == b'#!/bin/sh\necho kubelet\n' and os.access(cache / 'kubelet', os.X_OK)
    seen = len(requests)
    ok, out = run('url', url + '/' + REL, str(cache), {}, 'kubelet', 'kubectl')
    assert ok and out['downloaded'] == [] and len(requests) == seen, 'a warm cache asks the server nothing'


def test_url_wrong_checksum_or_missing_file_keeps_nothing_and_names_the_url(server, tmp_path):
    url, _requests = server
    cache = tmp_path / 'cache'
    ok, out = run('url', url + '/' + REL, str(cache), {'kubelet': '0' * 64}, 'kubectl', 'kubelet', 'kube-proxy')
    assert not ok and len(out['problems']) == 2
    assert out['problems'][0].startswith(url + '/' + REL + '/kubelet: checksum mismatch, downloaded file has sha256 ')
    assert out['problems'][0].endswith('but kube_binaries_checksums[kubelet] says ' + '0' * 64)
    assert out['problems'][1] == url + '/' + REL + '/kube-proxy.sha256: HTTP 404 File not found'
    assert sorted(os.listdir(cache)) == ['.lock', 'kubectl', 'kubectl.sha256'], 'only the verified file is kept'


def test_hosts_verifying_at_once_download_once(server, tmp_path):
    url, requests = server
    cache = str(tmp_path / 'cache')
    outs = []

    def host():
        outs.append(run('url', url + '/' + REL, cache, {}, 'kubelet', 'kubectl')[1])

    threads = [threading.Thread(target=host) for _host in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(outs) == 4
    assert all(o['ok'] for o in outs)
    assert sum(len(o['downloaded']) for o in outs) == 2
    assert sorted(p for p in requests if not p.endswith('.sha256')) == ['/' + REL + '/kubectl', '/' + REL + '/kubelet']


def test_the_report_holds_the_daemon_file_entries(release):
    bindir = str(release / REL)
    _ok, out = run('local', bindir, {}, 'kubelet', 'kubectl', install_dir='/usr/local/bin')
    assert out['files'] == [{'path': '/usr/local/bin/kubelet', 'src': bindir + '/kubelet', 'mode': '0755'},
                            {'path': '/usr/local/bin/kubectl', 'src': bindir + '/kubectl', 'mode': '0755'}]


def test_an_unusable_cache_is_reported_not_raised(server, tmp_path):
    url, _requests = server
    (tmp_path / 'file').write_text('not a directory')
    ok, out = run('url', url + '/' + REL, str(tmp_path / 'file' / 'cache'), {}, 'kubelet')
    assert not ok and out['problems'] == [str(tmp_path / 'file' / 'cache') + ': cannot use the download cache: Not a directory']


def run_artifacts(tmp_path, local_dir, components):
    """Include the role's tasks_from: artifacts on localhost; return (rc, output, kube_binaries_files or None)."""
    out = tmp_path / 'files.json'
    (tmp_path / 'play.yml').write_text(yaml.safe_dump([{
        'name': 'artifacts', 'hosts': 'localhost', 'gather_facts': False,
        'vars': {'kube_binaries_source': 'local', 'kube_binaries_local_dir': str(local_dir), 'kube_binaries_arch': 'amd64',
                 'kube_binaries_version': '1.34.2', 'kube_binaries_components': components},
        'tasks': [{'name': 'Verify', 'ansible.builtin.include_role': {'name': 'kubeha.cluster.kube_binaries',
                                                                      'tasks_from': 'artifacts'}},
                  {'name': 'Record', 'ansible.builtin.copy': {'content': '{{ kube_binaries_files | to_json }}',
                                                              'dest': str(out), 'mode': '0600'}}]}]), encoding='utf-8')
    collections = [os.path.join(ROOT, '.cache', 'collections'), os.environ.get('ANSIBLE_COLLECTIONS_PATH', '')]
    env = dict(os.environ, ANSIBLE_NOCOLOR='1', ANSIBLE_RETRY_FILES_ENABLED='0', ANSIBLE_LOCALHOST_WARNING='0',
               ANSIBLE_INVENTORY_UNPARSED_WARNING='0', ANSIBLE_COLLECTIONS_PATH=os.pathsep.join(collections))
    result = subprocess.run([os.path.join(os.path.dirname(sys.executable), 'ansible-playbook'), '-i', 'localhost,', '-c', 'local',
                             '-e', 'ansible_python_interpreter=%s' % sys.executable, str(tmp_path / 'play.yml')],
                            capture_output=True, text=True, env=env, cwd=str(tmp_path), check=False, timeout=300)
    files = json.loads(out.read_text()) if out.exists() else None
    return result.returncode, result.stdout + result.stderr, files


def test_the_role_sets_the_file_entries_or_stops_naming_every_problem(release, tmp_path):
    rc, output, files = run_artifacts(tmp_path, release, ['kubelet', 'kubectl'])
    assert rc == 0, output
    assert files == [{'path': '/usr/local/bin/kubelet', 'src': str(release / REL / 'kubelet'), 'mode': '0755'},
                     {'path': '/usr/local/bin/kubectl', 'src': str(release / REL / 'kubectl'), 'mode': '0755'}]
    (release / REL / 'kubelet').write_text('tampered')
    (tmp_path / 'files.json').unlink()
    rc, output, files = run_artifacts(tmp_path, release, ['kubelet', 'kube-proxy'])
    assert rc != 0 and files is None
    assert 'artifacts failed verification, nothing was installed' in output
    assert str(release / REL / 'kubelet') + ': checksum mismatch' in output
    assert str(release / REL / 'kube-proxy') + ': missing (no such file)' in output
