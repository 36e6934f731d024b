"""roles/kube_binaries/files/verify_artifacts.py: the controller-side check (local) and download cache (url).

The url source is served by a local HTTP server that counts requests: a warm cache downloads
nothing, a wrong checksum keeps nothing, and two hosts verifying at once download once.
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

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
SCRIPT = os.path.join(ROOT, 'roles', 'kube_binaries', 'files', 'verify_artifacts.py')
REL = 'v1.34.2/bin/linux/amd64'


def run(*args):
    proc = subprocess.run([sys.executable, SCRIPT] + list(args), capture_output=True, text=True, check=False)
    return proc.returncode, json.loads(proc.stdout)


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
    rc, out = run('local', str(bindir), '{}', 'kubelet', 'kubectl')
    assert rc == 0 and out['ok'] and out['dir'] == str(bindir) and set(out['checksums']) == {'kubelet', 'kubectl'}
    (bindir / 'kubelet').write_text('tampered')
    rc, out = run('local', str(bindir), json.dumps({'kubectl': '0' * 64}), 'kubelet', 'kubectl', 'kube-proxy')
    assert rc == 1 and not out['ok']
    assert [p.split(': ')[1].split(',')[0] for p in out['problems']] == ['checksum mismatch', 'checksum mismatch', 'missing (no such file)']
    assert 'kube_binaries_checksums[kubectl] says ' + '0' * 64 in out['problems'][1]


def test_url_downloads_once_then_uses_the_cache(server, tmp_path):
    url, requests = server
    cache = tmp_path / 'cache' / REL
    rc, out = run('url', url + '/' + REL, str(cache), '{}', 'kubelet', 'kubectl')
    assert rc == 0 and out['ok'] and out['dir'] == str(cache)
    assert out['downloaded'] == [url + '/' + REL + '/kubelet', url + '/' + REL + '/kubectl']
    assert (cache / 'kubelet').read_bytes() == b'#!/bin/sh\necho kubelet\n' and os.access(cache / 'kubelet', os.X_OK)
    seen = len(requests)
    rc, out = run('url', url + '/' + REL, str(cache), '{}', 'kubelet', 'kubectl')
    assert rc == 0 and out['downloaded'] == [] and len(requests) == seen, 'a warm cache asks the server nothing'


def test_url_wrong_checksum_or_missing_file_keeps_nothing_and_names_the_url(server, tmp_path):
    url, _requests = server
    cache = tmp_path / 'cache'
    rc, out = run('url', url + '/' + REL, str(cache), json.dumps({'kubelet': '0' * 64}), 'kubectl', 'kubelet', 'kube-proxy')
    assert rc == 1
    assert out['problems'][0].startswith(url + '/' + REL + '/kubelet: checksum mismatch, downloaded file has sha256 ')
    assert out['problems'][0].endswith('but kube_binaries_checksums[kubelet] says ' + '0' * 64)
    assert out['problems'][1] == url + '/' + REL + '/kube-proxy.sha256: HTTP 404 File not found'
    assert sorted(os.listdir(cache)) == ['.lock', 'kubectl', 'kubectl.sha256'], 'only the verified file is kept'


def test_hosts_verifying_at_once_download_once(server, tmp_path):
    url, requests = server
    cache = str(tmp_path / 'cache')
    procs = [subprocess.Popen([sys.executable, SCRIPT, 'url', url + '/' + REL, cache, '{}', 'kubelet', 'kubectl'],
                              stdout=subprocess.PIPE, text=True) for _host in range(4)]
    outs = [json.loads(p.communicate()[0]) for p in procs]
    assert all(o['ok'] for o in outs)
    assert sum(len(o['downloaded']) for o in outs) == 2
    assert sorted(p for p in requests if not p.endswith('.sha256')) == ['/' + REL + '/kubectl', '/' + REL + '/kubelet']
