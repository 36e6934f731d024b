"""Write tests/data/flags/<minor>/<component>.txt from the real binaries' own --help.

    python3 scripts/flag_data.py BINDIR [OUTROOT]

BINDIR is a release directory (<dir>/v<version>/bin/linux/<arch>, as scripts/build_release.sh
lays it out); OUTROOT defaults to tests/data/flags. The version is read from `kubectl version
--client`, and every component's --help is parsed (pflag's usage lines: `  -s, --name type   help`,
no type for a bool flag). The files are data for tests/unit/roles/test_rendered_flags.py, which
checks every flag a role renders against the component's real flag set.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys

COMPONENTS = ('kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kubelet', 'kube-proxy')
# a pflag usage line: optional shorthand, the long name, a type word unless it is a bool
USAGE = re.compile(r'^\s{2,}(?:-(?P<short>[A-Za-z0-9]), )?--(?P<name>[a-z0-9][a-z0-9.-]*)'
                   r'(?:\[=[^\]]*\])?(?: (?P<type>[A-Za-z0-9.\[\]=:,<>-]+))?(?:\s{2,}|$)')


# value types under the names the flag tables use (klog's level is an int; --version takes an
# optional value, so it parses like a bool)
TYPES = {'Level': 'int', 'pattern=N,...': 'moduleSpec'}


def parse_help(text):
    """Return sorted (name, type, shorthand) of every flag in a --help text."""
    flags = {}
    for line in text.splitlines():
        match = USAGE.match(line)
        if match:
            kind = re.sub(r'\[=.*\]$', '', match['type'] or 'bool')
            flags[match['name']] = (match['name'], TYPES.get(kind, kind), match['short'] or '')
    return sorted(flags.values())


def render(component, version, flags):
    lines = ['# %s flags, Kubernetes v%s.' % (component, version),
             '# Source: `%s --help` of the binary built from k8s.io/kubernetes@v%s by scripts/build_release.sh,' % (component, version),
             '# parsed by scripts/flag_data.py. Format: --long-name type [-shorthand]; "bool" marks flags without a value.']
    for name, kind, short in flags:
        lines.append(' '.join(['--' + name, kind] + (['-' + short] if short else [])))
    return '\n'.join(lines) + '\n'


def main(argv):
    if not argv or len(argv) > 2:
        sys.stderr.write(__doc__)
        return 2
    bindir = argv[0]
    outroot = argv[1] if len(argv) > 1 else os.path.join(os.path.dirname(__file__), '..', 'tests', 'data', 'flags')
    out = subprocess.run([os.path.join(bindir, 'kubectl'), 'version', '--client'], capture_output=True, text=True, check=True).stdout
    match = re.search(r'v(1\.(\d+)\.\d+)', out)
    if not match:
        sys.stderr.write('flag_data.py: kubectl in %s reports no version: %r\n' % (bindir, out))
        return 1
    version, minor = match[1], '1.' + match[2]
    dest = os.path.join(outroot, minor)
    os.makedirs(dest, exist_ok=True)
    for component in COMPONENTS:
        # --help exits 0 and prints usage on stdout (some write it to stderr): read both
        proc = subprocess.run([os.path.join(bindir, component), '--help'], capture_output=True, text=True, check=False)
        flags = parse_help(proc.stdout + '\n' + proc.stderr)
        if len(flags) < 10:
            sys.stderr.write('flag_data.py: %s --help gave %d flags (exit %d): not a usage text\n' % (component, len(flags), proc.returncode))
            return 1
        with open(os.path.join(dest, component + '.txt'), 'w', encoding='utf-8') as handle:
            handle.write(render(component, version, flags))
        print('%s %s: %d flags' % (component, version, len(flags)))
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
