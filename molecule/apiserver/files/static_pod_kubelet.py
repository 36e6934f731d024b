"""The part of a kubelet that runs one static pod, for the static_pod mode test (tests only; standard library).

    static_pod_kubelet.py [--manifest /etc/kubernetes/manifests/kube-apiserver.yaml] [--state /run/static_pod_kubelet.json]

Polls the manifest every 0.2 s. When its content changes, stops the running container process (SIGTERM,
then waits) and runs the first container's ``command`` (the binary found on PATH, as the image would).
A removed manifest stops it. After every start, ``--state`` gets {"starts": n, "at": time.time(),
"pid": pid, "inputs": the kubeha.io/inputs-sha256 annotation}, so a test can tell when, and with which
manifest, the pod restarted. The manifest is read with a small parser that understands what kubeha
renders (block lists of JSON strings, one annotation per line).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time


def pod(text):
    """(command argv, annotations) of the rendered manifest."""
    command, annotations, section = [], {}, None
    for line in text.splitlines():
        if re.match(r'^\s+command:\s*$', line):
            section = 'command'
            continue
        if re.match(r'^\s+annotations:\s*$', line):
            section = 'annotations'
            continue
        if section == 'command':
            item = re.match(r'^\s+- (.*)$', line)
            if item:
                value = item.group(1)
                command.append(json.loads(value) if value.startswith('"') else value)
                continue
        if section == 'annotations':
            item = re.match(r'^\s+([\w./-]+): "?([^"]*)"?$', line)
            if item and not line.lstrip().startswith('#'):
                annotations[item.group(1)] = item.group(2)
                continue
            if line.lstrip().startswith('#'):
                continue
        section = None
    return command, annotations


def main():
    """Command line."""
    parser = argparse.ArgumentParser()
    parser.add_argument('--manifest', default='/etc/kubernetes/manifests/kube-apiserver.yaml')
    parser.add_argument('--state', default='/run/static_pod_kubelet.json')
    args = parser.parse_args()
    proc, seen, starts = None, None, 0
    while True:
        try:
            with open(args.manifest, encoding='utf-8') as handle:
                text = handle.read()
        except OSError:
            text = None
        if text != seen:
            seen = text
            if proc is not None:
                proc.terminate()
                proc.wait()
                proc = None
            if text:
                command, annotations = pod(text)
                binary = shutil.which(command[0]) or command[0]
                proc = subprocess.Popen([binary] + command[1:])  # pylint: disable=consider-using-with
                starts += 1
                with open(args.state + '.tmp', 'w', encoding='utf-8') as handle:
                    json.dump({'starts': starts, 'at': time.time(), 'pid': proc.pid,
                               'inputs': annotations.get('kubeha.io/inputs-sha256', '')}, handle)
                os.replace(args.state + '.tmp', args.state)
                sys.stdout.write('started %s (pid %d), start %d\n' % (command[0], proc.pid, starts))
                sys.stdout.flush()
        time.sleep(0.2)


if __name__ == '__main__':
    sys.exit(main())
